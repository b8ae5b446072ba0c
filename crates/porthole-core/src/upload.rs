//! The blob upload state machine: monolithic or chunked, hashing incrementally, always following
//! the newest `Location`, checking the `Range` echo, resuming from the session's status after a
//! failed chunk, and cancelling on abort.
//!
//! It owns no bytes and does no I/O. The caller sends the requests this machine builds and feeds
//! the chunk's bytes, slice by slice, to [`BlobUpload::hash_next`] while the chunk is on the wire.
//! After a failure, [`BlobUpload::handle_status`] names the bytes to hash again (when the registry
//! kept part of a chunk), so no chunk has to stay in memory.

use std::ops::Range;
use std::sync::Arc;

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::headers;
use crate::reference::RepositoryName;
use crate::transport::{Body, ByteStream, Headers, Method, Request};
use crate::url::Url;

/// The default chunk size. Each chunk is one request the registry must handle, so chunks are
/// large: measured on distribution, 4 MiB chunks upload at under half the speed of one request.
pub const DEFAULT_CHUNK_SIZE: u64 = 64 * 1024 * 1024;

/// How to upload a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOptions {
    /// Bytes per PATCH request (raised to the registry's `OCI-Chunk-Min-Length`).
    pub chunk_size: u64,
    /// Send blobs up to this size in one PUT after hashing them first; larger blobs go in
    /// chunks, which can resume after a failure.
    pub monolithic_max: u64,
    /// The digest the caller expects; the upload fails before committing if the bytes differ.
    pub expected_digest: Option<Digest>,
    /// How many times one chunk may be resumed after a failure before giving up; also how many
    /// times an upload may start over in a new session when the registry lost its session.
    pub max_resumes_per_chunk: u32,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            monolithic_max: 0,
            expected_digest: None,
            max_resumes_per_chunk: 3,
        }
    }
}

/// Progress of an upload, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UploadProgress {
    /// Bytes the registry has confirmed.
    pub confirmed: u64,
    /// Bytes sent, including a chunk still in flight.
    pub sent: u64,
    /// The blob's size; for a stream, the bytes read from it so far (its size is known only
    /// at its end).
    pub total: u64,
    /// Chunks that failed so far and were (or are being) sent again: when it rises, the upload
    /// is resuming after a failure.
    pub interruptions: u32,
}

/// What the upload waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// The session has not been opened (`POST` not answered yet).
    AwaitingSession,
    /// Sending chunks; `in_flight` is the chunk sent but not yet acknowledged.
    Uploading { in_flight: Option<Range<u64>> },
    /// After a failed chunk the registry kept bytes up to `until`: they are hashed again.
    Rehashing { until: u64 },
    /// The closing `PUT` was sent.
    Committing,
    /// The blob is stored.
    Done(Digest),
    /// The session was abandoned.
    Cancelled,
}

/// One blob upload session.
#[derive(Debug)]
pub struct BlobUpload {
    repository: RepositoryName,
    total: u64,
    options: UploadOptions,
    chunk_size: u64,
    location: Option<Url>,
    confirmed: u64,
    /// Hash of the bytes the registry confirmed.
    hasher_confirmed: Hasher,
    /// Hash of every byte fed so far (up to `hashed`), ahead of `confirmed` while a chunk is in
    /// flight.
    hasher_running: Hasher,
    hashed: u64,
    state: State,
    /// True when the last response's headers were filtered by the browser (CORS).
    headers_filtered: bool,
    /// The caller hashes the whole source in a pass of its own, beside the chunks (see
    /// [`BlobUpload::hash_separately`]); the digest arrives with [`BlobUpload::set_digest`].
    hash_separately: bool,
    external_digest: Option<Digest>,
    /// Chunks that failed so far ([`UploadProgress::interruptions`]).
    interruptions: u32,
}

impl BlobUpload {
    /// A new upload of `total` bytes into `repository`.
    pub fn new(repository: RepositoryName, total: u64, options: UploadOptions) -> Self {
        let hasher = options
            .expected_digest
            .as_ref()
            .and_then(Digest::hasher)
            .unwrap_or_default();
        Self {
            repository,
            total,
            chunk_size: options.chunk_size.max(1),
            options,
            location: None,
            confirmed: 0,
            hasher_confirmed: hasher.clone(),
            hasher_running: hasher,
            hashed: 0,
            state: State::AwaitingSession,
            headers_filtered: false,
            hash_separately: false,
            external_digest: None,
            interruptions: 0,
        }
    }

    /// Lets the caller hash the whole source in a pass of its own, running beside the chunk
    /// uploads, instead of chunk by chunk: the bytes of a blob do not depend on which chunks the
    /// network lost, so the two need not wait for each other, and a resumed chunk needs no
    /// re-hashing. The digest must be given with [`Self::set_digest`] before committing.
    pub fn hash_separately(&mut self) {
        self.hash_separately = true;
    }

    /// The digest of the whole source, from the caller's own hashing pass.
    pub fn set_digest(&mut self, digest: Digest) {
        self.external_digest = Some(digest);
    }

    /// A hasher for this upload's digest algorithm (that of the expected digest, else SHA-256).
    pub fn new_hasher(&self) -> Hasher {
        self.options
            .expected_digest
            .as_ref()
            .and_then(Digest::hasher)
            .unwrap_or_default()
    }

