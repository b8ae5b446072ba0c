//! A fault-injecting HTTP/1.1 proxy: a real TCP listener on a free loopback port, in front of a
//! real registry, that breaks chosen requests in chosen ways on a deterministic schedule and
//! counts what it did.
//!
//! ```no_run
//! use porthole_testkit::{AuthMode, Fault, FaultProxy, Registry, Rule};
//!
//! let registry = Registry::start(AuthMode::Anonymous).unwrap();
//! // Every 5th request gets 503; every blob download has one byte flipped.
//! let proxy = FaultProxy::start(
//!     &registry.url(),
//!     vec![
//!         Rule::new(Fault::Status(503)).every(5),
//!         Rule::new(Fault::FlipByte).method("GET").path_contains("/blobs/sha256:"),
//!     ],
//! )
//! .unwrap();
//! // ... point a client at proxy.url(), then:
//! println!("{} requests, {} faults", proxy.requests(), proxy.injected_total());
//! ```
//!
//! Faults that stop a request before the registry (statuses, 429, a reset inside the request
//! body, a redirect) never reach it, so the registry's state is exactly what the client can
//! learn by asking; faults on the answer (a reset inside the response body, truncation, a
//! flipped byte, a missing header, a delay) happen after the registry acted.
//!
//! The proxy rewrites the registry's `Host` and its absolute `Location` and `Link` headers so
//! that uploads keep going through it. Every answer says `Connection: close`. Everything stops
//! on drop.

use std::collections::BTreeMap;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::http1::{self, BodyReader, Framing};
use crate::KitError;

/// One way to break an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers this status (500, 502, 503, ...) with an OCI error body, without forwarding.
    Status(u16),
    /// Answers 429 with `Retry-After: <seconds>` and `TOOMANYREQUESTS`, without forwarding.
    TooManyRequests {
        /// The `Retry-After` value in seconds.
        retry_after_s: u64,
    },
    /// Reads half of the request body (none when it has none), then resets the connection
    /// (TCP RST): the registry never sees the request.
    ResetInRequestBody,
    /// Forwards the request, sends the answer's head and half its body (announcing the whole
    /// length), then resets the connection. An answer without a body is lost whole: the
    /// registry acted but the client never hears of it.
    ResetInResponseBody,
    /// Forwards the request, sends the answer's head and half its body (announcing the whole
    /// length), then holds the connection open without a byte for this long before resetting
    /// it: a connection that stalled without closing, as a network change can leave one.
    StallInResponseBody(Duration),
    /// Forwards the request, sends a 2xx answer with a body chunked (no `Content-Length`) and
    /// whole, then closes the connection instead of sending the last, empty chunk: every byte
    /// arrives, only the body's end is lost, and the client cannot tell from a length.
    CloseBeforeLastChunk,
    /// Forwards the request and sends the answer only after this delay.
    Delay(Duration),
    /// Forwards the request and sends only the first half of the answer's body, with a
    /// `Content-Length` that matches the half: only a digest check can tell. Only 2xx answers
    /// with a body are truncated (and, for [`Fault::FlipByte`], corrupted).
    TruncateBody,
    /// Forwards the request and flips one bit of the byte in the middle of the answer's body.
    FlipByte,
    /// Forwards the request and removes this header from the answer (`Location`, `Range`).
    DropHeader(&'static str),
    /// Forwards the request and replaces this header's value in the answer, when it has the
    /// header (a proxy or registry that mangles it).
    ReplaceHeader(&'static str, &'static str),
    /// Answers `307 Temporary Redirect` to `<base><path and query>` without forwarding (a
    /// registry sending blob downloads to storage on another host).
    RedirectTo(String),
    /// Forwards the request without its `Range` header: the registry answers 200 with all of
    /// the content, as a registry (or cache) that ignores `Range` does.
    IgnoreRange,
}

