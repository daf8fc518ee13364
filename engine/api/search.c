/*
 * One-ticker forecasts (SPEC 5.2): POST /api/patterns/search and the front
 * end's /api/search/historical and /api/search/{SYMBOL}. The work (bars,
 * window, FAISS, forecast, JSON) runs on a worker thread; the loop thread
 * only sends the answer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "forecast/predict.h"
#include "forecast/window.h"
#include "index/pattern.h"
#include "jobs/render.h"
#include "pattern_rt_msg.h"

typedef struct {
    prt_task_t           task;
    prt_engine_t        *e;
    prt_reply_t          to;
    prt_req_search_t     req;
    prt_index_t         *ix;
    int64_t              now_ms;
    prt_query_window_t   w;
    prt_prediction_t     pred;
    prt_calib_map_t      calib;       /* verified by the query time */
    prt_neighbour_t      neigh[PRT_K_MAX];
    /* front end: the neighbours' trajectories completed past 20:00 ET, and
       whether each is listed (docs/decisions.md, "No null in a trajectory") */
    float                held[PRT_K_MAX][PRT_N_HORIZONS];
    uint8_t              listed[PRT_K_MAX];
    prt_bar_t            day[PRT_BS_DAY_BARS];   /* a neighbour's day */
    prt_error_t          err;
    char                 reason[256];
    uint64_t             started_ms;
    int                  status;
    prt_json_t           json;
} search_task_t;


/* ---- computing ---------------------------------------------------------- */

static void
forecast_params(const prt_forecast_args_t *a, prt_forecast_params_t *p)
{
    p->k = a->k;
    p->horizon_idx = prt_horizon_index(a->horizon);
    p->alpha = a->alpha;
    p->trim_lo = a->trim_lo;
    p->trim_hi = a->trim_hi;
    p->exclude_self = a->exclude_self;
    p->cross_asset = a->cross_asset;
}

static prt_error_t
search_compute(search_task_t *t)
{
    prt_forecast_params_t  p;
    prt_predict_query_t    q;
    prt_error_t            err;
    char                   ferr[256];

    /* without an index nothing else matters */
    if (t->ix == NULL) {
        snprintf(t->reason, sizeof(t->reason), "no index is loaded");
        return PRT_E_INDEX;
    }

    if (t->req.mode == PRT_SEARCH_HISTORICAL) {
        err = prt_window_at(t->e->bars, t->req.ticker, t->req.time_ms, &t->w,
                            t->reason, sizeof(t->reason));
    } else {
        err = prt_window_latest(t->e->bars, t->req.ticker, t->now_ms, &t->w,
                                t->reason, sizeof(t->reason));
    }
    if (err != PRT_OK) {
        return err;
    }

    forecast_params(&t->req.f, &p);
    q.vec = t->w.vec;
    q.ticker = t->req.ticker;
    q.day = t->w.day;
    t->pred.neighbours = t->neigh;

    if (prt_predict(t->ix, &p, &q, 1, &t->pred, ferr, sizeof(ferr)) != 0) {
        prt_error("search %s: %s", t->req.ticker, ferr);
        snprintf(t->reason, sizeof(t->reason), "index search failed");
        return PRT_E_FAISS;
    }
    if (t->pred.rc != 0) {
        snprintf(t->reason, sizeof(t->reason), "%s",
                 prt_forecast_strerror(t->pred.rc));
        return PRT_E_FAISS;
    }
    /* walk-forward: a historical query sees what was verified by then */
    if (prt_calibrator_map(t->e->calib, p.horizon_idx,
                           t->req.mode == PRT_SEARCH_HISTORICAL
                           ? t->req.time_ms : t->now_ms, &t->calib) != 0)
    {
        snprintf(t->reason, sizeof(t->reason), "calibration unavailable");
        return PRT_E_INTERNAL;
    }
    return PRT_OK;
}


/* ---- rendering: POST /api/patterns/search -------------------------------- */

static void
json_trajectory(prt_json_t *j, const float *traj)
{
    prt_json_array(j);
    for (int h = 0; h < PRT_N_HORIZONS; h++) {
        prt_json_float(j, traj[h]);
    }
    prt_json_array_end(j);
}

