//! Temp dirs, free ports and child processes that clean up after themselves, so a test that
//! panics still leaves no registry running and no files behind.

use std::fs;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::KitError;

/// A directory under the system temp dir, removed with everything in it on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory whose name starts with `porthole-<prefix>-`.
    pub fn new(prefix: &str) -> Result<Self, KitError> {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_stale_dirs);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("porthole-{prefix}-{}-{n}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path)
            .map_err(|e| KitError::new(format!("cannot create {}: {e}", path.display())))?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes `porthole-*-<pid>-*` dirs left by kit processes that are gone: a test binary killed
/// with SIGKILL never runs its destructors.
fn sweep_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("porthole-") else {
            continue;
        };
        // porthole-<prefix>-<pid>-<n>-<nanos>: the pid is the third field from the end.
        let fields: Vec<&str> = rest.rsplitn(4, '-').collect();
        let pid = fields.get(2).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| pid != std::process::id() && !process_alive(pid)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A child process that is killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Child,
    name: &'static str,
}

impl ChildGuard {
    /// Spawns `command` with stdin closed and stdout and stderr appended to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        log: &Path,
    ) -> Result<Self, KitError> {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| KitError::new(format!("cannot open {}: {e}", log.display())))?;
        let err_file = file
            .try_clone()
            .map_err(|e| KitError::new(format!("cannot open {}: {e}", log.display())))?;
        command.stdin(Stdio::null()).stdout(file).stderr(err_file);
        let child = command
            .spawn()
            .map_err(|e| KitError::new(format!("cannot start {name}: {e}")))?;
        Ok(Self { child, name })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(description)` when the process has already exited.
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            Ok(None) => None,
            Err(e) => Some(format!("{}: cannot query its state: {e}", self.name)),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // SIGKILL: the servers hold nothing worth a graceful shutdown, and waiting for one
        // would slow every test down.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1 (the OS picks it: bind to port 0).
///
/// Another process may take it before the caller binds it; callers that start servers retry
/// with a new port when the server fails to come up.
pub fn free_port() -> Result<u16, KitError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| KitError::new(format!("cannot find a free loopback port: {e}")))
}

/// The last `lines` lines of a log file, or a note that it cannot be read.
pub fn log_tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Whether an executable exists at `path`.
pub(crate) fn require_binary(path: &str, hint: &str) -> Result<(), KitError> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        _ => Err(KitError::new(hint.to_string())),
    }
}

/// Runs a command to completion and returns its stdout; a failure carries its stderr.
pub(crate) fn run(command: &mut Command, what: &str) -> Result<Vec<u8>, KitError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| KitError::new(format!("{what}: cannot run: {e}")))?;
    if !output.status.success() {
        return Err(KitError::new(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

/// Whether a process with this id is alive (a zombie counts as gone).
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(_) => true,
    }
}
