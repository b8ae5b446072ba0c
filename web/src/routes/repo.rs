//! `/r/<reg>/repo/<name>`: a repository's tags with digest, size, platforms and dates, sortable
//! by name or date across all pages, filterable, rendered a page at a time.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use porthole_core::acr::ArtifactOrder;
use porthole_core::{PageGuard, PageRequest};

use crate::components::delete::{
    all_but_newest, plan_digest, plan_manifests, survivors, tied_note, undated_note, ConfirmDelete,
    Plan,
};
use crate::components::upload::UploadPanel;
use crate::components::{ErrorView, Loading, Skeleton};
use crate::meta::{MetaLoader, TagMeta};
use crate::pure::natural_cmp;
use crate::routes::{manifest_href, param, repos_href, use_conn, Crumbs, NeedConnection};
use crate::state::{remember_repository, Conn};
use crate::util::{announce, human_size, short_date, short_digest};

/// Why deleting a tag takes its manifest on distribution.
const DISTRIBUTION_NOTE: &str = "On this registry a tag cannot be deleted alone: the distribution \
     API deletes manifests by digest (deleting by tag is unsupported), so each manifest goes with \
     every tag on it.";

/// Rows per page of the table.
const PAGE_ROWS: usize = 100;

/// What the page says while a delete preview waits for every tag's manifest.
const PREPARING: &str = "Reading every tag's manifest for the preview…";

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
    // The registry knows no repository by this name (a typo, a deleted one, or one not yet
    // pushed to).
    let unknown = RwSignal::new(false);
    let error = RwSignal::new_local(None::<porthole_core::Error>);
    let acr = RwSignal::new(false);
    let loader = MetaLoader::new(conn.clone(), repo.clone());
    let meta = loader.meta;
    let finished = loader.finished;
    let stopper = loader.stopper();
    let loader = StoredValue::new_local(loader);
    let alive = Arc::new(AtomicBool::new(true));
    let sort = RwSignal::new(Sort::NameAsc);
    // Whether the user picked a sort (the ACR listing then leaves it alone).
    let sort_chosen = RwSignal::new(false);

    {
        let alive = alive.clone();
        let repo = repo.clone();
        let conn = conn.clone();
        let (reg, name) = (reg.clone(), name.clone());
        spawn_local(async move {
            let mut request = PageRequest::default();
            // Ends the listing where a registry would link on for ever.
            let mut guard = PageGuard::new();
            loop {
                let page = repo.list_tags_page(&request).await;
                if !alive.load(Ordering::Relaxed) {
                    return;
                }
                match page {
                    Ok(page) => {
                        if request.continuation_token.is_none() {
                            // Offered again on the repositories page, which a registry that
                            // refuses the catalog leaves empty.
                            remember_repository(&reg, &name);
                        }
                        let (items, next) = guard.take(page);
                        tags.update(|t| t.extend(items));
                        match next {
                            Some(token) => request.continuation_token = Some(token),
                            None => break,
                        }
                    }
                    // A repository nothing was pushed to yet (the upload's target) has no tags.
                    Err(e) if e.code() == "NAME_UNKNOWN" => {
                        unknown.set(true);
                        break;
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
                    // A tag's own date: one moved onto an older manifest is recent, which the
                    // manifest's date would not say (and "keep the newest" would drop it).
                    let tag_dates: HashMap<String, String> = repo
                        .list_tag_properties(ArtifactOrder::None)
                        .await
                        .map(|tags| {
                            tags.into_iter()
                                .map(|t| (t.name, t.last_updated_on))
                                .collect()
                        })
                        .unwrap_or_default();
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
                            let tag_dates = &tag_dates;
                            m.tags
                                .iter()
                                .map(move |t| {
                                    (
                                        t.clone(),
                                        TagMeta {
                                            digest: m.digest.clone(),
                                            size: m.size_in_bytes,
                                            // ACR's size of an index is every image's in it,
                                            // where the other registries' rows show one
                                            // platform's: the row says which it is.
                                            size_platform: (kind == "index")
                                                .then(|| "all platforms".to_owned()),
                                            platforms: platform.clone(),
                                            created: Some(m.created_on.clone()),
                                            updated: Some(
                                                tag_dates
                                                    .get(t)
                                                    .unwrap_or(&m.last_updated_on)
                                                    .clone(),
                                            ),
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
                        // Dates for every tag are in: newest first, unless a sort was chosen.
                        if !sort_chosen.get_untracked() {
                            sort.set(Sort::Newest);
                        }
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
                let key = |t: &String| m.get(t).and_then(TagMeta::date_millis);
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
    // A list that shrank (tags deleted from the last page) keeps the page within it.
    Effect::new(move |_| {
        let last = pages() - 1;
        if page.get_untracked() > last {
            page.set(last);
        }
    });

    let selected = RwSignal::new(HashSet::<String>::new());
    let plan = RwSignal::new(None::<Plan>);
    // A delete runs: no other preview may replace its dialog until it ends.
    let deleting = RwSignal::new(false);
    // What the user typed (kept as typed: a field cleared to type another number must not
    // snap back), read when the preview is asked for.
    let keep_text = RwSignal::new("3".to_owned());
    let keep_invalid = RwSignal::new(false);
    let keep_pending = RwSignal::new(None::<usize>);
    // Why a preview was refused: the listing failed part way, and a manifest delete planned on
    // part of the tags would take tags the preview does not show with it.
    let plan_refused = RwSignal::new(false);
    // Whether the preview about to be made must be refused (and says so, once it is).
    let refused_as_incomplete = move || {
        let incomplete = error.with_untracked(Option::is_some);
        if incomplete {
            plan_refused.set(true);
        }
        incomplete
    };
    let conn_acr = StoredValue::new_local(conn.clone());
    // Selected tags waiting for every tag's manifest to be known (to list all tags of each).
    let selected_pending = RwSignal::new(None::<Vec<String>>);
    let untag_only = RwSignal::new(false);
    // Keep-newest-N waits for every tag's date, then shows its preview.
    Effect::new(move |_| {
        let Some(n) = keep_pending.get() else { return };
        if !done.get() {
            return;
        }
        if refused_as_incomplete() {
            keep_pending.set(None);
            return;
        }
        let all = tags.get();
        let ready = meta.with(|m| all_but_newest(&all, m, n));
        if let Some(kept) = ready {
            keep_pending.set(None);
            let title = format!("Keep the newest {n} of {} tags", all.len());
            let keep = survivors(&kept);
            let mut p = meta.with(|m| plan_manifests(m, &kept.drop, &keep, title));
            p.notes.extend(tied_note(&kept.tied));
            p.notes.extend(undated_note(&kept.undated));
            plan.set(Some(p));
        }
    });
    // Whether the listing is complete and every tag's manifest known (tracked: a plan that
    // names all the tags of each manifest waits for it).
    let every_tag_known = move || {
        done.get() && {
            let all = tags.get();
            meta.with(|m| all.iter().all(|t| m.contains_key(t)))
        }
    };
    Effect::new(move |_| {
        let Some(chosen) = selected_pending.get() else {
            return;
        };
        if !every_tag_known() {
            return;
        }
        selected_pending.set(None);
        if refused_as_incomplete() {
            return;
        }
        let title = format!("Delete the manifests of {} selected tag(s)", chosen.len());
        let mut p = meta.with(|m| plan_manifests(m, &chosen, &HashSet::new(), title));
        if !acr.get_untracked() && !conn_acr.with_value(Conn::is_acr) {
            p.notes.insert(0, DISTRIBUTION_NOTE.into());
        }
        plan.set(Some(p));
    });
    let delete_tags = move |chosen: Vec<String>, untag: bool| {
        plan.set(None);
        plan_refused.set(false);
        let is_acr = acr.get_untracked() || conn_acr.with_value(Conn::is_acr);
        if is_acr && untag {
            plan.set(Some(Plan {
                untag: chosen,
                title: "Delete the selected tags".into(),
                ..Plan::default()
            }));
            return;
        }
        // Every tag's manifest, so that the preview names all the tags that go with each.
        loader.with_value(|l| l.want(tags.get_untracked(), false));
        selected_pending.set(Some(chosen));
    };
    let delete_selected = move || {
        let mut chosen: Vec<String> = selected.get_untracked().into_iter().collect();
        chosen.sort_by(|a, b| natural_cmp(a, b));
        delete_tags(chosen, untag_only.get_untracked());
    };
    // A manifest opened by digest: its plan waits for every tag's manifest (to name its tags).
    let digest_pending = RwSignal::new(None::<String>);
    // A preview waiting for every tag's manifest: said on the page and through its live region.
    let preparing = Memo::new(move |_| {
        keep_pending.with(Option::is_some)
            || selected_pending.with(Option::is_some)
            || digest_pending.with(Option::is_some)
    });
    Effect::new(move |_| {
        if preparing.get() {
            announce(PREPARING);
        }
    });
    Effect::new(move |_| {
        let Some(digest) = digest_pending.get() else {
            return;
        };
        if !every_tag_known() {
            return;
        }
        digest_pending.set(None);
        if refused_as_incomplete() {
            return;
        }
        plan.set(Some(meta.with(|m| plan_digest(m, &digest))));
    });
    // `?delete=<tag>` (and `&untag=1`) or `?delete-digest=<digest>`, from the manifest page's
    // delete buttons.
    {
        let search = window().location().search().unwrap_or_default();
        let mut asked = None;
        let mut asked_digest = None;
        let mut untag = false;
        for kv in search.trim_start_matches('?').split('&') {
            if let Some(t) = kv.strip_prefix("delete=") {
                asked = Some(porthole_core::url::percent_decode(t));
            } else if let Some(d) = kv.strip_prefix("delete-digest=") {
                asked_digest = Some(porthole_core::url::percent_decode(d));
            } else if kv == "untag=1" {
                untag = true;
            }
        }
        if asked.is_some() || asked_digest.is_some() {
            // Asked once: Back or a reload must not preview the delete again.
            let path = window().location().pathname().unwrap_or_default();
            crate::util::replace_address(&path);
        }
        if let Some(digest) = asked_digest {
            Effect::new(move |ran: Option<bool>| {
                if ran == Some(true) || !done.get() {
                    return ran.unwrap_or(false);
                }
                loader.with_value(|l| l.want(tags.get_untracked(), false));
                digest_pending.set(Some(digest.clone()));
                true
            });
        }
        if let Some(tag) = asked {
            selected.update(|s| {
                s.insert(tag.clone());
            });
            untag_only.set(untag);
            Effect::new(move |ran: Option<bool>| {
                if ran == Some(true) || !done.get() {
                    return ran.unwrap_or(false);
                }
                // ACR is known once its listing came (acr is set with the dates).
                delete_tags(vec![tag.clone()], untag);
                true
            });
        }
    }
    let conn_delete = conn.clone();
    let name_delete = name.clone();

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
                <p class="muted count">
                    // Announced when it changes; the dates' progress beside it is not (it
                    // moves every few hundred milliseconds).
                    <span role="status" aria-live="polite">
                        {move || {
                            let total = tags.with(Vec::len);
                            let shown = ordered.with(Vec::len);
                            let more = match (done.get(), error.with(Option::is_some)) {
                                (false, _) => " (more loading…)",
                                (true, true) => " listed (the list is incomplete: see below)",
                                (true, false) => "",
                            };
                            if shown == total {
                                format!("{total} tags{more}")
                            } else {
                                format!("{shown} of {total} tags{more}")
                            }
                        }}
                    </span>
                    {move || {
                        let total = tags.with(Vec::len);
                        let known = meta.with(|m| m.len());
                        (sort.get().by_date() && !acr.get() && known < total)
                            .then(|| format!(" · dates {} of {total}", finished.get().min(total)))
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
                            sort_chosen.set(true);
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
            <div class="bulk" role="group" aria-label="Delete">
                <button
                    class="btn"
                    type="button"
                    disabled=move || selected.with(HashSet::is_empty) || deleting.get()
                    on:click=move |_| delete_selected()
                >
                    {move || format!("Delete selected ({})", selected.with(HashSet::len))}
                </button>
                <Show when=move || acr.get()>
                    <label>
                        <input
                            type="checkbox"
                            prop:checked=move || untag_only.get()
                            on:change=move |ev| untag_only.set(event_target_checked(&ev))
                        />
                        " untag only (keep the manifests)"
                    </label>
                </Show>
                <label>
                    "Keep the newest "
                    <input
                        type="number"
                        min="0"
                        aria-label="How many of the newest tags to keep"
                        prop:value=move || keep_text.get()
                        on:input=move |ev| {
                            keep_invalid.set(false);
                            keep_text.set(event_target_value(&ev));
                        }
                    />
                </label>
                <button
                    class="btn"
                    type="button"
                    disabled=move || deleting.get()
                    on:click=move |_| {
                        plan.set(None);
                        plan_refused.set(false);
                        let Ok(n) = keep_text.get_untracked().trim().parse::<usize>() else {
                            keep_invalid.set(true);
                            return;
                        };
                        sort.set(Sort::Newest);
                        keep_pending.set(Some(n));
                    }
                >
                    "Preview deletion"
                </button>
                <Show when=move || keep_invalid.get()>
                    <span class="error-message" role="alert">
                        "Enter how many of the newest tags to keep: a whole number, 0 or more."
                    </span>
                </Show>
                <Show when=move || preparing.get()>
                    <span class="muted">{PREPARING}</span>
                </Show>
                <Show when=move || plan_refused.get()>
                    <p class="error-message" role="alert" data-testid="plan-refused">
                        "No preview: the tag list is incomplete (listing it failed, see below). \
                         Deleting a manifest deletes every tag on it, and tags not listed could \
                         go with it unseen. Reload the page to list the tags again, then delete."
                    </p>
                </Show>
            </div>
            <ConfirmDelete
                conn=conn_delete
                name=name_delete
                plan=plan
                tags=tags
                meta=meta
                selected=selected
                busy=deleting
            />
            {move || error.get().map(|e| view! { <ErrorView error=e /> })}
            <Show when=move || !done.get() && tags.with(Vec::is_empty)>
                <Loading what="tags" />
            </Show>
            <Show when=move || done.get() && tags.with(Vec::is_empty) && error.with(Option::is_none)>
                <p class="empty">
                    {move || if unknown.get() {
                        "The registry has no repository by this name (or your credentials do not \
                         let you see it). Files pushed from this page create it."
                    } else {
                        "This repository has no tags."
                    }}
                </p>
            </Show>
            <div class="table-wrap">
                <table class="tags" aria-label=format!("Tags of {name}")>
                    <thead>
                        <tr>
                            <th scope="col" class="select">
                                <span class="sr-only">"Select"</span>
                            </th>
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
                                let tag_retry = tag.clone();
                                let row = Memo::new(move |_| meta.with(|m| m.get(&t).cloned()));
                                view! {
                                    <tr>
                                        <td class="select">
                                            <input
                                                type="checkbox"
                                                aria-label=format!("Select {tag}")
                                                prop:checked={
                                                    let t = tag.clone();
                                                    move || selected.with(|s| s.contains(&t))
                                                }
                                                on:change={
                                                    let t = tag.clone();
                                                    move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        selected.update(|s| {
                                                            if on {
                                                                s.insert(t.clone());
                                                            } else {
                                                                s.remove(&t);
                                                            }
                                                        });
                                                    }
                                                }
                                            />
                                        </td>
                                        <td class="tag-cell">
                                            <a class="row-link" data-row="" href=href>{tag.clone()}</a>
                                        </td>
                                        <td class="mono">
                                            {move || match row.get() {
                                                // The manifest could not be read: why, and a way to try again.
                                                Some(m) if m.digest.is_empty() && m.error.is_some() => {
                                                    let why = m.error.clone().unwrap_or_default();
                                                    let again = tag_retry.clone();
                                                    view! {
                                                        <button
                                                            class="btn small warn"
                                                            type="button"
                                                            title=why.clone()
                                                            aria-label=format!("Look up {again} again (it failed: {why})")
                                                            on:click=move |_| loader.with_value(|l| l.retry(&again))
                                                        >
                                                            "error · retry"
                                                        </button>
                                                        // Readable without a mouse to hover with.
                                                        <details class="why">
                                                            <summary>"why"</summary>
                                                            <p>{why.clone()}</p>
                                                        </details>
                                                    }.into_any()
                                                }
                                                // The manifest is known, its details are not (an index child or a config gone).
                                                Some(m) if m.error.is_some() => view! {
                                                    <span title=m.digest.clone()>{short_digest(&m.digest)}</span>
                                                    " "
                                                    <details class="why">
                                                        <summary class="warn">"details unreadable"</summary>
                                                        <p>{m.error.clone().unwrap_or_default()}</p>
                                                    </details>
                                                }.into_any(),
                                                Some(m) => view! { <span title=m.digest.clone()>{short_digest(&m.digest)}</span> }.into_any(),
                                                None => view! { <Skeleton width=19 /> }.into_any(),
                                            }}
                                        </td>
                                        <td class="num">
                                            {move || match row.get() {
                                                // An index's size is its first platform's: say which.
                                                Some(m) => {
                                                    let size = m.size.map(human_size).unwrap_or_default();
                                                    let of = m.size_platform.filter(|_| m.platforms.len() > 1);
                                                    view! {
                                                        {size}
                                                        {of.map(|p| view! { <span class="muted size-of">{format!(" ({p})")}</span> })}
                                                    }.into_any()
                                                }
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
                        disabled=move || { page.get() + 1 >= pages() }
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
