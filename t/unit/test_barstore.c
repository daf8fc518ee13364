/*
 * engine/data/barstore: the value codec, validation at the boundary, merge
 * semantics against a reference model, day listings, available dates,
 * latest prices, persistence, growth from a tiny map, and the measurement
 * of put rate, get latency and bytes per bar.
 *
 * PRT_BENCH_TICKERS=3000 runs the measurement at full size (3,000 tickers
 * x 800 bars); the default is smaller to keep the unit run quick.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "data/barstore.h"

#define DAY0  19732             /* 2024-01-10 */

static char tmp_root[] = "/tmp/prt-bars-XXXXXX";

/* ---- helpers ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double
rng_unit(void)
{
    return (double) (rng() >> 11) / 9007199254740992.0;
}

/* The double a flat-file parser yields for `x` written with `dec`
   decimals: the integer of ticks divided by 10^dec, correctly rounded. */
static double
round_dec(double x, int dec)
{
    double p = pow(10, dec);

    return (double) llround(x * p) / p;
}

static prt_bar_t
make_bar(int32_t minute, double *price, int dec)
{
    prt_bar_t b;
    double    o = *price, c, hi, lo;

    c = o * (1 + (rng_unit() - 0.5) * 0.004);
    hi = (o > c ? o : c) * (1 + rng_unit() * 0.001);
    lo = (o < c ? o : c) * (1 - rng_unit() * 0.001);
    b.minute = minute;
    b.open = round_dec(o, dec);
    b.close = round_dec(c, dec);
    b.high = round_dec(hi, dec);
    b.low = round_dec(lo, dec);
    b.volume = (double) (100 + rng() % 50000);
    b.transactions = (uint32_t) (rng() % 400);
    *price = c;
    return b;
}

/* n bars at consecutive minutes from `first`, random-walk prices. */
static void
make_day(prt_bar_t *bars, size_t n, int32_t first, double start, int dec)
{
    double price = start;
    size_t i;

    for (i = 0; i < n; i++) {
        bars[i] = make_bar(first + (int32_t) i, &price, dec);
    }
}

static int
same_bar(const prt_bar_t *a, const prt_bar_t *b)
{
    return a->minute == b->minute && a->open == b->open
           && a->high == b->high && a->low == b->low && a->close == b->close
           && a->volume == b->volume && a->transactions == b->transactions;
}

static size_t
count_same(const prt_bar_t *a, const prt_bar_t *b, size_t n)
{
    size_t i, same = 0;

    for (i = 0; i < n; i++) {
        same += same_bar(&a[i], &b[i]);
    }
    return same;
}

static void
rm_env_dir(const char *dir)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static prt_barstore_t *
open_store_sync(const char *name, size_t map, prt_kv_sync_t sync)
{
    char            dir[256];
    prt_kv_conf_t   conf = { dir, map, 0, sync, 0 };
    prt_barstore_t *bs;

    snprintf(dir, sizeof(dir), "%s/%s", tmp_root, name);
    if (prt_barstore_open(&bs, &conf) != 0) {
        printf("# open %s: %s\n", dir, prt_barstore_errmsg());
        return NULL;
    }
    return bs;
}

static prt_barstore_t *
open_store(const char *name, size_t map)
{
    return open_store_sync(name, map, PRT_KV_SYNC_NOMETA);
}

static void
drop_store(prt_barstore_t *bs, const char *name)
{
    char dir[256];

    prt_barstore_close(bs);
    snprintf(dir, sizeof(dir), "%s/%s", tmp_root, name);
    rm_env_dir(dir);
}

