#!/bin/bash
# Feed, verification and performance figures (docs/benchmarks.md "Feed,
# verification, performance"; SPEC 8):
#
#   1. ingest: one generated day (INGEST_TICKERS tickers, default 3000)
#      posted through nginx by `pattern-rt-engine replay --speed max`, one
#      batch per market minute as a live feed sends them, and as a bulk load
#      (--bulk: file order, batches of up to 10,000 events); bars/s and the
#      CPU seconds of the command, nginx's workers and the engine; then
#      the server alone: wrk posting one batch of 10,000 of those events
#      on 4 connections for DURATION (bars/s accepted, CPU);
#   2. one verification pass with 1,000,000 pending predictions of which
#      100,000 are due (state written by bench/verify_state.c through the
#      engine's own stores): the pass on its worker thread (read, verify,
#      commit: /health max_pass_ms and the engine's debug line, which also
#      gives each phase's time and the time its events took to render),
#      the longest /health answer while the loop thread publishes those
#      events, and the commit alone, timed on a copy of the state;
#   3. GET /performance?period=all over 1,000,000 predictions (100,000 and
#      1,000,000 of them verified) through nginx, RUNS times each.
#
#   bench/ingest.sh     INGEST_TICKERS (3000), RUNS (20), DURATION (10s),
#                       SKIP_INGEST (1: parts 2 and 3 only), BUILD, ENGINE,
#                       PORT, NGINX, BENCH_DIR (var/bench)
#
# Needs `make` first. Writes under $BENCH_DIR/run-ingest/ (removed at the
# start of the next run); the shared data set of the other scripts is not
# used.
set -euo pipefail

# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

tickers=${INGEST_TICKERS:-3000}
runs=${RUNS:-20}
batch_events=10000
duration=${DURATION:-10s}
port=${PORT:-$(free_port)}
url="http://127.0.0.1:$port"
work="$bench_dir/run-ingest"
helper="$work/verify_state"
trap stop_instance EXIT

# nginx with bodies up to 8 MB in memory (a bulk batch of 10,000 events is
# about 1.3 MB) and a long engine timeout, so that the verification stall
# below is measured rather than cut at 10 s
start_ingest_nginx() {
    start_nginx "$1" "$port" "client_max_body_size 8m;
        client_body_buffer_size 8m; pattern_rt_max_body 8m;
        pattern_rt_timeout 120s;"
}

# start_plain_engine DATA_DIR CLOCK [options]: returns once /health answers
# (no index needed here)
start_plain_engine() {
    local data=$1 clock=$2
    shift 2
    rm -f "$work/engine.sock"
    "$engine" serve --data-dir "$data" --socket "$work/engine.sock" \
        --clock "$clock" "$@" >> "$work/logs/engine.log" 2>&1 < /dev/null &
    engine_pid=$!
    for _ in $(seq 1200); do
        curl -fsS -o /dev/null "$url/health" 2>/dev/null && return 0
        kill -0 "$engine_pid" 2>/dev/null || break
        sleep 0.05
    done
    die "the engine did not come up; see $work/logs/engine.log"
}

