//! Deleting from the repository page: the selected tags, all but the newest N, or one manifest
//! by digest, always as a preview of every manifest and every tag that goes with it, confirmed
//! once.

use std::collections::{BTreeMap, HashMap, HashSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use porthole_browser::FetchTransport;
use porthole_core::{Digest, Error, Repository, Tag, TagOrDigest};
use wasm_bindgen::JsCast;

use crate::components::explained;
use crate::meta::TagMeta;
use crate::pure::{split_newest, NewestSplit};
use crate::state::Conn;
use crate::util::short_digest;

/// An error from a delete, explained in words.
pub(crate) fn explain(error: &Error) -> String {
    let code = error.code();
    let status = error.status();
    let why = match (status, code) {
        // ACR's answer to a lock, whose message does not say "lock".
        (Some(405), "REGISTRY_DISALLOWED_OPERATION") => {
            "It is locked: deleteEnabled (or writeEnabled) is off on it, or on its repository. \
             Unlock it in its manifest page's locks (tag, manifest and repository), then delete \
             again."
        }
        (Some(403), "DENIED") if error.to_string().contains("lock") => {
            "It is locked: its deleteEnabled (or writeEnabled) property is off. Unlock it in \
             its manifest page's locks, then delete again."
        }
        (Some(405), _) | (_, "UNSUPPORTED") => {
            "The registry does not allow deletes: its operator has them disabled (for \
             distribution, storage.delete.enabled: true in its configuration)."
        }
        (Some(401), _) | (_, "AUTH_FAILED") => {
            "Your sign-in was refused or has expired (an Entra ID token lasts about an hour): \
             connect again, then delete again."
        }
        (Some(403), _) => {
            "Your credentials do not allow deleting here (the token lacks the delete scope)."
        }
        (Some(404), _) => "It is already gone.",
        _ => "",
    };
    explained(error, why)
}

/// What a confirmation deletes: manifests with all their tags, or (ACR) tags alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Plan {
    /// Manifest digest → every tag on it (known in this listing).
    pub(crate) manifests: BTreeMap<String, Vec<String>>,
    /// ACR: remove these tags only, leaving their manifests.
    pub(crate) untag: Vec<String>,
    /// Tags kept although asked for, and why.
    pub(crate) notes: Vec<String>,
    /// A title for the preview.
    pub(crate) title: String,
}

/// Every tag by manifest digest, from what is known of the tags.
fn by_digest(meta: &HashMap<String, TagMeta>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    // A row whose size or date lookup failed (an index child or a config gone) still knows its
    // manifest's digest, and may be deleted by it.
    for (tag, m) in meta {
        if !m.digest.is_empty() {
            map.entry(m.digest.clone()).or_default().push(tag.clone());
        }
    }
    for tags in map.values_mut() {
        tags.sort();
    }
    map
}

/// The plan for deleting the manifests of `chosen` (with every tag that goes with them);
/// `keep` are tags that must survive (a manifest they share is left alone).
pub(crate) fn plan_manifests(
    meta: &HashMap<String, TagMeta>,
    chosen: &[String],
    keep: &HashSet<String>,
    title: String,
) -> Plan {
    let tags_of = by_digest(meta);
    let mut plan = Plan {
        title,
        ..Plan::default()
    };
    for tag in chosen {
        let Some(m) = meta.get(tag).filter(|m| !m.digest.is_empty()) else {
            let why = match meta.get(tag).and_then(|m| m.error.as_deref()) {
                Some(error) => format!("its manifest could not be read ({error})"),
                None => "its manifest is not known yet".to_owned(),
            };
            plan.notes.push(format!("{tag}: {why}; left alone."));
            continue;
        };
        let all = tags_of.get(&m.digest).cloned().unwrap_or_default();
        if let Some(kept) = all.iter().find(|t| keep.contains(*t)) {
            plan.notes.push(format!(
                "{tag}: kept, its manifest is also tagged {kept}, which stays."
            ));
            continue;
        }
        plan.manifests.insert(m.digest.clone(), all);
    }
    plan
}

