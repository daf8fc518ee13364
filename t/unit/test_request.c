/*
 * Request parsers (ngx_module/ngx_http_pattern_rt_request_*.c).
 *
 * Every endpoint: defaults, each field's range edges (min, max, min-1,
 * max+1), type errors, unknown and duplicate fields, symbol lists,
 * timestamps and percent-encoding. Expected instants come from glibc's
 * timegm() on the UTC wall time (the New York offset worked out by hand in
 * each comment), never from the nytime code the parsers call.
 */

#include <stdint.h>
#include <time.h>

#include "tap.h"
#include "ngx_http_pattern_rt_request.h"


/* ---- fixtures ------------------------------------------------------------ */

/* every allocation is kept and freed at exit; fail_after < 0: never fail */
#define ARENA_MAX  16384

static void  *arena[ARENA_MAX];
static int    arena_n;
static int    fail_after = -1;

static void *
test_alloc(void *ctx, size_t size)
{
    void  *p;

    (void) ctx;

    if (fail_after == 0 || arena_n == ARENA_MAX) {
        return NULL;
    }
    if (fail_after > 0) {
        fail_after--;
    }

    /* poison: the parsers must not rely on zeroed memory */
    p = malloc(size ? size : 1);
    if (p != NULL) {
        memset(p, 0xa5, size);
        arena[arena_n++] = p;
    }
    return p;
}

static void
arena_free(void)
{
    while (arena_n > 0) {
        free(arena[--arena_n]);
    }
}

static prt_parser_t     *P;
static prt_allocator_t   A = { test_alloc, NULL };

/* the members of a minimal historical search (2024-03-15 10:30 UTC) */
#define SEARCH_BASE                                                          \
    "\"ticker\":\"AAPL\",\"timestamp\":\"2024-03-15T10:30:00Z\""

static int64_t
utc_ms(int y, int mo, int d, int h, int mi, int s)
{
    struct tm  tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t) timegm(&tm) * 1000;
}

static int
all_zero(const void *p, size_t n)
{
    const uint8_t  *b = p;
    size_t          i;

    for (i = 0; i < n; i++) {
        if (b[i]) {
            return 0;
        }
    }
    return 1;
}

/* rc -1 with the code, the field and a message containing `needle` */
__attribute__((format(printf, 6, 7)))
static void
is_error(int rc, const prt_parse_error_t *e, int code, const char *field,
    const char *needle, const char *fmt, ...)
{
    int      pass;
    char     name[256];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);

    pass = rc == -1 && e->code == code && strcmp(e->field, field) == 0
           && strstr(e->message, needle) != NULL
           && memchr(e->message, '\0', sizeof(e->message)) != NULL
           && strchr(e->message, '\n') == NULL;

    if (!ok(pass, "%s", name)) {
        printf("#   rc %d code %d field \"%s\" message \"%s\"\n", rc, e->code,
               e->field, e->message);
        printf("#   want code %d field \"%s\" message with \"%s\"\n", code,
               field, needle);
    }
}

#define is_bad(rc, e, field, ...)                                             \
    is_error(rc, e, PRT_E_BAD_REQUEST, field, __VA_ARGS__)

/* success; on failure prints the error left in the caller's `e` */
__attribute__((format(printf, 3, 4)))
static void
is_ok_(int rc, const prt_parse_error_t *e, const char *fmt, ...)
{
    char     name[256];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);

    if (!ok(rc == 0, "%s", name)) {
        printf("#   error %d field \"%s\": %s\n", e->code, e->field,
               e->message);
    }
}

#define is_ok(rc, ...)  is_ok_(rc, &e, __VA_ARGS__)

static int
search(const char *body, prt_req_search_t *out, prt_parse_error_t *e)
{
    return prt_req_parse_search(P, &A, body, strlen(body), out, e);
}

/* {"ticker":"AAPL","timestamp":...,<member>} */
static int
search_with(const char *member, prt_req_search_t *out, prt_parse_error_t *e)
{
    char  body[512];

    snprintf(body, sizeof(body), "{" SEARCH_BASE ",%s}", member);
    return search(body, out, e);
}

static int
fe_hist(const char *body, prt_req_search_t *out, prt_parse_error_t *e)
{
    return prt_req_parse_fe_historical(P, &A, body, strlen(body), out, e);
}

static int
fe_rt(const char *sym, const char *args, prt_req_search_t *out,
    prt_parse_error_t *e)
{
    return prt_req_parse_fe_realtime(P, sym, strlen(sym), args,
                                     args ? strlen(args) : 0, out, e);
}

static int
run(const char *body, uint32_t max, prt_req_run_t **out, size_t *len,
    prt_parse_error_t *e)
{
    return prt_req_parse_run(P, &A, body, strlen(body), max, out, len, e);
}

static const char *
run_symbol(const prt_req_run_t *r, uint32_t i)
{
    return (const char *) (r + 1) + (size_t) i * PRT_SYMBOL_SIZE;
}

static int
bars(const char *body, uint32_t max, prt_req_bars_t **out, size_t *len,
    prt_parse_error_t *e)
{
    return prt_req_parse_bars(P, &A, body, strlen(body), max, out, len, e);
}

static int
history(const char *args, prt_req_history_t *out, prt_parse_error_t *e)
{
    return prt_req_parse_history(P, args, strlen(args), out, e);
}

static int
performance(const char *args, prt_req_performance_t *out,
    prt_parse_error_t *e)
{
    return prt_req_parse_performance(args, strlen(args), out, e);
}

#define JOB_ID  "0f8fad5b-d9cb-469f-a165-70867728950e"

static int
job_results(const char *args, prt_req_job_results_t *out,
    prt_parse_error_t *e)
{
    return prt_req_parse_job_results(JOB_ID, strlen(JOB_ID), args,
                                     strlen(args), out, e);
}

static int
prices(const char *args, prt_req_prices_t *out, prt_parse_error_t *e)
{
    return prt_req_parse_prices(P, PRT_PRICES_LINE, "AAPL", 4, args,
                                strlen(args), out, e);
}


/* ---- symbols ------------------------------------------------------------- */

static void
test_symbol_valid(void)
{
    ok(prt_req_symbol_valid(P, "A", 1), "symbol: one letter");
    ok(prt_req_symbol_valid(P, "BRK.A", 5), "symbol: dot");
    ok(prt_req_symbol_valid(P, "BF-B", 4), "symbol: dash");
    ok(prt_req_symbol_valid(P, "ABCDEFGHIJ", 10), "symbol: 10 characters");
    ok(!prt_req_symbol_valid(P, "ABCDEFGHIJK", 11), "symbol: 11 rejected");
    ok(!prt_req_symbol_valid(P, "", 0), "symbol: empty rejected");
    ok(!prt_req_symbol_valid(P, "aapl", 4), "symbol: lower case rejected");
    ok(!prt_req_symbol_valid(P, "1ABC", 4), "symbol: digit first rejected");
    ok(!prt_req_symbol_valid(P, ".A", 2), "symbol: dot first rejected");
    ok(!prt_req_symbol_valid(P, "AAPL\n", 5),
       "symbol: trailing newline rejected ($ is end only)");
    ok(!prt_req_symbol_valid(P, "AA\0PL", 5), "symbol: NUL inside rejected");
    ok(!prt_req_symbol_valid(P, "AA PL", 5), "symbol: space rejected");
}


/* ---- POST /api/patterns/search ------------------------------------------- */

static void
test_search_defaults(void)
{
    prt_req_search_t   s;
    prt_parse_error_t  e;

    is_ok(search("{" SEARCH_BASE "}", &s, &e), "search: minimal body");
    is_str(s.ticker, "AAPL", "search: ticker");
    ok(all_zero(s.ticker + 4, PRT_SYMBOL_SIZE - 4), "search: ticker padded");
    is_int(s.mode, PRT_SEARCH_HISTORICAL, "search: mode defaults historical");
    is_int(s.format, PRT_FORMAT_PATTERNS, "search: format PATTERNS");
    is_int(s.time_ms, utc_ms(2024, 3, 15, 10, 30, 0), "search: time_ms");
    is_int(s.f.k, 40, "search: k default 40");
    is_int(s.f.horizon, 10, "search: horizon default 10");
    is_double(s.f.alpha, 6.0, 0, "search: alpha default 6");
    is_int(s.f.trim_lo, 0, "search: trim_lo default 0");
    is_int(s.f.trim_hi, 0, "search: trim_hi default 0");
    is_int(s.f.exclude_self, 0, "search: exclude_self default false");
    is_int(s.f.cross_asset, 1, "search: cross_asset default true");
    ok(all_zero(s.pad, sizeof(s.pad)) && all_zero(s.f.pad, sizeof(s.f.pad)),
       "search: padding zeroed");

    is_ok(search("{\"ticker\":\"msft\",\"mode\":\"historical\",\"timestamp\":"
                 "\"2024-03-15T10:30:00Z\",\"horizon\":30,\"k\":50,\"alpha\":"
                 "2.5,\"trim_lo\":5,\"trim_hi\":10,\"exclude_self\":true,"
                 "\"cross_asset\":true}", &s, &e), "search: every field");
    is_str(s.ticker, "MSFT", "search: ticker upper-cased");
    ok(s.f.k == 50 && s.f.horizon == 30 && s.f.alpha == 2.5
       && s.f.trim_lo == 5 && s.f.trim_hi == 10 && s.f.exclude_self == 1
       && s.f.cross_asset == 1, "search: every field stored");

    /* null for an optional field is absent */
    is_ok(search_with("\"k\":null,\"mode\":null", &s, &e),
          "search: null optional fields");
    ok(s.f.k == 40 && s.mode == PRT_SEARCH_HISTORICAL,
       "search: null means default");
}

