/*
 * New York civil time: DST switch instants in both rule eras, civil <-> day
 * numbers against the C library's UTC conversions, ISO-8601 formatting and
 * parsing, and a cross-check against the system zoneinfo (TZ is set here,
 * in the test only: the engine code never touches it).
 */
#include <stdint.h>
#include <time.h>

#include "tap.h"
#include "pattern_rt_nytime.h"

#define EST  (-5 * 3600)
#define EDT  (-4 * 3600)

/* UTC seconds of a UTC civil time, computed by the C library. */
static int64_t
utc_of(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t) timegm(&tm);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t
rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int64_t
rng_range(int64_t lo, int64_t hi)          /* [lo, hi) */
{
    return lo + (int64_t) (rng_next() % (uint64_t) (hi - lo));
}

static void
is_ny(int64_t utc, int y, int mo, int d, int h, int mi, int s, int off,
      const char *what)
{
    prt_nytime_t t;
    int          same;

    prt_ny_from_utc(utc, &t);
    same = t.year == y && t.month == mo && t.day == d && t.hour == h
           && t.min == mi && t.sec == s && t.utc_offset_s == off;
    if (!ok(same, "%s", what)) {
        printf("#   got %04d-%02d-%02d %02d:%02d:%02d off %d, "
               "want %04d-%02d-%02d %02d:%02d:%02d off %d\n",
               t.year, t.month, t.day, t.hour, t.min, t.sec, t.utc_offset_s,
               y, mo, d, h, mi, s, off);
    }
}

static void
test_known_days(void)
{
    is_int(prt_days_from_civil(1970, 1, 1), 0, "epoch is day 0");
    is_int(prt_days_from_civil(1969, 12, 31), -1, "day before the epoch");
    is_int(prt_days_from_civil(2000, 1, 1), 10957, "2000-01-01");
    is_int(prt_days_from_civil(2024, 3, 10), 19792, "2024-03-10");
    is_int(prt_days_from_civil(1, 1, 1), PRT_DAY_MIN, "0001-01-01 = DAY_MIN");
    is_int(prt_days_from_civil(9999, 12, 31), PRT_DAY_MAX,
           "9999-12-31 = DAY_MAX");
    is_int(prt_days_from_civil(2024, 13, 1), prt_days_from_civil(2025, 1, 1),
           "month 13 carries into the next year");
    is_int(prt_days_from_civil(2024, 0, 31),
           prt_days_from_civil(2023, 12, 31), "month 0 is last December");
    is_int(prt_days_from_civil(2024, 3, 0), prt_days_from_civil(2024, 2, 29),
           "day 0 is the last day of the previous month");
    is_int(prt_weekday(0), 4, "1970-01-01 was a Thursday");
    is_int(prt_weekday(-1), 3, "1969-12-31 was a Wednesday");
    is_int(prt_weekday(prt_days_from_civil(2024, 3, 10)), 0,
           "2024-03-10 was a Sunday");
    is_int(prt_days_in_month(2024, 2), 29, "February 2024 has 29 days");
    is_int(prt_days_in_month(1900, 2), 28, "February 1900 has 28 days");
    is_int(prt_days_in_month(2000, 2), 29, "February 2000 has 29 days");
    is_int(prt_days_in_month(2023, 13), 0, "month 13 has no days");
    is_int(prt_nth_weekday(2024, 3, 0, 2), prt_days_from_civil(2024, 3, 10),
           "2nd Sunday of March 2024");
    is_int(prt_last_weekday(2006, 10, 0), prt_days_from_civil(2006, 10, 29),
           "last Sunday of October 2006");
    is_int(prt_last_weekday(2024, 5, 1), prt_days_from_civil(2024, 5, 27),
           "last Monday of May 2024");
}

