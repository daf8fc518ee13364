/*
 * Synthetic minute bars (see gen.h; the model is documented in docs/data.md).
 *
 * Every random draw comes from a private xoshiro256** generator seeded from
 * (seed, what, ticker, day), never from rand(): a ticker-day's bars depend
 * only on the arguments, not on the order in which things are generated.
 * Prices are kept as integers in units of $0.0001 so rounding to the tick and
 * printing are exact.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "core/args.h"
#include "data/flatfile.h"
#include "tools/generate.h"

#define GEN_OUT_BUF       (256u << 10)
#define GEN_ROW_MAX       160         /* longest row we format */
#define GEN_PATH_MAX      1024
#define GEN_PRICE_UNIT    10000.0     /* integer prices are in $0.0001 */
#define GEN_TICK_CENT     100         /* $0.01 in price units */
#define GEN_NS_PER_S      1000000000LL

/*
 * Model constants (docs/data.md explains the model). Volatilities are
 * standard deviations of one-minute log returns.
 */
#define GEN_P_PENNY        0.06    /* share of names priced $0.20-$1 */
#define GEN_P_SLEEPY       0.06    /* names that move less than a tick */
#define GEN_P_MOMENTUM     0.35    /* regime odds per ticker-day */
#define GEN_P_REVERSION    0.35    /* (the rest is pure noise) */
#define GEN_EMA_RET        0.15    /* momentum: weight of the last return */
#define GEN_EMA_LEVEL      (1.0 / 15.0)  /* reversion: ~15-minute level */
#define GEN_P_JUMP         0.01    /* minutes with a 4x shock */
#define GEN_EXT_VOL        0.6     /* pre/post vol relative to regular */
#define GEN_GAP_VOL        6.0     /* overnight gap in minute vols */
#define GEN_ANCHOR_PULL    0.02    /* daily pull back to the price level */
#define GEN_BUSY_PRE_MIN   510     /* 08:30: the hour before the open */
#define GEN_BUSY_POST_LEN  30      /* minutes after the close still busy */

/* Stream tags keep the random sequences of different purposes apart. */
enum { GEN_STREAM_NAMES = 1, GEN_STREAM_PROFILE, GEN_STREAM_DAY };

/* ------------------------------------------------------------------------ */
/* Random numbers                                                           */

typedef struct {
    uint64_t  s[4];
    double    spare;          /* second Box-Muller normal */
    int       has_spare;
} gen_rng_t;

