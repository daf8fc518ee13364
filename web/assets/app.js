// Pattern Real-Time trader page: scan form, live ranked table, performance,
// failures and the pattern search, over the REST API and the WebSocket.
// Plain ES modules, no build step; see docs/web.md.

import { Api, Live } from './api.js';
import { renderPerformance } from './perf.js';
import { SearchView } from './search.js';
import {
  $, HORIZONS, esc, frac, fracRange, int, isNum, nyParts, nyTime, num, pct, signClass,
} from './util.js';

const api = new Api(new URL('.', location.href));
const state = {
  job: null,              // the current job as GET /job answers it (without results)
  results: new Map(),     // prediction id -> result
  rank: new Map(),        // prediction id -> position in the last complete ranked list
  live: new Map(),        // prediction id -> latest price_update
  fresh: new Set(),       // ids to flash at the next render
  failures: [],
  sort: { key: 'edge', dir: -1 },
  dir: 'ALL',
  perfHorizonTouched: false,
  engine: 'unknown',      // up | down | unauthorized | unknown
  health: null,
  alerts: false,
  events: {},             // type -> events received (for the console and the tests)
};

// ---------------------------------------------------------------------------
// Banner: one message per source, the most serious shown

const notices = new Map();   // source -> {text, level}

function notice(source, text, level = 'error') {
  if (text) notices.set(source, { text, level });
  else notices.delete(source);
  const order = ['engine', 'auth', 'network', 'ws', 'api', 'alerts'];
  const first = order.map((s) => notices.get(s)).find(Boolean);
  const b = $('#banner');
  b.hidden = !first;
  if (first) {
    b.textContent = first.text;
    b.className = `banner ${first.level === 'info' ? 'info' : ''}`;
  }
}

function apiProblem(e) {
  if (e.code === 'E_ENGINE_DOWN') {
    setEngine('down');
  } else if (e.status === 401 || e.status === 403) {
    notice('auth', `Not authorized (${e.code}): ${e.message}. Give a token with the read scope in the token field, or ?token= in the page URL.`);
  } else if (e.code === 'E_NETWORK') {
    notice('network', 'The server cannot be reached; retrying.');
  } else {
    notice('api', `${e.code}: ${e.message}`, 'info');
  }
}

// ---------------------------------------------------------------------------
// Health: session, market clock, engine state (every 5 s)

function setEngine(s, detail) {
  state.engine = s;
  const pill = $('#engine-status');
  if (s === 'up') {
    const idx = state.health && state.health.index;
    pill.textContent = idx ? `engine up · ${int(idx.n_vectors)} patterns` : 'engine up';
    pill.className = 'pill ok';
    notice('engine', null);
  } else if (s === 'down') {
    pill.textContent = 'engine DOWN';
    pill.className = 'pill bad';
    notice('engine', 'The engine is down (E_ENGINE_DOWN): nginx answers, the scanner does not. '
      + 'Scans, searches and live updates resume by themselves when it is back.');
  } else {
    pill.textContent = detail || 'engine ?';
    pill.className = 'pill warn';
  }
}

async function pollHealth() {
  try {
    const h = await api.get('health');
    const wasDown = state.engine === 'down' || state.engine === 'unauthorized';
    state.health = h;
    notice('auth', null);
    notice('network', null);
    setEngine('up');
    const m = h.market || {};
    const s = $('#session');
    s.textContent = m.session ? `${m.session}${m.reason ? ` · ${m.reason}` : ''}` : 'session —';
    s.className = `pill ${m.session || ''}`;
    const now = m.now ? nyParts(m.now) : null;
    $('#market-now').textContent = now ? `${now.date} ${now.time} ET${m.clock && m.clock !== 'real' ? ` (${m.clock} clock)` : ''}` : '';
    if (wasDown) recover();
  } catch (e) {
    if (e.code === 'E_ENGINE_DOWN') setEngine('down');
    else if (e.status === 401 || e.status === 403) { setEngine('unauthorized', 'engine ?'); apiProblem(e); }
    else if (e.code === 'E_NETWORK') { setEngine('unknown', 'server unreachable'); apiProblem(e); }
    else setEngine('unknown', e.code);
  }
}

// ---------------------------------------------------------------------------
// The live connection