impl Fault {
    /// A short stable name, used in the counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status(500) => "500",
            Self::Status(502) => "502",
            Self::Status(503) => "503",
            Self::Status(504) => "504",
            Self::Status(_) => "status",
            Self::TooManyRequests { .. } => "429",
            Self::ResetInRequestBody => "reset-in-request-body",
            Self::ResetInResponseBody => "reset-in-response-body",
            Self::StallInResponseBody(_) => "stalled-response-body",
            Self::CloseBeforeLastChunk => "close-before-last-chunk",
            Self::Delay(_) => "delay",
            Self::TruncateBody => "truncated-body",
            Self::FlipByte => "flipped-byte",
            Self::DropHeader(h) if h.eq_ignore_ascii_case("location") => "missing-location",
            Self::DropHeader(h) if h.eq_ignore_ascii_case("range") => "missing-range",
            Self::DropHeader(_) => "missing-header",
            Self::ReplaceHeader(..) => "replaced-header",
            Self::RedirectTo(_) => "redirect",
            Self::IgnoreRange => "range-ignored",
        }
    }
}

/// When a fault is injected: on requests matching an optional method and path fragment, every
/// `every`-th one starting at the `first`-th, at most `limit` times. The faults of a rule are
/// used in turn (a rotation), so one rule can mix several.
#[derive(Debug, Clone)]
pub struct Rule {
    faults: Vec<Fault>,
    method: Option<String>,
    path_contains: Option<String>,
    every: usize,
    /// `None`: the `every`-th.
    first: Option<usize>,
    limit: Option<usize>,
}

impl Rule {
    /// Every matching request gets `fault` (narrow it with the builder methods).
    pub fn new(fault: Fault) -> Self {
        Self::rotating(vec![fault])
    }

    /// Hits use these faults in turn: the first hit the first fault, and so on, round and round.
    pub fn rotating(faults: Vec<Fault>) -> Self {
        assert!(!faults.is_empty(), "a rule needs at least one fault");
        Self {
            faults,
            method: None,
            path_contains: None,
            every: 1,
            first: None,
            limit: None,
        }
    }

    /// Only requests with this method (`GET`, `PATCH`, ...).
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose target (path and query) contains this text.
    pub fn path_contains(mut self, fragment: &str) -> Self {
        self.path_contains = Some(fragment.to_string());
        self
    }

    /// Every `n`-th matching request (1: each one). The first hit is the `n`-th, unless
    /// [`Rule::first`] says otherwise.
    pub fn every(mut self, n: usize) -> Self {
        self.every = n.max(1);
        self
    }

    /// The first hit is the `k`-th matching request (1-based); hits follow every
    /// [`Rule::every`] requests from there.
    pub fn first(mut self, k: usize) -> Self {
        self.first = Some(k.max(1));
        self
    }

    /// Stops after `n` hits.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| target.contains(p))
    }
}

/// A rule and its counters.
#[derive(Debug)]
struct RuleState {
    rule: Rule,
    /// Matching requests seen.
    seen: usize,
    /// Faults chosen.
    hits: usize,
}

impl RuleState {
    /// Counts a request and says whether this rule breaks it.
    fn decide(&mut self, method: &str, target: &str) -> Option<Fault> {
        if !self.rule.matches(method, target) {
            return None;
        }
        self.seen += 1;
        let first = self.rule.first.unwrap_or(self.rule.every);
        let on_schedule = self.seen >= first && (self.seen - first).is_multiple_of(self.rule.every);
        let under_limit = self.rule.limit.is_none_or(|l| self.hits < l);
        if !(on_schedule && under_limit) {
            return None;
        }
        let fault = self.rule.faults[self.hits % self.rule.faults.len()].clone();
        self.hits += 1;
        Some(fault)
    }
}

/// One request the proxy handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyEvent {
    /// 1-based, in order of arrival.
    pub index: usize,
    /// The method.
    pub method: String,
    /// Path and query as the client sent them.
    pub target: String,
    /// Whether the request carried an `Authorization` header.
    pub authorized: bool,
    /// The fault injected ([`Fault::kind`]), if any.
    pub fault: Option<&'static str>,
    /// The status the client was sent (`None`: it got no answer head).
    pub status: Option<u16>,
}

#[derive(Debug, Default)]
struct Shared {
    rules: Vec<RuleState>,
    events: Vec<ProxyEvent>,
    /// Faults that took effect, by kind.
    injected: BTreeMap<&'static str, usize>,
}

/// A running fault proxy; stops on drop.
pub struct FaultProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Where the proxy forwards to and what it says it is.
#[derive(Debug, Clone)]
struct Route {
    /// `127.0.0.1:PORT` of the registry.
    upstream: String,
    /// `http://127.0.0.1:PORT` of the registry.
    upstream_origin: String,
    /// `http://127.0.0.1:PORT` of the proxy.
    own_origin: String,
}

