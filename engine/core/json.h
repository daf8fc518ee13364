/*
 * JSON writer for response bodies and events, on yajl's generator (yajl
 * checks nesting and escapes strings). Numbers are written with 15
 * significant digits (decimal inputs print back exactly); NaN and
 * infinities become null.
 * Errors are sticky: check prt_json_failed() once at the end.
 */
#ifndef PRT_JSON_H
#define PRT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

typedef struct {
    yajl_gen  gen;
    int       failed;
} prt_json_t;

int  prt_json_init(prt_json_t *j);
void prt_json_free(prt_json_t *j);
void prt_json_reset(prt_json_t *j);
int  prt_json_failed(const prt_json_t *j);
const char *prt_json_body(prt_json_t *j, size_t *len);

void prt_json_open(prt_json_t *j);            /* { */
void prt_json_close(prt_json_t *j);           /* } */
void prt_json_array(prt_json_t *j);           /* [ */
void prt_json_array_end(prt_json_t *j);       /* ] */
void prt_json_key(prt_json_t *j, const char *key);

void prt_json_str(prt_json_t *j, const char *s);
void prt_json_strn(prt_json_t *j, const char *s, size_t len);
void prt_json_int(prt_json_t *j, long long v);
void prt_json_uint(prt_json_t *j, unsigned long long v);
void prt_json_num(prt_json_t *j, double v);
/* a float32 value (trajectories): the shortest text that reads back to it */
void prt_json_float(prt_json_t *j, float v);
void prt_json_bool(prt_json_t *j, int v);
void prt_json_null(prt_json_t *j);
void prt_json_time(prt_json_t *j, int64_t utc_ms);   /* ISO-8601 UTC, Z */
void prt_json_raw(prt_json_t *j, const char *json, size_t len); /* a value */

/* key + value */
void prt_json_kstr(prt_json_t *j, const char *key, const char *s);
void prt_json_kint(prt_json_t *j, const char *key, long long v);
void prt_json_kuint(prt_json_t *j, const char *key, unsigned long long v);
void prt_json_knum(prt_json_t *j, const char *key, double v);
void prt_json_kbool(prt_json_t *j, const char *key, int v);
void prt_json_knull(prt_json_t *j, const char *key);
void prt_json_ktime(prt_json_t *j, const char *key, int64_t utc_ms);

/* The error body of SPEC §5: {"error":{code,message,field?},"detail":message} */
void prt_json_error(prt_json_t *j, const char *code, const char *message,
    const char *field);

/*
 * The engine's one number-to-text routine, in two contracts that differ
 * on purpose:
 *
 *   PRT_NUM_DISPLAY  exactly printf's "%.15g": 15 significant digits,
 *                    integers to 10^15 and unix times to the millisecond
 *                    exact, no binary noise (0.011, not
 *                    0.010999999999999999). The API's JSON, the metrics.
 *   PRT_NUM_EXACT    text that reads back (strtod, yajl) as exactly v: the
 *                    shortest plain decimal with at most 9 fraction digits
 *                    when there is one (flat-file prices and volumes),
 *                    else "%.17g". The replay's bars, which the engine
 *                    must store bit for bit as the file had them.
 *
 * buf needs PRT_NUM_SIZE bytes for the fast paths (less falls back to
 * snprintf); returns the length, as snprintf.
 */
typedef enum {
    PRT_NUM_DISPLAY,
    PRT_NUM_EXACT,
} prt_num_mode_t;

#define PRT_NUM_SIZE  32

int prt_format_number(double v, prt_num_mode_t mode, char *buf, size_t len);

/* "2026-11-21T14:30:00.123Z" with its quotes into buf (32 bytes); the
 * length written */
int prt_format_time_json(char *buf, int64_t utc_ms);

#endif
