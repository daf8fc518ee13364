/*
 * Builds engine data directories for the verification and performance
 * benchmarks (bench/ingest.sh, docs/benchmarks.md "Feed, verification,
 * performance"), through the engine's own stores (engine/jobs/store.h,
 * engine/data/barstore.h), so the engine then reads exactly what it would
 * have written itself:
 *
 *   verify_state pending DIR    1,000,000 pending predictions of 1,000
 *                               symbols, 100,000 of them due at the clock
 *                               this prints, and every symbol's bars of
 *                               that day (verified against real closes)
 *   verify_state verified DIR   1,000,000 verified predictions (the
 *                               heaviest /performance: every one ranked),
 *                               stored as the engine stores them: each
 *                               chunk scanned, then verified
 *   verify_state commit DIR     times prt_store_verify of the 100,000 due
 *                               predictions of a `pending` DIR: the
 *                               commit that ends the engine's
 *                               verification pass (run it on a copy)
 *   verify_state read DIR       times the read /performance makes of
 *                               the store: every prediction by scan
 *                               time, with its outcome (best of 5)
 *
 * It prints one line "clock ISO" (the instant to start the engine at) or
 * the commit time. Everything is deterministic.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pattern_rt_nytime.h"
#include "core/kv.h"
#include "data/barstore.h"
#include "jobs/store.h"
#include "bench/clock.h"

#define SYMBOLS        1000
#define TOTAL          1000000
#define DUE            100000
#define CHUNK          20000
#define HORIZON        10
#define DUE_FIRST      600        /* 10:00 ET: due bars 10:00-11:29 */
#define DUE_SPAN       90
#define LATER_FIRST    720        /* 12:00 ET: not due, bars 12:00-18:39 */
#define LATER_SPAN     400
#define CLOCK_MINUTE   720        /* the engine's clock: 12:00 ET */

static const int  bench_year = 2024, bench_month = 1, bench_mday = 3;

static void
symbol_name(int i, char out[PRT_SYMBOL_SIZE])
{
    memset(out, 0, PRT_SYMBOL_SIZE);
    snprintf(out, PRT_SYMBOL_SIZE, "B%04d", i);
}

/* A smooth, distinct close per (symbol, minute). */
static double
close_of(int sym, int minute)
{
    return 10.0 + sym * 0.05 + sin((double) minute / 17.0 + sym) * 0.5;
}

static int
put_bars(const char *dir, prt_day_t day)
{
    prt_kv_conf_t    conf;
    prt_barstore_t  *bs;
    prt_bar_t        bars[PRT_MINUTES_PER_DAY];
    char             sym[PRT_SYMBOL_SIZE], path[4096];
    int              rc = 0;

    snprintf(path, sizeof(path), "%s/bars", dir);
    memset(&conf, 0, sizeof(conf));
    conf.dir = path;
    conf.sync = PRT_KV_SYNC_NOMETA;
    if (prt_barstore_open(&bs, &conf) != 0) {
        fprintf(stderr, "bar store %s: %s\n", path, prt_barstore_errmsg());
        return -1;
    }
    for (int s = 0; s < SYMBOLS && rc == 0; s++) {
        for (int m = 0; m < PRT_MINUTES_PER_DAY; m++) {
            double  c = close_of(s, PRT_MINUTE_FIRST + m);

            bars[m] = (prt_bar_t) { PRT_MINUTE_FIRST + m, 10, c, c + 0.01,
                                    c - 0.01, c, 1000 };
        }
        symbol_name(s, sym);
        rc = prt_barstore_put_day(bs, sym, day, bars, PRT_MINUTES_PER_DAY,
                                  PRT_BS_REPLACE);
    }
    if (rc != 0) {
        fprintf(stderr, "bars: %s\n", prt_barstore_errmsg());
    }
    prt_barstore_close(bs);
    return rc;
}

