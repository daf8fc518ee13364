/*
 * `pattern-rt-engine token`: mints a token for the nginx module's
 * `pattern_rt_auth`, or checks one. The format and the verification are
 * include/pattern_rt_token.h (common/token.c), the same code the module
 * runs.
 *
 * The token goes to stdout alone, so that TOKEN=$(pattern-rt-engine token
 * ...) works. --check reads the token from stdin rather than argv: argv is
 * visible to every user in ps and lands in shell history.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/args.h"
#include "pattern_rt_nytime.h"
#include "pattern_rt_token.h"
#include "tools/token.h"

#define TOKEN_DEFAULT_TTL  3600

typedef struct {
    const char  *secret_file;
    const char  *scope;
    const char  *ttl;
    int          check;
} token_opts_t;

static int
token_usage(void)
{
    fprintf(stderr,
        "usage: pattern-rt-engine token --secret-file FILE "
        "--scope read[,feed,admin] [--ttl 1h]\n"
        "       pattern-rt-engine token --secret-file FILE --check "
        "[--scope S] < token\n"
        "  --secret-file  the file named by nginx's pattern_rt_auth_secret "
        "(default: $%s)\n"
        "  --scope        scopes the token grants (mint) or must grant "
        "(check)\n"
        "  --ttl          lifetime: N, Ns, Nm, Nh or Nd (default 1h, at most "
        "366d)\n"
        "  --check        verify the token on stdin; exit 0 when valid\n",
        PRT_TOKEN_SECRET_ENV);
    return 2;
}

int
prt_token_parse_ttl(const char *s, int64_t *seconds)
{
    char     *end;
    int64_t   unit;
    long long v;

    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s) {
        return -1;
    }
    switch (*end) {
    case '\0': unit = 1; break;
    case 's':  unit = 1; end++; break;
    case 'm':  unit = 60; end++; break;
    case 'h':  unit = 3600; end++; break;
    case 'd':  unit = 86400; end++; break;
    default:   return -1;
    }
    if (*end != '\0' || v <= 0 || v > PRT_TOKEN_TTL_MAX / unit) {
        return -1;
    }
    *seconds = (int64_t) v * unit;
    return 0;
}

int
prt_token_parse_scope_list(const char *s, unsigned *scopes)
{
    size_t    len;
    int       i;
    unsigned  bits;

    bits = 0;
    for ( ;; ) {
        len = strcspn(s, ",-");
        i = prt_token_scope_index(s, len);
        if (i < 0 || (bits & (1u << i))) {
            return -1;
        }
        bits |= 1u << i;
        if (s[len] == '\0') {
            break;
        }
        s += len + 1;
    }
    *scopes = bits;
    return 0;
}

/* Reads the whole (small) file; returns the byte count or -1 with errno. */
static ssize_t
read_small_file(int fd, unsigned char *buf, size_t size)
{
    size_t   got;
    ssize_t  n;

    got = 0;
    while (got < size) {
        n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t) n;
    }
    return (ssize_t) got;
}

int
prt_token_read_secret(const char *path, unsigned char *buf, size_t size,
    size_t *len)
{
    struct stat  st;
    const char  *bad;
    ssize_t      n;
    int          fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "token: cannot open secret file %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "token: secret file %s is not a regular file\n",
                path);
        close(fd);
        return -1;
    }
    if (st.st_size > PRT_TOKEN_SECRET_FILE_MAX
        || size < PRT_TOKEN_SECRET_FILE_MAX)
    {
        fprintf(stderr, "token: secret file %s is longer than %d bytes\n",
                path, PRT_TOKEN_SECRET_MAX);
        close(fd);
        return -1;
    }
    n = read_small_file(fd, buf, (size_t) st.st_size);
    if (n < 0) {
        fprintf(stderr, "token: cannot read secret file %s: %s\n", path,
                strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);

    bad = prt_token_secret_check(buf, (size_t) n, len);
    if (bad != NULL) {
        OPENSSL_cleanse(buf, (size_t) n);
        fprintf(stderr, "token: secret file %s %s\n", path, bad);
        return -1;
    }
    return 0;
}

static const prt_arg_t  token_args[] = {
    PRT_ARG_OF("secret-file", PRT_ARG_STR, token_opts_t, secret_file, 0, 0,
               NULL),
    PRT_ARG_OF("scope", PRT_ARG_STR, token_opts_t, scope, 0, 0, NULL),
    PRT_ARG_OF("ttl", PRT_ARG_STR, token_opts_t, ttl, 0, 0, NULL),
    PRT_ARG_OF("check", PRT_ARG_FLAG, token_opts_t, check, 0, 0, NULL),
};

/* 0, 1 for --help, -1 (said why) */
static int
parse_token_args(int argc, char **argv, token_opts_t *o)
{
    static const prt_args_t  spec = PRT_ARGS("token: ", token_args);
    int                      rc;

    memset(o, 0, sizeof(*o));
    rc = prt_args_parse(&spec, o, argc, argv, 1);
    if (rc != 0) {
        return rc;
    }
    if (o->secret_file == NULL) {
        o->secret_file = getenv(PRT_TOKEN_SECRET_ENV);
    }
    if (o->secret_file == NULL || *o->secret_file == '\0') {
        fprintf(stderr, "token: --secret-file is required\n");
        return -1;
    }
    if (!o->check && o->scope == NULL) {
        fprintf(stderr, "token: --scope is required\n");
        return -1;
    }
    if (o->check && o->ttl != NULL) {
        fprintf(stderr, "token: --ttl makes no sense with --check\n");
        return -1;
    }
    return 0;
}

