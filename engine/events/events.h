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

#include "core/json.h"
#include "jobs/store.h"

typedef struct prt_events_s  prt_events_t;
struct prt_engine_s;

typedef struct {
    size_t   max_bytes;              /* the whole history */
    size_t   max_per_stream;         /* events kept per stream */
} prt_events_conf_t;

prt_events_t *prt_events_new(struct prt_engine_s *e,
    const prt_events_conf_t *conf);
void prt_events_free(prt_events_t *ev);

uint64_t prt_events_next_seq(prt_events_t *ev);

/* Broadcasts the event (JSON already rendered with its "seq") and keeps it
 * for replay. job_id is the stream's job (PRT_STREAM_JOB) or NULL. */
void prt_events_publish(prt_events_t *ev, uint8_t stream, uint8_t kind,
    int coalesce, const uint8_t *job_id, uint64_t seq, prt_json_t *event);

/* A job's result event, with the result's symbol, edge and direction in
 * the broadcast header: the workers make the alerts channel from it. */
void prt_events_publish_result(prt_events_t *ev, const prt_pred_rec_t *p,
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

void prt_events_stats_json(prt_events_t *ev, prt_json_t *j);

#endif
