//! The functions the benchmark page calls.

use js_sys::{ArrayBuffer, Uint8Array, WebAssembly};
use porthole_browser::{
    download_blob_to_stream, error_to_js, BlobFileSource, FetchTransport, ReadableStreamSource,
};
use porthole_core::{
    Credential, Digest, Error, Hasher, RegistryClient, Repository, RepositoryName, UploadOptions,
    Url,
};
use wasm_bindgen::prelude::*;
use web_sys::{Blob, ReadableStream};

/// Bytes copied into wasm memory and hashed at a time by [`sha256_uint8array`].
const HASH_PIECE: u32 = 4 * 1024 * 1024;

fn js_error(error: &Error) -> JsValue {
    error_to_js(error)
}

/// A fresh anonymous client for `registry` (as a page gets on its first call).
fn client(registry: &str) -> Result<RegistryClient<FetchTransport>, JsValue> {
    let base = Url::parse(registry)
        .map_err(|e| JsValue::from_str(&format!("bad registry URL {registry}: {e}")))?;
    Ok(RegistryClient::new(
        FetchTransport::new(),
        base,
        Credential::Anonymous,
    ))
}

fn repository(registry: &str, name: &str) -> Result<Repository<FetchTransport>, JsValue> {
    let name = RepositoryName::parse(name).map_err(|e| js_error(&e))?;
    Ok(client(registry)?.repository(name))
}

fn digest(text: &str) -> Result<Digest, JsValue> {
    Digest::parse(text).map_err(|e| js_error(&e))
}

/// Uploads `blob` into `repository` with [`Repository::upload_blob`] and returns its digest.
///
/// `chunk_size` in bytes overrides the product default ([`UploadOptions::default`], 64 MiB
/// chunks); everything else is the default. `hash_in_wasm` hashes a blob that WebCrypto would
/// take ([`porthole_browser::WEBCRYPTO_MAX_BYTES`]) in wasm instead
/// ([`BlobFileSource::without_webcrypto`]).
#[wasm_bindgen]
pub async fn upload_blob(
    registry: String,
    repository_name: String,
    blob: Blob,
    chunk_size: Option<f64>,
    hash_in_wasm: Option<bool>,
) -> Result<String, JsValue> {
    let repo = repository(&registry, &repository_name)?;
    let mut options = UploadOptions::default();
    if let Some(size) = chunk_size {
        options.chunk_size = size as u64;
    }
    let mut source = BlobFileSource::new(blob);
    if hash_in_wasm == Some(true) {
        source = source.without_webcrypto();
    }
    let digest = repo
        .upload_blob(&source, options, &mut |_| {})
        .await
        .map_err(|e| js_error(&e))?;
    Ok(digest.to_string())
}

/// Uploads the bytes of `stream` (the page passes `file.stream()`) with
/// [`Repository::upload_blob_stream`] through [`ReadableStreamSource`], default options; returns
/// the digest. The streamed path's speed beside the `File` path's.
#[wasm_bindgen]
pub async fn upload_stream(
    registry: String,
    repository_name: String,
    stream: ReadableStream,
) -> Result<String, JsValue> {
    let repo = repository(&registry, &repository_name)?;
    let mut source = ReadableStreamSource::new(&stream)?;
    let digest = repo
        .upload_blob_stream(&mut source, UploadOptions::default(), &mut |_| {})
        .await
        .map_err(|e| js_error(&e))?;
    Ok(digest.to_string())
}

/// The product's verified download: a `ReadableStream` from
/// [`download_blob_to_stream`] that errors instead of closing when the bytes do not hash to
/// `digest`. The page reads it to the end, counting bytes.
#[wasm_bindgen]
pub fn download_stream(
    registry: String,
    repository_name: String,
    digest_text: String,
) -> Result<ReadableStream, JsValue> {
    let repo = repository(&registry, &repository_name)?;
    Ok(download_blob_to_stream(&repo, &digest(&digest_text)?))
}

