/*
 * The engine's side of the shared memory: creates the memfd of one epoch
 * and lays it out (pattern_rt_ipc.h, docs/ipc.md).
 */
#ifndef PRT_SHM_H
#define PRT_SHM_H

#include <stdint.h>

#include "pattern_rt_ipc.h"

typedef struct {
    uint32_t  max_slots;
    uint64_t  req_ring_size;     /* bytes, power of two */
    uint64_t  resp_ring_size;
    uint64_t  bcast_size;
} prt_shm_conf_t;

typedef struct {
    int                fd;
    uint8_t           *base;
    uint64_t           size;
    uint64_t           epoch;
    prt_shm_conf_t     conf;
    prt_shm_header_t  *hdr;
    prt_bcast_t       *bcast;
    uint64_t           slots_offset;     /* private copies of the layout */
    uint64_t           slots_data;
} prt_shm_t;

int  prt_shm_create(prt_shm_t *shm, const prt_shm_conf_t *conf);
void prt_shm_destroy(prt_shm_t *shm);
prt_slot_t *prt_shm_slot(prt_shm_t *shm, uint32_t i);

/* Give a slot to a new worker: empty rings, counters zeroed. */
void prt_shm_slot_reset(prt_shm_t *shm, uint32_t i);
uint64_t prt_shm_req_offset(const prt_shm_t *shm, uint32_t i);
uint64_t prt_shm_resp_offset(const prt_shm_t *shm, uint32_t i);

#endif
