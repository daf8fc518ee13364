/*
 * libFuzzer target for the WebSocket frame parser
 * (ngx_module/ngx_http_pattern_rt_ws_frame.c).
 *
 * Input: byte 0 chooses how the rest is cut into feed() calls (bits 0-4)
 * and the message size limit (bits 5-7); the rest is the client's byte
 * stream. Each input is parsed three ways and must give the same events:
 *
 *   1. the parser, fed in the chosen pieces, checking every call's contract
 *      (consumed <= len, messages within the limit, text valid UTF-8 per
 *      the slow checker below, close frames well formed, errors sticky);
 *   2. the parser, fed everything at once;
 *   3. a reference: a straightforward whole-buffer reading of RFC 6455 that
 *      shares no code with the parser.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_pattern_rt_ws_frame.h"
#include "../t/unit/utf8_oracle.h"
#include "fuzz_check.h"

enum { EV_MORE = NGX_HTTP_PATTERN_RT_WS_NEED_MORE,
       EV_MSG = NGX_HTTP_PATTERN_RT_WS_MESSAGE,
       EV_CTL = NGX_HTTP_PATTERN_RT_WS_CONTROL,
       EV_ERR = NGX_HTTP_PATTERN_RT_WS_ERROR };

static const size_t  limits[8] = { 0, 1, 2, 125, 126, 1000, 4096, 65536 };

static uint8_t  msg_buf[65536];


/* ---- event digest: count and FNV-1a hash of every event ---------------- */

typedef struct {
    uint64_t  hash;
    size_t    count;
} digest_t;

static void
digest_bytes(digest_t *d, const void *p, size_t n)
{
    const uint8_t  *b = p;
    size_t          i;

    for (i = 0; i < n; i++) {
        d->hash = (d->hash ^ b[i]) * 0x100000001b3ULL;
    }
}

static void
digest_event(digest_t *d, int kind, unsigned opcode, unsigned code,
    const uint8_t *data, size_t len)
{
    uint64_t  h[4] = { (uint64_t) kind, opcode, code, len };

    d->count++;
    digest_bytes(d, h, sizeof(h));
    digest_bytes(d, data, len);
}


/* the independent slow UTF-8 checker is t/unit/utf8_oracle.h's */
#define U_OK          NGX_HTTP_PATTERN_RT_WS_UTF8_OK
#define U_BAD         NGX_HTTP_PATTERN_RT_WS_UTF8_INVALID

static int
close_code_ok(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011)
           || (c >= 3000 && c <= 4999);
}


/* ---- 1 + 2: the parser, checked call by call --------------------------- */

/* next piece length: 0 = everything, 1..15 fixed, else pseudo-random */
static size_t
next_piece(unsigned mode, uint32_t *rng, size_t left)
{
    size_t  n;

    if (mode == 0) {
        return left;
    }

    if (mode < 16) {
        n = mode;
    } else {
        *rng = *rng * 1103515245u + 12345u;
        n = 1 + (*rng >> 16) % (1u << (mode - 15));
    }

    return n < left ? n : left;
}

static void
check_event(const ngx_http_pattern_rt_ws_parser_t *p, int kind, size_t limit)
{
    const ngx_http_pattern_rt_ws_event_t  *e = &p->event;

    if (kind == EV_MSG) {
        CHECK(e->opcode == NGX_HTTP_PATTERN_RT_WS_OP_TEXT
              || e->opcode == NGX_HTTP_PATTERN_RT_WS_OP_BINARY);
        CHECK(e->len <= limit);
        CHECK(e->data == msg_buf);
        CHECK(e->opcode != NGX_HTTP_PATTERN_RT_WS_OP_TEXT
              || utf8_oracle(e->data, e->len) == U_OK);
        return;
    }

    if (kind == EV_ERR) {
        CHECK(e->close_code == 1002 || e->close_code == 1007
              || e->close_code == 1009);
        CHECK(e->error != NULL);
        return;
    }

    CHECK(e->len <= 125);
    CHECK(e->opcode == NGX_HTTP_PATTERN_RT_WS_OP_PING
          || e->opcode == NGX_HTTP_PATTERN_RT_WS_OP_PONG
          || e->opcode == NGX_HTTP_PATTERN_RT_WS_OP_CLOSE);

    if (e->opcode == NGX_HTTP_PATTERN_RT_WS_OP_CLOSE) {
        if (e->len == 0) {
            CHECK(e->close_code == 1005 && e->reason_len == 0);
        } else {
            CHECK(e->len >= 2);
            CHECK(e->close_code == ((unsigned) e->data[0] << 8 | e->data[1]));
            CHECK(close_code_ok(e->close_code));
            CHECK(e->reason == e->data + 2 && e->reason_len == e->len - 2);
            CHECK(utf8_oracle(e->reason, e->reason_len) == U_OK);
        }
    }
}

