// Driver of `cargo xtask bench` (run it through xtask, which builds the wasm, starts the test
// kit's registries and stops everything afterwards):
//
//   node tests/bench/bench.mjs --registry http://127.0.0.1:PORT --pkg target/bench/pkg \
//        --out target/bench [--smoke]
//
// Measures Porthole (in headless Chromium, through crates/porthole-bench) beside its references
// measured in the same run (curl, openssl, the browser's own fetch and WebCrypto), and writes
// <out>/latest.json (one object per measurement), <out>/latest.md (the table) and
// <out>/meta.json (machine, load, versions). Methods follow ../shared/reference/peer-bench.md.

import { spawnSync } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MiB = 1024 * 1024;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

// ---------------------------------------------------------------- arguments and settings

const SUITES = ["upload", "download", "sha", "list", "memory", "sizes"];

function parseArgs(argv) {
  const args = { smoke: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--smoke") args.smoke = true;
    else if (a.startsWith("--")) args[a.slice(2)] = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (args.render) return args; // --render <dir>: only re-renders <dir>/latest.md from its JSON
  // --only upload,download,sha,list,memory,sizes: a subset of the suites (while iterating).
  args.only = args.only ? new Set(args.only.split(",")) : null;
  for (const suite of args.only ?? []) {
    if (!SUITES.includes(suite)) throw new Error(`--only: unknown suite ${suite} (known: ${SUITES.join(", ")})`);
  }
  for (const key of ["registry", "pkg", "out"]) {
    if (!args[key]) throw new Error(`missing --${key}`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const wanted = (suite) => !args.only || args.only.has(suite);
const REGISTRY = (args.registry ?? "").replace(/\/+$/, "");
const OUT = path.resolve(root, args.out ?? args.render);
const PKG = path.resolve(root, args.pkg ?? ".");
const PAYLOAD_DIR = path.resolve(root, args.payloads ?? "target/bench");

const S = args.smoke
  ? { small: 4 * MiB, large: 16 * MiB, transferRuns: 1, shaRuns: 1, listRuns: 1, memoryRuns: 1, seed: 30 }
  : { small: 256 * MiB, large: 1024 * MiB, transferRuns: 5, shaRuns: 7, listRuns: 11, memoryRuns: 3, seed: 2000 };
const CURL_CHUNK = 4 * MiB;
// The upload rows of a blob WebCrypto hashes whole (Porthole's WEBCRYPTO_MAX_BYTES is 64 MiB).
const PART_BYTES = 32 * MiB;
const CATALOG_N = 1000; // the largest page distribution accepts on the catalog

const REPO_UPLOAD = "bench/upload";
const REPO_DOWNLOAD = "bench/download";
const REPO_MEMORY = "bench/memory";
const REPO_TAGS = "list/tags";

const log = (...m) => console.log("bench:", ...m);

// ---------------------------------------------------------------- payloads

/** A random file of `size` bytes (generated once, reused), its digest and its 4 MiB pieces. */
function payload(size) {
  const label = size >= MiB * 1024 ? `${size / (1024 * MiB)}g` : `${size / MiB}m`;
  const file = path.join(PAYLOAD_DIR, `payload-${label}.bin`);
  const digestFile = `${file}.sha256`;
  fs.mkdirSync(PAYLOAD_DIR, { recursive: true });
  if (!fs.existsSync(file) || fs.statSync(file).size !== size || !fs.existsSync(digestFile)) {
    log(`generating ${file} (${size / MiB} MiB of random bytes)`);
    const fd = fs.openSync(`${file}.tmp`, "w");
    const hash = createHash("sha256");
    const piece = Buffer.alloc(16 * MiB);
    for (let written = 0; written < size; written += piece.length) {
      const part = piece.subarray(0, Math.min(piece.length, size - written));
      randomFillSync(part);
      hash.update(part);
      fs.writeSync(fd, part);
    }
    fs.closeSync(fd);
    fs.renameSync(`${file}.tmp`, file);
    fs.writeFileSync(digestFile, `sha256:${hash.digest("hex")}\n`);
  }
  const digest = fs.readFileSync(digestFile, "utf8").trim();
  return { size, file, digest, label };
}

/** The payload pre-split into 4 MiB files for the curl chunked upload. */
function chunks(p) {
  const dir = path.join(PAYLOAD_DIR, `chunks-${p.label}`);
  const count = Math.ceil(p.size / CURL_CHUNK);
  const stamp = path.join(dir, "complete");
  if (!fs.existsSync(stamp)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(p.file, "r");
    const buffer = Buffer.alloc(CURL_CHUNK);
    for (let i = 0; i < count; i++) {
      const n = fs.readSync(fd, buffer, 0, CURL_CHUNK, i * CURL_CHUNK);
      fs.writeFileSync(path.join(dir, `${String(i).padStart(4, "0")}`), buffer.subarray(0, n));
    }
    fs.closeSync(fd);
    fs.writeFileSync(stamp, "");
  }
  return Array.from({ length: count }, (_, i) => {
    const start = i * CURL_CHUNK;
    const end = Math.min(p.size, start + CURL_CHUNK) - 1;
    return { file: path.join(dir, String(i).padStart(4, "0")), start, end };
  });
}

/** Reads a file once so it sits in the page cache (as peer-bench did before each suite). */
function warm(file) {
  const fd = fs.openSync(file, "r");
  const buffer = Buffer.alloc(16 * MiB);
  while (fs.readSync(fd, buffer, 0, buffer.length, null) > 0);
  fs.closeSync(fd);
}

// ---------------------------------------------------------------- curl, openssl and the API

const sh = (cmd, argv, opts = {}) => {
  const r = spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 64 * MiB, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};

const seconds = (fn) => {
  const start = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
};

/** Splits `curl -D -` output into status, lower-cased headers (last wins) and body. */
function parseCurl(out) {
  // With -D - the headers of every response come first; take the last block.
  let rest = out, head;
  do {
    const end = rest.indexOf("\r\n\r\n");
    head = rest.slice(0, end);
    rest = rest.slice(end + 4);
  } while (/^HTTP\/[\d.]+ 1\d\d/.test(head) && rest.startsWith("HTTP/"));
  const [statusLine, ...lines] = head.split("\r\n");
  const headers = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: rest };
}

function curlPost(repo) {
  const r = parseCurl(sh("curl", ["-s", "-D", "-", "-X", "POST", "-H", "Content-Length: 0", `${REGISTRY}/v2/${repo}/blobs/uploads/`]));
  if (r.status !== 202) throw new Error(`curl POST answered ${r.status}`);
  return new URL(r.headers.location, REGISTRY);
}

function withDigest(location, digest) {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  return url.href;
}

/** curl monolithic upload: POST, then PUT -T file (streamed), as peer-bench's fastest row. */
function curlMonolithic(p, repo) {
  return seconds(() => {
    const location = curlPost(repo);
    const code = sh("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/octet-stream", "-T", p.file, withDigest(location, p.digest)]);
    if (code !== "201") throw new Error(`curl PUT answered ${code}`);
  }).ms;
}

/** curl chunked upload: POST, one PATCH per 4 MiB piece (newest Location each time), PUT. */
function curlChunked(p, repo) {
  const pieces = chunks(p);
  return seconds(() => {
    let location = curlPost(repo);
    for (const c of pieces) {
      const r = parseCurl(sh("curl", ["-s", "-D", "-", "-o", "/dev/null", "-X", "PATCH",
        "-H", "Content-Type: application/octet-stream", "-H", `Content-Range: ${c.start}-${c.end}`,
        "--data-binary", `@${c.file}`, location.href]));
      if (r.status !== 202) throw new Error(`curl PATCH answered ${r.status}`);
      location = new URL(r.headers.location, location);
    }
    const code = sh("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "Content-Length: 0", withDigest(location, p.digest)]);
    if (code !== "201") throw new Error(`curl closing PUT answered ${code}`);
  }).ms;
}

function curlDownload(p, repo) {
  const { ms, value } = seconds(() => sh("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", `${REGISTRY}/v2/${repo}/blobs/${p.digest}`]));
  if (value !== `200 ${p.size}`) throw new Error(`curl GET gave ${value}`);
  return ms;
}

function opensslSha(p) {
  const { ms, value } = seconds(() => sh("openssl", ["dgst", "-sha256", p.file]));
  if (!value.trim().endsWith(p.digest.slice(7))) throw new Error(`openssl gave ${value}`);
  return ms;
}

/** A curl loop following Link: one `curl -D -` process per page; returns [ms, items]. */
function curlWalk(firstUrl, key) {
  let items = 0;
  const { ms } = seconds(() => {
    let url = firstUrl;
    while (url) {
      const r = parseCurl(sh("curl", ["-s", "-D", "-", url]));
      if (r.status !== 200) throw new Error(`curl GET ${url} answered ${r.status}`);
      items += JSON.parse(r.body)[key].length;
      const next = /<([^>]+)>;\s*rel="?next"?/.exec(r.headers.link ?? "");
      url = next ? new URL(next[1], url).href : null;
    }
  });
  return [ms, items];
}

async function api(method, urlPath, { body, headers, expect } = {}) {
  const response = await fetch(`${REGISTRY}${urlPath}`, { method, body, headers });
  const text = await response.text();
  if (expect && !expect.includes(response.status)) {
    throw new Error(`${method} ${urlPath} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  return response;
}

async function deleteBlob(repo, digest) {
  await api("DELETE", `/v2/${repo}/blobs/${digest}`, { expect: [202, 404] });
}

async function pushBlob(repo, bytes) {
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const post = await api("POST", `/v2/${repo}/blobs/uploads/`, { expect: [202] });
  const url = new URL(post.headers.get("location"), REGISTRY);
  url.searchParams.set("digest", digest);
  const put = await fetch(url, { method: "PUT", body: bytes, headers: { "Content-Type": "application/octet-stream" } });
  if (put.status !== 201) throw new Error(`blob PUT answered ${put.status}`);
  await put.text();
  return digest;
}

async function pool(count, concurrency, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** 2,000 repositories (one cross-repo mount each) and one repository with 2,000 tags. */
async function seedListings(count) {
  const config = Buffer.from("{}");
  const configDigest = await pushBlob(REPO_TAGS, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
    layers: [],
  }));
  const started = Date.now();
  await pool(count, 8, async (i) => {
    await api("PUT", `/v2/${REPO_TAGS}/manifests/t${String(i).padStart(4, "0")}`, {
      body: manifest, headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" }, expect: [201],
    });
  });
  await pool(count, 8, async (i) => {
    const repo = `list/r${String(i).padStart(4, "0")}`;
    await api("POST", `/v2/${repo}/blobs/uploads/?mount=${configDigest}&from=${REPO_TAGS}`, { expect: [201] });
  });
  log(`seeded ${count} tags and ${count} repositories in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------- static server for the page

function startStaticServer(payloads) {
  const routes = {
    "/": path.join(here, "page.html"),
    "/page.js": path.join(here, "page.js"),
    "/hash-worker.js": path.join(here, "hash-worker.js"),
  };
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let file = routes[url.pathname];
    // The package by its path inside it: wasm-bindgen puts inline JS in snippets/<crate>/.
    if (!file && url.pathname.startsWith("/pkg/")) {
      const inside = path.normalize(decodeURIComponent(url.pathname.slice("/pkg/".length)));
      if (!inside.startsWith("..") && !path.isAbsolute(inside)) file = path.join(PKG, inside);
    }
    if (!file || !fs.existsSync(file)) {
      res.writeHead(404, { "Access-Control-Allow-Origin": "*" }).end();
      return;
    }
    res.writeHead(200, {
      "Content-Type": types[path.extname(file)] ?? "application/octet-stream",
      "Content-Length": fs.statSync(file).size,
      "Access-Control-Allow-Origin": "*",
      "Cache-Control": "no-store",
    });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// ---------------------------------------------------------------- browser

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--enable-precise-memory-info", "--js-flags=--expose-gc",
];

async function openPage(context, pageUrl, payloads) {
  const page = await context.newPage();
  page.on("pageerror", (e) => log("page error:", e.message));
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.bench);
  const ready = await page.evaluate(() => window.bench.ready());
  await page.setInputFiles("#small", payloads.small.file);
  await page.setInputFiles("#large", payloads.large.file);
  return { page, ready };
}

const call = (page, fn, ...argv) => page.evaluate(([f, a]) => window.bench[f](...a), [fn, argv]);

// ---------------------------------------------------------------- statistics and rows

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mibps = (size, ms) => size / MiB / (ms / 1000);
const round = (x, digits = 3) => (x == null || !Number.isFinite(x) ? null : Number(x.toPrecision(digits)));

function stats(samples) {
  return samples.length
    ? { median: median(samples), min: Math.min(...samples), max: Math.max(...samples) }
    : { median: null, min: null, max: null };
}

const rows = [];

/**
 * One measurement. `higher`: whether a larger value is better (throughput) — then ratio is
 * Porthole / reference; for times, ratio is Porthole time / reference time (lower is better).
 */
function row({ name, unit, samples, reference = null, referenceSamples = null, higher, target = null, check = null, description, note = null }) {
  const own = stats(samples);
  const ref = referenceSamples ? stats(referenceSamples) : null;
  let ratio = null, ratioMeaning = null;
  if (ref && own.median != null) {
    ratio = own.median / ref.median;
    ratioMeaning = higher
      ? "Porthole ÷ reference (throughput; higher is better)"
      : "Porthole time ÷ reference time (lower is better)";
  }
  const measured = check === "value" ? own.median : ratio;
  const met = target == null ? null : measured != null && target.test(measured);
  rows.push({
    name, unit,
    median: round(own.median), min: round(own.min), max: round(own.max),
    reference: ref ? round(ref.median) : null,
    reference_min: ref ? round(ref.min) : null,
    reference_max: ref ? round(ref.max) : null,
    reference_is: reference,
    ratio: round(ratio), ratio_is: ratioMeaning,
    target: target ? target.text : null, met,
    runs: samples.length,
    description, note,
  });
}

const atLeast = (x) => ({ text: `ratio ≥ ${x}`, test: (v) => v >= x });
const atMost = (x) => ({ text: `ratio ≤ ${x}`, test: (v) => v <= x });
const below = (x, unit) => ({ text: `< ${x} ${unit}`, test: (v) => v < x });
const noMore = (x, unit) => ({ text: `≤ ${x} ${unit}`, test: (v) => v <= x });

// ---------------------------------------------------------------- suites

async function uploadSuite(page, p) {
  const t = { curl: [], curlChunked: [], plain: [], porthole: [], portholeOne: [], porthole4: [], portholeStream: [], plainHash: [],
    plainPart: [], portholePart: [], portholePartWasm: [] };
  // A blob small enough for WebCrypto: the payload's first 32 MiB (as a slice of the same File).
  const partBytes = Math.min(PART_BYTES, p.size);
  const partDigest = digestOfPrefix(p.file, partBytes);
  const uploadPart = async (hashInWasm) => {
    const r = await call(page, "portholeUpload", REGISTRY, REPO_UPLOAD, "small", null, partBytes, hashInWasm);
    if (r.digest !== partDigest) throw new Error(`Porthole uploaded ${r.digest}, expected ${partDigest}`);
    return r.ms;
  };
  const runs = {
    curl: async () => curlMonolithic(p, REPO_UPLOAD),
    curlChunked: async () => curlChunked(p, REPO_UPLOAD),
    plain: async () => (await call(page, "plainUpload", REGISTRY, REPO_UPLOAD, "small", p.digest)).ms,
    porthole: async () => portholeUpload(page, p, null),
    portholeOne: async () => portholeUpload(page, p, p.size),
    porthole4: async () => portholeUpload(page, p, 4 * MiB),
    portholeStream: async () => {
      const r = await call(page, "portholeUploadStream", REGISTRY, REPO_UPLOAD, "small");
      if (r.digest !== p.digest) throw new Error(`Porthole streamed ${r.digest}, expected ${p.digest}`);
      return r.ms;
    },
    plainHash: async () => (await call(page, "plainUploadWhileHashing", REGISTRY, REPO_UPLOAD, "small", p.digest)).ms,
    plainPart: async () => (await call(page, "plainUpload", REGISTRY, REPO_UPLOAD, "small", partDigest, partBytes)).ms,
    portholePart: async () => uploadPart(false),
    portholePartWasm: async () => uploadPart(true),
  };
  const sizeOf = (key) => (key.endsWith("Part") || key.endsWith("PartWasm") ? partBytes : p.size);
  const order = Object.keys(runs);
  for (let round = 0; round < S.transferRuns; round++) {
    // Rotate the order each round so no contestant always goes first.
    const rotated = order.map((_, i) => order[(i + round) % order.length]);
    for (const key of rotated) {
      await deleteBlob(REPO_UPLOAD, p.digest);
      await deleteBlob(REPO_UPLOAD, partDigest);
      t[key].push(mibps(sizeOf(key), await runs[key]()));
    }
    log(`upload round ${round + 1}/${S.transferRuns}:`, Object.fromEntries(order.map((k) => [k, t[k].at(-1).toFixed(0)])));
  }
  await deleteBlob(REPO_UPLOAD, p.digest);
  await deleteBlob(REPO_UPLOAD, partDigest);
  return t;
}

/** The first `bytes` of `file`. */
function prefixOf(file, bytes) {
  const out = Buffer.alloc(bytes);
  const fd = fs.openSync(file, "r");
  for (let done = 0; done < bytes;) done += fs.readSync(fd, out, done, bytes - done, done);
  fs.closeSync(fd);
  return out;
}

/** `sha256:<hex>` of the first `bytes` of `file`. */
function digestOfPrefix(file, bytes) {
  return `sha256:${createHash("sha256").update(prefixOf(file, bytes)).digest("hex")}`;
}

async function portholeUpload(page, p, chunkSize) {
  const r = await call(page, "portholeUpload", REGISTRY, REPO_UPLOAD, "small", chunkSize);
  if (r.digest !== p.digest) throw new Error(`Porthole uploaded ${r.digest}, expected ${p.digest}`);
  return r.ms;
}

async function downloadSuite(page, p) {
  curlMonolithic(p, REPO_DOWNLOAD);
  // A blob whose answer WebCrypto can verify (at most 64 MiB announced): the payload's first 32 MiB.
  const partBytes = Math.min(PART_BYTES, p.size);
  const partDigest = await pushBlob(REPO_DOWNLOAD, prefixOf(p.file, partBytes));
  const t = { curl: [], plain: [], stream: [], core: [], worker: [], plainPart: [], streamPart: [] };
  const check = (r, size = p.size) => {
    if (r.bytes !== size) throw new Error(`downloaded ${r.bytes} bytes, expected ${size}`);
    return r.ms;
  };
  const part = async (fn) => check(await call(page, fn, REGISTRY, REPO_DOWNLOAD, partDigest), partBytes);
  const runs = {
    curl: async () => curlDownload(p, REPO_DOWNLOAD),
    plain: async () => check(await call(page, "plainDownload", REGISTRY, REPO_DOWNLOAD, p.digest)),
    stream: async () => check(await call(page, "portholeDownloadStream", REGISTRY, REPO_DOWNLOAD, p.digest)),
    core: async () => check(await call(page, "portholeDownloadCore", REGISTRY, REPO_DOWNLOAD, p.digest)),
    worker: async () => check(await call(page, "plainDownloadHashInWorker", REGISTRY, REPO_DOWNLOAD, p.digest)),
    plainPart: async () => part("plainDownload"),
    streamPart: async () => part("portholeDownloadStream"),
  };
  const order = Object.keys(runs);
  for (let round = 0; round < S.transferRuns; round++) {
    const rotated = order.map((_, i) => order[(i + round) % order.length]);
    for (const key of rotated) t[key].push(mibps(key.endsWith("Part") ? partBytes : p.size, await runs[key]()));
    log(`download round ${round + 1}/${S.transferRuns}:`, Object.fromEntries(order.map((k) => [k, t[k].at(-1).toFixed(0)])));
  }
  return t;
}

async function shaSuite(page, p) {
  await call(page, "loadArray", "small");
  const t = { openssl: [], wasm: [], subtle: [], blob: [] };
  const check = (r) => {
    if (r.digest !== p.digest) throw new Error(`hash gave ${r.digest}, expected ${p.digest}`);
    return r.ms;
  };
  const runs = {
    openssl: async () => opensslSha(p),
    wasm: async () => check(await call(page, "wasmSha", "small")),
    subtle: async () => check(await call(page, "subtleSha", "small")),
    blob: async () => check(await call(page, "blobSha", "small")),
  };
  for (let round = 0; round < S.shaRuns; round++) {
    for (const key of Object.keys(runs)) t[key].push(mibps(p.size, await runs[key]()));
  }
  await call(page, "dropArrays");
  log("sha256 medians MiB/s:", Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v).toFixed(0)])));
  return t;
}

