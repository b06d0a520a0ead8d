/* Callfold agent desktop: calling customers and the call-back list.
 *
 * - A "Call" button beside each of a card's phone numbers (POST /api/outbound/calls): the
 *   server rings the agent's phone, then the customer. Progress and the result are shown
 *   above the cards; the result comes as an `outbound` message on /ws/agent or, if none
 *   came within a minute, by reading GET /api/outbound/calls/{id}.
 * - Numbers the customer asked not to be called on (`do_not_call`) keep a disabled button;
 *   an agent can mark a number so (PUT /api/contacts/{id}/do-not-call, asked twice).
 * - The "Call-backs" panel below the cards: the open call-backs in place order
 *   (GET /api/callbacks), with Take, Call back and Close; read again every 30 s and on
 *   every `outbound` message.
 *
 * Contract: docs/console.md ("Call-backs") and docs/screenpop.md. Same safety rule as
 * app.js: server data reaches the page only as text, never as HTML.
 */

import { $, arr, confirmThen, duration, h, obj, str, toast, toDate } from '../shared/dom.js';
import { api, session } from '../shared/session.js';
import {
  agoText, clock, resultLabel, resultSentence, resultTone, retryText, SOURCE_TEXT,
} from '../shared/callbacks.js';

const RESULT_WAIT_MS = 60000; // no `outbound` message this long: ask the server
const POLL_MS = 15000;
const POLL_MAX = 40; // then give up asking (the server closes a lost attempt after 3 min)
const REFRESH_MS = 30000;
const PAGE = 50;
const SETTLED_SHOWN = 4; // finished attempts kept on screen (newest first)
const OUT_PREFIX = 'cti-out-'; // the Linkedid of an outbound attempt's calls

const O = {
  running: false,
  attempts: new Map(), // attempt id -> {id, number, name, kind, callbackId, result, text, phase, ...}
  dialing: new Set(), // numbers whose POST is on its way
  dnc: new Map(), // contact id -> Set of numbers the server says are do-not-call
  dncLoading: new Set(),
  dncLocal: new Map(), // contact id -> Map(number -> bool): marked from this page since
  callbacks: [],
  next: null,
  seq: 0,
  timer: null,
  closing: null, // the call-back in the Close dialog
  agentState: '', // the agent's state as last heard
  seen: new Set(), // outbound calls (cti-out-…) whose pop has come
};
const LISTS = new WeakMap(); // a card's phone list -> its contact
const hooks = { changed: null };

/** What the page does when an attempt is known or gets further: ``changed(callId)`` draws
 * that call's card again (its pop may have come before the server's answer). */
export function setOutboundHooks({ changed }) {
  hooks.changed = changed;
}

const callIdOf = (a) => `${OUT_PREFIX}${a.id}`;

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

const me = () => str(session.user && session.user.username);
const supervisor = () => ['supervisor', 'admin'].includes(str(session.user && session.user.role));

// ---------------------------------------------------------------- start and stop

/** Signed in: build the panel (once), read the call-backs, keep them fresh. */
export function startOutbound() {
  O.running = true;
  buildPanel();
  $('callbacks').hidden = false;
  clearInterval(O.timer);
  O.timer = setInterval(() => loadCallbacks(false), REFRESH_MS);
  loadCallbacks(false);
}

/** Signed out: forget everything shown and stop every timer. */
export function stopOutbound() {
  O.running = false;
  clearInterval(O.timer);
  O.timer = null;
  for (const a of O.attempts.values()) clearTimeout(a.timer);
  O.attempts.clear();
  O.dialing.clear();
  O.dnc.clear();
  O.dncLoading.clear();
  O.dncLocal.clear();
  O.seen.clear();
  O.agentState = '';
  O.callbacks = [];
  O.next = null;
  O.seq += 1;
  $('outbound-list').replaceChildren();
  if (P.body) {
    P.body.replaceChildren();
    P.error.hidden = true;
    if (P.dialog.open) P.dialog.close();
  }
  $('callbacks').hidden = true;
}

/** The socket is back (hello): results may have been missed while it was away. */
export function outboundReconnected() {
  if (!O.running) return;
  loadCallbacks(false);
  for (const a of O.attempts.values()) {
    if (!a.result && !a.error) {
      clearTimeout(a.timer);
      poll(a);
    }
  }
}

// ---------------------------------------------------------------- phone numbers on a card

