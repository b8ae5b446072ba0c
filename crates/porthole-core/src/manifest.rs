//! Manifests: OCI image manifest and index, Docker v2 manifest and manifest list. A [`Manifest`]
//! keeps the exact bytes the registry sent, their digest and media type beside the parsed value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::media_type::MediaType;

/// The largest manifest Porthole reads or writes; the spec asks both sides to support 4 MiB.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// Points at content by digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The content's media type.
    pub media_type: MediaType,
    /// The content's digest.
    pub digest: Digest,
    /// The content's size in bytes.
    pub size: u64,
    /// The artifact type, for manifests that are artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
    /// Other places the content may be fetched from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The content itself, base64, for tiny blobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The platform, in an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// A descriptor with only the required fields.
    pub fn new(media_type: impl Into<MediaType>, digest: Digest, size: u64) -> Self {
        Self {
            media_type: media_type.into(),
            digest,
            size,
            artifact_type: None,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            platform: None,
        }
    }

    /// The empty JSON object `{}` descriptor used as an artifact's config.
    pub fn empty_config() -> Self {
        let mut d = Self::new(MediaType::OCI_EMPTY, Digest::sha256_of(b"{}"), 2);
        d.data = Some("e30=".into());
        d
    }

    /// The `org.opencontainers.image.title` annotation (a file name for artifact layers).
    pub fn title(&self) -> Option<&str> {
        self.annotations
            .get("org.opencontainers.image.title")
            .map(String::as_str)
    }
}

/// Where an image runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, ...).
    pub architecture: String,
    /// Operating system (`linux`, `windows`, ...).
    pub os: String,
    /// OS version.
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required OS features.
    #[serde(default, rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v8`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// `os/architecture[/variant]`, then the OS version when there is one (`windows/amd64
/// 10.0.20348.2340`): the Windows images of one index differ by it alone.
impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        if let Some(version) = self.os_version.as_deref().filter(|v| !v.is_empty()) {
            write!(f, " {version}")?;
        }
        Ok(())
    }
}

/// An image manifest (OCI, or Docker schema 2, which has the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, in order.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (signatures, SBOMs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// An OCI image manifest with this config and these layers.
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: Some(MediaType::new(MediaType::OCI_MANIFEST)),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// The total size of the layers (saturating: sizes come from the registry).
    pub fn layers_size(&self) -> u64 {
        self.layers
            .iter()
            .fold(0, |sum, l| sum.saturating_add(l.size))
    }

    /// The size of the config and the layers together (saturating).
    pub fn total_size(&self) -> u64 {
        self.config.size.saturating_add(self.layers_size())
    }
}

/// An image index (OCI, or a Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The artifact type, for artifact indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
    /// The manifests, one per platform or artifact.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// An empty OCI index (the answer of a referrers query with no referrers).
    pub fn empty() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(MediaType::new(MediaType::OCI_INDEX)),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// The parsed body of a manifest.
// Manifests are few and short-lived: boxing the variants would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ManifestKind {
    /// An image manifest (OCI or Docker v2).
    Image(ImageManifest),
    /// An index or manifest list.
    Index(ImageIndex),
    /// A manifest of a type Porthole does not model; the JSON is kept.
    Other(serde_json::Value),
}

/// A manifest with the exact bytes it came as.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The exact bytes (the digest is their hash; never re-serialise to compute it).
    pub raw: Vec<u8>,
    /// The digest of `raw`.
    pub digest: Digest,
    /// The media type (from `Content-Type`, else the `mediaType` field).
    pub media_type: MediaType,
    /// The parsed value.
    pub parsed: ManifestKind,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

