// chave's admin console: the token registry screen of the product document
// ("Cadastro de Tokens de Acesso"), over the public REST API only.

import { h, clear, uid } from './dom.js';
import { t, load, lang, preferred, formatDate, formatNumber } from './i18n.js';
import { call, q, session, signIn, signOut, whenExpired, APIError } from './api.js';
import { openDialog, confirmDialog, showSecret, toast } from './dialogs.js';
import { usageSection } from './usage.js';
import { policyFieldset, policySummary } from './policy.js';

const main = document.getElementById('main');
const PAGE_SIZE = 50;
const SOON = 7 * 24 * 3600 * 1000; // "Expira em breve": active, expiring within 7 days
const ADMIN_SCOPE = 'registry.admin';

// Kept while the page lives: the list's filters and the catalogs already read.
const state = { tenant: '', state: '', search: '', activity: '' };
const UNUSED = 90 * 24 * 3600 * 1000; // the list's "unused for 90 days" filter
const contextCache = new Map(); // tenant ('' = whole catalog) → Promise<contexts>
let tenantsCache = null;
let knownClientId = ''; // offered again when the session expires

// ---- start ----

async function start() {
  await load(preferred());
  const sel = document.getElementById('lang');
  sel.value = lang();
  sel.addEventListener('change', async () => {
    await load(sel.value, true);
    render();
  });
  document.getElementById('signout').addEventListener('click', () => {
    signOut();
    contextCache.clear();
    tenantsCache = null;
    location.hash = '#/tokens';
    render();
  });
  whenExpired(reauthenticate, () => {
    reauthenticate().catch(() => {});
  });
  window.addEventListener('hashchange', render);
  render();
}

// ---- sign-in ----

function signInForm(onDone, expired) {
  const idField = uid('client-id');
  const secretField = uid('client-secret');
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const id = h('input', { id: idField, name: 'client_id', required: true, autocomplete: 'username', spellcheck: 'false' });
  const secret = h('input', { id: secretField, name: 'client_secret', type: 'password', required: true, autocomplete: 'off' });
  id.value = (session() || {}).clientId || knownClientId;
  const button = h('button', { type: 'submit', class: 'btn btn-primary', text: t('auth.signIn') });
  const form = h(
    'form',
    { class: 'stack', novalidate: true },
    expired ? h('p', { class: 'notice', text: t('auth.expired') }) : null,
    h('div', { class: 'field' }, h('label', { for: idField, text: t('auth.clientId') }), id),
    h('div', { class: 'field' }, h('label', { for: secretField, text: t('auth.clientSecret') }), secret,
      h('p', { class: 'hint', text: t('auth.hint') })),
    err,
    h('div', { class: 'actions' }, button),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    if (!id.value.trim() || !secret.value) {
      err.textContent = t('auth.missing');
      err.hidden = false;
      (id.value.trim() ? secret : id).focus();
      return;
    }
    button.disabled = true;
    try {
      knownClientId = (await signIn(id.value.trim(), secret.value)).clientId;
      secret.value = ''; // the secret is never kept
      onDone();
    } catch (e) {
      err.textContent = e.status === 401 || e.code === 'invalid_client' ? t('auth.invalid') : errorText(e);
      err.hidden = false;
      secret.focus();
    } finally {
      button.disabled = false;
    }
  });
  return { form, focus: () => (id.value ? secret : id).focus() };
}

