//! `cargo xtask dev [--registry URL]`: the dashboard on a same-origin proxy to a registry.
//!
//! Without `--registry`: setup, then the test kit's registries (`porthole-testkit serve`), the
//! sample content pushed by `porthole-seed` (into the anonymous registry, and into the ACR
//! emulator when the kit has one), then `trunk serve` with `/v2/` proxied to the anonymous
//! registry. With `--registry URL`: `trunk serve` proxying `/v2/`, `/acr/` and `/oauth2/` to
//! that registry. Either way it prints the URL to open.
//!
//! Trunk's proxy backend is fixed in its config, and the kit's registries take free ports, so the
//! config trunk runs with is written to `target/dev/Trunk.toml`: the repository's `Trunk.toml`
//! with absolute paths and the `[[proxy]]` entries for this run.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd;
use crate::serve::Registries;
use crate::setup;

/// Runs `cargo xtask dev`, with the arguments after `dev`.
pub(crate) fn run(root: &Path, args: &[&str]) -> Result<(), String> {
    let registry = match args {
        [] => None,
        ["--registry", url] => Some(url.trim_end_matches('/').to_owned()),
        _ => return Err("usage: cargo xtask dev [--registry URL]".into()),
    };
    setup::run(root)?;
    let (_registries, proxies, notes) = match registry {
        Some(url) => {
            let proxies = ["/v2/", "/acr/", "/oauth2/"]
                .iter()
                .map(|p| ((*p).to_owned(), format!("{url}{p}")))
                .collect();
            (
                None,
                proxies,
                vec![format!("proxying /v2/, /acr/ and /oauth2/ to {url}")],
            )
        }
        None => {
            let registries = Registries::start()?;
            let notes = seed_samples(root, &registries.json, false)?;
            let proxies = vec![("/v2/".to_owned(), format!("{}/v2/", registries.anonymous))];
            (Some(registries), proxies, notes)
        }
    };
    let config = write_config(root, &proxies, &root.join("target/dev/dist"))?;
    // Chosen last, right before trunk binds it: the kit and the seeding take minutes.
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}/r/here");
    println!("\n==> Porthole dashboard: open {url}");
    for note in notes {
        println!("    {note}");
    }
    println!("    (first build of the dashboard takes a few minutes; Ctrl-C stops everything)\n");
    let mut serve = trunk(root)?;
    serve.arg("serve").arg("--config").arg(&config).args([
        "--port",
        &port.to_string(),
        "--address",
        "127.0.0.1",
    ]);
    cmd::run(&mut serve)
}

/// Pushes the samples into the kit's registries; returns lines to print about them.
pub(crate) fn seed_samples(root: &Path, json: &str, quick: bool) -> Result<Vec<String>, String> {
    let anonymous =
        json_string(json, "anonymous").ok_or("the kit's line has no anonymous registry")?;
    let mut seed = cmd::cargo();
    seed.current_dir(root)
        .args(["run", "-q", "-p", "porthole-seed", "--"])
        .arg(&anonymous);
    if quick {
        seed.arg("--quick");
    }
    cmd::run(&mut seed)?;
    let mut notes = vec![format!(
        "sample registry (anonymous) at {anonymous}, proxied on /v2/"
    )];
    if let Some(acr) = json_string(json, "acr") {
        let auth = json.split_once("\"acr_auth\"").map_or("", |(_, rest)| rest);
        let admin = auth.split_once("\"admin\"").map_or("", |(_, rest)| rest);
        let (Some(user), Some(password)) = (
            json_string(admin, "username"),
            json_string(admin, "password"),
        ) else {
            return Err("the kit's ACR emulator came without its admin user".into());
        };
        let mut seed = cmd::cargo();
        seed.current_dir(root)
            .args(["run", "-q", "-p", "porthole-seed", "--"])
            .arg(&acr)
            .args(["--user", &user, "--password", &password, "--acr", "--quick"]);
        cmd::run(&mut seed)?;
        let token_file = root.join("target/dev/acr-aad-token.txt");
        if let Some(token) = json_string(auth, "owner") {
            fs::create_dir_all(root.join("target/dev")).map_err(|e| e.to_string())?;
            fs::write(&token_file, token).map_err(|e| format!("cannot write the token: {e}"))?;
        }
        notes.push(format!(
            "ACR emulator at {acr} (with locked tags): connect with \"ACR with an Entra ID token\" \
             and paste the test token from {}",
            token_file.display()
        ));
    }
    Ok(notes)
}

/// `trunk` with node_modules/.bin first on PATH (binaryen 132, not Debian's 108) and the
/// environment trunk 0.21 needs.
pub(crate) fn trunk(root: &Path) -> Result<Command, String> {
    let mut dirs: Vec<PathBuf> = vec![root.join("node_modules/.bin")];
    if let Some(home) = env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    let path: OsString = env::join_paths(dirs).map_err(|e| format!("cannot build PATH: {e}"))?;
    let mut trunk = Command::new("trunk");
    trunk
        .current_dir(root)
        .env("PATH", path)
        .env_remove("NO_COLOR") // trunk 0.21 reads NO_COLOR=1 as an invalid bool
        .env("TRUNK_SKIP_VERSION_CHECK", "true");
    Ok(trunk)
}