    /// Rewinds to the first byte, for a new session when the registry lost this one (after a
    /// failed chunk its status answers 404, or a chunk is answered 404 `BLOB_UPLOAD_UNKNOWN`).
    /// The progress's `confirmed` drops back to 0. Open it with [`Self::start_request`] and
    /// [`Self::handle_session`] as at the start.
    pub fn restart(&mut self) {
        let (hash_separately, interruptions) = (self.hash_separately, self.interruptions);
        *self = Self::new(self.repository.clone(), self.total, self.options.clone());
        self.hash_separately = hash_separately;
        self.interruptions = interruptions;
    }

    /// Counts a chunk that failed and will be sent again (reported in [`Self::progress`]).
    pub fn note_interruption(&mut self) {
        self.interruptions += 1;
    }

    /// For a stream: more bytes arrived, so the blob is at least `total` bytes long. The next
    /// chunks may reach that far.
    pub fn grow(&mut self, total: u64) {
        self.total = self.total.max(total);
    }

    /// Bytes per `PATCH`: the option, raised to the registry's `OCI-Chunk-Min-Length` once the
    /// session is open.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    /// The repository.
    pub fn repository(&self) -> &RepositoryName {
        &self.repository
    }

    /// The options.
    pub fn options(&self) -> &UploadOptions {
        &self.options
    }

    /// Whether this upload goes as one PUT (hash first, then send) rather than in chunks.
    pub fn is_monolithic(&self) -> bool {
        self.total <= self.options.monolithic_max
    }

    /// The current upload URL (the newest `Location`).
    pub fn location(&self) -> Option<&Url> {
        self.location.as_ref()
    }

    /// `POST /v2/<name>/blobs/uploads/`.
    pub fn start_request<B>(&self, base: &Url) -> Request<B> {
        crate::api::start_upload(base, &self.repository)
    }

    /// Reads the answer to the `POST` (or to a mount that answered 202): the session's
    /// `Location`, and `OCI-Chunk-Min-Length`.
    pub fn handle_session(
        &mut self,
        status: u16,
        headers: &Headers,
        url: &Url,
        filtered: bool,
    ) -> Result<()> {
        if status != 202 {
            return Err(Error::protocol(format!(
                "opening an upload session in {}: expected 202 Accepted, got {status}",
                self.repository
            )));
        }
        self.headers_filtered = filtered;
        self.location = Some(self.require_location(headers, url, "opening the upload session")?);
        if let Some(min) = headers
            .get("oci-chunk-min-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            self.chunk_size = self.chunk_size.max(min);
        }
        self.state = State::Uploading { in_flight: None };
        Ok(())
    }

    fn require_location(&self, headers: &Headers, url: &Url, step: &str) -> Result<Url> {
        headers::location(headers, url)?.ok_or_else(|| {
            let hint = if self.headers_filtered {
                " The browser hides headers a cross-origin registry does not list in \
                 Access-Control-Expose-Headers: add Location (and Range, Docker-Content-Digest) \
                 there, or serve the registry through a same-origin proxy."
            } else {
                ""
            };
            Error::protocol(format!(
                "{step} in {}: the registry sent no Location header, so the upload cannot continue.{hint}",
                self.repository
            ))
        })
    }

    /// The next byte range to send, or `None` when every byte is confirmed (or a chunk is in
    /// flight).
    pub fn next_chunk(&self) -> Option<Range<u64>> {
        match &self.state {
            State::Uploading { in_flight: None } if self.confirmed < self.total => {
                // Saturating: a chunk size may be huge (`OCI-Chunk-Min-Length`, or "one chunk").
                let end = self
                    .confirmed
                    .saturating_add(self.chunk_size)
                    .min(self.total);
                Some(self.confirmed..end)
            }
            _ => None,
        }
    }

    /// `PATCH <location>` with `Content-Range: start-end` (inclusive) and the body.
    pub fn chunk_request<B>(&mut self, range: Range<u64>, body: Body<B>) -> Result<Request<B>> {
        if self.next_chunk() != Some(range.clone()) {
            return Err(Error::protocol(format!(
                "internal: chunk {range:?} is not the next one to send"
            )));
        }
        if body.len() != range.end - range.start {
            return Err(Error::protocol(format!(
                "the source gave {} bytes for chunk {range:?}; did the file change while uploading?",
                body.len()
            )));
        }
        let location = self.location_or_err()?;
        self.state = State::Uploading {
            in_flight: Some(range.clone()),
        };
        Ok(Request::new(Method::Patch, location)
            .header("Content-Type", "application/octet-stream")
            .header(
                "Content-Range",
                format!("{}-{}", range.start, range.end - 1),
            )
            .with_body(body))
    }

    fn location_or_err(&self) -> Result<Url> {
        self.location
            .clone()
            .ok_or_else(|| Error::protocol("internal: no upload session is open"))
    }

    /// Feeds the next bytes of the chunk in flight (or of a re-hash after a failure) to the
    /// hasher. Call it slice by slice, in order, while the chunk is on the wire.
    pub fn hash_next(&mut self, bytes: &[u8]) -> Result<()> {
        let limit = match &self.state {
            State::Uploading { in_flight: Some(r) } => r.end,
            State::Rehashing { until } => *until,
            _ => self.total,
        };
        let end = self.hashed + bytes.len() as u64;
        if end > limit {
            return Err(Error::protocol(format!(
                "internal: hashing up to byte {end} but only {limit} may be hashed now"
            )));
        }
        self.hasher_running.update(bytes);
        self.hashed = end;
        if let State::Rehashing { until } = self.state {
            if self.hashed == until {
                self.confirm(until);
                self.state = State::Uploading { in_flight: None };
            }
        }
        Ok(())
    }

    /// The offset the next [`Self::hash_next`] bytes start at.
    pub fn hashed(&self) -> u64 {
        self.hashed
    }

