/*
 * The engine's nearest neighbours over a built index, printed for
 * t/041-faiss-isa.t, which runs this program once on FAISS's generic
 * library (PRT_FAISS_ISA=generic) and once on the AVX2 one and compares:
 *
 *   faiss_neighbours INDEX_DIR NQUERIES K [before]
 *
 * Prints "library <FAISS's compile options>", then one line per query:
 * "<query id> <id>:<squared distance> ..." from prt_index_search (FAISS
 * candidates re-ranked exactly), the engine's search path. The queries are
 * the index's own vectors at a fixed stride (each finds itself); with
 * "before", each searches only the patterns numbered below it (the id
 * limit of a historical search), so it cannot find itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mathenv.h"
#include "index/faiss.h"
#include "index/index.h"

int
main(int argc, char **argv)
{
    prt_index_t  *ix;
    char          err[PRT_FAISS_ERR_LEN];
    size_t        nq, k;
    float        *dist;
    int64_t      *ids;
    int           before;

    prt_math_environment(argv, prt_faiss_library());
    before = argc == 5 && strcmp(argv[4], "before") == 0;
    if ((argc != 4 && !before) || (nq = strtoul(argv[2], NULL, 10)) == 0
        || (k = strtoul(argv[3], NULL, 10)) == 0)
    {
        fprintf(stderr, "usage: faiss_neighbours INDEX_DIR NQUERIES K [before]\n");
        return 2;
    }
    if (prt_index_open(argv[1], 0, &ix, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (nq > ix->n) {
        nq = ix->n;
    }
    dist = malloc(k * sizeof(*dist));
    ids = malloc(k * sizeof(*ids));
    if (dist == NULL || ids == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    printf("library %s\n", prt_faiss_library());
    for (size_t i = 0; i < nq; i++) {
        uint64_t  q = i * (ix->n / nq);

        if (prt_index_search(ix, 1, ix->vectors + q * PRT_WINDOW, k,
                             before ? (int64_t) q : -1, dist, ids, err) != 0)
        {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("%llu", (unsigned long long) q);
        for (size_t j = 0; j < k; j++) {
            printf(" %lld:%.9g", (long long) ids[j], (double) dist[j]);
        }
        printf("\n");
    }
    free(dist);
    free(ids);
    prt_index_unref(ix);
    return 0;
}
