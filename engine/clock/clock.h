/*
 * The engine's one clock (SPEC 4), read by every time-dependent part:
 *   real   UTC now
 *   fixed  an ISO-8601 instant given at start (tests); it does not move
 *   feed   the end of the latest bar ingested, so a replay or a backtest
 *          runs on market time
 */
#ifndef PRT_CLOCK_H
#define PRT_CLOCK_H

#include <stdint.h>

typedef enum {
    PRT_CLOCK_REAL = 0,
    PRT_CLOCK_FIXED,
    PRT_CLOCK_FEED
} prt_clock_mode_t;

typedef struct {
    prt_clock_mode_t  mode;
    int64_t           fixed_ms;
    int64_t           feed_ms;        /* 0 until the first bar */
} prt_clock_t;

/* "real", "feed" or an instant; -1 when it is none of them */
int     prt_clock_init(prt_clock_t *c, const char *spec);
int64_t prt_clock_now_ms(const prt_clock_t *c);
void    prt_clock_feed(prt_clock_t *c, int64_t bar_end_ms);
const char *prt_clock_mode_name(const prt_clock_t *c);

#endif