static uint64_t
last_txnid(prt_barstore_t *bs)
{
    prt_kv_stats_t st;

    prt_kv_stats(prt_barstore_kv(bs), &st);
    return st.last_txnid;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the codec ---- */

static void
check_roundtrip(const char *what, const prt_bar_t *bars, size_t n,
    double max_bytes_per_bar)
{
    static uint8_t   buf[PRT_BS_VALUE_MAX];
    static prt_bar_t out[PRT_BS_DAY_BARS];
    size_t           len = prt_bs_encode(bars, n, buf, sizeof(buf));
    int              got;

    if (!ok(len > 0, "%s: encodes", what)) {
        return;
    }
    got = prt_bs_decode(buf, len, out, PRT_BS_DAY_BARS);
    is_int(got, n, "%s: decodes %zu bars", what, n);
    is_int(count_same(bars, out, n), n, "%s: every field bit-exact", what);
    ok((double) len / n <= max_bytes_per_bar, "%s: %.1f bytes per bar",
       what, (double) len / n);
}

static void
test_codec(void)
{
    static prt_bar_t bars[PRT_BS_DAY_BARS], out[PRT_BS_DAY_BARS];
    static uint8_t   buf[PRT_BS_VALUE_MAX];
    size_t           i, len, rejected = 0;
    prt_bar_t        swap;

    make_day(bars, 800, 240, 187.45, 2);
    check_roundtrip("cents, random walk", bars, 800, 14);
    make_day(bars, 960, 240, 0.8123, 4);
    check_roundtrip("4 decimals, full day", bars, 960, 16);
    make_day(bars, 390, 570, 17.409612, 6);
    check_roundtrip("6 decimals", bars, 390, 24);
    make_day(bars, 100, 600, 612345.25, 2);
    check_roundtrip("high prices", bars, 100, 20);

    make_day(bars, 50, 570, 10, 2);
    bars[20].close = 1.0 / 3.0;
    check_roundtrip("a price without a short decimal form (raw)", bars, 50,
                    48);
    bars[20].close = 10.01;
    bars[7].volume = 12.5;
    check_roundtrip("fractional volume", bars, 50, 24);

    bars[0].minute = PRT_MINUTE_FIRST;
    bars[1].minute = PRT_MINUTE_LAST;
    check_roundtrip("first and last minute", bars, 2, 48);

    /* Every truncation of a value is detected. */
    make_day(bars, 300, 570, 50.5, 2);
    len = prt_bs_encode(bars, 300, buf, sizeof(buf));
    for (i = 0; i < len; i++) {
        rejected += prt_bs_decode(buf, i, out, PRT_BS_DAY_BARS) == -1;
    }
    is_int(rejected, len, "all %zu truncations rejected", len);
    is_int(prt_bs_decode(buf, len, out, 299), -1, "too small a buffer refused");
    buf[0] = 99;
    is_int(prt_bs_decode(buf, len, out, PRT_BS_DAY_BARS), -1,
           "unknown version refused");

    swap = bars[10];
    bars[10] = bars[11];
    bars[11] = swap;
    is_int(prt_bs_encode(bars, 300, buf, sizeof(buf)), 0,
           "the encoder takes sorted minutes only");
    is_int(prt_bs_encode(bars, 10, buf, 100), 0, "and refuses a short buffer");
}

/* ---- validation ---- */

static void
test_validation(void)
{
    static const char *bad_tickers[] = { "", "aapl", "1AB", "ABCDEFGHIJK",
                                         "AB CD", "A_B" };
    prt_barstore_t    *bs = open_store("valid", 0);
    prt_bar_t          good[3], bad;
    prt_bs_group_t     groups[2];
    uint64_t           txn0;
    unsigned           i;

    if (bs == NULL) {
        ok(0, "open");
        return;
    }
    make_day(good, 3, 570, 100, 2);
    txn0 = last_txnid(bs);

#define REFUSED(field, value, what) do {                                      \
        bad = good[1];                                                        \
        bad.field = (value);                                                  \
        is_int(prt_barstore_put_day(bs, "AAPL", DAY0, &bad, 1, PRT_BS_MERGE), \
               PRT_BS_EINVAL, "refused: %s", what);                           \
    } while (0)

    REFUSED(minute, PRT_MINUTE_FIRST - 1, "minute 239 (03:59)");
    ok(strstr(prt_barstore_errmsg(), "AAPL 2024-01-10") != NULL,
       "message names ticker and date: %s", prt_barstore_errmsg());
    REFUSED(minute, PRT_MINUTE_END, "minute 1200 (20:00)");
    REFUSED(close, NAN, "NaN close");
    REFUSED(high, INFINITY, "infinite high");
    REFUSED(low, -1.5, "negative low");
    REFUSED(open, 0.0, "zero open");
    REFUSED(volume, -1, "negative volume");
    REFUSED(volume, NAN, "NaN volume");
#undef REFUSED

    for (i = 0; i < sizeof(bad_tickers) / sizeof(bad_tickers[0]); i++) {
        is_int(prt_barstore_put_day(bs, bad_tickers[i], DAY0, good, 3,
                                    PRT_BS_MERGE),
               PRT_BS_EINVAL, "refused ticker \"%s\"", bad_tickers[i]);
    }
    is_int(prt_barstore_put_day(bs, "BRK.B", -1, good, 3, PRT_BS_MERGE),
           PRT_BS_EINVAL, "refused day before 1970");
    is_int(prt_barstore_put_day(bs, "BRK.B", PRT_BS_DAY_MAX + 1, good, 3,
                                PRT_BS_MERGE),
           PRT_BS_EINVAL, "refused day after 2199");
    is_int(prt_barstore_put_day(bs, "BRK.B", DAY0, NULL, 3, PRT_BS_MERGE),
           PRT_BS_EINVAL, "refused NULL bars");

    /* A bad group anywhere refuses the whole batch. */
    bad = good[2];
    bad.close = -3;
    groups[0] = (prt_bs_group_t) { "MSFT", DAY0, good, 3 };
    groups[1] = (prt_bs_group_t) { "IBM", DAY0, &bad, 1 };
    is_int(prt_barstore_put(bs, groups, 2, PRT_BS_MERGE), PRT_BS_EINVAL,
           "a batch with one bad group is refused");
    is_int(last_txnid(bs), txn0, "no transaction was committed by refusals");
    is_int(prt_barstore_load_day(bs, "MSFT", DAY0, good, 3), 0,
           "the good group of the refused batch was not stored");

    is_int(prt_barstore_put_day(bs, "BRK.B", DAY0, good, 3, PRT_BS_MERGE), 0,
           "a valid ticker with a dot is accepted");
    is_int(prt_barstore_put_day(bs, "ABCDEFGHIJ", DAY0, good, 3,
                                PRT_BS_MERGE), 0,
           "a 10-character ticker is accepted");
    drop_store(bs, "valid");
}