    /// Reads the answer to a `PATCH`: 202 with the newest `Location` and a `Range` that must
    /// end at the chunk's last byte.
    pub fn handle_chunk(&mut self, status: u16, headers: &Headers, url: &Url) -> Result<()> {
        let range = match &self.state {
            State::Uploading { in_flight: Some(r) } => r.clone(),
            _ => return Err(Error::protocol("internal: no chunk is in flight")),
        };
        // 202 is the spec; AWS ECR answers 201.
        if status != 202 && status != 201 {
            return Err(Error::protocol(format!(
                "uploading bytes {}-{} to {}: expected 202 Accepted, got {status}",
                range.start,
                range.end - 1,
                self.repository
            )));
        }
        // Followed first, so that cancelling after an error below still reaches the session.
        self.follow_location(headers, url)?;
        if let Some(echo) = headers.get("range") {
            let held = headers::parse_upload_range(echo)?;
            if held != range.end {
                return Err(Error::protocol(format!(
                    "uploading bytes {}-{} to {}: the registry says it holds {held} bytes \
                     (Range: {echo}), expected {}",
                    range.start,
                    range.end - 1,
                    self.repository,
                    range.end
                )));
            }
        }
        if self.hashed != range.end && !self.hash_separately {
            return Err(Error::protocol(
                "internal: a chunk was acknowledged before it was hashed",
            ));
        }
        self.location = Some(self.require_location(headers, url, "uploading a chunk")?);
        if self.hash_separately {
            self.confirmed = range.end;
        } else {
            self.confirm(range.end);
        }
        self.state = State::Uploading { in_flight: None };
        Ok(())
    }

    /// Takes the `Location` of an answer from the session, when it has one. Registries such as
    /// distribution encode the session's offset in the upload URL and refuse a stale one, even
    /// to cancel: so the newest URL is kept even from an answer that is otherwise an error (or
    /// one to a chunk whose source could not be read).
    pub fn follow_location(&mut self, headers: &Headers, url: &Url) -> Result<()> {
        if let Some(location) = headers::location(headers, url)? {
            self.location = Some(location);
        }
        Ok(())
    }

    /// Marks everything hashed so far (which is `offset`) as held by the registry.
    fn confirm(&mut self, offset: u64) {
        debug_assert_eq!(self.hashed, offset);
        self.hasher_confirmed = self.hasher_running.clone();
        self.confirmed = offset;
    }

    /// `GET <location>`: asks how many bytes the session holds (after a failed chunk).
    pub fn status_request<B>(&self) -> Result<Request<B>> {
        Ok(Request::new(Method::Get, self.location_or_err()?))
    }

    /// Reads the session status (204 + `Range` + `Location`) after a failed chunk and rewinds to
    /// what the registry holds. Returns the bytes that must be hashed again with
    /// [`Self::hash_next`] (when the registry kept part of a chunk that was only partly hashed),
    /// or `None` when the upload can go on at once.
    pub fn handle_status(
        &mut self,
        status: u16,
        headers: &Headers,
        url: &Url,
    ) -> Result<Option<Range<u64>>> {
        if status != 204 && status != 200 {
            return Err(Error::protocol(format!(
                "asking the upload session of {} for its status: expected 204, got {status}",
                self.repository
            )));
        }
        let held = match headers.get("range") {
            // distribution says 0-0 (Quay bytes=0-0) for an empty session; nothing confirmed
            // means nothing held.
            Some(r) if headers::is_empty_session_range(r) && self.confirmed == 0 => 0,
            Some(r) => headers::parse_upload_range(r)?,
            None if self.confirmed == 0 => 0,
            // Not "0 bytes held": unknown. A cross-origin page cannot read a Range the registry
            // does not list in Access-Control-Expose-Headers.
            None => {
                return Err(Error::protocol(format!(
                    "the upload session of {} did not say how many bytes it holds (its status \
                     answer has no Range header; a cross-origin registry must list Range in \
                     Access-Control-Expose-Headers), so the upload cannot resume where it was \
                     and must start over",
                    self.repository
                )))
            }
        };
        let sent_until = match &self.state {
            State::Uploading { in_flight: Some(r) } => r.end,
            _ => self.confirmed,
        };
        if held < self.confirmed || held > sent_until {
            return Err(self.unresumable(held));
        }
        if let Some(location) = headers::location(headers, url)? {
            self.location = Some(location);
        }
        if self.hash_separately {
            self.confirmed = held;
            self.state = State::Uploading { in_flight: None };
            return Ok(None);
        }
        if held == self.hashed {
            self.confirm(held);
            self.state = State::Uploading { in_flight: None };
            return Ok(None);
        }
        // Rewind the hasher to what is confirmed; the caller re-reads and re-hashes the rest.
        self.hasher_running = self.hasher_confirmed.clone();
        self.hashed = self.confirmed;
        if held == self.confirmed {
            self.state = State::Uploading { in_flight: None };
            return Ok(None);
        }
        self.state = State::Rehashing { until: held };
        Ok(Some(self.confirmed..held))
    }

    fn unresumable(&self, held: u64) -> Error {
        Error::protocol(format!(
            "the upload session of {} holds {held} bytes, which does not match what was sent \
             ({} confirmed); it cannot be resumed and must start over",
            self.repository, self.confirmed
        ))
    }

