// End-to-end tests of the dashboard's second part (upload, push as artifact, delete, locks) in
// headless Chromium against the test kit's real registry and ACR emulator, seeded by
// porthole-seed (sandbox/prune and sandbox/delete are there to be deleted from). Same
// environment as dashboard.test.mjs: PORTHOLE_E2E_JSON, PORTHOLE_E2E_DIST, PORTHOLE_E2E_OUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSite } from './server.mjs';
import { pushImage, tokenFor } from './push.mjs';

const kit = JSON.parse(process.env.PORTHOLE_E2E_JSON ?? '{}');
const dist = process.env.PORTHOLE_E2E_DIST ?? 'target/e2e/dist';
const out = process.env.PORTHOLE_E2E_OUT ?? 'target/e2e';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser;
let site;
const pageErrors = [];

before(async () => {
  assert.ok(kit.anonymous, 'PORTHOLE_E2E_JSON must hold the test kit line');
  fs.mkdirSync(out, { recursive: true });
  site = await startSite(path.resolve(dist), kit.anonymous);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
  await site?.close();
});

async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.on('dialog', (d) => { pageErrors.push(`dialog: ${d.message()}`); d.dismiss(); });
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
}

function noErrors() {
  assert.deepEqual(pageErrors.splice(0), [], 'the page raised errors or dialogs');
}

const sha256 = (bytes) => `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;

function randomBytes(size, seed) {
  // Deterministic, incompressible enough: a SHA-256 counter stream.
  const out = Buffer.alloc(size);
  for (let off = 0, n = 0; off < size; n++) {
    const block = crypto.createHash('sha256').update(`${seed}:${n}`).digest();
    off += block.copy(out, off);
  }
  return out;
}

async function tagsOf(repo) {
  const r = await fetch(`${kit.anonymous}/v2/${repo}/tags/list`);
  if (r.status === 404) return [];
  return (await r.json()).tags ?? [];
}

test('upload two files, push them as an artifact, read it back with skopeo', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/upload`);
  await page.getByTestId('dropzone').waitFor();
  const big = randomBytes(6 * 1024 * 1024 + 123, 'big');
  const small = Buffer.from('hello from porthole\n');
  await page.getByLabel('Choose files to upload').setInputFiles([
    { name: 'data.bin', mimeType: 'application/octet-stream', buffer: big },
    { name: 'notes.txt', mimeType: 'text/plain', buffer: small },
  ]);
  for (const [name, bytes] of [['data.bin', big], ['notes.txt', small]]) {
    const row = page.locator(`li.upload-row[data-file="${name}"]`);
    await row.locator('[data-state="done"]').waitFor({ timeout: 60_000 });
    assert.equal(await row.locator('[data-digest]').getAttribute('data-digest'), sha256(bytes));
  }
  await shot(page, 'upload-done');

  const form = page.getByRole('form', { name: 'Push as artifact' });
  assert.equal(await form.getByLabel('Artifact type').inputValue(), 'application/vnd.porthole.files');
  await form.getByLabel('Tag').fill('files-1');
  await form.getByLabel(/Annotations/).fill('org.example.note=dropped in a browser\nbuild=42');
  const pushedAfter = Date.now();
  await form.getByRole('button', { name: 'Push as artifact' }).click();
  await page.waitForURL(/\/manifest\/sandbox\/upload:files-1$/, { timeout: 30_000 });
  await page.getByText('application/vnd.porthole.files').first().waitFor();
  await page.getByText('dropped in a browser').first().waitFor();
  await shot(page, 'artifact-manifest');
  // Dated as oras dates its pushes: the tags page shows when, and can sort by it.
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'sandbox/upload' }).click();
  const row = page.locator('table.tags tr', { has: page.getByRole('link', { name: 'files-1', exact: true }) });
  const today = new Date(pushedAfter).toISOString().slice(0, 10);
  await row.getByText(new RegExp(`^${today} \\d\\d:\\d\\d UTC$`)).waitFor({ timeout: 30_000 });

  // skopeo talks to the registry itself, not through the page's proxy.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'porthole-oci-'));
  try {
    const host = new URL(kit.anonymous).host;
    execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${host}/sandbox/upload:files-1`, `oci:${dir}:files-1`], { stdio: 'pipe' });
    const blob = (d) => fs.readFileSync(path.join(dir, 'blobs', ...d.split(':')));
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    const manifest = JSON.parse(blob(index.manifests[0].digest));
    assert.equal(manifest.artifactType, 'application/vnd.porthole.files');
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.empty.v1+json');
    assert.equal(manifest.annotations.build, '42');
    const created = Date.parse(manifest.annotations['org.opencontainers.image.created']);
    assert.ok(created >= pushedAfter - 1000 && created <= Date.now(), manifest.annotations['org.opencontainers.image.created']);
    const files = Object.fromEntries(manifest.layers.map((l) => [l.annotations['org.opencontainers.image.title'], blob(l.digest)]));
    assert.ok(files['data.bin'].equals(big), 'data.bin comes back the same');
    assert.ok(files['notes.txt'].equals(small), 'notes.txt comes back the same');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  noErrors();
  await page.context().close();
});

test('files dropped on the page (a synthetic drop) are uploaded', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/upload`);
  const zone = page.getByTestId('dropzone');
  await zone.waitFor();
  const text = 'dropped, not picked\n'.repeat(1000);
  const transfer = await page.evaluateHandle((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([t], 'dropped.txt', { type: 'text/plain' }));
    return dt;
  }, text);
  await zone.dispatchEvent('dragover', { dataTransfer: transfer });
  await zone.dispatchEvent('drop', { dataTransfer: transfer });
  const row = page.locator('li.upload-row[data-file="dropped.txt"]');
  await row.locator('[data-state="done"]').waitFor({ timeout: 30_000 });
  assert.equal(await row.locator('[data-digest]').getAttribute('data-digest'), sha256(Buffer.from(text)));
  noErrors();
  await page.context().close();
});

test('uploads the registry refuses say once how to sign in again, above their rows', async () => {
  const page = await newPage();
  // A registry that wants credentials this page does not have: every upload session refused.
  await page.route((url) => url.pathname.endsWith('/blobs/uploads/'), (route) => route.fulfill({
    status: 401,
    contentType: 'application/json',
    headers: { 'WWW-Authenticate': 'Basic realm="registry"' },
    body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
  }));
  await page.goto(`${site.url}/r/here/repo/sandbox/refused`);
  const zone = page.getByTestId('dropzone');
  await zone.waitFor();
  const transfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    for (const name of ['a.txt', 'b.txt']) dt.items.add(new File([`${name}\n`], name, { type: 'text/plain' }));
    return dt;
  });
  await zone.dispatchEvent('dragover', { dataTransfer: transfer });
  await zone.dispatchEvent('drop', { dataTransfer: transfer });
  for (const name of ['a.txt', 'b.txt']) {
    await page.locator(`li.upload-row[data-file="${name}"] [data-state="failed"]`).waitFor({ timeout: 30_000 });
  }
  const refused = page.getByTestId('push-refused');
  await refused.waitFor();
  assert.equal(await refused.count(), 1, 'said once');
  assert.match(await refused.getByRole('link').getAttribute('href'), /^\/\?id=here&next=/);
  noErrors();
  await page.context().close();
});

/** Writes `files` ({ relative path: contents }) under a new temporary folder named `name`. */
function folderOf(name, files) {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'porthole-folder-')), name);
  for (const [file, bytes] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), bytes);
  }
  return root;
}

