/*
 * Running scan jobs (SPEC 5.1): each job's symbols are scanned in chunks on
 * the worker threads, handed out round-robin between the running jobs so a
 * 10,000-symbol job does not starve a 5-symbol one. Every chunk's
 * predictions, failures and the job's counters are committed in one store
 * transaction, and only then announced (progress and result events); the
 * last chunk completes the job (job_complete). The store's writes run on a
 * worker thread, one at a time in the order the loop queued them (the
 * store queue, jobs.c): the loop never waits on the disk or the network.
 */
#ifndef PRT_JOBS_H
#define PRT_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "clock/clock.h"
#include "core/json.h"
#include "core/metrics.h"
#include "core/workq.h"
#include "data/barstore.h"
#include "events/events.h"
#include "index/index.h"
#include "jobs/store.h"
#include "stats/calibration.h"

typedef struct prt_jobs_s  prt_jobs_t;

/* A chunk's predictions are committed (the tracker takes them: serve.c). */
typedef void (*prt_jobs_committed_fn)(void *ctx, const prt_pred_rec_t *preds,
    size_t n);

typedef struct {
    prt_store_t            *store;
    prt_workq_t            *workq;          /* chunks run on its batch lane */
    prt_clock_t            *clock;          /* a job's scan time */
    prt_barstore_t         *bars;
    prt_index_t *const     *index;          /* the generation being served */
    int64_t                 max_staleness_ms;
    unsigned                max_inflight;   /* chunks at once */
    size_t                  chunk;          /* symbols per chunk */
    unsigned                store_queue;    /* starts and cancels waiting
                                               for the store, at most */
    prt_events_t           *events;         /* progress, result, complete */
    prt_calibrator_t       *calib;          /* a job's calibration map */
    prt_jobs_committed_fn   committed;
    void                   *ctx;
} prt_jobs_conf_t;

prt_jobs_t *prt_jobs_new(const prt_jobs_conf_t *conf);
void prt_jobs_free(prt_jobs_t *jobs);

/* conf.store_queue starts and cancels wait for the store at once: one
 * more is refused (PRT_JOBS_BUSY, answered 503 E_BUSY). Chunk commits are
 * bounded by the chunks in flight, completions by the running jobs. */
#define PRT_JOBS_BUSY        (-2)
/* a reply's rc when the engine stops before the store answered */
#define PRT_JOBS_STOPPED     (-3)

/* On the loop thread, once the store answered: rc 0 (the row committed),
 * -1 (a store error), or PRT_JOBS_STOPPED (send nothing, free ctx). */
typedef void (*prt_jobs_reply_fn)(void *ctx, int rc, const prt_job_rec_t *job);

/* Queues the job's creation; reply is called once its row is committed
 * (readable), and only then it starts scanning. 0 (queued), -1 (no
 * memory), PRT_JOBS_BUSY. */
int prt_jobs_start(prt_jobs_t *jobs, const prt_req_run_t *req,
    const char (*symbols)[PRT_SYMBOL_SIZE], prt_jobs_reply_fn reply,
    void *ctx);

/* Cancels a running job: no chunk is handed out from now, those in flight
 * still commit, what finished chunks committed stays. 1 when it was
 * running: reply is called once the cancelled row is committed (after
 * every write queued before it); 0 when it is not running here (a
 * finished or unknown job: nothing to write, reply not called); -1 (no
 * memory), PRT_JOBS_BUSY. */
int prt_jobs_cancel(prt_jobs_t *jobs, const uint8_t id[PRT_JOB_UUID_LEN],
    prt_jobs_reply_fn reply, void *ctx);

/* The running job's in-memory record (counters as committed), or NULL. */
const prt_job_rec_t *prt_jobs_running(prt_jobs_t *jobs,
    const uint8_t id[PRT_JOB_UUID_LEN]);

void prt_jobs_stats_json(prt_jobs_t *jobs, prt_json_t *j);
/* Prometheus text (docs/metrics.md) */
void prt_jobs_metrics(prt_jobs_t *jobs, prt_text_t *t);

#endif
