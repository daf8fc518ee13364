/*
 * engine/core/kv: named databases, map growth from a tiny map, the
 * maximum, callbacks that abort, nesting, a reader thread pinning the map
 * during a growth, a reader process adopting a map grown by another
 * (MDB_MAP_RESIZED), and kill -9 of a writer process right after commits.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "core/kv.h"

#define VALUE_SIZE 4000

static const char *const two_dbs[] = { "alpha", "beta" };

static char tmp_root[] = "/tmp/prt-kv-XXXXXX";

static void
rm_env_dir(const char *dir)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static void
env_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmp_root, name);
}

/* The value stored under key i: bytes derived from i, checkable later. */
static void
fill_value(uint8_t *buf, size_t len, uint32_t i)
{
    uint32_t x = i * 2654435761u + 1;
    size_t   j;

    for (j = 0; j < len; j++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[j] = (uint8_t) x;
    }
}

static int
value_ok(const MDB_val *v, uint32_t i, size_t len)
{
    uint8_t want[VALUE_SIZE];

    if (v->mv_size != len || len > sizeof(want)) {
        return 0;
    }
    fill_value(want, len, i);
    return memcmp(v->mv_data, want, len) == 0;
}

static MDB_val
key_of(uint32_t *k)
{
    MDB_val v = { sizeof(*k), k };

    return v;
}

/* ---- a write callback putting keys [first, first + count) ---- */

typedef struct {
    prt_kv_t  *kv;
    unsigned   db;
    uint32_t   first;
    uint32_t   count;
    size_t     len;
    int        calls;          /* how many times the callback ran */
    uint32_t   count_key;      /* if nonzero: also store the total here */
} put_ctx_t;

static int
put_range(MDB_txn *txn, void *arg)
{
    put_ctx_t *c = arg;
    uint8_t    buf[VALUE_SIZE];
    uint32_t   i, k, total;
    MDB_val    key, val = { c->len, buf };
    int        rc;

    c->calls++;
    for (i = c->first; i < c->first + c->count; i++) {
        k = i;
        key = key_of(&k);
        fill_value(buf, c->len, i);
        rc = mdb_put(txn, prt_kv_dbi(c->kv, c->db), &key, &val, 0);
        if (rc != 0) {
            return prt_kv_fail(rc, "put %u", i);
        }
    }
    if (c->count_key != 0) {
        k = c->count_key;
        total = c->first + c->count;
        key = key_of(&k);
        val.mv_data = &total;
        val.mv_size = sizeof(total);
        rc = mdb_put(txn, prt_kv_dbi(c->kv, c->db), &key, &val, 0);
        if (rc != 0) {
            return prt_kv_fail(rc, "put count");
        }
    }
    return 0;
}

typedef struct {
    prt_kv_t  *kv;
    unsigned   db;
    uint32_t   first;
    uint32_t   count;
    size_t     len;
    uint32_t   bad;
} check_ctx_t;

static int
check_range(MDB_txn *txn, void *arg)
{
    check_ctx_t *c = arg;
    uint32_t     i, k;
    MDB_val      key, val;

    c->bad = 0;
    for (i = c->first; i < c->first + c->count; i++) {
        k = i;
        key = key_of(&k);
        if (mdb_get(txn, prt_kv_dbi(c->kv, c->db), &key, &val) != 0
            || !value_ok(&val, i, c->len))
        {
            c->bad++;
        }
    }
    return 0;
}

static uint32_t
count_bad(prt_kv_t *kv, unsigned db, uint32_t first, uint32_t count,
    size_t len)
{
    check_ctx_t c = { kv, db, first, count, len, 0 };

    if (prt_kv_read(kv, check_range, &c) != 0) {
        return count;
    }
    return c.bad;
}

static prt_kv_t *
open_env(const char *dir, size_t map, size_t max, prt_kv_sync_t sync)
{
    prt_kv_conf_t conf = { dir, map, max, sync, 0 };
    prt_kv_t     *kv;

    if (prt_kv_open(&kv, &conf, two_dbs, 2) != 0) {
        printf("# open %s: %s\n", dir, prt_kv_errmsg());
        return NULL;
    }
    return kv;
}

