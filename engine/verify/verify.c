#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "events/events.h"
#include "forecast/forecast.h"
#include "index/pattern.h"
#include "jobs/render.h"
#include "jobs/results.h"
#include "verify/verify.h"

/* predictions whose events one turn of the loop publishes */
#define PRT_PUBLISH_SLICE  4096

typedef struct pass_s  pass_t;

/*
 * Memory a pass works in: its records and its grouping. A pass of
 * 100,000 reads about 30 MB of records, and each 4 kB page of a fresh
 * allocation costs a page fault (12-17 us each on a virtual machine), so
 * the verifier keeps the regions between passes (they run one at a time:
 * a pass owns them until it is freed), asks for huge pages (MADV_HUGEPAGE,
 * a hint), 2 MB a fault, and gives back after each pass only the pages
 * beyond what it used: memory follows the last pass, and a pass like the
 * one before finds its pages ready. At start, when predictions are due
 * already, the first pass's are made ready (prt_verifier_prepare).
 */
typedef struct {
    void    *p;
    size_t   bytes;
} region_t;

/* The walk's memory in the keys region, n = due.n. */
typedef struct {
    uint32_t    *order;         /* n: due positions in walk order */
    uint32_t    *sym;           /* n: each record's symbol number */
    uint32_t    *start;         /* n + 1: counts, then where each begins */
    uint8_t     *judged;        /* n: verified or unverifiable this pass */
    uint32_t    *slots;         /* cap, a power of two >= 2n: the hash
                                   table, 0 or 1 + the first due position
                                   of a symbol */
    size_t       cap;
} walk_t;

#define PRT_REGION_ALIGN  ((size_t) 2 << 20)
/* records reserved at once: more grow the region as they are read */
#define PRT_RESERVE_MAX   ((size_t) 1 << 18)

struct prt_verifier_s {
    prt_verifier_conf_t  conf;
    prt_timer_t     timer;
    prt_timer_t     publish_timer;
    pass_t         *publishing;       /* its events are going out */
    region_t        recs;             /* between passes: their memory */
    region_t        keys;
    int             running;          /* a pass is on a worker thread or
                                         publishing */
    int             again;            /* run another when it returns */
    uint64_t        passes;
    uint64_t        verified;
    uint64_t        unverifiable;
    uint64_t        last_checked;
    uint64_t        last_pass_us;
    uint64_t        max_pass_us;
    int64_t         last_clock_ms;
};

/* The text of one prediction's events, rendered on the worker: JSON
 * objects without their opening brace (see prt_events_publish_tail). */
typedef struct {
    size_t   off;
    size_t   verification_len;
    size_t   price_len;                   /* 0: no final price_update */
} tails_t;

struct pass_s {
    prt_task_t        task;
    prt_verifier_t   *v;
    prt_store_t      *store;
    prt_barstore_t   *bars;
    int64_t           now_ms;
    int64_t           grace_ms;
    size_t            limit;
    uint64_t          seq[PRT_N_HORIZONS];  /* last calibration_seq given */
    region_t          recs;           /* due's records */
    region_t          keys;           /* walk's memory */
    walk_t            walk;           /* in keys */
    prt_pred_list_t   due;            /* read from the pending ordering, in
                                         its order (due time, id) */
    prt_pred_list_t   out;            /* verified or unverifiable: the
                                         prefix of due they are moved to,
                                         still in due order */
    int               full;           /* the pass stopped at its limit */
    int               rc;
    int               unrendered;     /* stored, events not rendered */
    char              err[256];
    uint64_t          us;             /* read, verify and commit */
    uint64_t          read_us, sort_us, verify_us, commit_us;  /* its parts */
    uint64_t          render_us;      /* the events' text */
    tails_t          *tails;          /* one per out */
    char             *text;
    size_t            text_len;
    size_t            text_cap;
    size_t            published;      /* out[0..published) told */
};

static void verifier_start(prt_verifier_t *v);

static uint64_t
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


/* ---- the pass (worker thread) ------------------------------------------- */

static size_t
region_round(size_t bytes)
{
    return (bytes + PRT_REGION_ALIGN - 1) & ~(PRT_REGION_ALIGN - 1);
}

