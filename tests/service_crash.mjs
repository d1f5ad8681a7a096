// service_crash.mjs - `newsfold serve` killed with SIGKILL while four
// clients stream documents: after a restart every document that got a 2xx
// is there, PRAGMA integrity_check is ok, and new documents still fold into
// the events of the old ones.
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { requireServe, workDir, startServer, http, syntheticDoc, check, done, skip } from './service_lib.mjs';

requireServe();
if (spawnSync('sqlite3', ['-version']).status !== 0) skip('the sqlite3 command is not installed');
const dir = workDir('service_crash');
const db = path.join(dir, 'store.db');
let srv = await startServer(db);
const base0 = srv.url;

const acked = new Map(); // id -> assignment
let stopped = false, sent = 0;
async function client(w) {
  for (let i = 0; !stopped; i++) {
    const id = `crash-${w}-${i}`;
    sent++;
    try {
      const r = await http(base0, 'POST', '/api/documents', syntheticDoc(id, i % 6, w * 1000 + i));
      if (r.status === 200 || r.status === 201) acked.set(id, r.json.documents[0]);
    } catch {
      return; // the server is gone
    }
  }
}
const clients = [0, 1, 2, 3].map(client);
while (acked.size < 40) await new Promise((r) => setTimeout(r, 10));
await srv.kill();
stopped = true;
await Promise.all(clients);
console.log(`# killed after ${acked.size} acknowledged of ${sent} sent`);

const ic = spawnSync('sqlite3', [db, 'PRAGMA integrity_check;'], { encoding: 'utf8' });
check(ic.status === 0 && ic.stdout.trim() === 'ok', 'PRAGMA integrity_check: ok', ic.stdout + ic.stderr);

srv = await startServer(db);
const base = srv.url;
let missing = [];
for (const id of acked.keys()) {
  const r = await http(base, 'GET', '/api/documents/' + id);
  if (r.status !== 200) missing.push(id);
}
check(missing.length === 0, `every acknowledged document (${acked.size}) is there after the restart`, missing);
const st = (await http(base, 'GET', '/api/stats')).json;
check(st.documents >= acked.size && st.store.documents === st.documents, 'the fold holds every stored document', st);

// folding continues: a copy of an acknowledged document joins its group and event
const [someId] = acked.keys();
const orig = (await http(base, 'GET', '/api/documents/' + someId)).json;
const [w, i] = someId.split('-').slice(1).map(Number);
const copy = { ...syntheticDoc(someId, i % 6, w * 1000 + i), id: 'after-crash-copy' };
const r = await http(base, 'POST', '/api/documents', copy);
const a = r.json && r.json.documents[0];
// the group is named by its canonical, which the copy itself may become
// (same date and length as its original, and an id that sorts first)
const after = (await http(base, 'GET', '/api/documents/' + someId)).json;
check(r.status === 201 && a.relation !== 'unique' && a.group === after.canonical && a.event === orig.event &&
  after.event === orig.event,
  'after the restart a copy folds into the group and event of its original', [a, after.canonical, orig.event]);
const again = await http(base, 'POST', '/api/documents', syntheticDoc(someId, i % 6, w * 1000 + i));
check(again.status === 200 && again.json.existing === 1, 'an acknowledged document sent again is recognised', again.json);
await srv.stop();
done();
