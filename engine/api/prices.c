/*
 * The front end's chart data (SPEC 5.2): /api/historical/prices/{SYMBOL}
 * (closes) and /api/historical/ohlc/{SYMBOL} (candles) for one day between
 * two New York times, from the bar store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "pattern_rt_msg.h"

typedef struct {
    prt_barstore_t  *bs;
    const char      *symbol;
    prt_day_t        day;
    int              latest;       /* day not given: the latest with bars */
    prt_bar_t       *bars;
    int              n;
} prices_ctx_t;

static int
prices_in_txn(MDB_txn *txn, void *arg)
{
    prices_ctx_t  *c = arg;
    int            rc;

    if (c->latest) {
        rc = prt_barstore_latest_day(c->bs, txn, c->symbol, &c->day);
        if (rc <= 0) {
            c->n = 0;
            return rc < 0 ? rc : 0;
        }
    }
    c->n = prt_barstore_get_day(c->bs, txn, c->symbol, c->day, c->bars,
                                PRT_BS_DAY_BARS);
    return c->n < 0 ? c->n : 0;
}

static void
json_hhmm(prt_json_t *j, int minute)
{
    char  buf[8];

    snprintf(buf, sizeof(buf), "%02d:%02d", (minute / 60) % 24, minute % 60);
    prt_json_str(j, buf);
}

static void
render(prt_json_t *j, const prt_req_prices_t *req, prices_ctx_t *c)
{
    char  date[16];

    prt_format_date(c->day, date, sizeof(date));
    prt_json_open(j);
    prt_json_kstr(j, "symbol", req->symbol);
    prt_json_kstr(j, "date", date);
    prt_json_key(j, req->kind == PRT_PRICES_OHLC ? "candles" : "times");
    prt_json_array(j);
    for (int i = 0; i < c->n; i++) {
        const prt_bar_t  *b = &c->bars[i];

        if (b->minute < req->start_minute || b->minute > req->end_minute) {
            continue;
        }
        if (req->kind == PRT_PRICES_LINE) {
            json_hhmm(j, b->minute);
            continue;
        }
        prt_json_open(j);
        prt_json_key(j, "time");
        json_hhmm(j, b->minute);
        prt_json_knum(j, "open", b->open);
        prt_json_knum(j, "high", b->high);
        prt_json_knum(j, "low", b->low);
        prt_json_knum(j, "close", b->close);
        prt_json_knum(j, "volume", b->volume);
        prt_json_close(j);
    }
    prt_json_array_end(j);

    if (req->kind == PRT_PRICES_LINE) {
        prt_json_key(j, "prices");
        prt_json_array(j);
        for (int i = 0; i < c->n; i++) {
            if (c->bars[i].minute >= req->start_minute
                && c->bars[i].minute <= req->end_minute)
            {
                prt_json_num(j, c->bars[i].close);
            }
        }
        prt_json_array_end(j);
    }
    prt_json_close(j);
}

void
prt_api_prices(prt_engine_t *e, const prt_reply_t *to, const uint8_t *payload,
    uint32_t len)
{
    prt_req_prices_t  req;
    prices_ctx_t      c;
    prt_json_t        j;
    char              msg[96];

    memcpy(&req, payload, sizeof(req));
    req.symbol[PRT_SYMBOL_SIZE - 1] = '\0';

    c.bs = e->bars;
    c.symbol = req.symbol;
    c.latest = req.day == INT32_MIN;
    c.day = req.day;
    c.n = 0;
    c.bars = malloc(PRT_BS_DAY_BARS * sizeof(prt_bar_t));
    if (c.bars == NULL || prt_json_init(&j) != 0) {
        free(c.bars);
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return;
    }

    if (prt_barstore_read(e->bars, prices_in_txn, &c) != 0) {
        prt_error("prices %s: %s", req.symbol, prt_barstore_errmsg());
        prt_api_error(e, to, PRT_E_INTERNAL, "bar store read failed", NULL);
    } else if (c.n == 0) {
        snprintf(msg, sizeof(msg), "no bars for %s on that day", req.symbol);
        prt_api_error(e, to, PRT_E_NO_DATA, msg, "date");
    } else {
        render(&j, &req, &c);
        prt_api_reply(e, to, 200, &j);
    }
    prt_json_free(&j);
    free(c.bars);
}