const live = new Live(api, {
  status(s, why) {
    const p = $('#ws-status');
    p.dataset.state = s;
    if (s === 'live') {
      p.textContent = 'live';
      p.className = 'pill ok';
      notice('ws', null);
    } else if (s === 'reconnecting') {
      p.textContent = `reconnecting${why ? ` (${why})` : ''}`;
      p.className = 'pill warn';
    } else {
      p.textContent = s;
      p.className = 'pill warn';
    }
  },
  event(ev) {
    state.events[ev.type] = (state.events[ev.type] || 0) + 1;
    switch (ev.type) {
      case 'progress': onProgress(ev); break;
      case 'result': onResult(ev); break;
      case 'job_complete': onComplete(ev); break;
      case 'verification': onVerification(ev); break;
      case 'price_update': onPrice(ev); break;
      case 'alert': onAlert(ev); break;
      default: break;
    }
  },
  answer(msg, key) {
    if (msg.type !== 'error') {
      if (key === 'alerts' && msg.type === 'subscribed') notice('alerts', null);
      return;
    }
    if (key === 'alerts') {
      state.alerts = false;
      $('#alerts').checked = false;
      notice('alerts', `Alerts are not available here (${msg.code}: ${msg.error}).`, 'info');
      return;
    }
    if (msg.code === 'E_GAP') {
      // events were lost on the way: the REST answer is the truth
      if (state.job && msg.job_id === state.job.job_id) refreshJob();
      return;
    }
    if (msg.code === 'E_ENGINE_DOWN') { setEngine('down'); return; }
    if (msg.code === 'E_BUSY' || msg.code === 'E_TIMEOUT') return;
    notice('ws', `Live updates: ${msg.code}: ${msg.error}`, 'info');
  },
});

// ---------------------------------------------------------------------------
// Jobs

function isCurrent(ev) {
  return state.job && ev.job_id === state.job.job_id;
}

function onProgress(ev) {
  if (!isCurrent(ev)) return;
  state.job.progress = { completed: ev.completed, failed: ev.failed, total: ev.total };
  if (ev.status) state.job.status = ev.status;
  renderProgress();
}

// A newer copy of a result never loses its verification to an older one.
function merge(id, r) {
  const old = state.results.get(id);
  if (old && old.verified_at && !r.verified_at) return;
  state.results.set(id, old ? { ...old, ...r } : r);
}

function onResult(ev) {
  if (!isCurrent(ev) || !ev.data) return;
  merge(ev.data.id, ev.data);
  state.fresh.add(ev.data.id);
  scheduleRender();
}

function onComplete(ev) {
  if (!isCurrent(ev)) return;
  state.job.status = ev.status;
  if (Array.isArray(ev.results)) setRanked(ev.results);
  state.job.total_results = ev.total_results;
  state.job.total_failures = ev.total_failures;
  renderProgress();
  scheduleRender();
  refreshJob();            // the failures come with the job
  schedulePerf();
}

function onVerification(ev) {
  if (!isCurrent(ev)) return;
  const d = ev.data || {};
  const id = d.id ?? ev.prediction_id;
  const old = state.results.get(id);
  state.results.set(id, { ...(old || {}), ...d });
  state.fresh.add(id);
  scheduleRender();
  schedulePerf();
}

function onPrice(ev) {
  if (!isCurrent(ev) || !ev.price_update) return;
  const p = ev.price_update;
  state.live.set(p.prediction_id, p);
  scheduleRender();
}

function setRanked(results) {
  state.rank = new Map();
  results.forEach((r, i) => {
    state.rank.set(r.id, i);
    merge(r.id, r);
  });
  const keep = new Set(results.map((r) => r.id));
  for (const id of [...state.results.keys()]) if (!keep.has(id)) state.results.delete(id);
}

async function refreshJob() {
  if (!state.job) return;
  const id = state.job.job_id;
  try {
    const j = await api.get(`api/pattern-realtime/job/${id}`);
    if (!state.job || state.job.job_id !== id) return;
    const { results, failures, ...rest } = j;
    state.job = { ...state.job, ...rest };
    setRanked(results || []);
    state.failures = failures || [];
    renderJob();
    renderFailures();
    scheduleRender();
  } catch (e) {
    apiProblem(e);
  }
}

