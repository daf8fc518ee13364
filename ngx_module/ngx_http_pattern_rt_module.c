/*
 * Pattern Real-Time nginx module: directives, configuration, the content
 * handler and its router.
 */

#include "ngx_http_pattern_rt_module.h"
#include "ngx_http_pattern_rt_request.h"


static ngx_int_t ngx_http_pattern_rt_handler(ngx_http_request_t *r);
static void ngx_http_pattern_rt_body_ready(ngx_http_request_t *r);
static void ngx_http_pattern_rt_dispatch(ngx_http_request_t *r);
static ngx_int_t ngx_http_pattern_rt_route(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);

static void *ngx_http_pattern_rt_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_pattern_rt_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_pattern_rt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_pattern_rt_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static void ngx_http_pattern_rt_check_body_limits(ngx_conf_t *cf,
    ngx_http_pattern_rt_loc_conf_t *plcf);
static char *ngx_http_pattern_rt_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pattern_rt_websocket(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pattern_rt_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pattern_rt_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pattern_rt_job_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_pattern_rt_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_pattern_rt_init_process(ngx_cycle_t *cycle);
static void ngx_http_pattern_rt_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_pattern_rt_commands[] = {

    { ngx_string("pattern_rt_engine"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_main_conf_t, engine_path),
      NULL },

    { ngx_string("pattern_rt_reconnect"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_main_conf_t, reconnect_max),
      NULL },

    { ngx_string("pattern_rt_max_pending"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_main_conf_t, max_pending),
      NULL },

    { ngx_string("pattern_rt_max_response"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_main_conf_t, max_response),
      NULL },

    { ngx_string("pattern_rt_job_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pattern_rt_job_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pattern_rt_job_cache_valid"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_main_conf_t, job_cache_valid),
      NULL },

    { ngx_string("pattern_rt_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_pattern_rt_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pattern_rt_websocket"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_pattern_rt_websocket,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pattern_rt_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_pattern_rt_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pattern_rt_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_pattern_rt_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pattern_rt_ws_max_connections"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_main_conf_t, ws_max_connections),
      NULL },

    { ngx_string("pattern_rt_ws_max_message"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, ws_max_message),
      NULL },

    { ngx_string("pattern_rt_ws_max_output"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, ws_max_output),
      NULL },

    { ngx_string("pattern_rt_ws_max_frames"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, ws_max_frames),
      NULL },

    { ngx_string("pattern_rt_ws_max_subscriptions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, ws_max_subscriptions),
      NULL },

    { ngx_string("pattern_rt_ws_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, ws_ping_interval),
      NULL },

    { ngx_string("pattern_rt_ws_pong_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, ws_pong_timeout),
      NULL },

    { ngx_string("pattern_rt_ws_close_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, ws_close_timeout),
      NULL },

    { ngx_string("pattern_rt_ws_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_pattern_rt_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, ws_origins),
      NULL },

    { ngx_string("pattern_rt_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, timeout),
      NULL },

    { ngx_string("pattern_rt_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, max_body),
      NULL },

    { ngx_string("pattern_rt_max_symbols"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, max_symbols),
      NULL },

    { ngx_string("pattern_rt_max_bar_events"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, max_bar_events),
      NULL },

    { ngx_string("pattern_rt_cors_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_pattern_rt_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, cors_origins),
      NULL },

    { ngx_string("pattern_rt_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, auth),
      NULL },

    { ngx_string("pattern_rt_auth_read"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pattern_rt_loc_conf_t, auth_read),
      NULL },

    { ngx_string("pattern_rt_auth_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_pattern_rt_auth_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_pattern_rt_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_pattern_rt_postconfiguration, /* postconfiguration */

    ngx_http_pattern_rt_create_main_conf,  /* create main configuration */
    ngx_http_pattern_rt_init_main_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_pattern_rt_create_loc_conf,   /* create location configuration */
    ngx_http_pattern_rt_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_pattern_rt_module = {
    NGX_MODULE_V1,
    &ngx_http_pattern_rt_module_ctx,       /* module context */
    ngx_http_pattern_rt_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_pattern_rt_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_pattern_rt_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_pattern_rt_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_http_pattern_rt_ctx_t       *ctx;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_pattern_rt_ctx_t));
    if (ctx == NULL) {
        return ngx_http_pattern_rt_send_status(r,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          "out of memory for the context");
    }

    ctx->request = r;
    ngx_http_set_ctx(r, ctx, ngx_http_pattern_rt_module);

    rc = ngx_http_pattern_rt_route(r, ctx);
    if (rc != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        switch (rc) {
        case NGX_HTTP_NO_CONTENT:
            return ngx_http_pattern_rt_send_json(r, NGX_HTTP_NO_CONTENT,
                                                 NULL, 0);
        case NGX_HTTP_NOT_ALLOWED:
            return ngx_http_pattern_rt_send_error(r, PRT_E_METHOD,
                                      "method not allowed on this path",
                                      NULL);
        default:
            return ngx_http_pattern_rt_send_error(r, PRT_E_NOT_FOUND,
                                                  "no such endpoint", NULL);
        }
    }

    rc = ngx_http_pattern_rt_auth_check(r, ctx->route->scope);
    if (rc != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_pattern_rt_send_status(r, rc, "token check failed");
    }

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    if (ctx->route->body
        && r->headers_in.content_length_n > (off_t) plcf->max_body)
    {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_pattern_rt_send_error(r, PRT_E_TOO_LARGE,
                                              "request body too large", NULL);
    }

    if (ctx->route->body) {
        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r,
                                            ngx_http_pattern_rt_body_ready);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            /* a malformed chunked body (400), one over
             * client_max_body_size (413): JSON, not nginx's page */
            return ngx_http_pattern_rt_send_status(r, rc,
                                          "reading the request body failed");
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    r->main->count++;
    ngx_http_pattern_rt_dispatch(r);

    return NGX_DONE;
}


static void
ngx_http_pattern_rt_body_ready(ngx_http_request_t *r)
{
    /* ngx_http_read_client_request_body() took the reference we finish */
    ngx_http_pattern_rt_dispatch(r);
}


static void
ngx_http_pattern_rt_dispatch(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_pattern_rt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pattern_rt_module);

    rc = ctx->route->handler(r, ctx);

    if (rc == NGX_AGAIN) {
        return;                    /* parked until the engine answers */
    }

    /* a handler's 500 (an allocation or a body read back from a file
     * failed) is answered as JSON, too */
    ngx_http_finalize_request(r, ngx_http_pattern_rt_send_status(r, rc,
                                                 "request handler failed"));
}


/*
 * Finds the route of r and its captures. Returns NGX_OK, or the answer to
 * give instead: NGX_HTTP_NOT_FOUND for an unknown path,
 * NGX_HTTP_NOT_ALLOWED for a known path and another method,
 * NGX_HTTP_NO_CONTENT for a CORS preflight.
 */
static ngx_int_t
ngx_http_pattern_rt_route(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    int                                 n, i;
    ngx_uint_t                          k;
    const char                         *path_known;
    PCRE2_SIZE                         *ov;
    ngx_http_pattern_rt_main_conf_t    *pmcf;
    const ngx_http_pattern_rt_route_t  *route;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    path_known = NULL;

    for (k = 0; k < ngx_http_pattern_rt_nroutes; k++) {
        route = &ngx_http_pattern_rt_routes[k];

        /* once a path matched, only other methods of that path are tried:
         * GET /api/search/historical is a 405, not a search for the ticker
         * HISTORICAL */
        if (path_known && ngx_strcmp(route->pattern, path_known) != 0) {
            continue;
        }

        n = pcre2_match(pmcf->route_re[k], r->uri.data, r->uri.len, 0, 0,
                        pmcf->match_data, NULL);
        if (n < 0) {
            continue;
        }

        path_known = route->pattern;

        if (r->method == NGX_HTTP_OPTIONS) {
            return NGX_HTTP_NO_CONTENT;
        }

        if (!(r->method & route->methods)) {
            continue;
        }

        ctx->route = route;

        ov = pcre2_get_ovector_pointer(pmcf->match_data);
        for (i = 1; i < n && i <= 4; i++) {
            ctx->args[i - 1].data = r->uri.data + ov[2 * i];
            ctx->args[i - 1].len = ov[2 * i + 1] - ov[2 * i];
        }

        return NGX_OK;
    }

    return path_known ? NGX_HTTP_NOT_ALLOWED : NGX_HTTP_NOT_FOUND;
}


/* ---- configuration --------------------------------------------------- */


static void *
ngx_http_pattern_rt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_pattern_rt_main_conf_t));
    if (pmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     pmcf->engine_path = { 0, NULL };
     *     pmcf->engine = NULL;
     */

    pmcf->reconnect_max = NGX_CONF_UNSET_MSEC;
    pmcf->max_pending = NGX_CONF_UNSET_UINT;
    pmcf->max_response = NGX_CONF_UNSET_SIZE;
    pmcf->ws_max_connections = NGX_CONF_UNSET_UINT;
    pmcf->job_cache = NGX_CONF_UNSET_SIZE;
    pmcf->job_cache_valid = NGX_CONF_UNSET_MSEC;

    return pmcf;
}


static void
ngx_http_pattern_rt_cleanup_regex(void *data)
{
    ngx_http_pattern_rt_main_conf_t  *pmcf = data;

    ngx_uint_t  k;

    for (k = 0; k < ngx_http_pattern_rt_nroutes; k++) {
        if (pmcf->route_re[k]) {
            pcre2_code_free(pmcf->route_re[k]);
        }
    }

    if (pmcf->match_data) {
        pcre2_match_data_free(pmcf->match_data);
    }
}


static char *
ngx_http_pattern_rt_compile_routes(ngx_conf_t *cf,
    ngx_http_pattern_rt_main_conf_t *pmcf)
{
    int                  err;
    ngx_uint_t           k;
    PCRE2_SIZE           off;
    PCRE2_UCHAR          msg[128];
    ngx_pool_cleanup_t  *cln;

    pmcf->route_re = ngx_pcalloc(cf->pool,
                         ngx_http_pattern_rt_nroutes * sizeof(pcre2_code *));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (pmcf->route_re == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_pattern_rt_cleanup_regex;
    cln->data = pmcf;

    for (k = 0; k < ngx_http_pattern_rt_nroutes; k++) {
        pmcf->route_re[k] = pcre2_compile(
                      (PCRE2_SPTR) ngx_http_pattern_rt_routes[k].pattern,
                      PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED|PCRE2_ENDANCHORED,
                      &err, &off, NULL);
        if (pmcf->route_re[k] == NULL) {
            pcre2_get_error_message(err, msg, sizeof(msg));
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "pattern_rt: route \"%s\": %s",
                               ngx_http_pattern_rt_routes[k].pattern, msg);
            return NGX_CONF_ERROR;
        }

        /* JIT is an optimisation: a failure only costs speed */
        (void) pcre2_jit_compile(pmcf->route_re[k], PCRE2_JIT_COMPLETE);
    }

    pmcf->match_data = pcre2_match_data_create(8, NULL);
    if (pmcf->match_data == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pattern_rt_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_pattern_rt_main_conf_t  *pmcf = conf;

    ngx_conf_init_msec_value(pmcf->reconnect_max, 2000);
    ngx_conf_init_uint_value(pmcf->max_pending, 4096);
    ngx_conf_init_size_value(pmcf->max_response, 64 * 1024 * 1024);
    ngx_conf_init_uint_value(pmcf->ws_max_connections, 20000);
    ngx_conf_init_size_value(pmcf->job_cache, 8 * 1024 * 1024);
    ngx_conf_init_msec_value(pmcf->job_cache_valid, 60000);

    if (pmcf->max_pending == 0 || pmcf->max_pending > 65535) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pattern_rt_max_pending must be 1..65535");
        return NGX_CONF_ERROR;
    }

    if (pmcf->engine_path.len
        && ngx_http_pattern_rt_metrics_add_zone(cf, pmcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_http_pattern_rt_compile_routes(cf, pmcf);
}


/* the request latencies of /metrics are taken when a request is logged */
static ngx_int_t
ngx_http_pattern_rt_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_pattern_rt_metrics_log;

    return NGX_OK;
}


static void *
ngx_http_pattern_rt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_pattern_rt_loc_conf_t));
    if (plcf == NULL) {
        return NULL;
    }

    plcf->api = NGX_CONF_UNSET;
    plcf->timeout = NGX_CONF_UNSET_MSEC;
    plcf->max_body = NGX_CONF_UNSET_SIZE;
    plcf->max_symbols = NGX_CONF_UNSET_UINT;
    plcf->max_bar_events = NGX_CONF_UNSET_UINT;
    plcf->cors_origins = NGX_CONF_UNSET_PTR;
    plcf->ws_max_message = NGX_CONF_UNSET_SIZE;
    plcf->ws_max_output = NGX_CONF_UNSET_SIZE;
    plcf->ws_max_frames = NGX_CONF_UNSET_UINT;
    plcf->ws_max_subscriptions = NGX_CONF_UNSET_UINT;
    plcf->ws_ping_interval = NGX_CONF_UNSET_MSEC;
    plcf->ws_pong_timeout = NGX_CONF_UNSET_MSEC;
    plcf->ws_close_timeout = NGX_CONF_UNSET_MSEC;
    plcf->ws_origins = NGX_CONF_UNSET_PTR;
    plcf->auth = NGX_CONF_UNSET;
    plcf->auth_read = NGX_CONF_UNSET;

    return plcf;
}


static char *
ngx_http_pattern_rt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_pattern_rt_loc_conf_t  *prev = parent;
    ngx_http_pattern_rt_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->api, prev->api, 0);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 10000);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 1024 * 1024);
    ngx_conf_merge_uint_value(conf->max_symbols, prev->max_symbols, 10000);
    ngx_conf_merge_uint_value(conf->max_bar_events, prev->max_bar_events,
                              10000);
    ngx_conf_merge_ptr_value(conf->cors_origins, prev->cors_origins, NULL);
    ngx_conf_merge_size_value(conf->ws_max_message, prev->ws_max_message,
                              16 * 1024);
    ngx_conf_merge_size_value(conf->ws_max_output, prev->ws_max_output,
                              8 * 1024 * 1024);
    ngx_conf_merge_uint_value(conf->ws_max_frames, prev->ws_max_frames, 4096);
    ngx_conf_merge_uint_value(conf->ws_max_subscriptions,
                              prev->ws_max_subscriptions, 64);
    ngx_conf_merge_msec_value(conf->ws_ping_interval, prev->ws_ping_interval,
                              30000);
    ngx_conf_merge_msec_value(conf->ws_pong_timeout, prev->ws_pong_timeout,
                              20000);
    ngx_conf_merge_msec_value(conf->ws_close_timeout, prev->ws_close_timeout,
                              5000);
    ngx_conf_merge_ptr_value(conf->ws_origins, prev->ws_origins, NULL);

    if (conf->ws_max_message < 256) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pattern_rt_ws_max_message must be at least 256");
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_value(conf->auth, prev->auth, 0);
    ngx_conf_merge_value(conf->auth_read, prev->auth_read, 0);
    ngx_conf_merge_str_value(conf->auth_secret, prev->auth_secret, "");

    if (conf->auth == 1 && conf->auth_secret.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"pattern_rt_auth on\" needs "
                           "\"pattern_rt_auth_secret\" in the same or an "
                           "enclosing block");
        return NGX_CONF_ERROR;
    }

    if (conf->api == 1) {
        ngx_http_pattern_rt_check_body_limits(cf, conf);
    }

    return NGX_CONF_OK;
}


/*
 * nginx's own body limits apply before ours and answer in HTML, and a body
 * larger than client_body_buffer_size goes to a temporary file: say so at
 * configuration time rather than surprise the operator later.
 */
static void
ngx_http_pattern_rt_check_body_limits(ngx_conf_t *cf,
    ngx_http_pattern_rt_loc_conf_t *plcf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->client_max_body_size
        && clcf->client_max_body_size < (off_t) plcf->max_body)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "client_max_body_size %O is below "
                           "pattern_rt_max_body %uz: larger bodies get "
                           "nginx's own 413 page",
                           clcf->client_max_body_size, plcf->max_body);
    }

    if (clcf->client_body_buffer_size < plcf->max_body) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "client_body_buffer_size %uz is below "
                           "pattern_rt_max_body %uz: larger bodies are "
                           "buffered to disk",
                           clcf->client_body_buffer_size, plcf->max_body);
    }
}