test('a picked folder uploads every file in it by its path, three at a time; cancel, retry and push wait their turn', async () => {
  const files = {
    'index.html': Buffer.from('<h1>site</h1>\n'),
    'notes.txt': Buffer.from('notes\n'),
    'css/main.css': Buffer.from('body { margin: 0 }\n'),
    'img/a.bin': randomBytes(300_000, 'folder-a'),
    'img/icons/b.bin': randomBytes(200_000, 'folder-b'),
  };
  const root = folderOf('site', files);
  const page = await newPage();
  // The bytes of the first three sessions are held until `release`, the fourth's until
  // `releaseFourth`, later ones not at all; session cancels (DELETE) until `releaseDeletes`.
  const gate = () => { let open; const closed = new Promise((r) => { open = r; }); return [closed, open]; };
  const [held, release] = gate();
  const [heldFourth, releaseFourth] = gate();
  const [deletesHeld, releaseDeletes] = gate();
  const sessions = [];
  let deletes = 0;
  await page.route('**/v2/sandbox/upload/blobs/uploads/**', async (route) => {
    const method = route.request().method();
    if (method === 'PATCH' || method === 'PUT') {
      const session = new URL(route.request().url()).pathname;
      if (!sessions.includes(session)) sessions.push(session);
      const n = sessions.indexOf(session) + 1;
      if (n <= 3) await held;
      else if (n === 4) await heldFourth;
    } else if (method === 'DELETE') {
      deletes += 1;
      await deletesHeld;
    }
    try { await route.continue(); } catch { /* the page aborted it already */ }
  });
  await page.goto(`${site.url}/r/here/repo/sandbox/upload`);
  await page.getByLabel('Choose a folder to upload').setInputFiles(root);
  const row = (file) => page.locator(`li.upload-row[data-file="site/${file}"]`);
  const state = (file) => row(file).locator('.upload-state').getAttribute('data-state');
  await expectSoon(() => sessions.length === 3, 'three uploads sending');
  assert.equal(await page.locator('li.upload-row').count(), 5);
  assert.deepEqual(await Promise.all(['index.html', 'notes.txt'].map(state)), ['queued', 'queued'],
    'the fourth and fifth file (by path) wait their turn');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(sessions.length, 3, 'no fourth upload while three are held');

  // A waiting file is cancelled without ever starting (each row's buttons name their file).
  await row('notes.txt').getByRole('button', { name: 'Cancel the upload of site/notes.txt', exact: true }).click();
  assert.equal(await state('notes.txt'), 'cancelled');
  // A sending one is cancelled: its place goes to the next in line at once.
  await row('css/main.css').getByRole('button', { name: 'Cancel' }).click();
  await expectSoon(() => sessions.length === 4, 'index.html sending in the freed place');
  await expectSoon(() => deletes === 1, 'the DELETE of the cancelled session');
  // Retried while its cancelled run still cleans up and the three places are taken: it waits,
  // and the old run ending (its DELETE answered now) must not take the row over.
  await row('css/main.css').getByRole('button', { name: 'Retry' }).click();
  assert.equal(await state('css/main.css'), 'queued');
  const deleteAnswered = page.waitForResponse((r) => r.request().method() === 'DELETE');
  releaseDeletes();
  await deleteAnswered;
  // The old run ends a few tasks after its DELETE is answered.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await state('css/main.css'), 'queued', 'the cancelled run left the retried row alone');
  // index.html lands, then main.css takes its place and lands; two files are still held.
  releaseFourth();
  for (const file of ['index.html', 'css/main.css']) {
    await row(file).locator('[data-state="done"]').waitFor({ timeout: 30_000 });
  }
  const form = page.getByRole('form', { name: 'Push as artifact' });
  const push = form.getByRole('button', { name: 'Push as artifact' });
  assert.ok(await push.isDisabled(), 'no push while files are still uploading');
  await form.getByText('2 files are not uploaded yet').waitFor();
  await row('notes.txt').getByRole('button', { name: 'Retry the upload of site/notes.txt', exact: true }).click();
  await row('notes.txt').locator('[data-state="done"]').waitFor({ timeout: 30_000 });
  release();
  for (const [file, bytes] of Object.entries(files)) {
    await row(file).locator('[data-state="done"]').waitFor({ timeout: 60_000 });
    assert.equal(await row(file).locator('[data-digest]').getAttribute('data-digest'), sha256(bytes));
  }
  assert.ok(await push.isEnabled());
  await shot(page, 'upload-folder');

  await form.getByLabel('Tag').fill('folder-1');
  await form.getByRole('button', { name: 'Push as artifact' }).click();
  await page.waitForURL(/\/manifest\/sandbox\/upload:folder-1$/, { timeout: 30_000 });
  const manifest = await (await fetch(`${kit.anonymous}/v2/sandbox/upload/manifests/folder-1`, {
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  })).json();
  const titles = manifest.layers.map((l) => l.annotations['org.opencontainers.image.title']);
  assert.deepEqual(titles, Object.keys(files).map((f) => `site/${f}`).sort());
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
  noErrors();
  await page.context().close();
});

/** Drops these paths (files and folders) of this machine on `target`, as the OS does (CDP). */
async function dropPaths(page, target, paths) {
  const box = await target.boundingBox();
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const cdp = await page.context().newCDPSession(page);
  const data = { items: [], files: paths, dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop']) {
    await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  }
  await cdp.detach();
}

test('a dropped folder uploads the files inside it by their paths; an empty folder or text says so', async () => {
  const files = { 'a.txt': Buffer.from('a\n'), 'deep/er/b.bin': randomBytes(100_000, 'drop-b') };
  const root = folderOf('docs', files);
  const loose = path.join(path.dirname(root), 'loose.txt');
  fs.writeFileSync(loose, 'beside the folder\n');
  const empty = path.join(path.dirname(root), 'empty');
  fs.mkdirSync(empty);
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/upload`);
  const zone = page.getByTestId('dropzone');
  await zone.waitFor();
  await dropPaths(page, zone, [root, loose]);
  const expected = { ...Object.fromEntries(Object.entries(files).map(([f, b]) => [`docs/${f}`, b])),
    'loose.txt': fs.readFileSync(loose) };
  for (const [name, bytes] of Object.entries(expected)) {
    const row = page.locator(`li.upload-row[data-file="${name}"]`);
    await row.locator('[data-state="done"]').waitFor({ timeout: 30_000 });
    assert.equal(await row.locator('[data-digest]').getAttribute('data-digest'), sha256(bytes));
  }
  assert.equal(await page.locator('li.upload-row').count(), 3);
  await dropPaths(page, zone, [empty]);
  await zone.getByTestId('upload-notice').filter({ hasText: 'no files in what was dropped' }).waitFor();
  // Said through the page's live region too, which is there from the start.
  await page.locator('#announcer[role="status"]', { hasText: 'no files in what was dropped' }).waitFor({ state: 'attached' });
  assert.equal(await page.locator('li.upload-row').count(), 3, 'nothing added for an empty folder');
  // Dragged text is not a file.
  const text = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.setData('text/plain', 'just words');
    return dt;
  });
  await zone.dispatchEvent('drop', { dataTransfer: text });
  await zone.getByTestId('upload-notice').filter({ hasText: 'Only files and folders can be uploaded' }).waitFor();
  assert.equal(await page.locator('li.upload-row').count(), 3);
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
  noErrors();
  await page.context().close();
});

test('a drop made while an earlier one is still being read keeps its own notice', async () => {
  const slow = folderOf('slow', { 'late.txt': Buffer.from('late\n') });
  const empty = path.join(path.dirname(slow), 'hollow');
  fs.mkdirSync(empty);
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/upload`);
  // The browser lists the slow folder's entries only after 2.5 s.
  // (The reader's interface is not a global in Chromium: it is reached through a dropped
  // folder's entry.)
  await page.evaluate(() => {
    const getEntry = DataTransferItem.prototype.webkitGetAsEntry;
    let patched = false;
    DataTransferItem.prototype.webkitGetAsEntry = function () {
      const entry = getEntry.call(this);
      if (entry?.isDirectory && !patched) {
        patched = true;
        const reader = Object.getPrototypeOf(entry.createReader());
        const read = reader.readEntries;
        reader.readEntries = function (ok, fail) {
          read.call(this, (entries) => {
            const late = entries.some((e) => e.fullPath.startsWith('/slow/'));
            setTimeout(() => ok(entries), late ? 2500 : 0);
          }, fail);
        };
      }
      return entry;
    };
  });
  const zone = page.getByTestId('dropzone');
  await dropPaths(page, zone, [slow]);
  await zone.getByTestId('upload-notice').filter({ hasText: 'Reading what was dropped…' }).waitFor();
  await dropPaths(page, zone, [empty]);
  const newer = zone.getByTestId('upload-notice').filter({ hasText: 'no files in what was dropped' });
  await newer.waitFor();
  // The slow folder's file comes in after all; the newer drop's notice stays.
  await page.locator('li.upload-row[data-file="slow/late.txt"] [data-state="done"]').waitFor({ timeout: 30_000 });
  assert.equal(await newer.count(), 1, 'the earlier drop replaced the newer one\'s notice');
  fs.rmSync(path.dirname(slow), { recursive: true, force: true });
  noErrors();
  await page.context().close();
});

/** Connects `page` to the ACR emulator with the owner's Entra ID token; resolves on its list. */
async function connectAcr(page, { keepSecret = false } = {}) {
  await page.goto(`${site.url}/`);
  await page.getByLabel('Registry address').fill(kit.acr);
  await page.getByLabel('ACR with an Entra ID token').check();
  await page.locator('input[name="secret"]').fill(kit.acr_auth.aad_tokens.owner);
  if (keepSecret) await page.getByLabel(/Keep the secret/).check();
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByRole('link', { name: 'apps/web' }).waitFor({ timeout: 30_000 });
}

