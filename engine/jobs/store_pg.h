/*
 * The job store on PostgreSQL (docs/scale-out.md): the same records and
 * orderings as the LMDB store (jobs/store.h), in tables several engines
 * share. store.c dispatches here when the `store` setting is a libpq
 * connection string; the callers see one API.
 *
 * Every call takes a connection from a small pool (one per thread in use),
 * so the worker threads run their queries side by side. Connections are
 * made with a connect timeout, a statement timeout and TCP keepalives: a
 * database that is down or unreachable makes a call fail within seconds
 * (the caller answers 503 E_STORE), never hang. A failed connection is
 * dropped and the next call connects again.
 *
 * Records are stored as the engine's own record bytes (the value LMDB
 * keeps), beside the columns that the orderings of SPEC 7 index.
 */
#ifndef PRT_JOB_STORE_PG_H
#define PRT_JOB_STORE_PG_H

#include "jobs/store.h"

typedef struct prt_store_pg_s  prt_store_pg_t;

/* The schema version this engine reads and writes. */
#define PRT_STORE_PG_SCHEMA  1

/* Creates or upgrades the schema (pattern-rt-engine migrate); returns the
 * version found before (0: none) or -1. */
int prt_store_pg_migrate(const char *conninfo, int *from);

/* node: this engine's name in the deployment (jobs it runs carry it). */
int  prt_store_pg_open(prt_store_pg_t **out, const char *conninfo,
    const char *node);
void prt_store_pg_close(prt_store_pg_t *pg);

/* Runs fn in one read-only snapshot (REPEATABLE READ): the store calls it
 * makes on this thread read the same state. */
int prt_store_pg_read(prt_store_pg_t *pg, int (*fn)(void *ctx), void *ctx);

int prt_store_pg_job_create(prt_store_pg_t *pg, const prt_job_rec_t *job,
    const char (*symbols)[PRT_SYMBOL_SIZE], uint32_t n);
int prt_store_pg_commit_chunk(prt_store_pg_t *pg, const prt_job_rec_t *job,
    prt_pred_rec_t *preds, size_t npreds, const prt_fail_rec_t *fails,
    size_t nfails);
int prt_store_pg_job_put(prt_store_pg_t *pg, const prt_job_rec_t *job);
int prt_store_pg_job_get(prt_store_pg_t *pg,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_job_rec_t *out);
int prt_store_pg_job_symbols(prt_store_pg_t *pg,
    const uint8_t id[PRT_JOB_UUID_LEN], char (**out)[PRT_SYMBOL_SIZE],
    uint32_t *n);
int prt_store_pg_job_predictions(prt_store_pg_t *pg,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_pred_fn fn, void *ctx);
int prt_store_pg_job_failures(prt_store_pg_t *pg,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_fail_fn fn, void *ctx);
int prt_store_pg_history(prt_store_pg_t *pg, const char *symbol,
    prt_pred_fn fn, void *ctx);
int prt_store_pg_scanned_between(prt_store_pg_t *pg, int64_t from_ms,
    int64_t to_ms, prt_pred_fn fn, void *ctx);
int prt_store_pg_each_prediction(prt_store_pg_t *pg, prt_pred_fn fn,
    void *ctx);
int prt_store_pg_pending_due(prt_store_pg_t *pg, int64_t due_ms,
    prt_pred_fn fn, void *ctx);
int prt_store_pg_pending_own(prt_store_pg_t *pg, prt_pred_fn fn,
    void *ctx);
int prt_store_pg_verify(prt_store_pg_t *pg, const prt_pred_rec_t *preds,
    size_t n);
int prt_store_pg_verify_claimed(prt_store_pg_t *pg, prt_pred_rec_t *preds,
    size_t *n, prt_claimed_fn fn, void *ctx);
int prt_store_pg_fail_running(prt_store_pg_t *pg, const char *reason,
    int64_t now_ms);
/* The counts of the last refresh (a background thread, once a second):
 * never a query on the caller's thread, which may be the loop. */
int prt_store_pg_stats(prt_store_pg_t *pg, prt_store_stats_t *st);
int prt_store_pg_stats_now(prt_store_pg_t *pg, prt_store_stats_t *st);

#endif
