/*
 * The replay command's pieces that need no engine (tools/replay.h,
 * tools/http.h):
 *
 * - prt_format_number's PRT_NUM_EXACT (core/json.h), the replay's bar
 *   numbers: every text must read back (strtod, as yajl
 *   does) as exactly the double it was made from, and flat-file decimals
 *   must come out as their plain shortest form;
 * - what the replay needs of its HTTP client (libcurl underneath), against
 *   a scripted server in a child process: keep-alive (one connection for
 *   many requests), Connection: close, a kept-alive connection the server
 *   dropped while idle (sent again transparently), the request bytes
 *   themselves (prefix, Host, bearer token, body), timeouts, refused
 *   connections, answers over the size limit (announced or streamed) and
 *   not HTTP, and the URLs it refuses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#include "core/json.h"
#include "tools/http.h"
#include "tools/replay.h"

/* ---- numbers ------------------------------------------------------------- */

static uint64_t  rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
    /* splitmix64: reproducible, independent of libc's rand */
    uint64_t  z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void
test_known_numbers(void)
{
    static const struct { double v; const char *text; } cases[] = {
        { 189.57, "189.57" }, { 0.0001, "0.0001" }, { 1200, "1200" },
        { 0, "0" }, { 49.52, "49.52" }, { 0.2, "0.2" }, { 12.3456, "12.3456" },
        { 100.1, "100.1" }, { 4930, "4930" }, { 0.123456789, "0.123456789" },
        { 2.5e-5, "0.000025" }, { -3.75, "-3.75" }, { 123456789012.5,
                                                     "123456789012.5" },
    };
    char  buf[PRT_NUM_SIZE];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        prt_format_number(cases[i].v, PRT_NUM_EXACT, buf, sizeof(buf));
        is_str(buf, cases[i].text, "%.17g is written %s", cases[i].v,
               cases[i].text);
    }
}

/* Decimals of every shape a flat file has: m / 10^d, d <= 6. */
static void
test_decimals_round_trip(void)
{
    char    buf[PRT_NUM_SIZE], want[64];
    size_t  bad = 0, plain = 0, n = 200000;

    for (size_t i = 0; i < n; i++) {
        int       d = (int) (rng() % 7);
        uint64_t  m = rng() % 100000000000ULL;
        double    v;

        snprintf(want, sizeof(want), "%llu.%0*llu",
                 (unsigned long long) (m / 1000000),
                 6, (unsigned long long) (m % 1000000));
        want[strlen(want) - (size_t) (6 - d)] = '\0';
        v = strtod(want, NULL);
        prt_format_number(v, PRT_NUM_EXACT, buf, sizeof(buf));
        if (strtod(buf, NULL) != v) {
            if (bad++ < 5) {
                printf("# %s -> %s reads back as %.17g\n", want, buf,
                       strtod(buf, NULL));
            }
        }
        plain += strchr(buf, 'e') == NULL && strlen(buf) <= strlen(want);
    }
    is_int(bad, 0, "%zu flat-file decimals read back exactly", n);
    is_int(plain, n, "and none is longer than its decimal text");
}

/* Any finite double: the %.17g fallback must be exact too. */
static void
test_any_double_round_trip(void)
{
    char      buf[PRT_NUM_SIZE];
    size_t    bad = 0, n = 200000;
    uint64_t  bits;
    double    v;

    for (size_t i = 0; i < n; i++) {
        bits = rng();
        memcpy(&v, &bits, sizeof(v));
        if (!isfinite(v)) {
            continue;
        }
        prt_format_number(v, PRT_NUM_EXACT, buf, sizeof(buf));
        if (strtod(buf, NULL) != v || strlen(buf) >= sizeof(buf)) {
            if (bad++ < 5) {
                printf("# %a -> %s\n", v, buf);
            }
        }
    }
    is_int(bad, 0, "random bit patterns read back exactly");
}

/* ---- a scripted HTTP server ---------------------------------------------- */

/*
 * The child answers by the request path:
 *   /len          200, Content-Length, keep-alive
 *   /echo         200, the request head and body as the body
 *   /chunked      201, chunked with an extension and a trailer, written
 *                 3 bytes at a time
 *   /close        200 with Connection: close, then closes
 *   /then-drop    200 keep-alive, then closes the connection silently
 *   /eof          HTTP/1.0 200 without a length: the body ends at close
 *   /big          200 with Content-Length 10 MB (only the head is sent)
 *   /big-stream   200 without a length, 2 MiB of body until the close
 *   /garbage      not HTTP
 *   /silent       no answer at all
 *   /chunk-bad    a chunk without its CRLF
 */