/** The contact's phone numbers, each with its Call button (and do-not-call marking). */
export function phoneList(contact) {
  const el = h('ul', { class: 'phones', 'data-testid': 'phones', 'aria-label': 'Phone numbers' });
  LISTS.set(el, contact);
  fillPhones(el, contact);
  return el;
}

/** Draw every Call button again (a call started or ended, a number marked): the cards'
 * phone lists and the call-back rows. */
function refreshPhones() {
  for (const el of document.querySelectorAll('[data-testid="phones"]')) {
    const contact = LISTS.get(el);
    if (contact) fillPhones(el, contact);
  }
  if (P.body && O.running) renderCallbacks();
}

const contactKey = (contact) => (contact && contact.id !== undefined && contact.id !== null ? str(contact.id) : '');

/** The numbers not to call: the pop's list if it has one, else the contact's as read from
 * the server (asked once), with what was marked here since on top. */
function doNotCall(contact) {
  const id = contactKey(contact);
  let base = null;
  if (Array.isArray(contact.do_not_call)) base = new Set(contact.do_not_call.map(str));
  else if (O.dnc.has(id)) base = O.dnc.get(id);
  else if (id) loadDoNotCall(id);
  const numbers = new Set(base || []);
  for (const [number, marked] of O.dncLocal.get(id) || []) {
    if (marked) numbers.add(number);
    else numbers.delete(number);
  }
  return { known: base !== null || !id, numbers };
}

async function loadDoNotCall(id) {
  if (O.dncLoading.has(id)) return;
  O.dncLoading.add(id);
  const res = await api('GET', `/api/contacts/${encodeURIComponent(id)}`);
  O.dncLoading.delete(id);
  if (!O.running || res.unauthorized) return;
  // Not readable: no number is held back here; the server refuses a do-not-call one anyway.
  O.dnc.set(id, new Set(res.ok && obj(res.data) ? arr(res.data.do_not_call).map(str) : []));
  refreshPhones();
}

const pendingTo = (number) => O.dialing.has(number)
  || [...O.attempts.values()].some((a) => a.number === number && !a.result && !a.error && !a.dismissed);

function fillPhones(el, contact) {
  const phones = arr(contact.phones).map(str).filter(Boolean);
  const { known, numbers } = doNotCall(contact);
  el.hidden = phones.length === 0;
  const focused = el.contains(document.activeElement) ? document.activeElement : null;
  const refocus = focused ? [focused.closest('[data-number]')?.dataset.number, focused.dataset.testid] : null;
  el.replaceChildren(...phones.map((number) => phoneItem(contact, number, known, numbers.has(number))));
  if (refocus) {
    const again = [...el.querySelectorAll(`[data-testid="${refocus[1]}"]`)]
      .find((b) => b.closest('[data-number]')?.dataset.number === refocus[0]);
    if (again && !again.disabled) again.focus({ preventScroll: true });
  }
}

function phoneItem(contact, number, known, dnc) {
  const numberId = nextId('phone');
  const noteId = nextId('dnc');
  const calling = pendingTo(number);
  let title = `Ring your phone, then ${number}`;
  if (dnc) title = 'The customer asked not to be called on this number';
  else if (!known) title = 'Checking whether this number may be called…';
  else if (calling) title = 'A call to this number is under way';
  return h('li', { class: 'phone', 'data-testid': 'phone', 'data-number': number, 'data-dnc': String(dnc) },
    h('span', { class: 'phone-number', id: numberId, 'data-testid': 'phone-number', text: number }),
    dnc ? h('span', { class: 'chip chip-dnc', id: noteId, 'data-testid': 'phone-dnc', text: 'asked not to be called' }) : null,
    h('button', {
      type: 'button',
      class: 'btn btn-small btn-call',
      'data-testid': 'phone-call',
      'aria-label': `Call ${number}`,
      'aria-describedby': dnc ? noteId : null,
      title,
      disabled: dnc || !known || calling,
      text: calling ? 'Calling…' : 'Call',
      on: { click: () => dial(contact, number) },
    }),
    !dnc && contactKey(contact) ? h('button', {
      type: 'button',
      class: 'btn btn-small btn-quiet btn-dnc',
      'data-testid': 'phone-mark-dnc',
      'aria-describedby': numberId,
      title: 'The customer asks not to be called on this number (click twice)',
      text: 'Do not call',
      on: { click: (e) => confirmThen(e.currentTarget, 'Really mark?', () => setDoNotCall(contact, number, true)) },
    }) : null,
    dnc && supervisor() && contactKey(contact) ? h('button', {
      type: 'button',
      class: 'btn btn-small btn-quiet btn-dnc',
      'data-testid': 'phone-unmark-dnc',
      'aria-describedby': numberId,
      title: 'The customer agreed to be called on this number again (click twice)',
      text: 'Allow calls',
      on: { click: (e) => confirmThen(e.currentTarget, 'Really allow?', () => setDoNotCall(contact, number, false)) },
    }) : null);
}

