//! `porthole-seed`: fills a registry with the sample content the dashboard shows in
//! `cargo xtask dev` and that its end-to-end tests browse.
//!
//! ```text
//! porthole-seed <registry-url> [--user NAME --password PASS] [--acr] [--quick]
//! ```
//!
//! What it pushes (deterministic bytes, so pushing twice changes nothing):
//!
//! - `library/alpine`: `3.20`, `3.19`, `latest`, each a multi-platform index (linux/amd64,
//!   linux/arm64/v8, linux/arm/v7) with buildx-style attestation manifests beside the images.
//! - `library/nginx`, `apps/api`, `team-a/backend/worker`, `team-a/frontend`: single-platform
//!   images with env, labels and history in their configs, created on different dates.
//! - `apps/web:1.0.0`: an image with a 3 MiB layer, a signature and an SBOM as referrers
//!   (manifests whose `subject` is the image).
//! - `ci/builds`: 1,100 tags (`build-0001` ... `build-1100`), each its own image created an hour
//!   after the previous one (`--quick`: 120 tags).
//! - `sandbox/prune` (`v1` ... `v6`, a day apart) and `sandbox/delete` (`one` and `one-alias` on
//!   one manifest, `two`, `three`): what the end-to-end tests delete.
//! - `hostile/content`: annotations and labels holding `<script>` tags and HTML, and
//!   `big-annotations`, a manifest of about 2 MB of JSON.
//! - With `--acr` (the ACR emulator): `apps/web:1.0.0` locked against writes and deletes, and
//!   `library/alpine:3.19` locked against deletes.
//!
//! Prints one line per repository and a summary; exits 1 with the error on failure.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::executor::block_on;
use porthole_core::acr::ChangeableAttributes;
use porthole_core::{
    Credential, Descriptor, Digest, ImageIndex, ImageManifest, Manifest, MediaType, Platform,
    RegistryClient, Repository, RepositoryName, Secret, Tag, TagOrDigest, UploadOptions, Url,
};
use porthole_testkit::NativeTransport;
use serde_json::{json, Value};

const USAGE: &str =
    "usage: porthole-seed <registry-url> [--user NAME --password PASS] [--acr] [--quick]";

/// How many tags `ci/builds` gets.
const MANY_TAGS: usize = 1_100;
/// How many threads push `ci/builds` (each with its own client; the native transport blocks).
const THREADS: usize = 8;
/// 2024-01-01T00:00:00Z, the date of the oldest sample image.
const EPOCH_2024: u64 = 1_704_067_200;

type Repo = Repository<NativeTransport>;

