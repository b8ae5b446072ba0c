//! ACR's blob storage: where ACR sends blob reads (reference section 7, "Blob download").
//!
//! ACR answers `GET` and `HEAD /v2/<name>/blobs/<digest>` with `307` and a `Location` on its
//! storage account (`https://<account>.blob.core.windows.net/…/docker/registry/v2/blobs/sha256/
//! <2 hex>/<hex>/data?se=…&sig=…`), a host of its own, reached without `Authorization`: the SAS
//! in the URL is the credential. [`Storage`] plays that host on a second loopback port (another
//! origin, as in the browser), serving the registry's own blob files with `Range` support.
//!
//! The emulator's choices where the reference is silent: a request that carries `Authorization`
//! is refused (`400 InvalidAuthenticationInfo`), so a client that leaks its registry credential
//! to the storage host fails loudly; a bad or expired signature is `403 AuthenticationFailed`.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use porthole_core::{Digest, DigestAlgorithm};

use crate::http1;
use crate::token::{random_hex, rfc3339, unix_now};
use crate::KitError;

/// How long a redirect's signature stays valid (ACR's SAS URLs last minutes).
const SAS_LIFETIME_SECS: u64 = 20 * 60;

/// The storage version ACR's SAS URLs name (`sv=`).
const SAS_VERSION: &str = "2018-03-28";

/// Response headers a page reading a blob cross-origin needs.
const EXPOSE: &str = "Content-Length, Content-Range, Content-Type, Accept-Ranges, ETag, \
    x-ms-blob-type, x-ms-request-id";

/// Makes and checks the signed URLs of one storage host.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    /// `http://127.0.0.1:PORT`
    base: String,
    secret: String,
    registry_id: String,
}

impl Signer {
    /// The signed URL of a blob's data, valid for [`SAS_LIFETIME_SECS`]; `None` for a digest
    /// that is not `sha256:<64 hex>` (the registry would not have served it).
    pub(crate) fn blob_url(&self, digest: &str) -> Option<String> {
        let digest = Digest::parse(digest).ok()?;
        if digest.algorithm() != DigestAlgorithm::Sha256 {
            return None;
        }
        let hex = digest.encoded();
        let path = format!("/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]);
        let expiry = rfc3339(unix_now() + SAS_LIFETIME_SECS);
        let sig = self.signature(&path, &expiry);
        Some(format!(
            "{}{path}?se={}&sig={sig}&sp=r&spr=https&sr=b&sv={SAS_VERSION}&regid={}",
            self.base,
            expiry.replace(':', "%3A"),
            self.registry_id
        ))
    }

    fn signature(&self, path: &str, expiry: &str) -> String {
        let signed = format!("{}\n{path}\n{expiry}", self.secret);
        Digest::sha256_of(signed.as_bytes()).encoded().to_string()
    }

    /// Why a request for `path` with this query may not read, or `None` when it may.
    fn refusal(&self, path: &str, query: &[(String, String)]) -> Option<&'static str> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let (Some(expiry), Some(sig)) = (param("se"), param("sig")) else {
            return Some("the URL carries no signature (se and sig)");
        };
        if sig != self.signature(path, expiry) {
            return Some("the signature does not match the URL");
        }
        if expiry < rfc3339(unix_now()).as_str() {
            return Some("the signed URL has expired");
        }
        None
    }
}

/// The storage host: its own port and accept loop. Dropping it stops serving.
#[derive(Debug)]
pub(crate) struct Storage {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    signer: Signer,
}

