/*
 * The auth token codec (include/pattern_rt_token.h): parse, verify, mint.
 * Both the nginx module (which verifies tokens) and the engine's `token`
 * command (which mints them) are built with this file, so both sides run
 * the very same code.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pattern_rt_token.h"

/* Texts for logs and error answers: they never contain the token. */
const char *
prt_token_status_text(prt_token_status_t st)
{
    switch (st) {
    case PRT_TOKEN_OK:           return "token valid";
    case PRT_TOKEN_E_LENGTH:     return "token empty or too long";
    case PRT_TOKEN_E_CHARSET:    return "token has invalid characters";
    case PRT_TOKEN_E_LAYOUT:     return "token malformed";
    case PRT_TOKEN_E_VERSION:    return "unknown token version";
    case PRT_TOKEN_E_SCOPE_NAME: return "token has invalid scopes";
    case PRT_TOKEN_E_EXPIRES:    return "token has an invalid expiry";
    case PRT_TOKEN_E_NONCE:      return "token has an invalid id";
    case PRT_TOKEN_E_BASE64:     return "token signature malformed";
    case PRT_TOKEN_E_SIGNATURE:  return "token signature invalid";
    case PRT_TOKEN_E_EXPIRED:    return "token expired";
    case PRT_TOKEN_E_SCOPE:      return "token lacks the required scope";
    case PRT_TOKEN_E_CRYPTO:     return "token check failed";
    }
    return "token invalid";
}


/* ---- scopes ------------------------------------------------------------ */

/* Scope i (bit 1 << i) in canonical order: read, feed, admin; or NULL. */
static const char *
prt_token_scope_name_at(int i)
{
    static const char *const  names[3] = { "read", "feed", "admin" };

    return i >= 0 && i < 3 ? names[i] : NULL;
}

/* The name of one scope bit, or NULL. */
const char *
prt_token_scope_name(unsigned scope)
{
    switch (scope) {
    case PRT_TOKEN_SCOPE_READ:  return prt_token_scope_name_at(0);
    case PRT_TOKEN_SCOPE_FEED:  return prt_token_scope_name_at(1);
    case PRT_TOKEN_SCOPE_ADMIN: return prt_token_scope_name_at(2);
    }
    return NULL;
}

/* Index of the scope called s[0..len), or -1. */
int
prt_token_scope_index(const char *s, size_t len)
{
    const char  *name;
    int          i;

    for (i = 0; (name = prt_token_scope_name_at(i)) != NULL; i++) {
        if (strlen(name) == len && memcmp(name, s, len) == 0) {
            return i;
        }
    }
    return -1;
}

/*
 * The scopes field of a token: names joined by '-' in canonical order, so
 * that a set of scopes has exactly one spelling (and a minted token one
 * text). Returns 0 and the bits, or -1.
 */
static int
prt_token_scopes_parse(const char *s, size_t len, unsigned *scopes)
{
    size_t    pos, end;
    int       i, last;
    unsigned  bits;

    bits = 0;
    last = -1;
    pos = 0;

    for ( ;; ) {
        for (end = pos; end < len && s[end] != '-'; end++) {
            /* find the end of the name */
        }
        i = prt_token_scope_index(s + pos, end - pos);
        if (i <= last) {
            return -1;                 /* unknown, empty, repeated, order */
        }
        bits |= 1u << i;
        last = i;
        if (end == len) {
            break;
        }
        pos = end + 1;
    }

    *scopes = bits;
    return 0;
}

/* Writes the canonical scopes field; returns its length, 0 on error. */
size_t
prt_token_scopes_format(unsigned scopes, char *out, size_t size)
{
    size_t  n, k;
    int     i;

    if (scopes == 0 || (scopes & ~PRT_TOKEN_SCOPE_ALL) || size == 0) {
        return 0;
    }
    n = 0;
    for (i = 0; i < 3; i++) {
        if (!(scopes & (1u << i))) {
            continue;
        }
        k = strlen(prt_token_scope_name_at(i));
        if (n + (n ? 1 : 0) + k + 1 > size) {
            return 0;
        }
        if (n) {
            out[n++] = '-';
        }
        memcpy(out + n, prt_token_scope_name_at(i), k);
        n += k;
    }
    out[n] = '\0';
    return n;
}


/* ---- base64url (RFC 4648 section 5, no padding) ------------------------ */

/* The value of a base64url character, or -1. */
int
prt_base64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

size_t
prt_base64url_encoded_len(size_t n)
{
    return (n * 4 + 2) / 3;
}