// Shows job `id` (a fresh one: since 0, so nothing it published is missed).
async function openJob(id, fresh) {
  if (state.job && state.job.job_id !== id) live.unsubscribe(`job:${state.job.job_id}`);
  state.job = { job_id: id, status: 'running', progress: { completed: 0, failed: 0, total: 0 } };
  state.results = new Map();
  state.rank = new Map();
  state.live = new Map();
  state.failures = [];
  history.replaceState(null, '', `${location.pathname}${location.search}#job=${id}`);
  live.subscribe(`job:${id}`, { type: 'subscribe', job_id: id }, fresh ? 0 : null);
  renderJob();
  renderFailures();
  scheduleRender();
  await refreshJob();
  if (!fresh && state.job && state.job.params) fillForm(state.job);
}

function fillForm(job) {
  const f = $('#run-form');
  const p = job.params;
  for (const k of ['k', 'alpha', 'trim_lo', 'trim_hi', 'min_edge']) if (p[k] !== undefined) f.elements[k].value = p[k];
  f.elements.horizon.value = String(p.horizon);
  f.elements.exclude_self.checked = !!p.exclude_self;
  f.elements.cross_asset.checked = !!p.cross_asset;
  const syms = [...state.results.values()].map((r) => r.symbol).concat(state.failures.map((x) => x.symbol));
  if (!$('#symbols').value.trim() && syms.length) $('#symbols').value = [...new Set(syms)].join(' ');
  if (!state.perfHorizonTouched) {
    $('#perf-horizon').value = String(p.horizon);
    loadPerf();
  }
}

function formParams() {
  const f = $('#run-form').elements;
  const n = (name) => Number(f[name].value);
  return {
    k: n('k'), horizon: n('horizon'), alpha: n('alpha'), trim_lo: n('trim_lo'), trim_hi: n('trim_hi'),
    exclude_self: f.exclude_self.checked, cross_asset: f.cross_asset.checked, min_edge: n('min_edge'),
  };
}

async function run(ev) {
  ev.preventDefault();
  const err = $('#run-error');
  err.hidden = true;
  for (const x of document.querySelectorAll('#run-form .invalid')) x.classList.remove('invalid');
  const body = { symbols: $('#symbols').value, ...formParams() };
  $('#run').disabled = true;
  try {
    const ans = await api.post('api/pattern-realtime/run', body);
    if (!state.perfHorizonTouched) $('#perf-horizon').value = String(body.horizon);
    await openJob(ans.job_id, true);
  } catch (e) {
    err.hidden = false;
    err.textContent = `${e.code}: ${e.message}`;
    const field = e.field && $('#run-form').elements[e.field];
    if (field && field.classList) field.classList.add('invalid');
    if (e.code === 'E_ENGINE_DOWN' || e.status === 401 || e.status === 403) apiProblem(e);
  } finally {
    $('#run').disabled = false;
    renderJob();
  }
}

async function stop() {
  if (!state.job) return;
  $('#stop').disabled = true;
  try {
    const ans = await api.del(`api/pattern-realtime/job/${state.job.job_id}`);
    if (ans && ans.status) state.job.status = ans.status;
    refreshJob();
  } catch (e) {
    apiProblem(e);
  }
  renderJob();
}

// ---------------------------------------------------------------------------
// Rendering: job line, progress, table, failures

function renderJob() {
  const j = state.job;
  $('#stop').disabled = !j || j.status !== 'running';
  if (!j) {
    $('#job-line').textContent = '';
    return;
  }
  const p = j.params;
  const scan = p && p.scan_time ? nyParts(p.scan_time) : null;
  $('#job-line').textContent = `job ${j.job_id} · ${j.status}${scan ? ` · scan ${scan.date} ${scan.time} ET` : ''}`;
  $('#job-line').dataset.status = j.status;
  $('#results-sub').textContent = p
    ? `@${p.horizon}m · k ${p.k} · α ${p.alpha}${scan ? ` · ${scan.date} ${scan.time} ET` : ''}`
    : '';
  renderProgress();
}

function renderProgress() {
  const j = state.job;
  const p = (j && j.progress) || { completed: 0, failed: 0, total: 0 };
  const total = p.total || j?.total_symbols || 0;
  $('#progress-fill').style.width = total ? `${(100 * p.completed) / total}%` : '0';
  $('#progress-fail').style.width = total ? `${(100 * p.failed) / total}%` : '0';
  $('#progress-text').textContent = j
    ? `${p.completed + p.failed}/${total} · ${p.completed} ranked · ${p.failed} failed · ${j.status}`
    : 'no job';
}

