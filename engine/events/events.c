#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "events/events.h"
#include "pattern_rt_msg.h"

/* A stream: a job's events or a channel's. */
typedef struct stream_s  stream_t;
typedef struct entry_s   entry_t;

struct entry_s {
    entry_t   *older, *newer;          /* the whole history, oldest first */
    entry_t   *s_next;                 /* this stream's, oldest first */
    stream_t  *stream;
    uint64_t   seq;
    size_t     len;
    char       json[];
};

struct stream_s {
    uint8_t    stream;
    uint8_t    job[PRT_JOB_UUID_LEN];
    entry_t   *first, *last;           /* retained events, oldest first */
    size_t     count;
    uint64_t   dropped;                /* highest seq no longer kept */
    stream_t  *h_next;                 /* hash chain */
};

#define STREAM_BUCKETS  4096

static const char *const stream_names[PRT_STREAM_COUNT] = {
    "job", "verifications", "prices", "alerts"
};

struct prt_events_s {
    prt_events_conf_t   conf;
    uint64_t            seq;
    uint64_t            start_seq;     /* first seq of this engine run */
    uint64_t            lost_seq;      /* other nodes' events before it may
                                          be missing (0: none) */
    int64_t             lost_ms;       /* when (wall clock) */
    entry_t            *oldest, *newest;
    size_t              bytes;
    size_t              entries;
    uint64_t            published;
    uint64_t            evicted;
    stream_t           *buckets[STREAM_BUCKETS];
    stream_t            channels[PRT_STREAM_COUNT];  /* [0] unused */
};


/* ---- streams ------------------------------------------------------------ */

static unsigned
job_hash(const uint8_t *job)
{
    unsigned  h = 2166136261u;

    for (int i = 0; i < PRT_JOB_UUID_LEN; i++) {
        h = (h ^ job[i]) * 16777619u;
    }
    return h % STREAM_BUCKETS;
}

static stream_t *
stream_find(prt_events_t *ev, uint8_t stream, const uint8_t *job, int create)
{
    stream_t  **b, *s;

    if (stream != PRT_STREAM_JOB) {
        return stream < PRT_STREAM_COUNT ? &ev->channels[stream] : NULL;
    }
    b = &ev->buckets[job_hash(job)];
    for (s = *b; s; s = s->h_next) {
        if (memcmp(s->job, job, PRT_JOB_UUID_LEN) == 0) {
            return s;
        }
    }
    if (!create || (s = calloc(1, sizeof(*s))) == NULL) {
        return NULL;
    }
    s->stream = PRT_STREAM_JOB;
    memcpy(s->job, job, PRT_JOB_UUID_LEN);
    s->h_next = *b;
    *b = s;
    return s;
}

/* ---- history ------------------------------------------------------------ */

static void
evict_oldest(prt_events_t *ev)
{
    entry_t   *en = ev->oldest;
    stream_t  *s = en->stream;

    ev->oldest = en->newer;
    if (ev->oldest) {
        ev->oldest->older = NULL;
    } else {
        ev->newest = NULL;
    }
    /* the oldest entry overall is also the oldest of its stream */
    s->first = en->s_next;
    if (s->first == NULL) {
        s->last = NULL;
    }
    s->count--;
    s->dropped = en->seq;
    ev->bytes -= en->len;
    ev->entries--;
    ev->evicted++;
    free(en);
}

/* Drops the oldest event of one stream that holds too many. */
static void
evict_from_stream(prt_events_t *ev, stream_t *s)
{
    entry_t  *en = s->first;

    s->first = en->s_next;
    if (s->first == NULL) {
        s->last = NULL;
    }
    if (en->older) {
        en->older->newer = en->newer;
    } else {
        ev->oldest = en->newer;
    }
    if (en->newer) {
        en->newer->older = en->older;
    } else {
        ev->newest = en->older;
    }
    s->count--;
    s->dropped = en->seq;
    ev->bytes -= en->len;
    ev->entries--;
    ev->evicted++;
    free(en);
}

