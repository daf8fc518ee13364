/*
 * Blocking HTTP/1.1 client for the command-line tools (http_client.h).
 * The socket is non-blocking underneath so that every wait goes through
 * poll() with the configured timeout; the caller sees a blocking call.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "feed/http_client.h"

#define HTTP_HOST_MAX      255
#define HTTP_PREFIX_MAX    1024
#define HTTP_PATH_MAX      4096
#define HTTP_HEAD_MAX      (HTTP_PREFIX_MAX + HTTP_PATH_MAX + \
                            PRT_HTTP_MAX_TOKEN + 1024)
#define HTTP_CHUNK_LINE    1024     /* a chunk-size line, extensions too */
#define HTTP_FRAMING_SLACK (64u << 10)

/* Internal results of one attempt. */
#define HTTP_OK       0
#define HTTP_FAIL    -1
#define HTTP_STALE   -2             /* the kept-alive connection was dead */

struct prt_http_s {
    char              *base;            /* the URL as given */
    char               host[HTTP_HOST_MAX + 1];
    char               port[8];
    char               host_header[HTTP_HOST_MAX + 16];
    char               prefix[HTTP_PREFIX_MAX + 1];
    char               auth[PRT_HTTP_MAX_TOKEN + 32];  /* header line or "" */
    int                timeout_ms;
    size_t             max_response;

    int                fd;
    uint64_t           used;            /* requests answered on fd */
    int                recv_errno;      /* of the last failed receive */

    char              *buf;             /* response bytes */
    size_t             cap;
    size_t             len;
    char               head[HTTP_HEAD_MAX];

    prt_http_stats_t   stats;
    char               err[PRT_HTTP_ERR_SIZE];
};

/* What the response head says about the body. */
typedef struct {
    int        status;
    int        chunked;
    int        close;
    long long  content_length;          /* -1: not given */
    size_t     body_off;
} http_head_t;

__attribute__((format(printf, 2, 3)))
static void
fail(prt_http_t *h, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(h->err, sizeof(h->err), fmt, ap);
    va_end(ap);
}


/* ---- URL ----------------------------------------------------------------- */

static int
copy_part(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap) {
        return -1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

static int
valid_port(const char *s)
{
    char  *end;
    long   v;

    if (*s == '\0' || strlen(s) > 5 || !isdigit((unsigned char) *s)) {
        return 0;
    }
    v = strtol(s, &end, 10);
    return *end == '\0' && v >= 1 && v <= 65535;
}

/* The path prefix: printable, no query or fragment, no trailing slash. */
static int
set_prefix(prt_http_t *h, const char *p, char *err, size_t errlen)
{
    size_t  n = strlen(p);

    for (size_t i = 0; i < n; i++) {
        unsigned char  c = (unsigned char) p[i];

        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
            snprintf(err, errlen, "URL path may not hold '%c' or spaces",
                     c > 0x20 && c < 0x7f ? c : '?');
            return -1;
        }
    }
    while (n && p[n - 1] == '/') {
        n--;
    }
    if (copy_part(h->prefix, sizeof(h->prefix), p, n) != 0) {
        snprintf(err, errlen, "URL path longer than %d bytes",
                 HTTP_PREFIX_MAX);
        return -1;
    }
    return 0;
}

static int
parse_url(prt_http_t *h, const char *url, char *err, size_t errlen)
{
    static const char  scheme[] = "http://";
    const char        *p, *auth_end, *host_end, *port = NULL;

    if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(err, errlen, "URL must start with http:// (no TLS here)");
        return -1;
    }
    p = url + sizeof(scheme) - 1;
    auth_end = p + strcspn(p, "/?#");
    if (*auth_end == '?' || *auth_end == '#') {
        snprintf(err, errlen, "URL may not have a query or fragment");
        return -1;
    }
    if (memchr(p, '@', (size_t) (auth_end - p)) != NULL) {
        snprintf(err, errlen, "URL may not carry credentials (use --token)");
        return -1;
    }

    if (*p == '[') {                            /* [IPv6]:port */
        host_end = memchr(p, ']', (size_t) (auth_end - p));
        if (host_end == NULL) {
            snprintf(err, errlen, "URL has an unterminated [IPv6 address]");
            return -1;
        }
        if (copy_part(h->host, sizeof(h->host), p + 1,
                      (size_t) (host_end - p - 1)) != 0)
        {
            goto bad_host;
        }
        host_end++;
        if (host_end < auth_end && *host_end != ':') {
            goto bad_host;
        }
    } else {
        host_end = memchr(p, ':', (size_t) (auth_end - p));
        host_end = host_end ? host_end : auth_end;
        if (copy_part(h->host, sizeof(h->host), p,
                      (size_t) (host_end - p)) != 0)
        {
            goto bad_host;
        }
    }
    if (h->host[0] == '\0') {
        goto bad_host;
    }
    if (host_end < auth_end) {
        port = host_end + 1;
    }
    if (copy_part(h->port, sizeof(h->port), port ? port : "80",
                  port ? (size_t) (auth_end - port) : 2) != 0
        || !valid_port(h->port))
    {
        snprintf(err, errlen, "URL has a bad port");
        return -1;
    }
    if (copy_part(h->host_header, sizeof(h->host_header), p,
                  (size_t) (auth_end - p)) != 0)
    {
        goto bad_host;
    }
    return set_prefix(h, auth_end, err, errlen);

