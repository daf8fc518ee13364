/*
 * Pattern Real-Time nginx module: GET /metrics (pattern_rt_metrics), the
 * Prometheus text exposition format 0.0.4 (docs/metrics.md).
 *
 * The answer is the engine's own text (PRT_MSG_METRICS) followed by the
 * counters of every nginx worker and pattern_rt_engine_up. Each worker's
 * counters live in a shared memory zone of nginx's (not the engine's), one
 * block per worker number, so that any worker can answer for all of them
 * and does so while the engine is down or restarting.
 *
 * Invariants:
 *   - a block is written by one process only, its worker (a new zone per
 *     configuration cycle, so an old generation draining after a reload
 *     never shares a block with its successor); readers may see a block
 *     mid-update, so every field is a 64-bit relaxed atomic and
 *     histogram buckets are stored per bucket and summed when rendered:
 *     what is rendered is always monotonic and cumulative;
 *   - the worker keeps its counters where they are today (the engine
 *     connection, the WebSocket hub) and copies them into its block every
 *     second and before it answers a scrape; request latencies are
 *     observed into a private block copied the same way. Nothing here
 *     blocks or allocates on the request path.
 */

#include "ngx_http_pattern_rt_module.h"


#define NGX_HTTP_PATTERN_RT_METRICS_WORKERS  256   /* worker numbers kept */
#define NGX_HTTP_PATTERN_RT_METRICS_ROUTES   32
#define NGX_HTTP_PATTERN_RT_METRICS_NB       13    /* latency bounds */
#define NGX_HTTP_PATTERN_RT_METRICS_SYNC     1000  /* ms between copies */


/* seconds; the last bucket (+Inf) follows */
static const char  *ngx_http_pattern_rt_lat_le[NGX_HTTP_PATTERN_RT_METRICS_NB] =
{
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5", "10"
};

static const ngx_msec_t  ngx_http_pattern_rt_lat_ms[NGX_HTTP_PATTERN_RT_METRICS_NB] =
{
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};


/* One worker's block: uint64_t fields only (copied and read one by one). */
typedef struct {
    uint64_t  pid;                                  /* 0: never written */
    uint64_t  engine_connected;
    uint64_t  pending;
    uint64_t  connects;
    uint64_t  disconnects;
    uint64_t  busy;
    uint64_t  timeouts;
    uint64_t  bcast_laps;
    uint64_t  ws_connections;
    uint64_t  ws_accepted;
    uint64_t  ws_refused;
    uint64_t  ws_slow_closed;
    uint64_t  ws_events;
    uint64_t  ws_frames_queued;
    /* per route, per bucket (not cumulative), the last one +Inf */
    uint64_t  lat[NGX_HTTP_PATTERN_RT_METRICS_ROUTES]
                 [NGX_HTTP_PATTERN_RT_METRICS_NB + 1];
    uint64_t  lat_sum_ms[NGX_HTTP_PATTERN_RT_METRICS_ROUTES];
} ngx_http_pattern_rt_wmetrics_t;

#define NGX_HTTP_PATTERN_RT_WMETRICS_WORDS                                   \
    (sizeof(ngx_http_pattern_rt_wmetrics_t) / sizeof(uint64_t))


/* this worker's private copy and its place in the zone */
static ngx_http_pattern_rt_wmetrics_t   ngx_http_pattern_rt_mine;
static ngx_http_pattern_rt_wmetrics_t  *ngx_http_pattern_rt_block;
static ngx_event_t                      ngx_http_pattern_rt_sync_ev;

/* route index -> label index (routes of one path share a label) */
static ngx_uint_t  ngx_http_pattern_rt_route_label[
                       NGX_HTTP_PATTERN_RT_METRICS_ROUTES];
static ngx_str_t   ngx_http_pattern_rt_labels[
                       NGX_HTTP_PATTERN_RT_METRICS_ROUTES];
static ngx_uint_t  ngx_http_pattern_rt_nlabels;