static void
history_add(prt_events_t *ev, stream_t *s, uint64_t seq, const char *json,
    size_t len)
{
    entry_t  *en = malloc(sizeof(*en) + len);

    if (en == NULL) {
        s->dropped = seq;              /* unkept: a replay would be a gap */
        return;
    }
    en->stream = s;
    en->seq = seq;
    en->len = len;
    memcpy(en->json, json, len);
    en->s_next = NULL;
    en->newer = NULL;
    en->older = ev->newest;
    if (ev->newest) {
        ev->newest->newer = en;
    } else {
        ev->oldest = en;
    }
    ev->newest = en;
    if (s->last) {
        s->last->s_next = en;
    } else {
        s->first = en;
    }
    s->last = en;
    s->count++;
    ev->bytes += len;
    ev->entries++;

    if (s->count > ev->conf.max_per_stream) {
        evict_from_stream(ev, s);
    }
    while (ev->bytes > ev->conf.max_bytes && ev->oldest) {
        evict_oldest(ev);
    }
}


/* ---- publishing ----------------------------------------------------------- */

uint64_t
prt_events_next_seq(prt_events_t *ev)
{
    uint64_t  floor = prt_wall_ms() << 10;

    ev->seq = ev->seq + 1 > floor ? ev->seq + 1 : floor;
    return ev->seq;
}

/* Onto the broadcast log: the header, then the event's JSON. */
static void
broadcast(prt_events_t *ev, const prt_event_hdr_t *hdr, const char *json,
    size_t len)
{
    uint8_t  *buf;

    buf = malloc(sizeof(*hdr) + len);
    if (buf == NULL) {
        return;
    }
    memcpy(buf, hdr, sizeof(*hdr));
    memcpy(buf + sizeof(*hdr), json, len);
    (void) ev->conf.broadcast(ev->conf.ctx, buf, sizeof(*hdr) + len);
    ev->published++;
    free(buf);
}

/* Keeps the event for replay, then broadcasts it with hdr. */
static void
keep_and_broadcast(prt_events_t *ev, prt_event_hdr_t *hdr,
    const uint8_t *job_id, const char *json, size_t len)
{
    stream_t  *s;

    s = stream_find(ev, hdr->stream, job_id, 1);
    if (s) {
        history_add(ev, s, hdr->seq, json, len);
    }
    if (job_id) {
        prt_job_id_format(job_id, hdr->job_id);
    }
    broadcast(ev, hdr, json, len);
}

/* An event of this node: here, then to the other nodes. */
static void
publish(prt_events_t *ev, prt_event_hdr_t *hdr, const uint8_t *job_id,
    const char *json, size_t len)
{
    keep_and_broadcast(ev, hdr, job_id, json, len);
    if (ev->conf.relay) {
        ev->conf.relay(ev->conf.relay_ctx, hdr, json, len);
    }
}

void
prt_events_publish_text(prt_events_t *ev, uint8_t stream, uint8_t kind,
    int coalesce, const uint8_t *job_id, uint64_t seq, const char *json,
    size_t len)
{
    prt_event_hdr_t  hdr;

    memset(&hdr, 0, sizeof(hdr));
    hdr.stream = stream;
    hdr.kind = kind;
    hdr.coalesce = (uint8_t) coalesce;
    hdr.seq = seq;
    publish(ev, &hdr, job_id, json, len);
}

/*
 * A result event also feeds the alerts channel, which the workers make
 * from it (docs/websocket.md, "Alerts"): the header carries what their
 * subscribers filter on, so that no worker parses the JSON.
 */
void
prt_events_publish_result(prt_events_t *ev, const prt_event_result_t *r,
    const uint8_t *job_id, uint64_t seq, prt_json_t *event)
{
    prt_event_hdr_t   hdr;
    const char       *body;
    size_t            len;

    body = prt_json_body(event, &len);
    if (prt_json_failed(event)) {
        prt_error("rendering a result event failed");
        return;
    }
    memset(&hdr, 0, sizeof(hdr));
    hdr.stream = PRT_STREAM_JOB;
    hdr.kind = PRT_EVENT_RESULT;
    hdr.seq = seq;
    hdr.direction = r->down ? 1 : 0;
    hdr.edge = r->edge;
    snprintf(hdr.symbol, sizeof(hdr.symbol), "%s", r->symbol);
    publish(ev, &hdr, job_id, body, len);
}

