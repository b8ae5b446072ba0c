//! The test registries for the browser tests: `porthole-testkit serve` prints one line of JSON
//! describing them and keeps them up until its stdin closes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::cmd;

/// How long to wait for the JSON line; it includes compiling the testkit on a cold target dir.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// How long the process gets to exit after its stdin closes before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Running test registries; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Registries {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The whole JSON line, for `PORTHOLE_TEST_REGISTRIES_JSON`.
    pub(crate) json: String,
    /// The anonymous registry's URL, for `PORTHOLE_TEST_REGISTRY`.
    pub(crate) anonymous: String,
}

impl Registries {
    /// Starts `cargo run -q -p porthole-testkit --bin porthole-testkit -- serve` and reads its line.
    pub(crate) fn start() -> Result<Self, String> {
        let mut command = cmd::cargo();
        command.args(["run", "-q", "-p", "porthole-testkit"]);
        command.args(["--bin", "porthole-testkit", "--", "serve"]);
        Self::start_with(&mut command)
    }

    /// Starts `command`, which must behave like `porthole-testkit serve`, and reads its line.
    fn start_with(command: &mut Command) -> Result<Self, String> {
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
        println!("$ {}", cmd::display(command));
        let mut child = command
            .spawn()
            .map_err(|err| format!("could not start the testkit: {err}"))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or("the testkit's stdout was not captured")?;
        let (sender, first_line) = mpsc::channel();
        thread::spawn(move || forward_stdout(BufReader::new(stdout), &sender));
        let mut registries = Self {
            child,
            stdin,
            json: String::new(),
            anonymous: String::new(),
        };
        match first_line.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) if !line.trim().is_empty() => registries.json = line.trim().to_owned(),
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                registries.stop();
                return Err("the testkit exited before printing its registries".into());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                registries.stop();
                return Err(format!(
                    "no registries from the testkit after {STARTUP_TIMEOUT:?}"
                ));
            }
        }
        registries.anonymous = json_string(&registries.json, "anonymous").ok_or_else(|| {
            format!(
                "the testkit's line has no \"anonymous\" URL: {}",
                registries.json
            )
        })?;
        println!("test registries up; anonymous at {}", registries.anonymous);
        Ok(registries)
    }

    /// Closes the testkit's stdin so it shuts its registries down; kills it if it lingers.
    fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        eprintln!("the testkit did not exit {STOP_GRACE:?} after its stdin closed; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registries {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends the first line of `stdout` to `first_line` and copies the rest to our stdout.
fn forward_stdout(mut stdout: impl BufRead, first_line: &mpsc::Sender<String>) {
    let mut line = String::new();
    let _ = stdout.read_line(&mut line);
    let _ = first_line.send(line);
    for line in stdout.lines().map_while(Result::ok) {
        let _ = writeln!(std::io::stdout(), "testkit: {line}");
    }
}

/// The string value of `key` in a line of JSON, found by its first occurrence. Enough for the
/// testkit's line (URL values, no escapes) without a JSON parser in xtask.
fn json_string(json: &str, key: &str) -> Option<String> {
    let after_key = json.split_once(&format!("\"{key}\""))?.1;
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(value.split('"').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_anonymous_url() {
        let line =
            r#"{"anonymous": "http://127.0.0.1:41234","basic":"http://127.0.0.1:5","users":{}}"#;
        assert_eq!(
            json_string(line, "anonymous").as_deref(),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(
            json_string(line, "basic").as_deref(),
            Some("http://127.0.0.1:5")
        );
        assert_eq!(json_string(line, "token"), None);
    }

    /// A stand-in for the testkit: prints its line, then waits for stdin to close.
    fn fake_serve(line: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", &format!("echo '{line}'; cat >/dev/null")]);
        command
    }

    #[test]
    fn reads_the_line_and_stops_when_dropped() {
        let line = r#"{"anonymous":"http://127.0.0.1:1","users":{}}"#;
        let mut registries = Registries::start_with(&mut fake_serve(line)).unwrap();
        assert_eq!(registries.json, line);
        assert_eq!(registries.anonymous, "http://127.0.0.1:1");
        assert!(
            registries.child.try_wait().unwrap().is_none(),
            "exited before stdin closed"
        );
        let started = Instant::now();
        registries.stop();
        assert!(
            started.elapsed() < STOP_GRACE,
            "needed killing instead of closing stdin"
        );
        assert!(registries.child.try_wait().unwrap().is_some());
    }

    #[test]
    fn a_testkit_that_prints_nothing_is_an_error() {
        let err = Registries::start_with(Command::new("true").arg("--")).unwrap_err();
        assert!(err.contains("exited before printing"), "{err}");
        let err = Registries::start_with(&mut fake_serve("{}")).unwrap_err();
        assert!(err.contains("no \"anonymous\" URL"), "{err}");
    }
}
