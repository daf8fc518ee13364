/*
 * Pattern Real-Time nginx module: shared declarations.
 *
 * Each worker holds one connection to the engine (ngx_http_pattern_rt_engine.c):
 * a unix socket for the shared memory, doorbells and liveness, and the two
 * rings of its slot. REST requests are validated here, sent as one request
 * record, parked (NGX_DONE) and resumed when the response record arrives.
 */
#ifndef NGX_HTTP_PATTERN_RT_MODULE_H
#define NGX_HTTP_PATTERN_RT_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "pattern_rt_errors.h"
#include "pattern_rt_ipc.h"
#include "pattern_rt_msg.h"
#include "pattern_rt_ring.h"


typedef struct ngx_http_pattern_rt_engine_s  ngx_http_pattern_rt_engine_t;
typedef struct ngx_http_pattern_rt_ctx_s     ngx_http_pattern_rt_ctx_t;
typedef struct ngx_http_pattern_rt_route_s   ngx_http_pattern_rt_route_t;
typedef struct ngx_http_pattern_rt_ws_hub_s  ngx_http_pattern_rt_ws_hub_t;
typedef struct ngx_http_pattern_rt_cache_s   ngx_http_pattern_rt_cache_t;


typedef struct {
    ngx_str_t                       engine_path;     /* pattern_rt_engine */
    ngx_msec_t                      reconnect_max;   /* pattern_rt_reconnect */
    ngx_uint_t                      max_pending;     /* pattern_rt_max_pending */
    size_t                          max_response;    /* pattern_rt_max_response */
    ngx_uint_t                      ws_max_connections;
                                              /* pattern_rt_ws_max_connections */
    size_t                          job_cache;       /* pattern_rt_job_cache,
                                                        0: off */
    ngx_msec_t                      job_cache_valid;
                                              /* pattern_rt_job_cache_valid */

    ngx_http_pattern_rt_engine_t   *engine;          /* this worker's */
    ngx_shm_zone_t                 *metrics_zone;    /* every worker's
                                                        counters (/metrics) */
    void                           *metrics;         /* its blocks */
    struct prt_parser_s            *parser;          /* request parsers */
    pcre2_code                    **route_re;        /* one per route */
    pcre2_match_data               *match_data;
} ngx_http_pattern_rt_main_conf_t;


typedef struct {
    ngx_flag_t                      api;             /* pattern_rt_api */
    ngx_msec_t                      timeout;         /* pattern_rt_timeout */
    size_t                          max_body;        /* pattern_rt_max_body */
    ngx_uint_t                      max_symbols;     /* pattern_rt_max_symbols */
    ngx_uint_t                      max_bar_events;  /* pattern_rt_max_bar_events */
    ngx_array_t                    *cors_origins;    /* pattern_rt_cors_origin */

    /* WebSocket (pattern_rt_websocket and pattern_rt_ws_*) */
    size_t                          ws_max_message;
    size_t                          ws_max_output;
    ngx_uint_t                      ws_max_frames;
    ngx_uint_t                      ws_max_subscriptions;
    ngx_msec_t                      ws_ping_interval;
    ngx_msec_t                      ws_pong_timeout;
    ngx_msec_t                      ws_close_timeout;
    ngx_array_t                    *ws_origins;
    ngx_flag_t                      auth;            /* pattern_rt_auth */
    ngx_flag_t                      auth_read;       /* pattern_rt_auth_read */
    ngx_str_t                       auth_secret;     /* the bytes of
                                                        pattern_rt_auth_secret */
} ngx_http_pattern_rt_loc_conf_t;


typedef ngx_int_t (*ngx_http_pattern_rt_handler_pt)(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);
typedef ngx_int_t (*ngx_http_pattern_rt_done_pt)(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);

/* Token scopes (docs/auth.md); a route names the one it needs. */
#define NGX_HTTP_PATTERN_RT_SCOPE_READ   0x01
#define NGX_HTTP_PATTERN_RT_SCOPE_FEED   0x02
#define NGX_HTTP_PATTERN_RT_SCOPE_ADMIN  0x04

/* What a route's parser reads (the body, the route's first capture, the
 * query string) and writes (the message, or the error): in
 * ngx_http_pattern_rt_api.c. */