/*
 * Encodes n bytes into out (NUL-terminated). Returns the length, or 0 when
 * out cannot hold it (or n is 0).
 */
size_t
prt_base64url_encode(const void *in, size_t n, char *out, size_t size)
{
    static const char     alphabet[65] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char  *p = in;
    size_t                i, o;
    uint32_t              v;

    if (n == 0 || size < prt_base64url_encoded_len(n) + 1) {
        return 0;
    }
    o = 0;
    for (i = 0; i + 3 <= n; i += 3) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        v = (uint32_t) p[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}


/* ---- HMAC-SHA256 ------------------------------------------------------- */

/* Returns 0, or -1 when OpenSSL fails. */
int
prt_hmac_sha256(const void *key, size_t key_len, const void *msg,
    size_t msg_len, unsigned char out[PRT_HMAC_SHA256_LEN])
{
    unsigned int  n = 0;

    if (key_len > INT_MAX) {
        return -1;                     /* HMAC() takes an int */
    }
    if (HMAC(EVP_sha256(), key, (int) key_len, msg, msg_len, out, &n)
        == NULL || n != PRT_HMAC_SHA256_LEN)
    {
        return -1;
    }
    return 0;
}

/* The signature text of payload[0..len): 43 characters and a NUL. */
int
prt_token_sign(const void *secret, size_t secret_len, const char *payload,
    size_t len, char sig[PRT_TOKEN_SIG_LEN + 1])
{
    unsigned char  mac[PRT_HMAC_SHA256_LEN];
    size_t         n;

    if (prt_hmac_sha256(secret, secret_len, payload, len, mac) != 0) {
        return -1;
    }
    n = prt_base64url_encode(mac, sizeof(mac), sig, PRT_TOKEN_SIG_LEN + 1);
    OPENSSL_cleanse(mac, sizeof(mac));
    return n == PRT_TOKEN_SIG_LEN ? 0 : -1;
}


/* ---- parse, verify, mint ----------------------------------------------- */

static int
prt_token_is_char(unsigned char c)
{
    return c == '.' || prt_base64url_value(c) >= 0;
}

static prt_token_status_t
prt_token_parse_expires(const char *s, size_t len, int64_t *out)
{
    int64_t  v;
    size_t   i;

    if (len == 0 || len > PRT_TOKEN_EXPIRES_DIGITS || s[0] == '0') {
        return PRT_TOKEN_E_EXPIRES;
    }
    v = 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return PRT_TOKEN_E_EXPIRES;
        }
        v = v * 10 + (s[i] - '0');     /* 12 digits cannot overflow */
    }
    *out = v;
    return PRT_TOKEN_OK;
}

/*
 * The last base64url character of 32 bytes carries 4 bits and two zero
 * bits; any other value would decode to the same bytes, so only the
 * canonical spelling is accepted.
 */
static prt_token_status_t
prt_token_check_signature_text(const char *s, size_t len)
{
    size_t  i;

    if (len != PRT_TOKEN_SIG_LEN) {
        return PRT_TOKEN_E_BASE64;
    }
    for (i = 0; i < len; i++) {
        if (prt_base64url_value((unsigned char) s[i]) < 0) {
            return PRT_TOKEN_E_BASE64;
        }
    }
    if (prt_base64url_value((unsigned char) s[len - 1]) & 3) {
        return PRT_TOKEN_E_BASE64;
    }
    return PRT_TOKEN_OK;
}

/*
 * Checks the form of s[0..len) without any cryptography and fills t.
 * The checks run from the cheapest and most general to the most specific,
 * so a status names the first rule broken.
 */
