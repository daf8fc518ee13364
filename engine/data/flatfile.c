/*
 * Streaming reader for Polygon minute_aggs_v1 flat files (see flatfile.h).
 *
 * Speed matters here (ingest target: >= 1M bars/s), so lines are split in a
 * large buffer with memchr and numbers are parsed by hand; strtod is only the
 * fallback for inputs the exact fast path cannot handle.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "data/flatfile.h"

#define FF_FIELDS       8
/* Decompressed bytes per refill. The fuzzer builds with a small value so
 * that small inputs reach the refill and long-line paths. */
#ifndef FF_BUF_SIZE
#define FF_BUF_SIZE     (1u << 20)
#endif
#define FF_GZ_BUF_SIZE  (256u << 10)   /* zlib's compressed-input buffer */
#define FF_PATH_MAX     1024
#define FF_SNIPPET_MAX  80              /* bytes of a bad row shown */
#define FF_SNIPPET_SIZE (FF_SNIPPET_MAX * 4 + 8)    /* escaped as \xNN */
#define FF_MSG_MAX      (FF_PATH_MAX + FF_SNIPPET_SIZE + 256)
/*
 * An unfinished line is declared too long once more than LINE_MAX + 1 bytes
 * are pending (the + 1 leaves room for a '\r' before the '\n'); that many
 * bytes of it are kept for the report and the rest is dropped.
 */
#define FF_LONG_KEEP    (PRT_FF_LINE_MAX + 2)

_Static_assert(FF_BUF_SIZE >= 2 * FF_LONG_KEEP,
               "the buffer must hold a kept prefix and new data");

/*
 * Doubles hold integers up to 2^53 exactly and 10^0..10^22 exactly, so for a
 * mantissa m <= 2^53 and |e| <= 22, m * 10^e (or m / 10^-e) is a single IEEE
 * operation on exact operands: correctly rounded, hence equal to strtod
 * (Clinger's fast path). x86-64 evaluates doubles in SSE registers
 * (FLT_EVAL_METHOD 0), so there is no double rounding through x87.
 */
#if FLT_EVAL_METHOD != 0
#error "the exact fast path needs double arithmetic without excess precision"
#endif
#define FF_EXACT_MANTISSA  (1ULL << 53)
#define FF_EXACT_POW10     22
#define FF_MAX_DIGITS      19          /* fit in uint64_t without overflow */
#define FF_EXP_CAP         100000      /* beyond any double; stops overflow */

static const double ff_pow10[FF_EXACT_POW10 + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static const char *ff_status_names[PRT_FF_STATUS_COUNT] = {
    [PRT_FF_OK]         = "ok",
    [PRT_FF_SKIPPED]    = "ticker outside ^[A-Z][A-Z0-9.-]{0,9}$",
    [PRT_FF_E_LONG]     = "row too long",
    [PRT_FF_E_FIELDS]   = "wrong field count",
    [PRT_FF_E_TICKER]   = "empty or unprintable ticker",
    [PRT_FF_E_NUMBER]   = "non-numeric field",
    [PRT_FF_E_PRICE]    = "price not finite and positive",
    [PRT_FF_E_VOLUME]   = "volume not finite and non-negative",
    [PRT_FF_E_HIGH_LOW] = "high below low",
    [PRT_FF_E_TIME]     = "window_start not a whole minute",
};

struct prt_ff_reader_s {
    prt_ff_options_t  opt;
    gzFile            gz;
    char             *buf;
    size_t            pos;         /* start of the current line */
    size_t            scan;        /* where the newline search resumes */
    size_t            end;         /* end of decompressed data */
    int               eof;
    int               discarding;  /* inside a line longer than the limit */
    int               line_long;   /* the line handed out was too long */
    uint64_t          line;        /* physical line number, header = 1 */
    uint64_t          reported_malformed;
    uint64_t          reported_skipped;
    prt_ff_stats_t    stats;
    char              path[FF_PATH_MAX];
    char              error[FF_MSG_MAX];
};

/* ------------------------------------------------------------------------ */
/* Numbers                                                                  */

/*
 * Digits past the first FF_MAX_DIGITS significant ones are dropped; then the
 * mantissa is >= 10^18 > 2^53, so such inputs always take the strtod path
 * and the dropped digits never make the fast path inexact.
 */
typedef struct {
    uint64_t  mantissa;     /* first FF_MAX_DIGITS significant digits */
    int       exp10;        /* value ~ mantissa * 10^exp10 */
    int       digits;       /* significant digits kept */
    int       any;          /* at least one digit seen */
} ff_decimal_t;

static void
ff_add_digit(ff_decimal_t *d, unsigned digit, int fraction)
{
    d->any = 1;
    if (d->mantissa == 0 && digit == 0) {
        /* leading zeros are not significant */
        d->exp10 -= fraction;
        return;
    }
    if (d->digits < FF_MAX_DIGITS) {
        d->mantissa = d->mantissa * 10 + digit;
        d->digits++;
        d->exp10 -= fraction;
        return;
    }
    d->exp10 += !fraction;
}

/* Scans the exponent part; returns the position after it or NULL. */
static const char *
ff_scan_exponent(const char *p, const char *end, int *exp10)
{
    int  neg = 0, value = 0;

    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p++ == '-';
    }
    if (p == end || (unsigned) (*p - '0') > 9) {
        return NULL;
    }
    for (; p < end && (unsigned) (*p - '0') <= 9; p++) {
        if (value < FF_EXP_CAP) {
            value = value * 10 + (*p - '0');
        }
    }
    *exp10 = neg ? -value : value;
    return p;
}

