/*
 * pattern-rt-engine: the engine daemon (serve.c) and its offline commands
 * (the index builds in index/, the tools in the top-level tools/). Each
 * command gets argv starting at its own name. The one place where the
 * daemon and the tools meet: nothing under engine/ includes tools/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mathenv.h"
#include "core/version.h"
#include "index/build.h"
#include "index/faiss.h"
#include "serve.h"
#include "tools/calendar.h"
#include "tools/generate.h"
#include "tools/replay.h"
#include "tools/token.h"

typedef struct {
    const char  *name;
    int        (*run)(int argc, char **argv);
    const char  *help;
} prt_command_t;

static const prt_command_t commands[] = {
    { "serve", prt_serve_command, "run the engine daemon" },
    { "migrate", prt_migrate_command,
      "create or upgrade the job store's schema on PostgreSQL (--store)" },
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

int
main(int argc, char **argv)
{
    prt_math_environment(argv, prt_faiss_library());

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
