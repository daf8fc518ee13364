/*
 * Pattern Real-Time nginx module: the WebSocket channel (SPEC 5.3,
 * docs/websocket.md), served by the worker itself.
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

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ngx_http_pattern_rt_module.h"
#include "ngx_http_pattern_rt_ws_frame.h"
#include "ngx_http_pattern_rt_ws_msg.h"


#define NGX_HTTP_PATTERN_RT_WS_GUID  "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
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


static void ngx_http_pattern_rt_ws_read(ngx_http_request_t *r);
static void ngx_http_pattern_rt_ws_write(ngx_http_request_t *r);
static void ngx_http_pattern_rt_ws_flush(ngx_http_pattern_rt_ws_t *ws);
static void ngx_http_pattern_rt_ws_close(ngx_http_pattern_rt_ws_t *ws,
    ngx_uint_t code, const char *reason);
static void ngx_http_pattern_rt_ws_finalize(ngx_http_pattern_rt_ws_t *ws);
static void ngx_http_pattern_rt_ws_finalize_posted(ngx_event_t *ev);
static void ngx_http_pattern_rt_ws_cleanup(void *data);
static ngx_int_t ngx_http_pattern_rt_ws_text(ngx_http_pattern_rt_ws_t *ws,
    const u_char *text, size_t len);
static void ngx_http_pattern_rt_ws_unsub(ngx_http_pattern_rt_sub_t *sub);
static ngx_int_t ngx_http_pattern_rt_ws_send_out(ngx_http_pattern_rt_ws_t *ws);


/* ---- frames ------------------------------------------------------------- */


/* A frame whose payload is a then b (b may be empty). */
static ngx_http_pattern_rt_frame_t *
ngx_http_pattern_rt_frame_parts(int opcode, const u_char *a, size_t alen,
    const u_char *b, size_t blen, ngx_log_t *log)
{
    uint8_t                        hdr[NGX_HTTP_PATTERN_RT_WS_HEADER_MAX];
    size_t                         hlen;
    ngx_http_pattern_rt_frame_t   *f;

    hlen = ngx_http_pattern_rt_ws_header(hdr, opcode, 1, alen + blen);

    f = ngx_alloc(sizeof(ngx_http_pattern_rt_frame_t) + hlen + alen + blen,
                  log);
    if (f == NULL) {
        return NULL;
    }

    f->refs = 0;
    f->len = hlen + alen + blen;
    ngx_memcpy(f->data, hdr, hlen);
    ngx_memcpy(f->data + hlen, a, alen);
    if (blen) {
        ngx_memcpy(f->data + hlen + alen, b, blen);
    }

    return f;
}


static ngx_http_pattern_rt_frame_t *
ngx_http_pattern_rt_frame(int opcode, const u_char *payload, size_t len,
    ngx_log_t *log)
{
    return ngx_http_pattern_rt_frame_parts(opcode, payload, len, NULL, 0,
                                           log);
}


static void
ngx_http_pattern_rt_frame_unref(ngx_http_pattern_rt_frame_t *f)
{
    if (--f->refs == 0) {
        ngx_free(f);
    }
}


/* A frame made from control-frame bytes the codec built. */
static ngx_http_pattern_rt_frame_t *
ngx_http_pattern_rt_frame_raw(const u_char *bytes, size_t len, ngx_log_t *log)
{
    ngx_http_pattern_rt_frame_t  *f;

    f = ngx_alloc(sizeof(ngx_http_pattern_rt_frame_t) + len, log);
    if (f == NULL) {
        return NULL;
    }

    f->refs = 0;
    f->len = len;
    ngx_memcpy(f->data, bytes, len);

    return f;
}


/* Live output pending for the client (queued or held) would pass a bound. */
static ngx_uint_t
ngx_http_pattern_rt_ws_over(ngx_http_pattern_rt_ws_t *ws, size_t len)
{
    return ws->out_frames + ws->held_frames >= ws->conf->ws_max_frames
           || ws->out_bytes + ws->held_bytes + len > ws->conf->ws_max_output;
}


/* A replay may add a frame of len: the queue is empty, or below half its
 * bounds (the other half is for live events and answers). */
static ngx_uint_t
ngx_http_pattern_rt_ws_room(ngx_http_pattern_rt_ws_t *ws, size_t len)
{
    return ws->out_frames == 0
           || (ws->out_frames < ws->conf->ws_max_frames / 2
               && ws->out_bytes + len <= ws->conf->ws_max_output / 2);
}


static void
ngx_http_pattern_rt_ws_append(ngx_http_pattern_rt_ws_t *ws,
    ngx_http_pattern_rt_out_t *o, ngx_http_pattern_rt_frame_t *f,
    ngx_http_pattern_rt_sub_t *progress_of)
{
    o->frame = f;
    o->sent = 0;
    o->progress_of = progress_of;
    f->refs++;
    ngx_queue_insert_tail(&ws->out, &o->queue);
    ws->out_bytes += f->len;
    ws->out_frames++;

    if (progress_of) {
        progress_of->queued_progress = o;
    }
}


/*
 * Queues a frame for ws. Returns NGX_OK, or NGX_DECLINED when the queue is
 * over its bounds (the caller closes the connection).
 */
