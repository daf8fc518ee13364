/*
 * A job's predictions as lists: loaded from the store, ranked (edge,
 * prob_up or mean_return, highest first, ties by prediction id) and
 * filtered the way GET /job and job_complete present them.
 */
#ifndef PRT_RESULTS_H
#define PRT_RESULTS_H

#include <stddef.h>

#include "core/json.h"
#include "jobs/store.h"

typedef struct {
    prt_pred_rec_t  *v;
    size_t           n;
    size_t           cap;
} prt_pred_list_t;

int  prt_pred_list_push(prt_pred_list_t *l, const prt_pred_rec_t *p);
void prt_pred_list_free(prt_pred_list_t *l);

/* every prediction of the job (in a read transaction of the caller) */
int  prt_results_load(prt_store_t *s, MDB_txn *txn,
    const uint8_t job[PRT_JOB_UUID_LEN], prt_pred_list_t *out);

/* the same in a read transaction of its own */
int  prt_results_read(prt_store_t *s, const uint8_t job[PRT_JOB_UUID_LEN],
    prt_pred_list_t *out);

void prt_results_rank(prt_pred_list_t *l, prt_sort_t by);

/* the ranked results of a job as GET /job shows them: edge >= min_edge */
void prt_results_json(prt_json_t *j, const prt_pred_list_t *l,
    double min_edge);
size_t prt_results_count(const prt_pred_list_t *l, double min_edge);

#endif
