/*
 * RFC 6455 frame codec: see ngx_http_pattern_rt_ws_frame.h.
 *
 * The parser is a small state machine over three states: reading a frame
 * header (byte by byte into hdr[], so any split of the input works), reading
 * a payload (copied out of the input in one piece per call, then unmasked in
 * place), and two terminal states. Every protocol check is made at the
 * earliest byte that decides it, so a hostile peer is cut off before we
 * buffer anything it announced.
 */

#include <string.h>

#include "ngx_http_pattern_rt_ws_frame.h"


/* ---- UTF-8 validator ----------------------------------------------------
 *
 * A DFA over byte classes built from Unicode's table of well-formed byte
 * sequences (Unicode 15, table 3-7). The second byte of E0, ED, F0 and F4
 * sequences has a narrower range: that is what excludes overlongs,
 * surrogates and code points above U+10FFFF.
 */

enum {
    U8_ASCII,     /* 00..7F */
    U8_CONT_LO,   /* 80..8F */
    U8_CONT_MID,  /* 90..9F */
    U8_CONT_HI,   /* A0..BF */
    U8_NEVER,     /* C0, C1, F5..FF: never appear in UTF-8 */
    U8_LEAD2,     /* C2..DF */
    U8_E0,
    U8_LEAD3,     /* E1..EC, EE, EF */
    U8_ED,
    U8_F0,
    U8_LEAD4,     /* F1..F3 */
    U8_F4,
    U8_NCLASSES
};

enum {
    U8S_ACCEPT,   /* on a code point boundary */
    U8S_NEED1,    /* one more 80..BF */
    U8S_NEED2,    /* two more 80..BF */
    U8S_NEED3,    /* three more 80..BF */
    U8S_E0,       /* after E0: A0..BF (no overlong 3-byte forms) */
    U8S_ED,       /* after ED: 80..9F (no surrogates) */
    U8S_F0,       /* after F0: 90..BF (no overlong 4-byte forms) */
    U8S_F4,       /* after F4: 80..8F (nothing above U+10FFFF) */
    U8S_REJECT,
    U8S_NSTATES
};

static const uint8_t  u8_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 10 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 70 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 90 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* A0 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* B0 */
    4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,  /* C0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,  /* D0 */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,  /* E0 */
    9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4  /* F0 */
};

#define R  U8S_REJECT

static const uint8_t  u8_next[U8S_NSTATES][U8_NCLASSES] = {
    /*            ASCII      LO         MID        HI         NEVER
     *            LEAD2      E0         LEAD3      ED         F0
     *            LEAD4      F4 */
    [U8S_ACCEPT] = { U8S_ACCEPT, R, R, R, R,
                     U8S_NEED1, U8S_E0, U8S_NEED2, U8S_ED, U8S_F0,
                     U8S_NEED3, U8S_F4 },
    [U8S_NEED1]  = { R, U8S_ACCEPT, U8S_ACCEPT, U8S_ACCEPT, R,
                     R, R, R, R, R, R, R },
    [U8S_NEED2]  = { R, U8S_NEED1, U8S_NEED1, U8S_NEED1, R,
                     R, R, R, R, R, R, R },
    [U8S_NEED3]  = { R, U8S_NEED2, U8S_NEED2, U8S_NEED2, R,
                     R, R, R, R, R, R, R },
    [U8S_E0]     = { R, R, R, U8S_NEED1, R,
                     R, R, R, R, R, R, R },
    [U8S_ED]     = { R, U8S_NEED1, U8S_NEED1, R, R,
                     R, R, R, R, R, R, R },
    [U8S_F0]     = { R, R, U8S_NEED2, U8S_NEED2, R,
                     R, R, R, R, R, R, R },
    [U8S_F4]     = { R, U8S_NEED2, R, R, R,
                     R, R, R, R, R, R, R },
    [U8S_REJECT] = { R, R, R, R, R, R, R, R, R, R, R, R }
};

#undef R


void
ngx_http_pattern_rt_ws_utf8_init(ngx_http_pattern_rt_ws_utf8_t *u)
{
    u->state = U8S_ACCEPT;
}


