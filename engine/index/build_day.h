/*
 * One trading day of an index build: read the day's flat file, group its
 * bars per ticker, and extract every indexable pattern (SPEC 2.2, 2.3).
 * Runs on a build worker thread; the result is merged in day order by the
 * build's main thread (index/build.c).
 */
#ifndef PRT_BUILD_DAY_H
#define PRT_BUILD_DAY_H

#include <stddef.h>
#include <stdint.h>

#include "data/bar.h"
#include "data/flatfile.h"
#include "index/pattern.h"

typedef struct {
    /* input */
    char            *path;
    prt_day_t        day;
    double           min_window_volume;

    /* result */
    int              failed;            /* the file could not be read */
    char             error[256];
    prt_ff_stats_t   ff;
    uint64_t         rows_other_day;    /* rows of another New York date */
    uint64_t         rows_duplicate;    /* same ticker and minute twice */

    uint32_t         ntickers;          /* in file (ticker) order */
    char           (*tickers)[PRT_TICKER_SIZE];
    size_t          *bar_start;         /* ntickers + 1 offsets into bars */
    prt_bar_t       *bars;
    size_t           nbars;

    size_t           npatterns;
    uint32_t        *pat_ticker;        /* index into tickers */
    uint32_t        *pat_minute;        /* bar start, Unix minutes */
    float           *vectors;           /* npatterns * PRT_WINDOW */
    float           *trajectories;      /* npatterns * PRT_N_HORIZONS */

    uint64_t         windows_short;
    uint64_t         windows_flat;
    uint64_t         windows_price;
    uint64_t         windows_low_volume;
} prt_build_day_t;

/* Fills the result part of d. Returns 0, or -1 with d->failed and
 * d->error set (only for file-level errors: row problems are counted). */
int  prt_build_day_run(prt_build_day_t *d);
void prt_build_day_free(prt_build_day_t *d);

#endif