function renderSignIn() {
  const { form, focus } = signInForm(() => render());
  clear(main).append(
    h('section', { class: 'card signin', 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title', text: t('auth.title') }),
      h('p', { class: 'muted', text: t('auth.lead') }),
      form),
  );
  focus();
}

// reauthenticate asks to sign in again over whatever is on the screen, so
// nothing the user typed is lost; it resolves once signed in.
let reauthPending = null;
function reauthenticate() {
  if (reauthPending) return reauthPending;
  if (!main.querySelector('.view')) {
    render(); // nothing on screen to keep: the sign-in page
    return Promise.reject(new APIError(401, t('auth.expired')));
  }
  reauthPending = new Promise((resolve, reject) => {
    let dlg;
    const { form, focus } = signInForm(() => dlg.close('done'), true);
    dlg = openDialog({
      title: t('auth.expiredTitle'),
      body: [form],
      onClose: (how) => {
        reauthPending = null;
        if (how === 'done') {
          updateChrome();
          resolve();
        } else {
          reject(new APIError(401, t('auth.expired')));
          render();
        }
      },
    });
    focus();
  });
  return reauthPending;
}

// ---- chrome ----

function updateChrome() {
  const s = session();
  document.getElementById('nav').hidden = !s;
  document.getElementById('nav-companies').hidden = !(s && s.operator);
  document.getElementById('signout').hidden = !s;
  const who = document.getElementById('who');
  who.hidden = !s;
  if (s) who.textContent = s.operator ? t('auth.operator', { id: s.clientId }) : t('auth.tenantAdmin', { id: s.clientId, tenant: s.tenant });
  const route = location.hash.startsWith('#/companies') ? 'companies' : 'tokens';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${route}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// ---- routing ----

let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  updateChrome();
  if (!session()) {
    renderSignIn();
    return;
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const view = document.createElement('div');
  view.className = 'view';
  const swap = () => {
    if (seq !== renderSeq) return false;
    clear(main).append(view);
    const h1 = view.querySelector('h1');
    if (h1) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
    return true;
  };
  try {
    if (parts[0] === 'companies' && session().operator) {
      if (parts[1] === 'new') await companyForm(view, null);
      else if (parts[1] && parts[2] === 'edit') await companyForm(view, parts[1]);
      else await companiesView(view);
    } else if (parts[0] === 'tokens' && parts[1] === 'new') {
      await tokenForm(view, null);
    } else if (parts[0] === 'tokens' && parts[1] && parts[2] === 'edit') {
      await tokenForm(view, parts[1]);
    } else if (parts[0] === 'tokens' && parts[1]) {
      await detailView(view, parts[1]);
    } else {
      await listView(view, swap);
      return;
    }
  } catch (e) {
    if (seq !== renderSeq) return;
    clear(view).append(h('h1', { text: t('error.title') }), h('p', { class: 'error', role: 'alert', text: errorText(e) }),
      h('p', {}, h('a', { href: '#/tokens', text: t('nav.backToList') })));
  }
  swap();
}

function errorText(e) {
  if (e instanceof APIError) {
    if (e.status === 403) return t('error.forbidden');
    if (e.status === 404) return t('error.notFound');
    if (e.status === 0 || e.status >= 500) return t('error.server');
    return e.message;
  }
  return t('error.network');
}

// ---- catalog and tenants ----

function contextsFor(tenant) {
  const s = session();
  const key = s.operator ? tenant || '' : s.tenant;
  if (!contextCache.has(key)) {
    const p = call('GET', `/v1/contexts${q({ tenant: s.operator ? key : '' })}`).then((r) => r.contexts || []);
    p.catch(() => contextCache.delete(key));
    contextCache.set(key, p);
  }
  return contextCache.get(key);
}

async function tenants() {
  const s = session();
  if (!s.operator) return [{ id: s.tenant, displayName: s.tenant }];
  if (!tenantsCache) {
    tenantsCache = call('GET', '/v1/tenants').then((r) => r.tenants || []);
    tenantsCache.catch(() => (tenantsCache = null));
  }
  return tenantsCache;
}

function contextName(ctx) {
  return (ctx.displayNames && ctx.displayNames[lang()]) || ctx.displayName || ctx.id;
}

function scopeName(id, catalog) {
  if (id === ADMIN_SCOPE) return t('access.adminScope');
  const c = catalog.find((x) => x.id === id);
  return c ? contextName(c) : id;
}

function paramLabel(ctxId, name) {
  if (ctxId === 'foccohub' && name === 'marketplace') return t('param.marketplace');
  if (ctxId === 'telegram' && name === 'botToken') return t('param.botToken');
  return name;
}

function paramHint(ctxId, name, spec) {
  if (ctxId === 'telegram' && name === 'botToken') return t('param.botTokenHint');
  if (ctxId === 'foccohub' && name === 'marketplace') return t('param.marketplaceHint');
  return spec.description || '';
}

// ---- badges ----

// LEAK_ACTOR revokes a credential whose secret a leak report named
// (POST /v1/leaks): the console flags it apart from a revocation by a person.
const LEAK_ACTOR = 'leak-report';

function tokenStatus(tok, now = Date.now()) {
  const exp = tok.expireTime ? Date.parse(tok.expireTime) : 0;
  if (tok.state === 'TOKEN_STATE_REVOKED') return tok.revoker === LEAK_ACTOR ? 'leaked' : 'revoked';
  if (tok.state === 'TOKEN_STATE_EXPIRED' || (exp && exp <= now)) return 'expired';
  if (exp && exp - now <= SOON) return 'soon';
  return 'active';
}

function badge(status) {
  const label = {
    active: () => t('state.active'),
    revoked: () => t('state.revoked'),
    leaked: () => t('state.leaked'),
    expired: () => t('state.expired'),
    soon: () => t('state.soon'),
  }[status]();
  const b = h('span', { class: `badge badge-${status}`, text: label });
  if (status === 'leaked') b.title = t('state.leakedHint');
  return b;
}

function accessSummary(tok, catalog) {
  const scopes = (tok.contexts || []).map((c) => scopeName(c, catalog)).sort((a, b) => a.localeCompare(b, lang()));
  if (tok.generalAccess) return [t('access.general'), ...scopes.filter((x) => x === t('access.adminScope'))].join(' · ');
  return scopes.join(', ');
}

// ---- list (Tela Inicial) ----

async function listView(view, swap) {
  const s = session();
  const [tenantList, catalog] = await Promise.all([tenants(), contextsFor('')]);
  if (!s.operator) state.tenant = s.tenant;

  const title = h('h1', { text: t('list.title') });
  const newButton = h('a', { class: 'btn btn-primary', href: '#/tokens/new', text: t('list.generate') });

  const tenantId = uid('tenant');
  const stateId = uid('state');
  const searchId = uid('search');
  const tenantSel = h('select', { id: tenantId, disabled: !s.operator },
    s.operator ? h('option', { value: '', text: t('list.allCompanies') }) : null,
    tenantList.map((x) => h('option', { value: x.id, text: x.displayName || x.id })));
  tenantSel.value = state.tenant;
  const stateSel = h('select', { id: stateId },
    h('option', { value: '', text: t('list.allStates') }),
    h('option', { value: 'TOKEN_STATE_ACTIVE', text: t('state.active') }),
    h('option', { value: 'TOKEN_STATE_REVOKED', text: t('state.revoked') }),
    h('option', { value: 'TOKEN_STATE_EXPIRED', text: t('state.expired') }));
  stateSel.value = state.state;
  const activityId = uid('activity');
  const activitySel = h('select', { id: activityId },
    h('option', { value: '', text: t('list.anyActivity') }),
    h('option', { value: 'unused90', text: t('list.unused90') }),
    h('option', { value: 'expiring7', text: t('list.expiring7') }));
  activitySel.value = state.activity;
  const policyNote = h('p', { class: 'muted small', hidden: true });
  if (!s.operator) {
    call('GET', `/v1/tenants/${encodeURIComponent(s.tenant)}`).then((ten) => {
      policyNote.textContent = t('policy.yours', { summary: policySummary(ten.policy) });
      policyNote.hidden = false;
    }).catch(() => {});
  }
  const search = h('input', { id: searchId, type: 'search', value: state.search, placeholder: t('list.searchPlaceholder'), autocomplete: 'off' });

  const tbody = h('tbody');
  const table = h('table', { class: 'tokens' },
    h('caption', { class: 'sr-only', text: t('list.caption') }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: t('field.name') }),
      h('th', { scope: 'col', text: t('field.company') }),
      h('th', { scope: 'col', text: t('field.state') }),
      h('th', { scope: 'col', text: t('field.access') }),
      h('th', { scope: 'col', text: t('field.expireTime') }),
      h('th', { scope: 'col', text: t('field.lastUse') }),
      h('th', { scope: 'col', text: t('field.createTime') }),
      h('th', { scope: 'col', text: t('list.actions') }))),
    tbody);
  const empty = h('p', { class: 'empty', hidden: true, text: t('list.empty') });
  const count = h('p', { class: 'count', role: 'status', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true, text: t('list.loadMore') });
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const history = h('p', { class: 'muted small', text: t('list.historyNote') });

  const tenantNames = new Map(tenantList.map((x) => [x.id, x.displayName || x.id]));
  let nextPageToken = '';
  let loaded = 0;

  const row = (tok) => {
    const name = tok.displayName || tok.id;
    const status = tokenStatus(tok);
    const actions = h('td', { class: 'row-actions', 'data-label': t('list.actions') },
      h('a', { href: `#/tokens/${encodeURIComponent(tok.id)}`, class: 'btn btn-small', text: t('list.details'), 'aria-label': t('list.detailsOf', { name }) }));
    if (status !== 'revoked' && status !== 'leaked') {
      actions.append(h('button', {
        type: 'button', class: 'btn btn-small btn-danger-ghost', text: t('action.revoke'), 'aria-label': t('list.revokeOf', { name }),
        onclick: () => revokeToken(tok, (updated) => {
          const tr = row(updated);
          tbody.replaceChild(tr, rowOf.get(tok.id));
          rowOf.set(tok.id, tr);
          filter();
        }),
      }));
    }
    const tr = h('tr', { 'data-name': name.toLowerCase() },
      h('td', { 'data-label': t('field.name') },
        h('a', { href: `#/tokens/${encodeURIComponent(tok.id)}`, class: 'token-name', text: name }),
        tok.description ? h('span', { class: 'muted small block', text: tok.description }) : null),
      h('td', { 'data-label': t('field.company'), text: tenantNames.get(tok.tenant) || tok.tenant || '—' }),
      h('td', { 'data-label': t('field.state') }, badge(status)),
      h('td', { 'data-label': t('field.access'), text: accessSummary(tok, catalog) }),
      h('td', { 'data-label': t('field.expireTime'), text: tok.expireTime ? formatDate(tok.expireTime) : t('token.never') }),
      h('td', { 'data-label': t('field.lastUse'), text: tok.lastUseTime ? formatDate(tok.lastUseTime) : t('token.neverUsed') }),
      h('td', { 'data-label': t('field.createTime'), text: formatDate(tok.createTime) }),
      actions);
    return tr;
  };
  const rowOf = new Map();

  // filter hides the loaded rows whose name does not match the search;
  // the API has no name filter, so the search covers what is loaded.
  const filter = () => {
    const needle = search.value.trim().toLowerCase();
    state.search = search.value;
    let shown = 0;
    for (const tr of tbody.rows) {
      const hit = !needle || tr.dataset.name.includes(needle);
      if (tr.hidden === hit) tr.hidden = !hit; // touch only the rows that change
      if (hit) shown++;
    }
    const n = formatNumber(shown);
    count.textContent = shown === 1 ? t('list.showingOne', { n }) : t('list.showing', { n });
    if (needle && nextPageToken) count.textContent += ` ${t('list.searchLoadedOnly')}`;
    empty.hidden = shown > 0;
    table.hidden = shown === 0;
  };

  let generation = 0; // a reload's answers replace, never join, an older one's
  const loadPage = async () => {
    const gen = generation;
    more.disabled = true;
    err.hidden = true;
    try {
      const activity = {};
      if (state.activity === 'unused90') activity.unusedSince = new Date(Date.now() - UNUSED).toISOString();
      if (state.activity === 'expiring7') Object.assign(activity, { expireBefore: new Date(Date.now() + SOON).toISOString(), state: 'TOKEN_STATE_ACTIVE' });
      const r = await call('GET', `/v1/tokens${q({ pageSize: PAGE_SIZE, pageToken: nextPageToken, state: state.state, tenant: state.tenant, ...activity })}`);
      if (gen !== generation) return; // the filters changed while it loaded
      const frag = document.createDocumentFragment();
      for (const tok of r.tokens || []) {
        const tr = row(tok);
        rowOf.set(tok.id, tr);
        frag.append(tr);
      }
      tbody.append(frag); // only the new page is built
      loaded += (r.tokens || []).length;
      nextPageToken = r.nextPageToken || '';
      more.hidden = !nextPageToken;
      filter();
    } catch (e) {
      err.textContent = errorText(e);
      err.hidden = false;
    } finally {
      more.disabled = false;
    }
  };
  const reload = () => {
    state.tenant = tenantSel.value;
    state.state = stateSel.value;
    state.activity = activitySel.value;
    generation++;
    nextPageToken = '';
    loaded = 0;
    tbody.replaceChildren();
    rowOf.clear();
    return loadPage();
  };
  tenantSel.addEventListener('change', reload);
  stateSel.addEventListener('change', reload);
  activitySel.addEventListener('change', reload);
  search.addEventListener('input', filter);
  more.addEventListener('click', loadPage);

  view.append(
    h('div', { class: 'view-head' }, title, newButton),
    h('p', { class: 'muted', text: t('list.lead') }),
    policyNote,
    h('div', { class: 'filters', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: tenantId, text: t('field.company') }), tenantSel),
      h('div', { class: 'field' }, h('label', { for: stateId, text: t('field.state') }), stateSel),
      h('div', { class: 'field' }, h('label', { for: activityId, text: t('list.activity') }), activitySel),
      h('div', { class: 'field grow' }, h('label', { for: searchId, text: t('list.search') }), search)),
    err, count, table, empty,
    h('div', { class: 'actions center' }, more),
    history);
  await loadPage();
  swap();
}

