/*
 * Events for WebSocket subscribers (SPEC 5.3): every event goes once onto
 * the broadcast log, where each nginx worker frames it once for all its
 * subscribers, and into a bounded replay history kept per stream (a job,
 * the verifications channel, the prices channel), so that a client that
 * reconnects with `since` gets what it missed. What the history no longer
 * holds is answered with E_GAP: the client refetches over REST.
 *
 * Sequence numbers increase across engine restarts (the wall clock sits in
 * their high bits), so a `since` from before a restart is never mistaken
 * for a recent one.
 */
#ifndef PRT_EVENTS_H
#define PRT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/jobid.h"
#include "core/json.h"
#include "pattern_rt_msg.h"

typedef struct prt_events_s  prt_events_t;

/* Puts one message (prt_event_hdr_t and the event's JSON) on the broadcast
 * log; serve.c wires it to the ipc server. */
typedef int (*prt_events_broadcast_fn)(void *ctx, const void *msg,
    size_t len);

/* Hands an event this node published to the other nodes (relay/);
 * serve.c wires it when the store is shared. */
typedef void (*prt_events_relay_fn)(void *ctx, const prt_event_hdr_t *hdr,
    const char *json, size_t len);

typedef struct {
    size_t                    max_bytes;       /* the whole history */
    size_t                    max_per_stream;  /* events kept per stream */
    uint64_t                  run_started_ms;  /* this engine run's start */
    prt_events_broadcast_fn   broadcast;
    void                     *ctx;
    prt_events_relay_fn       relay;           /* NULL: one node */
    void                     *relay_ctx;
} prt_events_conf_t;

prt_events_t *prt_events_new(const prt_events_conf_t *conf);
void prt_events_free(prt_events_t *ev);

uint64_t prt_events_next_seq(prt_events_t *ev);

/* Broadcasts the event (JSON already rendered with its "seq") and keeps it
 * for replay. job_id is the stream's job (PRT_STREAM_JOB) or NULL. */
void prt_events_publish(prt_events_t *ev, uint8_t stream, uint8_t kind,
    int coalesce, const uint8_t *job_id, uint64_t seq, prt_json_t *event);

/* What the workers' alerts filters read from a result event's header. */
typedef struct {
    const char  *symbol;
    int          down;             /* direction DOWN */
    double       edge;
} prt_event_result_t;

/* A job's result event, with the result's symbol, edge and direction in
 * the broadcast header: the workers make the alerts channel from it. */
void prt_events_publish_result(prt_events_t *ev, const prt_event_result_t *r,
    const uint8_t *job_id, uint64_t seq, prt_json_t *event);

/* The same with the JSON text already rendered. */
void prt_events_publish_text(prt_events_t *ev, uint8_t stream, uint8_t kind,
    int coalesce, const uint8_t *job_id, uint64_t seq, const char *json,
    size_t len);

/*
 * An event whose body was rendered elsewhere (a worker thread): tail is a
 * JSON object without its opening brace; the type, job_id, a new seq and
 * the timestamp go in front of it here.
 */
void prt_events_publish_tail(prt_events_t *ev, uint8_t stream, uint8_t kind,
    const char *type, const uint8_t *job_id, const char *tail, size_t len);

/*
 * An event another node published (relay/): kept and broadcast here under
 * a seq of this node, greater than the one it came with, so that every
 * stream's seq increases in the order this node's subscribers see it,
 * whichever node published each event (a job's events and its
 * predictions' verifications may come from two). Its JSON's "seq" is
 * rewritten to match.
 */
void prt_events_publish_relayed(prt_events_t *ev, const prt_event_hdr_t *hdr,
    const char *json, size_t len);

/*
 * Events of other nodes may have been missed (the relay lost its
 * connection, or a node dropped some): every stream's subscribers get an
 * E_GAP error now, and a subscribe with a since before now, to a stream
 * that existed then, is answered E_GAP.
 */
void prt_events_relay_lost(prt_events_t *ev);

/*
 * The answer to a WebSocket subscribe, as lines of JSON (the worker sends
 * each as a text frame): {"type":"subscribed",...} and the kept events with
 * seq > since; or, when some of those are gone, an E_GAP error after the
 * subscribed line (the subscription stands, the client refetches over
 * REST); or E_NOT_FOUND for an unknown job. job is the job of a
 * PRT_STREAM_JOB subscription (NULL: no such job) and job_started_ms when
 * it started. Returns the status (200, 404) with the lines in *buf
 * (malloc'd, *len bytes; the caller frees it), or -1 when out of memory.
 */
int prt_events_subscribe(prt_events_t *ev, const prt_req_subscribe_t *req,
    const uint8_t *job, int64_t job_started_ms, char **buf, size_t *len);

void prt_events_stats_json(prt_events_t *ev, prt_json_t *j);

#endif
