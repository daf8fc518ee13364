/*
 * Pattern Real-Time nginx module: the REST routes and their handlers.
 * A handler validates its input with the request parsers
 * (ngx_http_pattern_rt_request.c), sends one request record to the engine
 * and returns NGX_AGAIN (parked), or answers at once with an error.
 */

#include "ngx_http_pattern_rt_module.h"
#include "ngx_http_pattern_rt_request.h"


static ngx_int_t ngx_http_pattern_rt_health_done(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static u_char *ngx_http_pattern_rt_nginx_json(ngx_http_request_t *r,
    u_char *p);
static ngx_int_t ngx_http_pattern_rt_search(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_fe_historical(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_fe_realtime(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_prices(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_ohlc(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_index_stats(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_index_reload(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_available_dates(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_run(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_job(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_job_results(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_job_cancel(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_history(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_performance(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_bars(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);


#define READ   NGX_HTTP_PATTERN_RT_SCOPE_READ
#define FEED   NGX_HTTP_PATTERN_RT_SCOPE_FEED
#define ADMIN  NGX_HTTP_PATTERN_RT_SCOPE_ADMIN
#define GET    (NGX_HTTP_GET|NGX_HTTP_HEAD)
#define POST   NGX_HTTP_POST
#define DEL    NGX_HTTP_DELETE
#define PRT    "/api/pattern-realtime"

/* Paths after any prefix rewrite (conf/nginx.conf serves them under
 * /patterns/). Routes of one path with different methods share a pattern. */
const ngx_http_pattern_rt_route_t  ngx_http_pattern_rt_routes[] = {

    { GET, "/health", ngx_http_pattern_rt_health, 0, READ },

    { GET, "/api/index/stats", ngx_http_pattern_rt_index_stats, 0, READ },
    { GET|POST, "/api/index/reload", ngx_http_pattern_rt_index_reload, 0,
      ADMIN },
    { GET, "/api/available-dates", ngx_http_pattern_rt_available_dates, 0,
      READ },

    { POST, "/api/patterns/search", ngx_http_pattern_rt_search, 1, READ },
    { POST, "/api/search/historical", ngx_http_pattern_rt_fe_historical, 1,
      READ },
    { GET, "/api/search/([^/]+)", ngx_http_pattern_rt_fe_realtime, 0, READ },
    { GET, "/api/historical/prices/([^/]+)", ngx_http_pattern_rt_prices, 0,
      READ },
    { GET, "/api/historical/ohlc/([^/]+)", ngx_http_pattern_rt_ohlc, 0,
      READ },

    { POST, PRT "/run", ngx_http_pattern_rt_run, 1, READ },
    { GET, PRT "/job/([^/]+)", ngx_http_pattern_rt_job, 0, READ },
    { DEL, PRT "/job/([^/]+)", ngx_http_pattern_rt_job_cancel, 0, READ },
    { POST, PRT "/job/([^/]+)/cancel", ngx_http_pattern_rt_job_cancel, 0,
      READ },
    { GET, PRT "/job/([^/]+)/results", ngx_http_pattern_rt_job_results, 0,
      READ },
    { GET, PRT "/history", ngx_http_pattern_rt_history, 0, READ },
    { GET, PRT "/performance", ngx_http_pattern_rt_performance, 0, READ },
    { POST, PRT "/bars", ngx_http_pattern_rt_bars, 1, FEED },
};

#undef READ
#undef FEED
#undef ADMIN
#undef GET
#undef POST
#undef DEL
#undef PRT

const ngx_uint_t  ngx_http_pattern_rt_nroutes =
    sizeof(ngx_http_pattern_rt_routes) / sizeof(ngx_http_pattern_rt_routes[0]);


/* ---- helpers --------------------------------------------------------- */


static void *
ngx_http_pattern_rt_palloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


static ngx_int_t
ngx_http_pattern_rt_parse_error(ngx_http_request_t *r, prt_parse_error_t *err)
{
    return ngx_http_pattern_rt_send_error(r, err->code, err->message,
                                          err->field[0] ? err->field : NULL);
}


/*
 * The request body as one piece of memory. Bodies are read into a single
 * buffer; one that went to a temporary file (client_body_buffer_size below
 * pattern_rt_max_body, warned about at configuration) is read back.
 */
static ngx_int_t
ngx_http_pattern_rt_body(ngx_http_request_t *r, u_char **data, size_t *len)
{
    off_t                            size;
    u_char                          *p;
    ssize_t                          n;
    ngx_buf_t                       *b;
    ngx_chain_t                     *cl;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        *data = (u_char *) "";
        *len = 0;
        return NGX_OK;
    }

    size = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    if (size > (off_t) plcf->max_body) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (size == 0) {
        /* Content-Length: 0 comes as one empty buffer with no memory */
        *data = (u_char *) "";
        *len = 0;
        return NGX_OK;
    }

    b = r->request_body->bufs->buf;
    if (r->request_body->bufs->next == NULL && !b->in_file) {
        *data = b->pos;
        *len = b->last - b->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *data = p;
    *len = (size_t) size;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                          b->file_pos);
        if (n != b->file_last - b->file_pos) {
            return NGX_ERROR;
        }
        p += n;
    }

    return NGX_OK;
}


/* The body, with an allocator from the request's pool for its parser; or
 * NULL and the answer already sent (413, 500) in *rc. */
static u_char *
ngx_http_pattern_rt_get_body(ngx_http_request_t *r, size_t *len,
    prt_allocator_t *a, ngx_int_t *rc)
{
    u_char     *data;
    ngx_int_t   st;

    st = ngx_http_pattern_rt_body(r, &data, len);
    if (st == NGX_OK) {
        a->alloc = ngx_http_pattern_rt_palloc;
        a->ctx = r->pool;
        return data;
    }

    *rc = (st == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)
          ? ngx_http_pattern_rt_send_error(r, PRT_E_TOO_LARGE,
                                           "request body too large", NULL)
          : NGX_HTTP_INTERNAL_SERVER_ERROR;
    return NULL;
}


static prt_parser_t *
ngx_http_pattern_rt_parser(ngx_http_request_t *r)
{
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    return pmcf->parser;
}


/* Sends a request record; NGX_AGAIN when parked, else the error answer. */
ngx_int_t
ngx_http_pattern_rt_call(ngx_http_request_t *r, ngx_http_pattern_rt_ctx_t *ctx,
    uint16_t type, const void *payload, size_t len)
{
    prt_error_t  err;

    err = ngx_http_pattern_rt_engine_send(r, ctx, type, payload, len);

    switch (err) {
    case PRT_OK:
        return NGX_AGAIN;
    case PRT_E_BUSY:
        return ngx_http_pattern_rt_send_error(r, err,
                                   "engine request queue is full", NULL);
    case PRT_E_ENGINE_DOWN:
        return ngx_http_pattern_rt_send_error(r, err,
                                   "engine is not running", NULL);
    default:
        return ngx_http_pattern_rt_send_error(r, err,
                                   "request could not be sent", NULL);
    }
}


/* ---- GET /health ----------------------------------------------------- */


/*
 * The most ngx_http_pattern_rt_nginx_json writes, as stub_status sizes its
 * answer: the text with every number at its widest (a pid, a 16-digit
 * epoch, a slot, a time in ms, six counters), the longer of true/false,
 * and what the WebSocket and job-cache parts write.
 */
#define NGX_HTTP_PATTERN_RT_NGINX_JSON_LEN                                  \
    (sizeof("\"nginx\":{\"worker_pid\":,\"engine_connected\":false,"        \
            "\"engine_epoch\":\"0123456789abcdef\",\"slot\":,"              \
            "\"connected_for_ms\":,\"pending\":,\"connects\":,"              \
            "\"disconnects\":,\"busy\":,\"timeouts\":,"                      \
            "\"broadcast_laps\":}") - 1                                      \
     + NGX_INT64_LEN + NGX_INT32_LEN + NGX_INT64_LEN + 6 * NGX_ATOMIC_T_LEN \
     + NGX_HTTP_PATTERN_RT_WS_STATS_LEN + NGX_HTTP_PATTERN_RT_CACHE_STATS_LEN)

#define NGX_HTTP_PATTERN_RT_DOWN_HEAD  "{\"status\":\"down\","
#define NGX_HTTP_PATTERN_RT_DOWN_TAIL                                       \
    ",\"error\":{\"code\":\"E_ENGINE_DOWN\","                                 \
    "\"message\":\"engine is not running\"},"                               \
    "\"detail\":\"engine is not running\"}"


ngx_int_t
ngx_http_pattern_rt_health(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    u_char                           *body, *p;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);

    if (pmcf->engine && pmcf->engine->state == NGX_HTTP_PATTERN_RT_UP) {
        ctx->done = ngx_http_pattern_rt_health_done;
        return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_HEALTH, NULL, 0);
    }

    body = ngx_pnalloc(r->pool, sizeof(NGX_HTTP_PATTERN_RT_DOWN_HEAD) - 1
                                + NGX_HTTP_PATTERN_RT_NGINX_JSON_LEN
                                + sizeof(NGX_HTTP_PATTERN_RT_DOWN_TAIL) - 1);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, NGX_HTTP_PATTERN_RT_DOWN_HEAD,
                   sizeof(NGX_HTTP_PATTERN_RT_DOWN_HEAD) - 1);
    p = ngx_http_pattern_rt_nginx_json(r, p);
    p = ngx_cpymem(p, NGX_HTTP_PATTERN_RT_DOWN_TAIL,
                   sizeof(NGX_HTTP_PATTERN_RT_DOWN_TAIL) - 1);

    return ngx_http_pattern_rt_send_json(r, 503, body, p - body);
}


/* The engine's body with this worker's view of the connection in front. */
static ngx_int_t
ngx_http_pattern_rt_health_done(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    u_char  *body, *p;

    if (ctx->body_len < 2 || ctx->body[0] != '{') {
        return ngx_http_pattern_rt_send_json(r, ctx->status, ctx->body,
                                             ctx->body_len);
    }

    /* "{" + ours + "," + the engine's body without its "{" */
    body = ngx_pnalloc(r->pool,
                       ctx->body_len + 1 + NGX_HTTP_PATTERN_RT_NGINX_JSON_LEN);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{");
    p = ngx_http_pattern_rt_nginx_json(r, p);
    *p++ = ',';
    p = ngx_cpymem(p, ctx->body + 1, ctx->body_len - 1);

    return ngx_http_pattern_rt_send_json(r, ctx->status, body, p - body);
}


static u_char *
ngx_http_pattern_rt_nginx_json(ngx_http_request_t *r, u_char *p)
{
    ngx_http_pattern_rt_engine_t     *eng;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    eng = pmcf->engine;

    if (eng == NULL) {
        return ngx_sprintf(p, "\"nginx\":{\"worker_pid\":%P,"
                           "\"engine_connected\":false}", ngx_pid);
    }

    p = ngx_sprintf(p, "\"nginx\":{\"worker_pid\":%P,"
                    "\"engine_connected\":%s,",
                    ngx_pid,
                    eng->state == NGX_HTTP_PATTERN_RT_UP ? "true" : "false");

    if (eng->state == NGX_HTTP_PATTERN_RT_UP) {
        p = ngx_sprintf(p, "\"engine_epoch\":\"%016uxL\",\"slot\":%uD,"
                        "\"connected_for_ms\":%M,",
                        eng->epoch, eng->slot_index,
                        ngx_current_msec - eng->connected_at);
    }

    p = ngx_sprintf(p, "\"pending\":%ui,\"connects\":%ui,"
                    "\"disconnects\":%ui,\"busy\":%ui,\"timeouts\":%ui,"
                    "\"broadcast_laps\":%ui",
                    eng->npending, eng->connects, eng->disconnects,
                    eng->busy, eng->timeouts, eng->bcast_laps);
    ngx_http_pattern_rt_ws_stats(eng, &p);
    p = ngx_http_pattern_rt_cache_stats(eng->cache, p);
    *p++ = '}';

    return p;
}


/* ---- pattern matching ------------------------------------------------ */


static ngx_int_t
ngx_http_pattern_rt_search_body(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, ngx_uint_t frontend)
{
    int                rc;
    u_char            *body;
    size_t             len;
    ngx_int_t          sent;
    prt_allocator_t    a;
    prt_req_search_t   req;
    prt_parse_error_t  err;

    sent = NGX_HTTP_INTERNAL_SERVER_ERROR;
    body = ngx_http_pattern_rt_get_body(r, &len, &a, &sent);
    if (body == NULL) {
        return sent;
    }

    rc = frontend
         ? prt_req_parse_fe_historical(ngx_http_pattern_rt_parser(r), &a,
                                       (char *) body, len, &req, &err)
         : prt_req_parse_search(ngx_http_pattern_rt_parser(r), &a,
                                (char *) body, len, &req, &err);
    if (rc != 0) {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_SEARCH, &req,
                                    sizeof(prt_req_search_t));
}


static ngx_int_t
ngx_http_pattern_rt_search(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    return ngx_http_pattern_rt_search_body(r, ctx, 0);
}


static ngx_int_t
ngx_http_pattern_rt_fe_historical(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    return ngx_http_pattern_rt_search_body(r, ctx, 1);
}


static ngx_int_t
ngx_http_pattern_rt_fe_realtime(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    prt_req_search_t   req;
    prt_parse_error_t  err;

    if (prt_req_parse_fe_realtime(ngx_http_pattern_rt_parser(r),
                                  (char *) ctx->args[0].data, ctx->args[0].len,
                                  (char *) r->args.data, r->args.len, &req,
                                  &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_SEARCH, &req,
                                    sizeof(prt_req_search_t));
}


static ngx_int_t
ngx_http_pattern_rt_prices_kind(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, prt_prices_kind_t kind)
{
    prt_req_prices_t   req;
    prt_parse_error_t  err;

    if (prt_req_parse_prices(ngx_http_pattern_rt_parser(r), kind,
                             (char *) ctx->args[0].data, ctx->args[0].len,
                             (char *) r->args.data, r->args.len, &req, &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_PRICES, &req,
                                    sizeof(prt_req_prices_t));
}


static ngx_int_t
ngx_http_pattern_rt_prices(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    return ngx_http_pattern_rt_prices_kind(r, ctx, PRT_PRICES_LINE);
}


static ngx_int_t
ngx_http_pattern_rt_ohlc(ngx_http_request_t *r, ngx_http_pattern_rt_ctx_t *ctx)
{
    return ngx_http_pattern_rt_prices_kind(r, ctx, PRT_PRICES_OHLC);
}


static ngx_int_t
ngx_http_pattern_rt_index_stats(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_INDEX_STATS, NULL, 0);
}


static ngx_int_t
ngx_http_pattern_rt_index_reload(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_INDEX_RELOAD, NULL, 0);
}


static ngx_int_t
ngx_http_pattern_rt_available_dates(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_AVAILABLE_DATES, NULL, 0);
}


/* ---- Pattern Real-Time jobs ------------------------------------------ */


static ngx_int_t
ngx_http_pattern_rt_run(ngx_http_request_t *r, ngx_http_pattern_rt_ctx_t *ctx)
{
    u_char                          *body;
    size_t                           len, msg_len;
    ngx_int_t                        sent;
    prt_req_run_t                   *req;
    prt_allocator_t                  a;
    prt_parse_error_t                err;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    sent = NGX_HTTP_INTERNAL_SERVER_ERROR;
    body = ngx_http_pattern_rt_get_body(r, &len, &a, &sent);
    if (body == NULL) {
        return sent;
    }

    if (prt_req_parse_run(ngx_http_pattern_rt_parser(r), &a, (char *) body,
                          len, (uint32_t) plcf->max_symbols, &req, &msg_len,
                          &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_RUN, req, msg_len);
}


/* A request whose answer the job cache may hold: kept for _job_done(). */
typedef struct {
    uint16_t                        type;
    size_t                          len;
    union {
        prt_req_job_t               job;
        prt_req_job_results_t       results;
    } req;
} ngx_http_pattern_rt_job_read_t;


static ngx_int_t
ngx_http_pattern_rt_job_done(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    ngx_http_pattern_rt_job_read_t   *jr = ctx->data;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);

    if (ctx->status == 200 && (ctx->resp_flags & PRT_RESP_CACHEABLE)
        && pmcf->engine->cache)
    {
        /* the events published before this answer came are seen first */
        ngx_http_pattern_rt_engine_poll(pmcf->engine);
        ngx_http_pattern_rt_cache_store(pmcf->engine->cache, ctx->cache_asked,
                                        jr->type, &jr->req, jr->len,
                                        ctx->body, ctx->body_len);
    }

    return ngx_http_pattern_rt_send_json(r, ctx->status, ctx->body,
                                         ctx->body_len);
}


/*
 * A read of a job: from the worker's job cache when it holds the answer,
 * else from the engine. The broadcast log is read first, so no event the
 * engine published before this request is missed.
 */
static ngx_int_t
ngx_http_pattern_rt_job_read(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, uint16_t type, const void *req,
    size_t req_len)
{
    size_t                            len;
    u_char                           *copy;
    const u_char                     *body;
    ngx_http_pattern_rt_cached_t     *hit;
    ngx_http_pattern_rt_engine_t     *eng;
    ngx_http_pattern_rt_job_read_t   *jr;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    eng = pmcf->engine;

    if (eng && eng->cache) {
        ngx_http_pattern_rt_engine_poll(eng);
    }

    if (eng && eng->cache && eng->state == NGX_HTTP_PATTERN_RT_UP) {
        hit = ngx_http_pattern_rt_cache_find(eng->cache, type, req, req_len,
                                             &ctx->cache_asked);
        if (hit) {
            body = ngx_http_pattern_rt_cached_body(hit, &len);
            copy = ngx_pnalloc(r->pool, len);
            if (copy == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
            ngx_memcpy(copy, body, len);
            return ngx_http_pattern_rt_send_json(r, 200, copy, len);
        }
    }

    /* kept for _job_done(), which may cache the answer under it */
    jr = ngx_pcalloc(r->pool, sizeof(ngx_http_pattern_rt_job_read_t));
    if (jr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    jr->type = type;
    jr->len = req_len;
    ngx_memcpy(&jr->req, req, req_len);

    ctx->data = jr;
    ctx->done = ngx_http_pattern_rt_job_done;

    return ngx_http_pattern_rt_call(r, ctx, type, &jr->req, req_len);
}


static ngx_int_t
ngx_http_pattern_rt_job(ngx_http_request_t *r, ngx_http_pattern_rt_ctx_t *ctx)
{
    prt_req_job_t      req;
    prt_parse_error_t  err;

    if (prt_req_parse_job_id((char *) ctx->args[0].data, ctx->args[0].len,
                             &req, &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_job_read(r, ctx, PRT_MSG_JOB_GET, &req,
                                        sizeof(prt_req_job_t));
}


static ngx_int_t
ngx_http_pattern_rt_job_cancel(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    prt_req_job_t      req;
    prt_parse_error_t  err;

    if (prt_req_parse_job_id((char *) ctx->args[0].data, ctx->args[0].len,
                             &req, &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_JOB_CANCEL, &req,
                                    sizeof(prt_req_job_t));
}


static ngx_int_t
ngx_http_pattern_rt_job_results(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    prt_parse_error_t      err;
    prt_req_job_results_t  req;

    if (prt_req_parse_job_results((char *) ctx->args[0].data,
                                  ctx->args[0].len, (char *) r->args.data,
                                  r->args.len, &req, &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_job_read(r, ctx, PRT_MSG_JOB_RESULTS, &req,
                                        sizeof(prt_req_job_results_t));
}


static ngx_int_t
ngx_http_pattern_rt_history(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    prt_parse_error_t  err;
    prt_req_history_t  req;

    if (prt_req_parse_history(ngx_http_pattern_rt_parser(r),
                              (char *) r->args.data, r->args.len, &req, &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_HISTORY, &req,
                                    sizeof(prt_req_history_t));
}


static ngx_int_t
ngx_http_pattern_rt_performance(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    prt_parse_error_t      err;
    prt_req_performance_t  req;

    if (prt_req_parse_performance((char *) r->args.data, r->args.len, &req,
                                  &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_PERFORMANCE, &req,
                                    sizeof(prt_req_performance_t));
}


/* ---- live bars ------------------------------------------------------- */


static ngx_int_t
ngx_http_pattern_rt_bars(ngx_http_request_t *r, ngx_http_pattern_rt_ctx_t *ctx)
{
    u_char                          *body;
    size_t                           len, msg_len;
    ngx_int_t                        sent;
    prt_req_bars_t                  *req;
    prt_allocator_t                  a;
    prt_parse_error_t                err;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    sent = NGX_HTTP_INTERNAL_SERVER_ERROR;
    body = ngx_http_pattern_rt_get_body(r, &len, &a, &sent);
    if (body == NULL) {
        return sent;
    }

    if (prt_req_parse_bars(ngx_http_pattern_rt_parser(r), &a, (char *) body,
                           len, (uint32_t) plcf->max_bar_events, &req,
                           &msg_len, &err)
        != 0)
    {
        return ngx_http_pattern_rt_parse_error(r, &err);
    }

    return ngx_http_pattern_rt_call(r, ctx, PRT_MSG_BARS, req, msg_len);
}