impl FaultProxy {
    /// Listens on a free 127.0.0.1 port and forwards to `upstream` (`http://127.0.0.1:PORT`),
    /// injecting faults by `rules` (the first rule that fires wins; every rule counts every
    /// request it matches).
    pub fn start(upstream: &str, rules: Vec<Rule>) -> Result<Self, KitError> {
        let authority = upstream
            .strip_prefix("http://")
            .ok_or_else(|| KitError::new(format!("the fault proxy speaks http only: {upstream}")))?
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| KitError::new(format!("cannot bind a loopback port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| KitError::new(format!("cannot read the bound address: {e}")))?;
        let route = Arc::new(Route {
            upstream_origin: format!("http://{authority}"),
            upstream: authority,
            own_origin: format!("http://{addr}"),
        });
        let shared = Arc::new(Mutex::new(Shared {
            rules: rules
                .into_iter()
                .map(|rule| RuleState {
                    rule,
                    seen: 0,
                    hits: 0,
                })
                .collect(),
            ..Shared::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = shared.clone();
            crate::server::spawn_accept_loop(listener, stop.clone(), move |stream| {
                let _ = serve(stream, &shared, &route);
            })
        };
        Ok(Self {
            addr,
            stop,
            shared,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.lock().events.len()
    }

    /// Faults that took effect, by [`Fault::kind`]. A fault chosen for a request it cannot
    /// apply to (a flipped byte of an empty body) does not count.
    pub fn injected(&self) -> BTreeMap<&'static str, usize> {
        self.lock().injected.clone()
    }

    /// How many faults took effect in all.
    pub fn injected_total(&self) -> usize {
        self.lock().injected.values().sum()
    }

    /// Every request handled so far, in order.
    pub fn events(&self) -> Vec<ProxyEvent> {
        self.lock().events.clone()
    }

    /// Replaces the rules (their counters start again); the counts of what was injected stay.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.lock().rules = rules
            .into_iter()
            .map(|rule| RuleState {
                rule,
                seen: 0,
                hits: 0,
            })
            .collect();
    }

    /// A one-line summary: `N requests, M faults (kind: n, ...)`.
    pub fn summary(&self) -> String {
        let shared = self.lock();
        let kinds: Vec<String> = shared
            .injected
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        format!(
            "{} requests, {} faults ({})",
            shared.events.len(),
            shared.injected.values().sum::<usize>(),
            kinds.join(", ")
        )
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        crate::server::stop_accept_loop(&self.stop, self.addr, self.thread.take());
    }
}

/// An answer on its way back to the client.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The length to announce when it differs from the body's (HEAD answers, a reset body).
    announced_len: Option<u64>,
}

/// Handles the one request of a connection.
fn serve(client: TcpStream, shared: &Mutex<Shared>, route: &Route) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(head) = http1::read_head(&mut reader)? else {
        return Ok(());
    };
    let mut parts = head.start_line.split_whitespace();
    let (method, target) = match (parts.next(), parts.next()) {
        (Some(m), Some(t)) => (m.to_string(), t.to_string()),
        _ => return Err(http1::invalid("bad request line")),
    };
    let (index, fault) = {
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        let mut fault = None;
        for rule in &mut s.rules {
            let decided = rule.decide(&method, &target);
            fault = fault.or(decided);
        }
        let index = s.events.len() + 1;
        s.events.push(ProxyEvent {
            index,
            method: method.clone(),
            target: target.clone(),
            authorized: head.get("authorization").is_some(),
            fault: None,
            status: None,
        });
        (index, fault)
    };
    let record = |applied: Option<&'static str>, status: Option<u16>| {
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kind) = applied {
            *s.injected.entry(kind).or_default() += 1;
        }
        let event = &mut s.events[index - 1];
        event.fault = applied;
        event.status = status;
    };

    let mut body_reader = BodyReader::new(&mut reader, Framing::of(&head, false)?);
    if fault == Some(Fault::ResetInRequestBody) {
        let announced: usize = head
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut read = 0;
        while read < announced / 2 {
            match body_reader.next_piece((announced / 2 - read).min(64 * 1024))? {
                Some(piece) => read += piece.len(),
                None => break,
            }
        }
        record(Some("reset-in-request-body"), None);
        reset(&client);
        return Ok(());
    }
    let body = body_reader.read_all()?;
    drop(reader);

