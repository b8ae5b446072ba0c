//! porthole-browser in headless Chromium against the testkit's real registries.
//!
//! The registry URLs come at compile time: `PORTHOLE_TEST_REGISTRY` (the anonymous registry) and
//! `PORTHOLE_TEST_REGISTRIES_JSON` (the line `porthole-testkit serve` prints). `cargo xtask test`
//! sets both.
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Reflect, Uint8Array};
use porthole_browser::{
    download_blob_to_stream, download_blob_to_uint8array, verified_stream, BlobFileSource,
    FetchBody, FetchTransport, ReadableStreamSource, StallLimits,
};
use porthole_core::{
    api, BlobSource, Body, BodyStream, ClientOptions, Credential, Descriptor, Digest, Error,
    ImageManifest, Manifest, MediaType, Method, RegistryClient, Repository, RepositoryName,
    Request, Response, RetryPolicy, Tag, TagOrDigest, Transport, TransportError,
    TransportErrorKind, UploadOptions, Url,
};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{
    AbortController, Blob, ReadableStream, ReadableStreamByobReader, ReadableStreamDefaultReader,
    ReadableStreamGetReaderOptions, ReadableStreamReaderMode,
};

wasm_bindgen_test_configure!(run_in_browser);

const MIB: usize = 1024 * 1024;

