/*
 * `pattern-rt-engine replay` (docs/replay.md): posts the minute bars of
 * Polygon flat files to a running engine through nginx, the same ingest
 * path as a live feed (POST /api/pattern-realtime/bars), one batch per
 * market minute, paced N times faster than real time or as fast as the
 * engine takes them. With --scan it also starts scan jobs every few
 * minutes of market time and waits for them, which makes the run a
 * deterministic walk-forward backtest; at the end it prints the
 * engine's /performance for the whole record.
 */
#ifndef PRT_REPLAY_H
#define PRT_REPLAY_H

#include <stddef.h>

/* argv[0] == "replay". Returns the exit code: 0 done, 1 the engine could
 * not be reached or answered with an HTTP error (or a flat file is
 * damaged), 2 bad arguments. */
int prt_replay_command(int argc, char **argv);

#endif