// ---- revoke and rotate ----

async function revokeToken(tok, done) {
  const name = tok.displayName || tok.id;
  const ok = await confirmDialog({
    title: t('revoke.title', { name }),
    message: t('revoke.message', { name }),
    confirm: t('action.revoke'),
    danger: true,
  });
  if (!ok) return;
  try {
    const updated = await call('POST', `/v1/tokens/${encodeURIComponent(tok.id)}:revoke`, {});
    toast(t('revoke.done', { name }));
    done(updated);
  } catch (e) {
    toast(errorText(e), true);
  }
}

// GRACE_CHOICES are the grace periods the rotate dialog offers, in hours
// (0: the old secret stops at once); the API allows up to 7 days.
const GRACE_CHOICES = [0, 1, 24, 72, 168];

// rotateDialog asks to rotate and for how long the old secret keeps
// working; it resolves the grace period in hours, or null when cancelled.
function rotateDialog(name) {
  return new Promise((resolve) => {
    const graceId = uid('grace');
    const hint = h('p', { class: 'muted small', id: uid('grace-hint') });
    const sel = h('select', { id: graceId, 'aria-describedby': hint.id },
      ...GRACE_CHOICES.map((hours) => h('option', { value: String(hours), text: hours ? t('rotate.graceFor', { period: gracePeriod(hours) }) : t('rotate.graceNone') })));
    const message = h('p', { text: t('rotate.message', { name }) });
    const explain = () => {
      const hours = Number(sel.value);
      message.textContent = hours ? t('rotate.messageGrace', { name, period: gracePeriod(hours) }) : t('rotate.message', { name });
      hint.textContent = hours ? t('rotate.graceHint') : '';
    };
    sel.addEventListener('change', explain);
    const yes = h('button', { type: 'button', class: 'btn btn-danger', text: t('action.rotate') });
    const no = h('button', { type: 'button', class: 'btn', text: t('common.cancel') });
    const dlg = openDialog({
      title: t('rotate.title', { name }),
      body: [message, h('div', { class: 'field' }, h('label', { for: graceId, text: t('rotate.grace') }), sel), hint],
      actions: [yes, no],
      onClose: (v) => resolve(v === 'yes' ? Number(sel.value) : null),
      className: 'dialog-small',
    });
    dlg.setAttribute('role', 'alertdialog');
    yes.addEventListener('click', () => dlg.close('yes'));
    no.addEventListener('click', () => dlg.close('no'));
    no.focus();
  });
}

