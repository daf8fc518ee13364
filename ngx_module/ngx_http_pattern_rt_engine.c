/*
 * Pattern Real-Time nginx module: this worker's connection to the engine.
 *
 *   DOWN --connect()--> CONNECTING --hello + memfd--> UP --EOF/error--> DOWN
 *
 * Everything is non-blocking and driven by nginx events: the unix socket's
 * read event carries the hello, the doorbells and the engine's death (EOF).
 * While DOWN, requests fail at once with 503 E_ENGINE_DOWN and a timer
 * retries the connection with exponential backoff.
 */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ngx_http_pattern_rt_module.h"


#define NGX_HTTP_PATTERN_RT_BACKOFF_MIN  50


static void ngx_http_pattern_rt_connect(ngx_http_pattern_rt_engine_t *eng);
static void ngx_http_pattern_rt_reconnect_handler(ngx_event_t *ev);
static void ngx_http_pattern_rt_read_handler(ngx_event_t *rev);
static void ngx_http_pattern_rt_dummy_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_pattern_rt_recv_hello(
    ngx_http_pattern_rt_engine_t *eng);
static ngx_int_t ngx_http_pattern_rt_attach(ngx_http_pattern_rt_engine_t *eng,
    prt_hello_t *hello, int fd);
static void ngx_http_pattern_rt_down(ngx_http_pattern_rt_engine_t *eng,
    const char *why);
static void ngx_http_pattern_rt_close(ngx_http_pattern_rt_engine_t *eng);
static void ngx_http_pattern_rt_read_responses(
    ngx_http_pattern_rt_engine_t *eng);
static void ngx_http_pattern_rt_read_events(ngx_http_pattern_rt_engine_t *eng);
static void ngx_http_pattern_rt_timeout_handler(ngx_event_t *ev);
static void ngx_http_pattern_rt_release_id(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ctx_t *ctx);
static void ngx_http_pattern_rt_cleanup(void *data);
static void ngx_http_pattern_rt_bell(ngx_http_pattern_rt_engine_t *eng,
    u_char bell);
static void ngx_http_pattern_rt_send_held(ngx_http_pattern_rt_engine_t *eng);
static void ngx_http_pattern_rt_fail(ngx_http_pattern_rt_ctx_t *ctx,
    prt_error_t err, const char *message);


ngx_int_t
ngx_http_pattern_rt_engine_init(ngx_cycle_t *cycle,
    ngx_http_pattern_rt_main_conf_t *pmcf)
{
    ngx_uint_t                     i;
    ngx_http_pattern_rt_engine_t  *eng;

    eng = ngx_pcalloc(cycle->pool, sizeof(ngx_http_pattern_rt_engine_t));
    if (eng == NULL) {
        return NGX_ERROR;
    }

    eng->conf = pmcf;
    eng->log = cycle->log;

    eng->pending = ngx_pcalloc(cycle->pool, pmcf->max_pending
                                   * sizeof(ngx_http_pattern_rt_ctx_t *));
    eng->free_ids = ngx_palloc(cycle->pool,
                               pmcf->max_pending * sizeof(uint32_t));
    if (eng->pending == NULL || eng->free_ids == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < pmcf->max_pending; i++) {
        eng->free_ids[i] = (uint32_t) (pmcf->max_pending - 1 - i);
    }
    eng->nfree = pmcf->max_pending;

    ngx_queue_init(&eng->held);

    if (pmcf->job_cache) {
        eng->cache = ngx_http_pattern_rt_cache_create(pmcf->job_cache,
                                                      pmcf->job_cache_valid,
                                                      cycle->log);
        if (eng->cache == NULL) {
            return NGX_ERROR;
        }
    }

    eng->reconnect.handler = ngx_http_pattern_rt_reconnect_handler;
    eng->reconnect.data = eng;
    eng->reconnect.log = cycle->log;
    eng->reconnect.cancelable = 1;    /* never delays a graceful exit */

    pmcf->engine = eng;

    ngx_http_pattern_rt_connect(eng);

    return NGX_OK;
}


void
ngx_http_pattern_rt_engine_exit(ngx_http_pattern_rt_engine_t *eng)
{
    if (eng->reconnect.timer_set) {
        ngx_del_timer(&eng->reconnect);
    }

    if (eng->state != NGX_HTTP_PATTERN_RT_DOWN) {
        ngx_http_pattern_rt_close(eng);
    }
}


