/*
 * NYSE calendar: every weekday of the years below against the exchange's
 * published holiday and early-close lists (hard-coded here; sources in
 * docs/calendar.md), the special closures, session boundaries on both
 * sides of the DST switches, next/previous trading day and the
 * `calendar` command's output.
 */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "clock/calendar.h"
#include "tools/calendar.h"
#include "pattern_rt_nytime.h"

#define EST_H  5        /* hours behind UTC */
#define EDT_H  4

/* UTC seconds of a New York wall time whose offset the test states
 * itself, so the session checks do not lean on the code under test. */
static int64_t
at(int y, int mo, int d, int h, int mi, int s, int behind_h)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h + behind_h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t) timegm(&tm);
}

/* Weekday by the C library (0 = Sunday). */
static int
libc_wday(int y, int mo, int d)
{
    struct tm tm;
    time_t    t = (time_t) at(y, mo, d, 12, 0, 0, 0);

    gmtime_r(&t, &tm);
    return tm.tm_wday;
}

static int64_t
day_of(int y, int mo, int d)
{
    return prt_days_from_civil(y, mo, d);
}

/* ---- published lists ------------------------------------------------- */

#define MAX_DATES  16

typedef struct {
    int year;
    int closed[MAX_DATES];     /* MMDD of weekday closures, 0-terminated */
    int early[MAX_DATES];      /* MMDD of 13:00 closes, 0-terminated */
} year_list_t;

/* Each list is the complete set for its year: every other weekday must be
 * an ordinary 09:30-16:00 day.
 *   2019..2027  NYSE Group holiday announcements (2020-22, 2021-23,
 *               2022-24, 2023-25 and 2025-27 releases) and the NYSE 2019
 *               list; 2025-01-09 from the NYSE/Nasdaq closure notice.
 *   2011..2015  NYSE schedules as republished at the time (per-year
 *               sources in docs/calendar.md).
 *   2001..2004  holidays: NYSE holiday history as listed by QuantConnect;
 *               early closes: NYSE closings history (pandas_market_calendars
 *               data), see docs/calendar.md. */
static const year_list_t published[] = {
    { 2001, { 101, 115, 219, 413, 528, 704, 903, 911, 912, 913, 914, 1122,
              1225 },
            { 703, 1123, 1224 } },
    { 2002, { 101, 121, 218, 329, 527, 704, 902, 1128, 1225 },
            { 705, 1129, 1224 } },
    { 2003, { 101, 120, 217, 418, 526, 704, 901, 1127, 1225 },
            { 703, 1128, 1224, 1226 } },
    { 2004, { 101, 119, 216, 409, 531, 611, 705, 906, 1125, 1224 },
            { 1126 } },
    { 2011, { 117, 221, 422, 530, 704, 905, 1124, 1226 },
            { 1125 } },
    { 2012, { 102, 116, 220, 406, 528, 704, 903, 1029, 1030, 1122, 1225 },
            { 703, 1123, 1224 } },
    { 2013, { 101, 121, 218, 329, 527, 704, 902, 1128, 1225 },
            { 703, 1129, 1224 } },
    { 2014, { 101, 120, 217, 418, 526, 704, 901, 1127, 1225 },
            { 703, 1128, 1224 } },
    { 2015, { 101, 119, 216, 403, 525, 703, 907, 1126, 1225 },
            { 1127, 1224 } },
    { 2019, { 101, 121, 218, 419, 527, 704, 902, 1128, 1225 },
            { 703, 1129, 1224 } },
    { 2020, { 101, 120, 217, 410, 525, 703, 907, 1126, 1225 },
            { 1127, 1224 } },
    { 2021, { 101, 118, 215, 402, 531, 705, 906, 1125, 1224 },
            { 1126 } },
    { 2022, { 117, 221, 415, 530, 620, 704, 905, 1124, 1226 },
            { 1125 } },
    { 2023, { 102, 116, 220, 407, 529, 619, 704, 904, 1123, 1225 },
            { 703, 1124 } },
    { 2024, { 101, 115, 219, 329, 527, 619, 704, 902, 1128, 1225 },
            { 703, 1129, 1224 } },
    { 2025, { 101, 109, 120, 217, 418, 526, 619, 704, 901, 1127, 1225 },
            { 703, 1128, 1224 } },
    { 2026, { 101, 119, 216, 403, 525, 619, 703, 907, 1126, 1225 },
            { 1127, 1224 } },
    { 2027, { 101, 118, 215, 326, 531, 618, 705, 906, 1125, 1224 },
            { 1126 } },
};