static uint64_t
gen_splitmix(uint64_t *x)
{
    uint64_t  z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
gen_mix(uint64_t a, uint64_t b)
{
    uint64_t  x = a ^ (b * 0xd6e8feb86659fd93ULL);

    return gen_splitmix(&x);
}

static void
gen_rng_seed(gen_rng_t *r, uint64_t key)
{
    int  i;

    for (i = 0; i < 4; i++) {
        r->s[i] = gen_splitmix(&key);
    }
    r->has_spare = 0;
}

static uint64_t
gen_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
gen_next(gen_rng_t *r)
{
    uint64_t  *s = r->s;
    uint64_t   result = gen_rotl(s[1] * 5, 7) * 9;
    uint64_t   t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = gen_rotl(s[3], 45);
    return result;
}

/* Uniform in (0, 1): never 0, so log() is safe. */
static double
gen_uniform(gen_rng_t *r)
{
    return ((double) (gen_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double
gen_range(gen_rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * gen_uniform(r);
}

static double
gen_log_range(gen_rng_t *r, double lo, double hi)
{
    return exp(gen_range(r, log(lo), log(hi)));
}

static double
gen_normal(gen_rng_t *r)
{
    double  rad, angle;

    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    rad = sqrt(-2.0 * log(gen_uniform(r)));
    angle = 2.0 * M_PI * gen_uniform(r);
    r->spare = rad * sin(angle);
    r->has_spare = 1;
    return rad * cos(angle);
}

/* ------------------------------------------------------------------------ */
/* Ticker universe                                                          */

static uint64_t
gen_name_hash(const char *name)
{
    uint64_t  h = 0xcbf29ce484222325ULL;     /* FNV-1a */

    for (; *name; name++) {
        h = (h ^ (unsigned char) *name) * 0x100000001b3ULL;
    }
    return h;
}

/* Mostly 3-4 letters like the real market; a few share classes (BRK.B). */
static void
gen_draw_name(gen_rng_t *r, char name[PRT_TICKER_SIZE])
{
    static const double  len_cdf[5] = { 0.03, 0.13, 0.50, 0.88, 1.0 };
    double               u = gen_uniform(r);
    int                  len = 1, i;

    while (len < 5 && u > len_cdf[len - 1]) {
        len++;
    }
    memset(name, 0, PRT_TICKER_SIZE);
    for (i = 0; i < len; i++) {
        name[i] = (char) ('A' + gen_next(r) % 26);
    }
    if (len >= 2 && len <= 4 && gen_uniform(r) < 0.03) {
        name[len] = '.';
        name[len + 1] = gen_uniform(r) < 0.5 ? 'A' : 'B';
    }
}

/* Open-addressing set of names, only to reject duplicates while drawing. */
static int
gen_set_insert(uint32_t *slots, uint32_t mask,
    char (*names)[PRT_TICKER_SIZE], uint32_t idx)
{
    uint32_t  i = (uint32_t) gen_name_hash(names[idx]) & mask;

    while (slots[i] != 0) {
        if (strcmp(names[slots[i] - 1], names[idx]) == 0) {
            return 0;
        }
        i = (i + 1) & mask;
    }
    slots[i] = idx + 1;
    return 1;
}

static int
gen_cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

int
prt_gen_ticker_names(uint64_t seed, uint32_t n,
    char (*names)[PRT_TICKER_SIZE])
{
    gen_rng_t  rng;
    uint32_t  *slots, mask = 1, have = 0;

    if (n == 0 || n > PRT_GEN_TICKERS_MAX) {
        return -1;
    }
    while (mask < 2 * n) {
        mask <<= 1;
    }
    slots = calloc(mask, sizeof(*slots));
    if (slots == NULL) {
        return -1;
    }
    mask--;
    gen_rng_seed(&rng, gen_mix(seed, GEN_STREAM_NAMES));
    while (have < n) {
        gen_draw_name(&rng, names[have]);
        have += (uint32_t) gen_set_insert(slots, mask, names, have);
    }
    free(slots);
    qsort(names, n, PRT_TICKER_SIZE, gen_cmp_name);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Ticker and day parameters                                                */

typedef struct {
    char      name[PRT_TICKER_SIZE];
    size_t    name_len;
    uint64_t  key;            /* seed mixed with the name */
    double    anchor;         /* log price the level drifts back to */
    double    vol;            /* log-return sd per regular minute */
    double    liquidity;      /* expected trades per regular minute */
    double    pre_activity;   /* pre-market activity relative to regular */
    double    post_activity;
    double    trade_size;     /* shares per trade */
    double    log_price;      /* carried from day to day */
} gen_ticker_t;

typedef enum {
    GEN_NOISE, GEN_MOMENTUM, GEN_REVERSION
} gen_regime_t;

typedef struct {
    int64_t   day;
    int64_t   start_utc;      /* 00:00 ET in Unix seconds */
    int       regular_close;
    int       post_close;
} gen_session_t;

/* Latent state while a ticker-day is simulated. */
typedef struct {
    gen_rng_t     rng;
    gen_regime_t  regime;
    double        strength;   /* momentum gain or reversion speed */
    double        vol;        /* the ticker's vol times today's mood */
    double        x;          /* latent log price */
    double        ema_ret;    /* recent returns (momentum) */
    double        ema_x;      /* recent log price level (reversion) */
} gen_path_t;

static void
gen_ticker_profile(gen_ticker_t *t, uint64_t seed)
{
    gen_rng_t  r;
    double     price;

    t->name_len = strlen(t->name);
    t->key = gen_mix(seed, gen_name_hash(t->name));
    gen_rng_seed(&r, gen_mix(t->key, GEN_STREAM_PROFILE));
    /* a few penny stocks (sub-cent ticks), the rest $1-$500 */
    price = gen_uniform(&r) < GEN_P_PENNY ? gen_log_range(&r, 0.2, 1.0)
                                          : gen_log_range(&r, 1.0, 500.0);
    t->anchor = t->log_price = log(price);
    t->vol = gen_log_range(&r, 0.0004, 0.0025) * (price < 5 ? 1.5 : 1.0);
    if (gen_uniform(&r) < GEN_P_SLEEPY) {
        /* sleepy names: moves below the tick size, hence flat windows */
        t->vol = gen_log_range(&r, 0.00003, 0.0002);
    }
    t->liquidity = gen_log_range(&r, 0.03, 60.0);
    t->pre_activity = gen_log_range(&r, 0.01, 0.12);
    t->post_activity = gen_log_range(&r, 0.01, 0.15);
    t->trade_size = gen_log_range(&r, 40, 250) * (price < 5 ? 8 : 1);
}

static void
gen_path_start(gen_path_t *p, gen_ticker_t *t, int64_t day)
{
    double  u, gap;

    gen_rng_seed(&p->rng, gen_mix(gen_mix(t->key, GEN_STREAM_DAY),
                                  (uint64_t) day));
    u = gen_uniform(&p->rng);
    if (u < GEN_P_MOMENTUM) {
        p->regime = GEN_MOMENTUM;
        p->strength = gen_range(&p->rng, 0.3, 0.6);
    } else if (u < GEN_P_MOMENTUM + GEN_P_REVERSION) {
        p->regime = GEN_REVERSION;
        p->strength = gen_range(&p->rng, 0.08, 0.25);
    } else {
        p->regime = GEN_NOISE;
        p->strength = 0;
    }
    p->vol = t->vol * exp(0.25 * gen_normal(&p->rng));
    /* overnight gap, pulled gently back to the anchor so levels stay sane */
    gap = GEN_GAP_VOL * t->vol * gen_normal(&p->rng)
          - GEN_ANCHOR_PULL * (t->log_price - t->anchor);
    p->x = p->ema_x = t->log_price + gap;
    p->ema_ret = 0;
}

/* ------------------------------------------------------------------------ */
/* Intraday shape                                                           */

/* Position inside the regular session, -1 at the open .. +1 at the close. */
static double
gen_regular_pos(const gen_session_t *s, int minute)
{
    double  half = (s->regular_close - PRT_REGULAR_OPEN_MIN) / 2.0;

    return (minute - PRT_REGULAR_OPEN_MIN - half + 0.5) / half;
}

/* Trading activity relative to the middle of the regular session. */
static double
gen_activity(const gen_ticker_t *t, const gen_session_t *s, int minute)
{
    double  pos;

    if (minute < PRT_REGULAR_OPEN_MIN) {
        return t->pre_activity * (minute >= GEN_BUSY_PRE_MIN ? 3.0 : 1.0);
    }
    if (minute >= s->regular_close) {
        return t->post_activity
               * (minute < s->regular_close + GEN_BUSY_POST_LEN ? 3.0 : 1.0);
    }
    pos = gen_regular_pos(s, minute);
    return 1.0 + 2.0 * pos * pos;     /* U-shape: busy open and close */
}

static double
gen_minute_vol(const gen_path_t *p, const gen_session_t *s, int minute)
{
    double  pos;

    if (minute < PRT_REGULAR_OPEN_MIN || minute >= s->regular_close) {
        return GEN_EXT_VOL * p->vol;
    }
    pos = gen_regular_pos(s, minute);
    return p->vol * (1.0 + 0.6 * pos * pos);
}

/*
 * One latent minute. The regime adds a predictable part to the return:
 * momentum follows the recent return trend, reversion pulls the price back
 * to its recent level. Rare jumps give fat tails.
 */
static double
gen_step(gen_path_t *p, double sigma)
{
    double  mu = 0, eps, r;

    if (p->regime == GEN_MOMENTUM) {
        mu = p->strength * p->ema_ret;
    } else if (p->regime == GEN_REVERSION) {
        mu = -p->strength * (p->x - p->ema_x);
    }
    eps = gen_normal(&p->rng);
    if (gen_uniform(&p->rng) < GEN_P_JUMP) {
        eps *= 4.0;
    }
    r = mu + sigma * eps;
    p->x += r;
    p->ema_ret += GEN_EMA_RET * (r - p->ema_ret);
    p->ema_x += GEN_EMA_LEVEL * (p->x - p->ema_x);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Bars                                                                     */

typedef struct {
    int64_t   open, high, low, close;     /* $0.0001 units */
    uint64_t  volume;
    uint32_t  transactions;
} gen_bar_t;

static int64_t
gen_round_price(double price, int64_t tick)
{
    int64_t  v = llround(price * GEN_PRICE_UNIT / (double) tick) * tick;

    return v < tick ? tick : v;
}

static int64_t
gen_max3(int64_t a, int64_t b, int64_t c)
{
    int64_t  m = a > b ? a : b;

    return m > c ? m : c;
}

static int64_t
gen_min3(int64_t a, int64_t b, int64_t c)
{
    int64_t  m = a < b ? a : b;

    return m < c ? m : c;
}

/* Prices of a bar from the latent path; a lone trade prints one price. */
static void
gen_bar_prices(gen_path_t *p, double prev_x, double sigma, int single,
    gen_bar_t *b)
{
    double   c = exp(p->x), o, h, l;
    int64_t  tick = c >= 1.0 ? GEN_TICK_CENT : 1;

    b->close = gen_round_price(c, tick);
    if (single) {
        b->open = b->high = b->low = b->close;
        return;
    }
    o = exp(prev_x + 0.1 * sigma * gen_normal(&p->rng));
    h = (o > c ? o : c) * exp(0.4 * sigma * fabs(gen_normal(&p->rng)));
    l = (o < c ? o : c) * exp(-0.4 * sigma * fabs(gen_normal(&p->rng)));
    b->open = gen_round_price(o, tick);
    b->high = gen_max3(gen_round_price(h, tick), b->open, b->close);
    b->low = gen_min3(gen_round_price(l, tick), b->open, b->close);
}

/* Volume grows with activity and with the size of the move. */
static void
gen_bar_volume(gen_path_t *p, const gen_ticker_t *t, double trades,
    double move, int single, gen_bar_t *b)
{
    double  n;

    if (single) {
        b->transactions = 1;
        b->volume = gen_uniform(&p->rng) < 0.6
                    ? 100 * (1 + gen_next(&p->rng) % 5)
                    : 1 + gen_next(&p->rng) % 99;
        return;
    }
    n = trades * (1.0 + 0.5 * move) * exp(0.4 * gen_normal(&p->rng));
    b->transactions = n < 2 ? 2 : (uint32_t) llround(n);
    b->volume = (uint64_t) llround(b->transactions * t->trade_size
                                   * exp(0.5 * gen_normal(&p->rng)));
    if (b->volume < b->transactions) {
        b->volume = b->transactions;
    }
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

/*
 * Formatting and compressing take about the same time, so a writer thread
 * compresses filled buffers while the generator fills the next one. Slots
 * are written strictly in order: the bytes never depend on thread timing.
 */
#define GEN_RING  4

typedef struct {
    gzFile           gz;
    char            *slot[GEN_RING];
    size_t           slot_len[GEN_RING];
    uint64_t         filled;      /* slots handed to the writer */
    uint64_t         written;     /* slots the writer is done with */
    int              closing;     /* the generator has no more slots */
    int              failed;      /* gzwrite failed: later slots dropped */
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    pthread_t        writer;
    int              locks;       /* mu and cv initialised */
    char            *buf;         /* the slot being filled */
    size_t           len;
    uint64_t         rows;
} gen_out_t;

static int
gen_out_init(gen_out_t *o)
{
    int  i;

    memset(o, 0, sizeof(*o));
    for (i = 0; i < GEN_RING; i++) {
        o->slot[i] = malloc(GEN_OUT_BUF);
        if (o->slot[i] == NULL) {
            return -1;
        }
    }
    if (pthread_mutex_init(&o->mu, NULL) != 0) {
        return -1;
    }
    if (pthread_cond_init(&o->cv, NULL) != 0) {
        pthread_mutex_destroy(&o->mu);
        return -1;
    }
    o->locks = 1;
    return 0;
}

static void
gen_out_free(gen_out_t *o)
{
    int  i;

    for (i = 0; i < GEN_RING; i++) {
        free(o->slot[i]);
    }
    if (o->locks) {
        pthread_cond_destroy(&o->cv);
        pthread_mutex_destroy(&o->mu);
    }
}

/* Takes the next filled slot; 0 when the generator is done. */
static int
gen_writer_wait(gen_out_t *o, unsigned *slot)
{
    int  have;

    pthread_mutex_lock(&o->mu);
    while (o->written == o->filled && !o->closing) {
        pthread_cond_wait(&o->cv, &o->mu);
    }
    have = o->written < o->filled;
    *slot = (unsigned) (o->written % GEN_RING);
    pthread_mutex_unlock(&o->mu);
    return have;
}

static void *
gen_writer(void *arg)
{
    gen_out_t  *o = arg;
    unsigned    i;
    int         bad;

    while (gen_writer_wait(o, &i)) {
        bad = o->failed
              || gzwrite(o->gz, o->slot[i], (unsigned) o->slot_len[i])
                 != (int) o->slot_len[i];
        pthread_mutex_lock(&o->mu);
        o->failed |= bad;
        o->written++;
        pthread_cond_broadcast(&o->cv);
        pthread_mutex_unlock(&o->mu);
    }
    return NULL;
}

static int
gen_out_start(gen_out_t *o, gzFile gz)
{
    o->gz = gz;
    o->filled = o->written = 0;
    o->closing = o->failed = 0;
    o->buf = o->slot[0];
    o->len = 0;
    if (pthread_create(&o->writer, NULL, gen_writer, o) != 0) {
        prt_error("generate: cannot start the writer thread");
        return -1;
    }
    return 0;
}

/* Hands the current slot to the writer and waits for a free one. */
static int
gen_flush(gen_out_t *o)
{
    int  failed;

    pthread_mutex_lock(&o->mu);
    o->slot_len[o->filled % GEN_RING] = o->len;
    o->filled++;
    pthread_cond_broadcast(&o->cv);
    while (o->filled - o->written == GEN_RING) {
        pthread_cond_wait(&o->cv, &o->mu);
    }
    failed = o->failed;
    pthread_mutex_unlock(&o->mu);
    o->buf = o->slot[o->filled % GEN_RING];
    o->len = 0;
    return failed ? -1 : 0;
}

/* Lets the writer drain the ring; -1 if any write failed. */
static int
gen_out_finish(gen_out_t *o)
{
    if (o->len > 0) {
        (void) gen_flush(o);
    }
    pthread_mutex_lock(&o->mu);
    o->closing = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->writer, NULL);
    return o->failed ? -1 : 0;
}

static char *
gen_put_uint(char *p, uint64_t v)
{
    char  tmp[24];
    int   n = 0;

    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

/* $0.0001 units as a decimal without trailing zeros: 84.2, 0.0135, 12. */
static char *
gen_put_price(char *p, int64_t v)
{
    int  frac = (int) (v % 10000), div = 1000;

    p = gen_put_uint(p, (uint64_t) (v / 10000));
    if (frac == 0) {
        return p;
    }
    *p++ = '.';
    while (frac != 0) {
        *p++ = (char) ('0' + frac / div);
        frac %= div;
        div /= 10;
    }
    return p;
}

static int
gen_put_row(gen_out_t *o, const gen_ticker_t *t, int64_t start_ns,
    const gen_bar_t *b)
{
    char  *p;

    if (o->len + GEN_ROW_MAX > GEN_OUT_BUF && gen_flush(o) != 0) {
        return -1;
    }
    p = o->buf + o->len;
    memcpy(p, t->name, t->name_len);
    p += t->name_len;
    *p++ = ',';
    p = gen_put_uint(p, b->volume);
    *p++ = ',';
    p = gen_put_price(p, b->open);
    *p++ = ',';
    p = gen_put_price(p, b->close);
    *p++ = ',';
    p = gen_put_price(p, b->high);
    *p++ = ',';
    p = gen_put_price(p, b->low);
    *p++ = ',';
    p = gen_put_uint(p, (uint64_t) start_ns);
    *p++ = ',';
    p = gen_put_uint(p, b->transactions);
    *p++ = '\n';
    o->len = (size_t) (p - o->buf);
    o->rows++;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One ticker-day                                                           */

/* P(exactly one trade | at least one) for Poisson(trades). */
static double
gen_single_print_prob(double trades)
{
    return trades < 1e-9 ? 1.0 : trades * exp(-trades) / -expm1(-trades);
}

static int
gen_ticker_day(gen_out_t *o, gen_ticker_t *t, const gen_session_t *s)
{
    gen_path_t  p;
    gen_bar_t   b;
    double      sigma, prev_x, r, trades;
    int         minute, single;
    int64_t     start_ns;

    gen_path_start(&p, t, s->day);
    for (minute = PRT_PRE_OPEN_MIN; minute < s->post_close; minute++) {
        sigma = gen_minute_vol(&p, s, minute);
        prev_x = p.x;
        r = gen_step(&p, sigma);
        trades = t->liquidity * gen_activity(t, s, minute);
        /* a minute without trades has no bar */
        if (gen_uniform(&p.rng) >= -expm1(-trades)) {
            continue;
        }
        single = gen_uniform(&p.rng) < gen_single_print_prob(trades);
        gen_bar_prices(&p, prev_x, sigma, single, &b);
        gen_bar_volume(&p, t, trades, fabs(r) / sigma, single, &b);
        start_ns = (s->start_utc + (int64_t) minute * 60) * GEN_NS_PER_S;
        if (gen_put_row(o, t, start_ns, &b) != 0) {
            return -1;
        }
    }
    t->log_price = p.x;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static int
gen_write_day(gen_out_t *o, gen_ticker_t *tickers, uint32_t n,
    const gen_session_t *s)
{
    static const char  header[] = PRT_FF_HEADER "\n";
    uint32_t           i;

    memcpy(o->buf, header, sizeof(header) - 1);
    o->len = sizeof(header) - 1;
    for (i = 0; i < n; i++) {
        if (gen_ticker_day(o, &tickers[i], s) != 0) {
            return -1;
        }
    }
    return 0;
}

static int
gen_gz_error(gzFile gz, const char *path)
{
    int          errnum;
    const char  *msg = gzerror(gz, &errnum);

    prt_error("generate: writing %s failed: %s", path,
              errnum == Z_ERRNO ? strerror(errno) : msg);
    return -1;
}

/* Writes DIR/.YYYY-MM-DD.csv.gz.tmp, then renames it into place. */
static int
gen_file(const prt_gen_config_t *cfg, gen_out_t *o, gen_ticker_t *tickers,
    const gen_session_t *s)
{
    char    date[16], path[GEN_PATH_MAX], tmp[GEN_PATH_MAX + 16], mode[8];
    gzFile  gz;
    int     rc;

    if (prt_format_date(s->day, date, sizeof(date)) < 0) {
        prt_error("generate: day %lld out of range", (long long) s->day);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s.csv.gz", cfg->out_dir, date);
    snprintf(tmp, sizeof(tmp), "%s/.%s.csv.gz.tmp", cfg->out_dir, date);
    snprintf(mode, sizeof(mode), "wb%d", cfg->level);
    gz = gzopen(tmp, mode);
    if (gz == NULL || gzbuffer(gz, GEN_OUT_BUF) != 0) {
        prt_error("generate: cannot create %s: %s", tmp, strerror(errno));
        if (gz != NULL) {
            gzclose(gz);
        }
        return -1;
    }
    rc = gen_out_start(o, gz);
    if (rc == 0) {
        rc = gen_write_day(o, tickers, cfg->tickers, s);
        if (gen_out_finish(o) != 0) {
            rc = gen_gz_error(gz, tmp);
        }
    }
    if (gzclose(gz) != Z_OK && rc == 0) {
        prt_error("generate: writing %s failed: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        prt_error("generate: cannot rename %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        remove(tmp);
    }
    return rc;
}

static void
gen_session(int64_t day, gen_session_t *s)
{
    prt_trading_day_t  info;

    prt_calendar_day(day, &info);
    s->day = day;
    s->start_utc = prt_ny_day_start_utc(day);
    s->regular_close = info.regular_close;
    s->post_close = info.post_close;
}

static int
gen_make_dir(const char *dir)
{
    struct stat  st;

    if (mkdir(dir, 0777) == 0 || (errno == EEXIST && stat(dir, &st) == 0
                                  && S_ISDIR(st.st_mode)))
    {
        return 0;
    }
    prt_error("generate: cannot create directory %s: %s", dir,
              errno == EEXIST ? "not a directory" : strerror(errno));
    return -1;
}

static gen_ticker_t *
gen_universe(const prt_gen_config_t *cfg)
{
    gen_ticker_t  *t = calloc(cfg->tickers, sizeof(*t));
    char         (*names)[PRT_TICKER_SIZE];
    uint32_t       i;

    names = calloc(cfg->tickers, PRT_TICKER_SIZE);
    if (t == NULL || names == NULL
        || prt_gen_ticker_names(cfg->seed, cfg->tickers, names) != 0)
    {
        free(t);
        free(names);
        return NULL;
    }
    for (i = 0; i < cfg->tickers; i++) {
        memcpy(t[i].name, names[i], PRT_TICKER_SIZE);
        gen_ticker_profile(&t[i], cfg->seed);
    }
    free(names);
    return t;
}

static double
gen_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
gen_check_config(const prt_gen_config_t *cfg)
{
    if (cfg->out_dir == NULL || cfg->out_dir[0] == '\0'
        || strlen(cfg->out_dir) > GEN_PATH_MAX - 32
        || cfg->tickers == 0 || cfg->tickers > PRT_GEN_TICKERS_MAX
        || cfg->days == 0 || cfg->days > PRT_GEN_DAYS_MAX
        || cfg->level < 0 || cfg->level > 9)
    {
        prt_error("generate: invalid configuration");
        return -1;
    }
    return 0;
}

void
prt_gen_config_default(prt_gen_config_t *cfg)
{
    int64_t  from = 0;

    (void) prt_parse_date(PRT_GEN_FROM_DEFAULT,
                          sizeof(PRT_GEN_FROM_DEFAULT) - 1, &from);
    cfg->out_dir = NULL;
    cfg->tickers = PRT_GEN_TICKERS_DEFAULT;
    cfg->days = PRT_GEN_DAYS_DEFAULT;
    cfg->from = (prt_day_t) from;
    cfg->seed = PRT_GEN_SEED_DEFAULT;
    cfg->level = PRT_GEN_LEVEL_DEFAULT;
}

int
prt_generate(const prt_gen_config_t *cfg, prt_gen_result_t *res)
{
    gen_out_t       o;
    gen_ticker_t   *tickers;
    gen_session_t   s;
    prt_trading_day_t info;
    int64_t         day = cfg->from;
    double          t0 = gen_now();
    int             rc = 0;

    memset(res, 0, sizeof(*res));
    if (gen_check_config(cfg) != 0 || gen_make_dir(cfg->out_dir) != 0) {
        return -1;
    }
    tickers = gen_universe(cfg);
    if (gen_out_init(&o) != 0 || tickers == NULL) {
        prt_error("generate: out of memory");
        rc = -1;
    }
    prt_calendar_day(day, &info);
    if (!info.trading) {
        day = prt_next_trading_day(day);
    }
    while (rc == 0 && res->files < cfg->days) {
        gen_session(day, &s);
        rc = gen_file(cfg, &o, tickers, &s);
        res->files += rc == 0;
        day = prt_next_trading_day(day);
    }
    res->rows = o.rows;
    res->seconds = gen_now() - t0;
    gen_out_free(&o);
    free(tickers);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Command line                                                             */

static void
gen_usage(void)
{
    fprintf(stderr,
        "usage: pattern-rt-engine generate --out DIR [--tickers N=%d]"
        " [--days N=%d]\n"
        "           [--from YYYY-MM-DD=%s] [--seed N=%d] [--level Z=%d]\n",
        PRT_GEN_TICKERS_DEFAULT, PRT_GEN_DAYS_DEFAULT, PRT_GEN_FROM_DEFAULT,
        PRT_GEN_SEED_DEFAULT, PRT_GEN_LEVEL_DEFAULT);
}

#define OPT(name, kind, field, lo, hi) \
    PRT_ARG_OF(name, kind, prt_gen_config_t, field, lo, hi, NULL)

static const prt_arg_t  gen_args[] = {
    OPT("out", PRT_ARG_STR, out_dir, 0, 0),
    OPT("from", PRT_ARG_DATE, from, 0, 0),
    OPT("tickers", PRT_ARG_UINT, tickers, 1, PRT_GEN_TICKERS_MAX),
    OPT("days", PRT_ARG_UINT, days, 1, PRT_GEN_DAYS_MAX),
    OPT("seed", PRT_ARG_UINT, seed, 0, (double) UINT64_MAX),
    OPT("level", PRT_ARG_INT, level, 0, 9),
};

/* 0, 1 for --help, -1 (said why) */
static int
gen_parse_args(int argc, char **argv, prt_gen_config_t *cfg)
{
    static const prt_args_t  spec = PRT_ARGS("generate: ", gen_args);
    int                      rc;

    prt_gen_config_default(cfg);
    rc = prt_args_parse(&spec, cfg, argc, argv, 1);
    if (rc != 0) {
        return rc;
    }
    if (cfg->out_dir == NULL || cfg->out_dir[0] == '\0') {
        fprintf(stderr, "generate: --out DIR is required\n");
        return -1;
    }
    return 0;
}

int
prt_generate_command(int argc, char **argv)
{
    prt_gen_config_t  cfg;
    prt_gen_result_t  res;
    int               rc;

    rc = gen_parse_args(argc, argv, &cfg);
    if (rc != 0) {
        gen_usage();
        return rc == 1 ? 0 : 2;
    }
    if (prt_generate(&cfg, &res) != 0) {
        return 1;
    }
    printf("generate: %u files, %llu rows, %.2f s (%.0f rows/s) in %s\n",
           res.files, (unsigned long long) res.rows, res.seconds,
           res.seconds > 0 ? res.rows / res.seconds : 0.0, cfg.out_dir);
    return fflush(stdout) == 0 ? 0 : 1;
}