/* ---- tests ---- */

static void
test_open_and_stats(void)
{
    char           dir[256], path[300];
    prt_kv_t      *kv;
    prt_kv_stats_t st;
    put_ctx_t      p;
    struct stat    sb;

    env_dir(dir, sizeof(dir), "nested/a/b");
    kv = open_env(dir, 0, 0, PRT_KV_SYNC_FULL);
    ok(kv != NULL, "open creates a nested directory");
    if (kv == NULL) {
        return;
    }
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    ok(stat(path, &sb) == 0, "data.mdb exists");

    p = (put_ctx_t) { kv, 1, 100, 10, 64, 0, 0 };
    is_int(prt_kv_write(kv, put_range, &p), 0, "write 10 keys to beta");
    is_int(count_bad(kv, 1, 100, 10, 64), 0, "read them back");
    is_int(count_bad(kv, 0, 100, 1, 64), 1, "alpha is a separate database");

    is_int(prt_kv_stats(kv, &st), 0, "stats");
    is_int(st.n_dbs, 2, "two databases reported");
    is_str(st.db[0].name, "alpha", "db 0 name");
    is_int(st.db[0].entries, 0, "alpha has no entries");
    is_int(st.db[1].entries, 10, "beta has 10 entries");
    is_int(st.map_size, PRT_KV_MAP_DEFAULT, "default map size");
    is_int(st.map_max, PRT_KV_MAP_MAX_DEFAULT, "default maximum");
    ok(st.used_bytes > 0 && st.used_bytes <= st.file_bytes,
       "used bytes %llu within the file's %llu",
       (unsigned long long) st.used_bytes,
       (unsigned long long) st.file_bytes);
    is_int(st.used_bytes % st.page_size, 0, "used bytes are whole pages");
    is_int(st.max_readers, 126, "LMDB's default reader table");
    is_int(st.readers_used, 0, "no reader holds a slot between calls");
    is_str(prt_kv_sync_name(st.sync), "full", "sync policy reported");
    is_int(prt_kv_sync(kv), 0, "explicit sync");
    prt_kv_close(kv);

    kv = open_env(dir, 0, 0, PRT_KV_SYNC_FULL);
    ok(kv != NULL && count_bad(kv, 1, 100, 10, 64) == 0,
       "data survives close and reopen");
    prt_kv_close(kv);
    rm_env_dir(dir);
    env_dir(dir, sizeof(dir), "nested/a");
    rmdir(dir);
    env_dir(dir, sizeof(dir), "nested");
    rmdir(dir);
}

static void
test_bad_conf(void)
{
    char          dir[256];
    prt_kv_conf_t conf = { NULL, 0, 0, PRT_KV_SYNC_FULL, 0 };
    prt_kv_t     *kv = (prt_kv_t *) 1;
    const char   *bad_name[] = { "" };

    is_int(prt_kv_open(&kv, &conf, two_dbs, 2), PRT_KV_ERROR, "no directory");
    ok(kv == NULL, "out cleared on failure");
    env_dir(dir, sizeof(dir), "bad");
    conf.dir = dir;
    is_int(prt_kv_open(&kv, &conf, two_dbs, 0), PRT_KV_ERROR, "no databases");
    is_int(prt_kv_open(&kv, &conf, bad_name, 1), PRT_KV_ERROR,
           "empty database name");
    conf.map_size = 4096;
    is_int(prt_kv_open(&kv, &conf, two_dbs, 2), PRT_KV_ERROR,
           "map below 64 KiB refused");
    ok(strstr(prt_kv_errmsg(), "map_size") != NULL, "message names map_size");
}

