//! `/r/<reg>/manifest/<name>:<tag>` (or `@<digest>`): one manifest. Its digest and pull
//! command; an index per platform with attestations folded away; an image's layers with a
//! chart and its config (env, labels, history); referrers; annotations; ACR locks; the raw JSON;
//! every blob downloadable, verified.

use std::collections::HashMap;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::{spawn_local, spawn_local_scoped_with_cancellation};
use porthole_browser::FetchTransport;
use porthole_core::acr::{
    ChangeableAttributes, ManifestProperties, RepositoryProperties, TagProperties,
};
use porthole_core::{
    Descriptor, Digest, ImageIndex, ImageManifest, Manifest, ManifestKind, Repository, Tag,
    TagOrDigest,
};
use serde_json::Value;

use crate::components::json_view::JsonView;
use crate::components::locks::{LockTarget, LockToggles};
use crate::components::{CopyButton, ErrorView, Loading};
use crate::meta::{self, is_attestation, is_image_config, platform_of};
use crate::pure::artifact_kind;
use crate::routes::{
    manifest_href, param, repo_href, repos_href, split_reference, use_conn, Crumbs, NeedConnection,
};
use crate::state::Conn;
use crate::util::{
    announce, blob_file_name, download_blob, human_size, save_bytes, short_date, short_digest,
    DownloadHooks,
};

/// Raw JSON shown without asking up to this size.
const RAW_OPEN_BYTES: usize = 64 * 1024;

/// The manifest page.
#[component]
pub(crate) fn ManifestPage() -> impl IntoView {
    let (reg, conn) = use_conn();
    let tail = param("reference");
    move || match conn.get() {
        Ok(conn) => match split_reference(&tail.get()) {
            Some((name, reference)) => {
                view! { <ManifestView conn=conn reg=reg.get() name=name reference=reference /> }
                    .into_any()
            }
            None => view! {
                <p class="notice" role="alert">
                    "This address names no manifest: it should end in name:tag or name@digest."
                </p>
            }
            .into_any(),
        },
        Err(why) => view! { <NeedConnection why=why /> }.into_any(),
    }
}

/// Download state of blobs, by digest.
type Downloads = RwSignal<HashMap<String, Result<String, String>>>;

#[component]
fn ManifestView(conn: Conn, reg: String, name: String, reference: String) -> impl IntoView {
    let parsed = TagOrDigest::parse(&reference);
    let repo = conn.repo(&name);
    let (repo, parsed) = match (repo, parsed) {
        (Ok(r), Ok(p)) => (r, p),
        (Err(e), _) | (_, Err(e)) => return view! { <ErrorView error=e /> }.into_any(),
    };
    let manifest = RwSignal::new_local(None::<Result<Rc<Manifest>, porthole_core::Error>>);
    {
        let conn = conn.clone();
        let repo = repo.clone();
        let parsed = parsed.clone();
        spawn_local(async move {
            let m = meta::manifest(&conn, &repo, &parsed).await;
            manifest.set(Some(m));
        });
    }
    let ctx = StoredValue::new_local((conn.clone(), repo.clone()));
    let downloads: Downloads = RwSignal::new(HashMap::new());
    let label = conn.saved.label.clone();
    let is_tag = !reference.contains(':');
    let title = if is_tag {
        format!("{name}:{reference}")
    } else {
        format!("{name}@{}", short_digest(&reference))
    };
    let reg2 = reg.clone();
    let name2 = name.clone();
    let reference2 = reference.clone();
    view! {
        <section class="page manifest">
            <Crumbs items=vec![
                ("Registries".into(), Some("/".into())),
                (label, Some(repos_href(&reg))),
                (name.clone(), Some(repo_href(&reg, &name))),
                (if is_tag { reference.clone() } else { short_digest(&reference) }, None),
            ] />
            <h1 class="manifest-title">{title}</h1>
            {move || match manifest.get() {
                None => view! { <Loading what="the manifest" /> }.into_any(),
                Some(Err(e)) => view! { <ErrorView error=e /> }.into_any(),
                Some(Ok(m)) => {
                    let (conn, repo) = ctx.get_value();
                    view! {
                        <ManifestBody
                            conn=conn
                            repo=repo
                            reg=reg2.clone()
                            name=name2.clone()
                            reference=reference2.clone()
                            manifest=m
                            downloads=downloads
                        />
                    }
                    .into_any()
                }
            }}
        </section>
    }
    .into_any()
}