test('ACR: a folder asks for its token once, reusing the connection\'s refresh token', { skip: !kit.acr && 'no ACR emulator' }, async () => {
  const page = await newPage();
  await connectAcr(page);
  await page.getByRole('link', { name: 'apps/web' }).click();
  await page.getByTestId('dropzone').waitFor();
  // Token requests from now on: the path, and the scope asked (the page may still be loading
  // ACR metadata, with a scope of its own).
  const tokenRequests = [];
  page.on('request', (r) => {
    const { pathname } = new URL(r.url());
    if (!pathname.startsWith('/oauth2/')) return;
    const scope = new URLSearchParams(r.postData() ?? '').get('scope') ?? '';
    tokenRequests.push(`${pathname} ${scope}`);
  });
  const files = Object.fromEntries([1, 2, 3, 4, 5].map((n) => [`part-${n}.txt`, Buffer.from(`part ${n}\n`)]));
  const root = folderOf('parts', files);
  await page.getByLabel('Choose a folder to upload').setInputFiles(root);
  for (const [file, bytes] of Object.entries(files)) {
    const row = page.locator(`li.upload-row[data-file="parts/${file}"]`);
    await row.locator('[data-state="done"]').waitFor({ timeout: 30_000 });
    assert.equal(await row.locator('[data-digest]').getAttribute('data-digest'), sha256(bytes));
  }
  // The refresh token from connecting is kept (no new exchange), and the access token with push
  // scope is asked once for the five files, though three uploads start together: with a client
  // per file, each exchanged and asked anew (11 requests here), and the three uploads that
  // start together each asked (3) before the client's token fetches were shared.
  const asked = JSON.stringify(tokenRequests);
  assert.ok(!tokenRequests.some((t) => t.startsWith('/oauth2/exchange')), asked);
  assert.equal(tokenRequests.filter((t) => t.includes('push')).length, 1, asked);
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
  noErrors();
  await page.context().close();
});

test('a chunk lost on the network is resumed, the blob lands whole', async () => {
  const page = await newPage();
  let failed = 0;
  let patches = 0;
  await page.route('**/v2/sandbox/upload/blobs/uploads/**', async (route) => {
    if (route.request().method() === 'PATCH') {
      patches += 1;
      if (patches === 1) {
        failed += 1;
        await route.abort('connectionreset');
        return;
      }
      // Hold the resent chunk a moment, so the row's "resuming" state is there to be seen.
      if (patches === 2) await new Promise((r) => setTimeout(r, 1500));
    }
    await route.continue();
  });
  await page.goto(`${site.url}/r/here/repo/sandbox/upload`);
  const bytes = randomBytes(20 * 1024 * 1024 + 7, 'resume');
  await page.getByLabel('Choose files to upload').setInputFiles([
    { name: 'resumed.bin', mimeType: 'application/octet-stream', buffer: bytes },
  ]);
  const row = page.locator('li.upload-row[data-file="resumed.bin"]');
  await row.locator('[data-state="resuming"]').getByText('resuming after an error…').waitFor({ timeout: 30_000 });
  await row.locator('[data-state="done"]').waitFor({ timeout: 60_000 });
  assert.equal(failed, 1, 'one chunk was lost on the way');
  assert.equal(await row.locator('[data-digest]').getAttribute('data-digest'), sha256(bytes));
  const check = await fetch(`${kit.anonymous}/v2/sandbox/upload/blobs/${sha256(bytes)}`, { method: 'HEAD' });
  assert.equal(check.status, 200);
  noErrors();
  await page.context().close();
});

test('a session the registry lost mid-upload: the file starts over, and the row says so', async () => {
  const page = await newPage();
  let patches = 0;
  await page.route('**/v2/sandbox/upload/blobs/uploads/**', async (route) => {
    if (route.request().method() === 'PATCH') {
      patches += 1;
      if (patches === 2) {
        // As distribution answers once it purged or expired the session.
        const body = JSON.stringify({ errors: [{ code: 'BLOB_UPLOAD_UNKNOWN', message: 'blob upload unknown to registry' }] });
        await route.fulfill({ status: 404, contentType: 'application/json', body });
        return;
      }
      // Hold the new session's first chunk a moment, so the row's state is there to be seen.
      if (patches === 3) await new Promise((r) => setTimeout(r, 1500));
    }
    await route.continue();
  });
  await page.goto(`${site.url}/r/here/repo/sandbox/upload`);
  const bytes = randomBytes(20 * 1024 * 1024 + 11, 'restart');
  await page.getByLabel('Choose files to upload').setInputFiles([
    { name: 'restarted.bin', mimeType: 'application/octet-stream', buffer: bytes },
  ]);
  const row = page.locator('li.upload-row[data-file="restarted.bin"]');
  await row.locator('[data-state="restarting"]')
    .getByText('starting over: the registry lost the upload session…').waitFor({ timeout: 30_000 });
  await row.locator('[data-state="done"]').waitFor({ timeout: 60_000 });
  assert.equal(await row.locator('[data-digest]').getAttribute('data-digest'), sha256(bytes));
  noErrors();
  await page.context().close();
});

test('the push form: a name twice is refused until one is removed; failed files are named, retried all at once', async () => {
  const page = await newPage();
  // The first PATCH of each of the two files called fail-*.bin is refused once.
  const refusedOnce = new Set();
  await page.route('**/v2/sandbox/panel/blobs/uploads/**', async (route) => {
    const request = route.request();
    if (request.method() === 'PATCH' && refusedOnce.size < 2 && !refusedOnce.has(request.url().split('?')[0])) {
      refusedOnce.add(request.url().split('?')[0]);
      const body = JSON.stringify({ errors: [{ code: 'DENIED', message: 'not now' }] });
      return route.fulfill({ status: 403, contentType: 'application/json', body });
    }
    return route.continue();
  });
  await page.goto(`${site.url}/r/here/repo/sandbox/panel`);
  const picker = page.getByLabel('Choose files to upload');
  await picker.setInputFiles([
    { name: 'fail-a.bin', mimeType: 'application/octet-stream', buffer: randomBytes(1000, 'fa') },
    { name: 'fail-b.bin', mimeType: 'application/octet-stream', buffer: randomBytes(1000, 'fb') },
  ]);
  const form = page.getByRole('form', { name: 'Push as artifact' });
  await page.locator('li.upload-row[data-file="fail-a.bin"] [data-state="failed"]').waitFor();
  await page.locator('li.upload-row[data-file="fail-b.bin"] [data-state="failed"]').waitFor();
  await picker.setInputFiles([{ name: 'same.txt', mimeType: 'text/plain', buffer: Buffer.from('one\n') }]);
  await picker.setInputFiles([{ name: 'same.txt', mimeType: 'text/plain', buffer: Buffer.from('two\n') }]);
  await expectSoon(async () => (await page.locator('li.upload-row[data-file="same.txt"] [data-state="done"]').count()) === 2, 'both uploads');
  await form.getByTestId('failed-left-out').getByText('2 files failed and are left out of the artifact').waitFor();
  await form.getByLabel('Tag').fill('panel-1');
  await form.getByRole('button', { name: 'Push as artifact' }).click();
  await form.getByRole('alert').getByText('More than one file is named same.txt').waitFor();
  await page.getByRole('button', { name: 'Remove same.txt' }).first().click();
  assert.equal(await page.locator('li.upload-row[data-file="same.txt"]').count(), 1);
  // Retry all failed: both go again, and land.
  await page.getByRole('button', { name: 'Retry all failed (2)' }).click();
  await page.locator('li.upload-row[data-file="fail-a.bin"] [data-state="done"]').waitFor();
  await page.locator('li.upload-row[data-file="fail-b.bin"] [data-state="done"]').waitFor();
  await form.getByRole('button', { name: 'Push as artifact' }).click();
  await page.waitForURL(/\/manifest\/sandbox\/panel:panel-1$/);
  noErrors();
  await page.context().close();
});

