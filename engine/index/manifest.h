/*
 * manifest.json of an index generation: what was built (dimensions,
 * horizons, factory, counts, date range), from what (files, rows, rejected
 * rows) and how (filters, build time). The engine refuses an index whose
 * manifest does not match its own window and horizons.
 */
#ifndef PRT_MANIFEST_H
#define PRT_MANIFEST_H

#include <stdint.h>

#define PRT_MANIFEST_FORMAT  1

typedef struct {
    int       format;
    char      engine_version[16];
    int       dim;
    int       window;
    int       horizons[15];
    int       n_horizons;
    char      factory[64];
    uint64_t  nlist;
    uint64_t  nprobe;
    uint64_t  refine;               /* FAISS candidates per result */
    double    recall;               /* recall@40 vs exact at nprobe */
    uint64_t  recall_queries;
    uint64_t  patterns;
    uint64_t  tickers;
    uint64_t  days;
    int32_t   first_day;
    int32_t   last_day;
    double    min_window_volume;
    int64_t   built_at_ms;
    double    build_seconds;
    uint64_t  updates;              /* update-index runs since the build */
    /* inputs */
    uint64_t  files;
    uint64_t  rows;
    uint64_t  malformed_rows;
    uint64_t  skipped_rows;
    /* windows not indexed, by reason */
    uint64_t  windows_short;
    uint64_t  windows_flat;
    uint64_t  windows_price;
    uint64_t  windows_low_volume;
} prt_manifest_t;

int prt_manifest_write(const prt_manifest_t *m, const char *path);
int prt_manifest_read(prt_manifest_t *m, const char *path, char *err,
    size_t errlen);

#endif