/* Room for at least bytes; what it held stays (it may move). */
static int
region_reserve(region_t *r, size_t bytes)
{
    void    *p;
    size_t   want = r->bytes * 2 > bytes ? r->bytes * 2 : bytes;

    if (bytes <= r->bytes) {
        return 0;
    }
    want = region_round(want);
    p = r->p ? mremap(r->p, r->bytes, want, MREMAP_MAYMOVE)
             : mmap(NULL, want, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return -1;
    }
    (void) madvise(p, want, MADV_HUGEPAGE);   /* 4 kB pages without it */
    r->p = p;
    r->bytes = want;
    return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE  23
#endif

/*
 * Room for bytes, its pages faulted in now: at start, so that the first
 * pass does not spend a tenth of itself on the kernel clearing pages.
 */
static void
region_populate(region_t *r, size_t bytes)
{
    if (bytes == 0 || region_reserve(r, bytes) != 0) {
        return;                         /* a pass will try again */
    }
    bytes = region_round(bytes);
    if (madvise(r->p, bytes, MADV_POPULATE_WRITE) != 0) {
        /* before Linux 5.14: touch each page */
        for (size_t off = 0; off < bytes; off += 4096) {
            ((volatile char *) r->p)[off] = 0;
        }
    }
}

/* The pages past the first `used` bytes go back to the kernel (the
 * addresses stay: a later pass faults them in again). */
static void
region_trim(region_t *r, size_t used)
{
    size_t  keep = region_round(used);

    if (r->p && keep < r->bytes) {
        (void) madvise((char *) r->p + keep, r->bytes - keep, MADV_DONTNEED);
    }
}

static void
region_free(region_t *r)
{
    if (r->p) {
        munmap(r->p, r->bytes);
    }
    r->p = NULL;
    r->bytes = 0;
}

/* due.v may hold n records */
static int
due_reserve(pass_t *t, size_t n)
{
    if (region_reserve(&t->recs, n * sizeof(prt_pred_rec_t)) != 0) {
        return prt_kv_set_error(PRT_KV_ERROR, "verification: out of memory");
    }
    t->due.v = t->recs.p;
    t->due.cap = t->recs.bytes / sizeof(prt_pred_rec_t);
    return 0;
}

static int
collect_due(const prt_pred_rec_t *p, void *arg)
{
    pass_t  *t = arg;

    if (t->due.n >= t->limit) {
        t->full = 1;
        return 1;
    }
    if (t->due.n == t->due.cap && due_reserve(t, t->due.n + 1) != 0) {
        return -1;
    }
    t->due.v[t->due.n++] = *p;
    return 0;
}

static int
due_txn(MDB_txn *txn, void *arg)
{
    pass_t  *t = arg;

    return prt_store_pending_due(t->store, txn, t->now_ms, collect_due, t);
}

/*
 * The verification walks due grouped by symbol, so that each (symbol,
 * day) is read from the bar store once: within a symbol, due order is day
 * order (a horizon is at most 60 minutes, so nothing of one day falls due
 * after the next day's first bar). Grouped in O(n): a hash table gives
 * each symbol a number, then a counting sort by it (stable: due order
 * within a symbol), instead of sorting the 296-byte records by (symbol,
 * bar time) with comparisons (a tenth of the pass).
 */
static size_t
walk_cap(size_t n)
{
    size_t  cap = 64;

    while (cap < 2 * n) {
        cap *= 2;
    }
    return cap;
}

static size_t
walk_bytes(size_t n)
{
    return (walk_cap(n) + 3 * n + 1) * sizeof(uint32_t) + n;
}

static int
walk_layout(pass_t *t, walk_t *w)
{
    size_t  n = t->due.n, cap = walk_cap(n);

    if (region_reserve(&t->keys, walk_bytes(n)) != 0) {
        return -1;
    }
    w->slots = t->keys.p;
    w->cap = cap;
    w->order = w->slots + cap;
    w->sym = w->order + n;
    w->start = w->sym + n;
    w->judged = (uint8_t *) (w->start + n + 1);
    return 0;
}

/* due[pos]'s symbol number, given in order of first sight (*nsym). */
static uint32_t
symbol_number(walk_t *w, const prt_pred_rec_t *due, size_t pos,
    uint32_t *nsym)
{
    const char  *symbol = due[pos].symbol;
    uint64_t     h = 14695981039346656037ULL;      /* FNV-1a */

    for (size_t i = 0; i < PRT_SYMBOL_SIZE && symbol[i]; i++) {
        h = (h ^ (uint8_t) symbol[i]) * 1099511628211ULL;
    }
    for (size_t i = (size_t) (h ^ h >> 32) & (w->cap - 1); ;
         i = (i + 1) & (w->cap - 1))
    {
        uint32_t  first = w->slots[i];

        if (first == 0) {
            w->slots[i] = (uint32_t) pos + 1;
            return (*nsym)++;
        }
        if (strncmp(due[first - 1].symbol, symbol, PRT_SYMBOL_SIZE) == 0) {
            return w->sym[first - 1];
        }
    }
}

static int
walk_order(pass_t *t, walk_t *w)
{
    size_t    n = t->due.n;
    uint32_t  nsym = 0, at = 0;

    if (walk_layout(t, w) != 0) {
        return -1;
    }
    memset(w->slots, 0, w->cap * sizeof(*w->slots));
    memset(w->start, 0, (n + 1) * sizeof(uint32_t));
    memset(w->judged, 0, n);
    for (size_t i = 0; i < n; i++) {
        w->sym[i] = symbol_number(w, t->due.v, i, &nsym);
        w->start[w->sym[i]]++;
    }
    for (uint32_t s = 0; s < nsym; s++) {
        uint32_t  c = w->start[s];

        w->start[s] = at;
        at += c;
    }
    for (size_t i = 0; i < n; i++) {
        w->order[w->start[w->sym[i]]++] = (uint32_t) i;
    }
    return 0;
}

/* The bars of one (symbol, day), and the day's times, worked out once. */
typedef struct {
    uint32_t           sym;           /* the walk's symbol number */
    int64_t            start, end;    /* [start, end) of the day, Unix s */
    prt_day_t          day;
    prt_trading_day_t  td;
    int                n;
    prt_bar_t          bars[PRT_BS_DAY_BARS];
} day_cache_t;

static int
load_day(prt_barstore_t *bs, MDB_txn *txn, uint32_t sym,
    const prt_pred_rec_t *p, day_cache_t *c)
{
    c->sym = sym;
    c->day = (prt_day_t) prt_ny_day_of_utc(p->bar_time);
    c->start = prt_ny_day_start_utc(c->day);
    c->end = prt_ny_day_start_utc(c->day + 1);
    prt_calendar_day(c->day, &c->td);
    c->n = prt_barstore_get_day(bs, txn, p->symbol, c->day, c->bars,
                                PRT_BS_DAY_BARS);
    return c->n < 0 ? -1 : 0;
}

static int
same_day(const day_cache_t *c, uint32_t sym, const prt_pred_rec_t *p)
{
    return c->n >= 0 && c->sym == sym && p->bar_time >= c->start
           && p->bar_time < c->end;
}

/*
 * The minute of the day p is verified at: t+h, or the day's last minute
 * (post close - 1) when t+h lies past the end of the extended session
 * (SPEC 6: verified at that day's last bar). Sets *u and returns it.
 */
static int
verify_minute(const day_cache_t *c, const prt_pred_rec_t *p, int *u)
{
    *u = (int) ((p->bar_time - c->start) / 60) + p->horizon;
    if (*u > c->td.post_close - 1) {
        *u = c->td.post_close - 1;
    }
    return *u;
}

/*
 * Due (SPEC 6): a bar of the ticker starting at or after minute u has
 * arrived, i.e. it has ended by the clock (a store filled ahead of a
 * replay's clock holds bars that have not "arrived" yet), or the clock has
 * passed the end of minute u plus the grace. The grace is the time a late
 * bar is waited for, so it starts when the bar could first exist: a
 * minute's bars come in several batches, and the first of them moves a
 * feed clock past the minute while the others are still on their way.
 */
static int
is_due(const pass_t *t, const day_cache_t *c, int u)
{
    int64_t  day_start = c->start;
    int64_t  u_end_ms = (day_start + (int64_t) u * 60 + 60) * 1000;

    if (t->now_ms >= u_end_ms + t->grace_ms) {
        return 1;
    }
    for (int i = c->n - 1; i >= 0 && c->bars[i].minute >= u; i--) {
        if ((day_start + (int64_t) c->bars[i].minute * 60 + 60) * 1000
            <= t->now_ms)
        {
            return 1;
        }
    }
    return 0;
}

/* Verifies p from the cached day, or returns 0 when it is not due yet. */
static int
verify_one(pass_t *t, const day_cache_t *c, prt_pred_rec_t *p)
{
    int      u;
    double   price;

    if (!is_due(t, c, verify_minute(c, p, &u))) {
        return 0;                       /* wait for the bar, or for grace */
    }
    p->verified_at_ms = t->now_ms;

    price = c->n > 0 ? prt_close_at(c->bars, (size_t) c->n, u) : NAN;
    if (!(price > 0) || !isfinite(price) || !(p->price_at_scan > 0)) {
        p->status = PRT_PRED_UNVERIFIABLE;
        snprintf(p->verify_note, sizeof(p->verify_note),
                 "no bar of %s at or before the horizon", p->symbol);
        return 1;
    }
    p->status = PRT_PRED_VERIFIED;
    p->price_at_horizon = price;
    p->actual_return = 100.0 * (price / p->price_at_scan - 1.0);
    if (p->direction == PRT_DIRECTION_UP) {
        p->was_correct = p->actual_return > 0;
        p->pnl = p->actual_return;
    } else {
        p->was_correct = p->actual_return < 0;
        p->pnl = -p->actual_return;
    }
    return 1;
}

/*
 * Verifies due in place in the walk's order, then moves the ones judged
 * to the front, in due order: out[] is that prefix, the order their
 * calibration_seq is numbered and their events are told in.
 */
static int
verify_txn(MDB_txn *txn, void *arg)
{
    pass_t       *t = arg;
    walk_t       *w = &t->walk;
    day_cache_t  *c = malloc(sizeof(*c));
    size_t        n = 0;
    int           rc = 0;

    if (c == NULL) {
        return -1;
    }
    c->n = -1;
    for (size_t i = 0; i < t->due.n && rc == 0; i++) {
        uint32_t         pos = w->order[i];
        prt_pred_rec_t  *p = &t->due.v[pos];

        if (!same_day(c, w->sym[pos], p)) {
            rc = load_day(t->bars, txn, w->sym[pos], p, c);
        }
        if (rc == 0) {
            w->judged[pos] = (uint8_t) verify_one(t, c, p);
        }
    }
    free(c);
    for (size_t i = 0; rc == 0 && i < t->due.n; i++) {
        if (w->judged[i]) {
            if (n != i) {
                t->due.v[n] = t->due.v[i];
            }
            n++;
        }
    }
    /* a view: due's memory is the pass's region */
    t->out.v = t->due.v;
    t->out.n = rc == 0 ? n : 0;
    t->out.cap = 0;
    return rc;
}

static int
text_append(pass_t *t, prt_json_t *j, size_t *len)
{
    const char  *body = prt_json_body(j, len);

    if (prt_json_failed(j) || *len < 2) {
        return -1;
    }
    body++;                             /* the tail: no opening brace */
    (*len)--;
    if (t->text_len + *len > t->text_cap) {
        size_t  cap = (t->text_cap ? t->text_cap * 2 : 65536) + *len;
        char   *text = realloc(t->text, cap);

        if (text == NULL) {
            return -1;
        }
        t->text = text;
        t->text_cap = cap;
    }
    memcpy(t->text + t->text_len, body, *len);
    t->text_len += *len;
    return 0;
}

static void
render_verification(prt_json_t *j, const prt_pred_rec_t *p)
{
    prt_json_open(j);
    prt_json_kuint(j, "prediction_id", p->id);
    prt_json_kstr(j, "symbol", p->symbol);
    prt_json_knum(j, "actual_return", p->actual_return);
    if (p->status == PRT_PRED_VERIFIED) {
        prt_json_kbool(j, "was_correct", p->was_correct == 1);
    } else {
        prt_json_knull(j, "was_correct");
    }
    prt_json_knum(j, "pnl", p->pnl);
    prt_json_ktime(j, "verified_at", p->verified_at_ms);
    prt_json_key(j, "data");
    prt_render_result(j, p);
    prt_json_close(j);
}

/* The last price_update of a prediction: its horizon is reached. */
static void
render_final_price(prt_json_t *j, const prt_pred_rec_t *p)
{
    prt_price_subject_t  s = { p->id, p->symbol, p->direction,
                               p->price_at_scan };

    prt_render_price_update(j, &s, p->price_at_horizon, p->verified_at_ms, 0);
}

/* Renders here so that the loop thread only copies text into the rings:
 * a pass of 100000 verifications would otherwise stall it for seconds. */
static int
render_tails(pass_t *t)
{
    prt_json_t  j;
    int         rc = 0;

    t->tails = calloc(t->out.n, sizeof(*t->tails));
    if (t->tails == NULL || prt_json_init(&j) != 0) {
        return -1;
    }
    for (size_t i = 0; rc == 0 && i < t->out.n; i++) {
        const prt_pred_rec_t  *p = &t->out.v[i];
        tails_t               *tl = &t->tails[i];

        tl->off = t->text_len;
        prt_json_reset(&j);
        render_verification(&j, p);
        rc = text_append(t, &j, &tl->verification_len);
        if (rc == 0 && p->status == PRT_PRED_VERIFIED) {
            prt_json_reset(&j);
            render_final_price(&j, p);
            rc = text_append(t, &j, &tl->price_len);
        }
    }
    prt_json_free(&j);
    return rc;
}

/*
 * Reads what is due, verifies it, stores it and renders its events, all
 * off the loop thread. The store's writes are serialised by LMDB; a chunk
 * commit on the loop thread waits at most for this one transaction, whose
 * size verify_batch bounds.
 */
/* calibration_seq, in the order pass_done feeds the calibrator: called
 * on the predictions this node claimed, so the numbers it stores are the
 * ones its calibrator counts */
static void
number_verified(prt_pred_rec_t *preds, size_t n, void *ctx)
{
    pass_t  *t = ctx;

    for (size_t i = 0; i < n; i++) {
        prt_pred_rec_t  *p = &preds[i];

        if (p->status == PRT_PRED_VERIFIED) {
            p->calibration_seq = ++t->seq[prt_horizon_index(p->horizon)];
        }
    }
}

static void
pass_run(prt_task_t *task)
{
    pass_t    *t = (pass_t *) task;
    uint64_t   t0 = now_us();

    uint64_t   t1, t2, t3;

    t->rc = due_reserve(t, t->limit < PRT_RESERVE_MAX ? t->limit
                                                       : PRT_RESERVE_MAX);
    if (t->rc == 0) {
        t->rc = prt_store_read(t->store, due_txn, t);
    }
    t1 = now_us();
    if (t->rc == 0 && t->due.n && walk_order(t, &t->walk) != 0) {
        t->rc = -1;
        prt_kv_set_error(PRT_KV_ERROR, "verification: out of memory");
    }
    t2 = now_us();
    if (t->rc == 0 && t->due.n) {
        t->rc = prt_barstore_read(t->bars, verify_txn, t);
    }
    t3 = now_us();
    if (t->rc == 0 && t->out.n) {
        /* out[] becomes what this node stored: on PostgreSQL another
         * node may have verified (and told) some of them already */
        t->rc = prt_store_verify_claimed(t->store, t->out.v, &t->out.n,
                                         number_verified, t);
    }
    t->us = now_us() - t0;
    t->read_us = t1 - t0;
    t->sort_us = t2 - t1;
    t->verify_us = t3 - t2;
    t->commit_us = t0 + t->us - t3;
    if (t->rc != 0) {
        snprintf(t->err, sizeof(t->err), "%s", prt_kv_errmsg());
    } else if (t->out.n && render_tails(t) != 0) {
        t->unrendered = 1;              /* stored, but not told */
    }
    t->render_us = now_us() - t0 - t->us;
}


/* ---- events (loop thread) ----------------------------------------------- */

static void
publish_tails(prt_events_t *ev, const prt_pred_rec_t *p, const char *text,
    const tails_t *tl)
{
    const char  *v = text + tl->off, *price = v + tl->verification_len;

    prt_events_publish_tail(ev, PRT_STREAM_JOB, PRT_EVENT_VERIFICATION,
                            "verification", p->job, v, tl->verification_len);
    prt_events_publish_tail(ev, PRT_STREAM_VERIFICATIONS,
                            PRT_EVENT_VERIFICATION, "verification", p->job, v,
                            tl->verification_len);
    if (tl->price_len) {
        prt_events_publish_tail(ev, PRT_STREAM_JOB,
                                PRT_EVENT_PRICE_UPDATE, "price_update",
                                p->job, price, tl->price_len);
        prt_events_publish_tail(ev, PRT_STREAM_PRICES,
                                PRT_EVENT_PRICE_UPDATE, "price_update",
                                p->job, price, tl->price_len);
    }
}

/* Its regions go back to the verifier, for the next pass. */
static void
pass_free(pass_t *t)
{
    region_trim(&t->recs, t->due.n * sizeof(prt_pred_rec_t));
    region_trim(&t->keys, t->due.n ? walk_bytes(t->due.n) : 0);
    t->v->recs = t->recs;
    t->v->keys = t->keys;
    free(t->tails);
    free(t->text);
    free(t);
}

/* The pass is told: the next one may start. */
static void
pass_finish(prt_verifier_t *v, pass_t *t)
{
    /* a full pass that verified nothing read only predictions waiting for
     * their bar: running it again now would find the same */
    int  again = (t->full && t->out.n) || v->again;

    v->publishing = NULL;
    v->running = 0;
    pass_free(t);
    if (again) {
        v->again = 0;
        verifier_start(v);
    }
}

/*
 * Stored first, then told (SPEC 6): the events of PRT_PUBLISH_SLICE
 * predictions per turn of the loop, so that a pass of 100,000 does not
 * hold requests and WebSocket events back for the whole of it.
 */
static void
publish_slice(prt_verifier_t *v, pass_t *t)
{
    size_t  end = t->published + PRT_PUBLISH_SLICE;

    end = end < t->out.n ? end : t->out.n;
    for (size_t i = t->published; i < end; i++) {
        publish_tails(v->conf.events, &t->out.v[i], t->text, &t->tails[i]);
    }
    t->published = end;

    if (end < t->out.n) {
        v->publishing = t;
        prt_timer_start(v->conf.loop, &v->publish_timer, 0);
        return;
    }
    pass_finish(v, t);
}

static void
publish_timer(prt_loop_t *loop, prt_timer_t *timer)
{
    prt_verifier_t  *v = timer->data;

    publish_slice(v, v->publishing);
}

static void
pass_done(prt_task_t *task)
{
    pass_t          *t = (pass_t *) task;
    prt_verifier_t  *v = t->v;

    v->passes++;
    v->last_checked = t->due.n;
    v->last_pass_us = t->us;
    v->max_pass_us = t->us > v->max_pass_us ? t->us : v->max_pass_us;
    prt_hist_observe(&prt_metrics.verify_pass, (double) t->us / 1e6);
    v->last_clock_ms = t->now_ms;

    if (t->rc != 0) {
        /* nothing was stored: the same predictions are due next pass */
        prt_error("verification pass: %s", t->err);
        pass_finish(v, t);
        return;
    }

    for (size_t i = 0; i < t->out.n; i++) {
        const prt_pred_rec_t  *p = &t->out.v[i];

        if (p->status == PRT_PRED_VERIFIED) {
            v->verified++;
            /* committed: later scans calibrate on it */
            if (prt_calibrator_add(v->conf.calib,
                                   prt_horizon_index(p->horizon),
                                   p->verified_at_ms, p->prob_up,
                                   p->actual_return) != 0)
            {
                prt_error("calibration: out of memory");
            }
        } else {
            v->unverifiable++;
        }
    }
    if (t->unrendered) {
        /* clients see the verifications over REST; subscribers miss them */
        prt_error("verified %zu predictions, but rendering their events ran "
                  "out of memory: none sent", t->out.n);
        pass_finish(v, t);
        return;
    }
    if (t->out.n) {
        prt_debug("verified %zu predictions (%zu checked) in %llu us, "
                  "events rendered in %llu us; the pass: read %llu us, "
                  "sort %llu us, verify %llu us, commit %llu us",
                  t->out.n, t->due.n, (unsigned long long) t->us,
                  (unsigned long long) t->render_us,
                  (unsigned long long) t->read_us,
                  (unsigned long long) t->sort_us,
                  (unsigned long long) t->verify_us,
                  (unsigned long long) t->commit_us);
    }
    publish_slice(v, t);
}


/* ---- scheduling --------------------------------------------------------- */

static void
verifier_start(prt_verifier_t *v)
{
    pass_t  *t;

    if (v->running) {
        v->again = 1;
        return;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return;
    }
    t->v = v;
    t->recs = v->recs;                  /* the pass's until pass_free */
    t->keys = v->keys;
    memset(&v->recs, 0, sizeof(v->recs));
    memset(&v->keys, 0, sizeof(v->keys));
    t->store = v->conf.store;
    t->bars = v->conf.bars;
    t->now_ms = prt_clock_now_ms(v->conf.clock);
    t->grace_ms = (int64_t) v->conf.grace_s * 1000;
    t->limit = v->conf.batch;
    /* passes run one at a time and the calibrator is fed in pass_done, in
     * the order of out[]: the sequence continues where it stands */
    for (int h = 0; h < PRT_N_HORIZONS; h++) {
        t->seq[h] = prt_calibrator_count(v->conf.calib, h);
    }
    t->task.run = pass_run;
    t->task.done = pass_done;
    v->running = 1;
    prt_workq_submit(v->conf.workq, &t->task, PRT_LANE_INTERACTIVE);
}

static void
verifier_timer(prt_loop_t *loop, prt_timer_t *timer)
{
    prt_verifier_t  *v = timer->data;

    verifier_start(v);
    prt_timer_start(loop, &v->timer, v->conf.interval_ms);
}

prt_verifier_t *
prt_verifier_new(const prt_verifier_conf_t *conf)
{
    prt_verifier_t  *v = calloc(1, sizeof(*v));

    if (v == NULL) {
        return NULL;
    }
    v->conf = *conf;
    v->timer.handler = verifier_timer;
    v->timer.data = v;
    v->publish_timer.handler = publish_timer;
    v->publish_timer.data = v;
    prt_timer_start(v->conf.loop, &v->timer, v->conf.interval_ms);
    return v;
}

void
prt_verifier_free(prt_verifier_t *v)
{
    if (v) {
        prt_timer_stop(v->conf.loop, &v->timer);
        prt_timer_stop(v->conf.loop, &v->publish_timer);
        if (v->publishing) {
            pass_free(v->publishing);
        }
        region_free(&v->recs);
        region_free(&v->keys);
        free(v);
    }
}

void
prt_verifier_prepare(prt_verifier_t *v, size_t n)
{
    n = n < v->conf.batch ? n : v->conf.batch;
    n = n < PRT_RESERVE_MAX ? n : PRT_RESERVE_MAX;
    if (n && !v->running) {
        region_populate(&v->recs, n * sizeof(prt_pred_rec_t));
        region_populate(&v->keys, walk_bytes(n));
    }
}

void
prt_verifier_ingested(prt_verifier_t *v)
{
    if (v->conf.clock->mode == PRT_CLOCK_FEED) {
        verifier_start(v);
    }
}

void
prt_verifier_kick(prt_verifier_t *v)
{
    verifier_start(v);
}

void
prt_verifier_stats_json(prt_verifier_t *v, prt_json_t *j)
{
    prt_json_open(j);
    prt_json_kuint(j, "passes", v->passes);
    prt_json_kuint(j, "verified", v->verified);
    prt_json_kuint(j, "unverifiable", v->unverifiable);
    prt_json_kuint(j, "last_pass_checked", v->last_checked);
    prt_json_knum(j, "last_pass_ms", (double) v->last_pass_us / 1000.0);
    prt_json_knum(j, "max_pass_ms", (double) v->max_pass_us / 1000.0);
    if (v->last_clock_ms) {
        prt_json_ktime(j, "last_pass_clock", v->last_clock_ms);
    }
    prt_json_kuint(j, "interval_ms", v->conf.interval_ms);
    prt_json_kuint(j, "grace_s", v->conf.grace_s);
    prt_json_close(j);
}

/* Prometheus text of the verifier's counters (docs/metrics.md) */
void
prt_verifier_metrics(prt_verifier_t *v, prt_text_t *t)
{
    prt_text_family(t, "pattern_rt_verifications_total", "counter",
                    "predictions judged by verification passes, by result");
    prt_text_sample(t, "pattern_rt_verifications_total",
                    "result=\"verified\"", (double) v->verified);
    prt_text_sample(t, "pattern_rt_verifications_total",
                    "result=\"unverifiable\"", (double) v->unverifiable);
    prt_text_single(t, "pattern_rt_verification_last_pass_checked", "gauge",
                    "due predictions the last pass checked",
                    (double) v->last_checked);
}
