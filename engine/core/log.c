#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

static prt_log_level_t log_level = PRT_LOG_INFO;
static const char *level_names[] = { "error", "warn", "info", "debug" };

void
prt_log_set_level(prt_log_level_t level)
{
    log_level = level;
}

int
prt_log_parse_level(const char *name, prt_log_level_t *out)
{
    for (int i = 0; i <= PRT_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (prt_log_level_t) i;
            return 0;
        }
    }
    return -1;
}

int
prt_log_enabled(prt_log_level_t level)
{
    return level <= log_level;
}

void
prt_log(prt_log_level_t level, const char *fmt, ...)
{
    char             line[2048];
    struct timespec  ts;
    struct tm        tm;
    va_list          ap;
    int              n;

    if (level > log_level) {
        return;
    }

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 level_names[level]);

    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
    va_end(ap);

    /* one write per line so concurrent threads never interleave a line */
    n = (int) strlen(line);
    line[n++] = '\n';
    fwrite(line, 1, (size_t) n, stderr);
    fflush(stderr);
}
