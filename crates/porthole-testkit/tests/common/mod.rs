//! Helpers shared by the client and interop tests: a registry per auth mode with a client logged
//! in as alice, deterministic test data, and "push a blob" / "push an image" in one call.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use futures::executor::block_on;
use porthole_core::{
    Credential, Descriptor, Digest, ImageIndex, ImageManifest, Manifest, MediaType, Platform,
    RegistryClient, Repository, RepositoryName, Tag, TagOrDigest, Transport, UploadOptions, Url,
};
use porthole_testkit::users::{ALICE, ALICE_PASSWORD};
use porthole_testkit::{AuthMode, NativeTransport, Registry};
use serde_json::json;

/// Every auth mode the kit offers.
pub(crate) const MODES: [AuthMode; 3] = [AuthMode::Anonymous, AuthMode::Basic, AuthMode::Token];

/// A running registry and a client for it. On a panic (a failed assertion) it prints the mode and
/// the end of the registry's log, so a failure says where it happened.
pub(crate) struct Env {
    pub(crate) registry: Registry,
    pub(crate) client: RegistryClient<NativeTransport>,
}

impl Env {
    /// A registry in `mode` and a client logged in as alice (anonymous in anonymous mode).
    pub(crate) fn start(mode: AuthMode) -> Self {
        let registry = Registry::start(mode).expect("the registry starts");
        let client = client_for(&registry, alice_or_anonymous(mode));
        Self { registry, client }
    }

    pub(crate) fn mode(&self) -> AuthMode {
        self.registry.mode()
    }

    /// A repository of this registry by name.
    pub(crate) fn repo(&self, name: &str) -> Repository<NativeTransport> {
        self.client.repository(repo_name(name))
    }

    /// Where the registry keeps `repo`'s upload sessions (one folder each, named by its id).
    pub(crate) fn uploads_dir(&self, repo: &str) -> PathBuf {
        self.registry
            .data_dir()
            .join("docker/registry/v2/repositories")
            .join(repo)
            .join("_uploads")
    }

    /// Upload sessions the registry still holds open for `repo`: dirs of its `_uploads` that
    /// have a `startedat` file, without which distribution refuses to resume a session. (A
    /// cancelled session's dir can linger holding only `hashstates/`: distribution 2.8 writes
    /// the hash state again after deleting the session, "error closing blobwriter" in its log.)
    pub(crate) fn uploads_left(&self, repo: &str) -> Vec<String> {
        let dir = self.uploads_dir(repo);
        match fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.unwrap().path())
                .filter(|session| session.join("startedat").exists())
                .map(|session| session.file_name().unwrap().to_string_lossy().into_owned())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("cannot read {}: {e}", dir.display()),
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- failed in {} mode; registry log tail:\n{}",
                self.mode().as_str(),
                self.registry.log_tail(30)
            );
        }
    }
}

/// Runs `scenario` against a fresh registry in each auth mode, one after the other.
pub(crate) fn each_mode(scenario: impl Fn(&Env)) {
    for mode in MODES {
        eprintln!("--- {} mode", mode.as_str());
        let env = Env::start(mode);
        scenario(&env);
    }
}

/// Alice's credentials, or none on the anonymous registry.
pub(crate) fn alice_or_anonymous(mode: AuthMode) -> Credential {
    match mode {
        AuthMode::Anonymous => Credential::Anonymous,
        _ => Credential::basic(ALICE, ALICE_PASSWORD),
    }
}

/// A client of `registry` over the native transport.
pub(crate) fn client_for(
    registry: &Registry,
    credential: Credential,
) -> RegistryClient<NativeTransport> {
    client_at(&registry.url(), credential)
}

/// A client of the server at `url` (a fault proxy, a stub, an emulator) over the native
/// transport.
pub(crate) fn client_at(url: &str, credential: Credential) -> RegistryClient<NativeTransport> {
    RegistryClient::new(NativeTransport::new(), Url::parse(url).unwrap(), credential)
}

pub(crate) fn base_url(registry: &Registry) -> Url {
    Url::parse(&registry.url()).unwrap()
}

pub(crate) fn repo_name(name: &str) -> RepositoryName {
    RepositoryName::parse(name).unwrap()
}

pub(crate) fn tag(name: &str) -> TagOrDigest {
    TagOrDigest::Tag(Tag::parse(name).unwrap())
}

