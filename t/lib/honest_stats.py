#!/usr/bin/python3
"""Independent recomputation of the honest statistics (SPEC 3.1) from
/history items, written from docs/forecast.md and sharing no code with
the engine. Used by the t/ suites (as a command reading JSON on stdin) and
for measuring the walk-forward calibration on real bars.

    honest_stats.py calibrate PRIOR < items.json    -> [{id, prob_up_calibrated, calibration_n}]
    honest_stats.py performance < {"items": [...], "dedupe": false} -> buckets, calibration, by_day
    honest_stats.py deciles FIELD < items.json      -> realized up by decile of FIELD
    honest_stats.py map_at < {"items", "horizon", "cutoff_ms", "prob_up", "prior"}
"""
import bisect
import json
import math
import sys
from datetime import datetime, timedelta, timezone
from fractions import Fraction

try:
    from zoneinfo import ZoneInfo
    NY = ZoneInfo("America/New_York")
except Exception:  # pragma: no cover
    NY = None

BINS = 100
BASE_PRIOR = 1000.0
Z95 = 1.959963984540054


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text
                             else "%Y-%m-%dT%H:%M:%SZ").replace(
                                 tzinfo=timezone.utc)


def ms(text):
    d = parse_time(text)
    return int(round(d.timestamp() * 1000))


def outcome(actual):
    """1 up, 0.5 tie, 0 down."""
    return 1.0 if actual > 0 else 0.5 if actual == 0 else 0.0