static void
test_search_timestamps(void)
{
    static const struct {
        const char  *text;
        int64_t      want;
        const char  *name;
    } cases[] = {
        { "2024-03-15T10:30:00Z", 0, "Z" },
        { "2024-03-15T10:30:00.250Z", 250, "milliseconds" },
        { "2024-03-15T10:30:00-04:00", 0, "-04:00" },
        { "2024-03-15T16:00:00+05:30", 0, "+05:30" },
        { "2024-03-15T06:30:00-0400", 0, "-0400" },
    };
    int64_t            base = utc_ms(2024, 3, 15, 10, 30, 0);
    int64_t            want[] = { base, base + 250, base + 4 * 3600000,
                                  base, base };
    prt_req_search_t   s;
    prt_parse_error_t  e;
    char               member[128];
    size_t             i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(member, sizeof(member), "{\"ticker\":\"AAPL\","
                 "\"timestamp\":\"%s\"}", cases[i].text);
        is_ok(search(member, &s, &e), "timestamp %s accepted", cases[i].name);
        is_int(s.time_ms, want[i], "timestamp %s: instant", cases[i].name);
    }

    /* no offset: New York. 2024 DST runs from Mar 10 to Nov 3. */
    static const struct {
        const char  *text;
        int          y, mo, d, h, mi;     /* the UTC wall time */
        const char  *name;
    } ny[] = {
        { "2024-03-08T10:30:00", 2024, 3, 8, 15, 30, "before spring (EST)" },
        { "2024-03-11T10:30:00", 2024, 3, 11, 14, 30, "after spring (EDT)" },
        { "2024-03-10T01:59:00", 2024, 3, 10, 6, 59, "1:59 on spring day" },
        { "2024-03-10T03:00:00", 2024, 3, 10, 7, 0, "3:00 on spring day" },
        { "2024-11-01T09:30:00", 2024, 11, 1, 13, 30, "before fall (EDT)" },
        { "2024-11-04T09:30:00", 2024, 11, 4, 14, 30, "after fall (EST)" },
        { "2024-03-15", 2024, 3, 15, 4, 0, "bare date: 00:00 EDT" },
        { "2024-01-15 10:30", 2024, 1, 15, 15, 30, "space, no seconds" },
    };

    for (i = 0; i < sizeof(ny) / sizeof(ny[0]); i++) {
        snprintf(member, sizeof(member), "{\"ticker\":\"AAPL\","
                 "\"timestamp\":\"%s\"}", ny[i].text);
        is_ok(search(member, &s, &e), "NY time %s accepted", ny[i].name);
        is_int(s.time_ms, utc_ms(ny[i].y, ny[i].mo, ny[i].d, ny[i].h,
                                 ny[i].mi, 0), "NY time %s", ny[i].name);
    }

    static const char  *bad[] = {
        "2024-03-15T10:30:00ZZ", "2024-02-30T10:00:00Z", "2024-03-15T24:00Z",
        "15/03/2024", "", "2024-03-15T10:30:00+24:00", "now",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(member, sizeof(member), "{\"ticker\":\"AAPL\","
                 "\"timestamp\":\"%s\"}", bad[i]);
        is_bad(search(member, &s, &e), &e, "timestamp", "ISO-8601",
               "timestamp \"%s\" rejected", bad[i]);
    }

    /* the accepted range: New York dates 1970-01-01 to 2199-12-31 */
    static const struct {
        const char  *text;
        int          accepted;
    } range[] = {
        { "1970-01-01", 1 },                    /* 00:00 EST: 05:00Z */
        { "1970-01-01T05:00:00Z", 1 },
        { "1970-01-01T04:59:59.999Z", 0 },      /* 1969-12-31 in New York */
        { "1970-01-01T00:00:00Z", 0 },
        { "1969-12-31T23:59:59", 0 },
        { "1900-01-01T00:00:00", 0 },
        { "0001-01-01T00:00:00Z", 0 },
        { "2199-12-31T23:59:59", 1 },
        { "2200-01-01T04:59:59Z", 1 },          /* 2199-12-31 23:59:59 EST */
        { "2200-01-01T05:00:00Z", 0 },
        { "2200-01-01", 0 },
        { "9999-12-31T23:59:59Z", 0 },
    };

    for (i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
        snprintf(member, sizeof(member), "{\"ticker\":\"AAPL\","
                 "\"timestamp\":\"%s\"}", range[i].text);
        if (range[i].accepted) {
            is_ok(search(member, &s, &e), "timestamp %s in range",
                  range[i].text);
        } else {
            is_bad(search(member, &s, &e), &e, "timestamp",
                   "New York date from 1970-01-01 to 2199-12-31",
                   "timestamp %s out of range", range[i].text);
        }
    }
    is_bad(search("{\"ticker\":\"AAPL\",\"timestamp\":\"0000-01-01\"}",
                  &s, &e), &e, "timestamp", "ISO-8601", "year 0 rejected");

    is_bad(search("{\"ticker\":\"AAPL\",\"timestamp\":1710498600000}", &s,
                  &e), &e, "timestamp", "must be a string",
           "timestamp as a number rejected");
    is_bad(search("{\"ticker\":\"AAPL\"}", &s, &e), &e, "timestamp",
           "required when mode is \"historical\"",
           "historical without timestamp");
    is_bad(search("{\"ticker\":\"AAPL\",\"timestamp\":null}", &s, &e), &e,
           "timestamp", "required", "historical with null timestamp");
}

static void
test_search_modes(void)
{
    prt_req_search_t   s;
    prt_parse_error_t  e;

    is_ok(search("{\"ticker\":\"AAPL\",\"mode\":\"realtime\"}", &s, &e),
          "realtime without timestamp");
    ok(s.mode == PRT_SEARCH_REALTIME && s.time_ms == 0,
       "realtime: mode set, time_ms 0");

    is_ok(search("{\"ticker\":\"AAPL\",\"mode\":\"realtime\",\"timestamp\":"
                 "\"2024-03-15T10:30:00Z\"}", &s, &e),
          "realtime with a timestamp");
    is_int(s.time_ms, 0, "realtime: timestamp ignored");

    is_bad(search("{\"ticker\":\"AAPL\",\"mode\":\"realtime\",\"timestamp\":"
                  "\"yesterday\"}", &s, &e), &e, "timestamp", "ISO-8601",
           "realtime: a malformed timestamp is still an error");
    is_bad(search("{\"ticker\":\"AAPL\",\"mode\":\"realtime\",\"timestamp\":"
                  "\"1900-01-01T00:00:00\"}", &s, &e), &e, "timestamp",
           "from 1970-01-01 to 2199-12-31",
           "realtime: a timestamp out of range is still an error");

    is_ok(search("{\"ticker\":\"AAPL\",\"mode\":\"REALTIME\"}", &s, &e),
          "mode is case-insensitive");
    is_int(s.mode, PRT_SEARCH_REALTIME, "mode REALTIME");

    is_bad(search("{\"ticker\":\"AAPL\",\"mode\":\"live\"}", &s, &e), &e,
           "mode", "one of historical, realtime", "unknown mode");
    is_bad(search("{\"ticker\":\"AAPL\",\"mode\":1}", &s, &e), &e,
           "mode", "one of historical, realtime", "mode as a number");
}

static void
test_search_ticker(void)
{
    prt_req_search_t   s;
    prt_parse_error_t  e;

    is_bad(search("{\"timestamp\":\"2024-03-15T10:30:00Z\"}", &s, &e), &e,
           "ticker", "ticker is required", "ticker missing");
    is_bad(search("{\"ticker\":null,\"timestamp\":\"2024-03-15\"}", &s, &e),
           &e, "ticker", "required (got null)", "ticker null");
    is_bad(search("{\"ticker\":42,\"timestamp\":\"2024-03-15\"}", &s, &e),
           &e, "ticker", "must be a string", "ticker as a number");
    is_bad(search("{\"ticker\":\"AA$L\",\"timestamp\":\"2024-03-15\"}", &s,
                  &e), &e, "ticker", "\"AA$L\" is not a valid symbol",
           "ticker with $");
    is_bad(search("{\"ticker\":\"ABCDEFGHIJK\",\"timestamp\":\"2024-03-15\"}",
                  &s, &e), &e, "ticker", "not a valid symbol",
           "ticker of 11 characters");
    is_ok(search("{\"ticker\":\"abcdefghij\",\"timestamp\":\"2024-03-15\"}",
                 &s, &e), "ticker of 10 characters");
    is_str(s.ticker, "ABCDEFGHIJ", "10-character ticker upper-cased");
    is_bad(search("{\"ticker\":\"\",\"timestamp\":\"2024-03-15\"}", &s, &e),
           &e, "ticker", "not a valid symbol", "empty ticker");
    is_bad(search("{\"ticker\":\"AAPL\\n\",\"timestamp\":\"2024-03-15\"}",
                  &s, &e), &e, "ticker", "not a valid symbol",
           "ticker with a trailing newline");
}

/* one numeric field's edges, through the search body */
static void
range_case(const char *field, const char *value, int accept)
{
    prt_req_search_t   s;
    prt_parse_error_t  e;
    char               member[96];

    snprintf(member, sizeof(member), "\"%s\":%s", field, value);

    if (accept) {
        is_ok(search_with(member, &s, &e), "%s=%s accepted", field, value);
    } else {
        is_bad(search_with(member, &s, &e), &e, field, "must be",
               "%s=%s rejected", field, value);
    }
}

