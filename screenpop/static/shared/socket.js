/* Callfold pages: a screen's WebSocket (/ws/agent for the desktop, /ws/wallboard for the
 * console), kept alive.
 *
 * The protocol is docs/screenpop.md: the token in the first frame, then the server's
 * messages; pings, and a socket that has said nothing for too long is dead. A lost socket
 * comes back with backoff and the page's banner says so, counting down; a 4401 close
 * signs out, a 4403 shows the "Not allowed" banner and stops. What the messages mean is
 * the page's: it gets each one and says when the first (hello, the full wallboard) came.
 *
 * The page has #connection (with .conn-text), #reconnect-banner, #reconnect-text,
 * #reconnect-now, #denied-banner and #denied-text.
 */

import { $, obj, str, toast } from './dom.js';
import { session } from './session.js';

const PROTOCOL_VERSION = 1;
const WELCOME_TIMEOUT_MS = 10000; // the socket is open, but no first message: try again
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 15000;
const CLOSE_REASONS = {
  1000: 'the server closed the connection',
  1001: 'the server is restarting',
  1006: 'the connection dropped',
  1008: 'the server refused a message',
  1009: 'the server refused a message',
  1011: 'the server hit an error',
  1012: 'the server is restarting',
  4408: 'sign-in on the socket timed out',
};
const LABELS = {
  connected: 'Connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

function backoffDelay(attempt) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, attempt - 1));
  const jittered = base * (0.75 + Math.random() * 0.5);
  return Math.round(Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, jittered)));
}

/**
 * The page's socket. Options:
 *   path            '/ws/agent' or '/ws/wallboard'
 *   pingMs          how often to ping
 *   silenceMs       nothing at all (not even a pong) for this long: the socket is dead
 *   auth            more fields for the auth frame ({agent} for a supervisor watching)
 *   allowed()       optional: false while this user may not connect
 *   labels          the connection badge's words, over LABELS
 *   text            the page's sentences: {protocol, behind, offline, stale, denied}
 *   freshAfter      close codes after which the backoff starts again from the first step
 *   onMessage(msg)  every message but errors (kept for the close) and other versions
 *   onState(state)  after the badge changed: 'connecting', 'connected', 'reconnecting', 'offline'
 *   onUnauthorized(sentence)  the server closed with 4401: sign out, saying this
 *   onDenied(message)         optional: after the "Not allowed" banner is up
 * Returns {start, stop, connect, disconnect, welcomed, send, state, denied}.
 */