function gracePeriod(hours) {
  if (hours % 24 === 0) {
    const n = hours / 24;
    return n === 1 ? t('rotate.graceDay', { n: formatNumber(n) }) : t('rotate.graceDays', { n: formatNumber(n) });
  }
  return hours === 1 ? t('rotate.graceHour', { n: formatNumber(hours) }) : t('rotate.graceHours', { n: formatNumber(hours) });
}

async function rotateToken(tok, done) {
  const name = tok.displayName || tok.id;
  const hours = await rotateDialog(name);
  if (hours == null) return;
  const body = hours ? { previousSecretExpireTime: new Date(Date.now() + hours * 3600 * 1000).toISOString() } : {};
  try {
    const r = await call('POST', `/v1/tokens/${encodeURIComponent(tok.id)}:rotate`, body);
    await showSecret({ title: t('secret.rotatedTitle', { name }), clientId: r.clientId, secret: r.clientSecret });
    done();
  } catch (e) {
    toast(errorText(e), true);
  }
}

// ---- detail ----

async function detailView(view, id) {
  const path = `/v1/tokens/${encodeURIComponent(id)}`;
  const [tok, events, tenantList] = await Promise.all([call('GET', path), call('GET', `${path}/events`), tenants()]);
  const catalog = await contextsFor(session().operator ? '' : tok.tenant);
  const name = tok.displayName || tok.id;
  const status = tokenStatus(tok);
  const tenantName = (tenantList.find((x) => x.id === tok.tenant) || {}).displayName || tok.tenant;

  const item = (label, value) => [h('dt', { text: label }), h('dd', {}, value === '' || value == null ? '—' : value)];
  const params = h('ul', { class: 'plain' });
  for (const [ctxId, values] of Object.entries(tok.parameters || {})) {
    const ctx = catalog.find((c) => c.id === ctxId);
    for (const [pname, v] of Object.entries(values || {})) {
      const spec = ctx && (ctx.parameters || []).find((p) => p.name === pname);
      params.append(h('li', {}, `${paramLabel(ctxId, pname)} (${ctx ? contextName(ctx) : ctxId}): `,
        h('span', { class: 'mono', text: String(v) }),
        spec && spec.secret ? h('span', { class: 'muted small', text: ` ${t('detail.masked')}` }) : null));
    }
  }
  const actions = h('div', { class: 'actions' },
    h('a', { class: 'btn', href: '#/tokens', text: t('nav.backToList') }));
  if (status !== 'revoked' && status !== 'leaked') {
    actions.append(
      h('a', { class: 'btn', href: `#/tokens/${encodeURIComponent(tok.id)}/edit`, text: t('action.edit') }),
      h('button', { type: 'button', class: 'btn', text: t('action.rotate'), onclick: () => rotateToken(tok, render) }),
      h('button', { type: 'button', class: 'btn btn-danger', text: t('action.revoke'), onclick: () => revokeToken(tok, render) }));
  }

  const timeline = h('ol', { class: 'timeline' });
  const evs = [...(events.events || [])].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  for (const ev of evs) {
    const fields = (ev.fields || []).map(fieldLabel).join(', ');
    const d = ev.details || {};
    timeline.append(h('li', {},
      h('span', { class: 'timeline-title', text: eventLabel(ev.action) }),
      h('time', { datetime: ev.time, class: 'muted small', text: formatDate(ev.time) }),
      h('span', { class: 'small', text: t('event.by', { actor: ev.actor || '—' }) }),
      fields ? h('span', { class: 'small muted', text: t('event.fields', { fields }) }) : null,
      d.source ? h('span', { class: 'small', text: t('event.source', { source: d.source }) }) : null,
      // The URL a leak report gave is shown as text, never as a link: anyone
      // may send one.
      d.url ? h('span', { class: 'small mono', text: t('event.url', { url: d.url }) }) : null,
      d.previousSecretExpireTime ? h('span', { class: 'small muted', text: t('event.graceUntil', { time: formatDate(d.previousSecretExpireTime) }) }) : null));
  }
  if (!evs.length) timeline.append(h('li', { text: t('event.none') }));

  view.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/tokens', text: t('list.title') }), ' / ', h('span', { text: name })),
    h('div', { class: 'title-row' }, h('h1', { text: name }), badge(status)),
    actions,
    h('div', { class: 'detail-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'detail-fields' },
        h('h2', { id: 'detail-fields', text: t('detail.fields') }),
        h('dl', { class: 'props' },
          item(t('field.clientId'), h('span', { class: 'mono', text: tok.id })),
          item(t('field.name'), tok.displayName),
          item(t('field.description'), tok.description),
          item(t('field.company'), tenantName),
          item(t('field.state'), badge(status)),
          item(t('field.access'), accessSummary(tok, catalog)),
          item(t('field.parameters'), params.childElementCount ? params : ''),
          item(t('field.expireTime'), tok.expireTime ? formatDate(tok.expireTime) : t('token.never')),
          item(t('field.lastUse'), tok.lastUseTime ? formatDate(tok.lastUseTime) : t('token.neverUsed')),
          item(t('field.createTime'), formatDate(tok.createTime)),
          item(t('field.creator'), tok.creator ? h('span', { class: 'mono', text: tok.creator }) : ''),
          item(t('field.revokeTime'), tok.revokeTime ? formatDate(tok.revokeTime) : ''),
          item(t('field.revoker'), tok.revoker ? h('span', { class: 'mono', text: tok.revoker }) : ''),
          ...(tok.previousSecretExpireTime ? item(t('field.previousSecretExpireTime'), formatDate(tok.previousSecretExpireTime)) : []),
          item(t('field.refreshTokens'), tok.issueRefreshTokens ? t('common.yes') : t('common.no')),
          (tok.policyViolations || []).length
            ? item(t('policy.violations'), h('span', { class: 'badge badge-soon', text: (tok.policyViolations || []).map(fieldLabel).join(', ') }))
            : null)),
      usageSection(tok.id),
      h('section', { class: 'card', 'aria-labelledby': 'detail-history' },
        h('h2', { id: 'detail-history', text: t('detail.history') }),
        timeline)));
}

