/*
 * Request parsers: see ngx_http_pattern_rt_request.h and
 * docs/api-validation.md.
 *
 * Every endpoint is a table of fields (name, kind, range). Two readers turn
 * a JSON object or a query string into one value per field, checking type
 * and range the same way for both sources; the endpoint then checks what
 * involves several fields and fills its binary request. Query strings never
 * allocate (values are decoded into fixed buffers); JSON bodies cost one
 * copy of the body from the caller's allocator plus yajl's own tree, but
 * for the feed's batches of bars, which are read as a stream of events.
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH  8
#endif
#include <pcre2.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "pattern_rt_nytime.h"
#include "ngx_http_pattern_rt_request.h"


/* untrusted text quoted in a message is cut to this many bytes */
#define SHOW_MAX          32
#define SHOW_SIZE         (SHOW_MAX + 4)

/* longest query key we look up; longer keys are unknown by definition */
#define QUERY_KEY_MAX     31

#define MINUTE_MS         60000

#define SYMBOL_RULE  "1 to 10 characters: a letter, then letters, digits, " \
                     "'.' or '-'"


struct prt_parser_s {
    pcre2_code        *symbol_re;
    pcre2_match_data  *match;
};


/* ---- errors and untrusted text in messages ----------------------------- */


/* Printable ASCII copy of untrusted bytes for a message: anything else
 * becomes '?' (messages end up in JSON and logs), long text ends in "...". */
static const char *
show(char buf[SHOW_SIZE], const char *s, size_t len)
{
    size_t  i, n;

    n = len < SHOW_MAX ? len : SHOW_MAX;

    for (i = 0; i < n; i++) {
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    }

    if (n < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }

    buf[n] = '\0';
    return buf;
}


static void
set_field(prt_parse_error_t *err, const char *field)
{
    char  tmp[SHOW_SIZE];

    if (field == NULL) {
        err->field[0] = '\0';
        return;
    }

    snprintf(err->field, sizeof(err->field), "%s",
             show(tmp, field, strlen(field)));
}


__attribute__((format(printf, 4, 5)))
static int
req_fail(prt_parse_error_t *err, int code, const char *field,
    const char *fmt, ...)
{
    va_list  ap;

    err->code = code;
    set_field(err, field);

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);

    return -1;
}


#define bad_request(err, field, ...)                                         \
    req_fail(err, PRT_E_BAD_REQUEST, field, __VA_ARGS__)


static int
out_of_memory(prt_parse_error_t *err)
{
    return req_fail(err, PRT_E_INTERNAL, NULL, "out of memory");
}


/* ---- the parser: compiled symbol expression ---------------------------- */


prt_parser_t *
prt_parser_create(void)
{
    int            rc;
    PCRE2_SIZE     offset;
    prt_parser_t  *p;

    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }

    /* DOLLAR_ENDONLY: a plain '$' also matches before a final newline,
     * which would let "AAPL\n" through */
    p->symbol_re = pcre2_compile((PCRE2_SPTR) PRT_REQ_SYMBOL_PATTERN,
                                 PCRE2_ZERO_TERMINATED, PCRE2_DOLLAR_ENDONLY,
                                 &rc, &offset, NULL);
    if (p->symbol_re == NULL) {
        prt_parser_free(p);
        return NULL;
    }

    /* without JIT (unsupported CPU, no executable memory) pcre2_match
     * falls back to the interpreter: slower, same answers */
    (void) pcre2_jit_compile(p->symbol_re, PCRE2_JIT_COMPLETE);

    p->match = pcre2_match_data_create_from_pattern(p->symbol_re, NULL);
    if (p->match == NULL) {
        prt_parser_free(p);
        return NULL;
    }

    return p;
}


void
prt_parser_free(prt_parser_t *p)
{
    if (p == NULL) {
        return;
    }

    pcre2_match_data_free(p->match);
    pcre2_code_free(p->symbol_re);
    free(p);
}


int
prt_req_symbol_valid(prt_parser_t *p, const char *s, size_t len)
{
    /* the expression would reject longer text too, but only after
     * scanning it; callers may hand us anything */
    if (len == 0 || len > PRT_REQ_SYMBOL_MAX_LEN) {
        return 0;
    }

    return pcre2_match(p->symbol_re, (PCRE2_SPTR) s, len, 0, 0, p->match,
                       NULL) >= 0;
}


static int
ascii_upper(int c)
{
    return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}


static int
ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}


static int
is_digit(int c)
{
    return c >= '0' && c <= '9';
}


/* Upper-cased, NUL-padded copy of s in out when it is a valid symbol. */
static int
symbol_normalize(prt_parser_t *p, const char *s, size_t len,
    char out[PRT_SYMBOL_SIZE])
{
    size_t  i;

    memset(out, 0, PRT_SYMBOL_SIZE);

    if (len == 0 || len > PRT_REQ_SYMBOL_MAX_LEN) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        out[i] = (char) ascii_upper((unsigned char) s[i]);
    }

    return prt_req_symbol_valid(p, out, len) ? 0 : -1;
}


static int
read_symbol(prt_parser_t *p, const char *field, const char *s, size_t len,
    char out[PRT_SYMBOL_SIZE], prt_parse_error_t *err)
{
    char  shown[SHOW_SIZE];

    if (symbol_normalize(p, s, len, out) == 0) {
        return 0;
    }

    return bad_request(err, field, "%s \"%s\" is not a valid symbol ("
                       SYMBOL_RULE ")", field, show(shown, s, len));
}


/* ---- scalar text ------------------------------------------------------- */


int
prt_req_horizon_valid(int64_t minutes)
{
    static const int  horizons[PRT_N_HORIZONS] = PRT_HORIZONS_INIT;
    size_t            i;

    for (i = 0; i < PRT_N_HORIZONS; i++) {
        if (minutes == horizons[i]) {
            return 1;
        }
    }

    return 0;
}


/*
 * [-]digits, nothing else: no '+', no spaces, no fraction or exponent.
 * 0, -1 when it is not an integer, -2 when it is one beyond int64.
 */
static int
parse_int_text(const char *s, size_t len, int64_t *out)
{
    int       neg, overflow;
    size_t    i;
    uint64_t  v, limit, d;

    neg = (len > 0 && s[0] == '-');
    i = neg;

    if (i == len) {
        return -1;
    }

    limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    v = 0;
    overflow = 0;

    for ( /* void */ ; i < len; i++) {
        if (!is_digit((unsigned char) s[i])) {
            return -1;
        }

        d = (uint64_t) (s[i] - '0');

        if (v > (limit - d) / 10) {
            overflow = 1;       /* keep going: "9...9x" is not an integer */
        } else {
            v = v * 10 + d;
        }
    }

    if (overflow) {
        return -2;
    }

    *out = neg ? (int64_t) (0 - v) : (int64_t) v;
    return 0;
}


static size_t
skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && is_digit((unsigned char) s[i])) {
        i++;
    }

    return i;
}


/* JSON's number grammar (leading zeros tolerated): keeps strtod away from
 * "inf", "nan", hex floats and leading spaces. */
static int
is_number_text(const char *s, size_t len)
{
    size_t  i, start;

    i = (len > 0 && s[0] == '-');
    start = i;
    i = skip_digits(s, i, len);
    if (i == start) {
        return 0;
    }

    if (i < len && s[i] == '.') {
        start = ++i;
        i = skip_digits(s, i, len);
        if (i == start) {
            return 0;
        }
    }

    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        start = i;
        i = skip_digits(s, i, len);
        if (i == start) {
            return 0;
        }
    }

    return i == len;
}


/* s is NUL-terminated and already matches the number grammar. strtod
 * reads '.' as the decimal point: nginx workers run in the C locale. */
static int
parse_number_text(const char *s, double *out)
{
    char    *end;
    double   d;

    d = strtod(s, &end);

    if (end == s || *end != '\0' || !isfinite(d)) {
        return -1;
    }

    *out = (d == 0) ? 0 : d;     /* no -0 in requests */
    return 0;
}


static int
eq_nocase(const char *s, size_t len, const char *name)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (name[i] == '\0'
            || ascii_lower((unsigned char) s[i])
               != ascii_lower((unsigned char) name[i]))
        {
            return 0;
        }
    }

    return name[len] == '\0';
}


/* "HH:MM", 00:00 .. 23:59, into minutes after midnight */
static int
parse_hhmm(const char *s, size_t len, int *minute)
{
    int  h, m;

    if (len != 5 || s[2] != ':'
        || !is_digit((unsigned char) s[0]) || !is_digit((unsigned char) s[1])
        || !is_digit((unsigned char) s[3]) || !is_digit((unsigned char) s[4]))
    {
        return -1;
    }

    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');

    if (h > 23 || m > 59) {
        return -1;
    }

    *minute = h * 60 + m;
    return 0;
}


