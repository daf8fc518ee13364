/*
 * The bar store: every ticker's minute bars, one LMDB value per (ticker,
 * trading day), plus the list of available days and each ticker's latest
 * price. See docs/storage.md for the layout and the value encoding.
 *
 * Writes go in batches of (ticker, day) groups, one transaction per batch.
 * Reads run inside a read transaction (prt_barstore_read) so a caller can
 * look at many days of one consistent snapshot; the bars are decoded
 * straight from LMDB's map, without an intermediate copy.
 *
 * Return values: counts (>= 0) or 0 on success; PRT_BS_EINVAL for input
 * refused at the boundary (nothing was written), PRT_KV_MAP_MAX when the
 * map has reached its configured maximum, PRT_KV_ERROR otherwise. The text
 * is prt_barstore_errmsg() (the calling thread's last error).
 */
#ifndef PRT_BARSTORE_H
#define PRT_BARSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/kv.h"
#include "data/bar.h"
#include "pattern_rt_msg.h"

#define PRT_BS_EINVAL      (-3)

#define PRT_BS_DAY_MAX     PRT_DATES_LAST_DAY  /* 2199-12-31; days start at
                                                  1970-01-01 */
#define PRT_BS_DAY_BARS    PRT_MINUTES_PER_DAY    /* at most one per minute */

/* Largest encoded value: 16-byte header + 57 bytes per bar at worst. */
#define PRT_BS_VALUE_MAX   (16 + PRT_BS_DAY_BARS * 57)

typedef enum {
    PRT_BS_MERGE = 0,   /* incoming bars replace stored bars of the same
                           minute, the others are kept (live feed) */
    PRT_BS_REPLACE      /* the group becomes the whole day; no bars deletes
                           the day (index builds) */
} prt_bs_mode_t;

/* One (ticker, day) of a batch. Bars may be unsorted and may repeat a
   minute: the last one wins. */
typedef struct {
    const char       *ticker;
    prt_day_t         day;
    const prt_bar_t  *bars;
    size_t            n;
} prt_bs_group_t;

typedef struct {
    char       ticker[PRT_TICKER_SIZE];
    prt_day_t  day;           /* latest day with bars */
    int32_t    minute;        /* its last bar */
    double     close;         /* the latest price */
} prt_bs_latest_t;

typedef struct {
    prt_day_t  day;
    uint32_t   tickers;       /* tickers with bars that day */
    uint64_t   bars;
} prt_bs_date_t;

typedef struct {
    uint64_t        tickers;
    uint64_t        days;
    uint64_t        ticker_days;   /* stored (ticker, day) values */
    uint64_t        bars;
    prt_kv_stats_t  kv;
} prt_bs_stats_t;

typedef struct prt_barstore_s prt_barstore_t;

/* Called for each ticker in ticker order; nonzero stops and is returned. */
typedef int (*prt_bs_ticker_fn)(const prt_bs_latest_t *latest, void *ctx);

int prt_barstore_open(prt_barstore_t **out, const prt_kv_conf_t *conf);
void prt_barstore_close(prt_barstore_t *bs);
prt_kv_t *prt_barstore_kv(prt_barstore_t *bs);

/* ---- writes: validated first, then one transaction for the batch ---- */

int prt_barstore_put(prt_barstore_t *bs, const prt_bs_group_t *groups,
    size_t n_groups, prt_bs_mode_t mode);
int prt_barstore_put_day(prt_barstore_t *bs, const char *ticker,
    prt_day_t day, const prt_bar_t *bars, size_t n, prt_bs_mode_t mode);

/* ---- reads inside prt_barstore_read(bs, fn, ctx) ---- */

int prt_barstore_read(prt_barstore_t *bs, prt_kv_txn_fn fn, void *ctx);

/* The day's bars in minute order; 0 if none. cap >= PRT_BS_DAY_BARS is
   always enough. */
int prt_barstore_get_day(prt_barstore_t *bs, MDB_txn *txn,
    const char *ticker, prt_day_t day, prt_bar_t *bars, size_t cap);

/* Days with bars in [from, to], ascending, at most cap of them. */
int prt_barstore_days(prt_barstore_t *bs, MDB_txn *txn, const char *ticker,
    prt_day_t from, prt_day_t to, prt_day_t *days, size_t cap);

/* 1 and *day set, or 0 if the ticker has no bars. */
int prt_barstore_latest_day(prt_barstore_t *bs, MDB_txn *txn,
    const char *ticker, prt_day_t *day);

/* 1 and *latest set, or 0 if the ticker has no bars. */
int prt_barstore_latest(prt_barstore_t *bs, MDB_txn *txn,
    const char *ticker, prt_bs_latest_t *latest);

/* Days with any bars in [from, to], ascending, at most cap of them. */
int prt_barstore_dates(prt_barstore_t *bs, MDB_txn *txn, prt_day_t from,
    prt_day_t to, prt_bs_date_t *dates, size_t cap);

int prt_barstore_foreach_ticker(prt_barstore_t *bs, MDB_txn *txn,
    prt_bs_ticker_fn fn, void *ctx);

/* ---- one-shot reads in their own read transaction ---- */

int prt_barstore_load_day(prt_barstore_t *bs, const char *ticker,
    prt_day_t day, prt_bar_t *bars, size_t cap);
int prt_barstore_stats(prt_barstore_t *bs, prt_bs_stats_t *st);

/* ---- the value codec (exposed for tests and tools) ---- */

/* Bars sorted by minute, no repeats; returns the length or 0 if invalid
   or cap is too small (PRT_BS_VALUE_MAX always suffices). */
size_t prt_bs_encode(const prt_bar_t *bars, size_t n, uint8_t *out,
    size_t cap);
/* Returns the number of bars or -1 if the value is corrupt or cap small. */
int prt_bs_decode(const void *value, size_t len, prt_bar_t *bars,
    size_t cap);

/* 0 if the ticker matches ^[A-Z][A-Z0-9.-]{0,9}$, else -1. */
int prt_bs_check_ticker(const char *ticker);

const char *prt_barstore_errmsg(void);

#endif
