/*
 * A thin wrapper over one LMDB environment: open with named databases,
 * transactions as callbacks, automatic map growth, sync policy, statistics.
 *
 *   static int put_one(MDB_txn *txn, void *ctx) {
 *       ...
 *       if ((rc = mdb_put(txn, prt_kv_dbi(kv, 0), &k, &v, 0)) != 0) {
 *           return prt_kv_fail(rc, "put %s", name);
 *       }
 *       return 0;
 *   }
 *   rc = prt_kv_write(kv, put_one, &ctx);
 *
 * Write callbacks may run more than once: when LMDB reports MDB_MAP_FULL the
 * transaction is aborted, the map doubled (up to conf.map_max) and the
 * callback called again from the start, so a callback must not keep effects
 * outside the transaction from a previous attempt (reset its context first).
 * Callers never see MDB_MAP_FULL; at the maximum they get PRT_KV_MAP_MAX.
 *
 * Several processes may open the same directory (the index builder writes
 * while the engine reads): a map grown by one is adopted by the others when
 * LMDB tells them (MDB_MAP_RESIZED). Within a process, any number of threads
 * may run transactions on one prt_kv_t; the map is only remapped while no
 * transaction of this process is running (an internal rwlock). Do not call
 * prt_kv_read/prt_kv_write from inside a callback on the same environment:
 * use the transaction you were given (a write transaction reads too).
 *
 * The error text of the calling thread's last failure is prt_kv_errmsg().
 */
#ifndef PRT_KV_H
#define PRT_KV_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#define PRT_KV_OK          0
#define PRT_KV_ERROR      (-1)      /* LMDB or system error, see errmsg */
#define PRT_KV_MAP_MAX    (-2)      /* the map is full at conf.map_max */

#define PRT_KV_MAX_DBS     16
#define PRT_KV_DB_NAME_LEN 31

#define PRT_KV_MAP_DEFAULT      ((size_t) 64 << 20)    /* 64 MiB */
#define PRT_KV_MAP_MAX_DEFAULT  ((size_t) 256 << 30)   /* 256 GiB */
#define PRT_KV_MAP_MIN          ((size_t) 64 << 10)    /* 64 KiB */

/*
 * Durability of a commit (see docs/storage.md). A kill -9 of the process
 * never loses a committed transaction in any mode: the written pages are in
 * the kernel's page cache, which outlives the process. The modes differ only
 * when the machine itself crashes or loses power.
 */
typedef enum {
    PRT_KV_SYNC_FULL = 0,   /* fsync data and meta page on every commit */
    PRT_KV_SYNC_NOMETA,     /* MDB_NOMETASYNC: a crash may undo the last
                               commits, the database stays intact */
    PRT_KV_SYNC_NONE        /* MDB_NOSYNC: a crash may lose recent commits
                               (call prt_kv_sync periodically) */
} prt_kv_sync_t;

typedef struct {
    const char     *dir;          /* created if missing */
    size_t          map_size;     /* initial map size; 0 = default */
    size_t          map_max;      /* growth stops here; 0 = default */
    prt_kv_sync_t   sync;
    unsigned        max_readers;  /* 0 = LMDB's default (126) */
} prt_kv_conf_t;

typedef struct {
    char            name[PRT_KV_DB_NAME_LEN + 1];
    uint64_t        entries;
    uint64_t        bytes;        /* branch + leaf + overflow pages */
} prt_kv_db_stats_t;

typedef struct {
    uint64_t           map_size;        /* current map of this process */
    uint64_t           map_max;
    uint64_t           used_bytes;      /* (last page + 1) * page size */
    uint64_t           file_bytes;      /* size of data.mdb on disk */
    uint32_t           page_size;
    uint32_t           max_readers;
    uint32_t           readers_used;    /* reader slots held, all processes */
    uint64_t           last_txnid;
    uint64_t           map_grows;       /* growths done by this process */
    uint64_t           map_adopts;      /* growths by others adopted here */
    prt_kv_sync_t      sync;
    unsigned           n_dbs;
    prt_kv_db_stats_t  db[PRT_KV_MAX_DBS];
} prt_kv_stats_t;

typedef struct prt_kv_s prt_kv_t;

/*
 * A transaction body. Return 0 to commit (write) or finish (read); return
 * an LMDB code, ideally through prt_kv_fail(), or any other nonzero value
 * to abort: prt_kv_write/prt_kv_read then return that value unchanged,
 * except MDB_MAP_FULL, which makes prt_kv_write grow the map and retry.
 */
typedef int (*prt_kv_txn_fn)(MDB_txn *txn, void *ctx);

int prt_kv_open(prt_kv_t **out, const prt_kv_conf_t *conf,
    const char *const *db_names, unsigned n_dbs);
void prt_kv_close(prt_kv_t *kv);

/* The handle of database `index` in the order given to prt_kv_open. */
MDB_dbi prt_kv_dbi(const prt_kv_t *kv, unsigned index);
MDB_env *prt_kv_env(prt_kv_t *kv);

int prt_kv_write(prt_kv_t *kv, prt_kv_txn_fn fn, void *ctx);
int prt_kv_read(prt_kv_t *kv, prt_kv_txn_fn fn, void *ctx);

/* Flush to disk now (for PRT_KV_SYNC_NOMETA/NONE, e.g. once a second). */
int prt_kv_sync(prt_kv_t *kv);

int prt_kv_stats(prt_kv_t *kv, prt_kv_stats_t *st);

/*
 * For callbacks: record "<what>: <LMDB's text>" as this thread's error and
 * return the code to pass on (MDB_MAP_FULL unchanged so the map can grow,
 * anything else as PRT_KV_ERROR).
 */
int prt_kv_fail(int mdb_rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record a message of one's own as this thread's error; returns `code`. */
int prt_kv_set_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *prt_kv_errmsg(void);
const char *prt_kv_sync_name(prt_kv_sync_t sync);

#endif