function eventLabel(action) {
  switch (action) {
    case 'create': return t('event.create');
    case 'update': return t('event.update');
    case 'revoke': return t('event.revoke');
    case 'rotate': return t('event.rotate');
    case 'revoked: secret reported leaked': return t('event.leaked');
    case 'previous secret ended': return t('event.previousSecretEnd');
    default: return action;
  }
}

function fieldLabel(f) {
  switch (f) {
    case 'displayName': return t('field.name');
    case 'tenant': return t('field.company');
    case 'description': return t('field.description');
    case 'expireTime': return t('field.expireTime');
    case 'generalAccess': case 'contexts': return t('field.access');
    case 'parameters': return t('field.parameters');
    case 'issueRefreshTokens': return t('field.refreshTokens');
    case 'secret': return t('field.secret');
    case 'previousSecretExpireTime': return t('field.previousSecretExpireTime');
    case 'state': return t('field.state');
    case 'revokeTime': return t('field.revokeTime');
    default: return f;
  }
}

// ---- create and edit ----

function localDate(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

async function tokenForm(view, id) {
  const s = session();
  const editing = id !== null;
  const tok = editing ? await call('GET', `/v1/tokens/${encodeURIComponent(id)}`) : null;
  const tenantList = await tenants();
  if (editing && tok.state === 'TOKEN_STATE_REVOKED') throw new APIError(400, t('form.revokedNoEdit'));

  const f = {
    name: uid('name'), expire: uid('expire'), description: uid('description'), tenant: uid('tenant'),
    refresh: uid('refresh'), admin: uid('admin'),
  };
  const err = h('div', { class: 'error', role: 'alert', hidden: true });
  const name = h('input', { id: f.name, required: true, maxlength: 200, autocomplete: 'off', 'aria-describedby': `${f.name}-hint`, value: tok ? tok.displayName : '' });
  const today = localDate(new Date().toISOString());
  const expire = h('input', { id: f.expire, type: 'date', min: today, 'aria-describedby': `${f.expire}-hint`, value: tok && tok.expireTime ? localDate(tok.expireTime) : '' });
  const originalExpire = expire.value;
  const description = h('textarea', { id: f.description, rows: 3, maxlength: 2000, placeholder: t('form.descriptionPlaceholder'), value: tok ? tok.description : '' });
  const initialTenant = tok ? tok.tenant : state.tenant || (tenantList[0] || {}).id || '';
  const tenantSel = h('select', { id: f.tenant, required: true, disabled: editing || !s.operator },
    tenantList.map((x) => h('option', { value: x.id, text: x.displayName || x.id })));
  tenantSel.value = initialTenant;
  const refresh = h('input', { id: f.refresh, type: 'checkbox' });
  refresh.checked = tok ? !!tok.issueRefreshTokens : true;
  const admin = h('input', { id: f.admin, type: 'checkbox' });
  admin.checked = !!(tok && (tok.contexts || []).includes(ADMIN_SCOPE));

  const accessName = uid('access');
  const general = h('input', { type: 'radio', name: accessName, id: `${accessName}-general`, value: 'general' });
  const custom = h('input', { type: 'radio', name: accessName, id: `${accessName}-custom`, value: 'custom' });
  general.checked = tok ? !!tok.generalAccess : true;
  custom.checked = !general.checked;
  const contextsBox = h('div', { class: 'checks', role: 'group', 'aria-label': t('form.contexts') });
  const paramsSet = h('fieldset', { class: 'params', hidden: true }, h('legend', { text: t('field.parameters') }));
  const paramsBody = h('div', { class: 'stack' });
  paramsSet.append(paramsBody);

  let catalog = [];
  const checks = new Map(); // context id → checkbox
  const paramInputs = new Map(); // "ctx.param" → input
  const typed = new Map(); // what was typed in parameter inputs, kept across re-renders
  const currentParams = (tok && tok.parameters) || {};

  const renderParams = () => {
    for (const [k, input] of paramInputs) typed.set(k, input.value);
    paramInputs.clear();
    paramsBody.replaceChildren();
    const chosen = general.checked ? catalog : catalog.filter((c) => checks.get(c.id) && checks.get(c.id).checked);
    for (const ctx of chosen) {
      for (const spec of ctx.parameters || []) {
        const key = `${ctx.id}.${spec.name}`;
        const fid = uid('param');
        const hintId = `${fid}-hint`;
        const label = `${paramLabel(ctx.id, spec.name)} (${contextName(ctx)})`;
        const old = (currentParams[ctx.id] || {})[spec.name];
        let input;
        if ((spec.allowedValues || []).length) {
          input = h('select', { id: fid, 'aria-describedby': hintId, required: spec.required && !general.checked },
            h('option', { value: '', text: t('form.choose') }),
            spec.allowedValues.map((v) => h('option', { value: v, text: v })));
          input.value = typed.has(key) ? typed.get(key) : old || '';
        } else if (spec.secret) {
          input = h('input', { id: fid, type: 'password', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': hintId,
            placeholder: old ? t('form.secretKept', { masked: old }) : '' });
          input.value = typed.get(key) || '';
          input.dataset.masked = old || '';
        } else {
          input = h('input', { id: fid, autocomplete: 'off', 'aria-describedby': hintId });
          input.value = typed.has(key) ? typed.get(key) : old || '';
        }
        input.dataset.ctx = ctx.id;
        input.dataset.param = spec.name;
        paramInputs.set(key, input);
        const hint = paramHint(ctx.id, spec.name, spec);
        paramsBody.append(h('div', { class: 'field' },
          h('label', { for: fid, text: spec.required && !general.checked ? `${label} *` : label }), input,
          h('p', { class: 'hint', id: hintId, text: spec.secret ? `${hint} ${t('form.secretHint')}` : hint })));
      }
    }
    paramsSet.hidden = paramInputs.size === 0;
  };

  const renderContexts = async () => {
    const wanted = new Set(tok && !tok.generalAccess ? tok.contexts || [] : []);
    for (const [cid, box] of checks) if (box.checked) wanted.add(cid);
    catalog = await contextsFor(tenantSel.value);
    checks.clear();
    contextsBox.replaceChildren();
    for (const ctx of catalog) {
      const cid = uid('ctx');
      const box = h('input', { type: 'checkbox', id: cid, value: ctx.id, disabled: general.checked });
      box.checked = wanted.has(ctx.id);
      box.addEventListener('change', renderParams);
      checks.set(ctx.id, box);
      contextsBox.append(h('div', { class: 'check' }, box, h('label', { for: cid, text: contextName(ctx) })));
    }
    if (!catalog.length) contextsBox.append(h('p', { class: 'muted', text: t('form.noContexts') }));
    contextsBox.hidden = general.checked;
    renderParams();
  };
  const accessChanged = () => {
    for (const box of checks.values()) box.disabled = general.checked;
    contextsBox.hidden = general.checked;
    renderParams();
  };
  general.addEventListener('change', accessChanged);
  custom.addEventListener('change', accessChanged);
  tenantSel.addEventListener('change', () => renderContexts().catch((e) => showError(e)));

  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: editing ? t('form.save') : t('form.generate') });
  const form = h('form', { class: 'card form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: f.name, text: `${t('field.name')} *` }), name,
      h('p', { class: 'hint', id: `${f.name}-hint`, text: t('form.nameHint') })),
    h('div', { class: 'field' }, h('label', { for: f.expire, text: t('field.expireTime') }), expire,
      h('p', { class: 'hint', id: `${f.expire}-hint`, text: t('form.expireHint') })),
    h('div', { class: 'field' }, h('label', { for: f.description, text: t('field.description') }), description),
    h('div', { class: 'field' }, h('label', { for: f.tenant, text: t('field.company') }), tenantSel,
      editing ? h('p', { class: 'hint', text: t('form.tenantFixed') }) : null),
    h('fieldset', { class: 'access' },
      h('legend', { text: t('field.access') }),
      h('div', { class: 'radio' }, general, h('label', { for: general.id, text: t('access.general') }),
        h('p', { class: 'hint', text: t('access.generalHint') })),
      h('div', { class: 'radio' }, custom, h('label', { for: custom.id, text: t('access.custom') })),
      contextsBox),
    paramsSet,
    h('fieldset', { class: 'access' },
      h('legend', { text: t('form.options') }),
      h('div', { class: 'check' }, admin, h('label', { for: f.admin, text: t('access.adminScopeLong') })),
      h('div', { class: 'check' }, refresh, h('label', { for: f.refresh, text: t('field.refreshTokensLong') }))),
    err,
    h('div', { class: 'actions' },
      submit,
      h('a', { class: 'btn', href: editing ? `#/tokens/${encodeURIComponent(id)}` : '#/tokens', text: t('common.cancel') })));

  const fieldInput = (field) => {
    if (field === 'displayName') return name;
    if (field === 'expireTime') return expire;
    if (field === 'description') return description;
    if (field === 'tenant') return tenantSel;
    if (field === 'contexts' || field === 'generalAccess') return custom.checked ? contextsBox.querySelector('input') || custom : general;
    const m = /^parameters\.([^.]+)\.?(.*)$/.exec(field || '');
    if (m) return [...paramInputs.values()].find((i) => i.dataset.ctx === m[1] && (!m[2] || i.dataset.param === m[2]));
    return null;
  };
  const showError = (e, fields = e.fields || []) => {
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    err.replaceChildren(h('p', { text: fields.length ? t('form.fixFields') : errorText(e) }));
    const list = h('ul');
    let first = null;
    for (const v of fields) {
      const input = fieldInput(v.field);
      const label = input && input.id ? form.querySelector(`label[for="${input.id}"]`) : null;
      list.append(h('li', { text: `${label ? label.textContent.replace(/ \*$/, '') : v.field}: ${v.description}` }));
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        first = first || input;
      }
    }
    if (fields.length) err.append(list);
    err.hidden = false;
    (first || err).focus?.();
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const local = [];
    if (!name.value.trim()) local.push({ field: 'displayName', description: t('form.required') });
    if (expire.value && expire.value !== originalExpire && expire.value < localDate(new Date().toISOString())) {
      local.push({ field: 'expireTime', description: t('form.pastDate') });
    }
    const contexts = custom.checked ? [...checks.values()].filter((b) => b.checked).map((b) => b.value) : [];
    if (custom.checked && !contexts.length) local.push({ field: 'contexts', description: t('form.chooseContext') });
    const parameters = {};
    for (const input of paramInputs.values()) {
      let v = input.value;
      if (!v && input.dataset.masked) v = input.dataset.masked; // the masked value keeps the stored secret
      if (!v) {
        if (input.required) local.push({ field: `parameters.${input.dataset.ctx}.${input.dataset.param}`, description: t('form.required') });
        continue;
      }
      (parameters[input.dataset.ctx] ||= {})[input.dataset.param] = v;
    }
    if (local.length) {
      showError(new APIError(400, ''), local);
      return;
    }
    if (admin.checked) contexts.push(ADMIN_SCOPE);
    const body = {
      displayName: name.value.trim(),
      description: description.value,
      generalAccess: general.checked,
      contexts,
      parameters,
      issueRefreshTokens: refresh.checked,
    };
    if (expire.value !== originalExpire || !editing) {
      if (expire.value) body.expireTime = new Date(`${expire.value}T23:59:59`).toISOString();
      else if (editing) body.expireTime = null;
    }
    submit.disabled = true;
    try {
      if (editing) {
        await call('PATCH', `/v1/tokens/${encodeURIComponent(id)}`, body);
        toast(t('form.saved'));
        location.hash = `#/tokens/${encodeURIComponent(id)}`;
      } else {
        body.tenant = tenantSel.value;
        const r = await call('POST', '/v1/tokens', body);
        await showSecret({ title: t('secret.createdTitle', { name: body.displayName }), clientId: r.clientId, secret: r.clientSecret });
        location.hash = `#/tokens/${encodeURIComponent(r.clientId)}`;
      }
    } catch (e) {
      showError(e);
    } finally {
      submit.disabled = false;
    }
  });

  await renderContexts();
  view.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/tokens', text: t('list.title') }), ' / ',
      h('span', { text: editing ? tok.displayName : t('form.newTitle') })),
    h('h1', { text: editing ? t('form.editTitle', { name: tok.displayName }) : t('form.newTitle') }),
    h('p', { class: 'muted', text: t('form.requiredLegend') }),
    form);
}

