// In-page side of `cargo xtask bench`. Every function times itself with performance.now() and
// returns plain data; bench.mjs calls them with page.evaluate. Porthole calls go through the
// porthole-bench wasm exports (product code); "plain" ones are the browser's own limits.

import init, * as porthole from "/pkg/porthole_bench.js";

const MiB = 1024 * 1024;
const arrays = {};
let hashWorker;

/** The payload File chosen into <input id=which> by Playwright (disk-backed, like a dropped file). */
function file(which) {
  const input = document.getElementById(which);
  if (!input.files.length) throw new Error(`no payload chosen in #${which}`);
  return input.files[0];
}

/** The payload File, or a Blob of its first `bytes` (still disk-backed). */
function part(which, bytes) {
  return bytes ? file(which).slice(0, bytes) : file(which);
}

function locationOf(response, base) {
  const location = response.headers.get("location");
  if (!location) throw new Error(`no Location (status ${response.status})`);
  return new URL(location, base).href;
}

async function timed(fn) {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** Reads a stream to the end with a default reader; counts bytes, handing each chunk on. */
async function readCounting(stream, onChunk = () => {}) {
  const reader = stream.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
    onChunk(value);
  }
}

/** Reads a byte stream to the end with a BYOB reader through one reused buffer; counts bytes. */
async function readCountingByob(stream) {
  const reader = stream.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(MiB);
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) return bytes;
    bytes += value.byteLength;
    buffer = value.buffer;
  }
}

const readers = { default: readCounting, byob: readCountingByob };

/** A plain fetch GET of a blob (no Porthole code), its body read by `read`; returns its result. */
async function plainGet(registry, repo, digest, read) {
  const response = await fetch(`${registry}/v2/${repo}/blobs/${digest}`, { cache: "no-store" });
  if (response.status !== 200) throw new Error(`GET answered ${response.status}`);
  return read(response.body);
}

/**
 * Samples wasm memory and the JS heap every 10 ms while `fn` runs; returns the peaks, and the JS
 * heap after a full GC at the end (what the operation retained, garbage excluded).
 */
async function sampled(fn) {
  if (globalThis.gc) globalThis.gc();
  const heap = () => performance.memory ? performance.memory.usedJSHeapSize : 0;
  const before = { wasm: porthole.wasm_memory_bytes(), heap: heap() };
  let peakWasm = before.wasm, peakHeap = before.heap;
  const sample = () => {
    peakWasm = Math.max(peakWasm, porthole.wasm_memory_bytes());
    peakHeap = Math.max(peakHeap, heap());
  };
  const timer = setInterval(sample, 10);
  try {
    const result = await timed(fn);
    sample();
    // Let pending promise jobs finish, then collect twice (ArrayBuffers are swept lazily).
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (globalThis.gc) globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (globalThis.gc) globalThis.gc();
    return { ...result, before, peakWasm, peakHeap, heapAfterGc: heap() };
  } finally {
    clearInterval(timer);
  }
}

