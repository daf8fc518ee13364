/*
 * The job store's own costs, LMDB against PostgreSQL on the same machine
 * (bench/store.sh, docs/benchmarks.md "Job store: LMDB and PostgreSQL"),
 * through the engine's store API (engine/jobs/store.h), which is what the
 * engine's requests call:
 *
 *   store_bench lmdb DIR | store_bench pg CONNINFO
 *
 * prints, one line each, seconds for
 *   job10k     a 10,000-symbol job: its creation and 40 chunks of 250
 *              predictions committed (the commits of a scan, no search)
 *   fill1m     1,000,000 predictions committed in chunks of 20,000
 *   perf1m     the walk /performance makes over them (scan-time order,
 *              every record decoded), summing edges
 *   due100k    the verification pass's read: 100,000 due of the pending
 *   verify100k its commit: those 100,000 written back verified
 * The PostgreSQL database must be migrated and empty; DIR must not exist.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/store.h"
#include "bench/clock.h"

#define TOTAL    1000000
#define FILL     20000
#define JOB      10000
#define JOB_CHUNK 250
#define DUE      100000

static void
make_job(prt_job_rec_t *job, uint32_t total)
{
    memset(job, 0, sizeof(*job));
    prt_job_id_new(job->id);
    job->status = PRT_JOB_RUNNING;
    job->f.k = 40;
    job->f.horizon = 10;
    job->total = total;
    job->scan_time_ms = 1704294000000;            /* 2024-01-03 15:00Z */
    job->started_at_ms = job->scan_time_ms;
}

/* Prediction k of a job: due times spread so the first DUE are due. */
static void
make_prediction(prt_pred_rec_t *p, const prt_job_rec_t *job, uint64_t k)
{
    double  edge = (double) ((k * 2654435761u) % 100000) / 1e5;

    memset(p, 0, sizeof(*p));
    memcpy(p->job, job->id, PRT_JOB_UUID_LEN);
    snprintf(p->symbol, PRT_SYMBOL_SIZE, "B%04d", (int) (k % 1000));
    p->scan_time_ms = job->scan_time_ms + (int64_t) (k / 1000) * 60000;
    p->bar_time = p->scan_time_ms / 1000 - 60;
    p->due_ms = p->scan_time_ms + 600000;
    p->horizon = 10;
    p->n_neighbors = 40;
    p->edge = edge;
    p->prob_up = 0.5 + edge / 4;
    p->prob_down = 1 - p->prob_up;
    p->price_at_scan = 10;
    p->price_at_horizon = NAN;
    p->was_correct = -1;
}

static int
run_job(prt_store_t *s)
{
    prt_job_rec_t    job;
    prt_pred_rec_t   preds[JOB_CHUNK];
    char           (*symbols)[PRT_SYMBOL_SIZE] = calloc(JOB, PRT_SYMBOL_SIZE);
    int              rc;

    if (symbols == NULL) {
        return -1;
    }
    make_job(&job, JOB);
    for (int i = 0; i < JOB; i++) {
        snprintf(symbols[i], PRT_SYMBOL_SIZE, "S%05d", i);
    }
    rc = prt_store_job_create(s, &job, (const char (*)[PRT_SYMBOL_SIZE])
                              symbols, JOB);
    for (int c = 0; rc == 0 && c < JOB; c += JOB_CHUNK) {
        for (int i = 0; i < JOB_CHUNK; i++) {
            make_prediction(&preds[i], &job, (uint64_t) (c + i));
        }
        job.completed += JOB_CHUNK;
        rc = prt_store_commit_chunk(s, &job, preds, JOB_CHUNK, NULL, 0);
    }
    if (rc == 0) {
        job.status = PRT_JOB_COMPLETED;
        rc = prt_store_job_put(s, &job);
    }
    free(symbols);
    return rc;
}

static int
fill(prt_store_t *s)
{
    prt_job_rec_t    job;
    prt_pred_rec_t  *chunk = calloc(FILL, sizeof(*chunk));
    int              rc;

    if (chunk == NULL) {
        return -1;
    }
    make_job(&job, TOTAL);
    rc = prt_store_job_create(s, &job, NULL, 0);
    for (uint64_t k = 0; rc == 0 && k < TOTAL; k += FILL) {
        for (uint64_t i = 0; i < FILL; i++) {
            make_prediction(&chunk[i], &job, k + i);
        }
        job.completed += FILL;
        rc = prt_store_commit_chunk(s, &job, chunk, FILL, NULL, 0);
    }
    free(chunk);
    return rc;
}

typedef struct {
    prt_store_t     *s;
    double           sum;
    uint64_t         n;
    prt_pred_rec_t  *due;
} walk_t;

static int
sum_fn(const prt_pred_rec_t *p, void *arg)
{
    walk_t  *w = arg;

    w->sum += p->edge;
    w->n++;
    return 0;
}

static int
perf_txn(MDB_txn *txn, void *arg)
{
    walk_t  *w = arg;

    return prt_store_scanned_between(w->s, txn, INT64_MIN, INT64_MAX,
                                     sum_fn, w);
}

static int
due_fn(const prt_pred_rec_t *p, void *arg)
{
    walk_t  *w = arg;

    if (w->n == DUE) {
        return 1;
    }
    w->due[w->n] = *p;
    w->due[w->n].status = PRT_PRED_VERIFIED;
    w->due[w->n].price_at_horizon = 10.1;
    w->due[w->n].was_correct = 1;
    w->n++;
    return 0;
}

static int
due_txn(MDB_txn *txn, void *arg)
{
    walk_t  *w = arg;

    return prt_store_pending_due(w->s, txn, INT64_MAX, due_fn, w);
}

#define TIMED(name, call)                                                   \
    do {                                                                    \
        double  t0_ = now_s();                                              \
        if ((call) != 0) {                                                  \
            fprintf(stderr, "%s: %s\n", name, prt_kv_errmsg());             \
            return 1;                                                       \
        }                                                                   \
        printf("%-11s %.3f\n", name, now_s() - t0_);                        \
        fflush(stdout);                                                     \
    } while (0)

int
main(int argc, char **argv)
{
    prt_store_t  *s;
    walk_t        w;
    int           rc;

    if (argc != 3) {
        fprintf(stderr, "usage: store_bench lmdb DIR | pg CONNINFO\n");
        return 2;
    }
    rc = strcmp(argv[1], "pg") == 0
         ? prt_store_open_pg(&s, argv[2], "bench")
         : prt_store_open(&s, argv[2], (size_t) 16 << 30);
    if (rc != 0) {
        fprintf(stderr, "store %s: %s\n", argv[2], prt_kv_errmsg());
        return 1;
    }
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.due = calloc(DUE, sizeof(*w.due));
    if (w.due == NULL) {
        return 1;
    }
    TIMED("job10k", run_job(s));
    TIMED("fill1m", fill(s));
    TIMED("perf1m", prt_store_read(s, perf_txn, &w));
    if (w.n != TOTAL + JOB) {
        fprintf(stderr, "perf1m walked %llu, not %d\n",
                (unsigned long long) w.n, TOTAL + JOB);
        return 1;
    }
    w.n = 0;
    TIMED("due100k", prt_store_read(s, due_txn, &w));
    TIMED("verify100k", prt_store_verify(s, w.due, w.n));
    prt_store_close(s);
    free(w.due);
    return 0;
}
