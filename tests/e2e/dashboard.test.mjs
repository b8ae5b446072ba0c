// End-to-end tests of the dashboard in headless Chromium (Debian's, driven by playwright-core)
// against the test kit's real registry and ACR emulator, seeded by porthole-seed. Run by
// `cargo xtask test` (step "dashboard e2e"), which builds the site once and passes:
//   PORTHOLE_E2E_JSON  the `porthole-testkit serve` line (registry URLs, users, ACR tokens)
//   PORTHOLE_E2E_DIST  the release build (trunk build --release)
//   PORTHOLE_E2E_OUT   where screenshots go (target/e2e)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSite, startNoCors, closedPort } from './server.mjs';
import { pushImage } from './push.mjs';

const kit = JSON.parse(process.env.PORTHOLE_E2E_JSON ?? '{}');
const dist = process.env.PORTHOLE_E2E_DIST ?? 'target/e2e/dist';
const out = process.env.PORTHOLE_E2E_OUT ?? 'target/e2e';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser;
let site;
let noCors;
const pageErrors = [];

before(async () => {
  assert.ok(kit.anonymous, 'PORTHOLE_E2E_JSON must hold the test kit line');
  fs.mkdirSync(out, { recursive: true });
  site = await startSite(path.resolve(dist), kit.anonymous);
  noCors = await startNoCors(kit.anonymous);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await noCors?.close();
});

/** A fresh page (its own storage) that fails the test on a dialog or an uncaught error. */
async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true, ...options });
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

