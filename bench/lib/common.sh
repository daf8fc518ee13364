# shellcheck shell=bash
# Sourced by the bench/*.sh scripts (bash): paths, the machine header, one
# engine + nginx instance, JSON helpers, wrk output, helper programs, and
# the benchmark data set in $BENCH_DIR (default var/bench/), generated and
# built once and then reused by every script.
#
# The data set (docs/benchmarks.md "Index"):
#   flat/        `generate --tickers $BENCH_TICKERS --days $BENCH_DAYS`
#   history/     links to every day but the last: the indexed days
#   scanday/     a link to the last day: the day scans and searches run on
#   index-data/  build-index of history/: the >= 10M-pattern index (its
#                bars/ hold the history days and are not used)
#   day-data/    build-index of scanday/ with --factory Flat: the scan day's
#                bars, and its vectors.bin = held-out query vectors
#   serve-NAME/  an engine data directory per script: index -> the index of
#                index-data/, bars -> the bars of day-data/, its own store/
# so a scan at a fixed clock on the last day finds every symbol's bars and
# an index of the days before it, as a live scan would.

bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$bench_top" || exit 2

bench_abs() { case "$1" in /*) echo "$1" ;; *) echo "$bench_top/$1" ;; esac; }

build=$(bench_abs "${BUILD:-build}")
engine=$(bench_abs "${ENGINE:-$build/pattern-rt-engine}")
module=$(bench_abs "${MODULE:-$build/nginx/ngx_http_pattern_rt_module.so}")
nginx=${NGINX:-/usr/sbin/nginx}
bench_dir=$(bench_abs "${BENCH_DIR:-var/bench}")
python=/usr/bin/python3
[ -x "$python" ] || python=python3

BENCH_TICKERS=${BENCH_TICKERS:-10000}
BENCH_DAYS=${BENCH_DAYS:-8}
BENCH_SEED=${BENCH_SEED:-1}
# the scan and search instant on the scan day, New York time
BENCH_SCAN_TIME=${BENCH_SCAN_TIME:-15:45}

for f in "$engine" "$module"; do
    [ -e "$f" ] || { echo "$f is missing: run make first" >&2; exit 2; }
done

say() { printf '%s\n' "$*"; }
die() { printf '%s\n' "$*" >&2; exit 1; }

# ---- the machine -------------------------------------------------------------

load_avg() { cut -d ' ' -f 1-3 /proc/loadavg; }

machine_header() {
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    say "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
    say "machine: $(nproc) cores, ${cpu:-unknown cpu}, $(uname -sr)," \
        "$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)"
    say "load:    $(load_avg) (1/5/15 min)"
}

# Waits up to BENCH_QUIET_WAIT seconds (default 30) for the 1-minute load
# average to drop below 1, then prints it for the figures that follow. A
# shared machine may never get there: the figures are taken anyway and the
# load printed with them says how far to trust them.
wait_quiet() {
    local what=$1 waited=0 limit=${BENCH_QUIET_WAIT:-30}
    while [ "$waited" -lt "$limit" ] \
          && awk '{ exit !($1 >= 1) }' /proc/loadavg; do
        sleep 5
        waited=$((waited + 5))
    done
    say "load before $what: $(load_avg)$(awk '$1 >= 1 { printf " (busy: figures are pessimistic)" }' /proc/loadavg)"
}

# ---- JSON --------------------------------------------------------------------

# json EXPR < JSON: a Python expression over j, printed (None as null)
json() {
    "$python" -c 'import json, sys
j = json.load(sys.stdin)
v = eval(sys.argv[1])
print("null" if v is None else v)' "$1"
}

# ---- instances ---------------------------------------------------------------

free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

engine_pid=
nginx_prefix=
stop_instance() {
    if [ -n "$nginx_prefix" ] && [ -f "$nginx_prefix/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$nginx_prefix/logs/nginx.pid")" 2>/dev/null || true
        rm -f "$nginx_prefix/logs/nginx.pid"
    fi
    stop_engine
}
stop_engine() {
    if [ -n "$engine_pid" ]; then
        kill -TERM "$engine_pid" 2>/dev/null || true
        wait "$engine_pid" 2>/dev/null || true
        engine_pid=
    fi
}

# serve_dir NAME: a fresh engine data directory over the shared index and
# the scan day's bars (see the top of this file); prints its path
serve_dir() {
    local d="$bench_dir/serve-$1"
    rm -rf "$d"
    mkdir -p "$d"
    ln -s ../index-data/index "$d/index"
    ln -s ../day-data/bars "$d/bars"
    echo "$d"
}

# start_nginx PREFIX PORT [SERVER_DIRECTIVES]: nginx with the module on /
# and the files of PREFIX/static/ on /static/ (the static baselines).
# SERVER_DIRECTIVES replace the default body limits: a job of 10,000
# symbols is an 80 KB body, kept in memory.
start_nginx() {
    local prefix=$1 port=$2 user=
    local server_conf=${3:-"client_max_body_size 2m; client_body_buffer_size 1m;"}
    nginx_prefix=$prefix
    [ "$(id -u)" -eq 0 ] && user="user root;"
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/temp" "$prefix/static"
    cat > "$prefix/conf/nginx.conf" <<EOF
load_module $module;
worker_processes 2;
error_log logs/error.log warn;
pid logs/nginx.pid;
$user
events { worker_connections 4096; }
http {
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    access_log off;
    pattern_rt_engine $prefix/engine.sock;
    server {
        listen 127.0.0.1:$port;
        $server_conf
        location / {
            pattern_rt_api;
        }
        location /static/ {
            alias $prefix/static/;
            default_type application/json;
        }
    }
}
EOF
    "$nginx" -p "$prefix" -c conf/nginx.conf -e logs/error.log
}

# start_engine DATA_DIR PREFIX PORT CLOCK [engine options]: the engine on
# PREFIX/engine.sock; returns once /health through nginx shows the index
start_engine() {
    local data=$1 prefix=$2 port=$3 clock=$4
    shift 4
    rm -f "$prefix/engine.sock"
    "$engine" serve --data-dir "$data" --socket "$prefix/engine.sock" \
        --clock "$clock" "$@" >> "$prefix/logs/engine.log" 2>&1 < /dev/null &
    engine_pid=$!
    for _ in $(seq 1200); do
        if curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null \
           | json '1 if j["index"] else 0' 2>/dev/null | grep -qx 1; then
            return 0
        fi
        kill -0 "$engine_pid" 2>/dev/null || break
        sleep 0.05
    done
    die "the engine did not come up with its index; see $prefix/logs/engine.log"
}

# rss_line PID: resident memory of a process, from /proc/PID/status
rss_line() {
    awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { v[$1] = $2 }
         END { printf "RSS %.0f MB (anonymous %.0f MB, mapped files %.0f MB, shared memory %.0f MB)",
                      v["VmRSS:"] / 1024, v["RssAnon:"] / 1024,
                      v["RssFile:"] / 1024, v["RssShmem:"] / 1024 }' \
        "/proc/$1/status"
}

# index_files_mb: size of the served index generation, every file
index_files_mb() {
    du -bL "$bench_dir/index-data/index/current" \
        | awk '{ printf "%.0f", $1 / 1048576 }'
}

# memory_verdict PID: its RSS against SPEC 8 (index + metadata + 200 MB)
memory_verdict() {
    local files
    files=$(index_files_mb)
    awk -v f="$files" '/^VmRSS:/ { r = $2 / 1024 }
        END { printf "RSS %.0f MB vs index files %d MB + 200 MB = %d MB: %s\n",
                     r, f, f + 200, (r <= f + 200 ? "met" : "not met") }' \
        "/proc/$1/status"
}

# ---- jobs --------------------------------------------------------------------

# run_job URL SYMBOLS_FILE K: POST /run with the file's symbols (one per
# line); prints the job id
run_job() {
    local url=$1 file=$2 k=$3
    "$python" -c 'import json, sys
syms = [s.strip() for s in open(sys.argv[1]) if s.strip()]
print(json.dumps({"symbols": syms, "k": int(sys.argv[2]), "horizon": 10}))' \
        "$file" "$k" \
    | curl -fsS -H 'Content-Type: application/json' --data-binary @- \
        "$url/api/pattern-realtime/run" | json 'j["job_id"]'
}

# wait_jobs_idle URL: until /health says no job is running (polled every
# 0.1 s: the job's own timestamps give its time, the poll only has to
# notice the end without taking the engine's CPU)
wait_jobs_idle() {
    local url=$1
    for _ in $(seq 1200); do
        sleep 0.1
        [ "$(curl -fsS "$url/health" | json 'j["jobs"]["running"]')" = 0 ] \
            && return 0
    done
    die "a job still runs after 120 s"
}

# ---- the data set ------------------------------------------------------------

flat_stamp() {
    echo "generate --tickers $BENCH_TICKERS --days $BENCH_DAYS --seed $BENCH_SEED"
}

# The generated flat files and the history/ + scanday/ links (the files
# are deterministic: kept while the parameters are the same).
bench_flat() {
    local flat="$bench_dir/flat" f
    if [ "$(cat "$flat/.stamp" 2>/dev/null)" != "$(flat_stamp)" ]; then
        rm -rf "$flat" "$bench_dir"/index-data* "$bench_dir"/day-data*
        mkdir -p "$bench_dir"
        say "data:    $engine $(flat_stamp) --out $flat"
        "$engine" generate --out "$flat" --tickers "$BENCH_TICKERS" \
            --days "$BENCH_DAYS" --seed "$BENCH_SEED" | sed 's/^/         /'
        flat_stamp > "$flat/.stamp"
    fi
    rm -rf "$bench_dir/history" "$bench_dir/scanday"
    mkdir -p "$bench_dir/history" "$bench_dir/scanday"
    for f in "$flat"/*.csv.gz; do
        ln -s "../flat/${f##*/}" "$bench_dir/history/"
    done
    for f in "$flat"/*.csv.gz; do :; done       # the last day (glob order)
    mv "$bench_dir/history/${f##*/}" "$bench_dir/scanday/"
    scan_day=$(basename "$f" .csv.gz)
}

