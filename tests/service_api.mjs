// service_api.mjs - the API of `newsfold serve` over loopback: the seeds
// ingested one by one fold into the events and storyline of gold.json;
// ingesting again is idempotent; pagination, filters, search (CJK too),
// HTML pages, documents, stats, OpenAPI; a restart keeps everything and
// folding goes on into the same events.
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { requireServe, workDir, startServer, http, seedDocs, seedGold, syntheticDoc, check, done, die, BIN, SHARED } from './service_lib.mjs';

requireServe();
const dir = workDir('service_api');
const db = path.join(dir, 'store.db');
let srv = await startServer(db);
let base = srv.url;

// --- seeds one by one
const seeds = seedDocs();
const gold = seedGold();
for (const d of seeds) {
  const r = await http(base, 'POST', '/api/documents', d);
  const a = r.json && r.json.documents && r.json.documents[0];
  check(r.status === 201 && a && a.status === 201 && a.id === d.id && /^E\d+$/.test(a.event) && /^S\d+$/.test(a.storyline)
    && typeof a.role === 'string' && typeof a.relation === 'string' && typeof a.group === 'string',
  `seed ${d.id} added with group, relation, event and storyline`, r.json);
}

async function docOf(id) {
  const r = await http(base, 'GET', '/api/documents/' + encodeURIComponent(id));
  return r.status === 200 ? r.json : null;
}
async function checkGold(when) {
  const got = {};
  for (const d of seeds) got[d.id] = await docOf(d.id);
  check(Object.values(got).every(Boolean), `${when}: every seed readable`);
  // same gold event <=> same event; same gold storyline <=> same storyline
  const ids = seeds.map((d) => d.id);
  let agree = true;
  for (const a of ids) for (const b of ids) {
    const ge = gold.documents[a].event === gold.documents[b].event, pe = got[a].event === got[b].event;
    const gs = gold.documents[a].storyline === gold.documents[b].storyline, ps = got[a].storyline === got[b].storyline;
    if (ge !== pe || gs !== ps) agree = false;
  }
  check(agree, `${when}: events and storylines match gold.json`, Object.fromEntries(ids.map((i) => [i, [got[i].event, got[i].storyline]])));
  const tr = gold.pairs.find((p) => p.relation === 'translation');
  check(got[tr.b].role === 'translation' && got[tr.b].of === tr.a, `${when}: ${tr.b} is the translation of ${tr.a}`, got[tr.b]);
  const e1 = got[seeds[0].id].event;
  const ev = await http(base, 'GET', '/api/events/' + e1);
  check(ev.status === 200 && ev.json.documents.length === 4 && ev.json.n_docs === 4, `${when}: event ${e1} has its four reports`, ev.json && ev.json.n_docs);
  check(ev.json.documents.filter((d) => d.role === 'translation').length === 1 && ev.json.languages.includes('de'),
    `${when}: one translation (de) in ${e1}`);
  const sl = await http(base, 'GET', '/api/storylines/' + got[seeds[0].id].storyline);
  check(sl.status === 200 && sl.json.events.length === 2 && sl.json.n_docs === 5, `${when}: the storyline has both events and 5 documents`, sl.json);
  return got;
}
const before = await checkGold('live');

const list = await http(base, 'GET', '/api/events');
check(list.status === 200 && list.json.events.length === 2 && list.json.events[0].last_seen >= list.json.events[1].last_seen,
  'two events, newest first', list.json);

// --- idempotent
const jsonl = seeds.map((d) => JSON.stringify(d)).join('\n') + '\n';
const again = await http(base, 'POST', '/api/documents', jsonl, { 'Content-Type': 'application/x-ndjson' });
check(again.status === 200 && again.json.added === 0 && again.json.existing === 5 &&
  again.json.documents.every((a) => a.status === 200 && a.event === before[a.id].event),
'the seeds again (JSONL): 200, nothing added, same assignments', again.json);
let st = await http(base, 'GET', '/api/stats');
check(st.json.documents === 5 && st.json.store.documents === 5, 'still 5 documents', st.json);

