//! [`BlobFileSource`]: an upload source over a `Blob` or `File`.

use js_sys::Uint8Array;
use porthole_core::{BlobSource, Body, TransportError, TransportErrorKind};
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use crate::js;

/// An upload source over a `Blob` (a `File` is one: `BlobFileSource::from(file)`).
///
/// [`read`](BlobSource::read) copies one slice into wasm memory to hash it
/// (`blob.slice(start, end).arrayBuffer()`); [`body`](BlobSource::body) hands the browser the
/// `Blob` slice itself, so the bytes sent never pass through wasm. Memory stays at about one
/// chunk whatever the file size.
#[derive(Debug, Clone)]
pub struct BlobFileSource {
    blob: Blob,
    size: u64,
}

impl BlobFileSource {
    /// A source over this blob or file.
    pub fn new(blob: Blob) -> Self {
        let size = blob.size() as u64;
        Self { blob, size }
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
        let buffer = JsFuture::from(slice.array_buffer()).await.map_err(|e| {
            TransportError::new(
                TransportErrorKind::Body,
                format!(
                    "cannot read bytes {start}..{end} of the file (was it changed, moved or \
                     deleted while uploading?): {}",
                    js::describe(&e).1
                ),
            )
        })?;
        let bytes = Uint8Array::new(&buffer).to_vec();
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
