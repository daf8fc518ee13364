/*
 * Engine log: one line per event on stderr, in one of two formats
 * (log_format):
 *
 *   text  2026-11-21T14:30:00.123Z [info] message
 *   json  {"time":"2026-11-21T14:30:00.123Z","level":"info","pid":42,"msg":"message"}
 *
 * Under systemd, when stderr is the journal (JOURNAL_STREAM names it), each
 * line starts with the kernel-style priority prefix ("<6>") so journald
 * records the level; the text format then leaves the time to journald.
 * A JSON line is always one valid JSON object: the message is escaped and
 * invalid UTF-8 becomes U+FFFD. (make start redirects stderr to a file;
 * the tests read it.)
 */
#ifndef PRT_LOG_H
#define PRT_LOG_H

#include <stddef.h>
#include <time.h>

typedef enum {
    PRT_LOG_ERROR, PRT_LOG_WARN, PRT_LOG_INFO, PRT_LOG_DEBUG
} prt_log_level_t;

typedef enum {
    PRT_LOG_TEXT, PRT_LOG_JSON
} prt_log_format_t;

/* the longest line written, newline included; longer messages are cut */
#define PRT_LOG_LINE_MAX  4096

void prt_log_set_level(prt_log_level_t level);
int  prt_log_parse_level(const char *name, prt_log_level_t *out);
int  prt_log_enabled(prt_log_level_t level);

/* Also decides whether stderr is the journal (JOURNAL_STREAM). */
void prt_log_set_format(prt_log_format_t format);
int  prt_log_parse_format(const char *name, prt_log_format_t *out);

/* One line, '\n' included, into buf (size >= 128): returns its length.
 * journal: the priority prefix, and no time in the text format. */
size_t prt_log_render(char *buf, size_t size, prt_log_format_t format,
    int journal, prt_log_level_t level, const struct timespec *ts,
    long pid, const char *msg);

__attribute__((format(printf, 2, 3)))
void prt_log(prt_log_level_t level, const char *fmt, ...);

#define prt_error(...)  prt_log(PRT_LOG_ERROR, __VA_ARGS__)
#define prt_warn(...)   prt_log(PRT_LOG_WARN, __VA_ARGS__)
#define prt_info(...)   prt_log(PRT_LOG_INFO, __VA_ARGS__)
#define prt_debug(...)                                                      \
    do { if (prt_log_enabled(PRT_LOG_DEBUG)) prt_log(PRT_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