#[derive(Debug, Clone)]
struct Options {
    url: String,
    /// Username and password (kept as strings: a `Credential` cannot cross threads).
    basic: Option<(String, String)>,
    acr: bool,
    quick: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("porthole-seed: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    match seed(&options) {
        Ok(count) => {
            println!(
                "seeded {} with {count} tags in {:.1} s",
                options.url,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("porthole-seed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut url = None;
    let mut user = None;
    let mut password = None;
    let mut acr = false;
    let mut quick = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--user" => user = rest.next().cloned(),
            "--password" => password = rest.next().cloned(),
            "--acr" => acr = true,
            "--quick" => quick = true,
            "-h" | "--help" => return Err("help".into()),
            other if other.starts_with("--") => return Err(format!("unknown flag {other}")),
            other => url = Some(other.to_owned()),
        }
    }
    let url = url.ok_or("the registry URL is missing")?;
    let basic = match (user, password) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        _ => return Err("--user and --password go together".into()),
    };
    Ok(Options {
        url,
        basic,
        acr,
        quick,
    })
}

fn client(options: &Options) -> Result<RegistryClient<NativeTransport>, String> {
    let base = Url::parse(&options.url).map_err(|e| format!("bad registry URL: {e}"))?;
    let credential = match &options.basic {
        Some((username, password)) => Credential::Basic {
            username: username.clone(),
            password: Secret::new(password.clone()),
        },
        None => Credential::Anonymous,
    };
    Ok(RegistryClient::new(
        NativeTransport::new(),
        base,
        credential,
    ))
}

fn repo(client: &RegistryClient<NativeTransport>, name: &str) -> Repo {
    client.repository(RepositoryName::parse(name).expect("sample names are valid"))
}

fn tag(name: &str) -> TagOrDigest {
    TagOrDigest::Tag(Tag::parse(name).expect("sample tags are valid"))
}

fn seed(options: &Options) -> Result<usize, String> {
    let client = client(options)?;
    block_on(client.ping()).map_err(|e| e.to_string())?;
    let mut count = 0;

    let alpine = repo(&client, "library/alpine");
    for (i, version) in ["3.19", "3.20", "latest"].into_iter().enumerate() {
        push_multi_platform(&alpine, version, 10 + i as u64 * 10)?;
        count += 1;
    }
    println!("library/alpine: 3 multi-platform indexes with attestations");

    for (name, tags, seed) in [
        (
            "library/nginx",
            &["1.25", "1.26", "1.27", "stable", "mainline"][..],
            100,
        ),
        ("apps/api", &["v1", "v2", "v2.1"][..], 200),
        ("team-a/backend/worker", &["main", "pr-42"][..], 300),
        ("team-a/frontend", &["main"][..], 400),
        ("tools/debug", &["latest"][..], 500),
    ] {
        let repository = repo(&client, name);
        for (i, t) in tags.iter().enumerate() {
            let days = seed / 10 + i as u64 * 3;
            push_image(&repository, t, seed + i as u64, "amd64", days, None)?;
            count += 1;
        }
        println!("{name}: {} images", tags.len());
    }

    // Repositories the dashboard's end-to-end tests delete from (pushing again restores them).
    let prune = repo(&client, "sandbox/prune");
    for i in 0..6u64 {
        push_image(
            &prune,
            &format!("v{}", i + 1),
            700 + i,
            "amd64",
            70 + i,
            None,
        )?;
        count += 1;
    }
    println!("sandbox/prune: v1 ... v6, a day apart (keep the newest three)");
    let del = repo(&client, "sandbox/delete");
    push_image(&del, "one", 710, "amd64", 80, None)?;
    push_image(&del, "one-alias", 710, "amd64", 80, None)?;
    push_image(&del, "two", 711, "amd64", 81, None)?;
    push_image(&del, "three", 712, "amd64", 82, None)?;
    count += 4;
    println!("sandbox/delete: one and one-alias (one manifest), two, three");

    let web = repo(&client, "apps/web");
    let image = push_image(&web, "1.0.0", 600, "amd64", 60, Some(3 * 1024 * 1024))?;
    push_image(&web, "0.9.0", 601, "amd64", 55, None)?;
    push_referrers(&web, &image)?;
    count += 2;
    println!("apps/web: 1.0.0 with a signature and an SBOM as referrers");

    push_hostile(&repo(&client, "hostile/content"))?;
    count += 2;
    println!("hostile/content: script tags in annotations, a 2 MB manifest");

    let builds = if options.quick { 120 } else { MANY_TAGS };
    push_many_tags(options, "ci/builds", builds)?;
    count += builds;
    println!("ci/builds: {builds} tags");

    if options.acr {
        lock_acr(&client)?;
        println!("locks: apps/web:1.0.0 (no write, no delete), library/alpine:3.19 (no delete)");
    }
    Ok(count)
}

/// `len` pseudo-random bytes, the same for the same seed (xorshift64*).
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn push_blob(repository: &Repo, media_type: &str, bytes: &[u8]) -> Result<Descriptor, String> {
    let digest = Digest::sha256_of(bytes);
    if block_on(repository.blob_exists(&digest))
        .map_err(|e| e.to_string())?
        .is_none()
    {
        let options = UploadOptions {
            monolithic_max: u64::MAX,
            ..UploadOptions::default()
        };
        block_on(repository.upload_blob(bytes, options, &mut |_| {})).map_err(|e| e.to_string())?;
    }
    Ok(Descriptor::new(media_type, digest, bytes.len() as u64))
}

fn put(repository: &Repo, reference: &TagOrDigest, manifest: &Manifest) -> Result<(), String> {
    block_on(repository.put_manifest(reference, manifest))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// An RFC 3339 date `days` days and `hours` hours after 2024-01-01.
fn date(days: u64, hours: u64) -> String {
    let secs = EPOCH_2024 + days * 86_400 + hours * 3_600;
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(d as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn config_json(arch: &str, variant: Option<&str>, created: &str, diff_ids: &[Digest]) -> Vec<u8> {
    let mut config = json!({
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": {
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "APP_ENV=production",
            ],
            "Cmd": ["/bin/sh"],
            "WorkingDir": "/app",
            "Labels": {
                "org.opencontainers.image.source": "https://example.invalid/porthole/samples",
                "org.opencontainers.image.version": created,
                "maintainer": "Porthole samples",
            },
        },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": [
            { "created": created, "created_by": "/bin/sh -c #(nop) ADD file:rootfs.tar in / " },
            { "created": created, "created_by": "RUN apk add --no-cache ca-certificates # buildkit" },
            { "created": created, "created_by": "CMD [\"/bin/sh\"]", "empty_layer": true },
        ],
    });
    if let Some(v) = variant {
        config["variant"] = json!(v);
    }
    serde_json::to_vec(&config).expect("JSON values serialize")
}

/// Pushes a small image (or one with a big first layer) and returns its manifest.
fn push_image(
    repository: &Repo,
    tag_name: &str,
    seed: u64,
    arch: &str,
    days: u64,
    big_layer: Option<usize>,
) -> Result<Manifest, String> {
    let manifest = image_manifest(repository, seed, arch, None, &date(days, 0), big_layer)?;
    put(repository, &tag(tag_name), &manifest)?;
    Ok(manifest)
}

fn image_manifest(
    repository: &Repo,
    seed: u64,
    arch: &str,
    variant: Option<&str>,
    created: &str,
    big_layer: Option<usize>,
) -> Result<Manifest, String> {
    let layers = [
        random_bytes(
            big_layer.unwrap_or(40_000 + seed as usize * 37 % 90_000),
            seed,
        ),
        random_bytes(8_000 + seed as usize * 13 % 20_000, seed + 1_000),
        random_bytes(1_500, seed + 2_000),
    ];
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::sha256_of(l)).collect();
    let config = config_json(arch, variant, created, &diff_ids);
    let config = push_blob(repository, MediaType::OCI_CONFIG, &config)?;
    let layers = layers
        .iter()
        .map(|l| push_blob(repository, MediaType::OCI_LAYER_GZIP, l))
        .collect::<Result<Vec<_>, _>>()?;
    let mut image = ImageManifest::new(config, layers);
    image.annotations.insert(
        "org.opencontainers.image.created".into(),
        created.to_owned(),
    );
    Manifest::from_image(&image).map_err(|e| e.to_string())
}

