//! The option bags and results of the JS API. Each derives `Tsify`, which writes its TypeScript
//! interface into the package's `.d.ts`; names and fields follow `@azure/container-registry`.
//!
//! Values cross the boundary as JSON: options are read with `JSON.stringify` + `serde_json`
//! (functions and `AbortSignal`s are taken separately, by name), results are written with
//! `serde_json` + `JSON.parse`, whose reviver turns `createdOn` / `lastUpdatedOn` into `Date`s.

use porthole_core::acr::{
    ArtifactOrder, ChangeableAttributes, ManifestPlatform, ManifestProperties,
    RepositoryProperties, TagProperties,
};
use porthole_core::Descriptor;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tsify::Tsify;
use wasm_bindgen::prelude::*;

/// Options of the `ContainerRegistryClient` and `ContainerRegistryContentClient` constructors.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRegistryClientOptions {
    /// The Azure AD audience of a national cloud (e.g. `https://management.usgovcloudapi.net`);
    /// ACR's public-cloud scope when absent. Setting it makes a `getToken` credential an AAD one.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// What a credential with `getToken` returns: `"aad"`, Azure AD tokens that Porthole
    /// exchanges at ACR for registry tokens (`@azure/identity` credentials); or `"registry"`,
    /// bearer tokens the registry takes as they are, asked for the registry's own scopes
    /// (`repository:app:pull`). Default: `"aad"` for `*.azurecr.io` (and the national clouds'
    /// `azurecr` hosts) or when `audience` is set; otherwise the registry's first challenge
    /// decides: `"aad"` when its token server is `/oauth2/token` on the endpoint's origin (ACR,
    /// or a same-origin proxy in front of it), `"registry"` for any other.
    #[tsify(optional, type = "\"aad\" | \"registry\"")]
    pub token_kind: Option<String>,
    /// Accepted for source compatibility with `@azure/container-registry`; Porthole speaks ACR's
    /// `2021-07-01` API.
    #[tsify(optional, type = "string")]
    pub service_version: Option<IgnoredAny>,
}

/// Options every call takes.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct OperationOptions {
    /// Stops the call: its requests are aborted and its promise rejects with an `AbortError`.
    #[tsify(optional, type = "AbortSignalLike")]
    pub abort_signal: Option<IgnoredAny>,
}

/// Lock switches to change; switches left out stay as they are.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePropertiesOptions {
    /// Stops the call.
    #[tsify(optional, type = "AbortSignalLike")]
    pub abort_signal: Option<IgnoredAny>,
    /// Whether it may be deleted.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_delete: Option<bool>,
    /// Whether it may be overwritten.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_write: Option<bool>,
    /// Whether it shows in listings.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_list: Option<bool>,
    /// Whether it may be pulled.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_read: Option<bool>,
}

impl UpdatePropertiesOptions {
    /// The switches to send.
    pub fn attributes(&self) -> ChangeableAttributes {
        ChangeableAttributes {
            can_delete: self.can_delete,
            can_write: self.can_write,
            can_list: self.can_list,
            can_read: self.can_read,
        }
    }
}

/// Options of `listManifestProperties` and `listTagProperties`.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ListOrderedOptions {
    /// Stops the listing (every page of it).
    #[tsify(optional, type = "AbortSignalLike")]
    pub abort_signal: Option<IgnoredAny>,
    /// The order: `"LastUpdatedOnDescending"` or `"LastUpdatedOnAscending"`; the registry's own
    /// when absent.
    #[tsify(optional, type = "ArtifactOrder")]
    pub order: Option<String>,
}

impl ListOrderedOptions {
    /// The order asked for; a `TypeError` for one the API does not know (which would
    /// otherwise list in no order without a word).
    pub fn order(&self) -> Result<ArtifactOrder, JsValue> {
        match self.order.as_deref() {
            Some("LastUpdatedOnDescending") => Ok(ArtifactOrder::LastUpdatedOnDescending),
            Some("LastUpdatedOnAscending") => Ok(ArtifactOrder::LastUpdatedOnAscending),
            None | Some("None") => Ok(ArtifactOrder::None),
            Some(other) => Err(crate::glue::type_error(&format!(
                "order must be \"LastUpdatedOnDescending\" or \"LastUpdatedOnAscending\", not \
                 {other:?}"
            ))),
        }
    }
}

