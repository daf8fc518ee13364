/*
 * Pattern Real-Time: the ring algorithms both sides run on the shared memory
 * of pattern_rt_ipc.h. Header-only so the engine and the nginx module run
 * the very same code; no allocation, no system calls.
 *
 * SPSC ring (request and response rings)
 *   The producer reserves space, writes the payload, then commits: the
 *   record header is written and tail is stored. The consumer loads tail,
 *   reads records in place up to it and stores head when done with them.
 *   tail/head are stored and then the other one is loaded sequentially
 *   consistent on both sides (a Dekker pair): either the consumer sees the
 *   new tail before it goes to sleep, or the producer sees that the
 *   consumer had caught up and rings the doorbell. No wake-up is lost.
 *
 * Broadcast log (engine -> every worker)
 *   See prt_bcast_t. The producer never waits for readers; a reader that
 *   falls a lap behind detects it and resynchronises.
 *
 * Every position and length read from shared memory is validated before it
 * is used; a failed check returns PRT_RING_CORRUPT and the caller drops the
 * peer.
 */
#ifndef PATTERN_RT_RING_H
#define PATTERN_RT_RING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pattern_rt_ipc.h"

#define PRT_RING_OK        1
#define PRT_RING_EMPTY     0
#define PRT_RING_FULL      (-1)
#define PRT_RING_CORRUPT   (-2)
#define PRT_RING_LAPPED    (-3)

#define prt_align16(n)     (((uint64_t) (n) + 15) & ~(uint64_t) 15)

/* The largest payload of one record: larger messages are sent as fragments
 * (PRT_REC_MORE) so a ring never has to hold one huge record. */
#define prt_ring_max_payload(size)  ((uint32_t) ((size) / 4 - sizeof(prt_rec_t)))

/* A private view of a ring: geometry copied once and validated, plus the
 * caller's own position (tail for a producer, head for a consumer). */
typedef struct {
    prt_ring_t  *ctl;
    uint8_t     *data;
    uint64_t     size;
    uint64_t     mask;
    uint64_t     pos;        /* our committed position */
    uint64_t     next;       /* reserved / peeked, not yet committed */
    uint64_t     rec;        /* producer: start of the reserved record */
} prt_ring_view_t;

