// End-to-end tests of the two connection diagnoses dashboard.test.mjs does not reach: a registry
// whose CORS allows the page but exposes none of the headers the protocol needs, and an https page
// calling a plain-http registry (mixed content). Same environment as dashboard.test.mjs
// (PORTHOLE_E2E_JSON, PORTHOLE_E2E_DIST, PORTHOLE_E2E_OUT, set by `cargo xtask test`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSite, startExposeNothing, startHttpsSite, startNoCors, closedPort } from './server.mjs';

const kit = JSON.parse(process.env.PORTHOLE_E2E_JSON ?? '{}');
const dist = path.resolve(process.env.PORTHOLE_E2E_DIST ?? 'target/e2e/dist');
const out = process.env.PORTHOLE_E2E_OUT ?? 'target/e2e';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const closers = [];

before(() => {
  assert.ok(kit.anonymous && kit.basic_front, 'PORTHOLE_E2E_JSON must hold the test kit line');
  fs.mkdirSync(out, { recursive: true });
});

after(async () => {
  for (const close of closers.reverse()) await close();
});

async function launch(extra = []) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: [...ARGS, ...extra] });
  closers.push(() => browser.close());
  return browser;
}

/** The dashboard on a site of its own, a page in a fresh browser, and the page's errors. */
async function sitePage() {
  const site = await startSite(dist, kit.anonymous);
  closers.push(site.close);
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { site, page, errors };
}

/** Fills the connect form at `siteUrl` and submits it; returns the diagnosis element. */
async function connect(page, siteUrl, { url, auth, username, secret }) {
  await page.goto(`${siteUrl}/`);
  await page.getByLabel('Registry address').fill(url);
  await page.getByLabel(auth).check();
  if (username) await page.getByRole('textbox', { name: 'Username' }).fill(username);
  if (secret) await page.locator('input[name="secret"]').fill(secret);
  await page.getByRole('button', { name: 'Connect' }).click();
  const verdict = page.locator('[data-diagnosis]');
  await verdict.waitFor({ timeout: 30_000 });
  return verdict;
}

test('a registry that hides the protocol headers is diagnosed as unexposed headers', async () => {
  // The kit's basic-auth registry (behind its front, which answers the preflight) allows any
  // origin; the proxy keeps that but drops Access-Control-Expose-Headers.
  const hidden = await startExposeNothing(kit.basic_front);
  closers.push(hidden.close);
  const { site, page, errors } = await sitePage();

  // Sanity: the proxy answers with CORS allowed and nothing exposed.
  const probe = await fetch(`${hidden.url}/v2/`, { headers: { Origin: site.url } });
  assert.equal(probe.status, 401);
  assert.ok(probe.headers.get('access-control-allow-origin'));
  assert.equal(probe.headers.get('access-control-expose-headers'), null);
  assert.ok(probe.headers.get('www-authenticate'));

  for (const c of [
    { tag: 'password', url: hidden.url, auth: 'username and password', username: 'alice', secret: kit.users.alice.password },
    { tag: 'anonymous', url: hidden.url, auth: 'anonymous' },
  ]) {
    const verdict = await connect(page, site.url, c);
    const text = await verdict.innerText();
    assert.equal(await verdict.getAttribute('data-diagnosis'), 'unexposed-headers', `${c.tag}: ${text}`);
    assert.match(text, /hides the headers/);
    assert.match(text, /WWW-Authenticate/);
    await page.getByRole('heading', { name: 'Fix' }).waitFor();
    // The fix names the header setting and every header the client needs.
    assert.match(text, /Access-Control-Expose-Headers:/);
    for (const h of ['Docker-Content-Digest', 'WWW-Authenticate', 'Link', 'Location']) {
      assert.match(text.split('Access-Control-Expose-Headers:')[1], new RegExp(h), `fix lacks ${h}`);
    }
    assert.match(text, /deploy\/nginx\.conf/);
    if (c.tag === 'password') await page.screenshot({ path: path.join(out, 'diagnosis-unexposed-headers.png'), fullPage: true });
  }
  assert.deepEqual(errors, []);
});

