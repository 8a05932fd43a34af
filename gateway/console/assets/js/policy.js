// A company's policy: shown on its page, edited by the operator.

import { h, uid } from './dom.js';
import { t } from './i18n.js';

const DAY = 86400;

// lifetimeDays reads "7776000s" as 90 (days), '' when unset.
function lifetimeDays(p) {
  const s = p && p.maxTokenLifetime;
  if (!s) return '';
  const secs = parseFloat(s);
  return Number.isFinite(secs) ? String(Math.round((secs / DAY) * 100) / 100) : '';
}

// policySummary is a line for lists and the tenant admin's view.
export function policySummary(p) {
  const parts = [];
  const days = lifetimeDays(p);
  if (days) parts.push(t('policy.maxDays', { days }));
  if (p && (p.grantableContexts || []).length) parts.push(t('policy.grantsOnly', { list: p.grantableContexts.join(', ') }));
  if (p && (p.allowedClientCidrs || []).length) parts.push(t('policy.fromOnly', { list: p.allowedClientCidrs.join(', ') }));
  return parts.length ? parts.join(' · ') : t('policy.none');
}

// policyFieldset returns the form's policy section and a function that
// reads it back as the API's policy object. contexts are the catalog
// entries; the grantable choices are those the company is entitled to.
export function policyFieldset(policy, contexts, contextName) {
  const p = policy || {};
  const daysId = uid('policy-days');
  const cidrId = uid('policy-cidrs');
  const days = h('input', { id: daysId, type: 'number', min: '1', step: '1', inputmode: 'numeric', value: lifetimeDays(p),
    'aria-describedby': `${daysId}-hint` });
  const cidrs = h('textarea', { id: cidrId, rows: '3', spellcheck: 'false', 'aria-describedby': `${cidrId}-hint` });
  cidrs.value = (p.allowedClientCidrs || []).join('\n');
  const boxes = [];
  const group = h('div', { class: 'checks' });
  for (const ctx of contexts) {
    const cid = uid('grantable');
    const box = h('input', { type: 'checkbox', id: cid, value: ctx.id });
    box.checked = (p.grantableContexts || []).includes(ctx.id);
    boxes.push(box);
    group.append(h('div', { class: 'check' }, box, h('label', { for: cid, text: contextName(ctx) })));
  }
  const element = h('fieldset', { class: 'access' }, h('legend', { text: t('policy.title') }),
    h('p', { class: 'hint', text: t('policy.lead') }),
    h('div', { class: 'field' }, h('label', { for: daysId, text: t('policy.maxLifetime') }), days,
      h('p', { class: 'hint', id: `${daysId}-hint`, text: t('policy.maxLifetimeHint') })),
    h('fieldset', {}, h('legend', { text: t('policy.grantable') }), h('p', { class: 'hint', text: t('policy.grantableHint') }), group),
    h('div', { class: 'field' }, h('label', { for: cidrId, text: t('policy.cidrs') }), cidrs,
      h('p', { class: 'hint', id: `${cidrId}-hint`, text: t('policy.cidrsHint') })));
  const value = () => {
    const out = {
      grantableContexts: boxes.filter((b) => b.checked).map((b) => b.value),
      allowedClientCidrs: cidrs.value.split(/[\s,]+/).filter(Boolean),
    };
    const n = Number(days.value);
    if (days.value.trim() && n > 0) out.maxTokenLifetime = `${Math.round(n * DAY)}s`;
    return out;
  };
  return { element, value };
}