    let answer = match &fault {
        Some(Fault::Status(status)) => Some(error_answer(*status, "injected by the fault proxy")),
        Some(Fault::TooManyRequests { retry_after_s }) => {
            let mut a = error_answer(429, "injected by the fault proxy");
            a.headers
                .push(("Retry-After".into(), retry_after_s.to_string()));
            Some(a)
        }
        Some(Fault::RedirectTo(base)) => Some(Answer {
            status: 307,
            headers: vec![(
                "Location".into(),
                format!("{}{target}", base.trim_end_matches('/')),
            )],
            body: Vec::new(),
            announced_len: None,
        }),
        _ => None,
    };
    if let Some(answer) = answer {
        // Counted before the client hears anything, so a test sees its own faults counted.
        record(fault.as_ref().map(Fault::kind), Some(answer.status));
        write_answer(&client, &answer)?;
        return Ok(());
    }

    let asked_range = head.get("range").is_some();
    let strip = (fault == Some(Fault::IgnoreRange)).then_some("range");
    let mut answer = forward(route, &method, &target, &head, &body, strip)?;
    // Bodies are corrupted only in answers that carry content (not a 401's error body).
    let content = (200..300).contains(&answer.status) && !answer.body.is_empty();
    let applied = match &fault {
        Some(Fault::Delay(d)) => {
            std::thread::sleep(*d);
            Some("delay")
        }
        Some(Fault::TruncateBody) if content => {
            let half = answer.body.len() / 2;
            answer.body.truncate(half);
            Some("truncated-body")
        }
        Some(Fault::FlipByte) if content => {
            let middle = answer.body.len() / 2;
            answer.body[middle] ^= 0x01;
            Some("flipped-byte")
        }
        Some(Fault::DropHeader(name)) => {
            let before = answer.headers.len();
            answer
                .headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            (answer.headers.len() != before).then(|| fault.as_ref().map_or("", Fault::kind))
        }
        Some(Fault::ReplaceHeader(name, value)) => {
            let mut replaced = None;
            for (n, v) in answer.headers.iter_mut() {
                if n.eq_ignore_ascii_case(name) {
                    *v = value.to_string();
                    replaced = Some("replaced-header");
                }
            }
            replaced
        }
        Some(Fault::IgnoreRange) => asked_range.then_some("range-ignored"),
        Some(Fault::CloseBeforeLastChunk) if content => {
            record(Some("close-before-last-chunk"), Some(answer.status));
            // An orderly close (not a reset, which may discard bytes the client has not read).
            write_chunked_without_end(&client, &answer)?;
            return client.shutdown(std::net::Shutdown::Both);
        }
        Some(fault @ (Fault::ResetInResponseBody | Fault::StallInResponseBody(_))) => {
            record(Some(fault.kind()), None);
            if !answer.body.is_empty() {
                let full = answer.body.len() as u64;
                answer.body.truncate(answer.body.len() / 2);
                answer.announced_len = Some(full);
                write_answer(&client, &answer)?;
            }
            if let Fault::StallInResponseBody(silence) = fault {
                std::thread::sleep(*silence);
            }
            reset(&client);
            return Ok(());
        }
        _ => None,
    };
    record(applied, Some(answer.status));
    write_answer(&client, &answer)
}

