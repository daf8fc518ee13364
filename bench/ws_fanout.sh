#!/bin/bash
# WebSocket fan-out, Pattern Real-Time against nchan on the same machine
# (SPEC 8: 10,000 subscribers, one event, all delivered <= 50 ms p99 and
# >= nchan; docs/benchmarks.md "WebSocket fan-out").
#
#   bench/ws_fanout.sh      CLIENTS (10000) EVENTS (20) BURST (50) GAP (200 ms)
#                           RUNS (3) PORT (18470; nchan listens on PORT+1)
#                           BUILD (build) NGINX (/usr/sbin/nginx)
#
# Ours: a local instance started as `make start` does (scripts/pattern-rt,
# demo data, feed clock, its data under var/PORT/), whose nginx is replaced
# by one with the limits 10,000 connections need (the config is derived
# from conf/nginx.local.conf.in into a temporary directory). One job scans
# the demo's most traded symbol at 10:30 New York time of the last indexed
# day; every subscriber subscribes to that job; each event is a POST of one
# corrected 10:29 bar for the symbol, which makes the engine publish one
# price_update event for the job's open prediction.
# nchan: Debian's module in a second nginx with the same worker count and
# limits, `nchan_subscriber websocket` on /sub and `nchan_publisher` on
# /pub, events of the same shape and size POSTed by the same client.
#
# bench/ws_load.c is the load client (built here); each run restarts both
# nginx (a fresh baseline for the memory figure) and measures them one
# after the other, alternating which goes first. Prints the machine, the
# commands, one line per run and the comparison table.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$top/$1" ;; esac; }
build=$(abs "${BUILD:-build}")
engine="$build/pattern-rt-engine"
module="$build/nginx/ngx_http_pattern_rt_module.so"
nchan_so=/usr/lib/nginx/modules/ngx_nchan_module.so
nginx=${NGINX:-/usr/sbin/nginx}
clients=${CLIENTS:-10000}
events=${EVENTS:-20}
burst=${BURST:-50}
gap=${GAP:-200}
runs=${RUNS:-3}
port=${PORT:-18470}
nport=$((port + 1))
url="http://127.0.0.1:$port"
inst="$top/var/$port"
client="$build/bench/ws_load"

say() { printf '%s\n' "$*"; }
fail() { say "ws_fanout: $*" >&2; exit 1; }

for f in "$engine" "$module"; do
    [ -e "$f" ] || fail "$f is missing: run make first"
done
[ -e "$nchan_so" ] \
    || fail "$nchan_so is missing: apt-get install libnginx-mod-nchan"
# an instance left on this port by an interrupted earlier run
scripts/pattern-rt stop --port "$port" > /dev/null 2>&1 || true
for p in "$port" "$nport"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        fail "port $p is in use: set PORT"
    fi
done

# 10,000 sockets in the client and up to as many in one nginx worker: raise
# the soft limit to the hard one (without CAP_SYS_RESOURCE that is the
# most we get) and size nginx from it.
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then
    nofile=65536
fi
ulimit -n "$nofile"
[ "$nofile" -ge $((clients + 200)) ] \
    || fail "open files limit $nofile is too low for $clients clients"
worker_connections=$((nofile - 100))

work=$(mktemp -d "${TMPDIR:-/tmp}/ws_fanout.XXXXXX")
keep="$build/bench/ws_fanout"      # configs and raw results, kept
mkdir -p "$keep"

# ---- the load client -------------------------------------------------------

compile="${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE"
compile="$compile -o $client bench/ws_load.c -lcrypto -lm"
$compile

# ---- servers -----------------------------------------------------------------

user=
[ "$(id -u)" -eq 0 ] && user="user root;"

wait_for() {   # wait_for SECONDS DESCRIPTION COMMAND...
    local t=$1 what=$2
    shift 2
    for _ in $(seq $((t * 20))); do
        "$@" && return 0
        sleep 0.05
    done
    fail "timed out waiting for $what"
}

nginx_start() {   # nginx_start PREFIX
    mkdir -p "$1/logs" "$1/temp"
    "$nginx" -p "$1" -c conf/nginx.conf -e logs/error.log
    wait_for 10 "nginx in $1" test -s "$1/logs/nginx.pid"
}

