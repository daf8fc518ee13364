/*
 * `pattern-rt-engine serve`: the daemon. Builds the engine from its
 * configuration, listens for nginx workers and runs the event loop until
 * SIGTERM or SIGINT.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/engine.h"
#include "core/array.h"
#include "core/log.h"
#include "core/version.h"
#include "index/faiss.h"
#include "jobs/store_pg.h"
#include "verify/heard.h"
#include "serve.h"

static void
signal_handler(prt_loop_t *loop, prt_io_t *io, uint32_t events)
{
    struct signalfd_siginfo  si;

    while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
        prt_info("signal %u received: stopping", si.ssi_signo);
        prt_loop_stop(loop);
    }
}

static int
setup_signals(prt_engine_t *e)
{
    sigset_t  set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1) {
        return -1;
    }
    e->signal_io.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (e->signal_io.fd == -1) {
        prt_error("signalfd: %s", strerror(errno));
        return -1;
    }
    e->signal_io.handler = signal_handler;
    e->signal_io.data = e;
    return prt_loop_add(e->loop, &e->signal_io, EPOLLIN);
}

static int
make_dir(const char *path)
{
    if (mkdir(path, 0755) == -1 && errno != EEXIST) {
        prt_error("mkdir %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int
engine_configure(prt_engine_t *e, int argc, char **argv)
{
    prt_log_level_t   level;
    prt_log_format_t  format;
    char             *sock;
    int              rc;

    prt_config_defaults(&e->conf);
    rc = prt_config_parse_args(&e->conf, argc, argv, 1);
    if (rc != 0) {
        prt_config_usage("serve");
        return rc > 0 ? 1 : -1;
    }
    if (prt_log_parse_level(e->conf.log_level, &level) != 0) {
        fprintf(stderr, "bad log_level: %s\n", e->conf.log_level);
        return -1;
    }
    prt_log_set_level(level);
    if (prt_log_parse_format(e->conf.log_format, &format) != 0) {
        fprintf(stderr, "bad log_format: %s (text or json)\n",
                e->conf.log_format);
        return -1;
    }
    prt_log_set_format(format);

    if (prt_clock_init(&e->clock, e->conf.clock) != 0) {
        fprintf(stderr, "bad clock: %s (real, feed or an ISO-8601 instant)\n",
                e->conf.clock);
        return -1;
    }
    if (asprintf(&e->index_dir, "%s/index", e->conf.data_dir) == -1) {
        return -1;
    }
    if (e->conf.socket == NULL) {
        if (asprintf(&sock, "%s/engine.sock", e->conf.data_dir) == -1) {
            return -1;
        }
        e->conf.socket = sock;
    }
    return make_dir(e->conf.data_dir);
}

/* No index yet is not an error: searches answer E_INDEX until one is
 * built and reloaded. */
static void
engine_open_index(prt_engine_t *e)
{
    char  err[512];

    if (prt_index_open(e->index_dir, e->conf.nprobe, &e->index, err,
                       sizeof(err)) != 0)
    {
        prt_warn("no index loaded (%s): searches answer E_INDEX until "
                 "build-index and /api/index/reload", err);
        e->index = NULL;
        return;
    }
    prt_info("index %s: %llu patterns, %s, nprobe %zu", e->index->dir,
             (unsigned long long) e->index->n, e->index->manifest.factory,
             e->index->nprobe);
}

static int
engine_open_bars(prt_engine_t *e)
{
    prt_kv_conf_t  conf;
    char          *dir;
    int            rc;

    if (asprintf(&dir, "%s/bars", e->conf.data_dir) == -1) {
        return -1;
    }
    memset(&conf, 0, sizeof(conf));
    conf.dir = dir;
    conf.map_max = e->conf.bars_map_max;
    conf.sync = PRT_KV_SYNC_NOMETA;
    rc = prt_barstore_open(&e->bars, &conf);
    if (rc != 0) {
        prt_error("bar store %s: %s", dir, prt_barstore_errmsg());
    }
    free(dir);
    return rc;
}

