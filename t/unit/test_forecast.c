/*
 * The forecast math of SPEC §3 on small cases worked out by hand (each case's
 * comment shows the arithmetic).  Unless a case says otherwise: alpha = 0,
 * no trimming, exclude_self off, cross_asset on, horizon index 9 (10 min),
 * neighbours of ticker 2 from the day before the query's day, and every
 * neighbour's trajectory is its return at h repeated 15 times.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "forecast/forecast.h"

#define DAY        1700006400LL         /* 00:00 New York of the query day */
#define QTICKER    1u
#define OTICKER    2u
#define FAIL_ID    999                  /* the lookup "fails" for this id */
#define MAXN       16
#define EPS        1e-12

typedef struct {
    int64_t   id;
    uint32_t  ticker;
    int64_t   bar_time;
    float     traj[PRT_N_HORIZONS];
} entry_t;

typedef struct {
    entry_t  *e;
    size_t    n;
} table_t;

static entry_t          entries[MAXN];
static table_t          table = { entries, 0 };
static prt_candidate_t  cand[MAXN];
static prt_neighbour_t  neigh[PRT_FORECAST_K_MAX];
static prt_forecast_t   fc;

static int
lookup(void *ctx, int64_t id, prt_neighbour_info_t *out)
{
    table_t  *t = ctx;
    size_t    i;

    if (id == FAIL_ID) {
        return -5;
    }
    for (i = 0; i < t->n; i++) {
        if (t->e[i].id == id) {
            out->ticker = t->e[i].ticker;
            out->bar_time = t->e[i].bar_time;
            out->traj = t->e[i].traj;
            return 0;
        }
    }
    return -1;
}

static prt_forecast_params_t
defaults(void)
{
    prt_forecast_params_t  p;

    memset(&p, 0, sizeof(p));
    p.k = 40;
    p.horizon_idx = 9;
    p.alpha = 0.0;
    p.cross_asset = 1;
    return p;
}

/* Neighbour i: id 100 + i, return ret[i] at every horizon, dist2[i]. */
static void
set_neighbours(const double *ret, const double *dist2, int n)
{
    int  i, j;

    for (i = 0; i < n; i++) {
        entries[i].id = 100 + i;
        entries[i].ticker = OTICKER;
        entries[i].bar_time = DAY - 86400;
        for (j = 0; j < PRT_N_HORIZONS; j++) {
            entries[i].traj[j] = (float) ret[i];
        }
        cand[i].id = 100 + i;
        cand[i].dist2 = (float) dist2[i];
    }
    table.n = (size_t) n;
}

static int
run(const prt_forecast_params_t *p, int n_cand)
{
    prt_query_t  q = { QTICKER, DAY };

    memset(&fc, 0x55, sizeof(fc));
    return prt_forecast(p, &q, cand, (size_t) n_cand, lookup, &table,
                        neigh, &fc);
}

static int
run_case(const prt_forecast_params_t *p, const double *ret,
    const double *dist2, int n)
{
    set_neighbours(ret, dist2, n);
    return run(p, n);
}

/*
 * alpha = 0: weights 1.  r = 1, -2, 3, 0.5.  prob_up = 3/4, mean = 2.5/4 =
 * 0.625; squared deviations 0.140625 + 6.890625 + 5.640625 + 0.015625 =
 * 12.6875, std = sqrt(12.6875 / 4).  Sorted -2, .5, 1, 3 with cumulative
 * weight 1, 2, 3, 4: p10 (0.4) = -2, median (2, reached exactly) = 0.5,
 * p90 (3.6) = 3.  UP, edge = .75 * .625 = .46875.
 * 1 - 1.781 / 0.625 < 0.4: low.
 */