test('a file added while a push runs: the push stays on the page and links the artifact; a drop beside the zone opens nothing', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/panel`);
  const picker = page.getByLabel('Choose files to upload');
  await picker.setInputFiles([{ name: 'early.txt', mimeType: 'text/plain', buffer: Buffer.from('early\n') }]);
  await page.locator('li.upload-row[data-file="early.txt"] [data-state="done"]').waitFor();
  // The manifest PUT is held, and so is the first chunk of the file added meanwhile.
  const manifestPut = holdFirst((r) => r.method() === 'PUT');
  await page.route('**/v2/sandbox/panel/manifests/panel-2', manifestPut.handler);
  const form = page.getByRole('form', { name: 'Push as artifact' });
  await form.getByLabel('Tag').fill('panel-2');
  await form.getByRole('button', { name: 'Push as artifact' }).click();
  await manifestPut.caught;
  // (Only now: the push's own config upload sent its chunk before its manifest.)
  const chunk = holdFirst((r) => r.method() === 'PATCH');
  await page.route('**/v2/sandbox/panel/blobs/uploads/**', chunk.handler);
  await picker.setInputFiles([{ name: 'added.bin', mimeType: 'application/octet-stream', buffer: randomBytes(2_000_000, 'added') }]);
  await chunk.caught;
  manifestPut.release();
  await form.getByTestId('pushed').getByRole('link', { name: 'panel-2' }).waitFor();
  await page.locator('#announcer', { hasText: 'Pushed as panel-2.' }).waitFor({ state: 'attached' });
  assert.match(page.url(), /\/repo\/sandbox\/panel$/, 'the push left the page while a file uploaded');
  chunk.release();
  await page.locator('li.upload-row[data-file="added.bin"] [data-state="done"]').waitFor({ timeout: 60_000 });
  // early.txt is in the pushed artifact: leaving asks only about added.bin, not pushed yet.
  const asked = [];
  page.removeAllListeners('dialog');
  page.on('dialog', (d) => { asked.push(d.message()); d.dismiss(); });
  await page.getByRole('link', { name: 'Registries', exact: true }).click();
  await expectSoon(() => asked.length === 1, 'the question before leaving');
  assert.match(asked[0], /^1 uploaded file\(s\) are not pushed/);
  // A file dropped on the page but beside the zone: the browser must not open it.
  const prevented = await page.evaluate(() => {
    const ev = new DragEvent('drop', { cancelable: true, bubbles: true, dataTransfer: new DataTransfer() });
    document.body.dispatchEvent(ev);
    return ev.defaultPrevented;
  });
  assert.equal(prevented, true, 'a drop beside the zone was left to the browser');
  noErrors();
  await page.context().close();
});

test('a push that ends after the page was left changes nothing and breaks nothing', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/panel`);
  await page.getByLabel('Choose files to upload').setInputFiles([{ name: 'gone.txt', mimeType: 'text/plain', buffer: Buffer.from('gone\n') }]);
  await page.locator('li.upload-row[data-file="gone.txt"] [data-state="done"]').waitFor();
  const manifestPut = holdFirst((r) => r.method() === 'PUT');
  await page.route('**/v2/sandbox/panel/manifests/panel-3', manifestPut.handler);
  const form = page.getByRole('form', { name: 'Push as artifact' });
  await form.getByLabel('Tag').fill('panel-3');
  await form.getByRole('button', { name: 'Push as artifact' }).click();
  await manifestPut.caught;
  // Back: the file is not marked pushed until the push ends, so it asks; leave.
  await leaveByBack(page);
  await page.getByRole('status').filter({ hasText: /\d+ repositories$/ }).waitFor();
  manifestPut.release();
  await expectSoon(async () => (await fetch(`${kit.anonymous}/v2/sandbox/panel/manifests/panel-3`, {
    method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  })).status === 200, 'the push to land');
  await new Promise((r) => setTimeout(r, 500));
  assert.match(page.url(), /\/r\/here$/, 'the push pulled the user back');
  await page.getByRole('link', { name: 'library/alpine' }).click();
  await page.waitForURL(/\/repo\/library\/alpine/);
  noErrors();
  await page.context().close();
});

test('a layer download can be cancelled: nothing is saved', async () => {
  const page = await newPage();
  // The layer's bytes never come (a stalled connection).
  await page.route('**/v2/apps/web/blobs/**', (route) => {
    if (route.request().method() === 'GET') return; // held
    return route.continue();
  });
  let saved = 0;
  page.on('download', () => { saved += 1; });
  await page.goto(`${site.url}/r/here/manifest/apps/web:1.0.0`);
  const first = page.getByRole('table', { name: 'Layers' }).locator('tbody tr').first();
  await first.getByRole('button', { name: /^Download/ }).click();
  // The layer's size is known from its descriptor: the progress is a share of it.
  await first.getByText(/^Downloading… 0 % \(0 B of [\d.]+ (B|KiB|MiB)\)$/).waitFor();
  // The busy button keeps the keyboard focus (a disabled one would lose it).
  assert.ok(await first.getByRole('button', { name: /^Download/ }).evaluate((el) => el === document.activeElement), 'the button lost the focus');
  await first.getByRole('button', { name: 'Cancel' }).click();
  await first.getByRole('alert').getByText('cancelled; nothing was saved').waitFor();
  await first.getByRole('button', { name: /^Download/ }).waitFor();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(saved, 0, 'a cancelled download was saved');
  noErrors();
  await page.context().close();
});

/**
 * Opens sandbox/upload and uploads a 20 MiB file `name`, holding its first chunk (PATCH) on the
 * way. Resolves once the chunk is held, with the session's URL on the registry, the file's row,
 * and `release`, which lets the held PATCH go on to `settle` ('abort' it or 'continue').
 */
async function uploadHoldingFirstChunk(page, name, seed, settle, open = () => page.goto(`${site.url}/r/here/repo/sandbox/upload`)) {
  let sessionUrl;
  let release;
  const held = new Promise((r) => { release = r; });
  let caught;
  const caughtPatch = new Promise((r) => { caught = r; });
  await page.route('**/v2/sandbox/upload/blobs/uploads/**', async (route) => {
    if (route.request().method() === 'PATCH' && !sessionUrl) {
      sessionUrl = route.request().url();
      caught();
      await held;
      try { await route[settle](); } catch { /* the page aborted it already */ }
      return;
    }
    await route.continue();
  });
  await open();
  await page.getByLabel('Choose files to upload').setInputFiles([
    { name, mimeType: 'application/octet-stream', buffer: randomBytes(20 * 1024 * 1024, seed) },
  ]);
  await caughtPatch;
  const direct = new URL(sessionUrl);
  return {
    onRegistry: `${kit.anonymous}${direct.pathname}${direct.search}`,
    row: page.locator(`li.upload-row[data-file="${name}"]`),
    release,
  };
}