static int
listed(const int *mmdd, int month, int day)
{
    int i;

    for (i = 0; i < MAX_DATES && mmdd[i] != 0; i++) {
        if (mmdd[i] == month * 100 + day) {
            return 1;
        }
    }
    return 0;
}

static void
check_listed_dates(const year_list_t *yl)
{
    prt_trading_day_t td;
    int               i, m, d;

    for (i = 0; i < MAX_DATES && yl->closed[i] != 0; i++) {
        m = yl->closed[i] / 100;
        d = yl->closed[i] % 100;
        prt_calendar_day(day_of(yl->year, m, d), &td);
        ok(!td.trading && td.name != NULL, "%d-%02d-%02d closed (%s)",
           yl->year, m, d, td.name ? td.name : "no name");
    }
    for (i = 0; i < MAX_DATES && yl->early[i] != 0; i++) {
        m = yl->early[i] / 100;
        d = yl->early[i] % 100;
        prt_calendar_day(day_of(yl->year, m, d), &td);
        ok(td.trading && td.early_close && td.regular_close == 780
           && td.post_close == 1020 && td.name != NULL,
           "%d-%02d-%02d closes 13:00, post 17:00 (%s)", yl->year, m, d,
           td.name ? td.name : "no name");
    }
}

/* Every other weekday of the year is an ordinary day, weekends closed. */
static void
check_rest_of_year(const year_list_t *yl)
{
    prt_trading_day_t td;
    int               m, d, wd, bad = 0;

    for (m = 1; m <= 12; m++) {
        for (d = 1; d <= prt_days_in_month(yl->year, m); d++) {
            if (listed(yl->closed, m, d) || listed(yl->early, m, d)) {
                continue;
            }
            prt_calendar_day(day_of(yl->year, m, d), &td);
            wd = libc_wday(yl->year, m, d);
            if (wd == 0 || wd == 6) {
                if (td.trading || td.name != NULL) {
                    bad++;
                    printf("#   weekend %d-%02d-%02d not plainly closed\n",
                           yl->year, m, d);
                }
            } else if (!td.trading || td.early_close
                       || td.regular_close != 960 || td.post_close != 1200
                       || td.name != NULL)
            {
                bad++;
                printf("#   %d-%02d-%02d: trading %d close %d name %s\n",
                       yl->year, m, d, td.trading, td.regular_close,
                       td.name ? td.name : "-");
            }
        }
    }
    is_int(bad, 0, "%d: every other day ordinary, weekends closed",
           yl->year);
}

static void
test_published_years(void)
{
    size_t i;

    for (i = 0; i < sizeof(published) / sizeof(published[0]); i++) {
        check_listed_dates(&published[i]);
        check_rest_of_year(&published[i]);
    }
}

static void
is_day_name(int y, int m, int d, const char *want)
{
    prt_trading_day_t td;

    prt_calendar_day(day_of(y, m, d), &td);
    is_str(td.name, want, "%d-%02d-%02d is named", y, m, d);
}

static void
test_names(void)
{
    is_day_name(2023, 1, 2, "New Year's Day");
    is_day_name(2024, 1, 15, "Martin Luther King Jr. Day");
    is_day_name(2024, 2, 19, "Washington's Birthday");
    is_day_name(2024, 3, 29, "Good Friday");
    is_day_name(2024, 5, 27, "Memorial Day");
    is_day_name(2022, 6, 20, "Juneteenth National Independence Day");
    is_day_name(2026, 7, 3, "Independence Day");
    is_day_name(2024, 9, 2, "Labor Day");
    is_day_name(2024, 11, 28, "Thanksgiving Day");
    is_day_name(2021, 12, 24, "Christmas Day");
    is_day_name(2024, 7, 3, "Independence Day");
    is_day_name(2024, 11, 29, "Day after Thanksgiving");
    is_day_name(2024, 12, 24, "Christmas Eve");
    is_day_name(2003, 12, 26, "Day after Christmas");
    is_day_name(2001, 9, 11, "September 11 attacks");
    is_day_name(2001, 9, 14, "September 11 attacks");
    is_day_name(2004, 6, 11, "President Reagan's funeral");
    is_day_name(2007, 1, 2, "President Ford's funeral");
    is_day_name(2012, 10, 29, "Hurricane Sandy");
    is_day_name(2012, 10, 30, "Hurricane Sandy");
    is_day_name(2018, 12, 5, "President George H.W. Bush's funeral");
    is_day_name(2025, 1, 9, "President Carter's funeral");
}

