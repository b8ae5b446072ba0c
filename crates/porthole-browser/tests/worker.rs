//! The fetch transport, Blob source and verified stream inside a dedicated web worker, where
//! there is no `window`: `fetch`, `setTimeout` and `origin` come from the worker's global scope.
//!
//! Same compile-time registry URLs as `web.rs`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, Uint8Array};
use porthole_browser::{download_blob_to_stream, BlobFileSource, FetchTransport};
use porthole_core::{
    Credential, Digest, RegistryClient, RepositoryName, Transport, UploadOptions, Url,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Blob, ReadableStreamDefaultReader};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

fn anonymous_url() -> &'static str {
    let Some(url) = option_env!("PORTHOLE_TEST_REGISTRY") else {
        panic!("PORTHOLE_TEST_REGISTRY was not set when the tests were compiled; run `cargo xtask test`")
    };
    url
}

#[wasm_bindgen_test]
async fn uploads_and_downloads_from_a_worker() {
    let global = js_sys::global();
    assert!(
        Reflect::get(&global, &"document".into())
            .unwrap()
            .is_undefined(),
        "this test must run in a worker"
    );
    let transport = FetchTransport::new();
    let before = transport.now_millis();
    transport.sleep(20).await;
    assert!(transport.now_millis() >= before + 15);

    let client = RegistryClient::new(
        transport,
        Url::parse(anonymous_url()).unwrap(),
        Credential::Anonymous,
    );
    client.ping().await.unwrap();
    let suffix = (js_sys::Math::random() * 4_294_967_295.0) as u32;
    let repo =
        client.repository(RepositoryName::parse(&format!("browser/worker-{suffix:08x}")).unwrap());
    let bytes: Vec<u8> = (0..3 * 1024 * 1024 + 7)
        .map(|i: u32| (i * 31 % 251) as u8)
        .collect();
    let blob =
        Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(bytes.as_slice()))).unwrap();
    let options = UploadOptions {
        chunk_size: 1024 * 1024,
        ..UploadOptions::default()
    };
    let digest = repo
        .upload_blob(&BlobFileSource::new(blob), options, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(digest, Digest::sha256_of(&bytes));

    let reader: ReadableStreamDefaultReader = download_blob_to_stream(&repo, &digest)
        .get_reader()
        .unchecked_into();
    let mut got = Vec::new();
    loop {
        let step = JsFuture::from(reader.read()).await.unwrap();
        if Reflect::get(&step, &"done".into()).unwrap().as_bool() == Some(true) {
            break;
        }
        got.extend(Uint8Array::new(&Reflect::get(&step, &"value".into()).unwrap()).to_vec());
    }
    assert!(got == bytes);
}
