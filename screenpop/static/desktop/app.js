/* Callfold agent desktop.
 *
 * Plain ES2020 module, no framework, no build step, no network besides this server.
 * Contract: docs/screenpop.md (WebSocket /ws/agent, pops, close codes, REST).
 * What the console uses too is in ../shared/: the session and REST calls, the sign-in
 * form, the socket's upkeep, the element builder, formatters and toasts. Calling
 * customers (the cards' Call buttons, do-not-call) and the call-back panel are in
 * outbound.js.
 *
 * Safety rule for this file: server data only ever reaches the page through
 * textContent, Text nodes and setAttribute on non-URL attributes; never innerHTML.
 */

import {
  $, add, AGENT_STATES, arr, dismissToastsOnEscape, duration, h, obj, str, toast, toDate, words,
} from '../shared/dom.js';
import { api, clearSession, saveUser, session, setApiHooks } from '../shared/session.js';
import { resumeOrSignIn, setUpLogin, showLogin } from '../shared/login.js';
import { screenSocket } from '../shared/socket.js';
import {
  dialogOpen, isCallbackCall, isOutboundCall, notePop, noteAgent, onOutbound, outboundAbout,
  outboundReconnected, phoneList, setOutboundHooks, startOutbound, stopOutbound,
} from './outbound.js';

