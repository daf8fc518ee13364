#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "events/events.h"
#include "forecast/forecast.h"
#include "index/pattern.h"
#include "jobs/render.h"
#include "jobs/results.h"
#include "verify/verify.h"

/* predictions whose events one turn of the loop publishes */
#define PRT_PUBLISH_SLICE  4096

typedef struct pass_s  pass_t;

struct prt_verifier_s {
    prt_verifier_conf_t  conf;
    prt_timer_t     timer;
    prt_timer_t     publish_timer;
    pass_t         *publishing;       /* its events are going out */
    int             running;          /* a pass is on a worker thread or
                                         publishing */
    int             again;            /* run another when it returns */
    uint64_t        passes;
    uint64_t        verified;
    uint64_t        unverifiable;
    uint64_t        last_checked;
    uint64_t        last_pass_us;
    uint64_t        max_pass_us;
    int64_t         last_clock_ms;
};

/* The text of one prediction's events, rendered on the worker: JSON
 * objects without their opening brace (see prt_events_publish_tail). */
typedef struct {
    size_t   off;
    size_t   verification_len;
    size_t   price_len;                   /* 0: no final price_update */
} tails_t;

struct pass_s {
    prt_task_t        task;
    prt_verifier_t   *v;
    prt_store_t      *store;
    prt_barstore_t   *bars;
    int64_t           now_ms;
    int64_t           grace_ms;
    size_t            limit;
    uint64_t          seq[PRT_N_HORIZONS];  /* last calibration_seq given */
    prt_pred_list_t   due;            /* read from the pending ordering */
    prt_pred_list_t   out;            /* verified or unverifiable */
    int               full;           /* the pass stopped at its limit */
    int               rc;
    int               unrendered;     /* stored, events not rendered */
    char              err[256];
    uint64_t          us;             /* read, verify and commit */
    uint64_t          render_us;      /* the events' text */
    tails_t          *tails;          /* one per out */
    char             *text;
    size_t            text_len;
    size_t            text_cap;
    size_t            published;      /* out[0..published) told */
};

static void verifier_start(prt_verifier_t *v);

static uint64_t
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


/* ---- the pass (worker thread) ------------------------------------------- */

static int
collect_due(const prt_pred_rec_t *p, void *arg)
{
    pass_t  *t = arg;

    if (t->due.n >= t->limit) {
        t->full = 1;
        return 1;
    }
    return prt_pred_list_push(&t->due, p) == 0 ? 0 : -1;
}

static int
due_txn(MDB_txn *txn, void *arg)
{
    pass_t  *t = arg;

    return prt_store_pending_due(t->store, txn, t->now_ms, collect_due, t);
}

static int
by_symbol_day(const void *a, const void *b)
{
    const prt_pred_rec_t  *x = a, *y = b;
    int                    c = strcmp(x->symbol, y->symbol);

    if (c) {
        return c;
    }
    return (x->bar_time > y->bar_time) - (x->bar_time < y->bar_time);
}

/* The bars of one (symbol, day). */
typedef struct {
    char        symbol[PRT_SYMBOL_SIZE];
    prt_day_t   day;
    int         n;
    prt_bar_t   bars[PRT_BS_DAY_BARS];
} day_cache_t;

static int
load_day(prt_barstore_t *bs, MDB_txn *txn, const prt_pred_rec_t *p,
    day_cache_t *c)
{
    memcpy(c->symbol, p->symbol, PRT_SYMBOL_SIZE);
    c->day = (prt_day_t) prt_ny_day_of_utc(p->bar_time);
    c->n = prt_barstore_get_day(bs, txn, p->symbol, c->day, c->bars,
                                PRT_BS_DAY_BARS);
    return c->n < 0 ? -1 : 0;
}

/*
 * The minute of the day p is verified at: t+h, or the day's last minute
 * (post close - 1) when t+h lies past the end of the extended session
 * (SPEC 6: verified at that day's last bar). Sets *u and returns it.
 */
