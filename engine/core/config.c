#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static int load_file_arg(void *c, const char *name, const char *path);

#define OPT(name, kind, help) \
    PRT_ARG_OF(#name, kind, prt_config_t, name, 0, (double) UINT64_MAX, help)
#define OPT_STR    PRT_ARG_DUP
#define OPT_SIZE   PRT_ARG_SIZE
#define OPT_OCTAL  PRT_ARG_OCTAL

/* config first: a file read before the settings after it on the command
 * line; prt_config_usage and prt_config_free skip it */
static const prt_arg_t options[] = {
    PRT_ARG_FN("config", load_file_arg, NULL),
    OPT(data_dir, OPT_STR, "engine state: index/, bars/, store/ (default var/data)"),
    OPT(socket, OPT_STR, "unix socket the nginx workers connect to (default <data_dir>/engine.sock)"),
    OPT(socket_mode, OPT_OCTAL, "permissions of the socket file (default 0660)"),
    OPT(socket_group, OPT_STR, "group given the socket file, e.g. www-data (default: the engine's group)"),
    OPT(clock, OPT_STR, "real | feed | an ISO-8601 instant (default real)"),
    OPT(log_level, OPT_STR, "error | warn | info | debug (default info)"),
    OPT(log_format, OPT_STR, "text | json: one JSON object per line (default text)"),
    OPT(max_workers, OPT_SIZE, "worker slots in shared memory (default 32)"),
    OPT(request_ring, OPT_SIZE, "bytes per request ring, power of two (default 4m)"),
    OPT(response_ring, OPT_SIZE, "bytes per response ring, power of two (default 4m)"),
    OPT(broadcast_log, OPT_SIZE, "bytes of the event broadcast log, power of two (default 16m)"),
    OPT(max_request, OPT_SIZE, "largest request after reassembly (default 16m)"),
    OPT(max_queued, OPT_SIZE, "response bytes that may wait per worker (default 64m)"),
    OPT(search_threads, OPT_SIZE, "threads for searches, scans and index loads (default 2)"),
    OPT(nprobe, OPT_SIZE, "IVF lists probed per search (default: the index's tuned value)"),
    OPT(bars_map_max, OPT_SIZE, "largest size of the bar store (default 64g)"),
    OPT(store_map_max, OPT_SIZE, "largest size of the job/prediction store (default 16g)"),
    OPT(store, OPT_STR, "lmdb | a libpq connection string: jobs and predictions on PostgreSQL, shared by several nodes (default lmdb)"),
    OPT(node, OPT_STR, "this engine's name among the nodes of one PostgreSQL store (default host:data_dir)"),
    OPT(max_staleness_s, OPT_SIZE, "a scan's latest bar may have ended this long ago (default 300)"),
    OPT(scan_chunk, OPT_SIZE, "symbols per batched search of a job (default 256)"),
    OPT(store_queue, OPT_SIZE, "job starts and cancels that may wait for the job store; one more is 503 E_BUSY (default 64)"),
    OPT(relay_queue, OPT_SIZE, "bytes of events that may wait to go to the other nodes of a PostgreSQL store; past it they are dropped and the others told of a gap (default 64m)"),
    OPT(max_bar_age_s, OPT_SIZE, "live bars older than this before the clock are rejected (default 604800)"),
    OPT(max_bar_ahead_s, OPT_SIZE, "live bars this far after the clock are rejected (default 120)"),
    OPT(verify_interval_ms, OPT_SIZE, "verification timer period (default 2000)"),
    OPT(verify_grace_s, OPT_SIZE, "wait for a late t+h bar this long after the t+h minute ends (default 60)"),
    OPT(calibration_prior, OPT_SIZE, "predictions of prior weight shrinking prob_up_calibrated to the base rate (default 200)"),
    OPT(verify_batch, OPT_SIZE, "most predictions one verification pass handles (default 100000)"),
    OPT(event_history, OPT_SIZE, "bytes of events kept for WebSocket replay (default 64m)"),
    OPT(event_history_per_stream, OPT_SIZE, "events kept per job or channel for replay (default 20000)"),
};

#define N_OPTIONS  (sizeof(options) / sizeof(options[0]))

static const prt_args_t  spec = PRT_ARGS("", options);

void
prt_config_defaults(prt_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->data_dir = strdup("var/data");
    c->socket_mode = 0660;
    c->clock = strdup("real");
    c->log_level = strdup("info");
    c->log_format = strdup("text");
    c->max_workers = 32;
    c->request_ring = 4 << 20;     /* several 10,000-bar batches (800 KB each) */
    c->response_ring = 4 << 20;
    c->broadcast_log = 16 << 20;
    c->max_request = 16 << 20;
    c->max_queued = 64 << 20;
    c->search_threads = 2;
    c->nprobe = 0;
    c->bars_map_max = (uint64_t) 64 << 30;
    c->store_map_max = (uint64_t) 16 << 30;
    c->store = strdup("lmdb");
    c->max_staleness_s = 300;
    c->scan_chunk = 256;
    c->store_queue = 64;
    c->relay_queue = 64 << 20;
    c->max_bar_age_s = 7 * 86400;
    c->max_bar_ahead_s = 120;
    c->verify_interval_ms = 2000;
    c->verify_grace_s = 60;
    c->verify_batch = 100000;
    c->calibration_prior = 200;
    c->event_history = 64 << 20;
    c->event_history_per_stream = 20000;
}

void
prt_config_free(prt_config_t *c)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].kind == PRT_ARG_DUP) {
            char  **p = (char **) ((char *) c + options[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}

static int
load_file_arg(void *c, const char *name, const char *path)
{
    return prt_config_load_file(c, path);
}

int
prt_config_parse_args(prt_config_t *c, int argc, char **argv, int first)
{
    return prt_args_parse(&spec, c, argc, argv, first);
}

int
prt_config_load_file(prt_config_t *c, const char *path)
{
    FILE         *f = fopen(path, "r");
    char          line[1024], *p, *key, *value;
    const prt_arg_t  *o;
    int               lineno = 0;

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0') {
            continue;
        }
        key = p;
        p += strcspn(p, " \t\n");
        if (*p) {
            *p++ = '\0';
        }
        value = p + strspn(p, " \t");
        value[strcspn(value, "\n")] = '\0';
        for (p = value + strlen(value); p > value && (p[-1] == ' ' || p[-1] == '\t'); p--) {
            p[-1] = '\0';
        }

        o = prt_args_find(&spec, key, strlen(key));
        if (o == NULL || o->kind == PRT_ARG_CALL || *value == '\0'
            || prt_args_set(&spec, o, c, value, 1) != 0)
        {
            fprintf(stderr, "%s:%d: %s \"%s\"\n", path, lineno,
                    o ? "bad value for" : "unknown setting", key);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

void
prt_config_usage(const char *command)
{
    fprintf(stderr, "usage: pattern-rt-engine %s [--config FILE] [--name value ...]\n"
                    "settings:\n", command);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].help == NULL) {
            continue;                         /* --config, in the line above */
        }
        fprintf(stderr, "  --%-16s %s\n", options[i].name, options[i].help);
    }
}