static void
test_equal_weights(void)
{
    static const double    ret[] = { 1, -2, 3, 0.5 };
    static const double    d2[] = { 1, 4, 9, 16 };
    prt_forecast_params_t  p = defaults();

    is_int(run_case(&p, ret, d2, 4), 0, "alpha 0: forecast ok");
    is_int(fc.n_neighbors, 4, "alpha 0: 4 neighbours");
    is_int(fc.n_used, 4, "alpha 0: none trimmed");
    ok(neigh[0].weight == 1.0 && neigh[3].weight == 1.0, "alpha 0: w = 1");
    is_double(fc.dist1, 1.0, EPS, "dist1 = sqrt(1)");
    is_double(neigh[2].distance, 3.0, EPS, "d_3 = sqrt(9)");
    is_double(fc.prob_up, 0.75, EPS, "alpha 0: prob_up");
    is_double(fc.prob_down, 0.25, EPS, "alpha 0: prob_down");
    is_double(fc.mean_return, 0.625, EPS, "alpha 0: mean");
    is_double(fc.std_return, sqrt(12.6875 / 4), EPS, "alpha 0: std");
    is_double(fc.p10, -2.0, 0.0, "alpha 0: p10");
    is_double(fc.median_return, 0.5, 0.0, "alpha 0: median at boundary");
    is_double(fc.p90, 3.0, 0.0, "alpha 0: p90");
    is_int(fc.direction, PRT_DIRECTION_UP, "alpha 0: UP");
    is_double(fc.edge, 0.46875, EPS, "alpha 0: edge = prob_up * mean");
    is_int(fc.confidence, PRT_CONFIDENCE_LOW, "alpha 0: low confidence");
    ok(neigh[1].id == 101 && neigh[1].ticker == OTICKER
       && neigh[1].bar_time == DAY - 86400 && neigh[1].ret == -2.0
       && neigh[1].traj == entries[1].traj && !neigh[1].trimmed,
       "neighbour fields carried over");
}

/*
 * alpha = 2 ln 2, d = 1, 2, 3: u = 0, 1/2, 1, w = 1, 1/2, 1/4 (W = 7/4).
 * r = 2, -1, 4.  prob_up = (1 + 1/4) / (7/4) = 5/7; mean = (2 - 1/2 + 1) /
 * (7/4) = 10/7; deviations 4/7, -17/7, 18/7: sum w dev^2 = (16 + 289/2 +
 * 324/4) / 49 = 241.5/49, std = sqrt(241.5 / 49 / 1.75).  Sorted -1 (1/2),
 * 2 (1), 4 (1/4), cumulative .5, 1.5, 1.75: p10 (.175) = -1, median (.875)
 * = 2, p90 (1.575) = 4.  edge = 5/7 * 10/7 = 50/49.
 */
static void
test_alpha_weights(void)
{
    static const double    ret[] = { 2, -1, 4 };
    static const double    d2[] = { 1, 4, 9 };
    prt_forecast_params_t  p = defaults();

    p.alpha = 2.0 * log(2.0);
    is_int(run_case(&p, ret, d2, 3), 0, "alpha 2ln2: forecast ok");
    is_double(neigh[0].weight, 1.0, EPS, "w_1 = 1");
    is_double(neigh[1].weight, 0.5, EPS, "w_2 = 1/2");
    is_double(neigh[2].weight, 0.25, EPS, "w_3 = 1/4");
    is_double(fc.prob_up, 5.0 / 7.0, EPS, "alpha 2ln2: prob_up = 5/7");
    is_double(fc.mean_return, 10.0 / 7.0, EPS, "alpha 2ln2: mean = 10/7");
    is_double(fc.std_return, sqrt(241.5 / 49.0 / 1.75), EPS,
              "alpha 2ln2: weighted population std");
    is_double(fc.p10, -1.0, 0.0, "alpha 2ln2: p10");
    is_double(fc.median_return, 2.0, 0.0, "alpha 2ln2: median");
    is_double(fc.p90, 4.0, 0.0, "alpha 2ln2: p90");
    is_double(fc.edge, 50.0 / 49.0, EPS, "alpha 2ln2: edge = 50/49");
}

/*
 * All distances 1.5: u = 0 for all, so w = 1 whatever alpha.  r = -1, -3, 2:
 * mean = -2/3 -> DOWN; prob_up = 1/3, prob_down = 2/3; edge = prob_down *
 * |mean| = 4/9 (the seed's typo would give prob_up * |mean| = 2/9).
 * deviations -1/3, -7/3, 8/3: std = sqrt(114/27).  Sorted -3, -1, 2.
 */
