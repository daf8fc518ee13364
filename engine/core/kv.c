/*
 * LMDB environment wrapper: map growth on MDB_MAP_FULL, adoption of maps
 * grown by other processes on MDB_MAP_RESIZED, sync policy and statistics.
 *
 * LMDB may only remap (mdb_env_set_mapsize) while no transaction of this
 * process is open, read transactions included, since they point into the
 * map. Every transaction therefore runs under map_lock held shared, and a
 * remap takes it exclusively; the lock prefers writers so a stream of
 * readers cannot starve a growth.
 */
#include "core/kv.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KV_FILE_MODE     0660
#define KV_DIR_MODE      0770
#define KV_MAX_HELD      4      /* distinct environments one thread nests */
#define KV_MAX_ATTEMPTS  64     /* remaps within one call before giving up */

struct prt_kv_s {
    MDB_env           *env;
    pthread_rwlock_t   map_lock;
    size_t             map_max;
    prt_kv_sync_t      sync;
    unsigned           n_dbs;
    MDB_dbi            dbi[PRT_KV_MAX_DBS];
    char               names[PRT_KV_MAX_DBS][PRT_KV_DB_NAME_LEN + 1];
    char               dir[PATH_MAX];
    atomic_uint_fast64_t grows;
    atomic_uint_fast64_t adopts;
};

static __thread char            kv_err[512];
static __thread const prt_kv_t *kv_held[KV_MAX_HELD];
static __thread unsigned        kv_nheld;

