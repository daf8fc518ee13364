/*
 * A minute bar as the engine keeps it.
 *
 * Bars belong to a trading day (the New York calendar date) and are addressed
 * by their start minute in New York civil time, so a day's bars are a sorted
 * array with at most one bar per minute. US DST switches happen on Sundays,
 * never inside a trading day, so a day's UTC offset is constant and
 * minute -> UTC is one addition (see include/pattern_rt_nytime.h).
 */
#ifndef PRT_BAR_H
#define PRT_BAR_H

#include <stdint.h>

#define PRT_TICKER_LEN     10      /* ^[A-Z][A-Z0-9.-]{0,9}$ (SPEC §5.1) */
#define PRT_TICKER_SIZE    16      /* NUL-padded storage for a ticker */

#define PRT_MINUTE_FIRST   240     /* 04:00 ET: first bar start of a day */
#define PRT_MINUTE_LAST    1199    /* 19:59 ET: last bar start of a day */
#define PRT_MINUTE_END     1200    /* 20:00 ET: end of the extended day */
#define PRT_MINUTES_PER_DAY (PRT_MINUTE_END - PRT_MINUTE_FIRST)

typedef struct {
    int32_t   minute;        /* bar start, minutes after 00:00 ET */
    uint32_t  transactions;
    double    open;
    double    high;
    double    low;
    double    close;
    double    volume;
} prt_bar_t;

/* A calendar day is a count of days since 1970-01-01 (New York date). */
typedef int32_t prt_day_t;

#endif
