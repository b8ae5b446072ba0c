//! `cargo xtask npm`: builds the npm package into `target/npm/porthole`; and the `npm package`
//! step of `cargo xtask test`: type-checks the TypeScript consumer, packs the package, installs
//! the tarball into a fresh app and runs the Node and Chromium tests against the kit's registries.
//!
//! The build: `cargo build --release --target wasm32-unknown-unknown -p porthole-js`, then
//! `wasm-bindgen --target web`, then `wasm-opt -Oz` from `node_modules/.bin` (binaryen 132:
//! Debian's wasm-opt 108 breaks wasm-bindgen 0.2.129 output), then the Node entry, README and
//! `package.json` beside the glue.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd;
use crate::serve::Registries;

/// Where the package is written, relative to the repository root.
pub(crate) const PACKAGE_DIR: &str = "target/npm/porthole";
/// The package's name on npm.
const NAME: &str = "porthole";
/// The crate's files copied into the package as they are.
const CRATE_DIR: &str = "crates/porthole-js";

/// `cargo xtask npm`: builds the package and prints its size.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let dir = build(root)?;
    println!("npm package written to {}", dir.display());
    Ok(())
}

/// Builds the package; returns its folder.
pub(crate) fn build(root: &Path) -> Result<PathBuf, String> {
    cmd::run(cmd::cargo().args([
        "build",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "porthole-js",
    ]))?;
    let out = root.join(PACKAGE_DIR);
    if out.exists() {
        fs::remove_dir_all(&out).map_err(|e| format!("cannot clear {}: {e}", out.display()))?;
    }
    let wasm = cmd::target_dir(root).join("wasm32-unknown-unknown/release/porthole_js.wasm");
    cmd::run(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--out-name", NAME, "--out-dir"])
            .arg(&out)
            .arg(&wasm),
    )?;
    let bg = out.join(format!("{NAME}_bg.wasm"));
    // The raw exports' typings are of no use to a consumer.
    let _ = fs::remove_file(out.join(format!("{NAME}_bg.wasm.d.ts")));
    let wasm_opt = root.join("node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() {
        return Err(format!(
            "{} is missing: run `cargo xtask setup` (npm ci installs binaryen 132)",
            wasm_opt.display()
        ));
    }
    cmd::run(
        Command::new(&wasm_opt)
            .args(["-Oz", "--enable-bulk-memory", "--enable-reference-types"])
            .args(["--enable-nontrapping-float-to-int", "--enable-sign-ext"])
            .args(["--enable-mutable-globals", "--enable-multivalue"])
            .arg(&bg)
            .arg("-o")
            .arg(&bg),
    )?;
    for file in ["node.js", "README.md"] {
        let from = root.join(CRATE_DIR).join(if file == "node.js" {
            "js/node.js"
        } else {
            file
        });
        fs::copy(&from, out.join(file))
            .map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
    }
    let manifest = package_json(env!("CARGO_PKG_VERSION"));
    fs::write(out.join("package.json"), manifest)
        .map_err(|e| format!("cannot write package.json: {e}"))?;
    report_size(&out)?;
    Ok(out)
}

/// The package's `package.json`: ESM, with the Node entry under the `node` condition.
fn package_json(version: &str) -> String {
    format!(
        r#"{{
  "name": "{NAME}",
  "version": "{version}",
  "description": "A container-registry client for browsers, web workers and Node 20+: OCI Distribution and Azure Container Registry, with the API of @azure/container-registry. Rust compiled to WebAssembly.",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "./{NAME}.js",
  "module": "./{NAME}.js",
  "types": "./{NAME}.d.ts",
  "exports": {{
    ".": {{
      "types": "./{NAME}.d.ts",
      "node": "./node.js",
      "default": "./{NAME}.js"
    }},
    "./{NAME}_bg.wasm": "./{NAME}_bg.wasm",
    "./package.json": "./package.json"
  }},
  "files": [
    "{NAME}.js",
    "{NAME}.d.ts",
    "{NAME}_bg.wasm",
    "node.js",
    "snippets/",
    "README.md"
  ],
  "sideEffects": [
    "./node.js"
  ],
  "engines": {{
    "node": ">=20"
  }},
  "keywords": [
    "oci",
    "container-registry",
    "docker",
    "acr",
    "azure",
    "wasm"
  ]
}}
"#
    )
}

