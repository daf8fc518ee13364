#!/bin/bash
# The API through nginx next to nginx serving the same bytes as a static
# file, in one run (docs/benchmarks.md "HTTP"; SPEC 8, issues 2 and 4):
#
#   GET /health                    vs  its body as a static file
#   GET /api/pattern-realtime/job/{id} of a finished 20-symbol job with 20
#                                  results  vs  its body as a static file
#
# each with `wrk -c64 -t2 -d10s --latency` (wrk shares the 2 cores with
# nginx's 2 workers and the engine), static first, then the module.
#
#   bench/http.sh        DURATION (10s), BENCH_* as for bench/index.sh,
#                        BUILD, PORT, NGINX
#
# The engine runs on the shared data set (bench/lib/common.sh), built when
# missing, with its clock in the scan day's regular session.
set -euo pipefail

# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

port=${PORT:-$(free_port)}
url="http://127.0.0.1:$port"
duration=${DURATION:-10s}
work="$bench_dir/run-http"
trap stop_instance EXIT
rm -rf "$work"
mkdir -p "$work/logs"

machine_header
# shellcheck disable=SC2119
bench_data
echo

data=$(serve_dir http)
start_nginx "$work" "$port"
start_engine "$data" "$work" "$port" "$(scan_clock)"
echo "run:     $engine serve --data-dir $data --clock $(scan_clock)"
echo "         nginx: 2 workers, access_log off; /static/ = alias of a folder"

# A job whose 20 symbols all give a prediction: the first 20 predicted of
# a scan of the scan day's first 200 tickers.
head -n 200 "$(scan_day_tickers)" > "$work/first.txt"
id=$(run_job "$url" "$work/first.txt" 40)
wait_jobs_idle "$url"
curl -fsS "$url/api/pattern-realtime/job/$id" \
    | json '"\n".join(r["symbol"] for r in j["results"][:20])' > "$work/twenty.txt"
[ "$(wc -l < "$work/twenty.txt")" = 20 ] || die "fewer than 20 predictions among 200 tickers"
id=$(run_job "$url" "$work/twenty.txt" 40)
wait_jobs_idle "$url"
job_path="/api/pattern-realtime/job/$id"
curl -fsS "$url$job_path" > "$work/static/job.json"
got=$(json 'str(len(j["results"])) + " " + str(len(j["failures"]))' < "$work/static/job.json")
[ "$got" = "20 0" ] || die "the 20-symbol job has results/failures $got, want 20 0"
curl -fsS "$url/health" > "$work/static/health.json"

# row LABEL PATH: one wrk run, one table row; sets rps and p99 for ratios
row() {
    local label=$1 path=$2 bytes n p50 bad
    bytes=$(curl -fsS "$url$path" | wc -c)
    wrk -c64 -t2 -d"$duration" --latency "$url$path" > "$work/wrk.txt"
    read -r n rps p50 p99 bad < <(wrk_figures "$work/wrk.txt")
    printf '| %s | %d | %d | %.0f | %.2f | %.2f | %d |\n' \
        "$label" "$bytes" "$n" "$rps" "$p50" "$p99" "$bad"
}

wait_quiet "the HTTP runs"
echo "run:     wrk -c64 -t2 -d$duration --latency URL"
echo
echo "| request | body bytes | requests | req/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "static file, /health's bytes" /static/health.json
s_rps=$rps
row "GET /health (module + engine)" /health
h_rps=$rps h_p99=$p99
row "static file, the job's bytes" /static/job.json
j_static=$rps
row "GET /job/{id}, 20 results (module + engine)" "$job_path"
j_rps=$rps j_p99=$p99
echo
echo "load after: $(load_avg)"
awk -v hs="$s_rps" -v h="$h_rps" -v hp="$h_p99" -v js="$j_static" \
    -v j="$j_rps" -v jp="$j_p99" 'BEGIN {
    printf "GET /health: %.0f %% of static, p99 %.2f ms\n", 100 * h / hs, hp
    printf "GET /job (20 results): %.0f %% of static (target >= 90 %%: %s),",
           100 * j / js, (j >= 0.9 * js ? "met" : "not met")
    printf " p99 %.2f ms (target <= 5 ms: %s)\n", jp, (jp <= 5 ? "met" : "not met")
}'
