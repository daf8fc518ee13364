#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/metrics.h"

/* Seconds. Scans run from tens of milliseconds (a few symbols) to seconds
 * (10,000 symbols on a large index); a chunk's search and a verification
 * pass from a millisecond to a few hundred. */
static const double  job_bounds[] = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120
};
static const double  fast_bounds[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    2.5, 5
};

#define NB(a)  (sizeof(a) / sizeof((a)[0]))

prt_metrics_t  prt_metrics = {
    .job_scan = { job_bounds, NB(job_bounds), { 0 }, 0 },
    .chunk_search = { fast_bounds, NB(fast_bounds), { 0 }, 0 },
    .verify_pass = { fast_bounds, NB(fast_bounds), { 0 }, 0 },
};

void
prt_hist_observe(prt_hist_t *h, double v)
{
    size_t  i = 0;

    if (isnan(v)) {
        return;
    }
    while (i < h->nbounds && v > h->bounds[i]) {
        i++;
    }
    h->counts[i]++;
    h->sum += v;
}


/* ---- text ----------------------------------------------------------- */

void
prt_text_free(prt_text_t *t)
{
    free(t->buf);
    memset(t, 0, sizeof(*t));
}

static int
text_reserve(prt_text_t *t, size_t more)
{
    size_t  cap;
    char   *p;

    if (t->failed) {
        return -1;
    }
    if (t->len + more + 1 <= t->cap) {
        return 0;
    }
    cap = t->cap ? t->cap : 4096;
    while (cap < t->len + more + 1) {
        cap *= 2;
    }
    p = realloc(t->buf, cap);
    if (p == NULL) {
        t->failed = 1;
        return -1;
    }
    t->buf = p;
    t->cap = cap;
    return 0;
}

void
prt_text_printf(prt_text_t *t, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || text_reserve(t, (size_t) n) != 0) {
        t->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t) n;
}

void
prt_text_family(prt_text_t *t, const char *name, const char *type,
    const char *help)
{
    prt_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* PRT_NUM_DISPLAY (15 significant digits, as the JSON answers); NaN and
 * the infinities spelled as the exposition format wants them */
static void
text_value(prt_text_t *t, double v)
{
    char  num[PRT_NUM_SIZE];

    if (isnan(v)) {
        prt_text_printf(t, "NaN\n");
    } else if (isinf(v)) {
        prt_text_printf(t, v > 0 ? "+Inf\n" : "-Inf\n");
    } else {
        prt_format_number(v, PRT_NUM_DISPLAY, num, sizeof(num));
        prt_text_printf(t, "%s\n", num);
    }
}

void
prt_text_sample(prt_text_t *t, const char *name, const char *labels,
    double v)
{
    if (labels && *labels) {
        prt_text_printf(t, "%s{%s} ", name, labels);
    } else {
        prt_text_printf(t, "%s ", name);
    }
    text_value(t, v);
}

void
prt_text_single(prt_text_t *t, const char *name, const char *type,
    const char *help, double v)
{
    prt_text_family(t, name, type, help);
    prt_text_sample(t, name, NULL, v);
}

void
prt_text_hist(prt_text_t *t, const char *name, const char *labels,
    const prt_hist_t *h)
{
    const char  *sep = (labels && *labels) ? "," : "";
    uint64_t     cum = 0;

    labels = labels ? labels : "";
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += h->counts[i];
        if (i < h->nbounds) {
            prt_text_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name,
                            labels, sep, h->bounds[i],
                            (unsigned long long) cum);
        } else {
            prt_text_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name,
                            labels, sep, (unsigned long long) cum);
        }
    }
    if (*labels) {
        prt_text_printf(t, "%s_sum{%s} ", name, labels);
    } else {
        prt_text_printf(t, "%s_sum ", name);
    }
    text_value(t, h->sum);
    if (*labels) {
        prt_text_printf(t, "%s_count{%s} %llu\n", name, labels,
                        (unsigned long long) cum);
    } else {
        prt_text_printf(t, "%s_count %llu\n", name, (unsigned long long) cum);
    }
}

void
prt_text_label_value(prt_text_t *t, const char *v)
{
    for ( ; *v; v++) {
        if (*v == '\\' || *v == '"') {
            prt_text_printf(t, "\\%c", *v);
        } else if (*v == '\n') {
            prt_text_printf(t, "\\n");
        } else {
            prt_text_printf(t, "%c", *v);
        }
    }
}
