/*
 * Engine log: one line per event on stderr,
 *   2026-11-21T14:30:00.123Z [info] message
 * (make start redirects it to a file; the tests read it).
 */
#ifndef PRT_LOG_H
#define PRT_LOG_H

typedef enum {
    PRT_LOG_ERROR, PRT_LOG_WARN, PRT_LOG_INFO, PRT_LOG_DEBUG
} prt_log_level_t;

void prt_log_set_level(prt_log_level_t level);
int  prt_log_parse_level(const char *name, prt_log_level_t *out);
int  prt_log_enabled(prt_log_level_t level);

__attribute__((format(printf, 2, 3)))
void prt_log(prt_log_level_t level, const char *fmt, ...);

#define prt_error(...)  prt_log(PRT_LOG_ERROR, __VA_ARGS__)
#define prt_warn(...)   prt_log(PRT_LOG_WARN, __VA_ARGS__)
#define prt_info(...)   prt_log(PRT_LOG_INFO, __VA_ARGS__)
#define prt_debug(...)                                                      \
    do { if (prt_log_enabled(PRT_LOG_DEBUG)) prt_log(PRT_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
