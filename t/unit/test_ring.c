/*
 * include/pattern_rt_ring.h: the SPSC ring and the broadcast log.
 *
 * Single-process tests check positions and bytes against the record format
 * of pattern_rt_ipc.h (16-byte headers, 16-byte alignment, a padding record
 * up to the wrap) worked out here by hand, not by calling the ring code.
 *
 * Hostile-peer tests put the ring data between PROT_NONE guard pages and
 * run every probe in a child process: a read or write outside the ring
 * kills the child (reported as "killed by signal") instead of the test.
 *
 * Stress tests fork real processes on one MAP_SHARED mapping: a producer
 * and a consumer on an SPSC ring (busy-polling, then again sleeping on a
 * doorbell socket exactly as the engine and the workers do), and one
 * producer with three readers of different speeds on a small broadcast
 * log. Every record carries its sequence number and a checksum and its
 * bytes are a function of the sequence number, so a lost, duplicated,
 * reordered or torn record is caught.
 *
 * PRT_RING_STRESS=<factor> multiplies the stress record counts (default 1,
 * 5-10 s on 2 cores).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "pattern_rt_ring.h"

#define PAGE          4096
#define HDR           ((uint64_t) sizeof(prt_rec_t))

/* what a guarded probe returns when the child did not exit by itself */
#define PROBE_KILLED  100
/* a probe found a payload pointer outside the ring */
#define PROBE_ESCAPED 101

/* the bytes a record of len payload bytes occupies, from the format */
#define REC_SPACE(len) ((((uint64_t) (len) + HDR) + 15) / 16 * 16)


/* ---- deterministic bytes ------------------------------------------------ */

static uint64_t
mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void
fill_bytes(uint8_t *p, uint32_t len, uint64_t seed)
{
    uint64_t  w;
    uint32_t  i, n;

    for (i = 0; i < len; i += 8) {
        w = mix64(seed * 0x100000001b3ULL + i);
        n = len - i < 8 ? len - i : 8;
        memcpy(p + i, &w, n);
    }
}

static int
bytes_match(const uint8_t *p, uint32_t len, uint64_t seed)
{
    uint8_t  want[8];
    uint64_t w;
    uint32_t i, n;

    for (i = 0; i < len; i += 8) {
        w = mix64(seed * 0x100000001b3ULL + i);
        n = len - i < 8 ? len - i : 8;
        memcpy(want, &w, n);
        if (memcmp(p + i, want, n) != 0) {
            return 0;
        }
    }
    return 1;
}

static uint32_t
fnv1a(const uint8_t *p, uint32_t len)
{
    uint32_t  h = 2166136261u;

    for (uint32_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}


/* ---- stress messages: seq | checksum | len | body(seq) ------------------ */

#define MSG_MIN  16

static uint32_t
msg_len(uint64_t seq, uint32_t max)
{
    uint64_t  h = mix64(seq ^ 0x5eedULL);

    /* mostly small records, one in 16 anywhere up to the largest */
    if (h % 16 == 0) {
        return MSG_MIN + (uint32_t) ((h >> 8) % (max - MSG_MIN + 1));
    }
    return MSG_MIN + (uint32_t) ((h >> 8) % 64);
}

static uint16_t
msg_type(uint64_t seq)
{
    return (uint16_t) (1 + seq % 5);
}

static uint16_t
msg_flags(uint64_t seq)
{
    return (seq & 1) ? PRT_REC_MORE : 0;
}

static void
msg_build(uint8_t *p, uint64_t seq, uint32_t len)
{
    uint32_t  sum;

    memcpy(p, &seq, 8);
    memcpy(p + 12, &len, 4);
    fill_bytes(p + MSG_MIN, len - MSG_MIN, seq);
    sum = fnv1a(p + 12, len - 12);
    memcpy(p + 8, &sum, 4);
}

/* 0 when the record is exactly message seq as built by msg_build */
static int
msg_check(const prt_rec_t *rec, const uint8_t *p, uint64_t seq, uint32_t max)
{
    uint64_t  got_seq;
    uint32_t  sum, len;

    if (rec->len != msg_len(seq, max) || rec->type != msg_type(seq)
        || rec->flags != msg_flags(seq) || rec->id != (uint32_t) seq)
    {
        return 1;
    }
    memcpy(&got_seq, p, 8);
    memcpy(&sum, p + 8, 4);
    memcpy(&len, p + 12, 4);
    if (got_seq != seq || len != rec->len) {
        return 2;
    }
    if (sum != fnv1a(p + 12, len - 12)) {
        return 3;
    }
    return bytes_match(p + MSG_MIN, len - MSG_MIN, seq) ? 0 : 4;
}

static uint64_t
msg_seq(const uint8_t *p)
{
    uint64_t  seq;

    memcpy(&seq, p, 8);
    return seq;
}


/* ---- a ring between guard pages ----------------------------------------- */

/*
 * [guard][control page][data: data_size bytes][guard]. base/size is what a
 * peer would map: the control page (prt_ring_t at 0, prt_bcast_t at 1024)
 * and the data at offset PAGE. MAP_SHARED so forked processes share it.
 */
typedef struct {
    uint8_t      *map;
    size_t        map_len;
    uint8_t      *base;
    uint64_t      size;
    prt_ring_t   *ring;
    prt_bcast_t  *bcast;
    uint8_t      *data;
    uint64_t      data_size;
} arena_t;

static int
arena_open(arena_t *a, uint64_t data_size)
{
    memset(a, 0, sizeof(*a));
    a->map_len = PAGE + PAGE + data_size + PAGE;
    a->map = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (a->map == MAP_FAILED) {
        perror("mmap");
        return -1;
    }
    if (mprotect(a->map, PAGE, PROT_NONE) != 0
        || mprotect(a->map + a->map_len - PAGE, PAGE, PROT_NONE) != 0)
    {
        perror("mprotect");
        return -1;
    }

    a->base = a->map + PAGE;
    a->size = PAGE + data_size;
    a->ring = (prt_ring_t *) a->base;
    a->bcast = (prt_bcast_t *) (a->base + 1024);
    a->data = a->base + PAGE;
    a->data_size = data_size;
    a->ring->data_offset = PAGE;
    a->ring->size = data_size;
    a->bcast->data_offset = PAGE;
    a->bcast->size = data_size;
    return 0;
}

static void
arena_close(arena_t *a)
{
    munmap(a->map, a->map_len);
}

/* An empty ring whose positions start at pos (as after long use). */
static void
arena_reset(arena_t *a, uint64_t pos)
{
    memset(a->data, 0xa5, a->data_size);
    memset(a->ring, 0, sizeof(*a->ring));
    memset(a->bcast, 0, sizeof(*a->bcast));
    a->ring->data_offset = PAGE;
    a->ring->size = a->data_size;
    a->ring->head = pos;
    a->ring->tail = pos;
    a->bcast->data_offset = PAGE;
    a->bcast->size = a->data_size;
    a->bcast->tail = pos;
    a->bcast->tail_intent = pos;
}

static int
spsc_open(arena_t *a, uint64_t pos, prt_ring_view_t *prod,
    prt_ring_view_t *cons)
{
    arena_reset(a, pos);
    if (prt_ring_attach(prod, a->base, a->size, a->ring, 1) != 0
        || prt_ring_attach(cons, a->base, a->size, a->ring, 0) != 0)
    {
        return -1;
    }
    return 0;
}

static const prt_rec_t *
raw_rec(const arena_t *a, uint64_t pos)
{
    return (const prt_rec_t *) (a->data + (pos & (a->data_size - 1)));
}


/* ---- guarded probes ----------------------------------------------------- */

typedef int (*probe_fn)(void *arg);

/*
 * Makes the compiler assume *p is read: without it, a probe that ignores
 * the record header on failure lets the optimiser drop part of the copy
 * the ring code makes, hiding an out-of-bounds read.
 */
static inline void
escape(const void *p)
{
    __asm__ volatile ("" : : "r" (p) : "memory");
}

/*
 * Runs fn in a child process and returns its result (a ring status code,
 * PROBE_ESCAPED), or PROBE_KILLED when the child died: then *sig says how.
 */
static int
guarded(probe_fn fn, void *arg, int *sig)
{
    pid_t  pid;
    int    status;

    *sig = 0;
    fflush(stdout);
    pid = fork();
    if (pid == -1) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        _exit(fn(arg) + 16);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        exit(2);
    }
    if (WIFSIGNALED(status)) {
        *sig = WTERMSIG(status);
        return PROBE_KILLED;
    }
    return WEXITSTATUS(status) - 16;
}

