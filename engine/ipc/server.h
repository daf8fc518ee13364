/*
 * The engine's IPC server: the unix socket the nginx workers connect to,
 * one slot (request ring + response ring) per connected worker, and the
 * broadcast log. Requests are handed to one callback; handlers answer, now
 * or later, with prt_server_respond().
 */
#ifndef PRT_SERVER_H
#define PRT_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/json.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "ipc/shm.h"

typedef struct prt_server_s  prt_server_t;

/* Where a response goes. A worker that reconnects gets a new generation, so
 * an answer to its previous connection is dropped rather than misdelivered. */
typedef struct {
    uint32_t  slot;
    uint32_t  gen;
    uint32_t  id;
} prt_reply_t;

typedef void (*prt_request_fn)(void *ctx, const prt_reply_t *to,
    uint16_t type, const uint8_t *payload, uint32_t len);

typedef struct {
    const char      *socket_path;
    unsigned         socket_mode;        /* e.g. 0660 */
    gid_t            socket_gid;         /* (gid_t) -1: the engine's own */
    prt_shm_conf_t   shm;
    size_t           max_request;        /* reassembled request bytes */
    size_t           max_queued;         /* response bytes waiting per worker */
} prt_server_conf_t;

prt_server_t *prt_server_new(prt_loop_t *loop, const prt_server_conf_t *conf,
    prt_request_fn on_request, void *ctx);
void prt_server_free(prt_server_t *srv);

/* Returns 0 when sent or queued, -1 when the worker is gone. */
int prt_server_respond(prt_server_t *srv, const prt_reply_t *to, int status,
    const char *body, size_t len);
/* The same with response flags (PRT_RESP_*). */
int prt_server_respond_flags(prt_server_t *srv, const prt_reply_t *to,
    int status, uint16_t flags, const char *body, size_t len);

/* Appends an event to the broadcast log (fragmented when large). */
int prt_server_publish(prt_server_t *srv, uint16_t type, const void *payload,
    size_t len);

uint64_t prt_server_epoch(const prt_server_t *srv);
unsigned prt_server_workers(const prt_server_t *srv);
void prt_server_stats_json(prt_server_t *srv, prt_json_t *j);
/* Prometheus text of the engine side of the rings (docs/metrics.md) */
void prt_server_metrics(prt_server_t *srv, prt_text_t *t);

#endif
