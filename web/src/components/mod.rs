//! Reusable parts of the pages.

pub(crate) mod delete;
pub(crate) mod folder;
pub(crate) mod json_view;
pub(crate) mod locks;
pub(crate) mod upload;

use leptos::prelude::*;
use leptos::task::spawn_local;
use porthole_core::Error;

use crate::state::RegistryContext;
use crate::util::copy_text;

/// Whether the credentials were refused, have expired (an Entra ID token lasts about an hour)
/// or lack a right: the way out is the connect form, filled in for this registry.
pub(crate) fn is_refusal(error: &Error) -> bool {
    matches!(error.status(), Some(401 | 403))
        || matches!(error.code(), "AUTH_FAILED" | "UNAUTHORIZED" | "DENIED")
}

/// `why` (an explanation in words) with the error's code and HTTP status after it; the error's
/// own text when there is no explanation (`why` empty).
pub(crate) fn explained(error: &Error, why: &str) -> String {
    if why.is_empty() {
        return error.to_string();
    }
    let status = error
        .status()
        .map(|s| format!(", HTTP {s}"))
        .unwrap_or_default();
    format!("{why} ({}{status})", error.code())
}

/// The connect form's address, filled in for the connected registry and coming back here.
pub(crate) fn reconnect_to_this_registry() -> Option<String> {
    let ctx = use_context::<RegistryContext>()?;
    let id = ctx
        .conn
        .try_with_untracked(|c| c.as_ref().map(|c| c.saved.id.clone()))
        .flatten()?;
    Some(crate::routes::reconnect_href(&id))
}

/// An error from the registry or the client: its code, HTTP status and message, as text.
#[component]
pub(crate) fn ErrorView(
    /// The error.
    error: Error,
    /// Leaves out the link to the connect form (the connect form itself).
    #[prop(optional)]
    no_reconnect: bool,
) -> impl IntoView {
    let status = error.status().map(|s| format!(" · HTTP {s}"));
    let code = error.code().to_owned();
    let blocked = code == "BLOCKED_BY_BROWSER";
    let refused = is_refusal(&error);
    let reconnect = (refused && !no_reconnect)
        .then(reconnect_to_this_registry)
        .flatten();
    let data_code = code.clone();
    view! {
        <div class="error" role="alert" data-code=data_code>
            <p class="error-title">
                <strong>{code}</strong>
                {status}
            </p>
            <p class="error-message">{error.to_string()}</p>
            {reconnect.map(|href| view! {
                <p>
                    "Your credentials were refused, have expired, or lack this right: "
                    <a href=href>"enter them again, or other ones"</a>
                </p>
            })}
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
    // `None`: not clicked lately; `Some(Ok)`: copied; `Some(Err(why))`: the copy failed.
    let outcome = RwSignal::new(None::<Result<(), String>>);
    let text = StoredValue::new(text);
    view! {
        <button
            class="btn small copy"
            type="button"
            aria-label=label.clone()
            title=move || match outcome.get() {
                Some(Err(why)) => format!("Not copied: {why}"),
                _ => label.clone(),
            }
            on:click=move |_| {
                spawn_local(async move {
                    let result = copy_text(&text.get_value()).await;
                    let failed = result.is_err();
                    outcome.try_set(Some(result));
                    if !failed {
                        set_timeout(move || { outcome.try_set(None); }, std::time::Duration::from_millis(1500));
                    }
                });
            }
        >
            {move || match outcome.get() {
                Some(Ok(())) => "Copied",
                Some(Err(_)) => "Not copied",
                None => "Copy",
            }}
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