/// The parts of a test transport that wraps a `FetchTransport` in its field `inner` and only
/// changes `send`: its body and native types, and the inner transport's clock.
macro_rules! over_inner_fetch {
    () => {
        type NativeBody = Blob;
        type Stream = FetchBody;

        fn now_millis(&self) -> u64 {
            self.inner.now_millis()
        }

        async fn sleep(&self, millis: u64) {
            self.inner.sleep(millis).await
        }

        fn aborted(&self) -> Option<TransportError> {
            self.inner.aborted()
        }

        async fn until_aborted(&self) {
            self.inner.until_aborted().await
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn registries() -> JsValue {
    let Some(json) = option_env!("PORTHOLE_TEST_REGISTRIES_JSON") else {
        panic!(
            "PORTHOLE_TEST_REGISTRIES_JSON was not set when the tests were compiled; run them \
             with `cargo xtask test` (see the top of crates/porthole-browser/tests/web.rs)"
        )
    };
    js_sys::JSON::parse(json).expect("PORTHOLE_TEST_REGISTRIES_JSON is JSON")
}

fn field(value: &JsValue, path: &[&str]) -> String {
    let mut v = value.clone();
    for key in path {
        v = Reflect::get(&v, &JsValue::from_str(key)).unwrap();
    }
    v.as_string()
        .unwrap_or_else(|| panic!("registries JSON has no string at {path:?}"))
}

fn anonymous_url() -> String {
    option_env!("PORTHOLE_TEST_REGISTRY")
        .map(str::to_string)
        .unwrap_or_else(|| field(&registries(), &["anonymous"]))
}

fn password(user: &str) -> String {
    field(&registries(), &["users", user, "password"])
}

fn client_for(url: &str, credential: Credential) -> RegistryClient<FetchTransport> {
    RegistryClient::new(FetchTransport::new(), Url::parse(url).unwrap(), credential)
}

fn anonymous() -> RegistryClient<FetchTransport> {
    client_for(&anonymous_url(), Credential::Anonymous)
}

/// A repository name no other test (or earlier run) uses.
fn unique_repo(prefix: &str) -> RepositoryName {
    let suffix = (js_sys::Math::random() * 4_294_967_295.0) as u32;
    RepositoryName::parse(&format!("browser/{prefix}-{suffix:08x}")).unwrap()
}

/// Deterministic, incompressible-looking bytes.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn blob_of(bytes: &[u8]) -> Blob {
    let parts = Array::of1(&Uint8Array::from(bytes));
    Blob::new_with_u8_array_sequence(&parts).unwrap()
}

/// SHA-256 by the browser's own WebCrypto: an implementation independent of the core's.
async fn webcrypto_sha256(bytes: &[u8]) -> String {
    let global = js_sys::global();
    let crypto = Reflect::get(&global, &"crypto".into()).unwrap();
    let subtle = Reflect::get(&crypto, &"subtle".into()).unwrap();
    let digest: js_sys::Function = Reflect::get(&subtle, &"digest".into())
        .unwrap()
        .unchecked_into();
    let promise = digest
        .call2(&subtle, &"SHA-256".into(), &Uint8Array::from(bytes))
        .unwrap();
    let buffer = JsFuture::from(js_sys::Promise::from(promise))
        .await
        .unwrap();
    let hex: String = Uint8Array::new(&buffer)
        .to_vec()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Reads a whole ReadableStream; `Err` carries the value the stream errored with.
async fn read_stream(stream: &ReadableStream) -> Result<Vec<u8>, JsValue> {
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut out = Vec::new();
    loop {
        let result = JsFuture::from(reader.read()).await?;
        if Reflect::get(&result, &"done".into())?.as_bool() == Some(true) {
            return Ok(out);
        }
        let chunk: Uint8Array = Reflect::get(&result, &"value".into())?.unchecked_into();
        out.extend(chunk.to_vec());
    }
}

/// Reads a whole byte stream with a BYOB reader through one buffer of `buffer_len` bytes that
/// moves from read to read (as a consumer writing a file piece by piece does).
async fn read_stream_byob(stream: &ReadableStream, buffer_len: u32) -> Result<Vec<u8>, JsValue> {
    let options = ReadableStreamGetReaderOptions::new();
    options.set_mode(ReadableStreamReaderMode::Byob);
    let reader: ReadableStreamByobReader = stream.get_reader_with_options(&options).dyn_into()?;
    let mut buffer = js_sys::ArrayBuffer::new(buffer_len);
    let mut out = Vec::new();
    loop {
        let view = Uint8Array::new(&buffer);
        let result = JsFuture::from(reader.read_with_array_buffer_view(&view)).await?;
        let chunk: Uint8Array = Reflect::get(&result, &"value".into())?.unchecked_into();
        if Reflect::get(&result, &"done".into())?.as_bool() == Some(true) {
            return Ok(out);
        }
        out.extend(chunk.to_vec());
        buffer = chunk.buffer();
        assert_eq!(
            buffer.byte_length(),
            buffer_len,
            "the reader's buffer came back whole"
        );
    }
}

/// The value a stream errored with; panics (without printing the bytes) if it closed normally.
async fn stream_error(stream: &ReadableStream) -> JsValue {
    match read_stream(stream).await {
        Ok(bytes) => panic!("the stream closed normally after {} bytes", bytes.len()),
        Err(error) => error,
    }
}

fn js_prop(value: &JsValue, key: &str) -> Option<String> {
    Reflect::get(value, &key.into()).ok()?.as_string()
}

async fn push_bytes(repo: &Repository<FetchTransport>, bytes: &[u8]) -> Digest {
    let source = BlobFileSource::new(blob_of(bytes));
    repo.upload_blob(&source, UploadOptions::default(), &mut |_| {})
        .await
        .unwrap()
}

async fn push_image(repo: &Repository<FetchTransport>, layer: &[u8], tag: &str) -> Manifest {
    let config = br#"{"architecture":"wasm","os":"browser"}"#;
    let config_digest = push_bytes(repo, config).await;
    let layer_digest = push_bytes(repo, layer).await;
    let image = ImageManifest::new(
        Descriptor::new(
            MediaType::new("application/vnd.oci.image.config.v1+json"),
            config_digest,
            config.len() as u64,
        ),
        vec![Descriptor::new(
            MediaType::new("application/vnd.oci.image.layer.v1.tar"),
            layer_digest,
            layer.len() as u64,
        )],
    );
    let manifest = Manifest::from_image(&image).unwrap();
    let tag = TagOrDigest::Tag(Tag::parse(tag).unwrap());
    let pushed = repo.put_manifest(&tag, &manifest).await.unwrap();
    assert_eq!(pushed, manifest.digest);
    manifest
}

// ---------------------------------------------------------------------------------------------
// The anonymous registry: everything a dashboard does

#[wasm_bindgen_test]
async fn ping_answers() {
    anonymous().ping().await.unwrap();
}

#[wasm_bindgen_test]
async fn pushes_a_multi_mib_blob_in_chunks_from_a_blob() {
    let repo = anonymous().repository(unique_repo("chunked"));
    let bytes = pseudo_random(6 * MIB + 12_345, 7);
    let expected = webcrypto_sha256(&bytes).await;
    // Hashed in wasm, read slice by slice, as a blob over `WEBCRYPTO_MAX_BYTES` is.
    let source = BlobFileSource::new(blob_of(&bytes)).without_webcrypto();
    drop(bytes); // from here on the bytes live only in the Blob
    let options = UploadOptions {
        chunk_size: 2 * MIB as u64,
        ..UploadOptions::default()
    };
    let calls = count_webcrypto_digests();
    let mut confirmations = Vec::new();
    let digest = repo
        .upload_blob(&source, options, &mut |p| confirmations.push(p.confirmed))
        .await
        .unwrap();
    assert_eq!(digest.as_str(), expected);
    // Four PATCHes (2 + 2 + 2 + the rest), each confirmed by the registry.
    let total = 6 * MIB as u64 + 12_345;
    for step in [2, 4, 6].map(|m| m * MIB as u64) {
        assert!(confirmations.contains(&step), "{confirmations:?}");
    }
    assert_eq!(confirmations.last(), Some(&total));
    assert_eq!(repo.blob_exists(&digest).await.unwrap(), Some(total));
    calls.restore();
    assert_eq!(calls.count(), 0, "hashed in wasm, not by WebCrypto");
}

// Each spy wraps the prototype's `digest`, so one left installed by a failed test only counts
// into a stale counter; the lying one lies once and removes itself.
/// What a [`RecordingTransport`] saw of one request: its method, whether it asked for a range,
/// and its status or the kind of its failure.
type Sent = (Method, bool, Result<u16, TransportErrorKind>);

/// A `FetchTransport` that records every request it sends ([`Sent`]).
struct RecordingTransport {
    inner: FetchTransport,
    sent: Rc<RefCell<Vec<Sent>>>,
}

impl Transport for RecordingTransport {
    over_inner_fetch!();

    async fn send(&self, request: Request<Blob>) -> Result<Response<FetchBody>, TransportError> {
        let method = request.method;
        let ranged = request.headers.get("range").is_some();
        let answer = self.inner.send(request).await;
        let outcome = answer.as_ref().map(|r| r.status).map_err(|e| e.kind);
        self.sent.borrow_mut().push((method, ranged, outcome));
        answer
    }
}

/// A client of the kit's fault proxy whose transport gives a silent connection one second, and
/// the record of what it sends.
fn impatient_client_of_faults() -> (RegistryClient<RecordingTransport>, Rc<RefCell<Vec<Sent>>>) {
    let inner = FetchTransport::new();
    inner.set_stall_limits(StallLimits {
        answer_ms: 1_000,
        body_idle_ms: 1_000,
    });
    let sent = Rc::new(RefCell::new(Vec::new()));
    let transport = RecordingTransport {
        inner,
        sent: sent.clone(),
    };
    let url = field(&registries(), &["anonymous_broken_bodies"]);
    let client = RegistryClient::new(transport, Url::parse(&url).unwrap(), Credential::Anonymous);
    (client, sent)
}

/// Through the kit's fault proxy, GET 1, 3, ... of a `stalled-body` repository send half the
/// body and then nothing for 20 s, without closing: the read gives up after the idle limit and
/// the download resumes from where it stopped.
#[wasm_bindgen_test]
async fn a_download_whose_connection_stalls_is_resumed_after_the_idle_limit() {
    let name = unique_repo("stalled-body");
    let url = field(&registries(), &["anonymous_broken_bodies"]);
    let bytes = pseudo_random(3 * MIB + 7, 41);
    let digest = push_bytes(
        &client_for(&url, Credential::Anonymous).repository(name.clone()),
        &bytes,
    )
    .await;
    let (client, sent) = impatient_client_of_faults();
    let started = js_sys::Date::now();
    let got = read_stream_byob(
        &download_blob_to_stream(&client.repository(name), &digest),
        65_536,
    )
    .await
    .unwrap();
    let seconds = (js_sys::Date::now() - started) / 1000.0;
    assert!(got == bytes, "bytes differ");
    let gets: Vec<Sent> = sent.borrow().clone();
    assert_eq!(
        gets,
        [(Method::Get, false, Ok(200)), (Method::Get, true, Ok(206))],
        "one stalled GET, then one resume with a Range"
    );
    // The proxy resets the stalled connection after 20 s, which would also lead to a resume:
    // the idle limit (1 s) must have ended the wait long before.
    assert!(seconds < 15.0, "the stall was waited out: {seconds} s");
}

/// Through the kit's fault proxy, HEAD 1, 3, ... of a `slow-answer` repository are answered
/// after 20 s: the wait gives up after the answer limit and the HEAD is tried again.
#[wasm_bindgen_test]
async fn a_read_with_no_answer_is_tried_again_after_the_answer_limit() {
    let (client, sent) = impatient_client_of_faults();
    let repo = client.repository(unique_repo("slow-answer"));
    let absent = Digest::sha256_of(b"never pushed");
    assert_eq!(repo.blob_exists(&absent).await.unwrap(), None);
    let heads: Vec<Sent> = sent.borrow().clone();
    assert_eq!(
        heads,
        [
            (Method::Head, false, Err(TransportErrorKind::Timeout)),
            (Method::Head, false, Ok(404)),
        ],
        "one HEAD given up on, then one answered"
    );
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// Counts the calls to `crypto.subtle.digest` until `restore` (or the next counter).
    type DigestCounter;
    fn count_webcrypto_digests() -> DigestCounter;
    /// Makes the next `crypto.subtle.digest` hash other bytes (then stops), and counts it.
    fn lie_in_next_webcrypto_digest() -> DigestCounter;
    /// Makes every `crypto.subtle.digest` reject until `restore`, and counts the calls.
    fn refuse_webcrypto_digests() -> DigestCounter;
    #[wasm_bindgen(method)]
    fn count(this: &DigestCounter) -> u32;
    /// The algorithms asked for, comma-separated.
    #[wasm_bindgen(method)]
    fn algorithm_list(this: &DigestCounter) -> String;
    #[wasm_bindgen(method)]
    fn restore(this: &DigestCounter);
}

#[wasm_bindgen_test]
async fn a_blob_that_fits_in_memory_is_hashed_by_webcrypto() {
    let repo = anonymous().repository(unique_repo("webcrypto"));
    let bytes = pseudo_random(5 * MIB + 77, 8);
    // The expected digest from Porthole's own hasher (wasm), the upload's from WebCrypto.
    let expected = Digest::sha256_of(&bytes);
    let calls = count_webcrypto_digests();
    let source = BlobFileSource::new(blob_of(&bytes));
    let options = UploadOptions {
        chunk_size: 2 * MIB as u64,
        ..UploadOptions::default()
    };
    let digest = repo.upload_blob(&source, options, &mut |_| {}).await;
    calls.restore();
    assert_eq!(digest.unwrap(), expected);
    assert_eq!(calls.count(), 1, "one WebCrypto digest of the whole blob");
    assert_eq!(repo.get_blob(&expected).await.unwrap(), bytes);

    // Monolithic, and SHA-512 when the caller expects a sha512 digest.
    let mut sha512 =
        porthole_core::Hasher::for_algorithm(&porthole_core::DigestAlgorithm::Sha512).unwrap();
    sha512.update(&bytes[..MIB]);
    let expected = sha512.finish();
    let calls = count_webcrypto_digests();
    let source = BlobFileSource::new(blob_of(&bytes[..MIB]));
    let options = UploadOptions {
        monolithic_max: u64::MAX,
        expected_digest: Some(expected.clone()),
        ..UploadOptions::default()
    };
    let digest = repo.upload_blob(&source, options, &mut |_| {}).await;
    calls.restore();
    assert_eq!(digest.unwrap(), expected);
    assert_eq!(calls.algorithm_list(), "SHA-512");
    assert_eq!(repo.blob_exists(&expected).await.unwrap(), Some(MIB as u64));
}

/// Where WebCrypto refuses the algorithm after all, an upload and a verified stream hash in
/// wasm instead, and still refuse wrong bytes.
#[wasm_bindgen_test]
async fn a_webcrypto_refusal_falls_back_to_wasm_hashing() {
    let repo = anonymous().repository(unique_repo("webcrypto-refuses"));
    let bytes = pseudo_random(MIB + 31, 14);
    let expected = Digest::sha256_of(&bytes);
    let calls = refuse_webcrypto_digests();
    let source = BlobFileSource::new(blob_of(&bytes));
    let uploaded = repo
        .upload_blob(&source, UploadOptions::default(), &mut |_| {})
        .await;
    let downloaded = read_stream(&download_blob_to_stream(&repo, &expected)).await;
    let refused = verify_other_bytes(&expected, MIB + 31, 16).await;
    calls.restore();
    assert_eq!(
        calls.count(),
        3,
        "the upload and both streams asked WebCrypto first"
    );
    assert_eq!(uploaded.unwrap(), expected);
    assert!(downloaded.unwrap() == bytes);
    let error = refused.expect_err("a stream of other bytes closed normally");
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// Puts back what a test helper changed.
    type Restorer;
    #[wasm_bindgen(method)]
    fn restore(this: &Restorer);
    /// Makes `Blob.prototype.arrayBuffer` reject (`short_by` 0) or give `short_by` bytes
    /// fewer.
    fn break_blob_reads(short_by: u32) -> Restorer;
    /// Makes `new Uint8Array(length)` throw a `RangeError`.
    fn refuse_byte_arrays_of(length: u32) -> Restorer;

    type RefusedReads;
    #[wasm_bindgen(method)]
    fn restore(this: &RefusedReads);
    #[wasm_bindgen(method)]
    fn refused(this: &RefusedReads) -> u32;
    /// Makes `Blob.prototype.arrayBuffer` reject with a `RangeError` (no memory for it).
    fn refuse_whole_blob_reads() -> RefusedReads;
}

/// A file the engine has no memory to read whole for WebCrypto is hashed slice by slice in wasm,
/// and uploads.
#[wasm_bindgen_test]
async fn a_file_without_memory_to_read_whole_hashes_in_wasm() {
    let repo = anonymous().repository(unique_repo("no-memory-for-file"));
    let bytes = pseudo_random(MIB + 5, 19);
    let reads = refuse_whole_blob_reads();
    let source = BlobFileSource::new(blob_of(&bytes));
    let result = repo
        .upload_blob(&source, UploadOptions::default(), &mut |_| {})
        .await;
    reads.restore();
    assert_eq!(reads.refused(), 1, "the whole read was tried");
    assert_eq!(result.unwrap(), Digest::sha256_of(&bytes));
}

/// A file that cannot be read whole for WebCrypto, or reads short, fails the upload with what
/// happened and what to check, and commits nothing.
#[wasm_bindgen_test]
async fn a_file_that_cannot_be_read_whole_fails_the_upload_clearly() {
    let repo = anonymous().repository(unique_repo("unreadable-file"));
    let bytes = pseudo_random(MIB, 18);
    for short_by in [0, 10] {
        let reads = break_blob_reads(short_by);
        let source = BlobFileSource::new(blob_of(&bytes));
        let result = repo
            .upload_blob(&source, UploadOptions::default(), &mut |_| {})
            .await;
        reads.restore();
        let error = result.expect_err("an upload of an unreadable file succeeded");
        let message = error.to_string();
        if short_by == 0 {
            assert!(
                message.contains("cannot read bytes 0..1048576 of the file"),
                "{message}"
            );
            assert!(message.contains("changed, moved or deleted"), "{message}");
        } else {
            assert!(
                message.contains("read 1048566 bytes where 1048576 were expected"),
                "{message}"
            );
        }
    }
    let digest = Digest::sha256_of(&bytes);
    assert_eq!(repo.blob_exists(&digest).await.unwrap(), None);
}

/// A verified stream whose buffer for WebCrypto cannot be allocated hashes in wasm instead.
#[wasm_bindgen_test]
async fn a_stream_without_memory_for_webcrypto_hashes_in_wasm() {
    let repo = anonymous().repository(unique_repo("no-memory-for-webcrypto"));
    let bytes = pseudo_random(MIB + 37, 20);
    let digest = push_bytes(&repo, &bytes).await;
    let arrays = refuse_byte_arrays_of(bytes.len() as u32);
    let calls = count_webcrypto_digests();
    let downloaded = read_stream(&download_blob_to_stream(&repo, &digest)).await;
    let refused = verify_other_bytes(&digest, MIB + 37, 22).await;
    calls.restore();
    arrays.restore();
    assert_eq!(calls.count(), 0, "hashed in wasm, not by WebCrypto");
    assert!(downloaded.unwrap() == bytes);
    let error = refused.expect_err("a stream of other bytes closed normally");
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// Hides `crypto.subtle`, as a page served over plain HTTP from another host than
    /// localhost (not a secure context) sees it.
    fn hide_webcrypto();
    fn show_webcrypto();
}

/// Reads a verified stream for `expected` over `len` other bytes, in an answer announcing their
/// length (so WebCrypto may hash them).
async fn verify_other_bytes(expected: &Digest, len: usize, seed: u64) -> Result<Vec<u8>, JsValue> {
    let other = pseudo_random(len, seed);
    let response = response_announcing(&Uint8Array::from(other.as_slice()), len as f64);
    let body = FetchBody::of_response(&response);
    read_stream(&verified_stream(body, expected.clone(), "other")).await
}

#[wasm_bindgen_test]
async fn without_webcrypto_uploads_and_downloads_hash_in_wasm() {
    let repo = anonymous().repository(unique_repo("no-webcrypto"));
    let bytes = pseudo_random(2 * MIB + 3, 10);
    let expected = Digest::sha256_of(&bytes);
    hide_webcrypto();
    let uploaded = repo
        .upload_blob(
            &BlobFileSource::new(blob_of(&bytes)),
            UploadOptions::default(),
            &mut |_| {},
        )
        .await;
    let downloaded = read_stream(&download_blob_to_stream(&repo, &expected)).await;
    let refused = verify_other_bytes(&expected, 2 * MIB + 3, 12).await;
    // Every result is checked once WebCrypto is back, so a failure does not leave it hidden.
    show_webcrypto();
    assert_eq!(uploaded.unwrap(), expected);
    assert!(downloaded.unwrap() == bytes);
    let Err(error) = refused else {
        panic!("a stream of other bytes closed normally");
    };
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));
}

#[wasm_bindgen_test]
async fn a_wrong_webcrypto_digest_is_refused_by_the_registry() {
    // WebCrypto is made to hash other bytes: the registry checks the digest against what it
    // received and refuses to commit.
    let repo = anonymous().repository(unique_repo("webcrypto-lie"));
    let bytes = pseudo_random(MIB, 9);
    let source = BlobFileSource::new(blob_of(&bytes));
    let calls = lie_in_next_webcrypto_digest();
    let result = repo
        .upload_blob(&source, UploadOptions::default(), &mut |_| {})
        .await;
    calls.restore();
    let err = result.unwrap_err();
    assert_eq!(err.code(), "DIGEST_INVALID", "{err}");
    assert_eq!(calls.count(), 1);
    let lie = Digest::sha256_of(b"other bytes");
    assert_eq!(repo.blob_exists(&lie).await.unwrap(), None);
    assert_eq!(
        repo.blob_exists(&Digest::sha256_of(&bytes)).await.unwrap(),
        None
    );
}

/// A `ReadableStream` that hands out `chunks` (any JS values) one per pull, then closes.
fn stream_of(chunks: &Array) -> ReadableStream {
    let make = js_sys::Function::new_with_args(
        "chunks",
        "let i = 0; return new ReadableStream({ pull(c) { \
           if (i < chunks.length) c.enqueue(chunks[i++]); else c.close(); } });",
    );
    make.call1(&JsValue::UNDEFINED, chunks)
        .unwrap()
        .unchecked_into()
}

#[wasm_bindgen_test]
async fn pushes_a_readable_stream_of_any_byte_views_in_chunks() {
    let repo = anonymous().repository(unique_repo("stream"));
    let bytes = pseudo_random(2 * MIB + 777, 41);
    let expected = webcrypto_sha256(&bytes).await;
    // The same bytes as a Uint8Array, a DataView and an Int16Array over parts of a larger
    // buffer, a bare ArrayBuffer and an empty chunk: all are bytes to upload.
    let (a, rest) = bytes.split_at(700_001);
    let (b, rest) = rest.split_at(600_000);
    let (c, rest) = rest.split_at(500_000);
    let padded = |part: &[u8]| {
        let mut v = vec![0xee; 16];
        v.extend_from_slice(part);
        v.extend_from_slice(&[0xee; 16]);
        Uint8Array::from(&v[..]).buffer()
    };
    let chunks = Array::new();
    chunks.push(&Uint8Array::from(a));
    chunks.push(&Uint8Array::new_with_length(0));
    chunks.push(&js_sys::DataView::new(&padded(b), 16, b.len()));
    chunks.push(&js_sys::Int16Array::new_with_byte_offset_and_length(
        &padded(c),
        16,
        c.len() as u32 / 2,
    ));
    chunks.push(&Uint8Array::from(rest).buffer());
    let mut source = ReadableStreamSource::new(&stream_of(&chunks)).unwrap();
    let options = UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    let mut totals = Vec::new();
    let digest = repo
        .upload_blob_stream(&mut source, options, &mut |p| totals.push(p.total))
        .await
        .unwrap();
    assert_eq!(digest.as_str(), expected);
    assert_eq!(totals.first(), Some(&(MIB as u64)), "{totals:?}");
    assert_eq!(totals.last(), Some(&(bytes.len() as u64)), "{totals:?}");
    assert!(repo.get_blob(&digest).await.unwrap() == bytes);
}

#[wasm_bindgen_test]
async fn a_readable_stream_of_text_is_refused_with_what_to_do() {
    let repo = anonymous().repository(unique_repo("stream-text"));
    let chunks = Array::of1(&"some text".into());
    let mut source = ReadableStreamSource::new(&stream_of(&chunks)).unwrap();
    let error = repo
        .upload_blob_stream(&mut source, UploadOptions::default(), &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("some text, not bytes"), "{error}");
    assert!(error.contains("TextEncoderStream"), "{error}");
    // A stream already locked by another reader is refused up front.
    let stream = stream_of(&Array::new());
    let _reader = stream.get_reader();
    assert!(ReadableStreamSource::new(&stream).is_err());
}

#[wasm_bindgen_test]
async fn pushes_a_manifest_and_pulls_it_by_tag_and_digest_then_lists() {
    let client = anonymous();
    let name = unique_repo("manifest");
    let repo = client.repository(name.clone());
    let manifest = push_image(&repo, &pseudo_random(100_000, 3), "v1").await;

    let by_tag = repo
        .get_manifest(&TagOrDigest::Tag(Tag::parse("v1").unwrap()))
        .await
        .unwrap();
    assert_eq!(by_tag.digest, manifest.digest);
    assert_eq!(by_tag.raw, manifest.raw);
    assert_eq!(by_tag.media_type.as_str(), MediaType::OCI_MANIFEST);
    let by_digest = repo
        .get_manifest(&TagOrDigest::Digest(manifest.digest.clone()))
        .await
        .unwrap();
    assert_eq!(by_digest.raw, manifest.raw);
    let info = repo
        .head_manifest(&TagOrDigest::Tag(Tag::parse("v1").unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.digest, manifest.digest);
    assert_eq!(info.size, manifest.raw.len() as u64);

    assert_eq!(repo.list_tags().await.unwrap(), vec!["v1".to_string()]);
    let repositories = client.list_repositories().await.unwrap();
    assert!(
        repositories.contains(&name.to_string()),
        "{name} not in {repositories:?}"
    );
}

#[wasm_bindgen_test]
async fn downloads_a_blob_through_the_verified_stream() {
    let repo = anonymous().repository(unique_repo("download"));
    let bytes = pseudo_random(3 * MIB + 17, 11);
    let digest = push_bytes(&repo, &bytes).await;

    let stream = download_blob_to_stream(&repo, &digest);
    let got = read_stream(&stream).await.unwrap();
    assert!(got == bytes, "streamed bytes differ ({} bytes)", got.len());

    let whole = download_blob_to_uint8array(&repo, &digest).await.unwrap();
    assert_eq!(whole.length() as usize, bytes.len());
    assert!(whole.to_vec() == bytes);

    // An empty blob closes cleanly too.
    let empty = push_bytes(&repo, b"").await;
    let got = read_stream(&download_blob_to_stream(&repo, &empty)).await;
    assert_eq!(got.unwrap(), Vec::<u8>::new());
}

#[wasm_bindgen_test]
async fn a_byob_reader_gets_the_verified_bytes_in_its_own_buffer() {
    let repo = anonymous().repository(unique_repo("download-byob"));
    let bytes = pseudo_random(2 * MIB + 3, 12);
    let digest = push_bytes(&repo, &bytes).await;

    // A buffer smaller than the transport's reads and of an odd size, so reads split chunks.
    let got = read_stream_byob(&download_blob_to_stream(&repo, &digest), 100_003).await;
    assert!(got.unwrap() == bytes, "BYOB-read bytes differ");
    let empty = push_bytes(&repo, b"").await;
    let got = read_stream_byob(&download_blob_to_stream(&repo, &empty), 4096).await;
    assert_eq!(got.unwrap(), Vec::<u8>::new());

    // Wrong bytes are refused the same way through a BYOB reader.
    let other = push_bytes(&repo, &pseudo_random(MIB, 13)).await;
    let client = repo.client();
    let request = api::blob(client.base(), repo.name(), &other, Method::Get);
    let response = client.send("test", &[], request).await.unwrap();
    let stream = verified_stream(response.body, digest.clone(), "blob byob");
    let error = read_stream_byob(&stream, 65_536).await.unwrap_err();
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));
}

