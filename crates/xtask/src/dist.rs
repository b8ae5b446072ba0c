//! `cargo xtask dist`: the dashboard as a static site in `dist/` (trunk release build), with its
//! size over the wire. deploy/nginx.conf serves it and proxies the registry on the same origin.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd;
use crate::dev;
use crate::setup;

/// The size budget of the whole dashboard, gzip-compressed (issue 7).
const BUDGET_GZIP: u64 = 250 * 1024;

/// Runs `cargo xtask dist`.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    setup::run(root)?;
    let dist = build(root, &root.join("dist"))?;
    let total = report_sizes(&dist)?;
    println!(
        "dist: {} ready; serve it with deploy/nginx.conf (see the comments at its top)",
        dist.display()
    );
    if total > BUDGET_GZIP {
        // Reported, not fatal: the site works; the budget is issue 7's to meet.
        println!(
            "dist: warning: {} KiB gzip, over the {} KiB budget",
            total / 1024,
            BUDGET_GZIP / 1024
        );
    }
    Ok(())
}

/// `trunk build --release` from the repository's Trunk.toml into `dist`.
pub(crate) fn build(root: &Path, dist: &Path) -> Result<PathBuf, String> {
    let mut trunk = dev::trunk(root)?;
    trunk
        .args(["build", "--release", "--dist"])
        .arg(dist)
        .env("TRUNK_COLOR", "never");
    cmd::run(&mut trunk)?;
    Ok(dist.to_path_buf())
}

/// Prints each file's raw and gzip size; returns the gzip total.
fn report_sizes(dist: &Path) -> Result<u64, String> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dist)
        .map_err(|e| format!("cannot read {}: {e}", dist.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let mut total = 0;
    println!("{:<48} {:>10} {:>10}", "file", "bytes", "gzip -9");
    for path in entries {
        let raw = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let gz = cmd::output(
            Command::new("sh")
                .arg("-c")
                .arg(format!("gzip -9 -c '{}' | wc -c", path.display())),
        )
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(raw);
        total += gz;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("{name:<48} {raw:>10} {gz:>10}");
    }
    println!("{:<48} {:>10} {total:>10}", "total", "");
    Ok(total)
}