static void
expect_guarded(probe_fn fn, void *arg, int want, const char *name)
{
    int  sig, got;

    got = guarded(fn, arg, &sig);
    if (!ok(got == want, "%s", name)) {
        if (got == PROBE_KILLED) {
            printf("#   the probe was killed by signal %d (%s): it touched "
                   "memory outside the ring\n", sig, strsignal(sig));
        } else {
            printf("#   got %d, want %d\n", got, want);
        }
    }
}

typedef struct {
    arena_t          *a;
    prt_ring_view_t  *v;
    uint32_t          len;
} probe_t;

static int
payload_inside(const arena_t *a, const uint8_t *p, uint64_t len)
{
    return p >= a->data && p <= a->data + a->data_size
           && len <= (uint64_t) (a->data + a->data_size - p);
}

static int
probe_peek(void *arg)
{
    probe_t        *pr = arg;
    prt_rec_t       rec;
    const uint8_t  *payload;
    int             rc;

    rc = prt_ring_peek(pr->v, &rec, &payload);
    escape(&rec);
    if (rc == PRT_RING_OK && !payload_inside(pr->a, payload, rec.len)) {
        return PROBE_ESCAPED;
    }
    return rc;
}

static int
probe_reserve(void *arg)
{
    probe_t  *pr = arg;
    uint8_t  *payload;
    int       rc;

    rc = prt_ring_reserve(pr->v, pr->len, &payload);
    if (rc == PRT_RING_OK) {
        if (!payload_inside(pr->a, payload, pr->len)) {
            return PROBE_ESCAPED;
        }
        memset(payload, 0x5a, pr->len);
    }
    return rc;
}

typedef struct {
    arena_t           *a;
    prt_bcast_view_t  *v;
} bprobe_t;

static int
probe_bcast_read(void *arg)
{
    bprobe_t   *pr = arg;
    prt_rec_t   rec;
    uint8_t     buf[PAGE];
    int         rc;

    rc = prt_bcast_read(pr->v, &rec, buf, sizeof(buf));
    escape(&rec);
    escape(buf);
    return rc;
}


/* ---- SPSC: basic behaviour ---------------------------------------------- */

static void
test_round_trip(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    int              wake = -1;

    if (!ok(spsc_open(a, 0, &prod, &cons) == 0, "attach both sides")) {
        return;
    }

    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_EMPTY,
           "a new ring is empty");
    is_int(prt_ring_write(&prod, 7, PRT_REC_MORE, 42, "hello", 5, &wake),
           PRT_RING_OK, "write a 5-byte record");
    is_int(wake, 1, "the first record into an empty ring asks for a wake-up");
    is_int(a->ring->tail, 32, "tail moves by header + payload rounded to 16");
    is_int(a->ring->produced, 1, "produced counts the record");
    is_int(raw_rec(a, 0)->len, 5, "the header sits at offset 0");

    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK, "peek sees it");
    is_int(rec.len, 5, "length");
    is_int(rec.type, 7, "type");
    is_int(rec.flags, PRT_REC_MORE, "flags");
    is_int(rec.id, 42, "id");
    ok(payload == a->data + HDR && memcmp(payload, "hello", 5) == 0,
       "the payload is read in place right after the header");

    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK,
           "peeking again without advancing returns the same record");
    is_int(rec.id, 42, "same id");

    prt_ring_advance(&cons, &rec);
    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_EMPTY,
           "empty after advancing");
    is_int(a->ring->head, 0, "advance alone does not hand space back");
    is_int(prt_ring_release(&cons), 0, "release: nothing more arrived");
    is_int(a->ring->head, 32, "release stores head");
    is_int(a->ring->consumed, 1, "consumed counts the record");
    is_int(prt_ring_used(a->ring), 0, "nothing in use");

    is_int(prt_ring_write(&prod, 1, 0, 1, NULL, 0, &wake), PRT_RING_OK,
           "an empty payload is a valid record");
    is_int(a->ring->tail, 48, "it takes one header");
    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK, "and is read");
    is_int(rec.len, 0, "with length 0");
}

/* Records of every size from 0 to the largest, interleaved with consuming
 * so the ring wraps many times; positions follow the format exactly. */
static void
test_many_sizes(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    uint8_t          buf[PAGE];
    uint32_t         max = prt_ring_max_payload(a->data_size);
    uint64_t         model_tail = 0, model_head = 0, idx, n_written = 0;
    uint32_t         len, next_read = 0, pads = 0;
    int              wake, rc, bad_pos = 0, bad_rec = 0, bad_rc = 0;

    if (spsc_open(a, 0, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }

    for (len = 0; len <= max; len++) {
        fill_bytes(buf, len, len);
        rc = prt_ring_write(&prod, 3, 0, len, buf, len, &wake);
        while (rc == PRT_RING_FULL) {
            /* consume one record and retry */
            if (prt_ring_peek(&cons, &rec, &payload) != PRT_RING_OK) {
                bad_rc++;
                break;
            }
            if (rec.id != next_read || rec.len != next_read
                || !bytes_match(payload, rec.len, rec.id))
            {
                bad_rec++;
            }
            idx = model_head & (a->data_size - 1);
            if (idx + REC_SPACE(rec.len) > a->data_size) {
                model_head += a->data_size - idx;
            }
            model_head += REC_SPACE(rec.len);
            next_read++;
            prt_ring_advance(&cons, &rec);
            prt_ring_release(&cons);
            if (a->ring->head != model_head) {
                bad_pos++;
            }
            rc = prt_ring_write(&prod, 3, 0, len, buf, len, &wake);
        }
        if (rc != PRT_RING_OK) {
            bad_rc++;
            break;
        }
        n_written++;
        idx = model_tail & (a->data_size - 1);
        if (idx + REC_SPACE(len) > a->data_size) {
            model_tail += a->data_size - idx;
            pads++;
        }
        model_tail += REC_SPACE(len);
        if (a->ring->tail != model_tail) {
            bad_pos++;
        }
    }

    while (prt_ring_peek(&cons, &rec, &payload) == PRT_RING_OK) {
        if (rec.id != next_read || !bytes_match(payload, rec.len, rec.id)) {
            bad_rec++;
        }
        next_read++;
        prt_ring_advance(&cons, &rec);
    }
    prt_ring_release(&cons);

    is_int(n_written, max + 1, "wrote every size 0..%u", max);
    is_int(next_read, max + 1, "read every one back");
    is_int(bad_rc, 0, "no unexpected status");
    is_int(bad_rec, 0, "every record intact and in order");
    is_int(bad_pos, 0, "head and tail always where the format puts them");
    ok(pads > 10, "the ring wrapped with padding (%u times)", pads);
    is_int(a->ring->head, a->ring->tail, "all consumed");
}

/* idx near the end, a record that does not fit: a padding record up to the
 * wrap, the record at offset 0. */
static void
test_wrap_padding(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    const prt_rec_t *pad;
    uint8_t          buf[100];
    uint64_t         start = 5 * a->data_size + a->data_size - 48;
    int              wake;

    if (spsc_open(a, start, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }

    fill_bytes(buf, sizeof(buf), 99);
    is_int(prt_ring_write(&prod, 9, 0, 99, buf, sizeof(buf), &wake),
           PRT_RING_OK, "a 100-byte record with 48 bytes left before the wrap");
    is_int(wake, 1, "wake: the consumer had caught up (padding included)");
    pad = raw_rec(a, start);
    is_int(pad->type, PRT_REC_PAD, "a padding record fills the end");
    is_int(pad->len, 48 - HDR, "its length covers exactly up to the wrap");
    is_int(raw_rec(a, 0)->len, 100, "the record lands at offset 0");
    is_int(raw_rec(a, 0)->type, 9, "with its own header");
    is_int(a->ring->tail, start + 48 + REC_SPACE(100),
           "tail = start + padding + record");

    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK,
           "the consumer skips the padding");
    is_int(rec.type, 9, "and returns the record");
    ok(payload == a->data + HDR && memcmp(payload, buf, sizeof(buf)) == 0,
       "its payload is read from offset 16");
    prt_ring_advance(&cons, &rec);
    is_int(prt_ring_release(&cons), 0, "release: nothing more");
    is_int(a->ring->head, start + 48 + REC_SPACE(100),
           "head steps over padding and record");
    is_int(a->ring->consumed, 1, "padding is not counted as consumed");
}

/* A record ending exactly at the wrap needs no padding. */
static void
test_exact_fill(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    uint8_t          buf[112];
    uint64_t         start = 2 * a->data_size + a->data_size - 128;
    int              wake;

    if (spsc_open(a, start, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }

    fill_bytes(buf, sizeof(buf), 5);
    is_int(prt_ring_write(&prod, 4, 0, 1, buf, 112, &wake), PRT_RING_OK,
           "a record of exactly the 128 bytes left before the wrap");
    is_int(raw_rec(a, start)->type, 4, "it is written in place, no padding");
    is_int(raw_rec(a, start)->len, 112, "with its length");
    is_int(a->ring->tail, 3 * a->data_size, "tail ends exactly at the wrap");

    is_int(prt_ring_write(&prod, 4, 0, 2, buf, 1, &wake), PRT_RING_OK,
           "the next record");
    is_int(raw_rec(a, 0)->id, 2, "starts at offset 0 without padding");
    is_int(a->ring->tail, 3 * a->data_size + 32, "tail after it");

    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK, "read first");
    ok(rec.id == 1 && memcmp(payload, buf, 112) == 0, "first intact");
    prt_ring_advance(&cons, &rec);
    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK, "read second");
    ok(rec.id == 2 && payload == a->data + HDR, "second at offset 16");
}