static int
hex_value(int c)
{
    if (is_digit(c)) {
        return c - '0';
    }

    c = ascii_lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


#define DECODE_MALFORMED  (-1)
#define DECODE_TOO_LONG   (-2)

/*
 * One query-string component, '+' as a space and %XX as a byte, into dst
 * (NUL-terminated). Returns the decoded length or DECODE_MALFORMED /
 * DECODE_TOO_LONG (more than cap - 1 bytes).
 */
static long
query_decode(const char *s, size_t len, char *dst, size_t cap)
{
    int     hi, lo;
    size_t  i, n;

    for (i = 0, n = 0; i < len; n++) {
        if (n + 1 >= cap) {
            return DECODE_TOO_LONG;
        }

        if (s[i] == '%') {
            if (len - i < 3) {
                return DECODE_MALFORMED;
            }
            hi = hex_value((unsigned char) s[i + 1]);
            lo = hex_value((unsigned char) s[i + 2]);
            if (hi < 0 || lo < 0) {
                return DECODE_MALFORMED;
            }
            dst[n] = (char) (hi << 4 | lo);
            i += 3;
            continue;
        }

        dst[n] = (s[i] == '+') ? ' ' : s[i];
        i++;
    }

    dst[n] = '\0';
    return (long) n;
}


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


/* name is key[0..len) (key may hold NUL bytes); most names differ at
 * their first byte, which is where this loop stops */
static int
name_is(const char *name, const char *key, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (name[i] == '\0' || name[i] != key[i]) {
            return 0;
        }
    }

    return name[len] == '\0';
}


static size_t
find_field(const field_spec_t *specs, size_t n, const char *key, size_t len)
{
    size_t  j;

    for (j = 0; j < n; j++) {
        if (name_is(specs[j].name, key, len)) {
            return j;
        }
    }

    return n;
}


/* "an integer from 1 to 500", "one of edge, prob_up, mean_return", ... */
static void
describe_expected(const field_spec_t *f, int query, char *buf, size_t cap)
{
    size_t  i, n;

    switch (f->kind) {

    case FK_INT:
        if (f->ilo == INT64_MIN && f->ihi == INT64_MAX) {
            snprintf(buf, cap, "an integer");
        } else {
            snprintf(buf, cap, "an integer from %lld to %lld",
                     (long long) f->ilo, (long long) f->ihi);
        }
        return;

    case FK_HORIZON:
        snprintf(buf, cap, "a number of minutes, one of " PRT_HORIZONS_TEXT);
        return;

    case FK_NUM:
    case FK_WHOLE:
        if (isinf(f->dlo) && isinf(f->dhi)) {
            snprintf(buf, cap, "a number");
        } else if (isinf(f->dhi)) {
            snprintf(buf, cap, "a number >= %g", f->dlo);
        } else {
            snprintf(buf, cap, "a %snumber from %g to %g",
                     f->kind == FK_WHOLE ? "whole " : "", f->dlo, f->dhi);
        }
        return;

    case FK_BOOL:
        snprintf(buf, cap, query ? "true, false, 1 or 0" : "true or false");
        return;

    case FK_ENUM:
        n = (size_t) snprintf(buf, cap, "one of");
        for (i = 0; f->names[i] != NULL && n < cap; i++) {
            n += (size_t) snprintf(buf + n, cap - n, "%s %s",
                                   i ? "," : "", f->names[i]);
        }
        return;

    default:
        snprintf(buf, cap, "a string");
        return;
    }
}


static int
field_error(const field_spec_t *f, int query, const char *got,
    prt_parse_error_t *err)
{
    char  expected[96];

    describe_expected(f, query, expected, sizeof(expected));

    return bad_request(err, f->name, "%s must be %s (got %s)", f->name,
                       expected, got);
}


static int
accept_int(const field_spec_t *f, const char *s, size_t len,
    field_value_t *v)
{
    int64_t  i;

    if (parse_int_text(s, len, &i) != 0) {
        return -1;
    }

    if (f->kind == FK_HORIZON ? !prt_req_horizon_valid(i)
                              : (i < f->ilo || i > f->ihi))
    {
        return -1;
    }

    v->i = i;
    return 0;
}


/* s: NUL-terminated number text */
static int
accept_number(const field_spec_t *f, const char *s, field_value_t *v)
{
    double  d;

    if (parse_number_text(s, &d) != 0 || d < f->dlo || d > f->dhi) {
        return -1;
    }

    /* trims are whole percents: the request struct holds integers */
    if (f->kind == FK_WHOLE && d != floor(d)) {
        return -1;
    }

    v->d = d;
    return 0;
}


static int
accept_enum(const field_spec_t *f, const char *s, size_t len,
    field_value_t *v)
{
    int64_t  i;

    for (i = 0; f->names[i] != NULL; i++) {
        if (eq_nocase(s, len, f->names[i])) {
            v->i = i;
            return 0;
        }
    }

    return -1;
}


static int
require_fields(const field_spec_t *specs, size_t n, const field_value_t *v,
    prt_parse_error_t *err)
{
    size_t  j;

    for (j = 0; j < n; j++) {
        if (specs[j].required && !v[j].present) {
            return bad_request(err, specs[j].name, "%s is required%s",
                               specs[j].name,
                               v[j].seen ? " (got null)" : "");
        }
    }

    return 0;
}


/* ---- JSON values -------------------------------------------------------- */


/* what a JSON value is, for "(got ...)" */
static const char *
describe_json(yajl_val v, char buf[SHOW_SIZE + 2])
{
    char  shown[SHOW_SIZE];

    switch (v->type) {
    case yajl_t_string:
        snprintf(buf, SHOW_SIZE + 2, "\"%s\"",
                 show(shown, v->u.string, strlen(v->u.string)));
        return buf;
    case yajl_t_number:
        return show(buf, v->u.number.r, strlen(v->u.number.r));
    case yajl_t_object:
        return "an object";
    case yajl_t_array:
        return "an array";
    case yajl_t_true:
        return "true";
    case yajl_t_false:
        return "false";
    default:
        return "null";
    }
}


static int
json_accept(const field_spec_t *f, yajl_val j, field_value_t *v)
{
    switch (f->kind) {

    case FK_INT:
    case FK_HORIZON:
        /* yajl keeps the number's text: "4.5", "1e2" and "40.0" fail
         * the digits-only syntax, so no float ever becomes an integer */
        return YAJL_IS_NUMBER(j)
               ? accept_int(f, j->u.number.r, strlen(j->u.number.r), v) : -1;

    case FK_NUM:
    case FK_WHOLE:
        return YAJL_IS_NUMBER(j) ? accept_number(f, j->u.number.r, v) : -1;

    case FK_BOOL:
        if (!YAJL_IS_TRUE(j) && !YAJL_IS_FALSE(j)) {
            return -1;
        }
        v->i = YAJL_IS_TRUE(j);
        return 0;

    case FK_ENUM:
        return YAJL_IS_STRING(j)
               ? accept_enum(f, j->u.string, strlen(j->u.string), v) : -1;

    case FK_STRING:
        if (!YAJL_IS_STRING(j)) {
            return -1;
        }
        v->s = j->u.string;
        v->len = strlen(j->u.string);
        return 0;

    case FK_JSON:
        v->json = j;
        return 0;

    default:
        return 0;
    }
}


/*
 * One value per field of specs from a JSON object: unknown and duplicate
 * keys are errors, null is the same as absent, types are strict.
 */
static int
json_read_object(yajl_val obj, const field_spec_t *specs, size_t n,
    field_value_t *v, prt_parse_error_t *err)
{
    char         shown[SHOW_SIZE + 2];
    size_t       i, j;
    const char  *key;
    yajl_val     val;

    memset(v, 0, n * sizeof(*v));

    for (i = 0; i < obj->u.object.len; i++) {
        key = obj->u.object.keys[i];
        val = obj->u.object.values[i];
        j = find_field(specs, n, key, strlen(key));

        if (j == n) {
            return bad_request(err, key, "unknown field \"%s\"",
                               show(shown, key, strlen(key)));
        }

        if (v[j].seen) {
            return bad_request(err, key, "duplicate field \"%s\"",
                               show(shown, key, strlen(key)));
        }

        v[j].seen = 1;

        if (YAJL_IS_NULL(val)) {
            continue;
        }

        if (json_accept(&specs[j], val, &v[j]) != 0) {
            return field_error(&specs[j], 0, describe_json(val, shown), err);
        }

        v[j].present = 1;
    }

    return require_fields(specs, n, v, err);
}


/*
 * What yajl_tree cannot be trusted with, in one pass over the raw bytes:
 * nesting depth (yajl_tree_free recurses), NUL bytes (yajl_tree_parse
 * stops at the first) and \u0000 escapes (its strings are NUL-terminated:
 * "AAPL\u0000junk" would read as "AAPL"). The string tracking agrees with
 * yajl on every valid prefix, and yajl stops at the first invalid byte, so
 * no tree deeper than the limit is ever built.
 */