async function listSuite(page) {
  const t = { curlRepos: [], repos: [], curlTags: [], tags: [] };
  const counts = {};
  const expectSame = (what, n) => {
    counts[what] ??= n;
    if (counts[what] !== n) throw new Error(`${what}: ${n} items, another walk saw ${counts[what]}`);
  };
  for (let round = 0; round < S.listRuns; round++) {
    const [cr, nr] = curlWalk(`${REGISTRY}/v2/_catalog?n=${CATALOG_N}`, "repositories");
    expectSame("repositories", nr);
    t.curlRepos.push(cr / 1000);
    const r = await call(page, "listRepos", REGISTRY);
    expectSame("repositories", r.count);
    t.repos.push(r.ms / 1000);
    const [ct, nt] = curlWalk(`${REGISTRY}/v2/${REPO_TAGS}/tags/list?n=${CATALOG_N}`, "tags");
    expectSame("tags", nt);
    t.curlTags.push(ct / 1000);
    const g = await call(page, "listTags", REGISTRY, REPO_TAGS);
    expectSame("tags", g.count);
    t.tags.push(g.ms / 1000);
  }
  log("listing counts:", counts, "medians s:", Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v).toFixed(3)])));
  return { t, counts };
}

/**
 * Peak wasm memory and JS heap while Porthole uploads / downloads `p`, each in a fresh page.
 * Downloads are read twice: with a BYOB reader through one reused buffer (the figure with a
 * target: what a consumer writing the bytes away piece by piece does) and with a default reader
 * (a new chunk per read, so the heap holds whatever garbage the GC has not swept yet); the
 * same two reads of a plain fetch give the browser's own floor.
 */
