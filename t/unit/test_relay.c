/*
 * relay/: the text an event crosses between nodes in (relay/payload.h),
 * its parts, what events/ does with an event of another node and with a
 * gap, and another node's verification read back for the calibrator
 * (verify/heard.h) (docs/scale-out.md, "Events across nodes"). Expected payloads are
 * written out by hand from the format, not produced by the code tested.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "core/loop.h"
#include "events/events.h"
#include "relay/payload.h"
#include "verify/heard.h"

static const char  JOB[] = "00112233-4455-4677-8899-aabbccddeeff";

static prt_event_hdr_t
result_hdr(void)
{
    prt_event_hdr_t  h;

    memset(&h, 0, sizeof(h));
    h.stream = PRT_STREAM_JOB;
    h.kind = PRT_EVENT_RESULT;
    h.direction = 1;
    h.seq = 1796000000000000123ULL;
    h.edge = 0.1;
    snprintf(h.job_id, sizeof(h.job_id), "%s", JOB);
    snprintf(h.symbol, sizeof(h.symbol), "BRK.B");
    return h;
}

static int
decodes(const char *text)
{
    prt_event_hdr_t   h;
    const char       *json;
    size_t            n;

    return prt_relay_decode(text, strlen(text), &h, &json, &n);
}

static void
test_encode_decode(void)
{
    prt_event_hdr_t   h = result_hdr(), back;
    const char       *json = "{\"type\":\"result\",\"seq\":1}", *got;
    char              out[512];
    size_t            n, len;

    n = prt_relay_encode(&h, json, strlen(json), out, sizeof(out));
    is_str(out, "e 0 2 0 1 1796000000000000123 "
           "00112233-4455-4677-8899-aabbccddeeff 0.10000000000000001 BRK.B\n"
           "{\"type\":\"result\",\"seq\":1}", "a result's payload");
    is_int(n, strlen(out), "its length");
    is_int(prt_relay_decode(out, n, &back, &got, &len), PRT_RELAY_EVENT,
           "reads back as an event");
    ok(memcmp(&back, &h, sizeof(h)) == 0, "the same header");
    ok(len == strlen(json) && memcmp(got, json, len) == 0, "the same JSON");

    memset(&h, 0, sizeof(h));
    h.stream = PRT_STREAM_PRICES;
    h.kind = PRT_EVENT_PRICE_UPDATE;
    h.coalesce = 1;
    h.seq = 7;
    n = prt_relay_encode(&h, "{\"seq\":7}", 9, out, sizeof(out));
    is_str(out, "e 2 5 1 0 7 - - -\n{\"seq\":7}", "a channel's event");
    is_int(prt_relay_decode(out, n, &back, &got, &len), PRT_RELAY_EVENT,
           "reads back");
    ok(memcmp(&back, &h, sizeof(h)) == 0, "the same header");

    is_int(prt_relay_encode(&h, "{\"seq\":7}", 9, out, 20), 0,
           "too small a buffer: 0");
    is_int(prt_relay_encode(&h, "{\"a\":\"\0\"}", 9, out, sizeof(out)), 0,
           "a NUL in the JSON: 0");
    is_int(decodes("g\n"), PRT_RELAY_GAP, "a gap");
}

static void
test_refused(void)
{
    static const char *const bad[] = {
        "", "g", "g\nx", "garbage", "e 2 5 1 0 7 - - -",
        "e 2 5 1 0 7 - - -\n", "e 2 5 1 0 7 - - -\n{\"seq\":7",
        "e 2 5 1 0 7 - - -\n[1]", "e 2 5 1 0 7 - - -\n{\"a\":\n1}",
        "e 2 5 1 0 7 - - -\n{\"a\":\"\xff\"}", "e 2 5 1 0 7 - - - \n{}",
        "e 4 5 1 0 7 - - -\n{}", "e 3 2 0 0 7 - 0.5 A\n{}",
        "e 0 2 0 0 7 - 0.5 A\n{}", "e 2 6 0 0 7 - - -\n{}",
        "e 2 0 0 0 7 - - -\n{}", "e 2 5 2 0 7 - - -\n{}",
        "e 2 5 0 2 7 - - -\n{}", "e 2 5 0 0 07 - - -\n{}",
        "e 2 5 0 0 18446744073709551616 - - -\n{}", "e 2 5 0 0 -1 - - -\n{}",
        "e 2 5 0 0 7 - 0.5 -\n{}", "e 0 2 0 0 7 "
        "00112233-4455-4677-8899-AABBCCDDEEFF 0.5 A\n{}",
        "e 0 2 0 0 7 00112233-4455-4677-8899-aabbccddeef 0.5 A\n{}",
        "e 0 2 0 0 7 00112233-4455-4677-8899-aabbccddeeff nan A\n{}",
        "e 0 2 0 0 7 00112233-4455-4677-8899-aabbccddeeff 1e999 A\n{}",
        "e 0 2 0 0 7 00112233-4455-4677-8899-aabbccddeeff 0.5 a\n{}",
        "e 0 2 0 0 7 00112233-4455-4677-8899-aabbccddeeff 0.5 ABCDEFGHIJK\n{}",
        "e  2 5 0 0 7 - - -\n{}", "E 2 5 0 0 7 - - -\n{}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(decodes(bad[i]), -1, "refused: \"%s\"", bad[i]);
    }
    is_int(decodes("e 0 2 0 0 18446744073709551615 "
                   "00112233-4455-4677-8899-aabbccddeeff -0.5 A.B-1\n{}"),
           PRT_RELAY_EVENT, "the largest seq, a negative edge: taken");
}

/* Parts of a long payload, cut after multibyte characters, put together. */
static void
test_parts(void)
{
    size_t     len = 3 * PRT_RELAY_PART_MAX + 100, at, n, skip, total = 0;
    char      *text = malloc(len), *whole = malloc(len), part[8200];
    unsigned   count, index, parts = 0;
    int        cut_inside = 0;

    /* "é" (2 bytes) and "€" (3 bytes) all the way: every cut is near one */
    for (at = 0; at + 3 <= len; ) {
        if ((at / 5) % 2) {
            memcpy(text + at, "\xc3\xa9", 2);
            at += 2;
        } else {
            memcpy(text + at, "\xe2\x82\xac", 3);
            at += 3;
        }
    }
    len = at;
    for (at = 0; at < len; at += n, parts++) {
        n = prt_relay_part_len(text, len, at);
        ok(n > 0 && n <= PRT_RELAY_PART_MAX, "part %u: %zu bytes", parts, n);
        cut_inside |= at + n < len
                      && ((unsigned char) text[at + n] & 0xc0) == 0x80;
        memcpy(whole + total, text + at, n);
        total += n;
    }
    ok(!cut_inside, "no part ends inside a character");
    is_int(parts, 4, "four parts");
    ok(total == len && memcmp(whole, text, len) == 0,
       "together, the payload");

    snprintf(part, sizeof(part), "p 4 3\nabc");
    ok(prt_relay_part(part, strlen(part), &count, &index, &skip) == 0
       && count == 4 && index == 3 && skip == 6, "a part's head");
    static const char *const bad[] = {
        "p 4 4\nx", "p 1 0\nx", "p 4 3\n", "p 4 3 x", "p 4\nx", "p 04 1\nx",
        "p 4097 1\nx", "q 4 3\nx", "p 4 -1\nx",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(prt_relay_part(bad[i], strlen(bad[i]), &count, &index, &skip),
               -1, "not a part: \"%s\"", bad[i]);
    }
    free(text);
    free(whole);
}


