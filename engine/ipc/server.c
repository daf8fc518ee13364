#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "ipc/server.h"
#include "pattern_rt_msg.h"
#include "pattern_rt_ring.h"

typedef struct prt_outq_s  prt_outq_t;

/* A response, or what is left of it, waiting for room in a response ring. */
struct prt_outq_s {
    prt_outq_t  *next;
    uint32_t     id;
    uint16_t     status;
    uint16_t     flags;         /* PRT_RESP_* */
    int          started;       /* first fragment (with the header) sent */
    size_t       len;
    size_t       off;
    char         body[];
};

typedef struct {
    prt_io_t          io;
    prt_server_t     *srv;
    uint32_t          slot;
    uint32_t          gen;
    int               attached;
    int               bell;         /* ring the worker before the next wait */
    prt_ring_view_t   req;          /* we consume */
    prt_ring_view_t   resp;         /* we produce */
    prt_outq_t       *outq;
    prt_outq_t      **outq_last;
    size_t            outq_bytes;
    uint64_t          resp_full;    /* times a response had to wait */
    uint64_t          refused;      /* responses replaced by E_BUSY */
    uint8_t          *frag;         /* request being reassembled */
    size_t            frag_len;
    uint32_t          frag_id;
    uint16_t          frag_type;
} prt_worker_t;

struct prt_server_s {
    prt_loop_t         *loop;
    prt_server_conf_t   conf;
    char               *socket_path;
    prt_shm_t           shm;
    prt_io_t            listen_io;
    prt_worker_t       *workers;
    prt_bcast_view_t    bcast;
    int                 bell_all;
    uint32_t            bcast_serial;
    prt_request_fn      on_request;
    void               *ctx;
    uint64_t            accepted;
    uint64_t            no_slot;
};

static void worker_detach(prt_worker_t *w, const char *why);
static void worker_flush(prt_worker_t *w);

/* ---- socket ------------------------------------------------------------ */

static int
socket_address(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        prt_error("socket path too long (max %zu bytes): %s",
                  sizeof(sa->sun_path) - 1, path);
        return -1;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

/* A socket file left by a dead engine is removed; a live one is refused. */
static int
socket_clear_stale(const struct sockaddr_un *sa)
{
    struct stat  st;
    int          fd, rc;

    if (lstat(sa->sun_path, &st) == -1) {
        return errno == ENOENT ? 0 : -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        prt_error("%s exists and is not a socket", sa->sun_path);
        return -1;
    }

    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }
    rc = connect(fd, (const struct sockaddr *) sa, sizeof(*sa));
    close(fd);
    if (rc == 0) {
        prt_error("another engine is listening on %s", sa->sun_path);
        return -1;
    }
    return unlink(sa->sun_path);
}

static int
server_listen(prt_server_t *srv)
{
    struct sockaddr_un  sa;
    int                 fd;

    if (socket_address(srv->socket_path, &sa) != 0
        || socket_clear_stale(&sa) != 0)
    {
        return -1;
    }

    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        prt_error("socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == -1
        || chmod(sa.sun_path, srv->conf.socket_mode) == -1
        || (srv->conf.socket_gid != (gid_t) -1
            && chown(sa.sun_path, (uid_t) -1, srv->conf.socket_gid) == -1)
        || listen(fd, 128) == -1)
    {
        prt_error("listening on %s: %s", sa.sun_path, strerror(errno));
        close(fd);
        return -1;
    }
    srv->listen_io.fd = fd;
    return 0;
}

