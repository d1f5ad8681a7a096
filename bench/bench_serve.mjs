// bench_serve.mjs - corpus and ingest client for bench/bench_serve.sh.
//
//   node bench_serve.mjs corpus SHARED N [ROUND0]  JSONL on stdout: N documents, the og2021-dev
//        headlines and wmt21 articles repeated in rounds, each round with new ids and its dates
//        moved 40 days on, so the stream keeps producing new events (evaluation data, not copied
//        into the repository)
//   node bench_serve.mjs ingest URL SHARED SECONDS CLIENTS BATCH
//        CLIENTS concurrent clients POST BATCH documents per request (fresh ids) for SECONDS;
//        prints documents/s and the p50/p99 latency of the requests as JSON
//   node bench_serve.mjs load URL FILE BATCH
//        POSTs the JSONL FILE in requests of BATCH documents, one after the other
import fs from 'node:fs';
import path from 'node:path';

function base(shared) {
  const files = [path.join(shared, 'data/og2021-dev/docs.jsonl'), path.join(shared, 'data/wmt21/de-fr/docs.jsonl'),
    path.join(shared, 'data/wmt21/fr-de/docs.jsonl')];
  const docs = [];
  for (const f of files) {
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) if (line.trim()) docs.push(JSON.parse(line));
  }
  if (!docs.length) throw new Error('no benchmark documents under ' + shared + '/data');
  return docs;
}

function shift(date, days) {
  if (!date || !/^\d{4}-\d\d-\d\d/.test(date)) return date;
  const t = Date.parse(date.slice(0, 10) + 'T00:00:00Z') + days * 864e5;
  return new Date(t).toISOString().slice(0, 10) + date.slice(10);
}

function* stream(docs, n, round0 = 0, tag = 'b') {
  for (let i = 0; i < n; i++) {
    const round = round0 + Math.floor(i / docs.length), d = docs[i % docs.length];
    yield { ...d, id: `${tag}${round}-${d.id}`, published: shift(d.published, round * 40),
      published_at: d.published_at ? shift(d.published_at, round * 40) : undefined };
  }
}

function pct(a, p) {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : 0;
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'corpus') {
  const [shared, n, round0] = args;
  const out = [];
  for (const d of stream(base(shared), Number(n), Number(round0 || 0))) out.push(JSON.stringify(d));
  process.stdout.write(out.join('\n') + '\n');
} else if (cmd === 'ingest') {
  const [url, shared, seconds, clients, batch] = args;
  const docs = base(shared);
  const gen = stream(docs, 1e9, 1000, 'i' + process.pid + '-');
  const lat = [];
  let added = 0, failed = 0;
  const end = Date.now() + Number(seconds) * 1000;
  async function client() {
    while (Date.now() < end) {
      const body = [];
      for (let k = 0; k < Number(batch); k++) body.push(JSON.stringify(gen.next().value));
      const t0 = performance.now();
      const r = await fetch(url + '/api/documents', { method: 'POST', body: body.join('\n'), headers: { 'Content-Type': 'application/x-ndjson' } });
      const j = await r.json();
      lat.push(performance.now() - t0);
      if (r.status === 201) added += j.added; else failed++;
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Number(clients) }, client));
  const s = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ docs_per_s: +(added / s).toFixed(1), added, failed_requests: failed, requests: lat.length,
    p50_ms: +pct(lat, 50).toFixed(1), p99_ms: +pct(lat, 99).toFixed(1) }));
} else if (cmd === 'load') {
  const [url, file, batch] = args;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  const t0 = performance.now();
  let added = 0;
  for (let i = 0; i < lines.length; i += Number(batch)) {
    const r = await fetch(url + '/api/documents', { method: 'POST', body: lines.slice(i, i + Number(batch)).join('\n') });
    const j = await r.json();
    if (r.status >= 300) throw new Error('load: ' + JSON.stringify(j).slice(0, 300));
    added += j.added;
  }
  const s = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ added, seconds: +s.toFixed(1), docs_per_s: +(added / s).toFixed(1) }));
} else {
  console.error('usage: node bench_serve.mjs corpus SHARED N | ingest URL SHARED SECONDS CLIENTS BATCH | load URL FILE BATCH');
  process.exit(2);
}
