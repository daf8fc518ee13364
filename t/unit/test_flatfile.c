/*
 * Flat-file reader and synthetic generator (engine/data/flatfile.c, gen.c).
 *
 * Files are written by the test itself with zlib into a temporary folder.
 * The real-data check reads every file under PRT_REAL_DATA (default
 * ../shared/data/real next to the repository) and is skipped when absent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tap.h"

#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "data/flatfile.h"
#include "tools/generate.h"

#define HEADER          PRT_FF_HEADER "\n"
#define NS              1000000000LL
/* 2024-01-02 09:30 ET (EST) = 14:30Z */
#define T0930           1704205800LL
#define PATH_BUF        2048

static char  tmpdir[512];

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static void
path_in(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static int
write_plain(const char *path, const void *data, size_t len)
{
    FILE  *f = fopen(path, "wb");
    int    rc;

    if (f == NULL) {
        return -1;
    }
    rc = fwrite(data, 1, len, f) == len ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

static int
write_gz(const char *path, const char *data, size_t len)
{
    gzFile  gz = gzopen(path, "wb6");
    int     rc;

    if (gz == NULL) {
        return -1;
    }
    rc = len == 0 || gzwrite(gz, data, (unsigned) len) == (int) len ? 0 : -1;
    return gzclose(gz) == Z_OK ? rc : -1;
}

/* gzip (not zlib) framing in memory, for cutting and corrupting. */
static unsigned char *
gzip_memory(const char *data, size_t len, size_t *out_len)
{
    z_stream        zs;
    unsigned char  *out;
    size_t          cap = len + len / 100 + 1024;

    memset(&zs, 0, sizeof(zs));
    out = malloc(cap);
    if (out == NULL
        || deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    {
        free(out);
        return NULL;
    }
    zs.next_in = (unsigned char *) data;
    zs.avail_in = (unsigned) len;
    zs.next_out = out;
    zs.avail_out = (unsigned) cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        free(out);
        return NULL;
    }
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    return remove(path);
}

/* Collects the reader's messages instead of logging them. */
#define MAX_REPORTS 64
typedef struct {
    int       n;
    uint64_t  line[MAX_REPORTS];
    char      msg[MAX_REPORTS][400];
} reports_t;

static void
collect(void *ctx, const char *path, uint64_t line, const char *msg)
{
    reports_t  *r = ctx;

    if (r->n < MAX_REPORTS) {
        r->line[r->n] = line;
        snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s", msg);
        r->n++;
    }
}

static prt_ff_reader_t *
new_reader(reports_t *rep, unsigned report_max)
{
    prt_ff_options_t  opt = { collect, rep, report_max };

    memset(rep, 0, sizeof(*rep));
    return prt_ff_reader_new(&opt);
}

/* Reads rows into rows[] (up to cap); returns the last next() result. */
static int
read_rows(prt_ff_reader_t *r, prt_ff_row_t *rows, size_t cap, size_t *n)
{
    prt_ff_row_t  row;
    int           rc;

    *n = 0;
    while ((rc = prt_ff_reader_next(r, &row)) == 1) {
        if (*n < cap) {
            rows[*n] = row;
        }
        (*n)++;
    }
    return rc;
}

/* A deterministic generator for test inputs, independent of the engine's. */
static uint64_t  test_rng_state = 0x123456789abcdefULL;

static uint64_t
test_rand(void)
{
    uint64_t  x = test_rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return test_rng_state = x;
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                  */

static int
same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Compares with strtod; returns 1 when equal (both parse or both fail). */
static int
check_vs_strtod(const char *s)
{
    double  ours, ref;
    char   *end;
    int     rc = prt_ff_parse_double(s, strlen(s), &ours);

    ref = strtod(s, &end);
    if (rc != 0) {
        return 0;
    }
    return *end == '\0' && same_double(ours, ref);
}

static void
random_decimal(char *buf, size_t size)
{
    int     n = 0, i, int_digits, frac_digits;
    int     lead_zeros = test_rand() % 4 == 0 ? (int) (test_rand() % 6) : 0;

    if (test_rand() % 4 == 0) {
        buf[n++] = test_rand() % 2 ? '-' : '+';
    }
    int_digits = (int) (test_rand() % 21);
    frac_digits = test_rand() % 3 == 0 ? -1 : (int) (test_rand() % 21);
    if (int_digits == 0 && frac_digits <= 0) {
        int_digits = 1;
    }
    for (i = 0; i < lead_zeros; i++) {
        buf[n++] = '0';
    }
    for (i = 0; i < int_digits; i++) {
        buf[n++] = (char) ('0' + test_rand() % 10);
    }
    if (frac_digits >= 0) {
        buf[n++] = '.';
        for (i = 0; i < frac_digits; i++) {
            buf[n++] = (char) ('0' + test_rand() % 10);
        }
    }
    if (test_rand() % 3 == 0) {
        n += snprintf(buf + n, size - (size_t) n, "%s%d",
                      test_rand() % 2 ? "e" : "E-",
                      (int) (test_rand() % (test_rand() % 4 ? 30 : 400)));
    }
    buf[n] = '\0';
}

static void
test_doubles_random(void)
{
    char  buf[128];
    int   i, bad = 0;

    for (i = 0; i < 500000; i++) {
        random_decimal(buf, sizeof(buf));
        if (!check_vs_strtod(buf)) {
            if (bad++ < 5) {
                printf("#   mismatch on \"%s\"\n", buf);
            }
        }
    }
    is_int(bad, 0, "500000 random decimal strings equal strtod bit for bit");
}

/* Every price with 4 decimals up to $2000: the shape of real files. */
static void
test_doubles_prices(void)
{
    char      buf[32];
    uint32_t  v;
    int       bad = 0;

    for (v = 0; v <= 20000000; v += 1 + (v > 2000000) * 6) {
        snprintf(buf, sizeof(buf), "%u.%04u", v / 10000, v % 10000);
        if (!check_vs_strtod(buf)) {
            if (bad++ < 5) {
                printf("#   mismatch on \"%s\"\n", buf);
            }
        }
    }
    is_int(bad, 0, "prices 0.0000 .. 2000.0000 equal strtod");
}

static void
test_doubles_edges(void)
{
    static const char  *good[] = {
        "0", "-0", "+0", "0.0", ".5", "5.", "1e22", "1e23",
        "9007199254740992", "9007199254740993", "9007199254740993.0",
        "123456789012345678901234567890",
        "0.1", "0.3", "2.2250738585072011e-308", "4.9406564584124654e-324",
        "1e-400", "0e99999999999", "1.7976931348623157e308", "1e309",
        "00000000000000000000000001.5", "0.000000000000000000000000001",
        "1.00000000000000000000000000000000000001", "84.22", "1E5", "1e+5",
    };
    static const char  *bad_inputs[] = {
        "", ".", "-", "+", "e5", "1e", "1e+", "--1", "1.2.3", " 1", "1 ",
        "0x10", "inf", "nan", "1,5", "1e5.5", "٣",
    };
    size_t  i;
    double  v;
    int     ok_all = 1;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!check_vs_strtod(good[i])) {
            printf("#   mismatch on \"%s\"\n", good[i]);
            ok_all = 0;
        }
    }
    ok(ok_all, "edge-case decimals equal strtod (2^53+1, subnormals, 1e23)");
    ok_all = 1;
    for (i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
        if (prt_ff_parse_double(bad_inputs[i], strlen(bad_inputs[i]), &v)
            == 0)
        {
            printf("#   accepted \"%s\"\n", bad_inputs[i]);
            ok_all = 0;
        }
    }
    ok(ok_all, "non-decimal inputs are rejected");
    ok(prt_ff_parse_double("1.25", 3, &v) == 0 && v == 1.2,
       "parse_double honours the length (no NUL needed)");
}

/* ------------------------------------------------------------------------ */
/* Rows                                                                     */

static void
test_parse_row(void)
{
    prt_ff_row_t  row;
    const char   *s = "BRK.B,250.5,410.25,410.3,410.31,410.2,"
                      "1704205800000000000,7";

    is_int(prt_ff_parse_row(s, strlen(s), &row), PRT_FF_OK, "row parses");
    is_str(row.ticker, "BRK.B", "ticker");
    ok(row.volume == 250.5 && row.open == 410.25 && row.close == 410.3
       && row.high == 410.31 && row.low == 410.2, "prices and volume");
    is_int(row.start_ns, 1704205800000000000LL, "window_start");
    is_int(row.transactions, 7, "transactions");
    ok(prt_ff_ticker_valid("A", 1) && prt_ff_ticker_valid("ABCDEFGHIJ", 10)
       && prt_ff_ticker_valid("X-Y.Z9", 6) && !prt_ff_ticker_valid("", 0)
       && !prt_ff_ticker_valid("ABCDEFGHIJK", 11)
       && !prt_ff_ticker_valid("1ABC", 4) && !prt_ff_ticker_valid("AbC", 3),
       "ticker pattern ^[A-Z][A-Z0-9.-]{0,9}$");
}

/* One line per kind; expected status by line number (header = line 1). */
typedef struct {
    const char       *text;
    prt_ff_status_t   want;
} row_case_t;

static const row_case_t  row_cases[] = {
    { "AAPL,100,1.5,1.6,1.7,1.4,1704205800000000000,3", PRT_FF_OK },
    { NULL, PRT_FF_E_LONG },                                   /* built */
    { "AAPL,100,1.5,1.6,1.7,1.4,1704205860000000000", PRT_FF_E_FIELDS },
    { "AAPL,100,1.5,1.6,1.7,1.4,1704205860000000000,3,9", PRT_FF_E_FIELDS },
    { ",100,1.5,1.6,1.7,1.4,1704205860000000000,3", PRT_FF_E_TICKER },
    { "AA\001L,100,1.5,1.6,1.7,1.4,1704205860000000000,3", PRT_FF_E_TICKER },
    { "AAPL,1x0,1.5,1.6,1.7,1.4,1704205860000000000,3", PRT_FF_E_NUMBER },
    { "AAPL,nan,1.5,1.6,1.7,1.4,1704205860000000000,3", PRT_FF_E_NUMBER },
    { "AAPL,100,1.5,1.6,1.7,1.4,17042058600000000x0,3", PRT_FF_E_NUMBER },
    { "AAPL,100,1.5,1.6,1.7,1.4,1704205860000000000,4294967296",
      PRT_FF_E_NUMBER },
    { "AAPL,100,-1.5,1.6,1.7,1.4,1704205860000000000,3", PRT_FF_E_PRICE },
    { "AAPL,100,1.5,1e999,1.7,1.4,1704205860000000000,3", PRT_FF_E_PRICE },
    { "AAPL,100,0,1.6,1.7,1.4,1704205860000000000,3", PRT_FF_E_PRICE },
    { "AAPL,-5,1.5,1.6,1.7,1.4,1704205860000000000,3", PRT_FF_E_VOLUME },
    { "AAPL,100,1.5,1.6,1.4,1.7,1704205860000000000,3", PRT_FF_E_HIGH_LOW },
    { "AAPL,100,1.5,1.6,1.7,1.4,1704205830000000000,3", PRT_FF_E_TIME },
    { "aapl,100,1.5,1.6,1.7,1.4,1704205920000000000,3", PRT_FF_SKIPPED },
    { "ABCDEFGHIJK,100,1.5,1.6,1.7,1.4,1704205920000000000,3",
      PRT_FF_SKIPPED },
    { "", PRT_FF_E_FIELDS },
    { "BRK.B,250.5,410.25,410.3,410.31,410.2,1704205980000000000,7\r",
      PRT_FF_OK },
    { "ZZ,1,2,2,2,2,1704206100000000000,0", PRT_FF_OK },  /* no newline */
};

#define N_ROW_CASES (sizeof(row_cases) / sizeof(row_cases[0]))

static char *
build_case_file(size_t *len)
{
    size_t  cap = 64 * 1024, n = 0, i;
    char   *buf = malloc(cap);

    n += (size_t) snprintf(buf, cap, "%s", HEADER);
    for (i = 0; i < N_ROW_CASES; i++) {
        if (row_cases[i].text == NULL) {
            n += (size_t) snprintf(buf + n, cap - n, "AAPL,100,1.5,1.6,1.7,1.4,"
                                   "1704205860000000000,");
            memset(buf + n, '1', 600);
            n += 600;
        } else {
            n += (size_t) snprintf(buf + n, cap - n, "%s", row_cases[i].text);
        }
        if (i + 1 < N_ROW_CASES) {
            buf[n++] = '\n';
        }
    }
    *len = n;
    return buf;
}

static void
test_malformed_rows(void)
{
    char              path[600];
    size_t            len, n, i, r;
    char             *data = build_case_file(&len);
    reports_t         rep;
    prt_ff_reader_t  *rd = new_reader(&rep, 100);
    prt_ff_row_t      rows[8];
    uint64_t          want[PRT_FF_STATUS_COUNT] = { 0 };
    const prt_ff_stats_t *st;
    int               lines_ok = 1;

    path_in(path, sizeof(path), tmpdir, "2024-01-02.csv.gz");
    ok(write_gz(path, data, len) == 0, "wrote the malformed-row file");
    is_int(prt_ff_reader_open(rd, path), 0, "opened");
    is_int(read_rows(rd, rows, 8, &n), 0, "read to the end");
    st = prt_ff_reader_stats(rd);
    for (i = 0; i < N_ROW_CASES; i++) {
        want[row_cases[i].want]++;
    }
    is_int(n, 3, "three valid rows handed out");
    is_int(st->rows, 3, "stats.rows");
    is_int(st->lines, N_ROW_CASES, "stats.lines");
    is_int(st->skipped, want[PRT_FF_SKIPPED], "skipped counted");
    is_int(st->malformed, N_ROW_CASES - 3 - want[PRT_FF_SKIPPED],
           "malformed counted");
    for (i = PRT_FF_SKIPPED; i < PRT_FF_STATUS_COUNT; i++) {
        is_int(st->by_status[i], want[i], "count of '%s'",
               prt_ff_status_name((prt_ff_status_t) i));
    }
    /* every bad line reported once, in order, with its line and kind */
    r = 0;
    for (i = 0; i < N_ROW_CASES; i++) {
        if (row_cases[i].want == PRT_FF_OK) {
            continue;
        }
        if (r >= (size_t) rep.n || rep.line[r] != i + 2
            || strstr(rep.msg[r], prt_ff_status_name(row_cases[i].want))
               == NULL)
        {
            printf("#   case %zu: report \"%s\"\n", i,
                   r < (size_t) rep.n ? rep.msg[r] : "(none)");
            lines_ok = 0;
        }
        r++;
    }
    ok(lines_ok, "each bad row reported with its line number and kind");
    is_int(rep.n, (int) r, "no other reports");
    ok(strstr(rep.msg[0], "2024-01-02.csv.gz:3: malformed row") != NULL,
       "report names file and line: %s", rep.msg[0]);
    is_str(rows[0].ticker, "AAPL", "first valid row");
    ok(rows[1].volume == 250.5 && strcmp(rows[1].ticker, "BRK.B") == 0,
       "CRLF row read");
    ok(rows[2].start_ns == 1704206100000000000LL && rows[2].close == 2,
       "last line without newline read");
    prt_ff_reader_free(rd);
    free(data);
}

static void
test_report_limit(void)
{
    char              path[600], *data = malloc(1 << 16);
    size_t            n = 0, rows;
    int               i;
    reports_t         rep;
    prt_ff_reader_t  *rd = new_reader(&rep, 5);

    n += (size_t) sprintf(data, "%s", HEADER);
    for (i = 0; i < 25; i++) {
        n += (size_t) sprintf(data + n,
                              "BAD,x,1,1,1,1,0,0\nlow,1,1,1,1,1,0,0\n");
    }
    path_in(path, sizeof(path), tmpdir, "limit.csv.gz");
    write_gz(path, data, n);
    prt_ff_reader_open(rd, path);
    read_rows(rd, NULL, 0, &rows);
    is_int(prt_ff_reader_stats(rd)->malformed, 25, "all malformed counted");
    is_int(prt_ff_reader_stats(rd)->skipped, 25, "all skipped counted");
    is_int(rep.n, 10, "5 + 5 reported while reading");
    prt_ff_reader_close(rd);
    is_int(rep.n, 11, "one summary line at close");
    ok(strstr(rep.msg[10], "20 more malformed and 20 more skipped") != NULL,
       "summary: %s", rep.msg[10]);
    prt_ff_reader_free(rd);
    free(data);
}

/* A line far longer than the reader's buffer, between two good rows. */
static void
test_huge_line(void)
{
    char              path[600];
    size_t            big = 3u << 20, n = 0, rows;
    char             *data = malloc(big + 1024);
    reports_t         rep;
    prt_ff_reader_t  *rd = new_reader(&rep, 10);
    prt_ff_row_t      got[4];

    n += (size_t) sprintf(data, "%sA,1,1,1,1,1,60000000000,0\n", HEADER);
    memset(data + n, 'x', big);
    n += big;
    n += (size_t) sprintf(data + n, "\nB,2,1,1,1,1,120000000000,0\n");
    path_in(path, sizeof(path), tmpdir, "huge.csv.gz");
    write_gz(path, data, n);
    prt_ff_reader_open(rd, path);
    is_int(read_rows(rd, got, 4, &rows), 0, "huge line: clean end");
    is_int(rows, 2, "rows around a 3 MB line survive");
    ok(rows == 2 && got[1].volume == 2, "row after the long line intact");
    is_int(prt_ff_reader_stats(rd)->by_status[PRT_FF_E_LONG], 1,
           "long line counted once");
    ok(rep.n >= 1 && rep.line[0] == 3, "long line reported at line 3");
    prt_ff_reader_free(rd);
    free(data);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static void
test_header_errors(void)
{
    static const char  wrong[] =
        "ticker,volume,open,close,high,low,window_start\nA,1,1,1,1,1,0\n";
    static const char  crlf[] = PRT_FF_HEADER "\r\nA,1,1,1,1,1,0,0\r\n";
    char               path[600];
    reports_t          rep;
    prt_ff_reader_t   *rd = new_reader(&rep, 10);
    prt_ff_row_t       row;

    path_in(path, sizeof(path), tmpdir, "wrong.csv.gz");
    write_gz(path, wrong, sizeof(wrong) - 1);
    is_int(prt_ff_reader_open(rd, path), -1, "wrong header refused");
    ok(strstr(prt_ff_reader_error(rd), "wrong header") != NULL
       && strstr(prt_ff_reader_error(rd), "wrong.csv.gz") != NULL,
       "message: %s", prt_ff_reader_error(rd));
    is_int(prt_ff_reader_next(rd, &row), 0, "no rows from a refused file");

    path_in(path, sizeof(path), tmpdir, "empty.csv.gz");
    write_gz(path, "", 0);
    is_int(prt_ff_reader_open(rd, path), -1, "empty file refused");
    ok(strstr(prt_ff_reader_error(rd), "empty file") != NULL,
       "message: %s", prt_ff_reader_error(rd));

    path_in(path, sizeof(path), tmpdir, "missing.csv.gz");
    is_int(prt_ff_reader_open(rd, path), -1, "missing file refused");
    ok(strstr(prt_ff_reader_error(rd), "cannot open") != NULL,
       "message: %s", prt_ff_reader_error(rd));

    path_in(path, sizeof(path), tmpdir, "crlf.csv.gz");
    write_gz(path, crlf, sizeof(crlf) - 1);
    is_int(prt_ff_reader_open(rd, path), 0, "CRLF header accepted");
    is_int(prt_ff_reader_next(rd, &row), 1, "CRLF row read");

    path_in(path, sizeof(path), tmpdir, "plain.csv");
    write_plain(path, crlf, sizeof(crlf) - 1);
    is_int(prt_ff_reader_open(rd, path), 0, "uncompressed CSV accepted");
    is_int(prt_ff_reader_next(rd, &row), 1, "uncompressed row read");
    prt_ff_reader_free(rd);
}

static char *
numbered_rows(int count, size_t *len)
{
    char  *data = malloc((size_t) count * 64 + 128);
    size_t n = (size_t) sprintf(data, "%s", HEADER);
    int    i;

    for (i = 0; i < count; i++) {
        n += (size_t) sprintf(data + n, "T,%d,1.5,1.5,1.5,1.5,%lld,0\n", i,
                              (T0930 + 60LL * i) * NS);
    }
    *len = n;
    return data;
}

/* Reads a damaged copy; checks rows come in order and stop cleanly. */
static int
read_damaged(const char *name, const unsigned char *gz, size_t len,
    size_t *rows, int *in_order, char *err, size_t err_size)
{
    char              path[600];
    reports_t         rep;
    prt_ff_reader_t  *rd = new_reader(&rep, 10);
    prt_ff_row_t      row;
    int               rc;

    *in_order = 1;
    path_in(path, sizeof(path), tmpdir, name);
    write_plain(path, gz, len);
    *rows = 0;
    if (prt_ff_reader_open(rd, path) != 0) {
        snprintf(err, err_size, "%s", prt_ff_reader_error(rd));
        prt_ff_reader_free(rd);
        return -2;
    }
    while ((rc = prt_ff_reader_next(rd, &row)) == 1) {
        *in_order &= row.volume == (double) *rows;
        (*rows)++;
    }
    *in_order &= prt_ff_reader_stats(rd)->malformed == 0;
    *in_order &= prt_ff_reader_line(rd) == *rows + 1;
    snprintf(err, err_size, "%s", prt_ff_reader_error(rd));
    prt_ff_reader_free(rd);
    return rc;
}

static void
test_truncated_gzip(void)
{
    size_t          len, gz_len = 0, rows;
    char           *data = numbered_rows(20000, &len), err[1500], want[64];
    unsigned char  *gz = gzip_memory(data, len, &gz_len);
    int             rc, in_order;

    if (gz == NULL) {
        ok(0, "gzip in memory");
        free(data);
        return;
    }
    rc = read_damaged("cut.csv.gz", gz, gz_len / 2, &rows, &in_order, err,
                      sizeof(err));
    is_int(rc, -1, "truncated gzip is an error");
    ok(rows > 1000 && rows < 20000, "rows before the cut kept (%zu)", rows);
    ok(in_order, "they are the first rows, complete, none malformed");
    snprintf(want, sizeof(want), "truncated gzip stream after line %zu",
             rows + 1);
    ok(strstr(err, want) != NULL, "message: %s", err);

    rc = read_damaged("trailer.csv.gz", gz, gz_len - 4, &rows, &in_order,
                      err, sizeof(err));
    is_int(rc, -1, "missing gzip trailer is an error");
    ok(rows == 20000 && in_order, "every row before the missing trailer kept");

    gz[gz_len / 2] ^= 0x55;
    rc = read_damaged("corrupt.csv.gz", gz, gz_len, &rows, &in_order, err,
                      sizeof(err));
    ok(rc < 0 && rc != -3 && strstr(err, "corrupt gzip stream") != NULL
       && strstr(err, "incorrect data check") != NULL,
       "corrupt gzip is an error: %s", err);

    rc = read_damaged("header-cut.csv.gz", gz, 15, &rows, &in_order, err,
                      sizeof(err));
    is_int(rc, -2, "gzip cut inside the header: open fails (%s)", err);
    free(gz);
    free(data);
}

static void
test_calendar_helpers(void)
{
    prt_ff_row_t  row;
    prt_bar_t     bar;
    prt_day_t     day;

    memset(&row, 0, sizeof(row));
    row.start_ns = T0930 * NS;
    row.close = 10;
    row.transactions = 4;
    is_int(prt_ff_row_to_bar(&row, &day, &bar), 0, "09:30 EST bar");
    is_int(day, 19724, "2024-01-02 is day 19724");
    is_int(bar.minute, 570, "minute 570");
    ok(bar.close == 10 && bar.transactions == 4, "bar fields copied");
    row.start_ns = 1719840600LL * NS;    /* 2024-07-01 13:30Z = 09:30 EDT */
    prt_ff_row_to_bar(&row, &day, &bar);
    ok(day == 19905 && bar.minute == 570, "09:30 EDT bar (day %d min %d)",
       (int) day, (int) bar.minute);
    row.start_ns = (T0930 - 331 * 60) * NS;    /* 03:59 ET */
    is_int(prt_ff_row_to_bar(&row, &day, &bar), -1, "03:59 is outside");
    row.start_ns = (T0930 - 330 * 60) * NS;    /* 04:00 ET */
    is_int(prt_ff_row_to_bar(&row, &day, &bar), 0, "04:00 is inside");
    row.start_ns = (T0930 + 629 * 60) * NS;    /* 19:59 ET */
    ok(prt_ff_row_to_bar(&row, &day, &bar) == 0 && bar.minute == 1199,
       "19:59 is inside");
    row.start_ns = (T0930 + 630 * 60) * NS;    /* 20:00 ET */
    is_int(prt_ff_row_to_bar(&row, &day, &bar), -1, "20:00 is outside");

    ok(prt_ff_name_day("x/y/2024-01-02.csv.gz", &day) == 0 && day == 19724,
       "file name to day");
    ok(prt_ff_name_day("2024-02-30.csv.gz", &day) == -1
       && prt_ff_name_day("2024-01-02.csv", &day) == -1
       && prt_ff_name_day("2024-1-02.csv.gz", &day) == -1,
       "bad file names refused");
}

/* ------------------------------------------------------------------------ */
/* Generator                                                                */

/*
 * Six trading days from Sunday 2024-11-24: the 28th (Thanksgiving) and the
 * weekend are closed, the 29th closes early.
 */
#define GEN_FROM     "2024-11-24"
static const char  *gen_days[] = {
    "2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02",
    "2024-12-03",
};
static const int     gen_post_close[] = { 1200, 1200, 1200, 1020, 1200, 1200 };
#define GEN_DAYS     6
#define GEN_TICKERS  40

static char  gen_summary[512];      /* first line the last run printed */

/* Runs the command with its output captured, so TAP output stays clean. */
static int
run_generate(const char *dir, const char *seed, const char *tickers,
    const char *days, const char *from)
{
    char  *argv[] = { "generate", "--out", (char *) dir, "--tickers",
                      (char *) tickers, "--days", (char *) days, "--from",
                      (char *) from, "--seed", (char *) seed, NULL };
    char   path[600];
    int    rc, fd, saved, saved_err;
    FILE  *f;

    path_in(path, sizeof(path), tmpdir, "summary.txt");
    fflush(stdout);
    saved = dup(1);
    saved_err = dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    rc = prt_generate_command(11, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, 1);
    dup2(saved_err, 2);
    close(saved);
    close(saved_err);
    gen_summary[0] = '\0';
    f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(gen_summary, sizeof(gen_summary), f) == NULL) {
            gen_summary[0] = '\0';
        }
        fclose(f);
    }
    return rc;
}

