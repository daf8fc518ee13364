/*
 * One chunk of a job's symbols scanned (SPEC 4, 5.1): market checks at the
 * scan time, the window at each symbol's latest complete bar, one batched
 * prediction for all of them, and a prediction or a failure record per
 * symbol. Runs on a worker thread; reads only (bar store, index).
 */
#ifndef PRT_SCAN_H
#define PRT_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "data/barstore.h"
#include "index/index.h"
#include "jobs/store.h"
#include "stats/calibration.h"

typedef struct {
    /* input */
    const prt_job_rec_t   *job;          /* params, id, scan time */
    prt_index_t           *ix;           /* NULL: every symbol E_FAISS */
    const prt_calib_map_t *calib;        /* prob_up_calibrated */
    prt_barstore_t        *bars;
    int64_t                max_staleness_ms;
    const char           (*symbols)[PRT_SYMBOL_SIZE];
    size_t                 n;

    /* output, n slots each */
    prt_pred_rec_t        *preds;
    size_t                 npreds;
    prt_fail_rec_t        *fails;
    size_t                 nfails;
    uint64_t               search_us;    /* time in the batched search */
    uint64_t               total_us;
} prt_scan_chunk_t;

/* Allocates the output arrays and runs the chunk; -1 only when out of
 * memory (the symbols then all fail with E_INTERNAL by the caller). */
int  prt_scan_chunk_run(prt_scan_chunk_t *c);
void prt_scan_chunk_free(prt_scan_chunk_t *c);

#endif
