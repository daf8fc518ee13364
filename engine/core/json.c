#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern_rt_nytime.h"
#include "core/json.h"

int
prt_json_init(prt_json_t *j)
{
    j->failed = 0;
    j->gen = yajl_gen_alloc(NULL);
    return j->gen ? 0 : -1;
}

void
prt_json_free(prt_json_t *j)
{
    if (j->gen) {
        yajl_gen_free(j->gen);
        j->gen = NULL;
    }
}

void
prt_json_reset(prt_json_t *j)
{
    yajl_gen_reset(j->gen, NULL);
    yajl_gen_clear(j->gen);
    j->failed = 0;
}

int
prt_json_failed(const prt_json_t *j)
{
    return j->failed;
}

const char *
prt_json_body(prt_json_t *j, size_t *len)
{
    const unsigned char  *buf;

    if (yajl_gen_get_buf(j->gen, &buf, len) != yajl_gen_status_ok) {
        j->failed = 1;
        *len = 0;
        return "";
    }
    return (const char *) buf;
}

static void
json_check(prt_json_t *j, yajl_gen_status st)
{
    if (st != yajl_gen_status_ok) {
        j->failed = 1;
    }
}

void
prt_json_open(prt_json_t *j)
{
    json_check(j, yajl_gen_map_open(j->gen));
}

void
prt_json_close(prt_json_t *j)
{
    json_check(j, yajl_gen_map_close(j->gen));
}

void
prt_json_array(prt_json_t *j)
{
    json_check(j, yajl_gen_array_open(j->gen));
}

void
prt_json_array_end(prt_json_t *j)
{
    json_check(j, yajl_gen_array_close(j->gen));
}

void
prt_json_strn(prt_json_t *j, const char *s, size_t len)
{
    json_check(j, yajl_gen_string(j->gen, (const unsigned char *) s, len));
}

void
prt_json_str(prt_json_t *j, const char *s)
{
    prt_json_strn(j, s, strlen(s));
}

void
prt_json_key(prt_json_t *j, const char *key)
{
    prt_json_strn(j, key, strlen(key));
}

void
prt_json_int(prt_json_t *j, long long v)
{
    json_check(j, yajl_gen_integer(j->gen, v));
}

void
prt_json_uint(prt_json_t *j, unsigned long long v)
{
    char  buf[24];
    int   n = snprintf(buf, sizeof(buf), "%llu", v);

    json_check(j, yajl_gen_number(j->gen, buf, (size_t) n));
}

/*
 * Numbers are "%.15g": every price of the flat files and the feed (a
 * decimal of up to 15 digits) prints back exactly, computed values keep a
 * relative precision of 1e-15, and each number is formatted once (a
 * shortest-round-trip search would cost several tries per number: a large
 * verification pass renders hundreds of thousands of them).
 *
 * format_fixed15() writes "%.15g" without printf, which was two thirds of
 * rendering a result.
 *
 * For 1e-4 <= |v| < 1e15 (where %.15g writes no exponent) the 15
 * significant digits are |v| * 10^(14 - e) rounded to an integer. That
 * product is computed in long double: 10^0..10^18 are exact there, so it
 * is rounded once, and off by at most 2^-13 for a product below 2^50.
 * When its fraction is that close to one half, the rounding could go
 * either way (or be an exact tie, which printf rounds to even): printf
 * decides. Everything else (exponents, -0) is printf's too. The unit test
 * compares both on millions of values.
 */
static const long double  pow10_ld[] = {
    1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L,
    1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L
};

static int
format_fixed15(double v, char *buf)
{
    char         digits[15], *p = buf;
    double       a = fabs(v);
    long double  scaled, frac;
    uint64_t     q;
    int          e, i, last;

    /* e: the decimal exponent of a, then checked against the product */
    e = (int) floor(log10(a));
    if (e < -4 || e > 14) {
        return -1;
    }
    scaled = (long double) a * pow10_ld[14 - e];
    if (scaled < 1e14L) {
        if (--e < -4) {
            return -1;
        }
        scaled = (long double) a * pow10_ld[14 - e];
    } else if (scaled >= 1e15L) {
        if (++e > 14) {
            return -1;
        }
        scaled = (long double) a * pow10_ld[14 - e];
    }
    if (scaled < 1e14L || scaled >= 1e15L) {
        return -1;
    }

    q = (uint64_t) scaled;
    frac = scaled - (long double) q;
    if (fabsl(frac - 0.5L) < 1.0L / 1024) {
        return -1;                      /* too close to call */
    }
    q += frac > 0.5L;
    if (q == 1000000000000000ULL) {     /* 9.99...95 went up a decade */
        q = 100000000000000ULL;
        if (++e > 14) {
            return -1;
        }
    }

    for (i = 14; i >= 0; i--) {
        digits[i] = (char) ('0' + q % 10);
        q /= 10;
    }
    for (last = 14; last > e && digits[last] == '0'; last--) {
        /* trailing zeros of the fraction go */
    }

    if (v < 0) {
        *p++ = '-';
    }
    if (e < 0) {
        *p++ = '0';
        *p++ = '.';
        for (i = -1; i > e; i--) {
            *p++ = '0';
        }
        memcpy(p, digits, (size_t) last + 1);
        p += last + 1;
    } else {
        memcpy(p, digits, (size_t) e + 1);
        p += e + 1;
        if (last > e) {
            *p++ = '.';
            memcpy(p, digits + e + 1, (size_t) (last - e));
            p += last - e;
        }
    }
    *p = '\0';
    return (int) (p - buf);
}

/* ---- PRT_NUM_EXACT ---- */

static const double  pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9
};

