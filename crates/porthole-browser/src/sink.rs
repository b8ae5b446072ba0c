//! Verified downloads for the browser: a `ReadableStream` that errors instead of closing when
//! the bytes do not hash to the digest asked for.

use std::cell::RefCell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Poll, Waker};

use js_sys::{Object, Promise, Reflect, Uint8Array};
use porthole_core::{Digest, Error, Hasher, Repository, Transport, TransportError};
use wasm_bindgen::prelude::*;
use web_sys::{ReadableByteStreamController, ReadableStream, ReadableStreamByobRequest};

use crate::fetch::{FetchBody, JsChunk, SCRATCH_BYTES};
use crate::js::{self, error_to_js};
use crate::source::WEBCRYPTO_MAX_BYTES;

type Opener = Pin<Box<dyn Future<Output = Result<FetchBody, Error>>>>;

/// A resume's request: the new body and how many of its leading bytes were had already, or
/// `None` when nothing was left to send ([`Repository::resume_blob`]).
pub type ResumeFuture = Pin<Box<dyn Future<Output = Result<Option<(FetchBody, u64)>, Error>>>>;

/// Asks for the rest of a download whose body broke: `(offset, error, attempt)` to the resume's
/// request ([`Repository::resume_blob`]).
type Resumer = Rc<dyn Fn(u64, TransportError, u32) -> ResumeFuture>;

/// The state one stream's `pull` and `cancel` share.
struct Pull {
    /// Sends the request; taken on the first pull.
    opener: Option<Opener>,
    /// The response body (taken out while a read is pending).
    body: Option<FetchBody>,
    /// Asks for the rest after a broken body (none: a body that cannot be asked for again).
    resumer: Option<Resumer>,
    /// Bytes taken in (hashed or kept) and handed on so far.
    received: u64,
    /// The length the first answer announced (`Content-Length`).
    announced: Option<u64>,
    /// Leading bytes of the current body that were had already (a resume answered 200).
    skip: u64,
    /// Resumes so far.
    resumes: u32,
    /// How the bytes are checked against `expected` (none once finished).
    check: Option<Check>,
    /// The piece of wasm memory chunks are copied into to be hashed (reused; allocated on
    /// first use, so a stream checked by WebCrypto never takes it).
    hash_buffer: Vec<u8>,
    expected: Digest,
    what: String,
    cancelled: bool,
    /// Wakes the pull waiting on a request, a read or a back-off when the stream is cancelled.
    waker: Option<Waker>,
    /// Makes the JS value the stream errors with.
    to_js: ErrorToJs,
}

/// Turns a Porthole error into the JS value a stream errors with.
pub type ErrorToJs = fn(&Error) -> JsValue;

/// How a stream's bytes are checked against the digest asked for.
enum Check {
    /// Hashed in wasm as they pass (boxed: a hasher's state is large beside two JS handles).
    Wasm(Box<Hasher>),
    /// Kept in one JS buffer of the announced length and hashed whole by WebCrypto at the end
    /// (natively, off the page's thread): a body that announces at most
    /// [`WEBCRYPTO_MAX_BYTES`] where the page has WebCrypto.
    WebCrypto {
        webcrypto: js::WebCrypto,
        kept: Uint8Array,
    },
}

impl Check {
    /// Hashing in wasm for `expected`'s algorithm; `None` when Porthole cannot compute it.
    fn wasm_for(expected: &Digest) -> Option<Self> {
        expected.hasher().map(|h| Self::Wasm(Box::new(h)))
    }
}

/// Feeds JS bytes to `hasher`, copied through `buffer` (a reused piece of wasm memory).
fn hash_js(hasher: &mut Hasher, buffer: &mut Vec<u8>, bytes: &Uint8Array) {
    if buffer.is_empty() {
        buffer.resize(SCRATCH_BYTES as usize, 0);
    }
    let piece_len = buffer.len() as u32;
    let len = bytes.length();
    let mut at = 0;
    while at < len {
        let end = len.min(at + piece_len);
        let piece = &mut buffer[..(end - at) as usize];
        bytes.subarray(at, end).copy_to(piece);
        hasher.update(piece);
        at = end;
    }
}

