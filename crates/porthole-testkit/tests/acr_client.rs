//! Porthole's ACR operations (named after the Azure SDK's) against the ACR emulator: AAD token
//! exchange, repository / manifest / tag properties, ordered paging, locks, deletes, anonymous
//! pull and the admin user. Each of the Azure SDK for .NET 1.1 samples has a test here.

mod common;

use std::rc::Rc;
use std::time::Duration;

use futures::executor::block_on;
use porthole_core::acr::{ArtifactOrder, ChangeableAttributes};
use porthole_core::auth::{Secret, TokenFuture, TokenProvider};
use porthole_core::{Credential, Digest, PageRequest, RegistryClient, Tag, TagOrDigest};
use porthole_testkit::acr::{ADMIN_PASSWORD, ADMIN_USER, OWNER, READER};
use porthole_testkit::{AcrEmulator, HttpServer, NativeTransport, ServerResponse};

use common::{client_at, push_image, repo_name, tag};

/// An AAD credential whose provider mints tokens from the emulator's test authority, counting
/// how often it is asked.
fn aad_credential(emu: &AcrEmulator, identity: &str) -> (Credential, Rc<std::cell::Cell<u32>>) {
    let token = emu
        .aad_token_for(identity, emu.audience(), 3600)
        .expect("an AAD token");
    let calls = Rc::new(std::cell::Cell::new(0));
    let counter = Rc::clone(&calls);
    let provider: TokenProvider = Rc::new(move |scopes: Vec<String>| -> TokenFuture {
        assert_eq!(scopes, ["https://containerregistry.azure.net/.default"]);
        counter.set(counter.get() + 1);
        let token = token.clone();
        Box::pin(async move { Ok(Secret::new(token)) })
    });
    let credential = Credential::AadToken {
        provider,
        audience: None,
        tenant: None,
    };
    (credential, calls)
}

/// A server whose challenge names the emulator's token server, on another origin: the AAD token
/// is not sent there (nor asked for).
#[test]
fn an_aad_token_never_goes_to_a_token_server_on_another_origin() {
    let emu = AcrEmulator::start().unwrap();
    let realm = format!("{}/oauth2/token", emu.url());
    let decoy = HttpServer::start(move |_| {
        ServerResponse::new(401).header(
            "WWW-Authenticate",
            format!("Bearer realm=\"{realm}\",service=\"decoy\""),
        )
    })
    .unwrap();
    let (credential, calls) = aad_credential(&emu, OWNER);
    let client = client_at(&decoy.url(), credential);
    let error = block_on(client.ping()).unwrap_err();
    let text = error.to_string();
    assert_eq!(error.code(), "AUTH_FAILED", "{text}");
    assert!(text.contains("another origin"), "{text}");
    assert_eq!(calls.get(), 0, "the AAD provider was asked");
}

fn client(emu: &AcrEmulator, credential: Credential) -> RegistryClient<NativeTransport> {
    client_at(&emu.url(), credential)
}

fn owner(emu: &AcrEmulator) -> RegistryClient<NativeTransport> {
    client(emu, aad_credential(emu, OWNER).0)
}

fn lock(field: &str) -> ChangeableAttributes {
    let mut a = ChangeableAttributes::default();
    match field {
        "write" => a.can_write = Some(false),
        "delete" => a.can_delete = Some(false),
        "read" => a.can_read = Some(false),
        _ => a.can_list = Some(false),
    }
    a
}

