/*
 * Pattern Real-Time nginx module: one WebSocket connection once upgraded
 * (ngx_http_pattern_rt_ws.h): frames in (ngx_http_pattern_rt_ws_frame.c
 * parses them, the hub handles the messages), frames out through the
 * connection's bounded output queue, the close handshake, and the timers
 * (heartbeat, token expiry, linger). Driven from nginx events only.
 */

#include "ngx_http_pattern_rt_ws.h"


static void ngx_http_pattern_rt_ws_read(ngx_http_request_t *r);
static void ngx_http_pattern_rt_ws_write(ngx_http_request_t *r);
static void ngx_http_pattern_rt_ws_finalize(ngx_http_pattern_rt_ws_t *ws);
static void ngx_http_pattern_rt_ws_finalize_posted(ngx_event_t *ev);
static void ngx_http_pattern_rt_ws_cleanup(void *data);


/* ---- frames ------------------------------------------------------------- */


/* A frame whose payload is a then b (b may be empty). */
ngx_http_pattern_rt_frame_t *
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


ngx_http_pattern_rt_frame_t *
ngx_http_pattern_rt_frame(int opcode, const u_char *payload, size_t len,
    ngx_log_t *log)
{
    return ngx_http_pattern_rt_frame_parts(opcode, payload, len, NULL, 0,
                                           log);
}


void
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
ngx_uint_t
ngx_http_pattern_rt_ws_over(ngx_http_pattern_rt_ws_t *ws, size_t len)
{
    return ws->out_frames + ws->held_frames >= ws->conf->ws_max_frames
           || ws->out_bytes + ws->held_bytes + len > ws->conf->ws_max_output;
}


/* A replay may add a frame of len: the queue is empty, or below half its
 * bounds (the other half is for live events and answers). */
ngx_uint_t
ngx_http_pattern_rt_ws_room(ngx_http_pattern_rt_ws_t *ws, size_t len)
{
    return ws->out_frames == 0
           || (ws->out_frames < ws->conf->ws_max_frames / 2
               && ws->out_bytes + len <= ws->conf->ws_max_output / 2);
}


void
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
ngx_int_t
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
void
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
void
ngx_http_pattern_rt_ws_send_text(ngx_http_pattern_rt_ws_t *ws,
    const u_char *text, size_t len)
{
    ngx_http_pattern_rt_ws_push(ws,
        ngx_http_pattern_rt_frame(NGX_HTTP_PATTERN_RT_WS_OP_TEXT, text, len,
                                  ws->request->connection->log));
}


void
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
ngx_int_t
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
void
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
void
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


/* ---- opening ---------------------------------------------------------- */


ngx_http_pattern_rt_ws_t *
ngx_http_pattern_rt_ws_open(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, ngx_http_pattern_rt_engine_t *eng,
    time_t expires)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_pattern_rt_ws_t        *ws;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    ws = ngx_pcalloc(r->pool, sizeof(ngx_http_pattern_rt_ws_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ws == NULL || cln == NULL) {
        return NULL;
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

    return ws;
}


void
ngx_http_pattern_rt_ws_first_read(ngx_http_pattern_rt_ws_t *ws)
{
    ngx_http_request_t  *r = ws->request;

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

    if (!ws->done && r->connection->read->ready) {
        ngx_http_pattern_rt_ws_read(r);
    }
}
