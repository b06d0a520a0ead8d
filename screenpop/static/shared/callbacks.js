/* Callfold pages: outbound calls and call-backs in words, for the desktop and the console.
 *
 * The API's values (docs/console.md, "Call-backs"): an attempt's `result`, a call-back's
 * `state`, `source` and `last_result`, and when the next attempt is due. Pure functions,
 * no DOM.
 */

import { str, toDate, words } from './dom.js';

/** An attempt's result as the agent who asked reads it. */
export const RESULT_TEXT = Object.freeze({
  answered: 'the customer answered',
  agent_noanswer: 'your phone was not answered',
  agent_busy: 'your phone was busy',
  agent_unavailable: 'your phone could not be reached',
  busy: 'the customer\u2019s line was busy',
  noanswer: 'the customer did not answer',
  unavailable: 'the customer\u2019s number could not be reached',
  cancelled: 'the call was hung up before the customer answered',
  refused: 'the phone system refused the call',
  failed: 'the phone system said nothing more about the call',
  called_again: 'the customer called again and got through',
});

/** The same for a list seen by anyone (the agent is not "you"). */
export const RESULT_SHORT = Object.freeze({
  answered: 'Answered',
  agent_noanswer: 'Agent did not answer',
  agent_busy: 'Agent busy',
  agent_unavailable: 'Agent\u2019s phone unreachable',
  busy: 'Line busy',
  noanswer: 'No answer',
  unavailable: 'Number unreachable',
  cancelled: 'Hung up early',
  refused: 'Refused',
  failed: 'Lost',
  called_again: 'Called again',
});

export const STATE_TEXT = Object.freeze({
  owed: 'Owed',
  dialing: 'Being dialled',
  done: 'Done',
  given_up: 'Given up',
});

export const SOURCE_TEXT = Object.freeze({
  virtual_hold: 'Kept their place',
  abandoned: 'Hung up waiting',
});

/** A result for a sentence ("the customer answered"), or the server's own words. */
export function resultSentence(result, serverText) {
  const r = str(result);
  return str(serverText) || RESULT_TEXT[r] || (r ? words(r).toLowerCase() : '');
}

/** A result for a table cell ("Line busy"); '—' when there is none. */
export function resultLabel(result) {
  const r = str(result);
  return r ? RESULT_SHORT[r] || words(r) : '—';
}

/** A result good for the caller (green), the agent's side (amber) or the customer's (red). */
export function resultTone(result) {
  const r = str(result);
  if (r === 'answered' || r === 'called_again') return 'good';
  if (r.startsWith('agent_') || r === 'refused' || r === 'cancelled') return 'warn';
  return r ? 'bad' : '';
}

export const capitalise = (text) => {
  const s = str(text);
  return s.charAt(0).toUpperCase() + s.slice(1);
};

const hhmm = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayHhmm = new Intl.DateTimeFormat(undefined, {
  day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

/** "14:05" today, "3 Mar, 14:05" another day (24-hour clock, as the call centre reads it). */
export function clock(value) {
  const d = toDate(value);
  if (!d) return '';
  return d.toDateString() === new Date().toDateString() ? hhmm.format(d) : dayHhmm.format(d);
}

/** When a call-back may be tried again: "retry at 14:05" while that is ahead, else ''. */
export function retryText(nextAttemptAt, now = Date.now()) {
  const d = toDate(nextAttemptAt);
  if (!d || d.getTime() <= now) return '';
  return `retry at ${clock(d)}`;
}


/** How long ago, in words: "just now", "12 min ago", "2 h 5 min ago", "3 days ago". */
export function agoText(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '';
  const s = Math.max(0, Math.floor((now - d.getTime()) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  const days = Math.floor(s / 86400);
  return days === 1 ? 'a day ago' : `${days} days ago`;
}
