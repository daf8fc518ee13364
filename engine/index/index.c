#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/loop.h"
#include "index/index.h"
#include "index/pattern.h"
#include "pattern_rt_msg.h"

#define ERRLEN  256
#define REFINE_AHEAD  8         /* candidates prefetched ahead in prt_refine */

static int
index_path(char *out, size_t cap, const char *dir, const char *file)
{
    int  n = snprintf(out, cap, "%s/%s", dir, file);

    return (n < 0 || (size_t) n >= cap) ? -1 : 0;
}

static int
check_manifest(const prt_manifest_t *m, char *err, size_t errlen)
{
    static const int  horizons[PRT_N_HORIZONS] = PRT_HORIZONS_INIT;

    if (m->format != PRT_MANIFEST_FORMAT || m->dim != PRT_WINDOW
        || m->window != PRT_WINDOW || m->n_horizons != PRT_N_HORIZONS
        || memcmp(m->horizons, horizons, sizeof(horizons)) != 0)
    {
        snprintf(err, errlen, "manifest: format %d, dim %d, window %d or "
                 "horizons differ from this engine's", m->format, m->dim,
                 m->window);
        return -1;
    }
    return 0;
}

static int
load_tickers(prt_index_t *ix, char *err, size_t errlen)
{
    char   path[PATH_MAX], line[64];
    FILE  *f;
    int    rc = 0;

    if (index_path(path, sizeof(path), ix->dir, PRT_FILE_TICKERS) != 0
        || (f = fopen(path, "r")) == NULL)
    {
        snprintf(err, errlen, "%s: %s", PRT_FILE_TICKERS, strerror(errno));
        return -1;
    }
    if (prt_symtab_init(&ix->tickers, (uint32_t) ix->manifest.tickers) != 0) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (prt_symtab_find(&ix->tickers, line) != PRT_SYMTAB_NONE
            || prt_symtab_add(&ix->tickers, line) == PRT_SYMTAB_NONE)
        {
            snprintf(err, errlen, "%s: bad or duplicate ticker \"%s\"",
                     PRT_FILE_TICKERS, line);
            rc = -1;
            break;
        }
    }
    fclose(f);
    if (rc == 0 && ix->tickers.count != ix->manifest.tickers) {
        snprintf(err, errlen, "%s: %u tickers, manifest says %llu",
                 PRT_FILE_TICKERS, ix->tickers.count,
                 (unsigned long long) ix->manifest.tickers);
        rc = -1;
    }
    return rc;
}

static int
map_file(prt_index_t *ix, prt_file_map_t *m, const char *file,
    const char *magic, uint32_t record_size, uint32_t width, char *err,
    size_t errlen)
{
    char  path[PATH_MAX];

    if (index_path(path, sizeof(path), ix->dir, file) != 0) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    if (prt_file_map(m, path, magic, record_size, width, err, errlen) != 0) {
        return -1;
    }
    ix->bytes += m->size;
    return 0;
}

static int
map_files(prt_index_t *ix, char *err, size_t errlen)
{
    if (map_file(ix, &ix->patterns_map, PRT_FILE_PATTERNS,
                 PRT_MAGIC_PATTERNS, sizeof(prt_pattern_meta_t), 0, err,
                 errlen) != 0
        || map_file(ix, &ix->traj_map, PRT_FILE_TRAJECTORIES,
                    PRT_MAGIC_TRAJECTORIES, PRT_N_HORIZONS * sizeof(float),
                    PRT_N_HORIZONS, err, errlen) != 0
        || map_file(ix, &ix->vectors_map, PRT_FILE_VECTORS, PRT_MAGIC_VECTORS,
                    PRT_WINDOW * sizeof(float), PRT_WINDOW, err, errlen) != 0
        || map_file(ix, &ix->days_map, PRT_FILE_DAYS, PRT_MAGIC_DAYS,
                    sizeof(prt_index_day_t), 0, err, errlen) != 0
        || map_file(ix, &ix->tids_map, PRT_FILE_TICKER_IDS,
                    PRT_MAGIC_TICKER_IDS, sizeof(uint32_t), 0, err, errlen)
           != 0)
    {
        return -1;
    }

    ix->meta = ix->patterns_map.records;
    ix->traj = ix->traj_map.records;
    ix->vectors = ix->vectors_map.records;
    ix->days = ix->days_map.records;
    ix->ndays = ix->days_map.count;
    /* ticker_ids.bin: (ntickers + 1) uint64 offsets as uint32 pairs, then ids */
    ix->tid_offsets = ix->tids_map.records;
    ix->tid_ids = (const uint32_t *) (ix->tid_offsets + ix->manifest.tickers + 1);
    return 0;
}