/// `work`'s output, or `None` when the stream is cancelled first. `work` is then dropped, which
/// lets go of a pending request, body read or back-off: a cancelled stream sends nothing more.
async fn unless_cancelled<F: Future>(state: &RefCell<Pull>, work: F) -> Option<F::Output> {
    let mut work = pin!(work);
    std::future::poll_fn(|cx| {
        if state.borrow().cancelled {
            return Poll::Ready(None);
        }
        // Stored before polling: a cancel that runs while `work` is polled (a hand-made body's
        // JS `pull`, called by the read itself) still finds the waker to wake.
        state.borrow_mut().waker = Some(cx.waker().clone());
        let polled = work.as_mut().poll(cx);
        let mut st = state.borrow_mut();
        if st.cancelled {
            return Poll::Ready(None); // what `work` gave, if anything, is dropped
        }
        polled.map(|output| {
            st.waker = None;
            Some(output)
        })
    })
    .await
}

impl Pull {
    /// Marks the stream cancelled, lets go of its body and wakes a pull waiting on the network.
    fn cancel(&mut self) -> Option<Waker> {
        self.cancelled = true;
        self.finish(); // dropping the body cancels the download
        self.waker.take()
    }

    fn finish(&mut self) {
        self.opener = None;
        self.body = None;
        self.resumer = None;
        self.check = None;
    }

    /// Once the first answer announced its length: a body small enough is kept for WebCrypto
    /// instead of being hashed in wasm as it passes.
    fn prefer_webcrypto(&mut self) {
        let Some(len) = self.announced.filter(|&len| len <= WEBCRYPTO_MAX_BYTES) else {
            return;
        };
        if !matches!(self.check, Some(Check::Wasm(_))) {
            return;
        }
        let webcrypto = js::webcrypto_for(&self.expected.algorithm());
        // An engine that cannot allocate the buffer (low memory) keeps the wasm check.
        if let Some((webcrypto, kept)) = webcrypto.zip(js::try_new_bytes(len as u32)) {
            self.check = Some(Check::WebCrypto { webcrypto, kept });
        }
    }

    /// `chunk` without the bytes a resume sent again; `None` when all of it was had already.
    fn drop_resent(&mut self, chunk: JsChunk, body: &mut FetchBody) -> Option<JsChunk> {
        let len = u64::from(chunk.bytes().length());
        let dropped = self.skip.min(len);
        self.skip -= dropped;
        if dropped == len {
            chunk.give_back(body);
            return None;
        }
        Some(chunk.without_first(dropped as u32))
    }

    /// Takes in the next bytes (at offset `received`): hashed in wasm, or kept for WebCrypto.
    fn hash(&mut self, chunk: &Uint8Array) {
        let end = self.received + u64::from(chunk.length());
        if let Some(Check::WebCrypto { kept, .. }) = &self.check {
            if end <= u64::from(kept.length()) {
                kept.set(chunk, self.received as u32);
                return;
            }
            // More than the answer announced: hash what was kept, and the rest, in wasm.
            let kept = kept.subarray(0, self.received as u32);
            self.check = Check::wasm_for(&self.expected);
            self.hash(&kept);
        }
        if let Some(Check::Wasm(hasher)) = &mut self.check {
            hash_js(hasher, &mut self.hash_buffer, chunk);
        }
    }
}

/// The end of the body: closes only when the bytes hashed to the digest asked for.
async fn verify(state: &RefCell<Pull>) -> Result<Step, Error> {
    let (check, received, what, expected) = {
        let mut st = state.borrow_mut();
        let check = st.check.take();
        (check, st.received, st.what.clone(), st.expected.clone())
    };
    let actual = match check {
        None => return Ok(Step::End),
        Some(Check::Wasm(hasher)) => hasher.finish(),
        Some(Check::WebCrypto { webcrypto, kept }) => {
            let bytes = kept.subarray(0, received as u32);
            match webcrypto.digest(&bytes).await {
                Some(digest) => digest,
                // WebCrypto refused after all: hash the kept bytes here.
                None => {
                    let mut hasher = expected.hasher().unwrap_or_default();
                    let mut buffer = std::mem::take(&mut state.borrow_mut().hash_buffer);
                    hash_js(&mut hasher, &mut buffer, &bytes);
                    hasher.finish()
                }
            }
        }
    };
    actual.check_is(&what, &expected).map(|()| Step::End)
}