void
prt_events_publish(prt_events_t *ev, uint8_t stream, uint8_t kind,
    int coalesce, const uint8_t *job_id, uint64_t seq, prt_json_t *event)
{
    const char  *body;
    size_t       len;

    body = prt_json_body(event, &len);
    if (prt_json_failed(event)) {
        prt_error("rendering an event failed");
        return;
    }
    prt_events_publish_text(ev, stream, kind, coalesce, job_id, seq, body,
                            len);
}

void
prt_events_publish_tail(prt_events_t *ev, uint8_t stream, uint8_t kind,
    const char *type, const uint8_t *job_id, const char *tail, size_t len)
{
    char      head[192], id[PRT_JOB_ID_SIZE], *json;
    uint64_t  seq = prt_events_next_seq(ev);
    int       n;

    prt_job_id_format(job_id, id);
    n = snprintf(head, sizeof(head), "{\"type\":\"%s\",\"job_id\":\"%s\","
                 "\"seq\":%llu,\"timestamp\":", type, id,
                 (unsigned long long) seq);
    json = malloc((size_t) n + 64 + len);
    if (json == NULL || n <= 0 || (size_t) n >= sizeof(head)) {
        free(json);
        return;
    }
    memcpy(json, head, (size_t) n);
    n += prt_format_time_json(json + n, (int64_t) prt_wall_ms());
    json[n++] = ',';
    memcpy(json + n, tail, len);
    prt_events_publish_text(ev, stream, kind, 0,
                            stream == PRT_STREAM_JOB ? job_id : NULL, seq,
                            json, (size_t) n + len);
    free(json);
}


/* ---- events of other nodes ------------------------------------------------ */

/*
 * The JSON with its "seq" (the first one: the event's own, where every
 * renderer of events puts it, as the workers' replay reader expects)
 * rewritten to seq; NULL when it has none or out of memory.
 */
static char *
with_seq(const char *json, size_t len, uint64_t seq, size_t *out_len)
{
    static const char   key[] = "\"seq\":";
    const char         *at = memmem(json, len, key, sizeof(key) - 1);
    const char         *digits, *end = json + len;
    char                num[24], *out;
    int                 n;

    if (at == NULL) {
        return NULL;
    }
    digits = at + sizeof(key) - 1;
    while (digits < end && *digits >= '0' && *digits <= '9') {
        digits++;
    }
    n = snprintf(num, sizeof(num), "%llu", (unsigned long long) seq);
    *out_len = (size_t) (at - json) + sizeof(key) - 1 + (size_t) n
               + (size_t) (end - digits);
    out = malloc(*out_len);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, json, (size_t) (at - json) + sizeof(key) - 1);
    memcpy(out + (at - json) + sizeof(key) - 1, num, (size_t) n);
    memcpy(out + *out_len - (size_t) (end - digits), digits,
           (size_t) (end - digits));
    return out;
}

void
prt_events_publish_relayed(prt_events_t *ev, const prt_event_hdr_t *hdr,
    const char *json, size_t len)
{
    prt_event_hdr_t   h = *hdr;
    uint8_t           job[PRT_JOB_UUID_LEN];
    char             *text;
    size_t            n;

    if (h.stream == PRT_STREAM_JOB
        && prt_job_id_parse(h.job_id, job) != 0)
    {
        return;
    }
    if (h.seq > ev->seq) {
        ev->seq = h.seq;
    }
    h.seq = prt_events_next_seq(ev);
    text = with_seq(json, len, h.seq, &n);
    if (text == NULL) {
        return;
    }
    keep_and_broadcast(ev, &h, h.stream == PRT_STREAM_JOB ? job : NULL,
                       text, n);
    free(text);
}

/* An E_GAP error to the live subscribers of one stream (not kept: a
 * replay from before it answers E_GAP on its own, is_gap). */