fn platform(arch: &str, variant: Option<&str>) -> Platform {
    Platform {
        architecture: arch.into(),
        os: "linux".into(),
        os_version: None,
        os_features: Vec::new(),
        variant: variant.map(str::to_owned),
    }
}

/// An index over three platform images, each followed by a buildx attestation manifest.
fn push_multi_platform(repository: &Repo, tag_name: &str, seed: u64) -> Result<(), String> {
    let created = date(seed, 0);
    let mut index = ImageIndex::empty();
    for (i, (arch, variant)) in [("amd64", None), ("arm64", Some("v8")), ("arm", Some("v7"))]
        .into_iter()
        .enumerate()
    {
        let image = image_manifest(repository, seed + i as u64, arch, variant, &created, None)?;
        put(
            repository,
            &TagOrDigest::Digest(image.digest.clone()),
            &image,
        )?;
        let mut d = image.descriptor();
        d.artifact_type = None;
        d.annotations.clear();
        d.platform = Some(platform(arch, variant));
        index.manifests.push(d);

        let statement = serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://spdx.dev/Document",
            "subject": [{ "name": format!("pkg:docker/{}@{tag_name}", repository.name()),
                          "digest": { "sha256": image.digest.encoded() } }],
            "predicate": { "spdxVersion": "SPDX-2.3", "name": "sbom" },
        }))
        .expect("JSON values serialize");
        let layer = push_blob(repository, "application/vnd.in-toto+json", &statement)?;
        let mut layer = layer;
        layer.annotations.insert(
            "in-toto.io/predicate-type".into(),
            "https://spdx.dev/Document".into(),
        );
        let config = push_blob(repository, MediaType::OCI_CONFIG, b"{\"architecture\":\"unknown\",\"os\":\"unknown\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}")?;
        let attestation = Manifest::from_image(&ImageManifest::new(config, vec![layer]))
            .map_err(|e| e.to_string())?;
        put(
            repository,
            &TagOrDigest::Digest(attestation.digest.clone()),
            &attestation,
        )?;
        let mut a = attestation.descriptor();
        a.artifact_type = None;
        a.annotations.insert(
            "vnd.docker.reference.digest".into(),
            image.digest.to_string(),
        );
        a.annotations.insert(
            "vnd.docker.reference.type".into(),
            "attestation-manifest".into(),
        );
        a.platform = Some(platform("unknown", None));
        if let Some(p) = a.platform.as_mut() {
            p.os = "unknown".into();
        }
        index.manifests.push(a);
    }
    let manifest = Manifest::from_index(&index).map_err(|e| e.to_string())?;
    put(repository, &tag(tag_name), &manifest)
}