impl Manifest {
    /// Parses manifest bytes. `content_type` is the response's `Content-Type` if any. The digest
    /// is computed over `raw` with the algorithm of `expected` (sha256 when none), and must equal
    /// `expected` when given.
    pub fn from_bytes(
        raw: Vec<u8>,
        content_type: Option<&str>,
        expected: Option<&Digest>,
        reference: &str,
    ) -> Result<Self> {
        if raw.len() > MAX_MANIFEST_BYTES {
            return Err(Error::ManifestTooLarge {
                reference: reference.to_string(),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let digest = match expected {
            Some(expected) => {
                expected.verify(&format!("manifest {reference}"), &raw)?;
                expected.clone()
            }
            None => Digest::sha256_of(&raw),
        };
        let parse_err = |e: serde_json::Error| Error::Parse {
            what: format!("manifest {reference}"),
            reason: e.to_string(),
        };
        let probe: Probe = serde_json::from_slice(&raw).map_err(parse_err)?;
        let header_type = content_type
            .map(MediaType::new)
            .filter(|m| !m.as_str().is_empty() && m.as_str() != "application/json");
        let field_type = probe.media_type.as_deref().map(MediaType::new);
        if let (Some(h), Some(f)) = (&header_type, &field_type) {
            if h != f && h.is_manifest() {
                return Err(Error::protocol(format!(
                    "manifest {reference}: Content-Type is {h} but the manifest says mediaType {f}; \
                     refusing an ambiguous manifest"
                )));
            }
        }
        let media_type = field_type
            .or(header_type)
            .unwrap_or_else(|| guess_type(&probe));
        let parsed = match media_type.as_str() {
            MediaType::OCI_INDEX | MediaType::DOCKER_MANIFEST_LIST => {
                ManifestKind::Index(serde_json::from_slice(&raw).map_err(parse_err)?)
            }
            MediaType::OCI_MANIFEST | MediaType::DOCKER_MANIFEST => {
                ManifestKind::Image(serde_json::from_slice(&raw).map_err(parse_err)?)
            }
            _ => ManifestKind::Other(serde_json::from_slice(&raw).map_err(parse_err)?),
        };
        Ok(Self {
            raw,
            digest,
            media_type,
            parsed,
        })
    }

    /// Serialises an image manifest to push.
    pub fn from_image(image: &ImageManifest) -> Result<Self> {
        let raw = serde_json::to_vec(image).map_err(|e| Error::Parse {
            what: "manifest to push".into(),
            reason: e.to_string(),
        })?;
        Self::from_bytes(raw, None, None, "to push")
    }

    /// Serialises an index to push.
    pub fn from_index(index: &ImageIndex) -> Result<Self> {
        let raw = serde_json::to_vec(index).map_err(|e| Error::Parse {
            what: "index to push".into(),
            reason: e.to_string(),
        })?;
        Self::from_bytes(raw, None, None, "to push")
    }

    /// A descriptor of this manifest.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.raw.len() as u64,
        );
        d.artifact_type = self.artifact_type();
        d
    }

    /// The artifact type: `artifactType`, else the config's media type for image manifests.
    pub fn artifact_type(&self) -> Option<MediaType> {
        match &self.parsed {
            ManifestKind::Image(m) => m
                .artifact_type
                .clone()
                .or_else(|| Some(m.config.media_type.clone())),
            ManifestKind::Index(i) => i.artifact_type.clone(),
            ManifestKind::Other(_) => None,
        }
    }

    /// The image manifest, if this is one.
    pub fn as_image(&self) -> Option<&ImageManifest> {
        match &self.parsed {
            ManifestKind::Image(m) => Some(m),
            _ => None,
        }
    }

    /// The index, if this is one.
    pub fn as_index(&self) -> Option<&ImageIndex> {
        match &self.parsed {
            ManifestKind::Index(i) => Some(i),
            _ => None,
        }
    }

    /// The `subject` descriptor, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        match &self.parsed {
            ManifestKind::Image(m) => m.subject.as_ref(),
            ManifestKind::Index(i) => i.subject.as_ref(),
            ManifestKind::Other(_) => None,
        }
    }
}

