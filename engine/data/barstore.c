/*
 * Bar store on LMDB (layout and encoding in docs/storage.md).
 *
 *   bars     ticker NUL day(u32 BE)  ->  encoded bars of that day
 *   days     day(u32 BE)             ->  {u32 tickers, u32 0, u64 bars}
 *   tickers  ticker                  ->  {i32 day, i32 minute, f64 close}
 *
 * The NUL after the ticker makes LMDB's bytewise key order "ticker, then
 * day" ("AB" sorts before "ABC"), and big-endian days sort by date.
 *
 * A value is a 16-byte header and one record per bar:
 *
 *   u8 version, u8 flags, u8 scale, u8 0, u16 n, u16 last minute,
 *   f64 last close
 *   per bar: varint minute gap, prices, volume, varint transactions
 *
 * Prices are stored as integers of 10^-scale (scale chosen per value as
 * the fewest decimals that reproduce every price bit for bit) with the
 * close as a delta from the previous close and open/high/low relative to
 * the bar's body, all zigzag varints: about 11 bytes a bar on real data
 * against 46 for fixed doubles. A value whose prices do not fit falls back
 * to raw doubles (flag), so the store is always exact.
 */
#include "data/barstore.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the value encoding copies host-order numbers");

enum { BS_DB_BARS, BS_DB_DAYS, BS_DB_TICKERS, BS_N_DBS };

static const char *const bs_db_names[BS_N_DBS] = { "bars", "days", "tickers" };

#define BS_VERSION        1
#define BS_HDR_SIZE       16
#define BS_F_RAW_PRICE    0x01
#define BS_F_RAW_VOLUME   0x02
#define BS_SCALE_MAX      9
#define BS_BAR_MAX        57          /* 2 + 4 * 10 + 10 + 5 bytes */
#define BS_KEY_MAX        (PRT_TICKER_LEN + 1 + 4)
#define BS_DELTAS         64          /* distinct days buffered per flush */

/*
 * Ticks stay below 2^50 so that ticks -> double -> ticks is exact: the
 * product price * 10^scale is then off by at most 1/4 before rounding.
 */
#define BS_TICKS_LIMIT    1125899906842624.0
#define BS_VOLUME_LIMIT   9007199254740992.0    /* 2^53 */

static const double bs_pow10[BS_SCALE_MAX + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9
};

struct prt_barstore_s {
    prt_kv_t         *kv;
    MDB_dbi           dbi[BS_N_DBS];

    /* Scratch for writes; LMDB serializes writers anyway. */
    pthread_mutex_t   write_lock;
    prt_bar_t         slot[PRT_BS_DAY_BARS];
    uint8_t           have[PRT_BS_DAY_BARS];
    prt_bar_t         merged[PRT_BS_DAY_BARS];
    uint8_t           value[PRT_BS_VALUE_MAX];
};

typedef struct {
    prt_day_t  day;
    int64_t    tickers;
    int64_t    bars;
} bs_delta_t;

typedef struct {
    prt_barstore_t        *bs;
    const prt_bs_group_t  *groups;
    size_t                 n_groups;
    prt_bs_mode_t          mode;
    unsigned               n_deltas;
    bs_delta_t             deltas[BS_DELTAS];
} bs_put_ctx_t;

typedef struct {
    unsigned   flags;
    unsigned   scale;
    uint32_t   n;
    int32_t    last_minute;
    double     last_close;
} bs_hdr_t;

typedef struct {
    uint8_t   *p;
    uint8_t   *end;
    uint8_t   *start;
    unsigned   flags;
    unsigned   scale;
    uint32_t   n;
    int32_t    prev_minute;
    int64_t    prev_close;       /* ticks */
    double     last_close;
} bs_enc_t;

const char *
prt_barstore_errmsg(void)
{
    return prt_kv_errmsg();
}

prt_kv_t *
prt_barstore_kv(prt_barstore_t *bs)
{
    return bs->kv;
}

/* ---- small helpers ---- */

/* "YYYY-MM-DD" for messages (days since 1970-01-01, proleptic Gregorian). */
static const char *
bs_date(prt_day_t day, char buf[16])
{
    int64_t  z = (int64_t) day + 719468;
    int64_t  era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t  doe = z - era * 146097;
    int64_t  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t  mp = (5 * doy + 2) / 153;
    int64_t  d = doy - (153 * mp + 2) / 5 + 1;
    int64_t  m = mp < 10 ? mp + 3 : mp - 9;
    int64_t  y = yoe + era * 400 + (m <= 2);

    snprintf(buf, 16, "%04d-%02d-%02d", (int) (y % 10000), (int) (m % 100),
             (int) (d % 100));
    return buf;
}

int
prt_bs_check_ticker(const char *ticker)
{
    size_t i;

    if (ticker == NULL || ticker[0] < 'A' || ticker[0] > 'Z') {
        return -1;
    }
    for (i = 1; ticker[i] != '\0'; i++) {
        char c = ticker[i];

        if (i >= PRT_TICKER_LEN) {
            return -1;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '-'))
        {
            return -1;
        }
    }
    return 0;
}

static int
bs_check_key(const char *ticker, prt_day_t day)
{
    if (prt_bs_check_ticker(ticker) != 0) {
        return prt_kv_set_error(PRT_BS_EINVAL, "bars: bad ticker \"%.16s\"",
                                ticker ? ticker : "(null)");
    }
    if (day < 0 || day > PRT_BS_DAY_MAX) {
        return prt_kv_set_error(PRT_BS_EINVAL, "bars: %s: day %d outside "
                                "1970-01-01..2199-12-31", ticker, (int) day);
    }
    return 0;
}

