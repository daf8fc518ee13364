/*
 * Pattern Real-Time nginx module: the REST routes and their handlers.
 * A route names its parser (ngx_http_pattern_rt_request.h), its engine
 * message and how that is sent; one handler parses, sends one request
 * record to the engine and returns NGX_AGAIN (parked), or answers at once
 * with the parser's error. GET /health has a handler of its own.
 */

#include "ngx_http_pattern_rt_module.h"
#include "ngx_http_pattern_rt_request.h"


static ngx_int_t ngx_http_pattern_rt_health_done(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static u_char *ngx_http_pattern_rt_nginx_json(ngx_http_request_t *r,
    u_char *p);
static ngx_int_t ngx_http_pattern_rt_forward(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_job_read(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, uint16_t type, const void *req,
    size_t req_len);

static ssize_t ngx_http_pattern_rt_parse_search(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_fe_historical(
    ngx_http_request_t *r, ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_fe_realtime(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_prices(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_ohlc(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_run(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_job_id(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_job_results(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_history(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_performance(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
static ssize_t ngx_http_pattern_rt_parse_bars(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);


#define READ   NGX_HTTP_PATTERN_RT_SCOPE_READ
#define FEED   NGX_HTTP_PATTERN_RT_SCOPE_FEED
#define ADMIN  NGX_HTTP_PATTERN_RT_SCOPE_ADMIN
#define GET    (NGX_HTTP_GET|NGX_HTTP_HEAD)
#define POST   NGX_HTTP_POST
#define DEL    NGX_HTTP_DELETE
#define PRT    "/api/pattern-realtime"
#define FWD    ngx_http_pattern_rt_forward
#define CALL   ngx_http_pattern_rt_call
#define CACHED ngx_http_pattern_rt_job_read

/*
 * Paths after any prefix rewrite (conf/nginx.conf serves them under
 * /patterns/). Routes of one path with different methods share a pattern.
 * { methods, path, handler, reads a body, token scope,
 *   parser, engine message, how it is sent }: _forward() parses, answers a
 * parse error, and sends the request with CALL (the engine's answer as it
 * is) or CACHED (a job read, from the job cache when it holds the answer).
 */
const ngx_http_pattern_rt_route_t  ngx_http_pattern_rt_routes[] = {

    { GET, "/health", ngx_http_pattern_rt_health, 0, READ, NULL, 0, NULL },

    { GET, "/api/index/stats", FWD, 0, READ,
      NULL, PRT_MSG_INDEX_STATS, CALL },
    { GET|POST, "/api/index/reload", FWD, 0, ADMIN,
      NULL, PRT_MSG_INDEX_RELOAD, CALL },
    { GET, "/api/available-dates", FWD, 0, READ,
      NULL, PRT_MSG_AVAILABLE_DATES, CALL },

    { POST, "/api/patterns/search", FWD, 1, READ,
      ngx_http_pattern_rt_parse_search, PRT_MSG_SEARCH, CALL },
    { POST, "/api/search/historical", FWD, 1, READ,
      ngx_http_pattern_rt_parse_fe_historical, PRT_MSG_SEARCH, CALL },
    { GET, "/api/search/([^/]+)", FWD, 0, READ,
      ngx_http_pattern_rt_parse_fe_realtime, PRT_MSG_SEARCH, CALL },
    { GET, "/api/historical/prices/([^/]+)", FWD, 0, READ,
      ngx_http_pattern_rt_parse_prices, PRT_MSG_PRICES, CALL },
    { GET, "/api/historical/ohlc/([^/]+)", FWD, 0, READ,
      ngx_http_pattern_rt_parse_ohlc, PRT_MSG_PRICES, CALL },

    { POST, PRT "/run", FWD, 1, READ,
      ngx_http_pattern_rt_parse_run, PRT_MSG_RUN, CALL },
    { GET, PRT "/job/([^/]+)", FWD, 0, READ,
      ngx_http_pattern_rt_parse_job_id, PRT_MSG_JOB_GET, CACHED },
    { DEL, PRT "/job/([^/]+)", FWD, 0, READ,
      ngx_http_pattern_rt_parse_job_id, PRT_MSG_JOB_CANCEL, CALL },
    { POST, PRT "/job/([^/]+)/cancel", FWD, 0, READ,
      ngx_http_pattern_rt_parse_job_id, PRT_MSG_JOB_CANCEL, CALL },
    { GET, PRT "/job/([^/]+)/results", FWD, 0, READ,
      ngx_http_pattern_rt_parse_job_results, PRT_MSG_JOB_RESULTS, CACHED },
    { GET, PRT "/history", FWD, 0, READ,
      ngx_http_pattern_rt_parse_history, PRT_MSG_HISTORY, CALL },
    { GET, PRT "/performance", FWD, 0, READ,
      ngx_http_pattern_rt_parse_performance, PRT_MSG_PERFORMANCE, CALL },
    { POST, PRT "/bars", FWD, 1, FEED,
      ngx_http_pattern_rt_parse_bars, PRT_MSG_BARS, CALL },
};

#undef READ
#undef FEED
#undef ADMIN
#undef GET
#undef POST
#undef DEL
#undef PRT
#undef FWD
#undef CALL
#undef CACHED

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


/* ---- parse, answer a parse error, send ------------------------------- */


/* What a route's parser reads and writes. */
struct ngx_http_pattern_rt_parsed_s {
    prt_parser_t                   *parser;
    prt_allocator_t                 alloc;           /* from r->pool */
    char                           *body;            /* routes with one */
    size_t                          body_len;
    char                           *capture;         /* the route's first */
    size_t                          capture_len;
    char                           *args;            /* the query string */
    size_t                          args_len;
    const void                     *msg;             /* what is sent */
    prt_parse_error_t               err;
    union {                                          /* fixed-size requests:
                                                        msg points here */
        prt_req_search_t            search;
        prt_req_prices_t            prices;
        prt_req_job_t               job;
        prt_req_job_results_t       job_results;
        prt_req_history_t           history;
        prt_req_performance_t       performance;
    } req;
};


/*
 * The handler of every route that parses, then sends one request record:
 * the route's parser fills the message (an error is answered 4xx with the
 * parser's code, message and field), the route's send puts it to the
 * engine. A route without a parser sends an empty message.
 */
static ngx_int_t
ngx_http_pattern_rt_forward(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    ssize_t                             len;
    ngx_int_t                           sent;
    ngx_http_pattern_rt_parsed_t        in;
    const ngx_http_pattern_rt_route_t  *route;

    route = ctx->route;

    if (route->parse == NULL) {
        return route->send(r, ctx, route->type, NULL, 0);
    }

    ngx_memzero(&in, sizeof(ngx_http_pattern_rt_parsed_t));
    in.parser = ngx_http_pattern_rt_parser(r);
    in.capture = (char *) ctx->args[0].data;
    in.capture_len = ctx->args[0].len;
    in.args = (char *) r->args.data;
    in.args_len = r->args.len;
    in.msg = &in.req;

    if (route->body) {
        sent = NGX_HTTP_INTERNAL_SERVER_ERROR;
        in.body = (char *) ngx_http_pattern_rt_get_body(r, &in.body_len,
                                                       &in.alloc, &sent);
        if (in.body == NULL) {
            return sent;
        }
    }

    len = route->parse(r, &in);
    if (len < 0) {
        return ngx_http_pattern_rt_parse_error(r, &in.err);
    }

    return route->send(r, ctx, route->type, in.msg, (size_t) len);
}


/* a fixed-size request's length, or -1 when its parser failed */
static ssize_t
ngx_http_pattern_rt_fixed(int rc, size_t size)
{
    return rc == 0 ? (ssize_t) size : -1;
}


static ssize_t
ngx_http_pattern_rt_parse_search(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_search(in->parser, &in->alloc, in->body, in->body_len,
                             &in->req.search, &in->err),
        sizeof(prt_req_search_t));
}


static ssize_t
ngx_http_pattern_rt_parse_fe_historical(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_fe_historical(in->parser, &in->alloc, in->body,
                                    in->body_len, &in->req.search, &in->err),
        sizeof(prt_req_search_t));
}


static ssize_t
ngx_http_pattern_rt_parse_fe_realtime(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_fe_realtime(in->parser, in->capture, in->capture_len,
                                  in->args, in->args_len,
                                  &in->req.search, &in->err),
        sizeof(prt_req_search_t));
}


static ssize_t
ngx_http_pattern_rt_parse_prices(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_prices(in->parser, PRT_PRICES_LINE,
                             in->capture, in->capture_len,
                             in->args, in->args_len, &in->req.prices,
                             &in->err),
        sizeof(prt_req_prices_t));
}


static ssize_t
ngx_http_pattern_rt_parse_ohlc(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_prices(in->parser, PRT_PRICES_OHLC,
                             in->capture, in->capture_len,
                             in->args, in->args_len, &in->req.prices,
                             &in->err),
        sizeof(prt_req_prices_t));
}


static ssize_t
ngx_http_pattern_rt_parse_job_id(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_job_id(in->capture, in->capture_len, &in->req.job,
                             &in->err),
        sizeof(prt_req_job_t));
}


static ssize_t
ngx_http_pattern_rt_parse_job_results(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_job_results(in->capture, in->capture_len,
                                  in->args, in->args_len,
                                  &in->req.job_results, &in->err),
        sizeof(prt_req_job_results_t));
}


static ssize_t
ngx_http_pattern_rt_parse_history(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_history(in->parser, in->args, in->args_len,
                              &in->req.history, &in->err),
        sizeof(prt_req_history_t));
}


static ssize_t
ngx_http_pattern_rt_parse_performance(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    return ngx_http_pattern_rt_fixed(
        prt_req_parse_performance(in->args, in->args_len,
                                  &in->req.performance, &in->err),
        sizeof(prt_req_performance_t));
}


/* the variable-length ones: the parser allocates the message */

static ssize_t
ngx_http_pattern_rt_parse_run(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    size_t                           len;
    prt_req_run_t                   *req;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    if (prt_req_parse_run(in->parser, &in->alloc, in->body, in->body_len,
                          (uint32_t) plcf->max_symbols, &req, &len, &in->err)
        != 0)
    {
        return -1;
    }

    in->msg = req;
    return (ssize_t) len;
}


static ssize_t
ngx_http_pattern_rt_parse_bars(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in)
{
    size_t                           len;
    prt_req_bars_t                  *req;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    if (prt_req_parse_bars(in->parser, &in->alloc, in->body, in->body_len,
                           (uint32_t) plcf->max_bar_events, &req, &len,
                           &in->err)
        != 0)
    {
        return -1;
    }

    in->msg = req;
    return (ssize_t) len;
}


/* ---- job reads: the job cache ----------------------------------------- */


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