#[test]
fn sample_list_repositories_with_aad() {
    let emu = AcrEmulator::start().unwrap();
    let (credential, aad_calls) = aad_credential(&emu, OWNER);
    let c = client(&emu, credential);
    for (i, name) in ["hello-world", "library/alpine", "team/app"]
        .iter()
        .enumerate()
    {
        push_image(&c.repository(repo_name(name)), "v1", i as u64 * 10);
    }
    let names = block_on(c.list_repository_names()).unwrap();
    assert_eq!(names, ["hello-world", "library/alpine", "team/app"]);
    assert_eq!(c.is_acr(), Some(true), "served from /acr/v1/_catalog");
    let first = block_on(c.list_repository_names_page(&PageRequest {
        page_size: Some(2),
        continuation_token: None,
    }))
    .unwrap();
    assert_eq!(first.items, ["hello-world", "library/alpine"]);
    let token = first.continuation_token.expect("a next page");
    assert!(token.starts_with("/acr/v1/_catalog?"), "{token}");
    let rest = block_on(c.list_repository_names_page(&PageRequest {
        page_size: None,
        continuation_token: Some(token),
    }))
    .unwrap();
    assert_eq!(rest.items, ["team/app"]);
    assert_eq!(rest.continuation_token, None);
    assert_eq!(
        aad_calls.get(),
        1,
        "one AAD token, exchanged once and cached"
    );
}

#[test]
fn sample_list_tags_with_anonymous_access() {
    let emu = AcrEmulator::builder().anonymous_pull(true).start().unwrap();
    let repo_owner = owner(&emu).repository(repo_name("library/hello-world"));
    let image = push_image(&repo_owner, "latest", 1);
    block_on(repo_owner.put_manifest(&tag("v1"), &image.manifest)).unwrap();

    let anonymous = client(&emu, Credential::Anonymous);
    let repo = anonymous.repository(repo_name("library/hello-world"));
    let artifact = repo.artifact(tag("latest"));
    let tags = block_on(artifact.list_tag_properties(ArtifactOrder::None)).unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["latest", "v1"]);
    assert!(tags.iter().all(|t| t.digest == image.digest().as_str()));
    // Anonymous pull works; anything that writes is refused with a clear error.
    let manifest = block_on(repo.get_manifest(&tag("v1"))).unwrap();
    assert_eq!(&manifest.digest, image.digest());
    let err = block_on(artifact.update_tag_properties(&Tag::parse("v1").unwrap(), &lock("write")))
        .unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    assert!(err.to_string().contains("anonymous access"), "{err}");
}

/// Without anonymous pull, ACR's token server refuses an anonymous client: the error says to
/// sign in, not to check a username and password that were never given.
#[test]
fn anonymous_access_refused_by_the_token_server_says_to_sign_in() {
    let emu = AcrEmulator::start().unwrap();
    let anonymous = client(&emu, Credential::Anonymous);
    let err = block_on(anonymous.repository(repo_name("library/hello")).list_tags()).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.code(), "AUTH_FAILED", "{text}");
    assert!(text.contains("refused anonymous access"), "{text}");
    assert!(text.contains("sign in"), "{text}");
    assert!(!text.contains("check the username"), "{text}");
}

