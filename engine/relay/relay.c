#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/log.h"
#include "core/pg.h"
#include "relay/payload.h"
#include "relay/relay.h"

#define RELAY_CHANNEL   "prt_events"
/* notifications sent in one round trip (one transaction) */
#define SEND_BATCH      (256 * 1024)
/* the longest event payload, in parts (relay/payload.h) */
#define RELAY_EVENT_MAX  ((size_t) PRT_RELAY_PARTS_MAX * (PRT_RELAY_PART_MAX - 4))
/* senders whose parts may be coming at once */
#define RELAY_PARTIALS   16
/* events handed to the loop in one turn */
#define RELAY_SLICE      4096
/* between two attempts to connect */
#define RECONNECT_MS    1000

/* An event's payload going out, or a decoded event coming in. */
typedef struct msg_s  msg_t;

struct msg_s {
    msg_t            *next;
    int               kind;            /* prt_relay_kind_t */
    prt_event_hdr_t   hdr;             /* incoming events */
    size_t            len;
    char              text[];          /* the payload; incoming: the JSON */
};

typedef struct {
    msg_t    *head, *tail;
    size_t    bytes;
} queue_t;

/* The SQL of one round trip of notifications (the relay thread's). */
typedef struct {
    char     *buf;
    size_t    len, cap;
} sql_t;

/* A payload coming in parts from one sending connection. */
typedef struct {
    int        pid;                    /* the sender's backend */
    unsigned   count, next;            /* count 0: the slot is free */
    char      *buf;
    size_t     len, cap;
    uint64_t   used;                   /* when a part last came */
} partial_t;

struct prt_relay_s {
    prt_relay_conf_t   conf;
    char              *conninfo;
    pthread_t          thread;
    int                started;
    int                added;          /* io is on the loop */
    PGconn            *first;          /* made by prt_relay_new, then the
                                          thread's */
    partial_t          partials[RELAY_PARTIALS];   /* the thread's */
    uint64_t           parts_seen;
    int                wake_fd;        /* loop -> relay thread */
    prt_io_t           io;             /* relay thread -> loop */
    msg_t             *heard;          /* the loop's: taken, not yet told */

    pthread_mutex_t    mu;             /* all below */
    queue_t            out, in;
    int                stop;
    int                owe_gap;        /* out: events of ours were dropped */
    int                in_lost;        /* in: events of others were */
    int                connected;
    uint64_t           sent, received, refused, refused_in, dropped_out,
                       dropped_in, gaps_sent, gaps_heard, connects;
};


/* ---- queues ------------------------------------------------------------- */

static void
queue_push(queue_t *q, msg_t *m)
{
    m->next = NULL;
    if (q->tail) {
        q->tail->next = m;
    } else {
        q->head = m;
    }
    q->tail = m;
    q->bytes += sizeof(*m) + m->len;    /* many small ones are bounded too */
}

static msg_t *
queue_take(queue_t *q)
{
    msg_t  *m = q->head;

    memset(q, 0, sizeof(*q));
    return m;
}

static void
msgs_free(msg_t *m)
{
    msg_t  *next;

    for (; m; m = next) {
        next = m->next;
        free(m);
    }
}

static void
wake(int fd)
{
    uint64_t  one = 1;

    /* a full counter already wakes the reader */
    (void) !write(fd, &one, sizeof(one));
}


/* ---- the loop thread ------------------------------------------------------ */

