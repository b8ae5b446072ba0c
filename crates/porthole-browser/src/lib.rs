//! Porthole's browser adapter (wasm32 only): what the dashboard and the npm package both use.
//!
//! - [`FetchTransport`]: [`porthole_core::Transport`] over the global `fetch`, in a window or a
//!   web worker, with an optional `AbortSignal`. A request the browser refuses to let the page
//!   see (CORS, a preflight answered 401, mixed content) becomes a
//!   [`TransportErrorKind::Blocked`](porthole_core::TransportErrorKind::Blocked) error that says
//!   so and names the fixes.
//! - [`BlobFileSource`]: an upload source over a `Blob` or `File`, hashed by WebCrypto up to
//!   [`WEBCRYPTO_MAX_BYTES`] and beyond that read slice by slice for hashing in wasm, and sent
//!   as `Blob` slices, so a large file never sits whole in memory.
//! - [`ReadableStreamSource`]: the bytes of a `ReadableStream`, for an upload whose length is
//!   known only at its end (only the chunk on the wire is kept in memory).
//! - [`verified_stream`] and [`download_blob_to_stream`]: a blob download as a
//!   `ReadableStream` that is verified as it streams and **errors** instead of closing when the
//!   bytes do not hash to the digest asked for.
//!
//! On other targets the crate is empty, so `cargo check --workspace` stays green natively.
// The links above point at wasm-only items.
#![cfg_attr(not(target_arch = "wasm32"), allow(rustdoc::broken_intra_doc_links))]

#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod sink;
#[cfg(target_arch = "wasm32")]
mod source;
#[cfg(target_arch = "wasm32")]
mod stream_source;

#[cfg(target_arch = "wasm32")]
pub use fetch::{with_abort_signal, FetchBody, FetchTransport, StallLimits, WithAbortSignal};
#[cfg(target_arch = "wasm32")]
pub use js::{error_to_js, ignore_rejection};
#[cfg(target_arch = "wasm32")]
pub use sink::{
    download_blob_to_stream, download_blob_to_uint8array, resumable_blob_stream, verified_stream,
    verified_stream_with_errors, ErrorToJs, ResumeFuture,
};
#[cfg(target_arch = "wasm32")]
pub use source::{BlobFileSource, WEBCRYPTO_MAX_BYTES};
#[cfg(target_arch = "wasm32")]
pub use stream_source::ReadableStreamSource;
