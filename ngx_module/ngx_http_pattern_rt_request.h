/*
 * Request parsers of the REST API: client bytes (a JSON body, a query
 * string, a route capture) in, the validated binary request of
 * pattern_rt_msg.h out, or an error that names the field and the accepted
 * values. The rules, defaults and ranges are in docs/api-validation.md.
 *
 * Pure C11: no nginx headers, no globals, no I/O. Everything a parser keeps
 * (the JSON text copy, variable-length requests) comes from the caller's
 * allocator and is never freed here: the module passes ngx_palloc on
 * r->pool, so it goes away with the request. yajl_tree builds its tree with
 * malloc internally; that tree is always freed before a parser returns.
 *
 * Every parser returns 0 and fills its output, or -1 and fills *err; the
 * output is zeroed first (padding included), so the bytes sent to the
 * engine never carry stale memory.
 */

#ifndef _NGX_HTTP_PATTERN_RT_REQUEST_H_INCLUDED_
#define _NGX_HTTP_PATTERN_RT_REQUEST_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "pattern_rt_errors.h"
#include "pattern_rt_msg.h"


/* ^[A-Z][A-Z0-9.-]{0,9}$, matched with PCRE2_DOLLAR_ENDONLY */
#define PRT_REQ_SYMBOL_PATTERN   "^[A-Z][A-Z0-9.-]{0,9}$"
#define PRT_REQ_SYMBOL_MAX_LEN   10

/* JSON bodies nested deeper than this are refused before yajl sees them */
#define PRT_REQ_JSON_MAX_DEPTH   32

/* a query-string value longer than this (decoded) is refused */
#define PRT_REQ_QUERY_VALUE_MAX  63

/* defaults of absent fields (SPEC 5) */
#define PRT_REQ_DEFAULT_K        40
#define PRT_REQ_DEFAULT_HORIZON  10
#define PRT_REQ_DEFAULT_ALPHA    6.0
#define PRT_REQ_DEFAULT_LIMIT    50      /* /job/{id}/results, /history */

#define PRT_REQ_LIMIT_MAX          10000 /* /job/{id}/results */
#define PRT_REQ_HISTORY_LIMIT_MAX  1000  /* /history */

/* front-end historical search: the window the index is built for (the
   search's window whatever window_minutes the front end sends) */
#define PRT_REQ_WINDOW_MINUTES   30


typedef void *(*prt_alloc_fn)(void *ctx, size_t size);

/* The module: { ngx_palloc-wrapper, r->pool }. Memory must be aligned for
 * any type (as ngx_palloc's is) and is never freed by the parsers. */
typedef struct {
    prt_alloc_fn   alloc;
    void          *ctx;
} prt_allocator_t;

typedef struct {
    int    code;           /* prt_error_t: PRT_E_BAD_REQUEST, ... */
    char   field[48];      /* offending field, "" when none */
    char   message[200];   /* names the field and what is accepted */
} prt_parse_error_t;

/*
 * Compiled once per worker: the symbol expression (JIT when available) and
 * its match data. Not thread-safe: one parser per thread.
 */
typedef struct prt_parser_s  prt_parser_t;

/* NULL when PCRE2 fails to compile or allocate (log it, fail the worker) */
prt_parser_t *prt_parser_create(void);
void prt_parser_free(prt_parser_t *p);


/*
 * Bodies are the raw request body (not NUL-terminated, may contain any
 * bytes). Query strings are r->args as received (percent-encoded, without
 * the '?'; NULL with length 0 when absent). Route captures (symbol, job id)
 * come from the already-decoded URI and are used as they are.
 */

/* POST /api/patterns/search (format PATTERNS) */
int prt_req_parse_search(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, prt_req_search_t *out,
    prt_parse_error_t *err);

/* POST /api/search/historical (format FRONTEND, mode historical) */
int prt_req_parse_fe_historical(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, prt_req_search_t *out,
    prt_parse_error_t *err);

/* GET /api/search/{SYMBOL}?k=&cross_asset=... (format FRONTEND, realtime) */
int prt_req_parse_fe_realtime(prt_parser_t *p, const char *symbol,
    size_t symbol_len, const char *args, size_t args_len,
    prt_req_search_t *out, prt_parse_error_t *err);

/* GET /api/historical/{prices|ohlc}/{SYMBOL}?date=&start_time=&end_time= */
int prt_req_parse_prices(prt_parser_t *p, prt_prices_kind_t kind,
    const char *symbol, size_t symbol_len, const char *args, size_t args_len,
    prt_req_prices_t *out, prt_parse_error_t *err);

/*
 * POST /api/pattern-realtime/run. *out is one allocation: the header and
 * nsymbols symbols of PRT_SYMBOL_SIZE bytes right after it; *out_len is
 * the size of that message. max_symbols: the configured limit (>= 1).
 */
int prt_req_parse_run(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, uint32_t max_symbols,
    prt_req_run_t **out, size_t *out_len, prt_parse_error_t *err);

/* /job/{id}: anything but a canonical UUID is PRT_E_NOT_FOUND */
int prt_req_parse_job_id(const char *id, size_t len, prt_req_job_t *out,
    prt_parse_error_t *err);

/* GET /job/{id}/results?sort_by=&direction=&limit=&include_verified= */
int prt_req_parse_job_results(const char *id, size_t id_len,
    const char *args, size_t args_len, prt_req_job_results_t *out,
    prt_parse_error_t *err);

/* GET /performance?period=&horizon= */
int prt_req_parse_performance(const char *args, size_t args_len,
    prt_req_performance_t *out, prt_parse_error_t *err);

/* GET /history?limit=&offset=&symbol=&verified_only= */
int prt_req_parse_history(prt_parser_t *p, const char *args, size_t args_len,
    prt_req_history_t *out, prt_parse_error_t *err);

/*
 * POST /api/pattern-realtime/bars. *out is one allocation: the header,
 * nevents prt_bar_event_t, then nrejected prt_bar_reject_t; *out_len is the
 * size of that message. Bad events are rejected one by one (index and
 * reason) and the rest kept; only a body that is not a JSON array fails
 * (PRT_E_BAD_REQUEST), or one of more than max_events events
 * (PRT_E_TOO_LARGE).
 */
int prt_req_parse_bars(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, uint32_t max_events,
    prt_req_bars_t **out, size_t *out_len, prt_parse_error_t *err);

/* the horizon list H of SPEC 2.3: 1 when minutes is one of them */
int prt_req_horizon_valid(int64_t minutes);

/* 1 when s[0..len) is a valid symbol as it is (no case folding) */
int prt_req_symbol_valid(prt_parser_t *p, const char *s, size_t len);


#endif /* _NGX_HTTP_PATTERN_RT_REQUEST_H_INCLUDED_ */