static ngx_int_t ngx_http_pattern_rt_metrics_zone_init(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_pattern_rt_metrics_labels(ngx_cycle_t *cycle);
static void ngx_http_pattern_rt_metrics_sync_handler(ngx_event_t *ev);
static void ngx_http_pattern_rt_metrics_sync(void);
static ngx_int_t ngx_http_pattern_rt_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_pattern_rt_metrics_done(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
static ngx_int_t ngx_http_pattern_rt_metrics_send(ngx_http_request_t *r,
    const u_char *engine, size_t engine_len, ngx_uint_t engine_up);
static void ngx_http_pattern_rt_metrics_cleanup(void *data);


/* ---- configuration and life cycle ------------------------------------ */


ngx_int_t
ngx_http_pattern_rt_metrics_add_zone(ngx_conf_t *cf,
    ngx_http_pattern_rt_main_conf_t *pmcf)
{
    size_t             size;
    ngx_str_t          name = ngx_string("pattern_rt_metrics");
    ngx_shm_zone_t    *zone;

    /* the slab pool's own pages and header come on top of the blocks */
    size = NGX_HTTP_PATTERN_RT_METRICS_WORKERS
           * sizeof(ngx_http_pattern_rt_wmetrics_t) + 64 * ngx_pagesize;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_pattern_rt_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_pattern_rt_metrics_zone_init;
    zone->data = pmcf;
    /* a new zone per cycle: see the invariants at the top */
    zone->noreuse = 1;
    pmcf->metrics_zone = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_pattern_rt_metrics_zone_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t                  *shpool;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = zone->data;
    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    pmcf->metrics = ngx_slab_calloc(shpool, NGX_HTTP_PATTERN_RT_METRICS_WORKERS
                                   * sizeof(ngx_http_pattern_rt_wmetrics_t));
    if (pmcf->metrics == NULL) {
        ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                      "pattern_rt: allocating the metrics zone failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_pattern_rt_metrics_init_process(ngx_cycle_t *cycle,
    ngx_http_pattern_rt_main_conf_t *pmcf)
{
    ngx_http_pattern_rt_wmetrics_t  *blocks;

    if (ngx_http_pattern_rt_metrics_labels(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    blocks = pmcf->metrics;

    if (blocks == NULL) {
        return NGX_OK;
    }

    if (ngx_worker >= NGX_HTTP_PATTERN_RT_METRICS_WORKERS) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "pattern_rt: worker %ui is beyond the %d workers "
                      "/metrics reports", ngx_worker,
                      NGX_HTTP_PATTERN_RT_METRICS_WORKERS);
        return NGX_OK;
    }

    ngx_memzero(&ngx_http_pattern_rt_mine, sizeof(ngx_http_pattern_rt_mine));
    ngx_http_pattern_rt_block = &blocks[ngx_worker];
    ngx_http_pattern_rt_metrics_sync();

    ngx_http_pattern_rt_sync_ev.handler =
                                  ngx_http_pattern_rt_metrics_sync_handler;
    ngx_http_pattern_rt_sync_ev.log = cycle->log;
    ngx_http_pattern_rt_sync_ev.data = pmcf;
    /* never delays a graceful shutdown */
    ngx_http_pattern_rt_sync_ev.cancelable = 1;
    ngx_add_timer(&ngx_http_pattern_rt_sync_ev,
                  NGX_HTTP_PATTERN_RT_METRICS_SYNC);

    return NGX_OK;
}


/*
 * Route labels: the route's path pattern with each capture group written
 * "{param}" ("/api/pattern-realtime/job/{param}/results"); routes of one
 * path (GET and DELETE of a job) share one label.
 */
static ngx_int_t
ngx_http_pattern_rt_metrics_labels(ngx_cycle_t *cycle)
{
    u_char      *p;
    ngx_uint_t   k, i, depth;
    const char  *s;

    if (ngx_http_pattern_rt_nroutes > NGX_HTTP_PATTERN_RT_METRICS_ROUTES) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pattern_rt: %ui routes, /metrics keeps %d",
                      ngx_http_pattern_rt_nroutes,
                      NGX_HTTP_PATTERN_RT_METRICS_ROUTES);
        return NGX_ERROR;
    }

    ngx_http_pattern_rt_nlabels = 0;

    for (k = 0; k < ngx_http_pattern_rt_nroutes; k++) {
        s = ngx_http_pattern_rt_routes[k].pattern;

        /* each group shrinks or grows by at most sizeof("{param}") */
        p = ngx_pnalloc(cycle->pool, 8 * ngx_strlen(s) + 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_http_pattern_rt_labels[ngx_http_pattern_rt_nlabels].data = p;
        depth = 0;

        for ( /* void */ ; *s; s++) {
            if (*s == '(') {
                if (depth++ == 0) {
                    p = ngx_cpymem(p, "{param}", sizeof("{param}") - 1);
                }
                continue;
            }
            if (*s == ')' && depth) {
                depth--;
                continue;
            }
            if (depth == 0) {
                *p++ = (u_char) (*s == '"' || *s == '\\' ? '_' : *s);
            }
        }

        ngx_http_pattern_rt_labels[ngx_http_pattern_rt_nlabels].len =
            p - ngx_http_pattern_rt_labels[ngx_http_pattern_rt_nlabels].data;

        for (i = 0; i < ngx_http_pattern_rt_nlabels; i++) {
            if (ngx_http_pattern_rt_labels[i].len
                   == ngx_http_pattern_rt_labels[ngx_http_pattern_rt_nlabels].len
                && ngx_memcmp(ngx_http_pattern_rt_labels[i].data,
                       ngx_http_pattern_rt_labels[ngx_http_pattern_rt_nlabels].data,
                       ngx_http_pattern_rt_labels[i].len) == 0)
            {
                break;
            }
        }

        ngx_http_pattern_rt_route_label[k] = i;

        if (i == ngx_http_pattern_rt_nlabels) {
            ngx_http_pattern_rt_nlabels++;
        }
    }

    return NGX_OK;
}


static void
ngx_http_pattern_rt_metrics_sync_handler(ngx_event_t *ev)
{
    ngx_http_pattern_rt_metrics_sync();

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(ev, NGX_HTTP_PATTERN_RT_METRICS_SYNC);
    }
}


/* Copies this worker's counters into its block (see the invariants). */
static void
ngx_http_pattern_rt_metrics_sync(void)
{
    ngx_uint_t                           i;
    uint64_t                            *src, *dst;
    ngx_http_pattern_rt_engine_t        *eng;
    ngx_http_pattern_rt_wmetrics_t      *m;
    ngx_http_pattern_rt_main_conf_t     *pmcf;
    ngx_http_pattern_rt_ws_counters_t    ws;

    if (ngx_http_pattern_rt_block == NULL) {
        return;
    }

    m = &ngx_http_pattern_rt_mine;
    pmcf = ngx_http_pattern_rt_sync_ev.data;
    eng = pmcf ? pmcf->engine : NULL;

    m->pid = (uint64_t) ngx_pid;

    if (eng) {
        m->engine_connected = (eng->state == NGX_HTTP_PATTERN_RT_UP);
        m->pending = eng->npending + eng->nheld;
        m->connects = eng->connects;
        m->disconnects = eng->disconnects;
        m->busy = eng->busy;
        m->timeouts = eng->timeouts;
        m->bcast_laps = eng->bcast_laps;

        ngx_memzero(&ws, sizeof(ws));
        ngx_http_pattern_rt_ws_counters(eng, &ws);
        m->ws_connections = ws.connections;
        m->ws_accepted = ws.accepted;
        m->ws_refused = ws.refused;
        m->ws_slow_closed = ws.slow_closed;
        m->ws_events = ws.events;
        m->ws_frames_queued = ws.frames_queued;
    }

    src = (uint64_t *) m;
    dst = (uint64_t *) ngx_http_pattern_rt_block;

    for (i = 0; i < NGX_HTTP_PATTERN_RT_WMETRICS_WORDS; i++) {
        __atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
    }
}


/* NGX_HTTP_LOG_PHASE: the latency of an answered API request, by route. */
ngx_int_t
ngx_http_pattern_rt_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                       k, b, label;
    ngx_msec_int_t                   ms;
    ngx_time_t                      *tp;
    ngx_http_pattern_rt_ctx_t       *ctx;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    /* only API locations hold an ngx_http_pattern_rt_ctx_t */
    if (plcf == NULL || plcf->api != 1 || r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_pattern_rt_module);
    if (ctx == NULL || ctx->route == NULL) {
        return NGX_OK;
    }

    k = ctx->route - ngx_http_pattern_rt_routes;
    if (k >= ngx_http_pattern_rt_nroutes) {
        return NGX_OK;
    }

    label = ngx_http_pattern_rt_route_label[k];

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    for (b = 0; b < NGX_HTTP_PATTERN_RT_METRICS_NB; b++) {
        if ((ngx_msec_t) ms <= ngx_http_pattern_rt_lat_ms[b]) {
            break;
        }
    }

    ngx_http_pattern_rt_mine.lat[label][b]++;
    ngx_http_pattern_rt_mine.lat_sum_ms[label] += (uint64_t) ms;

    return NGX_OK;
}