/* ---- merge semantics against a reference model ---- */

typedef struct {
    prt_bar_t bar[PRT_BS_DAY_BARS];
    uint8_t   have[PRT_BS_DAY_BARS];
} model_t;

static void
model_apply(model_t *m, const prt_bar_t *bars, size_t n, prt_bs_mode_t mode)
{
    size_t i;

    if (mode == PRT_BS_REPLACE) {
        memset(m->have, 0, sizeof(m->have));
    }
    for (i = 0; i < n; i++) {
        m->bar[bars[i].minute - PRT_MINUTE_FIRST] = bars[i];
        m->have[bars[i].minute - PRT_MINUTE_FIRST] = 1;
    }
}

static size_t
model_list(const model_t *m, prt_bar_t *out)
{
    size_t s, n = 0;

    for (s = 0; s < PRT_BS_DAY_BARS; s++) {
        if (m->have[s]) {
            out[n++] = m->bar[s];
        }
    }
    return n;
}

static int
store_matches(prt_barstore_t *bs, const char *ticker, prt_day_t day,
    const model_t *m)
{
    static prt_bar_t want[PRT_BS_DAY_BARS], got[PRT_BS_DAY_BARS];
    size_t           n = model_list(m, want);
    int              g = prt_barstore_load_day(bs, ticker, day, got,
                                               PRT_BS_DAY_BARS);

    if (g != (int) n || count_same(want, got, n) != n) {
        printf("#   %s day %d: got %d bars, want %zu\n", ticker, (int) day, g,
               n);
        return 0;
    }
    return 1;
}

typedef struct {
    prt_barstore_t  *bs;
    const char      *ticker;
    prt_bs_latest_t *out;
    int              rc;
} latest_ctx_t;

static int
latest_txn(MDB_txn *txn, void *arg)
{
    latest_ctx_t *c = arg;

    c->rc = prt_barstore_latest(c->bs, txn, c->ticker, c->out);
    return 0;
}

static int
latest_of(prt_barstore_t *bs, const char *ticker, prt_bs_latest_t *out)
{
    latest_ctx_t c = { bs, ticker, out, -9 };

    prt_barstore_read(bs, latest_txn, &c);
    return c.rc;
}

typedef struct {
    prt_barstore_t *bs;
    prt_bs_date_t  *dates;
    size_t          cap;
    int             n;
} dates_ctx_t;

static int
dates_txn(MDB_txn *txn, void *arg)
{
    dates_ctx_t *c = arg;

    c->n = prt_barstore_dates(c->bs, txn, 0, PRT_BS_DAY_MAX, c->dates, c->cap);
    return 0;
}