static ngx_int_t
ngx_http_pattern_rt_ws_queue(ngx_http_pattern_rt_ws_t *ws,
    ngx_http_pattern_rt_frame_t *f, ngx_http_pattern_rt_sub_t *progress_of)
{
    ngx_http_pattern_rt_out_t  *o;

    if (ws->closing) {
        return NGX_OK;                  /* nothing after our close frame */
    }

    /* only the latest progress of a subscription matters */
    if (progress_of && progress_of->queued_progress) {
        o = progress_of->queued_progress;
        ws->out_bytes += f->len - o->frame->len;
        ngx_http_pattern_rt_frame_unref(o->frame);
        o->frame = f;
        f->refs++;
        return NGX_OK;
    }

    if (ngx_http_pattern_rt_ws_over(ws, f->len)) {
        /* a burst queues many frames at once: what the socket takes now
         * does not count against the reader */
        if (ngx_http_pattern_rt_ws_send_out(ws) != NGX_OK
            || ngx_http_pattern_rt_ws_over(ws, f->len))
        {
            return NGX_DECLINED;
        }
    }

    o = ngx_alloc(sizeof(ngx_http_pattern_rt_out_t), ws->request->connection->log);
    if (o == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_pattern_rt_ws_append(ws, o, f, progress_of);

    return NGX_OK;
}


static void
ngx_http_pattern_rt_ws_out_free(ngx_http_pattern_rt_ws_t *ws,
    ngx_http_pattern_rt_out_t *o)
{
    if (o->progress_of && o->progress_of->queued_progress == o) {
        o->progress_of->queued_progress = NULL;
    }

    ngx_queue_remove(&o->queue);
    ws->out_bytes -= o->frame->len;
    ws->out_frames--;
    ngx_http_pattern_rt_frame_unref(o->frame);
    ngx_free(o);
}


/* Past its queue's bounds: the reader is too slow (or gone quiet). */
static void
ngx_http_pattern_rt_ws_slow(ngx_http_pattern_rt_ws_t *ws)
{
    ws->eng->ws_hub->slow_closed++;
    ngx_log_error(NGX_LOG_INFO, ws->request->connection->log, 0,
                  "pattern_rt: websocket client too slow, closing");
    ngx_http_pattern_rt_ws_close(ws, NGX_HTTP_PATTERN_RT_WS_CLOSE_POLICY,
                                 "slow consumer");
}


/* Queues a frame made elsewhere, closing a reader past its bounds. */
static void
ngx_http_pattern_rt_ws_push(ngx_http_pattern_rt_ws_t *ws,
    ngx_http_pattern_rt_frame_t *f)
{
    if (f == NULL) {
        ngx_http_pattern_rt_ws_close(ws, NGX_HTTP_PATTERN_RT_WS_CLOSE_INTERNAL,
                                     "out of memory");
        return;
    }

    f->refs++;
    if (ngx_http_pattern_rt_ws_queue(ws, f, NULL) != NGX_OK) {
        ngx_http_pattern_rt_ws_slow(ws);
    }
    ngx_http_pattern_rt_frame_unref(f);
}


/* Sends a JSON text message to one connection (answers, errors, pong). */
static void
ngx_http_pattern_rt_ws_send_text(ngx_http_pattern_rt_ws_t *ws,
    const u_char *text, size_t len)
{
    ngx_http_pattern_rt_ws_push(ws,
        ngx_http_pattern_rt_frame(NGX_HTTP_PATTERN_RT_WS_OP_TEXT, text, len,
                                  ws->request->connection->log));
}


static void
ngx_http_pattern_rt_ws_error(ngx_http_pattern_rt_ws_t *ws, const char *code,
    const char *message)
{
    u_char  buf[512], *p;

    p = ngx_snprintf(buf, sizeof(buf) - 1,
                     "{\"type\":\"error\",\"code\":\"%s\",\"error\":\"",
                     code);

    for ( /* void */ ; *message && p < buf + sizeof(buf) - 8; message++) {
        if (*message == '"' || *message == '\\') {
            *p++ = '\\';
        }
        if ((u_char) *message >= 0x20) {
            *p++ = *message;
        }
    }

    p = ngx_cpymem(p, "\"}", 2);
    ngx_http_pattern_rt_ws_send_text(ws, buf, p - buf);
}


/* ---- the hub (this worker's subscriptions) ------------------------------- */


static void
ngx_http_pattern_rt_stream_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_pattern_rt_stream_t   *s, *t;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            s = (ngx_http_pattern_rt_stream_t *) node;
            t = (ngx_http_pattern_rt_stream_t *) temp;
            p = (ngx_strcmp(s->job_id, t->job_id) < 0) ? &temp->left
                                                        : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_pattern_rt_stream_t *
ngx_http_pattern_rt_stream_find(ngx_http_pattern_rt_ws_hub_t *hub,
    const u_char *job_id)
{
    uint32_t                       hash;
    ngx_int_t                      rc;
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_pattern_rt_stream_t  *s;

    hash = ngx_crc32_short((u_char *) job_id, PRT_JOB_ID_LEN);
    node = hub->jobs.root;
    sentinel = hub->jobs.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        s = (ngx_http_pattern_rt_stream_t *) node;
        rc = ngx_strcmp(job_id, s->job_id);

        if (rc == 0) {
            return s;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_http_pattern_rt_stream_t *
ngx_http_pattern_rt_stream_get(ngx_http_pattern_rt_ws_hub_t *hub,
    uint8_t kind, const char *job_id, ngx_log_t *log)
{
    ngx_http_pattern_rt_stream_t  *s;

    if (kind != PRT_STREAM_JOB) {
        return &hub->channels[kind];
    }

    s = ngx_http_pattern_rt_stream_find(hub, (u_char *) job_id);
    if (s) {
        return s;
    }

    s = ngx_calloc(sizeof(ngx_http_pattern_rt_stream_t), log);
    if (s == NULL) {
        return NULL;
    }

    ngx_memcpy(s->job_id, job_id, PRT_JOB_ID_LEN);
    s->node.key = ngx_crc32_short(s->job_id, PRT_JOB_ID_LEN);
    ngx_queue_init(&s->subs);
    ngx_rbtree_insert(&hub->jobs, &s->node);

    return s;
}


static void
ngx_http_pattern_rt_stream_release(ngx_http_pattern_rt_ws_hub_t *hub,
    ngx_http_pattern_rt_stream_t *s)
{
    if (s >= hub->channels && s < hub->channels + PRT_STREAM_COUNT) {
        return;
    }

    if (ngx_queue_empty(&s->subs)) {
        ngx_rbtree_delete(&hub->jobs, &s->node);
        ngx_free(s);
    }
}


static void
ngx_http_pattern_rt_hub_exit_check(ngx_event_t *ev)
{
    ngx_queue_t                   *q, *next;
    ngx_http_pattern_rt_ws_hub_t  *hub = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* a reload: clients reconnect to the new workers with `since` */
        for (q = ngx_queue_head(&hub->conns);
             q != ngx_queue_sentinel(&hub->conns);
             q = next)
        {
            next = ngx_queue_next(q);
            ngx_http_pattern_rt_ws_close(
                ngx_queue_data(q, ngx_http_pattern_rt_ws_t, in_hub),
                NGX_HTTP_PATTERN_RT_WS_CLOSE_GOING_AWAY, "server reloading");
        }
        return;
    }

    ngx_add_timer(ev, 1000);
}


ngx_int_t
ngx_http_pattern_rt_ws_init_process(ngx_cycle_t *cycle,
    ngx_http_pattern_rt_engine_t *eng)
{
    ngx_uint_t                     i;
    ngx_http_pattern_rt_ws_hub_t  *hub;

    hub = ngx_pcalloc(cycle->pool, sizeof(ngx_http_pattern_rt_ws_hub_t));
    if (hub == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&hub->jobs, &hub->sentinel,
                    ngx_http_pattern_rt_stream_insert);

    for (i = 0; i < PRT_STREAM_COUNT; i++) {
        ngx_queue_init(&hub->channels[i].subs);
    }

    ngx_queue_init(&hub->conns);

    hub->rbuf = ngx_palloc(cycle->pool, NGX_HTTP_PATTERN_RT_WS_READ);
    if (hub->rbuf == NULL) {
        return NGX_ERROR;
    }

    /* cancelable: while connections are open their own timers keep the
     * worker alive long enough for this check to close them */
    hub->exit_check.handler = ngx_http_pattern_rt_hub_exit_check;
    hub->exit_check.data = hub;
    hub->exit_check.log = cycle->log;
    hub->exit_check.cancelable = 1;
    ngx_add_timer(&hub->exit_check, 1000);

    eng->ws_hub = hub;

    return NGX_OK;
}


/* ---- events from the engine ---------------------------------------------- */


/* seq of a replayed event line: its "seq": field (the engine renders it) */
static uint64_t
ngx_http_pattern_rt_line_seq(const u_char *line, size_t len)
{
    u_char    *p, *end;
    uint64_t   seq;

    p = ngx_strlcasestrn((u_char *) line, (u_char *) line + len,
                         (u_char *) "\"seq\":", 6 - 1);
    if (p == NULL) {
        return 0;
    }

    end = (u_char *) line + len;
    seq = 0;

    for (p += 6; p < end && *p >= '0' && *p <= '9'; p++) {
        seq = seq * 10 + (*p - '0');
    }

    return seq;
}


static ngx_int_t
ngx_http_pattern_rt_sub_deliver(ngx_http_pattern_rt_sub_t *sub,
    ngx_http_pattern_rt_frame_t *f, uint64_t seq, ngx_uint_t coalesce)
{
    ngx_http_pattern_rt_held_t  *h;

    ngx_http_pattern_rt_ws_t    *ws;

    ws = sub->ws;

    if (seq <= sub->last_seq) {
        return NGX_OK;                  /* replayed already */
    }

    if (sub->state == NGX_HTTP_PATTERN_RT_SUB_LIVE) {
        sub->last_seq = seq;
        return ngx_http_pattern_rt_ws_queue(ws, f, coalesce ? sub : NULL);
    }

    /* held until what is replayed before it has gone out */

    if (sub->state == NGX_HTTP_PATTERN_RT_SUB_ASKED) {
        /* the engine, not the reader, is what is waited for */
        if (sub->nheld >= NGX_HTTP_PATTERN_RT_WS_HELD) {
            sub->overflowed = 1;
            return NGX_OK;
        }

    } else if (ngx_http_pattern_rt_ws_over(ws, f->len)) {
        /* waiting for the socket: a live event the reader cannot take */
        if (ngx_http_pattern_rt_ws_send_out(ws) != NGX_OK
            || ngx_http_pattern_rt_ws_over(ws, f->len))
        {
            return NGX_DECLINED;
        }
    }

    h = ngx_alloc(sizeof(ngx_http_pattern_rt_held_t),
                  ws->request->connection->log);
    if (h == NULL) {
        sub->overflowed = 1;
        return NGX_OK;
    }

    h->seq = seq;
    h->frame = f;
    f->refs++;
    ngx_queue_insert_tail(&sub->held, &h->queue);
    sub->nheld++;
    ws->held_frames++;
    ws->held_bytes += f->len;

    return NGX_OK;
}


/* One framed event to the subscribers of s (alerts: those whose filter the
 * result passes). */
static void
ngx_http_pattern_rt_ws_fanout(ngx_http_pattern_rt_ws_hub_t *hub,
    ngx_http_pattern_rt_stream_t *s, ngx_http_pattern_rt_frame_t *f,
    const prt_event_hdr_t *hdr, ngx_uint_t alerts)
{
    ngx_queue_t                   *q, *next;
    ngx_http_pattern_rt_ws_t      *ws;
    ngx_http_pattern_rt_sub_t     *sub;

    f->refs++;

    for (q = ngx_queue_head(&s->subs); q != ngx_queue_sentinel(&s->subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, ngx_http_pattern_rt_sub_t, in_stream);
        ws = sub->ws;

        if (alerts
            && !prt_ws_alert_match(&sub->filter, hdr->symbol, hdr->edge,
                                   hdr->direction))
        {
            continue;
        }

        if (ngx_http_pattern_rt_sub_deliver(sub, f, hdr->seq, hdr->coalesce)
            != NGX_OK)
        {
            ngx_http_pattern_rt_ws_slow(ws);
            continue;
        }

        hub->frames_queued++;
        ngx_http_pattern_rt_ws_flush(ws);
    }

    ngx_http_pattern_rt_frame_unref(f);
}


/*
 * The alerts channel is made here, from the jobs' result events: the same
 * text with "type":"result" renamed "alert" (its seq, from the engine-wide
 * counter, increases on the channel too), framed once per worker when
 * anyone here subscribes, then each subscriber's filter on the symbol, edge
 * and direction the engine put in the event header. Nothing more crosses
 * the broadcast log and the engine keeps no per-subscriber state.
 */
static void
ngx_http_pattern_rt_ws_alert(ngx_http_pattern_rt_ws_hub_t *hub,
    const prt_event_hdr_t *hdr, const u_char *json, size_t len,
    ngx_log_t *log)
{
    ngx_http_pattern_rt_frame_t   *f;
    ngx_http_pattern_rt_stream_t  *s;
    static const u_char            result[] = "{\"type\":\"result\"";
    static const u_char            alert[] = "{\"type\":\"alert\"";

    s = &hub->channels[PRT_STREAM_ALERTS];
    if (ngx_queue_empty(&s->subs)) {
        return;
    }

    if (len < sizeof(result) - 1
        || ngx_memcmp(json, result, sizeof(result) - 1) != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "pattern_rt: a result event of job %s does not start "
                      "with its type: no alert", hdr->job_id);
        return;
    }

    f = ngx_http_pattern_rt_frame_parts(NGX_HTTP_PATTERN_RT_WS_OP_TEXT,
                                        alert, sizeof(alert) - 1,
                                        json + sizeof(result) - 1,
                                        len - (sizeof(result) - 1), log);
    if (f == NULL) {
        return;
    }

    ngx_http_pattern_rt_ws_fanout(hub, s, f, hdr, 1);
}


void
ngx_http_pattern_rt_ws_event(ngx_http_pattern_rt_engine_t *eng,
    const u_char *data, size_t len)
{
    prt_event_hdr_t                hdr;
    ngx_http_pattern_rt_frame_t   *f;
    ngx_http_pattern_rt_stream_t  *s;
    ngx_http_pattern_rt_ws_hub_t  *hub;

    hub = eng->ws_hub;
    if (hub == NULL || len < sizeof(prt_event_hdr_t)) {
        return;
    }

    ngx_memcpy(&hdr, data, sizeof(prt_event_hdr_t));
    hdr.job_id[PRT_JOB_ID_SIZE - 1] = '\0';
    hdr.symbol[PRT_SYMBOL_SIZE - 1] = '\0';
    hub->events++;

    if (hdr.stream == PRT_STREAM_JOB && hdr.kind == PRT_EVENT_RESULT) {
        ngx_http_pattern_rt_ws_alert(hub, &hdr, data + sizeof(hdr),
                                     len - sizeof(hdr), eng->log);
    }

    if (hdr.stream == PRT_STREAM_JOB) {
        s = ngx_http_pattern_rt_stream_find(hub, (u_char *) hdr.job_id);

    } else {
        /* the alerts channel is only fed from result events, above */
        s = (hdr.stream < PRT_STREAM_ALERTS) ? &hub->channels[hdr.stream]
                                             : NULL;
    }

    if (s == NULL || ngx_queue_empty(&s->subs)) {
        return;
    }

    /* framed once, shared by every subscriber of this worker */
    f = ngx_http_pattern_rt_frame(NGX_HTTP_PATTERN_RT_WS_OP_TEXT,
                                  data + sizeof(prt_event_hdr_t),
                                  len - sizeof(prt_event_hdr_t), eng->log);
    if (f == NULL) {
        return;
    }

    ngx_http_pattern_rt_ws_fanout(hub, s, f, &hdr, 0);
}


/* Events were missed (a broadcast lap, the engine restarted): every
 * subscriber is told to refetch over REST. */
void
ngx_http_pattern_rt_ws_lost_events(ngx_http_pattern_rt_engine_t *eng,
    const char *why)
{
    ngx_queue_t                   *q, *next;
    ngx_http_pattern_rt_ws_t      *ws;
    ngx_http_pattern_rt_ws_hub_t  *hub;

    hub = eng->ws_hub;
    if (hub == NULL) {
        return;
    }

    for (q = ngx_queue_head(&hub->conns); q != ngx_queue_sentinel(&hub->conns);
         q = next)
    {
        next = ngx_queue_next(q);
        ws = ngx_queue_data(q, ngx_http_pattern_rt_ws_t, in_hub);

        if (ws->nsubs) {
            ngx_http_pattern_rt_ws_error(ws, "E_GAP", why);
            ngx_http_pattern_rt_ws_flush(ws);
        }
    }
}


/* ---- subscribe / unsubscribe ------------------------------------------- */


static ngx_http_pattern_rt_sub_t *
ngx_http_pattern_rt_ws_find_sub(ngx_http_pattern_rt_ws_t *ws,
    const prt_ws_msg_t *m)
{
    ngx_queue_t                *q;
    ngx_http_pattern_rt_sub_t  *sub;

    for (q = ngx_queue_head(&ws->subs); q != ngx_queue_sentinel(&ws->subs);
         q = ngx_queue_next(q))
    {
        sub = ngx_queue_data(q, ngx_http_pattern_rt_sub_t, in_conn);

        if (sub->kind == m->stream
            && (m->stream != PRT_STREAM_JOB
                || ngx_strcmp(sub->stream->job_id, m->job_id) == 0))
        {
            return sub;
        }
    }

    return NULL;
}


static void
ngx_http_pattern_rt_held_free(ngx_http_pattern_rt_sub_t *sub,
    ngx_http_pattern_rt_held_t *h)
{
    ngx_queue_remove(&h->queue);
    sub->nheld--;
    sub->ws->held_frames--;
    sub->ws->held_bytes -= h->frame->len;
    ngx_http_pattern_rt_frame_unref(h->frame);
    ngx_free(h);
}


static void
ngx_http_pattern_rt_sub_drop_held(ngx_http_pattern_rt_sub_t *sub)
{
    while (!ngx_queue_empty(&sub->held)) {
        ngx_http_pattern_rt_held_free(sub,
            ngx_queue_data(ngx_queue_head(&sub->held),
                           ngx_http_pattern_rt_held_t, queue));
    }
}


static void
ngx_http_pattern_rt_ws_unsub(ngx_http_pattern_rt_sub_t *sub)
{
    ngx_http_pattern_rt_ws_t   *ws;
    ngx_http_pattern_rt_out_t  *o;

    ws = sub->ws;

    if (sub->call) {
        ngx_http_pattern_rt_engine_forget(ws->eng, sub->call);
        ngx_free(sub->call);
        sub->call = NULL;
    }

    o = sub->queued_progress;
    if (o) {
        o->progress_of = NULL;
        sub->queued_progress = NULL;
    }

    if (sub->replay) {
        ngx_free(sub->replay);
        sub->replay = NULL;
    }

    if (sub->state != NGX_HTTP_PATTERN_RT_SUB_LIVE) {
        ngx_queue_remove(&sub->in_pending);
    }

    ngx_http_pattern_rt_sub_drop_held(sub);
    ngx_queue_remove(&sub->in_conn);
    ngx_queue_remove(&sub->in_stream);
    ws->nsubs--;
    ngx_http_pattern_rt_stream_release(ws->eng->ws_hub, sub->stream);
    ngx_free(sub);
}


/*
 * The engine answered a subscribe. Its lines (subscribed, the replayed
 * events, an E_GAP) and then the events held meanwhile go out as the socket
 * drains (ngx_http_pattern_rt_ws_pump); a 404 or a failure ends the
 * subscription.
 */
static ngx_int_t
ngx_http_pattern_rt_ws_subscribed(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx)
{
    u_char                      *p, *end, *nl;
    ngx_uint_t                   status;
    ngx_http_pattern_rt_ws_t    *ws;
    ngx_http_pattern_rt_sub_t   *sub;

    sub = ctx->data;
    ws = sub->ws;
    sub->call = NULL;
    status = ctx->status;

    if (status == 200 && ctx->body) {
        sub->replay = ctx->body;
        sub->replay_pos = 0;
        sub->replay_len = ctx->body_len;
        sub->state = NGX_HTTP_PATTERN_RT_SUB_REPLAYING;
        ngx_free(ctx);
        ngx_http_pattern_rt_ws_flush(ws);
        return NGX_OK;
    }

    if (status == 404) {
        /* its error line: small, sent as it is */
        p = ctx->body;
        end = ctx->body + ctx->body_len;

        for ( /* void */ ; p && p < end; p = nl + 1) {
            nl = ngx_strlchr(p, end, '\n');
            if (nl == NULL) {
                nl = end;
            }

            if (nl > p) {
                ngx_http_pattern_rt_ws_send_text(ws, p, nl - p);
            }
        }

    } else if (status != 200) {
        ngx_http_pattern_rt_ws_error(ws, status == 504 ? "E_TIMEOUT"
                                                           : "E_ENGINE_DOWN",
                                     "subscription failed: the engine did "
                                     "not answer");
    }

    if (ctx->body) {
        ngx_free(ctx->body);
    }
    ngx_free(ctx);

    if (status == 200) {
        /* an empty answer: nothing to replay */
        sub->state = NGX_HTTP_PATTERN_RT_SUB_REPLAYING;
    } else {
        ngx_http_pattern_rt_ws_unsub(sub);
    }

    ngx_http_pattern_rt_ws_flush(ws);
    return NGX_OK;
}


/* Asks the engine for a waiting subscription (the head of `pending`). */
static ngx_int_t
ngx_http_pattern_rt_ws_ask(ngx_http_pattern_rt_sub_t *sub)
{
    prt_error_t                   err;
    prt_req_subscribe_t           req;
    ngx_http_pattern_rt_ws_t     *ws;
    ngx_http_pattern_rt_ctx_t    *ctx;

    ws = sub->ws;

    ctx = ngx_calloc(sizeof(ngx_http_pattern_rt_ctx_t),
                     ws->request->connection->log);
    if (ctx == NULL) {
        ngx_http_pattern_rt_ws_unsub(sub);
        ngx_http_pattern_rt_ws_error(ws, "E_INTERNAL", "out of memory");
        return NGX_ERROR;
    }

    ngx_memzero(&req, sizeof(prt_req_subscribe_t));
    ngx_memcpy(req.job_id, sub->stream->job_id, PRT_JOB_ID_SIZE);
    req.stream = sub->kind;
    req.has_since = sub->has_since;
    req.since = sub->since;

    ctx->request = ws->request;
    ctx->keep = 1;
    ctx->data = sub;
    ctx->done = ngx_http_pattern_rt_ws_subscribed;
    sub->call = ctx;
    sub->state = NGX_HTTP_PATTERN_RT_SUB_ASKED;

    err = ngx_http_pattern_rt_engine_send(ws->request, ctx,
                                          PRT_MSG_SUBSCRIBE, &req,
                                          sizeof(prt_req_subscribe_t));
    if (err != PRT_OK) {
        sub->call = NULL;
        ngx_free(ctx);
        ngx_http_pattern_rt_ws_unsub(sub);
        ngx_http_pattern_rt_ws_error(ws, prt_error_name(err),
                                     err == PRT_E_ENGINE_DOWN
                                     ? "engine is not running"
                                     : "engine request queue is full");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Queues what a replaying subscription has left while the queue has room;
 * NGX_AGAIN when it must wait for the socket, NGX_OK when all is out and
 * the subscription is live.
 */
static ngx_int_t
ngx_http_pattern_rt_ws_replay(ngx_http_pattern_rt_sub_t *sub,
    ngx_uint_t *queued)
{
    u_char                       *p, *end, *nl;
    size_t                        len;
    uint64_t                      seq;
    ngx_http_pattern_rt_ws_t     *ws;
    ngx_http_pattern_rt_out_t    *o;
    ngx_http_pattern_rt_held_t   *h;
    ngx_http_pattern_rt_frame_t  *f;

    ws = sub->ws;
    end = sub->replay + sub->replay_len;

    /* one JSON message per line */
    while (sub->replay && sub->replay_pos < sub->replay_len) {
        p = sub->replay + sub->replay_pos;
        nl = ngx_strlchr(p, end, '\n');
        if (nl == NULL) {
            nl = end;
        }

        if (nl > p) {
            len = nl - p + NGX_HTTP_PATTERN_RT_WS_HEADER_MAX;

            if (!ngx_http_pattern_rt_ws_room(ws, len)) {
                return NGX_AGAIN;
            }

            f = ngx_http_pattern_rt_frame(NGX_HTTP_PATTERN_RT_WS_OP_TEXT, p,
                                          nl - p, ws->request->connection->log);
            o = ngx_alloc(sizeof(ngx_http_pattern_rt_out_t),
                          ws->request->connection->log);
            if (f == NULL || o == NULL) {
                if (f) {
                    ngx_free(f);
                }
                ngx_free(o);
                ngx_http_pattern_rt_ws_close(ws,
                    NGX_HTTP_PATTERN_RT_WS_CLOSE_INTERNAL, "out of memory");
                return NGX_AGAIN;
            }

            ngx_http_pattern_rt_ws_append(ws, o, f, NULL);
            (*queued)++;

            seq = ngx_http_pattern_rt_line_seq(p, nl - p);
            if (seq > sub->last_seq) {
                sub->last_seq = seq;
            }
        }

        sub->replay_pos = nl - sub->replay + 1;
    }

    if (sub->replay) {
        ngx_free(sub->replay);
        sub->replay = NULL;
    }

    /* then the live events held meanwhile, those not replayed */
    while (!ngx_queue_empty(&sub->held)) {
        h = ngx_queue_data(ngx_queue_head(&sub->held),
                           ngx_http_pattern_rt_held_t, queue);

        if (h->seq > sub->last_seq) {
            if (!ngx_http_pattern_rt_ws_room(ws, h->frame->len)) {
                return NGX_AGAIN;
            }

            o = ngx_alloc(sizeof(ngx_http_pattern_rt_out_t),
                          ws->request->connection->log);
            if (o == NULL) {
                ngx_http_pattern_rt_ws_close(ws,
                    NGX_HTTP_PATTERN_RT_WS_CLOSE_INTERNAL, "out of memory");
                return NGX_AGAIN;
            }

            ngx_http_pattern_rt_ws_append(ws, o, h->frame, NULL);
            (*queued)++;
            sub->last_seq = h->seq;
        }

        ngx_http_pattern_rt_held_free(sub, h);
    }

    ngx_queue_remove(&sub->in_pending);
    sub->state = NGX_HTTP_PATTERN_RT_SUB_LIVE;

    if (sub->overflowed) {
        sub->overflowed = 0;
        ngx_http_pattern_rt_ws_error(ws, "E_GAP", "events arrived faster "
                                     "than the subscription was answered: "
                                     "refetch over REST");
    }

    return NGX_OK;
}


/*
 * Moves the pending subscriptions on, in order: asks the engine for the
 * next one, or queues more of the replay being sent. Returns how many
 * frames it queued.
 */
static ngx_uint_t
ngx_http_pattern_rt_ws_pump(ngx_http_pattern_rt_ws_t *ws)
{
    ngx_uint_t                  queued;
    ngx_http_pattern_rt_sub_t  *sub;

    queued = 0;

    while (!ws->done && !ws->closing && !ngx_queue_empty(&ws->pending)) {
        sub = ngx_queue_data(ngx_queue_head(&ws->pending),
                             ngx_http_pattern_rt_sub_t, in_pending);

        switch (sub->state) {

        case NGX_HTTP_PATTERN_RT_SUB_WAITING:
            if (ngx_http_pattern_rt_ws_ask(sub) == NGX_OK) {
                return queued;          /* the engine answers later */
            }
            break;                      /* told and dropped: the next */

        case NGX_HTTP_PATTERN_RT_SUB_REPLAYING:
            if (ngx_http_pattern_rt_ws_replay(sub, &queued) != NGX_OK) {
                return queued;          /* the socket must drain first */
            }
            break;

        default:                        /* asked */
            return queued;
        }
    }

    return queued;
}


/* Registered now, asked when the subscriptions before it are answered. */
static void
ngx_http_pattern_rt_ws_subscribe(ngx_http_pattern_rt_ws_t *ws,
    const prt_ws_msg_t *m)
{
    size_t                        size;
    ngx_http_pattern_rt_sub_t    *sub;
    ngx_http_pattern_rt_stream_t *s;

    sub = ngx_http_pattern_rt_ws_find_sub(ws, m);
    if (sub) {
        ngx_http_pattern_rt_ws_unsub(sub);       /* again, maybe with since */
    }

    if (ws->nsubs >= ws->conf->ws_max_subscriptions) {
        ngx_http_pattern_rt_ws_error(ws, "E_BAD_REQUEST",
                                     "too many subscriptions on this "
                                     "connection");
        return;
    }

    /* an alerts filter's symbols live right after the sub */
    size = sizeof(ngx_http_pattern_rt_sub_t)
           + (m->stream == PRT_STREAM_ALERTS
              ? m->filter.nsymbols * PRT_SYMBOL_SIZE : 0);
    sub = ngx_calloc(size, ws->request->connection->log);
    s = ngx_http_pattern_rt_stream_get(ws->eng->ws_hub, m->stream, m->job_id,
                                       ws->request->connection->log);
    if (sub == NULL || s == NULL) {
        ngx_free(sub);
        ngx_http_pattern_rt_ws_error(ws, "E_INTERNAL", "out of memory");
        return;
    }

    sub->ws = ws;
    sub->stream = s;
    sub->kind = m->stream;
    if (m->stream == PRT_STREAM_ALERTS) {
        sub->filter = m->filter;
        sub->filter.symbols = (char (*)[PRT_SYMBOL_SIZE]) (sub + 1);
        ngx_memcpy(sub->filter.symbols, m->filter.symbols,
                   m->filter.nsymbols * PRT_SYMBOL_SIZE);
    }
    sub->has_since = m->has_since;
    sub->since = m->has_since ? m->since : 0;
    sub->last_seq = sub->since;
    ngx_queue_init(&sub->held);
    ngx_queue_insert_tail(&ws->subs, &sub->in_conn);
    ngx_queue_insert_tail(&s->subs, &sub->in_stream);
    ws->nsubs++;

    /* registered before asking: nothing published meanwhile is missed;
     * asked by ngx_http_pattern_rt_ws_pump from the flush that follows */
    sub->state = NGX_HTTP_PATTERN_RT_SUB_WAITING;
    ngx_queue_insert_tail(&ws->pending, &sub->in_pending);
}


static void
ngx_http_pattern_rt_ws_unsubscribe(ngx_http_pattern_rt_ws_t *ws,
    const prt_ws_msg_t *m)
{
    u_char                      buf[160], *p;
    ngx_http_pattern_rt_sub_t  *sub;
    static const char          *channels[PRT_STREAM_COUNT] = {
        "", "verifications", "prices", "alerts"
    };

    sub = ngx_http_pattern_rt_ws_find_sub(ws, m);
    if (sub == NULL) {
        ngx_http_pattern_rt_ws_error(ws, "E_NOT_FOUND", "not subscribed");
        return;
    }

    ngx_http_pattern_rt_ws_unsub(sub);

    p = (m->stream == PRT_STREAM_JOB)
        ? ngx_sprintf(buf, "{\"type\":\"unsubscribed\",\"job_id\":\"%s\"}",
                      m->job_id)
        : ngx_sprintf(buf, "{\"type\":\"unsubscribed\",\"channel\":\"%s\"}",
                      channels[m->stream]);

    ngx_http_pattern_rt_ws_send_text(ws, buf, p - buf);
}


static ngx_int_t
ngx_http_pattern_rt_ws_text(ngx_http_pattern_rt_ws_t *ws, const u_char *text,
    size_t len)
{
    char          error[200];
    prt_ws_msg_t  m;

    if (prt_ws_msg_parse((const char *) text, len, &m, error, sizeof(error))
        != 0)
    {
        /* a bad message is answered; the connection stays open */
        ngx_http_pattern_rt_ws_error(ws, "E_BAD_REQUEST", error);
        return NGX_OK;
    }

    switch (m.type) {

    case PRT_WS_MSG_PING:
        ngx_http_pattern_rt_ws_send_text(ws, (u_char *) "{\"type\":\"pong\"}",
                                         sizeof("{\"type\":\"pong\"}") - 1);
        break;

    case PRT_WS_MSG_SUBSCRIBE:
        ngx_http_pattern_rt_ws_subscribe(ws, &m);
        break;

    default:
        ngx_http_pattern_rt_ws_unsubscribe(ws, &m);
        break;
    }

    return NGX_OK;
}


/* ---- reading ---------------------------------------------------------- */


static void
ngx_http_pattern_rt_ws_control(ngx_http_pattern_rt_ws_t *ws,
    ngx_http_pattern_rt_ws_event_t *ev)
{
    size_t   n;
    uint8_t  out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX];

    switch (ev->opcode) {

    case NGX_HTTP_PATTERN_RT_WS_OP_PING:
        n = ngx_http_pattern_rt_ws_pong_frame(out, ev->data, ev->len);
        ngx_http_pattern_rt_ws_push(ws,
            ngx_http_pattern_rt_frame_raw(out, n, ws->request->connection->log));
        break;

    case NGX_HTTP_PATTERN_RT_WS_OP_PONG:
        break;                          /* last_heard is set for any frame */

    default:                            /* close */
        ws->peer_closed = 1;

        if (ws->closing) {
            ngx_http_pattern_rt_ws_finalize(ws);     /* handshake complete */
            return;
        }

        /* echo the code (RFC 6455 5.5.1), then close */
        ngx_http_pattern_rt_ws_close(ws, ev->close_code, "");
        break;
    }
}


/* Feeds the bytes in rbuf to the parser. */
static void
ngx_http_pattern_rt_ws_parse(ngx_http_pattern_rt_ws_t *ws)
{
    size_t                             used;
    ngx_http_pattern_rt_ws_event_e     e;
    ngx_http_pattern_rt_ws_parser_t   *p;

    p = &ws->parser;

    /* the message buffer only while the client sends something: between
     * messages a subscriber costs no more than its connection */
    if (!ws->parser_ready) {
        ngx_http_pattern_rt_ws_parser_init(p, NULL, ws->conf->ws_max_message);
        ws->parser_ready = 1;
    }

    if (ws->msg == NULL) {
        ws->msg = ngx_palloc(ws->request->pool, ws->conf->ws_max_message);
        if (ws->msg == NULL) {
            ngx_http_pattern_rt_ws_finalize(ws);
            return;
        }
        ngx_http_pattern_rt_ws_parser_lend(p, ws->msg);
    }

    while (ws->rpos < ws->rlast && !ws->done && !ws->failed) {

        e = ngx_http_pattern_rt_ws_feed(p, ws->rbuf + ws->rpos,
                                        ws->rlast - ws->rpos, &used);
        ws->rpos += used;

        switch (e) {

        case NGX_HTTP_PATTERN_RT_WS_NEED_MORE:
            break;

        case NGX_HTTP_PATTERN_RT_WS_MESSAGE:
            if (p->event.opcode == NGX_HTTP_PATTERN_RT_WS_OP_BINARY) {
                /* still in step with the client: its close is read */
                ngx_http_pattern_rt_ws_close(ws,
                                    NGX_HTTP_PATTERN_RT_WS_CLOSE_UNSUPPORTED,
                                    "text frames only");

            } else if (!ws->closing) {
                ngx_http_pattern_rt_ws_text(ws, p->event.data, p->event.len);
            }
            break;

        case NGX_HTTP_PATTERN_RT_WS_CONTROL:
            ngx_http_pattern_rt_ws_control(ws, &p->event);
            break;

        default:
            /* out of step with the client: nothing more is parsed, and
             * the connection ends once our close frame is out */
            ngx_log_error(NGX_LOG_INFO, ws->request->connection->log, 0,
                          "pattern_rt: websocket protocol error: %s",
                          p->event.error);
            ws->failed = 1;
            ngx_http_pattern_rt_ws_close(ws, p->event.close_code,
                                         p->event.error);
            break;
        }
    }

    ws->rpos = 0;
    ws->rlast = 0;

    if (ngx_http_pattern_rt_ws_parser_release(p) != NULL) {
        ngx_pfree(ws->request->pool, ws->msg);
        ws->msg = NULL;
    }
}


static void
ngx_http_pattern_rt_ws_read(ngx_http_request_t *r)
{
    ssize_t                     n;
    ngx_uint_t                  reads;
    ngx_connection_t           *c;
    ngx_http_pattern_rt_ws_t   *ws;
    ngx_http_pattern_rt_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_pattern_rt_module);
    ws = ctx->data;

    for (reads = 0; !ws->done && !ws->peer_closed; reads++) {

        if (reads == NGX_HTTP_PATTERN_RT_WS_READS) {
            /* a client that never pauses does not hold the worker: the
             * rest is read after the other ready events */
            ngx_post_event(c->read, &ngx_posted_events);
            break;
        }

        n = c->recv(c, ws->rbuf, NGX_HTTP_PATTERN_RT_WS_READ);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_pattern_rt_ws_finalize(ws);   /* the peer went away */
            return;
        }

        ws->last_heard = ngx_current_msec;

        if (!ws->failed) {              /* else drained until the peer
                                           closes its side */
            ws->rpos = 0;
            ws->rlast = n;
            ngx_http_pattern_rt_ws_parse(ws);
        }
    }

    /* the answers to what was read: pongs, errors, unsubscribed */
    ngx_http_pattern_rt_ws_flush(ws);

    if (!ws->done && ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_pattern_rt_ws_finalize(ws);
    }
}


