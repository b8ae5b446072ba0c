// The npm package in Node 20+, against the kit's real registries: push, pull, list, delete,
// credentials, errors, aborts. Run by `cargo xtask test` (step `npm package`).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";

import { loadPackage, MiB, packageDir, pseudoRandom, readAll, readAllByob, registries, sha256, uniqueRepo } from "./common.mjs";

const R = registries();
const { ContainerRegistryClient, ContainerRegistryContentClient, default: init } = await loadPackage();
const ALICE = { username: "alice", password: R.users.alice.password };

/** Records every fetch the package makes (method, URL, status) while `body` runs. */
async function recordingFetches(body, { onResponse } = {}) {
  const original = globalThis.fetch;
  const log = [];
  globalThis.fetch = async (input, init) => {
    const entry = { method: init?.method ?? "GET", url: String(input), status: undefined };
    log.push(entry);
    let response = await original(input, init);
    entry.status = response.status;
    if (onResponse) response = (await onResponse(entry, response)) ?? response;
    return response;
  };
  try {
    return await body(log);
  } finally {
    globalThis.fetch = original;
  }
}

/**
 * A pull-based ReadableStream of `length` pseudo-random bytes in pieces of `piece`, made as they
 * are read (so nothing holds the whole), which errors once `failAfter` bytes were given.
 * `produced()` says how many bytes were handed out so far, `hash()` the digest of all of them.
 */
function pieces(length, piece, seed, { failAfter } = {}) {
  let offset = 0;
  let cancelled = false;
  const hasher = createHash("sha256");
  const stream = new ReadableStream({
    pull(controller) {
      if (failAfter !== undefined && offset >= failAfter) {
        controller.error(new Error("the producer broke"));
        return;
      }
      if (offset >= length) {
        controller.close();
        return;
      }
      const bytes = pseudoRandom(Math.min(piece, length - offset), seed + offset);
      hasher.update(bytes);
      offset += bytes.length;
      controller.enqueue(bytes);
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, produced: () => offset, hash: () => "sha256:" + hasher.copy().digest("hex"), cancelled: () => cancelled };
}

/** Pushes a tiny image (config + one layer) under `tag`; returns the manifest's digest. */
async function pushImage(content, tag, layerBytes = pseudoRandom(1000, 1)) {
  const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux" }));
  const c = await content.uploadBlob(config);
  const l = await content.uploadBlob(layerBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: c.digest, size: c.sizeInBytes },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: l.digest, size: l.sizeInBytes }],
  };
  const { digest } = await content.setManifest(manifest, { tag });
  return { digest, layer: l.digest };
}

test("the Node entry initializes itself; init() is a no-op", async () => {
  await init();
  assert.equal(typeof ContainerRegistryClient, "function");
});