#[component]
fn ManifestBody(
    conn: Conn,
    repo: Repository<FetchTransport>,
    reg: String,
    name: String,
    reference: String,
    manifest: Rc<Manifest>,
    downloads: Downloads,
) -> impl IntoView {
    let digest = manifest.digest.to_string();
    let host = conn.saved.pull_host();
    let pull_digest = format!("docker pull {host}/{name}@{digest}");
    let pull_tag =
        (!reference.contains(':')).then(|| format!("docker pull {host}/{name}:{reference}"));
    let raw_text = String::from_utf8_lossy(&manifest.raw).into_owned();
    let raw_len = manifest.raw.len();
    // The exact bytes: copied as text only when they are text (a lossy copy would not hash to
    // the digest), downloaded always.
    let raw_copy = std::str::from_utf8(&manifest.raw).ok().map(str::to_owned);
    let raw_bytes = StoredValue::new(manifest.raw.to_vec());
    let raw_file_name = format!("{}.json", manifest.digest.as_str().replace(':', "-"));
    let raw_saved = RwSignal::new(None::<Result<(), String>>);
    let show_raw = RwSignal::new(raw_len <= RAW_OPEN_BYTES);
    let kind_label = match &manifest.parsed {
        ManifestKind::Image(i) if i.artifact_type.is_some() => "artifact manifest",
        ManifestKind::Image(_) => "image manifest",
        ManifestKind::Index(_) => "index",
        ManifestKind::Other(_) => "manifest of an unknown kind",
    };
    let stored = StoredValue::new_local((conn.clone(), repo.clone()));

    let body = match &manifest.parsed {
        ManifestKind::Index(index) => {
            view! { <IndexView conn=conn.clone() repo=repo.clone() index=index.clone() reg=reg.clone() name=name.clone() /> }.into_any()
        }
        ManifestKind::Image(image) => view! {
            <ImageView conn=conn.clone() repo=repo.clone() image=image.clone() downloads=downloads />
        }
        .into_any(),
        ManifestKind::Other(_) => ().into_any(),
    };
    let subject = manifest.subject().cloned().map(|s| {
        let href = manifest_href(&reg, &name, s.digest.as_str());
        view! {
            <section class="card" aria-labelledby="subject-title">
                <h2 id="subject-title">"Refers to"</h2>
                <p>
                    "This artifact's subject is "
                    <a href=href class="mono">{s.digest.to_string()}</a>
                </p>
            </section>
        }
    });
    let annotations = match &manifest.parsed {
        ManifestKind::Image(i) => i.annotations.clone(),
        ManifestKind::Index(i) => i.annotations.clone(),
        ManifestKind::Other(_) => Default::default(),
    };
    let annotations_view = (!annotations.is_empty()).then(|| {
        let count = annotations.len();
        let rows = annotations
            .into_iter()
            .take(500)
            .map(|(k, v)| view! { <tr><th scope="row" class="mono">{k}</th><td class="wrap">{v}</td></tr> })
            .collect_view();
        view! {
            <section class="card" aria-labelledby="ann-title">
                <h2 id="ann-title">{format!("Annotations ({count})")}</h2>
                {(count > 500).then(|| view! { <p class="muted">"The first 500 are shown; all are in the manifest JSON below."</p> })}
                <div class="table-wrap">
                    <table class="kv"><tbody>{rows}</tbody></table>
                </div>
            </section>
        }
    });
    let subject_digest = manifest.digest.clone();
    let is_acr = acr_status(&conn, &repo, &reference);
    let reference_for_acr = reference.clone();
    let subject_digest_for_acr = manifest.digest.clone();
    let delete_by_digest = Tag::parse(&reference).is_err().then(|| {
        let href = format!(
            "{}?delete-digest={}",
            repo_href(&reg, &name),
            porthole_core::url::percent_encode(&digest)
        );
        view! {
            <section class="card" aria-labelledby="delete-title" data-testid="delete-card">
                <h2 id="delete-title">"Delete"</h2>
                <p class="muted">
                    "Deleting this manifest also removes every tag that points at it; the \
                     preview names them. An index that lists it keeps pointing at a manifest \
                     that is gone."
                </p>
                <p>
                    <a class="btn danger" href=href>"Delete this manifest…"</a>
                </p>
            </section>
        }
    });
    let delete_view = Tag::parse(&reference).ok().map(|tag| {
        let base = repo_href(&reg, &name);
        let t = porthole_core::url::percent_encode(tag.as_str());
        let whole = format!("{base}?delete={t}");
        let only = format!("{base}?delete={t}&untag=1");
        view! {
            <section class="card" aria-labelledby="delete-title" data-testid="delete-card">
                <h2 id="delete-title">"Delete"</h2>
                {move || if is_acr.get() {
                    view! {
                        <p>
                            <a class="btn" href=only.clone()>{format!("Delete tag {tag} only…")}</a>
                            " "
                            <a class="btn danger" href=whole.clone()>"Delete the manifest and all its tags…"</a>
                        </p>
                    }
                    .into_any()
                } else {
                    view! {
                        <p class="muted">
                            {format!(
                                "A tag cannot be deleted alone on this registry: the distribution API \
                                 deletes manifests by digest (deleting by tag is unsupported). You can \
                                 delete the manifest {tag} points at, with every tag on it.",
                            )}
                        </p>
                        <p>
                            <a class="btn danger" href=whole.clone()>"Delete the manifest and all its tags…"</a>
                        </p>
                    }
                    .into_any()
                }}
            </section>
        }
    });

    view! {
        <div class="facts card">
            <dl>
                <dt>"Digest"</dt>
                <dd class="digest-line">
                    <code class="mono" data-testid="digest">{digest.clone()}</code>
                    <CopyButton text=digest.clone() label="Copy the digest" />
                </dd>
                <dt>"Type"</dt>
                <dd>{kind_label} " · " <span class="mono">{manifest.media_type.as_str().to_owned()}</span></dd>
                <dt>"Manifest size"</dt>
                <dd>{human_size(raw_len as u64)}</dd>
                {declared_artifact_type(&manifest).map(|t| view! { <dt>"Artifact type"</dt><dd class="mono">{t.as_str().to_owned()}</dd> })}
                <dt>"Pull"</dt>
                <dd class="pull">
                    {pull_tag.map(|p| view! {
                        <div class="cmd"><code>{p.clone()}</code><CopyButton text=p label="Copy the pull command by tag" /></div>
                    })}
                    <div class="cmd"><code>{pull_digest.clone()}</code><CopyButton text=pull_digest label="Copy the pull command by digest" /></div>
                </dd>
            </dl>
        </div>
        {move || is_acr.get().then(|| {
            let (conn, repo) = stored.get_value();
            view! { <AcrLocks conn=conn repo=repo reference=reference_for_acr.clone() digest=subject_digest_for_acr.clone() /> }
        })}
        {subject}
        {body}
        {
            let (conn, repo) = stored.get_value();
            view! { <Referrers conn=conn repo=repo subject=subject_digest reg=reg.clone() name=name.clone() /> }
        }
        {annotations_view}
        {delete_view}
        {delete_by_digest}
        <section class="card" aria-labelledby="raw-title">
            <h2 id="raw-title">"Manifest JSON"</h2>
            <p class="muted small">
                "Shown re-indented. Copy and Download give the exact bytes the registry sent, \
                 which hash to the digest above."
            </p>
            <p class="raw-actions">
                {raw_copy.map(|text| view! { <CopyButton text=text label="Copy the manifest's exact bytes" /> })}
                <button class="btn small" type="button" on:click=move |_| {
                    raw_saved.set(Some(raw_bytes.with_value(|b| save_bytes(b, &raw_file_name))));
                }>
                    "Download"
                </button>
                {move || raw_saved.get().and_then(Result::err).map(|why| view! {
                    <span class="warn small" role="alert">{format!("Not saved: {why}")}</span>
                })}
            </p>
            <Show
                when=move || show_raw.get()
                fallback=move || view! {
                    <button class="btn" type="button" on:click=move |_| show_raw.set(true)>
                        {format!("Show the raw JSON ({})", human_size(raw_len as u64))}
                    </button>
                }
            >
                <JsonView text=raw_text.clone() label="Manifest JSON" />
            </Show>
        </section>
    }
}

