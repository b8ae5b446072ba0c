//! `porthole_core::RegistryClient` over the native transport against a real distribution 2.8
//! registry, in each auth mode: every client operation, the errors a user meets, and uploads
//! that fail half-way (a fault injected around the real registry, not a mock of it).

mod common;

use std::cell::{Cell, RefCell};
use std::fs;
use std::path::PathBuf;

use common::*;
use futures::executor::block_on;
use porthole_core::{
    BlobSource, Body, ByteStream, ClientOptions, Credential, Descriptor, Digest, Error,
    ImageManifest, Manifest, MediaType, Method, PageRequest, Reference, RegistryClient, Request,
    Response, Tag, TagOrDigest, Transport, TransportError, TransportErrorKind, UploadOptions,
    UploadProgress, Url,
};
use porthole_testkit::users::{Grant, User, ALICE, ALICE_PASSWORD, READER, READER_PASSWORD};
use porthole_testkit::{
    AuthMode, Fault as ProxyFault, FaultProxy, NativeBodyStream, NativeTransport, Registry, Rule,
};

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Registry: ping and catalog

#[test]
fn ping_succeeds_in_every_mode() {
    each_mode(|env| {
        block_on(env.client.ping()).unwrap();
    });
}

#[test]
fn catalog_pages_follow_continuation_tokens_and_big_pages_fall_back() {
    each_mode(|env| {
        let mut expected: Vec<String> = (0..25).map(|i| format!("catalog/repo-{i:02}")).collect();
        for (i, name) in expected.iter().enumerate() {
            push_blob(&env.repo(name), "application/octet-stream", &[i as u8; 16]);
        }
        expected.sort();

        let mut pages = Vec::new();
        let mut request = PageRequest {
            page_size: Some(10),
            continuation_token: None,
        };
        loop {
            let page = block_on(env.client.list_repositories_page(&request)).unwrap();
            pages.push(page.items);
            match page.continuation_token {
                Some(token) => request.continuation_token = Some(token),
                None => break,
            }
            assert!(pages.len() < 10, "paging does not end: {pages:?}");
        }
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
        assert_eq!(pages.concat(), expected);

        // No page size: the client asks n=10000, distribution refuses it with
        // PAGINATION_NUMBER_INVALID, and the client falls back to a size it accepts.
        let all = block_on(env.client.list_repositories()).unwrap();
        assert_eq!(all, expected);
    });
}

/// AWS ECR refuses `n` over 1,000 with `400 UNSUPPORTED`, not distribution's
/// `PAGINATION_NUMBER_INVALID`: a `400` to a page size the client chose steps it down all the
/// same (here the fault proxy refuses `n=10000` with a code of its own).
#[test]
fn a_page_size_refused_with_another_code_is_stepped_down() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![Rule::new(ProxyFault::Status(400))
            .method("GET")
            .path_contains("n=10000")],
    )
    .unwrap();
    let client = client_at(&proxy.url(), Credential::Anonymous);
    let repo = client.repository(repo_name("capped/app"));
    let image = push_image(&repo, "v1", 3);
    block_on(repo.put_manifest(&tag("v2"), &image.manifest)).unwrap();
    let mut tags = block_on(repo.list_tags()).unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
    assert_eq!(
        block_on(client.list_repositories()).unwrap(),
        ["capped/app"]
    );
    // Both listings asked n=10000 first (the client remembers the step, so only once).
    assert_eq!(proxy.injected_total(), 1, "{:?}", proxy.events());
}

/// A 400 that has nothing to do with the page size (here every listing of one repository is
/// refused) walks the ladder down for that listing, then reports the error, and leaves the
/// client's later listings their big pages.
#[test]
fn a_400_unrelated_to_the_page_size_leaves_later_listings_their_big_pages() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![Rule::new(ProxyFault::Status(400))
            .method("GET")
            .path_contains("/v2/refused/")],
    )
    .unwrap();
    let client = client_at(&proxy.url(), Credential::Anonymous);
    let open = client.repository(repo_name("open/app"));
    push_image(&open, "v1", 4);
    let error = block_on(client.repository(repo_name("refused/app")).list_tags()).unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    assert_eq!(block_on(open.list_tags()).unwrap(), ["v1"]);
    let last = proxy.events().pop().unwrap();
    assert!(last.target.contains("n=10000"), "{}", last.target);
}

/// Quay's token server drops actions it does not know (`delete`) and its DELETE needs
/// `pull,push`: the challenge's scope says so, and the retry's token asks for it too.
#[test]
fn the_scope_a_challenge_names_is_asked_for_on_the_retry() {
    let server = porthole_testkit::HttpServer::start(|req| {
        if req.path() == "/token" {
            return porthole_testkit::ServerResponse::json(
                200,
                &serde_json::json!({"token": "granted"}),
            );
        }
        if req.header("authorization") == Some("Bearer granted") {
            return porthole_testkit::ServerResponse::new(202);
        }
        porthole_testkit::ServerResponse::new(401).header(
            "WWW-Authenticate",
            "Bearer realm=\"/token\",service=\"quay\",scope=\"repository:team/app:pull,push\"",
        )
    })
    .unwrap();
    let client = client_at(&server.url(), Credential::Anonymous);
    let repo = client.repository(repo_name("team/app"));
    let digest = Digest::sha256_of(b"some manifest");
    block_on(repo.delete_manifest(&by_digest(&digest))).unwrap();
    // The next delete asks for those scopes at once: no second challenge, no second token.
    let other = Digest::sha256_of(b"another manifest");
    block_on(repo.delete_manifest(&by_digest(&other))).unwrap();
    let deletes: Vec<bool> = server
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.header("authorization").is_some())
        .collect();
    assert_eq!(deletes, [false, true, true]);
    let asked: Vec<Vec<(String, String)>> = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/token")
        .map(|r| r.query())
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    let scopes: Vec<&str> = asked[0]
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(scopes, ["repository:team/app:delete,pull,push"]);
}

#[test]
fn tags_are_listed() {
    each_mode(|env| {
        let repo = env.repo("tags/app");
        let image = push_image(&repo, "v1", 1);
        for t in ["v2", "latest", "0.1.0-rc.1"] {
            block_on(repo.put_manifest(&tag(t), &image.manifest)).unwrap();
        }
        let mut tags = block_on(repo.list_tags()).unwrap();
        tags.sort();
        assert_eq!(tags, ["0.1.0-rc.1", "latest", "v1", "v2"]);
    });
}

// ---------------------------------------------------------------------------------------------
// Blobs

/// Uploads, checks, downloads (both ways) and deletes one blob.
fn blob_round_trip(env: &Env, repo_name: &str, data: &[u8], options: UploadOptions) {
    let repo = env.repo(repo_name);
    let digest = Digest::sha256_of(data);
    assert_eq!(block_on(repo.blob_exists(&digest)).unwrap(), None);

    let mut progress: Vec<UploadProgress> = Vec::new();
    let uploaded = block_on(repo.upload_blob(data, options, &mut |p| progress.push(p))).unwrap();
    assert_eq!(uploaded, digest);
    let last = progress.last().expect("progress reported at least once");
    assert_eq!(
        (last.confirmed, last.total),
        (data.len() as u64, data.len() as u64)
    );

    assert_eq!(
        block_on(repo.blob_exists(&digest)).unwrap(),
        Some(data.len() as u64)
    );
    assert_eq!(block_on(repo.get_blob(&digest)).unwrap(), data);
    let mut streamed = Vec::new();
    let size = block_on(repo.download_blob(&digest, &mut |chunk| {
        streamed.extend_from_slice(chunk);
        Ok(())
    }))
    .unwrap();
    assert_eq!(size, data.len() as u64);
    assert!(streamed == data, "streamed download differs");

    block_on(repo.delete_blob(&digest)).unwrap();
    assert_eq!(block_on(repo.blob_exists(&digest)).unwrap(), None);
    assert!(env.uploads_left(repo_name).is_empty());
}

#[test]
fn monolithic_blob_uploads_downloads_and_deletes() {
    each_mode(|env| {
        blob_round_trip(env, "blobs/mono", &random_bytes(700_000, 7), monolithic());
    });
}

#[test]
fn chunked_upload_reports_increasing_progress() {
    each_mode(|env| {
        let data = random_bytes(5 * MIB + 123, 11);
        let repo = env.repo("blobs/chunked");
        let options = UploadOptions {
            chunk_size: MIB as u64,
            ..UploadOptions::default()
        };
        let mut progress: Vec<UploadProgress> = Vec::new();
        let digest =
            block_on(repo.upload_blob(&data[..], options, &mut |p| progress.push(p))).unwrap();
        assert_eq!(digest, Digest::sha256_of(&data));

        let confirmed: Vec<u64> = progress.iter().map(|p| p.confirmed).collect();
        // One report per acknowledged chunk (6: five full and a short one), then the final one.
        assert!(
            confirmed.len() >= 6,
            "too few progress reports: {confirmed:?}"
        );
        assert!(
            confirmed.windows(2).all(|w| w[0] <= w[1]),
            "progress went backwards: {confirmed:?}"
        );
        assert!(confirmed.contains(&(MIB as u64)), "{confirmed:?}");
        assert_eq!(*confirmed.last().unwrap(), data.len() as u64);
        assert!(progress.iter().all(|p| p.total == data.len() as u64));

        assert_eq!(block_on(repo.get_blob(&digest)).unwrap(), data);
        assert!(env.uploads_left("blobs/chunked").is_empty());
    });
}

