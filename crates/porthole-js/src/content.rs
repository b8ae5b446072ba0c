//! `ContainerRegistryContentClient`: blobs and manifests of one repository, named as in
//! `@azure/container-registry` (whose content client runs only in Node; this one runs in
//! browsers too), plus `mountBlob`, `listReferrers` and `blobExists`.

use js_sys::{ArrayBuffer, Function, Object, Promise, Uint8Array};
use porthole_browser::{resumable_blob_stream, BlobFileSource, ReadableStreamSource};
use porthole_core::{Digest, Error, Manifest, Repository, Tag, TagOrDigest, UploadOptions};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ReadableStream};

use crate::error::{to_js_error, IntoJs};
use crate::glue::{
    bytes_of, bytes_to_blob, console_error, get, json_text, read_whole, set, stream_of_iterable,
    string_arg, to_js, type_error,
};
use crate::paging::{paged, Listing};
use crate::registry::{
    make_client, opt_value, opts, reference, repository_name, signal_of, spawn, spawn_with_signal,
};
use crate::transport::{with_signal, JsTransport};
use crate::types::{
    DownloadBlobResult, GetManifestResult, ListReferrersOptions, SetManifestOptions,
    SetManifestResult, TransferProgressEvent, UploadBlobOptions, UploadBlobResult,
};

/// Blobs and manifests of one repository.
///
/// ```js
/// const content = new ContainerRegistryContentClient(endpoint, "library/hello", { username, password });
/// const { digest, sizeInBytes } = await content.uploadBlob(file, { onProgress: (p) => console.log(p.loadedBytes) });
/// const { content: stream } = await content.downloadBlob(digest);
/// ```
#[wasm_bindgen]
#[derive(Debug)]
pub struct ContainerRegistryContentClient {
    repository: Repository<JsTransport>,
    endpoint: String,
}

fn digest(text: &JsValue) -> Result<Digest, JsValue> {
    Digest::parse(&string_arg(text, "digest")?).js()
}

/// The blob to upload, from a `Blob`/`File`, `ArrayBuffer` or typed array (a `ReadableStream`
/// or async iterable goes its own way: [`ReadableStreamSource`]).
fn blob_of(content: JsValue) -> Result<Blob, JsValue> {
    if content.is_instance_of::<Blob>() {
        return Ok(content.unchecked_into());
    }
    if content.is_instance_of::<ArrayBuffer>() || ArrayBuffer::is_view(&content) {
        return bytes_to_blob(&content);
    }
    Err(type_error(
        "uploadBlob takes a Blob or File, an ArrayBuffer, a Uint8Array, a ReadableStream or an \
         async iterable of Uint8Arrays (such as a Node Readable)",
    ))
}

/// The bytes of a manifest: read whole from a stream or async iterable (a Node `Readable`, as
/// the Azure SDK's `setManifest` takes), else [`manifest_bytes`].
async fn manifest_content(manifest: &JsValue) -> Result<Vec<u8>, JsValue> {
    let limit = porthole_core::manifest::MAX_MANIFEST_BYTES as f64;
    let read = JsFuture::from(read_whole(manifest, limit, "the manifest")).await?;
    if read.is_null() {
        return manifest_bytes(manifest);
    }
    Ok(read.unchecked_into::<Uint8Array>().to_vec())
}

/// The bytes of a manifest: as given, or an object serialized as JSON.
fn manifest_bytes(manifest: &JsValue) -> Result<Vec<u8>, JsValue> {
    if manifest.is_instance_of::<ArrayBuffer>() || ArrayBuffer::is_view(manifest) {
        return Ok(bytes_of(manifest, "the manifest")?.to_vec());
    }
    if manifest.is_object() {
        let text = json_text(manifest).map_err(|cause| {
            type_error(&format!(
                "the manifest object cannot be written as JSON: {cause}"
            ))
        })?;
        return Ok(text.into_bytes());
    }
    Err(type_error(
        "setManifest takes a Uint8Array, an ArrayBuffer or a manifest object",
    ))
}

