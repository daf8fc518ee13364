/*
 * WebSocket fan-out load client (docs/benchmarks.md "WebSocket fan-out"):
 * opens N WebSocket subscribers on one server, publishes events itself over
 * HTTP and records when every subscriber received every event.
 *
 *   1. connect N clients, at most --concurrency handshakes at a time; send
 *      the --subscribe text (if given) and wait for its "subscribed" answer;
 *   2. idle for --settle ms and read the proportional set size (Pss) of the
 *      server processes (--pids) again: the growth over the value before
 *      the first connection, divided by N, is the memory per idle
 *      connection;
 *   3. warm-up: event 0 must reach every client (it proves that every
 *      subscription is live on the fan-out path; it is not counted);
 *   4. latency: --events events one at a time, each published --gap ms
 *      after the previous one reached every client; the CPU time of the
 *      server processes and of this program over the phase, divided by
 *      the deliveries, is the CPU per delivery;
 *   5. burst: --burst events POSTed at once, each on its own connection
 *      (up to 256), for deliveries per second.
 *
 * Publishing (--publish):
 *   bars   POST a one-bar Polygon AM batch for --symbol (start --bar-start)
 *          to Pattern Real-Time: the engine moves the open prediction of the
 *          subscribed job and publishes one price_update event. The bar's
 *          close is --base-price + k/1000; it comes back as current_price
 *          and identifies event k.
 *   nchan  POST a JSON message of the same shape (type, job_id, seq,
 *          timestamp, price_update{... current_price ...}) to an nchan
 *          publisher location.
 *
 * Times (CLOCK_REALTIME, the clock of the events' "timestamp"): every event
 * carries "timestamp", the wall clock in whole ms at publish (the engine's,
 * when it renders the event; this program's, just before the POST, for
 * nchan), so latencies measured from it have a 0..1 ms truncation bias.
 * The delivery time of a frame is the kernel's receive timestamp of the
 * read that completed it (SO_TIMESTAMPNS, ns): on loopback that is when the
 * server wrote it, so this client's own scheduling is not counted. When
 * this program read it and when its POST was written are kept too.
 *
 * Build: cc -std=gnu11 -O2 -D_GNU_SOURCE bench/ws_load.c -lcrypto -lm
 * (bench/ws_fanout.sh builds it and prints the exact command).
 * The last line printed is "RESULT key=value ..." for the driver.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define IN_CAP        8192      /* per client: the largest frame we accept */
#define OUT_CAP       512       /* per client: handshake, subscribe, pongs */
#define PUB_CAP       16384     /* the publisher's request and response */
#define MAX_PIDS      16
#define MAX_EVENTS    20001
#define MAX_ATTEMPTS  5         /* connection attempts per client */
#define EPOLL_BATCH   1024
#define PUB_TAG       (1ULL << 32)  /* epoll tag of publisher j: PUB_TAG | j */
#define MAX_PUBS      256       /* concurrent POSTs in the burst */
#define WARMUP_TRIES  5
#define WS_GUID       "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum {
    C_IDLE, C_CONNECTING, C_UPGRADING, C_SUBSCRIBING, C_READY, C_CLOSED,
    C_FAILED
};

typedef enum { PUB_BARS, PUB_NCHAN } pub_kind_t;

typedef struct {
    const char  *host;
    int          port;
    const char  *path;
    const char  *subscribe;
    pub_kind_t   kind;
    const char  *pub_path;
    const char  *symbol;
    int64_t      bar_start_ms;
    double       base_price;
    const char  *job_id;
    const char  *label;
    pid_t        pids[MAX_PIDS];
    int          npids;
    uint32_t     clients;
    uint32_t     events;
    uint32_t     burst;
    uint32_t     gap_ms;
    uint32_t     settle_ms;
    uint32_t     timeout_ms;
    uint32_t     concurrency;
} opts_t;

typedef struct {
    int        fd;
    uint8_t    state;
    uint8_t    attempts;
    uint16_t   out_len;
    uint32_t   in_len;
    char       accept[32];     /* the Sec-WebSocket-Accept we expect */
    uint8_t   *in;
    uint8_t    out[OUT_CAP];
} client_t;

typedef struct {
    int        fd;
    int        busy;           /* a POST waits for its answer */
    size_t     len;
    char       buf[PUB_CAP];
} publisher_t;

typedef struct {
    opts_t        o;
    int           ep;
    struct sockaddr_in  addr;
    client_t     *c;
    uint32_t      next;        /* next client to connect */
    uint32_t      in_flight;   /* connecting, upgrading or subscribing */
    uint32_t      ready;
    uint32_t      failed;
    uint32_t      lost;        /* ready clients closed afterwards */
    uint32_t      nevents;     /* 1 + events + burst */
    int64_t      *kern;        /* [event * clients + client], ns, 0: none */
    int64_t      *user;
    int64_t      *ts_ms;       /* per event, its "timestamp" */
    int64_t      *sent_ns;     /* per event, when its POST was written */
    uint32_t     *got;         /* per event, clients that received it */
    uint64_t      unknown;     /* text frames that are no known event */
    uint64_t      dups;
    uint64_t      ts_mismatch;
    uint64_t      pings;
    uint64_t      no_kernel_ts;
    uint64_t      event_bytes;
    uint64_t      event_frames;
    uint64_t      rng;
    int           first_error_shown;
    char          sample[1024];  /* the first event received, as text */
    uint32_t      npubs;
    uint32_t      busy_pubs;     /* POSTs waiting for their answer */
    publisher_t  *pub;
} bench_t;

typedef struct {
    double  p50, p99, max;
} pct_t;

/* What main measures besides the deliveries. */
typedef struct {
    double  connect_s;             /* N clients connected and subscribed */
    long    pss0, pss1;            /* kB: before any client, all idle */
    long    each0[MAX_PIDS], each1[MAX_PIDS];
    double  srv_user, srv_sys;     /* server CPU s in the latency phase */
    double  cli_cpu;               /* this program's CPU s, same phase */
    double  rate, pub_rate;        /* burst */
} figures_t;


