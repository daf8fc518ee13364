/*
 * RFC 6455 frame codec for the WebSocket endpoint: an incremental parser of
 * client frames, the server-side frame encoder and an incremental UTF-8
 * validator.
 *
 * Pure C11: no nginx headers, no allocation, no I/O. The nginx glue feeds it
 * whatever bytes a read event delivered and writes whatever it encodes; the
 * unit tests and the fuzzer link it alone.
 */

#ifndef _NGX_HTTP_PATTERN_RT_WS_FRAME_H_INCLUDED_
#define _NGX_HTTP_PATTERN_RT_WS_FRAME_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* opcodes (RFC 6455 §5.2) */
#define NGX_HTTP_PATTERN_RT_WS_OP_CONTINUATION  0x0
#define NGX_HTTP_PATTERN_RT_WS_OP_TEXT          0x1
#define NGX_HTTP_PATTERN_RT_WS_OP_BINARY        0x2
#define NGX_HTTP_PATTERN_RT_WS_OP_CLOSE         0x8
#define NGX_HTTP_PATTERN_RT_WS_OP_PING          0x9
#define NGX_HTTP_PATTERN_RT_WS_OP_PONG          0xa

/* close codes (RFC 6455 §7.4.1) */
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_NORMAL        1000
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_GOING_AWAY    1001
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_PROTOCOL      1002
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_UNSUPPORTED   1003
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_NO_STATUS     1005
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_INVALID_DATA  1007
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_POLICY        1008
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_TOO_BIG       1009
#define NGX_HTTP_PATTERN_RT_WS_CLOSE_INTERNAL      1011

/* control frame payloads are at most 125 bytes (RFC 6455 §5.5) */
#define NGX_HTTP_PATTERN_RT_WS_CONTROL_PAYLOAD_MAX  125
/* largest encoded control frame: 2-byte header + 125 bytes */
#define NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX    127
/* largest server frame header: 2 bytes + 64-bit length, no mask */
#define NGX_HTTP_PATTERN_RT_WS_HEADER_MAX           10


/* ---- UTF-8 validator --------------------------------------------------- */

/* results: OK = valid and on a code point boundary, INCOMPLETE = valid so
 * far but inside a sequence, INVALID = invalid (and stays so) */
#define NGX_HTTP_PATTERN_RT_WS_UTF8_OK           0
#define NGX_HTTP_PATTERN_RT_WS_UTF8_INCOMPLETE   1
#define NGX_HTTP_PATTERN_RT_WS_UTF8_INVALID     -1

typedef struct {
    uint8_t  state;
} ngx_http_pattern_rt_ws_utf8_t;

void ngx_http_pattern_rt_ws_utf8_init(ngx_http_pattern_rt_ws_utf8_t *u);

/*
 * Continues validation with the next len bytes of the same text; a code point
 * may be split across calls. Rejects overlongs, surrogates (U+D800..DFFF) and
 * anything above U+10FFFF as soon as the offending byte is seen.
 */
int ngx_http_pattern_rt_ws_utf8_validate(ngx_http_pattern_rt_ws_utf8_t *u,
    const uint8_t *p, size_t len);

/* one-shot: 1 when p[0..len) is complete, valid UTF-8, else 0 */
int ngx_http_pattern_rt_ws_utf8_valid(const uint8_t *p, size_t len);


/* ---- parser of client frames ------------------------------------------- */

typedef enum {
    NGX_HTTP_PATTERN_RT_WS_NEED_MORE = 0,  /* all input consumed, no event */
    NGX_HTTP_PATTERN_RT_WS_MESSAGE,        /* text/binary message complete */
    NGX_HTTP_PATTERN_RT_WS_CONTROL,        /* ping, pong or close frame */
    NGX_HTTP_PATTERN_RT_WS_ERROR           /* send close_code, then close */
} ngx_http_pattern_rt_ws_event_e;

/*
 * What the last event carries. data points into the caller's message buffer
 * (MESSAGE) or into the parser (CONTROL) and stays valid until the next call
 * of ngx_http_pattern_rt_ws_feed().
 */
typedef struct {
    unsigned        opcode;      /* TEXT, BINARY, PING, PONG or CLOSE */
    const uint8_t  *data;
    size_t          len;
    /*
     * CLOSE: the peer's code (NO_STATUS when the frame had no payload);
     * ERROR: the code to send in our close frame (1002, 1007 or 1009).
     */
    unsigned        close_code;
    const uint8_t  *reason;      /* CLOSE: UTF-8 reason, may be empty */
    size_t          reason_len;
    const char     *error;       /* ERROR: static text for the log */
} ngx_http_pattern_rt_ws_event_t;

