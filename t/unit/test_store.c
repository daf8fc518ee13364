/*
 * jobs/store on its own: what verification stores and how it reads back.
 *
 * Two stores receive the same predictions. In "old", every verified or
 * unverifiable prediction is stored as a whole record with its outcome
 * inside, as stores did before `outcomes` existed (the store's own put of
 * a full record; the environment is first created with the old databases
 * only). In "new", predictions are stored pending and then verified with
 * prt_store_verify, which keeps the outcome apart; half of them are
 * verified out of id order (not appended), the other half through
 * prt_store_verify_claimed (one node: every one given is claimed) in due
 * order, and then again (its pending keys gone), and a second job's records are
 * stored in the old layout, so the store mixes both. Every reader of the
 * store must then return, in both stores and after a reopen, exactly the
 * records built here (byte for byte), and `pending` must hold exactly the
 * unverified ones.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#include "core/kv.h"
#include "jobs/store.h"

#define N        60             /* predictions per job */
#define JOBS     2
#define SYMBOLS  4

static char  tmp_root[] = "/tmp/prt-test-store-XXXXXX";

/* what each id must read back as (ids from 1) */
static prt_pred_rec_t  want[JOBS * N + 1];

static int
stays_pending(uint64_t id)
{
    return id % 5 == 4;
}

static int
unverifiable(uint64_t id)
{
    return id % 7 == 3;
}

static void
make_pending(prt_pred_rec_t *p, const prt_job_rec_t *job, uint64_t id)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    memcpy(p->job, job->id, PRT_JOB_UUID_LEN);
    snprintf(p->symbol, sizeof(p->symbol), "S%d", (int) (id % SYMBOLS));
    p->scan_time_ms = 1700000000000 + (int64_t) (id / 3) * 60000;
    p->bar_time = p->scan_time_ms / 1000 - 60;
    p->horizon = 10 + (int32_t) (id % 2) * 20;
    p->due_ms = (p->bar_time + p->horizon * 60) * 1000;
    p->n_neighbors = 40;
    p->session = 2;
    p->direction = (uint8_t) (id % 3 == 0);
    p->status = PRT_PRED_PENDING;
    p->was_correct = -1;
    p->prob_up = 0.5 + (double) id / 1000;
    p->prob_down = 1 - p->prob_up;
    p->mean_return = (double) id / 3e4;
    p->edge = fabs(p->prob_up - 0.5);
    p->dist1 = 0.25 / (double) id;
    p->p10 = -0.1;
    p->p90 = 0.1 + (double) id / 1e5;
    p->price_at_scan = 10 + (double) id / 7;
    p->price_at_horizon = NAN;
    p->actual_return = NAN;
    p->pnl = NAN;
    p->n_eff = 30 + (double) id / 11;
    p->prob_up_ci_lo = p->prob_up - 0.1;
    p->prob_up_ci_hi = p->prob_up + 0.1;
    p->prob_up_cal = p->prob_up * 0.9;
    p->edge_cal = p->edge * 0.9;
    p->calibration_n = id / 2;
}

/* What the verifier makes of it (engine/verify/verify.c). */
static void
make_verified(prt_pred_rec_t *p, uint64_t seq)
{
    p->verified_at_ms = p->due_ms + 1234;
    if (unverifiable(p->id)) {
        p->status = PRT_PRED_UNVERIFIABLE;
        /* the longest note the record holds, then a short one */
        if (p->id % 2) {
            memset(p->verify_note, 'n', sizeof(p->verify_note) - 1);
        } else {
            snprintf(p->verify_note, sizeof(p->verify_note),
                     "no bar of %s at or before the horizon", p->symbol);
        }
        return;
    }
    p->status = PRT_PRED_VERIFIED;
    p->price_at_horizon = p->price_at_scan * (1 + ((double) p->id - 30) / 1e3);
    p->actual_return = 100.0 * (p->price_at_horizon / p->price_at_scan - 1.0);
    p->was_correct = p->direction ? p->actual_return < 0
                                  : p->actual_return > 0;
    p->pnl = p->direction ? -p->actual_return : p->actual_return;
    p->calibration_seq = seq;
}

/* ---- readers ------------------------------------------------------------ */

typedef struct {
    prt_store_t     *s;
    const uint8_t   *job;
    const char      *symbol;
    prt_pred_rec_t   got[JOBS * N + 1];
    size_t           n;
    int              bad;               /* not the record built here */
    int              which;
} reads_t;