describe("blobs", () => {
  const repo = uniqueRepo("blobs");
  const content = new ContainerRegistryContentClient(R.anonymous, repo);

  test("uploads in chunks with progress, then pulls verified bytes and streams", async () => {
    const bytes = pseudoRandom(3 * MiB + 17, 7);
    const progress = [];
    const uploaded = await content.uploadBlob(bytes, {
      chunkSizeInBytes: MiB,
      onProgress: (p) => progress.push(p),
    });
    assert.deepEqual(uploaded, { digest: sha256(bytes), sizeInBytes: bytes.length });
    assert.ok(progress.length >= 4, `progress was reported ${progress.length} times`);
    assert.deepEqual(progress.at(-1), { loadedBytes: bytes.length, totalBytes: bytes.length, interruptions: 0 });
    assert.equal(await content.blobExists(uploaded.digest), true);

    const whole = await content.downloadBlobContent(uploaded.digest);
    assert.ok(whole instanceof Uint8Array);
    assert.equal(sha256(whole), uploaded.digest);

    const { digest, content: stream } = await content.downloadBlob(uploaded.digest);
    assert.equal(digest, uploaded.digest);
    assert.ok(stream instanceof ReadableStream);
    assert.equal(sha256(await readAll(stream)), uploaded.digest);
    // A byte stream: a BYOB reader gets the bytes in its own buffer.
    const again = await content.downloadBlob(uploaded.digest);
    assert.equal(sha256(await readAllByob(again.content)), uploaded.digest);
  });

  test("takes a Blob, an ArrayBuffer and a ReadableStream alike", async () => {
    const bytes = pseudoRandom(200_000, 3);
    const expected = sha256(bytes);
    const sources = [
      new Blob([bytes]),
      bytes.buffer.slice(0),
      new Blob([bytes]).stream(),
    ];
    for (const source of sources) {
      const { digest, sizeInBytes } = await content.uploadBlob(source);
      assert.equal(digest, expected);
      assert.equal(sizeInBytes, bytes.length);
    }
  });

  test("streams a ReadableStream of unknown length chunk by chunk, never far ahead of the registry", async () => {
    const chunk = 2 * MiB;
    const piece = 100_003;
    const { stream, produced, hash } = pieces(24 * MiB + 5, piece, 31);
    const progress = [];
    let furthestAhead = 0;
    const uploaded = await content.uploadBlob(stream, {
      chunkSizeInBytes: chunk,
      onProgress: (p) => {
        progress.push(p);
        furthestAhead = Math.max(furthestAhead, produced() - p.loadedBytes);
      },
    });
    assert.deepEqual(uploaded, { digest: hash(), sizeInBytes: 24 * MiB + 5 });
    // The stream was read a chunk at a time (plus the piece the stream pulls ahead), not whole
    // before the upload: a report comes as each chunk is read, before the registry has it.
    assert.ok(furthestAhead <= chunk + 2 * piece, `the stream was read ${furthestAhead} bytes ahead of the registry`);
    assert.ok(furthestAhead >= chunk, `no report came between reading a chunk and its confirmation`);
    assert.equal(progress.filter((p) => p.totalBytes - p.loadedBytes === chunk).length, 12);
    const totals = progress.map((p) => p.totalBytes);
    assert.ok(totals[0] < 24 * MiB, `the size is learnt as the stream is read: ${totals}`);
    assert.ok(totals.every((t, i) => i === 0 || t >= totals[i - 1]), `${totals}`);
    assert.deepEqual(progress.at(-1), { loadedBytes: 24 * MiB + 5, totalBytes: 24 * MiB + 5, interruptions: 0 });
    assert.equal(sha256(await content.downloadBlobContent(uploaded.digest)), uploaded.digest);
  });

  test("a stream that fails midway rejects with its error and cancels the session", async () => {
    const { stream } = pieces(8 * MiB, 65_536, 32, { failAfter: 5 * MiB });
    await recordingFetches(async (log) => {
      await assert.rejects(content.uploadBlob(stream, { chunkSizeInBytes: MiB }), (e) => {
        assert.match(e.message, /reading the stream/);
        assert.match(e.message, /the producer broke/);
        assert.equal(e.code, "BODY_ERROR");
        return true;
      });
      const cancel = log.filter((e) => e.method === "DELETE" && e.url.includes("/blobs/uploads/"));
      assert.equal(cancel.length, 1, JSON.stringify(log));
      assert.equal(cancel[0].status, 204);
    });
  });

  test("aborting while the stream stalls ends the upload and cancels the stream and the session", { timeout: 30_000 }, async () => {
    const controller = new AbortController();
    let given = 0;
    let cancelled = false;
    const stream = new ReadableStream({
      pull(c) {
        if (given >= 3 * MiB) {
          // The producer stalls for good; the caller gives up a moment later.
          setTimeout(() => controller.abort(), 100);
          return new Promise(() => {});
        }
        const bytes = pseudoRandom(MiB / 4, 40 + given);
        given += bytes.length;
        c.enqueue(bytes);
      },
      cancel: () => {
        cancelled = true;
      },
    });
    await recordingFetches(async (log) => {
      await assert.rejects(content.uploadBlob(stream, { chunkSizeInBytes: MiB, abortSignal: controller.signal }), {
        name: "AbortError",
        code: "ABORTED",
      });
      assert.equal(cancelled, true, "the producer was told to stop");
      assert.equal(log.filter((e) => e.method === "PATCH").length, 3, JSON.stringify(log));
      const cancel = log.filter((e) => e.method === "DELETE" && e.url.includes("/blobs/uploads/"));
      assert.equal(cancel.length, 1, JSON.stringify(log));
      assert.equal(cancel[0].status, 204);
    });
  });

  test("a chunk size too large to hold for a stream is refused", async () => {
    const { stream } = pieces(10, 10, 34);
    await assert.rejects(content.uploadBlob(stream, { chunkSizeInBytes: 512 * MiB }), (e) => {
      assert.equal(e.code, "INVALID_INPUT");
      assert.match(e.message, /256 MiB/);
      return true;
    });
  });

  test("takes a Node Readable (fs.createReadStream) and any async iterable of chunks", async () => {
    const bytes = pseudoRandom(6 * MiB + 7, 35);
    const file = path.join(os.tmpdir(), `porthole-npm-${process.pid}-${Date.now()}.bin`);
    fs.writeFileSync(file, bytes);
    try {
      const uploaded = await content.uploadBlob(fs.createReadStream(file), { chunkSizeInBytes: 2 * MiB });
      assert.deepEqual(uploaded, { digest: sha256(bytes), sizeInBytes: bytes.length });
    } finally {
      fs.rmSync(file);
    }
    async function* pieces() {
      for (let at = 0; at < bytes.length; at += 300_001) yield bytes.subarray(at, at + 300_001);
    }
    const again = await content.uploadBlob(pieces(), { chunkSizeInBytes: 2 * MiB });
    assert.equal(again.digest, sha256(bytes));
  });

  test("an async iterable that throws midway rejects with its error; an abort destroys a Readable", async () => {
    async function* breaking() {
      yield pseudoRandom(3 * MiB, 36);
      throw new Error("the generator broke");
    }
    await assert.rejects(content.uploadBlob(breaking(), { chunkSizeInBytes: MiB }), /the generator broke/);

    const file = path.join(os.tmpdir(), `porthole-npm-${process.pid}-${Date.now()}-abort.bin`);
    fs.writeFileSync(file, pseudoRandom(8 * MiB, 37));
    try {
      const readable = fs.createReadStream(file, { highWaterMark: 64 * 1024 });
      const controller = new AbortController();
      await assert.rejects(
        content.uploadBlob(readable, {
          chunkSizeInBytes: MiB,
          abortSignal: controller.signal,
          onProgress: (p) => {
            if (p.loadedBytes >= 2 * MiB) controller.abort();
          },
        }),
        { name: "AbortError" },
      );
      // Cancelling the stream destroys the Readable (the file is closed).
      assert.equal(readable.destroyed, true);
    } finally {
      fs.rmSync(file);
    }

    // A Readable that stalls (a pipe nobody writes to any more): the abort still ends the upload
    // and destroys it, though its iterator waits for data.
    const stalled = new PassThrough();
    stalled.write(pseudoRandom(3 * MiB, 38));
    const later = new AbortController();
    setTimeout(() => later.abort(), 1500);
    await assert.rejects(content.uploadBlob(stalled, { chunkSizeInBytes: MiB, abortSignal: later.signal }), {
      name: "AbortError",
    });
    assert.equal(stalled.destroyed, true);
  });

  test("a stream of text is refused with what to do, and the stream is cancelled", async () => {
    let cancelled = false;
    const text = new ReadableStream({
      pull: (c) => c.enqueue("not bytes"),
      cancel: () => {
        cancelled = true;
      },
    });
    await assert.rejects(content.uploadBlob(text), (e) => {
      assert.match(e.message, /not bytes/);
      assert.match(e.message, /TextEncoderStream/);
      return true;
    });
    assert.equal(cancelled, true);
  });

  test("aborting a streamed upload cancels the stream and the session", async () => {
    const controller = new AbortController();
    const { stream, cancelled } = pieces(16 * MiB, 65_536, 33);
    await recordingFetches(async (log) => {
      await assert.rejects(
        content.uploadBlob(stream, {
          chunkSizeInBytes: MiB,
          abortSignal: controller.signal,
          onProgress: (p) => {
            if (p.loadedBytes >= 2 * MiB) controller.abort();
          },
        }),
        { name: "AbortError" },
      );
      assert.equal(cancelled(), true, "the producer was told to stop");
      const cancel = log.filter((e) => e.method === "DELETE" && e.url.includes("/blobs/uploads/"));
      assert.equal(cancel.length, 1, JSON.stringify(log));
    });
  });

  test("deletes a blob; deleting a missing one succeeds", async () => {
    const { digest } = await content.uploadBlob(pseudoRandom(1234, 9));
    await content.deleteBlob(digest);
    assert.equal(await content.blobExists(digest), false);
    await content.deleteBlob(digest);
  });

  test("mounts a blob from another repository", async () => {
    const { digest } = await content.uploadBlob(pseudoRandom(4321, 10));
    const other = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("mount"));
    assert.equal(await other.mountBlob(digest, repo), true);
    assert.equal(await other.blobExists(digest), true);
  });
});