/// Options of `listReferrers`.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ListReferrersOptions {
    /// Stops the listing.
    #[tsify(optional, type = "AbortSignalLike")]
    pub abort_signal: Option<IgnoredAny>,
    /// Only referrers of this artifact type (e.g. `application/vnd.dev.sigstore.bundle+json`).
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// Options of `uploadBlob`.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct UploadBlobOptions {
    /// Stops the upload; the registry's upload session is cancelled.
    #[tsify(optional, type = "AbortSignalLike")]
    pub abort_signal: Option<IgnoredAny>,
    /// Called as the registry confirms bytes (after each chunk, and at the end).
    #[tsify(optional, type = "(progress: TransferProgressEvent) => void")]
    pub on_progress: Option<IgnoredAny>,
    /// Bytes per `PATCH` request (Porthole's extension; 64 MiB by default). Smaller chunks give
    /// finer progress and cheaper resumes, larger ones more speed.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_size_in_bytes: Option<f64>,
}

/// Options of `setManifest`.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct SetManifestOptions {
    /// Stops the call.
    #[tsify(optional, type = "AbortSignalLike")]
    pub abort_signal: Option<IgnoredAny>,
    /// The manifest's media type (`Content-Type`); else the manifest's own `mediaType` field.
    #[tsify(optional, type = "KnownManifestMediaType | string")]
    pub media_type: Option<String>,
    /// Push under this tag; by digest when absent.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Upload progress, as `@azure/core-rest-pipeline`'s `TransferProgressEvent` (plus the total).
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TransferProgressEvent {
    /// Bytes the registry has confirmed.
    pub loaded_bytes: f64,
    /// The blob's size; for a `ReadableStream`, the bytes read from it so far (its size is
    /// known only at its end).
    pub total_bytes: f64,
    /// Chunks that failed so far and are sent again: when it rises, the upload is resuming
    /// after a failed chunk (a lost connection, 429, 5xx), or starting over in a new session
    /// because the registry lost its session (then `loadedBytes` drops back to 0). A Porthole
    /// addition.
    pub interruptions: u32,
}

/// What `uploadBlob` returns.
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct UploadBlobResult {
    /// The blob's digest (`sha256:…`), computed while uploading and confirmed by the registry.
    pub digest: String,
    /// Its size.
    pub size_in_bytes: f64,
}

/// What `downloadBlob` returns.
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct DownloadBlobResult {
    /// The digest asked for (the bytes are verified against it).
    pub digest: String,
    /// The blob's bytes. The stream **errors** with a `DigestMismatchError` instead of closing
    /// when they do not hash to `digest`; then discard what was read.
    #[tsify(type = "ReadableStream<Uint8Array>")]
    pub content: (),
}

/// What `getManifest` returns.
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct GetManifestResult {
    /// The manifest's digest (verified against the bytes).
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// The parsed JSON.
    #[tsify(type = "Record<string, unknown>")]
    pub manifest: (),
    /// The exact bytes the registry sent (their hash is the digest).
    #[tsify(type = "Uint8Array")]
    pub content: (),
}

/// What `setManifest` returns.
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct SetManifestResult {
    /// The manifest's digest.
    pub digest: String,
}

/// An OCI descriptor: content by media type, digest and size.
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct OciDescriptor {
    /// The content's media type.
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: f64,
    /// The artifact type (referrers).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[tsify(optional)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl From<Descriptor> for OciDescriptor {
    fn from(d: Descriptor) -> Self {
        Self {
            media_type: d.media_type.as_str().to_string(),
            digest: d.digest.to_string(),
            size: d.size as f64,
            artifact_type: d.artifact_type.map(|t| t.as_str().to_string()),
            annotations: d.annotations,
        }
    }
}

/// A repository's properties (ACR).
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRepositoryProperties {
    /// The registry's login server (`myreg.azurecr.io`).
    pub registry_login_server: String,
    /// The repository name.
    pub name: String,
    /// When it was created.
    #[tsify(type = "Date")]
    pub created_on: String,
    /// When it last changed.
    #[tsify(type = "Date")]
    pub last_updated_on: String,
    /// How many manifests it holds.
    pub manifest_count: f64,
    /// How many tags it holds.
    pub tag_count: f64,
    /// Whether it may be deleted.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_delete: Option<bool>,
    /// Whether it may be written to.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_write: Option<bool>,
    /// Whether it shows in listings.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_list: Option<bool>,
    /// Whether it may be pulled from.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_read: Option<bool>,
}

