/*
 * GET /api/pattern-realtime/performance (SPEC 5.1): the track record of
 * the predictions scanned in a period (New York time: the last hour, since
 * 00:00 today, the last 7 days, or all), optionally for one horizon.
 * Verified predictions are ranked by edge; every bucket (all, top 1/5/10 %,
 * long, short) gives n, long/short counts, win rate, mean and median pnl,
 * or null when it holds no verified prediction.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "forecast/forecast.h"
#include "jobs/results.h"
#include "pattern_rt_msg.h"

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
    prt_pred_list_t         verified;
    int                     rc;
    prt_json_t              json;
} perf_task_t;

static const char *const period_names[] = { "1h", "today", "week", "all" };

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

static int
count_fn(const prt_pred_rec_t *p, void *arg)
{
    perf_task_t  *t = arg;

    if (t->req.horizon && p->horizon != t->req.horizon) {
        return 0;
    }
    t->total++;
    if (p->status == PRT_PRED_PENDING) {
        t->pending++;
    } else if (p->status == PRT_PRED_UNVERIFIABLE) {
        t->unverifiable++;
    } else if (prt_pred_list_push(&t->verified, p) != 0) {
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

static int
pnl_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* Stats of the first n of v (or of one direction when dir >= 0). */
static void
bucket(prt_json_t *j, const char *key, const prt_pred_rec_t *v, size_t n,
    int dir)
{
    double   *pnl = malloc((n ? n : 1) * sizeof(double)), sum = 0;
    size_t    m = 0, longs = 0, wins = 0;

    prt_json_key(j, key);
    for (size_t i = 0; pnl && i < n; i++) {
        if (dir >= 0 && v[i].direction != dir) {
            continue;
        }
        pnl[m++] = v[i].pnl;
        sum += v[i].pnl;
        longs += v[i].direction == PRT_DIRECTION_UP;
        wins += v[i].was_correct == 1;
    }
    if (pnl == NULL || m == 0) {
        prt_json_null(j);
        free(pnl);
        return;
    }
    qsort(pnl, m, sizeof(double), pnl_cmp);

    prt_json_open(j);
    prt_json_kuint(j, "n", m);
    prt_json_kuint(j, "long_count", longs);
    prt_json_kuint(j, "short_count", m - longs);
    prt_json_knum(j, "win_rate", (double) wins / (double) m);
    prt_json_knum(j, "mean_pnl", sum / (double) m);
    prt_json_knum(j, "median_pnl", m % 2 ? pnl[m / 2]
                                         : (pnl[m / 2 - 1] + pnl[m / 2]) / 2);
    prt_json_close(j);
    free(pnl);
}

/* top p %: the first max(1, floor(p n / 100 + 0.5)) by edge */
static size_t
top_count(size_t n, int pct)
{
    size_t  k = (size_t) floor((double) pct * (double) n / 100.0 + 0.5);

    return k < 1 ? 1 : k;
}

static void
render(perf_task_t *t)
{
    prt_json_t            *j = &t->json;
    const prt_pred_rec_t  *v = t->verified.v;
    size_t                 n = t->verified.n;

    prt_results_rank(&t->verified, PRT_SORT_EDGE);
    prt_json_open(j);
    prt_json_kstr(j, "period", period_names[t->req.period]);
    if (t->req.horizon) {
        prt_json_kint(j, "horizon", t->req.horizon);
    } else {
        prt_json_knull(j, "horizon");
    }
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
    bucket(j, "all_stats", v, n, -1);
    bucket(j, "top_1pct", v, n ? top_count(n, 1) : 0, -1);
    bucket(j, "top_5pct", v, n ? top_count(n, 5) : 0, -1);
    bucket(j, "top_10pct", v, n ? top_count(n, 10) : 0, -1);
    bucket(j, "long_stats", v, n, PRT_DIRECTION_UP);
    bucket(j, "short_stats", v, n, PRT_DIRECTION_DOWN);
    prt_json_close(j);
}

static void
perf_run(prt_task_t *task)
{
    perf_task_t  *t = (perf_task_t *) task;

    t->rc = prt_kv_read(prt_store_kv(t->e->store), perf_txn, t);
    if (t->rc == 0) {
        render(t);
    }
}

static void
perf_done(prt_task_t *task)
{
    perf_task_t  *t = (perf_task_t *) task;

    if (t->rc != 0) {
        prt_error("performance: %s", prt_kv_errmsg());
        prt_api_error(t->e, &t->to, PRT_E_INTERNAL, "job store read failed",
                      NULL);
    } else {
        prt_api_reply(t->e, &t->to, 200, &t->json);
    }
    prt_json_free(&t->json);
    prt_pred_list_free(&t->verified);
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
    t->e = e;
    t->to = *to;
    t->now_ms = prt_clock_now_ms(&e->clock);
    t->from_ms = period_start((prt_period_t) t->req.period, t->now_ms);
    t->task.run = perf_run;
    t->task.done = perf_done;
    prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
}