/* Saturday holidays move to Friday except at a month end; Juneteenth and
 * MLK Day start in their years. */
static void
test_observance_edges(void)
{
    prt_trading_day_t td;

    prt_calendar_day(day_of(2021, 12, 31), &td);
    ok(td.trading && td.name == NULL, "2021-12-31 open: Saturday New Year's "
       "Day 2022 not observed");
    prt_calendar_day(day_of(2010, 12, 31), &td);
    ok(td.trading, "2010-12-31 open (New Year's Day 2011 on a Saturday)");
    prt_calendar_day(day_of(2010, 12, 24), &td);
    ok(!td.trading, "2010-12-24 closed (Christmas on a Saturday)");
    prt_calendar_day(day_of(2017, 1, 2), &td);
    ok(!td.trading, "2017-01-02 closed (New Year's Day on a Sunday)");
    prt_calendar_day(day_of(2021, 6, 18), &td);
    ok(td.trading, "2021-06-18 open: Juneteenth not yet an NYSE holiday");
    prt_calendar_day(day_of(1997, 1, 20), &td);
    ok(td.trading, "1997-01-20 open: MLK Day observed from 1998");
    prt_calendar_day(day_of(1998, 1, 19), &td);
    ok(!td.trading, "1998-01-19 closed: first MLK Day");
    prt_calendar_day(day_of(2032, 12, 24), &td);
    ok(!td.trading, "2032-12-24 closed (Christmas 2032 on a Saturday)");
    prt_calendar_day(day_of(2032, 12, 31), &td);
    ok(td.trading && !td.early_close && td.name == NULL,
       "2032-12-31 ordinary (New Year's Day 2033 on a Saturday)");
}

/* Good Friday is two days before Easter; Easter dates from published
 * tables, including the earliest and latest possible. */
static void
test_good_friday(void)
{
    static const int easter[][3] = {
        { 1818, 3, 22 }, { 1943, 4, 25 }, { 2000, 4, 23 }, { 2008, 3, 23 },
        { 2011, 4, 24 }, { 2019, 4, 21 }, { 2038, 4, 25 }, { 2285, 3, 22 },
    };
    prt_trading_day_t td;
    size_t            i;

    for (i = 0; i < sizeof(easter) / sizeof(easter[0]); i++) {
        prt_calendar_day(day_of(easter[i][0], easter[i][1], easter[i][2]) - 2,
                         &td);
        ok(!td.trading && td.name != NULL
           && strcmp(td.name, "Good Friday") == 0,
           "Good Friday before Easter %d-%02d-%02d", easter[i][0],
           easter[i][1], easter[i][2]);
    }
}

/* For rule-only years the counts follow from weekdays alone: ten weekday
 * holidays (nine when January 1 is a Saturday), a Friday early close
 * after Thanksgiving, July 3 and December 24 when they fall Monday to
 * Thursday. */
static void
test_rule_counts(void)
{
    prt_trading_day_t td;
    int               y, m, d, wd, closed, early, want_closed, want_early;
    int               bad = 0;

    for (y = 2026; y <= 2200; y++) {
        closed = early = 0;
        for (m = 1; m <= 12; m++) {
            for (d = 1; d <= prt_days_in_month(y, m); d++) {
                wd = libc_wday(y, m, d);
                if (wd == 0 || wd == 6) {
                    continue;
                }
                prt_calendar_day(day_of(y, m, d), &td);
                closed += !td.trading;
                early += td.early_close;
            }
        }
        want_closed = 10 - (libc_wday(y, 1, 1) == 6);
        wd = libc_wday(y, 7, 3);
        want_early = 1 + (wd >= 1 && wd <= 4);
        wd = libc_wday(y, 12, 24);
        want_early += wd >= 1 && wd <= 4;
        if (closed != want_closed || early != want_early) {
            if (bad++ == 0) {
                printf("#   %d: %d closed (want %d), %d early (want %d)\n",
                       y, closed, want_closed, early, want_early);
            }
        }
    }
    is_int(bad, 0, "holiday and early-close counts 2026..2200 follow the "
           "rules");
}

/* ---- sessions -------------------------------------------------------- */