static void
test_growth(void)
{
    char           dir[256];
    prt_kv_t      *kv;
    prt_kv_stats_t st;
    put_ctx_t      p;
    uint32_t       round, per = 250;
    int            calls = 0, rc = 0;

    env_dir(dir, sizeof(dir), "grow");
    kv = open_env(dir, PRT_KV_MAP_MIN, 0, PRT_KV_SYNC_NOMETA);
    if (!ok(kv != NULL, "open with a 64 KiB map")) {
        return;
    }
    prt_kv_stats(kv, &st);
    is_int(st.map_size, 64 << 10, "the map starts at 64 KiB");

    /* 16 transactions of ~1 MB each: ~16 MB through a 64 KiB start. */
    for (round = 0; round < 16 && rc == 0; round++) {
        p = (put_ctx_t) { kv, 0, round * per, per, VALUE_SIZE, 0, 0 };
        rc = prt_kv_write(kv, put_range, &p);
        calls += p.calls;
    }
    is_int(rc, 0, "16 MB written without MAP_FULL reaching the caller");
    prt_kv_stats(kv, &st);
    ok(st.map_grows >= 8, "map grew %llu times", (unsigned long long)
       st.map_grows);
    ok(st.map_size >= (16u << 20) && st.map_size <= (64u << 20),
       "map now %llu bytes", (unsigned long long) st.map_size);
    is_int(st.map_size & (st.map_size - 1), 0, "growth doubles the map");
    ok(calls > 16, "callbacks reran after growth (%d runs for 16 writes)",
       calls);
    is_int(st.db[0].entries, 16 * per, "each key stored once despite reruns");
    is_int(count_bad(kv, 0, 0, 16 * per, VALUE_SIZE), 0,
           "every value intact");
    ok(st.used_bytes <= st.map_size && st.used_bytes > 16 * per * VALUE_SIZE,
       "used %llu bytes", (unsigned long long) st.used_bytes);
    prt_kv_close(kv);

    kv = open_env(dir, PRT_KV_MAP_MIN, 0, PRT_KV_SYNC_NOMETA);
    prt_kv_stats(kv, &st);
    ok(st.map_size >= (16u << 20),
       "reopen with a smaller configured map keeps the grown one (%llu)",
       (unsigned long long) st.map_size);
    is_int(count_bad(kv, 0, 0, 16 * per, VALUE_SIZE), 0, "intact on reopen");
    prt_kv_close(kv);
    rm_env_dir(dir);
}

static void
test_max(void)
{
    char           dir[256];
    prt_kv_t      *kv;
    prt_kv_stats_t st;
    put_ctx_t      p;
    uint32_t       i, stored = 0;
    int            rc = 0;

    env_dir(dir, sizeof(dir), "max");
    kv = open_env(dir, PRT_KV_MAP_MIN, 1 << 20, PRT_KV_SYNC_FULL);
    if (!ok(kv != NULL, "open with a 1 MiB maximum")) {
        return;
    }
    for (i = 0; i < 1000 && rc == 0; i++) {
        p = (put_ctx_t) { kv, 0, i * 20, 20, VALUE_SIZE, 0, 0 };
        rc = prt_kv_write(kv, put_range, &p);
        if (rc == 0) {
            stored = (i + 1) * 20;
        }
    }
    is_int(rc, PRT_KV_MAP_MAX, "writing past the maximum: PRT_KV_MAP_MAX");
    ok(strstr(prt_kv_errmsg(), "map_max") != NULL,
       "clear message: %s", prt_kv_errmsg());
    prt_kv_stats(kv, &st);
    is_int(st.map_size, 1 << 20, "map stopped at the maximum");
    ok(stored > 100, "%u values stored before the maximum", stored);
    is_int(st.db[0].entries, stored, "the failed transaction left nothing");
    is_int(count_bad(kv, 0, 0, stored, VALUE_SIZE), 0,
           "committed values intact");
    p = (put_ctx_t) { kv, 1, 0, 1, 16, 0, 0 };
    rc = prt_kv_write(kv, put_range, &p);
    ok(rc == 0 || rc == PRT_KV_MAP_MAX, "environment still usable after");
    prt_kv_close(kv);
    rm_env_dir(dir);
}

static int
abort_after_put(MDB_txn *txn, void *arg)
{
    put_ctx_t *c = arg;
    int        rc = put_range(txn, c);

    return rc != 0 ? rc : -77;
}