/* Scans the whole field into *d; -1 when it is not a decimal number. */
static int
ff_scan_decimal(const char *p, const char *end, ff_decimal_t *d, int *neg)
{
    int  exp10 = 0;

    *neg = 0;
    if (p < end && (*p == '+' || *p == '-')) {
        *neg = *p++ == '-';
    }
    for (; p < end && (unsigned) (*p - '0') <= 9; p++) {
        ff_add_digit(d, (unsigned) (*p - '0'), 0);
    }
    if (p < end && *p == '.') {
        for (p++; p < end && (unsigned) (*p - '0') <= 9; p++) {
            ff_add_digit(d, (unsigned) (*p - '0'), 1);
        }
    }
    if (!d->any) {
        return -1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p = ff_scan_exponent(p + 1, end, &exp10);
        if (p == NULL) {
            return -1;
        }
        d->exp10 += exp10;
    }
    return p == end ? 0 : -1;
}

/* The slow but always exact path; len <= PRT_FF_LINE_MAX (checked). */
static int
ff_strtod(const char *s, size_t len, double *out)
{
    char   copy[PRT_FF_LINE_MAX + 1];
    char  *end;

    memcpy(copy, s, len);
    copy[len] = '\0';
    *out = strtod(copy, &end);
    return end == copy + len ? 0 : -1;
}

int
prt_ff_parse_double(const char *s, size_t len, double *out)
{
    ff_decimal_t  d = {0, 0, 0, 0};
    double        v;
    int           neg;

    /* the bound also keeps exp10 far from int overflow */
    if (len > PRT_FF_LINE_MAX || ff_scan_decimal(s, s + len, &d, &neg) != 0) {
        return -1;
    }
    if (d.mantissa > FF_EXACT_MANTISSA
        || d.exp10 < -FF_EXACT_POW10 || d.exp10 > FF_EXACT_POW10)
    {
        if (d.mantissa == 0) {
            *out = neg ? -0.0 : 0.0;    /* "0e400" is still zero */
            return 0;
        }
        return ff_strtod(s, len, out);
    }
    v = (double) d.mantissa;
    v = d.exp10 < 0 ? v / ff_pow10[-d.exp10] : v * ff_pow10[d.exp10];
    *out = neg ? -v : v;
    return 0;
}

