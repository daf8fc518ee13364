/*
 * Request parsers of the searches: POST /api/patterns/search, the front
 * end's POST /api/search/historical and GET /api/search/{SYMBOL}, and the
 * price series GET /api/historical/{prices,ohlc}/{SYMBOL}. See
 * ngx_http_pattern_rt_request.h and docs/api-validation.md.
 */

#include <string.h>

#include "pattern_rt_nytime.h"
#include "ngx_http_pattern_rt_request_fields.h"


/* ---- POST /api/patterns/search ------------------------------------------ */


enum { SE_TICKER = FA_COUNT, SE_MODE, SE_TIMESTAMP, SE_COUNT };

/* in prt_search_mode_t order */
static const char *const  search_modes[] = { "historical", "realtime", NULL };

static const field_spec_t  search_fields[SE_COUNT] = {
    FORECAST_FIELDS,
    [SE_TICKER] = { .name = "ticker", .kind = FK_STRING, .required = 1 },
    [SE_MODE] = { .name = "mode", .kind = FK_ENUM, .names = search_modes },
    [SE_TIMESTAMP] = { .name = "timestamp", .kind = FK_STRING },
};


static int
read_timestamp(const field_value_t *v, int64_t *ms, prt_parse_error_t *err)
{
    char     shown[SHOW_SIZE];
    int64_t  t, s;

    if (prt_parse_iso(v->s, v->len, &t) != 0) {
        return bad_request(err, "timestamp", "timestamp must be ISO-8601, "
                           "YYYY-MM-DD[THH:MM[:SS[.fff]]] with Z, +HH:MM or "
                           "no offset for New York time (got \"%s\")",
                           prt_req_show(shown, v->s, v->len));
    }

    /* the engine looks the instant up by its New York date */
    s = t >= 0 ? t / 1000 : (t - 999) / 1000;
    if (!prt_req_day_in_range(prt_ny_day_of_utc(s))) {
        return bad_request(err, "timestamp", "timestamp must fall on a New "
                           "York date from " PRT_DATES_TEXT " (got \"%s\")",
                           prt_req_show(shown, v->s, v->len));
    }

    *ms = t;
    return 0;
}


static int
search_from(prt_parser_t *p, const field_value_t *v, prt_req_search_t *out,
    prt_parse_error_t *err)
{
    if (prt_req_read_symbol(p, "ticker", v[SE_TICKER].s, v[SE_TICKER].len,
                            out->ticker, err)
        != 0)
    {
        return -1;
    }

    out->format = PRT_FORMAT_PATTERNS;
    out->mode = (uint8_t) (v[SE_MODE].present ? v[SE_MODE].i
                                              : PRT_SEARCH_HISTORICAL);

    /* checked in both modes, so a client's mistake never goes unnoticed,
     * but realtime scans use the latest complete bar and ignore it */
    if (v[SE_TIMESTAMP].present
        && read_timestamp(&v[SE_TIMESTAMP], &out->time_ms, err) != 0)
    {
        return -1;
    }

    if (out->mode == PRT_SEARCH_REALTIME) {
        out->time_ms = 0;

    } else if (!v[SE_TIMESTAMP].present) {
        return bad_request(err, "timestamp", "timestamp is required when "
                           "mode is \"historical\"");
    }

    return prt_req_forecast_from(v, 0, &out->f, err);
}


int
prt_req_parse_search(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, prt_req_search_t *out,
    prt_parse_error_t *err)
{
    int            rc;
    yajl_val       root;
    field_value_t  v[SE_COUNT];

    memset(out, 0, sizeof(*out));

    if (prt_req_json_object_body(a, body, len, search_fields, SE_COUNT, v,
                                 &root, err)
        != 0)
    {
        return -1;
    }

    rc = search_from(p, v, out, err);
    yajl_tree_free(root);

    return rc;
}


/* ---- POST /api/search/historical (front end) ---------------------------- */


enum { FH_SYMBOL = FA_COUNT, FH_DATE, FH_TIME, FH_WINDOW, FH_COUNT };

static const field_spec_t  fe_historical_fields[FH_COUNT] = {
    FORECAST_FIELDS,
    [FH_SYMBOL] = { .name = "symbol", .kind = FK_STRING, .required = 1 },
    [FH_DATE] = { .name = "date", .kind = FK_STRING, .required = 1 },
    [FH_TIME] = { .name = "time", .kind = FK_STRING, .required = 1 },
    [FH_WINDOW] = { .name = "window_minutes", .kind = FK_INT,
                    .ilo = PRT_SPAN_MIN, .ihi = PRT_SPAN_MAX },
};


static int
read_date(const char *field, const field_value_t *v, int64_t *day,
    prt_parse_error_t *err)
{
    char  shown[SHOW_SIZE];

    if (prt_parse_date(v->s, v->len, day) != 0) {
        return bad_request(err, field, "%s must be a date YYYY-MM-DD (got "
                           "\"%s\")", field,
                           prt_req_show(shown, v->s, v->len));
    }

    if (!prt_req_day_in_range(*day)) {
        return bad_request(err, field, "%s must be from " PRT_DATES_TEXT
                           " (got \"%s\")", field,
                           prt_req_show(shown, v->s, v->len));
    }

    return 0;
}


