/*
 * The running engine daemon: everything the request handlers and timers
 * share. One instance, owned by `serve` (engine/serve.c), driven by one
 * event loop. The folders below api/ do not see it: serve.c hands each
 * part what it uses.
 */
#ifndef PRT_ENGINE_H
#define PRT_ENGINE_H

#include <stdint.h>

#include "clock/clock.h"
#include "core/config.h"
#include "core/loop.h"
#include "core/workq.h"
#include "data/barstore.h"
#include "index/index.h"
#include "ipc/server.h"
#include "jobs/jobs.h"
#include "jobs/store.h"
#include "stats/calibration.h"
#include "verify/verify.h"
#include "events/events.h"
#include "verify/tracker.h"
#include "relay/relay.h"

typedef struct prt_engine_s {
    prt_config_t     conf;
    prt_loop_t      *loop;
    prt_server_t    *server;
    prt_workq_t     *workq;
    prt_clock_t      clock;
    uint64_t         started_at_ms;
    prt_io_t         signal_io;

    char            *index_dir;       /* <data_dir>/index */
    prt_index_t     *index;           /* NULL until one is built */
    int              reloading;
    prt_barstore_t  *bars;
    prt_store_t     *store;
    prt_jobs_t      *jobs;
    prt_verifier_t  *verifier;
    prt_events_t    *events;
    prt_relay_t     *relay;           /* other nodes' events: NULL on LMDB */
    uint64_t        *calib_loaded;    /* ids the calibration read at start,
                                         sorted: heard again, not counted */
    size_t           calib_loaded_n;
    prt_timer_t      calib_loaded_timer;
    prt_tracker_t   *tracker;
    prt_calibrator_t *calib;          /* prob_up_calibrated, walk-forward */
    uint64_t         bars_ingested;
} prt_engine_t;

/* The current index with a reference for the caller (NULL when none);
 * release it with prt_index_unref(). */
static inline prt_index_t *
prt_engine_index(prt_engine_t *e)
{
    return prt_index_acquire(&e->index);
}

#endif
