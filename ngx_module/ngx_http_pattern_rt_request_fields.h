/*
 * The field readers the request parsers share (private to the
 * ngx_http_pattern_rt_request_*.c files; the API is
 * ngx_http_pattern_rt_request.h).
 *
 * Every endpoint is a table of fields (name, kind, range). Two readers turn
 * a JSON object or a query string into one value per field, checking type
 * and range the same way for both sources; the endpoint then checks what
 * involves several fields and fills its binary request. The streaming bars
 * parser reads its events with the same specs and the same accept_*
 * checks.
 *
 * Errors: every function that fails fills *err through prt_req_fail() and
 * returns -1, so a parser returns what its readers return.
 */

#ifndef _NGX_HTTP_PATTERN_RT_REQUEST_FIELDS_H_INCLUDED_
#define _NGX_HTTP_PATTERN_RT_REQUEST_FIELDS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "ngx_http_pattern_rt_request.h"


/* untrusted text quoted in a message is cut to this many bytes */
#define SHOW_MAX          32
#define SHOW_SIZE         (SHOW_MAX + 4)

#define MINUTE_MS         60000

#define SYMBOL_RULE  "1 to 10 characters: a letter, then letters, digits, " \
                     "'.' or '-'"


/* ---- errors and untrusted text in messages ----------------------------- */


/* Printable ASCII copy of untrusted bytes, cut to SHOW_MAX; returns buf */
const char *prt_req_show(char buf[SHOW_SIZE], const char *s, size_t len);

/* Fills *err (the field shown as printable text) and returns -1. */
__attribute__((format(printf, 4, 5)))
int prt_req_fail(prt_parse_error_t *err, int code, const char *field,
    const char *fmt, ...);

#define bad_request(err, field, ...)                                         \
    prt_req_fail(err, PRT_E_BAD_REQUEST, field, __VA_ARGS__)

int prt_req_out_of_memory(prt_parse_error_t *err);


/* ---- symbols and scalar text ------------------------------------------- */


/* Upper-cased, NUL-padded copy of s in out when it is a valid symbol: 0,
 * else -1 (no error filled: the caller says which field) */
int prt_req_symbol_normalize(prt_parser_t *p, const char *s, size_t len,
    char out[PRT_SYMBOL_SIZE]);
/* the same, failing with a message that names field */
int prt_req_read_symbol(prt_parser_t *p, const char *field, const char *s,
    size_t len, char out[PRT_SYMBOL_SIZE], prt_parse_error_t *err);

int prt_req_ascii_lower(int c);
/* the value of a hexadecimal digit, -1 for anything else */
int prt_req_hex_value(int c);
/* "HH:MM" into minutes after midnight: 0, or -1 */
int prt_req_parse_hhmm(const char *s, size_t len, int *minute);
/* 1 when a New York day number is one a request may name */
int prt_req_day_in_range(int64_t day);


/* ---- fields: one table per endpoint ------------------------------------ */


typedef enum {
    FK_INT,        /* integer in [ilo, ihi] */
    FK_HORIZON,    /* integer in H */
    FK_NUM,        /* finite number in [dlo, dhi] */
    FK_WHOLE,      /* number without a fraction in [dlo, dhi] */
    FK_BOOL,
    FK_ENUM,       /* one of names[] (case-insensitive): its index */
    FK_STRING,     /* checked by the endpoint */
    FK_JSON,       /* any non-null JSON value, checked by the endpoint */
    FK_IGNORED     /* accepted, whatever it is, and ignored */
} field_kind_t;

typedef struct {
    const char         *name;
    field_kind_t        kind;
    int                 required;
    int64_t             ilo, ihi;
    double              dlo, dhi;
    const char *const  *names;      /* FK_ENUM, NULL-terminated */
} field_spec_t;

