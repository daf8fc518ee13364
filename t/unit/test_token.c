/*
 * Auth tokens (common/token.c) and the `token` command
 * (engine/auth/token_cmd.c).
 *
 * Expected values come from outside this code: RFC 4231 for HMAC-SHA256,
 * RFC 4648 for base64url, and a golden token made with the shell recipe of
 * docs/auth.md (openssl dgst + base64 + tr) and checked with Python's hmac.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#include "pattern_rt_token.h"

#include "tools/token.h"

#define NOW  INT64_C(1700000000)

static const char  secret[] = "tk-secret-0123456789abcdefghijklmnop";
static const char  other_secret[] = "tk-secret-0123456789abcdefghijklmnoq";
static const char  nonce[] = "bm9uY2Utbm9uY2Ut";

/* docs/auth.md recipe with the secret above, scopes read-feed, expiry
 * 1700000000, nonce "bm9uY2Utbm9uY2Ut" */
static const char  golden[] =
    "prt1.read-feed.1700000000.bm9uY2Utbm9uY2Ut."
    "dwUIZHome1Ja2lnVXsiddENYWt7wXLTYG5iqRkAP7pM";

static char  tmpdir[64];


static size_t
slen(const char *s)
{
    return strlen(s);
}

static prt_token_status_t
verify_with(const char *key, const char *tok, size_t len, int64_t now,
    unsigned need)
{
    prt_token_t  t;

    return prt_token_verify(key, slen(key), tok, len, now, need, &t);
}

static prt_token_status_t
verify(const char *tok, int64_t now, unsigned need)
{
    return verify_with(secret, tok, slen(tok), now, need);
}

static int
mint(unsigned scopes, int64_t expires, char *out, size_t size)
{
    return prt_token_mint(secret, slen(secret), scopes, expires, nonce,
                          slen(nonce), out, size);
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", b[i]);
    }
    out[2 * n] = '\0';
}


/* ---- HMAC-SHA256: RFC 4231 section 4 ----------------------------------- */

static void
test_rfc4231(void)
{
    static const struct {
        const char *name, *data, *want;
        unsigned char key_byte;
        size_t key_len, data_len, want_len;
    } tc[] = {
        { "case 1", "Hi There",
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
          0x0b, 20, 8, 64 },
        { "case 3", NULL,
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
          0xaa, 20, 50, 64 },
        { "case 5 (truncated to 128 bits)", "Test With Truncation",
          "a3b6167473100ee06e0c796c2955552b", 0x0c, 20, 20, 32 },
        { "case 6", "Test Using Larger Than Block-Size Key - Hash Key First",
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
          0xaa, 131, 54, 64 },
        { "case 7", "This is a test using a larger than block-size key and a "
          "larger than block-size data. The key needs to be hashed before "
          "being used by the HMAC algorithm.",
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
          0xaa, 131, 152, 64 },
    };
    unsigned char  key[131], data[152], mac[PRT_HMAC_SHA256_LEN];
    unsigned char  key4[25];
    char           got[2 * PRT_HMAC_SHA256_LEN + 1];
    size_t         i;

    for (i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
        memset(key, tc[i].key_byte, tc[i].key_len);
        if (tc[i].data) {
            memcpy(data, tc[i].data, tc[i].data_len);
        } else {
            memset(data, 0xdd, tc[i].data_len);
        }
        ok(prt_hmac_sha256(key, tc[i].key_len, data, tc[i].data_len, mac)
           == 0, "RFC 4231 %s: HMAC computed", tc[i].name);
        hex(mac, PRT_HMAC_SHA256_LEN, got);
        got[tc[i].want_len] = '\0';
        is_str(got, tc[i].want, "RFC 4231 %s", tc[i].name);
    }

    ok(prt_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac)
       == 0, "RFC 4231 case 2: HMAC computed");
    hex(mac, sizeof(mac), got);
    is_str(got,
           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
           "RFC 4231 case 2 (key shorter than the block)");

    for (i = 0; i < sizeof(key4); i++) {
        key4[i] = (unsigned char) (i + 1);
    }
    memset(data, 0xcd, 50);
    ok(prt_hmac_sha256(key4, sizeof(key4), data, 50, mac) == 0,
       "RFC 4231 case 4: HMAC computed");
    hex(mac, sizeof(mac), got);
    is_str(got,
           "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
           "RFC 4231 case 4");
}


