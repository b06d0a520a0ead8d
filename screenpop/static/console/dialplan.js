/* Callfold console: the Dialplan tab (admins). A placeholder to be filled in.
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
 */

export function renderDialplan(container, kit) {
  container.replaceChildren(
    kit.h('div', { class: 'section-head' }, kit.h('h2', { class: 'section-title', text: 'Dialplan' })),
    kit.h('p', { class: 'coming-soon', 'data-testid': 'coming-soon', text: 'Coming soon: editing the dialplan from here.' }),
  );
}