static int
same_file(const char *a, const char *b)
{
    FILE  *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int    ca, cb, same = fa != NULL && fb != NULL;

    while (same) {
        ca = getc(fa);
        cb = getc(fb);
        same = ca == cb;
        if (ca == EOF) {
            break;
        }
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static int
count_files(const char *dir)
{
    DIR            *d = opendir(dir);
    struct dirent  *e;
    int             n = 0;

    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void
test_gen_determinism(char dirs[2][600])
{
    char  c[600], fa[PATH_BUF], fb[PATH_BUF];
    int   i, same = 1;

    path_in(dirs[0], 600, tmpdir, "gen-a");
    path_in(dirs[1], 600, tmpdir, "gen-b");
    path_in(c, sizeof(c), tmpdir, "gen-c");
    is_int(run_generate(dirs[0], "7", "40", "6", GEN_FROM), 0,
           "generate run 1");
    ok(strncmp(gen_summary, "generate: 6 files, ", 19) == 0
       && strstr(gen_summary, " rows, ") != NULL
       && strstr(gen_summary, dirs[0]) != NULL,
       "summary line: %.*s", (int) strcspn(gen_summary, "\n"), gen_summary);
    is_int(run_generate(dirs[1], "7", "40", "6", GEN_FROM), 0,
           "generate run 2");
    is_int(run_generate(c, "8", "40", "6", GEN_FROM), 0,
           "generate, other seed");
    is_int(count_files(dirs[0]), GEN_DAYS, "one file per trading day");
    for (i = 0; i < GEN_DAYS; i++) {
        snprintf(fa, sizeof(fa), "%s/%s.csv.gz", dirs[0], gen_days[i]);
        snprintf(fb, sizeof(fb), "%s/%s.csv.gz", dirs[1], gen_days[i]);
        same &= same_file(fa, fb);
    }
    ok(same, "same seed and arguments: byte-identical files");
    snprintf(fb, sizeof(fb), "%s/%s.csv.gz", c, gen_days[0]);
    ok(!same_file(fa, fb), "another seed gives other data");
    is_int(run_generate(c, "1", "0", "6", GEN_FROM), 2,
           "--tickers 0 refused");
    ok(strstr(gen_summary, "--tickers wants a whole number") != NULL,
       "with a reason: %.*s", (int) strcspn(gen_summary, "\n"), gen_summary);
    is_int(run_generate(c, "x", "5", "6", GEN_FROM), 2, "bad seed refused");
    is_int(run_generate(c, "1", "5", "6", "2024-13-01"), 2,
           "bad date refused");
}

/* Features of the generated data the downstream code must cope with. */
typedef struct {
    uint64_t  windows, contiguous, flat;
    double    vol_open, vol_mid, vol_close;
    uint64_t  n_open, n_mid, n_close;
} gen_traits_t;

static void
ticker_day_traits(const prt_bar_t *b, int n, gen_traits_t *t)
{
    int  i, j, flat;

    for (i = 0; i < n; i++) {
        if (b[i].minute >= 570 && b[i].minute < 600) {
            t->vol_open += b[i].volume;
            t->n_open++;
        } else if (b[i].minute >= 720 && b[i].minute < 780) {
            t->vol_mid += b[i].volume;
            t->n_mid++;
        } else if (b[i].minute >= 930 && b[i].minute < 960) {
            t->vol_close += b[i].volume;
            t->n_close++;
        }
        if (i < 29) {
            continue;
        }
        t->windows++;
        if (b[i].minute - b[i - 29].minute != 29) {
            continue;
        }
        t->contiguous++;
        flat = 1;
        for (j = i - 29; j < i; j++) {
            flat &= b[j].close == b[i].close;
        }
        t->flat += (uint64_t) flat;
    }
}

static int
on_tick(double price)
{
    double  units = price * (price >= 1 ? 100 : 10000);

    return fabs(units - round(units)) < 1e-6;
}

/* Checks one generated file; returns the number of problems found. */
static int
check_gen_file(const char *path, int post_close, gen_traits_t *traits,
    int *tickers)
{
    static prt_bar_t  bars[PRT_MINUTES_PER_DAY];
    reports_t         rep;
    prt_ff_reader_t  *rd = new_reader(&rep, 10);
    prt_ff_row_t      row, prev;
    prt_bar_t         bar;
    prt_day_t         day, file_day;
    int               bad = 0, n = 0, rc, cmp;

    prt_ff_name_day(path, &file_day);
    *tickers = 0;
    if (prt_ff_reader_open(rd, path) != 0) {
        prt_ff_reader_free(rd);
        return 1;
    }
    memset(&prev, 0, sizeof(prev));
    while ((rc = prt_ff_reader_next(rd, &row)) == 1) {
        cmp = strcmp(prev.ticker, row.ticker);
        bad += cmp > 0 || (cmp == 0 && prev.start_ns >= row.start_ns);
        bad += prt_ff_row_to_bar(&row, &day, &bar) != 0 || day != file_day
               || bar.minute >= post_close;
        bad += !on_tick(row.open) || !on_tick(row.close)
               || !on_tick(row.high) || !on_tick(row.low)
               || row.open < row.low || row.open > row.high
               || row.close < row.low || row.close > row.high
               || row.volume < 1 || row.transactions < 1;
        if (cmp != 0) {
            ticker_day_traits(bars, n, traits);
            n = 0;
            (*tickers)++;
        }
        if (n < PRT_MINUTES_PER_DAY) {
            bars[n++] = bar;
        }
        prev = row;
    }
    ticker_day_traits(bars, n, traits);
    bad += rc != 0;
    bad += (int) (prt_ff_reader_stats(rd)->malformed
                  + prt_ff_reader_stats(rd)->skipped);
    prt_ff_reader_free(rd);
    return bad;
}

static void
test_gen_validity(const char *dir)
{
    char          path[700];
    gen_traits_t  t;
    int           i, bad, tickers;
    prt_day_t     day;
    prt_trading_day_t info;

    memset(&t, 0, sizeof(t));
    for (i = 0; i < GEN_DAYS; i++) {
        snprintf(path, sizeof(path), "%s/%s.csv.gz", dir, gen_days[i]);
        prt_ff_name_day(path, &day);
        prt_calendar_day(day, &info);
        ok(info.trading && info.post_close == gen_post_close[i],
           "%s is a trading day ending at minute %d", gen_days[i],
           gen_post_close[i]);
        bad = check_gen_file(path, gen_post_close[i], &t, &tickers);
        is_int(bad, 0, "%s: parses clean, sorted, in session, on the tick",
               gen_days[i]);
        is_int(tickers, GEN_TICKERS, "%s: every ticker present", gen_days[i]);
    }
    printf("# windows %llu, contiguous %llu, flat %llu\n",
           (unsigned long long) t.windows, (unsigned long long) t.contiguous,
           (unsigned long long) t.flat);
    ok(t.contiguous > 0 && t.contiguous < t.windows,
       "some 30-bar windows have gaps, some do not");
    ok(t.flat > 0 && t.flat < t.contiguous / 5, "a few flat windows");
    ok(t.vol_open / t.n_open > 1.3 * t.vol_mid / t.n_mid
       && t.vol_close / t.n_close > 1.3 * t.vol_mid / t.n_mid,
       "volume U-shape: open %.0f, midday %.0f, close %.0f per bar",
       t.vol_open / t.n_open, t.vol_mid / t.n_mid, t.vol_close / t.n_close);
}

static void
test_gen_names(void)
{
    char      (*a)[PRT_TICKER_SIZE] = calloc(3000, PRT_TICKER_SIZE);
    uint32_t    i, bad = 0, dots = 0, lens[6] = { 0 };

    prt_gen_ticker_names(3, 3000, a);
    for (i = 0; i < 3000; i++) {
        bad += !prt_ff_ticker_valid(a[i], strlen(a[i]));
        bad += i > 0 && strcmp(a[i - 1], a[i]) >= 0;
        dots += strchr(a[i], '.') != NULL;
        lens[strcspn(a[i], ".") <= 5 ? strcspn(a[i], ".") : 0]++;
    }
    is_int(bad, 0, "3000 names valid, distinct, sorted");
    ok(dots > 20 && dots < 300, "a few class suffixes (%u)", dots);
    ok(lens[0] == 0 && lens[1] > 0 && lens[2] > 0 && lens[5] > 0
       && lens[3] + lens[4] > 1500, "names of 1-5 letters, mostly 3-4");
    free(a);
}

/* ------------------------------------------------------------------------ */
/* Structure: a nearest-neighbour forecast beats chance on held-out days    */

#define W        30
#define HORIZON  10
#define KNN      50

typedef struct {
    float   *x;        /* n * W features (SPEC §2.2) */
    int8_t  *up;       /* 1 up, 0 down */
    int     *day;
    size_t   n, cap;
} windows_t;

static void
add_window(windows_t *w, const float *x, int up, int day)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->x = realloc(w->x, w->cap * W * sizeof(float));
        w->up = realloc(w->up, w->cap);
        w->day = realloc(w->day, w->cap * sizeof(int));
    }
    memcpy(w->x + w->n * W, x, W * sizeof(float));
    w->up[w->n] = (int8_t) up;
    w->day[w->n] = day;
    w->n++;
}

/* Close of the latest bar starting at or before minute u (SPEC §2.3). */
static double
close_at(const prt_bar_t *b, int n, int from, int u)
{
    int  i = from;

    while (i + 1 < n && b[i + 1].minute <= u) {
        i++;
    }
    return b[i].close;
}

static void
ticker_day_windows(const prt_bar_t *b, int n, int post_close, int day,
    windows_t *w)
{
    float   x[W];
    double  r[W - 1], mean, var, sd, fut;
    int     i, j;

    for (i = W - 1; i < n; i += 3) {
        if (b[i].minute - b[i - W + 1].minute != W - 1
            || b[i].minute + HORIZON >= post_close)
        {
            continue;
        }
        mean = var = 0;
        for (j = 0; j < W - 1; j++) {
            r[j] = log(b[i - W + 2 + j].close / b[i - W + 1 + j].close);
            mean += r[j] / (W - 1);
        }
        for (j = 0; j < W - 1; j++) {
            var += (r[j] - mean) * (r[j] - mean) / (W - 1);
        }
        sd = sqrt(var);
        fut = close_at(b, n, i, b[i].minute + HORIZON) / b[i].close - 1;
        if (!(sd > 0) || fut == 0) {
            continue;
        }
        for (j = 0; j < W; j++) {
            x[j] = (float) (log(b[i - W + 1 + j].close / b[i].close)
                            / (sd * sqrt(W)));
        }
        add_window(w, x, fut > 0, day);
    }
}

static int
collect_windows(const char *path, int day, windows_t *w)
{
    static prt_bar_t  bars[PRT_MINUTES_PER_DAY];
    prt_ff_reader_t  *rd = prt_ff_reader_new(NULL);
    prt_ff_row_t      row;
    char              cur[PRT_TICKER_SIZE] = "";
    prt_day_t         d;
    int               n = 0, rc;

    if (rd == NULL || prt_ff_reader_open(rd, path) != 0) {
        prt_ff_reader_free(rd);
        return -1;
    }
    while ((rc = prt_ff_reader_next(rd, &row)) == 1) {
        if (strcmp(cur, row.ticker) != 0) {
            ticker_day_windows(bars, n, PRT_POST_CLOSE_MIN, day, w);
            memcpy(cur, row.ticker, sizeof(cur));
            n = 0;
        }
        if (n < PRT_MINUTES_PER_DAY && prt_ff_row_to_bar(&row, &d, &bars[n])
                                       == 0)
        {
            n++;
        }
    }
    ticker_day_windows(bars, n, PRT_POST_CLOSE_MIN, day, w);
    prt_ff_reader_free(rd);
    return rc;
}

/* Fraction of the k nearest training windows that went up. */
static double
knn_up(const windows_t *w, size_t n_train, const float *q)
{
    float   best_d[KNN];
    int8_t  best_up[KNN];
    size_t  i;
    int     j, k, have = 0, up = 0;

    for (i = 0; i < n_train; i++) {
        const float  *x = w->x + i * W;
        float         d = 0;

        for (j = 0; j < W; j++) {
            d += (x[j] - q[j]) * (x[j] - q[j]);
        }
        if (have == KNN && d >= best_d[KNN - 1]) {
            continue;
        }
        k = have < KNN ? have++ : KNN - 1;
        while (k > 0 && best_d[k - 1] > d) {
            best_d[k] = best_d[k - 1];
            best_up[k] = best_up[k - 1];
            k--;
        }
        best_d[k] = d;
        best_up[k] = w->up[i];
    }
    for (j = 0; j < have; j++) {
        up += best_up[j];
    }
    return (double) up / have;
}

static void
test_gen_structure(void)
{
    char       dir[600], path[700], date[16];
    windows_t  w = { 0 };
    int64_t    day;
    size_t     n_train, i, hits = 0, tests = 0, ups = 0;
    int        d, fails = 0;
    double     p, base;

    path_in(dir, sizeof(dir), tmpdir, "gen-knn");
    is_int(run_generate(dir, "11", "40", "12", "2024-03-04"), 0,
           "generate 12 days for the forecast check");
    prt_parse_date("2024-03-04", 10, &day);
    for (d = 0; d < 12; d++, day = prt_next_trading_day(day)) {
        prt_format_date(day, date, sizeof(date));
        snprintf(path, sizeof(path), "%s/%s.csv.gz", dir, date);
        fails += collect_windows(path, d, &w) != 0;
    }
    is_int(fails, 0, "generated files read back");
    for (n_train = 0; n_train < w.n && w.day[n_train] < 9; n_train++) {
    }
    for (i = n_train; i < w.n; i += 3) {
        p = knn_up(&w, n_train, w.x + i * W);
        hits += (p > 0.5) == (w.up[i] == 1);
        ups += w.up[i];
        tests++;
    }
    base = (double) ups / tests;
    base = base > 0.5 ? base : 1 - base;
    printf("# %zu training windows, %zu held-out queries: accuracy %.4f,"
           " majority class %.4f\n", n_train, tests,
           (double) hits / tests, base);
    ok(tests > 1000 && (double) hits / tests > base + 0.02,
       "k-NN on normalised 30-minute shapes beats chance on held-out days");
    free(w.x);
    free(w.up);
    free(w.day);
}

/* ------------------------------------------------------------------------ */
/* Real files                                                               */

/* The nearest ancestor of buf (inclusive) holding engine/data/bar.h. */
static int
find_root_above(char *buf)
{
    char  probe[1100];
    int   depth;

    for (depth = 0; depth < 8; depth++) {
        snprintf(probe, sizeof(probe), "%s/engine/data/bar.h", buf);
        if (access(probe, F_OK) == 0) {
            return 0;
        }
        char  *slash = strrchr(buf, '/');

        if (slash == NULL || slash == buf) {
            return -1;
        }
        *slash = '\0';
    }
    return -1;
}

/* The repository root, above the working directory or this executable. */
static int
find_repo_root(char *buf, size_t size)
{
    ssize_t  n;

    if (getcwd(buf, size) != NULL && find_root_above(buf) == 0) {
        return 0;
    }
    n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    return find_root_above(buf);
}

typedef struct {
    int       files, failed;
    uint64_t  rows, bad_rows;
} real_tally_t;

static void
check_real_file(const char *path, real_tally_t *t)
{
    reports_t         rep;
    prt_ff_reader_t  *rd = new_reader(&rep, 3);
    prt_ff_row_t      row, prev;
    prt_bar_t         bar;
    prt_day_t         day, file_day;
    int               rc, cmp;

    t->files++;
    if (prt_ff_name_day(path, &file_day) != 0
        || prt_ff_reader_open(rd, path) != 0)
    {
        printf("#   %s: %s\n", path, prt_ff_reader_error(rd));
        t->failed++;
        prt_ff_reader_free(rd);
        return;
    }
    memset(&prev, 0, sizeof(prev));
    while ((rc = prt_ff_reader_next(rd, &row)) == 1) {
        cmp = strcmp(prev.ticker, row.ticker);
        t->bad_rows += cmp > 0 || (cmp == 0 && prev.start_ns >= row.start_ns)
                       || prt_ff_row_to_bar(&row, &day, &bar) != 0
                       || day != file_day;
        t->rows++;
        prev = row;
    }
    t->bad_rows += prt_ff_reader_stats(rd)->malformed
                   + prt_ff_reader_stats(rd)->skipped;
    if (rc != 0 || rep.n > 0) {
        printf("#   %s: %s\n", path, rep.n ? rep.msg[0] : "read error");
        t->failed += rc != 0;
    }
    prt_ff_reader_free(rd);
}

static void
check_real_folder(const char *dir, const char *name)
{
    char            sub[1400], path[1700];
    DIR            *d;
    struct dirent  *e;
    real_tally_t    t = { 0, 0, 0, 0 };

    snprintf(sub, sizeof(sub), "%s/%s", dir, name);
    d = opendir(sub);
    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        size_t  len = strlen(e->d_name);

        if (len > 7 && strcmp(e->d_name + len - 7, ".csv.gz") == 0) {
            snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
            check_real_file(path, &t);
        }
    }
    closedir(d);
    if (t.files == 0) {
        return;
    }
    ok(t.failed == 0 && t.bad_rows == 0 && t.rows > 0,
       "real data %s: %d files, %llu rows, %llu bad rows, %d failed files",
       name, t.files, (unsigned long long) t.rows,
       (unsigned long long) t.bad_rows, t.failed);
}