/* Fields other than event are private to the parser. */
typedef struct {
    uint8_t                         *msg;         /* caller's buffer */
    size_t                           msg_cap;     /* = the message limit */
    size_t                           msg_len;
    unsigned                         msg_opcode;  /* 0: no message open */
    ngx_http_pattern_rt_ws_utf8_t    utf8;

    uint64_t                         frame_len;
    uint64_t                         frame_done;
    unsigned                         state;
    unsigned                         opcode;
    unsigned                         fin;
    uint8_t                          hdr[14];     /* 2 + 8 + mask */
    uint8_t                          hdr_len;
    uint8_t                          ext_len;     /* 0, 2 or 8 */

    ngx_http_pattern_rt_ws_event_t   event;

    /* control payloads, apart from msg so they never disturb a message */
    uint8_t  ctl[NGX_HTTP_PATTERN_RT_WS_CONTROL_PAYLOAD_MAX];
} ngx_http_pattern_rt_ws_parser_t;

/*
 * msg (msg_cap bytes) receives reassembled messages; msg_cap is the largest
 * message accepted, a larger one fails with 1009 as soon as a frame header
 * announces it.
 */
void ngx_http_pattern_rt_ws_parser_init(ngx_http_pattern_rt_ws_parser_t *p,
    uint8_t *msg, size_t msg_cap);

/*
 * The message buffer between messages: _release() takes it back when no
 * message is open (NULL otherwise, or when the parser holds none), and
 * _lend() gives one (msg_cap bytes) before the next feed. An idle
 * connection then holds no buffer. msg of _init() may be NULL if one is
 * lent before feeding.
 */
uint8_t *ngx_http_pattern_rt_ws_parser_release(
    ngx_http_pattern_rt_ws_parser_t *p);
void ngx_http_pattern_rt_ws_parser_lend(ngx_http_pattern_rt_ws_parser_t *p,
    uint8_t *msg);

/*
 * Parses up to len bytes and stops at the first event; *consumed says how
 * many bytes were used (always len for NEED_MORE), call again with the rest.
 * Details of the event are in p->event. After ERROR every call returns ERROR
 * again and consumes nothing; after a CLOSE frame further input is ignored
 * (consumed, NEED_MORE), as RFC 6455 §5.5.1 allows.
 */
ngx_http_pattern_rt_ws_event_e ngx_http_pattern_rt_ws_feed(
    ngx_http_pattern_rt_ws_parser_t *p, const uint8_t *buf, size_t len,
    size_t *consumed);

/* XORs len bytes in place with key, starting at key byte (offset % 4). */
void ngx_http_pattern_rt_ws_unmask(uint8_t *data, size_t len,
    const uint8_t key[4], size_t offset);

/* 1 for codes a peer may put in a close frame (RFC 6455 §7.4), else 0 */
int ngx_http_pattern_rt_ws_close_code_valid(unsigned code);


/* ---- encoder of server frames (unmasked) ------------------------------- */

/*
 * Writes the header of a frame whose payload follows; returns its size (2, 4
 * or 10) or 0 for an invalid opcode, a length with the top bit set, or a
 * control frame that is fragmented or over 125 bytes.
 */
size_t ngx_http_pattern_rt_ws_header(
    uint8_t out[NGX_HTTP_PATTERN_RT_WS_HEADER_MAX], int opcode, int fin,
    uint64_t payload_len);

/*
 * Complete close frame; returns its size or 0 for a code that must not be
 * sent. NO_STATUS gives an empty payload (the echo of a close without code).
 * The reason is cut to 123 bytes on a UTF-8 boundary.
 */
size_t ngx_http_pattern_rt_ws_close_frame(
    uint8_t out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX], unsigned code,
    const uint8_t *reason, size_t reason_len);

/* Complete ping/pong frame; returns its size or 0 when len > 125. */
size_t ngx_http_pattern_rt_ws_ping_frame(
    uint8_t out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX],
    const uint8_t *payload, size_t len);
size_t ngx_http_pattern_rt_ws_pong_frame(
    uint8_t out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX],
    const uint8_t *payload, size_t len);


#endif /* _NGX_HTTP_PATTERN_RT_WS_FRAME_H_INCLUDED_ */