static void
test_search_ranges(void)
{
    static const int   H[] = PRT_HORIZONS_INIT;
    prt_req_search_t   s;
    prt_parse_error_t  e;
    char               v[32];
    int                h, in_h;
    size_t             i;

    range_case("k", "1", 1);
    range_case("k", "500", 1);
    range_case("k", "0", 0);
    range_case("k", "501", 0);
    range_case("k", "-1", 0);
    range_case("k", "4.5", 0);
    range_case("k", "40.0", 0);
    range_case("k", "1e2", 0);
    range_case("k", "99999999999999999999", 0);
    range_case("k", "\"40\"", 0);
    range_case("k", "true", 0);
    range_case("k", "[40]", 0);

    is_ok(search_with("\"k\":1", &s, &e), "k=1");
    is_int(s.f.k, 1, "k=1 stored");
    is_ok(search_with("\"k\":500", &s, &e), "k=500");
    is_int(s.f.k, 500, "k=500 stored");

    is_bad(search_with("\"k\":501", &s, &e), &e, "k",
           "k must be an integer from 1 to 500 (got 501)",
           "k message names the range and the value");

    /* every horizon of H, and everything else from -1 to 61 */
    for (h = -1; h <= 61; h++) {
        for (in_h = 0, i = 0; i < PRT_N_HORIZONS; i++) {
            in_h |= (H[i] == h);
        }
        snprintf(v, sizeof(v), "%d", h);
        range_case("horizon", v, in_h);
        if (in_h) {
            char  member[48];

            snprintf(member, sizeof(member), "\"horizon\":%d", h);
            search_with(member, &s, &e);
            is_int(s.f.horizon, h, "horizon %d stored", h);
        }
    }
    is_bad(search_with("\"horizon\":11", &s, &e), &e, "horizon",
           PRT_HORIZONS_TEXT, "horizon message lists H");
    range_case("horizon", "10.0", 0);
    range_case("horizon", "\"10\"", 0);

    range_case("alpha", "0", 1);
    range_case("alpha", "50", 1);
    range_case("alpha", "-0.001", 0);
    range_case("alpha", "50.001", 0);
    range_case("alpha", "1e999", 0);
    range_case("alpha", "\"6\"", 0);
    range_case("alpha", "false", 0);
    is_ok(search_with("\"alpha\":2.5e0", &s, &e), "alpha 2.5e0");
    is_double(s.f.alpha, 2.5, 0, "alpha 2.5e0 stored");
    is_ok(search_with("\"alpha\":-0", &s, &e), "alpha -0");
    ok(s.f.alpha == 0 && !signbit(s.f.alpha), "alpha -0 stored as +0");
    is_bad(search_with("\"alpha\":51", &s, &e), &e, "alpha",
           "a number from 0 to 50", "alpha message names the range");

    range_case("trim_lo", "0", 1);
    range_case("trim_lo", "49", 1);
    range_case("trim_lo", "-1", 0);
    range_case("trim_lo", "50", 0);
    range_case("trim_lo", "5.5", 0);
    range_case("trim_lo", "\"5\"", 0);
    range_case("trim_hi", "0", 1);
    range_case("trim_hi", "49", 1);
    range_case("trim_hi", "-1", 0);
    range_case("trim_hi", "50", 0);
    is_ok(search_with("\"trim_lo\":5.0,\"trim_hi\":4.9e1", &s, &e),
          "trims as whole numbers with a fraction part / exponent");
    ok(s.f.trim_lo == 5 && s.f.trim_hi == 49, "trims 5.0 and 4.9e1 stored");
    is_bad(search_with("\"trim_hi\":2.5", &s, &e), &e, "trim_hi",
           "a whole number from 0 to 49", "trim message names the range");

    range_case("exclude_self", "true", 1);
    range_case("exclude_self", "false", 1);
    range_case("exclude_self", "1", 0);
    range_case("exclude_self", "\"true\"", 0);
    range_case("cross_asset", "false", 1);
    range_case("cross_asset", "0", 0);
    range_case("cross_asset", "{}", 0);
    is_bad(search_with("\"cross_asset\":\"no\"", &s, &e), &e, "cross_asset",
           "true or false (got \"no\")", "boolean message");
}

static void
test_search_conflict(void)
{
    prt_req_search_t   s;
    prt_parse_error_t  e;

    is_bad(search_with("\"cross_asset\":false,\"exclude_self\":true", &s,
                       &e), &e, "cross_asset", "exclude_self",
           "cross_asset=false with exclude_self=true");
    is_ok(search_with("\"cross_asset\":false", &s, &e),
          "cross_asset=false alone (exclude_self defaults false)");
    ok(s.f.cross_asset == 0 && s.f.exclude_self == 0,
       "cross_asset=false stored");
    is_ok(search_with("\"cross_asset\":true,\"exclude_self\":true", &s, &e),
          "exclude_self=true with cross_asset=true");
}

static void
test_json_rules(void)
{
    prt_req_search_t   s;
    prt_parse_error_t  e;
    char               body[1024];
    int                i, n;

    is_bad(search_with("\"limit\":5", &s, &e), &e, "limit",
           "unknown field \"limit\"", "unknown field named");
    is_bad(search_with("\"k\":5,\"k\":6", &s, &e), &e, "k",
           "duplicate field \"k\"", "duplicate field named");
    is_bad(search_with("\"ticker\":\"MSFT\"", &s, &e), &e, "ticker",
           "duplicate field", "duplicate required field");
    is_bad(search("[1,2]", &s, &e), &e, "", "must be a JSON object",
           "array body");
    is_bad(search("\"AAPL\"", &s, &e), &e, "", "must be a JSON object",
           "string body");
    is_bad(search("", &s, &e), &e, "", "empty", "empty body");
    is_bad(prt_req_parse_search(P, &A, NULL, 0, &s, &e), &e, "", "empty",
           "NULL body");
    is_bad(search("{\"ticker\":\"AAPL\",}", &s, &e), &e, "",
           "malformed JSON: parse error", "trailing comma");
    is_bad(search("{\"ticker\":'AAPL'}", &s, &e), &e, "",
           "malformed JSON: lexical error", "single quotes");
    is_bad(search("{\"k\":01}", &s, &e), &e, "", "malformed JSON",
           "leading zero");
    is_bad(search("{} {}", &s, &e), &e, "", "trailing garbage",
           "two documents");
    is_bad(search("{\"ticker\":\"\xff\"}", &s, &e), &e, "", "UTF8",
           "invalid UTF-8");

    /* yajl quotes the input after its first line: not in our message */
    n = snprintf(body, sizeof(body), "{\"ticker\":\"SECRETSECRET\" ");
    for (i = 0; i < 50; i++) {
        n += snprintf(body + n, sizeof(body) - (size_t) n, "x");
    }
    is_bad(search(body, &s, &e), &e, "", "malformed JSON", "garbage");
    ok(strstr(e.message, "SECRET") == NULL && strstr(e.message, "xxx") == NULL,
       "malformed JSON: input not echoed (%s)", e.message);

    is_bad(prt_req_parse_search(P, &A, "{\"ticker\":\"AAPL\"}\0{}", 19, &s,
                                &e), &e, "", "NUL byte", "NUL byte in body");
    is_bad(search("{\"ticker\":\"AAPL\\u0000X\",\"timestamp\":\"2024-03-15\"}",
                  &s, &e), &e, "", "\\u0000", "\\u0000 escape refused");
    is_ok(search("{\"ticker\":\"A\\u0041PL\",\"timestamp\":\"2024-03-15\"}",
                 &s, &e), "other \\u escapes fine");
    is_str(s.ticker, "AAPL", "\\u0041 decoded");

    /* depth: 32 levels parse (then fail as an unknown field), 33 do not */
    n = snprintf(body, sizeof(body), "{\"x\":");
    for (i = 0; i < 31; i++) {
        body[n++] = '[';
    }
    for (i = 0; i < 31; i++) {
        body[n++] = ']';
    }
    snprintf(body + n, sizeof(body) - (size_t) n, "}");
    is_bad(search(body, &s, &e), &e, "x", "unknown field",
           "32 levels: parsed");

    n = snprintf(body, sizeof(body), "{\"x\":");
    for (i = 0; i < 32; i++) {
        body[n++] = '[';
    }
    for (i = 0; i < 32; i++) {
        body[n++] = ']';
    }
    snprintf(body + n, sizeof(body) - (size_t) n, "}");
    is_bad(search(body, &s, &e), &e, "", "deeper than 32",
           "33 levels: refused before parsing");

    n = snprintf(body, sizeof(body), "{\"ticker\":\"");
    for (i = 0; i < 100; i++) {
        body[n++] = '[';
    }
    snprintf(body + n, sizeof(body) - (size_t) n, "\\\"{\"}");
    is_bad(search(body, &s, &e), &e, "ticker", "not a valid symbol",
           "brackets inside strings do not count as depth");

    fail_after = 0;
    is_error(search("{" SEARCH_BASE "}", &s, &e), &e, PRT_E_INTERNAL, "",
             "out of memory", "allocator failure");
    fail_after = -1;
}


/* ---- POST /api/search/historical ----------------------------------------- */

