//! `/r/<reg>`: the repositories, listed page by page (following `Link`), filtered as you type,
//! grouped by namespace, and rendered a slice at a time so 10,000 names stay fast: each group
//! draws its first rows, and only the first namespaces are drawn until asked for more.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use porthole_core::{Error, PageGuard, PageRequest};

use crate::components::{ErrorView, Loading};
use crate::pure::{contents_key, groups_to_draw, namespace_id, open_target};
use crate::routes::{manifest_href, repo_href, use_conn, Crumbs, NeedConnection};
use crate::state::{recent_repositories, Conn};

/// Rows shown per namespace before "show more".
const FIRST_ROWS: usize = 100;
/// Rows added by each "show more".
const MORE_ROWS: usize = 500;
/// Namespaces drawn before "show more namespaces" (a registry with thousands of namespaces
/// would otherwise draw a group for each), and by how many each click adds.
const FIRST_GROUPS: usize = 200;
/// Rows the drawn groups may hold in all before "show more namespaces" (counting each group's
/// first rows), and by how many each click adds.
const FIRST_GROUP_ROWS: usize = 2_000;

/// The repositories page.
#[component]
pub(crate) fn ReposPage() -> impl IntoView {
    let (reg, conn) = use_conn();
    move || match conn.get() {
        Ok(conn) => view! { <RepoList conn=conn reg=reg.get() /> }.into_any(),
        Err(why) => view! { <NeedConnection why=why /> }.into_any(),
    }
}

/// Initial filter from `?q=`.
fn initial_filter() -> String {
    let search = window().location().search().unwrap_or_default();
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("q="))
        .map(|v| porthole_core::url::percent_decode(&v.replace('+', " ")))
        .unwrap_or_default()
}

/// Keeps the filter in the address (`?q=`) without a navigation.
fn store_filter(filter: &str) {
    let location = window().location();
    let path = location.pathname().unwrap_or_default();
    let url = if filter.is_empty() {
        path
    } else {
        format!("{path}?q={}", porthole_core::url::percent_encode(filter))
    };
    crate::util::replace_address(&url);
}

