/* Callfold console: the Dialplan tab (admins edit; anyone else who reaches it reads).
 *
 * Loaded by app.js (renderPlaceholder) the first time the tab opens, as an ES module.
 * Contract (docs/console.md, "Dialplan and Reports"):
 *   renderDialplan(container, kit)
 *     container  the tab's panel, <section data-testid="dialplan-panel">, empty; yours.
 *     kit        { api(method, path, body) -> {ok, status, data, error{code, message, problems}},
 *                  h(tag, props, ...children), toast(message, kind), query(params),
 *                  showProblems(el, error), hideProblems(el), can(role), user(),
 *                  format: {duration, percent, when, shortWhen, compact} }
 * Called once per sign-in. Same rules as app.js: no innerHTML with server data, no
 * inline styles or scripts (the page's Content-Security-Policy refuses them).
 *
 * The API: docs/dialplan.md (GET /api/dialplan/contexts, .../contexts/{c}, .../versions,
 * .../versions/{n}, .../diff, POST .../check, PUT .../contexts/{c}, POST .../rollback).
 * Problems come as objects ({id, message, line, file?}); kit.api flattens them to strings,
 * so this module reads them from the response body (res.data.error.problems) itself.
 * The versions table's markup is ruledoc.js's, shared with the rule documents' tabs.
 */

import { arr, confirmThen, num, obj, str } from '../shared/dom.js';
import { showButton, versionRow, versionsTable } from './ruledoc.js';

const MAX_TEXT = 256 * 1024; // the API's limit on a context's text

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const path = (name, tail = '') => `/api/dialplan/contexts/${encodeURIComponent(name)}${tail}`;

/** The API's error with its problems as objects: {id, status, message, problems[]}. */
function errorOf(res) {
  const body = obj(res.data) && obj(res.data.error) ? res.data.error : {};
  const problems = arr(body.problems).map((p) => (typeof p === 'string' ? { message: p } : obj(p)))
    .filter(Boolean);
  return {
    id: str(body.id) || str(res.error && res.error.code),
    status: res.status,
    message: str(body.message) || str(res.error && res.error.message) || 'Something went wrong.',
    problems,
  };
}

/** Where a line starts and ends in a text (1-based line; clamped). */
function lineRange(text, line) {
  const lines = text.split('\n');
  const at = Math.min(Math.max(1, line), lines.length);
  let start = 0;
  for (let i = 0; i < at - 1; i += 1) start += lines[i].length + 1;
  return { start, end: start + lines[at - 1].length, line: at };
}

/** A unified diff line's kind: file header, hunk header, added, removed or context. */
function diffKind(line) {
  if (line.startsWith('+++ ') || line.startsWith('--- ')) return 'file';
  if (line.startsWith('@@')) return 'hunk';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  return 'same';
}