static void
test_fe_historical(void)
{
    prt_req_search_t   s;
    prt_parse_error_t  e;
    char               body[256];
    size_t             i;

    is_ok(fe_hist("{\"symbol\":\"aapl\",\"date\":\"2024-03-15\",\"time\":"
                  "\"10:30\",\"k\":40,\"cross_asset\":true,"
                  "\"window_minutes\":30}", &s, &e), "fe historical: front "
          "end's body");
    is_str(s.ticker, "AAPL", "fe historical: symbol upper-cased");
    ok(s.mode == PRT_SEARCH_HISTORICAL && s.format == PRT_FORMAT_FRONTEND,
       "fe historical: mode and format");
    is_int(s.time_ms, utc_ms(2024, 3, 15, 14, 30, 0),
           "fe historical: 10:30 EDT = 14:30Z");
    ok(s.f.k == 40 && s.f.horizon == 10 && s.f.alpha == 6
       && s.f.exclude_self == 0 && s.f.cross_asset == 1,
       "fe historical: defaults");

    static const struct {
        const char  *date, *time;
        int          y, mo, d, h, mi;
    } ny[] = {
        { "2024-03-08", "10:30", 2024, 3, 8, 15, 30 },    /* EST */
        { "2024-03-11", "09:30", 2024, 3, 11, 13, 30 },   /* EDT */
        { "2024-11-01", "16:00", 2024, 11, 1, 20, 0 },    /* EDT */
        { "2024-11-04", "16:00", 2024, 11, 4, 21, 0 },    /* EST */
        { "2024-03-15", "00:00", 2024, 3, 15, 4, 0 },
        { "2024-03-15", "23:59", 2024, 3, 16, 3, 59 },
    };

    for (i = 0; i < sizeof(ny) / sizeof(ny[0]); i++) {
        snprintf(body, sizeof(body), "{\"symbol\":\"AAPL\",\"date\":\"%s\","
                 "\"time\":\"%s\"}", ny[i].date, ny[i].time);
        is_ok(fe_hist(body, &s, &e), "fe historical %s %s", ny[i].date,
              ny[i].time);
        is_int(s.time_ms, utc_ms(ny[i].y, ny[i].mo, ny[i].d, ny[i].h,
                                 ny[i].mi, 0),
               "fe historical %s %s: instant", ny[i].date, ny[i].time);
    }

    is_ok(fe_hist("{\"symbol\":\"AAPL\",\"date\":\"2024-03-15\",\"time\":"
                  "\"10:30\",\"horizon\":60,\"alpha\":0,\"trim_lo\":49,"
                  "\"trim_hi\":0,\"exclude_self\":true}", &s, &e),
          "fe historical: optional forecast fields");
    ok(s.f.horizon == 60 && s.f.alpha == 0 && s.f.trim_lo == 49
       && s.f.exclude_self == 1, "fe historical: optional fields stored");

    static const char  *bad_time[] = { "24:00", "9:30", "10:60", "10:30:00",
                                       "1030", "" };

    for (i = 0; i < sizeof(bad_time) / sizeof(bad_time[0]); i++) {
        snprintf(body, sizeof(body), "{\"symbol\":\"AAPL\",\"date\":"
                 "\"2024-03-15\",\"time\":\"%s\"}", bad_time[i]);
        is_bad(fe_hist(body, &s, &e), &e, "time", "HH:MM",
               "fe historical: time \"%s\" rejected", bad_time[i]);
    }

    static const char  *bad_date[] = { "2024-02-30", "2024-3-15",
                                       "2024-03-15T10:30", "03/15/2024" };

    for (i = 0; i < sizeof(bad_date) / sizeof(bad_date[0]); i++) {
        snprintf(body, sizeof(body), "{\"symbol\":\"AAPL\",\"date\":\"%s\","
                 "\"time\":\"10:30\"}", bad_date[i]);
        is_bad(fe_hist(body, &s, &e), &e, "date", "YYYY-MM-DD",
               "fe historical: date \"%s\" rejected", bad_date[i]);
    }

    static const struct {
        const char  *date;
        int          accepted;
    } range[] = {
        { "1970-01-01", 1 }, { "2199-12-31", 1 }, { "1969-12-31", 0 },
        { "2200-01-01", 0 }, { "1900-01-01", 0 }, { "9999-12-31", 0 },
        { "0001-01-01", 0 },
    };

    for (i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
        snprintf(body, sizeof(body), "{\"symbol\":\"AAPL\",\"date\":\"%s\","
                 "\"time\":\"10:30\"}", range[i].date);
        if (range[i].accepted) {
            is_ok(fe_hist(body, &s, &e), "fe historical: date %s in range",
                  range[i].date);
        } else {
            is_bad(fe_hist(body, &s, &e), &e, "date",
                   "date must be from 1970-01-01 to 2199-12-31",
                   "fe historical: date %s out of range", range[i].date);
        }
    }

    /* window_minutes 15-120: the chart's span; the search uses 30 */
    static const int  good_span[] = { 15, 30, 45, 119, 120 };

    for (i = 0; i < sizeof(good_span) / sizeof(good_span[0]); i++) {
        snprintf(body, sizeof(body), "{\"symbol\":\"AAPL\",\"date\":"
                 "\"2024-03-15\",\"time\":\"15:00\",\"k\":50,"
                 "\"cross_asset\":true,\"window_minutes\":%d}",
                 good_span[i]);
        is_ok(fe_hist(body, &s, &e), "fe historical: window_minutes %d",
              good_span[i]);
        is_int(s.span, good_span[i], "fe historical: span %d stored",
               good_span[i]);
    }
    is_ok(fe_hist("{\"symbol\":\"AAPL\",\"date\":\"2024-03-15\",\"time\":"
                  "\"10:30\"}", &s, &e), "fe historical: no window_minutes");
    is_int(s.span, 30, "fe historical: span defaults to the index's 30");

    static const char  *bad_span[] = { "14", "121", "0", "-45", "1000",
                                       "45.5", "\"45\"", "true" };

    for (i = 0; i < sizeof(bad_span) / sizeof(bad_span[0]); i++) {
        snprintf(body, sizeof(body), "{\"symbol\":\"AAPL\",\"date\":"
                 "\"2024-03-15\",\"time\":\"10:30\",\"window_minutes\":%s}",
                 bad_span[i]);
        is_bad(fe_hist(body, &s, &e), &e, "window_minutes",
               "an integer from 15 to 120",
               "fe historical: window_minutes %s rejected", bad_span[i]);
    }
    is_bad(fe_hist("{\"symbol\":\"AAPL\",\"date\":\"2024-03-15\",\"time\":"
                   "\"10:30\",\"window_minutes\":30.0}", &s, &e), &e,
           "window_minutes", "an integer", "window_minutes 30.0 rejected");
    is_bad(fe_hist("{\"date\":\"2024-03-15\",\"time\":\"10:30\"}", &s, &e),
           &e, "symbol", "required", "fe historical: symbol missing");
    is_bad(fe_hist("{\"symbol\":\"AAPL\",\"time\":\"10:30\"}", &s, &e),
           &e, "date", "required", "fe historical: date missing");
    is_bad(fe_hist("{\"symbol\":\"AAPL\",\"date\":\"2024-03-15\"}", &s, &e),
           &e, "time", "required", "fe historical: time missing");
    is_bad(fe_hist("{\"symbol\":\"AAPL\",\"date\":\"2024-03-15\",\"time\":"
                   "\"10:30\",\"ticker\":\"AAPL\"}", &s, &e), &e, "ticker",
           "unknown field", "fe historical: ticker is not its field");
    is_bad(fe_hist("{\"symbol\":\"AAPL\",\"date\":\"2024-03-15\",\"time\":"
                   "\"10:30\",\"k\":0}", &s, &e), &e, "k", "from 1 to 500",
           "fe historical: k range");
    is_bad(fe_hist("{\"symbol\":\"AAPL\",\"date\":\"2024-03-15\",\"time\":"
                   "\"10:30\",\"cross_asset\":false,\"exclude_self\":true}",
                   &s, &e), &e, "cross_asset", "exclude_self",
           "fe historical: conflict");
}


/* ---- GET /api/search/{SYMBOL} and query strings -------------------------- */