static void
is_state(int64_t utc, prt_session_t want, int since, int until,
         const char *reason, const char *what)
{
    prt_market_state_t st;
    int                same;

    prt_market_state(utc, &st);
    same = st.session == want && st.bars_since_open == since
           && st.bars_until_close == until
           && ((reason == NULL && st.reason == NULL)
               || (reason != NULL && st.reason != NULL
                   && strcmp(reason, st.reason) == 0));
    if (!ok(same, "%s", what)) {
        printf("#   got %s since %d until %d reason %s; want %s %d %d %s\n",
               prt_session_name(st.session), st.bars_since_open,
               st.bars_until_close, st.reason ? st.reason : "-",
               prt_session_name(want), since, until, reason ? reason : "-");
    }
}

/* The full ladder of boundaries on an ordinary day. */
static void
check_ordinary_day(int y, int mo, int d, int behind_h)
{
    char what[96];

#define STEP(h, mi, s, sess, since, until, reason, label) do {               \
        snprintf(what, sizeof(what), "%d-%02d-%02d %s", y, mo, d, label);    \
        is_state(at(y, mo, d, h, mi, s, behind_h), sess, since, until,       \
                 reason, what);                                              \
    } while (0)

    STEP(0, 0, 0, PRT_SESSION_CLOSED, 0, 960, "overnight", "00:00 closed");
    STEP(3, 59, 59, PRT_SESSION_CLOSED, 0, 721, "overnight", "03:59:59 closed");
    STEP(4, 0, 0, PRT_SESSION_PRE, 0, 720, NULL, "04:00 pre");
    STEP(9, 29, 59, PRT_SESSION_PRE, 0, 391, NULL, "09:29:59 pre");
    STEP(9, 30, 0, PRT_SESSION_REGULAR, 0, 390, NULL, "09:30 regular");
    STEP(12, 0, 30, PRT_SESSION_REGULAR, 150, 240, NULL, "12:00:30 regular");
    STEP(15, 59, 59, PRT_SESSION_REGULAR, 389, 1, NULL, "15:59:59 regular");
    STEP(16, 0, 0, PRT_SESSION_POST, 390, 0, NULL, "16:00 post");
    STEP(19, 59, 59, PRT_SESSION_POST, 390, 0, NULL, "19:59:59 post");
    STEP(20, 0, 0, PRT_SESSION_CLOSED, 390, 0, "overnight", "20:00 closed");
    STEP(23, 59, 59, PRT_SESSION_CLOSED, 390, 0, "overnight",
         "23:59:59 closed");
#undef STEP
}

