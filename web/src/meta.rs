//! What a tag's row shows beyond its name (digest, size, platforms, dates), fetched lazily a
//! few at a time: manifests by tag, then config blobs, both cached by digest per registry.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use porthole_browser::FetchTransport;
use porthole_core::{
    Descriptor, Digest, Manifest, ManifestKind, MediaType, Repository, Tag, TagOrDigest,
};
use serde_json::Value;

use crate::state::Conn;

/// How many tags are looked up at once.
const WORKERS: usize = 6;
/// Config blobs larger than this are not fetched for the table.
const MAX_CONFIG: u64 = 1024 * 1024;
/// When an artifact was made, as oras and this dashboard's pushes record it (RFC 3339).
pub(crate) const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// A tag's row data.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TagMeta {
    /// The manifest digest.
    pub(crate) digest: String,
    /// Config plus layers, for an image.
    pub(crate) size: Option<u64>,
    /// For an index: the platform whose image `size` (and `created`) are of.
    pub(crate) size_platform: Option<String>,
    /// `os/arch[/variant]` of the image, or of each image of an index.
    pub(crate) platforms: Vec<String>,
    /// When the image was built (config `created`, or ACR's createdTime).
    pub(crate) created: Option<String>,
    /// When the tag last changed (ACR only).
    pub(crate) updated: Option<String>,
    /// `image`, `index` or `artifact`.
    pub(crate) kind: &'static str,
    /// Why the lookup failed.
    pub(crate) error: Option<String>,
}

impl TagMeta {
    /// The tag's date for sorting and for "keep the newest": when it last changed (ACR), else
    /// when its image was built; `None` when neither is known.
    pub(crate) fn date_millis(&self) -> Option<f64> {
        let date = self.updated.as_deref().or(self.created.as_deref())?;
        crate::util::date_millis(date)
    }
}

/// Whether an index entry is a buildx attestation (or another non-runnable platform).
pub(crate) fn is_attestation(d: &Descriptor) -> bool {
    d.annotations
        .get("vnd.docker.reference.type")
        .is_some_and(|t| t == "attestation-manifest")
        || d.platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" || p.architecture == "unknown")
}

/// A manifest by tag or digest, from the cache when it is by digest.
pub(crate) async fn manifest(
    conn: &Conn,
    repo: &Repository<FetchTransport>,
    reference: &TagOrDigest,
) -> Result<Rc<Manifest>, porthole_core::Error> {
    let key = format!("{}@", repo.name());
    if let Some(d) = reference.digest() {
        if let Some(m) = conn.manifests.borrow().get(&(key.clone() + d.as_str())) {
            return Ok(m.clone());
        }
    }
    let m = Rc::new(repo.get_manifest(reference).await?);
    conn.manifests
        .borrow_mut()
        .insert(key + m.digest.as_str(), m.clone());
    Ok(m)
}

/// A config blob, parsed, cached by digest.
pub(crate) async fn config(
    conn: &Conn,
    repo: &Repository<FetchTransport>,
    digest: &Digest,
) -> Result<Rc<Value>, porthole_core::Error> {
    if let Some(v) = conn.configs.borrow().get(digest.as_str()) {
        return Ok(v.clone());
    }
    let bytes = repo.get_blob_at_most(digest, MAX_CONFIG as usize).await?;
    let value = Rc::new(serde_json::from_slice(&bytes).unwrap_or(Value::Null));
    conn.configs
        .borrow_mut()
        .insert(digest.to_string(), value.clone());
    Ok(value)
}

/// Whether a descriptor is an image config worth fetching.
pub(crate) fn is_image_config(d: &Descriptor) -> bool {
    (d.media_type.as_str() == MediaType::OCI_CONFIG
        || d.media_type.as_str() == MediaType::DOCKER_CONFIG)
        && d.size <= MAX_CONFIG
}