/* Every day of years 0001..9999 against gmtime_r. */
static void
test_civil_round_trip(void)
{
    int64_t   day, bad = 0, first_bad = 0;
    struct tm tm;
    time_t    t;
    int       y, m, d;

    for (day = PRT_DAY_MIN; day <= PRT_DAY_MAX; day++) {
        t = (time_t) (day * 86400);
        if (gmtime_r(&t, &tm) == NULL) {
            bad++;
            continue;
        }
        prt_civil_from_days(day, &y, &m, &d);
        if (y != tm.tm_year + 1900 || m != tm.tm_mon + 1 || d != tm.tm_mday
            || prt_weekday(day) != tm.tm_wday
            || prt_days_from_civil(y, m, d) != day)
        {
            if (bad++ == 0) {
                first_bad = day;
            }
        }
    }
    if (!ok(bad == 0, "civil <-> days agrees with gmtime_r for 0001..9999")) {
        printf("#   %lld mismatches, first at day %lld\n",
               (long long) bad, (long long) first_bad);
    }

    prt_civil_from_days(PRT_DAY_MAX + 1000, &y, &m, &d);
    ok(y == 9999 && m == 12 && d == 31, "days past 9999-12-31 clamp to it");
    prt_civil_from_days(INT64_MIN, &y, &m, &d);
    ok(y == 1 && m == 1 && d == 1, "INT64_MIN clamps to 0001-01-01");
}

static void
test_dst_switches(void)
{
    /* 2007+ rule. */
    is_ny(utc_of(2024, 3, 10, 6, 59, 59), 2024, 3, 10, 1, 59, 59, EST,
          "2024-03-10 06:59:59Z is 01:59:59 EST");
    is_ny(utc_of(2024, 3, 10, 7, 0, 0), 2024, 3, 10, 3, 0, 0, EDT,
          "2024-03-10 07:00:00Z is 03:00:00 EDT");
    is_ny(utc_of(2024, 11, 3, 5, 59, 59), 2024, 11, 3, 1, 59, 59, EDT,
          "2024-11-03 05:59:59Z is 01:59:59 EDT");
    is_ny(utc_of(2024, 11, 3, 6, 0, 0), 2024, 11, 3, 1, 0, 0, EST,
          "2024-11-03 06:00:00Z is 01:00:00 EST (second pass)");
    is_ny(utc_of(2007, 3, 11, 7, 0, 0), 2007, 3, 11, 3, 0, 0, EDT,
          "2007-03-11, first year of the March rule");
    is_ny(utc_of(2007, 11, 4, 5, 59, 59), 2007, 11, 4, 1, 59, 59, EDT,
          "2007-11-04 still EDT before 06:00Z");
    is_ny(utc_of(2025, 3, 9, 6, 59, 59), 2025, 3, 9, 1, 59, 59, EST,
          "2025-03-09 before the switch");
    is_ny(utc_of(2025, 11, 2, 6, 0, 0), 2025, 11, 2, 1, 0, 0, EST,
          "2025-11-02 after the switch");

    /* 1987..2006 rule. */
    is_ny(utc_of(2006, 4, 2, 6, 59, 59), 2006, 4, 2, 1, 59, 59, EST,
          "2006-04-02 06:59:59Z is 01:59:59 EST");
    is_ny(utc_of(2006, 4, 2, 7, 0, 0), 2006, 4, 2, 3, 0, 0, EDT,
          "2006-04-02 07:00:00Z is 03:00:00 EDT");
    is_ny(utc_of(2006, 10, 29, 5, 59, 59), 2006, 10, 29, 1, 59, 59, EDT,
          "2006-10-29 05:59:59Z is 01:59:59 EDT");
    is_ny(utc_of(2006, 10, 29, 6, 0, 0), 2006, 10, 29, 1, 0, 0, EST,
          "2006-10-29 06:00:00Z is 01:00:00 EST");
    is_ny(utc_of(2006, 3, 12, 12, 0, 0), 2006, 3, 12, 7, 0, 0, EST,
          "2006-03-12 (2nd Sunday of March) is still EST under the old rule");
    is_ny(utc_of(1987, 4, 5, 7, 0, 0), 1987, 4, 5, 3, 0, 0, EDT,
          "1987-04-05, first year of the April rule");
    is_ny(utc_of(1980, 4, 6, 7, 0, 0), 1980, 4, 6, 3, 0, 0, EDT,
          "before 1987 the 1987 rule applies (documented choice)");

    /* Calendar-date edges. */
    is_ny(utc_of(2024, 1, 1, 4, 59, 59), 2023, 12, 31, 23, 59, 59, EST,
          "New Year in UTC is still the old year in New York");
    is_ny(utc_of(2024, 3, 1, 4, 0, 0), 2024, 2, 29, 23, 0, 0, EST,
          "leap day in New York");
    is_ny(-1, 1969, 12, 31, 18, 59, 59, EST, "one second before the epoch");
}

