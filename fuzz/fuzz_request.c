/*
 * libFuzzer target for the request parsers
 * (ngx_module/ngx_http_pattern_rt_request_*.c).
 *
 * Input: byte 0 chooses the parser (bits 0-3, modulo the 11 entry points),
 * the symbol / event limit (bits 4-5) and an allocation failure to inject
 * (bits 6-7); the rest is the body, or for GET routes "capture?query" (the
 * path capture is what comes before the first '?').
 *
 * Checked on every call: the result is 0 or -1; an error has an expected
 * code, a non-empty NUL-terminated message of printable ASCII (it ends up
 * in JSON and logs) and a NUL-terminated field; a success satisfies every
 * documented range (docs/api-validation.md), with symbols valid and
 * unique, padding zeroed, and variable-length messages exactly as long as
 * they say. Every allocation is freed after each input, so ASan's leak
 * check also covers yajl's tree.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern_rt_nytime.h"
#include "ngx_http_pattern_rt_request.h"
#include "fuzz_check.h"

enum {
    EP_SEARCH, EP_FE_HISTORICAL, EP_FE_REALTIME, EP_PRICES, EP_OHLC, EP_RUN,
    EP_JOB_ID, EP_JOB_RESULTS, EP_PERFORMANCE, EP_HISTORY, EP_BARS,
    EP_COUNT
};

static const uint32_t  limits[4] = { 0, 1, 5, 10000 };

static prt_parser_t  *parser;


/* ---- allocator: every block freed after the input; failure injection ----- */

#define MAX_BLOCKS  64

static void  *blocks[MAX_BLOCKS];
static int    nblocks;
static int    fail_at;          /* 1-based allocation to fail, 0: none */
static int    nallocs;
static int    failed;

static void *
fuzz_alloc(void *ctx, size_t size)
{
    void  *p;

    (void) ctx;

    if (++nallocs == fail_at || nblocks == MAX_BLOCKS) {
        failed = 1;
        return NULL;
    }

    p = malloc(size ? size : 1);
    if (p != NULL) {
        memset(p, 0xa5, size);      /* the parsers must not expect zeroes */
        blocks[nblocks++] = p;
    }
    return p;
}

static void
free_blocks(void)
{
    while (nblocks > 0) {
        free(blocks[--nblocks]);
    }
}


/* ---- invariants ---------------------------------------------------------- */

static int
zero(const void *p, size_t n)
{
    const uint8_t  *b = p;
    size_t          i;

    for (i = 0; i < n; i++) {
        if (b[i]) {
            return 0;
        }
    }
    return 1;
}

static void
check_error(const prt_parse_error_t *e, int allowed)
{
    size_t  i, n;

    CHECK(memchr(e->field, '\0', sizeof(e->field)) != NULL);
    CHECK(memchr(e->message, '\0', sizeof(e->message)) != NULL);

    n = strlen(e->message);
    CHECK(n > 0);
    for (i = 0; i < n; i++) {
        CHECK(e->message[i] >= 0x20 && e->message[i] < 0x7f);
    }
    for (i = 0; e->field[i]; i++) {
        CHECK(e->field[i] >= 0x20 && e->field[i] < 0x7f);
    }

    CHECK(e->code == allowed || e->code == PRT_E_BAD_REQUEST
          || (e->code == PRT_E_INTERNAL && failed));
}

/* a stored symbol: valid as it is, NUL-padded */
static void
check_symbol(const char sym[PRT_SYMBOL_SIZE])
{
    size_t  len;

    len = strnlen(sym, PRT_SYMBOL_SIZE);
    CHECK(len >= 1 && len <= PRT_REQ_SYMBOL_MAX_LEN);
    CHECK(prt_req_symbol_valid(parser, sym, len));
    CHECK(zero(sym + len, PRT_SYMBOL_SIZE - len));
}