static void
test_merge_scenario(void)
{
    prt_barstore_t *bs = open_store("merge", 0);
    prt_bar_t       day[10], in[5], got[PRT_BS_DAY_BARS];
    int             n;

    if (bs == NULL) {
        ok(0, "open");
        return;
    }
    make_day(day, 10, 570, 50, 2);       /* 09:30 .. 09:39 */
    is_int(prt_barstore_put_day(bs, "AAPL", DAY0, day, 10, PRT_BS_MERGE), 0,
           "store 10 bars 09:30..09:39");

    in[0] = day[5];                      /* 09:35 corrected */
    in[0].close = 77.77;
    in[0].volume = 1234;
    in[1] = day[0];                      /* 09:25, before the first */
    in[1].minute = 565;
    in[2] = day[9];                      /* 10:00, after a gap */
    in[2].minute = 600;
    in[2].close = 60.01;
    in[3] = in[2];                       /* 10:00 again: last one wins */
    in[3].close = 60.02;
    in[4] = day[2];                      /* 09:32 unchanged repeat */
    is_int(prt_barstore_put_day(bs, "AAPL", DAY0, in, 5, PRT_BS_MERGE), 0,
           "merge unsorted input with a correction and a repeat");

    n = prt_barstore_load_day(bs, "AAPL", DAY0, got, PRT_BS_DAY_BARS);
    is_int(n, 12, "10 + 09:25 + 10:00 = 12 bars");
    if (n == 12) {
        is_int(got[0].minute, 565, "09:25 first");
        ok(same_bar(&got[1], &day[0]), "09:30 kept");
        is_double(got[6].close, 77.77, 0, "09:35 replaced by the correction");
        is_double(got[6].volume, 1234, 0, "with its volume");
        ok(same_bar(&got[10], &day[9]), "09:39 kept");
        is_int(got[11].minute, 600, "10:00 last");
        is_double(got[11].close, 60.02, 0, "the later of two 10:00 bars won");
    }
    is_int(prt_barstore_put_day(bs, "AAPL", DAY0, day + 3, 2, PRT_BS_REPLACE),
           0, "replace the whole day with 2 bars");
    n = prt_barstore_load_day(bs, "AAPL", DAY0, got, PRT_BS_DAY_BARS);
    ok(n == 2 && same_bar(&got[0], &day[3]) && same_bar(&got[1], &day[4]),
       "only the 2 replacing bars remain");
    is_int(prt_barstore_load_day(bs, "AAPL", DAY0, got, 1), PRT_KV_ERROR,
           "a buffer smaller than the day is an error, not a truncation");
    drop_store(bs, "merge");
}

/* Random batches (several groups, same key twice, both modes, appends,
   corrections, decimals changing mid-day) checked against the model. */
static void
test_merge_random(void)
{
    enum { TICKERS = 3, DAYS = 3, ROUNDS = 300, GROUPS = 4 };
    static const char *tick[TICKERS] = { "AA", "AAPL", "ZZ" };
    static model_t     model[TICKERS][DAYS];
    static prt_bar_t   in[GROUPS][40];
    prt_barstore_t    *bs = open_store("random", 0);
    prt_bs_group_t     g[GROUPS];
    prt_bs_mode_t      mode;
    double             price = 40;
    int                r, j, t, d, dec, bad = 0, errors = 0;
    size_t             i, n;
    int32_t            base;

    if (bs == NULL) {
        ok(0, "open");
        return;
    }
    memset(model, 0, sizeof(model));
    for (r = 0; r < ROUNDS; r++) {
        mode = rng() % 10 == 0 ? PRT_BS_REPLACE : PRT_BS_MERGE;
        for (j = 0; j < GROUPS; j++) {
            t = (int) (rng() % TICKERS);
            d = (int) (rng() % DAYS);
            n = rng() % 40;
            dec = r > ROUNDS / 2 && rng() % 8 == 0 ? 4 : 2;
            /* Mostly minutes after everything so far (the live append
               path), sometimes anywhere in the day. */
            base = rng() % 3 ? PRT_MINUTE_FIRST + (r * 3) % 900
                             : PRT_MINUTE_FIRST;
            for (i = 0; i < n; i++) {
                int32_t span = rng() % 4 ? 12 : PRT_MINUTES_PER_DAY;
                int32_t minute = base + (int32_t) (rng() % (uint64_t) span);

                in[j][i] = make_bar(minute > PRT_MINUTE_LAST ? PRT_MINUTE_LAST
                                                             : minute,
                                    &price, dec);
            }
            g[j] = (prt_bs_group_t) { tick[t], DAY0 + d, in[j], n };
        }
        if (prt_barstore_put(bs, g, GROUPS, mode) != 0) {
            errors++;
            printf("# put: %s\n", prt_barstore_errmsg());
            continue;
        }
        for (j = 0; j < GROUPS; j++) {
            t = (int) (strcmp(g[j].ticker, "AA") == 0 ? 0
                       : strcmp(g[j].ticker, "AAPL") == 0 ? 1 : 2);
            model_apply(&model[t][g[j].day - DAY0], g[j].bars, g[j].n, mode);
        }
    }
    for (t = 0; t < TICKERS; t++) {
        for (d = 0; d < DAYS; d++) {
            bad += !store_matches(bs, tick[t], DAY0 + d, &model[t][d]);
        }
    }
    is_int(errors, 0, "%d random batches stored", ROUNDS);
    is_int(bad, 0, "all (ticker, day) values equal the reference model");
    drop_store(bs, "random");
}

/*
 * The live feed: one bar per ticker per minute, merged as it comes. Most
 * writes append to the stored day; a finer price (4 decimals) or a
 * fractional volume mid-day, and a correction of the previous minute,
 * force a full re-encode. The store must equal the model throughout.
 */
