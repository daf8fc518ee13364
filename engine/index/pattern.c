/*
 * Pattern windows and trajectories (SPEC §2.2, §2.3).
 *
 * Features are computed from the logs of the closes: p_j = ln c_j - ln c_29
 * and the returns ln c_j - ln c_{j-1}.  That needs one log per bar instead of
 * 59 per window, which is what makes the day scan cheap, and both the query
 * path and the day scan feed the same logs to the same kernel, so their
 * vectors agree bit for bit.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "index/pattern.h"

/* the module validates horizons against the same list */
const int prt_horizons[PRT_N_HORIZONS] = PRT_HORIZONS_INIT;

int
prt_horizon_index(int minutes)
{
    int  i;

    for (i = 0; i < PRT_N_HORIZONS; i++) {
        if (prt_horizons[i] == minutes) {
            return i;
        }
    }
    return -1;
}

const char *
prt_pattern_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case PRT_PATTERN_ESHORT:
        return "no contiguous 30-bar window ending at this bar";
    case PRT_PATTERN_EFLAT:
        return "flat window";
    case PRT_PATTERN_EPRICE:
        return "bad price in the window";
    case PRT_PATTERN_EARG:
        return "invalid bars or bar index";
    default:
        return "unknown pattern error";
    }
}

static int
price_is_usable(double price)
{
    return isfinite(price) && price > 0.0;
}

static int
minutes_follow(const prt_bar_t *prev, const prt_bar_t *next)
{
    /* 64-bit so a corrupt INT32_MAX minute cannot overflow */
    return (int64_t) next->minute == (int64_t) prev->minute + 1;
}

/*
 * The feature kernel shared by the query path and the day scan: logc[] holds
 * ln c_0 .. ln c_29.  Writes out[] and *sigma only on success.  sigma is the
 * two-pass population std, which stays exact for the tiny returns of a quiet
 * window where E[r^2] - E[r]^2 would cancel.
 */
static int
features_from_logs(const double *logc, float out[PRT_WINDOW], double *sigma)
{
    double  ret[PRT_WINDOW - 1];
    double  sum, mean, dev, sum_sq, sd, denom;
    int     j;

    sum = 0.0;
    for (j = 1; j < PRT_WINDOW; j++) {
        ret[j - 1] = logc[j] - logc[j - 1];
        sum += ret[j - 1];
    }
    mean = sum / (PRT_WINDOW - 1);

    sum_sq = 0.0;
    for (j = 0; j < PRT_WINDOW - 1; j++) {
        dev = ret[j] - mean;
        sum_sq += dev * dev;
    }
    sd = sqrt(sum_sq / (PRT_WINDOW - 1));
    if (!isfinite(sd) || !(sd > PRT_SIGMA_FLAT)) {
        return PRT_PATTERN_EFLAT;
    }

    denom = sd * sqrt((double) PRT_WINDOW);
    for (j = 0; j < PRT_WINDOW; j++) {
        out[j] = (float) ((logc[j] - logc[PRT_WINDOW - 1]) / denom);
    }
    *sigma = sd;
    return 0;
}

static double
window_volume(const prt_bar_t *first)
{
    double  volume = 0.0;
    int     j;

    for (j = 0; j < PRT_WINDOW; j++) {
        volume += first[j].volume;
    }
    return volume;
}

static void
fill_info(prt_window_info_t *info, const prt_bar_t *first, double sigma)
{
    info->c29 = first[PRT_WINDOW - 1].close;
    info->sigma = sigma;
    info->volume = window_volume(first);
}

int
prt_pattern_window(const prt_bar_t *bars, size_t n, size_t end_idx,
    float out[PRT_WINDOW], prt_window_info_t *info)
{
    const prt_bar_t  *first;
    double            logc[PRT_WINDOW];
    double            sigma;
    int               j, rc;

    if (bars == NULL || out == NULL || end_idx >= n) {
        return PRT_PATTERN_EARG;
    }
    if (end_idx < PRT_WINDOW - 1) {
        return PRT_PATTERN_ESHORT;
    }
    first = &bars[end_idx - (PRT_WINDOW - 1)];

    /* consecutive minutes, not consecutive rows (a gap breaks the window) */
    for (j = 1; j < PRT_WINDOW; j++) {
        if (!minutes_follow(&first[j - 1], &first[j])) {
            return PRT_PATTERN_ESHORT;
        }
    }
    for (j = 0; j < PRT_WINDOW; j++) {
        if (!price_is_usable(first[j].close)) {
            return PRT_PATTERN_EPRICE;
        }
        logc[j] = log(first[j].close);
    }

    rc = features_from_logs(logc, out, &sigma);
    if (rc != 0) {
        return rc;
    }
    if (info != NULL) {
        fill_info(info, first, sigma);
    }
    return 0;
}

