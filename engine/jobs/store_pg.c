#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/log.h"
#include "core/pg.h"
#include "jobs/store_pg.h"

/* Connections kept idle for reuse: one per thread that uses the store at
 * once (workers, the loop, the verifier) is enough. */
#define POOL_MAX     16
/* Rows fetched per round trip when walking an ordering. */
#define FETCH_ROWS   "1024"
/* A node whose heartbeat is older than this is lost: another node fails
 * its running jobs ("node lost"). Ten beats of one second: a node busy
 * with a long commit is not taken for dead. */
#define NODE_LOST    "10 seconds"

struct prt_store_pg_s {
    char              *conninfo;
    char              *node;
    pthread_mutex_t    mu;
    PGconn            *idle[POOL_MAX];
    int                nidle;

    /* the stats thread (prt_store_pg_stats) */
    pthread_t          stats_thread;
    pthread_cond_t     stats_cond;
    int                stats_started;
    int                stop;
    int                have_stats;
    prt_store_stats_t  stats;          /* the last count */
    /* This engine's own writes since the last count (added to it): a node
     * sees its writes at once, the other nodes' within a second. A count
     * is kept only if no write of this engine began or ended while it
     * ran, so that its snapshot holds every write counted in since_last
     * before it and none after: writes_begun == writes_ended throughout. */
    int64_t            since_last[4];
    uint64_t           writes_begun, writes_ended;
};

/* The read transaction of prt_store_pg_read on this thread: every call
 * the callback makes reads the same snapshot, as in one LMDB read txn. */
static __thread PGconn    *read_conn;
static __thread unsigned   read_cursors;

/*
 * Each migration takes the schema from version i to i + 1. Orderings of
 * SPEC 7 are the indexes: a job's predictions by id, a symbol's by scan
 * time, all by scan time, the unverified ones by due time.
 */
static const char *const migrations[PRT_STORE_PG_SCHEMA] = {
    "CREATE TABLE prt_meta (next_prediction bigint NOT NULL);"
    "INSERT INTO prt_meta VALUES (1);"
    "CREATE TABLE prt_jobs ("
    "  id bytea PRIMARY KEY, status smallint NOT NULL,"
    "  node text NOT NULL, rec bytea NOT NULL);"
    "CREATE INDEX prt_jobs_running ON prt_jobs (node) WHERE status = 0;"
    "CREATE TABLE prt_job_symbols ("
    "  job bytea PRIMARY KEY, symbols bytea NOT NULL);"
    "CREATE TABLE prt_predictions ("
    "  id bigint PRIMARY KEY, job bytea NOT NULL, symbol text NOT NULL,"
    "  scan_time_ms bigint NOT NULL, due_ms bigint NOT NULL,"
    "  pending boolean NOT NULL, rec bytea NOT NULL);"
    "CREATE INDEX prt_predictions_by_job ON prt_predictions (job, id);"
    "CREATE INDEX prt_predictions_by_symbol"
    "  ON prt_predictions (symbol, scan_time_ms, id);"
    "CREATE INDEX prt_predictions_by_scan"
    "  ON prt_predictions (scan_time_ms, id);"
    "CREATE INDEX prt_predictions_pending"
    "  ON prt_predictions (due_ms, id) WHERE pending;"
    "CREATE TABLE prt_failures ("
    "  job bytea NOT NULL, number integer NOT NULL, rec bytea NOT NULL,"
    "  PRIMARY KEY (job, number));"
    "CREATE TABLE prt_nodes ("
    "  node text PRIMARY KEY, seen timestamptz NOT NULL);",
};

/* ---- connections -------------------------------------------------------- */

static int
pg_error(PGconn *c, const char *what)
{
    const char  *m = c ? PQerrorMessage(c) : "no connection";
    size_t       n = strlen(m);

    while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) {
        n--;
    }
    return prt_kv_set_error(PRT_KV_ERROR, "PostgreSQL, %s: %.*s", what,
                            (int) n, m);
}

static PGconn *
pg_connect(const char *conninfo)
{
    PGconn  *c = prt_pg_connect(conninfo, "pattern-rt-engine");

    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        pg_error(c, "connecting");
        PQfinish(c);
        return NULL;
    }
    return c;
}

static PGconn *
pg_get(prt_store_pg_t *pg)
{
    PGconn  *c = NULL;

    if (read_conn) {
        return read_conn;
    }
    for (;;) {
        pthread_mutex_lock(&pg->mu);
        c = pg->nidle > 0 ? pg->idle[--pg->nidle] : NULL;
        pthread_mutex_unlock(&pg->mu);
        if (c == NULL) {
            return pg_connect(pg->conninfo);
        }
        /* an idle connection the server closed (a restart, a failover)
         * reads as EOF here, without blocking: libpq's sockets are
         * non-blocking. Such a one is dropped, not used for a query. */
        if (PQconsumeInput(c) == 1 && PQstatus(c) == CONNECTION_OK) {
            return c;
        }
        PQfinish(c);
    }
}

/* A connection goes back to the pool only when it is healthy and idle. */
static void
pg_put(prt_store_pg_t *pg, PGconn *c)
{
    if (c == NULL || c == read_conn) {
        return;
    }
    if (PQstatus(c) != CONNECTION_OK
        || PQtransactionStatus(c) != PQTRANS_IDLE)
    {
        PQfinish(c);
        return;
    }
    pthread_mutex_lock(&pg->mu);
    if (pg->nidle < POOL_MAX) {
        pg->idle[pg->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&pg->mu);
    PQfinish(c);
}

/* Runs one command that returns no rows; 0 or -1 (error recorded). */
static int
pg_cmd(PGconn *c, const char *sql, const char *what)
{
    PGresult  *r = PQexec(c, sql);
    int        ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK
                          || PQresultStatus(r) == PGRES_TUPLES_OK);

    PQclear(r);
    return ok ? 0 : pg_error(c, what);
}