static void
test_sessions(void)
{
    prt_market_state_t st;

    /* Mondays after each switch, both rule eras, and a plain winter and
     * summer day. */
    check_ordinary_day(2024, 3, 11, EDT_H);
    check_ordinary_day(2024, 11, 4, EST_H);
    check_ordinary_day(2025, 3, 10, EDT_H);
    check_ordinary_day(2025, 11, 3, EST_H);
    check_ordinary_day(2006, 4, 3, EDT_H);
    check_ordinary_day(2006, 10, 30, EST_H);
    check_ordinary_day(2024, 1, 8, EST_H);
    check_ordinary_day(2024, 8, 7, EDT_H);

    /* Early closes. */
    is_state(at(2024, 11, 29, 12, 59, 59, EST_H), PRT_SESSION_REGULAR, 209, 1,
             NULL, "2024-11-29 12:59:59 regular on an early close");
    is_state(at(2024, 11, 29, 13, 0, 0, EST_H), PRT_SESSION_POST, 210, 0,
             NULL, "2024-11-29 13:00 post on an early close");
    is_state(at(2024, 11, 29, 16, 0, 0, EST_H), PRT_SESSION_POST, 210, 0,
             NULL, "2024-11-29 16:00 still post");
    is_state(at(2024, 11, 29, 16, 59, 59, EST_H), PRT_SESSION_POST, 210, 0,
             NULL, "2024-11-29 16:59:59 post");
    is_state(at(2024, 11, 29, 17, 0, 0, EST_H), PRT_SESSION_CLOSED, 210, 0,
             "overnight", "2024-11-29 17:00 closed (post ends 17:00)");
    is_state(at(2024, 7, 3, 12, 59, 59, EDT_H), PRT_SESSION_REGULAR, 209, 1,
             NULL, "2024-07-03 12:59:59 regular");
    is_state(at(2024, 7, 3, 13, 0, 0, EDT_H), PRT_SESSION_POST, 210, 0,
             NULL, "2024-07-03 13:00 post");
    is_state(at(2024, 12, 24, 17, 0, 0, EST_H), PRT_SESSION_CLOSED, 210, 0,
             "overnight", "2024-12-24 17:00 closed");

    /* Closed days. */
    is_state(at(2024, 3, 9, 12, 0, 0, EST_H), PRT_SESSION_CLOSED, -1, -1,
             "weekend", "Saturday noon");
    is_state(at(2024, 3, 10, 12, 0, 0, EDT_H), PRT_SESSION_CLOSED, -1, -1,
             "weekend", "Sunday noon (switch day)");
    is_state(at(2024, 7, 4, 10, 0, 0, EDT_H), PRT_SESSION_CLOSED, -1, -1,
             "Independence Day", "holiday at 10:00");
    is_state(at(2024, 7, 4, 5, 0, 0, EDT_H), PRT_SESSION_CLOSED, -1, -1,
             "Independence Day", "holiday during pre-market hours");
    is_state(at(2025, 1, 9, 10, 0, 0, EST_H), PRT_SESSION_CLOSED, -1, -1,
             "President Carter's funeral", "special closure");

    prt_market_state(at(2024, 3, 9, 12, 0, 0, EST_H), &st);
    ok(st.weekend == 1, "Saturday is a weekend");
    prt_market_state(at(2024, 7, 4, 12, 0, 0, EDT_H), &st);
    ok(st.weekend == 0, "a weekday holiday is not a weekend");

    /* The New York day, not the UTC day, decides. */
    prt_market_state(at(2024, 3, 11, 20, 30, 0, EDT_H), &st);
    ok(st.day == day_of(2024, 3, 11) && st.minute == 20 * 60 + 30
       && st.session == PRT_SESSION_CLOSED,
       "20:30 EDT (00:30Z next day) belongs to the NY day and is closed");
    prt_market_state(at(2024, 11, 4, 19, 59, 59, EST_H), &st);
    ok(st.day == day_of(2024, 11, 4) && st.session == PRT_SESSION_POST,
       "19:59:59 EST (00:59:59Z next day) is still post");
    prt_market_state(at(2024, 3, 8, 20, 0, 0, EST_H), &st);
    ok(st.session == PRT_SESSION_CLOSED && st.weekend == 0
       && strcmp(st.reason, "overnight") == 0,
       "Friday 20:00 is overnight, not weekend");
    prt_market_state(at(2024, 3, 11, 9, 30, 0, EST_H), &st);
    ok(st.session == PRT_SESSION_REGULAR && st.minute == 10 * 60 + 30,
       "14:30Z on 2024-03-11 is 10:30 EDT, not 09:30");
}

static void
test_session_names(void)
{
    is_str(prt_session_name(PRT_SESSION_PRE), "pre", "pre");
    is_str(prt_session_name(PRT_SESSION_REGULAR), "regular", "regular");
    is_str(prt_session_name(PRT_SESSION_POST), "post", "post");
    is_str(prt_session_name(PRT_SESSION_CLOSED), "closed", "closed");
    is_str(prt_session_name((prt_session_t) 42), "closed", "unknown value");
}

/* ---- next / previous trading day ------------------------------------ */

static void
test_next_prev(void)
{
    prt_trading_day_t td;
    int64_t           day, n, p, k;
    int               bad = 0;

    is_int(prt_next_trading_day(day_of(2024, 7, 3)), day_of(2024, 7, 5),
           "after 2024-07-03 comes 07-05");
    is_int(prt_next_trading_day(day_of(2024, 7, 5)), day_of(2024, 7, 8),
           "after Friday comes Monday");
    is_int(prt_prev_trading_day(day_of(2024, 7, 5)), day_of(2024, 7, 3),
           "before 2024-07-05 comes 07-03");
    is_int(prt_next_trading_day(day_of(2001, 9, 10)), day_of(2001, 9, 17),
           "after 2001-09-10 comes 09-17");
    is_int(prt_prev_trading_day(day_of(2001, 9, 17)), day_of(2001, 9, 10),
           "before 2001-09-17 comes 09-10");
    is_int(prt_prev_trading_day(day_of(2025, 1, 10)), day_of(2025, 1, 8),
           "before 2025-01-10 comes 01-08");
    is_int(prt_next_trading_day(day_of(2024, 12, 31)), day_of(2025, 1, 2),
           "after 2024-12-31 comes 2025-01-02");
    is_int(prt_next_trading_day(day_of(2024, 3, 9)), day_of(2024, 3, 11),
           "from a Saturday, the Monday");

    /* Everything strictly between a day and its neighbour is closed. */
    for (day = day_of(2000, 1, 1); day < day_of(2031, 1, 1); day++) {
        n = prt_next_trading_day(day);
        p = prt_prev_trading_day(day);
        prt_calendar_day(n, &td);
        bad += !td.trading || n <= day || n - day > 7;
        prt_calendar_day(p, &td);
        bad += !td.trading || p >= day || day - p > 7;
        for (k = day + 1; k < n; k++) {
            prt_calendar_day(k, &td);
            bad += td.trading;
        }
    }
    is_int(bad, 0, "next/prev are the nearest trading days, 2000..2030");
}

