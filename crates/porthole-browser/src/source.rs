//! [`BlobFileSource`]: an upload source over a `Blob` or `File`.

use std::cell::RefCell;

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use porthole_core::{BlobSource, Body, TransportError, TransportErrorKind};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ReadableStreamByobReader};

use crate::js;

/// An upload source over a `Blob` (a `File` is one: `BlobFileSource::from(file)`).
///
/// [`read`](BlobSource::read) copies one slice into wasm memory to hash it
/// (`blob.slice(start, end).arrayBuffer()`); [`body`](BlobSource::body) hands the browser the
/// `Blob` slice itself, so the bytes sent never pass through wasm. Memory stays at about one
/// slice whatever the file size: slices are read with a BYOB reader into one reused buffer, so a
/// long upload does not leave a trail of garbage `ArrayBuffer`s for the collector.
#[derive(Debug, Clone)]
pub struct BlobFileSource {
    blob: Blob,
    size: u64,
    /// The buffer the BYOB reads fill, handed back after each read (BYOB transfers it).
    scratch: std::rc::Rc<RefCell<Option<ArrayBuffer>>>,
}

/// The size of the reused read buffer; a slice larger than this takes several reads.
const SCRATCH_BYTES: u32 = 8 * 1024 * 1024;

impl BlobFileSource {
    /// A source over this blob or file.
    pub fn new(blob: Blob) -> Self {
        let size = blob.size() as u64;
        Self {
            blob,
            size,
            scratch: Default::default(),
        }
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
        let bytes = match ReadableStreamByobReader::new(&slice.stream()) {
            Ok(reader) => self.read_byob(&reader, (end - start) as usize).await,
            // No byte stream here (older engines): one ArrayBuffer per slice instead.
            Err(_) => read_array_buffer(&slice).await,
        }
        .map_err(|e| {
            TransportError::new(
                TransportErrorKind::Body,
                format!(
                    "cannot read bytes {start}..{end} of the file (was it changed, moved or \
                     deleted while uploading?): {}",
                    js::describe(&e).1
                ),
            )
        })?;
        if bytes.len() as u64 != end - start {
            return Err(TransportError::new(
                TransportErrorKind::Body,
                format!(
                    "read {} bytes where {} were expected; did the file change while uploading?",
                    bytes.len(),
                    end - start
                ),
            ));
        }
        Ok(bytes)
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