async function setDoNotCall(contact, number, value) {
  const id = contactKey(contact);
  const res = await api('PUT', `/api/contacts/${encodeURIComponent(id)}/do-not-call`, { number, do_not_call: value });
  if (!O.running || res.unauthorized) return;
  if (!res.ok) {
    toast(res.error.message);
    return;
  }
  const marked = str(res.data && res.data.number) || number;
  if (!O.dncLocal.has(id)) O.dncLocal.set(id, new Map());
  O.dncLocal.get(id).set(marked, value);
  if (marked !== number) O.dncLocal.get(id).set(number, value);
  toast(value ? `${number} is marked: the customer will not be called on it.` : `${number} may be called again.`, 'info');
  refreshPhones();
}

// ---------------------------------------------------------------- calling

async function dial(contact, number) {
  if (pendingTo(number)) return;
  O.dialing.add(number);
  refreshPhones();
  const contactId = Number(contactKey(contact));
  const body = Number.isInteger(contactId) && contactId > 0 ? { number, contact_id: contactId } : { number };
  const res = await api('POST', '/api/outbound/calls', body);
  O.dialing.delete(number);
  if (!O.running || res.unauthorized) return;
  const name = str(contact.name);
  if (!res.ok) {
    if (res.error.code === 'outbound.do_not_call' && contactKey(contact)) {
      const id = contactKey(contact);
      if (!O.dncLocal.has(id)) O.dncLocal.set(id, new Map());
      O.dncLocal.get(id).set(number, true);
    }
    failed({ number, name, kind: 'click_to_call' }, res.error);
    refreshPhones();
    return;
  }
  track(obj(res.data) || {}, { name, number, kind: 'click_to_call' });
}

/** An attempt the server accepted: follow it until its result is known. */
function track(attempt, about) {
  const id = str(attempt.id);
  if (!id) return;
  const a = O.attempts.get(id) || {
    id,
    number: str(attempt.number) || about.number,
    name: about.name,
    kind: str(attempt.kind) || about.kind,
    callbackId: attempt.callback_id ?? about.callbackId ?? null,
    result: null,
    text: '',
    // Its pop and the agent's "on call" may have come before the server's answer.
    phase: O.seen.has(`${OUT_PREFIX}${id}`) && O.agentState === 'on_call' ? 'dialing' : 'ringing',
    polls: 0,
    timer: null,
    el: null,
    at: Date.now(),
  };
  const known = O.attempts.has(id);
  O.attempts.set(id, a);
  if (attempt.result) settle(a, attempt.result, '');
  else {
    clearTimeout(a.timer);
    a.timer = setTimeout(() => poll(a), RESULT_WAIT_MS);
    renderAttempt(a);
  }
  refreshPhones();
  if (!known && hooks.changed) hooks.changed(callIdOf(a));
}

const SAME_MS = 10000;
const REFUSALS = new Set(['asterisk.refused', 'asterisk.unavailable']);

/** Asterisk refused a request: the API says so, and the `outbound` message of the attempt
 * the server stored says it again; one of the two is shown. */
const refusedTwice = (number, kind) => [...O.attempts.values()].find((a) => a.number === number
  && Date.now() - a.at < SAME_MS && (kind === 'error' ? a.result === 'refused' : REFUSALS.has(a.code)));

/** A request the server refused: said in its own words, where the progress would be. */
function failed(about, error) {
  const shown = REFUSALS.has(error.code) ? refusedTwice(about.number, 'error') : null;
  if (shown) dismiss(shown);
  const a = {
    id: nextId('refused'),
    number: about.number,
    name: about.name,
    kind: about.kind,
    callbackId: about.callbackId ?? null,
    result: null,
    error: error.message,
    code: error.code,
    text: '',
    phase: '',
    at: Date.now(),
    el: null,
    timer: null,
  };
  O.attempts.set(a.id, a);
  renderAttempt(a);
}