/// The artifact type the manifest declares (not the config type the spec falls back to).
fn declared_artifact_type(manifest: &Manifest) -> Option<porthole_core::MediaType> {
    match &manifest.parsed {
        ManifestKind::Image(i) => i.artifact_type.clone(),
        ManifestKind::Index(i) => i.artifact_type.clone(),
        ManifestKind::Other(_) => None,
    }
}

/// A badge per lock.
fn lock_badges(attrs: &ChangeableAttributes) -> impl IntoView {
    let mut badges = Vec::new();
    if attrs.can_delete == Some(false) {
        badges.push("delete locked");
    }
    if attrs.can_write == Some(false) {
        badges.push("write locked");
    }
    if attrs.can_read == Some(false) {
        badges.push("read locked");
    }
    if attrs.can_list == Some(false) {
        badges.push("hidden from listings");
    }
    if badges.is_empty() {
        view! { <span class="muted">"no locks"</span> }.into_any()
    } else {
        badges
            .into_iter()
            .map(|b| view! { <span class="badge lock">"🔒 " {b}</span> " " })
            .collect_view()
            .into_any()
    }
}

/// ACR tag, manifest and repository properties: locks (editable) and dates.
/// Whether the registry is an ACR, as a signal: known from how the user connected or from an
/// earlier listing, else found out by reading this manifest's ACR properties (a page opened by
/// its address, connected with a username and password, has listed nothing yet).
fn acr_status(conn: &Conn, repo: &Repository<FetchTransport>, reference: &str) -> RwSignal<bool> {
    let is_acr = RwSignal::new(conn.is_acr());
    let unknown = conn.client.is_acr().is_none() && !is_acr.get_untracked();
    if let (true, Ok(target)) = (unknown, TagOrDigest::parse(reference)) {
        let artifact = repo.artifact(target);
        spawn_local(async move {
            if artifact.get_manifest_properties().await.is_ok() {
                is_acr.set(true);
            }
        });
    }
    is_acr
}

