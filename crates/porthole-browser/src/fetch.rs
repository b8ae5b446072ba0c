//! [`FetchTransport`]: the core's [`Transport`] over the browser's global `fetch`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use porthole_core::headers::content_length;
use porthole_core::{
    Body, BodyStream, Headers, Method, Request, Response, Transport, TransportError,
    TransportErrorKind, Url,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, Blob, ReadableStreamByobReader, ReadableStreamDefaultReader,
    ReadableStreamGetReaderOptions, ReadableStreamReaderMode, RequestCache, RequestInit,
    RequestMode, RequestRedirect, ResponseType,
};

use crate::js;

/// Request headers the browser sets itself and refuses from scripts.
const BROWSER_OWNED_HEADERS: [&str; 4] = ["content-length", "host", "connection", "keep-alive"];

/// [`Transport`] over the global `fetch`, in a window or a web worker.
///
/// Request bodies go to `fetch` as they are: [`Body::Native`] is a `Blob` (a slice of the file
/// being uploaded, never copied through wasm memory) and [`Body::Bytes`] a `Uint8Array`.
/// Responses are read chunk by chunk from `response.body`. Redirects are followed by the
/// browser, which itself drops `Authorization` when a redirect leaves the origin.
///
/// Requests use `cache: "no-store"` (tag lists and manifests by tag change under the same URL;
/// content by digest is verified anyway) and `mode: "cors"`.
///
/// Clones share the abort signal: a client's transport can be given a signal with
/// [`FetchTransport::set_abort_signal`]. A transport without one of its own uses the signal of
/// the operation being polled ([`with_abort_signal`]), so that one client, with one token cache,
/// serves concurrent operations that each stop on their own signal.
///
/// A connection that stalls without closing (a network change, a proxy that drops it silently)
/// would hang a transfer for as long as the operating system keeps it: [`StallLimits`] end
/// such waits with [`TransportErrorKind::Timeout`], which the client retries and a download
/// resumes after.
#[derive(Debug, Clone, Default)]
pub struct FetchTransport {
    signal: Rc<RefCell<Option<AbortSignal>>>,
    limits: Rc<Cell<StallLimits>>,
}

/// How long a [`FetchTransport`] waits on a silent connection before it gives up on it
/// ([`TransportErrorKind::Timeout`], retried like a broken connection). `0` waits for ever.
///
/// Only waits that cannot be long for a healthy registry are bounded: the answer to a `GET` or
/// `HEAD` (no body to send; a registry answers them at once, and streams the content after),
/// and each read of an answer's body (the time to the next bytes, not to the end). The answer
/// to an upload is not: the browser reports no progress of a request body, so a slow link
/// sending a 64 MiB chunk looks the same as a stalled one, and a registry may take minutes to
/// commit a large blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallLimits {
    /// Milliseconds to wait for the status and headers of a `GET` or `HEAD` (default 120 s).
    pub answer_ms: u64,
    /// Milliseconds to wait for the next bytes of an answer's body while it is being read
    /// (default 60 s). Time the reader spends away (a consumer that pauses) does not count.
    pub body_idle_ms: u64,
}

impl Default for StallLimits {
    fn default() -> Self {
        Self {
            answer_ms: 120_000,
            body_idle_ms: 60_000,
        }
    }
}

impl FetchTransport {
    /// A transport with no abort signal.
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport whose requests (and body reads) stop when `signal` is aborted; they then
    /// fail with [`TransportErrorKind::Aborted`] ([`TransportErrorKind::Deadline`] for an
    /// `AbortSignal.timeout()` that ran out).
    pub fn with_abort_signal(signal: AbortSignal) -> Self {
        let transport = Self::new();
        transport.set_abort_signal(Some(signal));
        transport
    }

    /// Sets (or clears) the signal used by the requests started from now on, for example one
    /// per user operation.
    pub fn set_abort_signal(&self, signal: Option<AbortSignal>) {
        *self.signal.borrow_mut() = signal;
    }

    /// Sets the limits on silent connections for the requests started from now on (clones
    /// share them).
    pub fn set_stall_limits(&self, limits: StallLimits) {
        self.limits.set(limits);
    }

    /// The limits on silent connections ([`StallLimits`]).
    pub fn stall_limits(&self) -> StallLimits {
        self.limits.get()
    }

