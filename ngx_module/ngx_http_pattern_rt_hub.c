/*
 * Pattern Real-Time nginx module: the worker's WebSocket hub
 * (ngx_http_pattern_rt_ws.h): the streams (a tree of jobs, the channels),
 * each engine event framed once and fanned out to its subscribers, the
 * subscriptions and their replays, and the counters.
 */

#include "ngx_http_pattern_rt_ws.h"


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


void
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
ngx_uint_t
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


ngx_int_t
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
