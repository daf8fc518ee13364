/*
 * An independent UTF-8 checker, the oracle the WebSocket codec's UTF-8
 * validator is compared with by t/unit/test_ws_frame.c and by
 * fuzz/fuzz_ws_frame.c. Slow on purpose: it decodes code point by code
 * point and checks each value arithmetically, where the codec runs a
 * byte-class state machine.
 *
 * A sequence cut by the end of the text is INCOMPLETE if some completion
 * is a valid scalar value: the bytes present fix the top bits, so the
 * completions span [lo, hi].
 */
#ifndef PRT_UTF8_ORACLE_H
#define PRT_UTF8_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "ngx_http_pattern_rt_ws_frame.h"

/* 1 when [lo, hi] holds a scalar value encoded in n bytes (no overlong,
 * no surrogate, nothing above U+10FFFF) */
static int
utf8_oracle_range_ok(int n, uint32_t lo, uint32_t hi)
{
    static const uint32_t  min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    static const uint32_t  max[5] = { 0, 0x7f, 0x7ff, 0xffff, 0x10ffff };
    uint32_t               a, b;

    a = lo > min[n] ? lo : min[n];
    b = hi < max[n] ? hi : max[n];

    if (a > b) {
        return 0;
    }

    return !(a >= 0xd800 && b <= 0xdfff);
}

/* NGX_HTTP_PATTERN_RT_WS_UTF8_OK, _INCOMPLETE or _INVALID */
static int
utf8_oracle(const uint8_t *s, size_t len)
{
    size_t    i = 0, have;
    int       n, missing;
    uint32_t  cp, lo, hi;

    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }

        if ((s[i] & 0xe0) == 0xc0) {
            n = 2; cp = s[i] & 0x1f;
        } else if ((s[i] & 0xf0) == 0xe0) {
            n = 3; cp = s[i] & 0x0f;
        } else if ((s[i] & 0xf8) == 0xf0) {
            n = 4; cp = s[i] & 0x07;
        } else {
            return NGX_HTTP_PATTERN_RT_WS_UTF8_INVALID;
        }

        for (have = 1; have < (size_t) n && i + have < len; have++) {
            if ((s[i + have] & 0xc0) != 0x80) {
                return NGX_HTTP_PATTERN_RT_WS_UTF8_INVALID;
            }
            cp = cp << 6 | (s[i + have] & 0x3f);
        }

        missing = n - (int) have;
        lo = cp << (6 * missing);
        hi = lo | ((1u << (6 * missing)) - 1);

        if (!utf8_oracle_range_ok(n, lo, hi)) {
            return NGX_HTTP_PATTERN_RT_WS_UTF8_INVALID;
        }
        if (missing) {
            return NGX_HTTP_PATTERN_RT_WS_UTF8_INCOMPLETE;
        }
        i += n;
    }

    return NGX_HTTP_PATTERN_RT_WS_UTF8_OK;
}

#endif
