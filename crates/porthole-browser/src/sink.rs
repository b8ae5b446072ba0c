//! Verified downloads for the browser: a `ReadableStream` that errors instead of closing when
//! the bytes do not hash to the digest asked for.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Object, Promise, Reflect, Uint8Array};
use porthole_core::{BodyStream, Digest, Error, Hasher, Repository, Transport};
use wasm_bindgen::prelude::*;
use web_sys::{ReadableStream, ReadableStreamDefaultController};

use crate::js::error_to_js;

type Opener<S> = Pin<Box<dyn Future<Output = Result<S, Error>>>>;

/// The state one stream's `pull` and `cancel` share.
struct Pull<S> {
    /// Sends the request; taken on the first pull.
    opener: Option<Opener<S>>,
    /// The response body (taken out while a read is pending).
    body: Option<S>,
    hasher: Option<Hasher>,
    expected: Digest,
    what: String,
    cancelled: bool,
}

impl<S: BodyStream> Pull<S> {
    fn finish(&mut self) {
        self.opener = None;
        self.body = None;
        self.hasher = None;
    }
}

async fn pull_once<S: BodyStream>(state: &RefCell<Pull<S>>) -> Result<Option<Vec<u8>>, Error> {
    let opener = state.borrow_mut().opener.take();
    if let Some(opener) = opener {
        let body = opener.await?;
        state.borrow_mut().body = Some(body);
    }
    let Some(mut body) = state.borrow_mut().body.take() else {
        return Ok(None);
    };
    let next = body.next_chunk().await;
    let mut st = state.borrow_mut();
    if st.cancelled {
        return Ok(None);
    }
    match next {
        Ok(Some(chunk)) => {
            if let Some(hasher) = st.hasher.as_mut() {
                hasher.update(&chunk);
            }
            st.body = Some(body);
            Ok(Some(chunk))
        }
        Ok(None) => match st.hasher.take() {
            Some(hasher) => hasher
                .finish_and_check(&st.what, &st.expected)
                .map(|()| None),
            None => Ok(None),
        },
        Err(source) => Err(Error::Transport {
            operation: st.what.clone(),
            source,
        }),
    }
}

fn pull_stream<S: BodyStream + 'static>(
    opener: Opener<S>,
    expected: Digest,
    what: String,
) -> ReadableStream {
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
        expected,
        what,
        cancelled: false,
    }));

    let pull_state = Rc::clone(&state);
    let pull = Closure::<dyn FnMut(ReadableStreamDefaultController) -> Promise>::new(
        move |controller: ReadableStreamDefaultController| {
            let state = Rc::clone(&pull_state);
            let refused = unverifiable.clone();
            wasm_bindgen_futures::future_to_promise(async move {
                let step = match refused {
                    Some(error) => Err(error),
                    None => pull_once(&state).await,
                };
                // Calls on a cancelled stream throw; nobody is listening then.
                match step {
                    Ok(Some(chunk)) => {
                        let _ = controller.enqueue_with_chunk(&Uint8Array::from(chunk.as_slice()));
                    }
                    Ok(None) => {
                        state.borrow_mut().finish();
                        if !state.borrow().cancelled {
                            let _ = controller.close();
                        }
                    }
                    Err(error) => {
                        state.borrow_mut().finish();
                        controller.error_with_e(&error_to_js(&error));
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

    let source = Object::new();
    let _ = Reflect::set(&source, &"pull".into(), &pull.into_js_value());
    let _ = Reflect::set(&source, &"cancel".into(), &cancel.into_js_value());
    ReadableStream::new_with_underlying_source(&source)
        .expect("a plain object with pull and cancel is a valid underlying source")
}

/// A `ReadableStream` of `body`'s bytes (`Uint8Array` chunks), hashed as they pass. At the end
/// the stream closes only when the bytes hash to `expected`; otherwise it **errors** with a
/// `PortholeError` whose `code` is `DIGEST_MISMATCH`, so a consumer (`pipeTo` a file, a
/// `Response`, ...) never takes corrupted data for good data. Chunks already delivered must then
/// be discarded, which `pipeTo` does by aborting its destination.
///
/// `what` names the content in error messages (e.g. `blob app@sha256:…`). Bytes are read only
/// as fast as the consumer pulls them.
pub fn verified_stream<S: BodyStream + 'static>(
    body: S,
    expected: Digest,
    what: impl Into<String>,
) -> ReadableStream {
    pull_stream(Box::pin(async move { Ok(body) }), expected, what.into())
}

/// Downloads a blob as a verified `ReadableStream` (see [`verified_stream`]): the request is sent
/// at once, the body is read as the consumer pulls, and the stream errors instead of closing if
/// the bytes do not hash to `digest`. A registry error (404, 401, ...) or a network failure also
/// errors the stream, with the same message the client would give.
pub fn download_blob_to_stream<T>(repository: &Repository<T>, digest: &Digest) -> ReadableStream
where
    T: Transport + 'static,
    T::Stream: 'static,
{
    let repository = repository.clone();
    let what = format!("blob {}@{digest}", repository.name());
    let asked = digest.clone();
    let opener = Box::pin(async move { Ok(repository.open_blob(&asked).await?.body) });
    pull_stream(opener, digest.clone(), what)
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
