#include <stdio.h>

#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "forecast/window.h"

static void
hhmm(int minute, char *buf, size_t len)
{
    unsigned  m = minute < 0 ? 0 : (unsigned) minute % 1440;

    snprintf(buf, len, "%02u:%02u", (m / 60) % 24, m % 60);
}

/* Latest bar starting at or before t_max; then the window ending there. */
static prt_error_t
window_from_day(prt_query_window_t *w, const char *ticker, int t_max,
    char *reason, size_t len)
{
    char    day[16], at[16];
    size_t  i;
    int     rc;

    prt_format_date(w->day, day, sizeof(day));
    for (i = w->n; i > 0 && w->bars[i - 1].minute > t_max; i--) {
        /* bars are sorted by minute */
    }
    if (i == 0) {
        hhmm(t_max + 1, at, sizeof(at));
        snprintf(reason, len, "%s has no complete bar by %s ET on %s",
                 ticker, at, day);
        return PRT_E_NO_DATA;
    }
    w->end_idx = i - 1;
    w->bar_time = prt_ny_day_start_utc(w->day)
                  + (int64_t) w->bars[w->end_idx].minute * 60;

    rc = prt_pattern_window(w->bars, w->n, w->end_idx, w->vec, &w->info);
    if (rc != 0) {
        hhmm(w->bars[w->end_idx].minute, at, sizeof(at));
        snprintf(reason, len, "%s %s %s ET: %s", ticker, day, at,
                 prt_pattern_strerror(rc));
        return PRT_E_WINDOW;
    }
    return PRT_OK;
}

/* The store's text names files and LMDB errors: it goes to the log, and the
 * reason (which reaches clients in answers and failure records) says only
 * that the read failed. */
static prt_error_t
store_failed(const char *ticker, char *reason, size_t len)
{
    prt_error("reading the bars of %s: %s", ticker, prt_barstore_errmsg());
    snprintf(reason, len, "%s", PRT_INTERNAL_MESSAGE);
    return PRT_E_INTERNAL;
}

static prt_error_t
load_day(prt_barstore_t *bs, const char *ticker, prt_query_window_t *w,
    char *reason, size_t len)
{
    char  day[16];
    int   n;

    n = prt_barstore_load_day(bs, ticker, w->day, w->bars, PRT_BS_DAY_BARS);
    if (n < 0) {
        return store_failed(ticker, reason, len);
    }
    if (n == 0) {
        prt_format_date(w->day, day, sizeof(day));
        snprintf(reason, len, "no bars for %s on %s", ticker, day);
        return PRT_E_NO_DATA;
    }
    w->n = (size_t) n;
    return PRT_OK;
}

prt_error_t
prt_window_at(prt_barstore_t *bs, const char *ticker, int64_t at_ms,
    prt_query_window_t *w, char *reason, size_t len)
{
    int64_t      at_s = at_ms >= 0 ? at_ms / 1000 : (at_ms - 999) / 1000;
    int64_t      start;
    prt_error_t  err;

    w->day = (int32_t) prt_ny_day_of_utc(at_s);
    start = prt_ny_day_start_utc(w->day);
    err = load_day(bs, ticker, w, reason, len);
    if (err != PRT_OK) {
        return err;
    }
    /* a bar [m, m+1) is complete at the instant when m + 1 <= minute */
    return window_from_day(w, ticker, (int) ((at_s - start) / 60) - 1,
                           reason, len);
}

typedef struct {
    prt_barstore_t   *bs;
    const char       *ticker;
    prt_bs_latest_t  *latest;
    int               found;
} latest_ctx_t;

static int
latest_in_txn(MDB_txn *txn, void *arg)
{
    latest_ctx_t  *c = arg;

    c->found = prt_barstore_latest(c->bs, txn, c->ticker, c->latest);
    return c->found < 0 ? c->found : 0;
}

prt_error_t
prt_window_latest(prt_barstore_t *bs, const char *ticker, int64_t now_ms,
    prt_query_window_t *w, char *reason, size_t len)
{
    prt_bs_latest_t  latest;
    latest_ctx_t     c = { bs, ticker, &latest, 0 };
    int64_t          today = prt_ny_day_of_utc(now_ms / 1000);
    int              rc;

    rc = prt_barstore_read(bs, latest_in_txn, &c);
    if (rc == 0) {
        rc = c.found;
    }
    if (rc < 0) {
        return store_failed(ticker, reason, len);
    }
    if (rc == 0) {
        snprintf(reason, len, "no bars for %s", ticker);
        return PRT_E_NO_DATA;
    }
    if (latest.day < today) {
        /* the latest trading day with data is over: its last bar counts */
        w->day = latest.day;
        if (load_day(bs, ticker, w, reason, len) != PRT_OK) {
            return PRT_E_NO_DATA;
        }
        return window_from_day(w, ticker, PRT_MINUTE_LAST, reason, len);
    }
    return prt_window_at(bs, ticker, now_ms, w, reason, len);
}