static void
broadcast_gap(prt_events_t *ev, const stream_t *s)
{
    prt_event_hdr_t   hdr;
    char              json[256];
    int               n;

    memset(&hdr, 0, sizeof(hdr));
    hdr.stream = s->stream;
    hdr.kind = PRT_EVENT_GAP;
    hdr.seq = prt_events_next_seq(ev);
    if (s->stream == PRT_STREAM_JOB) {
        prt_job_id_format(s->job, hdr.job_id);
    }
    n = snprintf(json, sizeof(json), "{\"type\":\"error\",\"code\":\"E_GAP\","
                 "\"error\":\"events from other nodes may be missing: "
                 "refetch over REST\",\"seq\":%llu,\"%s\":\"%s\"}",
                 (unsigned long long) hdr.seq,
                 s->stream == PRT_STREAM_JOB ? "job_id" : "channel",
                 s->stream == PRT_STREAM_JOB ? hdr.job_id
                                             : stream_names[s->stream]);
    if (n > 0 && (size_t) n < sizeof(json)) {
        broadcast(ev, &hdr, json, (size_t) n);
    }
}

void
prt_events_relay_lost(prt_events_t *ev)
{
    ev->lost_seq = prt_events_next_seq(ev);
    ev->lost_ms = (int64_t) prt_wall_ms();
    for (int i = 1; i < PRT_STREAM_COUNT; i++) {
        if (i != PRT_STREAM_ALERTS) {
            broadcast_gap(ev, &ev->channels[i]);
        }
    }
    for (int b = 0; b < STREAM_BUCKETS; b++) {
        for (const stream_t *s = ev->buckets[b]; s; s = s->h_next) {
            broadcast_gap(ev, s);
        }
    }
}


/* ---- subscribing -------------------------------------------------------- */

/*
 * Could events after `since` be missing from the history? When the history
 * dropped one newer than since; when since is from before this engine run
 * on a stream that existed then (its events of that run are gone); or from
 * before the relay last lost events of other nodes, on a stream that
 * existed then. started_ms: when the stream began (a job's start; 0 for
 * the channels, which always existed).
 */
static int
is_gap(prt_events_t *ev, const prt_req_subscribe_t *req, const stream_t *s,
    int64_t started_ms)
{
    if (!req->has_since) {
        return 0;
    }
    if (s && req->since < s->dropped) {
        return 1;
    }
    if (req->since < ev->lost_seq && started_ms < ev->lost_ms) {
        return 1;                      /* other nodes' may be missing */
    }
    return started_ms < (int64_t) ev->conf.run_started_ms
           && req->since < ev->start_seq;
}

static void
line_subscribed(prt_json_t *j, const prt_req_subscribe_t *req,
    const stream_t *s)
{
    size_t  replayed = 0;

    for (entry_t *en = s ? s->first : NULL; req->has_since && en;
         en = en->s_next)
    {
        replayed += en->seq > req->since;
    }
    prt_json_open(j);
    prt_json_kstr(j, "type", "subscribed");
    if (req->stream == PRT_STREAM_JOB) {
        prt_json_kstr(j, "job_id", req->job_id);
    } else {
        prt_json_kstr(j, "channel", stream_names[req->stream]);
    }
    prt_json_kuint(j, "last_seq", s && s->last ? s->last->seq : 0);
    prt_json_kuint(j, "replayed", replayed);
    prt_json_close(j);
}

static void
line_error(prt_json_t *j, const prt_req_subscribe_t *req, const char *code,
    const char *message)
{
    prt_json_open(j);
    prt_json_kstr(j, "type", "error");
    prt_json_kstr(j, "code", code);
    prt_json_kstr(j, "error", message);
    if (req->stream == PRT_STREAM_JOB) {
        prt_json_kstr(j, "job_id", req->job_id);
    } else {
        prt_json_kstr(j, "channel", stream_names[req->stream]);
    }
    if (req->has_since) {
        prt_json_kuint(j, "since", req->since);
    }
    prt_json_close(j);
}

