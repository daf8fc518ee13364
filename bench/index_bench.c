/*
 * Search figures of a built index through the engine's own search path
 * (engine/index/index.h: FAISS candidates re-ranked by exact distance), for
 * bench/index.sh and docs/benchmarks.md "Index":
 *
 *   index_bench INDEX_DIR QUERY_VECTORS [-k K] [-l N] [-b N] [-r N] [-R N]
 *       [-p NPROBE]
 *
 *   INDEX_DIR      DATADIR/index (the generation `current` points to)
 *   QUERY_VECTORS  a vectors.bin of patterns that are NOT in the index
 *                  (a later day): held-out queries, as a scan sends them
 *   -k K           neighbours a job asks for (40); a search fetches what
 *                  the forecast fetches for it (2k + 16 candidates)
 *   -l N           single-query searches for the latency figures (1000)
 *   -b N           queries in one batched search (10000)
 *   -r N           queries for recall@k against exact search (1000)
 *   -R N           batched runs (3)
 *   -p NPROBE      IVF lists probed (default: the manifest's tuned value)
 *   -f REFINE      FAISS candidates per result re-ranked exactly (default:
 *                  the manifest's)
 *   -c CHUNK       also search the batch in chunks of CHUNK queries on two
 *                  threads, as a scan job does (engine/jobs: 256 symbols a
 *                  chunk, one chunk per search thread)
 *   -t TOP         search as prt_index_search_top: FAISS proposes
 *                  max(fetch, TOP x refine) candidates (default: the
 *                  fetch a job makes for k, TOP = k; -t 1000 asks for
 *                  fetch x refine, the whole fetch at full accuracy)
 *
 * Prints the index, then one line per figure. Queries are spread over the
 * query file at a fixed stride, so every run uses the same ones.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/mathenv.h"
#include "index/faiss.h"
#include "forecast/forecast.h"
#include "index/files.h"
#include "index/index.h"
#include "bench/clock.h"

#define BENCH_WARMUP  200       /* searches before the latency is timed */

/* prt_index_search_top's `top` for every search of a run (-t) */
static size_t  top;

/* FAISS candidates behind a search for fetch results */
static size_t
candidates(const prt_index_t *ix, size_t fetch)
{
    size_t  c = (top < fetch ? top : fetch) * ix->refine;

    return ix->refine <= 1 ? fetch : c > fetch ? c : fetch;
}

typedef struct {
    const char  *index_dir;
    const char  *query_path;
    size_t       k;
    size_t       latency_n;
    size_t       batch_n;
    size_t       recall_n;
    size_t       batch_runs;
    size_t       nprobe;       /* 0: the manifest's */
    size_t       refine;       /* 0: the manifest's */
    size_t       top;          /* results at full accuracy (0: all) */
    size_t       chunk;        /* 0: no chunked runs */
} bench_opts_t;

/* CPU seconds (user + system) of this process so far: on a shared
 * machine the wall time includes waiting for a core, this does not */