/// The plan for deleting the manifest `digest` (opened by digest), with every tag on it that
/// this listing knows.
pub(crate) fn plan_digest(meta: &HashMap<String, TagMeta>, digest: &str) -> Plan {
    let tags = by_digest(meta).remove(digest).unwrap_or_default();
    let mut plan = Plan {
        title: format!("Delete manifest {}", short_digest(digest)),
        ..Plan::default()
    };
    plan.manifests.insert(digest.to_owned(), tags);
    plan
}

/// What keeping the newest `n` tags means for each tag, by date (updated, else created);
/// `None` while some tags are not looked up yet.
pub(crate) fn all_but_newest(
    tags: &[String],
    meta: &HashMap<String, TagMeta>,
    n: usize,
) -> Option<NewestSplit> {
    let dated = tags
        .iter()
        .map(|t| Some((t.clone(), meta.get(t)?.date_millis())))
        .collect::<Option<Vec<_>>>()?;
    Some(split_newest(dated, n))
}

/// Every tag a keep-newest run must leave: the kept and the undated (a manifest one of them
/// shares is left alone).
pub(crate) fn survivors(split: &NewestSplit) -> HashSet<String> {
    split.keep.iter().chain(&split.undated).cloned().collect()
}

/// The preview's note on tags kept because they share the date of the `n`th newest.
pub(crate) fn tied_note(tied: &[String]) -> Option<String> {
    (!tied.is_empty()).then(|| {
        format!(
            "Kept, they have the same date as the last of the newest kept, so none of them is \
             older: {}.",
            named_few(tied)
        )
    })
}

/// The first few names, and how many more.
fn named_few(names: &[String]) -> String {
    const NAMED: usize = 10;
    let (first, rest) = names.split_at(names.len().min(NAMED));
    let more = match rest.len() {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!("{}{more}", first.join(", "))
}

/// The preview's note on tags kept for want of a date (the first few named).
pub(crate) fn undated_note(undated: &[String]) -> Option<String> {
    (!undated.is_empty()).then(|| {
        format!(
            "Kept, their date is not known (an artifact, a config without a build date, or a \
             placeholder date from a reproducible build, such as 1970 or 1980): {}.",
            named_few(undated)
        )
    })
}

/// One delete of a plan.
enum Step {
    /// A tag alone (ACR).
    Untag(String),
    /// A manifest, by digest, with every tag on it.
    Manifest(String, Vec<String>),
}

/// A plan's deletes in the order they run: tags alone first, then manifests.
fn steps_of(plan: &Plan) -> Vec<Step> {
    let untags = plan.untag.iter().cloned().map(Step::Untag);
    let manifests = plan
        .manifests
        .iter()
        .map(|(digest, tags)| Step::Manifest(digest.clone(), tags.clone()));
    untags.chain(manifests).collect()
}

/// How a delete ended: done, or done already (404: by someone else, or by an earlier run of
/// this plan whose other deletes failed).
enum Deleted {
    Now,
    AlreadyGone,
}

fn gone_already(result: Result<(), Error>) -> Result<Deleted, Error> {
    match result {
        Ok(()) => Ok(Deleted::Now),
        Err(e) if e.status() == Some(404) => Ok(Deleted::AlreadyGone),
        Err(e) => Err(e),
    }
}

async fn untag(repo: &Repository<FetchTransport>, tag: &str) -> Result<Deleted, String> {
    let explained = |e: Error| format!("Tag {tag}: {}", explain(&e));
    let tag = Tag::parse(tag).map_err(explained)?;
    let result = repo
        .artifact(TagOrDigest::Tag(tag.clone()))
        .delete_tag(&tag)
        .await;
    gone_already(result).map_err(explained)
}

/// Deletes manifest `digest` once its tags (as the preview listed them) are seen to still
/// point at it: a tag moved since the page read it would otherwise go with a manifest the user
/// no longer meant, or stay while the table drops it.
async fn delete_manifest(
    repo: &Repository<FetchTransport>,
    digest: &str,
    tags: &[String],
) -> Result<Deleted, String> {
    let digest = Digest::parse(digest).map_err(|e| explain(&e))?;
    for tag in tags {
        let reference = Tag::parse(tag)
            .map(TagOrDigest::Tag)
            .map_err(|e| explain(&e))?;
        match repo.head_manifest(&reference).await {
            Ok(Some(now)) if now.digest != digest => {
                return Err(format!(
                    "not deleted: tag {tag} now points at another manifest ({}), so the preview \
                     is out of date. Reload the page and preview again.",
                    short_digest(now.digest.as_str())
                ))
            }
            // Still here, or gone meanwhile: nothing moved onto another manifest.
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "not deleted: checking that tag {tag} still points at it failed: {}",
                    explain(&e)
                ))
            }
        }
    }
    let result = repo.delete_manifest(&TagOrDigest::Digest(digest)).await;
    gone_already(result).map_err(|e| explain(&e))
}