static int
verify_minute(const day_cache_t *c, const prt_pred_rec_t *p, int *u)
{
    prt_trading_day_t  td;
    int64_t            day_start = prt_ny_day_start_utc(c->day);

    prt_calendar_day(c->day, &td);
    *u = (int) ((p->bar_time - day_start) / 60) + p->horizon;
    if (*u > td.post_close - 1) {
        *u = td.post_close - 1;
    }
    return *u;
}

/*
 * Due (SPEC 6): a bar of the ticker starting at or after minute u has
 * arrived, i.e. it has ended by the clock (a store filled ahead of a
 * replay's clock holds bars that have not "arrived" yet), or the clock has
 * passed the end of minute u plus the grace. The grace is the time a late
 * bar is waited for, so it starts when the bar could first exist: a
 * minute's bars come in several batches, and the first of them moves a
 * feed clock past the minute while the others are still on their way.
 */
static int
is_due(const pass_t *t, const day_cache_t *c, int u)
{
    int64_t  day_start = prt_ny_day_start_utc(c->day);
    int64_t  u_end_ms = (day_start + (int64_t) u * 60 + 60) * 1000;

    if (t->now_ms >= u_end_ms + t->grace_ms) {
        return 1;
    }
    for (int i = c->n - 1; i >= 0 && c->bars[i].minute >= u; i--) {
        if ((day_start + (int64_t) c->bars[i].minute * 60 + 60) * 1000
            <= t->now_ms)
        {
            return 1;
        }
    }
    return 0;
}

/* Verifies p from the cached day, or returns 0 when it is not due yet. */
static int
verify_one(pass_t *t, const day_cache_t *c, prt_pred_rec_t *p)
{
    int      u;
    double   price;

    if (!is_due(t, c, verify_minute(c, p, &u))) {
        return 0;                       /* wait for the bar, or for grace */
    }
    p->verified_at_ms = t->now_ms;

    price = c->n > 0 ? prt_close_at(c->bars, (size_t) c->n, u) : NAN;
    if (!(price > 0) || !isfinite(price) || !(p->price_at_scan > 0)) {
        p->status = PRT_PRED_UNVERIFIABLE;
        snprintf(p->verify_note, sizeof(p->verify_note),
                 "no bar of %s at or before the horizon", p->symbol);
        return 1;
    }
    p->status = PRT_PRED_VERIFIED;
    p->price_at_horizon = price;
    p->actual_return = 100.0 * (price / p->price_at_scan - 1.0);
    if (p->direction == PRT_DIRECTION_UP) {
        p->was_correct = p->actual_return > 0;
        p->pnl = p->actual_return;
    } else {
        p->was_correct = p->actual_return < 0;
        p->pnl = -p->actual_return;
    }
    return 1;
}

static int
verify_txn(MDB_txn *txn, void *arg)
{
    pass_t       *t = arg;
    day_cache_t  *c = malloc(sizeof(*c));
    int           rc = 0;

    if (c == NULL) {
        return -1;
    }
    c->symbol[0] = '\0';
    for (size_t i = 0; i < t->due.n && rc == 0; i++) {
        prt_pred_rec_t  *p = &t->due.v[i];

        if (strcmp(c->symbol, p->symbol) != 0
            || c->day != prt_ny_day_of_utc(p->bar_time))
        {
            rc = load_day(t->bars, txn, p, c);
        }
        if (rc == 0 && verify_one(t, c, p)) {
            rc = prt_pred_list_push(&t->out, p);
        }
    }
    free(c);
    return rc;
}

static int
text_append(pass_t *t, prt_json_t *j, size_t *len)
{
    const char  *body = prt_json_body(j, len);

    if (prt_json_failed(j) || *len < 2) {
        return -1;
    }
    body++;                             /* the tail: no opening brace */
    (*len)--;
    if (t->text_len + *len > t->text_cap) {
        size_t  cap = (t->text_cap ? t->text_cap * 2 : 65536) + *len;
        char   *text = realloc(t->text, cap);

        if (text == NULL) {
            return -1;
        }
        t->text = text;
        t->text_cap = cap;
    }
    memcpy(t->text + t->text_len, body, *len);
    t->text_len += *len;
    return 0;
}

