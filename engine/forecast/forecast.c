/*
 * The forecast math of SPEC §3: exclusions, distance weights, trimming,
 * weighted statistics.  Every choice SPEC leaves open is written down in
 * docs/forecast.md; the comments here say where each one is made.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "forecast/forecast.h"
#include "stats/stats.h"

/*
 * "Cumulative weight reaches q * total" is tested as cum >= (q - EPS) * total.
 * Sums of <= 500 weights carry a relative error below 1e-13, so an exact
 * boundary (e.g. the median of an even count of equal weights) may land a
 * few ulps short; 1e-9 absorbs that and is still far below any difference
 * between weights that matters.
 */
#define PCT_REL_EPS        1e-9

/* SPEC §3.6: 1 - std / (|mean| + 1e-6) above these is high / medium */
#define CONF_EPS           1e-6
#define CONF_HIGH          0.7
#define CONF_MEDIUM        0.4

typedef struct {
    double  ret;
    int     rank;           /* index in the kept (distance) order */
} ranked_return_t;

int
prt_forecast_check_params(const prt_forecast_params_t *p)
{
    if (p == NULL
        || p->k < PRT_FORECAST_K_MIN || p->k > PRT_FORECAST_K_MAX
        || p->horizon_idx < 0 || p->horizon_idx >= PRT_N_HORIZONS
        || !(p->alpha >= 0.0 && p->alpha <= PRT_FORECAST_ALPHA_MAX)
        || p->trim_lo < 0 || p->trim_lo > PRT_FORECAST_TRIM_MAX
        || p->trim_hi < 0 || p->trim_hi > PRT_FORECAST_TRIM_MAX)
    {
        return PRT_FORECAST_EINVAL;
    }
    /* together they exclude every neighbour: the API answers 400 for it */
    if (p->exclude_self && !p->cross_asset) {
        return PRT_FORECAST_EINVAL;
    }
    return 0;
}

/*
 * Why 2k + 16: the usual exclusions are small fractions of a large index
 * (NaN at h: at most the last 60 of 960 minutes of a day; same ticker; in
 * realtime mode look-ahead removes nothing).  An IVF search costs the lists
 * it scans, not the result count, so doubling k is nearly free; the +16 keeps
 * a few drops from starving a small k.  Same-ticker-only searches
 * (!cross_asset) keep ~1/(number of tickers) of any candidate list, which no
 * factor fixes: ask for the most and prefer a per-ticker search.
 */
int
prt_forecast_overfetch(const prt_forecast_params_t *p)
{
    int  want;

    if (p == NULL || p->k < PRT_FORECAST_K_MIN || p->k > PRT_FORECAST_K_MAX) {
        return 0;
    }
    if (!p->cross_asset) {
        return PRT_FORECAST_FETCH_MAX;
    }
    want = 2 * p->k + 16;
    return want < PRT_FORECAST_FETCH_MAX ? want : PRT_FORECAST_FETCH_MAX;
}

int
prt_forecast_next_fetch(const prt_forecast_params_t *p, int fetched)
{
    int  first = prt_forecast_overfetch(p);
    int  want;

    if (first == 0 || fetched >= PRT_FORECAST_FETCH_MAX) {
        return 0;
    }
    /* 4x per retry: historical look-ahead can remove almost everything */
    want = fetched > PRT_FORECAST_FETCH_MAX / 4 ? PRT_FORECAST_FETCH_MAX
                                                : 4 * fetched;
    if (want < first) {
        want = first;
    }
    return want < PRT_FORECAST_FETCH_MAX ? want : PRT_FORECAST_FETCH_MAX;
}

const char *
prt_direction_name(prt_direction_t d)
{
    return d == PRT_DIRECTION_DOWN ? "DOWN" : "UP";
}

const char *
prt_confidence_name(prt_confidence_t c)
{
    switch (c) {
    case PRT_CONFIDENCE_HIGH:
        return "high";
    case PRT_CONFIDENCE_MEDIUM:
        return "medium";
    default:
        return "low";
    }
}

