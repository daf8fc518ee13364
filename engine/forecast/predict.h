/*
 * Query vectors -> nearest patterns -> forecast (SPEC 3) for a batch of
 * queries sharing their parameters: the step a single search and a job's
 * scan chunk have in common. One FAISS call per trading day in the batch
 * (a scan's queries share one), exact per-ticker search when cross_asset
 * is false, and a wider fetch for the queries the exclusions left short.
 * Runs on a worker thread.
 */
#ifndef PRT_PREDICT_H
#define PRT_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "forecast/forecast.h"
#include "index/index.h"

typedef struct {
    const float  *vec;              /* PRT_WINDOW features */
    const char   *ticker;           /* the query's symbol */
    int32_t       day;              /* its New York trading day */
} prt_predict_query_t;

typedef struct {
    int               rc;           /* 0, or a PRT_FORECAST_E* code */
    prt_forecast_t    forecast;
    prt_neighbour_t  *neighbours;   /* k slots, forecast.n_neighbors used */
} prt_prediction_t;

/* out[i].neighbours must point at p->k slots each. Returns 0, or -1 with
 * err when the search itself failed (every query then has E_FAISS). */
int prt_predict(prt_index_t *ix, const prt_forecast_params_t *p,
    const prt_predict_query_t *q, size_t n, prt_prediction_t *out,
    char *err, size_t errlen);

#endif
