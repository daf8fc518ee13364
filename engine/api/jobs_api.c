/*
 * Pattern Real-Time job endpoints (SPEC 5.1): run, job, results, cancel,
 * history. Starting and cancelling change state on the loop thread; their
 * store writes go through the jobs' store queue (a worker thread) and
 * they are answered once the row is committed. Reads render on a worker thread from one LMDB read transaction,
 * so a running job shows exactly what its committed chunks hold.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "clock/calendar.h"
#include "core/log.h"
#include "forecast/forecast.h"
#include "jobs/jobs.h"
#include "jobs/render.h"
#include "jobs/results.h"
#include "pattern_rt_msg.h"

typedef struct {
    prt_task_t              task;
    prt_engine_t           *e;
    prt_reply_t             to;
    uint16_t                type;
    uint8_t                 id[PRT_JOB_UUID_LEN];
    prt_req_job_results_t   results;
    prt_req_history_t       history;
    uint64_t                predictions;     /* for an unfiltered total */
    int                     status;
    uint16_t                flags;           /* PRT_RESP_* */
    int                     poll;            /* GET /job/{id}: a cancelled
                                                job is 410 (not cancel's
                                                answer) */
    prt_json_t              json;
} read_task_t;


/* ---- GET /job/{id} ------------------------------------------------------ */

static int
failure_json(const prt_fail_rec_t *f, void *ctx)
{
    prt_render_failure(ctx, f);
    return 0;
}

typedef struct {
    read_task_t      *t;
    prt_job_rec_t     job;
    int               found;
    prt_pred_list_t   list;
} job_read_t;

/*
 * A cancelled job is answered 410 Gone (docs/decisions.md): the front end
 * polls GET /job/{id} until "completed", "failed" or a non-2xx, so a 200
 * "cancelled" would be polled forever. The body is still the whole job
 * (status "cancelled", the results kept) with the error alongside.
 */
static void
cancelled_error(prt_json_t *j, const prt_job_rec_t *job)
{
    char  msg[160];

    snprintf(msg, sizeof(msg), "the job was cancelled after %u of %u "
             "symbols; its results stay readable",
             (unsigned) (job->completed + job->failed), (unsigned) job->total);
    prt_json_key(j, "error");
    prt_json_open(j);
    prt_json_kstr(j, "code", "E_CANCELLED");
    prt_json_kstr(j, "message", msg);
    prt_json_close(j);
}

static int
job_read_txn(MDB_txn *txn, void *arg)
{
    job_read_t  *c = arg;
    prt_store_t *s = c->t->e->store;
    prt_json_t  *j = &c->t->json;
    int          rc;

    c->found = prt_store_job_get(s, txn, c->t->id, &c->job);
    if (c->found <= 0) {
        return c->found < 0 ? -1 : 0;
    }
    rc = prt_results_load(s, txn, c->t->id, &c->list);
    if (rc != 0) {
        return rc;
    }
    prt_results_rank(&c->list, PRT_SORT_EDGE);

    prt_json_open(j);
    prt_render_job_fields(j, &c->job);
    prt_json_key(j, "results");
    prt_results_json(j, &c->list, c->job.min_edge);
    prt_json_kuint(j, "total_results", prt_results_count(&c->list,
                                                         c->job.min_edge));
    prt_json_key(j, "failures");
    prt_json_array(j);
    rc = prt_store_job_failures(s, txn, c->t->id, failure_json, j);
    prt_json_array_end(j);
    prt_json_kuint(j, "total_failures", c->job.failed);
    if (c->t->poll && c->job.status == PRT_JOB_CANCELLED) {
        cancelled_error(j, &c->job);
    }
    prt_json_close(j);
    return rc;
}


/* ---- GET /job/{id}/results ---------------------------------------------- */

static int
keep_result(const prt_req_job_results_t *q, const prt_job_rec_t *job,
    const prt_pred_rec_t *p)
{
    if (p->edge < job->min_edge) {
        return 0;
    }
    if (q->direction == PRT_FILTER_UP && p->direction != PRT_DIRECTION_UP) {
        return 0;
    }
    if (q->direction == PRT_FILTER_DOWN
        && p->direction != PRT_DIRECTION_DOWN)
    {
        return 0;
    }
    return q->include_verified || p->status == PRT_PRED_PENDING;
}

