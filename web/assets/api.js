// REST and WebSocket access to Pattern Real-Time (README "API",
// docs/websocket.md). Every URL is relative to the page, so the page works at
// / on a local instance and under a prefix such as /patterns/ behind a proxy.
// A token, when set, goes in `Authorization: Bearer` on REST and in
// `?token=` on the WebSocket (docs/auth.md).

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export class Api {
  constructor(base) {
    this.base = base;
    this.token = '';
  }

  url(path) {
    return new URL(path, this.base).toString();
  }

  // Resolves to the parsed JSON answer; rejects with an ApiError carrying
  // the answer's error code and message (E_NETWORK when nothing answered).
  async call(method, path, body) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(this.url(path), init);
    } catch (e) {
      throw new ApiError(0, 'E_NETWORK', 'the server cannot be reached');
    }
    let json = null;
    try {
      json = await res.json();
    } catch (e) {
      json = null;
    }
    if (!res.ok) {
      const err = (json && json.error) || {};
      throw new ApiError(res.status, err.code || `HTTP_${res.status}`,
                         err.message || (json && json.detail) || res.statusText,
                         err.field);
    }
    return json;
  }

  get(path) { return this.call('GET', path); }
  post(path, body) { return this.call('POST', path, body); }
  del(path) { return this.call('DELETE', path); }

  wsUrl() {
    const u = new URL('ws/pattern-realtime', this.base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.token) u.searchParams.set('token', this.token);
    return u.toString();
  }
}

// One WebSocket for the page, kept open: it reconnects by itself (growing
// delay, at most 10 s) and subscribes again to what it had, with `since` =
// the highest seq received on each stream, so nothing is lost or received
// twice (docs/websocket.md, "seq, since and E_GAP").
//
// handlers: event(ev, key) for every event with a seq; answer(msg, key) for
// subscribed / unsubscribed / error messages (key: the subscription they are
// about, when known); status(state, detail).
const TRANSIENT = new Set(['E_ENGINE_DOWN', 'E_BUSY', 'E_TIMEOUT']);

export class Live {
  constructor(api, handlers) {
    this.api = api;
    this.h = handlers;
    this.subs = new Map();   // key -> { msg, since }
    this.pending = [];       // keys of subscribes awaiting their answer, in order
    this.ws = null;
    this.retry = 500;
    this.timer = null;
    this.pinger = null;
    this.closedByUs = false;
    this.sent = [];          // the latest subscribes sent (for the console and the tests)
    this.opened = 0;         // connections opened so far
    this.answered = {};      // key -> the latest answer about it
  }

  start() {
    this.connect();
  }

  // Reconnect now (a new token, for instance).
  restart() {
    if (this.ws) {
      this.closedByUs = true;
      this.ws.close(1000);
    }
    clearTimeout(this.timer);
    this.retry = 500;
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.api.wsUrl());
    this.ws = ws;
    this.closedByUs = false;
    this.h.status('connecting');
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.retry = 500;
      this.opened += 1;
      this.h.status('live');
      this.pending = [];
      for (const key of this.subs.keys()) this.sendSub(key);
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ type: 'ping' }), 30000);
    };
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      this.dispatch(msg);
    };
    ws.onclose = (c) => {
      if (ws !== this.ws) return;
      clearInterval(this.pinger);
      if (this.closedByUs) return;
      const why = c.reason ? `${c.code} ${c.reason}` : `${c.code}`;
      this.h.status('reconnecting', why);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
    // an error is always followed by close, which reconnects
    ws.onerror = () => {};
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(obj));
      return true;
    }
    return false;
  }

  sendSub(key) {
    const s = this.subs.get(key);
    const msg = { ...s.msg };
    if (s.since !== null) msg.since = s.since;
    if (this.send(msg)) {
      this.pending.push(key);
      this.sent.push(msg);
      if (this.sent.length > 50) this.sent.shift();
    }
  }

  // key: any name; msg: the subscribe message without since; since: null for
  // live events only, 0 for everything kept.
  subscribe(key, msg, since) {
    this.subs.set(key, { msg, since });
    this.sendSub(key);
  }

  unsubscribe(key) {
    const s = this.subs.get(key);
    if (!s) return;
    this.subs.delete(key);
    const msg = { type: 'unsubscribe' };
    if (s.msg.job_id) msg.job_id = s.msg.job_id;
    if (s.msg.channel) msg.channel = s.msg.channel;
    this.send(msg);
  }

  keyOf(msg) {
    if (msg.type === 'alert') return 'alerts';
    if (msg.channel) return `channel:${msg.channel}`;
    if (msg.job_id) return `job:${msg.job_id}`;
    return null;
  }

  dispatch(msg) {
    if (msg.type === 'pong') return;
    if (msg.seq !== undefined && msg.type !== 'error') {
      let key = this.keyOf(msg);
      if (key === 'alerts' && !this.subs.has('alerts')) return;
      if (!this.subs.has(key)) key = null;
      if (key) {
        const s = this.subs.get(key);
        if (s.since === null || msg.seq > s.since) s.since = msg.seq;
      }
      this.h.event(msg, key);
      return;
    }
    // answers come in the order of the subscribes they answer
    let key = this.keyOf(msg);
    if (msg.type === 'subscribed' || (msg.type === 'error' && msg.code !== 'E_GAP')) {
      const i = key ? this.pending.indexOf(key) : -1;
      if (i >= 0) {
        this.pending.splice(i, 1);
      } else if (this.pending.length) {
        key = this.pending.shift();
      }
    }
    if (msg.type === 'subscribed' && key && this.subs.has(key)) {
      const s = this.subs.get(key);
      if (s.since === null) s.since = msg.last_seq;
    }
    if (msg.type === 'error' && msg.code !== 'E_GAP' && key && this.subs.has(key)) {
      if (TRANSIENT.has(msg.code)) {
        // the engine is down or busy: ask again a little later
        setTimeout(() => { if (this.subs.has(key)) this.sendSub(key); }, 2000);
      } else {
        // refused for good: forget it, the owner decides what to do
        this.subs.delete(key);
      }
    }
    if (key) this.answered[key] = msg;
    this.h.answer(msg, key);
  }
}