/* Prediction k: the first DUE are due at the clock, the rest later. */
static void
make_prediction(prt_pred_rec_t *p, const prt_job_rec_t *job, int64_t day_s,
    uint64_t k, int verified)
{
    int     sym = (int) (k % SYMBOLS);
    int     minute = k < DUE ? DUE_FIRST + (int) (k / SYMBOLS) % DUE_SPAN
                             : LATER_FIRST + (int) (k / SYMBOLS) % LATER_SPAN;
    double  edge = (double) ((k * 2654435761u) % 100000) / 1e5;

    memset(p, 0, sizeof(*p));
    memcpy(p->job, job->id, PRT_JOB_UUID_LEN);
    symbol_name(sym, p->symbol);
    p->bar_time = day_s + (int64_t) minute * 60;
    p->scan_time_ms = (p->bar_time + 60) * 1000;
    p->horizon = HORIZON;
    p->due_ms = (p->bar_time + HORIZON * 60) * 1000;
    p->n_neighbors = 40;
    p->session = 2;                               /* regular */
    p->direction = (uint8_t) (k % 3 == 0);        /* a third DOWN */
    p->prob_up = 0.5 + edge / 4;
    p->prob_down = 1 - p->prob_up;
    p->mean_return = edge;
    p->edge = edge;
    p->price_at_scan = close_of(sym, minute);
    p->status = PRT_PRED_PENDING;
    p->was_correct = -1;
    p->price_at_horizon = NAN;
    p->actual_return = NAN;
    p->pnl = NAN;
    if (verified) {
        p->status = PRT_PRED_VERIFIED;
        p->price_at_horizon = close_of(sym, minute + HORIZON);
        p->actual_return = 100 * (p->price_at_horizon / p->price_at_scan - 1);
        p->pnl = p->direction ? -p->actual_return : p->actual_return;
        p->was_correct = p->pnl > 0;
        p->verified_at_ms = p->due_ms;
    }
}

static int
put_predictions(const char *dir, int64_t day_s, int verified)
{
    prt_store_t     *s;
    prt_job_rec_t    job;
    prt_pred_rec_t  *chunk = calloc(CHUNK, sizeof(*chunk));
    prt_pred_rec_t  *done = calloc(CHUNK, sizeof(*done));
    char             path[4096];
    int              rc;

    snprintf(path, sizeof(path), "%s/store", dir);
    if (chunk == NULL || done == NULL
        || prt_store_open(&s, path, (size_t) 16 << 30) != 0)
    {
        free(chunk);
        free(done);
        return -1;
    }
    memset(&job, 0, sizeof(job));
    prt_job_id_new(job.id);
    job.status = PRT_JOB_COMPLETED;
    job.f.k = 40;
    job.f.horizon = HORIZON;
    job.sessions = 7;
    job.total = TOTAL;
    job.completed = TOTAL;
    job.scan_time_ms = (day_s + CLOCK_MINUTE * 60) * 1000;
    job.started_at_ms = job.scan_time_ms;
    job.completed_at_ms = job.scan_time_ms;
    rc = prt_store_job_create(s, &job, NULL, 0);
    for (uint64_t k = 0; rc == 0 && k < TOTAL; k += CHUNK) {
        for (uint64_t i = 0; i < CHUNK; i++) {
            make_prediction(&chunk[i], &job, day_s, k + i, 0);
        }
        rc = prt_store_commit_chunk(s, &job, chunk, CHUNK, NULL, 0);
        for (uint64_t i = 0; rc == 0 && verified && i < CHUNK; i++) {
            make_prediction(&done[i], &job, day_s, k + i, 1);
            done[i].id = chunk[i].id;
        }
        if (rc == 0 && verified) {
            rc = prt_store_verify(s, done, CHUNK);
        }
    }
    if (rc != 0) {
        fprintf(stderr, "job store %s: %s\n", path, prt_kv_errmsg());
    }
    prt_store_close(s);
    free(chunk);
    free(done);
    return rc;
}

typedef struct {
    prt_store_t     *store;
    prt_pred_rec_t  *v;
    size_t           n;
    int64_t          now_ms;
} due_list_t;

static int
collect(const prt_pred_rec_t *p, void *arg)
{
    due_list_t  *d = arg;

    if (d->n == DUE) {
        return 1;
    }
    d->v[d->n] = *p;
    d->v[d->n].status = PRT_PRED_VERIFIED;
    d->v[d->n].verified_at_ms = d->now_ms;
    d->n++;
    return 0;
}