/* A statement with parameters; binary results when `binary`. NULL on
 * error (recorded). fmts NULL: all text. */
static PGresult *
pg_params(PGconn *c, const char *sql, int n, const char *const *vals,
    const int *lens, const int *fmts, int binary, const char *what)
{
    PGresult  *r = PQexecParams(c, sql, n, NULL, vals, lens, fmts, binary);

    if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK
                      && PQresultStatus(r) != PGRES_TUPLES_OK))
    {
        pg_error(c, what);
        PQclear(r);
        return NULL;
    }
    return r;
}

static void
pg_rollback(PGconn *c)
{
    if (PQstatus(c) == CONNECTION_OK
        && PQtransactionStatus(c) != PQTRANS_IDLE)
    {
        PQclear(PQexec(c, "ROLLBACK"));
    }
}

/* ---- migrate, open, close ----------------------------------------------- */

static int
schema_version(PGconn *c, int *v)
{
    PGresult  *r;

    r = pg_params(c, "SELECT to_regclass('prt_schema') IS NOT NULL", 0, NULL,
                  NULL, NULL, 0, "reading the schema version");
    if (r == NULL) {
        return -1;
    }
    if (PQgetvalue(r, 0, 0)[0] != 't') {
        PQclear(r);
        *v = 0;
        return 0;
    }
    PQclear(r);
    r = pg_params(c, "SELECT max(version) FROM prt_schema", 0, NULL, NULL,
                  NULL, 0, "reading the schema version");
    if (r == NULL) {
        return -1;
    }
    *v = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

static int
migrate_txn(PGconn *c, int *from)
{
    char  sql[96];
    int   v;

    /* one migrating engine at a time; the others wait, then see it done */
    if (pg_cmd(c, "SELECT pg_advisory_xact_lock(7270011)", "locking") != 0
        || pg_cmd(c, "CREATE TABLE IF NOT EXISTS prt_schema "
                     "(version integer NOT NULL)", "creating prt_schema") != 0
        || schema_version(c, &v) != 0)
    {
        return -1;
    }
    *from = v;
    if (v > PRT_STORE_PG_SCHEMA) {
        return prt_kv_set_error(PRT_KV_ERROR, "the database has schema "
                                "version %d, newer than this engine's %d", v,
                                PRT_STORE_PG_SCHEMA);
    }
    for (; v < PRT_STORE_PG_SCHEMA; v++) {
        snprintf(sql, sizeof(sql), "INSERT INTO prt_schema VALUES (%d)",
                 v + 1);
        if (pg_cmd(c, migrations[v], "migrating") != 0
            || pg_cmd(c, sql, "migrating") != 0)
        {
            return -1;
        }
    }
    return 0;
}

int
prt_store_pg_migrate(const char *conninfo, int *from)
{
    PGconn  *c = pg_connect(conninfo);
    int      rc;

    if (c == NULL) {
        return -1;
    }
    rc = pg_cmd(c, "BEGIN", "migrating");
    if (rc == 0) {
        rc = migrate_txn(c, from);
    }
    if (rc == 0) {
        rc = pg_cmd(c, "COMMIT", "committing the migration");
    } else {
        pg_rollback(c);
    }
    PQfinish(c);
    return rc;
}

static int
stats_query(PGconn *c, prt_store_stats_t *st)
{
    PGresult  *r;

    r = pg_params(c, "SELECT (SELECT count(*) FROM prt_jobs),"
                  " (SELECT count(*) FROM prt_predictions),"
                  " (SELECT count(*) FROM prt_predictions WHERE pending),"
                  " (SELECT count(*) FROM prt_failures)", 0, NULL, NULL,
                  NULL, 0, "counting records");
    if (r == NULL) {
        return -1;
    }
    memset(st, 0, sizeof(*st));
    st->jobs = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    st->predictions = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    st->pending = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
    st->failures = strtoull(PQgetvalue(r, 0, 3), NULL, 10);
    PQclear(r);
    return 0;
}

static void node_watch(prt_store_pg_t *pg, PGconn *c);

/* Refreshes the counts /health and /metrics show, once a second, and
 * keeps this node's heartbeat (node_watch). */
static void *
stats_main(void *arg)
{
    prt_store_pg_t     *pg = arg;
    prt_store_stats_t   st;
    struct timespec     until;
    PGconn             *c;
    int                 ok;

    pthread_mutex_lock(&pg->mu);
    while (!pg->stop) {
        uint64_t  begun = pg->writes_begun;
        int       quiet = begun == pg->writes_ended;

        pthread_mutex_unlock(&pg->mu);
        c = pg_get(pg);
        ok = c && stats_query(c, &st) == 0;
        if (c) {
            node_watch(pg, c);
        }
        pg_put(pg, c);
        pthread_mutex_lock(&pg->mu);
        quiet = quiet && pg->writes_begun == begun
                && pg->writes_ended == begun;
        if (!ok) {
            pg->have_stats = 0;
        } else if (quiet) {
            pg->have_stats = 1;
            pg->stats = st;
            memset(pg->since_last, 0, sizeof(pg->since_last));
        }
        clock_gettime(CLOCK_REALTIME, &until);
        if (ok && !quiet) {
            until.tv_nsec += 100 * 1000000;     /* try again soon */
            until.tv_sec += until.tv_nsec / 1000000000;
            until.tv_nsec %= 1000000000;
        } else {
            until.tv_sec += 1;
        }
        if (!pg->stop) {
            pthread_cond_timedwait(&pg->stats_cond, &pg->mu, &until);
        }
    }
    pthread_mutex_unlock(&pg->mu);
    return NULL;
}

int
prt_store_pg_open(prt_store_pg_t **out, const char *conninfo,
    const char *node)
{
    prt_store_pg_t  *pg = calloc(1, sizeof(*pg));
    PGconn          *c;
    int              v = -1;

    if (pg == NULL) {
        return -1;
    }
    pthread_mutex_init(&pg->mu, NULL);
    pthread_cond_init(&pg->stats_cond, NULL);
    pg->conninfo = strdup(conninfo);
    pg->node = strdup(node);
    if (pg->conninfo == NULL || pg->node == NULL) {
        prt_store_pg_close(pg);
        return -1;
    }
    c = pg_get(pg);
    if (c == NULL || schema_version(c, &v) != 0) {
        prt_error("job store on PostgreSQL: %s", prt_kv_errmsg());
        PQfinish(c);
        prt_store_pg_close(pg);
        return -1;
    }
    pg_put(pg, c);
    if (v != PRT_STORE_PG_SCHEMA) {
        prt_error("job store on PostgreSQL: schema version %d, this engine "
                  "needs %d: run pattern-rt-engine migrate --store ...", v,
                  PRT_STORE_PG_SCHEMA);
        prt_store_pg_close(pg);
        return -1;
    }
    if (pthread_create(&pg->stats_thread, NULL, stats_main, pg) != 0) {
        prt_store_pg_close(pg);
        return -1;
    }
    pg->stats_started = 1;
    *out = pg;
    return 0;
}

void
prt_store_pg_close(prt_store_pg_t *pg)
{
    if (pg == NULL) {
        return;
    }
    if (pg->stats_started) {
        pthread_mutex_lock(&pg->mu);
        pg->stop = 1;
        pthread_cond_signal(&pg->stats_cond);
        pthread_mutex_unlock(&pg->mu);
        pthread_join(pg->stats_thread, NULL);
    }
    while (pg->nidle > 0) {
        PQfinish(pg->idle[--pg->nidle]);
    }
    pthread_cond_destroy(&pg->stats_cond);
    pthread_mutex_destroy(&pg->mu);
    free(pg->conninfo);
    free(pg->node);
    free(pg);
}

/* ---- read transactions -------------------------------------------------- */

int
prt_store_pg_read(prt_store_pg_t *pg, int (*fn)(void *ctx), void *ctx)
{
    PGconn  *c;
    int      rc;

    if (read_conn) {
        return fn(ctx);               /* already in one: the same snapshot */
    }
    c = pg_get(pg);
    if (c == NULL) {
        return -1;
    }
    if (pg_cmd(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
               "reading") != 0)
    {
        pg_put(pg, c);
        return -1;
    }
    read_conn = c;
    read_cursors = 0;
    rc = fn(ctx);
    read_conn = NULL;
    if (rc == 0 && pg_cmd(c, "COMMIT", "reading") != 0) {
        rc = -1;
    }
    if (rc != 0) {
        pg_rollback(c);
    }
    pg_put(pg, c);
    return rc;
}

/* A write of this engine begins: see writes_begun. */
static void
write_begin(prt_store_pg_t *pg)
{
    pthread_mutex_lock(&pg->mu);
    pg->writes_begun++;
    pthread_mutex_unlock(&pg->mu);
}

/* It ended, committed (ok) or not: its records, for the counts between
 * two refreshes. */
static void
count_writes(prt_store_pg_t *pg, int ok, int64_t jobs, int64_t preds,
    int64_t pending, int64_t fails)
{
    int64_t  d[4] = { jobs, preds, pending, fails };

    pthread_mutex_lock(&pg->mu);
    for (int i = 0; ok && i < 4; i++) {
        pg->since_last[i] += d[i];
    }
    pg->writes_ended++;
    pthread_mutex_unlock(&pg->mu);
}

/* ---- jobs --------------------------------------------------------------- */

int
prt_store_pg_job_create(prt_store_pg_t *pg, const prt_job_rec_t *job,
    const char (*symbols)[PRT_SYMBOL_SIZE], uint32_t n)
{
    PGconn      *c = pg_get(pg);
    PGresult    *r;
    char         status[8];
    const char  *vals[5] = { (const char *) job->id, status, pg->node,
                             (const char *) job, (const char *) symbols };
    int          lens[5] = { PRT_JOB_UUID_LEN, 0, 0, sizeof(*job),
                             (int) (n * PRT_SYMBOL_SIZE) };
    int          fmts[5] = { 1, 0, 0, 1, 1 };

    if (c == NULL) {
        return -1;
    }
    if (n == 0) {
        vals[4] = "";                  /* a NULL value would be SQL NULL */
    }
    snprintf(status, sizeof(status), "%u", job->status);
    write_begin(pg);
    r = pg_params(c, "WITH j AS (INSERT INTO prt_jobs (id, status, node, rec)"
                  " VALUES ($1, $2, $3, $4))"
                  " INSERT INTO prt_job_symbols VALUES ($1, $5)", 5, vals,
                  lens, fmts, 0, "creating a job");
    PQclear(r);
    pg_put(pg, c);
    count_writes(pg, r != NULL, 1, 0, 0, 0);
    return r ? 0 : -1;
}

static PGresult *
job_update(PGconn *c, const prt_job_rec_t *job)
{
    char         status[8];
    const char  *vals[3] = { (const char *) job->id, status,
                             (const char *) job };
    int          lens[3] = { PRT_JOB_UUID_LEN, 0, sizeof(*job) };
    int          fmts[3] = { 1, 0, 1 };

    snprintf(status, sizeof(status), "%u", job->status);
    /* a failed job stays failed: one that another node found lost keeps
     * that verdict, whatever its node still writes. (A cancelled job
     * still changes: the chunks in flight at the cancel commit their
     * counters, as on LMDB. The engine itself only fails a job that is
     * running, at its start.) */
    return pg_params(c, "UPDATE prt_jobs SET status = $2, rec = $3"
                     " WHERE id = $1 AND status <> 2", 3, vals, lens, fmts,
                     0, "updating a job");
}

static int64_t
wall_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The running jobs r selected (their records, locked for update) end
 * failed with reason at now_ms; returns how many, or -1. Clears r. */
static int
fail_jobs(PGconn *c, PGresult *r, const char *reason, int64_t now_ms)
{
    PGresult       *u;
    prt_job_rec_t   job;
    int             n = 0;

    for (int i = 0; i < PQntuples(r); i++) {
        if ((size_t) PQgetlength(r, i, 0) != sizeof(job)) {
            continue;
        }
        memcpy(&job, PQgetvalue(r, i, 0), sizeof(job));
        job.status = PRT_JOB_FAILED;
        job.completed_at_ms = now_ms;
        snprintf(job.reason, sizeof(job.reason), "%s", reason);
        u = job_update(c, &job);
        if (u == NULL) {
            PQclear(r);
            return -1;
        }
        PQclear(u);
        n++;
    }
    PQclear(r);
    return n;
}

/* The running jobs of nodes whose heartbeat stopped end failed, "node
 * lost", with what they committed; SKIP LOCKED: one node does each. */
static int
fail_lost(PGconn *c)
{
    PGresult  *r;

    r = pg_params(c, "SELECT j.rec FROM prt_jobs j JOIN prt_nodes n"
                  " ON n.node = j.node WHERE j.status = 0"
                  " AND n.seen < now() - interval '" NODE_LOST "'"
                  " FOR UPDATE OF j SKIP LOCKED", 0, NULL, NULL, NULL, 1,
                  "finding lost nodes' jobs");
    if (r == NULL) {
        return -1;
    }
    return fail_jobs(c, r, "node lost", wall_ms());
}

/*
 * Once a second: this node's heartbeat, then the jobs of nodes that have
 * none. A failure is logged and tried again at the next beat.
 */
static void
node_watch(prt_store_pg_t *pg, PGconn *c)
{
    const char  *vals[1] = { pg->node };
    PGresult    *r;
    int          n;

    r = pg_params(c, "INSERT INTO prt_nodes VALUES ($1, now())"
                  " ON CONFLICT (node) DO UPDATE SET seen = now()", 1, vals,
                  NULL, NULL, 0, "heartbeat");
    PQclear(r);
    if (r == NULL || pg_cmd(c, "BEGIN", "finding lost nodes") != 0) {
        return;
    }
    n = fail_lost(c);
    if (n < 0 || pg_cmd(c, "COMMIT", "failing lost nodes' jobs") != 0) {
        prt_warn("job store: %s", prt_kv_errmsg());
        pg_rollback(c);
        return;
    }
    if (n > 0) {
        prt_warn("%d running job(s) of nodes without a heartbeat for "
                 NODE_LOST " marked failed (\"node lost\"), their results "
                 "kept", n);
    }
}

int
prt_store_pg_job_put(prt_store_pg_t *pg, const prt_job_rec_t *job)
{
    PGconn    *c = pg_get(pg);
    PGresult  *r;

    if (c == NULL) {
        return -1;
    }
    r = job_update(c, job);
    PQclear(r);
    pg_put(pg, c);
    return r ? 0 : -1;
}

/* One bytea of a single-row binary result, of an expected size. */
static int
one_bytea(PGresult *r, void *out, size_t size, const char *what)
{
    if (PQntuples(r) == 0) {
        return 0;
    }
    if ((size_t) PQgetlength(r, 0, 0) != size) {
        return prt_kv_set_error(PRT_KV_ERROR, "PostgreSQL, %s: a record of "
                                "%d bytes", what, PQgetlength(r, 0, 0));
    }
    memcpy(out, PQgetvalue(r, 0, 0), size);
    return 1;
}

int
prt_store_pg_job_get(prt_store_pg_t *pg, const uint8_t id[PRT_JOB_UUID_LEN],
    prt_job_rec_t *out)
{
    PGconn      *c = pg_get(pg);
    PGresult    *r;
    const char  *vals[1] = { (const char *) id };
    int          lens[1] = { PRT_JOB_UUID_LEN }, fmts[1] = { 1 }, rc;

    if (c == NULL) {
        return -1;
    }
    r = pg_params(c, "SELECT rec FROM prt_jobs WHERE id = $1", 1, vals, lens,
                  fmts, 1, "reading a job");
    rc = r ? one_bytea(r, out, sizeof(*out), "reading a job") : -1;
    PQclear(r);
    pg_put(pg, c);
    return rc;
}

int
prt_store_pg_job_symbols(prt_store_pg_t *pg,
    const uint8_t id[PRT_JOB_UUID_LEN], char (**out)[PRT_SYMBOL_SIZE],
    uint32_t *n)
{
    PGconn      *c = pg_get(pg);
    PGresult    *r;
    const char  *vals[1] = { (const char *) id };
    int          lens[1] = { PRT_JOB_UUID_LEN }, fmts[1] = { 1 }, rc = -1;
    size_t       size;

    if (c == NULL) {
        return -1;
    }
    r = pg_params(c, "SELECT symbols FROM prt_job_symbols WHERE job = $1", 1,
                  vals, lens, fmts, 1, "reading job symbols");
    if (r && PQntuples(r) == 1
        && PQgetlength(r, 0, 0) % PRT_SYMBOL_SIZE == 0)
    {
        size = (size_t) PQgetlength(r, 0, 0);
        *out = malloc(size ? size : 1);
        if (*out) {
            memcpy(*out, PQgetvalue(r, 0, 0), size);
            *n = (uint32_t) (size / PRT_SYMBOL_SIZE);
            rc = 0;
        }
    } else if (r) {
        prt_kv_set_error(PRT_KV_ERROR, "PostgreSQL: no symbols for the job");
    }
    PQclear(r);
    pg_put(pg, c);
    return rc;
}

/* ---- walks -------------------------------------------------------------- */

typedef int (*row_fn)(const char *rec, int len, void *ctx);

/*
 * Runs `sql` (one bytea column) as a cursor in a read-only transaction and
 * calls fn for each row, FETCH_ROWS at a time: a walk over a million
 * predictions holds one batch in memory, and fn returning nonzero stops it
 * early (1: done, < 0: the error returned).
 */
static int
walk(prt_store_pg_t *pg, const char *sql, int n, const char *const *vals,
    const int *lens, const int *fmts, row_fn fn, void *ctx)
{
    PGconn    *c = pg_get(pg);
    PGresult  *r;
    char      *decl, cursor[32], fetch[64], closing[48];
    int        rc = 0, stop = 0, rows, own = read_conn == NULL;

    if (c == NULL) {
        return -1;
    }
    /* a walk inside another's callback gets a cursor of its own */
    snprintf(cursor, sizeof(cursor), "prt_walk%u", read_cursors++);
    snprintf(fetch, sizeof(fetch), "FETCH " FETCH_ROWS " FROM %s", cursor);
    snprintf(closing, sizeof(closing), "CLOSE %s", cursor);
    if (asprintf(&decl, "DECLARE %s NO SCROLL CURSOR FOR %s", cursor, sql)
        == -1)
    {
        read_cursors--;
        pg_put(pg, c);
        return prt_kv_set_error(PRT_KV_ERROR, "out of memory");
    }
    if (own) {
        rc = pg_cmd(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                    "reading");
    }
    if (rc == 0) {
        r = pg_params(c, decl, n, vals, lens, fmts, 0, "reading");
        rc = r ? 0 : -1;
        PQclear(r);
    }
    while (rc == 0 && !stop) {
        r = pg_params(c, fetch, 0, NULL, NULL, NULL, 1, "reading");
        if (r == NULL) {
            rc = -1;
            break;
        }
        rows = PQntuples(r);
        for (int i = 0; i < rows && !stop; i++) {
            stop = fn(PQgetvalue(r, i, 0), PQgetlength(r, i, 0), ctx);
        }
        PQclear(r);
        if (rows == 0) {
            break;
        }
    }
    free(decl);
    read_cursors--;
    if (rc == 0) {
        rc = pg_cmd(c, own ? "COMMIT" : closing, "reading");
    } else if (own) {
        pg_rollback(c);
    }
    pg_put(pg, c);
    return rc != 0 ? -1 : stop < 0 ? stop : 0;
}

typedef struct {
    prt_pred_fn  fn;
    void        *ctx;
} pred_walk_t;

_Static_assert(PRT_PRED_REC_V1 == 240, "the first record format is kept");

static int
pred_row(const char *rec, int len, void *arg)
{
    pred_walk_t     *w = arg;
    prt_pred_rec_t   p;

    if ((size_t) len != sizeof(p) && (size_t) len != PRT_PRED_REC_V1) {
        return prt_kv_set_error(PRT_KV_ERROR, "PostgreSQL: a prediction "
                                "record of %d bytes", len);
    }
    memcpy(&p, rec, (size_t) len);
    if ((size_t) len == PRT_PRED_REC_V1) {
        p.n_eff = p.prob_up_ci_lo = p.prob_up_ci_hi = NAN;
        p.prob_up_cal = p.edge_cal = NAN;
        p.calibration_n = 0;
        p.calibration_seq = 0;
    }
    return w->fn(&p, w->ctx);
}

static int
walk_preds(prt_store_pg_t *pg, const char *sql, int n,
    const char *const *vals, const int *lens, const int *fmts,
    prt_pred_fn fn, void *ctx)
{
    pred_walk_t  w = { fn, ctx };

    return walk(pg, sql, n, vals, lens, fmts, pred_row, &w);
}

int
prt_store_pg_job_predictions(prt_store_pg_t *pg,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_pred_fn fn, void *ctx)
{
    const char  *vals[1] = { (const char *) id };
    int          lens[1] = { PRT_JOB_UUID_LEN }, fmts[1] = { 1 };

    return walk_preds(pg, "SELECT rec FROM prt_predictions WHERE job = $1"
                      " ORDER BY job, id", 1, vals, lens, fmts, fn, ctx);
}

int
prt_store_pg_history(prt_store_pg_t *pg, const char *symbol, prt_pred_fn fn,
    void *ctx)
{
    char         sym[PRT_SYMBOL_SIZE];
    const char  *vals[1] = { sym };

    if (symbol == NULL || symbol[0] == '\0') {
        return walk_preds(pg, "SELECT rec FROM prt_predictions"
                          " ORDER BY scan_time_ms DESC, id DESC", 0, NULL,
                          NULL, NULL, fn, ctx);
    }
    snprintf(sym, sizeof(sym), "%s", symbol);
    return walk_preds(pg, "SELECT rec FROM prt_predictions WHERE symbol = $1"
                      " ORDER BY symbol DESC, scan_time_ms DESC, id DESC", 1,
                      vals, NULL, NULL, fn, ctx);
}

int
prt_store_pg_scanned_between(prt_store_pg_t *pg, int64_t from_ms,
    int64_t to_ms, prt_pred_fn fn, void *ctx)
{
    char         from[24], to[24];
    const char  *vals[2] = { from, to };

    snprintf(from, sizeof(from), "%" PRId64, from_ms);
    snprintf(to, sizeof(to), "%" PRId64, to_ms);
    return walk_preds(pg, "SELECT rec FROM prt_predictions"
                      " WHERE scan_time_ms >= $1 AND scan_time_ms < $2"
                      " ORDER BY scan_time_ms, id", 2, vals, NULL, NULL, fn,
                      ctx);
}

int
prt_store_pg_each_prediction(prt_store_pg_t *pg, prt_pred_fn fn, void *ctx)
{
    return walk_preds(pg, "SELECT rec FROM prt_predictions ORDER BY id", 0,
                      NULL, NULL, NULL, fn, ctx);
}

int
prt_store_pg_pending_due(prt_store_pg_t *pg, int64_t due_ms, prt_pred_fn fn,
    void *ctx)
{
    char         due[24];
    const char  *vals[1] = { due };

    snprintf(due, sizeof(due), "%" PRId64, due_ms);
    return walk_preds(pg, "SELECT rec FROM prt_predictions"
                      " WHERE pending AND due_ms <= $1 ORDER BY due_ms, id",
                      1, vals, NULL, NULL, fn, ctx);
}

int
prt_store_pg_pending_own(prt_store_pg_t *pg, prt_pred_fn fn, void *ctx)
{
    const char  *vals[1] = { pg->node };

    return walk_preds(pg, "SELECT p.rec FROM prt_predictions p"
                      " JOIN prt_jobs j ON j.id = p.job"
                      " WHERE p.pending AND j.node = $1"
                      " ORDER BY p.due_ms, p.id", 1, vals, NULL, NULL, fn,
                      ctx);
}

typedef struct {
    prt_fail_fn  fn;
    void        *ctx;
} fail_walk_t;

static int
fail_row(const char *rec, int len, void *arg)
{
    fail_walk_t     *w = arg;
    prt_fail_rec_t   f;

    if ((size_t) len != sizeof(f)) {
        return prt_kv_set_error(PRT_KV_ERROR, "PostgreSQL: a failure "
                                "record of %d bytes", len);
    }
    memcpy(&f, rec, sizeof(f));
    return w->fn(&f, w->ctx) != 0;
}

int
prt_store_pg_job_failures(prt_store_pg_t *pg,
    const uint8_t id[PRT_JOB_UUID_LEN], prt_fail_fn fn, void *ctx)
{
    const char   *vals[1] = { (const char *) id };
    int           lens[1] = { PRT_JOB_UUID_LEN }, fmts[1] = { 1 };
    fail_walk_t   w = { fn, ctx };

    return walk(pg, "SELECT rec FROM prt_failures WHERE job = $1"
                " ORDER BY job, number", 1, vals, lens, fmts, fail_row, &w);
}

/* ---- writes ------------------------------------------------------------- */

/* COPY's text format: bytea as \\x and hex (the backslash escaped). */
typedef struct {
    char    *p;
    size_t   len, cap;
} buf_t;

static int
buf_room(buf_t *b, size_t n)
{
    char    *p;
    size_t   cap;

    if (b->len + n <= b->cap) {
        return 0;
    }
    cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + n) {
        cap *= 2;
    }
    p = realloc(b->p, cap);
    if (p == NULL) {
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int
buf_printf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    if (buf_room(b, 64) != 0) {
        return -1;
    }
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= b->cap - b->len) {
        return -1;                    /* only short fields are printed */
    }
    b->len += (size_t) n;
    return 0;
}