/// Pushes a 3 MiB blob into a new `<prefix>-…` repository through the kit's fault proxy, then
/// downloads it three times through it (the verified stream with a default reader and with a
/// BYOB reader, and the core's `get_blob`), each time checking every byte: GETs 1 to 6.
async fn download_three_ways_through_faults(
    prefix: &str,
    seed: u64,
) -> (
    RegistryClient<FetchTransport>,
    Repository<FetchTransport>,
    Digest,
) {
    let url = field(&registries(), &["anonymous_broken_bodies"]);
    let client = client_for(&url, Credential::Anonymous);
    let repo = client.repository(unique_repo(prefix));
    let bytes = pseudo_random(3 * MIB + 5, seed);
    let digest = push_bytes(&repo, &bytes).await;

    let got = read_stream(&download_blob_to_stream(&repo, &digest)).await;
    assert!(got.unwrap() == bytes, "default reader: bytes differ");
    let got = read_stream_byob(&download_blob_to_stream(&repo, &digest), 100_003).await;
    assert!(got.unwrap() == bytes, "BYOB reader: bytes differ");
    assert!(repo.get_blob(&digest).await.unwrap() == bytes);
    (client, repo, digest)
}

/// Through the kit's fault proxy, every other GET of a `broken-body` repository loses its
/// connection halfway through the body (GET 1, 3, 5, ...; the resumes go through).
#[wasm_bindgen_test]
async fn a_download_whose_connection_breaks_is_resumed_and_verified() {
    // GET 1 breaks, 2 resumes; then 3 and 4; then 5 and 6.
    let (client, repo, digest) = download_three_ways_through_faults("broken-body", 31).await;

    // GET 7 breaks too: a stream over a bare body cannot ask again, so it errors. This shows
    // the breaks above really happened.
    let request = api::blob(client.base(), repo.name(), &digest, Method::Get);
    let response = client.send("test", &[], request).await.unwrap();
    let error = stream_error(&verified_stream(response.body, digest.clone(), "blob")).await;
    assert_eq!(js_prop(&error, "code").as_deref(), Some("NETWORK_ERROR"));
}