/* pattern_rt_job_cache SIZE | off */
static char *
ngx_http_pattern_rt_job_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pattern_rt_main_conf_t  *pmcf = conf;

    ngx_str_t  *value;

    if (pmcf->job_cache != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        pmcf->job_cache = 0;
        return NGX_CONF_OK;
    }

    pmcf->job_cache = ngx_parse_size(&value[1]);
    if (pmcf->job_cache == (size_t) NGX_ERROR || pmcf->job_cache < 65536) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pattern_rt_job_cache must be \"off\" or a size "
                           "of at least 64k, not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pattern_rt_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pattern_rt_loc_conf_t  *plcf = conf;

    char  *rv;

    if (plcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    rv = ngx_http_pattern_rt_serve_here(cf, ngx_http_pattern_rt_handler);
    if (rv == NGX_CONF_OK) {
        plcf->api = 1;
    }

    return rv;
}


/* pattern_rt_cors_origin / pattern_rt_ws_origin: origin ... | *; may be
 * repeated; the array lives at the command's offset */
static char *
ngx_http_pattern_rt_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t     *value, *origin;
    ngx_uint_t     i;
    ngx_array_t  **origins;

    origins = (ngx_array_t **) ((char *) conf + cmd->offset);

    if (*origins == NGX_CONF_UNSET_PTR) {
        *origins = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (*origins == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (!(value[i].len == 1 && value[i].data[0] == '*')
            && ngx_strncasecmp(value[i].data, (u_char *) "http://", 7) != 0
            && ngx_strncasecmp(value[i].data, (u_char *) "https://", 8) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\": \"*\" or "
                               "scheme://host[:port]", &value[i]);
            return NGX_CONF_ERROR;
        }

        origin = ngx_array_push(*origins);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pattern_rt_websocket(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_pattern_rt_serve_here(cf, ngx_http_pattern_rt_ws_handler);
}


/* A location directive's common part: the engine is configured, and this
 * location's content handler is h. */
char *
ngx_http_pattern_rt_serve_here(ngx_conf_t *cf, ngx_http_handler_pt h)
{
    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_pattern_rt_module);
    if (pmcf->engine_path.len == 0) {
        return "requires \"pattern_rt_engine\" in the http block before it";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = h;

    return NGX_CONF_OK;
}


/* pattern_rt_error: the API's JSON error for the status an error_page
 * redirect brings here (README, docs/api-validation.md) */
static char *
ngx_http_pattern_rt_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    if (clcf->handler != NULL) {
        return "is duplicate, or the location has another handler";
    }

    clcf->handler = ngx_http_pattern_rt_error_handler;

    return NGX_CONF_OK;
}


/* ---- worker life cycle ----------------------------------------------- */


static ngx_int_t
ngx_http_pattern_rt_init_process(ngx_cycle_t *cycle)
{
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_pattern_rt_module);
    if (pmcf == NULL || pmcf->engine_path.len == 0) {
        return NGX_OK;
    }

    pmcf->parser = prt_parser_create();
    if (pmcf->parser == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pattern_rt: compiling the request parsers failed");
        return NGX_ERROR;
    }

    if (ngx_http_pattern_rt_engine_init(cycle, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_pattern_rt_ws_init_process(cycle, pmcf->engine) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_pattern_rt_metrics_init_process(cycle, pmcf);
}


static void
ngx_http_pattern_rt_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_pattern_rt_module);
    if (pmcf && pmcf->engine) {
        ngx_http_pattern_rt_engine_exit(pmcf->engine);
    }

    if (pmcf && pmcf->parser) {
        prt_parser_free(pmcf->parser);
        pmcf->parser = NULL;
    }
}
