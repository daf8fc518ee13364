#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <faiss/c_api/AutoTune_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "index/faiss.h"

/*
 * FAISS's C header defines FAISS_IO_FLAG_MMAP as 1, but its reader only
 * recognises the C++ value IO_FLAG_MMAP (IO_FLAG_SKIP_IVF_DATA | 0x646f0000)
 * and passes the C flag through unchanged; use the C++ value.
 */
#define PRT_FAISS_IO_FLAG_MMAP  (8 | 0x646f0000)

struct prt_faiss_s {
    FaissIndex  *index;
};

/* implemented in faiss_ext.cpp */
int prt_faiss_search_params(void *index, size_t n, const float *x,
    size_t k, int64_t id_limit, size_t nprobe, float *dist, int64_t *ids,
    char *err, size_t errlen);
int prt_faiss_pq_training(void *index, int niter, int max_points);
void prt_faiss_no_prefetch(void *index);
int prt_faiss_knn(int dim, size_t n_base, const float *base, size_t n,
    const float *x, size_t k, float *dist, int64_t *ids, char *err,
    size_t errlen);

static int
faiss_fail(char *err, const char *what)
{
    const char  *msg = faiss_get_last_error();

    snprintf(err, PRT_FAISS_ERR_LEN, "%s: %s", what,
             msg ? msg : "unknown FAISS error");
    return -1;
}

int
prt_faiss_create(const char *factory, int dim, prt_faiss_t **out, char *err)
{
    prt_faiss_t  *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        snprintf(err, PRT_FAISS_ERR_LEN, "out of memory");
        return -1;
    }
    if (faiss_index_factory(&f->index, dim, factory, METRIC_L2) != 0) {
        free(f);
        return faiss_fail(err, "index factory");
    }
    *out = f;
    return 0;
}

int
prt_faiss_set_pq_training(prt_faiss_t *f, int niter, int max_points)
{
    return prt_faiss_pq_training(f->index, niter, max_points);
}

int
prt_faiss_train(prt_faiss_t *f, size_t n, const float *x, char *err)
{
    if (faiss_Index_train(f->index, (idx_t) n, x) != 0) {
        return faiss_fail(err, "training");
    }
    return 0;
}

int
prt_faiss_add(prt_faiss_t *f, size_t n, const float *x, char *err)
{
    if (faiss_Index_add(f->index, (idx_t) n, x) != 0) {
        return faiss_fail(err, "adding vectors");
    }
    return 0;
}

int
prt_faiss_write(const prt_faiss_t *f, const char *path, char *err)
{
    if (faiss_write_index_fname(f->index, path) != 0) {
        return faiss_fail(err, "writing the index");
    }
    return 0;
}

int
prt_faiss_read(const char *path, int mmap, prt_faiss_t **out, char *err)
{
    prt_faiss_t  *f = calloc(1, sizeof(*f));
    int           rc;

    if (f == NULL) {
        snprintf(err, PRT_FAISS_ERR_LEN, "out of memory");
        return -1;
    }

    rc = faiss_read_index_fname(path, mmap ? PRT_FAISS_IO_FLAG_MMAP : 0,
                                &f->index);
    if (rc != 0 && mmap) {
        /* not every index kind can be mapped: read it into memory */
        rc = faiss_read_index_fname(path, 0, &f->index);
    }
    if (rc != 0) {
        free(f);
        return faiss_fail(err, path);
    }
    prt_faiss_no_prefetch(f->index);
    *out = f;
    return 0;
}

void
prt_faiss_free(prt_faiss_t *f)
{
    if (f) {
        faiss_Index_free(f->index);
        free(f);
    }
}

int64_t
prt_faiss_ntotal(const prt_faiss_t *f)
{
    return faiss_Index_ntotal(f->index);
}

int
prt_faiss_dim(const prt_faiss_t *f)
{
    return faiss_Index_d(f->index);
}

int
prt_faiss_is_trained(const prt_faiss_t *f)
{
    return faiss_Index_is_trained(f->index);
}

size_t
prt_faiss_nlist(const prt_faiss_t *f)
{
    FaissIndexIVF  *ivf = faiss_IndexIVF_cast(f->index);

    return ivf ? faiss_IndexIVF_nlist(ivf) : 0;
}

int
prt_faiss_set_nprobe(prt_faiss_t *f, size_t nprobe, char *err)
{
    FaissParameterSpace  *ps;
    int                   rc;

    if (prt_faiss_nlist(f) == 0) {
        return 0;
    }
    if (faiss_ParameterSpace_new(&ps) != 0) {
        return faiss_fail(err, "parameter space");
    }
    rc = faiss_ParameterSpace_set_index_parameter(ps, f->index, "nprobe",
                                                  (double) nprobe);
    faiss_ParameterSpace_free(ps);
    return rc == 0 ? 0 : faiss_fail(err, "setting nprobe");
}

int
prt_faiss_search(const prt_faiss_t *f, size_t n, const float *x, size_t k,
    int64_t id_limit, size_t nprobe, float *dist, int64_t *ids, char *err)
{
    return prt_faiss_search_params(f->index, n, x, k, id_limit, nprobe, dist,
                                   ids, err, PRT_FAISS_ERR_LEN);
}

int
prt_faiss_exact(int dim, size_t n_base, const float *base, size_t n,
    const float *x, size_t k, float *dist, int64_t *ids, char *err)
{
    return prt_faiss_knn(dim, n_base, base, n, x, k, dist, ids, err,
                         PRT_FAISS_ERR_LEN);
}