async function memorySuite(context, pageUrl, payloads, which) {
  const p = payloads[which];
  const out = { uploadWasm: [], uploadHeap: [], downloadWasm: [], downloadHeap: [], uploadMs: [], downloadMs: [],
    uploadRetained: [], downloadRetained: [], defaultHeap: [], plainByobHeap: [], plainDefaultHeap: [] };
  const inFreshPage = async (fn, ...argv) => {
    const { page } = await openPage(context, pageUrl, payloads);
    try {
      return await call(page, fn, ...argv);
    } finally {
      await page.close();
    }
  };
  const download = async (fn, reader) => {
    const r = await inFreshPage(fn, REGISTRY, REPO_MEMORY, p.digest, reader);
    if (r.bytes !== p.size) throw new Error(`${fn} (${reader}) gave ${r.bytes} bytes`);
    return r;
  };
  for (let run = 0; run < S.memoryRuns; run++) {
    await deleteBlob(REPO_MEMORY, p.digest);
    const up = await inFreshPage("memoryUpload", REGISTRY, REPO_MEMORY, which);
    if (up.digest !== p.digest) throw new Error(`memory upload gave ${up.digest}`);
    const down = await download("memoryDownload", "byob");
    const byDefault = await download("memoryDownload", "default");
    const plainByob = await download("memoryPlainDownload", "byob");
    const plainDefault = await download("memoryPlainDownload", "default");
    out.uploadWasm.push(up.peakWasm / MiB);
    out.uploadHeap.push(up.peakHeap / MiB);
    out.downloadWasm.push(Math.max(down.peakWasm, byDefault.peakWasm) / MiB);
    out.downloadHeap.push(down.peakHeap / MiB);
    out.defaultHeap.push(byDefault.peakHeap / MiB);
    out.plainByobHeap.push(plainByob.peakHeap / MiB);
    out.plainDefaultHeap.push(plainDefault.peakHeap / MiB);
    out.uploadRetained.push((up.heapAfterGc - up.before.heap) / MiB);
    out.downloadRetained.push((down.heapAfterGc - down.before.heap) / MiB);
    out.uploadMs.push(up.ms);
    out.downloadMs.push(down.ms);
    const mib = (x) => (x / MiB).toFixed(1);
    log(`memory ${p.label} run ${run + 1}: upload wasm ${mib(up.peakWasm)} heap ${mib(up.peakHeap)}; ` +
      `download wasm ${mib(down.peakWasm)} heap byob ${mib(down.peakHeap)} default ${mib(byDefault.peakHeap)}; ` +
      `plain fetch heap byob ${mib(plainByob.peakHeap)} default ${mib(plainDefault.peakHeap)} MiB; ` +
      `heap after GC: upload ${((up.heapAfterGc - up.before.heap) / MiB).toFixed(2)}, download ${((down.heapAfterGc - down.before.heap) / MiB).toFixed(2)} MiB`);
  }
  await deleteBlob(REPO_MEMORY, p.digest);
  return out;
}

