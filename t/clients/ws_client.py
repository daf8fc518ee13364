#!/usr/bin/python3
"""A WebSocket client of /ws/pattern-realtime built on Python's `websockets`
library (Debian python3-websockets 10.4), run by t/071-websocket-clients.t
and t/072-websocket-slow.t so the server is tested against a real client
implementation, not only our own frames.

It subscribes to one job or channel, records every message it receives and
stops on a condition; the test checks what was recorded. ws_client.js does
the same with Node's `ws`, with the same options and output (one --job,
no --rcvbuf).

  ws_client.py --url ws://127.0.0.1:PORT/ws/pattern-realtime [options]

  --run JSON        POST JSON to <http base>/api/pattern-realtime/run first
                    and subscribe to the job it returns (since 0 unless
                    --since is given)
  --job ID          subscribe to this job; repeated, one subscribe per job,
                    all sent back to back before anything is read
                    (pipelined; not with --drop-after)
  --channel NAME    subscribe to this channel (verifications | prices)
  --since N         `since` of the first subscribe
  --drop-after N    after N events (messages with a seq) close the
                    connection and open a new one, subscribing again with
                    since = the highest seq received (once)
  --until SPEC      when to stop: job_complete | verified:N (N
                    `verification` events and N final price_update) |
                    events:N
  --fragment        send the first subscribe as a fragmented text message
                    (an async iterator of three fragments)
  --ping            before subscribing: a ping frame (its pong must carry
                    the same payload) and {"type":"ping"} (answered pong);
                    a missing answer is recorded with an "error" and the
                    session goes on
  --rcvbuf N        SO_RCVBUF of the socket before it connects (a small
                    kernel buffer: what the server sends waits in its own
                    queue until the client reads, however fast it reads)
  --timeout S       give up after S seconds (exit 1; default 30)

Output, one JSON object per line on stdout:
  {"kind":"pong_frame","payload":...}   {"kind":"pong_message","message":...}
  {"kind":"job","job_id":...}           {"kind":"ready","session":n}
  {"kind":"message","session":n,"message":{...}}   every message received
  {"kind":"dropped","session":n}        {"kind":"done"}
Exit 0 when the condition was met, 1 on error or timeout (reason on
stderr), 2 on bad usage.
"""

import argparse
import asyncio
import json
import socket
import sys
import urllib.parse
import urllib.request

import websockets

MAX_MESSAGE = 16 * 1024 * 1024     # job_complete carries every result
PING_WAIT = 3                      # seconds for a pong


def emit(record):
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Until:
    """The stop condition, fed every message received."""

    def __init__(self, spec):
        kind, _, count = spec.partition(":")
        if kind not in ("job_complete", "verified", "events"):
            raise ValueError("--until: job_complete, verified:N or events:N")
        if kind != "job_complete" and not count.isdigit():
            raise ValueError("--until %s needs a count" % kind)
        self.kind = kind
        self.count = int(count or 1)
        self.events = self.verifications = self.finals = 0
        self.complete = False

    def see(self, m):
        if "seq" in m:
            self.events += 1
        t = m.get("type")
        if t == "job_complete":
            self.complete = True
        elif t == "verification":
            self.verifications += 1
        elif t == "price_update" and \
                m.get("price_update", {}).get("minutes_remaining") == 0:
            self.finals += 1

    def met(self):
        if self.kind == "job_complete":
            return self.complete
        if self.kind == "verified":
            return self.verifications >= self.count and \
                self.finals >= self.count
        return self.events >= self.count


def http_base(url):
    u = urllib.parse.urlsplit(url)
    scheme = "https" if u.scheme == "wss" else "http"
    return "%s://%s" % (scheme, u.netloc)