static void
bs_put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static uint32_t
bs_get_u32be(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

/* The ticker must have been checked (<= PRT_TICKER_LEN bytes). */
static MDB_val
bs_bars_key(uint8_t key[BS_KEY_MAX], const char *ticker, prt_day_t day)
{
    size_t  len = strlen(ticker);
    MDB_val k;

    memcpy(key, ticker, len);
    key[len] = '\0';
    bs_put_u32be(key + len + 1, (uint32_t) day);
    k.mv_data = key;
    k.mv_size = len + 5;
    return k;
}

/* Is `k` a bars key of `ticker`? Then *day is its day. */
static int
bs_key_of(const MDB_val *k, const char *ticker, size_t len, prt_day_t *day)
{
    const uint8_t *p = k->mv_data;

    if (k->mv_size != len + 5 || memcmp(p, ticker, len) != 0 || p[len] != 0) {
        return 0;
    }
    *day = (prt_day_t) bs_get_u32be(p + len + 1);
    return 1;
}

/* ---- varints ---- */

static inline uint8_t *
bs_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t) v;
    return p;
}

static inline const uint8_t *
bs_get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    unsigned shift;

    for (shift = 0; p < end && shift < 64; shift += 7) {
        uint8_t b = *p++;

        r |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return p;
        }
    }
    return NULL;
}