static int kv_vset_error(int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static int
kv_vset_error(int code, const char *fmt, va_list ap)
{
    vsnprintf(kv_err, sizeof(kv_err), fmt, ap);
    return code;
}

int
prt_kv_set_error(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kv_vset_error(code, fmt, ap);
    va_end(ap);
    return code;
}

int
prt_kv_fail(int mdb_rc, const char *fmt, ...)
{
    char    what[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    prt_kv_set_error(PRT_KV_ERROR, "%s: %s", what, mdb_strerror(mdb_rc));
    return mdb_rc == MDB_MAP_FULL ? MDB_MAP_FULL : PRT_KV_ERROR;
}

const char *
prt_kv_errmsg(void)
{
    return kv_err;
}

const char *
prt_kv_sync_name(prt_kv_sync_t sync)
{
    switch (sync) {
    case PRT_KV_SYNC_FULL:   return "full";
    case PRT_KV_SYNC_NOMETA: return "nometasync";
    case PRT_KV_SYNC_NONE:   return "nosync";
    }
    return "unknown";
}

MDB_dbi
prt_kv_dbi(const prt_kv_t *kv, unsigned index)
{
    return index < kv->n_dbs ? kv->dbi[index] : 0;
}

MDB_env *
prt_kv_env(prt_kv_t *kv)
{
    return kv->env;
}

/* ---- nesting guard: a nested call would deadlock against a remap ---- */

static int
kv_enter(prt_kv_t *kv)
{
    unsigned i;

    for (i = 0; i < kv_nheld; i++) {
        if (kv_held[i] == kv) {
            return prt_kv_set_error(PRT_KV_ERROR, "kv %s: nested transaction "
                                    "on the same environment", kv->dir);
        }
    }
    if (kv_nheld == KV_MAX_HELD) {
        return prt_kv_set_error(PRT_KV_ERROR, "kv %s: more than %d nested "
                                "environments", kv->dir, KV_MAX_HELD);
    }
    kv_held[kv_nheld++] = kv;
    return 0;
}

static void
kv_leave(prt_kv_t *kv)
{
    unsigned i;

    for (i = 0; i < kv_nheld; i++) {
        if (kv_held[i] == kv) {
            kv_held[i] = kv_held[--kv_nheld];
            return;
        }
    }
}

/* ---- map size ---- */

static size_t
kv_map_size(prt_kv_t *kv)
{
    MDB_envinfo info;

    mdb_env_info(kv->env, &info);
    return info.me_mapsize;
}

static size_t
kv_round_to_page(size_t size)
{
    size_t page = (size_t) sysconf(_SC_PAGESIZE);

    return (size + page - 1) / page * page;
}

/*
 * Called after a transaction failed with MDB_MAP_FULL on a map of `seen`
 * bytes. Another thread may have grown the map meanwhile: then there is
 * nothing to do but retry.
 */
static int
kv_grow(prt_kv_t *kv, size_t seen)
{
    size_t cur, next;
    int    rc = 0;

    pthread_rwlock_wrlock(&kv->map_lock);
    cur = kv_map_size(kv);
    if (cur <= seen) {
        if (cur >= kv->map_max) {
            rc = prt_kv_set_error(PRT_KV_MAP_MAX, "kv %s: map full at %zu "
                                  "bytes, the configured maximum (map_max); "
                                  "raise it or free space", kv->dir, cur);
        } else {
            next = cur > kv->map_max / 2 ? kv->map_max : cur * 2;
            rc = mdb_env_set_mapsize(kv->env, next);
            if (rc != 0) {
                rc = prt_kv_fail(rc, "kv %s: grow map to %zu bytes",
                                 kv->dir, next);
            } else {
                atomic_fetch_add(&kv->grows, 1);
            }
        }
    }
    pthread_rwlock_unlock(&kv->map_lock);
    return rc;
}

/* Another process grew the map past ours: take the size from its meta. */
static int
kv_adopt(prt_kv_t *kv)
{
    int rc;

    pthread_rwlock_wrlock(&kv->map_lock);
    rc = mdb_env_set_mapsize(kv->env, 0);
    pthread_rwlock_unlock(&kv->map_lock);
    if (rc != 0) {
        return prt_kv_fail(rc, "kv %s: adopt the map size grown by another "
                           "process", kv->dir);
    }
    atomic_fetch_add(&kv->adopts, 1);
    return 0;
}

/* ---- transactions ---- */

/*
 * One attempt. Returns MDB_MAP_FULL or MDB_MAP_RESIZED for the caller to
 * remap and retry, else the final result.
 */
static int
kv_write_once(prt_kv_t *kv, prt_kv_txn_fn fn, void *ctx, size_t *seen)
{
    MDB_txn *txn;
    int      rc;

    pthread_rwlock_rdlock(&kv->map_lock);
    *seen = kv_map_size(kv);
    rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
    if (rc != 0) {
        pthread_rwlock_unlock(&kv->map_lock);
        if (rc == MDB_MAP_RESIZED) {
            return rc;
        }
        return prt_kv_fail(rc, "kv %s: begin write transaction", kv->dir);
    }
    rc = fn(txn, ctx);
    if (rc != 0) {
        mdb_txn_abort(txn);
    } else {
        rc = mdb_txn_commit(txn);
        if (rc != 0 && rc != MDB_MAP_FULL) {
            rc = prt_kv_fail(rc, "kv %s: commit", kv->dir);
        }
    }
    pthread_rwlock_unlock(&kv->map_lock);
    return rc;
}

int
prt_kv_write(prt_kv_t *kv, prt_kv_txn_fn fn, void *ctx)
{
    size_t seen;
    int    rc, attempt;

    if (kv_enter(kv) != 0) {
        return PRT_KV_ERROR;
    }
    for (attempt = 0; ; attempt++) {
        if (attempt == KV_MAX_ATTEMPTS) {
            rc = prt_kv_set_error(PRT_KV_ERROR, "kv %s: gave up after %d map "
                                  "changes in one write", kv->dir, attempt);
            break;
        }
        rc = kv_write_once(kv, fn, ctx, &seen);
        if (rc == MDB_MAP_FULL) {
            rc = kv_grow(kv, seen);
        } else if (rc == MDB_MAP_RESIZED) {
            rc = kv_adopt(kv);
        } else {
            break;
        }
        if (rc != 0) {
            break;
        }
    }
    kv_leave(kv);
    return rc;
}

static int
kv_read_once(prt_kv_t *kv, prt_kv_txn_fn fn, void *ctx)
{
    MDB_txn *txn;
    int      rc;

    pthread_rwlock_rdlock(&kv->map_lock);
    rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        pthread_rwlock_unlock(&kv->map_lock);
        if (rc == MDB_MAP_RESIZED) {
            return rc;
        }
        return prt_kv_fail(rc, "kv %s: begin read transaction", kv->dir);
    }
    rc = fn(txn, ctx);
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&kv->map_lock);
    return rc;
}