/// Prints the raw and `gzip -9` sizes of the wasm and the JS the package ships.
fn report_size(out: &Path) -> Result<(), String> {
    let mut files = vec![
        out.join(format!("{NAME}_bg.wasm")),
        out.join(format!("{NAME}.js")),
        out.join("node.js"),
    ];
    files.extend(snippet_files(&out.join("snippets")));
    let (mut raw, mut gz) = (0u64, 0u64);
    for file in &files {
        let size = fs::metadata(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            .len();
        let zipped = cmd::output(
            Command::new("sh")
                .arg("-c")
                .arg(format!("gzip -9c '{}' | wc -c", file.display())),
        )
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or("gzip failed")?;
        println!(
            "  {:<40} {size:>9} B raw {zipped:>8} B gzip -9",
            file.strip_prefix(out).unwrap_or(file).display()
        );
        raw += size;
        gz += zipped;
    }
    println!(
        "  {:<40} {raw:>9} B raw {gz:>8} B gzip -9 ({:.1} KiB)",
        "wasm + js",
        gz as f64 / 1024.0
    );
    Ok(())
}

fn snippet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(snippet_files(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// The `npm package` step of `cargo xtask test`: the build, `tsc`
/// on the consumer file, `npm pack` + install, then `node --test tests/npm/` against the kit.
pub(crate) fn test(root: &Path) -> Result<(), String> {
    // Linted with the other wasm crates, in the "clippy wasm" step (one pass over web-sys).
    let dir = build(root)?;
    let node_bin = root.join("node_modules/.bin");
    cmd::run(
        Command::new(node_bin.join("tsc"))
            .arg("-p")
            .arg(root.join(CRATE_DIR).join("ts/tsconfig.json")),
    )?;
    let app = install_packed(root, &dir)?;
    let registries = Registries::start()?;
    let result = cmd::run(
        Command::new("node")
            .args(["--test", "--test-concurrency=1"])
            .arg("tests/npm/")
            .env("PORTHOLE_TEST_REGISTRIES_JSON", &registries.json)
            .env("PORTHOLE_NPM_APP", &app)
            .env("PORTHOLE_NPM_PACKAGE", &dir),
    );
    drop(registries);
    result
}

/// `npm pack`s the package and installs the tarball into a fresh app, as a user would; returns
/// the app's folder.
fn install_packed(root: &Path, dir: &Path) -> Result<PathBuf, String> {
    let npm_dir = root.join("target/npm");
    let tarball_name = cmd::output(
        Command::new("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(&npm_dir)
            .current_dir(dir),
    )
    .ok_or("`npm pack` failed in the package folder")?;
    let tarball = npm_dir.join(tarball_name.lines().last().unwrap_or_default().trim());
    println!("packed {}", tarball.display());
    let app = npm_dir.join("app");
    if app.exists() {
        fs::remove_dir_all(&app).map_err(|e| format!("cannot clear {}: {e}", app.display()))?;
    }
    fs::create_dir_all(&app).map_err(|e| format!("cannot create {}: {e}", app.display()))?;
    fs::write(
        app.join("package.json"),
        "{ \"name\": \"porthole-consumer-app\", \"private\": true, \"type\": \"module\" }\n",
    )
    .map_err(|e| format!("cannot write the app's package.json: {e}"))?;
    cmd::run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--offline"])
            .arg(&tarball)
            .current_dir(&app),
    )?;
    Ok(app)
}