/// What one pull did.
enum Step {
    /// Bytes were handed to the consumer.
    Delivered,
    /// The body ended and hashed to the digest (or the stream was cancelled).
    End,
}

/// Hands `chunk` (hashed already) to the consumer: into its own buffer when it reads with a
/// BYOB reader, else as a chunk of its own.
fn deliver(
    controller: &ReadableByteStreamController,
    request: Option<(ReadableStreamByobRequest, Uint8Array)>,
    chunk: JsChunk,
    body: &mut FetchBody,
) -> Result<(), JsValue> {
    match chunk {
        JsChunk::Scratch(bytes) => {
            let result = match request {
                Some((request, view)) => {
                    view.set(&bytes, 0);
                    request.respond_with_u32(bytes.length())
                }
                None => controller.enqueue_with_js_u8_array(&bytes.slice(0, bytes.length())),
            };
            body.keep_scratch(&bytes);
            result
        }
        // A byte stream copies into a pending BYOB view itself (and queues any rest). Enqueuing
        // transfers the chunk's whole buffer: a view on part of one (a producer's shared
        // buffer) is copied first, or the producer's next views would read as empty.
        JsChunk::Owned(bytes) => {
            let whole =
                bytes.byte_offset() == 0 && bytes.byte_length() == bytes.buffer().byte_length();
            if whole {
                controller.enqueue_with_js_u8_array(&bytes)
            } else {
                controller.enqueue_with_js_u8_array(&bytes.slice(0, bytes.length()))
            }
        }
    }
}

async fn pull_once(
    state: &RefCell<Pull>,
    controller: &ReadableByteStreamController,
) -> Result<Step, Error> {
    let opener = state.borrow_mut().opener.take();
    if let Some(opener) = opener {
        let Some(body) = unless_cancelled(state, opener).await else {
            return Ok(Step::End);
        };
        let body = body?;
        let mut st = state.borrow_mut();
        st.announced = body.announced_len();
        st.prefer_webcrypto();
        st.body = Some(body);
    }
    let request = controller.byob_request().and_then(|request| {
        // Whatever kind of `ArrayBufferView` the consumer passed.
        let view = js::view_bytes(request.view()?.as_ref())?;
        Some((request, view))
    });
    let limit = request
        .as_ref()
        .map_or(SCRATCH_BYTES, |(_, view)| view.length());
    loop {
        let Some(mut body) = state.borrow_mut().body.take() else {
            return Ok(Step::End);
        };
        let Some(next) = unless_cancelled(state, body.next_js_chunk(limit)).await else {
            return Ok(Step::End); // dropping the body cancels its pending read
        };
        match next {
            Ok(Some(chunk)) => {
                let mut st = state.borrow_mut();
                let Some(chunk) = st.drop_resent(chunk, &mut body) else {
                    st.body = Some(body);
                    continue;
                };
                st.hash(chunk.bytes());
                st.received += u64::from(chunk.bytes().length());
                // Only fails when the consumer went away meanwhile; nobody is listening then.
                let _ = deliver(controller, request, chunk, &mut body);
                st.body = Some(body);
                return Ok(Step::Delivered);
            }
            Ok(None) => return verify(state).await,
            // Every announced byte came before the break: nothing is left to ask for (the
            // registry would answer 416); the digest check decides.
            Err(_) if state.borrow().announced == Some(state.borrow().received) => {
                return verify(state).await;
            }
            // The connection broke inside the body: ask for the rest, as the core download does.
            Err(source) => {
                let (resumer, offset, attempt) = {
                    let mut st = state.borrow_mut();
                    st.resumes += 1;
                    (st.resumer.clone(), st.received, st.resumes)
                };
                let Some(resumer) = resumer else {
                    let what = state.borrow().what.clone();
                    return Err(Error::Transport {
                        operation: what,
                        source,
                    });
                };
                let resume = resumer(offset, source, attempt);
                let Some(resumed) = unless_cancelled(state, resume).await else {
                    return Ok(Step::End);
                };
                // Nothing was left after all: the digest check decides.
                let Some((body, skip)) = resumed? else {
                    return verify(state).await;
                };
                let mut st = state.borrow_mut();
                st.body = Some(body);
                st.skip = skip;
            }
        }
    }
}