bad_host:
    snprintf(err, errlen, "URL has a bad or too long host");
    return -1;
}

/* Tokens are sent verbatim in a header: printable, no spaces. */
static int
set_bearer(prt_http_t *h, const char *token, char *err, size_t errlen)
{
    size_t  n = strlen(token);

    if (n == 0 || n > PRT_HTTP_MAX_TOKEN) {
        snprintf(err, errlen, "token empty or longer than %d bytes",
                 PRT_HTTP_MAX_TOKEN);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char) token[i] <= 0x20
            || (unsigned char) token[i] >= 0x7f)
        {
            snprintf(err, errlen, "token has spaces or unprintable bytes");
            return -1;
        }
    }
    snprintf(h->auth, sizeof(h->auth), "Authorization: Bearer %s\r\n", token);
    return 0;
}

prt_http_t *
prt_http_new(const char *url, const prt_http_options_t *opt, char *err,
    size_t errlen)
{
    prt_http_t  *h = calloc(1, sizeof(*h));

    if (h == NULL || (h->base = strdup(url)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(h);
        return NULL;
    }
    h->fd = -1;
    h->timeout_ms = opt && opt->timeout_ms > 0 ? opt->timeout_ms
                                               : PRT_HTTP_TIMEOUT_MS;
    h->max_response = opt && opt->max_response ? opt->max_response
                                               : PRT_HTTP_MAX_RESPONSE;
    if (parse_url(h, url, err, errlen) != 0
        || (opt && opt->bearer && set_bearer(h, opt->bearer, err, errlen)
            != 0))
    {
        prt_http_free(h);
        return NULL;
    }
    return h;
}

void
prt_http_free(prt_http_t *h)
{
    if (h) {
        prt_http_close(h);
        /* the token is a credential: do not leave it in freed memory */
        explicit_bzero(h->auth, sizeof(h->auth));
        explicit_bzero(h->head, sizeof(h->head));
        free(h->buf);
        free(h->base);
        free(h);
    }
}

void
prt_http_close(prt_http_t *h)
{
    if (h->fd >= 0) {
        close(h->fd);
        h->fd = -1;
    }
    h->used = 0;
}

const char *
prt_http_errmsg(const prt_http_t *h)
{
    return h->err;
}

const char *
prt_http_base(const prt_http_t *h)
{
    return h->base;
}

void
prt_http_stats(const prt_http_t *h, prt_http_stats_t *out)
{
    *out = h->stats;
}


/* ---- connection ---------------------------------------------------------- */

static int
wait_fd(prt_http_t *h, short events, const char *what)
{
    struct pollfd  pfd = { .fd = h->fd, .events = events };
    int            rc;

    do {
        rc = poll(&pfd, 1, h->timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        fail(h, "%s %s:%s: timed out after %d ms", what, h->host, h->port,
             h->timeout_ms);
        return -1;
    }
    if (rc < 0) {
        fail(h, "%s %s:%s: poll: %s", what, h->host, h->port,
             strerror(errno));
        return -1;
    }
    return 0;
}

static int
connect_one(prt_http_t *h, const struct addrinfo *ai)
{
    int        one = 1, soerr = 0;
    socklen_t  slen = sizeof(soerr);

    h->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK
                   | SOCK_CLOEXEC, ai->ai_protocol);
    if (h->fd < 0) {
        fail(h, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(h->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            fail(h, "connect %s:%s: %s", h->host, h->port, strerror(errno));
            goto failed;
        }
        if (wait_fd(h, POLLOUT, "connect") != 0) {
            goto failed;
        }
        if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0
            || soerr != 0)
        {
            fail(h, "connect %s:%s: %s", h->host, h->port,
                 strerror(soerr ? soerr : errno));
            goto failed;
        }
    }
    /* requests are written whole: Nagle would only add latency */
    (void) setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    h->stats.connects++;
    return 0;

failed:
    close(h->fd);
    h->fd = -1;
    return -1;
}

static int
connect_server(prt_http_t *h)
{
    struct addrinfo   hints, *res, *ai;
    int               rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(h->host, h->port, &hints, &res);
    if (rc != 0) {
        fail(h, "%s: %s", h->host, gai_strerror(rc));
        return -1;
    }
    rc = -1;
    for (ai = res; ai && rc != 0; ai = ai->ai_next) {
        rc = connect_one(h, ai);
    }
    freeaddrinfo(res);
    h->used = 0;
    return rc;
}


/* ---- sending ------------------------------------------------------------- */

static int
format_head(prt_http_t *h, const char *method, const char *path, size_t len,
    int with_body)
{
    int  n;

    if (strlen(path) > HTTP_PATH_MAX || path[0] != '/') {
        fail(h, "request path must start with / and be at most %d bytes",
             HTTP_PATH_MAX);
        return -1;
    }
    n = snprintf(h->head, sizeof(h->head),
                 "%s %s%s HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "User-Agent: pattern-rt-engine\r\n"
                 "Accept: application/json\r\n"
                 "%s",
                 method, h->prefix, path, h->host_header, h->auth);
    if (n > 0 && (size_t) n < sizeof(h->head)) {
        n += with_body
            ? snprintf(h->head + n, sizeof(h->head) - (size_t) n,
                       "Content-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n", len)
            : snprintf(h->head + n, sizeof(h->head) - (size_t) n, "\r\n");
    }
    if (n <= 0 || (size_t) n >= sizeof(h->head)) {
        fail(h, "request head too long");
        return -1;
    }
    return n;
}

static int
send_all(prt_http_t *h, struct iovec *iov, int niov)
{
    struct msghdr  msg;
    ssize_t        n;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t) niov;
    while (msg.msg_iovlen) {
        n = sendmsg(h->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (wait_fd(h, POLLOUT, "send to") != 0) {
                    return HTTP_FAIL;
                }
                continue;
            }
            fail(h, "send to %s:%s: %s", h->host, h->port, strerror(errno));
            return (errno == EPIPE || errno == ECONNRESET) && h->used
                   ? HTTP_STALE : HTTP_FAIL;
        }
        h->stats.bytes_sent += (uint64_t) n;
        while (msg.msg_iovlen && (size_t) n >= msg.msg_iov->iov_len) {
            n -= (ssize_t) msg.msg_iov->iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen) {
            msg.msg_iov->iov_base = (char *) msg.msg_iov->iov_base + n;
            msg.msg_iov->iov_len -= (size_t) n;
        }
    }
    return HTTP_OK;
}