static int
nested_read(MDB_txn *txn, void *arg)
{
    return prt_kv_read(arg, abort_after_put, NULL);
}

static void
test_abort_and_nesting(void)
{
    char      dir[256];
    prt_kv_t *kv;
    put_ctx_t p;

    env_dir(dir, sizeof(dir), "abort");
    kv = open_env(dir, 0, 0, PRT_KV_SYNC_FULL);
    if (kv == NULL) {
        ok(0, "open");
        return;
    }
    p = (put_ctx_t) { kv, 0, 0, 5, 32, 0, 0 };
    is_int(prt_kv_write(kv, abort_after_put, &p), -77,
           "a callback's own code is returned as is");
    is_int(count_bad(kv, 0, 0, 5, 32), 5, "and nothing was committed");
    is_int(prt_kv_write(kv, nested_read, kv), PRT_KV_ERROR,
           "nested transaction on one environment refused, no deadlock");
    ok(strstr(prt_kv_errmsg(), "nested") != NULL, "message: %s",
       prt_kv_errmsg());
    p.calls = 0;
    is_int(prt_kv_write(kv, put_range, &p), 0, "usable after the refusal");
    prt_kv_close(kv);
    rm_env_dir(dir);
}

/* ---- a reader thread holds its snapshot while a writer must grow ---- */

typedef struct {
    prt_kv_t        *kv;
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    int              holding;
    int              released;
    int              intact;
} pin_ctx_t;

