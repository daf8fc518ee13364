/*
 * Pattern Real-Time: the messages carried by the rings (pattern_rt_ipc.h).
 *
 * Requests (worker -> engine) are fixed binary structs, already validated by
 * the module (JSON parsed, types and ranges checked, symbols normalised,
 * times converted to UTC), so the engine never parses client JSON. Responses
 * (engine -> worker) are an HTTP status and a JSON body rendered by the
 * engine, split into fragments (PRT_REC_MORE) when larger than a ring record.
 * Every struct is plain old data with fixed-width fields and explicit
 * padding; both sides are built for the same machine, and PRT_IPC_VERSION
 * changes with any layout change.
 */
#ifndef PATTERN_RT_MSG_H
#define PATTERN_RT_MSG_H

#include <stdint.h>

typedef enum {
    PRT_MSG_HEALTH = 1,            /* no payload */
    PRT_MSG_INDEX_STATS,           /* no payload */
    PRT_MSG_INDEX_RELOAD,          /* no payload */
    PRT_MSG_AVAILABLE_DATES,       /* no payload */
    PRT_MSG_SEARCH,                /* prt_req_search_t */
    PRT_MSG_PRICES,                /* prt_req_prices_t */
    PRT_MSG_RUN,                   /* prt_req_run_t + symbols */
    PRT_MSG_JOB_GET,               /* prt_req_job_t */
    PRT_MSG_JOB_RESULTS,           /* prt_req_job_results_t */
    PRT_MSG_JOB_CANCEL,            /* prt_req_job_t */
    PRT_MSG_PERFORMANCE,           /* prt_req_performance_t */
    PRT_MSG_HISTORY,               /* prt_req_history_t */
    PRT_MSG_BARS,                  /* prt_req_bars_t + events + rejections */
    PRT_MSG_SUBSCRIBE,             /* prt_req_subscribe_t (WebSocket) */
    PRT_MSG_METRICS,               /* no payload; the answer's body is
                                      Prometheus text, not JSON
                                      (docs/metrics.md) */

    PRT_MSG_RESPONSE = 100,        /* engine -> worker: prt_resp_hdr_t + body */
    PRT_MSG_EVENT = 200            /* broadcast: prt_event_hdr_t + JSON */
} prt_msg_type_t;

/* First fragment of every response starts with this header. */
typedef struct {
    uint16_t  status;              /* HTTP status */
    uint16_t  flags;               /* PRT_RESP_* */
    uint32_t  body_len;            /* total JSON body bytes over all fragments */
} prt_resp_hdr_t;

/*
 * The body is a job's state that changes only together with an event on
 * that job's stream (the job id leads the request): a worker may answer
 * the same request from it until such an event arrives (docs/ipc.md).
 */
#define PRT_RESP_CACHEABLE   0x0001


/* ---- shared vocabulary ------------------------------------------------ */

/* A symbol: ^[A-Z][A-Z0-9.-]{0,9}$, NUL-padded. */
#define PRT_SYMBOL_SIZE      16

/* Forecast horizons H in minutes (SPEC 2.3). */
#define PRT_N_HORIZONS       15
#define PRT_HORIZONS_INIT    { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60 }
#define PRT_HORIZONS_TEXT    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60"

/* Limits checked by the module and trusted by the engine. */
#define PRT_K_MIN            1
#define PRT_K_MAX            500
#define PRT_ALPHA_MAX        50.0
#define PRT_TRIM_MAX         49

/*
 * Dates a request may name, and the bar store holds: New York dates as day
 * numbers (days since 1970-01-01), 1970-01-01 to 2199-12-31. The module
 * refuses a date, or an instant whose New York date is, outside them; the
 * engine's stores are keyed by these days (docs/api-validation.md).
 */
#define PRT_DATES_FIRST_DAY  0
#define PRT_DATES_LAST_DAY   84005
#define PRT_DATES_TEXT       "1970-01-01 to 2199-12-31"

/* Job ids are UUIDs in their 36-character text form. */
#define PRT_JOB_ID_LEN       36
#define PRT_JOB_ID_SIZE      40