    /// The signal the requests started now go with: the transport's own, else the one of the
    /// operation being polled ([`with_abort_signal`]).
    pub fn abort_signal(&self) -> Option<AbortSignal> {
        self.signal.borrow().clone().or_else(scoped_signal)
    }

    /// The signal for a request (or a wait) starting now: none in a clean-up (an upload
    /// session's `DELETE`, the token it needs), which goes out even after an abort because it is
    /// what lets the registry drop the session at once; else [`Self::abort_signal`].
    fn signal_for_now(&self) -> Option<AbortSignal> {
        if porthole_core::transport::is_cleanup() {
            None
        } else {
            self.abort_signal()
        }
    }

    fn build_init(
        &self,
        request: &Request<Blob>,
        signal: Option<&AbortSignal>,
    ) -> Result<RequestInit, TransportError> {
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        let headers = web_sys::Headers::new().map_err(|e| invalid_request("headers", &e))?;
        for (name, value) in request.headers.iter() {
            if BROWSER_OWNED_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
            {
                continue;
            }
            headers
                .append(name, value)
                .map_err(|e| invalid_request(&format!("header {name}"), &e))?;
        }
        init.set_headers(&headers);
        match &request.body {
            // An explicit empty body makes the browser send `Content-Length: 0`, which some
            // registries and proxies require on POST/PUT/PATCH.
            Body::Empty if matches!(request.method, Method::Post | Method::Put | Method::Patch) => {
                init.set_body(&Uint8Array::new_with_length(0));
            }
            Body::Empty => {}
            Body::Native { body, .. } => init.set_body(body),
            in_memory => {
                let bytes = in_memory.in_memory().ok_or_else(|| {
                    TransportError::new(
                        TransportErrorKind::Body,
                        "internal: a shared body's range lies outside its buffer",
                    )
                })?;
                init.set_body(&in_memory_body(bytes)?);
            }
        }
        init.set_mode(RequestMode::Cors);
        init.set_redirect(RequestRedirect::Follow);
        init.set_cache(RequestCache::NoStore);
        init.set_signal(signal);
        Ok(init)
    }
}

/// From this size on, bytes go to `fetch` inside a `Blob`: Chromium sends an `ArrayBuffer` body
/// about 9x slower (a 64 MiB PATCH: ~13 against ~120 MiB/s here, `upload_porthole_stream` in
/// BENCHMARKS.md).
const BLOB_BODY_MIN: usize = 1024 * 1024;

/// A `fetch` body for bytes in wasm memory, copied once into JS (a `Blob` for large ones).
fn in_memory_body(bytes: &[u8]) -> Result<JsValue, TransportError> {
    if bytes.len() < BLOB_BODY_MIN {
        return Ok(Uint8Array::from(bytes).into());
    }
    // SAFETY: the view is read by the Blob constructor, which copies it at once; nothing
    // allocates in wasm memory (which could move it) in between.
    let view = unsafe { Uint8Array::view(bytes) };
    let blob = Blob::new_with_u8_array_sequence(&js_sys::Array::of1(&view))
        .map_err(|e| invalid_request("body", &e))?;
    Ok(blob.into())
}

fn invalid_request(what: &str, error: &JsValue) -> TransportError {
    let (_, message) = js::describe(error);
    TransportError::new(
        TransportErrorKind::Body,
        format!("the browser refused the request's {what}: {message}"),
    )
}

/// The error for a request the caller's `signal` stopped: `Deadline` when the signal ran out of
/// time (an `AbortSignal.timeout()`, whose reason is a `TimeoutError`), else `Aborted`.
pub(crate) fn stopped_by(signal: Option<&AbortSignal>, during: &str) -> TransportError {
    if signal.is_some_and(ran_out_of_time) {
        return TransportError::new(
            TransportErrorKind::Deadline,
            format!("the call's AbortSignal timed out (AbortSignal.timeout) {during}"),
        );
    }
    TransportError::new(
        TransportErrorKind::Aborted,
        format!("the request was aborted (AbortSignal) {during}"),
    )
}

/// Whether `signal` fired because its time ran out rather than on an `abort()`.
fn ran_out_of_time(signal: &AbortSignal) -> bool {
    signal.aborted() && js::describe(&signal.reason()).0 == "TimeoutError"
}

fn is_abort(error: &JsValue, signal: Option<&AbortSignal>) -> bool {
    signal.is_some_and(AbortSignal::aborted)
        || matches!(
            js::describe(error).0.as_str(),
            "AbortError" | "TimeoutError"
        )
}