/* ---- the location ---------------------------------------------------- */


char *
ngx_http_pattern_rt_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_pattern_rt_serve_here(cf,
                                          ngx_http_pattern_rt_metrics_handler);
}


static ngx_int_t
ngx_http_pattern_rt_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    prt_error_t                       err;
    ngx_pool_cleanup_t               *cln;
    ngx_http_pattern_rt_ctx_t        *ctx;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return ngx_http_pattern_rt_send_status(r,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          "discarding the request body");
        }
        return ngx_http_pattern_rt_send_error(r, PRT_E_METHOD,
                                   "method not allowed on this path", NULL);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return ngx_http_pattern_rt_send_status(r, rc,
                                          "discarding the request body");
    }

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);

    if (pmcf->engine == NULL || pmcf->engine->state
                                != NGX_HTTP_PATTERN_RT_UP)
    {
        return ngx_http_pattern_rt_send_status(r,
                   ngx_http_pattern_rt_metrics_send(r, NULL, 0, 0),
                   "rendering the metrics");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_pattern_rt_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return ngx_http_pattern_rt_send_status(r,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          "out of memory for the context");
    }

    /*
     * keep: done() is called whatever happens (answer, timeout, engine
     * gone), so the scrape gets the workers' counters with engine_up 0
     * instead of an error; the answer is then on the heap and the call
     * must be forgotten if the client goes first (the cleanup).
     */
    ctx->request = r;
    ctx->keep = 1;
    ctx->done = ngx_http_pattern_rt_metrics_done;
    ngx_http_set_ctx(r, ctx, ngx_http_pattern_rt_module);

    err = ngx_http_pattern_rt_engine_send(r, ctx, PRT_MSG_METRICS, NULL, 0);
    if (err != PRT_OK) {
        return ngx_http_pattern_rt_send_status(r,
                   ngx_http_pattern_rt_metrics_send(r, NULL, 0, 0),
                   "rendering the metrics");
    }

    cln->handler = ngx_http_pattern_rt_metrics_cleanup;
    cln->data = ctx;

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_pattern_rt_metrics_cleanup(void *data)
{
    ngx_http_pattern_rt_ctx_t  *ctx = data;

    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(ctx->request,
                                         ngx_http_pattern_rt_module);
    if (pmcf->engine) {
        ngx_http_pattern_rt_engine_forget(pmcf->engine, ctx);
    }
}