/// A signature and an SBOM whose `subject` is `image`.
fn push_referrers(repository: &Repo, image: &Manifest) -> Result<(), String> {
    let subject = image.descriptor();
    let artifacts: [(&str, &str, Vec<u8>); 2] = [
        (
            "application/vnd.dev.cosign.artifact.sig.v1+json",
            "application/vnd.dev.cosign.simplesigning.v1+json",
            serde_json::to_vec(&json!({
                "critical": {
                    "identity": { "docker-reference": format!("{}", repository.name()) },
                    "image": { "docker-manifest-digest": image.digest.to_string() },
                    "type": "cosign container image signature",
                },
                "optional": null,
            }))
            .expect("JSON values serialize"),
        ),
        (
            "application/spdx+json",
            "application/spdx+json",
            serde_json::to_vec(&json!({
                "spdxVersion": "SPDX-2.3",
                "name": format!("{}@{}", repository.name(), image.digest),
                "packages": [
                    { "name": "musl", "versionInfo": "1.2.5-r0" },
                    { "name": "busybox", "versionInfo": "1.36.1-r29" },
                    { "name": "ca-certificates", "versionInfo": "20240705-r0" },
                ],
            }))
            .expect("JSON values serialize"),
        ),
    ];
    for (artifact_type, layer_type, body) in artifacts {
        let layer = push_blob(repository, layer_type, &body)?;
        let config = push_blob(repository, MediaType::OCI_EMPTY, b"{}")?;
        let mut manifest = ImageManifest::new(config, vec![layer]);
        manifest.artifact_type = Some(MediaType::new(artifact_type));
        manifest.subject = Some(subject.clone());
        manifest
            .annotations
            .insert("org.opencontainers.image.created".into(), date(61, 0));
        let manifest = Manifest::from_image(&manifest).map_err(|e| e.to_string())?;
        put(
            repository,
            &TagOrDigest::Digest(manifest.digest.clone()),
            &manifest,
        )?;
    }
    Ok(())
}

