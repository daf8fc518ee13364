/*
 * Request parsers, the field readers: the parser object (the compiled
 * symbol expression), errors and untrusted text in messages, scalar text,
 * the field tables' checks, and the two sources they read: a JSON object
 * (one copy of the body from the caller's allocator plus yajl's own tree)
 * and a query string (never allocates: values are decoded into fixed
 * buffers). See ngx_http_pattern_rt_request_fields.h and
 * docs/api-validation.md.
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

#include "ngx_http_pattern_rt_request_fields.h"


/* longest query key we look up; longer keys are unknown by definition */
#define QUERY_KEY_MAX     31


struct prt_parser_s {
    pcre2_code        *symbol_re;
    pcre2_match_data  *match;
};


/* ---- errors and untrusted text in messages ----------------------------- */


/* Printable ASCII copy of untrusted bytes for a message: anything else
 * becomes '?' (messages end up in JSON and logs), long text ends in "...". */
const char *
prt_req_show(char buf[SHOW_SIZE], const char *s, size_t len)
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
             prt_req_show(tmp, field, strlen(field)));
}


int
prt_req_fail(prt_parse_error_t *err, int code, const char *field,
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


int
prt_req_out_of_memory(prt_parse_error_t *err)
{
    return prt_req_fail(err, PRT_E_INTERNAL, NULL, "out of memory");
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


int
prt_req_ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}


static int
is_digit(int c)
{
    return c >= '0' && c <= '9';
}


/* Upper-cased, NUL-padded copy of s in out when it is a valid symbol. */
int
prt_req_symbol_normalize(prt_parser_t *p, const char *s, size_t len,
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


int
prt_req_read_symbol(prt_parser_t *p, const char *field, const char *s,
    size_t len, char out[PRT_SYMBOL_SIZE], prt_parse_error_t *err)
{
    char  shown[SHOW_SIZE];

    if (prt_req_symbol_normalize(p, s, len, out) == 0) {
        return 0;
    }

    return bad_request(err, field, "%s \"%s\" is not a valid symbol ("
                       SYMBOL_RULE ")", field, prt_req_show(shown, s, len));
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


/* 1 when a New York day number is one a request may name */
int
prt_req_day_in_range(int64_t day)
{
    return day >= PRT_DATES_FIRST_DAY && day <= PRT_DATES_LAST_DAY;
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
            || prt_req_ascii_lower((unsigned char) s[i])
               != prt_req_ascii_lower((unsigned char) name[i]))
        {
            return 0;
        }
    }

    return name[len] == '\0';
}


/* "HH:MM", 00:00 .. 23:59, into minutes after midnight */
int
prt_req_parse_hhmm(const char *s, size_t len, int *minute)
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


int
prt_req_hex_value(int c)
{
    if (is_digit(c)) {
        return c - '0';
    }

    c = prt_req_ascii_lower(c);
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
            hi = prt_req_hex_value((unsigned char) s[i + 1]);
            lo = prt_req_hex_value((unsigned char) s[i + 2]);
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


size_t
prt_req_find_field(const field_spec_t *specs, size_t n, const char *key,
    size_t len)
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


int
prt_req_field_error(const field_spec_t *f, int query, const char *got,
    prt_parse_error_t *err)
{
    char  expected[96];

    describe_expected(f, query, expected, sizeof(expected));

    return bad_request(err, f->name, "%s must be %s (got %s)", f->name,
                       expected, got);
}


int
prt_req_accept_int(const field_spec_t *f, const char *s, size_t len,
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
int
prt_req_accept_number(const field_spec_t *f, const char *s, field_value_t *v)
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


int
prt_req_accept_enum(const field_spec_t *f, const char *s, size_t len,
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
                 prt_req_show(shown, v->u.string, strlen(v->u.string)));
        return buf;
    case yajl_t_number:
        return prt_req_show(buf, v->u.number.r, strlen(v->u.number.r));
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
               ? prt_req_accept_int(f, j->u.number.r,
                                    strlen(j->u.number.r), v)
               : -1;

    case FK_NUM:
    case FK_WHOLE:
        return YAJL_IS_NUMBER(j)
               ? prt_req_accept_number(f, j->u.number.r, v) : -1;

    case FK_BOOL:
        if (!YAJL_IS_TRUE(j) && !YAJL_IS_FALSE(j)) {
            return -1;
        }
        v->i = YAJL_IS_TRUE(j);
        return 0;

    case FK_ENUM:
        return YAJL_IS_STRING(j)
               ? prt_req_accept_enum(f, j->u.string, strlen(j->u.string), v)
               : -1;

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
        j = prt_req_find_field(specs, n, key, strlen(key));

        if (j == n) {
            return bad_request(err, key, "unknown field \"%s\"",
                               prt_req_show(shown, key, strlen(key)));
        }

        if (v[j].seen) {
            return bad_request(err, key, "duplicate field \"%s\"",
                               prt_req_show(shown, key, strlen(key)));
        }

        v[j].seen = 1;

        if (YAJL_IS_NULL(val)) {
            continue;
        }

        if (json_accept(&specs[j], val, &v[j]) != 0) {
            return prt_req_field_error(&specs[j], 0,
                                       describe_json(val, shown), err);
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
int
prt_req_json_prescan(const char *s, size_t len, prt_parse_error_t *err)
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
int
prt_req_json_syntax_error(const char *yajl_msg, prt_parse_error_t *err)
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

    if (prt_req_json_prescan(body, len, err) != 0) {
        return -1;
    }

    text = a->alloc(a->ctx, len + 1);
    if (text == NULL) {
        return prt_req_out_of_memory(err);
    }

    memcpy(text, body, len);
    text[len] = '\0';

    msg[0] = '\0';
    *root = yajl_tree_parse(text, msg, sizeof(msg));

    if (*root == NULL) {
        return prt_req_json_syntax_error(msg[0] ? msg : "parse error", err);
    }

    return 0;
}


/* Parses a body that must be one object of the given fields. On success
 * the caller frees *root once done with the values (they point into it). */
int
prt_req_json_object_body(const prt_allocator_t *a, const char *body,
    size_t len, const field_spec_t *specs, size_t n, field_value_t *v,
    yajl_val *root, prt_parse_error_t *err)
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
        return prt_req_accept_int(f, v->s, v->len, v);

    case FK_NUM:
    case FK_WHOLE:
        return is_number_text(v->s, v->len)
               ? prt_req_accept_number(f, v->s, v) : -1;

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
        return prt_req_accept_enum(f, v->s, v->len, v);

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
        snprintf(got, sizeof(got), "\"%s\"",
                 prt_req_show(shown, v->s, v->len));
        return prt_req_field_error(f, 1, got, err);
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

    return prt_req_find_field(specs, n, buf, (size_t) dlen);
}


/*
 * One value per field from "a=1&b=2": the last occurrence of a key wins,
 * unknown keys are ignored (browsers add cache-busters), "a=" and "a" mean
 * absent. Only values of known keys are decoded and checked.
 */
int
prt_req_query_read(const char *args, size_t len, const field_spec_t *specs,
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


int
prt_req_forecast_from(const field_value_t *v, int exclude_self_default,
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