static ngx_int_t
ngx_http_pattern_rt_metrics_done(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    ngx_int_t                         rc;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    if (ctx->status == 200 && ctx->body) {
        rc = ngx_http_pattern_rt_metrics_send(r, ctx->body, ctx->body_len, 1);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "pattern_rt: /metrics without the engine's part "
                      "(status %ui)", ctx->status);
        rc = ngx_http_pattern_rt_metrics_send(r, NULL, 0, 0);
    }

    /* the answer was copied: the heap copy goes now */
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    if (pmcf->engine) {
        ngx_http_pattern_rt_engine_forget(pmcf->engine, ctx);
    }

    ngx_http_pattern_rt_finish(r, ngx_http_pattern_rt_send_status(r, rc,
                                                 "rendering the metrics"));

    return NGX_OK;
}


/* ---- rendering ------------------------------------------------------- */


typedef struct {
    const char  *name;
    const char  *type;
    const char  *help;
    size_t       offset;        /* in ngx_http_pattern_rt_wmetrics_t */
} ngx_http_pattern_rt_wfamily_t;

#define WF(name, type, field, help)                                          \
    { "pattern_rt_" name, type, help,                                        \
      offsetof(ngx_http_pattern_rt_wmetrics_t, field) }

static const ngx_http_pattern_rt_wfamily_t  ngx_http_pattern_rt_wfamilies[] = {
    WF("worker_engine_connected", "gauge", engine_connected,
       "1 when this nginx worker is connected to the engine"),
    WF("worker_pending_requests", "gauge", pending,
       "requests this worker has waiting on the engine"),
    WF("worker_engine_connects_total", "counter", connects,
       "connections to the engine made by this worker"),
    WF("worker_engine_disconnects_total", "counter", disconnects,
       "connections to the engine this worker lost"),
    WF("worker_busy_total", "counter", busy,
       "requests refused with E_BUSY (ring full or too many pending)"),
    WF("worker_timeouts_total", "counter", timeouts,
       "engine requests that timed out (E_TIMEOUT)"),
    WF("worker_broadcast_laps_total", "counter", bcast_laps,
       "times this worker was lapped by the broadcast log"),
    WF("ws_connections", "gauge", ws_connections,
       "open WebSocket connections"),
    WF("ws_accepted_total", "counter", ws_accepted,
       "WebSocket connections accepted"),
    WF("ws_refused_total", "counter", ws_refused,
       "WebSocket connections refused (pattern_rt_ws_max_connections)"),
    WF("ws_slow_closes_total", "counter", ws_slow_closed,
       "WebSocket connections closed for not reading (1008)"),
    WF("ws_events_total", "counter", ws_events,
       "broadcast events this worker handled for its WebSocket clients"),
    WF("ws_frames_queued_total", "counter", ws_frames_queued,
       "WebSocket frames queued for sending"),
};