static void
ngx_http_pattern_rt_schedule_reconnect(ngx_http_pattern_rt_engine_t *eng)
{
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    eng->backoff = eng->backoff ? ngx_min(eng->backoff * 2,
                                          eng->conf->reconnect_max)
                                : NGX_HTTP_PATTERN_RT_BACKOFF_MIN;

    ngx_add_timer(&eng->reconnect, eng->backoff);
}


static void
ngx_http_pattern_rt_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_pattern_rt_connect(ev->data);
}


static void
ngx_http_pattern_rt_connect(ngx_http_pattern_rt_engine_t *eng)
{
    int                  fd;
    ngx_str_t           *path;
    ngx_uint_t           level;
    ngx_connection_t    *c;
    struct sockaddr_un   sa;

    path = &eng->conf->engine_path;

    if (path->len >= sizeof(sa.sun_path)) {
        ngx_log_error(NGX_LOG_EMERG, eng->log, 0,
                      "pattern_rt: engine socket path \"%V\" is too long",
                      path);
        return;
    }

    ngx_memzero(&sa, sizeof(struct sockaddr_un));
    sa.sun_family = AF_UNIX;
    ngx_memcpy(sa.sun_path, path->data, path->len);

    fd = socket(AF_UNIX, SOCK_SEQPACKET|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ALERT, eng->log, ngx_socket_errno,
                      "pattern_rt: socket() failed");
        ngx_http_pattern_rt_schedule_reconnect(eng);
        return;
    }

    /* a unix socket connects at once or fails at once */
    if (connect(fd, (struct sockaddr *) &sa, sizeof(struct sockaddr_un))
        == -1)
    {
        level = eng->connects ? NGX_LOG_WARN : NGX_LOG_INFO;
        ngx_log_error(level, eng->log, ngx_socket_errno,
                      "pattern_rt: engine at \"%V\" not reachable, "
                      "retrying in %M ms", path,
                      eng->backoff ? ngx_min(eng->backoff * 2,
                                             eng->conf->reconnect_max)
                                   : NGX_HTTP_PATTERN_RT_BACKOFF_MIN);
        close(fd);
        ngx_http_pattern_rt_schedule_reconnect(eng);
        return;
    }

    c = ngx_get_connection(fd, eng->log);
    if (c == NULL) {
        close(fd);
        ngx_http_pattern_rt_schedule_reconnect(eng);
        return;
    }

    c->data = eng;
    c->read->handler = ngx_http_pattern_rt_read_handler;
    c->write->handler = ngx_http_pattern_rt_dummy_handler;
    c->read->log = eng->log;
    c->write->log = eng->log;

    eng->connection = c;
    eng->state = NGX_HTTP_PATTERN_RT_CONNECTING;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_pattern_rt_down(eng, "adding the read event failed");
        return;
    }

    /* the hello may already be there */
    ngx_http_pattern_rt_read_handler(c->read);
}


static void
ngx_http_pattern_rt_dummy_handler(ngx_event_t *ev)
{
}


static void
ngx_http_pattern_rt_read_handler(ngx_event_t *rev)
{
    u_char                         bells[256];
    ssize_t                        n;
    ngx_connection_t              *c;
    ngx_http_pattern_rt_engine_t  *eng;

    c = rev->data;
    eng = c->data;

    if (eng->state == NGX_HTTP_PATTERN_RT_CONNECTING) {
        if (ngx_http_pattern_rt_recv_hello(eng) != NGX_OK) {
            return;
        }
    }

    for ( ;; ) {
        n = recv(c->fd, bells, sizeof(bells), 0);

        if (n > 0) {
            continue;
        }

        if (n == 0) {
            ngx_http_pattern_rt_down(eng, "engine closed the connection");
            return;
        }

        if (ngx_socket_errno == NGX_EAGAIN) {
            break;
        }

        if (ngx_socket_errno != NGX_EINTR) {
            ngx_log_error(NGX_LOG_ERR, eng->log, ngx_socket_errno,
                          "pattern_rt: engine socket recv() failed");
            ngx_http_pattern_rt_down(eng, "socket error");
            return;
        }
    }

    if (eng->state != NGX_HTTP_PATTERN_RT_UP) {
        return;
    }

    ngx_http_pattern_rt_read_responses(eng);

    if (eng->state == NGX_HTTP_PATTERN_RT_UP) {
        ngx_http_pattern_rt_read_events(eng);
    }

    /* either may have found the engine gone and closed the connection */
    if (eng->state != NGX_HTTP_PATTERN_RT_UP) {
        return;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_pattern_rt_down(eng, "read event failed");
    }
}