/// Writes `target/dev/Trunk.toml`: the repository's Trunk.toml with absolute paths, its own
/// `dist`, and these `(path, backend)` proxies instead of the default one.
pub(crate) fn write_config(
    root: &Path,
    proxies: &[(String, String)],
    dist: &Path,
) -> Result<PathBuf, String> {
    let base = fs::read_to_string(root.join("Trunk.toml"))
        .map_err(|e| format!("cannot read Trunk.toml: {e}"))?;
    let text = dev_config(&base, root, proxies, dist);
    let dir = root.join("target/dev");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("Trunk.toml");
    fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn dev_config(base: &str, root: &Path, proxies: &[(String, String)], dist: &Path) -> String {
    let root = root.display().to_string();
    let mut out = String::from("# Written by cargo xtask dev from Trunk.toml; do not edit.\n");
    for line in base.lines() {
        if line.trim() == "[[proxy]]" {
            break;
        }
        let trimmed = line.trim_start();
        let line = if trimmed.starts_with("target = ") {
            format!("target = \"{root}/index.html\"")
        } else if trimmed.starts_with("dist = ") {
            format!("dist = \"{}\"", dist.display())
        } else if let Some(list) = trimmed.strip_prefix("watch = [") {
            let items: Vec<String> = list
                .trim_end_matches(']')
                .split(',')
                .map(|s| s.trim().trim_matches('"'))
                .filter(|s| !s.is_empty())
                .map(|s| format!("\"{root}/{s}\""))
                .collect();
            format!("watch = [{}]", items.join(", "))
        } else {
            line.to_owned()
        };
        out.push_str(&line);
        out.push('\n');
    }
    for (rewrite, backend) in proxies {
        out.push_str(&format!(
            "[[proxy]]\nrewrite = \"{rewrite}\"\nbackend = \"{backend}\"\n\n"
        ));
    }
    out
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// The string value of `key` in a line of JSON, found by its first occurrence (URLs and test
/// tokens: no escapes).
fn json_string(json: &str, key: &str) -> Option<String> {
    let after_key = json.split_once(&format!("\"{key}\""))?.1;
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(value.split('"').next()?.to_owned())
}

/// The dashboard's end-to-end tests (a `cargo xtask test` step): one release build into
/// target/e2e/dist, the kit's registries with the samples, then `node --test tests/e2e/`, which
/// serves the build with a same-origin proxy (and once through deploy/nginx.conf) and drives
/// headless Chromium. Screenshots land in target/e2e/.
pub(crate) fn e2e(root: &Path) -> Result<(), String> {
    let out = root.join("target/e2e");
    let dist = crate::dist::build(root, &out.join("dist"))?;
    let registries = Registries::start()?;
    seed_samples(root, &registries.json, false)?;
    let mut node = Command::new("node");
    node.current_dir(root)
        .args(["--test", "--test-concurrency=1", "tests/e2e/"])
        .env("PORTHOLE_E2E_JSON", &registries.json)
        .env("PORTHOLE_E2E_DIST", &dist)
        .env("PORTHOLE_E2E_OUT", &out);
    let result = cmd::run(&mut node);
    drop(registries);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_config_makes_paths_absolute_and_swaps_the_proxy() {
        let base = "[build]\ntarget = \"index.html\"\ndist = \"dist\"\n[watch]\nwatch = [\"index.html\", \"web\"]\n[tools]\nwasm_opt = \"version_132\"\n\n[[proxy]]\nrewrite = \"/v2/\"\nbackend = \"http://127.0.0.1:5000/v2/\"\n";
        let out = dev_config(
            base,
            Path::new("/repo"),
            &[("/v2/".into(), "http://127.0.0.1:4444/v2/".into())],
            Path::new("/repo/target/dev/dist"),
        );
        assert!(out.contains("target = \"/repo/index.html\""), "{out}");
        assert!(out.contains("dist = \"/repo/target/dev/dist\""), "{out}");
        assert!(
            out.contains("watch = [\"/repo/index.html\", \"/repo/web\"]"),
            "{out}"
        );
        assert!(out.contains("wasm_opt = \"version_132\""), "{out}");
        assert!(
            out.contains("backend = \"http://127.0.0.1:4444/v2/\""),
            "{out}"
        );
        assert!(!out.contains("5000"), "{out}");
    }

    #[test]
    fn finds_the_acr_admin() {
        let line = r#"{"acr":"http://127.0.0.1:9","acr_auth":{"aad_tokens":{"owner":"t1"},"admin":{"password":"p","username":"u"}},"anonymous":"http://127.0.0.1:8","users":{"alice":{"password":"x"}}}"#;
        assert_eq!(
            json_string(line, "acr").as_deref(),
            Some("http://127.0.0.1:9")
        );
        let auth = line.split_once("\"acr_auth\"").unwrap().1;
        let admin = auth.split_once("\"admin\"").unwrap().1;
        assert_eq!(json_string(admin, "password").as_deref(), Some("p"));
        assert_eq!(json_string(auth, "owner").as_deref(), Some("t1"));
    }
}
