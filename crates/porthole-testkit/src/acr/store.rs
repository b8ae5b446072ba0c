//! What the emulator knows about repositories, manifests and tags: learned from the pushes it
//! proxies, kept in memory, rendered in the JSON shapes of acr-rest-api.md section 4.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::token::rfc3339;

/// ACR's `changeableAttributes`; all four default to `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    /// `deleteEnabled`
    pub delete_enabled: bool,
    /// `writeEnabled`
    pub write_enabled: bool,
    /// `readEnabled`
    pub read_enabled: bool,
    /// `listEnabled`
    pub list_enabled: bool,
}

impl Default for Attributes {
    fn default() -> Self {
        Self {
            delete_enabled: true,
            write_enabled: true,
            read_enabled: true,
            list_enabled: true,
        }
    }
}

impl Attributes {
    /// The JSON object, in the key order of the spec's examples.
    pub(crate) fn to_json(self) -> Value {
        json!({
            "deleteEnabled": self.delete_enabled,
            "writeEnabled": self.write_enabled,
            "readEnabled": self.read_enabled,
            "listEnabled": self.list_enabled,
        })
    }

    /// Applies a PATCH body (`RepositoryChangeableAttributes` and friends): every field is
    /// optional; a field that is present must be a boolean.
    pub(crate) fn patch(&mut self, body: &Map<String, Value>) -> Result<(), String> {
        for (key, slot) in [
            ("deleteEnabled", &mut self.delete_enabled),
            ("writeEnabled", &mut self.write_enabled),
            ("readEnabled", &mut self.read_enabled),
            ("listEnabled", &mut self.list_enabled),
        ] {
            match body.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => *slot = *b,
                Some(_) => return Err(format!("{key} must be true or false")),
            }
        }
        Ok(())
    }

    /// Whether a delete is allowed: ACR's write lock blocks deletes too (Azure/acr#561:
    /// "write-enabled: block both update and delete").
    pub(crate) fn deletable(self) -> bool {
        self.delete_enabled && self.write_enabled
    }
}

/// Time in 100 ns ticks since the Unix epoch: ACR prints 7 fractional digits.
pub(crate) type Ticks = u128;

/// `2024-06-20T20:46:29.9724588Z`
pub(crate) fn format_ticks(ticks: Ticks) -> String {
    let secs = (ticks / 10_000_000) as u64;
    let frac = ticks % 10_000_000;
    let whole = rfc3339(secs);
    format!("{}.{frac:07}Z", whole.trim_end_matches('Z'))
}

/// The platform of one child of an index (`references[]`).
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub(crate) digest: String,
    pub(crate) architecture: String,
    pub(crate) os: String,
}

/// One manifest.
#[derive(Debug, Clone)]
pub(crate) struct ManifestMeta {
    pub(crate) digest: String,
    pub(crate) media_type: String,
    pub(crate) config_media_type: Option<String>,
    /// `None` for an index: ACR sends no architecture/os for it.
    pub(crate) platform: Option<(String, String)>,
    pub(crate) references: Vec<Reference>,
    pub(crate) image_size: u64,
    pub(crate) created: Ticks,
    pub(crate) updated: Ticks,
    pub(crate) attributes: Attributes,
}

/// One tag.
#[derive(Debug, Clone)]
pub(crate) struct TagMeta {
    pub(crate) digest: String,
    pub(crate) created: Ticks,
    pub(crate) updated: Ticks,
    pub(crate) attributes: Attributes,
}

/// One repository.
#[derive(Debug, Clone)]
pub(crate) struct RepoMeta {
    pub(crate) created: Ticks,
    pub(crate) updated: Ticks,
    pub(crate) attributes: Attributes,
    pub(crate) manifests: BTreeMap<String, ManifestMeta>,
    pub(crate) tags: BTreeMap<String, TagMeta>,
}

