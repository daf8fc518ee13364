#!/usr/bin/env node
// A small driver of headless Chromium over the DevTools protocol, built on
// Node's `ws` (the same package as ws_client.js). Used by t/080-web-page.t
// and `make screenshot` to open the trader page in a real browser.
//
//   node cdp.js [--chromium PATH] [--width 1440] [--height 900]
//
// reads one JSON command per line on stdin and answers each with one JSON
// line on stdout, {"id":..., "ok":true, "value":...} or {"ok":false,
// "error":"..."}:
//
//   {"cmd":"open", "url":URL}                   navigate, wait for the load event
//   {"cmd":"eval", "expr":JS}                   evaluate (promises awaited),
//                                               the value returned by value
//   {"cmd":"wait", "expr":JS, "timeout":S}      evaluate every 100 ms until truthy;
//                                               the value, or an error after S s
//   {"cmd":"screenshot", "path":FILE, "full":true}   PNG of the page (full height)
//   {"cmd":"problems"}                          console errors, uncaught exceptions
//                                               and failed loads seen so far
//   {"cmd":"quit"}
//
// The first line printed is {"ready":true, "version":...} once the browser
// runs, or {"ready":false, "error":...} (exit 3) when it cannot start.
//
//   node cdp.js --shot URL --out FILE [--wait JS] [--timeout S] [--eval JS]
//
// opens URL, evaluates --eval, waits for --wait, writes a full-page PNG to
// FILE and exits 0 (1 on failure, 3 when the browser cannot start).
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const WebSocket = require(path.join(__dirname, 'node_modules', 'ws'));

function parseArgs(argv) {
  const o = { width: 1440, height: 900, timeout: 30 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (['--chromium', '--width', '--height', '--shot', '--out', '--wait', '--timeout', '--eval'].includes(a)) {
      if (v === undefined) usage(`${a} needs a value`);
      o[a.slice(2)] = v;
      i++;
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  return o;
}

function usage(m) {
  process.stderr.write(`cdp.js: ${m}\n`);
  process.exit(2);
}

function findChromium(given) {
  const c = [given, process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser',
             '/usr/bin/google-chrome'].filter(Boolean);
  return c.find((p) => { try { fs.accessSync(p, fs.constants.X_OK); return true; } catch (e) { return false; } });
}

// Starts the browser; resolves to {proc, wsUrl, dir}.
function launch(bin, width, height) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prt-cdp-'));
  const args = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--no-first-run', '--no-default-browser-check', '--disable-extensions',
    '--disable-background-networking', '--disable-sync', '--disable-component-update',
    '--hide-scrollbars', '--mute-audio', '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1', `--user-data-dir=${dir}`,
    `--window-size=${width},${height}`, 'about:blank',
  ];
  // its own process group: stopping it ends its renderers and helpers too
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch (e) { /* gone */ } reject(new Error(`no DevTools endpoint after 30 s: ${err.slice(-500)}`)); }, 30000);
    proc.stderr.on('data', (d) => {
      err += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, wsUrl: m[1], dir });
      }
      if (err.length > 100000) err = err.slice(-20000);
    });
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`the browser exited (${code ?? sig}): ${err.slice(-800)}`)); });
  });
}

class Cdp {
  constructor(ws) {
    this.ws = ws;
    this.next = 1;
    this.waiting = new Map();
    this.listeners = [];
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.id && this.waiting.has(m.id)) {
        const { resolve, reject } = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.error) reject(new Error(`${m.error.message}${m.error.data ? `: ${m.error.data}` : ''}`));
        else resolve(m.result);
      } else if (m.method) {
        for (const l of this.listeners) l(m);
      }
    });
  }

  send(method, params = {}, sessionId) {
    const id = this.next++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    this.ws.send(JSON.stringify(msg));
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }
}

class Page {
  constructor(cdp, sessionId) {
    this.cdp = cdp;
    this.sid = sessionId;
    this.problems = [];
    this.loaded = null;
    cdp.listeners.push((m) => {
      if (m.sessionId !== this.sid) return;
      const p = m.params;
      if (m.method === 'Runtime.exceptionThrown') {
        const d = p.exceptionDetails;
        this.problems.push({ kind: 'exception', text: (d.exception && d.exception.description) || d.text, url: d.url, line: d.lineNumber });
      } else if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
        this.problems.push({ kind: `console.${p.type}`, text: p.args.map((a) => a.value ?? a.description ?? '').join(' ') });
      } else if (m.method === 'Log.entryAdded' && p.entry.level === 'error') {
        this.problems.push({ kind: `log.${p.entry.source}`, text: p.entry.text, url: p.entry.url });
      } else if (m.method === 'Page.loadEventFired' && this.loaded) {
        this.loaded();
        this.loaded = null;
      }
    });
  }

  send(method, params) {
    return this.cdp.send(method, params, this.sid);
  }

  async open(url) {
    const loaded = new Promise((resolve) => { this.loaded = resolve; });
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`navigation failed: ${r.errorText}`);
    await loaded;
    return url;
  }

  async eval(expr) {
    const r = await this.send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true, userGesture: true });
    if (r.exceptionDetails) {
      const d = r.exceptionDetails;
      throw new Error(`evaluation failed: ${(d.exception && d.exception.description) || d.text}`);
    }
    return r.result.value;
  }

  async wait(expr, timeout) {
    const deadline = Date.now() + 1000 * (timeout || 30);
    let last;
    for (;;) {
      try {
        last = await this.eval(expr);
        if (last) return last;
      } catch (e) {
        last = e.message;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeout || 30} s waiting for: ${expr} (last: ${JSON.stringify(last)})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async screenshot(file, full) {
    const params = { format: 'png', captureBeyondViewport: !!full };
    if (full) {
      const m = await this.send('Page.getLayoutMetrics');
      const s = m.cssContentSize || m.contentSize;
      params.clip = { x: 0, y: 0, width: Math.ceil(s.width), height: Math.ceil(s.height), scale: 1 };
    }
    const r = await this.send('Page.captureScreenshot', params);
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, Buffer.from(r.data, 'base64'));
    return path.resolve(file);
  }
}

