/*
 * jobs/ on its own: a real job store and bar store in a temporary
 * directory, a real event loop and work queue, no index (every symbol
 * fails), the events captured instead of broadcast. What is checked is the
 * job's life: committed before it is announced, chunked, round-robin
 * between jobs, cancelled, completed; the counts are worked out here from
 * the job sizes and the chunk size.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#include "clock/clock.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/workq.h"
#include "data/barstore.h"
#include "events/events.h"
#include "jobs/jobs.h"
#include "jobs/store.h"
#include "pattern_rt_msg.h"

#define MAX_SEEN  256

typedef struct {
    prt_loop_t      *loop;
    prt_store_t     *store;
    prt_event_hdr_t  hdr[MAX_SEEN];
    size_t           n;
    int              completes;      /* job_complete events seen */
    int              stop_after;     /* stop the loop at that many */
    size_t           committed_calls;
    size_t           committed_preds;
    int              unannounced;    /* an event about an uncommitted chunk */
} world_t;

static char  tmp_root[] = "/tmp/prt-test-jobs-XXXXXX";

/* Every progress event must describe what the store already holds. */
static int
capture(void *ctx, const void *msg, size_t len)
{
    world_t        *w = ctx;
    prt_event_hdr_t hdr;
    prt_job_rec_t   rec;
    uint8_t         id[PRT_JOB_UUID_LEN];

    memcpy(&hdr, msg, sizeof(hdr));
    if (w->n < MAX_SEEN) {
        w->hdr[w->n++] = hdr;
    }
    if (hdr.kind == PRT_EVENT_PROGRESS) {
        const char  *body = (const char *) msg + sizeof(hdr);
        char         want[64];

        if (prt_job_id_parse(hdr.job_id, id) != 0
            || prt_store_job_get(w->store, NULL, id, &rec) != 1)
        {
            w->unannounced++;          /* progress of a job not stored */
            return 0;
        }
        snprintf(want, sizeof(want), "\"completed\":%u,\"failed\":%u,",
                 rec.completed, rec.failed);
        if (memmem(body, len - sizeof(hdr), want, strlen(want)) == NULL) {
            w->unannounced++;
        }
    }
    if (hdr.kind == PRT_EVENT_JOB_COMPLETE
        && ++w->completes == w->stop_after)
    {
        prt_loop_stop(w->loop);
    }
    return 0;
}

static void
committed(void *ctx, const prt_pred_rec_t *preds, size_t n)
{
    world_t  *w = ctx;

    w->committed_calls++;
    w->committed_preds += n;
}

static int
count_fail(const prt_fail_rec_t *f, void *ctx)
{
    (*(int *) ctx)++;
    return 0;
}

static int
failures(prt_store_t *store, const uint8_t id[PRT_JOB_UUID_LEN])
{
    int  n = 0;

    if (prt_store_job_failures(store, NULL, id, count_fail, &n) != 0) {
        return -1;
    }
    return n;
}

static void
symbols_of(char (*syms)[PRT_SYMBOL_SIZE], int n, const char *prefix)
{
    memset(syms, 0, (size_t) n * PRT_SYMBOL_SIZE);
    for (int i = 0; i < n; i++) {
        snprintf(syms[i], PRT_SYMBOL_SIZE, "%s%d", prefix, i);
    }
}

/* A start's answer (on the loop, once its row is committed) and what
 * held then; with `cancel`, the job is cancelled twice right then. */
typedef struct {
    world_t        *w;
    prt_jobs_t     *jobs;
    prt_job_rec_t   rec;
    int             rc;
    int             replied;
    int             stored_running;   /* the row was there, untouched */
    int             in_memory;
    int             cancel;
    int             cancel_rc[2];
    int             cancels_answered;
    int             cancel_status;
} started_t;

static void
cancel_reply(void *ctx, int rc, const prt_job_rec_t *job)
{
    started_t  *st = ctx;

    if (rc == 0) {
        st->cancels_answered++;
        st->cancel_status = job->status;
    }
}

static void
start_reply(void *ctx, int rc, const prt_job_rec_t *job)
{
    started_t      *st = ctx;
    prt_job_rec_t   rec;

    st->rc = rc;
    st->replied = 1;
    st->rec = *job;
    st->stored_running = prt_store_job_get(st->w->store, NULL, job->id, &rec)
                         == 1 && rec.status == PRT_JOB_RUNNING
                         && rec.total == job->total
                         && rec.completed + rec.failed == 0;
    st->in_memory = prt_jobs_running(st->jobs, job->id) != NULL;
    if (st->cancel) {
        st->cancel_rc[0] = prt_jobs_cancel(st->jobs, job->id, cancel_reply,
                                           st);
        st->cancel_rc[1] = prt_jobs_cancel(st->jobs, job->id, cancel_reply,
                                           st);
    }
}

