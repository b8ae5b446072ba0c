//! Reliability and security with figures: the client against a real registry behind the kit's
//! [`FaultProxy`], which resets connections, answers 5xx and 429, flips bytes, truncates bodies,
//! drops headers and redirects blob downloads to another host.
//!
//! Each test prints its figures (`reliability: ...`) and writes them to
//! `target/reliability/<test>.txt`, which `cargo xtask test` prints after the tests (libtest
//! only shows a passing test's output with `--nocapture`).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use futures::executor::block_on;
use porthole_core::{
    ClientOptions, Credential, Digest, Error, RegistryClient, RetryPolicy, Secret, UploadOptions,
    Url,
};
use porthole_testkit::users::{ALICE, ALICE_PASSWORD};
use porthole_testkit::{
    AuthMode, Fault, FaultProxy, HttpServer, NativeTransport, Registry, Rule, ServerResponse,
};

const MIB: usize = 1024 * 1024;

/// Short waits: `NativeTransport::sleep` really sleeps.
fn fast_retries() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            base_delay_ms: 10,
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    }
}

/// A client that goes through the proxy.
fn client_via(proxy: &FaultProxy, credential: Credential) -> RegistryClient<NativeTransport> {
    RegistryClient::with_options(
        NativeTransport::new(),
        Url::parse(&proxy.url()).unwrap(),
        credential,
        fast_retries(),
    )
}

