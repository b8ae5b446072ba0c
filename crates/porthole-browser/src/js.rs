//! Bindings to the global scope that work in a window and in a web worker alike.

use js_sys::{Function, Promise, Reflect};
use porthole_core::{Digest, DigestAlgorithm};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (WindowOrWorkerGlobalScope), bound as a free function so it resolves
    /// on `globalThis` in windows and workers.
    #[wasm_bindgen(js_name = fetch)]
    pub(crate) fn global_fetch(input: &str, init: &web_sys::RequestInit) -> Promise;

    /// The global `setTimeout`.
    #[wasm_bindgen(js_name = setTimeout)]
    fn global_set_timeout(handler: &Function, millis: i32) -> JsValue;

    /// The global `clearTimeout`.
    #[wasm_bindgen(js_name = clearTimeout)]
    fn global_clear_timeout(timer: &JsValue);
}

#[wasm_bindgen(inline_js = "export function ignore_rejection(p) { p.catch(() => {}); }")]
extern "C" {
    /// Marks a promise's rejection as handled.
    #[wasm_bindgen(js_name = ignore_rejection)]
    fn ignore_rejection_js(promise: &Promise);
}

/// Lets `promise` reject without an "uncaught (in promise)" error: for the promise of a
/// `cancel()` whose outcome does not matter (a stream that has errored rejects its cancel with
/// that error, which would otherwise surface as the page's error a second time).
pub fn ignore_rejection(promise: &Promise) {
    ignore_rejection_js(promise);
}

/// `stream.getReader(options)`, catching what it throws: `{ mode: "byob" }` throws a
/// `TypeError` on a stream that is not a byte stream, and web-sys's binding does not catch.
pub(crate) fn try_get_reader(stream: &JsValue, options: &JsValue) -> Result<JsValue, JsValue> {
    let get_reader: Function = Reflect::get(stream, &JsValue::from_str("getReader"))?.dyn_into()?;
    get_reader.call1(stream, options)
}

/// `AbortSignal.any([a, b])`: a signal that aborts when either does; `None` where the engine
/// lacks it.
pub(crate) fn any_signal(
    a: &web_sys::AbortSignal,
    b: &web_sys::AbortSignal,
) -> Option<web_sys::AbortSignal> {
    let class = Reflect::get(&js_sys::global(), &JsValue::from_str("AbortSignal")).ok()?;
    let any: Function = Reflect::get(&class, &JsValue::from_str("any"))
        .ok()?
        .dyn_into()
        .ok()?;
    any.call1(&class, &js_sys::Array::of2(a, b))
        .ok()?
        .dyn_into()
        .ok()
}