static void
test_full(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    uint8_t          buf[PAGE], *p;
    uint32_t         max = prt_ring_max_payload(a->data_size);
    int              wake, i, rc = PRT_RING_OK;

    if (spsc_open(a, 0, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }

    is_int(REC_SPACE(max), a->data_size / 4,
           "the largest record takes a quarter of the ring");
    memset(buf, 1, sizeof(buf));
    for (i = 0; i < 4 && rc == PRT_RING_OK; i++) {
        rc = prt_ring_write(&prod, 1, 0, (uint32_t) i, buf, max, &wake);
    }
    is_int(rc, PRT_RING_OK, "four largest records fill the ring");
    is_int(prt_ring_used(a->ring), a->data_size, "every byte in use");

    is_int(prt_ring_write(&prod, 1, 0, 4, buf, max, &wake), PRT_RING_FULL,
           "a fifth is refused: ring full");
    is_int(a->ring->full, 1, "and counted");
    is_int(prt_ring_write(&prod, 1, 0, 5, NULL, 0, &wake), PRT_RING_FULL,
           "even an empty record does not fit");
    is_int(a->ring->full, 2, "counted again");
    is_int(prt_ring_reserve(&prod, 0, &p), PRT_RING_FULL,
           "reserve says full too");
    is_int(a->ring->full, 2, "but only prt_ring_write counts");
    is_int(a->ring->tail, a->data_size, "refusals do not move tail");

    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK, "consume one");
    prt_ring_advance(&cons, &rec);
    is_int(prt_ring_write(&prod, 1, 0, 6, buf, max, &wake), PRT_RING_FULL,
           "still full: advanced but not released");
    is_int(prt_ring_release(&cons), 1, "release: more records are waiting");
    is_int(prt_ring_write(&prod, 1, 0, 7, buf, max, &wake), PRT_RING_OK,
           "space is back after release");
    is_int(wake, 0, "no wake-up: the consumer had not caught up");
    is_int(prt_ring_write(&prod, 1, 0, 8, NULL, 0, &wake), PRT_RING_FULL,
           "and full again");
}

/* prt_ring_commit returns 1 exactly when head == tail before the commit. */
static void
test_wake(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    uint8_t         *p;
    int              wake;

    if (spsc_open(a, 0, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }

    prt_ring_write(&prod, 1, 0, 1, "a", 1, &wake);
    is_int(wake, 1, "first record: consumer caught up, wake");
    prt_ring_write(&prod, 1, 0, 2, "b", 1, &wake);
    is_int(wake, 0, "second record, nothing consumed: no wake (a caller "
           "writing fragments must OR these)");

    prt_ring_peek(&cons, &rec, &payload);
    prt_ring_advance(&cons, &rec);
    prt_ring_peek(&cons, &rec, &payload);
    prt_ring_advance(&cons, &rec);
    prt_ring_write(&prod, 1, 0, 3, "c", 1, &wake);
    is_int(wake, 0, "consumer advanced past all but did not release: no wake");

    is_int(prt_ring_release(&cons), 1,
           "release returns 1: a record arrived meanwhile");
    prt_ring_peek(&cons, &rec, &payload);
    prt_ring_advance(&cons, &rec);
    prt_ring_write(&prod, 1, 0, 4, "d", 1, &wake);
    is_int(wake, 0, "consumer read but not released the third: no wake");
    is_int(prt_ring_release(&cons), 1, "release sees the fourth");

    prt_ring_peek(&cons, &rec, &payload);
    is_int(rec.id, 4, "the fourth");
    prt_ring_advance(&cons, &rec);
    is_int(prt_ring_release(&cons), 0, "release: caught up, may sleep");

    is_int(prt_ring_reserve(&prod, 8, &p), PRT_RING_OK, "reserve");
    is_int(prt_ring_commit(&prod, 8, 1, 0, 5), 1,
           "commit after the consumer caught up returns 1");
}

static void
test_oversize(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    uint8_t          buf[PAGE], *p;
    uint32_t         max = prt_ring_max_payload(a->data_size);
    uint64_t         start;
    int              wake, worst_ok = 1;

    if (spsc_open(a, 0, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }

    is_int(max, a->data_size / 4 - HDR, "max payload = size/4 - header");
    memset(buf, 2, sizeof(buf));
    is_int(prt_ring_write(&prod, 1, 0, 1, buf, max + 1, &wake),
           PRT_RING_FULL, "one byte over the max payload is refused");
    is_int(prt_ring_reserve(&prod, UINT32_MAX, &p), PRT_RING_FULL,
           "a 4 GiB reservation is refused");
    is_int(a->ring->tail, 0, "nothing written");
    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_EMPTY,
           "the consumer sees nothing");

    /* the largest payload fits an empty ring wherever the wrap falls */
    for (start = 0; start < a->data_size; start += 16) {
        if (spsc_open(a, 7 * a->data_size + start, &prod, &cons) != 0
            || prt_ring_write(&prod, 1, 0, 1, buf, max, &wake) != PRT_RING_OK
            || prt_ring_peek(&cons, &rec, &payload) != PRT_RING_OK
            || rec.len != max)
        {
            worst_ok = 0;
        }
    }
    ok(worst_ok, "a max-size record fits an empty ring at every offset");
}

static void
test_short_commit(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    uint8_t         *p;
    uint64_t         start = a->data_size - 64;
    int              wake;

    if (spsc_open(a, 0, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }

    is_int(prt_ring_reserve(&prod, 500, &p), PRT_RING_OK, "reserve 500");
    memcpy(p, "0123456789", 10);
    is_int(prt_ring_commit(&prod, 10, 2, 0, 77), 1, "commit only 10");
    is_int(a->ring->tail, REC_SPACE(10), "tail counts the 10 committed bytes");
    is_int(prt_ring_reserve(&prod, 16, &p), PRT_RING_OK, "next reservation");
    ok(p == a->data + REC_SPACE(10) + HDR, "starts right after the short one");

    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK, "peek");
    ok(rec.len == 10 && rec.id == 77 && memcmp(payload, "0123456789", 10) == 0,
       "the consumer sees the 10 bytes");
    prt_ring_advance(&cons, &rec);
    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_EMPTY,
           "the uncommitted reservation is invisible");

    /* a reservation that needed padding, committed shorter: the padding
     * stays, the record still starts at offset 0 */
    if (spsc_open(a, start, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }
    is_int(prt_ring_reserve(&prod, 200, &p), PRT_RING_OK,
           "reserve 200 with 64 bytes before the wrap");
    ok(p == a->data + HDR, "the reservation is at offset 0");
    memcpy(p, "xy", 2);
    prt_ring_commit(&prod, 2, 2, 0, 78);
    is_int(a->ring->tail, start + 64 + REC_SPACE(2),
           "tail = padding + the short record");
    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK, "peek");
    ok(rec.id == 78 && rec.len == 2 && payload == a->data + HDR,
       "the short record after the padding");

    /* a reservation abandoned without commit leaves the ring as it was */
    if (spsc_open(a, 64, &prod, &cons) != 0) {
        ok(0, "attach");
        return;
    }
    prt_ring_reserve(&prod, 300, &p);
    is_int(a->ring->tail, 64, "an abandoned reservation publishes nothing");
    prt_ring_write(&prod, 2, 0, 79, "z", 1, &wake);
    is_int(prt_ring_peek(&cons, &rec, &payload), PRT_RING_OK,
           "the next write goes where the abandoned one was");
    ok(rec.id == 79 && payload == a->data + 64 + HDR, "at the same place");
}


/* ---- SPSC: hostile peer ------------------------------------------------- */

