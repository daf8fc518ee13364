#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"
#include "core/loop.h"
#include "jobs/store.h"
#include "jobs/store_pg.h"

enum {
    DB_JOBS, DB_JOB_SYMBOLS, DB_PREDICTIONS, DB_BY_JOB, DB_BY_SYMBOL,
    DB_BY_SCAN, DB_PENDING, DB_FAILURES, DB_META, DB_OUTCOMES, DB_COUNT
};

static const char *const db_names[DB_COUNT] = {
    "jobs", "job_symbols", "predictions", "by_job", "by_symbol", "by_scan",
    "pending", "failures", "meta", "outcomes"
};

struct prt_store_s {
    prt_kv_t        *kv;
    MDB_dbi          dbi[DB_COUNT];
    prt_store_pg_t  *pg;              /* set: every call goes there */
};

/* ---- keys -------------------------------------------------------------- */

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t  v = 0;

    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* signed times sort after offsetting into unsigned */
static uint64_t
time_key(int64_t t)
{
    return (uint64_t) t ^ 0x8000000000000000ULL;
}

static MDB_val
val(void *p, size_t n)
{
    MDB_val  v = { n, p };

    return v;
}

/* ---- open -------------------------------------------------------------- */

int
prt_store_open(prt_store_t **out, const char *dir, size_t map_max)
{
    prt_store_t    *s = calloc(1, sizeof(*s));
    prt_kv_conf_t   conf;

    if (s == NULL) {
        return -1;
    }
    memset(&conf, 0, sizeof(conf));
    conf.dir = dir;
    conf.map_max = map_max;
    conf.sync = PRT_KV_SYNC_FULL;     /* acknowledged predictions survive */
    if (prt_kv_open(&s->kv, &conf, db_names, DB_COUNT) != 0) {
        prt_error("job store %s: %s", dir, prt_kv_errmsg());
        free(s);
        return -1;
    }
    for (int i = 0; i < DB_COUNT; i++) {
        s->dbi[i] = prt_kv_dbi(s->kv, (unsigned) i);
    }
    *out = s;
    return 0;
}

