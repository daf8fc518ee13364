#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/workq.h"
#include "events/events.h"
#include "forecast/forecast.h"
#include "jobs/jobs.h"
#include "jobs/render.h"
#include "jobs/results.h"
#include "jobs/scan.h"
#include "pattern_rt_errors.h"

typedef struct prt_job_s     prt_job_t;
typedef struct store_op_s    store_op_t;
typedef struct chunk_task_s  chunk_task_t;

/*
 * The job store is network (PostgreSQL) or disk (LMDB with fsync) work, so
 * it runs on a worker thread, never on the loop. Every write of the job
 * code is one store_op_t, queued on the jobs' store queue and run one at a
 * time, in the order queued: the order of the writes is the order the loop
 * decided them, as when the loop wrote them itself. An op's record is
 * computed on the loop when the op is handed to the worker (the previous
 * op has landed), and what it reports (events, answers) is sent from its
 * `done` on the loop, after the commit.
 */
typedef enum {
    OP_CREATE,          /* a new job's row and symbols (POST /run) */
    OP_CHUNK,           /* a chunk's predictions, failures and counters */
    OP_CANCEL,          /* the cancelled row (POST /job/{id}/cancel) */
    OP_FINISH           /* the completed row, then job_complete's read */
} op_kind_t;

struct store_op_s {
    prt_task_t          task;
    op_kind_t           kind;
    prt_jobs_t         *jobs;
    prt_job_t          *job;
    prt_job_rec_t       rec;          /* the row written */
    int                 put;          /* OP_CANCEL, OP_FINISH: write rec */
    int                 admitted;     /* counted in jobs->admitted */
    chunk_task_t       *chunk;        /* OP_CHUNK */
    prt_pred_list_t     list;         /* OP_FINISH: the job's results */
    prt_jobs_reply_fn   reply;        /* OP_CREATE, OP_CANCEL */
    void               *ctx;
    int                 rc;
    store_op_t         *next;
};

struct prt_job_s {
    prt_job_rec_t   rec;
    prt_calib_map_t calib;            /* fitted on what was verified by
                                         the scan time: one map per job */
    char          (*symbols)[PRT_SYMBOL_SIZE];
    uint32_t        next;             /* next symbol to hand out */
    unsigned        inflight;         /* chunks scanning or committing */
    int             cancelled;
    int             finishing;        /* its OP_FINISH is queued */
    store_op_t      op;               /* OP_CREATE, then OP_FINISH */
    prt_job_t      *next_job;
};

struct chunk_task_s {
    prt_task_t         task;
    prt_jobs_t        *jobs;
    prt_job_t         *job;
    prt_job_rec_t      params;        /* the job as it was handed out */
    prt_scan_chunk_t   scan;
    int                rc;
    store_op_t         op;            /* its commit */
};

struct prt_jobs_s {
    prt_jobs_conf_t conf;
    prt_store_t    *store;
    prt_job_t      *running;          /* jobs with symbols or chunks left */
    prt_job_t      *cursor;           /* round-robin position */
    unsigned        inflight;
    unsigned        max_inflight;
    store_op_t     *ops;              /* the store queue, oldest first */
    store_op_t    **ops_tail;
    store_op_t     *op_running;       /* on a worker thread, or NULL */
    unsigned        admitted;         /* OP_CREATE and OP_CANCEL queued */
    unsigned        store_queue;      /* the most admitted at once */
    size_t          chunk;
    uint64_t        jobs_started;
    uint64_t        symbols_scanned;
    uint64_t        chunks;
    uint64_t        search_us;
    uint64_t        scan_us;
};

static void schedule(prt_jobs_t *jobs);
static void op_queue(prt_jobs_t *jobs, store_op_t *op);


/* ---- events ------------------------------------------------------------- */