static void
test_live_appends(void)
{
    enum { TICKERS = 4 };
    static const char *tick[TICKERS] = { "FINE", "FRAC", "CORR", "PLAIN" };
    static model_t     model[TICKERS];
    prt_barstore_t    *bs = open_store("live", 0);
    prt_bs_group_t     g[TICKERS];
    prt_bar_t          in[TICKERS][2];
    prt_bs_latest_t    l;
    double             price[TICKERS] = { 20, 30, 40, 50 };
    int32_t            minute;
    int                t, bad = 0, errors = 0, latest_bad = 0;

    if (bs == NULL) {
        ok(0, "open");
        return;
    }
    memset(model, 0, sizeof(model));
    for (minute = PRT_MINUTE_FIRST; minute <= PRT_MINUTE_LAST; minute++) {
        for (t = 0; t < TICKERS; t++) {
            in[t][0] = make_bar(minute, &price[t],
                                t == 0 && minute >= 600 ? 4 : 2);
            g[t] = (prt_bs_group_t) { tick[t], DAY0, in[t], 1 };
        }
        if (minute == 700) {
            in[1][0].volume = 0.25;
        }
        if (minute % 50 == 7 && minute > PRT_MINUTE_FIRST) {
            in[2][1] = in[2][0];           /* correct the previous minute */
            in[2][1].minute = minute - 1;
            in[2][1].close = round_dec(price[2] * 1.01, 2);
            g[2].n = 2;
        }
        errors += prt_barstore_put(bs, g, TICKERS, PRT_BS_MERGE) != 0;
        for (t = 0; t < TICKERS; t++) {
            model_apply(&model[t], g[t].bars, g[t].n, PRT_BS_MERGE);
        }
    }
    is_int(errors, 0, "960 minutes x %d tickers merged one batch each",
           TICKERS);
    for (t = 0; t < TICKERS; t++) {
        bad += !store_matches(bs, tick[t], DAY0, &model[t]);
        if (latest_of(bs, tick[t], &l) != 1 || l.minute != PRT_MINUTE_LAST
            || l.close != model[t].bar[PRT_BS_DAY_BARS - 1].close)
        {
            latest_bad++;
        }
    }
    is_int(bad, 0, "every ticker's day equals the model, bit for bit");
    is_int(latest_bad, 0, "latest price is the last bar's close for each");
    drop_store(bs, "live");
}

/* More distinct days in one batch than the per-day counters buffer. */
static void
test_many_days_one_batch(void)
{
    enum { DAYS = 150 };
    static prt_bs_group_t g[DAYS];
    static prt_bs_date_t  dates[DAYS + 1];
    prt_barstore_t       *bs = open_store("days", 0);
    prt_bar_t             b[8];
    dates_ctx_t           c = { bs, dates, DAYS + 1, 0 };
    int                   d, bad = 0;

    if (bs == NULL) {
        ok(0, "open");
        return;
    }
    make_day(b, 8, 570, 10, 2);
    for (d = 0; d < DAYS; d++) {
        g[d] = (prt_bs_group_t) { d % 2 ? "ODD" : "EVEN", DAY0 - d, b,
                                  1 + (size_t) d % 8 };
    }
    is_int(prt_barstore_put(bs, g, DAYS, PRT_BS_REPLACE), 0,
           "%d days in one batch", DAYS);
    prt_barstore_put(bs, g, DAYS, PRT_BS_REPLACE);      /* same again */
    prt_barstore_read(bs, dates_txn, &c);
    is_int(c.n, DAYS, "%d dates listed", DAYS);
    for (d = 0; d < c.n; d++) {
        int k = DAYS - 1 - d;          /* dates ascend, groups descend */

        bad += dates[d].day != DAY0 - k || dates[d].tickers != 1
               || dates[d].bars != 1 + (uint64_t) k % 8;
    }
    is_int(bad, 0, "each date counts 1 ticker and its bars, not doubled by "
           "the rewrite");
    drop_store(bs, "days");
}

/* ---- listings ---- */

typedef struct {
    prt_barstore_t  *bs;
    prt_day_t        days[8];
    int              n_days;
    prt_day_t        latest;
    int              found;
    prt_bs_date_t    dates[8];
    int              n_dates;
    prt_bs_latest_t  last;
    int              have_last;
    char             order[64];
} list_ctx_t;

static int
collect_ticker(const prt_bs_latest_t *l, void *arg)
{
    list_ctx_t *c = arg;

    strcat(c->order, l->ticker);
    strcat(c->order, " ");
    return 0;
}

static int
list_txn(MDB_txn *txn, void *arg)
{
    list_ctx_t *c = arg;

    c->n_days = prt_barstore_days(c->bs, txn, "AAPL", DAY0 - 2, DAY0 + 1,
                                  c->days, 8);
    c->found = prt_barstore_latest_day(c->bs, txn, "AA", &c->latest);
    c->n_dates = prt_barstore_dates(c->bs, txn, 0, INT32_MAX, c->dates, 8);
    c->have_last = prt_barstore_latest(c->bs, txn, "AAPL", &c->last);
    c->order[0] = '\0';
    return prt_barstore_foreach_ticker(c->bs, txn, collect_ticker, c);
}