/* ---- receiving ----------------------------------------------------------- */

/* Room for want more bytes (and a NUL), within the response limit. */
static int
reserve(prt_http_t *h, size_t want)
{
    size_t  limit = PRT_HTTP_MAX_HEADER + h->max_response
                    + HTTP_FRAMING_SLACK + 1;
    size_t  need = h->len + want + 1, cap = h->cap ? h->cap : 16384;
    char   *p;

    if (need <= h->cap) {
        return 0;
    }
    if (need > limit) {
        fail(h, "response from %s:%s larger than %zu bytes", h->host, h->port,
             h->max_response);
        return -1;
    }
    while (cap < need) {
        cap = cap > limit / 2 ? limit : cap * 2;
    }
    p = realloc(h->buf, cap);
    if (p == NULL) {
        fail(h, "out of memory for a %zu-byte response", cap);
        return -1;
    }
    h->buf = p;
    h->cap = cap;
    return 0;
}

/* Reads what is there (waiting up to the timeout): >0 bytes, 0 EOF, -1
 * (reason set). */
static ssize_t
recv_some(prt_http_t *h)
{
    ssize_t  n;

    h->recv_errno = 0;
    if (reserve(h, 16384) != 0) {
        return -1;
    }
    for ( ;; ) {
        n = recv(h->fd, h->buf + h->len, h->cap - h->len - 1, 0);
        if (n >= 0) {
            h->len += (size_t) n;
            h->stats.bytes_received += (uint64_t) n;
            return n;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            h->recv_errno = errno;
            fail(h, "receive from %s:%s: %s", h->host, h->port,
                 strerror(errno));
            return -1;
        }
        if (wait_fd(h, POLLIN, "response from") != 0) {
            return -1;
        }
    }
}