describe("manifests, tags and listings", () => {
  const repo = uniqueRepo("manifests");
  const content = new ContainerRegistryContentClient(R.anonymous, repo);
  const client = new ContainerRegistryClient(R.anonymous);

  test("pushes a manifest under a tag and gets it by tag and digest", async () => {
    const { digest } = await pushImage(content, "v1");
    const byTag = await content.getManifest("v1");
    assert.equal(byTag.digest, digest);
    assert.equal(byTag.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(byTag.manifest.schemaVersion, 2);
    assert.equal(sha256(byTag.content), digest);
    const byDigest = await content.getManifest(digest);
    assert.deepEqual(byDigest.manifest, byTag.manifest);
  });

  test("lists tags and repositories, by item and by page", async () => {
    await pushImage(content, "v2");
    await pushImage(content, "v3", pseudoRandom(500, 2));
    const repository = client.getRepository(repo);
    assert.equal(repository.name, repo);
    const tags = [];
    for await (const tag of repository.listTagNames()) tags.push(tag);
    assert.deepEqual(tags.sort(), ["v1", "v2", "v3"]);

    const names = [];
    for await (const name of client.listRepositoryNames()) names.push(name);
    assert.ok(names.includes(repo), `${repo} is not in ${names.join(", ")}`);

    // Pages (distribution 2.x pages its catalog, not its tag lists).
    const pages = [];
    for await (const page of client.listRepositoryNames().byPage({ maxPageSize: 2 })) pages.push(page);
    assert.ok(pages.length >= 2, `${pages.length} pages`);
    assert.ok(pages.every((p) => p.length <= 2));
    assert.equal(typeof pages[0].continuationToken, "string");
    assert.equal(pages.at(-1).continuationToken, undefined);
    assert.deepEqual(pages.flat(), names);
    const resumed = await client.listRepositoryNames().byPage({ continuationToken: pages[0].continuationToken, maxPageSize: 2 }).next();
    assert.deepEqual([...resumed.value], [...pages[1]]);
    // An empty token starts over, as core-paging's falsy one does.
    const again = await client.listRepositoryNames().byPage({ continuationToken: "", maxPageSize: 2 }).next();
    assert.deepEqual([...again.value], [...pages[0]]);
    // A page size the listing cannot use is a RangeError, not the default in silence.
    for (const maxPageSize of [0, -1, 2.5, NaN]) {
      await assert.rejects(client.listRepositoryNames().byPage({ maxPageSize }).next(),
        (e) => e instanceof RangeError && /maxPageSize must be a whole number/.test(e.message), String(maxPageSize));
    }
  });

  test("setManifest reads a Node Readable or a ReadableStream whole, as the Azure SDK's does", async () => {
    const { digest } = await pushImage(content, "streamed-source", pseudoRandom(300, 6));
    const bytes = (await content.getManifest(digest)).content;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "porthole-manifest-")), "manifest.json");
    fs.writeFileSync(file, bytes);
    const fromFile = await content.setManifest(fs.createReadStream(file, { highWaterMark: 64 }), { tag: "from-readable" });
    assert.equal(fromFile.digest, digest);
    const fromStream = await content.setManifest(new Blob([bytes]).stream(), { tag: "from-stream" });
    assert.equal(fromStream.digest, digest);
    // Read as text (an encoding given), a Node stream yields strings: their UTF-8 bytes count.
    const fromText = await content.setManifest(fs.createReadStream(file, { encoding: "utf8", highWaterMark: 64 }), { tag: "from-text" });
    assert.equal(fromText.digest, digest);
    assert.equal((await content.getManifest("from-readable")).digest, digest);
    // A stream longer than a manifest may be is refused, not read on.
    const endless = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(MiB)); } });
    await assert.rejects(content.setManifest(endless), /the manifest is larger than 4194304 bytes/);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  test("next() calls made before the previous settled take their turn (no item twice)", async () => {
    const all = [];
    for await (const name of client.listRepositoryNames()) all.push(name);
    const items = client.listRepositoryNames();
    const steps = await Promise.all([items.next(), items.next(), items.next()]);
    assert.deepEqual(steps.map((s) => s.value), all.slice(0, 3));
    const pages = client.listRepositoryNames().byPage({ maxPageSize: 2 });
    const [first, second] = await Promise.all([pages.next(), pages.next()]);
    assert.deepEqual([...first.value, ...second.value], all.slice(0, 4));
  });

  test("byPage stops when the registry answers a page with the token it was asked past, or links back or on for ever", async () => {
    // A registry that does not page, seen cross-origin (Link hidden): the client infers a next
    // page, and the registry sends the same page again. The package's pager helper is tested
    // with such a pager directly (Node sees Link, so the inference never happens here).
    const snippets = path.join(packageDir, "snippets");
    const helper = fs.readdirSync(snippets, { recursive: true }).find((f) => f.endsWith("helpers.js"));
    const { pagedIterator } = await import(path.join(snippets, helper));
    let calls = 0;
    const pager = { async fetchPage() { calls += 1; return { items: ["a", "b"], continuationToken: "last=b" }; } };
    const seen = [];
    for await (const item of pagedIterator(pager)) seen.push(item);
    assert.deepEqual(seen, ["a", "b"]);
    assert.equal(calls, 2);

    // Pages that link back to one already read (t1 → t2 → t1): each page once, then the end.
    const looping = {
      calls: 0,
      async fetchPage(token) {
        this.calls += 1;
        const next = { undefined: ["1", "t1"], t1: ["2", "t2"], t2: ["3", "t1"] }[String(token)];
        return { items: [next[0]], continuationToken: next[1] };
      },
    };
    const items = [];
    for await (const item of pagedIterator(looping)) items.push(item);
    assert.deepEqual(items, ["1", "2", "3"]);
    assert.equal(looping.calls, 3);
    // The same page again under ever new tokens: listed once.
    let same = 0;
    const repeating = { async fetchPage() { same += 1; return { items: ["x", "y"], continuationToken: `t${same}` }; } };
    const once = [];
    for await (const item of pagedIterator(repeating)) once.push(item);
    assert.deepEqual(once, ["x", "y"]);
    assert.equal(same, 2);
    // Empty pages linking on without end: the item iteration gives up after 1,000 of them.
    let empties = 0;
    const hollow = { async fetchPage() { empties += 1; return { items: [], continuationToken: `p${empties}` }; } };
    for await (const item of pagedIterator(hollow)) assert.fail(`no items: ${item}`);
    assert.equal(empties, 1000);
  });

  test("deletes a manifest by digest, and an artifact by tag", async () => {
    const { digest } = await pushImage(content, "gone", pseudoRandom(700, 4));
    // A tag is refused before any request: a DELETE by tag removes only the tag on OCI 1.1
    // registries, not the manifest the call is named for.
    await recordingFetches(async (log) => {
      await assert.rejects(content.deleteManifest("gone"), (e) => {
        assert.equal(e.code, "INVALID_INPUT", e.message);
        assert.match(e.message, /takes the manifest's digest, not a tag/);
        return true;
      });
      assert.equal(log.length, 0);
    });
    await content.deleteManifest(digest);
    await assert.rejects(content.getManifest(digest), (e) => {
      assert.equal(e.name, "RestError");
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, "MANIFEST_UNKNOWN");
      assert.equal(e.details[0].code, "MANIFEST_UNKNOWN");
      return true;
    });
    const second = await pushImage(content, "gone2", pseudoRandom(800, 5));
    const artifact = client.getArtifact(repo, "gone2");
    assert.match(artifact.fullyQualifiedReference, new RegExp(`/${repo}:gone2$`));
    await artifact.delete();
    await assert.rejects(content.getManifest(second.digest), { statusCode: 404 });
  });

  test("lists referrers (through the fallback tag on distribution)", async () => {
    const subject = await pushImage(content, "signed", pseudoRandom(900, 6));
    const empty = await content.uploadBlob(new TextEncoder().encode("{}"));
    const sig = await content.uploadBlob(pseudoRandom(64, 8));
    const referrer = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: "application/vnd.example.signature",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: empty.digest, size: 2 },
      layers: [{ mediaType: "application/octet-stream", digest: sig.digest, size: sig.sizeInBytes }],
      subject: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: subject.digest, size: (await content.getManifest(subject.digest)).content.length },
    };
    const { digest } = await content.setManifest(referrer);
    const found = [];
    for await (const d of content.listReferrers(subject.digest)) found.push(d);
    assert.deepEqual(found.map((d) => [d.digest, d.artifactType]), [[digest, "application/vnd.example.signature"]]);
    const none = [];
    for await (const d of content.listReferrers(subject.digest, { artifactType: "application/other" })) none.push(d);
    assert.deepEqual(none, []);
  });
});