typedef struct {
    prt_barstore_t *bs;
    const char     *ticker;
    prt_day_t      *day;
    int             rc;
} latest_day_ctx_t;

static int
latest_day_txn(MDB_txn *txn, void *arg)
{
    latest_day_ctx_t *c = arg;

    c->rc = prt_barstore_latest_day(c->bs, txn, c->ticker, c->day);
    return 0;
}

static int
latest_day_of(prt_barstore_t *bs, const char *ticker, prt_day_t *day)
{
    latest_day_ctx_t c = { bs, ticker, day, -9 };

    prt_barstore_read(bs, latest_day_txn, &c);
    return c.rc;
}

static void
test_listings(void)
{
    prt_barstore_t *bs = open_store("list", 0);
    prt_bar_t       b[30];
    prt_bs_group_t  g[6];
    list_ctx_t      c;
    prt_day_t       day;

    if (bs == NULL) {
        ok(0, "open");
        return;
    }
    make_day(b, 30, 570, 120, 2);
    /* "AA" is a prefix of "AAPL": their keys must not mix. */
    g[0] = (prt_bs_group_t) { "AAPL", DAY0 + 1, b, 30 };
    g[1] = (prt_bs_group_t) { "AAPL", DAY0 - 5, b, 10 };
    g[2] = (prt_bs_group_t) { "AAPL", DAY0, b, 20 };
    g[3] = (prt_bs_group_t) { "AA", DAY0 - 1, b, 5 };
    g[4] = (prt_bs_group_t) { "AAPLX", DAY0 + 3, b, 7 };
    g[5] = (prt_bs_group_t) { "AAPL", DAY0 - 1, b, 3 };
    is_int(prt_barstore_put(bs, g, 6, PRT_BS_REPLACE), 0,
           "6 (ticker, day) groups in one batch");

    memset(&c, 0, sizeof(c));
    c.bs = bs;
    is_int(prt_barstore_read(bs, list_txn, &c), 0, "one read transaction");
    is_int(c.n_days, 3, "AAPL has 3 days in [day0-2, day0+1]");
    ok(c.n_days == 3 && c.days[0] == DAY0 - 1 && c.days[1] == DAY0
       && c.days[2] == DAY0 + 1, "in ascending order, AA's day not mixed in");
    ok(c.found == 1 && c.latest == DAY0 - 1, "latest day of AA");
    is_int(latest_day_of(bs, "AAPL", &day), 1, "AAPL has a latest day");
    is_int(day, DAY0 + 1, "the latest of AAPL's days, not AAPLX's");
    is_int(latest_day_of(bs, "AAP", &day), 0, "AAP has none");
    is_int(latest_day_of(bs, "ZZZZ", &day), 0, "a ticker past all keys");
    is_int(latest_day_of(bs, "A", &day), 0, "a ticker before all keys");

    is_int(c.n_dates, 5, "5 available dates");
    if (c.n_dates == 5) {
        ok(c.dates[0].day == DAY0 - 5 && c.dates[0].tickers == 1
           && c.dates[0].bars == 10, "day0-5: 1 ticker, 10 bars");
        ok(c.dates[1].day == DAY0 - 1 && c.dates[1].tickers == 2
           && c.dates[1].bars == 8, "day0-1: 2 tickers, 3 + 5 bars");
        ok(c.dates[4].day == DAY0 + 3 && c.dates[4].tickers == 1,
           "day0+3 last");
    }
    ok(c.have_last == 1 && c.last.day == DAY0 + 1 && c.last.minute == 599
       && c.last.close == b[29].close, "AAPL latest price: day0+1 09:59");
    is_str(c.order, "AA AAPL AAPLX ", "tickers iterate in order");

    /* Merge into the latest day moves the latest price; an older day or an
       earlier minute of the latest day does not. */
    b[0].minute = 700;
    b[0].close = 133.33;
    prt_barstore_put_day(bs, "AAPL", DAY0 + 1, b, 1, PRT_BS_MERGE);
    b[1].minute = 1100;
    prt_barstore_put_day(bs, "AAPL", DAY0 - 5, b + 1, 1, PRT_BS_MERGE);
    b[2].minute = 300;
    prt_barstore_put_day(bs, "AAPL", DAY0 + 1, b + 2, 1, PRT_BS_MERGE);
    prt_barstore_read(bs, list_txn, &c);
    ok(c.last.day == DAY0 + 1 && c.last.minute == 700
       && c.last.close == 133.33, "latest price follows the newest bar");

    /* Replacing the latest day by nothing deletes it: fall back. */
    is_int(prt_barstore_put_day(bs, "AAPL", DAY0 + 1, NULL, 0,
                                PRT_BS_REPLACE), 0, "delete AAPL day0+1");
    prt_barstore_read(bs, list_txn, &c);
    ok(c.last.day == DAY0 && c.last.minute == 589
       && c.last.close == b[19].close,
       "latest falls back to day0 09:49 (got day %d minute %d)",
       (int) c.last.day, (int) c.last.minute);
    is_int(c.n_dates, 4, "day0+1 had only AAPL: the date is gone");
    is_int(latest_day_of(bs, "AAPL", &day), 1, "latest day found");
    is_int(day, DAY0, "latest day is now day0");

    g[0] = (prt_bs_group_t) { "AAPLX", DAY0 + 3, NULL, 0 };
    prt_barstore_put(bs, g, 1, PRT_BS_REPLACE);
    prt_barstore_read(bs, list_txn, &c);
    is_int(c.n_dates, 3, "deleting AAPLX's only day removes that date too");
    is_str(c.order, "AA AAPL ", "and the ticker");
    drop_store(bs, "list");
}