static void
parser_run(const uint8_t *in, size_t n, size_t limit, unsigned mode,
    uint32_t seed, digest_t *d)
{
    ngx_http_pattern_rt_ws_parser_t  p;
    size_t                           pos = 0, piece, used;
    int                              kind;
    uint32_t                         rng = seed;

    ngx_http_pattern_rt_ws_parser_init(&p, msg_buf, limit);

    while (pos < n) {
        piece = next_piece(mode, &rng, n - pos);

        while (piece > 0) {
            kind = ngx_http_pattern_rt_ws_feed(&p, in + pos, piece, &used);
            CHECK(used <= piece);
            CHECK(kind != EV_MORE || used == piece);
            pos += used;
            piece -= used;

            if (kind == EV_MORE) {
                continue;
            }

            check_event(&p, kind, limit);
            digest_event(d, kind, p.event.opcode, p.event.close_code,
                         kind == EV_ERR ? NULL : p.event.data,
                         kind == EV_ERR ? 0 : p.event.len);

            if (kind == EV_ERR) {
                /* sticky, consumes nothing */
                CHECK(ngx_http_pattern_rt_ws_feed(&p, in + pos, n - pos, &used)
                      == EV_ERR && used == 0);
                return;
            }
        }
    }
}


/* ---- 3: reference reading of RFC 6455 ---------------------------------- */

static void
ref_error(digest_t *d, unsigned code)
{
    digest_event(d, EV_ERR, 0, code, NULL, 0);
}

static void
ref_run(const uint8_t *in, size_t n, size_t limit, digest_t *d)
{
    uint8_t  *msg = malloc(n + 1), ctl[125];
    size_t    pos = 0, msg_len = 0, hl, start, have, i;
    unsigned  open = 0, fin, op, len7, code;
    uint64_t  plen;

    CHECK(msg != NULL);

    while (n - pos >= 2) {
        const uint8_t  *f = in + pos;

        fin = f[0] >> 7;
        op = f[0] & 0x0f;
        len7 = f[1] & 0x7f;

        if ((f[0] & 0x70) || (op >= 3 && op <= 7) || op >= 0xb
            || !(f[1] & 0x80)
            || (op >= 8 && (!fin || len7 > 125))
            || (op == 0 && !open) || ((op == 1 || op == 2) && open))
        {
            ref_error(d, 1002);
            break;
        }

        hl = len7 == 127 ? 10 : len7 == 126 ? 4 : 2;
        if (n - pos < hl) {
            break;
        }

        plen = len7;
        if (hl > 2) {
            plen = 0;
            for (i = 2; i < hl; i++) {
                plen = plen << 8 | f[i];
            }
        }

        if (plen >> 63) {
            ref_error(d, 1002);
            break;
        }
        if (op < 8 && plen > limit - msg_len) {
            ref_error(d, 1009);
            break;
        }
        if (n - pos < hl + 4) {
            break;
        }

        start = pos + hl + 4;
        have = n - start < plen ? n - start : (size_t) plen;

        if (op < 8) {
            if (op != 0) {
                open = op;
            }
            for (i = 0; i < have; i++) {
                msg[msg_len + i] = in[start + i] ^ f[hl + i % 4];
            }
            if (open == 1 && utf8_oracle(msg, msg_len + have) == U_BAD) {
                ref_error(d, 1007);
                break;
            }
            if (have < plen) {
                break;
            }
            msg_len += have;
            if (fin) {
                if (open == 1 && utf8_oracle(msg, msg_len) != U_OK) {
                    ref_error(d, 1007);
                    break;
                }
                digest_event(d, EV_MSG, open, 0, msg, msg_len);
                open = 0;
                msg_len = 0;
            }
            pos = start + have;
            continue;
        }

        if (have < plen) {
            break;
        }
        for (i = 0; i < have; i++) {
            ctl[i] = in[start + i] ^ f[hl + i % 4];
        }
        pos = start + have;

        if (op != 8) {
            digest_event(d, EV_CTL, op, 0, ctl, have);
            continue;
        }

        /* close: the last frame that counts */
        if (have == 1) {
            ref_error(d, 1002);
        } else if (have == 0) {
            digest_event(d, EV_CTL, op, 1005, ctl, 0);
        } else {
            code = (unsigned) ctl[0] << 8 | ctl[1];
            if (!close_code_ok(code)) {
                ref_error(d, 1002);
            } else if (utf8_oracle(ctl + 2, have - 2) != U_OK) {
                ref_error(d, 1007);
            } else {
                digest_event(d, EV_CTL, op, code, ctl, have);
            }
        }
        break;
    }

    free(msg);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    digest_t  pieces = { 0xcbf29ce484222325ULL, 0 };
    digest_t  whole = pieces, ref = pieces;
    size_t    limit;
    unsigned  mode;

    if (size < 1) {
        return 0;
    }

    mode = data[0] & 0x1f;
    limit = limits[data[0] >> 5];

    parser_run(data + 1, size - 1, limit, mode, data[0], &pieces);
    parser_run(data + 1, size - 1, limit, 0, 0, &whole);
    ref_run(data + 1, size - 1, limit, &ref);

    CHECK(pieces.count == whole.count && pieces.hash == whole.hash);
    CHECK(whole.count == ref.count && whole.hash == ref.hash);

    return 0;
}
