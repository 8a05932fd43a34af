// Small DOM helpers. Text always goes in as text nodes, never as HTML.

// h creates an element. props: class, text, on<event> handlers, boolean and
// property values (checked, disabled, hidden, value), or attributes.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') value = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  if (value !== undefined) el.value = value;
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// clear empties an element.
export function clear(el) {
  el.replaceChildren();
  return el;
}

let ids = 0;
// uid returns a fresh element id, for label/for and aria references.
export function uid(prefix = 'f') {
  ids += 1;
  return `${prefix}-${ids}`;
}
