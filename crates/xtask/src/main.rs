//! Porthole's task runner, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! Standard library only, so it compiles in seconds on a fresh machine.
//!
//! - `setup`: installs what the machine lacks (wasm target, pinned tools, Debian packages, npm tools).
//! - `test [--quick]`: setup, then every test layer, ending with a summary table.
//! - `fmt`: formats the workspace.
//! - `fuzz [--seconds N]`: every cargo-fuzz target of fuzz/ for N s (default 30).
//! - `bench [--smoke] [--only SUITES]`: benchmarks against a real registry, side by side with curl and the
//!   browser's own limits; writes target/bench/latest.json and the table in BENCHMARKS.md.
//! - `dev [--registry URL]`: the dashboard through `trunk serve` with a same-origin proxy to a
//!   sample registry (or to URL).
//! - `dist`: the dashboard as a static site in dist/ (deploy/nginx.conf serves it).

mod bench;
mod cmd;
mod dev;
mod dist;
mod fuzz;
mod npm;
mod serve;
mod setup;
mod step;
mod testing;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup          install what this machine lacks (wasm target, wasm-bindgen-cli, trunk,
                 Debian packages, npm tools); quick when everything is there
  test           setup, then format check, clippy (native + wasm32), native tests
                 (unit, integration, interop, doc), fuzz, browser tests, the dashboard's
                 end-to-end tests and the npm package's; ends with a summary
  test --quick   the same without setup, clippy and fuzz
  fmt            format the workspace (cargo fmt --all)
  fuzz [--seconds N]   run each fuzz target of fuzz/ for N s (default 30); installs
                 cargo-fuzz when missing
  npm            build the npm package into target/npm/porthole (prints its size)
  dev            the dashboard on a local registry with sample content (trunk serve,
                 same-origin proxy); prints the URL to open
  dev --registry URL   the same, proxying to any registry instead
  dist           build the dashboard as a static site into dist/ (see deploy/nginx.conf);
                 --pull-host HOST names the registry's own address in its pull commands
  bench          benchmarks against a real registry beside curl, openssl and the browser's
                 own fetch (~8 min); writes target/bench/latest.json and BENCHMARKS.md
  bench --smoke  the same harness with tiny sizes and one run (~20 s), no figures
  bench --only upload,download,sha,list,memory,sizes   some suites only (while
                 iterating); writes target/bench/partial/, leaves BENCHMARKS.md alone";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = repo_root();
    if let Err(err) = std::env::set_current_dir(&root) {
        eprintln!(
            "xtask: cannot enter the repository root {}: {err}",
            root.display()
        );
        return ExitCode::FAILURE;
    }
    match args.as_slice() {
        ["setup"] => report_setup(&root),
        ["test"] => testing::run(&root, false),
        ["test", "--quick"] => testing::run(&root, true),
        ["npm"] => exit_code(npm::run(&root)),
        ["fmt"] => exit_code(cmd::run(cmd::cargo().args(["fmt", "--all"]))),
        ["fuzz", rest @ ..] => exit_code(fuzz::parse_args(rest).and_then(|s| fuzz::run(&root, s))),
        ["dev", rest @ ..] => exit_code(dev::run(&root, rest)),
        ["dist", rest @ ..] => {
            exit_code(dist::parse_args(rest).and_then(|host| dist::run(&root, host.as_deref())))
        }
        ["bench", rest @ ..] => {
            exit_code(bench::parse_args(rest).and_then(|o| bench::run(&root, &o)))
        }
        [] | ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("xtask: unknown command `{}`\n\n{USAGE}", args.join(" "));
            ExitCode::from(2)
        }
    }
}

/// The workspace root: two levels above this crate's manifest directory.
fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// Runs `cargo xtask setup` and turns its outcome into an exit code.
fn report_setup(root: &Path) -> ExitCode {
    let result = setup::run(root);
    if result.is_ok() {
        println!("setup: everything is in place");
    }
    exit_code(result.map_err(|err| format!("setup failed:\n{err}")))
}

/// 0 for success, 1 for failure (after the error has been printed).
fn exit_code(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
