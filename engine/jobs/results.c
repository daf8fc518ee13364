#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/render.h"
#include "jobs/results.h"

int
prt_pred_list_push(prt_pred_list_t *l, const prt_pred_rec_t *p)
{
    void  *v;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        v = realloc(l->v, l->cap * sizeof(*l->v));
        if (v == NULL) {
            return -1;
        }
        l->v = v;
    }
    l->v[l->n++] = *p;
    return 0;
}

void
prt_pred_list_free(prt_pred_list_t *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int
push_fn(const prt_pred_rec_t *p, void *ctx)
{
    return prt_pred_list_push(ctx, p) == 0 ? 0 : -1;
}

int
prt_results_load(prt_store_t *s, MDB_txn *txn,
    const uint8_t job[PRT_JOB_UUID_LEN], prt_pred_list_t *out)
{
    return prt_store_job_predictions(s, txn, job, push_fn, out);
}

typedef struct {
    prt_store_t      *s;
    const uint8_t    *job;
    prt_pred_list_t  *out;
} read_ctx_t;

static int
read_txn(MDB_txn *txn, void *arg)
{
    read_ctx_t  *c = arg;

    return prt_results_load(c->s, txn, c->job, c->out);
}

int
prt_results_read(prt_store_t *s, const uint8_t job[PRT_JOB_UUID_LEN],
    prt_pred_list_t *out)
{
    read_ctx_t  c = { s, job, out };

    return prt_store_read(s, read_txn, &c);
}

static double
sort_key(const prt_pred_rec_t *p, prt_sort_t by)
{
    switch (by) {
    case PRT_SORT_PROB_UP:
        return p->prob_up;
    case PRT_SORT_MEAN_RETURN:
        return p->mean_return;
    case PRT_SORT_EDGE_CALIBRATED:
        /* unknown in records older than the field: ranked last */
        return isnan(p->edge_cal) ? -INFINITY : p->edge_cal;
    default:
        return p->edge;
    }
}

/* qsort_r (glibc): rankings run on several worker threads at once */
static int
rank_cmp(const void *a, const void *b, void *arg)
{
    const prt_pred_rec_t  *x = a, *y = b;
    prt_sort_t             by = *(const prt_sort_t *) arg;
    double                 kx = sort_key(x, by), ky = sort_key(y, by);

    if (kx != ky) {
        return kx > ky ? -1 : 1;
    }
    return (x->id > y->id) - (x->id < y->id);
}

void
prt_results_rank(prt_pred_list_t *l, prt_sort_t by)
{
    qsort_r(l->v, l->n, sizeof(*l->v), rank_cmp, &by);
}

size_t
prt_results_count(const prt_pred_list_t *l, double min_edge)
{
    size_t  n = 0;

    for (size_t i = 0; i < l->n; i++) {
        n += l->v[i].edge >= min_edge;
    }
    return n;
}

void
prt_results_json(prt_json_t *j, const prt_pred_list_t *l, double min_edge)
{
    prt_json_array(j);
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].edge >= min_edge) {
            prt_render_result(j, &l->v[i]);
        }
    }
    prt_json_array_end(j);
}