window.bench = {
  async ready() {
    await init();
    return { wasm: porthole.wasm_memory_bytes(), preciseMemory: !!performance.memory, gc: !!globalThis.gc };
  },

  size(which) {
    return file(which).size;
  },

  // Uploads: Porthole (default options, or a chunk size) vs plain fetch POST + PUT of the Blob.
  async portholeUpload(registry, repo, which, chunkSize, bytes, hashInWasm) {
    const blob = part(which, bytes);
    const { ms, value } = await timed(() =>
      porthole.upload_blob(registry, repo, blob, chunkSize ?? undefined, hashInWasm ?? undefined));
    return { ms, digest: value };
  },

  async portholeUploadStream(registry, repo, which) {
    const { ms, value } = await timed(() => porthole.upload_stream(registry, repo, file(which).stream()));
    return { ms, digest: value };
  },

  async plainUpload(registry, repo, which, digest, bytes) {
    const blob = part(which, bytes);
    const { ms } = await timed(async () => {
      const post = await fetch(`${registry}/v2/${repo}/blobs/uploads/`, { method: "POST", cache: "no-store" });
      if (post.status !== 202) throw new Error(`POST answered ${post.status}`);
      const url = new URL(locationOf(post, registry));
      url.searchParams.set("digest", digest);
      const put = await fetch(url.href, {
        method: "PUT", body: blob, cache: "no-store",
        headers: { "Content-Type": "application/octet-stream" },
      });
      if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${await put.text()}`);
    });
    return { ms };
  },

  /** Diagnostic: the plain upload while the same File is hashed in wasm as an upload reads it
   *  (perfect overlap of send and hash, no chunking): the best "hash beside the send" can do. */
  async plainUploadWhileHashing(registry, repo, which, digest) {
    const { ms, value } = await timed(() => Promise.all([
      window.bench.plainUpload(registry, repo, which, digest),
      porthole.sha256_blob(file(which)),
    ]));
    if (value[1] !== digest) throw new Error(`hash gave ${value[1]}`);
    return { ms };
  },

  // Downloads: Porthole's verified stream (the product path), the core's verified download into
  // a counting sink, and a plain fetch reader loop counting bytes.
  async portholeDownloadStream(registry, repo, digest) {
    const { ms, value } = await timed(() =>
      readCounting(porthole.download_stream(registry, repo, digest)));
    return { ms, bytes: value };
  },

  async portholeDownloadCore(registry, repo, digest) {
    const { ms, value } = await timed(() => porthole.download_count(registry, repo, digest));
    return { ms, bytes: value };
  },

  /**
   * The plain fetch read, each chunk posted (transferred) to a worker that hashes it in wasm on
   * the other core: the ceiling of a verified download that hashes off the page's thread.
   */
  async plainDownloadHashInWorker(registry, repo, digest) {
    hashWorker ??= new Worker("/hash-worker.js", { type: "module" });
    const worker = hashWorker;
    const { ms, value } = await timed(async () => {
      worker.postMessage("start");
      const bytes = await plainGet(registry, repo, digest, (stream) =>
        readCounting(stream, (chunk) => worker.postMessage(chunk, [chunk.buffer])));
      const hashed = await new Promise((resolve) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.postMessage("end");
      });
      if (hashed !== digest) throw new Error(`the worker hashed ${hashed}, expected ${digest}`);
      return bytes;
    });
    return { ms, bytes: value };
  },

  async plainDownload(registry, repo, digest) {
    const { ms, value } = await timed(() => plainGet(registry, repo, digest, readCounting));
    return { ms, bytes: value };
  },

  // Hashing the same bytes: wasm (porthole_core::Hasher) vs WebCrypto, and wasm over the Blob.
  async loadArray(which) {
    arrays[which] = new Uint8Array(await file(which).arrayBuffer());
    return arrays[which].byteLength;
  },

  dropArrays() {
    for (const key of Object.keys(arrays)) delete arrays[key];
  },

  async wasmSha(which) {
    const { ms, value } = await timed(async () => porthole.sha256_uint8array(arrays[which]));
    return { ms, digest: value };
  },

  async subtleSha(which) {
    const { ms, value } = await timed(() => crypto.subtle.digest("SHA-256", arrays[which]));
    const hex = [...new Uint8Array(value)].map((b) => b.toString(16).padStart(2, "0")).join("");
    return { ms, digest: `sha256:${hex}` };
  },

  async blobSha(which) {
    const { ms, value } = await timed(() => porthole.sha256_blob(file(which)));
    return { ms, digest: value };
  },

  // Listings with a fresh client each time (as a page's first listing).
  async listRepos(registry) {
    const { ms, value } = await timed(() => porthole.list_repositories(registry));
    return { ms, count: value };
  },

  async listTags(registry, repo) {
    const { ms, value } = await timed(() => porthole.list_tags(registry, repo));
    return { ms, count: value };
  },

  // Memory: peaks while Porthole uploads or downloads (run in a fresh page each time).
  async memoryUpload(registry, repo, which) {
    const r = await sampled(() => porthole.upload_blob(registry, repo, file(which)));
    return { ms: r.ms, digest: r.value, before: r.before, peakWasm: r.peakWasm, peakHeap: r.peakHeap, heapAfterGc: r.heapAfterGc };
  },

  /** `reader`: "byob" (one reused 1 MiB buffer) or "default" (a chunk per read). */
  async memoryDownload(registry, repo, digest, reader) {
    const r = await sampled(() => readers[reader](porthole.download_stream(registry, repo, digest)));
    return { ms: r.ms, bytes: r.value, before: r.before, peakWasm: r.peakWasm, peakHeap: r.peakHeap, heapAfterGc: r.heapAfterGc };
  },

  /** The browser's own floor for the download rows: a plain fetch read, same sampling. */
  async memoryPlainDownload(registry, repo, digest, reader) {
    const r = await sampled(() => plainGet(registry, repo, digest, readers[reader]));
    return { ms: r.ms, bytes: r.value, peakHeap: r.peakHeap };
  },

  MiB,
};