function settle(a, result, text) {
  if (a.result) return;
  clearTimeout(a.timer);
  a.timer = null;
  a.result = str(result);
  a.text = resultSentence(result, text);
  a.dismissed = false;
  renderAttempt(a);
  refreshPhones();
}

async function poll(a) {
  a.timer = null;
  if (!O.running || a.result || a.error || a.dismissed) return;
  const res = await api('GET', `/api/outbound/calls/${encodeURIComponent(a.id)}`);
  if (!O.running || a.result || a.dismissed || res.unauthorized) return;
  const found = res.ok ? obj(res.data) : null;
  if (found && found.result) {
    settle(a, found.result, '');
    return;
  }
  a.polls += 1;
  if (res.status === 404 || a.polls >= POLL_MAX) {
    a.error = res.status === 404 ? 'The server no longer knows this call.' : 'No result came for this call. Check your phone and the customer\u2019s history.';
    renderAttempt(a);
    refreshPhones();
    return;
  }
  a.timer = setTimeout(() => poll(a), POLL_MS);
}

/** An `outbound` message: an attempt's result (of this page's, or one the scheduler made). */
export function onOutbound(msg) {
  if (!O.running) return;
  const id = str(msg.attempt_id);
  if (id) {
    let a = O.attempts.get(id);
    if (!a && str(msg.result) === 'refused' && refusedTwice(str(msg.number), 'result')) {
      loadCallbacks(false);
      return;
    }
    if (!a) {
      const cb = O.callbacks.find((c) => str(c.id) === str(msg.callback_id));
      track({ id, number: msg.number, kind: msg.kind, callback_id: msg.callback_id },
        { name: cb ? str(cb.contact_name) : '', number: str(msg.number), kind: str(msg.kind) });
      a = O.attempts.get(id);
    }
    if (a) settle(a, msg.result, msg.text);
  }
  loadCallbacks(false);
}

/** A pop: if it is an outbound attempt's call, say how far it got. */
export function notePop(pop) {
  const call = obj(pop && pop.call);
  if (!call) return;
  const callId = str(call.id);
  if (!callId.startsWith(OUT_PREFIX)) return;
  O.seen.add(callId);
  const a = O.attempts.get(callId.slice(OUT_PREFIX.length));
  if (!a || a.result || a.error) return;
  // Talking: the agent's phone answered, the customer is dialled or answered (that comes
  // with the result, in the `outbound` message). A phase only ever moves on.
  if (str(call.stage) === 'talking' && a.phase === 'ringing') {
    a.phase = 'dialing';
    renderAttempt(a);
    if (hooks.changed) hooks.changed(callIdOf(a));
  }
}

/** The agent's state: on a call while an attempt rings means they answered it. */
export function noteAgent(state) {
  O.agentState = str(state);
  if (state !== 'on_call') return;
  for (const a of O.attempts.values()) {
    if (!a.result && !a.error && a.phase === 'ringing') {
      a.phase = 'dialing';
      renderAttempt(a);
      if (hooks.changed) hooks.changed(callIdOf(a));
    }
  }
}

/** Whether a pop is an outbound call (the agent's phone rings first). */
export function isOutboundCall(call) {
  const c = obj(call) || {};
  return str(c.direction) === 'outbound' || str(c.id).startsWith(OUT_PREFIX);
}

/** The attempt an outbound pop belongs to, if this page knows it: {name, number, kind,
 * phase} (phase ``dialing``: the agent answered, the customer's phone rings). */
export function outboundAbout(call) {
  const id = str(obj(call) && call.id);
  const a = id.startsWith(OUT_PREFIX) ? O.attempts.get(id.slice(OUT_PREFIX.length)) : null;
  return a ? { name: str(a.name), number: str(a.number), kind: str(a.kind), phase: str(a.phase) } : null;
}

/** A call-back rather than a click-to-call (its attempt is known here). */
export function isCallbackCall(call) {
  const about = outboundAbout(call);
  return Boolean(about && about.kind === 'callback');
}

// ---------------------------------------------------------------- progress on screen

const PHASE_TEXT = {
  ringing: 'Ringing your phone\u2026 answer it and the customer is dialled.',
  dialing: 'Calling the customer\u2026',
};

