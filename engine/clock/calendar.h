/*
 * NYSE trading calendar and sessions (SPEC 4), pure functions of their
 * arguments: holidays come from rules, special closures and the few
 * irregular early closes from a constant table.  Rules, sources and the
 * year-by-year verification are in docs/calendar.md.
 *
 * All minute values are minutes after 00:00 New York time.
 */
#ifndef PRT_CALENDAR_H
#define PRT_CALENDAR_H

#include <stdint.h>

#define PRT_PRE_OPEN_MIN          240     /* 04:00 */
#define PRT_REGULAR_OPEN_MIN      570     /* 09:30 */
#define PRT_REGULAR_CLOSE_MIN     960     /* 16:00 */
#define PRT_POST_CLOSE_MIN        1200    /* 20:00 */
#define PRT_EARLY_CLOSE_MIN       780     /* 13:00 */
#define PRT_EARLY_POST_CLOSE_MIN  1020    /* 17:00 */

/* Returned by prt_next/prev_trading_day when no trading day lies within a
 * year, which the rules and the table make impossible. */
#define PRT_DAY_NONE              INT64_MIN

typedef enum {
    PRT_SESSION_CLOSED = 0,
    PRT_SESSION_PRE,
    PRT_SESSION_REGULAR,
    PRT_SESSION_POST
} prt_session_t;

typedef struct {
    int         trading;          /* 1 when the exchange opens that day */
    int         early_close;      /* 1 on a 13:00 close */
    int         regular_close;    /* 960, or 780 on an early close; 0 when
                                     not trading */
    int         post_close;       /* 1200, or 1020 on an early close; 0 when
                                     not trading */
    const char *name;             /* holiday, closure or early-close reason
                                     ("Independence Day", "Christmas Eve");
                                     NULL on ordinary days and weekends */
} prt_trading_day_t;

typedef struct {
    prt_session_t session;
    int64_t       day;               /* New York date (day number) */
    int           minute;            /* minutes after 00:00 ET */
    int           weekend;           /* 1 on Saturday and Sunday (ET) */
    const char   *reason;            /* why closed: "weekend", the holiday
                                        or closure name, or "overnight"
                                        (a trading day outside 04:00 to the
                                        post close); NULL when open */
    int           bars_since_open;   /* minutes since 09:30 clamped to
                                        [0, regular length]; -1 on
                                        non-trading days */
    int           bars_until_close;  /* minutes until the regular close,
                                        >= 0; -1 on non-trading days */
} prt_market_state_t;

/* The calendar entry of a New York date. */
void prt_calendar_day(int64_t day, prt_trading_day_t *out);

/* Session and counters at a UTC instant (seconds). */
void prt_market_state(int64_t utc_s, prt_market_state_t *out);

/* "pre" "regular" "post" "closed"; "closed" for unknown values too. */
const char *prt_session_name(prt_session_t s);

/* The first trading day strictly after / before day. */
int64_t prt_next_trading_day(int64_t day);
int64_t prt_prev_trading_day(int64_t day);

#endif /* PRT_CALENDAR_H */