static void
test_real_data(void)
{
    char            root[1024], dir[1100];
    const char     *env = getenv("PRT_REAL_DATA");
    DIR            *d;
    struct dirent  *e;

    if (env != NULL && env[0] != '\0') {
        snprintf(dir, sizeof(dir), "%s", env);
    } else if (find_repo_root(root, sizeof(root)) == 0) {
        snprintf(dir, sizeof(dir), "%s/../shared/data/real", root);
    } else {
        snprintf(dir, sizeof(dir), "../shared/data/real");
    }
    d = opendir(dir);
    if (d == NULL) {
        ok(1, "real data # SKIP no folder at %s (set PRT_REAL_DATA)", dir);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            check_real_folder(dir, e->d_name);
        }
    }
    closedir(d);
}

int
main(void)
{
    const char  *base = getenv("TMPDIR");
    char         gen_dirs[2][600];

    snprintf(tmpdir, sizeof(tmpdir), "%s/prt-flatfile-XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        printf("Bail out! cannot create %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }
    prt_log_set_level(PRT_LOG_ERROR);
    test_doubles_edges();
    test_doubles_random();
    test_doubles_prices();
    test_parse_row();
    test_malformed_rows();
    test_report_limit();
    test_huge_line();
    test_header_errors();
    test_truncated_gzip();
    test_calendar_helpers();
    test_gen_names();
    test_gen_determinism(gen_dirs);
    test_gen_validity(gen_dirs[0]);
    test_gen_structure();
    test_real_data();
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return done_testing();
}