/** Raw, gzip -9 and brotli -q 11 sizes of the .wasm and .js (and .css/.html) under `dir`. */
function artifactSizes(dir, exts) {
  if (!fs.existsSync(dir)) return null;
  const files = [];
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue; // e.g. trunk's .stage while it builds
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (exts.some((e) => entry.name.endsWith(e)) && !entry.name.endsWith(".d.ts")) files.push(full);
    }
  };
  walk(dir);
  // Without a .wasm it is not a finished build (or only its leftovers).
  if (!files.some((f) => f.endsWith(".wasm"))) return null;
  const size = (cmd, argv) => spawnSync(cmd, argv, { maxBuffer: 256 * MiB }).stdout.length;
  return files.map((f) => ({
    file: path.relative(root, f),
    raw: fs.statSync(f).size,
    gzip: size("gzip", ["-9", "-n", "-c", f]),
    brotli: size("brotli", ["-q", "11", "-c", f]),
  }));
}

// ---------------------------------------------------------------- report

function fmt(x) {
  if (x == null) return "–";
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(x < 1 ? 3 : 2);
}

function markdown(meta) {
  const lines = [
    `Run ${meta.date} on ${meta.host}: ${meta.cpus} × ${meta.cpu}, load average ${meta.load_start} at the start and ${meta.load_end} at the end; ` +
      `${meta.mode}, transfers ${S.small / MiB} MiB (memory also ${S.large / MiB} MiB), ${meta.chromium}, ${meta.curl}, ${meta.openssl}, ${meta.registry}.`,
    "",
    "| measurement | unit | Porthole median [min–max] | reference median [min–max] | ratio | target | met |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const own = r.median == null ? `– (${r.note ?? "no data"})` : `**${fmt(r.median)}** [${fmt(r.min)}–${fmt(r.max)}]`;
    const ref = r.reference == null ? (r.reference_is ? `– (${r.reference_is})` : "–")
      : `${fmt(r.reference)} [${fmt(r.reference_min)}–${fmt(r.reference_max)}] ${r.reference_is}`;
    const ratio = r.ratio == null ? "–" : `${r.ratio}${r.ratio_is.startsWith("Porthole time") ? " (time)" : ""}`;
    const met = r.met == null ? "" : r.met ? "yes" : "**no**";
    lines.push(`| \`${r.name}\` | ${r.unit} | ${own} | ${ref} | ${ratio} | ${r.target ?? ""} | ${met} |`);
  }
  return lines.join("\n") + "\n";
}