static int
results_read_txn(MDB_txn *txn, void *arg)
{
    job_read_t                    *c = arg;
    const prt_req_job_results_t   *q = &c->t->results;
    prt_json_t                    *j = &c->t->json;
    uint32_t                       shown = 0;
    int                            rc;

    c->found = prt_store_job_get(c->t->e->store, txn, c->t->id, &c->job);
    if (c->found <= 0) {
        return c->found < 0 ? -1 : 0;
    }
    rc = prt_results_load(c->t->e->store, txn, c->t->id, &c->list);
    if (rc != 0) {
        return rc;
    }
    prt_results_rank(&c->list, (prt_sort_t) q->sort_by);

    prt_json_open(j);
    prt_render_job_fields(j, &c->job);
    prt_json_key(j, "results");
    prt_json_array(j);
    for (size_t i = 0; i < c->list.n && shown < q->limit; i++) {
        if (keep_result(q, &c->job, &c->list.v[i])) {
            prt_render_result(j, &c->list.v[i]);
            shown++;
        }
    }
    prt_json_array_end(j);
    prt_json_close(j);
    return 0;
}


/* ---- GET /history ------------------------------------------------------- */

typedef struct {
    const prt_req_history_t  *q;
    prt_json_t               *j;
    uint64_t                  skipped;
    uint64_t                  shown;
    uint64_t                  matched;
    int                       count_all;       /* walk on to count */
} history_t;

static int
history_fn(const prt_pred_rec_t *p, void *arg)
{
    history_t  *h = arg;

    if (h->q->verified_only && p->status != PRT_PRED_VERIFIED) {
        return 0;
    }
    h->matched++;
    if (h->skipped < h->q->offset) {
        h->skipped++;
    } else if (h->shown < h->q->limit) {
        prt_render_result(h->j, p);
        h->shown++;
    } else if (!h->count_all) {
        return 1;
    }
    return 0;
}

static int
history_read_txn(MDB_txn *txn, void *arg)
{
    read_task_t  *t = arg;
    history_t     h = { &t->history, &t->json, 0, 0, 0, 0 };
    uint64_t      total;
    int           rc;

    /* the total comes cheap from the store's statistics when no filter
     * applies; with one, the walk goes on to count */
    h.count_all = t->history.symbol[0] != '\0' || t->history.verified_only;

    prt_json_open(&t->json);
    prt_json_key(&t->json, "items");
    prt_json_array(&t->json);
    rc = prt_store_history(t->e->store, txn, t->history.symbol, history_fn,
                           &h);
    prt_json_array_end(&t->json);
    total = h.count_all ? h.matched : t->predictions;
    prt_json_kuint(&t->json, "total", total);
    prt_json_kuint(&t->json, "limit", t->history.limit);
    prt_json_kuint(&t->json, "offset", t->history.offset);
    prt_json_close(&t->json);
    return rc;
}


/* ---- the read task ------------------------------------------------------- */

static void
read_run(prt_task_t *task)
{
    read_task_t  *t = (read_task_t *) task;
    job_read_t    c;
    int           rc;

    memset(&c, 0, sizeof(c));
    c.t = t;

    if (t->type == PRT_MSG_HISTORY) {
        prt_store_stats_t  st;

        /* before the walk's transaction: stats open one of their own */
        rc = prt_store_stats_now(t->e->store, &st);
        t->predictions = st.predictions;
        if (rc == 0) {
            rc = prt_store_read(t->e->store, history_read_txn, t);
        }
        c.found = 1;
    } else {
        rc = prt_store_read(t->e->store,
                            t->type == PRT_MSG_JOB_RESULTS ? results_read_txn
                                                           : job_read_txn,
                            &c);
    }
    prt_pred_list_free(&c.list);

    if (rc != 0) {
        prt_error("reading the job store: %s", prt_kv_errmsg());
        prt_json_reset(&t->json);
        prt_json_error(&t->json, "E_STORE", PRT_STORE_MESSAGE, NULL);
        t->status = 503;
    } else if (!c.found) {
        prt_json_reset(&t->json);
        prt_json_error(&t->json, "E_NOT_FOUND", "no such job", NULL);
        t->status = 404;
    } else {
        t->status = t->poll && c.job.status == PRT_JOB_CANCELLED ? 410 : 200;
        /* a finished job changes only by verification, which publishes
         * on its stream: workers keep the answer until then */
        if (t->type != PRT_MSG_HISTORY && c.job.status != PRT_JOB_RUNNING) {
            t->flags = PRT_RESP_CACHEABLE;
        }
    }
}