int
prt_store_open_pg(prt_store_t **out, const char *conninfo, const char *node)
{
    prt_store_t  *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        return -1;
    }
    if (prt_store_pg_open(&s->pg, conninfo, node) != 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void
prt_store_close(prt_store_t *s)
{
    if (s) {
        if (s->pg) {
            prt_store_pg_close(s->pg);
        } else {
            prt_kv_close(s->kv);
        }
        free(s);
    }
}

prt_kv_t *
prt_store_kv(prt_store_t *s)
{
    return s->kv;
}

int
prt_store_is_pg(const prt_store_t *s)
{
    return s->pg != NULL;
}

typedef struct {
    prt_kv_txn_fn   fn;
    void           *ctx;
} pg_read_t;

static int
pg_read_fn(void *arg)
{
    pg_read_t  *r = arg;

    return r->fn(NULL, r->ctx);
}

int
prt_store_read(prt_store_t *s, prt_kv_txn_fn fn, void *ctx)
{
    pg_read_t  r = { fn, ctx };

    /* PostgreSQL: fn's calls (txn NULL) share one snapshot */
    return s->pg ? prt_store_pg_read(s->pg, pg_read_fn, &r)
                 : prt_kv_read(s->kv, fn, ctx);
}

/* ---- jobs -------------------------------------------------------------- */

typedef struct {
    prt_store_t          *s;
    const prt_job_rec_t  *job;
    const void           *symbols;
    uint32_t              n;
} job_create_t;

static int
job_create_txn(MDB_txn *txn, void *arg)
{
    job_create_t  *c = arg;
    MDB_val        k = val((void *) c->job->id, PRT_JOB_UUID_LEN);
    MDB_val        v = val((void *) c->job, sizeof(*c->job));
    MDB_val        sv = val((void *) c->symbols,
                            (size_t) c->n * PRT_SYMBOL_SIZE);
    int            rc;

    rc = mdb_put(txn, c->s->dbi[DB_JOBS], &k, &v, MDB_NOOVERWRITE);
    if (rc == 0) {
        rc = mdb_put(txn, c->s->dbi[DB_JOB_SYMBOLS], &k, &sv, 0);
    }
    return rc ? prt_kv_fail(rc, "creating a job") : 0;
}

int
prt_store_job_create(prt_store_t *s, const prt_job_rec_t *job,
    const char (*symbols)[PRT_SYMBOL_SIZE], uint32_t n)
{
    job_create_t  c = { s, job, symbols, n };

    if (s->pg) {
        return prt_store_pg_job_create(s->pg, job, symbols, n);
    }

    return prt_kv_write(s->kv, job_create_txn, &c);
}

typedef struct {
    prt_store_t          *s;
    const prt_job_rec_t  *job;
} job_put_t;

static int
job_put_txn(MDB_txn *txn, void *arg)
{
    job_put_t  *c = arg;
    MDB_val     k = val((void *) c->job->id, PRT_JOB_UUID_LEN);
    MDB_val     v = val((void *) c->job, sizeof(*c->job));
    int         rc = mdb_put(txn, c->s->dbi[DB_JOBS], &k, &v, 0);

    return rc ? prt_kv_fail(rc, "updating a job") : 0;
}

int
prt_store_job_put(prt_store_t *s, const prt_job_rec_t *job)
{
    job_put_t  c = { s, job };

    if (s->pg) {
        return prt_store_pg_job_put(s->pg, job);
    }

    return prt_kv_write(s->kv, job_put_txn, &c);
}

typedef struct {
    prt_store_t    *s;
    const uint8_t  *id;
    prt_job_rec_t  *out;
    int             found;
} job_get_t;

static int
job_get_txn(MDB_txn *txn, void *arg)
{
    job_get_t  *c = arg;
    MDB_val     k = val((void *) c->id, PRT_JOB_UUID_LEN), v;
    int         rc = mdb_get(txn, c->s->dbi[DB_JOBS], &k, &v);

    if (rc == MDB_NOTFOUND) {
        c->found = 0;
        return 0;
    }
    if (rc != 0 || v.mv_size != sizeof(prt_job_rec_t)) {
        return prt_kv_fail(rc ? rc : MDB_CORRUPTED, "reading a job");
    }
    memcpy(c->out, v.mv_data, sizeof(*c->out));
    c->found = 1;
    return 0;
}

int
prt_store_job_get(prt_store_t *s, MDB_txn *txn,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_job_rec_t *out)
{
    job_get_t  c = { s, id, out, 0 };
    int        rc;

    if (s->pg) {
        return prt_store_pg_job_get(s->pg, id, out);
    }

    rc = txn ? job_get_txn(txn, &c) : prt_kv_read(s->kv, job_get_txn, &c);
    return rc ? -1 : c.found;
}

typedef struct {
    prt_store_t    *s;
    const uint8_t  *id;
    void           *out;
    uint32_t        n;
} job_symbols_t;

static int
job_symbols_txn(MDB_txn *txn, void *arg)
{
    job_symbols_t  *c = arg;
    MDB_val         k = val((void *) c->id, PRT_JOB_UUID_LEN), v;
    int             rc = mdb_get(txn, c->s->dbi[DB_JOB_SYMBOLS], &k, &v);

    if (rc != 0 || v.mv_size % PRT_SYMBOL_SIZE != 0) {
        return prt_kv_fail(rc ? rc : MDB_CORRUPTED, "reading job symbols");
    }
    c->out = malloc(v.mv_size ? v.mv_size : 1);
    if (c->out == NULL) {
        return prt_kv_set_error(PRT_KV_ERROR, "out of memory");
    }
    memcpy(c->out, v.mv_data, v.mv_size);
    c->n = (uint32_t) (v.mv_size / PRT_SYMBOL_SIZE);
    return 0;
}

int
prt_store_job_symbols(prt_store_t *s, const uint8_t id[PRT_JOB_UUID_LEN],
    char (**out)[PRT_SYMBOL_SIZE], uint32_t *n)
{
    job_symbols_t  c = { s, id, NULL, 0 };

    if (s->pg) {
        return prt_store_pg_job_symbols(s->pg, id, out, n);
    }

    if (prt_kv_read(s->kv, job_symbols_txn, &c) != 0) {
        return -1;
    }
    *out = c.out;
    *n = c.n;
    return 0;
}


/* ---- predictions ------------------------------------------------------- */

static int
next_prediction_id(prt_store_t *s, MDB_txn *txn, uint64_t *id)
{
    MDB_val  k = val("next_prediction", 15), v;
    int      rc = mdb_get(txn, s->dbi[DB_META], &k, &v);

    if (rc == MDB_NOTFOUND) {
        *id = 1;
        return 0;
    }
    if (rc != 0 || v.mv_size != 8) {
        return rc ? rc : MDB_CORRUPTED;
    }
    *id = get_be64(v.mv_data);
    return 0;
}

static int
set_next_prediction_id(prt_store_t *s, MDB_txn *txn, uint64_t id)
{
    uint8_t  b[8];
    MDB_val  k = val("next_prediction", 15), v = val(b, 8);

    put_be64(b, id);
    return mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
}

static int
index_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t len)
{
    MDB_val  k = val((void *) key, len), v = val("", 0);

    return mdb_put(txn, dbi, &k, &v, 0);
}

static size_t
key_by_job(uint8_t *k, const prt_pred_rec_t *p)
{
    memcpy(k, p->job, PRT_JOB_UUID_LEN);
    put_be64(k + PRT_JOB_UUID_LEN, p->id);
    return PRT_JOB_UUID_LEN + 8;
}

static size_t
key_by_symbol(uint8_t *k, const prt_pred_rec_t *p)
{
    memcpy(k, p->symbol, PRT_SYMBOL_SIZE);
    put_be64(k + PRT_SYMBOL_SIZE, time_key(p->scan_time_ms));
    put_be64(k + PRT_SYMBOL_SIZE + 8, p->id);
    return PRT_SYMBOL_SIZE + 16;
}