export function renderDialplan(container, kit) {
  const { h, api, toast } = kit;
  const { when, shortWhen } = kit.format;
  const admin = kit.can('admin');

  /** The tab's state: the contexts listed, the one open in the editor and its versions. */
  const D = {
    contexts: [],
    name: null, // the context open in the editor
    loaded: null, // GET .../contexts/{name}: {text, version, author, comment, saved_at, file, drift}
    versions: [],
    busy: false,
    lines: 0,
    bad: new Set(), // lines the last check or save complained about
    newer: null, // a version in force newer than the loaded one: {version, author, saved_at}
  };

  // ---------------------------------------------------------------- the page

  const meta = h('span', { class: 'section-meta', 'data-testid': 'dialplan-meta' });
  const refresh = h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'dialplan-refresh', text: 'Refresh',
    on: { click: () => refreshAll() },
  });
  const listError = h('div', { class: 'problems', 'data-testid': 'dialplan-list-error', role: 'alert', hidden: true });
  const contextBody = h('tbody', { 'data-testid': 'dialplan-context-body' });
  const contextsEmpty = h('p', {
    class: 'empty-line', 'data-testid': 'dialplan-contexts-empty', hidden: true,
    text: 'No context to edit: the dialplan folder holds none.',
  });

  // The editor (admins only).
  const title = h('h3', { class: 'dp-editor-title', 'data-testid': 'dialplan-editor-title' });
  const versionEl = h('span', { class: 'dp-version', 'data-testid': 'dialplan-version' });
  const editorMeta = h('span', { class: 'section-meta', 'data-testid': 'dialplan-editor-meta' });
  const driftChip = h('span', {
    class: 'chip chip-warn', 'data-testid': 'dialplan-editor-drift', hidden: true, text: 'file edited by hand',
    title: 'The file no longer holds the saved text; the next save replaces this context in it.',
  });
  const dirtyEl = h('span', { class: 'dp-dirty', 'data-testid': 'dialplan-dirty', hidden: true, text: 'Unsaved changes' });

  const conflictText = h('p', { class: 'dp-notice-text', 'data-testid': 'dialplan-conflict-text' });
  const conflict = h('div', { class: 'dp-notice', 'data-testid': 'dialplan-conflict', role: 'alert', hidden: true },
    conflictText,
    h('button', {
      type: 'button', class: 'btn btn-small', 'data-testid': 'dialplan-conflict-reload', text: 'Reload',
      title: 'Load the version in force; your text is kept in a copy below',
      on: { click: () => reloadKeepingDraft() },
    }));

  const draftText = h('textarea', {
    class: 'textarea mono dp-draft-text', 'data-testid': 'dialplan-draft-text', readonly: true,
    wrap: 'off', spellcheck: 'false', rows: 8, 'aria-label': 'Your text from before the reload (not saved)',
  });
  const draft = h('div', { class: 'dp-draft', 'data-testid': 'dialplan-draft', hidden: true },
    h('p', { class: 'dp-draft-title', text: 'Your text from before the reload (not saved). Apply your change again above, or put it back as it was.' }),
    draftText,
    h('div', { class: 'form-actions' },
      h('button', {
        type: 'button', class: 'btn btn-small', 'data-testid': 'dialplan-draft-use', text: 'Put my text back in the editor',
        on: { click: useDraft },
      }),
      h('button', {
        type: 'button', class: 'btn btn-small btn-quiet', 'data-testid': 'dialplan-draft-discard', text: 'Discard the copy',
        on: { click: (e) => confirmThen(e.currentTarget, 'Really discard?', () => setDraft(null)) },
      })));

  const gutterInner = h('div', { class: 'dp-gutter-inner', 'data-testid': 'dialplan-gutter' });
  const textarea = h('textarea', {
    class: 'dp-text', 'data-testid': 'dialplan-text', wrap: 'off', spellcheck: 'false',
    autocomplete: 'off', autocapitalize: 'off', 'aria-label': 'Text of the context',
    'aria-describedby': 'dialplan-position',
    on: {
      input: onInput,
      scroll: syncGutter,
      keyup: showPosition,
      click: showPosition,
      select: showPosition,
      focus: showPosition,
      keydown: onKey,
    },
  });
  const position = h('span', { id: 'dialplan-position', 'data-testid': 'dialplan-position', 'aria-live': 'off' });
  const lineCount = h('span', { 'data-testid': 'dialplan-line-count' });
  const comment = h('input', {
    'data-testid': 'dialplan-comment', maxLength: 255, autocomplete: 'off', placeholder: 'why it changes',
  });
  const checkButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'dialplan-check', text: 'Check', on: { click: check } });
  const saveButton = h('button', {
    type: 'submit', class: 'btn btn-primary', 'data-testid': 'dialplan-save', text: 'Save',
    title: 'Check, save as a new version, push to Asterisk and confirm (Ctrl+S)',
  });
  const revertButton = h('button', {
    type: 'button', class: 'btn btn-quiet', 'data-testid': 'dialplan-revert', text: 'Discard changes',
    on: { click: (e) => confirmThen(e.currentTarget, 'Really discard?', revert) },
  });
  const status = h('p', { class: 'ok-line', 'data-testid': 'dialplan-status', role: 'status', hidden: true });
  const problemsMessage = h('p', { class: 'dp-problems-message', 'data-testid': 'dialplan-problems-message' });
  const problemsList = h('ul', { class: 'dp-problem-list', 'data-testid': 'dialplan-problem-list' });
  const problemsNote = h('p', { class: 'dp-problems-note', 'data-testid': 'dialplan-problems-note', hidden: true });
  const problems = h('div', { class: 'problems dp-problems', 'data-testid': 'dialplan-problems', role: 'alert', hidden: true },
    problemsMessage, problemsList, problemsNote);

  const editor = h('form', { class: 'box dp-editor', 'data-testid': 'dialplan-editor', novalidate: true, on: { submit: onSave } },
    h('div', { class: 'dp-editor-head' }, title, versionEl, editorMeta, driftChip, dirtyEl),
    conflict,
    draft,
    h('div', { class: 'dp-code' }, h('div', { class: 'dp-gutter', 'aria-hidden': 'true' }, gutterInner), textarea),
    h('div', { class: 'dp-statusbar' }, position, lineCount),
    h('label', { class: 'field' }, h('span', { class: 'field-label', text: 'Comment (kept in the history)' }), comment),
    problems,
    status,
    h('div', { class: 'form-actions' }, checkButton, saveButton, revertButton));

  // The versions of the open context.
  const versionsBody = h('tbody', { 'data-testid': 'dialplan-versions-body' });
  const versionsEmpty = h('p', { class: 'empty-line', 'data-testid': 'dialplan-versions-empty', hidden: true });
  const viewerTitle = h('h4', { class: 'dp-viewer-title', 'data-testid': 'dialplan-viewer-title' });
  const viewerBody = h('div', { class: 'dp-diff-body' });
  const viewerPre = h('pre', { class: 'dp-diff', 'data-testid': 'dialplan-diff' }, viewerBody);
  const viewer = h('div', { class: 'dp-viewer', 'data-testid': 'dialplan-viewer', hidden: true },
    h('div', { class: 'dp-viewer-head' }, viewerTitle,
      h('button', {
        type: 'button', class: 'btn btn-small btn-quiet', 'data-testid': 'dialplan-viewer-close', text: 'Close',
        on: { click: () => { viewer.hidden = true; } },
      })),
    viewerPre);
  const versionsBox = h('section', { class: 'box dp-versions', 'data-testid': 'dialplan-versions' },
    h('h3', { class: 'box-title', text: 'Versions' }),
    versionsTable(h, {
      caption: 'Saved versions of the context, newest first',
      wrapClass: 'table-wrap dp-versions-table', body: versionsBody, empty: versionsEmpty,
    }),
    viewer);

  const workspace = h('div', { class: 'dp-workspace', 'data-testid': 'dialplan-workspace', hidden: true }, editor, versionsBox);

  container.replaceChildren(
    h('div', { class: 'section-head' },
      h('h2', { class: 'section-title', text: 'Dialplan' }), meta,
      h('div', { class: 'section-actions' }, refresh)),
    h('p', {
      class: 'section-intro',
      'data-testid': 'dialplan-intro',
      text: admin
        ? 'The contexts of the dialplan folder. Every save is checked, kept as a version, pushed to Asterisk and confirmed; if Asterisk does not take all of it, the previous version stays in force.'
        : 'Read only: the contexts and the versions in force. Only admins edit the dialplan.',
    }),
    listError,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'data-table', 'data-testid': 'dialplan-contexts' },
        h('caption', { class: 'visually-hidden', text: 'Editable dialplan contexts and the version in force' }),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col', text: 'Context' }),
          h('th', { scope: 'col', text: 'File' }),
          h('th', { scope: 'col', class: 'num', text: 'Version' }),
          h('th', { scope: 'col', text: 'Saved' }),
          h('th', { scope: 'col', text: 'Comment' }))),
        contextBody),
      contextsEmpty),
    admin ? workspace : null);

  window.addEventListener('beforeunload', (event) => {
    if (container.contains(textarea) && dirty()) {
      event.preventDefault();
      event.returnValue = '';
    }
  });

  // ---------------------------------------------------------------- small helpers

  const dirty = () => D.loaded !== null && textarea.value !== str(D.loaded.text);

  function setBusy(busy, label) {
    D.busy = busy;
    for (const button of [checkButton, saveButton, revertButton, refresh]) button.disabled = busy;
    for (const button of versionsBody.querySelectorAll('button')) button.disabled = busy;
    saveButton.textContent = busy && label ? label : 'Save';
    editor.setAttribute('aria-busy', String(busy));
  }

  function savedLine(c) {
    if (!(Number(c.version) > 0)) return 'as shipped';
    return [str(c.author), c.saved_at ? shortWhen(c.saved_at) : ''].filter(Boolean).join(' · ');
  }

  // ---------------------------------------------------------------- contexts

  async function loadContexts() {
    const res = await api('GET', '/api/dialplan/contexts');
    if (res.unauthorized) return false;
    if (!res.ok) {
      kit.showProblems(listError, { message: errorOf(res).message });
      return false;
    }
    kit.hideProblems(listError);
    D.contexts = arr(res.data).filter(obj);
    renderContexts();
    const open = D.name !== null ? D.contexts.find((c) => str(c.context) === D.name) : null;
    if (open && D.loaded && Number(open.version) > Number(D.loaded.version) && conflict.hidden) {
      showNewer({ version: open.version, author: open.author, saved_at: open.saved_at }, false);
    }
    return true;
  }

  function renderContexts() {
    meta.textContent = plural(D.contexts.length, 'context');
    contextsEmpty.hidden = D.contexts.length > 0;
    contextBody.replaceChildren(...D.contexts.map((c) => {
      const name = str(c.context);
      const nameCell = admin
        ? h('button', {
          type: 'button', class: 'dp-name-button', 'data-testid': 'dialplan-context-open', text: name,
          'aria-label': `Open ${name}`,
          on: { click: (e) => openContext(name, e.currentTarget) },
        })
        : h('span', { class: 'mono', text: name });
      return h('tr', {
        'data-testid': 'dialplan-context-row',
        'data-context': name,
        'data-selected': name === D.name ? 'true' : null,
      },
      h('th', { scope: 'row' }, nameCell,
        c.drift ? h('span', {
          class: 'chip chip-warn dp-drift', 'data-testid': 'dialplan-drift', text: 'file edited by hand',
          title: 'The file no longer holds the saved text; the next save replaces this context in it.',
        }) : null),
      h('td', { class: 'mono', text: str(c.file) }),
      h('td', { class: 'num', 'data-testid': 'dialplan-context-version', text: str(c.version) }),
      h('td', { 'data-testid': 'dialplan-context-saved', title: c.saved_at ? when(c.saved_at) : null, text: savedLine(c) }),
      h('td', { 'data-testid': 'dialplan-context-comment', text: str(c.comment) }));
    }));
  }

  /** Open a context in the editor; unsaved changes to another one need a second click. */
  function openContext(name, button) {
    if (D.busy) return;
    if (D.name !== null && name !== D.name && dirty()) {
      confirmThen(button, 'Discard changes?', () => loadContext(name));
      return;
    }
    if (name === D.name && D.loaded) {
      textarea.focus();
      return;
    }
    loadContext(name);
  }

  // ---------------------------------------------------------------- one context

  /** Load a context into the editor (its text replaces the editor's) and its versions. */
  async function loadContext(name) {
    const res = await api('GET', path(name));
    if (res.unauthorized) return false;
    if (!res.ok) {
      toast(errorOf(res).message);
      return false;
    }
    const changed = name !== D.name;
    D.name = name;
    D.loaded = obj(res.data) || {};
    D.newer = null;
    textarea.value = str(D.loaded.text);
    textarea.setAttribute('aria-label', `Text of ${name}`);
    if (changed) {
      comment.value = '';
      setDraft(null);
      viewer.hidden = true;
    }
    conflict.hidden = true;
    clearFeedback();
    renderHeader();
    renderGutter(true);
    showPosition();
    workspace.hidden = false;
    for (const row of contextBody.children) {
      if (row.dataset.context === name) row.dataset.selected = 'true';
      else delete row.dataset.selected;
    }
    await loadVersions();
    return true;
  }

  function renderHeader() {
    const c = D.loaded || {};
    const version = Number(c.version) || 0;
    title.textContent = str(D.name);
    versionEl.textContent = `version ${version}`;
    versionEl.dataset.version = String(version);
    editorMeta.textContent = version > 0
      ? [`saved by ${str(c.author) || 'someone'}`, c.saved_at ? when(c.saved_at) : '', c.comment ? `“${str(c.comment)}”` : '']
        .filter(Boolean).join(' · ')
      : `as shipped in ${str(c.file)} (never saved here)`;
    driftChip.hidden = !c.drift;
    dirtyEl.hidden = !dirty();
  }

  function clearFeedback() {
    status.hidden = true;
    problems.hidden = true;
    problemsList.replaceChildren();
    problemsNote.hidden = true;
    delete problems.dataset.error;
    if (D.bad.size) {
      D.bad = new Set();
      renderGutter(true);
    }
  }

  // ---------------------------------------------------------------- the text area

  function onInput() {
    dirtyEl.hidden = !dirty();
    status.hidden = true;
    if (D.bad.size) D.bad = new Set(); // the lines have moved: the marks no longer hold
    renderGutter(false);
    showPosition();
  }

  function onKey(event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 's') {
      event.preventDefault();
      save();
    }
  }

  /** Line numbers beside the text (rebuilt when the count or the marked lines change). */
  function renderGutter(force) {
    const count = textarea.value.split('\n').length;
    lineCount.textContent = plural(count, 'line');
    if (!force && count === D.lines && !gutterInner.querySelector('.bad')) return;
    D.lines = count;
    const rows = [];
    for (let n = 1; n <= count; n += 1) {
      rows.push(h('div', { class: D.bad.has(n) ? 'dp-ln bad' : 'dp-ln', 'data-line': n, text: n }));
    }
    gutterInner.replaceChildren(...rows);
    syncGutter();
  }

  function syncGutter() {
    gutterInner.scrollTop = textarea.scrollTop;
  }

  function showPosition() {
    const text = textarea.value;
    const at = textarea.selectionStart || 0;
    const line = text.slice(0, at).split('\n').length;
    const column = at - (text.lastIndexOf('\n', at - 1) + 1) + 1;
    const selected = Math.abs((textarea.selectionEnd || 0) - at);
    position.textContent = `Line ${line}, column ${column}${selected ? ` (${selected} selected)` : ''}`;
    position.dataset.line = String(line);
    position.dataset.column = String(column);
  }

  /** Select a whole line of the text and scroll it into view. */
  function selectLine(line) {
    const range = lineRange(textarea.value, line);
    textarea.focus();
    textarea.setSelectionRange(range.start, range.end);
    const height = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, (range.line - 1) * height - textarea.clientHeight / 3);
    syncGutter();
    showPosition();
  }

  // ---------------------------------------------------------------- problems

  /** An API error in the problems box: its message, each problem with its line (a line of
   * the text is a button that selects it), and a note on what happened to the edit. */
  function showError(error, note) {
    status.hidden = true;
    problems.dataset.error = error.id;
    problemsMessage.textContent = error.message;
    D.bad = new Set();
    problemsList.replaceChildren(...error.problems.map((p) => {
      const line = num(p.line);
      const message = str(p.message) || str(p.id);
      if (line !== null && !p.file) {
        D.bad.add(line);
        return h('li', null, h('button', {
          type: 'button', class: 'dp-problem', 'data-testid': 'dialplan-problem', 'data-line': line,
          'data-id': str(p.id), title: `Select line ${line}`,
          on: { click: () => selectLine(line) },
        }, h('span', { class: 'dp-problem-line', text: `Line ${line}` }), h('span', { text: message })));
      }
      const where = p.file ? `${str(p.file)}${line !== null ? `, line ${line}` : ''}` : '';
      return h('li', {
        class: 'dp-problem dp-problem-elsewhere', 'data-testid': 'dialplan-problem', 'data-id': str(p.id),
        'data-file': p.file ? str(p.file) : null, 'data-line': line,
      }, where ? h('span', { class: 'dp-problem-line', text: where }) : null, h('span', { text: message }));
    }));
    problemsList.hidden = error.problems.length === 0;
    problemsNote.textContent = note || '';
    problemsNote.hidden = !note;
    problems.hidden = false;
    renderGutter(true);
  }

  /** A newer version in force than the one the editor started from. */
  function showNewer(newest, refused) {
    D.newer = newest;
    const who = str(newest.author) || 'Someone';
    const at = newest.saved_at ? ` at ${shortWhen(newest.saved_at)}` : '';
    conflictText.textContent = refused
      ? `${who} saved version ${str(newest.version)}${at} after you started: reload to see it. Nothing was saved; your text stays in the editor and Reload keeps a copy of it.`
      : `${who} saved version ${str(newest.version)}${at} after you opened this context: reload to see it before you save (Reload keeps a copy of your text).`;
    conflict.dataset.refused = String(Boolean(refused));
    conflict.hidden = false;
  }

  /** The answer to a save or a rollback that did not go through, said plainly. */
  function explain(res) {
    const error = errorOf(res);
    if (error.id === 'dialplan.conflict' || (res.status === 409 && error.problems.some((p) => num(p.version) !== null))) {
      const newer = error.problems.find((p) => num(p.version) !== null) || {};
      problems.hidden = true;
      showNewer({ version: newer.version, author: newer.author, saved_at: newer.saved_at }, true);
      return;
    }
    if (error.id === 'dialplan.not_loaded') {
      showError(error, 'Asterisk did not take all of it, so nothing changed: the previous version is back in force. Your text is still in the editor.');
    } else if (error.id === 'dialplan.restore_failed') {
      showError(error, 'Asterisk did not take the edit, and putting the previous version back did not show it in force either: check Asterisk now. Your text is still in the editor.');
    } else if (res.status === 503) {
      showError(error, 'Asterisk is not connected: nothing was saved. Your text is still in the editor; try again when Asterisk is back.');
    } else if (error.id === 'asterisk.command_refused') {
      showError(error, 'Asterisk refused the command: nothing is changed. Your text is still in the editor.');
    } else if (error.id === 'dialplan.invalid') {
      showError(error, error.problems.some((p) => num(p.line) !== null && !p.file)
        ? 'Click a problem to select its line.' : '');
    } else {
      showError(error, '');
    }
  }

  // ---------------------------------------------------------------- check, save, revert

  function tooLong() {
    if (new Blob([textarea.value]).size <= MAX_TEXT) return false;
    showError({ id: 'dialplan.too_long', message: `The text is longer than ${MAX_TEXT / 1024} KiB; nothing was sent.`, problems: [] }, '');
    return true;
  }

  async function check() {
    if (D.busy || !D.name || tooLong()) return;
    clearFeedback();
    setBusy(true);
    const res = await api('POST', path(D.name, '/check'), { text: textarea.value });
    setBusy(false);
    if (res.unauthorized) return;
    if (!res.ok) {
      explain(res);
      return;
    }
    const d = obj(res.data) || {};
    const extensions = arr(d.extensions).map(str);
    status.textContent = `No problem found: ${plural(Number(d.priorities) || 0, 'priority', 'priorities')} in ` +
      `${plural(extensions.length, 'extension')}${extensions.length ? ` (${extensions.join(', ')})` : ''}.`;
    status.hidden = false;
  }

  function onSave(event) {
    event.preventDefault();
    save();
  }

  async function save() {
    if (D.busy || !D.name || !D.loaded || tooLong()) return;
    clearFeedback();
    const name = D.name;
    const sent = textarea.value;
    const base = Number(D.loaded.version) || 0;
    setBusy(true, 'Saving…');
    const res = await api('PUT', path(name), { text: sent, base_version: base, comment: comment.value.trim() });
    setBusy(false);
    if (res.unauthorized) return;
    if (!res.ok) {
      explain(res);
      if (res.status !== 422 || errorOf(res).id !== 'dialplan.invalid') await quietRefresh();
      return;
    }
    const d = obj(res.data) || {};
    const version = Number(d.version);
    toast(d.pushed
      ? `${name} saved as version ${version}: pushed to Asterisk and confirmed (${str(d.loaded) || 'loaded'}).`
      : `${name} saved as version ${version}; Asterisk takes it at its next reload (not pushed).`, 'info');
    comment.value = '';
    conflict.hidden = true;
    D.loaded = { ...D.loaded, version, text: sent.replace(/\r\n?/g, '\n') };
    renderHeader();
    await afterChange(name, sent);
  }

  /** After a save or a rollback: the context as now in force (the editor's text kept when
   * typed in meanwhile), the list and the versions. */
  async function afterChange(name, sent) {
    const res = await api('GET', path(name));
    if (res.ok && D.name === name) {
      D.loaded = obj(res.data) || {};
      if (textarea.value === sent) textarea.value = str(D.loaded.text);
      renderHeader();
      renderGutter(true);
      showPosition();
    }
    await Promise.all([loadContexts(), loadVersions()]);
  }

  /** After a save Asterisk did not take (or a conflict): the version in force may have
   * moved (a first save keeps the shipped text as version 1 even when the edit is
   * withdrawn). The same text under a new number is taken quietly; another text is a
   * newer version to reload. The editor's text is never touched. */
  async function quietRefresh() {
    const name = D.name;
    const res = await api('GET', path(name));
    if (res.ok && name === D.name && D.loaded) {
      const now = obj(res.data) || {};
      if (Number(now.version) !== Number(D.loaded.version) && str(now.text) === str(D.loaded.text)) {
        D.loaded = now;
        renderHeader();
      }
    }
    await Promise.all([loadContexts(), loadVersions()]);
  }

  function revert() {
    if (!D.loaded) return;
    textarea.value = str(D.loaded.text);
    clearFeedback();
    onInput();
  }

  // ---------------------------------------------------------------- reload and the copy

  /** Load the version in force; what was typed stays in a copy below the notice. */
  async function reloadKeepingDraft() {
    if (!D.name || D.busy) return;
    const mine = textarea.value;
    const keep = dirty();
    if (await loadContext(D.name)) {
      if (keep && mine !== textarea.value) setDraft(mine);
      toast(`${D.name}: version ${str(D.loaded.version)} loaded${keep ? '; your text is kept in a copy below it' : ''}.`, 'info');
    }
  }

  function setDraft(text) {
    draftText.value = text === null ? '' : text;
    draft.hidden = text === null;
  }

  function useDraft() {
    textarea.value = draftText.value;
    setDraft(null);
    onInput();
    textarea.focus();
  }

  // ---------------------------------------------------------------- versions

  async function loadVersions() {
    if (!D.name) return;
    const name = D.name;
    const res = await api('GET', path(name, '/versions'));
    if (res.unauthorized || name !== D.name) return;
    if (!res.ok) {
      D.versions = [];
      versionsEmpty.textContent = errorOf(res).message;
      versionsEmpty.hidden = false;
      versionsBody.replaceChildren();
      return;
    }
    D.versions = arr(res.data).filter(obj);
    renderVersions();
  }

  function renderVersions() {
    const newest = D.versions.length ? Number(D.versions[0].version) : 0;
    versionsEmpty.textContent = `No saved version yet: the text in force is the one shipped in ${str(D.loaded && D.loaded.file) || 'its file'}. ` +
      'The first save keeps it as version 1.';
    versionsEmpty.hidden = D.versions.length > 0;
    versionsBody.replaceChildren(...D.versions.map((v) => {
      const version = Number(v.version);
      const current = version === newest;
      return versionRow(kit, v, {
        testid: 'dialplan-version-row',
        savedAt: v.saved_at,
        attrs: { 'data-current': current ? 'true' : null },
        number: [h('span', { text: str(v.version) }),
          current ? h('span', { class: 'chip chip-good', 'data-testid': 'dialplan-version-current', text: 'in force' }) : null],
        actions: [
          showButton(h, 'dialplan-version-show', version, showVersion),
          current ? null : h('button', {
            type: 'button', class: 'btn btn-small', 'data-testid': 'dialplan-version-diff', text: 'Diff against current',
            'aria-label': `Diff version ${version} against version ${newest}`,
            on: { click: () => showDiff(version, newest) },
          }),
          current ? null : h('button', {
            type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'dialplan-version-rollback', text: 'Roll back to this',
            'aria-label': `Roll back to version ${version}`,
            on: { click: (e) => confirmThen(e.currentTarget, `Really bring back ${version}?`, () => rollback(version)) },
          }),
        ],
      });
    }));
    for (const button of versionsBody.querySelectorAll('button')) button.disabled = D.busy;
  }

  function showViewer(heading, lines, kinds) {
    viewerTitle.textContent = heading;
    viewerBody.replaceChildren(...lines.map((line) => {
      const kind = kinds ? diffKind(line) : 'text';
      return h('span', { class: 'dp-diff-line', 'data-kind': kind }, line || ' ');
    }));
    viewerPre.dataset.kind = kinds ? 'diff' : 'text';
    viewer.hidden = false;
    viewer.scrollIntoView({ block: 'nearest' });
  }

  async function showDiff(from, to) {
    const name = D.name;
    const res = await api('GET', `${path(name, '/diff')}${kit.query({ from, to })}`);
    if (res.unauthorized || name !== D.name) return;
    if (!res.ok) {
      toast(errorOf(res).message);
      return;
    }
    const text = str(obj(res.data) && res.data.diff);
    if (!text) showViewer(`Version ${from} and version ${to} (in force) hold the same text.`, [], true);
    else showViewer(`Changes from version ${from} to version ${to} (in force)`, text.replace(/\n$/, '').split('\n'), true);
  }

  async function showVersion(version) {
    const name = D.name;
    const res = await api('GET', path(name, `/versions/${version}`));
    if (res.unauthorized || name !== D.name) return;
    if (!res.ok) {
      toast(errorOf(res).message);
      return;
    }
    const v = obj(res.data) || {};
    const lines = str(v.text).replace(/\n$/, '').split('\n');
    showViewer(`Version ${str(v.version)} by ${str(v.author) || 'someone'}, ${when(v.saved_at)}`, lines, false);
  }

  async function rollback(version) {
    if (D.busy || !D.name || !D.loaded) return;
    const name = D.name;
    const mine = textarea.value;
    const keep = dirty();
    clearFeedback();
    setBusy(true);
    const res = await api('POST', path(name, '/rollback'), { version, base_version: Number(D.loaded.version) || 0, comment: '' });
    setBusy(false);
    if (res.unauthorized) return;
    if (!res.ok) {
      explain(res);
      return;
    }
    const d = obj(res.data) || {};
    toast(`Version ${version} of ${name} is back in force as version ${str(d.version)}` +
      (d.pushed ? `: pushed to Asterisk and confirmed (${str(d.loaded) || 'loaded'}).` : '; Asterisk takes it at its next reload.'), 'info');
    viewer.hidden = true;
    if (await loadContext(name)) {
      if (keep && mine !== textarea.value) setDraft(mine);
    }
    await loadContexts();
  }

  async function refreshAll() {
    await loadContexts();
    if (D.name && admin) {
      if (!dirty() && !D.busy) await loadContext(D.name);
      else await loadVersions();
    }
  }

  loadContexts();
}
