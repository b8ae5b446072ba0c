//! Porthole's protocol core: the OCI Distribution API and the Azure Container Registry extensions,
//! without I/O.
//!
//! This crate builds requests, parses responses and advances explicit state machines (uploads,
//! authentication, paging). It never opens a socket and never reads a clock: a [`Transport`]
//! moves the bytes and tells the time. So every rule of the protocol is tested natively with
//! canned responses, and the same code runs in the browser over `fetch`.
//!
//! [`Transport`]: transport::Transport
#![forbid(unsafe_code)]

pub mod acr;
mod acr_client;
pub mod api;
pub mod auth;
pub mod client;
pub mod digest;
pub mod error;
mod flight;
pub mod headers;
mod join;
pub mod manifest;
pub mod media_type;
pub mod reference;
pub mod retry;
pub mod transport;
pub mod upload;
pub mod url;

pub use acr_client::Artifact;
pub use auth::{Credential, Scope, Secret};
pub use client::{
    ClientOptions, ManifestInfo, Page, PageGuard, PageRequest, RegistryClient, Repository,
};
pub use digest::{Digest, DigestAlgorithm, Hasher};
pub use error::{Error, OciError, OciErrorCode, Result};
pub use manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, ManifestKind, Platform};
pub use media_type::MediaType;
pub use reference::{Reference, RepositoryName, Tag, TagOrDigest};
pub use retry::RetryPolicy;
pub use transport::{
    BlobSource, Body, BodyStream, ByteStream, Headers, Method, Request, Response, Transport,
    TransportError, TransportErrorKind,
};
pub use upload::{BlobUpload, UploadOptions, UploadProgress};
pub use url::Url;