static void
test_fe_realtime(void)
{
    prt_req_search_t   s;
    prt_parse_error_t  e;
    char               args[160];

    is_ok(fe_rt("AAPL", NULL, &s, &e), "fe realtime: no query");
    ok(s.mode == PRT_SEARCH_REALTIME && s.format == PRT_FORMAT_FRONTEND
       && s.time_ms == 0, "fe realtime: mode, format, time");
    ok(s.f.k == 40 && s.f.horizon == 10 && s.f.alpha == 6
       && s.f.trim_lo == 0 && s.f.trim_hi == 0 && s.f.exclude_self == 0
       && s.f.cross_asset == 1, "fe realtime: defaults");

    is_ok(fe_rt("nvda", "k=5&cross_asset=false", &s, &e),
          "fe realtime: front end's query");
    ok(strcmp(s.ticker, "NVDA") == 0 && s.f.k == 5 && s.f.cross_asset == 0,
       "fe realtime: k, cross_asset, symbol upper-cased");

    is_bad(fe_rt("AA$L", "", &s, &e), &e, "symbol", "not a valid symbol",
           "fe realtime: bad symbol");
    is_bad(fe_rt("", "", &s, &e), &e, "symbol", "not a valid symbol",
           "fe realtime: empty symbol");

    is_ok(fe_rt("AAPL", "horizon=60&alpha=2.5&trim_lo=49&trim_hi=0&"
                "exclude_self=1", &s, &e), "fe realtime: every parameter");
    ok(s.f.horizon == 60 && s.f.alpha == 2.5 && s.f.trim_lo == 49
       && s.f.exclude_self == 1, "fe realtime: every parameter stored");

    /* percent-encoding and '+' */
    is_ok(fe_rt("AAPL", "k=%35%30", &s, &e), "percent-encoded digits");
    is_int(s.f.k, 50, "k=%%35%%30 is 50");
    is_ok(fe_rt("AAPL", "cross%5Fasset=%66alse", &s, &e),
          "percent-encoded key and value");
    is_int(s.f.cross_asset, 0, "cross%%5Fasset=%%66alse is false");
    is_bad(fe_rt("AAPL", "k=+5", &s, &e), &e, "k", "(got \" 5\")",
           "'+' is a space, so k=+5 is not an integer");
    is_bad(fe_rt("AAPL", "k=%2B5", &s, &e), &e, "k", "an integer",
           "leading '+' rejected");
    is_bad(fe_rt("AAPL", "k=%zz", &s, &e), &e, "k", "percent-encoding",
           "malformed escape");
    is_bad(fe_rt("AAPL", "k=5%", &s, &e), &e, "k", "percent-encoding",
           "truncated escape");
    is_bad(fe_rt("AAPL", "k=5%4", &s, &e), &e, "k", "percent-encoding",
           "half an escape");
    is_ok(fe_rt("AAPL", "%zz=1&foo=%zz&k=7", &s, &e),
          "malformed escapes in unknown keys are ignored");
    is_int(s.f.k, 7, "k read past unknown keys");

    /* integers */
    is_bad(fe_rt("AAPL", "k=4.5", &s, &e), &e, "k", "an integer",
           "k=4.5");
    is_bad(fe_rt("AAPL", "k=1e2", &s, &e), &e, "k", "an integer", "k=1e2");
    is_bad(fe_rt("AAPL", "k=99999999999999999999", &s, &e), &e, "k",
           "from 1 to 500", "k overflow");
    is_bad(fe_rt("AAPL", "k=-0", &s, &e), &e, "k", "from 1 to 500", "k=-0");
    is_bad(fe_rt("AAPL", "k=0", &s, &e), &e, "k", "from 1 to 500", "k=0");
    is_bad(fe_rt("AAPL", "k=501", &s, &e), &e, "k", "from 1 to 500",
           "k=501");
    is_bad(fe_rt("AAPL", "k=%205", &s, &e), &e, "k", "an integer",
           "leading space");
    is_ok(fe_rt("AAPL", "k=007", &s, &e), "leading zeros are still digits");
    is_int(s.f.k, 7, "k=007");

    /* last wins, blanks are absent, unknown keys ignored */
    is_ok(fe_rt("AAPL", "k=5&k=7", &s, &e), "repeated key");
    is_int(s.f.k, 7, "repeated key: last wins");
    is_ok(fe_rt("AAPL", "k=abc&k=9", &s, &e), "bad then good");
    is_int(s.f.k, 9, "bad value overridden by the last one");
    is_bad(fe_rt("AAPL", "k=9&k=abc", &s, &e), &e, "k", "(got \"abc\")",
           "good then bad: the last one counts");
    is_ok(fe_rt("AAPL", "k=&horizon", &s, &e), "blank values");
    ok(s.f.k == 40 && s.f.horizon == 10, "blank values are absent");
    is_ok(fe_rt("AAPL", "_=1712345678901&K=5&&k=6&", &s, &e),
          "cache-buster and empty segments");
    is_int(s.f.k, 6, "keys are case-sensitive, K ignored");

    /* booleans */
    is_ok(fe_rt("AAPL", "exclude_self=TRUE", &s, &e), "TRUE");
    is_int(s.f.exclude_self, 1, "exclude_self=TRUE");
    is_ok(fe_rt("AAPL", "exclude_self=0&cross_asset=1", &s, &e), "0 and 1");
    ok(s.f.exclude_self == 0 && s.f.cross_asset == 1, "0 and 1 stored");
    is_bad(fe_rt("AAPL", "exclude_self=yes", &s, &e), &e, "exclude_self",
           "true, false, 1 or 0", "yes is not a boolean");
    is_bad(fe_rt("AAPL", "exclude_self=true&cross_asset=false", &s, &e), &e,
           "cross_asset", "exclude_self", "fe realtime: conflict");

    /* numbers */
    is_bad(fe_rt("AAPL", "alpha=inf", &s, &e), &e, "alpha", "from 0 to 50",
           "alpha=inf");
    is_bad(fe_rt("AAPL", "alpha=nan", &s, &e), &e, "alpha", "from 0 to 50",
           "alpha=nan");
    is_bad(fe_rt("AAPL", "alpha=0x10", &s, &e), &e, "alpha", "from 0 to 50",
           "alpha=0x10");
    is_bad(fe_rt("AAPL", "alpha=50.001", &s, &e), &e, "alpha",
           "from 0 to 50", "alpha=50.001");
    is_bad(fe_rt("AAPL", "alpha=.5", &s, &e), &e, "alpha", "from 0 to 50",
           "alpha=.5");
    is_ok(fe_rt("AAPL", "alpha=5e-1", &s, &e), "alpha=5e-1");
    is_double(s.f.alpha, 0.5, 0, "alpha=5e-1 stored");
    is_bad(fe_rt("AAPL", "trim_lo=5.5", &s, &e), &e, "trim_lo", "whole",
           "trim_lo=5.5");
    is_bad(fe_rt("AAPL", "horizon=14", &s, &e), &e, "horizon",
           PRT_HORIZONS_TEXT, "horizon=14");

    /* value length */
    memset(args, '0', sizeof(args));
    memcpy(args, "k=", 2);
    args[2 + PRT_REQ_QUERY_VALUE_MAX - 1] = '5';
    args[2 + PRT_REQ_QUERY_VALUE_MAX] = '\0';
    is_ok(fe_rt("AAPL", args, &s, &e), "value of %d bytes",
          PRT_REQ_QUERY_VALUE_MAX);
    is_int(s.f.k, 5, "long zero-padded value");
    args[2 + PRT_REQ_QUERY_VALUE_MAX] = '5';
    args[2 + PRT_REQ_QUERY_VALUE_MAX + 1] = '\0';
    is_bad(fe_rt("AAPL", args, &s, &e), &e, "k", "too long",
           "value of %d bytes", PRT_REQ_QUERY_VALUE_MAX + 1);
}


/* ---- GET /api/historical/{prices,ohlc}/{SYMBOL} -------------------------- */

static void
test_prices(void)
{
    prt_req_prices_t   r;
    prt_parse_error_t  e;

    is_ok(prices("", &r, &e), "prices: no query");
    ok(r.day == INT32_MIN && r.start_minute == 570 && r.end_minute == 960
       && r.kind == PRT_PRICES_LINE, "prices: latest day, 09:30..16:00");
    is_str(r.symbol, "AAPL", "prices: symbol");
    ok(all_zero(r.pad, sizeof(r.pad)), "prices: padding zeroed");

    is_ok(prt_req_parse_prices(P, PRT_PRICES_OHLC, "brk.b", 5,
                               "date=2024-03-15&start_time=04:00&end_time="
                               "20:00", 47, &r, &e), "ohlc with a query");
    ok(r.kind == PRT_PRICES_OHLC && strcmp(r.symbol, "BRK.B") == 0,
       "ohlc: kind and symbol");
    is_int(r.day, utc_ms(2024, 3, 15, 0, 0, 0) / 86400000, "ohlc: day");
    ok(r.start_minute == 240 && r.end_minute == 1200, "ohlc: 04:00..20:00");

    is_ok(prices("start_time=00:00&end_time=23:59", &r, &e), "whole day");
    ok(r.start_minute == 0 && r.end_minute == 1439, "00:00..23:59");
    is_ok(prices("start_time=10:00&end_time=10:00", &r, &e), "start = end");
    is_ok(prices("start_time=09%3A45", &r, &e), "encoded colon");
    is_int(r.start_minute, 585, "09%%3A45");
    is_ok(prices("date=", &r, &e), "blank date");
    is_int(r.day, INT32_MIN, "blank date is the latest day");

    is_bad(prices("start_time=10:01&end_time=10:00", &r, &e), &e,
           "start_time", "not be after end_time", "start after end");
    is_bad(prices("end_time=09:29", &r, &e), &e, "start_time",
           "not be after", "end before the default start");
    is_bad(prices("start_time=24:00", &r, &e), &e, "start_time", "HH:MM",
           "24:00");
    is_bad(prices("end_time=23:60", &r, &e), &e, "end_time", "HH:MM",
           "23:60");
    is_bad(prices("start_time=9:30", &r, &e), &e, "start_time", "HH:MM",
           "9:30");
    is_bad(prices("date=2024-13-01", &r, &e), &e, "date", "YYYY-MM-DD",
           "month 13");
    is_bad(prices("date=20240315", &r, &e), &e, "date", "YYYY-MM-DD",
           "date without dashes");
    is_ok(prices("date=1970-01-01", &r, &e), "prices: first date");
    is_int(r.day, 0, "prices: 1970-01-01 is day 0");
    is_ok(prices("date=2199-12-31", &r, &e), "prices: last date");
    is_int(r.day, 84005, "prices: 2199-12-31 is day 84005");
    is_bad(prices("date=1969-12-31", &r, &e), &e, "date",
           "from 1970-01-01 to 2199-12-31", "prices: 1969-12-31");
    is_bad(prices("date=2200-01-01", &r, &e), &e, "date",
           "from 1970-01-01 to 2199-12-31", "prices: 2200-01-01");
    is_bad(prices("date=1900-01-01", &r, &e), &e, "date",
           "from 1970-01-01 to 2199-12-31", "prices: 1900-01-01");
    is_bad(prices("date=0000-01-01", &r, &e), &e, "date", "YYYY-MM-DD",
           "prices: year 0");
    is_bad(prt_req_parse_prices(P, PRT_PRICES_LINE, "A A", 3, NULL, 0, &r,
                                &e), &e, "symbol", "not a valid symbol",
           "prices: bad symbol");
}


/* ---- POST /api/pattern-realtime/run -------------------------------------- */

/* the symbols of r, space-separated, for comparisons */
static const char *
run_list(const prt_req_run_t *r, char *buf, size_t cap)
{
    size_t    n = 0;
    uint32_t  i;

    buf[0] = '\0';
    for (i = 0; i < r->nsymbols && n < cap; i++) {
        n += (size_t) snprintf(buf + n, cap - n, "%s%s", i ? " " : "",
                               run_symbol(r, i));
    }
    return buf;
}

