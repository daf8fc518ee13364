/*
 * The files of one index generation (docs/index.md), next to index.faiss:
 *
 *   patterns.bin      per FAISS id: ticker id and bar start (prt_pattern_meta_t)
 *   trajectories.bin  per FAISS id: 15 float32 returns in percent (SPEC 2.3)
 *   vectors.bin       per FAISS id: the 30 float32 features (exact search,
 *                     recall measurement, rebuilding without the flat files)
 *   days.bin          per indexed day: first id and count (ids are in time
 *                     order, so "before day D" is "id < first id of D")
 *   ticker_ids.bin    per ticker: its ids in time order (same-ticker search)
 *   tickers.txt       ticker id -> symbol, one per line
 *   manifest.json     what was built, from what, how (manifest.h)
 *
 * Every .bin file is a 64-byte header {magic, version, record size, count,
 * width} and fixed-size records, so a reader validates it with one stat
 * and maps it read-only.
 */
#ifndef PRT_INDEX_FILES_H
#define PRT_INDEX_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PRT_INDEX_FILE_VERSION  1

#define PRT_FILE_INDEX          "index.faiss"
#define PRT_FILE_PATTERNS       "patterns.bin"
#define PRT_FILE_TRAJECTORIES   "trajectories.bin"
#define PRT_FILE_VECTORS        "vectors.bin"
#define PRT_FILE_DAYS           "days.bin"
#define PRT_FILE_TICKER_IDS     "ticker_ids.bin"
#define PRT_FILE_TICKERS        "tickers.txt"
#define PRT_FILE_MANIFEST       "manifest.json"

#define PRT_MAGIC_PATTERNS      "PRTPAT01"
#define PRT_MAGIC_TRAJECTORIES  "PRTTRJ01"
#define PRT_MAGIC_VECTORS       "PRTVEC01"
#define PRT_MAGIC_DAYS          "PRTDAY01"
#define PRT_MAGIC_TICKER_IDS    "PRTTID01"

typedef struct {
    uint32_t  ticker;          /* id in tickers.txt */
    uint32_t  minute;          /* bar start, Unix minutes (UTC) */
} prt_pattern_meta_t;

typedef struct {
    int32_t   day;             /* New York date, days since 1970-01-01 */
    uint32_t  tickers;
    uint64_t  first_id;
    uint64_t  count;
} prt_index_day_t;

typedef struct {
    char      magic[8];
    uint32_t  version;
    uint32_t  record_size;
    uint64_t  count;
    uint32_t  width;           /* floats per record, or 0 */
    uint8_t   reserved[36];
} prt_file_hdr_t;

/* Appending writer. */
typedef struct {
    FILE            *f;
    char            *path;
    prt_file_hdr_t   hdr;
} prt_file_writer_t;

int  prt_file_create(prt_file_writer_t *w, const char *path,
    const char *magic, uint32_t record_size, uint32_t width);
/* Opens an existing file to append to it (update-index). */
int  prt_file_reopen(prt_file_writer_t *w, const char *path,
    const char *magic, uint32_t record_size, uint32_t width);
int  prt_file_append(prt_file_writer_t *w, const void *records, size_t n);
/* writes the final count, flushes and fsyncs; closes in every case */
int  prt_file_finish(prt_file_writer_t *w);
void prt_file_abort(prt_file_writer_t *w);

/* Read-only mapping of a validated file. */
typedef struct {
    void        *base;
    size_t       size;
    const void  *records;
    uint64_t     count;
} prt_file_map_t;

int  prt_file_map(prt_file_map_t *m, const char *path, const char *magic,
    uint32_t record_size, uint32_t width, char *err, size_t errlen);
void prt_file_unmap(prt_file_map_t *m);

/* Durability helpers for publishing a generation. */
int  prt_fsync_path(const char *path);
int  prt_copy_file(const char *from, const char *to);

#endif
