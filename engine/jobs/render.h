/*
 * The JSON shapes of SPEC 5.1 for jobs, results and failures, shared by the
 * REST answers and the WebSocket events (so both always agree).
 */
#ifndef PRT_RENDER_H
#define PRT_RENDER_H

#include "core/json.h"
#include "jobs/store.h"

void prt_render_result(prt_json_t *j, const prt_pred_rec_t *p);
/* "key": [lo, hi], or null when either is not finite */
void prt_render_interval(prt_json_t *j, const char *key, double lo,
    double hi);
void prt_render_failure(prt_json_t *j, const prt_fail_rec_t *f);
void prt_render_params(prt_json_t *j, const prt_job_rec_t *job);
void prt_render_progress(prt_json_t *j, const prt_job_rec_t *job);

/* What a price_update is about: one prediction. */
typedef struct {
    uint64_t     prediction_id;
    const char  *symbol;
    uint8_t      direction;                /* prt_direction_t */
    double       price_at_scan;
} prt_price_subject_t;

/* {"price_update":{...}} of SPEC 5.3: the prediction's return at a price
 * of its symbol at at_ms (minutes_left 0: the horizon's price) */
void prt_render_price_update(prt_json_t *j, const prt_price_subject_t *s,
    double price, int64_t at_ms, int64_t minutes_left);

/* "job_id", "status", "params", "progress", "started_at", "completed_at"
 * (and "reason") as keys of the object being written */
void prt_render_job_fields(prt_json_t *j, const prt_job_rec_t *job);

#endif