static int
buf_bytea(buf_t *b, const void *data, size_t n)
{
    static const char   hex[] = "0123456789abcdef";
    const uint8_t      *d = data;
    char               *o;

    if (buf_room(b, 3 + 2 * n) != 0) {
        return -1;
    }
    o = b->p + b->len;
    *o++ = '\\';
    *o++ = '\\';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[d[i] >> 4];
        *o++ = hex[d[i] & 15];
    }
    b->len = (size_t) (o - b->p);
    return 0;
}

/* A symbol as COPY text: the characters COPY gives a meaning escaped. */
static int
buf_text(buf_t *b, const char *s, size_t max)
{
    if (buf_room(b, 2 * max) != 0) {
        return -1;
    }
    for (size_t i = 0; i < max && s[i]; i++) {
        unsigned char  ch = (unsigned char) s[i];

        if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
            b->p[b->len++] = '\\';
            ch = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch;
        }
        b->p[b->len++] = (char) ch;
    }
    return 0;
}

static int
copy_in(PGconn *c, const char *sql, const buf_t *b, const char *what)
{
    PGresult  *r = PQexec(c, sql);
    int        ok;

    ok = r && PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    if (!ok) {
        return pg_error(c, what);
    }
    ok = PQputCopyData(c, b->p, (int) b->len) == 1
         && PQputCopyEnd(c, NULL) == 1;
    r = PQgetResult(c);
    ok = ok && r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL) {
        PQclear(r);
    }
    return ok ? 0 : pg_error(c, what);
}