/* A verified prediction as the calibrator's rebuild needs it. */
typedef struct {
    int       horizon_idx;
    uint64_t  seq;
    int64_t   verified_at_ms;
    uint64_t  id;
    double    prob_up, actual_return;
} calib_seed_t;

typedef struct {
    prt_store_t   *store;
    calib_seed_t  *v;
    size_t         n, cap;
} calib_seeds_t;

static int
calibration_collect(const prt_pred_rec_t *p, void *arg)
{
    calib_seeds_t  *s = arg;

    if (p->status != PRT_PRED_VERIFIED) {
        return 0;
    }
    if (s->n == s->cap) {
        calib_seed_t  *v = prt_array_grow(s->v, &s->cap, sizeof(*v), 4096);

        if (v == NULL) {
            return -1;
        }
        s->v = v;
    }
    s->v[s->n++] = (calib_seed_t) { prt_horizon_index(p->horizon),
        p->calibration_seq, p->verified_at_ms, p->id, p->prob_up,
        p->actual_return };
    return 0;
}

static int
calibration_txn(MDB_txn *txn, void *arg)
{
    calib_seeds_t  *s = arg;

    return prt_store_each_prediction(s->store, txn, calibration_collect, s);
}

/* verification order: by calibration_seq (0 in records older than it) */
static int
seed_cmp(const void *a, const void *b)
{
    const calib_seed_t  *x = a, *y = b;

    if (x->horizon_idx != y->horizon_idx) {
        return x->horizon_idx - y->horizon_idx;
    }
    if (x->seq != y->seq) {
        return x->seq < y->seq ? -1 : 1;
    }
    if (x->verified_at_ms != y->verified_at_ms) {
        return x->verified_at_ms < y->verified_at_ms ? -1 : 1;
    }
    return (x->id > y->id) - (x->id < y->id);
}

static int
id_cmp(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}

static void
loaded_ids_expire(prt_loop_t *loop, prt_timer_t *timer)
{
    prt_engine_t  *e = timer->data;

    free(e->calib_loaded);
    e->calib_loaded = NULL;
    e->calib_loaded_n = 0;
}

/*
 * With other nodes: the relay listens from before the calibration's read,
 * so a verification another node committed before that read may still be
 * heard after it. Its id is then among those read: kept sorted for the
 * first minute, by which time every notification sent before the read
 * has come (the relay sends within milliseconds of a commit).
 */
static int
keep_loaded_ids(prt_engine_t *e, const calib_seeds_t *seeds)
{
    e->calib_loaded = malloc((seeds->n ? seeds->n : 1) * sizeof(uint64_t));
    if (e->calib_loaded == NULL) {
        prt_error("calibration: out of memory");
        return -1;
    }
    for (size_t i = 0; i < seeds->n; i++) {
        e->calib_loaded[i] = seeds->v[i].id;
    }
    e->calib_loaded_n = seeds->n;
    qsort(e->calib_loaded, seeds->n, sizeof(uint64_t), id_cmp);
    e->calib_loaded_timer.handler = loaded_ids_expire;
    e->calib_loaded_timer.data = e;
    prt_timer_start(e->loop, &e->calib_loaded_timer, 60000);
    return 0;
}

/*
 * The calibration follows the store: rebuilt at start from every verified
 * prediction in verification order, so the sequence continues where it
 * stood; then fed by each verification pass.
 */