static void
test_hostile_consumer_side(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    prt_rec_t        rec;
    const uint8_t   *payload;
    prt_rec_t       *raw;
    probe_t          pr = { a, &cons, 0 };
    uint64_t         start = 3 * a->data_size;
    int              wake;

    spsc_open(a, start, &prod, &cons);
    a->ring->tail = start + a->data_size + 16;
    expect_guarded(probe_peek, &pr, PRT_RING_CORRUPT,
                   "peek: tail more than a ring ahead of head -> CORRUPT");

    spsc_open(a, start, &prod, &cons);
    a->ring->tail = start + a->data_size;
    raw = (prt_rec_t *) a->data;
    memset(raw, 0, HDR);
    raw->type = 1;
    expect_guarded(probe_peek, &pr, PRT_RING_OK,
                   "peek: tail exactly a ring ahead is a full ring (control)");

    spsc_open(a, start, &prod, &cons);
    prt_ring_write(&prod, 1, 0, 1, "abc", 3, &wake);
    prt_ring_write(&prod, 1, 0, 2, "def", 3, &wake);
    prt_ring_peek(&cons, &rec, &payload);
    prt_ring_advance(&cons, &rec);
    prt_ring_peek(&cons, &rec, &payload);
    prt_ring_advance(&cons, &rec);
    a->ring->tail = start + 32;          /* behind what was consumed */
    expect_guarded(probe_peek, &pr, PRT_RING_CORRUPT,
                   "peek: tail behind the consumer -> CORRUPT");
    a->ring->tail = start - 16;
    expect_guarded(probe_peek, &pr, PRT_RING_CORRUPT,
                   "peek: tail behind head -> CORRUPT");

    spsc_open(a, start, &prod, &cons);
    prt_ring_write(&prod, 1, 0, 1, "0123456789", 10, &wake);
    ((prt_rec_t *) a->data)->len = 100;
    expect_guarded(probe_peek, &pr, PRT_RING_CORRUPT,
                   "peek: a record length running past tail -> CORRUPT");
    ((prt_rec_t *) a->data)->len = UINT32_MAX;
    expect_guarded(probe_peek, &pr, PRT_RING_CORRUPT,
                   "peek: a 4 GiB record length -> CORRUPT");

    start = 3 * a->data_size + a->data_size - 32;
    spsc_open(a, start, &prod, &cons);
    raw = (prt_rec_t *) (a->data + a->data_size - 32);
    memset(raw, 0, HDR);
    raw->type = 1;
    raw->len = 100;
    a->ring->tail = start + 256;
    expect_guarded(probe_peek, &pr, PRT_RING_CORRUPT,
                   "peek: a record running past the ring end -> CORRUPT");
    raw->type = PRT_REC_PAD;
    raw->len = 0;                       /* ends 16 bytes before the wrap */
    expect_guarded(probe_peek, &pr, PRT_RING_CORRUPT,
                   "peek: padding that does not end at the wrap -> CORRUPT");
    raw->len = 16;                      /* 32 bytes: ends at the wrap */
    memset(a->data, 0, HDR);
    ((prt_rec_t *) a->data)->type = 3;
    ((prt_rec_t *) a->data)->len = 8;
    a->ring->tail = start + 32 + 32;
    expect_guarded(probe_peek, &pr, PRT_RING_OK,
                   "peek: padding that ends at the wrap is skipped (control)");

    spsc_open(a, 0, &prod, &cons);
    raw = (prt_rec_t *) a->data;
    memset(raw, 0, HDR);
    raw->type = PRT_REC_PAD;
    raw->len = 16;
    a->ring->tail = 256;
    expect_guarded(probe_peek, &pr, PRT_RING_CORRUPT,
                   "peek: padding in the middle of the ring -> CORRUPT");
}

static void
test_hostile_producer_side(arena_t *a)
{
    prt_ring_view_t  prod, cons;
    uint8_t         *p;
    probe_t          pr = { a, &prod, 100 };
    uint64_t         start = 9 * a->data_size + 512;
    int              wake;

    spsc_open(a, start, &prod, &cons);
    a->ring->head = start + 16;
    expect_guarded(probe_reserve, &pr, PRT_RING_CORRUPT,
                   "reserve: head ahead of tail -> CORRUPT");
    is_int(prt_ring_write(&prod, 1, 0, 1, "x", 1, &wake), PRT_RING_CORRUPT,
           "write passes CORRUPT through");
    is_int(a->ring->full, 0, "and does not count it as full");

    a->ring->head = start - a->data_size - 16;
    expect_guarded(probe_reserve, &pr, PRT_RING_CORRUPT,
                   "reserve: head more than a ring behind -> CORRUPT");
    a->ring->head = UINT64_MAX - 15;
    expect_guarded(probe_reserve, &pr, PRT_RING_CORRUPT,
                   "reserve: head near 2^64 -> CORRUPT");

    a->ring->head = start - a->data_size;
    is_int(prt_ring_reserve(&prod, 0, &p), PRT_RING_FULL,
           "reserve: head exactly a ring behind is a full ring, not corrupt");
}

/* data_offset / size chosen by the peer: only geometry inside the mapping
 * is accepted. */
static void
test_attach_geometry(arena_t *a)
{
    static const struct {
        uint64_t     off, size;
        int          want;
        const char  *what;
    } cases[] = {
        { PAGE, PAGE, 0, "the real geometry" },
        { PAGE, 0, PRT_RING_CORRUPT, "size 0" },
        { PAGE, 4097, PRT_RING_CORRUPT, "size 4097, not a power of two" },
        { PAGE, 6144, PRT_RING_CORRUPT, "size 6144, not a power of two" },
        { PAGE, 2048, PRT_RING_CORRUPT, "size 2048, below the minimum" },
        { PAGE, 8192, PRT_RING_CORRUPT, "size 8192, past the mapping" },
        { PAGE, 1ULL << 63, PRT_RING_CORRUPT, "size 2^63" },
        { 8, PAGE, PRT_RING_CORRUPT, "offset 8, misaligned" },
        { 16, PAGE, 0, "offset 16, aligned and inside" },
        { PAGE + 16, PAGE, PRT_RING_CORRUPT, "runs 16 bytes past the end" },
        { 2 * PAGE, PAGE, PRT_RING_CORRUPT, "offset at the mapping end" },
        { 3 * PAGE, PAGE, PRT_RING_CORRUPT, "offset outside the mapping" },
        { 0 - (uint64_t) PAGE, 2 * PAGE, PRT_RING_CORRUPT,
          "offset + size overflows to a small number" },
        { 0 - (uint64_t) 16, 1ULL << 62, PRT_RING_CORRUPT,
          "offset near 2^64" },
    };
    prt_ring_t        ring;
    prt_bcast_t       bcast;
    prt_ring_view_t   v;
    prt_bcast_view_t  bv;
    size_t            i;
    int               rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&ring, 0, sizeof(ring));
        ring.data_offset = cases[i].off;
        ring.size = cases[i].size;
        rc = prt_ring_attach(&v, a->base, a->size, &ring, 0);
        is_int(rc, cases[i].want, "ring attach: %s", cases[i].what);
        if (rc == 0) {
            ok(v.data == a->base + cases[i].off && v.size == cases[i].size
               && v.mask == cases[i].size - 1,
               "ring attach: private geometry copied");
        }

        memset(&bcast, 0, sizeof(bcast));
        bcast.data_offset = cases[i].off;
        bcast.size = cases[i].size;
        is_int(prt_bcast_attach(&bv, a->base, a->size, &bcast),
               cases[i].want, "bcast attach: %s", cases[i].what);
    }

    /* the view keeps its private copy: the peer changing size afterwards
     * does not move the reads */
    arena_reset(a, 0);
    prt_ring_attach(&v, a->base, a->size, a->ring, 0);
    a->ring->size = 1ULL << 40;
    a->ring->data_offset = 0;
    is_int(v.size, a->data_size, "geometry changed after attach is ignored");
    arena_reset(a, 0);
}

/*
 * Positions are 16-byte aligned by construction, but at attach time the
 * consumer takes head, the producer tail and a broadcast reader tail from
 * shared memory, where the peer may have put anything.
 */
