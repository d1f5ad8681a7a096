// service_browser.mjs - the web UI of `newsfold serve` in a real browser:
// Debian's chromium, headless, driven by playwright-core (npm, installed by
// scripts/setup.sh into .cache/node). Opens the desk, sees the seeds'
// storyline, clicks into the event, finds its four reports and the
// translation, checks that a hostile title renders as text, that the CSP
// forbids inline script, and that a new event appears without a reload.
// Screenshots: WORK_DIR/service_browser/ui.png (desktop) and ui-phone.png.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { requireServe, workDir, startServer, http, seedDocs, syntheticDoc, check, done, skip, SRC } from './service_lib.mjs';

requireServe();
const chromium = process.env.NF_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromium)) skip('no chromium at ' + chromium + ' (scripts/setup.sh installs it)');
let pw;
try {
  pw = createRequire(path.join(SRC, '.cache', 'node', 'package.json'))('playwright-core');
} catch {
  skip('playwright-core is not installed in .cache/node (scripts/setup.sh installs it)');
}
const dir = workDir('service_browser');
const srv = await startServer(path.join(dir, 'store.db'));
const base = srv.url;

const seeds = seedDocs();
for (const d of seeds) await http(base, 'POST', '/api/documents', d);
const hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
await http(base, 'POST', '/api/documents', { id: 'xss-1', title: hostile, published: '2024-05-01', lang: 'en',
  text: hostile + '\n\nA garden show opened in the old town hall, with roses, tulips and a prize for the largest pumpkin.' });
const e1 = (await http(base, 'GET', '/api/documents/' + seeds[0].id)).json;

const browser = await pw.chromium.launchPersistentContext(path.join(dir, 'profile'), {
  executablePath: chromium, headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1100, height: 900 },
});
try {
  const page = browser.pages()[0] || await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });

  await page.goto(base + '/');
  await page.waitForSelector('#events li[data-event]');
  const cards = await page.locator('#events li[data-event]').count();
  check(cards === 3, 'the desk lists three events (two from the seeds, one hostile)', cards);
  const storyLink = page.locator(`li[data-event="${e1.event}"] a[data-storyline="${e1.storyline}"]`);
  check(await storyLink.count() === 1, `the seed event shows its storyline ${e1.storyline}`);

  await storyLink.click();
  await page.waitForSelector('h1[data-storyline]');
  const slEvents = await page.locator('main li[data-event]').count();
  check(slEvents === 2, 'the storyline page shows its two events', slEvents);
  check(await page.locator('main svg.timeline circle').count() === 2, 'the storyline timeline has a dot per event');

  await page.locator(`main li[data-event="${e1.event}"] h3 a`).click();
  await page.waitForSelector('h1[data-event]');
  const reports = await page.locator('main li[data-doc]').count();
  check(reports === 4, 'the event page lists its four reports', reports);
  const tr = page.locator('section[data-role="translation"] li[data-doc]');
  check(await tr.count() === 1 && (await tr.getAttribute('data-doc')) === '002_a47900e475f345e2.txt' &&
    /Vizekanzler/.test(await tr.textContent()), 'the translation (German) is shown as a translation');
  check(await page.locator('section[data-role="original"] li[data-doc]').count() === 1, 'one original');
  const dots = page.locator('main svg.timeline circle');
  const box = await dots.first().boundingBox();
  check(await dots.count() === 4 && box && box.width > 4, 'the event timeline (SVG) shows a dot per report', box);
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, 'ui.png'), fullPage: true });
  check(fs.statSync(path.join(dir, 'ui.png')).size > 10000, 'screenshot saved: ' + path.join(dir, 'ui.png'));

  // the hostile title is text, and nothing ran
  await page.goto(base + '/#/');
  await page.waitForSelector('#events li[data-event]');
  const xssTitle = await page.locator('#events li[data-event] h3 a', { hasText: '<img' }).first().textContent();
  check(xssTitle === hostile, 'a title with <img onerror> and <script> renders as text', xssTitle);
  check(await page.locator('main img').count() === 0 && await page.locator('main script').count() === 0, 'no element came from the title');
  await page.goto(base + '/#/doc/xss-1');
  await page.waitForSelector('.text');
  check((await page.locator('.text').textContent()).startsWith(hostile), 'the document text renders as text too');
  check(await page.evaluate(() => window.__xss) === undefined, 'no injected script ran');
  const csp = (await http(base, 'GET', '/')).headers.get('content-security-policy');
  const inlineRan = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.body.appendChild(s);
    return window.__inline;
  });
  check(/script-src 'self'/.test(csp) && inlineRan === undefined, 'the CSP blocks inline script', csp);

  // a new event appears without a reload (polling)
  await page.goto(base + '/#/');
  await page.waitForSelector('#events li[data-event]');
  await http(base, 'POST', '/api/documents', syntheticDoc('live-1', 3, 0, 900));
  await page.waitForFunction(() => document.querySelectorAll('#events li[data-event]').length === 4, null, { timeout: 15000 })
    .then(() => check(true, 'a new event appears without a reload'), () => check(false, 'a new event appears without a reload'));

  // readable on a phone
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + '/#/event/' + e1.event);
  await page.waitForSelector('h1[data-event]');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, 'no horizontal scrolling on a 390 px wide phone', overflow);
  await page.screenshot({ path: path.join(dir, 'ui-phone.png'), fullPage: true });
  const unexpected = problems.filter((p) => !/Content Security Policy|__inline/.test(p));
  check(unexpected.length === 0, 'no script errors', problems);
} finally {
  await browser.close();
  await srv.stop();
}
done();