/// Prints a figure and keeps it in `target/reliability/<test>.txt`.
fn report(test: &str, lines: &[String]) {
    let dir = target_dir().join("reliability");
    let _ = std::fs::create_dir_all(&dir);
    let text: String = lines
        .iter()
        .map(|l| format!("reliability: {l}\n"))
        .collect();
    eprint!("{text}");
    let _ = std::fs::write(dir.join(format!("{test}.txt")), text);
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// Open sessions (dirs with a `startedat` file) in the registry's `_uploads` for `repo`.
fn open_sessions(registry: &Registry, repo: &str) -> Vec<String> {
    let dir = registry
        .data_dir()
        .join("docker/registry/v2/repositories")
        .join(repo)
        .join("_uploads");
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|s| s.join("startedat").exists())
            .map(|s| s.file_name().unwrap().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `len` bytes that differ from upload to upload in their first eight.
fn blob_for(base: &[u8], i: usize) -> Vec<u8> {
    let mut data = base.to_vec();
    data[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    data
}

#[test]
fn uploads_through_one_failure_in_five_all_land_and_leave_no_session() {
    const UPLOADS: usize = 50;
    let registry = Registry::start(AuthMode::Token).unwrap();
    // One request in five fails before the registry sees it, the kinds in turn.
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![Rule::rotating(vec![
            Fault::Status(503),
            Fault::ResetInRequestBody,
            Fault::Status(502),
            Fault::Status(500),
        ])
        .every(5)],
    )
    .unwrap();
    let client = client_via(&proxy, Credential::basic(ALICE, ALICE_PASSWORD));
    let repo = client.repository(repo_name("reliability/uploads"));
    let base = random_bytes(3 * MIB, 501);
    let options = UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    let started = Instant::now();
    let mut landed = 0;
    let mut digests = Vec::new();
    let mut interruptions = 0;
    for i in 0..UPLOADS {
        let data = blob_for(&base, i);
        let mut reported = 0;
        let digest = block_on(repo.upload_blob(&data[..], options.clone(), &mut |p| {
            reported = reported.max(p.interruptions)
        }))
        .unwrap_or_else(|e| panic!("upload {i} failed: {e}\n{:#?}", proxy.events()));
        interruptions += reported;
        assert_eq!(digest, Digest::sha256_of(&data), "upload {i}");
        digests.push(digest);
        landed += 1;
    }
    let elapsed = started.elapsed();
    // Checked through a clean client: the registry holds every blob, whole.
    let direct = client_for(&registry, Credential::basic(ALICE, ALICE_PASSWORD));
    let direct_repo = direct.repository(repo_name("reliability/uploads"));
    let mut verified = 0;
    for (i, digest) in digests.iter().enumerate() {
        let size = block_on(direct_repo.blob_exists(digest)).unwrap();
        assert_eq!(size, Some(base.len() as u64), "upload {i} is not stored");
        verified += 1;
    }
    let last = blob_for(&base, UPLOADS - 1);
    assert_eq!(
        block_on(direct_repo.get_blob(&Digest::sha256_of(&last))).unwrap(),
        last
    );
    let open = open_sessions(&registry, "reliability/uploads");
    let requests = proxy.requests();
    let faults = proxy.injected_total();
    assert!(
        faults * 5 >= requests - 4,
        "one in five: {}",
        proxy.summary()
    );
    assert_eq!(open, Vec::<String>::new(), "upload sessions left open");
    // Failed chunks are reported to the caller as they happen (the rest failed elsewhere:
    // session POSTs, status GETs and closing PUTs, which are retried without a resume).
    assert!(interruptions > 0, "no interruption was reported");
    report(
        "uploads",
        &[
            format!(
                "{landed}/{UPLOADS} uploads of 3 MiB (1 MiB chunks) landed through one failed \
                 request in five; {verified}/{UPLOADS} stored with the right size and digest; \
                 {} open upload sessions left; {interruptions} failed chunks reported to \
                 the progress callback as they happened; {:.1} s",
                open.len(),
                elapsed.as_secs_f64()
            ),
            format!("upload proxy: {}", proxy.summary()),
        ],
    );
}

#[test]
fn lost_answers_still_land() {
    // The registry acts, the client never hears it: a PATCH's answer (distribution then refuses
    // the stale session, and the client starts a new one) and a commit's answer (the repeat
    // finds the session gone; the client looks the blob up instead of failing).
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![
            Rule::new(Fault::ResetInResponseBody)
                .method("PATCH")
                .every(7),
            Rule::new(Fault::ResetInResponseBody).method("PUT").every(2),
        ],
    )
    .unwrap();
    let client = client_via(&proxy, Credential::Anonymous);
    let repo = client.repository(repo_name("reliability/lost"));
    let base = random_bytes(3 * MIB, 601);
    let options = UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    const UPLOADS: usize = 10;
    for i in 0..UPLOADS {
        let data = blob_for(&base, i);
        let digest = block_on(repo.upload_blob(&data[..], options.clone(), &mut |_| {}))
            .unwrap_or_else(|e| panic!("upload {i} failed: {e}\n{:#?}", proxy.events()));
        assert_eq!(digest, Digest::sha256_of(&data));
        let direct = client_for(&registry, Credential::Anonymous);
        let stored = block_on(
            direct
                .repository(repo_name("reliability/lost"))
                .blob_exists(&digest),
        );
        assert_eq!(stored.unwrap(), Some(data.len() as u64));
    }
    let lost = proxy.injected().get("reset-in-response-body").copied();
    assert!(lost.unwrap_or(0) >= UPLOADS / 2, "{}", proxy.summary());
    report(
        "lost-answers",
        &[format!(
            "{UPLOADS}/{UPLOADS} uploads landed although {} answers were lost ({} sessions \
             left behind: distribution 2.8 cannot cancel a session after a lost PATCH answer)",
            lost.unwrap_or(0),
            open_sessions(&registry, "reliability/lost").len()
        )],
    );
}

#[test]
fn corrupted_downloads_are_always_refused() {
    const DOWNLOADS: usize = 50;
    let registry = Registry::start(AuthMode::Basic).unwrap();
    let direct = client_for(&registry, Credential::basic(ALICE, ALICE_PASSWORD));
    let direct_repo = direct.repository(repo_name("reliability/downloads"));
    let data = random_bytes(MIB + 17, 701);
    let blob = push_blob(&direct_repo, "application/octet-stream", &data);
    let image = push_image(&direct_repo, "v1", 702);

    let proxy = FaultProxy::start(
        &registry.url(),
        vec![Rule::new(Fault::FlipByte)
            .method("GET")
            .path_contains("/blobs/sha256:")],
    )
    .unwrap();
    let client = client_via(&proxy, Credential::basic(ALICE, ALICE_PASSWORD));
    let repo = client.repository(repo_name("reliability/downloads"));
    let mut refused = 0;
    for i in 0..DOWNLOADS {
        let mut received = 0usize;
        let result = block_on(repo.download_blob(&blob.digest, &mut |chunk| {
            received += chunk.len();
            Ok(())
        }));
        match result {
            Err(Error::DigestMismatch { .. }) => refused += 1,
            other => panic!("download {i} was not refused: {other:?}"),
        }
        assert_eq!(
            received,
            data.len(),
            "the whole body was read, then refused"
        );
    }
    let flipped = proxy.injected().get("flipped-byte").copied().unwrap_or(0);
    assert_eq!((refused, flipped), (DOWNLOADS, DOWNLOADS));

    // Manifests: by tag (against Docker-Content-Digest) and by digest; truncated blobs too.
    proxy.set_rules(vec![
        Rule::new(Fault::FlipByte).path_contains("/manifests/"),
        Rule::new(Fault::TruncateBody).path_contains("/blobs/sha256:"),
    ]);
    let mut manifests_refused = 0;
    for reference in [tag("v1"), by_digest(image.digest())] {
        for _ in 0..5 {
            let err = block_on(repo.get_manifest(&reference)).unwrap_err();
            assert_eq!(err.code(), "DIGEST_MISMATCH", "{err}");
            manifests_refused += 1;
        }
    }
    let mut truncated_refused = 0;
    for _ in 0..10 {
        let err = block_on(repo.get_blob(&blob.digest)).unwrap_err();
        assert_eq!(err.code(), "DIGEST_MISMATCH", "{err}");
        truncated_refused += 1;
    }
    // A connection reset inside the body: the download resumes with a Range request from the
    // byte it reached, and the whole blob still verifies.
    proxy.set_rules(vec![Rule::new(Fault::ResetInResponseBody)
        .path_contains("/blobs/sha256:")
        .every(2)]);
    let mut resumed = 0;
    for _ in 0..5 {
        assert_eq!(block_on(repo.get_blob(&blob.digest)).unwrap(), data);
        resumed += 1;
    }
    let resets = proxy
        .injected()
        .get("reset-in-response-body")
        .copied()
        .unwrap_or(0);
    assert!(resets >= 4, "every other blob request was reset ({resets})");
    // The same when the resumed answer's Content-Range is hidden, as a browser hides it from a
    // cross-origin page unless the registry exposes it: a 206 to the one range asked for is
    // taken as starting there.
    proxy.set_rules(vec![
        Rule::new(Fault::ResetInResponseBody)
            .path_contains("/blobs/sha256:")
            .every(2)
            .first(1),
        Rule::new(Fault::DropHeader("content-range"))
            .path_contains("/blobs/sha256:")
            .every(2)
            .first(2),
    ]);
    for _ in 0..3 {
        assert_eq!(block_on(repo.get_blob(&blob.digest)).unwrap(), data);
        resumed += 1;
    }
    let hidden = proxy.injected().get("missing-header").copied().unwrap_or(0);
    assert_eq!(hidden, 3, "each resume's Content-Range was dropped");
    // A body that breaks every time: an error after bounded attempts, never short data.
    proxy.set_rules(vec![
        Rule::new(Fault::ResetInResponseBody).path_contains("/blobs/sha256:")
    ]);
    let mut reset_refused = 0;
    for _ in 0..5 {
        let err = block_on(repo.get_blob(&blob.digest)).unwrap_err();
        assert_eq!(err.code(), "NETWORK_ERROR", "{err}");
        reset_refused += 1;
    }
    // Without faults the same downloads succeed.
    proxy.set_rules(Vec::new());
    assert_eq!(block_on(repo.get_blob(&blob.digest)).unwrap(), data);
    report(
        "downloads",
        &[format!(
            "{refused}/{DOWNLOADS} blob downloads with a flipped byte refused; \
             {manifests_refused}/10 manifests with a flipped byte refused; \
             {truncated_refused}/10 truncated blobs refused; {resumed}/8 downloads reset \
             mid-body resumed with Range and verified (3 with Content-Range hidden); {reset_refused}/5 downloads reset on \
             every attempt failed with an error"
        )],
    );
}

#[test]
fn a_run_through_429s_finishes_after_the_retry_after_times() {
    let registry = Registry::start(AuthMode::Token).unwrap();
    // Every third request is refused with Retry-After: 1, three times.
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![Rule::new(Fault::TooManyRequests { retry_after_s: 1 })
            .every(3)
            .limit(3)],
    )
    .unwrap();
    let client = client_via(&proxy, Credential::basic(ALICE, ALICE_PASSWORD));
    let repo = client.repository(repo_name("reliability/ratelimited"));
    let started = Instant::now();
    let image = push_image(&repo, "v1", 801);
    let pulled = block_on(repo.get_manifest(&tag("v1"))).unwrap();
    for layer in pulled.as_image().unwrap().layers.iter() {
        block_on(repo.get_blob(&layer.digest)).unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(pulled.raw, image.manifest.raw);
    let limited = proxy.injected().get("429").copied().unwrap_or(0);
    assert_eq!(limited, 3, "{}", proxy.summary());
    assert!(
        elapsed >= Duration::from_secs(3),
        "finished in {elapsed:?}, before the Retry-After times"
    );

    // A registry that keeps failing: the client gives up, saying how often and how long.
    proxy.set_rules(vec![
        Rule::new(Fault::Status(503)).path_contains("/manifests/")
    ]);
    let err = block_on(repo.get_manifest(&tag("v1"))).unwrap_err();
    let Error::Retried { attempts, .. } = &err else {
        panic!("expected Error::Retried, got {err:?}");
    };
    assert_eq!(*attempts, RetryPolicy::default().max_attempts);
    let text = err.to_string();
    assert!(
        text.contains("503") && text.contains("gave up after 5 attempts"),
        "{text}"
    );
    report(
        "rate-limits",
        &[
            format!(
                "a push and pull through {limited} answers of 429 (Retry-After: 1 s) finished \
                 in {:.1} s, after the {limited} s asked",
                elapsed.as_secs_f64()
            ),
            format!("a manifest answering 503 forever: {text}"),
        ],
    );
}

#[test]
fn slow_answers_and_missing_headers() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![
            Rule::new(Fault::DropHeader("Range")).method("PATCH"),
            Rule::new(Fault::Delay(Duration::from_millis(300))).method("POST"),
            Rule::new(Fault::Delay(Duration::from_millis(300))).method("PUT"),
        ],
    )
    .unwrap();
    let client = client_via(&proxy, Credential::Anonymous);
    let repo = client.repository(repo_name("reliability/headers"));
    let data = random_bytes(2 * MIB + 3, 901);
    let options = UploadOptions {
        chunk_size: MIB as u64,
        ..UploadOptions::default()
    };
    // Range is optional in a chunk's answer: its absence is not an error.
    let digest = block_on(repo.upload_blob(&data[..], options.clone(), &mut |_| {})).unwrap();
    assert_eq!(digest, Digest::sha256_of(&data));
    let injected = proxy.injected();
    assert!(injected.get("missing-range").copied().unwrap_or(0) >= 3);
    assert!(injected.get("delay").copied().unwrap_or(0) >= 2);

    // Without Location the upload cannot go on: the error says so.
    proxy.set_rules(vec![Rule::new(Fault::DropHeader("Location")).method("POST")]);
    let other = blob_for(&data, 1);
    let err = block_on(repo.upload_blob(&other[..], options, &mut |_| {})).unwrap_err();
    assert!(err.to_string().contains("no Location header"), "{err}");
    report(
        "headers",
        &[format!(
            "upload through slow answers and PATCH answers without Range: landed; \
             missing Location: refused with \"{err}\""
        )],
    );
}

