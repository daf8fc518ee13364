/*
 * Walk-forward calibration of prob_up (SPEC 3.1; the method and its
 * measured effect in docs/forecast.md).
 *
 * The calibrator remembers every verified prediction of each horizon as
 * (verified_at, raw prob_up bin, outcome) and answers, for a horizon and a
 * cutoff time, the monotone map fitted only on the predictions verified at
 * or before the cutoff: a prediction scanned at time S uses the map with
 * cutoff S, so no later outcome reaches it. The fit works on
 * PRT_CALIB_BINS fixed-width bins of raw prob_up:
 *
 *   1. n_b predictions and u_b up moves (a tie, actual_return = 0, counts
 *      half) per bin; N and U their totals. N = 0: every bin maps to 0.5.
 *   2. base rate r = (U + B/2) / (N + B), B = PRT_CALIB_BASE_PRIOR: a
 *      Beta(B/2, B/2) prior, 0.5 with nothing seen, and a base rate that
 *      a few days of correlated outcomes cannot swing;
 *   3. isotonic regression of u_b / n_b weighted by n_b over the non-empty
 *      bins (pool adjacent violators);
 *   4. each pooled block (s, w) shrunk toward r with a prior of m
 *      predictions: (s + m r) / (w + m), so a block that few predictions
 *      support stays near the base rate;
 *   5. pool adjacent violators again over the shrunk blocks (weights w + m)
 *      so the map stays monotone;
 *   6. an empty bin takes the value of the nearest non-empty bin below it
 *      (above it when there is none below).
 *
 * Counts are integers (ties in halves), so the fit is exact and a test can
 * recompute it from /history. Thread-safe: the loop thread adds, worker
 * threads read maps. A NULL calibrator is one that remembers nothing: adds
 * are ignored and every map is the empty one (0.5).
 */
#ifndef PRT_CALIBRATION_H
#define PRT_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#define PRT_CALIB_BINS           100
#define PRT_CALIB_BASE_PRIOR     1000.0

typedef struct {
    uint64_t  n;                      /* predictions the map was fitted on */
    double    base_rate;              /* step 2 */
    double    value[PRT_CALIB_BINS];  /* calibrated prob_up per raw bin */
} prt_calib_map_t;

/* bin of a raw prob_up: floor(p * BINS + 1e-9), clamped to the bins */
int    prt_calib_bin(double prob_up);
double prt_calib_apply(const prt_calib_map_t *m, double prob_up);

/* Steps 1-6 over per-bin counts; up2[b] is twice the up moves of bin b. */
void   prt_calib_fit(const uint64_t n[PRT_CALIB_BINS],
    const uint64_t up2[PRT_CALIB_BINS], double prior, prt_calib_map_t *out);

/* 1 up, 0.5 tie, 0 down, in halves: 2, 1, 0 */
int    prt_calib_outcome2(double actual_return);

typedef struct prt_calibrator_s  prt_calibrator_t;

/* series: how many horizons; prior: m of step 4. NULL on no memory. */
prt_calibrator_t *prt_calibrator_new(int series, double prior);
void prt_calibrator_free(prt_calibrator_t *c);

/* One verified prediction; 0, or -1 (bad series, no memory). */
int  prt_calibrator_add(prt_calibrator_t *c, int series,
    int64_t verified_at_ms, double prob_up, double actual_return);

/* The map of a series fitted on what was verified at or before cutoff. */
int  prt_calibrator_map(prt_calibrator_t *c, int series, int64_t cutoff_ms,
    prt_calib_map_t *out);

/* verified predictions remembered in one series (0 for a bad series) */
uint64_t prt_calibrator_count(prt_calibrator_t *c, int series);

/* verified predictions remembered, over every series */
uint64_t prt_calibrator_size(prt_calibrator_t *c);

#endif