/* recv_some for a message that is not complete yet: 0 when bytes came,
 * -1 (reason set) on EOF too. */
static int
recv_more(prt_http_t *h, const char *inside)
{
    ssize_t  n = recv_some(h);

    if (n == 0) {
        fail(h, "%s:%s closed the connection inside %s", h->host, h->port,
             inside);
    }
    return n > 0 ? 0 : -1;
}

/* Does a comma-separated header value list the token (any case)? */
static int
has_token(const char *v, size_t n, const char *token)
{
    size_t  tl = strlen(token);

    for (size_t i = 0; i + tl <= n; i++) {
        if (strncasecmp(v + i, token, tl) == 0
            && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ')
            && (i + tl == n || v[i + tl] == ',' || v[i + tl] == ' '
                || v[i + tl] == '\t' || v[i + tl] == ';'))
        {
            return 1;
        }
    }
    return 0;
}

static int
parse_header_line(prt_http_t *h, const char *line, size_t n, http_head_t *hd)
{
    const char  *colon = memchr(line, ':', n), *v;
    size_t       name, vn;
    char         num[24];
    char        *end;

    if (colon == NULL || colon == line) {
        fail(h, "malformed header line in the response");
        return -1;
    }
    name = (size_t) (colon - line);
    v = colon + 1;
    vn = n - name - 1;
    while (vn && (*v == ' ' || *v == '\t')) {
        v++;
        vn--;
    }
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) {
        vn--;
    }
    if (name == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
        if (vn == 0 || vn >= sizeof(num)) {
            goto bad_length;
        }
        memcpy(num, v, vn);
        num[vn] = '\0';
        if (!isdigit((unsigned char) num[0])) {
            goto bad_length;
        }
        errno = 0;
        hd->content_length = strtoll(num, &end, 10);
        if (*end != '\0' || errno != 0) {
            goto bad_length;
        }
    } else if (name == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
        hd->chunked = has_token(v, vn, "chunked");
    } else if (name == 10 && strncasecmp(line, "Connection", 10) == 0) {
        if (has_token(v, vn, "close")) {
            hd->close = 1;
        } else if (has_token(v, vn, "keep-alive")) {
            hd->close = 0;
        }
    }
    return 0;

bad_length:
    fail(h, "response has a malformed Content-Length");
    return -1;
}

/* Status line and headers of buf[0, head_len) (head_len includes the empty
 * line). */
static int
parse_head(prt_http_t *h, size_t head_len, http_head_t *hd)
{
    const char  *p = h->buf, *end = h->buf + head_len - 2, *eol;
    int          minor;

    memset(hd, 0, sizeof(*hd));
    hd->content_length = -1;
    hd->body_off = head_len;
    if (head_len < 14 || memcmp(p, "HTTP/1.", 7) != 0
        || !isdigit((unsigned char) p[7]) || p[8] != ' '
        || !isdigit((unsigned char) p[9]) || !isdigit((unsigned char) p[10])
        || !isdigit((unsigned char) p[11])
        || (p[12] != ' ' && p[12] != '\r'))
    {
        fail(h, "malformed status line from %s:%s", h->host, h->port);
        return -1;
    }
    minor = p[7] - '0';
    hd->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    hd->close = minor == 0;               /* HTTP/1.0: close unless told */
    if (hd->status < 200 || hd->status > 599) {
        fail(h, "unexpected status %d from %s:%s", hd->status, h->host,
             h->port);
        return -1;
    }
    p = (const char *) memchr(p, '\n', (size_t) (end - p)) + 1;
    while (p < end) {
        eol = memchr(p, '\n', (size_t) (end + 2 - p));
        if (eol == NULL || eol == p || eol[-1] != '\r') {
            fail(h, "malformed header line in the response");
            return -1;
        }
        if (parse_header_line(h, p, (size_t) (eol - 1 - p), hd) != 0) {
            return -1;
        }
        p = eol + 1;
    }
    return 0;
}