/// An image config's platform, written as the core writes an index's platforms.
pub(crate) fn platform_of(config: &Value) -> Option<String> {
    let text = |key: &str| config.get(key).and_then(Value::as_str).map(str::to_owned);
    let platform = porthole_core::Platform {
        os: text("os")?,
        architecture: text("architecture")?,
        os_version: text("os.version"),
        os_features: Vec::new(),
        variant: text("variant"),
    };
    Some(platform.to_string())
}

async fn image_meta(
    conn: &Conn,
    repo: &Repository<FetchTransport>,
    m: &Manifest,
    meta: &mut TagMeta,
) -> Result<(), porthole_core::Error> {
    if let ManifestKind::Image(image) = &m.parsed {
        meta.size = Some(image.total_size());
        meta.kind = if image.artifact_type.is_some() || !is_image_config(&image.config) {
            "artifact"
        } else {
            "image"
        };
        if is_image_config(&image.config) {
            let config = config(conn, repo, &image.config.digest).await?;
            meta.created = config
                .get("created")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if meta.platforms.is_empty() {
                meta.platforms.extend(platform_of(&config));
            }
        }
        // Artifacts (oras, this dashboard's pushes) have no config date: the manifest's
        // annotation is theirs.
        if meta.created.is_none() {
            meta.created = image.annotations.get(CREATED_ANNOTATION).cloned();
        }
    }
    Ok(())
}

