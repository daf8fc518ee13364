/*
 * `pattern-rt-engine calendar`: the NYSE schedule of engine/clock/calendar.h
 * printed day by day.
 */
#ifndef PRT_TOOLS_CALENDAR_H
#define PRT_TOOLS_CALENDAR_H

/* `pattern-rt-engine calendar FROM TO`: argv = {"calendar", FROM, TO},
 * dates YYYY-MM-DD, FROM <= TO, at most PRT_CALENDAR_MAX_SPAN_DAYS apart.
 * Prints one line per weekday to stdout:
 *   2024-07-03 open 13:00 Independence Day (early close)
 *   2024-07-04 closed - Independence Day
 *   2024-07-05 open 16:00 -
 * Returns the process exit code: 0, 2 on bad arguments (usage on stderr),
 * 1 when writing stdout fails. */
#define PRT_CALENDAR_MAX_SPAN_DAYS  (100 * 366)
int prt_calendar_command(int argc, char **argv);

#endif