#[test]
fn sample_set_artifact_properties_and_locks_are_enforced() {
    let emu = AcrEmulator::start().unwrap();
    let c = owner(&emu);
    let repo = c.repository(repo_name("locked/app"));
    let image = push_image(&repo, "v1", 5);
    let v1 = Tag::parse("v1").unwrap();
    let artifact = repo.artifact(tag("v1"));

    let props = block_on(artifact.update_tag_properties(&v1, &lock("write"))).unwrap();
    assert_eq!(props.changeable_attributes.can_write, Some(false));
    let again = block_on(artifact.get_tag_properties(&v1)).unwrap();
    assert_eq!(again.changeable_attributes.can_write, Some(false));
    assert_eq!(again.digest, image.digest().as_str());

    // Overwriting the write-locked tag is refused by the registry, and said so.
    let moved = push_image(&repo, "v2", 6);
    let err = block_on(repo.put_manifest(&tag("v1"), &moved.manifest)).unwrap_err();
    assert_eq!(err.status(), Some(405), "{err}");
    assert_eq!(err.code(), "REGISTRY_DISALLOWED_OPERATION", "{err}");

    // A delete-locked manifest cannot be deleted; unlocking lets it go.
    let manifest_props = block_on(artifact.update_manifest_properties(&lock("delete"))).unwrap();
    assert_eq!(manifest_props.changeable_attributes.can_delete, Some(false));
    let err = block_on(artifact.delete()).unwrap_err();
    assert_eq!(err.code(), "REGISTRY_DISALLOWED_OPERATION", "{err}");
    let unlock = ChangeableAttributes {
        can_delete: Some(true),
        can_write: Some(true),
        ..Default::default()
    };
    block_on(artifact.update_manifest_properties(&unlock)).unwrap();
    block_on(artifact.update_tag_properties(&v1, &unlock)).unwrap();
    block_on(artifact.delete()).unwrap();
    let err =
        block_on(repo.get_manifest(&TagOrDigest::Digest(image.digest().clone()))).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn sample_delete_images_keeping_the_newest_three() {
    let emu = AcrEmulator::start().unwrap();
    let c = owner(&emu);
    let repo = c.repository(repo_name("cleanup/app"));
    let mut pushed = Vec::new();
    for i in 0..6 {
        pushed.push(push_image(&repo, &format!("v{i}"), 100 + i).manifest.digest);
        // Distinct update times (the emulator keeps ACR's 100 ns resolution).
        std::thread::sleep(Duration::from_millis(20));
    }
    let newest_first =
        block_on(repo.list_manifest_properties(ArtifactOrder::LastUpdatedOnDescending)).unwrap();
    let order: Vec<&str> = newest_first.iter().map(|m| m.digest.as_str()).collect();
    let expected: Vec<&str> = pushed.iter().rev().map(Digest::as_str).collect();
    assert_eq!(order, expected);
    for manifest in newest_first.iter().skip(3) {
        let artifact = repo.artifact(TagOrDigest::Digest(
            Digest::parse(&manifest.digest).unwrap(),
        ));
        block_on(artifact.delete()).unwrap();
    }
    let left =
        block_on(repo.list_manifest_properties(ArtifactOrder::LastUpdatedOnAscending)).unwrap();
    let left: Vec<&str> = left.iter().map(|m| m.digest.as_str()).collect();
    assert_eq!(
        left,
        [pushed[3].as_str(), pushed[4].as_str(), pushed[5].as_str()]
    );
}

#[test]
fn sample_upload_and_download_an_image() {
    let emu = AcrEmulator::start().unwrap();
    let c = owner(&emu);
    let repo = c.repository(repo_name("sample/image"));
    let image = push_image(&repo, "demo", 42);
    let manifest = block_on(repo.get_manifest(&tag("demo"))).unwrap();
    assert_eq!(manifest.raw, image.manifest.raw);
    let parsed = manifest.as_image().unwrap();
    assert_eq!(
        block_on(repo.get_blob(&parsed.config.digest)).unwrap(),
        image.config
    );
    for (layer, bytes) in parsed.layers.iter().zip(&image.layers) {
        assert_eq!(&block_on(repo.get_blob(&layer.digest)).unwrap(), bytes);
    }
    let props = block_on(repo.artifact(tag("demo")).get_manifest_properties()).unwrap();
    assert_eq!(props.architecture.as_deref(), Some("amd64"));
    assert_eq!(props.operating_system.as_deref(), Some("linux"));
    assert_eq!(props.tags, ["demo"]);
}

#[test]
fn repository_properties_paging_and_delete() {
    let emu = AcrEmulator::start().unwrap();
    let c = owner(&emu);
    let repo = c.repository(repo_name("props/app"));
    for i in 0..5 {
        push_image(&repo, &format!("t{i}"), 200 + i);
    }
    let props = block_on(repo.get_properties()).unwrap();
    assert_eq!(props.name, "props/app");
    assert_eq!((props.manifest_count, props.tag_count), (5, 5));
    let locked = block_on(repo.update_properties(&lock("list"))).unwrap();
    assert_eq!(locked.changeable_attributes.can_list, Some(false));
    block_on(repo.update_properties(&ChangeableAttributes {
        can_list: Some(true),
        ..Default::default()
    }))
    .unwrap();

    // Ordered paging over several pages, two at a time.
    let mut seen = Vec::new();
    let mut page = PageRequest {
        page_size: Some(2),
        continuation_token: None,
    };
    loop {
        let p = block_on(
            repo.list_manifest_properties_page(ArtifactOrder::LastUpdatedOnAscending, &page),
        )
        .unwrap();
        assert!(p.items.len() <= 2);
        seen.extend(p.items.into_iter().map(|m| m.tags));
        match p.continuation_token {
            Some(t) => page.continuation_token = Some(t),
            None => break,
        }
    }
    let tags: Vec<String> = seen.into_iter().flatten().collect();
    assert_eq!(tags, ["t0", "t1", "t2", "t3", "t4"]);

    let deleted = block_on(repo.delete()).unwrap();
    assert_eq!(deleted.deleted_manifests.len(), 5);
    assert_eq!(deleted.deleted_tags.len(), 5);
    let err = block_on(repo.get_properties()).unwrap_err();
    assert_eq!(err.code(), "NAME_UNKNOWN", "{err}");
}

#[test]
fn tag_delete_and_unknown_tag() {
    let emu = AcrEmulator::start().unwrap();
    let c = owner(&emu);
    let repo = c.repository(repo_name("tags/app"));
    let image = push_image(&repo, "keep", 7);
    block_on(repo.put_manifest(&tag("drop"), &image.manifest)).unwrap();
    let artifact = repo.artifact(tag("keep"));
    block_on(artifact.delete_tag(&Tag::parse("drop").unwrap())).unwrap();
    let tags = block_on(artifact.list_tag_properties(ArtifactOrder::None)).unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].name, "keep");
    let err = block_on(artifact.get_tag_properties(&Tag::parse("drop").unwrap())).unwrap_err();
    assert_eq!(err.code(), "TAG_UNKNOWN", "{err}");
    assert!(
        block_on(repo.get_manifest(&tag("keep"))).is_ok(),
        "the manifest stays"
    );
}

