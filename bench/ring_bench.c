/*
 * Request/response between two processes, two ways:
 *
 *   rings   the request and response rings of include/pattern_rt_ring.h in
 *           one MAP_SHARED mapping, with the engine's wake-up discipline: a
 *           producer rings a doorbell (one byte on a SOCK_SEQPACKET
 *           socketpair) only when prt_ring_commit says the consumer had
 *           caught up, and a consumer that finds its ring empty after
 *           prt_ring_release sleeps in a blocking poll(), as the engine and
 *           the nginx workers sleep in epoll.
 *   socket  a SOCK_SEQPACKET socketpair: write the request, read the
 *           response.
 *
 * For each: round-trip latency with one request outstanding (p50, p99,
 * max) and throughput with a window of outstanding requests.
 *
 *   ring_bench [-n round_trips] [-p pipelined] [-w window]
 *              [-q request_bytes] [-r response_bytes]
 *
 * Build: cc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude bench/ring_bench.c
 * (bench/ipc.sh does it and prints the exact command).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pattern_rt_ring.h"

#define PAGE          4096
#define REQ_RING      (1u << 20)       /* the engine's defaults */
#define RESP_RING     (4u << 20)
#define MSG_REQUEST   1
#define MSG_RESPONSE  2
#define MSG_STOP      3
#define MAX_MSG       65536
/* the socket client sends its whole window before reading: window x
 * request must stay inside the socket's default send buffer (~200 KiB of
 * kernel accounting, ~1.3 KiB per small datagram) or both sides block */
#define MAX_WINDOW    128
#define MAX_REQUEST   512
#define WARMUP        20000

typedef struct {
    uint64_t  n;             /* latency round trips */
    uint64_t  pipelined;     /* messages in the pipelined run */
    uint32_t  window;
    uint32_t  req_len;
    uint32_t  resp_len;
} bench_conf_t;

/* The shared mapping: control page, then request and response ring data. */
typedef struct {
    prt_ring_t  req;
    prt_ring_t  resp;
    uint64_t    server_bells;
    uint64_t    server_sleeps;
} shared_ctl_t;

typedef struct {
    uint8_t        *base;
    uint64_t        size;
    shared_ctl_t   *ctl;
} shm_t;

typedef struct {
    double    p50, p99, max;   /* microseconds */
    double    rate;            /* round trips per second, pipelined */
    double    bells_pp;        /* doorbells per round trip, ping-pong */
    double    bells;           /* doorbells per round trip, pipelined */
} result_t;

typedef struct {
    prt_ring_view_t  req;      /* client produces */
    prt_ring_view_t  resp;     /* client consumes */
    int              fd;
    uint64_t         bells;
    uint8_t          msg[MAX_MSG];
    const bench_conf_t  *conf;
} ring_client_t;


/* ---- small utilities ---------------------------------------------------- */

static uint64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}

static void
percentiles(uint64_t *lat, uint64_t n, result_t *res)
{
    qsort(lat, n, sizeof(*lat), cmp_u64);
    res->p50 = (double) lat[n / 2] / 1e3;
    res->p99 = (double) lat[n * 99 / 100] / 1e3;
    res->max = (double) lat[n - 1] / 1e3;
}

static int
send_all(int fd, const void *p, size_t len)
{
    ssize_t  n;

    do {
        n = send(fd, p, len, 0);
    } while (n == -1 && errno == EINTR);
    if (n != (ssize_t) len) {
        perror("send");
        return -1;
    }
    return 0;
}

static int
ring_bell(int fd, char bell)
{
    return send_all(fd, &bell, 1);
}

/* Blocks until the peer rings, then drains every pending bell: one wake-up
 * covers them all, as in the engine's event loop. */
static int
sleep_on_bell(int fd)
{
    struct pollfd  pfd = { fd, POLLIN, 0 };
    char           buf[256];
    ssize_t        n;

    while (poll(&pfd, 1, -1) == -1) {
        if (errno != EINTR) {
            perror("poll");
            return -1;
        }
    }
    do {
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    } while (n > 0);
    if (n == 0) {
        return -1;                     /* the peer is gone */
    }
    return 0;
}