(() => {
  // ---------------------------------------------------------------- constants

  const PING_MS = 20000;
  const SILENCE_MS = 50000; // no message at all for this long: the socket is dead
  const NOTES_MAX = 2000;
  const TIMELINE_LIMIT = 20;
  const SAVED_LINGER_MS = 1800; // how long "Saved to the timeline" stays before the card goes
  const REPLY = {
    sms: { label: 'SMS', by: 'by SMS', max: 1600, placeholder: 'Write an SMS to the customer…' },
    email: { label: 'Email', by: 'by email', max: 100000, placeholder: 'Write an email to the customer…' },
  };
  const DELIVERY = new Set(['queued', 'retrying', 'sent', 'failed']); // an outbound message's outcome
  const PENDING_POLL_MS = [3000, 8000, 15000]; // re-read a timeline with undelivered replies; then every last one
  const PENDING_POLL_MAX = 30; // ~7 minutes: longer than the server's retries (2 s, 10 s, 1 min, 5 min)

  const PAUSE_LABELS = {
    break: 'Break',
    lunch: 'Lunch',
    training: 'Training',
    'after-call work': 'After-call work',
    meeting: 'Meeting',
  };
  const STATE_LABELS = { ...AGENT_STATES, unknown: 'Unknown' };
  const CHANNELS = {
    voice: 'Call',
    sms: 'SMS',
    email: 'Email',
    chat: 'Chat',
  };
  const STAGE_RANK = { ringing: 0, talking: 1, ended: 2 };

  // ---------------------------------------------------------------- state

  const S = {
    agent: null,
    agentAt: 0, // when S.agent arrived (ms), to count idle time on
    dispositions: [],
    watch: new URLSearchParams(location.search).get('agent') || null,
    helloSeen: false,
    signedOut: true,
    cards: new Map(),
    closedIds: new Set(),
    pending: null,
    busy: false,
  };

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ---------------------------------------------------------------- icons

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const ICONS = {
    voice: ['M5 3h3.2l1.9 4.6-2.4 1.6a11.5 11.5 0 0 0 5.1 5.1l1.6-2.4L19 13.8V17a2 2 0 0 1-2 2A15 15 0 0 1 3 5a2 2 0 0 1 2-2z'],
    sms: ['M4 4h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H9l-5 4v-4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z', 'M8 10h.01M12 10h.01M16 10h.01'],
    email: ['M3 5h18v14H3z', 'M3.5 6l8.5 7 8.5-7'],
    chat: ['M20 11.5a7.5 7.5 0 0 1-10.9 6.7L4 19.5l1.3-4.6A7.5 7.5 0 1 1 20 11.5z'],
    other: ['M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z'],
  };

  /** A small stroke icon; the path data is ours, never the server's. */
  function icon(name) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'icon');
    for (const d of ICONS[name] || ICONS.other) {
      const path = document.createElementNS(SVG_NS, 'path');
      path.setAttribute('d', d);
      svg.append(path);
    }
    return svg;
  }

  // ---------------------------------------------------------------- formatting

  /** 18500000 cents -> "185 000.00" (space-grouped, two decimals). */
  function money(cents) {
    const n = Number(cents);
    if (cents === null || cents === undefined || cents === '' || !Number.isFinite(n)) return '—';
    const whole = Math.round(Math.abs(n));
    const units = Math.floor(whole / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
    const frac = String(whole % 100).padStart(2, '0');
    return `${n < 0 ? '−' : ''}${units}.${frac}`;
  }

  function percent(confidence) {
    const n = Number(confidence);
    if (confidence === null || confidence === undefined || !Number.isFinite(n)) return '';
    return `${Math.round(n <= 1 ? n * 100 : n)}%`;
  }

  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

  function when(value, withTime = true) {
    const d = toDate(value);
    if (!d) return str(value);
    return (withTime ? dateTimeFmt : dateFmt).format(d);
  }

  function ago(value) {
    const d = toDate(value);
    if (!d) return '';
    const s = (Date.now() - d.getTime()) / 1000;
    if (s < 0) return 'upcoming';
    if (s < 60) return 'just now';
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    if (s < 2 * 86400) return 'yesterday';
    if (s < 60 * 86400) return `${Math.floor(s / 86400)} days ago`;
    return '';
  }

  function idleText(seconds) {
    const t = Math.max(0, Math.floor(seconds));
    if (t < 60) return 'less than a minute';
    if (t < 3600) return `${Math.floor(t / 60)} min`;
    return `${Math.floor(t / 3600)} h ${Math.floor((t % 3600) / 60)} min`;
  }

  function greeting(date = new Date()) {
    const hour = date.getHours();
    if (hour >= 5 && hour < 12) return 'Good morning';
    if (hour >= 12 && hour < 18) return 'Good afternoon';
    return 'Good evening';
  }

  const pauseLabel = (reason) => PAUSE_LABELS[reason] || str(reason);

  // ---------------------------------------------------------------- views

  function showApp() {
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    renderUser();
    renderAgent();
    renderEmpty();
    updateTitle();
  }

  function startDesktop() {
    S.signedOut = false;
    S.helloSeen = false;
    S.agent = null;
    socket.start();
    showApp();
    startOutbound();
    socket.connect();
  }

  /** Forget the token and go back to the login form. */
  function signOut(notice) {
    if (S.signedOut) return;
    S.signedOut = true;
    clearSession();
    clearPending();
    for (const card of [...S.cards.values()]) removeCard(card, true);
    S.closedIds.clear();
    S.agent = null;
    S.helloSeen = false;
    socket.stop();
    stopOutbound();
    showLogin(notice);
  }

  // ---------------------------------------------------------------- header

  function renderUser() {
    const user = session.user || {};
    const name = str(user.display_name) || str(user.username) || 'Agent';
    $('agent-name').textContent = name;
    const meta = [];
    if (S.watch && S.watch !== user.username) meta.push(`watching ${S.watch}`);
    else if (user.agent_interface) meta.push(str(user.agent_interface));
    if (user.role && user.role !== 'agent') meta.push(str(user.role));
    $('agent-meta').textContent = meta.join(' · ');
    $('console-link').hidden = user.role !== 'supervisor' && user.role !== 'admin';
  }

  function agentState() {
    const state = S.agent && typeof S.agent.state === 'string' ? S.agent.state : 'unknown';
    return STATE_LABELS[state] ? state : 'unknown';
  }

  function renderAgent() {
    const state = agentState();
    const badge = $('agent-state');
    badge.dataset.state = state;
    let label = STATE_LABELS[state];
    if (state === 'paused') {
      const reason = S.agent && S.agent.pause_reason;
      label = reason ? `Paused: ${pauseLabel(reason)}` : 'Paused';
    }
    if (state === 'unknown' && S.agent && S.agent.state) label = words(S.agent.state);
    badge.querySelector('.state-text').textContent = label;
    badge.setAttribute('aria-label', `Agent state: ${label}`);

    const have = Boolean(S.agent) && S.helloSeen;
    const loggedOut = state === 'logged_out';
    const paused = state === 'paused';
    $('queue-login').hidden = !have || !loggedOut;
    $('queue-logout').hidden = !have || loggedOut;
    $('pause-group').hidden = !have || loggedOut || paused;
    $('resume-button').hidden = !have || !paused;
    for (const id of ['queue-login', 'queue-logout', 'pause-button', 'resume-button', 'pause-reason']) {
      $(id).disabled = S.busy || socket.state !== 'connected';
    }
    renderEmpty();
  }

  function setPending(text) {
    clearPending();
    const note = $('pending-note');
    note.textContent = text;
    S.pending = setTimeout(clearPending, 10000);
  }

  function clearPending() {
    clearTimeout(S.pending);
    S.pending = null;
    $('pending-note').textContent = '';
  }

  /** Queue actions: the badge changes only when the server's `agent` message arrives. */
  async function agentAction(action, body, pendingText) {
    if (S.busy) return;
    const who = (S.agent && S.agent.username) || S.watch || (session.user && session.user.username);
    if (!who) return;
    S.busy = true;
    renderAgent();
    const res = await api('POST', `/api/agents/${encodeURIComponent(who)}/${action}`, body);
    S.busy = false;
    if (S.signedOut) return;
    renderAgent();
    if (res.ok) {
      setPending(pendingText);
      const refused = arr(res.data && res.data.refused).map(str).filter(Boolean);
      if (refused.length) toast(`Some queues refused: ${refused.join('; ')}`, 'warning');
    } else if (!res.unauthorized) {
      toast(res.error.message, 'error');
    }
  }

  // ---------------------------------------------------------------- WebSocket

  const socket = screenSocket({
    path: '/ws/agent',
    pingMs: PING_MS,
    silenceMs: SILENCE_MS,
    auth: S.watch ? { agent: S.watch } : {},
    text: {
      protocol: 'desktop',
      behind: 'the desktop fell behind',
      offline: 'You are offline. The desktop reconnects as soon as the network is back. Calls shown may be out of date.',
      stale: 'Calls shown may be out of date.',
      denied: 'You are not allowed to watch this agent\u2019s calls.',
    },
    onMessage: handleMessage,
    onState: (state) => {
      document.body.dataset.conn = state;
      renderAgent();
    },
    onUnauthorized: signOut,
    onDenied: () => {
      for (const card of [...S.cards.values()]) removeCard(card, true);
      S.agent = null;
      renderAgent();
    },
  });

  function handleMessage(msg) {
    switch (msg.type) {
      case 'hello':
        onHello(msg);
        break;
      case 'pop':
        onPop(msg);
        break;
      case 'pop.closed':
        onPopClosed(str(msg.call_id));
        break;
      case 'agent':
        onAgent(msg.agent);
        break;
      case 'pong':
        break;
      case 'timeline':
        onTimelineEntry(str(msg.contact_id));
        break;
      case 'message':
        onMessageGiven(msg);
        break;
      case 'outbound':
        onOutbound(msg);
        break;
      default:
        break;
    }
  }

  function onHello(msg) {
    S.helloSeen = true;
    socket.welcomed();
    if (obj(msg.user)) saveUser(msg.user);
    S.dispositions = arr(msg.dispositions)
      .filter((d) => obj(d) && d.id !== undefined && d.id !== null)
      .map((d) => ({ id: str(d.id), label: str(d.label) || str(d.id) }));
    renderUser();
    onAgent(msg.agent);
    // The server's list is the whole truth: rebuild from it.
    const pops = arr(msg.pops).filter((p) => obj(p) && obj(p.call) && p.call.id !== undefined);
    const live = new Set(pops.map((p) => str(p.call.id)));
    for (const card of [...S.cards.values()]) {
      if (!live.has(card.id) && !card.saved) removeCard(card, true);
    }
    S.closedIds.clear();
    for (const pop of pops) upsertPop(pop);
    for (const card of S.cards.values()) fillDispositions(card);
    reorderCards();
    renderEmpty();
    updateTitle();
    outboundReconnected();
  }

  function onAgent(agent) {
    S.agent = obj(agent);
    S.agentAt = Date.now();
    clearPending();
    renderAgent();
    noteAgent(agentState());
  }

  function onPop(pop) {
    if (!obj(pop.call) || pop.call.id === undefined || pop.call.id === null) return;
    const id = str(pop.call.id);
    if (S.closedIds.has(id)) return; // a late copy of a pop already closed
    upsertPop(pop);
    reorderCards();
    renderEmpty();
    updateTitle();
  }

  function onPopClosed(id) {
    if (!id) return;
    S.closedIds.add(id);
    const card = S.cards.get(id);
    if (!card) return;
    if (card.saving) {
      card.closeWhenDone = true;
      return;
    }
    if (card.saved) return; // already leaving, after showing "Saved"
    removeCard(card);
  }

  // ---------------------------------------------------------------- cards

  function upsertPop(pop) {
    const id = str(pop.call.id);
    let card = S.cards.get(id);
    if (!card) {
      card = createCard(id);
      S.cards.set(id, card);
      $('card-list').append(card.el);
    }
    card.pop = pop;
    renderCard(card);
    notePop(pop);
  }

  function stageOf(pop) {
    const stage = pop && pop.call && str(pop.call.stage);
    return stage || 'ringing';
  }

  function reorderCards() {
    const list = $('card-list');
    const cards = [...S.cards.values()].filter((c) => !c.removed);
    cards.sort((a, b) => {
      const ra = STAGE_RANK[stageOf(a.pop)] ?? 3;
      const rb = STAGE_RANK[stageOf(b.pop)] ?? 3;
      if (ra !== rb) return ra - rb;
      const ta = Number(a.pop.call.started_at) || 0;
      const tb = Number(b.pop.call.started_at) || 0;
      return tb - ta;
    });
    const active = document.activeElement;
    let moved = false;
    cards.forEach((card, i) => {
      if (list.children[i] !== card.el) {
        list.insertBefore(card.el, list.children[i] || null);
        moved = true;
      }
    });
    if (moved && active && active !== document.body && document.contains(active) && document.activeElement !== active) {
      active.focus({ preventScroll: true });
    }
  }

  function removeCard(card, now = false) {
    if (card.removed) return;
    card.removed = true;
    clearTimeout(card.leaveTimer);
    clearTimeout(card.tl.pollTimer);
    S.cards.delete(card.id);
    const hadFocus = card.el.contains(document.activeElement);
    const finish = () => {
      card.el.remove();
      if (hadFocus) $('calls').focus({ preventScroll: true });
      renderEmpty();
      updateTitle();
    };
    if (now || window.matchMedia('(prefers-reduced-motion: reduce)').matches) {
      finish();
    } else {
      card.el.classList.add('card-leaving');
      setTimeout(finish, 250);
    }
    renderEmpty();
    updateTitle();
  }

  function createCard(id) {
    const n = nextId('card');
    const card = {
      id,
      n,
      pop: null,
      removed: false,
      saved: false,
      saving: false,
      closeWhenDone: false,
      pickedId: null,
      tl: {
        contactId: null,
        items: [],
        next: null,
        loading: false,
        fellBack: false,
        seq: 0,
        moreError: '',
        pollTimer: null,
        polls: 0,
      },
    };
    card.banner = h('div', { class: 'card-banner' });
    card.head = h('header', { class: 'card-head' });
    card.main = h('div', { class: 'card-main' });
    card.wrapup = buildWrapup(card);
    card.timeline = buildTimeline(card);
    card.reply = buildReply(card);
    card.el = h('article', {
      class: 'card',
      'data-testid': 'call-card',
      'data-call-id': id,
      'aria-labelledby': `${n}-title`,
    },
    card.banner,
    card.head,
    h('div', { class: 'card-grid' },
      card.main,
      h('aside', { class: 'card-side', 'aria-label': 'Wrap-up, history and reply' },
        card.wrapup.form, card.timeline.section, card.reply.form)));
    return card;
  }

  function renderCard(card) {
    const pop = card.pop;
    const call = obj(pop.call) || {};
    const stage = stageOf(pop);
    card.el.dataset.stage = stage;
    card.el.className = `card card-${stage}${card.el.classList.contains('card-leaving') ? ' card-leaving' : ''}`;
    card.banner.replaceChildren(...renderBanner(card, call, stage).filter(Boolean));
    card.head.replaceChildren(...renderHead(card, pop, call).filter(Boolean)); // no "null" text
    card.main.replaceChildren(...renderMain(card, pop));
    renderWrapup(card, stage);
    syncTimeline(card);
    layoutCard(card);
  }

  /** One column when the side has nothing to show (a ringing call from a stranger). */
  function layoutCard(card) {
    card.el.classList.toggle('card-no-side', card.w.form.hidden && card.timeline.section.hidden);
  }

  /** For an outbound call this page asked for, who was called (the pop may not say). */
  const called = (pop) => outboundAbout(pop && pop.call) || {};

  function callerName(pop) {
    const contact = obj(pop.contact);
    return str(contact && contact.name) || str(pop.call && pop.call.caller_name) || called(pop).name || '';
  }

  function callerNumber(pop) {
    const caller = obj(pop.caller) || {};
    const call = obj(pop.call) || {};
    return str(caller.number) || str(call.caller_num) || str(caller.raw) || called(pop).number || '';
  }

  function renderBanner(card, call, stage) {
    const name = callerName(card.pop);
    const number = callerNumber(card.pop);
    const who = [name, number].filter(Boolean).join(' · ') || 'Unknown caller';
    if (stage === 'ringing') {
      const waited = Number(call.wait_seconds);
      let title = 'Incoming call';
      if (isOutboundCall(call)) {
        const kind = isCallbackCall(call) ? 'Call-back' : 'Outgoing call';
        title = called(card.pop).phase === 'dialing' ? `${kind}: calling the customer` : `${kind}: answer your phone`;
      }
      return [h('div', { class: 'stage-banner stage-ringing', role: 'alert', 'aria-live': 'assertive' },
        h('span', { class: 'ring-icon' }, icon('voice')),
        h('span', { class: 'stage-title', text: title }),
        h('span', { class: 'stage-who', text: who }),
        Number.isFinite(waited) && waited > 0
          ? h('span', { class: 'stage-extra', text: `waited ${duration(waited)} in queue` })
          : null)];
    }
    if (stage === 'talking') {
      const answered = Number(call.answered_at);
      return [h('div', { class: 'stage-banner stage-talking', role: 'status' },
        h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'stage-title', text: isOutboundCall(call) ? 'On call (outgoing)' : 'On call' }),
        h('span', { class: 'stage-who', text: who }),
        Number.isFinite(answered) && answered > 0
          ? h('span', {
            class: 'stage-timer js-timer',
            'data-testid': 'call-timer',
            'data-from': String(answered),
            'aria-label': 'Call duration',
            text: duration(Date.now() / 1000 - answered),
          })
          : null)];
    }
    if (stage === 'ended') {
      const answered = Number(call.answered_at);
      const ended = Number(call.ended_at);
      const talked = Number.isFinite(answered) && answered > 0 && Number.isFinite(ended) && ended >= answered
        ? ` · talked ${duration(ended - answered)}` : '';
      return [h('div', { class: 'stage-banner stage-ended', role: 'status' },
        h('span', { class: 'stage-title', text: 'Call ended' }),
        h('span', { class: 'stage-who', text: `${who}${call.outcome ? ` · ${words(call.outcome)}` : ''}${talked}` }),
        card.saved ? null : h('span', { class: 'stage-extra', text: 'Please complete the wrap-up' }))];
    }
    return [h('div', { class: 'stage-banner', role: 'status' },
      h('span', { class: 'stage-title', text: words(stage) }),
      h('span', { class: 'stage-who', text: who }))];
  }

  const MATCH_TEXT = {
    exact: 'Exact match',
    partial: 'Partial match (last digits)',
    shared: 'Shared number',
    unknown: 'Unknown number',
    invalid: 'No usable caller ID',
  };

  function renderHead(card, pop, call) {
    const caller = obj(pop.caller) || {};
    const match = str(caller.match) || 'unknown';
    const candidates = arr(caller.candidates).filter(obj);
    let matchText = MATCH_TEXT[match] || words(match);
    if (match === 'shared' && candidates.length) matchText = `Shared number · ${candidates.length} customers`;
    if (match === 'unknown' && isOutboundCall(call)) matchText = 'Outgoing call';
    const number = callerNumber(pop);
    const cnam = str(call.caller_name);
    const meta = [];
    if (call.queue) meta.push(['Queue', str(call.queue)]);
    if (isOutboundCall(call)) meta.push(['Call', isCallbackCall(call) ? 'Call-back to the customer' : 'Outgoing, to the customer']);
    else if (Number(call.wait_seconds) > 0) meta.push(['Waited', duration(call.wait_seconds)]);
    if (call.ivr_path) meta.push(['IVR', str(call.ivr_path).split('>').join(' › ')]);
    if (call.transferred_to) meta.push(['Transferred to', str(call.transferred_to)]);
    if (match === 'invalid' && caller.problem) meta.push(['Caller ID', words(caller.problem)]);
    if (match === 'partial' && candidates.length === 1 && candidates[0].matched) {
      meta.push(['Matched', str(candidates[0].matched)]);
    }
    return [
      h('div', { class: 'head-line' },
        h('span', {
          class: 'caller-number',
          'data-testid': 'caller-number',
          text: number || (match === 'invalid' ? 'No caller ID' : 'Unknown number'),
        }),
        cnam && cnam !== number && cnam !== str(obj(pop.contact) && pop.contact.name)
          ? h('span', { class: 'caller-cnam', title: 'Name sent by the network', text: cnam })
          : null,
        h('span', {
          class: `match match-${match}`,
          'data-testid': 'match',
          'data-match': match,
          text: matchText,
        })),
      meta.length
        ? h('dl', { class: 'head-meta' }, meta.map(([k, v]) => h('div', null, h('dt', { text: k }), h('dd', { text: v }))))
        : null,
    ];
  }

  function section(title, cls, ...kids) {
    return h('section', { class: `panel ${cls || ''}` }, h('h3', { class: 'panel-title', text: title }), ...kids);
  }

  function renderMain(card, pop) {
    const contact = obj(pop.contact);
    const dossier = obj(pop.dossier) || {};
    const reason = obj(pop.reason);
    const out = [];

    // Who.
    if (contact) {
      const tier = str(contact.tier);
      const debt = Number(contact.debt_cents) || 0;
      const emails = arr(contact.emails).map(str).filter(Boolean);
      out.push(h('section', { class: 'who-block' },
        h('div', { class: 'who-line' },
          h('h2', { class: 'contact-name', id: `${card.n}-title`, 'data-testid': 'contact-name', text: str(contact.name) || 'Unnamed customer' }),
          tier ? h('span', { class: `tier tier-${tier.replace(/[^a-z0-9_-]/gi, '')}`, 'data-testid': 'tier', text: words(tier) }) : null,
          contact.valuable ? h('span', { class: 'valuable', 'data-testid': 'valuable', text: '★ Valuable' }) : null,
          contact.language ? h('span', { class: 'lang', title: 'Language', text: str(contact.language).toUpperCase() }) : null),
        h('dl', { class: 'figures' },
          h('div', { class: 'figure' },
            h('dt', { text: 'Lifetime value' }),
            h('dd', { class: 'money', 'data-testid': 'lifetime-value', text: money(contact.lifetime_value_cents) })),
          h('div', { class: `figure${debt > 0 ? ' figure-debt' : ''}` },
            h('dt', { text: 'Debt' }),
            h('dd', { class: 'money', 'data-testid': 'debt', text: money(contact.debt_cents) }))),
        arr(contact.phones).length ? phoneList(contact) : null,
        emails.length ? h('p', { class: 'contact-ids', text: emails.join(' · ') }) : null));
    } else {
      const caller = obj(pop.caller) || {};
      const candidates = arr(caller.candidates).filter(obj);
      const shared = candidates.length > 1;
      const dialled = !candidates.length && isOutboundCall(pop.call) ? called(pop) : null;
      let title = shared ? 'Several customers share this number' : 'Unknown caller';
      let text = shared
        ? 'Ask the caller who they are, then pick them below to see their history.'
        : candidates.length === 1
          ? 'Possibly the customer below; please confirm with the caller.'
          : `No customer record matches ${callerNumber(pop) || 'this call'}.`;
      if (dialled) {
        title = dialled.name || dialled.number || 'Outgoing call';
        text = `You are calling ${dialled.number || 'the customer'}; their record did not come with this call.`;
      }
      out.push(h('section', { class: 'who-block who-unknown' },
        h('h2', {
          class: 'contact-name',
          id: `${card.n}-title`,
          'data-testid': 'contact-name',
          text: title,
        }),
        h('p', { class: 'unknown-text', text }),
        candidates.length ? renderCandidates(card, candidates) : null));
    }

    // What to say (not once the call is over).
    if (stageOf(pop) !== 'ended') {
      const name = contact ? str(contact.name) : isOutboundCall(pop.call) ? str(called(pop).name) : '';
      const about = reason && reason.label ? ` Are you calling about \u201c${str(reason.label)}\u201d?` : '';
      const me = str(session.user && (session.user.display_name || session.user.username));
      let opening = name
        ? `${greeting()}, ${name}.${about}`
        : `${greeting()}, thank you for calling.${about || ' May I have your name?'}`;
      if (isOutboundCall(pop.call)) {
        const calling = isCallbackCall(pop.call) ? 'calling you back' : 'calling you';
        opening = name
          ? `${greeting()}, ${name}. This is ${me || 'your agent'}, ${calling}.`
          : `${greeting()}. This is ${me || 'your agent'}, ${calling}. May I ask who I am speaking to?`;
      }
      out.push(h('p', { class: 'opening', 'data-testid': 'opening' },
        h('span', { class: 'opening-label', text: 'Say' }),
        h('span', { class: 'opening-text', text: opening })));
    }

    // Service rescue.
    const rescue = obj(dossier.rescue);
    if (rescue && rescue.flag) {
      const why = arr(rescue.why).map(str).filter(Boolean);
      out.push(h('section', { class: 'rescue', 'data-testid': 'rescue', role: 'note' },
        h('h3', { class: 'rescue-title', text: 'Service rescue — handle with extra care' }),
        why.length ? h('ul', { class: 'rescue-why' }, why.map((w) => h('li', { text: w }))) : null));
    }

    // Likely reason.
    if (reason) {
      const others = arr(dossier.reasons).filter((r) => obj(r) && str(r.id) !== str(reason.id)).slice(0, 3);
      const pct = percent(reason.confidence);
      out.push(h('section', { class: 'panel reason', 'data-testid': 'reason' },
        h('h3', { class: 'panel-title', text: 'Likely reason' }),
        h('div', { class: 'reason-line' },
          h('span', { class: 'reason-label', text: str(reason.label) || words(reason.id) || 'Unknown' }),
          pct ? h('span', { class: 'confidence', title: 'Confidence', text: pct }) : null),
        pct ? h('div', { class: 'meter', 'aria-hidden': 'true' },
          h('span', { style: { width: `${Math.max(0, Math.min(100, parseInt(pct, 10)))}%` } })) : null,
        reason.why ? h('p', { class: 'reason-why', text: str(reason.why) }) : null,
        others.length ? h('p', { class: 'reason-others' },
          h('span', { class: 'muted', text: 'Also possible: ' }),
          others.map((r, i) => [i ? ', ' : '', h('span', { title: str(r.why), text: str(r.label) || words(r.id) })])) : null));
    }

    // Upsell hints.
    const hints = arr(dossier.hints).filter((x) => obj(x) && x.text);
    if (hints.length) {
      out.push(h('section', { class: 'panel hints', 'data-testid': 'hints' },
        h('h3', { class: 'panel-title', text: 'Hints' }),
        h('ul', { class: 'hint-list' }, hints.map((x) => h('li', {
          class: 'hint',
          'data-testid': 'hint',
          'data-hint-id': str(x.id),
          text: str(x.text),
        })))));
    }

    if (contact) {
      out.push(renderLatest(pop));
      out.push(renderDossierLists(dossier));
    }

    // Notes.
    const notes = arr(dossier.notes).filter(obj);
    if (notes.length) {
      out.push(section('Notes', 'notes', h('ul', { class: 'note-list' }, notes.map((note) => h('li', { class: 'note' },
        h('p', { class: 'note-body', text: str(note.body) }),
        h('p', { class: 'note-meta', text: [str(note.author), when(note.at)].filter(Boolean).join(' · ') }))))));
    }

    // Routing explanation.
    const route = obj(pop.route);
    if (route && (arr(route.why).length || route.rule)) {
      out.push(h('details', { class: 'route' },
        h('summary', { text: 'Why this call came to you' }),
        route.rule ? h('p', { text: `Rule: ${str(route.rule)}${route.queue ? ` · queue ${str(route.queue)}` : ''}` }) : null,
        h('ul', null, arr(route.why).map((w) => h('li', { text: str(w) })))));
    }
    return out.filter(Boolean);
  }

  const canMerge = () => !!session.user && ['supervisor', 'admin'].includes(str(session.user.role));
  const candidateId = (c) => (c.id === undefined || c.id === null ? null : str(c.id));

  function renderCandidates(card, candidates) {
    const keep = candidates[0];
    const keepId = candidateId(keep);
    const keepName = str(keep.display_name) || 'Unnamed';
    const merged = card.merged || new Set();
    return h('ul', { class: 'candidates', 'data-testid': 'candidates' }, candidates.map((c, i) => {
      const id = candidateId(c);
      if (id !== null && merged.has(id)) return null;
      const picked = id !== null && card.pickedId === id;
      const mergeable = i > 0 && id !== null && keepId !== null && id !== keepId && canMerge();
      return h('li', { class: 'candidate', 'data-candidate-id': id },
        h('span', { class: 'candidate-name', text: str(c.display_name) || 'Unnamed' }),
        c.matched ? h('span', { class: 'candidate-matched', text: str(c.matched) }) : null,
        id !== null ? h('button', {
          type: 'button',
          class: 'btn btn-small',
          'aria-pressed': picked ? 'true' : 'false',
          text: picked ? 'Showing history' : 'Show history',
          on: {
            click: () => {
              card.pickedId = id;
              card.main.replaceChildren(...renderMain(card, card.pop));
              syncTimeline(card);
              layoutCard(card);
            },
          },
        }) : null,
        mergeable ? h('button', {
          type: 'button',
          class: 'btn btn-small btn-merge',
          'data-testid': 'merge-button',
          text: `Merge into ${keepName}`,
          on: { click: (event) => mergeCandidate(card, keepId, keepName, id, str(c.display_name) || 'Unnamed', event.currentTarget) },
        }) : null);
    }));
  }

  /** A supervisor folds a duplicate contact into the first candidate (POST /api/contacts/{id}/merge). */
  async function mergeCandidate(card, keepId, keepName, dupId, dupName, button) {
    if (card.merging) return;
    const ok = confirm(`Merge ${dupName} into ${keepName}? Their numbers, history and messages move over; this cannot be undone.`);
    if (!ok) return;
    card.merging = true;
    button.disabled = true;
    const res = await api('POST', `/api/contacts/${encodeURIComponent(keepId)}/merge`, { duplicate: Number(dupId) });
    card.merging = false;
    if (card.removed || S.signedOut) return;
    if (!res.ok) {
      button.disabled = false;
      if (!res.unauthorized) toast(res.error.message);
      return;
    }
    toast('Merged', 'info');
    if (!card.merged) card.merged = new Set();
    card.merged.add(dupId);
    const showedDuplicate = card.pickedId === dupId;
    if (showedDuplicate) card.pickedId = keepId;
    card.main.replaceChildren(...renderMain(card, card.pop));
    if (showedDuplicate) syncTimeline(card);
    else if (card.tl && card.tl.contactId === keepId) loadTimeline(card, false);
    layoutCard(card);
  }

  function channelLabel(channel) {
    return CHANNELS[channel] || words(channel) || 'Other';
  }

  function renderLatest(pop) {
    const dossier = obj(pop.dossier) || {};
    let byChannel = obj(dossier.last_by_channel);
    if (!byChannel) {
      byChannel = {};
      for (const item of arr(dossier.last_contacts).filter(obj)) {
        const ch = str(item.channel);
        if (ch && !byChannel[ch]) byChannel[ch] = item;
      }
    }
    const entries = Object.entries(byChannel).filter(([, v]) => obj(v));
    if (!entries.length) {
      return section('Recent contacts', 'latest', h('p', { class: 'muted', text: 'No earlier contacts on any channel.' }));
    }
    const order = ['voice', 'sms', 'email', 'chat'];
    entries.sort(([a], [b]) => ((order.indexOf(a) + 1) || 9) - ((order.indexOf(b) + 1) || 9));
    return section('Recent contacts by channel', 'latest', h('ul', { class: 'latest-list' }, entries.map(([ch, item]) => h('li', {
      class: 'latest-item',
      'data-channel': ch,
    },
    h('span', { class: `chan chan-${ch.replace(/[^a-z]/g, '')}` }, icon(ch), h('span', { text: channelLabel(ch) })),
    h('time', { class: 'latest-when', datetime: str(item.at), title: when(item.at), text: ago(item.at) || when(item.at, false) }),
    h('span', { class: 'latest-summary', text: str(item.summary) || words(item.reason) || '—' }),
    item.agent ? h('span', { class: 'latest-agent', text: str(item.agent) }) : null))));
  }

  function renderDossierLists(dossier) {
    const orders = arr(dossier.open_orders).filter(obj);
    const deliveries = arr(dossier.deliveries).filter(obj);
    const tickets = arr(dossier.open_tickets).filter(obj);
    if (!orders.length && !deliveries.length && !tickets.length) {
      return h('p', { class: 'panel muted nothing-open', text: 'No open orders, deliveries or tickets.' });
    }
    const wrap = h('div', { class: 'lists' });
    if (orders.length) {
      wrap.append(section('Open orders', 'orders', table(['Order', 'Status', 'Amount', 'Dates', 'Delivery'], orders.map((o) => [
        str(o.number),
        badge(words(o.status), `status-${str(o.status)}`),
        h('span', { class: 'money', text: money(o.amount_cents) }),
        [o.ready_at ? `ready ${when(o.ready_at, false)}` : '', o.due_at ? `due ${when(o.due_at, false)}` : '',
          !o.ready_at && !o.due_at && o.placed_at ? `placed ${when(o.placed_at, false)}` : ''].filter(Boolean).join(' · '),
        o.delivery_booked ? 'booked' : 'not booked',
      ]))));
    }
    if (deliveries.length) {
      wrap.append(section('Deliveries', 'deliveries', table(['Order', 'Status', 'When'], deliveries.map((d) => [
        str(d.order_number),
        [badge(words(d.status), `status-${str(d.status)}`), d.late ? badge('Late', 'late') : null],
        d.delivered_at ? `delivered ${when(d.delivered_at)}` : d.eta ? `ETA ${when(d.eta)}` : '—',
      ]))));
    }
    if (tickets.length) {
      wrap.append(section('Open tickets', 'tickets', table(['Ticket', 'Subject', 'Kind', 'Severity', 'Opened'], tickets.map((t) => [
        str(t.number),
        [str(t.subject) || '—', ' ', badge(words(t.status), `status-${str(t.status)}`)],
        words(t.kind),
        badge(words(t.severity), `sev-${str(t.severity)}`),
        when(t.opened_at, false),
      ]))));
    }
    return wrap;
  }

  function badge(text, cls) {
    return text ? h('span', { class: `chip ${cls.replace(/[^a-z0-9_ -]/gi, '')}`, text }) : null;
  }

  function table(headers, rows) {
    return h('table', { class: 'grid-table' },
      h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col', text: x })))),
      h('tbody', null, rows.map((row) => h('tr', null, row.map((cell) => h('td', null, cell))))));
  }

  // ---------------------------------------------------------------- wrap-up

  function buildWrapup(card) {
    const dispId = `${card.n}-disp`;
    const notesId = `${card.n}-notes`;
    const countId = `${card.n}-count`;
    const w = {};
    w.select = h('select', { id: dispId, class: 'select', 'data-testid': 'wrapup-disposition', required: true });
    w.notes = h('textarea', {
      id: notesId,
      class: 'textarea',
      'data-testid': 'wrapup-notes',
      maxLength: NOTES_MAX,
      rows: '4',
      'aria-describedby': countId,
      placeholder: 'What was agreed, what happens next…',
    });
    w.count = h('span', { id: countId, class: 'counter', 'aria-live': 'polite', text: `0 / ${NOTES_MAX}` });
    w.problems = h('ul', { class: 'problems', 'data-testid': 'wrapup-problems', role: 'alert', hidden: true });
    w.save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'wrapup-save', text: 'Save' });
    w.saved = h('p', { class: 'saved', 'data-testid': 'wrapup-saved', role: 'status', hidden: true, text: 'Saved to the timeline' });
    w.hint = h('p', { class: 'wrapup-hint' });
    w.form = h('form', {
      class: 'panel wrapup',
      'data-testid': 'wrapup-form',
      novalidate: true,
      'aria-label': 'Wrap-up',
      hidden: true,
      on: { submit: (e) => onWrapupSubmit(e, card) },
    },
    h('h3', { class: 'panel-title', text: 'Wrap-up' }),
    w.hint,
    h('label', { class: 'field', for: dispId },
      h('span', { class: 'field-label', text: 'Disposition' }), w.select),
    h('label', { class: 'field', for: notesId },
      h('span', { class: 'field-label' }, 'Notes ', h('span', { class: 'muted', text: '(optional)' })), w.notes),
    h('div', { class: 'wrapup-row' }, w.count),
    w.problems,
    h('div', { class: 'wrapup-actions' }, w.save, w.saved));
    w.notes.addEventListener('input', () => updateCounter(w));
    w.select.addEventListener('change', () => {
      if (w.select.value) w.select.removeAttribute('aria-invalid');
    });
    card.w = w;
    fillDispositions(card);
    return w;
  }

  function updateCounter(w) {
    const len = w.notes.value.length;
    w.count.textContent = `${len} / ${NOTES_MAX}`;
    w.count.classList.toggle('counter-near', len > NOTES_MAX * 0.9);
  }

  function fillDispositions(card) {
    const w = card.w;
    if (!w) return;
    const current = w.select.value;
    const options = [h('option', { value: '', text: S.dispositions.length ? 'Choose a disposition…' : 'No dispositions available' })];
    for (const d of S.dispositions) options.push(h('option', { value: d.id, text: d.label }));
    w.select.replaceChildren(...options);
    if (current && S.dispositions.some((d) => d.id === current)) w.select.value = current;
  }

  function renderWrapup(card, stage) {
    const w = card.w;
    w.form.hidden = stage === 'ringing';
    w.form.classList.toggle('wrapup-due', stage === 'ended' && !card.saved);
    w.hint.textContent = card.saved
      ? 'This call is wrapped up.'
      : stage === 'ended'
        ? 'The call has ended. Save the wrap-up to finish and become available.'
        : 'You can fill this in during the call; save it when you are done.';
  }

  function showProblems(w, problems) {
    w.problems.replaceChildren(...problems.map((p) => h('li', { text: p })));
    w.problems.hidden = problems.length === 0;
  }

  async function onWrapupSubmit(event, card) {
    event.preventDefault();
    const w = card.w;
    if (card.saving || card.saved) return;
    const disposition = w.select.value;
    const notes = w.notes.value;
    const problems = [];
    if (!disposition && S.dispositions.length) problems.push('Choose a disposition.');
    if (notes.length > NOTES_MAX) problems.push(`Notes are limited to ${NOTES_MAX} characters.`);
    if (problems.length) {
      showProblems(w, problems);
      if (!disposition) {
        w.select.setAttribute('aria-invalid', 'true');
        w.select.focus();
      }
      return;
    }
    showProblems(w, []);
    card.saving = true;
    w.save.disabled = true;
    w.save.textContent = 'Saving…';
    const res = await api('POST', `/api/calls/${encodeURIComponent(card.id)}/wrapup`, { disposition, notes });
    card.saving = false;
    if (card.removed) return;
    if (res.ok) {
      card.saved = true;
      w.save.hidden = true;
      w.saved.hidden = false;
      w.select.disabled = true;
      w.notes.readOnly = true;
      renderWrapup(card, stageOf(card.pop));
      card.banner.replaceChildren(...renderBanner(card, obj(card.pop.call) || {}, stageOf(card.pop)));
      card.leaveTimer = setTimeout(() => removeCard(card), SAVED_LINGER_MS);
      return;
    }
    w.save.disabled = false;
    w.save.textContent = 'Save';
    if (res.unauthorized) return;
    if (card.closeWhenDone) {
      removeCard(card);
      return;
    }
    const list = res.error.problems.length ? res.error.problems : [res.error.message];
    showProblems(w, list);
  }

  // ---------------------------------------------------------------- timeline

  function buildTimeline(card) {
    const t = {};
    t.list = h('ol', { class: 'tl-list', tabindex: '0', 'aria-label': 'Earlier contacts, newest first' });
    t.status = h('p', { class: 'tl-status muted', 'aria-live': 'polite' });
    t.more = h('button', {
      type: 'button',
      class: 'btn btn-small tl-more',
      'data-testid': 'timeline-more',
      hidden: true,
      text: 'Show more',
      on: { click: () => loadTimeline(card, true) },
    });
    t.title = h('h3', { class: 'panel-title', text: 'History' });
    t.section = h('section', { class: 'panel timeline', 'data-testid': 'timeline', hidden: true, 'aria-label': 'Customer history' },
      t.title, t.list, t.status, t.more);
    return t;
  }

  function fallbackItems(card) {
    const contact = obj(card.pop && card.pop.contact);
    if (!contact || str(contact.id) !== card.tl.contactId) return [];
    const dossier = obj(card.pop.dossier) || {};
    return arr(dossier.last_contacts).filter(obj);
  }

  /** Which contact the timeline shows: the pop's contact, or the candidate the agent picked. */
  function syncTimeline(card) {
    const contact = obj(card.pop.contact);
    const wanted = contact && contact.id !== undefined && contact.id !== null ? str(contact.id) : card.pickedId;
    const tl = card.tl;
    const t = card.timeline;
    const candidates = arr(obj(card.pop.caller) && card.pop.caller.candidates);
    if (!wanted) {
      tl.contactId = null;
      tl.seq += 1;
      clearTimeout(tl.pollTimer);
      syncReply(card, null);
      if (candidates.length > 1) {
        t.section.hidden = false;
        t.list.replaceChildren();
        t.more.hidden = true;
        t.status.textContent = 'Pick a customer above to see their history.';
      } else {
        t.section.hidden = true;
      }
      return;
    }
    t.section.hidden = false;
    syncReply(card, wanted);
    if (wanted !== tl.contactId) {
      tl.contactId = wanted;
      watchContact(wanted);
      tl.items = [];
      tl.next = null;
      tl.fellBack = false;
      tl.polls = 0;
      clearTimeout(tl.pollTimer);
      loadTimeline(card, false);
      return;
    }
    if (tl.fellBack) {
      tl.items = fallbackItems(card);
      renderTimeline(card);
    }
  }

  /** Ask the server for live timeline entries of a contact on screen (again after a reconnect). */
  function watchContact(contactId) {
    if (/^[0-9]+$/.test(contactId)) socket.send({ type: 'watch', contact_id: Number(contactId) });
  }

  /** A customer's SMS or email was given to this agent: say so, refresh their history. */
  function onMessageGiven(msg) {
    const channel = str(msg.channel) === 'email' ? 'Email' : 'SMS';
    toast(`${channel} for you: ${str(msg.summary)}`, 'info');
    onTimelineEntry(str(msg.contact_id));
  }

  /** A new SMS, email or call on a shown customer's timeline: reload the first page. */
  function onTimelineEntry(contactId) {
    for (const card of S.cards.values()) {
      if (card.tl && card.tl.contactId === contactId && !card.removed) loadTimeline(card, false);
    }
  }

  async function loadTimeline(card, more) {
    const tl = card.tl;
    if (!tl.contactId || (more && (!tl.next || tl.loading))) return;
    if (!more) clearTimeout(tl.pollTimer);
    const seq = ++tl.seq;
    const contactId = tl.contactId;
    tl.loading = true;
    tl.moreError = '';
    renderTimeline(card);
    const params = new URLSearchParams({ limit: String(TIMELINE_LIMIT) });
    if (more) params.set('before', tl.next);
    const res = await api('GET', `/api/contacts/${encodeURIComponent(contactId)}/timeline?${params}`);
    if (seq !== tl.seq || card.removed || S.signedOut) return;
    tl.loading = false;
    const items = res.ok && res.data && Array.isArray(res.data.items) ? res.data.items.filter(obj) : null;
    if (items) {
      tl.items = more ? tl.items.concat(items) : items;
      const next = res.data.next_before;
      tl.next = next === null || next === undefined || next === '' ? null : str(next);
      tl.fellBack = false;
    } else if (!more) {
      // Not there yet (404 while it is being built) or failing: the pop's own list, silently.
      tl.fellBack = true;
      tl.items = fallbackItems(card);
      tl.next = null;
    } else if (!res.unauthorized) {
      tl.moreError = 'Could not load more history. Try again.';
    }
    renderTimeline(card);
    if (!more) {
      if (items) replyDefaults(card);
      pollPending(card);
    }
  }

  const isMessage = (item) => ['sms', 'email', 'chat'].includes(str(item.channel)) || str(item.ref).startsWith('message:');
  const isPending = (item) => str(item.direction) === 'outbound' && isMessage(item) && ['queued', 'retrying'].includes(str(item.outcome));

  /**
   * A reply still queued or retrying changes its outcome without a `timeline` message:
   * read the first page again now and then until it is delivered or has failed.
   */
  function pollPending(card) {
    const tl = card.tl;
    clearTimeout(tl.pollTimer);
    tl.pollTimer = null;
    if (card.removed || tl.fellBack || !tl.contactId || tl.polls >= PENDING_POLL_MAX) return;
    if (!tl.items.some(isPending)) return;
    const delay = PENDING_POLL_MS[Math.min(tl.polls, PENDING_POLL_MS.length - 1)];
    tl.pollTimer = setTimeout(() => {
      tl.pollTimer = null;
      tl.polls += 1;
      if (!card.removed && !S.signedOut) loadTimeline(card, false);
    }, delay);
  }

  function renderTimeline(card) {
    const tl = card.tl;
    const t = card.timeline;
    t.list.replaceChildren(...tl.items.map(timelineItem));
    t.more.hidden = !tl.next || tl.fellBack;
    t.more.disabled = tl.loading;
    t.more.textContent = tl.loading && tl.items.length ? 'Loading…' : 'Show more';
    if (tl.loading && !tl.items.length) t.status.textContent = 'Loading history…';
    else if (tl.moreError) t.status.textContent = tl.moreError;
    else if (!tl.items.length) t.status.textContent = 'No earlier contacts.';
    else t.status.textContent = '';
    const picked = !obj(card.pop.contact) && card.pickedId;
    t.title.textContent = picked ? 'History of the selected customer' : 'History';
    followReply(card);
  }

  const DELIVERY_TEXT = { queued: 'Queued', retrying: 'Retrying', sent: 'Sent', failed: 'Failed' };

  function timelineItem(item) {
    const channel = str(item.channel);
    const direction = str(item.direction);
    const outcome = str(item.outcome);
    const rel = ago(item.at);
    const outbound = direction === 'outbound';
    // An agent's reply: set apart, with its delivery status as a badge.
    const reply = outbound && isMessage(item);
    const delivery = reply && DELIVERY.has(outcome) ? outcome : '';
    let dir = null;
    if (reply) dir = h('span', { class: 'tl-dir tl-dir-out', title: 'To the customer', text: '↗ out' });
    else if (direction) dir = h('span', { class: 'tl-dir', text: direction === 'inbound' ? 'in' : outbound ? 'out' : direction });
    return h('li', {
      class: `tl-item${reply ? ' tl-reply' : ''}`,
      'data-testid': 'timeline-item',
      'data-channel': channel,
      'data-direction': direction,
      'data-outcome': outcome,
    },
    h('div', { class: 'tl-head' },
      h('span', { class: `chan chan-${channel.replace(/[^a-z]/g, '')}` }, icon(channel), h('span', { text: channelLabel(channel) })),
      dir,
      h('time', { class: 'tl-when', datetime: str(item.at), title: rel, text: when(item.at) })),
    item.summary ? h('p', { class: 'tl-summary', text: str(item.summary) }) : null,
    h('div', { class: 'tl-meta' },
      item.agent ? h('span', { class: 'tl-agent', text: str(item.agent) }) : null,
      item.reason ? h('span', { class: 'chip', text: words(item.reason) }) : null,
      delivery
        ? h('span', {
          class: `chip delivery delivery-${delivery}`,
          'data-testid': 'timeline-delivery',
          title: 'Delivery status',
          text: DELIVERY_TEXT[delivery],
        })
        : outcome ? h('span', { class: 'chip chip-quiet', text: words(outcome) }) : null));
  }

  // ---------------------------------------------------------------- reply (SMS / email)

  const grouped = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  const charCount = (text) => [...text].length; // code points, as the server counts

  function buildReply(card) {
    const chanId = `${card.n}-reply-channel`;
    const subjectId = `${card.n}-reply-subject`;
    const bodyId = `${card.n}-reply-body`;
    const countId = `${card.n}-reply-count`;
    const r = { channel: 'sms', touched: false, sending: false, contactId: null, last: null };
    r.select = h('select', {
      id: chanId,
      class: 'select select-small',
      'data-testid': 'reply-channel',
      on: {
        change: () => {
          r.touched = true;
          setReplyChannel(card, r.select.value);
        },
      },
    },
    Object.entries(REPLY).map(([value, c]) => h('option', { value, text: c.label })));
    r.subject = h('input', {
      id: subjectId,
      type: 'text',
      class: 'input',
      'data-testid': 'reply-subject',
      maxLength: 998,
      autocomplete: 'off',
      placeholder: 'Re: their last subject (automatic)',
    });
    r.subjectField = h('label', { class: 'field reply-subject', for: subjectId, hidden: true },
      h('span', { class: 'field-label' }, 'Subject ', h('span', { class: 'muted', text: '(optional)' })), r.subject);
    r.body = h('textarea', {
      id: bodyId,
      class: 'textarea',
      'data-testid': 'reply-body',
      rows: '3',
      'aria-describedby': countId,
      on: { input: () => updateReply(card) },
    });
    r.count = h('span', { id: countId, class: 'counter', 'aria-live': 'polite' });
    r.problems = h('ul', { class: 'problems', 'data-testid': 'reply-problems', role: 'alert', hidden: true });
    r.send = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'reply-send', disabled: true, text: 'Send' });
    r.status = h('p', { class: 'reply-status', 'data-testid': 'reply-status', role: 'status', hidden: true });
    r.title = h('h3', { class: 'panel-title reply-title', text: 'Reply' });
    r.form = h('form', {
      class: 'panel reply',
      'data-testid': 'reply-form',
      novalidate: true,
      'aria-label': 'Reply to the customer',
      hidden: true,
      on: {
        submit: (e) => {
          e.preventDefault();
          sendReply(card);
        },
        keydown: (e) => onReplyKey(e, card),
      },
    },
    h('div', { class: 'reply-head' },
      r.title,
      h('label', { class: 'reply-channel', for: chanId }, h('span', { class: 'muted', text: 'Send by' }), r.select)),
    r.subjectField,
    h('label', { class: 'visually-hidden', for: bodyId, text: 'Message' }),
    r.body,
    h('div', { class: 'reply-row' },
      h('span', { class: 'reply-keys muted' }, h('kbd', { text: 'Ctrl' }), '+', h('kbd', { text: 'Enter' }), ' sends'),
      r.count),
    r.problems,
    h('div', { class: 'reply-actions' }, r.send, r.status));
    card.r = r;
    setReplyChannel(card, 'sms');
    return r;
  }

  function onReplyKey(event, card) {
    if (event.key !== 'Enter' || event.isComposing) return;
    const r = card.r;
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      sendReply(card);
    } else if (event.target === r.subject) {
      event.preventDefault(); // Enter in the subject goes on to the message, it does not send
      r.body.focus();
    }
  }

  function setReplyChannel(card, channel) {
    const r = card.r;
    r.channel = REPLY[channel] ? channel : 'sms';
    const c = REPLY[r.channel];
    r.select.value = r.channel;
    r.form.dataset.channel = r.channel;
    r.subjectField.hidden = r.channel !== 'email';
    r.body.placeholder = c.placeholder;
    r.body.rows = r.channel === 'email' ? 6 : 3;
    updateReply(card);
  }

  function updateReply(card) {
    const r = card.r;
    const max = REPLY[r.channel].max;
    const len = charCount(r.body.value);
    r.count.textContent = `${grouped(len)} / ${grouped(max)}`;
    r.count.classList.toggle('counter-near', len > max * 0.9 && len <= max);
    r.count.classList.toggle('counter-over', len > max);
    r.send.disabled = r.sending || !r.body.value.trim();
  }

  /** Show the form for the card's customer (or hide it); a new customer starts afresh. */
  function syncReply(card, contactId) {
    const r = card.r;
    r.form.hidden = !contactId;
    const contact = obj(card.pop.contact);
    let name = contact && str(contact.id) === contactId ? str(contact.name) : '';
    if (!name && contactId) {
      const candidates = arr(obj(card.pop.caller) && card.pop.caller.candidates).filter(obj);
      const picked = candidates.find((c) => str(c.id) === contactId);
      name = picked ? str(picked.display_name) : '';
    }
    r.title.textContent = name ? `Reply to ${name}` : 'Reply';
    if (contactId === r.contactId) return;
    r.contactId = contactId;
    r.touched = false;
    r.last = null;
    showReplyStatus(card, '', '');
    showReplyProblems(card, []);
    if (contactId) setReplyChannel(card, 'sms');
  }

  /** The channel the customer last wrote on (SMS or email), unless the agent chose one or is typing. */
  function replyDefaults(card) {
    const r = card.r;
    if (r.touched || r.sending || r.body.value || r.contactId !== card.tl.contactId) return;
    const last = card.tl.items.find((item) => str(item.direction) === 'inbound' && REPLY[str(item.channel)]);
    setReplyChannel(card, last ? str(last.channel) : 'sms');
  }

  function showReplyProblems(card, problems) {
    const r = card.r;
    r.problems.replaceChildren(...problems.map((p) => h('li', { text: p })));
    r.problems.hidden = problems.length === 0;
  }

  function showReplyStatus(card, kind, text, title) {
    const r = card.r;
    r.status.textContent = text;
    r.status.dataset.status = kind;
    r.status.title = title || '';
    r.status.hidden = !text;
  }

  function replyStatusText(status, channel, error) {
    const by = (REPLY[channel] || REPLY.sms).by;
    switch (status) {
      case 'sent':
        return `Sent ${by}`;
      case 'retrying':
        return 'Queued — retrying';
      case 'failed':
        return `Failed: ${error || 'not delivered after retrying'}`;
      case 'queued':
        return `Queued ${by}`;
      default:
        return status ? `Sent ${by} (${words(status)})` : `Sent ${by}`;
    }
  }

  /** A reply that was still queued or retrying: its status line follows the timeline. */
  function followReply(card) {
    const r = card.r;
    const last = r && r.last;
    if (!last || !['queued', 'retrying'].includes(last.status)) return;
    const item = card.tl.items.find((x) => str(x.ref) === `message:${last.id}`);
    const outcome = item ? str(item.outcome) : '';
    if (!DELIVERY.has(outcome) || outcome === last.status) return;
    last.status = outcome;
    showReplyStatus(card, outcome, replyStatusText(outcome, last.channel, ''));
  }

  async function sendReply(card) {
    const r = card.r;
    const contactId = card.tl.contactId;
    if (r.sending || r.form.hidden || !contactId) return;
    const channel = r.channel;
    const text = r.body.value;
    const max = REPLY[channel].max;
    const problems = [];
    if (!text.trim()) problems.push('Write a message first.');
    const len = charCount(text);
    if (len > max) {
      problems.push(`${channel === 'sms' ? 'An SMS' : 'An email'} is limited to ${grouped(max)} characters; this one has ${grouped(len)}.`);
    }
    if (problems.length) {
      showReplyProblems(card, problems);
      r.body.focus();
      return;
    }
    showReplyProblems(card, []);
    showReplyStatus(card, '', '');
    r.sending = true;
    r.send.textContent = 'Sending…';
    r.body.readOnly = true;
    r.select.disabled = true;
    updateReply(card);
    const subject = r.subject.value.trim();
    const body = channel === 'email' ? { body: text, subject: subject || null } : { body: text, to: null };
    const res = await api('POST', `/api/contacts/${encodeURIComponent(contactId)}/${channel}`, body);
    r.sending = false;
    r.send.textContent = 'Send';
    r.body.readOnly = false;
    r.select.disabled = false;
    updateReply(card);
    if (card.removed || res.unauthorized || r.contactId !== contactId) return;
    if (res.ok) {
      const message = obj(res.data) || {};
      const status = str(message.status);
      r.last = { id: str(message.id), status, channel };
      r.body.value = '';
      r.subject.value = '';
      updateReply(card);
      showReplyStatus(card, status || 'sent', replyStatusText(status, channel, str(message.error)), str(message.error));
      card.tl.polls = 0;
      if (card.tl.contactId === contactId) loadTimeline(card, false);
      r.body.focus({ preventScroll: true });
      return;
    }
    const list = res.error.problems.length ? res.error.problems : [res.error.message];
    showReplyProblems(card, list);
  }

  // ---------------------------------------------------------------- empty state, title, clock

  function renderEmpty() {
    const empty = $('empty-state');
    const visible = [...S.cards.values()].some((c) => !c.removed);
    empty.hidden = visible;
    const state = agentState();
    empty.dataset.state = S.helloSeen ? state : 'connecting';
    let title;
    let text;
    if (socket.denied) {
      title = 'Not allowed';
      text = 'This desktop cannot show these calls.';
    } else if (!S.helloSeen) {
      title = socket.state === 'reconnecting' || socket.state === 'offline' ? 'Not connected' : 'Connecting…';
      text = 'Getting your calls and state from the server.';
    } else {
      switch (state) {
        case 'available': {
          title = 'Waiting for calls — you are available';
          const idle = S.agent && Number(S.agent.idle_seconds);
          text = Number.isFinite(idle) && S.agent.idle_seconds !== null
            ? `Idle for ${idleText(idle + (Date.now() - S.agentAt) / 1000)}. The caller\u2019s details appear here the moment your phone rings.`
            : 'The caller\u2019s details appear here the moment your phone rings.';
          break;
        }
        case 'paused':
          title = S.agent.pause_reason ? `You are paused: ${pauseLabel(S.agent.pause_reason)}` : 'You are paused';
          text = 'No calls will come to you. Choose Resume when you are ready.';
          break;
        case 'logged_out':
          title = 'You are logged out of your queues';
          text = 'Choose \u201cLog in to queues\u201d to start taking calls.';
          break;
        case 'ringing':
          title = 'Your phone is ringing';
          text = 'The caller\u2019s details will appear here in a moment.';
          break;
        case 'on_call':
          title = 'You are on a call';
          text = 'There is no screen-pop for this call.';
          break;
        case 'wrap_up':
          title = 'Wrap-up time';
          text = 'You will be available for calls again shortly.';
          break;
        default:
          title = 'Waiting for calls';
          text = S.agent ? 'Your state is not known yet.' : 'No phone is linked to this account.';
      }
    }
    $('empty-title').textContent = title;
    $('empty-text').textContent = text;
  }

  function updateTitle() {
    if ($('app-view').hidden) return;
    const cards = [...S.cards.values()].filter((c) => !c.removed);
    const ringing = cards.find((c) => stageOf(c.pop) === 'ringing');
    if (ringing) {
      document.title = `Ringing: ${callerName(ringing.pop) || callerNumber(ringing.pop) || 'incoming call'} · Callfold`;
    } else if (cards.some((c) => stageOf(c.pop) === 'talking')) {
      document.title = 'On call · Callfold';
    } else if (cards.some((c) => stageOf(c.pop) === 'ended' && !c.saved)) {
      document.title = 'Wrap-up · Callfold';
    } else {
      document.title = 'Callfold · Agent desktop';
    }
  }

  let lastEmptyTick = 0;

  function tick() {
    const now = Date.now() / 1000;
    for (const el of document.querySelectorAll('.js-timer')) {
      const from = Number(el.dataset.from);
      if (!Number.isFinite(from)) continue;
      const text = duration(now - from);
      if (el.textContent !== text) el.textContent = text;
    }
    if (now - lastEmptyTick >= 15 && !$('empty-state').hidden && agentState() === 'available') {
      lastEmptyTick = now;
      renderEmpty();
    }
  }

  // ---------------------------------------------------------------- start

  function bind() {
    setUpLogin(startDesktop);
    setApiHooks({ unauthorized: signOut });
    setOutboundHooks({
      changed: (callId) => {
        const card = S.cards.get(callId);
        if (!card || card.removed) return;
        renderCard(card);
        notePop(card.pop);
        updateTitle();
      },
    });
    $('queue-login').addEventListener('click', () => agentAction('login', undefined, 'Logging in…'));
    $('queue-logout').addEventListener('click', () => agentAction('logout', undefined, 'Logging out…'));
    $('pause-button').addEventListener('click', () => {
      const reason = $('pause-reason').value || 'break';
      agentAction('pause', { reason }, 'Pausing…');
    });
    $('resume-button').addEventListener('click', () => agentAction('unpause', undefined, 'Resuming…'));
    $('sign-out').addEventListener('click', () => signOut('You have signed out.'));
    $('denied-signout').addEventListener('click', () => signOut());
    dismissToastsOnEscape(dialogOpen);
    setInterval(tick, 250);
  }

  bind(); // a module runs once the document is parsed
  resumeOrSignIn(startDesktop);
})();
