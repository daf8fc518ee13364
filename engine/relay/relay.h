/*
 * Events across the nodes of one PostgreSQL store (docs/scale-out.md,
 * "Events across nodes"): each node NOTIFYs the events it publishes on
 * one channel and LISTENs there for the others', so that a subscriber on
 * any node sees the events of a job that runs on another, and the
 * verifications and prices that other nodes publish.
 *
 * One thread owns one connection; the loop thread only queues and
 * dequeues under a mutex held for a pointer swap. Both queues are bounded:
 * an event that does not fit, or cannot be sent, is dropped, and the other
 * nodes are told that events of this one may be missing (a gap); a node
 * that cannot hear, or hears too much to keep, tells its own subscribers
 * the same (lost). A gap is never silent: E_GAP sends clients to REST.
 */
#ifndef PRT_RELAY_H
#define PRT_RELAY_H

#include <stddef.h>

#include "core/json.h"
#include "core/loop.h"
#include "pattern_rt_msg.h"

typedef struct prt_relay_s  prt_relay_t;

/* On the loop thread: an event another node published. */
typedef void (*prt_relay_event_fn)(void *ctx, const prt_event_hdr_t *hdr,
    const char *json, size_t len);
/* On the loop thread: events of other nodes may have been missed since
 * the last call. */
typedef void (*prt_relay_lost_fn)(void *ctx);

typedef struct {
    prt_loop_t          *loop;
    const char          *conninfo;
    size_t               max_bytes;    /* each queue */
    prt_relay_event_fn   received;
    prt_relay_lost_fn    lost;
    void                *ctx;
} prt_relay_conf_t;

/* Listens before it returns (a few seconds at most when the store is
 * unreachable: then its thread keeps trying, and what it missed meanwhile
 * is a gap), so that nothing published once the engine serves is missed. */
prt_relay_t *prt_relay_new(const prt_relay_conf_t *conf);
void prt_relay_free(prt_relay_t *r);

/* On the loop thread: this node published an event; never blocks. */
void prt_relay_send(prt_relay_t *r, const prt_event_hdr_t *hdr,
    const char *json, size_t len);

void prt_relay_stats_json(prt_relay_t *r, prt_json_t *j);

#endif