/* ---- writing ---------------------------------------------------------- */


/* Writes what the socket takes; NGX_ERROR when the connection ended. */
static ngx_int_t
ngx_http_pattern_rt_ws_send_out(ngx_http_pattern_rt_ws_t *ws)
{
    ssize_t                     n;
    ngx_queue_t                *q;
    ngx_connection_t           *c;
    ngx_http_pattern_rt_out_t  *o;

    c = ws->request->connection;

    if (ws->done) {
        return NGX_ERROR;
    }

    while (!ngx_queue_empty(&ws->out) && c->write->ready) {
        q = ngx_queue_head(&ws->out);
        o = ngx_queue_data(q, ngx_http_pattern_rt_out_t, queue);

        if (o->progress_of && o->progress_of->queued_progress == o) {
            o->progress_of->queued_progress = NULL;   /* being sent */
        }

        n = c->send(c, o->frame->data + o->sent, o->frame->len - o->sent);

        if (n == NGX_ERROR) {
            ngx_http_pattern_rt_ws_finalize(ws);
            return NGX_ERROR;
        }

        if (n == NGX_AGAIN) {
            break;
        }

        o->sent += n;

        if (o->sent == o->frame->len) {
            ngx_http_pattern_rt_ws_out_free(ws, o);
        }
    }

    return NGX_OK;
}