/* ---- events/ with other nodes ----------------------------------------- */

typedef struct {
    prt_event_hdr_t   hdr[8];
    char              json[8][512];
    size_t            n, relayed;
} seen_t;

static int
capture(void *ctx, const void *msg, size_t len)
{
    seen_t  *s = ctx;
    size_t   body = len - sizeof(prt_event_hdr_t);

    if (s->n == 8 || body >= sizeof(s->json[0])) {
        return -1;
    }
    memcpy(&s->hdr[s->n], msg, sizeof(prt_event_hdr_t));
    memcpy(s->json[s->n], (const char *) msg + sizeof(prt_event_hdr_t), body);
    s->json[s->n][body] = '\0';
    s->n++;
    return 0;
}

static void
count_relayed(void *ctx, const prt_event_hdr_t *hdr, const char *json,
    size_t len)
{
    ((seen_t *) ctx)->relayed++;
}

static int
subscribe_since(prt_events_t *ev, uint64_t since, int64_t started,
    const uint8_t *job, char *out, size_t size)
{
    prt_req_subscribe_t  req;
    char                *buf = NULL;
    size_t               len = 0;
    int                  status;

    memset(&req, 0, sizeof(req));
    req.stream = PRT_STREAM_JOB;
    snprintf(req.job_id, sizeof(req.job_id), "%s", JOB);
    req.has_since = 1;
    req.since = since;
    status = prt_events_subscribe(ev, &req, job, started, &buf, &len);
    snprintf(out, size, "%.*s", (int) len, buf ? buf : "");
    free(buf);
    return status;
}

