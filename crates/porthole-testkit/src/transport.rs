//! A native [`Transport`] for tests: plain HTTP/1.1 over `std::net`, one connection per request.
//!
//! It behaves like the browser's `fetch` where the client can tell: every status is a response,
//! redirects are followed (up to 10) and `Authorization` is dropped when one leaves the origin.

use std::io::{self, BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use porthole_core::{
    Body, BodyStream, Method, Request, Response, Transport, TransportError, TransportErrorKind, Url,
};

use crate::http1::{self, BodyReader, Framing};

/// How many redirects one request may follow, as browsers (and `fetch`) allow at most 20 and
/// the brief asks for 10.
pub const MAX_REDIRECTS: usize = 10;

/// The size of the pieces a response body is handed out in.
const PIECE: usize = 64 * 1024;

/// Request headers the transport writes itself; a caller's copy would make the message invalid.
const OWN_HEADERS: [&str; 4] = ["host", "content-length", "connection", "transfer-encoding"];

/// Plain-http transport over `std::net::TcpStream`. Blocking inside `async fn`s, which is what
/// tests running futures with `futures::executor::block_on` want.
#[derive(Debug, Clone)]
pub struct NativeTransport {
    connect_timeout: Duration,
    io_timeout: Option<Duration>,
}

impl Default for NativeTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeTransport {
    /// A transport with a 10 s connect timeout and a 120 s read/write timeout, so a hung
    /// registry fails a test instead of hanging it.
    pub fn new() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            io_timeout: Some(Duration::from_secs(120)),
        }
    }

    /// Sets the read/write timeout of each socket operation (`None`: wait forever).
    pub fn with_io_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.io_timeout = timeout;
        self
    }

    /// [`Transport::send`] without the future: follows redirects and returns the final response.
    pub fn send_blocking(
        &self,
        mut request: Request<Vec<u8>>,
    ) -> Result<Response<NativeBodyStream>, TransportError> {
        for _ in 0..=MAX_REDIRECTS {
            let response = self.exchange(&request)?;
            let Some(next) = redirect_target(&request.url, &response)? else {
                return Ok(response);
            };
            request = redirected(request, response.status, next);
        }
        Err(TransportError::new(
            TransportErrorKind::Network,
            format!("more than {MAX_REDIRECTS} redirects"),
        ))
    }

    /// One request and the head of its answer, without following redirects.
    fn exchange(
        &self,
        request: &Request<Vec<u8>>,
    ) -> Result<Response<NativeBodyStream>, TransportError> {
        if request.url.scheme() != "http" {
            return Err(TransportError::new(
                TransportErrorKind::Network,
                format!(
                    "NativeTransport speaks plain http only, not {}",
                    request.url
                ),
            ));
        }
        let stream = self.connect(request.url.authority())?;
        // A server may answer (401, 413) and close before reading the whole body; its answer
        // matters more than our write error, so read it whenever there is one.
        let written = write_request(&stream, request);
        let mut reader = BufReader::with_capacity(PIECE, stream);
        let head = match read_final_head(&mut reader) {
            Ok(head) => head,
            Err(read_err) => return Err(io_error(&request.url, written.err().unwrap_or(read_err))),
        };
        let status = parse_status(&head.start_line)
            .ok_or_else(|| io_error(&request.url, http1::invalid("bad status line")))?;
        let framing = if request.method == Method::Head || matches!(status, 204 | 304) {
            Framing::None
        } else {
            Framing::of(&head, true).map_err(|e| io_error(&request.url, e))?
        };
        Ok(Response {
            status,
            headers: head.headers.into_iter().collect(),
            url: Some(request.url.clone()),
            headers_filtered: false,
            body: NativeBodyStream {
                reader: BodyReader::new(reader, framing),
                url: request.url.clone(),
            },
        })
    }

    fn connect(&self, authority: &str) -> Result<TcpStream, TransportError> {
        let with_port = if authority.ends_with(']') || !authority.contains(':') {
            format!("{authority}:80")
        } else {
            authority.to_string()
        };
        let network = |e: io::Error| {
            TransportError::new(
                kind_of(&e),
                format!("could not connect to {authority}: {e}"),
            )
        };
        let addrs: Vec<SocketAddr> = with_port.to_socket_addrs().map_err(network)?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(stream) => {
                    stream.set_read_timeout(self.io_timeout).map_err(network)?;
                    stream.set_write_timeout(self.io_timeout).map_err(network)?;
                    stream.set_nodelay(true).map_err(network)?;
                    return Ok(stream);
                }
                Err(e) => last = e,
            }
        }
        Err(network(last))
    }
}

