// Shared by the npm package's tests: the package as a user gets it, the kit's registries, and
// small helpers. Run by `cargo xtask test` (step `npm package`), which builds and packs the
// package, installs the tarball into target/npm/app and starts `porthole-testkit serve`.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const root = path.resolve(import.meta.dirname, "../..");

/** The kit's registries: the JSON line `porthole-testkit serve` prints. */
export function registries() {
  const json = process.env.PORTHOLE_TEST_REGISTRIES_JSON;
  if (!json) {
    throw new Error(
      "PORTHOLE_TEST_REGISTRIES_JSON is not set: run these tests with `cargo xtask test`, or " +
        "start `cargo run -p porthole-testkit -- serve` and pass its line",
    );
  }
  return JSON.parse(json);
}

/** The package folder (target/npm/porthole unless PORTHOLE_NPM_PACKAGE says otherwise). */
export const packageDir = process.env.PORTHOLE_NPM_PACKAGE ?? path.join(root, "target/npm/porthole");

/**
 * Imports the package by its name from the app the tarball was installed into (so the
 * `exports` map and its "node" condition are what is tested), else from the package folder.
 */
export async function loadPackage() {
  const app = process.env.PORTHOLE_NPM_APP;
  const entry = app
    ? createRequire(path.join(app, "package.json")).resolve("porthole")
    : path.join(packageDir, "node.js");
  return import(pathToFileURL(entry).href);
}

export const MiB = 1024 * 1024;

/** Deterministic bytes that do not compress. */
export function pseudoRandom(length, seed) {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256(bytes) {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

/** A repository name no other test uses. */
export function uniqueRepo(prefix) {
  return `npm/${prefix}-${Math.random().toString(16).slice(2, 10)}`;
}

/** Reads a byte stream with a BYOB reader through one reused buffer of `size` bytes. */
export async function readAllByob(stream, size = 65_537) {
  const reader = stream.getReader({ mode: "byob" });
  const chunks = [];
  let buffer = new ArrayBuffer(size);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) return Buffer.concat(chunks);
    chunks.push(Buffer.from(value));
    buffer = value.buffer;
  }
}

/** Reads a ReadableStream to the end into one Uint8Array. */
export async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
