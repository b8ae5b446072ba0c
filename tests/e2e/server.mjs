// A tiny static server for the dashboard's build with a same-origin proxy to a registry (what
// `trunk serve` and deploy/nginx.conf do), and a proxy that strips CORS headers (a registry that
// does not allow the page), one that hides the response headers from the page, and an https
// server for the site. Used by the *.test.mjs files here.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

const PROXIED = ['/v2/', '/acr/', '/oauth2/'];

function proxy(req, res, backend, { stripCors = false, exposeNothing = false } = {}) {
  const target = new URL(req.url, backend);
  const headers = { ...req.headers };
  const upstream = http.request(
    target,
    { method: req.method, headers },
    (up) => {
      const out = { ...up.headers };
      if (stripCors) {
        for (const name of Object.keys(out)) {
          if (name.startsWith('access-control-')) delete out[name];
        }
      }
      if (exposeNothing) delete out['access-control-expose-headers'];
      res.writeHead(up.statusCode, out);
      up.pipe(res);
    },
  );
  upstream.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy error: ${e.message}`);
  });
  req.pipe(upstream);
}

function serveFile(req, res, dist) {
  const url = new URL(req.url, 'http://x');
  let file = path.join(dist, decodeURIComponent(url.pathname));
  if (!file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    file = path.join(dist, 'index.html'); // the single page, for every route
  }
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
  });
  fs.createReadStream(file).pipe(res);
}

function listen(server) {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

/** Serves `dist` with /v2/ (and /acr/, /oauth2/) proxied to `registry`. */
export async function startSite(dist, registry) {
  const server = http.createServer((req, res) => {
    if (PROXIED.some((p) => req.url.startsWith(p))) proxy(req, res, registry);
    else serveFile(req, res, dist);
  });
  const url = await listen(server);
  return { url, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** A proxy to `registry` that drops every Access-Control-* header: the browser then blocks. */
export async function startNoCors(registry) {
  const server = http.createServer((req, res) => proxy(req, res, registry, { stripCors: true }));
  const url = await listen(server);
  return { url, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/**
 * A proxy to `registry` that keeps its CORS allowance but drops Access-Control-Expose-Headers:
 * the page may read the answers, but none of the headers the protocol needs (WWW-Authenticate,
 * Location, Docker-Content-Digest, Link).
 */
export async function startExposeNothing(registry) {
  const server = http.createServer((req, res) => proxy(req, res, registry, { exposeNothing: true }));
  const url = await listen(server);
  return { url, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** Serves `dist` over https on 127.0.0.1 with the given PEM key and certificate (no proxy). */
export async function startHttpsSite(dist, { key, cert }) {
  const server = https.createServer({ key, cert }, (req, res) => serveFile(req, res, dist));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** A loopback port nothing listens on. */
export async function closedPort() {
  const server = http.createServer();
  const url = await listen(server);
  await new Promise((r) => server.close(r));
  return url;
}
