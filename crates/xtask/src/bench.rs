//! `cargo xtask bench [--smoke]`: builds the benchmark wasm (crates/porthole-bench), starts the
//! test kit's registries, runs the Node driver (tests/bench/bench.mjs) against the anonymous
//! one, stops everything and prints the table. A full run also writes the table into
//! BENCHMARKS.md between its markers. Never part of `cargo xtask test`: speed is measured here,
//! not asserted in tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::cmd;
use crate::serve::Registries;
use crate::setup;

/// The wasm target the bench crate builds for.
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The lines between which BENCHMARKS.md keeps the latest table.
const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

/// Runs the benchmarks; `smoke` uses tiny sizes and one run, writes to target/bench/smoke and
/// leaves BENCHMARKS.md alone.
pub(crate) fn run(root: &Path, smoke: bool) -> Result<(), String> {
    let started = Instant::now();
    check_tools(root)?;
    let target = target_dir(root);
    let pkg = target.join("bench/pkg");
    let out = if smoke {
        target.join("bench/smoke")
    } else {
        target.join("bench")
    };

    cmd::run(cmd::cargo().args([
        "build",
        "--release",
        "--target",
        WASM_TARGET,
        "-p",
        "porthole-bench",
    ]))?;
    let wasm = target.join(WASM_TARGET).join("release/porthole_bench.wasm");
    cmd::run(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--out-dir"])
            .arg(&pkg)
            .arg(&wasm),
    )?;

    let registries = Registries::start()?;
    let mut driver = Command::new("node");
    driver
        .arg(root.join("tests/bench/bench.mjs"))
        .args(["--registry", &registries.anonymous])
        .arg("--pkg")
        .arg(&pkg)
        .arg("--out")
        .arg(&out)
        .arg("--payloads")
        .arg(&out);
    if smoke {
        driver.arg("--smoke");
    }
    let result = cmd::run(&mut driver);
    drop(registries);
    result?;

    let table = fs::read_to_string(out.join("latest.md"))
        .map_err(|err| format!("the driver wrote no table ({}): {err}", out.display()))?;
    println!("\n{table}");
    if smoke {
        println!(
            "smoke run (tiny sizes, not figures): {} and latest.md; BENCHMARKS.md left alone",
            out.join("latest.json").display()
        );
    } else {
        let path = root.join("BENCHMARKS.md");
        let text = fs::read_to_string(&path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        fs::write(&path, replace_between_markers(&text, &table)?)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        println!(
            "wrote {} and the table in BENCHMARKS.md",
            out.join("latest.json").display()
        );
    }
    println!("bench: done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `target/`).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Fails with one message naming everything missing, before anything is built or started.
fn check_tools(root: &Path) -> Result<(), String> {
    let mut missing = Vec::new();
    for (tool, arg) in [
        ("node", "--version"),
        ("curl", "--version"),
        ("openssl", "version"),
        ("gzip", "--version"),
        ("brotli", "--version"),
        ("/usr/bin/chromium", "--version"),
        ("/usr/bin/docker-registry", "--version"),
    ] {
        if cmd::output(Command::new(tool).arg(arg)).is_none() {
            missing.push(tool.to_owned());
        }
    }
    if !root
        .join("node_modules/playwright-core/index.mjs")
        .is_file()
    {
        missing.push("playwright-core (node_modules)".to_owned());
    }
    let installed = cmd::output(Command::new("rustup").args(["target", "list", "--installed"]));
    if !installed.is_some_and(|targets| targets.lines().any(|t| t.trim() == WASM_TARGET)) {
        missing.push(format!("the {WASM_TARGET} target"));
    }
    let wanted = setup::wasm_bindgen_version(root)?;
    match cmd::tool_version("wasm-bindgen") {
        Some(found) if found == wanted => {}
        Some(found) => missing.push(format!("wasm-bindgen {wanted} (found {found})")),
        None => missing.push(format!("wasm-bindgen {wanted}")),
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "cargo xtask bench: missing {}\n    what to do: run `cargo xtask setup`",
            missing.join(", ")
        ))
    }
}

/// `text` with everything between the [`BEGIN`] and [`END`] lines replaced by `table`.
fn replace_between_markers(text: &str, table: &str) -> Result<String, String> {
    let missing = || format!("BENCHMARKS.md has no `{BEGIN}` ... `{END}` markers");
    let (head, rest) = text.split_once(BEGIN).ok_or_else(missing)?;
    let (_, tail) = rest.split_once(END).ok_or_else(missing)?;
    Ok(format!("{head}{BEGIN}\n{}\n{END}{tail}", table.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_between_the_markers() {
        let text = format!("# B\n\nbefore\n{BEGIN}\nold\ntable\n{END}\nafter\n");
        let new = replace_between_markers(&text, "| new |\n").unwrap();
        assert_eq!(
            new,
            format!("# B\n\nbefore\n{BEGIN}\n| new |\n{END}\nafter\n")
        );
        assert_eq!(replace_between_markers(&new, "| new |").unwrap(), new);
    }

    #[test]
    fn missing_markers_are_an_error() {
        let err = replace_between_markers("no markers", "t").unwrap_err();
        assert!(err.contains("markers"), "{err}");
    }
}