static int
copy_predictions(PGconn *c, const prt_pred_rec_t *preds, size_t n)
{
    buf_t  b = { NULL, 0, 0 };
    int    rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        const prt_pred_rec_t  *p = &preds[i];

        rc = buf_printf(&b, "%" PRIu64 "\t", p->id);
        rc = rc ? rc : buf_bytea(&b, p->job, PRT_JOB_UUID_LEN);
        rc = rc ? rc : buf_printf(&b, "\t");
        rc = rc ? rc : buf_text(&b, p->symbol, PRT_SYMBOL_SIZE);
        rc = rc ? rc : buf_printf(&b, "\t%" PRId64 "\t%" PRId64 "\t%s\t",
                                  p->scan_time_ms, p->due_ms,
                                  p->status == PRT_PRED_PENDING ? "t" : "f");
        rc = rc ? rc : buf_bytea(&b, p, sizeof(*p));
        rc = rc ? rc : buf_printf(&b, "\n");
    }
    if (rc != 0) {
        rc = prt_kv_set_error(PRT_KV_ERROR, "out of memory");
    } else if (n) {
        rc = copy_in(c, "COPY prt_predictions (id, job, symbol, scan_time_ms,"
                     " due_ms, pending, rec) FROM STDIN", &b,
                     "storing predictions");
    }
    free(b.p);
    return rc;
}