static int
read_request(int fd, char *buf, size_t cap, size_t *len)
{
    char     *end;
    size_t    n = 0, body = 0;
    ssize_t   r;
    char     *cl;

    for ( ;; ) {
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            cl = strstr(buf, "Content-Length: ");
            body = cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
            if (n >= (size_t) (end + 4 - buf) + body) {
                *len = n;
                return 0;
            }
        }
        if (n + 1 >= cap) {
            return -1;
        }
        r = read(fd, buf + n, cap - n - 1);
        if (r <= 0) {
            return -1;
        }
        n += (size_t) r;
    }
}

static void
write_all(int fd, const char *p, size_t n)
{
    ssize_t  w;

    while (n) {
        w = write(fd, p, n);
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t) w;
    }
}

static void
send_text(int fd, const char *p)
{
    write_all(fd, p, strlen(p));
}

static void
write_slowly(int fd, const char *p)
{
    struct timespec  ts = { 0, 200000 };
    size_t           n = strlen(p), k;

    for (size_t i = 0; i < n; i += k) {
        k = n - i < 3 ? n - i : 3;
        write_all(fd, p + i, k);
        nanosleep(&ts, NULL);
    }
}

/* 1: keep the connection, 0: close it. */
static int
answer(int fd, const char *req, size_t len)
{
    char  head[256];

    if (strncmp(req, "GET /len ", 9) == 0 || strncmp(req, "POST /len ", 10)
        == 0)
    {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                  "Content-Type: application/json\r\n\r\nhello");
        return 1;
    }
    if (strstr(req, " /pre/fix/echo ") != NULL
        || strncmp(req, "POST /echo ", 11) == 0)
    {
        snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
                 "Content-Length: %zu\r\n\r\n", len);
        write_all(fd, head, strlen(head));
        write_all(fd, req, len);
        return 1;
    }
    if (strncmp(req, "GET /chunked ", 13) == 0) {
        write_slowly(fd, "HTTP/1.1 201 Created\r\ntransfer-encoding: "
                     "chunked\r\n\r\n5\r\nhello\r\n6;name=x\r\n world\r\n"
                     "0\r\nX-Trailer: 1\r\n\r\n");
        return 1;
    }
    if (strncmp(req, "GET /close ", 11) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                  "Content-Length: 2\r\n\r\nok");
        return 0;
    }
    if (strncmp(req, "GET /then-drop ", 15) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nkept");
        return 0;
    }
    if (strncmp(req, "GET /eof ", 9) == 0) {
        send_text(fd, "HTTP/1.0 200 OK\r\n\r\nuntil the end");
        return 0;
    }
    if (strncmp(req, "GET /big ", 9) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n");
        return 0;
    }
    if (strncmp(req, "GET /big-stream ", 16) == 0) {
        static char  kib[1024];

        memset(kib, 'x', sizeof(kib));
        send_text(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        for (int i = 0; i < 2048; i++) {
            write_all(fd, kib, sizeof(kib));
        }
        return 0;
    }
    if (strncmp(req, "GET /garbage ", 13) == 0) {
        send_text(fd, "SSH-2.0-OpenSSH\r\n\r\n");
        return 0;
    }
    if (strncmp(req, "GET /chunk-bad ", 15) == 0) {
        send_text(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabcXX0\r\n\r\n");
        return 0;
    }
    if (strncmp(req, "GET /silent ", 12) == 0) {
        sleep(2);
        return 0;
    }
    send_text(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return 1;
}

static void
serve(int lfd)
{
    char    buf[65536];
    size_t  len;
    int     fd;

    for ( ;; ) {
        fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            _exit(0);
        }
        while (read_request(fd, buf, sizeof(buf), &len) == 0
               && answer(fd, buf, len)) {
        }
        close(fd);
    }
}

static pid_t
start_server(int *port)
{
    struct sockaddr_in  a;
    socklen_t           alen = sizeof(a);
    int                 lfd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t               pid;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &a, sizeof(a)) != 0
        || listen(lfd, 16) != 0
        || getsockname(lfd, (struct sockaddr *) &a, &alen) != 0)
    {
        return -1;
    }
    *port = ntohs(a.sin_port);
    pid = fork();
    if (pid == 0) {
        serve(lfd);
    }
    close(lfd);
    return pid;
}