/*
 * Writes the queue and refills it from pending replays as the socket
 * drains. A client that reads as fast as we write does not hold the
 * worker: after NGX_HTTP_PATTERN_RT_WS_PUMPS refills the rest goes out
 * after the other ready events.
 */
static void
ngx_http_pattern_rt_ws_flush(ngx_http_pattern_rt_ws_t *ws)
{
    ngx_uint_t         pumps;
    ngx_connection_t  *c;

    c = ws->request->connection;

    for (pumps = 0; /* void */ ; pumps++) {

        if (ngx_http_pattern_rt_ws_send_out(ws) != NGX_OK) {
            return;
        }

        if (ngx_queue_empty(&ws->pending) || ws->closing) {
            break;
        }

        if (pumps == NGX_HTTP_PATTERN_RT_WS_PUMPS) {
            if (c->write->ready && !c->write->posted) {
                ngx_post_event(c->write, &ngx_posted_events);
            }
            break;
        }

        if (ngx_http_pattern_rt_ws_pump(ws) == 0) {
            break;
        }
    }

    if (ws->done) {
        return;
    }

    if (ngx_queue_empty(&ws->out) && ws->closing) {
        if (ws->peer_closed) {
            ngx_http_pattern_rt_ws_finalize(ws);      /* handshake done */
            return;
        }

        if (ws->failed && !ws->shut) {
            /* our close frame is out; a FIN tells a client we no longer
             * read from to close its side (closing ours with unread
             * bytes would reset the connection before it reads it) */
            ws->shut = 1;
            if (ngx_shutdown_socket(c->fd, NGX_WRITE_SHUTDOWN) == -1) {
                ngx_http_pattern_rt_ws_finalize(ws);
                return;
            }
        }
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_pattern_rt_ws_finalize(ws);
    }
}


