/*
 * The index commands (index/build.c, docs/index.md):
 *   pattern-rt-engine build-index  --data FLATDIR --out DATADIR [options]
 *   pattern-rt-engine update-index --data FLATDIR --out DATADIR
 */
#ifndef PRT_BUILD_H
#define PRT_BUILD_H

int prt_build_index_command(int argc, char **argv);
int prt_update_index_command(int argc, char **argv);

#endif