static void
read_done(prt_task_t *task)
{
    read_task_t  *t = (read_task_t *) task;

    prt_api_reply_flags(t->e, &t->to, t->status, t->flags, &t->json);
    prt_json_free(&t->json);
    free(t);
}

static read_task_t *
read_task(prt_engine_t *e, const prt_reply_t *to, uint16_t type)
{
    read_task_t  *t = calloc(1, sizeof(*t));

    if (t == NULL || prt_json_init(&t->json) != 0) {
        free(t);
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return NULL;
    }
    t->e = e;
    t->to = *to;
    t->type = type;
    t->task.run = read_run;
    t->task.done = read_done;
    return t;
}

static int
job_id_of(prt_engine_t *e, const prt_reply_t *to, const char *text,
    uint8_t id[PRT_JOB_UUID_LEN])
{
    char  copy[PRT_JOB_ID_SIZE];

    memcpy(copy, text, PRT_JOB_ID_SIZE);
    copy[PRT_JOB_ID_SIZE - 1] = '\0';
    if (prt_job_id_parse(copy, id) != 0) {
        prt_api_error(e, to, PRT_E_NOT_FOUND, "no such job", NULL);
        return -1;
    }
    return 0;
}

void
prt_api_job_get(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    const prt_req_job_t  *req = (const prt_req_job_t *) payload;
    read_task_t          *t;
    uint8_t               id[PRT_JOB_UUID_LEN];

    if (job_id_of(e, to, req->job_id, id) != 0
        || (t = read_task(e, to, PRT_MSG_JOB_GET)) == NULL)
    {
        return;
    }
    memcpy(t->id, id, sizeof(id));
    t->poll = 1;
    prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
}

void
prt_api_job_results(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    read_task_t  *t;
    uint8_t       id[PRT_JOB_UUID_LEN];

    if (job_id_of(e, to, ((const prt_req_job_results_t *) payload)->job_id,
                  id) != 0
        || (t = read_task(e, to, PRT_MSG_JOB_RESULTS)) == NULL)
    {
        return;
    }
    memcpy(t->id, id, sizeof(id));
    memcpy(&t->results, payload, sizeof(t->results));
    if (t->results.sort_by > PRT_SORT_EDGE_CALIBRATED
        || t->results.direction > PRT_FILTER_DOWN)
    {
        t->results.sort_by = PRT_SORT_EDGE;
        t->results.direction = PRT_FILTER_ALL;
    }
    prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
}

void
prt_api_history(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    read_task_t  *t = read_task(e, to, PRT_MSG_HISTORY);

    if (t == NULL) {
        return;
    }
    memcpy(&t->history, payload, sizeof(t->history));
    t->history.symbol[PRT_SYMBOL_SIZE - 1] = '\0';
    prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
}


/* ---- run and cancel (loop thread) ----------------------------------------- */

/* a request waiting for its store write */
typedef struct {
    prt_engine_t  *e;
    prt_reply_t    to;
    uint8_t        id[PRT_JOB_UUID_LEN];
} pending_t;

static pending_t *
pending_new(prt_engine_t *e, const prt_reply_t *to)
{
    pending_t  *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return NULL;
    }
    p->e = e;
    p->to = *to;
    return p;
}

static void
job_busy(prt_engine_t *e, const prt_reply_t *to)
{
    prt_api_error(e, to, PRT_E_BUSY, "too many job starts and cancels are "
                  "waiting for the job store; try again", NULL);
}