static int
check_fn(const prt_pred_rec_t *p, void *arg)
{
    reads_t  *r = arg;

    if (p->id == 0 || p->id > JOBS * N || r->n == JOBS * N + 1) {
        r->bad++;
        return 1;
    }
    if (memcmp(p, &want[p->id], sizeof(*p)) != 0) {
        if (r->bad++ == 0) {
            printf("#   prediction %llu differs from the record written\n",
                   (unsigned long long) p->id);
        }
    }
    r->got[r->n++] = *p;
    return 0;
}

enum { R_JOB, R_HISTORY, R_SYMBOL, R_SCANNED, R_EACH, R_PENDING, R_COUNT };

static const char *const reader_names[R_COUNT] = {
    "job predictions", "history", "history of a symbol", "scanned between",
    "each prediction", "pending due"
};

static int
read_txn(MDB_txn *txn, void *arg)
{
    reads_t  *r = arg;

    switch (r->which) {
    case R_JOB:
        return prt_store_job_predictions(r->s, txn, r->job, check_fn, r);
    case R_HISTORY:
        return prt_store_history(r->s, txn, "", check_fn, r);
    case R_SYMBOL:
        return prt_store_history(r->s, txn, r->symbol, check_fn, r);
    case R_SCANNED:
        return prt_store_scanned_between(r->s, txn, INT64_MIN, INT64_MAX,
                                         check_fn, r);
    case R_EACH:
        return prt_store_each_prediction(r->s, txn, check_fn, r);
    default:
        return prt_store_pending_due(r->s, txn, INT64_MAX, check_fn, r);
    }
}

/* How many of the ids built here each reader must return. */
static size_t
expected_count(int which, const uint8_t *job, const char *symbol)
{
    size_t  n = 0;

    for (uint64_t id = 1; id <= JOBS * N; id++) {
        const prt_pred_rec_t  *p = &want[id];

        n += which == R_JOB ? memcmp(p->job, job, PRT_JOB_UUID_LEN) == 0
           : which == R_SYMBOL ? strcmp(p->symbol, symbol) == 0
           : which == R_PENDING ? p->status == PRT_PRED_PENDING
           : 1;
    }
    return n;
}

static void
check_store(prt_store_t *s, const char *name, const uint8_t *job)
{
    prt_store_stats_t  st;
    static reads_t     r;

    for (int w = 0; w < R_COUNT; w++) {
        memset(&r, 0, sizeof(r));
        r.s = s;
        r.job = job;
        r.symbol = "S1";
        r.which = w;
        is_int(prt_kv_read(prt_store_kv(s), read_txn, &r), 0,
               "%s: %s reads", name, reader_names[w]);
        ok(r.bad == 0, "%s: %s returns every record as built (%d differ)",
           name, reader_names[w], r.bad);
        is_int(r.n, expected_count(w, job, "S1"), "%s: %s returns them all",
               name, reader_names[w]);
    }
    ok(prt_store_stats(s, &st) == 0
       && st.pending == expected_count(R_PENDING, NULL, NULL)
       && st.predictions == JOBS * N,
       "%s: %llu predictions, %llu pending", name,
       (unsigned long long) st.predictions, (unsigned long long) st.pending);
}

/* ---- the two stores ----------------------------------------------------- */

static const char *const old_db_names[] = {
    "jobs", "job_symbols", "predictions", "by_job", "by_symbol", "by_scan",
    "pending", "failures", "meta"
};

/* An environment as the store created it before `outcomes` existed. */
static int
create_old_env(const char *dir)
{
    prt_kv_conf_t  conf;
    prt_kv_t      *kv;

    memset(&conf, 0, sizeof(conf));
    conf.dir = dir;
    if (prt_kv_open(&kv, &conf, old_db_names, 9) != 0) {
        return -1;
    }
    prt_kv_close(kv);
    return 0;
}

static void
new_job(prt_job_rec_t *job, int k)
{
    memset(job, 0, sizeof(*job));
    prt_job_id_new(job->id);
    job->seq = (uint64_t) k;
    job->status = PRT_JOB_COMPLETED;
    job->total = N;
    job->completed = N;
}

/* Job k's records as they end up: verified in the record itself. */
static int
put_old_layout(prt_store_t *s, const prt_job_rec_t *job, int k)
{
    prt_pred_rec_t  recs[N];

    for (int i = 0; i < N; i++) {
        recs[i] = want[(uint64_t) k * N + (uint64_t) i + 1];
    }
    return prt_store_job_create(s, job, NULL, 0) == 0
           && prt_store_commit_chunk(s, job, recs, N, NULL, 0) == 0 ? 0 : -1;
}

/* the predictions prt_store_verify_claimed handed to its callback */
static size_t  claimed_seen;

static void
count_claimed(prt_pred_rec_t *preds, size_t n, void *ctx)
{
    claimed_seen += n;
}