static size_t
key_by_time(uint8_t *k, int64_t t, uint64_t id)
{
    put_be64(k, time_key(t));
    put_be64(k + 8, id);
    return 16;
}

static int
put_prediction(prt_store_t *s, MDB_txn *txn, const prt_pred_rec_t *p)
{
    uint8_t  id[8], k[48];
    MDB_val  kk = val(id, 8), v = val((void *) p, sizeof(*p));
    int      rc;

    put_be64(id, p->id);
    rc = mdb_put(txn, s->dbi[DB_PREDICTIONS], &kk, &v, 0);
    if (rc == 0) {
        rc = index_put(txn, s->dbi[DB_BY_JOB], k, key_by_job(k, p));
    }
    if (rc == 0) {
        rc = index_put(txn, s->dbi[DB_BY_SYMBOL], k, key_by_symbol(k, p));
    }
    if (rc == 0) {
        rc = index_put(txn, s->dbi[DB_BY_SCAN], k,
                       key_by_time(k, p->scan_time_ms, p->id));
    }
    if (rc == 0 && p->status == PRT_PRED_PENDING) {
        rc = index_put(txn, s->dbi[DB_PENDING], k,
                       key_by_time(k, p->due_ms, p->id));
    }
    return rc;
}

static int
put_failure(prt_store_t *s, MDB_txn *txn, const prt_fail_rec_t *f,
    uint32_t number)
{
    uint8_t  k[PRT_JOB_UUID_LEN + 4];
    MDB_val  kk = val(k, sizeof(k)), v = val((void *) f, sizeof(*f));

    memcpy(k, f->job, PRT_JOB_UUID_LEN);
    for (int i = 3; i >= 0; i--) {
        k[PRT_JOB_UUID_LEN + i] = (uint8_t) number;
        number >>= 8;
    }
    return mdb_put(txn, s->dbi[DB_FAILURES], &kk, &v, 0);
}

typedef struct {
    prt_store_t          *s;
    const prt_job_rec_t  *job;
    prt_pred_rec_t       *preds;
    size_t                npreds;
    const prt_fail_rec_t *fails;
    size_t                nfails;
} chunk_t;

static int
chunk_txn(MDB_txn *txn, void *arg)
{
    chunk_t   *c = arg;
    MDB_val    k = val((void *) c->job->id, PRT_JOB_UUID_LEN);
    MDB_val    v = val((void *) c->job, sizeof(*c->job));
    uint64_t   id;
    uint32_t   first_fail;
    int        rc;

    rc = next_prediction_id(c->s, txn, &id);
    for (size_t i = 0; rc == 0 && i < c->npreds; i++) {
        c->preds[i].id = id++;
        rc = put_prediction(c->s, txn, &c->preds[i]);
    }
    if (rc == 0 && c->npreds) {
        rc = set_next_prediction_id(c->s, txn, id);
    }
    /* failures are numbered by the job's failure count before this chunk */
    first_fail = c->job->failed - (uint32_t) c->nfails;
    for (size_t i = 0; rc == 0 && i < c->nfails; i++) {
        rc = put_failure(c->s, txn, &c->fails[i], first_fail + (uint32_t) i);
    }
    if (rc == 0) {
        rc = mdb_put(txn, c->s->dbi[DB_JOBS], &k, &v, 0);
    }
    return rc ? prt_kv_fail(rc, "committing a scan chunk") : 0;
}

int
prt_store_commit_chunk(prt_store_t *s, const prt_job_rec_t *job,
    prt_pred_rec_t *preds, size_t npreds, const prt_fail_rec_t *fails,
    size_t nfails)
{
    chunk_t  c = { s, job, preds, npreds, fails, nfails };

    if (s->pg) {
        return prt_store_pg_commit_chunk(s->pg, job, preds, npreds,
                                         fails, nfails);
    }

    return prt_kv_write(s->kv, chunk_txn, &c);
}

_Static_assert(PRT_PRED_REC_V1 == 240, "the first record format is kept");

static int
decode_prediction(const MDB_val *v, prt_pred_rec_t *p)
{
    if (v->mv_size != sizeof(*p) && v->mv_size != PRT_PRED_REC_V1) {
        return MDB_CORRUPTED;
    }
    memcpy(p, v->mv_data, v->mv_size);
    if (v->mv_size == PRT_PRED_REC_V1) {
        /* scanned before SPEC 3.1's fields were stored: unknown */
        p->n_eff = p->prob_up_ci_lo = p->prob_up_ci_hi = NAN;
        p->prob_up_cal = p->edge_cal = NAN;
        p->calibration_n = 0;
        p->calibration_seq = 0;
    }
    return 0;
}

/* ---- outcomes ---------------------------------------------------------- */

/*
 * What verification adds to a prediction, stored apart from the record
 * (docs/storage.md, "Verification outcomes"): `outcomes` maps the
 * prediction id to this, followed by the verify_note's characters (no
 * NUL) when the prediction is unverifiable. The record in `predictions`
 * is never rewritten: it keeps status PENDING, and a reader sees the
 * prediction as verified only through merge_outcome.
 */
