/*
 * America/New_York civil time by arithmetic; see
 * include/pattern_rt_nytime.h for the rules and docs/calendar.md for the
 * choices made.
 */
#include "pattern_rt_nytime.h"

#include <stdio.h>

#define HOUR_S  3600

/* Days between 0000-03-01 and 1970-01-01: the date algorithms below count
 * from a March-based year 0 so that the leap day is the last of a year. */
#define DAYS_0000_03_01_TO_EPOCH  719468
#define DAYS_PER_400_YEARS        146097

static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static int64_t
clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

int64_t
prt_days_from_civil(int y, int m, int d)
{
    int64_t year = y, month0 = (int64_t) m - 1;
    int64_t era, yoe, mp, doy, doe;

    year += floor_div(month0, 12);
    month0 = floor_mod(month0, 12);

    /* Years start on March 1 here, so January and February belong to the
     * previous year and the leap day needs no special case. */
    if (month0 < 2) {
        year--;
    }
    era = floor_div(year, 400);
    yoe = year - era * 400;
    mp = (month0 + 10) % 12;                 /* March = 0 .. February = 11 */
    doy = (153 * mp + 2) / 5 + (int64_t) d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * DAYS_PER_400_YEARS + doe - DAYS_0000_03_01_TO_EPOCH;
}

void
prt_civil_from_days(int64_t days, int *y, int *m, int *d)
{
    int64_t z, era, doe, yoe, doy, mp, year, month;

    z = clamp64(days, PRT_DAY_MIN, PRT_DAY_MAX) + DAYS_0000_03_01_TO_EPOCH;
    era = floor_div(z, DAYS_PER_400_YEARS);
    doe = z - era * DAYS_PER_400_YEARS;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    month = mp < 10 ? mp + 3 : mp - 9;
    year = yoe + era * 400 + (month <= 2);

    *y = (int) year;
    *m = (int) month;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
}

int
prt_weekday(int64_t days)
{
    return (int) floor_mod(days + 4, 7);     /* 1970-01-01 was a Thursday */
}

int
prt_is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
prt_days_in_month(int y, int m)
{
    static const int len[12] = { 31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31 };

    if (m < 1 || m > 12) {
        return 0;
    }
    return len[m - 1] + (m == 2 && prt_is_leap_year(y));
}

int64_t
prt_nth_weekday(int y, int m, int wday, int n)
{
    int64_t first = prt_days_from_civil(y, m, 1);
    int     ahead = (wday - prt_weekday(first) + 7) % 7;

    return first + ahead + 7 * (int64_t) (n - 1);
}

int64_t
prt_last_weekday(int y, int m, int wday)
{
    int64_t last = prt_days_from_civil(y, m + 1, 1) - 1;
    int     back = (prt_weekday(last) - wday + 7) % 7;

    return last - back;
}

static int
year_of_day(int64_t day)
{
    int y, m, d;

    prt_civil_from_days(day, &y, &m, &d);
    return y;
}

/* Dates (New York) of the two DST switch Sundays of a year. */
static void
dst_switch_days(int y, int64_t *start_day, int64_t *end_day)
{
    if (y >= 2007) {
        *start_day = prt_nth_weekday(y, 3, 0, 2);
        *end_day = prt_nth_weekday(y, 11, 0, 1);
    } else {
        /* 1987..2006 rule, also used for earlier years (see nytime.h). */
        *start_day = prt_nth_weekday(y, 4, 0, 1);
        *end_day = prt_last_weekday(y, 10, 0);
    }
}

static int
utc_offset_at(int64_t utc_s)
{
    int64_t start_day, end_day, start_utc, end_utc;
    int     y;

    /* The switches happen in March..November, far from New Year, so the
     * year of the EST wall clock is the year whose rule applies. */
    y = year_of_day(floor_div(utc_s + PRT_EST_OFFSET_S, PRT_SECONDS_PER_DAY));
    dst_switch_days(y, &start_day, &end_day);

    /* 02:00 EST on the start day; 02:00 EDT on the end day. */
    start_utc = start_day * PRT_SECONDS_PER_DAY + 2 * HOUR_S - PRT_EST_OFFSET_S;
    end_utc = end_day * PRT_SECONDS_PER_DAY + 2 * HOUR_S - PRT_EDT_OFFSET_S;

    return (utc_s >= start_utc && utc_s < end_utc) ? PRT_EDT_OFFSET_S
                                                   : PRT_EST_OFFSET_S;
}

