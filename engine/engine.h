/*
 * The running engine daemon: everything the request handlers and timers
 * share. One instance, owned by `serve` (engine/serve.c), driven by one
 * event loop.
 */
#ifndef PRT_ENGINE_H
#define PRT_ENGINE_H

#include <stdint.h>

#include "core/config.h"
#include "core/loop.h"
#include "ipc/server.h"

#define PRT_ENGINE_VERSION  "0.1.0"

typedef struct {
    prt_config_t    conf;
    prt_loop_t     *loop;
    prt_server_t   *server;
    uint64_t        started_at_ms;
    prt_io_t        signal_io;
} prt_engine_t;

int prt_serve_command(int argc, char **argv);

#endif
