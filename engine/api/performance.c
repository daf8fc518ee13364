/*
 * GET /api/pattern-realtime/performance (SPEC 5.1): the track record of
 * the predictions scanned in a period (New York time: the last hour, since
 * 00:00 today, the last 7 days, or all), optionally for one horizon.
 * Verified predictions are ranked by edge; every bucket (all, top 1/5/10 %,
 * long, short) gives n, long/short counts, win rate, mean and median pnl,
 * and what they are worth (SPEC 3.1: the win rate's Wilson interval, the
 * chance win rate and the exact binomial p-value against it, profit
 * factor, average win and loss, maximum drawdown in scan order), or null
 * when it holds no verified prediction. Beside them: the track record by
 * New York day and the calibration tables (raw and calibrated prob_up
 * against the up moves that followed, Brier scores). dedupe=symbol_day
 * keeps only the first prediction of each symbol and day.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "pattern_rt_nytime.h"
#include "core/array.h"
#include "core/log.h"
#include "forecast/forecast.h"
#include "jobs/render.h"
#include "pattern_rt_msg.h"
#include "stats/stats.h"

/* a verified prediction, as the track record needs it */
typedef struct {
    uint64_t  id;
    int64_t   scan_ms;
    double    edge, pnl, actual_return, prob_up, prob_cal;
    uint8_t   up;                       /* direction UP */
    uint8_t   correct;
    uint8_t   member;                   /* in the bucket being computed */
} outcome_t;

typedef struct {
    outcome_t  *v;                      /* scan order */
    size_t      n, cap;
} outcomes_t;

/* (symbol, New York day) keys seen: dedupe=symbol_day */
typedef struct {
    char     symbol[PRT_SYMBOL_SIZE];
    int64_t  day;
} day_key_t;

typedef struct {
    day_key_t  *v;                      /* day == INT64_MIN: empty slot */
    size_t      n, cap;                 /* cap: a power of two */
} day_set_t;

typedef struct {
    prt_task_t              task;
    prt_engine_t           *e;
    prt_reply_t             to;
    prt_req_performance_t   req;
    int64_t                 now_ms;
    int64_t                 from_ms;
    uint64_t                total;
    uint64_t                pending;
    uint64_t                unverifiable;
    outcomes_t              verified;
    size_t                 *ranked;     /* indexes into verified, by edge */
    day_set_t               seen;
    int                     rc;
    prt_json_t              json;
} perf_task_t;

static const char *const period_names[] = { "1h", "today", "week", "all" };
static const char *const dedupe_names[] = { "none", "symbol_day" };

static int64_t
period_start(prt_period_t period, int64_t now_ms)
{
    switch (period) {
    case PRT_PERIOD_1H:
        return now_ms - 3600 * 1000;
    case PRT_PERIOD_TODAY:
        return prt_ny_day_start_utc(prt_ny_day_of_utc(now_ms / 1000)) * 1000;
    case PRT_PERIOD_WEEK:
        return now_ms - 7LL * 86400 * 1000;
    default:
        return INT64_MIN;
    }
}


/* ---- reading ------------------------------------------------------------ */

static uint64_t
day_key_hash(const day_key_t *k)
{
    uint64_t  h = 1469598103934665603ULL;       /* FNV-1a */

    for (size_t i = 0; i < PRT_SYMBOL_SIZE && k->symbol[i]; i++) {
        h = (h ^ (uint8_t) k->symbol[i]) * 1099511628211ULL;
    }
    return (h ^ (uint64_t) k->day) * 1099511628211ULL;
}

static int
day_set_grow(day_set_t *s)
{
    size_t      cap = s->cap ? s->cap * 2 : 1024;
    day_key_t  *v = malloc(cap * sizeof(*v)), *old = s->v;
    size_t      oldcap = s->cap;

    if (v == NULL) {
        return -1;
    }
    for (size_t i = 0; i < cap; i++) {
        v[i].day = INT64_MIN;
    }
    s->v = v;
    s->cap = cap;
    s->n = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].day != INT64_MIN) {
            size_t  j = day_key_hash(&old[i]) & (cap - 1);

            while (v[j].day != INT64_MIN) {
                j = (j + 1) & (cap - 1);
            }
            v[j] = old[i];
            s->n++;
        }
    }
    free(old);
    return 0;
}