static void
json_doubles(prt_json_t *j, const double *v, int n)
{
    prt_json_array(j);
    for (int i = 0; i < n; i++) {
        prt_json_num(j, v[i]);
    }
    prt_json_array_end(j);
}

static const char *
bar_session(int64_t bar_time)
{
    prt_market_state_t  ms;

    prt_market_state(bar_time, &ms);
    return prt_session_name(ms.session);
}

static void
forecast_fields(prt_json_t *j, const prt_forecast_t *f,
    const prt_calib_map_t *calib)
{
    double  cal = prt_calib_apply(calib, f->prob_up);

    prt_json_knum(j, "prob_up", f->prob_up);
    prt_json_knum(j, "prob_down", f->prob_down);
    prt_json_knum(j, "mean_return", f->mean_return);
    prt_json_knum(j, "median_return", f->median_return);
    prt_json_knum(j, "std_return", f->std_return);
    prt_json_knum(j, "p10", f->p10);
    prt_json_knum(j, "p90", f->p90);
    prt_json_knum(j, "edge", f->edge);
    prt_json_kstr(j, "direction", prt_direction_name(f->direction));
    prt_json_kstr(j, "confidence", prt_confidence_name(f->confidence));
    prt_json_knum(j, "dist1", f->dist1);
    prt_json_kint(j, "n_neighbors", f->n_neighbors);
    prt_json_knum(j, "n_eff", f->n_eff);
    prt_render_interval(j, "prob_up_ci", f->prob_up_ci_lo, f->prob_up_ci_hi);
    prt_json_knum(j, "prob_up_calibrated", cal);
    prt_json_knum(j, "prob_down_calibrated", 1.0 - cal);
    prt_json_knum(j, "edge_calibrated",
                  prt_edge_of(f->direction, cal, f->mean_return));
    prt_json_kuint(j, "calibration_n", calib->n);
}

static void
render_patterns(search_task_t *t)
{
    prt_json_t            *j = &t->json;
    const prt_forecast_t  *f = &t->pred.forecast;
    int                    h = prt_horizon_index(t->req.f.horizon);

    prt_json_open(j);
    prt_json_kstr(j, "ticker", t->req.ticker);
    prt_json_kstr(j, "mode", t->req.mode == PRT_SEARCH_HISTORICAL
                             ? "historical" : "realtime");
    prt_json_ktime(j, "query_time", t->req.mode == PRT_SEARCH_HISTORICAL
                                    ? t->req.time_ms : t->now_ms);
    prt_json_ktime(j, "bar_time", t->w.bar_time * 1000);
    prt_json_kstr(j, "session", bar_session(t->w.bar_time));
    prt_json_kint(j, "horizon", t->req.f.horizon);
    forecast_fields(j, f, &t->calib);
    prt_json_kint(j, "k", t->req.f.k);
    prt_json_knum(j, "alpha", t->req.f.alpha);
    prt_json_kint(j, "trim_lo", t->req.f.trim_lo);
    prt_json_kint(j, "trim_hi", t->req.f.trim_hi);
    prt_json_kbool(j, "exclude_self", t->req.f.exclude_self);
    prt_json_kbool(j, "cross_asset", t->req.f.cross_asset);

    prt_json_key(j, "neighbors");
    prt_json_array(j);
    for (int i = 0; i < f->n_neighbors; i++) {
        const prt_neighbour_t  *n = &t->neigh[i];

        prt_json_open(j);
        prt_json_kstr(j, "ticker", prt_symtab_name(&t->ix->tickers, n->ticker));
        prt_json_ktime(j, "time", n->bar_time * 1000);
        prt_json_knum(j, "distance", n->distance);
        prt_json_knum(j, "weight", n->weight);
        prt_json_key(j, "return");
        prt_json_float(j, n->traj[h]);
        prt_json_kbool(j, "trimmed", n->trimmed);
        prt_json_key(j, "trajectory");
        json_trajectory(j, n->traj);
        prt_json_close(j);
    }
    prt_json_array_end(j);
    prt_json_close(j);
}


/* ---- the front end's trajectories: a number at every point ------------- */