static double
cpu_s(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
           + (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* the q-quantile of sorted values: the smallest one at or above q·n */
static double
quantile(const double *sorted, size_t n, double q)
{
    size_t  i = (size_t) ceil(q * (double) n);

    return sorted[i ? i - 1 : 0];
}

static int
parse_count(const char *s, size_t *out)
{
    char           *end;
    unsigned long   v = strtoul(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v == 0 || v > 1000000) {
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_args(int argc, char **argv, bench_opts_t *o)
{
    o->k = 40;
    o->latency_n = 1000;
    o->batch_n = 10000;
    o->recall_n = 1000;
    o->batch_runs = 3;

    for (int i = 1; i < argc; i++) {
        size_t  *dst = NULL;

        if (strcmp(argv[i], "-k") == 0) {
            dst = &o->k;
        } else if (strcmp(argv[i], "-l") == 0) {
            dst = &o->latency_n;
        } else if (strcmp(argv[i], "-b") == 0) {
            dst = &o->batch_n;
        } else if (strcmp(argv[i], "-r") == 0) {
            dst = &o->recall_n;
        } else if (strcmp(argv[i], "-R") == 0) {
            dst = &o->batch_runs;
        } else if (strcmp(argv[i], "-p") == 0) {
            dst = &o->nprobe;
        } else if (strcmp(argv[i], "-f") == 0) {
            dst = &o->refine;
        } else if (strcmp(argv[i], "-c") == 0) {
            dst = &o->chunk;
        } else if (strcmp(argv[i], "-t") == 0) {
            dst = &o->top;
        } else if (o->index_dir == NULL) {
            o->index_dir = argv[i];
            continue;
        } else if (o->query_path == NULL) {
            o->query_path = argv[i];
            continue;
        } else {
            return -1;
        }
        if (i + 1 >= argc || parse_count(argv[++i], dst) != 0) {
            return -1;
        }
    }
    if (o->k > PRT_FORECAST_K_MAX) {
        return -1;
    }
    return o->index_dir && o->query_path ? 0 : -1;
}

/* n query vectors spread evenly over the held-out file */
static float *
pick_queries(const prt_file_map_t *qm, size_t n)
{
    const float  *all = qm->records;
    size_t        step = qm->count / n;
    float        *q = malloc(n * PRT_WINDOW * sizeof(float));

    if (q == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(q + i * PRT_WINDOW, all + i * step * PRT_WINDOW,
               PRT_WINDOW * sizeof(float));
    }
    return q;
}

/* What the forecast asks FAISS for when a job wants k neighbours. */
static size_t
forecast_fetch(size_t k)
{
    prt_forecast_params_t  p;

    memset(&p, 0, sizeof(p));
    p.k = (int) k;
    p.alpha = 6;
    p.exclude_self = 1;
    p.cross_asset = 1;
    return (size_t) prt_forecast_overfetch(&p);
}

static void
print_index(const prt_index_t *ix, double load_s)
{
    const prt_manifest_t  *m = &ix->manifest;

    printf("faiss:    %s library (PRT_FAISS_ISA %s)\n", prt_faiss_library(),
           getenv("PRT_FAISS_ISA") ? getenv("PRT_FAISS_ISA") : "unset");
    printf("index:    %llu patterns, %s, nlist %llu, nprobe %zu, refine %zu,"
           " mapped tables %.0f MB, loaded in %.2f s\n",
           (unsigned long long) ix->n, m->factory,
           (unsigned long long) m->nlist, ix->nprobe, ix->refine,
           (double) ix->bytes / 1048576.0, load_s);
    printf("manifest: recall@40 %.3f at nprobe %llu (%llu queries from the"
           " indexed data)\n", m->recall, (unsigned long long) m->nprobe,
           (unsigned long long) m->recall_queries);
}

/* One query at a time, as a single API search runs it. */
static int
bench_latency(const prt_index_t *ix, const prt_file_map_t *qm, size_t n,
    size_t fetch)
{
    float    *q = pick_queries(qm, n);
    float    *dist = malloc(fetch * sizeof(float));
    int64_t  *ids = malloc(fetch * sizeof(int64_t));
    double   *us = malloc(n * sizeof(double));
    char      err[PRT_FAISS_ERR_LEN];
    int       rc = -1;

    if (q == NULL || dist == NULL || ids == NULL || us == NULL) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n + BENCH_WARMUP; i++) {
        const float  *x = q + (i % n) * PRT_WINDOW;
        double        t0 = now_s();

        if (prt_index_search_top(ix, 1, x, fetch, top, (int64_t) ix->n, dist,
                                 ids, err) != 0)
        {
            fprintf(stderr, "search: %s\n", err);
            goto done;
        }
        if (i >= BENCH_WARMUP) {
            us[i - BENCH_WARMUP] = (now_s() - t0) * 1e6;
        }
    }
    qsort(us, n, sizeof(double), cmp_double);
    printf("one query:  %zu searches of %zu candidates (after %d warm-up):"
           " p50 %.0f us, p99 %.0f us, max %.0f us\n", n, fetch,
           BENCH_WARMUP, quantile(us, n, 0.50), quantile(us, n, 0.99),
           us[n - 1]);
    rc = 0;

done:
    free(q);
    free(dist);
    free(ids);
    free(us);
    return rc;
}

/* Two threads taking chunks of the batch in turn, as a job's search
 * threads take its chunks; raw: FAISS alone instead of the engine path. */
typedef struct {
    const prt_index_t  *ix;
    const float        *q;
    size_t              n, fetch, chunk, cand, next;
    int                 raw, failed;
    float              *dist;
    int64_t            *ids;
    pthread_mutex_t     mu;
} chunked_t;

static void *
chunked_worker(void *arg)
{
    chunked_t  *c = arg;
    char        err[PRT_FAISS_ERR_LEN];

    for ( ;; ) {
        size_t  i, m;
        int     rc;

        pthread_mutex_lock(&c->mu);
        i = c->next;
        c->next += c->chunk;
        pthread_mutex_unlock(&c->mu);
        if (i >= c->n) {
            return NULL;
        }
        m = c->n - i < c->chunk ? c->n - i : c->chunk;
        rc = c->raw
             ? prt_faiss_search(c->ix->faiss, m, c->q + i * PRT_WINDOW,
                                c->cand, (int64_t) c->ix->n, c->ix->nprobe,
                                c->dist + i * c->cand, c->ids + i * c->cand,
                                err)
             : prt_index_search_top(c->ix, m, c->q + i * PRT_WINDOW,
                                    c->fetch, top, (int64_t) c->ix->n,
                                    c->dist + i * c->cand,
                                    c->ids + i * c->cand, err);
        if (rc != 0) {
            fprintf(stderr, "chunked search: %s\n", err);
            c->failed = 1;
            return NULL;
        }
    }
}

static int
run_chunked(chunked_t *c, int raw, double *wall, double *cpu)
{
    pthread_t  th[2];
    double     t0 = now_s(), c0 = cpu_s();
    int        started = 0;

    c->raw = raw;
    c->next = 0;
    c->failed = 0;
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&th[i], NULL, chunked_worker, c) != 0) {
            c->failed = 1;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    *wall = now_s() - t0;
    *cpu = cpu_s() - c0;
    return c->failed ? -1 : 0;
}

static int
bench_chunked(const prt_index_t *ix, const prt_file_map_t *qm, size_t n,
    size_t fetch, size_t chunk, size_t runs)
{
    chunked_t  c;
    double     w[2][16], u[2][16];
    int        rc = -1;

    memset(&c, 0, sizeof(c));
    c.ix = ix;
    c.n = n;
    c.fetch = fetch;
    c.chunk = chunk;
    c.cand = candidates(ix, fetch);
    c.q = pick_queries(qm, n);
    c.dist = malloc(n * c.cand * sizeof(float));
    c.ids = malloc(n * c.cand * sizeof(int64_t));
    pthread_mutex_init(&c.mu, NULL);
    runs = runs > 16 ? 16 : runs;
    if (c.q == NULL || c.dist == NULL || c.ids == NULL) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    for (size_t r = 0; r < runs; r++) {
        if (run_chunked(&c, 0, &w[0][r], &u[0][r]) != 0
            || run_chunked(&c, 1, &w[1][r], &u[1][r]) != 0)
        {
            goto done;
        }
    }
    for (int m = 0; m < 2; m++) {
        qsort(w[m], runs, sizeof(double), cmp_double);
        qsort(u[m], runs, sizeof(double), cmp_double);
    }
    printf("chunked:    the same %zu queries in chunks of %zu on 2 threads, "
           "alternating: engine path %.2f s wall, %.2f CPU-s; raw FAISS "
           "%.2f s wall, %.2f CPU-s (medians of %zu)\n", n, chunk,
           w[0][runs / 2], u[0][runs / 2], w[1][runs / 2], u[1][runs / 2],
           runs);
    rc = 0;

done:
    pthread_mutex_destroy(&c.mu);
    free((void *) c.q);
    free(c.dist);
    free(c.ids);
    return rc;
}

/* One call with every query, as a scan chunk runs it (but all at once),
 * and, alternating with it in every run, FAISS alone on the same queries
 * (the same candidate count, nprobe and id limit, no re-ranking): what the
 * engine's search path adds to FAISS, from one run. */
static int
bench_batch(const prt_index_t *ix, const prt_file_map_t *qm, size_t n,
    size_t fetch, size_t runs)
{
    size_t    cand = candidates(ix, fetch);
    float    *q = pick_queries(qm, n);
    float    *dist = malloc(n * cand * sizeof(float));
    int64_t  *ids = malloc(n * cand * sizeof(int64_t));
    double   *secs = malloc(4 * runs * sizeof(double));
    double   *raw = secs + runs, *cpu = secs + 2 * runs;
    double   *raw_cpu = secs + 3 * runs;
    char      err[PRT_FAISS_ERR_LEN];
    int       rc = -1;

    if (q == NULL || dist == NULL || ids == NULL || secs == NULL) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    for (size_t r = 0; r < runs; r++) {
        double  t0 = now_s(), c0 = cpu_s();

        if (prt_index_search_top(ix, n, q, fetch, top, (int64_t) ix->n, dist,
                                 ids, err) != 0)
        {
            fprintf(stderr, "batched search: %s\n", err);
            goto done;
        }
        secs[r] = now_s() - t0;
        cpu[r] = cpu_s() - c0;
        t0 = now_s();
        c0 = cpu_s();
        if (prt_faiss_search(ix->faiss, n, q, cand, (int64_t) ix->n,
                             ix->nprobe, dist, ids, err) != 0)
        {
            fprintf(stderr, "raw FAISS search: %s\n", err);
            goto done;
        }
        raw[r] = now_s() - t0;
        raw_cpu[r] = cpu_s() - c0;
    }
    qsort(secs, runs, sizeof(double), cmp_double);
    qsort(raw, runs, sizeof(double), cmp_double);
    qsort(cpu, runs, sizeof(double), cmp_double);
    qsort(raw_cpu, runs, sizeof(double), cmp_double);
    printf("batch:      %zu queries of %zu candidates in one call, %zu runs:"
           " median %.2f s = %.0f queries/s (best %.2f s, worst %.2f s)\n",
           n, fetch, runs, secs[runs / 2], (double) n / secs[runs / 2],
           secs[0], secs[runs - 1]);
    printf("raw FAISS:  the same %zu queries, %zu candidates, no re-ranking,"
           " alternating with the above: median %.2f s (best %.2f s);"
           " engine path / raw FAISS %.2fx\n", n, cand, raw[runs / 2], raw[0],
           secs[runs / 2] / raw[runs / 2]);
    printf("CPU:        engine path %.2f s, raw FAISS %.2f s of CPU (user +"
           " system, medians): %.2fx; %.0f queries per CPU-second\n",
           cpu[runs / 2], raw_cpu[runs / 2], cpu[runs / 2] / raw_cpu[runs / 2],
           (double) n / cpu[runs / 2]);
    rc = 0;

done:
    free(q);
    free(dist);
    free(ids);
    free(secs);
    return rc;
}

static size_t
count_hits(const int64_t *got, const int64_t *want, size_t k)
{
    size_t  hits = 0;

    for (size_t x = 0; x < k; x++) {
        for (size_t y = 0; y < k; y++) {
            if (got[x] >= 0 && got[x] == want[y]) {
                hits++;
                break;
            }
        }
    }
    return hits;
}

/* hits of the first k of each of n rows of width w against exact k-NN */
static size_t
row_hits(const int64_t *got, size_t w, const int64_t *want, size_t n,
    size_t k)
{
    size_t  hits = 0;

    for (size_t i = 0; i < n; i++) {
        hits += count_hits(got + i * w, want + i * k, k);
    }
    return hits;
}

/*
 * recall@k of the engine's search against exact k-NN on the same vectors,
 * two ways: asking for k results (k x refine FAISS candidates: what the
 * build's nprobe tuning measures), and asking for the fetch a job makes
 * (2k + 16 results, x refine candidates) and keeping the first k, which is
 * what a job's forecast gets before its exclusions.
 */
static int
bench_recall(const prt_index_t *ix, const prt_file_map_t *qm, size_t n,
    size_t k, size_t fetch)
{
    float    *q = pick_queries(qm, n);
    float    *ed = malloc(n * k * sizeof(float));
    float    *ad = malloc(n * fetch * sizeof(float));
    int64_t  *ei = malloc(n * k * sizeof(int64_t));
    int64_t  *ai = malloc(n * fetch * sizeof(int64_t));
    char      err[PRT_FAISS_ERR_LEN];
    double    t0, exact_s, search_s, r_k, r_fetch;
    int       rc = -1;

    if (q == NULL || ed == NULL || ad == NULL || ei == NULL || ai == NULL) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    t0 = now_s();
    if (prt_faiss_exact(PRT_WINDOW, ix->n, ix->vectors, n, q, k, ed, ei, err)
        != 0)
    {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    exact_s = now_s() - t0;
    t0 = now_s();
    if (prt_index_search(ix, n, q, k, (int64_t) ix->n, ad, ai, err) != 0) {
        fprintf(stderr, "search: %s\n", err);
        goto done;
    }
    search_s = now_s() - t0;
    r_k = (double) row_hits(ai, k, ei, n, k) / (double) (n * k);
    if (prt_index_search_top(ix, n, q, fetch, top, (int64_t) ix->n, ad, ai,
                             err) != 0)
    {
        fprintf(stderr, "search: %s\n", err);
        goto done;
    }
    r_fetch = (double) row_hits(ai, fetch, ei, n, k) / (double) (n * k);
    printf("recall@%zu: %.3f at nprobe %zu, refine %zu (%zu held-out queries;"
           " exact search %.1f s = %.0f queries/s, index %.2f s)\n", k,
           r_k, ix->nprobe, ix->refine, n, exact_s, (double) n / exact_s,
           search_s);
    printf("recall@%zu as a job searches: %.3f (first %zu of %zu results,"
           " %zu FAISS candidates)\n", k, r_fetch, k, fetch,
           candidates(ix, fetch));
    rc = 0;

done:
    free(q);
    free(ed);
    free(ad);
    free(ei);
    free(ai);
    return rc;
}

int
main(int argc, char **argv)
{
    bench_opts_t     o;
    prt_index_t     *ix = NULL;
    prt_file_map_t   qm;
    char             err[512];
    size_t           most, fetch;
    double           t0;
    int              rc;

    prt_math_environment(argv, prt_faiss_library());
    memset(&o, 0, sizeof(o));
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: index_bench INDEX_DIR QUERY_VECTORS [-k K]"
                " [-l N] [-b N] [-r N] [-R N] [-p NPROBE] [-f REFINE]\n");
        return 2;
    }

    t0 = now_s();
    if (prt_index_open(o.index_dir, o.nprobe, &ix, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", o.index_dir, err);
        return 1;
    }
    if (o.refine) {
        ix->refine = o.refine;
    }
    print_index(ix, now_s() - t0);

    if (prt_file_map(&qm, o.query_path, PRT_MAGIC_VECTORS,
                     PRT_WINDOW * sizeof(float), PRT_WINDOW, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "%s: %s\n", o.query_path, err);
        prt_index_unref(ix);
        return 1;
    }
    most = o.batch_n > o.latency_n ? o.batch_n : o.latency_n;
    most = most > o.recall_n ? most : o.recall_n;
    if (qm.count < most) {
        fprintf(stderr, "%s: %llu vectors, %zu needed\n", o.query_path,
                (unsigned long long) qm.count, most);
        prt_file_unmap(&qm);
        prt_index_unref(ix);
        return 1;
    }
    fetch = forecast_fetch(o.k);
    top = o.top ? o.top : o.k;
    printf("queries:  %llu held-out vectors in %s; k %zu -> %zu candidates"
           " per search (%zu from FAISS)\n", (unsigned long long) qm.count,
           o.query_path, o.k, fetch, candidates(ix, fetch));

    rc = bench_latency(ix, &qm, o.latency_n, fetch);
    if (rc == 0) {
        rc = bench_batch(ix, &qm, o.batch_n, fetch, o.batch_runs);
    }
    if (rc == 0 && o.chunk) {
        rc = bench_chunked(ix, &qm, o.batch_n, fetch, o.chunk, o.batch_runs);
    }
    if (rc == 0) {
        rc = bench_recall(ix, &qm, o.recall_n, o.k, fetch);
    }
    prt_file_unmap(&qm);
    prt_index_unref(ix);
    return rc == 0 ? 0 : 1;
}