/** What the session's URL answers, asked until it is 404 (the session is gone) or for 5 s. */
async function sessionStatusUntilGone(onRegistry) {
  let status;
  for (let i = 0; i < 50; i++) {
    status = (await fetch(onRegistry)).status;
    if (status === 404) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}

test('cancel an upload mid-way: no session is left on the registry', async () => {
  const page = await newPage();
  // The cancel lands while the first chunk is held in flight.
  const { onRegistry, row, release } = await uploadHoldingFirstChunk(page, 'cancel-me.bin', 'cancel', 'abort');
  assert.equal((await fetch(onRegistry)).status, 204, 'the session is open while the chunk is held');
  await row.getByRole('button', { name: 'Cancel' }).click();
  await row.locator('[data-state="cancelled"]').waitFor();
  release();
  assert.equal(await sessionStatusUntilGone(onRegistry), 404, 'the upload session was cancelled on the registry');
  await row.getByRole('button', { name: 'Retry' }).waitFor();
  await shot(page, 'upload-cancelled');
  noErrors();
  await page.context().close();
});

test('leaving the page mid-upload cancels the upload, and the app goes on working', async () => {
  const page = await newPage();
  const { onRegistry, release } = await uploadHoldingFirstChunk(page, 'left-behind.bin', 'leave', 'continue');
  await leaveByBack(page);
  await page.getByRole('status').filter({ hasText: /\d+ repositories$/ }).waitFor();
  release();
  assert.equal(await sessionStatusUntilGone(onRegistry), 404, 'the upload session was cancelled on the registry');
  // Long enough for the upload to have ended had it gone on; the app must still work.
  await new Promise((r) => setTimeout(r, 2000));
  await page.getByRole('link', { name: 'library/alpine' }).click();
  await page.waitForURL(/\/repo\/library\/alpine/);
  noErrors();
  await page.context().close();
});

test('closing the tab mid-upload asks first, and with uploaded files not pushed; once nothing is at stake, it does not', async () => {
  const page = await newPage();
  const { row, release } = await uploadHoldingFirstChunk(page, 'ask-first.bin', 'ask', 'continue');
  // Chromium shows the prompt only on a page the user has interacted with.
  await row.locator('.upload-name').click();
  const prompts = [];
  page.removeAllListeners('dialog');
  page.on('dialog', (d) => { prompts.push(d.type()); d.dismiss(); });
  await page.close({ runBeforeUnload: true });
  await expectSoon(() => prompts.length === 1, 'the beforeunload prompt');
  assert.deepEqual(prompts, ['beforeunload']);
  assert.ok(!page.isClosed(), 'dismissing the prompt keeps the page');
  release();
  await row.locator('[data-state="done"]').waitFor();
  // Uploaded but not pushed as an artifact: leaving would forget it, so it still asks.
  await page.close({ runBeforeUnload: true });
  await expectSoon(() => prompts.length === 2, 'the prompt for a file not pushed');
  await row.getByRole('button', { name: 'Remove ask-first.bin' }).click();
  await page.close({ runBeforeUnload: true });
  await expectSoon(() => page.isClosed(), 'the page to close without a prompt');
  assert.deepEqual(prompts, ['beforeunload', 'beforeunload'], 'no prompt once nothing is at stake');
  noErrors();
  await page.context().close();
});

/**
 * Goes back to the repositories as the browser's Back does (the address changes, then
 * `popstate`), answers the question the page asks first with "leave", and checks it asked.
 */
async function leaveByBack(page) {
  const asked = [];
  page.removeAllListeners('dialog');
  page.on('dialog', (d) => { asked.push(d.message()); d.accept(); });
  await page.evaluate(() => {
    history.pushState({}, '', '/r/here');
    dispatchEvent(new PopStateEvent('popstate'));
  });
  assert.equal(asked.length, 1, 'Back asked first');
}

/** Waits up to 15 s (a busy two-core machine) for `condition()` to hold. */
async function expectSoon(condition, what) {
  for (let i = 0; i < 150 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(await condition(), `timed out waiting for ${what}`);
}

test('delete a tag: the confirmation lists every tag of its manifest', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/delete`);
  await page.getByLabel('Select one', { exact: true }).check();
  await page.locator('table.tags').getByText(/^sha256:/).first().waitFor();
  await page.getByRole('button', { name: 'Delete selected (1)' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.getByText('one, one-alias').waitFor();
  await dialog.getByText(/a tag cannot be deleted alone/).waitFor();
  await shot(page, 'delete-confirm');
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('.outcome .result-ok').getByText(/deleted/).waitFor();
  await page.getByText('2 tags').first().waitFor();
  assert.deepEqual((await tagsOf('sandbox/delete')).sort(), ['three', 'two']);
  await shot(page, 'delete-done');

  // From a manifest page: the registry cannot untag, the page says why and offers the manifest.
  await page.goto(`${site.url}/r/here/manifest/sandbox/delete:three`);
  const card = page.getByTestId('delete-card');
  await card.getByText(/deleting by tag is unsupported/).waitFor();
  await shot(page, 'delete-from-manifest');
  await card.getByRole('link', { name: 'Delete the manifest and all its tags…' }).click();
  const again = page.getByRole('dialog', { name: 'Confirm deletion' });
  await again.locator('li[data-digest]').getByText('tags: three').waitFor({ timeout: 30_000 });
  assert.ok(!page.url().includes('?delete'), `the address keeps the delete request: ${page.url()}`);
  await again.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('.outcome .result-ok').getByText(/deleted/).waitFor();
  assert.deepEqual(await tagsOf('sandbox/delete'), ['two']);
  noErrors();
  await page.context().close();
});

/** Pushes a tiny image manifest (its config is `config`) into `repo` under each of `tags` (none:
 *  by digest only); returns the manifest's digest. */
async function pushManifest(repo, config, tags) {
  const configBytes = Buffer.from(config);
  const post = await fetch(`${kit.anonymous}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(post.status, 202);
  const upload = new URL(post.headers.get('location'), kit.anonymous);
  upload.searchParams.set('digest', sha256(configBytes));
  const put = await fetch(upload, { method: 'PUT', body: configBytes, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(put.status, 201);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBytes), size: configBytes.length },
    layers: [],
  }));
  const digest = sha256(manifest);
  for (const ref of tags.length ? tags : [digest]) {
    const r = await fetch(`${kit.anonymous}/v2/${repo}/manifests/${ref}`, {
      method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(r.status, 201, `manifest PUT ${ref}`);
  }
  return digest;
}

test('delete a manifest opened by digest: untagged, then one that carries two tags', async () => {
  const repo = 'sandbox/by-digest';
  const untagged = await pushManifest(repo, '{"n":1}', []);
  const tagged = await pushManifest(repo, '{"n":2}', ['a1', 'a2']);
  await pushManifest(repo, '{"n":3}', ['stays']);
  const manifestStatus = async (digest) =>
    // distribution answers 404 for an OCI manifest to a client that does not accept OCI.
    (await fetch(`${kit.anonymous}/v2/${repo}/manifests/${digest}`, {
      method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    })).status;

  const page = await newPage();
  for (const [digest, tagText] of [[untagged, 'tags: (none)'], [tagged, 'tags: a1, a2']]) {
    await page.goto(`${site.url}/r/here/manifest/${repo}@${digest}`);
    const card = page.getByTestId('delete-card');
    await card.getByText(/also removes every tag that points at it/).waitFor();
    await card.getByRole('link', { name: 'Delete this manifest…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
    await dialog.locator(`li[data-digest="${digest}"]`).getByText(tagText).waitFor({ timeout: 30_000 });
    assert.equal(await dialog.locator('li[data-digest]').count(), 1, 'only that manifest is in the plan');
    if (digest === tagged) await shot(page, 'delete-by-digest');
    assert.equal(await manifestStatus(digest), 200, 'nothing is deleted before the confirmation');
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator('.outcome .result-ok').getByText(/deleted/).waitFor();
    assert.equal(await manifestStatus(digest), 404);
    // Back on its page, the manifest shows gone (not as the page had cached it).
    await page.goBack();
    await page.locator('.error[data-code="MANIFEST_UNKNOWN"]').waitFor();
  }
  assert.deepEqual(await tagsOf(repo), ['stays']);
  noErrors();
  await page.context().close();
});

test('the repositories are listed again on each visit', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here`);
  await page.getByRole('status').filter({ hasText: /\d+ repositories$/ }).waitFor();
  await page.getByRole('link', { name: 'library/alpine' }).click();
  await page.waitForURL(/\/repo\/library\/alpine/);
  // Someone pushes a new repository meanwhile.
  const fresh = `fresh/r${Date.now()}`;
  await pushManifest(fresh, '{"fresh":1}', ['v1']);
  await page.goBack();
  await page.getByLabel('Filter repositories').fill(fresh);
  await page.getByRole('link', { name: fresh }).waitFor();
  noErrors();
  await page.context().close();
});

test('keep the newest three: a preview, then the older ones are deleted', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/prune`);
  await page.getByText('6 tags').first().waitFor();
  const keep = page.getByLabel('How many of the newest tags to keep');
  // A field cleared to type another number stays cleared; a preview without a number says so.
  await keep.fill('');
  assert.equal(await keep.inputValue(), '', 'the cleared field snapped back');
  await page.getByRole('button', { name: 'Preview deletion' }).click();
  await page.getByRole('alert').filter({ hasText: 'a whole number, 0 or more' }).waitFor();
  await keep.fill('3');
  await page.getByRole('button', { name: 'Preview deletion' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.getByText('Keep the newest 3 of 6 tags').waitFor({ timeout: 30_000 });
  assert.equal(await dialog.locator('li[data-digest]').count(), 3);
  const listed = await dialog.innerText();
  for (const t of ['v1', 'v2', 'v3']) assert.ok(listed.includes(`tags: ${t}`), listed);
  for (const t of ['v4', 'v5', 'v6']) assert.ok(!listed.includes(`tags: ${t}`), listed);
  await shot(page, 'keep-newest-preview');
  assert.equal((await tagsOf('sandbox/prune')).length, 6, 'nothing is deleted before the confirmation');
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByText('3 tags').first().waitFor();
  assert.deepEqual((await tagsOf('sandbox/prune')).sort(), ['v4', 'v5', 'v6']);
  await shot(page, 'keep-newest-done');
  noErrors();
  await page.context().close();
});

test('keep the newest: tags without a date (artifacts) are kept, and the preview names them', async () => {
  const repo = 'sandbox/undated';
  await pushManifest(repo, '{"created":"2024-01-01T00:00:00Z","n":1}', ['old']);
  await pushManifest(repo, '{"created":"2025-01-01T00:00:00Z","n":2}', ['new']);
  await pushManifest(repo, '{"n":3}', ['chart-a']);
  await pushManifest(repo, '{"n":4}', ['chart-b']);
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  await page.getByText('4 tags').first().waitFor();
  await page.getByLabel('How many of the newest tags to keep').fill('1');
  await page.getByRole('button', { name: 'Preview deletion' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.getByText('Keep the newest 1 of 4 tags').waitFor({ timeout: 30_000 });
  // The preview takes the focus, and gives it back on Cancel.
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Confirm deletion');
  assert.equal(await dialog.locator('li[data-digest]').count(), 1);
  await dialog.locator('li[data-digest]').getByText('tags: old').waitFor();
  await dialog.getByText('Kept, their date is not known (an artifact, a config without a build date, or a placeholder date from a reproducible build, such as 1970 or 1980): chart-a, chart-b.').waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await page.waitForFunction(() => document.activeElement?.textContent?.trim() === 'Preview deletion');
  assert.equal((await tagsOf(repo)).length, 4);
  noErrors();
  await page.context().close();
});

test('keep the newest: a tie at the last place kept keeps every tag of that date; placeholder dates are no dates', async () => {
  const repo = 'sandbox/tied';
  await pushManifest(repo, '{"created":"2025-03-01T00:00:00Z","n":1}', ['a']);
  await pushManifest(repo, '{"created":"2025-02-01T00:00:00Z","n":2}', ['b']);
  await pushManifest(repo, '{"created":"2025-02-01T00:00:00Z","n":3}', ['c']);
  await pushManifest(repo, '{"created":"2025-01-01T00:00:00Z","n":4}', ['d']);
  // Buildpacks date every image 1980-01-01: that says nothing about which is older.
  await pushManifest(repo, '{"created":"1980-01-01T00:00:01Z","n":5}', ['e']);
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  await page.getByText('5 tags').first().waitFor();
  await page.getByLabel('How many of the newest tags to keep').fill('2');
  await page.getByRole('button', { name: 'Preview deletion' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.getByText('Keep the newest 2 of 5 tags').waitFor({ timeout: 30_000 });
  assert.equal(await dialog.locator('li[data-digest]').count(), 1);
  await dialog.locator('li[data-digest]').getByText('tags: d').waitFor();
  await dialog.getByText('Kept, they have the same date as the last of the newest kept, so none of them is older: c.').waitFor();
  await dialog.getByText(/Kept, their date is not known .*: e\.$/).waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await tagsOf(repo)).length, 5);
  noErrors();
  await page.context().close();
});

test('a tag list that failed part way offers no delete preview', async () => {
  const repo = 'sandbox/incomplete';
  await pushManifest(repo, '{"created":"2025-01-01T00:00:00Z","i":1}', ['i1']);
  await pushManifest(repo, '{"created":"2025-02-01T00:00:00Z","i":2}', ['i2']);
  const page = await newPage();
  // The first page says another follows; that one fails (the registry went away mid-listing).
  await page.route(`**/v2/${repo}/tags/list*`, async (route) => {
    if (new URL(route.request().url()).searchParams.has('last')) {
      const body = JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'listing failed (injected)' }] });
      return route.fulfill({ status: 400, contentType: 'application/json', body });
    }
    const first = await route.fetch();
    const headers = { ...first.headers(), link: `</v2/${repo}/tags/list?last=i2&n=1000>; rel="next"` };
    return route.fulfill({ response: first, headers });
  });
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  await page.getByText('listing failed (injected)').first().waitFor();
  await page.getByRole('status').filter({ hasText: '2 tags listed (the list is incomplete' }).waitFor();
  await page.getByLabel('How many of the newest tags to keep').fill('1');
  await page.getByRole('button', { name: 'Preview deletion' }).click();
  await page.getByTestId('plan-refused').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByRole('dialog', { name: 'Confirm deletion' }).count(), 0);
  assert.equal((await tagsOf(repo)).length, 2);
  await shot(page, 'delete-refused-incomplete-listing');
  noErrors();
  await page.context().close();
});