/* {"type":...,"job_id":...,"seq":...,"timestamp":...  (left open) */
static uint64_t
event_open(prt_jobs_t *jobs, prt_json_t *j, const char *type,
    const prt_job_rec_t *job)
{
    char      id[PRT_JOB_ID_SIZE];
    uint64_t  seq = prt_events_next_seq(jobs->conf.events);

    prt_job_id_format(job->id, id);
    prt_json_open(j);
    prt_json_kstr(j, "type", type);
    prt_json_kstr(j, "job_id", id);
    prt_json_kuint(j, "seq", seq);
    prt_json_ktime(j, "timestamp", (int64_t) prt_wall_ms());
    return seq;
}

static void
publish_progress(prt_jobs_t *jobs, const prt_job_rec_t *job)
{
    prt_json_t  j;
    uint64_t    seq;

    if (prt_json_init(&j) != 0) {
        return;
    }
    seq = event_open(jobs, &j, "progress", job);
    prt_json_kuint(&j, "completed", job->completed);
    prt_json_kuint(&j, "failed", job->failed);
    prt_json_kuint(&j, "total", job->total);
    prt_json_kstr(&j, "status", prt_job_status_name(job->status));
    prt_json_close(&j);
    prt_events_publish(jobs->conf.events, PRT_STREAM_JOB,
                       PRT_EVENT_PROGRESS, 1, job->id, seq, &j);
    prt_json_free(&j);
}

static void
publish_results(prt_jobs_t *jobs, const prt_job_rec_t *job,
    const prt_pred_rec_t *preds, size_t n)
{
    prt_event_result_t  r;
    prt_json_t          j;
    uint64_t            seq;

    if (prt_json_init(&j) != 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (preds[i].edge < job->min_edge) {
            continue;
        }
        prt_json_reset(&j);
        seq = event_open(jobs, &j, "result", job);
        prt_json_key(&j, "data");
        prt_render_result(&j, &preds[i]);
        prt_json_close(&j);
        r.symbol = preds[i].symbol;
        r.down = preds[i].direction == PRT_DIRECTION_DOWN;
        r.edge = preds[i].edge;
        prt_events_publish_result(jobs->conf.events, &r, job->id, seq, &j);
    }
    prt_json_free(&j);
}

/* job_complete carries the whole ranked list: the front end replaces its
 * table with it (counts alone would wipe the table). */
static void
publish_complete(prt_jobs_t *jobs, const prt_job_rec_t *job,
    prt_pred_list_t *list)
{
    prt_json_t       j;
    uint64_t         seq;

    if (prt_json_init(&j) != 0) {
        return;
    }
    seq = event_open(jobs, &j, "job_complete", job);
    prt_json_kstr(&j, "status", prt_job_status_name(job->status));
    prt_json_key(&j, "results");
    prt_results_json(&j, list, job->min_edge);
    prt_json_kuint(&j, "total_results", prt_results_count(list,
                                                          job->min_edge));
    prt_json_kuint(&j, "total_failures", job->failed);
    prt_json_knum(&j, "duration_seconds",
                  (double) (job->completed_at_ms - job->started_at_ms)
                  / 1000.0);
    prt_json_close(&j);
    prt_events_publish(jobs->conf.events, PRT_STREAM_JOB,
                       PRT_EVENT_JOB_COMPLETE, 0, job->id, seq, &j);
    prt_json_free(&j);
}


/* ---- the running list --------------------------------------------------- */

static void
job_unlink(prt_jobs_t *jobs, prt_job_t *job)
{
    prt_job_t  **p;

    for (p = &jobs->running; *p; p = &(*p)->next_job) {
        if (*p == job) {
            *p = job->next_job;
            break;
        }
    }
    if (jobs->cursor == job) {
        jobs->cursor = job->next_job;
    }
}

static void
job_free(prt_job_t *job)
{
    free(job->symbols);
    free(job);
}

static prt_job_t *
job_find(prt_jobs_t *jobs, const uint8_t id[PRT_JOB_UUID_LEN])
{
    for (prt_job_t *job = jobs->running; job; job = job->next_job) {
        if (memcmp(job->rec.id, id, PRT_JOB_UUID_LEN) == 0) {
            return job;
        }
    }
    return NULL;
}