function renderAttempt(a) {
  const list = $('outbound-list');
  const who = a.name ? `${a.name} \u00b7 ${a.number}` : a.number;
  const title = a.kind === 'callback' ? `Call-back to ${who}` : `Call to ${who}`;
  let state = 'pending';
  let text = PHASE_TEXT[a.phase] || PHASE_TEXT.ringing;
  if (a.error) {
    state = 'error';
    text = a.error;
  } else if (a.result) {
    state = a.result;
    text = a.result === 'answered' ? `Connected: ${a.text}.` : `Not connected: ${a.text}.`;
  }
  const tone = a.error ? 'bad' : a.result ? resultTone(a.result) : 'pending';
  const el = h('div', {
    class: `outbound outbound-${tone}`,
    'data-testid': 'outbound-status',
    'data-attempt-id': a.error && !/^\d+$/.test(a.id) ? null : a.id,
    'data-result': state,
    role: a.error ? 'alert' : null,
  },
  a.result || a.error ? null : h('span', { class: 'spinner outbound-spinner', 'aria-hidden': 'true' }),
  h('div', { class: 'outbound-body' },
    h('p', { class: 'outbound-title', text: title }),
    h('p', { class: 'outbound-text', 'data-testid': 'outbound-text', text })),
  h('button', {
    type: 'button',
    class: 'toast-close outbound-close',
    'aria-label': a.result || a.error ? 'Dismiss' : 'Stop following this call',
    title: 'Dismiss',
    text: '\u00d7',
    on: { click: () => dismiss(a) },
  }));
  if (a.el && a.el.parentNode === list) a.el.replaceWith(el);
  else list.prepend(el);
  a.el = el;
  trimSettled();
}

function dismiss(a) {
  clearTimeout(a.timer);
  a.timer = null;
  a.dismissed = true;
  if (a.el) a.el.remove();
  O.attempts.delete(a.id);
  refreshPhones();
}

function trimSettled() {
  const settled = [...O.attempts.values()].filter((a) => a.result || a.error).sort((x, y) => y.at - x.at);
  for (const a of settled.slice(SETTLED_SHOWN)) dismiss(a);
}

// ---------------------------------------------------------------- the call-back panel

const P = {};

function buildPanel() {
  if (P.body) return;
  const section = $('callbacks');
  P.count = h('span', { class: 'callbacks-count', 'data-testid': 'callbacks-count' });
  P.updated = h('span', { class: 'callbacks-updated muted', 'data-testid': 'callbacks-updated' });
  P.refresh = h('button', {
    type: 'button',
    class: 'btn btn-small',
    'data-testid': 'callbacks-refresh',
    'aria-label': 'Refresh the call-backs',
    text: 'Refresh',
    on: { click: () => loadCallbacks(false) },
  });
  P.error = h('p', { class: 'problems', 'data-testid': 'callbacks-error', role: 'alert', hidden: true });
  P.body = h('tbody', { 'data-testid': 'callbacks-body' });
  P.empty = h('p', { class: 'callbacks-empty muted', 'data-testid': 'callbacks-empty', hidden: true, text: 'Nobody is waiting for a call-back.' });
  P.more = h('button', {
    type: 'button',
    class: 'btn btn-small',
    'data-testid': 'callbacks-more',
    hidden: true,
    text: 'Show more',
    on: { click: () => loadCallbacks(true) },
  });
  const head = (text, cls) => h('th', { scope: 'col', class: cls || null, text });
  P.table = h('div', { class: 'callbacks-wrap' },
    h('table', { class: 'grid-table callbacks-table', 'data-testid': 'callbacks-table' },
      h('caption', { class: 'visually-hidden', text: 'Open call-backs, who waited first at the top' }),
      h('thead', null, h('tr', null,
        head('Customer'), head('Queue'), head('Waited', 'num'), head('In line since'), head('Attempts', 'num'),
        head('Next attempt'), head('Last result'), head('Taken by'), head('Actions'))),
      P.body));
  section.replaceChildren(
    h('div', { class: 'callbacks-head' },
      h('h2', { class: 'callbacks-title', id: 'callbacks-title', text: 'Call-backs' }),
      P.count, P.updated, h('span', { class: 'callbacks-actions' }, P.refresh)),
    P.error, P.table, P.empty, P.more);
  buildCloseDialog();
}