/// Content a dashboard must show as text, never as markup.
fn push_hostile(repository: &Repo) -> Result<(), String> {
    let nasty =
        "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";
    let mut manifest = image_manifest(repository, 700, "amd64", None, &date(70, 0), None)?
        .as_image()
        .cloned()
        .ok_or("an image manifest")?;
    manifest
        .annotations
        .insert("org.opencontainers.image.description".into(), nasty.into());
    manifest.annotations.insert(
        "</script><script>alert(1)</script>".into(),
        "\"><svg onload=alert(1)>".into(),
    );
    let m = Manifest::from_image(&manifest).map_err(|e| e.to_string())?;
    put(repository, &tag("script-tags"), &m)?;

    let mut big = manifest.clone();
    for i in 0..6_000 {
        big.annotations.insert(
            format!("example.invalid/annotation-{i:05}"),
            format!("{nasty} {}", "x".repeat(300)),
        );
    }
    let m = Manifest::from_image(&big).map_err(|e| e.to_string())?;
    put(repository, &tag("big-annotations"), &m)
}

/// `count` tags, each its own image one hour newer than the previous, pushed from several
/// threads. Layers are shared; each config is unique.
fn push_many_tags(options: &Options, name: &str, count: usize) -> Result<(), String> {
    let shared = {
        let client = client(options)?;
        let repository = repo(&client, name);
        [
            push_blob(
                &repository,
                MediaType::OCI_LAYER_GZIP,
                &random_bytes(20_000, 9_001),
            )?,
            push_blob(
                &repository,
                MediaType::OCI_LAYER_GZIP,
                &random_bytes(5_000, 9_002),
            )?,
        ]
    };
    let next = Arc::new(AtomicUsize::new(1));
    let shared = Arc::new(shared);
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let next = next.clone();
            let shared = shared.clone();
            let options = options.clone();
            let name = name.to_owned();
            std::thread::spawn(move || -> Result<(), String> {
                let client = client(&options)?;
                let repository = repo(&client, &name);
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n > count {
                        return Ok(());
                    }
                    let created = date(0, n as u64 * 7);
                    let diff_ids: Vec<Digest> = shared.iter().map(|d| d.digest.clone()).collect();
                    let mut config: Value =
                        serde_json::from_slice(&config_json("amd64", None, &created, &diff_ids))
                            .expect("our own JSON");
                    config["config"]["Labels"]["build"] = json!(n.to_string());
                    let config = serde_json::to_vec(&config).expect("JSON values serialize");
                    let config = push_blob(&repository, MediaType::OCI_CONFIG, &config)?;
                    let manifest = ImageManifest::new(config, shared.to_vec());
                    let manifest = Manifest::from_image(&manifest).map_err(|e| e.to_string())?;
                    put(&repository, &tag(&format!("build-{n:04}")), &manifest)?;
                }
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| "a seeding thread panicked".to_string())??;
    }
    Ok(())
}

/// Locks on the ACR emulator, for the dashboard to show.
fn lock_acr(client: &RegistryClient<NativeTransport>) -> Result<(), String> {
    for (name, t, attributes) in [
        (
            "apps/web",
            "1.0.0",
            ChangeableAttributes {
                can_delete: Some(false),
                can_write: Some(false),
                ..ChangeableAttributes::default()
            },
        ),
        (
            "library/alpine",
            "3.19",
            ChangeableAttributes {
                can_delete: Some(false),
                ..ChangeableAttributes::default()
            },
        ),
    ] {
        let repository = repo(client, name);
        let tag_name = Tag::parse(t).expect("sample tags are valid");
        block_on(
            repository
                .artifact(TagOrDigest::Tag(tag_name.clone()))
                .update_tag_properties(&tag_name, &attributes),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(date(0, 0), "2024-01-01T00:00:00Z");
        assert_eq!(date(59, 25), "2024-03-01T01:00:00Z");
        assert_eq!(date(366, 0), "2025-01-01T00:00:00Z");
    }
}
