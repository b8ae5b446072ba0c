//! Porthole errors as JS `Error` objects.
//!
//! Every rejection is a real `Error` (so `instanceof Error` and stack traces work) with:
//! - `name`: `"DigestMismatchError"` when content did not hash to its digest (as
//!   `@azure/container-registry` names it), `"AbortError"` when the call's `abortSignal` fired
//!   and `"TimeoutError"` when it ran out of time (`AbortSignal.timeout()`) or the registry
//!   stopped answering (as `fetch` names them), `"RestError"` otherwise (as Azure's errors are named, so that
//!   `isRestError` of `@azure/core-rest-pipeline`, which also accepts an error by that name,
//!   holds for them);
//! - `code`: the registry's first OCI code (`NAME_UNKNOWN`, `DENIED`, …) or Porthole's kind
//!   (`INVALID_INPUT`, `UNAUTHORIZED`, `NETWORK_ERROR`, `BLOCKED_BY_BROWSER`, `BODY_ERROR`, …);
//! - `statusCode`: the HTTP status when the registry answered (Azure's `RestError` naming);
//! - `details`: the registry's OCI error envelope entries (`{ code, message, detail? }`).

use porthole_core::Error;
use wasm_bindgen::prelude::*;

use crate::glue::{self, error_name, to_js};
use crate::types::OciErrorDetail;

#[wasm_bindgen(typescript_custom_section)]
const REGISTRY_ERROR: &str = r#"
/** What `abortSignal` options take, as Azure's do: a native `AbortSignal`, or any object with
 *  `aborted` and `addEventListener` (the signals of `@azure/abort-controller` 1.x). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: any;
  addEventListener(type: "abort", listener: (this: AbortSignalLike, ev: any) => any, options?: any): void;
  removeEventListener(type: "abort", listener: (this: AbortSignalLike, ev: any) => any, options?: any): void;
}
/** Porthole's kinds of failure, beside the registry's own OCI codes. */
export type PortholeErrorCode =
  | "INVALID_INPUT" | "AUTH_FAILED" | "ABORTED" | "BLOCKED_BY_BROWSER" | "TIMEOUT"
  | "NETWORK_ERROR" | "BODY_ERROR" | "DIGEST_MISMATCH" | "PROTOCOL_ERROR" | "MANIFEST_TOO_LARGE" | "PARSE_ERROR"
  | "UNAUTHORIZED" | "DENIED" | "NOT_FOUND" | "TOOMANYREQUESTS" | "REGISTRY_ERROR";
/** The OCI error codes of the distribution spec. */
export type OciErrorCode =
  | "BLOB_UNKNOWN" | "BLOB_UPLOAD_INVALID" | "BLOB_UPLOAD_UNKNOWN" | "DIGEST_INVALID"
  | "MANIFEST_BLOB_UNKNOWN" | "MANIFEST_INVALID" | "MANIFEST_UNKNOWN" | "NAME_INVALID"
  | "NAME_UNKNOWN" | "SIZE_INVALID" | "UNAUTHORIZED" | "DENIED" | "UNSUPPORTED" | "TOOMANYREQUESTS";
/**
 * Every rejection of the package's promises (and every error of its download streams), except
 * a call given arguments of the wrong kind (a number for a string, an `onProgress` that is not a
 * function, a detached buffer, a bad options bag): that throws or rejects with a plain
 * `TypeError` (no `code`, no `details`), as JS APIs do. A malformed digest, tag or repository
 * name is a `RestError` with code `INVALID_INPUT`.
 */
export interface RestError extends Error {
  /** `"DigestMismatchError"`, `"AbortError"`, `"TimeoutError"` (code `TIMEOUT`: the call's
   *  `AbortSignal.timeout()` ran out, or the registry stopped answering) or `"RestError"`. */
  name: "RestError" | "DigestMismatchError" | "AbortError" | "TimeoutError";
  /** The registry's first OCI code, else Porthole's kind of failure; unknown codes are kept. */
  code: OciErrorCode | PortholeErrorCode | (string & {});
  /** The HTTP status, when the registry answered. */
  statusCode?: number;
  /** The registry's OCI error entries (empty when it sent none). */
  details: OciErrorDetail[];
}
"#;

/// The JS `Error` for a Porthole error.
pub fn to_js_error(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    let code = error.code();
    js.set_name(&error_name(code));
    let js: JsValue = js.into();
    glue::set(&js, "code", &JsValue::from_str(code));
    if let Some(status) = error.status() {
        glue::set(&js, "statusCode", &JsValue::from(status));
    }
    // The registry's error entries, also through retries (the last answer's).
    let details: Vec<OciErrorDetail> = error
        .oci_errors()
        .iter()
        .map(|e| OciErrorDetail {
            code: e.code.as_str().to_string(),
            message: e.message.clone(),
            detail: e.detail.clone(),
        })
        .collect();
    glue::set(&js, "details", &to_js(&details));
    js
}

/// `Result<T, Error>` to `Result<T, JsValue>` with [`to_js_error`].
pub(crate) trait IntoJs<T> {
    /// Maps the error.
    fn js(self) -> Result<T, JsValue>;
}

impl<T> IntoJs<T> for Result<T, Error> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(|e| to_js_error(&e))
    }
}