static void
test_equal_distances_down(void)
{
    static const double    ret[] = { -1, -3, 2 };
    static const double    d2[] = { 2.25, 2.25, 2.25 };
    prt_forecast_params_t  p = defaults();

    p.alpha = 6.0;
    is_int(run_case(&p, ret, d2, 3), 0, "equal d: forecast ok");
    ok(neigh[0].weight == 1.0 && neigh[1].weight == 1.0
       && neigh[2].weight == 1.0, "equal d: u = 0, w = 1 despite alpha 6");
    is_double(fc.dist1, 1.5, EPS, "equal d: dist1 = 1.5");
    is_int(fc.direction, PRT_DIRECTION_DOWN, "mean < 0: DOWN");
    is_str(prt_direction_name(fc.direction), "DOWN", "direction name");
    is_double(fc.mean_return, -2.0 / 3.0, EPS, "DOWN: mean = -2/3");
    is_double(fc.prob_up, 1.0 / 3.0, EPS, "DOWN: prob_up = 1/3");
    is_double(fc.prob_down, 2.0 / 3.0, EPS, "DOWN: prob_down = 2/3");
    is_double(fc.edge, 4.0 / 9.0, EPS, "DOWN: edge = prob_down * |mean|");
    is_double(fc.std_return, sqrt(114.0 / 27.0), EPS, "DOWN: std");
    is_double(fc.p10, -3.0, 0.0, "DOWN: p10");
    is_double(fc.median_return, -1.0, 0.0, "DOWN: median (1.5 -> 2nd)");
    is_double(fc.p90, 2.0, 0.0, "DOWN: p90");
}

/*
 * Five neighbours, r = 5, -4, 1, 2, 3, sorted -4 1 2 3 5.
 * trim_lo 19 -> floor(0.95) = 0, trim_hi 39 -> floor(1.95) = 1: drop 5;
 * used -4 1 2 3: mean 0.5, prob_up 3/4.
 * trim_lo 20 -> 1, trim_hi 40 -> 2: drop -4 and 3, 5; used 1 2: mean 1.5,
 * std 0.5, prob_up 1, p10 1, median 1 (cum 1 of 2 reaches 1), p90 2.
 */
static void
test_trim_rounding(void)
{
    static const double    ret[] = { 5, -4, 1, 2, 3 };
    static const double    d2[] = { 1, 2, 3, 4, 5 };
    prt_forecast_params_t  p = defaults();

    p.trim_lo = 19;
    p.trim_hi = 39;
    is_int(run_case(&p, ret, d2, 5), 0, "trim 19/39: ok");
    is_int(fc.n_neighbors, 5, "trim 19/39: n_neighbors counts before trim");
    is_int(fc.n_used, 4, "trim 19/39: rounds down to 0 and 1");
    ok(neigh[0].trimmed && !neigh[1].trimmed && !neigh[4].trimmed,
       "trim 19/39: only the top return (5) dropped");
    is_double(fc.mean_return, 0.5, EPS, "trim 19/39: mean");
    is_double(fc.prob_up, 0.75, EPS, "trim 19/39: prob_up");

    p.trim_lo = 20;
    p.trim_hi = 40;
    is_int(run_case(&p, ret, d2, 5), 0, "trim 20/40: ok");
    is_int(fc.n_used, 2, "trim 20/40: 1 low and 2 high dropped");
    ok(neigh[0].trimmed && neigh[1].trimmed && neigh[4].trimmed
       && !neigh[2].trimmed && !neigh[3].trimmed,
       "trim 20/40: -4, 3 and 5 dropped");
    is_double(fc.mean_return, 1.5, EPS, "trim 20/40: mean");
    is_double(fc.std_return, 0.5, EPS, "trim 20/40: std");
    is_double(fc.prob_up, 1.0, EPS, "trim 20/40: prob_up");
    is_double(fc.p10, 1.0, 0.0, "trim 20/40: p10");
    is_double(fc.median_return, 1.0, 0.0, "trim 20/40: median");
    is_double(fc.p90, 2.0, 0.0, "trim 20/40: p90");
    is_double(fc.dist1, 1.0, EPS, "trim 20/40: dist1 is the nearest kept, "
              "even when trimmed");
}

/*
 * Ties at a cut: d = 1..4, u = 0, 1/3, 2/3, 1, alpha = 3 ln 2 -> w = 1, 1/2,
 * 1/4, 1/8.  The farthest of equal returns is dropped.
 * r = 1 1 1 2, trim_lo 25 (-> 1): drop rank 2 (w 1/4); used w 1, 1/2, 1/8
 * with r 1, 1, 2: mean = 1.75 / 1.625 = 14/13 (dropping the nearest would
 * give 8/7).
 * r = 3 0 3 3, trim_hi 25: drop rank 3; used r 3 0 3, w 1 1/2 1/4: mean =
 * 3.75/1.75 = 15/7, prob_up = (1 + 1/4 + 1/2 * 1/2) / 1.75 = 6/7.
 * r all 1, trim 25/25 (1 and 1): drop ranks 3 then 2; mean 1.
 */