test('repositories: listed at once, grouped, filtered, keyboard', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here`);
  await page.getByRole('status').filter({ hasText: /\d+ repositories$/ }).waitFor();
  for (const ns of ['library/', 'apps/', 'team-a/', 'ci/', 'hostile/']) {
    await page.locator('.group-toggle', { hasText: ns }).first().waitFor();
  }
  await page.getByRole('link', { name: 'library/alpine' }).waitFor();
  await shot(page, 'repositories');

  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'filter');
  await page.keyboard.type('alp');
  await page.getByText(/^1 of \d+ repositories/).waitFor();
  assert.equal(await page.locator('a[data-row]').count(), 1);
  assert.match(page.url(), /\?q=alp$/);
  await shot(page, 'repositories-filtered');

  // Escape clears the filter and leaves the field; j focuses the first row, Enter opens it.
  await page.keyboard.press('Escape');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/r\/here\/repo\/apps\/api$/);
  await page.getByRole('link', { name: 'v2.1' }).waitFor();
  await page.keyboard.press('u');
  await page.waitForURL(/\/r\/here$/);
  // A listed registry opens by name too: a shortcut past thousands of rows.
  await page.getByLabel('Open by name').fill('library/alpine:3.20');
  await page.getByLabel('Open by name').press('Enter');
  await page.waitForURL(/\/manifest\/library\/alpine:3\.20$/);
  noErrors();
  await page.context().close();
});

test('repositories: a filter that swaps a name inside a group shows the rows it matches', async () => {
  // The group keeps its length and its first name: a list keyed on those alone kept the old rows.
  const run = Date.now();
  const names = [`keyed${run}/api-v1`, `keyed${run}/api-v2`, `keyed${run}/web-v1`];
  for (const name of names) await pushImage({ registry: kit.anonymous }, name, 'v1');
  const page = await newPage();
  await page.goto(`${site.url}/r/here`);
  await page.getByRole('status').filter({ hasText: /\d+ repositories$/ }).waitFor();
  const rows = page.locator('a[data-row]', { hasText: `keyed${run}/` });
  await page.locator('#filter').fill('-v1');
  await page.getByRole('link', { name: names[2] }).waitFor();
  assert.deepEqual(await rows.allTextContents(), [names[0], names[2]]);
  await page.locator('#filter').fill(`keyed${run}/api`);
  await page.getByRole('link', { name: names[1] }).waitFor();
  assert.deepEqual(await rows.allTextContents(), [names[0], names[1]]);
  noErrors();
  await page.context().close();
});

test('a site built with a pull host names it in pull commands and opens references to it', async () => {
  // `cargo xtask dist --pull-host` writes the meta tag; here the page's index.html is given it.
  const page = await newPage();
  await page.route('**/*', async (route) => {
    if (route.request().resourceType() !== 'document') return route.continue();
    const answer = await route.fetch();
    const html = (await answer.text()).replace(
      /(<meta name="porthole-pull-host" content=")[^"]*"/, '$1registry.example.com"');
    await route.fulfill({ response: answer, body: html });
  });
  await page.goto(`${site.url}/r/here/manifest/apps/web:1.0.0`);
  const digest = (await page.getByTestId('digest').innerText()).trim();
  await page.getByText(`docker pull registry.example.com/apps/web@${digest}`).waitFor();
  // Open by name takes the pull address, and the site's own address still.
  await page.goto(`${site.url}/r/here`);
  for (const host of ['registry.example.com', new URL(site.url).host]) {
    await page.getByLabel('Open by name').fill(`${host}/apps/web:1.0.0`);
    await page.getByLabel('Open by name').press('Enter');
    await page.waitForURL(/\/manifest\/apps\/web:1\.0\.0$/);
    await page.goBack();
  }
  // The site's own address typed in the connect form is this origin too.
  await connect(page, { url: site.url, auth: 'anonymous' });
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
  const reg = new URL(page.url()).pathname.split('/')[2];
  assert.notEqual(reg, 'here');
  await page.goto(`${site.url}/r/${reg}/manifest/apps/web:1.0.0`);
  await page.getByText(`docker pull registry.example.com/apps/web@${digest}`).waitFor();
  noErrors();
  await page.context().close();
});

test('an image config that is not JSON is said to be so', async () => {
  const repo = `odd/config-${Date.now()}`;
  await pushImage({ registry: kit.anonymous }, repo, 'v1', 'this is not JSON');
  const page = await newPage();
  await page.goto(`${site.url}/r/here/manifest/${repo}:v1`);
  await page.getByTestId('config-not-json').waitFor();
  noErrors();
  await page.context().close();
});

test('index: one row per platform, attestations folded away', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/library/alpine`);
  await page.locator('table.tags').getByText('linux/amd64, linux/arm64/v8, linux/arm/v7').first().waitFor();
  // An index's size (and build date) are its first platform's image's: the row says which.
  const indexRow = page.locator('table.tags tr', { has: page.getByRole('link', { name: '3.20', exact: true }) });
  await indexRow.locator('.size-of').getByText('(linux/amd64)').waitFor();
  await shot(page, 'repository-alpine');
  await page.getByRole('link', { name: '3.20' }).click();
  await page.waitForURL(/\/manifest\/library\/alpine:3\.20$/);
  const platforms = page.getByRole('table', { name: 'Platforms' });
  await platforms.waitFor();
  const text = await platforms.innerText();
  for (const p of ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7']) assert.ok(text.includes(p), text);
  assert.ok(!text.includes('unknown'), 'attestations are not among the platforms');
  // Each platform's image size (config and layers), read from its manifest, as the registry has it.
  const accept = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json';
  const read = async (ref) => (await fetch(`${kit.anonymous}/v2/library/alpine/manifests/${ref}`, { headers: { Accept: accept } })).json();
  for (const child of (await read('3.20')).manifests.filter((m) => m.platform?.os !== 'unknown')) {
    const image = await read(child.digest);
    const bytes = image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
    const row = platforms.locator('tbody tr', { hasText: child.digest.slice(7, 19) });
    assert.equal(await row.locator('[data-bytes]').getAttribute('data-bytes'), String(bytes));
  }
  const folded = page.locator('details.attestations');
  await folded.getByText('3 attestation manifests').waitFor();
  assert.equal(await folded.evaluate((d) => d.open), false);
  assert.equal(await page.getByRole('table', { name: 'Attestation manifests' }).isVisible(), false);
  await page.getByText('"application/vnd.oci.image.index.v1+json"').first().waitFor();
  await shot(page, 'manifest-index');
  noErrors();
  await page.context().close();
});