static void
render_verification(prt_json_t *j, const prt_pred_rec_t *p)
{
    prt_json_open(j);
    prt_json_kuint(j, "prediction_id", p->id);
    prt_json_kstr(j, "symbol", p->symbol);
    prt_json_knum(j, "actual_return", p->actual_return);
    if (p->status == PRT_PRED_VERIFIED) {
        prt_json_kbool(j, "was_correct", p->was_correct == 1);
    } else {
        prt_json_knull(j, "was_correct");
    }
    prt_json_knum(j, "pnl", p->pnl);
    prt_json_ktime(j, "verified_at", p->verified_at_ms);
    prt_json_key(j, "data");
    prt_render_result(j, p);
    prt_json_close(j);
}

/* The last price_update of a prediction: its horizon is reached. */
static void
render_final_price(prt_json_t *j, const prt_pred_rec_t *p)
{
    prt_price_subject_t  s = { p->id, p->symbol, p->direction,
                               p->price_at_scan };

    prt_render_price_update(j, &s, p->price_at_horizon, p->verified_at_ms, 0);
}

/* Renders here so that the loop thread only copies text into the rings:
 * a pass of 100000 verifications would otherwise stall it for seconds. */
static int
render_tails(pass_t *t)
{
    prt_json_t  j;
    int         rc = 0;

    t->tails = calloc(t->out.n, sizeof(*t->tails));
    if (t->tails == NULL || prt_json_init(&j) != 0) {
        return -1;
    }
    for (size_t i = 0; rc == 0 && i < t->out.n; i++) {
        const prt_pred_rec_t  *p = &t->out.v[i];
        tails_t               *tl = &t->tails[i];

        tl->off = t->text_len;
        prt_json_reset(&j);
        render_verification(&j, p);
        rc = text_append(t, &j, &tl->verification_len);
        if (rc == 0 && p->status == PRT_PRED_VERIFIED) {
            prt_json_reset(&j);
            render_final_price(&j, p);
            rc = text_append(t, &j, &tl->price_len);
        }
    }
    prt_json_free(&j);
    return rc;
}

/*
 * Reads what is due, verifies it, stores it and renders its events, all
 * off the loop thread. The store's writes are serialised by LMDB; a chunk
 * commit on the loop thread waits at most for this one transaction, whose
 * size verify_batch bounds.
 */
/* calibration_seq, in the order pass_done feeds the calibrator: called
 * on the predictions this node claimed, so the numbers it stores are the
 * ones its calibrator counts */
static void
number_verified(prt_pred_rec_t *preds, size_t n, void *ctx)
{
    pass_t  *t = ctx;

    for (size_t i = 0; i < n; i++) {
        prt_pred_rec_t  *p = &preds[i];

        if (p->status == PRT_PRED_VERIFIED) {
            p->calibration_seq = ++t->seq[prt_horizon_index(p->horizon)];
        }
    }
}

static void
pass_run(prt_task_t *task)
{
    pass_t    *t = (pass_t *) task;
    uint64_t   t0 = now_us();

    t->rc = prt_store_read(t->store, due_txn, t);
    if (t->rc == 0 && t->due.n) {
        /* one read of each (symbol, day), not one per prediction */
        qsort(t->due.v, t->due.n, sizeof(*t->due.v), by_symbol_day);
        t->rc = prt_barstore_read(t->bars, verify_txn, t);
    }
    if (t->rc == 0 && t->out.n) {
        /* out[] becomes what this node stored: on PostgreSQL another
         * node may have verified (and told) some of them already */
        t->rc = prt_store_verify_claimed(t->store, t->out.v, &t->out.n,
                                         number_verified, t);
    }
    t->us = now_us() - t0;
    if (t->rc != 0) {
        snprintf(t->err, sizeof(t->err), "%s", prt_kv_errmsg());
    } else if (t->out.n && render_tails(t) != 0) {
        t->unrendered = 1;              /* stored, but not told */
    }
    t->render_us = now_us() - t0 - t->us;
}


/* ---- events (loop thread) ----------------------------------------------- */