#[test]
fn every_tag_of_a_repository_with_its_own_dates() {
    let emu = AcrEmulator::start().unwrap();
    let c = owner(&emu);
    let repo = c.repository(repo_name("tags/dated"));
    let old = push_image(&repo, "old", 11);
    push_image(&repo, "new", 12);
    // `prod` moves onto the older manifest: the tag is the newest thing here, its manifest not.
    block_on(repo.put_manifest(&tag("prod"), &old.manifest)).unwrap();
    let tags = block_on(repo.list_tag_properties(ArtifactOrder::LastUpdatedOnDescending)).unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["prod", "new", "old"]);
    assert_eq!(tags[0].digest, old.digest().as_str());
    let manifest = block_on(repo.artifact(tag("old")).get_manifest_properties()).unwrap();
    assert!(
        tags[0].last_updated_on > manifest.last_updated_on,
        "{} is not after {}",
        tags[0].last_updated_on,
        manifest.last_updated_on
    );
}

#[test]
fn refresh_tokens_are_renewed_transparently_mid_listing() {
    let emu = AcrEmulator::builder()
        .refresh_token_lifetime(Duration::from_secs(2))
        .access_token_lifetime(Duration::from_secs(1))
        .start()
        .unwrap();
    let (credential, aad_calls) = aad_credential(&emu, OWNER);
    let c = client(&emu, credential);
    let repo = c.repository(repo_name("renew/app"));
    for i in 0..3 {
        push_image(&repo, &format!("r{i}"), 300 + i);
    }
    let mut page = PageRequest {
        page_size: Some(1),
        continuation_token: None,
    };
    let mut names = Vec::new();
    loop {
        let p = block_on(
            repo.artifact(tag("r0"))
                .list_tag_properties_page(ArtifactOrder::None, &page),
        );
        let p = p.unwrap();
        names.extend(p.items.into_iter().map(|t| t.name));
        // Outlive both the access token and the refresh token between pages.
        std::thread::sleep(Duration::from_millis(2_200));
        match p.continuation_token {
            Some(t) => page.continuation_token = Some(t),
            None => break,
        }
    }
    assert_eq!(names, ["r0"], "r0's own tags (the digest filter)");
    let all = block_on(repo.list_manifest_properties(ArtifactOrder::None)).unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        aad_calls.get() >= 2,
        "the refresh token was renewed ({} exchanges)",
        aad_calls.get()
    );
}

