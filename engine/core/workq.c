#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/workq.h"

typedef struct {
    prt_task_t   *head;
    prt_task_t  **tail;
    size_t        n;
} task_list_t;

struct prt_workq_s {
    prt_loop_t       *loop;
    prt_io_t          io;              /* eventfd: finished tasks */
    pthread_mutex_t   mu;
    pthread_cond_t    cv;
    task_list_t       lanes[2];
    task_list_t       finished;
    int               stopping;
    unsigned          nthreads;
    pthread_t        *threads;
};

static void
list_push(task_list_t *l, prt_task_t *t)
{
    t->next = NULL;
    *l->tail = t;
    l->tail = &t->next;
    l->n++;
}

static prt_task_t *
list_pop(task_list_t *l)
{
    prt_task_t  *t = l->head;

    if (t) {
        l->head = t->next;
        if (l->head == NULL) {
            l->tail = &l->head;
        }
        l->n--;
    }
    return t;
}

static void
list_init(task_list_t *l)
{
    l->head = NULL;
    l->tail = &l->head;
    l->n = 0;
}

static void *
worker_main(void *arg)
{
    prt_workq_t  *q = arg;
    prt_task_t   *t;
    uint64_t      one = 1;

    for ( ;; ) {
        pthread_mutex_lock(&q->mu);
        while (!q->stopping && q->lanes[0].n == 0 && q->lanes[1].n == 0) {
            pthread_cond_wait(&q->cv, &q->mu);
        }
        t = list_pop(&q->lanes[PRT_LANE_INTERACTIVE]);
        if (t == NULL) {
            t = list_pop(&q->lanes[PRT_LANE_BATCH]);
        }
        pthread_mutex_unlock(&q->mu);

        if (t == NULL) {            /* stopping and nothing left */
            return NULL;
        }

        t->run(t);

        pthread_mutex_lock(&q->mu);
        list_push(&q->finished, t);
        pthread_mutex_unlock(&q->mu);
        if (write(q->io.fd, &one, sizeof(one)) != sizeof(one)) {
            /* the counter cannot overflow in practice; the loop drains */
        }
    }
}

static void
finished_handler(prt_loop_t *loop, prt_io_t *io, uint32_t events)
{
    prt_workq_t  *q = io->data;
    task_list_t   done;
    prt_task_t   *t;
    uint64_t      n;

    if (read(io->fd, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN) {
        prt_warn("work queue eventfd: %s", strerror(errno));
    }

    pthread_mutex_lock(&q->mu);
    done = q->finished;
    list_init(&q->finished);
    pthread_mutex_unlock(&q->mu);
    if (done.head == NULL) {
        return;
    }
    done.tail = NULL;           /* detached copy: only walked */

    while ((t = done.head) != NULL) {
        done.head = t->next;
        t->done(t);
    }
}

prt_workq_t *
prt_workq_new(prt_loop_t *loop, unsigned threads)
{
    prt_workq_t  *q = calloc(1, sizeof(*q));
    sigset_t      all, old;

    if (q == NULL) {
        return NULL;
    }
    q->loop = loop;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    list_init(&q->lanes[0]);
    list_init(&q->lanes[1]);
    list_init(&q->finished);

    q->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    q->io.handler = finished_handler;
    q->io.data = q;
    q->threads = calloc(threads ? threads : 1, sizeof(pthread_t));
    if (q->io.fd == -1 || q->threads == NULL
        || prt_loop_add(loop, &q->io, EPOLLIN) != 0)
    {
        prt_workq_free(q);
        return NULL;
    }

    /* workers never take signals: they belong to the loop's signalfd */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (q->nthreads = 0; q->nthreads < (threads ? threads : 1);
         q->nthreads++)
    {
        if (pthread_create(&q->threads[q->nthreads], NULL, worker_main, q)
            != 0)
        {
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (q->nthreads == 0) {
        prt_workq_free(q);
        return NULL;
    }
    return q;
}

void
prt_workq_free(prt_workq_t *q)
{
    if (q == NULL) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->nthreads; i++) {
        pthread_join(q->threads[i], NULL);
    }
    if (q->io.fd != -1) {
        prt_loop_del(q->loop, &q->io);
        close(q->io.fd);
    }
    free(q->threads);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

void
prt_workq_submit(prt_workq_t *q, prt_task_t *t, prt_lane_t lane)
{
    pthread_mutex_lock(&q->mu);
    list_push(&q->lanes[lane], t);
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t
prt_workq_queued(prt_workq_t *q, prt_lane_t lane)
{
    size_t  n;

    pthread_mutex_lock(&q->mu);
    n = q->lanes[lane].n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

unsigned
prt_workq_threads(const prt_workq_t *q)
{
    return q->nthreads;
}
