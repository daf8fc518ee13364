/*
 * The engine's event loop: epoll for file descriptors, a sorted list of
 * one-shot timers, and a hook run before each wait (used to coalesce
 * doorbells). Single-threaded: worker threads never call into it; a task's
 * `done` is run on the loop thread, woken through an eventfd (core/workq.h).
 */
#ifndef PRT_LOOP_H
#define PRT_LOOP_H

#include <stdint.h>

typedef struct prt_loop_s   prt_loop_t;
typedef struct prt_io_s     prt_io_t;
typedef struct prt_timer_s  prt_timer_t;

typedef void (*prt_io_fn)(prt_loop_t *loop, prt_io_t *io, uint32_t events);
typedef void (*prt_timer_fn)(prt_loop_t *loop, prt_timer_t *timer);
typedef void (*prt_hook_fn)(prt_loop_t *loop, void *data);

/* Embedded by the owner of a file descriptor. */
struct prt_io_s {
    int         fd;
    prt_io_fn   handler;
    void       *data;
};

/* Embedded by the owner of a timer. */
struct prt_timer_s {
    uint64_t       when_ms;      /* monotonic */
    prt_timer_fn   handler;
    void          *data;
    prt_timer_t   *next;
    int            armed;
};

prt_loop_t *prt_loop_new(void);
void prt_loop_free(prt_loop_t *loop);

int  prt_loop_add(prt_loop_t *loop, prt_io_t *io, uint32_t events);
int  prt_loop_mod(prt_loop_t *loop, prt_io_t *io, uint32_t events);
void prt_loop_del(prt_loop_t *loop, prt_io_t *io);

void prt_timer_start(prt_loop_t *loop, prt_timer_t *timer, uint64_t delay_ms);
void prt_timer_stop(prt_loop_t *loop, prt_timer_t *timer);

void prt_loop_before_wait(prt_loop_t *loop, prt_hook_fn fn, void *data);

int  prt_loop_run(prt_loop_t *loop);
void prt_loop_stop(prt_loop_t *loop);

uint64_t prt_monotonic_ms(void);
uint64_t prt_wall_ms(void);

#endif