static int
json_prescan(const char *s, size_t len, prt_parse_error_t *err)
{
    int       in_string;
    size_t    i;
    unsigned  depth;

    depth = 0;
    in_string = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '\0') {
            return bad_request(err, NULL, "request body contains a NUL byte");
        }

        if (in_string) {
            if (s[i] == '"') {
                in_string = 0;

            } else if (s[i] == '\\' && i + 1 < len) {
                if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0) {
                    return bad_request(err, NULL, "JSON strings must not "
                                       "contain \\u0000");
                }
                i++;            /* the escaped byte, checked for NUL */
                if (s[i] == '\0') {
                    return bad_request(err, NULL,
                                       "request body contains a NUL byte");
                }
            }
            continue;
        }

        if (s[i] == '"') {
            in_string = 1;

        } else if (s[i] == '{' || s[i] == '[') {
            if (++depth > PRT_REQ_JSON_MAX_DEPTH) {
                return bad_request(err, NULL, "JSON nested deeper than %d "
                                   "levels", PRT_REQ_JSON_MAX_DEPTH);
            }

        } else if ((s[i] == '}' || s[i] == ']') && depth > 0) {
            depth--;
        }
    }

    return 0;
}


/* yajl's message is its first line; the rest quotes the input */
static int
json_syntax_error(const char *yajl_msg, prt_parse_error_t *err)
{
    size_t  n;

    n = strcspn(yajl_msg, "\n");
    while (n > 0 && (yajl_msg[n - 1] == ' ' || yajl_msg[n - 1] == '.')) {
        n--;
    }

    return bad_request(err, NULL, "malformed JSON: %.*s", (int) n, yajl_msg);
}


static int
json_parse(const prt_allocator_t *a, const char *body, size_t len,
    yajl_val *root, prt_parse_error_t *err)
{
    char  *text, msg[256];

    if (body == NULL || len == 0) {
        return bad_request(err, NULL, "request body is empty");
    }

    if (json_prescan(body, len, err) != 0) {
        return -1;
    }

    text = a->alloc(a->ctx, len + 1);
    if (text == NULL) {
        return out_of_memory(err);
    }

    memcpy(text, body, len);
    text[len] = '\0';

    msg[0] = '\0';
    *root = yajl_tree_parse(text, msg, sizeof(msg));

    if (*root == NULL) {
        return json_syntax_error(msg[0] ? msg : "parse error", err);
    }

    return 0;
}


/* Parses a body that must be one object of the given fields. On success
 * the caller frees *root once done with the values (they point into it). */
static int
json_object_body(const prt_allocator_t *a, const char *body, size_t len,
    const field_spec_t *specs, size_t n, field_value_t *v, yajl_val *root,
    prt_parse_error_t *err)
{
    if (json_parse(a, body, len, root, err) != 0) {
        return -1;
    }

    if (!YAJL_IS_OBJECT(*root)) {
        yajl_tree_free(*root);
        return bad_request(err, NULL, "request body must be a JSON object");
    }

    if (json_read_object(*root, specs, n, v, err) != 0) {
        yajl_tree_free(*root);
        return -1;
    }

    return 0;
}


/* ---- query strings ------------------------------------------------------ */


static int
query_accept(const field_spec_t *f, field_value_t *v)
{
    switch (f->kind) {

    case FK_INT:
    case FK_HORIZON:
        return accept_int(f, v->s, v->len, v);

    case FK_NUM:
    case FK_WHOLE:
        return is_number_text(v->s, v->len) ? accept_number(f, v->s, v) : -1;

    case FK_BOOL:
        if (eq_nocase(v->s, v->len, "true") || eq_nocase(v->s, v->len, "1")) {
            v->i = 1;
            return 0;
        }
        if (eq_nocase(v->s, v->len, "false") || eq_nocase(v->s, v->len, "0"))
        {
            v->i = 0;
            return 0;
        }
        return -1;

    case FK_ENUM:
        return accept_enum(f, v->s, v->len, v);

    default:
        return 0;
    }
}


/* Decodes and checks the last raw value seen for a field. */
static int
query_take(const field_spec_t *f, field_value_t *v, prt_parse_error_t *err)
{
    long  n;
    char  shown[SHOW_SIZE], got[SHOW_SIZE + 2];

    n = query_decode(v->s, v->len, v->text, sizeof(v->text));

    if (n == DECODE_MALFORMED) {
        return bad_request(err, f->name, "%s: malformed percent-encoding",
                           f->name);
    }

    if (n == DECODE_TOO_LONG) {
        return bad_request(err, f->name, "%s is too long (at most %d bytes)",
                           f->name, PRT_REQ_QUERY_VALUE_MAX);
    }

    v->s = v->text;
    v->len = (size_t) n;

    if (n == 0) {
        return 0;               /* "k=": a blank form field, as absent */
    }

    if (query_accept(f, v) != 0) {
        snprintf(got, sizeof(got), "\"%s\"", show(shown, v->s, v->len));
        return field_error(f, 1, got, err);
    }

    v->present = 1;
    return 0;
}


static size_t
query_find_key(const field_spec_t *specs, size_t n, const char *key,
    size_t len)
{
    char  buf[QUERY_KEY_MAX + 1];
    long  dlen;

    /* a key we cannot decode cannot be one of ours: ignore it like any
     * other unknown key */
    dlen = query_decode(key, len, buf, sizeof(buf));
    if (dlen < 0) {
        return n;
    }

    return find_field(specs, n, buf, (size_t) dlen);
}


/*
 * One value per field from "a=1&b=2": the last occurrence of a key wins,
 * unknown keys are ignored (browsers add cache-busters), "a=" and "a" mean
 * absent. Only values of known keys are decoded and checked.
 */
static int
query_read(const char *args, size_t len, const field_spec_t *specs,
    size_t n, field_value_t *v, prt_parse_error_t *err)
{
    size_t       j;
    const char  *p, *end, *amp, *eq, *seg_end;

    memset(v, 0, n * sizeof(*v));

    if (args == NULL) {
        args = "";
        len = 0;
    }

    for (p = args, end = args + len; p < end; /* void */) {
        amp = memchr(p, '&', (size_t) (end - p));
        seg_end = amp ? amp : end;
        eq = memchr(p, '=', (size_t) (seg_end - p));

        j = query_find_key(specs, n, p, (size_t) ((eq ? eq : seg_end) - p));
        if (j < n) {
            v[j].seen = 1;
            v[j].s = eq ? eq + 1 : seg_end;
            v[j].len = (size_t) (seg_end - v[j].s);
        }

        p = amp ? amp + 1 : end;
    }

    for (j = 0; j < n; j++) {
        if (v[j].seen && query_take(&specs[j], &v[j], err) != 0) {
            return -1;
        }
    }

    return require_fields(specs, n, v, err);
}


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


static int
forecast_from(const field_value_t *v, int exclude_self_default,
    prt_forecast_args_t *f, prt_parse_error_t *err)
{
    memset(f, 0, sizeof(*f));

    f->k = v[FA_K].present ? (int32_t) v[FA_K].i : PRT_REQ_DEFAULT_K;
    f->horizon = v[FA_HORIZON].present ? (int32_t) v[FA_HORIZON].i
                                       : PRT_REQ_DEFAULT_HORIZON;
    f->alpha = v[FA_ALPHA].present ? v[FA_ALPHA].d : PRT_REQ_DEFAULT_ALPHA;
    f->trim_lo = v[FA_TRIM_LO].present ? (int32_t) v[FA_TRIM_LO].d : 0;
    f->trim_hi = v[FA_TRIM_HI].present ? (int32_t) v[FA_TRIM_HI].d : 0;
    f->exclude_self = (uint8_t) (v[FA_EXCLUDE_SELF].present
                                 ? v[FA_EXCLUDE_SELF].i
                                 : exclude_self_default);
    f->cross_asset = (uint8_t) (v[FA_CROSS_ASSET].present
                                ? v[FA_CROSS_ASSET].i : 1);

    if (f->exclude_self && !f->cross_asset) {
        return bad_request(err, "cross_asset", "cross_asset=false keeps only "
                           "the same ticker's neighbours and exclude_self="
                           "true drops them: set exclude_self to false or "
                           "cross_asset to true");
    }

    return 0;
}


/* ---- POST /api/patterns/search ------------------------------------------ */


enum { SE_TICKER = FA_COUNT, SE_MODE, SE_TIMESTAMP, SE_COUNT };

/* in prt_search_mode_t order */
static const char *const  search_modes[] = { "historical", "realtime", NULL };

