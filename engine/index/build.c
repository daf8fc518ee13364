/*
 * `pattern-rt-engine build-index` and `update-index`: flat files -> bar
 * store + a new index generation (docs/index.md).
 *
 * Days are read and turned into patterns by worker threads, at most a few
 * days ahead of the merge; the main thread merges them strictly in day
 * order, so ticker ids and pattern ids (time order) are the same on every
 * run over the same input. Everything is written into a temporary
 * directory, fsynced, renamed, and only then does the `current` link move:
 * a crash leaves the previous index in place, never a half-written one.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "core/path.h"
#include "core/loop.h"
#include "data/symtab.h"
#include "data/barstore.h"
#include "data/flatfile.h"
#include "core/args.h"
#include "core/version.h"
#include "index/build.h"
#include "index/build_day.h"
#include "index/faiss.h"
#include "index/files.h"
#include "index/index.h"
#include "index/manifest.h"

#define BUILD_AHEAD          2          /* days read ahead of the merge */
#define BUILD_ADD_CHUNK      (1 << 20)  /* vectors per FAISS add call */
#define BUILD_FLAT_MAX       100000     /* exact search up to this size */
#define BUILD_RECALL_K       40         /* SPEC 8: recall@40 */
#define BUILD_RECALL_QUERIES 256
#define BUILD_PQ_NITER       10         /* product quantizer k-means */
#define BUILD_PQ_POINTS      64         /* training points per centroid */

typedef struct {
    const char  *flat_dir;
    const char  *out_dir;
    const char  *factory;
    size_t       nprobe;
    double       min_window_volume;
    double       recall_target;
    size_t       refine;
    int          threads;
    int          update;
    size_t       bars_map_max;
} build_opts_t;

typedef struct {
    build_opts_t        o;
    char                index_dir[PATH_MAX];
    char                tmp_dir[PATH_MAX];
    char                gen_name[64];

    prt_build_day_t    *days;
    char               *done;
    size_t              ndays;
    size_t              next_job;
    size_t              merged;
    pthread_mutex_t     mu;
    pthread_cond_t      cv;

    prt_index_t        *old;            /* update-index: the current one */
    prt_barstore_t     *bars;
    prt_symtab_t        tickers;
    prt_file_writer_t   w_patterns;
    prt_file_writer_t   w_traj;
    prt_file_writer_t   w_vectors;
    prt_index_day_t    *daytab;
    size_t              ndaytab;
    uint64_t            n;              /* patterns so far */
    prt_manifest_t      man;

    uint64_t            started_ms;
    uint64_t            progress_ms;
    int                 tty;
} build_t;


/* ---- progress ---------------------------------------------------------- */

static void
progress(build_t *b, const char *phase, uint64_t done, uint64_t total,
    uint64_t items, const char *unit, int last)
{
    uint64_t  now = prt_monotonic_ms();
    double    secs = (double) (now - b->started_ms) / 1000.0;
    double    rate = secs > 0 ? (double) items / secs : 0;
    double    eta = done ? secs * (double) (total - done) / (double) done : 0;

    if (!b->tty || (!last && now - b->progress_ms < 250)) {
        return;
    }
    b->progress_ms = now;
    fprintf(stderr, "\r%-9s %llu/%llu  %llu %s  %.0f %s/s  ETA %.0fs   %s",
            phase, (unsigned long long) done, (unsigned long long) total,
            (unsigned long long) items, unit, rate, unit, eta,
            last ? "\n" : "");
    fflush(stderr);
}


/* ---- inputs ------------------------------------------------------------ */

static int
day_cmp(const void *a, const void *b)
{
    const prt_build_day_t  *x = a, *y = b;

    return (x->day > y->day) - (x->day < y->day);
}