static int
copy_failures(PGconn *c, const prt_fail_rec_t *fails, size_t n,
    uint32_t first)
{
    buf_t  b = { NULL, 0, 0 };
    int    rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = buf_bytea(&b, fails[i].job, PRT_JOB_UUID_LEN);
        rc = rc ? rc : buf_printf(&b, "\t%u\t", first + (uint32_t) i);
        rc = rc ? rc : buf_bytea(&b, &fails[i], sizeof(fails[i]));
        rc = rc ? rc : buf_printf(&b, "\n");
    }
    if (rc != 0) {
        rc = prt_kv_set_error(PRT_KV_ERROR, "out of memory");
    } else if (n) {
        rc = copy_in(c, "COPY prt_failures (job, number, rec) FROM STDIN",
                     &b, "storing failures");
    }
    free(b.p);
    return rc;
}

/* Reserves n prediction ids: the row lock orders the nodes' commits. */
static int
reserve_ids(PGconn *c, size_t n, uint64_t *first)
{
    char         count[24];
    const char  *vals[1] = { count };
    PGresult    *r;

    snprintf(count, sizeof(count), "%zu", n);
    r = pg_params(c, "UPDATE prt_meta SET next_prediction ="
                  " next_prediction + $1::bigint"
                  " RETURNING next_prediction - $1::bigint", 1, vals, NULL,
                  NULL, 0, "numbering predictions");
    if (r == NULL) {
        return -1;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return prt_kv_set_error(PRT_KV_ERROR, "PostgreSQL: prt_meta has "
                                "no row (run migrate)");
    }
    *first = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

static int
chunk_txn(PGconn *c, const prt_job_rec_t *job, prt_pred_rec_t *preds,
    size_t npreds, const prt_fail_rec_t *fails, size_t nfails)
{
    PGresult  *r;
    uint64_t   id = 0;

    if (npreds) {
        if (reserve_ids(c, npreds, &id) != 0) {
            return -1;
        }
        for (size_t i = 0; i < npreds; i++) {
            preds[i].id = id + i;
        }
    }
    if (copy_predictions(c, preds, npreds) != 0
        || copy_failures(c, fails, nfails,
                         job->failed - (uint32_t) nfails) != 0)
    {
        return -1;
    }
    r = job_update(c, job);
    PQclear(r);
    return r ? 0 : -1;
}

int
prt_store_pg_commit_chunk(prt_store_pg_t *pg, const prt_job_rec_t *job,
    prt_pred_rec_t *preds, size_t npreds, const prt_fail_rec_t *fails,
    size_t nfails)
{
    PGconn  *c = pg_get(pg);
    int      rc;

    if (c == NULL) {
        return -1;
    }
    write_begin(pg);
    rc = pg_cmd(c, "BEGIN", "committing a scan chunk");
    if (rc == 0) {
        rc = chunk_txn(c, job, preds, npreds, fails, nfails);
    }
    if (rc == 0) {
        rc = pg_cmd(c, "COMMIT", "committing a scan chunk");
    } else {
        pg_rollback(c);
    }
    pg_put(pg, c);
    count_writes(pg, rc == 0, 0, (int64_t) npreds, (int64_t) npreds,
                 (int64_t) nfails);
    return rc;
}

/*
 * The verified records go in through COPY into a temporary table and one
 * UPDATE: 100,000 single-row updates would be 100,000 round trips.
 */
static int
verify_txn(PGconn *c, const prt_pred_rec_t *preds, size_t n,
    uint64_t *stored)
{
    buf_t      b = { NULL, 0, 0 };
    PGresult  *r;
    int        rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = buf_printf(&b, "%" PRIu64 "\t", preds[i].id);
        rc = rc ? rc : buf_bytea(&b, &preds[i], sizeof(preds[i]));
        rc = rc ? rc : buf_printf(&b, "\n");
    }
    if (rc != 0) {
        free(b.p);
        return prt_kv_set_error(PRT_KV_ERROR, "out of memory");
    }
    rc = pg_cmd(c, "CREATE TEMP TABLE IF NOT EXISTS prt_verified"
                " (id bigint PRIMARY KEY, rec bytea NOT NULL)"
                " ON COMMIT DELETE ROWS", "storing verifications");
    if (rc == 0) {
        rc = copy_in(c, "COPY prt_verified (id, rec) FROM STDIN", &b,
                     "storing verifications");
    }
    free(b.p);
    if (rc == 0) {
        /* its row count, so the join below is planned as one */
        rc = pg_cmd(c, "ANALYZE prt_verified", "storing verifications");
    }
    if (rc == 0) {
        /* only rows still pending: when two nodes verify the same
         * prediction, the second waits for the first's row lock, then
         * finds it verified and leaves the first one's record */
        r = pg_params(c, "UPDATE prt_predictions p SET rec = v.rec,"
                      " pending = false FROM prt_verified v"
                      " WHERE p.id = v.id AND p.pending",
                      0, NULL, NULL, NULL, 0, "storing verifications");
        rc = r ? 0 : -1;
        *stored = r ? strtoull(PQcmdTuples(r), NULL, 10) : 0;
        PQclear(r);
    }
    return rc;
}