day_stamp() {
    echo "$(flat_stamp); $("$engine" --version)"
}

index_stamp() {
    echo "$(day_stamp)${BENCH_FACTORY:+; $BENCH_FACTORY}"
}

# build_history_index: the >= 10M-pattern index (BENCH_FACTORY: another
# index kind than build-index's default), timed; the output of
# build-index and of /usr/bin/time -v is kept in index-data.log for
# bench/index.sh
build_history_index() {
    local out="$bench_dir/index-data" log="$bench_dir/index-data.log"
    rm -rf "$out" "$log" "$bench_dir/index-data.stamp"
    {
        say "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
        say "load:    $(load_avg) (1/5/15 min, before the build)"
        say "run:     /usr/bin/time -v $engine build-index --data $bench_dir/history --out $out${BENCH_FACTORY:+ --factory $BENCH_FACTORY}"
    } > "$log"
    /usr/bin/time -v "$engine" build-index --data "$bench_dir/history" \
        --out "$out" ${BENCH_FACTORY:+--factory "$BENCH_FACTORY"} >> "$log" 2>&1 \
        || { tail -n 30 "$log" >&2; die "build-index failed (log: $log)"; }
    say "load:    $(load_avg) (1/5/15 min, after the build)" >> "$log"
    index_stamp > "$bench_dir/index-data.stamp"
}

