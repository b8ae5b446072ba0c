//! `/r/<reg>/repo/<name>`: a repository's tags with digest, size, platforms and dates, sortable
//! by name or date across all pages, filterable, rendered a page at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use porthole_core::acr::ArtifactOrder;
use porthole_core::PageRequest;

use crate::components::upload::UploadPanel;
use crate::components::{ErrorView, Loading, Skeleton};
use crate::meta::{MetaLoader, TagMeta};
use crate::routes::{manifest_href, param, repos_href, use_conn, Crumbs, NeedConnection};
use crate::state::Conn;
use crate::util::{date_millis, human_size, natural_cmp, short_date, short_digest};

/// Rows per page of the table.
const PAGE_ROWS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    NameAsc,
    NameDesc,
    Newest,
    Oldest,
}

impl Sort {
    fn by_date(self) -> bool {
        matches!(self, Self::Newest | Self::Oldest)
    }
}

/// The repository page.
#[component]
pub(crate) fn RepoPage() -> impl IntoView {
    let (reg, conn) = use_conn();
    let name = param("name");
    move || match conn.get() {
        Ok(conn) => view! { <TagTable conn=conn reg=reg.get() name=name.get() /> }.into_any(),
        Err(why) => view! { <NeedConnection why=why /> }.into_any(),
    }
}

