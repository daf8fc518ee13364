/*
 * Pattern Real-Time: the auth token format, shared by the nginx module
 * (which verifies tokens) and the engine's `token` command (which mints
 * them). Both are built with its code, common/token.c, so both sides run
 * the very same code.
 *
 *   prt1.<scopes>.<expires>.<nonce>.<signature>
 *
 *   scopes     "read", "feed", "admin" joined by '-', in that order, each at
 *              most once ("read-feed", "feed-admin")
 *   expires    unix seconds, 1-12 digits, no leading zero; the token is
 *              valid while now < expires
 *   nonce      8-43 base64url characters (the command draws 12 random
 *              bytes: 16 characters); makes tokens distinct and serves as
 *              the token's id in logs
 *   signature  base64url without padding (43 characters) of
 *              HMAC-SHA256(secret, every byte before the last '.')
 *
 * Every byte is in [A-Za-z0-9._-] (RFC 3986 unreserved characters), so a
 * token travels unchanged in a URL query, a header and a shell word. At
 * most PRT_TOKEN_MAX_LEN bytes. docs/auth.md explains the choices.
 */
#ifndef PATTERN_RT_TOKEN_H
#define PATTERN_RT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define PRT_TOKEN_VERSION          "prt1"
#define PRT_TOKEN_MAX_LEN          256
#define PRT_TOKEN_SIG_LEN          43      /* base64url of 32 bytes */
#define PRT_TOKEN_NONCE_MIN        8
#define PRT_TOKEN_NONCE_MAX        43
#define PRT_TOKEN_NONCE_BYTES      12      /* minted: 16 characters */
#define PRT_TOKEN_EXPIRES_DIGITS   12
#define PRT_TOKEN_EXPIRES_MAX      INT64_C(999999999999)

#define PRT_TOKEN_SECRET_MIN       32
#define PRT_TOKEN_SECRET_MAX       1024
/* the largest secret file read: the secret and some line ends */
#define PRT_TOKEN_SECRET_FILE_MAX  (PRT_TOKEN_SECRET_MAX + 16)

#define PRT_HMAC_SHA256_LEN        32

/* The same bits as NGX_HTTP_PATTERN_RT_SCOPE_* (checked in the module). */
#define PRT_TOKEN_SCOPE_READ       0x01u
#define PRT_TOKEN_SCOPE_FEED       0x02u
#define PRT_TOKEN_SCOPE_ADMIN      0x04u
#define PRT_TOKEN_SCOPE_ALL        0x07u

/* "prt1." + "read-feed-admin" + "." + 12 digits + "." + 43 + "." + 43 */
#define PRT_TOKEN_LONGEST_MINTED   (5 + 15 + 1 + 12 + 1 + 43 + 1 + 43)

typedef enum {
    PRT_TOKEN_OK = 0,
    PRT_TOKEN_E_LENGTH,        /* empty, or longer than PRT_TOKEN_MAX_LEN */
    PRT_TOKEN_E_CHARSET,       /* a byte outside [A-Za-z0-9._-] */
    PRT_TOKEN_E_LAYOUT,        /* not five '.'-separated fields */
    PRT_TOKEN_E_VERSION,       /* first field is not "prt1" */
    PRT_TOKEN_E_SCOPE_NAME,    /* unknown, repeated or misordered scope */
    PRT_TOKEN_E_EXPIRES,       /* not 1-12 digits without a leading zero */
    PRT_TOKEN_E_NONCE,         /* nonce length outside 8..43 */
    PRT_TOKEN_E_BASE64,        /* signature not 43 canonical base64url */
    PRT_TOKEN_E_SIGNATURE,     /* HMAC does not match: forged or other key */
    PRT_TOKEN_E_EXPIRED,       /* genuine, now >= expires */
    PRT_TOKEN_E_SCOPE,         /* genuine and current, lacks the scope */
    PRT_TOKEN_E_CRYPTO         /* OpenSSL failed */
} prt_token_status_t;

/* What prt_token_parse() found; offsets point into the token text. */
typedef struct {
    unsigned  scopes;          /* PRT_TOKEN_SCOPE_* */
    int64_t   expires;         /* unix seconds */
    size_t    nonce_off;       /* the token's id, safe to log */
    size_t    nonce_len;
    size_t    signed_len;      /* bytes covered by the signature */
} prt_token_t;


/* Texts for logs and error answers: they never contain the token. */
const char *prt_token_status_text(prt_token_status_t st);


/* ---- scopes ------------------------------------------------------------ */

/* The name of one scope bit, or NULL. */
const char *prt_token_scope_name(unsigned scope);

/* Index (bit 1 << i) of the scope called s[0..len): 0 read, 1 feed,
 * 2 admin; or -1. */
int prt_token_scope_index(const char *s, size_t len);

/* Writes the canonical scopes field (names joined by '-' in the order
 * read, feed, admin); returns its length, 0 on error. */
size_t prt_token_scopes_format(unsigned scopes, char *out, size_t size);


/* ---- base64url (RFC 4648 section 5, no padding) ------------------------ */

/* The value of a base64url character, or -1. */
int prt_base64url_value(unsigned char c);

size_t prt_base64url_encoded_len(size_t n);

/* Encodes n bytes into out (NUL-terminated). Returns the length, or 0 when
 * out cannot hold it (or n is 0). */
size_t prt_base64url_encode(const void *in, size_t n, char *out,
    size_t size);


/* ---- HMAC-SHA256 ------------------------------------------------------- */

/* Returns 0, or -1 when OpenSSL fails. */
int prt_hmac_sha256(const void *key, size_t key_len, const void *msg,
    size_t msg_len, unsigned char out[PRT_HMAC_SHA256_LEN]);

/* The signature text of payload[0..len): 43 characters and a NUL. */
int prt_token_sign(const void *secret, size_t secret_len, const char *payload,
    size_t len, char sig[PRT_TOKEN_SIG_LEN + 1]);


/* ---- parse, verify, mint ----------------------------------------------- */

/* Checks the form of s[0..len) without any cryptography and fills t; the
 * status names the first rule broken. */
prt_token_status_t prt_token_parse(const char *s, size_t len,
    prt_token_t *t);

/*
 * The whole check: form, signature (constant-time compare), expiry against
 * now, and every scope bit of need (0: any scope). The signature is checked
 * before the expiry and the scopes, so those two answers are only ever
 * given about genuine tokens.
 */
prt_token_status_t prt_token_verify(const void *secret, size_t secret_len,
    const char *s, size_t len, int64_t now, unsigned need, prt_token_t *t);

/*
 * Writes a signed token into out (NUL-terminated). nonce is the text of the
 * nonce field (base64url). Returns the token's length, or -1 when an
 * argument is out of range, out is too small or OpenSSL fails.
 */
int prt_token_mint(const void *secret, size_t secret_len, unsigned scopes,
    int64_t expires, const char *nonce, size_t nonce_len, char *out,
    size_t size);


/* ---- the secret ---------------------------------------------------------- */

/*
 * The secret is a file's bytes without trailing CR/LF (editors and
 * `openssl rand -hex 32 > file` add a newline; the shell recipe in
 * docs/auth.md drops it the same way). Sets *used to the secret's length;
 * returns NULL, or what is wrong, for an operator message.
 */
const char *prt_token_secret_check(const unsigned char *buf, size_t len,
    size_t *used);

#endif
