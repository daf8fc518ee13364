#!/bin/bash
# Scan jobs against the >= 10M-pattern index (docs/benchmarks.md "Scans";
# SPEC 8, issue 4): jobs of 1,000 and 10,000 symbols posted through nginx
# to an engine whose clock is fixed in the regular session of the scan day
# (BENCH_SCAN_TIME, default 15:45 New York), k = 40, horizon 10. For each
# job: completion time from its started_at / completed_at, symbols/s, how
# many were predicted and why the others failed, and the FAISS share: the
# growth of /health's jobs.search_seconds (time in the batched searches and
# forecasts) over jobs.scan_seconds (whole chunks, summed over the search
# threads) during the job, and the engine's CPU seconds (user + system,
# /proc/PID/stat) for the job: on a shared machine the wall time includes
# waiting for a core, the CPU time does not.
#
# Then raw FAISS beside the job: the job's own queries (per symbol of the
# largest size, the scan day's held-out pattern at its last bar before the
# clock: the window the job searches with) go through bench/index_bench in
# one batched call, through the engine's search path and through FAISS
# alone with the same nprobe and candidate count, alternating; the job's
# median time over raw FAISS's is the share that is not FAISS. The same
# run gives recall@40 of those queries against exact search. Last, pairs:
# each largest-size job again, followed at once by raw FAISS on its windows
# in its chunks, the CPU ratio taken within the pair (same load).
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

# CPU seconds (user + system) the engine has used so far
engine_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
        "/proc/$engine_pid/stat"
}

# one job: prints "seconds predicted failed search_s scan_s codes cpu_s"
scan_job() {
    local file=$1 id h0 h1 c0 c1
    h0=$(curl -fsS "$url/health")
    c0=$(engine_cpu)
    id=$(run_job "$url" "$file" 40)
    wait_jobs_idle "$url"
    c1=$(engine_cpu)
    h1=$(curl -fsS "$url/health")
    curl -fsS "$url/api/pattern-realtime/job/$id" > "$work/job.json"
    "$python" - "$work/job.json" "$h0" "$h1" "$c0" "$c1" <<'EOF'
import collections, datetime, json, sys
job = json.load(open(sys.argv[1]))
h0, h1 = json.loads(sys.argv[2])["jobs"], json.loads(sys.argv[3])["jobs"]
def t(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
if job["status"] != "completed":
    sys.exit("job %s ended %s" % (job["job_id"], job["status"]))
secs = (t(job["completed_at"]) - t(job["started_at"])).total_seconds()
codes = collections.Counter(f["error_code"] for f in job["failures"])
print("%.3f %d %d %.3f %.3f %s %.2f" % (
    secs, job["progress"]["completed"], job["progress"]["failed"],
    h1["search_seconds"] - h0["search_seconds"],
    h1["scan_seconds"] - h0["scan_seconds"],
    ",".join("%s:%d" % c for c in sorted(codes.items())) or "-",
    float(sys.argv[5]) - float(sys.argv[4])))
EOF
}

echo "         warm-up job of 1,000 symbols (not counted): $(scan_job "$work/symbols-1000.txt" | cut -d ' ' -f 1) s"
echo

wait_quiet "the scans"
echo "| symbols | run | job s | symbols/s | predicted | failed (codes) | search+forecast s | chunks s | FAISS share | engine CPU s |"
echo "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
for size in $sizes; do
    for r in $(seq "$runs"); do
        read -r secs ok failed search scan codes cpu < <(scan_job "$work/symbols-$size.txt")
        echo "$size $secs $cpu" >> "$work/times.txt"
        awk -v n="$size" -v r="$r" -v s="$secs" -v ok="$ok" -v f="$failed" \
            -v se="$search" -v sc="$scan" -v c="$codes" -v cpu="$cpu" 'BEGIN {
            printf "| %d | %d | %.3f | %.0f | %d | %d (%s) | %.3f | %.3f | %.0f %% | %.2f |\n",
                   n, r, s, n / s, ok, f, c, se, sc, (sc > 0 ? 100 * se / sc : 0), cpu }'
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
    }' | tee "$work/medians.txt"
echo "engine after the scans: $(rss_line "$engine_pid")"
echo "memory target: $(memory_verdict "$engine_pid")"
echo

# ---- raw FAISS beside the job ------------------------------------------------