#undef WF

#define NGX_HTTP_PATTERN_RT_NWFAMILIES                                      \
    (sizeof(ngx_http_pattern_rt_wfamilies)                                  \
     / sizeof(ngx_http_pattern_rt_wfamilies[0]))


static uint64_t
ngx_http_pattern_rt_load(const void *base, size_t offset)
{
    return __atomic_load_n((const uint64_t *) ((const u_char *) base
                                               + offset), __ATOMIC_RELAXED);
}


/* The bytes the module's part can take at most (sized exactly from the
 * tables: every line's longest form). */
static size_t
ngx_http_pattern_rt_metrics_size(ngx_uint_t nworkers)
{
    size_t      size, line;
    ngx_uint_t  i;

    size = 256;                               /* engine_up */

    for (i = 0; i < NGX_HTTP_PATTERN_RT_NWFAMILIES; i++) {
        line = ngx_strlen(ngx_http_pattern_rt_wfamilies[i].name);
        size += 2 * line + ngx_strlen(ngx_http_pattern_rt_wfamilies[i].help)
                + sizeof("# HELP  \n# TYPE  counter\n");
        size += nworkers * (line + sizeof("{worker=\"\"} \n")
                            + 2 * NGX_INT64_LEN);
    }

    size += 512;                              /* the histogram's HELP/TYPE */

    for (i = 0; i < ngx_http_pattern_rt_nlabels; i++) {
        line = sizeof("pattern_rt_http_request_duration_seconds_bucket"
                      "{route=\"\",le=\"0.0025\"} \n")
               + ngx_http_pattern_rt_labels[i].len + NGX_INT64_LEN;
        size += (NGX_HTTP_PATTERN_RT_METRICS_NB + 3) * line
                + 2 * NGX_INT64_LEN;
    }

    return size;
}