/* 1 when the 8 bytes at p are all ASCII; memcpy keeps it alignment-safe */
static int
ngx_http_pattern_rt_ws_ascii8(const uint8_t *p)
{
    uint64_t  w;

    memcpy(&w, p, sizeof(w));
    return (w & 0x8080808080808080ULL) == 0;
}


int
ngx_http_pattern_rt_ws_utf8_validate(ngx_http_pattern_rt_ws_utf8_t *u,
    const uint8_t *p, size_t len)
{
    size_t    i;
    unsigned  s;

    s = u->state;
    i = 0;

    while (i < len && s != U8S_REJECT) {

        /* JSON text is mostly ASCII: skip it a word at a time */
        if (s == U8S_ACCEPT) {
            while (len - i >= 8 && ngx_http_pattern_rt_ws_ascii8(p + i)) {
                i += 8;
            }

            if (i == len) {
                break;
            }
        }

        s = u8_next[s][u8_class[p[i]]];
        i++;
    }

    u->state = (uint8_t) s;

    if (s == U8S_REJECT) {
        return NGX_HTTP_PATTERN_RT_WS_UTF8_INVALID;
    }

    return s == U8S_ACCEPT ? NGX_HTTP_PATTERN_RT_WS_UTF8_OK
                           : NGX_HTTP_PATTERN_RT_WS_UTF8_INCOMPLETE;
}


int
ngx_http_pattern_rt_ws_utf8_valid(const uint8_t *p, size_t len)
{
    ngx_http_pattern_rt_ws_utf8_t  u;

    ngx_http_pattern_rt_ws_utf8_init(&u);

    return ngx_http_pattern_rt_ws_utf8_validate(&u, p, len)
           == NGX_HTTP_PATTERN_RT_WS_UTF8_OK;
}


/* ---- helpers shared by parser and encoder ------------------------------ */

static int
ngx_http_pattern_rt_ws_is_control(unsigned opcode)
{
    return (opcode & 0x8) != 0;
}


static int
ngx_http_pattern_rt_ws_opcode_known(unsigned opcode)
{
    switch (opcode) {
    case NGX_HTTP_PATTERN_RT_WS_OP_CONTINUATION:
    case NGX_HTTP_PATTERN_RT_WS_OP_TEXT:
    case NGX_HTTP_PATTERN_RT_WS_OP_BINARY:
    case NGX_HTTP_PATTERN_RT_WS_OP_CLOSE:
    case NGX_HTTP_PATTERN_RT_WS_OP_PING:
    case NGX_HTTP_PATTERN_RT_WS_OP_PONG:
        return 1;
    default:
        return 0;
    }
}


/*
 * 1004, 1005, 1006 and 1015 are reserved for local use and must never be on
 * the wire; 0..999 and 2000..2999 are unassigned; 1012..1014 were registered
 * after RFC 6455 and are not accepted from clients here.
 */
int
ngx_http_pattern_rt_ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003)
           || (code >= 1007 && code <= 1011)
           || (code >= 3000 && code <= 4999);
}


void
ngx_http_pattern_rt_ws_unmask(uint8_t *data, size_t len, const uint8_t key[4],
    size_t offset)
{
    size_t    i;
    uint8_t   pattern[8];
    uint64_t  mask, word;

    /* the key repeats every 4 bytes, so an 8-byte pattern works word-wise */
    for (i = 0; i < sizeof(pattern); i++) {
        pattern[i] = key[(offset + i) & 3];
    }

    memcpy(&mask, pattern, sizeof(mask));

    for (i = 0; len - i >= sizeof(word); i += sizeof(word)) {
        memcpy(&word, data + i, sizeof(word));
        word ^= mask;
        memcpy(data + i, &word, sizeof(word));
    }

    for ( /* void */ ; i < len; i++) {
        data[i] ^= pattern[i & 7];
    }
}


/* ---- parser ------------------------------------------------------------ */

enum {
    WS_STATE_HEADER,
    WS_STATE_PAYLOAD,
    WS_STATE_CLOSED,   /* a close frame was delivered; the rest is ignored */
    WS_STATE_FAILED
};

/* internal result of a parsing step: keep going with the remaining input */
#define WS_CONTINUE  (-1)

#define WS_MASK_LEN  4