static void
publish_tails(prt_events_t *ev, const prt_pred_rec_t *p, const char *text,
    const tails_t *tl)
{
    const char  *v = text + tl->off, *price = v + tl->verification_len;

    prt_events_publish_tail(ev, PRT_STREAM_JOB, PRT_EVENT_VERIFICATION,
                            "verification", p->job, v, tl->verification_len);
    prt_events_publish_tail(ev, PRT_STREAM_VERIFICATIONS,
                            PRT_EVENT_VERIFICATION, "verification", p->job, v,
                            tl->verification_len);
    if (tl->price_len) {
        prt_events_publish_tail(ev, PRT_STREAM_JOB,
                                PRT_EVENT_PRICE_UPDATE, "price_update",
                                p->job, price, tl->price_len);
        prt_events_publish_tail(ev, PRT_STREAM_PRICES,
                                PRT_EVENT_PRICE_UPDATE, "price_update",
                                p->job, price, tl->price_len);
    }
}

static void
pass_free(pass_t *t)
{
    prt_pred_list_free(&t->due);
    prt_pred_list_free(&t->out);
    free(t->tails);
    free(t->text);
    free(t);
}

/* The pass is told: the next one may start. */
static void
pass_finish(prt_verifier_t *v, pass_t *t)
{
    v->publishing = NULL;
    v->running = 0;
    /* a full pass that verified nothing read only predictions waiting for
     * their bar: running it again now would find the same */
    if ((t->full && t->out.n) || v->again) {
        v->again = 0;
        verifier_start(v);
    }
    pass_free(t);
}

/*
 * Stored first, then told (SPEC 6): the events of PRT_PUBLISH_SLICE
 * predictions per turn of the loop, so that a pass of 100,000 does not
 * hold requests and WebSocket events back for the whole of it.
 */
static void
publish_slice(prt_verifier_t *v, pass_t *t)
{
    size_t  end = t->published + PRT_PUBLISH_SLICE;

    end = end < t->out.n ? end : t->out.n;
    for (size_t i = t->published; i < end; i++) {
        publish_tails(v->conf.events, &t->out.v[i], t->text, &t->tails[i]);
    }
    t->published = end;

    if (end < t->out.n) {
        v->publishing = t;
        prt_timer_start(v->conf.loop, &v->publish_timer, 0);
        return;
    }
    pass_finish(v, t);
}

static void
publish_timer(prt_loop_t *loop, prt_timer_t *timer)
{
    prt_verifier_t  *v = timer->data;

    publish_slice(v, v->publishing);
}

static void
pass_done(prt_task_t *task)
{
    pass_t          *t = (pass_t *) task;
    prt_verifier_t  *v = t->v;

    v->passes++;
    v->last_checked = t->due.n;
    v->last_pass_us = t->us;
    v->max_pass_us = t->us > v->max_pass_us ? t->us : v->max_pass_us;
    prt_hist_observe(&prt_metrics.verify_pass, (double) t->us / 1e6);
    v->last_clock_ms = t->now_ms;

    if (t->rc != 0) {
        /* nothing was stored: the same predictions are due next pass */
        prt_error("verification pass: %s", t->err);
        pass_finish(v, t);
        return;
    }

    for (size_t i = 0; i < t->out.n; i++) {
        const prt_pred_rec_t  *p = &t->out.v[i];

        if (p->status == PRT_PRED_VERIFIED) {
            v->verified++;
            /* committed: later scans calibrate on it */
            if (prt_calibrator_add(v->conf.calib,
                                   prt_horizon_index(p->horizon),
                                   p->verified_at_ms, p->prob_up,
                                   p->actual_return) != 0)
            {
                prt_error("calibration: out of memory");
            }
        } else {
            v->unverifiable++;
        }
    }
    if (t->unrendered) {
        /* clients see the verifications over REST; subscribers miss them */
        prt_error("verified %zu predictions, but rendering their events ran "
                  "out of memory: none sent", t->out.n);
        pass_finish(v, t);
        return;
    }
    if (t->out.n) {
        prt_debug("verified %zu predictions (%zu checked) in %llu us, "
                  "events rendered in %llu us", t->out.n, t->due.n,
                  (unsigned long long) t->us,
                  (unsigned long long) t->render_us);
    }
    publish_slice(v, t);
}