test('a delete that partly failed: Delete again does only what is left', async () => {
  const repo = 'sandbox/partial';
  for (const n of [1, 2, 3]) await pushManifest(repo, `{"partial":${n}}`, [`p${n}`]);
  const page = await newPage();
  // The registry refuses the first delete once (a lock, a hiccup).
  let refused = 0;
  const deletes = [];
  await page.route(`**/v2/${repo}/manifests/**`, async (route) => {
    if (route.request().method() === 'DELETE') {
      deletes.push(route.request().url());
      if (refused === 0) {
        refused += 1;
        const body = JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] });
        return route.fulfill({ status: 403, contentType: 'application/json', body });
      }
    }
    return route.continue();
  });
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  for (const n of [1, 2, 3]) await page.getByLabel(`Select p${n}`, { exact: true }).check();
  await page.getByRole('button', { name: 'Delete selected (3)' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.locator('li[data-digest]').nth(2).waitFor({ timeout: 30_000 });
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  // The run ends with what is left in the dialog.
  await dialog.getByText('Delete 1 manifest(s) with every tag on them?').waitFor();
  assert.equal(await dialog.locator('li[data-digest]').count(), 1, 'the plan keeps only what failed');
  assert.equal(await page.locator('.outcome .result-ok').count(), 2);
  assert.equal(await page.locator('.outcome .error-message').count(), 1);
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(deletes.length, 4, 'the retry sent one DELETE');
  assert.deepEqual(await tagsOf(repo), []);
  noErrors();
  await page.context().close();
});