static void
test_unaligned_positions(arena_t *a)
{
    prt_ring_view_t   prod, cons;
    prt_bcast_view_t  bv;
    bprobe_t          pr_b = { a, &bv };
    uint64_t          odd = 4 * a->data_size - 8;

    /* a ring view never exists at a misaligned position: attach refuses */
    arena_reset(a, odd);
    a->ring->tail = odd + 32;
    is_int(prt_ring_attach(&cons, a->base, a->size, a->ring, 0),
           PRT_RING_CORRUPT,
           "consumer attach refuses a head 8 bytes before the wrap");

    arena_reset(a, odd);
    is_int(prt_ring_attach(&prod, a->base, a->size, a->ring, 1),
           PRT_RING_CORRUPT,
           "producer attach refuses a tail 8 bytes before the wrap");

    /* a broadcast reader attaches anywhere: its reads guard themselves */
    arena_reset(a, odd);
    if (prt_bcast_attach(&bv, a->base, a->size, a->bcast) == 0) {
        a->bcast->tail = odd + 32;
        a->bcast->tail_intent = odd + 32;
        expect_guarded(probe_bcast_read, &pr_b, PRT_RING_CORRUPT,
                       "broadcast reader attached at a tail 8 bytes before "
                       "the wrap: read stays inside the log");
    } else {
        ok(1, "broadcast attach refuses a misaligned tail");
    }

    /* resync takes tail from shared memory too, long after attach */
    arena_reset(a, 0);
    if (prt_bcast_attach(&bv, a->base, a->size, a->bcast) != 0) {
        ok(0, "attach");
        return;
    }
    a->bcast->tail = odd;
    prt_bcast_resync(&bv);
    a->bcast->tail = odd + 32;
    a->bcast->tail_intent = odd + 32;
    expect_guarded(probe_bcast_read, &pr_b, PRT_RING_CORRUPT,
                   "broadcast reader resynchronised to a tail 8 bytes "
                   "before the wrap: read stays inside the log");
    arena_reset(a, 0);
}

/* Random garbage in tail/head and in the ring bytes, many rounds, in one
 * child: nothing may be read or written outside the ring. */
static int
fuzz_consumer(void *arg)
{
    arena_t          *a = arg;
    prt_ring_view_t   v;
    prt_rec_t         rec;
    const uint8_t    *payload;
    uint64_t          r = 1, pos;
    int               i, k, rc;

    for (i = 0; i < 100000; i++) {
        r = mix64(r);
        pos = (r >> 3) & ~(uint64_t) 15;
        arena_reset(a, pos);
        fill_bytes(a->data + (r % 64) * 64, 64, r);
        if (i % 4 == 0) {
            /* sprinkle plausible headers */
            for (k = 0; k < 8; k++) {
                prt_rec_t *h = (prt_rec_t *) (a->data
                               + (mix64(r + k) % (a->data_size / 16)) * 16);
                h->len = (uint32_t) (mix64(r ^ k) % (a->data_size + 64));
                h->type = (uint16_t) (k & 1);
            }
        }
        switch (r % 4) {
        case 0: a->ring->tail = pos + (mix64(r + 1) % (a->data_size + 64));
                break;
        case 1: a->ring->tail = pos + (mix64(r + 1) % 64) * 16; break;
        case 2: a->ring->tail = mix64(r + 1); break;
        default: a->ring->tail = pos - (mix64(r + 1) % 64); break;
        }
        if (prt_ring_attach(&v, a->base, a->size, a->ring, 0) != 0) {
            return 1;
        }
        for (k = 0; k < 8; k++) {
            rc = prt_ring_peek(&v, &rec, &payload);
            escape(&rec);
            if (rc != PRT_RING_OK) {
                break;
            }
            if (!payload_inside(a, payload, rec.len)) {
                return PROBE_ESCAPED;
            }
            prt_ring_advance(&v, &rec);
        }
    }
    return 0;
}

static int
fuzz_producer(void *arg)
{
    arena_t          *a = arg;
    prt_ring_view_t   v;
    uint8_t          *payload;
    uint64_t          r = 7, pos;
    uint32_t          len;
    int               i;

    for (i = 0; i < 100000; i++) {
        r = mix64(r);
        pos = (r >> 3) & ~(uint64_t) 15;
        arena_reset(a, pos);
        a->ring->head = (r % 3 == 0) ? mix64(r + 1)
                        : pos - (mix64(r + 1) % (a->data_size + 64));
        if (prt_ring_attach(&v, a->base, a->size, a->ring, 1) != 0) {
            return 1;
        }
        len = (uint32_t) (mix64(r + 2) % (a->data_size / 4));
        if (prt_ring_reserve(&v, len, &payload) == PRT_RING_OK) {
            if (!payload_inside(a, payload, len)) {
                return PROBE_ESCAPED;
            }
            memset(payload, 0x11, len);
            prt_ring_commit(&v, len, 1, 0, 0);
        }
    }
    return 0;
}

static int
fuzz_bcast_reader(void *arg)
{
    arena_t           *a = arg;
    prt_bcast_view_t   v;
    prt_rec_t          rec;
    uint8_t            buf[PAGE];
    uint64_t           r = 11, pos;
    int                i, k, rc;

    for (i = 0; i < 100000; i++) {
        r = mix64(r);
        pos = (r >> 3) & ~(uint64_t) 15;
        arena_reset(a, pos);
        fill_bytes(a->data + (r % 64) * 64, 64, r);
        for (k = 0; k < 8; k++) {
            prt_rec_t *h = (prt_rec_t *) (a->data
                           + (mix64(r + k) % (a->data_size / 16)) * 16);
            h->len = (uint32_t) (mix64(r ^ k) % (a->data_size + 64));
            h->type = (uint16_t) (k & 1);
        }
        if (prt_bcast_attach(&v, a->base, a->size, a->bcast) != 0) {
            return 1;
        }
        a->bcast->tail = (r % 5 == 0) ? mix64(r + 1)
                         : pos + (mix64(r + 1) % (a->data_size + 64));
        a->bcast->tail_intent = (r % 7 == 0) ? mix64(r + 2)
                                : a->bcast->tail;
        for (k = 0; k < 8; k++) {
            rc = prt_bcast_read(&v, &rec, buf, (uint32_t) (r % 2 ? PAGE : 64));
            escape(&rec);
            escape(buf);
            if (rc != PRT_RING_OK) {
                break;
            }
        }
    }
    return 0;
}

static void
test_fuzz(arena_t *a)
{
    expect_guarded(fuzz_consumer, a, 0,
                   "100k rounds of random tail and ring bytes: peek stays "
                   "inside the ring");
    expect_guarded(fuzz_producer, a, 0,
                   "100k rounds of random head: reserve stays inside the "
                   "ring");
    expect_guarded(fuzz_bcast_reader, a, 0,
                   "100k rounds of random tail, tail_intent and log bytes: "
                   "broadcast read stays inside the log");
    arena_reset(a, 0);
}


/* ---- broadcast log ------------------------------------------------------ */

static int
bcast_put(prt_bcast_view_t *w, uint32_t id, uint32_t len)
{
    uint8_t  buf[PAGE];

    fill_bytes(buf, len, id);
    return prt_bcast_write(w, 2, 0, id, buf, len);
}

/* PRT_RING_OK and the record is message id of len bytes */
static int
bcast_get(prt_bcast_view_t *r, uint32_t *id)
{
    prt_rec_t  rec;
    uint8_t    buf[PAGE];
    int        rc;

    rc = prt_bcast_read(r, &rec, buf, sizeof(buf));
    if (rc == PRT_RING_OK) {
        *id = rec.id;
        if (rec.type != 2 || !bytes_match(buf, rec.len, rec.id)) {
            return 99;
        }
    }
    return rc;
}

static void
test_bcast_cursors(arena_t *a)
{
    prt_bcast_view_t  w, r1, r2;
    uint8_t           big[PAGE] = { 0 };
    uint32_t          id = 0, i;
    int               good = 1;

    arena_reset(a, 64);
    prt_bcast_attach(&w, a->base, a->size, a->bcast);
    prt_bcast_attach(&r1, a->base, a->size, a->bcast);

    for (i = 1; i <= 3; i++) {
        bcast_put(&w, i, 10 * i);
    }
    is_int(a->bcast->published, 3, "published counts records");
    is_int(a->bcast->tail, 64 + REC_SPACE(10) + REC_SPACE(20) + REC_SPACE(30),
           "tail after three records");
    is_int(a->bcast->tail_intent, a->bcast->tail,
           "tail_intent equals tail when no write is in progress");

    prt_bcast_attach(&r2, a->base, a->size, a->bcast);
    is_int(bcast_get(&r2, &id), PRT_RING_EMPTY,
           "a reader attached later starts at now");

    for (i = 1; i <= 3; i++) {
        good &= bcast_get(&r1, &id) == PRT_RING_OK && id == i;
    }
    ok(good, "the first reader gets records 1..3 in order");
    is_int(bcast_get(&r1, &id), PRT_RING_EMPTY, "then nothing");

    bcast_put(&w, 4, 0);
    bcast_put(&w, 5, 1000);
    good = bcast_get(&r2, &id) == PRT_RING_OK && id == 4;
    good &= bcast_get(&r2, &id) == PRT_RING_OK && id == 5;
    ok(good, "the second reader gets 4 and 5");
    good = bcast_get(&r1, &id) == PRT_RING_OK && id == 4;
    good &= bcast_get(&r1, &id) == PRT_RING_OK && id == 5;
    ok(good, "the first reader too, at its own cursor");
    is_int(prt_bcast_write(&w, 2, 0, 6, big,
                           prt_ring_max_payload(a->data_size) + 1),
           PRT_RING_FULL, "a record over the max payload is refused");
}