test('image: layers, config, referrers, pull command, verified download', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/manifest/apps/web:1.0.0`);
  const referrers = page.getByRole('table', { name: 'Referrers' });
  await referrers.waitFor();
  await referrers.locator('tr[data-kind="signature"]').waitFor();
  await referrers.locator('tr[data-kind="SBOM"]').waitFor();
  await page.getByText('APP_ENV=production').waitFor();
  await page.getByRole('heading', { name: 'History' }).waitFor();
  const digest = (await page.getByTestId('digest').innerText()).trim();
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  const host = new URL(site.url).host;
  await page.getByText(`docker pull ${host}/apps/web@${digest}`).waitFor();
  await shot(page, 'manifest-image');

  // Copy puts the digest on the clipboard; where the page has no clipboard (plain http from
  // another host) the button says it did not copy, and why.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.url });
  const copy = page.getByRole('button', { name: 'Copy the digest' });
  await copy.click();
  await copy.getByText('Copied').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), digest);
  await copy.getByText('Copy', { exact: true }).waitFor();
  // The manifest's exact bytes, copied and downloaded, hash to its digest (what is shown is
  // re-indented).
  const sha = (bytes) => `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
  const copyManifest = page.getByRole('button', { name: "Copy the manifest's exact bytes" });
  await copyManifest.click();
  await copyManifest.getByText('Copied').waitFor();
  assert.equal(sha(await page.evaluate(() => navigator.clipboard.readText())), digest);
  const json = page.getByRole('region', { name: 'Manifest JSON' });
  const [manifestFile] = await Promise.all([
    page.waitForEvent('download'),
    json.getByRole('button', { name: 'Download', exact: true }).click(),
  ]);
  assert.equal(manifestFile.suggestedFilename(), `${digest.replace(':', '-')}.json`);
  assert.equal(sha(fs.readFileSync(await manifestFile.path())), digest);
  await page.evaluate(() => Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined }));
  await copy.click();
  await copy.getByText('Not copied').waitFor();
  assert.match(await copy.getAttribute('title'), /no clipboard \(it is served over plain http\)/);

  const layers = page.getByRole('table', { name: 'Layers' });
  const first = layers.locator('tbody tr').first();
  const layerDigest = await first.locator('td.mono').first().getAttribute('title');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    first.getByRole('button', { name: /^Download/ }).click(),
  ]);
  const file = path.join(out, 'downloaded-layer');
  await download.saveAs(file);
  const hash = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  assert.equal(`sha256:${hash}`, layerDigest);
  assert.equal(fs.statSync(file).size, 3 * 1024 * 1024);
  await first.getByText(/verified, 3\.0 MiB/).waitFor();

  // A referrer links back to its subject.
  await referrers.locator('tr[data-kind="signature"] a').click();
  await page.getByRole('heading', { name: 'Refers to' }).waitFor();
  await page.getByText('application/vnd.dev.cosign.artifact.sig.v1+json').first().waitFor();
  await shot(page, 'manifest-signature');
  noErrors();
  await page.context().close();
});

test('a blob read that fails on the page\'s own origin names object storage redirects as a cause', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/manifest/apps/web:1.0.0`);
  const first = page.getByRole('table', { name: 'Layers' }).locator('tbody tr').first();
  await first.waitFor();
  // As the browser fails a redirect to a storage host that does not allow the page.
  await page.route('**/v2/apps/web/blobs/**', (route) => route.abort('failed'));
  await first.getByRole('button', { name: /^Download/ }).click();
  await first.getByText(/redirected this read to a storage host that does not allow this page/).waitFor({ timeout: 60_000 });
  assert.match(await first.innerText(), /deploy\/nginx\.conf/);
  noErrors();
  await page.context().close();
});

test('1,100 tags: all pages listed, sorted by date across all of them', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/repo/ci/builds`);
  await page.getByText(/^1100 tags/).waitFor({ timeout: 60_000 });
  await page.getByText('Page 1 of 11').waitFor();
  const firstTag = () => page.locator('table.tags tbody tr td.tag-cell a').first().innerText();
  assert.equal(await firstTag(), 'build-0001');
  await page.getByLabel('Sort tags').selectOption('newest');
  await page.waitForFunction(
    () => document.querySelector('table.tags tbody tr td.tag-cell a')?.textContent === 'build-1100',
    null,
    { timeout: 120_000 },
  );
  await shot(page, 'repository-1100-tags-newest');
  await page.getByLabel('Filter tags').fill('build-00');
  await page.getByText('99 of 1100 tags').waitFor();
  noErrors();
  await page.context().close();
});

