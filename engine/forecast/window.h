/*
 * The query side of SPEC 2.2: a ticker's bars of one trading day from the
 * bar store, and the 30-minute window ending at the latest complete bar
 * ("start + 1 minute <= the query instant").
 */
#ifndef PRT_QUERY_WINDOW_H
#define PRT_QUERY_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "data/barstore.h"
#include "index/pattern.h"
#include "pattern_rt_errors.h"

typedef struct {
    prt_bar_t          bars[PRT_BS_DAY_BARS];
    size_t             n;
    size_t             end_idx;          /* bar t */
    int32_t            day;
    float              vec[PRT_WINDOW];
    prt_window_info_t  info;
    int64_t            bar_time;         /* start of bar t, Unix s */
} prt_query_window_t;

/* The window of ticker at instant at_ms (historical: its own day). */
prt_error_t prt_window_at(prt_barstore_t *bs, const char *ticker,
    int64_t at_ms, prt_query_window_t *w, char *reason, size_t len);

/* The window ending at the latest complete bar as of now_ms, on the latest
 * day with bars up to now (realtime). */
prt_error_t prt_window_latest(prt_barstore_t *bs, const char *ticker,
    int64_t now_ms, prt_query_window_t *w, char *reason, size_t len);

#endif