/* Sessions (bit mask for jobs' "sessions"). */
#define PRT_SESSION_BIT_PRE      0x1
#define PRT_SESSION_BIT_REGULAR  0x2
#define PRT_SESSION_BIT_POST     0x4
#define PRT_SESSION_BITS_ALL     0x7

typedef struct {
    int32_t   k;                   /* PRT_K_MIN..PRT_K_MAX */
    int32_t   horizon;             /* minutes, one of PRT_HORIZONS */
    double    alpha;               /* 0..PRT_ALPHA_MAX */
    int32_t   trim_lo;             /* percent, 0..PRT_TRIM_MAX */
    int32_t   trim_hi;
    uint8_t   exclude_self;
    uint8_t   cross_asset;         /* never both exclude_self and !cross_asset */
    uint8_t   pad[6];
} prt_forecast_args_t;


/* ---- pattern matching ------------------------------------------------- */

typedef enum {
    PRT_SEARCH_HISTORICAL = 0,
    PRT_SEARCH_REALTIME = 1
} prt_search_mode_t;

typedef enum {
    PRT_FORMAT_PATTERNS = 0,       /* POST /api/patterns/search */
    PRT_FORMAT_FRONTEND = 1        /* /api/search/... (the front end's shape) */
} prt_search_format_t;

/* The front end's window_minutes: accepted range (the search itself always
   uses the index's 30-minute window; the span is what the chart shows). */
#define PRT_SPAN_MIN         15
#define PRT_SPAN_MAX         120

/* PRT_MSG_SEARCH */
typedef struct {
    char                 ticker[PRT_SYMBOL_SIZE];
    int64_t              time_ms;  /* historical: query instant, UTC ms */
    uint8_t              mode;     /* prt_search_mode_t */
    uint8_t              format;   /* prt_search_format_t */
    uint8_t              span;     /* front end: minutes of prices for the
                                      chart, PRT_SPAN_MIN..PRT_SPAN_MAX;
                                      0: the index's window */
    uint8_t              pad[5];
    prt_forecast_args_t  f;
} prt_req_search_t;

typedef enum {
    PRT_PRICES_LINE = 0,           /* /api/historical/prices */
    PRT_PRICES_OHLC = 1            /* /api/historical/ohlc */
} prt_prices_kind_t;

/* PRT_MSG_PRICES */
typedef struct {
    char      symbol[PRT_SYMBOL_SIZE];
    int32_t   day;                 /* New York date, days since 1970-01-01;
                                      INT32_MIN: the latest day with bars */
    int16_t   start_minute;        /* minutes after 00:00 ET */
    int16_t   end_minute;          /* inclusive */
    uint8_t   kind;                /* prt_prices_kind_t */
    uint8_t   pad[7];
} prt_req_prices_t;


/* ---- Pattern Real-Time jobs ------------------------------------------- */

/* PRT_MSG_RUN: followed by nsymbols symbols of PRT_SYMBOL_SIZE bytes,
 * upper-cased, validated and de-duplicated (first occurrence kept). */
typedef struct {
    prt_forecast_args_t  f;
    double               min_edge; /* >= 0 */
    uint32_t             sessions; /* PRT_SESSION_BIT_*; 0 never sent */
    uint32_t             nsymbols; /* 1..pattern_rt_max_symbols */
} prt_req_run_t;

/* PRT_MSG_JOB_GET, PRT_MSG_JOB_CANCEL */
typedef struct {
    char      job_id[PRT_JOB_ID_SIZE];   /* NUL-terminated, lower case */
} prt_req_job_t;

typedef enum {
    PRT_SORT_EDGE = 0,
    PRT_SORT_PROB_UP,
    PRT_SORT_MEAN_RETURN,
    PRT_SORT_EDGE_CALIBRATED
} prt_sort_t;

typedef enum {
    PRT_FILTER_ALL = 0,
    PRT_FILTER_UP,
    PRT_FILTER_DOWN
} prt_direction_filter_t;

/* PRT_MSG_JOB_RESULTS */
typedef struct {
    char      job_id[PRT_JOB_ID_SIZE];
    uint8_t   sort_by;             /* prt_sort_t */
    uint8_t   direction;           /* prt_direction_filter_t */
    uint8_t   include_verified;
    uint8_t   pad;
    uint32_t  limit;               /* 1..10000 (default 50) */
} prt_req_job_results_t;