// ---- companies (operator only) ----

async function companiesView(view) {
  tenantsCache = null;
  const [list, catalog] = await Promise.all([tenants(), contextsFor('')]);
  const tbody = h('tbody');
  for (const x of list) {
    tbody.append(h('tr', {},
      h('td', { 'data-label': t('company.id'), class: 'mono', text: x.id }),
      h('td', { 'data-label': t('company.name'), text: x.displayName || x.id }),
      h('td', { 'data-label': t('company.contexts'), text: (x.contexts || []).map((c) => scopeName(c, catalog)).join(', ') || '—' }),
      h('td', { 'data-label': t('policy.title'), text: policySummary(x.policy) }),
      h('td', { 'data-label': t('field.createTime'), text: formatDate(x.createTime) }),
      h('td', { class: 'row-actions', 'data-label': t('list.actions') },
        h('a', { class: 'btn btn-small', href: `#/companies/${encodeURIComponent(x.id)}/edit`, text: t('action.edit'),
          'aria-label': t('company.editOf', { name: x.displayName || x.id }) }))));
  }
  view.append(
    h('div', { class: 'view-head' }, h('h1', { text: t('company.title') }),
      h('a', { class: 'btn btn-primary', href: '#/companies/new', text: t('company.new') })),
    h('p', { class: 'muted', text: t('company.lead') }),
    list.length
      ? h('table', { class: 'tokens' },
        h('caption', { class: 'sr-only', text: t('company.title') }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: t('company.id') }),
          h('th', { scope: 'col', text: t('company.name') }),
          h('th', { scope: 'col', text: t('company.contexts') }),
          h('th', { scope: 'col', text: t('policy.title') }),
          h('th', { scope: 'col', text: t('field.createTime') }),
          h('th', { scope: 'col', text: t('list.actions') }))),
        tbody)
      : h('p', { class: 'empty', text: t('company.empty') }));
}

