//! [`ReadableStreamSource`]: the bytes of a JS `ReadableStream`, for streamed uploads.

use js_sys::{ArrayBuffer, Function, Reflect, Uint8Array};
use porthole_core::{ByteStream, TransportError, TransportErrorKind};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, ReadableStream, ReadableStreamDefaultReader};

use crate::fetch::stopped_by;
use crate::js;

#[wasm_bindgen(inline_js = "
export function cancelOnAbort(signal, reader) {
  const onAbort = () => { reader.cancel().catch(() => {}); };
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}")]
extern "C" {
    /// Cancels `reader` when `signal` aborts (ignoring how the cancel ends); returns the function
    /// that removes the listener.
    #[wasm_bindgen(js_name = cancelOnAbort)]
    fn cancel_on_abort(signal: &AbortSignal, reader: &ReadableStreamDefaultReader) -> Function;
}

/// A JS `ReadableStream` of bytes as a [`ByteStream`], for
/// [`Repository::upload_blob_stream`](porthole_core::Repository::upload_blob_stream): an upload
/// whose length is known only at its end, of which only the chunk on the wire is in memory.
///
/// It reads with a default reader, so any stream of `Uint8Array`s (or other `ArrayBuffer` views,
/// or `ArrayBuffer`s) will do; what a read gives beyond what the upload asked for waits for the
/// next read. Dropped before the stream's end (the upload failed or was aborted), it cancels the
/// stream, so its producer stops. With [`Self::with_abort_signal`], an abort also ends a read
/// that waits for a stalled producer.
#[derive(Debug)]
pub struct ReadableStreamSource {
    reader: ReadableStreamDefaultReader,
    /// The chunk being handed out and how much of it was.
    pending: Option<(Uint8Array, u32)>,
    ended: bool,
    signal: Option<AbortSignal>,
    /// Removes the abort listener that cancels the reader.
    disarm: Option<Function>,
}

impl ReadableStreamSource {
    /// Locks `stream` with a reader. Fails (with the browser's `TypeError`) when another reader
    /// holds it.
    pub fn new(stream: &ReadableStream) -> Result<Self, JsValue> {
        let reader = js::try_get_reader(stream, &JsValue::UNDEFINED)?;
        Ok(Self {
            reader: reader.unchecked_into(),
            pending: None,
            ended: false,
            signal: None,
            disarm: None,
        })
    }

    /// Makes reads give up when `signal` aborts, as requests do: the abort cancels the stream, so
    /// a read waiting for a stalled producer ends at once, and is reported as the abort (never
    /// as the stream's end).
    pub fn with_abort_signal(mut self, signal: Option<AbortSignal>) -> Self {
        self.stop_listening();
        self.disarm = signal
            .as_ref()
            .map(|signal| cancel_on_abort(signal, &self.reader));
        self.signal = signal;
        self
    }

    fn stop_listening(&mut self) {
        if let Some(disarm) = self.disarm.take() {
            let _ = disarm.call0(&JsValue::UNDEFINED);
        }
    }

    fn aborted(&self) -> bool {
        self.signal.as_ref().is_some_and(AbortSignal::aborted)
    }

    /// `reader.read()`; after an abort, whatever the read gave, the abort.
    async fn read_unless_aborted(&mut self) -> Result<JsValue, TransportError> {
        let aborted = || {
            stopped_by(
                self.signal.as_ref(),
                "while the upload waited for the stream",
            )
        };
        if self.aborted() {
            return Err(aborted());
        }
        let result = JsFuture::from(self.reader.read()).await;
        // The abort cancels the stream, and a read pending then answers "done": checked first,
        // so a cut-short stream is never taken for a finished one.
        if self.aborted() {
            return Err(aborted());
        }
        result.map_err(|e| {
            self.finished();
            failed(format!("the stream failed: {}", message(&e)))
        })
    }

    /// The stream ended or failed: nothing to cancel any more.
    fn finished(&mut self) {
        self.ended = true;
        self.stop_listening();
    }

    /// The next non-empty chunk, or `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Uint8Array>, TransportError> {
        loop {
            let result = self.read_unless_aborted().await?;
            if Reflect::get(&result, &"done".into()).is_ok_and(|d| d.is_truthy()) {
                self.finished();
                return Ok(None);
            }
            let value = Reflect::get(&result, &"value".into()).unwrap_or(JsValue::UNDEFINED);
            let chunk = as_bytes(value)?;
            if chunk.length() > 0 {
                return Ok(Some(chunk));
            }
            if js::is_detached(&chunk.buffer()) {
                return Err(detached());
            }
        }
    }
}

/// A chunk of the stream as bytes: a `Uint8Array`, another `ArrayBuffer` view, an `ArrayBuffer`.
fn as_bytes(value: JsValue) -> Result<Uint8Array, TransportError> {
    if value.is_instance_of::<Uint8Array>() {
        return Ok(value.unchecked_into());
    }
    if value.is_instance_of::<ArrayBuffer>() {
        return js::buffer_bytes(&value).ok_or_else(detached);
    }
    if ArrayBuffer::is_view(&value) {
        return js::view_bytes(&value).ok_or_else(detached);
    }
    Err(failed(format!(
        "the stream gave {}, not bytes: upload a stream of Uint8Arrays (pipe text through a \
         TextEncoderStream first)",
        js::describe(&value).1
    )))
}

/// A chunk whose buffer was transferred after it was enqueued: its bytes are gone, and reading
/// it as empty would upload a blob without them.
fn detached() -> TransportError {
    failed(
        "the stream gave a chunk whose ArrayBuffer was transferred or detached after it was \
         enqueued, so its bytes are gone: enqueue a copy, or transfer the buffer only once it was read"
            .to_owned(),
    )
}

fn failed(message: String) -> TransportError {
    TransportError::new(TransportErrorKind::Body, message)
}

fn message(error: &JsValue) -> String {
    match js::describe(error) {
        (name, message) if name.is_empty() => message,
        (name, message) => format!("{name}: {message}"),
    }
}

impl ByteStream for ReadableStreamSource {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        loop {
            if self.pending.is_none() {
                if self.ended {
                    return Ok(0);
                }
                match self.next_chunk().await? {
                    Some(chunk) => self.pending = Some((chunk, 0)),
                    None => return Ok(0),
                }
            }
            let Some((chunk, offset)) = &mut self.pending else {
                continue;
            };
            // The producer may have detached or shrunk the chunk's buffer since it gave it.
            let Some(left) = chunk.length().checked_sub(*offset) else {
                return Err(failed(
                    "a chunk of the stream changed after the stream gave it (its buffer was \
                     transferred or resized): give each chunk a buffer of its own"
                        .into(),
                ));
            };
            if left == 0 {
                // Used up (or shrunk to exactly what was used): on to the next chunk. Only the
                // stream's own end may answer 0.
                self.pending = None;
                continue;
            }
            let take = left.min(u32::try_from(buf.len()).unwrap_or(u32::MAX));
            chunk
                .subarray(*offset, *offset + take)
                .copy_to(&mut buf[..take as usize]);
            *offset += take;
            return Ok(take as usize);
        }
    }
}

impl Drop for ReadableStreamSource {
    fn drop(&mut self) {
        self.stop_listening();
        if !self.ended {
            // Tell the producer to stop; nobody waits for (or can act on) the answer.
            let cancelled = JsFuture::from(self.reader.cancel());
            wasm_bindgen_futures::spawn_local(async move {
                let _ = cancelled.await;
            });
        }
    }
}
