// service_bad.mjs - bad requests to `newsfold serve` get a 4xx with a JSON
// error and the server keeps serving: no or a wrong token, malformed JSON,
// invalid UTF-8, bodies over the limit (announced or chunked), missing
// fields, unknown routes and methods, bad parameters.
import path from 'node:path';
import { requireServe, workDir, startServer, http, syntheticDoc, check, done } from './service_lib.mjs';

requireServe();
const dir = workDir('service_bad');
const srv = await startServer(path.join(dir, 'store.db'), ['--token', 's3cret', '--body-limit', '1M']);
const base = srv.url;
const auth = { Authorization: 'Bearer s3cret' };
const good = syntheticDoc('good-1', 1, 0);

function isError(r, status, what) {
  return check(r.status === status && r.json && typeof r.json.error === 'string' && r.json.error.length > 0 &&
    /application\/json/.test(r.headers.get('content-type') || ''), `${what}: ${status} with a JSON error`, [r.status, r.text.slice(0, 200)]);
}

isError(await http(base, 'POST', '/api/documents', good), 401, 'no token');
isError(await http(base, 'POST', '/api/documents', good, { Authorization: 'Bearer wrong' }), 401, 'wrong token');
isError(await http(base, 'POST', '/api/documents', good, { Authorization: 's3cret' }), 401, 'token without Bearer');
isError(await http(base, 'POST', '/api/documents', '{"id": "x", "text": ', auth), 400, 'malformed JSON');
isError(await http(base, 'POST', '/api/documents', '', auth), 400, 'empty body');
const badUtf8 = Buffer.concat([Buffer.from('{"id":"u1","text":"caf'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
isError(await http(base, 'POST', '/api/documents', new Uint8Array(badUtf8), auth), 400, 'invalid UTF-8');
isError(await http(base, 'POST', '/api/documents', { text: 'no id here' }, auth), 400, 'missing id');
isError(await http(base, 'POST', '/api/documents', { id: 'no-text' }, auth), 400, 'missing text');
isError(await http(base, 'POST', '/api/documents', { id: 'h', html: '<p>x</p>' }, auth), 400, 'html without url');
isError(await http(base, 'POST', '/api/documents', [1, 2], auth), 400, 'array of non-objects');
isError(await http(base, 'POST', '/api/documents', '<html><body><p>x</p></body></html>', { ...auth, 'Content-Type': 'text/html' }), 400, 'HTML page without url');
const big = { id: 'big', text: 'word '.repeat(300000) }; // 1.5 MB
isError(await http(base, 'POST', '/api/documents', big, auth), 413, 'body over the limit (Content-Length)');
// the same without Content-Length: a chunked stream
const chunks = new ReadableStream({
  start(c) { for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('x'.repeat(100000))); c.close(); },
});
const res = await fetch(base + '/api/documents', { method: 'POST', body: chunks, duplex: 'half', headers: { ...auth, 'Content-Type': 'application/json' } });
const txt = await res.text();
check(res.status === 413 && JSON.parse(txt).error, 'chunked body over the limit: 413 with a JSON error', [res.status, txt.slice(0, 100)]);
// mixed batch: the good documents go in, the bad ones are named
const mixed = JSON.stringify(syntheticDoc('mix-1', 2, 0)) + '\n{"id": broken\n' + JSON.stringify({ id: 'mix-2' }) + '\n';
const m = await http(base, 'POST', '/api/documents', mixed, auth);
check(m.status === 201 && m.json.added === 1 && m.json.refused === 2 && m.json.documents[1].status === 400 &&
  /line 2/.test(m.json.documents[1].error) && m.json.documents[2].status === 400, 'JSONL with bad lines: the good one added, each bad one named', m.json);

isError(await http(base, 'GET', '/nope'), 404, 'unknown route');
isError(await http(base, 'GET', '/api/nope'), 404, 'unknown API route');
isError(await http(base, 'DELETE', '/api/events'), 405, 'DELETE on events');
isError(await http(base, 'GET', '/api/documents'), 405, 'GET on the ingest route');
isError(await http(base, 'GET', '/api/events/E999'), 404, 'no such event');
isError(await http(base, 'GET', '/api/events/bogus'), 404, 'malformed event id');
isError(await http(base, 'GET', '/api/storylines/S999'), 404, 'no such storyline');
isError(await http(base, 'GET', '/api/documents/none'), 404, 'no such document');
isError(await http(base, 'GET', '/api/events?limit=abc'), 400, 'bad limit');
isError(await http(base, 'GET', '/api/events?cursor=nonsense'), 400, 'bad cursor');
isError(await http(base, 'GET', '/api/search'), 400, 'search without q');

// still serving, and reads need no token
const ok = await http(base, 'POST', '/api/documents', good, auth);
check(ok.status === 201 && ok.json.added === 1, 'after all that, a good document with the token is added', ok.json);
check((await http(base, 'GET', '/healthz')).status === 200, 'healthz still ok');
check((await http(base, 'GET', '/api/documents/good-1')).status === 200, 'reads need no token');
await srv.stop();
done();