#[component]
fn RepoList(conn: Conn, reg: String) -> impl IntoView {
    // The list from the last visit shows at once; it is listed again on every visit (others
    // push too), and replaced once the new listing is complete.
    let cached = conn.repositories.borrow().clone();
    let refreshing = cached.is_some();
    let names = RwSignal::new(cached.unwrap_or_default());
    let done = RwSignal::new(refreshing);
    let error = RwSignal::new_local(None::<Error>);
    let alive = Arc::new(AtomicBool::new(true));

    {
        let alive = alive.clone();
        let conn = conn.clone();
        spawn_local(async move {
            let mut request = PageRequest::default();
            let mut all: Vec<String> = Vec::new();
            // Ends the listing where a registry would link on for ever.
            let mut guard = PageGuard::new();
            loop {
                let page = conn.client.list_repository_names_page(&request).await;
                if !alive.load(Ordering::Relaxed) {
                    return;
                }
                match page {
                    Ok(page) => {
                        let (items, next) = guard.take(page);
                        all.extend(items.iter().cloned());
                        if !refreshing {
                            names.update(|n| n.extend(items));
                        }
                        match next {
                            Some(token) => request.continuation_token = Some(token),
                            None => break,
                        }
                    }
                    Err(e) => {
                        error.set(Some(e));
                        done.set(true);
                        return;
                    }
                }
            }
            if refreshing {
                names.set(all.clone());
            }
            *conn.repositories.borrow_mut() = Some(all);
            done.set(true);
        });
    }
    on_cleanup(move || alive.store(false, Ordering::Relaxed));

    let filter = RwSignal::new(initial_filter());
    let limits = RwSignal::new(HashMap::<String, usize>::new());
    let collapsed = RwSignal::new(HashMap::<String, bool>::new());

    let groups = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        names.with(|all| {
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for name in all {
                if needle.is_empty() || name.to_lowercase().contains(&needle) {
                    let ns = match name.split_once('/') {
                        Some((ns, _)) => ns.to_owned(),
                        None => String::new(),
                    };
                    groups.entry(ns).or_default().push(name.clone());
                }
            }
            for list in groups.values_mut() {
                list.sort();
            }
            groups.into_iter().collect::<Vec<_>>()
        })
    });
    let shown_count = move || groups.with(|g| g.iter().map(|(_, l)| l.len()).sum::<usize>());
    // How many times "show more namespaces" was clicked (reset by a new filter).
    let more_groups = RwSignal::new(0usize);
    Effect::new(move |_| {
        filter.track();
        more_groups.set(0);
    });
    let drawn_groups = Memo::new(move |_| {
        let steps = more_groups.get() + 1;
        groups.with(|g| {
            groups_to_draw(
                g,
                FIRST_ROWS,
                FIRST_GROUPS * steps,
                FIRST_GROUP_ROWS * steps,
            )
        })
    });
    let hidden = move || {
        let drawn = drawn_groups.get();
        groups.with(|g| {
            let rest = &g[drawn.min(g.len())..];
            (rest.len(), rest.iter().map(|(_, l)| l.len()).sum::<usize>())
        })
    };

    let label = conn.saved.label.clone();
    let reg_for_rows = StoredValue::new(reg.clone());
    let hosts = StoredValue::new(conn.saved.hosts());
    let refused = move || error.with(|e| e.as_ref().is_some_and(catalog_refused));

    view! {
        <section class="page repos">
            <Crumbs items=vec![("Registries".into(), Some("/".into())), (label.clone(), None)] />
            <div class="page-head">
                <h1>"Repositories"</h1>
                <p class="muted count" role="status" aria-live="polite">
                    {move || {
                        if refused() {
                            return "not listed".to_owned();
                        }
                        let total = names.with(Vec::len);
                        let shown = shown_count();
                        let more = if done.get() { "" } else { " (more loading…)" };
                        if shown == total {
                            format!("{total} repositories{more}")
                        } else {
                            format!("{shown} of {total} repositories{more}")
                        }
                    }}
                </p>
            </div>
            <Show when=move || !refused()>
            <div class="toolbar">
                <label class="filter">
                    <span class="sr-only">"Filter repositories"</span>
                    <input
                        id="filter"
                        type="search"
                        placeholder="Filter repositories  ( / )"
                        aria-label="Filter repositories"
                        prop:value=move || filter.get()
                        on:input=move |ev| {
                            let value = event_target_value(&ev);
                            store_filter(&value);
                            filter.set(value);
                        }
                        on:keydown=move |ev| {
                            if ev.key() == "Escape" {
                                filter.set(String::new());
                                store_filter("");
                            }
                        }
                    />
                </label>
                <OpenByName reg=reg_for_rows.get_value() hosts=hosts.get_value() focus=false />
            </div>
            </Show>
            {move || error.get().map(|e| {
                let refused = catalog_refused(&e);
                view! {
                    {refused.then(|| view! { <CatalogRefused reg=reg_for_rows.get_value() hosts=hosts.get_value() /> })}
                    <ErrorView error=e />
                }
            })}
            <Show when=move || !done.get() && names.with(Vec::is_empty)>
                <Loading what="repositories" />
            </Show>
            <Show when=move || done.get() && error.with(Option::is_none) && shown_count() == 0>
                <p class="empty">
                    {move || if names.with(Vec::is_empty) { "This registry has no repositories." } else { "No repository matches the filter." }}
                </p>
            </Show>
            <div class="groups">
                <For
                    each=move || groups.with(|g| g[..drawn_groups.get().min(g.len())].to_vec())
                    key=|(ns, list)| (ns.clone(), contents_key(list))
                    children=move |(ns, list)| {
                        let ns_key = ns.clone();
                        let ns_toggle = ns.clone();
                        let ns_more = ns.clone();
                        let total = list.len();
                        let list = StoredValue::new(list);
                        let is_collapsed_memo = Memo::new(move |_| collapsed.with(|c| c.get(&ns_key).copied().unwrap_or(false)));
                        let is_collapsed = move || is_collapsed_memo.get();
                        let limit = {
                            let ns = ns.clone();
                            Memo::new(move |_| limits.with(|l| l.get(&ns).copied().unwrap_or(FIRST_ROWS)))
                        };
                        let ns_more = StoredValue::new(ns_more);
                        let title = if ns.is_empty() { "(no namespace)".to_owned() } else { format!("{ns}/") };
                        let heading_id = namespace_id(&ns);
                        let labelled_by = heading_id.clone();
                        view! {
                            <section class="group" aria-labelledby=labelled_by>
                                <h2 class="group-head" id=heading_id>
                                    <button
                                        type="button"
                                        class="group-toggle"
                                        aria-expanded=move || (!is_collapsed()).to_string()
                                        on:click=move |_| collapsed.update(|c| {
                                            let e = c.entry(ns_toggle.clone()).or_insert(false);
                                            *e = !*e;
                                        })
                                    >
                                        <span class="chevron" aria-hidden="true"></span>
                                        {title}
                                        <span class="badge">{total}</span>
                                    </button>
                                </h2>
                                <Show when=move || !is_collapsed()>
                                    <ul class="rows">
                                        {
                                            move || {
                                                let reg = reg_for_rows.get_value();
                                                list.with_value(|l| {
                                                    l.iter()
                                                        .take(limit.get())
                                                        .map(|name| {
                                                            let (ns_part, rest) = match name.rsplit_once('/') {
                                                                Some((ns, rest)) => (format!("{ns}/"), rest.to_owned()),
                                                                None => (String::new(), name.clone()),
                                                            };
                                                            view! {
                                                                <li>
                                                                    <a class="row-link" data-row="" href=repo_href(&reg, name)>
                                                                        <span class="ns">{ns_part}</span>
                                                                        <span class="name">{rest}</span>
                                                                    </a>
                                                                </li>
                                                            }
                                                        })
                                                        .collect_view()
                                                })
                                            }
                                        }
                                    </ul>
                                    <Show when=move || { total > limit.get() }>
                                        <button
                                            type="button"
                                            class="btn more"
                                            on:click=move |_| {
                                                let next = limit.get() + MORE_ROWS;
                                                limits.update(|l| { l.insert(ns_more.get_value(), next); });
                                            }
                                        >
                                            {move || format!("Show more ({} of {total} shown)", limit.get().min(total))}
                                        </button>
                                    </Show>
                                </Show>
                            </section>
                        }
                    }
                />
            </div>
            {move || {
                let (namespaces, repositories) = hidden();
                (namespaces > 0).then(|| view! {
                    <p class="more-groups">
                        <button
                            type="button"
                            class="btn more"
                            on:click=move |_| more_groups.update(|n| *n += 1)
                        >
                            {format!("Show more namespaces ({namespaces} more, {repositories} repositories)")}
                        </button>
                    </p>
                })
            }}
        </section>
    }
}