/* what /metrics counts of a finished job: its status and its wall time */
static void
job_observe(const prt_job_rec_t *rec)
{
    if (rec->status == PRT_JOB_CANCELLED) {
        prt_metrics.jobs_cancelled++;
    } else {
        prt_metrics.jobs_completed++;
    }
    prt_hist_observe(&prt_metrics.job_scan,
                     (double) ((int64_t) prt_wall_ms() - rec->started_at_ms)
                     / 1e3);
}

/* The last chunk is in (or the job was cancelled with none in flight):
 * its completed row is written (a cancelled one was), then job_complete's
 * results are read, on the store queue after every commit of the job. */
static void
job_finish(prt_jobs_t *jobs, prt_job_t *job)
{
    if (job->finishing) {
        return;
    }
    job->finishing = 1;
    memset(&job->op, 0, sizeof(job->op));
    job->op.kind = OP_FINISH;
    job->op.job = job;
    op_queue(jobs, &job->op);
}

static void
finish_done(prt_jobs_t *jobs, store_op_t *op)
{
    prt_job_t  *job = op->job;
    char        id[PRT_JOB_ID_SIZE];

    if (op->put) {
        job->rec = op->rec;
    }
    job_observe(&job->rec);
    prt_job_id_format(job->rec.id, id);
    prt_info("job %s %s: %u of %u symbols predicted, %u failed", id,
             prt_job_status_name(job->rec.status), job->rec.completed,
             job->rec.total, job->rec.failed);
    publish_progress(jobs, &job->rec);
    publish_complete(jobs, &job->rec, &op->list);
    prt_pred_list_free(&op->list);
    job_unlink(jobs, job);
    job_free(job);
}


/* ---- chunks ------------------------------------------------------------- */

static void
chunk_run(prt_task_t *task)
{
    chunk_task_t  *t = (chunk_task_t *) task;

    t->rc = prt_scan_chunk_run(&t->scan);
}

/* A chunk that could not run at all: its symbols fail, the job goes on. */
static void
chunk_all_failed(chunk_task_t *t)
{
    /* the records say only "internal error" (they reach clients) */
    prt_error("a scan chunk of %zu symbols could not run (out of memory)",
              t->scan.n);
    prt_scan_chunk_free(&t->scan);
    t->scan.preds = calloc(1, sizeof(prt_pred_rec_t));
    t->scan.fails = calloc(t->scan.n, sizeof(prt_fail_rec_t));
    t->scan.npreds = 0;
    t->scan.nfails = 0;
    for (size_t i = 0; t->scan.fails && i < t->scan.n; i++) {
        prt_fail_rec_t  *f = &t->scan.fails[t->scan.nfails++];

        memcpy(f->job, t->params.id, PRT_JOB_UUID_LEN);
        memcpy(f->symbol, t->scan.symbols[i], PRT_SYMBOL_SIZE);
        f->scan_time_ms = t->params.scan_time_ms;
        f->code = PRT_E_INTERNAL;
        f->bars_since_open = -1;
        f->bars_until_close = -1;
        snprintf(f->reason, sizeof(f->reason), "%s", PRT_INTERNAL_MESSAGE);
    }
}

/* The scan is done: its commit goes on the store queue; the chunk stays
 * in flight (jobs->inflight bounds the queue) until it has landed. */
static void
chunk_done(prt_task_t *task)
{
    chunk_task_t   *t = (chunk_task_t *) task;

    if (t->rc != 0) {
        chunk_all_failed(t);
    }
    memset(&t->op, 0, sizeof(t->op));
    t->op.kind = OP_CHUNK;
    t->op.job = t->job;
    t->op.chunk = t;
    op_queue(t->jobs, &t->op);
}

