/* Callfold console: the Call-backs tab (supervisors) and the Call-back rules tab
 * (supervisors read; admins check, save and roll back).
 *
 * Loaded by app.js (renderPlaceholder) the first time either tab opens, as an ES module;
 * the kit is the one dialplan.js gets (docs/console.md, "Dialplan and Reports"):
 *   renderCallbacks(container, kit)      the list, filtered by state, source and queue,
 *                                         and one call-back's attempts
 *   renderCallbackRules(container, kit)  the rule document, its versions, the editor
 *                                         (read, checked, saved and rolled back as the
 *                                         routing rules are: ruledoc.js)
 * Each is called once per sign-in with its empty panel. Same rules as app.js: server data
 * only as text (never innerHTML), no inline styles or scripts.
 *
 * The API: GET /api/callbacks?state=&source=&queue=&limit=&after=, GET /api/callbacks/{id},
 * POST /api/callbacks/{id}/close; GET /api/callbacks/rules, .../rules/versions,
 * .../rules/versions/{n}, POST .../rules/check, PUT /api/callbacks/rules,
 * POST .../rules/rollback (docs/console.md, "Call-backs").
 */

import { arr, confirmThen, duration, num, obj, str } from '../shared/dom.js';
import {
  clock, resultLabel, resultTone, retryText, SOURCE_TEXT, STATE_TEXT,
} from '../shared/callbacks.js';
import { ruleDocument, versionsTable, versionViewer } from './ruledoc.js';

const PAGE = 100;
const REFRESH_MS = 30000;
const STATES = [
  ['open', 'Open (owed or being dialled)'],
  ['owed', 'Owed'],
  ['dialing', 'Being dialled'],
  ['done', 'Done'],
  ['given_up', 'Given up'],
];
const SOURCES = [['', 'Any'], ['abandoned', 'Hung up waiting'], ['virtual_hold', 'Kept their place']];
const KINDS = { click_to_call: 'Click-to-call', callback: 'Call-back' };
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** The page's own way to say "—". */
const NONE = '\u2014';

// ==================================================================== Call-backs

