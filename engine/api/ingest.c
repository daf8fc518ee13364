/*
 * Live bars (SPEC 6): POST /api/pattern-realtime/bars, Polygon per-minute
 * aggregates already validated one by one by the module. Here the checks
 * that need the engine's clock and calendar, then every accepted bar goes
 * into the bar store in one transaction: bars of a (ticker, day) merge
 * with what is stored, a corrected bar for a minute replaces the old one,
 * and the per-ticker latest price follows. With the feed clock, market
 * time moves to the end of the newest bar and verification runs at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "core/metrics.h"
#include "verify/verify.h"
#include "pattern_rt_msg.h"

#define MINUTE_MS  60000

/* An accepted bar on its way to the store. */
typedef struct {
    const char  *symbol;
    prt_day_t    day;
    uint32_t     index;                /* in the client's batch: last wins */
    prt_bar_t    bar;
} ingest_bar_t;

typedef struct {
    uint32_t     index;
    char         reason[PRT_REASON_SIZE];
} ingest_reject_t;

static int
bar_cmp(const void *a, const void *b)
{
    const ingest_bar_t  *x = a, *y = b;
    int                  c = strcmp(x->symbol, y->symbol);

    if (c) {
        return c;
    }
    if (x->day != y->day) {
        return x->day < y->day ? -1 : 1;
    }
    if (x->bar.minute != y->bar.minute) {
        return x->bar.minute < y->bar.minute ? -1 : 1;
    }
    return (x->index > y->index) - (x->index < y->index);
}

static int
reject_cmp(const void *a, const void *b)
{
    const ingest_reject_t  *x = a, *y = b;

    return (x->index > y->index) - (x->index < y->index);
}

/* The window of bar times the clock accepts (SPEC: timestamps far in the
 * future or past are rejected). The feed clock's window follows the feed;
 * before its first bar any date the calendar knows is fine. */
static void
accept_window(prt_engine_t *e, int64_t *from, int64_t *to)
{
    int64_t  now = prt_clock_now_ms(&e->clock);
    int64_t  age = (int64_t) e->conf.max_bar_age_s * 1000;
    int64_t  ahead = (int64_t) e->conf.max_bar_ahead_s * 1000;

    if (e->clock.mode == PRT_CLOCK_FEED) {
        if (now == 0) {
            *from = INT64_MIN;
            *to = INT64_MAX;
            return;
        }
        ahead = age;           /* a replay crosses weekends and holidays */
    }
    *from = now - age;
    *to = now + ahead;
}

static int
check_event(const prt_bar_event_t *ev, int64_t from, int64_t to,
    ingest_bar_t *out, char *reason)
{
    prt_trading_day_t  td;
    int64_t            s = ev->start_ms / 1000, minute;

    if (ev->start_ms < from || ev->start_ms > to) {
        snprintf(reason, PRT_REASON_SIZE, "bar time %s the accepted window "
                 "around the engine clock",
                 ev->start_ms < from ? "before" : "after");
        return -1;
    }
    out->day = (prt_day_t) prt_ny_day_of_utc(s);
    minute = (s - prt_ny_day_start_utc(out->day)) / 60;
    if (minute < PRT_MINUTE_FIRST || minute > PRT_MINUTE_LAST) {
        snprintf(reason, PRT_REASON_SIZE,
                 "bar starts outside 04:00-20:00 New York time");
        return -1;
    }
    prt_calendar_day(out->day, &td);
    if (!td.trading) {
        snprintf(reason, PRT_REASON_SIZE, "not a trading day (%s)",
                 td.name ? td.name : "weekend");
        return -1;
    }

    out->symbol = ev->symbol;
    out->index = ev->index;
    out->bar.minute = (int32_t) minute;
    out->bar.transactions = 0;
    out->bar.open = ev->open;
    out->bar.high = ev->high;
    out->bar.low = ev->low;
    out->bar.close = ev->close;
    out->bar.volume = ev->volume;
    return 0;
}

/* Sorted bars -> one group per (ticker, day) for the store. */
static size_t
make_groups(ingest_bar_t *bars, size_t n, prt_bar_t *flat,
    prt_bs_group_t *groups)
{
    size_t  ng = 0;

    for (size_t i = 0; i < n; i++) {
        flat[i] = bars[i].bar;
        if (ng && strcmp(groups[ng - 1].ticker, bars[i].symbol) == 0
            && groups[ng - 1].day == bars[i].day)
        {
            groups[ng - 1].n++;
            continue;
        }
        groups[ng].ticker = bars[i].symbol;
        groups[ng].day = bars[i].day;
        groups[ng].bars = &flat[i];
        groups[ng].n = 1;
        ng++;
    }
    return ng;
}