#[test]
fn chunked_blob_round_trip() {
    each_mode(|env| {
        let options = UploadOptions {
            chunk_size: 256 * 1024,
            ..UploadOptions::default()
        };
        blob_round_trip(env, "blobs/chunks", &random_bytes(MIB + 5, 12), options);
    });
}

#[test]
fn empty_blob_round_trip() {
    each_mode(|env| {
        blob_round_trip(env, "blobs/empty", &[], UploadOptions::default());
    });
}

#[test]
fn expected_digest_mismatch_is_refused_before_commit_and_leaves_no_session() {
    each_mode(|env| {
        let data = random_bytes(3 * MIB, 21);
        let wrong = Digest::sha256_of(b"something else");
        let repo = env.repo("blobs/mismatch");
        for monolithic_max in [0, u64::MAX] {
            let options = UploadOptions {
                chunk_size: MIB as u64,
                monolithic_max,
                expected_digest: Some(wrong.clone()),
                ..UploadOptions::default()
            };
            let err = block_on(repo.upload_blob(&data[..], options, &mut |_| {})).unwrap_err();
            assert_eq!(err.code(), "DIGEST_MISMATCH", "{err}");
            assert!(err.to_string().contains(wrong.as_str()), "{err}");
            assert_eq!(
                block_on(repo.blob_exists(&Digest::sha256_of(&data))).unwrap(),
                None,
                "the blob was committed despite the mismatch"
            );
            assert_eq!(env.uploads_left("blobs/mismatch"), Vec::<String>::new());
        }
    });
}

#[test]
fn delete_of_a_missing_blob_is_an_error() {
    each_mode(|env| {
        let repo = env.repo("blobs/missing");
        push_blob(
            &repo,
            "application/octet-stream",
            b"so the repository exists",
        );
        let missing = Digest::sha256_of(b"never pushed");
        let err = block_on(repo.delete_blob(&missing)).unwrap_err();
        assert_eq!(err.status(), Some(404), "{err}");
        assert_eq!(err.code(), "BLOB_UNKNOWN", "{err}");
        assert!(err.to_string().contains(missing.as_str()), "{err}");
    });
}

// ---------------------------------------------------------------------------------------------
// Cross-repository mount

#[test]
fn mount_from_another_repository() {
    each_mode(|env| {
        let source = env.repo("mount/source");
        let target = env.repo("mount/target");
        let data = random_bytes(50_000, 31);
        let blob = push_blob(&source, "application/octet-stream", &data);
        assert_eq!(block_on(target.blob_exists(&blob.digest)).unwrap(), None);

        assert!(block_on(target.mount_blob(&blob.digest, source.name())).unwrap());
        assert_eq!(
            block_on(target.blob_exists(&blob.digest)).unwrap(),
            Some(data.len() as u64)
        );
        assert_eq!(block_on(target.get_blob(&blob.digest)).unwrap(), data);

        // mount_or_upload of a blob the source has: mounted, the bytes are not needed.
        let other = env.repo("mount/other");
        let nothing: &[u8] = &[];
        let mut progress = 0;
        let digest =
            block_on(
                other.mount_or_upload(&blob.digest, source.name(), nothing, &mut |_| progress += 1),
            )
            .unwrap();
        assert_eq!(digest, blob.digest);
        assert_eq!(progress, 0, "nothing should have been uploaded");
        assert_eq!(block_on(other.get_blob(&blob.digest)).unwrap(), data);
    });
}

#[test]
fn mount_of_a_missing_blob_is_false_and_mount_or_upload_uploads_it() {
    each_mode(|env| {
        let source = env.repo("mount/source");
        push_blob(
            &source,
            "application/octet-stream",
            b"the source repository exists",
        );
        let target = env.repo("mount/target");
        let data = random_bytes(40_000, 41);
        let digest = Digest::sha256_of(&data);

        assert!(!block_on(target.mount_blob(&digest, source.name())).unwrap());
        assert_eq!(block_on(target.blob_exists(&digest)).unwrap(), None);
        // The session the registry opened instead of mounting was cancelled.
        assert_eq!(env.uploads_left("mount/target"), Vec::<String>::new());

        let uploaded =
            block_on(target.mount_or_upload(&digest, source.name(), &data[..], &mut |_| {}))
                .unwrap();
        assert_eq!(uploaded, digest);
        assert_eq!(block_on(target.get_blob(&digest)).unwrap(), data);
        assert_eq!(block_on(source.blob_exists(&digest)).unwrap(), None);

        // The digest given to mount_or_upload is checked against the bytes uploaded.
        let wrong = Digest::sha256_of(b"not these bytes");
        let err = block_on(target.mount_or_upload(&wrong, source.name(), &data[..], &mut |_| {}))
            .unwrap_err();
        assert_eq!(err.code(), "DIGEST_MISMATCH", "{err}");
        assert_eq!(env.uploads_left("mount/target"), Vec::<String>::new());
    });
}

/// A user who may push to the target but not read the repository mounted from: the registry
/// refuses the mount (401 `insufficient_scope`), and the bytes at hand are uploaded instead.
#[test]
fn a_mount_from_a_repository_the_user_cannot_read_uploads_instead() {
    let team =
        User::new("team", "team-secret").grant(Grant::repositories("team/*", &["pull", "push"]));
    let registry = Registry::builder(AuthMode::Token)
        .user(team)
        .start()
        .unwrap();
    let alice = client_for(&registry, Credential::basic(ALICE, ALICE_PASSWORD));
    let shared = alice.repository(repo_name("shared/base"));
    let data = random_bytes(30_000, 43);
    let blob = push_blob(&shared, "application/octet-stream", &data);

    let client = client_for(&registry, Credential::basic("team", "team-secret"));
    let target = client.repository(repo_name("team/app"));
    assert!(
        !block_on(target.mount_blob(&blob.digest, shared.name())).unwrap(),
        "a refused mount mounts nothing"
    );
    let mut reports = 0;
    let digest = block_on(target.mount_or_upload(
        &blob.digest,
        shared.name(),
        &data[..],
        &mut |_| reports += 1,
    ))
    .unwrap();
    assert_eq!(digest, blob.digest);
    assert!(reports > 0, "the bytes were uploaded");
    assert_eq!(block_on(target.get_blob(&blob.digest)).unwrap(), data);
}

#[test]
fn a_blob_bigger_than_expected_is_refused_as_it_arrives() {
    let env = Env::start(AuthMode::Anonymous);
    let repo = env.repo("limits/config");
    let data = random_bytes(200_000, 47);
    let blob = push_blob(&repo, "application/octet-stream", &data);
    let err = block_on(repo.get_blob_at_most(&blob.digest, 100_000)).unwrap_err();
    assert_eq!(err.code(), "PROTOCOL_ERROR", "{err}");
    assert!(err.to_string().contains("more than 100000 bytes"), "{err}");
    assert_eq!(
        block_on(repo.get_blob_at_most(&blob.digest, data.len())).unwrap(),
        data
    );
}

// ---------------------------------------------------------------------------------------------
// Manifests

#[test]
fn image_manifest_by_tag_and_by_digest() {
    each_mode(|env| {
        let repo = env.repo("manifests/image");
        let image = push_image(&repo, "v1", 51);

        let by_tag = block_on(repo.get_manifest(&tag("v1"))).unwrap();
        assert_eq!(by_tag.raw, image.manifest.raw);
        assert_eq!(&by_tag.digest, image.digest());
        assert_eq!(by_tag.media_type.as_str(), MediaType::OCI_MANIFEST);
        let parsed = by_tag.as_image().expect("an image manifest");
        assert_eq!(parsed.layers.len(), 2);

        let pinned = block_on(repo.get_manifest(&by_digest(image.digest()))).unwrap();
        assert_eq!(pinned.raw, image.manifest.raw);
        assert_eq!(&pinned.digest, image.digest());

        for reference in [tag("v1"), by_digest(image.digest())] {
            let info = block_on(repo.head_manifest(&reference))
                .unwrap()
                .expect("the manifest exists");
            assert_eq!(&info.digest, image.digest());
            assert_eq!(info.size, image.manifest.raw.len() as u64);
            assert_eq!(info.media_type.as_str(), MediaType::OCI_MANIFEST);
        }
        assert_eq!(block_on(repo.head_manifest(&tag("nope"))).unwrap(), None);

        // The blobs the manifest points at come back verified.
        let parsed = image.manifest.as_image().unwrap();
        assert_eq!(
            block_on(repo.get_blob(&parsed.config.digest)).unwrap(),
            image.config
        );
        for (desc, bytes) in parsed.layers.iter().zip(&image.layers) {
            assert_eq!(&block_on(repo.get_blob(&desc.digest)).unwrap(), bytes);
        }
    });
}