/// Whether listing the catalog failed because this registry does not let these credentials
/// list it (a pull-only token, a registry without the catalog API), rather than failing.
fn catalog_refused(error: &Error) -> bool {
    matches!(
        error.code(),
        "AUTH_FAILED" | "UNAUTHORIZED" | "DENIED" | "UNSUPPORTED" | "NOT_FOUND"
    ) || matches!(error.status(), Some(401 | 403 | 404))
}

/// What a registry that will not list its repositories leaves: opening one by name, and the
/// ones opened here before.
#[component]
fn CatalogRefused(reg: String, hosts: Vec<String>) -> impl IntoView {
    let recent = recent_repositories(&reg);
    let links = (!recent.is_empty()).then(|| {
        let rows = recent
            .iter()
            .map(|name| {
                view! {
                    <li><a class="row-link" data-row="" href=repo_href(&reg, name)>{name.clone()}</a></li>
                }
            })
            .collect_view();
        view! {
            <h3>"Opened here before"</h3>
            <ul class="rows recent">{rows}</ul>
        }
    });
    view! {
        <section class="notice catalog-refused" aria-labelledby="catalog-refused">
            <h2 id="catalog-refused">"This registry does not list its repositories for you"</h2>
            <p>
                "It refused the catalog (the list of repositories; the reason is below). Many \
                 registries keep it to administrators, and some have none. Any repository you \
                 may read still opens by its name."
            </p>
            <OpenByName reg=reg.clone() hosts=hosts focus=true />
            {links}
        </section>
    }
}

/// Opens a repository (`team/app`) or an artifact (`team/app:v1`, `team/app@sha256:…`, with or
/// without this registry's host in front, as a pull command has it) by what the user types.
#[component]
fn OpenByName(
    /// The registry's id in page addresses.
    reg: String,
    /// This registry's `host[:port]`s, accepted in front of a name (its pull address first).
    hosts: Vec<String>,
    /// Whether the field takes the focus when shown.
    focus: bool,
) -> impl IntoView {
    let navigate = use_navigate();
    let typed = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let field = NodeRef::<html::Input>::new();
    if focus {
        Effect::new(move |_| {
            if let Some(input) = field.get() {
                let _ = input.focus();
            }
        });
    }
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        match open_target(&hosts, &typed.get_untracked()) {
            Ok((name, None)) => navigate(&repo_href(&reg, &name), Default::default()),
            Ok((name, Some(reference))) => {
                navigate(&manifest_href(&reg, &name, &reference), Default::default());
            }
            Err(why) => problem.set(Some(why)),
        }
    };
    view! {
        <form class="open-repo" on:submit=on_submit>
            <label class="open-field">
                // Beside the filter, the placeholder says it; in the notice, the label does.
                <span class:sr-only=!focus>"Open by name"</span>
                <input
                    type="text"
                    node_ref=field
                    placeholder=if focus { "team/app or team/app:tag" } else { "Open by name: team/app[:tag]" }
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                    aria-describedby="open-problem"
                    prop:value=move || typed.get()
                    on:input=move |ev| {
                        typed.set(event_target_value(&ev));
                        problem.set(None);
                    }
                />
            </label>
            <button class="btn" type="submit">"Open"</button>
            <p id="open-problem" class="field-problem" role="alert">
                {move || problem.get()}
            </p>
        </form>
    }
}