/// `future`'s output, or `None` when `millis` pass first (the future is then dropped); `0` waits
/// for ever.
async fn within<F: Future>(millis: u64, future: F) -> Option<F::Output> {
    if millis == 0 {
        return Some(future.await);
    }
    let mut future = pin!(future);
    let mut timer = pin!(js::sleep(millis, None));
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// The error for a `GET` or `HEAD` whose answer did not come within the limit.
fn no_answer(request: &Request<Blob>, millis: u64) -> TransportError {
    TransportError::new(
        TransportErrorKind::Timeout,
        format!(
            "{} {}{} got no answer within {} s: the connection may have stalled without \
             closing (a network change, or a proxy that dropped it silently); it is tried again",
            request.method,
            request.url.origin(),
            request.url.path(),
            millis.div_ceil(1000)
        ),
    )
}

/// When `fetch` rejects a request whose body is a `Blob` (a slice of a file the user picked),
/// the file may have been changed, moved or deleted since: the browser then fails the request
/// as it fails a network error or a CORS block. A one-byte read of the body tells them apart.
async fn unreadable_file(request: &Request<Blob>) -> Option<TransportError> {
    let Body::Native { body, len } = &request.body else {
        return None;
    };
    if *len == 0 {
        return None;
    }
    let probe = body.slice_with_f64_and_f64(0.0, 1.0).ok()?;
    let error = JsFuture::from(probe.array_buffer()).await.err()?;
    Some(TransportError::new(
        TransportErrorKind::Body,
        format!(
            "cannot read the file being uploaded (was it changed, moved or deleted since it was \
             picked?): {}; pick it again and retry",
            js::describe(&error).1
        ),
    ))
}

/// Explains a rejected `fetch`. The browser gives the page the same `TypeError` for a CORS
/// refusal, a preflight answered 401, mixed content and an unreachable host; only whether the
/// request was cross-origin tells which of them are possible.
fn classify_rejection(
    request: &Request<Blob>,
    error: &JsValue,
    signal: Option<&AbortSignal>,
) -> TransportError {
    if is_abort(error, signal) {
        return stopped_by(signal, "before the registry answered");
    }
    let (name, message) = js::describe(error);
    let said = if name.is_empty() {
        message
    } else {
        format!("{name}: {message}")
    };
    let target = format!(
        "{} {}{}",
        request.method,
        request.url.origin(),
        request.url.path()
    );
    let page = js::page_origin();
    let server = js::origin_of(request.url.as_str());
    // Without CORS (Node), a rejected request is a failed connection, which may be retried.
    let cross_origin = js::applies_cors()
        && match (&page, &server) {
            (Some(page), Some(server)) => page != server,
            _ => true,
        };
    let server = server.unwrap_or_else(|| request.url.origin().to_string());
    if cross_origin && answered_before(request) {
        // The browser gives a broken connection the same TypeError as a CORS refusal; this
        // server has let this page read its answers to such requests, so CORS is not what
        // failed (the caller may retry, or resume an upload).
        return TransportError::new(
            TransportErrorKind::Network,
            format!(
                "{target} failed ({said}): the connection broke or the server did not answer \
                 ({server} has answered this page's requests of this kind before, so the \
                 browser's CORS checks are not the likely cause)"
            ),
        );
    }
    if cross_origin {
        let page = page.unwrap_or_else(|| "an opaque origin".into());
        let https_to_http =
            page.starts_with("https:") && request.url.scheme().eq_ignore_ascii_case("http");
        let mixed = if https_to_http {
            "; also, this page is https and the server http, and the browser blocks such mixed \
             content whatever the server's CORS settings: use an https address"
        } else {
            ""
        };
        TransportError::new(
            TransportErrorKind::Blocked,
            format!(
                "{target} failed ({said}); {server} is another origin than this page ({page}), \
                 so the browser may have blocked the request or its answer (CORS) without \
                 telling the page why{mixed}"
            ),
        )
    } else {
        // A blob read on this origin may have been redirected to object storage on another
        // host, which the browser then blocks like any other origin (its redirect is not
        // visible to the page).
        let redirect_hint = if request.method == Method::Get
            && request.url.path().contains("/blobs/")
        {
            "; or, if the registry keeps its blobs in object storage (S3, Azure), it redirected \
             this read to a storage host that does not allow this page (CORS): have the proxy \
             follow such redirects itself, as deploy/nginx.conf does"
        } else {
            ""
        };
        TransportError::new(
            TransportErrorKind::Network,
            format!("{target} failed ({said}): the server did not answer{redirect_hint}"),
        )
    }
}

impl Transport for FetchTransport {
    type NativeBody = Blob;
    type Stream = FetchBody;

    async fn send(&self, request: Request<Blob>) -> Result<Response<FetchBody>, TransportError> {
        if let Some(aborted) = self.aborted() {
            return Err(aborted);
        }
        let signal = self.signal_for_now();
        let mut unanswered = AbortOnDrop::new();
        let fetch_signal = unanswered.signal_with(signal.as_ref());
        let init = self.build_init(&request, fetch_signal.as_ref())?;
        let limits = self.stall_limits();
        let answer_ms = match request.method {
            Method::Get | Method::Head => limits.answer_ms,
            _ => 0,
        };
        let fetching = JsFuture::from(js::global_fetch(request.url.as_str(), &init));
        // On `None`, `unanswered` aborts the request as it is dropped.
        let Some(answer) = within(answer_ms, fetching).await else {
            return Err(no_answer(&request, answer_ms));
        };
        let forwarding = unanswered.disarm();
        let response: web_sys::Response = match answer {
            Ok(value) => value.unchecked_into(),
            Err(error) => {
                if let Some(unreadable) = unreadable_file(&request).await {
                    return Err(unreadable);
                }
                return Err(classify_rejection(&request, &error, signal.as_ref()));
            }
        };
        remember_answered(&request);
        let headers = headers_of(&response);
        let announced = content_length(&headers);
        Ok(Response {
            status: response.status(),
            headers,
            url: Url::parse(&response.url()).ok(),
            headers_filtered: response.type_() == ResponseType::Cors,
            body: FetchBody::new(response.body(), announced, signal, forwarding)
                .idle_limit(limits.body_idle_ms),
        })
    }

    fn now_millis(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn aborted(&self) -> Option<TransportError> {
        let signal = self.signal_for_now()?;
        signal
            .aborted()
            .then(|| stopped_by(Some(&signal), "before it was sent"))
    }

    /// Waits between retries; an abort of the transport's signal ends the wait at once (the
    /// next request then fails as aborted), except in a clean-up, which outlives the abort.
    async fn sleep(&self, millis: u64) {
        js::sleep(millis, self.signal_for_now().as_ref()).await;
    }

    async fn until_aborted(&self) {
        let Some(signal) = self.signal_for_now() else {
            return std::future::pending().await;
        };
        // A sleep ends early on the abort; the longest `setTimeout` (~24 days) is renewed.
        while !signal.aborted() {
            js::sleep(u64::from(i32::MAX.unsigned_abs()), Some(&signal)).await;
        }
    }
}

thread_local! {
    static SCOPED_SIGNAL: RefCell<Option<AbortSignal>> = const { RefCell::new(None) };
    /// The kinds of request (origin, method, header names) whose answers this page has read:
    /// CORS lets it, so a later rejected request of the same kind is a network failure, not a
    /// block. The header names count, since they decide the preflight: a GET that passed
    /// without `Authorization` says nothing of one with it.
    static ANSWERED: RefCell<std::collections::HashSet<String>> =
        RefCell::new(std::collections::HashSet::new());
}

fn scoped_signal() -> Option<AbortSignal> {
    SCOPED_SIGNAL.with(|s| s.borrow().clone())
}

/// What makes two requests alike for CORS: the server's origin, the method and the header
/// names sent.
fn request_kind(request: &Request<Blob>) -> Option<String> {
    let origin = js::origin_of(request.url.as_str())?;
    let mut names: Vec<String> = request
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    Some(format!("{origin} {} {}", request.method, names.join(",")))
}

fn remember_answered(request: &Request<Blob>) {
    if let Some(kind) = request_kind(request) {
        ANSWERED.with(|answered| answered.borrow_mut().insert(kind));
    }
}

fn answered_before(request: &Request<Blob>) -> bool {
    request_kind(request).is_some_and(|kind| ANSWERED.with(|a| a.borrow().contains(&kind)))
}

/// An operation's future with its own abort signal ([`with_abort_signal`]).
pub type WithAbortSignal<F> = porthole_core::transport::Scoped<Option<AbortSignal>, F>;

/// Runs `future` (one operation on a client) so that every request it starts through a
/// [`FetchTransport`] without a signal of its own, and every wait between its retries, stops
/// when `signal` aborts. The signal is the *current* one while, and only while, that future is
/// polled, and a transport reads it when a request starts, on the same poll: concurrent
/// operations on one client keep their own signals. A clean-up after an abort still goes out
/// (see [`porthole_core::transport::cleanup`]).
pub fn with_abort_signal<F: Future>(signal: Option<AbortSignal>, future: F) -> WithAbortSignal<F> {
    porthole_core::transport::scoped(&SCOPED_SIGNAL, signal, future)
}

/// Aborts a request whose future is dropped before its answer came (a cancelled stream, the
/// other half of a failed `try_join`): the browser would otherwise go on sending or receiving
/// for nobody, holding one of the few connections it keeps per host until the collector runs.
/// Once the answer is in, the body's own drop cancels what is left ([`FetchBody`]).
struct AbortOnDrop {
    controller: Option<AbortController>,
    /// Where the engine lacks `AbortSignal.any`: the listener that passes the caller's abort on
    /// to `controller`.
    forwarding: Option<Forwarding>,
}

impl AbortOnDrop {
    fn new() -> Self {
        Self {
            controller: AbortController::new().ok(),
            forwarding: None,
        }
    }

    /// The signal the request goes with: this guard's, following `caller`'s too when there is
    /// one: `AbortSignal.any` where the engine has it (Chrome 116, Firefox 124, Safari 17.4),
    /// else a listener on `caller` that aborts this guard's controller.
    fn signal_with(&mut self, caller: Option<&AbortSignal>) -> Option<AbortSignal> {
        let Some(controller) = &self.controller else {
            return caller.cloned();
        };
        let own = controller.signal();
        let Some(caller) = caller else {
            return Some(own);
        };
        if let Some(both) = js::any_signal(caller, &own) {
            return Some(both);
        }
        match Forwarding::new(caller, controller.clone()) {
            Some(forwarding) => {
                self.forwarding = Some(forwarding);
                Some(own)
            }
            None => {
                self.controller = None;
                Some(caller.clone())
            }
        }
    }

    /// The answer came (or the request failed): nothing to abort any more. What passes the
    /// caller's abort on (if anything does) is handed over, to live as long as the body, whose
    /// reads the request's signal still governs.
    fn disarm(&mut self) -> Option<Forwarding> {
        self.controller = None;
        self.forwarding.take()
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = self.controller.take() {
            controller.abort();
        }
    }
}

/// A listener on a caller's signal that aborts a request's own controller; taken off the
/// caller's signal when dropped, so a long-lived signal does not gather one per request.
struct Forwarding {
    caller: AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl Forwarding {
    /// `None` when the caller's signal aborted already (the request is refused before it is
    /// sent) or refuses the listener.
    fn new(caller: &AbortSignal, controller: AbortController) -> Option<Self> {
        if caller.aborted() {
            return None;
        }
        let listener = Closure::<dyn FnMut()>::new(move || controller.abort());
        caller
            .add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref())
            .ok()?;
        Some(Self {
            caller: caller.clone(),
            listener,
        })
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        let listener = self.listener.as_ref().unchecked_ref();
        let _ = self
            .caller
            .remove_event_listener_with_callback("abort", listener);
    }
}

impl fmt::Debug for Forwarding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Forwarding")
    }
}