#[test]
fn index_of_two_platforms() {
    each_mode(|env| {
        let repo = env.repo("manifests/index");
        let amd = push_image(&repo, "amd64", 61);
        let arm = push_image(&repo, "arm64", 62);
        let index = push_index(
            &repo,
            "multi",
            &[(&amd.manifest, "amd64"), (&arm.manifest, "arm64")],
        );

        let got = block_on(repo.get_manifest(&tag("multi"))).unwrap();
        assert_eq!(got.raw, index.raw);
        assert_eq!(got.digest, index.digest);
        assert_eq!(got.media_type.as_str(), MediaType::OCI_INDEX);
        let parsed = got.as_index().expect("an index");
        let platforms: Vec<String> = parsed
            .manifests
            .iter()
            .map(|d| d.platform.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
        assert_eq!(&parsed.manifests[1].digest, arm.digest());

        // Each platform's manifest resolves by the digest the index lists.
        for d in &parsed.manifests {
            let child = block_on(repo.get_manifest(&by_digest(&d.digest))).unwrap();
            assert_eq!(child.raw.len() as u64, d.size);
        }
        let info = block_on(repo.head_manifest(&tag("multi")))
            .unwrap()
            .unwrap();
        assert_eq!(info.digest, index.digest);
        assert_eq!(info.media_type.as_str(), MediaType::OCI_INDEX);
    });
}

#[test]
fn docker_v2_manifest() {
    each_mode(|env| {
        let repo = env.repo("manifests/docker");
        let layer = random_bytes(2048, 71);
        let config = oci_config("amd64", &[Digest::sha256_of(&layer)]);
        let config = push_blob(&repo, MediaType::DOCKER_CONFIG, &config);
        let layer = push_blob(
            &repo,
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            &layer,
        );
        let mut docker = ImageManifest::new(config, vec![layer]);
        docker.media_type = Some(MediaType::new(MediaType::DOCKER_MANIFEST));
        let manifest = Manifest::from_image(&docker).unwrap();
        assert_eq!(manifest.media_type.as_str(), MediaType::DOCKER_MANIFEST);
        block_on(repo.put_manifest(&tag("docker"), &manifest)).unwrap();

        let got = block_on(repo.get_manifest(&tag("docker"))).unwrap();
        assert_eq!(got.raw, manifest.raw);
        assert_eq!(got.digest, manifest.digest);
        assert_eq!(got.media_type.as_str(), MediaType::DOCKER_MANIFEST);
        assert!(got.as_image().is_some());
        let info = block_on(repo.head_manifest(&tag("docker")))
            .unwrap()
            .unwrap();
        assert_eq!(info.media_type.as_str(), MediaType::DOCKER_MANIFEST);
    });
}

#[test]
fn delete_manifest_by_digest_then_get_is_manifest_unknown() {
    each_mode(|env| {
        let repo = env.repo("manifests/delete");
        let image = push_image(&repo, "doomed", 81);
        block_on(repo.delete_manifest(&by_digest(image.digest()))).unwrap();

        for reference in [by_digest(image.digest()), tag("doomed")] {
            let err = block_on(repo.get_manifest(&reference)).unwrap_err();
            assert_eq!(err.status(), Some(404), "{err}");
            assert_eq!(err.code(), "MANIFEST_UNKNOWN", "{err}");
            assert_eq!(block_on(repo.head_manifest(&reference)).unwrap(), None);
        }
        // Deleting it again is an error, not a silent success.
        let err = block_on(repo.delete_manifest(&by_digest(image.digest()))).unwrap_err();
        assert_eq!(err.status(), Some(404), "{err}");
    });
}

#[test]
fn get_of_a_missing_manifest_is_manifest_unknown() {
    each_mode(|env| {
        let repo = env.repo("manifests/missing");
        push_image(&repo, "present", 91);
        let err = block_on(repo.get_manifest(&tag("absent"))).unwrap_err();
        assert_eq!(err.code(), "MANIFEST_UNKNOWN", "{err}");
        assert!(err.is_not_found());
        assert!(
            err.to_string().contains("manifests/missing:absent"),
            "the error names what was asked: {err}"
        );
        let missing = Digest::sha256_of(b"no such manifest");
        let err = block_on(repo.get_manifest(&by_digest(&missing))).unwrap_err();
        assert_eq!(err.code(), "MANIFEST_UNKNOWN", "{err}");
    });
}

// ---------------------------------------------------------------------------------------------
// Referrers (distribution 2.8 has no referrers API: the tag-schema fallback)

const SBOM: &str = "application/vnd.example.sbom";
const SIGNATURE: &str = "application/vnd.example.signature";

/// A referrers API whose `Link`s never end, as a buggy or hostile registry's might: page 1 is
/// empty (which may be legitimate: it is followed), page 2 lists A and B, and every page after
/// lists B and C and links to a new URL, or (`self_link`) back to itself. The listing ends, and
/// holds each referrer once.
#[test]
fn referrer_pages_that_link_on_forever_end() {
    for self_link in [false, true] {
        let descriptor = |n: u8| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": Digest::sha256_of(&[n]).as_str(),
                "size": 100 + u64::from(n),
                "artifactType": SBOM,
            })
        };
        let server = porthole_testkit::HttpServer::start(move |req| {
            let page: u32 = req
                .query()
                .iter()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1);
            let manifests = match page {
                1 => Vec::new(),
                2 => vec![descriptor(1), descriptor(2)],
                _ => vec![descriptor(2), descriptor(3)],
            };
            let next = if self_link && page > 2 {
                page
            } else {
                page + 1
            };
            porthole_testkit::ServerResponse::json(
                200,
                &serde_json::json!({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": manifests,
                }),
            )
            .header("Content-Type", "application/vnd.oci.image.index.v1+json")
            .header(
                "Link",
                format!("<{}?page={next}>; rel=\"next\"", req.path()),
            )
        })
        .unwrap();
        let client = client_at(&server.url(), Credential::Anonymous);
        let subject = Digest::sha256_of(b"subject");
        let found = block_on(
            client
                .repository(repo_name("app"))
                .referrers(&subject, None),
        )
        .unwrap();
        let sizes: Vec<u64> = found.iter().map(|d| d.size).collect();
        assert_eq!(sizes, [101, 102, 103], "self_link {self_link}");
        assert!(server.requests().len() <= 5, "{}", server.requests().len());
    }
}

/// Pushes an artifact of `artifact_type` whose subject is `subject`, by digest.
fn push_artifact(
    repo: &porthole_core::Repository<NativeTransport>,
    subject: &Manifest,
    artifact_type: &str,
    content: &[u8],
) -> Manifest {
    let empty = push_blob(repo, MediaType::OCI_EMPTY, b"{}");
    assert_eq!(empty.digest, Descriptor::empty_config().digest);
    let layer = push_blob(repo, "text/plain", content);
    let mut artifact = ImageManifest::new(Descriptor::empty_config(), vec![layer]);
    artifact.artifact_type = Some(MediaType::new(artifact_type));
    artifact.subject = Some(subject.descriptor());
    artifact
        .annotations
        .insert("org.example.note".into(), "made by the test".into());
    let manifest = Manifest::from_image(&artifact).unwrap();
    block_on(repo.put_manifest(&by_digest(&manifest.digest), &manifest)).unwrap();
    manifest
}

