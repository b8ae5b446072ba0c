//! `porthole-testkit serve [--no-stdin]`: starts the registries the browser tests use, prints
//! one line of JSON with their URLs on stdout, and stays up until stdin closes (unless
//! `--no-stdin`) or it gets SIGTERM, SIGINT or SIGHUP. Then everything it started is stopped.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use porthole_testkit::{AcrEmulator, AuthMode, Fault, FaultProxy, KitError, Registry, Rule};
use serde_json::{json, Map, Value};

const USAGE: &str = "usage: porthole-testkit serve [--no-stdin]

Starts an anonymous, a basic-auth and a token-auth registry, nginx CORS fronts for the two
auth registries, an ACR emulator, and a fault proxy in front of the anonymous registry that
breaks the first of every two GETs of a repository named with `broken-body` or `lost-range`
halfway through its body (and, for `lost-range`, drops the Range header of the second, so the
registry answers 200 with everything). Prints one JSON line on stdout:
  {\"anonymous\",\"anonymous_broken_bodies\",\"basic\",\"token\",\"basic_front\",\"token_front\",\"token_realm\",\"service\",\"users\",
   \"acr\",\"acr_auth\":{\"service\",\"audience\",\"aad_tokens\":{\"owner\",\"reader\"},\"admin\":{\"username\",\"password\"}}}
and runs until stdin closes (or, with --no-stdin, until SIGTERM/SIGINT/SIGHUP).";

/// The AAD tokens `serve` prints for browser tests outlive any test run.
const AAD_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => parse_serve_flags(&args[1..]).and_then(serve),
        Some("-h" | "--help") => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(KitError::new(USAGE)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("porthole-testkit: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Returns whether to watch stdin.
fn parse_serve_flags(flags: &[String]) -> Result<bool, KitError> {
    match flags {
        [] => Ok(true),
        [flag] if flag == "--no-stdin" => Ok(false),
        _ => Err(KitError::new(USAGE)),
    }
}

fn serve(watch_stdin: bool) -> Result<(), KitError> {
    let stop = Arc::new(AtomicBool::new(false));
    // Registered first, so a signal during start-up still stops (and cleans up) everything.
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| KitError::new(format!("cannot handle signal {signal}: {e}")))?;
    }
    let anonymous = Registry::start(AuthMode::Anonymous)?;
    // Resumed downloads in the browser: GET 1, 3, 5, ... of `broken-body` repositories lose
    // their connection halfway through the body; the resume (2, 4, 6, ...) goes through.
    // In `lost-range` repositories the resumes (GET 2, 4, ...) lose their Range header on the
    // way, so the registry answers 200 with everything: the client skips what it had.
    let broken_bodies = FaultProxy::start(
        &anonymous.url(),
        vec![
            Rule::new(Fault::ResetInResponseBody)
                .method("GET")
                .path_contains("broken-body")
                .every(2)
                .first(1),
            Rule::new(Fault::ResetInResponseBody)
                .method("GET")
                .path_contains("lost-range")
                .every(2)
                .first(1),
            Rule::new(Fault::IgnoreRange)
                .method("GET")
                .path_contains("lost-range")
                .every(2)
                .first(2),
            // Stalled connections: GET 1, 3, ... of `stalled-body` repositories stop halfway
            // through the body without closing; HEAD 1, 3, ... of `slow-answer` repositories
            // are answered only after 20 s.
            Rule::new(Fault::StallInResponseBody(Duration::from_secs(20)))
                .method("GET")
                .path_contains("stalled-body")
                .every(2)
                .first(1),
            Rule::new(Fault::Delay(Duration::from_secs(20)))
                .method("HEAD")
                .path_contains("slow-answer")
                .every(2)
                .first(1),
        ],
    )?;
    let basic = Registry::start(AuthMode::Basic)?;
    let token = Registry::start(AuthMode::Token)?;
    let basic_front = basic.start_front()?;
    let token_front = token.start_front()?;
    // Anonymous pull on, as a public ACR has it: the browser tests list tags anonymously.
    let acr = AcrEmulator::builder().anonymous_pull(true).start()?;
    let token_server = token
        .token_server()
        .ok_or_else(|| KitError::new("the token registry has no token server"))?;
    let users: Map<String, Value> = token
        .users()
        .iter()
        .map(|u| (u.name.clone(), u.to_json()))
        .collect();
    let line = json!({
        "anonymous": anonymous.url(),
        "anonymous_broken_bodies": broken_bodies.url(),
        "basic": basic.url(),
        "token": token.url(),
        "basic_front": basic_front.url(),
        "token_front": token_front.url(),
        "token_realm": token_server.realm(),
        "service": token_server.service(),
        "users": users,
        "acr": acr.url(),
        "acr_auth": acr.serve_json(AAD_TOKEN_LIFETIME)?,
    });
    announce(&line)?;
    if watch_stdin {
        watch_for_eof(stop.clone());
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("porthole-testkit: stopping");
    Ok(())
}

/// The one line on stdout: whoever started us reads it to learn the URLs.
fn announce(line: &Value) -> Result<(), KitError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| KitError::new(format!("cannot write to stdout: {e}")))
}

/// Sets `stop` when stdin reaches its end: the parent closing our stdin (or dying) stops us.
fn watch_for_eof(stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut sink = [0u8; 1024];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        stop.store(true, Ordering::SeqCst);
    });
}