/* ---- shared memory ------------------------------------------------------ */

static int
shm_open_rings(shm_t *shm)
{
    shm->size = PAGE + (uint64_t) REQ_RING + RESP_RING;
    shm->base = mmap(NULL, shm->size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm->base == MAP_FAILED) {
        perror("mmap");
        return -1;
    }
    /* touch every page now so page faults do not land in the figures */
    memset(shm->base, 0, shm->size);
    shm->ctl = (shared_ctl_t *) shm->base;
    shm->ctl->req.data_offset = PAGE;
    shm->ctl->req.size = REQ_RING;
    shm->ctl->resp.data_offset = PAGE + REQ_RING;
    shm->ctl->resp.size = RESP_RING;
    return 0;
}

static int
attach_side(const shm_t *shm, prt_ring_view_t *req, int req_producer,
    prt_ring_view_t *resp)
{
    if (prt_ring_attach(req, shm->base, shm->size, &shm->ctl->req,
                        req_producer) != 0
        || prt_ring_attach(resp, shm->base, shm->size, &shm->ctl->resp,
                           !req_producer) != 0)
    {
        fprintf(stderr, "ring_bench: ring geometry rejected\n");
        return -1;
    }
    return 0;
}


/* ---- rings: the engine side --------------------------------------------- */

/* Writes one response; when the ring is full the client must be woken
 * first (it may be asleep with nothing read yet), then we wait for space. */
static int
ring_respond(prt_ring_view_t *resp, uint32_t id, const uint8_t *body,
    uint32_t len, int fd, int *bell, shared_ctl_t *ctl)
{
    int  rc, wake;

    while ((rc = prt_ring_write(resp, MSG_RESPONSE, 0, id, body, len, &wake))
           == PRT_RING_FULL)
    {
        if (*bell) {
            if (ring_bell(fd, PRT_BELL_RESP) != 0) {
                return -1;
            }
            ctl->server_bells++;
            *bell = 0;
        }
        sched_yield();
    }
    if (rc != PRT_RING_OK) {
        return -1;
    }
    *bell |= wake;
    return 0;
}

/* One pass of the engine's loop: answer every request in the ring, ring
 * the response bell once. Returns 1 on MSG_STOP, 0, or -1. */
static int
ring_serve_batch(prt_ring_view_t *req, prt_ring_view_t *resp,
    const uint8_t *body, uint32_t len, int fd, shared_ctl_t *ctl)
{
    prt_rec_t       rec;
    const uint8_t  *payload;
    int             rc, bell = 0;

    while ((rc = prt_ring_peek(req, &rec, &payload)) == PRT_RING_OK) {
        if (rec.type == MSG_STOP) {
            return 1;
        }
        if (ring_respond(resp, rec.id, body, len, fd, &bell, ctl) != 0) {
            return -1;
        }
        prt_ring_advance(req, &rec);
    }
    if (rc != PRT_RING_EMPTY) {
        return -1;
    }
    if (bell) {
        ctl->server_bells++;
        return ring_bell(fd, PRT_BELL_RESP);
    }
    return 0;
}

static int
ring_server(const shm_t *shm, int fd, const bench_conf_t *conf)
{
    prt_ring_view_t  req, resp;
    static uint8_t   body[MAX_MSG];
    int              rc;

    memset(body, 'r', sizeof(body));
    if (attach_side(shm, &req, 0, &resp) != 0) {
        return -1;
    }

    for ( ;; ) {
        rc = ring_serve_batch(&req, &resp, body, conf->resp_len, fd,
                              shm->ctl);
        if (rc != 0) {
            return rc == 1 ? 0 : -1;
        }
        if (prt_ring_release(&req)) {
            continue;                 /* more came: nobody rang for it */
        }
        shm->ctl->server_sleeps++;
        if (sleep_on_bell(fd) != 0) {
            return -1;
        }
    }
}


/* ---- rings: the worker side --------------------------------------------- */