#[test]
fn referrers_come_from_the_fallback_tag() {
    each_mode(|env| {
        let repo = env.repo("referrers/app");
        let image = push_image(&repo, "v1", 101);
        let lonely = push_image(&repo, "v2", 102);

        let sbom = push_artifact(&repo, &image.manifest, SBOM, b"sbom contents");
        let signature = push_artifact(&repo, &image.manifest, SIGNATURE, b"signature");

        // The fallback tag holds an index of both.
        let fallback = tag(&image.digest().referrers_fallback_tag());
        assert!(fallback.as_str().starts_with("sha256-"));
        let index = block_on(repo.get_manifest(&fallback)).unwrap();
        assert_eq!(index.as_index().unwrap().manifests.len(), 2);

        let all = block_on(repo.referrers(image.digest(), None)).unwrap();
        let digests: Vec<&Digest> = all.iter().map(|d| &d.digest).collect();
        assert_eq!(digests, [&sbom.digest, &signature.digest]);
        assert_eq!(all[0].artifact_type.as_ref().unwrap().as_str(), SBOM);
        assert_eq!(all[0].media_type.as_str(), MediaType::OCI_MANIFEST);
        assert_eq!(all[0].size, sbom.raw.len() as u64);
        assert_eq!(
            all[0]
                .annotations
                .get("org.example.note")
                .map(String::as_str),
            Some("made by the test")
        );

        let sboms = block_on(repo.referrers(image.digest(), Some(SBOM))).unwrap();
        assert_eq!(sboms.len(), 1);
        assert_eq!(sboms[0].digest, sbom.digest);
        let none = block_on(repo.referrers(image.digest(), Some("application/vnd.other")));
        assert_eq!(none.unwrap(), Vec::new());

        // The artifact itself round-trips, subject included.
        let got = block_on(repo.get_manifest(&by_digest(&sbom.digest))).unwrap();
        assert_eq!(got.subject().unwrap().digest, *image.digest());

        assert_eq!(
            block_on(repo.referrers(lonely.digest(), None)).unwrap(),
            Vec::new()
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Authentication errors

#[test]
fn pull_only_user_is_refused_on_push_with_a_clear_error() {
    let env = Env::start(AuthMode::Token);
    let alices = env.repo("auth/app");
    let image = push_image(&alices, "v1", 111);

    let reader = client_for(&env.registry, Credential::basic(READER, READER_PASSWORD));
    let repo = reader.repository(repo_name("auth/app"));
    // Reading works: the refusal below is about the right to push, not about logging in.
    let pulled = block_on(repo.get_manifest(&tag("v1"))).unwrap();
    assert_eq!(pulled.raw, image.manifest.raw);

    let err =
        block_on(repo.upload_blob(&b"not allowed"[..], monolithic(), &mut |_| {})).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    let text = err.to_string();
    assert!(text.contains("do not grant this access"), "{text}");
    assert!(
        text.contains("it needs pull, push on auth/app"),
        "the error names the missing right on the repository: {text}"
    );
    assert_eq!(env.uploads_left("auth/app"), Vec::<String>::new());

    let err = block_on(repo.put_manifest(&tag("v2"), &image.manifest)).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    assert!(
        err.to_string().contains("do not grant this access"),
        "{err}"
    );
    let err = block_on(repo.delete_manifest(&by_digest(image.digest()))).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");

    let err = block_on(reader.list_repositories()).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    // The registry's 401 stays readable, for callers that branch on the status.
    assert_eq!(err.status(), Some(401), "{err}");
    let text = err.to_string();
    assert!(text.contains("registry:catalog:*"), "{text}");
    assert!(
        !text.contains("push"),
        "a catalog refusal is not about pushing: {text}"
    );
    // Nothing changed.
    assert_eq!(block_on(alices.list_tags()).unwrap(), ["v1"]);
}

#[test]
fn wrong_password_on_the_basic_registry_mentions_the_credentials() {
    let registry = Registry::start(AuthMode::Basic).unwrap();
    let client = client_for(&registry, Credential::basic(ALICE, "wrong-password"));
    let err = block_on(client.ping()).unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(err.code(), "UNAUTHORIZED", "{err}");
    assert!(err.to_string().contains("credentials"), "{err}");
    assert!(!err.to_string().contains("wrong-password"), "{err}");

    let err = block_on(client.repository(repo_name("app")).list_tags()).unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
}

#[test]
fn wrong_password_on_the_token_registry_mentions_the_credentials() {
    let registry = Registry::start(AuthMode::Token).unwrap();
    let client = client_for(&registry, Credential::basic(ALICE, "wrong-password"));
    let repo = client.repository(repo_name("app"));
    let err = block_on(repo.list_tags()).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    let text = err.to_string();
    assert!(text.contains("refused the credentials"), "{text}");
    assert!(text.contains("username and password"), "{text}");
    assert!(!text.contains("wrong-password"), "{text}");
}

#[test]
fn anonymous_client_on_the_basic_registry_gets_401() {
    let registry = Registry::start(AuthMode::Basic).unwrap();
    let client = client_for(&registry, Credential::Anonymous);
    let err = block_on(client.ping()).unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(err.to_string().contains("401 Unauthorized"), "{err}");
    let err = block_on(client.repository(repo_name("app")).get_manifest(&tag("v1"))).unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
}

/// Hands the client upload `Location`s on another origin (the same server under `127.0.0.1`
/// where the client uses `localhost`), as a registry that puts uploads on another server does,
/// and records which hosts got an `Authorization` header.
struct ForeignLocations {
    inner: NativeTransport,
    authorized_hosts: RefCell<Vec<String>>,
}

impl Transport for ForeignLocations {
    type NativeBody = Vec<u8>;
    type Stream = NativeBodyStream;

    async fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<NativeBodyStream>, TransportError> {
        if request.headers.get("authorization").is_some() {
            let host = request.url.authority().to_owned();
            self.authorized_hosts.borrow_mut().push(host);
        }
        let mut response = self.inner.send(request).await?;
        if let Some(location) = response.headers.get("location") {
            let foreign = location.replace("://localhost:", "://127.0.0.1:");
            response.headers.set("location", foreign);
        }
        Ok(response)
    }

    fn now_millis(&self) -> u64 {
        self.inner.now_millis()
    }

    async fn sleep(&self, millis: u64) {
        self.inner.sleep(millis).await;
    }
}

#[test]
fn credentials_are_never_sent_to_an_upload_location_on_another_origin() {
    let registry = Registry::start(AuthMode::Basic).unwrap();
    let base_at = base_url(&registry);
    let port = base_at.authority().rsplit_once(':').unwrap().1.to_owned();
    let transport = ForeignLocations {
        inner: NativeTransport::new(),
        authorized_hosts: RefCell::new(Vec::new()),
    };
    let base = Url::parse(&format!("http://localhost:{port}")).unwrap();
    let client = RegistryClient::new(transport, base, alice_or_anonymous(AuthMode::Basic));
    let repo = client.repository(repo_name("elsewhere/app"));
    let err =
        block_on(repo.upload_blob(&b"kept at home"[..], monolithic(), &mut |_| {})).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    let text = err.to_string();
    assert!(text.contains("another server, http://127.0.0.1:"), "{text}");
    assert!(
        text.contains(&format!("to http://localhost:{port} only")),
        "{text}"
    );
    let hosts = client.transport().authorized_hosts.borrow().clone();
    assert!(
        !hosts.is_empty(),
        "the registry's own requests carry the credentials"
    );
    assert!(
        hosts.iter().all(|h| h.starts_with("localhost:")),
        "credentials went to another origin: {hosts:?}"
    );
}

/// A registry as a page on another origin sees it when `Link` is not exposed (`headers_filtered`,
/// no `Link`), which answers at most `cap` items a page whatever `n` asks, as distribution 3
/// does for tags. Records the `last=` of every listing request.
struct CappedHiddenLink {
    inner: NativeTransport,
    cap: u32,
    lasts: RefCell<Vec<Option<String>>>,
}

impl Transport for CappedHiddenLink {
    type NativeBody = Vec<u8>;
    type Stream = NativeBodyStream;

    async fn send(
        &self,
        mut request: Request<Vec<u8>>,
    ) -> Result<Response<NativeBodyStream>, TransportError> {
        self.lasts
            .borrow_mut()
            .push(request.url.query_param("last"));
        let asked: Option<u32> = request.url.query_param("n").and_then(|n| n.parse().ok());
        if asked.is_some_and(|n| n > self.cap) {
            let (path, query) = request.url.as_str().split_once('?').unwrap();
            let capped: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("n", _)) => format!("n={}", self.cap),
                    _ => pair.to_string(),
                })
                .collect();
            request.url = Url::parse(&format!("{path}?{}", capped.join("&"))).unwrap();
        }
        let mut response = self.inner.send(request).await?;
        response.headers.remove("link");
        response.headers_filtered = true;
        Ok(response)
    }

    fn now_millis(&self) -> u64 {
        self.inner.now_millis()
    }

    async fn sleep(&self, millis: u64) {
        self.inner.sleep(millis).await;
    }
}

#[test]
fn listings_without_link_go_on_past_short_pages_and_list_nothing_twice() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let direct = client_for(&registry, Credential::Anonymous);
    // Distribution's catalog sorts `/` before every other character: `a/x` comes before `a-b`.
    let names: Vec<String> = [
        "capped/a-b",
        "capped/a/x",
        "capped/b",
        "capped/c",
        "capped/d",
    ]
    .map(String::from)
    .to_vec();
    for (i, name) in names.iter().enumerate() {
        push_image(&direct.repository(repo_name(name)), "v1", 300 + i as u64);
    }
    let tagged = direct.repository(repo_name(&names[0]));
    let image = block_on(tagged.get_manifest(&tag("v1"))).unwrap();
    let tags: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
    for t in &tags {
        block_on(tagged.put_manifest(&tag(t), &image)).unwrap();
    }
    let transport = CappedHiddenLink {
        inner: NativeTransport::new(),
        cap: 1,
        lasts: RefCell::new(Vec::new()),
    };
    let client = RegistryClient::new(transport, base_url(&registry), Credential::Anonymous);

    // The catalog answers 1 of the 10,000 asked: each short page is followed by `last=`, until
    // a page comes back empty; in the registry's order, whatever a byte order would say.
    let listed = block_on(client.list_repositories()).unwrap();
    let in_registry_order = block_on(direct.list_repositories()).unwrap();
    assert_eq!(in_registry_order.len(), names.len());
    assert_eq!(listed, in_registry_order);
    let lasts = client.transport().lasts.take();
    assert_eq!(lasts.iter().flatten().count(), names.len(), "{lasts:?}");

    // Distribution 2.8 ignores `n` and `last` on tags (and lists them unsorted): the request
    // after `last=` answers every tag again, none of them new, and the listing ends there.
    let mut listed = block_on(client.repository(repo_name(&names[0])).list_tags()).unwrap();
    listed.sort();
    let mut expected = tags.clone();
    expected.push("v1".into());
    assert_eq!(listed, expected);
    let lasts = client.transport().lasts.take();
    assert_eq!(lasts.iter().flatten().count(), 1, "{lasts:?}");
}