test('a token server that does not allow the page is diagnosed as such', async () => {
  const { site, page, errors } = await sitePage();
  // The kit's token server allows any page; here its answers go through a proxy that drops
  // their CORS headers, as a token server on another origin set up for the CLI only. (The
  // request is sent on to the proxy, not fulfilled: Playwright lets fulfilled answers through
  // CORS.)
  const realm = new URL(kit.token_realm);
  const stripped = await startNoCors(realm.origin);
  closers.push(stripped.close);
  await page.route((url) => url.href.startsWith(kit.token_realm), (route) => {
    const to = new URL(route.request().url());
    route.continue({ url: `${stripped.url}${to.pathname}${to.search}` });
  });
  const verdict = await connect(page, site.url, {
    url: kit.token_front, auth: 'username and password', username: 'alice', secret: kit.users.alice.password,
  });
  const text = await verdict.innerText();
  assert.equal(await verdict.getAttribute('data-diagnosis'), 'token-cors', text);
  assert.ok(text.includes(kit.token_realm), `the detail names the token server: ${text}`);
  assert.match(text, /answers, but not with Access-Control-Allow-Origin/);
  assert.deepEqual(errors, []);
});

test('an anonymous client of a token registry that refuses the preflight is diagnosed as such', async () => {
  // The kit's token registry allows any origin but answers OPTIONS with 401 whenever auth is on
  // (distribution#4458): the anonymous token it hands out travels in an Authorization header,
  // which needs that preflight. No secret was given, and the diagnosis still tries it.
  const { site, page, errors } = await sitePage();
  const verdict = await connect(page, site.url, { url: kit.token, auth: 'anonymous' });
  const text = await verdict.innerText();
  assert.equal(await verdict.getAttribute('data-diagnosis'), 'preflight', text);
  assert.match(text, /deploy\/nginx\.conf/);
  assert.deepEqual(errors, []);
});

test('ACR seen without CORS is told to use deploy/nginx-acr.conf, not registry settings', { skip: !kit.acr && 'no ACR emulator' }, async () => {
  // ACR allows no CORS: a proxy that strips the emulator's CORS headers stands for it.
  const stripped = await startNoCors(kit.acr);
  closers.push(stripped.close);
  const { site, page, errors } = await sitePage();
  const verdict = await connect(page, site.url, {
    url: stripped.url, auth: 'ACR with an Entra ID token', secret: kit.acr_auth.aad_tokens.owner,
  });
  const text = await verdict.innerText();
  assert.equal(await verdict.getAttribute('data-diagnosis'), 'cors', text);
  assert.match(text, /deploy\/nginx-acr\.conf/);
  assert.doesNotMatch(text, /config\.yml/);
  assert.deepEqual(errors, []);
});

test('an https page calling a plain-http registry is diagnosed as mixed content', async () => {
  // Chromium lets an https page call http://127.0.0.1 and http://localhost (potentially
  // trustworthy), so the registry is reached by a name mapped to loopback.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'porthole-tls-'));
  closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k'),
    '-out', path.join(dir, 'c'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const site = await startHttpsSite(dist, { key: fs.readFileSync(path.join(dir, 'k')), cert: fs.readFileSync(path.join(dir, 'c')) });
  closers.push(site.close);
  const browser = await launch(['--host-resolver-rules=MAP registry.test 127.0.0.1', '--ignore-certificate-errors']);
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const registry = `http://registry.test:${new URL(kit.anonymous).port}`;

  // The name resolves and the registry would answer the page (no CORS problem): only the
  // scheme stands in the way.
  await page.goto(`${registry}/v2/`);
  assert.equal(await page.evaluate(() => document.body.innerText.trim()), '{}');

  const verdict = await connect(page, site.url, { url: registry, auth: 'anonymous' });
  const text = await verdict.innerText();
  assert.equal(await verdict.getAttribute('data-diagnosis'), 'mixed-content', text);
  assert.match(text, /Mixed content/);
  assert.ok(text.includes(site.url), `the detail names the page's origin: ${text}`);
  assert.ok(text.includes(registry), `the detail names the registry: ${text}`);
  await page.getByRole('heading', { name: 'Fix' }).waitFor();
  assert.match(text, /https address/);
  assert.match(text, /deploy\/nginx\.conf/);
  await page.screenshot({ path: path.join(out, 'diagnosis-mixed-content.png'), fullPage: true });

  // Loopback over plain http is no mixed content: a registry there that does not answer is
  // diagnosed as unreachable, not blamed on the scheme.
  const closed = await closedPort();
  assert.match(closed, /^http:\/\/127\.0\.0\.1:/);
  const loopback = await connect(page, site.url, { url: closed, auth: 'anonymous' });
  assert.equal(await loopback.getAttribute('data-diagnosis'), 'unreachable', await loopback.innerText());
  assert.deepEqual(errors, []);
});