static int
mint_token(const unsigned char *secret, size_t secret_len, unsigned scopes,
    int64_t ttl)
{
    unsigned char  raw[PRT_TOKEN_NONCE_BYTES];
    char           nonce[PRT_TOKEN_NONCE_MAX + 1];
    char           token[PRT_TOKEN_MAX_LEN + 1];
    size_t         nonce_len;
    int            n;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        fprintf(stderr, "token: no random bytes from OpenSSL\n");
        return 1;
    }
    nonce_len = prt_base64url_encode(raw, sizeof(raw), nonce, sizeof(nonce));
    n = prt_token_mint(secret, secret_len, scopes, (int64_t) time(NULL) + ttl,
                       nonce, nonce_len, token, sizeof(token));
    if (n < 0) {
        fprintf(stderr, "token: signing failed\n");
        return 1;
    }
    if (printf("%s\n", token) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "token: writing to stdout failed\n");
        return 1;
    }
    return 0;
}

/* The token on stdin: one line, surrounding blanks dropped. */
static int
read_token_stdin(char *buf, size_t size, size_t *len)
{
    size_t  n, start;

    n = fread(buf, 1, size, stdin);
    if (n == size) {
        fprintf(stderr, "token: the token on stdin is longer than %d "
                "bytes\n", PRT_TOKEN_MAX_LEN);
        return -1;
    }
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]) != NULL) {
        n--;
    }
    for (start = 0; start < n && strchr(" \t", buf[start]) != NULL; start++) {
        /* skip leading blanks */
    }
    memmove(buf, buf + start, n - start);
    *len = n - start;
    return 0;
}

static const char *
iso_seconds(int64_t unix_s, char *buf, size_t size)
{
    if (prt_format_utc_iso(unix_s * 1000, buf, size) < 0) {
        snprintf(buf, size, "%lld", (long long) unix_s);
    }
    return buf;
}

static int
check_token(const unsigned char *secret, size_t secret_len, unsigned need)
{
    char                token[PRT_TOKEN_MAX_LEN + 16];
    char                when[PRT_ISO_BUF_LEN], scopes[16];
    size_t              len;
    int64_t             now;
    prt_token_t         t;
    prt_token_status_t  st;

    if (read_token_stdin(token, sizeof(token), &len) != 0) {
        return 1;
    }
    now = (int64_t) time(NULL);
    st = prt_token_verify(secret, secret_len, token, len, now, need, &t);

    if (st != PRT_TOKEN_OK && st != PRT_TOKEN_E_EXPIRED
        && st != PRT_TOKEN_E_SCOPE)
    {
        printf("invalid: %s\n", prt_token_status_text(st));
        return 1;
    }
    /* genuine: its fields can be trusted and shown */
    prt_token_scopes_format(t.scopes, scopes, sizeof(scopes));
    printf("%s%s; id %.*s, scopes %s, expires %s (%+lld s)\n",
           st == PRT_TOKEN_OK ? "valid" : "invalid: ",
           st == PRT_TOKEN_OK ? "" : prt_token_status_text(st),
           (int) t.nonce_len, token + t.nonce_off, scopes,
           iso_seconds(t.expires, when, sizeof(when)),
           (long long) (t.expires - now));
    return st == PRT_TOKEN_OK ? 0 : 1;
}

int
prt_token_command(int argc, char **argv)
{
    token_opts_t   o;
    unsigned char  secret[PRT_TOKEN_SECRET_FILE_MAX];
    size_t         secret_len;
    unsigned       scopes;
    int64_t        ttl;
    int            rc;

    rc = parse_token_args(argc, argv, &o);
    if (rc != 0) {
        if (rc == 1) {
            token_usage();                    /* --help: not an error */
            return 0;
        }
        return token_usage();
    }
    scopes = 0;
    if (o.scope != NULL && prt_token_parse_scope_list(o.scope, &scopes) != 0)
    {
        fprintf(stderr, "token: bad --scope \"%s\": read, feed, admin "
                "joined by commas\n", o.scope);
        return token_usage();
    }
    ttl = TOKEN_DEFAULT_TTL;
    if (o.ttl != NULL && prt_token_parse_ttl(o.ttl, &ttl) != 0) {
        fprintf(stderr, "token: bad --ttl \"%s\": 1s to 366d, e.g. 90s, "
                "15m, 1h, 7d\n", o.ttl);
        return token_usage();
    }
    if (prt_token_read_secret(o.secret_file, secret, sizeof(secret),
                              &secret_len) != 0)
    {
        return 1;
    }

    rc = o.check ? check_token(secret, secret_len, scopes)
                 : mint_token(secret, secret_len, scopes, ttl);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}