#[test]
fn a_chunked_download_whose_end_is_lost_after_every_byte_is_verified_not_failed() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let proxy = FaultProxy::start(&registry.url(), Vec::new()).unwrap();
    let client = client_via(&proxy, Credential::Anonymous);
    let repo = client.repository(repo_name("reliability/chunked-end"));
    let data = random_bytes(MIB + 17, 404);
    let digest = block_on(repo.upload_blob(&data[..], monolithic(), &mut |_| {})).unwrap();
    // The answer has no length, and the connection breaks where its last chunk should be; the
    // resume from the end is answered 416, as nothing is left to send (distribution itself
    // answers an empty 206, blob storage such as ACR's 416).
    proxy.set_rules(vec![
        Rule::new(Fault::CloseBeforeLastChunk)
            .method("GET")
            .path_contains("/blobs/")
            .limit(1),
        Rule::new(Fault::Status(416))
            .method("GET")
            .path_contains("/blobs/")
            .first(2)
            .limit(1),
    ]);
    let mut received = Vec::new();
    let size = block_on(repo.download_blob(&digest, &mut |chunk| {
        received.extend_from_slice(chunk);
        Ok(())
    }))
    .unwrap_or_else(|e| panic!("{e}\n{:#?}", proxy.events()));
    assert_eq!(size, data.len() as u64);
    assert_eq!(received, data);
    let injected = proxy.injected();
    assert_eq!(injected.get("close-before-last-chunk").copied(), Some(1));
    assert_eq!(injected.get("status").copied(), Some(1), "{injected:?}");
    report(
        "chunked-end",
        &[format!(
            "a {} byte chunked download broken before its last chunk, its resume answered \
             416: verified whole, {} GET request(s)",
            data.len(),
            proxy.events().iter().filter(|e| e.method == "GET").count()
        )],
    );
}