static int
ngx_http_pattern_rt_ws_fail(ngx_http_pattern_rt_ws_parser_t *p,
    unsigned close_code, const char *why)
{
    p->state = WS_STATE_FAILED;

    memset(&p->event, 0, sizeof(p->event));
    p->event.close_code = close_code;
    p->event.error = why;

    return NGX_HTTP_PATTERN_RT_WS_ERROR;
}


void
ngx_http_pattern_rt_ws_parser_init(ngx_http_pattern_rt_ws_parser_t *p,
    uint8_t *msg, size_t msg_cap)
{
    memset(p, 0, sizeof(*p));

    p->msg = msg;
    p->msg_cap = msg_cap;
    p->state = WS_STATE_HEADER;

    ngx_http_pattern_rt_ws_utf8_init(&p->utf8);
}


uint8_t *
ngx_http_pattern_rt_ws_parser_release(ngx_http_pattern_rt_ws_parser_t *p)
{
    uint8_t  *msg;

    if (p->msg_opcode != 0) {
        return NULL;                    /* a message is being reassembled */
    }

    msg = p->msg;
    p->msg = NULL;
    return msg;
}


void
ngx_http_pattern_rt_ws_parser_lend(ngx_http_pattern_rt_ws_parser_t *p,
    uint8_t *msg)
{
    p->msg = msg;
}


/* decodes the first two header bytes; returns NULL or what is wrong */
static const char *
ngx_http_pattern_rt_ws_parse_start(ngx_http_pattern_rt_ws_parser_t *p)
{
    unsigned  len7;

    p->fin = (p->hdr[0] & 0x80) != 0;
    p->opcode = p->hdr[0] & 0x0f;
    len7 = p->hdr[1] & 0x7f;

    p->ext_len = len7 == 127 ? 8 : (len7 == 126 ? 2 : 0);
    p->frame_len = len7;

    if (p->hdr[0] & 0x70) {
        return "RSV bit set without an extension";
    }

    if (!ngx_http_pattern_rt_ws_opcode_known(p->opcode)) {
        return "reserved opcode";
    }

    if (!(p->hdr[1] & 0x80)) {
        return "unmasked client frame";
    }

    if (ngx_http_pattern_rt_ws_is_control(p->opcode)) {
        if (!p->fin) {
            return "fragmented control frame";
        }

        if (len7 > NGX_HTTP_PATTERN_RT_WS_CONTROL_PAYLOAD_MAX) {
            return "control frame payload over 125 bytes";
        }

        return NULL;
    }

    if (p->opcode == NGX_HTTP_PATTERN_RT_WS_OP_CONTINUATION) {
        return p->msg_opcode == 0 ? "continuation frame without a message"
                                  : NULL;
    }

    return p->msg_opcode != 0 ? "new message inside a fragmented one" : NULL;
}


/* checks decided by the payload length, made before reading any payload */
static int
ngx_http_pattern_rt_ws_check_length(ngx_http_pattern_rt_ws_parser_t *p)
{
    unsigned  i;

    if (p->ext_len != 0) {
        p->frame_len = 0;

        /* non-minimal encodings are legal: RFC 6455 §5.2 binds senders */
        for (i = 0; i < p->ext_len; i++) {
            p->frame_len = (p->frame_len << 8) | p->hdr[2 + i];
        }
    }

    if (p->frame_len >> 63) {
        return ngx_http_pattern_rt_ws_fail(p,
                   NGX_HTTP_PATTERN_RT_WS_CLOSE_PROTOCOL,
                   "64-bit length with the top bit set");
    }

    if (!ngx_http_pattern_rt_ws_is_control(p->opcode)
        && p->frame_len > p->msg_cap - p->msg_len)
    {
        return ngx_http_pattern_rt_ws_fail(p,
                   NGX_HTTP_PATTERN_RT_WS_CLOSE_TOO_BIG,
                   "message over the size limit");
    }

    return WS_CONTINUE;
}