typedef struct {
    int          seen;              /* the key was there (maybe null/empty) */
    int          present;           /* a value to use */
    int64_t      i;                 /* INT, HORIZON, BOOL, ENUM */
    double       d;                 /* NUM, WHOLE */
    const char  *s;                 /* STRING: NUL-terminated */
    size_t       len;
    yajl_val     json;              /* JSON */
    char         text[PRT_REQ_QUERY_VALUE_MAX + 1];   /* decoded query */
} field_value_t;

/* specs[] index of key[0..len), n when it is none of them */
size_t prt_req_find_field(const field_spec_t *specs, size_t n,
    const char *key, size_t len);
/* "f must be <what f accepts> (got <got>)"; query: the text of a query
 * string rather than a JSON value */
int prt_req_field_error(const field_spec_t *f, int query, const char *got,
    prt_parse_error_t *err);

/* The checks shared by every source: 0 with *v set, -1 when the text is
 * not what f accepts (the caller fills the error) */
int prt_req_accept_int(const field_spec_t *f, const char *s, size_t len,
    field_value_t *v);
int prt_req_accept_number(const field_spec_t *f, const char *s,
    field_value_t *v);
int prt_req_accept_enum(const field_spec_t *f, const char *s, size_t len,
    field_value_t *v);


/* ---- JSON bodies and query strings ------------------------------------- */


/* Refuses NUL bytes, \u0000 escapes and nesting deeper than
 * PRT_REQ_JSON_MAX_DEPTH before yajl sees the text. */
int prt_req_json_prescan(const char *s, size_t len, prt_parse_error_t *err);
/* A bad request quoting the first line of yajl's message. */
int prt_req_json_syntax_error(const char *yajl_msg, prt_parse_error_t *err);

/* A body that must be one object of the given fields, into v[n]. On
 * success the caller frees *root once done with the values (they point
 * into it). */
int prt_req_json_object_body(const prt_allocator_t *a, const char *body,
    size_t len, const field_spec_t *specs, size_t n, field_value_t *v,
    yajl_val *root, prt_parse_error_t *err);

/* A query string (r->args as received) into v[n]. Never allocates. */
int prt_req_query_read(const char *args, size_t len, const field_spec_t *specs,
    size_t n, field_value_t *v, prt_parse_error_t *err);


/* ---- forecast arguments (search, front-end searches, run) -------------- */


enum {
    FA_K,
    FA_HORIZON,
    FA_ALPHA,
    FA_TRIM_LO,
    FA_TRIM_HI,
    FA_EXCLUDE_SELF,
    FA_CROSS_ASSET,
    FA_COUNT
};

#define FORECAST_FIELDS                                                      \
    [FA_K] = { .name = "k", .kind = FK_INT,                                  \
               .ilo = PRT_K_MIN, .ihi = PRT_K_MAX },                         \
    [FA_HORIZON] = { .name = "horizon", .kind = FK_HORIZON },                \
    [FA_ALPHA] = { .name = "alpha", .kind = FK_NUM,                          \
                   .dlo = 0, .dhi = PRT_ALPHA_MAX },                         \
    [FA_TRIM_LO] = { .name = "trim_lo", .kind = FK_WHOLE,                    \
                     .dlo = 0, .dhi = PRT_TRIM_MAX },                        \
    [FA_TRIM_HI] = { .name = "trim_hi", .kind = FK_WHOLE,                    \
                     .dlo = 0, .dhi = PRT_TRIM_MAX },                        \
    [FA_EXCLUDE_SELF] = { .name = "exclude_self", .kind = FK_BOOL },         \
    [FA_CROSS_ASSET] = { .name = "cross_asset", .kind = FK_BOOL }

/* The forecast arguments from v[0..FA_COUNT), defaults filled in. */
int prt_req_forecast_from(const field_value_t *v, int exclude_self_default,
    prt_forecast_args_t *f, prt_parse_error_t *err);


#endif /* _NGX_HTTP_PATTERN_RT_REQUEST_FIELDS_H_INCLUDED_ */