// Columns of the ranked table: key, title, cell html, sort value, and the
// optional result field whose presence shows the column.
const COLUMNS = [
  { key: 'rank', title: '#', cell: (r, i) => i + 1, sort: (r) => state.rank.get(r.id) ?? 1e9, num: true },
  { key: 'symbol', title: 'Symbol', cell: (r) => esc(r.symbol), sort: (r) => r.symbol, cls: 'sym' },
  { key: 'bar_time', title: 'Bar (ET)', cell: (r) => nyTime(r.bar_time), sort: (r) => r.bar_time },
  {
    key: 'direction', title: 'Dir', sort: (r) => r.direction,
    cell: (r) => `<span class="dir ${r.direction === 'UP' ? 'up' : 'down'}">${r.direction === 'UP' ? '↑ UP' : '↓ DN'}</span>`,
  },
  { key: 'edge', title: 'Edge', cell: (r) => num(r.edge, 3), sort: (r) => r.edge, num: true },
  { key: 'edge_calibrated', title: 'Edge cal', cell: (r) => num(r.edge_calibrated, 3), sort: (r) => r.edge_calibrated, num: true, optional: true },
  { key: 'prob_up', title: 'P(up)', cell: (r) => frac(r.prob_up), sort: (r) => r.prob_up, num: true },
  { key: 'prob_up_calibrated', title: 'P(up) cal', cell: (r) => frac(r.prob_up_calibrated), sort: (r) => r.prob_up_calibrated, num: true, optional: true },
  { key: 'prob_up_ci', title: 'P(up) CI', cell: (r) => `<span class="ci">${fracRange(r.prob_up_ci)}</span>`, sort: (r) => (Array.isArray(r.prob_up_ci) ? r.prob_up_ci[0] : null), num: true, optional: true },
  { key: 'mean_return', title: 'Mean', cell: (r) => `<span class="${signClass(r.mean_return)}">${pct(r.mean_return, 3)}</span>`, sort: (r) => r.mean_return, num: true },
  { key: 'p10', title: 'P10', cell: (r) => pct(r.p10, 2), sort: (r) => r.p10, num: true },
  { key: 'p90', title: 'P90', cell: (r) => pct(r.p90, 2), sort: (r) => r.p90, num: true },
  { key: 'n_neighbors', title: 'N', cell: (r) => int(r.n_neighbors), sort: (r) => r.n_neighbors, num: true },
  { key: 'n_eff', title: 'N eff', cell: (r) => num(r.n_eff, 1), sort: (r) => r.n_eff, num: true, optional: true },
  { key: 'dist1', title: 'd₁', cell: (r) => num(r.dist1, 3), sort: (r) => r.dist1, num: true },
  { key: 'price_at_scan', title: 'Price', cell: (r) => num(r.price_at_scan, 2), sort: (r) => r.price_at_scan, num: true },
  {
    key: 'live', title: 'Unrealized', num: true,
    sort: (r) => state.live.get(r.id)?.unrealized_return,
    cell: (r) => {
      const p = state.live.get(r.id);
      if (!p || r.verified_at) return '<span class="dim">—</span>';
      const cls = p.is_currently_correct ? 'up' : 'down';
      return `<span class="${cls}">${pct(p.unrealized_return, 3)}</span> <span class="dim">${p.minutes_remaining}m</span>`;
    },
  },
  { key: 'actual_return', title: 'Actual', cell: (r) => pct(r.actual_return, 3), sort: (r) => r.actual_return, num: true },
  { key: 'pnl', title: 'P&L', cell: (r) => `<span class="${signClass(r.pnl)}">${pct(r.pnl, 3)}</span>`, sort: (r) => r.pnl, num: true },
  {
    key: 'verdict', title: '✓/✗', sort: (r) => (r.was_correct === true ? 2 : r.was_correct === false ? 1 : 0),
    cell: (r) => verdict(r).text, cellClass: (r) => `verdict ${verdict(r).cls}`,
  },
];

function verdict(r) {
  if (r.was_correct === true) return { text: '✓', cls: 'ok' };
  if (r.was_correct === false) return { text: '✗', cls: 'no' };
  if (r.verified_at || r.verification === 'unverifiable') return { text: 'n/a', cls: 'pending' };
  return { text: 'pending', cls: 'pending' };
}

