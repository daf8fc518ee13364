/*
 * Pattern Real-Time nginx module: the WebSocket channel (SPEC 5.3,
 * docs/websocket.md), served by the worker itself. What its three files
 * share: ngx_http_pattern_rt_handshake.c (the upgrade),
 * ngx_http_pattern_rt_ws.c (one connection: frames in and out, its output
 * queue, closing, timers) and ngx_http_pattern_rt_hub.c (the worker's
 * streams, the fan-out of engine events, subscriptions and replays).
 *
 * - Handshake (RFC 6455 4.2): GET, Upgrade: websocket, Connection: upgrade,
 *   version 13, a 16-byte key, the Origin policy, the token, the
 *   connection limit; then 101, and the request's read and write event
 *   handlers drive the connection from nginx events only.
 * - Frames in: ngx_http_pattern_rt_ws_frame.c (masking, RSV, control
 *   frames, reassembly up to pattern_rt_ws_max_message, UTF-8), messages:
 *   ngx_http_pattern_rt_ws_msg.c.
 * - Events out: each broadcast event is framed once per worker into a
 *   reference-counted buffer shared by every subscriber's output queue.
 *   Queues are bounded in bytes and frames; a progress event replaces a
 *   queued, unsent one of the same subscription; past the bound the
 *   connection is closed with 1008 and counted. A slow reader never holds
 *   anything but its own queue.
 * - Subscribe: the subscription is registered at once (events arriving are
 *   held, bounded), the engine answers with what to replay after `since`
 *   (or E_GAP / E_NOT_FOUND), then the held events newer than the last
 *   replayed one follow: nothing is lost or repeated. A connection's
 *   subscribes are asked one at a time, in order, and a replay goes out as
 *   the socket drains (its frames fill at most half of the queue's bounds):
 *   a client that asked for a long replay, or several, is not a slow
 *   reader. Live events held meanwhile count against the bounds, so a
 *   reader that does not keep up is still closed; at most one engine
 *   answer per connection is kept while it is sent.
 * - Heartbeat: a ping every pattern_rt_ws_ping_interval, closed when no pong
 *   comes within pattern_rt_ws_pong_timeout; an expired token closes with
 *   1008 at its expiry; a reload closes with 1001 (clients reconnect to the
 *   new workers with `since`).
 */

#ifndef _NGX_HTTP_PATTERN_RT_WS_H_INCLUDED_
#define _NGX_HTTP_PATTERN_RT_WS_H_INCLUDED_


#include "ngx_http_pattern_rt_module.h"
#include "ngx_http_pattern_rt_ws_frame.h"
#include "ngx_http_pattern_rt_ws_msg.h"


#define NGX_HTTP_PATTERN_RT_WS_READ  4096
#define NGX_HTTP_PATTERN_RT_WS_READS 16     /* recv calls per read event */
#define NGX_HTTP_PATTERN_RT_WS_HELD  1024   /* events held while the engine
                                               answers a subscribe */
#define NGX_HTTP_PATTERN_RT_WS_PUMPS 4      /* replay refills per write event */


typedef struct ngx_http_pattern_rt_ws_s      ngx_http_pattern_rt_ws_t;
typedef struct ngx_http_pattern_rt_sub_s     ngx_http_pattern_rt_sub_t;


/* An encoded frame, shared by every queue it is in. */
typedef struct {
    ngx_uint_t                      refs;
    size_t                          len;
    u_char                          data[1];
} ngx_http_pattern_rt_frame_t;


/* One frame in one connection's output queue. */
typedef struct {
    ngx_queue_t                     queue;
    ngx_http_pattern_rt_frame_t    *frame;
    size_t                          sent;
    ngx_http_pattern_rt_sub_t      *progress_of;    /* coalescable */
} ngx_http_pattern_rt_out_t;


/* An event held while its subscription waits for the engine's answer. */
typedef struct {
    ngx_queue_t                     queue;
    uint64_t                        seq;
    ngx_http_pattern_rt_frame_t    *frame;
} ngx_http_pattern_rt_held_t;


/* Where a subscription is: live, or in its connection's `pending` queue
 * (only the head of which is asked or replaying). */
typedef enum {
    NGX_HTTP_PATTERN_RT_SUB_LIVE = 0,
    NGX_HTTP_PATTERN_RT_SUB_WAITING,                /* not asked yet */
    NGX_HTTP_PATTERN_RT_SUB_ASKED,                  /* the engine answers */
    NGX_HTTP_PATTERN_RT_SUB_REPLAYING               /* its answer goes out */
} ngx_http_pattern_rt_sub_state_e;


/* The subscribers of one stream: a job (in the hub's tree) or a channel. */
typedef struct {
    ngx_rbtree_node_t               node;           /* key: crc32(job id) */
    u_char                          job_id[PRT_JOB_ID_SIZE];
    ngx_queue_t                     subs;
} ngx_http_pattern_rt_stream_t;


struct ngx_http_pattern_rt_sub_s {
    ngx_queue_t                     in_conn;
    ngx_queue_t                     in_stream;
    ngx_http_pattern_rt_ws_t       *ws;
    ngx_http_pattern_rt_stream_t   *stream;
    uint8_t                         kind;           /* prt_stream_t */
    uint64_t                        last_seq;       /* highest delivered */
    ngx_http_pattern_rt_out_t      *queued_progress;
    ngx_http_pattern_rt_ctx_t      *call;           /* subscribe in flight */
    ngx_queue_t                     held;
    ngx_uint_t                      nheld;
    ngx_queue_t                     in_pending;     /* until live */
    u_char                         *replay;         /* the engine's answer */
    size_t                          replay_pos;     /* next line */
    size_t                          replay_len;
    uint64_t                        since;
    prt_ws_alert_filter_t           filter;         /* alerts: symbols
                                                       allocated with the
                                                       sub, right after it */
    unsigned                        state:2;        /* ..._sub_state_e */
    unsigned                        has_since:1;
    unsigned                        overflowed:1;   /* held too many */
};