/* Every YYYY-MM-DD.csv.gz of the folder (after `after` when updating). */
static int
list_days(build_t *b, prt_day_t after)
{
    DIR            *dir = opendir(b->o.flat_dir);
    struct dirent  *de;
    prt_day_t       day;
    size_t          cap = 0;
    char            path[PATH_MAX];
    void           *p;

    if (dir == NULL) {
        prt_error("%s: %s", b->o.flat_dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        if (prt_ff_name_day(de->d_name, &day) != 0 || day <= after) {
            continue;
        }
        if (b->ndays == cap) {
            cap = cap ? cap * 2 : 64;
            p = realloc(b->days, cap * sizeof(prt_build_day_t));
            if (p == NULL) {
                closedir(dir);
                return -1;
            }
            b->days = p;
        }
        if (prt_fmt(path, sizeof(path), "%s/%s", b->o.flat_dir, de->d_name)
            != 0)
        {
            continue;
        }
        memset(&b->days[b->ndays], 0, sizeof(prt_build_day_t));
        b->days[b->ndays].path = strdup(path);
        b->days[b->ndays].day = day;
        b->days[b->ndays].min_window_volume = b->o.min_window_volume;
        b->ndays++;
    }
    closedir(dir);
    if (b->ndays) {
        qsort(b->days, b->ndays, sizeof(prt_build_day_t), day_cmp);
    }
    b->done = calloc(b->ndays ? b->ndays : 1, 1);
    return b->done ? 0 : -1;
}


/* ---- workers ----------------------------------------------------------- */

static void *
worker(void *arg)
{
    build_t  *b = arg;
    size_t    i;

    for ( ;; ) {
        pthread_mutex_lock(&b->mu);
        while (b->next_job < b->ndays
               && b->next_job >= b->merged + BUILD_AHEAD + (size_t) b->o.threads)
        {
            pthread_cond_wait(&b->cv, &b->mu);
        }
        if (b->next_job >= b->ndays) {
            pthread_mutex_unlock(&b->mu);
            return NULL;
        }
        i = b->next_job++;
        pthread_mutex_unlock(&b->mu);

        (void) prt_build_day_run(&b->days[i]);

        pthread_mutex_lock(&b->mu);
        b->done[i] = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
}


/* ---- merging a day ----------------------------------------------------- */

static int
store_bars(build_t *b, prt_build_day_t *d)
{
    prt_bs_group_t  *g;
    int              rc;

    if (d->ntickers == 0) {
        return 0;
    }
    g = malloc(d->ntickers * sizeof(*g));
    if (g == NULL) {
        return -1;
    }
    for (uint32_t t = 0; t < d->ntickers; t++) {
        g[t].ticker = d->tickers[t];
        g[t].day = d->day;
        g[t].bars = d->bars + d->bar_start[t];
        g[t].n = d->bar_start[t + 1] - d->bar_start[t];
    }
    rc = prt_barstore_put(b->bars, g, d->ntickers, PRT_BS_REPLACE);
    if (rc != 0) {
        prt_error("storing bars of %s: %s", d->path, prt_barstore_errmsg());
    }
    free(g);
    return rc;
}

static int
append_patterns(build_t *b, prt_build_day_t *d)
{
    uint32_t            *global = malloc((d->ntickers + 1) * sizeof(uint32_t));
    prt_pattern_meta_t   meta;
    int                  rc = 0;

    if (global == NULL) {
        return -1;
    }
    for (uint32_t t = 0; t < d->ntickers; t++) {
        global[t] = PRT_SYMTAB_NONE;
    }
    for (size_t i = 0; i < d->npatterns && rc == 0; i++) {
        uint32_t  t = d->pat_ticker[i];

        if (global[t] == PRT_SYMTAB_NONE) {
            global[t] = prt_symtab_add(&b->tickers, d->tickers[t]);
            if (global[t] == PRT_SYMTAB_NONE) {
                rc = -1;
                break;
            }
        }
        meta.ticker = global[t];
        meta.minute = d->pat_minute[i];
        rc = prt_file_append(&b->w_patterns, &meta, 1);
    }
    free(global);

    if (rc == 0
        && (prt_file_append(&b->w_vectors, d->vectors, d->npatterns) != 0
            || prt_file_append(&b->w_traj, d->trajectories, d->npatterns)
               != 0))
    {
        rc = -1;
    }
    return rc;
}

static int
add_day_entry(build_t *b, prt_build_day_t *d)
{
    void     *p = realloc(b->daytab, (b->ndaytab + 1) * sizeof(*b->daytab));
    uint32_t  tickers = 0;

    if (p == NULL) {
        return -1;
    }
    b->daytab = p;
    for (size_t i = 0; i < d->npatterns; i++) {
        tickers += (i == 0 || d->pat_ticker[i] != d->pat_ticker[i - 1]);
    }
    b->daytab[b->ndaytab].day = d->day;
    b->daytab[b->ndaytab].tickers = tickers;
    b->daytab[b->ndaytab].first_id = b->n;
    b->daytab[b->ndaytab].count = d->npatterns;
    b->ndaytab++;
    b->n += d->npatterns;
    return 0;
}

static void
count_day(build_t *b, const prt_build_day_t *d)
{
    prt_manifest_t  *m = &b->man;

    m->files++;
    m->rows += d->ff.rows;
    m->malformed_rows += d->ff.malformed;
    m->skipped_rows += d->ff.skipped + d->rows_other_day;
    m->windows_short += d->windows_short;
    m->windows_flat += d->windows_flat;
    m->windows_price += d->windows_price;
    m->windows_low_volume += d->windows_low_volume;
    if (d->ff.malformed) {
        prt_warn("%s: %llu malformed rows not used", d->path,
                 (unsigned long long) d->ff.malformed);
    }
}

static int
merge_day(build_t *b, prt_build_day_t *d)
{
    if (d->failed) {
        prt_error("%s", d->error);
        return -1;
    }
    if (store_bars(b, d) != 0 || append_patterns(b, d) != 0
        || (d->npatterns && add_day_entry(b, d) != 0))
    {
        return -1;
    }
    count_day(b, d);
    return 0;
}

static int
read_and_merge(build_t *b)
{
    pthread_t  th[16];
    int        nth = b->o.threads, rc = 0;
    uint64_t   rows = 0;

    for (int i = 0; i < nth; i++) {
        if (pthread_create(&th[i], NULL, worker, b) != 0) {
            nth = i;
            rc = -1;
            break;
        }
    }

    for (size_t i = 0; i < b->ndays && rc == 0; i++) {
        pthread_mutex_lock(&b->mu);
        while (!b->done[i]) {
            pthread_cond_wait(&b->cv, &b->mu);
        }
        pthread_mutex_unlock(&b->mu);

        rc = merge_day(b, &b->days[i]);
        rows += b->days[i].ff.rows;
        prt_build_day_free(&b->days[i]);
        progress(b, "days", i + 1, b->ndays, b->n, "patterns",
                 i + 1 == b->ndays);

        pthread_mutex_lock(&b->mu);
        b->merged = i + 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }

    if (rc != 0) {                   /* let the workers run out of work */
        pthread_mutex_lock(&b->mu);
        b->next_job = b->ndays;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
    for (int i = 0; i < nth; i++) {
        pthread_join(th[i], NULL);
    }
    for (size_t i = 0; i < b->ndays; i++) {
        prt_build_day_free(&b->days[i]);
    }
    return rc;
}


/* ---- tables ------------------------------------------------------------ */

/* tmp_dir is at most PATH_MAX - 64 long (make_dirs), file names short */
static void
gen_path(const build_t *b, const char *file, char *out, size_t cap)
{
    (void) prt_fmt(out, cap, "%s/%s", b->tmp_dir, file);
}

static int
write_tickers(build_t *b)
{
    char   path[PATH_MAX];
    FILE  *f;
    int    rc = 0;

    gen_path(b, PRT_FILE_TICKERS, path, sizeof(path));
    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < b->tickers.count && rc == 0; i++) {
        rc = fprintf(f, "%s\n", prt_symtab_name(&b->tickers, i)) < 0 ? -1 : 0;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = -1;
    }
    return (fclose(f) == 0 && rc == 0) ? 0 : -1;
}

static int
write_days(build_t *b)
{
    prt_file_writer_t  w;
    char               path[PATH_MAX];

    gen_path(b, PRT_FILE_DAYS, path, sizeof(path));
    if (prt_file_create(&w, path, PRT_MAGIC_DAYS, sizeof(prt_index_day_t), 0)
        != 0)
    {
        return -1;
    }
    if (prt_file_append(&w, b->daytab, b->ndaytab) != 0) {
        prt_file_abort(&w);
        return -1;
    }
    return prt_file_finish(&w);
}

/* ticker_ids.bin: a counting sort of the pattern ids by ticker; ids stay
 * ascending (time order) within each ticker. */
static int
write_ticker_ids(build_t *b, const prt_pattern_meta_t *meta)
{
    uint64_t           nt = b->tickers.count;
    uint64_t          *off = calloc(nt + 1, sizeof(uint64_t));
    uint64_t          *fill = calloc(nt + 1, sizeof(uint64_t));
    uint32_t          *ids = malloc((b->n ? b->n : 1) * sizeof(uint32_t));
    prt_file_writer_t  w;
    char               path[PATH_MAX];
    int                rc = -1;

    if (off == NULL || fill == NULL || ids == NULL || b->n > UINT32_MAX) {
        goto done;
    }
    for (uint64_t i = 0; i < b->n; i++) {
        off[meta[i].ticker + 1]++;
    }
    for (uint64_t t = 0; t < nt; t++) {
        off[t + 1] += off[t];
        fill[t] = off[t];
    }
    for (uint64_t i = 0; i < b->n; i++) {
        ids[fill[meta[i].ticker]++] = (uint32_t) i;
    }

    gen_path(b, PRT_FILE_TICKER_IDS, path, sizeof(path));
    if (prt_file_create(&w, path, PRT_MAGIC_TICKER_IDS, sizeof(uint32_t), 0)
        != 0)
    {
        goto done;
    }
    /* the offsets travel as pairs of uint32 records, then the ids */
    if (prt_file_append(&w, off, 2 * (nt + 1)) != 0
        || prt_file_append(&w, ids, b->n) != 0)
    {
        prt_file_abort(&w);
        goto done;
    }
    rc = prt_file_finish(&w);

done:
    free(off);
    free(fill);
    free(ids);
    return rc;
}


/* ---- FAISS ------------------------------------------------------------- */

static size_t
pow2_floor(size_t v)
{
    size_t  p = 1;

    while (p * 2 <= v) {
        p *= 2;
    }
    return p;
}

/* The default index for n patterns: exact search while it is cheap, then
 * IVF-PQ with about 2 sqrt(n) lists (docs/index.md has the measurements). */
static void
default_factory(uint64_t n, char *out, size_t cap)
{
    size_t  nlist;

    if (n <= BUILD_FLAT_MAX) {
        snprintf(out, cap, "Flat");
        return;
    }
    nlist = pow2_floor((size_t) (2.0 * sqrt((double) n)));
    nlist = nlist < 256 ? 256 : nlist > 4096 ? 4096 : nlist;
    snprintf(out, cap, "IVF%zu,PQ15np", nlist);
}

/* A deterministic training sample: every step-th vector. */
static float *
training_sample(const float *vec, uint64_t n, size_t nlist, size_t *out_n)
{
    size_t   want = nlist ? 64 * nlist : n;
    size_t   step, m;
    float   *s;

    want = want < 65536 ? 65536 : want;
    if (want >= n) {
        *out_n = n;
        return NULL;             /* train on everything, in place */
    }
    step = n / want;
    m = n / step;
    s = malloc(m * PRT_WINDOW * sizeof(float));
    if (s == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < m; i++) {
        memcpy(s + i * PRT_WINDOW, vec + i * step * PRT_WINDOW,
               PRT_WINDOW * sizeof(float));
    }
    *out_n = m;
    return s;
}

static int
faiss_new_index(build_t *b, const float *vec, prt_faiss_t **out, char *err)
{
    size_t     nsample = 0;
    float     *sample;
    uint64_t   t0;
    int        rc;

    if (prt_faiss_create(b->man.factory, PRT_WINDOW, out, err) != 0) {
        return -1;
    }
    if (prt_faiss_is_trained(*out)) {
        return 0;
    }
    /* measured: a third of the default training time, recall within 0.01
     * (docs/index.md) */
    (void) prt_faiss_set_pq_training(*out, BUILD_PQ_NITER, BUILD_PQ_POINTS);
    t0 = prt_monotonic_ms();
    sample = training_sample(vec, b->n, prt_faiss_nlist(*out), &nsample);
    if (sample == NULL && nsample != b->n) {
        snprintf(err, PRT_FAISS_ERR_LEN, "out of memory");
        return -1;
    }
    if (b->tty) {
        fprintf(stderr, "training %s on %zu vectors...\n", b->man.factory,
                nsample);
    }
    rc = prt_faiss_train(*out, nsample, sample ? sample : vec, err);
    free(sample);
    prt_info("trained %s on %zu vectors in %.1f s", b->man.factory, nsample,
             (double) (prt_monotonic_ms() - t0) / 1000.0);
    return rc;
}

/* recall@40 of the engine's search path: FAISS, then exact re-ranking */
static double
measure_recall(build_t *b, prt_faiss_t *f, const float *vec, const float *q,
    size_t nq, const int64_t *gt, size_t nprobe, char *err)
{
    size_t    k = BUILD_RECALL_K, k2 = k * b->man.refine, hits = 0;
    float    *cd = malloc(nq * k2 * sizeof(float)), dist[BUILD_RECALL_K];
    int64_t  *ci = malloc(nq * k2 * sizeof(int64_t)), ids[BUILD_RECALL_K];

    if (cd == NULL || ci == NULL
        || prt_faiss_search(f, nq, q, k2, -1, nprobe, cd, ci, err) != 0)
    {
        free(cd);
        free(ci);
        return -1;
    }
    for (size_t i = 0; i < nq; i++) {
        const int64_t  *a = ids;
        const int64_t  *e = gt + i * BUILD_RECALL_K;

        prt_refine(vec, b->n, q + i * PRT_WINDOW, ci + i * k2, k2, k, dist,
                   ids);
        for (size_t x = 0; x < BUILD_RECALL_K; x++) {
            for (size_t y = 0; y < BUILD_RECALL_K; y++) {
                if (a[x] == e[y] && a[x] >= 0) {
                    hits++;
                    break;
                }
            }
        }
    }
    free(cd);
    free(ci);
    return (double) hits / (double) (nq * BUILD_RECALL_K);
}

/*
 * Measures recall@40 against exact search on queries drawn from the data
 * (a fixed stride, so it is the same on every run) and, unless --nprobe was
 * given, takes the smallest nprobe that reaches the target.
 */
static int
tune_nprobe(build_t *b, prt_faiss_t *f, const float *vec)
{
    static const size_t  steps[] = { 4, 6, 8, 12, 16, 24, 32, 48, 64, 96,
                                     128, 192, 256, 384, 512 };
    size_t    nq = b->n < BUILD_RECALL_QUERIES ? b->n : BUILD_RECALL_QUERIES;
    size_t    nlist = prt_faiss_nlist(f), k = BUILD_RECALL_K;
    float    *q = malloc(nq * PRT_WINDOW * sizeof(float));
    float    *dist = malloc(nq * k * sizeof(float));
    int64_t  *gt = malloc(nq * k * sizeof(int64_t));
    char      err[PRT_FAISS_ERR_LEN];
    double    recall = -1;
    int       rc = -1;

    if (q == NULL || dist == NULL || gt == NULL) {
        goto done;
    }
    b->man.refine = nlist ? b->o.refine : 1;
    for (size_t i = 0; i < nq; i++) {
        memcpy(q + i * PRT_WINDOW, vec + (i * (b->n / nq)) * PRT_WINDOW,
               PRT_WINDOW * sizeof(float));
    }
    if (prt_faiss_exact(PRT_WINDOW, b->n, vec, nq, q, k, dist, gt, err) != 0) {
        prt_error("%s", err);
        goto done;
    }

    if (nlist == 0 || b->o.nprobe) {
        b->man.nprobe = nlist ? b->o.nprobe : 0;
        recall = measure_recall(b, f, vec, q, nq, gt, b->man.nprobe, err);
    } else {
        for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            b->man.nprobe = steps[s] < nlist ? steps[s] : nlist;
            recall = measure_recall(b, f, vec, q, nq, gt, b->man.nprobe,
                                    err);
            if (recall < 0 || recall >= b->o.recall_target
                || b->man.nprobe == nlist)
            {
                break;
            }
        }
    }
    if (recall < 0) {
        prt_error("%s", err);
        goto done;
    }
    b->man.recall = recall;
    b->man.recall_queries = nq;
    prt_info("recall@%d %.3f at nprobe %llu (%zu queries, target %.2f)",
             BUILD_RECALL_K, recall, (unsigned long long) b->man.nprobe, nq,
             b->o.recall_target);
    rc = 0;

done:
    free(q);
    free(dist);
    free(gt);
    return rc;
}

static int
build_faiss(build_t *b, const float *vec, uint64_t first_new)
{
    prt_faiss_t  *f = NULL;
    char          err[PRT_FAISS_ERR_LEN], path[PATH_MAX];
    uint64_t      i, chunk, t0;
    int           rc;

    if (b->old) {
        rc = prt_fmt(path, sizeof(path), "%s/%s", b->old->dir,
                     PRT_FILE_INDEX);
        if (rc == 0) {
            rc = prt_faiss_read(path, 0, &f, err);
        }
    } else {
        rc = faiss_new_index(b, vec, &f, err);
    }
    if (rc != 0) {
        prt_error("%s", err);
        prt_faiss_free(f);
        return -1;
    }
    b->man.nlist = prt_faiss_nlist(f);
    t0 = prt_monotonic_ms();

    for (i = first_new; i < b->n && rc == 0; i += chunk) {
        chunk = b->n - i < BUILD_ADD_CHUNK ? b->n - i : BUILD_ADD_CHUNK;
        rc = prt_faiss_add(f, chunk, vec + i * PRT_WINDOW, err);
        progress(b, "indexing", i + chunk - first_new, b->n - first_new,
                 i + chunk - first_new, "vectors", i + chunk == b->n);
    }
    prt_info("added %llu vectors in %.1f s",
             (unsigned long long) (b->n - first_new),
             (double) (prt_monotonic_ms() - t0) / 1000.0);
    if (rc == 0) {
        rc = tune_nprobe(b, f, vec);
    }
    gen_path(b, PRT_FILE_INDEX, path, sizeof(path));
    if (rc == 0) {
        rc = prt_faiss_write(f, path, err);
    }
    if (rc != 0) {
        prt_error("%s", err);
    }
    prt_faiss_free(f);
    return rc == 0 ? prt_fsync_path(path) : -1;
}


/* ---- generations ------------------------------------------------------- */

static int
make_dirs(build_t *b)
{
    struct timespec  ts;
    struct tm        tm;

    if (strlen(b->o.out_dir) > PATH_MAX - 128) {
        prt_error("--out path too long");
        return -1;
    }
    (void) prt_fmt(b->index_dir, sizeof(b->index_dir), "%s/index",
                   b->o.out_dir);
    if ((mkdir(b->o.out_dir, 0755) != 0 && errno != EEXIST)
        || (mkdir(b->index_dir, 0755) != 0 && errno != EEXIST))
    {
        prt_error("%s: %s", b->index_dir, strerror(errno));
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(b->gen_name, sizeof(b->gen_name),
             "gen-%04d%02d%02dT%02d%02d%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000);
    (void) prt_fmt(b->tmp_dir, sizeof(b->tmp_dir), "%s/.tmp-%s.%d",
                   b->index_dir, b->gen_name, (int) getpid());
    if (mkdir(b->tmp_dir, 0755) != 0) {
        prt_error("%s: %s", b->tmp_dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void
remove_dir(const char *path)
{
    DIR            *dir = opendir(path);
    struct dirent  *de;
    char            p[PATH_MAX];

    if (dir == NULL) {
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            if (prt_fmt(p, sizeof(p), "%s/%s", path, de->d_name) == 0) {
                unlink(p);
            }
        }
    }
    closedir(dir);
    rmdir(path);
}

/* Keeps the new generation and the one before it (an operator can point
 * `current` back); removes older ones and leftovers of crashed builds. */
static void
prune_generations(build_t *b, const char *previous)
{
    DIR            *dir = opendir(b->index_dir);
    struct dirent  *de;
    char            p[PATH_MAX];

    if (dir == NULL) {
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        int  gen = strncmp(de->d_name, "gen-", 4) == 0;
        int  tmp = strncmp(de->d_name, ".tmp-", 5) == 0;

        if ((!gen && !tmp) || strcmp(de->d_name, b->gen_name) == 0
            || (previous && strcmp(de->d_name, previous) == 0)
            || (tmp && strstr(de->d_name, b->gen_name)))
        {
            continue;
        }
        if (prt_fmt(p, sizeof(p), "%s/%s", b->index_dir, de->d_name) == 0) {
            remove_dir(p);
        }
    }
    closedir(dir);
}

static int
publish(build_t *b)
{
    char   gen[PATH_MAX], link[PATH_MAX], tmp_link[PATH_MAX];
    char   previous[PATH_MAX];
    char  *prev = NULL;
    ssize_t n;

    (void) prt_fmt(gen, sizeof(gen), "%s/%s", b->index_dir, b->gen_name);
    (void) prt_fmt(link, sizeof(link), "%s/current", b->index_dir);
    (void) prt_fmt(tmp_link, sizeof(tmp_link), "%s/.current.%d",
                   b->index_dir, (int) getpid());

    n = readlink(link, previous, sizeof(previous) - 1);
    if (n > 0) {
        previous[n] = '\0';
        prev = previous;
    }

    if (prt_fsync_path(b->tmp_dir) != 0 || rename(b->tmp_dir, gen) != 0
        || (unlink(tmp_link) != 0 && errno != ENOENT)
        || symlink(b->gen_name, tmp_link) != 0
        || rename(tmp_link, link) != 0 || prt_fsync_path(b->index_dir) != 0)
    {
        prt_error("publishing %s: %s", gen, strerror(errno));
        return -1;
    }
    prune_generations(b, prev);
    return 0;
}


/* ---- the commands ------------------------------------------------------ */

static int
open_writers(build_t *b)
{
    char  p[PATH_MAX], from[PATH_MAX];
    int   rc;

    if (b->old == NULL) {
        gen_path(b, PRT_FILE_PATTERNS, p, sizeof(p));
        rc = prt_file_create(&b->w_patterns, p, PRT_MAGIC_PATTERNS,
                             sizeof(prt_pattern_meta_t), 0);
        gen_path(b, PRT_FILE_TRAJECTORIES, p, sizeof(p));
        rc |= prt_file_create(&b->w_traj, p, PRT_MAGIC_TRAJECTORIES,
                              PRT_N_HORIZONS * sizeof(float), PRT_N_HORIZONS);
        gen_path(b, PRT_FILE_VECTORS, p, sizeof(p));
        rc |= prt_file_create(&b->w_vectors, p, PRT_MAGIC_VECTORS,
                              PRT_WINDOW * sizeof(float), PRT_WINDOW);
        return rc ? -1 : 0;
    }

    /* update: the new generation starts as a copy of the current one */
    static const char *const files[] = {
        PRT_FILE_PATTERNS, PRT_FILE_TRAJECTORIES, PRT_FILE_VECTORS
    };
    for (size_t i = 0; i < 3; i++) {
        gen_path(b, files[i], p, sizeof(p));
        if (prt_fmt(from, sizeof(from), "%s/%s", b->old->dir, files[i]) != 0
            || prt_copy_file(from, p) != 0)
        {
            return -1;
        }
    }
    gen_path(b, PRT_FILE_PATTERNS, p, sizeof(p));
    rc = prt_file_reopen(&b->w_patterns, p, PRT_MAGIC_PATTERNS,
                         sizeof(prt_pattern_meta_t), 0);
    gen_path(b, PRT_FILE_TRAJECTORIES, p, sizeof(p));
    rc |= prt_file_reopen(&b->w_traj, p, PRT_MAGIC_TRAJECTORIES,
                          PRT_N_HORIZONS * sizeof(float), PRT_N_HORIZONS);
    gen_path(b, PRT_FILE_VECTORS, p, sizeof(p));
    rc |= prt_file_reopen(&b->w_vectors, p, PRT_MAGIC_VECTORS,
                          PRT_WINDOW * sizeof(float), PRT_WINDOW);
    return rc ? -1 : 0;
}

static int
start_from_old(build_t *b)
{
    char  err[256];

    if (prt_index_open(b->index_dir, 0, &b->old, err, sizeof(err)) != 0) {
        prt_error("update-index needs a valid current index: %s", err);
        return -1;
    }
    b->man = b->old->manifest;
    b->man.updates++;
    for (uint32_t i = 0; i < b->old->tickers.count; i++) {
        if (prt_symtab_add(&b->tickers, prt_symtab_name(&b->old->tickers, i))
            == PRT_SYMTAB_NONE)
        {
            return -1;
        }
    }
    b->daytab = malloc((b->old->ndays + 1) * sizeof(prt_index_day_t));
    if (b->daytab == NULL) {
        return -1;
    }
    memcpy(b->daytab, b->old->days, b->old->ndays * sizeof(prt_index_day_t));
    b->ndaytab = b->old->ndays;
    b->n = b->old->n;
    return 0;
}

static void
manifest_init(build_t *b)
{
    static const int  horizons[PRT_N_HORIZONS] = PRT_HORIZONS_INIT;
    prt_manifest_t   *m = &b->man;

    memset(m, 0, sizeof(*m));
    m->format = PRT_MANIFEST_FORMAT;
    m->dim = PRT_WINDOW;
    m->window = PRT_WINDOW;
    m->n_horizons = PRT_N_HORIZONS;
    memcpy(m->horizons, horizons, sizeof(horizons));
    m->min_window_volume = b->o.min_window_volume;
}

static int
finish_tables(build_t *b, uint64_t first_new)
{
    prt_file_map_t  vec, pat;
    char            p[PATH_MAX], err[256];
    int             rc;

    if (prt_file_finish(&b->w_patterns) != 0
        || prt_file_finish(&b->w_traj) != 0
        || prt_file_finish(&b->w_vectors) != 0
        || write_tickers(b) != 0 || write_days(b) != 0)
    {
        return -1;
    }

    gen_path(b, PRT_FILE_PATTERNS, p, sizeof(p));
    if (prt_file_map(&pat, p, PRT_MAGIC_PATTERNS, sizeof(prt_pattern_meta_t),
                     0, err, sizeof(err)) != 0)
    {
        prt_error("%s", err);
        return -1;
    }
    rc = write_ticker_ids(b, pat.records);
    prt_file_unmap(&pat);

    gen_path(b, PRT_FILE_VECTORS, p, sizeof(p));
    if (rc != 0 || prt_file_map(&vec, p, PRT_MAGIC_VECTORS,
                                PRT_WINDOW * sizeof(float), PRT_WINDOW, err,
                                sizeof(err)) != 0)
    {
        return -1;
    }
    rc = build_faiss(b, vec.records, first_new);
    prt_file_unmap(&vec);
    return rc;
}

static int
finish_manifest(build_t *b)
{
    prt_manifest_t  *m = &b->man;
    char             p[PATH_MAX];

    snprintf(m->engine_version, sizeof(m->engine_version), "%s",
             PRT_ENGINE_VERSION);
    m->patterns = b->n;
    m->tickers = b->tickers.count;
    m->days = b->ndaytab;
    m->first_day = b->ndaytab ? b->daytab[0].day : 0;
    m->last_day = b->ndaytab ? b->daytab[b->ndaytab - 1].day : 0;
    m->built_at_ms = (int64_t) prt_wall_ms();
    m->build_seconds = (double) (prt_monotonic_ms() - b->started_ms) / 1000.0;
    gen_path(b, PRT_FILE_MANIFEST, p, sizeof(p));
    return prt_manifest_write(m, p);
}

static int
open_bars(build_t *b)
{
    char           dir[PATH_MAX];
    prt_kv_conf_t  conf;

    (void) prt_fmt(dir, sizeof(dir), "%s/bars", b->o.out_dir);
    memset(&conf, 0, sizeof(conf));
    conf.dir = dir;
    conf.map_max = b->o.bars_map_max;
    conf.sync = PRT_KV_SYNC_NOMETA;
    if (prt_barstore_open(&b->bars, &conf) != 0) {
        prt_error("bar store %s: %s", dir, prt_barstore_errmsg());
        return -1;
    }
    return 0;
}

static void
summary(build_t *b, uint64_t first_new)
{
    prt_manifest_t  *m = &b->man;
    double           secs = (double) (prt_monotonic_ms() - b->started_ms)
                            / 1000.0;

    printf("%s: %zu days, %llu tickers, %llu new patterns (%llu in all) in "
           "%.1f s, %.0f patterns/s; index %s nprobe %llu recall@40 %.3f; "
           "%llu rows, "
           "%llu malformed, %llu skipped -> %s/%s\n",
           b->o.update ? "update-index" : "build-index", b->ndays,
           (unsigned long long) m->tickers,
           (unsigned long long) (b->n - first_new), (unsigned long long) b->n,
           secs, secs > 0 ? (double) (b->n - first_new) / secs : 0,
           m->factory, (unsigned long long) m->nprobe, m->recall,
           (unsigned long long) m->rows,
           (unsigned long long) m->malformed_rows,
           (unsigned long long) m->skipped_rows, b->index_dir, b->gen_name);
}

static int
build_run(build_t *b)
{
    uint64_t  first_new;

    if (make_dirs(b) != 0 || open_bars(b) != 0) {
        return -1;
    }
    if (b->o.update) {
        if (start_from_old(b) != 0 || list_days(b, b->man.last_day) != 0) {
            return -1;
        }
        if (b->ndays == 0) {
            printf("update-index: no day after %s in %s: nothing to add\n",
                   "the last indexed one", b->o.flat_dir);
            remove_dir(b->tmp_dir);
            return 0;
        }
    } else {
        manifest_init(b);
        if (list_days(b, INT32_MIN) != 0) {
            return -1;
        }
        if (b->ndays == 0) {
            prt_error("no YYYY-MM-DD.csv.gz flat files in %s", b->o.flat_dir);
            return -1;
        }
    }

    first_new = b->n;
    if (open_writers(b) != 0 || read_and_merge(b) != 0) {
        return -1;
    }
    prt_info("FAISS %s", prt_faiss_library());
    prt_info("read %zu days, %llu patterns in %.1f s", b->ndays,
             (unsigned long long) (b->n - first_new),
             (double) (prt_monotonic_ms() - b->started_ms) / 1000.0);
    if (b->n == 0) {
        prt_error("no indexable pattern in %s", b->o.flat_dir);
        return -1;
    }
    if (!b->o.update) {
        if (b->o.factory) {
            snprintf(b->man.factory, sizeof(b->man.factory), "%s",
                     b->o.factory);
        } else {
            default_factory(b->n, b->man.factory, sizeof(b->man.factory));
        }
    }
    if (finish_tables(b, first_new) != 0 || finish_manifest(b) != 0
        || publish(b) != 0)
    {
        return -1;
    }
    summary(b, first_new);
    return 0;
}

static void
build_free(build_t *b)
{
    prt_file_abort(&b->w_patterns);
    prt_file_abort(&b->w_traj);
    prt_file_abort(&b->w_vectors);
    if (b->tmp_dir[0] && access(b->tmp_dir, F_OK) == 0) {
        remove_dir(b->tmp_dir);       /* a failed build leaves nothing */
    }
    for (size_t i = 0; i < b->ndays; i++) {
        prt_build_day_free(&b->days[i]);
    }
    free(b->days);
    free(b->done);
    free(b->daytab);
    prt_symtab_free(&b->tickers);
    prt_barstore_close(b->bars);
    prt_index_unref(b->old);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
}


/* ---- arguments --------------------------------------------------------- */

static void
usage(const char *cmd)
{
    fprintf(stderr,
        "usage: pattern-rt-engine %s --data FLATDIR --out DATADIR [options]\n"
        "  --data DIR               folder of YYYY-MM-DD.csv.gz flat files\n"
        "  --out DIR                engine data directory (index/, bars/)\n"
        "  --factory STR            FAISS factory string (default: by size)\n"
        "  --nprobe N               IVF lists probed per search (default:\n"
        "                           the smallest reaching --recall-target)\n"
        "  --recall-target R        recall@40 vs exact search (0.92)\n"
        "  --refine N               FAISS candidates per result, re-ranked\n"
        "                           by exact distance (2)\n"
        "  --min-window-volume V    skip windows with less volume (1000)\n"
        "  --threads N              reader threads (default 2)\n"
        "  --bars-map-max SIZE      bar store size limit (default 64g)\n",
        cmd);
}

static int
parse_recall(void *opts, const char *name, const char *v)
{
    build_opts_t  *o = opts;
    char          *end;
    double         r = strtod(v, &end);

    if (*v == '\0' || *end != '\0' || !(r > 0 && r <= 1)) {
        fprintf(stderr, "bad %s: %s\n", name, v);
        return -1;
    }
    o->recall_target = r;
    return 0;
}

#define OPT(name, kind, field, lo, hi) \
    PRT_ARG_OF(name, kind, build_opts_t, field, lo, hi, NULL)

static const prt_arg_t  build_args[] = {
    OPT("data", PRT_ARG_STR, flat_dir, 0, 0),
    OPT("out", PRT_ARG_STR, out_dir, 0, 0),
    OPT("factory", PRT_ARG_STR, factory, 0, 0),
    OPT("nprobe", PRT_ARG_SIZE, nprobe, 0, (double) SIZE_MAX),
    OPT("min-window-volume", PRT_ARG_NUM, min_window_volume, 0, INFINITY),
    PRT_ARG_FN("recall-target", parse_recall, NULL),
    OPT("refine", PRT_ARG_SIZE, refine, 1, 64),
    OPT("threads", PRT_ARG_INT, threads, 1, 16),
    OPT("bars-map-max", PRT_ARG_SIZE, bars_map_max, 0, (double) SIZE_MAX),
};

/* 0, 1 for --help, -1 (said why) */
static int
parse_args(build_opts_t *o, int argc, char **argv)
{
    static const prt_args_t  spec = PRT_ARGS("", build_args);
    int                      rc;

    o->min_window_volume = 1000;
    o->recall_target = 0.92;
    o->refine = 2;
    o->threads = 2;
    o->bars_map_max = (size_t) 64 << 30;

    rc = prt_args_parse(&spec, o, argc, argv, 1);
    if (rc != 0) {
        return rc;
    }
    if (o->flat_dir == NULL || o->out_dir == NULL) {
        fprintf(stderr, "--data and --out are required\n");
        return -1;
    }
    return 0;
}

static int
build_command(int argc, char **argv, int update)
{
    build_t  b;
    int      rc;

    memset(&b, 0, sizeof(b));
    rc = parse_args(&b.o, argc, argv);
    if (rc != 0) {
        usage(argv[0]);
        return rc == 1 ? 0 : 2;
    }
    b.o.update = update;
    b.tty = isatty(STDERR_FILENO);
    b.started_ms = prt_monotonic_ms();
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    if (prt_symtab_init(&b.tickers, 4096) != 0) {
        return 1;
    }

    rc = build_run(&b);
    build_free(&b);
    if (rc != 0) {
        fprintf(stderr, "%s failed; the current index is unchanged\n",
                argv[0]);
    }
    return rc == 0 ? 0 : 1;
}

int
prt_build_index_command(int argc, char **argv)
{
    return build_command(argc, argv, 0);
}

int
prt_update_index_command(int argc, char **argv)
{
    return build_command(argc, argv, 1);
}
