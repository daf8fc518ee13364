/*
 * Messages a WebSocket client sends (SPEC 5.3), as JSON text frames:
 *
 *   {"type":"subscribe","job_id":"<uuid>"[,"since":<seq>]}
 *   {"type":"subscribe","channel":"verifications"|"prices"[,"since":<seq>]}
 *   {"type":"unsubscribe","job_id":...} / {"type":"unsubscribe","channel":...}
 *   {"type":"ping"}
 *
 * No nginx headers: also compiled alone for unit tests and fuzzing.
 */
#ifndef _NGX_HTTP_PATTERN_RT_WS_MSG_H_INCLUDED_
#define _NGX_HTTP_PATTERN_RT_WS_MSG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "pattern_rt_msg.h"


typedef enum {
    PRT_WS_MSG_SUBSCRIBE = 1,
    PRT_WS_MSG_UNSUBSCRIBE,
    PRT_WS_MSG_PING
} prt_ws_msg_type_t;

typedef struct {
    prt_ws_msg_type_t  type;
    uint8_t            stream;                 /* prt_stream_t */
    uint8_t            has_since;
    uint64_t           since;
    char               job_id[PRT_JOB_ID_SIZE];  /* lower case */
} prt_ws_msg_t;

/* 0, or -1 with a message for the client (at most len bytes) */
int prt_ws_msg_parse(const char *text, size_t len, prt_ws_msg_t *out,
    char *error, size_t error_len);


#endif /* _NGX_HTTP_PATTERN_RT_WS_MSG_H_INCLUDED_ */
