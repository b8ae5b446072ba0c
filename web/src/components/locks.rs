//! ACR locks as toggles (write, delete, read, list) for a tag, a manifest or a repository:
//! each toggle is saved at once, and the answer (or the error, in words) shows in place.

use leptos::prelude::*;
use leptos::task::spawn_local;
use porthole_browser::FetchTransport;
use porthole_core::acr::ChangeableAttributes;
use porthole_core::{Error, Repository, Tag, TagOrDigest};

use crate::components::{explained, reconnect_to_this_registry};
use crate::util::announce;

/// What the locks belong to.
#[derive(Debug, Clone)]
pub(crate) enum LockTarget {
    /// A tag.
    Tag(Tag),
    /// The manifest a reference points at.
    Manifest(TagOrDigest),
    /// The whole repository.
    Repository,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Write,
    Delete,
    Read,
    List,
}

impl Field {
    fn label(self) -> &'static str {
        match self {
            Self::Write => "can write",
            Self::Delete => "can delete",
            Self::Read => "can read",
            Self::List => "can list",
        }
    }

    fn get(self, a: &ChangeableAttributes) -> bool {
        match self {
            Self::Write => a.can_write,
            Self::Delete => a.can_delete,
            Self::Read => a.can_read,
            Self::List => a.can_list,
        }
        .unwrap_or(true)
    }

    fn only(self, on: bool) -> ChangeableAttributes {
        let mut a = ChangeableAttributes::default();
        match self {
            Self::Write => a.can_write = Some(on),
            Self::Delete => a.can_delete = Some(on),
            Self::Read => a.can_read = Some(on),
            Self::List => a.can_list = Some(on),
        }
        a
    }
}

/// An error from a lock change, in words, and whether signing in again is the way out.
fn explain_lock(error: &Error) -> (String, bool) {
    let refused = error.status() == Some(401) || error.code() == "AUTH_FAILED";
    let why = if refused {
        "your sign-in was refused or has expired (an Entra ID token lasts about an hour)"
    } else {
        match error.status() {
            Some(403) => {
                "your credentials may not change properties here (ACR's metadata_write right)"
            }
            Some(404) => "it no longer exists: it was deleted since this page loaded; reload it",
            _ => "",
        }
    };
    (explained(error, why), refused)
}

/// What the last change of a lock came to.
#[derive(Debug, Clone)]
struct Outcome {
    saved: bool,
    text: String,
    /// The connect form for this registry, when signing in again is the way out.
    reconnect: Option<String>,
}

/// Four toggles for the locks of `target`, starting from `attrs` (updated with what the
/// registry answers).
#[component]
pub(crate) fn LockToggles(
    repo: Repository<FetchTransport>,
    target: LockTarget,
    attrs: RwSignal<ChangeableAttributes>,
    /// Names the group for screen readers and tests ("tag", "manifest", "repository").
    #[prop(into)]
    what: String,
    /// Whether `attrs` holds what the registry said: until then (and if reading the
    /// properties failed) the toggles are hidden rather than showing a guess.
    #[prop(into)]
    ready: Signal<bool>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let message = RwSignal::new(None::<Outcome>);
    let reconnect = StoredValue::new(reconnect_to_this_registry());
    let repo = StoredValue::new_local(repo);
    let target = StoredValue::new(target);
    let save = move |field: Field, on: bool| {
        busy.set(true);
        message.set(None);
        let change = field.only(on);
        spawn_local(async move {
            let repo = repo.get_value();
            let result = match target.get_value() {
                LockTarget::Tag(tag) => repo
                    .artifact(TagOrDigest::Tag(tag.clone()))
                    .update_tag_properties(&tag, &change)
                    .await
                    .map(|p| p.changeable_attributes),
                LockTarget::Manifest(reference) => repo
                    .artifact(reference)
                    .update_manifest_properties(&change)
                    .await
                    .map(|p| p.changeable_attributes),
                LockTarget::Repository => repo
                    .update_properties(&change)
                    .await
                    .map(|p| p.changeable_attributes),
            };
            busy.set(false);
            match result {
                Ok(a) => {
                    let now = field.get(&a);
                    attrs.set(a);
                    let text = format!(
                        "Saved: {} is now {}.",
                        field.label(),
                        if now { "on" } else { "off" }
                    );
                    announce(&text);
                    message.set(Some(Outcome {
                        saved: true,
                        text,
                        reconnect: None,
                    }));
                }
                Err(e) => {
                    // The switch the user flipped shows the saved state again.
                    attrs.update(|_| {});
                    let (why, refused) = explain_lock(&e);
                    let text = format!("Not saved: {why}");
                    announce(&text);
                    message.set(Some(Outcome {
                        saved: false,
                        text,
                        reconnect: reconnect.get_value().filter(|_| refused),
                    }));
                }
            }
        });
    };
    let toggles = [Field::Write, Field::Delete, Field::Read, Field::List]
        .into_iter()
        .map(|field| {
            view! {
                <label class="lock-toggle">
                    <input
                        type="checkbox"
                        role="switch"
                        data-lock=field.label()
                        prop:checked=move || attrs.with(|a| field.get(a))
                        // Not `disabled`: a disabled control loses the keyboard focus.
                        aria-disabled=move || busy.get().to_string()
                        on:click=move |ev| {
                            if busy.get_untracked() {
                                ev.prevent_default();
                            }
                        }
                        on:change=move |ev| save(field, event_target_checked(&ev))
                    />
                    " "
                    {field.label()}
                </label>
            }
        })
        .collect_view();
    view! {
        <span
            class="locks-edit"
            role="group"
            aria-label=format!("Locks of the {what}")
            prop:hidden=move || !ready.get()
        >
            {toggles}
            {move || {
                message
                    .get()
                    .map(|Outcome { saved, text, reconnect }| {
                        view! {
                            <span class=if saved { "result-ok" } else { "error-message" }>
                                {text}
                                {reconnect.map(|href| view! {
                                    " " <a href=href>"Enter your credentials again"</a>
                                })}
                            </span>
                        }
                    })
            }}
        </span>
    }
}
