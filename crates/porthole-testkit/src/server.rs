//! A small threaded HTTP/1.1 server on a free loopback port: the token server runs on it, and
//! tests use it as a stub peer (a redirect target that records what it was sent).

use std::io::{BufReader, BufWriter};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use porthole_core::url::percent_decode;

use crate::http1::{self, BodyReader, Framing};
use crate::KitError;

/// Bodies larger than this are refused: the server only ever gets forms and test probes.
const MAX_BODY: usize = 1024 * 1024;

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct ServerRequest {
    /// The method, as sent (`GET`, `OPTIONS`, ...).
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// The header fields in order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl ServerRequest {
    /// The first value of a header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The decoded query parameters, in order (repeated names are kept).
    pub fn query(&self) -> Vec<(String, String)> {
        self.target
            .split_once('?')
            .map(|(_, q)| parse_form(q))
            .unwrap_or_default()
    }
}

/// Decodes `a=1&b=2` (query strings and `application/x-www-form-urlencoded` bodies).
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// An answer to send.
#[derive(Debug, Clone)]
pub struct ServerResponse {
    /// The status code.
    pub status: u16,
    /// Header fields (`Content-Length` and `Connection` are added when sending).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl ServerResponse {
    /// An empty answer with this status.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status)
            .header("Content-Type", "application/json")
            .body(value.to_string().into_bytes())
    }

    /// Adds a header, builder style.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets the body, builder style.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

type Handler = dyn Fn(&ServerRequest) -> ServerResponse + Send + Sync;

/// A running server; stops accepting on drop.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<ServerRequest>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Listens on a free 127.0.0.1 port and answers every request with `handler`, one thread per
    /// connection. Every request is also recorded (see [`HttpServer::requests`]).
    pub fn start(
        handler: impl Fn(&ServerRequest) -> ServerResponse + Send + Sync + 'static,
    ) -> Result<Self, KitError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| KitError::new(format!("cannot bind a loopback port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| KitError::new(format!("cannot read the bound address: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let requests = requests.clone();
            spawn_accept_loop(listener, stop.clone(), move |stream| {
                let _ = serve_connection(stream, &requests, &*handler);
            })
        };
        Ok(Self {
            addr,
            stop,
            requests,
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

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ServerRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        stop_accept_loop(&self.stop, self.addr, self.thread.take());
    }
}

/// Stops a listener thread blocked in `accept()`: sets its stop flag, then connects once so
/// `accept()` returns and the thread sees the flag, and waits for it.
pub(crate) fn stop_accept_loop(
    stop: &AtomicBool,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
) {
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    if let Some(thread) = thread {
        let _ = thread.join();
    }
}

/// Accepts connections on `listener` until `stop` is set (see [`stop_accept_loop`]), and
/// serves each on a thread of its own: the loop every server of the kit runs.
pub(crate) fn spawn_accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    serve: impl Fn(TcpStream) + Send + Sync + 'static,
) -> JoinHandle<()> {
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let Ok(stream) = stream else { continue };
            let serve = serve.clone();
            std::thread::spawn(move || serve(stream));
        }
    })
}

/// Answers one request and closes the connection (every answer says `Connection: close`).
fn serve_connection(
    stream: TcpStream,
    requests: &Mutex<Vec<ServerRequest>>,
    handler: &Handler,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(request) = read_request(&mut reader)? else {
        return Ok(());
    };
    if let Ok(mut all) = requests.lock() {
        all.push(request.clone());
    }
    let response = handler(&request);
    let mut out = BufWriter::new(stream);
    http1::write_response(&mut out, response.status, &response.headers, &response.body)
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<ServerRequest>> {
    let Some(head) = http1::read_head(reader)? else {
        return Ok(None);
    };
    let mut parts = head.start_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(http1::invalid("bad request line"));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut body_reader = BodyReader::new(reader, Framing::of(&head, false)?);
    let mut body = Vec::new();
    while let Some(piece) = body_reader.next_piece(64 * 1024)? {
        body.extend_from_slice(&piece);
        if body.len() > MAX_BODY {
            return Err(http1::invalid("request body too large"));
        }
    }
    Ok(Some(ServerRequest {
        method,
        target,
        headers: head.headers,
        body,
    }))
}