#[wasm_bindgen]
impl ContainerRegistryContentClient {
    /// A client for repository `repositoryName` of the registry at `endpoint`, with the same
    /// credentials and options as `ContainerRegistryClient` (anonymous when none are given).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "string")] endpoint: JsValue,
        #[wasm_bindgen(js_name = repositoryName, unchecked_param_type = "string")]
        repository_name_: JsValue,
        #[wasm_bindgen(
            unchecked_optional_param_type = "RegistryCredential | ContainerRegistryClientOptions"
        )]
        credential: Option<Object>,
        #[wasm_bindgen(unchecked_optional_param_type = "ContainerRegistryClientOptions")]
        options: Option<Object>,
    ) -> Result<Self, JsValue> {
        let endpoint = string_arg(&endpoint, "endpoint")?;
        let client = make_client(&endpoint, &opt_value(&credential), &opt_value(&options))?;
        Ok(Self {
            repository: client.repository(repository_name(&repository_name_)?),
            endpoint,
        })
    }

    /// The registry's URL, as given.
    #[wasm_bindgen(getter)]
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The repository name.
    #[wasm_bindgen(getter, js_name = repositoryName)]
    pub fn repository_name(&self) -> String {
        self.repository.name().as_str().to_string()
    }

    /// Uploads a blob in chunks, hashing each while it is on the wire, and returns its digest
    /// and size. A `File` is sent slice by slice and never read whole into memory. On failure
    /// or abort the registry's upload session is cancelled.
    ///
    /// ```js
    /// const controller = new AbortController();
    /// const { digest } = await content.uploadBlob(file, {
    ///   abortSignal: controller.signal,
    ///   onProgress: ({ loadedBytes, totalBytes }) => bar.update(loadedBytes / totalBytes),
    /// });
    /// ```
    #[wasm_bindgen(js_name = uploadBlob, unchecked_return_type = "Promise<UploadBlobResult>")]
    pub fn upload_blob(
        &self,
        #[wasm_bindgen(unchecked_param_type = "BlobContent")] content: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "UploadBlobOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        let parsed = opts::<UploadBlobOptions>(&options);
        let on_progress = get(&opt_value(&options), "onProgress");
        // Read as given: through JSON, Infinity and NaN would turn into null (the default).
        let chunk_size = get(&opt_value(&options), "chunkSizeInBytes");
        spawn_with_signal(&opt_value(&options), move |signal| async move {
            parsed?;
            let on_progress = match on_progress {
                none if none.is_undefined() || none.is_null() => None,
                given => Some(
                    given
                        .dyn_into::<Function>()
                        .map_err(|_| type_error("onProgress must be a function"))?,
                ),
            };
            let mut callback_failed = false;
            let mut upload = UploadOptions::default();
            if !chunk_size.is_undefined() && !chunk_size.is_null() {
                match chunk_size.as_f64() {
                    // Infinity (or any size past the blob's) sends a blob in one chunk.
                    Some(chunk) if chunk >= 1.0 => upload.chunk_size = chunk as u64,
                    _ => return Err(type_error("chunkSizeInBytes must be a positive number")),
                }
            }
            // The size of a stream is known only at its end: the last report has it.
            let mut size = 0;
            let mut progress = |p: porthole_core::UploadProgress| {
                size = p.total;
                if let Some(callback) = &on_progress {
                    let event = TransferProgressEvent {
                        loaded_bytes: p.confirmed as f64,
                        total_bytes: p.total as f64,
                        interruptions: p.interruptions,
                    };
                    // A throwing callback must not break the upload, nor vanish: the first
                    // error goes to the console.
                    let called = callback.call1(&JsValue::UNDEFINED, &to_js(&event));
                    if let (Err(error), false) = (called, callback_failed) {
                        callback_failed = true;
                        console_error(
                            "uploadBlob: the onProgress callback threw (the upload goes on):",
                            &error,
                        );
                    }
                }
            };
            // A Node Readable or another async iterable goes as the stream it gives.
            let iterated = stream_of_iterable(&content)?;
            let content = if iterated.is_null() {
                content
            } else {
                iterated
            };
            let digest = if let Some(stream) = content.dyn_ref::<ReadableStream>() {
                let mut source = ReadableStreamSource::new(stream)?.with_abort_signal(signal);
                repository
                    .upload_blob_stream(&mut source, upload, &mut progress)
                    .await
            } else {
                let source = BlobFileSource::new(blob_of(content)?);
                repository.upload_blob(&source, upload, &mut progress).await
            }
            .js()?;
            Ok(to_js(&UploadBlobResult {
                digest: digest.to_string(),
                size_in_bytes: size as f64,
            }))
        })
    }

    /// Downloads a blob as a readable byte stream verified while it streams: at the end it
    /// errors with a `DigestMismatchError` instead of closing when the bytes do not hash to
    /// `digest`. Read it with a BYOB reader (`getReader({ mode: "byob" })`) to have the bytes
    /// land in your own buffer with nothing allocated per chunk. The promise rejects if the
    /// registry refuses (404, 401, …).
    ///
    /// ```js
    /// const { content } = await client.downloadBlob(digest);
    /// await content.pipeTo(writable);
    /// ```
    #[wasm_bindgen(js_name = downloadBlob, unchecked_return_type = "Promise<DownloadBlobResult>")]
    pub fn download_blob(
        &self,
        #[wasm_bindgen(js_name = digest, unchecked_param_type = "string")] digest_text: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "DownloadBlobOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        let digest = digest(&digest_text);
        spawn_with_signal(&opt_value(&options), move |signal| async move {
            let digest = digest?;
            let response = repository.open_blob(&digest).await.js()?;
            // Resumes run under this call's abort signal, as its first request did.
            let stream = resumable_blob_stream(
                &repository,
                &digest,
                response.body,
                to_js_error,
                move |resume| Box::pin(with_signal(signal.clone(), resume)),
            );
            let result = to_js(&DownloadBlobResult {
                digest: digest.to_string(),
                content: (),
            });
            set(&result, "content", &stream);
            Ok(result)
        })
    }

    /// Downloads a whole blob into a `Uint8Array`, returned only once verified against
    /// `digest` (for small blobs such as configs; stream large ones with `downloadBlob`).
    #[wasm_bindgen(js_name = downloadBlobContent, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn download_blob_content(
        &self,
        #[wasm_bindgen(js_name = digest, unchecked_param_type = "string")] digest_text: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "DownloadBlobOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        let digest = digest(&digest_text);
        spawn(&opt_value(&options), async move {
            let bytes = repository.get_blob(&digest?).await.js()?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Deletes a blob; a blob that does not exist counts as deleted (as in the Azure SDK).
    #[wasm_bindgen(js_name = deleteBlob, unchecked_return_type = "Promise<void>")]
    pub fn delete_blob(
        &self,
        #[wasm_bindgen(js_name = digest, unchecked_param_type = "string")] digest_text: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "DeleteBlobOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        let digest = digest(&digest_text);
        spawn(&opt_value(&options), async move {
            match repository.delete_blob(&digest?).await {
                Err(e) if !e.is_not_found() => Err(to_js_error(&e)),
                _ => Ok(JsValue::UNDEFINED),
            }
        })
    }

    /// Whether the repository has the blob.
    #[wasm_bindgen(js_name = blobExists, unchecked_return_type = "Promise<boolean>")]
    pub fn blob_exists(
        &self,
        #[wasm_bindgen(js_name = digest, unchecked_param_type = "string")] digest_text: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "BlobExistsOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        let digest = digest(&digest_text);
        spawn(&opt_value(&options), async move {
            let size = repository.blob_exists(&digest?).await.js()?;
            Ok(JsValue::from_bool(size.is_some()))
        })
    }

    /// Mounts a blob from another repository of the same registry without uploading it.
    /// Resolves `true` when mounted, `false` when the registry declined (then upload it).
    #[wasm_bindgen(js_name = mountBlob, unchecked_return_type = "Promise<boolean>")]
    pub fn mount_blob(
        &self,
        #[wasm_bindgen(js_name = digest, unchecked_param_type = "string")] digest_text: JsValue,
        #[wasm_bindgen(js_name = fromRepository, unchecked_param_type = "string")]
        from_repository: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "MountBlobOptions")] options: Option<Object>,
    ) -> Promise {
        let repository = self.repository.clone();
        let digest = digest(&digest_text);
        let from = repository_name(&from_repository);
        spawn(&opt_value(&options), async move {
            let mounted = repository.mount_blob(&digest?, &from?).await.js()?;
            Ok(JsValue::from_bool(mounted))
        })
    }

    /// Fetches a manifest by tag or digest, verified against its digest.
    ///
    /// ```js
    /// const { digest, mediaType, manifest, content } = await client.getManifest("v1");
    /// ```
    #[wasm_bindgen(js_name = getManifest, unchecked_return_type = "Promise<GetManifestResult>")]
    pub fn get_manifest(
        &self,
        #[wasm_bindgen(js_name = tagOrDigest, unchecked_param_type = "string")]
        tag_or_digest: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "GetManifestOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        let reference = reference(&tag_or_digest, "tagOrDigest");
        spawn(&opt_value(&options), async move {
            let manifest = repository.get_manifest(&reference?).await.js()?;
            let result = to_js(&GetManifestResult {
                digest: manifest.digest.to_string(),
                media_type: manifest.media_type.as_str().to_string(),
                manifest: (),
                content: (),
            });
            let text = String::from_utf8_lossy(&manifest.raw);
            set(&result, "manifest", &js_sys::JSON::parse(&text)?);
            set(
                &result,
                "content",
                &Uint8Array::from(manifest.raw.as_slice()),
            );
            Ok(result)
        })
    }

    /// Pushes a manifest (its exact bytes, from a buffer or read whole from a `ReadableStream`
    /// or Node `Readable`, or an object serialized as JSON) under `tag`, or by its digest when
    /// no tag is given; returns the digest.
    #[wasm_bindgen(js_name = setManifest, unchecked_return_type = "Promise<SetManifestResult>")]
    pub fn set_manifest(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ManifestContent")] manifest: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SetManifestOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        let parsed = opts::<SetManifestOptions>(&options);
        spawn(&opt_value(&options), async move {
            let parsed = parsed?;
            let bytes = manifest_content(&manifest).await?;
            let manifest =
                Manifest::from_bytes(bytes, parsed.media_type.as_deref(), None, "to push").js()?;
            let reference = match &parsed.tag {
                Some(tag) => TagOrDigest::Tag(Tag::parse(tag).js()?),
                None => TagOrDigest::Digest(manifest.digest.clone()),
            };
            let digest = repository.put_manifest(&reference, &manifest).await.js()?;
            Ok(to_js(&SetManifestResult {
                digest: digest.to_string(),
            }))
        })
    }

    /// Deletes a manifest by digest. A tag is refused (`INVALID_INPUT`): on registries of OCI
    /// 1.1 a `DELETE` by tag removes only the tag, and elsewhere it is refused, so deleting
    /// "the manifest `latest`" would quietly do something else.
    #[wasm_bindgen(js_name = deleteManifest, unchecked_return_type = "Promise<void>")]
    pub fn delete_manifest(
        &self,
        #[wasm_bindgen(js_name = digest, unchecked_param_type = "string")] digest_text: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "DeleteManifestOptions")] options: Option<
            Object,
        >,
    ) -> Promise {
        let repository = self.repository.clone();
        let reference = reference(&digest_text, "digest").and_then(|r| match r {
            TagOrDigest::Digest(_) => Ok(r),
            TagOrDigest::Tag(tag) => Err(to_js_error(&Error::InvalidInput {
                what: "digest",
                value: tag.to_string(),
                reason: format!(
                    "deleteManifest takes the manifest's digest, not a tag: take the digest from \
                     getManifest(\"{tag}\") (or getManifestProperties) and delete that, which \
                     removes every tag of the manifest; to remove only this tag, use \
                     deleteTag(\"{tag}\") of the artifact on ACR"
                ),
            })),
        });
        spawn(&opt_value(&options), async move {
            repository.delete_manifest(&reference?).await.js()?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The manifests that refer to `digest` (signatures, SBOMs, attestations), optionally of
    /// one `artifactType`: the referrers API, or the fallback tag on registries without it.
    #[wasm_bindgen(
        js_name = listReferrers,
        unchecked_return_type = "PagedAsyncIterableIterator<OciDescriptor, ReferrerPageResponse>"
    )]
    pub fn list_referrers(
        &self,
        #[wasm_bindgen(js_name = digest, unchecked_param_type = "string")] digest_text: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "ListReferrersOptions")] options: Option<
            Object,
        >,
    ) -> Result<JsValue, JsValue> {
        let parsed: ListReferrersOptions = opts(&options)?;
        let signal = signal_of(&opt_value(&options))?;
        Ok(paged(
            Listing::Referrers(
                self.repository.clone(),
                digest(&digest_text)?,
                parsed.artifact_type,
            ),
            signal,
        ))
    }
}