static void
check_forecast(const prt_forecast_args_t *f)
{
    CHECK(f->k >= PRT_K_MIN && f->k <= PRT_K_MAX);
    CHECK(prt_req_horizon_valid(f->horizon));
    CHECK(isfinite(f->alpha) && f->alpha >= 0 && f->alpha <= PRT_ALPHA_MAX);
    CHECK(!signbit(f->alpha));
    CHECK(f->trim_lo >= 0 && f->trim_lo <= PRT_TRIM_MAX);
    CHECK(f->trim_hi >= 0 && f->trim_hi <= PRT_TRIM_MAX);
    CHECK(f->exclude_self <= 1 && f->cross_asset <= 1);
    CHECK(!(f->exclude_self && !f->cross_asset));
    CHECK(zero(f->pad, sizeof(f->pad)));
}

/* an instant (UTC ms) on a New York date requests may name */
static int
instant_in_range(int64_t ms)
{
    int64_t  day;

    day = prt_ny_day_of_utc(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    return day >= PRT_DATES_FIRST_DAY && day <= PRT_DATES_LAST_DAY;
}

static void
check_search(const prt_req_search_t *s, int format)
{
    check_symbol(s->ticker);
    CHECK(s->format == format);
    CHECK(s->mode == PRT_SEARCH_HISTORICAL || s->mode == PRT_SEARCH_REALTIME);
    CHECK(s->mode == PRT_SEARCH_HISTORICAL || s->time_ms == 0);
    CHECK(s->mode == PRT_SEARCH_REALTIME || instant_in_range(s->time_ms));
    CHECK(zero(s->pad, sizeof(s->pad)));
    check_forecast(&s->f);
}

static void
check_job_id(const char id[PRT_JOB_ID_SIZE])
{
    size_t  i;
    int     dash;

    for (i = 0; i < PRT_JOB_ID_LEN; i++) {
        dash = (i == 8 || i == 13 || i == 18 || i == 23);
        CHECK(dash ? id[i] == '-'
                   : ((id[i] >= '0' && id[i] <= '9')
                      || (id[i] >= 'a' && id[i] <= 'f')));
    }
    CHECK(zero(id + PRT_JOB_ID_LEN, PRT_JOB_ID_SIZE - PRT_JOB_ID_LEN));
}

static void
check_run(const prt_req_run_t *r, size_t len, uint32_t max)
{
    const char  *syms = (const char *) (r + 1);
    uint32_t     i, j;

    CHECK(r->nsymbols >= 1 && r->nsymbols <= max);
    CHECK(len == sizeof(*r) + (size_t) r->nsymbols * PRT_SYMBOL_SIZE);
    CHECK(r->sessions != 0 && (r->sessions & ~PRT_SESSION_BITS_ALL) == 0);
    CHECK(isfinite(r->min_edge) && r->min_edge >= 0);
    check_forecast(&r->f);

    for (i = 0; i < r->nsymbols; i++) {
        check_symbol(syms + (size_t) i * PRT_SYMBOL_SIZE);
        /* quadratic, but max is small in most inputs and the whole body
         * is bounded by libFuzzer's -max_len */
        for (j = 0; j < i && r->nsymbols <= 2000; j++) {
            CHECK(memcmp(syms + (size_t) i * PRT_SYMBOL_SIZE,
                         syms + (size_t) j * PRT_SYMBOL_SIZE,
                         PRT_SYMBOL_SIZE) != 0);
        }
    }
}

static void
check_event(const prt_bar_event_t *b)
{
    check_symbol(b->symbol);
    CHECK(isfinite(b->open) && b->open > 0);
    CHECK(isfinite(b->high) && b->high > 0);
    CHECK(isfinite(b->low) && b->low > 0);
    CHECK(isfinite(b->close) && b->close > 0);
    CHECK(isfinite(b->volume) && b->volume >= 0);
    CHECK(b->high >= b->open && b->high >= b->close && b->high >= b->low);
    CHECK(b->low <= b->open && b->low <= b->close);
    CHECK(b->start_ms % 60000 == 0);
    CHECK(b->start_ms <= INT64_MAX - 60000
          && b->end_ms == b->start_ms + 60000);
    CHECK(instant_in_range(b->start_ms));
    CHECK(b->pad == 0);
}

/* events and rejections together cover 0..n-1 once each, in order */
static void
check_bars(const prt_req_bars_t *h, size_t len, uint32_t max)
{
    const prt_bar_event_t   *ev = (const prt_bar_event_t *) (h + 1);
    const prt_bar_reject_t  *rj = (const prt_bar_reject_t *) (ev + h->nevents);
    uint32_t                 i, e, r, n;

    n = h->nevents + h->nrejected;
    CHECK(n <= max);
    CHECK(len == sizeof(*h) + h->nevents * sizeof(*ev)
                 + h->nrejected * sizeof(*rj));

    for (i = 0, e = 0, r = 0; i < n; i++) {
        if (e < h->nevents && ev[e].index == i) {
            check_event(&ev[e++]);
            continue;
        }
        CHECK(r < h->nrejected && rj[r].index == i);
        CHECK(memchr(rj[r].reason, '\0', PRT_REASON_SIZE) != NULL);
        CHECK(rj[r].reason[0] != '\0' && rj[r].pad == 0);
        r++;
    }
    CHECK(e == h->nevents && r == h->nrejected);
}


/* ---- the entry points ---------------------------------------------------- */

/* "capture?query" of a GET route */
static void
split_route(const char *s, size_t n, size_t *cap_len, const char **q,
    size_t *q_len)
{
    const char  *mark = memchr(s, '?', n);

    *cap_len = mark ? (size_t) (mark - s) : n;
    *q = mark ? mark + 1 : NULL;
    *q_len = mark ? n - *cap_len - 1 : 0;
}

static void
fuzz_body(int ep, const char *s, size_t n, uint32_t max)
{
    prt_allocator_t    a = { fuzz_alloc, NULL };
    prt_parse_error_t  e;
    prt_req_search_t   sr;
    prt_req_run_t     *run;
    prt_req_bars_t    *bars;
    size_t             len;
    int                rc;

    memset(&e, 0x5a, sizeof(e));

    switch (ep) {
    case EP_SEARCH:
    case EP_FE_HISTORICAL:
        rc = ep == EP_SEARCH
             ? prt_req_parse_search(parser, &a, s, n, &sr, &e)
             : prt_req_parse_fe_historical(parser, &a, s, n, &sr, &e);
        CHECK(rc == 0 || rc == -1);
        if (rc == 0) {
            check_search(&sr, ep == EP_SEARCH ? PRT_FORMAT_PATTERNS
                                              : PRT_FORMAT_FRONTEND);
            CHECK(ep == EP_SEARCH || sr.mode == PRT_SEARCH_HISTORICAL);
        } else {
            check_error(&e, PRT_E_BAD_REQUEST);
        }
        return;

    case EP_RUN:
        rc = prt_req_parse_run(parser, &a, s, n, max, &run, &len, &e);
        CHECK(rc == 0 || rc == -1);
        if (rc == 0) {
            check_run(run, len, max);
        } else {
            CHECK(run == NULL && len == 0);
            check_error(&e, PRT_E_BAD_REQUEST);
        }
        return;

    default:
        rc = prt_req_parse_bars(parser, &a, s, n, max, &bars, &len, &e);
        CHECK(rc == 0 || rc == -1);
        if (rc == 0) {
            check_bars(bars, len, max);
        } else {
            CHECK(bars == NULL && len == 0);
            check_error(&e, PRT_E_TOO_LARGE);
        }
        return;
    }
}

static void
fuzz_route(int ep, const char *s, size_t n)
{
    prt_parse_error_t      e;
    prt_req_search_t       sr;
    prt_req_prices_t       pr;
    prt_req_job_t          job;
    prt_req_job_results_t  jr;
    prt_req_performance_t  pf;
    prt_req_history_t      hi;
    const char            *q;
    size_t                 cap, qn;
    int                    rc;

    memset(&e, 0x5a, sizeof(e));
    split_route(s, n, &cap, &q, &qn);

    switch (ep) {
    case EP_FE_REALTIME:
        rc = prt_req_parse_fe_realtime(parser, s, cap, q, qn, &sr, &e);
        if (rc == 0) {
            check_search(&sr, PRT_FORMAT_FRONTEND);
            CHECK(sr.mode == PRT_SEARCH_REALTIME);
        }
        break;

    case EP_PRICES:
    case EP_OHLC:
        rc = prt_req_parse_prices(parser, ep == EP_PRICES ? PRT_PRICES_LINE
                                                          : PRT_PRICES_OHLC,
                                  s, cap, q, qn, &pr, &e);
        if (rc == 0) {
            check_symbol(pr.symbol);
            CHECK(pr.day == INT32_MIN
                  || (pr.day >= PRT_DATES_FIRST_DAY
                      && pr.day <= PRT_DATES_LAST_DAY));
            CHECK(pr.start_minute >= 0 && pr.start_minute <= pr.end_minute
                  && pr.end_minute <= 1439);
            CHECK(pr.kind == (ep == EP_PRICES ? PRT_PRICES_LINE
                                              : PRT_PRICES_OHLC));
            CHECK(zero(pr.pad, sizeof(pr.pad)));
        }
        break;

    case EP_JOB_ID:
        rc = prt_req_parse_job_id(s, n, &job, &e);
        if (rc == 0) {
            check_job_id(job.job_id);
        } else {
            CHECK(e.code == PRT_E_NOT_FOUND);
        }
        break;

    case EP_JOB_RESULTS:
        rc = prt_req_parse_job_results(s, cap, q, qn, &jr, &e);
        if (rc == 0) {
            check_job_id(jr.job_id);
            CHECK(jr.sort_by <= PRT_SORT_MEAN_RETURN);
            CHECK(jr.direction <= PRT_FILTER_DOWN);
            CHECK(jr.limit >= 1 && jr.limit <= PRT_REQ_LIMIT_MAX);
            CHECK(jr.include_verified <= 1 && jr.pad == 0);
        }
        break;

    case EP_PERFORMANCE:
        rc = prt_req_parse_performance(s, n, &pf, &e);
        if (rc == 0) {
            CHECK(pf.period <= PRT_PERIOD_ALL);
            CHECK(pf.horizon == 0 || prt_req_horizon_valid(pf.horizon));
            CHECK(zero(pf.pad, sizeof(pf.pad)));
        }
        break;

    default:
        rc = prt_req_parse_history(parser, s, n, &hi, &e);
        if (rc == 0) {
            CHECK(hi.limit >= 1 && hi.limit <= PRT_REQ_HISTORY_LIMIT_MAX);
            CHECK(hi.offset <= INT32_MAX && hi.verified_only <= 1);
            if (hi.symbol[0] != '\0') {
                check_symbol(hi.symbol);
            }
            CHECK(zero(hi.pad, sizeof(hi.pad)));
        }
        break;
    }

    CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        /* only job ids answer 404; everything else here is a 400 */
        check_error(&e, ep == EP_JOB_ID || ep == EP_JOB_RESULTS
                        ? PRT_E_NOT_FOUND : PRT_E_BAD_REQUEST);
    }
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          ep;
    uint32_t     max;
    const char  *s;

    if (size < 1) {
        return 0;
    }

    if (parser == NULL) {
        parser = prt_parser_create();
        CHECK(parser != NULL);
    }

    ep = (data[0] & 0x0f) % EP_COUNT;
    max = limits[(data[0] >> 4) & 3];
    fail_at = (data[0] >> 6) & 3;       /* 3: the third allocation */
    nallocs = 0;
    failed = 0;

    /* a private copy: ASan then flags any read past the input's end */
    s = NULL;
    if (size > 1) {
        s = malloc(size - 1);
        CHECK(s != NULL);
        memcpy((char *) s, data + 1, size - 1);
    }

    if (ep == EP_SEARCH || ep == EP_FE_HISTORICAL || ep == EP_RUN
        || ep == EP_BARS)
    {
        /* run needs at least one symbol, bars may be empty */
        fuzz_body(ep, s, size - 1, ep == EP_RUN && max == 0 ? 1 : max);
    } else {
        fuzz_route(ep, s ? s : "", size - 1);
    }

    free((void *) s);
    free_blocks();
    return 0;
}