/* the job's row is committed (rc 0): 202 */
static void
run_reply(void *ctx, int rc, const prt_job_rec_t *job)
{
    pending_t           *p = ctx;
    prt_market_state_t   ms;
    prt_json_t           j;
    char                 id[PRT_JOB_ID_SIZE];

    if (rc == PRT_JOBS_STOPPED) {
        free(p);
        return;
    }
    if (rc != 0) {
        prt_api_error(p->e, &p->to, PRT_E_STORE, PRT_STORE_MESSAGE, NULL);
        free(p);
        return;
    }
    if (prt_json_init(&j) != 0) {
        prt_api_error(p->e, &p->to, PRT_E_INTERNAL, "out of memory", NULL);
        free(p);
        return;
    }
    prt_job_id_format(job->id, id);
    prt_market_state(job->scan_time_ms / 1000, &ms);
    prt_json_open(&j);
    prt_json_kstr(&j, "job_id", id);
    prt_json_kstr(&j, "status", "running");
    prt_json_kuint(&j, "total_symbols", job->total);
    prt_json_ktime(&j, "started_at", job->started_at_ms);
    prt_json_ktime(&j, "scan_time", job->scan_time_ms);
    prt_json_kstr(&j, "session", prt_session_name(ms.session));
    prt_json_close(&j);
    prt_api_reply(p->e, &p->to, 202, &j);
    prt_json_free(&j);
    free(p);
}

void
prt_api_run(prt_engine_t *e, const prt_reply_t *to, const uint8_t *payload,
    uint32_t len)
{
    prt_req_run_t         req;
    const char          (*symbols)[PRT_SYMBOL_SIZE];
    pending_t            *p;
    int                   rc;

    memcpy(&req, payload, sizeof(req));
    if (req.nsymbols == 0
        || len != sizeof(req) + (uint64_t) req.nsymbols * PRT_SYMBOL_SIZE)
    {
        prt_api_error(e, to, PRT_E_BAD_REQUEST, "malformed run request",
                      NULL);
        return;
    }
    symbols = (const char (*)[PRT_SYMBOL_SIZE]) (payload + sizeof(req));
    for (uint32_t i = 0; i < req.nsymbols; i++) {
        if (symbols[i][PRT_SYMBOL_SIZE - 1] != '\0') {
            prt_api_error(e, to, PRT_E_BAD_REQUEST, "malformed symbol", NULL);
            return;
        }
    }

    if ((p = pending_new(e, to)) == NULL) {
        return;
    }
    rc = prt_jobs_start(e->jobs, &req, symbols, run_reply, p);
    if (rc != 0) {
        free(p);
        if (rc == PRT_JOBS_BUSY) {
            job_busy(e, to);
        } else {
            prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        }
    }
}

/* answer with the job as it now is, read from the store */
static void
cancel_answer(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t id[PRT_JOB_UUID_LEN])
{
    read_task_t  *t = read_task(e, to, PRT_MSG_JOB_GET);

    if (t) {
        memcpy(t->id, id, PRT_JOB_UUID_LEN);
        prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
    }
}

static void
cancel_reply(void *ctx, int rc, const prt_job_rec_t *job)
{
    pending_t  *p = ctx;

    if (rc == 0) {
        cancel_answer(p->e, &p->to, p->id);
    } else if (rc != PRT_JOBS_STOPPED) {
        prt_api_error(p->e, &p->to, PRT_E_STORE, PRT_STORE_MESSAGE, NULL);
    }
    free(p);
}

void
prt_api_job_cancel(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    const prt_req_job_t  *req = (const prt_req_job_t *) payload;
    pending_t            *p;
    uint8_t               id[PRT_JOB_UUID_LEN];
    int                   rc;

    if (job_id_of(e, to, req->job_id, id) != 0
        || (p = pending_new(e, to)) == NULL)
    {
        return;
    }
    memcpy(p->id, id, sizeof(id));
    rc = prt_jobs_cancel(e->jobs, id, cancel_reply, p);
    if (rc == 1) {
        return;                     /* cancel_reply answers */
    }
    free(p);
    if (rc == 0) {
        /* not running here: a job that already ended is shown unchanged
         * (cancelling it is a no-op), an unknown one is 404 */
        cancel_answer(e, to, id);
    } else if (rc == PRT_JOBS_BUSY) {
        job_busy(e, to);
    } else {
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
    }
}