pub(crate) fn by_digest(digest: &Digest) -> TagOrDigest {
    TagOrDigest::Digest(digest.clone())
}

/// `len` pseudo-random bytes, the same for the same seed (xorshift64*: no dependency needed).
pub(crate) fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Upload options that send any blob in one PUT.
pub(crate) fn monolithic() -> UploadOptions {
    UploadOptions {
        monolithic_max: u64::MAX,
        ..UploadOptions::default()
    }
}

/// Uploads `bytes` in one PUT and returns its descriptor.
pub(crate) fn push_blob<T: Transport<NativeBody = Vec<u8>>>(
    repo: &Repository<T>,
    media_type: &str,
    bytes: &[u8],
) -> Descriptor {
    let digest = block_on(repo.upload_blob(bytes, monolithic(), &mut |_| {}))
        .unwrap_or_else(|e| panic!("uploading {} bytes to {}: {e}", bytes.len(), repo.name()));
    assert_eq!(digest, Digest::sha256_of(bytes));
    Descriptor::new(media_type, digest, bytes.len() as u64)
}

/// An image pushed by the tests: its manifest and the blobs it points at.
pub(crate) struct PushedImage {
    pub(crate) manifest: Manifest,
    pub(crate) config: Vec<u8>,
    pub(crate) layers: Vec<Vec<u8>>,
}

impl PushedImage {
    pub(crate) fn digest(&self) -> &Digest {
        &self.manifest.digest
    }
}

/// An OCI config for one platform whose `rootfs.diff_ids` are `diff_ids`.
pub(crate) fn oci_config(architecture: &str, diff_ids: &[Digest]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": architecture,
        "os": "linux",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
    .unwrap()
}

/// Uploads `config` and `layers` and pushes an OCI image manifest over them under `reference`.
pub(crate) fn push_image_with<T: Transport<NativeBody = Vec<u8>>>(
    repo: &Repository<T>,
    reference: &TagOrDigest,
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
) -> PushedImage {
    let config_desc = push_blob(repo, MediaType::OCI_CONFIG, &config);
    let layer_descs = layers
        .iter()
        .map(|l| push_blob(repo, MediaType::OCI_LAYER_GZIP, l))
        .collect();
    let manifest = Manifest::from_image(&ImageManifest::new(config_desc, layer_descs)).unwrap();
    let pushed = block_on(repo.put_manifest(reference, &manifest))
        .unwrap_or_else(|e| panic!("pushing {}:{reference}: {e}", repo.name()));
    assert_eq!(pushed, manifest.digest);
    PushedImage {
        manifest,
        config,
        layers,
    }
}

/// Pushes a small image with two random layers (not real tarballs: the registry does not look
/// inside layers) under `tag_name`. `seed` makes its blobs differ from other images'.
pub(crate) fn push_image<T: Transport<NativeBody = Vec<u8>>>(
    repo: &Repository<T>,
    tag_name: &str,
    seed: u64,
) -> PushedImage {
    let layers = vec![random_bytes(3000, seed), random_bytes(1234, seed + 1)];
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::sha256_of(l)).collect();
    let config = oci_config("amd64", &diff_ids);
    push_image_with(repo, &tag(tag_name), config, layers)
}

/// Pushes an OCI index over `images` (already pushed) with their platforms, under `tag_name`.
pub(crate) fn push_index<T: Transport<NativeBody = Vec<u8>>>(
    repo: &Repository<T>,
    tag_name: &str,
    images: &[(&Manifest, &str)],
) -> Manifest {
    let mut index = ImageIndex::empty();
    for (manifest, architecture) in images {
        let mut d = manifest.descriptor();
        d.artifact_type = None;
        d.platform = Some(Platform {
            architecture: architecture.to_string(),
            os: "linux".into(),
            os_version: None,
            os_features: Vec::new(),
            variant: None,
        });
        index.manifests.push(d);
    }
    let manifest = Manifest::from_index(&index).unwrap();
    block_on(repo.put_manifest(&tag(tag_name), &manifest))
        .unwrap_or_else(|e| panic!("pushing index {}:{tag_name}: {e}", repo.name()));
    manifest
}

/// A scratch directory (removed on drop) for tools' outputs.
pub(crate) fn scratch(prefix: &str) -> porthole_testkit::TempDir {
    porthole_testkit::TempDir::new(prefix).unwrap()
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
