#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "forecast/predict.h"
#include "forecast/window.h"
#include "jobs/scan.h"

/* What a symbol that passed the checks needs for its prediction. */
typedef struct {
    size_t   symbol;                 /* index into the chunk's symbols */
    float    vec[PRT_WINDOW];
    double   price;                  /* close of bar t */
    int64_t  bar_time;
    int32_t  day;
} scan_query_t;

static uint64_t
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void
add_failure(prt_scan_chunk_t *c, size_t i, prt_error_t code,
    const prt_market_state_t *ms, const char *reason)
{
    prt_fail_rec_t  *f = &c->fails[c->nfails++];

    memset(f, 0, sizeof(*f));
    memcpy(f->job, c->job->id, PRT_JOB_UUID_LEN);
    memcpy(f->symbol, c->symbols[i], PRT_SYMBOL_SIZE);
    f->scan_time_ms = c->job->scan_time_ms;
    f->code = (uint8_t) code;
    f->bars_since_open = (int16_t) ms->bars_since_open;
    f->bars_until_close = (int16_t) ms->bars_until_close;
    snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

/* E_WEEKEND / E_MARKET_CLOSED for the whole chunk, or PRT_OK. */
static prt_error_t
market_check(const prt_job_rec_t *job, const prt_market_state_t *ms,
    char *reason, size_t len)
{
    static const uint32_t  bits[] = {
        0, PRT_SESSION_BIT_PRE, PRT_SESSION_BIT_REGULAR, PRT_SESSION_BIT_POST
    };

    if (ms->weekend) {
        snprintf(reason, len, "weekend");
        return PRT_E_WEEKEND;
    }
    if (ms->session == PRT_SESSION_CLOSED) {
        snprintf(reason, len, "market closed: %s",
                 ms->reason ? ms->reason : "outside trading hours");
        return PRT_E_MARKET_CLOSED;
    }
    if (!(job->sessions & bits[ms->session])) {
        snprintf(reason, len, "%s session is not among the job's sessions",
                 prt_session_name(ms->session));
        return PRT_E_MARKET_CLOSED;
    }
    return PRT_OK;
}

static int
check_symbol(prt_scan_chunk_t *c, size_t i, prt_query_window_t *w,
    const prt_market_state_t *ms, scan_query_t *q)
{
    const char   *sym = c->symbols[i];
    int64_t       scan = c->job->scan_time_ms, age;
    prt_error_t   err;
    char          reason[160];

    err = prt_window_latest(c->bars, sym, scan, w, reason, sizeof(reason));

    /* stale data is E_NO_DATA whatever its window looks like (SPEC 4):
     * bar_time is known as soon as a latest bar was found */
    if (err == PRT_OK || err == PRT_E_WINDOW) {
        age = scan - (w->bar_time + 60) * 1000;
        if (age > c->max_staleness_ms) {
            snprintf(reason, sizeof(reason), "latest bar of %s ended %lld s "
                     "before the scan (max_staleness_s %lld)", sym,
                     (long long) (age / 1000),
                     (long long) (c->max_staleness_ms / 1000));
            err = PRT_E_NO_DATA;
        }
    }
    if (err == PRT_OK && (!(w->info.c29 > 0) || !isfinite(w->info.c29))) {
        snprintf(reason, sizeof(reason), "no usable price for %s", sym);
        err = PRT_E_PRICE;
    }
    if (err != PRT_OK) {
        add_failure(c, i, err == PRT_E_INTERNAL ? PRT_E_NO_DATA : err, ms,
                    reason);
        return 0;
    }

    q->symbol = i;
    memcpy(q->vec, w->vec, sizeof(q->vec));
    q->price = w->info.c29;
    q->bar_time = w->bar_time;
    q->day = w->day;
    return 1;
}

static void
add_prediction(prt_scan_chunk_t *c, const scan_query_t *q,
    const prt_forecast_t *f)
{
    const prt_job_rec_t  *job = c->job;
    prt_pred_rec_t       *p = &c->preds[c->npreds++];
    prt_market_state_t    bar_ms;

    memset(p, 0, sizeof(*p));
    memcpy(p->job, job->id, PRT_JOB_UUID_LEN);
    memcpy(p->symbol, c->symbols[q->symbol], PRT_SYMBOL_SIZE);
    prt_market_state(q->bar_time, &bar_ms);
    p->scan_time_ms = job->scan_time_ms;
    p->bar_time = q->bar_time;
    p->horizon = job->f.horizon;
    p->due_ms = (q->bar_time + (int64_t) job->f.horizon * 60) * 1000;
    p->n_neighbors = f->n_neighbors;
    p->session = (uint8_t) bar_ms.session;
    p->direction = (uint8_t) f->direction;
    p->status = PRT_PRED_PENDING;
    p->was_correct = -1;
    p->prob_up = f->prob_up;
    p->prob_down = f->prob_down;
    p->mean_return = f->mean_return;
    p->edge = f->edge;
    p->dist1 = f->dist1;
    p->p10 = f->p10;
    p->p90 = f->p90;
    p->price_at_scan = q->price;
    p->price_at_horizon = NAN;
    p->actual_return = NAN;
    p->pnl = NAN;
    p->n_eff = f->n_eff;
    p->prob_up_ci_lo = f->prob_up_ci_lo;
    p->prob_up_ci_hi = f->prob_up_ci_hi;
    p->prob_up_cal = prt_calib_apply(c->calib, f->prob_up);
    p->edge_cal = prt_edge_of(f->direction, p->prob_up_cal, f->mean_return);
    p->calibration_n = c->calib->n;
}

static void
predict_all(prt_scan_chunk_t *c, scan_query_t *q, size_t nq,
    const prt_market_state_t *ms)
{
    prt_forecast_params_t   p;
    prt_predict_query_t    *pq = malloc((nq ? nq : 1) * sizeof(*pq));
    prt_prediction_t       *out = calloc(nq ? nq : 1, sizeof(*out));
    prt_neighbour_t        *neigh = malloc((nq ? nq : 1) * (size_t) c->job->f.k
                                           * sizeof(prt_neighbour_t));
    char                    err[256];
    uint64_t                t0;
    int                     rc = -1;

    p.k = c->job->f.k;
    p.horizon_idx = prt_horizon_index(c->job->f.horizon);
    p.alpha = c->job->f.alpha;
    p.trim_lo = c->job->f.trim_lo;
    p.trim_hi = c->job->f.trim_hi;
    p.exclude_self = c->job->f.exclude_self;
    p.cross_asset = c->job->f.cross_asset;

    if (pq && out && neigh && c->ix) {
        for (size_t i = 0; i < nq; i++) {
            pq[i].vec = q[i].vec;
            pq[i].ticker = c->symbols[q[i].symbol];
            pq[i].day = q[i].day;
            out[i].neighbours = neigh + i * (size_t) p.k;
        }
        t0 = now_us();
        rc = prt_predict(c->ix, &p, pq, nq, out, err, sizeof(err));
        c->search_us += now_us() - t0;
    } else {
        snprintf(err, sizeof(err), c->ix ? "out of memory"
                                         : "no index is loaded");
    }

    for (size_t i = 0; i < nq; i++) {
        if (rc == 0 && out[i].rc == 0) {
            add_prediction(c, &q[i], &out[i].forecast);
        } else {
            add_failure(c, q[i].symbol, PRT_E_FAISS, ms,
                        rc != 0 ? err : prt_forecast_strerror(out[i].rc));
        }
    }
    free(pq);
    free(out);
    free(neigh);
}

int
prt_scan_chunk_run(prt_scan_chunk_t *c)
{
    prt_market_state_t   ms;
    prt_query_window_t  *w = malloc(sizeof(*w));
    scan_query_t        *q = malloc((c->n ? c->n : 1) * sizeof(*q));
    uint64_t             t0 = now_us();
    prt_error_t          closed;
    char                 reason[160];
    size_t               nq = 0;

    c->preds = calloc(c->n ? c->n : 1, sizeof(prt_pred_rec_t));
    c->fails = calloc(c->n ? c->n : 1, sizeof(prt_fail_rec_t));
    if (w == NULL || q == NULL || c->preds == NULL || c->fails == NULL) {
        free(w);
        free(q);
        return -1;
    }

    prt_market_state(c->job->scan_time_ms / 1000, &ms);
    closed = market_check(c->job, &ms, reason, sizeof(reason));
    for (size_t i = 0; i < c->n; i++) {
        if (closed != PRT_OK) {
            add_failure(c, i, closed, &ms, reason);
        } else {
            nq += (size_t) check_symbol(c, i, w, &ms, &q[nq]);
        }
    }
    if (nq) {
        predict_all(c, q, nq, &ms);
    }
    free(w);
    free(q);
    c->total_us = now_us() - t0;
    return 0;
}

void
prt_scan_chunk_free(prt_scan_chunk_t *c)
{
    free(c->preds);
    free(c->fails);
    c->preds = NULL;
    c->fails = NULL;
}
