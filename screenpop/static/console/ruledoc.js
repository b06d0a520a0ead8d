/* Callfold console: a versioned rule document, as the Routing rules tab (app.js) and the
 * Call-back rules tab (callbacks.js) show and change it; and the versions table that the
 * Dialplan tab (dialplan.js) shares with them.
 *
 * Both rule documents have the same API under their base path (docs/console.md):
 *   GET base               the document in force (version 0: the shipped one)
 *   GET base/versions      who saved which version, newest first
 *   GET base/versions/{n}  one saved version with its body
 *   POST base/check        {rules, comment}: a summary, or the problems
 *   PUT base               {rules, comment}: saved as the newest version, in force at once
 *   POST base/rollback     {version, comment}: an old version saved again as the newest
 *
 * A page keeps its own elements (app.js's are in index.html, callbacks.js builds them with
 * versionsTable and versionViewer) and hands them to ruleDocument(). The rows and buttons
 * built here carry data-testid `${prefix}version-row`, `${prefix}version-show` and
 * `${prefix}version-rollback`. Same rules as app.js: server data only as text.
 */

import { arr, confirmThen, obj, str } from '../shared/dom.js';

// ==================================================================== the versions table

/** The table of saved versions (Version, Saved, By, Comment, Actions), its body given,
 * and the line shown when there is none. */
export function versionsTable(h, { caption, body, empty, testid = null, wrapClass = 'table-wrap' }) {
  const col = (text, cls = null) => h('th', { scope: 'col', class: cls, text });
  return h('div', { class: wrapClass },
    h('table', { class: 'data-table', 'data-testid': testid },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', null, h('tr', null,
        col('Version', 'num'), col('Saved'), col('By'), col('Comment'), col('Actions'))),
      body),
    empty);
}

/** One saved version as a row of that table: ``number`` (the version by default) in the
 * first cell, ``actions`` (buttons) in the last. */
export function versionRow(kit, v, { testid, savedAt, number = str(v.version), attrs = {}, actions }) {
  const { h } = kit;
  const { when, shortWhen } = kit.format;
  return h('tr', { 'data-testid': testid, 'data-version': Number(v.version), ...attrs },
    h('td', { class: 'num' }, number),
    h('td', { title: when(savedAt), text: shortWhen(savedAt) }),
    h('td', { text: str(v.author) }),
    h('td', { text: str(v.comment) }),
    h('td', { class: 'actions' }, actions));
}

/** A row's Show button. */
export function showButton(h, testid, version, show) {
  return h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': testid, text: 'Show',
    'aria-label': `Show version ${version}`,
    on: { click: () => show(version) },
  });
}

/** The box that shows one saved version's document: {box, title, text}. */
export function versionViewer(h, prefix) {
  const title = h('h3', { class: 'box-title', 'data-testid': `${prefix}version-view-title` });
  const text = h('pre', { class: 'json', 'data-testid': `${prefix}version-view-body` });
  const box = h('div', { class: 'box', 'data-testid': `${prefix}version-view`, hidden: true }, title, text);
  return { box, title, text };
}

// ==================================================================== a rule document

/**
 * The reading and changing of the rule document at ``base``:
 *   prefix   the start of the rows' and buttons' data-testid ('' or 'cbrules-')
 *   error    the .problems box for what went wrong loading
 *   versions {body, empty}: the versions table's tbody and its "no version yet" line
 *   viewer   {box, title, text}: where Show puts a version (versionViewer)
 *   editor   {text, problems, status}: the JSON text area, its .problems box and its
 *            status line (admins only; null for others)
 *   alive()  false once the page has gone (signed out): late answers are dropped
 *   onDoc(doc)  the document in force, each time it is loaded
 * Returns {load, metaLine, edited, say, check, save, answered}.
 */