/* 1 when the key was new (and is now in), 0 when seen, -1 no memory */
static int
day_set_add(day_set_t *s, const char *symbol, int64_t day)
{
    day_key_t  k;
    size_t     j;

    if ((s->n + 1) * 2 > s->cap && day_set_grow(s) != 0) {
        return -1;
    }
    memset(&k, 0, sizeof(k));
    memcpy(k.symbol, symbol, strnlen(symbol, PRT_SYMBOL_SIZE));
    k.day = day;
    for (j = day_key_hash(&k) & (s->cap - 1); s->v[j].day != INT64_MIN;
         j = (j + 1) & (s->cap - 1))
    {
        if (s->v[j].day == day
            && memcmp(s->v[j].symbol, k.symbol, PRT_SYMBOL_SIZE) == 0)
        {
            return 0;
        }
    }
    s->v[j] = k;
    s->n++;
    return 1;
}

static int
outcomes_push(outcomes_t *o, const prt_pred_rec_t *p)
{
    if (o->n == o->cap) {
        outcome_t  *v = prt_array_grow(o->v, &o->cap, sizeof(*v), 1024);

        if (v == NULL) {
            return -1;
        }
        o->v = v;
    }
    o->v[o->n++] = (outcome_t) {
        .id = p->id, .scan_ms = p->scan_time_ms, .edge = p->edge,
        .pnl = p->pnl, .actual_return = p->actual_return,
        .prob_up = p->prob_up, .prob_cal = p->prob_up_cal,
        .up = p->direction == PRT_DIRECTION_UP,
        .correct = p->was_correct == 1,
    };
    return 0;
}

/* predictions arrive oldest first: the first of a symbol's day is kept */
static int
count_fn(const prt_pred_rec_t *p, void *arg)
{
    perf_task_t  *t = arg;
    int           first;

    if (t->req.horizon && p->horizon != t->req.horizon) {
        return 0;
    }
    if (t->req.dedupe == PRT_DEDUPE_SYMBOL_DAY) {
        first = day_set_add(&t->seen, p->symbol,
                            prt_ny_day_of_utc(p->scan_time_ms / 1000));
        if (first <= 0) {
            return first;
        }
    }
    t->total++;
    if (p->status == PRT_PRED_PENDING) {
        t->pending++;
    } else if (p->status == PRT_PRED_UNVERIFIABLE) {
        t->unverifiable++;
    } else if (outcomes_push(&t->verified, p) != 0) {
        return -1;
    }
    return 0;
}

static int
perf_txn(MDB_txn *txn, void *arg)
{
    perf_task_t  *t = arg;

    /* scan times up to the clock: a replay's clock is market time */
    return prt_store_scanned_between(t->e->store, txn, t->from_ms,
                                     t->now_ms + 1, count_fn, t);
}


/* ---- buckets ------------------------------------------------------------ */

static int
pnl_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* by edge, highest first, ties by prediction id (as GET /job ranks) */
static int
edge_cmp(const void *a, const void *b, void *arg)
{
    const outcome_t  *v = arg;
    const outcome_t  *x = &v[*(const size_t *) a], *y = &v[*(const size_t *) b];

    if (x->edge != y->edge) {
        return x->edge > y->edge ? -1 : 1;
    }
    return (x->id > y->id) - (x->id < y->id);
}

typedef struct {
    size_t   n, longs, wins, nonzero, n_win, n_loss;
    double   sum, win_sum, loss_sum, max_drawdown;
    double  *pnl;                       /* the members' pnl, sorted */
} bucket_stats_t;