# the scan day's bars (and held-out vectors): a flat index skips training
build_scan_day() {
    local out="$bench_dir/day-data"
    rm -rf "$out" "$bench_dir/day-data.stamp"
    "$engine" build-index --data "$bench_dir/scanday" --out "$out" \
        --factory Flat > "$bench_dir/day-data.log" 2>&1 \
        || { tail -n 20 "$bench_dir/day-data.log" >&2; die "build-index of the scan day failed"; }
    day_stamp > "$bench_dir/day-data.stamp"
}

# bench_data [rebuild]: everything above, built when missing or made from
# other parameters or by another engine version; "rebuild" rebuilds the
# big index in any case (bench/index.sh measures that build)
bench_data() {
    bench_flat
    if [ "${1:-}" = rebuild ] \
       || [ "$(cat "$bench_dir/index-data.stamp" 2>/dev/null)" != "$(index_stamp)" ]; then
        say "data:    building the index of $bench_dir/history (minutes)"
        build_history_index
    fi
    if [ "$(cat "$bench_dir/day-data.stamp" 2>/dev/null)" != "$(day_stamp)" ]; then
        build_scan_day
    fi
}

# The instant of BENCH_SCAN_TIME (New York) on the scan day, ISO UTC
scan_clock() {
    TZ=UTC date -d "TZ=\"America/New_York\" $scan_day $BENCH_SCAN_TIME" \
        '+%Y-%m-%dT%H:%M:%SZ'
}