void
prt_ny_from_utc(int64_t utc_s, prt_nytime_t *out)
{
    int64_t local, day, sod;

    /* Keep the New York date inside years 0001..9999. */
    utc_s = clamp64(utc_s,
                    PRT_DAY_MIN * PRT_SECONDS_PER_DAY - PRT_EST_OFFSET_S,
                    (PRT_DAY_MAX + 1) * PRT_SECONDS_PER_DAY
                    - PRT_EDT_OFFSET_S - 1);

    out->utc_offset_s = utc_offset_at(utc_s);
    local = utc_s + out->utc_offset_s;
    day = floor_div(local, PRT_SECONDS_PER_DAY);
    sod = local - day * PRT_SECONDS_PER_DAY;

    prt_civil_from_days(day, &out->year, &out->month, &out->day);
    out->hour = (int) (sod / HOUR_S);
    out->min = (int) (sod % HOUR_S / 60);
    out->sec = (int) (sod % 60);
    out->wday = prt_weekday(day);
}

int64_t
prt_ny_to_utc(int y, int mo, int d, int h, int mi, int s)
{
    int64_t local, start_day, end_day, gap_end, overlap_end;
    int     offset;

    local = prt_days_from_civil(y, mo, d) * PRT_SECONDS_PER_DAY
            + (int64_t) h * HOUR_S + (int64_t) mi * 60 + s;

    dst_switch_days(year_of_day(floor_div(local, PRT_SECONDS_PER_DAY)),
                    &start_day, &end_day);

    /* EDT covers local [03:00 on the start day, 02:00 on the end day):
     * the skipped hour 02:xx stays EST and the repeated hour 01:xx is
     * EDT, i.e. the offset in force before each switch. */
    gap_end = start_day * PRT_SECONDS_PER_DAY + 3 * HOUR_S;
    overlap_end = end_day * PRT_SECONDS_PER_DAY + 2 * HOUR_S;
    offset = (local >= gap_end && local < overlap_end) ? PRT_EDT_OFFSET_S
                                                       : PRT_EST_OFFSET_S;
    return local - offset;
}

int64_t
prt_ny_day_start_utc(int64_t day)
{
    int y, m, d;

    prt_civil_from_days(day, &y, &m, &d);
    return prt_ny_to_utc(y, m, d, 0, 0, 0);
}

int64_t
prt_ny_day_of_utc(int64_t utc_s)
{
    prt_nytime_t t;

    prt_ny_from_utc(utc_s, &t);
    return prt_days_from_civil(t.year, t.month, t.day);
}

/* v in exactly width digits, zero-padded */
static char *
put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char) ('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

int
prt_format_utc_iso(int64_t utc_ms, char *buf, size_t len)
{
    int64_t secs, ms, day, sod;
    int     y, m, d, n;
    char   *p;

    secs = floor_div(utc_ms, 1000);
    ms = utc_ms - secs * 1000;
    day = floor_div(secs, PRT_SECONDS_PER_DAY);
    sod = secs - day * PRT_SECONDS_PER_DAY;

    if (buf == NULL || len == 0 || day < PRT_DAY_MIN || day > PRT_DAY_MAX) {
        return -1;
    }
    prt_civil_from_days(day, &y, &m, &d);

    /* by hand: responses and events carry many of these, and snprintf
     * was a tenth of rendering a result */
    n = ms != 0 ? 24 : 20;
    if ((size_t) n >= len) {
        buf[0] = '\0';
        return -1;
    }
    p = put_digits(buf, (unsigned) y, 4);
    *p++ = '-';
    p = put_digits(p, (unsigned) m, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned) d, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned) (sod / HOUR_S), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned) (sod % HOUR_S / 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned) (sod % 60), 2);
    if (ms != 0) {
        *p++ = '.';
        p = put_digits(p, (unsigned) ms, 3);
    }
    *p++ = 'Z';
    *p = '\0';
    return n;
}

