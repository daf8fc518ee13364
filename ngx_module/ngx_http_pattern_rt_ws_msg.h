/*
 * Messages a WebSocket client sends (SPEC 5.3), as JSON text frames:
 *
 *   {"type":"subscribe","job_id":"<uuid>"[,"since":<seq>]}
 *   {"type":"subscribe","channel":"verifications"|"prices"[,"since":<seq>]}
 *   {"type":"subscribe","channel":"alerts"[,"min_edge":<number >= 0>]
 *        [,"direction":"UP"|"DOWN"|"ALL"][,"symbols":[...] or "A,B C"]}
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

/* the most distinct symbols one alerts filter may name */
#define PRT_WS_ALERT_SYMBOLS_MAX  500

typedef enum {
    PRT_WS_DIRECTION_ALL = 0,
    PRT_WS_DIRECTION_UP,
    PRT_WS_DIRECTION_DOWN
} prt_ws_direction_t;

/* An alerts subscriber's filter: a result passes when its edge >= min_edge,
 * its direction matches and (nsymbols == 0 or) its symbol is listed. */
typedef struct {
    double             min_edge;               /* >= 0, finite; 0: any */
    uint8_t            direction;              /* prt_ws_direction_t */
    size_t             nsymbols;               /* 0: every symbol */
    char             (*symbols)[PRT_SYMBOL_SIZE];  /* upper case, distinct,
                                                  sorted (strcmp) */
} prt_ws_alert_filter_t;

typedef struct {
    prt_ws_msg_type_t      type;
    uint8_t                stream;             /* prt_stream_t */
    uint8_t                has_since;
    uint8_t                has_filter;         /* a filter field was given */
    uint64_t               since;
    char                   job_id[PRT_JOB_ID_SIZE];  /* lower case */
    prt_ws_alert_filter_t  filter;             /* channel "alerts" only;
                                                  symbols points into
                                                  symbol_buf */
    char                   symbol_buf[PRT_WS_ALERT_SYMBOLS_MAX]
                                     [PRT_SYMBOL_SIZE];
} prt_ws_msg_t;

/* 0, or -1 with a message for the client (at most len bytes) */
int prt_ws_msg_parse(const char *text, size_t len, prt_ws_msg_t *out,
    char *error, size_t error_len);

/* Does a result (symbol, edge, direction 0 UP / 1 DOWN) pass the filter? */
int prt_ws_alert_match(const prt_ws_alert_filter_t *f, const char *symbol,
    double edge, int direction);


#endif /* _NGX_HTTP_PATTERN_RT_WS_MSG_H_INCLUDED_ */
