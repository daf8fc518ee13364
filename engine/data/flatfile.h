/*
 * Reader for Polygon "minute_aggs_v1" flat files (SPEC §2.1).
 *
 * One gzip CSV per trading day, named YYYY-MM-DD.csv.gz, with the header
 *
 *     ticker,volume,open,close,high,low,window_start,transactions
 *
 * The reader streams: it holds one fixed buffer and hands out one row at a
 * time, so a file of any size is read in constant memory. Bad rows are never
 * fatal: each is counted by kind and the first few per file are reported with
 * file and line; the caller only ever sees valid rows. A wrong header or a
 * damaged gzip stream ends that file with an error message; rows returned
 * before the damage stay valid.
 *
 * The row parser and the number parser are exposed as pure functions so the
 * fuzzer (fuzz/fuzz_flatfile.c) can drive them directly.
 */
#ifndef PRT_FLATFILE_H
#define PRT_FLATFILE_H

#include <stddef.h>
#include <stdint.h>

#include "data/bar.h"

#define PRT_FF_HEADER \
    "ticker,volume,open,close,high,low,window_start,transactions"

/* Real rows are under 80 bytes; anything past this is not a bar. */
#define PRT_FF_LINE_MAX        512
#define PRT_FF_REPORT_DEFAULT  10      /* row problems reported per file */
#define PRT_FF_NS_PER_MINUTE   60000000000LL

typedef struct {
    char      ticker[PRT_TICKER_SIZE];   /* NUL-padded */
    int64_t   start_ns;                  /* bar start, Unix ns UTC */
    double    open;
    double    high;
    double    low;
    double    close;
    double    volume;
    uint32_t  transactions;
} prt_ff_row_t;

/* What the row parser found. Everything after PRT_FF_SKIPPED is malformed. */
typedef enum {
    PRT_FF_OK = 0,
    PRT_FF_SKIPPED,        /* well-formed, ticker outside the symbol pattern */
    PRT_FF_E_LONG,         /* longer than PRT_FF_LINE_MAX */
    PRT_FF_E_FIELDS,       /* not exactly 8 comma-separated fields */
    PRT_FF_E_TICKER,       /* empty or not printable ASCII */
    PRT_FF_E_NUMBER,       /* a numeric field that does not parse */
    PRT_FF_E_PRICE,        /* a price that is not finite and > 0 */
    PRT_FF_E_VOLUME,       /* a volume that is not finite and >= 0 */
    PRT_FF_E_HIGH_LOW,     /* high < low */
    PRT_FF_E_TIME,         /* window_start not a whole minute */
    PRT_FF_STATUS_COUNT
} prt_ff_status_t;

typedef struct {
    uint64_t  lines;                         /* data lines, header excluded */
    uint64_t  rows;                          /* valid rows handed out */
    uint64_t  skipped;
    uint64_t  malformed;
    uint64_t  by_status[PRT_FF_STATUS_COUNT];
} prt_ff_stats_t;

/*
 * Receives every message about a file: row problems (line > 0, at most
 * report_max per file plus one summary line) and file errors (line is the
 * last line read). msg is one line without a newline, already prefixed with
 * "path:line: ".
 */
typedef void prt_ff_report_fn(void *ctx, const char *path, uint64_t line,
    const char *msg);

typedef struct {
    prt_ff_report_fn  *report;       /* NULL: prt_warn (engine log) */
    void              *report_ctx;
    unsigned           report_max;   /* row problems reported per file */
} prt_ff_options_t;

typedef struct prt_ff_reader_s  prt_ff_reader_t;

/* opt may be NULL (engine log, PRT_FF_REPORT_DEFAULT); NULL: out of memory. */
prt_ff_reader_t *prt_ff_reader_new(const prt_ff_options_t *opt);
void prt_ff_reader_free(prt_ff_reader_t *r);

/*
 * Opens a file and checks its header; resets the statistics. -1 on failure,
 * with the reason in prt_ff_reader_error() (also sent to the report hook).
 * Plain (uncompressed) CSV is accepted too, as zlib reads it transparently.
 */
int prt_ff_reader_open(prt_ff_reader_t *r, const char *path);

/*
 * 1: *row holds the next valid row; 0: end of file; -1: the file is damaged
 * (truncated or corrupt gzip, read error) after the rows already returned.
 */
int prt_ff_reader_next(prt_ff_reader_t *r, prt_ff_row_t *row);

/* Closes the file (reporting how many problems went unreported). */
void prt_ff_reader_close(prt_ff_reader_t *r);

const prt_ff_stats_t *prt_ff_reader_stats(const prt_ff_reader_t *r);
const char *prt_ff_reader_error(const prt_ff_reader_t *r);
uint64_t prt_ff_reader_line(const prt_ff_reader_t *r);  /* last line read */

/*
 * Parses one CSV row (no line terminator; a trailing '\r' is tolerated).
 * Pure: no allocation, no global state, any bytes accepted. On PRT_FF_OK
 * *row is filled; otherwise its content is unspecified.
 */
prt_ff_status_t prt_ff_parse_row(const char *line, size_t len,
    prt_ff_row_t *row);

const char *prt_ff_status_name(prt_ff_status_t st);

/*
 * Parses a decimal number ([+-]digits[.digits][(e|E)[+-]digits]) that fills
 * exactly [s, s + len), len <= PRT_FF_LINE_MAX. The result is bit-identical
 * to strtod in the C locale; up to 15-16 significant digits and exponents
 * within +-22 avoid strtod. 0 on success, -1 if not such a number.
 */
int prt_ff_parse_double(const char *s, size_t len, double *out);

/* 1 when s matches ^[A-Z][A-Z0-9.-]{0,9}$ (SPEC §5.1). */
int prt_ff_ticker_valid(const char *s, size_t len);

/*
 * The New York trading day and bar of a valid row. -1 when the bar does not
 * start inside the extended day, 04:00-19:59 ET.
 */
int prt_ff_row_to_bar(const prt_ff_row_t *row, prt_day_t *day,
    prt_bar_t *bar);

/* The day of a file named YYYY-MM-DD.csv.gz (any directory). -1 if not. */
int prt_ff_name_day(const char *path, prt_day_t *day);

#endif
