// The performance summary (GET /performance) and, when the answer carries
// them, the honest statistics: per-bucket intervals and tests, the by-day
// record and the calibration (reliability diagram, Brier scores). Every
// optional part is drawn only when its fields are present.

import { $, esc, frac, fracRange, int, isNum, num, pct, pvalue, signClass } from './util.js';

const BUCKETS = [
  ['top_1pct', 'Top 1%'],
  ['top_5pct', 'Top 5%'],
  ['top_10pct', 'Top 10%'],
  ['long_stats', 'Long'],
  ['short_stats', 'Short'],
  ['all_stats', 'All'],
];

// Columns: [title, render(bucket) -> html, optional field (shown when any
// bucket has it)].
const COLUMNS = [
  ['N', (b) => int(b.n)],
  ['Long', (b) => int(b.long_count)],
  ['Short', (b) => int(b.short_count)],
  ['Win rate', (b) => frac(b.win_rate)],
  ['95% CI', (b) => fracRange(b.win_rate_ci), 'win_rate_ci'],
  ['Chance', (b) => frac(b.chance_win_rate), 'chance_win_rate'],
  ['p', (b) => pvalue(b.p_value), 'p_value'],
  ['Mean P&L', (b) => colored(b.mean_pnl, pct(b.mean_pnl, 3))],
  ['Median', (b) => colored(b.median_pnl, pct(b.median_pnl, 3))],
  ['PF', (b) => num(b.profit_factor, 2), 'profit_factor'],
  ['Avg win', (b) => colored(b.avg_win, pct(b.avg_win, 3)), 'avg_win'],
  ['Avg loss', (b) => colored(b.avg_loss, pct(b.avg_loss, 3)), 'avg_loss'],
  // a fall from the peak: shown as the loss it is
  ['Max DD', (b) => pct(b.max_drawdown == null ? null : -Math.abs(b.max_drawdown), 2), 'max_drawdown'],
];

function colored(x, text) {
  const c = signClass(x);
  return c ? `<span class="${c}">${text}</span>` : text;
}

export function renderPerformance(perf) {
  const buckets = BUCKETS.map(([k, label]) => [k, label, perf ? perf[k] : null]);
  const present = (field) => buckets.some(([, , b]) => b && b[field] !== undefined);
  const cols = COLUMNS.filter(([, , field]) => !field || present(field));

  const table = $('#perf-table');
  table.tHead.innerHTML = `<tr><th>Bucket</th>${cols.map(([t]) => `<th class="num">${t}</th>`).join('')}</tr>`;
  table.tBodies[0].innerHTML = buckets.map(([k, label, b]) => {
    const cells = cols.map(([, f]) => `<td class="num">${b ? f(b) : '—'}</td>`).join('');
    return `<tr data-bucket="${k}"><td>${label}</td>${cells}</tr>`;
  }).join('');

  const counts = perf
    ? `${int(perf.total_predictions)} predictions · ${int(perf.verified)} verified · ${int(perf.pending)} pending`
      + (isNum(perf.unverifiable) && perf.unverifiable ? ` · ${int(perf.unverifiable)} unverifiable` : '')
    : '';
  $('#perf-counts').textContent = counts;

  const hasDays = perf && Array.isArray(perf.by_day);
  const cal = perf && perf.calibration && typeof perf.calibration === 'object' ? perf.calibration : null;
  $('#by-day').hidden = !hasDays;
  $('#calibration').hidden = !cal;
  $('#perf-extra').hidden = !hasDays && !cal;
  if (hasDays) renderDays(perf.by_day);
  if (cal) renderCalibration(cal);
}

function renderDays(days) {
  const t = $('#day-table');
  t.tHead.innerHTML = '<tr><th>Date</th><th class="num">N</th><th class="num">Wins</th><th class="num">Win rate</th><th class="num">P&L</th><th class="num">Cum P&L</th></tr>';
  t.tBodies[0].innerHTML = days.slice().reverse().map((d) => `<tr>
    <td>${esc(d.date)}</td><td class="num">${int(d.n)}</td><td class="num">${int(d.wins)}</td>
    <td class="num">${frac(d.win_rate)}</td><td class="num">${colored(d.pnl, pct(d.pnl, 2))}</td>
    <td class="num">${colored(d.cum_pnl, pct(d.cum_pnl, 2))}</td></tr>`).join('');
  $('#equity').innerHTML = equitySvg(days);
}