static void
ngx_http_pattern_rt_ws_write(ngx_http_request_t *r)
{
    ngx_http_pattern_rt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pattern_rt_module);

    ngx_http_pattern_rt_ws_flush(ctx->data);
}


/* ---- closing ---------------------------------------------------------- */


/*
 * Our close frame goes after what is queued (it must be the last frame);
 * when the queue is too full for it, the unsent frames are dropped: the
 * client resumes with `since`. The connection ends when the peer answers
 * or after pattern_rt_ws_close_timeout.
 */
static void
ngx_http_pattern_rt_ws_close(ngx_http_pattern_rt_ws_t *ws, ngx_uint_t code,
    const char *reason)
{
    size_t                        n;
    uint8_t                       out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX];
    ngx_queue_t                  *q, *next;
    ngx_http_pattern_rt_out_t    *o;
    ngx_http_pattern_rt_frame_t  *f;

    if (ws->closing || ws->done) {
        return;
    }

    if (ngx_http_pattern_rt_ws_over(ws, 128)) {
        for (q = ngx_queue_head(&ws->out); q != ngx_queue_sentinel(&ws->out);
             q = next)
        {
            next = ngx_queue_next(q);
            o = ngx_queue_data(q, ngx_http_pattern_rt_out_t, queue);

            if (o->sent == 0) {
                ngx_http_pattern_rt_ws_out_free(ws, o);
            }
        }
    }

    n = ngx_http_pattern_rt_ws_close_frame(out, code, (uint8_t *) reason,
                                           ngx_strlen(reason));
    f = n ? ngx_http_pattern_rt_frame_raw(out, n,
                                          ws->request->connection->log)
          : NULL;

    if (f) {
        f->refs++;
        (void) ngx_http_pattern_rt_ws_queue(ws, f, NULL);
        ngx_http_pattern_rt_frame_unref(f);
    }

    ws->closing = 1;

    if (ws->ping.timer_set) {
        ngx_del_timer(&ws->ping);
    }

    ngx_add_timer(&ws->linger, ws->conf->ws_close_timeout);
    ngx_http_pattern_rt_ws_flush(ws);
}


