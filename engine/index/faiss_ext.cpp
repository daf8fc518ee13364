/*
 * The two things the engine needs that FAISS 1.7.3's C API lacks:
 * - search with per-call parameters: an id range (patterns are numbered in
 *   time order, so "strictly before the query's trading day" is "id below
 *   the day's first id") and nprobe, given per call so concurrent searches
 *   never touch the shared index's settings;
 * - the product quantizer's training settings (iterations, points per
 *   centroid), which decide most of the build time.
 * It also names the FAISS library the program was linked with.
 * The C API's FaissIndex is a faiss::Index.
 */
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <faiss/Index.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFastScan.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexIVFPQFastScan.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/invlists/OnDiskInvertedLists.h>
#include <faiss/utils/distances.h>
#include <faiss/utils/utils.h>

extern "C" {
int prt_faiss_search_params(void *index, size_t n, const float *x,
    size_t k, int64_t id_limit, size_t nprobe, float *dist, int64_t *ids,
    char *err, size_t errlen);
int prt_faiss_pq_training(void *index, int niter, int max_points);
void prt_faiss_no_prefetch(void *index);
int prt_faiss_knn(int dim, size_t n_base, const float *base, size_t n,
    const float *x, size_t k, float *dist, int64_t *ids, char *err,
    size_t errlen);
const char *prt_faiss_library(void);
}

/* The linked library's own compile options ("OPTIMIZE AVX2", "OPTIMIZE
 * GENERIC"): what actually runs, not what the build meant to link. */
const char *
prt_faiss_library(void)
{
    static char  opts[64];

    if (opts[0] == '\0') {
        std::string  s = faiss::get_compile_options();
        while (!s.empty() && s.back() == ' ') {
            s.pop_back();
        }
        std::snprintf(opts, sizeof(opts), "%s", s.c_str());
    }
    return opts;
}

/* Exact k-NN straight over the caller's vectors (no copy into an index:
 * the base may be a mapped file of millions of vectors). */
int
prt_faiss_knn(int dim, size_t n_base, const float *base, size_t n,
    const float *x, size_t k, float *dist, int64_t *ids, char *err,
    size_t errlen)
{
    faiss::float_maxheap_array_t  heaps = {
        n, k, reinterpret_cast<faiss::Index::idx_t *>(ids), dist
    };

    try {
        faiss::knn_L2sqr(x, base, (size_t) dim, n, n_base, &heaps);
    } catch (const std::exception &e) {
        std::snprintf(err, errlen, "exact search: %s", e.what());
        return -1;
    }
    return 0;
}

static faiss::IndexIVF *
as_ivf(faiss::Index *index)
{
    faiss::IndexPreTransform  *pt;

    pt = dynamic_cast<faiss::IndexPreTransform *>(index);
    return dynamic_cast<faiss::IndexIVF *>(pt ? pt->index : index);
}

/*
 * Mapped inverted lists (OnDiskInvertedLists) start up to 32 prefetch
 * threads on every search and wait for the previous search's first. The
 * lists are in the page cache once warm, and a scan runs its own threads:
 * without prefetching one search takes half the time (docs/index.md).
 */
void
prt_faiss_no_prefetch(void *index)
{
    faiss::IndexIVF                *ivf;
    faiss::OnDiskInvertedLists     *od;

    ivf = as_ivf(static_cast<faiss::Index *>(index));
    od = ivf ? dynamic_cast<faiss::OnDiskInvertedLists *>(ivf->invlists)
             : nullptr;
    if (od) {
        od->prefetch_nthread = 0;
    }
}

/* Returns 0, or -1 when the index has no product quantizer to set. */
int
prt_faiss_pq_training(void *index, int niter, int max_points)
{
    faiss::IndexIVF            *ivf = as_ivf(static_cast<faiss::Index *>(index));
    faiss::IndexIVFPQ          *pq = dynamic_cast<faiss::IndexIVFPQ *>(ivf);
    faiss::IndexIVFPQFastScan  *fs = dynamic_cast<faiss::IndexIVFPQFastScan *>(ivf);
    faiss::ProductQuantizer    *q = pq ? &pq->pq : fs ? &fs->pq : nullptr;

    if (q == nullptr) {
        return -1;
    }
    q->cp.niter = niter;
    q->cp.max_points_per_centroid = max_points;
    return 0;
}

/*
 * FAISS 1.7.3's fast-scan IVF search takes no search parameters: it probes
 * the index's own nprobe and knows no id selector. The engine searches at
 * the index's nprobe (set at load), under a shared lock; a search at
 * another nprobe (the build's recall tuning, bench -p) sets it under the
 * exclusive lock and puts it back. An id limit is applied to the results:
 * more candidates are fetched until k below the limit are found or the
 * probed lists are exhausted (a historical search, one query at a time).
 */