int
prt_kv_read(prt_kv_t *kv, prt_kv_txn_fn fn, void *ctx)
{
    int rc, attempt;

    if (kv_enter(kv) != 0) {
        return PRT_KV_ERROR;
    }
    for (attempt = 0; ; attempt++) {
        if (attempt == KV_MAX_ATTEMPTS) {
            rc = prt_kv_set_error(PRT_KV_ERROR, "kv %s: gave up after %d map "
                                  "changes in one read", kv->dir, attempt);
            break;
        }
        rc = kv_read_once(kv, fn, ctx);
        if (rc != MDB_MAP_RESIZED) {
            break;
        }
        if ((rc = kv_adopt(kv)) != 0) {
            break;
        }
    }
    kv_leave(kv);
    return rc;
}

int
prt_kv_sync(prt_kv_t *kv)
{
    int rc = mdb_env_sync(kv->env, 1);

    return rc == 0 ? 0 : prt_kv_fail(rc, "kv %s: sync", kv->dir);
}

/* ---- open / close ---- */

static int
kv_mkdir_p(const char *dir)
{
    char   path[PATH_MAX];
    size_t len = strlen(dir), i;

    if (len == 0 || len >= sizeof(path)) {
        return prt_kv_set_error(PRT_KV_ERROR, "kv: bad directory \"%s\"", dir);
    }
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') {
            continue;
        }
        path[i] = '\0';
        if (mkdir(path, KV_DIR_MODE) != 0 && errno != EEXIST) {
            return prt_kv_set_error(PRT_KV_ERROR, "kv: mkdir %s: %s", path,
                                    strerror(errno));
        }
        path[i] = dir[i];
    }
    return 0;
}

static unsigned
kv_env_flags(prt_kv_sync_t sync)
{
    /* MDB_NOTLS: reader slots belong to transactions, not threads, so a
       thread pool may run reads on any thread. Never MDB_NOLOCK: other
       processes share the environment. */
    unsigned flags = MDB_NOTLS;

    if (sync == PRT_KV_SYNC_NOMETA) {
        flags |= MDB_NOMETASYNC;
    } else if (sync == PRT_KV_SYNC_NONE) {
        flags |= MDB_NOSYNC;
    }
    return flags;
}

/*
 * LMDB opens with the configured size even when the file's meta page
 * records a larger map set by another process; start from the larger one.
 */
static int
kv_settle_map(prt_kv_t *kv, size_t initial)
{
    int rc = mdb_env_set_mapsize(kv->env, 0);

    if (rc == 0 && kv_map_size(kv) < initial) {
        rc = mdb_env_set_mapsize(kv->env, initial);
    }
    return rc == 0 ? 0 : prt_kv_fail(rc, "kv %s: set map size", kv->dir);
}

static int
kv_env_open(prt_kv_t *kv, const prt_kv_conf_t *conf, size_t initial)
{
    int rc, dead;

    if ((rc = mdb_env_create(&kv->env)) != 0) {
        kv->env = NULL;
        return prt_kv_fail(rc, "kv %s: create environment", kv->dir);
    }
    rc = mdb_env_set_maxdbs(kv->env, PRT_KV_MAX_DBS);
    if (rc == 0 && conf->max_readers != 0) {
        rc = mdb_env_set_maxreaders(kv->env, conf->max_readers);
    }
    if (rc == 0) {
        rc = mdb_env_set_mapsize(kv->env, initial);
    }
    if (rc == 0) {
        rc = mdb_env_open(kv->env, kv->dir, kv_env_flags(conf->sync),
                          KV_FILE_MODE);
    }
    if (rc != 0) {
        return prt_kv_fail(rc, "kv %s: open", kv->dir);
    }
    /* Slots left by killed readers would pin old pages and grow the file. */
    if ((rc = mdb_reader_check(kv->env, &dead)) != 0) {
        return prt_kv_fail(rc, "kv %s: clear stale readers", kv->dir);
    }
    return kv_settle_map(kv, initial);
}