double
prt_close_at(const prt_bar_t *bars, size_t n, int minute)
{
    size_t  lo = 0, hi = n, mid;

    if (bars == NULL) {
        return NAN;
    }
    /* first index whose start is after `minute` */
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (bars[mid].minute <= minute) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? NAN : bars[lo - 1].close;
}

void
prt_pattern_trajectory(const prt_bar_t *bars, size_t n, size_t end_idx,
    float out[PRT_N_HORIZONS])
{
    int64_t  t, u;
    double   c29, c;
    size_t   j;
    int      i;

    for (i = 0; i < PRT_N_HORIZONS; i++) {
        out[i] = NAN;
    }
    if (bars == NULL || end_idx >= n) {
        return;
    }
    t = bars[end_idx].minute;
    c29 = bars[end_idx].close;
    if (!price_is_usable(c29)) {
        return;
    }

    /*
     * Horizons ascend, so one forward walk serves all of them: at most 60
     * bars are stepped over in total (amortised O(1) per horizon).
     */
    j = end_idx;
    for (i = 0; i < PRT_N_HORIZONS; i++) {
        u = t + prt_horizons[i];
        if (u > PRT_MINUTE_END) {
            break;
        }
        while (j + 1 < n && bars[j + 1].minute <= u) {
            j++;
        }
        c = bars[j].close;
        if (price_is_usable(c)) {
            out[i] = (float) (100.0 * (c / c29 - 1.0));
        }
    }
}

int
prt_trajectory_hold_day_end(const prt_bar_t *bars, size_t n, int t,
    float traj[PRT_N_HORIZONS])
{
    double  c29, last;
    int     i;

    /* the same C(u) and the same float rounding as prt_pattern_trajectory */
    c29 = prt_close_at(bars, n, t);
    last = prt_close_at(bars, n, PRT_MINUTE_END);
    if (!price_is_usable(c29) || !price_is_usable(last)) {
        return -1;
    }
    for (i = 0; i < PRT_N_HORIZONS; i++) {
        if (t + prt_horizons[i] > PRT_MINUTE_END) {
            traj[i] = (float) (100.0 * (last / c29 - 1.0));
        }
    }
    return 0;
}

static int
bars_are_one_day(const prt_bar_t *bars, size_t n)
{
    size_t  i;

    if (n > PRT_MINUTES_PER_DAY) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (bars[i].minute < PRT_MINUTE_FIRST
            || bars[i].minute > PRT_MINUTE_LAST)
        {
            return 0;
        }
        if (i > 0 && bars[i].minute <= bars[i - 1].minute) {
            return 0;
        }
    }
    return 1;
}

int
prt_day_scan_init(prt_day_scan_t *s, const prt_bar_t *bars, size_t n)
{
    size_t  i;

    if (s == NULL || (bars == NULL && n > 0) || !bars_are_one_day(bars, n)) {
        return PRT_PATTERN_EARG;
    }
    s->bars = bars;
    s->n = n;
    s->next = 0;
    s->run = 0;
    s->last_bad = 0;
    s->n_short = 0;
    s->n_price = 0;
    s->n_flat = 0;
    s->n_emitted = 0;
    for (i = 0; i < n; i++) {
        /* bad closes are never read: windows holding one are skipped */
        s->logc[i] = price_is_usable(bars[i].close) ? log(bars[i].close) : NAN;
    }
    return 0;
}

/* Advances over bar s->next; returns its index. */
static size_t
day_scan_step(prt_day_scan_t *s)
{
    size_t  i = s->next++;

    if (i > 0 && minutes_follow(&s->bars[i - 1], &s->bars[i])) {
        s->run++;
    } else {
        s->run = 1;
    }
    if (!price_is_usable(s->bars[i].close)) {
        s->last_bad = i + 1;
    }
    return i;
}

int
prt_day_scan_next(prt_day_scan_t *s, prt_pattern_t *out)
{
    const prt_bar_t  *first;
    size_t            i, first_idx;
    double            sigma;

    while (s->next < s->n) {
        i = day_scan_step(s);

        /* same checks in the same order as prt_pattern_window */
        if (s->run < PRT_WINDOW) {
            s->n_short++;
            continue;
        }
        first_idx = i - (PRT_WINDOW - 1);
        if (s->last_bad > first_idx) {
            s->n_price++;
            continue;
        }
        if (features_from_logs(&s->logc[first_idx], out->vec, &sigma) != 0) {
            s->n_flat++;
            continue;
        }

        first = &s->bars[first_idx];
        out->end_idx = i;
        out->minute = s->bars[i].minute;
        fill_info(&out->info, first, sigma);
        prt_pattern_trajectory(s->bars, s->n, i, out->traj);
        s->n_emitted++;
        return 1;
    }
    return 0;
}
