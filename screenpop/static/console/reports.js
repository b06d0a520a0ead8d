/* Callfold console: the Reports tab (supervisors and admins).
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
 * inline styles or scripts (the page's Content-Security-Policy refuses them). Charts are
 * SVG built with createElementNS: geometry as attributes, colours as classes.
 *
 * The API: docs/reports.md. GET /api/reports/day?date=&tz=&sl= draws the whole view; the
 * per-section CSV files come from /api/reports/calls?by=…, /agents and /csat over the
 * same day; GET /api/reports/calls/list lists the calls behind a queue, a reason or an
 * agent, a page at a time. CSV files are fetched with the bearer token (a plain link
 * would not carry it) and handed to the browser through a blob: URL.
 */

import { arr, num, obj, str } from '../shared/dom.js';
import { session } from '../shared/session.js';

const SERVICE_LEVELS = [5, 10, 15, 20, 25, 30, 45, 60, 90, 120, 180, 300]; // cti/reports/figures.py
const DEFAULT_SL = 20;
const PAGE = 50; // calls per drill-down page
const CHART_ROWS = 15; // bars in a horizontal chart; the table has every row
const SVG_NS = 'http://www.w3.org/2000/svg';
const OUTCOMES = {
  answered: 'Answered',
  abandoned: 'Abandoned',
  ivr_hangup: 'Hung up in the IVR',
  unanswered: 'Unanswered',
  lost: 'Lost',
};

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const counts = new Intl.NumberFormat();
const count = (v) => (num(v) === null ? '—' : counts.format(v));
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Today on the browser's clock, as the date input wants it. */
function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The calendar day after (or before) an ISO date; '' if it is not one. */
function shiftDay(day, by) {
  if (!DAY.test(day)) return '';
  const [y, m, d] = day.split('-').map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + by));
  if (next.getUTCFullYear() < 1 || next.getUTCFullYear() > 9999) return '';
  return `${String(next.getUTCFullYear()).padStart(4, '0')}-${String(next.getUTCMonth() + 1).padStart(2, '0')}-${String(next.getUTCDate()).padStart(2, '0')}`;
}

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch (_) {
    return 'UTC';
  }
}

/** A query string that keeps empty values (queue= means "calls without a queue"). */
function queryKeepingEmpty(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) q.set(key, String(value));
  }
  return `?${q.toString()}`;
}

/** The API's error: {id, status, message}. */
function errorOf(res, data) {
  const body = obj(data) && obj(data.error) ? data.error : {};
  return {
    id: str(body.id) || str(res.error && res.error.code) || `http.${res.status}`,
    status: res.status,
    message: str(body.message) || str(res.error && res.error.message) || `The server answered with an error (${res.status}).`,
  };
}

/** "2026-11-10T09:05:00+05:30" -> "09:05:00": the time on the report's clock, as sent. */
function clock(iso) {
  const m = /T(\d\d:\d\d(:\d\d)?)/.exec(str(iso));
  return m ? m[1] : str(iso);
}

/** "2026-11-10T00:00:00+05:30" -> "2026-11-10 00:00". */
function stamp(iso) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)/.exec(str(iso));
  return m ? `${m[1]} ${m[2]}` : str(iso);
}

/** A file name from Content-Disposition, reduced to safe characters. */
function fileName(header, fallback) {
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(str(header));
  const name = m ? decodeURIComponent(m[1]).replace(/[^A-Za-z0-9._-]/g, '_') : '';
  return name && !name.startsWith('.') ? name : fallback;
}

// ---------------------------------------------------------------- SVG charts

let chartIds = 0;

/** Build an SVG element: attributes set as attributes, strings become Text nodes. */
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value !== null && value !== undefined && value !== false) el.setAttribute(key, String(value));
    }
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false || kid === '') continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

/** Round numbers for an axis of counts: the top and the step between ticks. */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 1 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((v) => v >= rough));
  return { top: Math.ceil(max / step) * step, step };
}

const short = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** What one bar says in its tooltip: "09:00: 2 answered". */
function barText(label, value, series) {
  return `${label}: ${series.one ? plural(value, series.one, series.many) : `${count(value)} ${series.name}`}`;
}

function categoryText(label, values, series) {
  const total = values.reduce((sum, v) => sum + v, 0);
  if (series.length === 1) return barText(label, total, series[0]);
  return `${label}: ${count(total)} in all (${series.map((se, i) => `${count(values[i])} ${se.name}`).join(', ')})`;
}

/** The <svg> of a chart: role img, its title and description, classes for its kind. */
function chartRoot(o, width, height) {
  chartIds += 1;
  const titleId = `rp-chart-${chartIds}-title`;
  const descId = `rp-chart-${chartIds}-desc`;
  return s('svg', {
    class: `rp-svg ${o.svgClass || ''}`.trim(),
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-labelledby': `${titleId} ${descId}`,
    'data-testid': o.testid,
    preserveAspectRatio: 'xMinYMin meet',
  }, s('title', { id: titleId }, o.title), s('desc', { id: descId }, o.desc));
}

