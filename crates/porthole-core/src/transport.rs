//! The one seam between the protocol core and the network.
//!
//! The core builds [`Request`]s and reads [`Response`]s; a [`Transport`] moves them. Two
//! implementations exist: the browser's `fetch` (porthole-browser) and a native client used by the
//! tests (porthole-testkit). The trait is `?Send` on purpose: browser futures are `!Send`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::LocalKey;

use crate::digest::{Digest, DigestAlgorithm};
use crate::url::Url;

/// HTTP methods the registry protocol uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as it goes on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// Whether repeating the request cannot change the outcome (used by retries).
    pub fn is_idempotent(self) -> bool {
        matches!(self, Self::Get | Self::Head | Self::Put | Self::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ordered list of header name/value pairs. Names compare case-insensitively. Its `Debug`
/// hides the values of credential headers (`Authorization`, cookies), so a logged request
/// never shows a password or token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

/// Headers whose values are credentials.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, v)| {
                let secret = SECRET_HEADERS.iter().any(|s| n.eq_ignore_ascii_case(s));
                (n, if secret { "[redacted]" } else { v.as_str() })
            }))
            .finish()
    }
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header (several headers may share a name).
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Replaces every header of that name with one value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.append(name.to_string(), value);
    }

    /// Removes every header of that name.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of that header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of that header, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

/// A request body: nothing, bytes in memory, or a transport-native body `B` (a `Blob` slice in
/// the browser) that the transport can send without copying it through wasm memory.
#[derive(Clone)]
pub enum Body<B> {
    /// No body; `Content-Length: 0` where the method needs one.
    Empty,
    /// Bytes held in memory.
    Bytes(Vec<u8>),
    /// Part of a buffer shared with its owner (a streamed upload's chunk, kept for resends):
    /// cloning the request, as every retry does, does not copy the bytes. A `range` outside
    /// `bytes` is a body a transport must refuse ([`Body::in_memory`] gives `None`).
    Shared {
        /// The whole buffer.
        bytes: Arc<[u8]>,
        /// The part of it that is the body.
        range: Range<usize>,
    },
    /// A transport-native body of a known length.
    Native {
        /// The body itself.
        body: B,
        /// Its length in bytes.
        len: u64,
    },
}

impl<B> Body<B> {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::Shared { range, .. } => range.len() as u64,
            Self::Native { len, .. } => *len,
        }
    }

    /// The bytes of an in-memory body (`Bytes`, `Shared`, and `Empty` as none); `None` for a
    /// native body, or a `Shared` one whose range lies outside its buffer.
    pub fn in_memory(&self) -> Option<&[u8]> {
        match self {
            Self::Empty => Some(&[]),
            Self::Bytes(bytes) => Some(bytes),
            Self::Shared { bytes, range } => bytes.get(range.clone()),
            Self::Native { .. } => None,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maps a body-less request to another body type.
    pub fn map_native<C>(self, f: impl FnOnce(B) -> C) -> Body<C> {
        match self {
            Self::Empty => Body::Empty,
            Self::Bytes(b) => Body::Bytes(b),
            Self::Shared { bytes, range } => Body::Shared { bytes, range },
            Self::Native { body, len } => Body::Native { body: f(body), len },
        }
    }
}

impl<B> fmt::Debug for Body<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("Empty"),
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Shared { range, .. } => write!(f, "Shared({} bytes)", range.len()),
            Self::Native { len, .. } => write!(f, "Native({len} bytes)"),
        }
    }
}

/// One HTTP request, built by the core.
#[derive(Debug, Clone)]
pub struct Request<B = NoNativeBody> {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: Url,
    /// Request headers (the transport adds `Content-Length` itself).
    pub headers: Headers,
    /// The body.
    pub body: Body<B>,
}

impl<B> Request<B> {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: Headers::new(),
            body: Body::Empty,
        }
    }

    /// Adds a header, builder style.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.append(name.to_string(), value);
        self
    }

    /// Sets the body, builder style.
    pub fn with_body(mut self, body: Body<B>) -> Self {
        self.body = body;
        self
    }

    /// Converts a request whose body holds no native part into one for any body type.
    pub fn cast<C>(self) -> Request<C>
    where
        B: Into<NoNativeBody>,
    {
        Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body.map_native(|b| match b.into() {}),
        }
    }
}

/// The body type of requests the core builds by itself: it never holds a native body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoNativeBody {}

/// A response whose body has not been read yet.
#[derive(Debug)]
pub struct Response<S> {
    /// HTTP status code.
    pub status: u16,
    /// Response headers as the transport could see them.
    pub headers: Headers,
    /// The URL that answered (after redirects), when the transport knows it.
    pub url: Option<Url>,
    /// True when the browser filtered the headers (a cross-origin response): a header that is
    /// missing may only be hidden because the registry did not list it in
    /// `Access-Control-Expose-Headers`.
    pub headers_filtered: bool,
    /// The body, read chunk by chunk.
    pub body: S,
}

