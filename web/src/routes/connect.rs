//! `/`: the saved registries, and the form that connects a new one (or re-enters a secret),
//! with a diagnosis when connecting fails.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::components::ErrorView;
use crate::diagnose::{diagnose, Diagnosis};
use crate::pure::return_path;
use crate::routes::repos_href;
use crate::state::{
    credential_for, forget_secret, page_origin, set_secret, AuthKind, Conn, RegistryContext,
    SavedRegistry, HERE,
};

/// The registries page.
#[component]
pub(crate) fn ConnectPage() -> impl IntoView {
    let ctx = RegistryContext::expect_context();
    let query = use_query_map();
    let navigate = use_navigate();

    let label = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let auth = RwSignal::new(AuthKind::Anonymous);
    let username = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let remember = RwSignal::new(false);
    let editing = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // A mistake in the form itself (no secret, an address that is no URL): said at the form,
    // not as a failed connection.
    let form_problem = RwSignal::new(None::<String>);
    let failure = RwSignal::new_local(None::<porthole_core::Error>);
    let diagnosis = RwSignal::new(None::<Diagnosis>);
    let diagnosing = RwSignal::new(false);

    let fill = move |saved: &SavedRegistry| {
        label.set(saved.label.clone());
        url.set(saved.url.clone());
        auth.set(saved.auth);
        username.set(saved.username.clone());
        secret.set(String::new());
        form_problem.set(None);
        editing.set(Some(saved.id.clone()));
    };
    // Back to a blank form for a new registry: what is typed next must not replace the one
    // edited before.
    let clear = move || {
        label.set(String::new());
        url.set(String::new());
        auth.set(AuthKind::Anonymous);
        username.set(String::new());
        secret.set(String::new());
        form_problem.set(None);
        editing.set(None);
    };
    // `/?id=<id>`: a saved registry whose secret is asked for again; plain `/` after that is
    // a new one.
    Effect::new(move |was_editing: Option<bool>| {
        match query.with(|q| q.get("id")).and_then(|id| ctx.find(&id)) {
            Some(saved) => {
                fill(&saved);
                true
            }
            None => {
                if was_editing == Some(true) {
                    clear();
                }
                false
            }
        }
    });
    // `next=`: the page that sent the user here, to go back to once connected.
    let next = move || query.with_untracked(|q| q.get("next"));

    // Which connect attempt is the current one: an earlier attempt still pinging or
    // diagnosing (a slow, unreachable host) must not replace the newer one's outcome, nor
    // navigate once the page was left.
    let attempt = RwSignal::new(0u64);
    let connect = move || {
        attempt.update(|n| *n += 1);
        let mine = attempt.get_untracked();
        let current = move || attempt.try_get_untracked() == Some(mine);
        failure.set(None);
        form_problem.set(None);
        diagnosis.set(None);
        diagnosing.set(false);
        let label_text = label.get_untracked().trim().to_owned();
        let url_text = url.get_untracked().trim().to_owned();
        let shown = if label_text.is_empty() {
            if url_text.is_empty() {
                "This origin".to_owned()
            } else {
                url_text
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .to_owned()
            }
        } else {
            label_text
        };
        let url_changed_from_here =
            !url_text.is_empty() || auth.get_untracked() != AuthKind::Anonymous;
        let id = match editing.get_untracked() {
            // "This origin" stays what it is: changed, it becomes a registry of its own.
            Some(id) if id == HERE && url_changed_from_here => ctx.new_id(&shown),
            Some(id) => id,
            None => ctx.new_id(&shown),
        };
        let saved = SavedRegistry {
            id: id.clone(),
            label: shown,
            url: url_text,
            auth: auth.get_untracked(),
            username: username.get_untracked().trim().to_owned(),
        };
        let typed = secret.get_untracked();
        let Some(credential) =
            credential_for(&saved, Some(typed.clone()).filter(|s| !s.is_empty()))
        else {
            form_problem.set(Some(format!("Type the {}.", saved.auth.label())));
            return;
        };
        let conn = match Conn::new(saved.clone(), credential) {
            Ok(conn) => conn,
            Err(message) => {
                form_problem.set(Some(message));
                return;
            }
        };
        busy.set(true);
        let navigate = navigate.clone();
        let keep = remember.get_untracked();
        spawn_local(async move {
            let result = conn.client.ping().await;
            if !current() {
                return;
            }
            busy.set(false);
            match result {
                Ok(()) => {
                    if saved.auth.needs_secret() {
                        set_secret(&id, &typed, keep);
                    } else {
                        // Switched to anonymous: the old password is no longer kept.
                        forget_secret(&id);
                    }
                    ctx.save(saved);
                    ctx.conn.set(Some(conn));
                    let home = repos_href(&id);
                    let to = next().and_then(|n| return_path(&n, &home)).unwrap_or(home);
                    navigate(&to, Default::default());
                }
                Err(error) => {
                    diagnosing.set(true);
                    failure.set(Some(error.clone()));
                    let found = diagnose(&saved, &error).await;
                    if current() {
                        diagnosis.set(Some(found));
                        diagnosing.set(false);
                    }
                }
            }
        });
    };

    let saved_list = move || {
        let mut list = ctx.saved.get();
        if !list.iter().any(|r| r.id == HERE) {
            list.insert(0, SavedRegistry::here());
        }
        list
    };

    view! {
        <section class="page connect">
            <h1>"Registries"</h1>
            <ul class="saved" aria-label="Saved registries">
                // Keyed on all of it: an edit of the authentication alone redraws the row.
                <For each=saved_list key=|r| r.clone() let:saved>
                    <SavedRow saved=saved on_edit=move |s: SavedRegistry| {
                        fill(&s);
                        focus_form();
                    } />
                </For>
            </ul>

            <h2 id="connect-title">
                {move || if editing.get().is_some() { "Connect again" } else { "Connect a registry" }}
            </h2>
            <form
                class="card form"
                aria-labelledby="connect-title"
                on:submit=move |ev| {
                    ev.prevent_default();
                    connect();
                }
            >
                <label>
                    <span>"Registry address"</span>
                    <input
                        id="registry-url"
                        type="url"
                        name="url"
                        placeholder=move || format!("https://registry.example.com (empty: this page's origin, {})", page_origin())
                        prop:value=move || url.get()
                        on:input=move |ev| url.set(event_target_value(&ev))
                        autocomplete="url"
                    />
                    <small class="muted">
                        "Leave empty to use this page's origin, where a same-origin proxy forwards /v2/ to the registry (no CORS needed)."
                    </small>
                </label>
                <label>
                    <span>"Name"</span>
                    <input
                        type="text"
                        name="label"
                        placeholder="optional"
                        prop:value=move || label.get()
                        on:input=move |ev| label.set(event_target_value(&ev))
                    />
                </label>
                <fieldset class="auth">
                    <legend>"Authentication"</legend>
                    {[AuthKind::Anonymous, AuthKind::Basic, AuthKind::Bearer, AuthKind::AcrAad]
                        .into_iter()
                        .map(|kind| {
                            view! {
                                <label class="radio">
                                    <input
                                        type="radio"
                                        name="auth"
                                        value=format!("{kind:?}")
                                        prop:checked=move || auth.get() == kind
                                        on:change=move |_| auth.set(kind)
                                    />
                                    {kind.label()}
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <Show when=move || auth.get() == AuthKind::Basic>
                    <label>
                        <span>"Username"</span>
                        <input
                            type="text"
                            name="username"
                            autocomplete="username"
                            prop:value=move || username.get()
                            on:input=move |ev| username.set(event_target_value(&ev))
                        />
                    </label>
                </Show>
                <Show when=move || auth.get().needs_secret()>
                    <label>
                        <span>
                            {move || match auth.get() {
                                AuthKind::Basic => "Password",
                                AuthKind::Bearer => "Bearer token",
                                _ => "Entra ID (AAD) access token",
                            }}
                        </span>
                        <input
                            type="password"
                            name="secret"
                            autocomplete="current-password"
                            prop:value=move || secret.get()
                            on:input=move |ev| secret.set(event_target_value(&ev))
                        />
                        <Show when=move || auth.get() == AuthKind::AcrAad>
                            <small class="muted">
                                "az account get-access-token --resource https://containerregistry.azure.net --query accessToken -o tsv"
                            </small>
                        </Show>
                    </label>
                    <label class="check">
                        <input
                            type="checkbox"
                            name="remember"
                            prop:checked=move || remember.get()
                            on:change=move |ev| remember.set(event_target_checked(&ev))
                        />
                        "Keep the secret for this browser session (sessionStorage; otherwise it is forgotten on reload)"
                    </label>
                </Show>
                {move || form_problem.get().map(|problem| view! {
                    <p class="field-problem" role="alert">{problem}</p>
                })}
                <div class="actions">
                    // Never disabled: a host that does not answer holds an attempt for as long
                    // as the browser waits, and a corrected form must be able to try again (the
                    // newer attempt wins).
                    <button class="btn primary" type="submit">
                        {move || if busy.get() { "Connecting… (Connect again to retry)" } else { "Connect" }}
                    </button>
                    <Show when=move || editing.with(Option::is_some)>
                        <a class="btn" href="/" on:click=move |_| clear()>"Connect a new registry instead"</a>
                    </Show>
                </div>
            </form>

            {move || {
                failure
                    .get()
                    .map(|error| {
                        view! {
                            <section class="diagnosis" aria-labelledby="diag-title" aria-live="polite">
                                <h2 id="diag-title">"Connecting failed"</h2>
                                <ErrorView error=error no_reconnect=true />
                                {move || {
                                    if diagnosing.get() {
                                        view! { <p class="loading" role="status">"Diagnosing…"</p> }.into_any()
                                    } else {
                                        diagnosis
                                            .get()
                                            .map(|d| {
                                                view! {
                                                    <div class="card verdict" data-diagnosis=d.kind>
                                                        <h3>{d.title}</h3>
                                                        <p>{d.detail}</p>
                                                        <h4>"Fix"</h4>
                                                        <pre class="fix">{d.fix}</pre>
                                                    </div>
                                                }
                                                .into_any()
                                            })
                                            .unwrap_or_else(|| ().into_any())
                                    }
                                }}
                            </section>
                        }
                    })
            }}
        </section>
    }
}

/// One saved registry: open, edit, forget.
#[component]
fn SavedRow(
    /// The registry.
    saved: SavedRegistry,
    /// Called to fill the form with it.
    on_edit: impl Fn(SavedRegistry) + 'static,
) -> impl IntoView {
    let ctx = RegistryContext::expect_context();
    let id = saved.id.clone();
    let forget_id = id.clone();
    let address = if saved.url.is_empty() {
        format!("{} (same origin)", page_origin())
    } else {
        saved.url.clone()
    };
    let is_here = saved.id == HERE;
    let edit = saved.clone();
    view! {
        <li class="saved-row">
            <a class="saved-link" data-row="" href=repos_href(&id)>
                <strong>{saved.label.clone()}</strong>
                <span class="muted">{format!("{address} · {}", saved.auth.label())}</span>
            </a>
            <span class="row-actions">
                <button
                    class="btn small"
                    type="button"
                    aria-label=format!("Edit {}", saved.label)
                    on:click=move |_| on_edit(edit.clone())
                >
                    "Edit"
                </button>
                <Show when=move || !is_here>
                    <button
                        class="btn small"
                        type="button"
                        aria-label=format!("Forget {}", saved.label)
                        on:click={
                            let forget_id = forget_id.clone();
                            move |_| ctx.forget(&forget_id)
                        }
                    >
                        "Forget"
                    </button>
                </Show>
            </span>
        </li>
    }
}

/// Takes the user to the form an Edit filled, further down the page.
fn focus_form() {
    use wasm_bindgen::JsCast;
    if let Some(field) = document()
        .get_element_by_id("registry-url")
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = field.focus();
    }
}
