/*
 * pattern-rt-engine: the engine daemon and its offline commands. Each
 * command gets argv starting at its own name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/token_cmd.h"
#include "clock/calendar.h"
#include "data/gen.h"
#include "engine.h"
#include "feed/replay.h"
#include "index/build.h"

typedef struct {
    const char  *name;
    int        (*run)(int argc, char **argv);
    const char  *help;
} prt_command_t;

static const prt_command_t commands[] = {
    { "serve", prt_serve_command, "run the engine daemon" },
    { "generate", prt_generate_command,
      "write deterministic synthetic flat files (demo, benchmarks)" },
    { "build-index", prt_build_index_command,
      "flat files -> bar store + a new index generation" },
    { "update-index", prt_update_index_command,
      "append the days after the last indexed one (no retraining)" },
    { "replay", prt_replay_command,
      "post flat-file bars through nginx (the live path); with --scan a "
      "walk-forward backtest" },
    { "token", prt_token_command,
      "mint an auth token: --secret-file F --scope read[,feed,admin] --ttl 1h" },
    { "calendar", prt_calendar_command,
      "FROM TO: print the NYSE schedule of every weekday" },
};

static void
usage(void)
{
    fprintf(stderr, "usage: pattern-rt-engine COMMAND [options]\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(stderr, "  %-14s %s\n", commands[i].name, commands[i].help);
    }
}

/*
 * Two settings are read by the math libraries before main() runs, so they
 * are set here and the program starts again (once):
 * - OMP_WAIT_POLICY=PASSIVE: with libgomp's default spinning, FAISS's
 *   OpenMP threads and OpenBLAS's threads burn each other's cores (exact
 *   search measured 10-20x slower);
 * - OPENBLAS_NUM_THREADS=1: FAISS parallelises with OpenMP already, and
 *   OpenBLAS would start its threads before main() with every signal
 *   unblocked, so SIGTERM would kill the daemon instead of reaching its
 *   signalfd. Training measured faster this way too.
 * An operator's own values are kept.
 */
static void
prepare_math_libraries(char **argv)
{
    int  again = 0;

    if (getenv("OMP_WAIT_POLICY") == NULL) {
        again |= setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0;
    }
    if (getenv("OPENBLAS_NUM_THREADS") == NULL) {
        again |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    }
    if (again) {
        execv("/proc/self/exe", argv);
    }
    /* still correct without it, only slower */
}

int
main(int argc, char **argv)
{
    prepare_math_libraries(argv);

    if (argc < 2 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "help") == 0)
    {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("pattern-rt-engine %s\n", PRT_ENGINE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "unknown command: %s\n", argv[1]);
    usage();
    return 2;
}
