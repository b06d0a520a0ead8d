/* Callfold pages: the signed-in session and every REST call.
 *
 * One token for the desktop and the console: kept in the tab's sessionStorage under the
 * keys below, so a sign-in on either page holds on the other (docs/console.md). `session`
 * is the one copy in memory; pages and tab modules read it, only this file writes it.
 */

import { arr, obj, str, toDate } from './dom.js';

const STORE = { token: 'callfold.token', user: 'callfold.user', expires: 'callfold.expires_at' };

/** The signed-in user and their token (both null when signed out). */
export const session = { token: null, user: null };

/** Take the stored sign-in, unless there is none or it has expired. */
export function loadSession() {
  const token = sessionStorage.getItem(STORE.token);
  if (!token) return false;
  const raw = sessionStorage.getItem(STORE.expires);
  const expires = raw ? toDate(/^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw) : null;
  if (expires && expires.getTime() <= Date.now()) {
    clearSession();
    return false;
  }
  session.token = token;
  try {
    session.user = obj(JSON.parse(sessionStorage.getItem(STORE.user) || 'null'));
  } catch (_) {
    session.user = null;
  }
  return true;
}

export function saveSession(token, expiresAt, user) {
  session.token = token;
  session.user = obj(user);
  sessionStorage.setItem(STORE.token, token);
  if (expiresAt !== null && expiresAt !== undefined) sessionStorage.setItem(STORE.expires, String(expiresAt));
  else sessionStorage.removeItem(STORE.expires);
  sessionStorage.setItem(STORE.user, JSON.stringify(session.user));
}

/** The server's newer description of the signed-in user. */
export function saveUser(user) {
  session.user = obj(user);
  sessionStorage.setItem(STORE.user, JSON.stringify(session.user));
}

export function clearSession() {
  session.token = null;
  session.user = null;
  for (const key of Object.values(STORE)) sessionStorage.removeItem(key);
}

// ---------------------------------------------------------------- REST

/** The API's error (`{"error": {"id", "message", "problems"?}}`), or one for the status. */
export function errorOf(data, status) {
  const fallback = {
    0: 'Cannot reach the server. Check your connection and try again.',
    401: 'Your session has ended. Please sign in again.',
    403: 'You are not allowed to do this.',
    404: 'Not found.',
    409: 'The phone system refused this.',
    422: 'Please check the form.',
    429: 'Too many attempts. Please wait a moment and try again.',
    503: 'The phone system is not connected right now.',
  }[status] || `The server answered with an error (${status}).`;
  const e = data && typeof data === 'object' ? data.error : null;
  if (typeof e === 'string') return { code: `http.${status}`, message: e, problems: [] };
  const detail = data && typeof data === 'object' && typeof data.detail === 'string' ? data.detail : '';
  return {
    code: str((e && (e.id || e.code)) || `http.${status}`),
    message: str(e && typeof e.message === 'string' && e.message ? e.message : detail || fallback),
    problems: arr(e && e.problems).map(str).filter(Boolean),
  };
}

/** A response's JSON body, or null (empty, or not JSON). */
export async function readJson(res) {
  try {
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  } catch (_) {
    return null;
  }
}

const hooks = { unauthorized: null, response: null };

/** What the page does when a call answers 401 (sign out, with the sentence given) and,
 * optionally, with every response that arrives (response, when it was sent in ms). */
export function setApiHooks({ unauthorized, response = null }) {
  hooks.unauthorized = unauthorized;
  hooks.response = response;
}

/** Every REST call: bearer token, JSON in and out; a 401 sends the user back to login. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  const sentAt = Date.now();
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (_) {
    return { ok: false, status: 0, data: null, error: errorOf(null, 0) };
  }
  if (hooks.response) hooks.response(res, sentAt);
  const data = await readJson(res);
  if (res.status === 401) {
    if (hooks.unauthorized) hooks.unauthorized('Your session has ended. Please sign in again.');
    return { ok: false, status: 401, data, error: errorOf(data, 401), unauthorized: true };
  }
  if (!res.ok) return { ok: false, status: res.status, data, error: errorOf(data, res.status) };
  return { ok: true, status: res.status, data };
}

/** POST /api/auth/login; on success the session is saved. Returns {ok} or {ok: false,
 * message} with the sentence to show under the form. */
export async function signIn(username, password) {
  let res = null;
  let data = null;
  try {
    res = await fetch('/api/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username, password }),
      cache: 'no-store',
      credentials: 'same-origin',
    });
    data = await readJson(res);
  } catch (_) {
    res = null;
  }
  if (!res || !res.ok || !data || typeof data.token !== 'string' || !data.token) {
    const status = res ? res.status : 0;
    let message = errorOf(data, status).message;
    if (res && res.ok) message = 'The server gave an unexpected answer. Please try again.';
    if (status === 401 && !(data && data.error)) message = 'Wrong username or password.';
    const retry = res && res.headers.get('Retry-After');
    if (status === 429 && retry && /^\d+$/.test(retry) && !/\d/.test(message)) {
      message += ` Try again in ${retry} s.`;
    }
    return { ok: false, message };
  }
  saveSession(data.token, data.expires_at, data.user);
  return { ok: true };
}