static int
send_hello(prt_worker_t *w)
{
    prt_server_t    *srv = w->srv;
    prt_hello_t      hello;
    struct iovec     iov = { &hello, sizeof(hello) };
    char             cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr    msg;
    struct cmsghdr  *cmsg;

    memset(&hello, 0, sizeof(hello));
    hello.magic = PRT_HELLO_MAGIC;
    hello.version = PRT_IPC_VERSION;
    hello.slot = w->slot;
    hello.epoch = srv->shm.epoch;
    hello.shm_size = srv->shm.size;

    memset(&msg, 0, sizeof(msg));
    memset(cbuf, 0, sizeof(cbuf));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &srv->shm.fd, sizeof(int));

    if (sendmsg(w->io.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(hello)) {
        prt_warn("slot %u: sending the shared memory failed: %s", w->slot,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void
send_bell(prt_worker_t *w, char bell)
{
    /* EAGAIN means bells are already queued: the worker will wake anyway */
    if (send(w->io.fd, &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == -1
        && errno != EAGAIN && errno != EWOULDBLOCK)
    {
        prt_debug("slot %u: bell: %s", w->slot, strerror(errno));
    }
}

/* ---- requests ---------------------------------------------------------- */

static int
frag_append(prt_worker_t *w, const prt_rec_t *rec, const uint8_t *payload)
{
    prt_server_t  *srv = w->srv;
    uint8_t       *p;

    if (w->frag_len == 0) {
        w->frag_id = rec->id;
        w->frag_type = rec->type;
    } else if (rec->id != w->frag_id || rec->type != w->frag_type) {
        return -1;
    }
    if (w->frag_len + rec->len > srv->conf.max_request) {
        return -1;
    }
    p = realloc(w->frag, w->frag_len + rec->len);
    if (p == NULL) {
        return -1;
    }
    w->frag = p;
    memcpy(w->frag + w->frag_len, payload, rec->len);
    w->frag_len += rec->len;
    return 0;
}

static void
frag_reset(prt_worker_t *w)
{
    free(w->frag);
    w->frag = NULL;
    w->frag_len = 0;
}

/* Returns -1 when the worker broke the protocol. */
static int
handle_record(prt_worker_t *w, const prt_rec_t *rec, const uint8_t *payload)
{
    prt_server_t  *srv = w->srv;
    prt_reply_t    to = { w->slot, w->gen, rec->id };

    if ((rec->flags & PRT_REC_MORE) || w->frag_len) {
        if (frag_append(w, rec, payload) != 0) {
            return -1;
        }
        if (rec->flags & PRT_REC_MORE) {
            return 0;
        }
        srv->on_request(srv->ctx, &to, rec->type, w->frag,
                        (uint32_t) w->frag_len);
        frag_reset(w);
        return 0;
    }

    srv->on_request(srv->ctx, &to, rec->type, payload, rec->len);
    return 0;
}

static void
worker_read_requests(prt_worker_t *w)
{
    prt_rec_t       rec;
    const uint8_t  *payload;
    int             rc;

    do {
        while ((rc = prt_ring_peek(&w->req, &rec, &payload)) == PRT_RING_OK) {
            if (handle_record(w, &rec, payload) != 0) {
                worker_detach(w, "malformed request record");
                return;
            }
            if (!w->attached) {
                return;
            }
            prt_ring_advance(&w->req, &rec);
        }
        if (rc == PRT_RING_CORRUPT) {
            worker_detach(w, "request ring positions out of range");
            return;
        }
    } while (prt_ring_release(&w->req));
}

static void
worker_handler(prt_loop_t *loop, prt_io_t *io, uint32_t events)
{
    prt_worker_t  *w = io->data;
    char           bells[256];
    ssize_t        n;

    if (!w->attached) {
        return;
    }

    for ( ;; ) {
        n = recv(io->fd, bells, sizeof(bells), MSG_DONTWAIT);
        if (n > 0) {
            continue;
        }
        if (n == 0) {
            worker_detach(w, "worker closed the connection");
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        }
        if (errno != EINTR) {
            worker_detach(w, strerror(errno));
            return;
        }
    }

    worker_read_requests(w);
    if (w->attached && w->outq) {
        worker_flush(w);
    }
}

/* ---- workers ----------------------------------------------------------- */

static prt_worker_t *
free_worker(prt_server_t *srv)
{
    for (uint32_t i = 0; i < srv->conf.shm.max_slots; i++) {
        if (!srv->workers[i].attached) {
            return &srv->workers[i];
        }
    }
    return NULL;
}

static void
worker_attach(prt_server_t *srv, prt_worker_t *w, int fd, pid_t pid)
{
    prt_shm_t   *shm = &srv->shm;
    prt_slot_t  *slot = prt_shm_slot(shm, w->slot);

    prt_shm_slot_reset(shm, w->slot);
    slot->worker_pid = pid;
    slot->attached_at_ms = prt_wall_ms();
    __atomic_store_n(&slot->in_use, 1, __ATOMIC_RELEASE);

    prt_ring_view_init(&w->req, &slot->req,
                       shm->base + prt_shm_req_offset(shm, w->slot),
                       shm->conf.req_ring_size, 0);
    prt_ring_view_init(&w->resp, &slot->resp,
                       shm->base + prt_shm_resp_offset(shm, w->slot),
                       shm->conf.resp_ring_size, 1);

    w->io.fd = fd;
    w->io.handler = worker_handler;
    w->io.data = w;
    w->gen++;
    w->attached = 1;
    w->bell = 0;
    w->outq = NULL;
    w->outq_last = &w->outq;
    w->outq_bytes = 0;
    w->resp_full = 0;
    w->refused = 0;
}

static void
worker_detach(prt_worker_t *w, const char *why)
{
    prt_server_t  *srv = w->srv;
    prt_slot_t    *slot = prt_shm_slot(&srv->shm, w->slot);
    prt_outq_t    *q, *next;

    prt_info("worker %d left slot %u: %s", (int) slot->worker_pid, w->slot,
             why);

    prt_loop_del(srv->loop, &w->io);
    close(w->io.fd);
    w->io.fd = -1;
    w->attached = 0;
    w->gen++;

    for (q = w->outq; q; q = next) {
        next = q->next;
        free(q);
    }
    w->outq = NULL;
    w->outq_bytes = 0;
    frag_reset(w);
    __atomic_store_n(&slot->in_use, 0, __ATOMIC_RELEASE);
}

static void
accept_handler(prt_loop_t *loop, prt_io_t *io, uint32_t events)
{
    prt_server_t   *srv = io->data;
    prt_worker_t   *w;
    struct ucred    cred;
    socklen_t       len = sizeof(cred);
    int             fd;

    for ( ;; ) {
        fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                prt_warn("accept: %s", strerror(errno));
            }
            return;
        }

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
            cred.pid = 0;
        }

        w = free_worker(srv);
        if (w == NULL) {
            srv->no_slot++;
            prt_warn("worker %d refused: all %u slots in use (max_workers)",
                     (int) cred.pid, srv->conf.shm.max_slots);
            close(fd);
            continue;
        }

        worker_attach(srv, w, fd, cred.pid);
        if (send_hello(w) != 0
            || prt_loop_add(loop, &w->io, EPOLLIN | EPOLLRDHUP) != 0)
        {
            worker_detach(w, "handshake failed");
            continue;
        }
        srv->accepted++;
        prt_info("worker %d attached to slot %u", (int) cred.pid, w->slot);
    }
}

/* ---- responses --------------------------------------------------------- */

/*
 * Writes as many fragments of q as fit. Returns 1 when all of it is in the
 * ring, 0 when the ring is full, -1 when the ring is corrupt.
 */
static int
write_fragments(prt_worker_t *w, prt_outq_t *q)
{
    uint32_t        max = prt_ring_max_payload(w->resp.size);
    prt_resp_hdr_t  hdr;
    uint8_t        *p;
    size_t          head, chunk;
    int             rc;

    while (!q->started || q->off < q->len) {
        head = q->started ? 0 : sizeof(hdr);
        chunk = q->len - q->off;
        if (chunk > max - head) {
            chunk = max - head;
        }

        rc = prt_ring_reserve(&w->resp, (uint32_t) (head + chunk), &p);
        if (rc != PRT_RING_OK) {
            return rc == PRT_RING_FULL ? 0 : -1;
        }
        if (head) {
            hdr.status = q->status;
            hdr.flags = q->flags;
            hdr.body_len = (uint32_t) q->len;
            memcpy(p, &hdr, sizeof(hdr));
        }
        memcpy(p + head, q->body + q->off, chunk);
        q->off += chunk;
        q->started = 1;

        if (prt_ring_commit(&w->resp, (uint32_t) (head + chunk),
                            PRT_MSG_RESPONSE,
                            q->off < q->len ? PRT_REC_MORE : 0, q->id))
        {
            w->bell = 1;
        }
    }
    return 1;
}

static int
flush_one(prt_worker_t *w, prt_outq_t *q)
{
    prt_slot_t  *slot = prt_shm_slot(&w->srv->shm, w->slot);
    int          rc;

    rc = write_fragments(w, q);
    if (rc != 0) {
        return rc;
    }

    /* Ask the worker for a bell when it frees space, then look again: it may
     * have consumed everything before it could see the flag. */
    w->resp_full++;
    __atomic_store_n(&slot->resp_blocked, 1, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return write_fragments(w, q);
}

static void
worker_flush(prt_worker_t *w)
{
    prt_slot_t  *slot = prt_shm_slot(&w->srv->shm, w->slot);
    prt_outq_t  *q;
    int          rc;

    while ((q = w->outq) != NULL) {
        rc = flush_one(w, q);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            worker_detach(w, "response ring positions out of range");
            return;
        }
        w->outq = q->next;
        if (w->outq == NULL) {
            w->outq_last = &w->outq;
        }
        w->outq_bytes -= q->len;
        free(q);
    }
    __atomic_store_n(&slot->resp_blocked, 0, __ATOMIC_SEQ_CST);
}

static prt_outq_t *
outq_new(uint32_t id, int status, uint16_t flags, const char *body,
    size_t len)
{
    prt_outq_t  *q = malloc(sizeof(*q) + len);

    if (q == NULL) {
        return NULL;
    }
    q->next = NULL;
    q->id = id;
    q->status = (uint16_t) status;
    q->flags = flags;
    q->started = 0;
    q->len = len;
    q->off = 0;
    memcpy(q->body, body, len);
    return q;
}

static const char busy_body[] =
    "{\"error\":{\"code\":\"E_BUSY\",\"message\":\"engine response queue for "
    "this worker is full\"},\"detail\":\"engine response queue for this "
    "worker is full\"}";

int
prt_server_respond(prt_server_t *srv, const prt_reply_t *to, int status,
    const char *body, size_t len)
{
    return prt_server_respond_flags(srv, to, status, 0, body, len);
}

int
prt_server_respond_flags(prt_server_t *srv, const prt_reply_t *to,
    int status, uint16_t flags, const char *body, size_t len)
{
    prt_worker_t  *w;
    prt_outq_t    *q;

    if (to->slot >= srv->conf.shm.max_slots) {
        return -1;
    }
    w = &srv->workers[to->slot];
    if (!w->attached || w->gen != to->gen) {
        return -1;
    }

    if (len > UINT32_MAX
        || (w->outq && w->outq_bytes + len > srv->conf.max_queued))
    {
        w->refused++;
        status = 503;
        flags = 0;
        body = busy_body;
        len = sizeof(busy_body) - 1;
    }

    q = outq_new(to->id, status, flags, body, len);
    if (q == NULL) {
        prt_error("out of memory queueing a %zu-byte response", len);
        return -1;
    }
    *w->outq_last = q;
    w->outq_last = &q->next;
    w->outq_bytes += len;

    if (w->outq == q) {
        worker_flush(w);
    }
    return 0;
}

/* ---- broadcast --------------------------------------------------------- */

int
prt_server_publish(prt_server_t *srv, uint16_t type, const void *payload,
    size_t len)
{
    uint32_t        max = prt_ring_max_payload(srv->bcast.size);
    const uint8_t  *p = payload;
    size_t          off = 0, chunk;
    uint32_t        serial;

    /* a reader needs the whole event in the log at once to assemble it */
    if (len > srv->bcast.size / 2) {
        prt_error("event of %zu bytes is larger than half the broadcast log "
                  "(%llu bytes): dropped; raise broadcast_log", len,
                  (unsigned long long) srv->bcast.size);
        return -1;
    }

    serial = ++srv->bcast_serial;
    do {
        chunk = len - off > max ? max : len - off;
        if (prt_bcast_write(&srv->bcast, type,
                            off + chunk < len ? PRT_REC_MORE : 0, serial,
                            p + off, (uint32_t) chunk) != PRT_RING_OK)
        {
            return -1;
        }
        off += chunk;
    } while (off < len);

    srv->bell_all = 1;
    return 0;
}

/* One bell per worker per loop iteration, however many records were
 * written: the worker drains everything whenever it wakes. */
static void
ring_bells(prt_loop_t *loop, void *data)
{
    prt_server_t  *srv = data;
    prt_worker_t  *w;

    for (uint32_t i = 0; i < srv->conf.shm.max_slots; i++) {
        w = &srv->workers[i];
        if (w->attached && (w->bell || srv->bell_all)) {
            send_bell(w, w->bell ? PRT_BELL_RESP : PRT_BELL_BCAST);
            w->bell = 0;
        }
    }
    srv->bell_all = 0;
}

/* ---- life cycle -------------------------------------------------------- */

prt_server_t *
prt_server_new(prt_loop_t *loop, const prt_server_conf_t *conf,
    prt_request_fn on_request, void *ctx)
{
    prt_server_t  *srv = calloc(1, sizeof(*srv));

    if (srv == NULL) {
        return NULL;
    }
    srv->loop = loop;
    srv->conf = *conf;
    srv->on_request = on_request;
    srv->ctx = ctx;
    srv->listen_io.fd = -1;
    srv->socket_path = strdup(conf->socket_path);
    srv->workers = calloc(conf->shm.max_slots, sizeof(prt_worker_t));

    if (srv->socket_path == NULL || srv->workers == NULL
        || prt_shm_create(&srv->shm, &conf->shm) != 0)
    {
        goto fail;
    }

    for (uint32_t i = 0; i < conf->shm.max_slots; i++) {
        srv->workers[i].srv = srv;
        srv->workers[i].slot = i;
        srv->workers[i].io.fd = -1;
    }
    srv->bcast.ctl = srv->shm.bcast;
    srv->bcast.data = srv->shm.base + srv->shm.bcast->data_offset;
    srv->bcast.size = conf->shm.bcast_size;
    srv->bcast.mask = conf->shm.bcast_size - 1;
    srv->bcast.pos = 0;

    if (server_listen(srv) != 0) {
        goto fail;
    }
    srv->listen_io.handler = accept_handler;
    srv->listen_io.data = srv;
    if (prt_loop_add(loop, &srv->listen_io, EPOLLIN) != 0) {
        goto fail;
    }
    prt_loop_before_wait(loop, ring_bells, srv);
    return srv;

fail:
    prt_server_free(srv);
    return NULL;
}

void
prt_server_free(prt_server_t *srv)
{
    if (srv == NULL) {
        return;
    }
    for (uint32_t i = 0; srv->workers && i < srv->conf.shm.max_slots; i++) {
        if (srv->workers[i].attached) {
            worker_detach(&srv->workers[i], "engine shutting down");
        }
    }
    if (srv->listen_io.fd != -1) {
        prt_loop_del(srv->loop, &srv->listen_io);
        close(srv->listen_io.fd);
        unlink(srv->socket_path);
    }
    prt_shm_destroy(&srv->shm);
    free(srv->workers);
    free(srv->socket_path);
    free(srv);
}

uint64_t
prt_server_epoch(const prt_server_t *srv)
{
    return srv->shm.epoch;
}

unsigned
prt_server_workers(const prt_server_t *srv)
{
    unsigned  n = 0;

    for (uint32_t i = 0; i < srv->conf.shm.max_slots; i++) {
        n += srv->workers[i].attached;
    }
    return n;
}

static void
worker_stats_json(prt_worker_t *w, prt_json_t *j)
{
    prt_slot_t  *slot = prt_shm_slot(&w->srv->shm, w->slot);

    prt_json_open(j);
    prt_json_kint(j, "slot", w->slot);
    prt_json_kint(j, "worker_pid", slot->worker_pid);
    prt_json_ktime(j, "attached_at", (int64_t) slot->attached_at_ms);
    prt_json_kuint(j, "requests", slot->req.consumed);
    prt_json_kuint(j, "responses", slot->resp.produced);
    prt_json_kuint(j, "request_ring_full", slot->req.full);
    prt_json_kuint(j, "response_ring_waits", w->resp_full);
    prt_json_kuint(j, "busy", slot->busy);
    prt_json_kuint(j, "timeouts", slot->timeouts);
    prt_json_kuint(j, "queued_bytes", w->outq_bytes);
    prt_json_kuint(j, "refused", w->refused);
    prt_json_close(j);
}

void
prt_server_stats_json(prt_server_t *srv, prt_json_t *j)
{
    prt_json_open(j);
    prt_json_kuint(j, "max_workers", srv->conf.shm.max_slots);
    prt_json_kuint(j, "request_ring_bytes", srv->conf.shm.req_ring_size);
    prt_json_kuint(j, "response_ring_bytes", srv->conf.shm.resp_ring_size);
    prt_json_kuint(j, "connections_accepted", srv->accepted);
    prt_json_kuint(j, "connections_refused", srv->no_slot);
    prt_json_key(j, "workers");
    prt_json_array(j);
    for (uint32_t i = 0; i < srv->conf.shm.max_slots; i++) {
        if (srv->workers[i].attached) {
            worker_stats_json(&srv->workers[i], j);
        }
    }
    prt_json_array_end(j);
    prt_json_key(j, "broadcast");
    prt_json_open(j);
    prt_json_kuint(j, "bytes", srv->bcast.size);
    prt_json_kuint(j, "events", srv->bcast_serial);
    prt_json_kuint(j, "records", srv->shm.bcast->published);
    prt_json_close(j);
    prt_json_close(j);
}

/* Prometheus text of the engine's side of the rings (docs/metrics.md);
 * the workers' own counters are rendered by the module. */
void
prt_server_metrics(prt_server_t *srv, prt_text_t *t)
{
    uint32_t  n = srv->conf.shm.max_slots;
    char      l[32];

    prt_text_single(t, "pattern_rt_ipc_connections_accepted_total", "counter",
                    "nginx worker connections the engine accepted",
                    (double) srv->accepted);
    prt_text_single(t, "pattern_rt_ipc_connections_refused_total", "counter",
                    "nginx worker connections refused for want of a slot",
                    (double) srv->no_slot);
    prt_text_single(t, "pattern_rt_ipc_workers", "gauge",
                    "nginx workers attached to the engine",
                    (double) prt_server_workers(srv));
    prt_text_single(t, "pattern_rt_broadcast_events_total", "counter",
                    "events published on the broadcast log",
                    (double) srv->bcast_serial);

    prt_text_family(t, "pattern_rt_ipc_slot_requests_total", "counter",
                    "requests the engine read from a slot's ring (this "
                    "engine run)");
    for (uint32_t i = 0; i < n; i++) {
        if (srv->workers[i].attached) {
            snprintf(l, sizeof(l), "slot=\"%u\"", i);
            prt_text_sample(t, "pattern_rt_ipc_slot_requests_total", l,
                (double) prt_shm_slot(&srv->shm, i)->req.consumed);
        }
    }
    prt_text_family(t, "pattern_rt_ipc_slot_response_waits_total", "counter",
                    "responses that waited for room in a slot's ring");
    for (uint32_t i = 0; i < n; i++) {
        if (srv->workers[i].attached) {
            snprintf(l, sizeof(l), "slot=\"%u\"", i);
            prt_text_sample(t, "pattern_rt_ipc_slot_response_waits_total", l,
                            (double) srv->workers[i].resp_full);
        }
    }
    prt_text_family(t, "pattern_rt_ipc_slot_responses_refused_total",
                    "counter", "responses replaced by E_BUSY (queue full)");
    for (uint32_t i = 0; i < n; i++) {
        if (srv->workers[i].attached) {
            snprintf(l, sizeof(l), "slot=\"%u\"", i);
            prt_text_sample(t, "pattern_rt_ipc_slot_responses_refused_total",
                            l, (double) srv->workers[i].refused);
        }
    }
    prt_text_family(t, "pattern_rt_ipc_slot_queued_bytes", "gauge",
                    "response bytes waiting for room in a slot's ring");
    for (uint32_t i = 0; i < n; i++) {
        if (srv->workers[i].attached) {
            snprintf(l, sizeof(l), "slot=\"%u\"", i);
            prt_text_sample(t, "pattern_rt_ipc_slot_queued_bytes", l,
                            (double) srv->workers[i].outq_bytes);
        }
    }
}