/// The plan without the steps that are done (what a retry after a partial failure still has to
/// do).
fn without_done(mut plan: Plan, done: &[&Step]) -> Plan {
    for step in done {
        match step {
            Step::Untag(tag) => plan.untag.retain(|t| t != tag),
            Step::Manifest(digest, _) => {
                plan.manifests.remove(digest);
            }
        }
    }
    plan
}

/// The preview of a plan, with its confirm and cancel buttons, and the outcome: a run can be
/// stopped between two deletes, and shows how far it got.
#[component]
pub(crate) fn ConfirmDelete(
    conn: Conn,
    name: String,
    plan: RwSignal<Option<Plan>>,
    tags: RwSignal<Vec<String>>,
    meta: RwSignal<HashMap<String, TagMeta>>,
    selected: RwSignal<HashSet<String>>,
    /// Whether a delete runs (the page holds its other delete buttons meanwhile).
    busy: RwSignal<bool>,
) -> impl IntoView {
    // Set by Stop while deleting: the run ends before its next delete.
    let stopping = RwSignal::new(false);
    // The preview takes the focus when it opens (a keyboard user is taken to what to confirm)
    // and gives it back to what had it when it closes.
    let dialog = NodeRef::<leptos::html::Div>::new();
    let opener = StoredValue::new_local(None::<web_sys::HtmlElement>);
    Effect::new(move |_| {
        let Some(div) = dialog.get() else { return };
        if opener.with_value(Option::is_none) {
            let before = document().active_element();
            opener.set_value(before.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()));
        }
        let _ = div.focus();
    });
    Effect::new(move |_| {
        if plan.with(Option::is_some) {
            return;
        }
        let before = opener.try_update_value(Option::take).flatten();
        if let Some(element) = before.filter(|e| e.is_connected()) {
            let _ = element.focus();
        }
    });
    let progress = RwSignal::new((0usize, 0usize));
    let outcome = RwSignal::new(Vec::<(bool, String)>::new());
    let conn = StoredValue::new_local(conn);
    let name = StoredValue::new(name);

    let run = move || {
        let Some(p) = plan.get_untracked() else {
            return;
        };
        busy.set(true);
        stopping.set(false);
        outcome.set(Vec::new());
        spawn_local(async move {
            let conn = conn.get_value();
            let repo_name = name.get_value();
            let repo = match conn.repo(&repo_name) {
                Ok(r) => r,
                Err(e) => {
                    outcome.set(vec![(false, explain(&e))]);
                    busy.set(false);
                    return;
                }
            };
            let steps = steps_of(&p);
            let mut done_steps: Vec<&Step> = Vec::new();
            let mut gone: Vec<String> = Vec::new();
            let mut lines = Vec::new();
            for (done, step) in steps.iter().enumerate() {
                progress.set((done, steps.len()));
                // Read with `try_`: the page may have been left, and what was confirmed goes on.
                if stopping.try_get_untracked().unwrap_or(false) {
                    let left = steps.len() - done;
                    lines.push((
                        false,
                        format!("Stopped: {left} left as they were (not deleted)."),
                    ));
                    break;
                }
                let line = match step {
                    Step::Untag(tag) => untag(&repo, tag).await.map(|how| {
                        gone.push(tag.clone());
                        match how {
                            Deleted::Now => format!("Tag {tag} deleted."),
                            Deleted::AlreadyGone => format!("Tag {tag} was already gone."),
                        }
                    }),
                    Step::Manifest(digest, tag_list) => {
                        let label = format!("{} ({})", short_digest(digest), tag_list.join(", "));
                        match delete_manifest(&repo, digest, tag_list).await {
                            Ok(how) => {
                                gone.extend(tag_list.iter().cloned());
                                conn.forget_manifest(&repo_name, digest);
                                Ok(match how {
                                    Deleted::Now => format!("Manifest {label} deleted."),
                                    Deleted::AlreadyGone => {
                                        format!("Manifest {label} was already gone.")
                                    }
                                })
                            }
                            Err(e) => Err(format!("Manifest {label}: {e}")),
                        }
                    }
                };
                if line.is_ok() {
                    done_steps.push(step);
                }
                lines.push(match line {
                    Ok(text) => (true, text),
                    Err(text) => (false, text),
                });
                outcome.set(lines.clone());
            }
            let gone: HashSet<String> = gone.into_iter().collect();
            tags.update(|t| t.retain(|t| !gone.contains(t)));
            meta.update(|m| m.retain(|t, _| !gone.contains(t)));
            selected.update(|s| s.retain(|t| !gone.contains(t)));
            let failed = lines.iter().any(|(ok, _)| !ok);
            let stopped = stopping.try_get_untracked().unwrap_or(false);
            outcome.set(lines);
            busy.set(false);
            stopping.set(false);
            if !failed || stopped {
                plan.set(None);
            } else {
                // Delete again does only what is left.
                plan.set(Some(without_done(p, &done_steps)));
            }
        });
    };

    view! {
        {move || {
            plan.get()
                .map(|p| {
                    let count = p.manifests.len();
                    let untag = p.untag.len();
                    let nothing = count == 0 && untag == 0;
                    let manifests = p
                        .manifests
                        .iter()
                        .map(|(digest, tag_list)| {
                            view! {
                                <li data-digest=digest.clone()>
                                    <span class="mono" title=digest.clone()>{short_digest(digest)}</span>
                                    " — tags: "
                                    {if tag_list.is_empty() { "(none)".to_owned() } else { tag_list.join(", ") }}
                                </li>
                            }
                        })
                        .collect_view();
                    let untags = p
                        .untag
                        .iter()
                        .map(|t| view! { <li>{format!("tag {t} (its manifest stays)")}</li> })
                        .collect_view();
                    let notes = p.notes.iter().map(|n| view! { <li class="muted">{n.clone()}</li> }).collect_view();
                    view! {
                        <div class="confirm" role="dialog" aria-label="Confirm deletion" tabindex="-1" node_ref=dialog>
                            <h2>{p.title.clone()}</h2>
                            <p>
                                {if nothing {
                                    "Nothing to delete.".to_owned()
                                } else if untag > 0 {
                                    format!("Delete {untag} tag(s)? This cannot be undone.")
                                } else {
                                    format!(
                                        "Delete {count} manifest(s) with every tag on them? This cannot be undone.",
                                    )
                                }}
                            </p>
                            <ul class="plan">{manifests}{untags}{notes}</ul>
                            <button
                                class="btn danger"
                                type="button"
                                disabled=move || busy.get() || nothing
                                on:click=move |_| run()
                            >
                                {move || {
                                    if busy.get() {
                                        let (done, all) = progress.get();
                                        format!("Deleting… ({done} of {all} done)")
                                    } else {
                                        "Delete".to_owned()
                                    }
                                }}
                            </button>
                            " "
                            <button
                                class="btn"
                                type="button"
                                disabled=move || stopping.get()
                                on:click=move |_| {
                                    if busy.get_untracked() {
                                        stopping.set(true);
                                    } else {
                                        plan.set(None);
                                        outcome.set(Vec::new());
                                    }
                                }
                            >
                                {move || match (busy.get(), stopping.get()) {
                                    (true, false) => "Stop",
                                    (true, true) => "Stopping…",
                                    _ => "Cancel",
                                }}
                            </button>
                        </div>
                    }
                })
        }}
        // Always in the page, empty until a run ends: a live region inserted together with its
        // text is often not announced.
        <ul class="outcome" role="status" aria-live="polite">
            {move || {
                outcome
                    .get()
                    .into_iter()
                    .map(|(ok, line)| {
                        view! {
                            <li class=if ok { "result-ok" } else { "error-message" }>{line}</li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
    }
}
