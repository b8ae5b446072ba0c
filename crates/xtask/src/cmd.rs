//! Small helpers for running external programs and describing them in messages.

use std::ffi::OsString;
use std::process::{Command, Stdio};

/// `cargo`, the same binary that runs xtask when it is available (`$CARGO`).
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// The command line as a person would type it, e.g. `cargo fmt --all`.
pub(crate) fn display(cmd: &Command) -> String {
    let program = cmd.get_program().to_string_lossy();
    // Show `cargo` rather than the full path of `$CARGO`.
    let program = if program.ends_with("/cargo") {
        "cargo".into()
    } else {
        program
    };
    let mut line = program.into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Prints `cmd`, runs it with inherited stdio, and fails unless it exits 0.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let line = display(cmd);
    println!("$ {line}");
    let status = cmd
        .status()
        .map_err(|err| format!("could not start `{line}`: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status})"))
    }
}

/// Runs `cmd` quietly; its trimmed stdout when it exits 0, `None` when it is missing or fails.
pub(crate) fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The version a `<tool> --version` prints as its second word (`trunk 0.21.14` gives `0.21.14`).
pub(crate) fn tool_version(tool: &str) -> Option<String> {
    let out = output(Command::new(tool).arg("--version"))?;
    out.split_whitespace().nth(1).map(str::to_owned)
}

/// Whether this process runs as root.
fn is_root() -> bool {
    output(Command::new("id").arg("-u")).as_deref() == Some("0")
}

/// A command that runs `program` as root: directly when we are root, through `sudo` otherwise.
/// `env` is passed on explicitly because sudo drops the environment.
pub(crate) fn as_root(program: &str, env: &[(&str, &str)]) -> Command {
    let root = is_root();
    let mut cmd = Command::new(if root { "env" } else { "sudo" });
    if !root {
        cmd.arg("env");
    }
    cmd.args(env.iter().map(|(key, value)| format!("{key}={value}")));
    cmd.arg(program);
    cmd
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `<root>/target`.
pub(crate) fn target_dir(root: &std::path::Path) -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from)
}