static void
test_ny_to_utc(void)
{
    is_int(prt_ny_to_utc(2024, 3, 11, 9, 30, 0), utc_of(2024, 3, 11, 13, 30, 0),
           "09:30 EDT on the Monday after the March switch");
    is_int(prt_ny_to_utc(2024, 1, 8, 9, 30, 0), utc_of(2024, 1, 8, 14, 30, 0),
           "09:30 EST in January");
    is_int(prt_ny_to_utc(2024, 3, 10, 2, 30, 0), utc_of(2024, 3, 10, 7, 30, 0),
           "02:30 in the spring gap is read as EST");
    is_int(prt_ny_to_utc(2024, 3, 10, 1, 59, 59),
           utc_of(2024, 3, 10, 6, 59, 59), "01:59:59 before the gap");
    is_int(prt_ny_to_utc(2024, 3, 10, 3, 0, 0), utc_of(2024, 3, 10, 7, 0, 0),
           "03:00 after the gap");
    is_int(prt_ny_to_utc(2024, 11, 3, 1, 30, 0), utc_of(2024, 11, 3, 5, 30, 0),
           "01:30 in the autumn overlap is the first (EDT) occurrence");
    is_int(prt_ny_to_utc(2024, 11, 3, 2, 0, 0), utc_of(2024, 11, 3, 7, 0, 0),
           "02:00 after the overlap is EST");
    is_int(prt_ny_to_utc(2024, 11, 3, 0, 59, 59),
           utc_of(2024, 11, 3, 4, 59, 59), "00:59:59 before the overlap");
    is_int(prt_ny_to_utc(2006, 10, 29, 1, 30, 0),
           utc_of(2006, 10, 29, 5, 30, 0), "2006 overlap, first occurrence");
    is_int(prt_ny_to_utc(2024, 3, 10, 24, 0, 0), utc_of(2024, 3, 11, 4, 0, 0),
           "hour 24 carries into the next day");

    is_int(prt_ny_day_start_utc(prt_days_from_civil(2024, 3, 10)),
           utc_of(2024, 3, 10, 5, 0, 0), "midnight of the March switch day");
    is_int(prt_ny_day_start_utc(prt_days_from_civil(2024, 3, 11)),
           utc_of(2024, 3, 11, 4, 0, 0), "midnight after the March switch");
    is_int(prt_ny_day_start_utc(prt_days_from_civil(2024, 11, 4)),
           utc_of(2024, 11, 4, 5, 0, 0), "midnight after the November switch");
    is_int(prt_ny_day_of_utc(utc_of(2024, 3, 11, 3, 59, 59)),
           prt_days_from_civil(2024, 3, 10), "03:59:59Z is the NY day before");
    is_int(prt_ny_day_of_utc(utc_of(2024, 3, 11, 4, 0, 0)),
           prt_days_from_civil(2024, 3, 11), "04:00Z starts an EDT day");
    is_int(prt_ny_day_of_utc(utc_of(2024, 1, 9, 4, 59, 59)),
           prt_days_from_civil(2024, 1, 8), "04:59:59Z is the EST day before");
}

/* ny_to_utc(ny_from_utc(u)) == u, except on the second pass of the
 * autumn overlap, which reads back as the first pass (one hour earlier). */
static void
test_round_trip_random(void)
{
    int64_t      lo = utc_of(1900, 1, 1, 0, 0, 0);
    int64_t      hi = utc_of(2200, 1, 1, 0, 0, 0);
    int64_t      u, back;
    prt_nytime_t t;
    int          i, bad = 0;

    for (i = 0; i < 200000; i++) {
        u = rng_range(lo, hi);
        prt_ny_from_utc(u, &t);
        back = prt_ny_to_utc(t.year, t.month, t.day, t.hour, t.min, t.sec);
        if (back != u
            && !(back == u - 3600 && t.utc_offset_s == EST && t.hour == 1))
        {
            if (bad++ == 0) {
                printf("#   first mismatch at %lld -> %lld\n",
                       (long long) u, (long long) back);
            }
        }
    }
    is_int(bad, 0, "NY -> UTC -> NY round trip over 1900..2200");
}