export function renderCallbacks(container, kit) {
  const { h, api, toast, query, showProblems, hideProblems } = kit;
  const { when, shortWhen } = kit.format;
  const C = { filters: { state: 'open', source: '', queue: '' }, items: [], next: null, seq: 0, selected: null, detailSeq: 0 };

  // ---------------------------------------------------------------- the page

  const meta = h('span', { class: 'section-meta', 'data-testid': 'callbacks-meta' });
  const refresh = h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'callbacks-refresh', text: 'Refresh',
    on: { click: () => load(false) },
  });
  const stateSelect = h('select', { class: 'select', id: 'callbacks-state', 'data-testid': 'callbacks-filter-state' },
    STATES.map(([value, label]) => h('option', { value, text: label })));
  const sourceSelect = h('select', { class: 'select', id: 'callbacks-source', 'data-testid': 'callbacks-filter-source' },
    SOURCES.map(([value, label]) => h('option', { value, text: label })));
  const queueInput = h('input', {
    id: 'callbacks-queue', 'data-testid': 'callbacks-filter-queue', maxLength: 64, autocomplete: 'off',
    spellcheck: 'false', placeholder: 'any',
  });
  const filter = h('form', { class: 'box filters', 'data-testid': 'callbacks-filter', novalidate: true, on: { submit: onFilter } },
    h('label', { class: 'field field-inline', for: 'callbacks-state' }, h('span', { class: 'field-label', text: 'State' }), stateSelect),
    h('label', { class: 'field field-inline', for: 'callbacks-source' }, h('span', { class: 'field-label', text: 'Why' }), sourceSelect),
    h('label', { class: 'field field-inline', for: 'callbacks-queue' }, h('span', { class: 'field-label', text: 'Queue' }), queueInput),
    h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'callbacks-apply', text: 'Show' }));
  const error = h('div', { class: 'problems', 'data-testid': 'callbacks-error', role: 'alert', hidden: true });
  const body = h('tbody', { 'data-testid': 'callbacks-body' });
  const empty = h('p', { class: 'empty-line', 'data-testid': 'callbacks-empty', hidden: true, text: 'No call-back matches.' });
  const more = h('button', {
    type: 'button', class: 'btn', 'data-testid': 'callbacks-more', hidden: true, text: 'More',
    on: { click: () => load(true) },
  });
  const col = (text, cls) => h('th', { scope: 'col', class: cls || null, text });
  const table = h('div', { class: 'table-wrap' },
    h('table', { class: 'data-table', 'data-testid': 'callbacks-table' },
      h('caption', { class: 'visually-hidden', text: 'Call-backs, who waited first at the top' }),
      h('thead', null, h('tr', null,
        col('Customer'), col('Queue'), col('State'), col('In line since'), col('Waited', 'num'),
        col('Attempts', 'num'), col('Next attempt'), col('Last result'), col('Taken by'), col('Closed'),
        col('Actions'))),
      body),
    empty);

  // One call-back and its attempts.
  const detailTitle = h('h3', { class: 'box-title', 'data-testid': 'callback-detail-title' });
  const detailFigures = h('dl', { class: 'figures figures-small' });
  const historyBody = h('tbody', { 'data-testid': 'callback-history-body' });
  const historyEmpty = h('p', { class: 'empty-line', 'data-testid': 'callback-history-empty', hidden: true, text: 'No attempt yet.' });
  const note = h('input', { id: 'callback-close-note', 'data-testid': 'callback-close-note', maxLength: 2000, autocomplete: 'off' });
  const closeProblems = h('div', { class: 'problems', 'data-testid': 'callback-close-problems', role: 'alert', hidden: true });
  const closeForm = h('form', { class: 'callback-close', 'data-testid': 'callback-close-form', novalidate: true, hidden: true, on: { submit: onClose } },
    h('h3', { class: 'box-title', text: 'Close it' }),
    h('label', { class: 'field', for: 'callback-close-note' },
      h('span', { class: 'field-label', text: 'Note (needed to give up)' }), note),
    closeProblems,
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', value: 'done', class: 'btn btn-primary', 'data-testid': 'callback-close-done', text: 'Done: dealt with' }),
      h('button', { type: 'submit', value: 'given_up', class: 'btn btn-danger', 'data-testid': 'callback-close-give-up', text: 'Give up' })));
  const detail = h('section', { class: 'box callback-detail', 'data-testid': 'callback-detail', hidden: true, 'aria-labelledby': 'callback-detail-heading' },
    h('div', { class: 'callback-detail-head' },
      h('span', { id: 'callback-detail-heading', class: 'visually-hidden', text: 'Call-back' }),
      detailTitle,
      h('button', {
        type: 'button', class: 'btn btn-small btn-quiet', 'data-testid': 'callback-detail-close', text: 'Hide',
        'aria-label': 'Close the call-back\u2019s details',
        on: { click: () => { C.selected = null; detail.hidden = true; } },
      })),
    detailFigures,
    h('h3', { class: 'box-title', text: 'Attempts, newest first' }),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'data-table', 'data-testid': 'callback-history' },
        h('caption', { class: 'visually-hidden', text: 'Attempts to call the customer back, newest first' }),
        h('thead', null, h('tr', null,
          col('Started'), col('Kind'), col('Agent'), col('Asked by'), col('Result'), col('Ended'), col('Detail'))),
        historyBody),
      historyEmpty),
    closeForm);

  container.replaceChildren(
    h('div', { class: 'section-head' },
      h('h2', { class: 'section-title', text: 'Call-backs' }),
      meta,
      h('span', { class: 'section-actions' }, refresh)),
    h('p', { class: 'section-intro', text: 'Callers who hung up waiting, and callers who kept their place in line and are called back when an agent is free. Agents take and dial them from the desktop.' }),
    filter, error, table,
    h('p', { class: 'form-actions' }, more),
    detail);

  // ---------------------------------------------------------------- the list

  function onFilter(event) {
    event.preventDefault();
    C.filters = { state: stateSelect.value, source: sourceSelect.value, queue: queueInput.value.trim() };
    load(false);
  }

  async function load(further) {
    if (further && C.next === null) return;
    const seq = ++C.seq;
    const params = { ...C.filters, limit: PAGE, after: further ? C.next : null };
    const res = await api('GET', `/api/callbacks${query(params)}`);
    if (seq !== C.seq || res.unauthorized || !table.isConnected) return;
    if (!res.ok) {
      showProblems(error, res.error);
      return;
    }
    hideProblems(error);
    const items = arr(res.data && res.data.callbacks).filter(obj);
    C.items = further ? C.items.concat(items) : items;
    const next = res.data && res.data.next_after;
    C.next = next === null || next === undefined ? null : next;
    render();
  }

  function render() {
    body.replaceChildren(...C.items.map(row));
    empty.hidden = C.items.length > 0;
    more.hidden = C.next === null;
    const label = STATES.find(([value]) => value === C.filters.state);
    meta.textContent = `${C.items.length}${C.next !== null ? '+' : ''} ${label ? label[1].toLowerCase() : ''} · updated ${shortWhen(new Date())}`;
  }

  function row(cb) {
    const id = str(cb.id);
    const state = str(cb.state);
    const name = str(cb.contact_name);
    const who = name || str(cb.number);
    const closed = [str(cb.closed_by), str(cb.note)].filter(Boolean);
    const retry = state === 'owed' ? retryText(cb.next_attempt_at) : '';
    return h('tr', { 'data-testid': 'callback-row', 'data-callback-id': id, 'data-state': state },
      h('th', { scope: 'row' },
        h('span', { 'data-testid': 'callback-name', text: who }),
        name ? h('span', { class: 'cell-sub mono', text: str(cb.number) }) : null,
        h('span', { class: 'cell-sub', 'data-testid': 'callback-source', text: SOURCE_TEXT[str(cb.source)] || str(cb.source) })),
      h('td', { 'data-testid': 'callback-queue', text: str(cb.queue) }),
      h('td', null, h('span', { class: `chip chip-state-${state.replace(/[^a-z_]/g, '')}`, 'data-testid': 'callback-state', text: STATE_TEXT[state] || state })),
      h('td', { title: when(cb.place_at), text: cb.place_at ? clock(cb.place_at) : NONE }),
      h('td', { class: 'num', text: num(cb.wait_seconds) !== null ? duration(cb.wait_seconds) : NONE }),
      h('td', { class: 'num', 'data-testid': 'callback-attempts', text: str(cb.attempts ?? 0) }),
      h('td', { 'data-testid': 'callback-next', text: retry || (state === 'owed' ? 'any time' : NONE) }),
      h('td', { 'data-testid': 'callback-last-result', 'data-grade': gradeOf(cb.last_result), text: resultLabel(cb.last_result) }),
      h('td', { 'data-testid': 'callback-taken-by', text: str(cb.taken_by) || NONE }),
      h('td', { 'data-testid': 'callback-closed', text: closed.length ? closed.join(': ') : NONE }),
      h('td', { class: 'actions' },
        h('button', {
          type: 'button', class: 'btn btn-small', 'data-testid': 'callback-show', text: 'History',
          'aria-label': `Show the attempts to call ${who} back`,
          on: { click: () => showDetail(id) },
        })));
  }

  // ---------------------------------------------------------------- one call-back

  async function showDetail(id) {
    C.selected = id;
    const seq = ++C.detailSeq;
    const res = await api('GET', `/api/callbacks/${encodeURIComponent(id)}`);
    if (seq !== C.detailSeq || res.unauthorized || !table.isConnected) return;
    if (!res.ok) {
      toast(res.error.message);
      return;
    }
    const cb = obj(res.data) || {};
    const wasHidden = detail.hidden;
    const who = str(cb.contact_name) || str(cb.number);
    detailTitle.textContent = `Call-back ${str(cb.id)} to ${who}`;
    const fact = (label, value) => h('div', { class: 'figure' }, h('dt', { text: label }), h('dd', { text: value }));
    detailFigures.replaceChildren(...[
      fact('Number', str(cb.number)),
      fact('Queue', str(cb.queue)),
      fact('Why', SOURCE_TEXT[str(cb.source)] || str(cb.source)),
      fact('State', STATE_TEXT[str(cb.state)] || str(cb.state)),
      fact('In line since', cb.place_at ? when(cb.place_at) : NONE),
      fact('Waited', num(cb.wait_seconds) !== null ? duration(cb.wait_seconds) : NONE),
      fact('Failed attempts', str(cb.attempts ?? 0)),
      fact('Taken by', str(cb.taken_by) || NONE),
      cb.closed_by ? fact('Closed by', str(cb.closed_by)) : null,
      cb.note ? fact('Note', str(cb.note)) : null,
    ].filter(Boolean));
    const history = arr(cb.history).filter(obj);
    historyBody.replaceChildren(...history.map((a) => h('tr', { 'data-testid': 'callback-attempt', 'data-result': str(a.result) },
      h('td', { title: when(a.started_at), text: shortWhen(a.started_at) }),
      h('td', { text: KINDS[str(a.kind)] || str(a.kind) }),
      h('td', { class: 'mono', text: str(a.agent) || NONE }),
      h('td', { text: str(a.requested_by) || NONE }),
      h('td', { 'data-testid': 'callback-attempt-result', 'data-grade': gradeOf(a.result), text: a.result ? resultLabel(a.result) : 'under way' }),
      h('td', { title: a.ended_at ? when(a.ended_at) : '', text: a.ended_at ? shortWhen(a.ended_at) : NONE }),
      h('td', { text: str(a.detail) || NONE }))));
    historyEmpty.hidden = history.length > 0;
    closeForm.hidden = str(cb.state) !== 'owed';
    if (wasHidden) {
      note.value = '';
      hideProblems(closeProblems);
    }
    detail.hidden = false;
    if (wasHidden) detail.scrollIntoView({ block: 'nearest' });
  }

  async function onClose(event) {
    event.preventDefault();
    const id = C.selected;
    if (!id) return;
    const state = event.submitter && event.submitter.value === 'given_up' ? 'given_up' : 'done';
    const text = note.value.trim();
    if (state === 'given_up' && !text) {
      showProblems(closeProblems, { message: 'Say in the note why it is given up.' });
      note.focus();
      return;
    }
    hideProblems(closeProblems);
    const res = await api('POST', `/api/callbacks/${encodeURIComponent(id)}/close`, { state, note: text });
    if (res.unauthorized) return;
    if (!res.ok) {
      showProblems(closeProblems, res.error);
      return;
    }
    note.value = '';
    toast(state === 'done' ? `Call-back ${id} closed as done.` : `Call-back ${id} given up.`, 'info');
    await Promise.all([load(false), showDetail(id)]);
  }

  // ---------------------------------------------------------------- upkeep

  const timer = setInterval(() => {
    if (!table.isConnected) { // signed out: the panel was emptied
      clearInterval(timer);
      return;
    }
    if (container.hidden) return;
    load(false);
    if (C.selected && !detail.hidden) showDetail(C.selected);
  }, REFRESH_MS);

  return load(false);
}

