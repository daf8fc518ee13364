/*
 * events/: the broadcast of each event, the replay history per stream and
 * the subscribe answer (docs/websocket.md), on their own: the broadcast is
 * captured here instead of going to the ipc server. Expected texts are
 * written out by hand from the protocol, not produced by the code tested.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "core/loop.h"
#include "events/events.h"
#include "pattern_rt_msg.h"

#define MAX_SEEN  64

/* what the broadcast callback was given */
typedef struct {
    prt_event_hdr_t  hdr[MAX_SEEN];
    char            *json[MAX_SEEN];
    size_t           n;
    int              fail;            /* answer -1 (a full log) */
} seen_t;

static int
capture(void *ctx, const void *msg, size_t len)
{
    seen_t  *s = ctx;
    size_t   body = len - sizeof(prt_event_hdr_t);

    if (s->n == MAX_SEEN || len < sizeof(prt_event_hdr_t)) {
        return -1;
    }
    memcpy(&s->hdr[s->n], msg, sizeof(prt_event_hdr_t));
    s->json[s->n] = malloc(body + 1);
    memcpy(s->json[s->n], (const uint8_t *) msg + sizeof(prt_event_hdr_t),
           body);
    s->json[s->n][body] = '\0';
    s->n++;
    return s->fail ? -1 : 0;
}

static void
seen_free(seen_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->json[i]);
    }
    memset(s, 0, sizeof(*s));
}

static const uint8_t  JOB_A[PRT_JOB_UUID_LEN] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x46, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
};
static const char     JOB_A_TEXT[] = "00112233-4455-4677-8899-aabbccddeeff";
static const uint8_t  JOB_B[PRT_JOB_UUID_LEN] = { 1, 2, 3 };
static const uint8_t  JOB_C[PRT_JOB_UUID_LEN] = { 4, 5, 6 };

static prt_events_t *
events_new(seen_t *s, size_t max_bytes, size_t per_stream, uint64_t start)
{
    prt_events_conf_t  c;

    memset(&c, 0, sizeof(c));
    c.max_bytes = max_bytes;
    c.max_per_stream = per_stream;
    c.run_started_ms = start;
    c.broadcast = capture;
    c.ctx = s;
    return prt_events_new(&c);
}

/* publishes {"n":<n>} on a stream with a new seq; returns the seq */
static uint64_t
publish_n(prt_events_t *ev, uint8_t stream, const uint8_t *job, int n)
{
    char      json[32];
    uint64_t  seq = prt_events_next_seq(ev);
    int       len = snprintf(json, sizeof(json), "{\"n\":%d}", n);

    prt_events_publish_text(ev, stream, PRT_EVENT_RESULT, 0, job, seq, json,
                            (size_t) len);
    return seq;
}

/* the subscribe answer as one string ("" when there is none) */
static int
subscribe(prt_events_t *ev, uint8_t stream, const uint8_t *job,
    int64_t job_started_ms, int has_since, uint64_t since, char *out,
    size_t size)
{
    prt_req_subscribe_t  req;
    char                *buf = NULL;
    size_t               len = 0;
    int                  status;

    memset(&req, 0, sizeof(req));
    req.stream = stream;
    if (stream == PRT_STREAM_JOB) {
        snprintf(req.job_id, sizeof(req.job_id), "%s", JOB_A_TEXT);
    }
    req.has_since = (uint8_t) has_since;
    req.since = since;
    status = prt_events_subscribe(ev, &req, job, job_started_ms, &buf, &len);
    snprintf(out, size, "%.*s", (int) len, buf ? buf : "");
    free(buf);
    return status;
}