impl Storage {
    /// Serves the blobs under `data_dir` (the registry's filesystem root) on a free port.
    pub(crate) fn start(data_dir: PathBuf) -> Result<Self, KitError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| KitError::new(format!("cannot bind a loopback port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| KitError::new(format!("cannot read the bound address: {e}")))?;
        let signer = Signer {
            base: format!("http://{addr}"),
            secret: random_hex(32),
            registry_id: random_hex(16),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let signer = signer.clone();
            crate::server::spawn_accept_loop(listener, stop.clone(), move |stream| {
                let _ = serve_connection(stream, &signer, &data_dir);
            })
        };
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
            signer,
        })
    }

    /// What the emulator signs redirects with.
    pub(crate) fn signer(&self) -> Signer {
        self.signer.clone()
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        crate::server::stop_accept_loop(&self.stop, self.addr, self.thread.take());
    }
}

/// The part of a blob an answer carries: all of it (`200`) or a range (`206`).
#[derive(Debug, PartialEq, Eq)]
enum Extent {
    Whole,
    Range { start: u64, end: u64 },
    Unsatisfiable,
}

/// Reads `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` against a blob of `size` bytes; any
/// other form is ignored (the whole blob), as HTTP allows.
fn extent(range: Option<&str>, size: u64) -> Extent {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Extent::Whole;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Extent::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let bounds = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => Some((start, end.min(size.saturating_sub(1)))),
        (Ok(start), Err(_)) if last.is_empty() => Some((start, size.saturating_sub(1))),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => {
            Some((size.saturating_sub(suffix), size.saturating_sub(1)))
        }
        _ => return Extent::Whole,
    };
    match bounds {
        Some((start, end)) if start < size => Extent::Range { start, end },
        _ => Extent::Unsatisfiable,
    }
}

fn serve_connection(stream: TcpStream, signer: &Signer, root: &Path) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(head) = http1::read_head(&mut reader)? else {
        return Ok(());
    };
    let mut parts = head.start_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(http1::invalid("bad request line"));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = crate::server::parse_form(query);
    let mut out = BufWriter::with_capacity(64 * 1024, stream);
    let refuse = |out: &mut BufWriter<TcpStream>, status: u16, code: &str, message: &str| {
        refusal(out, method, (status, code, message), Vec::new())
    };
    match method {
        "OPTIONS" => {
            let mut headers = storage_headers();
            headers.push(("Access-Control-Allow-Methods".into(), "GET, HEAD".into()));
            headers.push(("Access-Control-Allow-Headers".into(), "Range".into()));
            headers.push(("Access-Control-Max-Age".into(), "600".into()));
            return http1::write_response(&mut out, 200, &headers, b"");
        }
        "GET" | "HEAD" => {}
        _ => {
            return refuse(
                &mut out,
                405,
                "UnsupportedHttpVerb",
                "The resource doesn't support the specified HTTP verb.",
            )
        }
    }
    if head.get("authorization").is_some() {
        return refuse(
            &mut out,
            400,
            "InvalidAuthenticationInfo",
            "Authentication information is not given in the correct format: this URL is signed \
             (SAS) and takes no Authorization header.",
        );
    }
    if let Some(why) = signer.refusal(path, &query) {
        let message = format!(
            "Server failed to authenticate the request: {why}. Make sure the value of \
             Authorization header is formed correctly including the signature."
        );
        return refuse(&mut out, 403, "AuthenticationFailed", &message);
    }
    let relative = path.trim_start_matches('/');
    if relative.contains("..") {
        return refuse(&mut out, 400, "InvalidUri", "The requested URI is invalid.");
    }
    let Ok(mut file) = File::open(root.join(relative)) else {
        return refuse(
            &mut out,
            404,
            "BlobNotFound",
            "The specified blob does not exist.",
        );
    };
    let size = file.metadata()?.len();
    let mut headers = storage_headers();
    headers.push(("Content-Type".into(), "application/octet-stream".into()));
    headers.push(("Accept-Ranges".into(), "bytes".into()));
    headers.push(("x-ms-blob-type".into(), "AppendBlob".into()));
    let (status, start, length) = match extent(head.get("range"), size) {
        Extent::Whole => (200, 0, size),
        Extent::Range { start, end } => {
            headers.push((
                "Content-Range".into(),
                format!("bytes {start}-{end}/{size}"),
            ));
            (206, start, end - start + 1)
        }
        Extent::Unsatisfiable => {
            let range = vec![("Content-Range".to_string(), format!("bytes */{size}"))];
            let why = "The range specified is invalid for the current size of the resource.";
            return refusal(&mut out, method, (416, "InvalidRange", why), range);
        }
    };
    let mut text = format!("HTTP/1.1 {status} {}\r\n", http1::reason(status));
    for (name, value) in &headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!(
        "Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ));
    out.write_all(text.as_bytes())?;
    if method == "GET" {
        file.seek(SeekFrom::Start(start))?;
        io::copy(&mut file.take(length), &mut out)?;
    }
    out.flush()
}

