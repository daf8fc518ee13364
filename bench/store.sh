#!/bin/bash
# The job store, LMDB against PostgreSQL on the same machine
# (docs/benchmarks.md "Job store: LMDB and PostgreSQL", docs/scale-out.md):
# bench/store_bench.c through the engine's store API, once on a fresh LMDB
# environment and once on a fresh, migrated PostgreSQL database of a
# private server (initdb in a temporary directory, a unix socket there,
# fsync and synchronous_commit as PostgreSQL's defaults; as root run as
# the `postgres` user). Prints seconds per step, both backends side by side.
#
#   bench/store.sh        RUNS (default 1), PG_BIN (/usr/lib/postgresql/15/bin)
#
# Needs `make` first. Skips, saying so, without PostgreSQL 15.
set -euo pipefail

# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

# shellcheck source=bench/lib/pg.sh
. "$(dirname "$0")/lib/pg.sh"

runs=${RUNS:-1}
work="$bench_dir/run-store"
helper="$work/store_bench"

pg_available || exit 0
trap pg_stop EXIT

rm -rf "$work"
mkdir -p "$work"
machine_header
bench_compile bench/store_bench.c "$helper"
pg_start
echo

for run in $(seq 1 "$runs"); do
    db="bench$run"
    conninfo=$(pg_conninfo "$db")
    pg_createdb "$db"
    "$engine" migrate --store "$conninfo" > /dev/null
    "$helper" lmdb "$work/lmdb-$run" > "$work/lmdb-$run.txt"
    "$helper" pg "$conninfo" > "$work/pg-$run.txt"
    say "run $run (seconds)"
    printf '%-11s %10s %12s %8s\n' step lmdb postgresql ratio
    join "$work/lmdb-$run.txt" "$work/pg-$run.txt" \
        | awk '{ printf "%-11s %10.3f %12.3f %7.1fx\n", $1, $2, $3, $3 / $2 }'
    say "size:   lmdb $(du -sm "$work/lmdb-$run" | cut -f1) MB," \
        "postgresql $(pg_psql "$db" "SELECT pg_database_size('$db') / 1048576") MB"
    echo
done