async function loadCallbacks(more) {
  if (!O.running || !P.body || (more && !O.next)) return;
  const seq = ++O.seq;
  const params = new URLSearchParams({ state: 'open', limit: String(PAGE) });
  if (more) params.set('after', String(O.next));
  const res = await api('GET', `/api/callbacks?${params}`);
  if (seq !== O.seq || !O.running || res.unauthorized) return;
  if (!res.ok) {
    P.error.textContent = `Could not read the call-backs: ${res.error.message}`;
    P.error.hidden = false;
    return;
  }
  P.error.hidden = true;
  const items = arr(res.data && res.data.callbacks).filter(obj);
  O.callbacks = more ? O.callbacks.concat(items) : items;
  const next = res.data && res.data.next_after;
  O.next = next === null || next === undefined ? null : next;
  P.updated.textContent = `Updated ${clock(new Date())}`;
  renderCallbacks();
}

function renderCallbacks() {
  const active = document.activeElement;
  const row = active && P.body.contains(active) ? active.closest('tr') : null;
  const keep = row ? [row.dataset.callbackId, active.dataset.testid] : null;
  P.body.replaceChildren(...O.callbacks.map(callbackRow));
  P.empty.hidden = O.callbacks.length > 0;
  P.table.hidden = O.callbacks.length === 0;
  P.more.hidden = O.next === null;
  const n = O.callbacks.length;
  P.count.textContent = n ? `${n}${O.next !== null ? '+' : ''} open` : '';
  if (keep) {
    const again = P.body.querySelector(`tr[data-callback-id="${CSS.escape(keep[0])}"] [data-testid="${CSS.escape(keep[1])}"]`);
    if (again && !again.disabled) again.focus({ preventScroll: true });
  }
}

const whoOf = (cb) => str(cb.contact_name) || str(cb.number);

function callbackRow(cb) {
  const id = str(cb.id);
  const state = str(cb.state);
  const name = str(cb.contact_name);
  const number = str(cb.number);
  const takenBy = str(cb.taken_by);
  const mine = takenBy !== '' && takenBy === me();
  const free = takenBy === '';
  const waited = cb.wait_seconds === null || cb.wait_seconds === undefined ? '' : duration(cb.wait_seconds);
  const place = toDate(cb.place_at);
  const retry = retryText(cb.next_attempt_at);
  const who = whoOf(cb);
  const actions = [];
  if (state === 'owed') {
    if (free) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small', 'data-testid': 'callback-take', text: 'Take',
        'aria-label': `Take the call-back to ${who}`,
        on: { click: (e) => take(cb, e.currentTarget) },
      }));
    }
    if (free || mine) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'callback-call', text: 'Call back',
        'aria-label': `Call ${who} back now`,
        disabled: pendingTo(number),
        on: { click: (e) => callBack(cb, e.currentTarget) },
      }));
    }
    if (free || mine || supervisor()) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-small', 'data-testid': 'callback-close', text: 'Close',
        'aria-label': `Close the call-back to ${who}`,
        on: { click: () => openClose(cb) },
      }));
    }
  } else if (state === 'dialing') {
    actions.push(h('span', { class: 'chip chip-live', text: 'Being dialled' }));
  }
  return h('tr', { 'data-testid': 'callback-row', 'data-callback-id': id, 'data-state': state, 'data-number': number },
    h('th', { scope: 'row', class: 'callback-who' },
      h('span', { 'data-testid': 'callback-name', text: who }),
      name ? h('span', { class: 'cell-sub mono', 'data-testid': 'callback-number', text: number }) : null,
      SOURCE_TEXT[str(cb.source)] ? h('span', { class: 'cell-sub', text: SOURCE_TEXT[str(cb.source)] }) : null),
    h('td', { 'data-testid': 'callback-queue', text: str(cb.queue) }),
    h('td', { class: 'num', 'data-testid': 'callback-waited', text: waited || '\u2014' }),
    h('td', { 'data-testid': 'callback-since', title: place ? place.toLocaleString() : '' },
      place ? h('time', { datetime: str(cb.place_at), text: clock(place) }) : '\u2014',
      place ? h('span', { class: 'cell-sub', text: agoText(place) }) : null),
    h('td', { class: 'num', 'data-testid': 'callback-attempts', text: str(cb.attempts ?? 0) }),
    h('td', { 'data-testid': 'callback-next', class: retry ? 'callback-retry' : null, text: retry || (state === 'dialing' ? 'now' : 'any time') }),
    h('td', { 'data-testid': 'callback-last-result', 'data-tone': resultTone(cb.last_result) || null, text: resultLabel(cb.last_result) }),
    h('td', { 'data-testid': 'callback-taken-by', text: mine ? 'you' : takenBy || '\u2014' }),
    h('td', { class: 'actions callback-actions' }, actions));
}