/* committed before anything about it is sent (SPEC 7) */
static void
chunk_committed(prt_jobs_t *jobs, store_op_t *op)
{
    chunk_task_t   *t = op->chunk;
    prt_job_t      *job = t->job;

    if (op->rc == 0) {         /* a failure was logged by op_run */
        /* the counters only: a cancel may have come since the op left */
        job->rec.completed = op->rec.completed;
        job->rec.failed = op->rec.failed;
        prt_metrics.predictions += t->scan.npreds;
        prt_metrics.symbol_failures += t->scan.nfails;
        jobs->conf.committed(jobs->conf.ctx, t->scan.preds, t->scan.npreds);
        publish_results(jobs, &job->rec, t->scan.preds, t->scan.npreds);
        publish_progress(jobs, &job->rec);
    }

    jobs->chunks++;
    jobs->symbols_scanned += t->scan.n;
    jobs->search_us += t->scan.search_us;
    jobs->scan_us += t->scan.total_us;
    prt_hist_observe(&prt_metrics.chunk_search,
                     (double) t->scan.search_us / 1e6);

    job->inflight--;
    jobs->inflight--;
    prt_scan_chunk_free(&t->scan);
    prt_index_unref(t->scan.ix);
    free(t);

    if (job->inflight == 0 && (job->cancelled || job->next == job->rec.total)) {
        job_finish(jobs, job);
    }
}


/* ---- the store queue ------------------------------------------------------ */

/* on a worker thread: only op's own fields and the store */
static void
op_run(prt_task_t *task)
{
    store_op_t     *op = (store_op_t *) task;
    prt_store_t    *s = op->jobs->store;
    chunk_task_t   *t = op->chunk;

    switch (op->kind) {
    case OP_CREATE:
        op->rc = prt_store_job_create(s, &op->rec,
                     (const char (*)[PRT_SYMBOL_SIZE]) op->job->symbols,
                     op->rec.total);
        if (op->rc != 0) {
            prt_error("creating a job: %s", prt_kv_errmsg());
        }
        break;
    case OP_CHUNK:
        op->rc = prt_store_commit_chunk(s, &op->rec, t->scan.preds,
                                        t->scan.npreds, t->scan.fails,
                                        t->scan.nfails);
        if (op->rc != 0) {
            prt_error("committing a chunk of %zu symbols: %s", t->scan.n,
                      prt_kv_errmsg());
        }
        break;
    case OP_CANCEL:
    case OP_FINISH:
        op->rc = op->put ? prt_store_job_put(s, &op->rec) : 0;
        if (op->rc != 0) {
            prt_error("%s a job: %s", op->kind == OP_CANCEL ? "cancelling"
                      : "completing", prt_kv_errmsg());
        }
        if (op->kind == OP_FINISH
            && prt_results_read(s, op->rec.id, &op->list) != 0)
        {
            prt_error("job_complete: reading results: %s", prt_kv_errmsg());
        }
        if (op->kind == OP_FINISH) {
            prt_results_rank(&op->list, PRT_SORT_EDGE);
        }
        break;
    }
}

static void op_done(prt_task_t *task);

/* On the loop: the row the head op writes, from the job as the ops before
 * it left it; then it goes to a worker. One op at a time. */
static void
op_pump(prt_jobs_t *jobs)
{
    store_op_t  *op = jobs->ops;
    prt_job_t   *job;

    if (jobs->op_running || op == NULL) {
        return;
    }
    jobs->ops = op->next;
    if (jobs->ops == NULL) {
        jobs->ops_tail = &jobs->ops;
    }
    jobs->op_running = op;
    job = op->job;

    switch (op->kind) {
    case OP_CREATE:
        break;                      /* rec set by prt_jobs_start */
    case OP_CHUNK:
        op->rec = job->rec;
        op->rec.completed += (uint32_t) op->chunk->scan.npreds;
        op->rec.failed += (uint32_t) op->chunk->scan.nfails;
        break;
    case OP_CANCEL:
        op->rec = job->rec;         /* put set by prt_jobs_cancel */
        break;
    case OP_FINISH:
        op->rec = job->rec;
        /* a cancelled job's row was written by its cancel */
        op->put = !job->cancelled;
        if (op->put) {
            op->rec.status = PRT_JOB_COMPLETED;
            op->rec.completed_at_ms = (int64_t) prt_wall_ms();
        }
        break;
    }
    op->jobs = jobs;
    op->task.run = op_run;
    op->task.done = op_done;
    prt_workq_submit(jobs->conf.workq, &op->task, PRT_LANE_INTERACTIVE);
}

