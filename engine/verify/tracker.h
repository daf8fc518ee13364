/*
 * Open predictions (scanned, horizon not reached yet) by symbol, so that
 * each live bar of a symbol becomes a price_update for them (SPEC 5.3): the
 * unrealised return and pnl at that price and the minutes left. The final
 * update, at the horizon, comes with the verification (verify.c).
 */
#ifndef PRT_TRACKER_H
#define PRT_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "clock/clock.h"
#include "events/events.h"
#include "jobs/store.h"

typedef struct prt_tracker_s  prt_tracker_t;

/* Price updates go to events; the clock says which predictions are still
 * open when they are loaded. */
prt_tracker_t *prt_tracker_new(prt_events_t *events, prt_clock_t *clock);
void prt_tracker_free(prt_tracker_t *t);

/* Newly committed predictions (their due time after now). */
void prt_tracker_add(prt_tracker_t *t, const prt_pred_rec_t *preds, size_t n);

/* After a start: every prediction of the store's `pending` ordering (the
 * open ones of an earlier run); *due counts the others, already due (the
 * verifier's first pass). Returns 0, or -1 when the store could not be
 * read. */
int prt_tracker_load(prt_tracker_t *t, prt_store_t *store, size_t *due);

/* A bar of symbol closed at price: updates for its open predictions;
 * those whose horizon has passed are dropped. */
void prt_tracker_price(prt_tracker_t *t, const char *symbol, double price,
    int64_t bar_end_ms);

size_t prt_tracker_open(const prt_tracker_t *t);

#endif