#[component]
fn AcrLocks(
    conn: Conn,
    repo: Repository<FetchTransport>,
    reference: String,
    /// The manifest shown: its locks are read and changed by digest, since its tag may move
    /// to another manifest while the page is open.
    digest: Digest,
) -> impl IntoView {
    let _ = conn;
    let tag_props = RwSignal::new_local(None::<Result<TagProperties, porthole_core::Error>>);
    let manifest_props =
        RwSignal::new_local(None::<Result<ManifestProperties, porthole_core::Error>>);
    let repo_props =
        RwSignal::new_local(None::<Result<RepositoryProperties, porthole_core::Error>>);
    let tag_attrs = RwSignal::new(ChangeableAttributes::default());
    let manifest_attrs = RwSignal::new(ChangeableAttributes::default());
    let repo_attrs = RwSignal::new(ChangeableAttributes::default());
    let tag = Tag::parse(&reference).ok();
    let target_ref = TagOrDigest::Digest(digest);
    {
        let artifact = repo.artifact(target_ref.clone());
        let repo = repo.clone();
        let tag = tag.clone();
        spawn_local(async move {
            if let Some(tag) = tag {
                let p = artifact.get_tag_properties(&tag).await;
                if let Ok(p) = &p {
                    tag_attrs.set(p.changeable_attributes);
                }
                tag_props.set(Some(p));
            }
            let p = artifact.get_manifest_properties().await;
            if let Ok(p) = &p {
                manifest_attrs.set(p.changeable_attributes);
            }
            manifest_props.set(Some(p));
            let p = repo.get_properties().await;
            if let Ok(p) = &p {
                repo_attrs.set(p.changeable_attributes);
            }
            repo_props.set(Some(p));
        });
    }
    let has_tag = tag.is_some();
    let tag_target = tag.clone();
    let (repo_t, repo_m, repo_r) = (repo.clone(), repo.clone(), repo);
    view! {
        <section class="card acr" aria-labelledby="acr-title" data-testid="acr-properties">
            <h2 id="acr-title">"Azure Container Registry properties"</h2>
            <dl>
                {has_tag.then(|| view! {
                    <dt>"Tag"</dt>
                    <dd data-testid="tag-locks">
                        {move || match tag_props.get() {
                            None => view! { <span class="muted">"loading…"</span> }.into_any(),
                            Some(Err(e)) => view! { <span class="warn">{e.to_string()}</span> }.into_any(),
                            Some(Ok(p)) => view! {
                                {move || lock_badges(&tag_attrs.get())}
                                <span class="muted">{format!(" · created {} · updated {}", short_date(&p.created_on), short_date(&p.last_updated_on))}</span>
                            }.into_any(),
                        }}
                        <div class="locks-row">{tag_target.map(|t| view! {
                            <LockToggles repo=repo_t target=LockTarget::Tag(t) attrs=tag_attrs what="tag" ready=Signal::derive(move || tag_props.with(|p| matches!(p, Some(Ok(_))))) />
                        })}</div>
                    </dd>
                })}
                <dt>"Manifest"</dt>
                <dd data-testid="manifest-locks">
                    {move || match manifest_props.get() {
                        None => view! { <span class="muted">"loading…"</span> }.into_any(),
                        Some(Err(e)) => view! { <span class="warn">{e.to_string()}</span> }.into_any(),
                        Some(Ok(p)) => view! {
                            {move || lock_badges(&manifest_attrs.get())}
                            <span class="muted">{format!(" · tags: {}", p.tags.join(", "))}</span>
                        }.into_any(),
                    }}
                    <div class="locks-row"><LockToggles repo=repo_m target=LockTarget::Manifest(target_ref) attrs=manifest_attrs what="manifest" ready=Signal::derive(move || manifest_props.with(|p| matches!(p, Some(Ok(_))))) /></div>
                </dd>
                <dt>"Repository"</dt>
                <dd data-testid="repository-locks">
                    {move || match repo_props.get() {
                        None => view! { <span class="muted">"loading…"</span> }.into_any(),
                        Some(Err(e)) => view! { <span class="warn">{e.to_string()}</span> }.into_any(),
                        Some(Ok(p)) => view! {
                            {move || lock_badges(&repo_attrs.get())}
                            <span class="muted">{format!(" · {} manifests, {} tags", p.manifest_count, p.tag_count)}</span>
                        }.into_any(),
                    }}
                    <div class="locks-row"><LockToggles repo=repo_r target=LockTarget::Repository attrs=repo_attrs what="repository" ready=Signal::derive(move || repo_props.with(|p| matches!(p, Some(Ok(_))))) /></div>
                </dd>
            </dl>
        </section>
    }
}

