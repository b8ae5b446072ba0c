//! The ACR operations in headless Chromium against the test kit's ACR emulator, called
//! cross-origin (the emulator answers CORS preflight as a proxy in front of ACR would): each
//! sample of the Azure SDK for .NET 1.1 runs here from Porthole.
//!
//! `PORTHOLE_TEST_REGISTRIES_JSON` (compile time) carries the emulator's URL and AAD tokens.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use js_sys::Reflect;
use porthole_browser::{BlobFileSource, FetchTransport};
use porthole_core::acr::{ArtifactOrder, ChangeableAttributes};
use porthole_core::auth::{Secret, TokenFuture, TokenProvider};
use porthole_core::{
    Credential, Descriptor, Digest, ImageManifest, Manifest, MediaType, RegistryClient, Repository,
    RepositoryName, Tag, TagOrDigest, UploadOptions, Url,
};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn registries() -> JsValue {
    let Some(json) = option_env!("PORTHOLE_TEST_REGISTRIES_JSON") else {
        panic!(
            "PORTHOLE_TEST_REGISTRIES_JSON was not set when the tests were compiled; run them \
             with `cargo xtask test`"
        )
    };
    js_sys::JSON::parse(json).expect("PORTHOLE_TEST_REGISTRIES_JSON is JSON")
}

fn field(path: &[&str]) -> String {
    let mut v = registries();
    for key in path {
        v = Reflect::get(&v, &JsValue::from_str(key)).unwrap();
    }
    v.as_string()
        .unwrap_or_else(|| panic!("registries JSON has no string at {path:?}"))
}

fn aad(token: String) -> Credential {
    let provider: TokenProvider = Rc::new(move |_scopes| -> TokenFuture {
        let t = token.clone();
        Box::pin(async move { Ok(Secret::new(t)) })
    });
    Credential::AadToken {
        provider,
        audience: None,
        tenant: None,
    }
}

fn client(credential: Credential) -> RegistryClient<FetchTransport> {
    RegistryClient::new(
        FetchTransport::new(),
        Url::parse(&field(&["acr"])).unwrap(),
        credential,
    )
}

fn owner() -> RegistryClient<FetchTransport> {
    client(aad(field(&["acr_auth", "aad_tokens", "owner"])))
}

fn unique(prefix: &str) -> RepositoryName {
    let suffix = (js_sys::Math::random() * 4_294_967_295.0) as u32;
    RepositoryName::parse(&format!("{prefix}-{suffix:08x}")).unwrap()
}

fn tag(name: &str) -> TagOrDigest {
    TagOrDigest::Tag(Tag::parse(name).unwrap())
}

/// Pushes a small image (a config and one layer from a browser `Blob`) under `tag_name`.
async fn push_image(repo: &Repository<FetchTransport>, tag_name: &str, seed: u8) -> Manifest {
    let config = format!(
        r#"{{"architecture":"arm64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":{seed}}}"#
    );
    let config_digest = repo
        .upload_blob(config.as_bytes(), UploadOptions::default(), &mut |_| {})
        .await
        .unwrap();
    let layer: Vec<u8> = (0..300_000u32).map(|i| (i as u8) ^ seed).collect();
    let blob = web_sys::Blob::new_with_u8_array_sequence(&js_sys::Array::of1(
        &js_sys::Uint8Array::from(layer.as_slice()),
    ))
    .unwrap();
    let layer_digest = repo
        .upload_blob(
            &BlobFileSource::new(blob),
            UploadOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(layer_digest, Digest::sha256_of(&layer));
    let manifest = Manifest::from_image(&ImageManifest::new(
        Descriptor::new(MediaType::OCI_CONFIG, config_digest, config.len() as u64),
        vec![Descriptor::new(
            MediaType::OCI_LAYER_GZIP,
            layer_digest,
            layer.len() as u64,
        )],
    ))
    .unwrap();
    repo.put_manifest(&tag(tag_name), &manifest).await.unwrap();
    manifest
}

#[wasm_bindgen_test]
async fn sample_list_repositories() {
    let c = owner();
    let name = unique("acr-list");
    push_image(&c.repository(name.clone()), "v1", 1).await;
    let names = c.list_repository_names().await.unwrap();
    assert!(names.contains(&name.to_string()), "{names:?}");
    assert_eq!(c.is_acr(), Some(true));
}

#[wasm_bindgen_test]
async fn sample_list_tags_with_anonymous_access() {
    let name = unique("acr-anon");
    let image = push_image(&owner().repository(name.clone()), "latest", 2).await;
    owner()
        .repository(name.clone())
        .put_manifest(&tag("v2"), &image)
        .await
        .unwrap();
    let anonymous = client(Credential::Anonymous);
    let artifact = anonymous.repository(name).artifact(tag("latest"));
    let tags = artifact
        .list_tag_properties(ArtifactOrder::None)
        .await
        .unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["latest", "v2"]);
}

