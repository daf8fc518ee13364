/*
 * The engine's use of FAISS, in one place. Index construction, training,
 * I/O and plain search go through FAISS's own C API (compiled from Debian's
 * faiss source package, see docs/build.md); searches that need per-call
 * parameters (an id range for "no look-ahead", nprobe without touching the
 * shared index) go through faiss_ext.cpp, a small C++ file of ours,
 * because FAISS 1.7.3's C API has no search-with-parameters.
 *
 * Errors: functions return 0 or -1 and write a message into err.
 */
#ifndef PRT_FAISS_H
#define PRT_FAISS_H

#include <stddef.h>
#include <stdint.h>

typedef struct prt_faiss_s  prt_faiss_t;

#define PRT_FAISS_ERR_LEN  256

int  prt_faiss_create(const char *factory, int dim, prt_faiss_t **out,
    char *err);
int  prt_faiss_train(prt_faiss_t *f, size_t n, const float *x, char *err);

/* Product quantizer k-means settings (IVF-PQ only: -1 otherwise). */
int  prt_faiss_set_pq_training(prt_faiss_t *f, int niter, int max_points);
int  prt_faiss_add(prt_faiss_t *f, size_t n, const float *x, char *err);
int  prt_faiss_write(const prt_faiss_t *f, const char *path, char *err);

/* mmap: inverted lists stay in the page cache instead of the heap (IVF
 * indexes; other kinds are read normally). */
int  prt_faiss_read(const char *path, int mmap, prt_faiss_t **out, char *err);
void prt_faiss_free(prt_faiss_t *f);

int64_t prt_faiss_ntotal(const prt_faiss_t *f);
int     prt_faiss_dim(const prt_faiss_t *f);
int     prt_faiss_is_trained(const prt_faiss_t *f);
size_t  prt_faiss_nlist(const prt_faiss_t *f);        /* 0: not IVF */
int     prt_faiss_set_nprobe(prt_faiss_t *f, size_t nprobe, char *err);

/*
 * k nearest neighbours of n queries, squared L2 distances ascending, id -1
 * where fewer than k exist. Only ids < id_limit are considered (id_limit <
 * 0: all). nprobe 0 keeps the index's own setting. Thread-safe for
 * concurrent searches on one index.
 */
int  prt_faiss_search(const prt_faiss_t *f, size_t n, const float *x,
    size_t k, int64_t id_limit, size_t nprobe, float *dist, int64_t *ids,
    char *err);

/* The linked FAISS library's compile options, as FAISS reports them
 * ("OPTIMIZE AVX2" or "OPTIMIZE GENERIC"; core/mathenv.c picks the
 * program variant at start). */
const char *prt_faiss_library(void);

/* Exact k-NN over n_base raw vectors (recall measurement, small data). */
int  prt_faiss_exact(int dim, size_t n_base, const float *base, size_t n,
    const float *x, size_t k, float *dist, int64_t *ids, char *err);

#endif
