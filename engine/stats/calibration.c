#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "stats/calibration.h"

/* one verified prediction, as the fit needs it */
typedef struct {
    int64_t  at_ms;                   /* verified_at */
    uint8_t  bin;
    uint8_t  up2;                     /* prt_calib_outcome2 */
} entry_t;

/*
 * A series' entries in the order they were added, and the bin counts of
 * all of them (the map at a cutoff past every entry needs no walk).
 */
typedef struct {
    entry_t   *v;
    size_t     n, cap;
    int64_t    max_at_ms;
    uint64_t   count[PRT_CALIB_BINS];
    uint64_t   up2[PRT_CALIB_BINS];
} series_t;

struct prt_calibrator_s {
    pthread_mutex_t  lock;            /* guards every series */
    int              nseries;
    double           prior;
    uint64_t         total;
    series_t         s[];
};

/* a pooled block of bins: value s / w */
typedef struct {
    double  s, w;
    int     first, last;              /* bins it covers */
} block_t;


int
prt_calib_bin(double prob_up)
{
    double  x;

    if (!(prob_up > 0.0)) {
        return 0;
    }
    x = floor(prob_up * PRT_CALIB_BINS + 1e-9);
    return x >= PRT_CALIB_BINS ? PRT_CALIB_BINS - 1 : (int) x;
}

double
prt_calib_apply(const prt_calib_map_t *m, double prob_up)
{
    return m->value[prt_calib_bin(prob_up)];
}

int
prt_calib_outcome2(double actual_return)
{
    return actual_return > 0.0 ? 2 : actual_return == 0.0 ? 1 : 0;
}

/*
 * Pool adjacent violators in place: merges a block into its predecessor
 * while the predecessor's value is higher (compared by cross products, so
 * integer sums compare exactly). Returns the number of blocks left.
 */
static int
pool_violators(block_t *b, int n)
{
    int  top = 0;

    for (int i = 0; i < n; i++) {
        b[top++] = b[i];
        while (top > 1 && b[top - 2].s * b[top - 1].w
                          > b[top - 1].s * b[top - 2].w)
        {
            b[top - 2].s += b[top - 1].s;
            b[top - 2].w += b[top - 1].w;
            b[top - 2].last = b[top - 1].last;
            top--;
        }
    }
    return top;
}

void
prt_calib_fit(const uint64_t n[PRT_CALIB_BINS],
    const uint64_t up2[PRT_CALIB_BINS], double prior, prt_calib_map_t *out)
{
    block_t   b[PRT_CALIB_BINS];
    uint64_t  total = 0, ups2 = 0;
    int       nb = 0, i, k;

    for (i = 0; i < PRT_CALIB_BINS; i++) {
        total += n[i];
        ups2 += up2[i];
        if (n[i]) {
            b[nb++] = (block_t) { up2[i] / 2.0, (double) n[i], i, i };
        }
    }
    out->n = total;
    out->base_rate = (ups2 / 2.0 + PRT_CALIB_BASE_PRIOR / 2.0)
                     / ((double) total + PRT_CALIB_BASE_PRIOR);
    if (nb == 0) {
        for (i = 0; i < PRT_CALIB_BINS; i++) {
            out->value[i] = 0.5;
        }
        return;
    }

    nb = pool_violators(b, nb);
    for (i = 0; i < nb; i++) {
        b[i].s += prior * out->base_rate;
        b[i].w += prior;
    }
    nb = pool_violators(b, nb);

    /* blocks cover their non-empty bins and the empty ones between */
    for (k = 0; k < nb; k++) {
        int  to = k + 1 < nb ? b[k + 1].first : PRT_CALIB_BINS;
        int  from = k == 0 ? 0 : b[k].first;

        for (i = from; i < to; i++) {
            out->value[i] = b[k].s / b[k].w;
        }
    }
}


prt_calibrator_t *
prt_calibrator_new(int series, double prior)
{
    prt_calibrator_t  *c;

    if (series <= 0 || !(prior >= 0.0)) {
        return NULL;
    }
    c = calloc(1, sizeof(*c) + (size_t) series * sizeof(series_t));
    if (c == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->nseries = series;
    c->prior = prior;
    for (int i = 0; i < series; i++) {
        c->s[i].max_at_ms = INT64_MIN;
    }
    return c;
}

void
prt_calibrator_free(prt_calibrator_t *c)
{
    if (c == NULL) {
        return;
    }
    for (int i = 0; i < c->nseries; i++) {
        free(c->s[i].v);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static int
series_push(series_t *s, const entry_t *e)
{
    if (s->n == s->cap) {
        entry_t  *v = prt_array_grow(s->v, &s->cap, sizeof(*v), 1024);

        if (v == NULL) {
            return -1;
        }
        s->v = v;
    }
    s->v[s->n++] = *e;
    s->count[e->bin]++;
    s->up2[e->bin] += e->up2;
    s->max_at_ms = e->at_ms > s->max_at_ms ? e->at_ms : s->max_at_ms;
    return 0;
}

int
prt_calibrator_add(prt_calibrator_t *c, int series, int64_t verified_at_ms,
    double prob_up, double actual_return)
{
    entry_t  e;
    int      rc;

    if (c == NULL) {
        return 0;
    }
    if (series < 0 || series >= c->nseries || !isfinite(actual_return)) {
        return -1;
    }
    e.at_ms = verified_at_ms;
    e.bin = (uint8_t) prt_calib_bin(prob_up);
    e.up2 = (uint8_t) prt_calib_outcome2(actual_return);

    pthread_mutex_lock(&c->lock);
    rc = series_push(&c->s[series], &e);
    c->total += rc == 0;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int
prt_calibrator_map(prt_calibrator_t *c, int series, int64_t cutoff_ms,
    prt_calib_map_t *out)
{
    uint64_t   n[PRT_CALIB_BINS], up2[PRT_CALIB_BINS];
    series_t  *s;

    if (c == NULL) {
        memset(n, 0, sizeof(n));
        memset(up2, 0, sizeof(up2));
        prt_calib_fit(n, up2, 0.0, out);
        return 0;
    }
    if (series < 0 || series >= c->nseries) {
        return -1;
    }
    s = &c->s[series];
    pthread_mutex_lock(&c->lock);
    if (cutoff_ms >= s->max_at_ms) {
        memcpy(n, s->count, sizeof(n));
        memcpy(up2, s->up2, sizeof(up2));
    } else {
        /* a cutoff in the past: the entries verified by then */
        memset(n, 0, sizeof(n));
        memset(up2, 0, sizeof(up2));
        for (size_t i = 0; i < s->n; i++) {
            if (s->v[i].at_ms <= cutoff_ms) {
                n[s->v[i].bin]++;
                up2[s->v[i].bin] += s->v[i].up2;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    prt_calib_fit(n, up2, c->prior, out);
    return 0;
}

uint64_t
prt_calibrator_count(prt_calibrator_t *c, int series)
{
    uint64_t  n;

    if (c == NULL || series < 0 || series >= c->nseries) {
        return 0;
    }
    pthread_mutex_lock(&c->lock);
    n = c->s[series].n;
    pthread_mutex_unlock(&c->lock);
    return n;
}

uint64_t
prt_calibrator_size(prt_calibrator_t *c)
{
    uint64_t  n;

    pthread_mutex_lock(&c->lock);
    n = c->total;
    pthread_mutex_unlock(&c->lock);
    return n;
}