fn pull_stream(
    opener: Opener,
    resumer: Option<Resumer>,
    expected: Digest,
    what: String,
    to_js: ErrorToJs,
) -> ReadableStream {
    let check = Check::wasm_for(&expected);
    let unverifiable = check.is_none().then(|| Error::Protocol {
        message: format!(
            "{what}: Porthole cannot verify digest algorithm {}, so it refuses the content",
            expected.algorithm().as_str()
        ),
    });
    let state = Rc::new(RefCell::new(Pull {
        opener: Some(opener),
        body: None,
        resumer,
        received: 0,
        announced: None,
        skip: 0,
        resumes: 0,
        check,
        hash_buffer: Vec::new(),
        expected,
        what,
        cancelled: false,
        waker: None,
        to_js,
    }));

    let pull_state = Rc::clone(&state);
    let pull = Closure::<dyn FnMut(ReadableByteStreamController) -> Promise>::new(
        move |controller: ReadableByteStreamController| {
            let state = Rc::clone(&pull_state);
            let refused = unverifiable.clone();
            wasm_bindgen_futures::future_to_promise(async move {
                let step = match refused {
                    Some(error) => Err(error),
                    None => pull_once(&state, &controller).await,
                };
                // Calls on a cancelled stream throw; nobody is listening then.
                match step {
                    Ok(Step::Delivered) => {}
                    Ok(Step::End) => {
                        state.borrow_mut().finish();
                        if !state.borrow().cancelled {
                            let _ = controller.close();
                            // A BYOB read still waiting is answered "done" with its buffer.
                            if let Some(request) = controller.byob_request() {
                                let _ = request.respond_with_u32(0);
                            }
                        }
                    }
                    Err(error) => {
                        state.borrow_mut().finish();
                        let to_js = state.borrow().to_js;
                        controller.error_with_e(&to_js(&error));
                    }
                }
                Ok(JsValue::UNDEFINED)
            })
        },
    );
    let cancel_state = state;
    let cancel = Closure::<dyn FnMut(JsValue)>::new(move |_reason: JsValue| {
        let waker = cancel_state.borrow_mut().cancel();
        if let Some(waker) = waker {
            waker.wake();
        }
    });

    // A byte stream: consumers may read with a BYOB reader, and the bytes then land in their
    // buffer with no allocation per chunk. An engine without byte streams refuses the type;
    // the same source then makes a default stream (its controller has no `byobRequest`, so
    // `pull` enqueues chunks).
    let source = Object::new();
    let _ = Reflect::set(&source, &"type".into(), &"bytes".into());
    let _ = Reflect::set(&source, &"pull".into(), &pull.into_js_value());
    let _ = Reflect::set(&source, &"cancel".into(), &cancel.into_js_value());
    ReadableStream::new_with_underlying_source(&source).unwrap_or_else(|_| {
        let _ = Reflect::delete_property(&source, &"type".into());
        ReadableStream::new_with_underlying_source(&source)
            .expect("a plain object with pull and cancel is a valid underlying source")
    })
}

/// A readable byte stream of `body`'s bytes, hashed as they pass (or, when the answer announces
/// at most [`WEBCRYPTO_MAX_BYTES`] and the page has WebCrypto, kept in one buffer and hashed by
/// WebCrypto at the end, natively). A consumer reading with a BYOB reader gets the bytes in its
/// own buffer (nothing is allocated per chunk); a default reader gets `Uint8Array` chunks. At
/// the end the stream closes only when the bytes hash to `expected`; otherwise it **errors** with a
/// `PortholeError` whose `code` is `DIGEST_MISMATCH`, so a consumer (`pipeTo` a file, a
/// `Response`, ...) never takes corrupted data for good data. Chunks already delivered must then
/// be discarded, which `pipeTo` does by aborting its destination.
///
/// `what` names the content in error messages (e.g. `blob app@sha256:…`). Bytes are read only
/// as fast as the consumer pulls them.
pub fn verified_stream(
    body: FetchBody,
    expected: Digest,
    what: impl Into<String>,
) -> ReadableStream {
    verified_stream_with_errors(body, expected, what, error_to_js)
}