typedef struct ngx_http_pattern_rt_parsed_s  ngx_http_pattern_rt_parsed_t;

/* A route's parser: the message's length, or -1 with in->err filled. */
typedef ssize_t (*ngx_http_pattern_rt_parse_pt)(ngx_http_request_t *r,
    ngx_http_pattern_rt_parsed_t *in);
/* How a route's message goes to the engine and its answer comes back:
 * NGX_AGAIN when parked, else the answer sent (ngx_http_pattern_rt_call). */
typedef ngx_int_t (*ngx_http_pattern_rt_send_pt)(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, uint16_t type, const void *payload,
    size_t len);

struct ngx_http_pattern_rt_route_s {
    ngx_uint_t                      methods;         /* NGX_HTTP_GET | ... */
    const char                     *pattern;         /* anchored pcre2 */
    ngx_http_pattern_rt_handler_pt  handler;
    ngx_uint_t                      body;            /* reads a JSON body */
    ngx_uint_t                      scope;           /* token scope needed */

    /* for the handler that parses and sends (the api.c table's FWD) */
    ngx_http_pattern_rt_parse_pt    parse;           /* NULL: no message */
    uint16_t                        type;            /* PRT_MSG_* */
    ngx_http_pattern_rt_send_pt     send;
};


/* Per request. */
struct ngx_http_pattern_rt_ctx_s {
    ngx_http_request_t             *request;
    const ngx_http_pattern_rt_route_t *route;
    ngx_str_t                       args[4];         /* route captures */

    uint32_t                        id;              /* pending request id */
    ngx_event_t                     timeout;
    ngx_http_pattern_rt_done_pt     done;            /* after the response */

    void                           *data;            /* the caller's */
    ngx_uint_t                      status;          /* engine response */
    u_char                         *body;
    size_t                          body_len;
    size_t                          body_got;
    uint16_t                        resp_flags;      /* PRT_RESP_* */
    uint64_t                        cache_asked;     /* job cache: when */

    ngx_queue_t                     held_link;       /* before the hello */
    u_char                         *held_payload;
    size_t                          held_len;
    uint16_t                        held_type;

    unsigned                        waiting:1;       /* sent, id pending */
    unsigned                        held:1;          /* waits for the hello */
    unsigned                        keep:1;          /* a WebSocket call:
                                                        done() only, the
                                                        request goes on */
};


/* The worker's engine connection. */
typedef enum {
    NGX_HTTP_PATTERN_RT_DOWN = 0,
    NGX_HTTP_PATTERN_RT_CONNECTING,                  /* waiting for hello */
    NGX_HTTP_PATTERN_RT_UP
} ngx_http_pattern_rt_state_e;

struct ngx_http_pattern_rt_engine_s {
    ngx_http_pattern_rt_main_conf_t *conf;
    ngx_log_t                      *log;
    ngx_connection_t               *connection;
    ngx_http_pattern_rt_state_e     state;

    u_char                         *shm;
    size_t                          shm_size;
    uint64_t                        epoch;
    uint32_t                        slot_index;
    prt_slot_t                     *slot;
    prt_ring_view_t                 req;
    prt_ring_view_t                 resp;
    prt_bcast_view_t                bcast;
    u_char                         *event_buf;       /* broadcast copy-out */
    size_t                          event_cap;
    u_char                         *event_asm;       /* fragments joined */
    size_t                          event_len;
    size_t                          event_asm_cap;
    uint32_t                        event_serial;
    ngx_http_pattern_rt_ws_hub_t   *ws_hub;
    ngx_http_pattern_rt_cache_t    *cache;           /* finished jobs */

    ngx_event_t                     reconnect;
    ngx_msec_t                      backoff;
    ngx_msec_t                      connected_at;

    ngx_http_pattern_rt_ctx_t     **pending;         /* by id & 0xffff */
    ngx_queue_t                     held;            /* before the hello */
    ngx_uint_t                      nheld;
    uint32_t                       *free_ids;
    ngx_uint_t                      nfree;
    uint32_t                        generation;