/* ---- hello: the shared memory arrives -------------------------------- */


static ngx_int_t
ngx_http_pattern_rt_recv_hello(ngx_http_pattern_rt_engine_t *eng)
{
    int              fd;
    ssize_t          n;
    prt_hello_t      hello;
    struct iovec     iov;
    struct msghdr    msg;
    struct cmsghdr  *cmsg;
    u_char           cbuf[CMSG_SPACE(sizeof(int))];

    iov.iov_base = &hello;
    iov.iov_len = sizeof(prt_hello_t);

    ngx_memzero(&msg, sizeof(struct msghdr));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);

    n = recvmsg(eng->connection->fd, &msg, MSG_CMSG_CLOEXEC);

    if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
        return NGX_AGAIN;
    }

    if (n == 0) {
        ngx_http_pattern_rt_down(eng, "engine refused the connection "
                                 "(all worker slots in use?)");
        return NGX_ERROR;
    }

    fd = -1;
    cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg && cmsg->cmsg_level == SOL_SOCKET
        && cmsg->cmsg_type == SCM_RIGHTS
        && cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
    {
        ngx_memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
    }

    if (n != sizeof(prt_hello_t) || fd == -1
        || (msg.msg_flags & (MSG_TRUNC|MSG_CTRUNC)))
    {
        if (fd != -1) {
            close(fd);
        }
        ngx_http_pattern_rt_down(eng, "malformed hello from the engine");
        return NGX_ERROR;
    }

    if (ngx_http_pattern_rt_attach(eng, &hello, fd) != NGX_OK) {
        close(fd);
        ngx_http_pattern_rt_down(eng, "engine shared memory rejected");
        return NGX_ERROR;
    }

    close(fd);                    /* the mapping stays */

    ngx_http_pattern_rt_send_held(eng);
    return NGX_OK;
}


static ngx_int_t
ngx_http_pattern_rt_map(ngx_http_pattern_rt_engine_t *eng, prt_hello_t *hello,
    int fd)
{
    struct stat  st;

    if (hello->magic != PRT_HELLO_MAGIC || hello->version != PRT_IPC_VERSION) {
        ngx_log_error(NGX_LOG_ALERT, eng->log, 0,
                      "pattern_rt: engine speaks IPC version %uD, "
                      "this module %d", hello->version, PRT_IPC_VERSION);
        return NGX_ERROR;
    }

    if (fstat(fd, &st) == -1 || (uint64_t) st.st_size < hello->shm_size
        || hello->shm_size < sizeof(prt_shm_header_t))
    {
        return NGX_ERROR;
    }

    eng->shm = mmap(NULL, hello->shm_size, PROT_READ|PROT_WRITE, MAP_SHARED,
                    fd, 0);
    if (eng->shm == MAP_FAILED) {
        eng->shm = NULL;
        ngx_log_error(NGX_LOG_ALERT, eng->log, ngx_errno,
                      "pattern_rt: mmap() of the engine memory failed");
        return NGX_ERROR;
    }

    eng->shm_size = hello->shm_size;
    return NGX_OK;
}