static int
ring_send(ring_client_t *c, uint16_t type, uint32_t id, int *wake)
{
    int  rc;

    memcpy(c->msg, &id, sizeof(id));
    rc = prt_ring_write(&c->req, type, 0, id, c->msg, c->conf->req_len, wake);
    if (rc == PRT_RING_CORRUPT) {
        fprintf(stderr, "ring_bench: request ring corrupt\n");
        return -1;
    }
    return rc == PRT_RING_OK ? 1 : 0;
}

/* Takes every response in the ring; each must be the next id in order.
 * Returns how many, or -1. */
static int64_t
ring_take(ring_client_t *c, uint64_t *next_id)
{
    prt_rec_t       rec;
    const uint8_t  *payload;
    int64_t         n = 0;
    int             rc;

    while ((rc = prt_ring_peek(&c->resp, &rec, &payload)) == PRT_RING_OK) {
        if (rec.type != MSG_RESPONSE || rec.id != (uint32_t) *next_id
            || rec.len != c->conf->resp_len)
        {
            fprintf(stderr, "ring_bench: unexpected response %u\n", rec.id);
            return -1;
        }
        prt_ring_advance(&c->resp, &rec);
        (*next_id)++;
        n++;
    }
    return rc == PRT_RING_EMPTY ? n : -1;
}

/* Sends up to the window, rings once if the engine may sleep. */
static int
ring_fill_window(ring_client_t *c, uint64_t *sent, uint64_t done,
    uint64_t total, uint32_t window)
{
    int  rc, wake, any = 0;

    while (*sent < total && *sent - done < window) {
        rc = ring_send(c, MSG_REQUEST, (uint32_t) *sent, &wake);
        if (rc <= 0) {
            if (rc < 0) {
                return -1;
            }
            break;                    /* request ring full */
        }
        any |= wake;
        (*sent)++;
    }
    if (any) {
        c->bells++;
        return ring_bell(c->fd, PRT_BELL_REQ);
    }
    return 0;
}

/* total requests with up to window outstanding; window 1 is ping-pong
 * (and then lat, if given, receives each round trip in ns). */
static int
ring_run(ring_client_t *c, uint64_t first, uint64_t total, uint32_t window,
    uint64_t *lat)
{
    uint64_t  sent = first, done = first, end = first + total, t0 = 0;
    int64_t   got;

    while (done < end) {
        if (lat && sent == done) {
            t0 = now_ns();
        }
        if (ring_fill_window(c, &sent, done, end, window) != 0) {
            return -1;
        }
        got = ring_take(c, &done);
        if (got < 0) {
            return -1;
        }
        if (lat && got > 0) {
            lat[done - 1 - first] = now_ns() - t0;
        }
        if (prt_ring_release(&c->resp)) {
            continue;
        }
        if (got == 0 && (sent == end || sent - done == window)
            && sleep_on_bell(c->fd) != 0)
        {
            return -1;
        }
    }
    return 0;
}

static int
ring_stop(ring_client_t *c)
{
    int  wake = 0;

    if (ring_send(c, MSG_STOP, 0, &wake) != 1) {
        return -1;
    }
    return wake ? ring_bell(c->fd, PRT_BELL_REQ) : 0;
}


/* ---- plain socket ------------------------------------------------------- */

static int
sock_server(int fd, const bench_conf_t *conf)
{
    static uint8_t  buf[MAX_MSG], body[MAX_MSG];
    ssize_t         n;

    memset(body, 'r', sizeof(body));
    for ( ;; ) {
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || buf[4] == MSG_STOP) {
            return n < 0 ? -1 : 0;
        }
        memcpy(body, buf, 4);          /* echo the id */
        if (send_all(fd, body, conf->resp_len) != 0) {
            return -1;
        }
    }
}

static int
sock_send(int fd, uint8_t *msg, uint32_t len, uint32_t id, uint8_t type)
{
    memcpy(msg, &id, 4);
    msg[4] = type;
    return send_all(fd, msg, len);
}

static int
sock_recv(int fd, uint32_t want_id, uint32_t want_len)
{
    static uint8_t  buf[MAX_MSG];
    ssize_t         n;
    uint32_t        id;

    do {
        n = recv(fd, buf, sizeof(buf), 0);
    } while (n == -1 && errno == EINTR);
    memcpy(&id, buf, 4);
    if (n != (ssize_t) want_len || id != want_id) {
        fprintf(stderr, "ring_bench: unexpected socket response\n");
        return -1;
    }
    return 0;
}