/* ---- small helpers ------------------------------------------------------ */

static int64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what)
{
    fprintf(stderr, "ws_load: %s\n", what);
    exit(1);
}

static uint64_t
next_random(bench_t *b)
{
    /* xorshift64: keys and masks need variety, not secrecy */
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return b->rng;
}

static int
cmp_double(const void *x, const void *y)
{
    double  a = *(const double *) x, b = *(const double *) y;

    return (a > b) - (a < b);
}

/* Nearest-rank percentiles of v[0..n) (sorted in place). */
static pct_t
percentiles(double *v, size_t n)
{
    pct_t  p = { NAN, NAN, NAN };

    if (n == 0) {
        return p;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    p.p50 = v[(size_t) ceil(0.50 * (double) n) - 1];
    p.p99 = v[(size_t) ceil(0.99 * (double) n) - 1];
    p.max = v[n - 1];
    return p;
}

/* "YYYY-MM-DDTHH:MM:SS[.mmm]Z" -> ms since the epoch, -1 if malformed. */
static int64_t
parse_iso_ms(const char *s, size_t len)
{
    char       buf[40];
    struct tm  tm;
    int        ms = 0, n = 0;

    if (len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(&tm, 0, sizeof(tm));
    if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
    {
        return -1;
    }
    if (buf[n] == '.') {
        if (sscanf(buf + n, ".%3d", &ms) != 1) {
            return -1;
        }
        n += 4;
    }
    if (buf[n] != 'Z') {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t) timegm(&tm) * 1000 + ms;
}

static void
format_iso_ms(int64_t ms, char *buf, size_t len)
{
    time_t     secs = (time_t) (ms / 1000);
    struct tm  tm;
    size_t     n;

    gmtime_r(&secs, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int) (ms % 1000));
}

/* Sum of Pss (kB) of the given processes; -1 if one cannot be read. */
static long
pss_kb(const opts_t *o, long *each)
{
    char   path[64], line[256];
    long   total = 0, v;
    FILE  *f;

    for (int i = 0; i < o->npids; i++) {
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) o->pids[i]);
        if ((f = fopen(path, "r")) == NULL) {
            return -1;
        }
        v = -1;
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "Pss: %ld kB", &v) == 1) {
                break;
            }
        }
        fclose(f);
        if (v < 0) {
            return -1;
        }
        each[i] = v;
        total += v;
    }
    return total;
}

/* CPU time (user and system, seconds) of the given processes so far;
 * -1 if one cannot be read. */
static int
cpu_of(const opts_t *o, double *user, double *sys)
{
    char                path[64], buf[1024], *p;
    unsigned long long  ut, st;
    double              tick = (double) sysconf(_SC_CLK_TCK);
    FILE               *f;
    size_t              n;

    *user = *sys = 0;
    for (int i = 0; i < o->npids; i++) {
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) o->pids[i]);
        if ((f = fopen(path, "r")) == NULL) {
            return -1;
        }
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* after the command name: state is field 3, utime 14, stime 15 */
        if ((p = strrchr(buf, ')')) == NULL
            || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                      "%llu %llu", &ut, &st) != 2)
        {
            return -1;
        }
        *user += (double) ut / tick;
        *sys += (double) st / tick;
    }
    return 0;
}

/* base64(SHA-1(key + GUID)), RFC 6455 section 4.2.2. */
static int
ws_accept_for(const char *key, char *out, size_t len)
{
    char           buf[128];
    unsigned char  md[EVP_MAX_MD_SIZE];
    unsigned int   mdlen = 0;
    int            n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);

    if (n < 0 || (size_t) n >= sizeof(buf) || len < 29
        || EVP_Digest(buf, (size_t) n, md, &mdlen, EVP_sha1(), NULL) != 1)
    {
        return -1;
    }
    return EVP_EncodeBlock((unsigned char *) out, md, (int) mdlen) == 28
           ? 0 : -1;
}


/* ---- options ------------------------------------------------------------ */

static void
usage(void)
{
    fprintf(stderr,
        "usage: ws_load --port P --path /ws... --publish bars|nchan\n"
        "         --publish-path PATH [--host 127.0.0.1] [--subscribe TEXT]\n"
        "         [--symbol SYM --bar-start MS --base-price X] [--job-id ID]\n"
        "         [--clients 10000] [--events 20] [--burst 50] [--gap 200]\n"
        "         [--settle 2000] [--timeout 10000] [--concurrency 200]\n"
        "         [--pids PID,PID...] [--label NAME]\n");
    exit(2);
}

static uint32_t
opt_uint(const char *s, uint32_t lo, uint32_t hi)
{
    char           *end;
    unsigned long   v = strtoul(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "ws_load: %s is not a number in %u..%u\n", s, lo, hi);
        exit(2);
    }
    return (uint32_t) v;
}

static void
opt_pids(opts_t *o, const char *s)
{
    char  *copy = strdup(s), *tok, *save = NULL;

    if (copy == NULL) {
        die("out of memory");
    }
    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
    {
        if (o->npids == MAX_PIDS) {
            die("too many --pids");
        }
        o->pids[o->npids++] = (pid_t) opt_uint(tok, 1, INT32_MAX);
    }
    free(copy);
}