/* Sums over the members in scan order (the drawdown needs that order). */
static int
bucket_sum(const outcomes_t *o, size_t n_members, bucket_stats_t *b)
{
    double  cum = 0.0, peak = 0.0;

    memset(b, 0, sizeof(*b));
    b->pnl = malloc((n_members ? n_members : 1) * sizeof(double));
    if (b->pnl == NULL) {
        return -1;
    }
    for (size_t i = 0; i < o->n; i++) {
        const outcome_t  *x = &o->v[i];

        if (!x->member) {
            continue;
        }
        b->pnl[b->n++] = x->pnl;
        b->sum += x->pnl;
        b->longs += x->up;
        b->wins += x->correct;
        b->nonzero += x->actual_return != 0.0;
        if (x->pnl > 0.0) {
            b->n_win++;
            b->win_sum += x->pnl;
        } else if (x->pnl < 0.0) {
            b->n_loss++;
            b->loss_sum += x->pnl;
        }
        cum += x->pnl;
        peak = cum > peak ? cum : peak;
        b->max_drawdown = peak - cum > b->max_drawdown ? peak - cum
                                                       : b->max_drawdown;
    }
    qsort(b->pnl, b->n, sizeof(double), pnl_cmp);
    return 0;
}

static void
knum_or_null(prt_json_t *j, const char *key, int known, double v)
{
    if (known) {
        prt_json_knum(j, key, v);
    } else {
        prt_json_knull(j, key);
    }
}

static void
bucket_render(prt_json_t *j, const bucket_stats_t *b)
{
    double          m = (double) b->n, chance = (double) b->nonzero / (2 * m);
    prt_interval_t  ci = prt_wilson((double) b->wins / m, m, PRT_STATS_Z95);

    prt_json_open(j);
    prt_json_kuint(j, "n", b->n);
    prt_json_kuint(j, "long_count", b->longs);
    prt_json_kuint(j, "short_count", b->n - b->longs);
    prt_json_knum(j, "win_rate", (double) b->wins / m);
    prt_json_knum(j, "mean_pnl", b->sum / m);
    prt_json_knum(j, "median_pnl", b->n % 2 ? b->pnl[b->n / 2]
                  : (b->pnl[b->n / 2 - 1] + b->pnl[b->n / 2]) / 2);
    prt_render_interval(j, "win_rate_ci", ci.lo, ci.hi);
    prt_json_knum(j, "chance_win_rate", chance);
    prt_json_knum(j, "p_value",
                  prt_binomial_upper_tail(b->wins, b->n, chance));
    knum_or_null(j, "profit_factor", b->n_loss > 0,
                 b->win_sum / -b->loss_sum);
    knum_or_null(j, "avg_win", b->n_win > 0, b->win_sum / (double) b->n_win);
    knum_or_null(j, "avg_loss", b->n_loss > 0,
                 b->loss_sum / (double) b->n_loss);
    prt_json_knum(j, "max_drawdown", b->max_drawdown);
    prt_json_close(j);
}

/* The bucket of the first `top` by edge, of one direction when dir >= 0. */
static void
bucket(perf_task_t *t, const char *key, size_t top, int dir)
{
    outcomes_t      *o = &t->verified;
    bucket_stats_t   b;
    size_t           members = 0;

    for (size_t i = 0; i < o->n; i++) {
        o->v[i].member = 0;
    }
    for (size_t r = 0; r < top; r++) {
        outcome_t  *x = &o->v[t->ranked[r]];

        x->member = dir < 0 || x->up == (dir == PRT_DIRECTION_UP);
        members += x->member;
    }
    prt_json_key(&t->json, key);
    if (members == 0 || bucket_sum(o, members, &b) != 0) {
        prt_json_null(&t->json);
        return;
    }
    bucket_render(&t->json, &b);
    free(b.pnl);
}

/* top p %: the first max(1, floor(p n / 100 + 0.5)) by edge */
static size_t
top_count(size_t n, int pct)
{
    size_t  k = (size_t) floor((double) pct * (double) n / 100.0 + 0.5);

    return n == 0 ? 0 : k < 1 ? 1 : k;
}


/* ---- by day and calibration -------------------------------------------- */