/* ---- base64url: RFC 4648 section 10, URL alphabet, no padding ---------- */

static void
test_base64url(void)
{
    static const char *const  in[] = {
        "f", "fo", "foo", "foob", "fooba", "foobar"
    };
    static const char *const  want[] = {
        "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"
    };
    static const unsigned char  urlish[] = { 0xfb, 0xff, 0xbf };
    char    out[16];
    size_t  i, n;

    for (i = 0; i < 6; i++) {
        n = prt_base64url_encode(in[i], strlen(in[i]), out, sizeof(out));
        is_str(out, want[i], "base64url \"%s\"", in[i]);
        is_int(n, strlen(want[i]), "base64url \"%s\" length", in[i]);
    }
    prt_base64url_encode(urlish, sizeof(urlish), out, sizeof(out));
    is_str(out, "-_-_", "base64url uses - and _ (not + and /)");
    is_int(prt_base64url_encode("foo", 3, out, 4), 0,
           "base64url refuses a buffer without room for the NUL");
    is_int(prt_base64url_encoded_len(32), PRT_TOKEN_SIG_LEN,
           "32 bytes encode to 43 characters");
}


/* ---- mint and verify --------------------------------------------------- */

static void
test_golden(void)
{
    char         tok[PRT_TOKEN_MAX_LEN + 1];
    prt_token_t  t;
    int          n;

    n = mint(PRT_TOKEN_SCOPE_READ | PRT_TOKEN_SCOPE_FEED, NOW, tok,
             sizeof(tok));
    is_int(n, (int) strlen(golden), "golden: length");
    is_str(tok, golden, "golden: minted token equals the shell recipe's");

    is_int(prt_token_verify(secret, slen(secret), golden, slen(golden),
                            NOW - 1, PRT_TOKEN_SCOPE_FEED, &t),
           PRT_TOKEN_OK, "golden verifies one second before its expiry");
    is_int(t.scopes, PRT_TOKEN_SCOPE_READ | PRT_TOKEN_SCOPE_FEED,
           "golden: scopes read and feed");
    is_int(t.expires, NOW, "golden: expiry");
    ok(t.nonce_len == 16 && memcmp(golden + t.nonce_off, nonce, 16) == 0,
       "golden: the nonce is the token's id");
    is_int(t.signed_len, strlen(golden) - PRT_TOKEN_SIG_LEN - 1,
           "golden: the signature covers everything before the last dot");
}

static void
test_round_trip_scopes(void)
{
    static const struct {
        unsigned    scopes;
        const char *field;
    } sets[] = {
        { PRT_TOKEN_SCOPE_READ, "read" },
        { PRT_TOKEN_SCOPE_FEED, "feed" },
        { PRT_TOKEN_SCOPE_ADMIN, "admin" },
        { PRT_TOKEN_SCOPE_READ | PRT_TOKEN_SCOPE_FEED, "read-feed" },
        { PRT_TOKEN_SCOPE_READ | PRT_TOKEN_SCOPE_ADMIN, "read-admin" },
        { PRT_TOKEN_SCOPE_FEED | PRT_TOKEN_SCOPE_ADMIN, "feed-admin" },
        { PRT_TOKEN_SCOPE_ALL, "read-feed-admin" },
    };
    static const unsigned  single[3] = {
        PRT_TOKEN_SCOPE_READ, PRT_TOKEN_SCOPE_FEED, PRT_TOKEN_SCOPE_ADMIN
    };
    char         tok[PRT_TOKEN_MAX_LEN + 1], prefix[64];
    size_t       i, k;
    prt_token_t  t;

    for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        ok(mint(sets[i].scopes, NOW + 3600, tok, sizeof(tok)) > 0,
           "mint %s", sets[i].field);
        snprintf(prefix, sizeof(prefix), "prt1.%s.%lld.%s.", sets[i].field,
                 (long long) (NOW + 3600), nonce);
        ok(strncmp(tok, prefix, strlen(prefix)) == 0,
           "mint %s: text starts \"%s\"", sets[i].field, prefix);
        is_int(prt_token_verify(secret, slen(secret), tok, slen(tok), NOW, 0,
                                &t),
               PRT_TOKEN_OK, "%s: round trip", sets[i].field);
        is_int(t.scopes, sets[i].scopes, "%s: scopes back", sets[i].field);

        /* no scope implies another: exactly the listed ones pass */
        for (k = 0; k < 3; k++) {
            is_int(verify(tok, NOW, single[k]),
                   (sets[i].scopes & single[k]) ? PRT_TOKEN_OK
                                                : PRT_TOKEN_E_SCOPE,
                   "%s token for scope %s", sets[i].field,
                   prt_token_scope_name(single[k]));
        }
    }
    is_int(mint(PRT_TOKEN_SCOPE_ALL, NOW + 1, tok, sizeof(tok)),
           (int) strlen(tok), "mint returns the length");
    ok(strlen(tok) <= PRT_TOKEN_LONGEST_MINTED,
       "a minted token is at most %d bytes", PRT_TOKEN_LONGEST_MINTED);
}