/* ---- persistence and growth ---- */

static void
test_persistence_and_growth(void)
{
    enum { TICKERS = 200, DAYS = 5, BARS = 800 };
    static prt_bar_t bars[TICKERS][BARS], got[PRT_BS_DAY_BARS];
    prt_bs_group_t   g[TICKERS];
    prt_barstore_t  *bs = open_store("grow", PRT_KV_MAP_MIN);
    prt_bs_stats_t   st;
    char             names[TICKERS][PRT_TICKER_SIZE];
    int              t, d, rc = 0, bad = 0;

    if (bs == NULL) {
        ok(0, "open");
        return;
    }
    for (t = 0; t < TICKERS; t++) {
        snprintf(names[t], sizeof(names[t]), "T%03d", t);
    }
    for (d = 0; d < DAYS && rc == 0; d++) {
        for (t = 0; t < TICKERS; t++) {
            make_day(bars[t], BARS, 300, 10 + t, 2);
            g[t] = (prt_bs_group_t) { names[t], DAY0 + d, bars[t], BARS };
        }
        rc = prt_barstore_put(bs, g, TICKERS, PRT_BS_REPLACE);
    }
    is_int(rc, 0, "800k bars into a store that started with a 64 KiB map");
    prt_barstore_stats(bs, &st);
    ok(st.kv.map_grows >= 7, "the map grew %llu times to %llu bytes",
       (unsigned long long) st.kv.map_grows,
       (unsigned long long) st.kv.map_size);
    is_int(st.bars, TICKERS * DAYS * BARS, "stats: bars");
    is_int(st.tickers, TICKERS, "stats: tickers");
    is_int(st.days, DAYS, "stats: days");
    is_int(st.ticker_days, TICKERS * DAYS, "stats: (ticker, day) values");
    prt_barstore_close(bs);

    bs = open_store("grow", PRT_KV_MAP_MIN);
    if (!ok(bs != NULL, "reopen")) {
        return;
    }
    for (t = 0; t < TICKERS; t++) {
        if (prt_barstore_load_day(bs, names[t], DAY0 + DAYS - 1, got,
                                  PRT_BS_DAY_BARS) != BARS
            || count_same(got, bars[t], BARS) != BARS)
        {
            bad++;
        }
    }
    is_int(bad, 0, "the last batch reads back exactly after reopen");
    prt_barstore_stats(bs, &st);
    is_int(st.bars, TICKERS * DAYS * BARS, "counts persist");
    drop_store(bs, "grow");
}