/// A response body read in chunks, so a large blob never has to sit whole in memory.
#[allow(async_fn_in_trait)] // ?Send on purpose: browser futures are !Send.
pub trait BodyStream {
    /// The next chunk, or `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, TransportError>;
}

/// Reads a whole body, refusing more than `limit` bytes (returns `Ok(None)` when over the limit).
pub async fn read_body_limited<S: BodyStream>(
    body: &mut S,
    limit: usize,
) -> Result<Option<Vec<u8>>, TransportError> {
    let mut all = Vec::new();
    while let Some(chunk) = body.next_chunk().await? {
        if all.len() + chunk.len() > limit {
            return Ok(None);
        }
        all.extend_from_slice(&chunk);
    }
    Ok(Some(all))
}

/// A body already in memory, handed out as one chunk.
#[derive(Debug, Default)]
pub struct BufferedBody(Option<Vec<u8>>);

impl BufferedBody {
    /// A body holding these bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Some(bytes))
    }
}

impl BodyStream for BufferedBody {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        Ok(self.0.take().filter(|b| !b.is_empty()))
    }
}

/// What went wrong below HTTP: the request never got an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TransportError {
    /// The kind of failure.
    pub kind: TransportErrorKind,
    /// What the transport said, without any credential.
    pub message: String,
}

impl TransportError {
    /// A transport error of that kind.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// Kinds of transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host could not be reached, the connection was refused or reset.
    Network,
    /// The browser blocked the request or its answer (CORS, mixed content, preflight refused):
    /// the page cannot tell these apart from a network failure, so the message lists the causes.
    Blocked,
    /// The caller aborted the request (an `AbortSignal`).
    Aborted,
    /// The caller's own deadline passed (an `AbortSignal.timeout()`): an abort, so never
    /// retried, but one the caller set a time for (`fetch` names it a `TimeoutError`).
    Deadline,
    /// The request took longer than allowed.
    Timeout,
    /// The body could not be read or sent (for example a file that changed while uploading).
    Body,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Network => "network error",
            Self::Blocked => "request blocked by the browser",
            Self::Aborted => "aborted",
            Self::Deadline => "the caller's deadline passed",
            Self::Timeout => "timed out",
            Self::Body => "body error",
        })
    }
}

/// Moves requests and responses, and tells the time. Implemented by the browser's `fetch` and by
/// the native test client.
///
/// A transport must not send an `Authorization` header to another host when it follows a
/// redirect.
#[allow(async_fn_in_trait)] // ?Send on purpose: browser futures are !Send.
pub trait Transport {
    /// A request body the transport sends natively (a `Blob` slice in the browser).
    type NativeBody: Clone;
    /// The response body stream.
    type Stream: BodyStream;

    /// Performs one HTTP exchange. Only failures without an HTTP answer are errors; any status
    /// code is a response.
    async fn send(
        &self,
        request: Request<Self::NativeBody>,
    ) -> Result<Response<Self::Stream>, TransportError>;

    /// Milliseconds since the Unix epoch. The core reads no clock of its own.
    fn now_millis(&self) -> u64;

    /// Waits that many milliseconds (used between retries).
    async fn sleep(&self, millis: u64);

    /// The error a request started now would fail with at once, because the operation was
    /// aborted; `None` (the default) when it may go out. The client asks before it authorizes
    /// an attempt, so an aborted operation does not fetch a token (or call a token provider)
    /// for a request that cannot be sent.
    fn aborted(&self) -> Option<TransportError> {
        None
    }

    /// Resolves once the operation is aborted (never, the default): a wait that is not a
    /// request, for another operation's token fetch, ends with it rather than when that fetch
    /// does. [`aborted`](Self::aborted) then says so.
    async fn until_aborted(&self) {
        std::future::pending::<()>().await;
    }
}

thread_local! {
    static CLEANING_UP: RefCell<bool> = const { RefCell::new(false) };
}

/// Whether the request being started is part of a clean-up ([`cleanup`]): a transport that
/// aborts requests on a caller's signal sends it without the signal, so that an aborted
/// operation still tidies up after itself (an upload session's `DELETE`, and the token it needs).
pub fn is_cleanup() -> bool {
    CLEANING_UP.with(|c| *c.borrow())
}

/// Runs `work` as a clean-up: every request it starts sees [`is_cleanup`] true. The mark is set
/// only while `work` is polled (a transport reads it when a request starts, on that poll), so
/// other operations running beside it keep their signals.
pub fn cleanup<F: Future>(work: F) -> Cleanup<F> {
    scoped(&CLEANING_UP, true, work)
}

/// The future [`cleanup`] returns.
pub type Cleanup<F> = Scoped<bool, F>;