def wilson(p, n, z=Z95):
    if n <= 0:
        return [0.0, 1.0]
    p = min(max(p, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [max(0.0, centre - half), min(1.0, centre + half)]


def binomial_upper_tail(k, n, p):
    """P(X >= k), X ~ Binomial(n, p), exact in rationals for small n."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if n <= 3000:
        q = Fraction(p).limit_denominator(10 ** 12)
        total = sum(math.comb(n, i) * q ** i * (1 - q) ** (n - i)
                    for i in range(k, n + 1))
        return float(total)
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
             + i * lp + (n - i) * lq for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def calib_bin(p):
    if not p > 0:
        return 0
    return min(BINS - 1, int(math.floor(p * BINS + 1e-9)))


def pav(blocks):
    """blocks: [s, w, first]; pools while the previous value is higher."""
    out = []
    for b in blocks:
        out.append(list(b))
        while len(out) > 1 and out[-2][0] * out[-1][1] > out[-1][0] * out[-2][1]:
            s, w, _ = out.pop()
            out[-1][0] += s
            out[-1][1] += w
    return out


def calib_fit(counts, ups, prior):
    """counts[b], ups[b] (ties half) -> (n, base_rate, value[BINS])."""
    n = sum(counts)
    u = sum(ups)
    base = (u + BASE_PRIOR / 2.0) / (n + BASE_PRIOR)
    if n == 0:
        return 0, base, [0.5] * BINS
    blocks = pav([[ups[b], float(counts[b]), b]
                  for b in range(BINS) if counts[b]])
    blocks = pav([[s + prior * base, w + prior, f] for s, w, f in blocks])
    value = [None] * BINS
    for i, (s, w, first) in enumerate(blocks):
        start = 0 if i == 0 else first
        end = blocks[i + 1][2] if i + 1 < len(blocks) else BINS
        for b in range(start, end):
            value[b] = s / w
    return n, base, value


def verified(items):
    return [it for it in items if it.get("verification") == "verified"
            or (it.get("verified_at") and it.get("actual_return") is not None)]


def calibrate(items, prior):
    """Each item's map refitted from the store as it was at its scan time:
    the verified items of its horizon numbered calibration_seq <= its
    calibration_n. Also reports the latest verified_at among them, which
    must not be after the item's scan time (no look-ahead)."""
    by_h = {}
    for it in verified(items):
        by_h.setdefault(it["horizon"], []).append(it)
    for h in by_h:
        by_h[h].sort(key=lambda x: x["calibration_seq"])
    # the prefixes asked for, per horizon, built by one walk each
    wanted = {}
    for it in items:
        wanted.setdefault(it["horizon"], set()).add(it["calibration_n"])
    cache = {}
    for h, sizes in wanted.items():
        used = by_h.get(h, [])
        counts = [0] * BINS
        ups = [0.0] * BINS
        latest = None
        # the numbers 1..m are all there iff m <= first_gap
        first_gap = next((i for i, x in enumerate(used)
                          if x["calibration_seq"] != i + 1), len(used))
        for m in range(0, max(sizes) + 1):
            if m > 0 and m <= len(used):
                x = used[m - 1]
                counts[calib_bin(x["prob_up"])] += 1
                ups[calib_bin(x["prob_up"])] += outcome(x["actual_return"])
                t = ms(x["verified_at"])
                latest = t if latest is None or t > latest else latest
            if m in sizes:
                contiguous = m <= first_gap
                cache[(h, m)] = (calib_fit(counts, ups, prior), contiguous,
                                 latest)
    out = []
    for it in items:
        (n, _, value), contiguous, latest = cache[(it["horizon"],
                                                   it["calibration_n"])]
        out.append({"id": it["id"], "calibration_n": n,
                    "prob_up_calibrated": value[calib_bin(it["prob_up"])],
                    "sequence_complete": contiguous,
                    "latest_verified_ms": latest,
                    "scan_ms": ms(it["scan_time"])})
    return out


# ---------------------------------------------------------------- /performance

def ny_date(text):
    d = parse_time(text)
    return d.astimezone(NY).strftime("%Y-%m-%d")


def bucket(v):
    if not v:
        return None
    n = len(v)
    pnl = sorted(x["pnl"] for x in v)
    wins = sum(1 for x in v if x["was_correct"])
    nonzero = sum(1 for x in v if x["actual_return"] != 0)
    chance = nonzero / (2.0 * n)
    pos = [x["pnl"] for x in v if x["pnl"] > 0]
    neg = [x["pnl"] for x in v if x["pnl"] < 0]
    cum = peak = dd = 0.0
    for x in sorted(v, key=lambda x: (ms(x["scan_time"]), x["id"])):
        cum += x["pnl"]
        peak = max(peak, cum)
        dd = max(dd, peak - cum)
    return {
        "n": n,
        "long_count": sum(1 for x in v if x["direction"] == "UP"),
        "short_count": sum(1 for x in v if x["direction"] == "DOWN"),
        "win_rate": wins / n,
        "mean_pnl": sum(pnl) / n,
        "median_pnl": pnl[n // 2] if n % 2 else (pnl[n // 2 - 1] + pnl[n // 2]) / 2,
        "win_rate_ci": wilson(wins / n, n),
        "chance_win_rate": chance,
        "p_value": binomial_upper_tail(wins, n, chance),
        "profit_factor": (sum(pos) / -sum(neg)) if neg else None,
        "avg_win": (sum(pos) / len(pos)) if pos else None,
        "avg_loss": (sum(neg) / len(neg)) if neg else None,
        "max_drawdown": dd,
    }


def calib_bins(v, field):
    out = []
    for b in range(10):
        lo, hi = b / 10.0, (b + 1) / 10.0
        sel = [x for x in v if min(9, int(math.floor(x[field] * 10 + 1e-9))) == b]
        row = {"lo": lo, "hi": hi, "n": len(sel)}
        if sel:
            up = sum(outcome(x["actual_return"]) for x in sel) / len(sel)
            row.update(mean_prob_up=sum(x[field] for x in sel) / len(sel),
                       realized_up=up, realized_up_ci=wilson(up, len(sel)))
        else:
            row.update(mean_prob_up=None, realized_up=None, realized_up_ci=None)
        out.append(row)
    return out


def first_per_symbol_day(items):
    seen = set()
    out = []
    for it in sorted(items, key=lambda x: (ms(x["scan_time"]), x["id"])):
        key = (it["symbol"], ny_date(it["scan_time"]))
        if key not in seen:
            seen.add(key)
            out.append(it)
    return out


def performance(items, dedupe=False):
    if dedupe:
        items = first_per_symbol_day(items)
    v = verified(items)
    ranked = sorted(v, key=lambda x: (-x["edge"], x["id"]))
    n = len(ranked)

    def top(p):
        return ranked[:max(1, int(math.floor(p * n / 100.0 + 0.5)))] if n else []

    res = {
        "total_predictions": len(items),
        "verified": n,
        "all_stats": bucket(ranked),
        "top_1pct": bucket(top(1)),
        "top_5pct": bucket(top(5)),
        "top_10pct": bucket(top(10)),
        "long_stats": bucket([x for x in ranked if x["direction"] == "UP"]),
        "short_stats": bucket([x for x in ranked if x["direction"] == "DOWN"]),
    }
    days = {}
    for x in sorted(v, key=lambda x: (ms(x["scan_time"]), x["id"])):
        d = days.setdefault(ny_date(x["scan_time"]), [0, 0, 0.0])
        d[0] += 1
        d[1] += 1 if x["was_correct"] else 0
        d[2] += x["pnl"]
    cum = 0.0
    res["by_day"] = []
    for date in sorted(days):
        n_d, w_d, p_d = days[date]
        cum += p_d
        res["by_day"].append({"date": date, "n": n_d, "wins": w_d,
                              "win_rate": w_d / n_d, "pnl": p_d,
                              "cum_pnl": cum})
    if v:
        ys = [outcome(x["actual_return"]) for x in v]
        base = sum(ys) / len(ys)
        brier = {
            "raw": sum((x["prob_up"] - y) ** 2 for x, y in zip(v, ys)) / len(v),
            "calibrated": sum((x["prob_up_calibrated"] - y) ** 2
                              for x, y in zip(v, ys)) / len(v),
            "base_rate": sum((base - y) ** 2 for y in ys) / len(v),
        }
    else:
        brier = {"raw": None, "calibrated": None, "base_rate": None}
    res["calibration"] = {"bins": calib_bins(v, "prob_up"),
                          "calibrated_bins": calib_bins(v, "prob_up_calibrated"),
                          "brier": brier}
    return res


def map_at(items, horizon, cutoff_ms, prob_up, prior):
    """The map a query at cutoff_ms sees: the items of its horizon verified
    at or before it."""
    counts = [0] * BINS
    ups = [0.0] * BINS
    for x in verified(items):
        if x["horizon"] == horizon and ms(x["verified_at"]) <= cutoff_ms:
            counts[calib_bin(x["prob_up"])] += 1
            ups[calib_bin(x["prob_up"])] += outcome(x["actual_return"])
    n, _, value = calib_fit(counts, ups, prior)
    return {"calibration_n": n, "prob_up_calibrated": value[calib_bin(prob_up)]}


def deciles(items, field):
    v = sorted(verified(items), key=lambda x: (x[field], x["id"]))
    out = []
    for d in range(10):
        sel = v[d * len(v) // 10:(d + 1) * len(v) // 10]
        if not sel:
            continue
        out.append({"decile": d + 1, "n": len(sel),
                    "mean": sum(x[field] for x in sel) / len(sel),
                    "realized_up": sum(outcome(x["actual_return"])
                                       for x in sel) / len(sel)})
    return out


def main():
    cmd = sys.argv[1]
    data = json.load(sys.stdin)
    if cmd == "calibrate":
        out = calibrate(data, float(sys.argv[2]))
    elif cmd == "performance":
        out = performance(data["items"], data.get("dedupe", False))
    elif cmd == "deciles":
        out = deciles(data, sys.argv[2])
    elif cmd == "map_at":
        out = map_at(data["items"], data["horizon"], data["cutoff_ms"],
                     data["prob_up"], data["prior"])
    else:
        raise SystemExit("unknown command " + cmd)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
