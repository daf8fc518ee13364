# A private PostgreSQL 15 server for a benchmark (sourced after common.sh):
# initdb in a temporary directory, a unix socket there, fsync and
# synchronous_commit as PostgreSQL's defaults; as root it runs as the
# `postgres` user. Stopped and removed on exit.
#
#   pg_available || exit 0      says why and fails without PostgreSQL 15
#   pg_start                    the server; sets pg_dir, pg_user
#   pg_conninfo DB              a libpq connection string for database DB
#   pg_createdb DB              creates it (empty)
#   pg_psql DB SQL              runs SQL there; prints unaligned output

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
pg_dir=
pg_user=$(id -un)
as_pg=()

pg_available() {
    [ -x "$pg_bin/initdb" ] && return 0
    say "skipped: PostgreSQL 15 is not installed ($pg_bin/initdb)"
    return 1
}

pg_stop() {
    [ -n "$pg_dir" ] || return 0
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop \
        > /dev/null 2>&1 || true
    rm -rf "$pg_dir"
    pg_dir=
}

pg_start() {
    pg_dir=$(mktemp -d /tmp/prt-pgbench-XXXXXX)
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$pg_dir"
        as_pg=(runuser -u postgres --)
        pg_user=postgres
    fi
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U "$pg_user" -A trust \
        -E UTF8 --locale=C > "$pg_dir/initdb.log" 2>&1
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" \
        -w -o "-k $pg_dir -c listen_addresses= -p 5432" start > /dev/null
    say "postgres: $("$pg_bin/postgres" --version), unix socket, default fsync and synchronous_commit"
}

pg_conninfo() { echo "host=$pg_dir port=5432 user=$pg_user dbname=$1"; }

pg_psql() { "$pg_bin/psql" -X -q -A -t -d "$(pg_conninfo "$1")" -c "$2"; }

pg_createdb() { pg_psql postgres "CREATE DATABASE $1" > /dev/null; }