/// The headers of a `Response` (those the browser lets the page see).
fn headers_of(response: &web_sys::Response) -> Headers {
    let mut headers = Headers::new();
    if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
        for entry in entries.flatten() {
            let pair: js_sys::Array = entry.unchecked_into();
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                headers.append(name, value);
            }
        }
    }
    headers
}

/// A `fetch` response body, read chunk by chunk (never buffered whole). Dropping it before the
/// end cancels the rest of the download.
///
/// Where the browser offers it (every current engine), the body is read with a BYOB reader
/// into one reused scratch buffer, so a long download allocates nothing per chunk.
#[derive(Debug)]
pub struct FetchBody {
    reader: Option<Reader>,
    /// The buffer BYOB reads land in (moved out during a read, handed back after it).
    scratch: Option<ArrayBuffer>,
    /// The answer's `Content-Length`.
    announced: Option<u64>,
    signal: Option<AbortSignal>,
    /// [`StallLimits::body_idle_ms`] (`0`: none).
    idle_ms: u64,
    /// What passes the caller's abort on to the request, where the engine lacks
    /// `AbortSignal.any`: kept while the body may be read.
    _forwarding: Option<Forwarding>,
}

/// How the response body is read.
#[derive(Debug)]
enum Reader {
    /// Into the body's scratch buffer (no allocation per chunk).
    Byob(ReadableStreamByobReader),
    /// Chunks the browser allocates (engines without readable byte streams).
    Default(ReadableStreamDefaultReader),
    /// A body no reader could be had for (read already, or locked by another reader): the
    /// first read fails with this text.
    Unreadable(String),
}

