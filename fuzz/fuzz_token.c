/*
 * libFuzzer target for the auth token parser and verifier
 * (common/token.c), which the nginx module runs on bytes from
 * any client.
 *
 * Input: byte 0 picks the mode (bit 0), the scope asked for (bits 1-3) and
 * the clock (bits 4-5); the rest is the token text. In "signed" mode the
 * text before its last '.' is signed with the fuzzer's secret first, so
 * that genuine tokens with odd payloads are explored too (no fuzzer finds
 * an HMAC).
 *
 * Checks, for every input:
 *   - the parser accepts exactly what a POSIX regular expression of the
 *     format accepts (an independent reading of the grammar);
 *   - verify agrees with parse on every malformed input, and in signed mode
 *     never reports a bad signature;
 *   - a genuine token is the canonical one: minting its fields again gives
 *     the same bytes, and its expiry and scopes answer as documented.
 */

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern_rt_token.h"
#include "fuzz_check.h"

#define FUZZ_NOW  INT64_C(1700000000)

static const char  fuzz_secret[] = "fuzz-secret-0123456789abcdefghijklmnop";

/* The last signature character carries 4 bits and two zero bits. */
#define TOKEN_RE                                                             \
    "^prt1\\."                                                               \
    "(read(-feed)?(-admin)?|feed(-admin)?|admin)\\."                         \
    "[1-9][0-9]{0,11}\\."                                                    \
    "[A-Za-z0-9_-]{8,43}\\."                                                 \
    "[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"

static regex_t  token_re;
static int      token_re_ready;


static int
reference_well_formed(const char *s, size_t len)
{
    char  buf[PRT_TOKEN_MAX_LEN + 1];

    if (!token_re_ready) {
        CHECK(regcomp(&token_re, TOKEN_RE, REG_EXTENDED | REG_NOSUB) == 0);
        token_re_ready = 1;
    }
    if (len == 0 || len > PRT_TOKEN_MAX_LEN || memchr(s, '\0', len)) {
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return regexec(&token_re, buf, 0, NULL, 0) == 0;
}

/* Builds payload + '.' + signature of the payload, the payload being the
 * text before the input's last dot (or all of it). */
static size_t
sign_input(const char *s, size_t len, char *out, size_t size)
{
    const char  *dot;
    size_t       plen;

    dot = memrchr(s, '.', len);
    plen = dot ? (size_t) (dot - s) : len;
    if (plen + 1 + PRT_TOKEN_SIG_LEN + 1 > size) {
        return 0;
    }
    memcpy(out, s, plen);
    out[plen] = '.';
    CHECK(prt_token_sign(fuzz_secret, strlen(fuzz_secret), out, plen,
                         out + plen + 1) == 0);
    return plen + 1 + PRT_TOKEN_SIG_LEN;
}

static void
check_genuine(const char *s, size_t len, const prt_token_t *t)
{
    char         again[PRT_TOKEN_MAX_LEN + 1];
    prt_token_t  t2;
    int          n;

    CHECK(t->scopes != 0 && (t->scopes & ~PRT_TOKEN_SCOPE_ALL) == 0);
    CHECK(t->expires > 0 && t->expires <= PRT_TOKEN_EXPIRES_MAX);
    CHECK(t->nonce_len >= PRT_TOKEN_NONCE_MIN
          && t->nonce_len <= PRT_TOKEN_NONCE_MAX);
    CHECK(t->signed_len + 1 + PRT_TOKEN_SIG_LEN == len);

    n = prt_token_mint(fuzz_secret, strlen(fuzz_secret), t->scopes,
                       t->expires, s + t->nonce_off, t->nonce_len, again,
                       sizeof(again));
    CHECK(n > 0 && (size_t) n == len && memcmp(again, s, len) == 0);

    CHECK(prt_token_verify(fuzz_secret, strlen(fuzz_secret), s, len,
                           t->expires - 1, t->scopes, &t2) == PRT_TOKEN_OK);
    CHECK(prt_token_verify(fuzz_secret, strlen(fuzz_secret), s, len,
                           t->expires, 0, &t2) == PRT_TOKEN_E_EXPIRED);
    if (t->scopes != PRT_TOKEN_SCOPE_ALL) {
        CHECK(prt_token_verify(fuzz_secret, strlen(fuzz_secret), s, len,
                               t->expires - 1, PRT_TOKEN_SCOPE_ALL, &t2)
              == PRT_TOKEN_E_SCOPE);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t  clocks[4] = {
        0, FUZZ_NOW, INT64_C(999999999999), INT64_MAX
    };
    char                  signed_buf[PRT_TOKEN_MAX_LEN * 2 + 64];
    const char           *s;
    size_t                len;
    unsigned              need;
    int64_t               now;
    prt_token_t           t;
    prt_token_status_t    parsed, st;

    if (size < 1) {
        return 0;
    }
    need = (data[0] >> 1) & PRT_TOKEN_SCOPE_ALL;
    now = clocks[(data[0] >> 4) & 3];
    s = (const char *) data + 1;
    len = size - 1;

    if (data[0] & 1) {
        if (len > PRT_TOKEN_MAX_LEN * 2) {
            return 0;
        }
        len = sign_input(s, len, signed_buf, sizeof(signed_buf));
        if (len == 0) {
            return 0;
        }
        s = signed_buf;
    }

    parsed = prt_token_parse(s, len, &t);
    CHECK((parsed == PRT_TOKEN_OK) == reference_well_formed(s, len));

    st = prt_token_verify(fuzz_secret, strlen(fuzz_secret), s, len, now,
                          need, &t);
    CHECK(st != PRT_TOKEN_E_CRYPTO);

    if (parsed != PRT_TOKEN_OK) {
        CHECK(st == parsed);
        return 0;
    }
    if (data[0] & 1) {
        CHECK(st != PRT_TOKEN_E_SIGNATURE);
    }
    if (st == PRT_TOKEN_E_SIGNATURE) {
        return 0;
    }

    CHECK(st == PRT_TOKEN_OK || st == PRT_TOKEN_E_EXPIRED
          || st == PRT_TOKEN_E_SCOPE);
    CHECK((st == PRT_TOKEN_E_EXPIRED) == (now >= t.expires));
    CHECK(st != PRT_TOKEN_E_SCOPE || (t.scopes & need) != need);
    check_genuine(s, len, &t);
    return 0;
}
