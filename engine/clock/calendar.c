/*
 * NYSE calendar: rule-generated holidays and early closes, plus a table of
 * the dates the rules do not produce.  docs/calendar.md lists the sources
 * and what was checked year by year.
 */
#include "clock/calendar.h"

#include <stdio.h>
#include <string.h>

#include "pattern_rt_nytime.h"

enum { SUN = 0, MON = 1, THU = 4, SAT = 6 };

/* How a table entry overrides the rules for its date. */
typedef enum {
    SPECIAL_CLOSED,        /* exchange closed all day */
    SPECIAL_EARLY_CLOSE,   /* regular session ends at close_min */
    SPECIAL_FULL_DAY       /* a rule would close early; the NYSE did not */
} special_kind_t;

typedef struct {
    int             ymd;          /* YYYYMMDD, New York date */
    special_kind_t  kind;
    int             close_min;    /* SPECIAL_EARLY_CLOSE only */
    const char     *name;
} special_day_t;

/* Closures and early closes since 2000 that the rules below do not
 * generate, and the rule dates the NYSE did not follow.  Unscheduled
 * intraday halts (e.g. 2005-06-01, 15:56) and late opens are not modelled.
 * Keep sorted; one line per date. */
static const special_day_t special_days[] = {
    { 20010911, SPECIAL_CLOSED, 0, "September 11 attacks" },
    { 20010912, SPECIAL_CLOSED, 0, "September 11 attacks" },
    { 20010913, SPECIAL_CLOSED, 0, "September 11 attacks" },
    { 20010914, SPECIAL_CLOSED, 0, "September 11 attacks" },
    /* Before 2013, when July 4 fell on a Thursday the early close was
     * Friday July 5 instead of Wednesday July 3. */
    { 20020703, SPECIAL_FULL_DAY, 0, "Independence Day (no early close)" },
    { 20020705, SPECIAL_EARLY_CLOSE, PRT_EARLY_CLOSE_MIN,
      "Independence Day" },
    { 20031226, SPECIAL_EARLY_CLOSE, PRT_EARLY_CLOSE_MIN,
      "Day after Christmas" },
    { 20040611, SPECIAL_CLOSED, 0, "President Reagan's funeral" },
    { 20070102, SPECIAL_CLOSED, 0, "President Ford's funeral" },
    { 20121029, SPECIAL_CLOSED, 0, "Hurricane Sandy" },
    { 20121030, SPECIAL_CLOSED, 0, "Hurricane Sandy" },
    { 20181205, SPECIAL_CLOSED, 0, "President George H.W. Bush's funeral" },
    { 20250109, SPECIAL_CLOSED, 0, "President Carter's funeral" },
};

#define NSPECIAL  (sizeof(special_days) / sizeof(special_days[0]))

/* The post-market session always runs four hours past the regular close
 * (20:00 after 16:00, 17:00 after 13:00). */
#define POST_AFTER_CLOSE_MIN  240

static const special_day_t *
find_special(int y, int m, int d)
{
    int    ymd = y * 10000 + m * 100 + d;
    size_t i;

    for (i = 0; i < NSPECIAL; i++) {
        if (special_days[i].ymd == ymd) {
            return &special_days[i];
        }
    }
    return NULL;
}

static int
is_last_day_of_month(int64_t day)
{
    int y, m, d;

    prt_civil_from_days(day + 1, &y, &m, &d);
    return d == 1;
}

/* A fixed-date holiday moves to Monday from a Sunday and to Friday from a
 * Saturday, except that a Friday ending a monthly or yearly accounting
 * period stays open (NYSE Rule 7.2): this is why a Saturday New Year's Day
 * is not observed at all (2011, 2022). */
static int
is_observed_fixed(int64_t day, int y, int m, int d)
{
    int64_t actual = prt_days_from_civil(y, m, d);
    int     wd = prt_weekday(actual);

    if (wd == SAT) {
        return !is_last_day_of_month(actual - 1) && day == actual - 1;
    }
    if (wd == SUN) {
        return day == actual + 1;
    }
    return day == actual;
}

/* Easter Sunday, Gregorian computus (Meeus/Jones/Butcher). */
static int64_t
easter_sunday(int y)
{
    int a = y % 19, b = y / 100, c = y % 100;
    int d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
    int h = (19 * a + b - d - g + 15) % 30;
    int i = c / 4, k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7;
    int mm = (a + 11 * h + 22 * l) / 451;
    int month = (h + l - 7 * mm + 114) / 31;
    int dom = (h + l - 7 * mm + 114) % 31 + 1;

    return prt_days_from_civil(y, month, dom);
}

static int64_t
thanksgiving(int y)
{
    return prt_nth_weekday(y, 11, THU, 4);
}

/* Full-day holidays by rule; each observed date stays in the month of the
 * holiday (a Saturday January 1 is not observed), so only the rules of the
 * date's own month need checking. */
static const char *
rule_holiday(int64_t day, int y, int m)
{
    switch (m) {
    case 1:
        if (is_observed_fixed(day, y, 1, 1)) {
            return "New Year's Day";
        }
        if (y >= 1998 && day == prt_nth_weekday(y, 1, MON, 3)) {
            return "Martin Luther King Jr. Day";
        }
        return NULL;
    case 2:
        return day == prt_nth_weekday(y, 2, MON, 3) ? "Washington's Birthday"
                                                    : NULL;
    case 3:
    case 4:
        return day == easter_sunday(y) - 2 ? "Good Friday" : NULL;
    case 5:
        return day == prt_last_weekday(y, 5, MON) ? "Memorial Day" : NULL;
    case 6:
        return y >= 2022 && is_observed_fixed(day, y, 6, 19)
               ? "Juneteenth National Independence Day" : NULL;
    case 7:
        return is_observed_fixed(day, y, 7, 4) ? "Independence Day" : NULL;
    case 9:
        return day == prt_nth_weekday(y, 9, MON, 1) ? "Labor Day" : NULL;
    case 11:
        return day == thanksgiving(y) ? "Thanksgiving Day" : NULL;
    case 12:
        return is_observed_fixed(day, y, 12, 25) ? "Christmas Day" : NULL;
    default:
        return NULL;
    }
}