static void
test_events_of_other_nodes(void)
{
    seen_t              s;
    prt_events_conf_t   c;
    prt_events_t       *ev;
    prt_event_hdr_t     h = result_hdr();
    uint8_t             job[PRT_JOB_UUID_LEN];
    char                want[128], out[2048];
    uint64_t            mine, seq;
    int64_t             now = (int64_t) prt_wall_ms();
    const char         *other = "{\"type\":\"result\",\"seq\":123,"
                                "\"data\":{\"seq\":5}}";

    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    c.max_bytes = 1 << 20;
    c.max_per_stream = 100;
    c.run_started_ms = 0;
    c.broadcast = capture;
    c.ctx = &s;
    c.relay = count_relayed;
    c.relay_ctx = &s;
    ev = prt_events_new(&c);
    prt_job_id_parse(JOB, job);

    mine = prt_events_next_seq(ev);
    prt_events_publish_text(ev, PRT_STREAM_JOB, PRT_EVENT_PROGRESS, 0, job,
                            mine, "{\"seq\":1}", 9);
    is_int(s.relayed, 1, "an event of this node goes to the others");

    /* another node's, with a seq far ahead of this node's */
    h.seq = mine + 1000000;
    prt_events_publish_relayed(ev, &h, other, strlen(other));
    is_int(s.relayed, 1, "one of another node's does not go back");
    is_int(s.n, 2, "it is broadcast here");
    seq = s.hdr[1].seq;
    ok(seq > h.seq, "under a seq of this node above the one it came with");
    snprintf(want, sizeof(want), "{\"type\":\"result\",\"seq\":%llu,"
             "\"data\":{\"seq\":5}}", (unsigned long long) seq);
    is_str(s.json[1], want, "its JSON says that seq (the first \"seq\")");
    ok(s.hdr[1].direction == 1 && s.hdr[1].edge == 0.1
       && strcmp(s.hdr[1].symbol, "BRK.B") == 0
       && strcmp(s.hdr[1].job_id, JOB) == 0,
       "with the header the alerts are made from");
    ok(prt_events_next_seq(ev) > seq, "this node's next seq is above it");

    is_int(subscribe_since(ev, mine, now - 1000, job, out, sizeof(out)), 200,
           "a replay from this node's event");
    ok(strstr(out, want) != NULL, "replays the other node's");

    /* the relay missed events: E_GAP live and for an older since */
    prt_events_relay_lost(ev);
    ok(s.n >= 4, "a gap is broadcast on the streams");
    ok(strstr(s.json[s.n - 1], "\"code\":\"E_GAP\"") != NULL
       && s.hdr[s.n - 1].kind == PRT_EVENT_GAP, "as an E_GAP error event");
    subscribe_since(ev, seq, now - 1000, job, out, sizeof(out));
    ok(strstr(out, "E_GAP") != NULL, "a since from before: E_GAP");
    subscribe_since(ev, seq, now + 60000, job, out, sizeof(out));
    ok(strstr(out, "E_GAP") == NULL, "not for a job started after it");

    h.seq = 5;
    h.stream = PRT_STREAM_JOB;
    snprintf(h.job_id, sizeof(h.job_id), "not-a-job");
    s.n = 0;
    prt_events_publish_relayed(ev, &h, "{\"seq\":5}", 9);
    is_int(s.n, 0, "a job event without a job id: dropped");
    h = result_hdr();
    prt_events_publish_relayed(ev, &h, "{\"no\":5}", 8);
    is_int(s.n, 0, "one without a seq: dropped");
    prt_events_free(ev);
}