async function start(o) {
  const bin = findChromium(o.chromium);
  if (!bin) throw new Error('no chromium binary (install Debian\'s chromium)');
  const b = await launch(bin, Number(o.width), Number(o.height));
  const ws = new WebSocket(b.wsUrl, { maxPayload: 256 * 1024 * 1024 });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const cdp = new Cdp(ws);
  const version = await cdp.send('Browser.getVersion');
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const page = new Page(cdp, sessionId);
  await page.send('Page.enable');
  await page.send('Runtime.enable');
  await page.send('Log.enable');
  await page.send('Emulation.setDeviceMetricsOverride', { width: Number(o.width), height: Number(o.height), deviceScaleFactor: 1, mobile: false });
  const exited = new Promise((resolve) => {
    if (b.proc.exitCode !== null || b.proc.signalCode !== null) resolve();
    else b.proc.once('exit', resolve);
  });
  let stopping = null;
  // resolves once the browser is gone and its profile removed
  const stop = () => {
    if (stopping) return stopping;
    try { ws.close(); } catch (e) { /* closing anyway */ }
    try { process.kill(-b.proc.pid, 'SIGKILL'); } catch (e) { /* gone already */ }
    stopping = Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]).then(() => {
      try { fs.rmSync(b.dir, { recursive: true, force: true }); } catch (e) { /* left in tmp */ }
    });
    return stopping;
  };
  // the browser never outlives its driver
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, () => { stop().then(() => process.exit(1)); });
  }
  process.on('exit', () => { try { process.kill(-b.proc.pid, 'SIGKILL'); } catch (e) { /* gone */ } });
  return { page, stop, version: version.product };
}

async function interactive(o) {
  let s;
  try {
    s = await start(o);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ ready: false, error: e.message })}\n`);
    process.exit(3);
  }
  process.stdout.write(`${JSON.stringify({ ready: true, version: s.version })}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  const queue = [];
  let busy = false;
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const line = queue.shift();
      let c;
      let out;
      try {
        c = JSON.parse(line);
        let value;
        switch (c.cmd) {
          case 'open': value = await s.page.open(c.url); break;
          case 'eval': value = await s.page.eval(c.expr); break;
          case 'wait': value = await s.page.wait(c.expr, c.timeout); break;
          case 'screenshot': value = await s.page.screenshot(c.path, c.full !== false); break;
          case 'problems': value = s.page.problems; break;
          case 'quit':
            await s.stop();
            process.stdout.write(`${JSON.stringify({ id: c.id, ok: true })}\n`);
            process.exit(0);
            break;
          default: throw new Error(`unknown command ${c.cmd}`);
        }
        out = { id: c.id, ok: true, value: value === undefined ? null : value };
      } catch (e) {
        out = { id: c && c.id, ok: false, error: e.message };
      }
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
    busy = false;
  };
  rl.on('line', (line) => { if (line.trim()) { queue.push(line); pump(); } });
  rl.on('close', () => { s.stop().then(() => process.exit(0)); });
}

async function shot(o) {
  let s;
  try {
    s = await start(o);
  } catch (e) {
    process.stderr.write(`cdp.js: the browser cannot start: ${e.message}\n`);
    process.exit(3);
  }
  try {
    await s.page.open(o.shot);
    if (o.eval) await s.page.eval(o.eval);
    if (o.wait) await s.page.wait(o.wait, Number(o.timeout));
    const file = await s.page.screenshot(o.out, true);
    for (const p of s.page.problems) process.stderr.write(`cdp.js: page ${p.kind}: ${p.text}\n`);
    process.stdout.write(`${file}\n`);
    await s.stop();
    process.exit(0);
  } catch (e) {
    process.stderr.write(`cdp.js: ${e.message}\n`);
    await s.stop();
    process.exit(1);
  }
}

const opts = parseArgs(process.argv.slice(2));
if (opts.shot) {
  if (!opts.out) usage('--shot needs --out');
  shot(opts);
} else {
  interactive(opts);
}
