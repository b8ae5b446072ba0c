//! `cargo xtask test`: setup, then every test layer, each a timed step, then a summary.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cmd;
use crate::serve::Registries;
use crate::setup;
use crate::step::Report;

/// Runs the steps in order, continuing after a failure where later steps can still say
/// something useful, and prints the summary last. Exits non-zero if any step failed.
pub(crate) fn run(root: &Path, quick: bool) -> ExitCode {
    let mut report = Report::new();
    if quick {
        report.skip("setup", "--quick");
    } else if !report.run("setup", || setup::run(root)) {
        // Without the tools the other steps can only fail in confusing ways.
        println!("{}", report.summary());
        return ExitCode::FAILURE;
    }
    report.run("fmt", || cargo(&["fmt", "--all", "--", "--check"]));
    let clippy = [
        (
            "clippy native",
            &["--workspace", "--exclude", "porthole-browser"][..],
        ),
        (
            "clippy wasm",
            &[
                "-p",
                "porthole-core",
                "-p",
                "porthole-browser",
                "-p",
                "porthole-bench",
                "-p",
                "porthole-dashboard",
                "-p",
                "porthole-js",
                "--target",
                WASM,
            ][..],
        ),
    ];
    for (name, scope) in clippy {
        if quick {
            report.skip(name, "--quick");
        } else {
            report.run(name, || cargo(&[&["clippy"], scope, CLIPPY_TAIL].concat()));
        }
    }
    report.run("native tests", || {
        cargo(&[
            "test",
            "-p",
            "porthole-core",
            "-p",
            "porthole-testkit",
            "-p",
            "xtask",
            // The dashboard's pure helpers (natively, Leptos is wasm-only there).
            "-p",
            "porthole-dashboard",
        ])
    });
    crate::fuzz::print_reliability_figures(root);
    if quick {
        report.skip("fuzz", "--quick");
    } else {
        report.run("fuzz", || crate::fuzz::test_step(root));
    }
    report.run("browser tests", || browser_tests(root));
    report.run("dashboard e2e", || crate::dev::e2e(root));
    report.run("npm package", || crate::npm::test(root));
    println!("{}", report.summary());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

const WASM: &str = "wasm32-unknown-unknown";
const CLIPPY_TAIL: &[&str] = &["--all-targets", "--", "-D", "warnings"];

/// `cargo <args>`, failing unless it exits 0.
fn cargo(args: &[&str]) -> Result<(), String> {
    cmd::run(cmd::cargo().args(args))
}

/// wasm-bindgen-test in headless Chromium against the testkit's registries.
fn browser_tests(root: &Path) -> Result<(), String> {
    if !root.join("crates/porthole-browser/tests").is_dir() {
        println!("porthole-browser has no tests/ yet; running anyway (only unit tests, if any)");
    }
    let registries = Registries::start()?;
    let mut test = cmd::cargo();
    test.args(["test", "--target", WASM, "-p", "porthole-browser"])
        .env("PATH", path_with_node_tools(root)?)
        .env_remove("NO_COLOR")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
        .env("PORTHOLE_TEST_REGISTRY", &registries.anonymous)
        .env("PORTHOLE_TEST_REGISTRIES_JSON", &registries.json);
    let result = cmd::run(&mut test);
    drop(registries);
    result
}

/// `$PATH` with the repo's `node_modules/.bin` first, so npm's wasm-opt 132 wins over Debian's
/// broken 108.
fn path_with_node_tools(root: &Path) -> Result<OsString, String> {
    let mut dirs: Vec<PathBuf> = vec![root.join("node_modules/.bin")];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    env::join_paths(dirs).map_err(|err| format!("cannot build PATH: {err}"))
}