prt_token_status_t
prt_token_parse(const char *s, size_t len, prt_token_t *t)
{
    size_t              i, nf, start[5], flen[5];
    prt_token_status_t  st;

    if (len == 0 || len > PRT_TOKEN_MAX_LEN) {
        return PRT_TOKEN_E_LENGTH;
    }
    for (i = 0; i < len; i++) {
        if (!prt_token_is_char((unsigned char) s[i])) {
            return PRT_TOKEN_E_CHARSET;
        }
    }

    nf = 0;                            /* dots seen */
    start[0] = 0;
    for (i = 0; i < len; i++) {
        if (s[i] != '.') {
            continue;
        }
        if (nf == 4) {
            return PRT_TOKEN_E_LAYOUT;     /* a sixth field */
        }
        flen[nf] = i - start[nf];
        start[++nf] = i + 1;
    }
    if (nf != 4) {
        return PRT_TOKEN_E_LAYOUT;
    }
    flen[4] = len - start[4];

    if (flen[0] != sizeof(PRT_TOKEN_VERSION) - 1
        || memcmp(s, PRT_TOKEN_VERSION, flen[0]) != 0)
    {
        return PRT_TOKEN_E_VERSION;
    }
    if (prt_token_scopes_parse(s + start[1], flen[1], &t->scopes) != 0) {
        return PRT_TOKEN_E_SCOPE_NAME;
    }
    st = prt_token_parse_expires(s + start[2], flen[2], &t->expires);
    if (st != PRT_TOKEN_OK) {
        return st;
    }
    if (flen[3] < PRT_TOKEN_NONCE_MIN || flen[3] > PRT_TOKEN_NONCE_MAX) {
        return PRT_TOKEN_E_NONCE;
    }
    st = prt_token_check_signature_text(s + start[4], flen[4]);
    if (st != PRT_TOKEN_OK) {
        return st;
    }

    t->nonce_off = start[3];
    t->nonce_len = flen[3];
    t->signed_len = start[4] - 1;
    return PRT_TOKEN_OK;
}

/*
 * The whole check: form, signature (constant-time compare), expiry against
 * now, and every scope bit of need (0: any scope). The signature is checked
 * before the expiry and the scopes, so those two answers are only ever
 * given about genuine tokens.
 */
prt_token_status_t
prt_token_verify(const void *secret, size_t secret_len, const char *s,
    size_t len, int64_t now, unsigned need, prt_token_t *t)
{
    char                sig[PRT_TOKEN_SIG_LEN + 1];
    int                 differ;
    prt_token_status_t  st;

    st = prt_token_parse(s, len, t);
    if (st != PRT_TOKEN_OK) {
        return st;
    }
    if (prt_token_sign(secret, secret_len, s, t->signed_len, sig) != 0) {
        return PRT_TOKEN_E_CRYPTO;
    }
    differ = CRYPTO_memcmp(sig, s + t->signed_len + 1, PRT_TOKEN_SIG_LEN);
    OPENSSL_cleanse(sig, sizeof(sig));
    if (differ) {
        return PRT_TOKEN_E_SIGNATURE;
    }
    if (now >= t->expires) {
        return PRT_TOKEN_E_EXPIRED;
    }
    if ((t->scopes & need) != need) {
        return PRT_TOKEN_E_SCOPE;
    }
    return PRT_TOKEN_OK;
}

/*
 * Writes a signed token into out (NUL-terminated). nonce is the text of the
 * nonce field (base64url). Returns the token's length, or -1 when an
 * argument is out of range, out is too small or OpenSSL fails.
 */
int
prt_token_mint(const void *secret, size_t secret_len, unsigned scopes,
    int64_t expires, const char *nonce, size_t nonce_len, char *out,
    size_t size)
{
    char    field[16];
    size_t  i;
    int     n;

    if (expires <= 0 || expires > PRT_TOKEN_EXPIRES_MAX
        || nonce_len < PRT_TOKEN_NONCE_MIN || nonce_len > PRT_TOKEN_NONCE_MAX
        || prt_token_scopes_format(scopes, field, sizeof(field)) == 0)
    {
        return -1;
    }
    for (i = 0; i < nonce_len; i++) {
        if (prt_base64url_value((unsigned char) nonce[i]) < 0) {
            return -1;
        }
    }

    n = snprintf(out, size, "%s.%s.%lld.%.*s.", PRT_TOKEN_VERSION, field,
                 (long long) expires, (int) nonce_len, nonce);
    if (n < 0 || (size_t) n + PRT_TOKEN_SIG_LEN + 1 > size) {
        return -1;
    }
    if (prt_token_sign(secret, secret_len, out, (size_t) n - 1, out + n)
        != 0)
    {
        return -1;
    }
    return n + PRT_TOKEN_SIG_LEN;
}


/* ---- the secret ---------------------------------------------------------- */

/*
 * The secret is a file's bytes without trailing CR/LF (editors and
 * `openssl rand -hex 32 > file` add a newline; the shell recipe in
 * docs/auth.md drops it the same way). Sets *used to the secret's length;
 * returns NULL, or what is wrong, for an operator message.
 */
const char *
prt_token_secret_check(const unsigned char *buf, size_t len, size_t *used)
{
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        len--;
    }
    if (len < PRT_TOKEN_SECRET_MIN) {
        return "is shorter than 32 bytes (try: openssl rand -hex 32)";
    }
    if (len > PRT_TOKEN_SECRET_MAX) {
        return "is longer than 1024 bytes";
    }
    *used = len;
    return NULL;
}