static void
test_run_basics(void)
{
    prt_req_run_t     *r;
    prt_parse_error_t  e;
    size_t             len;
    char               list[256];
    uint32_t           i;

    is_ok(run("{\"symbols\":[\"AAPL\",\"MSFT\"]}", 100, &r, &len, &e),
          "run: array of two");
    is_int(r->nsymbols, 2, "run: nsymbols");
    is_int(len, sizeof(prt_req_run_t) + 2 * PRT_SYMBOL_SIZE, "run: length");
    is_str(run_list(r, list, sizeof(list)), "AAPL MSFT", "run: symbols");
    ok(all_zero(run_symbol(r, 0) + 4, PRT_SYMBOL_SIZE - 4)
       && all_zero(run_symbol(r, 1) + 4, PRT_SYMBOL_SIZE - 4),
       "run: symbols NUL-padded");
    ok(r->f.k == 40 && r->f.horizon == 10 && r->f.alpha == 6
       && r->f.trim_lo == 0 && r->f.trim_hi == 0 && r->f.exclude_self == 1
       && r->f.cross_asset == 1 && r->min_edge == 0
       && r->sessions == PRT_SESSION_BITS_ALL, "run: defaults");
    ok(all_zero(r->f.pad, sizeof(r->f.pad)), "run: padding zeroed");

    is_ok(run("{\"symbols\":\"aapl, msft\\nNVDA\\tbrk.a\\r\\n,,  goog \","
              "\"k\":500,\"horizon\":60,\"alpha\":0,\"trim_lo\":49,"
              "\"trim_hi\":49,\"exclude_self\":false,\"cross_asset\":false,"
              "\"min_edge\":0.5,\"sessions\":[\"regular\",\"post\"]}", 100,
              &r, &len, &e), "run: string with mixed separators");
    is_str(run_list(r, list, sizeof(list)), "AAPL MSFT NVDA BRK.A GOOG",
           "run: split, upper-cased");
    ok(r->f.k == 500 && r->f.horizon == 60 && r->f.alpha == 0
       && r->f.trim_lo == 49 && r->f.trim_hi == 49 && r->f.exclude_self == 0
       && r->f.cross_asset == 0 && r->min_edge == 0.5
       && r->sessions == (PRT_SESSION_BIT_REGULAR | PRT_SESSION_BIT_POST),
       "run: every field stored");

    is_ok(run("{\"symbols\":[\"AAPL\",\"aapl\",\"MSFT\",\"AAPL\",\"msft\","
              "\"A\"]}", 100, &r, &len, &e), "run: duplicates");
    is_str(run_list(r, list, sizeof(list)), "AAPL MSFT A",
           "run: de-duplicated, first occurrence order");
    is_int(len, sizeof(prt_req_run_t) + 3 * PRT_SYMBOL_SIZE,
           "run: length counts distinct symbols");

    is_ok(run("{\"symbols\":[\"AAPL MSFT\",\"nvda\",\"\"]}", 100, &r, &len,
              &e), "run: array elements are split too");
    is_str(run_list(r, list, sizeof(list)), "AAPL MSFT NVDA",
           "run: array element split");

    for (i = 0; i < 3; i++) {
        static const char  *sessions[] = { "[\"pre\"]",
                                           "[\"PRE\",\"Regular\"]",
                                           "[\"pre\",\"regular\",\"post\"]" };
        static const uint32_t  want[] = { 1, 3, 7 };
        char                   body[128];

        snprintf(body, sizeof(body), "{\"symbols\":\"A\",\"sessions\":%s}",
                 sessions[i]);
        is_ok(run(body, 10, &r, &len, &e), "run: sessions %s", sessions[i]);
        is_int(r->sessions, want[i], "run: sessions %s mask", sessions[i]);
    }
    is_ok(run("{\"symbols\":\"A\",\"sessions\":null}", 10, &r, &len, &e),
          "run: sessions null");
    is_int(r->sessions, PRT_SESSION_BITS_ALL, "run: sessions null is all");
}

static void
test_run_errors(void)
{
    prt_req_run_t     *r;
    prt_parse_error_t  e;
    size_t             len;

    is_bad(run("{\"symbols\":[\"AAPL\",\"AA$PL\"]}", 100, &r, &len, &e), &e,
           "symbols", "\"AA$PL\" is not a valid symbol", "run: bad symbol");
    ok(r == NULL && len == 0, "run: no output on error");
    is_bad(run("{\"symbols\":\"AAPL ABCDEFGHIJK\"}", 100, &r, &len, &e), &e,
           "symbols", "\"ABCDEFGHIJK\"", "run: 11-character symbol");
    is_bad(run("{\"symbols\":\"AAPL;MSFT\"}", 100, &r, &len, &e), &e,
           "symbols", "\"AAPL;MSFT\"", "run: ';' is not a separator");
    is_bad(run("{\"symbols\":\"1ABC\"}", 100, &r, &len, &e), &e, "symbols",
           "not a valid symbol", "run: digit first");
    is_bad(run("{\"symbols\":[]}", 100, &r, &len, &e), &e, "symbols",
           "empty", "run: empty array");
    is_bad(run("{\"symbols\":\"\"}", 100, &r, &len, &e), &e, "symbols",
           "empty", "run: empty string");
    is_bad(run("{\"symbols\":\" ,\\n\\t\"}", 100, &r, &len, &e), &e,
           "symbols", "empty", "run: separators only");
    is_bad(run("{\"symbols\":[\"\",\" \"]}", 100, &r, &len, &e), &e,
           "symbols", "empty", "run: array of blanks");
    is_bad(run("{\"symbols\":[\"AAPL\",1]}", 100, &r, &len, &e), &e,
           "symbols", "symbols[1] must be a string", "run: number in array");
    is_bad(run("{\"symbols\":42}", 100, &r, &len, &e), &e, "symbols",
           "array of strings or one string", "run: symbols a number");
    is_bad(run("{\"symbols\":{}}", 100, &r, &len, &e), &e, "symbols",
           "array of strings", "run: symbols an object");
    is_bad(run("{\"k\":5}", 100, &r, &len, &e), &e, "symbols",
           "symbols is required", "run: symbols missing");
    is_bad(run("{\"symbols\":null}", 100, &r, &len, &e), &e, "symbols",
           "required", "run: symbols null");

    is_bad(run("{\"symbols\":\"A\",\"cross_asset\":false}", 100, &r, &len,
               &e), &e, "cross_asset", "exclude_self",
           "run: cross_asset=false with the default exclude_self=true");
    is_ok(run("{\"symbols\":\"A\",\"cross_asset\":false,\"exclude_self\":"
              "false}", 100, &r, &len, &e),
          "run: cross_asset=false with exclude_self=false");

    is_ok(run("{\"symbols\":\"A\",\"min_edge\":0}", 10, &r, &len, &e),
          "run: min_edge 0");
    is_ok(run("{\"symbols\":\"A\",\"min_edge\":1e300}", 10, &r, &len, &e),
          "run: min_edge large");
    is_bad(run("{\"symbols\":\"A\",\"min_edge\":-0.001}", 10, &r, &len, &e),
           &e, "min_edge", "a number >= 0", "run: min_edge negative");
    is_bad(run("{\"symbols\":\"A\",\"min_edge\":1e999}", 10, &r, &len, &e),
           &e, "min_edge", "a number >= 0", "run: min_edge not finite");
    is_bad(run("{\"symbols\":\"A\",\"min_edge\":\"1\"}", 10, &r, &len, &e),
           &e, "min_edge", "a number >= 0", "run: min_edge a string");

    is_bad(run("{\"symbols\":\"A\",\"sessions\":[]}", 10, &r, &len, &e), &e,
           "sessions", "non-empty", "run: sessions empty");
    is_bad(run("{\"symbols\":\"A\",\"sessions\":\"pre\"}", 10, &r, &len,
               &e), &e, "sessions", "array", "run: sessions a string");
    is_bad(run("{\"symbols\":\"A\",\"sessions\":[\"pre\",\"lunch\"]}", 10,
               &r, &len, &e), &e, "sessions", "sessions[1]",
           "run: unknown session");
    is_bad(run("{\"symbols\":\"A\",\"sessions\":[1]}", 10, &r, &len, &e), &e,
           "sessions", "sessions[0]", "run: session a number");

    is_bad(run("{\"symbols\":\"A\",\"k\":0}", 10, &r, &len, &e), &e, "k",
           "from 1 to 500", "run: k=0");
    is_bad(run("{\"symbols\":\"A\",\"horizon\":0}", 10, &r, &len, &e), &e,
           "horizon", PRT_HORIZONS_TEXT, "run: horizon=0");
    is_bad(run("{\"symbols\":\"A\",\"job\":1}", 10, &r, &len, &e), &e, "job",
           "unknown field", "run: unknown field");

    fail_after = 1;         /* the body copy succeeds, the message fails */
    is_error(run("{\"symbols\":\"A\"}", 10, &r, &len, &e), &e,
             PRT_E_INTERNAL, "", "out of memory", "run: allocator failure");
    fail_after = -1;
}

static void
test_run_limits(void)
{
    prt_req_run_t     *r;
    prt_parse_error_t  e;
    size_t             len, n, i;
    char              *body;
    int                uniq;

    is_ok(run("{\"symbols\":\"A B C\"}", 3, &r, &len, &e), "run: at limit");
    is_bad(run("{\"symbols\":\"A B C D\"}", 3, &r, &len, &e), &e, "symbols",
           "the limit is 3", "run: limit + 1");
    is_ok(run("{\"symbols\":\"A B a C b c\"}", 3, &r, &len, &e),
          "run: 6 tokens, 3 distinct, limit 3");
    is_int(r->nsymbols, 3, "run: limit counts distinct symbols");

    /* 10,000 generated symbols: S + 4 letters, all distinct */
    body = malloc(10001 * 6 + 32);
    n = (size_t) sprintf(body, "{\"symbols\":\"");
    for (i = 0; i < 10001; i++) {
        n += (size_t) sprintf(body + n, "S%c%c%c%c ",
                              (int) ('A' + i / 17576 % 26),
                              (int) ('A' + i / 676 % 26),
                              (int) ('A' + i / 26 % 26),
                              (int) ('A' + i % 26));
    }
    sprintf(body + n, "\"}");

    is_bad(run(body, 10000, &r, &len, &e), &e, "symbols",
           "the limit is 10000", "run: 10,001 symbols over 10,000");

    is_ok(run(body, 10001, &r, &len, &e), "run: 10,001 symbols at 10,001");
    is_int(r->nsymbols, 10001, "run: every generated symbol kept");
    is_int(len, sizeof(prt_req_run_t) + 10001 * PRT_SYMBOL_SIZE,
           "run: length of 10,001");
    uniq = 1;
    for (i = 0; i < 10001 && uniq; i++) {
        char  want[8];

        sprintf(want, "S%c%c%c%c", (int) ('A' + i / 17576 % 26),
                (int) ('A' + i / 676 % 26), (int) ('A' + i / 26 % 26),
                (int) ('A' + i % 26));
        uniq = strcmp(run_symbol(r, (uint32_t) i), want) == 0;
    }
    ok(uniq, "run: generated symbols in order");

    free(body);
}