    ngx_uint_t                      npending;
    ngx_uint_t                      connects;
    ngx_uint_t                      disconnects;
    ngx_uint_t                      busy;
    ngx_uint_t                      timeouts;
    ngx_uint_t                      bcast_laps;
};


extern ngx_module_t  ngx_http_pattern_rt_module;


/* engine connection */
ngx_int_t ngx_http_pattern_rt_engine_init(ngx_cycle_t *cycle,
    ngx_http_pattern_rt_main_conf_t *pmcf);
void ngx_http_pattern_rt_engine_exit(ngx_http_pattern_rt_engine_t *eng);
prt_error_t ngx_http_pattern_rt_engine_send(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, uint16_t type, const void *payload,
    size_t len);
/* a call whose caller went away: its answer will be dropped */
void ngx_http_pattern_rt_engine_forget(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ctx_t *ctx);
/* reads what the broadcast log holds now (events published so far) */
void ngx_http_pattern_rt_engine_poll(ngx_http_pattern_rt_engine_t *eng);

/* the job cache (ngx_http_pattern_rt_cache.c) */
typedef struct ngx_http_pattern_rt_cached_s  ngx_http_pattern_rt_cached_t;

ngx_http_pattern_rt_cache_t *ngx_http_pattern_rt_cache_create(
    size_t max_bytes, ngx_msec_t valid, ngx_log_t *log);
void ngx_http_pattern_rt_cache_clear(ngx_http_pattern_rt_cache_t *cache);
void ngx_http_pattern_rt_cache_event(ngx_http_pattern_rt_cache_t *cache,
    const u_char *job_id);
ngx_http_pattern_rt_cached_t *ngx_http_pattern_rt_cache_find(
    ngx_http_pattern_rt_cache_t *cache, uint16_t type, const void *req,
    size_t len, uint64_t *asked);
void ngx_http_pattern_rt_cache_store(ngx_http_pattern_rt_cache_t *cache,
    uint64_t asked, uint16_t type, const void *req, size_t len,
    const u_char *body, size_t body_len);
const u_char *ngx_http_pattern_rt_cached_body(ngx_http_pattern_rt_cached_t *e,
    size_t *len);
u_char *ngx_http_pattern_rt_cache_stats(ngx_http_pattern_rt_cache_t *cache,
    u_char *p);
/* the most ngx_http_pattern_rt_cache_stats writes: its text with every
 * number at its widest */
#define NGX_HTTP_PATTERN_RT_CACHE_STATS_LEN                                 \
    (sizeof(",\"job_cache\":{\"entries\":,\"bytes\":,\"max_bytes\":,"        \
            "\"hits\":,\"misses\":,\"stored\":,\"dropped\":}") - 1              \
     + 5 * NGX_ATOMIC_T_LEN + 2 * NGX_INT64_LEN)

/* WebSocket (ngx_http_pattern_rt_handshake.c, _hub.c, _ws.c) */
ngx_int_t ngx_http_pattern_rt_ws_init_process(ngx_cycle_t *cycle,
    ngx_http_pattern_rt_engine_t *eng);
ngx_int_t ngx_http_pattern_rt_ws_handler(ngx_http_request_t *r);
void ngx_http_pattern_rt_ws_event(ngx_http_pattern_rt_engine_t *eng,
    const u_char *data, size_t len);
void ngx_http_pattern_rt_ws_lost_events(ngx_http_pattern_rt_engine_t *eng,
    const char *why);
void ngx_http_pattern_rt_ws_stats(ngx_http_pattern_rt_engine_t *eng,
    u_char **p);
/* the most ngx_http_pattern_rt_ws_stats writes */
#define NGX_HTTP_PATTERN_RT_WS_STATS_LEN                                    \
    (sizeof(",\"websocket\":{\"connections\":,\"accepted\":,\"refused\":,"    \
            "\"slow_closed\":,\"events\":,\"frames_queued\":}") - 1           \
     + 6 * NGX_ATOMIC_T_LEN)

typedef struct {
    ngx_uint_t                      connections;
    ngx_uint_t                      accepted;
    ngx_uint_t                      refused;
    ngx_uint_t                      slow_closed;
    ngx_uint_t                      events;
    ngx_uint_t                      frames_queued;
} ngx_http_pattern_rt_ws_counters_t;

