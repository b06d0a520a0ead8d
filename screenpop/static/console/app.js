/* Callfold console: supervisors' and admins' page.
 *
 * Plain ES2020 module, no framework, no build step, no network besides this server.
 * Contract: docs/console.md (tabs and roles, the /ws/wallboard protocol, the REST calls).
 * Login is the desktop's: ../shared/ holds the session (one token in sessionStorage under
 * the same keys, so signing in on either page holds on the other), the REST calls, the
 * sign-in form, the socket's upkeep, the element builder, formatters and toasts.
 *
 * Safety rule for this file: server data only ever reaches the page through
 * textContent, Text nodes and setAttribute on non-URL attributes (the one URL, a tel:
 * link, is built from digits only); never innerHTML.
 *
 * The Dialplan, Reports, Call-backs and Call-back rules tabs live in dialplan.js,
 * reports.js and callbacks.js (ES modules loaded the first time their tab opens): see
 * renderPlaceholder() and docs/console.md. The routing rules' versions, their viewer,
 * checks, saves and rollbacks are ruledoc.js's, shared with the Call-back rules tab.
 */

import {
  $, AGENT_STATES, arr, confirmThen, dismissToastsOnEscape, duration, h, num, obj, str, toast, toDate,
  words,
} from '../shared/dom.js';
import { api, clearSession, saveUser, session, setApiHooks } from '../shared/session.js';
import { resumeOrSignIn, setUpLogin, showLogin } from '../shared/login.js';
import { screenSocket } from '../shared/socket.js';
import { ruleDocument } from './ruledoc.js';

