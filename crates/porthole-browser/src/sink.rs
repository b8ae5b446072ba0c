//! Verified downloads for the browser: a `ReadableStream` that errors instead of closing when
//! the bytes do not hash to the digest asked for.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Object, Promise, Reflect, Uint8Array};
use porthole_core::{Digest, Error, Hasher, Repository, Transport};
use wasm_bindgen::prelude::*;
use web_sys::{ReadableByteStreamController, ReadableStream, ReadableStreamByobRequest};

use crate::fetch::{FetchBody, JsChunk, SCRATCH_BYTES};
use crate::js::error_to_js;

type Opener = Pin<Box<dyn Future<Output = Result<FetchBody, Error>>>>;

/// The state one stream's `pull` and `cancel` share.
struct Pull {
    /// Sends the request; taken on the first pull.
    opener: Option<Opener>,
    /// The response body (taken out while a read is pending).
    body: Option<FetchBody>,
    hasher: Option<Hasher>,
    /// The piece of wasm memory chunks are copied into to be hashed (reused).
    hash_buffer: Vec<u8>,
    expected: Digest,
    what: String,
    cancelled: bool,
    /// Makes the JS value the stream errors with.
    to_js: ErrorToJs,
}

/// Turns a Porthole error into the JS value a stream errors with.
pub type ErrorToJs = fn(&Error) -> JsValue;

impl Pull {
    fn finish(&mut self) {
        self.opener = None;
        self.body = None;
        self.hasher = None;
    }

    /// Feeds JS bytes to the hasher, through the reused wasm buffer.
    fn hash(&mut self, chunk: &Uint8Array) {
        let Some(hasher) = self.hasher.as_mut() else {
            return;
        };
        let piece_len = self.hash_buffer.len() as u32;
        let len = chunk.length();
        let mut at = 0;
        while at < len {
            let end = len.min(at + piece_len);
            let piece = &mut self.hash_buffer[..(end - at) as usize];
            chunk.subarray(at, end).copy_to(piece);
            hasher.update(piece);
            at = end;
        }
    }
}

/// What one pull did.
enum Step {
    /// Bytes were handed to the consumer.
    Delivered,
    /// The body ended and hashed to the digest (or the stream was cancelled).
    End,
}

/// The bytes of a BYOB request's view, whatever kind of `ArrayBufferView` the consumer passed.
fn bytes_of(view: &Object) -> Option<Uint8Array> {
    let get = |key: &str| Reflect::get(view, &JsValue::from_str(key)).ok();
    let buffer: ArrayBuffer = get("buffer")?.dyn_into().ok()?;
    let offset = get("byteOffset")?.as_f64()? as u32;
    let length = get("byteLength")?.as_f64()? as u32;
    Some(Uint8Array::new_with_byte_offset_and_length(
        &buffer, offset, length,
    ))
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
        // A byte stream copies into a pending BYOB view itself (and queues any rest).
        JsChunk::Owned(bytes) => controller.enqueue_with_js_u8_array(&bytes),
    }
}

async fn pull_once(
    state: &RefCell<Pull>,
    controller: &ReadableByteStreamController,
) -> Result<Step, Error> {
    let opener = state.borrow_mut().opener.take();
    if let Some(opener) = opener {
        let body = opener.await?;
        state.borrow_mut().body = Some(body);
    }
    let Some(mut body) = state.borrow_mut().body.take() else {
        return Ok(Step::End);
    };
    let request = controller.byob_request().and_then(|request| {
        let view = bytes_of(&request.view()?)?;
        Some((request, view))
    });
    let limit = request
        .as_ref()
        .map_or(SCRATCH_BYTES, |(_, view)| view.length());
    let next = body.next_js_chunk(limit).await;
    let mut st = state.borrow_mut();
    if st.cancelled {
        return Ok(Step::End);
    }
    match next {
        Ok(Some(chunk)) => {
            match &chunk {
                JsChunk::Scratch(bytes) | JsChunk::Owned(bytes) => st.hash(bytes),
            }
            // Only fails when the consumer went away meanwhile; nobody is listening then.
            let _ = deliver(controller, request, chunk, &mut body);
            st.body = Some(body);
            Ok(Step::Delivered)
        }
        Ok(None) => match st.hasher.take() {
            Some(hasher) => hasher
                .finish_and_check(&st.what, &st.expected)
                .map(|()| Step::End),
            None => Ok(Step::End),
        },
        Err(source) => Err(Error::Transport {
            operation: st.what.clone(),
            source,
        }),
    }
}

fn pull_stream(opener: Opener, expected: Digest, what: String, to_js: ErrorToJs) -> ReadableStream {
    let hasher = expected.hasher();
    let unverifiable = hasher.is_none().then(|| Error::Protocol {
        message: format!(
            "{what}: Porthole cannot verify digest algorithm {}, so it refuses the content",
            expected.algorithm().as_str()
        ),
    });
    let state = Rc::new(RefCell::new(Pull {
        opener: Some(opener),
        body: None,
        hasher,
        hash_buffer: vec![0; SCRATCH_BYTES as usize],
        expected,
        what,
        cancelled: false,
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
        let mut st = cancel_state.borrow_mut();
        st.cancelled = true;
        st.finish(); // dropping the body cancels the download
    });

    // A byte stream: consumers may read with a BYOB reader, and the bytes then land in their
    // buffer with no allocation per chunk.
    let source = Object::new();
    let _ = Reflect::set(&source, &"type".into(), &"bytes".into());
    let _ = Reflect::set(&source, &"pull".into(), &pull.into_js_value());
    let _ = Reflect::set(&source, &"cancel".into(), &cancel.into_js_value());
    ReadableStream::new_with_underlying_source(&source)
        .expect("a plain object with type, pull and cancel is a valid underlying source")
}

/// A readable byte stream of `body`'s bytes, hashed as they pass. A consumer reading with a
/// BYOB reader gets the bytes in its own buffer (nothing is allocated per chunk); a default
/// reader gets `Uint8Array` chunks. At the end
/// the stream closes only when the bytes hash to `expected`; otherwise it **errors** with a
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
        expected,
        what.into(),
        to_js,
    )
}

/// Downloads a blob as a verified `ReadableStream` (see [`verified_stream`]): the request is sent
/// at once, the body is read as the consumer pulls, and the stream errors instead of closing if
/// the bytes do not hash to `digest`. A registry error (404, 401, ...) or a network failure also
/// errors the stream, with the same message the client would give.
pub fn download_blob_to_stream<T>(repository: &Repository<T>, digest: &Digest) -> ReadableStream
where
    T: Transport<Stream = FetchBody> + 'static,
{
    let repository = repository.clone();
    let what = format!("blob {}@{digest}", repository.name());
    let asked = digest.clone();
    let opener = Box::pin(async move { Ok(repository.open_blob(&asked).await?.body) });
    pull_stream(opener, digest.clone(), what, error_to_js)
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