static void
test_trim_ties(void)
{
    static const double    r1[] = { 1, 1, 1, 2 };
    static const double    r2[] = { 3, 0, 3, 3 };
    static const double    r3[] = { 1, 1, 1, 1 };
    static const double    d2[] = { 1, 4, 9, 16 };
    prt_forecast_params_t  p = defaults();

    p.alpha = 3.0 * log(2.0);
    p.trim_lo = 25;
    is_int(run_case(&p, r1, d2, 4), 0, "low tie: ok");
    ok(!neigh[0].trimmed && !neigh[1].trimmed && neigh[2].trimmed
       && !neigh[3].trimmed, "low tie: the farthest of the equal lows goes");
    is_double(fc.mean_return, 14.0 / 13.0, EPS, "low tie: mean = 14/13");

    p.trim_lo = 0;
    p.trim_hi = 25;
    is_int(run_case(&p, r2, d2, 4), 0, "high tie: ok");
    ok(!neigh[0].trimmed && !neigh[2].trimmed && neigh[3].trimmed,
       "high tie: the farthest of the equal highs goes");
    is_double(fc.mean_return, 15.0 / 7.0, EPS, "high tie: mean = 15/7");
    is_double(fc.prob_up, 6.0 / 7.0, EPS, "high tie: prob_up = 6/7");

    p.trim_lo = 25;
    is_int(run_case(&p, r3, d2, 4), 0, "all tied: ok");
    ok(!neigh[0].trimmed && !neigh[1].trimmed && neigh[2].trimmed
       && neigh[3].trimmed, "all tied: both cuts take the farthest");
    is_int(fc.n_used, 2, "all tied: two used");
}

/*
 * r = 0, 0, 1, -1 with w = 1: prob_up = (1/2 + 1/2 + 1) / 4 = 1/2, mean 0
 * -> UP with edge 0.  With alpha = 2 ln 2 and d = 1, 2, 3 (w 1, 1/2, 1/4)
 * on r = 0, 1, -1: prob_up = (1/2 * 1 + 1/2) / 1.75 = 4/7.
 */
static void
test_zero_ties(void)
{
    static const double    r1[] = { 0, 0, 1, -1 };
    static const double    r2[] = { 0, 1, -1 };
    static const double    d2[] = { 1, 4, 9, 16 };
    prt_forecast_params_t  p = defaults();

    is_int(run_case(&p, r1, d2, 4), 0, "zero ties: ok");
    is_double(fc.prob_up, 0.5, EPS, "r = 0 counts half: prob_up 1/2");
    is_double(fc.mean_return, 0.0, 0.0, "zero ties: mean 0");
    is_int(fc.direction, PRT_DIRECTION_UP, "mean 0 is UP");
    ok(fc.edge == 0.0 && !signbit(fc.edge), "edge +0 at mean 0");

    p.alpha = 2.0 * log(2.0);
    is_int(run_case(&p, r2, d2, 3), 0, "weighted zero tie: ok");
    is_double(fc.prob_up, 4.0 / 7.0, EPS, "weighted zero tie: 4/7");
}

/*
 * Exact cumulative boundaries.  Ten equal weights, r = 1..10 (neighbour i
 * has r = (3i mod 10) + 1): cumulative i reaches q * 10 exactly at i = 1, 5,
 * 9 -> p10 = 1, median = 5, p90 = 9.
 * Weights 1, 1, e, e (d = 1, 1, 2, 2, alpha 0.01, e = exp(-0.01)) with r =
 * -2, 1, -1, 2: sorted -2 (1), -1 (e), 1 (1), 2 (e).  Half the total is
 * 1 + e exactly, which the first two reach; in doubles 1 + e is one ulp
 * below 0.5 * ((1 + e + 1) + e), so without a tolerance the median would be
 * 1 instead of -1.
 */