static void
parse_opts(opts_t *o, int argc, char **argv)
{
    static const struct option  longs[] = {
        { "host", 1, NULL, 'H' }, { "port", 1, NULL, 'p' },
        { "path", 1, NULL, 'P' }, { "subscribe", 1, NULL, 's' },
        { "publish", 1, NULL, 'k' }, { "publish-path", 1, NULL, 'u' },
        { "symbol", 1, NULL, 'y' }, { "bar-start", 1, NULL, 'b' },
        { "base-price", 1, NULL, 'x' }, { "job-id", 1, NULL, 'j' },
        { "label", 1, NULL, 'l' }, { "pids", 1, NULL, 'i' },
        { "clients", 1, NULL, 'n' }, { "events", 1, NULL, 'e' },
        { "burst", 1, NULL, 'B' }, { "gap", 1, NULL, 'g' },
        { "settle", 1, NULL, 'S' }, { "timeout", 1, NULL, 't' },
        { "concurrency", 1, NULL, 'c' }, { NULL, 0, NULL, 0 }
    };
    const char  *kind = NULL;
    int          ch;

    *o = (opts_t) { .host = "127.0.0.1", .label = "server", .clients = 10000,
                    .events = 20, .burst = 50, .gap_ms = 200,
                    .settle_ms = 2000, .timeout_ms = 10000,
                    .concurrency = 200, .job_id = "-", .base_price = 100 };

    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'H': o->host = optarg; break;
        case 'p': o->port = (int) opt_uint(optarg, 1, 65535); break;
        case 'P': o->path = optarg; break;
        case 's': o->subscribe = optarg; break;
        case 'k': kind = optarg; break;
        case 'u': o->pub_path = optarg; break;
        case 'y': o->symbol = optarg; break;
        case 'b': o->bar_start_ms = strtoll(optarg, NULL, 10); break;
        case 'x': o->base_price = strtod(optarg, NULL); break;
        case 'j': o->job_id = optarg; break;
        case 'l': o->label = optarg; break;
        case 'i': opt_pids(o, optarg); break;
        case 'n': o->clients = opt_uint(optarg, 1, 1000000); break;
        case 'e': o->events = opt_uint(optarg, 1, 10000); break;
        case 'B': o->burst = opt_uint(optarg, 0, 10000); break;
        case 'g': o->gap_ms = opt_uint(optarg, 0, 60000); break;
        case 'S': o->settle_ms = opt_uint(optarg, 0, 600000); break;
        case 't': o->timeout_ms = opt_uint(optarg, 100, 600000); break;
        case 'c': o->concurrency = opt_uint(optarg, 1, 100000); break;
        default: usage();
        }
    }
    if (o->port == 0 || o->path == NULL || o->pub_path == NULL
        || kind == NULL || optind != argc)
    {
        usage();
    }
    if (strcmp(kind, "bars") == 0) {
        o->kind = PUB_BARS;
        if (o->symbol == NULL || o->bar_start_ms <= 0) {
            die("--publish bars needs --symbol and --bar-start");
        }
    } else if (strcmp(kind, "nchan") == 0) {
        o->kind = PUB_NCHAN;
    } else {
        usage();
    }
    if (!(o->base_price > 1 && o->base_price < 1e9)) {
        die("--base-price must be above 1");
    }
    /* whole thousandths: base + k/1000 prints exactly with %.3f */
    o->base_price = round(o->base_price * 1000.0) / 1000.0;
}


/* ---- client output ------------------------------------------------------ */

static void client_close(bench_t *b, uint32_t i, const char *why);

/* Writes what is queued; the rest waits for EPOLLOUT. */
static int
client_flush(client_t *c)
{
    ssize_t  n;

    while (c->out_len) {
        n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n < 0) {
            return errno == EAGAIN ? 0 : -1;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t) n);
        c->out_len -= (uint16_t) n;
    }
    return 0;
}

/* Queues a masked frame (clients must mask, RFC 6455 5.3). */
static int
ws_queue_frame(bench_t *b, client_t *c, int opcode, const void *data,
    size_t len)
{
    uint8_t   *p = c->out + c->out_len;
    uint32_t   mask = (uint32_t) next_random(b);
    uint8_t    m[4];
    size_t     hdr = len < 126 ? 6 : 8;

    if (len > 0xffff || c->out_len + hdr + len > OUT_CAP) {
        return -1;
    }
    memcpy(m, &mask, 4);
    *p++ = (uint8_t) (0x80 | opcode);
    if (len < 126) {
        *p++ = (uint8_t) (0x80 | len);
    } else {
        *p++ = 0x80 | 126;
        *p++ = (uint8_t) (len >> 8);
        *p++ = (uint8_t) len;
    }
    memcpy(p, m, 4);
    p += 4;
    for (size_t k = 0; k < len; k++) {
        p[k] = ((const uint8_t *) data)[k] ^ m[k & 3];
    }
    c->out_len += (uint16_t) (hdr + len);
    return client_flush(c);
}

static int
client_send_upgrade(bench_t *b, client_t *c)
{
    unsigned char  raw[16];
    char           key[32];
    uint64_t       r1 = next_random(b), r2 = next_random(b);
    int            n;

    memcpy(raw, &r1, 8);
    memcpy(raw + 8, &r2, 8);
    if (EVP_EncodeBlock((unsigned char *) key, raw, 16) != 24
        || ws_accept_for(key, c->accept, sizeof(c->accept)) != 0)
    {
        return -1;
    }
    n = snprintf((char *) c->out, OUT_CAP,
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 b->o.path, b->o.host, b->o.port, key);
    if (n < 0 || n >= OUT_CAP) {
        return -1;
    }
    c->out_len = (uint16_t) n;
    c->state = C_UPGRADING;
    return client_flush(c);
}


/* ---- connection life cycle ---------------------------------------------- */

static int
client_start(bench_t *b, uint32_t i)
{
    client_t            *c = &b->c[i];
    int                  one = 1;
    struct epoll_event   ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP
                                          | EPOLLET,
                                .data.u64 = i };

    c->attempts++;
    c->in_len = 0;
    c->out_len = 0;
    if (c->in == NULL && (c->in = malloc(IN_CAP)) == NULL) {
        die("out of memory");
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        perror("ws_load: socket");
        return -1;
    }
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one))
        != 0)
    {
        b->no_kernel_ts++;
    }
    if (connect(c->fd, (struct sockaddr *) &b->addr, sizeof(b->addr)) != 0
        && errno != EINPROGRESS)
    {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        die("epoll_ctl failed");
    }
    c->state = C_CONNECTING;
    b->in_flight++;
    return 0;
}

