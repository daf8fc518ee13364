/*
 * America/New_York civil time by arithmetic (no TZ, no tzset, no
 * localtime): the engine runs several threads and TZ is process-global, so
 * every conversion here is a pure function of its arguments.
 *
 * Rules (US Energy Policy Act of 2005 and Uniform Time Act as amended):
 *   2007 onward  EDT from the 2nd Sunday of March 02:00 EST to the
 *                1st Sunday of November 02:00 EDT;
 *   1987..2006   1st Sunday of April to the last Sunday of October;
 *   before 1987  the 1987 rule is applied (the real 1967..1986 rule began
 *                on the last Sunday of April; no market data we handle is
 *                that old, see docs/calendar.md).
 * EST = UTC-5, EDT = UTC-4.
 *
 * Day numbers ("days") count days since 1970-01-01 in the proleptic
 * Gregorian calendar.  Supported range: years 0001..9999; inputs outside it
 * are clamped to it (documented per function).
 */
#ifndef PRT_NYTIME_H
#define PRT_NYTIME_H

#include <stddef.h>
#include <stdint.h>

#define PRT_EST_OFFSET_S     (-5 * 3600)
#define PRT_EDT_OFFSET_S     (-4 * 3600)
#define PRT_SECONDS_PER_DAY  86400

/* 0001-01-01 and 9999-12-31 as day numbers. */
#define PRT_DAY_MIN          ((int64_t) -719162)
#define PRT_DAY_MAX          ((int64_t) 2932896)

/* Longest text prt_format_utc_iso writes: "9999-12-31T23:59:59.999Z" + NUL. */
#define PRT_ISO_BUF_LEN      25

typedef struct {
    int year, month, day;     /* month 1..12, day 1..31 */
    int hour, min, sec;
    int wday;                 /* 0 = Sunday */
    int utc_offset_s;         /* PRT_EST_OFFSET_S or PRT_EDT_OFFSET_S */
} prt_nytime_t;

/* Days since 1970-01-01 of a Gregorian date.  A month outside 1..12 is
 * carried into the year and a day outside the month into the next or
 * previous months, so callers may add days or months arithmetically. */
int64_t prt_days_from_civil(int y, int m, int d);

/* Inverse of prt_days_from_civil; days are clamped to
 * [PRT_DAY_MIN, PRT_DAY_MAX]. */
void prt_civil_from_days(int64_t days, int *y, int *m, int *d);

/* 0 = Sunday .. 6 = Saturday, for any day number. */
int prt_weekday(int64_t days);

int prt_is_leap_year(int y);
int prt_days_in_month(int y, int m);   /* 0 when m is not 1..12 */

/* Day number of the n-th (n >= 1) given weekday (0 = Sunday) of a month,
 * and of the last one; m must be 1..12. */
int64_t prt_nth_weekday(int y, int m, int wday, int n);
int64_t prt_last_weekday(int y, int m, int wday);

/* New York civil time of a UTC instant (seconds since the epoch); utc_s is
 * clamped to years 0001..9999. */
void prt_ny_from_utc(int64_t utc_s, prt_nytime_t *out);

/* UTC instant of a New York wall-clock time.  Fields out of range carry
 * like prt_days_from_civil.  Wall times that do not exist or exist twice
 * take the UTC offset in force just BEFORE the transition:
 *   spring gap     02:00..02:59 on the March switch day is read as EST, so
 *                  02:30 gives 07:30Z (= 03:30 EDT);
 *   autumn overlap 01:00..01:59 on the November switch day is read as EDT,
 *                  the first occurrence, so 01:30 gives 05:30Z. */
int64_t prt_ny_to_utc(int y, int mo, int d, int h, int mi, int s);

/* UTC second of 00:00 New York time on that date (midnight is never inside
 * a DST gap or overlap in the US rules). */
int64_t prt_ny_day_start_utc(int64_t day);

/* New York date (day number) of a UTC instant. */
int64_t prt_ny_day_of_utc(int64_t utc_s);

/* Writes "YYYY-MM-DDTHH:MM:SSZ", or "...SS.mmmZ" when the millisecond part
 * is non-zero, NUL-terminated.  Returns the length written (without NUL),
 * or -1 when buf is too small (PRT_ISO_BUF_LEN always suffices) or the
 * instant is outside years 0001..9999. */
int prt_format_utc_iso(int64_t utc_ms, char *buf, size_t len);

/* Parses exactly len bytes of
 *   YYYY-MM-DD
 *   YYYY-MM-DD('T'|'t'|' ')HH:MM[:SS[.f{1,9}]][Z|z|(+|-)HH:MM|(+|-)HHMM]
 * into milliseconds since the epoch.  Fractions beyond milliseconds are
 * truncated.  Without an offset the time is New York time (SPEC 5.2), with
 * the gap/overlap choice of prt_ny_to_utc; a bare date is 00:00 New York.
 * Rejects (returns -1, *utc_ms untouched) anything else: missing or extra
 * digits, out-of-range fields (year 0000, hour 24, second 60, February 30,
 * offsets of 24 hours or more), trailing bytes. */
int prt_parse_iso(const char *s, size_t len, int64_t *utc_ms);

/* Parses exactly "YYYY-MM-DD" (len bytes) into a day number; 0 or -1. */
int prt_parse_date(const char *s, size_t len, int64_t *day);

/* Writes "YYYY-MM-DD" and NUL (needs 11 bytes); returns 10 or -1. */
int prt_format_date(int64_t day, char *buf, size_t len);

#endif /* PRT_NYTIME_H */