const version = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { encoding: "utf8" });
  return (r.stdout || r.stderr || "").split("\n")[0].trim();
};

// ---------------------------------------------------------------- main

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    host: os.hostname(),
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "?",
    load_start: os.loadavg().map((x) => x.toFixed(2)).join(" "),
    mode: (args.smoke ? "SMOKE (tiny sizes, 1 run: not figures)" : "full") +
      (args.only ? `, only ${[...args.only].join(", ")}` : ""),
    registry: `registry ${REGISTRY} (${version("/usr/bin/docker-registry", ["--version"]) || "docker-registry"})`,
    curl: version("curl", ["--version"]).split(" ").slice(0, 2).join(" "),
    openssl: version("openssl", ["version"]).split(" ").slice(0, 2).join(" "),
  };
  const payloads = { small: payload(S.small), large: payload(S.large) };
  const { chromium } = await import(path.join(root, "node_modules/playwright-core/index.mjs"));
  const server = await startStaticServer(payloads);
  const pageUrl = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
  try {
    meta.chromium = `Chromium ${browser.version()}`;
    const context = await browser.newContext();
    const { page, ready } = await openPage(context, pageUrl, payloads);
    if (!ready.preciseMemory) log("warning: performance.memory is missing; JS heap figures will be 0");
    log(`page ${pageUrl}, registry ${REGISTRY}, wasm memory at start ${(ready.wasm / MiB).toFixed(2)} MiB`);

    const small = payloads.small;
    if (wanted("list")) {
      log("seeding the listing fixtures");
      await seedListings(S.seed);
    }

    if (wanted("upload")) {
      log(`upload suite: ${S.transferRuns} rounds of ${small.size / MiB} MiB`);
      warm(small.file);
      const up = await uploadSuite(page, small);
      row({ name: "upload_vs_curl", unit: "MiB/s", samples: up.porthole, referenceSamples: up.curl, higher: true,
        reference: "curl POST + PUT -T (monolithic)", target: atLeast(0.9),
        description: "Porthole upload of the file as a Blob (default options: 64 MiB chunks, hashed beside the send) in headless Chromium, against curl's monolithic upload of the same file" });
      row({ name: "upload_vs_fetch", unit: "MiB/s", samples: up.porthole, referenceSamples: up.plain, higher: true,
        reference: "browser fetch POST + PUT of the Blob (digest known)", target: atLeast(0.95),
        description: "the same Porthole upload against the browser's own monolithic upload of the same Blob, interleaved in each round" });
      row({ name: "upload_porthole_single_chunk", unit: "MiB/s", samples: up.portholeOne, referenceSamples: up.plain, higher: true,
        reference: "browser fetch POST + PUT", description: "informative: Porthole with chunk_size = the whole file (POST, 1 PATCH hashed beside the send, PUT)" });
      row({ name: "upload_porthole_4mib_chunks", unit: "MiB/s", samples: up.porthole4, referenceSamples: up.curlChunked, higher: true,
        reference: "curl 4 MiB chunks", description: "informative: Porthole with 4 MiB chunks (what the Azure SDKs send) against curl with the same chunks" });
      row({ name: "upload_porthole_stream", unit: "MiB/s", samples: up.portholeStream, referenceSamples: up.porthole, higher: true,
        reference: "Porthole from the File", description: "informative: the same bytes as a ReadableStream (file.stream()) through upload_blob_stream (64 MiB chunks read into memory, each sent while hashed, the next read once the registry has it), against the File path (upload_vs_curl's Porthole side)" });
      row({ name: "upload_porthole_32m", unit: "MiB/s", samples: up.portholePart, referenceSamples: up.plainPart, higher: true,
        reference: "browser fetch POST + PUT of the 32 MiB", description: "informative: Porthole's upload (default options) of the payload's first 32 MiB, a Blob that WebCrypto hashes whole (up to WEBCRYPTO_MAX_BYTES, 64 MiB), against the plain fetch upload of the same 32 MiB" });
      row({ name: "upload_porthole_32m_wasm_hash", unit: "MiB/s", samples: up.portholePartWasm, referenceSamples: up.plainPart, higher: true,
        reference: "browser fetch POST + PUT of the 32 MiB", description: "informative: the same 32 MiB hashed in wasm slice by slice (BlobFileSource::without_webcrypto), as every blob was before WebCrypto and as blobs over 64 MiB are" });
      row({ name: "upload_fetch_while_hashing", unit: "MiB/s", samples: up.plainHash, referenceSamples: up.plain, higher: true,
        reference: "browser fetch POST + PUT", description: "diagnostic: the plain fetch upload while the page hashes the same File in wasm as an upload does (sha256_blob), both at once: the ceiling of hashing beside the send on this machine" });
      row({ name: "upload_curl_monolithic", unit: "MiB/s", samples: up.curl, higher: true, description: "reference: curl POST + PUT -T file (streamed)" });
      row({ name: "upload_curl_4mib_chunks", unit: "MiB/s", samples: up.curlChunked, higher: true, description: "reference: curl POST + PATCH per pre-split 4 MiB piece (newest Location each time) + PUT; one curl process per request" });
      row({ name: "upload_browser_fetch", unit: "MiB/s", samples: up.plain, higher: true, description: "reference: browser fetch POST + PUT with the Blob as body, digest known beforehand" });
    }
    if (wanted("download")) {
      log(`download suite: ${S.transferRuns} rounds`);
      const down = await downloadSuite(page, small);
      row({ name: "download_vs_fetch", unit: "MiB/s", samples: down.stream, referenceSamples: down.plain, higher: true,
        reference: "browser fetch reader loop counting bytes", target: atLeast(0.9),
        description: "Porthole's verified download stream (porthole-browser download_blob_to_stream: hashed as it streams, errors on mismatch) read to the end in the page, against a plain fetch read of the same blob" });
      row({ name: "download_porthole_32m", unit: "MiB/s", samples: down.streamPart, referenceSamples: down.plainPart, higher: true,
        reference: "browser fetch reader loop, the same 32 MiB", description: "informative: the verified stream of a 32 MiB blob (the payload's first 32 MiB), whose answer announces at most WEBCRYPTO_MAX_BYTES (64 MiB): its bytes are kept and WebCrypto hashes them once at the end, against the plain fetch read of the same blob" });
      row({ name: "download_porthole_core", unit: "MiB/s", samples: down.core, referenceSamples: down.plain, higher: true,
        reference: "browser fetch reader loop", description: "informative: porthole-core Repository::download_blob (verified) into a counting sink inside wasm; no stream back to JS" });
      row({ name: "download_fetch_hash_in_worker", unit: "MiB/s", samples: down.worker, referenceSamples: down.plain, higher: true,
        reference: "browser fetch reader loop", description: "diagnostic, no Porthole code path: the plain fetch read with every chunk transferred to a web worker that hashes it in wasm (Porthole's Hasher) on the other core, until the worker's digest is back: the ceiling of a verified download that hashes off the page's thread on this machine" });
      row({ name: "download_browser_fetch", unit: "MiB/s", samples: down.plain, higher: true, description: "reference: fetch GET, body.getReader() loop counting bytes" });
      row({ name: "download_curl", unit: "MiB/s", samples: down.curl, higher: true, description: "reference: curl GET > /dev/null" });
    }
    if (wanted("sha")) {
      log(`sha256 suite: ${S.shaRuns} rounds`);
      warm(small.file);
      const sha = await shaSuite(page, small);
      row({ name: "sha256_vs_openssl", unit: "MiB/s", samples: sha.wasm, referenceSamples: sha.openssl, higher: true,
        reference: "openssl dgst -sha256 file", target: atLeast(0.25),
        description: "porthole_core::Hasher (RustCrypto sha2 at opt-level 3, built with wasm SIMD) in wasm over a Uint8Array in 4 MiB pieces, against native openssl on the same bytes (process start included)" });
      row({ name: "sha256_wasm_vs_subtle", unit: "MiB/s", samples: sha.wasm, referenceSamples: sha.subtle, higher: true,
        reference: "crypto.subtle.digest (one-shot)", description: "informative: the same wasm hashing against WebCrypto on the same ArrayBuffer" });
      row({ name: "sha256_wasm_blob", unit: "MiB/s", samples: sha.blob, referenceSamples: sha.wasm, higher: true,
        reference: "wasm over a Uint8Array", description: "informative: hashing the Blob as an upload does (BlobFileSource 8 MiB slice reads into wasm, then hash)" });
      row({ name: "sha256_openssl", unit: "MiB/s", samples: sha.openssl, higher: true, description: "reference: openssl dgst -sha256 (page-cached file)" });
      row({ name: "sha256_subtle", unit: "MiB/s", samples: sha.subtle, higher: true, description: "reference: crypto.subtle.digest('SHA-256') of the whole ArrayBuffer" });
    }
    if (wanted("list")) {
      log(`listing suite: ${S.listRuns} rounds`);
      const list = await listSuite(page);
      row({ name: "list_repos_vs_curl", unit: "s", samples: list.t.repos, referenceSamples: list.t.curlRepos, higher: false,
        reference: `curl loop, n=${CATALOG_N}, following Link`, target: atMost(1.2),
        description: `listing all ${list.counts.repositories} repositories with a fresh Porthole client (its page-size ladder: n=10000, refused, then 1000), against a curl loop (one process per page) following Link at n=${CATALOG_N}` });
      row({ name: "list_tags_vs_curl", unit: "s", samples: list.t.tags, referenceSamples: list.t.curlTags, higher: false,
        reference: `curl loop, n=${CATALOG_N}`, target: atMost(1.2),
        description: `listing the ${list.counts.tags} tags of ${REPO_TAGS} with a fresh Porthole client, against a curl loop (distribution ignores n on tags: one request)` });
    }
    await page.close();

    if (wanted("memory")) {
      log(`memory suite: ${S.memoryRuns} runs per size, each operation in a fresh page`);
      const memSmall = await memorySuite(context, pageUrl, payloads, "small");
      const memLarge = await memorySuite(context, pageUrl, payloads, "large");
      const growths = {
        "upload wasm": median(memLarge.uploadWasm) - median(memSmall.uploadWasm),
        "upload JS heap": median(memLarge.uploadHeap) - median(memSmall.uploadHeap),
        "download wasm": median(memLarge.downloadWasm) - median(memSmall.downloadWasm),
        "download JS heap (BYOB reader)": median(memLarge.downloadHeap) - median(memSmall.downloadHeap),
      };
      const defaultGrowth = median(memLarge.defaultHeap) - median(memSmall.defaultHeap);
      const plainDefaultGrowth = median(memLarge.plainDefaultHeap) - median(memSmall.plainDefaultHeap);
      const [worst, growth] = Object.entries(growths).sort((a, b) => b[1] - a[1])[0];
      row({ name: "memory_growth_mib", unit: "MiB", samples: [growth], higher: false, target: below(16, "MiB"), check: "value",
        description: `largest growth of a median peak from ${S.small / MiB} MiB to ${S.large / MiB} MiB among wasm memory and JS heap, upload and download read with a BYOB reader (${Object.entries(growths).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")} MiB); worst: ${worst}. Read with a default reader instead, the download's JS heap peak grew ${defaultGrowth.toFixed(1)} MiB and a plain fetch's ${plainDefaultGrowth.toFixed(1)} MiB: garbage chunks the GC had not swept yet, not held memory (see the retained rows)` });
      const sizeLabel = (p) => p.label.replace("m", " MiB").replace("g", " GiB");
      for (const [label, m, p] of [["small", memSmall, payloads.small], ["large", memLarge, payloads.large]]) {
        const tag = p.label;
        row({ name: `memory_upload_${tag}_wasm_peak`, unit: "MiB", samples: m.uploadWasm, higher: false, description: `peak wasm memory (memory.buffer.byteLength) uploading ${sizeLabel(p)} with Porthole, fresh page` });
        row({ name: `memory_upload_${tag}_js_heap_peak`, unit: "MiB", samples: m.uploadHeap, higher: false, description: `peak performance.memory.usedJSHeapSize uploading ${sizeLabel(p)} (sampled every 10 ms)` });
        row({ name: `memory_download_${tag}_wasm_peak`, unit: "MiB", samples: m.downloadWasm, higher: false, description: `peak wasm memory during the verified download stream of ${sizeLabel(p)}` });
        row({ name: `memory_download_${tag}_js_heap_peak`, unit: "MiB", samples: m.downloadHeap, higher: false, description: `peak JS heap during the verified download stream of ${sizeLabel(p)}, read with a BYOB reader through one reused 1 MiB buffer` });
        row({ name: `memory_download_${tag}_default_reader_js_heap_peak`, unit: "MiB", samples: m.defaultHeap, higher: false, description: `peak JS heap during the verified download stream of ${sizeLabel(p)} read with a default reader (a new chunk per read)` });
        row({ name: `memory_download_${tag}_plain_fetch_byob_js_heap_peak`, unit: "MiB", samples: m.plainByobHeap, higher: false, description: `reference: peak JS heap while a plain fetch body of the same ${sizeLabel(p)} blob is read with a BYOB reader through one reused 1 MiB buffer (no Porthole code)` });
        row({ name: `memory_download_${tag}_plain_fetch_js_heap_peak`, unit: "MiB", samples: m.plainDefaultHeap, higher: false, description: `reference: peak JS heap while a plain fetch body of the same ${sizeLabel(p)} blob is read with a default reader (no Porthole code)` });
        row({ name: `memory_upload_${tag}_js_heap_retained`, unit: "MiB", samples: m.uploadRetained, higher: false, description: `JS heap after a forced full GC at the end of the ${sizeLabel(p)} upload, minus before it (garbage excluded)` });
        row({ name: `memory_download_${tag}_js_heap_retained`, unit: "MiB", samples: m.downloadRetained, higher: false, description: `JS heap after a forced full GC at the end of the ${sizeLabel(p)} download, minus before it` });
        if (label === "large") {
          row({ name: `upload_porthole_${tag}`, unit: "MiB/s", samples: m.uploadMs.map((ms) => mibps(p.size, ms)), higher: true, description: `informative: Porthole upload of ${sizeLabel(p)} during the memory runs (sampling on)` });
          row({ name: `download_porthole_${tag}`, unit: "MiB/s", samples: m.downloadMs.map((ms) => mibps(p.size, ms)), higher: true, description: `informative: Porthole verified download stream of ${sizeLabel(p)} during the memory runs` });
        }
      }
    }
    await context.close();
  } finally {
    await browser.close();
    server.close();
  }

  if (wanted("sizes")) {
    for (const [name, dir, exts, limit, issue] of [
      ["npm_gzip_kib", path.join(root, "target/npm/porthole"), [".wasm", ".js"], 80, "issue 4"],
      ["dashboard_gzip_kib", path.join(root, "dist"), [".wasm", ".js", ".css", ".html"], 250, "issue 5"],
    ]) {
      const files = artifactSizes(dir, exts);
      if (!files) {
        row({ name, unit: "KiB", samples: [], higher: false, target: noMore(limit, "KiB gzip"), check: "value",
          note: `not built yet: ${issue}; measured from ${path.relative(root, dir)}/ once it exists`,
          description: `gzip -9 size of every ${exts.join("/")} in ${path.relative(root, dir)}/` });
        rows.at(-1).met = false;
        continue;
      }
      const sum = (k) => files.reduce((a, f) => a + f[k], 0) / 1024;
      row({ name, unit: "KiB", samples: [sum("gzip")], higher: false, target: noMore(limit, "KiB gzip"), check: "value",
        description: `built ${new Date(Math.max(...files.map((f) => fs.statSync(path.join(root, f.file)).mtimeMs))).toISOString().slice(0, 16)}Z; gzip -9 total of ${files.map((f) => `${f.file} (raw ${(f.raw / 1024).toFixed(1)}, gzip ${(f.gzip / 1024).toFixed(1)}, brotli ${(f.brotli / 1024).toFixed(1)} KiB)`).join(", ")}; raw ${sum("raw").toFixed(1)} KiB, brotli -q 11 ${sum("brotli").toFixed(1)} KiB` });
    }
  }

  meta.load_end = os.loadavg().map((x) => x.toFixed(2)).join(" ");
  fs.writeFileSync(path.join(OUT, "latest.json"), JSON.stringify(rows, null, 2) + "\n");
  fs.writeFileSync(path.join(OUT, "meta.json"), JSON.stringify(meta, null, 2) + "\n");
  fs.writeFileSync(path.join(OUT, "latest.md"), markdown(meta));
  log(`wrote ${path.relative(root, OUT)}/latest.json, latest.md, meta.json`);
}

function render() {
  rows.push(...JSON.parse(fs.readFileSync(path.join(OUT, "latest.json"), "utf8")));
  const meta = JSON.parse(fs.readFileSync(path.join(OUT, "meta.json"), "utf8"));
  fs.writeFileSync(path.join(OUT, "latest.md"), markdown(meta));
  log(`re-rendered ${path.relative(root, OUT)}/latest.md`);
}

(args.render ? Promise.resolve().then(render) : main()).catch((e) => {
  console.error("bench: FAILED:", e.stack ?? e);
  process.exit(1);
});