/* ---- measurement (figures as TAP comments, no timed assertions) ---- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static void
measure(prt_kv_sync_t sync)
{
    const char      *env = getenv("PRT_BENCH_TICKERS");
    size_t           tickers = env ? strtoul(env, NULL, 10) : 300;
    size_t           bars_per = 800, batch = 500, t, i, done, n;
    prt_bar_t       *bars;
    prt_bs_group_t  *g;
    char            (*names)[PRT_TICKER_SIZE];
    prt_barstore_t  *bs = open_store_sync("bench", 0, sync);
    prt_bs_stats_t   st;
    prt_bar_t        got[PRT_BS_DAY_BARS];
    double           t0, put_s, get_s, lat[1000];
    int              rc = 0;

    bars = malloc(tickers * bars_per * sizeof(*bars));
    g = malloc(tickers * sizeof(*g));
    names = malloc(tickers * sizeof(*names));
    if (bs == NULL || bars == NULL || g == NULL || names == NULL) {
        ok(0, "measurement setup");
        return;
    }
    for (t = 0; t < tickers; t++) {
        snprintf(names[t], sizeof(names[t]), "B%zu", t % 100000);
        make_day(bars + t * bars_per, bars_per, 300, 5 + (double) (t % 500),
                 2);
        g[t] = (prt_bs_group_t) { names[t], DAY0, bars + t * bars_per,
                                  bars_per };
    }
    t0 = now_s();
    for (done = 0; done < tickers && rc == 0; done += n) {
        n = tickers - done < batch ? tickers - done : batch;
        rc = prt_barstore_put(bs, g + done, n, PRT_BS_REPLACE);
    }
    put_s = now_s() - t0;
    is_int(rc, 0, "measure: %zu x %zu bars stored", tickers, bars_per);

    get_s = 0;
    for (i = 0; i < 1000; i++) {
        t = rng() % tickers;
        t0 = now_s();
        n = (size_t) prt_barstore_load_day(bs, names[t], DAY0, got,
                                           PRT_BS_DAY_BARS);
        lat[i] = now_s() - t0;
        get_s += lat[i];
        if (n != bars_per) {
            rc = -1;
        }
    }
    is_int(rc, 0, "measure: 1000 random (ticker, day) reads");
    prt_barstore_stats(bs, &st);
    printf("# %s: put %zu bars in %.3f s = %.2f M bars/s (batches of %zu "
           "tickers)\n", prt_kv_sync_name(sync), tickers * bars_per, put_s,
           tickers * bars_per / put_s / 1e6, batch);
    qsort(lat, 1000, sizeof(lat[0]), cmp_double);
    printf("# get one (ticker, day) of %zu bars: mean %.1f us, p50 %.1f us, "
           "p99 %.1f us\n", bars_per, get_s / 1000 * 1e6, lat[500] * 1e6,
           lat[990] * 1e6);
    printf("# file %llu bytes, used %llu: %.1f bytes per bar on disk\n",
           (unsigned long long) st.kv.file_bytes,
           (unsigned long long) st.kv.used_bytes,
           (double) st.kv.used_bytes / (tickers * bars_per));
    free(bars);
    free(g);
    free(names);
    drop_store(bs, "bench");
}

/* The live path: days already hold 600 bars; each batch brings one new
   bar per ticker (merge, appended). */
static void
measure_live(prt_kv_sync_t sync)
{
    enum { TICKERS = 1000, HELD = 600, MINUTES = 60 };
    static prt_bar_t      day[TICKERS][HELD];
    static prt_bar_t      one[TICKERS];
    static prt_bs_group_t g[TICKERS];
    static char           names[TICKERS][PRT_TICKER_SIZE];
    prt_barstore_t       *bs = open_store_sync("live-bench", 0, sync);
    double                price[TICKERS], t0, secs = 0;
    int                   t, m, rc = 0;

    if (bs == NULL) {
        ok(0, "open");
        return;
    }
    for (t = 0; t < TICKERS; t++) {
        snprintf(names[t], sizeof(names[t]), "L%d", t);
        make_day(day[t], HELD, PRT_MINUTE_FIRST, 20 + t % 100, 2);
        price[t] = day[t][HELD - 1].close;
        g[t] = (prt_bs_group_t) { names[t], DAY0, day[t], HELD };
    }
    rc = prt_barstore_put(bs, g, TICKERS, PRT_BS_REPLACE);
    for (m = 0; m < MINUTES && rc == 0; m++) {
        for (t = 0; t < TICKERS; t++) {
            one[t] = make_bar(PRT_MINUTE_FIRST + HELD + m, &price[t], 2);
            g[t] = (prt_bs_group_t) { names[t], DAY0, &one[t], 1 };
        }
        t0 = now_s();
        rc = prt_barstore_put(bs, g, TICKERS, PRT_BS_MERGE);
        secs += now_s() - t0;
    }
    is_int(rc, 0, "measure: %d live batches of %d tickers", MINUTES, TICKERS);
    printf("# %s: live merge of %d bars per batch onto %d-bar days: %.0f us "
           "per batch, %.2f M bars/s\n", prt_kv_sync_name(sync), TICKERS, HELD,
           secs / MINUTES * 1e6,
           (double) TICKERS * MINUTES / secs / 1e6);
    drop_store(bs, "live-bench");
}

int
main(void)
{
    if (mkdtemp(tmp_root) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_codec();
    test_validation();
    test_merge_scenario();
    test_merge_random();
    test_live_appends();
    test_many_days_one_batch();
    test_listings();
    test_persistence_and_growth();
    measure(PRT_KV_SYNC_FULL);
    measure(PRT_KV_SYNC_NONE);
    measure_live(PRT_KV_SYNC_FULL);
    measure_live(PRT_KV_SYNC_NONE);
    rmdir(tmp_root);
    return done_testing();
}
