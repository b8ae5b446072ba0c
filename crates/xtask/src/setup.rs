//! `cargo xtask setup`: each item checks first and installs only what is missing, so a
//! machine that has everything is done in seconds.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Instant, SystemTime};

use crate::cmd;

/// The trunk release that builds with our rustc (0.22.x needs rustc 1.96.1).
const TRUNK_VERSION: &str = "0.21.14";

/// The wasm target every browser crate builds for.
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Debian packages the tests use: the registry, the browser and its driver, image tools for
/// interop tests, nginx for the CORS front (and the CA bundle deploy/nginx-acr.conf names),
/// htpasswd, and brotli for size measurements.
const APT_PACKAGES: &[&str] = &[
    "docker-registry",
    "chromium",
    "chromium-driver",
    "skopeo",
    "umoci",
    "nginx-light",
    "ca-certificates",
    "apache2-utils",
    "brotli",
    // libfuzzer-sys builds libFuzzer's C++ for the fuzz step.
    "g++",
];

/// A setup item: a name for messages and a function that checks, then installs if needed.
type Item = (&'static str, fn(&Path) -> Result<(), String>);

const ITEMS: &[Item] = &[
    ("rustfmt and clippy", ensure_rust_components),
    ("wasm target", ensure_wasm_target),
    ("wasm-bindgen-cli", ensure_wasm_bindgen),
    ("trunk", ensure_trunk),
    ("Debian packages", ensure_apt_packages),
    ("npm tools", ensure_npm_tools),
];

/// Runs every setup item; the error names each item that failed and what to do about it.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let mut failures = Vec::new();
    for (name, ensure) in ITEMS {
        if let Err(err) = ensure(root) {
            eprintln!("setup: {name}: FAILED");
            failures.push(format!("  - {name}: {err}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// Prints what is being installed and how long it usually takes, runs `install`, and says
/// how long it took. `hint` tells the reader what to do if it fails.
fn install(what: &str, estimate: &str, hint: &str, install: &mut Command) -> Result<(), String> {
    println!("setup: installing {what} ({estimate})...");
    let start = Instant::now();
    cmd::run(install).map_err(|err| format!("{err}\n    what to do: {hint}"))?;
    println!(
        "setup: installed {what} in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `rustup component add rustfmt clippy` unless both answer: a toolchain installed with
/// rustup's minimal profile (as the official Docker image has it) lacks them, and the fmt and
/// clippy steps need them.
fn ensure_rust_components(_root: &Path) -> Result<(), String> {
    let answers = |tool: &str| {
        cmd::cargo()
            .args([tool, "--version"])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if answers("fmt") && answers("clippy") {
        println!("setup: rustfmt and clippy: installed");
        return Ok(());
    }
    install(
        "rustfmt and clippy",
        "under a minute",
        "run `rustup component add rustfmt clippy` yourself (it needs rustup's download server)",
        Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]),
    )
}

/// `rustup target add wasm32-unknown-unknown` unless it is installed.
fn ensure_wasm_target(_root: &Path) -> Result<(), String> {
    let installed = cmd::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .ok_or("`rustup target list --installed` failed: is rustup installed and on PATH?")?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        println!("setup: rust target {WASM_TARGET}: installed");
        return Ok(());
    }
    install(
        &format!("rust target {WASM_TARGET}"),
        "about 30 seconds",
        "check that rustup can reach static.rust-lang.org, then run it again",
        Command::new("rustup").args(["target", "add", WASM_TARGET]),
    )
}

/// wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate the workspace uses.
fn ensure_wasm_bindgen(root: &Path) -> Result<(), String> {
    let wanted = wasm_bindgen_version(root)?;
    let found = cmd::tool_version("wasm-bindgen");
    if found.as_deref() == Some(wanted.as_str()) {
        println!("setup: wasm-bindgen-cli {wanted}: installed");
        return Ok(());
    }
    println!(
        "setup: wasm-bindgen-cli: want {wanted}, found {}",
        found.as_deref().unwrap_or("none")
    );
    install(
        &format!("wasm-bindgen-cli {wanted}"),
        "about 4 minutes on 2 cores",
        "check that crates.io is reachable and ~/.cargo/bin is on PATH, then run it again",
        cmd::cargo().args([
            "install",
            "--locked",
            "wasm-bindgen-cli",
            "--version",
            &wanted,
        ]),
    )?;
    expect_version("wasm-bindgen", &wanted)
}

/// trunk, pinned, only once the dashboard exists.
///
/// Installing trunk takes about 12 minutes on 2 cores and only the dashboard build uses it, so
/// until the repository has a `Trunk.toml` (the dashboard issue adds it) CI doesn't pay for it.
fn ensure_trunk(root: &Path) -> Result<(), String> {
    if !root.join("Trunk.toml").exists() {
        println!("setup: trunk: not needed yet (no Trunk.toml; the dashboard isn't in the repo)");
        return Ok(());
    }
    if cmd::tool_version("trunk").as_deref() == Some(TRUNK_VERSION) {
        println!("setup: trunk {TRUNK_VERSION}: installed");
        return Ok(());
    }
    install(
        &format!("trunk {TRUNK_VERSION}"),
        "about 12 minutes on 2 cores",
        "check that crates.io is reachable and ~/.cargo/bin is on PATH, then run it again",
        cmd::cargo().args(["install", "--locked", "trunk", "--version", TRUNK_VERSION]),
    )?;
    expect_version("trunk", TRUNK_VERSION)
}

/// After an install: fails unless `<tool> --version` now reports `wanted`.
fn expect_version(tool: &str, wanted: &str) -> Result<(), String> {
    match cmd::tool_version(tool) {
        Some(found) if found == wanted => Ok(()),
        found => Err(format!(
            "installed {tool} {wanted}, but `{tool} --version` reports {}\n    \
             what to do: put ~/.cargo/bin first on PATH (`. \"$HOME/.cargo/env\"`)",
            found.as_deref().unwrap_or("nothing")
        )),
    }
}

/// The `wasm-bindgen` version in Cargo.lock, or failing that the `=x.y.z` pin in Cargo.toml
/// (until a crate depends on it, Cargo.lock doesn't list it).
pub(crate) fn wasm_bindgen_version(root: &Path) -> Result<String, String> {
    let read = |name: &str| {
        fs::read_to_string(root.join(name)).map_err(|err| format!("cannot read {name}: {err}"))
    };
    if let Some(version) = locked_version(&read("Cargo.lock")?, "wasm-bindgen") {
        return Ok(version);
    }
    pinned_version(&read("Cargo.toml")?, "wasm-bindgen").ok_or_else(|| {
        "neither Cargo.lock nor Cargo.toml pins wasm-bindgen\n    \
         what to do: keep `wasm-bindgen = \"=x.y.z\"` in [workspace.dependencies]"
            .to_owned()
    })
}

/// The version of package `name` in the text of a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.find(|line| line.trim() == wanted)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_owned())
}

/// The exact version of `name` pinned as `name = "=x.y.z"` in the text of a Cargo.toml.
fn pinned_version(manifest: &str, name: &str) -> Option<String> {
    let line = manifest
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{name} =")))?;
    let pin = line.split_once("\"=")?.1;
    Some(pin.split('"').next()?.to_owned())
}

/// The Debian packages, installed with apt only when dpkg lacks them, with services kept
/// from starting (a packaged registry would otherwise take port 5000).
fn ensure_apt_packages(_root: &Path) -> Result<(), String> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|pkg| !dpkg_installed(pkg))
        .collect();
    if missing.is_empty() {
        println!(
            "setup: Debian packages: all {} installed",
            APT_PACKAGES.len()
        );
        return Ok(());
    }
    let hint = format!(
        "run `sudo apt-get install -y {}` yourself (this needs Debian 12 or similar)",
        missing.join(" ")
    );
    let created =
        keep_services_stopped().map_err(|err| format!("{err}\n    what to do: {hint}"))?;
    let result = install_apt_packages(&missing, &hint);
    if created {
        // Only for this install: later installs on this machine start their services again.
        println!("setup: removing {POLICY_RC_D} again");
        let _ = cmd::run(cmd::as_root("rm", &[]).args(["-f", POLICY_RC_D]));
    }
    result
}

/// `apt-get update`, then `apt-get install -y` of `missing`; waits up to ten minutes for a dpkg
/// lock held by another install (a fresh cloud machine upgrades itself at boot).
fn install_apt_packages(missing: &[&str], hint: &str) -> Result<(), String> {
    let noninteractive = [("DEBIAN_FRONTEND", "noninteractive")];
    let wait_for_lock = ["-o", "DPkg::Lock::Timeout=600"];
    install(
        "the apt package lists",
        "about 10 seconds",
        hint,
        cmd::as_root("apt-get", &noninteractive)
            .args(wait_for_lock)
            .arg("update"),
    )?;
    install(
        &missing.join(" "),
        "about 10 seconds per small package, a minute or two for chromium",
        hint,
        cmd::as_root("apt-get", &noninteractive)
            .args(wait_for_lock)
            .args(["install", "-y"])
            .args(missing),
    )
}

/// Whether dpkg reports `pkg` as installed.
fn dpkg_installed(pkg: &str) -> bool {
    let status = cmd::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]));
    status.as_deref() == Some("install ok installed")
}