/// [`verified_stream`] whose errors are made by `to_js` (the npm package names them after the
/// Azure SDK's) instead of [`error_to_js`].
pub fn verified_stream_with_errors(
    body: FetchBody,
    expected: Digest,
    what: impl Into<String>,
    to_js: ErrorToJs,
) -> ReadableStream {
    pull_stream(
        Box::pin(async move { Ok(body) }),
        None,
        expected,
        what.into(),
        to_js,
    )
}

/// Downloads a blob as a verified `ReadableStream` (see [`verified_stream`]): the request is sent
/// on the consumer's first read (a byte stream asks for nothing before it; an error such as a
/// 404 shows there), the body is read as the consumer pulls, and the stream errors instead of
/// closing if the bytes do not hash to `digest`. Its requests run outside any
/// [`with_abort_signal`](crate::with_abort_signal) scope: a download to stop with a signal is
/// opened first and streamed with [`resumable_blob_stream`]. A body whose connection breaks is resumed with a `Range`
/// request from the byte it reached, within the client's retry policy
/// ([`Repository::resume_blob`]). A registry error (404, 401, ...) or a network failure that
/// retries cannot mend errors the stream, with the same message the client would give.
pub fn download_blob_to_stream<T>(repository: &Repository<T>, digest: &Digest) -> ReadableStream
where
    T: Transport<Stream = FetchBody> + 'static,
{
    let what = format!("blob {}@{digest}", repository.name());
    let opener = {
        let (repository, asked) = (repository.clone(), digest.clone());
        Box::pin(async move { Ok(repository.open_blob(&asked).await?.body) })
    };
    let resumer = resumer_for(repository, digest);
    pull_stream(opener, Some(resumer), digest.clone(), what, error_to_js)
}

/// [`download_blob_to_stream`] for a blob whose `GET` was already answered (by
/// [`Repository::open_blob`], so a caller can report a refusal before handing out a stream):
/// `body` is that answer's body, and a broken body is resumed from where it broke. Errors are
/// made by `to_js`.
///
/// Each resume's request runs inside `around` (the npm package runs it under the call's abort
/// signal, which its transport reads while the future is polled).
pub fn resumable_blob_stream<T>(
    repository: &Repository<T>,
    digest: &Digest,
    body: FetchBody,
    to_js: ErrorToJs,
    around: impl Fn(ResumeFuture) -> ResumeFuture + 'static,
) -> ReadableStream
where
    T: Transport<Stream = FetchBody> + 'static,
{
    let resume = resumer_for(repository, digest);
    let resumer: Resumer =
        Rc::new(move |offset, error, attempt| around(resume(offset, error, attempt)));
    pull_stream(
        Box::pin(async move { Ok(body) }),
        Some(resumer),
        digest.clone(),
        format!("blob {}@{digest}", repository.name()),
        to_js,
    )
}

/// Asks `repository` for the rest of blob `digest` ([`Repository::resume_blob`]).
fn resumer_for<T>(repository: &Repository<T>, digest: &Digest) -> Resumer
where
    T: Transport<Stream = FetchBody> + 'static,
{
    let (repository, digest) = (repository.clone(), digest.clone());
    Rc::new(move |offset, error, attempt| {
        let (repository, digest) = (repository.clone(), digest.clone());
        Box::pin(async move {
            let rest = repository
                .resume_blob(&digest, offset, error, attempt)
                .await?;
            Ok(rest.map(|(response, skip)| (response.body, skip)))
        })
    })
}

/// Downloads a whole blob into a `Uint8Array`, returned only after it is verified against
/// `digest` (for small blobs such as configs; stream large ones with
/// [`download_blob_to_stream`]).
pub async fn download_blob_to_uint8array<T: Transport>(
    repository: &Repository<T>,
    digest: &Digest,
) -> Result<Uint8Array, Error> {
    let bytes = repository.get_blob(digest).await?;
    Ok(Uint8Array::from(bytes.as_slice()))
}
