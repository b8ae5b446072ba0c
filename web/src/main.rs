//! Porthole's dashboard: a Leptos single-page app (client-side rendered) on porthole-core and
//! porthole-browser. Connect to registries, browse repositories and tags, inspect manifests.
//!
//! Layout: `app.rs` (providers, router, header), `routes/` (one page per file), `components/`
//! (reusable parts), `state.rs` (saved registries, secrets, the connected client), `meta.rs`
//! (lazy tag metadata), `diagnose.rs` (why connecting failed), `util.rs`, and `pure.rs` (helpers
//! without browser or Leptos, compiled on every target so `cargo test` runs their tests).

// `#[component]` expands to items the lint takes for unreachable `pub`s; a binary exports none.
#![allow(unreachable_pub)]

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod components;
#[cfg(target_arch = "wasm32")]
mod diagnose;
#[cfg(target_arch = "wasm32")]
mod meta;
// On every target: its tests run natively (`cargo test -p porthole-dashboard`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod pure;
#[cfg(target_arch = "wasm32")]
mod routes;
#[cfg(target_arch = "wasm32")]
mod state;
#[cfg(target_arch = "wasm32")]
mod util;

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("porthole-dashboard runs in the browser: build it with `trunk build` (see README)");
}