impl From<RepositoryProperties> for ContainerRepositoryProperties {
    fn from(p: RepositoryProperties) -> Self {
        let a = p.changeable_attributes;
        Self {
            registry_login_server: p.registry_login_server,
            name: p.name,
            created_on: p.created_on,
            last_updated_on: p.last_updated_on,
            manifest_count: p.manifest_count as f64,
            tag_count: p.tag_count as f64,
            can_delete: a.can_delete,
            can_write: a.can_write,
            can_list: a.can_list,
            can_read: a.can_read,
        }
    }
}

/// A platform an index refers to.
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactManifestPlatform {
    /// The child manifest's digest.
    pub digest: String,
    /// Its architecture.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Its operating system.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
}

impl From<ManifestPlatform> for ArtifactManifestPlatform {
    fn from(p: ManifestPlatform) -> Self {
        Self {
            digest: p.digest,
            architecture: p.architecture,
            operating_system: p.operating_system,
        }
    }
}

/// ACR's own login server (its answers' `registry`, as the Azure SDKs take it: behind a proxy
/// it is ACR's host, not the proxy's), else the endpoint's host.
fn login_server(from_answer: String, endpoint_host: &str) -> String {
    if from_answer.is_empty() {
        endpoint_host.to_string()
    } else {
        from_answer
    }
}

/// A manifest's properties (ACR).
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactManifestProperties {
    /// The registry's login server.
    pub registry_login_server: String,
    /// The repository.
    pub repository_name: String,
    /// The manifest's digest.
    pub digest: String,
    /// Its size (for an index, its children's).
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_in_bytes: Option<f64>,
    /// When it was created.
    #[tsify(type = "Date")]
    pub created_on: String,
    /// When it last changed.
    #[tsify(type = "Date")]
    pub last_updated_on: String,
    /// The image's architecture.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The image's operating system.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    /// The manifests an index refers to.
    pub related_artifacts: Vec<ArtifactManifestPlatform>,
    /// Its tags.
    pub tags: Vec<String>,
    /// The manifest's media type (Porthole's extension).
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Whether it may be deleted.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_delete: Option<bool>,
    /// Whether it may be overwritten.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_write: Option<bool>,
    /// Whether it shows in listings.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_list: Option<bool>,
    /// Whether it may be pulled.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_read: Option<bool>,
}

impl ArtifactManifestProperties {
    /// The JS shape of the core's properties; `registry` is the login server when ACR's answer
    /// named none.
    pub fn new(registry: &str, repository: &str, p: ManifestProperties) -> Self {
        let a = p.changeable_attributes;
        Self {
            registry_login_server: login_server(p.registry_login_server, registry),
            repository_name: repository.to_string(),
            digest: p.digest,
            size_in_bytes: p.size_in_bytes.map(|s| s as f64),
            created_on: p.created_on,
            last_updated_on: p.last_updated_on,
            architecture: p.architecture,
            operating_system: p.operating_system,
            related_artifacts: p.related_artifacts.into_iter().map(Into::into).collect(),
            tags: p.tags,
            media_type: p.media_type,
            can_delete: a.can_delete,
            can_write: a.can_write,
            can_list: a.can_list,
            can_read: a.can_read,
        }
    }
}

/// A tag's properties (ACR).
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactTagProperties {
    /// The registry's login server.
    pub registry_login_server: String,
    /// The repository.
    pub repository_name: String,
    /// The tag.
    pub name: String,
    /// The manifest it points at.
    pub digest: String,
    /// When it was created.
    #[tsify(type = "Date")]
    pub created_on: String,
    /// When it last changed.
    #[tsify(type = "Date")]
    pub last_updated_on: String,
    /// Whether it may be deleted.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_delete: Option<bool>,
    /// Whether it may be overwritten.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_write: Option<bool>,
    /// Whether it shows in listings.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_list: Option<bool>,
    /// Whether it may be pulled.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_read: Option<bool>,
}

impl ArtifactTagProperties {
    /// The JS shape of the core's properties; `registry` is the login server when ACR's answer
    /// named none.
    pub fn new(registry: &str, repository: &str, p: TagProperties) -> Self {
        let a = p.changeable_attributes;
        Self {
            registry_login_server: login_server(p.registry_login_server, registry),
            repository_name: repository.to_string(),
            name: p.name,
            digest: p.digest,
            created_on: p.created_on,
            last_updated_on: p.last_updated_on,
            can_delete: a.can_delete,
            can_write: a.can_write,
            can_list: a.can_list,
            can_read: a.can_read,
        }
    }
}