/* Reads until the head is complete. HTTP_STALE: EOF before any byte on a
 * reused connection. */
static int
read_head(prt_http_t *h, http_head_t *hd)
{
    char     *end;
    size_t    from = 0;
    ssize_t   n;

    h->len = 0;
    for ( ;; ) {
        end = h->len >= 4 ? memmem(h->buf + from, h->len - from, "\r\n\r\n",
                                   4)
                          : NULL;
        if (end) {
            return parse_head(h, (size_t) (end + 4 - h->buf), hd);
        }
        if (h->len > PRT_HTTP_MAX_HEADER) {
            fail(h, "response head larger than %u bytes",
                 PRT_HTTP_MAX_HEADER);
            return HTTP_FAIL;
        }
        from = h->len > 3 ? h->len - 3 : 0;
        n = recv_some(h);
        if (n == 0) {
            fail(h, "%s:%s closed the connection %s", h->host, h->port,
                 h->len ? "inside the response head" : "without answering");
            return h->len == 0 && h->used ? HTTP_STALE : HTTP_FAIL;
        }
        if (n < 0) {
            return h->len == 0 && h->used && h->recv_errno == ECONNRESET
                   ? HTTP_STALE : HTTP_FAIL;
        }
    }
}

static int
read_until(prt_http_t *h, size_t total)
{
    if (total > h->len && reserve(h, total - h->len) != 0) {
        return -1;
    }
    while (h->len < total) {
        if (recv_more(h, "the response body") != 0) {
            return -1;
        }
    }
    return 0;
}

static int
read_to_eof(prt_http_t *h)
{
    ssize_t  n;

    while ((n = recv_some(h)) > 0) {
        /* reserve() bounds the total */
    }
    return n == 0 ? 0 : -1;
}

/* Parses the chunk-size line at off: >0 its length with *size set, 0 when
 * more bytes are needed, -1 malformed. */
static long
chunk_line(prt_http_t *h, size_t off, size_t *size)
{
    const char  *p = h->buf + off, *eol;
    size_t       avail = h->len - off, v = 0, i = 0;

    eol = memmem(p, avail, "\r\n", 2);
    if (eol == NULL) {
        if (avail > HTTP_CHUNK_LINE) {
            fail(h, "chunk-size line too long");
            return -1;
        }
        return 0;
    }
    for (; p + i < eol && isxdigit((unsigned char) p[i]); i++) {
        if (i >= 15) {
            fail(h, "chunk size too large");
            return -1;
        }
        v = v * 16 + (size_t) (isdigit((unsigned char) p[i])
                               ? p[i] - '0'
                               : (tolower((unsigned char) p[i]) - 'a' + 10));
    }
    if (i == 0 || (p + i < eol && p[i] != ';' && p[i] != ' '
                   && p[i] != '\t'))
    {
        fail(h, "malformed chunk-size line");
        return -1;
    }
    *size = v;
    return (long) (eol + 2 - p);
}

/* The end of the trailer section that starts at off: >0 its length, 0 more
 * bytes needed. */
static size_t
trailer_end(prt_http_t *h, size_t off)
{
    const char  *end;

    if (h->len - off >= 2 && memcmp(h->buf + off, "\r\n", 2) == 0) {
        return 2;
    }
    end = h->len - off >= 4 ? memmem(h->buf + off, h->len - off,
                                     "\r\n\r\n", 4)
                            : NULL;
    return end ? (size_t) (end + 4 - (h->buf + off)) : 0;
}

/*
 * Decodes a chunked body in place: each chunk's data moves down to the
 * end of the decoded body, and the bytes not parsed yet follow it, so the
 * buffer holds the body plus at most one read ahead.
 */