/* ---- job ids and /job/{id}/results --------------------------------------- */

static void
test_job_id(void)
{
    prt_req_job_t      j;
    prt_parse_error_t  e;
    size_t             i;

    is_ok(prt_req_parse_job_id(JOB_ID, 36, &j, &e), "job id: lower case");
    is_str(j.job_id, JOB_ID, "job id copied");
    ok(all_zero(j.job_id + 36, PRT_JOB_ID_SIZE - 36), "job id NUL-padded");

    is_ok(prt_req_parse_job_id("0F8FAD5B-D9CB-469F-A165-70867728950E", 36,
                               &j, &e), "job id: upper case");
    is_str(j.job_id, JOB_ID, "job id lower-cased");

    static const char  *bad[] = {
        "0f8fad5b-d9cb-469f-a165-70867728950",       /* 35 */
        "0f8fad5b-d9cb-469f-a165-70867728950e0",     /* 37 */
        "0f8fad5bd-9cb-469f-a165-70867728950e",      /* dash moved */
        "0f8fad5b-d9cb-469f-a165-70867728950g",      /* not hex */
        "0f8fad5b_d9cb_469f_a165_70867728950e",
        "{0f8fad5b-d9cb-469f-a165-70867728950}",
        "",
        "../../../../../../../../../etc/passwd",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_error(prt_req_parse_job_id(bad[i], strlen(bad[i]), &j, &e), &e,
                 PRT_E_NOT_FOUND, "job_id", "no such job",
                 "job id \"%s\": 404", bad[i]);
        ok(all_zero(&j, sizeof(j)), "job id \"%s\": output cleared", bad[i]);
    }
    is_error(prt_req_parse_job_id(NULL, 0, &j, &e), &e, PRT_E_NOT_FOUND,
             "job_id", "no such job", "job id NULL: 404");
}

static void
test_job_results(void)
{
    prt_req_job_results_t  r;
    prt_parse_error_t      e;

    is_ok(job_results("", &r, &e), "results: defaults");
    ok(r.sort_by == PRT_SORT_EDGE && r.direction == PRT_FILTER_ALL
       && r.limit == 50 && r.include_verified == 1,
       "results: edge, ALL, 50, include_verified");
    is_str(r.job_id, JOB_ID, "results: job id");

    is_ok(job_results("sort_by=prob_up&direction=up&limit=1&"
                      "include_verified=false", &r, &e), "results: query");
    ok(r.sort_by == PRT_SORT_PROB_UP && r.direction == PRT_FILTER_UP
       && r.limit == 1 && r.include_verified == 0, "results: query stored");
    is_ok(job_results("sort_by=mean_return&direction=DOWN&limit=10000", &r,
                      &e), "results: limit 10000");
    ok(r.sort_by == PRT_SORT_MEAN_RETURN && r.direction == PRT_FILTER_DOWN
       && r.limit == 10000, "results: mean_return, DOWN, 10000");
    is_ok(job_results("direction=All", &r, &e), "results: direction All");
    is_int(r.direction, PRT_FILTER_ALL, "results: direction All");

    is_bad(job_results("limit=0", &r, &e), &e, "limit", "from 1 to 10000",
           "results: limit 0");
    is_bad(job_results("limit=10001", &r, &e), &e, "limit",
           "from 1 to 10000", "results: limit 10001");
    is_bad(job_results("sort_by=volume", &r, &e), &e, "sort_by",
           "one of edge, prob_up, mean_return", "results: unknown sort_by");
    is_bad(job_results("direction=SIDEWAYS", &r, &e), &e, "direction",
           "one of ALL, UP, DOWN", "results: unknown direction");
    is_bad(job_results("include_verified=maybe", &r, &e), &e,
           "include_verified", "true, false, 1 or 0",
           "results: include_verified");

    is_error(prt_req_parse_job_results("nope", 4, "limit=0", 7, &r, &e), &e,
             PRT_E_NOT_FOUND, "job_id", "no such job",
             "results: bad id is 404 before the query is read");
}


/* ---- /performance and /history ------------------------------------------- */

static void
test_performance(void)
{
    static const char      *periods[] = { "1h", "today", "week", "all" };
    prt_req_performance_t   r;
    prt_parse_error_t       e;
    char                    args[32];
    int                     i;

    is_ok(performance("", &r, &e), "performance: defaults");
    ok(r.period == PRT_PERIOD_ALL && r.horizon == 0,
       "performance: period all, every horizon");

    for (i = 0; i < 4; i++) {
        snprintf(args, sizeof(args), "period=%s", periods[i]);
        is_ok(performance(args, &r, &e), "performance: %s", args);
        is_int(r.period, i, "performance: %s stored", args);
    }
    is_ok(performance("period=TODAY&horizon=15", &r, &e),
          "performance: TODAY, horizon 15");
    ok(r.period == PRT_PERIOD_TODAY && r.horizon == 15,
       "performance: stored");
    is_ok(performance("horizon=1", &r, &e), "performance: horizon 1");
    is_ok(performance("horizon=60", &r, &e), "performance: horizon 60");
    is_bad(performance("horizon=0", &r, &e), &e, "horizon",
           PRT_HORIZONS_TEXT, "performance: horizon 0");
    is_bad(performance("horizon=61", &r, &e), &e, "horizon",
           PRT_HORIZONS_TEXT, "performance: horizon 61");
    is_bad(performance("period=month", &r, &e), &e, "period",
           "one of 1h, today, week, all", "performance: unknown period");
}

static void
test_history(void)
{
    prt_req_history_t  r;
    prt_parse_error_t  e;

    is_ok(history("", &r, &e), "history: defaults");
    ok(r.limit == 50 && r.offset == 0 && r.symbol[0] == '\0'
       && r.verified_only == 0, "history: 50, 0, every symbol, all");
    ok(all_zero(r.pad, sizeof(r.pad)), "history: padding zeroed");

    is_ok(history("limit=50&offset=0&symbol=&verified_only=false", &r, &e),
          "history: the front end's query");
    ok(r.limit == 50 && r.offset == 0 && r.symbol[0] == '\0',
       "history: blank symbol is every symbol");

    is_ok(history("limit=1&offset=2147483647&symbol=brk.a&verified_only=1",
                  &r, &e), "history: edges");
    ok(r.limit == 1 && r.offset == 2147483647u
       && strcmp(r.symbol, "BRK.A") == 0 && r.verified_only == 1,
       "history: edges stored");
    is_ok(history("limit=1000", &r, &e), "history: limit 1000");

    is_bad(history("limit=0", &r, &e), &e, "limit", "from 1 to 1000",
           "history: limit 0");
    is_bad(history("limit=1001", &r, &e), &e, "limit", "from 1 to 1000",
           "history: limit 1001");
    is_bad(history("offset=-1", &r, &e), &e, "offset",
           "from 0 to 2147483647", "history: offset -1");
    is_bad(history("offset=2147483648", &r, &e), &e, "offset",
           "from 0 to 2147483647", "history: offset 2^31");
    is_bad(history("symbol=AAPL%0A", &r, &e), &e, "symbol",
           "not a valid symbol", "history: symbol with a newline");
    is_bad(history("symbol=AA%00PL", &r, &e), &e, "symbol",
           "\"AA?PL\" is not a valid symbol", "history: symbol with NUL");
    ok(r.symbol[0] == '\0', "history: output cleared on error");
    is_bad(history("verified_only=2", &r, &e), &e, "verified_only",
           "true, false, 1 or 0", "history: verified_only=2");
}


/* ---- POST /api/pattern-realtime/bars ------------------------------------- */

#define BAR(fields)  "{\"ev\":\"AM\",\"sym\":\"AAPL\"," fields "}"
#define OK_FIELDS    "\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5," \
                     "\"s\":1710513000000,\"e\":1710513060000"

static const prt_bar_reject_t *
bar_rejects(const prt_req_bars_t *b)
{
    return (const prt_bar_reject_t *)
           ((const prt_bar_event_t *) (b + 1) + b->nevents);
}