static void
reply(prt_engine_t *e, const prt_reply_t *to, size_t accepted,
    ingest_reject_t *rej, size_t nrej)
{
    prt_json_t  j;

    qsort(rej, nrej, sizeof(*rej), reject_cmp);
    if (prt_json_init(&j) != 0) {
        return;
    }
    prt_json_open(&j);
    prt_json_kuint(&j, "accepted", accepted);
    prt_json_key(&j, "rejected");
    prt_json_array(&j);
    for (size_t i = 0; i < nrej; i++) {
        prt_json_open(&j);
        prt_json_kuint(&j, "index", rej[i].index);
        prt_json_kstr(&j, "reason", rej[i].reason);
        prt_json_close(&j);
    }
    prt_json_array_end(&j);
    prt_json_key(&j, "clock");
    prt_json_open(&j);
    prt_json_kstr(&j, "mode", prt_clock_mode_name(&e->clock));
    prt_json_ktime(&j, "now", prt_clock_now_ms(&e->clock));
    prt_json_close(&j);
    prt_json_close(&j);
    prt_api_reply(e, to, 200, &j);
    prt_json_free(&j);
}

static int
store_bars(prt_engine_t *e, ingest_bar_t *bars, size_t n)
{
    prt_bar_t       *flat = malloc((n ? n : 1) * sizeof(*flat));
    prt_bs_group_t  *groups = malloc((n ? n : 1) * sizeof(*groups));
    size_t           ng;
    int              rc = -1;

    if (flat && groups) {
        qsort(bars, n, sizeof(*bars), bar_cmp);
        ng = make_groups(bars, n, flat, groups);
        rc = prt_barstore_put(e->bars, groups, ng, PRT_BS_MERGE);
        if (rc != 0) {
            prt_error("storing %zu live bars: %s", n, prt_barstore_errmsg());
        }
    }
    free(flat);
    free(groups);
    return rc;
}

/* The newest accepted bar of each symbol moves its open predictions
 * (bars are sorted by symbol, day and minute by store_bars). */
static void
track_prices(prt_engine_t *e, const ingest_bar_t *bars, size_t n)
{
    int64_t  end;

    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(bars[i + 1].symbol, bars[i].symbol) == 0) {
            continue;
        }
        end = (prt_ny_day_start_utc(bars[i].day)
               + (int64_t) bars[i].bar.minute * 60 + 60) * 1000;
        prt_tracker_price(e->tracker, bars[i].symbol, bars[i].bar.close, end);
    }
}

void
prt_api_bars(prt_engine_t *e, const prt_reply_t *to, const uint8_t *payload,
    uint32_t len)
{
    prt_req_bars_t           hdr;
    const prt_bar_event_t   *ev;
    const prt_bar_reject_t  *mrej;
    ingest_bar_t            *bars;
    ingest_reject_t         *rej;
    size_t                   nbars = 0, nrej = 0, total;
    int64_t                  from, to_ms, newest = 0;

    memcpy(&hdr, payload, sizeof(hdr));
    total = (size_t) hdr.nevents + hdr.nrejected;
    if (len != sizeof(hdr) + (uint64_t) hdr.nevents * sizeof(*ev)
               + (uint64_t) hdr.nrejected * sizeof(*mrej))
    {
        prt_api_error(e, to, PRT_E_BAD_REQUEST, "malformed bars request",
                      NULL);
        return;
    }
    ev = (const prt_bar_event_t *) (payload + sizeof(hdr));
    mrej = (const prt_bar_reject_t *) (ev + hdr.nevents);

    bars = malloc((hdr.nevents ? hdr.nevents : 1) * sizeof(*bars));
    rej = malloc((total ? total : 1) * sizeof(*rej));
    if (bars == NULL || rej == NULL) {
        free(bars);
        free(rej);
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return;
    }

    for (size_t i = 0; i < hdr.nrejected; i++) {
        rej[nrej].index = mrej[i].index;
        memcpy(rej[nrej].reason, mrej[i].reason, PRT_REASON_SIZE);
        rej[nrej++].reason[PRT_REASON_SIZE - 1] = '\0';
    }

    accept_window(e, &from, &to_ms);
    for (size_t i = 0; i < hdr.nevents; i++) {
        if (ev[i].symbol[PRT_SYMBOL_SIZE - 1] != '\0') {
            rej[nrej].index = ev[i].index;
            snprintf(rej[nrej++].reason, PRT_REASON_SIZE, "malformed symbol");
        } else if (check_event(&ev[i], from, to_ms, &bars[nbars],
                               rej[nrej].reason) != 0)
        {
            rej[nrej++].index = ev[i].index;
        } else {
            newest = ev[i].start_ms > newest ? ev[i].start_ms : newest;
            nbars++;
        }
    }

    /* all or nothing: a failed write stores none of the batch */
    if (nbars && store_bars(e, bars, nbars) != 0) {
        prt_api_error(e, to, PRT_E_INTERNAL, "bars could not be stored", NULL);
        free(bars);
        free(rej);
        return;
    }

    e->bars_ingested += nbars;
    if (nbars && newest + MINUTE_MS > prt_metrics.newest_bar_end_ms) {
        prt_metrics.newest_bar_end_ms = newest + MINUTE_MS;
    }
    track_prices(e, bars, nbars);
    if (nbars && e->clock.mode == PRT_CLOCK_FEED) {
        prt_clock_feed(&e->clock, newest + MINUTE_MS);
    }
    if (nbars) {
        prt_verifier_ingested(e->verifier);
    }
    reply(e, to, nbars, rej, nrej);
    free(bars);
    free(rej);
}