static void
test_expiry(void)
{
    char  tok[PRT_TOKEN_MAX_LEN + 1];

    mint(PRT_TOKEN_SCOPE_READ, NOW, tok, sizeof(tok));
    is_int(verify(tok, NOW - 1, PRT_TOKEN_SCOPE_READ), PRT_TOKEN_OK,
           "valid one second before expiry");
    is_int(verify(tok, NOW, PRT_TOKEN_SCOPE_READ), PRT_TOKEN_E_EXPIRED,
           "expired at the expiry second");
    is_int(verify(tok, NOW + 1, PRT_TOKEN_SCOPE_READ), PRT_TOKEN_E_EXPIRED,
           "expired one second after");
    is_int(verify(tok, NOW + 1, PRT_TOKEN_SCOPE_FEED), PRT_TOKEN_E_EXPIRED,
           "expiry is reported before the scope");
}

/* Flipping any bit of a token never yields a valid token. */
static void
test_forged(void)
{
    char           tok[PRT_TOKEN_MAX_LEN + 1], bad[PRT_TOKEN_MAX_LEN + 1];
    unsigned char  mac[PRT_HMAC_SHA256_LEN];
    size_t         len, i, accepted, sig_mismatch;
    int            bit, sig_off;

    len = (size_t) mint(PRT_TOKEN_SCOPE_READ, NOW + 60, tok, sizeof(tok));
    sig_off = (int) (len - PRT_TOKEN_SIG_LEN);

    /* one bit of the HMAC itself, re-encoded canonically */
    prt_hmac_sha256(secret, slen(secret), tok, (size_t) sig_off - 1, mac);
    for (bit = 0; bit < 256; bit += 37) {
        memcpy(bad, tok, len + 1);
        mac[bit / 8] ^= (unsigned char) (1u << (bit % 8));
        prt_base64url_encode(mac, sizeof(mac), bad + sig_off,
                             PRT_TOKEN_SIG_LEN + 1);
        mac[bit / 8] ^= (unsigned char) (1u << (bit % 8));
        is_int(verify(bad, NOW, PRT_TOKEN_SCOPE_READ), PRT_TOKEN_E_SIGNATURE,
               "HMAC bit %d flipped: signature invalid", bit);
    }

    accepted = 0;
    sig_mismatch = 0;
    for (i = 0; i < len; i++) {
        for (bit = 0; bit < 8; bit++) {
            memcpy(bad, tok, len + 1);
            bad[i] = (char) (bad[i] ^ (1 << bit));
            switch (verify(bad, NOW, 0)) {
            case PRT_TOKEN_OK:
                accepted++;
                break;
            case PRT_TOKEN_E_SIGNATURE:
                sig_mismatch++;
                break;
            default:
                break;
            }
        }
    }
    is_int(accepted, 0, "none of %zu one-bit changes is accepted", len * 8);
    ok(sig_mismatch > 50, "well-formed changes fail on the signature (%zu)",
       sig_mismatch);

    /* "1700000060" -> "1700000061" would extend the token by a second */
    memcpy(bad, tok, len + 1);
    bad[strlen("prt1.read.170000006")] = '1';
    is_int(verify(bad, NOW, 0), PRT_TOKEN_E_SIGNATURE,
           "edited expiry: signature invalid");
    memcpy(bad, "prt1.feed", 9);
    is_int(verify(bad, NOW, 0), PRT_TOKEN_E_SIGNATURE,
           "edited scope: signature invalid");
}

