/* Callfold pages: building elements, reading server values, formatting, toasts.
 *
 * Shared by the agent desktop and the console (and the console's tab modules); served at
 * /shared/. Plain ES module, no framework, no build step.
 *
 * Safety rule: server data only ever reaches the page through textContent, Text nodes
 * and setAttribute on non-URL attributes; never innerHTML. h() keeps to it: strings
 * become Text nodes.
 */

export const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- reading server values

export const str = (v) => (v === null || v === undefined ? '' : String(v));
export const arr = (v) => (Array.isArray(v) ? v : []);
export const obj = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : null);
export const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

// ---------------------------------------------------------------- building elements

const PROPS = new Set(['hidden', 'disabled', 'value', 'checked', 'selected', 'type', 'maxLength']);

/** Build an element. Children that are strings become Text nodes (always escaped). */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = String(value);
      else if (key === 'style') Object.assign(el.style, value); // CSSOM: allowed by the page's CSP
      else if (key === 'on') {
        for (const [name, fn] of Object.entries(value)) el.addEventListener(name, fn);
      } else if (PROPS.has(key)) el[key] = value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  add(el, kids);
  return el;
}

/** Append children (nested arrays flattened; null, undefined, false and '' left out). */
export function add(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false || kid === '') continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

// ---------------------------------------------------------------- formatting

/** Seconds or milliseconds since the epoch, or an ISO string, as a Date (null if none). */
export function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return new Date(value > 1e12 ? value : value * 1000);
  const d = new Date(String(value));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function duration(seconds) {
  const t = Math.max(0, Math.floor(Number(seconds) || 0));
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** An agent's state in words (base.css gives each its colour); others are "unknown". */
export const AGENT_STATES = Object.freeze({
  available: 'Available',
  ringing: 'Ringing',
  on_call: 'On call',
  wrap_up: 'Wrap-up',
  paused: 'Paused',
  logged_out: 'Logged out',
});

/** "after_call_work" -> "After call work". */
export const words = (v) => {
  const s = str(v).replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
};

// ---------------------------------------------------------------- toasts

/** A message in the page's #toasts box: 'error' (stays 12 s), 'warning' or 'info' (7 s).
 * The same message again replaces the one shown. */
export function toast(message, kind = 'error') {
  const text = str(message) || 'Something went wrong.';
  const box = $('toasts');
  for (const existing of [...box.children]) {
    if (existing.dataset.message === text) existing.remove();
  }
  const el = h('div', {
    class: `toast toast-${kind}`,
    'data-testid': 'toast',
    'data-kind': kind,
    role: kind === 'error' ? 'alert' : 'status',
  });
  el.dataset.message = text;
  const close = () => {
    clearTimeout(timer);
    el.remove();
  };
  add(el, [
    h('span', { class: 'toast-text', text }),
    h('button', {
      type: 'button',
      class: 'toast-close',
      'aria-label': 'Dismiss',
      title: 'Dismiss',
      text: '×',
      on: { click: close },
    }),
  ]);
  const timer = setTimeout(close, kind === 'error' ? 12000 : 7000);
  box.append(el);
  return el;
}

/** Escape takes the newest toast away (the page says when Escape is someone else's). */
export function dismissToastsOnEscape(busy = () => false) {
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || busy()) return;
    const toasts = $('toasts').children;
    if (toasts.length) toasts[toasts.length - 1].remove();
  });
}

// ---------------------------------------------------------------- two-step buttons

const CONFIRM_MS = 4000; // how long a "Really …?" button stays armed

/** A two-step button: the first click arms it, the second (within a few seconds) acts. */
export function confirmThen(button, armedText, action) {
  if (button.dataset.armed === 'true') {
    clearTimeout(Number(button.dataset.timer));
    button.dataset.armed = 'false';
    button.textContent = button.dataset.label;
    action();
    return;
  }
  button.dataset.label = button.textContent;
  button.dataset.armed = 'true';
  button.textContent = armedText;
  button.dataset.timer = String(setTimeout(() => {
    button.dataset.armed = 'false';
    button.textContent = button.dataset.label;
  }, CONFIRM_MS));
}