static int
ngx_http_pattern_rt_ws_deliver_message(ngx_http_pattern_rt_ws_parser_t *p)
{
    if (p->msg_opcode == NGX_HTTP_PATTERN_RT_WS_OP_TEXT
        && p->utf8.state != U8S_ACCEPT)
    {
        return ngx_http_pattern_rt_ws_fail(p,
                   NGX_HTTP_PATTERN_RT_WS_CLOSE_INVALID_DATA,
                   "text message ends inside a UTF-8 sequence");
    }

    memset(&p->event, 0, sizeof(p->event));
    p->event.opcode = p->msg_opcode;
    p->event.data = p->msg;
    p->event.len = p->msg_len;

    /* the bytes stay in msg[] until the next feed, which may overwrite them */
    p->msg_opcode = 0;
    p->msg_len = 0;
    ngx_http_pattern_rt_ws_utf8_init(&p->utf8);

    return NGX_HTTP_PATTERN_RT_WS_MESSAGE;
}


static int
ngx_http_pattern_rt_ws_deliver_close(ngx_http_pattern_rt_ws_parser_t *p)
{
    size_t    len;
    unsigned  code;

    len = (size_t) p->frame_len;

    if (len == 1) {
        return ngx_http_pattern_rt_ws_fail(p,
                   NGX_HTTP_PATTERN_RT_WS_CLOSE_PROTOCOL,
                   "close frame with a 1-byte payload");
    }

    code = NGX_HTTP_PATTERN_RT_WS_CLOSE_NO_STATUS;

    if (len >= 2) {
        code = (unsigned) p->ctl[0] << 8 | p->ctl[1];

        if (!ngx_http_pattern_rt_ws_close_code_valid(code)) {
            return ngx_http_pattern_rt_ws_fail(p,
                       NGX_HTTP_PATTERN_RT_WS_CLOSE_PROTOCOL,
                       "invalid close code");
        }

        if (!ngx_http_pattern_rt_ws_utf8_valid(p->ctl + 2, len - 2)) {
            return ngx_http_pattern_rt_ws_fail(p,
                       NGX_HTTP_PATTERN_RT_WS_CLOSE_INVALID_DATA,
                       "close reason is not UTF-8");
        }
    }

    memset(&p->event, 0, sizeof(p->event));
    p->event.opcode = NGX_HTTP_PATTERN_RT_WS_OP_CLOSE;
    p->event.data = p->ctl;
    p->event.len = len;
    p->event.close_code = code;
    p->event.reason = p->ctl + (len >= 2 ? 2 : 0);
    p->event.reason_len = len >= 2 ? len - 2 : 0;

    p->state = WS_STATE_CLOSED;

    return NGX_HTTP_PATTERN_RT_WS_CONTROL;
}


/* the current frame's payload is complete: emit an event or read on */
static int
ngx_http_pattern_rt_ws_finish_frame(ngx_http_pattern_rt_ws_parser_t *p)
{
    p->state = WS_STATE_HEADER;
    p->hdr_len = 0;

    if (p->opcode == NGX_HTTP_PATTERN_RT_WS_OP_CLOSE) {
        return ngx_http_pattern_rt_ws_deliver_close(p);
    }

    if (ngx_http_pattern_rt_ws_is_control(p->opcode)) {
        memset(&p->event, 0, sizeof(p->event));
        p->event.opcode = p->opcode;
        p->event.data = p->ctl;
        p->event.len = (size_t) p->frame_len;

        return NGX_HTTP_PATTERN_RT_WS_CONTROL;
    }

    if (p->fin) {
        return ngx_http_pattern_rt_ws_deliver_message(p);
    }

    return WS_CONTINUE;
}


/* header size known so far: 2, then 2 + extended length + mask key */
static size_t
ngx_http_pattern_rt_ws_header_target(const ngx_http_pattern_rt_ws_parser_t *p)
{
    if (p->hdr_len < 2) {
        return 2;
    }

    if (p->hdr_len < 2 + p->ext_len) {
        return 2 + (size_t) p->ext_len;
    }

    return 2 + (size_t) p->ext_len + WS_MASK_LEN;
}


/*
 * Collects header bytes up to the next point where a check can be made, so
 * errors are reported at the first byte that decides them.
 */