/* Starts connections up to the concurrency limit. */
static void
connect_more(bench_t *b)
{
    while (b->next < b->o.clients && b->in_flight < b->o.concurrency) {
        if (client_start(b, b->next) != 0) {
            b->c[b->next].state = C_FAILED;
            b->failed++;
        }
        b->next++;
    }
}

static void
client_close(bench_t *b, uint32_t i, const char *why)
{
    client_t  *c = &b->c[i];
    uint8_t    was = c->state;

    if (c->fd >= 0) {
        close(c->fd);               /* also leaves the epoll set */
        c->fd = -1;
    }
    if (was == C_READY) {
        c->state = C_CLOSED;
        b->lost++;
        if (!b->first_error_shown++) {
            fprintf(stderr, "ws_load: client %u closed: %s\n", i, why);
        }
        return;
    }
    if (was == C_CONNECTING || was == C_UPGRADING || was == C_SUBSCRIBING) {
        b->in_flight--;
        /* refused or reset while the server's backlog was full: retry */
        if (c->attempts < MAX_ATTEMPTS && client_start(b, i) == 0) {
            return;
        }
        c->state = C_FAILED;
        b->failed++;
        if (!b->first_error_shown++) {
            fprintf(stderr, "ws_load: client %u failed: %s\n", i, why);
        }
    }
}

static void
client_ready(bench_t *b, client_t *c)
{
    c->state = C_READY;
    b->in_flight--;
    b->ready++;
}

/* The 101 answer: status, Sec-WebSocket-Accept; the rest stays in `in`. */
static int
client_upgraded(bench_t *b, client_t *c)
{
    uint8_t  *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    char     *hdr, *v;
    size_t    hlen;

    if (end == NULL) {
        return c->in_len < IN_CAP ? 0 : -1;
    }
    hlen = (size_t) (end - c->in) + 4;
    hdr = strndup((const char *) c->in, hlen);
    if (hdr == NULL) {
        die("out of memory");
    }
    v = strcasestr(hdr, "\r\nSec-WebSocket-Accept:");
    if (strncmp(hdr, "HTTP/1.1 101", 12) != 0 || v == NULL) {
        if (!b->first_error_shown++) {
            fprintf(stderr, "ws_load: upgrade refused:\n%s\n", hdr);
        }
        free(hdr);
        return -1;
    }
    v += strlen("\r\nSec-WebSocket-Accept:");
    v += strspn(v, " \t");
    if (strncmp(v, c->accept, 28) != 0) {
        free(hdr);
        return -1;
    }
    free(hdr);
    memmove(c->in, c->in + hlen, c->in_len - hlen);
    c->in_len -= (uint32_t) hlen;

    if (b->o.subscribe == NULL) {
        client_ready(b, c);
        return 0;
    }
    c->state = C_SUBSCRIBING;
    return ws_queue_frame(b, c, 0x1, b->o.subscribe, strlen(b->o.subscribe));
}


/* ---- incoming messages -------------------------------------------------- */

static const char *
find_key(const char *s, size_t len, const char *key)
{
    const char  *p = memmem(s, len, key, strlen(key));

    return p ? p + strlen(key) : NULL;
}

/* An event: which one (current_price), its timestamp, when it came. */
static void
on_event(bench_t *b, uint32_t i, const char *s, size_t len, int64_t kts,
    int64_t uts)
{
    const char  *ts = find_key(s, len, "\"timestamp\":\"");
    const char  *pr = find_key(s, len, "\"current_price\":");
    const char  *q;
    int64_t      ms;
    long long    k;
    size_t       slot;

    if (ts == NULL || pr == NULL
        || (q = memchr(ts, '"', len - (size_t) (ts - s))) == NULL
        || (ms = parse_iso_ms(ts, (size_t) (q - ts))) < 0)
    {
        b->unknown++;
        return;
    }
    k = llround((strtod(pr, NULL) - b->o.base_price) * 1000.0);
    if (k < 0 || k >= b->nevents) {
        b->unknown++;
        return;
    }
    slot = (size_t) k * b->o.clients + i;
    if (b->kern[slot]) {
        b->dups++;
        return;
    }
    if (b->ts_ms[k] == 0) {
        b->ts_ms[k] = ms;
    } else if (b->ts_ms[k] != ms) {
        b->ts_mismatch++;
    }
    b->kern[slot] = kts ? kts : uts;
    b->user[slot] = uts;
    b->got[k]++;
    if (b->sample[0] == '\0') {
        snprintf(b->sample, sizeof(b->sample), "%.*s", (int) len, s);
    }
    b->event_bytes += len;
    b->event_frames++;
}

static int
on_text(bench_t *b, uint32_t i, const char *s, size_t len, int64_t kts)
{
    client_t  *c = &b->c[i];

    if (c->state == C_SUBSCRIBING) {
        if (memmem(s, len, "\"type\":\"subscribed\"", 19)) {
            client_ready(b, c);
            return 0;
        }
        if (!b->first_error_shown++) {
            fprintf(stderr, "ws_load: subscribe answered: %.*s\n",
                    (int) len, s);
        }
        return -1;
    }
    on_event(b, i, s, len, kts, now_ns());
    return 0;
}