/* 13:00 closes by rule, for a weekday that is not a holiday. */
static const char *
rule_early_close(int64_t day, int y, int m, int d, int wd)
{
    int mon_to_thu = wd >= MON && wd <= THU;

    /* July 3 when July 4 is a Tuesday..Friday holiday. */
    if (m == 7 && d == 3 && mon_to_thu) {
        return "Independence Day";
    }
    if (m == 11 && day == thanksgiving(y) + 1) {
        return "Day after Thanksgiving";
    }
    /* On a Friday, December 24 is the observed Christmas holiday. */
    if (m == 12 && d == 24 && mon_to_thu) {
        return "Christmas Eve";
    }
    return NULL;
}

static void
set_trading(prt_trading_day_t *out, int regular_close, const char *name)
{
    out->trading = 1;
    out->early_close = regular_close < PRT_REGULAR_CLOSE_MIN;
    out->regular_close = regular_close;
    out->post_close = regular_close + POST_AFTER_CLOSE_MIN;
    out->name = name;
}

void
prt_calendar_day(int64_t day, prt_trading_day_t *out)
{
    const special_day_t *sp;
    const char          *name;
    int                  y, m, d, wd;

    memset(out, 0, sizeof(*out));
    wd = prt_weekday(day);
    if (wd == SAT || wd == SUN) {
        return;
    }
    prt_civil_from_days(day, &y, &m, &d);

    sp = find_special(y, m, d);
    if (sp != NULL && sp->kind == SPECIAL_CLOSED) {
        out->name = sp->name;
        return;
    }
    name = rule_holiday(day, y, m);
    if (name != NULL) {
        out->name = name;
        return;
    }

    if (sp != NULL && sp->kind == SPECIAL_EARLY_CLOSE) {
        set_trading(out, sp->close_min, sp->name);
    } else if (sp != NULL && sp->kind == SPECIAL_FULL_DAY) {
        set_trading(out, PRT_REGULAR_CLOSE_MIN, NULL);
    } else {
        name = rule_early_close(day, y, m, d, wd);
        set_trading(out, name != NULL ? PRT_EARLY_CLOSE_MIN
                                      : PRT_REGULAR_CLOSE_MIN, name);
    }
}

static int
clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static prt_session_t
session_at(const prt_trading_day_t *td, int minute)
{
    if (minute < PRT_PRE_OPEN_MIN) {
        return PRT_SESSION_CLOSED;
    }
    if (minute < PRT_REGULAR_OPEN_MIN) {
        return PRT_SESSION_PRE;
    }
    if (minute < td->regular_close) {
        return PRT_SESSION_REGULAR;
    }
    if (minute < td->post_close) {
        return PRT_SESSION_POST;
    }
    return PRT_SESSION_CLOSED;
}

void
prt_market_state(int64_t utc_s, prt_market_state_t *out)
{
    prt_nytime_t      t;
    prt_trading_day_t td;

    prt_ny_from_utc(utc_s, &t);
    memset(out, 0, sizeof(*out));
    out->day = prt_days_from_civil(t.year, t.month, t.day);
    out->minute = t.hour * 60 + t.min;
    out->weekend = t.wday == SAT || t.wday == SUN;

    prt_calendar_day(out->day, &td);
    if (!td.trading) {
        out->session = PRT_SESSION_CLOSED;
        out->reason = out->weekend ? "weekend"
                      : (td.name != NULL ? td.name : "holiday");
        out->bars_since_open = -1;
        out->bars_until_close = -1;
        return;
    }

    out->session = session_at(&td, out->minute);
    out->reason = out->session == PRT_SESSION_CLOSED ? "overnight" : NULL;
    out->bars_since_open = clamp_int(out->minute - PRT_REGULAR_OPEN_MIN, 0,
                                     td.regular_close - PRT_REGULAR_OPEN_MIN);
    out->bars_until_close = td.regular_close > out->minute
                            ? td.regular_close - out->minute : 0;
}

const char *
prt_session_name(prt_session_t s)
{
    switch (s) {
    case PRT_SESSION_PRE:
        return "pre";
    case PRT_SESSION_REGULAR:
        return "regular";
    case PRT_SESSION_POST:
        return "post";
    case PRT_SESSION_CLOSED:
    default:
        return "closed";
    }
}

/* The longest run of closed days is a few days (2001-09-11..17 with the
 * weekend), so a year is a bound that can only be hit by a broken table. */
#define MAX_SEARCH_DAYS  366

static int64_t
step_to_trading_day(int64_t day, int step)
{
    prt_trading_day_t td;
    int               i;

    for (i = 0; i < MAX_SEARCH_DAYS; i++) {
        day += step;
        prt_calendar_day(day, &td);
        if (td.trading) {
            return day;
        }
    }
    return PRT_DAY_NONE;
}

int64_t
prt_next_trading_day(int64_t day)
{
    return step_to_trading_day(day, 1);
}

int64_t
prt_prev_trading_day(int64_t day)
{
    return step_to_trading_day(day, -1);
}