static size_t
write_digits(uint64_t m, size_t frac, char *out)
{
    char    tmp[24];
    size_t  n = 0, len = 0;

    do {
        tmp[n++] = (char) ('0' + m % 10);
        m /= 10;
    } while (m);
    while (n <= frac) {                  /* 0.000x: leading zeros */
        tmp[n++] = '0';
    }
    while (n) {
        out[len++] = tmp[--n];
        if (n == frac && frac) {
            out[len++] = '.';
        }
    }
    return len;
}

/*
 * Exact without strtod: if m / 10^d == |v| for integers m < 2^53 and
 * d <= 9, both are exact doubles, so that division is correctly rounded:
 * it is the double nearest to the decimal m·10^-d, which is what any
 * correct reader (strtod, yajl) makes of the text. Flat-file prices and
 * volumes are such decimals; the rest falls back to %.17g.
 */
static int
format_exact(double v, char *out, size_t cap)
{
    double  a = fabs(v), scaled, m;
    size_t  len = 0;

    if (cap >= PRT_NUM_SIZE && isfinite(v) && a < 1e15) {
        for (size_t d = 0; d < sizeof(pow10_exact) / sizeof(pow10_exact[0]);
             d++)
        {
            scaled = a * pow10_exact[d];
            if (scaled >= 9007199254740992.0) {
                break;
            }
            m = nearbyint(scaled);
            if (m / pow10_exact[d] == a) {
                if (signbit(v) && a != 0) {
                    out[len++] = '-';
                }
                len += write_digits((uint64_t) m, d, out + len);
                out[len] = '\0';
                return (int) len;
            }
        }
    }
    return snprintf(out, cap, "%.17g", v);
}

int
prt_format_number(double v, prt_num_mode_t mode, char *buf, size_t len)
{
    int  n;

    if (mode == PRT_NUM_EXACT) {
        return format_exact(v, buf, len);
    }
    if (len >= PRT_NUM_SIZE && v != 0 && isfinite(v)) {
        n = format_fixed15(v, buf);
        if (n > 0) {
            return n;
        }
    }
    return snprintf(buf, len, "%.15g", v);
}

void
prt_json_num(prt_json_t *j, double v)
{
    char  buf[PRT_NUM_SIZE];
    int   n;

    if (!isfinite(v)) {
        prt_json_null(j);
        return;
    }
    n = prt_format_number(v, PRT_NUM_DISPLAY, buf, sizeof(buf));
    json_check(j, yajl_gen_number(j->gen, buf, (size_t) n));
}

void
prt_json_float(prt_json_t *j, float v)
{
    char  buf[32];
    int   n = 0;

    if (!isfinite(v)) {
        prt_json_null(j);
        return;
    }
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, sizeof(buf), "%.*g", prec, (double) v);
        if (strtof(buf, NULL) == v) {
            break;
        }
    }
    json_check(j, yajl_gen_number(j->gen, buf, (size_t) n));
}

void
prt_json_bool(prt_json_t *j, int v)
{
    json_check(j, yajl_gen_bool(j->gen, v != 0));
}

void
prt_json_null(prt_json_t *j)
{
    json_check(j, yajl_gen_null(j->gen));
}

int
prt_format_time_json(char *buf, int64_t utc_ms)
{
    int  n;

    buf[0] = '"';
    n = prt_format_utc_iso(utc_ms, buf + 1, 30);
    if (n < 0) {
        memcpy(buf, "null", 4);
        return 4;
    }
    buf[n + 1] = '"';
    return n + 2;
}

void
prt_json_time(prt_json_t *j, int64_t utc_ms)
{
    char  buf[32];
    int   n = prt_format_utc_iso(utc_ms, buf, sizeof(buf));

    if (n < 0) {
        j->failed = 1;
        return;
    }
    prt_json_strn(j, buf, (size_t) n);
}

void
prt_json_raw(prt_json_t *j, const char *json, size_t len)
{
    /* yajl_gen_number emits the bytes verbatim as one value */
    json_check(j, yajl_gen_number(j->gen, json, len));
}

void
prt_json_kstr(prt_json_t *j, const char *key, const char *s)
{
    prt_json_key(j, key);
    if (s) {
        prt_json_str(j, s);
    } else {
        prt_json_null(j);
    }
}

void
prt_json_kint(prt_json_t *j, const char *key, long long v)
{
    prt_json_key(j, key);
    prt_json_int(j, v);
}

void
prt_json_kuint(prt_json_t *j, const char *key, unsigned long long v)
{
    prt_json_key(j, key);
    prt_json_uint(j, v);
}

void
prt_json_knum(prt_json_t *j, const char *key, double v)
{
    prt_json_key(j, key);
    prt_json_num(j, v);
}

void
prt_json_kbool(prt_json_t *j, const char *key, int v)
{
    prt_json_key(j, key);
    prt_json_bool(j, v);
}

void
prt_json_knull(prt_json_t *j, const char *key)
{
    prt_json_key(j, key);
    prt_json_null(j);
}

void
prt_json_ktime(prt_json_t *j, const char *key, int64_t utc_ms)
{
    prt_json_key(j, key);
    prt_json_time(j, utc_ms);
}

void
prt_json_error(prt_json_t *j, const char *code, const char *message,
    const char *field)
{
    prt_json_open(j);
    prt_json_key(j, "error");
    prt_json_open(j);
    prt_json_kstr(j, "code", code);
    prt_json_kstr(j, "message", message);
    if (field) {
        prt_json_kstr(j, "field", field);
    }
    prt_json_close(j);
    prt_json_kstr(j, "detail", message);
    prt_json_close(j);
}
