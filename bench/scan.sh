#!/bin/bash
# Scan jobs against the >= 10M-pattern index (docs/benchmarks.md "Scans";
# SPEC 8, issue 4): jobs of 1,000 and 10,000 symbols posted through nginx
# to an engine whose clock is fixed in the regular session of the scan day
# (BENCH_SCAN_TIME, default 15:45 New York), k = 40, horizon 10. For each
# job: completion time from its started_at / completed_at, symbols/s, how
# many were predicted and why the others failed, and the FAISS share: the
# growth of /health's jobs.search_seconds (time in the batched searches and
# forecasts) over jobs.scan_seconds (whole chunks, summed over the search
# threads) during the job.
#
#   bench/scan.sh        RUNS (3 per size), SIZES ("1000 10000"),
#                        BENCH_* as for bench/index.sh, BUILD, PORT, NGINX
#
# Needs `make` first; builds the shared data set when it is missing.
set -euo pipefail

# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

port=${PORT:-$(free_port)}
url="http://127.0.0.1:$port"
runs=${RUNS:-3}
sizes=${SIZES:-1000 10000}
work="$bench_dir/run-scan"
trap stop_instance EXIT
rm -rf "$work"
mkdir -p "$work/logs"

machine_header
# shellcheck disable=SC2119
bench_data
echo

data=$(serve_dir scan)
clock=$(scan_clock)
start_nginx "$work" "$port"
start_engine "$data" "$work" "$port" "$clock"
patterns=$(curl -fsS "$url/health" | json 'j["index"]["n_vectors"]')
echo "run:     $engine serve --data-dir $data --clock $clock"
echo "         index: $patterns patterns; $(rss_line "$engine_pid")"

tickers=$(scan_day_tickers)
have=$(wc -l < "$tickers")
for size in $sizes; do
    [ "$have" -ge "$size" ] \
        || die "the scan day has $have tickers, fewer than $size (raise BENCH_TICKERS)"
    head -n "$size" "$tickers" > "$work/symbols-$size.txt"
done

# one job: prints "seconds predicted failed search_s scan_s codes"
scan_job() {
    local file=$1 id h0 h1
    h0=$(curl -fsS "$url/health")
    id=$(run_job "$url" "$file" 40)
    wait_jobs_idle "$url"
    h1=$(curl -fsS "$url/health")
    curl -fsS "$url/api/pattern-realtime/job/$id" > "$work/job.json"
    "$python" - "$work/job.json" "$h0" "$h1" <<'EOF'
import collections, datetime, json, sys
job = json.load(open(sys.argv[1]))
h0, h1 = json.loads(sys.argv[2])["jobs"], json.loads(sys.argv[3])["jobs"]
def t(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
if job["status"] != "completed":
    sys.exit("job %s ended %s" % (job["job_id"], job["status"]))
secs = (t(job["completed_at"]) - t(job["started_at"])).total_seconds()
codes = collections.Counter(f["error_code"] for f in job["failures"])
print("%.3f %d %d %.3f %.3f %s" % (
    secs, job["progress"]["completed"], job["progress"]["failed"],
    h1["search_seconds"] - h0["search_seconds"],
    h1["scan_seconds"] - h0["scan_seconds"],
    ",".join("%s:%d" % c for c in sorted(codes.items())) or "-"))
EOF
}

echo "         warm-up job of 1,000 symbols (not counted): $(scan_job "$work/symbols-1000.txt" | cut -d ' ' -f 1) s"
echo

wait_quiet "the scans"
echo "| symbols | run | job s | symbols/s | predicted | failed (codes) | search+forecast s | chunks s | FAISS share |"
echo "|---:|---:|---:|---:|---:|---|---:|---:|---:|"
for size in $sizes; do
    for r in $(seq "$runs"); do
        read -r secs ok failed search scan codes < <(scan_job "$work/symbols-$size.txt")
        echo "$size $secs" >> "$work/times.txt"
        awk -v n="$size" -v r="$r" -v s="$secs" -v ok="$ok" -v f="$failed" \
            -v se="$search" -v sc="$scan" -v c="$codes" 'BEGIN {
            printf "| %d | %d | %.3f | %.0f | %d | %d (%s) | %.3f | %.3f | %.0f %% |\n",
                   n, r, s, n / s, ok, f, c, se, sc, (sc > 0 ? 100 * se / sc : 0) }'
    done
done
echo "load after: $(load_avg)"
echo
sort -k1,1n -k2,2n "$work/times.txt" | awk '
    { t[$1, ++c[$1]] = $2; if (!($1 in seen)) { seen[$1] = 1; order[++m] = $1 } }
    END {
        for (i = 1; i <= m; i++) {
            n = order[i]; med = t[n, int((c[n] + 1) / 2)]
            printf "median of %d runs, %d symbols: %.3f s, %.0f symbols/s\n",
                   c[n], n, med, n / med
        }
    }'
echo "engine after the scans: $(rss_line "$engine_pid")"
echo "memory target: $(memory_verdict "$engine_pid")"