/* Plain unsigned decimal integer no larger than max. */
static int
ff_parse_uint(const char *p, const char *end, uint64_t max, uint64_t *out)
{
    uint64_t  v = 0;
    unsigned  digit;

    if (p == end) {
        return -1;
    }
    for (; p < end; p++) {
        digit = (unsigned) (*p - '0');
        if (digit > 9 || v > (max - digit) / 10) {
            return -1;
        }
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Rows                                                                     */

int
prt_ff_ticker_valid(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > PRT_TICKER_LEN || s[0] < 'A' || s[0] > 'Z') {
        return 0;
    }
    for (i = 1; i < len; i++) {
        char  c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '-'))
        {
            return 0;
        }
    }
    return 1;
}

/* Ticker text that is at least printable (0x21-0x7e) and non-empty. */
static int
ff_ticker_printable(const char *s, size_t len)
{
    size_t  i;

    if (len == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x21 || (unsigned char) s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

typedef struct {
    const char  *s;
    size_t       len;
} ff_field_t;

/* Splits into exactly FF_FIELDS comma-separated fields. */
static int
ff_split(const char *line, size_t len, ff_field_t f[FF_FIELDS])
{
    const char  *p = line, *end = line + len, *comma;
    int          n = 0;

    while ((comma = memchr(p, ',', (size_t) (end - p))) != NULL) {
        if (n == FF_FIELDS - 1) {
            return -1;
        }
        f[n].s = p;
        f[n++].len = (size_t) (comma - p);
        p = comma + 1;
    }
    if (n != FF_FIELDS - 1) {
        return -1;
    }
    f[n].s = p;
    f[n].len = (size_t) (end - p);
    return 0;
}

static int
ff_field_double(const ff_field_t *f, double *out)
{
    return prt_ff_parse_double(f->s, f->len, out);
}

static int
ff_field_uint(const ff_field_t *f, uint64_t max, uint64_t *out)
{
    return ff_parse_uint(f->s, f->s + f->len, max, out);
}

static int
ff_price_ok(double v)
{
    return isfinite(v) && v > 0;
}

/* Field order: ticker,volume,open,close,high,low,window_start,transactions */
static prt_ff_status_t
ff_parse_numbers(const ff_field_t f[FF_FIELDS], prt_ff_row_t *row)
{
    uint64_t  start, transactions;

    if (ff_field_double(&f[1], &row->volume) != 0
        || ff_field_double(&f[2], &row->open) != 0
        || ff_field_double(&f[3], &row->close) != 0
        || ff_field_double(&f[4], &row->high) != 0
        || ff_field_double(&f[5], &row->low) != 0
        || ff_field_uint(&f[6], INT64_MAX, &start) != 0
        || ff_field_uint(&f[7], UINT32_MAX, &transactions) != 0)
    {
        return PRT_FF_E_NUMBER;
    }
    if (!ff_price_ok(row->open) || !ff_price_ok(row->close)
        || !ff_price_ok(row->high) || !ff_price_ok(row->low))
    {
        return PRT_FF_E_PRICE;
    }
    if (!isfinite(row->volume) || row->volume < 0) {
        return PRT_FF_E_VOLUME;
    }
    if (row->high < row->low) {
        return PRT_FF_E_HIGH_LOW;
    }
    if (start % PRT_FF_NS_PER_MINUTE != 0) {
        return PRT_FF_E_TIME;
    }
    row->start_ns = (int64_t) start;
    row->transactions = (uint32_t) transactions;
    return PRT_FF_OK;
}

/*
 * A row whose ticker merely falls outside the symbol pattern is still checked
 * in full first, so "skipped" always means a sound bar of an instrument we do
 * not track, and "malformed" always means broken data.
 */
prt_ff_status_t
prt_ff_parse_row(const char *line, size_t len, prt_ff_row_t *row)
{
    ff_field_t        f[FF_FIELDS];
    prt_ff_status_t   st;

    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len > PRT_FF_LINE_MAX) {
        return PRT_FF_E_LONG;
    }
    if (ff_split(line, len, f) != 0) {
        return PRT_FF_E_FIELDS;
    }
    if (!ff_ticker_printable(f[0].s, f[0].len)) {
        return PRT_FF_E_TICKER;
    }
    st = ff_parse_numbers(f, row);
    if (st != PRT_FF_OK) {
        return st;
    }
    if (!prt_ff_ticker_valid(f[0].s, f[0].len)) {
        return PRT_FF_SKIPPED;
    }
    memset(row->ticker, 0, sizeof(row->ticker));
    memcpy(row->ticker, f[0].s, f[0].len);
    return PRT_FF_OK;
}

const char *
prt_ff_status_name(prt_ff_status_t st)
{
    if ((unsigned) st >= PRT_FF_STATUS_COUNT) {
        return "unknown";
    }
    return ff_status_names[st];
}

/* ------------------------------------------------------------------------ */
/* Calendar helpers                                                         */

int
prt_ff_row_to_bar(const prt_ff_row_t *row, prt_day_t *day, prt_bar_t *bar)
{
    int64_t  t = row->start_ns / 1000000000LL;
    int64_t  minute;

    *day = prt_ny_day_of_utc(t);
    minute = (t - prt_ny_day_start_utc(*day)) / 60;
    if (minute < PRT_MINUTE_FIRST || minute > PRT_MINUTE_LAST) {
        return -1;
    }
    bar->minute = (int32_t) minute;
    bar->transactions = row->transactions;
    bar->open = row->open;
    bar->high = row->high;
    bar->low = row->low;
    bar->close = row->close;
    bar->volume = row->volume;
    return 0;
}

int
prt_ff_name_day(const char *path, prt_day_t *day)
{
    static const char  suffix[] = ".csv.gz";
    const char        *name = strrchr(path, '/');
    int64_t            days;

    name = name ? name + 1 : path;
    if (strlen(name) != 10 + sizeof(suffix) - 1
        || strcmp(name + 10, suffix) != 0
        || prt_parse_date(name, 10, &days) != 0)
    {
        return -1;
    }
    *day = (prt_day_t) days;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reports                                                                  */

static void
ff_report_log(void *ctx, const char *path, uint64_t line, const char *msg)
{
    prt_warn("%s", msg);
}

static void
ff_report(prt_ff_reader_t *r, uint64_t line, const char *msg)
{
    r->opt.report(r->opt.report_ctx, r->path, line, msg);
}

/* Bounded copy of untrusted bytes for a message, non-printables as \xNN. */
static void
ff_snippet(char *dst, size_t size, const char *s, size_t len)
{
    static const char  hex[] = "0123456789abcdef";
    size_t             o = 0, i;

    for (i = 0; i < len && i < FF_SNIPPET_MAX && o + 5 < size; i++) {
        unsigned char  c = (unsigned char) s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            dst[o++] = (char) c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    if (i < len && o + 4 < size) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static void
ff_report_row(prt_ff_reader_t *r, prt_ff_status_t st, const char *line,
    size_t len)
{
    uint64_t  *reported;
    char       text[FF_SNIPPET_SIZE];
    char       msg[FF_MSG_MAX];

    reported = st == PRT_FF_SKIPPED ? &r->reported_skipped
                                    : &r->reported_malformed;
    if (*reported >= r->opt.report_max) {
        return;
    }
    (*reported)++;
    ff_snippet(text, sizeof(text), line, len);
    snprintf(msg, sizeof(msg), "%s:%llu: %s row (%s): %s", r->path,
             (unsigned long long) r->line,
             st == PRT_FF_SKIPPED ? "skipped" : "malformed",
             prt_ff_status_name(st), text);
    ff_report(r, r->line, msg);
}

__attribute__((format(printf, 2, 3)))
static void
ff_fail(prt_ff_reader_t *r, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    n = snprintf(r->error, sizeof(r->error), "%s: ", r->path);
    if (n < 0 || (size_t) n >= sizeof(r->error)) {
        n = 0;
    }
    va_start(ap, fmt);
    vsnprintf(r->error + n, sizeof(r->error) - (size_t) n, fmt, ap);
    va_end(ap);
    ff_report(r, r->line, r->error);
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                    */

/* zlib prefixes its messages with the path, which ours already carry. */
static const char *
ff_gz_message(prt_ff_reader_t *r, int *errnum)
{
    const char  *msg = gzerror(r->gz, errnum);
    size_t       len = strlen(r->path);

    if (strncmp(msg, r->path, len) == 0 && strncmp(msg + len, ": ", 2) == 0) {
        msg += len + 2;
    }
    return msg;
}

/*
 * Why the stream stopped; -1 unless it ended cleanly. zlib keeps the data
 * inflated before a truncation but drops the chunk in which it detects
 * corruption, so a corrupt file may end earlier than the damage itself.
 */
static int
ff_check_stream(prt_ff_reader_t *r)
{
    int          errnum;
    const char  *msg = ff_gz_message(r, &errnum);

    if (errnum == Z_OK) {
        return 0;
    }
    if (errnum == Z_BUF_ERROR) {
        ff_fail(r, "truncated gzip stream after line %llu",
                (unsigned long long) r->line);
    } else if (errnum == Z_ERRNO) {
        ff_fail(r, "read error after line %llu: %s",
                (unsigned long long) r->line, strerror(errno));
    } else {
        ff_fail(r, "corrupt gzip stream after line %llu: %s",
                (unsigned long long) r->line, msg);
    }
    return -1;
}

/*
 * Moves the unfinished line to the front and appends more data. Of a line
 * longer than the limit only a prefix is kept (for the report); the rest is
 * dropped as it streams by.
 */
static int
ff_refill(prt_ff_reader_t *r)
{
    size_t  keep = r->end - r->pos;
    int     n;

    if (r->discarding || keep >= FF_LONG_KEEP) {
        keep = FF_LONG_KEEP;
        r->discarding = 1;
    }
    memmove(r->buf, r->buf + r->pos, keep);
    r->pos = 0;
    r->scan = r->end = keep;
    n = gzread(r->gz, r->buf + r->end, (unsigned) (FF_BUF_SIZE - r->end));
    if (n > 0) {
        r->end += (size_t) n;
        return 0;
    }
    r->eof = 1;
    return ff_check_stream(r);
}

/* Hands out [pos, end) (or the kept prefix of a long line) as a line. */
static void
ff_take_line(prt_ff_reader_t *r, size_t end, const char **line, size_t *len)
{
    *line = r->buf + r->pos;
    *len = r->discarding ? FF_LONG_KEEP : end - r->pos;
    r->line_long = r->discarding;
    r->discarding = 0;
    r->line++;
}

/* 1: a line (without '\n'); 0: clean end; -1: damaged stream. */
static int
ff_next_line(prt_ff_reader_t *r, const char **line, size_t *len)
{
    char  *nl;

    for ( ;; ) {
        nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
        if (nl != NULL) {
            ff_take_line(r, (size_t) (nl - r->buf), line, len);
            r->pos = r->scan = (size_t) (nl - r->buf) + 1;
            return 1;
        }
        if (r->eof) {
            break;
        }
        if (ff_refill(r) != 0) {
            r->pos = r->scan = r->end;  /* never use a partial last line */
            return -1;
        }
    }
    if (r->pos == r->end) {
        return 0;
    }
    /* the last line has no newline */
    ff_take_line(r, r->end, line, len);
    r->pos = r->scan = r->end;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */

prt_ff_reader_t *
prt_ff_reader_new(const prt_ff_options_t *opt)
{
    prt_ff_reader_t  *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    r->buf = malloc(FF_BUF_SIZE);
    if (r->buf == NULL) {
        free(r);
        return NULL;
    }
    if (opt != NULL) {
        r->opt = *opt;
    } else {
        r->opt.report_max = PRT_FF_REPORT_DEFAULT;
    }
    if (r->opt.report == NULL) {
        r->opt.report = ff_report_log;
    }
    return r;
}

void
prt_ff_reader_free(prt_ff_reader_t *r)
{
    if (r == NULL) {
        return;
    }
    prt_ff_reader_close(r);
    free(r->buf);
    free(r);
}

static void
ff_reset(prt_ff_reader_t *r, const char *path)
{
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->pos = r->scan = r->end = 0;
    r->eof = r->discarding = r->line_long = 0;
    r->line = 0;
    r->reported_malformed = r->reported_skipped = 0;
    memset(&r->stats, 0, sizeof(r->stats));
    r->error[0] = '\0';
}

static int
ff_check_header(prt_ff_reader_t *r)
{
    const char  *line;
    size_t       len;
    char         text[FF_SNIPPET_SIZE];
    int          rc = ff_next_line(r, &line, &len);

    if (rc < 0) {
        return -1;
    }
    if (rc == 0) {
        ff_fail(r, "empty file, expected the header \"%s\"", PRT_FF_HEADER);
        return -1;
    }
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len != sizeof(PRT_FF_HEADER) - 1
        || memcmp(line, PRT_FF_HEADER, len) != 0)
    {
        ff_snippet(text, sizeof(text), line, len);
        ff_fail(r, "wrong header \"%s\", expected \"%s\"", text,
                PRT_FF_HEADER);
        return -1;
    }
    return 0;
}

int
prt_ff_reader_open(prt_ff_reader_t *r, const char *path)
{
    prt_ff_reader_close(r);
    ff_reset(r, path);
    r->gz = gzopen(path, "rb");
    if (r->gz == NULL) {
        ff_fail(r, "cannot open: %s",
                errno ? strerror(errno) : "out of memory");
        return -1;
    }
    if (gzbuffer(r->gz, FF_GZ_BUF_SIZE) != 0 || ff_check_header(r) != 0) {
        if (r->error[0] == '\0') {
            ff_fail(r, "cannot set the gzip buffer size");
        }
        gzclose(r->gz);
        r->gz = NULL;
        return -1;
    }
    return 0;
}

static int
ff_accept(prt_ff_reader_t *r, const char *line, size_t len, prt_ff_row_t *row)
{
    prt_ff_status_t  st;

    st = r->line_long ? PRT_FF_E_LONG : prt_ff_parse_row(line, len, row);

    r->stats.lines++;
    r->stats.by_status[st]++;
    if (st == PRT_FF_OK) {
        r->stats.rows++;
        return 1;
    }
    if (st == PRT_FF_SKIPPED) {
        r->stats.skipped++;
    } else {
        r->stats.malformed++;
    }
    ff_report_row(r, st, line, len);
    return 0;
}

int
prt_ff_reader_next(prt_ff_reader_t *r, prt_ff_row_t *row)
{
    const char  *line;
    size_t       len;
    int          rc;

    if (r->gz == NULL) {
        return 0;
    }
    for ( ;; ) {
        rc = ff_next_line(r, &line, &len);
        if (rc <= 0) {
            return rc;
        }
        if (ff_accept(r, line, len, row)) {
            return 1;
        }
    }
}

static void
ff_report_unreported(prt_ff_reader_t *r)
{
    uint64_t  malformed = r->stats.malformed - r->reported_malformed;
    uint64_t  skipped = r->stats.skipped - r->reported_skipped;
    char      msg[FF_MSG_MAX];

    if (malformed == 0 && skipped == 0) {
        return;
    }
    snprintf(msg, sizeof(msg),
             "%s: %llu more malformed and %llu more skipped rows not reported"
             " (%llu malformed, %llu skipped in all)", r->path,
             (unsigned long long) malformed, (unsigned long long) skipped,
             (unsigned long long) r->stats.malformed,
             (unsigned long long) r->stats.skipped);
    ff_report(r, r->line, msg);
}

void
prt_ff_reader_close(prt_ff_reader_t *r)
{
    if (r->gz == NULL) {
        return;
    }
    ff_report_unreported(r);
    gzclose(r->gz);
    r->gz = NULL;
}

const prt_ff_stats_t *
prt_ff_reader_stats(const prt_ff_reader_t *r)
{
    return &r->stats;
}

const char *
prt_ff_reader_error(const prt_ff_reader_t *r)
{
    return r->error;
}

uint64_t
prt_ff_reader_line(const prt_ff_reader_t *r)
{
    return r->line;
}
