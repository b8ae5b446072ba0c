//! Media types: open, because the spec lets them grow.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A media type such as `application/vnd.oci.image.manifest.v1+json`. Known manifest types have
/// constants; anything else is kept as written.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaType(String);

impl MediaType {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &'static str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &'static str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &'static str =
        "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &'static str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image config.
    pub const OCI_CONFIG: &'static str = "application/vnd.oci.image.config.v1+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &'static str = "application/vnd.docker.container.image.v1+json";
    /// The empty descriptor's type (`{}`), used as the config of artifacts.
    pub const OCI_EMPTY: &'static str = "application/vnd.oci.empty.v1+json";
    /// A gzip-compressed OCI layer.
    pub const OCI_LAYER_GZIP: &'static str = "application/vnd.oci.image.layer.v1.tar+gzip";

    /// Every manifest type Porthole understands, for `Accept`. Registries answer 404 for an OCI
    /// manifest, or silently substitute a different manifest for a Docker list, when its type is
    /// missing here.
    pub const MANIFEST_ACCEPT: [&'static str; 4] = [
        Self::OCI_INDEX,
        Self::OCI_MANIFEST,
        Self::DOCKER_MANIFEST_LIST,
        Self::DOCKER_MANIFEST,
    ];

    /// A media type from text; parameters such as `; charset=utf-8` are dropped.
    pub fn new(s: &str) -> Self {
        let essence = s.split(';').next().unwrap_or("").trim();
        Self(essence.to_ascii_lowercase())
    }

    /// The type as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the manifest types (image or index, OCI or Docker).
    pub fn is_manifest(&self) -> bool {
        Self::MANIFEST_ACCEPT.contains(&self.0.as_str())
    }

    /// Whether this is an index or manifest list.
    pub fn is_index(&self) -> bool {
        self.0 == Self::OCI_INDEX || self.0 == Self::DOCKER_MANIFEST_LIST
    }
}

impl From<&str> for MediaType {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl AsRef<str> for MediaType {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaType({})", self.0)
    }
}

impl Serialize for MediaType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Keep the text exactly (not lowercased) so re-serialised descriptors stay faithful.
        Ok(Self(String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_parameters_and_knows_manifests() {
        let m = MediaType::new("application/vnd.oci.image.index.v1+json; charset=utf-8");
        assert_eq!(m.as_str(), MediaType::OCI_INDEX);
        assert!(m.is_manifest() && m.is_index());
        let other = MediaType::new("application/vnd.example.sbom+json");
        assert!(!other.is_manifest());
        assert_eq!(other.to_string(), "application/vnd.example.sbom+json");
    }
}