static int
ngx_http_pattern_rt_ws_read_header(ngx_http_pattern_rt_ws_parser_t *p,
    const uint8_t *buf, size_t len, size_t *used)
{
    int          rc;
    size_t       n, target;
    const char  *why;

    *used = 0;

    do {
        target = ngx_http_pattern_rt_ws_header_target(p);
        n = target - p->hdr_len;

        if (n > len - *used) {
            n = len - *used;
        }

        memcpy(p->hdr + p->hdr_len, buf + *used, n);
        p->hdr_len += (uint8_t) n;
        *used += n;

        if (p->hdr_len < target) {
            return NGX_HTTP_PATTERN_RT_WS_NEED_MORE;
        }

        if (p->hdr_len == 2) {
            why = ngx_http_pattern_rt_ws_parse_start(p);
            if (why != NULL) {
                return ngx_http_pattern_rt_ws_fail(p,
                           NGX_HTTP_PATTERN_RT_WS_CLOSE_PROTOCOL, why);
            }
        }

        /* parse_start() has set ext_len by now */
        if (p->hdr_len == 2 + p->ext_len) {
            rc = ngx_http_pattern_rt_ws_check_length(p);
            if (rc != WS_CONTINUE) {
                return rc;
            }
        }

    } while (p->hdr_len < 2 + p->ext_len + WS_MASK_LEN);

    p->state = WS_STATE_PAYLOAD;
    p->frame_done = 0;

    /* a data frame that opens a message fixes its type */
    if (p->opcode == NGX_HTTP_PATTERN_RT_WS_OP_TEXT
        || p->opcode == NGX_HTTP_PATTERN_RT_WS_OP_BINARY)
    {
        p->msg_opcode = p->opcode;
    }

    if (p->frame_len == 0) {
        return ngx_http_pattern_rt_ws_finish_frame(p);
    }

    return WS_CONTINUE;
}


static int
ngx_http_pattern_rt_ws_read_payload(ngx_http_pattern_rt_ws_parser_t *p,
    const uint8_t *buf, size_t len, size_t *used)
{
    size_t    n;
    uint8_t  *dst;
    int       control;

    *used = 0;

    if (len == 0) {
        return NGX_HTTP_PATTERN_RT_WS_NEED_MORE;
    }

    n = len;
    if (n > p->frame_len - p->frame_done) {
        n = (size_t) (p->frame_len - p->frame_done);
    }

    control = ngx_http_pattern_rt_ws_is_control(p->opcode);

    /* limits were checked against the header: both destinations fit */
    dst = control ? p->ctl + p->frame_done : p->msg + p->msg_len;

    memcpy(dst, buf, n);
    ngx_http_pattern_rt_ws_unmask(dst, n, p->hdr + 2 + p->ext_len,
                                  (size_t) (p->frame_done & 3));

    *used = n;
    p->frame_done += n;

    if (!control) {
        p->msg_len += n;

        if (p->msg_opcode == NGX_HTTP_PATTERN_RT_WS_OP_TEXT
            && ngx_http_pattern_rt_ws_utf8_validate(&p->utf8, dst, n)
               == NGX_HTTP_PATTERN_RT_WS_UTF8_INVALID)
        {
            return ngx_http_pattern_rt_ws_fail(p,
                       NGX_HTTP_PATTERN_RT_WS_CLOSE_INVALID_DATA,
                       "invalid UTF-8 in a text message");
        }
    }

    if (p->frame_done < p->frame_len) {
        return NGX_HTTP_PATTERN_RT_WS_NEED_MORE;
    }

    return ngx_http_pattern_rt_ws_finish_frame(p);
}


ngx_http_pattern_rt_ws_event_e
ngx_http_pattern_rt_ws_feed(ngx_http_pattern_rt_ws_parser_t *p,
    const uint8_t *buf, size_t len, size_t *consumed)
{
    int     rc;
    size_t  pos, used;

    if (p->state == WS_STATE_FAILED) {
        *consumed = 0;
        return NGX_HTTP_PATTERN_RT_WS_ERROR;
    }

    if (p->state == WS_STATE_CLOSED) {
        *consumed = len;
        return NGX_HTTP_PATTERN_RT_WS_NEED_MORE;
    }

    pos = 0;

    do {
        if (p->state == WS_STATE_HEADER) {
            rc = ngx_http_pattern_rt_ws_read_header(p, buf + pos, len - pos,
                                                    &used);

        } else {
            rc = ngx_http_pattern_rt_ws_read_payload(p, buf + pos, len - pos,
                                                     &used);
        }

        pos += used;

    } while (rc == WS_CONTINUE);

    *consumed = pos;

    return (ngx_http_pattern_rt_ws_event_e) rc;
}