static ngx_int_t
ngx_http_pattern_rt_attach(ngx_http_pattern_rt_engine_t *eng,
    prt_hello_t *hello, int fd)
{
    uint64_t           slots_end;
    prt_shm_header_t  *h;

    if (ngx_http_pattern_rt_map(eng, hello, fd) != NGX_OK) {
        return NGX_ERROR;
    }

    h = (prt_shm_header_t *) eng->shm;

    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != PRT_SHM_MAGIC
        || h->version != PRT_IPC_VERSION
        || h->epoch != hello->epoch
        || h->total_size != hello->shm_size
        || h->slot_size != sizeof(prt_slot_t)
        || hello->slot >= h->max_slots
        || h->slots_offset % PRT_CACHE_LINE != 0
        || h->bcast_offset % PRT_CACHE_LINE != 0
        || h->bcast_offset > eng->shm_size - sizeof(prt_bcast_t))
    {
        return NGX_ERROR;
    }

    slots_end = h->slots_offset + (uint64_t) h->max_slots * sizeof(prt_slot_t);
    if (h->slots_offset > eng->shm_size || slots_end > eng->shm_size) {
        return NGX_ERROR;
    }

    eng->slot = (prt_slot_t *) (eng->shm + h->slots_offset) + hello->slot;

    if (prt_ring_attach(&eng->req, eng->shm, eng->shm_size, &eng->slot->req, 1)
        != 0
        || prt_ring_attach(&eng->resp, eng->shm, eng->shm_size,
                           &eng->slot->resp, 0) != 0
        || prt_bcast_attach(&eng->bcast, eng->shm, eng->shm_size,
                            (prt_bcast_t *) (eng->shm + h->bcast_offset)) != 0)
    {
        return NGX_ERROR;
    }

    if (eng->event_cap < prt_ring_max_payload(eng->bcast.size)) {
        eng->event_cap = prt_ring_max_payload(eng->bcast.size);
        eng->event_buf = ngx_alloc(eng->event_cap, eng->log);
        if (eng->event_buf == NULL) {
            eng->event_cap = 0;
            return NGX_ERROR;
        }
    }

    eng->epoch = hello->epoch;
    eng->slot_index = hello->slot;
    eng->state = NGX_HTTP_PATTERN_RT_UP;
    eng->backoff = 0;
    eng->connected_at = ngx_current_msec;
    eng->connects++;

    ngx_log_error(NGX_LOG_NOTICE, eng->log, 0,
                  "pattern_rt: connected to engine pid %D epoch %016uxL "
                  "slot %uD", h->engine_pid, eng->epoch, eng->slot_index);

    eng->event_len = 0;
    ngx_http_pattern_rt_cache_clear(eng->cache);
    if (eng->connects > 1) {
        ngx_http_pattern_rt_ws_lost_events(eng, "the engine restarted: "
                                           "refetch over REST");
    }

    return NGX_OK;
}


/* ---- engine gone ----------------------------------------------------- */


static void
ngx_http_pattern_rt_fail_pending(ngx_http_pattern_rt_engine_t *eng)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_pattern_rt_ctx_t  *ctx;

    for (i = 0; i < eng->conf->max_pending; i++) {
        ctx = eng->pending[i];
        if (ctx == NULL) {
            continue;
        }

        ngx_http_pattern_rt_release_id(eng, ctx);
        ngx_http_pattern_rt_fail(ctx, PRT_E_ENGINE_DOWN,
                                 "engine is not running");
    }

    while (!ngx_queue_empty(&eng->held)) {
        q = ngx_queue_head(&eng->held);
        ctx = ngx_queue_data(q, ngx_http_pattern_rt_ctx_t, held_link);

        ngx_http_pattern_rt_release_id(eng, ctx);
        ngx_http_pattern_rt_fail(ctx, PRT_E_ENGINE_DOWN,
                                 "engine is not running");
    }
}


/* Releases the connection and the mapping; pending requests fail. */
static void
ngx_http_pattern_rt_close(ngx_http_pattern_rt_engine_t *eng)
{
    if (eng->connection) {
        ngx_close_connection(eng->connection);
        eng->connection = NULL;
    }

    if (eng->shm) {
        munmap(eng->shm, eng->shm_size);
        eng->shm = NULL;
        eng->slot = NULL;
    }

    if (eng->state == NGX_HTTP_PATTERN_RT_UP) {
        eng->disconnects++;
    }

    eng->state = NGX_HTTP_PATTERN_RT_DOWN;

    /* what happens to the jobs meanwhile is not seen */
    ngx_http_pattern_rt_cache_clear(eng->cache);

    ngx_http_pattern_rt_fail_pending(eng);
}


static void
ngx_http_pattern_rt_down(ngx_http_pattern_rt_engine_t *eng, const char *why)
{
    ngx_uint_t  level;

    level = (eng->state == NGX_HTTP_PATTERN_RT_UP) ? NGX_LOG_ERR
                                                    : NGX_LOG_WARN;

    ngx_log_error(level, eng->log, 0,
                  "pattern_rt: engine connection lost: %s", why);

    ngx_http_pattern_rt_close(eng);
    ngx_http_pattern_rt_schedule_reconnect(eng);
}


/* ---- requests -------------------------------------------------------- */


