/*
 * app.js - the newsfold desk: a hash-routed page over the JSON API.
 *
 *   #/                 latest events (counts, languages, sources), paginated
 *   #/event/E1         an event: its reports grouped by role, an SVG timeline
 *   #/storyline/S1     a storyline: its events in time order, a timeline
 *   #/search/QUERY     documents matching QUERY (titles and texts)
 *   #/doc/ID           one document with its text
 *
 * Every string from the API goes into the page through text nodes
 * (textContent, createTextNode): never as HTML, so a title like
 * "<img src=x onerror=...>" shows as those characters. The server's
 * Content-Security-Policy allows no inline script. New documents show up
 * without a reload: /api/stats is polled and the view redrawn when its
 * revision moves.
 */
'use strict';

const main = document.getElementById('main');
const statusLine = document.getElementById('status');
let revision = null;
let seenEvents = new Set();

/* el('a', {href: '#/'}, 'text', child...); 'svg:a' is an SVG link */
function el(tag, attrs, ...children) {
  const svg = tag.startsWith('svg:') || ['svg', 'circle', 'line', 'text', 'title', 'g', 'rect'].includes(tag);
  tag = tag.replace(/^svg:/, '');
  const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return node;
}

async function api(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function fail(err) {
  show(el('p', { class: 'error' }, 'Error: ' + err.message), el('p', {}, el('a', { href: '#/' }, 'Back to the latest events')));
}

function langBadges(langs) {
  return el('span', {}, ...(langs || []).map((l) => el('span', { class: 'badge', lang: l }, l)));
}

function dateRange(a, b) {
  if (!a) return 'undated';
  return a === b || !b ? a : a + ' – ' + b;
}

/* ------------------------------------------------------------ events */

function eventCard(e, fresh) {
  return el('li', { class: 'card' + (fresh ? ' new' : ''), 'data-event': e.id },
    el('h3', {}, el('a', { href: '#/event/' + e.id }, e.headline || e.id)),
    el('div', { class: 'meta' },
      el('span', {}, dateRange(e.first_seen, e.last_seen)),
      el('span', { 'data-count': 'docs' }, e.n_docs + (e.n_docs === 1 ? ' report' : ' reports')),
      el('span', {}, e.n_sources + (e.n_sources === 1 ? ' source' : ' sources')),
      langBadges(e.languages),
      el('a', { href: '#/storyline/' + e.storyline, 'data-storyline': e.storyline }, 'storyline ' + e.storyline)),
    e.sources && e.sources.length ? el('div', { class: 'meta' }, 'Sources: ' + e.sources.join(', ')) : null);
}

async function viewLatest() {
  const list = el('ul', { class: 'cards', id: 'events' });
  const more = el('button', { class: 'secondary', type: 'button' }, 'More events');
  let cursor = null;
  const known = new Set(seenEvents);
  async function page() {
    const data = await api('/api/events?limit=30' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    for (const e of data.events) {
      list.appendChild(eventCard(e, revision !== null && known.size > 0 && !known.has(e.id)));
      seenEvents.add(e.id);
    }
    cursor = data.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => page().catch(fail));
  await page();
  show(el('h1', {}, 'Latest events'),
    list.childElementCount ? list : el('p', { class: 'muted' }, 'No documents yet: POST some to /api/documents.'),
    more);
}

const ROLES = [
  ['original', 'Original'],
  ['copy', 'Copies'],
  ['translation', 'Translations'],
  ['report', 'Other reports'],
];
const ROLE_COLOR = { original: '#1f4e79', copy: '#8a8f98', translation: '#b35c00', report: '#2e7d32' };

function docItem(d) {
  return el('li', { class: 'role-' + d.role, 'data-doc': d.id },
    el('a', { href: '#/doc/' + encodeURIComponent(d.id) }, d.title || d.id),
    el('div', { class: 'meta' },
      el('span', {}, d.date || d.published || 'date unknown'),
      d.source ? el('span', {}, d.source) : null,
      d.lang ? el('span', { class: 'badge', lang: d.lang }, d.lang) : null,
      d.of ? el('span', {}, (d.role === 'copy' ? 'copy of ' : 'translation of ') + d.of) : null,
      d.url ? el('a', { href: d.url, rel: 'noopener noreferrer nofollow' }, 'source page') : null));
}

/* Dots on a time axis: items [{date, label, color, href}]. */
function timeline(items) {
  const W = 600, H = 84, pad = 30;
  const days = items.map((i) => (i.date ? Date.parse(i.date + 'T00:00:00Z') / 864e5 : NaN));
  const known = days.filter((d) => !Number.isNaN(d));
  const lo = known.length ? Math.min(...known) : 0, hi = known.length ? Math.max(...known) : 1;
  const span = Math.max(hi - lo, 1);
  const svg = el('svg', { class: 'timeline', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'timeline' },
    el('line', { x1: pad, y1: 52, x2: W - pad, y2: 52, stroke: '#d8dee4', 'stroke-width': 2 }));
  const stack = new Map();
  items.forEach((it, i) => {
    const d = Number.isNaN(days[i]) ? lo : days[i];
    const x = known.length && hi > lo ? pad + ((d - lo) / span) * (W - 2 * pad) : W / 2;
    const k = Math.round(x);
    const n = stack.get(k) || 0;
    stack.set(k, n + 1);
    const dot = el('circle', { cx: x, cy: 52 - n * 13, r: 6, fill: it.color },
      el('title', {}, (it.date || 'undated') + ' · ' + it.label));
    svg.appendChild(it.href ? el('svg:a', { href: it.href }, dot) : dot);
  });
  if (known.length) {
    svg.appendChild(el('text', { x: pad, y: 76, 'text-anchor': 'start' }, new Date(lo * 864e5).toISOString().slice(0, 10)));
    if (hi > lo) svg.appendChild(el('text', { x: W - pad, y: 76, 'text-anchor': 'end' }, new Date(hi * 864e5).toISOString().slice(0, 10)));
  }
  return svg;
}

async function viewEvent(id) {
  const e = await api('/api/events/' + encodeURIComponent(id));
  const sections = [];
  for (const [role, name] of ROLES) {
    const docs = e.documents.filter((d) => d.role === role);
    if (!docs.length) continue;
    sections.push(el('section', { 'data-role': role },
      el('h2', {}, name + ' (' + docs.length + ')'),
      el('ul', { class: 'docs' }, ...docs.map(docItem))));
  }
  const legend = el('div', { class: 'legend' }, ...ROLES.map(([role, name]) =>
    el('span', {}, el('span', { class: 'dot', style: null, 'data-color': role }), name)));
  legend.querySelectorAll('.dot').forEach((dot) => { dot.style.background = ROLE_COLOR[dot.dataset.color]; });
  show(el('p', {}, el('a', { href: '#/' }, '← Latest events'), ' · ',
    el('a', { href: '#/storyline/' + e.storyline }, 'Storyline ' + e.storyline)),
  el('h1', { 'data-event': e.id }, e.headline || e.id),
  el('div', { class: 'meta' }, el('span', {}, e.id), el('span', {}, dateRange(e.first_seen, e.last_seen)),
    el('span', {}, e.n_docs + ' reports'), el('span', {}, e.n_sources + ' sources'), langBadges(e.languages)),
  timeline(e.documents.map((d) => ({ date: d.date, label: (d.title || d.id) + ' (' + d.role + ')', color: ROLE_COLOR[d.role] || '#555', href: '#/doc/' + encodeURIComponent(d.id) }))),
  legend, ...sections);
}

async function viewStoryline(id) {
  const s = await api('/api/storylines/' + encodeURIComponent(id));
  show(el('p', {}, el('a', { href: '#/' }, '← Latest events')),
    el('h1', { 'data-storyline': s.id }, s.headline || s.id),
    el('div', { class: 'meta' }, el('span', {}, s.id), el('span', {}, dateRange(s.first_seen, s.last_seen)),
      el('span', {}, s.n_events + ' events'), el('span', {}, s.n_docs + ' reports')),
    timeline(s.events.map((e) => ({ date: e.first_seen, label: e.headline || e.id, color: '#1f4e79', href: '#/event/' + e.id }))),
    el('ul', { class: 'cards' }, ...s.events.map((e) => eventCard(e, false))));
}

async function viewSearch(q) {
  document.getElementById('q').value = q;
  const r = await api('/api/search?q=' + encodeURIComponent(q));
  show(el('h1', {}, 'Search: ', el('q', {}, q)),
    r.documents.length ? el('ul', { class: 'cards', id: 'results' }, ...r.documents.map((d) =>
      el('li', { class: 'card', 'data-doc': d.id },
        el('h3', {}, el('a', { href: '#/doc/' + encodeURIComponent(d.id) }, d.title || d.id)),
        el('div', { class: 'meta' }, el('span', {}, d.date || 'undated'), d.source ? el('span', {}, d.source) : null,
          d.lang ? el('span', { class: 'badge' }, d.lang) : null,
          d.event ? el('a', { href: '#/event/' + d.event }, 'event ' + d.event) : null),
        el('p', {}, d.snippet || ''))))
      : el('p', { class: 'muted' }, 'Nothing found.'));
}

async function viewDoc(id) {
  const d = await api('/api/documents/' + encodeURIComponent(id));
  show(el('p', {}, el('a', { href: '#/event/' + d.event }, '← Event ' + d.event)),
    el('h1', { lang: d.lang || null }, d.title || d.id),
    el('div', { class: 'meta' }, el('span', {}, d.id), el('span', {}, d.date || 'undated'),
      d.source ? el('span', {}, d.source) : null, d.lang ? el('span', { class: 'badge' }, d.lang) : null,
      el('span', {}, d.role + (d.of ? ' of ' + d.of : '')), el('span', {}, d.relation + (d.canonical && d.canonical !== d.id ? ' of ' + d.canonical : ''))),
    el('div', { class: 'text', lang: d.lang || null }, d.text || ''));
}

/* ------------------------------------------------------------ router */

function route() {
  const h = decodeURIComponent(location.hash.slice(1) || '/');
  const parts = h.split('/');
  if (parts[1] === 'event' && parts[2]) return viewEvent(parts[2]);
  if (parts[1] === 'storyline' && parts[2]) return viewStoryline(parts[2]);
  if (parts[1] === 'search') return viewSearch(parts.slice(2).join('/'));
  if (parts[1] === 'doc') return viewDoc(parts.slice(2).join('/'));
  return viewLatest();
}

function render() {
  return route().catch(fail);
}

async function poll() {
  try {
    const s = await api('/api/stats');
    statusLine.textContent = s.documents + ' documents · ' + s.events + ' events · ' + s.storylines + ' storylines';
    if (revision !== null && s.revision !== revision) {
      const h = location.hash;
      if (!h.startsWith('#/search') && !h.startsWith('#/doc')) await render();
    }
    revision = s.revision;
  } catch (e) {
    statusLine.textContent = 'offline: ' + e.message;
  }
}

document.getElementById('search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = document.getElementById('q').value.trim();
  if (q) location.hash = '#/search/' + encodeURIComponent(q);
});
window.addEventListener('hashchange', render);
render().then(poll);
setInterval(poll, 2000);
