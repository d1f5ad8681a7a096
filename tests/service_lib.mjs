// service_lib.mjs - what the tests of `newsfold serve` share: arguments,
// skipping (exit 77), starting and stopping the server on a free loopback
// port with a fresh store, HTTP helpers and a synthetic document maker.
//
// usage of every service_*.mjs: node TEST.mjs NEWSFOLD SHARED_DIR SOURCE_DIR WORK_DIR
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const [BIN, SHARED, SRC, WORK_ROOT] = process.argv.slice(2);

export function skip(msg) {
  console.log('SKIP: ' + msg);
  process.exit(77);
}

let failures = 0;
export function check(cond, msg, detail) {
  if (cond) {
    console.log('ok - ' + msg);
  } else {
    failures++;
    console.log('not ok - ' + msg + (detail !== undefined ? ': ' + JSON.stringify(detail).slice(0, 400) : ''));
  }
  return cond;
}
export function done() {
  console.log(failures ? `FAILED: ${failures} checks` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}
export function die(msg) {
  console.log('FATAL: ' + msg);
  process.exit(1);
}

/* Skips unless this newsfold has `serve`. */
export function requireServe() {
  if (!BIN || !WORK_ROOT) die('usage: node TEST.mjs NEWSFOLD SHARED_DIR SOURCE_DIR WORK_DIR');
  const r = spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
  if (r.status !== 0) skip('newsfold serve is not available: ' + (r.stderr || '').trim().split('\n')[0]);
}

/* A fresh directory for this test (removed first). */
export function workDir(name) {
  const dir = path.join(WORK_ROOT, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/* Starts `newsfold serve`; resolves once it listens. */
export function startServer(db, extra = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['serve', '--db', db, '--listen', '127.0.0.1:0', '-j', '2', ...extra],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + log)), 120000);
    process.on('exit', () => { if (proc.exitCode === null) proc.kill('SIGKILL'); }); // a failed test leaves no server
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/[0-9.]+:[0-9]+)\//.exec(log);
      if (m && !proc.url) {
        clearTimeout(timer);
        proc.url = m[1];
        resolve({
          proc, url: m[1], log: () => log,
          stop: () => new Promise((res) => { proc.once('exit', res); proc.kill('SIGTERM'); }),
          kill: () => new Promise((res) => { proc.once('exit', res); proc.kill('SIGKILL'); }),
        });
      }
    });
    proc.once('exit', (code) => { clearTimeout(timer); if (!proc.url) reject(new Error(`server exited ${code}: ${log}`)); });
  });
}

/* One HTTP request: {status, json (or null), text, headers}. */
export async function http(base, method, p, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (!init.headers['Content-Type']) init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(base + p, init);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

/* The seed pages as JSON documents (id = file name), in name order. */
export function seedDocs() {
  const dir = path.join(SHARED, 'seeds');
  if (!fs.existsSync(dir)) skip('no seeds in ' + dir);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()
    .map((f) => ({ id: f, text: fs.readFileSync(path.join(dir, f), 'utf8') }));
}
export function seedGold() {
  return JSON.parse(fs.readFileSync(path.join(SHARED, 'seeds', 'gold.json'), 'utf8'));
}

/* Synthetic documents: topic t gets its own vocabulary, so documents of one
 * topic fold into one event and topics stay apart; day spreads the dates. */
const SYL = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'zi', 'be', 'do', 'fu', 'ga', 'hi', 'jo', 'pe', 'so'];
function word(n) {
  let w = '';
  do { w += SYL[n % 16]; n = Math.floor(n / 16); } while (n > 0);
  return w;
}
export function syntheticDoc(id, topic, variant, day = topic * 5) {
  const words = [];
  let x = topic * 7919 + 13;
  for (let i = 0; i < 90; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    words.push(word(400 + topic * 60 + (x % 50)));
  }
  const date = new Date(Date.UTC(2024, 0, 1) + day * 864e5).toISOString().slice(0, 10);
  const name = word(5000 + topic).replace(/^./, (c) => c.toUpperCase());
  const text = `${name} ${words.slice(0, 30).join(' ')}.\n\n${words.slice(30, 60).join(' ')} ${name}.\n\n` +
    `${words.slice(60).join(' ')} variant ${variant}.`;
  return { id, title: `${name} report ${variant}`, text, published: date, lang: 'en', source: `site${variant % 5}` };
}
