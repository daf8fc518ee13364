/*
 * Pattern windows and trajectories over one ticker's bars of one trading day
 * (SPEC §2.2, §2.3; decisions in docs/forecast.md).
 *
 * Every function takes `const prt_bar_t *bars, size_t n`: one ticker, one
 * trading day, sorted by minute, at most one bar per minute.
 *
 * The realtime query path (prt_pattern_window + prt_pattern_trajectory) and
 * the index build (prt_day_scan_*) share one feature kernel, so a pattern
 * built into the index and the same pattern computed at query time are equal
 * bit for bit.
 */
#ifndef PRT_PATTERN_H
#define PRT_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "data/bar.h"
#include "pattern_rt_msg.h"        /* PRT_N_HORIZONS, PRT_HORIZONS_INIT */

#define PRT_WINDOW          30     /* W: bars per pattern, vector dimension */

/*
 * A standard deviation of one-minute log returns at or below this is "0":
 * the rounding noise of a difference of two logs is ~1e-15, while the
 * smallest real move (one cent on a $1M share, once in 29 minutes) gives
 * sigma > 1e-9.  Without a floor, rounding noise on a geometric series would
 * pass as volatility and blow the features up to ~1e13.
 */
#define PRT_SIGMA_FLAT      1e-12

/* Errors of prt_pattern_window (all map to E_WINDOW except EPRICE). */
#define PRT_PATTERN_ESHORT  (-1)   /* no 30 consecutive minutes ending at t */
#define PRT_PATTERN_EFLAT   (-2)   /* sigma <= PRT_SIGMA_FLAT or not finite */
#define PRT_PATTERN_EPRICE  (-3)   /* a close <= 0 or not finite */
#define PRT_PATTERN_EARG    (-4)   /* NULL, index out of range, not one day */

/* H = {1,2,3,4,5,6,7,8,9,10,15,20,30,45,60} minutes, ascending. */
extern const int prt_horizons[PRT_N_HORIZONS];

typedef struct {
    double  c29;        /* close of bar t, the reference price */
    double  sigma;      /* population std (divisor 29) of the 29 log returns */
    double  volume;     /* total volume of the 30 bars */
} prt_window_info_t;

/* One pattern emitted by the day scan. */
typedef struct {
    size_t             end_idx;            /* index of bar t in the day */
    int32_t            minute;             /* t, minutes after 00:00 ET */
    float              vec[PRT_WINDOW];
    float              traj[PRT_N_HORIZONS];
    prt_window_info_t  info;
} prt_pattern_t;

/* What the forecast needs to know about a neighbour (forecast/forecast.h):
 * the index answers it (index/index.h). */
typedef struct {                /* what the caller knows about a pattern id */
    uint32_t      ticker;       /* ticker dictionary index */
    int64_t       bar_time;     /* bar start, Unix seconds UTC */
    const float  *traj;         /* 15 returns in percent, NaN where unknown */
} prt_neighbour_info_t;

/*
 * 0 ok, -1 unknown id (the candidate is skipped), any other negative value
 * is a failure that aborts the forecast with PRT_FORECAST_ELOOKUP.
 */
typedef int (*prt_neighbour_lookup_fn)(void *ctx, int64_t id,
    prt_neighbour_info_t *out);

/*
 * Iterator over every end index of a day.  Holds the logs of the day's closes
 * (computed once per bar, not once per window) so it needs no allocation; a
 * day has at most PRT_MINUTES_PER_DAY bars.
 */
typedef struct {
    const prt_bar_t *bars;
    size_t           n;
    size_t           next;          /* next end index to examine */
    size_t           run;           /* consecutive minutes ending at next-1 */
    size_t           last_bad;      /* 1 + index of the latest bad close */
    size_t           n_short;       /* end indexes without a 30-minute run */
    size_t           n_price;       /* ... with a bad close in the window */
    size_t           n_flat;        /* ... with a flat window */
    size_t           n_emitted;
    double           logc[PRT_MINUTES_PER_DAY];
} prt_day_scan_t;

/* Index of `minutes` in H, or -1 when it is not a horizon. */
int prt_horizon_index(int minutes);

/*
 * Feature vector of the window ending at bars[end_idx] (SPEC §2.2).
 * Returns 0 and fills out[] (and *info unless NULL), or a PRT_PATTERN_E*
 * code; checks run in the order ESHORT, EPRICE, EFLAT.
 */
int prt_pattern_window(const prt_bar_t *bars, size_t n, size_t end_idx,
    float out[PRT_WINDOW], prt_window_info_t *info);

/* C(u): close of the latest bar with start <= u; NaN when there is none. */
double prt_close_at(const prt_bar_t *bars, size_t n, int minute);

/*
 * Trajectory after bars[end_idx] (SPEC §2.3): out[i] = 100 * (C(t+h_i) / c29
 * - 1) in percent.  NaN when t+h_i > 20:00 ET (20:00 itself counts), or when
 * c29 or C(t+h_i) is not a usable price.  Amortised O(1) per horizon.
 */
void prt_pattern_trajectory(const prt_bar_t *bars, size_t n, size_t end_idx,
    float out[PRT_N_HORIZONS]);

/*
 * The verification rule (SPEC §6) for the points past the end of the day:
 * a return whose t+h_i > 20:00 ET holds at the day's last close, C(20:00),
 * the price a prediction with that horizon is verified at.  bars are the
 * whole (finished) day of the pattern ending at minute t; only points with
 * t+h_i > 20:00 are written.  Returns 0, or -1 (nothing written) when c29
 * or the last close is not a usable price.
 */
int prt_trajectory_hold_day_end(const prt_bar_t *bars, size_t n, int t,
    float traj[PRT_N_HORIZONS]);

/*
 * Starts a scan of one day.  Returns 0, or PRT_PATTERN_EARG when the bars are
 * not one day (more than PRT_MINUTES_PER_DAY bars, minutes outside
 * 04:00-19:59, or not strictly increasing).
 */
int prt_day_scan_init(prt_day_scan_t *s, const prt_bar_t *bars, size_t n);

/*
 * Next pattern with a valid window (ascending end index): 1 and *out filled,
 * 0 when the day is done.  Skipped end indexes are counted in s->n_short,
 * n_price and n_flat; out equals what prt_pattern_window and
 * prt_pattern_trajectory give for out->end_idx, bit for bit.
 */
int prt_day_scan_next(prt_day_scan_t *s, prt_pattern_t *out);

/* Operator-readable reason for a PRT_PATTERN_E* code. */
const char *prt_pattern_strerror(int code);

#endif