/// With the OAuth2 password grant, the token server's answers carry a refresh token, which the
/// client uses for later scopes. Once the server refuses it (expired, revoked), the client asks
/// with the password again instead of failing every new scope.
#[test]
fn a_refused_refresh_token_falls_back_to_the_password() {
    let registry = Registry::start(AuthMode::Token).unwrap();
    let options = ClientOptions {
        oauth2_password_grant: true,
        ..ClientOptions::default()
    };
    let client = RegistryClient::with_options(
        NativeTransport::new(),
        base_url(&registry),
        Credential::basic(ALICE, ALICE_PASSWORD),
        options,
    );
    let first = client.repository(repo_name("refresh/one"));
    push_blob(&first, "application/octet-stream", b"first scope");
    let server = registry.token_server().unwrap();
    server.revoke_refresh_tokens();
    let seen = server.requests().len();

    let second = client.repository(repo_name("refresh/two"));
    let blob = push_blob(&second, "application/octet-stream", b"second scope");
    assert_eq!(
        block_on(second.get_blob(&blob.digest)).unwrap(),
        b"second scope"
    );
    let grants: Vec<String> = server.requests()[seen..]
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(
        grants[0].contains("grant_type=refresh_token"),
        "{grants:#?}"
    );
    assert!(grants[1].contains("grant_type=password"), "{grants:#?}");
}

#[test]
fn anonymous_client_on_the_token_registry_is_refused() {
    // The kit's token server grants anonymous users nothing by default.
    let registry = Registry::start(AuthMode::Token).unwrap();
    let client = client_for(&registry, Credential::Anonymous);
    let repo = client.repository(repo_name("app"));
    let err = block_on(repo.upload_blob(&b"x"[..], monolithic(), &mut |_| {})).unwrap_err();
    assert_eq!(err.code(), "AUTH_FAILED", "{err}");
    assert!(err.to_string().contains("insufficient_scope"), "{err}");
    assert!(err.to_string().contains("anonymous access"), "{err}");
    assert_eq!(
        block_on(repo.get_manifest(&tag("v1"))).unwrap_err().code(),
        "AUTH_FAILED"
    );
}

#[test]
fn bad_names_are_refused_before_any_request() {
    for bad in [
        "",
        "UPPER/case",
        "a//b",
        "-lead",
        "trail-",
        "a/../b",
        "ns/app:tag",
    ] {
        let err = porthole_core::RepositoryName::parse(bad).unwrap_err();
        assert_eq!(err.code(), "INVALID_INPUT", "{bad:?}: {err}");
        assert!(matches!(err, Error::InvalidInput { .. }), "{bad:?}: {err}");
    }
    let long = "a".repeat(300);
    assert!(porthole_core::RepositoryName::parse(&long).is_err());
    for bad in ["", ".hidden", "has space", &"t".repeat(129)] {
        assert_eq!(
            Tag::parse(bad).unwrap_err().code(),
            "INVALID_INPUT",
            "{bad:?}"
        );
    }
    for bad in ["sha256:abc", "sha256:", "md5", "sha256:ZZZZ"] {
        assert_eq!(
            Digest::parse(bad).unwrap_err().code(),
            "INVALID_INPUT",
            "{bad:?}"
        );
    }
    assert!(Reference::parse("127.0.0.1:5000/Bad/Name:v1").is_err());
    assert!(TagOrDigest::parse("sha256:short").is_err());

    // A client and a registry that is not even running: nothing is sent for bad input, so the
    // refusal is the same whether or not there is a registry.
    let counting = Recording::new(Fault::None);
    let client = RegistryClient::new(
        counting,
        Url::parse("http://127.0.0.1:9").unwrap(),
        Credential::Anonymous,
    );
    assert!(porthole_core::RepositoryName::parse("Bad").is_err());
    let _repo = client.repository(repo_name("good/name"));
    assert!(client.transport().log().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Uploads that fail half-way: a fault injected around the real registry

/// What [`Recording`] does to one `PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing: every request goes through.
    None,
    /// Fails the n-th PATCH (1-based) without sending it: a connection that broke first.
    DropBeforeSending(usize),
    /// Sends the n-th PATCH, lets the registry store it, then reports a network error instead
    /// of its answer: the answer was lost on the way back.
    LoseAnswer(usize),
    /// Deletes the session's folder from the registry's storage before the n-th PATCH, as
    /// distribution's purge of old uploads does; the registry then answers that PATCH 404
    /// `BLOB_UPLOAD_UNKNOWN`. Needs [`Recording::purging_in`].
    PurgeSession(usize),
    /// Fails the n-th PATCH without sending it, and drops `Range` from every session status
    /// answer, as a cross-origin page sees a registry that does not expose it.
    DropHidingRange(usize),
    /// Sends the first DELETE, lets the registry carry it out, then reports a network error
    /// instead of its answer.
    LoseDeleteAnswer,
}

/// The native transport with a log of requests and one injected fault. `sleep` only records:
/// the retry back-off is not what these tests are about.
#[derive(Debug)]
struct Recording {
    inner: NativeTransport,
    fault: Fault,
    patches: Cell<usize>,
    log: RefCell<Vec<String>>,
    sleeps: RefCell<Vec<u64>>,
    /// The registry's folder of the repository's upload sessions (for `PurgeSession`).
    uploads_dir: Option<PathBuf>,
}

impl Recording {
    fn new(fault: Fault) -> Self {
        Self {
            inner: NativeTransport::new(),
            fault,
            patches: Cell::new(0),
            log: RefCell::new(Vec::new()),
            sleeps: RefCell::new(Vec::new()),
            uploads_dir: None,
        }
    }

    /// Where `PurgeSession` finds the sessions to delete ([`Env::uploads_dir`]).
    fn purging_in(mut self, uploads_dir: PathBuf) -> Self {
        self.uploads_dir = Some(uploads_dir);
        self
    }

    /// `METHOD /path` of each request sent (or dropped), in order.
    fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }
}

fn broken(message: &str) -> TransportError {
    TransportError::new(TransportErrorKind::Network, message)
}

impl Transport for Recording {
    type NativeBody = Vec<u8>;
    type Stream = NativeBodyStream;

    async fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<NativeBodyStream>, TransportError> {
        let mut line = format!("{} {}", request.method, request.url.path());
        if request.method == Method::Patch {
            self.patches.set(self.patches.get() + 1);
            let n = self.patches.get();
            match self.fault {
                Fault::DropBeforeSending(k) | Fault::DropHidingRange(k) if k == n => {
                    line.push_str(" (dropped)");
                    self.log.borrow_mut().push(line);
                    return Err(broken("connection reset before the request was sent"));
                }
                Fault::LoseAnswer(k) if k == n => {
                    line.push_str(" (answer lost)");
                    self.log.borrow_mut().push(line);
                    let mut response = self.inner.send(request).await?;
                    assert_eq!(response.status, 202, "the registry took the chunk");
                    response.body.read_to_end()?;
                    return Err(broken("connection reset while reading the answer"));
                }
                Fault::PurgeSession(k) if k == n => {
                    let dir = self
                        .uploads_dir
                        .as_ref()
                        .expect("purging_in was not called");
                    let session = request.url.path().rsplit('/').next().unwrap_or_default();
                    fs::remove_dir_all(dir.join(session)).expect("the session's folder");
                    line.push_str(" (session purged)");
                }
                _ => {}
            }
        }
        if let (Fault::LoseDeleteAnswer, Method::Delete) = (&self.fault, request.method) {
            if !self.log.borrow().iter().any(|l| l.starts_with("DELETE ")) {
                let mut response = self.inner.send(request).await?;
                line.push_str(&format!(" -> {} (answer lost)", response.status));
                self.log.borrow_mut().push(line);
                response.body.read_to_end()?;
                return Err(broken("connection reset while reading the answer"));
            }
        }
        let is_status = request.method == Method::Get && request.url.path().contains("/uploads/");
        let mut answer = self.inner.send(request).await;
        if let (Fault::DropHidingRange(_), true, Ok(response)) =
            (&self.fault, is_status, &mut answer)
        {
            response.headers.remove("range");
            line.push_str(" (Range hidden)");
        }
        match &answer {
            Ok(response) => line.push_str(&format!(" -> {}", response.status)),
            Err(e) => line.push_str(&format!(" -> {e}")),
        }
        self.log.borrow_mut().push(line);
        answer
    }

    fn now_millis(&self) -> u64 {
        self.inner.now_millis()
    }

    async fn sleep(&self, millis: u64) {
        self.sleeps.borrow_mut().push(millis);
    }
}