static int
read_chunked(prt_http_t *h, http_head_t *hd, size_t *body_len)
{
    size_t   dst = hd->body_off, size = 0, line, tl;
    long     rc;

    for ( ;; ) {
        rc = chunk_line(h, dst, &size);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            if (recv_more(h, "a chunked body") != 0) {
                return -1;
            }
            continue;
        }
        line = (size_t) rc;
        if (size == 0) {
            while ((tl = trailer_end(h, dst + line)) == 0) {
                if (h->len - dst > PRT_HTTP_MAX_HEADER) {
                    fail(h, "chunked trailer too large");
                    return -1;
                }
                if (recv_more(h, "a chunked body") != 0) {
                    return -1;
                }
            }
            if (dst + line + tl != h->len) {
                fail(h, "bytes after the response (pipelining is not "
                     "supported)");
                return -1;
            }
            *body_len = dst - hd->body_off;
            return 0;
        }
        if (dst - hd->body_off + size > h->max_response) {
            fail(h, "response from %s:%s larger than %zu bytes", h->host,
                 h->port, h->max_response);
            return -1;
        }
        if (read_until(h, dst + line + size + 2) != 0) {
            return -1;
        }
        if (memcmp(h->buf + dst + line + size, "\r\n", 2) != 0) {
            fail(h, "chunk data not followed by CRLF");
            return -1;
        }
        memmove(h->buf + dst, h->buf + dst + line, size);
        memmove(h->buf + dst + size, h->buf + dst + line + size + 2,
                h->len - (dst + line + size + 2));
        h->len -= line + 2;
        dst += size;
    }
}

static int
read_body(prt_http_t *h, http_head_t *hd, size_t *body_len)
{
    if (hd->status == 204 || hd->status == 304) {
        *body_len = 0;
        if (h->len != hd->body_off) {
            fail(h, "bytes after a response without a body");
            return -1;
        }
        return 0;
    }
    if (hd->chunked) {
        return read_chunked(h, hd, body_len);
    }
    if (hd->content_length >= 0) {
        if ((unsigned long long) hd->content_length > h->max_response) {
            fail(h, "response from %s:%s larger than %zu bytes", h->host,
                 h->port, h->max_response);
            return -1;
        }
        *body_len = (size_t) hd->content_length;
        if (read_until(h, hd->body_off + *body_len) != 0) {
            return -1;
        }
        if (h->len != hd->body_off + *body_len) {
            fail(h, "bytes after the response (pipelining is not "
                 "supported)");
            return -1;
        }
        return 0;
    }
    hd->close = 1;                     /* the body ends with the connection */
    if (read_to_eof(h) != 0) {
        return -1;
    }
    *body_len = h->len - hd->body_off;
    return 0;
}

static int
attempt(prt_http_t *h, struct iovec *iov, int niov, prt_http_response_t *res)
{
    http_head_t  hd;
    size_t       body_len = 0;
    int          rc;

    if (h->fd < 0 && connect_server(h) != 0) {
        return HTTP_FAIL;
    }
    rc = send_all(h, iov, niov);
    if (rc == HTTP_OK) {
        rc = read_head(h, &hd);
    }
    if (rc == HTTP_OK) {
        rc = read_body(h, &hd, &body_len) == 0 ? HTTP_OK : HTTP_FAIL;
    }
    if (rc != HTTP_OK) {
        prt_http_close(h);
        return rc;
    }

    /* the body moves to the front so that it can be NUL-terminated */
    memmove(h->buf, h->buf + hd.body_off, body_len);
    h->buf[body_len] = '\0';
    h->len = body_len;
    res->status = hd.status;
    res->body = h->buf;
    res->len = body_len;
    h->stats.requests++;
    h->used++;
    if (hd.close) {
        prt_http_close(h);
    }
    return HTTP_OK;
}

int
prt_http_request(prt_http_t *h, const char *method, const char *path,
    const char *body, size_t len, prt_http_response_t *res)
{
    struct iovec  iov[2];
    int           n, rc, with_body = body != NULL || strcmp(method, "POST")
                                                     == 0
                                     || strcmp(method, "PUT") == 0;

    h->err[0] = '\0';
    n = format_head(h, method, path, len, with_body);
    if (n < 0) {
        return -1;
    }
    for (int tries = 0; tries < 2; tries++) {
        iov[0].iov_base = h->head;
        iov[0].iov_len = (size_t) n;
        iov[1].iov_base = (void *) (body ? body : "");
        iov[1].iov_len = body ? len : 0;
        rc = attempt(h, iov, body && len ? 2 : 1, res);
        if (rc == HTTP_OK) {
            h->err[0] = '\0';
            return 0;
        }
        if (rc != HTTP_STALE) {
            return -1;
        }
        /* the server had closed the idle connection: nothing was read */
    }
    return -1;
}