static void
render_day(prt_json_t *j, int64_t day, size_t n, size_t wins, double pnl,
    double cum)
{
    char  date[16];

    prt_format_date(day, date, sizeof(date));
    prt_json_open(j);
    prt_json_kstr(j, "date", date);
    prt_json_kuint(j, "n", n);
    prt_json_kuint(j, "wins", wins);
    prt_json_knum(j, "win_rate", (double) wins / (double) n);
    prt_json_knum(j, "pnl", pnl);
    prt_json_knum(j, "cum_pnl", cum);
    prt_json_close(j);
}

/* New York dates in scan order (an equity curve and a calendar) */
static void
by_day(perf_task_t *t)
{
    const outcomes_t  *o = &t->verified;
    prt_json_t        *j = &t->json;
    int64_t            day = 0, d;
    size_t             n = 0, wins = 0;
    double             pnl = 0.0, cum = 0.0;

    prt_json_key(j, "by_day");
    prt_json_array(j);
    for (size_t i = 0; i <= o->n; i++) {
        d = i < o->n ? prt_ny_day_of_utc(o->v[i].scan_ms / 1000) : 0;
        if (n && (i == o->n || d != day)) {
            cum += pnl;
            render_day(j, day, n, wins, pnl, cum);
            n = wins = 0;
            pnl = 0.0;
        }
        if (i < o->n) {
            day = d;
            n++;
            wins += o->v[i].correct;
            pnl += o->v[i].pnl;
        }
    }
    prt_json_array_end(j);
}

/* 1 up, 0.5 a tie, 0 down: prob_up's own tie rule */
static double
up_of(const outcome_t *x)
{
    return x->actual_return > 0.0 ? 1.0 : x->actual_return == 0.0 ? 0.5 : 0.0;
}

#define PRT_PERF_BINS  10

/* ten fixed-width bins [0, 0.1) ... [0.9, 1.0] of raw or calibrated prob */
static void
reliability(prt_json_t *j, const char *key, const outcomes_t *o, int cal)
{
    double          n[PRT_PERF_BINS] = { 0 }, sp[PRT_PERF_BINS] = { 0 };
    double          up[PRT_PERF_BINS] = { 0 }, p, r;
    prt_interval_t  ci;
    int             b;

    for (size_t i = 0; i < o->n; i++) {
        p = cal ? o->v[i].prob_cal : o->v[i].prob_up;
        if (!isfinite(p)) {
            continue;               /* scanned before calibration existed */
        }
        b = (int) floor(p * PRT_PERF_BINS + 1e-9);
        b = b < 0 ? 0 : b >= PRT_PERF_BINS ? PRT_PERF_BINS - 1 : b;
        n[b]++;
        sp[b] += p;
        up[b] += up_of(&o->v[i]);
    }
    prt_json_key(j, key);
    prt_json_array(j);
    for (b = 0; b < PRT_PERF_BINS; b++) {
        r = n[b] > 0 ? up[b] / n[b] : NAN;
        ci = prt_wilson(r, n[b], PRT_STATS_Z95);
        prt_json_open(j);
        prt_json_knum(j, "lo", (double) b / PRT_PERF_BINS);
        prt_json_knum(j, "hi", (double) (b + 1) / PRT_PERF_BINS);
        prt_json_kuint(j, "n", (uint64_t) n[b]);
        prt_json_knum(j, "mean_prob_up", n[b] > 0 ? sp[b] / n[b] : NAN);
        prt_json_knum(j, "realized_up", r);
        prt_render_interval(j, "realized_up_ci", n[b] > 0 ? ci.lo : NAN,
                            ci.hi);
        prt_json_close(j);
    }
    prt_json_array_end(j);
}

/* Brier scores of prob_up, prob_up_calibrated and the period's base rate */
static void
brier(prt_json_t *j, const outcomes_t *o)
{
    double  base = 0.0, raw = 0.0, cal = 0.0, clim = 0.0, y;
    size_t  ncal = 0;

    for (size_t i = 0; i < o->n; i++) {
        base += up_of(&o->v[i]);
    }
    base /= (double) (o->n ? o->n : 1);
    for (size_t i = 0; i < o->n; i++) {
        y = up_of(&o->v[i]);
        raw += (o->v[i].prob_up - y) * (o->v[i].prob_up - y);
        clim += (base - y) * (base - y);
        if (isfinite(o->v[i].prob_cal)) {
            cal += (o->v[i].prob_cal - y) * (o->v[i].prob_cal - y);
            ncal++;
        }
    }
    prt_json_key(j, "brier");
    prt_json_open(j);
    knum_or_null(j, "raw", o->n > 0, raw / (double) o->n);
    knum_or_null(j, "calibrated", ncal > 0, cal / (double) ncal);
    knum_or_null(j, "base_rate", o->n > 0, clim / (double) o->n);
    prt_json_close(j);
}