nginx_stop() {   # nginx_stop PREFIX
    local pid
    [ -s "$1/logs/nginx.pid" ] || return 0
    pid=$(cat "$1/logs/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    wait_for 20 "nginx $pid to exit" sh -c "! kill -0 $pid 2>/dev/null"
    rm -f "$1/logs/nginx.pid"
}

workers_of() {   # comma-separated worker pids of the nginx in PREFIX
    local pids
    for _ in $(seq 100); do
        pids=$(pgrep -P "$(cat "$1/logs/nginx.pid")" | paste -sd, -)
        [ "$(echo "$pids" | tr ',' '\n' | grep -c .)" -eq 2 ] && break
        sleep 0.05
    done
    echo "$pids"
}

cleanup() {
    nginx_stop "$work/ours" 2>/dev/null || true
    nginx_stop "$work/nchan" 2>/dev/null || true
    scripts/pattern-rt stop --port "$port" > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The bench's nginx for our module: the local template with room for the
# connections, both logs quiet as for nchan.
ours_conf() {
    local conf="$work/ours/conf/nginx.conf" want
    local limits="worker_processes 2;\nworker_rlimit_nofile $nofile;"
    local conns="worker_connections $worker_connections;"
    local ws_max="\1\n    pattern_rt_ws_max_connections $clients;"

    mkdir -p "$work/ours/conf"
    sed -e "s|@PREFIX@|$work/ours|g" -e "s|@MODULE@|$module|g" \
        -e "s|@SOCKET@|$inst/data/engine.sock|g" -e "s|@PORT@|$port|g" \
        -e "s|@USER@|$user|g" -e "s|@LISTEN@|127.0.0.1|g" \
        -e "s|^worker_processes .*|$limits|" \
        -e "s|worker_connections [0-9]*;|$conns|" \
        -e "s|error_log \([^ ]*\) [a-z]*;|error_log \1 warn;|" \
        -e "s|access_log logs/access.log;|access_log off;|" \
        -e "s|\(pattern_rt_engine .*;\)|$ws_max|" \
        conf/nginx.local.conf.in > "$conf"
    for want in "worker_rlimit_nofile $nofile;" "$conns" \
                "pattern_rt_ws_max_connections $clients;" "access_log off;" \
                "error_log logs/error.log warn;" \
                "location = /ws/pattern-realtime" \
                "location = /api/pattern-realtime/bars"
    do
        grep -qF "$want" "$conf" || fail "conf/nginx.local.conf.in changed:" \
                                         "no \"$want\" in the bench config"
    done
}

nchan_conf() {
    mkdir -p "$work/nchan/conf"
    cat > "$work/nchan/conf/nginx.conf" <<EOF
load_module $nchan_so;
worker_processes 2;
worker_rlimit_nofile $nofile;
error_log logs/error.log warn;
pid logs/nginx.pid;
$user

events {
    worker_connections $worker_connections;
}

http {
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    access_log off;

    server {
        listen 127.0.0.1:$nport;

        location = /pub {
            nchan_publisher;
            nchan_channel_id fanout;
        }

        location = /sub {
            nchan_subscriber websocket;
            nchan_channel_id fanout;
            nchan_subscriber_first_message newest;
        }
    }
}
EOF
}

# Both workers must have their engine connection before 10,000 subscribes.
engine_connected() {
    local health
    for _ in 1 2 3 4 5 6 7 8; do
        health=$(curl -fsS "$url/health" 2>/dev/null) || return 1
        case "$health" in
            *'"engine_connected":true'*) ;;
            *) return 1 ;;
        esac
    done
}

# ---- our instance, the job and its symbol ------------------------------------

scripts/pattern-rt start --port "$port" --clock feed > "$work/start.log" 2>&1 \
    || { cat "$work/start.log" >&2; fail "scripts/pattern-rt start failed"; }
nginx_stop "$inst"          # the template's nginx: the bench's replaces it
ours_conf
nchan_conf
nginx_start "$work/ours"
wait_for 20 "the engine connection" engine_connected