static void
test_percentile_boundaries(void)
{
    static const double    d2a[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    static const double    r2[] = { -2, 1, -1, 2 };
    static const double    d2b[] = { 1, 1, 4, 4 };
    double                 r1[10];
    prt_forecast_params_t  p = defaults();
    int                    i;

    for (i = 0; i < 10; i++) {
        r1[i] = (3 * i) % 10 + 1;
    }
    is_int(run_case(&p, r1, d2a, 10), 0, "ten equal weights: ok");
    is_double(fc.p10, 1.0, 0.0, "ten: p10 = 1 (cum 1 = 0.1 * 10)");
    is_double(fc.median_return, 5.0, 0.0, "ten: median = 5 (cum 5)");
    is_double(fc.p90, 9.0, 0.0, "ten: p90 = 9 (cum 9)");

    p.alpha = 0.01;
    is_int(run_case(&p, r2, d2b, 4), 0, "rounded boundary: ok");
    ok(1.0 + exp(-0.01) < 0.5 * (1.0 + exp(-0.01) + 1.0 + exp(-0.01)),
       "premise: the exact boundary rounds one ulp short in doubles");
    is_double(fc.median_return, -1.0, 0.0,
              "median reaches 1 + e despite rounding");
    is_double(fc.p10, -2.0, 0.0, "rounded boundary: p10");
    is_double(fc.p90, 2.0, 0.0, "rounded boundary: p90");
}

/*
 * Horizon index 2.  Trajectories (alpha 0):
 *   n0: j                  (finite except [14])
 *   n1: NaN at 2           -> excluded
 *   n2: 2j                 (finite except [14])
 *   n3: -j                 (NaN at 13 and 14)
 * used n0 n2 n3: mean at 2 = (2 + 4 - 2)/3 = 4/3; at 5 = (5 + 10 - 5)/3 =
 * 10/3; at 13 only n0, n2: (13 + 26)/2 = 19.5, std 6.5; at 14 none: NaN.
 */
static void
test_nan_trajectories(void)
{
    static const double    ret[] = { 0, 0, 0, 0 };
    static const double    d2[] = { 1, 2, 3, 4 };
    prt_forecast_params_t  p = defaults();
    int                    j, rc;

    set_neighbours(ret, d2, 4);
    for (j = 0; j < PRT_N_HORIZONS; j++) {
        entries[0].traj[j] = (float) j;
        entries[1].traj[j] = 7.0f;
        entries[2].traj[j] = (float) (2 * j);
        entries[3].traj[j] = (float) -j;
    }
    entries[1].traj[2] = NAN;
    entries[0].traj[14] = entries[2].traj[14] = NAN;
    entries[3].traj[13] = entries[3].traj[14] = NAN;
    p.horizon_idx = 2;
    rc = run(&p, 4);
    is_int(rc, 0, "NaN trajectories: ok");
    is_int(fc.n_neighbors, 3, "NaN at h: neighbour dropped");
    ok(neigh[0].id == 100 && neigh[1].id == 102 && neigh[2].id == 103,
       "NaN at h: the others kept in order");
    is_double(fc.mean_return, 4.0 / 3.0, EPS, "mean at h = 4/3");
    ok(fc.mean_trajectory[2] == fc.mean_return
       && fc.std_trajectory[2] == fc.std_return,
       "trajectory at h equals the forecast exactly");
    is_double(fc.mean_trajectory[5], 10.0 / 3.0, EPS, "mean_traj[5] = 10/3");
    is_double(fc.mean_trajectory[13], 19.5, EPS,
              "mean_traj[13] skips the NaN point");
    is_double(fc.std_trajectory[13], 6.5, EPS, "std_traj[13] = 6.5");
    ok(isnan(fc.mean_trajectory[14]) && isnan(fc.std_trajectory[14]),
       "no value at a horizon: NaN");
}

/*
 * Query ticker 1, day start DAY.  Candidates in FAISS order:
 *   10: ticker 1, day before          13: unknown id (lookup -1)
 *   11: ticker 3, bar at DAY (not strictly before)
 *   12: ticker 9, one second before   14: ticker 1, an hour after DAY
 *   15: ticker 3, two hours before    -1: FAISS padding
 */
static void
set_exclusion_case(void)
{
    static const struct { int64_t id; uint32_t t; int64_t bt; } c[] = {
        { 10, 1, DAY - 86400 }, { 11, 3, DAY }, { 12, 9, DAY - 1 },
        { 13, 0, 0 }, { 14, 1, DAY + 3600 }, { 15, 3, DAY - 7200 },
        { -1, 0, 0 }
    };
    size_t  i;
    int     j;

    table.n = 0;
    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        cand[i].id = c[i].id;
        cand[i].dist2 = c[i].id < 0 ? INFINITY : (float) (i + 1);
        if (c[i].id == 13 || c[i].id < 0) {
            continue;
        }
        entries[table.n].id = c[i].id;
        entries[table.n].ticker = c[i].t;
        entries[table.n].bar_time = c[i].bt;
        for (j = 0; j < PRT_N_HORIZONS; j++) {
            entries[table.n].traj[j] = 1.0f;
        }
        table.n++;
    }
}