static void
ngx_http_pattern_rt_bell(ngx_http_pattern_rt_engine_t *eng, u_char bell)
{
    /* EAGAIN: bells are queued already, the engine will wake */
    if (send(eng->connection->fd, &bell, 1, MSG_DONTWAIT|MSG_NOSIGNAL) == -1
        && ngx_socket_errno != NGX_EAGAIN)
    {
        ngx_log_error(NGX_LOG_INFO, eng->log, ngx_socket_errno,
                      "pattern_rt: doorbell send() failed");
    }
}


static prt_error_t
ngx_http_pattern_rt_write(ngx_http_pattern_rt_engine_t *eng, uint16_t type,
    uint32_t id, const u_char *p, size_t len)
{
    int       wake, woke, rc;
    size_t    chunk, max;
    uint16_t  flags;

    /* all fragments go in at once or the request is refused: the engine
     * reassembles one message at a time per worker */
    if (!prt_ring_fits(&eng->req, len)) {
        eng->req.ctl->full++;
        return PRT_E_BUSY;
    }

    max = prt_ring_max_payload(eng->req.size);
    wake = 0;

    do {
        chunk = ngx_min(len, max);
        flags = (chunk < len) ? PRT_REC_MORE : 0;

        rc = prt_ring_write(&eng->req, type, flags, id, p, (uint32_t) chunk,
                            &woke);
        if (rc != PRT_RING_OK) {
            return rc == PRT_RING_FULL ? PRT_E_BUSY : PRT_E_ENGINE_DOWN;
        }

        /* only the first fragment can find the engine caught up */
        wake |= woke;
        p += chunk;
        len -= chunk;

    } while (len);

    if (wake) {
        ngx_http_pattern_rt_bell(eng, PRT_BELL_REQ);
    }

    return PRT_OK;
}


/* Writes the request and registers it under a new id. */
static prt_error_t
ngx_http_pattern_rt_submit(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ctx_t *ctx, uint16_t type, const void *payload,
    size_t len)
{
    uint32_t     index, id;
    prt_error_t  err;

    if (eng->nfree == 0) {
        eng->busy++;
        eng->slot->busy++;
        return PRT_E_BUSY;
    }

    index = eng->free_ids[eng->nfree - 1];
    id = (++eng->generation << 16) | index;

    err = ngx_http_pattern_rt_write(eng, type, id, payload, len);
    if (err != PRT_OK) {
        if (err == PRT_E_BUSY) {
            eng->busy++;
            eng->slot->busy++;
        }
        return err;
    }

    eng->nfree--;
    eng->pending[index] = ctx;
    eng->npending++;
    ctx->id = id;
    ctx->waiting = 1;

    return PRT_OK;
}


/*
 * The connection is up but the engine's hello has not arrived (the first
 * milliseconds of a worker, after a reload or an engine restart): the
 * request waits for it, bounded, under its own timeout, instead of being
 * refused.
 */
static prt_error_t
ngx_http_pattern_rt_hold(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ctx_t *ctx, uint16_t type, const void *payload,
    size_t len)
{
    if (eng->nheld >= eng->conf->max_pending) {
        eng->busy++;
        return PRT_E_BUSY;
    }

    ctx->held_payload = ctx->keep ? ngx_alloc(len + 1, eng->log)
                                  : ngx_pnalloc(ctx->request->pool, len + 1);
    if (ctx->held_payload == NULL) {
        return PRT_E_INTERNAL;
    }

    ngx_memcpy(ctx->held_payload, payload, len);
    ctx->held_len = len;
    ctx->held_type = type;
    ctx->held = 1;
    ngx_queue_insert_tail(&eng->held, &ctx->held_link);
    eng->nheld++;

    return PRT_OK;
}


static void
ngx_http_pattern_rt_unhold(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    if (!ctx->held) {
        return;
    }

    ngx_queue_remove(&ctx->held_link);
    eng->nheld--;
    ctx->held = 0;

    if (ctx->keep) {
        ngx_free(ctx->held_payload);
    }
    ctx->held_payload = NULL;
}


/* A held or sent request that ends without an answer from the engine. */
static void
ngx_http_pattern_rt_fail(ngx_http_pattern_rt_ctx_t *ctx, prt_error_t err,
    const char *message)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ctx->keep) {
        ctx->status = prt_error_status(err);
        ctx->body_len = 0;
        (void) ctx->done(r, ctx);
        return;
    }

    ngx_http_pattern_rt_finish(r,
        ngx_http_pattern_rt_send_error(r, err, message, NULL));
}