static const field_spec_t  search_fields[SE_COUNT] = {
    FORECAST_FIELDS,
    [SE_TICKER] = { .name = "ticker", .kind = FK_STRING, .required = 1 },
    [SE_MODE] = { .name = "mode", .kind = FK_ENUM, .names = search_modes },
    [SE_TIMESTAMP] = { .name = "timestamp", .kind = FK_STRING },
};


/* 1 when a New York day number is one a request may name */
static int
day_in_range(int64_t day)
{
    return day >= PRT_DATES_FIRST_DAY && day <= PRT_DATES_LAST_DAY;
}


static int
read_timestamp(const field_value_t *v, int64_t *ms, prt_parse_error_t *err)
{
    char     shown[SHOW_SIZE];
    int64_t  t, s;

    if (prt_parse_iso(v->s, v->len, &t) != 0) {
        return bad_request(err, "timestamp", "timestamp must be ISO-8601, "
                           "YYYY-MM-DD[THH:MM[:SS[.fff]]] with Z, +HH:MM or "
                           "no offset for New York time (got \"%s\")",
                           show(shown, v->s, v->len));
    }

    /* the engine looks the instant up by its New York date */
    s = t >= 0 ? t / 1000 : (t - 999) / 1000;
    if (!day_in_range(prt_ny_day_of_utc(s))) {
        return bad_request(err, "timestamp", "timestamp must fall on a New "
                           "York date from " PRT_DATES_TEXT " (got \"%s\")",
                           show(shown, v->s, v->len));
    }

    *ms = t;
    return 0;
}


static int
search_from(prt_parser_t *p, const field_value_t *v, prt_req_search_t *out,
    prt_parse_error_t *err)
{
    if (read_symbol(p, "ticker", v[SE_TICKER].s, v[SE_TICKER].len,
                    out->ticker, err) != 0)
    {
        return -1;
    }

    out->format = PRT_FORMAT_PATTERNS;
    out->mode = (uint8_t) (v[SE_MODE].present ? v[SE_MODE].i
                                              : PRT_SEARCH_HISTORICAL);

    /* checked in both modes, so a client's mistake never goes unnoticed,
     * but realtime scans use the latest complete bar and ignore it */
    if (v[SE_TIMESTAMP].present
        && read_timestamp(&v[SE_TIMESTAMP], &out->time_ms, err) != 0)
    {
        return -1;
    }

    if (out->mode == PRT_SEARCH_REALTIME) {
        out->time_ms = 0;

    } else if (!v[SE_TIMESTAMP].present) {
        return bad_request(err, "timestamp", "timestamp is required when "
                           "mode is \"historical\"");
    }

    return forecast_from(v, 0, &out->f, err);
}


int
prt_req_parse_search(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, prt_req_search_t *out,
    prt_parse_error_t *err)
{
    int            rc;
    yajl_val       root;
    field_value_t  v[SE_COUNT];

    memset(out, 0, sizeof(*out));

    if (json_object_body(a, body, len, search_fields, SE_COUNT, v, &root, err)
        != 0)
    {
        return -1;
    }

    rc = search_from(p, v, out, err);
    yajl_tree_free(root);

    return rc;
}


/* ---- POST /api/search/historical (front end) ---------------------------- */


enum { FH_SYMBOL = FA_COUNT, FH_DATE, FH_TIME, FH_WINDOW, FH_COUNT };

static const field_spec_t  fe_historical_fields[FH_COUNT] = {
    FORECAST_FIELDS,
    [FH_SYMBOL] = { .name = "symbol", .kind = FK_STRING, .required = 1 },
    [FH_DATE] = { .name = "date", .kind = FK_STRING, .required = 1 },
    [FH_TIME] = { .name = "time", .kind = FK_STRING, .required = 1 },
    [FH_WINDOW] = { .name = "window_minutes", .kind = FK_INT,
                    .ilo = PRT_SPAN_MIN, .ihi = PRT_SPAN_MAX },
};


static int
read_date(const char *field, const field_value_t *v, int64_t *day,
    prt_parse_error_t *err)
{
    char  shown[SHOW_SIZE];

    if (prt_parse_date(v->s, v->len, day) != 0) {
        return bad_request(err, field, "%s must be a date YYYY-MM-DD (got "
                           "\"%s\")", field, show(shown, v->s, v->len));
    }

    if (!day_in_range(*day)) {
        return bad_request(err, field, "%s must be from " PRT_DATES_TEXT
                           " (got \"%s\")", field,
                           show(shown, v->s, v->len));
    }

    return 0;
}


static int
read_hhmm(const char *field, const field_value_t *v, int *minute,
    prt_parse_error_t *err)
{
    char  shown[SHOW_SIZE];

    if (parse_hhmm(v->s, v->len, minute) == 0) {
        return 0;
    }

    return bad_request(err, field, "%s must be HH:MM, New York time, from "
                       "00:00 to 23:59 (got \"%s\")", field,
                       show(shown, v->s, v->len));
}


static int
fe_historical_from(prt_parser_t *p, const field_value_t *v,
    prt_req_search_t *out, prt_parse_error_t *err)
{
    int      minute, y, mo, d;
    int64_t  day;

    if (read_symbol(p, "symbol", v[FH_SYMBOL].s, v[FH_SYMBOL].len,
                    out->ticker, err) != 0
        || read_date("date", &v[FH_DATE], &day, err) != 0
        || read_hhmm("time", &v[FH_TIME], &minute, err) != 0)
    {
        return -1;
    }

    /*
     * 15-120 (range checked with the field): the span of prices the chart
     * shows. The search uses the index's window ending at the same bar,
     * as the original service did, and says so in query.window_minutes.
     */
    out->span = (uint8_t) (v[FH_WINDOW].present ? v[FH_WINDOW].i
                                                : PRT_REQ_WINDOW_MINUTES);

    prt_civil_from_days(day, &y, &mo, &d);

    out->time_ms = prt_ny_to_utc(y, mo, d, minute / 60, minute % 60, 0)
                   * 1000;
    out->mode = PRT_SEARCH_HISTORICAL;
    out->format = PRT_FORMAT_FRONTEND;

    return forecast_from(v, 0, &out->f, err);
}


int
prt_req_parse_fe_historical(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, prt_req_search_t *out,
    prt_parse_error_t *err)
{
    int            rc;
    yajl_val       root;
    field_value_t  v[FH_COUNT];

    memset(out, 0, sizeof(*out));

    if (json_object_body(a, body, len, fe_historical_fields, FH_COUNT, v,
                         &root, err) != 0)
    {
        return -1;
    }

    rc = fe_historical_from(p, v, out, err);
    yajl_tree_free(root);

    return rc;
}


/* ---- GET /api/search/{SYMBOL} (front end, realtime) --------------------- */


static const field_spec_t  forecast_fields[FA_COUNT] = { FORECAST_FIELDS };


int
prt_req_parse_fe_realtime(prt_parser_t *p, const char *symbol,
    size_t symbol_len, const char *args, size_t args_len,
    prt_req_search_t *out, prt_parse_error_t *err)
{
    field_value_t  v[FA_COUNT];

    memset(out, 0, sizeof(*out));

    if (read_symbol(p, "symbol", symbol, symbol_len, out->ticker, err) != 0
        || query_read(args, args_len, forecast_fields, FA_COUNT, v, err) != 0)
    {
        return -1;
    }

    out->mode = PRT_SEARCH_REALTIME;
    out->format = PRT_FORMAT_FRONTEND;

    return forecast_from(v, 0, &out->f, err);
}


/* ---- GET /api/historical/{prices,ohlc}/{SYMBOL} ------------------------- */


enum { PR_DATE, PR_START, PR_END, PR_COUNT };

static const field_spec_t  prices_fields[PR_COUNT] = {
    [PR_DATE] = { .name = "date", .kind = FK_STRING },
    [PR_START] = { .name = "start_time", .kind = FK_STRING },
    [PR_END] = { .name = "end_time", .kind = FK_STRING },
};

#define REGULAR_OPEN_MINUTE   (9 * 60 + 30)
#define REGULAR_CLOSE_MINUTE  (16 * 60)


static int
prices_from(const field_value_t *v, prt_req_prices_t *out,
    prt_parse_error_t *err)
{
    int      start, end;
    int64_t  day;

    day = INT32_MIN;
    start = REGULAR_OPEN_MINUTE;
    end = REGULAR_CLOSE_MINUTE;

    if ((v[PR_DATE].present && read_date("date", &v[PR_DATE], &day, err))
        || (v[PR_START].present
            && read_hhmm("start_time", &v[PR_START], &start, err))
        || (v[PR_END].present
            && read_hhmm("end_time", &v[PR_END], &end, err)))
    {
        return -1;
    }

    if (start > end) {
        return bad_request(err, "start_time", "start_time (%02d:%02d) must "
                           "not be after end_time (%02d:%02d)", start / 60,
                           start % 60, end / 60, end % 60);
    }

    out->day = (int32_t) day;       /* PRT_DAY_MIN..MAX fit in int32 */
    out->start_minute = (int16_t) start;
    out->end_minute = (int16_t) end;

    return 0;
}


