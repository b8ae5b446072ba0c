// The npm package in headless Chromium: a plain HTML page loads the built package (its web
// entry, `await init()`), pushes and pulls a multi-MiB blob from a File-like Blob, streams it
// back verified, and aborts an upload mid-way; a module worker started from that page does the
// same work. Run by `cargo xtask test` (step `npm package`).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { after, before, test } from "node:test";

import { packageDir, registries, root } from "./common.mjs";

const R = registries();
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

let server;
let browser;
let page;

/** Serves the page at / and the package folder under /pkg/. */
function serve() {
  return new Promise((resolve) => {
    const s = http.createServer(async (req, res) => {
      const url = new URL(req.url, "http://x");
      const file = url.pathname.startsWith("/pkg/")
        ? path.join(packageDir, url.pathname.slice(5))
        : path.join(import.meta.dirname, "page.html");
      if (!file.startsWith(packageDir) && !file.endsWith("page.html")) {
        res.writeHead(403).end();
        return;
      }
      try {
        const body = await readFile(file);
        res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
}

before(async () => {
  server = await serve();
  const { chromium } = await import(path.join(root, "node_modules/playwright-core/index.mjs"));
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => document.getElementById("status").textContent === "ready", null, { timeout: 30_000 }).catch((e) => {
    throw new Error(`the page did not load the package: ${errors.join("; ") || e.message}`);
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("a plain page pushes and pulls a multi-MiB blob", async () => {
  const result = await page.evaluate(async (registry) => {
    const { ContainerRegistryContentClient } = window.porthole;
    const size = 12 * 1024 * 1024 + 12345;
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
    const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const expected = "sha256:" + hex(await crypto.subtle.digest("SHA-256", bytes));
    const file = new File([bytes], "payload.bin");
    const repo = `npm/browser-${Math.random().toString(16).slice(2, 10)}`;
    const content = new ContainerRegistryContentClient(registry, repo);
    const progress = [];
    const uploaded = await content.uploadBlob(file, {
      chunkSizeInBytes: 4 * 1024 * 1024,
      onProgress: (p) => progress.push(p.loadedBytes),
    });
    const { content: stream } = await content.downloadBlob(uploaded.digest);
    const pulled = new Uint8Array(await new Response(stream).arrayBuffer());
    const whole = await content.downloadBlobContent(uploaded.digest);
    return {
      expected,
      uploaded,
      progress,
      pulled: "sha256:" + hex(await crypto.subtle.digest("SHA-256", pulled)),
      pulledSize: pulled.length,
      wholeSize: whole.length,
      size,
    };
  }, R.anonymous);
  assert.equal(result.uploaded.digest, result.expected);
  assert.equal(result.uploaded.sizeInBytes, result.size);
  assert.equal(result.pulled, result.expected);
  assert.equal(result.pulledSize, result.size);
  assert.equal(result.wholeSize, result.size);
  assert.ok(result.progress.length >= 4, JSON.stringify(result.progress));
  assert.equal(result.progress.at(-1), result.size);
});

test("aborting an upload in the page cancels the registry's session", async () => {
  const result = await page.evaluate(async (registry) => {
    const { ContainerRegistryContentClient } = window.porthole;
    const original = window.fetch;
    const log = [];
    window.fetch = async (input, init) => {
      const entry = { method: init?.method ?? "GET", url: String(input) };
      log.push(entry);
      const response = await original(input, init);
      entry.status = response.status;
      return response;
    };
    const content = new ContainerRegistryContentClient(registry, `npm/browser-abort-${Date.now()}`);
    const controller = new AbortController();
    let error;
    try {
      await content.uploadBlob(new Blob([new Uint8Array(8 * 1024 * 1024)]), {
        chunkSizeInBytes: 1024 * 1024,
        abortSignal: controller.signal,
        onProgress: (p) => p.loadedBytes >= 2 * 1024 * 1024 && controller.abort(),
      });
    } catch (e) {
      error = { name: e.name, code: e.code, isError: e instanceof Error };
    } finally {
      window.fetch = original;
    }
    const cancel = log.find((e) => e.method === "DELETE" && e.url.includes("/blobs/uploads/"));
    const after = cancel && (await fetch(cancel.url));
    return {
      error,
      cancelStatus: cancel?.status,
      afterStatus: after?.status,
      afterCode: after && (await after.json()).errors?.[0]?.code,
    };
  }, R.anonymous);
  assert.deepEqual(result.error, { name: "AbortError", code: "ABORTED", isError: true });
  assert.equal(result.cancelStatus, 204);
  assert.equal(result.afterStatus, 404);
  assert.equal(result.afterCode, "BLOB_UPLOAD_UNKNOWN");
});

test("a web worker pushes, streams back verified and refuses altered bytes", async () => {
  const result = await page.evaluate(async (registry) => {
    // A module worker importing the package by URL, as a page's worker does (no bundler).
    const source = `
      import init, { ContainerRegistryContentClient } from "${location.origin}/pkg/porthole.js";
      const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
      self.onmessage = async ({ data: registry }) => {
        try {
          await init();
          const size = 5 * 1024 * 1024 + 7;
          const bytes = new Uint8Array(size);
          for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
          const expected = "sha256:" + hex(await crypto.subtle.digest("SHA-256", bytes));
          const content = new ContainerRegistryContentClient(registry, "npm/worker-" + Math.random().toString(16).slice(2, 10));
          const progress = [];
          const uploaded = await content.uploadBlob(new Blob([bytes]), {
            chunkSizeInBytes: 2 * 1024 * 1024,
            onProgress: (p) => progress.push(p.loadedBytes),
          });
          const { content: stream } = await content.downloadBlob(uploaded.digest);
          const pulled = await new Response(stream).arrayBuffer();
          // The same blob answered with one byte flipped: the verified stream must error.
          const original = self.fetch;
          self.fetch = async (input, init) => {
            const response = await original(input, init);
            if (!String(input).includes("/blobs/sha256:") || (init?.method ?? "GET") !== "GET") return response;
            const altered = new Uint8Array(await response.arrayBuffer());
            altered[1000] ^= 1;
            return new Response(altered, { status: response.status, headers: response.headers });
          };
          let refused;
          try {
            await content.downloadBlobContent(uploaded.digest);
          } catch (e) {
            refused = { name: e.name, code: e.code };
          } finally {
            self.fetch = original;
          }
          self.postMessage({
            inWorker: typeof document === "undefined" && typeof WorkerGlobalScope !== "undefined",
            expected,
            uploaded,
            pulled: "sha256:" + hex(await crypto.subtle.digest("SHA-256", pulled)),
            progressEnd: progress.at(-1),
            refused,
            size,
          });
        } catch (e) {
          self.postMessage({ error: e.name + " (" + e.code + "): " + e.message });
        }
      };
    `;
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const worker = new Worker(url, { type: "module" });
    try {
      return await new Promise((resolve, reject) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.onerror = (e) => reject(new Error(`the worker failed: ${e.message}`));
        worker.postMessage(registry);
      });
    } finally {
      worker.terminate();
      URL.revokeObjectURL(url);
    }
  }, R.anonymous);
  assert.equal(result.error, undefined, result.error);
  assert.ok(result.inWorker, "the code ran in a worker");
  assert.equal(result.uploaded.digest, result.expected);
  assert.equal(result.uploaded.sizeInBytes, result.size);
  assert.equal(result.pulled, result.expected);
  assert.equal(result.progressEnd, result.size);
  assert.deepEqual(result.refused, { name: "DigestMismatchError", code: "DIGEST_MISMATCH" });
});
