/*
 * Pattern Real-Time: the messages carried by the rings (pattern_rt_ipc.h).
 *
 * Requests (worker -> engine) are fixed binary structs, already validated by
 * the module (JSON parsed, types and ranges checked, symbols normalised), so
 * the engine never parses client JSON. Responses (engine -> worker) are an
 * HTTP status and a JSON body rendered by the engine, split into fragments
 * (PRT_REC_MORE) when larger than a ring record. Every struct is plain old
 * data with fixed-width fields; both sides are built by the same compiler
 * for the same machine, and PRT_IPC_VERSION changes with any layout change.
 */
#ifndef PATTERN_RT_MSG_H
#define PATTERN_RT_MSG_H

#include <stdint.h>

typedef enum {
    PRT_MSG_HEALTH = 1,
    PRT_MSG_RESPONSE = 100,        /* engine -> worker: prt_resp_hdr_t + body */
    PRT_MSG_EVENT = 200            /* broadcast: prt_event_hdr_t + JSON */
} prt_msg_type_t;

/* First fragment of every response starts with this header. */
typedef struct {
    uint16_t  status;              /* HTTP status */
    uint16_t  flags;
    uint32_t  body_len;            /* total JSON body bytes over all fragments */
} prt_resp_hdr_t;

/* PRT_MSG_HEALTH: what the worker knows that the engine does not. */
typedef struct {
    int32_t   worker_pid;
    uint32_t  pending;             /* requests waiting for the engine */
} prt_req_health_t;

#endif