static void
op_queue(prt_jobs_t *jobs, store_op_t *op)
{
    op->jobs = jobs;
    op->next = NULL;
    *jobs->ops_tail = op;
    jobs->ops_tail = &op->next;
    op_pump(jobs);
}

static void create_done(prt_jobs_t *jobs, store_op_t *op);
static void cancel_done(prt_jobs_t *jobs, store_op_t *op);

static void
op_done(prt_task_t *task)
{
    store_op_t  *op = (store_op_t *) task;
    prt_jobs_t  *jobs = op->jobs;

    jobs->op_running = NULL;
    if (op->admitted) {
        jobs->admitted--;
    }
    switch (op->kind) {
    case OP_CREATE:
        create_done(jobs, op);
        break;
    case OP_CHUNK:
        chunk_committed(jobs, op);
        break;
    case OP_CANCEL:
        cancel_done(jobs, op);
        break;
    case OP_FINISH:
        finish_done(jobs, op);
        break;
    }
    op_pump(jobs);
    schedule(jobs);
}

static int
dispatch_chunk(prt_jobs_t *jobs, prt_job_t *job)
{
    chunk_task_t  *t = calloc(1, sizeof(*t));
    size_t         n = job->rec.total - job->next;

    if (t == NULL) {
        return -1;
    }
    n = n < jobs->chunk ? n : jobs->chunk;

    t->jobs = jobs;
    t->job = job;
    t->params = job->rec;
    t->scan.job = &t->params;
    t->scan.ix = prt_index_acquire(jobs->conf.index);
    t->scan.calib = &job->calib;
    t->scan.bars = jobs->conf.bars;
    t->scan.max_staleness_ms = jobs->conf.max_staleness_ms;
    t->scan.symbols = (const char (*)[PRT_SYMBOL_SIZE]) job->symbols
                      + job->next;
    t->scan.n = n;
    t->task.run = chunk_run;
    t->task.done = chunk_done;

    job->next += (uint32_t) n;
    job->inflight++;
    jobs->inflight++;
    prt_workq_submit(jobs->conf.workq, &t->task, PRT_LANE_BATCH);
    return 0;
}

/* Hands out chunks round-robin between the jobs with symbols left. */
static void
schedule(prt_jobs_t *jobs)
{
    prt_job_t  *job;
    int         idle = 0;

    while (jobs->inflight < jobs->max_inflight && jobs->running && !idle) {
        idle = 1;
        for (int pass = 0; pass < 2; pass++) {
            job = jobs->cursor ? jobs->cursor : jobs->running;
            for ( ; job; job = job->next_job) {
                if (!job->cancelled && job->next < job->rec.total) {
                    break;
                }
            }
            if (job) {
                jobs->cursor = job->next_job;
                if (dispatch_chunk(jobs, job) != 0) {
                    return;
                }
                idle = 0;
                break;
            }
            jobs->cursor = NULL;      /* wrap around once */
        }
    }
}


/* ---- starting and cancelling -------------------------------------------- */