/// An index: one row per platform, with the size of its image; attestation manifests folded
/// away.
#[component]
fn IndexView(
    conn: Conn,
    repo: Repository<FetchTransport>,
    index: ImageIndex,
    reg: String,
    name: String,
) -> impl IntoView {
    let (attestations, platforms): (Vec<Descriptor>, Vec<Descriptor>) =
        index.manifests.into_iter().partition(is_attestation);
    let sizes = image_sizes(conn, repo, &platforms);
    let row = {
        let reg = reg.clone();
        let name = name.clone();
        move |(d, image_size): (Descriptor, Option<AnyView>)| {
            let href = manifest_href(&reg, &name, d.digest.as_str());
            let platform = d
                .platform
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| "—".into());
            let what = d
                .annotations
                .get("vnd.docker.reference.digest")
                .map(|r| format!("attests {}", short_digest(r)))
                .unwrap_or_default();
            view! {
                <tr>
                    <td><a class="row-link" data-row="" href=href>{platform}</a></td>
                    <td class="mono" title=d.digest.to_string()>{short_digest(d.digest.as_str())}</td>
                    {image_size.map(|cell| view! { <td class="num">{cell}</td> })}
                    <td class="num">{human_size(d.size)}</td>
                    <td class="mono small">{d.media_type.as_str().to_owned()} " " {what}</td>
                </tr>
            }
        }
    };
    let att_count = attestations.len();
    let platform_rows = platforms
        .into_iter()
        .map(|d| {
            let key = d.digest.to_string();
            let size = move || image_size_view(sizes.with(|s| s.get(&key).cloned()));
            (d, Some(size.into_any()))
        })
        .map(row.clone())
        .collect_view();
    let attestation_rows = attestations
        .into_iter()
        .map(|d| (d, None))
        .map(row)
        .collect_view();
    view! {
        <section class="card" aria-labelledby="platforms-title">
            <h2 id="platforms-title">"Platforms"</h2>
            <div class="table-wrap">
                <table class="platforms-table" aria-label="Platforms">
                    <thead><tr><th scope="col">"Platform"</th><th scope="col">"Digest"</th><th scope="col" class="num" title="The config and the layers, compressed: what a pull of this platform downloads">"Image"</th><th scope="col" class="num">"Manifest"</th><th scope="col">"Media type"</th></tr></thead>
                    <tbody>{platform_rows}</tbody>
                </table>
            </div>
            {(att_count > 0).then(|| view! {
                <details class="attestations">
                    <summary>{format!("{att_count} attestation manifest{} (build provenance, SBOM)", if att_count == 1 { "" } else { "s" })}</summary>
                    <div class="table-wrap">
                        <table aria-label="Attestation manifests"><tbody>{attestation_rows}</tbody></table>
                    </div>
                </details>
            })}
        </section>
    }
}