static int
zoneinfo_ready(void)
{
    struct tm tm;
    time_t    summer = (time_t) utc_of(2024, 7, 1, 12, 0, 0);

    if (setenv("TZ", "America/New_York", 1) != 0) {
        return 0;
    }
    tzset();
    return localtime_r(&summer, &tm) != NULL && tm.tm_gmtoff == EDT;
}

static int
matches_zoneinfo(int64_t u)
{
    struct tm    tm;
    prt_nytime_t t;
    time_t       tt = (time_t) u;

    if (localtime_r(&tt, &tm) == NULL) {
        return 0;
    }
    prt_ny_from_utc(u, &t);
    return t.year == tm.tm_year + 1900 && t.month == tm.tm_mon + 1
           && t.day == tm.tm_mday && t.hour == tm.tm_hour
           && t.min == tm.tm_min && t.sec == tm.tm_sec
           && t.wday == tm.tm_wday && t.utc_offset_s == tm.tm_gmtoff;
}

/* The tz database has the real history; compare from 1987, where our rules
 * are the real ones, to 2100. */
static void
test_against_zoneinfo(void)
{
    int64_t   lo = utc_of(1987, 1, 1, 0, 0, 0);
    int64_t   hi = utc_of(2100, 1, 1, 0, 0, 0);
    int64_t   u, got;
    struct tm tm;
    time_t    tt;
    int       i, bad = 0, checked = 0;

    if (!ok(zoneinfo_ready(), "system zoneinfo for America/New_York loads")) {
        return;
    }

    for (i = 0; i < 5000; i++) {
        u = rng_range(lo, hi);
        if (!matches_zoneinfo(u) && bad++ == 0) {
            printf("#   first mismatch at %lld\n", (long long) u);
        }
    }
    is_int(bad, 0, "5000 random instants 1987..2100 match localtime_r");

    /* Every hour boundary and the second before it: catches a switch that
     * is off by an hour or a day in any year. */
    bad = 0;
    for (u = lo; u < hi; u += 3600) {
        if ((!matches_zoneinfo(u) || !matches_zoneinfo(u - 1)) && bad++ == 0) {
            printf("#   first mismatch near %lld\n", (long long) u);
        }
    }
    is_int(bad, 0, "every hour boundary 1987..2100 matches localtime_r");

    /* Wall time -> UTC against mktime, away from the switch hours where
     * mktime's choice is unspecified. */
    bad = 0;
    for (i = 0; i < 5000; i++) {
        u = rng_range(lo, hi);
        tt = (time_t) u;
        if (localtime_r(&tt, &tm) == NULL) {
            bad++;
            continue;
        }
        if (tm.tm_wday == 0 && tm.tm_hour <= 3) {
            continue;
        }
        checked++;
        got = prt_ny_to_utc(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec);
        tm.tm_isdst = -1;
        if (got != (int64_t) mktime(&tm) && bad++ == 0) {
            printf("#   first mismatch at %lld\n", (long long) u);
        }
    }
    ok(bad == 0 && checked > 4000, "%d wall times match mktime", checked);

    unsetenv("TZ");
    tzset();
}

static void
is_format(int64_t ms, const char *want, const char *what)
{
    char buf[PRT_ISO_BUF_LEN];
    int  n = prt_format_utc_iso(ms, buf, sizeof(buf));

    is_str(n >= 0 ? buf : "(error)", want, "%s", what);
    is_int(n, (long long) strlen(want), "%s: length", what);
}

