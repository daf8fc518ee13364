#!/bin/sh
# Shared-memory rings against a unix socket: request/response round trips
# between two processes (bench/ring_bench.c, docs/benchmarks.md "Rings").
#
#   bench/ipc.sh [ring_bench options]     e.g. -n 200000 -p 2000000 -w 64
#
# Builds the benchmark with -O2 against include/ (the very ring code the
# engine and the module run), then prints the machine, the exact commands
# and the figures. BUILD (default build) and CC (default cc) as for make.
set -eu

cd "$(dirname "$0")/.."
build=${BUILD:-build}
cc=${CC:-cc}
bin="$build/bench/ring_bench"

mkdir -p "$build/bench"
flags="-std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude"
compile="$cc $flags -o $bin bench/ring_bench.c"
$compile

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, ${cpu:-unknown cpu}, $(uname -sr)"
echo "load:    $(cut -d ' ' -f 1-3 /proc/loadavg) (1/5/15 min)"
echo "build:   $compile"
echo "run:     $bin $*"
echo
"$bin" "$@"