static void
test_broadcast(void)
{
    seen_t         s = { 0 };
    prt_events_t  *ev = events_new(&s, 1 << 20, 100, 0);
    uint64_t       seq, floor;

    floor = prt_wall_ms() << 10;
    seq = prt_events_next_seq(ev);
    ok(seq >= floor, "a seq is at least the wall clock in ms << 10");
    ok(prt_events_next_seq(ev) > seq, "seqs increase");

    seq = prt_events_next_seq(ev);
    prt_events_publish_text(ev, PRT_STREAM_JOB, PRT_EVENT_PROGRESS, 1, JOB_A,
                            seq, "{\"x\":1}", 7);
    is_int(s.n, 1, "one event, one broadcast");
    is_int(s.hdr[0].stream, PRT_STREAM_JOB, "header: the stream");
    is_int(s.hdr[0].kind, PRT_EVENT_PROGRESS, "header: the kind");
    is_int(s.hdr[0].coalesce, 1, "header: coalesce");
    ok(s.hdr[0].seq == seq, "header: the seq");
    is_str(s.hdr[0].job_id, JOB_A_TEXT, "header: the job id as a UUID");
    is_str(s.json[0], "{\"x\":1}", "the JSON follows the header unchanged");

    prt_events_publish_text(ev, PRT_STREAM_PRICES, PRT_EVENT_PRICE_UPDATE, 0,
                            NULL, prt_events_next_seq(ev), "{}", 2);
    is_str(s.hdr[1].job_id, "", "a channel event names no job");

    /* a full broadcast log loses the broadcast, not the history */
    s.fail = 1;
    seq = publish_n(ev, PRT_STREAM_PRICES, NULL, 7);
    s.fail = 0;
    {
        char  out[512], want[512];

        subscribe(ev, PRT_STREAM_PRICES, NULL, 0, 1, seq - 1, out,
                  sizeof(out));
        snprintf(want, sizeof(want), "{\"type\":\"subscribed\",\"channel\":"
                 "\"prices\",\"last_seq\":%llu,\"replayed\":1}\n{\"n\":7}\n",
                 (unsigned long long) seq);
        is_str(out, want, "an event the broadcast refused is still replayed");
    }
    prt_events_free(ev);
    seen_free(&s);
}

static void
test_tail(void)
{
    seen_t         s = { 0 };
    prt_events_t  *ev = events_new(&s, 1 << 20, 100, 0);
    char           want[256];
    const char    *ts;
    int            n;

    prt_events_publish_tail(ev, PRT_STREAM_JOB, PRT_EVENT_PRICE_UPDATE,
                            "price_update", JOB_A, "\"price\":2.5}", 12);
    is_int(s.n, 1, "a tail event is broadcast");
    n = snprintf(want, sizeof(want), "{\"type\":\"price_update\",\"job_id\":"
                 "\"%s\",\"seq\":%llu,\"timestamp\":\"", JOB_A_TEXT,
                 (unsigned long long) s.hdr[0].seq);
    ok(strncmp(s.json[0], want, (size_t) n) == 0,
       "type, job_id and seq go in front of the tail");
    ts = s.json[0] + n;
    ok(strlen(ts) == 24 + 1 + 13 && ts[10] == 'T' && ts[23] == 'Z'
       && ts[24] == '"', "then a quoted UTC timestamp (%.26s)", ts);
    is_str(ts + 25, ",\"price\":2.5}", "then the tail");

    /* a tail on a channel names the job in its JSON, not in the header */
    prt_events_publish_tail(ev, PRT_STREAM_PRICES, PRT_EVENT_PRICE_UPDATE,
                            "price_update", JOB_A, "\"price\":3}", 10);
    is_str(s.hdr[1].job_id, "", "a channel tail: no job in the header");
    ok(strstr(s.json[1], JOB_A_TEXT) != NULL,
       "a channel tail: the job in the JSON");
    prt_events_free(ev);
    seen_free(&s);
}