export function screenSocket(options) {
  const labels = { ...LABELS, ...options.labels };
  const text = options.text;
  const reasons = { ...CLOSE_REASONS, 1013: text.behind };
  const freshAfter = new Set(options.freshAfter || []);
  const K = {
    ws: null,
    state: 'offline',
    running: false, // signed in: may connect
    denied: false,
    welcomedOnce: false,
    attempt: 0,
    retryTimer: null,
    retryAt: 0,
    countdown: null,
    pingTimer: null,
    welcomeTimer: null,
    lastHeard: 0,
    serverError: null,
    lastCloseWhy: '',
    versionWarned: false,
  };

  function setState(state, detail) {
    K.state = state;
    const el = $('connection');
    el.dataset.state = state;
    const label = labels[state] || state;
    el.querySelector('.conn-text').textContent = label;
    el.title = detail || label;
    if (options.onState) options.onState(state);
  }

  function url() {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${options.path}`;
  }

  function connect() {
    clearTimeout(K.retryTimer);
    clearInterval(K.countdown);
    K.retryTimer = null;
    if (!K.running || K.denied || !session.token) return;
    if (options.allowed && !options.allowed()) return;
    if (K.ws) return;
    K.serverError = null;
    if (K.attempt === 0) setState(K.welcomedOnce ? 'reconnecting' : 'connecting');
    else {
      setState('reconnecting');
      showReconnecting(`Reconnecting… (attempt ${K.attempt})`);
    }
    let ws;
    try {
      ws = new WebSocket(url());
    } catch (_) {
      scheduleReconnect('the connection could not be opened');
      return;
    }
    K.ws = ws;
    ws.onopen = () => {
      if (K.ws !== ws) return;
      ws.send(JSON.stringify({ type: 'auth', token: session.token, ...options.auth }));
      K.lastHeard = Date.now();
      K.welcomeTimer = setTimeout(() => {
        if (K.ws === ws) drop('no answer from the server');
      }, WELCOME_TIMEOUT_MS);
    };
    ws.onmessage = (event) => {
      if (K.ws !== ws) return;
      K.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (obj(msg)) handleMessage(msg);
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      if (K.ws !== ws) return;
      onClosed(event.code, event.reason);
    };
  }

  /** Detach and close the current socket without triggering its close handling. */
  function disconnect() {
    clearTimeout(K.retryTimer);
    clearInterval(K.countdown);
    clearTimeout(K.welcomeTimer);
    clearInterval(K.pingTimer);
    K.retryTimer = null;
    K.pingTimer = null;
    const ws = K.ws;
    K.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, 'bye');
      } catch (_) { /* already closing */ }
    }
  }

  function drop(why) {
    disconnect();
    scheduleReconnect(why);
  }

  function onClosed(code, reason) {
    clearTimeout(K.welcomeTimer);
    clearInterval(K.pingTimer);
    K.pingTimer = null;
    K.ws = null;
    if (!K.running) return;
    const message = (K.serverError && str(K.serverError.message)) || str(reason);
    if (code === 4401) {
      options.onUnauthorized(`Your session has ended${message ? ` (${message})` : ''}. Please sign in again.`);
      return;
    }
    if (code === 4403) {
      deny(message || text.denied);
      return;
    }
    if (freshAfter.has(code)) K.attempt = 0;
    scheduleReconnect(reasons[code] || (code ? `the connection closed (${code})` : 'the connection dropped'));
  }

  function deny(message) {
    K.denied = true;
    disconnect();
    setState('offline', message);
    $('reconnect-banner').hidden = true;
    $('denied-text').textContent = `Not allowed: ${message}`;
    $('denied-banner').hidden = false;
    if (options.onDenied) options.onDenied(message);
  }

  function scheduleReconnect(why) {
    if (!K.running || K.denied) return;
    clearTimeout(K.retryTimer);
    clearInterval(K.countdown);
    K.lastCloseWhy = why || K.lastCloseWhy;
    if (navigator.onLine === false) {
      setState('offline', 'This computer is offline');
      showReconnecting(text.offline);
      return;
    }
    K.attempt += 1;
    const delay = backoffDelay(K.attempt);
    K.retryAt = Date.now() + delay;
    setState('reconnecting', `Connection lost: ${K.lastCloseWhy}`);
    const update = () => {
      const left = Math.max(0, Math.ceil((K.retryAt - Date.now()) / 1000));
      showReconnecting(
        `Connection lost (${K.lastCloseWhy}). Reconnecting in ${left} s — attempt ${K.attempt}. ${text.stale}`);
    };
    update();
    K.countdown = setInterval(update, 500);
    K.retryTimer = setTimeout(connect, delay);
  }

  function showReconnecting(sentence) {
    $('reconnect-text').textContent = sentence;
    $('reconnect-banner').hidden = false;
  }

  function reconnectNow() {
    if (!K.running || K.denied) return;
    disconnect();
    if (K.attempt === 0) K.attempt = 1;
    connect();
  }

  function startPing() {
    clearInterval(K.pingTimer);
    K.pingTimer = setInterval(() => {
      const ws = K.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - K.lastHeard > options.silenceMs) {
        drop('no answer from the server');
        return;
      }
      try {
        ws.send(JSON.stringify({ type: 'ping' }));
      } catch (_) { /* the close event follows */ }
    }, options.pingMs);
  }

  function handleMessage(msg) {
    if (msg.version !== undefined && msg.version !== PROTOCOL_VERSION) {
      if (!K.versionWarned) {
        K.versionWarned = true;
        toast(`The server speaks a newer ${text.protocol} protocol. Reload the page to update.`, 'warning');
      }
      return;
    }
    if (msg.type === 'error') {
      K.serverError = { code: str(msg.code), message: str(msg.message) }; // said again at the close
      return;
    }
    options.onMessage(msg);
  }

  $('reconnect-now').addEventListener('click', reconnectNow);
  window.addEventListener('online', () => {
    if (!K.ws && K.running && !K.denied) reconnectNow();
  });
  window.addEventListener('offline', () => {
    if (K.ws) drop('this computer went offline');
  });

  return {
    /** Signed in: from now on connect() connects. */
    start() {
      K.running = true;
      K.denied = false;
      K.attempt = 0;
      K.welcomedOnce = false;
      $('denied-banner').hidden = true;
    },
    /** Signed out: close, stop retrying, badge offline, banners down. */
    stop() {
      K.running = false;
      disconnect();
      setState('offline');
      $('reconnect-banner').hidden = true;
      $('denied-banner').hidden = true;
    },
    connect,
    disconnect,
    /** The first message (hello, the full wallboard) has come: connected, pinging. */
    welcomed() {
      clearTimeout(K.welcomeTimer);
      clearInterval(K.countdown);
      K.attempt = 0;
      K.welcomedOnce = true;
      setState('connected');
      $('reconnect-banner').hidden = true;
      startPing();
    },
    /** Send a frame if the socket is open; false if it is not. */
    send(frame) {
      const ws = K.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
    get state() {
      return K.state;
    },
    get denied() {
      return K.denied;
    },
  };
}