typedef enum {
    PRT_PERIOD_1H = 0,
    PRT_PERIOD_TODAY,
    PRT_PERIOD_WEEK,
    PRT_PERIOD_ALL
} prt_period_t;

typedef enum {
    PRT_DEDUPE_NONE = 0,
    PRT_DEDUPE_SYMBOL_DAY          /* the first prediction of each symbol
                                      and New York day only */
} prt_dedupe_t;

/* PRT_MSG_PERFORMANCE */
typedef struct {
    uint8_t   period;              /* prt_period_t */
    uint8_t   dedupe;              /* prt_dedupe_t */
    uint8_t   pad[2];
    int32_t   horizon;             /* 0: every horizon */
} prt_req_performance_t;

/* PRT_MSG_HISTORY */
typedef struct {
    char      symbol[PRT_SYMBOL_SIZE];   /* empty: every symbol */
    uint32_t  limit;               /* 1..1000 (default 50) */
    uint32_t  offset;
    uint8_t   verified_only;
    uint8_t   pad[7];
} prt_req_history_t;


/* ---- live bars -------------------------------------------------------- */

/* One Polygon AM event the module found well-formed. */
typedef struct {
    char      symbol[PRT_SYMBOL_SIZE];
    int64_t   start_ms;            /* "s" */
    int64_t   end_ms;              /* "e" */
    double    open, high, low, close, volume;
    uint32_t  index;               /* position in the client's batch */
    uint32_t  pad;
} prt_bar_event_t;

/* One event the module already rejected, with its reason. */
#define PRT_REASON_SIZE      88

typedef struct {
    uint32_t  index;
    char      reason[PRT_REASON_SIZE];   /* NUL-terminated */
    uint32_t  pad;
} prt_bar_reject_t;

/* PRT_MSG_BARS: followed by nevents prt_bar_event_t, then nrejected
 * prt_bar_reject_t. */
typedef struct {
    uint32_t  nevents;
    uint32_t  nrejected;
} prt_req_bars_t;


/* ---- WebSocket subscriptions (engine side of subscribe/since) -------- */

typedef enum {
    PRT_STREAM_JOB = 0,
    PRT_STREAM_VERIFICATIONS,
    PRT_STREAM_PRICES,
    PRT_STREAM_ALERTS              /* every job's results: made by each
                                      worker from result events, filtered
                                      per subscriber; nothing kept */
} prt_stream_t;

#define PRT_STREAM_COUNT     4     /* job + the three channels */

/* Broadcast events (PRT_MSG_EVENT records of the broadcast log). */
typedef enum {
    PRT_EVENT_PROGRESS = 1,
    PRT_EVENT_RESULT,
    PRT_EVENT_JOB_COMPLETE,
    PRT_EVENT_VERIFICATION,
    PRT_EVENT_PRICE_UPDATE,
    PRT_EVENT_GAP                  /* an E_GAP error: events from other
                                      nodes may be missing from the stream
                                      (docs/scale-out.md) */
} prt_event_kind_t;

/* Followed by the event's complete JSON text ({"type":..,"seq":..,...}),
 * ready to be sent as one WebSocket text frame. */
typedef struct {
    uint8_t   stream;              /* prt_stream_t */
    uint8_t   kind;                /* prt_event_kind_t */
    uint8_t   coalesce;            /* only the latest per stream matters */
    uint8_t   direction;           /* results: 0 UP, 1 DOWN */
    uint8_t   pad[4];
    char      job_id[PRT_JOB_ID_SIZE];   /* job streams; "" otherwise */
    uint64_t  seq;                 /* increasing, across engine restarts */
    /* results: what alerts subscribers filter on (no worker parses JSON) */
    double    edge;
    char      symbol[PRT_SYMBOL_SIZE];
} prt_event_hdr_t;

/* PRT_MSG_SUBSCRIBE */
typedef struct {
    char      job_id[PRT_JOB_ID_SIZE];   /* PRT_STREAM_JOB only */
    uint8_t   stream;              /* prt_stream_t */
    uint8_t   has_since;
    uint8_t   pad[6];
    uint64_t  since;               /* replay events with seq > since */
} prt_req_subscribe_t;

#endif