/* What one verification transaction stores: preds[0..*n), claimed first
 * when claim (then *n becomes how many were), told to fn once claimed. */
typedef struct {
    prt_pred_rec_t  *preds;
    size_t          *n;
    int              claim;
    prt_claimed_fn   fn;
    void            *ctx;
} verify_t;

static int claim_txn(PGconn *c, prt_pred_rec_t *preds, size_t *n);

/* The transaction around it: BEGIN, (claim,) store, COMMIT or ROLLBACK,
 * and the pending count this node's writes moved. */
static int
store_verified(prt_store_pg_t *pg, const verify_t *v)
{
    PGconn    *c;
    uint64_t   stored = 0;
    int        rc;

    if (*v->n == 0) {
        return 0;
    }
    c = pg_get(pg);
    if (c == NULL) {
        return -1;
    }
    write_begin(pg);
    rc = pg_cmd(c, "BEGIN", "storing verifications");
    if (rc == 0 && v->claim) {
        rc = claim_txn(c, v->preds, v->n);
    }
    if (rc == 0 && *v->n) {
        if (v->fn) {
            v->fn(v->preds, *v->n, v->ctx);
        }
        rc = verify_txn(c, v->preds, *v->n, &stored);
    }
    if (rc == 0) {
        rc = pg_cmd(c, "COMMIT", "storing verifications");
    } else {
        pg_rollback(c);
    }
    pg_put(pg, c);
    count_writes(pg, rc == 0, 0, 0, -(int64_t) stored, 0);
    return rc;
}

