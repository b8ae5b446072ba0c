// A tiny static server for the dashboard's build with a same-origin proxy to a registry (what
// `trunk serve` and deploy/nginx.conf do), and a proxy that strips CORS headers (a registry that
// does not allow the page). Used by dashboard.test.mjs.
import http from 'node:http';
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

function proxy(req, res, backend, { stripCors = false } = {}) {
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

/** A loopback port nothing listens on. */
export async function closedPort() {
  const server = http.createServer();
  const url = await listen(server);
  await new Promise((r) => server.close(r));
  return url;
}
