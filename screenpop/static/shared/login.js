/* Callfold pages: the sign-in form.
 *
 * The page's HTML holds <main id="login-view"> with <form id="login-form"> and its own
 * title and intro; this file adds the brand, the fields, the error line and the button,
 * and signs in through session.js. Same ids and data-testid on both pages.
 */

import { $, h } from './dom.js';
import { loadSession, signIn } from './session.js';

/** Open the page: ``start`` with the stored sign-in if it still holds, else the form. */
export function resumeOrSignIn(start) {
  if (loadSession()) start();
  else showLogin();
}

/** Fill the form and call ``onSignedIn`` once a sign-in has been saved. */
export function setUpLogin(onSignedIn) {
  const form = $('login-form');
  form.prepend(h('div', { class: 'brand brand-login' },
    h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
    h('span', { class: 'brand-name', text: 'Callfold' })));
  form.append(
    h('p', { class: 'login-notice', id: 'login-notice', role: 'status', hidden: true }),
    h('label', { class: 'field' },
      h('span', { class: 'field-label', text: 'Username' }),
      h('input', {
        id: 'login-username',
        name: 'username',
        'data-testid': 'login-username',
        autocomplete: 'username',
        autocapitalize: 'none',
        spellcheck: 'false',
        required: true,
        maxlength: 64,
      })),
    h('label', { class: 'field' },
      h('span', { class: 'field-label', text: 'Password' }),
      h('input', {
        id: 'login-password',
        name: 'password',
        type: 'password',
        'data-testid': 'login-password',
        autocomplete: 'current-password',
        required: true,
        maxlength: 256,
      })),
    h('p', { class: 'login-error', 'data-testid': 'login-error', id: 'login-error', role: 'alert', hidden: true }),
    h('button', {
      type: 'submit',
      class: 'btn btn-primary btn-block',
      'data-testid': 'login-submit',
      id: 'login-submit',
      text: 'Sign in',
    }));
  form.addEventListener('submit', (event) => onLoginSubmit(event, onSignedIn));
}

/** Hide the page (#app-view), show the form with ``notice`` above it (if any). */
export function showLogin(notice) {
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  document.title = 'Callfold · Sign in';
  const noticeEl = $('login-notice');
  noticeEl.textContent = notice || '';
  noticeEl.hidden = !notice;
  $('login-error').hidden = true;
  $('login-error').textContent = '';
  $('login-password').value = '';
  const username = $('login-username');
  (username.value ? $('login-password') : username).focus();
}

async function onLoginSubmit(event, onSignedIn) {
  event.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  const errorEl = $('login-error');
  const submit = $('login-submit');
  if (!username || !password) {
    errorEl.textContent = 'Enter your username and password.';
    errorEl.hidden = false;
    (username ? $('login-password') : $('login-username')).focus();
    return;
  }
  errorEl.hidden = true;
  submit.disabled = true;
  submit.textContent = 'Signing in…';
  const result = await signIn(username, password);
  submit.disabled = false;
  submit.textContent = 'Sign in';
  if (!result.ok) {
    errorEl.textContent = result.message;
    errorEl.hidden = false;
    $('login-password').select();
    $('login-password').focus();
    return;
  }
  $('login-password').value = '';
  onSignedIn();
}
