// Bar charts drawn as inline SVG from counts per time bucket. Colours
// come from CSS classes (console.css), never from style attributes, which
// the CSP forbids.

import { h, newId } from './ui.js';
import { t, fmtClock, fmtNumber } from './i18n.js';

const W = 600;
const H = 190;
const M = { top: 12, right: 8, bottom: 26, left: 40 };

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, so that
// the axis has round ticks; at least 4 for a readable empty chart.
function niceMax(v) {
  if (v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) {
    if (v <= m * p) return m * p;
  }
  return 10 * p;
}

// barChart draws stacked bars: series is [{label, cls, counts}], all with
// one count per bucket; since is the first bucket's start, bucket its
// width in seconds. The figure's caption is the title; the SVG's
// description says the totals and the peak, for screen readers.
export function barChart({ id, title, series, since, bucket }) {
  const n = series[0].counts.length;
  const totals = Array.from({ length: n }, (_, i) => series.reduce((s, x) => s + x.counts[i], 0));
  const max = niceMax(Math.max(0, ...totals));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const bw = pw / n;
  const y = (v) => M.top + ph - (v / max) * ph;
  const at = (i) => new Date(since.getTime() + i * bucket * 1000);

  const total = totals.reduce((a, b) => a + b, 0);
  let peak = 0;
  totals.forEach((v, i) => { if (v > totals[peak]) peak = i; });
  const titleId = newId('chart-title');
  const descId = newId('chart-desc');
  const desc = total === 0
    ? t('chart.desc_empty', { from: fmtClock(at(0)), to: fmtClock(at(n)) })
    : t('chart.desc', { total: fmtNumber(total), from: fmtClock(at(0)), to: fmtClock(at(n)), peak: fmtNumber(totals[peak]), at: fmtClock(at(peak)) });

  const svg = h('svg:svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}` },
    h('svg:title', { id: titleId }, title),
    h('svg:desc', { id: descId }, desc));

  // Grid lines and y ticks at 0, max/2 and max.
  for (const v of [0, max / 2, max]) {
    svg.append(
      h('svg:line', { class: v === 0 ? 'axis' : 'grid', x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
      h('svg:text', { class: 'tick', x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtNumber(v)));
  }
  // x ticks: start, middle, end.
  for (const i of [0, Math.round(n / 2), n]) {
    svg.append(h('svg:text', { class: 'tick', x: M.left + i * bw, y: H - 8, 'text-anchor': i === 0 ? 'start' : i === n ? 'end' : 'middle' }, fmtClock(at(i))));
  }
  // Bars, stacked bottom up in series order.
  const gap = bw > 4 ? 1 : 0;
  for (let i = 0; i < n; i++) {
    let base = 0;
    for (const s of series) {
      const v = s.counts[i];
      if (v > 0) {
        svg.append(h('svg:rect', { class: `bar ${s.cls}`, x: M.left + i * bw + gap / 2, width: Math.max(bw - gap, 0.5), y: y(base + v), height: y(base) - y(base + v) },
          h('svg:title', {}, `${fmtClock(at(i))} · ${s.label}: ${fmtNumber(v)}`)));
      }
      base += v;
    }
  }
  const legend = series.length > 1
    ? h('div', { class: 'legend' }, series.map((s) => h('span', {}, h('span', { class: `swatch ${s.cls}`, 'aria-hidden': 'true' }), s.label)))
    : null;
  return h('figure', { class: 'chart', id }, h('figcaption', {}, title), svg, legend);
}