typedef struct {
    prt_kv_t           *kv;
    const char *const  *names;
} kv_open_ctx_t;

static int
kv_open_dbs(MDB_txn *txn, void *arg)
{
    kv_open_ctx_t *ctx = arg;
    unsigned       i;
    int            rc;

    for (i = 0; i < ctx->kv->n_dbs; i++) {
        rc = mdb_dbi_open(txn, ctx->names[i], MDB_CREATE, &ctx->kv->dbi[i]);
        if (rc != 0) {
            return prt_kv_fail(rc, "kv %s: open database \"%s\"",
                               ctx->kv->dir, ctx->names[i]);
        }
    }
    return 0;
}

static int
kv_check_conf(const prt_kv_conf_t *conf, const char *const *names,
    unsigned n_dbs)
{
    unsigned i;

    if (conf == NULL || conf->dir == NULL) {
        return prt_kv_set_error(PRT_KV_ERROR, "kv: no directory given");
    }
    if (n_dbs == 0 || n_dbs > PRT_KV_MAX_DBS) {
        return prt_kv_set_error(PRT_KV_ERROR, "kv %s: %u databases (1..%d)",
                                conf->dir, n_dbs, PRT_KV_MAX_DBS);
    }
    for (i = 0; i < n_dbs; i++) {
        if (names[i] == NULL || names[i][0] == '\0'
            || strlen(names[i]) > PRT_KV_DB_NAME_LEN)
        {
            return prt_kv_set_error(PRT_KV_ERROR, "kv %s: bad database name "
                                    "#%u", conf->dir, i);
        }
    }
    if (conf->map_size != 0 && conf->map_size < PRT_KV_MAP_MIN) {
        return prt_kv_set_error(PRT_KV_ERROR, "kv %s: map_size %zu is below "
                                "%zu", conf->dir, conf->map_size,
                                PRT_KV_MAP_MIN);
    }
    return 0;
}

static int
kv_init(prt_kv_t *kv, const prt_kv_conf_t *conf, const char *const *names,
    unsigned n_dbs)
{
    pthread_rwlockattr_t attr;
    unsigned             i;
    int                  rc;

    if (strlen(conf->dir) >= sizeof(kv->dir)) {
        return prt_kv_set_error(PRT_KV_ERROR, "kv: directory name too long");
    }
    strcpy(kv->dir, conf->dir);
    kv->sync = conf->sync;
    kv->n_dbs = n_dbs;
    for (i = 0; i < n_dbs; i++) {
        strcpy(kv->names[i], names[i]);
    }
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
        PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(&kv->map_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        return prt_kv_set_error(PRT_KV_ERROR, "kv %s: rwlock: %s", kv->dir,
                                strerror(rc));
    }
    return 0;
}