int
prt_store_pg_verify(prt_store_pg_t *pg, const prt_pred_rec_t *preds,
    size_t n)
{
    /* not claimed: preds is only read */
    verify_t  v = { (prt_pred_rec_t *) preds, &n, 0, NULL, NULL };

    return store_verified(pg, &v);
}

static int
by_u64(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}

/*
 * Locks the rows of preds still pending that no other node holds (SKIP
 * LOCKED: a node verifying them now stores them, or on its rollback they
 * stay pending for a later pass), and moves those to preds[0..*n) in
 * their order. The locks last to the COMMIT, so the UPDATE after finds
 * every claimed row still pending: each prediction is stored, and so
 * told and calibrated on, by one node.
 */
static int
claim_txn(PGconn *c, prt_pred_rec_t *preds, size_t *n)
{
    buf_t       b = { NULL, 0, 0 };
    PGresult   *r;
    uint64_t   *ids;
    size_t      k = 0, nids;
    const char *vals[1];
    int         rc = buf_printf(&b, "{");

    for (size_t i = 0; rc == 0 && i < *n; i++) {
        rc = buf_printf(&b, "%s%" PRIu64, i ? "," : "", preds[i].id);
    }
    rc = rc ? rc : buf_printf(&b, "}");
    if (rc != 0) {
        free(b.p);
        return prt_kv_set_error(PRT_KV_ERROR, "out of memory");
    }
    vals[0] = b.p;
    r = pg_params(c, "SELECT id FROM prt_predictions"
                  " WHERE id = ANY($1::bigint[]) AND pending"
                  " FOR UPDATE SKIP LOCKED", 1, vals, NULL, NULL, 0,
                  "claiming verifications");
    free(b.p);
    if (r == NULL) {
        return -1;
    }
    nids = (size_t) PQntuples(r);
    ids = malloc((nids ? nids : 1) * sizeof(*ids));
    if (ids == NULL) {
        PQclear(r);
        return prt_kv_set_error(PRT_KV_ERROR, "out of memory");
    }
    for (size_t i = 0; i < nids; i++) {
        ids[i] = strtoull(PQgetvalue(r, (int) i, 0), NULL, 10);
    }
    PQclear(r);
    qsort(ids, nids, sizeof(*ids), by_u64);
    for (size_t i = 0; i < *n; i++) {
        if (bsearch(&preds[i].id, ids, nids, sizeof(*ids), by_u64)) {
            preds[k++] = preds[i];
        }
    }
    free(ids);
    *n = k;
    return 0;
}