test('a tag moved since the preview stops the delete of its old manifest', async () => {
  const repo = 'sandbox/moved';
  const old = await pushManifest(repo, '{"moved":1}', ['moving']);
  const other = await pushManifest(repo, '{"moved":2}', ['other']);
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  await page.getByLabel('Select moving', { exact: true }).check();
  await page.getByRole('button', { name: 'Delete selected (1)' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.locator('li[data-digest]').first().waitFor({ timeout: 30_000 });
  // Meanwhile a pipeline moves the tag onto another manifest.
  const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
  const bytes = Buffer.from(await (await fetch(`${kit.anonymous}/v2/${repo}/manifests/${other}`, { headers: accept })).arrayBuffer());
  const put = await fetch(`${kit.anonymous}/v2/${repo}/manifests/moving`, {
    method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(put.status, 201);
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('.outcome .error-message').getByText(/tag moving now points at another manifest/).waitFor();
  // The old manifest is still there, and so is the tag, on its new manifest.
  const kept = await fetch(`${kit.anonymous}/v2/${repo}/manifests/${old}`, { method: 'HEAD', headers: accept });
  assert.equal(kept.status, 200);
  assert.deepEqual((await tagsOf(repo)).sort(), ['moving', 'other']);
  noErrors();
  await page.context().close();
});

test('ACR: lock a tag against deletes, the emulator refuses, unlock, delete', { skip: !kit.acr && 'no ACR emulator' }, async () => {
  const page = await newPage();
  await connectAcr(page, { keepSecret: true });
  const reg = new URL(page.url()).pathname.split('/')[2];

  await page.goto(`${site.url}/r/${reg}/manifest/sandbox/delete:two`);
  const tagLocks = page.getByRole('group', { name: 'Locks of the tag' });
  const canDelete = tagLocks.locator('input[data-lock="can delete"]');
  await page.getByTestId('tag-locks').getByText('no locks').waitFor();
  assert.equal(await canDelete.isChecked(), true);
  await canDelete.uncheck();
  await tagLocks.getByText('Saved: can delete is now off.').waitFor();
  // The switch keeps the keyboard focus through its save (a disabled one would lose it).
  assert.ok(await canDelete.evaluate((el) => el === document.activeElement), 'the switch lost the focus');
  await page.getByTestId('tag-locks').getByText('delete locked').waitFor();
  await shot(page, 'acr-lock-toggled');

  // The emulator enforces it: untagging through the dashboard is refused, in words.
  await page.goto(`${site.url}/r/${reg}/repo/sandbox/delete`);
  await page.getByLabel('Select two', { exact: true }).check();
  await page.getByLabel(/untag only/).check();
  await page.getByRole('button', { name: 'Delete selected (1)' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('.outcome .error-message').getByText(/locked/).waitFor();
  await shot(page, 'acr-delete-refused');

  // Unlock, and the same delete goes through.
  await page.goto(`${site.url}/r/${reg}/manifest/sandbox/delete:two`);
  await page.getByTestId('tag-locks').getByText('delete locked').waitFor();
  await page.getByRole('group', { name: 'Locks of the tag' }).locator('input[data-lock="can delete"]').check();
  await page.getByText('Saved: can delete is now on.').waitFor();
  await page.goto(`${site.url}/r/${reg}/repo/sandbox/delete`);
  await page.getByLabel('Select two', { exact: true }).check();
  await page.getByLabel(/untag only/).check();
  await page.getByRole('button', { name: 'Delete selected (1)' }).click();
  await page.getByRole('dialog', { name: 'Confirm deletion' }).getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('.outcome .result-ok').getByText('Tag two deleted.').waitFor();
  noErrors();
  await page.context().close();
});

/** Holds the first request `route` sees that `matches`; resolves `caught` when it is held. */
function holdFirst(matches) {
  let release;
  const held = new Promise((r) => { release = r; });
  let caught;
  const seen = new Promise((r) => { caught = r; });
  let count = 0;
  const handler = async (route) => {
    if (matches(route.request())) {
      count += 1;
      if (count === 1) {
        caught();
        await held;
      }
    }
    await route.continue();
  };
  return { handler, caught: seen, release, count: () => count };
}

test('a tag whose lookup failed can be looked up again from its row', async () => {
  const repo = 'sandbox/retry';
  await pushManifest(repo, '{"retry":1}', ['r1']);
  const page = await newPage();
  let refused = 0;
  await page.route(`**/v2/${repo}/manifests/r1`, async (route) => {
    if (refused > 0) return route.continue();
    refused += 1;
    const body = JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'a bad moment' }] });
    return route.fulfill({ status: 400, contentType: 'application/json', body });
  });
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  const row = page.locator('table.tags tr', { has: page.getByRole('link', { name: 'r1', exact: true }) });
  const retry = row.getByRole('button', { name: /^Look up r1 again \(it failed: .*a bad moment/ });
  // The reason opens in the row, without a mouse to hover with.
  await row.getByText('why', { exact: true }).click();
  await row.getByText(/MANIFEST_INVALID.*a bad moment|a bad moment/).first().waitFor();
  assert.ok(await row.getByText(/a bad moment/).first().isVisible());
  await retry.click();
  await row.getByText(/^sha256:/).waitFor();
  assert.equal(await retry.count(), 0);
  noErrors();
  await page.context().close();
});

test('a bulk delete can be stopped between two deletes, and says what it left', async () => {
  const repo = 'sandbox/stop';
  for (const n of [1, 2, 3, 4]) await pushManifest(repo, `{"stop":${n}}`, [`s${n}`]);
  const page = await newPage();
  const deletes = holdFirst((r) => r.method() === 'DELETE');
  await page.route(`**/v2/${repo}/manifests/**`, deletes.handler);
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  for (const n of [1, 2, 3, 4]) await page.getByLabel(`Select s${n}`, { exact: true }).check();
  await page.getByRole('button', { name: 'Delete selected (4)' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.locator('li[data-digest]').nth(3).waitFor({ timeout: 30_000 });
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await deletes.caught;
  await dialog.getByRole('button', { name: 'Deleting… (0 of 4 done)' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Preview deletion' }).isDisabled(), true,
    'another preview could replace the running one');
  await dialog.getByRole('button', { name: 'Stop' }).click();
  await dialog.getByRole('button', { name: 'Stopping…' }).waitFor();
  deletes.release();
  await page.locator('.outcome').getByText('Stopped: 3 left as they were (not deleted).').waitFor();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.locator('.outcome .result-ok').count(), 1, 'the delete under way finished');
  assert.equal(deletes.count(), 1, 'no delete was sent after the stop');
  assert.equal((await tagsOf(repo)).length, 3);
  await page.getByText('3 tags').first().waitFor();
  noErrors();
  await page.context().close();
});

test('deleting every row of the last page shows the page before it', async () => {
  const repo = 'sandbox/pages';
  const first = Array.from({ length: 100 }, (_, i) => `a${String(i).padStart(3, '0')}`);
  await pushManifest(repo, '{"page":1}', first);
  await pushManifest(repo, '{"page":2}', ['b1', 'b2']);
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  await page.getByText('102 tags').first().waitFor();
  await page.getByRole('button', { name: 'Next →' }).click();
  await page.getByText('Page 2 of 2').waitFor();
  await page.getByLabel('Select b1', { exact: true }).check();
  await page.getByRole('button', { name: 'Delete selected (1)' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.locator('li[data-digest]').getByText('tags: b1, b2').waitFor({ timeout: 60_000 });
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByText('100 tags').first().waitFor();
  await page.getByRole('link', { name: 'a099', exact: true }).waitFor();
  assert.equal(await page.locator('table.tags tbody tr').count(), 100, 'the first page is shown');
  assert.equal(await page.getByRole('navigation', { name: 'Pages of tags' }).count(), 0, 'one page: no pager');
  noErrors();
  await page.context().close();
});

test('a tag whose details cannot be read (its index lists a manifest gone) can still be deleted', async () => {
  const repo = 'sandbox/broken-index';
  const child = await pushManifest(repo, '{"child":1}', []);
  const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
  const childBytes = Buffer.from(await (await fetch(`${kit.anonymous}/v2/${repo}/manifests/${child}`, {
    headers: { Accept: ociManifest },
  })).arrayBuffer());
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: ociManifest, digest: child, size: childBytes.length, platform: { architecture: 'amd64', os: 'linux' } }],
  }));
  const put = await fetch(`${kit.anonymous}/v2/${repo}/manifests/broken`, {
    method: 'PUT', body: index, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
  });
  assert.equal(put.status, 201);
  const gone = await fetch(`${kit.anonymous}/v2/${repo}/manifests/${child}`, { method: 'DELETE' });
  assert.equal(gone.status, 202);

  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/${repo}`);
  const row = page.locator('table.tags tr', { has: page.getByRole('link', { name: 'broken', exact: true }) });
  await row.getByText('details unreadable').waitFor({ timeout: 30_000 });
  await row.getByText('details unreadable').click();
  assert.ok(await row.getByText(/MANIFEST_UNKNOWN|not found|unknown/i).first().isVisible(), await row.innerText());
  await row.getByText(sha256(index).slice(0, 19)).waitFor();
  await page.getByLabel('Select broken', { exact: true }).check();
  await page.getByRole('button', { name: 'Delete selected (1)' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm deletion' });
  await dialog.locator(`li[data-digest="${sha256(index)}"]`).getByText('tags: broken').waitFor({ timeout: 30_000 });
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('.outcome .result-ok').getByText(/deleted/).waitFor();
  assert.deepEqual(await tagsOf(repo), []);
  noErrors();
  await page.context().close();
});

test('following a link mid-upload asks first; staying keeps the upload going', async () => {
  const page = await newPage();
  const { row, release } = await uploadHoldingFirstChunk(page, 'stay.bin', 'stay', 'continue');
  const asked = [];
  page.removeAllListeners('dialog');
  page.on('dialog', (d) => { asked.push(`${d.type()}: ${d.message()}`); d.dismiss(); });
  await page.getByRole('link', { name: 'Registries', exact: true }).click();
  await expectSoon(() => asked.length === 1, 'the question before leaving');
  assert.match(asked[0], /^confirm: 1 file\(s\) are still uploading\. Leaving this page cancels them\./);
  assert.match(page.url(), /\/repo\/sandbox\/upload$/, 'the page stayed');
  // The "u" shortcut (up a level) follows a link too, and asks the same.
  await page.locator('h1').click();
  await page.keyboard.press('u');
  await expectSoon(() => asked.length === 2, 'the question before the shortcut leaves');
  assert.match(page.url(), /\/repo\/sandbox\/upload$/, 'the page stayed');
  release();
  await row.locator('[data-state="done"]').waitFor({ timeout: 60_000 });
  // Uploaded, not pushed: leaving would forget it, which is asked too.
  await page.getByRole('link', { name: 'Registries', exact: true }).click();
  await expectSoon(() => asked.length === 3, 'the question about a file not pushed');
  assert.match(asked[2], /^confirm: 1 uploaded file\(s\) are not pushed as an artifact yet\./);
  await row.getByRole('button', { name: 'Remove stay.bin' }).click();
  await page.getByRole('link', { name: 'Registries', exact: true }).click();
  await page.waitForURL(`${site.url}/`);
  assert.equal(asked.length, 3, 'nothing is asked once nothing is at stake');
  noErrors();
  await page.context().close();
});

test('the browser\'s Back mid-upload asks first; staying keeps the page and the upload', async () => {
  const page = await newPage();
  // Reached in the app, so that Back stays in it (the router's popstate, not a new document).
  const { row, release } = await uploadHoldingFirstChunk(page, 'back.bin', 'back', 'continue', async () => {
    await page.goto(`${site.url}/r/here`);
    await page.getByRole('link', { name: 'sandbox/upload' }).click();
    await page.getByTestId('dropzone').waitFor();
  });
  const asked = [];
  page.removeAllListeners('dialog');
  page.on('dialog', (d) => { asked.push(`${d.type()}: ${d.message()}`); d.dismiss(); });
  await page.evaluate(() => history.back());
  await expectSoon(() => asked.length === 1, 'the question before Back leaves');
  assert.match(asked[0], /^confirm: 1 file\(s\) are still uploading\./);
  await expectSoon(() => /\/repo\/sandbox\/upload$/.test(page.url()), 'the address put back');
  await page.getByTestId('dropzone').waitFor();
  release();
  await row.locator('[data-state="done"]').waitFor({ timeout: 60_000 });
  // Leaving, once answered yes, goes back.
  page.removeAllListeners('dialog');
  page.on('dialog', (d) => { asked.push(d.message()); d.accept(); });
  await page.evaluate(() => history.back());
  await expectSoon(() => asked.length === 2, 'the question about the file not pushed');
  await page.getByRole('status').filter({ hasText: /\d+ repositories$/ }).waitFor();
  noErrors();
  await page.context().close();
});

test('ACR: a lock change the registry refuses puts the switch back and says why, as a lock change', { skip: !kit.acr && 'no ACR emulator' }, async () => {
  const page = await newPage();
  await connectAcr(page, { keepSecret: true });
  const reg = new URL(page.url()).pathname.split('/')[2];
  await page.route('**/acr/v1/**', async (route) => {
    if (route.request().method() !== 'PATCH') return route.continue();
    const body = JSON.stringify({ errors: [{ code: 'DENIED', message: 'not allowed to change it' }] });
    return route.fulfill({ status: 403, contentType: 'application/json', body });
  });
  await page.goto(`${site.url}/r/${reg}/manifest/sandbox/prune:v1`);
  const tagLocks = page.getByRole('group', { name: 'Locks of the tag' });
  const canWrite = tagLocks.locator('input[data-lock="can write"]');
  await page.getByTestId('tag-locks').getByText('no locks').waitFor();
  await canWrite.click();
  const refusal = tagLocks.getByText(/^Not saved: /);
  await refusal.waitFor();
  assert.equal(await canWrite.isChecked(), true, 'the switch shows the saved state again');
  await page.getByTestId('tag-locks').getByText('no locks').waitFor();
  // Explained as a lock change, not as a delete.
  const denied = await refusal.textContent();
  assert.match(denied, /may not change properties/, denied);
  assert.doesNotMatch(denied, /delet/i, denied);
  // A sign-in refused (an Entra ID token expired): the way out is the connect form.
  await page.unroute('**/acr/v1/**');
  await page.route('**/acr/v1/**', async (route) => {
    if (route.request().method() !== 'PATCH') return route.continue();
    const body = JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'token expired' }] });
    return route.fulfill({ status: 401, contentType: 'application/json', body });
  });
  await canWrite.click();
  await tagLocks.getByText(/sign-in was refused or has expired/).waitFor();
  const again = tagLocks.getByRole('link', { name: 'Enter your credentials again' });
  assert.match(await again.getAttribute('href'), /^\/\?id=/);
  assert.equal(await canWrite.isChecked(), true);
  noErrors();
  await page.context().close();
});

test('ACR: the manifest locks act on the manifest shown, even once its tag has moved', { skip: !kit.acr && 'no ACR emulator' }, async () => {
  const auth = {
    registry: kit.acr, realm: `${kit.acr}/oauth2/token`, service: new URL(kit.acr).host,
    username: kit.acr_auth.admin.username, password: kit.acr_auth.admin.password,
  };
  const repo = `sandbox/moved-${Date.now()}`;
  const shown = await pushImage(auth, repo, 'v1', '{"n":"shown"}');
  const page = await newPage();
  await connectAcr(page, { keepSecret: true });
  const reg = new URL(page.url()).pathname.split('/')[2];
  // Until the properties are read (the tag's first, then the manifest's), no switch is shown:
  // it would be a guess.
  const properties = holdFirst((r) => r.method() === 'GET');
  // (The ACR paths carry the repository name percent-encoded.)
  await page.route((url) => url.pathname.startsWith('/acr/v1/') && url.pathname.includes('/_tags/'), properties.handler);
  await page.goto(`${site.url}/r/${reg}/manifest/${repo}:v1`);
  const locks = page.getByRole('group', { name: 'Locks of the manifest', includeHidden: true });
  await properties.caught;
  await page.getByTestId('manifest-locks').getByText('loading…').waitFor();
  assert.equal(await page.locator('input[data-lock="can write"]').count(), 3);
  for (const input of await page.locator('input[data-lock]').all()) {
    assert.equal(await input.isVisible(), false, 'a switch shows a guess');
  }
  properties.release();
  await page.getByTestId('manifest-locks').getByText('no locks').waitFor();
  // CI moves the tag meanwhile.
  const moved = await pushImage(auth, repo, 'v1', '{"n":"moved"}');
  await locks.locator('input[data-lock="can write"]').uncheck();
  await locks.getByText('Saved: can write is now off.').waitFor();
  await page.locator('#announcer', { hasText: 'Saved: can write is now off.' }).waitFor({ state: 'attached' });
  const token = await tokenFor(auth, `repository:${repo}:metadata_read`);
  const writable = async (digest) => {
    const r = await fetch(`${kit.acr}/acr/v1/${repo}/_manifests/${digest}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    return (await r.json()).manifest.changeableAttributes.writeEnabled;
  };
  assert.equal(await writable(shown), false, 'the manifest shown is locked');
  assert.equal(await writable(moved), true, 'the manifest the tag moved to is not');
  noErrors();
  await page.context().close();
});

test('ACR: a tag moved onto an older image is dated by its move, not by the image', { skip: !kit.acr && 'no ACR emulator' }, async () => {
  const auth = {
    registry: kit.acr, realm: `${kit.acr}/oauth2/token`, service: new URL(kit.acr).host,
    username: kit.acr_auth.admin.username, password: kit.acr_auth.admin.password,
  };
  const repo = `sandbox/retag-${Date.now()}`;
  await pushImage(auth, repo, 'old', '{"n":"old"}');
  await pushImage(auth, repo, 'new', '{"n":"new"}');
  // The same bytes as `old`: the tag moves onto the older manifest.
  await pushImage(auth, repo, 'prod', '{"n":"old"}');
  const page = await newPage();
  await connectAcr(page, { keepSecret: true });
  const reg = new URL(page.url()).pathname.split('/')[2];
  await page.goto(`${site.url}/r/${reg}/repo/${repo}`);
  await page.locator('table.tags th').getByText('Updated').waitFor();
  // Newest first by ACR's dates: the tag just moved leads, so "keep the newest" keeps it.
  const first = page.locator('table.tags tbody tr').first();
  await first.getByRole('link', { name: 'prod', exact: true }).waitFor();
  const order = await page.locator('table.tags tbody tr td:nth-child(2)').allInnerTexts();
  assert.deepEqual(order.map((t) => t.trim()), ['prod', 'new', 'old']);
  noErrors();
  await page.context().close();
});

test('ACR: the dates ACR lists stay when lookups land later, and a sort the user chose is kept', { skip: !kit.acr && 'no ACR emulator' }, async () => {
  const page = await newPage();
  await connectAcr(page, { keepSecret: true });
  const reg = new URL(page.url()).pathname.split('/')[2];
  // ACR's listing comes once the user has picked a sort; the per-tag lookups (config blobs) come
  // after it, as on a slow registry.
  const listing = holdFirst(() => true);
  await page.route('**/acr/v1/**/_manifests**', listing.handler);
  await page.route('**/v2/**/blobs/**', async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  await page.goto(`${site.url}/r/${reg}/repo/sandbox/prune`);
  await page.getByText('6 tags').first().waitFor();
  await listing.caught;
  await page.getByLabel('Sort tags').selectOption('name-desc');
  listing.release();
  await page.locator('table.tags th').getByText('Updated').waitFor();
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(await page.getByLabel('Sort tags').inputValue(), 'name-desc', 'the chosen sort stays');
  const updated = await page.locator('table.tags tbody tr td:last-child').allInnerTexts();
  assert.equal(updated.length, 6);
  assert.ok(updated.every((t) => t.trim() !== ''), `every row keeps ACR's date: ${JSON.stringify(updated)}`);
  noErrors();
  await page.context().close();
});