static void
ngx_http_pattern_rt_ws_release(ngx_http_pattern_rt_ws_t *ws)
{
    ngx_queue_t  *q;

    while (!ngx_queue_empty(&ws->subs)) {
        q = ngx_queue_head(&ws->subs);
        ngx_http_pattern_rt_ws_unsub(ngx_queue_data(q,
                                     ngx_http_pattern_rt_sub_t, in_conn));
    }

    while (!ngx_queue_empty(&ws->out)) {
        q = ngx_queue_head(&ws->out);
        ngx_http_pattern_rt_ws_out_free(ws, ngx_queue_data(q,
                                        ngx_http_pattern_rt_out_t, queue));
    }

    if (ws->ping.timer_set) {
        ngx_del_timer(&ws->ping);
    }

    if (ws->expiry.timer_set) {
        ngx_del_timer(&ws->expiry);
    }

    if (ws->linger.timer_set) {
        ngx_del_timer(&ws->linger);
    }
}


/*
 * Ends the connection. The request (and ws, in its pool) is freed from a
 * posted event, not here: finalize is reached from deep inside reading,
 * writing and closing, whose callers still look at ws->done afterwards.
 * The linger event is free for it: release() stopped its timer.
 */
static void
ngx_http_pattern_rt_ws_finalize(ngx_http_pattern_rt_ws_t *ws)
{
    if (ws->done) {
        return;
    }

    ws->done = 1;
    ngx_http_pattern_rt_ws_release(ws);

    ws->linger.handler = ngx_http_pattern_rt_ws_finalize_posted;
    ngx_post_event(&ws->linger, &ngx_posted_events);
}