static int
engine_open_calibration(prt_engine_t *e)
{
    calib_seeds_t  seeds = { e->store, NULL, 0, 0 };
    int            rc = 0;

    e->calib = prt_calibrator_new(PRT_N_HORIZONS,
                                  (double) e->conf.calibration_prior);
    if (e->calib == NULL) {
        prt_error("calibration: out of memory");
        return -1;
    }
    if (prt_store_read(e->store, calibration_txn, &seeds) != 0) {
        prt_error("calibration: reading the job store: %s", prt_kv_errmsg());
        rc = -1;
    }
    if (rc == 0 && seeds.n) {
        qsort(seeds.v, seeds.n, sizeof(*seeds.v), seed_cmp);
    }
    for (size_t i = 0; rc == 0 && i < seeds.n; i++) {
        rc = prt_calibrator_add(e->calib, seeds.v[i].horizon_idx,
                                seeds.v[i].verified_at_ms, seeds.v[i].prob_up,
                                seeds.v[i].actual_return);
    }
    if (rc == 0 && e->relay) {
        rc = keep_loaded_ids(e, &seeds);
    }
    free(seeds.v);
    if (rc != 0) {
        return -1;
    }
    prt_info("calibration: %llu verified predictions",
             (unsigned long long) prt_calibrator_size(e->calib));
    return 0;
}

/* events -> the broadcast log */
static int
broadcast_event(void *ctx, const void *msg, size_t len)
{
    return prt_server_publish(ctx, PRT_MSG_EVENT, msg, len);
}

/* events -> the other nodes */
static void
relay_event(void *ctx, const prt_event_hdr_t *hdr, const char *json,
    size_t len)
{
    prt_engine_t  *e = ctx;

    if (e->relay) {
        prt_relay_send(e->relay, hdr, json, len);
    }
}

/* Another node's verification -> the calibrator, as this node's own
 * passes feed it: every node's map is fitted on every node's outcomes. */
static void
calibrate_heard(prt_engine_t *e, const char *json, size_t len)
{
    prt_heard_t  h;

    if (prt_heard_parse(json, len, &h) != 1
        || (e->calib_loaded
            && bsearch(&h.id, e->calib_loaded, e->calib_loaded_n,
                       sizeof(uint64_t), id_cmp) != NULL))
    {
        return;
    }
    if (prt_calibrator_add(e->calib, h.horizon_idx, h.verified_at_ms,
                           h.prob_up, h.actual_return) != 0)
    {
        prt_error("calibration: out of memory: another node's verification "
                  "of prediction %llu is not counted",
                  (unsigned long long) h.id);
    }
}

/* the other nodes -> events (and the verifications channel, which carries
 * each verification once, -> the calibrator) */
static void
relayed_event(void *ctx, const prt_event_hdr_t *hdr, const char *json,
    size_t len)
{
    prt_engine_t  *e = ctx;

    if (hdr->kind == PRT_EVENT_VERIFICATION
        && hdr->stream == PRT_STREAM_VERIFICATIONS)
    {
        calibrate_heard(e, json, len);
    }
    prt_events_publish_relayed(e->events, hdr, json, len);
}

static void
relay_lost(void *ctx)
{
    prt_engine_t  *e = ctx;

    prt_events_relay_lost(e->events);
}

/* On a PostgreSQL store, the other nodes' events reach this node's
 * subscribers and this node's reach theirs (docs/scale-out.md). */
static int
engine_open_relay(prt_engine_t *e)
{
    prt_relay_conf_t  rc;

    if (strcmp(e->conf.store, "lmdb") == 0) {
        return 0;
    }
    rc.loop = e->loop;
    rc.conninfo = e->conf.store;
    rc.max_bytes = e->conf.relay_queue;
    rc.received = relayed_event;
    rc.lost = relay_lost;
    rc.ctx = e;
    e->relay = prt_relay_new(&rc);
    return e->relay ? 0 : -1;
}

/* jobs -> the tracker: a chunk's predictions are open until their
 * horizon */
static void
chunk_committed(void *ctx, const prt_pred_rec_t *preds, size_t n)
{
    prt_engine_t  *e = ctx;

    prt_tracker_add(e->tracker, preds, n);
}