static void
test_exclusions(void)
{
    prt_forecast_params_t  p = defaults();
    prt_query_t            q = { UINT32_MAX, DAY };

    set_exclusion_case();
    p.exclude_self = 1;
    is_int(run(&p, 7), 0, "exclude_self: ok");
    ok(fc.n_neighbors == 2 && neigh[0].id == 12 && neigh[1].id == 15,
       "exclude_self: same ticker, look-ahead, unknown ids dropped");
    ok(neigh[0].ticker == 9 && neigh[0].bar_time == DAY - 1,
       "a bar one second before the day is kept");

    p.exclude_self = 0;
    p.cross_asset = 0;
    is_int(run(&p, 7), 0, "same ticker only: ok");
    ok(fc.n_neighbors == 1 && neigh[0].id == 10,
       "cross_asset off: other tickers and the future dropped");

    p.cross_asset = 1;
    is_int(run(&p, 7), 0, "no ticker filter: ok");
    ok(fc.n_neighbors == 3 && neigh[0].id == 10 && neigh[1].id == 12
       && neigh[2].id == 15, "look-ahead always applies");
    is_double(fc.dist1, 1.0, EPS, "dist1 = d of candidate 10");

    p.cross_asset = 0;
    is_int(prt_forecast(&p, &q, cand, 7, lookup, &table, neigh, &fc),
           PRT_FORECAST_ENONE, "query ticker not in the index, same-ticker "
           "only: no neighbours");

    p.exclude_self = 1;
    is_int(run(&p, 7), PRT_FORECAST_EINVAL,
           "exclude_self with cross_asset off is refused");
}

/*
 * k = 2 of five: keep d = 1, 2 (d_n = 2, not 5); alpha 1 -> w = 1, e^-1;
 * r = 1, -1: mean = (1 - e^-1) / (1 + e^-1) = tanh(1/2).
 */
static void
test_k_limit(void)
{
    static const double    ret[] = { 1, -1, 7, 7, 7 };
    static const double    d2[] = { 1, 4, 9, 16, 25 };
    prt_forecast_params_t  p = defaults();

    p.k = 2;
    p.alpha = 1.0;
    is_int(run_case(&p, ret, d2, 5), 0, "k = 2: ok");
    is_int(fc.n_neighbors, 2, "k = 2: two kept");
    is_double(neigh[1].weight, exp(-1.0), EPS,
              "k = 2: u uses the k-th distance as d_n");
    is_double(fc.mean_return, tanh(0.5), EPS, "k = 2: mean = tanh(1/2)");
}

static void
test_nothing_left(void)
{
    static const double    ret[] = { 1, 2 };
    static const double    d2[] = { 1, 2 };
    prt_forecast_params_t  p = defaults();

    set_neighbours(ret, d2, 2);
    entries[0].bar_time = DAY;
    entries[1].bar_time = DAY + 60;
    is_int(run(&p, 2), PRT_FORECAST_ENONE, "all look-ahead: ENONE");
    is_int(run(&p, 0), PRT_FORECAST_ENONE, "no candidates: ENONE");
    is_str(prt_forecast_strerror(PRT_FORECAST_ENONE),
           "no neighbours after exclusions", "ENONE message");
}

/*
 * Two equal weights r = a, b: mean (a+b)/2, std |a-b|/2,
 * c = 1 - std / (|mean| + 1e-6):
 *   2, 3:   1 - .5/2.500001  = 0.8000002  high
 *   7, 13:  1 - 3/10.000001  = 0.7000003  high
 *   -3, -2: as 2, 3 with |mean|          high
 *   1, 3:   1 - 1/2.000001   = 0.5000002  medium
 *   1, 4:   1 - 1.5/2.500001 = 0.4000002  medium (exactly 0.4 without 1e-6)
 *   -1, 3:  1 - 2/1.000001   < 0          low
 */