static int
sock_run(int fd, const bench_conf_t *conf, uint64_t first, uint64_t total,
    uint32_t window, uint64_t *lat)
{
    static uint8_t  msg[MAX_MSG];
    uint64_t        sent = first, done, end = first + total, t0 = 0;

    for (done = first; done < end; done++) {
        if (lat) {
            t0 = now_ns();
        }
        while (sent < end && sent - done < window) {
            if (sock_send(fd, msg, conf->req_len, (uint32_t) sent,
                          MSG_REQUEST) != 0)
            {
                return -1;
            }
            sent++;
        }
        if (sock_recv(fd, (uint32_t) done, conf->resp_len) != 0) {
            return -1;
        }
        if (lat) {
            lat[done - first] = now_ns() - t0;
        }
    }
    return 0;
}


/* ---- driving both transports -------------------------------------------- */

typedef enum { T_RING, T_SOCK } transport_t;

static pid_t
start_server(transport_t t, const shm_t *shm, int sv[2],
    const bench_conf_t *conf)
{
    pid_t  pid;
    int    rc;

    fflush(stdout);
    pid = fork();
    if (pid == -1) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        rc = t == T_RING ? ring_server(shm, sv[1], conf)
                         : sock_server(sv[1], conf);
        _exit(rc == 0 ? 0 : 1);
    }
    close(sv[1]);
    return pid;
}

