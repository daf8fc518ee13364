/*
 * `pattern-rt-engine calendar FROM TO` (tools/calendar.h) over the
 * calendar of engine/clock/calendar.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "tools/calendar.h"

enum { SUN = 0, SAT = 6 };              /* prt_weekday() */

/* ---- `pattern-rt-engine calendar FROM TO` ----------------------------- */

static int
calendar_usage(void)
{
    fprintf(stderr,
            "usage: pattern-rt-engine calendar FROM TO\n"
            "  FROM, TO  New York dates YYYY-MM-DD, FROM <= TO, at most %d "
            "days apart\n"
            "  prints per weekday: DATE open|closed CLOSE_ET|- NAME|-\n",
            PRT_CALENDAR_MAX_SPAN_DAYS);
    return 2;
}

static int
parse_date_arg(const char *arg, int64_t *day)
{
    if (arg == NULL || prt_parse_date(arg, strlen(arg), day) != 0) {
        fprintf(stderr, "calendar: bad date \"%s\" (want YYYY-MM-DD)\n",
                arg != NULL ? arg : "");
        return -1;
    }
    return 0;
}

static int
print_calendar_line(int64_t day, const prt_trading_day_t *td)
{
    char date[16];

    if (prt_format_date(day, date, sizeof(date)) < 0) {
        return -1;
    }
    if (!td->trading) {
        return printf("%s closed - %s\n", date,
                      td->name != NULL ? td->name : "-") < 0 ? -1 : 0;
    }
    return printf("%s open %02d:%02d %s%s\n", date,
                  td->regular_close / 60, td->regular_close % 60,
                  td->name != NULL ? td->name : "-",
                  td->early_close ? " (early close)" : "") < 0 ? -1 : 0;
}

int
prt_calendar_command(int argc, char **argv)
{
    prt_trading_day_t td;
    int64_t           from, to, day;
    int               wd;

    if (argc == 2 && argv != NULL && (strcmp(argv[1], "--help") == 0
                                       || strcmp(argv[1], "-h") == 0))
    {
        calendar_usage();
        return 0;                             /* asked for: not an error */
    }
    if (argc != 3 || argv == NULL) {
        return calendar_usage();
    }
    if (parse_date_arg(argv[1], &from) != 0
        || parse_date_arg(argv[2], &to) != 0)
    {
        return calendar_usage();
    }
    if (from > to || to - from > PRT_CALENDAR_MAX_SPAN_DAYS) {
        fprintf(stderr, "calendar: need FROM <= TO within %d days, got %s %s\n",
                PRT_CALENDAR_MAX_SPAN_DAYS, argv[1], argv[2]);
        return calendar_usage();
    }

    for (day = from; day <= to; day++) {
        wd = prt_weekday(day);
        if (wd == SAT || wd == SUN) {
            continue;
        }
        prt_calendar_day(day, &td);
        if (print_calendar_line(day, &td) != 0) {
            fprintf(stderr, "calendar: writing to stdout failed\n");
            return 1;
        }
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "calendar: writing to stdout failed\n");
        return 1;
    }
    return 0;
}