static void
test_bcast_lap(arena_t *a)
{
    prt_bcast_view_t  w, r;
    uint32_t          max = prt_ring_max_payload(a->data_size), id = 0, i;
    int               good = 1;

    arena_reset(a, 0);
    prt_bcast_attach(&w, a->base, a->size, a->bcast);
    prt_bcast_attach(&r, a->base, a->size, a->bcast);

    for (i = 1; i <= 4; i++) {
        bcast_put(&w, i, max);
    }
    is_int(a->bcast->tail, a->data_size, "four largest records: one lap");
    for (i = 1; i <= 4; i++) {
        good &= bcast_get(&r, &id) == PRT_RING_OK && id == i;
    }
    ok(good, "exactly one lap behind, every record is still readable");

    for (i = 5; i <= 9; i++) {
        bcast_put(&w, i, max);
    }
    is_int(bcast_get(&r, &id), PRT_RING_LAPPED,
           "a fifth record overwrote the oldest: LAPPED");
    is_int(bcast_get(&r, &id), PRT_RING_LAPPED, "until resynchronised");
    prt_bcast_resync(&r);
    is_int(r.pos, a->bcast->tail, "resync jumps to now");
    is_int(bcast_get(&r, &id), PRT_RING_EMPTY, "nothing new after resync");
    bcast_put(&w, 10, 33);
    ok(bcast_get(&r, &id) == PRT_RING_OK && id == 10,
       "the next record arrives normally");
}

/* A write in progress announces its end in tail_intent before touching the
 * bytes; a reader that copied a record must notice when that end reaches
 * past one lap from the record's start. */
static void
test_bcast_overwrite(arena_t *a)
{
    prt_bcast_view_t  w, r;
    uint32_t          id = 0;
    uint64_t          start = 10 * a->data_size + 128;

    arena_reset(a, start);
    prt_bcast_attach(&w, a->base, a->size, a->bcast);
    prt_bcast_attach(&r, a->base, a->size, a->bcast);
    bcast_put(&w, 1, 40);
    bcast_put(&w, 2, 40);

    a->bcast->tail_intent = start + a->data_size + 1;
    is_int(bcast_get(&r, &id), PRT_RING_LAPPED,
           "intent one byte into the record's next lap: overwritten");
    is_int(r.pos, start, "the cursor did not move past it");

    a->bcast->tail_intent = start + a->data_size;
    ok(bcast_get(&r, &id) == PRT_RING_OK && id == 1,
       "intent exactly one lap ahead: the record is still whole");

    a->bcast->tail_intent = start + REC_SPACE(40) + a->data_size + 16;
    is_int(bcast_get(&r, &id), PRT_RING_LAPPED,
           "the second record overwritten while being read");

    a->bcast->tail_intent = a->bcast->tail;
    ok(bcast_get(&r, &id) == PRT_RING_OK && id == 2,
       "intent back at tail: readable");

    a->bcast->tail_intent = r.pos - 16;
    bcast_put(&w, 3, 40);
    a->bcast->tail_intent = r.pos - 16;
    is_int(bcast_get(&r, &id), PRT_RING_LAPPED,
           "intent behind the reader (hostile) is treated as overwritten");
}

static void
test_bcast_padding(arena_t *a)
{
    prt_bcast_view_t  w, r;
    prt_rec_t        *raw;
    bprobe_t          pr = { a, &r };
    uint32_t          id = 0;
    uint64_t          start = 3 * a->data_size - 48;

    arena_reset(a, start);
    prt_bcast_attach(&w, a->base, a->size, a->bcast);
    prt_bcast_attach(&r, a->base, a->size, a->bcast);

    is_int(bcast_put(&w, 1, 100), PRT_RING_OK,
           "a 100-byte record 48 bytes before the wrap");
    is_int(raw_rec(a, start)->type, PRT_REC_PAD, "padding up to the wrap");
    is_int(raw_rec(a, start)->len, 48 - HDR, "of the right length");
    is_int(raw_rec(a, 0)->id, 1, "the record at offset 0");
    is_int(a->bcast->tail, start + 48 + REC_SPACE(100),
           "tail = padding + record");
    ok(bcast_get(&r, &id) == PRT_RING_OK && id == 1,
       "the reader skips the padding and gets the record");
    is_int(r.pos, a->bcast->tail, "its cursor is at tail");

    /* hostile variants, each from a clean log */
    arena_reset(a, 0);
    prt_bcast_attach(&r, a->base, a->size, a->bcast);
    raw = (prt_rec_t *) a->data;
    memset(raw, 0, HDR);
    raw->type = PRT_REC_PAD;
    raw->len = 16;
    a->bcast->tail = a->bcast->tail_intent = 128;
    expect_guarded(probe_bcast_read, &pr, PRT_RING_CORRUPT,
                   "padding not ending at the wrap -> CORRUPT");

    raw->type = 2;
    raw->len = 500;
    expect_guarded(probe_bcast_read, &pr, PRT_RING_CORRUPT,
                   "a record running past tail -> CORRUPT");

    arena_reset(a, 2 * a->data_size);
    prt_bcast_attach(&r, a->base, a->size, a->bcast);
    a->bcast->tail = a->bcast->tail_intent = 2 * a->data_size - 64;
    expect_guarded(probe_bcast_read, &pr, PRT_RING_CORRUPT,
                   "tail behind the reader -> CORRUPT");

    arena_reset(a, a->data_size - 32);
    prt_bcast_attach(&r, a->base, a->size, a->bcast);
    raw = (prt_rec_t *) (a->data + a->data_size - 32);
    memset(raw, 0, HDR);
    raw->type = 2;
    raw->len = 200;
    a->bcast->tail = a->bcast->tail_intent = a->data_size + 512;
    expect_guarded(probe_bcast_read, &pr, PRT_RING_CORRUPT,
                   "a record running past the log end -> CORRUPT");
    arena_reset(a, 0);
}

static void
test_bcast_small_buffer(arena_t *a)
{
    prt_bcast_view_t  w, r;
    prt_rec_t         rec;
    uint8_t           small[64];

    arena_reset(a, 0);
    prt_bcast_attach(&w, a->base, a->size, a->bcast);
    prt_bcast_attach(&r, a->base, a->size, a->bcast);
    bcast_put(&w, 1, 100);
    memset(small, 0, sizeof(small));
    is_int(prt_bcast_read(&r, &rec, small, sizeof(small)), PRT_RING_CORRUPT,
           "a record larger than the reader's buffer -> CORRUPT");
    is_int(r.pos, 0, "the cursor stays");
}


/* ---- multi-process stress ----------------------------------------------- */

typedef struct {
    uint64_t  done;          /* records handled */
    uint64_t  waits;         /* full / empty / sleeps */
    uint64_t  laps;
    uint64_t  gaps;
    uint64_t  wakes;
    uint64_t  caught;        /* LAPPED although tail was within a lap */
    int32_t   error;
    uint32_t  pad0;
    uint64_t  error_seq;
    char      what[120];
} result_t;

typedef struct {
    uint64_t  ready;
    uint64_t  finished;
    uint64_t  cursor;        /* the fast reader's position */
    result_t  r[4];
} shared_t;

static double
stress_factor(void)
{
    const char  *s = getenv("PRT_RING_STRESS");
    double       f = s ? atof(s) : 1.0;

    return f > 0 ? f : 1.0;
}

