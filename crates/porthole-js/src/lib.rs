//! Porthole's npm package (wasm32 only): the JavaScript API over [`porthole_core`] and
//! [`porthole_browser`], shaped like `@azure/container-registry` and running in browser pages,
//! web workers and Node 20+.
//!
//! - [`ContainerRegistryClient`](registry::ContainerRegistryClient): repository names, and the
//!   sub-clients [`ContainerRepository`](registry::ContainerRepository) and
//!   [`RegistryArtifact`](registry::RegistryArtifact) for properties, listings and deletes.
//! - [`ContainerRegistryContentClient`](content::ContainerRegistryContentClient): blobs and
//!   manifests (upload, verified download, mount, referrers).
//!
//! This is the only crate with `#[wasm_bindgen]` exports, so the dashboard never ships the JS
//! API. Its TypeScript typings are generated: the option bags and results are Rust structs
//! deriving `tsify::Tsify`, and every method names its types with `unchecked_return_type` /
//! `unchecked_param_type`. Values cross the boundary as JSON (`serde_json` here,
//! `JSON.parse` there), which costs less code than a second serializer.
//!
//! Rules kept throughout (see DESIGN.md, "The JS surface"):
//! - no method holds a borrow of its JS object across an `await`: each clones its `Rc`'d state
//!   into the future, so dropping (or `free()`ing) an object mid-call is harmless;
//! - each call's `abortSignal` is scoped to that call's future ([`transport`]), so concurrent
//!   calls on one client never share or clobber signals;
//! - errors are real `Error` objects with `name`, `code`, `statusCode` and `details` ([`error`]).
//!
//! On other targets the crate is empty.
#![cfg_attr(not(target_arch = "wasm32"), allow(rustdoc::broken_intra_doc_links))]

#[cfg(target_arch = "wasm32")]
pub mod content;
#[cfg(target_arch = "wasm32")]
mod credential;
#[cfg(target_arch = "wasm32")]
pub mod error;
#[cfg(target_arch = "wasm32")]
mod glue;
#[cfg(target_arch = "wasm32")]
mod paging;
#[cfg(target_arch = "wasm32")]
pub mod registry;
#[cfg(target_arch = "wasm32")]
pub mod transport;
#[cfg(target_arch = "wasm32")]
pub mod types;
