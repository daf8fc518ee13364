/*
 * Engine configuration: every setting has a default, can be given in a
 * config file (`name value` lines, # comments; conf/engine.conf) and on the
 * command line (`--name value` or `--name=value`, dashes or underscores).
 * The command line wins over the file.
 */
#ifndef PRT_CONFIG_H
#define PRT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/args.h"

typedef struct {
    char      *data_dir;
    char      *socket;
    unsigned   socket_mode;
    char      *socket_group;
    char      *clock;
    char      *log_level;
    char      *log_format;
    uint64_t   max_workers;
    uint64_t   request_ring;
    uint64_t   response_ring;
    uint64_t   broadcast_log;
    uint64_t   max_request;
    uint64_t   max_queued;
    uint64_t   search_threads;
    uint64_t   nprobe;
    uint64_t   bars_map_max;
    uint64_t   store_map_max;
    char      *store;                  /* "lmdb" or a libpq conninfo */
    char      *node;                   /* NULL: host:data_dir */
    uint64_t   max_staleness_s;
    uint64_t   scan_chunk;
    uint64_t   store_queue;
    uint64_t   relay_queue;             /* bytes waiting for the relay */
    uint64_t   max_bar_age_s;
    uint64_t   max_bar_ahead_s;
    uint64_t   verify_interval_ms;
    uint64_t   verify_grace_s;
    uint64_t   calibration_prior;
    uint64_t   verify_batch;
    uint64_t   event_history;
    uint64_t   event_history_per_stream;
} prt_config_t;

void prt_config_defaults(prt_config_t *c);
void prt_config_free(prt_config_t *c);

/* Parses argv[first..argc); positional arguments are an error. Returns 0,
 * 1 for --help, or -1 after printing what is wrong. */
int  prt_config_parse_args(prt_config_t *c, int argc, char **argv, int first);
int  prt_config_load_file(prt_config_t *c, const char *path);
void prt_config_usage(const char *command);

#endif