# The scan day's tickers in file order (sorted by name), one per line, in
# a file (read whole: `head` on the pipe would fail it under pipefail)
scan_day_tickers() {
    local list="$bench_dir/scanday/tickers.txt"
    if [ ! -s "$list" ]; then
        zcat "$bench_dir/scanday/$scan_day.csv.gz" | sed 1d | cut -d, -f1 \
            | uniq > "$list.tmp"
        mv "$list.tmp" "$list"
    fi
    echo "$list"
}

# ---- helper programs ---------------------------------------------------------

# bench_compile SOURCE OUTPUT: a bench program linked with the engine's
# objects, as the Makefile links the unit tests, and OUTPUT-avx2 linked with
# FAISS's AVX2 library where install-deps built it (the program hands over
# to it at start as the engine does, docs/build.md); prints the command
bench_compile() {
    local src=$1 out=$2 objs f o avx2
    avx2=${FAISS_CACHE:-${PRT_CACHE:-/var/cache/pattern-rt}/faiss-1.7.3-2}/avx2/libfaiss_avx2.a
    objs=
    # faiss_ext is linked below, in the variant of each FAISS library
    for f in engine/*.c engine/*/*.c engine/*/*.cpp tools/*.c common/*.c; do
        o="$build/${f%.*}.o"
        case "$f" in
        engine/main.c|engine/index/faiss_ext.cpp) ;;
        *) objs="$objs $o" ;;
        esac
    done
    mkdir -p "$(dirname "$out")"
    _bench_link "$src" "$out" $objs "$build/engine/index/faiss_ext.o" \
        "$build/libfaiss_c.a" /usr/lib/x86_64-linux-gnu/libfaiss.a
    if [ -f "$avx2" ] && [ -f "$build/avx2/engine/index/faiss_ext.o" ]; then
        _bench_link "$src" "$out-avx2" $objs \
            "$build/avx2/engine/index/faiss_ext.o" "$build/libfaiss_c.a" "$avx2"
    else
        rm -f "$out-avx2"
    fi
    say "build:   cc -O2 ... -o $out $src <engine objects but main.o> <FAISS, OpenBLAS, LMDB, ...> (as make unit links; $out-avx2 with FAISS's AVX2 library)"
}

_bench_link() {
    local src=$1 out=$2
    shift 2
    # shellcheck disable=SC2086,SC2046
    ${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow \
        -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter -D_GNU_SOURCE -pthread -Iinclude -Iengine -I. \
        $(pkg-config --cflags lmdb yajl libpq) -o "$out" "$src" "$@" -fopenmp \
        -lopenblas -llapack $(pkg-config --libs lmdb yajl libpcre2-8 openssl zlib libcurl libpq) \
        -lstdc++ -lm -pthread
}

# ---- wrk ---------------------------------------------------------------------

# wrk_figures FILE: "requests rps p50_ms p99_ms bad" from wrk --latency
# output (bad = non-2xx/3xx responses + socket errors)
wrk_figures() {
    awk 'function ms(v) {
             if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
             if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
             if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
             if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
             return v + 0
         }
         $1 == "50%" { p50 = ms($2) }
         $1 == "99%" { p99 = ms($2) }
         / requests in / { n = $1 }
         /^Requests\/sec:/ { rps = $2 }
         /Non-2xx or 3xx responses:/ { bad += $NF }
         /Socket errors:/ { for (i = 3; i <= NF; i += 2) bad += $(i + 1) }
         END { printf "%d %.0f %.3f %.3f %d\n", n, rps, p50, p99, bad }' "$1"
}
