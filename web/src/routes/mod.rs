//! The pages, one per file, and what they share: links, the registry of the URL, breadcrumbs.

pub(crate) mod connect;
pub(crate) mod manifest;
pub(crate) mod repo;
pub(crate) mod repos;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::state::{Conn, ConnectNeeded, RegistryContext};

/// `/r/<reg>`: the repositories.
pub(crate) fn repos_href(reg: &str) -> String {
    format!("/r/{}", enc(reg))
}

/// `/r/<reg>/repo/<name>`: a repository's tags.
pub(crate) fn repo_href(reg: &str, name: &str) -> String {
    format!("/r/{}/repo/{}", enc(reg), enc_path(name))
}

/// `/r/<reg>/manifest/<name>:<tag>` or `.../<name>@<digest>`.
pub(crate) fn manifest_href(reg: &str, name: &str, reference: &str) -> String {
    let sep = if reference.contains(':') { '@' } else { ':' };
    format!(
        "/r/{}/manifest/{}{sep}{}",
        enc(reg),
        enc_path(name),
        enc(reference)
    )
}

/// The connect form for registry `id`, coming back to this page once connected.
pub(crate) fn reconnect_href(id: &str) -> String {
    let location = window().location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    format!("/?id={}&next={}", enc(id), enc(&here))
}

fn enc(s: &str) -> String {
    porthole_core::url::percent_encode(s)
}

fn enc_path(s: &str) -> String {
    s.split('/').map(enc).collect::<Vec<_>>().join("/")
}

/// Splits `name:tag` or `name@digest` (the manifest route's tail).
pub(crate) fn split_reference(tail: &str) -> Option<(String, String)> {
    if let Some((name, digest)) = tail.split_once('@') {
        return Some((name.to_owned(), digest.to_owned()));
    }
    let slash = tail.rfind('/').map_or(0, |i| i + 1);
    let colon = tail[slash..].rfind(':')? + slash;
    Some((tail[..colon].to_owned(), tail[colon + 1..].to_owned()))
}

/// A route parameter, percent-decoded.
pub(crate) fn param(name: &'static str) -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| {
        params
            .with(|p| p.get(name))
            .map(|v| porthole_core::url::percent_decode(&v))
            .unwrap_or_default()
    })
}

/// The connection for the registry named in the URL, made on demand.
pub(crate) fn use_conn() -> (
    Memo<String>,
    Signal<Result<Conn, ConnectNeeded>, LocalStorage>,
) {
    let reg = param("reg");
    let ctx = RegistryContext::expect_context();
    // Only the registry id and the saved list are tracked: making the connection sets
    // `ctx.conn`, and tracking it too would mount the page twice (and list twice).
    let conn = Signal::derive_local(move || {
        let id = reg.get();
        ctx.saved.track();
        untrack(|| ctx.connection(&id))
    });
    (reg, conn)
}

/// What a page shows when its registry cannot be used yet.
#[component]
pub(crate) fn NeedConnection(
    /// Why.
    why: ConnectNeeded,
) -> impl IntoView {
    match why {
        ConnectNeeded::Unknown => view! {
            <div class="notice" role="alert">
                <p>"This link names a registry this browser does not know."</p>
                <a class="btn primary" href="/">"Connect a registry"</a>
            </div>
        }
        .into_any(),
        ConnectNeeded::Secret(saved) => view! {
            <div class="notice" role="alert">
                <p>
                    {format!(
                        "{} needs its {} again: secrets are not kept unless you ask.",
                        saved.label,
                        saved.auth.label(),
                    )}
                </p>
                <a class="btn primary" href=reconnect_href(&saved.id)>
                    "Enter it"
                </a>
            </div>
        }
        .into_any(),
        ConnectNeeded::Bad(message) => view! {
            <div class="notice" role="alert">
                <p>{message}</p>
                <a class="btn" href="/">"Registries"</a>
            </div>
        }
        .into_any(),
    }
}

/// The trail of links above a page; the last link but one is where `u` goes.
#[component]
pub(crate) fn Crumbs(
    /// `(label, href)` from the top; the last one is the current page (no link).
    items: Vec<(String, Option<String>)>,
) -> impl IntoView {
    let count = items.len();
    let views = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, href))| {
            let up = i + 2 == count;
            match href {
                Some(href) if i + 1 < count => view! {
                    <li>
                        <a href=href data-up=up.then_some("")>{label}</a>
                    </li>
                }
                .into_any(),
                _ => view! { <li aria-current="page">{label}</li> }.into_any(),
            }
        })
        .collect_view();
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <ol>{views}</ol>
        </nav>
    }
}