/* Every table agrees with every other: a broken index is refused here,
 * never half-used. */
static int
check_consistency(prt_index_t *ix, char *err, size_t errlen)
{
    uint64_t  n = ix->n, nt = ix->manifest.tickers, next = 0;

    if (ix->patterns_map.count != n || ix->traj_map.count != n
        || ix->vectors_map.count != n || ix->manifest.patterns != n
        || (uint64_t) prt_faiss_ntotal(ix->faiss) != n
        || prt_faiss_dim(ix->faiss) != PRT_WINDOW
        || ix->tids_map.count != 2 * (nt + 1) + n
        || ix->ndays != ix->manifest.days)
    {
        snprintf(err, errlen, "files disagree on the pattern count "
                 "(index %lld, patterns %llu, trajectories %llu, vectors %llu,"
                 " manifest %llu)", (long long) prt_faiss_ntotal(ix->faiss),
                 (unsigned long long) ix->patterns_map.count,
                 (unsigned long long) ix->traj_map.count,
                 (unsigned long long) ix->vectors_map.count,
                 (unsigned long long) ix->manifest.patterns);
        return -1;
    }

    for (uint64_t i = 0; i < ix->ndays; i++) {
        if (ix->days[i].first_id != next
            || (i && ix->days[i].day <= ix->days[i - 1].day))
        {
            snprintf(err, errlen, "%s: day table out of order at %llu",
                     PRT_FILE_DAYS, (unsigned long long) i);
            return -1;
        }
        next += ix->days[i].count;
    }
    if (next != n || ix->tid_offsets[0] != 0 || ix->tid_offsets[nt] != n) {
        snprintf(err, errlen, "day or ticker tables do not cover the "
                 "patterns");
        return -1;
    }
    for (uint64_t t = 0; t < nt; t++) {
        if (ix->tid_offsets[t] > ix->tid_offsets[t + 1]) {
            snprintf(err, errlen, "%s: offsets out of order",
                     PRT_FILE_TICKER_IDS);
            return -1;
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        if (ix->meta[i].ticker >= nt || ix->tid_ids[i] >= n) {
            snprintf(err, errlen, "pattern %llu refers outside the tables",
                     (unsigned long long) i);
            return -1;
        }
    }
    return 0;
}

static void
index_free(prt_index_t *ix)
{
    prt_faiss_free(ix->faiss);
    prt_file_unmap(&ix->patterns_map);
    prt_file_unmap(&ix->traj_map);
    prt_file_unmap(&ix->vectors_map);
    prt_file_unmap(&ix->days_map);
    prt_file_unmap(&ix->tids_map);
    prt_symtab_free(&ix->tickers);
    free(ix->dir);
    free(ix);
}

static int
index_load(prt_index_t *ix, size_t nprobe, char *err, size_t errlen)
{
    char         path[PATH_MAX], ferr[PRT_FAISS_ERR_LEN];
    struct stat  st;

    if (index_path(path, sizeof(path), ix->dir, PRT_FILE_MANIFEST) != 0
        || prt_manifest_read(&ix->manifest, path, err, errlen) != 0
        || check_manifest(&ix->manifest, err, errlen) != 0
        || load_tickers(ix, err, errlen) != 0
        || map_files(ix, err, errlen) != 0)
    {
        return -1;
    }
    ix->n = ix->manifest.patterns;

    if (index_path(path, sizeof(path), ix->dir, PRT_FILE_INDEX) != 0
        || prt_faiss_read(path, 1, &ix->faiss, ferr) != 0)
    {
        snprintf(err, errlen, "%s", ferr);
        return -1;
    }
    if (stat(path, &st) == 0) {
        ix->bytes += (uint64_t) st.st_size;     /* mapped, like the others */
    }
    ix->nprobe = nprobe ? nprobe : ix->manifest.nprobe;
    ix->refine = ix->manifest.refine ? ix->manifest.refine : 1;
    return check_consistency(ix, err, errlen);
}

int
prt_index_open(const char *index_dir, size_t nprobe, prt_index_t **out,
    char *err, size_t errlen)
{
    char          link[PATH_MAX];
    prt_index_t  *ix;

    if (index_path(link, sizeof(link), index_dir, "current") != 0) {
        snprintf(err, errlen, "index path too long");
        return -1;
    }
    ix = calloc(1, sizeof(*ix));
    if (ix == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ix->refs = 1;
    ix->dir = realpath(link, NULL);
    if (ix->dir == NULL) {
        snprintf(err, errlen, "no index at %s: %s", link, strerror(errno));
        free(ix);
        return -1;
    }
    if (index_load(ix, nprobe, err, errlen) != 0) {
        index_free(ix);
        return -1;
    }
    ix->loaded_at_ms = (int64_t) prt_wall_ms();
    *out = ix;
    return 0;
}

void
prt_index_ref(prt_index_t *ix)
{
    __atomic_add_fetch(&ix->refs, 1, __ATOMIC_RELAXED);
}

void
prt_index_unref(prt_index_t *ix)
{
    if (ix && __atomic_sub_fetch(&ix->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        index_free(ix);
    }
}

prt_index_t *
prt_index_acquire(prt_index_t *const *current)
{
    prt_index_t  *ix = *current;

    if (ix) {
        prt_index_ref(ix);
    }
    return ix;
}

uint32_t
prt_index_ticker(const prt_index_t *ix, const char *symbol)
{
    return prt_symtab_find(&ix->tickers, symbol);
}

int64_t
prt_index_id_limit(const prt_index_t *ix, int32_t day)
{
    uint64_t  lo = 0, hi = ix->ndays;

    while (lo < hi) {           /* first indexed day >= day */
        uint64_t  mid = (lo + hi) / 2;

        if (ix->days[mid].day < day) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < ix->ndays ? (int64_t) ix->days[lo].first_id : (int64_t) ix->n;
}

int
prt_index_lookup(void *ctx, int64_t id, prt_neighbour_info_t *out)
{
    const prt_index_t  *ix = ctx;

    if (id < 0 || (uint64_t) id >= ix->n) {
        return -1;
    }
    out->ticker = ix->meta[id].ticker;
    out->bar_time = (int64_t) ix->meta[id].minute * 60;
    out->traj = ix->traj + (size_t) id * PRT_N_HORIZONS;
    return 0;
}

static float
l2sq(const float *a, const float *b)
{
    float  s = 0;

    for (int i = 0; i < PRT_WINDOW; i++) {
        float  d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

/* keeps dist/ids[0..*found) sorted ascending, at most k; equal distances
 * keep their arrival order */
static void
top_insert(float *dist, int64_t *ids, size_t *found, size_t k, float d,
    int64_t id)
{
    size_t  j;

    if (*found == k && d >= dist[k - 1]) {
        return;
    }
    j = *found < k ? (*found)++ : k - 1;
    for ( ; j > 0 && dist[j - 1] > d; j--) {
        dist[j] = dist[j - 1];
        ids[j] = ids[j - 1];
    }
    dist[j] = d;
    ids[j] = id;
}

size_t
prt_refine(const float *vectors, uint64_t nvec, const float *q,
    const int64_t *cand, size_t ncand, size_t k, float *dist, int64_t *ids)
{
    size_t  found = 0;

    for (size_t i = 0; i < ncand && k; i++) {
        /* the candidates' vectors are scattered over a file of gigabytes:
         * ask for the one REFINE_AHEAD places on while this one is
         * compared, so the cache misses overlap instead of queueing */
        if (i + REFINE_AHEAD < ncand && cand[i + REFINE_AHEAD] >= 0
            && (uint64_t) cand[i + REFINE_AHEAD] < nvec)
        {
            const float  *v = vectors
                              + (size_t) cand[i + REFINE_AHEAD] * PRT_WINDOW;

            __builtin_prefetch(v);                  /* 120 bytes: up to */
            __builtin_prefetch(v + PRT_WINDOW / 2); /* three lines */
            __builtin_prefetch(v + PRT_WINDOW - 1);
        }
        if (cand[i] < 0 || (uint64_t) cand[i] >= nvec) {
            continue;
        }
        top_insert(dist, ids, &found, k, l2sq(q, vectors
                                              + (size_t) cand[i] * PRT_WINDOW),
                   cand[i]);
    }
    for (size_t i = found; i < k; i++) {
        dist[i] = INFINITY;
        ids[i] = -1;
    }
    return found;
}

int
prt_index_search(const prt_index_t *ix, size_t n, const float *q, size_t k,
    int64_t id_limit, float *dist, int64_t *ids, char *err)
{
    return prt_index_search_top(ix, n, q, k, k, id_limit, dist, ids, err);
}

int
prt_index_search_top(const prt_index_t *ix, size_t n, const float *q,
    size_t k, size_t top, int64_t id_limit, float *dist, int64_t *ids,
    char *err)
{
    size_t    k2 = (top < k ? top : k) * ix->refine;
    float    *cd;
    int64_t  *ci;
    int       rc;

    /* no filter when every pattern qualifies: the cheaper search path */
    if (id_limit >= (int64_t) ix->n) {
        id_limit = -1;
    }
    if (ix->refine <= 1) {
        return prt_faiss_search(ix->faiss, n, q, k, id_limit, ix->nprobe,
                                dist, ids, err);
    }

    k2 = k2 > k ? k2 : k;
    cd = malloc(n * k2 * sizeof(float));
    ci = malloc(n * k2 * sizeof(int64_t));
    if (cd == NULL || ci == NULL) {
        free(cd);
        free(ci);
        snprintf(err, PRT_FAISS_ERR_LEN, "out of memory");
        return -1;
    }
    rc = prt_faiss_search(ix->faiss, n, q, k2, id_limit, ix->nprobe, cd, ci,
                          err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        prt_refine(ix->vectors, ix->n, q + i * PRT_WINDOW, ci + i * k2, k2, k,
                   dist + i * k, ids + i * k);
    }
    free(cd);
    free(ci);
    return rc;
}

size_t
prt_index_search_ticker(const prt_index_t *ix, uint32_t ticker,
    const float *q, size_t k, int64_t id_limit, float *dist, int64_t *ids)
{
    size_t  found = 0;

    if (ticker >= ix->manifest.tickers || k == 0) {
        return 0;
    }

    /* the ticker's ids ascend (time order): stop at the limit */
    for (uint64_t p = ix->tid_offsets[ticker];
         p < ix->tid_offsets[ticker + 1]; p++)
    {
        uint32_t  id = ix->tid_ids[p];

        if (id_limit >= 0 && (int64_t) id >= id_limit) {
            break;
        }
        top_insert(dist, ids, &found, k,
                   l2sq(q, ix->vectors + (size_t) id * PRT_WINDOW), id);
    }
    return found;
}