int
prt_format_date(int64_t day, char *buf, size_t len)
{
    int y, m, d, n;

    if (buf == NULL || len == 0 || day < PRT_DAY_MIN || day > PRT_DAY_MAX) {
        return -1;
    }
    prt_civil_from_days(day, &y, &m, &d);
    n = snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
    if (n < 0 || (size_t) n >= len) {
        buf[0] = '\0';
        return -1;
    }
    return n;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct {
    const char *p;
    const char *end;
} cursor_t;

static int
at_end(const cursor_t *c)
{
    return c->p == c->end;
}

static int
peek_is(const cursor_t *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static int
take_char(cursor_t *c, char ch)
{
    if (!peek_is(c, ch)) {
        return 0;
    }
    c->p++;
    return 1;
}

static int
is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Exactly n decimal digits (n <= 9, so the value fits an int). */
static int
take_digits(cursor_t *c, int n, int *out)
{
    int v = 0, i;

    if (c->end - c->p < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!is_digit(c->p[i])) {
            return 0;
        }
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return 1;
}

static int
take_date(cursor_t *c, int64_t *day)
{
    int y, m, d;

    if (!take_digits(c, 4, &y) || !take_char(c, '-')
        || !take_digits(c, 2, &m) || !take_char(c, '-')
        || !take_digits(c, 2, &d))
    {
        return 0;
    }
    /* Year 0 is outside the supported range (see nytime.h). */
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > prt_days_in_month(y, m)) {
        return 0;
    }
    *day = prt_days_from_civil(y, m, d);
    return 1;
}

/* ".f{1,9}" after the seconds; keeps milliseconds, truncates the rest. */
static int
take_fraction_ms(cursor_t *c, int *ms)
{
    int digits = 0, value = 0;

    while (c->p < c->end && is_digit(*c->p) && digits < 9) {
        if (digits < 3) {
            value = value * 10 + (*c->p - '0');
        }
        digits++;
        c->p++;
    }
    if (digits == 0 || (c->p < c->end && is_digit(*c->p))) {
        return 0;
    }
    for (; digits < 3; digits++) {
        value *= 10;
    }
    *ms = value;
    return 1;
}

/* HH:MM[:SS[.fff]] as seconds of the day plus milliseconds. */
static int
take_time(cursor_t *c, int64_t *sod, int *ms)
{
    int h, mi, s = 0;

    *ms = 0;
    if (!take_digits(c, 2, &h) || !take_char(c, ':')
        || !take_digits(c, 2, &mi) || h > 23 || mi > 59)
    {
        return 0;
    }
    if (take_char(c, ':')) {
        if (!take_digits(c, 2, &s) || s > 59) {
            return 0;
        }
        if (take_char(c, '.') && !take_fraction_ms(c, ms)) {
            return 0;
        }
    }
    *sod = (int64_t) h * HOUR_S + mi * 60 + s;
    return 1;
}

/* 'Z' or +HH:MM / +HHMM / -...; the offset is what local time adds to
 * UTC, so UTC = local - offset. */
static int
take_offset(cursor_t *c, int64_t *offset_s)
{
    int sign, oh, om;

    if (take_char(c, 'Z') || take_char(c, 'z')) {
        *offset_s = 0;
        return 1;
    }
    if (take_char(c, '+')) {
        sign = 1;
    } else if (take_char(c, '-')) {
        sign = -1;
    } else {
        return 0;
    }
    if (!take_digits(c, 2, &oh)) {
        return 0;
    }
    (void) take_char(c, ':');
    if (!take_digits(c, 2, &om) || oh > 23 || om > 59) {
        return 0;
    }
    *offset_s = sign * ((int64_t) oh * HOUR_S + om * 60);
    return 1;
}

int
prt_parse_date(const char *s, size_t len, int64_t *day)
{
    cursor_t c;
    int64_t  d;

    if (s == NULL || day == NULL) {
        return -1;
    }
    c.p = s;
    c.end = s + len;
    if (!take_date(&c, &d) || !at_end(&c)) {
        return -1;
    }
    *day = d;
    return 0;
}

int
prt_parse_iso(const char *s, size_t len, int64_t *utc_ms)
{
    cursor_t c;
    int64_t  day, sod, offset_s, utc_s;
    int      ms, y, m, d;

    if (s == NULL || utc_ms == NULL) {
        return -1;
    }
    c.p = s;
    c.end = s + len;
    if (!take_date(&c, &day)) {
        return -1;
    }
    if (at_end(&c)) {
        *utc_ms = prt_ny_day_start_utc(day) * 1000;
        return 0;
    }
    if (!(take_char(&c, 'T') || take_char(&c, 't') || take_char(&c, ' '))
        || !take_time(&c, &sod, &ms))
    {
        return -1;
    }

    if (at_end(&c)) {
        prt_civil_from_days(day, &y, &m, &d);
        utc_s = prt_ny_to_utc(y, m, d, 0, 0, (int) sod);
    } else {
        if (!take_offset(&c, &offset_s) || !at_end(&c)) {
            return -1;
        }
        utc_s = day * PRT_SECONDS_PER_DAY + sod - offset_s;
    }
    *utc_ms = utc_s * 1000 + ms;
    return 0;
}