static int
start(prt_jobs_t *jobs, world_t *w, int n, const char *prefix,
    started_t *st)
{
    prt_req_run_t  req;
    char           syms[16][PRT_SYMBOL_SIZE];

    memset(st, 0, sizeof(*st));
    st->w = w;
    st->jobs = jobs;
    memset(&req, 0, sizeof(req));
    req.nsymbols = (uint32_t) n;
    symbols_of(syms, n, prefix);
    return prt_jobs_start(jobs, &req, (const char (*)[PRT_SYMBOL_SIZE]) syms,
                          start_reply, st);
}

/* The position of job id's job_complete among the events, or -1. */
static int
complete_at(const world_t *w, const uint8_t id[PRT_JOB_UUID_LEN])
{
    char  text[PRT_JOB_ID_SIZE];

    prt_job_id_format(id, text);
    for (size_t i = 0; i < w->n; i++) {
        if (w->hdr[i].kind == PRT_EVENT_JOB_COMPLETE
            && strcmp(w->hdr[i].job_id, text) == 0)
        {
            return (int) i;
        }
    }
    return -1;
}

static int
count_kind(const world_t *w, const uint8_t id[PRT_JOB_UUID_LEN], int kind)
{
    char  text[PRT_JOB_ID_SIZE];
    int   n = 0;

    prt_job_id_format(id, text);
    for (size_t i = 0; i < w->n; i++) {
        n += w->hdr[i].kind == kind && strcmp(w->hdr[i].job_id, text) == 0;
    }
    return n;
}

/* A loop runs once (prt_loop_stop is final): each phase of the test gets
 * its own loop, work queue, events and jobs over the same stores. */
typedef struct {
    prt_workq_t   *workq;
    prt_events_t  *events;
    prt_jobs_t    *jobs;
} phase_t;

static prt_clock_t      clock_fixed;
static prt_barstore_t  *bars;
static prt_index_t     *no_index;

static int
phase_new(phase_t *p, world_t *w)
{
    prt_events_conf_t  ec;
    prt_jobs_conf_t    jc;

    memset(p, 0, sizeof(*p));
    w->n = 0;
    w->completes = 0;
    w->committed_calls = 0;
    w->committed_preds = 0;
    w->loop = prt_loop_new();
    p->workq = w->loop ? prt_workq_new(w->loop, 2) : NULL;
    if (p->workq == NULL) {
        return -1;
    }

    memset(&ec, 0, sizeof(ec));
    ec.max_bytes = 1 << 20;
    ec.max_per_stream = 1000;
    ec.run_started_ms = prt_wall_ms();
    ec.broadcast = capture;
    ec.ctx = w;
    p->events = prt_events_new(&ec);

    memset(&jc, 0, sizeof(jc));
    jc.store = w->store;
    jc.workq = p->workq;
    jc.clock = &clock_fixed;
    jc.bars = bars;
    jc.index = &no_index;
    jc.max_staleness_ms = 60000;
    jc.max_inflight = 1;
    jc.chunk = 2;
    jc.events = p->events;
    jc.calib = NULL;                    /* no verified history: 0.5 */
    jc.committed = committed;
    jc.ctx = w;
    p->jobs = p->events ? prt_jobs_new(&jc) : NULL;
    return p->jobs ? 0 : -1;
}

static void
phase_free(phase_t *p, world_t *w)
{
    prt_workq_free(p->workq);
    prt_jobs_free(p->jobs);
    prt_events_free(p->events);
    prt_loop_free(w->loop);
}