async function take(cb, button) {
  button.disabled = true;
  const res = await api('POST', `/api/callbacks/${encodeURIComponent(cb.id)}/take`);
  if (!O.running || res.unauthorized) return;
  if (!res.ok) toast(res.error.message);
  await loadCallbacks(false);
}

async function callBack(cb, button) {
  button.disabled = true;
  const about = { name: str(cb.contact_name), number: str(cb.number), kind: 'callback', callbackId: cb.id };
  O.dialing.add(about.number);
  refreshPhones();
  const res = await api('POST', `/api/callbacks/${encodeURIComponent(cb.id)}/call`);
  O.dialing.delete(about.number);
  if (!O.running || res.unauthorized) return;
  if (res.ok) track(obj(res.data) || {}, about);
  else {
    failed(about, res.error);
    refreshPhones();
  }
  await loadCallbacks(false);
}

// ---------------------------------------------------------------- closing a call-back

function buildCloseDialog() {
  P.closeTitle = h('h2', { class: 'dialog-title', id: 'callback-close-title' });
  P.closeText = h('p', { class: 'dialog-text muted' });
  P.note = h('textarea', {
    class: 'textarea', id: 'callback-close-note', 'data-testid': 'callback-close-note', rows: '3', maxLength: 2000,
    placeholder: 'What happened, or why no more attempts',
  });
  P.closeProblems = h('p', { class: 'problems', 'data-testid': 'callback-close-problems', role: 'alert', hidden: true });
  P.dialog = h('dialog', { class: 'dialog', 'data-testid': 'callback-close-dialog', 'aria-labelledby': 'callback-close-title' },
    h('form', { novalidate: true, on: { submit: onCloseSubmit } },
      P.closeTitle,
      P.closeText,
      h('label', { class: 'field', for: 'callback-close-note' },
        h('span', { class: 'field-label' }, 'Note ', h('span', { class: 'muted', text: '(needed to give up)' })), P.note),
      P.closeProblems,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'submit', value: 'done', class: 'btn btn-primary', 'data-testid': 'callback-close-done', text: 'Done: dealt with' }),
        h('button', { type: 'submit', value: 'given_up', class: 'btn', 'data-testid': 'callback-close-give-up', text: 'Give up' }),
        h('button', { type: 'button', class: 'btn btn-quiet', 'data-testid': 'callback-close-cancel', text: 'Cancel', on: { click: () => P.dialog.close() } }))));
  P.dialog.addEventListener('close', () => {
    O.closing = null;
  });
  document.body.append(P.dialog);
}

function openClose(cb) {
  O.closing = cb;
  P.closeTitle.textContent = `Close the call-back to ${whoOf(cb)}`;
  P.closeText.textContent = 'Done: the customer was reached or helped another way. Give up: no more attempts.';
  P.note.value = '';
  P.closeProblems.hidden = true;
  P.dialog.showModal();
  P.note.focus();
}

async function onCloseSubmit(event) {
  event.preventDefault();
  const cb = O.closing;
  if (!cb) return;
  const state = event.submitter && event.submitter.value === 'given_up' ? 'given_up' : 'done';
  const note = P.note.value.trim();
  if (state === 'given_up' && !note) {
    P.closeProblems.textContent = 'Say in a note why the call-back is given up.';
    P.closeProblems.hidden = false;
    P.note.focus();
    return;
  }
  const buttons = [...P.dialog.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  const res = await api('POST', `/api/callbacks/${encodeURIComponent(cb.id)}/close`, { state, note });
  for (const b of buttons) b.disabled = false;
  if (!O.running || res.unauthorized) return;
  if (!res.ok) {
    P.closeProblems.textContent = res.error.message;
    P.closeProblems.hidden = false;
    return;
  }
  P.dialog.close();
  toast(state === 'done' ? `Call-back to ${whoOf(cb)} closed as done.` : `Call-back to ${whoOf(cb)} given up.`, 'info');
  await loadCallbacks(false);
}

/** The Close dialog is open (Escape is its own, not the toasts'). */
export const dialogOpen = () => Boolean(P.dialog && P.dialog.open);
