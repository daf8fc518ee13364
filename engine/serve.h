/*
 * `pattern-rt-engine serve`: the daemon (engine/serve.c). It builds every
 * part of the engine and wires them together: the request handlers
 * (api/), the callbacks between jobs, the tracker and the events.
 */
#ifndef PRT_SERVE_H
#define PRT_SERVE_H

int prt_serve_command(int argc, char **argv);
/* `pattern-rt-engine migrate --store CONNINFO`: creates or upgrades the
 * job store's schema on PostgreSQL (docs/scale-out.md). */
int prt_migrate_command(int argc, char **argv);

#endif