static void
calibration(perf_task_t *t)
{
    prt_json_t  *j = &t->json;

    prt_json_key(j, "calibration");
    prt_json_open(j);
    reliability(j, "bins", &t->verified, 0);
    reliability(j, "calibrated_bins", &t->verified, 1);
    brier(j, &t->verified);
    prt_json_close(j);
}


static int
render(perf_task_t *t)
{
    prt_json_t  *j = &t->json;
    size_t       n = t->verified.n;

    t->ranked = malloc((n ? n : 1) * sizeof(size_t));
    if (t->ranked == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        t->ranked[i] = i;
    }
    qsort_r(t->ranked, n, sizeof(size_t), edge_cmp, t->verified.v);

    prt_json_open(j);
    prt_json_kstr(j, "period", period_names[t->req.period]);
    if (t->req.horizon) {
        prt_json_kint(j, "horizon", t->req.horizon);
    } else {
        prt_json_knull(j, "horizon");
    }
    prt_json_kstr(j, "dedupe", dedupe_names[t->req.dedupe]);
    if (t->from_ms != INT64_MIN) {
        prt_json_ktime(j, "from", t->from_ms);
    } else {
        prt_json_knull(j, "from");
    }
    prt_json_ktime(j, "to", t->now_ms);
    prt_json_kuint(j, "total_predictions", t->total);
    prt_json_kuint(j, "verified", n);
    prt_json_kuint(j, "pending", t->pending);
    prt_json_kuint(j, "unverifiable", t->unverifiable);
    bucket(t, "all_stats", n, -1);
    bucket(t, "top_1pct", top_count(n, 1), -1);
    bucket(t, "top_5pct", top_count(n, 5), -1);
    bucket(t, "top_10pct", top_count(n, 10), -1);
    bucket(t, "long_stats", n, PRT_DIRECTION_UP);
    bucket(t, "short_stats", n, PRT_DIRECTION_DOWN);
    by_day(t);
    calibration(t);
    prt_json_close(j);
    return 0;
}

static void
perf_run(prt_task_t *task)
{
    perf_task_t  *t = (perf_task_t *) task;

    t->rc = prt_store_read(t->e->store, perf_txn, t);
    if (t->rc == 0) {
        t->rc = render(t);
    }
}

static void
perf_done(prt_task_t *task)
{
    perf_task_t  *t = (perf_task_t *) task;

    if (t->rc != 0) {
        prt_error("performance: %s", prt_kv_errmsg());
        prt_api_error(t->e, &t->to, PRT_E_STORE, PRT_STORE_MESSAGE, NULL);
    } else {
        prt_api_reply(t->e, &t->to, 200, &t->json);
    }
    prt_json_free(&t->json);
    free(t->verified.v);
    free(t->ranked);
    free(t->seen.v);
    free(t);
}

void
prt_api_performance(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    perf_task_t  *t = calloc(1, sizeof(*t));

    if (t == NULL || prt_json_init(&t->json) != 0) {
        free(t);
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return;
    }
    memcpy(&t->req, payload, sizeof(t->req));
    if (t->req.period > PRT_PERIOD_ALL) {
        t->req.period = PRT_PERIOD_ALL;
    }
    if (t->req.dedupe > PRT_DEDUPE_SYMBOL_DAY) {
        t->req.dedupe = PRT_DEDUPE_NONE;
    }
    t->e = e;
    t->to = *to;
    t->now_ms = prt_clock_now_ms(&e->clock);
    t->from_ms = period_start((prt_period_t) t->req.period, t->now_ms);
    t->task.run = perf_run;
    t->task.done = perf_done;
    prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
}