void
prt_relay_send(prt_relay_t *r, const prt_event_hdr_t *hdr, const char *json,
    size_t len)
{
    size_t   cap = len + PRT_RELAY_HEAD_MAX + 1, n = 0;
    msg_t   *m = malloc(sizeof(*m) + cap);
    int      was_empty = 1;

    if (m != NULL) {
        n = prt_relay_encode(hdr, json, len, m->text, cap);
    }
    pthread_mutex_lock(&r->mu);
    if (n == 0 || n > RELAY_EVENT_MAX
        || r->out.bytes + sizeof(*m) + n > r->conf.max_bytes)
    {
        /* unsendable, or no room: the others must know */
        r->refused += n == 0 || n > RELAY_EVENT_MAX;
        r->dropped_out += n != 0 && n <= RELAY_EVENT_MAX;
        r->owe_gap = 1;
        free(m);
    } else {
        m->kind = PRT_RELAY_EVENT;
        m->len = n;
        was_empty = r->out.head == NULL;
        queue_push(&r->out, m);
    }
    pthread_mutex_unlock(&r->mu);
    if (was_empty) {
        wake(r->wake_fd);
    }
}

/*
 * What the relay thread heard, handed to the events in its order: at most
 * RELAY_SLICE messages a turn of the loop (a burst of 100,000
 * verifications would otherwise hold it for seconds), the rest at the
 * next turns, woken again through the same eventfd.
 */
static void
relay_io(prt_loop_t *loop, prt_io_t *io, uint32_t events)
{
    prt_relay_t  *r = io->data;
    uint64_t      n;
    msg_t        *m;
    int           lost;

    (void) !read(io->fd, &n, sizeof(n));
    pthread_mutex_lock(&r->mu);
    if (r->heard == NULL) {
        r->heard = queue_take(&r->in);
    }
    lost = r->in_lost;
    r->in_lost = 0;
    pthread_mutex_unlock(&r->mu);

    for (n = 0; r->heard && n < RELAY_SLICE; n++) {
        m = r->heard;
        r->heard = m->next;
        if (m->kind == PRT_RELAY_EVENT) {
            r->conf.received(r->conf.ctx, &m->hdr, m->text, m->len);
        } else {
            r->conf.lost(r->conf.ctx);
        }
        free(m);
    }
    if (lost) {
        r->conf.lost(r->conf.ctx);
    }
    if (r->heard) {
        wake(io->fd);
    }
}

/* ---- the relay thread ----------------------------------------------------- */