impl RepoMeta {
    /// The tags pointing at `digest`, sorted.
    pub(crate) fn tags_of(&self, digest: &str) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, t)| t.digest == digest)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// `RepositoryAttributes` (section 4.2).
    pub(crate) fn to_json(&self, registry: &str, name: &str) -> Value {
        json!({
            "registry": registry,
            "imageName": name,
            "createdTime": format_ticks(self.created),
            "lastUpdateTime": format_ticks(self.updated),
            "manifestCount": self.manifests.len(),
            "tagCount": self.tags.len(),
            "changeableAttributes": self.attributes.to_json(),
        })
    }

    /// `TagAttributesBase` (section 4.4), with the `signed` field live ACR sends.
    pub(crate) fn tag_json(&self, name: &str, tag: &TagMeta) -> Value {
        json!({
            "name": name,
            "digest": tag.digest,
            "createdTime": format_ticks(tag.created),
            "lastUpdateTime": format_ticks(tag.updated),
            "signed": false,
            "changeableAttributes": tag.attributes.to_json(),
        })
    }

    /// `ManifestAttributesBase` (section 4.5) as live ACR sends it: `tags` only when there are
    /// some, `architecture`/`os`/`configMediaType` only for images, `references` only for
    /// indexes.
    pub(crate) fn manifest_json(&self, m: &ManifestMeta) -> Value {
        let mut out = Map::new();
        out.insert("digest".into(), json!(m.digest));
        out.insert("imageSize".into(), json!(m.image_size));
        out.insert("createdTime".into(), json!(format_ticks(m.created)));
        out.insert("lastUpdateTime".into(), json!(format_ticks(m.updated)));
        if let Some((arch, os)) = &m.platform {
            out.insert("architecture".into(), json!(arch));
            out.insert("os".into(), json!(os));
        }
        out.insert("mediaType".into(), json!(m.media_type));
        if let Some(config) = &m.config_media_type {
            out.insert("configMediaType".into(), json!(config));
        }
        let tags = self.tags_of(&m.digest);
        if !tags.is_empty() {
            out.insert("tags".into(), json!(tags));
        }
        out.insert("changeableAttributes".into(), m.attributes.to_json());
        if !m.references.is_empty() {
            let refs: Vec<Value> = m
                .references
                .iter()
                .map(|r| json!({"digest": r.digest, "architecture": r.architecture, "os": r.os}))
                .collect();
            out.insert("references".into(), Value::Array(refs));
        }
        Value::Object(out)
    }
}

/// Every repository, by name; and a clock that never repeats a tick.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) repos: Mutex<BTreeMap<String, RepoMeta>>,
    last_tick: Mutex<Ticks>,
}

impl Store {
    /// Now, strictly after every earlier call: ordering by time is then never a tie.
    pub(crate) fn now(&self) -> Ticks {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() / 100);
        let mut last = self.last_tick.lock().unwrap_or_else(|e| e.into_inner());
        *last = wall.max(*last + 1);
        *last
    }

    /// Records a manifest pushed (by tag when `tag` is some) and returns nothing: the caller
    /// has already checked the locks.
    pub(crate) fn record_push(&self, repo: &str, mut manifest: ManifestMeta, tag: Option<&str>) {
        let now = self.now();
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        let entry = repos.entry(repo.to_string()).or_insert_with(|| RepoMeta {
            created: now,
            updated: now,
            attributes: Attributes::default(),
            manifests: BTreeMap::new(),
            tags: BTreeMap::new(),
        });
        entry.updated = now;
        let digest = manifest.digest.clone();
        if !entry.manifests.contains_key(&digest) {
            manifest.created = now;
            manifest.updated = now;
            entry.manifests.insert(digest.clone(), manifest);
        }
        if let Some(tag) = tag {
            match entry.tags.get_mut(tag) {
                Some(existing) if existing.digest == digest => {}
                Some(existing) => {
                    existing.digest = digest;
                    existing.updated = now;
                }
                None => {
                    entry.tags.insert(
                        tag.to_string(),
                        TagMeta {
                            digest,
                            created: now,
                            updated: now,
                            attributes: Attributes::default(),
                        },
                    );
                }
            }
        }
    }

    /// Forgets a manifest and the tags pointing at it (distribution untags on delete too).
    pub(crate) fn remove_manifest(&self, repo: &str, digest: &str) {
        let now = self.now();
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = repos.get_mut(repo) {
            entry.manifests.remove(digest);
            entry.tags.retain(|_, t| t.digest != digest);
            entry.updated = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_seven_fractional_digits() {
        assert_eq!(format_ticks(0), "1970-01-01T00:00:00.0000000Z");
        assert_eq!(
            format_ticks(17_189_163_899_724_588),
            "2024-06-20T20:46:29.9724588Z"
        );
    }

    #[test]
    fn the_clock_never_repeats() {
        let store = Store::default();
        let (a, b) = (store.now(), store.now());
        assert!(b > a);
    }
}