export function ruleDocument(kit, { base, prefix = '', error, versions, viewer, editor = null, alive, onDoc }) {
  const { h, api, toast, showProblems, hideProblems } = kit;

  // ---------------------------------------------------------------- reading

  /** The document in force and its versions, shown; what went wrong in ``error``. */
  async function load() {
    hideProblems(error);
    const [current, history] = await Promise.all([
      api('GET', base),
      api('GET', `${base}/versions`),
    ]);
    if (current.unauthorized || history.unauthorized || !alive()) return;
    if (!current.ok) showProblems(error, current.error);
    else onDoc(obj(current.data));
    if (history.ok) renderVersions(arr(history.data).filter(obj));
    else if (current.ok) showProblems(error, history.error);
  }

  /** "Version 3 · by ada · <when> · “why”", or the shipped rules when none was saved. */
  function metaLine(doc) {
    const d = doc || {};
    if (!(Number(d.version) > 0)) return 'The shipped rules (version 0)';
    return [`Version ${str(d.version)}`, `by ${str(d.author)}`, d.created_at ? kit.format.when(d.created_at) : '',
      d.comment ? `\u201c${str(d.comment)}\u201d` : ''].filter(Boolean).join(' \u00b7 ');
  }

  function renderVersions(list) {
    const newest = list.length ? Number(list[0].version) : 0;
    versions.empty.hidden = list.length > 0;
    versions.body.replaceChildren(...list.map((v) => {
      const version = Number(v.version);
      return versionRow(kit, v, {
        testid: `${prefix}version-row`,
        savedAt: v.created_at,
        actions: [
          showButton(h, `${prefix}version-show`, version, showVersion),
          kit.can('admin') && version !== newest ? rollbackButton(version) : null,
        ],
      });
    }));
  }

  function rollbackButton(version) {
    return h('button', {
      type: 'button', class: 'btn btn-small', 'data-testid': `${prefix}version-rollback`, text: 'Roll back',
      'aria-label': `Roll back to version ${version}`,
      on: { click: (e) => confirmThen(e.currentTarget, `Bring back ${version}?`, () => rollback(version)) },
    });
  }

  async function showVersion(version) {
    const res = await api('GET', `${base}/versions/${version}`);
    if (res.unauthorized) return;
    if (!res.ok) {
      toast(res.error.message);
      return;
    }
    const v = obj(res.data) || {};
    viewer.title.textContent = `Version ${str(v.version)} by ${str(v.author)}, ${kit.format.when(v.created_at)}`;
    viewer.text.textContent = JSON.stringify(v.body, null, 2);
    viewer.box.hidden = false;
  }

  // ---------------------------------------------------------------- changing (admins)

  async function rollback(version) {
    const res = await api('POST', `${base}/rollback`, { version, comment: '' });
    if (res.unauthorized) return;
    if (!res.ok) {
      toast(res.error.message);
      return;
    }
    toast(`Version ${version} is back in force as version ${str(res.data && res.data.version)}.`, 'info');
    await load();
  }

  /** The editor's text as a JSON object; null, the problem shown, when it is not one
   * (``shape`` says what it should look like). */
  function edited(shape) {
    hideProblems(editor.problems);
    editor.status.hidden = true;
    let value;
    try {
      value = JSON.parse(editor.text.value);
    } catch (err) {
      showProblems(editor.problems, { message: `Not valid JSON: ${err.message}` });
      return null;
    }
    if (!obj(value)) {
      showProblems(editor.problems, { message: shape });
      return null;
    }
    return value;
  }

  /** A sentence in the editor's status line. */
  function say(sentence) {
    editor.status.textContent = sentence;
    editor.status.hidden = false;
  }

  /** An answer's data ({} if none); null when it failed, its problems shown in the editor. */
  async function answered(request) {
    const res = await request;
    if (res.unauthorized) return null;
    if (!res.ok) {
      showProblems(editor.problems, res.error);
      return null;
    }
    return obj(res.data) || {};
  }

  /** Check a whole document without saving it: the server's summary, or null. */
  const check = (rules) => answered(api('POST', `${base}/check`, { rules, comment: '' }));

  /** Save a whole document as the newest version: {version}, or null. */
  const save = (rules, comment) => answered(api('PUT', base, { rules, comment }));

  return { load, metaLine, edited, say, check, save, answered };
}