// At most five table renders a second, however fast events come.
const RENDER_EVERY_MS = 200;
const MAX_ROWS = 500;
let renderQueued = false;
let lastRender = 0;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  const wait = Math.max(0, lastRender + RENDER_EVERY_MS - performance.now());
  setTimeout(() => requestAnimationFrame(() => {
    renderQueued = false;
    lastRender = performance.now();
    renderTable();
  }), wait);
}

function renderTable() {
  const all = [...state.results.values()];
  const cols = COLUMNS.filter((c) => !c.optional || all.some((r) => r[c.key] !== undefined && r[c.key] !== null));
  const table = $('#results-table');
  const head = cols.map((c) => {
    const sorted = state.sort.key === c.key;
    const arrow = sorted ? (state.sort.dir < 0 ? ' ▼' : ' ▲') : '';
    return `<th data-key="${c.key}" class="sortable${c.num ? ' num' : ''}${sorted ? ' sorted' : ''}">${c.title}${arrow}</th>`;
  }).join('');
  if (table.tHead.dataset.head !== head) {
    table.tHead.innerHTML = `<tr>${head}</tr>`;
    table.tHead.dataset.head = head;
  }
  const col = COLUMNS.find((c) => c.key === state.sort.key) || COLUMNS[0];
  const dir = state.sort.dir;
  const rows = all.filter((r) => state.dir === 'ALL' || r.direction === state.dir);
  const rankOf = (r) => state.rank.get(r.id) ?? 1e9;
  rows.sort((a, b) => {
    const x = col.sort(a);
    const y = col.sort(b);
    const xn = x === undefined || x === null;
    const yn = y === undefined || y === null;
    if (xn !== yn) return xn ? 1 : -1;      // missing values last, either way
    if (!xn && x !== y) return (x < y ? -1 : 1) * dir;
    return rankOf(a) - rankOf(b) || a.id - b.id;
  });
  const shown = rows.length > MAX_ROWS ? rows.slice(0, MAX_ROWS) : rows;
  table.tBodies[0].innerHTML = shown.map((r, i) => {
    const cells = cols.map((c) => {
      const cls = [c.num ? 'num' : '', c.cls || '', c.cellClass ? c.cellClass(r) : ''].filter(Boolean).join(' ');
      return `<td${cls ? ` class="${cls}"` : ''}>${c.cell(r, i)}</td>`;
    }).join('');
    return `<tr data-id="${r.id}" data-symbol="${esc(r.symbol)}"${state.fresh.has(r.id) ? ' class="fresh"' : ''}>${cells}</tr>`;
  }).join('');
  state.fresh.clear();
  const verified = all.filter((r) => r.verified_at).length;
  const wins = all.filter((r) => r.was_correct === true).length;
  const losses = all.filter((r) => r.was_correct === false).length;
  $('#verified-count').textContent = all.length
    ? `${shown.length < rows.length ? `first ${shown.length} of ${rows.length} shown · ` : ''}`
      + `${all.length} results · ${verified} verified${verified ? ` · ${wins} ✓ ${losses} ✗` : ''}`
    : '';
  table.dataset.rows = String(rows.length);
  table.dataset.verified = String(verified);
}