int
prt_kv_open(prt_kv_t **out, const prt_kv_conf_t *conf,
    const char *const *db_names, unsigned n_dbs)
{
    kv_open_ctx_t ctx;
    prt_kv_t     *kv;
    size_t        initial, max;

    *out = NULL;
    if (kv_check_conf(conf, db_names, n_dbs) != 0) {
        return PRT_KV_ERROR;
    }
    initial = kv_round_to_page(conf->map_size ? conf->map_size
                                              : PRT_KV_MAP_DEFAULT);
    max = conf->map_max ? conf->map_max : PRT_KV_MAP_MAX_DEFAULT;
    max = max < initial ? initial : kv_round_to_page(max);

    if ((kv = calloc(1, sizeof(*kv))) == NULL) {
        return prt_kv_set_error(PRT_KV_ERROR, "kv %s: out of memory",
                                conf->dir);
    }
    if (kv_init(kv, conf, db_names, n_dbs) != 0) {
        free(kv);
        return PRT_KV_ERROR;
    }
    kv->map_max = max;
    if (kv_mkdir_p(conf->dir) != 0 || kv_env_open(kv, conf, initial) != 0) {
        prt_kv_close(kv);
        return PRT_KV_ERROR;
    }
    ctx.kv = kv;
    ctx.names = db_names;
    if (prt_kv_write(kv, kv_open_dbs, &ctx) != 0) {
        prt_kv_close(kv);
        return PRT_KV_ERROR;
    }
    *out = kv;
    return 0;
}

void
prt_kv_close(prt_kv_t *kv)
{
    if (kv == NULL) {
        return;
    }
    if (kv->env != NULL) {
        mdb_env_close(kv->env);
    }
    pthread_rwlock_destroy(&kv->map_lock);
    free(kv);
}

/* ---- statistics ---- */

static int
kv_count_reader(const char *line, void *ctx)
{
    unsigned *n = ctx;

    /* Reader lines start with the pid; the header line does not. */
    line += strspn(line, " ");
    if (*line >= '0' && *line <= '9') {
        (*n)++;
    }
    return 0;
}

typedef struct {
    prt_kv_t       *kv;
    prt_kv_stats_t *st;
} kv_stats_ctx_t;

static int
kv_stat_dbs(MDB_txn *txn, void *arg)
{
    kv_stats_ctx_t    *ctx = arg;
    prt_kv_db_stats_t *db;
    MDB_stat           ms;
    unsigned           i;
    int                rc;

    for (i = 0; i < ctx->kv->n_dbs; i++) {
        db = &ctx->st->db[i];
        rc = mdb_stat(txn, ctx->kv->dbi[i], &ms);
        if (rc != 0) {
            return prt_kv_fail(rc, "kv %s: stat database \"%s\"",
                               ctx->kv->dir, ctx->kv->names[i]);
        }
        strcpy(db->name, ctx->kv->names[i]);
        db->entries = ms.ms_entries;
        db->bytes = (uint64_t) ms.ms_psize
                    * (ms.ms_branch_pages + ms.ms_leaf_pages
                       + ms.ms_overflow_pages);
    }
    ctx->st->n_dbs = ctx->kv->n_dbs;
    return 0;
}

static void
kv_stat_env(prt_kv_t *kv, prt_kv_stats_t *st)
{
    MDB_envinfo info;
    MDB_stat    ms;
    struct stat fs;
    char        path[PATH_MAX + 16];
    unsigned    readers = 0;

    pthread_rwlock_rdlock(&kv->map_lock);
    mdb_env_info(kv->env, &info);
    mdb_env_stat(kv->env, &ms);
    mdb_reader_list(kv->env, kv_count_reader, &readers);
    pthread_rwlock_unlock(&kv->map_lock);

    st->map_size = info.me_mapsize;
    st->map_max = kv->map_max;
    st->page_size = ms.ms_psize;
    st->used_bytes = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
    st->last_txnid = info.me_last_txnid;
    st->max_readers = info.me_maxreaders;
    st->readers_used = readers;
    st->map_grows = atomic_load(&kv->grows);
    st->map_adopts = atomic_load(&kv->adopts);
    st->sync = kv->sync;
    snprintf(path, sizeof(path), "%s/data.mdb", kv->dir);
    st->file_bytes = stat(path, &fs) == 0 ? (uint64_t) fs.st_size : 0;
}

int
prt_kv_stats(prt_kv_t *kv, prt_kv_stats_t *st)
{
    kv_stats_ctx_t ctx = { kv, st };

    memset(st, 0, sizeof(*st));
    kv_stat_env(kv, st);
    return prt_kv_read(kv, kv_stat_dbs, &ctx);
}