static u_char *
ngx_http_pattern_rt_metrics_render(u_char *p,
    ngx_http_pattern_rt_wmetrics_t *blocks, ngx_uint_t nworkers)
{
    ngx_uint_t                            f, w, l, b;
    uint64_t                              cum, sum_ms;
    const ngx_http_pattern_rt_wfamily_t  *fam;

    for (f = 0; f < NGX_HTTP_PATTERN_RT_NWFAMILIES; f++) {
        fam = &ngx_http_pattern_rt_wfamilies[f];

        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n", fam->name,
                        fam->help, fam->name, fam->type);

        for (w = 0; w < nworkers; w++) {
            if (ngx_http_pattern_rt_load(&blocks[w], 0) == 0) {
                continue;                     /* never started */
            }

            p = ngx_sprintf(p, "%s{worker=\"%ui\"} %uL\n", fam->name, w,
                            ngx_http_pattern_rt_load(&blocks[w],
                                                     fam->offset));
        }
    }

    p = ngx_sprintf(p, "# HELP pattern_rt_http_request_duration_seconds "
                    "API requests from arrival to the end of the answer, "
                    "by route, all workers\n"
                    "# TYPE pattern_rt_http_request_duration_seconds "
                    "histogram\n");

    for (l = 0; l < ngx_http_pattern_rt_nlabels; l++) {
        cum = 0;
        sum_ms = 0;

        for (b = 0; b <= NGX_HTTP_PATTERN_RT_METRICS_NB; b++) {
            for (w = 0; w < nworkers; w++) {
                cum += ngx_http_pattern_rt_load(&blocks[w],
                           offsetof(ngx_http_pattern_rt_wmetrics_t, lat)
                           + (l * (NGX_HTTP_PATTERN_RT_METRICS_NB + 1) + b)
                             * sizeof(uint64_t));
            }

            p = ngx_sprintf(p, "pattern_rt_http_request_duration_seconds_"
                            "bucket{route=\"%V\",le=\"%s\"} %uL\n",
                            &ngx_http_pattern_rt_labels[l],
                            b < NGX_HTTP_PATTERN_RT_METRICS_NB
                            ? ngx_http_pattern_rt_lat_le[b] : "+Inf",
                            cum);
        }

        for (w = 0; w < nworkers; w++) {
            sum_ms += ngx_http_pattern_rt_load(&blocks[w],
                          offsetof(ngx_http_pattern_rt_wmetrics_t, lat_sum_ms)
                          + l * sizeof(uint64_t));
        }

        p = ngx_sprintf(p, "pattern_rt_http_request_duration_seconds_sum"
                        "{route=\"%V\"} %uL.%03uL\n"
                        "pattern_rt_http_request_duration_seconds_count"
                        "{route=\"%V\"} %uL\n",
                        &ngx_http_pattern_rt_labels[l], sum_ms / 1000,
                        sum_ms % 1000, &ngx_http_pattern_rt_labels[l], cum);
    }

    return p;
}


static ngx_int_t
ngx_http_pattern_rt_metrics_send(ngx_http_request_t *r, const u_char *engine,
    size_t engine_len, ngx_uint_t engine_up)
{
    size_t                            len;
    u_char                           *body, *p;
    ngx_uint_t                        nworkers;
    ngx_core_conf_t                  *ccf;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);

    nworkers = (ccf->master && ccf->worker_processes > 0)
               ? (ngx_uint_t) ccf->worker_processes : 1;
    nworkers = ngx_min(nworkers, NGX_HTTP_PATTERN_RT_METRICS_WORKERS);

    /* this worker's own counters are exact, the others' at most a second
     * old */
    ngx_http_pattern_rt_metrics_sync();

    len = engine_len + (pmcf->metrics
                        ? ngx_http_pattern_rt_metrics_size(nworkers) : 256);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, engine, engine_len);

    p = ngx_sprintf(p, "# HELP pattern_rt_engine_up 1 when the engine "
                    "answered this scrape\n"
                    "# TYPE pattern_rt_engine_up gauge\n"
                    "pattern_rt_engine_up %ui\n", engine_up);

    if (pmcf->metrics) {
        p = ngx_http_pattern_rt_metrics_render(p, pmcf->metrics, nworkers);
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = p - body;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    return ngx_http_pattern_rt_send_body(r, body, p - body);
}