static void
test_confidence(void)
{
    static const struct { double a, b; const char *name; } c[] = {
        { 2, 3, "high" }, { 7, 13, "high" }, { -3, -2, "high" },
        { 1, 3, "medium" }, { 1, 4, "medium" }, { -1, 3, "low" },
    };
    static const double    d2[] = { 1, 1 };
    prt_forecast_params_t  p = defaults();
    double                 r[2];
    size_t                 i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        r[0] = c[i].a;
        r[1] = c[i].b;
        is_int(run_case(&p, r, d2, 2), 0, "confidence case %zu ok", i);
        is_str(prt_confidence_name(fc.confidence), c[i].name,
               "confidence of r = %g, %g", c[i].a, c[i].b);
    }
}

static void
test_overfetch(void)
{
    prt_forecast_params_t  p = defaults();

    is_int(prt_forecast_overfetch(&p), 96, "overfetch k=40: 2k + 16");
    p.k = 500;
    is_int(prt_forecast_overfetch(&p), 1016, "overfetch k=500: 1016");
    p.cross_asset = 0;
    is_int(prt_forecast_overfetch(&p), PRT_FORECAST_FETCH_MAX,
           "same ticker only: ask for the most");
    p.cross_asset = 1;
    p.k = 40;
    is_int(prt_forecast_next_fetch(&p, 96), 384, "retry: 4x");
    is_int(prt_forecast_next_fetch(&p, 3000), PRT_FORECAST_FETCH_MAX,
           "retry: capped");
    is_int(prt_forecast_next_fetch(&p, PRT_FORECAST_FETCH_MAX), 0,
           "retry: nothing more after the cap");
}

static void
test_invalid(void)
{
    static const double    ret[] = { 1, 2, 3 };
    static const double    d2[] = { 1, 4, 9 };
    prt_forecast_params_t  p;

    set_neighbours(ret, d2, 3);
    p = defaults(); p.k = 0;
    is_int(run(&p, 3), PRT_FORECAST_EINVAL, "k 0 refused");
    p = defaults(); p.k = 501;
    is_int(run(&p, 3), PRT_FORECAST_EINVAL, "k 501 refused");
    p = defaults(); p.alpha = 50.5;
    is_int(run(&p, 3), PRT_FORECAST_EINVAL, "alpha 50.5 refused");
    p = defaults(); p.alpha = NAN;
    is_int(run(&p, 3), PRT_FORECAST_EINVAL, "alpha NaN refused");
    p = defaults(); p.trim_hi = 50;
    is_int(run(&p, 3), PRT_FORECAST_EINVAL, "trim 50 refused");
    p = defaults(); p.horizon_idx = PRT_N_HORIZONS;
    is_int(run(&p, 3), PRT_FORECAST_EINVAL, "horizon index 15 refused");

    p = defaults();
    cand[1].dist2 = 0.5f;
    is_int(run(&p, 3), PRT_FORECAST_EORDER, "descending distances refused");
    cand[1].dist2 = NAN;
    is_int(run(&p, 3), PRT_FORECAST_EORDER, "NaN distance refused");
    cand[1].dist2 = 4.0f;
    cand[2].id = FAIL_ID;
    is_int(run(&p, 3), PRT_FORECAST_ELOOKUP, "lookup failure propagates");

    /* FAISS's L2 of identical vectors can be a hair below zero */
    set_neighbours(ret, d2, 3);
    cand[0].dist2 = -1e-7f;
    is_int(run(&p, 3), 0, "tiny negative dist2: ok");
    ok(fc.dist1 == 0.0, "tiny negative dist2 clamps to distance 0");
}

int
main(void)
{
    test_equal_weights();
    test_alpha_weights();
    test_equal_distances_down();
    test_trim_rounding();
    test_trim_ties();
    test_zero_ties();
    test_percentile_boundaries();
    test_nan_trajectories();
    test_exclusions();
    test_k_limit();
    test_nothing_left();
    test_confidence();
    test_overfetch();
    test_invalid();
    return done_testing();
}
