#!/usr/bin/python3
"""Events across nodes: when a result reaches a subscriber on the node that
ran its job, and when it reaches one on another node (bench/relay.sh, which
starts the nodes; docs/benchmarks.md "Events across nodes").

One process subscribes to the `alerts` channel of both nodes (an alert is a
job's result event, made by each node's nginx workers from the broadcast),
runs JOBS jobs of the given symbols on node A one after the other, and
stamps each alert with the monotonic clock as it arrives. For every result
both subscribers got, the relay's latency is its arrival at B minus its
arrival at A: what the trip through PostgreSQL adds to the local path.

  relay_latency.py A_PORT B_PORT JOBS SYMBOL_FILE

Prints one line per job and the distribution, in milliseconds.
"""
import asyncio
import json
import sys
import time
import urllib.request

import websockets


def post(port, path, body):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                timeout=30) as r:
        return json.loads(r.read())


async def listen(port, name, arrivals, ready):
    url = f"ws://127.0.0.1:{port}/ws/pattern-realtime"
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": "alerts"}))
        async for raw in ws:
            now = time.monotonic()
            m = json.loads(raw)
            if m.get("type") == "subscribed":
                ready.set()
            elif m.get("type") == "alert":
                key = (m["job_id"], m["data"]["id"])
                arrivals.setdefault(key, {})[name] = now


async def run_job(port, symbols):
    job = await asyncio.to_thread(post, port, "/api/pattern-realtime/run",
                                  {"symbols": symbols})
    for _ in range(600):
        j = await asyncio.to_thread(
            get, port, f"/api/pattern-realtime/job/{job['job_id']}?limit=1")
        if j["status"] != "running":
            return job["job_id"], j
        await asyncio.sleep(0.05)
    raise SystemExit(f"job {job['job_id']} did not finish")


def percentile(v, p):
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


async def main():
    a_port, b_port, jobs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    with open(sys.argv[4]) as f:
        symbols = f.read().split()
    arrivals = {}
    ready = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(listen(a_port, "a", arrivals, ready[0])),
             asyncio.create_task(listen(b_port, "b", arrivals, ready[1]))]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 10)
    all_ms = []
    for n in range(1, jobs + 1):
        job_id, job = await run_job(a_port, symbols)
        want = job["progress"]["completed"]
        for _ in range(300):            # until node b has every result
            got = [v for k, v in arrivals.items() if k[0] == job_id]
            if sum("b" in v for v in got) >= want:
                break
            await asyncio.sleep(0.1)
        ms = sorted((v["b"] - v["a"]) * 1000 for v in got
                    if "a" in v and "b" in v)
        all_ms += ms
        print(f"job {n}: {want} results; at a {sum('a' in v for v in got)},"
              f" at b {sum('b' in v for v in got)}; b after a: median"
              f" {percentile(ms, 50):.2f} ms, max {ms[-1]:.2f} ms"
              if ms else f"job {n}: no result reached both subscribers")
    for t in tasks:
        t.cancel()
    all_ms.sort()
    if not all_ms:
        raise SystemExit("no result reached both subscribers")
    print(f"all {len(all_ms)} results, b after a (ms): median"
          f" {percentile(all_ms, 50):.2f}, p90 {percentile(all_ms, 90):.2f},"
          f" p99 {percentile(all_ms, 99):.2f}, max {all_ms[-1]:.2f},"
          f" min {all_ms[0]:.2f}")


asyncio.run(main())