static int
stopping(prt_relay_t *r)
{
    int  stop;

    pthread_mutex_lock(&r->mu);
    stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

/* Queues for the loop thread an event it must publish, or a gap; the
 * caller wakes the loop. */
static void
hand_over(prt_relay_t *r, int kind, const prt_event_hdr_t *hdr,
    const char *json, size_t len)
{
    msg_t  *m = malloc(sizeof(*m) + len + 1);

    pthread_mutex_lock(&r->mu);
    if (kind == PRT_RELAY_GAP && r->in.tail
        && r->in.tail->kind == PRT_RELAY_GAP)
    {
        free(m);                       /* one gap tells what two would */
    } else if (m == NULL
               || r->in.bytes + sizeof(*m) + len > r->conf.max_bytes)
    {
        r->dropped_in++;
        r->in_lost = 1;
        free(m);
    } else {
        m->kind = kind;
        memset(&m->hdr, 0, sizeof(m->hdr));
        if (hdr) {
            m->hdr = *hdr;
        }
        m->len = len;
        memcpy(m->text, json, len);
        m->text[len] = '\0';
        queue_push(&r->in, m);
    }
    pthread_mutex_unlock(&r->mu);
}

static PGconn *
relay_connect(prt_relay_t *r)
{
    PGconn    *c = prt_pg_connect(r->conninfo, "pattern-rt-engine relay");
    PGresult  *res;
    int        ok;

    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    res = PQexec(c, "LISTEN " RELAY_CHANNEL);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Appends "NOTIFY channel, 'payload';" to the batch's SQL. */
static int
sql_notify(PGconn *c, sql_t *q, const char *payload, size_t len)
{
    static const char   head[] = "NOTIFY " RELAY_CHANNEL ", ";
    char               *lit = PQescapeLiteral(c, payload, len), *p;
    size_t              n = lit ? strlen(lit) : 0;
    size_t              need = q->len + sizeof(head) + n + 1;

    if (lit == NULL) {
        return -1;
    }
    if (need > q->cap) {
        p = realloc(q->buf, need * 2);
        if (p == NULL) {
            PQfreemem(lit);
            return -1;
        }
        q->buf = p;
        q->cap = need * 2;
    }
    memcpy(q->buf + q->len, head, sizeof(head) - 1);
    q->len += sizeof(head) - 1;
    memcpy(q->buf + q->len, lit, n);
    q->len += n;
    q->buf[q->len++] = ';';
    q->buf[q->len] = '\0';
    PQfreemem(lit);
    return 0;
}

/* An event's payload: one notification, or its parts in order. */
static int
sql_payload(PGconn *c, sql_t *q, const char *text, size_t len)
{
    char      part[PRT_RELAY_PAYLOAD_MAX + 1];
    size_t    at, n;
    unsigned  count = 0, i = 0;
    int       h;

    if (len <= PRT_RELAY_PAYLOAD_MAX) {
        return sql_notify(c, q, text, len);
    }
    for (at = 0; at < len; at += prt_relay_part_len(text, len, at)) {
        count++;
    }
    for (at = 0; at < len; at += n, i++) {
        n = prt_relay_part_len(text, len, at);
        h = snprintf(part, sizeof(part), "p %u %u\n", count, i);
        memcpy(part + h, text + at, n);
        if (sql_notify(c, q, part, (size_t) h + n) != 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * One round trip: a gap notice first if owed, then events from *m on, up
 * to SEND_BATCH bytes of SQL (or one longer event), in one transaction
 * (PostgreSQL delivers its notifications together and in order). *m moves
 * past what was sent.
 */
static int
send_batch(prt_relay_t *r, PGconn *c, sql_t *q, int gap, msg_t **m)
{
    uint64_t   n = 0;
    PGresult  *res;
    int        ok;

    q->len = 0;
    if (gap && sql_notify(c, q, "g\n", 2) != 0) {
        return -1;
    }
    for (; *m && q->len < SEND_BATCH; *m = (*m)->next, n++) {
        if (sql_payload(c, q, (*m)->text, (*m)->len) != 0) {
            return -1;
        }
    }
    res = PQexec(c, q->buf);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    r->sent += n;
    r->gaps_sent += gap != 0;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* Sends what waits. A batch that fails is lost with what follows it: the
 * others are told of a gap once connected again. */
static int
send_waiting(prt_relay_t *r, PGconn *c, sql_t *q)
{
    msg_t  *head, *m;
    int     gap, rc = 0;

    pthread_mutex_lock(&r->mu);
    gap = r->owe_gap;
    r->owe_gap = 0;
    head = queue_take(&r->out);
    pthread_mutex_unlock(&r->mu);

    for (m = head; rc == 0 && (m || gap); gap = 0) {
        rc = send_batch(r, c, q, gap, &m);
    }
    msgs_free(head);
    if (q->cap > 4 * SEND_BATCH) {     /* after a long event */
        free(q->buf);
        memset(q, 0, sizeof(*q));
    }
    if (rc != 0) {
        pthread_mutex_lock(&r->mu);
        r->owe_gap = 1;
        r->dropped_out++;
        pthread_mutex_unlock(&r->mu);
    }
    return rc;
}

/* One payload, whole: an event or a gap for the loop thread. */
static int
take_payload(prt_relay_t *r, const char *text, size_t len)
{
    prt_event_hdr_t   hdr;
    const char       *json;
    size_t            n;
    int               kind = prt_relay_decode(text, len, &hdr, &json, &n);

    if (kind == PRT_RELAY_EVENT) {
        hand_over(r, kind, &hdr, json, n);
    } else if (kind == PRT_RELAY_GAP) {
        hand_over(r, kind, NULL, "", 0);
    }
    return kind;
}

/* The payload a sender is sending in parts (one at a time per sender:
 * its parts come in order). */
static partial_t *
partial_of(prt_relay_t *r, int pid, unsigned index)
{
    partial_t  *p, *take = NULL;

    for (p = r->partials; p < r->partials + RELAY_PARTIALS; p++) {
        if (p->count && p->pid == pid) {
            return p;
        }
        /* a free slot, else the one least recently added to */
        if (take == NULL || (take->count && (p->count == 0
                                             || p->used < take->used)))
        {
            take = p;
        }
    }
    if (index != 0) {
        return NULL;
    }
    take->pid = pid;
    take->count = 0;
    return take;
}

/* A part: kept until its payload is whole, which is then taken. */
static int
take_part(prt_relay_t *r, int pid, const char *text, size_t len)
{
    unsigned    count, index;
    size_t      skip;
    partial_t  *p;
    char       *buf;
    int         kind;

    if (prt_relay_part(text, len, &count, &index, &skip) != 0
        || (p = partial_of(r, pid, index)) == NULL)
    {
        return -1;
    }
    if (index == 0) {
        p->count = count;
        p->next = 0;
        p->len = 0;
    }
    if (index != p->next || count != p->count) {
        p->count = 0;                  /* out of order: not ours */
        return -1;
    }
    if (p->len + len - skip > p->cap) {
        buf = realloc(p->buf, p->len + len - skip + PRT_RELAY_PART_MAX);
        if (buf == NULL) {
            p->count = 0;
            return -1;
        }
        p->buf = buf;
        p->cap = p->len + len - skip + PRT_RELAY_PART_MAX;
    }
    memcpy(p->buf + p->len, text + skip, len - skip);
    p->len += len - skip;
    p->used = ++r->parts_seen;
    if (++p->next < p->count) {
        return 0;
    }
    p->count = 0;
    kind = take_payload(r, p->buf, p->len);
    if (p->cap > 4 * PRT_RELAY_PART_MAX) {
        free(p->buf);
        p->buf = NULL;
        p->cap = 0;
    }
    return kind;
}

/* Hands over what the other nodes sent; our own notifications come back
 * to us too (the same backend) and are skipped. */
static int
receive(prt_relay_t *r, PGconn *c)
{
    PGnotify  *n;
    size_t     len;
    int        kind, self = PQbackendPID(c), any = 0;
    uint64_t   refused = 0, gaps = 0, events = 0;

    if (PQconsumeInput(c) == 0) {
        return -1;
    }
    while ((n = PQnotifies(c)) != NULL) {
        if (n->be_pid != self && strcmp(n->relname, RELAY_CHANNEL) == 0) {
            len = strlen(n->extra);
            kind = len > 1 && n->extra[0] == 'p'
                   ? take_part(r, n->be_pid, n->extra, len)
                   : len <= PRT_RELAY_PAYLOAD_MAX
                   ? take_payload(r, n->extra, len) : -1;
            refused += kind < 0;
            events += kind == PRT_RELAY_EVENT;
            gaps += kind == PRT_RELAY_GAP;
            any |= kind > 0;
        }
        PQfreemem(n);
    }
    pthread_mutex_lock(&r->mu);
    r->refused_in += refused;
    r->gaps_heard += gaps;
    r->received += events;
    pthread_mutex_unlock(&r->mu);
    if (any) {
        wake(r->io.fd);
    }
    return 0;
}

/* Until the wake-up file descriptor says there is something to send, the
 * connection has something to read, or ms pass. */
static void
wait_for(prt_relay_t *r, PGconn *c, int ms)
{
    struct pollfd  pf[2] = { { r->wake_fd, POLLIN, 0 }, { -1, POLLIN, 0 } };
    uint64_t       n;

    pf[1].fd = c ? PQsocket(c) : -1;
    if (poll(pf, 2, ms) > 0 && (pf[0].revents & POLLIN)) {
        (void) !read(r->wake_fd, &n, sizeof(n));
    }
}

/* Listening again after a failure: what the others published meanwhile
 * is missed. */
static void
listening_again(prt_relay_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->connected = 1;
    r->connects++;
    pthread_mutex_unlock(&r->mu);
    hand_over(r, PRT_RELAY_GAP, NULL, "", 0);
    wake(r->io.fd);
    prt_info("relay: listening for the other nodes' events again");
}

static void *
relay_main(void *arg)
{
    prt_relay_t   *r = arg;
    sql_t          q = { NULL, 0, 0 };
    PGconn        *c = r->first;
    int            failed = c == NULL;

    while (!stopping(r)) {
        if (c == NULL && (c = relay_connect(r)) == NULL) {
            wait_for(r, NULL, RECONNECT_MS);
            continue;
        }
        if (failed) {
            listening_again(r);
            failed = 0;
        }
        if (send_waiting(r, c, &q) != 0 || receive(r, c) != 0) {
            prt_warn("relay: the connection to the store failed; events "
                     "may be missing on the other nodes and here; "
                     "reconnecting every second");
            pthread_mutex_lock(&r->mu);
            r->connected = 0;
            pthread_mutex_unlock(&r->mu);
            PQfinish(c);
            c = NULL;
            failed = 1;
            continue;
        }
        wait_for(r, c, RECONNECT_MS);
    }
    PQfinish(c);
    free(q.buf);
    for (int i = 0; i < RELAY_PARTIALS; i++) {
        free(r->partials[i].buf);
    }
    return NULL;
}


/* ---- life cycle --------------------------------------------------------- */

prt_relay_t *
prt_relay_new(const prt_relay_conf_t *conf)
{
    prt_relay_t  *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    r->conf = *conf;
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->io.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->io.handler = relay_io;
    r->io.data = r;
    r->conninfo = strdup(conf->conninfo);
    pthread_mutex_init(&r->mu, NULL);
    if (r->wake_fd == -1 || r->io.fd == -1 || r->conninfo == NULL
        || prt_loop_add(conf->loop, &r->io, EPOLLIN) != 0)
    {
        prt_relay_free(r);
        return NULL;
    }
    r->added = 1;
    r->first = relay_connect(r);
    if (r->first == NULL) {
        prt_warn("relay: cannot reach the store to exchange events with the "
                 "other nodes; trying every second");
    } else {
        r->connected = 1;
        r->connects = 1;
    }
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        PQfinish(r->first);
        prt_relay_free(r);
        return NULL;
    }
    r->started = 1;
    return r;
}

void
prt_relay_free(prt_relay_t *r)
{
    if (r == NULL) {
        return;
    }
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_mutex_unlock(&r->mu);
        wake(r->wake_fd);
        pthread_join(r->thread, NULL);
    }
    if (r->added) {
        prt_loop_del(r->conf.loop, &r->io);
    }
    msgs_free(r->out.head);
    msgs_free(r->in.head);
    msgs_free(r->heard);
    if (r->wake_fd != -1) {
        close(r->wake_fd);
    }
    if (r->io.fd != -1) {
        close(r->io.fd);
    }
    pthread_mutex_destroy(&r->mu);
    free(r->conninfo);
    free(r);
}

void
prt_relay_stats_json(prt_relay_t *r, prt_json_t *j)
{
    pthread_mutex_lock(&r->mu);
    prt_json_open(j);
    prt_json_kbool(j, "connected", r->connected);
    prt_json_kuint(j, "connects", r->connects);
    prt_json_kuint(j, "sent", r->sent);
    prt_json_kuint(j, "received", r->received);
    prt_json_kuint(j, "dropped_out", r->dropped_out);
    prt_json_kuint(j, "dropped_in", r->dropped_in);
    prt_json_kuint(j, "refused_out", r->refused);
    prt_json_kuint(j, "refused_in", r->refused_in);
    prt_json_kuint(j, "gaps_sent", r->gaps_sent);
    prt_json_kuint(j, "gaps_heard", r->gaps_heard);
    prt_json_kuint(j, "waiting_bytes", r->out.bytes);
    prt_json_close(j);
    pthread_mutex_unlock(&r->mu);
}