// --- pagination over 25 more events (synthetic topics 5 days apart)
const batch = [];
for (let t = 0; t < 25; t++) batch.push(syntheticDoc(`syn-${t}`, t, 0));
const add = await http(base, 'POST', '/api/documents', batch);
check(add.status === 201 && add.json.added === 25, 'a JSON array of 25 documents added', add.json && add.json.added);
st = await http(base, 'GET', '/api/stats');
const seen = [];
let cursor = null, pages = 0, ordered = true, last = null;
do {
  const r = await http(base, 'GET', '/api/events?limit=7' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
  if (r.status !== 200) die('page: ' + r.text);
  for (const e of r.json.events) {
    if (last && (e.last_seen > last.last_seen || (e.last_seen === last.last_seen && Number(e.id.slice(1)) > Number(last.id.slice(1))))) ordered = false;
    last = e;
    seen.push(e.id);
  }
  cursor = r.json.next_cursor;
  pages++;
} while (cursor && pages < 50);
check(seen.length === st.json.events && new Set(seen).size === seen.length, `pages of 7 list all ${st.json.events} events once`, seen);
check(ordered && pages === Math.ceil(st.json.events / 7) + (st.json.events % 7 === 0 ? 1 : 0), 'pages newest first, cursor ends', pages);

// --- event numbers follow the time of their first report: the seeds' moved
const now = {};
for (const d of seeds) now[d.id] = await docOf(d.id);
check(now[seeds[0].id].event !== before[seeds[0].id].event, 'older events came in: the seed events were renumbered',
  [before[seeds[0].id].event, now[seeds[0].id].event]);
Object.assign(before, now);

// --- filters
const de = await http(base, 'GET', '/api/events?lang=de');
check(de.status === 200 && de.json.events.length === 1 && de.json.events[0].id === before[seeds[0].id].event, 'lang=de: the event with the German report', de.json);
const since = await http(base, 'GET', '/api/events?since=2024-06-20');
check(since.json.events.length === 1 && since.json.events[0].id === before[seeds[4].id].event, 'since=2024-06-20: the later seed event', since.json);
const q = await http(base, 'GET', '/api/events?q=' + encodeURIComponent('Hong-kyun'));
check(q.json.events.length === 1 && q.json.events[0].id === before[seeds[0].id].event, 'q=Hong-kyun: its event', q.json);

// --- search, CJK included
const cjk = { id: 'cjk-1', lang: 'ja', published: '2024-06-20', title: '北朝鮮とロシアの首脳会談', text: '北朝鮮とロシアの首脳会談が平壌で行われた。両国は包括的戦略パートナーシップ条約に署名した。' };
check((await http(base, 'POST', '/api/documents', cjk)).status === 201, 'a Japanese document added');
const s1 = await http(base, 'GET', '/api/search?q=' + encodeURIComponent('首脳会談'));
check(s1.status === 200 && s1.json.documents.some((d) => d.id === 'cjk-1'), 'search finds CJK text (4 characters, trigram index)', s1.json);
const s2 = await http(base, 'GET', '/api/search?q=' + encodeURIComponent('平壌'));
check(s2.status === 200 && s2.json.documents.some((d) => d.id === 'cjk-1'), 'search finds a 2-character CJK word', s2.json);
const s3 = await http(base, 'GET', '/api/search?q=Nordkorea');
check(s3.json.documents.length === 1 && s3.json.documents[0].id === '002_a47900e475f345e2.txt', 'search finds the German text', s3.json);
const s4 = await http(base, 'GET', '/api/search?q=' + encodeURIComponent('"unbalanced'));
check(s4.status === 200, 'search with a quote is no syntax error', s4.json);

// --- an HTML page with its url
const page = '<!doctype html><html lang="en"><head><title>Harbour reopens | Example News</title>' +
  '<meta property="og:site_name" content="Example News"><meta name="date" content="2024-07-02"></head><body>' +
  '<nav>Home | World | Sport</nav><article><h1>Harbour reopens after the storm</h1>' +
  '<p>The harbour of the coastal town reopened on Tuesday after a week of repairs to the breakwater, the port authority said.</p>' +
  '<p>Fishing boats returned to the quay in the morning, and ferry services to the islands resumed in the afternoon.</p>' +
  '<p>Engineers said the new concrete blocks should withstand storms of the same strength in future years.</p></article>' +
  '<footer>Copyright Example News</footer></body></html>';
const h = await http(base, 'POST', '/api/documents?url=' + encodeURIComponent('https://news.example/2024/07/02/harbour') + '&id=harbour-1',
  page, { 'Content-Type': 'text/html; charset=utf-8' });
check(h.status === 201 && h.json.documents[0].id === 'harbour-1', 'an HTML page added', h.json);
const hd = await docOf('harbour-1');
check(hd && /Harbour reopens/.test(hd.title) && /breakwater/.test(hd.text) && !/Copyright/.test(hd.text) && hd.url.startsWith('https://news.example/'),
  'the page was extracted (title, text without footer, url)', hd);
const hj = await http(base, 'POST', '/api/documents', { id: 'harbour-2', url: 'https://news.example/2024/07/02/harbour2', html: page });
check(hj.status === 201, 'an HTML page inside JSON ("html" with "url") added', hj.json);

// --- the rest of the API
const hz = await http(base, 'GET', '/healthz');
check(hz.status === 200 && hz.json.ok === true, '/healthz ok');
const oa = await http(base, 'GET', '/api/openapi.json');
check(oa.status === 200 && oa.json.openapi && oa.json.paths['/api/events'], '/api/openapi.json describes the API');
const ui = await http(base, 'GET', '/');
check(ui.status === 200 && /<script src="\/app.js"/.test(ui.text) && /script-src 'self'/.test(ui.headers.get('content-security-policy')),
  'the UI page, with a CSP that allows only scripts of this origin');
check(!/<script>/.test(ui.text), 'no inline script in the page');

// --- restart: same state, folding continues into the same events
const beforeEvents = (await http(base, 'GET', '/api/events?limit=200')).json.events.map((e) => e.id + ':' + e.n_docs).sort();
await srv.stop();
srv = await startServer(db);
base = srv.url;
const afterEvents = (await http(base, 'GET', '/api/events?limit=200')).json.events.map((e) => e.id + ':' + e.n_docs).sort();
check(JSON.stringify(beforeEvents) === JSON.stringify(afterEvents), 'after a restart: the same events', [beforeEvents.length, afterEvents.length]);
await checkGold('restarted');
const copy = { ...seeds[3], id: 'copy-of-003' };
const c = await http(base, 'POST', '/api/documents', copy);
const ca = c.json && c.json.documents[0];
check(c.status === 201 && ca.relation === 'exact' && ca.group === seeds[3].id && ca.event === before[seeds[3].id].event && ca.role === 'copy',
  'after the restart a copy joins its original\'s group and event', ca);
await srv.stop();

// --- newsfold run --db FILE writes a store that serve takes over
const runDb = path.join(dir, 'run.db');
const run = spawnSync(BIN, ['run', '-q', '-j', '2', '--db', runDb, '-o', path.join(dir, 'run-out'),
  path.join(SHARED, 'seeds')], { encoding: 'utf8' });
check(run.status === 1 && /gold.json/.test(run.stderr), 'newsfold run --db on the seeds (gold.json skipped)', run.stderr);
srv = await startServer(runDb);
base = srv.url;
await checkGold('run --db, then serve');
const again2 = spawnSync(BIN, ['run', '-q', '--db', runDb, '-o', path.join(dir, 'run-out2'), path.join(SHARED, 'seeds', seeds[0].id)], { encoding: 'utf8' });
check(again2.status === 2 && /already holds/.test(again2.stderr), 'run --db refuses a store that holds documents', again2.stderr);
const code = await srv.stop();
check(code === 0, 'SIGTERM: a clean stop (exit 0; under ASan: no leak)', srv.log().split('\n').slice(-12).join('\n'));
done();