def post_run(url, body):
    req = urllib.request.Request(
        http_base(url) + "/api/pattern-realtime/run", data=body.encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer = json.load(resp)
    if resp.status != 202 or "job_id" not in answer:
        raise RuntimeError("POST /run: %d %s" % (resp.status, answer))
    return answer["job_id"]


def subscribe_message(target, since):
    m = {"type": "subscribe"}
    m.update(target)
    if since is not None:
        m["since"] = since
    return json.dumps(m)


async def fragments(text):
    """The message in three pieces: websockets sends each as a frame."""
    third = max(1, len(text) // 3)
    yield text[:third]
    yield text[third:2 * third]
    yield text[2 * third:]


async def check_pings(ws):
    """Records the answers; a missing one is recorded too (the test
    reports it) and the session goes on."""
    payload = b"ping-from-python"
    waiter = await ws.ping(payload)       # resolved by a matching pong
    try:
        await asyncio.wait_for(waiter, PING_WAIT)
        emit({"kind": "pong_frame", "payload": payload.decode()})
    except asyncio.TimeoutError:
        emit({"kind": "pong_frame", "payload": None,
              "error": "no pong within %gs" % PING_WAIT})
    await ws.send(json.dumps({"type": "ping"}))
    try:
        answer = json.loads(await asyncio.wait_for(ws.recv(), PING_WAIT))
        emit({"kind": "pong_message", "message": answer})
    except asyncio.TimeoutError:
        emit({"kind": "pong_message", "message": None,
              "error": "no answer within %gs" % PING_WAIT})


async def session(args, target, since, number, until, last_seq):
    """One connection: subscribe, read until the condition or the drop.
    Returns (dropped, highest seq seen, the subscription target)."""
    sock = None
    if args.rcvbuf:
        u = urllib.parse.urlsplit(args.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
        sock.connect((u.hostname, u.port or 80))
    async with websockets.connect(args.url, max_size=MAX_MESSAGE,
                                  sock=sock) as ws:
        if args.ping and number == 1:
            await check_pings(ws)
        if "run" in target:
            target = {"job_id": post_run(args.url, target["run"])}
            emit({"kind": "job", "job_id": target["job_id"]})
        if "job_ids" in target:
            for job in target["job_ids"]:
                await ws.send(subscribe_message({"job_id": job}, since))
        else:
            text = subscribe_message(target, since)
            if args.fragment and number == 1:
                await ws.send(fragments(text))
            else:
                await ws.send(text)
        events = 0
        async for raw in ws:
            m = json.loads(raw)
            emit({"kind": "message", "session": number, "message": m})
            if m.get("type") == "subscribed":
                emit({"kind": "ready", "session": number})
            if "seq" in m:
                events += 1
                last_seq = max(last_seq or 0, m["seq"])
            until.see(m)
            if until.met():
                return False, last_seq, target
            if args.drop_after and number == 1 and events >= args.drop_after:
                emit({"kind": "dropped", "session": number})
                return True, last_seq, target
    raise RuntimeError("the server closed the connection: code %s"
                       % ws.close_code)


async def run(args):
    if args.run:
        target = {"run": args.run}
        since = 0 if args.since is None else args.since
    elif args.job and len(args.job) > 1:
        target, since = {"job_ids": args.job}, args.since
    elif args.job:
        target, since = {"job_id": args.job[0]}, args.since
    else:
        target, since = {"channel": args.channel}, args.since
    until = Until(args.until)
    dropped, last_seq, target = await session(args, target, since, 1, until,
                                              None)
    if dropped:
        await session(args, target, last_seq if last_seq else since, 2,
                      until, last_seq)
    emit({"kind": "done"})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--run")
    group.add_argument("--job", action="append")
    group.add_argument("--channel", choices=("verifications", "prices"))
    p.add_argument("--since", type=int)
    p.add_argument("--drop-after", type=int, default=0)
    p.add_argument("--until", default="job_complete")
    p.add_argument("--fragment", action="store_true")
    p.add_argument("--ping", action="store_true")
    p.add_argument("--rcvbuf", type=int, default=0)
    p.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()
    try:
        Until(args.until)
    except ValueError as e:
        p.error(str(e))
    if args.job and len(args.job) > 1 and (args.drop_after or args.fragment):
        p.error("several --job: not with --drop-after or --fragment")
    try:
        asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        sys.stderr.write("ws_client.py: the stop condition was not met "
                         "within %gs\n" % args.timeout)
        return 1
    except Exception as e:                  # reported, not a traceback
        sys.stderr.write("ws_client.py: %s: %s\n" % (type(e).__name__, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