/// Blob storage's error answer: `(status, code, message)` as XML (no body to a `HEAD`), with
/// `extra` headers.
fn refusal(
    out: &mut BufWriter<TcpStream>,
    method: &str,
    (status, code, message): (u16, &str, &str),
    extra: Vec<(String, String)>,
) -> io::Result<()> {
    let body = if method == "HEAD" {
        String::new()
    } else {
        format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
             <Message>{message}\nRequestId:{}\nTime:{}</Message></Error>",
            random_hex(16),
            rfc3339(unix_now())
        )
    };
    let mut headers = storage_headers();
    headers.push(("Content-Type".into(), "application/xml".into()));
    headers.push(("x-ms-error-code".into(), code.into()));
    headers.extend(extra);
    http1::write_response(out, status, &headers, body.as_bytes())
}

/// What every storage answer carries: Azure's server name and CORS for any page.
fn storage_headers() -> Vec<(String, String)> {
    vec![
        ("Server".into(), "Windows-Azure-Blob/1.0".into()),
        ("x-ms-request-id".into(), random_hex(16)),
        ("x-ms-version".into(), SAS_VERSION.into()),
        ("Access-Control-Allow-Origin".into(), "*".into()),
        ("Access-Control-Expose-Headers".into(), EXPOSE.into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_http() {
        assert_eq!(extent(None, 10), Extent::Whole);
        assert_eq!(extent(Some("items=0-1"), 10), Extent::Whole);
        assert_eq!(
            extent(Some("bytes=0-3"), 10),
            Extent::Range { start: 0, end: 3 }
        );
        assert_eq!(
            extent(Some("bytes=4-"), 10),
            Extent::Range { start: 4, end: 9 }
        );
        assert_eq!(
            extent(Some("bytes=8-100"), 10),
            Extent::Range { start: 8, end: 9 }
        );
        assert_eq!(
            extent(Some("bytes=-3"), 10),
            Extent::Range { start: 7, end: 9 }
        );
        assert_eq!(extent(Some("bytes=10-"), 10), Extent::Unsatisfiable);
        assert_eq!(extent(Some("bytes=0-"), 0), Extent::Unsatisfiable);
    }

    #[test]
    fn signatures_bind_the_path_and_the_expiry() {
        let signer = Signer {
            base: "http://127.0.0.1:1".into(),
            secret: "s".into(),
            registry_id: "r".into(),
        };
        let hex = "a".repeat(64);
        let url = signer.blob_url(&format!("sha256:{hex}")).unwrap();
        let (path, query) = url
            .trim_start_matches("http://127.0.0.1:1")
            .split_once('?')
            .unwrap();
        let query = crate::server::parse_form(query);
        assert_eq!(signer.refusal(path, &query), None);
        assert!(signer.refusal("/other", &query).is_some());
        let expired = "2000-01-01T00:00:00Z";
        let stale: Vec<_> = query
            .iter()
            .map(|(k, v)| match k.as_str() {
                "se" => (k.clone(), expired.to_string()),
                "sig" => (k.clone(), signer.signature(path, expired)),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        assert_eq!(
            signer.refusal(path, &stale),
            Some("the signed URL has expired")
        );
        assert!(signer.blob_url("sha512:abc").is_none());
    }
}