    /// The digest of the whole blob; every byte must be confirmed. Checks the expected digest.
    fn final_digest(&self) -> Result<Digest> {
        if self.confirmed != self.total {
            return Err(Error::protocol(format!(
                "internal: committing after {} of {} bytes",
                self.confirmed, self.total
            )));
        }
        let digest = match (&self.external_digest, self.hash_separately) {
            (Some(d), true) => d.clone(),
            (None, true) => {
                return Err(Error::protocol(
                    "internal: committing before the separate hashing pass gave its digest",
                ))
            }
            (_, false) => self.hasher_confirmed.clone().finish(),
        };
        if let Some(expected) = &self.options.expected_digest {
            digest.check_is(&format!("blob uploaded to {}", self.repository), expected)?;
        }
        Ok(digest)
    }

    /// `PUT <location>&digest=<digest>` closing a chunked upload (empty body).
    pub fn commit_request<B>(&mut self) -> Result<Request<B>> {
        let digest = self.final_digest()?;
        let url = self
            .location_or_err()?
            .with_query_param("digest", digest.as_str());
        self.state = State::Committing;
        Ok(Request::new(Method::Put, url)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", "0"))
    }

    /// `PUT <location>&digest=<digest>` with the whole blob as the body. Every byte must have
    /// been passed to [`Self::hash_next`] first, or the digest given with [`Self::set_digest`]
    /// (it goes in the URL).
    pub fn monolithic_request<B>(&mut self, body: Body<B>) -> Result<Request<B>> {
        if body.len() != self.total {
            return Err(Error::protocol(format!(
                "the source gave {} bytes for a {}-byte blob; did the file change?",
                body.len(),
                self.total
            )));
        }
        if self.hash_separately {
            // A missing digest is reported by `commit_request`.
            self.confirmed = self.total;
        } else if self.hashed != self.total {
            return Err(Error::protocol(format!(
                "internal: sending a {}-byte blob of which {} bytes were hashed",
                self.total, self.hashed
            )));
        } else {
            self.confirm(self.total);
        }
        let req = self.commit_request::<B>()?;
        Ok(Request {
            headers: req
                .headers
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length"))
                .collect(),
            body,
            ..req
        })
    }

    /// Reads the answer to the closing `PUT`: 201 (or 204), and `Docker-Content-Digest` must
    /// match when present.
    pub fn handle_commit(&mut self, status: u16, headers: &Headers) -> Result<Digest> {
        let digest = self.final_digest()?;
        if status != 201 && status != 204 {
            return Err(Error::protocol(format!(
                "committing blob {digest} to {}: expected 201 Created, got {status}",
                self.repository
            )));
        }
        // The registry checked the digest in the URL before it answered 201: a header it cannot
        // even parse (a proxy's mangling) contradicts nothing, and failing here would report a
        // stored blob as lost.
        if let Ok(Some(sent)) = headers::content_digest(headers) {
            // A registry may answer its own canonical digest in another algorithm (distribution
            // answers sha256 to a sha512 upload, after checking the sha512 in the URL): only one
            // of the same algorithm can contradict ours.
            if sent.algorithm() == digest.algorithm() {
                sent.check_is(&format!("blob committed to {}", self.repository), &digest)?;
            }
        }
        self.state = State::Done(digest.clone());
        Ok(digest)
    }

    /// `DELETE <location>`: abandons the session so the registry can drop what it holds. `None`
    /// when no session is open or the blob is already stored.
    pub fn cancel_request<B>(&mut self) -> Option<Request<B>> {
        if matches!(self.state, State::Done(_) | State::Cancelled) {
            return None;
        }
        let location = self.location.clone()?;
        self.state = State::Cancelled;
        Some(Request::new(Method::Delete, location))
    }

    /// Progress so far.
    pub fn progress(&self) -> UploadProgress {
        let sent = match &self.state {
            State::Uploading { in_flight: Some(r) } => r.end,
            _ => self.confirmed,
        };
        UploadProgress {
            confirmed: self.confirmed,
            sent,
            total: self.total,
            interruptions: self.interruptions,
        }
    }

    /// The stored digest, once done.
    pub fn digest(&self) -> Option<&Digest> {
        match &self.state {
            State::Done(d) => Some(d),
            _ => None,
        }
    }
}

/// The largest chunk a streamed upload takes: it holds its chunk in memory (and wasm memory
/// never shrinks), where a file's chunks are read from the file slice by slice.
pub const MAX_STREAM_CHUNK_SIZE: u64 = 256 * 1024 * 1024;

/// The part of a streamed upload in memory: the chunk being sent, kept until the registry
/// confirms it so that a failed chunk can be sent again. One buffer serves every chunk, and
/// request bodies share it ([`Body::Shared`]) instead of copying it, so a chunk is in wasm
/// memory once, however often it is sent.
#[derive(Debug)]
pub(crate) struct StreamWindow {
    start: u64,
    buffer: Arc<[u8]>,
    len: usize,
}

impl Default for StreamWindow {
    fn default() -> Self {
        Self {
            start: 0,
            buffer: Arc::from(&[][..]),
            len: 0,
        }
    }
}

impl StreamWindow {
    /// The offset of the window's first byte in the stream.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// The offset just past its last byte.
    pub(crate) fn end(&self) -> u64 {
        self.start + self.len as u64
    }

    /// The bytes it holds.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buffer[..self.len]
    }

