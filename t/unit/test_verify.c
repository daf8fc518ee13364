/*
 * verify/ on its own: one verification pass over predictions committed to
 * a real job store, against bars in a real bar store, at a fixed clock;
 * the events captured instead of broadcast. The expected outcomes follow
 * SPEC 6 and are worked out here by hand:
 *
 *   day 2024-03-12 (EDT): 00:00 New York is 1710216000 (04:00Z); the
 *   clock is 10:30 New York (minute 630); every prediction is made at bar
 *   t = 10:00 (minute 600) with horizon 15 (t + h = minute 615) unless said
 *   otherwise, grace 300 s.
 *
 *   AAA up at 100, a bar at 615 closing 101: due (that bar ended at 10:16),
 *       verified at 101: return +1 %, pnl +1, correct.
 *   BBB down at 50, bars at 610 (close 49) and 620: due (a bar after
 *       t + h arrived), verified at the close of 610, the latest at or
 *       before 615: return -2 %, pnl +2, correct.
 *   CCC up at 10, no bars: t + h + grace = 10:20 has passed: unverifiable.
 *   DDD up at 10, horizon 60 (11:00), no bars: not due, stays pending.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "clock/clock.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/workq.h"
#include "data/barstore.h"
#include "events/events.h"
#include "forecast/forecast.h"
#include "jobs/store.h"
#include "verify/verify.h"
#include "pattern_rt_msg.h"

#define DAY_START  INT64_C(1710216000)   /* 2024-03-12 00:00 EDT, Unix s */
#define DAY        19794                 /* 2024-03-12, days since 1970 */

typedef struct {
    prt_loop_t  *loop;
    int          verifications[3];       /* by stream */
    int          price_updates[3];
} seen_t;

static char  tmp_root[] = "/tmp/prt-test-verify-XXXXXX";

static int
capture(void *ctx, const void *msg, size_t len)
{
    seen_t           *s = ctx;
    prt_event_hdr_t   hdr;

    memcpy(&hdr, msg, sizeof(hdr));
    if (hdr.stream > PRT_STREAM_PRICES) {
        return 0;
    }
    if (hdr.kind == PRT_EVENT_VERIFICATION) {
        s->verifications[hdr.stream]++;
    } else if (hdr.kind == PRT_EVENT_PRICE_UPDATE) {
        s->price_updates[hdr.stream]++;
    }
    /* the three predictions due are told on the verifications channel */
    if (s->verifications[PRT_STREAM_VERIFICATIONS] == 3) {
        prt_loop_stop(s->loop);
    }
    return 0;
}

/* a pass that never tells (a broken verifier) must not hang the test */
static void
give_up(prt_loop_t *loop, prt_timer_t *timer)
{
    printf("# no third verification event after 30 s: stopping\n");
    prt_loop_stop(loop);
}

static void
pred(prt_pred_rec_t *p, const uint8_t job[PRT_JOB_UUID_LEN],
    const char *symbol, int direction, double price, int horizon)
{
    memset(p, 0, sizeof(*p));
    memcpy(p->job, job, PRT_JOB_UUID_LEN);
    snprintf(p->symbol, sizeof(p->symbol), "%s", symbol);
    p->bar_time = DAY_START + 600 * 60;
    p->scan_time_ms = (p->bar_time + 60) * 1000;
    p->horizon = horizon;
    p->due_ms = (p->bar_time + horizon * 60) * 1000;
    p->direction = (uint8_t) direction;
    p->status = PRT_PRED_PENDING;
    p->was_correct = -1;
    p->price_at_scan = price;
    p->price_at_horizon = NAN;
}

static int
put_bar(prt_barstore_t *bs, const char *ticker, int minute, double close)
{
    prt_bar_t  b;

    memset(&b, 0, sizeof(b));
    b.minute = minute;
    b.open = b.high = b.low = b.close = close;
    b.volume = 100;
    b.transactions = 1;
    return prt_barstore_put_day(bs, ticker, DAY, &b, 1, PRT_BS_MERGE);
}

typedef struct {
    prt_pred_rec_t  by_symbol[4];
    int             n;
} got_t;