/// Through the kit's fault proxy, GET 1, 3, 5, ... of a `lost-range` repository break halfway
/// and GET 2, 4, 6, ... lose their Range header, so each resume is answered 200 with everything.
#[wasm_bindgen_test]
async fn a_resume_answered_with_everything_skips_what_it_had() {
    let (client, repo, digest) = download_three_ways_through_faults("lost-range", 33).await;

    // GET 7 breaks (unread here); GET 8 asks for a range and gets everything: the proxy really
    // drops the Range header.
    let plain = |range: Option<&str>| {
        let request = api::blob(client.base(), repo.name(), &digest, Method::Get);
        match range {
            Some(r) => request.header("Range", r),
            None => request,
        }
    };
    drop(client.send("test", &[], plain(None)).await.unwrap());
    let whole = client
        .send("test", &[], plain(Some("bytes=10-")))
        .await
        .unwrap();
    assert_eq!(whole.status, 200, "the Range header was dropped on the way");
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// A default (not byte) stream of a copy of `bytes`, in one chunk.
    fn plain_stream(bytes: &Uint8Array) -> ReadableStream;
    /// A default stream of `piece`-byte views into one shared copy of `bytes`.
    fn stream_of_views(bytes: &Uint8Array, piece: u32) -> ReadableStream;
    /// Makes `new ReadableStream({ type: "bytes" })` throw, as in an engine without byte streams.
    fn refuse_byte_streams();
    fn restore_byte_streams();
}

/// Engines without byte streams, for as long as it lives.
struct NoByteStreams;

impl NoByteStreams {
    fn new() -> Self {
        refuse_byte_streams();
        Self
    }
}

impl Drop for NoByteStreams {
    fn drop(&mut self) {
        restore_byte_streams();
    }
}

#[wasm_bindgen_test]
async fn bodies_and_engines_without_byte_streams_still_verify() {
    let repo = anonymous().repository(unique_repo("no-byte-streams"));
    let bytes = pseudo_random(MIB + 9, 41);
    let digest = push_bytes(&repo, &bytes).await;

    // A Response over a plain stream: its body refuses a BYOB reader, so it is read by chunks.
    let response = |data: &[u8]| {
        web_sys::Response::new_with_opt_readable_stream(Some(&plain_stream(&Uint8Array::from(
            data,
        ))))
        .unwrap()
    };
    let stream = verified_stream(
        FetchBody::of_response(&response(&bytes)),
        digest.clone(),
        "a",
    );
    assert!(read_stream(&stream).await.unwrap() == bytes);
    let other = pseudo_random(MIB + 9, 42);
    let stream = verified_stream(
        FetchBody::of_response(&response(&other)),
        digest.clone(),
        "b",
    );
    let error = stream_error(&stream).await;
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));
    // Chunks that are views into one buffer of their producer: each is handed on whole (the
    // stream must not take the producer's buffer from under its next views).
    let views = web_sys::Response::new_with_opt_readable_stream(Some(&stream_of_views(
        &Uint8Array::from(&bytes[..]),
        64 * 1024,
    )))
    .unwrap();
    let stream = verified_stream(FetchBody::of_response(&views), digest.clone(), "c");
    assert!(read_stream(&stream).await.unwrap() == bytes);

    // An engine that refuses `type: "bytes"` gets a default stream of the same verified bytes.
    let got = {
        let _engine = NoByteStreams::new();
        let stream = download_blob_to_stream(&repo, &digest);
        let options = ReadableStreamGetReaderOptions::new();
        options.set_mode(ReadableStreamReaderMode::Byob);
        let byob = Reflect::get(&stream, &"getReader".into())
            .unwrap()
            .unchecked_into::<js_sys::Function>()
            .call1(&stream, &options);
        assert!(byob.is_err(), "a default stream refuses BYOB readers");
        read_stream(&stream).await
    };
    assert!(got.unwrap() == bytes);
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// A `Response` of a copy of `bytes` whose `Content-Length` header says `length`.
    fn response_announcing(bytes: &Uint8Array, length: f64) -> web_sys::Response;
}

