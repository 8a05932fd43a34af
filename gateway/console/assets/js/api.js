// The console's only way to chave: the public REST API, with the access
// token of a management credential. The token lives in sessionStorage (this
// tab only, gone when it closes); the client secret is never kept.

const STORE = 'chave.session';

// APIError is a failed call: the HTTP status, the server's message and the
// fields it named (BadRequest field violations).
export class APIError extends Error {
  constructor(status, message, fields = [], code = '') {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.fields = fields; // [{field, description}]
    this.code = code;
  }
}

let onExpired = async () => {
  throw new APIError(401, 'signed out');
};
let expiryTimer;

// session returns the stored session, or null when there is none or it has
// expired.
export function session() {
  let s;
  try {
    s = JSON.parse(sessionStorage.getItem(STORE));
  } catch {
    s = null;
  }
  if (!s || !s.accessToken || Date.now() >= s.expiresAt) return null;
  return s;
}

export function signOut() {
  sessionStorage.removeItem(STORE);
  clearTimeout(expiryTimer);
}

// whenExpired sets what happens when the token has expired: fn shows the
// sign-in dialog and resolves once signed in again. expire is called when
// the token's lifetime ends while the page is open.
export function whenExpired(fn, expire) {
  onExpired = fn;
  watch = expire;
  arm();
}
let watch = () => {};

function arm() {
  clearTimeout(expiryTimer);
  const s = session();
  if (!s) return;
  expiryTimer = setTimeout(() => {
    sessionStorage.removeItem(STORE);
    watch();
  }, Math.max(0, s.expiresAt - Date.now()));
}

function claims(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

// signIn exchanges a client id and secret for an access token at
// /oauth2/token (client credentials) and keeps only the token.
export async function signIn(clientId, clientSecret) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  const r = await fetch('/oauth2/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body,
    cache: 'no-store',
    credentials: 'omit',
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new APIError(r.status, data.error_description || data.error, [], data.error || '');
  const c = claims(data.access_token);
  const scopes = String(c.scope || '').split(' ').filter(Boolean);
  const s = {
    accessToken: data.access_token,
    // Renew a little before the server would refuse it.
    expiresAt: Date.now() + Math.max(1, (data.expires_in || 60) - 5) * 1000,
    clientId: c.client_id || c.sub || clientId,
    tenant: c.tenantid || '',
    operator: !c.tenantid,
    admin: !c.tenantid || scopes.includes('registry.admin'),
  };
  sessionStorage.setItem(STORE, JSON.stringify(s));
  arm();
  return s;
}

// call sends one REST request with the session's Bearer token. A missing or
// expired session (or a 401) asks to sign in again and then retries once.
export async function call(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    let s = session();
    if (!s) {
      await onExpired();
      s = session();
    }
    const headers = { Authorization: `Bearer ${s.accessToken}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
    if (r.status === 401 && attempt === 0) {
      sessionStorage.removeItem(STORE);
      continue;
    }
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const fields = [];
      for (const d of data.details || []) for (const v of d.fieldViolations || []) fields.push(v);
      throw new APIError(r.status, data.message, fields);
    }
    return data;
  }
}

export const q = (params) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
};