/* ---- client tests -------------------------------------------------------- */

static prt_http_t *
client(int port, const char *prefix, int timeout_ms, size_t max_response,
    const char *token)
{
    prt_http_options_t  o = { timeout_ms, max_response, token, NULL };
    char                url[128], err[PRT_HTTP_ERR_SIZE];
    prt_http_t         *h;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, prefix);
    h = prt_http_new(url, &o, err, sizeof(err));
    if (h == NULL) {
        printf("# %s: %s\n", url, err);
    }
    return h;
}

static void
test_keep_alive(int port)
{
    prt_http_t           *h = client(port, "", 2000, 0, NULL);
    prt_http_response_t   res;
    prt_http_stats_t      st;
    int                   rc = 0;

    for (int i = 0; i < 5 && h; i++) {
        rc |= prt_http_request(h, "GET", "/len", NULL, 0, &res);
        rc |= res.status != 200 || res.len != 5 || strcmp(res.body, "hello");
    }
    ok(h && rc == 0, "5 Content-Length answers");
    if (h) {
        prt_http_stats(h, &st);
        is_int(st.connects, 1, "on one kept-alive connection");
        is_int(st.requests, 5, "5 requests counted");
    }
    prt_http_free(h);
}

static void
test_request_bytes(int port)
{
    prt_http_t           *h = client(port, "/pre/fix/", 2000, 0, "tok.en-1_x");
    prt_http_response_t   res;
    const char           *body = "[{\"ev\":\"AM\"}]";

    if (h == NULL || prt_http_request(h, "POST", "/echo", body, strlen(body),
                                      &res) != 0)
    {
        ok(0, "echo request: %s", h ? prt_http_errmsg(h) : "no client");
        prt_http_free(h);
        return;
    }
    ok(strncmp(res.body, "POST /pre/fix/echo HTTP/1.1\r\n", 29) == 0,
       "the prefix comes before the path, no double slash");
    ok(strstr(res.body, "\r\nHost: 127.0.0.1:") != NULL, "Host with the port");
    ok(strstr(res.body, "\r\nAuthorization: Bearer tok.en-1_x\r\n") != NULL,
       "the bearer token");
    ok(strstr(res.body, "\r\nContent-Type: application/json\r\n") != NULL,
       "a JSON body");
    ok(strstr(res.body, "\r\nContent-Length: 13\r\n\r\n[{\"ev\":\"AM\"}]")
       != NULL, "its length and bytes");
    is_int(res.len, strlen(res.body), "the body is NUL-terminated");
    prt_http_free(h);
}

static void
test_chunked(int port)
{
    prt_http_t           *h = client(port, "", 2000, 0, NULL);
    prt_http_response_t   res;
    prt_http_stats_t      st;
    int                   rc = -1;

    for (int i = 0; i < 3 && h; i++) {
        rc = prt_http_request(h, "GET", "/chunked", NULL, 0, &res);
        if (rc != 0 || res.status != 201 || strcmp(res.body, "hello world"))
        {
            rc = -1;
            break;
        }
    }
    ok(rc == 0, "chunked body with an extension and a trailer, 3 bytes at "
       "a time (%s)", h ? prt_http_errmsg(h) : "");
    if (h) {
        prt_http_stats(h, &st);
        is_int(st.connects, 1, "chunked answers keep the connection");
        is_int(res.len, 11, "decoded length");
    }
    prt_http_free(h);
}

static void
test_reconnects(int port)
{
    prt_http_t           *h = client(port, "", 2000, 0, NULL);
    prt_http_response_t   res;
    prt_http_stats_t      st;
    struct timespec       ts = { 0, 50000000 };

    if (h == NULL) {
        ok(0, "client");
        return;
    }
    ok(prt_http_request(h, "GET", "/close", NULL, 0, &res) == 0
       && strcmp(res.body, "ok") == 0, "Connection: close answer");
    ok(prt_http_request(h, "GET", "/len", NULL, 0, &res) == 0
       && res.status == 200, "the next request opens a new connection");
    ok(prt_http_request(h, "GET", "/then-drop", NULL, 0, &res) == 0
       && strcmp(res.body, "kept") == 0, "an answer, then a silent close");
    nanosleep(&ts, NULL);            /* the server's close arrives */
    ok(prt_http_request(h, "POST", "/len", "[]", 2, &res) == 0
       && res.status == 200, "a dead kept-alive connection is replaced: %s",
       prt_http_errmsg(h));
    prt_http_stats(h, &st);
    is_int(st.connects, 3, "three connections in all");
    ok(prt_http_request(h, "GET", "/eof", NULL, 0, &res) == 0
       && strcmp(res.body, "until the end") == 0,
       "HTTP/1.0 without a length: the body ends at the close");
    ok(prt_http_request(h, "GET", "/nope", NULL, 0, &res) == 0
       && res.status == 404 && res.len == 0, "a 404 is an answer");
    prt_http_free(h);
}