static void
ngx_http_pattern_rt_ws_finalize_posted(ngx_event_t *ev)
{
    ngx_http_pattern_rt_ws_t  *ws = ev->data;

    ngx_http_pattern_rt_finish(ws->request, NGX_HTTP_CLOSE);
}


/* The request goes away (client closed, worker exits): nothing may stay
 * linked to it. */
static void
ngx_http_pattern_rt_ws_cleanup(void *data)
{
    ngx_http_pattern_rt_ws_t  *ws = data;

    ws->done = 1;
    ngx_http_pattern_rt_ws_release(ws);

    if (ws->linger.posted) {
        ngx_delete_posted_event(&ws->linger);
    }

    ngx_queue_remove(&ws->in_hub);
    ws->eng->ws_hub->nconns--;
}


/* ---- timers ----------------------------------------------------------- */


static void
ngx_http_pattern_rt_ws_ping_handler(ngx_event_t *ev)
{
    size_t                     n;
    uint8_t                    out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX];
    ngx_http_pattern_rt_ws_t  *ws;

    ws = ev->data;

    if (ngx_current_msec - ws->last_heard
        > ws->conf->ws_ping_interval + ws->conf->ws_pong_timeout)
    {
        ngx_log_error(NGX_LOG_INFO, ws->request->connection->log, 0,
                      "pattern_rt: websocket peer stopped answering pings");
        ngx_http_pattern_rt_ws_close(ws, NGX_HTTP_PATTERN_RT_WS_CLOSE_POLICY,
                                     "no pong");
        return;
    }

    n = ngx_http_pattern_rt_ws_ping_frame(out, (uint8_t *) "hb", 2);
    ngx_http_pattern_rt_ws_push(ws,
        ngx_http_pattern_rt_frame_raw(out, n, ws->request->connection->log));

    /* a pong, or any frame, is due within the pong timeout */
    ngx_add_timer(&ws->ping, ngx_min(ws->conf->ws_ping_interval,
                                     ws->conf->ws_pong_timeout));
    ngx_http_pattern_rt_ws_flush(ws);
}


static void
ngx_http_pattern_rt_ws_expiry_handler(ngx_event_t *ev)
{
    ngx_http_pattern_rt_ws_close(ev->data, NGX_HTTP_PATTERN_RT_WS_CLOSE_POLICY,
                                 "token expired");
}


static void
ngx_http_pattern_rt_ws_linger_handler(ngx_event_t *ev)
{
    ngx_http_pattern_rt_ws_finalize(ev->data);
}


static void
ngx_http_pattern_rt_ws_timer(ngx_http_pattern_rt_ws_t *ws, ngx_event_t *ev,
    ngx_event_handler_pt handler)
{
    ev->handler = handler;
    ev->data = ws;
    ev->log = ws->request->connection->log;
}


/* ---- the handshake ---------------------------------------------------- */


static ngx_uint_t
ngx_http_pattern_rt_header_has_token(ngx_http_request_t *r, const char *name,
    const char *token)
{
    u_char           *p, *last;
    size_t            len;
    ngx_table_elt_t  *h;

    h = ngx_http_pattern_rt_find_header(r, name);
    if (h == NULL) {
        return 0;
    }

    /* comma-separated tokens, case-insensitive (RFC 7230 6.7) */
    len = ngx_strlen(token);
    p = h->value.data;
    last = p + h->value.len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ',' || *p == '\t')) {
            p++;
        }

        if ((size_t) (last - p) >= len
            && ngx_strncasecmp(p, (u_char *) token, len) == 0
            && (p + len == last || p[len] == ',' || p[len] == ' '
                || p[len] == '\t'))
        {
            return 1;
        }

        while (p < last && *p != ',') {
            p++;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_pattern_rt_ws_origin_ok(ngx_http_request_t *r,
    ngx_http_pattern_rt_loc_conf_t *plcf)
{
    ngx_str_t        *o;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    if (plcf->ws_origins == NULL) {
        return 1;
    }

    h = ngx_http_pattern_rt_find_header(r, "Origin");
    if (h == NULL) {
        return 0;
    }

    o = plcf->ws_origins->elts;

    for (i = 0; i < plcf->ws_origins->nelts; i++) {
        if ((o[i].len == 1 && o[i].data[0] == '*')
            || (o[i].len == h->value.len
                && ngx_strncasecmp(o[i].data, h->value.data, o[i].len) == 0))
        {
            return 1;
        }
    }

    return 0;
}


/* Sec-WebSocket-Accept: base64(SHA-1(key + GUID)), OpenSSL for both */
static ngx_int_t
ngx_http_pattern_rt_ws_accept(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *accept)
{
    u_char    digest[SHA_DIGEST_LENGTH];
    u_char    buf[64 + sizeof(NGX_HTTP_PATTERN_RT_WS_GUID)];

    if (key->len > 64) {
        return NGX_ERROR;
    }

    ngx_memcpy(buf, key->data, key->len);
    ngx_memcpy(buf + key->len, NGX_HTTP_PATTERN_RT_WS_GUID,
               sizeof(NGX_HTTP_PATTERN_RT_WS_GUID) - 1);

    SHA1(buf, key->len + sizeof(NGX_HTTP_PATTERN_RT_WS_GUID) - 1, digest);

    accept->data = ngx_pnalloc(r->pool, 32);
    if (accept->data == NULL) {
        return NGX_ERROR;
    }

    accept->len = EVP_EncodeBlock(accept->data, digest, SHA_DIGEST_LENGTH);

    return NGX_OK;
}


/* The key is base64 of 16 bytes: 22 characters and "==". */
static ngx_uint_t
ngx_http_pattern_rt_ws_key_ok(ngx_str_t *key)
{
    u_char  out[32];

    if (key->len != 24 || key->data[22] != '=' || key->data[23] != '=') {
        return 0;
    }

    return EVP_DecodeBlock(out, key->data, 24) == 18;
}


/* Why a handshake is refused; the handler sends it. */
typedef struct {
    ngx_uint_t    status;               /* 0: the code's own */
    prt_error_t   code;
    const char   *message;
} ngx_http_pattern_rt_ws_refusal_t;


static ngx_int_t
ngx_http_pattern_rt_ws_refuse(ngx_http_pattern_rt_ws_refusal_t *no,
    ngx_uint_t status, prt_error_t code, const char *message)
{
    no->status = status;
    no->code = code;
    no->message = message;
    return NGX_DECLINED;
}


/* NGX_OK, NGX_DECLINED with *no filled, or an HTTP error status */
static ngx_int_t
ngx_http_pattern_rt_ws_handshake(ngx_http_request_t *r,
    ngx_http_pattern_rt_loc_conf_t *plcf, ngx_str_t *accept,
    ngx_http_pattern_rt_ws_refusal_t *no)
{
    ngx_table_elt_t  *h;

    if (r->method != NGX_HTTP_GET) {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_METHOD,
                                        "a WebSocket handshake is a GET");
    }

    if (r->http_version < NGX_HTTP_VERSION_11
        || !ngx_http_pattern_rt_header_has_token(r, "Upgrade", "websocket")
        || !ngx_http_pattern_rt_header_has_token(r, "Connection", "upgrade"))
    {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_BAD_REQUEST,
                                        "not a WebSocket handshake "
                                        "(HTTP/1.1, Upgrade: websocket, "
                                        "Connection: upgrade)");
    }

    h = ngx_http_pattern_rt_find_header(r, "Sec-WebSocket-Version");
    if (h == NULL || h->value.len != 2
        || ngx_strncmp(h->value.data, "13", 2) != 0)
    {
        return ngx_http_pattern_rt_ws_refuse(no, 426, PRT_E_BAD_REQUEST,
                                        "WebSocket version 13 only");
    }

    h = ngx_http_pattern_rt_find_header(r, "Sec-WebSocket-Key");
    if (h == NULL || !ngx_http_pattern_rt_ws_key_ok(&h->value)) {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_BAD_REQUEST,
                                        "missing or malformed "
                                        "Sec-WebSocket-Key");
    }

    if (ngx_http_pattern_rt_ws_accept(r, &h->value, accept) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_http_pattern_rt_ws_origin_ok(r, plcf)) {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_FORBIDDEN,
                                        "origin not allowed");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_pattern_rt_ws_send_refusal(ngx_http_request_t *r,
    ngx_http_pattern_rt_ws_refusal_t *no)
{
    ngx_table_elt_t  *h;

    if (no->status == 426) {
        /* RFC 6455 4.4: say which version is spoken */
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Sec-WebSocket-Version");
        ngx_str_set(&h->value, "13");
        ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");
    }

    return ngx_http_pattern_rt_send_error_status(r, no->status, no->code,
                                                 no->message, NULL);
}