int
prt_jobs_start(prt_jobs_t *jobs, const prt_req_run_t *req,
    const char (*symbols)[PRT_SYMBOL_SIZE], prt_jobs_reply_fn reply,
    void *ctx)
{
    prt_job_t  *job;
    size_t      bytes = (size_t) req->nsymbols * PRT_SYMBOL_SIZE;

    if (jobs->admitted >= jobs->store_queue) {
        return PRT_JOBS_BUSY;
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL || (job->symbols = malloc(bytes ? bytes : 1)) == NULL) {
        free(job);
        return -1;
    }
    memcpy(job->symbols, symbols, bytes);

    prt_job_id_new(job->rec.id);
    job->rec.seq = ++jobs->jobs_started;
    job->rec.status = PRT_JOB_RUNNING;
    job->rec.f = req->f;
    job->rec.min_edge = req->min_edge;
    job->rec.sessions = req->sessions ? req->sessions : PRT_SESSION_BITS_ALL;
    job->rec.total = req->nsymbols;
    job->rec.started_at_ms = (int64_t) prt_wall_ms();
    job->rec.scan_time_ms = prt_clock_now_ms(jobs->conf.clock);
    if (prt_calibrator_map(jobs->conf.calib, prt_horizon_index(req->f.horizon),
                           job->rec.scan_time_ms, &job->calib) != 0)
    {
        job_free(job);
        return -1;
    }

    /* the job runs once its row is committed (create_done) */
    job->op.kind = OP_CREATE;
    job->op.job = job;
    job->op.rec = job->rec;
    job->op.reply = reply;
    job->op.ctx = ctx;
    job->op.admitted = 1;
    jobs->admitted++;
    op_queue(jobs, &job->op);
    return 0;
}

static void
create_done(prt_jobs_t *jobs, store_op_t *op)
{
    prt_job_t          *job = op->job, **tail;
    prt_jobs_reply_fn   reply = op->reply;
    void               *ctx = op->ctx;

    /* op is job->op: job_finish below reuses it for OP_FINISH */
    if (op->rc != 0) {
        reply(ctx, -1, &op->rec);
        job_free(job);
        return;
    }
    for (tail = &jobs->running; *tail; tail = &(*tail)->next_job) {
        /* new jobs go last: the round-robin reaches them in turn */
    }
    *tail = job;
    if (job->rec.total == 0) {
        job_finish(jobs, job);
    }
    schedule(jobs);
    /* acknowledged now that its row is committed (its first chunks are
     * out: their events come from a later turn of the loop) */
    reply(ctx, 0, &job->rec);
}

int
prt_jobs_cancel(prt_jobs_t *jobs, const uint8_t id[PRT_JOB_UUID_LEN],
    prt_jobs_reply_fn reply, void *ctx)
{
    prt_job_t   *job = job_find(jobs, id);
    store_op_t  *op;

    if (job == NULL) {
        return 0;
    }
    if (jobs->admitted >= jobs->store_queue) {
        return PRT_JOBS_BUSY;
    }
    if ((op = calloc(1, sizeof(*op))) == NULL) {
        return -1;
    }
    op->kind = OP_CANCEL;
    op->job = job;
    op->reply = reply;
    op->ctx = ctx;
    op->admitted = 1;
    /* a job already cancelled (its cancel maybe still queued) or ending
     * is answered after those writes, with nothing more written */
    if (!job->cancelled && !job->finishing) {
        /* no chunk is handed out from here on; those in flight still
         * commit (a cancelled job takes its last chunks) */
        job->cancelled = 1;
        job->rec.status = PRT_JOB_CANCELLED;
        job->rec.completed_at_ms = (int64_t) prt_wall_ms();
        snprintf(job->rec.reason, sizeof(job->rec.reason), "cancelled after "
                 "%u of %u symbols", job->rec.completed + job->rec.failed,
                 job->rec.total);
        op->put = 1;
    }
    jobs->admitted++;
    op_queue(jobs, op);
    return 1;
}

static void
cancel_done(prt_jobs_t *jobs, store_op_t *op)
{
    prt_job_t  *job = op->job;

    op->reply(op->ctx, op->rc, &op->rec);
    if (op->put && job->inflight == 0) {
        job_finish(jobs, job);
    }
    free(op);
}

const prt_job_rec_t *
prt_jobs_running(prt_jobs_t *jobs, const uint8_t id[PRT_JOB_UUID_LEN])
{
    prt_job_t  *job = job_find(jobs, id);

    return job ? &job->rec : NULL;
}


/* ---- life cycle --------------------------------------------------------- */