/// Sends the request to the registry (without the header `strip`, if any) and reads its whole
/// answer, rewriting its `Location` and `Link` headers to point at the proxy.
fn forward(
    route: &Route,
    method: &str,
    target: &str,
    head: &http1::Head,
    body: &[u8],
    strip: Option<&str>,
) -> io::Result<Answer> {
    let upstream = TcpStream::connect(&route.upstream)?;
    upstream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = BufWriter::new(upstream.try_clone()?);
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        route.upstream
    );
    for (name, value) in &head.headers {
        let own = ["host", "connection", "content-length", "transfer-encoding"];
        let stripped = strip.is_some_and(|h| h.eq_ignore_ascii_case(name));
        if !stripped && !own.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    out.write_all(request.as_bytes())?;
    out.write_all(body)?;
    out.flush()?;
    drop(out);

    let mut reader = BufReader::new(upstream);
    let head = http1::read_head(&mut reader)?
        .ok_or_else(|| http1::invalid("the registry closed without answering"))?;
    let status: u16 = head
        .start_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| http1::invalid("bad status line"))?;
    let no_body = method == "HEAD" || matches!(status, 204 | 304);
    let announced_len = if no_body {
        head.get("content-length").and_then(|v| v.parse().ok())
    } else {
        None
    };
    let body = if no_body {
        Vec::new()
    } else {
        BodyReader::new(&mut reader, Framing::of(&head, true)?).read_all()?
    };
    let headers = head
        .headers
        .into_iter()
        .filter(|(n, _)| {
            !["content-length", "transfer-encoding", "connection"]
                .iter()
                .any(|h| h.eq_ignore_ascii_case(n))
        })
        .map(|(n, v)| {
            if n.eq_ignore_ascii_case("location") || n.eq_ignore_ascii_case("link") {
                let v = v.replace(&route.upstream_origin, &route.own_origin);
                (n, v)
            } else {
                (n, v)
            }
        })
        .collect();
    Ok(Answer {
        status,
        headers,
        body,
        announced_len,
    })
}

fn error_answer(status: u16, message: &str) -> Answer {
    let code = match status {
        429 => "TOOMANYREQUESTS",
        _ => "UNAVAILABLE",
    };
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    Answer {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        announced_len: None,
    }
}

fn write_answer(client: &TcpStream, answer: &Answer) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        answer.status,
        http1::reason(answer.status)
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let len = answer.announced_len.unwrap_or(answer.body.len() as u64);
    head.push_str(&format!(
        "Content-Length: {len}\r\nConnection: close\r\n\r\n"
    ));
    let mut out = BufWriter::new(client);
    out.write_all(head.as_bytes())?;
    out.write_all(&answer.body)?;
    out.flush()
}

/// Writes `answer` with its body as one chunk and without the closing empty chunk.
fn write_chunked_without_end(client: &TcpStream, answer: &Answer) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        answer.status,
        http1::reason(answer.status)
    );
    for (name, value) in &answer.headers {
        if !name.eq_ignore_ascii_case("content-length") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    let mut out = BufWriter::new(client);
    out.write_all(head.as_bytes())?;
    write!(out, "{:x}\r\n", answer.body.len())?;
    out.write_all(&answer.body)?;
    out.write_all(b"\r\n")?;
    out.flush()
}

/// Ends the connection with a TCP RST rather than an orderly close: `SO_LINGER` with a zero
/// timeout (Linux). The connection closes when the caller drops its handles.
fn reset(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Linger {
            l_onoff: i32,
            l_linger: i32,
        }
        extern "C" {
            fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
        }
        const SOL_SOCKET: i32 = 1;
        const SO_LINGER: i32 = 13;
        let linger = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket descriptor and a pointer to a live, correctly sized struct.
        unsafe {
            setsockopt(
                stream.as_raw_fd(),
                SOL_SOCKET,
                SO_LINGER,
                &linger,
                size_of::<Linger>() as u32,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_on_schedule_and_rotate() {
        let mut state = RuleState {
            rule: Rule::rotating(vec![Fault::Status(500), Fault::Status(503)])
                .method("PATCH")
                .every(2),
            seen: 0,
            hits: 0,
        };
        let got: Vec<Option<&'static str>> = (0..6)
            .map(|_| {
                state
                    .decide("PATCH", "/v2/a/blobs/uploads/x")
                    .map(|f| f.kind())
            })
            .collect();
        assert_eq!(
            got,
            [None, Some("500"), None, Some("503"), None, Some("500")]
        );
        assert_eq!(
            state.decide("GET", "/v2/"),
            None,
            "other methods do not count"
        );
        assert_eq!(state.seen, 6);

        let mut first = RuleState {
            rule: Rule::new(Fault::FlipByte)
                .path_contains("/blobs/")
                .first(1)
                .every(3)
                .limit(2),
            seen: 0,
            hits: 0,
        };
        let hits: Vec<bool> = (0..10)
            .map(|_| first.decide("GET", "/v2/a/blobs/sha256:x").is_some())
            .collect();
        assert_eq!(
            hits,
            [true, false, false, true, false, false, false, false, false, false]
        );
    }
}