# CPU seconds (user + system) used so far by the given processes
cpu_of() {
    local pid ticks=0
    for pid in "$@"; do
        ticks=$((ticks + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$ticks $(getconf CLK_TCK)" | awk '{ printf "%.2f", $1 / $2 }'
}

# timings PATH: RUNS requests; min / median / max
timings() {
    for _ in $(seq "$runs"); do
        curl -fsS -o /dev/null -w '%{time_total}\n' "$url$1"
    done | sort -n | awk '{ t[NR] = $1 * 1000 }
        END { printf "min %.1f ms, median %.1f ms, max %.1f ms (%d runs)",
                     t[1], t[int((NR + 1) / 2)], t[NR], NR }'
}

rm -rf "$work"
mkdir -p "$work/logs"
machine_header
bench_compile bench/verify_state.c "$helper"
start_ingest_nginx "$work"
echo

# ---- 1. ingest ---------------------------------------------------------------
if [ "${SKIP_INGEST:-0}" != 1 ]; then
echo "## ingest: one day of $tickers tickers through nginx"
say "data:    $engine generate --out $work/flat --tickers $tickers --days 1"
"$engine" generate --out "$work/flat" --tickers "$tickers" --days 1 \
    | sed 's/^/         /'
day=$(basename "$work"/flat/*.csv.gz .csv.gz)
for mode in minute bulk; do
    rm -rf "$work/data-$mode"
    mkdir -p "$work/data-$mode"
    start_plain_engine "$work/data-$mode" feed
    cmd=("$engine" replay --url "$url" --data "$work/flat" --from "$day"
         --speed max --quiet)
    [ "$mode" = bulk ] && cmd+=(--bulk --batch 10000 --max-body 8m)
    wait_quiet "the $mode replay"
    say "run:     ${cmd[*]}"
    workers=$(pgrep -P "$(cat "$work/logs/nginx.pid")" | tr '\n' ' ')
    # shellcheck disable=SC2086
    n0=$(cpu_of $workers)
    e0=$(cpu_of "$engine_pid")
    /usr/bin/time -f '%U %S' -o "$work/replay.time" "${cmd[@]}" 2>&1 \
        | grep '^replay:' | sed 's/^/         /'
    # shellcheck disable=SC2086
    say "         cpu: the command $(awk '{ printf "%.2f", $1 + $2 }' "$work/replay.time") s," \
        "nginx workers $(echo "$(cpu_of $workers) $n0" | awk '{ printf "%.2f", $1 - $2 }') s," \
        "engine $(echo "$(cpu_of "$engine_pid") $e0" | awk '{ printf "%.2f", $1 - $2 }') s"
    say "         engine: $(curl -fsS "$url/health" | json '"%d bars ingested, %d stored" % (j["feed"]["bars_ingested"], j["bars"]["bars"])')"
    stop_engine
done
echo

# ---- 1b. the server alone ------------------------------------------------------
# The replay command above shares the 2 cores with the server and spends
# a third of them building its JSON; wrk posting one ready batch over and
# over measures what nginx and the engine take in.
echo "## ingest: the server alone, one batch of $batch_events events posted by wrk"
"$python" - "$work"/flat/*.csv.gz "$batch_events" > "$work/batch.json" <<'PY'
import gzip, json, sys
events = []
with gzip.open(sys.argv[1], "rt") as f:
    next(f)
    for line in f:
        t, v, o, c, h, l, ns = line.strip().split(",")[:7]
        s = int(ns) // 1000000
        events.append({"ev": "AM", "sym": t, "v": float(v), "o": float(o),
                       "c": float(c), "h": float(h), "l": float(l),
                       "s": s, "e": s + 60000})
        if len(events) == int(sys.argv[2]):
            break
json.dump(events, sys.stdout, separators=(",", ":"))
PY
rm -rf "$work/data-wrk"
mkdir -p "$work/data-wrk"
start_plain_engine "$work/data-wrk" feed
wait_quiet "the wrk ingest"
workers=$(pgrep -P "$(cat "$work/logs/nginx.pid")" | tr '\n' ' ')
# shellcheck disable=SC2086
n0=$(cpu_of $workers)
e0=$(cpu_of "$engine_pid")
say "run:     BODY=batch.json wrk -t2 -c4 -d${duration} -s bench/lib/post_body.lua $url/api/pattern-realtime/bars"
BODY="$work/batch.json" wrk -t2 -c4 -d"$duration" -s bench/lib/post_body.lua \
    "$url/api/pattern-realtime/bars" > "$work/wrk.out"
rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
say "         $(grep '^requests' "$work/wrk.out"); $rps requests/s = $(echo "$rps $batch_events" | awk '{ printf "%.0f", $1 * $2 }') bars/s"
# shellcheck disable=SC2086
say "         cpu: nginx workers $(echo "$(cpu_of $workers) $n0" | awk '{ printf "%.2f", $1 - $2 }') s," \
    "engine $(echo "$(cpu_of "$engine_pid") $e0" | awk '{ printf "%.2f", $1 - $2 }') s in $duration"
stop_engine
echo
fi

# ---- 2. verification pass ------------------------------------------------------
echo "## verification: 1,000,000 pending, 100,000 due"
say "state:   $helper pending $work/data-pending"
clock=$("$helper" pending "$work/data-pending" | sed -n 's/^clock //p')
cp -a "$work/data-pending" "$work/data-commit"
# written out now, so that the commit's sync below does not also write
# the copy
sync "$work/data-commit/store/data.mdb"
wait_quiet "the verification pass"
start_plain_engine "$work/data-pending" "$clock" --log_level debug
say "run:     $engine serve --data-dir $work/data-pending --clock $clock --log_level debug  (the timer's first pass)"
# /health is answered by the loop thread, which also publishes the pass's
# events (in slices): the slowest answer while waiting shows the stall
slowest=0
for _ in $(seq 3000); do
    t=$(curl -sS -m 150 -o "$work/health.json" -w '%{time_total}' \
             "$url/health" || echo 0)
    slowest=$(echo "$t $slowest" | awk '{ print ($1 > $2) ? $1 : $2 }')
    [ "$(json '1 if j["verification"]["verified"] >= 100000 else 0' \
         < "$work/health.json")" = 1 ] && break
    sleep 0.02
done
json '"         pass (worker thread): max_pass_ms %s; verified %d, pending now %d" % (j["verification"]["max_pass_ms"], j["verification"]["verified"], j["store"]["pending"])' \
    < "$work/health.json"
grep -o 'verified [0-9]* predictions ([0-9]* checked) in [0-9]* us, events rendered in [0-9]* us.*' \
    "$work/logs/engine.log" | head -n 1 | sed 's/^/         engine log: /'
say "         slowest /health answer meanwhile (events published on the loop thread): $(echo "$slowest" | awk '{ printf "%.0f ms", $1 * 1000 }')"
echo

# ---- 3. performance -------------------------------------------------------------
echo "## performance over 1,000,000 predictions"
say "run:     curl $url/api/pattern-realtime/performance?period=all  ($runs times)"
say "         100,000 verified:   $(timings /api/pattern-realtime/performance?period=all)"
stop_engine
say "         the store's part (every prediction by scan time, $helper read): $("$helper" read "$work/data-pending")"
say "state:   $helper verified $work/data-verified"
"$helper" verified "$work/data-verified" > /dev/null
start_plain_engine "$work/data-verified" "$clock"
say "         1,000,000 verified: $(timings /api/pattern-realtime/performance?period=all)"
stop_engine
say "         the store's part: $("$helper" read "$work/data-verified")"
echo

echo "## the commit of that pass alone, on a copy of the pending state"
say "run:     $helper commit $work/data-commit"
"$helper" commit "$work/data-commit" | sed 's/^/         /'