#[wasm_bindgen_test]
async fn sample_set_artifact_properties() {
    let repo = owner().repository(unique("acr-props"));
    push_image(&repo, "v1", 3).await;
    let v1 = Tag::parse("v1").unwrap();
    let artifact = repo.artifact(tag("v1"));
    let locked = ChangeableAttributes {
        can_write: Some(false),
        can_delete: Some(false),
        ..Default::default()
    };
    let props = artifact.update_tag_properties(&v1, &locked).await.unwrap();
    assert_eq!(props.changeable_attributes.can_write, Some(false));
    // The lock is enforced: the tag cannot be deleted, and the error says why.
    let err = artifact.delete_tag(&v1).await.unwrap_err();
    assert_eq!(err.code(), "REGISTRY_DISALLOWED_OPERATION", "{err}");
    let open = ChangeableAttributes {
        can_write: Some(true),
        can_delete: Some(true),
        ..Default::default()
    };
    artifact.update_tag_properties(&v1, &open).await.unwrap();
    artifact.delete_tag(&v1).await.unwrap();
}

#[wasm_bindgen_test]
async fn sample_delete_images_keeping_the_newest_three() {
    let repo = owner().repository(unique("acr-clean"));
    let mut pushed = Vec::new();
    for i in 0..5u8 {
        pushed.push(push_image(&repo, &format!("v{i}"), 10 + i).await.digest);
    }
    let newest = repo
        .list_manifest_properties(ArtifactOrder::LastUpdatedOnDescending)
        .await
        .unwrap();
    for m in newest.iter().skip(3) {
        let digest = Digest::parse(&m.digest).unwrap();
        repo.artifact(TagOrDigest::Digest(digest))
            .delete()
            .await
            .unwrap();
    }
    let left: Vec<String> = repo
        .list_manifest_properties(ArtifactOrder::LastUpdatedOnAscending)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.digest)
        .collect();
    let expected: Vec<String> = pushed[2..].iter().map(Digest::to_string).collect();
    assert_eq!(left, expected);
}

#[wasm_bindgen_test]
async fn sample_upload_and_download_an_image() {
    let repo = owner().repository(unique("acr-image"));
    let pushed = push_image(&repo, "demo", 20).await;
    let manifest = repo.get_manifest(&tag("demo")).await.unwrap();
    assert_eq!(manifest.raw, pushed.raw);
    let image = manifest.as_image().unwrap();
    let layer = repo.get_blob(&image.layers[0].digest).await.unwrap();
    assert_eq!(layer.len(), 300_000);
    let props = repo
        .artifact(tag("demo"))
        .get_manifest_properties()
        .await
        .unwrap();
    assert_eq!(props.architecture.as_deref(), Some("arm64"));
}

#[wasm_bindgen_test]
async fn a_reader_cannot_change_properties() {
    let name = unique("acr-reader");
    push_image(&owner().repository(name.clone()), "v1", 30).await;
    let reader = client(aad(field(&["acr_auth", "aad_tokens", "reader"])));
    let repo = reader.repository(name);
    assert_eq!(repo.get_properties().await.unwrap().tag_count, 1);
    let err = repo
        .update_properties(&ChangeableAttributes {
            can_list: Some(false),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
}

#[wasm_bindgen_test]
async fn a_bad_aad_token_is_refused_clearly() {
    let c = client(aad("not-a-jwt".into()));
    let err = c.list_repository_names().await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.code(), "AUTH_FAILED", "{text}");
    assert!(text.contains("/oauth2/exchange"), "{text}");
    assert!(!text.contains("not-a-jwt"), "{text}");
}