describe("credentials", () => {
  test("username and password on the basic-auth and token-auth registries", async () => {
    for (const url of [R.basic, R.token]) {
      const content = new ContainerRegistryContentClient(url, uniqueRepo("auth"), ALICE);
      const bytes = pseudoRandom(5000, 11);
      const { digest } = await content.uploadBlob(bytes);
      assert.equal(sha256(await content.downloadBlobContent(digest)), digest);
    }
  });

  for (const options of [{ tokenKind: "registry" }, {}]) {
    test(`a getToken credential with ${JSON.stringify(options)} on a registry's own token server is asked for its scopes`, async () => {
      const asked = [];
      const credential = {
        async getToken(scopes) {
          asked.push(scopes);
          const url = new URL(R.token_realm);
          url.searchParams.set("service", R.service);
          for (const scope of scopes) url.searchParams.append("scope", scope);
          const basic = Buffer.from(`alice:${R.users.alice.password}`).toString("base64");
          const answer = await fetch(url, { headers: { Authorization: `Basic ${basic}` } });
          const body = await answer.json();
          return { token: body.token ?? body.access_token, expiresOnTimestamp: Date.now() + 60_000 };
        },
      };
      const repo = uniqueRepo("provider");
      // Without tokenKind, the registry's challenge decides: its realm is not ACR's. The first
      // calls run at once: the one whose request left before that decision is answered too.
      const content = new ContainerRegistryContentClient(R.token, repo, credential, options);
      assert.deepEqual(
        await Promise.all([1, 2, 3].map((n) => content.blobExists(sha256(new Uint8Array([n]))))),
        [false, false, false],
      );
      const { digest } = await content.uploadBlob(pseudoRandom(3000, 12));
      assert.equal(await content.blobExists(digest), true);
      assert.ok(asked.some((s) => s.includes(`repository:${repo}:pull,push`)), JSON.stringify(asked));
    });
  }

  test("a static { token } is sent as it is", async () => {
    const content = new ContainerRegistryContentClient(R.token, uniqueRepo("static"), { token: "not-a-token" });
    await assert.rejects(content.blobExists(sha256(new Uint8Array())), (e) => {
      assert.equal(e.name, "RestError");
      assert.equal(e.statusCode, 401);
      return true;
    });
  });

  test("a wrong password is a RestError with the registry's status", async () => {
    const wrong = { username: "alice", password: "hunter2-not-it" };
    const basic = new ContainerRegistryContentClient(R.basic, uniqueRepo("wrong"), wrong);
    await assert.rejects(basic.uploadBlob(new Uint8Array([1])), (e) => {
      assert.ok(e instanceof Error);
      assert.equal(e.name, "RestError");
      assert.equal(e.statusCode, 401);
      assert.equal(e.code, "UNAUTHORIZED");
      assert.ok(Array.isArray(e.details));
      assert.doesNotMatch(e.message, /hunter2/, "the password must not appear in the message");
      return true;
    });
    const token = new ContainerRegistryContentClient(R.token, uniqueRepo("wrong"), wrong);
    await assert.rejects(token.uploadBlob(new Uint8Array([1])), (e) => {
      assert.equal(e.name, "RestError");
      assert.equal(e.code, "AUTH_FAILED");
      // The token server's refusal keeps its status, for code that branches on 401/403.
      assert.equal(e.statusCode, 401);
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    });
  });

  test("a credential of no known shape is a TypeError", () => {
    assert.throws(() => new ContainerRegistryClient(R.anonymous, { password: "only" }), TypeError);
  });
});