const char *
prt_forecast_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case PRT_FORECAST_ENONE:
        return "no neighbours after exclusions";
    case PRT_FORECAST_EINVAL:
        return "invalid forecast parameters";
    case PRT_FORECAST_EORDER:
        return "search distances not finite or not ascending";
    case PRT_FORECAST_ELOOKUP:
        return "pattern metadata lookup failed";
    default:
        return "unknown forecast error";
    }
}

/* Step 1's exclusions for a candidate whose metadata is known. */
static int
neighbour_is_excluded(const prt_forecast_params_t *p, const prt_query_t *q,
    const prt_neighbour_info_t *info)
{
    if (info->traj == NULL || !isfinite(info->traj[p->horizon_idx])) {
        return 1;
    }
    if (p->exclude_self && info->ticker == q->query_ticker) {
        return 1;
    }
    if (!p->cross_asset && info->ticker != q->query_ticker) {
        return 1;
    }
    /* no look-ahead: only days strictly before the query's trading day */
    return info->bar_time >= q->query_day_start;
}

static double
distance_from_squared(float dist2)
{
    /* FAISS's ||x||^2 + ||y||^2 - 2xy can dip a hair below 0 */
    return dist2 > 0.0f ? sqrt((double) dist2) : 0.0;
}

/*
 * Step 1: walks the candidates in FAISS order, keeps the first k that pass.
 * The weights need finite d_1 <= d_i <= d_n, so a list that is not by
 * ascending finite distance is refused rather than silently mis-weighted.
 */
static int
collect_neighbours(const prt_forecast_params_t *p, const prt_query_t *q,
    const prt_candidate_t *cand, size_t n_cand,
    prt_neighbour_lookup_fn lookup, void *ctx, prt_neighbour_t *neigh)
{
    prt_neighbour_info_t  info;
    float                 prev = -INFINITY;
    size_t                i;
    int                   n = 0, rc;

    for (i = 0; i < n_cand && n < p->k; i++) {
        if (cand[i].id < 0) {
            continue;       /* FAISS pads short result lists with -1 */
        }
        if (!isfinite(cand[i].dist2) || !(cand[i].dist2 >= prev)) {
            return PRT_FORECAST_EORDER;
        }
        prev = cand[i].dist2;

        rc = lookup(ctx, cand[i].id, &info);
        if (rc == -1) {
            continue;
        }
        if (rc != 0) {
            return PRT_FORECAST_ELOOKUP;
        }
        if (neighbour_is_excluded(p, q, &info)) {
            continue;
        }

        neigh[n].id = cand[i].id;
        neigh[n].bar_time = info.bar_time;
        neigh[n].ticker = info.ticker;
        neigh[n].trimmed = 0;
        neigh[n].distance = distance_from_squared(cand[i].dist2);
        neigh[n].ret = info.traj[p->horizon_idx];
        neigh[n].traj = info.traj;
        n++;
    }
    return n;
}

/* Step 2: w_i = exp(-alpha * (d_i - d_1) / (d_n - d_1)). */
static void
assign_weights(prt_neighbour_t *neigh, int n, double alpha)
{
    double  d1 = neigh[0].distance;
    double  span = neigh[n - 1].distance - d1;
    double  u;
    int     i;

    for (i = 0; i < n; i++) {
        u = span > 0.0 ? (neigh[i].distance - d1) / span : 0.0;
        neigh[i].weight = exp(-alpha * u);
    }
}