/** Vertical bars, stacked: one column per label (hours of the day, CSAT scores). */
function columnChart(o) {
  const W = o.width || 960;
  const H = o.height || 240;
  const L = 40;
  const R = 8;
  const T = 14;
  const B = 26;
  const plotW = W - L - R;
  const plotH = H - T - B;
  const n = Math.max(1, o.labels.length);
  const values = o.labels.map((_, i) => o.series.map((se) => Math.max(0, num(se.values[i]) || 0)));
  const totals = values.map((v) => v.reduce((sum, x) => sum + x, 0));
  const { top, step } = niceScale(Math.max(0, ...totals));
  const y = (v) => T + plotH - (v / top) * plotH;
  const svg = chartRoot(o, W, H);

  for (let tick = 0; tick <= top; tick += step) {
    svg.append(
      s('line', { class: tick === 0 ? 'rp-axis' : 'rp-grid', x1: L, x2: W - R, y1: y(tick), y2: y(tick) }),
      s('text', { class: 'rp-tick', x: L - 6, y: y(tick), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, count(tick)),
    );
  }
  const band = plotW / n;
  const barW = Math.max(3, Math.min(band * 0.7, 56));
  o.labels.forEach((label, i) => {
    const x0 = L + i * band;
    const group = s('g', { class: 'rp-col', 'data-label': label });
    group.append(s('rect', {
      class: 'rp-hit', x: x0, y: T, width: band, height: plotH,
    }, s('title', null, categoryText(label, values[i], o.series))));
    let base = 0;
    o.series.forEach((se, k) => {
      const v = values[i][k];
      if (!(v > 0)) return;
      group.append(s('rect', {
        class: `rp-bar ${se.cls}`,
        x: x0 + (band - barW) / 2,
        y: y(base + v),
        width: barW,
        height: Math.max(0.5, y(base) - y(base + v)),
        'data-testid': 'reports-bar',
        'data-series': se.key,
        'data-label': label,
        'data-value': v,
      }, s('title', null, barText(label, v, se))));
      base += v;
    });
    if (o.showTotals && totals[i] > 0) {
      group.append(s('text', { class: 'rp-value', x: x0 + band / 2, y: y(totals[i]) - 4, 'text-anchor': 'middle' }, count(totals[i])));
    }
    group.append(s('text', {
      class: 'rp-tick', x: x0 + band / 2, y: H - B + 16, 'text-anchor': 'middle',
    }, o.tickLabel ? o.tickLabel(label, i) : label));
    svg.append(group);
  });
  return svg;
}

/** Horizontal bars, stacked: one row per label (queues, reasons, channels). */
function barChart(o) {
  const W = o.width || 420;
  const labelW = 112;
  const R = 44;
  const T = 6;
  const rowH = 26;
  const B = 24;
  const labels = o.labels.slice(0, CHART_ROWS);
  const n = Math.max(1, labels.length);
  const H = T + n * rowH + B;
  const plotW = W - labelW - R;
  const values = labels.map((_, i) => o.series.map((se) => Math.max(0, num(se.values[i]) || 0)));
  const totals = values.map((v) => v.reduce((sum, x) => sum + x, 0));
  const { top, step } = niceScale(Math.max(0, ...totals));
  const x = (v) => labelW + (v / top) * plotW;
  const svg = chartRoot(o, W, H);
  const bottom = T + n * rowH;

  for (let tick = 0; tick <= top; tick += step) {
    svg.append(
      s('line', { class: tick === 0 ? 'rp-axis' : 'rp-grid', x1: x(tick), x2: x(tick), y1: T, y2: bottom }),
      s('text', { class: 'rp-tick', x: x(tick), y: bottom + 16, 'text-anchor': 'middle' }, count(tick)),
    );
  }
  labels.forEach((label, i) => {
    const y0 = T + i * rowH;
    const group = s('g', { class: 'rp-row', 'data-label': label });
    group.append(
      s('rect', { class: 'rp-hit', x: 0, y: y0, width: W, height: rowH },
        s('title', null, categoryText(label, values[i], o.series))),
      s('text', {
        class: 'rp-label', x: labelW - 8, y: y0 + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle',
      }, short(label, 17)),
    );
    let base = 0;
    o.series.forEach((se, k) => {
      const v = values[i][k];
      if (!(v > 0)) return;
      group.append(s('rect', {
        class: `rp-bar ${se.cls}`,
        x: x(base),
        y: y0 + 4,
        width: Math.max(0.5, x(base + v) - x(base)),
        height: rowH - 8,
        'data-testid': 'reports-bar',
        'data-series': se.key,
        'data-label': label,
        'data-value': v,
      }, s('title', null, barText(label, v, se))));
      base += v;
    });
    group.append(s('text', {
      class: 'rp-value', x: x(totals[i]) + 5, y: y0 + rowH / 2, 'dominant-baseline': 'middle',
    }, count(totals[i])));
    svg.append(group);
  });
  return svg;
}

// ---------------------------------------------------------------- the tab

export function renderReports(container, kit) {
  const { h, api, toast } = kit;
  const { duration, percent } = kit.format;
  const pct = (v) => percent(v, false); // the API's rates are 0-100
  const secs = (v) => (num(v) === null ? '—' : duration(v));

  /** The report on screen and what asked for it (CSV files and drill-downs use these). */
  const R = {
    loaded: null, // {date, tz, sl, report}
    seq: 0,
    pending: '', // the key of the report being fetched
    drill: null, // {params, shown, cursor, done, busy}: the list open
  };

  // ---------------------------------------------------------------- controls

  const dateInput = h('input', {
    type: 'date', value: today(), required: true, min: '1970-01-01', max: '9999-12-31',
    'data-testid': 'reports-date', on: { change: () => load() },
  });
  const tzInput = h('input', {
    type: 'text', value: browserZone(), list: 'reports-tz-list', maxLength: 64,
    autocomplete: 'off', spellcheck: 'false', 'data-testid': 'reports-tz',
    on: { change: () => load() },
  });
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const tzList = h('datalist', { id: 'reports-tz-list' }, zones.map((zone) => h('option', { value: zone })));
  const slSelect = h('select', { 'data-testid': 'reports-sl', on: { change: () => load() } },
    SERVICE_LEVELS.map((sec) => h('option', { value: String(sec), selected: sec === DEFAULT_SL, text: `${sec} s` })));
  const showButton = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'reports-show', text: 'Show' });
  const prevButton = h('button', {
    type: 'button', class: 'btn', 'data-testid': 'reports-prev', text: '‹ Day before', on: { click: () => step(-1) },
  });
  const nextButton = h('button', {
    type: 'button', class: 'btn', 'data-testid': 'reports-next', text: 'Day after ›', on: { click: () => step(1) },
  });
  const controls = h('form', {
    class: 'box rp-controls', 'data-testid': 'reports-controls', novalidate: true,
    on: { submit: (event) => { event.preventDefault(); load(true); } },
  },
  h('label', { class: 'field rp-field' }, h('span', { class: 'field-label', text: 'Day' }), dateInput),
  h('label', { class: 'field rp-field rp-field-wide' }, h('span', { class: 'field-label', text: 'Time zone' }), tzInput, tzList),
  h('label', { class: 'field rp-field' },
    h('span', { class: 'field-label', text: 'Service level: answered within' }), slSelect),
  h('div', { class: 'form-actions rp-actions' }, showButton, prevButton, nextButton));

  const meta = h('span', { class: 'section-meta', 'data-testid': 'reports-meta', role: 'status' });
  const dayCsv = csvButton('day', 'Download CSV (whole day)', 'btn btn-small');
  dayCsv.disabled = true;
  const errorText = h('span', { class: 'rp-error-text', 'data-testid': 'reports-error-text' });
  const retry = h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'reports-retry', text: 'Try again', hidden: true,
    on: { click: () => load(true) },
  });
  const errorBox = h('div', { class: 'problems rp-error', 'data-testid': 'reports-error', role: 'alert', hidden: true },
    errorText, retry);

  // ---------------------------------------------------------------- results

  const summary = h('dl', { class: 'rp-summary', 'data-testid': 'reports-summary' });
  const emptyNote = h('p', { class: 'empty-line rp-empty', 'data-testid': 'reports-empty', hidden: true });

  const hoursChart = h('div', { class: 'rp-chart rp-chart-wide' });
  const hoursTable = h('div', { class: 'table-wrap rp-table' });
  const hoursBox = sectionBox('hours', 'Calls by hour', 'Inbound calls by the hour they started, on the clocks of the time zone above.',
    legend([['answered', 'Answered'], ['abandoned', 'Abandoned'], ['other', 'Other (IVR hang-up, unanswered, lost)']]),
    hoursChart,
    h('details', { class: 'rp-numbers' }, h('summary', { text: 'Numbers by hour' }), hoursTable));

  const queuesChart = h('div', { class: 'rp-chart' });
  const queuesTable = h('div', { class: 'table-wrap rp-table' });
  const queuesBox = sectionBox('queues', 'Queues', 'Inbound calls by queue. Click a queue for its calls.',
    h('div', { class: 'rp-split' },
      h('div', null, legend([['answered', 'Answered'], ['abandoned', 'Abandoned'], ['other', 'Other']]), queuesChart),
      queuesTable));

  const reasonsChart = h('div', { class: 'rp-chart' });
  const reasonsTable = h('div', { class: 'table-wrap rp-table' });
  const reasonsBox = sectionBox('reasons', 'Reasons', 'Inbound calls by the reason found for them. Click a reason for its calls.',
    h('div', { class: 'rp-split' },
      h('div', null, legend([['answered', 'Answered'], ['abandoned', 'Abandoned'], ['other', 'Other']]), reasonsChart),
      reasonsTable));

  const channelsChart = h('div', { class: 'rp-chart' });
  const channelsTable = h('div', { class: 'table-wrap rp-table' });
  const channelsBox = sectionBox('channels', 'Channels', 'Calls, SMS and email, both ways.',
    legend([['inbound', 'Inbound'], ['outbound', 'Outbound']]), channelsChart, channelsTable);

  const csatChart = h('div', { class: 'rp-chart' });
  const csatFigures = h('dl', { class: 'figures figures-small rp-csat-figures', 'data-testid': 'reports-csat-figures' });
  const csatTable = h('div', { class: 'table-wrap rp-table' });
  const csatBox = sectionBox('csat', 'Customer satisfaction', 'Ratings of the surveys sent this day, 1 (poor) to 5 (great).',
    csatFigures, csatChart, csatTable);

  const agentsTable = h('div', { class: 'table-wrap rp-table' });
  const agentsBox = sectionBox('agents', 'Agents', 'Calls each agent answered and let ring out, talk and handle times, messages and ratings. Click an agent for their calls.',
    agentsTable);

  // The calls behind a figure: moved under the section it was opened from.
  const drillTitle = h('h3', { class: 'rp-drill-title', 'data-testid': 'reports-drill-title', tabindex: '-1' });
  const drillMeta = h('p', { class: 'section-meta', 'data-testid': 'reports-drill-count', role: 'status' });
  const drillError = h('div', { class: 'problems', 'data-testid': 'reports-drill-error', role: 'alert', hidden: true });
  const drillBody = h('tbody', { 'data-testid': 'reports-drill-body' });
  const drillMore = h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'reports-drill-more', text: 'More', hidden: true,
    on: { click: () => drillPage() },
  });
  const drill = h('section', { class: 'box rp-drill', 'data-testid': 'reports-drill', hidden: true },
    h('div', { class: 'rp-box-head' }, drillTitle,
      h('button', {
        type: 'button', class: 'btn btn-small btn-quiet', 'data-testid': 'reports-drill-close', text: 'Close',
        on: { click: closeDrill },
      })),
    drillError,
    h('div', { class: 'table-wrap rp-table' },
      h('table', { class: 'data-table' },
        h('caption', { class: 'visually-hidden', text: 'The calls behind the figure, oldest first' }),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col', text: 'Started' }),
          h('th', { scope: 'col', text: 'Caller' }),
          h('th', { scope: 'col', text: 'Direction' }),
          h('th', { scope: 'col', text: 'Queue' }),
          h('th', { scope: 'col', text: 'Reason' }),
          h('th', { scope: 'col', text: 'Agent' }),
          h('th', { scope: 'col', text: 'Outcome' }),
          h('th', { scope: 'col', class: 'num', text: 'Wait' }),
          h('th', { scope: 'col', class: 'num', text: 'Talk' }))),
        drillBody)),
    h('div', { class: 'form-actions rp-drill-actions' }, drillMeta, drillMore));

  const results = h('div', { class: 'rp-results', 'data-testid': 'reports-results', hidden: true },
    summary,
    emptyNote,
    hoursBox,
    queuesBox,
    reasonsBox,
    h('div', { class: 'rp-pair' }, channelsBox, csatBox),
    agentsBox);

  container.replaceChildren(
    h('div', { class: 'section-head' },
      h('h2', { class: 'section-title', text: 'Reports' }), meta,
      h('div', { class: 'section-actions' }, dayCsv)),
    h('p', {
      class: 'section-intro',
      text: 'One day of calls, messages and customer ratings: the hours and time zone are those chosen here. '
        + 'Each section can be downloaded as a CSV file for a spreadsheet.',
    }),
    controls,
    errorBox,
    results);

  // ---------------------------------------------------------------- building blocks

  function sectionBox(key, title, intro, ...body) {
    return h('section', { class: 'box rp-section', 'data-testid': `reports-${key}`, 'data-section': key },
      h('div', { class: 'rp-box-head' },
        h('h3', { class: 'rp-box-title', text: title }),
        csvButton(key, 'Download CSV', 'btn btn-small')),
      intro ? h('p', { class: 'rp-intro', text: intro }) : null,
      ...body);
  }

  function legend(items) {
    return h('ul', { class: 'rp-legend', 'aria-hidden': 'true' },
      items.map(([key, label]) => h('li', null, h('span', { class: `rp-swatch rp-c-${key}` }), label)));
  }

  function csvButton(key, label, cls) {
    return h('button', {
      type: 'button', class: cls, 'data-testid': `reports-csv-${key}`, text: label,
      on: { click: (event) => download(key, event.currentTarget) },
    });
  }

  /** A table: caption, header cells ({label, num}), body rows and an optional total row. */
  function table(testid, caption, columns, rows, total) {
    return h('table', { class: 'data-table', 'data-testid': testid },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null, text: c.label })))),
      h('tbody', null, rows),
      total ? h('tfoot', null, total) : null);
  }

  const td = (text, extra = {}) => h('td', { class: 'num', ...extra, text });

  // ---------------------------------------------------------------- loading

  function params() {
    return { date: dateInput.value, tz: tzInput.value.trim() || browserZone(), sl: Number(slSelect.value) || DEFAULT_SL };
  }

  function step(by) {
    const day = shiftDay(dateInput.value || today(), by);
    if (!day) return;
    dateInput.value = day;
    load();
  }

  function showError(message, canRetry) {
    errorText.textContent = message;
    retry.hidden = !canRetry;
    errorBox.hidden = false;
  }

  function hideError() {
    errorBox.hidden = true;
    errorText.textContent = '';
  }

  /** Ask for the day report with the controls' values and draw it. */
  async function load(force = false) {
    const p = params();
    const key = `${p.date}|${p.tz}|${p.sl}`;
    if (!force && key === R.pending) return; // the same question is on its way
    if (!p.date) {
      R.seq += 1;
      R.pending = '';
      showError('Pick a day (the date field is empty or not a date).', false);
      results.hidden = true;
      dayCsv.disabled = true;
      return;
    }
    R.seq += 1;
    const seq = R.seq;
    R.pending = key;
    results.setAttribute('aria-busy', 'true');
    showButton.disabled = true;
    meta.textContent = 'Loading…';
    const res = await api('GET', `/api/reports/day${kit.query(p)}`);
    if (seq !== R.seq) return; // a newer question was asked meanwhile
    R.pending = '';
    showButton.disabled = false;
    results.removeAttribute('aria-busy');
    if (res.unauthorized) return;
    if (!res.ok) {
      const error = errorOf(res, res.data);
      showError(error.message, error.status === 503 || error.status === 0 || error.status >= 500);
      results.hidden = true;
      dayCsv.disabled = true;
      R.loaded = null;
      meta.textContent = '';
      closeDrill();
      return;
    }
    hideError();
    const report = obj(res.data) || {};
    R.loaded = { ...p, report };
    closeDrill();
    draw(report);
    results.hidden = false;
    dayCsv.disabled = false;
  }

  // ---------------------------------------------------------------- drawing

  function draw(report) {
    const range = obj(report.range) || {};
    const sl = num(report.service_level_seconds) || R.loaded.sl;
    meta.textContent = `${stamp(range.from)} – ${stamp(range.to)} ${str(range.tz)}`
      + `${num(range.hours) !== null && range.hours !== 24 ? ` (${range.hours} hours)` : ''}`;
    const sum = obj(report.summary) || {};
    const csat = obj(report.csat) || {};
    const csatTotal = obj(csat.total) || {};
    drawSummary(sum, csatTotal, sl);
    emptyNote.textContent = `No inbound call on ${R.loaded.date} (${str(range.tz)}).`;
    emptyNote.hidden = (num(sum.offered) || 0) > 0;
    drawHours(obj(report.hours) || {}, sl, str(range.tz));
    drawGroups('queue', obj(report.queues) || {}, sl, queuesChart, queuesTable, queuesBox);
    drawGroups('reason', obj(report.reasons) || {}, sl, reasonsChart, reasonsTable, reasonsBox);
    drawChannels(obj(report.channels) || {});
    drawCsat(csat);
    drawAgents(obj(report.agents) || {});
  }

  function stat(key, label, value, sub) {
    return h('div', { class: 'rp-stat', 'data-figure': key },
      h('dt', { class: 'rp-stat-label', text: label }),
      h('dd', { class: 'rp-stat-value', 'data-testid': `reports-summary-${key}`, text: value }),
      sub ? h('dd', { class: 'rp-stat-sub', 'data-testid': `reports-summary-${key}-sub`, text: sub }) : null);
  }

  function drawSummary(sum, csatTotal, sl) {
    const answeredCsat = num(csatTotal.answered) || 0;
    summary.replaceChildren(
      stat('offered', 'Offered', count(sum.offered), 'inbound calls'),
      stat('answered', 'Answered', count(sum.answered), `${pct(sum.answer_pct)} of offered`),
      stat('abandoned', 'Abandoned', count(sum.abandoned), `${pct(sum.abandon_pct)} of offered`),
      stat('sl', 'Service level', pct(sum.service_level_pct), `answered within ${sl} s`),
      stat('asa', 'ASA', secs(sum.asa_seconds), 'average speed of answer'),
      stat('aht', 'AHT', secs(sum.aht_seconds), 'average handle time'),
      stat('csat', 'CSAT average', num(csatTotal.average) === null ? '—' : csatTotal.average.toFixed(2),
        answeredCsat ? `of 5, ${plural(answeredCsat, 'rating')}` : 'no rating'),
    );
  }

  /** The outcomes a stack shows: answered, abandoned, and the rest of offered. */
  function stacks(series) {
    const offered = arr(series.offered);
    const answered = arr(series.answered);
    const abandoned = arr(series.abandoned);
    const other = offered.map((v, i) => Math.max(0, (num(v) || 0) - (num(answered[i]) || 0) - (num(abandoned[i]) || 0)));
    return [
      { key: 'answered', name: 'answered', cls: 'rp-c-answered', values: answered },
      { key: 'abandoned', name: 'abandoned', cls: 'rp-c-abandoned', values: abandoned },
      { key: 'other', name: 'other', cls: 'rp-c-other', values: other },
    ];
  }

  function drawHours(section, sl, tz) {
    const rows = arr(section.rows).filter(obj);
    const labels = rows.map((r) => str(r.label));
    const series = stacks(obj(section.series) || {});
    const busiest = rows.reduce((best, r) => ((num(r.offered) || 0) > (num(best && best.offered) || 0) ? r : best), null);
    const total = num(obj(section.total) && section.total.offered) || 0;
    hoursChart.replaceChildren(columnChart({
      testid: 'reports-hours-chart',
      svgClass: 'rp-svg-hours',
      title: `Inbound calls by hour, ${R.loaded.date} (${tz})`,
      desc: total
        ? `${plural(total, 'call')} in all; the busiest hour is ${str(busiest.label)} with ${plural(busiest.offered, 'call')}. `
          + 'Each bar stacks answered, abandoned and other calls; the numbers are in the table "Numbers by hour".'
        : 'No inbound call this day.',
      labels,
      series,
      showTotals: true,
      width: 960,
      height: 250,
      tickLabel: (label) => label.slice(0, 2),
    }));
    hoursTable.replaceChildren(table('reports-hours-table', 'Inbound calls by hour', [
      { label: 'Hour' }, { label: 'Offered', num: true }, { label: 'Answered', num: true },
      { label: 'Abandoned', num: true }, { label: 'Other', num: true }, { label: `SL (${sl} s)`, num: true },
      { label: 'ASA', num: true }, { label: 'AHT', num: true },
    ], rows.map((r, i) => h('tr', { 'data-testid': 'reports-hour-row', 'data-key': str(r.key) },
      h('th', { scope: 'row', text: str(r.label) }),
      td(count(r.offered)), td(count(r.answered)), td(count(r.abandoned)),
      td(count(series[2].values[i])), td(pct(r.service_level_pct)), td(secs(r.asa_seconds)), td(secs(r.aht_seconds))))));
  }

  /** Queues or reasons: a chart of outcomes, and a table whose rows open their calls. */
  function drawGroups(by, section, sl, chartEl, tableEl, box) {
    const rows = arr(section.rows).filter(obj);
    const total = obj(section.total) || {};
    const name = by === 'queue' ? 'queue' : 'reason';
    const plural_ = by === 'queue' ? 'queues' : 'reasons';
    const labels = rows.map((r) => str(r.label));
    const top = rows[0];
    chartEl.replaceChildren(rows.length ? barChart({
      testid: `reports-${plural_}-chart`,
      title: `Inbound calls by ${name}, ${R.loaded.date}`,
      desc: `${plural(rows.length, name)}; the most calls: ${str(top.label)} with ${plural(top.offered, 'call')}. `
        + `Each bar stacks answered, abandoned and other calls.${rows.length > CHART_ROWS ? ` The first ${CHART_ROWS} are drawn; the table lists all.` : ''}`,
      labels,
      series: stacks(obj(section.series) || {}),
    }) : h('p', { class: 'empty-line', text: `No inbound call by ${name} this day.` }));

    const open = (r, tr) => openDrill({
      title: r.key === null || r.key === undefined
        ? `Inbound calls without a ${name}`
        : `Inbound calls ${by === 'queue' ? 'in queue' : 'with reason'} ${str(r.label)}`,
      filter: { [by]: r.key === null || r.key === undefined ? '' : str(r.key), direction: 'inbound' },
      anchor: box,
      row: tr,
    });
    const body = rows.map((r) => {
      const tr = h('tr', {
        class: 'rp-clickable', 'data-testid': `reports-${name}-row`, 'data-key': r.key === null ? '' : str(r.key),
        title: `Show the calls of ${str(r.label)}`,
      },
      h('th', { scope: 'row' }, h('button', {
        type: 'button', class: 'rp-link', 'data-testid': `reports-${name}-open`, text: str(r.label),
        'aria-label': `Show the calls of ${str(r.label)}`,
      })),
      td(count(r.offered)), td(count(r.answered)), td(count(r.abandoned)),
      td(pct(r.answer_pct)), td(pct(r.abandon_pct)), td(pct(r.service_level_pct)),
      td(secs(r.asa_seconds)), td(secs(r.avg_abandon_seconds)), td(secs(r.max_wait_seconds)), td(secs(r.aht_seconds)));
      tr.addEventListener('click', () => open(r, tr));
      return tr;
    });
    const foot = h('tr', { 'data-testid': `reports-${name}-total` },
      h('th', { scope: 'row', text: 'Total' }),
      td(count(total.offered)), td(count(total.answered)), td(count(total.abandoned)),
      td(pct(total.answer_pct)), td(pct(total.abandon_pct)), td(pct(total.service_level_pct)),
      td(secs(total.asa_seconds)), td(secs(total.avg_abandon_seconds)), td(secs(total.max_wait_seconds)), td(secs(total.aht_seconds)));
    tableEl.replaceChildren(table(`reports-${plural_}-table`, `Inbound calls by ${name}`, [
      { label: by === 'queue' ? 'Queue' : 'Reason' }, { label: 'Offered', num: true }, { label: 'Answered', num: true },
      { label: 'Abandoned', num: true }, { label: 'Answer %', num: true }, { label: 'Abandon %', num: true },
      { label: `SL (${sl} s)`, num: true }, { label: 'ASA', num: true }, { label: 'Avg abandon', num: true },
      { label: 'Max wait', num: true }, { label: 'AHT', num: true },
    ], body, rows.length ? foot : null));
  }

  function drawChannels(section) {
    const rows = arr(section.rows).filter(obj);
    const total = obj(section.total) || {};
    const series = obj(section.series) || {};
    channelsChart.replaceChildren(barChart({
      testid: 'reports-channels-chart',
      title: `Contacts by channel, ${R.loaded.date}`,
      desc: `${rows.map((r) => `${str(r.label)} ${count(r.total)} (${count(r.inbound)} in, ${count(r.outbound)} out)`).join('; ')}.`,
      labels: rows.map((r) => str(r.label)),
      series: [
        { key: 'inbound', name: 'inbound', cls: 'rp-c-inbound', values: arr(series.inbound) },
        { key: 'outbound', name: 'outbound', cls: 'rp-c-outbound', values: arr(series.outbound) },
      ],
    }));
    channelsTable.replaceChildren(table('reports-channels-table', 'Contacts by channel, both ways', [
      { label: 'Channel' }, { label: 'Inbound', num: true }, { label: 'Outbound', num: true }, { label: 'Total', num: true },
    ], rows.map((r) => h('tr', { 'data-testid': 'reports-channel-row', 'data-key': str(r.key) },
      h('th', { scope: 'row', text: str(r.label) }), td(count(r.inbound)), td(count(r.outbound)), td(count(r.total)))),
    h('tr', null, h('th', { scope: 'row', text: 'Total' }), td(count(total.inbound)), td(count(total.outbound)), td(count(total.total)))));
  }

  function drawCsat(section) {
    const total = obj(section.total) || {};
    const dist = obj(section.distribution) || {};
    const labels = arr(dist.labels).map(str);
    const values = arr(dist.counts);
    const answered = num(total.answered) || 0;
    csatFigures.replaceChildren(
      ...[
        ['asked', 'Surveys sent', count(total.asked)],
        ['answered', 'Answered', count(total.answered)],
        ['response', 'Response rate', pct(total.response_pct)],
        ['average', 'Average', num(total.average) === null ? '—' : total.average.toFixed(2)],
        ['satisfied', 'Satisfied (4–5)', pct(total.satisfied_pct)],
      ].map(([key, label, value]) => h('div', { class: 'figure' },
        h('dt', { text: label }), h('dd', { 'data-testid': `reports-csat-${key}`, text: value }))),
    );
    csatChart.replaceChildren(columnChart({
      testid: 'reports-csat-chart',
      svgClass: 'rp-svg-csat',
      title: `Customer ratings by score, ${R.loaded.date}`,
      desc: answered
        ? `${plural(answered, 'rating')}: ${labels.map((l, i) => `${count(values[i] || 0)} gave ${l}`).join(', ')}.`
        : 'No survey was answered.',
      labels,
      series: [{ key: 'ratings', one: 'rating', many: 'ratings', cls: 'rp-c-score', values }],
      showTotals: true,
      width: 420,
      height: 200,
      tickLabel: (label) => `★${label}`,
    }));
    for (const bar of csatChart.querySelectorAll('rect.rp-bar')) bar.classList.add(`rp-c-score-${bar.getAttribute('data-label')}`);
    const rows = arr(section.rows).filter(obj);
    csatTable.replaceChildren(rows.length ? table('reports-csat-table', 'Ratings by agent', [
      { label: 'Agent' }, { label: 'Sent', num: true }, { label: 'Answered', num: true },
      { label: 'Average', num: true }, { label: 'Satisfied', num: true },
    ], rows.map((r) => h('tr', { 'data-testid': 'reports-csat-row', 'data-key': str(r.key) },
      h('th', { scope: 'row', text: str(r.label) }), td(count(r.asked)), td(count(r.answered)),
      td(num(r.average) === null ? '—' : r.average.toFixed(2)), td(pct(r.satisfied_pct))))) : h('p', { class: 'empty-line', text: 'No survey sent this day.' }));
  }

  function drawAgents(section) {
    const rows = arr(section.rows).filter(obj);
    const total = obj(section.total) || {};
    const body = rows.map((r) => {
      const iface = str(r.interface);
      const tr = h('tr', {
        class: iface ? 'rp-clickable' : null, 'data-testid': 'reports-agent-row', 'data-key': str(r.key),
        title: iface ? `Show the calls of ${str(r.label)}` : null,
      },
      h('th', { scope: 'row' },
        iface
          ? h('button', { type: 'button', class: 'rp-link', text: str(r.label), 'aria-label': `Show the calls of ${str(r.label)}` })
          : h('span', { text: str(r.label) }),
        h('span', { class: 'cell-sub', text: [str(r.username), iface].filter(Boolean).join(' · ') })),
      td(count(r.handled), { 'data-testid': 'reports-agent-handled' }),
      td(count(r.outbound)),
      td(count(r.missed), { 'data-testid': 'reports-agent-missed' }),
      td(secs(r.talk_seconds)), td(secs(r.avg_talk_seconds)), td(secs(r.avg_wrapup_seconds)),
      td(secs(r.aht_seconds), { 'data-testid': 'reports-agent-aht' }),
      td(`${count(r.messages_in)} / ${count(r.messages_out)}`),
      td(num(r.csat_average) === null ? '—' : `${r.csat_average.toFixed(2)} (${count(r.csat_answered)})`, { 'data-testid': 'reports-agent-csat' }));
      if (iface) {
        tr.addEventListener('click', () => openDrill({
          title: `Calls of ${str(r.label)} (${iface})`,
          filter: { agent: iface, direction: 'all' },
          anchor: agentsBox,
          row: tr,
        }));
      }
      return tr;
    });
    const foot = h('tr', null, h('th', { scope: 'row', text: 'Total' }),
      td(count(total.handled)), td(count(total.outbound)), td(count(total.missed)),
      td(secs(total.talk_seconds)), td(secs(total.avg_talk_seconds)), td(secs(total.avg_wrapup_seconds)),
      td(secs(total.aht_seconds)), td(`${count(total.messages_in)} / ${count(total.messages_out)}`),
      td(num(total.csat_average) === null ? '—' : `${total.csat_average.toFixed(2)} (${count(total.csat_answered)})`));
    agentsTable.replaceChildren(rows.length ? table('reports-agents-table', 'Agent performance', [
      { label: 'Agent' }, { label: 'Handled', num: true }, { label: 'Outbound', num: true },
      { label: 'Missed', num: true }, { label: 'Talk', num: true }, { label: 'Avg talk', num: true },
      { label: 'Avg wrap-up', num: true }, { label: 'AHT', num: true }, { label: 'Messages in / out', num: true },
      { label: 'CSAT (ratings)', num: true },
    ], body, foot) : h('p', { class: 'empty-line', text: 'No agent took a call, a message or a rating this day.' }));
  }

  // ---------------------------------------------------------------- drill-down

  function closeDrill() {
    R.drill = null;
    drill.hidden = true;
    for (const tr of container.querySelectorAll('tr[aria-current]')) tr.removeAttribute('aria-current');
  }

  function openDrill({ title, filter, anchor, row }) {
    if (!R.loaded) return;
    for (const tr of container.querySelectorAll('tr[aria-current]')) tr.removeAttribute('aria-current');
    row.setAttribute('aria-current', 'true');
    const next = shiftDay(R.loaded.date, 1);
    R.drill = {
      params: { from: R.loaded.date, to: next, tz: R.loaded.tz, ...filter, limit: PAGE },
      shown: 0,
      cursor: null,
      done: false,
    };
    drillTitle.textContent = `${title} · ${R.loaded.date} (${R.loaded.tz})`;
    drill.dataset.filter = JSON.stringify(filter);
    drillBody.replaceChildren();
    kit.hideProblems(drillError);
    drillMore.hidden = true;
    drillMeta.textContent = 'Loading…';
    anchor.after(drill);
    drill.hidden = false;
    drillTitle.focus({ preventScroll: true });
    drill.scrollIntoView({ block: 'nearest' });
    drillPage();
  }

  async function drillPage() {
    const d = R.drill;
    if (!d || d.busy || d.done) return;
    d.busy = true;
    drillMore.disabled = true;
    const res = await api('GET', `/api/reports/calls/list${queryKeepingEmpty({ ...d.params, cursor: d.cursor || undefined })}`);
    d.busy = false;
    drillMore.disabled = false;
    if (R.drill !== d || res.unauthorized) return;
    if (!res.ok) {
      kit.showProblems(drillError, { message: errorOf(res, res.data).message });
      drillMeta.textContent = d.shown ? `${plural(d.shown, 'call')} shown` : '';
      return;
    }
    kit.hideProblems(drillError);
    const data = obj(res.data) || {};
    const calls = arr(data.calls).filter(obj);
    drillBody.append(...calls.map((c) => h('tr', { 'data-testid': 'reports-drill-row', 'data-linkedid': str(c.linkedid) },
      h('td', { title: str(c.started_at), text: clock(c.started_at) }),
      h('td', { class: 'mono', text: str(c.caller_num) || '—' }),
      h('td', { text: c.direction === 'outbound' ? 'Out' : 'In' }),
      h('td', { text: str(c.queue) || '—' }),
      h('td', { text: str(c.reason) || '—' }),
      h('td', { text: str(c.agent_name) || str(c.agent) || '—' }),
      h('td', { 'data-outcome': str(c.outcome), text: OUTCOMES[c.outcome] || str(c.outcome) || '—' }),
      td(secs(c.wait_seconds)),
      td(secs(c.talk_seconds)))));
    d.shown += calls.length;
    d.cursor = data.next_cursor || null;
    d.done = !d.cursor;
    drillMore.hidden = d.done;
    drillMeta.textContent = d.shown
      ? `${plural(d.shown, 'call')} shown${d.done ? ', all of them' : '; more are left'}`
      : 'No call.';
  }

  // ---------------------------------------------------------------- CSV

  /** Where each CSV comes from, over the day on screen. */
  function csvRequest(key) {
    const L = R.loaded;
    const range = { from: L.date, to: shiftDay(L.date, 1), tz: L.tz };
    switch (key) {
      case 'day': return { path: '/api/reports/day', params: { date: L.date, tz: L.tz, sl: L.sl }, name: `day-${L.date}.csv` };
      case 'queues': return { path: '/api/reports/calls', params: { ...range, by: 'queue', sl: L.sl }, name: `calls-by-queue-${L.date}.csv` };
      case 'hours': return { path: '/api/reports/calls', params: { ...range, by: 'hour', sl: L.sl }, name: `calls-by-hour-${L.date}.csv` };
      case 'reasons': return { path: '/api/reports/calls', params: { ...range, by: 'reason', sl: L.sl }, name: `calls-by-reason-${L.date}.csv` };
      case 'channels': return { path: '/api/reports/calls', params: { ...range, by: 'channel' }, name: `calls-by-channel-${L.date}.csv` };
      case 'agents': return { path: '/api/reports/agents', params: range, name: `agents-${L.date}.csv` };
      case 'csat': return { path: '/api/reports/csat', params: range, name: `csat-${L.date}.csv` };
      default: return null;
    }
  }

  /** Fetch a CSV with the bearer token and hand it to the browser as a download. */
  async function download(key, button) {
    if (!R.loaded || button.disabled) return;
    const request = csvRequest(key);
    const label = button.textContent;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = 'Preparing…';
    try {
      const { token } = session;
      let res;
      try {
        res = await fetch(`${request.path}${kit.query({ ...request.params, format: 'csv' })}`, {
          headers: { Accept: 'text/csv', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
          cache: 'no-store',
          credentials: 'same-origin',
        });
      } catch (_) {
        toast('Cannot reach the server. Check your connection and try again.');
        return;
      }
      if (res.status === 401) {
        await api('GET', '/api/auth/me'); // the console's own sign-out when the session is over
        return;
      }
      if (!res.ok) {
        let data = null;
        try {
          data = await res.json();
        } catch (_) { /* not JSON */ }
        toast(`The CSV could not be made: ${errorOf({ status: res.status }, data).message}`);
        return;
      }
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: fileName(res.headers.get('Content-Disposition'), request.name), hidden: true });
      container.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = label;
    }
  }

  load(true);
}