/// One chunk of a response body, as JS bytes.
#[derive(Debug)]
pub(crate) enum JsChunk {
    /// Bytes in the body's scratch buffer: copy them out, then hand the buffer back with
    /// [`FetchBody::keep_scratch`] before the next read.
    Scratch(Uint8Array),
    /// Bytes in a buffer of their own, which the caller may keep.
    Owned(Uint8Array),
}

impl JsChunk {
    /// The bytes.
    pub(crate) fn bytes(&self) -> &Uint8Array {
        match self {
            Self::Scratch(bytes) | Self::Owned(bytes) => bytes,
        }
    }

    /// The same chunk without its first `count` bytes (a view on the same buffer).
    pub(crate) fn without_first(self, count: u32) -> Self {
        match self {
            Self::Scratch(bytes) => Self::Scratch(bytes.subarray(count, bytes.length())),
            Self::Owned(bytes) => Self::Owned(bytes.subarray(count, bytes.length())),
        }
    }

    /// Hands a scratch chunk's buffer back to `body` (an owned chunk is simply dropped).
    pub(crate) fn give_back(self, body: &mut FetchBody) {
        if let Self::Scratch(bytes) = self {
            body.keep_scratch(&bytes);
        }
    }
}

/// Size of the scratch buffer: a read returns what has arrived, up to this much.
pub(crate) const SCRATCH_BYTES: u32 = 256 * 1024;