static void
test_subscribe(void)
{
    seen_t         s = { 0 };
    prt_events_t  *ev = events_new(&s, 1 << 20, 3, 1000);
    uint64_t       seq[5];
    char           out[1024], want[1024];
    int            st;

    st = subscribe(ev, PRT_STREAM_JOB, NULL, 0, 0, 0, out, sizeof(out));
    is_int(st, 404, "an unknown job: 404");
    snprintf(want, sizeof(want), "{\"type\":\"error\",\"code\":\"E_NOT_FOUND"
             "\",\"error\":\"no such job\",\"job_id\":\"%s\"}\n", JOB_A_TEXT);
    is_str(out, want, "an unknown job: one E_NOT_FOUND line");

    st = subscribe(ev, PRT_STREAM_JOB, JOB_A, 2000, 0, 0, out, sizeof(out));
    is_int(st, 200, "a job without events: 200");
    snprintf(want, sizeof(want), "{\"type\":\"subscribed\",\"job_id\":\"%s\","
             "\"last_seq\":0,\"replayed\":0}\n", JOB_A_TEXT);
    is_str(out, want, "a job without events: subscribed, last_seq 0");

    for (int i = 0; i < 5; i++) {
        seq[i] = publish_n(ev, PRT_STREAM_JOB, JOB_A, i);
        publish_n(ev, PRT_STREAM_JOB, JOB_B, 100 + i);
    }

    /* 3 kept per stream: events 2, 3, 4 */
    st = subscribe(ev, PRT_STREAM_JOB, JOB_A, 2000, 1, seq[2], out,
                   sizeof(out));
    snprintf(want, sizeof(want), "{\"type\":\"subscribed\",\"job_id\":\"%s\","
             "\"last_seq\":%llu,\"replayed\":2}\n{\"n\":3}\n{\"n\":4}\n",
             JOB_A_TEXT, (unsigned long long) seq[4]);
    is_int(st, 200, "since a kept event: 200");
    is_str(out, want, "since a kept event: the later ones, in order");

    st = subscribe(ev, PRT_STREAM_JOB, JOB_A, 2000, 1, seq[1], out,
                   sizeof(out));
    snprintf(want, sizeof(want), "{\"type\":\"subscribed\",\"job_id\":\"%s\","
             "\"last_seq\":%llu,\"replayed\":3}\n{\"n\":2}\n{\"n\":3}\n"
             "{\"n\":4}\n", JOB_A_TEXT, (unsigned long long) seq[4]);
    is_str(out, want, "since the newest dropped event: no gap");

    st = subscribe(ev, PRT_STREAM_JOB, JOB_A, 2000, 1, seq[0], out,
                   sizeof(out));
    snprintf(want, sizeof(want), "{\"type\":\"subscribed\",\"job_id\":\"%s\","
             "\"last_seq\":0,\"replayed\":0}\n{\"type\":\"error\",\"code\":"
             "\"E_GAP\",\"error\":\"events after the given seq are no longer "
             "kept: refetch over REST\",\"job_id\":\"%s\",\"since\":%llu}\n",
             JOB_A_TEXT, JOB_A_TEXT, (unsigned long long) seq[0]);
    is_int(st, 200, "a gap: the subscription stands (200)");
    is_str(out, want, "a gap: subscribed, then E_GAP, nothing replayed");

    /* a job without events here that started before this run (at 1000):
     * a since from before the run may have missed that run's events */
    st = subscribe(ev, PRT_STREAM_JOB, JOB_C, 999, 1, 1, out, sizeof(out));
    ok(strstr(out, "E_GAP") != NULL,
       "a job of an earlier run, since before this run: E_GAP");
    st = subscribe(ev, PRT_STREAM_JOB, JOB_C, 1000, 1, 1, out, sizeof(out));
    ok(strstr(out, "E_GAP") == NULL,
       "a job of this run, since before it: no gap");

    /* channels always predate the run */
    st = subscribe(ev, PRT_STREAM_VERIFICATIONS, NULL, 0, 1, 1, out,
                   sizeof(out));
    ok(strstr(out, "\"channel\":\"verifications\"") != NULL
       && strstr(out, "E_GAP") != NULL,
       "a channel, since before this run: E_GAP");
    st = subscribe(ev, PRT_STREAM_VERIFICATIONS, NULL, 0, 0, 0, out,
                   sizeof(out));
    ok(strstr(out, "E_GAP") == NULL, "a channel without since: no gap");

    prt_events_free(ev);
    seen_free(&s);
}

/* The whole history is bounded in bytes: the oldest events go first,
 * whatever their stream. */
static void
test_bytes(void)
{
    seen_t         s = { 0 };
    prt_events_t  *ev = events_new(&s, 3 * 7, 100, 0);   /* {"n":N} is 7 */
    uint64_t       a0, b0, a1;
    char           out[512], want[512];
    prt_json_t     j;
    const char    *body;
    size_t         len;

    a0 = publish_n(ev, PRT_STREAM_JOB, JOB_A, 1);
    b0 = publish_n(ev, PRT_STREAM_JOB, JOB_B, 2);
    a1 = publish_n(ev, PRT_STREAM_JOB, JOB_A, 3);
    publish_n(ev, PRT_STREAM_JOB, JOB_B, 4);        /* evicts a0 */

    subscribe(ev, PRT_STREAM_JOB, JOB_A, 0, 1, a0 - 1, out, sizeof(out));
    ok(strstr(out, "E_GAP") != NULL, "the oldest event overall is gone");
    subscribe(ev, PRT_STREAM_JOB, JOB_A, 0, 1, a0, out, sizeof(out));
    snprintf(want, sizeof(want), "{\"type\":\"subscribed\",\"job_id\":\"%s\","
             "\"last_seq\":%llu,\"replayed\":1}\n{\"n\":3}\n", JOB_A_TEXT,
             (unsigned long long) a1);
    is_str(out, want, "what is left of its stream is replayed");
    (void) b0;

    if (prt_json_init(&j) != 0) {
        ok(0, "json");
        return;
    }
    prt_events_stats_json(ev, &j);
    body = prt_json_body(&j, &len);
    is_str(body, "{\"published\":4,\"history_events\":3,\"history_bytes\":21,"
           "\"history_max_bytes\":21,\"evicted\":1}", "the counters");
    prt_json_free(&j);
    prt_events_free(ev);
    seen_free(&s);
}

int
main(void)
{
    test_broadcast();
    test_tail();
    test_subscribe();
    test_bytes();
    return done_testing();
}
