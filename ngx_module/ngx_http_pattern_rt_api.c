/*
 * Pattern Real-Time nginx module: the REST routes and their handlers.
 * A handler validates its input, sends one request record to the engine
 * and returns NGX_AGAIN (parked), or answers at once with an error.
 */

#include "ngx_http_pattern_rt_module.h"


static ngx_int_t ngx_http_pattern_rt_health_done(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static u_char *ngx_http_pattern_rt_nginx_json(ngx_http_request_t *r,
    u_char *p);


const ngx_http_pattern_rt_route_t  ngx_http_pattern_rt_routes[] = {

    { NGX_HTTP_GET|NGX_HTTP_HEAD, "/health",
      ngx_http_pattern_rt_health, 0 },

};

const ngx_uint_t  ngx_http_pattern_rt_nroutes =
    sizeof(ngx_http_pattern_rt_routes) / sizeof(ngx_http_pattern_rt_routes[0]);


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


#define NGX_HTTP_PATTERN_RT_NGINX_JSON_LEN  512


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

    body = ngx_pnalloc(r->pool, NGX_HTTP_PATTERN_RT_NGINX_JSON_LEN + 256);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"status\":\"down\",");
    p = ngx_http_pattern_rt_nginx_json(r, p);
    p = ngx_sprintf(p, ",\"error\":{\"code\":\"E_ENGINE_DOWN\","
                    "\"message\":\"engine is not running\"},"
                    "\"detail\":\"engine is not running\"}");

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

    body = ngx_pnalloc(r->pool,
                       ctx->body_len + NGX_HTTP_PATTERN_RT_NGINX_JSON_LEN);
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

    return ngx_sprintf(p, "\"pending\":%ui,\"connects\":%ui,"
                       "\"disconnects\":%ui,\"busy\":%ui,\"timeouts\":%ui,"
                       "\"broadcast_laps\":%ui}",
                       eng->npending, eng->connects, eng->disconnects,
                       eng->busy, eng->timeouts, eng->bcast_laps);
}
