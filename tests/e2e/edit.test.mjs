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
  await form.getByRole('button', { name: 'Push as artifact' }).click();
  await page.waitForURL(/\/manifest\/sandbox\/upload:files-1$/, { timeout: 30_000 });
  await page.getByText('application/vnd.porthole.files').first().waitFor();
  await page.getByText('dropped in a browser').first().waitFor();
  await shot(page, 'artifact-manifest');

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

  // A waiting file is cancelled without ever starting.
  await row('notes.txt').getByRole('button', { name: 'Cancel' }).click();
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
  await row('notes.txt').getByRole('button', { name: 'Retry' }).click();
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
  await zone.getByRole('status').filter({ hasText: 'no files in what was dropped' }).waitFor();
  assert.equal(await page.locator('li.upload-row').count(), 3, 'nothing added for an empty folder');
  // Dragged text is not a file.
  const text = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.setData('text/plain', 'just words');
    return dt;
  });
  await zone.dispatchEvent('drop', { dataTransfer: text });
  await zone.getByRole('status').filter({ hasText: 'Only files and folders can be uploaded' }).waitFor();
  assert.equal(await page.locator('li.upload-row').count(), 3);
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
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

/**
 * Opens sandbox/upload and uploads a 20 MiB file `name`, holding its first chunk (PATCH) on the
 * way. Resolves once the chunk is held, with the session's URL on the registry, the file's row,
 * and `release`, which lets the held PATCH go on to `settle` ('abort' it or 'continue').
 */
async function uploadHoldingFirstChunk(page, name, seed, settle) {
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
  await page.goto(`${site.url}/r/here/repo/sandbox/upload`);
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
  // In-app navigation to the repositories (the router's own, as a link click or Back does).
  await page.evaluate(() => {
    history.pushState({}, '', '/r/here');
    dispatchEvent(new PopStateEvent('popstate'));
  });
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

test('closing the tab mid-upload asks first; once nothing uploads, it does not', async () => {
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
  await page.close({ runBeforeUnload: true });
  await expectSoon(() => page.isClosed(), 'the page to close without a prompt');
  assert.deepEqual(prompts, ['beforeunload'], 'no prompt once the upload is done');
  noErrors();
  await page.context().close();
});

/** Waits up to 15 s (a busy two-core machine) for `condition()` to hold. */
async function expectSoon(condition, what) {
  for (let i = 0; i < 150 && !condition(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(condition(), `timed out waiting for ${what}`);
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
  }
  assert.deepEqual(await tagsOf(repo), ['stays']);
  noErrors();
  await page.context().close();
});

test('keep the newest three: a preview, then the older ones are deleted', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/sandbox/prune`);
  await page.getByText('6 tags').first().waitFor();
  await page.getByLabel('How many of the newest tags to keep').fill('3');
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