test('hostile content is shown as text, big manifests render', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/r/here/manifest/hostile/content:script-tags`);
  await page.getByRole('heading', { name: /Annotations/ }).waitFor();
  await page.locator('table.kv').getByText("<script>document.title='pwned'</script>", { exact: false }).first().waitFor();
  await page.getByText('</script><script>alert(1)</script>').first().waitFor();
  assert.equal(await page.title(), 'Porthole');
  assert.equal(await page.locator('img[src="x"], svg[onload], main script').count(), 0);
  await shot(page, 'manifest-hostile');

  await page.goto(`${site.url}/r/here/manifest/hostile/content:big-annotations`);
  await page.getByRole('heading', { name: /Annotations \(60\d\d\)/ }).waitFor();
  await page.getByRole('button', { name: /Show the raw JSON \(\d\.\d MiB\)/ }).click();
  await page.getByRole('button', { name: /Show the remaining \d+ lines/ }).waitFor();
  assert.equal(await page.title(), 'Porthole');
  await shot(page, 'manifest-big');
  noErrors();
  await page.context().close();
});

test('narrow screen and dark theme', async () => {
  const page = await newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  await page.goto(`${site.url}/r/here/manifest/library/nginx:stable`);
  await page.getByRole('table', { name: 'Layers' }).waitFor();
  const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  assert.equal(bg, 'rgb(15, 18, 22)');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
  await shot(page, 'narrow-dark');
  await page.getByRole('button', { name: /^Theme: system/ }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
  await shot(page, 'narrow-light');
  noErrors();
  await page.context().close();
});

async function connect(page, { url, auth, username, secret, origin = site.url }) {
  await page.goto(`${origin}/`);
  await page.getByLabel('Registry address').fill(url);
  await page.getByLabel(auth).check();
  if (username) await page.getByRole('textbox', { name: 'Username' }).fill(username);
  if (secret) await page.locator('input[name="secret"]').fill(secret);
  await page.getByRole('button', { name: 'Connect' }).click();
}

test('ACR emulator: AAD token, ACR metadata and locks', { skip: !kit.acr && 'the test kit has no ACR emulator' }, async () => {
  const page = await newPage();
  await connect(page, { url: kit.acr, auth: 'ACR with an Entra ID token', secret: kit.acr_auth.aad_tokens.owner });
  await page.getByRole('link', { name: 'apps/web' }).waitFor({ timeout: 30_000 });
  const reg = new URL(page.url()).pathname.split('/')[2];
  await shot(page, 'acr-repositories');
  // In-app navigation keeps the connection (a reload would forget the unkept secret).
  await page.getByRole('link', { name: 'library/alpine' }).click();
  await page.getByRole('columnheader', { name: 'Updated' }).waitFor();
  await page.locator('table.tags').getByText('linux/amd64').first().waitFor();
  // ACR sizes an index as all its images together; the row says so (elsewhere: one platform's).
  const indexRow = page.locator('table.tags tr', { has: page.getByRole('link', { name: '3.20', exact: true }) });
  await indexRow.locator('.size-of').getByText('(all platforms)').waitFor();
  await shot(page, 'acr-repository');
  // The secret was not kept (no box ticked): after a reload the page asks for it again...
  await page.reload();
  await page.getByText(/needs its ACR with an Entra ID token again/).waitFor();
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage).includes('eyJ')), false);
  // ...so connect again, this time keeping it for the session.
  await page.getByRole('link', { name: 'Enter it' }).click();
  await page.locator('input[name="secret"]').fill(kit.acr_auth.aad_tokens.owner);
  await page.getByLabel(/Keep the secret/).check();
  await page.getByRole('button', { name: 'Connect' }).click();
  // Back on the page that asked.
  await page.waitForURL(new RegExp(`/r/${reg}/repo/library/alpine$`));
  // Kept for the session: a reload or a deep link works.
  await page.goto(`${site.url}/r/${reg}/manifest/apps/web:1.0.0`);
  const tagLocks = page.getByTestId('tag-locks');
  await tagLocks.getByText('delete locked').waitFor();
  await tagLocks.getByText('write locked').waitFor();
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage).includes('eyJ')), false);
  assert.equal(await page.evaluate(() => JSON.stringify(sessionStorage).includes('eyJ')), true);
  await shot(page, 'acr-manifest-locks');
  noErrors();
  await page.context().close();
});

test('a registry that refuses the catalog: open by name, and what was opened before', async () => {
  const repo = `open-by-name/app-${Date.now()}`;
  await pushImage({
    registry: kit.token, realm: kit.token_realm, service: kit.service, username: 'alice', password: kit.users.alice.password,
  }, repo, 'v1');
  const page = await newPage();
  // reader may pull every repository but not list the catalog.
  await connect(page, { url: kit.token_front, auth: 'username and password', username: 'reader', secret: kit.users.reader.password });
  const refused = page.getByRole('region', { name: 'This registry does not list its repositories for you' });
  await refused.waitFor({ timeout: 30_000 });
  // In-app links only: a reload would drop the password, which this page was not told to keep.
  const toRepositories = () => page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link').nth(1).click();
  // The registry's reason names the missing right, not a push right.
  const reason = await page.locator('.error-message').innerText();
  assert.match(reason, /registry:catalog:\*/);
  assert.doesNotMatch(reason, /push/);
  assert.equal(await refused.getByRole('heading', { name: 'Opened here before' }).count(), 0);
  const field = refused.getByLabel('Open by name');
  assert.ok(await field.evaluate((el) => el === document.activeElement), 'the field has the focus');
  assert.equal(await page.getByLabel('Open by name').count(), 1, 'one field, in the notice');
  assert.equal(await page.locator('#filter').count(), 0, 'no filter without a list');
  await page.getByRole('status').filter({ hasText: 'not listed' }).waitFor();

  await field.fill('Team/App');
  await field.press('Enter');
  await refused.getByRole('alert').filter({ hasText: /lowercase/ }).waitFor();
  await field.fill('docker.io/library/nginx');
  await field.press('Enter');
  await refused.getByRole('alert').filter({ hasText: /names the registry docker\.io/ }).waitFor();
  await shot(page, 'catalog-refused');

  // A reference as a pull command has it, host included: the artifact's page.
  await field.fill(`${new URL(kit.token_front).host}/${repo}:v1`);
  await field.press('Enter');
  await page.locator('h1.manifest-title').waitFor();
  assert.ok(decodeURIComponent(page.url()).includes(`/manifest/${repo}:v1`), page.url());

  // A repository name: its tags; and the repositories page offers it from then on.
  await toRepositories();
  await refused.getByLabel('Open by name').fill(repo);
  await refused.getByLabel('Open by name').press('Enter');
  await page.locator('h1.repo-name', { hasText: repo }).waitFor();
  await page.getByRole('link', { name: 'v1', exact: true }).first().waitFor({ timeout: 30_000 });
  await toRepositories();
  await refused.getByRole('heading', { name: 'Opened here before' }).waitFor();
  await refused.getByRole('link', { name: repo }).click();
  await page.locator('h1.repo-name', { hasText: repo }).waitFor();
  noErrors();
  await page.context().close();
});

test('failed connections are diagnosed', async () => {
  const page = await newPage();
  const cases = [
    { name: 'unreachable', url: await closedPort(), auth: 'anonymous' },
    { name: 'cors', url: noCors.url, auth: 'anonymous' },
    { name: 'preflight', url: kit.basic, auth: 'username and password', username: 'alice', secret: kit.users.alice.password },
    { name: 'credentials', url: kit.basic_front, auth: 'username and password', username: 'alice', secret: 'not-the-password' },
  ];
  for (const c of cases) {
    await connect(page, c);
    const verdict = page.locator('[data-diagnosis]');
    await verdict.waitFor({ timeout: 30_000 });
    assert.equal(await verdict.getAttribute('data-diagnosis'), c.name, await verdict.innerText());
    await page.getByRole('heading', { name: 'Fix' }).waitFor();
    await shot(page, `diagnosis-${c.name}`);
  }
  pageErrors.splice(0);
  await page.context().close();
});

test('a newer connect attempt keeps its diagnosis when an older one finishes late', async () => {
  const page = await newPage();
  // The first address answers its ping 404 (not a registry) at once, then holds the diagnosis'
  // probes: the user corrects the form meanwhile and connects again.
  const first = await closedPort();
  let requests = 0;
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route(`${first}/**`, async (route) => {
    requests += 1;
    if (requests > 1) await held;
    await route.fulfill({ status: 404, body: 'not here' });
  });
  await page.goto(`${site.url}/`);
  await page.getByLabel('Registry address').fill(first);
  await page.getByLabel('anonymous').check();
  await page.getByRole('button', { name: 'Connect' }).click();
  for (let i = 0; i < 150 && requests < 2; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(requests >= 2, 'the first attempt is diagnosing');
  await page.getByLabel('Registry address').fill(kit.basic_front);
  await page.getByLabel('username and password').check();
  await page.getByRole('textbox', { name: 'Username' }).fill('alice');
  await page.locator('input[name="secret"]').fill('not-the-password');
  await page.getByRole('button', { name: 'Connect' }).click();
  const verdict = page.locator('[data-diagnosis]');
  await verdict.waitFor({ timeout: 30_000 });
  assert.equal(await verdict.getAttribute('data-diagnosis'), 'credentials');
  release();
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(await verdict.getAttribute('data-diagnosis'), 'credentials', 'the older attempt replaced the diagnosis');
  assert.equal(await page.getByText('Diagnosing…').count(), 0);
  pageErrors.splice(0);
  await page.context().close();
});

test('a host that never answers does not hold the connect form', async () => {
  const page = await newPage();
  const silent = await closedPort();
  await page.route(`${silent}/**`, () => { /* never answered, as a firewalled host */ });
  await page.goto(`${site.url}/`);
  await page.getByLabel('Registry address').fill(silent);
  await page.getByLabel('anonymous').check();
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByRole('button', { name: /^Connecting…/ }).waitFor();
  // Corrected to this page's own origin (its proxy to the registry): connects at once.
  await page.getByLabel('Registry address').fill('');
  await page.getByRole('button', { name: /^Connecting…/ }).click();
  await page.getByRole('status').filter({ hasText: /\d+ repositories$/ }).waitFor({ timeout: 30_000 });
  pageErrors.splice(0);
  await page.context().close();
});