/* The hello arrived: the held requests go out, in order. */
static void
ngx_http_pattern_rt_send_held(ngx_http_pattern_rt_engine_t *eng)
{
    u_char                     *payload;
    size_t                      len;
    uint16_t                    type;
    ngx_queue_t                *q;
    prt_error_t                 err;
    ngx_http_pattern_rt_ctx_t  *ctx;

    while (!ngx_queue_empty(&eng->held)) {
        q = ngx_queue_head(&eng->held);
        ctx = ngx_queue_data(q, ngx_http_pattern_rt_ctx_t, held_link);

        payload = ctx->held_payload;
        len = ctx->held_len;
        type = ctx->held_type;

        ngx_queue_remove(q);
        eng->nheld--;
        ctx->held = 0;

        err = ngx_http_pattern_rt_submit(eng, ctx, type, payload, len);

        if (ctx->keep) {
            ngx_free(payload);
        }
        ctx->held_payload = NULL;

        if (err != PRT_OK) {
            if (ctx->timeout.timer_set) {
                ngx_del_timer(&ctx->timeout);
            }
            ngx_http_pattern_rt_fail(ctx, err, "engine request queue is "
                                     "full");
        }
    }
}


prt_error_t
ngx_http_pattern_rt_engine_send(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, uint16_t type, const void *payload,
    size_t len)
{
    prt_error_t                       err;
    ngx_pool_cleanup_t               *cln;
    ngx_http_pattern_rt_engine_t     *eng;
    ngx_http_pattern_rt_loc_conf_t   *plcf;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);
    eng = pmcf->engine;

    if (eng == NULL || eng->state == NGX_HTTP_PATTERN_RT_DOWN) {
        return PRT_E_ENGINE_DOWN;
    }

    /* a WebSocket call outlives nothing: its connection forgets it */
    cln = NULL;
    if (!ctx->keep) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return PRT_E_INTERNAL;
        }
    }

    err = (eng->state == NGX_HTTP_PATTERN_RT_CONNECTING)
          ? ngx_http_pattern_rt_hold(eng, ctx, type, payload, len)
          : ngx_http_pattern_rt_submit(eng, ctx, type, payload, len);
    if (err != PRT_OK) {
        return err;
    }

    if (cln) {
        cln->handler = ngx_http_pattern_rt_cleanup;
        cln->data = ctx;
    }

    ctx->timeout.handler = ngx_http_pattern_rt_timeout_handler;
    ctx->timeout.data = ctx;
    ctx->timeout.log = r->connection->log;
    ngx_add_timer(&ctx->timeout, plcf->timeout);

    return PRT_OK;
}


static void
ngx_http_pattern_rt_release_id(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    uint32_t  index;

    if (ctx->held) {
        ngx_http_pattern_rt_unhold(eng, ctx);

        if (ctx->timeout.timer_set) {
            ngx_del_timer(&ctx->timeout);
        }
        return;
    }

    if (!ctx->waiting) {
        return;
    }

    index = ctx->id & 0xffff;

    eng->pending[index] = NULL;
    eng->free_ids[eng->nfree++] = index;
    eng->npending--;
    ctx->waiting = 0;

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }
}


void
ngx_http_pattern_rt_engine_forget(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    ngx_http_pattern_rt_release_id(eng, ctx);

    if (ctx->keep && ctx->body) {
        ngx_free(ctx->body);
        ctx->body = NULL;
    }
}


/* The request went away (client closed, worker exits) before its answer. */
static void
ngx_http_pattern_rt_cleanup(void *data)
{
    ngx_http_pattern_rt_ctx_t  *ctx = data;

    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(ctx->request,
                                         ngx_http_pattern_rt_module);

    ngx_http_pattern_rt_release_id(pmcf->engine, ctx);
}


static void
ngx_http_pattern_rt_timeout_handler(ngx_event_t *ev)
{
    ngx_http_request_t               *r;
    ngx_http_pattern_rt_ctx_t        *ctx;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    ctx = ev->data;
    r = ctx->request;
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "pattern_rt: engine did not answer request %08xD in time",
                  ctx->id);

    pmcf->engine->timeouts++;
    if (pmcf->engine->slot) {
        pmcf->engine->slot->timeouts++;
    }

    ngx_http_pattern_rt_release_id(pmcf->engine, ctx);
    ngx_http_pattern_rt_fail(ctx, PRT_E_TIMEOUT,
                             "engine did not answer in time");
}