function gradeOf(result) {
  const tone = resultTone(result);
  return tone === 'good' ? 'good' : tone === 'bad' ? 'bad' : null;
}

// ==================================================================== Call-back rules

export function renderCallbackRules(container, kit) {
  const { h, hideProblems } = kit;
  const admin = kit.can('admin');
  const R = { doc: null, loadedText: '' };

  const meta = h('span', { class: 'section-meta', 'data-testid': 'cbrules-meta' });
  const reload = h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'cbrules-reload', text: 'Reload',
    on: { click: () => doc.load() },
  });
  const readonly = h('p', {
    class: 'section-intro', 'data-testid': 'cbrules-readonly', hidden: admin,
    text: 'You can read the call-back rules; only admins change them.',
  });
  const error = h('div', { class: 'problems', 'data-testid': 'cbrules-error', role: 'alert', hidden: true });
  const summary = h('dl', { class: 'figures figures-small', 'data-testid': 'cbrules-summary' });
  const documentPre = h('pre', { class: 'json', 'data-testid': 'cbrules-document' });

  // The editor (admins only): the whole document as JSON.
  const text = h('textarea', {
    class: 'textarea mono', id: 'cbrules-json', 'data-testid': 'cbrules-editor', rows: '18',
    spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off',
    on: { input: () => { dirty.hidden = text.value === R.loadedText; } },
  });
  const comment = h('input', { id: 'cbrules-comment', 'data-testid': 'cbrules-comment', maxLength: 255, autocomplete: 'off' });
  const problems = h('div', { class: 'problems', 'data-testid': 'cbrules-problems', role: 'alert', hidden: true });
  const status = h('p', { class: 'ok-line', 'data-testid': 'cbrules-status', role: 'status', hidden: true });
  const dirty = h('span', { class: 'section-meta', 'data-testid': 'cbrules-dirty', hidden: true, text: 'Unsaved changes' });
  const editor = admin ? h('form', { class: 'box editor', 'data-testid': 'cbrules-form', novalidate: true, on: { submit: save } },
    h('h3', { class: 'box-title', text: 'Edit the rules' }),
    h('label', { class: 'field', for: 'cbrules-json' },
      h('span', { class: 'field-label' }, 'The rules (JSON) ', dirty), text),
    h('label', { class: 'field', for: 'cbrules-comment' },
      h('span', { class: 'field-label', text: 'Why (for the history)' }), comment),
    problems,
    status,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', 'data-testid': 'cbrules-check', text: 'Check', on: { click: check } }),
      h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'cbrules-save', text: 'Save' }),
      h('button', {
        type: 'button', class: 'btn btn-quiet', 'data-testid': 'cbrules-revert', text: 'Discard changes',
        on: { click: (e) => confirmThen(e.currentTarget, 'Really discard?', () => fillEditor(true)) },
      }))) : null;

  const versionsBody = h('tbody', { 'data-testid': 'cbrules-versions-body' });
  const versionsEmpty = h('p', {
    class: 'empty-line', 'data-testid': 'cbrules-versions-empty', hidden: true,
    text: 'No saved version yet: the shipped rules are in force.',
  });
  const viewer = versionViewer(h, 'cbrules-');

  container.replaceChildren(
    h('div', { class: 'section-head' },
      h('h2', { class: 'section-title', text: 'Call-back rules' }),
      meta,
      h('span', { class: 'section-actions' }, reload)),
    h('p', { class: 'section-intro', text: 'When callers waiting in a queue are offered a call-back, and how call-backs are dialled and retried.' }),
    readonly,
    error,
    h('div', { class: 'box' }, h('h3', { class: 'box-title', text: 'In force' }), summary),
    ...(editor ? [editor] : []),
    h('details', { class: 'box' },
      h('summary', { text: 'The whole document (JSON)' }),
      documentPre),
    h('div', { class: 'section-head' }, h('h2', { class: 'section-title', text: 'Versions' })),
    versionsTable(h, {
      caption: 'Saved versions of the call-back rules, newest first',
      testid: 'cbrules-versions', body: versionsBody, empty: versionsEmpty,
    }),
    viewer.box);

  const doc = ruleDocument(kit, {
    base: '/api/callbacks/rules',
    prefix: 'cbrules-',
    error,
    versions: { body: versionsBody, empty: versionsEmpty },
    viewer,
    editor: { text, problems, status },
    alive: () => summary.isConnected,
    onDoc: (current) => {
      R.doc = current;
      renderCurrent();
    },
  });

  // ---------------------------------------------------------------- reading

  const bodyOf = () => (R.doc && obj(R.doc.body)) || {};

  function renderCurrent() {
    meta.textContent = doc.metaLine(R.doc);
    const body = bodyOf();
    const fact = (label, value, id) => h('div', { class: 'figure' },
      h('dt', { text: label }), h('dd', { 'data-testid': id ? `cbrules-${id}` : null, text: value }));
    summary.replaceChildren(
      fact('Offered after waiting', num(body.offer_after_wait) !== null ? `${str(body.offer_after_wait)} s` : NONE, 'offer'),
      fact('Hours', hoursText(body.hours, body.timezone), 'hours'),
      fact('Queues', arr(body.queues).length ? arr(body.queues).map(str).join(', ') : 'all', 'queues'),
      fact('Attempts a day per number', str(body.daily_attempts_per_number ?? NONE)),
      fact('Retry after', arr(body.retry_minutes).length ? `${arr(body.retry_minutes).map(str).join(', ')} min` : NONE),
      fact('Gives up after', body.max_attempts !== undefined ? `${str(body.max_attempts)} failed attempts` : NONE),
      fact('Rings the agent', body.agent_ring_seconds !== undefined ? `${str(body.agent_ring_seconds)} s` : NONE),
      fact('Rings the customer', body.customer_ring_seconds !== undefined ? `${str(body.customer_ring_seconds)} s` : NONE),
      fact('The customer hears', str(body.announce) || NONE));
    documentPre.textContent = JSON.stringify(body, null, 2);
    if (editor) fillEditor(false);
  }

  /** Put the rules in force in the editor, unless it holds unsaved changes (or ``force``). */
  function fillEditor(force) {
    const fresh = JSON.stringify(bodyOf(), null, 2);
    const untouched = text.value === R.loadedText;
    R.loadedText = fresh;
    if (force || untouched) {
      text.value = fresh;
      if (force) {
        hideProblems(problems);
        status.hidden = true;
      }
    }
    dirty.hidden = text.value === R.loadedText;
  }

  function hoursText(hours, timezone) {
    const h_ = obj(hours);
    if (!h_) return NONE;
    const days = arr(h_.days).map(str);
    let dayText = days.join(', ');
    if (days.length === 7) dayText = 'every day';
    else if (days.join(',') === DAYS.slice(0, 5).join(',')) dayText = 'mon\u2013fri';
    return `${dayText} ${str(h_.from)}\u2013${str(h_.to)}${timezone ? ` (${str(timezone)})` : ''}`;
  }

  // ---------------------------------------------------------------- changing (admins)

  const SHAPE = 'The rules are one JSON object: {"offer_after_wait", "hours", "queues", …}.';

  async function check() {
    const rules = doc.edited(SHAPE);
    if (!rules) return;
    const d = await doc.check(rules);
    if (!d) return;
    const queues = Array.isArray(d.queues) ? `in ${d.queues.map(str).join(', ')}` : 'in every queue';
    doc.say(`No problem found: call-backs are offered after ${str(d.offer_after_wait)} s of waiting, ${queues}.`);
  }

  async function save(event) {
    event.preventDefault();
    const rules = doc.edited(SHAPE);
    if (!rules) return;
    const saved = await doc.save(rules, comment.value.trim());
    if (!saved) return;
    comment.value = '';
    await doc.load();
    fillEditor(true);
    doc.say(`Saved as version ${str(saved.version)}; in force now.`);
  }

  return doc.load();
}