static double
now_s(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Spin briefly, then yield, then sleep: both sides share 2 cores. */
static void
backoff(unsigned *spins)
{
    struct timespec  ts = { 0, 2000 };

    if (++*spins < 16) {
        return;                  /* just look again */
    }
    if (*spins < 64) {
        sched_yield();
    } else {
        nanosleep(&ts, NULL);
    }
}

static void
fail(result_t *res, uint64_t seq, const char *what)
{
    if (res->error == 0) {
        res->error_seq = seq;
        snprintf(res->what, sizeof(res->what), "%s", what);
        __atomic_store_n(&res->error, 1, __ATOMIC_RELEASE);
    }
}

static pid_t
spawn(void (*fn)(void *), void *arg)
{
    pid_t  pid;

    fflush(stdout);
    pid = fork();
    if (pid == -1) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    return pid;
}

static int
any_error(const shared_t *sh)
{
    for (size_t i = 0; i < sizeof(sh->r) / sizeof(sh->r[0]); i++) {
        if (__atomic_load_n(&sh->r[i].error, __ATOMIC_ACQUIRE)) {
            return 1;
        }
    }
    return 0;
}

/* Waits for all children; kills them after limit seconds or as soon as one
 * reports an error (its peer would wait forever). Returns 0 when all exited
 * with status 0 in time. */
static int
reap(pid_t *pids, int n, double limit, const shared_t *sh)
{
    double  deadline = now_s() + limit;
    int     left = n, status, bad = 0, i;
    pid_t   pid;

    while (left > 0) {
        pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (i = 0; i < n; i++) {
                if (pids[i] == pid) {
                    pids[i] = 0;
                    left--;
                    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        printf("#   child %d ended with status 0x%x\n",
                               (int) pid, status);
                        bad = 1;
                    }
                }
            }
            continue;
        }
        if (any_error(sh) || now_s() > deadline) {
            if (!any_error(sh)) {
                printf("#   children still running after %.0f s: killed\n",
                       limit);
            }
            for (i = 0; i < n; i++) {
                if (pids[i] > 0) {
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], &status, 0);
                }
            }
            return -1;
        }
        usleep(2000);
    }
    return bad ? -1 : 0;
}

static void
report_failure(const result_t *res, const char *who)
{
    if (res->error) {
        printf("#   %s: %s at seq %llu\n", who, res->what,
               (unsigned long long) res->error_seq);
    }
}

typedef struct {
    arena_t   *a;
    shared_t  *sh;
    uint64_t   n;
    int        bell_fd;      /* -1: busy-poll with backoff */
    int        reader;       /* broadcast reader index / speed */
} stress_t;

static int
send_bell(int fd)
{
    char  c = PRT_BELL_REQ;

    while (send(fd, &c, 1, 0) != 1) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Sleeps until the doorbell rings (or 5 s: a lost wake-up), drains it. */
static int
wait_bell(int fd)
{
    struct pollfd  pfd = { fd, POLLIN, 0 };
    char           buf[64];
    int            n;

    do {
        n = poll(&pfd, 1, 5000);
    } while (n == -1 && errno == EINTR);
    if (n != 1) {
        return -1;
    }
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
        /* one wake-up however many bells */
    }
    return 0;
}

static void
spsc_producer(void *arg)
{
    stress_t         *st = arg;
    result_t         *res = &st->sh->r[0];
    prt_ring_view_t   v;
    uint8_t          *p;
    uint32_t          max, len, extra;
    uint64_t          seq;
    unsigned          spins = 0;
    int               rc;
    struct timespec   nap = { 0, 20000 };

    if (prt_ring_attach(&v, st->a->base, st->a->size, st->a->ring, 1) != 0) {
        fail(res, 0, "attach");
        return;
    }
    max = prt_ring_max_payload(v.size);

    for (seq = 0; seq < st->n; seq++) {
        len = msg_len(seq, max);
        /* sometimes reserve more than is committed */
        extra = (seq % 3 == 0) ? (max - len < 40 ? max - len : 40) : 0;
        while ((rc = prt_ring_reserve(&v, len + extra, &p)) == PRT_RING_FULL) {
            res->waits++;
            backoff(&spins);
        }
        if (rc != PRT_RING_OK) {
            fail(res, seq, "reserve failed");
            return;
        }
        spins = 0;
        msg_build(p, seq, len);
        if (prt_ring_commit(&v, len, msg_type(seq), msg_flags(seq),
                            (uint32_t) seq))
        {
            res->wakes++;
            if (st->bell_fd != -1 && send_bell(st->bell_fd) != 0) {
                fail(res, seq, "doorbell send failed");
                return;
            }
        }
        /* with a doorbell: pause now and then so the consumer drains the
         * ring and goes to sleep, which is the race under test */
        if (st->bell_fd != -1 && mix64(seq) % 97 == 0) {
            if (seq & 1) {
                nanosleep(&nap, NULL);
            } else {
                sched_yield();
            }
        }
    }
    res->done = seq;
}

static void
spsc_consumer(void *arg)
{
    stress_t         *st = arg;
    result_t         *res = &st->sh->r[1];
    prt_ring_view_t   v;
    prt_rec_t         rec;
    const uint8_t    *payload;
    uint32_t          max, batch = 0;
    uint64_t          seq = 0;
    unsigned          spins = 0;
    int               rc, bad;

    if (prt_ring_attach(&v, st->a->base, st->a->size, st->a->ring, 0) != 0) {
        fail(res, 0, "attach");
        return;
    }
    max = prt_ring_max_payload(v.size);

    while (seq < st->n) {
        rc = prt_ring_peek(&v, &rec, &payload);
        if (rc == PRT_RING_OK) {
            bad = msg_check(&rec, payload, seq, max);
            if (bad) {
                fail(res, seq, bad == 1 ? "wrong header (order/size)"
                               : bad == 2 ? "wrong sequence number"
                               : bad == 3 ? "checksum mismatch"
                               : "content mismatch");
                return;
            }
            prt_ring_advance(&v, &rec);
            seq++;
            spins = 0;
            /* hand space back in batches of varying size */
            if (++batch >= 1 + seq % 13) {
                prt_ring_release(&v);
                batch = 0;
            }
            continue;
        }
        if (rc != PRT_RING_EMPTY) {
            fail(res, seq, "peek: ring corrupt");
            return;
        }
        batch = 0;
        if (prt_ring_release(&v)) {
            continue;            /* more arrived: no bell was rung for it */
        }
        res->waits++;
        if (st->bell_fd == -1) {
            backoff(&spins);
        } else if (wait_bell(st->bell_fd) != 0) {
            fail(res, seq, "lost wake-up: no doorbell within 5 s while the "
                           "ring was empty");
            return;
        }
    }
    prt_ring_release(&v);
    res->done = seq;
}

static void
stress_spsc(uint64_t n, int with_bells)
{
    arena_t    a;
    shared_t  *sh;
    stress_t   st;
    pid_t      pids[2];
    int        sv[2] = { -1, -1 };
    double     t0;
    int        rc;

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || arena_open(&a, 16384) != 0) {
        ok(0, "stress setup");
        return;
    }
    memset(sh, 0, sizeof(*sh));
    arena_reset(&a, 0);

    if (with_bells && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) {
        perror("socketpair");
        ok(0, "doorbell socketpair");
        return;
    }

    st.a = &a;
    st.sh = sh;
    st.n = n;
    t0 = now_s();
    st.bell_fd = sv[0];
    pids[0] = spawn(spsc_producer, &st);
    st.bell_fd = with_bells ? sv[1] : -1;
    pids[1] = spawn(spsc_consumer, &st);
    if (with_bells) {
        close(sv[0]);
        close(sv[1]);
    }
    rc = reap(pids, 2, 60, sh);

    report_failure(&sh->r[0], "producer");
    report_failure(&sh->r[1], "consumer");
    ok(rc == 0 && sh->r[0].error == 0 && sh->r[1].error == 0,
       "%s: producer and consumer processes finished cleanly",
       with_bells ? "doorbell stress" : "spsc stress");
    is_int(sh->r[1].done, n, "%s: the consumer verified all %llu records "
           "(order, size, header, checksum, content)",
           with_bells ? "doorbell stress" : "spsc stress",
           (unsigned long long) n);
    is_int(a.ring->produced, n, "produced counter");
    is_int(a.ring->consumed, n, "consumed counter");
    if (with_bells) {
        ok(sh->r[1].waits > 10, "the consumer slept on the doorbell %llu "
           "times (the race was exercised)",
           (unsigned long long) sh->r[1].waits);
    } else {
        ok(sh->r[0].waits > 0 && sh->r[1].waits > 0,
           "both sides waited (full %llu, empty %llu)",
           (unsigned long long) sh->r[0].waits,
           (unsigned long long) sh->r[1].waits);
    }
    printf("# %s: %llu records in %.2f s, producer waits %llu, consumer "
           "waits %llu, wake-ups asked %llu\n",
           with_bells ? "doorbell" : "spsc", (unsigned long long) n,
           now_s() - t0, (unsigned long long) sh->r[0].waits,
           (unsigned long long) sh->r[1].waits,
           (unsigned long long) sh->r[0].wakes);

    arena_close(&a);
    munmap(sh, sizeof(*sh));
}

#define READERS 3

