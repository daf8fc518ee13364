/*
 * The job store (LMDB, <data_dir>/store; docs/storage.md): jobs, the
 * predictions they made, the symbols that failed, and the orderings the
 * API and the verification timer read (SPEC 7):
 *
 *   jobs         job id (16 bytes)              -> prt_job_rec_t
 *   job_symbols  job id                         -> the job's symbols
 *   predictions  prediction id (u64 BE)         -> prt_pred_rec_t
 *   by_job       job id + prediction id         -> -
 *   by_symbol    symbol + scan time + pred id   -> -
 *   by_scan      scan time + prediction id      -> -
 *   pending      due time + prediction id       -> -   (unverified only)
 *   failures     job id + failure number        -> prt_fail_rec_t
 *   meta         "next_prediction"              -> u64
 *   outcomes     prediction id (u64 BE)         -> what verification found
 *
 * Integers in keys are big-endian so LMDB's byte order is numeric order.
 * Every write is one transaction: a chunk's predictions, failures and the
 * job's counters are committed together, before any of them is reported.
 *
 * A prediction's record is written once, at scan time; verification adds
 * an entry to `outcomes` (48 bytes, not the whole record). Every read
 * below returns the record with its outcome merged in, so callers see one
 * prt_pred_rec_t either way; records verified before `outcomes` existed
 * hold their outcome themselves and read as they are (docs/storage.md).
 */
#ifndef PRT_JOB_STORE_H
#define PRT_JOB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/jobid.h"
#include "core/kv.h"
#include "pattern_rt_msg.h"

typedef enum {
    PRT_JOB_RUNNING = 0,
    PRT_JOB_COMPLETED,
    PRT_JOB_FAILED,
    PRT_JOB_CANCELLED
} prt_job_status_t;

typedef struct {
    uint8_t              id[PRT_JOB_UUID_LEN];
    uint64_t             seq;              /* creation order */
    uint8_t              status;           /* prt_job_status_t */
    uint8_t              pad[7];
    prt_forecast_args_t  f;
    double               min_edge;
    uint32_t             sessions;         /* PRT_SESSION_BIT_* */
    uint32_t             total;
    uint32_t             completed;        /* symbols with a prediction */
    uint32_t             failed;           /* symbols with a failure */
    int64_t              started_at_ms;    /* wall clock */
    int64_t              completed_at_ms;
    int64_t              scan_time_ms;     /* engine clock at the start */
    char                 reason[96];       /* why failed / cancelled */
} prt_job_rec_t;

typedef enum {
    PRT_PRED_PENDING = 0,
    PRT_PRED_VERIFIED,
    PRT_PRED_UNVERIFIABLE                   /* E_PRICE at verification */
} prt_pred_status_t;

typedef struct {
    uint64_t  id;
    uint8_t   job[PRT_JOB_UUID_LEN];
    char      symbol[PRT_SYMBOL_SIZE];
    int64_t   scan_time_ms;
    int64_t   bar_time;                     /* bar t start, Unix s */
    int64_t   due_ms;                       /* (t + h) start, Unix ms */
    int32_t   horizon;
    int32_t   n_neighbors;
    uint8_t   session;                      /* prt_session_t of bar t */
    uint8_t   direction;                    /* prt_direction_t */
    uint8_t   status;                       /* prt_pred_status_t */
    int8_t    was_correct;                  /* -1 unknown */
    uint32_t  pad;
    double    prob_up;
    double    prob_down;
    double    mean_return;
    double    edge;
    double    dist1;
    double    p10;
    double    p90;
    double    price_at_scan;
    double    price_at_horizon;             /* NaN until verified */
    double    actual_return;
    double    pnl;
    int64_t   verified_at_ms;               /* 0 until verified */
    char      verify_note[64];              /* why unverifiable */
    /* What prob_up is worth (SPEC 3.1), fixed at scan time. Records
     * written before these fields existed end at n_eff (PRT_PRED_REC_V1)
     * and read back with NaN here and calibration_n 0. */
    double    n_eff;                        /* Kish, of the used weights */
    double    prob_up_ci_lo;                /* Wilson 95 % at n_eff */
    double    prob_up_ci_hi;
    double    prob_up_cal;                  /* walk-forward calibrated */
    double    edge_cal;                     /* SPEC 3.5's edge with it */
    uint64_t  calibration_n;                /* verified predictions fitted */
    /* Once verified: its place in its horizon's verification order, from
     * 1. A map with calibration_n = N was fitted on the predictions of
     * its horizon with calibration_seq <= N (docs/forecast.md). */
    uint64_t  calibration_seq;
} prt_pred_rec_t;

#define PRT_PRED_REC_V1  offsetof(prt_pred_rec_t, n_eff)

typedef struct {
    uint8_t   job[PRT_JOB_UUID_LEN];
    char      symbol[PRT_SYMBOL_SIZE];
    int64_t   scan_time_ms;
    uint8_t   code;                         /* prt_error_t */
    uint8_t   pad;
    int16_t   bars_since_open;              /* -1: not a trading day */
    int16_t   bars_until_close;
    uint16_t  pad2;
    char      reason[112];
} prt_fail_rec_t;

typedef struct prt_store_s  prt_store_t;

int  prt_store_open(prt_store_t **out, const char *dir, size_t map_max);
/* The store on PostgreSQL (store = a libpq connection string;
 * jobs/store_pg.h): node names this engine in the deployment. */