/* ---- responses ------------------------------------------------------- */


/* Returns NGX_OK when the whole body is in, NGX_AGAIN for more fragments. */
static ngx_int_t
ngx_http_pattern_rt_take_fragment(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ctx_t *ctx, prt_rec_t *rec, const u_char *p)
{
    size_t           len;
    prt_resp_hdr_t   hdr;

    len = rec->len;

    if (ctx->body == NULL && ctx->status == 0) {
        if (len < sizeof(prt_resp_hdr_t)) {
            return NGX_ERROR;
        }

        ngx_memcpy(&hdr, p, sizeof(prt_resp_hdr_t));
        p += sizeof(prt_resp_hdr_t);
        len -= sizeof(prt_resp_hdr_t);

        if (hdr.status < 200 || hdr.status > 599
            || hdr.body_len > eng->conf->max_response)
        {
            return NGX_ERROR;
        }

        ctx->status = hdr.status;
        ctx->resp_flags = hdr.flags;
        ctx->body_len = hdr.body_len;
        /* a WebSocket call's answer is used and dropped at once: from the
         * heap, not the long-lived connection's pool */
        ctx->body = ctx->keep ? ngx_alloc(hdr.body_len + 1, eng->log)
                              : ngx_pnalloc(ctx->request->pool,
                                            hdr.body_len + 1);
        if (ctx->body == NULL) {
            return NGX_ERROR;
        }
    }

    if (len > ctx->body_len - ctx->body_got) {
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->body + ctx->body_got, p, len);
    ctx->body_got += len;

    if (rec->flags & PRT_REC_MORE) {
        return NGX_AGAIN;
    }

    return (ctx->body_got == ctx->body_len) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_pattern_rt_deliver(ngx_http_pattern_rt_engine_t *eng,
    prt_rec_t *rec, const u_char *p)
{
    ngx_int_t                   rc;
    ngx_http_request_t         *r;
    ngx_http_pattern_rt_ctx_t  *ctx;

    ctx = eng->pending[rec->id & 0xffff];

    if (ctx == NULL || ctx->id != rec->id) {
        return;                   /* timed out or went away meanwhile */
    }

    r = ctx->request;

    rc = ngx_http_pattern_rt_take_fragment(eng, ctx, rec, p);
    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_pattern_rt_release_id(eng, ctx);

    if (ctx->keep) {
        if (rc != NGX_OK) {
            ctx->status = 500;
            ctx->body_len = 0;
        }
        (void) ctx->done(r, ctx);
        return;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "pattern_rt: malformed response from the engine");
        ngx_http_pattern_rt_finish(r,
            ngx_http_pattern_rt_send_error(r, PRT_E_INTERNAL,
                                           "malformed engine response", NULL));
        return;
    }

    ctx->body[ctx->body_len] = '\0';

    if (ctx->status == NGX_HTTP_INTERNAL_SERVER_ERROR) {
        /* the engine answers E_INTERNAL with a generic text already; this
         * keeps whatever it said in the log should that ever change */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "pattern_rt: the engine answered 500: %*s",
                      ngx_min(ctx->body_len, 512), ctx->body);
        ngx_http_pattern_rt_finish(r,
            ngx_http_pattern_rt_send_error(r, PRT_E_INTERNAL,
                                           "engine internal error", NULL));
        return;
    }

    rc = ctx->done ? ctx->done(r, ctx)
                   : ngx_http_pattern_rt_send_json(r, ctx->status, ctx->body,
                                                   ctx->body_len);

    ngx_http_pattern_rt_finish(r, ngx_http_pattern_rt_send_status(r, rc,
                                        "answering the engine's response"));
}


static void
ngx_http_pattern_rt_read_responses(ngx_http_pattern_rt_engine_t *eng)
{
    int              rc;
    prt_rec_t        rec;
    const u_char    *payload;

    do {
        while ((rc = prt_ring_peek(&eng->resp, &rec, &payload))
               == PRT_RING_OK)
        {
            if (rec.type == PRT_MSG_RESPONSE) {
                ngx_http_pattern_rt_deliver(eng, &rec, payload);
            }

            prt_ring_advance(&eng->resp, &rec);
        }

        if (rc == PRT_RING_CORRUPT) {
            ngx_log_error(NGX_LOG_ALERT, eng->log, 0,
                          "pattern_rt: response ring out of range");
            ngx_http_pattern_rt_down(eng, "corrupt response ring");
            return;
        }

    } while (prt_ring_release(&eng->resp));

    if (__atomic_load_n(&eng->slot->resp_blocked, __ATOMIC_SEQ_CST)) {
        ngx_http_pattern_rt_bell(eng, PRT_BELL_SPACE);
    }
}