/// Uploads 4 MiB in 1 MiB chunks through a transport that breaks the 2nd PATCH as `fault` says,
/// and checks that the upload carried on from what the session holds and stored the right bytes.
fn resumes_after(env: &Env, fault: Fault) {
    let name = "resume/app";
    let client = RegistryClient::new(
        Recording::new(fault),
        base_url(&env.registry),
        alice_or_anonymous(env.mode()),
    );
    let repo = client.repository(repo_name(name));
    let data = random_bytes(4 * MIB, 121);
    let options = UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    let mut progress: Vec<u64> = Vec::new();
    let digest =
        block_on(repo.upload_blob(&data[..], options, &mut |p| progress.push(p.confirmed)))
            .unwrap_or_else(|e| {
                panic!("{fault:?}: {e}\nrequests: {:#?}", client.transport().log())
            });
    assert_eq!(digest, Digest::sha256_of(&data));

    let log = client.transport().log();
    let uploads: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("/blobs/uploads/"))
        .collect();
    let faulted = uploads
        .iter()
        .position(|l| l.contains("(dropped)") || l.contains("(answer lost)"))
        .unwrap_or_else(|| panic!("the fault was never injected: {uploads:#?}"));
    assert!(
        uploads[faulted + 1].starts_with("GET "),
        "after the failed chunk the client asks the session's status: {uploads:#?}"
    );
    let count = |method: &str| uploads.iter().filter(|l| l.starts_with(method)).count();
    let opened = uploads
        .iter()
        .filter(|l| l.starts_with("POST ") && l.ends_with("-> 202"))
        .count();
    match fault {
        Fault::DropBeforeSending(_) => {
            // The session holds the first chunk: only the dropped one is sent again.
            assert!(uploads[faulted + 1].ends_with("-> 204"), "{uploads:#?}");
            assert_eq!((opened, count("PATCH ")), (1, 5), "{uploads:#?}");
            assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
        }
        _ => {
            // distribution cancels a session asked about with a stale Location (404
            // BLOB_UPLOAD_INVALID): the client opens a new one and sends every chunk again.
            assert!(uploads[faulted + 1].ends_with("-> 404"), "{uploads:#?}");
            assert!(uploads[faulted + 2].starts_with("POST "), "{uploads:#?}");
            assert_eq!((opened, count("PATCH ")), (2, 6), "{uploads:#?}");
        }
    }
    assert!(
        !client.transport().sleeps.borrow().is_empty(),
        "no back-off"
    );
    assert_eq!(progress.last(), Some(&(data.len() as u64)));

    // The registry stored exactly our bytes (verified download through a clean client).
    assert_eq!(block_on(env.repo(name).get_blob(&digest)).unwrap(), data);
    let left = env.uploads_left(name);
    match fault {
        Fault::LoseAnswer(_) => {
            // The abandoned session stays: distribution refuses its stale URL even to cancel it,
            // and only its upload purging (a week by default) removes it.
            let session = uploads[faulted]
                .split('/')
                .next_back()
                .and_then(|tail| tail.split(' ').next())
                .unwrap();
            assert_eq!(left, [session], "{uploads:#?}");
        }
        _ => assert_eq!(left, Vec::<String>::new()),
    }
}

#[test]
fn upload_resumes_after_a_chunk_that_never_left() {
    each_mode(|env| resumes_after(env, Fault::DropBeforeSending(2)));
}

#[test]
fn upload_resumes_after_a_chunk_whose_answer_was_lost() {
    each_mode(|env| resumes_after(env, Fault::LoseAnswer(2)));
}

/// A session the registry dropped mid-upload (purged, or cancelled elsewhere) is answered 404
/// `BLOB_UPLOAD_UNKNOWN` on the next PATCH: an upload from bytes it can read again opens a new
/// session and starts over, and lands whole.
#[test]
fn an_upload_whose_session_the_registry_dropped_starts_over() {
    each_mode(|env| {
        let name = "resume/purged";
        let client = RegistryClient::new(
            Recording::new(Fault::PurgeSession(3)).purging_in(env.uploads_dir(name)),
            base_url(&env.registry),
            alice_or_anonymous(env.mode()),
        );
        let repo = client.repository(repo_name(name));
        let data = random_bytes(4 * MIB, 123);
        let mut interruptions = 0;
        let digest = block_on(repo.upload_blob(&data[..], chunks_of(MIB), &mut |p| {
            interruptions = p.interruptions
        }))
        .unwrap_or_else(|e| panic!("{e}\nrequests: {:#?}", client.transport().log()));
        assert_eq!(block_on(env.repo(name).get_blob(&digest)).unwrap(), data);
        let log = client.transport().log();
        let purged = log
            .iter()
            .position(|l| l.contains("(session purged)"))
            .unwrap_or_else(|| panic!("the fault was never injected: {log:#?}"));
        assert!(log[purged].ends_with("-> 404"), "{log:#?}");
        assert!(log[purged + 1].starts_with("POST "), "{log:#?}");
        let patches = log.iter().filter(|l| l.starts_with("PATCH ")).count();
        assert_eq!(
            patches,
            2 + 1 + 4,
            "every chunk again in the new session: {log:#?}"
        );
        assert_eq!(interruptions, 1);
        assert!(env.uploads_left(name).is_empty());
    });
}

/// A DELETE whose answer was lost is sent again, and the registry answers 404: the first one
/// did the work, and the delete counts as done rather than "nothing with that reference".
#[test]
fn a_delete_whose_answer_was_lost_is_done_when_the_retry_finds_nothing() {
    let env = Env::start(AuthMode::Anonymous);
    let name = "delete/lost-answer";
    let image = push_image(&env.repo(name), "v1", 127);
    let client = RegistryClient::new(
        Recording::new(Fault::LoseDeleteAnswer),
        base_url(&env.registry),
        Credential::Anonymous,
    );
    let repo = client.repository(repo_name(name));
    block_on(repo.delete_manifest(&by_digest(image.digest())))
        .unwrap_or_else(|e| panic!("{e}\nrequests: {:#?}", client.transport().log()));
    let log = client.transport().log();
    let deletes: Vec<&String> = log.iter().filter(|l| l.starts_with("DELETE ")).collect();
    assert_eq!(deletes.len(), 2, "{log:#?}");
    assert!(deletes[0].contains("-> 202 (answer lost)"), "{log:#?}");
    assert!(deletes[1].ends_with("-> 404"), "{log:#?}");
    assert!(block_on(env.repo(name).get_manifest(&tag("v1")))
        .unwrap_err()
        .is_not_found());
}

/// A session status without `Range` (hidden by CORS) says nothing of what the session holds:
/// not "0 bytes". An upload from bytes it can read again cancels that session and starts over;
/// one from a stream fails and says which header is missing.
#[test]
fn a_session_status_without_range_starts_over_or_says_why_not() {
    let env = Env::start(AuthMode::Anonymous);
    let name = "resume/no-range";
    let client = RegistryClient::new(
        Recording::new(Fault::DropHidingRange(3)),
        base_url(&env.registry),
        Credential::Anonymous,
    );
    let repo = client.repository(repo_name(name));
    let data = random_bytes(4 * MIB, 125);
    let digest = block_on(repo.upload_blob(&data[..], chunks_of(MIB), &mut |_| {}))
        .unwrap_or_else(|e| panic!("{e}\nrequests: {:#?}", client.transport().log()));
    assert_eq!(block_on(env.repo(name).get_blob(&digest)).unwrap(), data);
    let log = client.transport().log();
    let hidden = log
        .iter()
        .position(|l| l.contains("(Range hidden)"))
        .unwrap_or_else(|| panic!("the fault was never injected: {log:#?}"));
    assert!(
        log[hidden + 1].starts_with("DELETE "),
        "the old session is cancelled: {log:#?}"
    );
    assert!(
        log[hidden + 2].starts_with("POST "),
        "a new session: {log:#?}"
    );
    assert!(env.uploads_left(name).is_empty(), "{log:#?}");

    let name = "stream/no-range";
    let (_, result, log) = stream_upload_through(&env, name, Fault::DropHidingRange(3));
    let err = result.expect_err("a stream cannot start over");
    let text = err.to_string();
    assert!(text.contains("no Range header"), "{text}\n{log:#?}");
    assert!(text.contains("Access-Control-Expose-Headers"), "{text}");
    assert!(env.uploads_left(name).is_empty(), "{log:#?}");
}

/// A session lost before it took a byte is not started over: a registry whose replicas do not
/// share upload state answers every new session so, and each restart would send the first
/// chunk again for nothing.
#[test]
fn an_upload_whose_session_is_unknown_from_the_first_chunk_fails_at_once() {
    let env = Env::start(AuthMode::Anonymous);
    let name = "resume/unknown";
    let client = RegistryClient::new(
        Recording::new(Fault::PurgeSession(1)).purging_in(env.uploads_dir(name)),
        base_url(&env.registry),
        Credential::Anonymous,
    );
    let repo = client.repository(repo_name(name));
    let err =
        block_on(repo.upload_blob(&random_bytes(2 * MIB, 124)[..], chunks_of(MIB), &mut |_| {}))
            .expect_err("the session was unknown");
    assert_eq!(err.code(), "BLOB_UPLOAD_UNKNOWN", "{err}");
    let log = client.transport().log();
    let count = |method: &str| log.iter().filter(|l| l.starts_with(method)).count();
    assert_eq!((count("POST "), count("PATCH ")), (1, 1), "{log:#?}");
}

/// The error of a stream upload (1 MiB chunks) whose session the registry lost after the first
/// chunk: what happened, and to start over.
fn says_the_session_was_lost_after_the_first_chunk(err: &Error) {
    let text = err.to_string();
    assert!(
        text.contains("lost the upload session after 1048576 bytes"),
        "{text}"
    );
    assert!(text.contains("start the upload over"), "{text}");
}

#[test]
fn a_stream_whose_session_the_registry_dropped_fails_and_says_why() {
    each_mode(|env| {
        let name = "stream/purged";
        let (_, result, log) = stream_upload_through(env, name, Fault::PurgeSession(2));
        let err = result.expect_err("a stream cannot start over after its first chunk");
        says_the_session_was_lost_after_the_first_chunk(&err);
        assert!(
            log.iter()
                .any(|l| l.contains("(session purged)") && l.ends_with("-> 404")),
            "{log:#?}"
        );
        assert!(env.uploads_left(name).is_empty());
    });
}