/* Parses the complete frames in `in`; returns -1 to drop the connection. */
static int
client_frames(bench_t *b, uint32_t i, int64_t kts)
{
    client_t  *c = &b->c[i];
    uint8_t   *p = c->in;
    size_t     left = c->in_len, hdr, len;
    int        op;

    while (left >= 2) {
        op = p[0] & 0x0f;
        if ((p[0] & 0x80) == 0 || (p[1] & 0x80)) {
            return -1;          /* fragmented or masked: not from these */
        }
        len = p[1] & 0x7f;
        hdr = 2;
        if (len == 126) {
            if (left < 4) {
                break;
            }
            len = (size_t) p[2] << 8 | p[3];
            hdr = 4;
        } else if (len == 127) {
            return -1;          /* nothing here is 64 KiB or more */
        }
        if (hdr + len > IN_CAP) {
            return -1;
        }
        if (left < hdr + len) {
            break;
        }
        if (op == 0x1 && on_text(b, i, (const char *) p + hdr, len, kts)) {
            return -1;
        }
        if (op == 0x8) {
            return -1;
        }
        if (op == 0x9) {
            b->pings++;
            if (ws_queue_frame(b, c, 0xA, p + hdr, len) != 0) {
                return -1;
            }
        }
        p += hdr + len;
        left -= hdr + len;
    }
    memmove(c->in, p, left);
    c->in_len = (uint32_t) left;
    return 0;
}

/* Reads until EAGAIN, keeping the kernel's receive time of each read. */
static int
client_read(bench_t *b, uint32_t i)
{
    client_t          *c = &b->c[i];
    char               ctl[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec       iov;
    struct msghdr      mh;
    struct cmsghdr    *cm;
    struct timespec    ts;
    ssize_t            n;
    int64_t            kts;

    for ( ;; ) {
        iov.iov_base = c->in + c->in_len;
        iov.iov_len = IN_CAP - c->in_len;
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof(ctl);
        n = recvmsg(c->fd, &mh, 0);
        if (n == 0) {
            return -1;
        }
        if (n < 0) {
            return errno == EAGAIN ? 0 : -1;
        }
        kts = 0;
        for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET
                && cm->cmsg_type == SCM_TIMESTAMPNS)
            {
                memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
                kts = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
            }
        }
        if (kts == 0) {
            b->no_kernel_ts++;
        }
        c->in_len += (uint32_t) n;
        if (c->state == C_UPGRADING && client_upgraded(b, c) != 0) {
            return -1;
        }
        if (c->state != C_UPGRADING && client_frames(b, i, kts) != 0) {
            return -1;
        }
        if (c->in_len == IN_CAP) {
            return -1;
        }
    }
}

static void
client_event(bench_t *b, uint32_t i, uint32_t events)
{
    client_t   *c = &b->c[i];
    int         err = 0;
    socklen_t   len = sizeof(err);

    if (c->fd < 0) {
        return;
    }
    if (c->state == C_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0
            || err != 0 || client_send_upgrade(b, c) != 0)
        {
            client_close(b, i, err ? strerror(err) : "connect failed");
            return;
        }
    }
    if ((events & EPOLLOUT) && client_flush(c) != 0) {
        client_close(b, i, "write failed");
        return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        && client_read(b, i) != 0)
    {
        client_close(b, i, "closed by the server or protocol error");
    }
}


/* ---- publishers ------------------------------------------------------- */

/* Publisher j's connection (kept alive between its POSTs). */
static int
publisher_connect(bench_t *b, uint32_t j)
{
    publisher_t         *p = &b->pub[j];
    struct epoll_event   ev = { .events = EPOLLIN | EPOLLRDHUP,
                                .data.u64 = PUB_TAG | j };
    int                  one = 1;

    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->fd < 0
        || connect(p->fd, (struct sockaddr *) &b->addr, sizeof(b->addr)) != 0
        || setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))
        || epoll_ctl(b->ep, EPOLL_CTL_ADD, p->fd, &ev) != 0)
    {
        perror("ws_load: publisher connect");
        return -1;
    }
    p->len = 0;
    return 0;
}

static void
publisher_drop(bench_t *b, uint32_t j)
{
    if (b->pub[j].fd >= 0) {
        close(b->pub[j].fd);
        b->pub[j].fd = -1;
    }
}

/* The body that publishes event k. */
static int
event_body(bench_t *b, uint32_t k, int64_t at_ns, char *buf, size_t len)
{
    const opts_t  *o = &b->o;
    double         price = o->base_price + k / 1000.0;
    char           ts[40];

    if (o->kind == PUB_BARS) {
        return snprintf(buf, len,
            "[{\"ev\":\"AM\",\"sym\":\"%s\",\"v\":1000,\"o\":%.3f,"
            "\"h\":%.3f,\"l\":%.3f,\"c\":%.3f,\"s\":%lld,\"e\":%lld}]",
            o->symbol, price, price, price, price,
            (long long) o->bar_start_ms, (long long) o->bar_start_ms + 60000);
    }
    /* the engine's shape and sizes: seq is wall ms << 10 there, returns
     * are printed in full */
    format_iso_ms(at_ns / 1000000, ts, sizeof(ts));
    return snprintf(buf, len,
        "{\"type\":\"price_update\",\"job_id\":\"%s\",\"seq\":%lld,"
        "\"timestamp\":\"%s\",\"price_update\":{\"prediction_id\":1,"
        "\"symbol\":\"%s\",\"current_price\":%.3f,"
        "\"unrealized_return\":%.17g,\"unrealized_pnl\":%.17g,"
        "\"is_currently_correct\":true,\"minutes_remaining\":9,"
        "\"timestamp\":\"%s\"}}",
        o->job_id, (long long) ((at_ns / 1000000) << 10) + k, ts,
        o->symbol ? o->symbol : "BENCH", price,
        100.0 * (price / o->base_price - 1.0),
        100.0 * (price / o->base_price - 1.0), ts);
}

/* Writes the POST of event k on publisher j (idle); the answer is read by
 * the event loop. */