#[component]
fn TagTable(conn: Conn, reg: String, name: String) -> impl IntoView {
    let repo = match conn.repo(&name) {
        Ok(repo) => repo,
        Err(e) => return view! { <ErrorView error=e /> }.into_any(),
    };
    let tags = RwSignal::new(Vec::<String>::new());
    let done = RwSignal::new(false);
    let error = RwSignal::new_local(None::<porthole_core::Error>);
    let acr = RwSignal::new(false);
    let loader = MetaLoader::new(conn.clone(), repo.clone());
    let meta = loader.meta;
    let finished = loader.finished;
    let stopper = loader.stopper();
    let loader = StoredValue::new_local(loader);
    let alive = Arc::new(AtomicBool::new(true));
    let sort = RwSignal::new(Sort::NameAsc);

    {
        let alive = alive.clone();
        let repo = repo.clone();
        let conn = conn.clone();
        spawn_local(async move {
            let mut request = PageRequest::default();
            loop {
                let page = repo.list_tags_page(&request).await;
                if !alive.load(Ordering::Relaxed) {
                    return;
                }
                match page {
                    Ok(page) => {
                        tags.update(|t| t.extend(page.items));
                        match page.continuation_token {
                            Some(token) if request.continuation_token.as_ref() != Some(&token) => {
                                request.continuation_token = Some(token);
                            }
                            _ => break,
                        }
                    }
                    Err(e) => {
                        error.set(Some(e));
                        break;
                    }
                }
            }
            done.set(true);
            // ACR: dates, sizes and platforms of every tag in one listing.
            let try_acr = conn.is_acr() || conn.client.is_acr().is_none();
            if try_acr {
                if let Ok(manifests) = repo
                    .list_manifest_properties(ArtifactOrder::LastUpdatedOnDescending)
                    .await
                {
                    let rows: Vec<(String, TagMeta)> = manifests
                        .into_iter()
                        .flat_map(|m| {
                            let platform = match (&m.operating_system, &m.architecture) {
                                (Some(os), Some(arch)) => vec![format!("{os}/{arch}")],
                                _ => m
                                    .related_artifacts
                                    .iter()
                                    .filter_map(|r| match (&r.operating_system, &r.architecture) {
                                        (Some(os), Some(arch)) if os != "unknown" => {
                                            Some(format!("{os}/{arch}"))
                                        }
                                        _ => None,
                                    })
                                    .collect(),
                            };
                            let kind = if m
                                .media_type
                                .as_deref()
                                .is_some_and(|t| t.contains("index") || t.contains("list"))
                            {
                                "index"
                            } else {
                                "image"
                            };
                            m.tags
                                .iter()
                                .map(move |t| {
                                    (
                                        t.clone(),
                                        TagMeta {
                                            digest: m.digest.clone(),
                                            size: m.size_in_bytes,
                                            platforms: platform.clone(),
                                            created: Some(m.created_on.clone()),
                                            updated: Some(m.last_updated_on.clone()),
                                            kind,
                                            error: None,
                                        },
                                    )
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    if alive.load(Ordering::Relaxed) {
                        acr.set(true);
                        loader.with_value(|l| l.insert_known(rows));
                        sort.set(Sort::Newest);
                    }
                }
            }
        });
    }
    on_cleanup(move || {
        alive.store(false, Ordering::Relaxed);
        stopper.store(false, Ordering::Relaxed);
    });

    let filter = RwSignal::new(String::new());
    let page = RwSignal::new(0usize);

    let ordered = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        let mut list: Vec<String> = tags.with(|t| {
            t.iter()
                .filter(|t| needle.is_empty() || t.to_lowercase().contains(&needle))
                .cloned()
                .collect()
        });
        match sort.get() {
            Sort::NameAsc => list.sort_by(|a, b| natural_cmp(a, b)),
            Sort::NameDesc => list.sort_by(|a, b| natural_cmp(b, a)),
            order @ (Sort::Newest | Sort::Oldest) => meta.with(|m| {
                let key = |t: &String| {
                    m.get(t)
                        .and_then(|x| x.updated.as_deref().or(x.created.as_deref()))
                        .and_then(date_millis)
                };
                list.sort_by(|a, b| {
                    let (ka, kb) = (key(a), key(b));
                    match (ka, kb) {
                        (Some(x), Some(y)) => {
                            let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                            if order == Sort::Newest {
                                o.reverse()
                            } else {
                                o
                            }
                        }
                        // Unknown dates go last.
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => natural_cmp(a, b),
                    }
                });
            }),
        }
        list
    });
    let pages = move || ordered.with(|l| l.len().div_ceil(PAGE_ROWS).max(1));
    let visible = Memo::new(move |_| {
        let p = page.get();
        ordered.with(|l| {
            l.iter()
                .skip(p * PAGE_ROWS)
                .take(PAGE_ROWS)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    // Look up the rows on screen first; with a date sort, every tag.
    Effect::new(move |_| {
        let rows = visible.get();
        let all = sort.get().by_date() && done.get();
        loader.with_value(|l| {
            l.want(rows.iter().cloned(), true);
            l.prioritize(&rows);
            if all {
                l.want(tags.get_untracked(), false);
            }
        });
    });
    Effect::new(move |_| {
        filter.track();
        sort.track();
        page.set(0);
    });

    let reg_rows = StoredValue::new(reg.clone());
    let name_rows = StoredValue::new(name.clone());
    let label = conn.saved.label.clone();

    view! {
        <section class="page repo">
            <Crumbs items=vec![
                ("Registries".into(), Some("/".into())),
                (label, Some(repos_href(&reg))),
                (name.clone(), None),
            ] />
            <div class="page-head">
                <h1 class="repo-name">{name.clone()}</h1>
                <p class="muted count" role="status" aria-live="polite">
                    {move || {
                        let total = tags.with(Vec::len);
                        let shown = ordered.with(Vec::len);
                        let more = if done.get() { "" } else { " (more loading…)" };
                        let known = meta.with(|m| m.len());
                        let dates = if sort.get().by_date() && !acr.get() && known < total {
                            format!(" · dates {} of {total}", finished.get().min(total))
                        } else {
                            String::new()
                        };
                        if shown == total {
                            format!("{total} tags{more}{dates}")
                        } else {
                            format!("{shown} of {total} tags{more}{dates}")
                        }
                    }}
                </p>
            </div>
            <UploadPanel conn=conn.clone() reg=reg.clone() name=name.clone() />
            <div class="toolbar">
                <label class="filter">
                    <span class="sr-only">"Filter tags"</span>
                    <input
                        id="filter"
                        type="search"
                        placeholder="Filter tags  ( / )"
                        aria-label="Filter tags"
                        prop:value=move || filter.get()
                        on:input=move |ev| filter.set(event_target_value(&ev))
                        on:keydown=move |ev| if ev.key() == "Escape" { filter.set(String::new()) }
                    />
                </label>
                <label class="sort">
                    <span>"Sort"</span>
                    <select
                        aria-label="Sort tags"
                        on:change=move |ev| {
                            sort.set(match event_target_value(&ev).as_str() {
                                "name-desc" => Sort::NameDesc,
                                "newest" => Sort::Newest,
                                "oldest" => Sort::Oldest,
                                _ => Sort::NameAsc,
                            })
                        }
                        prop:value=move || match sort.get() {
                            Sort::NameAsc => "name",
                            Sort::NameDesc => "name-desc",
                            Sort::Newest => "newest",
                            Sort::Oldest => "oldest",
                        }
                    >
                        <option value="name">"Name A–Z"</option>
                        <option value="name-desc">"Name Z–A"</option>
                        <option value="newest">"Newest first"</option>
                        <option value="oldest">"Oldest first"</option>
                    </select>
                </label>
            </div>
            {move || error.get().map(|e| view! { <ErrorView error=e /> })}
            <Show when=move || !done.get() && tags.with(Vec::is_empty)>
                <Loading what="tags" />
            </Show>
            <Show when=move || done.get() && tags.with(Vec::is_empty) && error.with(Option::is_none)>
                <p class="empty">"This repository has no tags."</p>
            </Show>
            <div class="table-wrap">
                <table class="tags" aria-label=format!("Tags of {name}")>
                    <thead>
                        <tr>
                            <th scope="col">"Tag"</th>
                            <th scope="col">"Digest"</th>
                            <th scope="col" class="num">"Size"</th>
                            <th scope="col">"Platforms"</th>
                            <th scope="col">"Created"</th>
                            <Show when=move || acr.get()>
                                <th scope="col">"Updated"</th>
                            </Show>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || visible.get()
                            key=|t| t.clone()
                            children=move |tag| {
                                let href = manifest_href(&reg_rows.get_value(), &name_rows.get_value(), &tag);
                                let t = tag.clone();
                                let row = Memo::new(move |_| meta.with(|m| m.get(&t).cloned()));
                                view! {
                                    <tr>
                                        <td class="tag-cell">
                                            <a class="row-link" data-row="" href=href>{tag.clone()}</a>
                                        </td>
                                        <td class="mono">
                                            {move || match row.get() {
                                                Some(m) if m.error.is_some() => view! {
                                                    <span class="warn" title=m.error.clone().unwrap_or_default()>"error"</span>
                                                }.into_any(),
                                                Some(m) => view! { <span title=m.digest.clone()>{short_digest(&m.digest)}</span> }.into_any(),
                                                None => view! { <Skeleton width=19 /> }.into_any(),
                                            }}
                                        </td>
                                        <td class="num">
                                            {move || match row.get() {
                                                Some(m) => m.size.map(human_size).unwrap_or_default().into_any(),
                                                None => view! { <Skeleton width=7 /> }.into_any(),
                                            }}
                                        </td>
                                        <td>
                                            {move || match row.get() {
                                                Some(m) => {
                                                    let kind = m.kind;
                                                    let list = m.platforms.join(", ");
                                                    view! {
                                                        <span class="platforms">
                                                            {(kind == "index").then(|| view! { <span class="badge">"index"</span> " " })}
                                                            {(kind == "artifact").then(|| view! { <span class="badge">"artifact"</span> " " })}
                                                            {list}
                                                        </span>
                                                    }.into_any()
                                                }
                                                None => view! { <Skeleton width=12 /> }.into_any(),
                                            }}
                                        </td>
                                        <td>
                                            {move || match row.get() {
                                                Some(m) => m.created.as_deref().map(short_date).unwrap_or_default().into_any(),
                                                None => view! { <Skeleton width=16 /> }.into_any(),
                                            }}
                                        </td>
                                        <Show when=move || acr.get()>
                                            <td>
                                                {move || row.get().and_then(|m| m.updated).as_deref().map(short_date).unwrap_or_default()}
                                            </td>
                                        </Show>
                                    </tr>
                                }
                            }
                        />
                    </tbody>
                </table>
            </div>
            <Show when=move || { pages() > 1 }>
                <nav class="pager" aria-label="Pages of tags">
                    <button
                        class="btn"
                        type="button"
                        disabled=move || page.get() == 0
                        on:click=move |_| page.update(|p| *p = p.saturating_sub(1))
                    >
                        "← Previous"
                    </button>
                    <span class="muted">{move || format!("Page {} of {}", page.get() + 1, pages())}</span>
                    <button
                        class="btn"
                        type="button"
                        disabled=move || page.get() + 1 >= pages()
                        on:click=move |_| page.update(|p| *p += 1)
                    >
                        "Next →"
                    </button>
                </nav>
            </Show>
        </section>
    }
    .into_any()
}
