// service_concurrency.mjs - four clients ingest into `newsfold serve` at
// once (single documents and JSONL batches) while two read; every read
// answers 200 with JSON, and nothing acknowledged is lost.
import path from 'node:path';
import { requireServe, workDir, startServer, http, syntheticDoc, check, done } from './service_lib.mjs';

requireServe();
const dir = workDir('service_concurrency');
const srv = await startServer(path.join(dir, 'store.db'));
const base = srv.url;

const acked = new Set();
let writing = true, reads = 0, badReads = [];
const writeErrors = [];
async function writer(w) {
  for (let i = 0; i < 40;) {
    const n = i % 2 ? 3 : 1; // single documents and batches of three
    const docs = [];
    for (let k = 0; k < n && i < 40; k++, i++) docs.push(syntheticDoc(`w${w}-${i}`, (w * 7 + i) % 9, w * 100 + i));
    const body = docs.length === 1 ? docs[0] : docs.map((d) => JSON.stringify(d)).join('\n');
    const r = await http(base, 'POST', '/api/documents', body);
    if (r.status !== 201) writeErrors.push(r.text.slice(0, 200));
    else for (const a of r.json.documents) if (a.status === 201) acked.add(a.id);
  }
}
async function reader(k) {
  const paths = ['/api/events?limit=50', '/api/search?q=report', '/api/stats', '/api/events?q=' + (k ? 'variant' : 'ka'), '/healthz'];
  while (writing) {
    for (const p of paths) {
      const r = await http(base, 'GET', p);
      reads++;
      if (r.status !== 200 || !r.json) badReads.push(p + ' ' + r.status);
    }
  }
}
const readers = [reader(0), reader(1)];
await Promise.all([0, 1, 2, 3].map(writer));
writing = false;
await Promise.all(readers);

check(writeErrors.length === 0, 'every ingest answered 201', writeErrors);
check(acked.size === 160, '160 documents acknowledged', acked.size);
check(badReads.length === 0 && reads > 0, `${reads} concurrent reads all answered 200 with JSON`, badReads);
const missing = [];
for (const id of acked) if ((await http(base, 'GET', '/api/documents/' + id)).status !== 200) missing.push(id);
check(missing.length === 0, 'nothing acknowledged is lost', missing);
const st = (await http(base, 'GET', '/api/stats')).json;
check(st.documents === 160 && st.store.documents === 160, 'the store and the fold hold 160 documents', st);
console.log(`# ${st.groups} groups committed for ${st.added} documents`);
const ev = (await http(base, 'GET', '/api/events?limit=200')).json.events;
check(ev.reduce((s, e) => s + e.n_docs, 0) === 160, 'the events hold every document once');
await srv.stop();
done();
