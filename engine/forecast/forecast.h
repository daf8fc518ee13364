/*
 * The forecast of one symbol from its nearest historical patterns (SPEC §3;
 * decisions in docs/forecast.md).
 *
 * The caller searches FAISS, hands the candidates over in FAISS order and a
 * lookup that tells ticker, bar time and trajectory of a pattern id; this
 * module filters, weights, trims and summarises.  It allocates nothing: the
 * kept neighbours go to a caller array of capacity k, scratch is bounded by
 * PRT_FORECAST_K_MAX on the stack.
 */
#ifndef PRT_FORECAST_H
#define PRT_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include "index/pattern.h"

#define PRT_FORECAST_K_MIN        1
#define PRT_FORECAST_K_MAX        500
#define PRT_FORECAST_ALPHA_MAX    50.0
#define PRT_FORECAST_TRIM_MAX     49
#define PRT_FORECAST_FETCH_MAX    8192    /* most candidates worth asking for */

#define PRT_FORECAST_ENONE   (-1)   /* nothing left after exclusions: E_FAISS */
#define PRT_FORECAST_EINVAL  (-2)   /* parameters out of range, NULL argument */
#define PRT_FORECAST_EORDER  (-3)   /* distances not finite and ascending */
#define PRT_FORECAST_ELOOKUP (-4)   /* the lookup failed (not "unknown id") */

typedef struct {
    int     k;                  /* 1..500 */
    int     horizon_idx;        /* index into prt_horizons */
    double  alpha;              /* 0..50 */
    int     trim_lo, trim_hi;   /* percent, 0..49 */
    int     exclude_self, cross_asset;
} prt_forecast_params_t;

typedef struct {
    int64_t  id;                /* FAISS label, -1 for "no result" */
    float    dist2;             /* squared L2, as FAISS returns it */
} prt_candidate_t;

/* prt_neighbour_info_t, prt_neighbour_lookup_fn: index/pattern.h */

typedef struct {
    uint32_t  query_ticker;     /* UINT32_MAX when not in the index */
    int64_t   query_day_start;  /* Unix s of 00:00 New York, query's day */
} prt_query_t;

typedef enum {
    PRT_DIRECTION_UP = 0,
    PRT_DIRECTION_DOWN = 1
} prt_direction_t;

typedef enum {
    PRT_CONFIDENCE_LOW = 0,
    PRT_CONFIDENCE_MEDIUM = 1,
    PRT_CONFIDENCE_HIGH = 2
} prt_confidence_t;

/* A kept neighbour, nearest first.  traj is the lookup's pointer, unowned. */
typedef struct {
    int64_t       id;
    int64_t       bar_time;
    uint32_t      ticker;
    int           trimmed;      /* 1: dropped from the statistics by step 3 */
    double        distance;     /* L2, not squared */
    double        weight;       /* exp(-alpha * u) */
    double        ret;          /* return at the horizon, percent */
    const float  *traj;
} prt_neighbour_t;

typedef struct {
    int               n_neighbors;  /* kept after exclusions (before trim) */
    int               n_used;       /* left after trimming */
    double            prob_up, prob_down;
    double            mean_return, std_return;
    double            p10, p90, median_return;
    double            edge;         /* >= 0 */
    prt_direction_t   direction;
    /* what prob_up is worth (SPEC 3.1): Kish's effective number of the
     * used weights and the Wilson 95 % interval of prob_up at it */
    double            n_eff;
    double            prob_up_ci_lo, prob_up_ci_hi;
    double            dist1;        /* distance of the nearest kept */
    prt_confidence_t  confidence;
    /* weighted over the used neighbours; NaN where none has a value */
    double            mean_trajectory[PRT_N_HORIZONS];
    double            std_trajectory[PRT_N_HORIZONS];
} prt_forecast_t;

/*
 * Runs SPEC §3 on n_cand candidates in FAISS order.  neigh[] has room for
 * p->k entries and receives the kept neighbours; *out the statistics.
 * Returns 0, PRT_FORECAST_ENONE when nothing survives the exclusions, or
 * another PRT_FORECAST_E* code.  Fewer than k kept with all candidates used
 * means the caller may retry with more (prt_forecast_next_fetch).
 */
int prt_forecast(const prt_forecast_params_t *p, const prt_query_t *q,
    const prt_candidate_t *cand, size_t n_cand,
    prt_neighbour_lookup_fn lookup, void *ctx,
    prt_neighbour_t *neigh, prt_forecast_t *out);

/*
 * The mean and std trajectories of prt_forecast (weighted over the
 * untrimmed neighbours, NaN points skipped, NaN where none has a value),
 * for a caller that has filled in trajectory points afterwards.
 */
void prt_forecast_trajectories(const prt_neighbour_t *neigh, int n,
    double mean[PRT_N_HORIZONS], double sd[PRT_N_HORIZONS]);

/* How many candidates to ask FAISS for at first (see docs/forecast.md). */
int prt_forecast_overfetch(const prt_forecast_params_t *p);

/*
 * Candidates to ask for on a retry after `fetched` left fewer than k, or 0
 * when `fetched` already reached PRT_FORECAST_FETCH_MAX.
 */
int prt_forecast_next_fetch(const prt_forecast_params_t *p, int fetched);

/* 0 when p is within SPEC §3's ranges, else PRT_FORECAST_EINVAL. */
int prt_forecast_check_params(const prt_forecast_params_t *p);

/* SPEC 3.5: prob_up * mean for UP, (1 - prob_up) * (-mean) for DOWN; the
 * raw edge with the raw prob_up, edge_calibrated with the calibrated one */
double prt_edge_of(prt_direction_t d, double prob_up, double mean_return);

const char *prt_direction_name(prt_direction_t d);       /* "UP" / "DOWN" */
const char *prt_confidence_name(prt_confidence_t c);     /* "high" ... */
const char *prt_forecast_strerror(int code);

#endif