    /// Reads from `stream` until the window holds `target` bytes; true when the stream ended
    /// first.
    pub(crate) async fn fill<R: ByteStream + ?Sized>(
        &mut self,
        stream: &mut R,
        target: usize,
        op: &str,
    ) -> Result<bool> {
        let target = target.max(1);
        let reusable = self.buffer.len() >= target && Arc::get_mut(&mut self.buffer).is_some();
        if !reusable {
            // The first chunk, a larger one, or a body of the last one still alive somewhere.
            let mut fresh: Arc<[u8]> = std::iter::repeat_n(0, target.max(self.len)).collect();
            if let Some(fresh) = Arc::get_mut(&mut fresh) {
                fresh[..self.len].copy_from_slice(self.bytes());
            }
            self.buffer = fresh;
        }
        let Some(buffer) = Arc::get_mut(&mut self.buffer) else {
            return Err(Error::protocol("internal: a new stream buffer is shared"));
        };
        while self.len < target {
            let room = &mut buffer[self.len..target];
            let wanted = room.len();
            let read = stream
                .read(room)
                .await
                .map_err(|e| Error::transport(format!("{op}: reading the stream"), e))?;
            if read > wanted {
                return Err(Error::protocol(format!(
                    "internal: the stream reported {read} bytes for a read of at most {wanted}"
                )));
            }
            if read == 0 {
                return Ok(true);
            }
            self.len += read;
        }
        Ok(false)
    }

    /// Moves past the bytes it holds (once the registry confirmed them) and empties it.
    pub(crate) fn advance(&mut self) {
        self.start = self.end();
        self.len = 0;
    }