/* One line of the answer: a rendered JSON message and its newline. */
typedef struct {
    char    *buf;
    size_t   len;
} lines_t;

static int
lines_add(lines_t *l, prt_json_t *j)
{
    const char  *body;
    size_t       len;
    char        *p;

    body = prt_json_body(j, &len);
    p = realloc(l->buf, l->len + len + 1);
    if (p == NULL || prt_json_failed(j)) {
        return -1;
    }
    l->buf = p;
    memcpy(l->buf + l->len, body, len);
    l->len += len;
    l->buf[l->len++] = '\n';
    prt_json_reset(j);
    return 0;
}

static int
lines_replay(lines_t *l, const prt_req_subscribe_t *req, const stream_t *s)
{
    char  *p;

    for (entry_t *en = s ? s->first : NULL; en; en = en->s_next) {
        if (en->seq <= req->since) {
            continue;
        }
        p = realloc(l->buf, l->len + en->len + 1);
        if (p == NULL) {
            return -1;
        }
        l->buf = p;
        memcpy(l->buf + l->len, en->json, en->len);
        l->len += en->len;
        l->buf[l->len++] = '\n';
    }
    return 0;
}

int
prt_events_subscribe(prt_events_t *ev, const prt_req_subscribe_t *req,
    const uint8_t *job, int64_t job_started_ms, char **buf, size_t *len)
{
    prt_json_t        j;
    lines_t           l = { NULL, 0 };
    const stream_t   *s;
    int64_t           started;
    int               gap, rc, status;

    if (prt_json_init(&j) != 0) {
        return -1;
    }
    if (req->stream == PRT_STREAM_JOB) {
        if (job == NULL) {
            line_error(&j, req, "E_NOT_FOUND", "no such job");
            status = lines_add(&l, &j) == 0 ? 404 : -1;
            goto done;
        }
        s = stream_find(ev, PRT_STREAM_JOB, job, 0);
        started = job_started_ms;
    } else {
        s = stream_find(ev, req->stream, NULL, 0);
        started = 0;
    }

    gap = is_gap(ev, req, s, started);
    line_subscribed(&j, req, gap ? NULL : s);
    rc = lines_add(&l, &j);
    if (gap) {
        line_error(&j, req, "E_GAP", "events after the given seq are no "
                   "longer kept: refetch over REST");
        rc |= lines_add(&l, &j);
    } else if (req->has_since) {
        rc |= lines_replay(&l, req, s);
    }
    status = rc == 0 ? 200 : -1;

done:
    prt_json_free(&j);
    if (status < 0) {
        free(l.buf);
        return -1;
    }
    *buf = l.buf;
    *len = l.len;
    return status;
}


/* ---- life cycle --------------------------------------------------------- */

prt_events_t *
prt_events_new(const prt_events_conf_t *conf)
{
    prt_events_t  *ev = calloc(1, sizeof(*ev));

    if (ev == NULL) {
        return NULL;
    }
    ev->conf = *conf;
    for (int i = 0; i < PRT_STREAM_COUNT; i++) {
        ev->channels[i].stream = (uint8_t) i;
    }
    ev->start_seq = prt_events_next_seq(ev);
    return ev;
}

void
prt_events_free(prt_events_t *ev)
{
    entry_t   *en, *next;
    stream_t  *s, *sn;

    if (ev == NULL) {
        return;
    }
    for (en = ev->oldest; en; en = next) {
        next = en->newer;
        free(en);
    }
    for (int b = 0; b < STREAM_BUCKETS; b++) {
        for (s = ev->buckets[b]; s; s = sn) {
            sn = s->h_next;
            free(s);
        }
    }
    free(ev);
}

void
prt_events_stats_json(prt_events_t *ev, prt_json_t *j)
{
    prt_json_open(j);
    prt_json_kuint(j, "published", ev->published);
    prt_json_kuint(j, "history_events", ev->entries);
    prt_json_kuint(j, "history_bytes", ev->bytes);
    prt_json_kuint(j, "history_max_bytes", ev->conf.max_bytes);
    prt_json_kuint(j, "evicted", ev->evicted);
    prt_json_close(j);
}