static int
due_txn(MDB_txn *txn, void *arg)
{
    due_list_t  *d = arg;

    return prt_store_pending_due(d->store, txn, d->now_ms, collect, d);
}

/* The commit that ends a pass: prt_store_verify of the 100,000 due ones. */
static int
time_commit(const char *dir, int64_t day_s)
{
    due_list_t  d;
    char        path[4096];
    double      t0;
    int         rc;

    snprintf(path, sizeof(path), "%s/store", dir);
    memset(&d, 0, sizeof(d));
    d.v = calloc(DUE, sizeof(prt_pred_rec_t));
    d.now_ms = (day_s + CLOCK_MINUTE * 60) * 1000;
    if (d.v == NULL
        || prt_store_open(&d.store, path, (size_t) 16 << 30) != 0)
    {
        free(d.v);
        return -1;
    }
    rc = prt_kv_read(prt_store_kv(d.store), due_txn, &d);
    if (rc == 0) {
        t0 = now_s();
        rc = prt_store_verify(d.store, d.v, d.n);
        printf("commit %zu verified predictions in %.1f ms\n", d.n,
               (now_s() - t0) * 1000);
    }
    prt_store_close(d.store);
    free(d.v);
    return rc;
}

typedef struct {
    prt_store_t  *store;
    uint64_t      n, verified;
} read_all_t;

static int
count(const prt_pred_rec_t *p, void *arg)
{
    read_all_t  *r = arg;

    r->n++;
    r->verified += p->status == PRT_PRED_VERIFIED;
    return 0;
}

static int
read_all_txn(MDB_txn *txn, void *arg)
{
    read_all_t  *r = arg;

    r->n = r->verified = 0;
    return prt_store_scanned_between(r->store, txn, INT64_MIN, INT64_MAX,
                                     count, r);
}

/* The store's part of GET /performance?period=all. */
static int
time_read(const char *dir)
{
    read_all_t  r;
    char        path[4096];
    double      best = INFINITY, t0;
    int         rc = 0;

    snprintf(path, sizeof(path), "%s/store", dir);
    memset(&r, 0, sizeof(r));
    if (prt_store_open(&r.store, path, (size_t) 16 << 30) != 0) {
        return -1;
    }
    for (int i = 0; rc == 0 && i < 5; i++) {
        t0 = now_s();
        rc = prt_kv_read(prt_store_kv(r.store), read_all_txn, &r);
        best = fmin(best, now_s() - t0);
    }
    if (rc == 0) {
        printf("read %llu predictions (%llu verified) in %.1f ms\n",
               (unsigned long long) r.n, (unsigned long long) r.verified,
               best * 1000);
    }
    prt_store_close(r.store);
    return rc;
}

int
main(int argc, char **argv)
{
    int64_t    day = prt_days_from_civil(bench_year, bench_month, bench_mday);
    int64_t    day_s = prt_ny_day_start_utc(day);
    char       iso[32];
    double     t0 = now_s();
    int        rc;

    if (argc != 3 || (strcmp(argv[1], "pending") != 0
                      && strcmp(argv[1], "verified") != 0
                      && strcmp(argv[1], "commit") != 0
                      && strcmp(argv[1], "read") != 0))
    {
        fprintf(stderr,
                "usage: verify_state pending|verified|commit|read DIR\n");
        return 2;
    }
    if (strcmp(argv[1], "read") == 0) {
        return time_read(argv[2]) == 0 ? 0 : 1;
    }
    if (strcmp(argv[1], "commit") == 0) {
        return time_commit(argv[2], day_s) == 0 ? 0 : 1;
    }
    rc = put_bars(argv[2], (prt_day_t) day);
    if (rc == 0) {
        rc = put_predictions(argv[2], day_s, strcmp(argv[1], "verified") == 0);
    }
    if (rc != 0) {
        return 1;
    }
    prt_format_utc_iso((day_s + CLOCK_MINUTE * 60) * 1000, iso, sizeof(iso));
    fprintf(stderr, "verify_state: %s state in %s, %.1f s\n", argv[1],
            argv[2], now_s() - t0);
    printf("clock %s\n", iso);
    return 0;
}