static int
publish(bench_t *b, uint32_t j, uint32_t k)
{
    publisher_t  *p = &b->pub[j];
    char          body[1024];
    int64_t       at;
    int           blen, n;
    size_t        off = 0;

    if (p->fd < 0 && publisher_connect(b, j) != 0) {
        return -1;
    }
    at = now_ns();
    blen = event_body(b, k, at, body, sizeof(body));
    if (blen < 0 || (size_t) blen >= sizeof(body)) {
        return -1;
    }
    n = snprintf(p->buf, PUB_CAP,
                 "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                 "Content-Type: application/json\r\nContent-Length: %d\r\n"
                 "\r\n%s", b->o.pub_path, b->o.host, b->o.port, blen, body);
    if (n < 0 || n >= PUB_CAP) {
        return -1;
    }
    b->sent_ns[k] = at;
    while (off < (size_t) n) {
        ssize_t  w = send(p->fd, p->buf + off, (size_t) n - off,
                          MSG_NOSIGNAL);

        if (w < 0) {
            perror("ws_load: publish");
            publisher_drop(b, j);
            return -1;
        }
        off += (size_t) w;
    }
    p->len = 0;
    p->busy = 1;
    b->busy_pubs++;
    return 0;
}

/* 1: the answer is complete, 0: more to come, -1: malformed. */
static int
answer_complete(const char *buf, size_t len, int *status)
{
    const char  *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
    size_t       hlen;

    if (end == NULL) {
        return len < PUB_CAP - 1 ? 0 : -1;
    }
    if (sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
        return -1;
    }
    hlen = (size_t) (end - buf) + 4;
    cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl && cl < end) {
        return len >= hlen + strtoul(cl + 17, NULL, 10) ? 1 : 0;
    }
    return memmem(buf + hlen, len - hlen, "0\r\n\r\n", 5) ? 1 : 0;
}

static void
publisher_event(bench_t *b, uint32_t j)
{
    publisher_t  *p = &b->pub[j];
    ssize_t       n;
    int           status = 0, rc;

    if (p->fd < 0) {
        return;
    }
    n = recv(p->fd, p->buf + p->len, PUB_CAP - 1 - p->len, MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN) {
        return;
    }
    if (n <= 0) {
        publisher_drop(b, j);
        if (p->busy) {
            die("a publish request got no answer");
        }
        return;
    }
    p->len += (size_t) n;
    p->buf[p->len] = '\0';
    rc = answer_complete(p->buf, p->len, &status);
    if (rc == 0) {
        return;
    }
    /* a batch whose bar was rejected publishes nothing: say why */
    if (rc < 0 || status < 200 || status > 299
        || (b->o.kind == PUB_BARS && !strstr(p->buf, "\"accepted\":1")))
    {
        fprintf(stderr, "ws_load: publish failed:\n%s\n", p->buf);
        exit(1);
    }
    p->busy = 0;
    p->len = 0;
    b->busy_pubs--;
    if (strcasestr(p->buf, "\r\nConnection: close")) {
        publisher_drop(b, j);
    }
}


/* ---- the event loop ----------------------------------------------------- */

static void
pump(bench_t *b, int timeout_ms)
{
    struct epoll_event  evs[EPOLL_BATCH];
    int                 n = epoll_wait(b->ep, evs, EPOLL_BATCH, timeout_ms);

    if (n < 0 && errno != EINTR) {
        die("epoll_wait failed");
    }
    for (int k = 0; k < n; k++) {
        if (evs[k].data.u64 & PUB_TAG) {
            publisher_event(b, (uint32_t) (evs[k].data.u64 & ~PUB_TAG));
        } else {
            client_event(b, (uint32_t) evs[k].data.u64, evs[k].events);
        }
    }
}

static int
ms_left(int64_t deadline_ns)
{
    int64_t  left = deadline_ns - now_ns();

    return left <= 0 ? 0 : (int) ((left + 999999) / 1000000);
}

static uint32_t
alive(const bench_t *b)
{
    return b->ready - b->lost;
}

/* Runs the loop for ms milliseconds. */
static void
pump_for(bench_t *b, uint32_t ms)
{
    int64_t  until = now_ns() + (int64_t) ms * 1000000;

    while (ms_left(until) > 0) {
        pump(b, ms_left(until));
    }
}

/* Runs the loop until event k reached every live client (1) or the
 * deadline (0). */
static int
wait_delivered(bench_t *b, uint32_t k, int64_t deadline)
{
    while (b->got[k] < alive(b) || b->busy_pubs) {
        if (ms_left(deadline) == 0) {
            return b->got[k] >= alive(b);
        }
        pump(b, ms_left(deadline));
    }
    return 1;
}

static void
wait_publisher(bench_t *b)
{
    int64_t  deadline = now_ns() + (int64_t) b->o.timeout_ms * 1000000;

    while (b->busy_pubs) {
        if (ms_left(deadline) == 0) {
            die("the publish request got no answer in time");
        }
        pump(b, ms_left(deadline));
    }
}


/* ---- phases ------------------------------------------------------------- */

static double
connect_all(bench_t *b)
{
    int64_t  t0 = now_ns();
    int64_t  deadline = t0 + 120 * (int64_t) 1000000000;

    while (b->ready + b->failed < b->o.clients && ms_left(deadline) > 0) {
        connect_more(b);
        pump(b, 100);
    }
    if (b->ready < b->o.clients) {
        fprintf(stderr, "ws_load: only %u of %u clients subscribed "
                "(%u failed)\n", b->ready, b->o.clients, b->failed);
        exit(1);
    }
    return (double) (now_ns() - t0) / 1e9;
}

static void
warm_up(bench_t *b)
{
    for (int t = 0; t < WARMUP_TRIES; t++) {
        wait_publisher(b);
        if (publish(b, 0, 0) != 0) {
            die("publishing the warm-up event failed");
        }
        if (wait_delivered(b, 0, now_ns() + 3 * (int64_t) 1000000000)) {
            return;
        }
    }
    fprintf(stderr, "ws_load: the warm-up event reached %u of %u clients\n",
            b->got[0], alive(b));
    exit(1);
}

