/* Callfold console: the Reports tab (supervisors). A placeholder to be filled in.
 *
 * Loaded by app.js (renderPlaceholder) the first time the tab opens, as an ES module.
 * Contract (docs/console.md, "Dialplan and Reports"):
 *   renderReports(container, kit)
 *     container  the tab's panel, <section data-testid="reports-panel">, empty; yours.
 *     kit        { api(method, path, body) -> {ok, status, data, error{code, message, problems}},
 *                  h(tag, props, ...children), toast(message, kind), query(params),
 *                  showProblems(el, error), hideProblems(el), can(role), user(),
 *                  format: {duration, percent, when, shortWhen, compact} }
 * Called once per sign-in. Same rules as app.js: no innerHTML with server data, no
 * inline styles or scripts (the page's Content-Security-Policy refuses them).
 */

export function renderReports(container, kit) {
  container.replaceChildren(
    kit.h('div', { class: 'section-head' }, kit.h('h2', { class: 'section-title', text: 'Reports' })),
    kit.h('p', { class: 'coming-soon', 'data-testid': 'coming-soon', text: 'Coming soon: reports over past calls.' }),
  );
}