/// The size of each platform's image (config and layers, compressed), by manifest digest,
/// read from its manifest (the index gives only the size of each manifest itself): one at a
/// time, through the connection's manifest cache, stopped when the page is left.
fn image_sizes(
    conn: Conn,
    repo: Repository<FetchTransport>,
    platforms: &[Descriptor],
) -> RwSignal<HashMap<String, Result<u64, String>>> {
    let sizes = RwSignal::new(HashMap::new());
    let digests: Vec<Digest> = platforms.iter().map(|d| d.digest.clone()).collect();
    spawn_local_scoped_with_cancellation(async move {
        for digest in digests {
            let reference = TagOrDigest::Digest(digest.clone());
            let result = match meta::manifest(&conn, &repo, &reference).await {
                Ok(manifest) => manifest
                    .as_image()
                    .map(ImageManifest::total_size)
                    .ok_or_else(|| "not an image manifest: no layers to add up".to_string()),
                Err(e) => Err(format!("its manifest could not be read: {e}")),
            };
            sizes.update(|s| {
                s.insert(digest.to_string(), result);
            });
        }
    });
    sizes
}

/// One platform's image size, with the exact byte count in its title; "…" until it is read.
fn image_size_view(size: Option<Result<u64, String>>) -> AnyView {
    match size {
        None => view! { <span class="muted" title="reading its manifest">"…"</span> }.into_any(),
        Some(Ok(n)) => view! { <span data-bytes=n.to_string() title=format!("{n} bytes")>{human_size(n)}</span> }.into_any(),
        Some(Err(e)) => view! { <span class="muted" title=e>"—"</span> }.into_any(),
    }
}

/// A download button for one blob, with the verified result or the error in place.
#[component]
fn DownloadButton(
    repo: Repository<FetchTransport>,
    digest: Digest,
    /// The size its descriptor gives, for the progress.
    size: u64,
    file_name: String,
    downloads: Downloads,
) -> impl IntoView {
    let key = digest.to_string();
    let key2 = key.clone();
    let repo = StoredValue::new_local(repo);
    let busy = RwSignal::new(false);
    let read = RwSignal::new(0u64);
    let cancelled = RwSignal::new(false);
    let reader = StoredValue::new_local(None::<web_sys::ReadableStreamDefaultReader>);
    let label = format!("Download {file_name}");
    let start = move || {
        let repo = repo.get_value();
        let digest = digest.clone();
        let name = file_name.clone();
        let key = key.clone();
        busy.set(true);
        read.set(0);
        cancelled.set(false);
        // Scoped to the page: leaving it drops the download, which cancels the transfer and
        // saves nothing.
        spawn_local_scoped_with_cancellation(async move {
            let hooks = DownloadHooks {
                progress: &|n| read.set(n),
                started: &|r| reader.set_value(Some(r)),
                cancelled: &|| cancelled.get_untracked(),
            };
            let result = download_blob(&repo, &digest, &name, hooks)
                .await
                .map(|n| format!("verified, {}", human_size(n)));
            busy.set(false);
            reader.set_value(None);
            if let Ok(done) = &result {
                announce(&format!("Download {done}"));
            }
            downloads.update(|d| {
                d.insert(key, result);
            });
        });
    };
    let cancel = move || {
        cancelled.set(true);
        if let Some(r) = reader.get_value() {
            porthole_browser::ignore_rejection(&r.cancel());
        }
    };
    view! {
        <span class="dl">
            <button
                class="btn small"
                type="button"
                aria-label=label.clone()
                title=label
                // Not `disabled`: a disabled button loses the keyboard focus.
                aria-disabled=move || busy.get().to_string()
                on:click=move |_| {
                    if !busy.get_untracked() {
                        start();
                    }
                }
            >
                {move || if busy.get() {
                    let done = read.get();
                    match (done * 100).checked_div(size) {
                        Some(percent) => format!(
                            "Downloading… {} % ({} of {})",
                            percent.min(100),
                            human_size(done),
                            human_size(size)
                        ),
                        None => format!("Downloading… {}", human_size(done)),
                    }
                } else {
                    "Download".to_owned()
                }}
            </button>
            <Show when=move || busy.get()>
                <button class="btn small" type="button" on:click=move |_| cancel()>
                    "Cancel"
                </button>
            </Show>
            {move || downloads.with(|d| d.get(&key2).cloned()).map(|r| match r {
                Ok(msg) => view! { <span class="ok small">"✓ " {msg}</span> }.into_any(),
                Err(msg) => view! { <span class="warn small" role="alert">{msg}</span> }.into_any(),
            })}
        </span>
    }
}