static int
stop_server(pid_t pid, int fd)
{
    int  status;

    close(fd);
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return -1;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
measure_ring(const bench_conf_t *conf, uint64_t *lat, result_t *res)
{
    static ring_client_t  c;
    shm_t                 shm;
    pid_t                 pid;
    uint64_t              t0, t1, bells0;
    int                   sv[2], rc;

    if (shm_open_rings(&shm) != 0
        || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
    {
        return -1;
    }
    pid = start_server(T_RING, &shm, sv, conf);
    if (pid == -1 || attach_side(&shm, &c.req, 1, &c.resp) != 0) {
        return -1;
    }
    c.fd = sv[0];
    c.conf = conf;

    rc = ring_run(&c, 0, WARMUP, 1, NULL);
    bells0 = c.bells + shm.ctl->server_bells;
    rc = rc ? rc : ring_run(&c, WARMUP, conf->n, 1, lat);
    res->bells_pp = (double) (c.bells + shm.ctl->server_bells - bells0)
                    / (double) conf->n;

    bells0 = c.bells + shm.ctl->server_bells;
    t0 = now_ns();
    rc = rc ? rc : ring_run(&c, WARMUP + conf->n, conf->pipelined,
                            conf->window, NULL);
    t1 = now_ns();
    res->rate = (double) conf->pipelined / ((double) (t1 - t0) / 1e9);
    res->bells = (double) (c.bells + shm.ctl->server_bells - bells0)
                 / (double) conf->pipelined;

    rc = rc ? rc : ring_stop(&c);
    if (stop_server(pid, sv[0]) != 0 || rc != 0) {
        fprintf(stderr, "ring_bench: ring run failed\n");
        return -1;
    }
    percentiles(lat, conf->n, res);
    munmap(shm.base, shm.size);
    return 0;
}

static int
measure_sock(const bench_conf_t *conf, uint64_t *lat, result_t *res)
{
    static uint8_t  msg[MAX_MSG];
    pid_t           pid;
    uint64_t        t0, t1;
    int             sv[2], rc;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) {
        perror("socketpair");
        return -1;
    }
    pid = start_server(T_SOCK, NULL, sv, conf);
    if (pid == -1) {
        return -1;
    }

    rc = sock_run(sv[0], conf, 0, WARMUP, 1, NULL);
    rc = rc ? rc : sock_run(sv[0], conf, WARMUP, conf->n, 1, lat);
    t0 = now_ns();
    rc = rc ? rc : sock_run(sv[0], conf, WARMUP + conf->n, conf->pipelined,
                            conf->window, NULL);
    t1 = now_ns();
    res->rate = (double) conf->pipelined / ((double) (t1 - t0) / 1e9);
    res->bells = 0;

    rc = rc ? rc : sock_send(sv[0], msg, conf->req_len, 0, MSG_STOP);
    if (stop_server(pid, sv[0]) != 0 || rc != 0) {
        fprintf(stderr, "ring_bench: socket run failed\n");
        return -1;
    }
    percentiles(lat, conf->n, res);
    return 0;
}


/* ---- command line and report -------------------------------------------- */

static int
parse_args(int argc, char **argv, bench_conf_t *conf)
{
    int  opt;

    conf->n = 200000;
    conf->pipelined = 2000000;
    conf->window = 64;
    conf->req_len = 64;
    conf->resp_len = 512;

    while ((opt = getopt(argc, argv, "n:p:w:q:r:")) != -1) {
        switch (opt) {
        case 'n': conf->n = strtoull(optarg, NULL, 10); break;
        case 'p': conf->pipelined = strtoull(optarg, NULL, 10); break;
        case 'w': conf->window = (uint32_t) strtoul(optarg, NULL, 10); break;
        case 'q': conf->req_len = (uint32_t) strtoul(optarg, NULL, 10); break;
        case 'r': conf->resp_len = (uint32_t) strtoul(optarg, NULL, 10); break;
        default: return -1;
        }
    }

    /* ids are the low 32 bits; a request carries id and type (5 bytes);
     * one record must fit the rings without fragments */
    if (conf->n < 100 || conf->pipelined < 100
        || conf->window < 1 || conf->window > MAX_WINDOW
        || conf->req_len < 5 || conf->req_len > MAX_REQUEST
        || conf->resp_len < 4 || conf->resp_len > MAX_MSG)
    {
        return -1;
    }
    return 0;
}

static void
print_row(const char *name, const result_t *r, int rings)
{
    char  bells[32];

    if (rings) {
        snprintf(bells, sizeof(bells), "%.2f / %.3f", r->bells_pp, r->bells);
    } else {
        snprintf(bells, sizeof(bells), "-");
    }
    printf("%-22s %9.1f %9.1f %9.1f %14.0f %16s\n", name, r->p50, r->p99,
           r->max, r->rate, bells);
}

static void
print_report(const bench_conf_t *conf, const result_t *ring,
    const result_t *sock)
{
    printf("request %u B, response %u B; latency over %llu round trips "
           "(one outstanding); throughput over %llu round trips with %u "
           "outstanding\n\n", conf->req_len, conf->resp_len,
           (unsigned long long) conf->n, (unsigned long long) conf->pipelined,
           conf->window);
    printf("%-22s %9s %9s %9s %14s %16s\n", "transport", "p50 us", "p99 us",
           "max us", "round trips/s", "bells/rt pp/pl");
    print_row("shm rings + doorbells", ring, 1);
    print_row("unix seqpacket", sock, 0);
    printf("%-22s %9.2f %9.2f %9.2f %14.2f %16s\n", "ring / socket",
           ring->p50 / sock->p50, ring->p99 / sock->p99,
           ring->max / sock->max, ring->rate / sock->rate, "");
}

int
main(int argc, char **argv)
{
    bench_conf_t  conf;
    result_t      ring, sock;
    uint64_t     *lat;

    if (parse_args(argc, argv, &conf) != 0) {
        fprintf(stderr, "usage: ring_bench [-n round_trips>=100] "
                "[-p pipelined>=100] [-w window 1..%d] [-q request_bytes "
                "5..%d] [-r response_bytes 4..%d]\n", MAX_WINDOW,
                MAX_REQUEST, MAX_MSG);
        return 2;
    }
    lat = calloc(conf.n, sizeof(*lat));
    if (lat == NULL) {
        perror("calloc");
        return 1;
    }

    if (measure_ring(&conf, lat, &ring) != 0
        || measure_sock(&conf, lat, &sock) != 0)
    {
        free(lat);
        return 1;
    }
    print_report(&conf, &ring, &sock);
    free(lat);
    return 0;
}
