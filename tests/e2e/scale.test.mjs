// "Repositories stays fast with 10,000 repositories": a registry of its own (Debian's
// docker-registry, distribution), seeded with 10,000 repositories, one cross-repository blob
// mount each (enough for the catalog to list a repository), then the repositories page through the
// same-origin proxy. Time bounds are generous ceilings, not benchmarks; the measured times are
// logged. Same environment as dashboard.test.mjs (PORTHOLE_E2E_DIST, PORTHOLE_E2E_OUT).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSite, closedPort } from './server.mjs';

const dist = path.resolve(process.env.PORTHOLE_E2E_DIST ?? 'target/e2e/dist');
const out = process.env.PORTHOLE_E2E_OUT ?? 'target/e2e';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const COUNT = 10_000;
const GROUPS = 20; // 500 repositories per namespace
const FIRST_ROWS = 100; // rows a group draws before its "Show more" (web/src/routes/repos.rs)
const name = (i) => `team-${String(i % GROUPS).padStart(2, '0')}/service-${String(i).padStart(5, '0')}`;

let dir;
let registryProcess;
let registry;
let site;
let browser;

async function api(method, url, expect) {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, { method });
      await res.arrayBuffer();
      if (res.status !== expect) throw new Error(`${method} ${url} answered ${res.status}`);
      return res;
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
}

async function pool(count, concurrency, task) {
  let next = 0;
  const worker = async () => { while (next < count) await task(next++); };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

before(async () => {
  fs.mkdirSync(out, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'porthole-10k-'));
  const port = new URL(await closedPort()).port;
  fs.writeFileSync(path.join(dir, 'config.yml'), [
    'version: 0.1',
    'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: "${dir}/data"`,
    '  maintenance:', '    uploadpurging:', '      enabled: false',
    'http:', `  addr: 127.0.0.1:${port}`, '  secret: porthole-e2e-10k', '',
  ].join('\n'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  registryProcess = spawn('/usr/bin/docker-registry', ['serve', path.join(dir, 'config.yml')],
    { env, stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'registry.log'), 'w')] });
  registry = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${registry}/v2/`)).ok) break; } catch { /* not up yet */ }
    if (i > 100) throw new Error(`docker-registry did not start: ${fs.readFileSync(path.join(dir, 'registry.log'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // One blob in the first repository (a monolithic upload), mounted into all the others.
  const started = Date.now();
  const blob = Buffer.from('{}');
  const digest = `sha256:${crypto.createHash('sha256').update(blob).digest('hex')}`;
  const first = name(0);
  const post = await api('POST', `${registry}/v2/${first}/blobs/uploads/`, 202);
  const put = new URL(post.headers.get('location'), registry);
  put.searchParams.set('digest', digest);
  const res = await fetch(put, { method: 'PUT', body: blob, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(res.status, 201, await res.text());
  await pool(COUNT - 1, 16, (i) =>
    api('POST', `${registry}/v2/${name(i + 1)}/blobs/uploads/?mount=${digest}&from=${first}`, 201));
  console.log(`# seeded ${COUNT} repositories in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  site = await startSite(dist, registry);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
  await site?.close();
  if (registryProcess && registryProcess.exitCode === null) {
    registryProcess.kill('SIGTERM');
    await new Promise((r) => registryProcess.once('exit', r));
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('repositories: 10,000 load, group and filter without stalling the page', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });

  const t0 = Date.now();
  await page.goto(`${site.url}/r/here`);
  const status = page.getByRole('status').filter({ hasText: /repositories/ });
  // The first rows show before the whole catalog is in.
  await page.locator('a[data-row]').first().waitFor({ timeout: 30_000 });
  const firstRows = Date.now() - t0;
  await status.filter({ hasText: new RegExp(`^${COUNT} repositories$`) }).waitFor({ timeout: 60_000 });
  const all = Date.now() - t0;
  console.log(`# first rows after ${firstRows} ms, all ${COUNT} after ${all} ms`);

  // Grouped by namespace, each group drawing only its first rows.
  assert.equal(await page.locator('.group-toggle').count(), GROUPS);
  assert.equal(await page.locator('a[data-row]').count(), GROUPS * FIRST_ROWS);
  assert.equal(await page.getByRole('button', { name: `Show more (${FIRST_ROWS} of ${COUNT / GROUPS} shown)` }).count(), GROUPS);

  // The page's main thread answers promptly once loaded.
  const t1 = Date.now();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  const frame = Date.now() - t1;
  assert.ok(frame < 2_000, `a frame took ${frame} ms`);
  await page.screenshot({ path: path.join(out, 'repositories-10k.png') });

  // Filtering to one repository takes effect within 5 s.
  const target = name(4242);
  const filter = page.getByLabel('Filter repositories');
  const t2 = Date.now();
  await filter.fill(target.split('/')[1]);
  await status.filter({ hasText: new RegExp(`^1 of ${COUNT} repositories$`) }).waitFor({ timeout: 5_000 });
  await page.getByRole('link', { name: target }).waitFor({ timeout: 5_000 });
  const filtered = Date.now() - t2;
  console.log(`# filtered to one after ${filtered} ms`);
  assert.equal(await page.locator('a[data-row]').count(), 1);
  await page.screenshot({ path: path.join(out, 'repositories-10k-filtered.png') });

  // And back to all of them.
  await filter.fill('');
  await status.filter({ hasText: new RegExp(`^${COUNT} repositories$`) }).waitFor({ timeout: 5_000 });
  assert.deepEqual(errors, []);
});

test('repositories: a thousand more namespaces draw 200 at a time', async () => {
  // 1,000 namespaces of one repository each, beside the 20 big ones: sorted first.
  const EXTRA = 1_000;
  const extra = (i) => `ns-${String(i).padStart(4, '0')}/app`;
  const blob = Buffer.from('{}');
  const digest = `sha256:${crypto.createHash('sha256').update(blob).digest('hex')}`;
  await pool(EXTRA, 16, (i) =>
    api('POST', `${registry}/v2/${extra(i)}/blobs/uploads/?mount=${digest}&from=${name(0)}`, 201));
  const total = COUNT + EXTRA;

  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${site.url}/r/here`);
  const status = page.getByRole('status').filter({ hasText: /repositories/ });
  await status.filter({ hasText: new RegExp(`^${total} repositories$`) }).waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('.group-toggle').count(), 200, 'only the first 200 namespaces are drawn');
  assert.equal(await page.locator('a[data-row]').count(), 200);
  const more = page.getByRole('button', { name: /^Show more namespaces/ });
  assert.equal(await more.textContent(), `Show more namespaces (${EXTRA + GROUPS - 200} more, ${total - 200} repositories)`);
  await more.click();
  await page.locator('.group-toggle').nth(399).waitFor();
  assert.equal(await page.locator('.group-toggle').count(), 400);
  assert.equal(await more.textContent(), `Show more namespaces (${EXTRA + GROUPS - 400} more, ${total - 400} repositories)`);

  // A filter searches all namespaces, drawn or not, and starts again from the first 200.
  await page.getByLabel('Filter repositories').fill('service-04242');
  await status.filter({ hasText: new RegExp(`^1 of ${total} repositories$`) }).waitFor({ timeout: 5_000 });
  assert.equal(await page.locator('.group-toggle').count(), 1);
  assert.equal(await more.count(), 0);
  await page.screenshot({ path: path.join(out, 'repositories-many-namespaces.png') });
  assert.deepEqual(errors, []);
});