(() => {
  // ---------------------------------------------------------------- constants

  const PING_MS = 25000;
  const SILENCE_MS = 60000; // nothing at all (not even a pong) for this long: the socket is dead
  const ABANDONED_KEPT = 100;
  const AUDIT_PAGE = 50;
  const DEFAULT_SL_TARGET = 80; // percent, until the server's full picture says (targets)
  const RANK = { agent: 0, supervisor: 1, admin: 2 };
  const REASON_ID = /^[a-z][a-z0-9_]{0,47}$/;

  const SPY = [
    { mode: 'listen', label: 'Listen', hint: 'hear the agent and the caller' },
    { mode: 'whisper', label: 'Whisper', hint: 'talk to the agent only' },
    { mode: 'barge', label: 'Barge', hint: 'talk to the agent and the caller' },
  ];
  /** Tabs filled by other modules: file and exported function, called as fn(panel, kit). */
  const PLACEHOLDERS = {
    dialplan: { file: './dialplan.js', fn: 'renderDialplan' },
    reports: { file: './reports.js', fn: 'renderReports' },
    callbacks: { file: './callbacks.js', fn: 'renderCallbacks' },
    'callback-rules': { file: './callbacks.js', fn: 'renderCallbackRules' },
  };

  // ---------------------------------------------------------------- state

  const S = {
    signedOut: true,
    tab: null,
    opened: new Set(),
    pauseFor: null,
  };

  /** The wallboard as the server last described it (docs/console.md). */
  const W = {
    have: false,
    at: 0,
    slTarget: DEFAULT_SL_TARGET,
    queues: new Map(), // name -> queue
    agents: new Map(), // interface -> agent
    abandoned: [],
    alerts: [],
    alertsKey: '',
    abandonedKey: '',
    queueRows: new Map(), // name -> {tr, sig}
    agentRows: new Map(), // interface -> {tr, sig}
  };

  /** Bounds on the server's clock minus ours, seconds: each wallboard's `at` (when the
   * picture last changed, so never later than the server's now) and each HTTP `Date`
   * header (whole seconds) narrow them. Timers trust our clock unless these prove it off. */
  const CLOCK = { low: -Infinity, high: Infinity };
  const R = { doc: null, editing: null }; // routing rules tab
  const A = { next: null, filters: {}, loading: false }; // audit tab
  const staffingCards = new Map(); // queue -> form

  // ---------------------------------------------------------------- formatting

  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const timeFmt = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

  function when(value) {
    const d = toDate(value);
    return d ? dateTimeFmt.format(d) : str(value);
  }

  /** Today's times as a time, older ones with their date. */
  function shortWhen(value) {
    const d = toDate(value);
    if (!d) return str(value);
    return d.toDateString() === new Date().toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
  }

  /** 0.1743 -> "17.4%" (a fraction), or 85 -> "85.0%" with fraction=false. */
  function percent(value, fraction = true) {
    const n = num(value);
    if (n === null) return '—';
    return `${(fraction ? n * 100 : n).toFixed(1)}%`;
  }

  /** A short, single-line rendering of any JSON value. */
  function compact(value, max = 80) {
    let text;
    if (value === undefined || value === null) text = '—';
    else if (typeof value === 'string') text = value;
    else text = JSON.stringify(value);
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  }

  /** Seconds since the epoch on the server's clock. */
  function serverNow() {
    let skew = Math.max(0, CLOCK.low);
    if (skew > CLOCK.high) skew = Math.max(CLOCK.high, CLOCK.low);
    return Date.now() / 1000 + skew;
  }

  function clockFromHeader(res, sentAt) {
    const date = Date.parse(res.headers.get('Date') || '');
    if (!Number.isFinite(date)) return;
    CLOCK.low = Math.max(CLOCK.low, (date - Date.now()) / 1000);
    CLOCK.high = Math.min(CLOCK.high, (date + 1000 - sentAt) / 1000);
  }

  // ---------------------------------------------------------------- role

  const role = () => (session.user && RANK[session.user.role] !== undefined ? session.user.role : 'agent');
  const can = (least) => RANK[role()] >= RANK[least];

  // ---------------------------------------------------------------- REST helpers

  const query = (params) => {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== '') q.set(key, String(value));
    }
    const text = q.toString();
    return text ? `?${text}` : '';
  };

  /** Show an API error (its problems, one per line, or its message) in a .problems box. */
  function showProblems(el, error) {
    const problems = error.problems && error.problems.length ? error.problems : [error.message];
    el.replaceChildren(
      problems.length > 1 ? h('ul', null, problems.map((p) => h('li', { text: p }))) : problems[0],
    );
    el.hidden = false;
  }

  function hideProblems(el) {
    el.hidden = true;
    el.replaceChildren();
  }

  /** What the tab modules (dialplan.js, reports.js, callbacks.js) and ruledoc.js get. */
  const kit = Object.freeze({
    api, h, toast, query, showProblems, hideProblems, can,
    user: () => session.user,
    format: Object.freeze({ duration, percent, when, shortWhen, compact }),
  });

  // ---------------------------------------------------------------- login and views

  /** Signed in: show the console for the user's role, and ask the server who we are (the
   * role may have changed since a stored login). */
  function start() {
    S.signedOut = false;
    socket.start();
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    document.title = 'Callfold · Console';
    if (session.user) applyRole();
    refreshMe();
  }

  /** The role may have changed since the stored login: ask the server. */
  async function refreshMe() {
    const res = await api('GET', '/api/auth/me');
    if (!res.ok || !obj(res.data) || S.signedOut) {
      if (!res.ok && !res.unauthorized && !session.user) toast(res.error.message);
      return;
    }
    const before = role();
    saveUser(res.data);
    if (before !== role() || $('tabs').hidden === can('supervisor')) applyRole();
    else renderUser();
  }

  function renderUser() {
    const user = session.user || {};
    $('user-name').textContent = str(user.display_name) || str(user.username);
    const meta = [words(role())];
    if (user.agent_interface) meta.push(str(user.agent_interface));
    $('user-meta').textContent = meta.join(' · ');
    document.body.dataset.role = role();
  }

  /** What this role sees: agents only a pointer to the desktop, no data, no socket. */
  function applyRole() {
    renderUser();
    const supervisor = can('supervisor');
    $('not-supervisor').hidden = supervisor;
    $('tabs').hidden = !supervisor;
    $('connection').hidden = !supervisor;
    $('main').hidden = !supervisor;
    for (const tab of tabs()) tab.hidden = !can(tab.dataset.role);
    if (!supervisor) {
      socket.disconnect();
      for (const panel of panels()) panel.hidden = true;
      $('reconnect-banner').hidden = true;
      return;
    }
    $('rule-new').hidden = !can('admin');
    $('rules-readonly').hidden = can('admin');
    socket.connect();
    selectTab(location.hash.slice(1) || S.tab || 'wallboard');
  }

  /** Forget the token and everything shown, and go back to the login form. */
  function signOut(notice) {
    if (S.signedOut) return;
    S.signedOut = true;
    socket.stop();
    clearSession();
    if ($('pause-dialog').open) $('pause-dialog').close();
    resetData();
    showLogin(notice);
  }

  function resetData() {
    Object.assign(CLOCK, { low: -Infinity, high: Infinity });
    Object.assign(W, {
      have: false, at: 0, slTarget: DEFAULT_SL_TARGET, abandoned: [], alerts: [],
      alertsKey: '', abandonedKey: '',
    });
    W.queues.clear();
    W.agents.clear();
    W.queueRows.clear();
    W.agentRows.clear();
    for (const id of ['queue-body', 'agent-body', 'abandoned-body', 'alert-list', 'rules-body',
      'versions-body', 'audit-body', 'staffing-list']) $(id).replaceChildren();
    $('alerts').hidden = true;
    $('alert-count').hidden = true;
    $('wallboard-at').textContent = 'Waiting for the first picture…';
    staffingCards.clear();
    Object.assign(R, { doc: null, editing: null });
    Object.assign(A, { next: null, filters: {}, loading: false });
    $('rule-editor').hidden = true;
    $('simulate-result').hidden = true;
    $('version-view').hidden = true;
    for (const id of Object.keys(PLACEHOLDERS)) $(`panel-${id}`).replaceChildren();
    S.opened.clear();
  }

  // ---------------------------------------------------------------- tabs

  const tabs = () => [...document.querySelectorAll('#tabs [role="tab"]')];
  const panels = () => [...document.querySelectorAll('#main [role="tabpanel"]')];

  function selectTab(id, focus = false) {
    const visible = tabs().filter((t) => !t.hidden);
    const tab = visible.find((t) => t.dataset.tab === id) || visible[0];
    if (!tab) return;
    for (const t of tabs()) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !selected;
    }
    S.tab = tab.dataset.tab;
    if (location.hash !== `#${S.tab}`) history.replaceState(null, '', `#${S.tab}`);
    if (focus) tab.focus();
    openTab(S.tab);
  }

  function onTabKey(event) {
    const visible = tabs().filter((t) => !t.hidden);
    const at = visible.indexOf(document.activeElement);
    if (at < 0) return;
    const to = {
      ArrowRight: (at + 1) % visible.length,
      ArrowLeft: (at - 1 + visible.length) % visible.length,
      Home: 0,
      End: visible.length - 1,
    }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    selectTab(visible[to].dataset.tab, true);
  }

  /** A tab's content is fetched the first time it opens (the audit log every time). */
  function openTab(id) {
    if (id === 'audit') {
      loadAudit(true);
      return;
    }
    if (S.opened.has(id)) return;
    S.opened.add(id);
    if (id === 'staffing') renderStaffing();
    else if (id === 'routing') loadRouting();
    else if (PLACEHOLDERS[id]) renderPlaceholder(id);
  }

  // ---------------------------------------------------------------- wallboard socket

  const socket = screenSocket({
    path: '/ws/wallboard',
    pingMs: PING_MS,
    silenceMs: SILENCE_MS,
    allowed: () => can('supervisor'),
    labels: { connected: 'Live' },
    text: {
      protocol: 'wallboard',
      behind: 'the console fell behind',
      offline: 'Connection lost: you are offline. The console reconnects as soon as the network is back. Figures shown may be out of date.',
      stale: 'Figures shown may be out of date.',
      denied: 'The wallboard is for supervisors.',
    },
    freshAfter: [1013], // fell behind: come back at once for a fresh picture
    onMessage: handleMessage,
    onState: (state) => {
      $('panel-wallboard').dataset.stale = String(state !== 'connected');
    },
    onUnauthorized: signOut,
  });

  function handleMessage(msg) {
    if (msg.type !== 'wallboard') return;
    if (msg.full && socket.state !== 'connected') socket.welcomed();
    onWallboard(msg);
  }

  // ---------------------------------------------------------------- wallboard picture

  /** Lay a message over the picture: a full one replaces it, a partial one carries the
   * changed queues and agents, the new abandoned callers and the alerts in force. */
  function onWallboard(msg) {
    if (!msg.full && !W.have) return; // the full picture always comes first
    const at = num(msg.at);
    if (at !== null) {
      CLOCK.low = Math.max(CLOCK.low, at - Date.now() / 1000);
      W.at = at;
    }
    const queues = arr(msg.queues).filter((q) => obj(q) && q.name !== undefined);
    const agents = arr(msg.agents).filter((a) => obj(a) && a.interface !== undefined);
    const abandoned = arr(msg.abandoned).filter(obj);
    if (msg.full) {
      W.queues.clear();
      W.agents.clear();
      W.abandoned = abandoned.slice(0, ABANDONED_KEPT);
    } else {
      W.abandoned = abandoned.concat(W.abandoned).slice(0, ABANDONED_KEPT);
    }
    for (const q of queues) W.queues.set(str(q.name), q);
    for (const a of agents) W.agents.set(str(a.interface), a);
    W.alerts = arr(msg.alerts).filter(obj);
    const targets = obj(msg.targets);
    if (targets && num(targets.service_level) !== null) W.slTarget = targets.service_level;
    for (const alert of W.alerts) {
      if (alert.kind === 'service_level' && num(alert.target) !== null) W.slTarget = alert.target;
    }
    W.have = true;
    renderQueues();
    renderAgents();
    renderAbandoned();
    renderAlerts();
    $('wallboard-at').textContent = W.at ? `Updated ${timeFmt.format(toDate(W.at))}` : '';
    if (S.opened.has('staffing')) renderStaffing();
  }

  /** Put keyed rows in ``order`` into ``tbody``, rebuilding a row only when its data
   * changed (and keeping the focus on the same control when it was inside). */
  function syncRows(tbody, rows, order, signature, build) {
    for (const [key, row] of rows) {
      if (!order.some(([k]) => k === key)) {
        row.tr.remove();
        rows.delete(key);
      }
    }
    let previous = null;
    for (const [key, item] of order) {
      const sig = signature(item);
      let row = rows.get(key);
      if (!row || row.sig !== sig) {
        const tr = build(item);
        if (row) {
          const focused = row.tr.contains(document.activeElement) ? document.activeElement : null;
          row.tr.replaceWith(tr);
          const again = focused && focused.dataset.testid
            ? tr.querySelector(`[data-testid="${focused.dataset.testid}"]`) : null;
          if (again && !again.disabled) again.focus();
        }
        row = { tr, sig };
        rows.set(key, row);
      }
      const expected = previous ? previous.nextSibling : tbody.firstChild;
      if (row.tr !== expected) {
        if (previous) previous.after(row.tr);
        else tbody.prepend(row.tr);
      }
      previous = row.tr;
    }
  }

  function renderQueues() {
    const order = [...W.queues.entries()].sort(([a], [b]) => a.localeCompare(b));
    syncRows($('queue-body'), W.queueRows, order, (q) => `${W.slTarget}|${JSON.stringify(q)}`, queueRow);
  }

  function queueRow(q) {
    const name = str(q.name);
    const waiting = num(q.waiting) || 0;
    const level = num(q.service_level_seconds);
    const answered = num(q.answered) || 0;
    const finished = answered + (num(q.abandoned) || 0);
    const loggedIn = num(q.logged_in) || 0;
    const since = num(q.oldest_since);
    const waited = since !== null ? serverNow() - since : num(q.longest_wait) || 0;
    const over = waiting > 0 && level !== null && waited > level;
    const wait = h('span', {
      class: [since !== null ? 'js-wait' : '', over ? 'over' : ''].join(' ').trim() || null,
      'data-testid': 'q-longest',
      'data-since': since !== null ? since : null,
      'data-level': level !== null ? level : null,
      text: waiting ? duration(waited) : '—',
    });
    const grade = (value, calls) => {
      if (!calls || num(value) === null) return { text: '—', title: 'No call to count yet' };
      return {
        text: percent(value, false),
        grade: value >= W.slTarget ? 'good' : 'bad',
        title: `Target ${W.slTarget}% within ${level === null ? '?' : level} s`,
      };
    };
    const sl = grade(q.sl, answered); // of answered calls
    const sl2 = grade(q.sl2, finished); // of answered and abandoned ones
    return h('tr', { 'data-testid': 'queue-row', 'data-queue': name },
      h('th', { scope: 'row', class: 'q-name' },
        h('span', { text: name }),
        level !== null ? h('span', { class: 'cell-sub', text: `SL ${level} s` }) : null),
      h('td', { class: 'num', 'data-testid': 'q-waiting', 'data-hot': waiting > 0 ? 'true' : null, text: waiting }),
      h('td', { class: 'num' }, wait),
      h('td', { class: 'num', 'data-testid': 'q-answered', text: str(q.answered) }),
      h('td', { class: 'num', 'data-testid': 'q-abandoned', text: str(q.abandoned) }),
      h('td', { class: 'num', 'data-testid': 'q-sl', 'data-grade': sl.grade, title: sl.title, text: sl.text }),
      h('td', { class: 'num', 'data-testid': 'q-sl2', 'data-grade': sl2.grade, title: sl2.title, text: sl2.text }),
      h('td', { class: 'num', 'data-testid': 'q-asa', text: duration(q.asa) }),
      h('td', { class: 'num', 'data-testid': 'q-aht', text: duration(q.aht) }),
      h('td', {
        class: 'num',
        'data-testid': 'q-agents',
        'data-grade': !loggedIn && waiting ? 'bad' : null,
        text: `${str(q.available)} / ${str(q.logged_in)}`,
      }));
  }

  function renderAgents() {
    const order = [...W.agents.entries()].sort(([, a], [, b]) =>
      (str(a.name) || str(a.interface)).localeCompare(str(b.name) || str(b.interface)));
    syncRows($('agent-body'), W.agentRows, order, (a) => JSON.stringify(a), agentRow);
  }

  function agentRow(a) {
    const state = AGENT_STATES[a.state] ? a.state : 'unknown';
    const name = str(a.name) || str(a.username) || str(a.interface);
    const since = num(a.since);
    const who = [str(a.username) || 'no Callfold user', str(a.interface)].filter(Boolean).join(' · ');
    return h('tr', {
      'data-testid': 'agent-row',
      'data-agent': a.username ? str(a.username) : null,
      'data-interface': str(a.interface),
      'data-state': state,
    },
    h('th', { scope: 'row' }, h('span', { text: name }), h('span', { class: 'cell-sub', text: who })),
    h('td', null, h('span', {
      class: 'state-badge',
      'data-testid': 'agent-state',
      'data-state': state,
    }, h('span', { class: 'state-dot', 'aria-hidden': 'true' }), AGENT_STATES[state] || words(a.state))),
    h('td', { class: 'num' }, since !== null
      ? h('span', { class: 'js-timer', 'data-from': since, 'data-testid': 'agent-since', text: duration(serverNow() - since) })
      : '—'),
    h('td', { 'data-testid': 'agent-pause-reason', text: state === 'paused' ? str(a.pause_reason) : '' }),
    h('td', { class: 'chips' }, arr(a.queues).map((q) => h('span', { class: 'chip', text: str(q) }))),
    h('td', { class: 'num', 'data-testid': 'agent-handled', text: str(a.handled) }),
    h('td', { class: 'num', 'data-testid': 'agent-missed', text: str(a.missed) }),
    h('td', { class: 'actions' }, agentActions(a, state, name)));
  }

  function agentActions(a, state, name) {
    if (!a.username) return h('span', { class: 'muted', title: 'Not a Callfold user: nothing to act on', text: '—' });
    const buttons = [];
    if (state === 'paused') {
      buttons.push(h('button', {
        type: 'button',
        class: 'btn btn-small',
        'data-testid': 'agent-unpause',
        'aria-label': `Unpause ${name}`,
        text: 'Unpause',
        on: { click: (e) => unpause(a, name, e.currentTarget) },
      }));
    } else if (state !== 'logged_out') {
      buttons.push(h('button', {
        type: 'button',
        class: 'btn btn-small',
        'data-testid': 'agent-pause',
        'aria-label': `Pause ${name}`,
        'aria-haspopup': 'dialog',
        text: 'Pause…',
        on: { click: () => openPause(a, name) },
      }));
    }
    if (state === 'on_call') {
      for (const spy of SPY) {
        buttons.push(h('button', {
          type: 'button',
          class: 'btn btn-small btn-spy',
          'data-testid': `spy-${spy.mode}`,
          'aria-label': `${spy.label} to ${name}'s call`,
          title: `Ring my phone to ${spy.hint}`,
          text: spy.label,
          on: { click: (e) => listenIn(a, name, spy, e.currentTarget) },
        }));
      }
    }
    return buttons.length ? buttons : h('span', { class: 'muted', text: '—' });
  }

  function renderAbandoned() {
    const key = W.abandoned.map((c) => `${str(c.uniqueid)}@${str(c.at)}`).join(',');
    $('abandoned-empty').hidden = W.abandoned.length > 0;
    if (key === W.abandonedKey) return;
    W.abandonedKey = key;
    $('abandoned-body').replaceChildren(...W.abandoned.map((c) => {
      const digits = str(c.caller_num).replace(/[^\d+]/g, '');
      return h('tr', { 'data-testid': 'abandoned-row', 'data-uniqueid': str(c.uniqueid) },
        h('td', { title: when(c.at), text: shortWhen(c.at) }),
        h('td', { class: 'mono' }, digits
          ? h('a', { href: `tel:${digits}`, 'data-testid': 'abandoned-number', text: str(c.caller_num) })
          : h('span', { class: 'muted', text: str(c.caller_num) || 'unknown' })),
        h('td', { text: str(c.caller_name) }),
        h('td', { text: str(c.queue) }),
        h('td', { class: 'num', text: duration(c.wait) }),
        h('td', { class: 'num', text: str(c.position) }));
    }));
  }

  function renderAlerts() {
    const key = JSON.stringify(W.alerts);
    if (key === W.alertsKey) return; // unchanged: do not announce again
    W.alertsKey = key;
    $('alert-list').replaceChildren(...W.alerts.map((alert) => h('li', {
      class: 'alert',
      'data-testid': 'alert',
      'data-kind': str(alert.kind),
    }, str(alert.message) || words(alert.kind))));
    $('alerts').hidden = W.alerts.length === 0;
    const count = $('alert-count');
    count.textContent = String(W.alerts.length);
    count.hidden = W.alerts.length === 0;
    count.title = `${W.alerts.length} alert${W.alerts.length === 1 ? '' : 's'}`;
  }

  // ---------------------------------------------------------------- agent actions

  function openPause(agent, name) {
    S.pauseFor = { username: str(agent.username), name };
    $('pause-dialog-title').textContent = `Pause ${name}`;
    $('pause-reason').value = '';
    hideProblems($('pause-error'));
    $('pause-submit').disabled = false;
    $('pause-dialog').showModal();
    $('pause-reason').focus();
  }

  async function onPauseSubmit(event) {
    event.preventDefault();
    const who = S.pauseFor;
    if (!who) return;
    const reason = $('pause-reason').value.trim();
    if (!reason || reason.length > 64) {
      showProblems($('pause-error'), { message: 'Give a reason (at most 64 characters).' });
      $('pause-reason').focus();
      return;
    }
    $('pause-submit').disabled = true;
    const res = await api('POST', `/api/agents/${encodeURIComponent(who.username)}/pause`, { reason });
    $('pause-submit').disabled = false;
    if (res.unauthorized) return;
    if (!res.ok) {
      showProblems($('pause-error'), res.error);
      return;
    }
    $('pause-dialog').close();
    S.pauseFor = null;
    toast(`Pausing ${who.name} (${reason})…`, 'info');
    refusedWarning(res.data);
  }

  function refusedWarning(data) {
    const refused = arr(data && data.refused).map(str).filter(Boolean);
    if (refused.length) toast(`Some queues refused: ${refused.join('; ')}`, 'warning');
  }

  async function unpause(agent, name, button) {
    button.disabled = true;
    const res = await api('POST', `/api/agents/${encodeURIComponent(str(agent.username))}/unpause`);
    button.disabled = false;
    if (res.unauthorized) return;
    if (res.ok) {
      toast(`Unpausing ${name}…`, 'info');
      refusedWarning(res.data);
    } else toast(res.error.message);
  }

  async function listenIn(agent, name, spy, button) {
    button.disabled = true;
    const res = await api('POST', `/api/agents/${encodeURIComponent(str(agent.username))}/spy`, { mode: spy.mode });
    button.disabled = false;
    if (res.unauthorized) return;
    if (res.ok) {
      const phone = str(res.data && res.data.phone) || 'your phone';
      toast(`Ringing ${phone}: answer it to ${spy.hint} (${name}).`, 'info');
    } else toast(res.error.message);
  }

  // ---------------------------------------------------------------- staffing

  function renderStaffing() {
    const names = [...W.queues.keys()].sort((a, b) => a.localeCompare(b));
    $('staffing-empty').hidden = names.length > 0;
    const list = $('staffing-list');
    for (const name of names) {
      if (staffingCards.has(name)) continue;
      const card = staffingCard(name);
      staffingCards.set(name, card);
      const after = [...staffingCards.keys()].filter((n) => n.localeCompare(name) > 0).sort()[0];
      if (after && staffingCards.get(after).isConnected) staffingCards.get(after).before(card);
      else list.append(card);
    }
  }

  function staffingCard(name) {
    const input = (key, label, attrs) => h('label', { class: 'field' },
      h('span', { class: 'field-label', text: label }),
      h('input', { type: 'number', name: key, 'data-testid': `staffing-${key}`, step: 'any', ...attrs }));
    const result = h('dl', { class: 'figures', 'data-testid': 'staffing-result', hidden: true });
    const source = h('p', { class: 'cell-sub', 'data-testid': 'staffing-source', hidden: true });
    const problems = h('div', { class: 'problems', 'data-testid': 'staffing-error', role: 'alert', hidden: true });
    const form = h('form', { class: 'box staffing', 'data-testid': 'staffing-form', 'data-queue': name, novalidate: true },
      h('h3', { class: 'box-title', text: name }),
      h('div', { class: 'staffing-fields' },
        input('calls', 'Calls per hour', { min: 0, placeholder: 'last hour' }),
        input('aht', 'Handle time (s)', { min: 1, placeholder: 'last hour' }),
        input('target', 'Target (%)', { min: 1, max: 99, value: 80 }),
        input('within', 'Answered within (s)', { min: 0, value: 20 }),
        input('agents', 'With agents (optional)', { min: 1, step: 1, placeholder: 'fewest needed' })),
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'staffing-submit', text: 'Calculate' })),
      problems, result, source);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const value = (key) => form.elements[key].value.trim();
      const target = Number(value('target'));
      if (!(target > 0 && target < 100)) {
        showProblems(problems, { message: 'The target is a percentage between 1 and 99.' });
        return;
      }
      hideProblems(problems);
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      const res = await api('GET', `/api/queues/${encodeURIComponent(name)}/staffing${query({
        calls_per_hour: value('calls'),
        aht: value('aht'),
        target: target / 100,
        within: value('within') || 20,
        agents: value('agents'),
      })}`);
      button.disabled = false;
      if (res.unauthorized) return;
      if (!res.ok) {
        result.hidden = true;
        source.hidden = true;
        showProblems(problems, res.error);
        return;
      }
      const d = res.data || {};
      const figure = (label, text, testid) => h('div', { class: 'figure' },
        h('dt', { text: label }), h('dd', { 'data-testid': testid, text }));
      result.replaceChildren(
        figure(value('agents') ? 'Agents' : 'Agents needed', str(d.agents), 'staffing-needed'),
        figure('Wait probability', percent(d.wait_probability), 'staffing-wait'),
        figure('Service level', percent(d.service_level), 'staffing-sl'),
        figure('ASA', `${num(d.asa_seconds) === null ? '—' : d.asa_seconds} s`, 'staffing-asa'),
        figure('Occupancy', percent(d.occupancy), 'staffing-occupancy'),
        figure('Traffic', `${str(d.traffic_erlangs)} erl`, 'staffing-traffic'));
      result.hidden = false;
      const observed = obj(d.observed) || {};
      source.textContent = `For ${str(d.calls_per_hour)} calls an hour of ${duration(d.aht_seconds)} each, ` +
        `${percent(d.target)} within ${str(d.within_seconds)} s. Last hour: ${str(observed.calls_per_hour)} calls` +
        (num(observed.aht) !== null ? `, ${duration(observed.aht)} average.` : '.');
      source.hidden = false;
    });
    return form;
  }

  // ---------------------------------------------------------------- routing rules

  /** The routing rules document: its versions and the rule editor's checks (ruledoc.js). */
  const routingRules = ruleDocument(kit, {
    base: '/api/routing/rules',
    error: $('rules-error'),
    versions: { body: $('versions-body'), empty: $('versions-empty') },
    viewer: { box: $('version-view'), title: $('version-view-title'), text: $('version-view-body') },
    editor: { text: $('rule-json'), problems: $('rule-problems'), status: $('rule-status') },
    alive: () => !S.signedOut,
    onDoc: (doc) => {
      R.doc = doc;
      renderRules();
    },
  });

  const loadRouting = () => routingRules.load();

  function ruleBody() {
    return (R.doc && obj(R.doc.body)) || { rules: [] };
  }

  function renderRules() {
    $('rules-meta').textContent = routingRules.metaLine(R.doc);
    const body = ruleBody();
    const rules = arr(body.rules).filter(obj).slice()
      .sort((a, b) => (Number(a.priority) - Number(b.priority)) || str(a.id).localeCompare(str(b.id)));
    $('rules-body').replaceChildren(...rules.map((rule) => h('tr', { 'data-testid': 'rule-row', 'data-rule': str(rule.id) },
      h('th', { scope: 'row', class: 'mono', text: str(rule.id) }),
      h('td', { class: 'num', text: str(rule.priority) }),
      h('td', { text: whenText(rule.when) }),
      h('td', { text: targetText(rule.target) }),
      h('td', { text: overflowText(rule.overflow) }),
      h('td', { class: 'actions admin-only' }, can('admin') ? [
        h('button', {
          type: 'button', class: 'btn btn-small', 'data-testid': 'rule-edit', text: 'Edit',
          'aria-label': `Edit rule ${str(rule.id)}`, on: { click: () => openEditor(rule) },
        }),
        h('button', {
          type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'rule-delete', text: 'Delete',
          'aria-label': `Delete rule ${str(rule.id)}`,
          on: { click: (e) => confirmThen(e.currentTarget, 'Really delete?', () => deleteRule(str(rule.id))) },
        }),
      ] : null))));
    const skills = Object.entries(obj(body.skills) || {}).map(([skill, queue]) =>
      (skill === queue ? skill : `${skill} → ${str(queue)}`));
    $('rules-extra').textContent = [
      `No rule matches: ${targetText(body.default)}.`,
      skills.length ? `Skills (queue): ${skills.join(', ')}.` : '',
      body.timezone ? `Time zone ${str(body.timezone)}.` : '',
    ].filter(Boolean).join(' ');
    $('rules-document').textContent = JSON.stringify(body, null, 2);
    const reasons = new Set();
    for (const rule of rules) for (const r of arr(obj(rule.when) && rule.when.reason)) reasons.add(str(r));
    $('reason-list').replaceChildren(...[...reasons].sort().map((r) => h('option', { value: r })));
  }

  function whenText(when_) {
    const conditions = Object.entries(obj(when_) || {});
    if (!conditions.length) return 'always';
    return conditions.map(([key, value]) => {
      if (Array.isArray(value)) return `${key}: ${value.map(str).join(', ')}`;
      if (typeof value === 'boolean') return `${key}: ${value ? 'yes' : 'no'}`;
      if (key === 'hours' && obj(value)) {
        return `hours: ${arr(value.days).join(', ')} ${str(value.from)}–${str(value.to)}`.replace(/\s+/g, ' ');
      }
      if (key === 'queue_wait_over') return `queue wait over ${str(value)} s`;
      return `${key}: ${compact(value)}`;
    }).join('; ');
  }

  function targetText(target) {
    const t = obj(target);
    if (!t) return '—';
    const parts = [`skill ${str(t.skill)}`];
    if (t.min_level !== undefined) parts.push(`level ${str(t.min_level)}+`);
    if (t.team) parts.push(`team ${str(t.team)}`);
    if (t.queue) parts.push(`queue ${str(t.queue)}`);
    return parts.join(', ');
  }

  function overflowText(overflow) {
    const o = obj(overflow);
    return o ? `after ${str(o.after_seconds)} s → ${str(o.to)}` : '';
  }

  function openEditor(rule) {
    R.editing = rule ? str(rule.id) : '';
    const skill = Object.keys(obj(ruleBody().skills) || {})[0] || 'frontdesk';
    const draft = rule || { id: 'new_rule', priority: 50, when: { reason: [] }, target: { skill } };
    $('rule-editor-title').textContent = rule ? `Edit rule ${str(rule.id)}` : 'New rule';
    $('rule-json').value = JSON.stringify(draft, null, 2);
    $('rule-comment').value = '';
    hideProblems($('rule-problems'));
    $('rule-status').hidden = true;
    $('rule-editor').hidden = false;
    $('rule-json').focus();
  }

  const editedRule = () => routingRules.edited('A rule is a JSON object: {"id", "priority", "when", "target"}.');

  /** The whole document with the edited rule in place (or added), to check it. */
  function documentWith(rule) {
    const body = JSON.parse(JSON.stringify(ruleBody()));
    const rules = arr(body.rules);
    const at = R.editing ? rules.findIndex((r) => obj(r) && r.id === R.editing) : -1;
    if (at >= 0) rules[at] = rule;
    else rules.push(rule);
    body.rules = rules;
    return body;
  }

  async function checkRule() {
    const rule = editedRule();
    if (!rule) return;
    const summary = await routingRules.check(documentWith(rule));
    if (summary) routingRules.say(`No problem found: ${arr(summary.rules).length} rules would be in force.`);
  }

  async function saveRule(event) {
    event.preventDefault();
    const rule = editedRule();
    if (!rule) return;
    const comment = $('rule-comment').value.trim();
    const saved = await routingRules.answered(R.editing
      ? api('PUT', `/api/routing/rules/items/${encodeURIComponent(R.editing)}`, { rule, comment })
      : api('POST', '/api/routing/rules/items', { rule, comment }));
    if (!saved) return;
    R.editing = str(rule.id);
    $('rule-editor-title').textContent = `Edit rule ${R.editing}`;
    routingRules.say(`Saved as version ${str(saved.version)}; in force now.`);
    await loadRouting();
  }

  async function deleteRule(id) {
    const res = await api('DELETE', `/api/routing/rules/items/${encodeURIComponent(id)}`);
    if (res.unauthorized) return;
    if (!res.ok) {
      toast(res.error.message);
      return;
    }
    if (R.editing === id) $('rule-editor').hidden = true;
    toast(`Rule ${id} removed (version ${str(res.data && res.data.version)}).`, 'info');
    await loadRouting();
  }

  // ---------------------------------------------------------------- simulate

  async function onSimulate(event) {
    event.preventDefault();
    const number = $('simulate-number').value.trim();
    const reason = $('simulate-reason').value.trim();
    const errorEl = $('simulate-error');
    if (!number) {
      showProblems(errorEl, { message: "Give a caller's number." });
      $('simulate-number').focus();
      return;
    }
    if (reason && !REASON_ID.test(reason)) {
      showProblems(errorEl, { message: 'A reason is an id such as delivery or order_status.' });
      $('simulate-reason').focus();
      return;
    }
    hideProblems(errorEl);
    $('simulate-submit').disabled = true;
    const res = await api('POST', '/api/routing/simulate', reason ? { number, reason } : { number });
    $('simulate-submit').disabled = false;
    if (res.unauthorized) return;
    if (!res.ok) {
      $('simulate-result').hidden = true;
      showProblems(errorEl, res.error);
      return;
    }
    renderSimulation(obj(res.data) || {});
  }

  function renderSimulation(d) {
    const decision = obj(d.decision) || {};
    const reason = obj(d.reason) || {};
    const caller = obj(d.caller) || {};
    const facts = obj(d.facts) || {};
    let headline;
    if (decision.agent) headline = `Rings ${str(decision.agent)} (${str(decision.interface)}), queue ${str(decision.queue)}`;
    else {
      headline = `Waits in queue ${str(decision.queue)}`;
      if (decision.position !== null && decision.position !== undefined) headline += ` at position ${str(decision.position)}`;
      if (num(decision.expected_wait_seconds) !== null) headline += `, about ${duration(decision.expected_wait_seconds)}`;
    }
    const overflow = obj(decision.overflow);
    const candidates = arr(caller.candidates).filter(obj).map((c) => str(c.display_name)).filter(Boolean);
    const fact = (label, value) => h('div', { class: 'figure' }, h('dt', { text: label }), h('dd', { text: value }));
    const waits = Object.entries(obj(facts.queue_waits) || {}).map(([q, s]) => `${q} ${duration(s)}`);
    $('simulate-result').replaceChildren(
      h('p', { class: 'decision', 'data-testid': 'simulate-decision', text: headline }),
      h('p', { class: 'cell-sub' }, [
        `Rule ${str(decision.rule)}`,
        decision.skill ? ` · skill ${str(decision.skill)}` : '',
        overflow ? ` · after ${str(overflow.after_seconds)} s to ${str(overflow.queue)}` : '',
      ].join('')),
      h('h3', { class: 'box-title', text: 'Why' }),
      h('ul', { class: 'why', 'data-testid': 'simulate-why' }, arr(decision.why).map((w) => h('li', { text: str(w) }))),
      h('h3', { class: 'box-title', text: 'Likely reason' }),
      h('p', { 'data-testid': 'simulate-reason-result' }, reason.id
        ? [h('strong', { text: str(reason.id) }), ` (${percent(reason.confidence)})`, reason.why ? ` — ${str(reason.why)}` : '']
        : 'Unknown'),
      arr(reason.ranked).length > 1 ? h('p', { class: 'chips' }, arr(reason.ranked).filter(obj)
        .map((r) => h('span', { class: 'chip', text: `${str(r.id)} ${percent(r.confidence)}` }))) : null,
      h('h3', { class: 'box-title', text: 'Caller and facts' }),
      h('dl', { class: 'figures figures-small' },
        fact('Number', str(caller.number) || str(caller.raw)),
        fact('Match', words(caller.match) + (caller.problem ? ` (${str(caller.problem)})` : '')),
        fact('Customer', candidates.join(', ') || '—'),
        fact('Tier', str(facts.tier) || '—'),
        fact('Valuable', facts.valuable ? 'yes' : 'no'),
        fact('Rescue', facts.rescue ? 'yes' : 'no'),
        fact('Language', str(facts.language) || '—'),
        fact('Served by', arr(facts.last_agents).map(str).join(', ') || '—'),
        fact('Queue waits', waits.join(', ') || 'none')),
      h('p', { class: 'cell-sub', text: `Rules version ${str(d.rules_version)} · ${str(d.agents_known)} agents known` }));
    $('simulate-result').hidden = false;
  }

  // ---------------------------------------------------------------- audit

  async function loadAudit(reset) {
    if (A.loading) return;
    A.loading = true;
    const params = { limit: AUDIT_PAGE, before: reset ? null : A.next, ...A.filters };
    const res = await api('GET', `/api/audit${query(params)}`);
    A.loading = false;
    if (res.unauthorized || S.signedOut) return;
    const errorEl = $('audit-error');
    if (!res.ok) {
      showProblems(errorEl, res.error);
      return;
    }
    hideProblems(errorEl);
    const entries = arr(res.data && res.data.entries).filter(obj);
    const rows = entries.map(auditRow);
    if (reset) $('audit-body').replaceChildren(...rows);
    else $('audit-body').append(...rows);
    A.next = res.data && res.data.next !== undefined ? res.data.next : null;
    $('audit-older').hidden = A.next === null;
    $('audit-empty').hidden = $('audit-body').children.length > 0;
  }

  function auditRow(e) {
    return h('tr', { 'data-testid': 'audit-row', 'data-id': str(e.id), 'data-action': str(e.action) },
      h('td', { title: when(e.at), text: shortWhen(e.at) }),
      h('td', { 'data-testid': 'audit-actor', text: str(e.actor) }),
      h('td', { class: 'mono', 'data-testid': 'audit-action', text: str(e.action) }),
      h('td', { 'data-testid': 'audit-target', text: str(e.target) }),
      h('td', { class: 'changes', 'data-testid': 'audit-changes' }, changes(obj(e.details) || {})));
  }

  /** before/after in a line or two: "key: old → new" when both have the same keys,
   * otherwise each side on its own; other details as "key: value". */
  function changes(details) {
    const before = obj(details.before);
    const after = obj(details.after);
    const lines = [];
    const pairs = (o) => Object.entries(o).map(([k, v]) => `${k}=${compact(v, 40)}`).join(', ');
    const sameKeys = before && after &&
      JSON.stringify(Object.keys(before).sort()) === JSON.stringify(Object.keys(after).sort());
    if (sameKeys) {
      for (const key of Object.keys(after)) {
        if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
          lines.push(h('div', null, h('span', { class: 'k', text: `${key}: ` }),
            h('del', { text: compact(before[key], 40) }), ' → ', h('ins', { text: compact(after[key], 40) })));
        }
      }
    } else {
      if (before) lines.push(h('div', null, h('span', { class: 'k', text: 'before: ' }), pairs(before) || '—'));
      if (after) lines.push(h('div', null, h('span', { class: 'k', text: 'after: ' }), pairs(after) || '—'));
      if ('after' in details && details.after === null) lines.push(h('div', null, h('span', { class: 'k', text: 'after: ' }), '—'));
    }
    for (const [key, value] of Object.entries(details)) {
      if (key === 'before' || key === 'after') continue;
      if (value === null || value === '' || (Array.isArray(value) && !value.length)) continue;
      lines.push(h('div', null, h('span', { class: 'k', text: `${key}: ` }), compact(value)));
    }
    return lines.length ? lines : h('span', { class: 'muted', text: '—' });
  }

  function onAuditFilter(event) {
    event.preventDefault();
    A.filters = {
      actor: $('audit-actor').value.trim(),
      action: $('audit-action').value.trim(),
      target: $('audit-target').value.trim(),
    };
    loadAudit(true);
  }

  // ---------------------------------------------------------------- Dialplan and Reports

  /** Load the tab's module the first time it opens and let it fill its panel. A module
   * that fails to load says so in its panel; the rest of the console carries on. */
  async function renderPlaceholder(id) {
    const { file, fn } = PLACEHOLDERS[id];
    const panel = $(`panel-${id}`);
    try {
      const module = await import(file);
      await module[fn](panel, kit);
    } catch (err) {
      panel.replaceChildren(h('p', { class: 'problems', role: 'alert', text: `This section could not be loaded: ${str(err && err.message)}` }));
    }
  }

  // ---------------------------------------------------------------- clocks

  function tick() {
    if ($('app-view').hidden) return;
    const now = serverNow();
    for (const el of document.querySelectorAll('.js-timer')) {
      const text = duration(now - Number(el.dataset.from));
      if (el.textContent !== text) el.textContent = text;
    }
    for (const el of document.querySelectorAll('.js-wait')) {
      const waited = now - Number(el.dataset.since);
      const text = duration(waited);
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle('over', el.dataset.level !== undefined && waited > Number(el.dataset.level));
    }
  }

  // ---------------------------------------------------------------- start

  function bind() {
    setUpLogin(start);
    setApiHooks({ unauthorized: signOut, response: clockFromHeader });
    $('sign-out').addEventListener('click', () => signOut('You have signed out.'));
    $('tabs').addEventListener('click', (event) => {
      const tab = event.target.closest('[role="tab"]');
      if (tab) selectTab(tab.dataset.tab);
    });
    $('tabs').addEventListener('keydown', onTabKey);
    window.addEventListener('hashchange', () => {
      if (!S.signedOut && can('supervisor')) selectTab(location.hash.slice(1));
    });
    $('pause-form').addEventListener('submit', onPauseSubmit);
    $('pause-cancel').addEventListener('click', () => $('pause-dialog').close());
    $('rules-reload').addEventListener('click', loadRouting);
    $('rule-new').addEventListener('click', () => openEditor(null));
    $('rule-check').addEventListener('click', checkRule);
    $('rule-editor').addEventListener('submit', saveRule);
    $('rule-cancel').addEventListener('click', () => {
      $('rule-editor').hidden = true;
      R.editing = null;
    });
    $('simulate-form').addEventListener('submit', onSimulate);
    $('audit-filter').addEventListener('submit', onAuditFilter);
    $('audit-clear').addEventListener('click', () => {
      for (const id of ['audit-actor', 'audit-action', 'audit-target']) $(id).value = '';
      A.filters = {};
      loadAudit(true);
    });
    $('audit-older').addEventListener('click', () => loadAudit(false));
    dismissToastsOnEscape(() => $('pause-dialog').open);
    setInterval(tick, 1000);
  }

  bind(); // a module runs once the document is parsed
  resumeOrSignIn(start);
})();
