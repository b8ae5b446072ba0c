//! Benchmark bindings for `cargo xtask bench` (wasm32 only, never published).
//!
//! Each export is a thin async function over the product code — porthole-core's client driven by
//! porthole-browser's [`FetchTransport`](porthole_browser::FetchTransport),
//! [`BlobFileSource`](porthole_browser::BlobFileSource) and verified download stream — so the
//! benchmark page (`tests/bench/page.js`) times exactly what the npm package and the dashboard
//! run. Nothing here adds behaviour of its own. Like porthole-js, this crate may have
//! `#[wasm_bindgen]` exports; the dashboard never links it.
//!
//! On other targets the crate is empty.

#[cfg(target_arch = "wasm32")]
mod exports;

#[cfg(target_arch = "wasm32")]
pub use exports::*;
