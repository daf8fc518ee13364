/*
 * The verification timer (SPEC 6). A prediction (bar t, horizon h) is due
 * once a bar starting at or after t+h has arrived for its ticker, or the
 * clock has passed the end of the t+h minute plus the grace
 * (t+h+1min+grace: the grace is how long a late bar is waited for, counted
 * from when it could first exist); it is verified at C(t+h), the close of
 * the latest bar starting at or before t+h in the same trading day (the
 * rule the trajectories use). When t+h lies past the day's extended
 * session, the day's last minute takes its place: due once the ticker's
 * bar of that minute arrived or its end plus the grace passed, verified at
 * the day's last bar. Without
 * any such price it is closed as unverifiable (E_PRICE), never left
 * pending for ever.
 *
 * A pass reads only the pending ordering up to the clock, on a worker
 * thread, bounded in predictions per pass; the loop thread commits the
 * outcome in one transaction, then broadcasts `verification` events and
 * the final `price_update` of each. Passes run every verify_interval_ms and
 * right after ingest (at once with the feed clock).
 */
#ifndef PRT_VERIFY_H
#define PRT_VERIFY_H

#include <stdint.h>

#include "clock/clock.h"
#include "core/json.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/workq.h"
#include "data/barstore.h"
#include "events/events.h"
#include "jobs/store.h"
#include "stats/calibration.h"

typedef struct prt_verifier_s  prt_verifier_t;

typedef struct {
    prt_loop_t       *loop;            /* the timers */
    prt_workq_t      *workq;           /* passes run on its interactive lane */
    prt_clock_t      *clock;
    prt_store_t      *store;
    prt_barstore_t   *bars;
    prt_events_t     *events;          /* verification, final price_update */
    uint64_t          interval_ms;     /* between passes */
    uint64_t          grace_s;         /* how long a late bar is waited for */
    uint64_t          batch;           /* most predictions per pass */
    prt_calibrator_t *calib;           /* fed each verified prediction */
} prt_verifier_conf_t;

prt_verifier_t *prt_verifier_new(const prt_verifier_conf_t *conf);
void prt_verifier_free(prt_verifier_t *v);

/* At start, n predictions are due already (a restart after a stop): the
 * first pass's memory is made ready now (engine/verify/verify.c). */
void prt_verifier_prepare(prt_verifier_t *v, size_t n);

/* Bars arrived: with the feed clock a pass runs now, else on the timer. */
void prt_verifier_ingested(prt_verifier_t *v);

/* A pass now (tests, the replay's end). */
void prt_verifier_kick(prt_verifier_t *v);

void prt_verifier_stats_json(prt_verifier_t *v, prt_json_t *j);
/* Prometheus text (docs/metrics.md) */
void prt_verifier_metrics(prt_verifier_t *v, prt_text_t *t);

#endif
