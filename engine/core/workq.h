/*
 * Work off the event loop: FAISS searches, scan chunks, index loads run on
 * a few worker threads; each task's `done` then runs on the loop thread
 * (woken through an eventfd), which is where responses are sent and
 * shared state changes. Two lanes: interactive requests go before job
 * chunks, so a long scan never holds up a single search for long.
 */
#ifndef PRT_WORKQ_H
#define PRT_WORKQ_H

#include <stddef.h>

#include "core/loop.h"

typedef struct prt_task_s   prt_task_t;
typedef struct prt_workq_s  prt_workq_t;

typedef enum {
    PRT_LANE_INTERACTIVE = 0,
    PRT_LANE_BATCH = 1
} prt_lane_t;

struct prt_task_s {
    void        (*run)(prt_task_t *t);     /* on a worker thread */
    void        (*done)(prt_task_t *t);    /* on the loop thread */
    prt_task_t   *next;
};

prt_workq_t *prt_workq_new(prt_loop_t *loop, unsigned threads);
/* Stops the threads after the tasks already queued have run; their
 * `done` callbacks are not called. */
void prt_workq_free(prt_workq_t *q);

void   prt_workq_submit(prt_workq_t *q, prt_task_t *t, prt_lane_t lane);
size_t prt_workq_queued(prt_workq_t *q, prt_lane_t lane);
unsigned prt_workq_threads(const prt_workq_t *q);

#endif
