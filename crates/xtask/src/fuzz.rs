//! `cargo xtask fuzz [--seconds N]`: runs each cargo-fuzz target of `fuzz/` for a bounded time,
//! installing cargo-fuzz first when it is missing. `cargo xtask test` runs them briefly as one
//! step ([`test_step`]) and prints the reliability figures of the native tests
//! ([`print_reliability_figures`]).
//!
//! cargo-fuzz needs nightly compiler features (`-Z sanitizer`); this repository pins a stable
//! toolchain, so they are enabled with `RUSTC_BOOTSTRAP=1` for the fuzz build only.

use std::path::Path;

use crate::cmd;

/// The fuzz targets, as named in `fuzz/Cargo.toml`.
pub(crate) const TARGETS: [&str; 6] = [
    "reference",
    "www_authenticate",
    "link",
    "manifest",
    "error_body",
    "token_answer",
];

/// Seconds per target under `cargo xtask fuzz`.
pub(crate) const DEFAULT_SECONDS: u64 = 30;

/// Seconds per target as a step of `cargo xtask test`.
pub(crate) const TEST_SECONDS: u64 = 10;

/// Parses the arguments after `fuzz`: nothing, or `--seconds N`.
pub(crate) fn parse_args(args: &[&str]) -> Result<u64, String> {
    match args {
        [] => Ok(DEFAULT_SECONDS),
        ["--seconds", n] => n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("--seconds wants a positive whole number, not {n:?}")),
        _ => Err(format!(
            "usage: cargo xtask fuzz [--seconds N]  (got `{}`)",
            args.join(" ")
        )),
    }
}

/// Installs cargo-fuzz when missing, then runs every target for `seconds` each. A crash fails
/// the run and names the input libFuzzer saved under `fuzz/artifacts/<target>/`: turn it into
/// a unit test in porthole-core, then fix the parser.
pub(crate) fn run(root: &Path, seconds: u64) -> Result<(), String> {
    ensure_cargo_fuzz()?;
    let fuzz_dir = root.join("fuzz");
    // Built first, so a build failure (a missing C++ compiler for libFuzzer, say) is reported
    // as one, not as a crash of every target.
    println!(
        "fuzz: building the {} targets (about a minute)",
        TARGETS.len()
    );
    cmd::run(
        cmd::cargo()
            .current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "build", "-O"]),
    )
    .map_err(|err| format!("the fuzz targets do not build: {err}"))?;
    let mut failed = Vec::new();
    for target in TARGETS {
        println!("fuzz: {target} for {seconds} s");
        let mut command = cmd::cargo();
        command
            .current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target, "-O", "--"])
            .arg(format!("-max_total_time={seconds}"))
            .args([
                "-rss_limit_mb=2048",
                "-max_len=65536",
                "-print_final_stats=1",
            ]);
        if let Err(err) = cmd::run(&mut command) {
            eprintln!(
                "fuzz: {target} found a crash ({err}); the input is in fuzz/artifacts/{target}/"
            );
            failed.push(target);
        }
    }
    if failed.is_empty() {
        println!(
            "fuzz: {} targets ran {seconds} s each without a crash",
            TARGETS.len()
        );
        Ok(())
    } else {
        Err(format!("fuzz targets with crashes: {}", failed.join(", ")))
    }
}

/// The step `cargo xtask test` runs: every target for [`TEST_SECONDS`].
pub(crate) fn test_step(root: &Path) -> Result<(), String> {
    run(root, TEST_SECONDS)
}

/// Prints the figures the reliability tests wrote to `target/reliability/*.txt` (libtest hides
/// a passing test's output). Missing figures are not an error: the tests may not have run.
pub(crate) fn print_reliability_figures(root: &Path) {
    let dir = cmd::target_dir(root).join("reliability");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    println!("\nreliability figures ({}):", dir.display());
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            print!("{text}");
        }
    }
}

/// The cargo-fuzz release tested here (pinned so a newer one cannot ask for a newer rustc).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

fn ensure_cargo_fuzz() -> Result<(), String> {
    let installed = cmd::cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains(CARGO_FUZZ_VERSION)
        });
    if installed {
        return Ok(());
    }
    println!(
        "fuzz: installing cargo-fuzz {CARGO_FUZZ_VERSION} (about 2 minutes on 2 cores; once per machine)"
    );
    cmd::run(cmd::cargo().args([
        "install",
        "--locked",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_argument() {
        assert_eq!(parse_args(&[]), Ok(DEFAULT_SECONDS));
        assert_eq!(parse_args(&["--seconds", "5"]), Ok(5));
        assert!(parse_args(&["--seconds", "0"]).is_err());
        assert!(parse_args(&["--seconds", "x"]).is_err());
        assert!(parse_args(&["--minutes", "1"]).is_err());
    }

    #[test]
    fn every_target_is_declared() {
        let manifest = include_str!("../../../fuzz/Cargo.toml");
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "{target} is not in fuzz/Cargo.toml"
            );
        }
    }
}