#[wasm_bindgen_test]
async fn verified_streams_of_announced_small_bodies_hash_with_webcrypto() {
    let repo = anonymous().repository(unique_repo("stream-webcrypto"));
    let bytes = pseudo_random(MIB + 17, 43);
    let digest = push_bytes(&repo, &bytes).await;
    let announcing = |data: &[u8], length: usize| {
        FetchBody::of_response(&response_announcing(&Uint8Array::from(data), length as f64))
    };

    // The registry announces the length: the bytes are kept and WebCrypto hashes them once.
    let calls = count_webcrypto_digests();
    let got = read_stream(&download_blob_to_stream(&repo, &digest)).await;
    calls.restore();
    assert!(got.unwrap() == bytes);
    assert_eq!(calls.count(), 1);

    // Other bytes of the announced length: WebCrypto's digest refuses them.
    let other = pseudo_random(MIB + 17, 44);
    let calls = count_webcrypto_digests();
    let stream = verified_stream(announcing(&other, other.len()), digest.clone(), "other");
    let error = stream_error(&stream).await;
    calls.restore();
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));
    assert_eq!(calls.count(), 1);

    // An answer that announces less than it sends (a compressed length, say): what was kept
    // (the first 256 KiB read) and the rest are hashed in wasm from the first byte past it.
    let calls = count_webcrypto_digests();
    let stream = verified_stream(announcing(&bytes, 300_000), digest.clone(), "longer");
    let got = read_stream(&stream).await;
    calls.restore();
    assert!(got.unwrap() == bytes);
    assert_eq!(calls.count(), 0);
    let other = pseudo_random(MIB + 17, 45);
    let stream = verified_stream(announcing(&other, 300_000), digest.clone(), "longer-other");
    let error = stream_error(&stream).await;
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));

    // One that announces more than it sends: the bytes that came decide.
    let calls = count_webcrypto_digests();
    let stream = verified_stream(announcing(&bytes, bytes.len() + 5), digest.clone(), "short");
    let got = read_stream(&stream).await;
    calls.restore();
    assert!(got.unwrap() == bytes);
    assert_eq!(calls.count(), 1);

    // One that announces nothing is hashed in wasm as it passes.
    let calls = count_webcrypto_digests();
    let plain = web_sys::Response::new_with_opt_readable_stream(Some(&plain_stream(
        &Uint8Array::from(bytes.as_slice()),
    )))
    .unwrap();
    let got = read_stream(&verified_stream(
        FetchBody::of_response(&plain),
        digest,
        "plain",
    ))
    .await;
    calls.restore();
    assert!(got.unwrap() == bytes);
    assert_eq!(calls.count(), 0);
}

#[wasm_bindgen_test]
async fn a_missing_blob_errors_the_stream_with_the_registry_error() {
    let repo = anonymous().repository(unique_repo("missing"));
    push_bytes(&repo, b"something, so the repository exists").await;
    let absent = Digest::sha256_of(b"never pushed");
    let error = stream_error(&download_blob_to_stream(&repo, &absent)).await;
    assert_eq!(js_prop(&error, "name").as_deref(), Some("PortholeError"));
    assert_eq!(js_prop(&error, "code").as_deref(), Some("BLOB_UNKNOWN"));
    let status = Reflect::get(&error, &"statusCode".into()).unwrap();
    assert_eq!(status.as_f64(), Some(404.0));
}

/// Serves blob X's real bytes when blob Y is asked for: what a broken cache or a tampering
/// proxy between the page and the registry would do. Everything else passes through.
struct SwappingTransport {
    inner: FetchTransport,
    asked: String,
    served: String,
}

impl Transport for SwappingTransport {
    over_inner_fetch!();

    async fn send(
        &self,
        mut request: Request<Blob>,
    ) -> Result<Response<FetchBody>, TransportError> {
        if request.url.path().ends_with(&self.asked) {
            let path = request.url.path().replace(&self.asked, &self.served);
            request.url = request.url.with_path(&path);
        }
        self.inner.send(request).await
    }
}

#[wasm_bindgen_test]
async fn wrong_bytes_for_a_digest_are_refused() {
    let name = unique_repo("wrong-digest");
    let repo = anonymous().repository(name.clone());
    let good = pseudo_random(MIB + 5, 21);
    let other = pseudo_random(MIB + 5, 22);
    let asked = push_bytes(&repo, &good).await;
    let served = push_bytes(&repo, &other).await;

    // 1. The verified stream over a real response body: blob `served`'s bytes checked as `asked`.
    let client = repo.client();
    let request = api::blob(client.base(), &name, &served, Method::Get);
    let response = client.send("test", &[], request).await.unwrap();
    assert_eq!(response.status, 200);
    let stream = verified_stream(response.body, asked.clone(), format!("blob {name}@{asked}"));
    let error = stream_error(&stream).await;
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));
    let message = js_prop(&error, "message").unwrap();
    assert!(
        message.contains(asked.as_str()) && message.contains(served.as_str()),
        "{message}"
    );

    // 2. The whole client path, with the registry's answer for `asked` replaced by `served`'s.
    let swapping = RegistryClient::new(
        SwappingTransport {
            inner: FetchTransport::new(),
            asked: asked.to_string(),
            served: served.to_string(),
        },
        Url::parse(&anonymous_url()).unwrap(),
        Credential::Anonymous,
    );
    let swapped = swapping.repository(name.clone());
    let error = stream_error(&download_blob_to_stream(&swapped, &asked)).await;
    assert_eq!(js_prop(&error, "code").as_deref(), Some("DIGEST_MISMATCH"));
    let Err(error) = swapped.get_blob(&asked).await else {
        panic!("get_blob returned the wrong bytes as good")
    };
    assert!(matches!(error, Error::DigestMismatch { .. }), "{error}");
    let error = download_blob_to_uint8array(&swapped, &asked)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "DIGEST_MISMATCH");
}

// ---------------------------------------------------------------------------------------------
// Blob sources

#[wasm_bindgen_test]
async fn blob_source_reads_slices_and_sends_blob_slices() {
    let bytes = pseudo_random(10_000, 5);
    let file = web_sys::File::new_with_u8_array_sequence(
        &Array::of1(&Uint8Array::from(bytes.as_slice())),
        "layer.tar",
    )
    .unwrap();
    let source = BlobFileSource::from(file);
    assert_eq!(BlobSource::<Blob>::size(&source), 10_000);
    let read = BlobSource::<Blob>::read(&source, 1_000, 4_000)
        .await
        .unwrap();
    assert!(read == bytes[1_000..4_000]);
    match BlobSource::<Blob>::body(&source, 9_000, 10_000) {
        Body::Native { body, len } => {
            assert_eq!(len, 1_000);
            assert_eq!(body.size(), 1_000.0);
            let sent = JsFuture::from(body.array_buffer()).await.unwrap();
            assert!(Uint8Array::new(&sent).to_vec() == bytes[9_000..]);
        }
        other => panic!("expected a Blob slice, got {other:?}"),
    }
    let error = BlobSource::<Blob>::read(&source, 5_000, 10_001)
        .await
        .unwrap_err();
    assert_eq!(error.kind, TransportErrorKind::Body);
}

// ---------------------------------------------------------------------------------------------
// Authentication through the CORS fronts, and what the browser blocks

#[wasm_bindgen_test]
async fn basic_auth_through_the_front() {
    let url = field(&registries(), &["basic_front"]);
    let alice = client_for(&url, Credential::basic("alice", password("alice")));
    alice.ping().await.unwrap();
    let repo = alice.repository(unique_repo("basic"));
    let bytes = pseudo_random(3 * MIB, 31);
    let source = BlobFileSource::new(blob_of(&bytes));
    let options = UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    let digest = repo
        .upload_blob(&source, options, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(digest.as_str(), webcrypto_sha256(&bytes).await);
    assert!(repo.get_blob(&digest).await.unwrap() == bytes);

    let wrong = client_for(&url, Credential::basic("alice", "not-the-password"));
    let error = wrong.ping().await.unwrap_err();
    assert_eq!(error.status(), Some(401), "{error}");
    let text = error.to_string();
    assert!(text.contains("credentials are missing, wrong"), "{text}");
}

#[wasm_bindgen_test]
async fn token_auth_through_the_front() {
    let url = field(&registries(), &["token_front"]);
    let name = unique_repo("token");
    let alice = client_for(&url, Credential::basic("alice", password("alice")));
    let repo = alice.repository(name.clone());
    let manifest = push_image(&repo, &pseudo_random(2 * MIB, 41), "latest").await;
    assert_eq!(repo.list_tags().await.unwrap(), vec!["latest".to_string()]);

    let reader = client_for(&url, Credential::basic("reader", password("reader")));
    let read_repo = reader.repository(name);
    let pulled = read_repo
        .get_manifest(&TagOrDigest::Digest(manifest.digest.clone()))
        .await
        .unwrap();
    assert_eq!(pulled.raw, manifest.raw);
    let source = BlobFileSource::new(blob_of(b"reader may not push"));
    let error = read_repo
        .upload_blob(&source, UploadOptions::default(), &mut |_| {})
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("insufficient_scope") || text.contains("do not grant"),
        "{text}"
    );

    let wrong = client_for(&url, Credential::basic("alice", "not-the-password"));
    let error = wrong.ping().await.unwrap_err().to_string();
    assert!(error.contains("refused the credentials"), "{error}");
}