static void
test_format(void)
{
    char buf[PRT_ISO_BUF_LEN];

    is_format(0, "1970-01-01T00:00:00Z", "epoch");
    is_format(utc_of(2024, 3, 11, 14, 30, 0) * 1000, "2024-03-11T14:30:00Z",
              "whole seconds have no fraction");
    is_format(utc_of(2024, 3, 11, 14, 30, 0) * 1000 + 123,
              "2024-03-11T14:30:00.123Z", "milliseconds");
    is_format(utc_of(2024, 3, 11, 14, 30, 0) * 1000 + 5,
              "2024-03-11T14:30:00.005Z", "milliseconds are zero-padded");
    is_format(-1, "1969-12-31T23:59:59.999Z", "negative instants floor");
    is_format(utc_of(9999, 12, 31, 23, 59, 59) * 1000 + 999,
              "9999-12-31T23:59:59.999Z", "longest output fits the buffer");
    is_int(prt_format_utc_iso(utc_of(9999, 12, 31, 23, 59, 59) * 1000 + 1000,
                              buf, sizeof(buf)), -1, "year 10000 is refused");
    is_int(prt_format_utc_iso(0, buf, 20), -1, "one byte short is refused");
    is_str(buf, "", "a refused format leaves an empty string");
    is_int(prt_format_utc_iso(0, buf, 21), 20, "exact buffer fits");
    is_int(prt_format_date(prt_days_from_civil(2024, 7, 4), buf, sizeof(buf)),
           10, "date format length");
    is_str(buf, "2024-07-04", "date format");
    is_int(prt_format_date(0, buf, 10), -1, "date format needs 11 bytes");
}

static void
is_parse(const char *s, int64_t want_ms, const char *what)
{
    int64_t got = -7;
    int     rc = prt_parse_iso(s, strlen(s), &got);

    if (!ok(rc == 0 && got == want_ms, "parse %s: %s", s, what)) {
        printf("#   rc %d, got %lld, want %lld\n", rc, (long long) got,
               (long long) want_ms);
    }
}

static void
is_rejected(const char *s, size_t len, const char *what)
{
    int64_t got = -7;
    int     rc = prt_parse_iso(s, len, &got);

    ok(rc == -1 && got == -7, "reject \"%.*s\": %s", (int) len, s, what);
}

#define REJECT(s, what)  is_rejected((s), strlen(s), (what))