    /// A body of the bytes `[start, end)` of the stream, sharing the window's buffer; empty
    /// when they are not all in the window (which `chunk_request` refuses by its length).
    pub(crate) fn body<B>(&self, start: u64, end: u64) -> Body<B> {
        if self.start <= start && start <= end && end <= self.end() {
            let range = (start - self.start) as usize..(end - self.start) as usize;
            Body::Shared {
                bytes: Arc::clone(&self.buffer),
                range,
            }
        } else {
            Body::Empty
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{DigestAlgorithm, Hasher};
    use crate::transport::NoNativeBody;

    fn url(path: &str) -> Url {
        Url::parse("http://127.0.0.1:5000")
            .unwrap()
            .join(path)
            .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| (*n, *v)).collect()
    }

    fn upload(total: u64, chunk: u64) -> BlobUpload {
        upload_with(
            total,
            UploadOptions {
                chunk_size: chunk,
                ..UploadOptions::default()
            },
        )
    }

    fn upload_with(total: u64, options: UploadOptions) -> BlobUpload {
        BlobUpload::new(RepositoryName::parse("app").unwrap(), total, options)
    }

    fn open(up: &mut BlobUpload) {
        let post_url = url("/v2/app/blobs/uploads/");
        up.handle_session(
            202,
            &headers(&[
                ("Location", "/v2/app/blobs/uploads/u?_state=0"),
                ("Range", "0-0"),
            ]),
            &post_url,
            false,
        )
        .unwrap();
    }

    fn send_chunk(up: &mut BlobUpload, data: &[u8], state: &str) -> Request<NoNativeBody> {
        let range = up.next_chunk().unwrap();
        let bytes = &data[range.start as usize..range.end as usize];
        let req = up
            .chunk_request::<NoNativeBody>(range.clone(), Body::Bytes(bytes.to_vec()))
            .unwrap();
        up.hash_next(bytes).unwrap();
        let echo = format!("0-{}", range.end - 1);
        let loc = format!("/v2/app/blobs/uploads/u?_state={state}");
        up.handle_chunk(
            202,
            &headers(&[("Location", &loc), ("Range", &echo)]),
            &req.url,
        )
        .unwrap();
        req
    }

    #[test]
    fn chunked_upload_follows_newest_location() {
        let data = b"hello world, this is a blob";
        let mut up = upload(data.len() as u64, 10);
        open(&mut up);
        let first = send_chunk(&mut up, data, "1");
        assert_eq!(first.url.query_param("_state").unwrap(), "0");
        assert_eq!(first.headers.get("content-range"), Some("0-9"));
        let second = send_chunk(&mut up, data, "2");
        assert_eq!(second.url.query_param("_state").unwrap(), "1");
        assert_eq!(second.headers.get("content-range"), Some("10-19"));
        let third = send_chunk(&mut up, data, "3");
        assert_eq!(third.headers.get("content-range"), Some("20-26"));
        assert_eq!(up.next_chunk(), None);
        let commit: Request<NoNativeBody> = up.commit_request().unwrap();
        let digest = Digest::sha256_of(data);
        assert_eq!(commit.url.query_param("_state").unwrap(), "3");
        assert_eq!(commit.url.query_param("digest").unwrap(), digest.as_str());
        let got = up
            .handle_commit(201, &headers(&[("Docker-Content-Digest", digest.as_str())]))
            .unwrap();
        assert_eq!(got, digest);
        assert!(up.cancel_request::<NoNativeBody>().is_none());
    }

    #[test]
    fn honours_chunk_min_length() {
        let mut up = upload(100, 10);
        up.handle_session(
            202,
            &headers(&[("Location", "/u"), ("OCI-Chunk-Min-Length", "40")]),
            &url("/v2/app/blobs/uploads/"),
            false,
        )
        .unwrap();
        assert_eq!(up.next_chunk(), Some(0..40));
    }

    #[test]
    fn a_huge_chunk_size_resumes_to_the_end() {
        let data = [3u8; 100];
        let mut up = upload(100, u64::MAX);
        up.hash_separately();
        open(&mut up);
        let range = up.next_chunk().unwrap();
        assert_eq!(range, 0..100);
        let req = up
            .chunk_request::<NoNativeBody>(range, Body::Bytes(data.to_vec()))
            .unwrap();
        let status = headers(&[("Range", "0-49"), ("Location", "/u?_state=1")]);
        assert_eq!(up.handle_status(204, &status, &req.url).unwrap(), None);
        assert_eq!(up.next_chunk(), Some(50..100));
    }

    #[test]
    fn missing_location_is_explained() {
        let mut up = upload(1, 1);
        let e = up
            .handle_session(202, &Headers::new(), &url("/v2/app/blobs/uploads/"), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no Location"), "{e}");
        assert!(e.contains("Access-Control-Expose-Headers"), "{e}");
        let e = up
            .handle_session(200, &Headers::new(), &url("/"), false)
            .unwrap_err();
        assert!(e.to_string().contains("202"));
    }

    #[test]
    fn wrong_range_echo_is_refused() {
        let data = [7u8; 20];
        let mut up = upload(20, 10);
        open(&mut up);
        let range = up.next_chunk().unwrap();
        let req = up
            .chunk_request::<NoNativeBody>(range.clone(), Body::Bytes(data[..10].to_vec()))
            .unwrap();
        up.hash_next(&data[..10]).unwrap();
        let e = up
            .handle_chunk(
                202,
                &headers(&[("Location", "/u2"), ("Range", "0-4")]),
                &req.url,
            )
            .unwrap_err();
        assert!(e.to_string().contains("holds 5 bytes"), "{e}");
        // Cancelling goes to the newest Location: a stale one would not reach the session.
        let cancel: Request<NoNativeBody> = up.cancel_request().unwrap();
        assert_eq!(cancel.url, url("/u2"));
    }

    #[test]
    fn resumes_after_partial_chunk() {
        let data: Vec<u8> = (0..30u8).collect();
        let mut up = upload(30, 10);
        open(&mut up);
        send_chunk(&mut up, &data, "1");
        // Second chunk fails mid-way; the registry kept 4 of its bytes.
        let range = up.next_chunk().unwrap();
        let chunk = data[10..20].to_vec();
        up.chunk_request::<NoNativeBody>(range.clone(), Body::Bytes(chunk.clone()))
            .unwrap();
        up.hash_next(&chunk).unwrap();
        let status: Request<NoNativeBody> = up.status_request().unwrap();
        assert_eq!(status.method, Method::Get);
        let rehash = up
            .handle_status(
                204,
                &headers(&[
                    ("Range", "0-13"),
                    ("Location", "/v2/app/blobs/uploads/u?_state=r"),
                ]),
                &status.url,
            )
            .unwrap();
        assert_eq!(rehash, Some(10..14));
        assert_eq!(up.next_chunk(), None, "nothing is sent while re-hashing");
        up.hash_next(&data[10..12]).unwrap();
        up.hash_next(&data[12..14]).unwrap();
        assert_eq!(up.next_chunk(), Some(14..24));
        send_chunk(&mut up, &data, "4");
        send_chunk(&mut up, &data, "5");
        let commit: Request<NoNativeBody> = up.commit_request().unwrap();
        assert_eq!(
            commit.url.query_param("digest").unwrap(),
            Digest::sha256_of(&data).as_str()
        );
    }

    #[test]
    fn restart_after_a_lost_session_sends_every_byte_again() {
        let data: Vec<u8> = (0..30u8).collect();
        let mut up = upload_with(
            30,
            UploadOptions {
                chunk_size: 10,
                expected_digest: Some(Digest::sha256_of(&data)),
                ..UploadOptions::default()
            },
        );
        open(&mut up);
        send_chunk(&mut up, &data, "1");
        // The second chunk is in flight when the session is lost (its status answered 404).
        let range = up.next_chunk().unwrap();
        up.chunk_request::<NoNativeBody>(range, Body::Bytes(data[10..20].to_vec()))
            .unwrap();
        up.hash_next(&data[10..20]).unwrap();
        assert_eq!(up.progress().interruptions, 0);
        up.note_interruption();
        up.restart();
        assert_eq!(up.progress().interruptions, 1, "a restart keeps the count");
        assert_eq!(up.location(), None);
        assert_eq!(
            up.next_chunk(),
            None,
            "no chunk before the new session is open"
        );
        assert_eq!(up.progress().confirmed, 0);
        let post: Request<NoNativeBody> = up.start_request(&url("/"));
        assert_eq!(post.method, Method::Post);
        up.handle_session(
            202,
            &headers(&[("Location", "/v2/app/blobs/uploads/new?_state=0")]),
            &post.url,
            false,
        )
        .unwrap();
        assert_eq!(up.next_chunk(), Some(0..10));
        let first = send_chunk(&mut up, &data, "n1");
        assert!(first.url.path().ends_with("/new"), "{}", first.url);
        send_chunk(&mut up, &data, "n2");
        send_chunk(&mut up, &data, "n3");
        let commit: Request<NoNativeBody> = up.commit_request().unwrap();
        assert_eq!(
            commit.url.query_param("digest").unwrap(),
            Digest::sha256_of(&data).as_str()
        );
    }

    #[test]
    fn resume_with_nothing_kept_and_impossible_offsets() {
        let data = [1u8; 10];
        let mut up = upload(10, 10);
        open(&mut up);
        let range = up.next_chunk().unwrap();
        up.chunk_request::<NoNativeBody>(range.clone(), Body::Bytes(data.to_vec()))
            .unwrap();
        up.hash_next(&data).unwrap();
        let rehash = up
            .handle_status(204, &headers(&[("Range", "0-0")]), &url("/u"))
            .unwrap();
        assert_eq!(rehash, None);
        assert_eq!(up.next_chunk(), Some(0..10));
        // Quay writes the same with a unit.
        let range = up.next_chunk().unwrap();
        up.chunk_request::<NoNativeBody>(range.clone(), Body::Bytes(data.to_vec()))
            .unwrap();
        let rehash = up
            .handle_status(204, &headers(&[("Range", "bytes=0-0")]), &url("/u"))
            .unwrap();
        assert_eq!(rehash, None);
        assert_eq!(up.next_chunk(), Some(0..10));
        let range = up.next_chunk().unwrap();
        up.chunk_request::<NoNativeBody>(range.clone(), Body::Bytes(data.to_vec()))
            .unwrap();
        up.hash_next(&data).unwrap();
        let e = up
            .handle_status(204, &headers(&[("Range", "0-99")]), &url("/u"))
            .unwrap_err();
        assert!(e.to_string().contains("cannot be resumed"));
    }

    #[test]
    fn monolithic_and_expected_digest() {
        let data = b"monolithic";
        let mut up = upload_with(
            data.len() as u64,
            UploadOptions {
                monolithic_max: 100,
                expected_digest: Some(Digest::sha256_of(b"something else")),
                ..UploadOptions::default()
            },
        );
        assert!(up.is_monolithic());
        open(&mut up);
        up.hash_next(data).unwrap();
        let e = up
            .monolithic_request::<NoNativeBody>(Body::Bytes(data.to_vec()))
            .unwrap_err();
        assert_eq!(e.code(), "DIGEST_MISMATCH");
        assert!(up.cancel_request::<NoNativeBody>().is_some());
    }

    #[test]
    fn commit_accepts_the_registrys_canonical_digest_in_another_algorithm() {
        let data = b"abc";
        let mut sha512 = Hasher::for_algorithm(&DigestAlgorithm::Sha512).unwrap();
        sha512.update(data);
        let ours = sha512.finish();
        let mut up = upload_with(
            3,
            UploadOptions {
                chunk_size: 10,
                expected_digest: Some(ours.clone()),
                ..UploadOptions::default()
            },
        );
        open(&mut up);
        send_chunk(&mut up, data, "1");
        let _: Request<NoNativeBody> = up.commit_request().unwrap();
        let canonical = Digest::sha256_of(data);
        let digest = up
            .handle_commit(
                201,
                &headers(&[("Docker-Content-Digest", canonical.as_str())]),
            )
            .unwrap();
        assert_eq!(digest, ours);
    }

    #[test]
    fn monolithic_with_a_digest_from_elsewhere() {
        let data = b"monolithic";
        let mut up = upload_with(
            data.len() as u64,
            UploadOptions {
                monolithic_max: 100,
                ..UploadOptions::default()
            },
        );
        up.hash_separately();
        open(&mut up);
        let e = up
            .monolithic_request::<NoNativeBody>(Body::Bytes(data.to_vec()))
            .unwrap_err();
        assert!(
            e.to_string().contains("before the separate hashing pass"),
            "{e}"
        );
        up.set_digest(Digest::sha256_of(data));
        let req = up
            .monolithic_request::<NoNativeBody>(Body::Bytes(data.to_vec()))
            .unwrap();
        assert!(req.url.as_str().contains(Digest::sha256_of(data).encoded()));
        // The body must still be the whole blob.
        let e = up
            .monolithic_request::<NoNativeBody>(Body::Bytes(data[1..].to_vec()))
            .unwrap_err();
        assert!(e.to_string().contains("did the file change"), "{e}");
    }

    #[test]
    fn commit_refuses_a_different_registry_digest() {
        let data = b"abc";
        let mut up = upload(3, 10);
        open(&mut up);
        send_chunk(&mut up, data, "1");
        let _: Request<NoNativeBody> = up.commit_request().unwrap();
        let other = Digest::sha256_of(b"xyz");
        let e = up
            .handle_commit(201, &headers(&[("Docker-Content-Digest", other.as_str())]))
            .unwrap_err();
        assert_eq!(e.code(), "DIGEST_MISMATCH");
    }

    #[test]
    fn commit_ignores_a_registry_digest_it_cannot_read() {
        let data = b"abc";
        let mut up = upload(3, 10);
        open(&mut up);
        send_chunk(&mut up, data, "1");
        let _: Request<NoNativeBody> = up.commit_request().unwrap();
        let digest = up
            .handle_commit(
                201,
                &headers(&[("Docker-Content-Digest", "sha256:not-hex")]),
            )
            .unwrap();
        assert_eq!(digest, Digest::sha256_of(data));
    }

    #[test]
    fn failed_answer_after_the_registry_kept_the_whole_chunk() {
        let data = [3u8; 20];
        let mut up = upload(20, 10);
        open(&mut up);
        let range = up.next_chunk().unwrap();
        up.chunk_request::<NoNativeBody>(range, Body::Bytes(data[..10].to_vec()))
            .unwrap();
        up.hash_next(&data[..10]).unwrap();
        // The PATCH's answer was lost, but the session holds all ten bytes.
        let rehash = up
            .handle_status(204, &headers(&[("Range", "0-9")]), &url("/u"))
            .unwrap();
        assert_eq!(rehash, None);
        assert_eq!(up.progress().confirmed, 10);
        assert_eq!(up.next_chunk(), Some(10..20));
    }

    #[test]
    fn hashing_past_the_chunk_is_refused() {
        let mut up = upload(20, 10);
        open(&mut up);
        let range = up.next_chunk().unwrap();
        up.chunk_request::<NoNativeBody>(range, Body::Bytes(vec![0; 10]))
            .unwrap();
        assert!(up.hash_next(&[0; 11]).is_err());
    }

    #[test]
    fn hashing_separately_decouples_chunks_from_the_digest() {
        let data: Vec<u8> = (0..25u8).collect();
        let mut up = upload(25, 10);
        up.hash_separately();
        open(&mut up);
        // A chunk is acknowledged without being hashed here.
        let range = up.next_chunk().unwrap();
        let req = up
            .chunk_request::<NoNativeBody>(range.clone(), Body::Bytes(data[..10].to_vec()))
            .unwrap();
        up.handle_chunk(
            202,
            &headers(&[("Location", "/u1"), ("Range", "0-9")]),
            &req.url,
        )
        .unwrap();
        // A failed chunk the registry kept part of resumes with nothing to re-hash.
        let range = up.next_chunk().unwrap();
        up.chunk_request::<NoNativeBody>(range, Body::Bytes(data[10..20].to_vec()))
            .unwrap();
        let rehash = up
            .handle_status(
                204,
                &headers(&[("Range", "0-13"), ("Location", "/u2")]),
                &url("/u"),
            )
            .unwrap();
        assert_eq!(rehash, None);
        assert_eq!(up.next_chunk(), Some(14..24));
        let range = up.next_chunk().unwrap();
        let req = up
            .chunk_request::<NoNativeBody>(range, Body::Bytes(data[14..24].to_vec()))
            .unwrap();
        up.handle_chunk(
            202,
            &headers(&[("Location", "/u3"), ("Range", "0-23")]),
            &req.url,
        )
        .unwrap();
        let range = up.next_chunk().unwrap();
        let req = up
            .chunk_request::<NoNativeBody>(range, Body::Bytes(data[24..].to_vec()))
            .unwrap();
        up.handle_chunk(
            202,
            &headers(&[("Location", "/u4"), ("Range", "0-24")]),
            &req.url,
        )
        .unwrap();
        // The digest comes from the caller's own pass; committing without it is refused.
        assert!(up.commit_request::<NoNativeBody>().is_err());
        up.set_digest(Digest::sha256_of(&data));
        let commit: Request<NoNativeBody> = up.commit_request().unwrap();
        assert_eq!(
            commit.url.query_param("digest").unwrap(),
            Digest::sha256_of(&data).as_str()
        );
        assert_eq!(commit.url.path(), "/u4");
    }

    #[test]
    fn a_separate_digest_is_still_checked_against_the_expected_one() {
        let mut up = upload_with(
            0,
            UploadOptions {
                expected_digest: Some(Digest::sha256_of(b"x")),
                ..UploadOptions::default()
            },
        );
        up.hash_separately();
        open(&mut up);
        up.set_digest(Digest::sha256_of(b""));
        let e = up.commit_request::<NoNativeBody>().unwrap_err();
        assert_eq!(e.code(), "DIGEST_MISMATCH");
    }

    #[test]
    fn body_length_must_match_the_range() {
        let mut up = upload(10, 10);
        open(&mut up);
        let e = up
            .chunk_request::<NoNativeBody>(0..10, Body::Bytes(vec![0; 3]))
            .unwrap_err();
        assert!(e.to_string().contains("file change"));
    }

    /// A stream that hands out its bytes `piece` at a time (less when asked for less).
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        piece: usize,
    }

    impl ByteStream for Pieces {
        async fn read(
            &mut self,
            buf: &mut [u8],
        ) -> std::result::Result<usize, crate::TransportError> {
            let n = self.piece.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn a_stream_window_fills_to_its_target_across_pieces_and_moves_on() {
        use futures::executor::block_on;
        let data: Vec<u8> = (0..25u8).collect();
        let mut stream = Pieces {
            data: data.clone(),
            at: 0,
            piece: 7,
        };
        let mut window = StreamWindow::default();
        assert!(!block_on(window.fill(&mut stream, 10, "test")).unwrap());
        assert_eq!((window.start(), window.bytes()), (0, &data[..10]));
        let body: Body<NoNativeBody> = window.body(3, 10);
        assert_eq!(body.in_memory(), Some(&data[3..10]));
        // A body alive elsewhere keeps its bytes: the next chunk goes into a new buffer.
        window.advance();
        assert!(!block_on(window.fill(&mut stream, 10, "test")).unwrap());
        assert_eq!(body.in_memory(), Some(&data[3..10]));
        assert_eq!((window.start(), window.end()), (10, 20));
        assert_eq!(
            window.body::<NoNativeBody>(12, 14).in_memory(),
            Some(&data[12..14])
        );
        // Bytes already let go of give no body, not a wrong one.
        assert_eq!(window.body::<NoNativeBody>(5, 12).len(), 0);
        // With no body left, the buffer is reused.
        drop(body);
        let buffer = window.bytes().as_ptr();
        window.advance();
        assert!(block_on(window.fill(&mut stream, 10, "test")).unwrap());
        assert_eq!(window.bytes(), &data[20..]);
        assert_eq!(window.bytes().as_ptr(), buffer);
    }

    /// A stream that claims more bytes than it was asked for.
    struct Liar;

    impl ByteStream for Liar {
        async fn read(
            &mut self,
            buf: &mut [u8],
        ) -> std::result::Result<usize, crate::TransportError> {
            Ok(buf.len() + 1)
        }
    }

    #[test]
    fn a_stream_that_miscounts_is_an_error() {
        let mut window = StreamWindow::default();
        let e = futures::executor::block_on(window.fill(&mut Liar, 4, "test")).unwrap_err();
        assert!(e.to_string().contains("reported 5 bytes"), "{e}");
    }
}
