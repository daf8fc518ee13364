/*
 * WebSocket subscribe (SPEC 5.3): the worker asks for a stream's replay
 * before it adds the subscriber. The answer's lines are the events'
 * (events/events.h); this finds the job: in memory when it runs here,
 * else in the store, read on a worker thread.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "events/events.h"
#include "jobs/jobs.h"
#include "pattern_rt_msg.h"

/* the lookup of a job not running here, on a worker thread (the store) */
typedef struct {
    prt_task_t            task;
    prt_engine_t         *e;
    prt_reply_t           to;
    prt_req_subscribe_t   req;
    uint8_t               id[PRT_JOB_UUID_LEN];
    prt_job_rec_t         job;
    int                   found;
} lookup_task_t;

/* Adds the subscriber (the worker does, on this answer): the replay of
 * the job `job` (NULL: no such job) or of another stream. */
static void
subscribe_answer(prt_engine_t *e, const prt_reply_t *to,
    prt_req_subscribe_t *req, const prt_job_rec_t *job)
{
    char  *buf = NULL;
    size_t n = 0;
    int    status;

    status = prt_events_subscribe(e->events, req, job ? job->id : NULL,
                                  job ? job->started_at_ms : 0, &buf, &n);
    if (status < 0) {
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
    } else {
        (void) prt_server_respond(e->server, to, status, buf, n);
    }
    free(buf);
}

static void
lookup_run(prt_task_t *task)
{
    lookup_task_t  *t = (lookup_task_t *) task;

    t->found = prt_store_job_get(t->e->store, NULL, t->id, &t->job) == 1;
}

static void
lookup_done(prt_task_t *task)
{
    lookup_task_t  *t = (lookup_task_t *) task;

    subscribe_answer(t->e, &t->to, &t->req, t->found ? &t->job : NULL);
    free(t);
}

void
prt_api_subscribe(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    prt_req_subscribe_t   req;
    const prt_job_rec_t  *running;
    lookup_task_t        *t;
    uint8_t               id[PRT_JOB_UUID_LEN];

    memcpy(&req, payload, sizeof(req));
    req.job_id[PRT_JOB_ID_SIZE - 1] = '\0';
    if (req.stream >= PRT_STREAM_COUNT
        || (req.stream == PRT_STREAM_ALERTS && req.has_since))
    {
        prt_api_error(e, to, PRT_E_BAD_REQUEST, "malformed subscribe", NULL);
        return;
    }
    if (req.stream != PRT_STREAM_JOB || prt_job_id_parse(req.job_id, id) != 0)
    {
        subscribe_answer(e, to, &req, NULL);
        return;
    }
    /* a job running here is in memory (its record as committed) */
    running = prt_jobs_running(e->jobs, id);
    if (running) {
        prt_job_rec_t  job = *running;

        subscribe_answer(e, to, &req, &job);
        return;
    }
    /* else the store knows it (finished, or on another node): read on a
     * worker, never on the loop */
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return;
    }
    t->e = e;
    t->to = *to;
    t->req = req;
    memcpy(t->id, id, sizeof(id));
    t->task.run = lookup_run;
    t->task.done = lookup_done;
    prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
}