/* Another node's verification, read back for the calibrator. */
static void
test_heard(void)
{
    prt_heard_t  h;
    const char  *verified = "{\"type\":\"verification\",\"seq\":9,"
        "\"data\":{\"id\":77,\"horizon\":15,\"prob_up\":0.615,"
        "\"actual_return\":-0.25,\"verified_at\":\"2024-01-08T17:00:00.250Z\","
        "\"verification\":\"verified\"}}";
    const char  *unverifiable = "{\"data\":{\"id\":78,\"horizon\":15,"
        "\"prob_up\":0.5,\"actual_return\":null,\"verified_at\":null,"
        "\"verification\":\"unverifiable\"}}";
    static const char *const bad[] = {
        "", "{", "[]", "{\"data\":1}",
        "{\"data\":{\"id\":1,\"horizon\":15,\"prob_up\":0.5,"
        "\"actual_return\":0,\"verified_at\":\"2024-01-08T17:00:00Z\","
        "\"verification\":\"pending\"}}",
        "{\"data\":{\"id\":1,\"horizon\":11,\"prob_up\":0.5,"
        "\"actual_return\":0,\"verified_at\":\"2024-01-08T17:00:00Z\","
        "\"verification\":\"verified\"}}",
        "{\"data\":{\"id\":1,\"horizon\":15,\"prob_up\":0.5,"
        "\"actual_return\":null,\"verified_at\":\"2024-01-08T17:00:00Z\","
        "\"verification\":\"verified\"}}",
        "{\"data\":{\"id\":1,\"horizon\":15,\"prob_up\":0.5,"
        "\"actual_return\":0,\"verified_at\":\"yesterday\","
        "\"verification\":\"verified\"}}",
        "{\"data\":{\"id\":\"1\",\"horizon\":15,\"prob_up\":0.5,"
        "\"actual_return\":0,\"verified_at\":\"2024-01-08T17:00:00Z\","
        "\"verification\":\"verified\"}}",
    };

    is_int(prt_heard_parse(verified, strlen(verified), &h), 1,
           "a verified prediction");
    ok(h.id == 77 && h.horizon_idx == 10 && h.prob_up == 0.615
       && h.actual_return == -0.25 && h.verified_at_ms == 1704733200250LL,
       "its id, horizon index (15 min: 10), raw prob_up, return, time");
    is_int(prt_heard_parse(unverifiable, strlen(unverifiable), &h), 0,
           "an unverifiable one: nothing to calibrate on");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(prt_heard_parse(bad[i], strlen(bad[i]), &h), -1,
               "refused: %s", bad[i]);
    }
}

int
main(void)
{
    test_encode_decode();
    test_refused();
    test_parts();
    test_events_of_other_nodes();
    test_heard();
    return done_testing();
}
