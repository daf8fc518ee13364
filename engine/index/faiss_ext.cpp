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
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <faiss/Index.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
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
    faiss::IndexIVFPQ  *pq;

    pq = dynamic_cast<faiss::IndexIVFPQ *>(
             as_ivf(static_cast<faiss::Index *>(index)));
    if (pq == nullptr) {
        return -1;
    }
    pq->pq.cp.niter = niter;
    pq->pq.cp.max_points_per_centroid = max_points;
    return 0;
}

int
prt_faiss_search_params(void *index, size_t n, const float *x, size_t k,
    int64_t id_limit, size_t nprobe, float *dist, int64_t *ids, char *err,
    size_t errlen)
{
    faiss::Index               *idx = static_cast<faiss::Index *>(index);
    const faiss::IndexIVF      *ivf = as_ivf(idx);
    faiss::IDSelectorRange      range(0, id_limit < 0 ? 0 : id_limit);
    faiss::SearchParametersIVF  ivf_params;
    faiss::SearchParameters     params;
    faiss::SearchParameters    *p = nullptr;

    try {
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
