#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "ipc/shm.h"
#include "pattern_rt_ring.h"

#define PRT_PAGE  4096

static uint64_t
align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static uint64_t
new_epoch(void)
{
    uint64_t  epoch;

    /* any value will do as long as two engine runs differ */
    if (getrandom(&epoch, sizeof(epoch), GRND_NONBLOCK) != sizeof(epoch)) {
        epoch = prt_wall_ms() ^ ((uint64_t) getpid() << 40);
    }
    return epoch | 1;
}

static int
conf_valid(const prt_shm_conf_t *c)
{
    return c->max_slots > 0 && c->max_slots <= 1024
        && prt_is_pow2(c->req_ring_size) && c->req_ring_size >= PRT_PAGE
        && prt_is_pow2(c->resp_ring_size) && c->resp_ring_size >= PRT_PAGE
        && prt_is_pow2(c->bcast_size) && c->bcast_size >= PRT_PAGE;
}

static void
shm_layout(prt_shm_t *shm)
{
    const prt_shm_conf_t  *c = &shm->conf;
    prt_shm_header_t      *h = shm->hdr;
    uint64_t               off, data;

    off = align_up(sizeof(prt_shm_header_t), PRT_CACHE_LINE);
    h->slots_offset = off;
    shm->slots_offset = off;
    off += (uint64_t) c->max_slots * sizeof(prt_slot_t);
    off = align_up(off, PRT_CACHE_LINE);
    h->bcast_offset = off;
    off += sizeof(prt_bcast_t);
    data = align_up(off, PRT_PAGE);

    shm->bcast = (prt_bcast_t *) (shm->base + h->bcast_offset);
    shm->bcast->data_offset = data;
    shm->bcast->size = c->bcast_size;
    data += c->bcast_size;

    shm->slots_data = data;

    for (uint32_t i = 0; i < c->max_slots; i++) {
        prt_shm_slot_reset(shm, i);
    }
}

static uint64_t
shm_total_size(const prt_shm_conf_t *c)
{
    uint64_t  meta;

    meta = align_up(sizeof(prt_shm_header_t), PRT_CACHE_LINE)
         + (uint64_t) c->max_slots * sizeof(prt_slot_t)
         + PRT_CACHE_LINE + sizeof(prt_bcast_t);
    return align_up(meta, PRT_PAGE) + c->bcast_size
         + (uint64_t) c->max_slots * (c->req_ring_size + c->resp_ring_size);
}

int
prt_shm_create(prt_shm_t *shm, const prt_shm_conf_t *conf)
{
    memset(shm, 0, sizeof(*shm));
    shm->fd = -1;

    if (!conf_valid(conf)) {
        prt_error("shared memory: ring sizes must be powers of two >= 4096 "
                  "and slots 1..1024");
        return -1;
    }
    shm->conf = *conf;
    shm->size = shm_total_size(conf);

    shm->fd = memfd_create("pattern-rt", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (shm->fd == -1) {
        prt_error("memfd_create: %s", strerror(errno));
        return -1;
    }
    if (ftruncate(shm->fd, (off_t) shm->size) == -1) {
        prt_error("ftruncate(shared memory, %llu): %s",
                  (unsigned long long) shm->size, strerror(errno));
        goto fail;
    }
    /* a worker can then trust the size: nobody can shrink it under it */
    if (fcntl(shm->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
        == -1)
    {
        prt_error("sealing shared memory: %s", strerror(errno));
        goto fail;
    }

    shm->base = mmap(NULL, shm->size, PROT_READ | PROT_WRITE, MAP_SHARED,
                     shm->fd, 0);
    if (shm->base == MAP_FAILED) {
        shm->base = NULL;
        prt_error("mmap(shared memory): %s", strerror(errno));
        goto fail;
    }

    shm->hdr = (prt_shm_header_t *) shm->base;
    shm->epoch = new_epoch();
    shm->hdr->version = PRT_IPC_VERSION;
    shm->hdr->header_size = sizeof(prt_shm_header_t);
    shm->hdr->epoch = shm->epoch;
    shm->hdr->total_size = shm->size;
    shm->hdr->max_slots = conf->max_slots;
    shm->hdr->slot_size = sizeof(prt_slot_t);
    shm->hdr->engine_pid = getpid();
    shm->hdr->started_at_ms = prt_wall_ms();
    shm_layout(shm);

    /* the magic goes last: a header with it is complete */
    __atomic_store_n(&shm->hdr->magic, PRT_SHM_MAGIC, __ATOMIC_RELEASE);
    return 0;

fail:
    prt_shm_destroy(shm);
    return -1;
}

void
prt_shm_destroy(prt_shm_t *shm)
{
    if (shm->base) {
        munmap(shm->base, shm->size);
        shm->base = NULL;
    }
    if (shm->fd != -1) {
        close(shm->fd);
        shm->fd = -1;
    }
}

prt_slot_t *
prt_shm_slot(prt_shm_t *shm, uint32_t i)
{
    return (prt_slot_t *) (shm->base + shm->slots_offset) + i;
}

/* Ring geometry is always recomputed from the engine's own numbers: a slot
 * in shared memory may have been scribbled on by its previous worker. */
uint64_t
prt_shm_req_offset(const prt_shm_t *shm, uint32_t i)
{
    return shm->slots_data
           + (uint64_t) i * (shm->conf.req_ring_size + shm->conf.resp_ring_size);
}

uint64_t
prt_shm_resp_offset(const prt_shm_t *shm, uint32_t i)
{
    return prt_shm_req_offset(shm, i) + shm->conf.req_ring_size;
}

void
prt_shm_slot_reset(prt_shm_t *shm, uint32_t i)
{
    prt_slot_t  *s = prt_shm_slot(shm, i);

    memset(s, 0, sizeof(*s));
    s->req.data_offset = prt_shm_req_offset(shm, i);
    s->req.size = shm->conf.req_ring_size;
    s->resp.data_offset = prt_shm_resp_offset(shm, i);
    s->resp.size = shm->conf.resp_ring_size;
}
