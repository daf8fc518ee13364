#!/usr/bin/env node
// A WebSocket client of /ws/pattern-realtime built on Node's `ws` package
// (pinned in package.json / package-lock.json beside this file; installed
// by scripts/install-deps with `npm ci`). Run by t/071-websocket-clients.t
// so the server is tested against a second real client implementation.
//
// Same options and output as ws_client.py (see there for the details):
//
//   node ws_client.js --url ws://127.0.0.1:PORT/ws/pattern-realtime
//        (--run JSON | --job ID | --channel verifications|prices|alerts)
//        [--filter JSON] [--since N] [--drop-after N] [--until job_complete|verified:N|events:N]
//        [--fragment] [--ping] [--timeout S]
//
// --fragment sends the first subscribe with ws.send(chunk, {fin: false})
// pieces; --ping sends a ping frame (ws.ping) and waits for its pong, then
// {"type":"ping"}. Exit 0 when the condition was met, 1 on error or
// timeout, 2 on bad usage.
'use strict';

const http = require('http');
const https = require('https');
const path = require('path');

const WebSocket = require(path.join(__dirname, 'node_modules', 'ws'));

const MAX_MESSAGE = 16 * 1024 * 1024;   // job_complete carries every result
const PING_WAIT_MS = 3000;              // for a pong