static void
test_bars_clean(void)
{
    prt_req_bars_t         *b;
    const prt_bar_event_t  *ev;
    prt_parse_error_t       e;
    size_t                  len;

    is_ok(bars("[" BAR(OK_FIELDS) ",{\"ev\":\"AM\",\"sym\":\"BRK.B\",\"v\":0,"
               "\"av\":123456,\"op\":9.9,\"vw\":10.2,\"o\":5,\"c\":5,\"h\":5,"
               "\"l\":5,\"a\":10.1,\"z\":12,\"s\":1710513060000,"
               "\"e\":1710513120000,\"otc\":false}]", 10, &b, &len, &e),
          "bars: clean batch");
    is_int(b->nevents, 2, "bars: two events");
    is_int(b->nrejected, 0, "bars: none rejected");
    is_int(len, sizeof(*b) + 2 * sizeof(prt_bar_event_t), "bars: length");

    ev = (const prt_bar_event_t *) (b + 1);
    ok(strcmp(ev[0].symbol, "AAPL") == 0 && ev[0].start_ms == 1710513000000
       && ev[0].end_ms == 1710513060000 && ev[0].open == 10
       && ev[0].high == 11 && ev[0].low == 9.5 && ev[0].close == 10.5
       && ev[0].volume == 100 && ev[0].index == 0 && ev[0].pad == 0,
       "bars: first event's fields");
    ok(all_zero(ev[0].symbol + 4, PRT_SYMBOL_SIZE - 4),
       "bars: symbol NUL-padded");
    ok(strcmp(ev[1].symbol, "BRK.B") == 0 && ev[1].volume == 0
       && ev[1].high == 5 && ev[1].low == 5 && ev[1].index == 1,
       "bars: second event (flat bar, zero volume, extra fields)");

    /* the first and last minutes of New York dates 1970-01-01..2199-12-31 */
    is_ok(bars("[" BAR("\"v\":1,\"o\":5,\"c\":5,\"h\":5,\"l\":5,"
                       "\"s\":18000000,\"e\":18060000") ","
               BAR("\"v\":1,\"o\":5,\"c\":5,\"h\":5,\"l\":5,"
                   "\"s\":7258136340000,\"e\":7258136400000") "]", 10, &b,
               &len, &e), "bars: edges of the date range");
    ok(b->nevents == 2 && b->nrejected == 0,
       "bars: 1970-01-01 00:00 and 2199-12-31 23:59 ET kept");

    is_ok(bars("[]", 10, &b, &len, &e), "bars: empty batch");
    ok(b->nevents == 0 && b->nrejected == 0 && len == sizeof(*b),
       "bars: empty batch is an empty message");

    is_ok(bars("[" BAR(OK_FIELDS) "," BAR(OK_FIELDS) "," BAR(OK_FIELDS) "]",
               3, &b, &len, &e), "bars: at max_events");
    is_error(bars("[" BAR(OK_FIELDS) "," BAR(OK_FIELDS) "," BAR(OK_FIELDS)
                  "]", 2, &b, &len, &e), &e, PRT_E_TOO_LARGE, "",
             "the limit is 2", "bars: max_events + 1 is 413");
    ok(b == NULL && len == 0, "bars: no output on error");

    is_bad(bars(BAR(OK_FIELDS), 10, &b, &len, &e), &e, "", "JSON array",
           "bars: an object is not a batch");
    is_bad(bars("[" BAR(OK_FIELDS), 10, &b, &len, &e), &e, "",
           "malformed JSON", "bars: truncated");
    is_bad(bars("", 10, &b, &len, &e), &e, "", "empty", "bars: empty body");

    /* nesting: the batch is level 1, so 31 more levels inside it pass and
     * the 33rd level refuses the whole batch, as for every other body */
    {
        char    deep[200];
        size_t  n;

        for (n = 32; n <= 33; n++) {
            memset(deep, '[', n);
            memset(deep + n, ']', n);
            deep[2 * n] = '\0';
            if (n == 32) {
                is_ok(bars(deep, 10, &b, &len, &e), "bars: 32 levels read");
                ok(b->nevents == 0 && b->nrejected == 1,
                   "bars: 32 levels: one element rejected");
            } else {
                is_bad(bars(deep, 10, &b, &len, &e), &e, "",
                       "nested deeper than 32 levels",
                       "bars: 33 levels refused");
            }
        }
        is_bad(bars("[{\"ev\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]"
                    "]]]]]]]]]]]]]]]]}]", 10, &b, &len, &e), &e, "",
               "nested deeper than 32 levels",
               "bars: 33 levels inside an event refused");
    }
}

static void
test_bars_rejections(void)
{
    static const struct {
        const char  *event;
        const char  *reason;
    } cases[] = {
        { "5", "not a JSON object" },
        { "null", "not a JSON object" },
        { "[" BAR(OK_FIELDS) "]", "not a JSON object" },
        { "{\"ev\":\"A\",\"sym\":\"AAPL\"," OK_FIELDS "}",
          "ev must be \"AM\"" },
        { "{\"ev\":\"am\",\"sym\":\"AAPL\"," OK_FIELDS "}", "ev must be" },
        { "{\"ev\":5,\"sym\":\"AAPL\"," OK_FIELDS "}", "ev must be a string" },
        { "{\"ev\":\"AM\",\"sym\":\"aapl\"," OK_FIELDS "}",
          "sym \"aapl\" is not a valid symbol" },
        { "{\"ev\":\"AM\",\"sym\":\"ABCDEFGHIJK\"," OK_FIELDS "}",
          "not a valid symbol" },
        { "{\"ev\":\"AM\"," OK_FIELDS "}", "sym is required" },
        { BAR("\"v\":100,\"c\":10.5,\"h\":11,\"l\":9.5,\"s\":1710513000000,"
              "\"e\":1710513060000"), "o is required" },
        { BAR("\"o\":null,\"v\":100,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"), "o is required" },
        { BAR("\"v\":100,\"o\":\"10\",\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"),
          "o must be a number (got \"10\")" },
        { BAR("\"v\":true,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"),
          "v must be a number" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000.0,\"e\":1710513060000"),
          "s must be an integer" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1.71051306e12"),
          "e must be an integer" },
        { BAR(OK_FIELDS ",\"x\":1"), "unknown field \"x\"" },
        { BAR(OK_FIELDS ",\"o\":10"), "duplicate field \"o\"" },
        { BAR("\"v\":100,\"o\":0,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"), "must be > 0" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":-9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"), "must be > 0" },
        { BAR("\"v\":100,\"o\":1e999,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"),
          "o must be a number (got 1e999)" },
        { BAR("\"v\":-1,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"),
          "v must not be negative" },
        { BAR("\"v\":100,\"o\":10,\"c\":11.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"),
          "h 11 is below o, c or l" },
        { BAR("\"v\":100,\"o\":12,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513060000"), "is below" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":10.2,"
              "\"s\":1710513000000,\"e\":1710513060000"),
          "l 10.2 is above o or c" },
        { BAR("\"v\":100,\"o\":10.5,\"c\":10,\"h\":11,\"l\":10.2,"
              "\"s\":1710513000000,\"e\":1710513060000"),
          "l 10.2 is above o or c" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000001,\"e\":1710513060001"),
          "s must be a whole minute" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513059999"),
          "e must be s + 60000" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":1710513000000,\"e\":1710513120000"),
          "e must be s + 60000" },
        /* the last whole minute of int64: s + 60000 would overflow */
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":9223372036854720000,\"e\":9223372036854775807"),
          "e must be s + 60000" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":9223372036854775808,\"e\":1"), "s must be an integer" },
        /* New York dates 1970-01-01 (from 05:00Z) to 2199-12-31 */
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":17940000,\"e\":18000000"),
          "s must fall on a date from 1970-01-01 to 2199-12-31 ET" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":0,\"e\":60000"), "s must fall on a date from" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":-2208988800000,\"e\":-2208988740000"),
          "s must fall on a date from" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":7258136400000,\"e\":7258136460000"),
          "s must fall on a date from" },
        { BAR("\"v\":100,\"o\":10,\"c\":10.5,\"h\":11,\"l\":9.5,"
              "\"s\":9223372036854660000,\"e\":9223372036854720000"),
          "s must fall on a date from" },
    };
    size_t                   n = sizeof(cases) / sizeof(cases[0]), i, blen;
    char                    *body;
    prt_req_bars_t          *b;
    const prt_bar_event_t   *ev;
    const prt_bar_reject_t  *rj;
    prt_parse_error_t        e;
    size_t                   len;

    /* good, bad_0, good, bad_1, ..., good: good events at even indexes */
    body = malloc(n * 400 + 400);
    blen = (size_t) sprintf(body, "[" BAR(OK_FIELDS));
    for (i = 0; i < n; i++) {
        blen += (size_t) sprintf(body + blen, ",%s," BAR(OK_FIELDS),
                                 cases[i].event);
    }
    sprintf(body + blen, "]");

    is_ok(bars(body, 1000, &b, &len, &e), "bars: mixed batch");
    is_int(b->nevents, n + 1, "bars: every good event kept");
    is_int(b->nrejected, n, "bars: every bad event rejected");
    is_int(len, sizeof(*b) + (n + 1) * sizeof(prt_bar_event_t)
                + n * sizeof(prt_bar_reject_t), "bars: message length");

    ev = (const prt_bar_event_t *) (b + 1);
    for (i = 0; i <= n; i++) {
        if (!ok(ev[i].index == 2 * i && strcmp(ev[i].symbol, "AAPL") == 0,
                "bars: good event %zu at index %zu", i, 2 * i)) {
            printf("#   index %u\n", ev[i].index);
        }
    }

    rj = bar_rejects(b);
    for (i = 0; i < n; i++) {
        int  pass;

        pass = rj[i].index == 2 * i + 1
               && memchr(rj[i].reason, '\0', PRT_REASON_SIZE) != NULL
               && strstr(rj[i].reason, cases[i].reason) != NULL;
        if (!ok(pass, "bars: reject %zu (%s)", i, cases[i].reason)) {
            printf("#   index %u reason \"%.*s\"\n", rj[i].index,
                   PRT_REASON_SIZE, rj[i].reason);
        }
    }

    free(body);
}


int
main(void)
{
    P = prt_parser_create();
    if (P == NULL) {
        printf("Bail out! prt_parser_create failed\n");
        return 1;
    }

    test_symbol_valid();
    test_search_defaults();
    test_search_timestamps();
    test_search_modes();
    test_search_ticker();
    test_search_ranges();
    test_search_conflict();
    test_json_rules();
    test_fe_historical();
    test_fe_realtime();
    test_prices();
    test_run_basics();
    test_run_errors();
    test_run_limits();
    test_job_id();
    test_job_results();
    test_performance();
    test_history();
    test_bars_clean();
    test_bars_rejections();

    prt_parser_free(P);
    arena_free();
    return done_testing();
}