static inline uint64_t
bs_zigzag(int64_t v)
{
    return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static inline int64_t
bs_unzigzag(uint64_t u)
{
    return (int64_t) (u >> 1) ^ -(int64_t) (u & 1);
}

static inline uint8_t *
bs_put_f64(uint8_t *p, double v)
{
    memcpy(p, &v, 8);
    return p + 8;
}

/* ---- encoder ---- */

/* Price in ticks of 10^-scale, if that reproduces it exactly. */
static inline int
bs_ticks(double price, unsigned scale, int64_t *ticks)
{
    double x = price * bs_pow10[scale];

    if (!(x < BS_TICKS_LIMIT)) {
        return -1;
    }
    *ticks = llrint(x);
    return (double) *ticks / bs_pow10[scale] == price ? 0 : -1;
}

static inline int
bs_volume_is_integer(double v)
{
    return v < BS_VOLUME_LIMIT && (double) (uint64_t) v == v;
}

/* Fewest decimals that reproduce every price; -1 if there are none. */
static int
bs_pick_scale(const prt_bar_t *bars, size_t n)
{
    unsigned scale = 0;
    size_t   i;
    int      j;
    int64_t  t;

    for (i = 0; i < n; i++) {
        double p[4] = { bars[i].open, bars[i].high, bars[i].low,
                        bars[i].close };

        for (j = 0; j < 4; j++) {
            while (bs_ticks(p[j], scale, &t) != 0) {
                if (++scale > BS_SCALE_MAX) {
                    return -1;
                }
            }
        }
    }
    return (int) scale;
}

static unsigned
bs_pick_format(const prt_bar_t *bars, size_t n, unsigned *scale)
{
    unsigned flags = 0;
    int      s = bs_pick_scale(bars, n);
    size_t   i;

    if (s < 0) {
        flags |= BS_F_RAW_PRICE;
        s = 0;
    }
    *scale = (unsigned) s;
    for (i = 0; i < n; i++) {
        if (!bs_volume_is_integer(bars[i].volume)) {
            flags |= BS_F_RAW_VOLUME;
            break;
        }
    }
    return flags;
}

static void
bs_enc_begin(bs_enc_t *e, uint8_t *buf, size_t cap, unsigned flags,
    unsigned scale)
{
    e->start = buf;
    e->p = buf + BS_HDR_SIZE;
    e->end = buf + cap;
    e->flags = flags;
    e->scale = scale;
    e->n = 0;
    e->prev_minute = PRT_MINUTE_FIRST - 1;
    e->prev_close = 0;
    e->last_close = 0;
}

static uint8_t *
bs_enc_prices(const bs_enc_t *e, uint8_t *p, const prt_bar_t *b,
    int64_t *close)
{
    int64_t c, o, h, l;

    if (e->flags & BS_F_RAW_PRICE) {
        p = bs_put_f64(p, b->close);
        p = bs_put_f64(p, b->open);
        p = bs_put_f64(p, b->high);
        return bs_put_f64(p, b->low);
    }
    if (bs_ticks(b->close, e->scale, &c) || bs_ticks(b->open, e->scale, &o)
        || bs_ticks(b->high, e->scale, &h) || bs_ticks(b->low, e->scale, &l))
    {
        return NULL;
    }
    p = bs_put_varint(p, bs_zigzag(c - e->prev_close));
    p = bs_put_varint(p, bs_zigzag(o - c));
    p = bs_put_varint(p, bs_zigzag(h - (o > c ? o : c)));
    p = bs_put_varint(p, bs_zigzag((o < c ? o : c) - l));
    *close = c;
    return p;
}

/* Appends one bar; -1 (encoder unchanged) if it does not fit the format. */
static int
bs_enc_bar(bs_enc_t *e, const prt_bar_t *b)
{
    uint8_t *p = e->p;
    int64_t  close = 0;

    if (e->end - p < BS_BAR_MAX || b->minute <= e->prev_minute
        || b->minute > PRT_MINUTE_LAST || e->n >= PRT_BS_DAY_BARS)
    {
        return -1;
    }
    p = bs_put_varint(p, (uint64_t) (b->minute - e->prev_minute - 1));
    if ((p = bs_enc_prices(e, p, b, &close)) == NULL) {
        return -1;
    }
    if (e->flags & BS_F_RAW_VOLUME) {
        p = bs_put_f64(p, b->volume);
    } else if (bs_volume_is_integer(b->volume)) {
        p = bs_put_varint(p, (uint64_t) b->volume);
    } else {
        return -1;
    }
    e->p = bs_put_varint(p, b->transactions);
    e->n++;
    e->prev_minute = b->minute;
    e->prev_close = close;
    e->last_close = b->close;
    return 0;
}

static size_t
bs_enc_finish(bs_enc_t *e)
{
    uint8_t  *h = e->start;
    uint16_t  n = (uint16_t) e->n, last = (uint16_t) e->prev_minute;

    h[0] = BS_VERSION;
    h[1] = (uint8_t) e->flags;
    h[2] = (uint8_t) e->scale;
    h[3] = 0;
    memcpy(h + 4, &n, 2);
    memcpy(h + 6, &last, 2);
    memcpy(h + 8, &e->last_close, 8);
    return (size_t) (e->p - e->start);
}

static int
bs_hdr_parse(const void *value, size_t len, bs_hdr_t *h)
{
    const uint8_t *v = value;
    uint16_t       n, last;

    if (len < BS_HDR_SIZE || v[0] != BS_VERSION || v[2] > BS_SCALE_MAX
        || (v[1] & ~(BS_F_RAW_PRICE | BS_F_RAW_VOLUME)) != 0)
    {
        return -1;
    }
    memcpy(&n, v + 4, 2);
    memcpy(&last, v + 6, 2);
    if (n == 0 || n > PRT_BS_DAY_BARS || last < PRT_MINUTE_FIRST
        || last > PRT_MINUTE_LAST)
    {
        return -1;
    }
    h->flags = v[1];
    h->scale = v[2];
    h->n = n;
    h->last_minute = last;
    memcpy(&h->last_close, v + 8, 8);
    return 0;
}

/* Continue encoding after the bars of a stored value (copied to buf). */
static int
bs_enc_resume(bs_enc_t *e, uint8_t *buf, size_t cap, const MDB_val *old)
{
    bs_hdr_t h;

    if (bs_hdr_parse(old->mv_data, old->mv_size, &h) != 0
        || old->mv_size > cap)
    {
        return -1;
    }
    bs_enc_begin(e, buf, cap, h.flags, h.scale);
    memcpy(buf, old->mv_data, old->mv_size);
    e->p = buf + old->mv_size;
    e->n = h.n;
    e->prev_minute = h.last_minute;
    e->last_close = h.last_close;
    if (!(h.flags & BS_F_RAW_PRICE)
        && bs_ticks(h.last_close, h.scale, &e->prev_close) != 0)
    {
        return -1;
    }
    return 0;
}

static size_t
bs_encode_as(const prt_bar_t *bars, size_t n, uint8_t *out, size_t cap,
    unsigned flags, unsigned scale)
{
    bs_enc_t e;
    size_t   i;

    if (cap < BS_HDR_SIZE) {
        return 0;
    }
    bs_enc_begin(&e, out, cap, flags, scale);
    for (i = 0; i < n; i++) {
        if (bs_enc_bar(&e, &bars[i]) != 0) {
            return 0;
        }
    }
    return bs_enc_finish(&e);
}

size_t
prt_bs_encode(const prt_bar_t *bars, size_t n, uint8_t *out, size_t cap)
{
    unsigned scale, flags;
    size_t   len;

    if (n == 0 || n > PRT_BS_DAY_BARS) {
        return 0;
    }
    flags = bs_pick_format(bars, n, &scale);
    len = bs_encode_as(bars, n, out, cap, flags, scale);
    if (len == 0 && !(flags & BS_F_RAW_PRICE)) {
        /* Not expected (the scale was checked on every price), but raw
           doubles always fit: exactness over size. */
        len = bs_encode_as(bars, n, out, cap, flags | BS_F_RAW_PRICE, 0);
    }
    return len;
}

/* ---- decoder ---- */

static const uint8_t *
bs_dec_prices(const bs_hdr_t *h, const uint8_t *p, const uint8_t *end,
    int64_t *prev_close, prt_bar_t *b)
{
    uint64_t u[4];
    int64_t  c, o, hi, lo;
    double   pw = bs_pow10[h->scale];
    int      j;

    if (h->flags & BS_F_RAW_PRICE) {
        if (end - p < 32) {
            return NULL;
        }
        memcpy(&b->close, p, 8);
        memcpy(&b->open, p + 8, 8);
        memcpy(&b->high, p + 16, 8);
        memcpy(&b->low, p + 24, 8);
        return p + 32;
    }
    for (j = 0; j < 4; j++) {
        if ((p = bs_get_varint(p, end, &u[j])) == NULL) {
            return NULL;
        }
    }
    /* Unsigned arithmetic: corrupt input wraps instead of overflowing. */
    c = (int64_t) ((uint64_t) *prev_close + (uint64_t) bs_unzigzag(u[0]));
    o = (int64_t) ((uint64_t) c + (uint64_t) bs_unzigzag(u[1]));
    hi = (int64_t) ((uint64_t) (o > c ? o : c) + (uint64_t) bs_unzigzag(u[2]));
    lo = (int64_t) ((uint64_t) (o < c ? o : c) - (uint64_t) bs_unzigzag(u[3]));
    *prev_close = c;
    b->close = (double) c / pw;
    b->open = (double) o / pw;
    b->high = (double) hi / pw;
    b->low = (double) lo / pw;
    return p;
}

static const uint8_t *
bs_dec_bar(const bs_hdr_t *h, const uint8_t *p, const uint8_t *end,
    int32_t *minute, int64_t *prev_close, prt_bar_t *b)
{
    int64_t  room = (int64_t) PRT_MINUTE_LAST - *minute - 1;
    uint64_t u;

    if (room < 0 || (p = bs_get_varint(p, end, &u)) == NULL
        || u > (uint64_t) room)
    {
        return NULL;
    }
    *minute += (int32_t) u + 1;
    b->minute = *minute;
    if ((p = bs_dec_prices(h, p, end, prev_close, b)) == NULL) {
        return NULL;
    }
    if (h->flags & BS_F_RAW_VOLUME) {
        if (end - p < 8) {
            return NULL;
        }
        memcpy(&b->volume, p, 8);
        p += 8;
    } else {
        if ((p = bs_get_varint(p, end, &u)) == NULL) {
            return NULL;
        }
        b->volume = (double) u;
    }
    if ((p = bs_get_varint(p, end, &u)) == NULL || u > UINT32_MAX) {
        return NULL;
    }
    b->transactions = (uint32_t) u;
    return p;
}

int
prt_bs_decode(const void *value, size_t len, prt_bar_t *bars, size_t cap)
{
    const uint8_t *p = (const uint8_t *) value + BS_HDR_SIZE;
    const uint8_t *end = (const uint8_t *) value + len;
    bs_hdr_t       h;
    int32_t        minute = PRT_MINUTE_FIRST - 1;
    int64_t        close = 0;
    uint32_t       i;

    if (bs_hdr_parse(value, len, &h) != 0 || h.n > cap) {
        return -1;
    }
    for (i = 0; i < h.n; i++) {
        p = bs_dec_bar(&h, p, end, &minute, &close, &bars[i]);
        if (p == NULL) {
            return -1;
        }
    }
    return p == end && minute == h.last_minute ? (int) h.n : -1;
}

/* ---- validation at the boundary ---- */

static int
bs_price_ok(double p)
{
    /* Zero is refused too: no trade prints at 0, and ln(c) must exist. */
    return isfinite(p) && p > 0;
}

static int
bs_check_bar(const prt_bs_group_t *g, size_t i)
{
    const prt_bar_t *b = &g->bars[i];
    char             date[16];

    if (b->minute < PRT_MINUTE_FIRST || b->minute > PRT_MINUTE_LAST) {
        return prt_kv_set_error(PRT_BS_EINVAL, "bars: %s %s bar #%zu: minute "
                                "%d outside [%d, %d]", g->ticker,
                                bs_date(g->day, date), i, (int) b->minute,
                                PRT_MINUTE_FIRST, PRT_MINUTE_LAST);
    }
    if (!bs_price_ok(b->open) || !bs_price_ok(b->high)
        || !bs_price_ok(b->low) || !bs_price_ok(b->close))
    {
        return prt_kv_set_error(PRT_BS_EINVAL, "bars: %s %s minute %d: price "
                                "not a positive finite number (o %g h %g l %g "
                                "c %g)", g->ticker, bs_date(g->day, date),
                                (int) b->minute, b->open, b->high, b->low,
                                b->close);
    }
    if (!isfinite(b->volume) || b->volume < 0) {
        return prt_kv_set_error(PRT_BS_EINVAL, "bars: %s %s minute %d: volume "
                                "%g", g->ticker, bs_date(g->day, date),
                                (int) b->minute, b->volume);
    }
    return 0;
}

static int
bs_check_group(const prt_bs_group_t *g)
{
    size_t i;
    int    rc;

    if ((rc = bs_check_key(g->ticker, g->day)) != 0) {
        return rc;
    }
    if (g->n > 0 && g->bars == NULL) {
        return prt_kv_set_error(PRT_BS_EINVAL, "bars: %s: no bar array",
                                g->ticker);
    }
    for (i = 0; i < g->n; i++) {
        if ((rc = bs_check_bar(g, i)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- merging one group ---- */

/* Incoming bars by minute, the last of a repeated minute wins. */
static void
bs_slots_fill(prt_barstore_t *bs, const prt_bar_t *bars, size_t n,
    int32_t *first)
{
    size_t i;

    memset(bs->have, 0, sizeof(bs->have));
    *first = PRT_MINUTE_END;
    for (i = 0; i < n; i++) {
        int32_t s = bars[i].minute - PRT_MINUTE_FIRST;

        bs->slot[s] = bars[i];
        bs->have[s] = 1;
        if (bars[i].minute < *first) {
            *first = bars[i].minute;
        }
    }
}

/* Stored bars go where no incoming bar is: a corrected bar replaces. */
static void
bs_slots_under(prt_barstore_t *bs, const prt_bar_t *bars, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        int32_t s = bars[i].minute - PRT_MINUTE_FIRST;

        if (!bs->have[s]) {
            bs->slot[s] = bars[i];
            bs->have[s] = 1;
        }
    }
}

static size_t
bs_slots_collect(prt_barstore_t *bs)
{
    size_t s, n = 0;

    for (s = 0; s < PRT_BS_DAY_BARS; s++) {
        if (bs->have[s]) {
            bs->merged[n++] = bs->slot[s];
        }
    }
    return n;
}

/*
 * The live feed's common case: every incoming bar is after the stored
 * ones, so the stored bytes are kept and the new bars appended.
 */
static int
bs_try_append(prt_barstore_t *bs, const MDB_val *old, int32_t first,
    size_t *len, uint32_t *n)
{
    bs_enc_t e;
    bs_hdr_t h;
    size_t   i, m;

    if (bs_hdr_parse(old->mv_data, old->mv_size, &h) != 0
        || first <= h.last_minute
        || bs_enc_resume(&e, bs->value, sizeof(bs->value), old) != 0)
    {
        return -1;
    }
    m = bs_slots_collect(bs);
    for (i = 0; i < m; i++) {
        if (bs_enc_bar(&e, &bs->merged[i]) != 0) {
            return -1;
        }
    }
    *n = e.n;
    *len = bs_enc_finish(&e);
    return 0;
}

/* The new value of a group into bs->value; *n = 0 means "no bars". */
static int
bs_build_value(bs_put_ctx_t *ctx, const prt_bs_group_t *g,
    const MDB_val *old, size_t *len, uint32_t *n)
{
    prt_barstore_t *bs = ctx->bs;
    char            date[16];
    int32_t         first;
    int             n_old;
    size_t          m;

    bs_slots_fill(bs, g->bars, g->n, &first);
    if (ctx->mode == PRT_BS_MERGE && old->mv_size > 0) {
        if (bs_try_append(bs, old, first, len, n) == 0) {
            return 0;
        }
        n_old = prt_bs_decode(old->mv_data, old->mv_size, bs->merged,
                              PRT_BS_DAY_BARS);
        if (n_old < 0) {
            return prt_kv_set_error(PRT_KV_ERROR, "bars: %s %s: stored value "
                                    "is corrupt", g->ticker,
                                    bs_date(g->day, date));
        }
        bs_slots_under(bs, bs->merged, (size_t) n_old);
    }
    m = bs_slots_collect(bs);
    *n = (uint32_t) m;
    *len = 0;
    if (m > 0) {
        *len = prt_bs_encode(bs->merged, m, bs->value, sizeof(bs->value));
        if (*len == 0) {
            return prt_kv_set_error(PRT_KV_ERROR, "bars: %s %s: cannot encode "
                                    "%zu bars", g->ticker,
                                    bs_date(g->day, date), m);
        }
    }
    return 0;
}

/* ---- the days and tickers databases ---- */

static int
bs_flush_deltas(bs_put_ctx_t *ctx, MDB_txn *txn)
{
    MDB_dbi  dbi = ctx->bs->dbi[BS_DB_DAYS];
    uint8_t  key[4], rec[16];
    MDB_val  k = { sizeof(key), key }, v;
    uint32_t tickers, zero = 0;
    uint64_t bars;
    unsigned i;
    int      rc;

    for (i = 0; i < ctx->n_deltas; i++) {
        bs_delta_t *d = &ctx->deltas[i];

        bs_put_u32be(key, (uint32_t) d->day);
        tickers = 0;
        bars = 0;
        rc = mdb_get(txn, dbi, &k, &v);
        if (rc == 0 && v.mv_size != sizeof(rec)) {
            return prt_kv_set_error(PRT_KV_ERROR, "bars: corrupt days entry "
                                    "for day %d", (int) d->day);
        }
        if (rc == 0) {
            memcpy(&tickers, v.mv_data, 4);
            memcpy(&bars, (uint8_t *) v.mv_data + 8, 8);
        } else if (rc != MDB_NOTFOUND) {
            return prt_kv_fail(rc, "bars: read day %d", (int) d->day);
        }
        tickers = (uint32_t) ((int64_t) tickers + d->tickers);
        bars = (uint64_t) ((int64_t) bars + d->bars);
        if (tickers == 0) {
            rc = mdb_del(txn, dbi, &k, NULL);
            rc = rc == MDB_NOTFOUND ? 0 : rc;
        } else {
            memcpy(rec, &tickers, 4);
            memcpy(rec + 4, &zero, 4);
            memcpy(rec + 8, &bars, 8);
            v.mv_data = rec;
            v.mv_size = sizeof(rec);
            rc = mdb_put(txn, dbi, &k, &v, 0);
        }
        if (rc != 0) {
            return prt_kv_fail(rc, "bars: write day %d", (int) d->day);
        }
    }
    ctx->n_deltas = 0;
    return 0;
}

/* Per-day counts change by many groups of a batch: add up, write once. */
static int
bs_note_day(bs_put_ctx_t *ctx, MDB_txn *txn, prt_day_t day,
    int64_t tickers, int64_t bars)
{
    unsigned i;
    int      rc;

    if (tickers == 0 && bars == 0) {
        return 0;
    }
    for (i = 0; i < ctx->n_deltas; i++) {
        if (ctx->deltas[i].day == day) {
            break;
        }
    }
    if (i == ctx->n_deltas) {
        if (i == BS_DELTAS) {
            if ((rc = bs_flush_deltas(ctx, txn)) != 0) {
                return rc;
            }
            i = 0;
        }
        ctx->deltas[i].day = day;
        ctx->deltas[i].tickers = 0;
        ctx->deltas[i].bars = 0;
        ctx->n_deltas = i + 1;
    }
    ctx->deltas[i].tickers += tickers;
    ctx->deltas[i].bars += bars;
    return 0;
}

static int
bs_get_latest(MDB_txn *txn, MDB_dbi dbi, const char *ticker,
    prt_bs_latest_t *out)
{
    MDB_val k = { strlen(ticker), (void *) ticker }, v;
    int     rc = mdb_get(txn, dbi, &k, &v);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return prt_kv_fail(rc, "bars: read latest of %s", ticker);
    }
    if (v.mv_size != 16) {
        return prt_kv_set_error(PRT_KV_ERROR, "bars: latest of %s is "
                                "corrupt", ticker);
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->ticker, ticker, k.mv_size);
    memcpy(&out->day, v.mv_data, 4);
    memcpy(&out->minute, (uint8_t *) v.mv_data + 4, 4);
    memcpy(&out->close, (uint8_t *) v.mv_data + 8, 8);
    return 1;
}

static int
bs_set_latest(MDB_txn *txn, MDB_dbi dbi, const char *ticker, prt_day_t day,
    const bs_hdr_t *h)
{
    uint8_t rec[16];
    MDB_val k = { strlen(ticker), (void *) ticker }, v = { sizeof(rec), rec };
    int32_t minute = h->last_minute;
    int     rc;

    memcpy(rec, &day, 4);
    memcpy(rec + 4, &minute, 4);
    memcpy(rec + 8, &h->last_close, 8);
    rc = mdb_put(txn, dbi, &k, &v, 0);
    return rc == 0 ? 0 : prt_kv_fail(rc, "bars: write latest of %s", ticker);
}

static int bs_latest_day_in(prt_barstore_t *bs, MDB_txn *txn,
    const char *ticker, prt_day_t *day, MDB_val *value);

/* The latest day was emptied by a replace: fall back to the one before. */
static int
bs_recompute_latest(prt_barstore_t *bs, MDB_txn *txn, const char *ticker)
{
    MDB_dbi   dbi = bs->dbi[BS_DB_TICKERS];
    MDB_val   k = { strlen(ticker), (void *) ticker }, v;
    bs_hdr_t  h;
    prt_day_t day;
    int       rc;

    rc = bs_latest_day_in(bs, txn, ticker, &day, &v);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        rc = mdb_del(txn, dbi, &k, NULL);
        return rc == 0 || rc == MDB_NOTFOUND
               ? 0 : prt_kv_fail(rc, "bars: delete latest of %s", ticker);
    }
    if (bs_hdr_parse(v.mv_data, v.mv_size, &h) != 0) {
        return prt_kv_set_error(PRT_KV_ERROR, "bars: %s day %d: stored value "
                                "is corrupt", ticker, (int) day);
    }
    return bs_set_latest(txn, dbi, ticker, day, &h);
}

static int
bs_update_latest(bs_put_ctx_t *ctx, MDB_txn *txn, const prt_bs_group_t *g,
    size_t len, uint32_t n)
{
    MDB_dbi         dbi = ctx->bs->dbi[BS_DB_TICKERS];
    prt_bs_latest_t cur;
    bs_hdr_t        h;
    int             found;

    if ((found = bs_get_latest(txn, dbi, g->ticker, &cur)) < 0) {
        return found;
    }
    if (found && g->day < cur.day) {
        return 0;
    }
    if (n == 0) {
        return found && g->day == cur.day
               ? bs_recompute_latest(ctx->bs, txn, g->ticker) : 0;
    }
    if (bs_hdr_parse(ctx->bs->value, len, &h) != 0) {
        return prt_kv_set_error(PRT_KV_ERROR, "bars: %s: bad new value",
                                g->ticker);
    }
    return bs_set_latest(txn, dbi, g->ticker, g->day, &h);
}

/* ---- writes ---- */

static int
bs_old_count(const MDB_val *old, const prt_bs_group_t *g, uint32_t *n)
{
    bs_hdr_t h;
    char     date[16];

    *n = 0;
    if (old->mv_size == 0) {
        return 0;
    }
    if (bs_hdr_parse(old->mv_data, old->mv_size, &h) != 0) {
        return prt_kv_set_error(PRT_KV_ERROR, "bars: %s %s: stored value is "
                                "corrupt", g->ticker, bs_date(g->day, date));
    }
    *n = h.n;
    return 0;
}

static int
bs_store_value(bs_put_ctx_t *ctx, MDB_txn *txn, MDB_val *k, int existed,
    size_t len, uint32_t n, const prt_bs_group_t *g)
{
    MDB_val v = { len, ctx->bs->value };
    char    date[16];
    int     rc;

    if (n > 0) {
        rc = mdb_put(txn, ctx->bs->dbi[BS_DB_BARS], k, &v, 0);
    } else if (existed) {
        rc = mdb_del(txn, ctx->bs->dbi[BS_DB_BARS], k, NULL);
    } else {
        return 0;
    }
    return rc == 0 ? 0 : prt_kv_fail(rc, "bars: write %s %s", g->ticker,
                                      bs_date(g->day, date));
}

static int
bs_put_group(bs_put_ctx_t *ctx, MDB_txn *txn, const prt_bs_group_t *g)
{
    uint8_t  key[BS_KEY_MAX];
    MDB_val  k = bs_bars_key(key, g->ticker, g->day), old;
    char     date[16];
    uint32_t n_old = 0, n_new = 0;
    size_t   len = 0;
    int      rc;

    if (ctx->mode == PRT_BS_MERGE && g->n == 0) {
        return 0;
    }
    rc = mdb_get(txn, ctx->bs->dbi[BS_DB_BARS], &k, &old);
    if (rc == MDB_NOTFOUND) {
        old.mv_size = 0;
        old.mv_data = NULL;
    } else if (rc != 0) {
        return prt_kv_fail(rc, "bars: read %s %s", g->ticker,
                           bs_date(g->day, date));
    }
    if ((rc = bs_old_count(&old, g, &n_old)) != 0
        || (rc = bs_build_value(ctx, g, &old, &len, &n_new)) != 0
        || (rc = bs_store_value(ctx, txn, &k, n_old > 0, len, n_new, g)) != 0)
    {
        return rc;
    }
    rc = bs_note_day(ctx, txn, g->day, (int64_t) (n_new > 0) - (n_old > 0),
                     (int64_t) n_new - n_old);
    return rc != 0 ? rc : bs_update_latest(ctx, txn, g, len, n_new);
}

static int
bs_put_txn(MDB_txn *txn, void *arg)
{
    bs_put_ctx_t *ctx = arg;
    size_t        i;
    int           rc;

    ctx->n_deltas = 0;          /* the callback reruns after a map growth */
    for (i = 0; i < ctx->n_groups; i++) {
        if ((rc = bs_put_group(ctx, txn, &ctx->groups[i])) != 0) {
            return rc;
        }
    }
    return bs_flush_deltas(ctx, txn);
}

int
prt_barstore_put(prt_barstore_t *bs, const prt_bs_group_t *groups,
    size_t n_groups, prt_bs_mode_t mode)
{
    bs_put_ctx_t ctx;
    size_t       i;
    int          rc;

    if (mode != PRT_BS_MERGE && mode != PRT_BS_REPLACE) {
        return prt_kv_set_error(PRT_BS_EINVAL, "bars: bad put mode %d",
                                (int) mode);
    }
    for (i = 0; i < n_groups; i++) {
        if ((rc = bs_check_group(&groups[i])) != 0) {
            return rc;
        }
    }
    ctx.bs = bs;
    ctx.groups = groups;
    ctx.n_groups = n_groups;
    ctx.mode = mode;
    ctx.n_deltas = 0;
    pthread_mutex_lock(&bs->write_lock);
    rc = prt_kv_write(bs->kv, bs_put_txn, &ctx);
    pthread_mutex_unlock(&bs->write_lock);
    return rc;
}

int
prt_barstore_put_day(prt_barstore_t *bs, const char *ticker, prt_day_t day,
    const prt_bar_t *bars, size_t n, prt_bs_mode_t mode)
{
    prt_bs_group_t g = { ticker, day, bars, n };

    return prt_barstore_put(bs, &g, 1, mode);
}

/* ---- reads ---- */

int
prt_barstore_read(prt_barstore_t *bs, prt_kv_txn_fn fn, void *ctx)
{
    return prt_kv_read(bs->kv, fn, ctx);
}

int
prt_barstore_get_day(prt_barstore_t *bs, MDB_txn *txn, const char *ticker,
    prt_day_t day, prt_bar_t *bars, size_t cap)
{
    uint8_t key[BS_KEY_MAX];
    MDB_val k, v;
    char    date[16];
    int     rc, n;

    if ((rc = bs_check_key(ticker, day)) != 0) {
        return rc;
    }
    k = bs_bars_key(key, ticker, day);
    rc = mdb_get(txn, bs->dbi[BS_DB_BARS], &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return prt_kv_fail(rc, "bars: read %s %s", ticker, bs_date(day, date));
    }
    if ((n = prt_bs_decode(v.mv_data, v.mv_size, bars, cap)) < 0) {
        return prt_kv_set_error(PRT_KV_ERROR, "bars: %s %s: corrupt value or "
                                "room for only %zu bars", ticker,
                                bs_date(day, date), cap);
    }
    return n;
}

static int
bs_cursor(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur)
{
    int rc = mdb_cursor_open(txn, dbi, cur);

    return rc == 0 ? 0 : prt_kv_fail(rc, "bars: open cursor");
}

/* Steps a cursor; 1 positioned, 0 at the end, < 0 error. */
static int
bs_step(MDB_cursor *cur, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
    int rc = mdb_cursor_get(cur, k, v, op);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    return rc == 0 ? 1 : prt_kv_fail(rc, "bars: cursor");
}

int
prt_barstore_days(prt_barstore_t *bs, MDB_txn *txn, const char *ticker,
    prt_day_t from, prt_day_t to, prt_day_t *days, size_t cap)
{
    uint8_t     key[BS_KEY_MAX];
    MDB_cursor *cur;
    MDB_val     k, v;
    prt_day_t   day;
    size_t      len, n = 0;
    int         rc;

    from = from < 0 ? 0 : from;
    if ((rc = bs_check_key(ticker, from)) != 0) {
        return rc;
    }
    if ((rc = bs_cursor(txn, bs->dbi[BS_DB_BARS], &cur)) != 0) {
        return rc;
    }
    len = strlen(ticker);
    k = bs_bars_key(key, ticker, from);
    rc = bs_step(cur, &k, &v, MDB_SET_RANGE);
    while (rc > 0 && n < cap && bs_key_of(&k, ticker, len, &day)
           && day <= to)
    {
        days[n++] = day;
        rc = bs_step(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc < 0 ? rc : (int) n;
}

/* Last key of the ticker: seek past its largest possible day, step back. */
static int
bs_latest_day_in(prt_barstore_t *bs, MDB_txn *txn, const char *ticker,
    prt_day_t *day, MDB_val *value)
{
    uint8_t     key[BS_KEY_MAX];
    MDB_cursor *cur;
    MDB_val     k;
    int         rc;

    if ((rc = bs_cursor(txn, bs->dbi[BS_DB_BARS], &cur)) != 0) {
        return rc;
    }
    k = bs_bars_key(key, ticker, (prt_day_t) PRT_BS_DAY_MAX + 1);
    rc = bs_step(cur, &k, value, MDB_SET_RANGE);
    if (rc >= 0) {
        rc = bs_step(cur, &k, value, rc > 0 ? MDB_PREV : MDB_LAST);
    }
    if (rc > 0) {
        rc = bs_key_of(&k, ticker, strlen(ticker), day);
    }
    mdb_cursor_close(cur);
    return rc;
}

int
prt_barstore_latest_day(prt_barstore_t *bs, MDB_txn *txn, const char *ticker,
    prt_day_t *day)
{
    MDB_val v;
    int     rc;

    if ((rc = bs_check_key(ticker, 0)) != 0) {
        return rc;
    }
    return bs_latest_day_in(bs, txn, ticker, day, &v);
}

int
prt_barstore_latest(prt_barstore_t *bs, MDB_txn *txn, const char *ticker,
    prt_bs_latest_t *latest)
{
    int rc;

    if ((rc = bs_check_key(ticker, 0)) != 0) {
        return rc;
    }
    return bs_get_latest(txn, bs->dbi[BS_DB_TICKERS], ticker, latest);
}

static int
bs_date_of(const MDB_val *k, const MDB_val *v, prt_bs_date_t *d)
{
    if (k->mv_size != 4 || v->mv_size != 16) {
        return prt_kv_set_error(PRT_KV_ERROR, "bars: corrupt days entry");
    }
    d->day = (prt_day_t) bs_get_u32be(k->mv_data);
    memcpy(&d->tickers, v->mv_data, 4);
    memcpy(&d->bars, (uint8_t *) v->mv_data + 8, 8);
    return 0;
}

int
prt_barstore_dates(prt_barstore_t *bs, MDB_txn *txn, prt_day_t from,
    prt_day_t to, prt_bs_date_t *dates, size_t cap)
{
    uint8_t     key[4];
    MDB_cursor *cur;
    MDB_val     k = { sizeof(key), key }, v;
    size_t      n = 0;
    int         rc;

    if ((rc = bs_cursor(txn, bs->dbi[BS_DB_DAYS], &cur)) != 0) {
        return rc;
    }
    bs_put_u32be(key, (uint32_t) (from < 0 ? 0 : from));
    rc = bs_step(cur, &k, &v, MDB_SET_RANGE);
    while (rc > 0 && n < cap) {
        if ((rc = bs_date_of(&k, &v, &dates[n])) != 0) {
            break;
        }
        if (dates[n].day > to) {
            break;
        }
        n++;
        rc = bs_step(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc < 0 ? rc : (int) n;
}

int
prt_barstore_foreach_ticker(prt_barstore_t *bs, MDB_txn *txn,
    prt_bs_ticker_fn fn, void *ctx)
{
    MDB_cursor     *cur;
    MDB_val         k, v;
    prt_bs_latest_t l;
    int             rc;

    if ((rc = bs_cursor(txn, bs->dbi[BS_DB_TICKERS], &cur)) != 0) {
        return rc;
    }
    for (rc = bs_step(cur, &k, &v, MDB_FIRST); rc > 0;
         rc = bs_step(cur, &k, &v, MDB_NEXT))
    {
        if (k.mv_size == 0 || k.mv_size > PRT_TICKER_LEN || v.mv_size != 16) {
            rc = prt_kv_set_error(PRT_KV_ERROR, "bars: corrupt tickers entry");
            break;
        }
        memset(&l, 0, sizeof(l));
        memcpy(l.ticker, k.mv_data, k.mv_size);
        memcpy(&l.day, v.mv_data, 4);
        memcpy(&l.minute, (uint8_t *) v.mv_data + 4, 4);
        memcpy(&l.close, (uint8_t *) v.mv_data + 8, 8);
        if ((rc = fn(&l, ctx)) != 0) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

typedef struct {
    prt_barstore_t *bs;
    const char     *ticker;
    prt_day_t       day;
    prt_bar_t      *bars;
    size_t          cap;
    int             n;
} bs_load_ctx_t;

static int
bs_load_txn(MDB_txn *txn, void *arg)
{
    bs_load_ctx_t *c = arg;

    c->n = prt_barstore_get_day(c->bs, txn, c->ticker, c->day, c->bars,
                                c->cap);
    return c->n < 0 ? c->n : 0;
}

int
prt_barstore_load_day(prt_barstore_t *bs, const char *ticker, prt_day_t day,
    prt_bar_t *bars, size_t cap)
{
    bs_load_ctx_t c = { bs, ticker, day, bars, cap, 0 };
    int           rc = prt_kv_read(bs->kv, bs_load_txn, &c);

    return rc != 0 ? rc : c.n;
}

typedef struct {
    prt_barstore_t *bs;
    prt_bs_stats_t *st;
} bs_stats_ctx_t;

static int
bs_stats_txn(MDB_txn *txn, void *arg)
{
    bs_stats_ctx_t *c = arg;
    MDB_cursor     *cur;
    MDB_val         k, v;
    prt_bs_date_t   d = { 0, 0, 0 };
    int             rc;

    c->st->bars = 0;
    if ((rc = bs_cursor(txn, c->bs->dbi[BS_DB_DAYS], &cur)) != 0) {
        return rc;
    }
    for (rc = bs_step(cur, &k, &v, MDB_FIRST); rc > 0;
         rc = bs_step(cur, &k, &v, MDB_NEXT))
    {
        if ((rc = bs_date_of(&k, &v, &d)) != 0) {
            break;
        }
        c->st->bars += d.bars;
    }
    mdb_cursor_close(cur);
    return rc;
}

int
prt_barstore_stats(prt_barstore_t *bs, prt_bs_stats_t *st)
{
    bs_stats_ctx_t c = { bs, st };
    int            rc;

    memset(st, 0, sizeof(*st));
    if ((rc = prt_kv_stats(bs->kv, &st->kv)) != 0) {
        return rc;
    }
    st->ticker_days = st->kv.db[BS_DB_BARS].entries;
    st->days = st->kv.db[BS_DB_DAYS].entries;
    st->tickers = st->kv.db[BS_DB_TICKERS].entries;
    return prt_kv_read(bs->kv, bs_stats_txn, &c);
}

/* ---- open / close ---- */

int
prt_barstore_open(prt_barstore_t **out, const prt_kv_conf_t *conf)
{
    prt_barstore_t *bs;
    unsigned        i;
    int             rc;

    *out = NULL;
    if ((bs = calloc(1, sizeof(*bs))) == NULL) {
        return prt_kv_set_error(PRT_KV_ERROR, "bars: out of memory");
    }
    if ((rc = pthread_mutex_init(&bs->write_lock, NULL)) != 0) {
        free(bs);
        return prt_kv_set_error(PRT_KV_ERROR, "bars: mutex: %s",
                                strerror(rc));
    }
    if ((rc = prt_kv_open(&bs->kv, conf, bs_db_names, BS_N_DBS)) != 0) {
        pthread_mutex_destroy(&bs->write_lock);
        free(bs);
        return rc;
    }
    for (i = 0; i < BS_N_DBS; i++) {
        bs->dbi[i] = prt_kv_dbi(bs->kv, i);
    }
    *out = bs;
    return 0;
}

void
prt_barstore_close(prt_barstore_t *bs)
{
    if (bs == NULL) {
        return;
    }
    prt_kv_close(bs->kv);
    pthread_mutex_destroy(&bs->write_lock);
    free(bs);
}
