#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"

#define PRT_LOOP_EVENTS  64

struct prt_loop_s {
    int           epfd;
    int           stopping;
    prt_timer_t  *timers;        /* sorted by when_ms */
    prt_hook_fn   before_wait;
    void         *before_wait_data;
};

uint64_t
prt_monotonic_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t
prt_wall_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

prt_loop_t *
prt_loop_new(void)
{
    prt_loop_t  *loop = calloc(1, sizeof(*loop));

    if (loop == NULL) {
        return NULL;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd == -1) {
        prt_error("epoll_create1: %s", strerror(errno));
        free(loop);
        return NULL;
    }
    return loop;
}

void
prt_loop_free(prt_loop_t *loop)
{
    if (loop) {
        close(loop->epfd);
        free(loop);
    }
}

static int
loop_ctl(prt_loop_t *loop, int op, prt_io_t *io, uint32_t events)
{
    struct epoll_event  ev = { .events = events, .data.ptr = io };

    if (epoll_ctl(loop->epfd, op, io->fd, &ev) == -1) {
        prt_error("epoll_ctl(%d, fd %d): %s", op, io->fd, strerror(errno));
        return -1;
    }
    return 0;
}

int
prt_loop_add(prt_loop_t *loop, prt_io_t *io, uint32_t events)
{
    return loop_ctl(loop, EPOLL_CTL_ADD, io, events);
}

int
prt_loop_mod(prt_loop_t *loop, prt_io_t *io, uint32_t events)
{
    return loop_ctl(loop, EPOLL_CTL_MOD, io, events);
}

void
prt_loop_del(prt_loop_t *loop, prt_io_t *io)
{
    (void) epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

void
prt_timer_start(prt_loop_t *loop, prt_timer_t *timer, uint64_t delay_ms)
{
    prt_timer_t  **p;

    prt_timer_stop(loop, timer);
    timer->when_ms = prt_monotonic_ms() + delay_ms;
    for (p = &loop->timers; *p && (*p)->when_ms <= timer->when_ms;
         p = &(*p)->next)
    {
        /* keep the list sorted; equal deadlines keep their start order */
    }
    timer->next = *p;
    *p = timer;
    timer->armed = 1;
}

void
prt_timer_stop(prt_loop_t *loop, prt_timer_t *timer)
{
    prt_timer_t  **p;

    if (!timer->armed) {
        return;
    }
    for (p = &loop->timers; *p; p = &(*p)->next) {
        if (*p == timer) {
            *p = timer->next;
            break;
        }
    }
    timer->armed = 0;
    timer->next = NULL;
}

void
prt_loop_before_wait(prt_loop_t *loop, prt_hook_fn fn, void *data)
{
    loop->before_wait = fn;
    loop->before_wait_data = data;
}

static void
loop_run_timers(prt_loop_t *loop)
{
    uint64_t      now = prt_monotonic_ms();
    prt_timer_t  *t;

    while ((t = loop->timers) != NULL && t->when_ms <= now) {
        loop->timers = t->next;
        t->next = NULL;
        t->armed = 0;
        t->handler(loop, t);
    }
}

static int
loop_wait_timeout(prt_loop_t *loop)
{
    uint64_t  now;

    if (loop->timers == NULL) {
        return -1;
    }
    now = prt_monotonic_ms();
    if (loop->timers->when_ms <= now) {
        return 0;
    }
    return (int) (loop->timers->when_ms - now);
}

int
prt_loop_run(prt_loop_t *loop)
{
    struct epoll_event  events[PRT_LOOP_EVENTS];
    prt_io_t           *io;
    int                 n;

    while (!loop->stopping) {
        if (loop->before_wait) {
            loop->before_wait(loop, loop->before_wait_data);
        }

        n = epoll_wait(loop->epfd, events, PRT_LOOP_EVENTS,
                       loop_wait_timeout(loop));
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            prt_error("epoll_wait: %s", strerror(errno));
            return -1;
        }

        for (int i = 0; i < n; i++) {
            io = events[i].data.ptr;
            io->handler(loop, io, events[i].events);
        }

        loop_run_timers(loop);
    }
    return 0;
}

void
prt_loop_stop(prt_loop_t *loop)
{
    loop->stopping = 1;
}