static ngx_int_t
ngx_http_pattern_rt_ws_101(ngx_http_request_t *r, ngx_str_t *accept)
{
    ngx_table_elt_t  *h;

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");
    h->value = *accept;

    /* the header filter adds "Connection: upgrade" to a 101 */
    if (ngx_http_send_header(r) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_send_special(r, NGX_HTTP_FLUSH);
}


static ngx_int_t
ngx_http_pattern_rt_ws_start(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, ngx_http_pattern_rt_engine_t *eng,
    time_t expires, ngx_str_t *accept)
{
    ngx_connection_t                *c;
    ngx_pool_cleanup_t              *cln;
    ngx_http_pattern_rt_ws_t        *ws;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    c = r->connection;
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    ws = ngx_pcalloc(r->pool, sizeof(ngx_http_pattern_rt_ws_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ws == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    ws->request = r;
    ws->eng = eng;
    ws->conf = plcf;
    ws->rbuf = eng->ws_hub->rbuf;
    ngx_queue_init(&ws->subs);
    ngx_queue_init(&ws->out);
    ngx_queue_init(&ws->pending);
    ngx_queue_insert_tail(&eng->ws_hub->conns, &ws->in_hub);
    eng->ws_hub->nconns++;
    eng->ws_hub->accepted++;

    cln->handler = ngx_http_pattern_rt_ws_cleanup;
    cln->data = ws;
    ctx->data = ws;

    ngx_http_pattern_rt_ws_timer(ws, &ws->ping,
                                 ngx_http_pattern_rt_ws_ping_handler);
    ngx_http_pattern_rt_ws_timer(ws, &ws->expiry,
                                 ngx_http_pattern_rt_ws_expiry_handler);
    ngx_http_pattern_rt_ws_timer(ws, &ws->linger,
                                 ngx_http_pattern_rt_ws_linger_handler);

    ws->last_heard = ngx_current_msec;
    ngx_add_timer(&ws->ping, plcf->ws_ping_interval);

    if (expires) {
        ngx_add_timer(&ws->expiry, (expires > ngx_time())
                                   ? (ngx_msec_t) (expires - ngx_time()) * 1000
                                   : 1);
    }

    r->keepalive = 0;
    r->read_event_handler = ngx_http_pattern_rt_ws_read;
    r->write_event_handler = ngx_http_pattern_rt_ws_write;

    if (ngx_http_pattern_rt_ws_101(r, accept) != NGX_OK) {
        return NGX_ERROR;
    }

    /* frames the client sent right after its handshake are already read */
    if (r->header_in->last > r->header_in->pos) {
        ngx_memcpy(ws->rbuf, r->header_in->pos,
                   ngx_min((size_t) (r->header_in->last - r->header_in->pos),
                           (size_t) NGX_HTTP_PATTERN_RT_WS_READ));
        ws->rlast = ngx_min((size_t) (r->header_in->last - r->header_in->pos),
                            (size_t) NGX_HTTP_PATTERN_RT_WS_READ);
        r->header_in->pos = r->header_in->last;
        ngx_http_pattern_rt_ws_parse(ws);
        ngx_http_pattern_rt_ws_flush(ws);
    }

    if (!ws->done && c->read->ready) {
        ngx_http_pattern_rt_ws_read(r);
    }

    return NGX_OK;
}


/*
 * Browsers cannot set headers on a WebSocket: the token comes as ?token=.
 * Checked before the upgrade (401/403), and again at its expiry (1008).
 */
static ngx_int_t
ngx_http_pattern_rt_ws_auth(ngx_http_request_t *r, time_t *expires,
    ngx_http_pattern_rt_ws_refusal_t *no)
{
    ngx_int_t    rc;
    ngx_str_t    token;
    const char  *reason;

    if (!ngx_http_pattern_rt_auth_needed(r, NGX_HTTP_PATTERN_RT_SCOPE_READ)) {
        return NGX_OK;
    }

    if (ngx_http_pattern_rt_auth_query_token(r, &token) != NGX_OK) {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_UNAUTHORIZED,
                                        "a token (?token=) is required");
    }

    rc = ngx_http_pattern_rt_auth_verify(r, &token,
                                         NGX_HTTP_PATTERN_RT_SCOPE_READ,
                                         expires, &reason);
    if (rc == NGX_OK) {
        return NGX_OK;
    }

    return ngx_http_pattern_rt_ws_refuse(no, 0,
                       rc == NGX_HTTP_FORBIDDEN ? PRT_E_FORBIDDEN
                       : rc == NGX_HTTP_UNAUTHORIZED ? PRT_E_UNAUTHORIZED
                       : PRT_E_INTERNAL, reason);
}


/* The content handler of pattern_rt_websocket. */
ngx_int_t
ngx_http_pattern_rt_ws_handler(ngx_http_request_t *r)
{
    time_t                            expires;
    ngx_int_t                         rc;
    ngx_str_t                         accept;
    ngx_http_pattern_rt_ctx_t        *ctx;
    ngx_http_pattern_rt_engine_t     *eng;
    ngx_http_pattern_rt_ws_refusal_t  no;
    ngx_http_pattern_rt_loc_conf_t   *plcf;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);
    eng = pmcf->engine;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    expires = 0;

    rc = ngx_http_pattern_rt_ws_handshake(r, plcf, &accept, &no);
    if (rc == NGX_OK) {
        rc = ngx_http_pattern_rt_ws_auth(r, &expires, &no);
    }

    if (rc == NGX_OK
        && (eng == NULL || eng->ws_hub == NULL
            || eng->ws_hub->nconns >= pmcf->ws_max_connections))
    {
        rc = ngx_http_pattern_rt_ws_refuse(&no, 0, PRT_E_BUSY,
                                           "too many WebSocket connections");
    }

    if (rc == NGX_DECLINED) {
        if (eng && eng->ws_hub) {
            eng->ws_hub->refused++;
        }
        return ngx_http_pattern_rt_ws_send_refusal(r, &no);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_pattern_rt_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ngx_http_set_ctx(r, ctx, ngx_http_pattern_rt_module);

    r->main->count++;

    if (ngx_http_pattern_rt_ws_start(r, ctx, eng, expires, &accept)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
        return NGX_DONE;
    }

    return NGX_DONE;
}


void
ngx_http_pattern_rt_ws_stats(ngx_http_pattern_rt_engine_t *eng, u_char **p)
{
    ngx_http_pattern_rt_ws_hub_t  *hub = eng->ws_hub;

    if (hub == NULL) {
        return;
    }

    *p = ngx_sprintf(*p, ",\"websocket\":{\"connections\":%ui,\"accepted\":%ui,"
                     "\"refused\":%ui,\"slow_closed\":%ui,\"events\":%ui,"
                     "\"frames_queued\":%ui}",
                     hub->nconns, hub->accepted, hub->refused,
                     hub->slow_closed, hub->events, hub->frames_queued);
}


void
ngx_http_pattern_rt_ws_counters(ngx_http_pattern_rt_engine_t *eng,
    ngx_http_pattern_rt_ws_counters_t *out)
{
    ngx_http_pattern_rt_ws_hub_t  *hub = eng->ws_hub;

    if (hub == NULL) {
        return;
    }

    out->connections = hub->nconns;
    out->accepted = hub->accepted;
    out->refused = hub->refused;
    out->slow_closed = hub->slow_closed;
    out->events = hub->events;
    out->frames_queued = hub->frames_queued;
}
