//! `cargo xtask bench [--smoke] [--only SUITES]`: builds the benchmark wasm (crates/porthole-bench), starts the
//! test kit's registries, runs the Node driver (tests/bench/bench.mjs) against the anonymous
//! one, stops everything and prints the table. A full run also writes the table into
//! BENCHMARKS.md between its markers. Never part of `cargo xtask test`: speed is measured here,
//! not asserted in tests.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::cmd;
use crate::dist;
use crate::npm;
use crate::serve::Registries;
use crate::setup;

/// The wasm target the bench crate builds for.
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The lines between which BENCHMARKS.md keeps the latest table.
const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

/// What `cargo xtask bench` was asked for.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Options {
    /// Tiny sizes and one run: checks the harness, gives no figures.
    smoke: bool,
    /// Comma-separated suites of tests/bench/bench.mjs to run instead of all of them.
    only: Option<String>,
}

impl Options {
    /// Only a full run of every suite replaces the table in BENCHMARKS.md.
    fn is_full(&self) -> bool {
        !self.smoke && self.only.is_none()
    }

    /// Whether the run measures the npm package and the dashboard, which it then builds first
    /// (a smoke run measures whatever was built last).
    fn builds_artifacts(&self) -> bool {
        !self.smoke
            && self
                .only
                .as_deref()
                .is_none_or(|suites| suites.split(',').any(|s| s.trim() == "sizes"))
    }
}

/// Parses `[--smoke] [--only SUITES]`.
pub(crate) fn parse_args(args: &[&str]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--smoke" => options.smoke = true,
            "--only" => match rest.next() {
                Some(suites) => options.only = Some((*suites).to_owned()),
                None => return Err("bench --only needs a list, e.g. --only memory,sizes".into()),
            },
            other => return Err(format!("bench: unknown argument `{other}`")),
        }
    }
    Ok(options)
}

/// Runs the benchmarks. A smoke run uses tiny sizes and one run and writes to
/// target/bench/smoke; a run of some suites writes to target/bench/partial; only a full run
/// writes the table into BENCHMARKS.md.
pub(crate) fn run(root: &Path, options: &Options) -> Result<(), String> {
    let started = Instant::now();
    check_tools(root)?;
    let target = cmd::target_dir(root);
    let pkg = target.join("bench/pkg");
    let out = match (options.smoke, &options.only) {
        (true, _) => target.join("bench/smoke"),
        (false, Some(_)) => target.join("bench/partial"),
        (false, None) => target.join("bench"),
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

    if options.builds_artifacts() {
        // Sizes are of what this commit builds, never of a stale dist/ or package.
        println!("bench: building the npm package and the dashboard to measure them (~3 min)");
        npm::build(root)?;
        dist::build(root, &root.join("dist"))?;
    }

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
        // Payloads are generated once and reused by every kind of run.
        .arg(if options.smoke {
            out.clone()
        } else {
            target.join("bench")
        });
    if options.smoke {
        driver.arg("--smoke");
    }
    if let Some(suites) = &options.only {
        driver.args(["--only", suites]);
    }
    let result = cmd::run(&mut driver);
    drop(registries);
    result?;

    let table = fs::read_to_string(out.join("latest.md"))
        .map_err(|err| format!("the driver wrote no table ({}): {err}", out.display()))?;
    println!("\n{table}");
    if !options.is_full() {
        println!(
            "partial or smoke run: {} and latest.md; BENCHMARKS.md left alone",
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
    fn parses_smoke_and_only() {
        assert_eq!(parse_args(&[]).unwrap(), Options::default());
        let options = parse_args(&["--only", "memory,sizes", "--smoke"]).unwrap();
        assert!(options.smoke);
        assert_eq!(options.only.as_deref(), Some("memory,sizes"));
        assert!(!options.is_full());
        assert!(!options.builds_artifacts());
        assert!(parse_args(&["--only", "upload, sizes"])
            .unwrap()
            .builds_artifacts());
        assert!(!parse_args(&["--only", "upload"])
            .unwrap()
            .builds_artifacts());
        assert!(parse_args(&[]).unwrap().builds_artifacts());
        assert!(parse_args(&["--only"]).is_err());
        assert!(parse_args(&["--fast"]).is_err());
    }

    #[test]
    fn missing_markers_are_an_error() {
        let err = replace_between_markers("no markers", "t").unwrap_err();
        assert!(err.contains("markers"), "{err}");
    }
}
