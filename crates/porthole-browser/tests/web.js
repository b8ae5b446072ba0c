// JS helpers of tests/web.rs, in one module. The page of wasm-bindgen-test-runner 0.2.129 loads
// each `inline_js` snippet in a request of its own, and its server (tiny_http 0.12) can queue a
// new connection behind pool threads that idle keep-alive connections hold: with six snippets
// the page's load stalled for good (chromedriver: "Timed out receiving message from renderer")
// in two of five runs, with four connections served and a fifth never read. One module keeps
// the page to a few requests (10 of 10 runs passed).

// mode: "count" passes every call through; "lie" hashes other bytes once, then removes
// itself; "refuse" rejects every call, as an engine without the algorithm does.
function spy(mode) {
  const subtle = globalThis.crypto.subtle;
  const original = Object.getPrototypeOf(subtle).digest;
  const counter = { calls: 0, algorithms: [], count() { return this.calls; },
    algorithm_list() { return this.algorithms.join(","); },
    restore() { delete subtle.digest; } };
  subtle.digest = function (algorithm, data) {
    counter.calls += 1;
    counter.algorithms.push(String(algorithm));
    if (mode === "refuse") {
      return Promise.reject(new DOMException("Unrecognized algorithm name", "NotSupportedError"));
    }
    if (mode === "lie") {
      delete subtle.digest;
      data = new TextEncoder().encode("other bytes");
    }
    return original.call(subtle, algorithm, data);
  };
  return counter;
}
export function count_webcrypto_digests() { return spy("count"); }
export function lie_in_next_webcrypto_digest() { return spy("lie"); }
export function refuse_webcrypto_digests() { return spy("refuse"); }

export function hide_webcrypto() {
  Object.defineProperty(globalThis.crypto, "subtle", { value: undefined, configurable: true });
}
export function show_webcrypto() { delete globalThis.crypto.subtle; }

let original;
export function plain_stream(bytes) {
  const copy = bytes.slice();
  return new ReadableStream({ start(c) { c.enqueue(copy); c.close(); } });
}
// A default stream of views into one shared copy of `bytes`, `piece` bytes each (as a producer
// that reuses one buffer enqueues them).
export function stream_of_views(bytes, piece) {
  const shared = bytes.slice();
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= shared.length) return c.close();
      c.enqueue(shared.subarray(at, Math.min(at + piece, shared.length)));
      at += piece;
    },
  });
}
export function refuse_byte_streams() {
  original = globalThis.ReadableStream;
  globalThis.ReadableStream = class extends original {
    constructor(source, strategy) {
      if (source && source.type === "bytes") throw new RangeError("no byte streams here");
      super(source, strategy);
    }
  };
}
export function restore_byte_streams() { globalThis.ReadableStream = original; }

export function response_announcing(bytes, length) {
  return new Response(bytes.slice(), { headers: { "content-length": String(length) } });
}

export function breaking_response(bytes, keep) {
  let sent = false;
  const body = new ReadableStream({
    pull(controller) {
      if (sent) {
        controller.error(new TypeError("the test broke this body"));
        return;
      }
      sent = true;
      controller.enqueue(bytes.slice(0, keep));
    },
  });
  return new Response(body, { headers: { "content-length": String(bytes.length) } });
}

export function stalling_response(bytes) {
  const stalling = { cancelled: false };
  let sent = false;
  const body = new ReadableStream({
    pull(controller) {
      if (sent) return new Promise(() => {});
      sent = true;
      controller.enqueue(bytes.slice());
    },
    cancel() { stalling.cancelled = true; },
  });
  stalling.response = new Response(body);
  return stalling;
}

// `Blob.prototype.arrayBuffer` rejecting (a file deleted or changed on disk after it was picked)
// or giving `short_by` bytes fewer, until `restore`.
export function break_blob_reads(short_by) {
  const proto = Blob.prototype;
  const original = proto.arrayBuffer;
  proto.arrayBuffer = function () {
    if (short_by === 0) {
      return Promise.reject(new DOMException("A requested file or directory could not be found",
        "NotFoundError"));
    }
    return original.call(this).then(buffer => buffer.slice(0, buffer.byteLength - short_by));
  };
  return { restore() { proto.arrayBuffer = original; } };
}