struct ngx_http_pattern_rt_ws_s {
    ngx_http_request_t             *request;
    ngx_http_pattern_rt_engine_t   *eng;
    ngx_http_pattern_rt_loc_conf_t *conf;
    ngx_queue_t                     in_hub;
    ngx_queue_t                     subs;
    ngx_uint_t                      nsubs;
    ngx_queue_t                     out;
    size_t                          out_bytes;
    ngx_uint_t                      out_frames;
    ngx_queue_t                     pending;        /* subscriptions not
                                                       live yet, in order */
    size_t                          held_bytes;     /* every sub's held */
    ngx_uint_t                      held_frames;

    ngx_http_pattern_rt_ws_parser_t parser;
    u_char                         *msg;            /* lent to the parser
                                                       while a message is
                                                       open or arriving */
    u_char                         *rbuf;           /* the hub's */
    size_t                          rpos, rlast;

    ngx_event_t                     ping;           /* interval timer */
    ngx_event_t                     expiry;         /* token expiry */
    ngx_event_t                     linger;         /* close handshake */
    ngx_msec_t                      last_heard;

    unsigned                        closing:1;      /* our close queued */
    unsigned                        peer_closed:1;  /* theirs received */
    unsigned                        failed:1;       /* protocol error */
    unsigned                        parser_ready:1;
    unsigned                        shut:1;         /* FIN sent */
    unsigned                        done:1;
};


struct ngx_http_pattern_rt_ws_hub_s {
    ngx_rbtree_t                    jobs;
    ngx_rbtree_node_t               sentinel;
    ngx_http_pattern_rt_stream_t    channels[PRT_STREAM_COUNT]; /* [0]
                                                       unused */
    ngx_queue_t                     conns;
    ngx_uint_t                      nconns;
    ngx_event_t                     exit_check;
    u_char                         *rbuf;           /* every read is parsed
                                                       at once: one buffer
                                                       serves all */

    ngx_uint_t                      accepted;
    ngx_uint_t                      refused;
    ngx_uint_t                      slow_closed;
    ngx_uint_t                      events;
    ngx_uint_t                      frames_queued;
};


/* ---- a connection (ngx_http_pattern_rt_ws.c) ---------------------------- */


/* After a handshake that passed: the connection registered with the hub,
 * its timers armed and the request's event handlers set; NULL when out of
 * memory. */
ngx_http_pattern_rt_ws_t *ngx_http_pattern_rt_ws_open(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, ngx_http_pattern_rt_engine_t *eng,
    time_t expires);
/* After the 101: the frames the client sent with its handshake, then
 * whatever the socket holds. */
void ngx_http_pattern_rt_ws_first_read(ngx_http_pattern_rt_ws_t *ws);

/* frames, shared by reference between the queues they are in */
ngx_http_pattern_rt_frame_t *ngx_http_pattern_rt_frame_parts(int opcode,
    const u_char *a, size_t alen, const u_char *b, size_t blen,
    ngx_log_t *log);
ngx_http_pattern_rt_frame_t *ngx_http_pattern_rt_frame(int opcode,
    const u_char *payload, size_t len, ngx_log_t *log);
void ngx_http_pattern_rt_frame_unref(ngx_http_pattern_rt_frame_t *f);

/* the output queue and its bounds */
ngx_uint_t ngx_http_pattern_rt_ws_over(ngx_http_pattern_rt_ws_t *ws,
    size_t len);
ngx_uint_t ngx_http_pattern_rt_ws_room(ngx_http_pattern_rt_ws_t *ws,
    size_t len);
void ngx_http_pattern_rt_ws_append(ngx_http_pattern_rt_ws_t *ws,
    ngx_http_pattern_rt_out_t *o, ngx_http_pattern_rt_frame_t *f,
    ngx_http_pattern_rt_sub_t *progress_of);
ngx_int_t ngx_http_pattern_rt_ws_queue(ngx_http_pattern_rt_ws_t *ws,
    ngx_http_pattern_rt_frame_t *f, ngx_http_pattern_rt_sub_t *progress_of);
void ngx_http_pattern_rt_ws_slow(ngx_http_pattern_rt_ws_t *ws);
void ngx_http_pattern_rt_ws_send_text(ngx_http_pattern_rt_ws_t *ws,
    const u_char *text, size_t len);
void ngx_http_pattern_rt_ws_error(ngx_http_pattern_rt_ws_t *ws,
    const char *code, const char *message);
ngx_int_t ngx_http_pattern_rt_ws_send_out(ngx_http_pattern_rt_ws_t *ws);
void ngx_http_pattern_rt_ws_flush(ngx_http_pattern_rt_ws_t *ws);
void ngx_http_pattern_rt_ws_close(ngx_http_pattern_rt_ws_t *ws,
    ngx_uint_t code, const char *reason);


/* ---- the hub (ngx_http_pattern_rt_hub.c) -------------------------------- */


/* a client's text message: subscribe, unsubscribe, ping */
ngx_int_t ngx_http_pattern_rt_ws_text(ngx_http_pattern_rt_ws_t *ws,
    const u_char *text, size_t len);
void ngx_http_pattern_rt_ws_unsub(ngx_http_pattern_rt_sub_t *sub);
/* moves the pending subscriptions on (asks the engine for the next, or
 * queues more of the replay under way): how many frames it queued */
ngx_uint_t ngx_http_pattern_rt_ws_pump(ngx_http_pattern_rt_ws_t *ws);


#endif /* _NGX_HTTP_PATTERN_RT_WS_H_INCLUDED_ */
