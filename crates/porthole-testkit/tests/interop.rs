//! Interop with other tools over the real registry, in each auth mode: skopeo copies out (and
//! so verifies) images and indexes we pushed, and we pull and verify an image that umoci built
//! and skopeo pushed.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use futures::executor::block_on;
use porthole_core::{Digest, Manifest, MediaType};
use porthole_testkit::users::{ALICE, ALICE_PASSWORD};
use porthole_testkit::AuthMode;
use serde_json::Value;

const SKOPEO: &str = "/usr/bin/skopeo";
const UMOCI: &str = "/usr/bin/umoci";

/// Runs a tool and returns its output, failing the test with its stderr when it fails.
fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (run `cargo xtask setup`): {e}"));
    assert!(
        output.status.success(),
        "{program} {} failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// skopeo with the host's signature policy out of the way (images here are unsigned).
fn skopeo(args: &[&str]) -> Output {
    run(SKOPEO, &[&["--insecure-policy"], args].concat())
}

/// `--src-creds alice:…` (or `--dest-creds`, `--creds`) where the registry wants a login.
fn creds(env: &Env, flag: &str) -> Vec<String> {
    match env.mode() {
        AuthMode::Anonymous => Vec::new(),
        _ => vec![flag.to_string(), format!("{ALICE}:{ALICE_PASSWORD}")],
    }
}

fn docker_ref(env: &Env, reference: &str) -> String {
    format!("docker://127.0.0.1:{}/{reference}", env.registry.port())
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A real layer: a gzipped tarball of a few files, made with `tar` and `gzip`. Returns the
/// compressed bytes and the uncompressed tar's digest (the config's diff_id).
fn make_layer(files: &[(&str, &str)]) -> (Vec<u8>, Digest) {
    let dir = scratch("layer");
    let root = dir.path().join("rootfs");
    for (name, content) in files {
        let path = root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
    }
    let tar = dir.path().join("layer.tar");
    run(
        "tar",
        &[
            "-C",
            root.to_str().unwrap(),
            "--owner=0",
            "--group=0",
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ],
    );
    let diff_id = Digest::sha256_of(&fs::read(&tar).unwrap());
    let gz = run("gzip", &["-n", "-c", tar.to_str().unwrap()]).stdout;
    (gz, diff_id)
}

/// Decompresses a gzip stream with `gzip -dc`.
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let dir = scratch("gunzip");
    let path = dir.path().join("blob.gz");
    fs::write(&path, bytes).unwrap();
    run("gzip", &["-dc", path.to_str().unwrap()]).stdout
}

/// Pushes an image with one real layer holding `hello.txt` = `greeting`, for `architecture`.
fn push_real_image(
    repo: &porthole_core::Repository<porthole_testkit::NativeTransport>,
    tag_name: &str,
    architecture: &str,
    greeting: &str,
) -> PushedImage {
    let (layer, diff_id) = make_layer(&[("hello.txt", greeting), ("etc/motd", "porthole\n")]);
    let config = oci_config(architecture, &[diff_id]);
    push_image_with(repo, &tag(tag_name), config, vec![layer])
}

/// The OCI layout's `index.json`, and the blob a digest names in it.
struct Layout<'a>(&'a Path);

impl Layout<'_> {
    fn index(&self) -> Value {
        serde_json::from_slice(&fs::read(self.0.join("index.json")).unwrap()).unwrap()
    }

    /// The digest `index.json` lists for `tag`.
    fn digest_of(&self, tag: &str) -> Digest {
        let index = self.index();
        let entry = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("no {tag} in {index}"));
        Digest::parse(entry["digest"].as_str().unwrap()).unwrap()
    }

    fn blob(&self, digest: &Digest) -> Vec<u8> {
        let path = self.0.join("blobs/sha256").join(digest.encoded());
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(Digest::sha256_of(&bytes), *digest, "{}", path.display());
        bytes
    }
}

#[test]
fn skopeo_copies_out_an_image_we_pushed() {
    each_mode(|env| {
        let repo = env.repo("interop/ours");
        let image = push_real_image(&repo, "v1", "amd64", "hello from porthole\n");
        let out = scratch("skopeo-out");
        let layout = out.path().join("oci");
        let dest = format!("oci:{}:v1", layout.display());

        let src_creds = creds(env, "--src-creds");
        let mut args = vec!["copy", "--src-tls-verify=false"];
        args.extend(strs(&src_creds));
        let source = docker_ref(env, "interop/ours:v1");
        args.extend([source.as_str(), dest.as_str()]);
        skopeo(&args);

        // skopeo verified every digest while copying, and kept our manifest as it was.
        let layout = Layout(&layout);
        assert_eq!(&layout.digest_of("v1"), image.digest());
        assert_eq!(layout.blob(image.digest()), image.manifest.raw);
        let parsed = image.manifest.as_image().unwrap();
        assert_eq!(layout.blob(&parsed.config.digest), image.config);
        assert_eq!(layout.blob(&parsed.layers[0].digest), image.layers[0]);

        let raw_creds = creds(env, "--creds");
        let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
        args.extend(strs(&raw_creds));
        args.push(&source);
        let raw = skopeo(&args).stdout;
        assert!(raw == image.manifest.raw, "skopeo inspect --raw differs");

        // skopeo reads the config we wrote.
        let mut args = vec!["inspect", "--tls-verify=false"];
        args.extend(strs(&raw_creds));
        args.push(&source);
        let info: Value = serde_json::from_slice(&skopeo(&args).stdout).unwrap();
        assert_eq!(info["Architecture"], "amd64");
        assert_eq!(info["Os"], "linux");
        assert_eq!(info["Digest"], image.digest().as_str());
    });
}