fn guess_type(probe: &Probe) -> MediaType {
    if probe.manifests.is_some() {
        MediaType::new(MediaType::OCI_INDEX)
    } else if probe.config.is_some() {
        MediaType::new(MediaType::OCI_MANIFEST)
    } else {
        MediaType::new("application/octet-stream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = r#"{
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "size": 5, "annotations": {"org.opencontainers.image.title": "<script>alert(1)</script>"}}],
      "annotations": {"x": "y"}
    }"#;

    #[test]
    fn keeps_raw_bytes_and_digest() {
        let raw = IMAGE.as_bytes().to_vec();
        let m =
            Manifest::from_bytes(raw.clone(), Some(MediaType::OCI_MANIFEST), None, "t").unwrap();
        assert_eq!(m.raw, raw);
        assert_eq!(m.digest, Digest::sha256_of(IMAGE.as_bytes()));
        let image = m.as_image().unwrap();
        assert_eq!(image.layers_size(), 5);
        let mut huge = image.clone();
        huge.layers[0].size = u64::MAX;
        assert_eq!(huge.layers_size(), u64::MAX);
        assert_eq!(huge.total_size(), u64::MAX);
        assert_eq!(image.layers[0].title(), Some("<script>alert(1)</script>"));
        assert_eq!(
            m.artifact_type().unwrap().as_str(),
            "application/vnd.oci.image.config.v1+json"
        );
    }

    #[test]
    fn verifies_the_expected_digest() {
        let wrong = Digest::sha256_of(b"other");
        let e = Manifest::from_bytes(IMAGE.into(), None, Some(&wrong), "app:v1").unwrap_err();
        assert_eq!(e.code(), "DIGEST_MISMATCH");
    }

    #[test]
    fn refuses_oversized_truncated_and_ambiguous() {
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert_eq!(
            Manifest::from_bytes(big, None, None, "x")
                .unwrap_err()
                .code(),
            "MANIFEST_TOO_LARGE"
        );
        let truncated = IMAGE.as_bytes()[..IMAGE.len() / 2].to_vec();
        assert_eq!(
            Manifest::from_bytes(truncated, None, None, "x")
                .unwrap_err()
                .code(),
            "PARSE_ERROR"
        );
        let e =
            Manifest::from_bytes(IMAGE.into(), Some(MediaType::OCI_INDEX), None, "x").unwrap_err();
        assert_eq!(e.code(), "PROTOCOL_ERROR");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Manifest::from_bytes(deep.into(), None, None, "x").is_err());
        assert!(Manifest::from_bytes(b"<html>".to_vec(), None, None, "x").is_err());
    }

    #[test]
    fn index_and_docker_list_and_unknown() {
        let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":7,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#;
        let m = Manifest::from_bytes(index.into(), None, None, "x").unwrap();
        let i = m.as_index().unwrap();
        assert_eq!(
            i.manifests[0].platform.as_ref().unwrap().to_string(),
            "linux/arm64/v8"
        );
        let no_type = r#"{"schemaVersion":2,"manifests":[]}"#;
        let m = Manifest::from_bytes(no_type.into(), None, None, "x").unwrap();
        assert!(m.as_index().is_some());
        let other = r#"{"schemaVersion":1,"name":"x"}"#;
        let m = Manifest::from_bytes(
            other.into(),
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            None,
            "x",
        )
        .unwrap();
        assert!(matches!(m.parsed, ManifestKind::Other(_)));
    }

    #[test]
    fn many_layers_parse() {
        let layer = r#"{"mediaType":"application/octet-stream","digest":"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":1}"#;
        let layers = vec![layer; 10_000].join(",");
        let body = format!(r#"{{"schemaVersion":2,"config":{layer},"layers":[{layers}]}}"#);
        let m = Manifest::from_bytes(body.into(), None, None, "x").unwrap();
        assert_eq!(m.as_image().unwrap().layers.len(), 10_000);
    }

    /// Hostile manifests: markup in annotations is kept verbatim (escaping is the renderer's
    /// job) and hashed as sent; JSON nested past serde_json's recursion limit is an error, not
    /// a stack overflow; a manifest of exactly the 4 MiB limit is accepted.
    #[test]
    fn hostile_manifests_are_handled_without_a_panic() {
        let script = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>";
        let body = IMAGE.replace(
            r#""x": "y""#,
            &format!(r#""x": {}"#, serde_json::json!(script)),
        );
        let m = Manifest::from_bytes(body.clone().into(), None, None, "x").unwrap();
        assert_eq!(m.raw, body.as_bytes());
        assert_eq!(m.digest, Digest::sha256_of(body.as_bytes()));
        let image = m.as_image().unwrap();
        assert_eq!(image.annotations["x"], script);
        assert_eq!(m.descriptor_for_referrers().annotations["x"], script);

        for depth in [200, 100_000] {
            let nested = format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}},"layers":[],"x":{}{}}}"#,
                r#"{"a":"#.repeat(depth),
                "}".repeat(depth)
            );
            assert!(Manifest::from_bytes(nested.into(), None, None, "x").is_err());
        }
        let nested_annotation = IMAGE.replace(
            r#""x": "y""#,
            &format!(r#""x": {}1{}"#, "[".repeat(50_000), "]".repeat(50_000)),
        );
        assert!(Manifest::from_bytes(nested_annotation.into(), None, None, "x").is_err());

        let at = IMAGE.find(r#""x": "y""#).unwrap();
        let head = format!(r#"{}"pad": ""#, &IMAGE[..at]);
        let end = &IMAGE[at + r#""x": "y""#.len()..];
        let pad = MAX_MANIFEST_BYTES - head.len() - 1 - end.len();
        let exact = format!("{head}{}\"{end}", "a".repeat(pad));
        assert_eq!(exact.len(), MAX_MANIFEST_BYTES);
        let m = Manifest::from_bytes(exact.into(), None, None, "x").unwrap();
        assert_eq!(m.as_image().unwrap().annotations["pad"].len(), pad);
    }

    #[test]
    fn built_manifests_roundtrip() {
        let mut image = ImageManifest::new(Descriptor::empty_config(), vec![]);
        image.artifact_type = Some(MediaType::new("application/vnd.example"));
        let m = Manifest::from_image(&image).unwrap();
        assert_eq!(m.media_type.as_str(), MediaType::OCI_MANIFEST);
        assert_eq!(m.as_image().unwrap(), &image);
        assert_eq!(
            m.descriptor().artifact_type.unwrap().as_str(),
            "application/vnd.example"
        );
    }

    #[test]
    fn a_platform_names_its_os_version() {
        let platform = |version: Option<&str>| Platform {
            architecture: "amd64".into(),
            os: "windows".into(),
            os_version: version.map(str::to_owned),
            os_features: Vec::new(),
            variant: None,
        };
        assert_eq!(platform(None).to_string(), "windows/amd64");
        assert_eq!(
            platform(Some("10.0.20348.2340")).to_string(),
            "windows/amd64 10.0.20348.2340"
        );
        assert_ne!(
            platform(Some("10.0.17763.1")).to_string(),
            platform(Some("10.0.20348.1")).to_string()
        );
    }
}