function renderFailures() {
  const f = state.failures;
  $('#fail-count').textContent = String(f.length);
  const codes = {};
  for (const x of f) codes[x.error_code] = (codes[x.error_code] || 0) + 1;
  $('#fail-codes').textContent = Object.entries(codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(' · ');
  $('#fail-table').tBodies[0].innerHTML = f.map((x) => `<tr data-symbol="${esc(x.symbol)}">
    <td class="sym">${esc(x.symbol)}</td><td>${nyTime(x.scan_time)}</td><td class="code">${esc(x.error_code)}</td>
    <td>${esc(x.reason)}</td><td class="num">${int(x.bars_since_open)}</td><td class="num">${int(x.bars_until_close)}</td></tr>`).join('');
}

// ---------------------------------------------------------------------------
// Performance

let perfTimer = null;
let perfSeq = 0;
function schedulePerf() {
  clearTimeout(perfTimer);
  perfTimer = setTimeout(loadPerf, 1000);
}

async function loadPerf() {
  const my = ++perfSeq;
  const q = new URLSearchParams({ period: $('#perf-period').value });
  const h = $('#perf-horizon').value;
  if (h) q.set('horizon', h);
  try {
    const perf = await api.get(`api/pattern-realtime/performance?${q}`);
    if (my !== perfSeq) return;
    renderPerformance(perf);
    $('#perf-table').dataset.loaded = `${q}`;
  } catch (e) {
    if (my === perfSeq) apiProblem(e);
  }
}

// ---------------------------------------------------------------------------
// Alerts (opt-in): the `alerts` channel, shown as browser notifications

function alertSubscription() {
  const msg = { type: 'subscribe', channel: 'alerts', min_edge: Number($('#run-form').elements.min_edge.value) || 0 };
  if (state.dir !== 'ALL') msg.direction = state.dir;
  const syms = $('#symbols').value.split(/[\s,]+/).map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (syms.length) msg.symbols = [...new Set(syms)];
  // a message over the server's limit (pattern_rt_ws_max_message, 16k by
  // default) would close the connection: then alert on every symbol
  if (JSON.stringify(msg).length > 8000) delete msg.symbols;
  return msg;
}

async function toggleAlerts() {
  state.alerts = $('#alerts').checked;
  if (!state.alerts) {
    live.unsubscribe('alerts');
    notice('alerts', null);
    return;
  }
  live.subscribe('alerts', alertSubscription(), null);
  if ('Notification' in window && Notification.permission === 'default') {
    try {
      await Notification.requestPermission();
    } catch (e) {
      // older browsers: callback form only; the in-page notice still works
    }
  }
  if (state.alerts && (!('Notification' in window) || Notification.permission !== 'granted')) {
    notice('alerts', 'Alerts are on, but the browser blocks notifications for this page: they show here instead.', 'info');
  }
}

function onAlert(ev) {
  if (!state.alerts) return;
  const r = ev.data || {};
  const text = `${r.symbol} ${r.direction === 'UP' ? '↑' : '↓'} edge ${num(r.edge, 3)} · P(up) ${frac(r.prob_up)} · mean ${pct(r.mean_return, 2)} @${r.horizon}m`;
  if ('Notification' in window && Notification.permission === 'granted') {
    const n = new Notification(`Pattern Real-Time: ${r.symbol}`, { body: text, tag: `prt-${r.id}` });
    n.onclick = () => { window.focus(); openJob(ev.job_id, false); };
  } else {
    notice('alerts', `Alert: ${text}`, 'info');
  }
}

// ---------------------------------------------------------------------------
// Search view

const search = new SearchView(api, apiProblem);

async function loadDates() {
  try {
    const d = await api.get('api/available-dates');
    const sel = $('#s-date');
    const keep = sel.value;
    sel.innerHTML = (d.dates || []).slice().reverse().map((x) => `<option>${esc(x)}</option>`).join('');
    if (keep && (d.dates || []).includes(keep)) sel.value = keep;
  } catch (e) {
    apiProblem(e);
  }
}

async function loadDay() {
  const sym = $('#s-symbol').value.trim().toUpperCase();
  if (!sym) return false;
  $('#search-error').hidden = true;
  try {
    return await search.loadDay(sym, $('#s-date').value);
  } catch (e) {
    $('#search-error').hidden = false;
    $('#search-error').textContent = `${e.code}: ${e.message}`;
    if (e.code === 'E_ENGINE_DOWN' || e.status === 401) apiProblem(e);
    return false;
  }
}

async function searchAt(ev) {
  if (ev) ev.preventDefault();
  const sym = $('#s-symbol').value.trim().toUpperCase();
  const date = $('#s-date').value;
  const day = search.day;
  if (!day || day.symbol !== sym || (date && day.date !== date)) {
    if (!(await loadDay())) return;
  }
  const t = $('#s-time').value;
  if (!/^\d\d:\d\d$/.test(t)) return;
  search.params = formParams();
  await search.search(t);
}

// Clicking a symbol in the ranked table opens its day at the scan minute.
async function openInSearch(r, scroll = true) {
  const bar = nyParts(r.bar_time);
  if (!bar) return;
  $('#s-symbol').value = r.symbol;
  if (![...$('#s-date').options].some((o) => o.value === bar.date)) {
    $('#s-date').insertAdjacentHTML('afterbegin', `<option>${esc(bar.date)}</option>`);
  }
  $('#s-date').value = bar.date;
  const next = new Date((bar.wall + 60) * 1000);
  $('#s-time').value = `${String(next.getUTCHours()).padStart(2, '0')}:${String(next.getUTCMinutes()).padStart(2, '0')}`;
  if (scroll) $('.search').scrollIntoView({ behavior: 'smooth', block: 'start' });
  await searchAt();
}

// ---------------------------------------------------------------------------
// Start

function setToken(t) {
  api.token = t;
  try {
    if (t) sessionStorage.setItem('prt-token', t);
    else sessionStorage.removeItem('prt-token');
  } catch (e) {
    // storage may be off: the token lives in this page only
  }
}

// The engine is back (or a token was given): read again what failed.
async function recover() {
  loadPerf();
  loadDates();
  if (state.job) {
    refreshJob();
    return;
  }
  try {
    const id = await latestJob();
    if (id && !state.job) await openJob(id, false);
  } catch (e) {
    apiProblem(e);
  }
}

async function latestJob() {
  const h = await api.get('api/pattern-realtime/history?limit=1');
  const item = h.items && h.items[0];
  return item ? item.job_id : null;
}

async function init() {
  const url = new URL(location.href);
  let token = url.searchParams.get('token');
  if (token) {
    // keep it out of the address bar and the history
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  } else {
    try { token = sessionStorage.getItem('prt-token'); } catch (e) { token = null; }
  }
  setToken(token || '');
  $('#token').value = api.token;

  const hopts = HORIZONS.map((h) => `<option value="${h}">${h}m</option>`).join('');
  $('#run-form').elements.horizon.innerHTML = hopts;
  $('#run-form').elements.horizon.value = '10';
  $('#perf-horizon').innerHTML = `<option value="">all</option>${hopts}`;
  $('#perf-horizon').value = '10';

  $('#run-form').addEventListener('submit', run);
  $('#stop').addEventListener('click', stop);
  $('#dir-filter').addEventListener('change', (e) => {
    state.dir = e.target.value;
    scheduleRender();
    if (state.alerts) live.subscribe('alerts', alertSubscription(), null);
  });
  $('#results-table').tHead.addEventListener('click', (e) => {
    const th = e.target.closest('th[data-key]');
    if (!th) return;
    const key = th.dataset.key;
    state.sort = state.sort.key === key ? { key, dir: -state.sort.dir }
      : { key, dir: ['symbol', 'rank', 'bar_time', 'direction'].includes(key) ? 1 : -1 };
    scheduleRender();
  });
  $('#results-table').tBodies[0].addEventListener('click', (e) => {
    const td = e.target.closest('td.sym');
    if (!td) return;
    const r = state.results.get(Number(td.parentElement.dataset.id));
    if (r) openInSearch(r);
  });
  $('#perf-horizon').addEventListener('change', () => { state.perfHorizonTouched = true; loadPerf(); });
  $('#perf-period').addEventListener('change', loadPerf);
  $('#alerts').addEventListener('change', toggleAlerts);
  $('#token-form').addEventListener('submit', (e) => e.preventDefault());
  $('#token').addEventListener('change', () => {
    setToken($('#token').value.trim());
    live.restart();
    pollHealth();
    recover();
  });
  $('#s-load').addEventListener('click', loadDay);
  $('#search-form').addEventListener('submit', searchAt);

  renderPerformance(null);
  renderJob();
  renderTable();
  live.start();
  await pollHealth();
  setInterval(pollHealth, 5000);
  loadDates();
  loadPerf();

  const m = /^#job=([0-9a-fA-F-]{36})$/.exec(location.hash);
  let id = m ? m[1] : null;
  if (!id) {
    try { id = await latestJob(); } catch (e) { apiProblem(e); }
  }
  if (id) await openJob(id, false);
  // something to look at in the search view: the top result's own minute
  const top = [...state.results.values()].sort((a, b) => (state.rank.get(a.id) ?? 1e9) - (state.rank.get(b.id) ?? 1e9))[0];
  if (top && !search.day) await openInSearch(top, false);
  document.body.dataset.ready = '1';
}

// for the browser test and the console
window.prt = { state, api, live, search, renderPerformance, openJob, render: scheduleRender, loadPerf };

init();