impl Transport for NativeTransport {
    type NativeBody = Vec<u8>;
    type Stream = NativeBodyStream;

    async fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<NativeBodyStream>, TransportError> {
        self.send_blocking(request)
    }

    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    async fn sleep(&self, millis: u64) {
        std::thread::sleep(Duration::from_millis(millis));
    }
}

/// A response body read from the socket in pieces of at most 64 KiB.
#[derive(Debug)]
pub struct NativeBodyStream {
    reader: BodyReader<BufReader<TcpStream>>,
    url: Url,
}

impl NativeBodyStream {
    /// [`BodyStream::next_chunk`] without the future.
    pub fn next_chunk_blocking(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        self.reader
            .next_piece(PIECE)
            .map_err(|e| io_error(&self.url, e))
    }

    /// Reads the rest of the body into memory (for small bodies in tests).
    pub fn read_to_end(&mut self) -> Result<Vec<u8>, TransportError> {
        self.reader.read_all().map_err(|e| io_error(&self.url, e))
    }
}

impl BodyStream for NativeBodyStream {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        self.next_chunk_blocking()
    }
}

fn write_request(stream: &TcpStream, request: &Request<Vec<u8>>) -> io::Result<()> {
    let body: &[u8] = match &request.body {
        Body::Empty => &[],
        Body::Bytes(bytes) => bytes,
        Body::Shared { bytes, range } => bytes.get(range.clone()).ok_or_else(|| {
            let msg = format!(
                "a shared body's range {range:?} lies outside its {} bytes",
                bytes.len()
            );
            io::Error::new(io::ErrorKind::InvalidInput, msg)
        })?,
        Body::Native { body, len } if *len == body.len() as u64 => body,
        Body::Native { body, len } => {
            let msg = format!("native body holds {} bytes, not {len}", body.len());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        }
    };
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        request.method,
        request.url.path_and_query(),
        request.url.authority()
    );
    for (name, value) in request.headers.iter() {
        if !OWN_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    let needs_length = matches!(request.method, Method::Post | Method::Put | Method::Patch);
    if needs_length || !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = BufWriter::with_capacity(PIECE, stream);
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// Reads heads until a final (non-1xx) one: a `100 Continue` may come unasked.
fn read_final_head(reader: &mut BufReader<TcpStream>) -> io::Result<http1::Head> {
    loop {
        let head = http1::read_head(reader)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without answering",
            )
        })?;
        match parse_status(&head.start_line) {
            Some(100..=199) => continue,
            _ => return Ok(head),
        }
    }
}

fn parse_status(start_line: &str) -> Option<u16> {
    let mut parts = start_line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Where a redirect response points, resolved against the URL that answered.
fn redirect_target(
    url: &Url,
    response: &Response<NativeBodyStream>,
) -> Result<Option<Url>, TransportError> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = response.headers.get("location") else {
        return Ok(None);
    };
    url.join(location)
        .map(Some)
        .map_err(|e| TransportError::new(TransportErrorKind::Network, format!("bad redirect: {e}")))
}

/// The request to send after a redirect, by the Fetch standard's rules.
fn redirected(mut request: Request<Vec<u8>>, status: u16, next: Url) -> Request<Vec<u8>> {
    if !next.same_origin(&request.url) {
        // Credentials for one registry must never reach another host (a storage backend).
        request.headers.remove("authorization");
    }
    let to_get = (status == 303 && request.method != Method::Head)
        || (matches!(status, 301 | 302) && request.method == Method::Post);
    if to_get {
        request.method = Method::Get;
        request.body = Body::Empty;
        request.headers.remove("content-type");
    }
    request.url = next;
    request
}

fn kind_of(e: &io::Error) -> TransportErrorKind {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportErrorKind::Timeout,
        io::ErrorKind::InvalidInput => TransportErrorKind::Body,
        _ => TransportErrorKind::Network,
    }
}

fn io_error(url: &Url, e: io::Error) -> TransportError {
    TransportError::new(kind_of(&e), format!("{}: {e}", url.origin()))
}
