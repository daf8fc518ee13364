/*
 * Pattern Real-Time: the shared-memory layout the engine and the nginx
 * workers agree on (docs/ipc.md explains the design).
 *
 * The engine creates one memfd per engine run (an "epoch"), lays it out as
 *
 *     prt_shm_header_t | prt_slot_t[max_slots] | bcast header | ring data...
 *
 * and passes the fd to each worker over the worker's unix socket, together
 * with the slot it assigned. Every reference inside the mapping is an offset
 * from its start, never a pointer: the two processes map it at different
 * addresses. Each side validates offsets and positions it reads from the
 * other side and keeps its own private copies of the geometry, so a corrupt
 * peer can make a request fail but cannot make the reader touch memory
 * outside the mapping.
 */
#ifndef PATTERN_RT_IPC_H
#define PATTERN_RT_IPC_H

#include <stdint.h>

#define PRT_SHM_MAGIC        0x31304d4853545250ULL   /* "PRTSHM01" */
#define PRT_IPC_VERSION      1
#define PRT_CACHE_LINE       64

/* Ring records are aligned to 16 bytes, the size of their header, so the
 * space left before the end of a ring always fits a padding record. */
#define PRT_REC_ALIGN        16

/* prt_rec_t.flags */
#define PRT_REC_MORE         0x0001   /* another fragment of this message follows */

/* prt_rec_t.type of the record that fills the space up to the wrap */
#define PRT_REC_PAD          0

typedef struct {
    uint32_t  len;        /* payload bytes after this header */
    uint16_t  type;       /* message type (pattern_rt_msg.h) or PRT_REC_PAD */
    uint16_t  flags;
    uint32_t  id;         /* request id chosen by the worker, echoed back */
    uint32_t  reserved;
} prt_rec_t;

/*
 * A single-producer single-consumer byte ring. Positions grow forever
 * (64 bits never wrap in practice); the byte index is pos & (size - 1).
 * The producer owns tail, the consumer owns head; each lives on its own
 * cache line so they do not false-share.
 */
typedef struct {
    _Alignas(PRT_CACHE_LINE) uint64_t tail;   /* written by the producer */
    uint64_t  produced;                       /* records, producer counter */
    uint64_t  full;                           /* "ring full" refusals */
    _Alignas(PRT_CACHE_LINE) uint64_t head;   /* written by the consumer */
    uint64_t  consumed;                       /* records, consumer counter */
    _Alignas(PRT_CACHE_LINE) uint64_t data_offset;  /* set by the engine */
    uint64_t  size;                           /* power of two */
} prt_ring_t;

/*
 * The broadcast log: one producer (the engine), any number of readers, each
 * at its own private cursor. The producer never waits: it announces the end
 * of what it is about to overwrite in tail_intent, writes, then publishes
 * tail. A reader that finds, after copying a record, that tail_intent moved
 * more than a lap past the record's start knows it was overwritten.
 */
typedef struct {
    _Alignas(PRT_CACHE_LINE) uint64_t tail;
    _Alignas(PRT_CACHE_LINE) uint64_t tail_intent;
    uint64_t  published;                      /* records */
    _Alignas(PRT_CACHE_LINE) uint64_t data_offset;
    uint64_t  size;
} prt_bcast_t;

/* One connected worker. */
typedef struct {
    _Alignas(PRT_CACHE_LINE) uint32_t in_use;
    int32_t   worker_pid;
    uint64_t  attached_at_ms;
    /* set by the engine when responses wait for space in resp; the worker
     * rings PRT_BELL_SPACE after consuming while it is set */
    uint32_t  resp_blocked;
    uint32_t  pad0;
    uint64_t  busy;            /* requests refused with E_BUSY (worker side) */
    uint64_t  timeouts;        /* requests that timed out (worker side) */
    prt_ring_t  req;           /* worker -> engine */
    prt_ring_t  resp;          /* engine -> worker */
} prt_slot_t;

typedef struct {
    uint64_t  magic;
    uint32_t  version;
    uint32_t  header_size;     /* sizeof(prt_shm_header_t) */
    uint64_t  epoch;           /* engine run id, also in the hello */
    uint64_t  total_size;
    uint32_t  max_slots;
    uint32_t  slot_size;       /* sizeof(prt_slot_t) */
    uint64_t  slots_offset;
    uint64_t  bcast_offset;    /* of the prt_bcast_t */
    int32_t   engine_pid;
    uint32_t  pad0;
    uint64_t  started_at_ms;
} prt_shm_header_t;

/*
 * Messages on the unix socket (SOCK_SEQPACKET, one message per datagram).
 * The socket carries the memfd, the doorbells and liveness: EOF tells either
 * side that the other is gone.
 */
#define PRT_HELLO_MAGIC      0x4f4c4c4548545250ULL   /* "PRTHELLO" */

typedef struct {               /* engine -> worker, first message, with the fd */
    uint64_t  magic;
    uint32_t  version;
    uint32_t  slot;
    uint64_t  epoch;
    uint64_t  shm_size;
} prt_hello_t;

/* Doorbells: one byte each. A ring is rung only when it goes from empty to
 * non-empty, so a busy ring costs no system calls. */
#define PRT_BELL_REQ         'Q'   /* worker -> engine: request ring has data */
#define PRT_BELL_SPACE       'S'   /* worker -> engine: response ring drained */
#define PRT_BELL_RESP        'R'   /* engine -> worker: response ring has data */
#define PRT_BELL_BCAST       'B'   /* engine -> worker: broadcast log grew */

#endif