static void
test_parse(void)
{
    int64_t t1430 = utc_of(2024, 3, 11, 14, 30, 0) * 1000;

    is_parse("2024-03-11T14:30:00Z", t1430, "UTC");
    is_parse("2024-03-11t14:30:00z", t1430, "lower-case t and z");
    is_parse("2024-03-11T14:30Z", t1430, "no seconds");
    is_parse("2024-03-11T10:30:00-04:00", t1430, "offset with colon");
    is_parse("2024-03-11T10:30:00-0400", t1430, "offset without colon");
    is_parse("2024-03-11T20:00:00+05:30", t1430, "positive half-hour offset");
    is_parse("2024-03-11T10:30", t1430, "no offset is New York (EDT)");
    is_parse("2024-03-11 10:30:00", t1430, "space separator");
    is_parse("2024-01-08 09:30", utc_of(2024, 1, 8, 14, 30, 0) * 1000,
             "no offset is New York (EST)");
    is_parse("2024-03-11T14:30:00.5Z", t1430 + 500, "one fraction digit");
    is_parse("2024-03-11T14:30:00.123Z", t1430 + 123, "milliseconds");
    is_parse("2024-03-11T14:30:00.123999999Z", t1430 + 123,
             "nine fraction digits truncate to milliseconds");
    is_parse("2024-03-11", utc_of(2024, 3, 11, 4, 0, 0) * 1000,
             "bare date is 00:00 New York");
    is_parse("2024-02-29", utc_of(2024, 2, 29, 5, 0, 0) * 1000,
             "leap day 2024");
    is_parse("2000-02-29T00:00Z", utc_of(2000, 2, 29, 0, 0, 0) * 1000,
             "leap day 2000");
    is_parse("2024-03-10T02:30", utc_of(2024, 3, 10, 7, 30, 0) * 1000,
             "spring gap reads as EST");
    is_parse("2024-11-03T01:30", utc_of(2024, 11, 3, 5, 30, 0) * 1000,
             "autumn overlap reads as the first (EDT) pass");
    is_parse("1969-12-31T23:59:59.999Z", -1, "before the epoch");

    REJECT("", "empty");
    REJECT("2024-3-11", "one-digit month");
    REJECT("2024-03-1", "one-digit day");
    REJECT("24-03-11", "two-digit year");
    REJECT("0000-06-01", "year 0");
    REJECT("2024/03/11", "slashes");
    REJECT("2024-02-30", "February 30");
    REJECT("2023-02-29", "February 29 in a common year");
    REJECT("1900-02-29", "February 29 in 1900");
    REJECT("2024-13-01", "month 13");
    REJECT("2024-00-10", "month 0");
    REJECT("2024-04-31", "April 31");
    REJECT("2024-03-00", "day 0");
    REJECT("2024-03-11T", "separator without time");
    REJECT("2024-03-11T10", "hour without minutes");
    REJECT("2024-03-11T1:30", "one-digit hour");
    REJECT("2024-03-11T24:00", "hour 24");
    REJECT("2024-03-11T10:60", "minute 60");
    REJECT("2024-03-11T10:30:60", "second 60");
    REJECT("2024-03-11T10:30:5", "one-digit second");
    REJECT("2024-03-11T10:30:00.", "dot without digits");
    REJECT("2024-03-11T10:30:00.1234567890Z", "ten fraction digits");
    REJECT("2024-03-11T10:30.5", "fraction without seconds");
    REJECT("2024-03-11Z", "offset on a bare date");
    REJECT("2024-03-11T10:30Zjunk", "trailing bytes after Z");
    REJECT("2024-03-11T10:30:00 ", "trailing space");
    REJECT("2024-03-11x", "trailing byte after date");
    REJECT("2024-03-11T10:30+24:00", "offset of 24 hours");
    REJECT("2024-03-11T10:30+05:60", "offset minute 60");
    REJECT("2024-03-11T10:30+05", "offset without minutes");
    REJECT("2024-03-11T10:30+05:3", "offset with one minute digit");
    REJECT("2024-03-11T10:30:00-04:00:00", "offset with seconds");
    REJECT("2024-03-11_10:30", "unknown separator");
    REJECT("+2024-03-11", "signed year");
    REJECT("\xef\xbc\x92" "024-03-11", "non-ASCII digit");
    is_rejected("2024-03-11\0T10:30", 16, "embedded NUL");
    is_rejected("2024-03-11T10:30", 15, "length cuts the input short");

    {
        int64_t out = -7;
        ok(prt_parse_iso(NULL, 0, &out) == -1 && out == -7, "NULL input");
        ok(prt_parse_date("2024-07-04", 10, &out) == 0
           && out == prt_days_from_civil(2024, 7, 4), "parse_date");
        ok(prt_parse_date("2024-07-04T00:00", 16, &out) == -1,
           "parse_date refuses a time");
    }
}

/* format -> parse gives the same instant for random milliseconds. */
static void
test_format_parse_round_trip(void)
{
    int64_t lo = utc_of(1, 1, 1, 0, 0, 0) * 1000;
    int64_t hi = utc_of(9999, 12, 31, 23, 59, 59) * 1000;
    int64_t ms, back;
    char    buf[PRT_ISO_BUF_LEN];
    int     i, bad = 0, n;

    for (i = 0; i < 100000; i++) {
        ms = rng_range(lo, hi);
        if (i % 2 == 0) {
            ms -= ms % 1000;            /* half of them whole seconds */
        }
        n = prt_format_utc_iso(ms, buf, sizeof(buf));
        if (n < 0 || prt_parse_iso(buf, (size_t) n, &back) != 0 || back != ms) {
            if (bad++ == 0) {
                printf("#   first failure at %lld (%s)\n", (long long) ms, buf);
            }
        }
    }
    is_int(bad, 0, "format -> parse round trip over years 1..9999");
}

int
main(void)
{
    test_known_days();
    test_civil_round_trip();
    test_dst_switches();
    test_ny_to_utc();
    test_round_trip_random();
    test_against_zoneinfo();
    test_format();
    test_parse();
    test_format_parse_round_trip();
    return done_testing();
}