static int
compare_ranked(const void *a, const void *b)
{
    const ranked_return_t  *x = a, *y = b;

    if (x->ret != y->ret) {
        return x->ret < y->ret ? -1 : 1;
    }
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/*
 * Trims `count` neighbours from one end of the sorted returns.  Among equal
 * returns at the cut the farthest neighbours (highest rank, lowest weight)
 * go first, at either end: a tie says nothing about which is the outlier, and
 * the nearest are the best evidence.  Within a run of equal returns the
 * sorted order is by ascending rank, so the run is walked from its tail.
 */
static void
trim_one_end(const ranked_return_t *sorted, int n, int count, int from_low,
    prt_neighbour_t *neigh)
{
    int  start, end, step, g0, g1, j, avail;

    step = from_low ? 1 : -1;
    start = from_low ? 0 : n - 1;
    end = from_low ? n : -1;

    for (g0 = start; count > 0 && g0 != end; g0 = g1) {
        /* run of equal returns: positions g0 .. g1 - step */
        g1 = g0;
        while (g1 != end && sorted[g1].ret == sorted[g0].ret) {
            g1 += step;
        }
        avail = 0;
        for (j = g0; j != g1; j += step) {
            avail += !neigh[sorted[j].rank].trimmed;
        }
        /* highest rank = highest position within the run */
        for (j = (from_low ? g1 - 1 : g0); count > 0 && avail > 0; j--) {
            if (!neigh[sorted[j].rank].trimmed) {
                neigh[sorted[j].rank].trimmed = 1;
                count--;
                avail--;
            }
        }
    }
}

/* Step 3; sorted[] receives the returns in ascending order. */
static int
trim_neighbours(const prt_forecast_params_t *p, prt_neighbour_t *neigh,
    int n, ranked_return_t *sorted)
{
    int  i, n_lo, n_hi;

    for (i = 0; i < n; i++) {
        sorted[i].ret = neigh[i].ret;
        sorted[i].rank = i;
    }
    qsort(sorted, (size_t) n, sizeof(sorted[0]), compare_ranked);

    /* by count, rounded down; each <= 49 % so at least one stays */
    n_lo = n * p->trim_lo / 100;
    n_hi = n * p->trim_hi / 100;
    trim_one_end(sorted, n, n_lo, 1, neigh);
    trim_one_end(sorted, n, n_hi, 0, neigh);
    return n - n_lo - n_hi;
}

/*
 * Weighted mean and population std of the used neighbours' trajectory point
 * j, skipping those without a value there.  The forecast's own mean and std
 * come from here too (at the horizon every used neighbour has a value), so
 * mean_trajectory[h] == mean_return exactly.  Returns the weight summed.
 */
static double
horizon_moments(const prt_neighbour_t *neigh, int n, int j,
    double *mean, double *sd)
{
    double  total = 0.0, sum = 0.0, sum_sq = 0.0, r, m;
    int     i;

    for (i = 0; i < n; i++) {
        r = neigh[i].traj[j];
        if (!neigh[i].trimmed && isfinite(r)) {
            total += neigh[i].weight;
            sum += neigh[i].weight * r;
        }
    }
    if (!(total > 0.0)) {
        *mean = NAN;
        *sd = NAN;
        return 0.0;
    }
    m = sum / total;
    for (i = 0; i < n; i++) {
        r = neigh[i].traj[j];
        if (!neigh[i].trimmed && isfinite(r)) {
            sum_sq += neigh[i].weight * (r - m) * (r - m);
        }
    }
    *mean = m + 0.0;                    /* no "-0" in JSON */
    *sd = sqrt(sum_sq / total);
    return total;
}

void
prt_forecast_trajectories(const prt_neighbour_t *neigh, int n,
    double mean[PRT_N_HORIZONS], double sd[PRT_N_HORIZONS])
{
    int  j;

    for (j = 0; j < PRT_N_HORIZONS; j++) {
        horizon_moments(neigh, n, j, &mean[j], &sd[j]);
    }
}

static double
probability_up(const prt_neighbour_t *neigh, int n, double total)
{
    double  up = 0.0;
    int     i;

    for (i = 0; i < n; i++) {
        if (neigh[i].trimmed) {
            continue;
        }
        if (neigh[i].ret > 0.0) {
            up += neigh[i].weight;
        } else if (neigh[i].ret == 0.0) {
            up += 0.5 * neigh[i].weight;
        }
    }
    up /= total;
    return up < 1.0 ? up : 1.0;
}

/* Smallest used return whose cumulative weight reaches q * total. */
static double
weighted_percentile(const ranked_return_t *sorted, int n,
    const prt_neighbour_t *neigh, double q)
{
    double  total = 0.0, cum = 0.0, target;
    int     i, last = -1;

    /* same order as the cumulative sum, so q = 1 lands on the last one */
    for (i = 0; i < n; i++) {
        if (!neigh[sorted[i].rank].trimmed) {
            total += neigh[sorted[i].rank].weight;
        }
    }
    target = (q - PCT_REL_EPS) * total;
    for (i = 0; i < n; i++) {
        if (neigh[sorted[i].rank].trimmed) {
            continue;
        }
        last = i;
        cum += neigh[sorted[i].rank].weight;
        if (cum >= target) {
            return sorted[i].ret;
        }
    }
    return last >= 0 ? sorted[last].ret : NAN;
}

double
prt_edge_of(prt_direction_t d, double prob_up, double mean_return)
{
    if (d == PRT_DIRECTION_UP) {
        return prob_up * mean_return + 0.0;        /* no "-0" in JSON */
    }
    return (1.0 - prob_up) * -mean_return + 0.0;
}

/* Kish's (sum w)^2 / sum w^2 over the used neighbours */
static double
effective_count(const prt_neighbour_t *neigh, int n)
{
    double  sum = 0.0, sum_sq = 0.0;
    int     i;

    for (i = 0; i < n; i++) {
        if (!neigh[i].trimmed) {
            sum += neigh[i].weight;
            sum_sq += neigh[i].weight * neigh[i].weight;
        }
    }
    return prt_kish_n_eff(sum, sum_sq);
}

static prt_confidence_t
confidence_of(double mean, double sd)
{
    double  c = 1.0 - sd / (fabs(mean) + CONF_EPS);

    if (c > CONF_HIGH) {
        return PRT_CONFIDENCE_HIGH;
    }
    return c > CONF_MEDIUM ? PRT_CONFIDENCE_MEDIUM : PRT_CONFIDENCE_LOW;
}

/* Steps 4-6 over the used (untrimmed) neighbours. */
static void
summarise(const prt_forecast_params_t *p, const prt_neighbour_t *neigh,
    int n, const ranked_return_t *sorted, prt_forecast_t *out)
{
    prt_interval_t  ci;
    double          total;

    total = horizon_moments(neigh, n, p->horizon_idx,
                            &out->mean_return, &out->std_return);
    out->prob_up = probability_up(neigh, n, total);
    out->prob_down = 1.0 - out->prob_up;
    out->n_eff = effective_count(neigh, n);
    ci = prt_wilson(out->prob_up, out->n_eff, PRT_STATS_Z95);
    out->prob_up_ci_lo = ci.lo;
    out->prob_up_ci_hi = ci.hi;

    out->p10 = weighted_percentile(sorted, n, neigh, 0.10);
    out->median_return = weighted_percentile(sorted, n, neigh, 0.50);
    out->p90 = weighted_percentile(sorted, n, neigh, 0.90);

    out->direction = out->mean_return >= 0.0 ? PRT_DIRECTION_UP
                                              : PRT_DIRECTION_DOWN;
    out->edge = prt_edge_of(out->direction, out->prob_up, out->mean_return);
    out->confidence = confidence_of(out->mean_return, out->std_return);

    prt_forecast_trajectories(neigh, n, out->mean_trajectory,
                              out->std_trajectory);
}

int
prt_forecast(const prt_forecast_params_t *p, const prt_query_t *q,
    const prt_candidate_t *cand, size_t n_cand,
    prt_neighbour_lookup_fn lookup, void *ctx,
    prt_neighbour_t *neigh, prt_forecast_t *out)
{
    ranked_return_t  sorted[PRT_FORECAST_K_MAX];
    int              n;

    if (prt_forecast_check_params(p) != 0 || q == NULL || lookup == NULL
        || neigh == NULL || out == NULL || (cand == NULL && n_cand > 0))
    {
        return PRT_FORECAST_EINVAL;
    }

    n = collect_neighbours(p, q, cand, n_cand, lookup, ctx, neigh);
    if (n < 0) {
        return n;
    }
    if (n == 0) {
        return PRT_FORECAST_ENONE;
    }

    assign_weights(neigh, n, p->alpha);
    out->n_neighbors = n;
    out->dist1 = neigh[0].distance;
    out->n_used = trim_neighbours(p, neigh, n, sorted);
    summarise(p, neigh, n, sorted, out);
    return 0;
}