prt_jobs_t *
prt_jobs_new(const prt_jobs_conf_t *conf)
{
    prt_jobs_t  *jobs = calloc(1, sizeof(*jobs));
    int          n;

    if (jobs == NULL) {
        return NULL;
    }
    jobs->conf = *conf;
    jobs->store = conf->store;
    jobs->max_inflight = conf->max_inflight ? conf->max_inflight : 1;
    jobs->chunk = conf->chunk ? conf->chunk : 256;
    jobs->ops_tail = &jobs->ops;
    jobs->store_queue = conf->store_queue ? conf->store_queue : 64;

    /* SPEC 7: a job that was running when the engine stopped ends failed,
     * with what it had committed */
    n = prt_store_fail_running(jobs->store, "engine restarted",
                               (int64_t) prt_wall_ms());
    if (n > 0) {
        prt_metrics.jobs_failed += (uint64_t) n;
        prt_warn("%d job(s) were running when the engine stopped: marked "
                 "failed (\"engine restarted\"), their results kept", n);
    }
    return jobs;
}

/* Called after the work queue is stopped: the ops left never ran or never
 * came back; their requests get no answer (the engine is going away). */
static void
op_drop(store_op_t *op)
{
    if (op->reply) {
        op->reply(op->ctx, PRT_JOBS_STOPPED, &op->rec);
    }
    if (op->kind == OP_CREATE) {
        job_free(op->job);                  /* not on the running list */
    } else if (op->kind == OP_FINISH) {
        prt_pred_list_free(&op->list);      /* the job: on the list */
    } else if (op->kind == OP_CANCEL) {
        free(op);
    }
}

void
prt_jobs_free(prt_jobs_t *jobs)
{
    prt_job_t   *job, *next;
    store_op_t  *op, *op_next;

    if (jobs == NULL) {
        return;
    }
    if (jobs->op_running) {
        op_drop(jobs->op_running);
    }
    for (op = jobs->ops; op; op = op_next) {
        op_next = op->next;
        op_drop(op);
    }
    for (job = jobs->running; job; job = next) {
        next = job->next_job;
        job_free(job);
    }
    free(jobs);
}

void
prt_jobs_stats_json(prt_jobs_t *jobs, prt_json_t *j)
{
    unsigned  running = 0;

    for (prt_job_t *job = jobs->running; job; job = job->next_job) {
        running++;
    }
    prt_json_open(j);
    prt_json_kuint(j, "running", running);
    prt_json_kuint(j, "chunks_in_flight", jobs->inflight);
    prt_json_kuint(j, "store_waiting", jobs->admitted);
    prt_json_kuint(j, "started", jobs->jobs_started);
    prt_json_kuint(j, "symbols_scanned", jobs->symbols_scanned);
    prt_json_kuint(j, "chunk_size", jobs->chunk);
    prt_json_knum(j, "search_seconds", (double) jobs->search_us / 1e6);
    prt_json_knum(j, "scan_seconds", (double) jobs->scan_us / 1e6);
    prt_json_close(j);
}

/* Prometheus text of the scheduler's state and counters (docs/metrics.md) */
void
prt_jobs_metrics(prt_jobs_t *jobs, prt_text_t *t)
{
    unsigned  running = 0;

    for (prt_job_t *job = jobs->running; job; job = job->next_job) {
        running++;
    }
    prt_text_single(t, "pattern_rt_jobs_started_total", "counter",
                    "scan jobs started since the engine started",
                    (double) jobs->jobs_started);
    prt_text_single(t, "pattern_rt_job_chunks_in_flight", "gauge",
                    "chunks being scanned or committed on the worker threads",
                    (double) jobs->inflight);
    prt_text_single(t, "pattern_rt_job_chunks_total", "counter",
                    "chunks scanned",
                    (double) jobs->chunks);
    prt_text_single(t, "pattern_rt_symbols_scanned_total", "counter",
                    "symbols scanned by jobs",
                    (double) jobs->symbols_scanned);
    /* running is the one gauge of pattern_rt_jobs; the finished statuses
     * are counted where the job ends (prt_metrics_job_finished) */
    prt_text_single(t, "pattern_rt_jobs_running", "gauge",
                    "scan jobs running now",
                    (double) running);
}