/* ---- encoder ----------------------------------------------------------- */

size_t
ngx_http_pattern_rt_ws_header(uint8_t out[NGX_HTTP_PATTERN_RT_WS_HEADER_MAX],
    int opcode, int fin, uint64_t payload_len)
{
    unsigned  i;

    if (opcode < 0 || !ngx_http_pattern_rt_ws_opcode_known((unsigned) opcode)
        || payload_len >> 63)
    {
        return 0;
    }

    if (ngx_http_pattern_rt_ws_is_control((unsigned) opcode)
        && (!fin || payload_len > NGX_HTTP_PATTERN_RT_WS_CONTROL_PAYLOAD_MAX))
    {
        return 0;
    }

    out[0] = (uint8_t) ((fin ? 0x80 : 0) | opcode);

    if (payload_len <= 125) {
        out[1] = (uint8_t) payload_len;
        return 2;
    }

    if (payload_len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t) (payload_len >> 8);
        out[3] = (uint8_t) payload_len;
        return 4;
    }

    out[1] = 127;

    for (i = 0; i < 8; i++) {
        out[2 + i] = (uint8_t) (payload_len >> (56 - 8 * i));
    }

    return 10;
}


static size_t
ngx_http_pattern_rt_ws_control_frame(
    uint8_t out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX], int opcode,
    const uint8_t *payload, size_t len)
{
    size_t  n;

    if (len > NGX_HTTP_PATTERN_RT_WS_CONTROL_PAYLOAD_MAX) {
        return 0;
    }

    n = ngx_http_pattern_rt_ws_header(out, opcode, 1, len);
    if (n == 0) {
        return 0;
    }

    if (len != 0) {
        memcpy(out + n, payload, len);
    }

    return n + len;
}


/* longest prefix of s, at most max bytes, that does not split a code point */
static size_t
ngx_http_pattern_rt_ws_utf8_prefix(const uint8_t *s, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }

    /* s[max] starts the first code point left out unless it continues one */
    while (max > 0 && (s[max] & 0xc0) == 0x80) {
        max--;
    }

    return max;
}


size_t
ngx_http_pattern_rt_ws_close_frame(
    uint8_t out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX], unsigned code,
    const uint8_t *reason, size_t reason_len)
{
    uint8_t  payload[NGX_HTTP_PATTERN_RT_WS_CONTROL_PAYLOAD_MAX];
    size_t   n;

    if (code == NGX_HTTP_PATTERN_RT_WS_CLOSE_NO_STATUS) {
        return ngx_http_pattern_rt_ws_control_frame(out,
                   NGX_HTTP_PATTERN_RT_WS_OP_CLOSE, NULL, 0);
    }

    if (!ngx_http_pattern_rt_ws_close_code_valid(code)) {
        return 0;
    }

    /* the code takes 2 of the 125 payload bytes */
    n = ngx_http_pattern_rt_ws_utf8_prefix(reason, reason_len,
            NGX_HTTP_PATTERN_RT_WS_CONTROL_PAYLOAD_MAX - 2);

    payload[0] = (uint8_t) (code >> 8);
    payload[1] = (uint8_t) code;

    if (n != 0) {
        memcpy(payload + 2, reason, n);
    }

    return ngx_http_pattern_rt_ws_control_frame(out,
               NGX_HTTP_PATTERN_RT_WS_OP_CLOSE, payload, n + 2);
}


size_t
ngx_http_pattern_rt_ws_ping_frame(
    uint8_t out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX],
    const uint8_t *payload, size_t len)
{
    return ngx_http_pattern_rt_ws_control_frame(out,
               NGX_HTTP_PATTERN_RT_WS_OP_PING, payload, len);
}


size_t
ngx_http_pattern_rt_ws_pong_frame(
    uint8_t out[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX],
    const uint8_t *payload, size_t len)
{
    return ngx_http_pattern_rt_ws_control_frame(out,
               NGX_HTTP_PATTERN_RT_WS_OP_PONG, payload, len);
}