largest=${sizes##* }
qvec="$work/job-queries.bin"
nq=$("$python" - "$bench_dir/day-data/index/current" "$work/symbols-$largest.txt" \
     "$clock" "$bench_dir/scanday/$scan_day.csv.gz" "$qvec" <<'EOF'
# Per job symbol, the held-out pattern whose window the job searches with:
# the one ending at the symbol's last bar before the clock (a symbol whose
# last window is not contiguous has none; the job fails it E_WINDOW).
import calendar, gzip, struct, sys, time
gen, syms_path, clock, day_csv, out = sys.argv[1:]
t_max = calendar.timegm(time.strptime(clock, "%Y-%m-%dT%H:%M:%SZ")) // 60 - 1
want = {s.strip() for s in open(syms_path) if s.strip()}
last = {}
with gzip.open(day_csv, "rt") as f:
    next(f)
    for line in f:
        c = line.split(",", 7)
        if c[0] in want:
            m = int(c[6][:-9]) // 60
            if m <= t_max and m > last.get(c[0], -1):
                last[c[0]] = m
names = [l.rstrip("\n") for l in open(gen + "/tickers.txt")]
last_by_id = {i: last[n] for i, n in enumerate(names) if n in last}
pat = open(gen + "/patterns.bin", "rb").read()
count = struct.unpack_from("<Q", pat, 16)[0]
ids = [i for i, (t, m) in
       enumerate(struct.iter_unpack("<II", pat[64:64 + 8 * count]))
       if last_by_id.get(t) == m]
vec = open(gen + "/vectors.bin", "rb")
hdr = bytearray(vec.read(64))
rs = struct.unpack_from("<I", hdr, 12)[0]
struct.pack_into("<Q", hdr, 16, len(ids))
with open(out, "wb") as f:
    f.write(hdr)
    for i in ids:
        vec.seek(64 + i * rs)
        f.write(vec.read(rs))
print(len(ids))
EOF
)
[ "$nq" -ge 100 ] || die "only $nq query vectors for the $largest-symbol job"
helper="$build/bench/index_bench"
bench_compile bench/index_bench.c "$helper"
# a job's chunk (256 symbols) brings about nq / largest * 256 of them to FAISS
chunk=$(( (nq * 256 + largest - 1) / largest ))
few=$((nq < 200 ? nq : 200))
most=$((nq < 1000 ? nq : 1000))
wait_quiet "raw FAISS"
echo "run:     $helper $bench_dir/index-data/index $qvec -b $nq -l $few -r $most -R $runs -c $chunk"
echo "         ($nq query vectors: the $largest-symbol job's windows at $clock)"
"$helper" "$bench_dir/index-data/index" "$qvec" -b "$nq" -l "$few" \
    -r "$most" -R "$runs" -c "$chunk" | tee "$work/raw.txt" | sed 's/^/         /'
echo "load after: $(load_avg)"
raw=$(sed -n 's/^raw FAISS:.* median \([0-9.]*\) s.*/\1/p' "$work/raw.txt")
raw_cpu=$(sed -n 's/^CPU:.* raw FAISS \([0-9.]*\) s.*/\1/p' "$work/raw.txt")
# medians of the largest size's wall and CPU seconds, each sorted on its own
med() { awk -v n="$largest" -v f="$1" '$1 == n { print $f }' "$work/times.txt" \
        | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
awk -v n="$largest" -v j="$(med 2)" -v ju="$(med 3)" -v raw="$raw" \
    -v rc="$raw_cpu" 'BEGIN {
    printf "job / raw FAISS, %d symbols (medians): wall %.3f / %.3f s = %.2fx; CPU %.2f / %.2f s = %.2fx (target <= 1.4x)\n",
           n, j, raw, j / raw, ju, rc, ju / rc }'

# ---- the job and raw FAISS in pairs -------------------------------------------
# On a shared machine the CPU seconds of the same work grow with the load
# (a busy host: cache and memory contention, a hypervisor's accounting), so
# a ratio of figures taken minutes apart measures the load as much as the
# job. Here each largest-size job is followed at once by raw FAISS on its
# windows in the job's chunks on two threads (index_bench -c, its other
# figures kept to one query), and the ratio is taken within each pair.
echo
wait_quiet "the pairs"
echo "| pair | job s | job CPU s | engine path CPU s | raw FAISS CPU s | job / engine path | job / raw FAISS | load |"
echo "|---:|---:|---:|---:|---:|---:|---:|---|"
: > "$work/pairs.txt"
for r in $(seq "$runs"); do
    read -r secs _ _ _ _ _ cpu < <(scan_job "$work/symbols-$largest.txt")
    line=$("$helper" "$bench_dir/index-data/index" "$qvec" -b "$nq" -l 1 -r 1 \
           -R 1 -c "$chunk" | grep '^chunked:')
    eng=$(sed -n 's/.*engine path [0-9.]* s wall, \([0-9.]*\) CPU-s.*/\1/p' <<< "$line")
    rawc=$(sed -n 's/.*raw FAISS [0-9.]* s wall, \([0-9.]*\) CPU-s.*/\1/p' <<< "$line")
    echo "$cpu $eng $rawc" >> "$work/pairs.txt"
    awk -v r="$r" -v s="$secs" -v c="$cpu" -v e="$eng" -v f="$rawc" -v l="$(load_avg)" 'BEGIN {
        printf "| %d | %.3f | %.2f | %.2f | %.2f | %.2fx | %.2fx | %s |\n",
               r, s, c, e, f, c / e, c / f, l }'
done
# median of each ratio, each sorted on its own
pmed() { awk -v f="$1" '{ print $1 / $f }' "$work/pairs.txt" | sort -g \
         | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
awk -v n="$runs" -v e="$(pmed 2)" -v f="$(pmed 3)" 'BEGIN {
    printf "job / raw FAISS in pairs, %d runs (medians): job / engine path %.2fx, job / raw FAISS %.2fx (target <= 1.4x)\n",
           n, e, f }'
