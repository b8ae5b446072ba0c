// Helpers the Rust side of Porthole's npm package imports (wasm-bindgen copies this file into
// the package's snippets/ folder). Kept small: everything else is Rust.

const DATE_KEYS = new Set(["createdOn", "lastUpdatedOn"]);

/** JSON.parse whose reviver turns ACR's timestamps into Dates (Azure SDK shapes). */
export function fromJson(text) {
  return JSON.parse(text, (key, value) =>
    DATE_KEYS.has(key) && typeof value === "string" ? new Date(value) : value,
  );
}

/**
 * The Azure SDK's PagedAsyncIterableIterator over a pager whose fetchPage(token, size) resolves
 * to { items, continuationToken }: iterate items with for await, or pages with byPage().
 */
export function pagedIterator(pager) {
  function byPage(settings = {}) {
    let token = settings.continuationToken;
    const size = settings.maxPageSize;
    let done = false;
    // Tokens already followed: a registry whose pages link back (A → B → A) would be listed for
    // ever.
    const followed = new Set(token === undefined ? [] : [token]);
    // The page before, as text: the same items again under a new token end the listing.
    let previous;
    return {
      next: oneAtATime(async () => {
        if (done) return { done: true, value: undefined };
        const page = await pager.fetchPage(token, size);
        const text = page.items.length > 0 ? JSON.stringify(page.items) : undefined;
        if (text !== undefined && text === previous) {
          done = true;
          return { done: true, value: undefined };
        }
        previous = text;
        // A token already followed: the same again is a registry that ignored it and sent the
        // page it was asked past (one that does not page, when Link is hidden cross-origin);
        // an older one, a loop. Either way nothing new is left.
        if (page.continuationToken && followed.has(page.continuationToken)) {
          done = true;
          if (page.continuationToken === token) return { done: true, value: undefined };
          page.continuationToken = undefined;
        }
        if (page.continuationToken) followed.add(page.continuationToken);
        const items = page.items;
        items.continuationToken = page.continuationToken;
        done = !page.continuationToken;
        token = page.continuationToken;
        return { done: false, value: items };
      }),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
  let pages;
  let buffer = [];
  let at = 0;
  return {
    next: oneAtATime(async () => {
      pages ??= byPage();
      // Empty pages may come between full ones (items filtered out page by page), but a
      // registry that links on through empty pages without end ends the iteration.
      let empty = 0;
      while (at >= buffer.length) {
        if (empty >= 1000) return { done: true, value: undefined };
        const step = await pages.next();
        if (step.done) return step;
        buffer = step.value;
        at = 0;
        empty = buffer.length === 0 ? empty + 1 : 0;
      }
      return { done: false, value: buffer[at++] };
    }),
    [Symbol.asyncIterator]() {
      return this;
    },
    byPage,
  };
}

/**
 * `step` run one call after the other: calls made before the previous one settled wait their
 * turn (as an async generator's do), so concurrent next() calls neither fetch the same page
 * twice nor hand out the same item twice.
 */
function oneAtATime(step) {
  let previous = Promise.resolve();
  return function () {
    const run = previous.then(() => step());
    previous = run.catch(() => {});
    return run;
  };
}

/**
 * A native AbortSignal that follows `value`, an AbortSignalLike (an object with `aborted` and
 * `addEventListener`, such as the signals of @azure/abort-controller 1.x that Azure samples
 * use); `value` itself when it is a native signal or anything else (refused by the caller).
 */
export function nativeAbortSignal(value) {
  if (value instanceof AbortSignal) return value;
  if (value == null || typeof value.aborted !== "boolean" || typeof value.addEventListener !== "function") {
    return value;
  }
  const controller = new AbortController();
  const abort = () => controller.abort(value.reason ?? new DOMException("The operation was aborted.", "AbortError"));
  if (value.aborted) abort();
  else value.addEventListener("abort", abort, { once: true });
  return controller.signal;
}

/** The error name for a Porthole error code. */
export function errorName(code) {
  if (code === "DIGEST_MISMATCH") return "DigestMismatchError";
  if (code === "ABORTED") return "AbortError";
  if (code === "TIMEOUT") return "TimeoutError";
  return "RestError";
}

/**
 * A ReadableStream over an async iterable of byte chunks that is not one already (a Node
 * Readable such as fs.createReadStream, an async generator), or null. It pulls one item per read
 * (nothing ahead). Cancelling it destroys a Readable at once, even one waiting for data (its
 * iterator's return() would wait for that data); other iterators are ended with return().
 */
export function streamOfIterable(value) {
  if (value == null || typeof value[Symbol.asyncIterator] !== "function") return null;
  if (value instanceof ReadableStream) return null;
  const iterator = value[Symbol.asyncIterator]();
  return new ReadableStream(
    {
      async pull(controller) {
        const { done, value: chunk } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(chunk);
      },
      cancel(reason) {
        if (typeof value.destroy === "function") value.destroy();
        else return iterator.return?.(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A Blob over bytes (an ArrayBuffer or a typed array). */
export function bytesToBlob(bytes) {
  return new Blob([bytesOf(bytes, "the content")]);
}

// The bytes of an ArrayBuffer or of any view on one, as a Uint8Array over the same memory. A
// buffer that was transferred (postMessage, structuredClone, ArrayBuffer.transfer) is detached:
// it reads as empty, so it is refused here with what happened instead of sent as nothing.
export function bytesOf(value, what) {
  const view = ArrayBuffer.isView(value);
  // `new Uint8Array("text")` is an empty array, not the text's bytes: refuse what is no object.
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${what} must be bytes (an ArrayBuffer or a typed array), not ${value === null ? "null" : typeof value}`);
  }
  const buffer = view ? value.buffer : value;
  try {
    new Uint8Array(buffer, 0, 0);
  } catch {
    throw new TypeError(`${what} is over an ArrayBuffer that was transferred or detached, so its ` +
      "bytes are gone; pass the bytes before transferring them, or a copy");
  }
  return view ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value);
}

/**
 * The bytes of a ReadableStream or an async iterable of byte chunks (a Node Readable), read
 * whole; null for anything else. More than `limit` bytes is refused (the stream cancelled).
 */
export async function readWhole(value, limit, what) {
  const stream = value instanceof ReadableStream ? value : streamOfIterable(value);
  if (!stream) return null;
  const chunks = [];
  let length = 0;
  for await (const chunk of stream) {
    // A text stream (a Node stream read with an encoding) gives strings: their UTF-8 bytes.
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : bytesOf(chunk, what);
    length += bytes.byteLength;
    if (length > limit) {
      await stream.cancel().catch(() => {});
      throw new RangeError(`${what} is larger than ${limit} bytes`);
    }
    chunks.push(bytes.slice());
  }
  const whole = new Uint8Array(length);
  let at = 0;
  for (const bytes of chunks) {
    whole.set(bytes, at);
    at += bytes.byteLength;
  }
  return whole;
}

/** `promise`, rejected with the signal's reason as soon as `signal` aborts. */
export function untilAborted(promise, signal) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