int
prt_store_pg_verify_claimed(prt_store_pg_t *pg, prt_pred_rec_t *preds,
    size_t *n, prt_claimed_fn fn, void *ctx)
{
    verify_t  v = { preds, n, 1, fn, ctx };
    int       rc = store_verified(pg, &v);

    if (rc != 0) {
        *n = 0;                         /* nothing stored */
    }
    return rc;
}

/* Only this node's jobs: the other nodes' are theirs to run. */
static int
fail_running_txn(prt_store_pg_t *pg, PGconn *c, const char *reason,
    int64_t now_ms)
{
    const char  *vals[1] = { pg->node };
    PGresult    *r;

    r = pg_params(c, "SELECT rec FROM prt_jobs WHERE status = 0"
                  " AND node = $1 FOR UPDATE", 1, vals, NULL, NULL, 1,
                  "failing running jobs");
    if (r == NULL) {
        return -1;
    }
    return fail_jobs(c, r, reason, now_ms);
}

int
prt_store_pg_fail_running(prt_store_pg_t *pg, const char *reason,
    int64_t now_ms)
{
    PGconn  *c = pg_get(pg);
    int      n;

    if (c == NULL) {
        return -1;
    }
    n = pg_cmd(c, "BEGIN", "failing running jobs");
    if (n == 0) {
        n = fail_running_txn(pg, c, reason, now_ms);
    }
    if (n >= 0 && pg_cmd(c, "COMMIT", "failing running jobs") != 0) {
        n = -1;
    }
    if (n < 0) {
        pg_rollback(c);
    }
    pg_put(pg, c);
    return n;
}

int
prt_store_pg_stats_now(prt_store_pg_t *pg, prt_store_stats_t *st)
{
    PGconn  *c = pg_get(pg);
    int      rc;

    if (c == NULL) {
        return -1;
    }
    rc = stats_query(c, st);
    pg_put(pg, c);
    return rc;
}

int
prt_store_pg_stats(prt_store_pg_t *pg, prt_store_stats_t *st)
{
    int  ok;

    pthread_mutex_lock(&pg->mu);
    ok = pg->have_stats;
    if (ok) {
        *st = pg->stats;
        st->jobs += (uint64_t) pg->since_last[0];
        st->predictions += (uint64_t) pg->since_last[1];
        st->pending += (uint64_t) pg->since_last[2];
        st->failures += (uint64_t) pg->since_last[3];
    }
    pthread_mutex_unlock(&pg->mu);
    return ok ? 0 : -1;
}