describe("errors", () => {
  test("an error that went through retries keeps the registry's error entries in details", async () => {
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("busy"));
    const busy = () => new Response(JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "try later", detail: { why: "maintenance" } }] }), {
      status: 503, headers: { "Content-Type": "application/json" },
    });
    await recordingFetches(async (log) => {
      await assert.rejects(content.getManifest("latest"), (e) => {
        assert.equal(e.statusCode, 503, e.message);
        assert.deepEqual(e.details, [{ code: "UNAVAILABLE", message: "try later", detail: { why: "maintenance" } }]);
        return true;
      });
      assert.ok(log.length > 1, "retried");
    }, { onResponse: (entry) => { entry.status = 503; return busy(); } });
  });

  test("a refused connection is a NETWORK_ERROR, retried (Node applies no CORS)", async () => {
    const port = await new Promise((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
    const content = new ContainerRegistryContentClient(`http://127.0.0.1:${port}`, "any/repo");
    await recordingFetches(async (log) => {
      await assert.rejects(content.blobExists(sha256(new Uint8Array())), (e) => {
        assert.equal(e.code, "NETWORK_ERROR", e.message);
        assert.doesNotMatch(e.message, /CORS|origin/, e.message);
        return true;
      });
      assert.ok(log.length > 1, `a GET whose connection failed is retried: ${log.length} attempt(s)`);
    });
  });

  test("a bad repository name fails before any request", () => {
    const client = new ContainerRegistryClient(R.anonymous);
    assert.throws(() => client.getRepository("Not A Name!"), (e) => {
      assert.ok(e instanceof Error);
      assert.equal(e.name, "RestError");
      assert.equal(e.code, "INVALID_INPUT");
      assert.match(e.message, /repository name/);
      return true;
    });
    assert.throws(() => new ContainerRegistryContentClient(R.anonymous, "UPPER/case"), { code: "INVALID_INPUT" });
  });

  test("odd JS arguments are TypeErrors that say why, never a crash of the module", async () => {
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("odd-arguments"));
    // JSON.stringify gives undefined for an object whose toJSON returns nothing.
    const nothing = { toJSON() {} };
    assert.throws(() => new ContainerRegistryClient(R.anonymous, undefined, nothing), TypeError);
    await assert.rejects(content.uploadBlob(pseudoRandom(10, 1), nothing), TypeError);
    await assert.rejects(content.setManifest(nothing), /cannot be written as JSON/);
    await assert.rejects(content.setManifest({ size: 1n }), /cannot be written as JSON: .*BigInt/);
    await assert.rejects(content.uploadBlob(pseudoRandom(10, 1), { chunkSizeInBytes: NaN }), TypeError);
    // Infinity (which JSON would turn into null) means one chunk, not the default size.
    const whole = pseudoRandom(3 * MiB, 3);
    const loaded = [];
    const sent = await content.uploadBlob(whole, { chunkSizeInBytes: Infinity, onProgress: (p) => loaded.push(p.loadedBytes) });
    assert.equal(sent.digest, sha256(whole));
    assert.deepEqual(loaded.filter((n) => n !== 0 && n !== whole.length), [], `partial progress: ${loaded}`);

    // Buffers transferred elsewhere (detached) read as empty: refused, not sent as nothing.
    const detached = (buffer) => {
      structuredClone(buffer, { transfer: [buffer] });
      return buffer;
    };
    const detachedView = (View) => {
      const view = new View(new ArrayBuffer(8));
      detached(view.buffer);
      return view;
    };
    const gone = /transferred or detached/;
    await assert.rejects(content.uploadBlob(detached(new ArrayBuffer(8))), gone);
    await assert.rejects(content.uploadBlob(detachedView(Int16Array)), gone);
    await assert.rejects(content.setManifest(detachedView(Uint8Array)), gone);
    for (const chunk of [() => new ArrayBuffer(8), () => new Uint8Array(8), () => new DataView(new ArrayBuffer(8))]) {
      const stream = new ReadableStream({
        start(controller) {
          const value = chunk();
          controller.enqueue(value);
          detached(value instanceof ArrayBuffer ? value : value.buffer);
          controller.close();
        },
      });
      await assert.rejects(content.uploadBlob(stream), gone);
    }
    await assert.rejects(content.uploadBlob(pseudoRandom(10, 1), { onProgress: 5 }), /onProgress must be a function/);
    // Not a string where one is expected: a TypeError naming the argument (wasm-bindgen's own
    // conversion trapped inside the module's allocator: "memory access out of bounds").
    const notString = (name) => (e) => e instanceof TypeError && e.message === `${name} must be a string, not object`;
    assert.throws(() => new ContainerRegistryClient(new URL(R.anonymous)), notString("endpoint"));
    assert.throws(() => new ContainerRegistryContentClient(R.anonymous, { name: "x" }), notString("repositoryName"));
    const uploaded = await content.uploadBlob(pseudoRandom(10, 5));
    await assert.rejects(content.downloadBlobContent(uploaded), notString("digest"));
    await assert.rejects(content.getManifest(["v1"]), notString("tagOrDigest"));
    const registry = new ContainerRegistryClient(R.anonymous);
    assert.throws(() => registry.getRepository(null), (e) => e instanceof TypeError && /repositoryName must be a string, not object/.test(e.message));
    const artifact = registry.getArtifact(content.repositoryName, "v1");
    await assert.rejects(artifact.getTagProperties(1), (e) => e instanceof TypeError && e.message === "tag must be a string, not number");
    await assert.rejects(registry.listRepositoryNames().byPage({ continuationToken: 123 }).next(),
      (e) => e instanceof TypeError && e.message === "continuationToken must be a string, not number");
    // An endpoint with a path would have its path dropped: refused, saying why.
    assert.throws(() => new ContainerRegistryClient(`${R.anonymous}/registry`),
      (e) => e instanceof TypeError && /give the registry's origin only/.test(e.message));
    assert.doesNotThrow(() => new ContainerRegistryClient(`${R.anonymous}/`));
    // A throwing onProgress stops nothing, and its first error reaches the console.
    const logged = [];
    const consoleError = console.error;
    console.error = (...args) => logged.push(args);
    try {
      const chunked = pseudoRandom(3 * MiB, 4);
      const onProgress = () => {
        throw new Error("from the callback");
      };
      const sent = await content.uploadBlob(chunked, { chunkSizeInBytes: MiB, onProgress });
      assert.equal(sent.digest, sha256(chunked));
    } finally {
      console.error = consoleError;
    }
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.match(String(logged[0][0]), /onProgress callback threw/);
    assert.equal(logged[0][1].message, "from the callback");
    // The module still works.
    const bytes = pseudoRandom(1000, 2);
    assert.equal((await content.uploadBlob(bytes)).digest, sha256(bytes));
  });

  test("a bad digest rejects with INVALID_INPUT", async () => {
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("digest"));
    await assert.rejects(content.downloadBlobContent("sha256:nothex"), { name: "RestError", code: "INVALID_INPUT" });
  });

  test("a missing blob is a 404 RestError", async () => {
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("missing"));
    await assert.rejects(content.downloadBlob(sha256(new Uint8Array([42]))), (e) => {
      assert.equal(e.statusCode, 404);
      assert.ok(["BLOB_UNKNOWN", "NAME_UNKNOWN"].includes(e.code), e.code);
      return true;
    });
  });

  test("a download whose connection breaks halfway is resumed and verified", async () => {
    // The kit's fault proxy breaks GET 1, 3, ... of `broken-body` repositories halfway.
    const content = new ContainerRegistryContentClient(R.anonymous_broken_bodies, uniqueRepo("broken-body"));
    const bytes = pseudoRandom(2 * MiB + 3, 17);
    const { digest } = await content.uploadBlob(bytes);
    const { content: stream } = await content.downloadBlob(digest);
    assert.equal(sha256(await readAll(stream)), digest);
    const again = await content.downloadBlob(digest);
    assert.equal(sha256(await readAllByob(again.content)), digest);
    // GET 5 breaks too: read bare, it fails. This shows the breaks above really happened.
    const bare = await fetch(`${R.anonymous_broken_bodies}/v2/${content.repositoryName}/blobs/${digest}`);
    assert.equal(bare.status, 200);
    await assert.rejects(bare.arrayBuffer());
  });

  test("altered bytes are a DigestMismatchError, in downloads and in streams", async () => {
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("mismatch"));
    const { digest } = await content.uploadBlob(pseudoRandom(100_000, 13));
    const corrupt = async (entry, response) => {
      if (entry.method !== "GET" || !entry.url.includes("/blobs/sha256:")) return response;
      const bytes = new Uint8Array(await response.arrayBuffer());
      bytes[500] ^= 0xff;
      return new Response(bytes, { status: response.status, headers: response.headers });
    };
    await recordingFetches(async () => {
      await assert.rejects(content.downloadBlobContent(digest), (e) => {
        assert.ok(e instanceof Error);
        assert.equal(e.name, "DigestMismatchError");
        assert.equal(e.code, "DIGEST_MISMATCH");
        assert.deepEqual(e.details, []);
        return true;
      });
      const { content: stream } = await content.downloadBlob(digest);
      await assert.rejects(readAll(stream), { name: "DigestMismatchError", code: "DIGEST_MISMATCH" });
      const again = await content.downloadBlob(digest);
      await assert.rejects(readAllByob(again.content), { name: "DigestMismatchError", code: "DIGEST_MISMATCH" });
    }, { onResponse: corrupt });
  });
});

