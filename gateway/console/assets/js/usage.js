// A token's usage: grants per UTC day as a bar chart (plain SVG, nothing
// fetched from outside) with a table alternative for screen readers and
// for reading the exact numbers.

import { h, uid } from './dom.js';
import { t, formatNumber } from './i18n.js';
import { call } from './api.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) if (c != null) el.append(c);
  return el;
}

// lastDays returns the n UTC dates (YYYY-MM-DD) ending today, oldest first.
function lastDays(n, now = new Date()) {
  const out = [];
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let i = n - 1; i >= 0; i--) out.push(new Date(today - i * 86400000).toISOString().slice(0, 10));
  return out;
}

const count = (v) => Number(v || 0); // int64 fields arrive as JSON strings

// chart draws succeeded (below) and failed (stacked above) grants per day.
function chart(days, byDate, titleId) {
  const width = 600;
  const height = 140;
  const slot = width / days.length;
  const peak = Math.max(1, ...days.map((d) => count(byDate.get(d)?.succeeded) + count(byDate.get(d)?.failed)));
  const bars = [];
  days.forEach((d, i) => {
    const ok = count(byDate.get(d)?.succeeded);
    const failed = count(byDate.get(d)?.failed);
    const okH = (ok / peak) * (height - 10);
    const failH = (failed / peak) * (height - 10);
    const x = i * slot + slot * 0.15;
    const w = Math.max(1, slot * 0.7);
    if (ok) bars.push(svg('rect', { class: 'usage-ok', x, y: height - okH, width: w, height: okH }));
    if (failed) bars.push(svg('rect', { class: 'usage-failed', x, y: height - okH - failH, width: w, height: failH }));
  });
  return svg('svg', { class: 'usage-chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': titleId, preserveAspectRatio: 'none' },
    svg('line', { class: 'usage-axis', x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5 }),
    ...bars);
}

// usageSection returns the token detail's usage card; it loads itself.
export function usageSection(id) {
  const headingId = uid('usage');
  const summaryId = uid('usage-summary');
  const rangeId = uid('usage-range');
  const range = h('select', { id: rangeId },
    h('option', { value: '30', text: t('usage.last30') }),
    h('option', { value: '90', text: t('usage.last90') }));
  const body = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    const n = Number(range.value);
    body.replaceChildren(h('p', { class: 'muted small', text: t('usage.loading') }));
    try {
      const r = await call('GET', `/v1/tokens/${encodeURIComponent(id)}/usage?days=${n}`);
      const list = r.days || [];
      const byDate = new Map(list.map((d) => [d.date, d]));
      const ok = list.reduce((s, d) => s + count(d.succeeded), 0);
      const failed = list.reduce((s, d) => s + count(d.failed), 0);
      const summary = h('p', { id: summaryId, class: 'small',
        text: t('usage.summary', { ok: formatNumber(ok), failed: formatNumber(failed), days: formatNumber(n) }) });
      const rows = list.map((d) => h('tr', {},
        h('th', { scope: 'row', text: d.date }),
        h('td', { class: 'num', text: formatNumber(count(d.succeeded)) }),
        h('td', { class: 'num', text: formatNumber(count(d.failed)) })));
      const table = h('table', { class: 'usage-table' },
        h('caption', { text: t('usage.tableCaption') }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: t('usage.date') }),
          h('th', { scope: 'col', text: t('usage.succeeded') }),
          h('th', { scope: 'col', text: t('usage.failed') }))),
        h('tbody', {}, rows));
      body.replaceChildren(summary,
        chart(lastDays(n), byDate, summaryId),
        h('p', { class: 'usage-legend small' },
          h('span', { class: 'usage-key usage-key-ok', text: t('usage.succeeded') }), ' ',
          h('span', { class: 'usage-key usage-key-failed', text: t('usage.failed') })),
        list.length
          ? h('details', {}, h('summary', { text: t('usage.showTable') }), table)
          : h('p', { class: 'muted small', text: t('usage.none') }),
        h('p', { class: 'muted small', text: t('usage.note') }));
    } catch (e) {
      body.replaceChildren(h('p', { class: 'error', role: 'alert', text: t('usage.error') }));
    }
  };
  range.addEventListener('change', load);
  load();
  return h('section', { class: 'card usage', 'aria-labelledby': headingId },
    h('div', { class: 'view-head' }, h('h2', { id: headingId, text: t('usage.title') }),
      h('div', { class: 'field' }, h('label', { for: rangeId, class: 'sr-only', text: t('usage.range') }), range)),
    body);
}
