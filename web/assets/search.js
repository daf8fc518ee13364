// The search view: one ticker's day as candlesticks
// (GET /api/historical/ohlc/{SYM}), and from a picked minute the nearest
// patterns' trajectories (POST /api/search/historical) drawn as a fan from
// that bar: every neighbour, the p10–p90 band, the forecast and, for a past
// minute, what actually followed. Prices on the chart are the query bar's
// close moved by each return: c29 · (1 + r/100) (SPEC 2.3).

import {
  CandlestickSeries, ColorType, CrosshairMode, LineSeries, LineStyle,
  createChart, createSeriesMarkers,
} from '../vendor/lightweight-charts.mjs';
import {
  $, HORIZONS, esc, frac, isNum, nyParts, pct, quantile, wallSeconds, wallToHHMM,
} from './util.js';

export class SearchView {
  constructor(api, onError) {
    this.api = api;
    this.onError = onError;
    this.chart = null;
    this.candles = null;
    this.fan = [];
    this.markers = null;
    this.day = null;          // {symbol, date, candles}
    this.seq = 0;             // answers to stale requests are dropped
  }

  ensureChart() {
    if (this.chart) return;
    const el = $('#chart');
    this.chart = createChart(el, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: '#0f1318' },
        textColor: '#8a93a2',
        fontSize: 11,
        attributionLogo: false,
      },
      grid: { vertLines: { color: '#1a2029' }, horzLines: { color: '#1a2029' } },
      rightPriceScale: { borderColor: '#232a35' },
      timeScale: { borderColor: '#232a35', timeVisible: true, secondsVisible: false },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: '#26a69a', downColor: '#ef5350', borderVisible: false,
      wickUpColor: '#26a69a', wickDownColor: '#ef5350', priceLineVisible: false,
    });
    this.markers = createSeriesMarkers(this.candles, []);
    this.chart.subscribeClick((p) => {
      if (!this.day || p.time === undefined) return;
      // the query is the minute after the picked bar: that bar is then the
      // latest complete one, the end of the 30-minute window
      const t = wallToHHMM(Number(p.time) + 60);
      $('#s-time').value = t;
      this.search(t);
    });
  }

  async loadDay(symbol, date) {
    this.ensureChart();
    const my = ++this.seq;
    const q = new URLSearchParams({ start_time: '04:00', end_time: '20:00' });
    if (date) q.set('date', date);
    const ans = await this.api.get(`api/historical/ohlc/${encodeURIComponent(symbol)}?${q}`);
    if (my !== this.seq) return false;
    const candles = (ans.candles || []).map((c) => ({
      time: wallSeconds(ans.date, c.time), open: c.open, high: c.high, low: c.low, close: c.close,
    }));
    this.day = { symbol: ans.symbol || symbol, date: ans.date, candles };
    this.clearFan();
    this.candles.setData(candles);
    this.markers.setMarkers([]);
    this.chart.timeScale().fitContent();
    $('#chart').dataset.candles = String(candles.length);
    $('#chart').dataset.symbol = this.day.symbol;
    $('#chart').dataset.date = this.day.date;
    $('#forecast').innerHTML = `<div class="muted">${esc(this.day.symbol)} ${esc(this.day.date)}: ${candles.length} bars. Click a candle or give a minute.</div>`;
    return true;
  }

  clearFan() {
    for (const s of this.fan) this.chart.removeSeries(s);
    this.fan = [];
    $('#fan-legend').hidden = true;
    delete $('#chart').dataset.neighbors;
  }

  line(opts, data) {
    const s = this.chart.addSeries(LineSeries, {
      priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
      ...opts,
    });
    s.setData(data);
    this.fan.push(s);
    return s;
  }

  // time: "HH:MM" New York; params: {k, horizon, alpha, trim_lo, trim_hi,
  // exclude_self, cross_asset}
  async search(time, params = this.params || {}) {
    if (!this.day) return;
    const my = ++this.seq;
    const body = { symbol: this.day.symbol, date: this.day.date, time, window_minutes: 30 };
    for (const k of ['k', 'horizon', 'alpha', 'trim_lo', 'trim_hi', 'exclude_self', 'cross_asset']) {
      if (params[k] !== undefined) body[k] = params[k];
    }
    if (body.cross_asset === false && body.exclude_self) body.exclude_self = false;
    $('#forecast').innerHTML = '<div class="muted">searching…</div>';
    let ans;
    try {
      ans = await this.api.post('api/search/historical', body);
    } catch (e) {
      if (my === this.seq) {
        $('#forecast').innerHTML = `<div class="form-error">${esc(e.code)}: ${esc(e.message)}</div>`;
        this.onError(e);
      }
      return;
    }
    if (my !== this.seq) return;
    if (ans.status !== 'ok') {
      this.clearFan();
      $('#forecast').innerHTML = `<div class="form-error">${esc(ans.error_code || ans.status)}: ${esc(ans.error)}</div>`;
      return;
    }
    this.drawFan(ans, body.horizon || 10);
  }

  drawFan(ans, horizon) {
    this.clearFan();
    const bar = nyParts(ans.query.bar_time);
    const ctx = (ans.historical_context && ans.historical_context.pattern_prices) || [];
    const c29 = ctx.length ? ctx[ctx.length - 1] : null;
    const t0 = bar ? bar.wall : null;
    if (!isNum(c29) || t0 === null) return;
    const at = (i) => t0 + 60 * HORIZONS[i];
    const price = (r) => c29 * (1 + r / 100);
    const path = (returns) => [{ time: t0, value: c29 }].concat(
      returns.map((r, i) => (isNum(r) ? { time: at(i), value: price(r) } : null)).filter(Boolean));

    const neighbors = ans.neighbors || [];
    // the neighbours do not stretch the price scale: a far outlier would
    // flatten the candles; the band, the forecast and the outcome do
    for (const n of neighbors) {
      this.line({ color: 'rgba(120, 144, 180, 0.28)', lineWidth: 1, autoscaleInfoProvider: () => null },
                path(n.future_returns || []));
    }
    const band = (q) => HORIZONS.map((_, i) => quantile(neighbors.map((n) => (n.future_returns || [])[i]), q));
    this.line({ color: '#3d7eff', lineWidth: 1, lineStyle: LineStyle.Dashed }, path(band(0.1)));
    this.line({ color: '#3d7eff', lineWidth: 1, lineStyle: LineStyle.Dashed }, path(band(0.9)));
    const f = ans.forecast;
    this.line({ color: '#f0b90b', lineWidth: 3, lastValueVisible: true, title: 'forecast' },
              path(f.mean_trajectory || []));
    const actual = ans.actual && Array.isArray(ans.actual.returns) ? ans.actual : null;
    if (actual) {
      this.line({ color: '#ffffff', lineWidth: 2, lineStyle: LineStyle.Dotted, lastValueVisible: true, title: 'actual' },
                path(actual.returns));
    }
    this.markers.setMarkers([{ time: t0, position: 'aboveBar', color: '#f0b90b', shape: 'arrowDown', text: bar.time }]);
    // the window, the picked bar and the hour after it
    this.chart.timeScale().setVisibleRange({ from: t0 - 45 * 60, to: t0 + 62 * 60 });
    $('#fan-legend').hidden = false;
    $('#chart').dataset.neighbors = String(neighbors.length);
    const hi = HORIZONS.indexOf(horizon);
    const actualAt = actual && hi >= 0 ? actual.returns[hi] : null;
    const hit = isNum(actualAt) && actualAt !== 0 ? (f.direction === 'UP') === (actualAt > 0) : null;
    const dirCls = f.direction === 'UP' ? 'up' : 'down';
    $('#forecast').innerHTML = `
      <div class="muted">${esc(ans.query.symbol)} · window ending ${esc(bar.date)} ${esc(bar.time)} ET · ${esc(ans.query.session || '')}</div>
      <div class="big ${dirCls}">${f.direction === 'UP' ? '↑' : '↓'} ${pct(f.mean_return, 3)} <span class="muted">@${f.horizon_minutes}m</span></div>
      <dl>
        <dt>P(up)</dt><dd>${frac(f.prob_up)}</dd>
        <dt>edge</dt><dd>${isNum(f.edge) ? f.edge.toFixed(3) : '—'}</dd>
        <dt>median</dt><dd>${pct(f.median_return, 3)}</dd>
        <dt>p10 / p90</dt><dd>${pct(f.worst_case, 2)} / ${pct(f.best_case, 2)}</dd>
        <dt>neighbours</dt><dd>${f.n_neighbors}</dd>
        <dt>confidence</dt><dd>${esc(f.confidence)}</dd>
        <dt>price at query</dt><dd>${c29.toFixed(2)}</dd>
        <dt>what followed</dt><dd id="fc-actual" class="${hit === null ? '' : hit ? 'up' : 'down'}">${actual ? `${pct(actualAt, 3)} ${hit === null ? '' : hit ? '✓' : '✗'}` : 'not yet known'}</dd>
      </dl>`;
  }
}