/// Runs `future` with the thread-local `key` holding `value` while, and only while, it is polled
/// (the outer value is back between polls): a per-operation setting that code called on the
/// same poll reads, such as a clean-up's mark ([`cleanup`]) or, in the browser crate, an
/// operation's abort signal. Operations running beside it never see each other's.
pub fn scoped<T: Clone + 'static, F: Future>(
    key: &'static LocalKey<RefCell<T>>,
    value: T,
    future: F,
) -> Scoped<T, F> {
    Scoped {
        key,
        value,
        future: Box::pin(future),
    }
}

/// The future [`scoped`] returns.
#[derive(Debug)]
pub struct Scoped<T: 'static, F> {
    key: &'static LocalKey<RefCell<T>>,
    value: T,
    future: Pin<Box<F>>,
}

// The future is boxed and the value never pinned: moving a `Scoped` moves neither.
impl<T, F> Unpin for Scoped<T, F> {}

impl<T: Clone + 'static, F: Future> Future for Scoped<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let outer = this.key.with(|k| k.replace(this.value.clone()));
        let polled = this.future.as_mut().poll(cx);
        this.key.with(|k| *k.borrow_mut() = outer);
        polled
    }
}

/// Where an upload's bytes come from: random access, so a failed chunk can be sent again from the
/// offset the registry reports. A browser `File` is one: it is read slice by slice for hashing
/// and sent as `Blob` slices, never copied whole into wasm memory.
#[allow(async_fn_in_trait)] // ?Send on purpose: browser futures are !Send.
pub trait BlobSource<B> {
    /// Total size in bytes.
    fn size(&self) -> u64;

    /// Reads the bytes of `[start, end)` (to hash them).
    async fn read(&self, start: u64, end: u64) -> Result<Vec<u8>, TransportError>;

    /// A request body that sends exactly the bytes of `[start, end)`.
    fn body(&self, start: u64, end: u64) -> Body<B>;

    /// The digest of the whole source in `algorithm`, when the source can compute it faster
    /// than the upload reading it into Porthole's own hasher: a browser's `File` small enough to
    /// hold in memory goes to WebCrypto, which hashes natively and off the page's thread.
    /// `None` (the default) has the upload read and hash the source itself. It must be the
    /// digest of the bytes [`read`](Self::read) and [`body`](Self::body) give: the registry
    /// checks it against what it received, so a wrong one fails the upload, except when the
    /// answer to the closing PUT is lost, where the upload counts a blob of that digest and
    /// size already in the registry as its own.
    async fn digest_whole(
        &self,
        algorithm: &DigestAlgorithm,
    ) -> Option<Result<Digest, TransportError>> {
        let _ = algorithm;
        None
    }
}

/// An upload's bytes arriving in order, their length known only at the end: a JS
/// `ReadableStream`, a pipe. [`Repository::upload_blob_stream`](crate::Repository::upload_blob_stream)
/// reads it one chunk at a time and keeps only the chunk on the wire, so a failed chunk can be
/// sent again but the bytes before it are gone.
#[allow(async_fn_in_trait)] // ?Send on purpose: browser futures are !Send.
pub trait ByteStream {
    /// Reads the next bytes into the start of `buf` (never empty) and returns how many; 0 means
    /// the stream has ended.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError>;
}

fn slice_of(bytes: &[u8], start: u64, end: u64) -> Result<&[u8], TransportError> {
    usize::try_from(start)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(s, e)| bytes.get(s..e))
        .ok_or_else(|| {
            TransportError::new(
                TransportErrorKind::Body,
                format!("range {start}..{end} is outside the {} bytes", bytes.len()),
            )
        })
}

/// Bytes in memory are a source for any transport.
impl<B> BlobSource<B> for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    async fn read(&self, start: u64, end: u64) -> Result<Vec<u8>, TransportError> {
        slice_of(self, start, end).map(<[u8]>::to_vec)
    }

    fn body(&self, start: u64, end: u64) -> Body<B> {
        // An out-of-range body is caught by `read`, which the upload always calls first.
        Body::Bytes(
            slice_of(self, start, end)
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_marks_only_the_work_it_runs() {
        use futures::executor::block_on;
        assert!(!is_cleanup());
        let inside = block_on(cleanup(async { is_cleanup() }));
        assert!(inside);
        assert!(!is_cleanup(), "the mark outlived the clean-up");
        let after_an_await = block_on(cleanup(async {
            std::future::ready(()).await;
            is_cleanup()
        }));
        assert!(after_an_await);
    }

    #[test]
    fn debug_of_requests_and_headers_hides_credentials() {
        let url = Url::parse("http://127.0.0.1:5000/v2/").unwrap();
        let request: Request = Request::new(Method::Get, url)
            .header("Authorization", "Bearer tok-SECRET")
            .header("cookie", "session=SECRET")
            .header("Accept", "application/json");
        let text = format!("{request:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        assert!(
            text.contains("application/json"),
            "other headers still show: {text}"
        );
        assert_eq!(
            request.headers.get("authorization"),
            Some("Bearer tok-SECRET")
        );
    }
}
