//! [`BlobFileSource`]: an upload source over a `Blob` or `File`.

use std::cell::RefCell;

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use porthole_core::{
    BlobSource, Body, Digest, DigestAlgorithm, TransportError, TransportErrorKind,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ReadableStreamByobReader};

use crate::js;

/// An upload source over a `Blob` (a `File` is one: `BlobFileSource::from(file)`).
///
/// A blob of up to [`WEBCRYPTO_MAX_BYTES`] is hashed by WebCrypto where the page has it
/// ([`digest_whole`](BlobSource::digest_whole)). A larger one (or any, without WebCrypto) is
/// hashed in wasm: [`read`](BlobSource::read) copies one slice at a time into wasm memory.
/// [`body`](BlobSource::body) hands the browser the `Blob` slice itself, so the bytes sent never
/// pass through wasm. Beyond [`WEBCRYPTO_MAX_BYTES`], memory stays at about one slice whatever
/// the file size: slices are read with a BYOB reader into one reused buffer, so a long upload
/// does not leave a trail of garbage `ArrayBuffer`s for the collector.
#[derive(Debug, Clone)]
pub struct BlobFileSource {
    blob: Blob,
    size: u64,
    /// The buffer the BYOB reads fill, handed back after each read (BYOB transfers it).
    scratch: std::rc::Rc<RefCell<Option<ArrayBuffer>>>,
    /// Whether a blob of up to [`WEBCRYPTO_MAX_BYTES`] may be hashed by WebCrypto.
    webcrypto: bool,
}

/// Blobs up to this size are hashed by WebCrypto (`crypto.subtle.digest`) where the page has it
/// (secure contexts: HTTPS or localhost; Node 20+): native SHA-256, off the page's thread, and
/// here about 2.4× the wasm hashing of the same file read slice by slice. That goes for uploads
/// from a `Blob` ([`BlobFileSource`]) and for verified download streams whose answer announces
/// its length ([`verified_stream`](crate::verified_stream)). WebCrypto hashes only whole
/// buffers, so the bytes are held whole in memory: this bounds that memory at one default chunk
/// (64 MiB, what a streamed upload holds anyway).
pub const WEBCRYPTO_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The size of the reused read buffer; a slice larger than this takes several reads.
/// The most one [`BlobSource::read`] takes into wasm memory (the core reads 8 MiB slices).
const MAX_READ_BYTES: usize = 1024 * 1024 * 1024;

const SCRATCH_BYTES: u32 = 8 * 1024 * 1024;

impl BlobFileSource {
    /// A source over this blob or file.
    pub fn new(blob: Blob) -> Self {
        let size = blob.size() as u64;
        Self {
            blob,
            size,
            scratch: Default::default(),
            webcrypto: true,
        }
    }

    /// The same source, always hashed in wasm slice by slice (never read whole for WebCrypto):
    /// for a page that must keep its memory at one slice whatever the blob's size.
    pub fn without_webcrypto(mut self) -> Self {
        self.webcrypto = false;
        self
    }

    /// The blob.
    pub fn blob(&self) -> &Blob {
        &self.blob
    }

    fn slice(&self, start: u64, end: u64) -> Result<Blob, TransportError> {
        if start > end || end > self.size {
            return Err(TransportError::new(
                TransportErrorKind::Body,
                format!(
                    "range {start}..{end} is outside the file's {} bytes",
                    self.size
                ),
            ));
        }
        self.blob
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Body,
                    format!("cannot slice the file: {}", js::describe(&e).1),
                )
            })
    }
}

impl BlobFileSource {
    /// Reads a whole slice through a BYOB reader into the reused buffer, copying each filled
    /// part into wasm memory.
    async fn read_byob(
        &self,
        reader: &ReadableStreamByobReader,
        len: usize,
    ) -> Result<Vec<u8>, JsValue> {
        let mut buffer = self
            .scratch
            .borrow_mut()
            .take()
            .unwrap_or_else(|| ArrayBuffer::new(SCRATCH_BYTES));
        let mut out = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            let view = Uint8Array::new(&buffer);
            let result = JsFuture::from(reader.read_with_array_buffer_view(&view)).await?;
            let value = Reflect::get(&result, &JsValue::from_str("value"))?;
            let Some(chunk) = value.dyn_ref::<Uint8Array>() else {
                break; // The stream ended (and gave the buffer back empty or not at all).
            };
            buffer = chunk.buffer();
            let n = (chunk.length() as usize).min(len - filled);
            chunk
                .subarray(0, n as u32)
                .copy_to(&mut out[filled..filled + n]);
            filled += n;
            let done = Reflect::get(&result, &JsValue::from_str("done"))?;
            if done.as_bool() == Some(true) {
                break;
            }
        }
        reader.release_lock();
        *self.scratch.borrow_mut() = Some(buffer);
        out.truncate(filled);
        Ok(out)
    }
}

