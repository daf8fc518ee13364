/*
 * Number formatting of the engine's JSON (engine/core/json.c): the fast
 * path of prt_format_number (PRT_NUM_DISPLAY) must write exactly what snprintf("%.15g")
 * writes, for every kind of value the engine renders and for random bit
 * patterns; prt_format_time_json writes ISO-8601 UTC with its quotes.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "core/json.h"

/* xorshift64*: the same values on every run */
static uint64_t  rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static double
rng_unit(void)
{
    return (double) (rng() >> 11) / 9007199254740992.0;
}

/* 1 when prt_format_number(v, PRT_NUM_DISPLAY) is printf's text; the first few misses are
 * shown */
static int
same_as_printf(double v, int *shown)
{
    char  got[64], want[64];
    int   n;

    n = prt_format_number(v, PRT_NUM_DISPLAY, got, sizeof(got));
    snprintf(want, sizeof(want), "%.15g", v);
    if (n == (int) strlen(want) && strcmp(got, want) == 0) {
        return 1;
    }
    if ((*shown)++ < 5) {
        printf("#   %.17g: got \"%s\" (%d), want \"%s\"\n", v, got, n, want);
    }
    return 0;
}

static void
test_edges(void)
{
    static const double  values[] = {
        0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 10.0,
        100.0, 1e14, 1e15, 1e16, 999999999999999.0, 99999999999999.9,
        0.0001, 0.00001, 0.000099999999999999999, 0.00010000000000000001,
        9.99999999999999e-5, 9.999999999999995e-5, 123456789012345.0,
        12345678901234.25, 12345678901234.75, 1234567890123.125,
        0.612345678901234, 187.45, 187.62, -0.1234567891234,
        0.0906908508935721, 1.23456789e-3, 5e-324, 1.7976931348623157e308,
        2.2250738585072014e-308, 0.30000000000000004, 4503599627370496.5,
        9.9999999999999995, 9.99999999999999, 0.999999999999999944,
        0.9999999999999999, 1e-4, 1e-5, 123.456, -123.456e-3
    };
    int  shown = 0, bad = 0;

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        bad += !same_as_printf(values[i], &shown);
        bad += !same_as_printf(-values[i], &shown);
    }
    is_int(bad, 0, "edge values: the text of %%.15g");
}

/* Values as the engine makes them: a few decimals scaled by powers of 10,
 * prices, returns, probabilities, and values next to decade boundaries. */
static void
test_random(void)
{
    int  shown = 0, bad = 0, n = 0;

    for (int i = 0; i < 1000000; i++, n++) {
        double  m = rng_unit() * 10.0;
        int     e = (int) (rng() % 26) - 8;

        bad += !same_as_printf(m * pow(10.0, e), &shown);
    }
    for (int i = 0; i < 300000; i++, n++) {
        /* prices with cents, returns in percent of them */
        double  a = (double) (rng() % 5000000) / 100.0 + 0.01;
        double  b = (double) (rng() % 5000000) / 100.0 + 0.01;

        bad += !same_as_printf(a, &shown);
        bad += !same_as_printf(100.0 * (b / a - 1.0), &shown);
        n++;
    }
    for (int i = 0; i < 300000; i++, n++) {
        /* next to a power of ten, where the decade may change */
        int     e = (int) (rng() % 20) - 5;
        double  p = pow(10.0, e);
        double  v = nextafter(p, (rng() & 1) ? 0.0 : 1e300);

        for (int k = 0; k < (int) (rng() % 40); k++) {
            v = nextafter(v, (rng() & 1) ? 0.0 : 1e300);
        }
        bad += !same_as_printf(v, &shown);
    }
    for (int i = 0; i < 1000000; i++, n++) {
        /* any bit pattern that is a finite double */
        uint64_t  bits = rng();
        double    v;

        memcpy(&v, &bits, sizeof(v));
        if (isfinite(v)) {
            bad += !same_as_printf(v, &shown);
        }
    }
    is_int(bad, 0, "%d values: the text of %%.15g", n);
}

static void
test_time(void)
{
    char  buf[32];
    int   n;

    n = prt_format_time_json(buf, 1704466800123LL);
    buf[n] = '\0';
    is_str(buf, "\"2024-01-05T15:00:00.123Z\"", "a time with milliseconds");
    n = prt_format_time_json(buf, 1704466800000LL);
    buf[n] = '\0';
    is_str(buf, "\"2024-01-05T15:00:00Z\"", "a whole second");
    n = prt_format_time_json(buf, INT64_MAX);
    buf[n] = '\0';
    is_str(buf, "null", "out of range: null");
}

int
main(void)
{
    test_edges();
    test_random();
    test_time();
    return done_testing();
}