/// The core's verified download ([`Repository::download_blob`]) into a sink that only counts
/// bytes, so no chunk leaves wasm memory; returns the byte count.
#[wasm_bindgen]
pub async fn download_count(
    registry: String,
    repository_name: String,
    digest_text: String,
) -> Result<f64, JsValue> {
    let repo = repository(&registry, &repository_name)?;
    let size = repo
        .download_blob(&digest(&digest_text)?, &mut |_| Ok(()))
        .await
        .map_err(|e| js_error(&e))?;
    Ok(size as f64)
}

/// SHA-256 of `data` with [`Hasher`] (RustCrypto `sha2`), copying 4 MiB pieces into one wasm
/// buffer as a streaming caller would; returns `sha256:<hex>`.
#[wasm_bindgen]
pub fn sha256_uint8array(data: &Uint8Array) -> String {
    let mut hasher = Hasher::sha256();
    let mut buffer = vec![0u8; HASH_PIECE as usize];
    let len = data.length();
    let mut offset = 0;
    while offset < len {
        let end = offset.saturating_add(HASH_PIECE).min(len);
        let piece = &mut buffer[..(end - offset) as usize];
        data.subarray(offset, end).copy_to(piece);
        hasher.update(piece);
        offset = end;
    }
    hasher.finish().to_string()
}

/// An incremental SHA-256 ([`Hasher`]) for the bench's hashing worker: `update` with each chunk
/// (copied into wasm memory), then `finish` for `sha256:<hex>`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Sha256Stream {
    hasher: Option<Hasher>,
    buffer: Vec<u8>,
}

impl Default for Sha256Stream {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl Sha256Stream {
    /// A fresh hasher.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self {
            hasher: Some(Hasher::sha256()),
            buffer: Vec::new(),
        }
    }

    /// Feeds `chunk`.
    pub fn update(&mut self, chunk: &Uint8Array) {
        self.buffer.resize(chunk.length() as usize, 0);
        chunk.copy_to(&mut self.buffer);
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(&self.buffer);
        }
    }

    /// The digest of everything fed (empty after the first call).
    pub fn finish(&mut self) -> String {
        self.hasher
            .take()
            .map(|h| h.finish().to_string())
            .unwrap_or_default()
    }
}

/// SHA-256 of a `Blob` read the way an upload over [`WEBCRYPTO_MAX_BYTES`] reads it
/// ([`BlobFileSource::read`]: 8 MiB slices through a BYOB reader, copied into wasm memory),
/// one slice after the other; returns `sha256:<hex>`.
///
/// [`WEBCRYPTO_MAX_BYTES`]: porthole_browser::WEBCRYPTO_MAX_BYTES
#[wasm_bindgen]
pub async fn sha256_blob(blob: Blob) -> Result<String, JsValue> {
    use porthole_core::BlobSource as _;
    const SLICE: u64 = 8 * 1024 * 1024;
    let source = BlobFileSource::new(blob);
    let mut hasher = Hasher::sha256();
    let size = source.size();
    let mut offset = 0;
    while offset < size {
        let end = (offset + SLICE).min(size);
        let bytes = source
            .read(offset, end)
            .await
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        hasher.update(&bytes);
        offset = end;
    }
    Ok(hasher.finish().to_string())
}

/// Lists every repository with a fresh client ([`RegistryClient::list_repositories`], the
/// product's page-size ladder included); returns how many there are.
#[wasm_bindgen]
pub async fn list_repositories(registry: String) -> Result<u32, JsValue> {
    let names = client(&registry)?
        .list_repositories()
        .await
        .map_err(|e| js_error(&e))?;
    Ok(names.len() as u32)
}

/// Lists every tag of a repository with a fresh client ([`Repository::list_tags`]); returns how
/// many there are.
#[wasm_bindgen]
pub async fn list_tags(registry: String, repository_name: String) -> Result<u32, JsValue> {
    let tags = repository(&registry, &repository_name)?
        .list_tags()
        .await
        .map_err(|e| js_error(&e))?;
    Ok(tags.len() as u32)
}

/// The size of this module's linear memory in bytes (`memory.buffer.byteLength`). Wasm memory
/// never shrinks, so after an operation this is its peak.
#[wasm_bindgen]
pub fn wasm_memory_bytes() -> f64 {
    let memory: WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let buffer: ArrayBuffer = memory.buffer().unchecked_into();
    f64::from(buffer.byte_length())
}