async function companyForm(view, id) {
  const editing = id !== null;
  const [tenant, catalog] = await Promise.all([editing ? call('GET', `/v1/tenants/${encodeURIComponent(id)}`) : null, contextsFor('')]);
  const fid = uid('company-id');
  const fname = uid('company-name');
  const err = h('div', { class: 'error', role: 'alert', hidden: true });
  const idInput = h('input', { id: fid, required: true, readonly: editing, pattern: '[a-z0-9-]+', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': `${fid}-hint`, value: tenant ? tenant.id : '' });
  const nameInput = h('input', { id: fname, required: true, autocomplete: 'off', value: tenant ? tenant.displayName : '' });
  const boxes = [];
  const group = h('div', { class: 'checks' });
  for (const ctx of catalog) {
    const cid = uid('ctx');
    const box = h('input', { type: 'checkbox', id: cid, value: ctx.id });
    box.checked = !!(tenant && (tenant.contexts || []).includes(ctx.id));
    boxes.push(box);
    group.append(h('div', { class: 'check' }, box, h('label', { for: cid, text: contextName(ctx) })));
  }
  const policy = policyFieldset(tenant && tenant.policy, catalog, contextName);
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: editing ? t('form.save') : t('company.create') });
  const form = h('form', { class: 'card form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: fid, text: `${t('company.id')} *` }), idInput,
      h('p', { class: 'hint', id: `${fid}-hint`, text: editing ? t('company.idFixed') : t('company.idHint') })),
    h('div', { class: 'field' }, h('label', { for: fname, text: `${t('company.name')} *` }), nameInput),
    h('fieldset', { class: 'access' }, h('legend', { text: t('company.contexts') }), group),
    policy.element,
    err,
    h('div', { class: 'actions' }, submit, h('a', { class: 'btn', href: '#/companies', text: t('common.cancel') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const body = { displayName: nameInput.value.trim(), contexts: boxes.filter((b) => b.checked).map((b) => b.value), policy: policy.value() };
    if (!editing) body.id = idInput.value.trim();
    const missing = !body.displayName ? nameInput : !editing && !body.id ? idInput : null;
    if (missing) {
      err.textContent = t('form.required');
      err.hidden = false;
      missing.focus();
      return;
    }
    submit.disabled = true;
    try {
      if (editing) await call('PATCH', `/v1/tenants/${encodeURIComponent(id)}`, body);
      else await call('POST', '/v1/tenants', body);
      tenantsCache = null;
      contextCache.clear();
      toast(t('company.saved', { name: body.displayName }));
      location.hash = '#/companies';
    } catch (e) {
      err.textContent = e.fields && e.fields.length ? e.fields.map((v) => `${v.field}: ${v.description}`).join('; ') : errorText(e);
      err.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  view.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/companies', text: t('company.title') }), ' / ',
      h('span', { text: editing ? tenant.displayName || tenant.id : t('company.newTitle') })),
    h('h1', { text: editing ? t('company.editTitle', { name: tenant.displayName || tenant.id }) : t('company.newTitle') }),
    form);
}

start();