static int
pin_read(MDB_txn *txn, void *arg)
{
    pin_ctx_t      *c = arg;
    uint32_t        k = 0;
    MDB_val         key = key_of(&k), val;
    struct timespec pause = { 0, 300 * 1000 * 1000 };

    if (mdb_get(txn, prt_kv_dbi(c->kv, 0), &key, &val) != 0) {
        return -1;
    }
    pthread_mutex_lock(&c->mu);
    c->holding = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);

    /* While we sleep, the writer hits MAP_FULL; a remap now would pull
       the map from under val.mv_data. */
    nanosleep(&pause, NULL);
    c->intact = value_ok(&val, 0, VALUE_SIZE);
    __atomic_store_n(&c->released, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void *
pin_thread(void *arg)
{
    pin_ctx_t *c = arg;

    prt_kv_read(c->kv, pin_read, c);
    return NULL;
}

static void
test_reader_thread_during_growth(void)
{
    char           dir[256];
    prt_kv_t      *kv;
    prt_kv_stats_t st;
    pin_ctx_t      c;
    put_ctx_t      p;
    pthread_t      th;
    int            rc, released_before_grow;

    env_dir(dir, sizeof(dir), "pin");
    kv = open_env(dir, PRT_KV_MAP_MIN, 0, PRT_KV_SYNC_NONE);
    if (kv == NULL) {
        ok(0, "open");
        return;
    }
    p = (put_ctx_t) { kv, 0, 0, 1, VALUE_SIZE, 0, 0 };
    prt_kv_write(kv, put_range, &p);

    memset(&c, 0, sizeof(c));
    c.kv = kv;
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    pthread_create(&th, NULL, pin_thread, &c);
    pthread_mutex_lock(&c.mu);
    while (!c.holding) {
        pthread_cond_wait(&c.cv, &c.mu);
    }
    pthread_mutex_unlock(&c.mu);

    prt_kv_stats(kv, &st);
    is_int(st.readers_used, 1, "the reader thread's slot is counted");

    p = (put_ctx_t) { kv, 0, 1, 200, VALUE_SIZE, 0, 0 };
    rc = prt_kv_write(kv, put_range, &p);
    released_before_grow = __atomic_load_n(&c.released, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    is_int(rc, 0, "800 KB written through a 64 KiB map");
    ok(released_before_grow, "the growth waited for the reader to finish");
    ok(c.intact, "the reader's pointer stayed valid throughout");
    prt_kv_stats(kv, &st);
    ok(st.map_grows > 0, "the map grew (%llu times)",
       (unsigned long long) st.map_grows);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    prt_kv_close(kv);
    rm_env_dir(dir);
}

/* ---- another process reads while this one grows the map ---- */

#define COUNT_KEY 0xFFFFFFF0u

typedef struct {
    prt_kv_t *kv;
    uint32_t  count;        /* values the snapshot claims */
    int       consistent;
} snap_ctx_t;

static int
snapshot_check(MDB_txn *txn, void *arg)
{
    snap_ctx_t *c = arg;
    uint32_t    k = COUNT_KEY, last;
    MDB_val     key = key_of(&k), val;
    MDB_stat    ms;

    c->count = 0;
    c->consistent = 1;
    if (mdb_get(txn, prt_kv_dbi(c->kv, 0), &key, &val) != 0) {
        return 0;
    }
    memcpy(&c->count, val.mv_data, sizeof(c->count));
    mdb_stat(txn, prt_kv_dbi(c->kv, 0), &ms);
    last = c->count - 1;
    key = key_of(&last);
    c->consistent = ms.ms_entries == c->count + 1
                    && mdb_get(txn, prt_kv_dbi(c->kv, 0), &key, &val) == 0
                    && value_ok(&val, last, VALUE_SIZE);
    return 0;
}

/* Child: read snapshots until the final count shows; exit 0 if all good. */
static int
reader_child(const char *dir, int go_fd, int report_fd, uint32_t final)
{
    prt_kv_t      *kv;
    prt_kv_stats_t st;
    snap_ctx_t     c;
    char           b;
    uint64_t       reads = 0, bad = 0, report[3];
    int            rc = 0;

    if (read(go_fd, &b, 1) != 1 || (kv = open_env(dir, PRT_KV_MAP_MIN, 0,
                                                  PRT_KV_SYNC_FULL)) == NULL)
    {
        return 2;
    }
    c.kv = kv;
    c.count = 0;
    while (c.count < final) {
        rc = prt_kv_read(kv, snapshot_check, &c);
        if (rc != 0) {
            break;
        }
        reads++;
        bad += !c.consistent;
    }
    bad += count_bad(kv, 0, 0, final, VALUE_SIZE);
    prt_kv_stats(kv, &st);
    report[0] = reads;
    report[1] = bad;
    report[2] = st.map_adopts;
    if (write(report_fd, report, sizeof(report)) != sizeof(report)) {
        rc = 3;
    }
    prt_kv_close(kv);
    return rc != 0 ? 4 : 0;
}

static void
test_reader_process_adopts_growth(void)
{
    char           dir[256];
    int            go[2], rep[2], status = -1;
    uint64_t       report[3] = { 0, 0, 0 };
    uint32_t       round, per = 100, rounds = 40;
    prt_kv_t      *kv;
    prt_kv_stats_t st;
    put_ctx_t      p;
    pid_t          pid;
    int            rc = 0;

    env_dir(dir, sizeof(dir), "resized");
    if (pipe(go) != 0 || pipe(rep) != 0) {
        ok(0, "pipes");
        return;
    }
    kv = open_env(dir, PRT_KV_MAP_MIN, 0, PRT_KV_SYNC_NONE);
    p = (put_ctx_t) { kv, 0, 0, 1, VALUE_SIZE, 0, COUNT_KEY };
    prt_kv_write(kv, put_range, &p);

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        /* The parent's environment is not to be touched after fork. */
        close(go[1]);
        close(rep[0]);
        _exit(reader_child(dir, go[0], rep[1], rounds * per + 1));
    }
    close(go[0]);
    close(rep[1]);
    if (write(go[1], "g", 1) != 1) {
        ok(0, "start the child");
    }
    /* Let the child open while the map is still 64 KiB. */
    usleep(100 * 1000);
    for (round = 0; round < rounds && rc == 0; round++) {
        p = (put_ctx_t) { kv, 0, 1 + round * per, per, VALUE_SIZE, 0,
                          COUNT_KEY };
        rc = prt_kv_write(kv, put_range, &p);
    }
    is_int(rc, 0, "parent wrote 16 MB in 40 transactions");
    prt_kv_stats(kv, &st);
    ok(st.map_grows >= 8, "parent grew the map %llu times",
       (unsigned long long) st.map_grows);
    ok(read(rep[0], report, sizeof(report)) == sizeof(report),
       "child reported");
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exited cleanly");
    ok(report[0] > 0, "child read %llu snapshots while the parent wrote",
       (unsigned long long) report[0]);
    is_int(report[1], 0, "every snapshot consistent, every value intact");
    ok(report[2] > 0, "child adopted the grown map (MAP_RESIZED) %llu times",
       (unsigned long long) report[2]);
    close(go[1]);
    close(rep[0]);
    prt_kv_close(kv);
    rm_env_dir(dir);
}

/* ---- kill -9 of a writer right after its commits ---- */

#define KILL_BATCH 20

/* Child: commit batches forever, acknowledging each after its commit. */
static void
writer_child(const char *dir, prt_kv_sync_t sync, int ack_fd)
{
    prt_kv_t *kv = open_env(dir, PRT_KV_MAP_MIN, 0, sync);
    put_ctx_t p;
    uint32_t  n;

    if (kv == NULL) {
        _exit(2);
    }
    for (n = 0; ; n++) {
        p = (put_ctx_t) { kv, 0, n * KILL_BATCH, KILL_BATCH, 1000, 0, 0 };
        if (prt_kv_write(kv, put_range, &p) != 0
            || write(ack_fd, &n, sizeof(n)) != sizeof(n))
        {
            _exit(3);
        }
    }
}

static void
test_kill9(prt_kv_sync_t sync)
{
    const char    *name = prt_kv_sync_name(sync);
    char           dir[256];
    int            ack[2], status;
    uint32_t       n, acked = 0, got = 0;
    prt_kv_t      *kv;
    prt_kv_stats_t st;
    put_ctx_t      p;
    pid_t          pid;

    env_dir(dir, sizeof(dir), name);
    if (pipe(ack) != 0) {
        ok(0, "pipe");
        return;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(ack[0]);
        writer_child(dir, sync, ack[1]);
    }
    close(ack[1]);
    while (got < 50 && read(ack[0], &n, sizeof(n)) == sizeof(n)) {
        acked = n + 1;
        got++;
    }
    kill(pid, SIGKILL);
    /* Acks already in the pipe were sent after their commit too. */
    while (read(ack[0], &n, sizeof(n)) == sizeof(n)) {
        acked = n + 1;
    }
    waitpid(pid, &status, 0);
    close(ack[0]);
    ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
       "%s: writer killed with SIGKILL after %u acknowledged commits", name,
       acked);

    kv = open_env(dir, PRT_KV_MAP_MIN, 0, sync);
    if (!ok(kv != NULL, "%s: reopen after kill -9", name)) {
        return;
    }
    is_int(count_bad(kv, 0, 0, acked * KILL_BATCH, 1000), 0,
           "%s: all %u acknowledged values present", name,
           acked * KILL_BATCH);
    prt_kv_stats(kv, &st);
    ok(st.db[0].entries == acked * KILL_BATCH
       || st.db[0].entries == (acked + 1) * KILL_BATCH,
       "%s: whole transactions only (%llu entries)", name,
       (unsigned long long) st.db[0].entries);
    /* The child may have died holding LMDB's writer mutex. */
    p = (put_ctx_t) { kv, 1, 0, 1, 10, 0, 0 };
    is_int(prt_kv_write(kv, put_range, &p), 0,
           "%s: a new writer gets the lock after the kill", name);
    prt_kv_close(kv);
    rm_env_dir(dir);
}

int
main(void)
{
    if (mkdtemp(tmp_root) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_open_and_stats();
    test_bad_conf();
    test_growth();
    test_max();
    test_abort_and_nesting();
    test_reader_thread_during_growth();
    test_reader_process_adopts_growth();
    test_kill9(PRT_KV_SYNC_FULL);
    test_kill9(PRT_KV_SYNC_NOMETA);
    test_kill9(PRT_KV_SYNC_NONE);
    rmdir(tmp_root);
    return done_testing();
}