int
main(void)
{
    world_t            w;
    phase_t            ph;
    prt_kv_conf_t      kc;
    prt_jobs_t        *jobs;
    prt_job_rec_t      a, b, c, rec;
    started_t          sa, sb, sc;
    char               dir[256];

    prt_log_set_level(PRT_LOG_WARN);  /* job lines would clutter the TAP */
    if (mkdtemp(tmp_root) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    memset(&w, 0, sizeof(w));
    snprintf(dir, sizeof(dir), "%s/bars", tmp_root);
    memset(&kc, 0, sizeof(kc));
    kc.dir = dir;
    kc.map_max = 64 << 20;
    kc.sync = PRT_KV_SYNC_NOMETA;
    if (prt_barstore_open(&bars, &kc) != 0) {
        printf("Bail out! bar store: %s\n", prt_barstore_errmsg());
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s/store", tmp_root);
    if (prt_store_open(&w.store, dir, 64 << 20) != 0) {
        printf("Bail out! job store\n");
        return 1;
    }
    if (prt_clock_init(&clock_fixed, "2024-03-12T15:00:00Z") != 0
        || phase_new(&ph, &w) != 0)
    {
        printf("Bail out! clock, loop, work queue, events or jobs\n");
        return 1;
    }
    jobs = ph.jobs;

    /* one job: 5 symbols in chunks of 2 -> 3 chunks */
    is_int(start(jobs, &w, 5, "A", &sa), 0, "a job is queued");
    ok(!sa.replied, "not answered before its row is committed");
    w.stop_after = 1;
    prt_loop_run(w.loop);
    a = sa.rec;
    ok(sa.replied && sa.rc == 0, "answered once committed");
    ok(sa.stored_running, "it was in the store, running, before any chunk "
       "committed");
    ok(sa.in_memory, "it was running in memory");
    ok(prt_store_job_get(w.store, NULL, a.id, &rec) == 1
       && rec.status == PRT_JOB_COMPLETED, "then completed in the store");
    is_int(rec.completed + rec.failed, 5, "every symbol is accounted for");
    is_int(rec.completed, 0, "no index: no prediction");
    is_int(failures(w.store, a.id), 5, "a failure record per symbol");
    ok(prt_jobs_running(jobs, a.id) == NULL, "no longer running in memory");
    is_int(w.committed_calls, 3, "three chunks committed (5 by 2)");
    is_int(w.committed_preds, 0, "with no prediction to track");
    /* a progress per chunk, one more at the end */
    is_int(count_kind(&w, a.id, PRT_EVENT_PROGRESS), 4,
           "a progress event per chunk and one at the end");
    is_int(complete_at(&w, a.id), (int) w.n - 1, "job_complete comes last");
    is_int(w.unannounced, 0, "every progress matches what was committed");

    /* round-robin: one chunk at a time, a big job does not hold a small
     * one back: C (1 symbol) gets the second chunk and finishes first */
    phase_free(&ph, &w);
    if (phase_new(&ph, &w) != 0) {
        printf("Bail out! phase 2\n");
        return 1;
    }
    jobs = ph.jobs;
    w.stop_after = 2;
    start(jobs, &w, 9, "B", &sb);
    start(jobs, &w, 1, "C", &sc);
    prt_loop_run(w.loop);
    b = sb.rec;
    c = sc.rec;
    ok(complete_at(&w, c.id) >= 0
       && complete_at(&w, c.id) < complete_at(&w, b.id),
       "the small job started second completes first");
    ok(prt_store_job_get(w.store, NULL, b.id, &rec) == 1
       && rec.failed + rec.completed == 9, "the big one completes whole");

    /* cancelled with a chunk in flight: that chunk commits, no other
     * starts, and the job ends cancelled */
    phase_free(&ph, &w);
    if (phase_new(&ph, &w) != 0) {
        printf("Bail out! phase 3\n");
        return 1;
    }
    jobs = ph.jobs;
    w.stop_after = 1;
    start(jobs, &w, 8, "D", &sa);
    sa.cancel = 1;
    prt_loop_run(w.loop);
    a = sa.rec;
    is_int(sa.cancel_rc[0], 1, "a running job cancels");
    is_int(sa.cancel_rc[1], 1, "cancelling twice: queued behind the first");
    is_int(sa.cancels_answered, 2, "both answered once the row is committed");
    is_int(sa.cancel_status, PRT_JOB_CANCELLED, "its record says cancelled");
    ok(prt_store_job_get(w.store, NULL, a.id, &rec) == 1
       && rec.status == PRT_JOB_CANCELLED, "the store keeps it cancelled");
    is_int(rec.completed + rec.failed, 2,
           "only the chunk in flight was scanned");
    is_int(failures(w.store, a.id), 2, "and its failures kept");
    is_int(count_kind(&w, a.id, PRT_EVENT_JOB_COMPLETE), 1,
           "one job_complete for the cancelled job");
    is_int(w.unannounced, 0, "every progress matches what was committed");

    /* no symbols: completes without a chunk */
    phase_free(&ph, &w);
    if (phase_new(&ph, &w) != 0) {
        printf("Bail out! phase 4\n");
        return 1;
    }
    jobs = ph.jobs;
    w.n = 0;
    w.stop_after = 1;
    is_int(start(jobs, &w, 0, "E", &sa), 0, "a job without symbols starts");
    prt_loop_run(w.loop);
    a = sa.rec;
    ok(prt_store_job_get(w.store, NULL, a.id, &rec) == 1
       && rec.status == PRT_JOB_COMPLETED, "and is completed");
    is_int(count_kind(&w, a.id, PRT_EVENT_JOB_COMPLETE), 1,
           "with its job_complete");
    is_int(prt_jobs_cancel(jobs, a.id, cancel_reply, &sa), 0,
           "a finished job does not cancel");

    phase_free(&ph, &w);
    prt_store_close(w.store);
    prt_barstore_close(bars);
    {
        char  cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_root);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", tmp_root);
        }
    }
    return done_testing();
}