/* ---- scheduling --------------------------------------------------------- */

static void
verifier_start(prt_verifier_t *v)
{
    pass_t  *t;

    if (v->running) {
        v->again = 1;
        return;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return;
    }
    t->v = v;
    t->store = v->conf.store;
    t->bars = v->conf.bars;
    t->now_ms = prt_clock_now_ms(v->conf.clock);
    t->grace_ms = (int64_t) v->conf.grace_s * 1000;
    t->limit = v->conf.batch;
    /* passes run one at a time and the calibrator is fed in pass_done, in
     * the order of out[]: the sequence continues where it stands */
    for (int h = 0; h < PRT_N_HORIZONS; h++) {
        t->seq[h] = prt_calibrator_count(v->conf.calib, h);
    }
    t->task.run = pass_run;
    t->task.done = pass_done;
    v->running = 1;
    prt_workq_submit(v->conf.workq, &t->task, PRT_LANE_INTERACTIVE);
}

static void
verifier_timer(prt_loop_t *loop, prt_timer_t *timer)
{
    prt_verifier_t  *v = timer->data;

    verifier_start(v);
    prt_timer_start(loop, &v->timer, v->conf.interval_ms);
}

prt_verifier_t *
prt_verifier_new(const prt_verifier_conf_t *conf)
{
    prt_verifier_t  *v = calloc(1, sizeof(*v));

    if (v == NULL) {
        return NULL;
    }
    v->conf = *conf;
    v->timer.handler = verifier_timer;
    v->timer.data = v;
    v->publish_timer.handler = publish_timer;
    v->publish_timer.data = v;
    prt_timer_start(v->conf.loop, &v->timer, v->conf.interval_ms);
    return v;
}

void
prt_verifier_free(prt_verifier_t *v)
{
    if (v) {
        prt_timer_stop(v->conf.loop, &v->timer);
        prt_timer_stop(v->conf.loop, &v->publish_timer);
        if (v->publishing) {
            pass_free(v->publishing);
        }
        free(v);
    }
}

void
prt_verifier_ingested(prt_verifier_t *v)
{
    if (v->conf.clock->mode == PRT_CLOCK_FEED) {
        verifier_start(v);
    }
}

void
prt_verifier_kick(prt_verifier_t *v)
{
    verifier_start(v);
}

void
prt_verifier_stats_json(prt_verifier_t *v, prt_json_t *j)
{
    prt_json_open(j);
    prt_json_kuint(j, "passes", v->passes);
    prt_json_kuint(j, "verified", v->verified);
    prt_json_kuint(j, "unverifiable", v->unverifiable);
    prt_json_kuint(j, "last_pass_checked", v->last_checked);
    prt_json_knum(j, "last_pass_ms", (double) v->last_pass_us / 1000.0);
    prt_json_knum(j, "max_pass_ms", (double) v->max_pass_us / 1000.0);
    if (v->last_clock_ms) {
        prt_json_ktime(j, "last_pass_clock", v->last_clock_ms);
    }
    prt_json_kuint(j, "interval_ms", v->conf.interval_ms);
    prt_json_kuint(j, "grace_s", v->conf.grace_s);
    prt_json_close(j);
}

/* Prometheus text of the verifier's counters (docs/metrics.md) */
void
prt_verifier_metrics(prt_verifier_t *v, prt_text_t *t)
{
    prt_text_family(t, "pattern_rt_verifications_total", "counter",
                    "predictions judged by verification passes, by result");
    prt_text_sample(t, "pattern_rt_verifications_total",
                    "result=\"verified\"", (double) v->verified);
    prt_text_sample(t, "pattern_rt_verifications_total",
                    "result=\"unverifiable\"", (double) v->unverifiable);
    prt_text_single(t, "pattern_rt_verification_last_pass_checked", "gauge",
                    "due predictions the last pass checked",
                    (double) v->last_checked);
}