test('a page whose credentials are refused offers to enter them again', async () => {
  const page = await newPage();
  // The registry refuses this page's credentials from now on (as after a password change, or
  // once an Entra ID token expired).
  await page.route('**/v2/library/alpine/tags/list**', (route) => route.fulfill({
    status: 401,
    contentType: 'application/json',
    body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
  }));
  await page.goto(`${site.url}/r/here/repo/library/alpine`);
  const alert = page.getByRole('alert');
  await alert.getByRole('link', { name: 'enter them again, or other ones' }).click();
  await page.waitForURL(`${site.url}/?id=here&next=${encodeURIComponent('/r/here/repo/library/alpine')}`);
  // Connected again, the user is back on the page they were on.
  await page.unroute('**/v2/library/alpine/tags/list**');
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.waitForURL(`${site.url}/r/here/repo/library/alpine`);
  await page.getByRole('link', { name: '3.20', exact: true }).waitFor();
  pageErrors.splice(0);
  await page.context().close();
});

test('the connect form: its own mistakes, edits that stay edits, a secret asked for again', async () => {
  const page = await newPage();
  await page.goto(`${site.url}/`);
  const form = page.getByRole('form', { name: 'Connect a registry' });
  // Mistakes in the form are said at the form, not as a failed connection.
  await page.getByLabel('Registry address').fill(kit.basic_front);
  await page.getByLabel('username and password').check();
  await page.getByRole('textbox', { name: 'Username' }).fill('alice');
  await page.getByRole('button', { name: 'Connect' }).click();
  await form.getByRole('alert').filter({ hasText: 'Type the username and password.' }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Connecting failed' }).count(), 0);

  // Connected with a password not kept: a page opened afresh asks for it, and comes back.
  await page.locator('input[name="secret"]').fill(kit.users.alice.password);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
  const home = new URL(page.url()).pathname;
  const deep = `${home}/repo/nothing/here`;
  await page.goto(`${site.url}${deep}`);
  await page.getByRole('link', { name: 'Enter it' }).click();
  await page.locator('input[name="secret"]').fill(kit.users.alice.password);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.waitForURL(`${site.url}${deep}`);
  await page.locator('h1.repo-name', { hasText: 'nothing/here' }).waitFor();

  // An edit of the authentication alone shows in its row; the old password is dropped.
  await page.goto(`${site.url}/`);
  const label = new URL(kit.basic_front).host;
  await page.getByRole('button', { name: `Edit ${label}` }).click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'registry-url', 'the form has the focus');
  await page.getByRole('form', { name: 'Connect again' }).waitFor();
  // Leaving the edit: what is typed next is a new registry, and the edited one stays.
  await page.getByRole('link', { name: 'Connect a new registry instead' }).click();
  await form.waitFor();
  assert.equal(await page.getByLabel('Registry address').inputValue(), '');
  const saved = page.getByRole('list', { name: 'Saved registries' });
  assert.equal(await saved.getByRole('listitem').count(), 2);

  // "This origin", edited into another registry, becomes a registry of its own.
  await page.getByRole('button', { name: 'Edit This origin (same-origin proxy)' }).click();
  await page.getByLabel('Registry address').fill(kit.anonymous);
  await page.getByLabel('Name', { exact: true }).fill('direct');
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
  assert.doesNotMatch(page.url(), /\/r\/here$/);
  await page.goto(`${site.url}/`);
  await saved.getByText('This origin (same-origin proxy)').waitFor();
  await saved.getByText('direct', { exact: true }).waitFor();
  assert.equal(await saved.getByRole('listitem').count(), 3);

  // An edit of the authentication alone shows in its row (this registry takes any password).
  const direct = saved.getByRole('listitem').filter({ hasText: 'direct' });
  await page.getByRole('button', { name: 'Edit direct' }).click();
  await page.getByLabel('username and password').check();
  await page.getByRole('textbox', { name: 'Username' }).fill('someone');
  await page.locator('input[name="secret"]').fill('kept-secret');
  await page.getByLabel(/Keep the secret/).check();
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
  const kept = () => page.evaluate(() => Object.values(sessionStorage).filter((v) => v === 'kept-secret').length);
  assert.equal(await kept(), 1);
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Registries' }).click();
  await direct.getByText(/· username and password$/).waitFor();
  // Back to anonymous: the row says so, and the kept password is gone.
  await page.getByRole('button', { name: 'Edit direct' }).click();
  await page.getByLabel('anonymous').check();
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Registries' }).click();
  await direct.getByText(/· anonymous$/).waitFor();
  assert.equal(await kept(), 0, 'the password of a registry now anonymous is still kept');
  noErrors();
  await page.context().close();
});