static int
trajectory_complete(const float *traj)
{
    for (int h = 0; h < PRT_N_HORIZONS; h++) {
        if (!isfinite(traj[h])) {
            return 0;
        }
    }
    return 1;
}

/* Is New York day `day` over (20:00 ET passed) by the engine clock? Only
 * then is its last close the close the verification rule holds at. */
static int
day_is_over(const search_task_t *t, int64_t day)
{
    return t->now_ms / 1000 >= prt_ny_day_start_utc(day)
                               + (int64_t) PRT_MINUTE_END * 60;
}

/* The points of a neighbour's trajectory past 20:00 ET, from its day's bars
 * (build-index stores every indexed day in the bar store). 0 or -1. */
static int
hold_neighbour(search_task_t *t, const prt_neighbour_t *n, float *traj)
{
    int64_t  day = prt_ny_day_of_utc(n->bar_time);
    int      minute, count;

    if (!day_is_over(t, day)) {
        return -1;
    }
    count = prt_barstore_load_day(t->e->bars,
                                  prt_symtab_name(&t->ix->tickers, n->ticker),
                                  (prt_day_t) day, t->day, PRT_BS_DAY_BARS);
    if (count <= 0) {
        return -1;
    }
    minute = (int) ((n->bar_time - prt_ny_day_start_utc(day)) / 60);
    return prt_trajectory_hold_day_end(t->day, (size_t) count, minute, traj);
}

/*
 * The front end calls .toFixed on every trajectory point and draws null as
 * 0 %: points past 20:00 ET follow the verification rule (the return holds
 * at the day's last close, docs/forecast.md). A neighbour whose day cannot
 * give them (not in the bar store, no usable close) is left out of the list
 * and of the mean/std trajectories, which are recomputed over the completed
 * trajectories. PRT_E_NO_DATA when a mean point still has no value.
 */
static prt_error_t
fe_complete_trajectories(search_task_t *t)
{
    prt_forecast_t  *f = &t->pred.forecast;

    for (int i = 0; i < f->n_neighbors; i++) {
        prt_neighbour_t  *n = &t->neigh[i];

        memcpy(t->held[i], n->traj, sizeof(t->held[i]));
        n->traj = t->held[i];
        t->listed[i] = trajectory_complete(t->held[i])
                       || (hold_neighbour(t, n, t->held[i]) == 0
                           && trajectory_complete(t->held[i]));
        if (!t->listed[i]) {
            n->trimmed = 1;             /* out of the trajectory moments */
        }
    }
    prt_forecast_trajectories(t->neigh, f->n_neighbors, f->mean_trajectory,
                              f->std_trajectory);

    for (int h = 0; h < PRT_N_HORIZONS; h++) {
        if (!isfinite(f->mean_trajectory[h])
            || !isfinite(f->std_trajectory[h]))
        {
            snprintf(t->reason, sizeof(t->reason), "no neighbour of %s has "
                     "a complete trajectory", t->req.ticker);
            return PRT_E_NO_DATA;
        }
    }
    return PRT_OK;
}


/* ---- rendering: the front end's search view ----------------------------- */

static void
json_hhmm(prt_json_t *j, const char *key, int64_t utc_s)
{
    prt_nytime_t  ny;
    char          buf[8];

    prt_ny_from_utc(utc_s, &ny);
    snprintf(buf, sizeof(buf), "%02d:%02d", ny.hour % 24, ny.min % 60);
    prt_json_kstr(j, key, buf);
}

static void
json_date(prt_json_t *j, const char *key, int64_t day)
{
    char  buf[16];

    prt_format_date(day, buf, sizeof(buf));
    prt_json_kstr(j, key, buf);
}

static void
fe_neighbors(search_task_t *t, prt_json_t *j)
{
    const prt_forecast_t  *f = &t->pred.forecast;

    prt_json_key(j, "neighbors");
    prt_json_array(j);
    for (int i = 0; i < f->n_neighbors; i++) {
        const prt_neighbour_t  *n = &t->neigh[i];

        if (!t->listed[i]) {
            continue;
        }
        prt_json_open(j);
        prt_json_kstr(j, "symbol", prt_symtab_name(&t->ix->tickers, n->ticker));
        json_date(j, "date", prt_ny_day_of_utc(n->bar_time));
        json_hhmm(j, "start_time", n->bar_time - (PRT_WINDOW - 1) * 60);
        json_hhmm(j, "end_time", n->bar_time + 60);
        prt_json_knum(j, "distance", n->distance);
        prt_json_key(j, "future_returns");
        json_trajectory(j, n->traj);
        prt_json_close(j);
    }
    prt_json_array_end(j);
}

