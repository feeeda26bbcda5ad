// Small DOM helpers. Text always goes in as text (textContent), never as HTML, so nothing a
// device publishes or names can become markup.

// el('tr', {class: 'x', dataset: {id: 'a'}, onclick: f}, child, 'text', ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'value') node.value = value;
    else if (key === 'checked' || key === 'disabled' || key === 'hidden' || key === 'selected') node[key] = Boolean(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

// A table in a horizontally scrolling box (phones): head is a list of column titles, each a
// string or [title, class] (class "wide": a column phones leave out).
export function table(head, rows, attrs = {}) {
  return el('div', {class: 'table-wrap'},
    el('table', attrs,
      el('thead', {}, el('tr', {}, head.map((h) => (Array.isArray(h) ? el('th', {class: h[1]}, h[0]) : el('th', {}, h))))),
      el('tbody', {}, rows)));
}

// "2024-05-01 12:03:04" in local time, with milliseconds when asked.
export function formatTime(ms, withMs = false) {
  if (ms === null || ms === undefined) return 'never';
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMs ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
}

// "5 s ago", "3 min ago", "2 h ago", "4 d ago".
export function ago(ms) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// A JSON value as compact text (strings without quotes when `bare`).
export function show(value, bare = false) {
  if (bare && typeof value === 'string') return value;
  return JSON.stringify(value);
}

// A status line under a form: ok (green) or error (red); empty text hides it.
export function say(node, text, ok = false) {
  node.textContent = text || '';
  node.hidden = !text;
  node.className = ok ? 'note ok' : 'note error';
}