/// Bytes in memory whose reads fail from `fail_from` on: a file that became unreadable.
struct FailingSource {
    data: Vec<u8>,
    fail_from: u64,
}

impl BlobSource<Vec<u8>> for FailingSource {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    async fn read(&self, start: u64, end: u64) -> Result<Vec<u8>, TransportError> {
        if end > self.fail_from {
            return Err(TransportError::new(
                TransportErrorKind::Body,
                "simulated read failure of the source file",
            ));
        }
        Ok(self.data[start as usize..end as usize].to_vec())
    }

    fn body(&self, start: u64, end: u64) -> Body<Vec<u8>> {
        Body::Bytes(self.data[start as usize..end as usize].to_vec())
    }
}

#[test]
fn a_source_that_fails_midway_cancels_the_session() {
    each_mode(|env| {
        let name = "cancel/app";
        let repo = env.repo(name);
        let source = FailingSource {
            data: random_bytes(5 * MIB, 131),
            fail_from: 2 * MIB as u64 + 1, // the third 1 MiB chunk
        };
        let options = UploadOptions {
            chunk_size: MIB as u64,
            ..UploadOptions::default()
        };
        let mut confirmed = Vec::new();
        let err =
            block_on(repo.upload_blob(&source, options, &mut |p| confirmed.push(p.confirmed)))
                .unwrap_err();
        assert!(
            err.to_string().contains("simulated read failure"),
            "the source's error reaches the caller: {err}"
        );
        // The whole source is hashed in its own pass beside the chunks, so the failing read may
        // come before or after some chunks went out; the upload must stop short of the end.
        assert!(
            confirmed.iter().all(|&c| c < 5 * MIB as u64),
            "the upload stopped before the end: {confirmed:?}"
        );
        assert_eq!(env.uploads_left(name), Vec::<String>::new());
        assert_eq!(
            block_on(repo.blob_exists(&Digest::sha256_of(&source.data))).unwrap(),
            None
        );
    });
}

/// Bytes in memory that offer the upload a digest of their own, as a browser `File` does with
/// WebCrypto: `offered` is what `digest_whole` answers; `reads` counts the slices read.
struct DigestingSource {
    data: Vec<u8>,
    offered: Option<Result<Digest, TransportError>>,
    reads: Cell<usize>,
}

impl DigestingSource {
    fn new(data: Vec<u8>, offered: Option<Result<Digest, TransportError>>) -> Self {
        Self {
            data,
            offered,
            reads: Cell::new(0),
        }
    }
}

impl BlobSource<Vec<u8>> for DigestingSource {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    async fn read(&self, start: u64, end: u64) -> Result<Vec<u8>, TransportError> {
        self.reads.set(self.reads.get() + 1);
        Ok(self.data[start as usize..end as usize].to_vec())
    }

    fn body(&self, start: u64, end: u64) -> Body<Vec<u8>> {
        Body::Bytes(self.data[start as usize..end as usize].to_vec())
    }

    async fn digest_whole(
        &self,
        algorithm: &porthole_core::DigestAlgorithm,
    ) -> Option<Result<Digest, TransportError>> {
        assert_eq!(algorithm, &porthole_core::DigestAlgorithm::Sha256);
        self.offered.clone()
    }
}

#[test]
fn a_source_that_offers_its_digest_is_not_read_to_hash() {
    each_mode(|env| {
        let name = "offered/app";
        let repo = env.repo(name);
        let monolithic = UploadOptions {
            monolithic_max: u64::MAX,
            ..UploadOptions::default()
        };
        for (seed, options) in [(151, chunks_of(MIB)), (152, monolithic)] {
            let data = random_bytes(3 * MIB + 5, seed);
            let expected = Digest::sha256_of(&data);
            let source = DigestingSource::new(data, Some(Ok(expected.clone())));
            let digest = block_on(repo.upload_blob(&source, options, &mut |_| {})).unwrap();
            assert_eq!(digest, expected);
            assert_eq!(
                source.reads.get(),
                0,
                "the offered digest replaced the hashing pass"
            );
            assert_eq!(block_on(repo.get_blob(&digest)).unwrap(), source.data);
        }
        // A source with nothing to offer is read and hashed as before.
        let source = DigestingSource::new(random_bytes(2 * MIB, 153), None);
        let digest = block_on(repo.upload_blob(&source, chunks_of(MIB), &mut |_| {})).unwrap();
        assert_eq!(digest, Digest::sha256_of(&source.data));
        assert!(source.reads.get() > 0);
    });
}

#[test]
fn a_sha512_upload_is_committed() {
    each_mode(|env| {
        let repo = env.repo("sha512/app");
        let data = random_bytes(MIB + 3, 161);
        let mut hasher =
            porthole_core::Hasher::for_algorithm(&porthole_core::DigestAlgorithm::Sha512).unwrap();
        hasher.update(&data);
        let sha512 = hasher.finish();
        let options = UploadOptions {
            expected_digest: Some(sha512.clone()),
            ..chunks_of(MIB)
        };
        // distribution checks the sha512 in the URL, then answers its own sha256 digest.
        let digest = block_on(repo.upload_blob(data.as_slice(), options, &mut |_| {})).unwrap();
        assert_eq!(digest, sha512);
        let stored = block_on(repo.blob_exists(&Digest::sha256_of(&data))).unwrap();
        assert_eq!(stored, Some(data.len() as u64));
        // And it keeps the sha512 as a name of the same blob.
        let by_sha512 = block_on(repo.blob_exists(&sha512)).unwrap();
        assert_eq!(by_sha512, Some(data.len() as u64));
    });
}

#[test]
fn a_wrong_offered_digest_fails_the_upload_and_leaves_nothing() {
    each_mode(|env| {
        let name = "offered/wrong";
        let repo = env.repo(name);
        let data = random_bytes(2 * MIB, 155);
        let wrong = Digest::sha256_of(b"other bytes");
        let source = DigestingSource::new(data, Some(Ok(wrong.clone())));
        let err = block_on(repo.upload_blob(&source, chunks_of(MIB), &mut |_| {})).unwrap_err();
        // The registry checks the digest against the bytes it holds.
        assert_eq!(err.code(), "DIGEST_INVALID", "{err}");
        assert_eq!(env.uploads_left(name), Vec::<String>::new());
        assert_eq!(block_on(repo.blob_exists(&wrong)).unwrap(), None);

        // The caller's expected digest is checked before the registry is asked to commit.
        let data = random_bytes(MIB, 157);
        let expected = Digest::sha256_of(&data);
        let source = DigestingSource::new(data, Some(Ok(wrong.clone())));
        let options = UploadOptions {
            expected_digest: Some(expected),
            ..chunks_of(MIB)
        };
        let err = block_on(repo.upload_blob(&source, options, &mut |_| {})).unwrap_err();
        assert_eq!(err.code(), "DIGEST_MISMATCH", "{err}");
        assert_eq!(env.uploads_left(name), Vec::<String>::new());

        // A digest of another algorithm than the one asked for is refused with its reason.
        let mut sha512 =
            porthole_core::Hasher::for_algorithm(&porthole_core::DigestAlgorithm::Sha512).unwrap();
        sha512.update(&source.data);
        let source = DigestingSource::new(source.data.clone(), Some(Ok(sha512.finish())));
        let err = block_on(repo.upload_blob(&source, chunks_of(MIB), &mut |_| {})).unwrap_err();
        assert!(
            err.to_string().contains("sha512 digest where sha256"),
            "{err}"
        );
        assert_eq!(env.uploads_left(name), Vec::<String>::new());
    });
}

#[test]
fn a_source_whose_digest_fails_cancels_the_session() {
    each_mode(|env| {
        let name = "offered/failing";
        let repo = env.repo(name);
        let failure = TransportError::new(
            TransportErrorKind::Body,
            "simulated failure reading the file to hash it",
        );
        let source = DigestingSource::new(random_bytes(2 * MIB, 159), Some(Err(failure)));
        let err = block_on(repo.upload_blob(&source, chunks_of(MIB), &mut |_| {})).unwrap_err();
        assert!(
            err.to_string().contains("simulated failure reading"),
            "{err}"
        );
        assert_eq!(env.uploads_left(name), Vec::<String>::new());
    });
}

// ---------------------------------------------------------------------------------------------
// Uploads from a stream of unknown length

/// Bytes handed out `piece` at a time, as a JS `ReadableStream` or a pipe gives them; reads from
/// `fail_at` on fail.
struct Pieces {
    data: Vec<u8>,
    at: usize,
    piece: usize,
    fail_at: Option<usize>,
    /// How far it was read, for a progress callback to look at while the upload holds it.
    produced: std::rc::Rc<Cell<usize>>,
}

impl Pieces {
    fn new(data: &[u8], piece: usize) -> Self {
        Self {
            data: data.to_vec(),
            at: 0,
            piece,
            fail_at: None,
            produced: Default::default(),
        }
    }
}

impl ByteStream for Pieces {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        if self.fail_at.is_some_and(|f| self.at >= f) {
            return Err(TransportError::new(
                TransportErrorKind::Body,
                "simulated failure of the stream's producer",
            ));
        }
        let n = self.piece.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        self.produced.set(self.at);
        Ok(n)
    }
}

fn chunks_of(size: usize) -> UploadOptions {
    UploadOptions {
        chunk_size: size as u64,
        ..UploadOptions::default()
    }
}

