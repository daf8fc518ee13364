/*
 * The engine's own measurements for GET /metrics (docs/metrics.md):
 * fixed-bucket histograms and a few counters that no other part keeps.
 *
 * Invariant: everything here is written and read on the loop thread only
 * (chunk and pass completions, request handlers), so plain integers are
 * enough and an observation costs a few compares and adds; nothing locks,
 * nothing allocates, nothing can block the loop.
 */
#ifndef PRT_METRICS_H
#define PRT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define PRT_HIST_MAX_BUCKETS  16

typedef struct {
    const double  *bounds;                 /* upper bounds, increasing */
    size_t         nbounds;                /* <= PRT_HIST_MAX_BUCKETS */
    uint64_t       counts[PRT_HIST_MAX_BUCKETS + 1];   /* per bucket, the
                                                          last is +Inf */
    double         sum;
} prt_hist_t;

void prt_hist_observe(prt_hist_t *h, double v);

/* Prometheus text (0.0.4) being built: appends never fail visibly; a
 * failed allocation sets failed and later appends do nothing. */
typedef struct {
    char    *buf;
    size_t   len;
    size_t   cap;
    int      failed;
} prt_text_t;

void prt_text_free(prt_text_t *t);
void prt_text_printf(prt_text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "# HELP name help\n# TYPE name type\n" */
void prt_text_family(prt_text_t *t, const char *name, const char *type,
    const char *help);
/* name{labels} value; labels may be NULL or "" */
void prt_text_sample(prt_text_t *t, const char *name, const char *labels,
    double v);
/* A family of one unlabelled sample: its HELP, TYPE and value. */
void prt_text_single(prt_text_t *t, const char *name, const char *type,
    const char *help, double v);
/* the _bucket, _sum and _count lines of one histogram (labels as above,
 * without the le label) */
void prt_text_hist(prt_text_t *t, const char *name, const char *labels,
    const prt_hist_t *h);
/* v as a label value: \\, \" and \n escaped */
void prt_text_label_value(prt_text_t *t, const char *v);

/* What the engine measures for /metrics beyond the stats it already keeps. */
typedef struct {
    prt_hist_t   job_scan;            /* job start to finish, seconds */
    prt_hist_t   chunk_search;        /* one chunk's batched search, seconds */
    prt_hist_t   verify_pass;         /* one verification pass, seconds */
    uint64_t     jobs_completed;
    uint64_t     jobs_cancelled;
    uint64_t     jobs_failed;         /* running at a restart */
    uint64_t     predictions;         /* committed by scans */
    uint64_t     symbol_failures;     /* committed by scans */
    int64_t      newest_bar_end_ms;   /* of any ingested bar; 0: none yet */
} prt_metrics_t;

/* The engine's one instance (loop thread only, see above). */
extern prt_metrics_t  prt_metrics;

#endif