static void
test_other_secret(void)
{
    char  tok[PRT_TOKEN_MAX_LEN + 1];

    mint(PRT_TOKEN_SCOPE_READ, NOW + 60, tok, sizeof(tok));
    is_int(verify_with(other_secret, tok, slen(tok), NOW, 0),
           PRT_TOKEN_E_SIGNATURE, "another secret (last byte differs)");
    is_int(verify_with(secret, golden, slen(golden), NOW - 1, 0),
           PRT_TOKEN_OK, "the right secret");
}

static void
test_truncated_and_long(void)
{
    char    tok[PRT_TOKEN_MAX_LEN + 1], big[PRT_TOKEN_MAX_LEN + 64];
    size_t  len, i, accepted;

    len = (size_t) mint(PRT_TOKEN_SCOPE_READ, NOW + 60, tok, sizeof(tok));
    accepted = 0;
    for (i = 0; i < len; i++) {
        accepted += verify_with(secret, tok, i, NOW, 0) == PRT_TOKEN_OK;
    }
    is_int(accepted, 0, "no proper prefix of a token is accepted");
    is_int(verify_with(secret, tok, 0, NOW, 0), PRT_TOKEN_E_LENGTH,
           "empty token");
    is_int(verify_with(secret, tok, len - 1, NOW, 0), PRT_TOKEN_E_BASE64,
           "one character short: signature malformed");
    is_int(verify_with(secret, tok, strlen("prt1.read.1700000060"), NOW, 0),
           PRT_TOKEN_E_LAYOUT, "three fields: malformed");

    /* a long but well-formed nonce keeps within the limit; more does not */
    memset(big, 'A', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    is_int(verify_with(secret, big, PRT_TOKEN_MAX_LEN + 1, NOW, 0),
           PRT_TOKEN_E_LENGTH, "%d bytes: too long", PRT_TOKEN_MAX_LEN + 1);
    snprintf(big, sizeof(big), "%s.", tok);
    memset(big + len + 1, 'x', PRT_TOKEN_MAX_LEN - len - 1);
    is_int(verify_with(secret, big, PRT_TOKEN_MAX_LEN, NOW, 0),
           PRT_TOKEN_E_LAYOUT, "%d bytes, six fields: checked, malformed",
           PRT_TOKEN_MAX_LEN);
    is_int(verify_with(secret, big, PRT_TOKEN_MAX_LEN + 1, NOW, 0),
           PRT_TOKEN_E_LENGTH, "%d bytes: rejected on length alone",
           PRT_TOKEN_MAX_LEN + 1);
}

static void
test_charset_and_base64(void)
{
    char    tok[PRT_TOKEN_MAX_LEN + 1], bad[PRT_TOKEN_MAX_LEN + 1];
    size_t  len, sig;
    int     c, wrong;

    len = (size_t) mint(PRT_TOKEN_SCOPE_READ, NOW + 60, tok, sizeof(tok));
    sig = len - PRT_TOKEN_SIG_LEN;

    wrong = 0;
    for (c = 0; c < 256; c++) {
        int  allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                       || (c >= '0' && c <= '9') || c == '-' || c == '_'
                       || c == '.';

        memcpy(bad, tok, len + 1);
        bad[sig + 5] = (char) c;
        if ((verify_with(secret, bad, len, NOW, 0) == PRT_TOKEN_E_CHARSET)
            == allowed)
        {
            wrong++;
            printf("#   byte 0x%02x in the signature misjudged\n", c);
        }
    }
    is_int(wrong, 0, "charset is exactly [A-Za-z0-9._-] (all 256 bytes)");

    memcpy(bad, tok, len + 1);
    bad[sig] = '+';
    is_int(verify(bad, NOW, 0), PRT_TOKEN_E_CHARSET,
           "standard base64 '+' is not base64url");
    bad[sig] = '/';
    is_int(verify(bad, NOW, 0), PRT_TOKEN_E_CHARSET, "'/' neither");
    memcpy(bad, tok, len + 1);
    bad[len - 1] = '=';
    is_int(verify(bad, NOW, 0), PRT_TOKEN_E_CHARSET, "no '=' padding");

    /* the last character holds 4 bits + 2 zero bits: 'B' (1) is a
     * non-canonical spelling of 'A' */
    memcpy(bad, tok, len + 1);
    bad[len - 1] = (char) ((prt_base64url_value((unsigned char) tok[len - 1])
                            & 3) ? 'A' : 'B');
    is_int(verify(bad, NOW, 0), PRT_TOKEN_E_BASE64,
           "non-canonical last signature character");

    memcpy(bad, tok, len + 1);
    bad[sig + 3] = '.';
    is_int(verify(bad, NOW, 0), PRT_TOKEN_E_LAYOUT, "a dot in the signature");

    memcpy(bad, tok, len + 1);
    bad[sig] = '\0';
    is_int(verify_with(secret, bad, len, NOW, 0), PRT_TOKEN_E_CHARSET,
           "a NUL byte inside (length-delimited input)");
    is_int(verify("prt1.read.1700000060.bm9uY2Utbm9uY2Ut.%41", NOW, 0),
           PRT_TOKEN_E_CHARSET, "percent-encoding is not decoded here");
    is_int(verify("prt1.r\xc3\xa9\x61\x64.1700000060.x", NOW, 0),
           PRT_TOKEN_E_CHARSET, "UTF-8");
}

static void
test_fields(void)
{
    static const struct {
        const char          *scopes;
        prt_token_status_t   want;
    } scope_cases[] = {
        { "read", PRT_TOKEN_OK }, { "read-feed-admin", PRT_TOKEN_OK },
        { "Read", PRT_TOKEN_E_SCOPE_NAME }, { "reads", PRT_TOKEN_E_SCOPE_NAME },
        { "rea", PRT_TOKEN_E_SCOPE_NAME }, { "", PRT_TOKEN_E_SCOPE_NAME },
        { "read-", PRT_TOKEN_E_SCOPE_NAME },
        { "-read", PRT_TOKEN_E_SCOPE_NAME },
        { "read--feed", PRT_TOKEN_E_SCOPE_NAME },
        { "read-read", PRT_TOKEN_E_SCOPE_NAME },
        { "feed-read", PRT_TOKEN_E_SCOPE_NAME },
        { "admin-read", PRT_TOKEN_E_SCOPE_NAME },
        { "root", PRT_TOKEN_E_SCOPE_NAME }, { "all", PRT_TOKEN_E_SCOPE_NAME },
    };
    static const struct {
        const char          *text;
        prt_token_status_t   want;
        const char          *what;
    } cases[] = {
        { "prt2.read.1700000060.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_VERSION,
          "version prt2" },
        { "PRT1.read.1700000060.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_VERSION,
          "version in capitals" },
        { "prt.read.1700000060.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_VERSION,
          "version prt" },
        { "prt10.read.1700000060.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_VERSION,
          "version prt10" },
        { ".read.1700000060.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_VERSION,
          "no version" },
        { "prt1.read.01700000060.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_EXPIRES,
          "expiry with a leading zero" },
        { "prt1.read.0.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_EXPIRES, "expiry 0" },
        { "prt1.read..bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_EXPIRES,
          "empty expiry" },
        { "prt1.read.1700000060a.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_EXPIRES,
          "expiry with a letter" },
        { "prt1.read.-1700000060.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_EXPIRES,
          "negative expiry" },
        { "prt1.read.1000000000000.bm9uY2Utbm9uY2Ut.", PRT_TOKEN_E_EXPIRES,
          "13-digit expiry" },
        { "prt1.read.1700000060.bm9uY2U.", PRT_TOKEN_E_NONCE,
          "7-character nonce" },
        { "prt1.read.1700000060."
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.", PRT_TOKEN_E_NONCE,
          "44-character nonce" },
        { "prt1.read.1700000060.bm9uY2Utbm9uY2Ut", PRT_TOKEN_E_LAYOUT,
          "four fields" },
        { "prt1.read.1700000060.bm9uY2Utbm9uY2Ut..", PRT_TOKEN_E_LAYOUT,
          "six fields" },
    };
    char         tok[PRT_TOKEN_MAX_LEN + 1];
    const char  *sig;
    size_t       i;
    prt_token_t  t;

    /* any signature will do: the fields are checked before it */
    sig = golden + strlen(golden) - PRT_TOKEN_SIG_LEN;

    for (i = 0; i < sizeof(scope_cases) / sizeof(scope_cases[0]); i++) {
        snprintf(tok, sizeof(tok), "prt1.%s.1700000060.%s.%s",
                 scope_cases[i].scopes, nonce, sig);
        is_int(prt_token_parse(tok, strlen(tok), &t), scope_cases[i].want,
               "scopes \"%s\"", scope_cases[i].scopes);
    }
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(tok, sizeof(tok), "%s%s", cases[i].text, sig);
        is_int(prt_token_parse(tok, strlen(tok), &t), cases[i].want, "%s",
               cases[i].what);
    }
    snprintf(tok, sizeof(tok), "prt1.read.999999999999.%s.%s", nonce, sig);
    is_int(prt_token_parse(tok, strlen(tok), &t), PRT_TOKEN_OK,
           "12-digit expiry parses");
    is_int(t.expires, INT64_C(999999999999), "12-digit expiry value");
}

static void
test_mint_arguments(void)
{
    char  tok[PRT_TOKEN_MAX_LEN + 1];

    is_int(mint(0, NOW, tok, sizeof(tok)), -1, "mint: no scope");
    is_int(mint(8, NOW, tok, sizeof(tok)), -1, "mint: unknown scope bit");
    is_int(mint(PRT_TOKEN_SCOPE_READ, 0, tok, sizeof(tok)), -1,
           "mint: expiry 0");
    is_int(mint(PRT_TOKEN_SCOPE_READ, PRT_TOKEN_EXPIRES_MAX + 1, tok,
                sizeof(tok)), -1, "mint: expiry beyond 12 digits");
    is_int(prt_token_mint(secret, slen(secret), PRT_TOKEN_SCOPE_READ, NOW,
                          "short", 5, tok, sizeof(tok)), -1,
           "mint: nonce too short");
    is_int(prt_token_mint(secret, slen(secret), PRT_TOKEN_SCOPE_READ, NOW,
                          "bm9uY2U.bm9uY2Ut", 16, tok, sizeof(tok)), -1,
           "mint: a dot in the nonce");
    is_int(mint(PRT_TOKEN_SCOPE_READ, NOW, tok, 60), -1,
           "mint: output buffer too small");
}

static void
test_secret_check(void)
{
    unsigned char  buf[PRT_TOKEN_SECRET_MAX + 8];
    size_t         used;

    memset(buf, 'k', sizeof(buf));
    used = 0;
    ok(prt_token_secret_check(buf, 32, &used) == NULL && used == 32,
       "32-byte secret accepted");
    ok(prt_token_secret_check(buf, 31, &used) != NULL, "31 bytes refused");
    buf[32] = '\n';
    ok(prt_token_secret_check(buf, 33, &used) == NULL && used == 32,
       "trailing newline dropped");
    buf[31] = '\r';
    ok(prt_token_secret_check(buf, 33, &used) != NULL,
       "CRLF dropped, leaving 31 bytes: refused");
    memset(buf, 'k', sizeof(buf));
    ok(prt_token_secret_check(buf, PRT_TOKEN_SECRET_MAX, &used) == NULL,
       "%d bytes accepted", PRT_TOKEN_SECRET_MAX);
    ok(prt_token_secret_check(buf, PRT_TOKEN_SECRET_MAX + 1, &used) != NULL,
       "%d bytes refused", PRT_TOKEN_SECRET_MAX + 1);
}


/* ---- the command's parsers --------------------------------------------- */

static void
test_ttl_and_scope_list(void)
{
    static const struct {
        const char *text;
        int64_t     want;          /* -1: refused */
    } ttl[] = {
        { "1", 1 }, { "90s", 90 }, { "15m", 900 }, { "1h", 3600 },
        { "7d", 604800 }, { "366d", 366 * 86400 }, { "367d", -1 },
        { "31622401", -1 }, { "0", -1 }, { "0s", -1 }, { "-5m", -1 },
        { "1w", -1 }, { "1hh", -1 }, { "h", -1 }, { "", -1 }, { " 1h", -1 },
        { "99999999999999999999", -1 }, { "1.5h", -1 },
    };
    static const struct {
        const char *text;
        int         want;          /* -1: refused */
    } scopes[] = {
        { "read", 1 }, { "feed,read", 3 }, { "read-feed", 3 },
        { "admin,feed,read", 7 }, { "feed", 2 }, { "read,read", -1 },
        { "read,", -1 }, { ",read", -1 }, { "", -1 }, { "READ", -1 },
        { "read feed", -1 },
    };
    int64_t   got;
    unsigned  bits;
    size_t    i;
    int       rc;

    for (i = 0; i < sizeof(ttl) / sizeof(ttl[0]); i++) {
        got = -1;
        rc = prt_token_parse_ttl(ttl[i].text, &got);
        is_int(rc == 0 ? got : -1, ttl[i].want, "--ttl \"%s\"", ttl[i].text);
    }
    for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
        bits = 0;
        rc = prt_token_parse_scope_list(scopes[i].text, &bits);
        is_int(rc == 0 ? (int) bits : -1, scopes[i].want, "--scope \"%s\"",
               scopes[i].text);
    }
}