day=$(curl -fsS "$url/api/available-dates" | jq -r .last)
flat="$top/var/demo/history/$day.csv.gz"
[ -f "$flat" ] || fail "no flat file $flat for the last indexed day"
symbol=$(zcat "$flat" | awk -F, 'NR > 1 { n[$1]++ }
    END { for (s in n) if (n[s] > best) { best = n[s]; top = s }; print top }')
bar_s=$(( $(TZ=America/New_York date -d "$day 10:29" +%s) * 1000 ))

# The symbol's 10:29 bar from the flat file (the runs change the stored
# one, and it is put back from here at the end), posted as a live bar: the
# feed clock moves to 10:30. (Times stay strings: mawk prints 13-digit
# numbers in exponent form.)
bar=$(zcat "$flat" | awk -F, -v sym="$symbol" -v s="$bar_s" \
                         -v e="$((bar_s + 60000))" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["ticker"] == sym && $col["window_start"] == s "000000" {
        printf "[{\"ev\":\"AM\",\"sym\":\"%s\",\"v\":%s,", sym, $col["volume"]
        printf "\"o\":%s,\"h\":%s,", $col["open"], $col["high"]
        printf "\"l\":%s,\"c\":%s,\"s\":%s,\"e\":%s}]\n", $col["low"],
               $col["close"], s, e
    }')
[ -n "$bar" ] || fail "$symbol has no 10:29 bar on $day in $flat"
curl -fsS -X POST -H 'Content-Type: application/json' -d "$bar" \
    "$url/api/pattern-realtime/bars" | jq -e '.accepted == 1' > /dev/null \
    || fail "the clock bar for $symbol was not accepted"

job=$(curl -fsS -X POST -H 'Content-Type: application/json' \
           -d "{\"symbols\":[\"$symbol\"]}" "$url/api/pattern-realtime/run" \
      | jq -r .job_id)
job_done() {
    curl -fsS "$url/api/pattern-realtime/job/$job" \
        | jq -e '.status != "running"' > /dev/null
}
wait_for 30 "job $job" job_done
base=$(curl -fsS "$url/api/pattern-realtime/job/$job" \
       | jq -r '.results[0].price_at_scan // empty')
[ -n "$base" ] || fail "job $job made no prediction for $symbol"
nginx_stop "$work/ours"

# ---- runs --------------------------------------------------------------------

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
nchan_version=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null \
                | sed 's/^[0-9]*://' || echo '?')
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
nginx_version=$("$nginx" -v 2>&1 | sed 's/^nginx version: //')
cp "$work/ours/conf/nginx.conf" "$keep/ours.nginx.conf"
cp "$work/nchan/conf/nginx.conf" "$keep/nchan.nginx.conf"
say "command: CLIENTS=$clients EVENTS=$events BURST=$burst GAP=$gap" \
    "RUNS=$runs PORT=$port bench/ws_fanout.sh"
say "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) cores, ${cpu:-unknown cpu}, $(uname -sr), $mem"
say "load:    $(cut -d ' ' -f 1-3 /proc/loadavg) (1/5/15 min) at start"
say "nginx:   $nginx_version, 2 workers each, worker_connections" \
    "$worker_connections, nofile $nofile; nchan $nchan_version"
say "ours:    job $job: $symbol scanned at $day 10:30 New York (feed clock);" \
    "an event = a POST of its 10:29 bar"
say "build:   $compile"
say "configs: $keep/ours.nginx.conf, $keep/nchan.nginx.conf"
say

common=(--clients "$clients" --events "$events" --burst "$burst" --gap "$gap"
        --job-id "$job" --symbol "$symbol" --base-price "$base")

measure() {   # measure ours|nchan RUN
    local pids cmd load
    if [ "$1" = ours ]; then
        nginx_start "$work/ours"
        wait_for 20 "the engine connection" engine_connected
        pids="$(workers_of "$work/ours"),$(cat "$inst/engine.pid")"
        cmd=("$client" --label ours --port "$port" --path /ws/pattern-realtime
             --subscribe "{\"type\":\"subscribe\",\"job_id\":\"$job\"}"
             --publish bars --publish-path /api/pattern-realtime/bars
             --bar-start "$bar_s" --pids "$pids" "${common[@]}")
    else
        nginx_start "$work/nchan"
        pids=$(workers_of "$work/nchan")
        cmd=("$client" --label nchan --port "$nport" --path /sub
             --publish nchan --publish-path /pub --pids "$pids" "${common[@]}")
    fi
    load=$(cut -d ' ' -f 1 /proc/loadavg)
    say "run $2, $1, load average $load:"
    say "  $(printf '%q ' "${cmd[@]}")"
    if ! "${cmd[@]}" > "$work/out" 2>&1; then
        cat "$work/out" >&2
        fail "ws_load failed"
    fi
    sed -e '/^RESULT /d' -e 's/^/  /' "$work/out"
    sed -n "s/^RESULT /run=$2 load=$load /p" "$work/out" >> "$work/results"
    nginx_stop "$work/$1"
}

: > "$work/results"
for run in $(seq "$runs"); do
    if [ $((run % 2)) -eq 1 ]; then
        measure ours "$run"
        measure nchan "$run"
    else
        measure nchan "$run"
        measure ours "$run"
    fi
    say
done

# The symbol's 10:29 bar as in the flat file: the runs changed its close.
nginx_start "$work/ours"
wait_for 20 "the engine connection" engine_connected
curl -fsS -X POST -H 'Content-Type: application/json' -d "$bar" \
    "$url/api/pattern-realtime/bars" > /dev/null \
    || say "could not restore $symbol's 10:29 bar on $day in $inst" >&2
nginx_stop "$work/ours"
cp "$work/results" "$keep/results.txt"

# ---- the table ---------------------------------------------------------------

perl -e '
    use strict;
    use warnings;
    my ($clients, $events, $burst, $nchan) = @ARGV[0 .. 3];
    my %r;
    open my $fh, "<", $ARGV[4] or die;
    while (<$fh>) {
        my %kv = /(\w+)=(\S+)/g;
        push @{ $r{$kv{label}} }, \%kv;
    }
    sub cell {
        my ($label, $key, $fmt) = @_;
        my @v = sort { $a <=> $b } map { $_->{$key} } @{ $r{$label} };
        my $med = @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
        my $s = sprintf $fmt, $med;
        $s .= sprintf " ($fmt-$fmt)", $v[0], $v[-1] if @v > 1;
        return $s;
    }
    my $n = $clients;
    1 while $n =~ s/^(\d+)(\d{3})/$1,$2/;
    my @rows = (
        ["latency p50, ms (all deliveries)", "p50", "%.1f"],
        ["latency p99, ms", "p99", "%.1f"],
        ["latency max, ms", "max", "%.1f"],
        ["per-event p99, worst of $events events, ms", "ev_p99_max", "%.1f"],
        ["all $n delivered, median event, ms", "all_med", "%.1f"],
        ["all $n delivered, worst event, ms", "all_max", "%.1f"],
        ["p99 from the POST written, ms", "post_p99", "%.1f"],
        ["p99 read by the client, ms", "read_p99", "%.1f"],
        ["deliveries/s, $burst events POSTed at once", "rate", "%.0f"],
        ["server CPU per delivery, us", "cpu_us", "%.1f"],
        ["  of which in the kernel, %", "sys_pct", "%.0f"],
        ["client CPU per delivery, us", "client_us", "%.1f"],
        ["memory per idle connection, KiB", "mem_kib", "%.1f"],
        ["connect + subscribe $n, s", "connect_s", "%.2f"],
        ["event payload, bytes", "bytes", "%.0f"],
        ["missing deliveries", "missing", "%.0f"],
        ["connections closed by the server", "closed", "%.0f"],
        ["load average (1 min) before the run", "load", "%.2f"],
    );
    my $runs = scalar @{ $r{ours} || [] };
    print "median of $runs run(s) (min-max)\n\n";
    print "| $n subscribers, one job / channel | Pattern Real-Time "
          . "| nchan $nchan |\n";
    print "|---|---:|---:|\n";
    for my $row (@rows) {
        printf "| %s | %s | %s |\n", $row->[0], cell("ours", @$row[1, 2]),
               cell("nchan", @$row[1, 2]);
    }
' "$clients" "$events" "$burst" "$nchan_version" "$work/results"
