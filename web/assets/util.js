// Formatting and small DOM helpers shared by the page's modules.

export const HORIZONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60];

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);

// A percent number (1.2 = 1.2 %), signed.
export function pct(x, digits = 2) {
  if (!isNum(x)) return '—';
  const s = x.toFixed(digits);
  return `${x > 0 ? '+' : ''}${s}%`;
}

// A fraction as a percent (0.634 = 63.4 %).
export function frac(x, digits = 1) {
  if (!isNum(x)) return '—';
  return `${(100 * x).toFixed(digits)}%`;
}

export function num(x, digits = 3) {
  return isNum(x) ? x.toFixed(digits) : '—';
}

export function int(x) {
  return isNum(x) ? String(Math.round(x)) : '—';
}

// [lo, hi] of fractions as "52–61%".
export function fracRange(ci, digits = 0) {
  if (!Array.isArray(ci) || ci.length !== 2 || !isNum(ci[0]) || !isNum(ci[1])) return '—';
  return `${(100 * ci[0]).toFixed(digits)}–${(100 * ci[1]).toFixed(digits)}%`;
}

export function pvalue(p) {
  if (!isNum(p)) return '—';
  if (p < 0.001) return '<0.001';
  return p.toFixed(3);
}

// A class for the sign of a number.
export function signClass(x) {
  if (!isNum(x) || x === 0) return '';
  return x > 0 ? 'up' : 'down';
}

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

export const $ = (sel, root = document) => root.querySelector(sel);

const NY = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York', hourCycle: 'h23', year: 'numeric',
  month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  second: '2-digit',
});

// New York wall time of an ISO-8601 instant: {date: "YYYY-MM-DD",
// time: "HH:MM", wall: seconds of that wall time read as UTC} (the charts'
// time axis shows New York time this way).
export function nyParts(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  const p = {};
  for (const part of NY.formatToParts(d)) p[part.type] = part.value;
  const date = `${p.year}-${p.month}-${p.day}`;
  const time = `${p.hour}:${p.minute}`;
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) / 1000;
  return { date, time, wall };
}

export function nyTime(iso) {
  const p = iso ? nyParts(iso) : null;
  return p ? p.time : '—';
}

// "YYYY-MM-DD" + "HH:MM" New York wall time as chart seconds.
export function wallSeconds(date, hhmm) {
  const [y, m, d] = date.split('-').map(Number);
  const [H, M] = hhmm.split(':').map(Number);
  return Date.UTC(y, m - 1, d, H, M) / 1000;
}

export function wallToHHMM(sec) {
  const d = new Date(sec * 1000);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

// Linear-interpolated quantile of numbers (q in 0..1).
export function quantile(values, q) {
  const v = values.filter(isNum).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

export { isNum };
