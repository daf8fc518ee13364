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

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
runs=${RUNS:-1}
work="$bench_dir/run-store"
helper="$work/store_bench"

if [ ! -x "$pg_bin/initdb" ]; then
    say "store: skipped, PostgreSQL 15 is not installed ($pg_bin/initdb)"
    exit 0
fi

pg_dir=$(mktemp -d /tmp/prt-pgbench-XXXXXX)
as_pg=()
pg_user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$pg_dir"
    as_pg=(runuser -u postgres --)
    pg_user=postgres
fi
stop_pg() {
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop \
        > /dev/null 2>&1 || true
    rm -rf "$pg_dir"
}
trap stop_pg EXIT

rm -rf "$work"
mkdir -p "$work"
machine_header
bench_compile bench/store_bench.c "$helper"
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U "$pg_user" -A trust \
    -E UTF8 --locale=C > "$work/initdb.log" 2>&1
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
    -o "-k $pg_dir -c listen_addresses= -p 5432" start > /dev/null
say "postgres: $("$pg_bin/postgres" --version), unix socket, default fsync and synchronous_commit"
echo

for run in $(seq 1 "$runs"); do
    db="bench$run"
    conninfo="host=$pg_dir port=5432 user=$pg_user dbname=$db"
    "$pg_bin/psql" -X -q -d "host=$pg_dir port=5432 user=$pg_user dbname=postgres" \
        -c "CREATE DATABASE $db" > /dev/null
    "$engine" migrate --store "$conninfo" > /dev/null
    "$helper" lmdb "$work/lmdb-$run" > "$work/lmdb-$run.txt"
    "$helper" pg "$conninfo" > "$work/pg-$run.txt"
    say "run $run (seconds)"
    printf '%-11s %10s %12s %8s\n' step lmdb postgresql ratio
    join "$work/lmdb-$run.txt" "$work/pg-$run.txt" \
        | awk '{ printf "%-11s %10.3f %12.3f %7.1fx\n", $1, $2, $3, $3 / $2 }'
    say "size:   lmdb $(du -sm "$work/lmdb-$run" | cut -f1) MB," \
        "postgresql $("$pg_bin/psql" -X -A -t -d "$conninfo" \
            -c "SELECT pg_database_size('$db') / 1048576") MB"
    echo
done