static inline uint64_t
prt_load_acquire(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void
prt_store_release(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline int
prt_is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* Set up a view on geometry the caller knows to be right (the engine, which
 * laid the memory out). */
static inline void
prt_ring_view_init(prt_ring_view_t *v, prt_ring_t *ctl, uint8_t *data,
    uint64_t size, int producer)
{
    v->ctl = ctl;
    v->data = data;
    v->size = size;
    v->mask = size - 1;
    v->pos = producer ? prt_load_acquire(&ctl->tail)
                      : prt_load_acquire(&ctl->head);
    v->next = v->pos;
    v->rec = v->pos;
}

/*
 * Attach to a ring in a mapping of map_size bytes at base (the worker). The
 * geometry is read once and checked to lie inside the mapping; from then on
 * only the private copy is used. Returns 0 or PRT_RING_CORRUPT.
 */
static inline int
prt_ring_attach(prt_ring_view_t *v, uint8_t *base, uint64_t map_size,
    prt_ring_t *ctl, int producer)
{
    uint64_t  off = ctl->data_offset, size = ctl->size;

    if (!prt_is_pow2(size) || size < 4096 || off % PRT_REC_ALIGN != 0
        || off > map_size || size > map_size - off)
    {
        return PRT_RING_CORRUPT;
    }

    prt_ring_view_init(v, ctl, base + off, size, producer);

    /* positions move in whole records: a misaligned one would put a record
     * header across the end of the ring */
    if (v->pos % PRT_REC_ALIGN != 0) {
        return PRT_RING_CORRUPT;
    }
    return 0;
}

/*
 * Producer: reserve room for a record of len payload bytes. On success
 * *payload points at where the payload goes and PRT_RING_OK is returned;
 * nothing is visible to the consumer until prt_ring_commit().
 */
static inline int
prt_ring_reserve(prt_ring_view_t *v, uint32_t len, uint8_t **payload)
{
    uint64_t    head, idx, need, pad;
    prt_rec_t  *pad_rec;

    if (len > prt_ring_max_payload(v->size)) {
        return PRT_RING_FULL;
    }

    head = prt_load_acquire(&v->ctl->head);
    if (head > v->pos || v->pos - head > v->size) {
        return PRT_RING_CORRUPT;
    }

    need = prt_align16(sizeof(prt_rec_t) + len);
    idx = v->pos & v->mask;
    pad = (idx + need > v->size) ? v->size - idx : 0;

    if (v->pos + pad + need - head > v->size) {
        return PRT_RING_FULL;
    }

    if (pad) {
        pad_rec = (prt_rec_t *) (v->data + idx);
        pad_rec->len = (uint32_t) (pad - sizeof(prt_rec_t));
        pad_rec->type = PRT_REC_PAD;
        pad_rec->flags = 0;
        pad_rec->id = 0;
        pad_rec->reserved = 0;
        idx = 0;
    }

    v->rec = v->pos + pad;
    v->next = v->rec + need;
    *payload = v->data + idx + sizeof(prt_rec_t);
    return PRT_RING_OK;
}

/*
 * Producer: publish the reserved record with len payload bytes (at most
 * what was reserved). Returns 1 when the consumer had consumed everything
 * before it (it may be asleep: ring the doorbell).
 */
static inline int
prt_ring_commit(prt_ring_view_t *v, uint32_t len, uint16_t type,
    uint16_t flags, uint32_t id)
{
    uint64_t    old = v->pos, head;
    prt_rec_t  *rec;

    rec = (prt_rec_t *) (v->data + (v->rec & v->mask));
    v->next = v->rec + prt_align16(sizeof(prt_rec_t) + len);
    rec->len = len;
    rec->type = type;
    rec->flags = flags;
    rec->id = id;
    rec->reserved = 0;

    v->pos = v->next;
    __atomic_store_n(&v->ctl->tail, v->pos, __ATOMIC_SEQ_CST);
    v->ctl->produced++;

    head = __atomic_load_n(&v->ctl->head, __ATOMIC_SEQ_CST);
    return head == old;
}

/*
 * Producer: would a message of len bytes, split into fragments of at most
 * prt_ring_max_payload(), fit now? Walks the positions the fragments would
 * take, padding at the wrap included, so a message is written whole or
 * not at all.
 */
static inline int
prt_ring_fits(const prt_ring_view_t *v, size_t len)
{
    uint64_t  head = prt_load_acquire(&v->ctl->head);
    uint64_t  pos = v->pos, need, idx;
    size_t    max = prt_ring_max_payload(v->size), chunk;

    if (head > pos || pos - head > v->size) {
        return 0;
    }
    do {
        chunk = len < max ? len : max;
        need = prt_align16(sizeof(prt_rec_t) + chunk);
        idx = pos & v->mask;
        if (idx + need > v->size) {
            pos += v->size - idx;            /* padding to the wrap */
        }
        pos += need;
        len -= chunk;
    } while (len);

    return pos - head <= v->size;
}

/* Producer convenience: reserve + copy + commit. */
static inline int
prt_ring_write(prt_ring_view_t *v, uint16_t type, uint16_t flags,
    uint32_t id, const void *payload, uint32_t len, int *wake)
{
    uint8_t  *p;
    int       rc;

    rc = prt_ring_reserve(v, len, &p);
    if (rc != PRT_RING_OK) {
        if (rc == PRT_RING_FULL) {
            v->ctl->full++;
        }
        return rc;
    }

    if (len) {
        memcpy(p, payload, len);
    }

    *wake = prt_ring_commit(v, len, type, flags, id);
    return PRT_RING_OK;
}

/*
 * Consumer: look at the next record without consuming it. The payload is
 * read in place and stays valid until prt_ring_release(). Call
 * prt_ring_advance() to step past it.
 */
static inline int
prt_ring_peek(prt_ring_view_t *v, prt_rec_t *rec, const uint8_t **payload)
{
    uint64_t  tail, idx, size;

    tail = prt_load_acquire(&v->ctl->tail);
    if (tail < v->next || tail - v->pos > v->size) {
        return PRT_RING_CORRUPT;
    }

    for ( ;; ) {
        if (v->next == tail) {
            return PRT_RING_EMPTY;
        }

        idx = v->next & v->mask;
        memcpy(rec, v->data + idx, sizeof(prt_rec_t));
        size = prt_align16(sizeof(prt_rec_t) + (uint64_t) rec->len);

        if (size > v->size - idx || size > tail - v->next) {
            return PRT_RING_CORRUPT;
        }

        if (rec->type != PRT_REC_PAD) {
            *payload = v->data + idx + sizeof(prt_rec_t);
            return PRT_RING_OK;
        }

        if (idx + size != v->size) {
            return PRT_RING_CORRUPT;    /* padding must end at the wrap */
        }
        v->next += size;
    }
}

static inline void
prt_ring_advance(prt_ring_view_t *v, const prt_rec_t *rec)
{
    v->next += prt_align16(sizeof(prt_rec_t) + (uint64_t) rec->len);
    v->ctl->consumed++;
}

/*
 * Consumer: hand the space of every advanced record back to the producer.
 * Returns 1 when more records arrived meanwhile (process them before
 * sleeping: the producer did not ring for them).
 */
static inline int
prt_ring_release(prt_ring_view_t *v)
{
    v->pos = v->next;
    __atomic_store_n(&v->ctl->head, v->pos, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&v->ctl->tail, __ATOMIC_SEQ_CST) != v->pos;
}

/* Bytes in use, as the producer sees it (for counters). */
static inline uint64_t
prt_ring_used(const prt_ring_t *ctl)
{
    uint64_t  tail = prt_load_acquire(&ctl->tail);
    uint64_t  head = prt_load_acquire(&ctl->head);

    return tail >= head ? tail - head : 0;
}


/* ---- broadcast log ---------------------------------------------------- */

typedef struct {
    prt_bcast_t  *ctl;
    uint8_t      *data;
    uint64_t      size;
    uint64_t      mask;
    uint64_t      pos;       /* producer: tail; reader: cursor */
} prt_bcast_view_t;

static inline int
prt_bcast_attach(prt_bcast_view_t *v, uint8_t *base, uint64_t map_size,
    prt_bcast_t *ctl)
{
    uint64_t  off = ctl->data_offset, size = ctl->size;

    if (!prt_is_pow2(size) || size < 4096 || off % PRT_REC_ALIGN != 0
        || off > map_size || size > map_size - off)
    {
        return PRT_RING_CORRUPT;
    }

    v->ctl = ctl;
    v->data = base + off;
    v->size = size;
    v->mask = size - 1;
    v->pos = prt_load_acquire(&ctl->tail);   /* readers start at "now" */
    return 0;
}

/* Producer: append one record; never waits. len must not exceed
 * prt_ring_max_payload(size): larger events are fragmented by the caller. */
static inline int
prt_bcast_write(prt_bcast_view_t *v, uint16_t type, uint16_t flags,
    uint32_t id, const void *payload, uint32_t len)
{
    uint64_t    idx, need, pad, end;
    prt_rec_t  *rec;

    if (len > prt_ring_max_payload(v->size)) {
        return PRT_RING_FULL;
    }

    need = prt_align16(sizeof(prt_rec_t) + len);
    idx = v->pos & v->mask;
    pad = (idx + need > v->size) ? v->size - idx : 0;
    end = v->pos + pad + need;

    /* announce what is about to be overwritten before overwriting it */
    __atomic_store_n(&v->ctl->tail_intent, end, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    if (pad) {
        rec = (prt_rec_t *) (v->data + idx);
        rec->len = (uint32_t) (pad - sizeof(prt_rec_t));
        rec->type = PRT_REC_PAD;
        rec->flags = 0;
        rec->id = 0;
        rec->reserved = 0;
        idx = 0;
    }

    rec = (prt_rec_t *) (v->data + idx);
    rec->len = len;
    rec->type = type;
    rec->flags = flags;
    rec->id = id;
    rec->reserved = 0;
    if (len) {
        memcpy(v->data + idx + sizeof(prt_rec_t), payload, len);
    }

    v->pos = end;
    prt_store_release(&v->ctl->tail, end);
    v->ctl->published++;
    return PRT_RING_OK;
}

/*
 * Reader: copy the next record into buf (capacity cap). Returns PRT_RING_OK,
 * PRT_RING_EMPTY, PRT_RING_LAPPED (the reader fell a lap behind or the
 * record was overwritten while being copied: the caller resynchronises with
 * prt_bcast_resync()), or PRT_RING_CORRUPT.
 */
static inline int
prt_bcast_read(prt_bcast_view_t *v, prt_rec_t *rec, uint8_t *buf,
    uint32_t cap)
{
    uint64_t  tail, idx, size, intent;

    for ( ;; ) {
        tail = prt_load_acquire(&v->ctl->tail);
        if (v->pos % PRT_REC_ALIGN != 0) {
            return PRT_RING_CORRUPT;     /* a resync took a misaligned tail */
        }
        if (tail == v->pos) {
            return PRT_RING_EMPTY;
        }
        if (tail < v->pos) {
            return PRT_RING_CORRUPT;
        }
        if (tail - v->pos > v->size) {
            return PRT_RING_LAPPED;
        }

        idx = v->pos & v->mask;
        memcpy(rec, v->data + idx, sizeof(prt_rec_t));
        size = prt_align16(sizeof(prt_rec_t) + (uint64_t) rec->len);

        if (size <= v->size - idx && size <= tail - v->pos
            && (rec->type == PRT_REC_PAD || rec->len <= cap))
        {
            if (rec->type != PRT_REC_PAD && rec->len) {
                memcpy(buf, v->data + idx + sizeof(prt_rec_t), rec->len);
            }
        }

        /* everything copied above is trustworthy only if the producer has
         * not started overwriting it meanwhile */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        intent = __atomic_load_n(&v->ctl->tail_intent, __ATOMIC_RELAXED);
        if (intent - v->pos > v->size) {
            return PRT_RING_LAPPED;
        }

        if (size > v->size - idx || size > tail - v->pos) {
            return PRT_RING_CORRUPT;
        }

        if (rec->type == PRT_REC_PAD) {
            if (idx + size != v->size) {
                return PRT_RING_CORRUPT;
            }
            v->pos += size;
            continue;
        }

        if (rec->len > cap) {
            return PRT_RING_CORRUPT;
        }

        v->pos += size;
        return PRT_RING_OK;
    }
}

static inline void
prt_bcast_resync(prt_bcast_view_t *v)
{
    v->pos = prt_load_acquire(&v->ctl->tail);
}

#endif