/* this worker's WebSocket counters (left as they are without a hub) */
void ngx_http_pattern_rt_ws_counters(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ws_counters_t *out);

/* GET /metrics (ngx_http_pattern_rt_metrics.c, docs/metrics.md) */
ngx_int_t ngx_http_pattern_rt_metrics_add_zone(ngx_conf_t *cf,
    ngx_http_pattern_rt_main_conf_t *pmcf);
ngx_int_t ngx_http_pattern_rt_metrics_init_process(ngx_cycle_t *cycle,
    ngx_http_pattern_rt_main_conf_t *pmcf);
ngx_int_t ngx_http_pattern_rt_metrics_log(ngx_http_request_t *r);
char *ngx_http_pattern_rt_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* responses */
/* Sends the headers as set, then body (pool memory) as the whole answer. */
ngx_int_t ngx_http_pattern_rt_send_body(ngx_http_request_t *r, u_char *body,
    size_t len);
/* A location directive's common part: requires pattern_rt_engine, and
 * makes h this location's content handler. */
char *ngx_http_pattern_rt_serve_here(ngx_conf_t *cf, ngx_http_handler_pt h);
ngx_int_t ngx_http_pattern_rt_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);
ngx_int_t ngx_http_pattern_rt_send_error(ngx_http_request_t *r,
    prt_error_t code, const char *message, const char *field);
ngx_int_t ngx_http_pattern_rt_send_error_status(ngx_http_request_t *r,
    ngx_uint_t status, prt_error_t code, const char *message,
    const char *field);
ngx_int_t ngx_http_pattern_rt_send_status(ngx_http_request_t *r,
    ngx_int_t rc, const char *detail);
ngx_int_t ngx_http_pattern_rt_error_handler(ngx_http_request_t *r);
void ngx_http_pattern_rt_finish(ngx_http_request_t *r, ngx_int_t rc);
ngx_table_elt_t *ngx_http_pattern_rt_find_header(ngx_http_request_t *r,
    const char *name);

/* auth (ngx_http_pattern_rt_auth.c): NGX_OK when the request may use a
 * route of this scope, else the error answer was sent and its rc is
 * returned (NGX_AGAIN in place of NGX_OK, which finalize treats alike) */
ngx_int_t ngx_http_pattern_rt_auth_check(ngx_http_request_t *r,
    ngx_uint_t scope);
/* 1 when this location wants a token for scope: pattern_rt_auth on, and
 * for READ also pattern_rt_auth_read on */
ngx_uint_t ngx_http_pattern_rt_auth_needed(ngx_http_request_t *r,
    ngx_uint_t scope);
/* For the WebSocket: verifies token (plain text) for scope against this
 * location's secret at ngx_time(). NGX_OK with *expires (unix seconds: the
 * connection must be closed 1008 once ngx_time() >= *expires); else
 * NGX_HTTP_UNAUTHORIZED (missing, malformed, forged, expired),
 * NGX_HTTP_FORBIDDEN (genuine, lacks scope) or
 * NGX_HTTP_INTERNAL_SERVER_ERROR, with *reason a static text for the close
 * frame or the error body (never the token). Logs at info level. */
ngx_int_t ngx_http_pattern_rt_auth_verify(ngx_http_request_t *r,
    ngx_str_t *token, ngx_uint_t scope, time_t *expires, const char **reason);
/* The ?token= argument, percent-decoded; NGX_DECLINED when absent */
ngx_int_t ngx_http_pattern_rt_auth_query_token(ngx_http_request_t *r,
    ngx_str_t *token);
/* the pattern_rt_auth_secret directive */
char *ngx_http_pattern_rt_auth_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* routes */
extern const ngx_http_pattern_rt_route_t  ngx_http_pattern_rt_routes[];
extern const ngx_uint_t                   ngx_http_pattern_rt_nroutes;

ngx_int_t ngx_http_pattern_rt_call(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, uint16_t type, const void *payload,
    size_t len);
ngx_int_t ngx_http_pattern_rt_health(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx);

#endif /* NGX_HTTP_PATTERN_RT_MODULE_H */