/// An image manifest: summary, layers with a chart, config.
#[component]
fn ImageView(
    conn: Conn,
    repo: Repository<FetchTransport>,
    image: ImageManifest,
    downloads: Downloads,
) -> impl IntoView {
    let config = RwSignal::new_local(None::<Result<Rc<Value>, porthole_core::Error>>);
    let config_desc = image.config.clone();
    if is_image_config(&config_desc) {
        let conn = conn.clone();
        let repo = repo.clone();
        let digest = config_desc.digest.clone();
        spawn_local(async move {
            config.set(Some(meta::config(&conn, &repo, &digest).await));
        });
    }
    let total = image.total_size();
    let max = image
        .layers
        .iter()
        .map(|l| l.size)
        .max()
        .unwrap_or(1)
        .max(1);
    let stored_repo = StoredValue::new_local(repo.clone());
    let layer_rows = image
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let pct = (l.size as f64 / max as f64 * 100.0).max(0.5);
            let file = blob_file_name(l.title(), l.digest.as_str());
            view! {
                <tr>
                    <td class="num">{i + 1}</td>
                    <td class="bar-cell" aria-hidden="true">
                        <span class="bar" style=format!("width:{pct:.1}%")></span>
                    </td>
                    <td class="num">{human_size(l.size)}</td>
                    <td class="mono" title=l.digest.to_string()>
                        {short_digest(l.digest.as_str())}
                        {l.title().map(|t| view! { <span class="muted">" " {t.to_owned()}</span> })}
                    </td>
                    <td class="mono small">{l.media_type.as_str().to_owned()}</td>
                    <td>
                        <DownloadButton repo=stored_repo.get_value() digest=l.digest.clone() size=l.size file_name=file downloads=downloads />
                    </td>
                </tr>
            }
        })
        .collect_view();
    let layer_count = image.layers.len();
    let config_file = blob_file_name(None, config_desc.digest.as_str());
    view! {
        <section class="card" aria-labelledby="layers-title">
            <h2 id="layers-title">{format!("Layers ({layer_count}) · {} with the config", human_size(total))}</h2>
            <div class="table-wrap">
                <table class="layers" aria-label="Layers">
                    <thead>
                        <tr>
                            <th scope="col" class="num">"#"</th>
                            <th scope="col">"Share"</th>
                            <th scope="col" class="num">"Size"</th>
                            <th scope="col">"Digest"</th>
                            <th scope="col">"Media type"</th>
                            <th scope="col"><span class="sr-only">"Download"</span></th>
                        </tr>
                    </thead>
                    <tbody>{layer_rows}</tbody>
                </table>
            </div>
        </section>
        <section class="card" aria-labelledby="config-title">
            <h2 id="config-title">"Config"</h2>
            <p class="config-line">
                <span class="mono" title=config_desc.digest.to_string()>{short_digest(config_desc.digest.as_str())}</span>
                " · " {human_size(config_desc.size)} " · "
                <span class="mono small">{config_desc.media_type.as_str().to_owned()}</span>
                " "
                <DownloadButton repo=repo.clone() digest=config_desc.digest.clone() size=config_desc.size file_name=config_file downloads=downloads />
            </p>
            {move || match config.get() {
                None if is_image_config(&config_desc) => view! { <Loading what="the config" /> }.into_any(),
                None => ().into_any(),
                Some(Err(e)) => view! { <ErrorView error=e /> }.into_any(),
                // Not JSON (the cache keeps it as null): say so, rather than a row of dashes.
                Some(Ok(v)) if v.is_null() => view! {
                    <p class="muted" data-testid="config-not-json">
                        "This config is not JSON, so there is nothing to show from it; download it to read it."
                    </p>
                }
                .into_any(),
                Some(Ok(v)) => config_view(&v).into_any(),
            }}
        </section>
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Env, command, labels and history of an image config; all as text.
fn config_view(config: &Value) -> impl IntoView {
    let inner = config.get("config").cloned().unwrap_or(Value::Null);
    let platform = platform_of(config).unwrap_or_else(|| "—".into());
    let created = config
        .get("created")
        .and_then(Value::as_str)
        .map(short_date)
        .unwrap_or_else(|| "—".into());
    let env = strings(inner.get("Env"));
    let cmd = strings(inner.get("Entrypoint"))
        .into_iter()
        .chain(strings(inner.get("Cmd")))
        .collect::<Vec<_>>()
        .join(" ");
    let labels: Vec<(String, String)> = inner
        .get("Labels")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let history: Vec<(String, String, bool)> = config
        .get("history")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|h| {
                    (
                        h.get("created")
                            .and_then(Value::as_str)
                            .map(short_date)
                            .unwrap_or_default(),
                        h.get("created_by")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        h.get("empty_layer")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let env_view = (!env.is_empty()).then(|| {
        view! {
            <h3>"Environment"</h3>
            <ul class="env mono">{env.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
        }
    });
    let labels_view = (!labels.is_empty()).then(|| {
        view! {
            <h3>"Labels"</h3>
            <div class="table-wrap">
                <table class="kv" aria-label="Labels">
                    <tbody>
                        {labels.into_iter().map(|(k, v)| view! { <tr><th scope="row" class="mono">{k}</th><td class="wrap">{v}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
    });
    let history_view = (!history.is_empty()).then(|| {
        view! {
            <h3>"History"</h3>
            <ol class="history">
                {history.into_iter().map(|(when, by, empty)| view! {
                    <li class:empty-layer=empty>
                        <code class="wrap">{by}</code>
                        <span class="muted small">{when}{empty.then_some(" · no layer")}</span>
                    </li>
                }).collect_view()}
            </ol>
        }
    });
    view! {
        <dl class="config-facts">
            <dt>"Platform"</dt><dd>{platform}</dd>
            <dt>"Created"</dt><dd>{created}</dd>
            {(!cmd.is_empty()).then(|| view! { <dt>"Command"</dt><dd class="mono wrap">{cmd}</dd> })}
        </dl>
        {env_view}
        {labels_view}
        {history_view}
    }
}

/// A friendly name for an artifact type.
/// Manifests whose subject is this one: signatures, SBOMs, attestations.
#[component]
fn Referrers(
    conn: Conn,
    repo: Repository<FetchTransport>,
    subject: Digest,
    reg: String,
    name: String,
) -> impl IntoView {
    let _ = conn;
    let list = RwSignal::new_local(None::<Result<Vec<Descriptor>, porthole_core::Error>>);
    spawn_local(async move {
        list.set(Some(repo.referrers(&subject, None).await));
    });
    view! {
        <section class="card" aria-labelledby="ref-title">
            <h2 id="ref-title">"Referrers"</h2>
            {move || match list.get() {
                None => view! { <Loading what="referrers" /> }.into_any(),
                Some(Err(e)) => view! { <ErrorView error=e /> }.into_any(),
                Some(Ok(items)) if items.is_empty() => view! {
                    <p class="muted">"No signatures, SBOMs or other artifacts refer to this manifest."</p>
                }.into_any(),
                Some(Ok(items)) => {
                    let rows = items.into_iter().map(|d| {
                        let t = d.artifact_type.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_else(|| d.media_type.as_str().to_owned());
                        let kind = artifact_kind(&t);
                        let href = manifest_href(&reg, &name, d.digest.as_str());
                        let created = d.annotations.get("org.opencontainers.image.created").map(|c| short_date(c)).unwrap_or_default();
                        view! {
                            <tr data-kind=kind>
                                <td><span class="badge">{kind}</span></td>
                                <td><a class="row-link mono" data-row="" href=href title=d.digest.to_string()>{short_digest(d.digest.as_str())}</a></td>
                                <td class="mono small">{t}</td>
                                <td class="num">{human_size(d.size)}</td>
                                <td>{created}</td>
                            </tr>
                        }
                    }).collect_view();
                    view! {
                        <div class="table-wrap">
                            <table class="referrers" aria-label="Referrers">
                                <thead><tr><th scope="col">"Kind"</th><th scope="col">"Digest"</th><th scope="col">"Artifact type"</th><th scope="col" class="num">"Size"</th><th scope="col">"Created"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                    }.into_any()
                }
            }}
        </section>
    }
}
