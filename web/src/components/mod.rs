//! Reusable parts of the pages.

pub(crate) mod delete;
pub(crate) mod folder;
pub(crate) mod json_view;
pub(crate) mod locks;
pub(crate) mod upload;

use leptos::prelude::*;
use porthole_core::Error;

use crate::util::copy_text;

/// An error from the registry or the client: its code, HTTP status and message, as text.
#[component]
pub(crate) fn ErrorView(
    /// The error.
    error: Error,
) -> impl IntoView {
    let status = error.status().map(|s| format!(" · HTTP {s}"));
    let code = error.code().to_owned();
    let blocked = code == "BLOCKED_BY_BROWSER";
    let data_code = code.clone();
    view! {
        <div class="error" role="alert" data-code=data_code>
            <p class="error-title">
                <strong>{code}</strong>
                {status}
            </p>
            <p class="error-message">{error.to_string()}</p>
            <Show when=move || blocked>
                <p class="muted">
                    "Open the connection page to diagnose it: "
                    <a href="/">"Connect"</a>
                </p>
            </Show>
        </div>
    }
}

/// A button that copies `text` and says so.
#[component]
pub(crate) fn CopyButton(
    /// What to copy.
    #[prop(into)]
    text: String,
    /// What it copies, for screen readers ("Copy the digest").
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <button
            class="btn small copy"
            type="button"
            aria-label=label.clone()
            title=label
            on:click=move |_| {
                copy_text(&text);
                copied.set(true);
                set_timeout(move || copied.set(false), std::time::Duration::from_millis(1500));
            }
        >
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// A placeholder of fixed size while something loads, so nothing jumps when it arrives.
#[component]
pub(crate) fn Skeleton(
    /// Width in ch.
    #[prop(default = 8)]
    width: u32,
) -> impl IntoView {
    view! { <span class="skeleton" style=format!("width:{width}ch") aria-hidden="true"></span> }
}

/// "Loading …" with a spinner, announced politely.
#[component]
pub(crate) fn Loading(
    /// What is loading.
    #[prop(into)]
    what: String,
) -> impl IntoView {
    view! {
        <p class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {format!("Loading {what}…")}
        </p>
    }
}