/* Joins an event's fragments; returns 1 when rec completes one. */
static ngx_int_t
ngx_http_pattern_rt_event_join(ngx_http_pattern_rt_engine_t *eng,
    prt_rec_t *rec)
{
    u_char  *p;
    size_t   cap;

    if (eng->event_len && rec->id != eng->event_serial) {
        eng->event_len = 0;               /* a fragment went missing */
    }

    if (eng->event_len + rec->len > eng->event_asm_cap) {
        cap = ngx_max(eng->event_len + rec->len, 2 * eng->event_asm_cap);
        if (cap > eng->bcast.size / 2) {
            eng->event_len = 0;
            return 0;
        }

        p = ngx_alloc(cap, eng->log);
        if (p == NULL) {
            eng->event_len = 0;
            return 0;
        }

        ngx_memcpy(p, eng->event_asm, eng->event_len);
        if (eng->event_asm) {
            ngx_free(eng->event_asm);
        }
        eng->event_asm = p;
        eng->event_asm_cap = cap;
    }

    ngx_memcpy(eng->event_asm + eng->event_len, eng->event_buf, rec->len);
    eng->event_len += rec->len;
    eng->event_serial = rec->id;

    return !(rec->flags & PRT_REC_MORE);
}


void
ngx_http_pattern_rt_engine_poll(ngx_http_pattern_rt_engine_t *eng)
{
    if (eng->state == NGX_HTTP_PATTERN_RT_UP) {
        ngx_http_pattern_rt_read_events(eng);
    }
}


/* One event: the job cache forgets its job first, then the WebSockets. */
static void
ngx_http_pattern_rt_event(ngx_http_pattern_rt_engine_t *eng,
    const u_char *data, size_t len)
{
    prt_event_hdr_t  hdr;

    if (len < sizeof(prt_event_hdr_t)) {
        return;
    }

    ngx_memcpy(&hdr, data, sizeof(prt_event_hdr_t));
    hdr.job_id[PRT_JOB_ID_SIZE - 1] = '\0';

    if (hdr.stream == PRT_STREAM_JOB) {
        ngx_http_pattern_rt_cache_event(eng->cache, (u_char *) hdr.job_id);
    }

    ngx_http_pattern_rt_ws_event(eng, data, len);
}


static void
ngx_http_pattern_rt_read_events(ngx_http_pattern_rt_engine_t *eng)
{
    int        rc;
    prt_rec_t  rec;

    for ( ;; ) {
        rc = prt_bcast_read(&eng->bcast, &rec, eng->event_buf,
                            (uint32_t) eng->event_cap);

        if (rc == PRT_RING_OK) {
            if (rec.type != PRT_MSG_EVENT) {
                continue;
            }

            if (!(rec.flags & PRT_REC_MORE) && eng->event_len == 0) {
                ngx_http_pattern_rt_event(eng, eng->event_buf, rec.len);
                continue;
            }

            if (ngx_http_pattern_rt_event_join(eng, &rec)) {
                ngx_http_pattern_rt_event(eng, eng->event_asm,
                                          eng->event_len);
                eng->event_len = 0;
            }

            continue;
        }

        if (rc == PRT_RING_EMPTY) {
            return;
        }

        if (rc == PRT_RING_LAPPED) {
            eng->bcast_laps++;
            eng->event_len = 0;
            ngx_log_error(NGX_LOG_WARN, eng->log, 0,
                          "pattern_rt: fell a lap behind the broadcast log");
            prt_bcast_resync(&eng->bcast);
            ngx_http_pattern_rt_cache_clear(eng->cache);
            ngx_http_pattern_rt_ws_lost_events(eng, "this server fell behind "
                                               "the event stream: refetch "
                                               "over REST");
            return;
        }

        ngx_http_pattern_rt_down(eng, "corrupt broadcast log");
        return;
    }
}