/// `reader.releaseLock()`, whatever it throws.
pub(crate) fn release_lock(reader: &JsValue) {
    let release = Reflect::get(reader, &JsValue::from_str("releaseLock"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    if let Some(release) = release {
        let _ = release.call0(reader);
    }
}

/// The bytes under an `ArrayBuffer` view of any kind (a `DataView`, an `Int16Array`), not copied:
/// `new Uint8Array(view.buffer, view.byteOffset, view.byteLength)`; `None` for anything else,
/// and for a view whose buffer was detached (see [`is_detached`]).
pub(crate) fn view_bytes(view: &JsValue) -> Option<js_sys::Uint8Array> {
    let get = |key: &str| Reflect::get(view, &JsValue::from_str(key)).ok();
    // An `ArrayBuffer` or a `SharedArrayBuffer`.
    let buffer = get("buffer").filter(JsValue::is_object)?;
    let offset = get("byteOffset")?;
    let length = get("byteLength")?;
    try_new_uint8array(&js_sys::Array::of3(&buffer, &offset, &length))
}

/// `new Uint8Array(...args)`, or `None` when it throws: a `RangeError` when the engine cannot
/// allocate, a `TypeError` on a detached buffer (js-sys's constructors do not catch).
fn try_new_uint8array(args: &js_sys::Array) -> Option<js_sys::Uint8Array> {
    let constructor: Function = Reflect::get(&js_sys::global(), &JsValue::from_str("Uint8Array"))
        .ok()?
        .dyn_into()
        .ok()?;
    Reflect::construct(&constructor, args).ok()?.dyn_into().ok()
}

/// `new Uint8Array(buffer)` over an `ArrayBuffer`, not copied; `None` when it is detached.
pub(crate) fn buffer_bytes(buffer: &JsValue) -> Option<js_sys::Uint8Array> {
    try_new_uint8array(&js_sys::Array::of1(buffer))
}

/// Whether `buffer` (an `ArrayBuffer`) was detached: transferred elsewhere (`postMessage`,
/// `structuredClone`, `ArrayBuffer.prototype.transfer`), so its bytes are gone and it reads as
/// empty. Any engine refuses a view on it, which is how this tells.
pub(crate) fn is_detached(buffer: &JsValue) -> bool {
    let zero = JsValue::from_f64(0.0);
    try_new_uint8array(&js_sys::Array::of3(buffer, &zero, &zero)).is_none()
}

/// WebCrypto (`crypto.subtle`) where this scope has it and it can hash `algorithm`: a window
/// or worker in a secure context (HTTPS, or `localhost`), Node 20+; SHA-256 and SHA-512. `None`
/// elsewhere (a page served over plain HTTP from another host).
pub(crate) fn webcrypto_for(algorithm: &DigestAlgorithm) -> Option<WebCrypto> {
    let name = match algorithm {
        DigestAlgorithm::Sha256 => "SHA-256",
        DigestAlgorithm::Sha512 => "SHA-512",
        _ => return None,
    };
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok()?;
    let subtle = Reflect::get(&crypto, &JsValue::from_str("subtle"))
        .ok()
        .filter(JsValue::is_object)?;
    Some(WebCrypto {
        subtle,
        algorithm: algorithm.clone(),
        name,
    })
}

/// WebCrypto, ready to hash with one algorithm ([`webcrypto_for`]).
pub(crate) struct WebCrypto {
    subtle: JsValue,
    algorithm: DigestAlgorithm,
    name: &'static str,
}

impl WebCrypto {
    /// The digest of `data` (any `BufferSource`), from `subtle.digest`; `None` when WebCrypto
    /// refused or gave a hash of the wrong length: the caller then hashes in wasm.
    pub(crate) async fn digest(&self, data: &JsValue) -> Option<Digest> {
        let digest: Function = Reflect::get(&self.subtle, &JsValue::from_str("digest"))
            .ok()?
            .dyn_into()
            .ok()?;
        let promise: Promise = digest
            .call2(&self.subtle, &JsValue::from_str(self.name), data)
            .ok()?
            .dyn_into()
            .ok()?;
        let hash = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
        Digest::from_hash(&self.algorithm, &js_sys::Uint8Array::new(&hash).to_vec())
    }
}

/// A new zeroed `Uint8Array` of `len` bytes, or `None` when the engine cannot allocate it (a
/// thrown `RangeError` caught here rather than unwinding through wasm).
pub(crate) fn try_new_bytes(len: u32) -> Option<js_sys::Uint8Array> {
    try_new_uint8array(&js_sys::Array::of1(&JsValue::from_f64(f64::from(len))))
}

/// Whether the engine applies CORS to this code's requests: a window or a worker (even with an
/// opaque origin, `"null"`) has an `origin`; Node and other server runtimes have none and do
/// not apply CORS.
pub(crate) fn applies_cors() -> bool {
    Reflect::get(&js_sys::global(), &JsValue::from_str("origin"))
        .ok()
        .is_some_and(|v| v.is_string())
}

/// The origin of the page or worker (`globalThis.origin`), e.g. `http://127.0.0.1:8080`.
pub(crate) fn page_origin() -> Option<String> {
    Reflect::get(&js_sys::global(), &JsValue::from_str("origin"))
        .ok()
        .and_then(|v| v.as_string())
        .filter(|o| o != "null")
}

/// The origin of `url` as the browser computes it (default ports dropped, host lowercased).
pub(crate) fn origin_of(url: &str) -> Option<String> {
    web_sys::Url::new(url).ok().map(|u| u.origin())
}

/// Resolves after `millis` milliseconds (clamped to what `setTimeout` accepts), or as soon as
/// `signal` aborts (at once if it already has): a wait between retries (a registry's
/// `Retry-After` may ask for 30 s) must not hold an operation the caller has given up on, whose
/// next request then fails as aborted.
///
/// A wait of 0 is a yield to the event loop, which an abort does not skip (a loop that yields
/// between pieces of work, hashing a stream's chunk, would otherwise run them all in one go): in
/// a page, through a `MessageChannel`, because the timers of a hidden tab are throttled to one a
/// second and a long upload in a background tab yields often.
pub(crate) async fn sleep(millis: u64, signal: Option<&web_sys::AbortSignal>) {
    if millis == 0 && yield_by_message().await {
        return;
    }
    let signal = signal.filter(|_| millis > 0);
    if signal.is_some_and(web_sys::AbortSignal::aborted) {
        return;
    }
    let millis = i32::try_from(millis).unwrap_or(i32::MAX);
    let mut wait = TimedWait {
        signal: signal.cloned(),
        wake: None,
        timer: JsValue::UNDEFINED,
    };
    let promise = Promise::new(&mut |resolve, _reject| {
        wait.timer = global_set_timeout(&resolve, millis);
        if let Some(signal) = &wait.signal {
            let _ = signal.add_event_listener_with_callback("abort", &resolve);
        }
        wait.wake = Some(resolve);
    });
    // Neither the timer nor the listener rejects.
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// The timer and the abort listener of one [`sleep`], both removed when the wait ends (or its
/// future is dropped), so a long-lived signal does not collect listeners.
struct TimedWait {
    signal: Option<web_sys::AbortSignal>,
    wake: Option<Function>,
    timer: JsValue,
}

impl Drop for TimedWait {
    fn drop(&mut self) {
        global_clear_timeout(&self.timer);
        if let (Some(signal), Some(wake)) = (&self.signal, &self.wake) {
            let _ = signal.remove_event_listener_with_callback("abort", wake);
        }
        // The promise is settled even when the wait was cut short (a race that something else
        // won): a `JsFuture` over a promise that never settles keeps its callbacks, and the
        // state they hold, for ever; a download racing every read against a timer leaked
        // that much per read.
        if let Some(wake) = &self.wake {
            let _ = wake.call0(&JsValue::UNDEFINED);
        }
    }
}

/// The `name` and `message` of a thrown JS value (an `Error`, a `DOMException` or anything else).
pub(crate) fn describe(value: &JsValue) -> (String, String) {
    let get = |key: &str| {
        Reflect::get(value, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    };
    if value.is_object() {
        let name = get("name").unwrap_or_default();
        let message = get("message").unwrap_or_default();
        if !name.is_empty() || !message.is_empty() {
            return (name, message);
        }
    }
    let text = value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Object>()
                .map(|o| o.to_string().into())
        })
        .unwrap_or_else(|| format!("{value:?}"));
    (String::new(), text)
}

/// A JS `Error` for a Porthole error: `name` is `PortholeError`, `message` the full explanation,
/// `code` the stable code ([`porthole_core::Error::code`]) and `statusCode` the HTTP status when
/// the registry answered.
pub fn error_to_js(error: &porthole_core::Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("PortholeError");
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
    if let Some(status) = error.status() {
        let _ = Reflect::set(&js, &"statusCode".into(), &status.into());
    }
    js.into()
}

/// Yields to the event loop with a message to itself where there is a document (not in Node,
/// where an open port would keep the process alive, nor in workers); false when it did not.
async fn yield_by_message() -> bool {
    let in_page = Reflect::get(&js_sys::global(), &JsValue::from_str("document"))
        .is_ok_and(|d| !d.is_undefined());
    if !in_page {
        return false;
    }
    let Ok(channel) = web_sys::MessageChannel::new() else {
        return false;
    };
    let delivered = Promise::new(&mut |resolve, _reject| {
        channel.port1().set_onmessage(Some(&resolve));
    });
    if channel.port2().post_message(&JsValue::UNDEFINED).is_err() {
        return false;
    }
    let _ = wasm_bindgen_futures::JsFuture::from(delivered).await;
    channel.port1().close();
    channel.port2().close();
    true
}
