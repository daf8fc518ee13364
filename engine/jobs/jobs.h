/*
 * Running scan jobs (SPEC 5.1): each job's symbols are scanned in chunks on
 * the worker threads, handed out round-robin between the running jobs so a
 * 10,000-symbol job does not starve a 5-symbol one. Every chunk's
 * predictions, failures and the job's counters are committed in one LMDB
 * transaction on the loop thread, and only then announced (progress and
 * result events); the last chunk completes the job (job_complete).
 */
#ifndef PRT_JOBS_H
#define PRT_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/metrics.h"
#include "jobs/store.h"

typedef struct prt_jobs_s  prt_jobs_t;
struct prt_engine_s;

prt_jobs_t *prt_jobs_new(struct prt_engine_s *e, prt_store_t *store,
    unsigned max_inflight, size_t chunk);
void prt_jobs_free(prt_jobs_t *jobs);

/* Creates and commits the job (readable before this returns), then starts
 * scanning it. 0 and *out filled, or -1. */
int prt_jobs_start(prt_jobs_t *jobs, const prt_req_run_t *req,
    const char (*symbols)[PRT_SYMBOL_SIZE], prt_job_rec_t *out);

/* Cancels a running job: what its finished chunks committed stays. 1 when
 * it was running, 0 when not (a finished or unknown job), -1 on error. */
int prt_jobs_cancel(prt_jobs_t *jobs, const uint8_t id[PRT_JOB_UUID_LEN],
    prt_job_rec_t *out);

/* The running job's in-memory record (counters as committed), or NULL. */
const prt_job_rec_t *prt_jobs_running(prt_jobs_t *jobs,
    const uint8_t id[PRT_JOB_UUID_LEN]);

void prt_jobs_stats_json(prt_jobs_t *jobs, prt_json_t *j);
/* Prometheus text (docs/metrics.md) */
void prt_jobs_metrics(prt_jobs_t *jobs, prt_text_t *t);

#endif
