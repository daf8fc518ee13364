/*
 * libFuzzer target for the flat-file reader (engine/data/flatfile.c).
 *
 * The first input byte picks what the rest is:
 *   0  one CSV row for prt_ff_parse_row
 *   1  a number for prt_ff_parse_double, which must agree with strtod
 *   2  a file exactly as stored (gzip when it has the magic, else plain)
 *   3  rows after a valid header, gzip-compressed here and cut where the
 *      second byte says (255: not cut)
 *   4  rows after a valid header, stored uncompressed
 * The build shrinks the reader's buffer (FF_BUF_SIZE, see fuzz/Makefile) so
 * that small inputs cross buffer refills and the long-line path.
 *
 * Every accepted row must be a sound bar, and the statistics must add up;
 * a violation aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/flatfile.h"

#define FUZZ_INPUT_MAX  (1 << 20)

static char  file_path[256];
static int   file_fd = -1;

#define check(cond) do { if (!(cond)) { \
    fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
    abort(); } } while (0)

static void
check_row(const prt_ff_row_t *row)
{
    size_t  len = strnlen(row->ticker, sizeof(row->ticker));

    check(len < sizeof(row->ticker));
    check(prt_ff_ticker_valid(row->ticker, len));
    check(isfinite(row->open) && row->open > 0);
    check(isfinite(row->close) && row->close > 0);
    check(isfinite(row->high) && isfinite(row->low) && row->low > 0);
    check(row->high >= row->low);
    check(isfinite(row->volume) && row->volume >= 0);
    check(row->start_ns >= 0 && row->start_ns % PRT_FF_NS_PER_MINUTE == 0);
}

static void
fuzz_row(const uint8_t *data, size_t size)
{
    prt_ff_row_t     row;
    prt_ff_status_t  st = prt_ff_parse_row((const char *) data, size, &row);

    check((unsigned) st < PRT_FF_STATUS_COUNT);
    if (st == PRT_FF_OK) {
        check_row(&row);
    }
}

static void
fuzz_double(const uint8_t *data, size_t size)
{
    char    copy[PRT_FF_LINE_MAX + 1], *end;
    double  ours, ref;

    if (prt_ff_parse_double((const char *) data, size, &ours) != 0) {
        return;
    }
    check(size <= PRT_FF_LINE_MAX);
    memcpy(copy, data, size);
    copy[size] = '\0';
    ref = strtod(copy, &end);
    check(end == copy + size);
    check(memcmp(&ours, &ref, sizeof(ref)) == 0);
}

static void
ignore_report(void *ctx, const char *path, uint64_t line, const char *msg)
{
    check(strlen(msg) < 4096);
}

static void
read_file(void)
{
    static prt_ff_reader_t  *r;
    prt_ff_options_t         opt = { ignore_report, NULL, 3 };
    prt_ff_row_t             row;
    const prt_ff_stats_t    *st;
    uint64_t                 sum = 0;
    int                      rc, i;

    if (r == NULL) {
        r = prt_ff_reader_new(&opt);
        check(r != NULL);
    }
    if (prt_ff_reader_open(r, file_path) != 0) {
        check(prt_ff_reader_error(r)[0] != '\0');
        return;
    }
    while ((rc = prt_ff_reader_next(r, &row)) == 1) {
        check_row(&row);
    }
    check(rc == 0 || prt_ff_reader_error(r)[0] != '\0');
    check(prt_ff_reader_next(r, &row) <= 0);    /* nothing after the end */
    st = prt_ff_reader_stats(r);
    for (i = 0; i < PRT_FF_STATUS_COUNT; i++) {
        sum += st->by_status[i];
    }
    check(sum == st->lines);
    check(st->lines == st->rows + st->skipped + st->malformed);
    check(st->rows == st->by_status[PRT_FF_OK]);
    prt_ff_reader_close(r);
}

static void
store(const void *data, size_t size)
{
    check(ftruncate(file_fd, 0) == 0);
    check(pwrite(file_fd, data, size, 0) == (ssize_t) size);
}

/* Header plus rows, gzip-compressed (windowBits 31), cut at cut_at/255. */
static void
store_gzip(const uint8_t *rows, size_t size, unsigned cut_at)
{
    static const char  header[] = PRT_FF_HEADER "\n";
    static uint8_t     out[2 * FUZZ_INPUT_MAX];
    z_stream           zs;
    size_t             len;

    memset(&zs, 0, sizeof(zs));
    check(deflateInit2(&zs, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY)
          == Z_OK);
    zs.next_out = out;
    zs.avail_out = sizeof(out);
    zs.next_in = (Bytef *) header;
    zs.avail_in = sizeof(header) - 1;
    check(deflate(&zs, Z_NO_FLUSH) == Z_OK);
    zs.next_in = (Bytef *) rows;
    zs.avail_in = (uInt) size;
    check(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    len = zs.total_out;
    deflateEnd(&zs);
    store(out, cut_at >= 255 ? len : len * cut_at / 255);
}

static void
store_plain(const uint8_t *rows, size_t size)
{
    static const char  header[] = PRT_FF_HEADER "\n";
    static uint8_t     out[FUZZ_INPUT_MAX + sizeof(header)];

    memcpy(out, header, sizeof(header) - 1);
    memcpy(out + sizeof(header) - 1, rows, size);
    store(out, sizeof(header) - 1 + size);
}

static void
remove_file(void)
{
    unlink(file_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char  *tmp = getenv("TMPDIR");

    snprintf(file_path, sizeof(file_path), "%s/fuzz_flatfile.XXXXXX.csv.gz",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    file_fd = mkstemps(file_path, 7);
    check(file_fd >= 0);
    atexit(remove_file);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > FUZZ_INPUT_MAX) {
        return 0;
    }
    switch (data[0] % 5) {
    case 0:
        fuzz_row(data + 1, size - 1);
        break;
    case 1:
        fuzz_double(data + 1, size - 1);
        break;
    case 2:
        store(data + 1, size - 1);
        read_file();
        break;
    case 3:
        store_gzip(data + 2, size - 2, data[1]);
        read_file();
        break;
    default:
        store_plain(data + 1, size - 1);
        read_file();
        break;
    }
    return 0;
}