#[test]
fn skopeo_copies_out_an_index_we_pushed() {
    each_mode(|env| {
        let repo = env.repo("interop/multi");
        let amd = push_real_image(&repo, "amd64", "amd64", "hello amd64\n");
        let arm = push_real_image(&repo, "arm64", "arm64", "hello arm64\n");
        let index = push_index(
            &repo,
            "multi",
            &[(&amd.manifest, "amd64"), (&arm.manifest, "arm64")],
        );

        let out = scratch("skopeo-all");
        let layout = out.path().join("oci");
        let dest = format!("oci:{}:multi", layout.display());
        let source = docker_ref(env, "interop/multi:multi");
        let src_creds = creds(env, "--src-creds");
        let mut args = vec!["copy", "--all", "--src-tls-verify=false"];
        args.extend(strs(&src_creds));
        args.extend([source.as_str(), dest.as_str()]);
        skopeo(&args);

        let layout = Layout(&layout);
        assert_eq!(layout.digest_of("multi"), index.digest);
        assert_eq!(layout.blob(&index.digest), index.raw);
        for image in [&amd, &arm] {
            assert_eq!(layout.blob(image.digest()), image.manifest.raw);
            let parsed = image.manifest.as_image().unwrap();
            assert_eq!(layout.blob(&parsed.config.digest), image.config);
            assert_eq!(layout.blob(&parsed.layers[0].digest), image.layers[0]);
        }

        let raw_creds = creds(env, "--creds");
        let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
        args.extend(strs(&raw_creds));
        args.push(&source);
        assert!(
            skopeo(&args).stdout == index.raw,
            "skopeo inspect --raw differs"
        );
    });
}

#[test]
fn we_pull_and_verify_an_image_skopeo_pushed() {
    each_mode(|env| {
        // umoci builds an image with one layer in an OCI layout...
        let work = scratch("umoci");
        let layout_dir = work.path().join("oci");
        let layout = layout_dir.to_str().unwrap();
        let image_ref = format!("{layout}:v1");
        let greeting = format!("hello from umoci in {} mode\n", env.mode().as_str());
        let file = work.path().join("hello.txt");
        fs::write(&file, &greeting).unwrap();
        run(UMOCI, &["init", "--layout", layout]);
        run(UMOCI, &["new", "--image", &image_ref]);
        run(
            UMOCI,
            &[
                "insert",
                "--rootless",
                "--image",
                &image_ref,
                file.to_str().unwrap(),
                "/hello.txt",
            ],
        );
        let built = Layout(&layout_dir).digest_of("v1");

        // ... and skopeo pushes it.
        let dest_creds = creds(env, "--dest-creds");
        let mut args = vec!["copy", "--dest-tls-verify=false"];
        args.extend(strs(&dest_creds));
        let source = format!("oci:{image_ref}");
        let dest = docker_ref(env, "interop/theirs:v1");
        args.extend([source.as_str(), dest.as_str()]);
        skopeo(&args);

        let repo = env.repo("interop/theirs");
        let manifest: Manifest = block_on(repo.get_manifest(&tag("v1"))).unwrap();
        assert_eq!(
            manifest.digest, built,
            "skopeo pushed the manifest umoci built"
        );
        assert_eq!(manifest.media_type.as_str(), MediaType::OCI_MANIFEST);
        let image = manifest.as_image().expect("an image manifest");
        assert_eq!(image.layers.len(), 1);

        // Config and layers come back verified against their digests.
        let config = block_on(repo.get_blob(&image.config.digest)).unwrap();
        assert_eq!(config.len() as u64, image.config.size);
        let config: Value = serde_json::from_slice(&config).unwrap();
        let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
        assert_eq!(diff_ids.len(), image.layers.len());
        for (layer, diff_id) in image.layers.iter().zip(diff_ids) {
            let mut bytes = Vec::new();
            let size = block_on(repo.download_blob(&layer.digest, &mut |chunk| {
                bytes.extend_from_slice(chunk);
                Ok(())
            }))
            .unwrap();
            assert_eq!(size, layer.size);
            let tar = gunzip(&bytes);
            assert_eq!(
                Digest::sha256_of(&tar).as_str(),
                diff_id.as_str().unwrap(),
                "the uncompressed layer matches the config's diff_id"
            );
            let text = String::from_utf8_lossy(&tar);
            assert!(text.contains("hello.txt") && text.contains(&greeting));
        }
    });
}