static double
self_cpu(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
           + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* One event at a time; the CPU the servers and this program spend on it
 * is read around the whole phase. */
static void
latency_phase(bench_t *b, figures_t *fg)
{
    double  u0, s0, c0 = self_cpu();
    int     cpu_ok = cpu_of(&b->o, &u0, &s0) == 0;

    for (uint32_t k = 1; k <= b->o.events; k++) {
        wait_publisher(b);
        if (publish(b, 0, k) != 0) {
            die("publishing failed");
        }
        (void) wait_delivered(b, k, now_ns()
                              + (int64_t) b->o.timeout_ms * 1000000);
        pump_for(b, b->o.gap_ms);
    }
    fg->cli_cpu = self_cpu() - c0;
    if (cpu_ok && cpu_of(&b->o, &fg->srv_user, &fg->srv_sys) == 0) {
        fg->srv_user -= u0;
        fg->srv_sys -= s0;
    } else {
        fg->srv_user = fg->srv_sys = NAN;
    }
}


/* Throughput: the burst's events are POSTed at once, each on its own
 * connection (connected beforehand), so the servers get them as fast as
 * they take them; deliveries per second = all burst deliveries over the
 * time from the first POST written to the last arrival. */
static void
burst_phase(bench_t *b, figures_t *fg)
{
    uint32_t  first = 1 + b->o.events, last = b->nevents - 1, j;
    int64_t   end = 0, answered;
    uint64_t  delivered = 0;

    fg->rate = fg->pub_rate = NAN;
    if (b->o.burst == 0) {
        return;
    }
    wait_publisher(b);
    for (j = 0; j < b->npubs; j++) {
        if (b->pub[j].fd < 0 && publisher_connect(b, j) != 0) {
            die("connecting the publishers failed");
        }
    }
    for (uint32_t k = first; k <= last; k++) {
        j = (k - first) % b->npubs;
        while (b->pub[j].busy) {            /* more events than publishers */
            pump(b, 100);
        }
        if (publish(b, j, k) != 0) {
            die("publishing failed");
        }
    }
    wait_publisher(b);
    answered = now_ns();
    for (uint32_t k = first; k <= last; k++) {
        (void) wait_delivered(b, k, answered
                              + (int64_t) b->o.timeout_ms * 1000000);
    }
    for (size_t s = (size_t) first * b->o.clients;
         s < (size_t) b->nevents * b->o.clients; s++)
    {
        if (b->kern[s]) {
            delivered++;
            end = b->kern[s] > end ? b->kern[s] : end;
        }
    }
    fg->rate = (double) delivered
               / ((double) (end - b->sent_ns[first]) / 1e9);
    fg->pub_rate = (double) b->o.burst
                   / ((double) (answered - b->sent_ns[first]) / 1e9);
}


/* ---- report ------------------------------------------------------------- */

typedef struct {
    pct_t     ts;          /* from the event's timestamp, all pairs */
    pct_t     post;        /* from the POST written */
    pct_t     read;        /* this client's read, from the timestamp */
    pct_t     ev_p99;      /* per-event p99 (p50/max over events) */
    pct_t     ev_all;      /* per-event all-delivered time */
    uint64_t  missing;
} latency_t;

static void
latency_stats(bench_t *b, latency_t *l)
{
    size_t    n = b->o.clients, cap = (size_t) b->o.events * n, m = 0;
    size_t    nev = 0;
    double   *ts = malloc(cap * sizeof(double));
    double   *post = malloc(cap * sizeof(double));
    double   *rd = malloc(cap * sizeof(double));
    double   *one = malloc(n * sizeof(double));
    double   *p99 = malloc(b->o.events * sizeof(double));
    double   *all = malloc(b->o.events * sizeof(double));
    pct_t     e;

    if (!ts || !post || !rd || !one || !p99 || !all) {
        die("out of memory");
    }
    l->missing = 0;
    for (uint32_t k = 1; k <= b->o.events; k++) {
        size_t  got = 0;
        double  t0 = (double) b->ts_ms[k] * 1e6;

        for (size_t i = 0; i < n; i++) {
            size_t  s = (size_t) k * n + i;

            if (b->kern[s] == 0) {
                l->missing++;
                continue;
            }
            ts[m] = ((double) b->kern[s] - t0) / 1e6;
            post[m] = (double) (b->kern[s] - b->sent_ns[k]) / 1e6;
            rd[m] = ((double) b->user[s] - t0) / 1e6;
            one[got++] = ts[m++];
        }
        if (got) {                  /* an event nobody got is missing */
            e = percentiles(one, got);
            p99[nev] = e.p99;
            all[nev++] = e.max;
        }
    }
    l->ts = percentiles(ts, m);
    l->post = percentiles(post, m);
    l->read = percentiles(rd, m);
    l->ev_p99 = percentiles(p99, nev);
    l->ev_all = percentiles(all, nev);
    free(ts);
    free(post);
    free(rd);
    free(one);
    free(p99);
    free(all);
}

static void
report(bench_t *b, const figures_t *fg)
{
    latency_t  l;
    double     mem = fg->pss0 >= 0 && fg->pss1 >= 0
                     ? (double) (fg->pss1 - fg->pss0) / b->o.clients : NAN;
    double     bytes = b->event_frames
                       ? (double) b->event_bytes / (double) b->event_frames
                       : 0;
    double     n, srv_us, sys_pct, cli_us;

    latency_stats(b, &l);
    n = (double) b->o.events * b->o.clients - (double) l.missing;
    srv_us = (fg->srv_user + fg->srv_sys) * 1e6 / n;
    sys_pct = 100.0 * fg->srv_sys / (fg->srv_user + fg->srv_sys);
    cli_us = fg->cli_cpu * 1e6 / n;

    printf("%s: %u subscribers connected and subscribed in %.2f s\n",
           b->o.label, b->ready, fg->connect_s);
    for (int i = 0; i < b->o.npids; i++) {
        printf("  pid %d: Pss %ld -> %ld kB\n", (int) b->o.pids[i],
               fg->each0[i], fg->each1[i]);
    }
    printf("  memory per idle connection: %.1f KiB (Pss growth / %u)\n",
           mem, b->o.clients);
    printf("  event payload: %.0f bytes, e.g. %s\n", bytes, b->sample);
    printf("  latency, %u events x %u subscribers (ms, from the event's "
           "timestamp): p50 %.2f p99 %.2f max %.2f\n", b->o.events,
           b->o.clients, l.ts.p50, l.ts.p99, l.ts.max);
    printf("    per event: p99 median %.2f worst %.2f; all delivered "
           "median %.2f worst %.2f\n", l.ev_p99.p50, l.ev_p99.max,
           l.ev_all.p50, l.ev_all.max);
    printf("    from the POST written: p50 %.2f p99 %.2f max %.2f\n",
           l.post.p50, l.post.p99, l.post.max);
    printf("    read by this client: p50 %.2f p99 %.2f max %.2f\n",
           l.read.p50, l.read.p99, l.read.max);
    printf("    CPU per delivery: servers %.1f us (%.0f%% in the kernel), "
           "this client %.1f us\n", srv_us, sys_pct, cli_us);
    printf("  burst of %u events POSTed at once: %.0f deliveries/s "
           "(POSTs answered at %.0f/s)\n",
           b->o.burst, fg->rate, fg->pub_rate);
    printf("  missing %llu, duplicates %llu, unknown frames %llu, "
           "timestamps differing between clients %llu, closed %u, pings "
           "answered %llu, reads without kernel time %llu\n",
           (unsigned long long) l.missing, (unsigned long long) b->dups,
           (unsigned long long) b->unknown,
           (unsigned long long) b->ts_mismatch, b->lost,
           (unsigned long long) b->pings,
           (unsigned long long) b->no_kernel_ts);

    printf("RESULT label=%s clients=%u events=%u burst=%u bytes=%.0f "
           "p50=%.3f p99=%.3f max=%.3f ev_p99_med=%.3f ev_p99_max=%.3f "
           "all_med=%.3f all_max=%.3f post_p50=%.3f post_p99=%.3f "
           "read_p99=%.3f rate=%.0f pub_rate=%.0f mem_kib=%.2f "
           "connect_s=%.2f cpu_us=%.2f sys_pct=%.0f client_us=%.2f "
           "missing=%llu dups=%llu closed=%u kernel_ts=%d\n",
           b->o.label, b->o.clients, b->o.events, b->o.burst, bytes,
           l.ts.p50, l.ts.p99, l.ts.max, l.ev_p99.p50, l.ev_p99.max,
           l.ev_all.p50, l.ev_all.max, l.post.p50, l.post.p99, l.read.p99,
           fg->rate, fg->pub_rate, mem, fg->connect_s, srv_us, sys_pct,
           cli_us, (unsigned long long) l.missing,
           (unsigned long long) b->dups, b->lost, b->no_kernel_ts == 0);
}


/* ---- main --------------------------------------------------------------- */

static void
bench_init(bench_t *b, int argc, char **argv)
{
    struct rlimit  rl;
    size_t         slots;

    memset(b, 0, sizeof(*b));
    parse_opts(&b->o, argc, argv);
    b->nevents = 1 + b->o.events + b->o.burst;
    if (b->nevents > MAX_EVENTS) {
        die("too many events");
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0
        && rl.rlim_cur < (rlim_t) b->o.clients + 16)
    {
        fprintf(stderr, "ws_load: the open files limit (%llu) is below "
                "%u clients: raise it (ulimit -n)\n",
                (unsigned long long) rl.rlim_cur, b->o.clients);
        exit(2);
    }
    b->addr.sin_family = AF_INET;
    b->addr.sin_port = htons((uint16_t) b->o.port);
    if (inet_pton(AF_INET, b->o.host, &b->addr.sin_addr) != 1) {
        die("--host must be an IPv4 address");
    }
    slots = (size_t) b->nevents * b->o.clients;
    b->c = calloc(b->o.clients, sizeof(client_t));
    b->kern = calloc(slots, sizeof(int64_t));
    b->user = calloc(slots, sizeof(int64_t));
    b->ts_ms = calloc(b->nevents, sizeof(int64_t));
    b->sent_ns = calloc(b->nevents, sizeof(int64_t));
    b->got = calloc(b->nevents, sizeof(uint32_t));
    b->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!b->c || !b->kern || !b->user || !b->ts_ms || !b->sent_ns
        || !b->got || b->ep < 0)
    {
        die("out of memory");
    }
    for (uint32_t i = 0; i < b->o.clients; i++) {
        b->c[i].fd = -1;
    }
    b->npubs = b->o.burst < MAX_PUBS ? b->o.burst : MAX_PUBS;
    b->npubs = b->npubs ? b->npubs : 1;
    b->pub = calloc(b->npubs, sizeof(publisher_t));
    if (b->pub == NULL) {
        die("out of memory");
    }
    for (uint32_t j = 0; j < b->npubs; j++) {
        b->pub[j].fd = -1;
    }
    b->rng = (uint64_t) now_ns() | 1;
}

int
main(int argc, char **argv)
{
    static bench_t  b;
    figures_t       fg = { 0 };

    bench_init(&b, argc, argv);

    fg.pss0 = pss_kb(&b.o, fg.each0);
    fg.connect_s = connect_all(&b);
    pump_for(&b, b.o.settle_ms);
    fg.pss1 = pss_kb(&b.o, fg.each1);

    warm_up(&b);
    pump_for(&b, b.o.gap_ms);
    latency_phase(&b, &fg);
    burst_phase(&b, &fg);
    report(&b, &fg);

    /* plain closes: the servers see EOF, as from a browser going away */
    for (uint32_t i = 0; i < b.o.clients; i++) {
        if (b.c[i].fd >= 0) {
            close(b.c[i].fd);
        }
        free(b.c[i].in);
    }
    for (uint32_t j = 0; j < b.npubs; j++) {
        publisher_drop(&b, j);
    }
    return 0;
}