// The cumulative P&L by day as a line over a zero axis.
function equitySvg(days) {
  const W = 420;
  const H = 110;
  const P = 26;
  const ys = days.map((d) => d.cum_pnl).filter(isNum);
  if (!ys.length) return '';
  const lo = Math.min(0, ...ys);
  const hi = Math.max(0, ...ys);
  const span = hi - lo || 1;
  const x = (i) => P + (days.length === 1 ? (W - 2 * P) / 2 : (i * (W - 2 * P)) / (days.length - 1));
  const y = (v) => 8 + ((hi - v) * (H - 24)) / span;
  const pts = days.map((d, i) => `${x(i).toFixed(1)},${y(isNum(d.cum_pnl) ? d.cum_pnl : 0).toFixed(1)}`).join(' ');
  const last = ys[ys.length - 1];
  const color = last >= 0 ? 'var(--up)' : 'var(--down)';
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="cumulative P&L by day">
    <line class="axis" x1="${P}" x2="${W - P}" y1="${y(0)}" y2="${y(0)}"/>
    <text x="2" y="${y(hi) + 4}">${pct(hi, 1)}</text><text x="2" y="${y(lo)}">${pct(lo, 1)}</text>
    <polyline fill="none" stroke="${color}" stroke-width="1.6" points="${pts}"/>
    ${days.map((d, i) => `<circle cx="${x(i)}" cy="${y(isNum(d.cum_pnl) ? d.cum_pnl : 0)}" r="2.2" fill="${color}"><title>${esc(d.date)}: ${pct(d.cum_pnl, 2)}</title></circle>`).join('')}
    <text x="${P}" y="${H - 2}">${esc(days[0].date)}</text>
    <text x="${W - P}" y="${H - 2}" text-anchor="end">${esc(days[days.length - 1].date)}</text>
  </svg>`;
}

function renderCalibration(cal) {
  const b = cal.brier || {};
  const parts = [];
  if (isNum(b.raw)) parts.push(`Brier ${b.raw.toFixed(4)}`);
  if (isNum(b.calibrated)) parts.push(`calibrated ${b.calibrated.toFixed(4)}`);
  if (isNum(b.base_rate)) parts.push(`base rate ${b.base_rate.toFixed(4)}`);
  $('#brier').textContent = parts.join(' · ');

  const raw = Array.isArray(cal.bins) ? cal.bins : [];
  const calibrated = Array.isArray(cal.calibrated_bins) ? cal.calibrated_bins : [];
  $('#reliability').innerHTML = reliabilitySvg(raw, calibrated);

  const t = $('#calib-table');
  t.tHead.innerHTML = '<tr><th></th><th>Bin</th><th class="num">N</th><th class="num">Predicted</th><th class="num">Realized</th><th class="num">95% CI</th></tr>';
  const row = (kind, x) => `<tr><td class="dim">${kind}</td><td>${frac(x.lo, 0)}–${frac(x.hi, 0)}</td>
    <td class="num">${int(x.n)}</td><td class="num">${frac(x.mean_prob_up)}</td>
    <td class="num">${frac(x.realized_up)}</td><td class="num ci">${fracRange(x.realized_up_ci)}</td></tr>`;
  t.tBodies[0].innerHTML = raw.map((x) => row('raw', x)).join('')
    + calibrated.map((x) => row('calibrated', x)).join('');
}

// Predicted probability (x) against the realized frequency of up moves (y),
// one point per bin with its interval as a vertical bar; the diagonal is
// perfect calibration.
function reliabilitySvg(raw, calibrated) {
  const S = 220;
  const P = 28;
  const x = (p) => P + p * (S - P - 8);
  const y = (p) => 8 + (1 - p) * (S - P - 8);
  const series = (bins, color, dx, cls) => bins.filter((b) => isNum(b.mean_prob_up) && isNum(b.realized_up) && b.n > 0).map((b) => {
    const ci = Array.isArray(b.realized_up_ci) ? b.realized_up_ci : null;
    const cx = x(b.mean_prob_up) + dx;
    const bar = ci && isNum(ci[0]) && isNum(ci[1])
      ? `<line x1="${cx}" x2="${cx}" y1="${y(ci[0])}" y2="${y(ci[1])}" stroke="${color}" stroke-width="1.2" opacity=".7"/>
         <line x1="${cx - 3}" x2="${cx + 3}" y1="${y(ci[0])}" y2="${y(ci[0])}" stroke="${color}" opacity=".7"/>
         <line x1="${cx - 3}" x2="${cx + 3}" y1="${y(ci[1])}" y2="${y(ci[1])}" stroke="${color}" opacity=".7"/>`
      : '';
    const r = Math.max(2.5, Math.min(6, 1.5 + Math.sqrt(b.n) / 4));
    return `<g class="${cls}">${bar}<circle cx="${cx}" cy="${y(b.realized_up)}" r="${r}" fill="${color}"><title>${frac(b.lo, 0)}–${frac(b.hi, 0)}: n ${b.n}, predicted ${frac(b.mean_prob_up)}, realized ${frac(b.realized_up)} ${fracRange(b.realized_up_ci)}</title></circle></g>`;
  }).join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return `<svg viewBox="0 0 ${S + 130} ${S + 14}" width="100%" role="img" aria-label="reliability diagram">
    <line class="axis" x1="${P}" x2="${x(1)}" y1="${y(0)}" y2="${y(0)}"/>
    <line class="axis" x1="${P}" x2="${P}" y1="${y(0)}" y2="${y(1)}"/>
    <line class="diag" x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}"/>
    ${ticks.map((t) => `<text x="${x(t)}" y="${S - 8}" text-anchor="middle">${t * 100}</text><text x="${P - 4}" y="${y(t) + 3}" text-anchor="end">${t * 100}</text>`).join('')}
    <text x="${(P + x(1)) / 2}" y="${S + 10}" text-anchor="middle">predicted P(up) %</text>
    ${series(raw, '#f0b90b', -2, 'raw-bin')}
    ${series(calibrated, '#3d7eff', 2, 'cal-bin')}
    <circle cx="${S + 12}" cy="20" r="4" fill="#f0b90b"/><text x="${S + 20}" y="23">raw</text>
    <circle cx="${S + 12}" cy="38" r="4" fill="#3d7eff"/><text x="${S + 20}" y="41">calibrated</text>
    <text x="${S + 6}" y="62">y: realized up %</text>
    <text x="${S + 6}" y="76">bars: 95% interval</text>
  </svg>`;
}