typedef struct {
    uint8_t   status;                       /* VERIFIED or UNVERIFIABLE */
    int8_t    was_correct;
    uint8_t   pad[6];
    double    price_at_horizon;
    double    actual_return;
    double    pnl;
    int64_t   verified_at_ms;
    uint64_t  calibration_seq;
} outcome_rec_t;

_Static_assert(sizeof(outcome_rec_t) == 48, "the outcome format is kept");

#define OUTCOME_NOTE_MAX  (sizeof(((prt_pred_rec_t *) 0)->verify_note) - 1)

static size_t
encode_outcome(const prt_pred_rec_t *p, uint8_t *out)
{
    outcome_rec_t  o;
    size_t         note = 0;

    memset(&o, 0, sizeof(o));
    o.status = p->status;
    o.was_correct = p->was_correct;
    o.price_at_horizon = p->price_at_horizon;
    o.actual_return = p->actual_return;
    o.pnl = p->pnl;
    o.verified_at_ms = p->verified_at_ms;
    o.calibration_seq = p->calibration_seq;
    memcpy(out, &o, sizeof(o));
    if (p->status == PRT_PRED_UNVERIFIABLE) {
        note = strnlen(p->verify_note, OUTCOME_NOTE_MAX);
        memcpy(out + sizeof(o), p->verify_note, note);
    }
    return sizeof(o) + note;
}

static int
decode_outcome(const MDB_val *v, prt_pred_rec_t *p)
{
    outcome_rec_t  o;
    size_t         note;

    if (v->mv_size < sizeof(o) || v->mv_size > sizeof(o) + OUTCOME_NOTE_MAX) {
        return MDB_CORRUPTED;
    }
    memcpy(&o, v->mv_data, sizeof(o));
    if (o.status != PRT_PRED_VERIFIED && o.status != PRT_PRED_UNVERIFIABLE) {
        return MDB_CORRUPTED;
    }
    p->status = o.status;
    p->was_correct = o.was_correct;
    p->price_at_horizon = o.price_at_horizon;
    p->actual_return = o.actual_return;
    p->pnl = o.pnl;
    p->verified_at_ms = o.verified_at_ms;
    p->calibration_seq = o.calibration_seq;
    note = v->mv_size - sizeof(o);
    memset(p->verify_note, 0, sizeof(p->verify_note));
    memcpy(p->verify_note, (const uint8_t *) v->mv_data + sizeof(o), note);
    return 0;
}

/*
 * A walk's view of `outcomes`: one cursor for the whole walk, and what it
 * has learnt. Walks meet ids in increasing runs (by id, or by time then
 * id), so a lookup is mostly answered by where the cursor already is or
 * by stepping it to the next key, without a search.
 */
typedef struct {
    MDB_cursor  *cur;
    uint64_t     last;          /* the highest id with an outcome, 0: none */
    uint64_t     lo, pos;       /* no outcome in [lo, pos); the cursor is on
                                   pos (UINT64_MAX: none at or after lo) */
    MDB_val      at;            /* pos's outcome */
    int          placed;
} outcomes_t;

static int
outcomes_step(outcomes_t *o, uint64_t id, MDB_cursor_op op)
{
    uint8_t  b[8];
    MDB_val  k = val(b, 8);
    int      rc;

    put_be64(b, id);
    rc = mdb_cursor_get(o->cur, &k, &o->at, op);
    if (rc == MDB_NOTFOUND) {
        o->pos = UINT64_MAX;
        return 0;
    }
    if (rc == 0 && k.mv_size != 8) {
        rc = MDB_CORRUPTED;
    }
    o->pos = rc == 0 ? get_be64(k.mv_data) : UINT64_MAX;
    return rc;
}

/* *found = 1 with the outcome in o->at when id has one. */
static int
outcomes_find(outcomes_t *o, uint64_t id, int *found)
{
    int  rc = 0;

    *found = 0;
    if (id > o->last) {
        return 0;                   /* scanned after the last one verified */
    }
    if (!o->placed || id < o->lo) {
        o->placed = 1;
        o->lo = id;
        rc = outcomes_step(o, id, MDB_SET_RANGE);
    } else if (id > o->pos) {
        o->lo = o->pos + 1;         /* nothing between pos and the next key */
        rc = outcomes_step(o, 0, MDB_NEXT);
        if (rc == 0 && id > o->pos) {
            o->lo = id;
            rc = outcomes_step(o, id, MDB_SET_RANGE);
        }
    }
    if (rc != 0) {
        o->placed = 0;
        return rc;
    }
    *found = id == o->pos;
    return 0;
}

static int
outcomes_open(prt_store_t *s, MDB_txn *txn, outcomes_t *o)
{
    MDB_val  k, v;
    int      rc = mdb_cursor_open(txn, s->dbi[DB_OUTCOMES], &o->cur);

    o->last = 0;
    o->placed = 0;
    if (rc != 0) {
        return rc;
    }
    rc = mdb_cursor_get(o->cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8) {
        o->last = get_be64(k.mv_data);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_cursor_close(o->cur);
        return rc;
    }
    return 0;
}