// `Blob.prototype.arrayBuffer` refusing with a RangeError, as an engine without the memory for
// the whole file does, until `restore`; slices still read through their streams.
export function refuse_whole_blob_reads() {
  const proto = Blob.prototype;
  const original = proto.arrayBuffer;
  let refused = 0;
  proto.arrayBuffer = function () {
    refused += 1;
    return Promise.reject(new RangeError("Array buffer allocation failed"));
  };
  return { restore() { proto.arrayBuffer = original; }, refused() { return refused; } };
}

// `new Uint8Array(length)` throwing a RangeError, as an engine out of memory does, until
// `restore`; every other use of Uint8Array (views, instanceof) keeps working.
export function refuse_byte_arrays_of(length) {
  const original = globalThis.Uint8Array;
  globalThis.Uint8Array = new Proxy(original, {
    construct(target, args, newTarget) {
      if (args[0] === length) throw new RangeError("Array buffer allocation failed");
      return Reflect.construct(target, args, newTarget === globalThis.Uint8Array ? target : newTarget);
    },
  });
  return { restore() { globalThis.Uint8Array = original; } };
}

// Records the signal of every `fetch` until `restore`.
export function spy_on_fetch() {
  const original = globalThis.fetch;
  const spy = {
    signals: [],
    urls: [],
    count() { return this.signals.length; },
    count_to(prefix) { return this.urls.filter((u) => u.startsWith(prefix)).length; },
    aborted(i) { return Boolean(this.signals[i]?.aborted); },
    restore() { globalThis.fetch = original; },
  };
  globalThis.fetch = function (input, init) {
    spy.signals.push(init?.signal);
    spy.urls.push(String(input));
    return original.call(this, input, init);
  };
  return spy;
}

// `fetch` to a URL starting with `prefix` waits until `release()` (a slow token server), until
// `restore`; later ones go out at once after the release.
export function hold_fetches_to(prefix) {
  const original = globalThis.fetch;
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const hold = {
    count: 0,
    held() { return this.count; },
    release() { release(); },
    restore() { globalThis.fetch = original; },
  };
  globalThis.fetch = async function (input, init) {
    if (String(input).startsWith(prefix)) {
      hold.count += 1;
      await gate;
    }
    return original.call(this, input, init);
  };
  return hold;
}

// `fetch` rejecting every PATCH as a lost connection (or a CORS block) does, until `restore`.
export function reject_patches() {
  const original = globalThis.fetch;
  globalThis.fetch = function (input, init) {
    if (init?.method === "PATCH") return Promise.reject(new TypeError("Failed to fetch"));
    return original.call(this, input, init);
  };
  return { restore() { globalThis.fetch = original; } };
}

// A message posted now on a channel of its own: `delivered()` says whether the event loop has
// run its task yet (tasks of posted messages run in the order they were posted).
export function message_posted_now() {
  const channel = new MessageChannel();
  let delivered = false;
  channel.port1.onmessage = () => { delivered = true; channel.port1.close(); };
  channel.port2.postMessage(null);
  return { delivered() { return delivered; } };
}

// Takes `AbortSignal.any` away, as on engines before Chrome 116, Firefox 124 and Safari 17.4,
// until `restore`.
export function hide_abort_signal_any() {
  const original = Object.getOwnPropertyDescriptor(AbortSignal, "any");
  delete AbortSignal.any;
  return { restore() { Object.defineProperty(AbortSignal, "any", original); } };
}

// Counts the "abort" listeners added to `signal` and not removed yet.
export function count_abort_listeners(signal) {
  const live = new Set();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (type, listener, options) => {
    if (type === "abort") live.add(listener);
    add(type, listener, options);
  };
  signal.removeEventListener = (type, listener, options) => {
    if (type === "abort") live.delete(listener);
    remove(type, listener, options);
  };
  return { live() { return live.size; } };
}
