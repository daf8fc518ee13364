/*
 * WebSocket subscribe (SPEC 5.3): the worker asks for a stream's replay
 * before it adds the subscriber. The answer's lines are the events'
 * (events/events.h); this finds the job.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "events/events.h"
#include "jobs/jobs.h"
#include "pattern_rt_msg.h"

/* The job's record, from memory while it runs, else from the store. */
static int
job_lookup(prt_engine_t *e, const char *text, prt_job_rec_t *rec)
{
    uint8_t               id[PRT_JOB_UUID_LEN];
    const prt_job_rec_t  *running;

    if (prt_job_id_parse(text, id) != 0) {
        return 0;
    }
    running = prt_jobs_running(e->jobs, id);
    if (running) {
        *rec = *running;
        return 1;
    }
    return prt_store_job_get(e->store, NULL, id, rec) == 1;
}

void
prt_api_subscribe(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    prt_req_subscribe_t   req;
    prt_job_rec_t         job;
    const uint8_t        *id = NULL;
    char                 *buf = NULL;
    size_t                n = 0;
    int                   status;

    memcpy(&req, payload, sizeof(req));
    req.job_id[PRT_JOB_ID_SIZE - 1] = '\0';
    if (req.stream >= PRT_STREAM_COUNT
        || (req.stream == PRT_STREAM_ALERTS && req.has_since))
    {
        prt_api_error(e, to, PRT_E_BAD_REQUEST, "malformed subscribe", NULL);
        return;
    }
    if (req.stream == PRT_STREAM_JOB && job_lookup(e, req.job_id, &job)) {
        id = job.id;
    }

    status = prt_events_subscribe(e->events, &req, id,
                                  id ? job.started_at_ms : 0, &buf, &n);
    if (status < 0) {
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
    } else {
        (void) prt_server_respond(e->server, to, status, buf, n);
    }
    free(buf);
}