/// Operations of one client that need the same token at the same time wait for one fetch of
/// it: uploads that start together ask the token server once, not once each.
#[wasm_bindgen_test]
async fn concurrent_operations_share_one_token_fetch() {
    let url = field(&registries(), &["token_front"]);
    let realm = field(&registries(), &["token_realm"]);
    let repo = client_for(&url, Credential::basic("alice", password("alice")))
        .repository(unique_repo("one-token"));
    let digests: Vec<Digest> = (0..3u8).map(|i| Digest::sha256_of(&[i])).collect();
    let spy = spy_on_fetch();
    let (a, b, c) = futures::join!(
        repo.blob_exists(&digests[0]),
        repo.blob_exists(&digests[1]),
        repo.blob_exists(&digests[2]),
    );
    let token_fetches = spy.count_to(&realm);
    spy.restore();
    for answer in [a, b, c] {
        assert_eq!(answer.unwrap(), None);
    }
    assert_eq!(
        token_fetches, 1,
        "one token fetch for three concurrent operations"
    );
}

/// An operation waiting for another one's token fetch ends at its own abort, not when that
/// fetch ends (a slow token server, or a token provider asking the user, holds it).
#[wasm_bindgen_test]
async fn a_wait_for_another_operations_token_ends_at_its_own_abort() {
    let url = field(&registries(), &["token_front"]);
    let realm = field(&registries(), &["token_realm"]);
    let repo = client_for(&url, Credential::basic("alice", password("alice")))
        .repository(unique_repo("token-wait"));
    let digest = Digest::sha256_of(b"waiting for a token");
    let (keep, stop) = (
        AbortController::new().unwrap(),
        AbortController::new().unwrap(),
    );
    let hold = hold_fetches_to(&realm);
    let released = Cell::new(false);
    let release = || {
        if !released.replace(true) {
            hold.release();
        }
    };
    let fetching =
        porthole_browser::with_abort_signal(Some(keep.signal()), repo.blob_exists(&digest));
    // The waiter starts once the other operation's token fetch is held, so that it is the one
    // that waits (started together, either may be first to fetch).
    let waiting = async {
        while hold.held() == 0 {
            FetchTransport::new().sleep(10).await;
        }
        let answer =
            porthole_browser::with_abort_signal(Some(stop.signal()), repo.blob_exists(&digest))
                .await;
        let ended_while_held = !released.get();
        release();
        (answer, ended_while_held)
    };
    let abort_once_held = async {
        while hold.held() == 0 {
            FetchTransport::new().sleep(10).await;
        }
        // Time for the waiter to ask the registry and reach the wait for the token.
        FetchTransport::new().sleep(500).await;
        stop.abort();
        // Long enough for the waiter to notice; then the fetch may end (and the test fail).
        for _ in 0..100 {
            if released.get() {
                return;
            }
            FetchTransport::new().sleep(30).await;
        }
        release();
    };
    let (fetched, (waited, ended_while_held), ()) =
        futures::join!(fetching, waiting, abort_once_held);
    hold.restore();
    let error = waited.expect_err("the aborted operation went on");
    assert_eq!(error.code(), "ABORTED", "{error}");
    assert!(
        ended_while_held,
        "the aborted operation waited for the other's token fetch to end"
    );
    assert_eq!(fetched.unwrap(), None, "the other operation goes on");
    assert_eq!(hold.held(), 1, "one token fetch");
}

#[wasm_bindgen_test]
async fn a_direct_call_to_an_auth_registry_is_blocked_by_cors() {
    // The basic registry without its front: it answers the preflight of the authenticated
    // retry with 401, so the browser blocks the request.
    let url = field(&registries(), &["basic"]);
    let alice = client_for(&url, Credential::basic("alice", password("alice")));
    let error = alice.ping().await.unwrap_err();
    assert_eq!(error.code(), "BLOCKED_BY_BROWSER", "{error}");
    match &error {
        Error::Transport { source, .. } => assert_eq!(source.kind, TransportErrorKind::Blocked),
        other => panic!("expected a transport error, got {other}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("CORS") && text.contains("preflight"),
        "{text}"
    );
    assert!(text.contains("same-origin proxy"), "{text}");
}

#[wasm_bindgen_test]
async fn a_dropped_connection_to_a_server_that_answered_before_is_a_network_failure() {
    // The browser rejects a dropped connection with the TypeError it gives a CORS block. The
    // basic registry's front has answered this page's plain GETs (CORS allows them), so one
    // it closes without an answer (nginx's 444) is a network failure, which may be retried.
    let front = Url::parse(&field(&registries(), &["basic_front"])).unwrap();
    let transport = FetchTransport::new();
    let answered = transport
        .send(Request::new(Method::Get, front.with_path("/v2/")))
        .await
        .unwrap();
    assert_eq!(answered.status, 401);
    let dropped = transport
        .send(Request::new(
            Method::Get,
            front.with_path("/porthole-test/dropped"),
        ))
        .await
        .unwrap_err();
    assert_eq!(dropped.kind, TransportErrorKind::Network, "{dropped}");
    assert!(
        dropped.message.contains("not the likely cause"),
        "{dropped}"
    );
    // A request of another kind (another header, so another preflight) is still a possible
    // block: nothing says CORS lets it.
    let other_kind = transport
        .send(
            Request::new(Method::Get, front.with_path("/porthole-test/dropped"))
                .header("X-Porthole-Probe", "1"),
        )
        .await
        .unwrap_err();
    assert_eq!(other_kind.kind, TransportErrorKind::Blocked, "{other_kind}");
}

#[wasm_bindgen_test]
async fn cross_origin_headers_are_marked_filtered_and_same_origin_are_not() {
    let transport = FetchTransport::new();
    let ping = Url::parse(&anonymous_url()).unwrap().with_path("/v2/");
    let response = transport
        .send(Request::new(Method::Get, ping))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(response.headers_filtered);
    assert!(response
        .headers
        .get("docker-distribution-api-version")
        .is_some());

    let page = field(&js_sys::global(), &["location", "href"]);
    let response = transport
        .send(Request::new(Method::Get, Url::parse(&page).unwrap()))
        .await
        .unwrap();
    assert!(!response.headers_filtered);
}

/// A transport that hides the headers a registry forgot to list in
/// `Access-Control-Expose-Headers`, as the browser does. (The testkit's registries expose them
/// all, so the hiding is done here; `headers_filtered` comes from the real cross-origin answer.)
struct HidingTransport {
    inner: FetchTransport,
    hidden: &'static [&'static str],
}

impl Transport for HidingTransport {
    over_inner_fetch!();

    async fn send(&self, request: Request<Blob>) -> Result<Response<FetchBody>, TransportError> {
        let mut response = self.inner.send(request).await?;
        assert!(response.headers_filtered, "the registry is cross-origin");
        for name in self.hidden {
            response.headers.remove(name);
        }
        Ok(response)
    }
}