/*
 * Holds the producer, for a few microseconds at most, while its next
 * record would lap the fast reader: that reader then runs right at the
 * edge of the lap, where the producer overwrites the very record it is
 * copying. That race is what tail_intent exists for.
 */
static void
hover(stress_t *st, const prt_bcast_view_t *v, uint64_t next_seq)
{
    uint64_t  space, idx, end;
    int       i;

    space = REC_SPACE(msg_len(next_seq, prt_ring_max_payload(v->size)));
    idx = v->pos & v->mask;
    end = v->pos + space + (idx + space > v->size ? v->size - idx : 0);

    for (i = 0; i < 4000; i++) {
        if (end - __atomic_load_n(&st->sh->cursor, __ATOMIC_ACQUIRE)
            <= v->size)
        {
            return;
        }
    }
}

/* Busy-waits ns nanoseconds from the previous call. */
static void
pace(long ns)
{
    static struct timespec  last;
    struct timespec         t;
    long                    d;

    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
        d = (t.tv_sec - last.tv_sec) * 1000000000L
            + (t.tv_nsec - last.tv_nsec);
    } while (d >= 0 && d < ns);
    last = t;
}

static void
bcast_producer(void *arg)
{
    stress_t          *st = arg;
    result_t          *res = &st->sh->r[READERS];
    prt_bcast_view_t   v;
    uint8_t            buf[PAGE];
    uint32_t           max, len;
    uint64_t           seq;

    if (prt_bcast_attach(&v, st->a->base, st->a->size, st->a->bcast) != 0) {
        fail(res, 0, "attach");
        return;
    }
    max = prt_ring_max_payload(v.size);
    while (__atomic_load_n(&st->sh->ready, __ATOMIC_ACQUIRE) < READERS) {
        sched_yield();
    }

    for (seq = 0; seq < st->n; seq++) {
        len = msg_len(seq, max);
        msg_build(buf, seq, len);
        if (prt_bcast_write(&v, msg_type(seq), msg_flags(seq),
                            (uint32_t) seq, buf, len) != PRT_RING_OK)
        {
            fail(res, seq, "write failed");
            return;
        }
        /* unpaced, the producer fills a 4 KiB log faster than a reader
         * can be scheduled and nobody reads at all */
        pace(500);
        hover(st, &v, seq + 1);
        if (seq % 256 == 0) {
            sched_yield();
        }
    }
    res->done = seq;
    __atomic_store_n(&st->sh->finished, 1, __ATOMIC_RELEASE);
}

/* after a record: reader 2 naps now and then */
static void
reader_pace(int reader, uint64_t count)
{
    struct timespec  nap = { 0, 50000 };

    if (reader == 2 && count % 8 == 0) {
        nanosleep(&nap, NULL);
    }
}

/* on an empty log: reader 0 spins (a nap would let the producer lap it
 * every time), reader 1 yields, reader 2 backs off to sleeping */
static void
reader_idle(int reader, unsigned *spins)
{
    if (reader == 1) {
        sched_yield();
    } else if (reader == 2) {
        backoff(spins);
    }
}

static void
bcast_reader(void *arg)
{
    stress_t          *st = arg;
    result_t          *res = &st->sh->r[st->reader];
    prt_bcast_view_t   v;
    prt_rec_t          rec;
    uint8_t            buf[PAGE];
    uint32_t           max;
    uint64_t           seq, prev = 0, tail0, pos0;
    unsigned           spins = 0;
    int                rc, bad, have_prev = 0, finished;

    if (prt_bcast_attach(&v, st->a->base, st->a->size, st->a->bcast) != 0) {
        fail(res, 0, "attach");
        return;
    }
    max = prt_ring_max_payload(v.size);
    __atomic_fetch_add(&st->sh->ready, 1, __ATOMIC_ACQ_REL);

    for ( ;; ) {
        finished = (int) __atomic_load_n(&st->sh->finished, __ATOMIC_ACQUIRE);
        pos0 = v.pos;
        tail0 = __atomic_load_n(&st->a->bcast->tail, __ATOMIC_ACQUIRE);
        rc = prt_bcast_read(&v, &rec, buf, sizeof(buf));

        if (rc == PRT_RING_OK) {
            seq = msg_seq(buf);
            bad = msg_check(&rec, buf, seq, max);
            if (bad) {
                fail(res, seq, "a torn or corrupt record was accepted");
                return;
            }
            if (have_prev && seq != prev + 1) {
                /* only a lap (and its resync) may skip records */
                if (seq <= prev || res->laps == 0) {
                    fail(res, seq, "out of order without a lap");
                    return;
                }
                res->gaps++;
            }
            prev = seq;
            have_prev = 1;
            res->done++;
            spins = 0;
            if (st->reader == 0) {
                __atomic_store_n(&st->sh->cursor, v.pos, __ATOMIC_RELEASE);
            }
            reader_pace(st->reader, res->done);
            continue;
        }
        if (rc == PRT_RING_LAPPED) {
            res->laps++;
            if (tail0 - pos0 <= v.size) {
                res->caught++;       /* overwritten during the copy */
            }
            prt_bcast_resync(&v);
            if (st->reader == 0) {
                __atomic_store_n(&st->sh->cursor, v.pos, __ATOMIC_RELEASE);
            }
            continue;
        }
        if (rc == PRT_RING_EMPTY) {
            if (finished) {
                break;
            }
            res->waits++;
            reader_idle(st->reader, &spins);
            continue;
        }
        fail(res, have_prev ? prev : 0, "read: log corrupt");
        return;
    }
    /* the last gap check above needs a lap to explain every gap */
    if (res->gaps > res->laps) {
        fail(res, prev, "more gaps than laps");
    }
}

static void
stress_bcast(uint64_t n)
{
    static const char *const names[READERS] = { "fast", "yielding", "slow" };
    arena_t    a;
    shared_t  *sh;
    stress_t   st[READERS + 1];
    pid_t      pids[READERS + 1];
    double     t0;
    int        rc, i;

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || arena_open(&a, PAGE) != 0) {
        ok(0, "stress setup");
        return;
    }
    memset(sh, 0, sizeof(*sh));
    arena_reset(&a, 0);
    t0 = now_s();

    for (i = 0; i <= READERS; i++) {
        st[i].a = &a;
        st[i].sh = sh;
        st[i].n = n;
        st[i].bell_fd = -1;
        st[i].reader = i;
        pids[i] = spawn(i < READERS ? bcast_reader : bcast_producer, &st[i]);
    }
    rc = reap(pids, READERS + 1, 60, sh);

    report_failure(&sh->r[READERS], "producer");
    ok(rc == 0 && sh->r[READERS].error == 0 && sh->r[READERS].done == n,
       "broadcast stress: producer wrote %llu records",
       (unsigned long long) n);
    is_int(a.bcast->published, n, "published counter");
    for (i = 0; i < READERS; i++) {
        report_failure(&sh->r[i], names[i]);
        ok(sh->r[i].error == 0 && sh->r[i].done > 0,
           "%s reader: %llu records intact and in order, %llu laps "
           "detected (%llu while copying), %llu gaps", names[i],
           (unsigned long long) sh->r[i].done,
           (unsigned long long) sh->r[i].laps,
           (unsigned long long) sh->r[i].caught,
           (unsigned long long) sh->r[i].gaps);
    }
    ok(sh->r[2].laps > 0 && sh->r[2].gaps > 0,
       "the slow reader was lapped and it was detected");
    printf("# broadcast: %llu records on a %llu-byte log in %.2f s\n",
           (unsigned long long) n, (unsigned long long) a.data_size,
           now_s() - t0);

    arena_close(&a);
    munmap(sh, sizeof(*sh));
}


int
main(void)
{
    arena_t  a;
    double   f = stress_factor();

    if (arena_open(&a, PAGE) != 0) {
        return 2;
    }

    test_round_trip(&a);
    test_many_sizes(&a);
    test_wrap_padding(&a);
    test_exact_fill(&a);
    test_full(&a);
    test_wake(&a);
    test_oversize(&a);
    test_short_commit(&a);

    test_hostile_consumer_side(&a);
    test_hostile_producer_side(&a);
    test_attach_geometry(&a);
    test_unaligned_positions(&a);
    test_fuzz(&a);

    test_bcast_cursors(&a);
    test_bcast_lap(&a);
    test_bcast_overwrite(&a);
    test_bcast_padding(&a);
    test_bcast_small_buffer(&a);
    arena_close(&a);

    stress_spsc((uint64_t) (3000000 * f), 0);
    stress_spsc((uint64_t) (300000 * f), 1);
    stress_bcast((uint64_t) (1000000 * f));

    return done_testing();
}
