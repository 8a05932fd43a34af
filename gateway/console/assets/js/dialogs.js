// Modal dialogs on the native <dialog>: showModal makes the rest of the page
// inert, Tab wraps inside, Escape is handled, and focus goes back to where it
// was when the dialog closes.

import { h, uid } from './dom.js';
import { t } from './i18n.js';

// openDialog shows a modal dialog and returns it. onCancel, when given,
// replaces what Escape does; onClose gets the dialog's returnValue.
export function openDialog({ title, body = [], actions = [], onClose, onCancel, className = '' }) {
  const titleId = uid('dlg-title');
  const dlg = h('dialog', { 'aria-labelledby': titleId, class: `dialog ${className}` },
    h('h2', { id: titleId, text: title }),
    h('div', { class: 'dialog-body' }, body),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
  const back = document.activeElement;
  dlg.addEventListener('cancel', (ev) => {
    if (onCancel) {
      ev.preventDefault();
      onCancel();
    }
  });
  // showModal keeps the focus out of the page, but Tab past the last
  // control would leave the dialog for the browser's own UI: wrap it.
  dlg.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Tab') return;
    const items = [...dlg.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')]
      .filter((el) => !el.disabled && el.getClientRects().length > 0);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (ev.shiftKey && document.activeElement === first) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && document.activeElement === last) {
      ev.preventDefault();
      first.focus();
    }
  });
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (back && back.isConnected && typeof back.focus === 'function') back.focus();
    if (onClose) onClose(dlg.returnValue);
  });
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// confirmDialog asks a yes/no question; it resolves true when confirmed.
export function confirmDialog({ title, message, confirm, cancel = t('common.cancel'), danger = false }) {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', text: confirm });
    const no = h('button', { type: 'button', class: 'btn', text: cancel, autofocus: true });
    const dlg = openDialog({
      title,
      body: [h('p', { text: message })],
      actions: [yes, no],
      onClose: (v) => resolve(v === 'yes'),
      className: 'dialog-small',
    });
    dlg.setAttribute('role', 'alertdialog');
    yes.addEventListener('click', () => dlg.close('yes'));
    no.addEventListener('click', () => dlg.close('no'));
    no.focus();
  });
}

// showSecret is the one-time dialog of a new (or rotated) secret: the
// warning, the secret with a copy button, and how to use the credential.
// It resolves once closed; closing before copying asks first, and leaving
// the page while it is open is guarded.
export function showSecret({ title, clientId, secret }) {
  return new Promise((resolve) => {
    let copied = false;
    const origin = location.origin;
    const idField = uid('secret-id');
    const secretField = uid('secret-value');
    const status = h('p', { class: 'copied', role: 'status', 'aria-live': 'polite' });
    const copy = async (value, what) => {
      try {
        await navigator.clipboard.writeText(value);
        status.textContent = what === 'secret' ? t('secret.copied') : t('secret.copiedId');
        if (what === 'secret') copied = true;
      } catch {
        status.textContent = t('secret.copyFailed');
      }
    };
    const copyButton = h('button', { type: 'button', class: 'btn btn-primary', text: t('secret.copy'), onclick: () => copy(secret, 'secret') });
    const curl = `curl -s -u '${clientId}:${secret}' -d grant_type=client_credentials \\\n  ${origin}/oauth2/token`;
    const tss = JSON.stringify({ urlTSS: origin, grantType: 1, clientId, clientSecret: secret }, null, 2);
    const close = h('button', { type: 'button', class: 'btn', text: t('common.close') });
    const guard = (ev) => {
      ev.preventDefault();
      ev.returnValue = '';
    };
    window.addEventListener('beforeunload', guard);
    const dlg = openDialog({
      title,
      className: 'dialog-secret',
      body: [
        h('p', { class: 'warning', text: t('secret.warning') }),
        h('div', { class: 'field' }, h('label', { for: secretField, text: t('secret.label') }),
          h('div', { class: 'copy-row' },
            h('input', { id: secretField, class: 'mono', readonly: true, value: secret, spellcheck: 'false' }),
            copyButton)),
        status,
        h('div', { class: 'field' }, h('label', { for: idField, text: t('field.clientId') }),
          h('div', { class: 'copy-row' },
            h('input', { id: idField, class: 'mono', readonly: true, value: clientId, spellcheck: 'false' }),
            h('button', { type: 'button', class: 'btn', text: t('secret.copyId'), onclick: () => copy(clientId, 'id') }))),
        h('h3', { text: t('secret.howTo') }),
        h('p', { class: 'small', text: t('secret.curl') }),
        h('pre', { class: 'code', tabindex: '0', 'aria-label': t('secret.curl') }, h('code', { text: curl })),
        h('p', { class: 'small', text: t('secret.tss') }),
        h('pre', { class: 'code', tabindex: '0', 'aria-label': t('secret.tss') }, h('code', { text: tss })),
      ],
      actions: [close],
      onCancel: () => tryClose(),
      onClose: () => {
        window.removeEventListener('beforeunload', guard);
        resolve();
      },
    });
    const tryClose = async () => {
      if (!copied) {
        const sure = await confirmDialog({
          title: t('secret.confirmTitle'),
          message: t('secret.confirmMessage'),
          confirm: t('secret.confirmClose'),
          cancel: t('secret.confirmBack'),
          danger: true,
        });
        if (!sure) return;
      }
      dlg.close();
    };
    close.addEventListener('click', tryClose);
    copyButton.focus();
  });
}

let toastTimer;
// toast shows a short message in the page's status region.
export function toast(message, error = false) {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.classList.toggle('toast-error', error);
  el.classList.add('toast-show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('toast-show'), 5000);
}
