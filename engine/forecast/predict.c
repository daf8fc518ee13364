#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern_rt_nytime.h"
#include "forecast/predict.h"
#include "index/pattern.h"

/* Candidates for one query as the forecast wants them. */
static void
to_candidates(const float *dist, const int64_t *ids, size_t k,
    prt_candidate_t *c, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < k; i++) {
        if (ids[i] >= 0) {
            c[*n].id = ids[i];
            c[*n].dist2 = dist[i];
            (*n)++;
        }
    }
}

static int
forecast_one(prt_index_t *ix, const prt_forecast_params_t *p,
    const prt_predict_query_t *q, const float *dist, const int64_t *ids,
    size_t fetched, prt_candidate_t *cand, prt_prediction_t *out)
{
    prt_query_t  query;
    size_t       ncand;

    query.query_ticker = prt_index_ticker(ix, q->ticker);
    query.query_day_start = prt_ny_day_start_utc(q->day);
    to_candidates(dist, ids, fetched, cand, &ncand);
    out->rc = prt_forecast(p, &query, cand, ncand, prt_index_lookup, ix,
                           out->neighbours, &out->forecast);
    return out->rc;
}

/* The queries the exclusions left with fewer than k neighbours, searched
 * again alone with a wider fetch, until k or the whole allowed range. */
static int
widen(prt_index_t *ix, const prt_forecast_params_t *p,
    const prt_predict_query_t *q, int64_t limit, size_t fetched,
    prt_prediction_t *out, char *err)
{
    size_t            avail = limit < 0 ? ix->n : (size_t) limit;
    size_t            k2;
    float            *dist = NULL;
    int64_t          *ids = NULL;
    prt_candidate_t  *cand = NULL;
    int               rc = 0;

    while ((out->rc != 0 || out->forecast.n_neighbors < p->k)
           && fetched < avail)
    {
        k2 = (size_t) prt_forecast_next_fetch(p, (int) fetched);
        if (k2 <= fetched) {
            break;
        }
        k2 = k2 < avail ? k2 : avail;
        free(dist);
        free(ids);
        free(cand);
        dist = malloc(k2 * sizeof(float));
        ids = malloc(k2 * sizeof(int64_t));
        cand = malloc(k2 * sizeof(prt_candidate_t));
        if (dist == NULL || ids == NULL || cand == NULL
            || prt_index_search(ix, 1, q->vec, k2, limit, dist, ids, err) != 0)
        {
            rc = -1;
            break;
        }
        forecast_one(ix, p, q, dist, ids, k2, cand, out);
        fetched = k2;
    }
    free(dist);
    free(ids);
    free(cand);
    return rc;
}

/* cross_asset = false: the ticker's own earlier patterns, exactly. */
static void
predict_own_ticker(prt_index_t *ix, const prt_forecast_params_t *p,
    const prt_predict_query_t *q, prt_prediction_t *out)
{
    uint32_t          t = prt_index_ticker(ix, q->ticker);
    int64_t           limit = prt_index_id_limit(ix, q->day);
    size_t            k2 = (size_t) p->k * 4 + 16, found = 0;
    float            *dist = malloc(k2 * sizeof(float));
    int64_t          *ids = malloc(k2 * sizeof(int64_t));
    prt_candidate_t  *cand = malloc(k2 * sizeof(prt_candidate_t));

    out->rc = PRT_FORECAST_ENONE;
    if (dist && ids && cand && t != PRT_SYMTAB_NONE) {
        /* NaN trajectories at h are dropped by the forecast: fetch more
         * than k so that a few of them do not leave it short */
        found = prt_index_search_ticker(ix, t, q->vec, k2, limit, dist, ids);
        forecast_one(ix, p, q, dist, ids, found, cand, out);
    }
    free(dist);
    free(ids);
    free(cand);
}

static int
predict_day(prt_index_t *ix, const prt_forecast_params_t *p,
    const prt_predict_query_t *q, size_t n, prt_prediction_t *out,
    char *err)
{
    int64_t           limit = prt_index_id_limit(ix, q[0].day);
    size_t            k2 = (size_t) prt_forecast_overfetch(p);
    float            *x = malloc(n * PRT_WINDOW * sizeof(float));
    float            *dist = malloc(n * k2 * sizeof(float));
    int64_t          *ids = malloc(n * k2 * sizeof(int64_t));
    prt_candidate_t  *cand = malloc(k2 * sizeof(prt_candidate_t));
    int               rc = -1;

    if (x == NULL || dist == NULL || ids == NULL || cand == NULL) {
        snprintf(err, PRT_FAISS_ERR_LEN, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * PRT_WINDOW, q[i].vec, PRT_WINDOW * sizeof(float));
    }
    /* k2 = 2k + 16: the first k at the index's full accuracy, the rest
     * spares for the exclusions (index.h); when the exclusions leave
     * fewer than k, widen() searches again with the whole fetch at full
     * accuracy */
    if (prt_index_search_top(ix, n, x, k2, (size_t) p->k, limit, dist, ids,
                             err) != 0)
    {
        goto done;
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        forecast_one(ix, p, &q[i], dist + i * k2, ids + i * k2, k2, cand,
                     &out[i]);
        rc = widen(ix, p, &q[i], limit, k2, &out[i], err);
    }

done:
    free(x);
    free(dist);
    free(ids);
    free(cand);
    return rc;
}

int
prt_predict(prt_index_t *ix, const prt_forecast_params_t *p,
    const prt_predict_query_t *q, size_t n, prt_prediction_t *out,
    char *err, size_t errlen)
{
    char    ferr[PRT_FAISS_ERR_LEN] = "";
    size_t  i, j;
    int     rc = 0;

    if (!p->cross_asset) {
        for (i = 0; i < n; i++) {
            predict_own_ticker(ix, p, &q[i], &out[i]);
        }
        return 0;
    }

    /* consecutive queries of one day share a search (a scan: all of them) */
    for (i = 0; i < n && rc == 0; i = j) {
        for (j = i + 1; j < n && q[j].day == q[i].day; j++) {
            /* same day */
        }
        rc = predict_day(ix, p, q + i, j - i, out + i, ferr);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s", ferr);
        for (i = 0; i < n; i++) {
            out[i].rc = PRT_FORECAST_ENONE;
        }
    }
    return rc;
}