impl FetchBody {
    /// The body of a `Response` from elsewhere (a cache, a service worker, a hand-made
    /// `Response`), to read or verify it as Porthole reads a `fetch` answer.
    pub fn of_response(response: &web_sys::Response) -> Self {
        // No idle limit: such a body may come from a slow JS stream, and nothing could ask
        // for it again.
        Self::new(
            response.body(),
            content_length(&headers_of(response)),
            None,
            None,
        )
        .idle_limit(0)
    }

    /// The length the answer announced (`Content-Length`), if any.
    pub(crate) fn announced_len(&self) -> Option<u64> {
        self.announced
    }

    fn new(
        body: Option<web_sys::ReadableStream>,
        announced: Option<u64>,
        signal: Option<AbortSignal>,
        forwarding: Option<Forwarding>,
    ) -> Self {
        let reader = body.map(|stream| {
            let options = ReadableStreamGetReaderOptions::new();
            options.set_mode(ReadableStreamReaderMode::Byob);
            // A body that is not a byte stream (older engines; a `Response` over a plain
            // stream) refuses a BYOB reader: read it chunk by chunk instead.
            match js::try_get_reader(&stream, &options).map(JsCast::dyn_into) {
                Ok(Ok(byob)) => return Reader::Byob(byob),
                // A reader that is not a BYOB reader after all (a polyfill): let go of it, or
                // it keeps the stream locked.
                Ok(Err(other)) => js::release_lock(&other),
                Err(_) => {}
            }
            match js::try_get_reader(&stream, &JsValue::UNDEFINED) {
                Ok(reader) => Reader::Default(reader.unchecked_into()),
                Err(error) => Reader::Unreadable(js::describe(&error).1),
            }
        });
        Self {
            reader,
            scratch: None,
            announced,
            signal,
            idle_ms: StallLimits::default().body_idle_ms,
            _forwarding: forwarding,
        }
    }

    /// The same body, whose reads give up after `millis` without bytes (`0`: never).
    fn idle_limit(mut self, millis: u64) -> Self {
        self.idle_ms = millis;
        self
    }