/*
 * The one way a prediction is read: its record, then its outcome if it
 * has one. A record that is not PENDING was verified before outcomes were
 * stored apart (its outcome is in the record itself) and is returned as
 * it is.
 */
static int
read_prediction(outcomes_t *out, const MDB_val *v, prt_pred_rec_t *p)
{
    int  rc = decode_prediction(v, p), found = 0;

    if (rc != 0 || p->status != PRT_PRED_PENDING) {
        return rc;
    }
    rc = outcomes_find(out, p->id, &found);
    return rc != 0 ? rc : found ? decode_outcome(&out->at, p) : 0;
}

/*
 * A walk's cursor on `predictions`. Indexes list ids in increasing runs
 * (a job's, a scan time's, a due minute's), so the next id wanted is
 * mostly the next key: one step instead of a search from the root.
 */
typedef struct {
    MDB_cursor  *cur;
    uint64_t     at;            /* the id the cursor is on */
    int          placed;
} preds_t;

static int
get_prediction(preds_t *pc, outcomes_t *out, uint64_t id, prt_pred_rec_t *p)
{
    uint8_t  b[8];
    MDB_val  k = val(b, 8), v;
    int      rc = MDB_NOTFOUND;

    if (pc->placed && id == pc->at + 1) {
        rc = mdb_cursor_get(pc->cur, &k, &v, MDB_NEXT);
        if (rc == 0 && (k.mv_size != 8 || get_be64(k.mv_data) != id)) {
            rc = MDB_NOTFOUND;          /* a gap: search for it */
        }
    }
    if (rc == MDB_NOTFOUND) {
        put_be64(b, id);
        k = val(b, 8);
        rc = mdb_cursor_get(pc->cur, &k, &v, MDB_SET_KEY);
    }
    pc->placed = rc == 0;
    pc->at = id;
    return rc == 0 ? read_prediction(out, &v, p) : rc;
}

/*
 * Walks the keys of an index db from `from` (inclusive) while they start
 * with `prefix`, forward or backward, calling fn with the prediction whose
 * id is the key's last 8 bytes. fn returning nonzero stops the walk.
 */
