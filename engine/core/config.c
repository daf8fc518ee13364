#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

typedef enum { OPT_STR, OPT_SIZE, OPT_OCTAL } opt_type_t;

typedef struct {
    const char  *name;
    opt_type_t   type;
    size_t       offset;
    const char  *help;
} opt_t;

#define OPT(name, type, help) { #name, type, offsetof(prt_config_t, name), help }

static const opt_t options[] = {
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
        if (options[i].type == OPT_STR) {
            char  **p = (char **) ((char *) c + options[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}

int
prt_parse_size(const char *s, uint64_t *out)
{
    char                *end;
    unsigned long long   v;
    uint64_t             mul = 1;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno) {
        return -1;
    }
    switch (*end) {
    case 'k': case 'K': mul = 1ULL << 10; end++; break;
    case 'm': case 'M': mul = 1ULL << 20; end++; break;
    case 'g': case 'G': mul = 1ULL << 30; end++; break;
    default: break;
    }
    if (*end != '\0' || v > UINT64_MAX / mul) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

static const opt_t *
find_option(const char *name, size_t len)
{
    char  key[64];

    if (len >= sizeof(key)) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        key[i] = name[i] == '-' ? '_' : name[i];
    }
    key[len] = '\0';

    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (strcmp(options[i].name, key) == 0) {
            return &options[i];
        }
    }
    return NULL;
}

static int
set_option(prt_config_t *c, const opt_t *o, const char *value)
{
    void           *slot = (char *) c + o->offset;
    char           *end;
    unsigned long   mode;

    switch (o->type) {
    case OPT_STR:
        free(*(char **) slot);
        *(char **) slot = strdup(value);
        return *(char **) slot ? 0 : -1;
    case OPT_SIZE:
        return prt_parse_size(value, slot);
    case OPT_OCTAL:
        mode = strtoul(value, &end, 8);
        if (*value == '\0' || *end != '\0' || mode > 0777) {
            return -1;
        }
        *(unsigned *) slot = (unsigned) mode;
        return 0;
    }
    return -1;
}

int
prt_config_parse_args(prt_config_t *c, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++) {
        const char   *arg = argv[i], *value, *eq;
        const opt_t  *o;
        size_t        len;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "unexpected argument: %s\n", arg);
            return -1;
        }
        arg += 2;
        eq = strchr(arg, '=');
        len = eq ? (size_t) (eq - arg) : strlen(arg);

        if (len == 6 && strncmp(arg, "config", 6) == 0) {
            value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (value == NULL || prt_config_load_file(c, value) != 0) {
                return -1;
            }
            continue;
        }

        o = find_option(arg, len);
        if (o == NULL) {
            fprintf(stderr, "unknown option: --%.*s\n", (int) len, arg);
            return -1;
        }
        value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (value == NULL || set_option(c, o, value) != 0) {
            fprintf(stderr, "bad value for --%s: %s\n", o->name,
                    value ? value : "(missing)");
            return -1;
        }
    }
    return 0;
}

int
prt_config_load_file(prt_config_t *c, const char *path)
{
    FILE         *f = fopen(path, "r");
    char          line[1024], *p, *key, *value;
    const opt_t  *o;
    int           lineno = 0;

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

        o = find_option(key, strlen(key));
        if (o == NULL || *value == '\0' || set_option(c, o, value) != 0) {
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
        fprintf(stderr, "  --%-16s %s\n", options[i].name, options[i].help);
    }
}