/*
 * The chart's prices: the span the front end asked for (window_minutes,
 * 15-120; the index's window when it did not say), the day's bars ending
 * at the query bar, fewer when the day has fewer.
 */
static void
fe_context(search_task_t *t, prt_json_t *j)
{
    size_t  span = t->req.span != 0 ? t->req.span : PRT_WINDOW;
    size_t  first = t->w.end_idx + 1 > span ? t->w.end_idx + 1 - span : 0;
    float   actual[PRT_N_HORIZONS];
    int     h = prt_horizon_index(t->req.f.horizon);
    int     minute = t->w.bars[t->w.end_idx].minute;

    prt_json_key(j, "historical_context");
    prt_json_open(j);
    prt_json_kint(j, "window_minutes", (int64_t) span);
    prt_json_key(j, "pattern_prices");
    prt_json_array(j);
    for (size_t i = first; i <= t->w.end_idx; i++) {
        prt_json_num(j, t->w.bars[i].close);
    }
    prt_json_array_end(j);
    prt_json_ktime(j, "pattern_start",
                   (t->w.bar_time - (int64_t) (minute - t->w.bars[first].minute)
                    * 60) * 1000);
    prt_json_ktime(j, "pattern_end", (t->w.bar_time + 60) * 1000);
    prt_json_close(j);

    if (t->req.mode != PRT_SEARCH_HISTORICAL) {
        return;
    }
    /*
     * What really followed, when the day's bars give every point: past
     * 20:00 ET once the day is over (the verification rule), before that
     * from the bars.
     */
    prt_pattern_trajectory(t->w.bars, t->w.n, t->w.end_idx, actual);
    if (!trajectory_complete(actual) && day_is_over(t, t->w.day)) {
        (void) prt_trajectory_hold_day_end(t->w.bars, t->w.n, minute, actual);
    }
    if (trajectory_complete(actual)) {
        prt_json_key(j, "actual");
        prt_json_open(j);
        prt_json_key(j, "returns");
        json_trajectory(j, actual);
        prt_json_key(j, "final_return");
        prt_json_float(j, actual[h]);
        prt_json_close(j);
    }
}

static int
n_listed(const search_task_t *t)
{
    int  n = 0;

    for (int i = 0; i < t->pred.forecast.n_neighbors; i++) {
        n += t->listed[i];
    }
    return n;
}

static void
render_frontend(search_task_t *t)
{
    prt_json_t            *j = &t->json;
    const prt_forecast_t  *f = &t->pred.forecast;

    prt_json_open(j);
    prt_json_kstr(j, "status", "ok");
    prt_json_key(j, "query");
    prt_json_open(j);
    prt_json_kstr(j, "symbol", t->req.ticker);
    json_date(j, "date", t->w.day);
    json_hhmm(j, "time", t->w.bar_time + 60);
    /* the search's window: the index's, whatever the chart's span */
    prt_json_kint(j, "window_minutes", PRT_WINDOW);
    prt_json_ktime(j, "bar_time", t->w.bar_time * 1000);
    prt_json_kstr(j, "session", bar_session(t->w.bar_time));
    prt_json_close(j);

    prt_json_key(j, "stats");
    prt_json_open(j);
    prt_json_knum(j, "query_time_ms",
                  (double) (prt_monotonic_ms() - t->started_ms));
    prt_json_kuint(j, "index_size", t->ix->n);
    prt_json_close(j);

    prt_json_key(j, "forecast");
    prt_json_open(j);
    prt_json_kint(j, "horizon_minutes", t->req.f.horizon);
    prt_json_knum(j, "mean_return", f->mean_return);
    prt_json_knum(j, "median_return", f->median_return);
    prt_json_knum(j, "best_case", f->p90);
    prt_json_knum(j, "worst_case", f->p10);
    prt_json_knum(j, "prob_up", f->prob_up);
    prt_json_knum(j, "prob_down", f->prob_down);
    prt_json_knum(j, "edge", f->edge);
    prt_json_kstr(j, "direction", prt_direction_name(f->direction));
    prt_json_kstr(j, "confidence", prt_confidence_name(f->confidence));
    prt_json_kint(j, "n_neighbors", n_listed(t));
    prt_json_key(j, "mean_trajectory");
    json_doubles(j, f->mean_trajectory, PRT_N_HORIZONS);
    prt_json_key(j, "std_trajectory");
    json_doubles(j, f->std_trajectory, PRT_N_HORIZONS);
    prt_json_close(j);

    fe_neighbors(t, j);
    fe_context(t, j);
    prt_json_close(j);
}