int
prt_req_parse_prices(prt_parser_t *p, prt_prices_kind_t kind,
    const char *symbol, size_t symbol_len, const char *args, size_t args_len,
    prt_req_prices_t *out, prt_parse_error_t *err)
{
    field_value_t  v[PR_COUNT];

    memset(out, 0, sizeof(*out));
    out->kind = (uint8_t) kind;

    if (read_symbol(p, "symbol", symbol, symbol_len, out->symbol, err) != 0
        || query_read(args, args_len, prices_fields, PR_COUNT, v, err) != 0)
    {
        return -1;
    }

    return prices_from(v, out, err);
}


/* ---- POST /api/pattern-realtime/run: symbols ---------------------------- */


typedef struct {
    prt_parser_t  *parser;
    char          *symbols;     /* n * PRT_SYMBOL_SIZE */
    uint32_t       n;
    uint32_t       max;
    uint32_t      *slots;       /* open addressing: index + 1, 0 = free */
    uint32_t       mask;
} symbol_set_t;


static int
is_separator(int c)
{
    return c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t';
}


/* calls fn for every token of s split on separators; stops at an error */
static int
for_each_token(const char *s, size_t len,
    int (*fn)(void *ctx, const char *tok, size_t tlen), void *ctx)
{
    size_t  i, start;

    for (i = 0; i < len; /* void */) {
        while (i < len && is_separator((unsigned char) s[i])) {
            i++;
        }

        start = i;
        while (i < len && !is_separator((unsigned char) s[i])) {
            i++;
        }

        if (i > start && fn(ctx, s + start, i - start) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
count_token(void *ctx, const char *tok, size_t len)
{
    (*(size_t *) ctx)++;
    return 0;
}


/* FNV-1a over the NUL-padded symbol */
static uint32_t
symbol_hash(const char *sym)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;
    for (i = 0; i < PRT_SYMBOL_SIZE; i++) {
        h = (h ^ (uint8_t) sym[i]) * 16777619u;
    }

    return h;
}


/* the slot holding sym, or the free slot where it belongs */
static uint32_t *
symbol_slot(symbol_set_t *set, const char *sym)
{
    uint32_t  i, *slot;

    for (i = symbol_hash(sym) & set->mask; ; i = (i + 1) & set->mask) {
        slot = &set->slots[i];
        if (*slot == 0
            || memcmp(set->symbols + (size_t) (*slot - 1) * PRT_SYMBOL_SIZE,
                      sym, PRT_SYMBOL_SIZE) == 0)
        {
            return slot;
        }
    }
}


typedef struct {
    symbol_set_t       *set;
    prt_parse_error_t  *err;
} symbol_add_ctx_t;


static int
symbol_add(void *ctx, const char *tok, size_t len)
{
    char               sym[PRT_SYMBOL_SIZE], shown[SHOW_SIZE];
    uint32_t          *slot;
    symbol_set_t      *set;
    symbol_add_ctx_t  *c = ctx;

    set = c->set;

    if (symbol_normalize(set->parser, tok, len, sym) != 0) {
        return bad_request(c->err, "symbols", "symbols: \"%s\" is not a "
                           "valid symbol (" SYMBOL_RULE ")",
                           show(shown, tok, len));
    }

    slot = symbol_slot(set, sym);
    if (*slot != 0) {
        return 0;                       /* duplicate: first one kept */
    }

    if (set->n == set->max) {
        return bad_request(c->err, "symbols", "symbols: more than %u "
                           "distinct symbols (the limit is %u)", set->max,
                           set->max);
    }

    memcpy(set->symbols + (size_t) set->n * PRT_SYMBOL_SIZE, sym,
           PRT_SYMBOL_SIZE);
    *slot = ++set->n;

    return 0;
}


/* symbols: one string, or an array of strings; each string is split */
static int
symbols_check_shape(yajl_val j, prt_parse_error_t *err)
{
    size_t  i;

    if (YAJL_IS_STRING(j)) {
        return 0;
    }

    if (!YAJL_IS_ARRAY(j)) {
        return bad_request(err, "symbols", "symbols must be an array of "
                           "strings or one string of symbols separated by "
                           "spaces, commas or newlines");
    }

    for (i = 0; i < j->u.array.len; i++) {
        if (!YAJL_IS_STRING(j->u.array.values[i])) {
            return bad_request(err, "symbols", "symbols[%zu] must be a "
                               "string", i);
        }
    }

    return 0;
}


static int
symbols_each(yajl_val j, int (*fn)(void *, const char *, size_t), void *ctx)
{
    size_t       i, n;
    yajl_val    *items;
    const char  *s;

    items = YAJL_IS_ARRAY(j) ? j->u.array.values : &j;
    n = YAJL_IS_ARRAY(j) ? j->u.array.len : 1;

    for (i = 0; i < n; i++) {
        s = items[i]->u.string;
        if (for_each_token(s, strlen(s), fn, ctx) != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * cap = min(tokens, max) symbols, known before any token is read: the set
 * stops at max distinct symbols and there are no more than tokens, so it
 * never outgrows cap, and the table (>= 2 * cap slots) never fills.
 */
static int
symbol_set_init(symbol_set_t *set, prt_parser_t *p, const prt_allocator_t *a,
    size_t cap, uint32_t max, char *symbols, prt_parse_error_t *err)
{
    size_t  nslots;

    nslots = 16;
    while (nslots < cap * 2) {
        nslots *= 2;
    }

    set->slots = a->alloc(a->ctx, nslots * sizeof(uint32_t));
    if (set->slots == NULL) {
        return out_of_memory(err);
    }

    memset(set->slots, 0, nslots * sizeof(uint32_t));
    set->mask = (uint32_t) (nslots - 1);
    set->parser = p;
    set->symbols = symbols;
    set->n = 0;
    set->max = max;

    return 0;
}


/* ---- POST /api/pattern-realtime/run ------------------------------------- */


enum { RU_SYMBOLS = FA_COUNT, RU_MIN_EDGE, RU_SESSIONS, RU_COUNT };

static const field_spec_t  run_fields[RU_COUNT] = {
    FORECAST_FIELDS,
    [RU_SYMBOLS] = { .name = "symbols", .kind = FK_JSON, .required = 1 },
    [RU_MIN_EDGE] = { .name = "min_edge", .kind = FK_NUM,
                      .dlo = 0, .dhi = INFINITY },
    [RU_SESSIONS] = { .name = "sessions", .kind = FK_JSON },
};

/* bit i is PRT_SESSION_BIT_* */
static const char *const  session_names[] = { "pre", "regular", "post",
                                               NULL };


static int
sessions_from(yajl_val j, uint32_t *mask, prt_parse_error_t *err)
{
    size_t         i;
    yajl_val       s;
    field_value_t  v;
    field_spec_t   spec = { .name = "sessions", .kind = FK_ENUM,
                            .names = session_names };

    if (!YAJL_IS_ARRAY(j) || j->u.array.len == 0) {
        return bad_request(err, "sessions", "sessions must be a non-empty "
                           "array of \"pre\", \"regular\", \"post\"");
    }

    *mask = 0;

    for (i = 0; i < j->u.array.len; i++) {
        s = j->u.array.values[i];
        if (!YAJL_IS_STRING(s)
            || accept_enum(&spec, s->u.string, strlen(s->u.string), &v) != 0)
        {
            return bad_request(err, "sessions", "sessions[%zu] must be one "
                               "of \"pre\", \"regular\", \"post\"", i);
        }
        *mask |= 1u << v.i;
    }

    return 0;
}


static int
run_symbols(prt_parser_t *p, const prt_allocator_t *a, yajl_val j,
    uint32_t max_symbols, prt_req_run_t **out, prt_parse_error_t *err)
{
    size_t            tokens, cap;
    symbol_set_t      set;
    symbol_add_ctx_t  ctx;

    tokens = 0;
    if (symbols_check_shape(j, err) != 0) {
        return -1;
    }
    (void) symbols_each(j, count_token, &tokens);

    if (tokens == 0) {
        return bad_request(err, "symbols", "symbols is empty");
    }

    cap = tokens < max_symbols ? tokens : max_symbols;

    *out = a->alloc(a->ctx, sizeof(prt_req_run_t) + cap * PRT_SYMBOL_SIZE);
    if (*out == NULL) {
        return out_of_memory(err);
    }
    memset(*out, 0, sizeof(prt_req_run_t) + cap * PRT_SYMBOL_SIZE);

    if (symbol_set_init(&set, p, a, cap, max_symbols, (char *) (*out + 1),
                        err) != 0)
    {
        return -1;
    }

    ctx.set = &set;
    ctx.err = err;

    if (symbols_each(j, symbol_add, &ctx) != 0) {
        return -1;
    }

    (*out)->nsymbols = set.n;
    return 0;
}


static int
run_from(prt_parser_t *p, const prt_allocator_t *a, const field_value_t *v,
    uint32_t max_symbols, prt_req_run_t **out, size_t *out_len,
    prt_parse_error_t *err)
{
    uint32_t             sessions;
    prt_forecast_args_t  f;

    sessions = PRT_SESSION_BITS_ALL;

    if (forecast_from(v, 1, &f, err) != 0
        || (v[RU_SESSIONS].present
            && sessions_from(v[RU_SESSIONS].json, &sessions, err) != 0)
        || run_symbols(p, a, v[RU_SYMBOLS].json, max_symbols, out, err) != 0)
    {
        return -1;
    }

    (*out)->f = f;
    (*out)->min_edge = v[RU_MIN_EDGE].present ? v[RU_MIN_EDGE].d : 0;
    (*out)->sessions = sessions;
    *out_len = sizeof(prt_req_run_t)
               + (size_t) (*out)->nsymbols * PRT_SYMBOL_SIZE;

    return 0;
}


int
prt_req_parse_run(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, uint32_t max_symbols,
    prt_req_run_t **out, size_t *out_len, prt_parse_error_t *err)
{
    int            rc;
    yajl_val       root;
    field_value_t  v[RU_COUNT];

    *out = NULL;
    *out_len = 0;

    if (json_object_body(a, body, len, run_fields, RU_COUNT, v, &root, err)
        != 0)
    {
        return -1;
    }

    rc = run_from(p, a, v, max_symbols, out, out_len, err);
    yajl_tree_free(root);

    if (rc != 0) {
        *out = NULL;
        *out_len = 0;
    }

    return rc;
}


/* ---- job ids and job results -------------------------------------------- */


int
prt_req_parse_job_id(const char *id, size_t len, prt_req_job_t *out,
    prt_parse_error_t *err)
{
    size_t  i;
    int     dash;

    memset(out, 0, sizeof(*out));

    /* 404, not 400: the front end stops polling on 404 only */
    if (id == NULL || len != PRT_JOB_ID_LEN) {
        return req_fail(err, PRT_E_NOT_FOUND, "job_id", "no such job");
    }

    for (i = 0; i < len; i++) {
        dash = (i == 8 || i == 13 || i == 18 || i == 23);

        if (dash ? id[i] != '-' : hex_value((unsigned char) id[i]) < 0) {
            memset(out, 0, sizeof(*out));
            return req_fail(err, PRT_E_NOT_FOUND, "job_id", "no such job");
        }

        out->job_id[i] = (char) ascii_lower((unsigned char) id[i]);
    }

    return 0;
}


enum { JR_SORT_BY, JR_DIRECTION, JR_LIMIT, JR_INCLUDE_VERIFIED, JR_COUNT };

/* in prt_sort_t and prt_direction_filter_t order */
static const char *const  sort_names[] = { "edge", "prob_up", "mean_return",
                                           "edge_calibrated", NULL };
static const char *const  direction_names[] = { "ALL", "UP", "DOWN", NULL };

static const field_spec_t  job_results_fields[JR_COUNT] = {
    [JR_SORT_BY] = { .name = "sort_by", .kind = FK_ENUM,
                     .names = sort_names },
    [JR_DIRECTION] = { .name = "direction", .kind = FK_ENUM,
                       .names = direction_names },
    [JR_LIMIT] = { .name = "limit", .kind = FK_INT,
                   .ilo = 1, .ihi = PRT_REQ_LIMIT_MAX },
    [JR_INCLUDE_VERIFIED] = { .name = "include_verified", .kind = FK_BOOL },
};


int
prt_req_parse_job_results(const char *id, size_t id_len, const char *args,
    size_t args_len, prt_req_job_results_t *out, prt_parse_error_t *err)
{
    prt_req_job_t  job;
    field_value_t  v[JR_COUNT];

    memset(out, 0, sizeof(*out));

    if (prt_req_parse_job_id(id, id_len, &job, err) != 0
        || query_read(args, args_len, job_results_fields, JR_COUNT, v, err)
           != 0)
    {
        return -1;
    }

    memcpy(out->job_id, job.job_id, sizeof(out->job_id));
    out->sort_by = (uint8_t) (v[JR_SORT_BY].present ? v[JR_SORT_BY].i
                                                    : PRT_SORT_EDGE);
    out->direction = (uint8_t) (v[JR_DIRECTION].present
                                ? v[JR_DIRECTION].i : PRT_FILTER_ALL);
    out->limit = (uint32_t) (v[JR_LIMIT].present ? v[JR_LIMIT].i
                                                 : PRT_REQ_DEFAULT_LIMIT);
    out->include_verified = (uint8_t) (v[JR_INCLUDE_VERIFIED].present
                                       ? v[JR_INCLUDE_VERIFIED].i : 1);

    return 0;
}


/* ---- GET /performance ---------------------------------------------------- */


enum { PE_PERIOD, PE_HORIZON, PE_DEDUPE, PE_COUNT };

/* in prt_period_t order */
static const char *const  period_names[] = { "1h", "today", "week", "all",
                                             NULL };

/* in prt_dedupe_t order */
static const char *const  dedupe_names[] = { "none", "symbol_day", NULL };

static const field_spec_t  performance_fields[PE_COUNT] = {
    [PE_PERIOD] = { .name = "period", .kind = FK_ENUM,
                    .names = period_names },
    [PE_HORIZON] = { .name = "horizon", .kind = FK_HORIZON },
    [PE_DEDUPE] = { .name = "dedupe", .kind = FK_ENUM,
                    .names = dedupe_names },
};


int
prt_req_parse_performance(const char *args, size_t args_len,
    prt_req_performance_t *out, prt_parse_error_t *err)
{
    field_value_t  v[PE_COUNT];

    memset(out, 0, sizeof(*out));

    if (query_read(args, args_len, performance_fields, PE_COUNT, v, err)
        != 0)
    {
        return -1;
    }

    out->period = (uint8_t) (v[PE_PERIOD].present ? v[PE_PERIOD].i
                                                  : PRT_PERIOD_ALL);
    out->horizon = (int32_t) (v[PE_HORIZON].present ? v[PE_HORIZON].i : 0);
    out->dedupe = (uint8_t) (v[PE_DEDUPE].present ? v[PE_DEDUPE].i
                                                  : PRT_DEDUPE_NONE);

    return 0;
}


/* ---- GET /history -------------------------------------------------------- */


enum { HI_LIMIT, HI_OFFSET, HI_SYMBOL, HI_VERIFIED_ONLY, HI_COUNT };

static const field_spec_t  history_fields[HI_COUNT] = {
    [HI_LIMIT] = { .name = "limit", .kind = FK_INT,
                   .ilo = 1, .ihi = PRT_REQ_HISTORY_LIMIT_MAX },
    [HI_OFFSET] = { .name = "offset", .kind = FK_INT,
                    .ilo = 0, .ihi = INT32_MAX },
    [HI_SYMBOL] = { .name = "symbol", .kind = FK_STRING },
    [HI_VERIFIED_ONLY] = { .name = "verified_only", .kind = FK_BOOL },
};


int
prt_req_parse_history(prt_parser_t *p, const char *args, size_t args_len,
    prt_req_history_t *out, prt_parse_error_t *err)
{
    field_value_t  v[HI_COUNT];

    memset(out, 0, sizeof(*out));

    if (query_read(args, args_len, history_fields, HI_COUNT, v, err) != 0
        || (v[HI_SYMBOL].present
            && read_symbol(p, "symbol", v[HI_SYMBOL].s, v[HI_SYMBOL].len,
                           out->symbol, err) != 0))
    {
        memset(out, 0, sizeof(*out));
        return -1;
    }

    out->limit = (uint32_t) (v[HI_LIMIT].present ? v[HI_LIMIT].i
                                                 : PRT_REQ_DEFAULT_LIMIT);
    out->offset = (uint32_t) (v[HI_OFFSET].present ? v[HI_OFFSET].i : 0);
    out->verified_only = (uint8_t) (v[HI_VERIFIED_ONLY].present
                                    ? v[HI_VERIFIED_ONLY].i : 0);

    return 0;
}


/* ---- POST /api/pattern-realtime/bars ------------------------------------- */


enum {
    BA_EV, BA_SYM, BA_V, BA_O, BA_C, BA_H, BA_L, BA_S, BA_E,
    BA_AV, BA_OP, BA_VW, BA_A, BA_Z, BA_OTC,
    BA_COUNT
};

#define BAR_NUMBER(n)   { .name = n, .kind = FK_NUM, .required = 1,         \
                          .dlo = -INFINITY, .dhi = INFINITY }
#define BAR_INTEGER(n)  { .name = n, .kind = FK_INT, .required = 1,         \
                          .ilo = INT64_MIN, .ihi = INT64_MAX }
#define BAR_IGNORED(n)  { .name = n, .kind = FK_IGNORED }

/* Polygon's AM event; av, op, vw, a, z, otc are accepted and ignored */
static const field_spec_t  bar_fields[BA_COUNT] = {
    [BA_EV] = { .name = "ev", .kind = FK_STRING, .required = 1 },
    [BA_SYM] = { .name = "sym", .kind = FK_STRING, .required = 1 },
    [BA_V] = BAR_NUMBER("v"),
    [BA_O] = BAR_NUMBER("o"),
    [BA_C] = BAR_NUMBER("c"),
    [BA_H] = BAR_NUMBER("h"),
    [BA_L] = BAR_NUMBER("l"),
    [BA_S] = BAR_INTEGER("s"),
    [BA_E] = BAR_INTEGER("e"),
    [BA_AV] = BAR_IGNORED("av"),
    [BA_OP] = BAR_IGNORED("op"),
    [BA_VW] = BAR_IGNORED("vw"),
    [BA_A] = BAR_IGNORED("a"),
    [BA_Z] = BAR_IGNORED("z"),
    [BA_OTC] = BAR_IGNORED("otc"),
};


__attribute__((format(printf, 2, 3)))
static int
bar_reject(char reason[PRT_REASON_SIZE], const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(reason, PRT_REASON_SIZE, fmt, ap);
    va_end(ap);

    return -1;
}


/* the OHLC/volume rules, once every field has the right type */
static int
bar_values_check(const prt_bar_event_t *b, char reason[PRT_REASON_SIZE])
{
    if (!(b->open > 0) || !(b->high > 0) || !(b->low > 0)
        || !(b->close > 0))
    {
        return bar_reject(reason, "prices must be > 0 (o %g, h %g, l %g, "
                          "c %g)", b->open, b->high, b->low, b->close);
    }

    if (b->volume < 0) {
        return bar_reject(reason, "v must not be negative (got %g)",
                          b->volume);
    }

    if (b->high < b->open || b->high < b->close || b->high < b->low) {
        return bar_reject(reason, "h %g is below o, c or l", b->high);
    }

    if (b->low > b->open || b->low > b->close) {
        return bar_reject(reason, "l %g is above o or c", b->low);
    }

    if (b->start_ms % MINUTE_MS != 0) {
        return bar_reject(reason, "s must be a whole minute in ms (got "
                          "%lld)", (long long) b->start_ms);
    }

    if (b->start_ms > INT64_MAX - MINUTE_MS
        || b->end_ms != b->start_ms + MINUTE_MS)
    {
        return bar_reject(reason, "e must be s + 60000 (s %lld, e %lld)",
                          (long long) b->start_ms, (long long) b->end_ms);
    }

    /* the bar store keys bars by their New York date; s is whole minutes */
    if (!day_in_range(prt_ny_day_of_utc(b->start_ms / 1000))) {
        return bar_reject(reason, "s must fall on a date from "
                          PRT_DATES_TEXT " ET (got %lld)",
                          (long long) b->start_ms);
    }

    return 0;
}


/*
 * The batch is read with yajl's event parser, not its tree: a feed posts
 * thousands of events a minute, and a tree costs a dozen allocations per
 * event (SPEC 8's ingest target). The reader keeps what json_read_object
 * keeps for one object and applies the same rules in the same order:
 * unknown, duplicate and mistyped fields in key order, then the required
 * ones, then ev, sym and the values.
 */

#define BAR_NUMBER_MAX  127     /* longer number text is refused */

typedef enum {
    BV_NULL, BV_BOOL, BV_NUMBER, BV_STRING, BV_OBJECT, BV_ARRAY
} bar_value_type_t;

typedef struct {
    prt_parser_t        *parser;
    prt_parse_error_t   *err;           /* what rejects the whole body */
    uint32_t             max_events;
    size_t               elements;      /* batch elements started */
    unsigned             depth;         /* 1: in the batch, 2: in an event */
    unsigned             in_event:1;
    unsigned             rejected:1;    /* the event has its reason */
    unsigned             failed:1;      /* the body is refused */
    size_t               field;         /* of the next value */

    /* the event being read */
    uint8_t              seen[BA_COUNT];
    uint8_t              present[BA_COUNT];
    prt_bar_event_t      event;
    char                 ev[SHOW_SIZE];
    size_t               ev_len;
    char                 sym[SHOW_SIZE];
    size_t               sym_len;
    char                 reason[PRT_REASON_SIZE];

    prt_bar_event_t     *events;
    size_t               nevents, events_cap;
    prt_bar_reject_t    *rejects;
    size_t               nrejects, rejects_cap;
} bars_reader_t;


/* rc: the req_fail() that set r->err; 0 stops yajl */
static int
bars_fail(bars_reader_t *r, int rc)
{
    r->failed = (rc != 0);
    return 0;
}


static int
bars_grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t   c;
    void    *nv;

    if (n < *cap) {
        return 0;
    }

    c = *cap ? *cap * 2 : 256;
    nv = realloc(*v, c * size);
    if (nv == NULL) {
        return -1;
    }

    *v = nv;
    *cap = c;
    return 0;
}


static int
bars_push_reject(bars_reader_t *r, const char *reason)
{
    prt_bar_reject_t  *rj;

    if (bars_grow((void **) &r->rejects, &r->rejects_cap, r->nrejects,
                  sizeof(*r->rejects)) != 0)
    {
        return bars_fail(r, out_of_memory(r->err));
    }

    rj = &r->rejects[r->nrejects++];
    memset(rj, 0, sizeof(*rj));
    rj->index = (uint32_t) (r->elements - 1);
    snprintf(rj->reason, sizeof(rj->reason), "%s", reason);
    return 1;
}


static int
bars_push_event(bars_reader_t *r)
{
    if (bars_grow((void **) &r->events, &r->events_cap, r->nevents,
                  sizeof(*r->events)) != 0)
    {
        return bars_fail(r, out_of_memory(r->err));
    }

    r->event.index = (uint32_t) (r->elements - 1);
    r->events[r->nevents++] = r->event;
    return 1;
}


/* A new element of the batch: 1 to read it, 0 past max_events, where
 * the rest is only counted for the message */
static int
bars_element(bars_reader_t *r)
{
    r->elements++;
    r->in_event = 0;
    r->rejected = 0;
    return r->elements <= r->max_events;
}


static int
bars_not_array(bars_reader_t *r)
{
    return bars_fail(r, bad_request(r->err, NULL, "request body must be a "
                                    "JSON array of Polygon AM events"));
}


__attribute__((format(printf, 2, 3)))
static void
bars_reject_event(bars_reader_t *r, const char *fmt, ...)
{
    va_list  ap;

    if (r->rejected) {
        return;                         /* the first reason stands */
    }

    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    r->rejected = 1;
}


/* what a value is, for "(got ...)" (describe_json without a tree) */
static const char *
bars_describe(bar_value_type_t type, const char *s, size_t len,
    char buf[SHOW_SIZE + 2])
{
    char  shown[SHOW_SIZE];

    switch (type) {
    case BV_STRING:
        snprintf(buf, SHOW_SIZE + 2, "\"%s\"", show(shown, s, len));
        return buf;
    case BV_NUMBER:
    case BV_BOOL:
        return show(buf, s, len);
    case BV_OBJECT:
        return "an object";
    case BV_ARRAY:
        return "an array";
    default:
        return "null";
    }
}


static int
bars_accept(bars_reader_t *r, const field_spec_t *f, bar_value_type_t type,
    const char *s, size_t len, field_value_t *v)
{
    char  text[BAR_NUMBER_MAX + 1], *copy;

    switch (f->kind) {

    case FK_INT:
        return type == BV_NUMBER ? accept_int(f, s, len, v) : -1;

    case FK_NUM:
        if (type != BV_NUMBER || len > BAR_NUMBER_MAX) {
            return -1;
        }
        memcpy(text, s, len);
        text[len] = '\0';
        return accept_number(f, text, v);

    case FK_STRING:
        if (type != BV_STRING) {
            return -1;
        }
        /* enough of it to check (symbols are short) or to show */
        copy = (f == &bar_fields[BA_EV]) ? r->ev : r->sym;
        memcpy(copy, s, len < SHOW_MAX ? len : SHOW_MAX);
        v->s = copy;
        v->len = len;
        return 0;

    default:
        return 0;                       /* FK_IGNORED */
    }
}


/* the value of the current field of an event */
static void
bars_field_value(bars_reader_t *r, bar_value_type_t type, const char *s,
    size_t len)
{
    char               shown[SHOW_SIZE + 2];
    field_value_t      v;
    prt_parse_error_t  e;
    const field_spec_t *f;

    if (r->rejected || type == BV_NULL) {
        return;                         /* null is the same as absent */
    }

    f = &bar_fields[r->field];
    if (bars_accept(r, f, type, s, len, &v) != 0) {
        field_error(f, 0, bars_describe(type, s, len, shown), &e);
        bars_reject_event(r, "%s", e.message);
        return;
    }

    r->present[r->field] = 1;

    switch (r->field) {
    case BA_EV:  r->ev_len = v.len; break;
    case BA_SYM: r->sym_len = v.len; break;
    case BA_V:   r->event.volume = v.d; break;
    case BA_O:   r->event.open = v.d; break;
    case BA_C:   r->event.close = v.d; break;
    case BA_H:   r->event.high = v.d; break;
    case BA_L:   r->event.low = v.d; break;
    case BA_S:   r->event.start_ms = v.i; break;
    case BA_E:   r->event.end_ms = v.i; break;
    default:     break;
    }
}


/* a value where a batch element, a field value or nothing is expected */
static int
bars_value(bars_reader_t *r, bar_value_type_t type, const char *s,
    size_t len)
{
    switch (r->depth) {

    case 0:
        return bars_not_array(r);

    case 1:
        return bars_element(r)
               ? bars_push_reject(r, "event is not a JSON object") : 1;

    case 2:
        if (r->in_event) {
            bars_field_value(r, type, s, len);
        }
        return 1;

    default:
        return 1;                       /* inside a value: already judged */
    }
}


static void
bars_event_start(bars_reader_t *r)
{
    r->in_event = 1;
    memset(r->seen, 0, sizeof(r->seen));
    memset(r->present, 0, sizeof(r->present));
    memset(&r->event, 0, sizeof(r->event));
    r->ev_len = 0;
    r->sym_len = 0;
}


static int
bars_event_end(bars_reader_t *r)
{
    char    shown[SHOW_SIZE];
    size_t  j;

    r->in_event = 0;

    for (j = 0; j < BA_COUNT && !r->rejected; j++) {
        if (bar_fields[j].required && !r->present[j]) {
            bars_reject_event(r, "%s is required%s", bar_fields[j].name,
                              r->seen[j] ? " (got null)" : "");
        }
    }

    if (!r->rejected && (r->ev_len != 2 || memcmp(r->ev, "AM", 2) != 0)) {
        bars_reject_event(r, "ev must be \"AM\" (got \"%s\")",
                          show(shown, r->ev, r->ev_len));
    }

    if (!r->rejected && !prt_req_symbol_valid(r->parser, r->sym, r->sym_len))
    {
        bars_reject_event(r, "sym \"%s\" is not a valid symbol",
                          show(shown, r->sym, r->sym_len));
    }

    if (!r->rejected) {
        memcpy(r->event.symbol, r->sym, r->sym_len);
        if (bar_values_check(&r->event, r->reason) != 0) {
            r->rejected = 1;
        }
    }

    return r->rejected ? bars_push_reject(r, r->reason)
                       : bars_push_event(r);
}


/* ---- yajl's callbacks ---- */

static int
bars_on_null(void *ctx)
{
    return bars_value(ctx, BV_NULL, "null", 4);
}


static int
bars_on_boolean(void *ctx, int b)
{
    return bars_value(ctx, BV_BOOL, b ? "true" : "false", b ? 4 : 5);
}


static int
bars_on_number(void *ctx, const char *s, size_t len)
{
    return bars_value(ctx, BV_NUMBER, s, len);
}


static int
bars_on_string(void *ctx, const unsigned char *s, size_t len)
{
    return bars_value(ctx, BV_STRING, (const char *) s, len);
}


/* The same limit as every other body's (json_prescan): the event parser
 * would follow any depth, but nothing that deep is a batch of bars. */
static int
bars_too_deep(bars_reader_t *r)
{
    if (r->depth < PRT_REQ_JSON_MAX_DEPTH) {
        return 0;
    }

    (void) bars_fail(r, bad_request(r->err, NULL, "JSON nested deeper than "
                                    "%d levels", PRT_REQ_JSON_MAX_DEPTH));
    return 1;
}


static int
bars_on_start_map(void *ctx)
{
    bars_reader_t  *r = ctx;

    if (bars_too_deep(r)) {
        return 0;
    }

    if (r->depth == 1) {
        if (bars_element(r)) {
            bars_event_start(r);
        }

    } else if (!bars_value(r, BV_OBJECT, NULL, 0)) {
        return 0;
    }

    r->depth++;
    return 1;
}


static int
bars_on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    char            shown[SHOW_SIZE];
    size_t          j;
    bars_reader_t  *r = ctx;

    if (r->depth != 2 || !r->in_event || r->rejected) {
        return 1;
    }

    j = find_field(bar_fields, BA_COUNT, (const char *) key, len);

    if (j == BA_COUNT) {
        bars_reject_event(r, "unknown field \"%s\"",
                          show(shown, (const char *) key, len));

    } else if (r->seen[j]) {
        bars_reject_event(r, "duplicate field \"%s\"",
                          show(shown, (const char *) key, len));
    }

    r->field = j;
    if (j < BA_COUNT) {
        r->seen[j] = 1;
    }
    return 1;
}


static int
bars_on_end_map(void *ctx)
{
    bars_reader_t  *r = ctx;

    r->depth--;
    return (r->depth == 1 && r->in_event) ? bars_event_end(r) : 1;
}


static int
bars_on_start_array(void *ctx)
{
    bars_reader_t  *r = ctx;

    if (bars_too_deep(r)) {
        return 0;
    }

    if (r->depth > 0 && !bars_value(r, BV_ARRAY, NULL, 0)) {
        return 0;
    }

    r->depth++;
    return 1;
}


static int
bars_on_end_array(void *ctx)
{
    bars_reader_t  *r = ctx;

    r->depth--;
    return 1;
}


static const yajl_callbacks  bars_callbacks = {
    bars_on_null, bars_on_boolean, NULL, NULL, bars_on_number,
    bars_on_string, bars_on_start_map, bars_on_map_key, bars_on_end_map,
    bars_on_start_array, bars_on_end_array
};


/* The message: header, events, rejections, in one allocation. */
static int
bars_output(bars_reader_t *r, const prt_allocator_t *a,
    prt_req_bars_t **out, size_t *out_len)
{
    size_t           ev_size, rj_size;
    prt_req_bars_t  *hdr;

    ev_size = r->nevents * sizeof(prt_bar_event_t);
    rj_size = r->nrejects * sizeof(prt_bar_reject_t);

    hdr = a->alloc(a->ctx, sizeof(*hdr) + ev_size + rj_size);
    if (hdr == NULL) {
        return out_of_memory(r->err);
    }

    memset(hdr, 0, sizeof(*hdr));
    hdr->nevents = (uint32_t) r->nevents;
    hdr->nrejected = (uint32_t) r->nrejects;
    if (ev_size) {
        memcpy(hdr + 1, r->events, ev_size);
    }
    if (rj_size) {
        memcpy((char *) (hdr + 1) + ev_size, r->rejects, rj_size);
    }

    *out = hdr;
    *out_len = sizeof(*hdr) + ev_size + rj_size;
    return 0;
}


int
prt_req_parse_bars(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, uint32_t max_events,
    prt_req_bars_t **out, size_t *out_len, prt_parse_error_t *err)
{
    int             rc;
    yajl_handle     h;
    yajl_status     st;
    unsigned char  *msg;
    bars_reader_t   r;

    *out = NULL;
    *out_len = 0;

    if (body == NULL || len == 0) {
        return bad_request(err, NULL, "request body is empty");
    }

    memset(&r, 0, sizeof(r));
    r.parser = p;
    r.err = err;
    r.max_events = max_events;

    /* yajl's own buffers come from malloc, as its tree's did */
    h = yajl_alloc(&bars_callbacks, NULL, &r);
    if (h == NULL) {
        return out_of_memory(err);
    }

    st = yajl_parse(h, (const unsigned char *) body, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    if (r.failed) {
        rc = -1;

    } else if (st != yajl_status_ok) {
        msg = yajl_get_error(h, 0, NULL, 0);
        rc = json_syntax_error(msg ? (const char *) msg : "parse error", err);
        yajl_free_error(h, msg);

    } else if (r.elements > max_events) {
        rc = req_fail(err, PRT_E_TOO_LARGE, NULL, "batch has %zu events; the "
                      "limit is %u", r.elements, max_events);

    } else {
        rc = bars_output(&r, a, out, out_len);
    }

    yajl_free(h);
    free(r.events);
    free(r.rejects);

    return rc;
}