#[test]
fn a_stream_uploads_chunk_by_chunk_with_growing_progress() {
    each_mode(|env| {
        let name = "stream/app";
        let repo = env.repo(name);
        // Pieces that straddle the chunk boundaries, and a short last chunk.
        let data = random_bytes(5 * MIB + 123, 141);
        let mut stream = Pieces::new(&data, 100_003);
        let produced = std::rc::Rc::clone(&stream.produced);
        let mut progress: Vec<UploadProgress> = Vec::new();
        let mut read_ahead: Vec<usize> = Vec::new();
        let digest = block_on(
            repo.upload_blob_stream(&mut stream, chunks_of(MIB), &mut |p| {
                progress.push(p);
                read_ahead.push(produced.get() - p.confirmed as usize);
            }),
        )
        .unwrap();
        assert_eq!(digest, Digest::sha256_of(&data));
        assert_eq!(block_on(repo.get_blob(&digest)).unwrap(), data);

        // The size is learnt as the stream is read, one chunk at a time, and the stream is
        // never read more than that chunk ahead of what the registry confirmed.
        let totals: Vec<u64> = progress.iter().map(|p| p.total).collect();
        assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
        assert!(totals.contains(&(MIB as u64)), "{totals:?}");
        assert!(read_ahead.iter().all(|&a| a <= MIB), "{read_ahead:?}");
        assert_eq!(
            read_ahead.iter().filter(|&&a| a == MIB).count(),
            5,
            "a report as each full chunk is read, before the registry has it: {read_ahead:?}"
        );
        let last = progress.last().unwrap();
        assert_eq!(
            (last.confirmed, last.total),
            (data.len() as u64, data.len() as u64)
        );
        assert!(env.uploads_left(name).is_empty());
    });
}

#[test]
fn a_stream_shorter_than_a_chunk_an_empty_one_and_one_of_exactly_a_chunk_upload() {
    each_mode(|env| {
        let repo = env.repo("stream/short");
        for data in [random_bytes(300_000, 142), Vec::new()] {
            let mut stream = Pieces::new(&data, 65_536);
            let digest =
                block_on(repo.upload_blob_stream(&mut stream, chunks_of(MIB), &mut |_| {}))
                    .unwrap();
            assert_eq!(digest, Digest::sha256_of(&data));
            assert_eq!(block_on(repo.get_blob(&digest)).unwrap(), data);
        }
        // A stream of exactly one chunk: the end is only seen after the first chunk went out.
        let data = random_bytes(MIB, 143);
        let mut stream = Pieces::new(&data, MIB);
        let digest =
            block_on(repo.upload_blob_stream(&mut stream, chunks_of(MIB), &mut |_| {})).unwrap();
        assert_eq!(block_on(repo.get_blob(&digest)).unwrap(), data);
        assert!(env.uploads_left("stream/short").is_empty());
    });
}

#[test]
fn a_stream_chunk_too_large_to_hold_is_refused_before_any_request() {
    let env = Env::start(AuthMode::Anonymous);
    let repo = env.repo("stream/huge");
    let options = chunks_of(porthole_core::upload::MAX_STREAM_CHUNK_SIZE as usize + 1);
    let mut stream = Pieces::new(b"tiny", 4);
    let err = block_on(repo.upload_blob_stream(&mut stream, options, &mut |_| {})).unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT", "{err}");
    assert!(err.to_string().contains("more than the 256 MiB"), "{err}");
    assert_eq!(stream.at, 0, "nothing was read");
    assert!(env.uploads_left("stream/huge").is_empty());
}

/// Streams 4 MiB in 1 MiB chunks through a transport that breaks one PATCH as `fault` says.
fn stream_upload_through(
    env: &Env,
    name: &str,
    fault: Fault,
) -> (Vec<u8>, porthole_core::Result<Digest>, Vec<String>) {
    let client = RegistryClient::new(
        Recording::new(fault).purging_in(env.uploads_dir(name)),
        base_url(&env.registry),
        alice_or_anonymous(env.mode()),
    );
    let repo = client.repository(repo_name(name));
    let data = random_bytes(4 * MIB, 144);
    let mut stream = Pieces::new(&data, 300_000);
    let result = block_on(repo.upload_blob_stream(&mut stream, chunks_of(MIB), &mut |_| {}));
    (data, result, client.transport().log())
}

#[test]
fn a_stream_resumes_a_chunk_that_never_left() {
    each_mode(|env| {
        let name = "stream/resume";
        let (data, result, log) = stream_upload_through(env, name, Fault::DropBeforeSending(3));
        let digest = result.unwrap_or_else(|e| panic!("{e}\nrequests: {log:#?}"));
        assert_eq!(block_on(env.repo(name).get_blob(&digest)).unwrap(), data);
        let patches = log.iter().filter(|l| l.starts_with("PATCH ")).count();
        assert_eq!(patches, 5, "only the dropped chunk is sent again: {log:#?}");
        assert!(
            log.iter()
                .any(|l| l.starts_with("GET ") && l.ends_with("-> 204")),
            "{log:#?}"
        );
        assert!(env.uploads_left(name).is_empty());
    });
}

#[test]
fn a_stream_restarts_a_session_lost_in_its_first_chunk() {
    each_mode(|env| {
        let name = "stream/restart";
        let (data, result, log) = stream_upload_through(env, name, Fault::LoseAnswer(1));
        let digest = result.unwrap_or_else(|e| panic!("{e}\nrequests: {log:#?}"));
        assert_eq!(block_on(env.repo(name).get_blob(&digest)).unwrap(), data);
        let opened = log
            .iter()
            .filter(|l| l.starts_with("POST ") && l.ends_with("-> 202"))
            .count();
        assert_eq!(opened, 2, "a new session for the first chunk: {log:#?}");
    });
}

#[test]
fn a_stream_whose_session_is_lost_later_fails_and_says_why() {
    each_mode(|env| {
        let name = "stream/lost";
        let (data, result, log) = stream_upload_through(env, name, Fault::LoseAnswer(2));
        let err = result.expect_err("a lost session after the first chunk cannot be restarted");
        says_the_session_was_lost_after_the_first_chunk(&err);
        let opened = log
            .iter()
            .filter(|l| l.starts_with("POST ") && l.ends_with("-> 202"))
            .count();
        assert_eq!(opened, 1, "{log:#?}");
        assert_eq!(
            block_on(env.repo(name).blob_exists(&Digest::sha256_of(&data))).unwrap(),
            None
        );
    });
}

#[test]
fn a_stream_that_fails_midway_cancels_the_session() {
    each_mode(|env| {
        let name = "stream/broken";
        let repo = env.repo(name);
        let data = random_bytes(4 * MIB, 145);
        let mut stream = Pieces::new(&data, 250_000);
        stream.fail_at = Some(2 * MIB + 500_000);
        let mut confirmed = Vec::new();
        let err = block_on(
            repo.upload_blob_stream(&mut stream, chunks_of(MIB), &mut |p| {
                confirmed.push(p.confirmed)
            }),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("reading the stream"), "{text}");
        assert!(
            text.contains("simulated failure of the stream's producer"),
            "{text}"
        );
        assert_eq!(confirmed.last(), Some(&(2 * MIB as u64)), "{confirmed:?}");
        assert_eq!(env.uploads_left(name), Vec::<String>::new());
        assert_eq!(
            block_on(repo.blob_exists(&Digest::sha256_of(&data))).unwrap(),
            None
        );
    });
}

#[test]
fn a_stream_with_an_unexpected_digest_is_refused_before_commit() {
    each_mode(|env| {
        let name = "stream/mismatch";
        let repo = env.repo(name);
        let data = random_bytes(3 * MIB, 146);
        let wrong = Digest::sha256_of(b"something else");
        let options = UploadOptions {
            expected_digest: Some(wrong.clone()),
            ..chunks_of(MIB)
        };
        let mut stream = Pieces::new(&data, MIB);
        let err = block_on(repo.upload_blob_stream(&mut stream, options, &mut |_| {})).unwrap_err();
        assert_eq!(err.code(), "DIGEST_MISMATCH", "{err}");
        assert_eq!(
            block_on(repo.blob_exists(&Digest::sha256_of(&data))).unwrap(),
            None
        );
        assert_eq!(env.uploads_left(name), Vec::<String>::new());
    });
}

#[test]
fn a_dev_server_page_on_acr_paths_means_a_plain_registry() {
    // Dev servers and proxies (trunk serve, an SPA host) answer paths they do not proxy with
    // their own HTML page and 200: the client must fall back to /v2/_catalog, not fail.
    let server = porthole_testkit::HttpServer::start(|req| {
        if req.path().starts_with("/acr/") {
            porthole_testkit::ServerResponse::new(200)
                .header("Content-Type", "text/html")
                .body(b"<!doctype html><title>app</title>".to_vec())
        } else {
            porthole_testkit::ServerResponse::json(
                200,
                &serde_json::json!({"repositories": ["a", "b/c"]}),
            )
        }
    })
    .unwrap();
    let client = client_at(&server.url(), Credential::Anonymous);
    let names = block_on(client.list_repository_names()).unwrap();
    assert_eq!(names, ["a", "b/c"]);
    assert_eq!(client.is_acr(), Some(false));
}