/*
 * The front end shows "insufficient data" / "not ready" states from the
 * status field of a 200 answer and runs error.includes(...): error is the
 * message string, the code is in error_code.
 */
static void
render_frontend_error(search_task_t *t)
{
    prt_json_t  *j = &t->json;
    const char  *status = t->err == PRT_E_NO_DATA || t->err == PRT_E_WINDOW
                          ? "insufficient_data"
                          : t->err == PRT_E_INDEX ? "not_ready" : "error";

    prt_json_open(j);
    prt_json_kstr(j, "status", status);
    prt_json_key(j, "query");
    prt_json_open(j);
    prt_json_kstr(j, "symbol", t->req.ticker);
    prt_json_close(j);
    prt_json_kstr(j, "message", t->reason);
    prt_json_kstr(j, "error", t->reason);
    prt_json_kstr(j, "error_code", prt_error_name(t->err));
    prt_json_kstr(j, "detail", t->reason);
    prt_json_close(j);
    t->status = strcmp(status, "error") == 0 ? prt_error_status(t->err) : 200;
}


/* ---- the task ----------------------------------------------------------- */

static void
search_run(prt_task_t *task)
{
    search_task_t  *t = (search_task_t *) task;

    t->err = search_compute(t);
    if (t->err == PRT_OK && t->req.format == PRT_FORMAT_FRONTEND) {
        t->err = fe_complete_trajectories(t);
    }

    if (t->err == PRT_OK) {
        t->status = 200;
        if (t->req.format == PRT_FORMAT_FRONTEND) {
            render_frontend(t);
        } else {
            render_patterns(t);
        }
    } else if (t->req.format == PRT_FORMAT_FRONTEND) {
        render_frontend_error(t);
    } else {
        t->status = prt_error_status(t->err);
        prt_json_error(&t->json, prt_error_name(t->err), t->reason, NULL);
    }
}

static void
search_done(prt_task_t *task)
{
    search_task_t  *t = (search_task_t *) task;

    prt_api_reply(t->e, &t->to, t->status, &t->json);
    prt_json_free(&t->json);
    prt_index_unref(t->ix);
    free(t);
}

void
prt_api_search(prt_engine_t *e, const prt_reply_t *to, const uint8_t *payload,
    uint32_t len)
{
    search_task_t  *t = calloc(1, sizeof(*t));

    if (t == NULL || prt_json_init(&t->json) != 0) {
        free(t);
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return;
    }
    memcpy(&t->req, payload, sizeof(t->req));
    t->req.ticker[PRT_SYMBOL_SIZE - 1] = '\0';

    if (prt_horizon_index(t->req.f.horizon) < 0 || t->req.f.k < PRT_K_MIN
        || t->req.f.k > PRT_K_MAX
        || (t->req.span != 0
            && (t->req.span < PRT_SPAN_MIN || t->req.span > PRT_SPAN_MAX)))
    {
        prt_json_free(&t->json);
        free(t);
        prt_api_error(e, to, PRT_E_BAD_REQUEST, "malformed search request",
                      NULL);
        return;
    }

    t->e = e;
    t->to = *to;
    t->ix = prt_engine_index(e);
    t->now_ms = prt_clock_now_ms(&e->clock);
    t->started_ms = prt_monotonic_ms();
    t->task.run = search_run;
    t->task.done = search_done;
    prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
}