/**
 * Runs a file of deploy/ as written, with `replacements` ([from, to] pairs, every occurrence),
 * its listen and root pointed at a free port and the built site, and its temporary files in a
 * directory of its own; hands `use` the site's origin and stops nginx afterwards.
 */
async function withNginx(file, replacements, use) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'porthole-nginx-'));
  const port = new URL(await closedPort()).port;
  let conf = fs.readFileSync(file, 'utf8')
    .replace('listen 8080;', `listen 127.0.0.1:${port};`)
    .replace('root /srv/porthole;', `root ${path.resolve(dist)};`)
    .replace('http {', `http {\n    access_log off;\n    client_body_temp_path ${dir}/body;\n    proxy_temp_path ${dir}/proxy;\n    fastcgi_temp_path ${dir}/fcgi;\n    uwsgi_temp_path ${dir}/uwsgi;\n    scgi_temp_path ${dir}/scgi;`);
  for (const [from, to] of replacements) conf = conf.replaceAll(from, to);
  // One process, as this user: a root nginx would serve the site from workers running as
  // nobody, which cannot read a checkout under /root.
  conf = `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\ndaemon off;\nmaster_process off;\n${conf}`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  execFileSync('/usr/sbin/nginx', ['-t', '-q', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
  const nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'inherit' });
  const exited = new Promise((r) => nginx.once('exit', r));
  try {
    const base = `http://127.0.0.1:${port}`;
    let up = false;
    for (let i = 0; i < 50 && !up && nginx.exitCode === null; i++) {
      try { await fetch(`${base}/`); up = true; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    const log = path.join(dir, 'error.log');
    assert.ok(up, `nginx (${file}) did not come up on ${base}: ${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : 'no log'}`);
    await use(base);
  } finally {
    if (nginx.exitCode === null) nginx.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('deploy/nginx.conf serves the site and proxies the registry on one origin', async () => {
  const registry = new URL(kit.anonymous);
  await withNginx('deploy/nginx.conf', [['proxy_pass http://127.0.0.1:5000;', `proxy_pass http://${registry.host};`]], async (base) => {
    const page = await newPage();
    await page.goto(`${base}/r/here/repo/apps/web`);
    await page.getByRole('link', { name: '1.0.0' }).waitFor();
    await page.getByRole('link', { name: '1.0.0' }).click();
    await page.getByRole('table', { name: 'Referrers' }).locator('tr[data-kind="SBOM"]').waitFor();
    await shot(page, 'nginx-manifest');
    // An API path that ends like one of the site's files still reaches the registry.
    const api = await fetch(`${base}/v2/apps/web/manifests/bundle.js`);
    assert.equal(api.headers.get('docker-distribution-api-version'), 'registry/2.0');
    noErrors();
    await page.context().close();
  });
});

/** Signing in to the emulator with an Entra ID token. */
const ACR_AAD = { auth: 'ACR with an Entra ID token', secret: kit.acr_auth?.aad_tokens?.owner };

/**
 * Connects the page to the ACR emulator behind `base` (an nginx of deploy/) with `signIn`, opens
 * the seeded image, checks its config shows and a layer downloads verified; fails if the page
 * sent any request to an origin not in `allowed`, or if a blob read was not answered 200 through
 * them.
 */
async function browseAcrImageThrough(base, allowed, signIn = ACR_AAD) {
  const page = await newPage();
  const elsewhere = [];
  const blobReads = [];
  page.on('request', (r) => { if (!allowed.includes(new URL(r.url()).origin)) elsewhere.push(r.url()); });
  page.on('response', (r) => { if (r.url().includes('/blobs/sha256:')) blobReads.push(r.status()); });
  await connect(page, { origin: base, url: base, ...signIn });
  await page.getByRole('link', { name: 'apps/web' }).waitFor({ timeout: 30_000 });
  await page.getByRole('link', { name: 'apps/web' }).click();
  await page.getByRole('link', { name: '1.0.0' }).click();
  // The config (a blob read) is shown...
  await page.getByText('APP_ENV=production').waitFor();
  // ...and a layer downloads, verified.
  const first = page.getByRole('table', { name: 'Layers' }).locator('tbody tr').first();
  const layerDigest = await first.locator('td.mono').first().getAttribute('title');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    first.getByRole('button', { name: /^Download/ }).click(),
  ]);
  const hash = crypto.createHash('sha256').update(fs.readFileSync(await download.path())).digest('hex');
  assert.equal(`sha256:${hash}`, layerDigest);
  await first.getByText(/verified, 3\.0 MiB/).waitFor();
  assert.deepEqual(elsewhere, [], 'the page left the origins it may use');
  assert.ok(blobReads.length >= 2 && blobReads.every((s) => s === 200), `blob reads: ${blobReads}`);
  noErrors();
  return page;
}

test('deploy/nginx.conf follows a registry\'s blob redirects to its storage', { skip: !kit.acr && 'the test kit has no ACR emulator' }, async () => {
  // The emulator stands for any registry whose blobs are in object storage (distribution with
  // S3): its blob reads answer 307 to a storage origin that the page must not have to reach.
  // Token requests go to the registry's own token server (the emulator allows this page), with
  // a username and password: an Entra ID token is never sent to a token server on another
  // origin (nginx-acr.conf, below, keeps it on the page's).
  const acr = new URL(kit.acr);
  const admin = { auth: 'username and password', username: kit.acr_auth.admin.username, secret: kit.acr_auth.admin.password };
  await withNginx('deploy/nginx.conf', [['proxy_pass http://127.0.0.1:5000;', `proxy_pass http://${acr.host};`]], async (base) => {
    const page = await browseAcrImageThrough(base, [base, acr.origin], admin);
    await page.context().close();
  });
});

test('deploy/nginx-acr.conf: ACR on the page\'s origin, its token server and blob storage included', { skip: !kit.acr && 'the test kit has no ACR emulator' }, async () => {
  // The emulator's challenges name its own origin as the token server, and its blob reads
  // redirect to a storage origin of their own, as ACR's do: the page must reach neither.
  const acr = new URL(kit.acr).host;
  const replacements = [['https://myregistry.azurecr.io', `http://${acr}`], ['myregistry.azurecr.io', acr]];
  await withNginx('deploy/nginx-acr.conf', replacements, async (base) => {
    const page = await browseAcrImageThrough(base, [base]);
    await shot(page, 'nginx-acr-manifest');
    await page.context().close();
  });
});