static int
collect(const prt_pred_rec_t *p, void *ctx)
{
    got_t  *g = ctx;
    int     i = p->symbol[0] - 'A';          /* AAA, BBB, CCC, DDD */

    if (i >= 0 && i < 4) {
        g->by_symbol[i] = *p;
        g->n++;
    }
    return 0;
}

typedef struct {
    prt_store_t    *store;
    const uint8_t  *job;
    got_t          *got;
} read_t;

static int
read_txn(MDB_txn *txn, void *arg)
{
    read_t  *r = arg;

    return prt_store_job_predictions(r->store, txn, r->job, collect, r->got);
}

int
main(void)
{
    seen_t               seen;
    prt_clock_t          clock;
    prt_kv_conf_t        kc;
    prt_barstore_t      *bars;
    prt_store_t         *store;
    prt_workq_t         *workq;
    prt_events_t        *events;
    prt_verifier_t      *v;
    prt_events_conf_t    ec;
    prt_verifier_conf_t  vc;
    prt_calibrator_t    *calib;
    prt_job_rec_t        job;
    prt_pred_rec_t       preds[4];
    prt_timer_t          guard;
    prt_json_t           j;
    got_t                got;
    char                 dir[256], syms[4][PRT_SYMBOL_SIZE] = {
                             "AAA", "BBB", "CCC", "DDD" };
    const char          *body;
    size_t               len;

    prt_log_set_level(PRT_LOG_WARN);  /* job lines would clutter the TAP */
    if (mkdtemp(tmp_root) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    memset(&seen, 0, sizeof(seen));
    snprintf(dir, sizeof(dir), "%s/bars", tmp_root);
    memset(&kc, 0, sizeof(kc));
    kc.dir = dir;
    kc.map_max = 64 << 20;
    kc.sync = PRT_KV_SYNC_NOMETA;
    if (prt_barstore_open(&bars, &kc) != 0) {
        printf("Bail out! bar store: %s\n", prt_barstore_errmsg());
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s/store", tmp_root);
    if (prt_store_open(&store, dir, 64 << 20) != 0) {
        printf("Bail out! job store\n");
        return 1;
    }

    ok(put_bar(bars, "AAA", 615, 101) == 0 && put_bar(bars, "BBB", 610, 49)
       == 0 && put_bar(bars, "BBB", 620, 48) == 0, "the bars are stored");

    memset(&job, 0, sizeof(job));
    prt_job_id_new(job.id);
    job.status = PRT_JOB_COMPLETED;
    job.total = 4;
    job.completed = 4;
    pred(&preds[0], job.id, "AAA", PRT_DIRECTION_UP, 100, 15);
    pred(&preds[1], job.id, "BBB", PRT_DIRECTION_DOWN, 50, 15);
    pred(&preds[2], job.id, "CCC", PRT_DIRECTION_UP, 10, 15);
    pred(&preds[3], job.id, "DDD", PRT_DIRECTION_UP, 10, 60);
    ok(prt_store_job_create(store, &job,
                            (const char (*)[PRT_SYMBOL_SIZE]) syms, 4) == 0
       && prt_store_commit_chunk(store, &job, preds, 4, NULL, 0) == 0,
       "the job and its four predictions are committed");

    seen.loop = prt_loop_new();
    workq = seen.loop ? prt_workq_new(seen.loop, 1) : NULL;
    if (workq == NULL
        || prt_clock_init(&clock, "2024-03-12T14:30:00Z") != 0)
    {
        printf("Bail out! loop, work queue or clock\n");
        return 1;
    }
    memset(&ec, 0, sizeof(ec));
    ec.max_bytes = 1 << 20;
    ec.max_per_stream = 1000;
    ec.run_started_ms = prt_wall_ms();
    ec.broadcast = capture;
    ec.ctx = &seen;
    events = prt_events_new(&ec);

    vc.loop = seen.loop;
    vc.workq = workq;
    vc.clock = &clock;
    vc.store = store;
    vc.bars = bars;
    vc.events = events;
    vc.interval_ms = 3600 * 1000;      /* only the kick below runs a pass */
    vc.grace_s = 300;
    vc.batch = 1000;
    calib = prt_calibrator_new(PRT_N_HORIZONS, 200.0);
    vc.calib = calib;
    v = events ? prt_verifier_new(&vc) : NULL;
    if (v == NULL) {
        printf("Bail out! verifier\n");
        return 1;
    }

    prt_verifier_ingested(v);          /* a fixed clock: waits for the timer */
    prt_verifier_kick(v);
    memset(&guard, 0, sizeof(guard));
    guard.handler = give_up;
    prt_timer_start(seen.loop, &guard, 30000);
    prt_loop_run(seen.loop);
    prt_timer_stop(seen.loop, &guard);

    memset(&got, 0, sizeof(got));
    {
        read_t  r = { store, job.id, &got };

        is_int(prt_kv_read(prt_store_kv(store), read_txn, &r), 0,
               "the predictions read back");
    }
    is_int(got.n, 4, "all four");

    is_int(got.by_symbol[0].status, PRT_PRED_VERIFIED, "AAA verified");
    is_double(got.by_symbol[0].price_at_horizon, 101, 0, "AAA at 101");
    is_double(got.by_symbol[0].actual_return, 1.0, 1e-12, "AAA +1 %%");
    is_double(got.by_symbol[0].pnl, 1.0, 1e-12, "AAA pnl +1");
    is_int(got.by_symbol[0].was_correct, 1, "AAA correct");

    is_int(got.by_symbol[1].status, PRT_PRED_VERIFIED, "BBB verified");
    is_double(got.by_symbol[1].price_at_horizon, 49, 0,
              "BBB at the close at or before t + h, not after");
    is_double(got.by_symbol[1].actual_return, -2.0, 1e-12, "BBB -2 %%");
    is_double(got.by_symbol[1].pnl, 2.0, 1e-12, "BBB (down) pnl +2");
    is_int(got.by_symbol[1].was_correct, 1, "BBB correct");

    is_int(got.by_symbol[2].status, PRT_PRED_UNVERIFIABLE,
           "CCC without bars, grace passed: unverifiable");
    ok(got.by_symbol[2].verify_note[0] != '\0', "with a note: %s",
       got.by_symbol[2].verify_note);
    is_int(got.by_symbol[3].status, PRT_PRED_PENDING,
           "DDD not due: still pending");

    is_int(seen.verifications[PRT_STREAM_VERIFICATIONS], 3,
           "a verification event per prediction closed, on the channel");
    is_int(seen.verifications[PRT_STREAM_JOB], 3, "and on the job's stream");
    is_int(seen.price_updates[PRT_STREAM_PRICES], 2,
           "a final price_update for each verified one");

    if (prt_json_init(&j) == 0) {
        prt_verifier_stats_json(v, &j);
        body = prt_json_body(&j, &len);
        ok(strstr(body, "\"passes\":1,\"verified\":2,\"unverifiable\":1,"
                  "\"last_pass_checked\":") != NULL,
           "the counters: one pass, 2 verified, 1 unverifiable (%s)", body);
        ok(strstr(body, "\"interval_ms\":3600000,\"grace_s\":300}") != NULL,
           "and its settings");
        prt_json_free(&j);
    }

    /* the calibration is fed the verified ones, numbered in order */
    is_int(prt_calibrator_size(calib), 2, "the calibrator has the 2 verified");
    ok(got.by_symbol[0].calibration_seq >= 1
       && got.by_symbol[1].calibration_seq >= 1
       && got.by_symbol[0].calibration_seq != got.by_symbol[1].calibration_seq,
       "each verified prediction numbered for the calibration");
    is_int(got.by_symbol[2].calibration_seq, 0,
           "the unverifiable one is not numbered");

    prt_verifier_free(v);
    prt_calibrator_free(calib);
    prt_workq_free(workq);
    prt_events_free(events);
    prt_store_close(store);
    prt_barstore_close(bars);
    prt_loop_free(seen.loop);
    {
        char  cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_root);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", tmp_root);
        }
    }
    return done_testing();
}