static std::shared_mutex  fastscan_nprobe;

static void
fastscan_limited(faiss::Index *idx, size_t n, const float *x, size_t k,
    int64_t id_limit, float *dist, int64_t *ids)
{
    std::vector<float>                dd;
    std::vector<faiss::Index::idx_t>  ll;
    size_t                            ntotal = (size_t) idx->ntotal;

    for (size_t i = 0; i < n; i++) {
        size_t  kk = std::min(std::max(k * 2, (size_t) 64), ntotal);
        size_t  got = 0;

        for (;;) {
            dd.resize(kk);
            ll.resize(kk);
            idx->search(1, x + i * idx->d, (faiss::Index::idx_t) kk,
                        dd.data(), ll.data());
            got = 0;
            for (size_t j = 0; j < kk; j++) {
                got += ll[j] >= 0 && ll[j] < id_limit;
            }
            /* a -1 in the list: every probed candidate was returned */
            if (got >= k || kk >= ntotal || ll[kk - 1] < 0) {
                break;
            }
            kk = std::min(kk * 4, ntotal);
        }
        got = 0;
        for (size_t j = 0; j < kk && got < k; j++) {
            if (ll[j] >= 0 && ll[j] < id_limit) {
                dist[i * k + got] = dd[j];
                ids[i * k + got] = ll[j];
                got++;
            }
        }
        for (; got < k; got++) {
            dist[i * k + got] = std::numeric_limits<float>::infinity();
            ids[i * k + got] = -1;
        }
    }
}

static void
search_fastscan(faiss::Index *idx, faiss::IndexIVF *ivf, size_t n,
    const float *x, size_t k, int64_t id_limit, size_t nprobe, float *dist,
    int64_t *ids)
{
    int  limited = id_limit >= 0 && id_limit < idx->ntotal;

    if (nprobe == 0 || nprobe == ivf->nprobe) {
        std::shared_lock<std::shared_mutex>  g(fastscan_nprobe);
        if (limited) {
            fastscan_limited(idx, n, x, k, id_limit, dist, ids);
        } else {
            idx->search((faiss::Index::idx_t) n, x, (faiss::Index::idx_t) k,
                        dist, (faiss::Index::idx_t *) ids);
        }
        return;
    }
    std::unique_lock<std::shared_mutex>  g(fastscan_nprobe);
    size_t                               was = ivf->nprobe;

    ivf->nprobe = nprobe;
    try {
        if (limited) {
            fastscan_limited(idx, n, x, k, id_limit, dist, ids);
        } else {
            idx->search((faiss::Index::idx_t) n, x, (faiss::Index::idx_t) k,
                        dist, (faiss::Index::idx_t *) ids);
        }
    } catch (...) {
        ivf->nprobe = was;
        throw;
    }
    ivf->nprobe = was;
}

int
prt_faiss_search_params(void *index, size_t n, const float *x, size_t k,
    int64_t id_limit, size_t nprobe, float *dist, int64_t *ids, char *err,
    size_t errlen)
{
    faiss::Index               *idx = static_cast<faiss::Index *>(index);
    faiss::IndexIVF            *ivf = as_ivf(idx);
    faiss::IDSelectorRange      range(0, id_limit < 0 ? 0 : id_limit);
    faiss::SearchParametersIVF  ivf_params;
    faiss::SearchParameters     params;
    faiss::SearchParameters    *p = nullptr;

    /* every id qualifies: FAISS's scan without a selector is the cheaper
     * one (a selector costs a test per code) */
    if (id_limit >= idx->ntotal) {
        id_limit = -1;
    }
    try {
        if (dynamic_cast<faiss::IndexIVFFastScan *>(ivf) != nullptr) {
            search_fastscan(idx, ivf, n, x, k, id_limit, nprobe, dist, ids);
            return 0;
        }
        if (ivf) {
            ivf_params.nprobe = nprobe ? nprobe : ivf->nprobe;
            ivf_params.max_codes = ivf->max_codes;
            ivf_params.sel = id_limit >= 0 ? &range : nullptr;
            p = &ivf_params;
        } else if (id_limit >= 0) {
            params.sel = &range;
            p = &params;
        }
        /* IndexPreTransform hands the parameters to its inner index */
        idx->search((faiss::Index::idx_t) n, x, (faiss::Index::idx_t) k,
                    dist, (faiss::Index::idx_t *) ids, p);
    } catch (const std::exception &e) {
        std::snprintf(err, errlen, "search: %s", e.what());
        return -1;
    }
    return 0;
}