async fn read_array_buffer(slice: &Blob) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(slice.array_buffer()).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The error for a read of the file that failed.
fn unreadable(start: u64, end: u64, error: &JsValue) -> TransportError {
    TransportError::new(
        TransportErrorKind::Body,
        format!(
            "cannot read bytes {start}..{end} of the file (was it changed, moved or deleted \
             while uploading?): {}",
            js::describe(error).1
        ),
    )
}

/// Fails when a read gave another length than asked for.
fn check_length(read: usize, expected: u64) -> Result<(), TransportError> {
    if read as u64 == expected {
        return Ok(());
    }
    Err(TransportError::new(
        TransportErrorKind::Body,
        format!(
            "read {read} bytes where {expected} were expected; did the file change while \
             uploading?"
        ),
    ))
}

impl From<Blob> for BlobFileSource {
    fn from(blob: Blob) -> Self {
        Self::new(blob)
    }
}

impl From<web_sys::File> for BlobFileSource {
    fn from(file: web_sys::File) -> Self {
        Self::new(file.into())
    }
}

impl BlobSource<Blob> for BlobFileSource {
    fn size(&self) -> u64 {
        self.size
    }

    async fn read(&self, start: u64, end: u64) -> Result<Vec<u8>, TransportError> {
        let slice = self.slice(start, end)?;
        // Read into wasm memory whole: a range past what it can hold is refused, not cut short
        // (wasm32's usize is 32 bits) or left to abort the module on allocation.
        let len = usize::try_from(end - start)
            .ok()
            .filter(|&len| len <= MAX_READ_BYTES)
            .ok_or_else(|| {
                TransportError::new(
                    TransportErrorKind::Body,
                    format!(
                        "range {start}..{end} is too large to read into memory at once (at most \
                         {MAX_READ_BYTES} bytes); read it in slices"
                    ),
                )
            })?;
        let bytes = match ReadableStreamByobReader::new(&slice.stream()) {
            Ok(reader) => self.read_byob(&reader, len).await,
            // No byte stream here (older engines): one ArrayBuffer per slice instead.
            Err(_) => read_array_buffer(&slice).await,
        }
        .map_err(|e| unreadable(start, end, &e))?;
        check_length(bytes.len(), end - start)?;
        Ok(bytes)
    }

    async fn digest_whole(
        &self,
        algorithm: &DigestAlgorithm,
    ) -> Option<Result<Digest, TransportError>> {
        if !self.webcrypto || self.size > WEBCRYPTO_MAX_BYTES {
            return None;
        }
        let webcrypto = js::webcrypto_for(algorithm)?;
        let bytes = match JsFuture::from(self.blob.array_buffer()).await {
            Ok(bytes) => bytes,
            // No memory for the whole file at once: hash it slice by slice in wasm instead.
            Err(e) if js::describe(&e).0 == "RangeError" => return None,
            Err(e) => return Some(Err(unreadable(0, self.size, &e))),
        };
        let length = bytes.unchecked_ref::<ArrayBuffer>().byte_length();
        if let Err(e) = check_length(length as usize, self.size) {
            return Some(Err(e));
        }
        // Refused (an engine without that algorithm): the upload hashes in wasm instead.
        webcrypto.digest(&bytes).await.map(Ok)
    }

    fn body(&self, start: u64, end: u64) -> Body<Blob> {
        match self.slice(start, end) {
            Ok(body) => Body::Native {
                body,
                len: end - start,
            },
            // Out of range: `read` reports it first (the upload always reads before sending);
            // an empty body also fails the length check of the upload state machine.
            Err(_) => Body::Empty,
        }
    }
}