#[test]
fn bad_aad_tokens_are_refused_clearly() {
    let emu = AcrEmulator::start().unwrap();
    let expired = emu.aad_token_for(OWNER, emu.audience(), -60).unwrap();
    let wrong_audience = emu
        .aad_token_for(OWNER, "https://management.azure.com", 3600)
        .unwrap();
    for token in [expired, wrong_audience, "not-a-jwt".to_string()] {
        let secret = token.clone();
        let provider: TokenProvider = Rc::new(move |_| -> TokenFuture {
            let t = secret.clone();
            Box::pin(async move { Ok(Secret::new(t)) })
        });
        let c = client(
            &emu,
            Credential::AadToken {
                provider,
                audience: None,
                tenant: None,
            },
        );
        let err = block_on(c.list_repository_names()).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.code(), "AUTH_FAILED", "{text}");
        assert!(text.contains("/oauth2/exchange"), "{text}");
        assert!(text.contains("has not expired"), "{text}");
        assert!(!text.contains(&token), "the token never shows: {text}");
    }
    let failing: TokenProvider =
        Rc::new(|_| -> TokenFuture { Box::pin(async { Err("no signed-in account".to_string()) }) });
    let c = client(
        &emu,
        Credential::AadToken {
            provider: failing,
            audience: None,
            tenant: None,
        },
    );
    let err = block_on(c.list_repository_names()).unwrap_err();
    assert!(err.to_string().contains("no signed-in account"), "{err}");
}

#[test]
fn reader_identity_and_admin_user() {
    let emu = AcrEmulator::start().unwrap();
    push_image(&owner(&emu).repository(repo_name("shared/app")), "v1", 11);

    let reader = client(&emu, aad_credential(&emu, READER).0);
    let repo = reader.repository(repo_name("shared/app"));
    assert!(block_on(repo.get_manifest(&tag("v1"))).is_ok());
    assert_eq!(block_on(repo.get_properties()).unwrap().tag_count, 1);
    let err = block_on(repo.update_properties(&lock("write"))).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    assert!(err.to_string().contains("insufficient_scope"), "{err}");

    let admin = client(&emu, Credential::basic(ADMIN_USER, ADMIN_PASSWORD));
    let names = block_on(admin.list_repository_names()).unwrap();
    assert_eq!(names, ["shared/app"]);
    push_image(&admin.repository(repo_name("shared/admin")), "v1", 12);
    let wrong = client(&emu, Credential::basic(ADMIN_USER, "wrong"));
    let err = block_on(wrong.list_repository_names()).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    assert!(!err.to_string().contains("wrong\""), "{err}");
}

/// A client that never listed repositories (a page opened by its address, with the admin
/// user's password) learns that the registry is an ACR from its first properties read; a
/// failed read on a registry without ACR's API teaches it nothing.
#[test]
fn a_properties_read_shows_the_registry_is_acr() {
    let emu = AcrEmulator::start().unwrap();
    let pushed = owner(&emu).repository(repo_name("learn/acr"));
    push_image(&pushed, "v1", 3);

    let admin = client(&emu, Credential::basic(ADMIN_USER, ADMIN_PASSWORD));
    assert_eq!(admin.is_acr(), None);
    let artifact = admin.repository(repo_name("learn/acr")).artifact(tag("v1"));
    block_on(artifact.get_manifest_properties()).unwrap();
    assert_eq!(admin.is_acr(), Some(true));

    let registry =
        porthole_testkit::Registry::start(porthole_testkit::AuthMode::Anonymous).unwrap();
    let plain = client_at(&registry.url(), Credential::Anonymous);
    let repo = plain.repository(repo_name("learn/plain"));
    push_image(&repo, "v1", 4);
    let error = block_on(repo.artifact(tag("v1")).get_manifest_properties()).unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(plain.is_acr(), None);
}