/* (due time, id): the order the verifier hands a pass over in */
static int
by_due(const void *a, const void *b)
{
    const prt_pred_rec_t  *x = a, *y = b;

    if (x->due_ms != y->due_ms) {
        return x->due_ms > y->due_ms ? 1 : -1;
    }
    return (x->id > y->id) - (x->id < y->id);
}

/*
 * Job 0 scanned pending, then verified in two passes out of id order: the
 * first in no order at all, the second in due order as the verifier gives
 * them (ids then out of order, pending ones left between them), and that
 * second pass once more, its pending keys gone already: no error, and
 * nothing changes.
 */
static int
put_new_layout(prt_store_t *s, const prt_job_rec_t *job)
{
    prt_pred_rec_t  recs[N], done[N];
    size_t          n_hi = 0, n_lo = 0;

    for (int i = 0; i < N; i++) {
        make_pending(&recs[i], job, (uint64_t) i + 1);
    }
    if (prt_store_job_create(s, job, NULL, 0) != 0
        || prt_store_commit_chunk(s, job, recs, N, NULL, 0) != 0)
    {
        return -1;
    }
    /* the later half first: the earlier ones are then not appended */
    for (int pass = 0; pass < 2; pass++) {
        size_t  n = 0;

        for (int i = N - 1; i >= 0; i--) {      /* not in id order either */
            uint64_t  id = recs[i].id;

            if (stays_pending(id) || (pass == 0) != (id > N / 2)) {
                continue;
            }
            done[n++] = want[id];
        }
        if (pass == 0 && prt_store_verify(s, done, n) != 0) {
            return -1;
        }
        if (pass == 1) {
            size_t  given = n;

            qsort(done, n, sizeof(*done), by_due);
            claimed_seen = 0;
            if (prt_store_verify_claimed(s, done, &n, count_claimed, NULL) != 0
                || n != given || claimed_seen != given
                || prt_store_verify(s, done, n) != 0)
            {
                return -1;
            }
        }
        *(pass == 0 ? &n_hi : &n_lo) = n;
    }
    return n_hi && n_lo ? 0 : -1;
}

int
main(void)
{
    prt_job_rec_t   jobs[JOBS];
    prt_store_t    *old_s, *new_s;
    char            old_dir[300], new_dir[300];
    uint64_t        seq = 0;

    if (mkdtemp(tmp_root) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(old_dir, sizeof(old_dir), "%s/old", tmp_root);
    snprintf(new_dir, sizeof(new_dir), "%s/new", tmp_root);

    for (int k = 0; k < JOBS; k++) {
        new_job(&jobs[k], k);
        for (uint64_t i = 1; i <= N; i++) {
            uint64_t  id = (uint64_t) k * N + i;

            make_pending(&want[id], &jobs[k], id);
            if (!stays_pending(id)) {
                make_verified(&want[id], unverifiable(id) ? 0 : ++seq);
            }
        }
    }

    ok(create_old_env(old_dir) == 0, "an environment without `outcomes`");
    ok(prt_store_open(&old_s, old_dir, 64 << 20) == 0,
       "the store opens it (and adds `outcomes`)");
    ok(put_old_layout(old_s, &jobs[0], 0) == 0
       && put_old_layout(old_s, &jobs[1], 1) == 0,
       "old layout: verified records written whole");

    ok(prt_store_open(&new_s, new_dir, 64 << 20) == 0, "a new store");
    ok(put_new_layout(new_s, &jobs[0]) == 0,
       "new layout: pending records, then two verification passes (the "
       "second claims every one given)");
    ok(put_old_layout(new_s, &jobs[1], 1) == 0,
       "and a second job's records in the old layout");

    check_store(old_s, "old", jobs[0].id);
    check_store(new_s, "new", jobs[0].id);
    check_store(new_s, "new, the second job", jobs[1].id);

    {
        prt_store_stats_t  st;

        ok(prt_store_stats(new_s, &st) == 0
           && st.kv.db[9].entries == (uint64_t) (N - N / 5),
           "new: one outcome per verified or unverifiable prediction of "
           "job 0 (%llu)", (unsigned long long) st.kv.db[9].entries);
        ok(prt_store_stats(old_s, &st) == 0 && st.kv.db[9].entries == 0,
           "old: no outcome stored apart");
    }

    prt_store_close(old_s);
    prt_store_close(new_s);
    ok(prt_store_open(&old_s, old_dir, 64 << 20) == 0
       && prt_store_open(&new_s, new_dir, 64 << 20) == 0, "both reopened");
    check_store(old_s, "old, reopened", jobs[1].id);
    check_store(new_s, "new, reopened", jobs[0].id);
    prt_store_close(old_s);
    prt_store_close(new_s);

    {
        char  cmd[400];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_root);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", tmp_root);
        }
    }
    return done_testing();
}