/// Where Debian asks whether an installed package may start its service.
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// Creates [`POLICY_RC_D`] (exit 101: "don't start services") for the install, unless one
/// exists; returns whether it created it (and must remove it after).
fn keep_services_stopped() -> Result<bool, String> {
    if Path::new(POLICY_RC_D).exists() {
        return Ok(false);
    }
    println!("setup: creating {POLICY_RC_D} so the packages' services don't start");
    let script =
        format!("printf '#!/bin/sh\\nexit 101\\n' > {POLICY_RC_D} && chmod 755 {POLICY_RC_D}");
    cmd::run(cmd::as_root("sh", &[]).args(["-c", &script]))?;
    Ok(true)
}

/// `npm ci` when node_modules is missing or older than package-lock.json.
fn ensure_npm_tools(root: &Path) -> Result<(), String> {
    let lock = root.join("package-lock.json");
    // npm writes this file on every install, so its age is the age of node_modules.
    let installed = root.join("node_modules/.package-lock.json");
    if modified(&installed).is_some_and(|done| modified(&lock).is_some_and(|lock| done >= lock)) {
        println!("setup: npm tools (binaryen, playwright-core): up to date with package-lock.json");
        return Ok(());
    }
    install(
        "npm tools: binaryen 132, playwright-core",
        "a few seconds",
        "check that Node.js 20 and npm are installed and the npm registry is reachable",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(root),
    )
}

/// When `path` was last modified, if it exists.
fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|meta| meta.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_locked_wasm_bindgen_version() {
        let lock = "[[package]]\nname = \"wasm-bindgen-futures\"\nversion = \"0.4.79\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.129\"\n";
        assert_eq!(
            locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.129")
        );
        assert_eq!(locked_version(lock, "trunk"), None);
    }

    #[test]
    fn reads_the_exact_pin_in_the_manifest() {
        let manifest = "[workspace.dependencies]\nwasm-bindgen-futures = \"0.4.79\"\n\
                        wasm-bindgen = \"=0.2.129\"\n";
        assert_eq!(
            pinned_version(manifest, "wasm-bindgen").as_deref(),
            Some("0.2.129")
        );
    }
}
