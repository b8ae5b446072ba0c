//! The JS helpers in `js/helpers.js`, and conversions between JSON values and JS values.

use js_sys::Reflect;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/helpers.js")]
extern "C" {
    /// `JSON.parse` with ACR timestamps revived as `Date`s.
    #[wasm_bindgen(js_name = fromJson, catch)]
    fn from_json(text: &str) -> Result<JsValue, JsValue>;

    /// The Azure paged iterator over a pager object with `fetchPage(token, size)`.
    #[wasm_bindgen(js_name = pagedIterator)]
    pub(crate) fn paged_iterator(pager: JsValue) -> JsValue;

    /// The error name for a code.
    #[wasm_bindgen(js_name = errorName)]
    pub(crate) fn error_name(code: &str) -> String;

    /// A native `AbortSignal` for an `AbortSignalLike` (Azure's `@azure/abort-controller`
    /// signals); the value itself for anything else.
    #[wasm_bindgen(js_name = nativeAbortSignal)]
    pub(crate) fn native_abort_signal(value: &JsValue) -> JsValue;

    /// A `ReadableStream` over an async iterable of byte chunks (a Node `Readable`), or `null`
    /// for anything else.
    #[wasm_bindgen(js_name = streamOfIterable, catch)]
    pub(crate) fn stream_of_iterable(value: &JsValue) -> Result<JsValue, JsValue>;

    /// The bytes of a `ReadableStream` or async iterable, read whole (at most `limit` bytes),
    /// or `null` for anything else.
    #[wasm_bindgen(js_name = readWhole)]
    pub(crate) fn read_whole(value: &JsValue, limit: f64, what: &str) -> js_sys::Promise;

    /// A `Blob` over an `ArrayBuffer` or typed array; a `TypeError` for a detached one.
    #[wasm_bindgen(js_name = bytesToBlob, catch)]
    pub(crate) fn bytes_to_blob(bytes: &JsValue) -> Result<web_sys::Blob, JsValue>;

    /// The bytes of an `ArrayBuffer` or view (not copied); a `TypeError` naming `what` for a
    /// detached one.
    #[wasm_bindgen(js_name = bytesOf, catch)]
    pub(crate) fn bytes_of(value: &JsValue, what: &str) -> Result<js_sys::Uint8Array, JsValue>;
}

/// A Rust value as a plain JS value (through JSON; ACR dates become `Date`s).
pub(crate) fn to_js<T: Serialize>(value: &T) -> JsValue {
    let text = serde_json::to_string(value).expect("the package's result types serialize");
    from_json(&text).expect("serde_json writes valid JSON")
}

/// A JS options bag as a Rust value: `undefined` and `null` give the defaults. Functions and
/// `AbortSignal`s are skipped by `JSON.stringify` and read separately by name.
pub(crate) fn from_js<T: DeserializeOwned + Default>(
    value: &JsValue,
    what: &str,
) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    if !value.is_object() {
        return Err(type_error(&format!("{what} must be an object")));
    }
    let text = json_text(value)
        .map_err(|cause| type_error(&format!("{what} cannot be read as JSON: {cause}")))?;
    serde_json::from_str(&text).map_err(|e| type_error(&format!("{what} is not valid: {e}")))
}

/// `JSON.stringify(value)`, or what went wrong: it threw (a cycle, a `BigInt`, a `toJSON` that
/// throws) or gave `undefined` (an object whose `toJSON` returns nothing).
pub(crate) fn json_text(value: &JsValue) -> Result<String, String> {
    match js_sys::JSON::stringify(value) {
        Ok(text) => text
            .as_string()
            .ok_or_else(|| "JSON.stringify gave nothing (does a toJSON return no value?)".into()),
        // A `TypeError` (a cycle, a `BigInt`) or whatever a `toJSON` threw.
        Err(error) => Err(describe(&error)),
    }
}

/// The message of a thrown JS value.
pub(crate) fn describe(value: &JsValue) -> String {
    get(value, "message")
        .as_string()
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "(no message)".into())
}

/// `console.error(message, value)`, where there is a console (and whatever it throws).
pub(crate) fn console_error(message: &str, value: &JsValue) {
    let console = get(&js_sys::global(), "console");
    if let Ok(error) = get(&console, "error").dyn_into::<js_sys::Function>() {
        let _ = error.call2(&console, &JsValue::from_str(message), value);
    }
}

/// A JS `TypeError` (wrong argument types, as the platform's own APIs throw).
/// A string argument, else a `TypeError` naming it: for a `&str` or `String` parameter,
/// wasm-bindgen's own conversion of anything else (a `URL`, a number, an upload's result
/// object) traps inside the allocator ("memory access out of bounds") instead of throwing.
pub(crate) fn string_arg(value: &JsValue, name: &str) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| {
        let kind = value.js_typeof().as_string().unwrap_or_default();
        type_error(&format!("{name} must be a string, not {kind}"))
    })
}

pub(crate) fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}

/// A JS `RangeError` (a number out of its range) with this message.
pub(crate) fn range_error(message: &str) -> JsValue {
    js_sys::RangeError::new(message).into()
}

/// A property of a JS object, `undefined` if absent or unreadable.
pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Sets a property on a JS object (results built here are plain extensible objects).
pub(crate) fn set(object: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}