/* What jobs/ works with: the parts, its settings, the callback. */
static void
jobs_conf(prt_engine_t *e, prt_jobs_conf_t *jc)
{
    jc->store = e->store;
    jc->workq = e->workq;
    jc->clock = &e->clock;
    jc->bars = e->bars;
    jc->index = &e->index;
    jc->max_staleness_ms = (int64_t) e->conf.max_staleness_s * 1000;
    jc->max_inflight = (unsigned) e->conf.search_threads;
    jc->chunk = e->conf.scan_chunk;
    jc->store_queue = (unsigned) e->conf.store_queue;
    jc->events = e->events;
    jc->calib = e->calib;
    jc->committed = chunk_committed;
    jc->ctx = e;
}

static void
verifier_conf(prt_engine_t *e, prt_verifier_conf_t *vc)
{
    vc->loop = e->loop;
    vc->workq = e->workq;
    vc->clock = &e->clock;
    vc->store = e->store;
    vc->bars = e->bars;
    vc->events = e->events;
    vc->interval_ms = e->conf.verify_interval_ms;
    vc->grace_s = e->conf.verify_grace_s;
    vc->batch = e->conf.verify_batch;
    vc->calib = e->calib;
}

/* The job store: LMDB under data_dir, or PostgreSQL (store = conninfo),
 * where this engine's running jobs are told apart by its node name. */
static int
engine_open_store(prt_engine_t *e)
{
    char  host[256], *path, *name;
    int   rc;

    if (strcmp(e->conf.store, "lmdb") == 0) {
        if (asprintf(&path, "%s/store", e->conf.data_dir) == -1) {
            return -1;
        }
        rc = prt_store_open(&e->store, path, e->conf.store_map_max);
        free(path);
        return rc;
    }
    if (e->conf.node) {
        return prt_store_open_pg(&e->store, e->conf.store, e->conf.node);
    }
    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    path = realpath(e->conf.data_dir, NULL);
    if (asprintf(&name, "%s:%s", host, path ? path : e->conf.data_dir)
        == -1)
    {
        free(path);
        return -1;
    }
    free(path);
    rc = prt_store_open_pg(&e->store, e->conf.store, name);
    free(name);
    return rc;
}

static int
engine_open_jobs(prt_engine_t *e)
{
    prt_events_conf_t    ec;
    prt_jobs_conf_t      jc;
    prt_verifier_conf_t  vc;
    size_t               due;
    int                  rc;

    /* the relay listens before the calibration reads (keep_loaded_ids) */
    rc = engine_open_store(e);
    if (rc != 0 || engine_open_relay(e) != 0
        || engine_open_calibration(e) != 0)
    {
        return -1;
    }
    memset(&ec, 0, sizeof(ec));
    ec.max_bytes = e->conf.event_history;
    ec.max_per_stream = e->conf.event_history_per_stream;
    ec.run_started_ms = e->started_at_ms;
    ec.broadcast = broadcast_event;
    ec.ctx = e->server;
    ec.relay = relay_event;
    ec.relay_ctx = e;
    e->events = prt_events_new(&ec);
    if (e->events == NULL) {
        return -1;
    }
    jobs_conf(e, &jc);
    e->jobs = prt_jobs_new(&jc);
    verifier_conf(e, &vc);
    e->verifier = e->jobs ? prt_verifier_new(&vc) : NULL;
    e->tracker = prt_tracker_new(e->events, &e->clock);
    if (e->verifier == NULL || e->tracker == NULL) {
        return -1;
    }
    if (prt_tracker_load(e->tracker, e->store, &due) != 0) {
        prt_error("reading the open predictions: %s", prt_kv_errmsg());
        return -1;
    }
    prt_info("%zu open predictions tracked for price updates",
             prt_tracker_open(e->tracker));
    prt_verifier_prepare(e->verifier, due);
    return 0;
}