/* ---- the command, run in-process with stdout in a file ----------------- */

static int
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    FILE  *f;

    f = fopen(path, "w");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        return -1;
    }
    return chmod(path, mode);
}

static void
read_back(const char *path, char *out, size_t size)
{
    ssize_t  n;
    int      fd;

    fd = open(path, O_RDONLY);
    n = fd >= 0 ? read(fd, out, size - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    out[n > 0 ? n : 0] = '\0';
}

/* The first line of text, for a test name. */
static const char *
line1(char *text)
{
    text[strcspn(text, "\n")] = '\0';
    return text;
}

static char  err[512];      /* the last command's stderr */

/* Runs the command with stdin from in_path (or untouched), stdout into out
 * and stderr into err; returns its exit code. */
static int
run_command(char **argv, const char *in_path, char *out, size_t size)
{
    char  path[96], epath[96];
    int   argc, saved_out, saved_err, saved_in, fd, rc;

    for (argc = 0; argv[argc]; argc++) { /* count */ }
    snprintf(path, sizeof(path), "%s/stdout", tmpdir);
    snprintf(epath, sizeof(epath), "%s/stderr", tmpdir);
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(STDOUT_FILENO);
    saved_err = dup(STDERR_FILENO);
    saved_in = dup(STDIN_FILENO);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    fd = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
    if (in_path) {
        fd = open(in_path, O_RDONLY);
        dup2(fd, STDIN_FILENO);
        close(fd);
        clearerr(stdin);
    }

    rc = prt_token_command(argc, argv);

    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    dup2(saved_in, STDIN_FILENO);
    close(saved_out);
    close(saved_err);
    close(saved_in);
    clearerr(stdin);

    read_back(path, out, size);
    read_back(epath, err, sizeof(err));
    return rc;
}

static void
test_command(void)
{
    char         sfile[96], short_file[96], missing[96], tfile[96];
    char         out[512], *nl;
    char        *mint_argv[] = { "token", "--secret-file", sfile, "--scope",
                                 "feed,read", "--ttl", "90s", NULL };
    char        *check_argv[] = { "token", "--secret-file", sfile, "--check",
                                  "--scope", "feed", NULL };
    char        *admin_argv[] = { "token", "--secret-file", sfile, "--check",
                                  "--scope", "admin", NULL };
    char        *short_argv[] = { "token", "--secret-file", short_file,
                                  "--scope", "read", NULL };
    char        *noscope_argv[] = { "token", "--secret-file", sfile, NULL };
    char        *ttl_argv[] = { "token", "--secret-file", sfile, "--scope",
                                "read", "--ttl", "400d", NULL };
    char        *missing_argv[] = { "token", "--secret-file", missing,
                                    "--scope", "read", NULL };
    int64_t      before;
    prt_token_t  t;
    int          rc;

    snprintf(sfile, sizeof(sfile), "%s/secret", tmpdir);
    snprintf(short_file, sizeof(short_file), "%s/short", tmpdir);
    snprintf(tfile, sizeof(tfile), "%s/token", tmpdir);
    snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
    write_file(sfile, "tk-secret-0123456789abcdefghijklmnop\n", 37, 0600);
    write_file(short_file, "0123456789abcdef0123456789abcde\n", 32, 0600);

    before = (int64_t) time(NULL);
    rc = run_command(mint_argv, NULL, out, sizeof(out));
    is_int(rc, 0, "token --scope feed,read --ttl 90s: exit 0");
    nl = strchr(out, '\n');
    ok(nl != NULL && nl[1] == '\0', "stdout is the token and one newline");
    if (nl) {
        *nl = '\0';
    }
    is_int(prt_token_verify(secret, slen(secret), out, strlen(out), before,
                            PRT_TOKEN_SCOPE_READ | PRT_TOKEN_SCOPE_FEED, &t),
           PRT_TOKEN_OK, "the minted token verifies with the file's secret "
           "(newline dropped)");
    ok(t.expires >= before + 90 && t.expires <= (int64_t) time(NULL) + 90,
       "expires 90 s from now");
    is_int(t.nonce_len, 16, "16-character random nonce");

    write_file(tfile, out, strlen(out), 0600);
    rc = run_command(check_argv, tfile, out, sizeof(out));
    is_int(rc, 0, "token --check --scope feed < token: exit 0");
    ok(strncmp(out, "valid; ", 7) == 0 && strstr(out, "read-feed") != NULL,
       "check prints valid and the scopes (%s)", line1(out));
    rc = run_command(admin_argv, tfile, out, sizeof(out));
    is_int(rc, 1, "token --check --scope admin: exit 1");
    ok(strstr(out, "lacks") != NULL, "check says the scope is missing");

    write_file(tfile, golden, strlen(golden), 0600);
    rc = run_command(check_argv, tfile, out, sizeof(out));
    is_int(rc, 1, "an expired token: exit 1");
    ok(strstr(out, "token expired") != NULL
       && strstr(out, "2023-11-14T22:13:20Z") != NULL,
       "check names the expiry (%s)", line1(out));

    is_int(run_command(short_argv, NULL, out, sizeof(out)), 1,
           "a 31-byte secret is refused");
    ok(strstr(err, short_file) != NULL && strstr(err, "shorter") != NULL
       && strstr(err, "0123456789abcdef") == NULL,
       "the message names the file and the problem, not the secret (%s)",
       line1(err));
    is_int(run_command(missing_argv, NULL, out, sizeof(out)), 1,
           "a missing secret file is refused");
    ok(strstr(err, missing) != NULL
       && strstr(err, "No such file") != NULL,
       "the message names the file and the error (%s)", line1(err));
    is_int(run_command(noscope_argv, NULL, out, sizeof(out)), 2,
           "--scope is required");
    is_int(run_command(ttl_argv, NULL, out, sizeof(out)), 2,
           "--ttl 400d is refused");
    is_str(out, "", "nothing on stdout after a refusal");
}

int
main(void)
{
    char  cmd[96];

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/prt-token-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }

    test_rfc4231();
    test_base64url();
    test_golden();
    test_round_trip_scopes();
    test_expiry();
    test_forged();
    test_other_secret();
    test_truncated_and_long();
    test_charset_and_base64();
    test_fields();
    test_mint_arguments();
    test_secret_check();
    test_ttl_and_scope_list();
    test_command();

    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) {
        printf("# could not remove %s\n", tmpdir);
    }
    return done_testing();
}