/// One entry of the registry's OCI error envelope, as `details` of a `RestError`.
#[derive(Debug, Clone, Serialize, Tsify)]
pub struct OciErrorDetail {
    /// The registry's code (`NAME_UNKNOWN`, `DENIED`, …).
    pub code: String,
    /// Its message.
    pub message: String,
    /// Free-form detail.
    #[tsify(optional, type = "unknown")]
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

/// TypeScript names for the option bags that share a shape, so each method has its
/// `<Method>Options` type as the Azure guidelines ask, and the types that have no Rust struct
/// (credentials, union inputs).
#[wasm_bindgen(typescript_custom_section)]
const NAMED_OPTIONS: &str = r#"
/** Options of `getProperties` (repository). */
export type GetRepositoryPropertiesOptions = OperationOptions;
/** Options of `updateProperties` (repository). */
export type UpdateRepositoryPropertiesOptions = UpdatePropertiesOptions;
/** Options of `getManifestProperties`. */
export type GetManifestPropertiesOptions = OperationOptions;
/** Options of `updateManifestProperties`. */
export type UpdateManifestPropertiesOptions = UpdatePropertiesOptions;
/** Options of `getTagProperties`. */
export type GetTagPropertiesOptions = OperationOptions;
/** Options of `updateTagProperties`. */
export type UpdateTagPropertiesOptions = UpdatePropertiesOptions;
/** Options of `listRepositoryNames`. */
export type ListRepositoriesOptions = OperationOptions;
/** Options of `listTagNames`. */
export type ListTagNamesOptions = OperationOptions;
/** Options of `listManifestProperties`. */
export type ListManifestPropertiesOptions = ListOrderedOptions;
/** Options of `listTagProperties`. */
export type ListTagPropertiesOptions = ListOrderedOptions;
/** Options of `deleteRepository` and `ContainerRepository.delete`. */
export type DeleteRepositoryOptions = OperationOptions;
/** Options of `RegistryArtifact.delete`. */
export type DeleteArtifactOptions = OperationOptions;
/** Options of `deleteTag`. */
export type DeleteTagOptions = OperationOptions;
/** Options of `downloadBlob` and `downloadBlobContent`. */
export type DownloadBlobOptions = OperationOptions;
/** Options of `deleteBlob`. */
export type DeleteBlobOptions = OperationOptions;
/** Options of `getManifest`. */
export type GetManifestOptions = OperationOptions;
/** Options of `deleteManifest`. */
export type DeleteManifestOptions = OperationOptions;
/** Options of `mountBlob`. */
export type MountBlobOptions = OperationOptions;
/** Options of `blobExists`. */
export type BlobExistsOptions = OperationOptions;
/** Listing order of `listManifestProperties` and `listTagProperties`. */
export type ArtifactOrder = "LastUpdatedOnDescending" | "LastUpdatedOnAscending";
/** The manifest media types `@azure/container-registry` names. */
export type KnownManifestMediaType =
  | "application/vnd.oci.image.manifest.v1+json"
  | "application/vnd.docker.distribution.manifest.v2+json";
/** What `uploadBlob` takes. A `ReadableStream` (or an async iterable of chunks, such as a Node
 *  `Readable`) is read one chunk at a time, each sent before the next is read, so its length
 *  need not be known and memory holds about one chunk. */
export type BlobContent = Blob | ArrayBuffer | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;
/** What `setManifest` takes: the exact bytes (a buffer, or a stream read whole), or an object to serialize as JSON. */
export type ManifestContent =
  | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>
  | Record<string, unknown>;
/** A username and password (Basic auth, or sent to the registry's token server). */
export interface UsernamePasswordCredential { username: string; password: string }
/** A bearer token sent to the registry as it is. */
export interface StaticTokenCredential { token: string }
/** An access token as `@azure/core-auth` defines it. */
export interface AccessToken { token: string; expiresOnTimestamp: number }
/** Anything with `getToken`, such as every `@azure/identity` credential (see `tokenKind`). */
export interface TokenCredential {
  getToken(scopes: string | string[], options?: unknown): Promise<AccessToken | null>;
}
/** How a client authenticates; none means anonymous. */
export type RegistryCredential = UsernamePasswordCredential | StaticTokenCredential | TokenCredential;
"#;