#[test]
fn a_mangled_digest_header_on_a_stored_push_is_not_a_failure() {
    let registry = Registry::start(AuthMode::Anonymous).unwrap();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![Rule::new(Fault::ReplaceHeader(
            "Docker-Content-Digest",
            "sha256:garbled",
        ))
        .method("PUT")],
    )
    .unwrap();
    let client = client_via(&proxy, Credential::Anonymous);
    let repo = client.repository(repo_name("reliability/garbled"));
    // Blob commits and manifest pushes: the registry stored what was sent (it checked the
    // digest itself), so an unreadable header in its 201 reports nothing lost.
    let image = push_image(&repo, "v1", 77);
    let injected = proxy
        .injected()
        .get("replaced-header")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        injected,
        4,
        "config, two layers and the manifest: {:#?}",
        proxy.events()
    );
    let direct =
        client_for(&registry, Credential::Anonymous).repository(repo_name("reliability/garbled"));
    proxy.set_rules(Vec::new());
    let fetched = block_on(direct.get_manifest(&tag("v1"))).unwrap();
    assert_eq!(fetched.digest, *image.digest());
    report(
        "garbled-digest",
        &[format!(
            "{injected} pushes answered 201 with an unreadable Docker-Content-Digest: all stored, \
             none reported as failed"
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// Redirects and credentials

/// A "storage" host on another loopback port that serves the registry's blobs (fetched with its
/// own credentials) and records what clients sent it.
fn storage_for(registry: &Registry) -> HttpServer {
    let base = registry.url();
    HttpServer::start(move |request| {
        let Some(digest) = request
            .path()
            .rsplit('/')
            .next()
            .and_then(|d| Digest::parse(d).ok())
        else {
            return ServerResponse::new(404);
        };
        let name = request
            .path()
            .trim_start_matches("/v2/")
            .split("/blobs/")
            .next()
            .unwrap_or_default()
            .to_string();
        let client = RegistryClient::new(
            NativeTransport::new(),
            Url::parse(&base).unwrap(),
            Credential::basic(ALICE, ALICE_PASSWORD),
        );
        match block_on(client.repository(repo_name(&name)).get_blob(&digest)) {
            Ok(bytes) => ServerResponse::new(200)
                .header("Content-Type", "application/octet-stream")
                .body(bytes),
            Err(_) => ServerResponse::new(404),
        }
    })
    .unwrap()
}

#[test]
fn redirected_blob_downloads_carry_no_authorization_to_the_other_host() {
    let mut lines = Vec::new();
    for mode in [AuthMode::Basic, AuthMode::Token] {
        let registry = Registry::start(mode).unwrap();
        let direct = client_for(&registry, Credential::basic(ALICE, ALICE_PASSWORD));
        let data = random_bytes(300_000, 1001);
        let blob = push_blob(
            &direct.repository(repo_name("reliability/redirect")),
            "application/octet-stream",
            &data,
        );
        let storage = storage_for(&registry);
        let proxy = FaultProxy::start(
            &registry.url(),
            vec![Rule::new(Fault::RedirectTo(storage.url()))
                .method("GET")
                .path_contains("/blobs/sha256:")],
        )
        .unwrap();
        let client = client_via(&proxy, Credential::basic(ALICE, ALICE_PASSWORD));
        // The client learns how the registry authenticates (the 401 challenge of /v2/).
        block_on(client.ping()).unwrap();
        let repo = client.repository(repo_name("reliability/redirect"));
        for _ in 0..5 {
            assert_eq!(block_on(repo.get_blob(&blob.digest)).unwrap(), data);
        }
        let redirected: Vec<_> = proxy
            .events()
            .into_iter()
            .filter(|e| e.fault == Some("redirect"))
            .collect();
        assert_eq!(redirected.len(), 5);
        assert!(
            redirected.iter().all(|e| e.authorized),
            "the registry itself got credentials"
        );
        let at_storage = storage.requests();
        assert_eq!(at_storage.len(), 5);
        let leaked = at_storage
            .iter()
            .filter(|r| r.header("authorization").is_some())
            .count();
        assert_eq!(leaked, 0, "Authorization reached the storage host");
        lines.push(format!(
            "{} mode: 5/5 blob downloads redirected (307) to another host verified; \
             Authorization sent to the registry 5/5, to the other host {leaked}/5",
            mode.as_str()
        ));
    }
    report("redirects", &lines);
}

#[test]
fn secrets_never_show_in_debug_errors_or_urls() {
    let password = ALICE_PASSWORD;
    let registry = Registry::start(AuthMode::Token).unwrap();
    let token = registry
        .token_server()
        .unwrap()
        .issue(Some(ALICE), &["repository:reliability/secrets:pull,push"])
        .unwrap();
    let basic = Credential::basic(ALICE, password);
    let bearer = Credential::Bearer(Secret::new(token.clone()));
    let refresh = Credential::RefreshToken(Secret::new("refresh-SECRET-1"));
    let secrets = [password, token.as_str(), "refresh-SECRET-1"];
    let shows_secret = |text: &str| secrets.iter().find(|s| text.contains(*s)).copied();

    let mut texts: Vec<String> = Vec::new();
    for credential in [&basic, &bearer, &refresh] {
        texts.push(format!("{credential:?}"));
    }
    texts.push(format!("{:?}", Secret::new(password)));
    texts.push(format!("{}", Secret::new(password)));

    // Errors of every kind, from requests that carried the credentials.
    let direct = client_for(&registry, basic.clone());
    let image = push_image(
        &direct.repository(repo_name("reliability/secrets")),
        "v1",
        1101,
    );
    let proxy = FaultProxy::start(&registry.url(), Vec::new()).unwrap();
    let mut kinds = 0;
    for credential in [&basic, &bearer] {
        let client = client_via(&proxy, credential.clone());
        texts.push(format!("{client:?}"));
        let repo = client.repository(repo_name("reliability/secrets"));
        let cases: Vec<(Rule, &str)> = vec![
            (Rule::new(Fault::Status(503)), "Retried (503)"),
            (Rule::new(Fault::Status(404)), "Registry (404)"),
            (Rule::new(Fault::ResetInRequestBody), "Transport"),
            (Rule::new(Fault::FlipByte), "DigestMismatch"),
            (
                Rule::new(Fault::DropHeader("Docker-Content-Digest")).method("HEAD"),
                "head without digest",
            ),
        ];
        for (rule, what) in cases {
            proxy.set_rules(vec![rule]);
            let result = block_on(repo.get_manifest(&by_digest(image.digest())));
            if let Err(e) = result {
                texts.push(format!("{what}: {e} / {e:?}"));
                kinds += 1;
            }
            let result = block_on(repo.head_manifest(&tag("v1")));
            if let Err(e) = result {
                texts.push(format!("{what}: {e} / {e:?}"));
            }
        }
        proxy.set_rules(vec![Rule::new(Fault::DropHeader("Location")).method("POST")]);
        let err = block_on(repo.upload_blob(&b"blob"[..], UploadOptions::default(), &mut |_| {}))
            .unwrap_err();
        texts.push(format!("{err} / {err:?}"));
        proxy.set_rules(Vec::new());
    }
    // Authentication failures with a wrong password and a refresh token the server refuses.
    for credential in [
        Credential::basic(ALICE, "wrong-SECRET-password"),
        refresh.clone(),
    ] {
        let client = client_via(&proxy, credential);
        let err = block_on(
            client
                .repository(repo_name("reliability/secrets"))
                .list_tags(),
        )
        .unwrap_err();
        texts.push(format!("{err} / {err:?}"));
        assert!(!format!("{err:?}").contains("wrong-SECRET-password"));
    }
    for text in &texts {
        assert_eq!(shows_secret(text), None, "a secret shows in: {text}");
    }
    // The GET token flow carries the password in a Basic header, never in the URL.
    let token_requests = registry.token_server().unwrap().requests();
    assert!(!token_requests.is_empty());
    for request in &token_requests {
        assert_eq!(shows_secret(&request.target), None, "{}", request.target);
        assert!(!request.target.contains("wrong-SECRET-password"));
    }
    // Every request the proxy saw: no secret in any URL.
    for event in proxy.events() {
        assert_eq!(shows_secret(&event.target), None, "{}", event.target);
    }
    report(
        "secrets",
        &[format!(
            "{} Debug/Display texts and errors ({kinds} error kinds from requests with \
             credentials), {} token request URLs and {} registry URLs checked: no password or \
             token in any",
            texts.len(),
            token_requests.len(),
            proxy.requests()
        )],
    );
}