int  prt_store_open_pg(prt_store_t **out, const char *conninfo,
    const char *node);
void prt_store_close(prt_store_t *s);
/* LMDB only (NULL on PostgreSQL): use prt_store_read to read. */
prt_kv_t *prt_store_kv(prt_store_t *s);
int prt_store_is_pg(const prt_store_t *s);

/* Runs fn with a read transaction: LMDB's, or on PostgreSQL txn NULL
 * with the calls fn makes on this thread in one read-only snapshot. */
int prt_store_read(prt_store_t *s, prt_kv_txn_fn fn, void *ctx);

/* A new job with its symbols, committed. */
int prt_store_job_create(prt_store_t *s, const prt_job_rec_t *job,
    const char (*symbols)[PRT_SYMBOL_SIZE], uint32_t n);

/* One scan chunk: predictions (ids assigned here, written back into
 * preds), failures and the job's new counters, in one transaction. */
int prt_store_commit_chunk(prt_store_t *s, const prt_job_rec_t *job,
    prt_pred_rec_t *preds, size_t npreds, const prt_fail_rec_t *fails,
    size_t nfails);

int prt_store_job_put(prt_store_t *s, const prt_job_rec_t *job);

/* 1 found, 0 not found, <0 error; txn may be NULL (own transaction). */
int prt_store_job_get(prt_store_t *s, MDB_txn *txn,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_job_rec_t *out);

/* The job's symbols; *out is malloc'ed (free it). */
int prt_store_job_symbols(prt_store_t *s, const uint8_t id[PRT_JOB_UUID_LEN],
    char (**out)[PRT_SYMBOL_SIZE], uint32_t *n);

/* Calls fn for each of the job's predictions / failures (in a read txn). */
typedef int (*prt_pred_fn)(const prt_pred_rec_t *p, void *ctx);
typedef int (*prt_fail_fn)(const prt_fail_rec_t *f, void *ctx);
int prt_store_job_predictions(prt_store_t *s, MDB_txn *txn,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_pred_fn fn, void *ctx);
int prt_store_job_failures(prt_store_t *s, MDB_txn *txn,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_fail_fn fn, void *ctx);

/* Newest first by scan time (symbol: only that symbol, "" all). fn returns
 * 1 to stop. */
int prt_store_history(prt_store_t *s, MDB_txn *txn, const char *symbol,
    prt_pred_fn fn, void *ctx);

/* Predictions scanned in [from_ms, to_ms), oldest first. */
int prt_store_scanned_between(prt_store_t *s, MDB_txn *txn, int64_t from_ms,
    int64_t to_ms, prt_pred_fn fn, void *ctx);

/* Every prediction, by id; fn returns 1 to stop, < 0 to fail. */
int prt_store_each_prediction(prt_store_t *s, MDB_txn *txn, prt_pred_fn fn,
    void *ctx);

/* Pending predictions with due time <= due_ms, oldest due first; fn
 * returns 1 to stop (a bounded pass). */
int prt_store_pending_due(prt_store_t *s, MDB_txn *txn, int64_t due_ms,
    prt_pred_fn fn, void *ctx);

/* The pending predictions of the jobs this node ran, oldest due first: on
 * LMDB every pending one; on PostgreSQL those of jobs with this node's
 * name (the node that ran a job moves its prices; the others hear them). */
int prt_store_pending_own(prt_store_t *s, MDB_txn *txn, prt_pred_fn fn,
    void *ctx);

/* Stores the outcome of verified (or unverifiable) predictions: status,
 * was_correct, price_at_horizon, actual_return, pnl, verified_at_ms,
 * calibration_seq and, when unverifiable, verify_note; the other fields
 * of preds are not stored. Removes them from `pending`. */
int prt_store_verify(prt_store_t *s, const prt_pred_rec_t *preds, size_t n);

/* Called with the predictions a prt_store_verify_claimed call stores,
 * before they are written: it may set their outcome fields (the
 * verifier numbers calibration_seq here). */
typedef void (*prt_claimed_fn)(prt_pred_rec_t *preds, size_t n, void *ctx);

/*
 * prt_store_verify for a verifier that may run on several nodes: claims
 * the predictions of preds no other call has stored or is storing, moves
 * them to preds[0..*n) in their order, calls fn (may be NULL) on them and
 * stores them, all in one write transaction. On LMDB (one node, whose
 * passes run one at a time) every one given is claimed. On error *n is 0.
 */
int prt_store_verify_claimed(prt_store_t *s, prt_pred_rec_t *preds,
    size_t *n, prt_claimed_fn fn, void *ctx);

/* After a restart: every running job becomes failed with reason; returns
 * how many. */
int prt_store_fail_running(prt_store_t *s, const char *reason, int64_t now_ms);

typedef struct {
    uint64_t        jobs;
    uint64_t        predictions;
    uint64_t        pending;
    uint64_t        failures;
    int             lmdb;              /* kv holds the LMDB figures */
    prt_kv_stats_t  kv;
} prt_store_stats_t;

int prt_store_stats(prt_store_t *s, prt_store_stats_t *st);
/* The same, counted now: on PostgreSQL a query (a worker thread's call),
 * where prt_store_stats gives the last second's counts without one. */
int prt_store_stats_now(prt_store_t *s, prt_store_stats_t *st);

const char *prt_job_status_name(prt_job_status_t s);

#endif