function usage(message) {
  process.stderr.write(`ws_client.js: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const flags = new Set(['--fragment', '--ping']);
  const valued = new Set(['--url', '--run', '--job', '--channel', '--since',
                          '--drop-after', '--until', '--timeout', '--filter']);
  const o = { until: 'job_complete', timeout: 30, dropAfter: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (flags.has(a)) {
      o[a.slice(2)] = true;
    } else if (valued.has(a)) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      const key = a.slice(2).replace(/-(\w)/g, (_, c) => c.toUpperCase());
      o[key] = argv[++i];
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  if (!o.url) usage('--url is required');
  const targets = ['run', 'job', 'channel'].filter((k) => o[k] !== undefined);
  if (targets.length !== 1) usage('exactly one of --run, --job, --channel');
  if (o.channel && !['verifications', 'prices', 'alerts'].includes(o.channel)) {
    usage('--channel: verifications, prices or alerts');
  }
  try {
    o.filter = JSON.parse(o.filter === undefined ? '{}' : o.filter);
  } catch (e) {
    usage('--filter must be a JSON object');
  }
  for (const k of ['since', 'dropAfter', 'timeout']) {
    if (o[k] !== undefined && !/^\d+(\.\d+)?$/.test(String(o[k]))) {
      usage(`--${k} must be a number`);
    }
  }
  o.since = o.since === undefined ? undefined : Number(o.since);
  o.dropAfter = Number(o.dropAfter);
  o.timeout = Number(o.timeout);
  o.stop = parseUntil(o.until);
  return o;
}

// The stop condition, fed every message received.
function parseUntil(spec) {
  const [kind, count] = spec.split(':');
  if (!['job_complete', 'verified', 'events'].includes(kind)
      || (kind !== 'job_complete' && !/^\d+$/.test(count || ''))) {
    usage('--until: job_complete, verified:N or events:N');
  }
  const st = { kind, count: Number(count || 1), events: 0, verifications: 0,
               finals: 0, complete: false };
  st.see = (m) => {
    if ('seq' in m) st.events++;
    if (m.type === 'job_complete') st.complete = true;
    if (m.type === 'verification') st.verifications++;
    if (m.type === 'price_update' && m.price_update
        && m.price_update.minutes_remaining === 0) {
      st.finals++;
    }
  };
  st.met = () => {
    if (kind === 'job_complete') return st.complete;
    if (kind === 'verified') {
      return st.verifications >= st.count && st.finals >= st.count;
    }
    return st.events >= st.count;
  };
  return st;
}

function emit(record) {
  process.stdout.write(JSON.stringify(record) + '\n');
}

function postRun(url, body) {
  const u = new URL(url);
  const lib = u.protocol === 'wss:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request({
      host: u.hostname, port: u.port, method: 'POST', agent: false,
      path: '/api/pattern-realtime/run',
      headers: { 'Content-Type': 'application/json',
                 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        let answer;
        try { answer = JSON.parse(data); } catch (e) { answer = null; }
        if (res.statusCode !== 202 || !answer || !answer.job_id) {
          reject(new Error(`POST /run: ${res.statusCode} ${data}`));
        } else {
          resolve(answer.job_id);
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Resolves once ws is open; rejects on an error before that.
function opened(ws) {
  return new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
}

// The next message of ws as JSON (used before subscribing only).
function nextMessage(ws) {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(JSON.parse(data.toString())));
  });
}

// Resolves with the promise's value, or with undefined after ms.
function within(promise, ms) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Records the answers; a missing one is recorded too (the test reports it)
// and the session goes on.
async function checkPings(ws) {
  const payload = 'ping-from-node';
  let onPong;
  const pong = new Promise((resolve) => {
    onPong = (data) => {
      if (data.toString() === payload) resolve(true);
    };
    ws.on('pong', onPong);
  });
  ws.ping(payload);
  const ponged = await within(pong, PING_WAIT_MS);
  ws.off('pong', onPong);
  emit(ponged ? { kind: 'pong_frame', payload }
              : { kind: 'pong_frame', payload: null,
                  error: `no pong within ${PING_WAIT_MS} ms` });
  const answer = nextMessage(ws);
  ws.send(JSON.stringify({ type: 'ping' }));
  const m = await within(answer, PING_WAIT_MS);
  emit(m ? { kind: 'pong_message', message: m }
         : { kind: 'pong_message', message: null,
             error: `no answer within ${PING_WAIT_MS} ms` });
}

function sendSubscribe(ws, text, fragment) {
  if (!fragment) {
    ws.send(text);
    return;
  }
  // ws sends the first piece as a text frame without FIN, the next ones as
  // continuation frames, the last with FIN
  const third = Math.max(1, Math.floor(text.length / 3));
  ws.send(text.slice(0, third), { fin: false });
  ws.send(text.slice(third, 2 * third), { fin: false });
  ws.send(text.slice(2 * third), { fin: true });
}

// One connection: subscribe, read until the condition or the drop.
// Resolves { dropped, lastSeq, target }.
async function session(o, target, since, number, lastSeq) {
  const ws = new WebSocket(o.url, { maxPayload: MAX_MESSAGE });
  await opened(ws);
  if (o.ping && number === 1) await checkPings(ws);
  if (target.run !== undefined) {
    target = { job_id: await postRun(o.url, target.run) };
    emit({ kind: 'job', job_id: target.job_id });
  }
  const sub = Object.assign({ type: 'subscribe' }, target, o.filter);
  if (since !== undefined && since !== null) sub.since = since;

  return new Promise((resolve, reject) => {
    let events = 0;
    let finished = false;
    const finish = (dropped) => {
      finished = true;
      ws.once('close', () => resolve({ dropped, lastSeq, target }));
      ws.close(1000);
    };
    ws.on('message', (data) => {
      if (finished) return;
      const m = JSON.parse(data.toString());
      emit({ kind: 'message', session: number, message: m });
      if (m.type === 'subscribed') emit({ kind: 'ready', session: number });
      if ('seq' in m) {
        events++;
        lastSeq = Math.max(lastSeq || 0, m.seq);
      }
      o.stop.see(m);
      if (o.stop.met()) {
        finish(false);
      } else if (o.dropAfter && number === 1 && events >= o.dropAfter) {
        emit({ kind: 'dropped', session: number });
        finish(true);
      }
    });
    ws.on('close', (code) => {
      if (!finished) reject(new Error(`the server closed the connection: code ${code}`));
    });
    ws.on('error', (e) => { if (!finished) reject(e); });
    sendSubscribe(ws, JSON.stringify(sub), o.fragment && number === 1);
  });
}

async function run(o) {
  let target;
  let since = o.since;
  if (o.run !== undefined) {
    target = { run: o.run };
    if (since === undefined) since = 0;
  } else if (o.job !== undefined) {
    target = { job_id: o.job };
  } else {
    target = { channel: o.channel };
  }
  const first = await session(o, target, since, 1, undefined);
  if (first.dropped) {
    await session(o, first.target, first.lastSeq || since, 2, first.lastSeq);
  }
  emit({ kind: 'done' });
}

// Exits once everything written to stdout is out: with stdout a pipe,
// process.exit() alone may drop what is still queued.
function exitAfterOutput(code) {
  process.stdout.write('', () => process.exit(code));
}

const options = parseArgs(process.argv.slice(2));
const timer = setTimeout(() => {
  process.stderr.write('ws_client.js: the stop condition was not met within '
                       + `${options.timeout}s\n`);
  exitAfterOutput(1);
}, options.timeout * 1000);
run(options).then(() => {
  clearTimeout(timer);
  exitAfterOutput(0);
}, (e) => {
  clearTimeout(timer);
  process.stderr.write(`ws_client.js: ${e.message}\n`);
  exitAfterOutput(1);
});