static void
test_failures(int port)
{
    prt_http_t           *h = client(port, "", 300, 1 << 20, NULL);
    prt_http_response_t   res;
    char                  err[PRT_HTTP_ERR_SIZE];
    static const char    *bad_urls[] = {
        "http://127.0.0.1:99999", "http://[::1", "http://user@host/",
        "http://host/p?q=1", "http://host/#f", "ftp://host", "http://",
        "http://host/a b", "127.0.0.1:8080",
    };

    if (h == NULL) {
        ok(0, "client");
        return;
    }
    ok(prt_http_request(h, "GET", "/big", NULL, 0, &res) == -1
       && strstr(prt_http_errmsg(h), "larger than 1048576 bytes") != NULL,
       "a body announced over the limit: %s", prt_http_errmsg(h));
    ok(prt_http_request(h, "GET", "/big-stream", NULL, 0, &res) == -1
       && strstr(prt_http_errmsg(h), "larger than 1048576 bytes") != NULL,
       "a body streamed past the limit: %s", prt_http_errmsg(h));
    ok(prt_http_request(h, "GET", "/garbage", NULL, 0, &res) == -1
       && prt_http_errmsg(h)[0] != '\0',
       "not HTTP: %s", prt_http_errmsg(h));
    ok(prt_http_request(h, "GET", "/chunk-bad", NULL, 0, &res) == -1
       && prt_http_errmsg(h)[0] != '\0',
       "a broken chunk: %s", prt_http_errmsg(h));
    ok(prt_http_request(h, "GET", "/len", NULL, 0, &res) == 0
       && res.status == 200 && strcmp(res.body, "hello") == 0,
       "a good answer after the failures: %s", prt_http_errmsg(h));
    ok(prt_http_request(h, "GET", "/silent", NULL, 0, &res) == -1
       && strstr(prt_http_errmsg(h), "timed out") != NULL,
       "no answer: %s", prt_http_errmsg(h));
    ok(prt_http_request(h, "GET", "no-slash", NULL, 0, &res) == -1,
       "a path must start with /");
    prt_http_free(h);

    h = client(1, "", 300, 0, NULL);
    ok(h && prt_http_request(h, "GET", "/", NULL, 0, &res) == -1
       && strstr(prt_http_errmsg(h), "refused") != NULL,
       "nobody listening: %s", h ? prt_http_errmsg(h) : "");
    prt_http_free(h);

    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        h = prt_http_new(bad_urls[i], NULL, err, sizeof(err));
        ok(h == NULL && err[0], "bad URL %s: %s", bad_urls[i], err);
        prt_http_free(h);
    }
    h = prt_http_new("http://localhost/x", &(prt_http_options_t) {
                         0, 0, "bad token", NULL }, err, sizeof(err));
    ok(h == NULL, "a token with a space is refused: %s", err);
    h = prt_http_new("http://[::1]:8080/patterns/", NULL, err, sizeof(err));
    ok(h != NULL, "an IPv6 URL with a prefix");
    prt_http_free(h);
    h = prt_http_new("https://pattern-rt.invalid/patterns", NULL, err,
                     sizeof(err));
    ok(h != NULL, "an https URL (TLS through libcurl)");
    prt_http_free(h);
}

int
main(void)
{
    pid_t  server;
    int    port = 0, status;

    signal(SIGPIPE, SIG_IGN);
    test_known_numbers();
    test_decimals_round_trip();
    test_any_double_round_trip();

    server = start_server(&port);
    ok(server > 0, "scripted server on port %d", port);
    if (server > 0) {
        test_keep_alive(port);
        test_request_bytes(port);
        test_chunked(port);
        test_reconnects(port);
        test_failures(port);
        kill(server, SIGTERM);
        waitpid(server, &status, 0);
    }
    return done_testing();
}