#[wasm_bindgen_test]
async fn hidden_headers_are_explained() {
    let hiding = |url: &str, hidden, credential| {
        RegistryClient::new(
            HidingTransport {
                inner: FetchTransport::new(),
                hidden,
            },
            Url::parse(url).unwrap(),
            credential,
        )
    };
    // Location hidden: the upload cannot continue.
    let client = hiding(&anonymous_url(), &["location"], Credential::Anonymous);
    let repo = client.repository(unique_repo("hidden"));
    let source = BlobFileSource::new(blob_of(b"abc"));
    let error = repo
        .upload_blob(&source, UploadOptions::default(), &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("Location"), "{error}");
    assert!(error.contains("Access-Control-Expose-Headers"), "{error}");

    // WWW-Authenticate hidden: the client cannot tell how to log in.
    let url = field(&registries(), &["basic_front"]);
    let client = hiding(
        &url,
        &["www-authenticate"],
        Credential::basic("alice", password("alice")),
    );
    let error = client.ping().await.unwrap_err().to_string();
    assert!(error.contains("WWW-Authenticate"), "{error}");
    assert!(error.contains("Access-Control-Expose-Headers"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Aborting

#[wasm_bindgen_test]
async fn an_aborted_signal_stops_requests() {
    let controller = AbortController::new().unwrap();
    let transport = FetchTransport::with_abort_signal(controller.signal());
    let client = RegistryClient::new(
        transport.clone(),
        Url::parse(&anonymous_url()).unwrap(),
        Credential::Anonymous,
    );
    client.ping().await.unwrap();
    controller.abort();
    let error = client.ping().await.unwrap_err();
    assert_eq!(error.code(), "ABORTED", "{error}");
    // A new signal for the next operation.
    transport.set_abort_signal(None);
    client.ping().await.unwrap();
}

/// One client, one transport without a signal of its own: each upload stops on the signal of
/// its own operation (`with_abort_signal`), however they interleave.
#[wasm_bindgen_test]
async fn concurrent_operations_on_one_client_keep_their_own_signals() {
    let client = anonymous();
    let repo = client.repository(unique_repo("scoped-signals"));
    let (doomed, kept) = (pseudo_random(3 * MIB, 81), pseudo_random(3 * MIB, 82));
    let (doomed_source, kept_source) = (
        BlobFileSource::new(blob_of(&doomed)).without_webcrypto(),
        BlobFileSource::new(blob_of(&kept)).without_webcrypto(),
    );
    let options = || UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    let (stop, keep) = (
        AbortController::new().unwrap(),
        AbortController::new().unwrap(),
    );
    let mut abort_at_first_chunk = |_| stop.abort();
    let mut no_progress = |_| {};
    let first = porthole_browser::with_abort_signal(
        Some(stop.signal()),
        repo.upload_blob(&doomed_source, options(), &mut abort_at_first_chunk),
    );
    let second = porthole_browser::with_abort_signal(
        Some(keep.signal()),
        repo.upload_blob(&kept_source, options(), &mut no_progress),
    );
    let (first, second) = futures::join!(first, second);
    let error = first.expect_err("the aborted upload went on");
    assert_eq!(error.code(), "ABORTED", "{error}");
    assert_eq!(second.unwrap(), Digest::sha256_of(&kept));
    // Outside any operation's scope the transport has no signal.
    client.ping().await.unwrap();
}

#[wasm_bindgen_test]
async fn aborting_mid_upload_gives_an_aborted_error() {
    let controller = AbortController::new().unwrap();
    let client = RegistryClient::new(
        FetchTransport::with_abort_signal(controller.signal()),
        Url::parse(&anonymous_url()).unwrap(),
        Credential::Anonymous,
    );
    let repo = client.repository(unique_repo("abort"));
    let bytes = pseudo_random(4 * MIB, 51);
    let source = BlobFileSource::new(blob_of(&bytes));
    let options = UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    let chunks = Cell::new(0);
    let error = repo
        .upload_blob(&source, options, &mut |_| {
            chunks.set(chunks.get() + 1);
            if chunks.get() == 1 {
                controller.abort();
            }
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), "ABORTED", "{error}");
    assert_eq!(chunks.get(), 1);
    assert!(error.to_string().contains("aborted"), "{error}");
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    type PostedMessage;
    #[wasm_bindgen(method)]
    fn delivered(this: &PostedMessage) -> bool;
    fn message_posted_now() -> PostedMessage;
}

/// A wait of 0 is a yield to the event loop even once the signal has aborted: the upload of a
/// stream yields so between the pieces it hashes, and must not run them all in one go.
#[wasm_bindgen_test]
async fn a_zero_wait_yields_even_after_an_abort() {
    let controller = AbortController::new().unwrap();
    controller.abort();
    let transport = FetchTransport::with_abort_signal(controller.signal());
    let earlier = message_posted_now();
    transport.sleep(0).await;
    assert!(
        earlier.delivered(),
        "the wait did not yield to the event loop"
    );
}

/// Answers the first request itself with `503 Service Unavailable` and `Retry-After: 30`, and
/// passes the others to the inner `FetchTransport` (whose signal and waits it uses).
struct BusyOnceTransport {
    inner: FetchTransport,
    answered_busy: Cell<bool>,
}

impl Transport for BusyOnceTransport {
    over_inner_fetch!();

    async fn send(&self, request: Request<Blob>) -> Result<Response<FetchBody>, TransportError> {
        if self.answered_busy.replace(true) {
            return self.inner.send(request).await;
        }
        let mut headers = porthole_core::Headers::new();
        headers.append("Retry-After", "30");
        Ok(Response {
            status: 503,
            headers,
            url: Some(request.url),
            headers_filtered: false,
            body: FetchBody::of_response(&web_sys::Response::new().unwrap()),
        })
    }
}

/// An abort while the client waits out a registry's `Retry-After` ends the wait at once: the
/// operation fails as aborted (its retry refused before it is sent), long before the 30 s are up,
/// and without asking the token provider for the retry it will not send.
#[wasm_bindgen_test]
async fn an_abort_during_a_retry_wait_ends_the_wait() {
    let controller = AbortController::new().unwrap();
    let tokens_asked = Rc::new(Cell::new(0));
    let counter = tokens_asked.clone();
    let provider: porthole_core::auth::TokenProvider = Rc::new(move |_scopes| {
        counter.set(counter.get() + 1);
        Box::pin(async { Ok(porthole_core::Secret::new("a-registry-token")) })
    });
    let client = RegistryClient::new(
        BusyOnceTransport {
            inner: FetchTransport::with_abort_signal(controller.signal()),
            answered_busy: Cell::new(false),
        },
        Url::parse(&anonymous_url()).unwrap(),
        Credential::TokenProvider(provider),
    );
    let abort_later = controller.clone();
    wasm_bindgen_futures::spawn_local(async move {
        FetchTransport::new().sleep(300).await;
        abort_later.abort();
    });
    let started = js_sys::Date::now();
    let error = client.ping().await.unwrap_err();
    let waited_ms = js_sys::Date::now() - started;
    assert_eq!(error.code(), "ABORTED", "{error}");
    assert!(
        waited_ms < 10_000.0,
        "the abort ended the 30 s wait only after {waited_ms} ms"
    );
    assert_eq!(
        tokens_asked.get(),
        1,
        "the provider was asked again for a retry refused as aborted"
    );
}

#[wasm_bindgen_test]
async fn aborting_mid_download_errors_the_stream() {
    let controller = AbortController::new().unwrap();
    let plain = anonymous().repository(unique_repo("abort-download"));
    let bytes = pseudo_random(4 * MIB, 61);
    let digest = push_bytes(&plain, &bytes).await;
    let client = RegistryClient::new(
        FetchTransport::with_abort_signal(controller.signal()),
        Url::parse(&anonymous_url()).unwrap(),
        Credential::Anonymous,
    );
    let repo = client.repository(plain.name().clone());
    let stream = download_blob_to_stream(&repo, &digest);
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let first = JsFuture::from(reader.read()).await.unwrap();
    assert_eq!(
        Reflect::get(&first, &"done".into()).unwrap().as_bool(),
        Some(false)
    );
    controller.abort();
    let mut result = Ok(());
    for _ in 0..10_000 {
        match JsFuture::from(reader.read()).await {
            Ok(r) if Reflect::get(&r, &"done".into()).unwrap().as_bool() == Some(true) => {
                panic!("the stream closed normally after an abort")
            }
            Ok(_) => continue,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let error = result.unwrap_err();
    assert_eq!(js_prop(&error, "code").as_deref(), Some("ABORTED"));
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// A `Response` announcing all of `bytes` whose body gives the first `keep` of them, then
    /// breaks as a lost connection does.
    fn breaking_response(bytes: &Uint8Array, keep: u32) -> web_sys::Response;
}

/// Passes requests to the browser's `fetch`, but breaks the body of the first blob `GET`
/// halfway, and counts blob `GET`s.
struct BreakingTransport {
    inner: FetchTransport,
    bytes: Vec<u8>,
    blob_gets: Rc<Cell<u32>>,
}

impl Transport for BreakingTransport {
    over_inner_fetch!();

    async fn send(&self, request: Request<Blob>) -> Result<Response<FetchBody>, TransportError> {
        let blob_get = request.method == Method::Get && request.url.path().contains("/blobs/");
        // Counted as it goes out, so a request still on its way counts too.
        if blob_get {
            self.blob_gets.set(self.blob_gets.get() + 1);
        }
        let first_blob_get = blob_get && self.blob_gets.get() == 1;
        let mut response = self.inner.send(request).await?;
        if first_blob_get {
            let half = (self.bytes.len() / 2) as u32;
            let broken = breaking_response(&Uint8Array::from(&self.bytes[..]), half);
            response.body = FetchBody::of_response(&broken);
        }
        Ok(response)
    }
}

/// A stream cancelled while it waits to resume a broken body sends no `Range` request.
#[wasm_bindgen_test]
async fn a_stream_cancelled_while_waiting_to_resume_asks_no_more() {
    let plain = anonymous().repository(unique_repo("cancel-resume"));
    let bytes = pseudo_random(MIB + 3, 63);
    let digest = push_bytes(&plain, &bytes).await;
    let blob_gets = Rc::new(Cell::new(0));
    let transport = BreakingTransport {
        inner: FetchTransport::new(),
        bytes: bytes.clone(),
        blob_gets: Rc::clone(&blob_gets),
    };
    // The first resume waits 1 to 2 s.
    let options = ClientOptions {
        retry: RetryPolicy {
            base_delay_ms: 2_000,
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    };
    let url = Url::parse(&anonymous_url()).unwrap();
    let client = RegistryClient::with_options(transport, url, Credential::Anonymous, options);
    let repo = client.repository(plain.name().clone());
    let stream = download_blob_to_stream(&repo, &digest);
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut delivered = 0;
    while delivered < bytes.len() / 2 {
        let result = JsFuture::from(reader.read()).await.unwrap();
        let value = Reflect::get(&result, &"value".into()).unwrap();
        delivered += value.unchecked_into::<Uint8Array>().length() as usize;
    }
    assert_eq!(delivered, bytes.len() / 2);

    // This read meets the break, and waits for the resume's back-off.
    let pending = reader.read();
    FetchTransport::new().sleep(300).await;
    assert_eq!(blob_gets.get(), 1, "the resume waits for its back-off");
    JsFuture::from(reader.cancel()).await.unwrap();
    let result = JsFuture::from(pending).await.unwrap();
    assert_eq!(
        Reflect::get(&result, &"done".into()).unwrap().as_bool(),
        Some(true)
    );
    FetchTransport::new().sleep(2_200).await;
    assert_eq!(blob_gets.get(), 1, "a cancelled stream asked for the rest");
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// A body that gives its bytes, then waits for ever, as a dead connection does.
    type StallingBody;
    fn stalling_response(bytes: &Uint8Array) -> StallingBody;
    #[wasm_bindgen(method, getter)]
    fn response(this: &StallingBody) -> web_sys::Response;
    /// Whether the body's reader cancelled it.
    #[wasm_bindgen(method, getter)]
    fn cancelled(this: &StallingBody) -> bool;
}

/// Cancelling a stream whose read waits on a dead connection ends the read and cancels the body
/// at once, instead of holding both until the connection gives up.
#[wasm_bindgen_test]
async fn a_cancelled_stream_lets_go_of_a_stalled_body_at_once() {
    let bytes = pseudo_random(1000, 65);
    let stalling = stalling_response(&Uint8Array::from(&bytes[..]));
    let body = FetchBody::of_response(&stalling.response());
    let stream = verified_stream(body, Digest::sha256_of(&bytes), "a stalled blob");
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    JsFuture::from(reader.read()).await.unwrap();

    let pending = reader.read();
    FetchTransport::new().sleep(100).await;
    assert!(!stalling.cancelled());
    JsFuture::from(reader.cancel()).await.unwrap();
    let result = JsFuture::from(pending).await.unwrap();
    assert_eq!(
        Reflect::get(&result, &"done".into()).unwrap().as_bool(),
        Some(true)
    );
    FetchTransport::new().sleep(0).await;
    assert!(stalling.cancelled(), "the stalled body is still being read");
}

/// A `Response` whose body was read already gives a stream that errors with what happened,
/// instead of throwing through wasm.
#[wasm_bindgen_test]
async fn a_response_read_already_errors_the_stream_clearly() {
    let bytes = pseudo_random(1000, 67);
    let response = response_announcing(&Uint8Array::from(&bytes[..]), bytes.len() as f64);
    JsFuture::from(response.array_buffer().unwrap())
        .await
        .unwrap();
    let body = FetchBody::of_response(&response);
    let stream = verified_stream(body, Digest::sha256_of(&bytes), "a used body");
    let error = stream_error(&stream).await;
    let message = js_prop(&error, "message").unwrap_or_default();
    assert!(message.contains("cannot be read"), "{message}");
    assert!(message.contains("read already"), "{message}");
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// Holds every `fetch` to a URL starting with a prefix until `release`.
    type HeldFetches;
    fn hold_fetches_to(prefix: &str) -> HeldFetches;
    /// How many fetches were held.
    #[wasm_bindgen(method)]
    fn held(this: &HeldFetches) -> u32;
    #[wasm_bindgen(method)]
    fn release(this: &HeldFetches);
    #[wasm_bindgen(method)]
    fn restore(this: &HeldFetches);
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// Records the signal of every `fetch` until `restore`.
    type FetchSpy;
    fn spy_on_fetch() -> FetchSpy;
    #[wasm_bindgen(method)]
    fn count(this: &FetchSpy) -> u32;
    #[wasm_bindgen(method)]
    fn count_to(this: &FetchSpy, prefix: &str) -> u32;
    /// Whether the signal of the `i`-th `fetch` was aborted.
    #[wasm_bindgen(method)]
    fn aborted(this: &FetchSpy, i: u32) -> bool;
    #[wasm_bindgen(method)]
    fn restore(this: &FetchSpy);
}

/// Polls `future` once (so that its request goes out), then drops it.
async fn start_then_drop(future: impl std::future::Future) {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        let _ = future.as_mut().poll(cx);
        std::task::Poll::Ready(())
    })
    .await;
}

/// A request dropped before its answer came is aborted, with or without a caller's signal (and
/// without aborting the caller's); one that was answered is left alone.
#[wasm_bindgen_test]
async fn a_request_dropped_before_its_answer_is_aborted() {
    let plain = anonymous().repository(unique_repo("dropped-request"));
    let bytes = pseudo_random(MIB, 69);
    let digest = push_bytes(&plain, &bytes).await;
    let caller = AbortController::new().unwrap();
    let transports = [
        FetchTransport::new(),
        FetchTransport::with_abort_signal(caller.signal()),
    ];
    let base = Url::parse(&anonymous_url()).unwrap();
    let spy = spy_on_fetch();
    for transport in &transports {
        let get = || api::blob::<Blob>(&base, plain.name(), &digest, Method::Get);
        start_then_drop(transport.send(get())).await;
        let answered = transport.send(get()).await.unwrap();
        assert_eq!(answered.status, 200);
        drop(answered);
    }
    spy.restore();
    assert_eq!(spy.count(), 4);
    assert!(spy.aborted(0) && spy.aborted(2), "a dropped request ran on");
    assert!(
        !spy.aborted(1) && !spy.aborted(3),
        "an answered request was aborted"
    );
    assert!(
        !caller.signal().aborted(),
        "the caller's signal was aborted"
    );
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// Takes `AbortSignal.any` away (as on engines before Chrome 116) until `restore`.
    fn hide_abort_signal_any() -> Restorer;
    type AbortListeners;
    /// Counts the "abort" listeners added to `signal` and not removed yet.
    fn count_abort_listeners(signal: &web_sys::AbortSignal) -> AbortListeners;
    #[wasm_bindgen(method)]
    fn live(this: &AbortListeners) -> u32;
}

/// Where the engine lacks `AbortSignal.any`, a request with a caller's signal is still aborted
/// when dropped before its answer, its body still stops when the caller aborts, and the listener
/// that passes the caller's abort on leaves the caller's signal with the request's body.
#[wasm_bindgen_test]
async fn without_abort_signal_any_requests_follow_both_signals() {
    let plain = anonymous().repository(unique_repo("no-signal-any"));
    let bytes = pseudo_random(4 * MIB, 71);
    let digest = push_bytes(&plain, &bytes).await;
    let caller = AbortController::new().unwrap();
    let listeners = count_abort_listeners(&caller.signal());
    let transport = FetchTransport::with_abort_signal(caller.signal());
    let base = Url::parse(&anonymous_url()).unwrap();
    let get = || api::blob::<Blob>(&base, plain.name(), &digest, Method::Get);
    let hidden = hide_abort_signal_any();
    let spy = spy_on_fetch();

    start_then_drop(transport.send(get())).await;
    let mut whole = transport.send(get()).await.unwrap();
    let mut read = 0;
    while let Some(chunk) = whole.body.next_chunk().await.unwrap() {
        read += chunk.len();
    }
    drop(whole);
    let left_after_two = listeners.live();

    let mut cut = transport.send(get()).await.unwrap();
    cut.body.next_chunk().await.unwrap().unwrap();
    caller.abort();
    let outcome = loop {
        match cut.body.next_chunk().await {
            Ok(Some(_)) => continue,
            other => break other,
        }
    };
    drop(cut);
    spy.restore();
    hidden.restore();

    assert_eq!(read, bytes.len());
    assert!(spy.aborted(0), "a dropped request ran on");
    assert!(!spy.aborted(1), "an answered request was aborted");
    assert_eq!(left_after_two, 0, "listeners stayed on the caller's signal");
    let error = outcome.expect_err("the body read to its end after the caller's abort");
    assert_eq!(error.kind, TransportErrorKind::Aborted, "{error}");
    assert_eq!(
        listeners.live(),
        0,
        "a listener stayed on the caller's signal"
    );
}

#[wasm_bindgen(module = "/tests/web.js")]
extern "C" {
    /// Makes `fetch` reject every `PATCH` until `restore`.
    fn reject_patches() -> Restorer;
}

/// A file that can no longer be read (deleted or changed on disk since it was picked) fails the
/// request sending it; the error says so, where the browser's own error reads as a lost
/// connection or a CORS block.
#[wasm_bindgen_test]
async fn a_file_gone_while_uploading_is_named_as_the_cause() {
    let repo = anonymous().repository(unique_repo("file-gone"));
    let bytes = pseudo_random(2 * MIB, 71);
    // Hashed slice by slice (streams), so only the PATCH finds the file unreadable.
    let source = BlobFileSource::new(blob_of(&bytes)).without_webcrypto();
    let options = UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    let patches = reject_patches();
    let reads = break_blob_reads(0);
    let result = repo.upload_blob(&source, options, &mut |_| {}).await;
    reads.restore();
    patches.restore();
    let error = result.expect_err("the upload succeeded");
    assert_eq!(error.code(), "BODY_ERROR", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("cannot read the file being uploaded"),
        "{message}"
    );
    assert!(message.contains("pick it again"), "{message}");
    assert!(!message.contains("CORS"), "{message}");
}