static prt_server_t *
engine_server(prt_engine_t *e)
{
    prt_server_conf_t   sc;
    struct group       *gr;

    sc.socket_path = e->conf.socket;
    sc.socket_mode = e->conf.socket_mode;
    sc.socket_gid = (gid_t) -1;
    if (e->conf.socket_group != NULL) {
        /* the nginx workers' group (www-data): the engine must be one of
         * its members for the chown after bind() */
        gr = getgrnam(e->conf.socket_group);
        if (gr == NULL) {
            prt_error("socket_group %s: no such group", e->conf.socket_group);
            return NULL;
        }
        sc.socket_gid = gr->gr_gid;
    }
    sc.shm.max_slots = (uint32_t) e->conf.max_workers;
    sc.shm.req_ring_size = e->conf.request_ring;
    sc.shm.resp_ring_size = e->conf.response_ring;
    sc.shm.bcast_size = e->conf.broadcast_log;
    sc.max_request = e->conf.max_request;
    sc.max_queued = e->conf.max_queued;
    return prt_server_new(e->loop, &sc, prt_api_dispatch, e);
}

int
prt_serve_command(int argc, char **argv)
{
    prt_engine_t  e;
    int           rc = 1;

    memset(&e, 0, sizeof(e));
    e.signal_io.fd = -1;
    e.started_at_ms = prt_wall_ms();

    rc = engine_configure(&e, argc, argv);
    if (rc != 0) {
        prt_config_free(&e.conf);
        return rc > 0 ? 0 : 2;         /* --help: the usage was asked for */
    }

    rc = 1;                           /* until the loop ran: a failed start */
    e.loop = prt_loop_new();
    if (e.loop == NULL || setup_signals(&e) != 0 || engine_open_bars(&e) != 0) {
        goto done;
    }
    e.workq = prt_workq_new(e.loop, (unsigned) e.conf.search_threads);
    if (e.workq == NULL) {
        goto done;
    }
    engine_open_index(&e);
    e.server = engine_server(&e);
    if (e.server == NULL || engine_open_jobs(&e) != 0) {
        goto done;
    }

    prt_info("pattern-rt-engine %s (pid %d) ready on %s, clock %s, "
             "FAISS %s", PRT_ENGINE_VERSION, (int) getpid(), e.conf.socket,
             prt_clock_mode_name(&e.clock), prt_faiss_library());
    rc = prt_loop_run(e.loop) == 0 ? 0 : 1;
    prt_info("pattern-rt-engine stopped");

done:
    prt_verifier_free(e.verifier);
    prt_workq_free(e.workq);          /* joins: no task touches what follows */
    prt_jobs_free(e.jobs);
    prt_relay_free(e.relay);          /* joins: nothing relayed after */
    free(e.calib_loaded);
    prt_events_free(e.events);
    prt_tracker_free(e.tracker);
    prt_store_close(e.store);
    prt_calibrator_free(e.calib);
    prt_server_free(e.server);
    prt_index_unref(e.index);
    prt_barstore_close(e.bars);
    free(e.index_dir);
    if (e.signal_io.fd != -1) {
        close(e.signal_io.fd);
    }
    prt_loop_free(e.loop);
    prt_config_free(&e.conf);
    return rc;
}

int
prt_migrate_command(int argc, char **argv)
{
    prt_config_t  conf;
    int           rc, from = 0;

    prt_config_defaults(&conf);
    rc = prt_config_parse_args(&conf, argc, argv, 1);
    if (rc != 0 || strcmp(conf.store, "lmdb") == 0) {
        if (rc == 0) {
            fprintf(stderr, "migrate: the store is LMDB, which needs no "
                    "migration; give --store with a connection string\n");
        }
        prt_config_usage("migrate");
        prt_config_free(&conf);
        return rc > 0 ? 0 : 2;
    }
    rc = prt_store_pg_migrate(conf.store, &from);
    prt_config_free(&conf);
    if (rc != 0) {
        fprintf(stderr, "migrate: %s\n", prt_kv_errmsg());
        return 1;
    }
    if (from == PRT_STORE_PG_SCHEMA) {
        printf("job store schema at version %d: nothing to do\n", from);
    } else {
        printf("job store schema migrated from version %d to %d\n", from,
               PRT_STORE_PG_SCHEMA);
    }
    return 0;
}