static int
read_hhmm(const char *field, const field_value_t *v, int *minute,
    prt_parse_error_t *err)
{
    char  shown[SHOW_SIZE];

    if (prt_req_parse_hhmm(v->s, v->len, minute) == 0) {
        return 0;
    }

    return bad_request(err, field, "%s must be HH:MM, New York time, from "
                       "00:00 to 23:59 (got \"%s\")", field,
                       prt_req_show(shown, v->s, v->len));
}


static int
fe_historical_from(prt_parser_t *p, const field_value_t *v,
    prt_req_search_t *out, prt_parse_error_t *err)
{
    int      minute, y, mo, d;
    int64_t  day;

    if (prt_req_read_symbol(p, "symbol", v[FH_SYMBOL].s, v[FH_SYMBOL].len,
                            out->ticker, err)
        != 0
        || read_date("date", &v[FH_DATE], &day, err) != 0
        || read_hhmm("time", &v[FH_TIME], &minute, err) != 0)
    {
        return -1;
    }

    /*
     * 15-120 (range checked with the field): the span of prices the chart
     * shows. The search uses the index's window ending at the same bar,
     * as the original service did, and says so in query.window_minutes.
     */
    out->span = (uint8_t) (v[FH_WINDOW].present ? v[FH_WINDOW].i
                                                : PRT_REQ_WINDOW_MINUTES);

    prt_civil_from_days(day, &y, &mo, &d);

    out->time_ms = prt_ny_to_utc(y, mo, d, minute / 60, minute % 60, 0)
                   * 1000;
    out->mode = PRT_SEARCH_HISTORICAL;
    out->format = PRT_FORMAT_FRONTEND;

    return prt_req_forecast_from(v, 0, &out->f, err);
}


int
prt_req_parse_fe_historical(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, prt_req_search_t *out,
    prt_parse_error_t *err)
{
    int            rc;
    yajl_val       root;
    field_value_t  v[FH_COUNT];

    memset(out, 0, sizeof(*out));

    if (prt_req_json_object_body(a, body, len, fe_historical_fields,
                                 FH_COUNT, v, &root, err)
        != 0)
    {
        return -1;
    }

    rc = fe_historical_from(p, v, out, err);
    yajl_tree_free(root);

    return rc;
}


/* ---- GET /api/search/{SYMBOL} (front end, realtime) --------------------- */


static const field_spec_t  forecast_fields[FA_COUNT] = { FORECAST_FIELDS };


int
prt_req_parse_fe_realtime(prt_parser_t *p, const char *symbol,
    size_t symbol_len, const char *args, size_t args_len,
    prt_req_search_t *out, prt_parse_error_t *err)
{
    field_value_t  v[FA_COUNT];

    memset(out, 0, sizeof(*out));

    if (prt_req_read_symbol(p, "symbol", symbol, symbol_len, out->ticker, err)
        != 0
        || prt_req_query_read(args, args_len, forecast_fields, FA_COUNT, v,
                              err)
           != 0)
    {
        return -1;
    }

    out->mode = PRT_SEARCH_REALTIME;
    out->format = PRT_FORMAT_FRONTEND;

    return prt_req_forecast_from(v, 0, &out->f, err);
}


/* ---- GET /api/historical/{prices,ohlc}/{SYMBOL} ------------------------- */


enum { PR_DATE, PR_START, PR_END, PR_COUNT };

static const field_spec_t  prices_fields[PR_COUNT] = {
    [PR_DATE] = { .name = "date", .kind = FK_STRING },
    [PR_START] = { .name = "start_time", .kind = FK_STRING },
    [PR_END] = { .name = "end_time", .kind = FK_STRING },
};

#define REGULAR_OPEN_MINUTE   (9 * 60 + 30)
#define REGULAR_CLOSE_MINUTE  (16 * 60)


static int
prices_from(const field_value_t *v, prt_req_prices_t *out,
    prt_parse_error_t *err)
{
    int      start, end;
    int64_t  day;

    day = INT32_MIN;
    start = REGULAR_OPEN_MINUTE;
    end = REGULAR_CLOSE_MINUTE;

    if ((v[PR_DATE].present && read_date("date", &v[PR_DATE], &day, err))
        || (v[PR_START].present
            && read_hhmm("start_time", &v[PR_START], &start, err))
        || (v[PR_END].present
            && read_hhmm("end_time", &v[PR_END], &end, err)))
    {
        return -1;
    }

    if (start > end) {
        return bad_request(err, "start_time", "start_time (%02d:%02d) must "
                           "not be after end_time (%02d:%02d)", start / 60,
                           start % 60, end / 60, end % 60);
    }

    out->day = (int32_t) day;       /* PRT_DAY_MIN..MAX fit in int32 */
    out->start_minute = (int16_t) start;
    out->end_minute = (int16_t) end;

    return 0;
}


int
prt_req_parse_prices(prt_parser_t *p, prt_prices_kind_t kind,
    const char *symbol, size_t symbol_len, const char *args, size_t args_len,
    prt_req_prices_t *out, prt_parse_error_t *err)
{
    field_value_t  v[PR_COUNT];

    memset(out, 0, sizeof(*out));
    out->kind = (uint8_t) kind;

    if (prt_req_read_symbol(p, "symbol", symbol, symbol_len, out->symbol, err)
        != 0
        || prt_req_query_read(args, args_len, prices_fields, PR_COUNT, v, err)
           != 0)
    {
        return -1;
    }

    return prices_from(v, out, err);
}
