/*
 * A loaded index generation: FAISS index (inverted lists memory-mapped),
 * pattern metadata, trajectories, vectors and tables, all validated against
 * each other at load. Reference-counted so /api/index/reload can swap in a
 * new generation while searches on the old one finish.
 */
#ifndef PRT_INDEX_H
#define PRT_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "data/symtab.h"
#include "index/pattern.h"
#include "index/faiss.h"
#include "index/files.h"
#include "index/manifest.h"

typedef struct {
    int                        refs;
    char                      *dir;          /* the generation directory */
    prt_manifest_t             manifest;
    prt_faiss_t               *faiss;
    size_t                     nprobe;
    size_t                     refine;       /* candidates per result */
    uint64_t                   n;            /* patterns */
    prt_symtab_t               tickers;

    prt_file_map_t             patterns_map;
    prt_file_map_t             traj_map;
    prt_file_map_t             vectors_map;
    prt_file_map_t             days_map;
    prt_file_map_t             tids_map;

    const prt_pattern_meta_t  *meta;
    const float               *traj;
    const float               *vectors;
    const prt_index_day_t     *days;
    uint64_t                   ndays;
    const uint64_t            *tid_offsets;  /* ntickers + 1 */
    const uint32_t            *tid_ids;

    uint64_t                   bytes;        /* size of the files */
    int64_t                    loaded_at_ms;
} prt_index_t;

/* index_dir is DATADIR/index; the generation "current" points to is
 * loaded. nprobe 0 keeps the manifest's. */
int  prt_index_open(const char *index_dir, size_t nprobe, prt_index_t **out,
    char *err, size_t errlen);
void prt_index_ref(prt_index_t *ix);
void prt_index_unref(prt_index_t *ix);

/* The generation being served is one variable of the loop thread, which
 * a reload replaces: its index with a reference for the caller (NULL when
 * there is none); release it with prt_index_unref(). */
prt_index_t *prt_index_acquire(prt_index_t *const *current);

/* ticker id, or PRT_SYMTAB_NONE when the ticker has no pattern */
uint32_t prt_index_ticker(const prt_index_t *ix, const char *symbol);

/* Patterns strictly before New York day `day` are exactly the ids below
 * the returned limit (ids are assigned in time order). */
int64_t prt_index_id_limit(const prt_index_t *ix, int32_t day);

/* prt_neighbour_lookup_fn over this index (ctx = the index). */
int  prt_index_lookup(void *ctx, int64_t id, prt_neighbour_info_t *out);

/*
 * k nearest patterns of each of n queries, by exact squared L2 distance:
 * FAISS proposes k * refine candidates, their distances are recomputed
 * from vectors.bin and the best k kept (id -1 pads a short list).
 */
int  prt_index_search(const prt_index_t *ix, size_t n, const float *q,
    size_t k, int64_t id_limit, float *dist, int64_t *ids, char *err);

/*
 * The same, for a caller that needs only the first `top` results at full
 * accuracy and the rest as spares (the forecast fetches 2k + 16 for k
 * neighbours, to have some left after its exclusions): FAISS proposes
 * max(k, top * refine) candidates instead of k * refine, all re-ranked
 * exactly. The first `top` are then as good as a search for `top` results
 * (what the build tunes nprobe with); FAISS keeps a smaller heap.
 * top >= k is prt_index_search.
 */
int  prt_index_search_top(const prt_index_t *ix, size_t n, const float *q,
    size_t k, size_t top, int64_t id_limit, float *dist, int64_t *ids,
    char *err);

/* The re-ranking step on its own (also used by the build's recall
 * measurement): the best k of ncand candidate ids, ascending, ties in
 * candidate order. Returns how many were kept. */
size_t prt_refine(const float *vectors, uint64_t nvec, const float *q,
    const int64_t *cand, size_t ncand, size_t k, float *dist, int64_t *ids);

/* Exact k-NN among one ticker's patterns below id_limit (cross_asset =
 * false). Returns how many were found (<= k). */
size_t prt_index_search_ticker(const prt_index_t *ix, uint32_t ticker,
    const float *q, size_t k, int64_t id_limit, float *dist, int64_t *ids);

#endif