/// Looks up one tag.
pub(crate) async fn tag_meta(conn: &Conn, repo: &Repository<FetchTransport>, tag: &str) -> TagMeta {
    let mut meta = TagMeta::default();
    let result: Result<(), porthole_core::Error> = async {
        let reference = TagOrDigest::Tag(Tag::parse(tag)?);
        let m = manifest(conn, repo, &reference).await?;
        meta.digest = m.digest.to_string();
        match &m.parsed {
            ManifestKind::Image(_) => image_meta(conn, repo, &m, &mut meta).await?,
            ManifestKind::Index(index) => {
                meta.kind = "index";
                let real: Vec<&Descriptor> = index
                    .manifests
                    .iter()
                    .filter(|d| !is_attestation(d))
                    .collect();
                meta.platforms = real
                    .iter()
                    .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
                    .collect();
                if let Some(first) = real.first() {
                    let child =
                        manifest(conn, repo, &TagOrDigest::Digest(first.digest.clone())).await?;
                    let mut child_meta = TagMeta::default();
                    image_meta(conn, repo, &child, &mut child_meta).await?;
                    meta.created = child_meta.created;
                    meta.size = child_meta.size;
                    meta.size_platform = first.platform.as_ref().map(ToString::to_string);
                }
            }
            ManifestKind::Other(_) => meta.kind = "artifact",
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        meta.error = Some(e.to_string());
    }
    meta
}

/// Looks tags up in the background, a few at a time, writing results in batches.
#[derive(Clone)]
pub(crate) struct MetaLoader {
    conn: Conn,
    repo: Repository<FetchTransport>,
    /// The results, by tag.
    pub(crate) meta: RwSignal<HashMap<String, TagMeta>>,
    queue: Rc<RefCell<VecDeque<String>>>,
    seen: Rc<RefCell<HashSet<String>>>,
    /// Tags whose rows came from ACR's listing: a lookup still running for one of them must
    /// not replace ACR's dates and sizes with what a config says.
    from_acr: Rc<RefCell<HashSet<String>>>,
    workers: Rc<Cell<usize>>,
    pending: Rc<RefCell<Vec<(String, TagMeta)>>>,
    flush_scheduled: Rc<Cell<bool>>,
    alive: Arc<AtomicBool>,
    /// How many lookups finished.
    pub(crate) finished: RwSignal<usize>,
}

impl MetaLoader {
    /// A loader for one repository's tags.
    pub(crate) fn new(conn: Conn, repo: Repository<FetchTransport>) -> Self {
        Self {
            conn,
            repo,
            meta: RwSignal::new(HashMap::new()),
            queue: Rc::default(),
            seen: Rc::default(),
            from_acr: Rc::default(),
            workers: Rc::default(),
            pending: Rc::default(),
            flush_scheduled: Rc::default(),
            alive: Arc::new(AtomicBool::new(true)),
            finished: RwSignal::new(0),
        }
    }

    /// A flag that stops the workers when cleared (the page went away).
    pub(crate) fn stopper(&self) -> Arc<AtomicBool> {
        self.alive.clone()
    }

    /// Marks tags as known already (ACR metadata), so they are not looked up, nor overwritten
    /// by a lookup that started before.
    pub(crate) fn insert_known(&self, rows: Vec<(String, TagMeta)>) {
        {
            let mut seen = self.seen.borrow_mut();
            let mut from_acr = self.from_acr.borrow_mut();
            for (tag, _) in &rows {
                seen.insert(tag.clone());
                from_acr.insert(tag.clone());
            }
            self.queue.borrow_mut().retain(|t| !from_acr.contains(t));
        }
        self.meta.update(|m| m.extend(rows));
    }

    /// Queues tags not looked up yet; `front` puts them first (the rows on screen).
    pub(crate) fn want(&self, tags: impl IntoIterator<Item = String>, front: bool) {
        {
            let mut seen = self.seen.borrow_mut();
            let mut queue = self.queue.borrow_mut();
            let fresh: Vec<String> = tags
                .into_iter()
                .filter(|t| seen.insert(t.clone()))
                .collect();
            if front {
                for tag in fresh.into_iter().rev() {
                    queue.push_front(tag);
                }
            } else {
                queue.extend(fresh);
            }
        }
        while self.workers.get() < WORKERS && !self.queue.borrow().is_empty() {
            self.workers.set(self.workers.get() + 1);
            let this = self.clone();
            spawn_local(async move { this.work().await });
        }
    }

    /// Looks a tag up again (its lookup failed), first in line.
    pub(crate) fn retry(&self, tag: &str) {
        self.seen.borrow_mut().remove(tag);
        self.meta.update(|m| {
            m.remove(tag);
        });
        self.want([tag.to_owned()], true);
    }

    /// Moves tags already queued to the front (the rows now on screen).
    pub(crate) fn prioritize(&self, tags: &[String]) {
        let mut queue = self.queue.borrow_mut();
        let wanted: HashSet<&String> = tags.iter().collect();
        let (first, rest): (Vec<String>, Vec<String>) =
            queue.drain(..).partition(|t| wanted.contains(t));
        queue.extend(first);
        queue.extend(rest);
    }

    async fn work(self) {
        loop {
            if !self.alive.load(Ordering::Relaxed) {
                break;
            }
            let next = self.queue.borrow_mut().pop_front();
            let Some(tag) = next else { break };
            let meta = tag_meta(&self.conn, &self.repo, &tag).await;
            if !self.alive.load(Ordering::Relaxed) {
                break;
            }
            self.pending.borrow_mut().push((tag, meta));
            self.schedule_flush();
        }
        self.workers.set(self.workers.get().saturating_sub(1));
    }

    fn schedule_flush(&self) {
        if self.flush_scheduled.replace(true) {
            return;
        }
        let this = self.clone();
        set_timeout(
            move || {
                this.flush_scheduled.set(false);
                let rows: Vec<(String, TagMeta)> = this.pending.borrow_mut().drain(..).collect();
                if rows.is_empty() || !this.alive.load(Ordering::Relaxed) {
                    return;
                }
                let n = rows.len();
                let rows: Vec<_> = {
                    let from_acr = this.from_acr.borrow();
                    rows.into_iter()
                        .filter(|(t, _)| !from_acr.contains(t))
                        .collect()
                };
                this.meta.update(|m| m.extend(rows));
                this.finished.update(|f| *f += n);
            },
            std::time::Duration::from_millis(120),
        );
    }
}