static int
walk_index(prt_store_t *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
    size_t plen, const uint8_t *from, size_t flen, int backward,
    prt_pred_fn fn, void *ctx)
{
    MDB_cursor      *cur;
    outcomes_t       out;
    preds_t          pc = { NULL, 0, 0 };
    MDB_val          k = val((void *) from, flen), v;
    prt_pred_rec_t   p;
    int              rc, stop = 0;

    rc = outcomes_open(s, txn, &out);
    if (rc != 0) {
        return prt_kv_fail(rc, "opening a cursor");
    }
    rc = mdb_cursor_open(txn, s->dbi[DB_PREDICTIONS], &pc.cur);
    if (rc != 0) {
        mdb_cursor_close(out.cur);
        return prt_kv_fail(rc, "opening a cursor");
    }
    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        mdb_cursor_close(pc.cur);
        mdb_cursor_close(out.cur);
        return prt_kv_fail(rc, "opening a cursor");
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (backward) {
        /* the last key <= from: step back from the first key > from */
        rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
           : (k.mv_size >= flen && memcmp(k.mv_data, from, flen) == 0)
             ? 0 : mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }

    while (rc == 0 && !stop) {
        if (k.mv_size < plen + 8 || memcmp(k.mv_data, prefix, plen) != 0) {
            break;
        }
        rc = get_prediction(&pc, &out,
                            get_be64((uint8_t *) k.mv_data + k.mv_size - 8), &p);
        if (rc != 0) {
            break;
        }
        stop = fn(&p, ctx);
        rc = mdb_cursor_get(cur, &k, &v, backward ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_cursor_close(pc.cur);
    mdb_cursor_close(out.cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return prt_kv_fail(rc, "walking predictions");
    }
    return stop < 0 ? stop : 0;
}

int
prt_store_job_predictions(prt_store_t *s, MDB_txn *txn,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_pred_fn fn, void *ctx)
{
    if (s->pg) {
        return prt_store_pg_job_predictions(s->pg, id, fn, ctx);
    }
    return walk_index(s, txn, s->dbi[DB_BY_JOB], id, PRT_JOB_UUID_LEN, id,
                      PRT_JOB_UUID_LEN, 0, fn, ctx);
}

int
prt_store_history(prt_store_t *s, MDB_txn *txn, const char *symbol,
    prt_pred_fn fn, void *ctx)
{
    uint8_t  from[PRT_SYMBOL_SIZE + 16];
    char     sym[PRT_SYMBOL_SIZE];

    if (s->pg) {
        return prt_store_pg_history(s->pg, symbol, fn, ctx);
    }

    memset(from, 0xff, sizeof(from));
    if (symbol == NULL || symbol[0] == '\0') {
        return walk_index(s, txn, s->dbi[DB_BY_SCAN], NULL, 0, from, 16, 1,
                          fn, ctx);
    }
    memset(sym, 0, sizeof(sym));
    strncpy(sym, symbol, PRT_SYMBOL_SIZE - 1);
    memcpy(from, sym, PRT_SYMBOL_SIZE);
    return walk_index(s, txn, s->dbi[DB_BY_SYMBOL], (uint8_t *) sym,
                      PRT_SYMBOL_SIZE, from, sizeof(from), 1, fn, ctx);
}

typedef struct {
    int64_t       to;
    prt_pred_fn   fn;
    void         *ctx;
} until_t;

static int
until_fn(const prt_pred_rec_t *p, void *arg)
{
    until_t  *u = arg;

    return p->scan_time_ms >= u->to ? 1 : u->fn(p, u->ctx);
}

int
prt_store_scanned_between(prt_store_t *s, MDB_txn *txn, int64_t from_ms,
    int64_t to_ms, prt_pred_fn fn, void *ctx)
{
    uint8_t  from[16];
    until_t  u = { to_ms, fn, ctx };

    if (s->pg) {
        return prt_store_pg_scanned_between(s->pg, from_ms, to_ms, fn,
                                            ctx);
    }

    key_by_time(from, from_ms, 0);
    return walk_index(s, txn, s->dbi[DB_BY_SCAN], NULL, 0, from, 16, 0,
                      until_fn, &u);
}

typedef struct {
    int64_t       due;
    prt_pred_fn   fn;
    void         *ctx;
} due_t;

static int
due_fn(const prt_pred_rec_t *p, void *arg)
{
    due_t  *d = arg;

    return p->due_ms > d->due ? 1 : d->fn(p, d->ctx);
}

int
prt_store_pending_due(prt_store_t *s, MDB_txn *txn, int64_t due_ms,
    prt_pred_fn fn, void *ctx)
{
    uint8_t  from[16];
    due_t    d = { due_ms, fn, ctx };

    if (s->pg) {
        return prt_store_pg_pending_due(s->pg, due_ms, fn, ctx);
    }

    key_by_time(from, INT64_MIN, 0);
    return walk_index(s, txn, s->dbi[DB_PENDING], NULL, 0, from, 16, 0,
                      due_fn, &d);
}

int
prt_store_pending_own(prt_store_t *s, MDB_txn *txn, prt_pred_fn fn,
    void *ctx)
{
    if (s->pg) {
        return prt_store_pg_pending_own(s->pg, fn, ctx);
    }
    return prt_store_pending_due(s, txn, INT64_MAX, fn, ctx);
}

typedef struct {
    prt_store_t     *s;
    const uint8_t   *id;
    prt_fail_fn      fn;
    void            *ctx;
} fail_walk_t;

static int
failures_txn(MDB_txn *txn, void *arg)
{
    fail_walk_t     *c = arg;
    MDB_cursor      *cur;
    MDB_val          k = val((void *) c->id, PRT_JOB_UUID_LEN), v;
    prt_fail_rec_t   f;
    int              rc;

    rc = mdb_cursor_open(txn, c->s->dbi[DB_FAILURES], &cur);
    if (rc != 0) {
        return prt_kv_fail(rc, "opening a cursor");
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == PRT_JOB_UUID_LEN + 4
         && memcmp(k.mv_data, c->id, PRT_JOB_UUID_LEN) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (v.mv_size != sizeof(f)) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(&f, v.mv_data, sizeof(f));
        if (c->fn(&f, c->ctx) != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return (rc != 0 && rc != MDB_NOTFOUND)
           ? prt_kv_fail(rc, "walking failures") : 0;
}

int
prt_store_job_failures(prt_store_t *s, MDB_txn *txn,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_fail_fn fn, void *ctx)
{
    fail_walk_t  c = { s, id, fn, ctx };

    if (s->pg) {
        return prt_store_pg_job_failures(s->pg, id, fn, ctx);
    }

    return txn ? failures_txn(txn, &c) : prt_kv_read(s->kv, failures_txn, &c);
}


/* ---- verification ------------------------------------------------------ */

typedef struct {
    prt_store_t           *s;
    const prt_pred_rec_t  *preds;
    size_t                 n;
} verify_t;

static int
by_id(const void *a, const void *b)
{
    const prt_pred_rec_t  *x = *(const prt_pred_rec_t *const *) a;
    const prt_pred_rec_t  *y = *(const prt_pred_rec_t *const *) b;

    return (x->id > y->id) - (x->id < y->id);
}

static int
by_due(const void *a, const void *b)
{
    const prt_pred_rec_t  *x = *(const prt_pred_rec_t *const *) a;
    const prt_pred_rec_t  *y = *(const prt_pred_rec_t *const *) b;

    if (x->due_ms != y->due_ms) {
        return (x->due_ms > y->due_ms) - (x->due_ms < y->due_ms);
    }
    return (x->id > y->id) - (x->id < y->id);
}

static int
is_sorted(const prt_pred_rec_t **order, size_t n,
    int (*cmp)(const void *, const void *))
{
    for (size_t i = 1; i < n; i++) {
        if (cmp(&order[i - 1], &order[i]) > 0) {
            return 0;
        }
    }
    return 1;
}

/*
 * order[] by id: a least significant digit radix sort, a byte a round,
 * skipping the bytes every id shares (ids differ in their low 3 or 4).
 * qsort's comparisons took a tenth of the commit of 100,000.
 */
static int
sort_by_id(const prt_pred_rec_t **order, size_t n)
{
    const prt_pred_rec_t  **tmp, **from = order, **to, **swap;
    uint64_t                any = 0, all = UINT64_MAX;
    size_t                  count[257];

    if (is_sorted(order, n, by_id)) {
        return 0;
    }
    tmp = malloc(n * sizeof(*tmp));
    if (tmp == NULL) {
        return ENOMEM;
    }
    to = tmp;
    for (size_t i = 0; i < n; i++) {
        any |= order[i]->id;
        all &= order[i]->id;
    }
    for (int shift = 0; shift < 64; shift += 8) {
        if ((((any ^ all) >> shift) & 0xff) == 0) {
            continue;
        }
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < n; i++) {
            count[((from[i]->id >> shift) & 0xff) + 1]++;
        }
        for (int d = 1; d < 257; d++) {
            count[d] += count[d - 1];
        }
        for (size_t i = 0; i < n; i++) {
            to[count[(from[i]->id >> shift) & 0xff]++] = from[i];
        }
        swap = from;
        from = to;
        to = swap;
    }
    if (from != order) {
        memcpy(order, from, n * sizeof(*order));
    }
    free(tmp);
    return 0;
}

/*
 * Writes the outcomes in id order: ids above the last one stored (a pass
 * over predictions scanned since the previous one, the usual case) are
 * appended, which fills each page instead of splitting it in half.
 */
static int
put_outcomes(MDB_txn *txn, MDB_dbi dbi, const prt_pred_rec_t **order,
    size_t n)
{
    MDB_cursor  *cur;
    MDB_val      k, v;
    uint8_t      id[8], rec[sizeof(outcome_rec_t) + OUTCOME_NOTE_MAX];
    uint64_t     last = 0;
    int          rc;

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        return rc;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8) {
        last = get_be64(k.mv_data);
    }
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned  flags = order[i]->id > last ? MDB_APPEND : 0;

        put_be64(id, order[i]->id);
        k = val(id, 8);
        v = val(rec, encode_outcome(order[i], rec));
        rc = mdb_cursor_put(cur, &k, &v, flags);
        if (flags) {
            last = order[i]->id;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

/*
 * Removes the pending keys of order[] (in key order) with one cursor:
 * after a delete it is on the next key, which is mostly the next one to
 * delete (a pass takes the oldest due), so most deletes need no search.
 * (From the last key back was slower: 33 ms against 17 for 100,000.)
 * A key not there is no error: it was removed already.
 */
static int
del_pending(MDB_txn *txn, MDB_dbi dbi, const prt_pred_rec_t **order,
    size_t n)
{
    MDB_cursor  *cur = NULL;
    MDB_val      k, v;
    uint8_t      key[16];
    int          rc, on = 0;

    rc = mdb_cursor_open(txn, dbi, &cur);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        key_by_time(key, order[i]->due_ms, order[i]->id);
        /* on the key to delete already? */
        if (!on || mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT) != 0
            || k.mv_size != sizeof(key) || memcmp(k.mv_data, key, 16) != 0)
        {
            k = val(key, sizeof(key));
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
            if (rc == MDB_NOTFOUND) {
                rc = 0;
                on = 0;
                continue;
            }
        }
        if (rc == 0) {
            rc = mdb_cursor_del(cur, 0);
            on = rc == 0;
        }
    }
    if (cur) {
        mdb_cursor_close(cur);
    }
    return rc;
}

/*
 * Each B-tree is walked in its key order (outcomes by id, the pending
 * ordering by due time): neighbouring keys share pages, which a pass in
 * symbol order would touch again and again (the commit of 100,000 took
 * twice as long). The records in `predictions` are not touched: the
 * commit writes (and syncs) 48 bytes a prediction instead of the whole
 * record.
 */
static int
verify_txn(MDB_txn *txn, void *arg)
{
    verify_t                *c = arg;
    const prt_pred_rec_t   **order;
    int                      rc = 0;

    order = malloc(c->n * sizeof(*order));
    if (order == NULL) {
        return prt_kv_fail(ENOMEM, "sorting verifications");
    }
    for (size_t i = 0; i < c->n; i++) {
        order[i] = &c->preds[i];
    }

    rc = sort_by_id(order, c->n);
    if (rc == 0) {
        rc = put_outcomes(txn, c->s->dbi[DB_OUTCOMES], order, c->n);
    }

    /* the verifier gives them in due order */
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        order[i] = &c->preds[i];
    }
    if (rc == 0 && !is_sorted(order, c->n, by_due)) {
        qsort(order, c->n, sizeof(*order), by_due);
    }
    if (rc == 0) {
        rc = del_pending(txn, c->s->dbi[DB_PENDING], order, c->n);
    }

    free(order);
    return rc ? prt_kv_fail(rc, "storing verifications") : 0;
}

int
prt_store_verify(prt_store_t *s, const prt_pred_rec_t *preds, size_t n)
{
    verify_t  c = { s, preds, n };

    if (s->pg) {
        return prt_store_pg_verify(s->pg, preds, n);
    }

    return n ? prt_kv_write(s->kv, verify_txn, &c) : 0;
}


int
prt_store_verify_claimed(prt_store_t *s, prt_pred_rec_t *preds, size_t *n,
    prt_claimed_fn fn, void *ctx)
{
    int  rc;

    if (s->pg) {
        return prt_store_pg_verify_claimed(s->pg, preds, n, fn, ctx);
    }
    if (fn && *n) {
        fn(preds, *n, ctx);
    }
    rc = prt_store_verify(s, preds, *n);
    if (rc != 0) {
        *n = 0;
    }
    return rc;
}


/* ---- restart ----------------------------------------------------------- */

typedef struct {
    prt_store_t  *s;
    const char   *reason;
    int64_t       now;
    int           n;
} fail_running_t;

static int
fail_running_txn(MDB_txn *txn, void *arg)
{
    fail_running_t  *c = arg;
    MDB_cursor      *cur;
    MDB_val          k, v;
    prt_job_rec_t    job;
    int              rc;

    c->n = 0;
    rc = mdb_cursor_open(txn, c->s->dbi[DB_JOBS], &cur);
    if (rc != 0) {
        return prt_kv_fail(rc, "opening a cursor");
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (v.mv_size != sizeof(job)) {
            continue;
        }
        memcpy(&job, v.mv_data, sizeof(job));
        if (job.status != PRT_JOB_RUNNING) {
            continue;
        }
        job.status = PRT_JOB_FAILED;
        job.completed_at_ms = c->now;
        snprintf(job.reason, sizeof(job.reason), "%s", c->reason);
        v = val(&job, sizeof(job));
        rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
        if (rc != 0) {
            break;
        }
        c->n++;
    }
    mdb_cursor_close(cur);
    return (rc != 0 && rc != MDB_NOTFOUND)
           ? prt_kv_fail(rc, "failing running jobs") : 0;
}

int
prt_store_fail_running(prt_store_t *s, const char *reason, int64_t now_ms)
{
    fail_running_t  c = { s, reason, now_ms, 0 };

    if (s->pg) {
        return prt_store_pg_fail_running(s->pg, reason, now_ms);
    }

    return prt_kv_write(s->kv, fail_running_txn, &c) == 0 ? c.n : -1;
}


int
prt_store_each_prediction(prt_store_t *s, MDB_txn *txn, prt_pred_fn fn,
    void *ctx)
{
    MDB_cursor      *cur;
    outcomes_t       out;
    MDB_val          k, v;
    prt_pred_rec_t   p;
    int              rc, stop = 0;

    if (s->pg) {
        return prt_store_pg_each_prediction(s->pg, fn, ctx);
    }

    rc = outcomes_open(s, txn, &out);
    if (rc != 0) {
        return prt_kv_fail(rc, "opening a cursor");
    }
    rc = mdb_cursor_open(txn, s->dbi[DB_PREDICTIONS], &cur);
    if (rc != 0) {
        mdb_cursor_close(out.cur);
        return prt_kv_fail(rc, "opening a cursor");
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !stop;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        rc = read_prediction(&out, &v, &p);
        if (rc != 0) {
            break;
        }
        stop = fn(&p, ctx);
    }
    mdb_cursor_close(cur);
    mdb_cursor_close(out.cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return prt_kv_fail(rc, "walking predictions");
    }
    return stop < 0 ? stop : 0;
}


/* ---- stats and ids ----------------------------------------------------- */

int
prt_store_stats(prt_store_t *s, prt_store_stats_t *st)
{
    if (s->pg) {
        return prt_store_pg_stats(s->pg, st);
    }
    memset(st, 0, sizeof(*st));
    if (prt_kv_stats(s->kv, &st->kv) != 0) {
        return -1;
    }
    st->jobs = st->kv.db[DB_JOBS].entries;
    st->predictions = st->kv.db[DB_PREDICTIONS].entries;
    st->pending = st->kv.db[DB_PENDING].entries;
    st->failures = st->kv.db[DB_FAILURES].entries;
    st->lmdb = 1;
    return 0;
}

int
prt_store_stats_now(prt_store_t *s, prt_store_stats_t *st)
{
    return s->pg ? prt_store_pg_stats_now(s->pg, st) : prt_store_stats(s, st);
}

const char *
prt_job_status_name(prt_job_status_t s)
{
    static const char *const names[] = {
        "running", "completed", "failed", "cancelled"
    };

    return s <= PRT_JOB_CANCELLED ? names[s] : "failed";
}