    /// Reads the next non-empty chunk, at most `limit` bytes when it lands in the scratch
    /// buffer (an [`JsChunk::Owned`] chunk is as long as the browser made it), or `None` at
    /// the end.
    pub(crate) async fn next_js_chunk(
        &mut self,
        limit: u32,
    ) -> Result<Option<JsChunk>, TransportError> {
        loop {
            let read = match &self.reader {
                None => return Ok(None),
                Some(Reader::Unreadable(message)) => {
                    let message = format!(
                        "the response body cannot be read (was it read already, or is it \
                         locked by another reader?): {message}"
                    );
                    self.reader = None;
                    return Err(TransportError::new(TransportErrorKind::Body, message));
                }
                Some(Reader::Default(reader)) => reader.read(),
                Some(Reader::Byob(reader)) => {
                    let scratch = self
                        .scratch
                        .take()
                        .unwrap_or_else(|| ArrayBuffer::new(SCRATCH_BYTES));
                    let view = Uint8Array::new_with_byte_offset_and_length(
                        &scratch,
                        0,
                        limit.clamp(1, SCRATCH_BYTES),
                    );
                    reader.read_with_array_buffer_view(&view)
                }
            };
            let result = match within(self.idle_ms, JsFuture::from(read)).await {
                Some(Ok(result)) => result,
                Some(Err(error)) => return Err(self.broken(&error)),
                None => return Err(self.stalled()),
            };
            let done = Reflect::get(&result, &JsValue::from_str("done"))
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                self.reader = None;
                return Ok(None);
            }
            let value = Reflect::get(&result, &JsValue::from_str("value")).unwrap_or_default();
            let chunk = value.dyn_into::<Uint8Array>().map_err(|_| {
                TransportError::new(
                    TransportErrorKind::Body,
                    "the response body gave a chunk that is not bytes",
                )
            })?;
            let in_scratch = matches!(self.reader, Some(Reader::Byob(_)));
            if chunk.length() == 0 {
                if in_scratch {
                    self.keep_scratch(&chunk);
                }
                continue;
            }
            return Ok(Some(if in_scratch {
                JsChunk::Scratch(chunk)
            } else {
                JsChunk::Owned(chunk)
            }));
        }
    }

    /// Takes back the scratch buffer a [`JsChunk::Scratch`] chunk lives in.
    pub(crate) fn keep_scratch(&mut self, chunk: &Uint8Array) {
        self.scratch = Some(chunk.buffer());
    }

    /// The error for a read that got no bytes within the idle limit; the body is cancelled
    /// (which ends the request) and finished after it.
    fn stalled(&mut self) -> TransportError {
        match self.reader.take() {
            Some(Reader::Byob(reader)) => js::ignore_rejection(&reader.cancel()),
            Some(Reader::Default(reader)) => js::ignore_rejection(&reader.cancel()),
            _ => {}
        }
        TransportError::new(
            TransportErrorKind::Timeout,
            format!(
                "the answer stopped arriving: no bytes came for {} s (the connection may have \
                 stalled without closing, after a network change or through a proxy that \
                 dropped it silently)",
                self.idle_ms.div_ceil(1000)
            ),
        )
    }

    /// The error for a failed read; the body is finished after it.
    fn broken(&mut self, error: &JsValue) -> TransportError {
        self.reader = None;
        if is_abort(error, self.signal.as_ref()) {
            return stopped_by(self.signal.as_ref(), "while the answer was being read");
        }
        let (_, message) = js::describe(error);
        TransportError::new(
            TransportErrorKind::Network,
            format!("the connection broke while the answer was being read: {message}"),
        )
    }
}

impl BodyStream for FetchBody {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        Ok(match self.next_js_chunk(SCRATCH_BYTES).await? {
            Some(JsChunk::Scratch(chunk)) => {
                let bytes = chunk.to_vec();
                self.keep_scratch(&chunk);
                Some(bytes)
            }
            Some(JsChunk::Owned(chunk)) => Some(chunk.to_vec()),
            None => None,
        })
    }
}

impl Drop for FetchBody {
    fn drop(&mut self) {
        // Stop downloading what nobody will read. The promise's outcome does not matter.
        match self.reader.take() {
            Some(Reader::Byob(reader)) => js::ignore_rejection(&reader.cancel()),
            Some(Reader::Default(reader)) => js::ignore_rejection(&reader.cancel()),
            Some(Reader::Unreadable(_)) | None => {}
        }
    }
}
