/*
 * `pattern-rt-engine serve`: the daemon. Builds the engine from its
 * configuration, listens for nginx workers and runs the event loop until
 * SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "core/log.h"
#include "engine.h"

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
    prt_log_level_t  level;
    char            *sock;

    prt_config_defaults(&e->conf);
    if (prt_config_parse_args(&e->conf, argc, argv, 1) != 0) {
        prt_config_usage("serve");
        return -1;
    }
    if (prt_log_parse_level(e->conf.log_level, &level) != 0) {
        fprintf(stderr, "bad log_level: %s\n", e->conf.log_level);
        return -1;
    }
    prt_log_set_level(level);

    if (e->conf.socket == NULL) {
        if (asprintf(&sock, "%s/engine.sock", e->conf.data_dir) == -1) {
            return -1;
        }
        e->conf.socket = sock;
    }
    return make_dir(e->conf.data_dir);
}

static prt_server_t *
engine_server(prt_engine_t *e)
{
    prt_server_conf_t  sc;

    sc.socket_path = e->conf.socket;
    sc.socket_mode = e->conf.socket_mode;
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

    if (engine_configure(&e, argc, argv) != 0) {
        prt_config_free(&e.conf);
        return 2;
    }

    e.loop = prt_loop_new();
    if (e.loop == NULL || setup_signals(&e) != 0) {
        goto done;
    }
    e.server = engine_server(&e);
    if (e.server == NULL) {
        goto done;
    }

    prt_info("pattern-rt-engine %s (pid %d) ready on %s", PRT_ENGINE_VERSION,
             (int) getpid(), e.conf.socket);
    rc = prt_loop_run(e.loop) == 0 ? 0 : 1;
    prt_info("pattern-rt-engine stopped");

done:
    prt_server_free(e.server);
    if (e.signal_io.fd != -1) {
        close(e.signal_io.fd);
    }
    prt_loop_free(e.loop);
    prt_config_free(&e.conf);
    return rc;
}