/* ---- the command ----------------------------------------------------- */

typedef struct {
    int  rc;
    char out[4096];
    char err[4096];
} run_t;

static void
slurp(FILE *f, char *buf, size_t len)
{
    size_t n;

    rewind(f);
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
}

static void
run_command(int argc, char **argv, run_t *r)
{
    FILE *out = tmpfile(), *err = tmpfile();
    int   saved_out, saved_err;

    memset(r, 0, sizeof(*r));
    if (out == NULL || err == NULL) {
        r->rc = -100;
        return;
    }
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);

    r->rc = prt_calendar_command(argc, argv);

    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
    fclose(out);
    fclose(err);
}

static void
test_command(void)
{
    char  a0[] = "calendar", d1[] = "2024-07-01", d2[] = "2024-07-07";
    char  d3[] = "2025-01-08", d4[] = "2025-01-10", bad[] = "2024-7-1";
    char  d5[] = "2024-11-28", d6[] = "2024-11-29", far[] = "2200-01-01";
    char  d7[] = "2024-07-06", help[] = "--help";
    char *asked[] = { a0, help };
    char *july[] = { a0, d1, d2 }, *carter[] = { a0, d3, d4 };
    char *one[] = { a0, d1 }, *badfmt[] = { a0, bad, d2 };
    char *backwards[] = { a0, d2, d1 }, *toolong[] = { a0, d1, far };
    char *thanks[] = { a0, d5, d6 }, *weekend[] = { a0, d7, d2 };
    run_t r;

    run_command(3, july, &r);
    is_int(r.rc, 0, "calendar 2024-07-01 2024-07-07 exits 0");
    is_str(r.out,
           "2024-07-01 open 16:00 -\n"
           "2024-07-02 open 16:00 -\n"
           "2024-07-03 open 13:00 Independence Day (early close)\n"
           "2024-07-04 closed - Independence Day\n"
           "2024-07-05 open 16:00 -\n",
           "July 2024 lines, weekends skipped");

    run_command(3, carter, &r);
    is_str(r.out,
           "2025-01-08 open 16:00 -\n"
           "2025-01-09 closed - President Carter's funeral\n"
           "2025-01-10 open 16:00 -\n",
           "special closure line");

    run_command(3, thanks, &r);
    is_str(r.out,
           "2024-11-28 closed - Thanksgiving Day\n"
           "2024-11-29 open 13:00 Day after Thanksgiving (early close)\n",
           "Thanksgiving lines");

    run_command(3, weekend, &r);
    ok(r.rc == 0 && r.out[0] == '\0', "a weekend-only range prints nothing");

    run_command(2, one, &r);
    ok(r.rc == 2 && r.out[0] == '\0' && strstr(r.err, "usage:") != NULL,
       "one date: usage on stderr, exit 2");
    run_command(2, asked, &r);
    ok(r.rc == 0 && r.out[0] == '\0' && strstr(r.err, "usage:") != NULL,
       "--help: usage on stderr, exit 0");
    run_command(3, badfmt, &r);
    ok(r.rc == 2 && r.out[0] == '\0' && strstr(r.err, "2024-7-1") != NULL,
       "bad date named on stderr, exit 2");
    run_command(3, backwards, &r);
    ok(r.rc == 2 && r.out[0] == '\0', "FROM after TO: exit 2");
    run_command(3, toolong, &r);
    ok(r.rc == 2 && r.out[0] == '\0', "span beyond the limit: exit 2");
    run_command(0, NULL, &r);
    ok(r.rc == 2, "no arguments: exit 2");
}

int
main(void)
{
    test_published_years();
    test_names();
    test_observance_edges();
    test_good_friday();
    test_rule_counts();
    test_sessions();
    test_session_names();
    test_next_prev();
    test_command();
    return done_testing();
}