describe("aborts", () => {
  test("an aborted signal rejects with an AbortError before any request", async () => {
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("abort"));
    await recordingFetches(async (log) => {
      await assert.rejects(content.blobExists(sha256(new Uint8Array()), { abortSignal: AbortSignal.abort() }), {
        name: "AbortError",
        code: "ABORTED",
      });
      assert.equal(log.length, 0);
    });
  });

  test("a call whose AbortSignal.timeout() runs out rejects with a TimeoutError, not retried, also mid-stream", async () => {
    // A registry that never answers a HEAD, and stalls a GET after its first bytes.
    const server = http.createServer((request, response) => {
      if (request.method !== "GET") return;
      response.writeHead(200, { "content-length": String(MiB), "content-type": "application/octet-stream" });
      response.write(new Uint8Array(1000));
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const content = new ContainerRegistryContentClient(`http://127.0.0.1:${server.address().port}`, "any/repo");
    const digest = sha256(new Uint8Array(MiB));
    try {
      await recordingFetches(async (log) => {
        await assert.rejects(content.blobExists(digest, { abortSignal: AbortSignal.timeout(300) }), (e) => {
          assert.equal(e.name, "TimeoutError", e.message);
          assert.equal(e.code, "TIMEOUT");
          assert.match(e.message, /timed out \(AbortSignal\.timeout\)/);
          return true;
        });
        assert.equal(log.length, 1, "the caller's deadline is not retried");
        const { content: stream } = await content.downloadBlob(digest, { abortSignal: AbortSignal.timeout(500) });
        await assert.rejects(readAll(stream), { name: "TimeoutError", code: "TIMEOUT" });
        assert.equal(log.length, 2, "nor resumed");
      });
      // A plain abort keeps its name.
      await assert.rejects(content.blobExists(digest, { abortSignal: AbortSignal.abort() }), { name: "AbortError" });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test("an AbortSignalLike (not a native AbortSignal, as @azure/abort-controller 1.x makes) aborts too", async () => {
    // The shape Azure's options take: `aborted` and `addEventListener`.
    class LikeSignal {
      aborted = false;
      #listeners = [];
      addEventListener(_type, listener) { this.#listeners.push(listener); }
      removeEventListener(_type, listener) { this.#listeners = this.#listeners.filter((l) => l !== listener); }
      abort() { this.aborted = true; for (const l of this.#listeners) l(); }
    }
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("abort-like"));
    const done = new LikeSignal();
    done.abort();
    await assert.rejects(content.blobExists(sha256(new Uint8Array()), { abortSignal: done }), { name: "AbortError" });
    const later = new LikeSignal();
    await assert.rejects(
      content.uploadBlob(pseudoRandom(4 * MiB, 15), {
        chunkSizeInBytes: MiB,
        abortSignal: later,
        onProgress: (p) => { if (p.loadedBytes >= MiB) later.abort(); },
      }),
      { name: "AbortError", code: "ABORTED" },
    );
    // Not a signal at all: a TypeError saying what is accepted.
    await assert.rejects(content.blobExists(sha256(new Uint8Array()), { abortSignal: {} }),
      (e) => e instanceof TypeError && /AbortSignalLike/.test(e.message));
  });

  for (const [kind, url, credential] of [["anonymous", R.anonymous], ["token-auth", R.token, ALICE]]) {
    test(`aborting mid-upload cancels the registry's upload session (${kind})`, async () => {
      // On the token registry the DELETE needs a token of its own (delete scope), which must be
      // fetched after the abort too.
      const content = new ContainerRegistryContentClient(url, uniqueRepo("abort-upload"), credential);
      const controller = new AbortController();
      await recordingFetches(async (log) => {
        await assert.rejects(
          content.uploadBlob(pseudoRandom(6 * MiB, 14), {
            chunkSizeInBytes: MiB,
            abortSignal: controller.signal,
            onProgress: (p) => {
              if (p.loadedBytes >= 2 * MiB) controller.abort();
            },
          }),
          { name: "AbortError", code: "ABORTED" },
        );
        const patches = log.filter((e) => e.method === "PATCH");
        assert.ok(patches.length >= 2 && patches.length < 6, `${patches.length} PATCHes`);
        const cancel = log.filter((e) => e.method === "DELETE" && e.url.includes("/blobs/uploads/"));
        assert.equal(cancel.length, 1, JSON.stringify(log));
        assert.equal(cancel[0].status, 204);
        if (credential) return;
        // The session is gone: its URL answers 404 BLOB_UPLOAD_UNKNOWN.
        const answer = await fetch(cancel[0].url);
        assert.equal(answer.status, 404);
        assert.equal((await answer.json()).errors[0].code, "BLOB_UPLOAD_UNKNOWN");
      });
    });
  }

  test("an abort while getToken is pending ends the call at once; getToken is given the signal", async () => {
    let given;
    const credential = {
      getToken(scopes, options) {
        given = options?.abortSignal;
        return new Promise(() => {}); // an interactive sign-in nobody completes
      },
    };
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("abort-token"), credential, {
      tokenKind: "registry",
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    await assert.rejects(content.blobExists(sha256(new Uint8Array()), { abortSignal: controller.signal }), {
      name: "AbortError",
      code: "ABORTED",
    });
    assert.ok(Date.now() - started < 5000, "the call waited for getToken after the abort");
    assert.ok(given instanceof AbortSignal && given.aborted, "getToken was not given the call's signal");
  });

  test("an abort while the client waits out a Retry-After ends the wait at once", async () => {
    // A registry token from getToken: the retry the abort refuses must not ask for one.
    let tokensAsked = 0;
    const credential = {
      async getToken() {
        tokensAsked += 1;
        return { token: "a-registry-token", expiresOnTimestamp: Date.now() + 60_000 };
      },
    };
    const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("abort-wait"), credential, {
      tokenKind: "registry",
    });
    const controller = new AbortController();
    let answeredBusy = false;
    const busyOnce = (entry, response) => {
      if (answeredBusy) return response;
      answeredBusy = true;
      entry.status = 429;
      setTimeout(() => controller.abort(), 300);
      const body = JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] });
      return new Response(body, { status: 429, headers: { "Retry-After": "30", "Content-Type": "application/json" } });
    };
    await recordingFetches(async (log) => {
      const started = Date.now();
      await assert.rejects(content.blobExists(sha256(new Uint8Array()), { abortSignal: controller.signal }), {
        name: "AbortError",
        code: "ABORTED",
      });
      const waited = Date.now() - started;
      assert.ok(waited < 10_000, `the abort ended the 30 s wait only after ${waited} ms`);
      assert.equal(log.length, 1, `no retry after the abort: ${JSON.stringify(log)}`);
      assert.equal(tokensAsked, 1, "getToken was asked again for a retry refused as aborted");
    }, { onResponse: busyOnce });
  });

  test("concurrent calls on one client keep their own signals", async () => {
    const repo = uniqueRepo("concurrent");
    const content = new ContainerRegistryContentClient(R.anonymous, repo);
    const controller = new AbortController();
    const bytes = pseudoRandom(4 * MiB, 15);
    const doomed = content.uploadBlob(pseudoRandom(4 * MiB, 16), {
      chunkSizeInBytes: MiB,
      abortSignal: controller.signal,
      onProgress: () => controller.abort(),
    });
    const fine = content.uploadBlob(bytes, { chunkSizeInBytes: MiB, abortSignal: new AbortController().signal });
    const plain = content.uploadBlob(bytes, { chunkSizeInBytes: MiB });
    await assert.rejects(doomed, { name: "AbortError" });
    assert.equal((await fine).digest, sha256(bytes));
    assert.equal((await plain).digest, sha256(bytes));
  });
});

test("freeing a client mid-call leaves the call running", async () => {
  const content = new ContainerRegistryContentClient(R.anonymous, uniqueRepo("free"));
  const bytes = pseudoRandom(MiB, 17);
  const pending = content.uploadBlob(bytes);
  content.free();
  assert.equal((await pending).digest, sha256(bytes));
  const client = new ContainerRegistryClient(R.anonymous);
  const names = client.listRepositoryNames();
  client.free();
  assert.equal(typeof (await names.next()).value, "string");
});

describe("Azure Container Registry (the kit's emulator)", { skip: R.acr ? false : "the test kit serves no ACR emulator (no \"acr\" in its JSON line)" }, () => {
  const aad = (who) => ({
    asked: [],
    async getToken(scopes) {
      this.asked.push(scopes);
      return { token: R.acr_auth.aad_tokens[who], expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  });

  test("without tokenKind, a getToken credential is taken for AAD when the challenge is ACR's", async () => {
    // The emulator's host (127.0.0.1) does not say ACR, as a same-origin proxy's would not:
    // its challenge names /oauth2/token on its own origin.
    const credential = aad("owner");
    const content = new ContainerRegistryContentClient(R.acr, uniqueRepo("acr-guess"), credential);
    const { digest } = await content.uploadBlob(pseudoRandom(2500, 23));
    assert.equal(await content.blobExists(digest), true);
    assert.deepEqual(credential.asked, [["https://containerregistry.azure.net/.default"]]);
  });

  test("an AAD credential pushes, reads and changes properties, lists in order, deletes", async () => {
    const credential = aad("owner");
    const repo = uniqueRepo("acr");
    const options = { tokenKind: "aad" };
    const content = new ContainerRegistryContentClient(R.acr, repo, credential, options);
    const client = new ContainerRegistryClient(R.acr, credential, options);
    const first = await pushImage(content, "v1");
    const second = await pushImage(content, "v2", pseudoRandom(2000, 21));
    assert.deepEqual(credential.asked[0], ["https://containerregistry.azure.net/.default"]);

    const names = [];
    for await (const name of client.listRepositoryNames()) names.push(name);
    assert.ok(names.includes(repo), names.join(", "));

    const repository = client.getRepository(repo);
    const props = await repository.getProperties();
    assert.equal(props.name, repo);
    assert.ok(props.createdOn instanceof Date && props.lastUpdatedOn instanceof Date);
    assert.equal(props.tagCount, 2);
    const locked = await repository.updateProperties({ canWrite: false });
    assert.equal(locked.canWrite, false);
    await repository.updateProperties({ canWrite: true });

    const artifact = repository.getArtifact("v1");
    const manifest = await artifact.getManifestProperties();
    assert.equal(manifest.digest, first.digest);
    assert.equal(manifest.repositoryName, repo);
    assert.deepEqual(manifest.tags, ["v1"]);
    const manifestLocked = await artifact.updateManifestProperties({ canDelete: false });
    assert.equal(manifestLocked.canDelete, false);
    await artifact.updateManifestProperties({ canDelete: true });

    const tag = await artifact.getTagProperties("v1");
    assert.equal(tag.digest, first.digest);
    // The login server is the one ACR's answers name (behind a proxy, ACR's host, not the
    // proxy's), as the Azure SDKs take it: here the answers are given another name on the way.
    assert.equal(manifest.registryLoginServer, new URL(R.acr).host);
    await recordingFetches(async () => {
      assert.equal((await artifact.getManifestProperties()).registryLoginServer, "myregistry.azurecr.io");
      assert.equal((await artifact.getTagProperties("v1")).registryLoginServer, "myregistry.azurecr.io");
      for await (const t of artifact.listTagProperties()) assert.equal(t.registryLoginServer, "myregistry.azurecr.io");
      for await (const m of repository.listManifestProperties()) assert.equal(m.registryLoginServer, "myregistry.azurecr.io");
    }, {
      onResponse: async (entry, response) => {
        if (!new URL(entry.url).pathname.startsWith("/acr/v1/") || entry.status !== 200) return response;
        const body = await response.json();
        body.registry = "myregistry.azurecr.io";
        const headers = new Headers(response.headers);
        headers.delete("content-length");
        return new Response(JSON.stringify(body), { status: 200, headers });
      },
    });
    const tagLocked = await artifact.updateTagProperties("v1", { canDelete: false, canWrite: false });
    assert.equal(tagLocked.canDelete, false);
    assert.equal(tagLocked.canWrite, false);
    await artifact.updateTagProperties("v1", { canDelete: true, canWrite: true });
    const tags = [];
    for await (const t of artifact.listTagProperties({ order: "LastUpdatedOnDescending" })) tags.push(t.name);
    assert.deepEqual(tags, ["v1"]);

    const ordered = [];
    for await (const m of repository.listManifestProperties({ order: "LastUpdatedOnAscending" })) ordered.push(m.digest);
    assert.deepEqual(ordered.filter((d) => d === first.digest || d === second.digest), [first.digest, second.digest]);
    // An order the API does not know is refused, not listed in no order.
    assert.throws(() => repository.listManifestProperties({ order: "Newest" }),
      (e) => e instanceof TypeError && /order must be "LastUpdatedOnDescending"/.test(e.message));

    await repository.getArtifact("v2").deleteTag("v2");
    await assert.rejects(repository.getArtifact("v2").getTagProperties("v2"), { statusCode: 404 });
    await client.deleteRepository(repo);
    await assert.rejects(repository.getProperties(), { statusCode: 404 });
  });

  test("a pull-only identity may read but not push", async () => {
    const owner = new ContainerRegistryContentClient(R.acr, uniqueRepo("acr-reader"), aad("owner"), { tokenKind: "aad" });
    const { digest } = await owner.uploadBlob(pseudoRandom(1000, 22));
    const reader = new ContainerRegistryContentClient(R.acr, owner.repositoryName, aad("reader"), { tokenKind: "aad" });
    assert.equal(sha256(await reader.downloadBlobContent(digest)), digest);
    await assert.rejects(reader.uploadBlob(new Uint8Array([1])), (e) => {
      assert.equal(e.name, "RestError");
      // The registry refuses the push scope: 401, as the Azure SDK reports it.
      assert.equal(e.statusCode, 401, `${e.code} ${e.statusCode}: ${e.message}`);
      return true;
    });
  });

  test("the admin user's username and password work too", async () => {
    const { username, password } = R.acr_auth.admin;
    const content = new ContainerRegistryContentClient(R.acr, uniqueRepo("acr-admin"), { username, password });
    const { digest } = await content.uploadBlob(pseudoRandom(1500, 23));
    assert.equal(await content.blobExists(digest), true);
  });
});
