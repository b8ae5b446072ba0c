//! One error type for everything the client can report, with the registry's own codes kept.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::transport::{TransportError, TransportErrorKind};

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each variant saying what happened and what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input refused before any request was made (a bad name, tag, digest or URL).
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// What kind of value it was ("repository name", "tag", ...).
        what: &'static str,
        /// The value as given (never a secret).
        value: String,
        /// What is wrong and what would be right.
        reason: String,
    },

    /// The registry answered with an error status.
    #[error("{}", registry_message(*status, operation, errors, body_excerpt.as_deref()))]
    Registry {
        /// What we were doing ("list tags of app", ...).
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The OCI error envelope's entries (empty when the body was not one).
        errors: Vec<OciError>,
        /// The start of a body that was not an OCI error envelope (HTML, plain text).
        body_excerpt: Option<String>,
        /// Seconds from `Retry-After`, when the registry sent it.
        retry_after: Option<u64>,
    },

    /// Authentication failed; `step` says which step and `reason` why.
    #[error("authentication failed while {step}: {reason}")]
    Auth {
        /// The step that failed ("asking the token server at ... for a token", ...).
        step: String,
        /// What went wrong and how to fix it. Never contains a credential.
        reason: String,
        /// The HTTP status of the answer that refused (the registry's 401, the token server's
        /// 401 or 403), when an answer did: callers that branch on 401/403 see it.
        status: Option<u16>,
    },

    /// The request never got an HTTP answer.
    #[error("{operation}: {source}{}", transport_hint(source.kind))]
    Transport {
        /// What we were doing.
        operation: String,
        /// What the transport reported.
        source: TransportError,
    },

    /// Content did not hash to the digest it was fetched or pushed by. The data is refused.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}; the content was refused because it is corrupt or was altered in transit")]
    DigestMismatch {
        /// What was being verified.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },

    /// The registry broke the protocol (a missing or malformed header, an impossible answer).
    #[error("{message}")]
    Protocol {
        /// What was expected, what came, and how to fix it.
        message: String,
    },

    /// A manifest larger than the 4 MiB the spec asks registries and clients to support.
    #[error("manifest {reference} is larger than the {limit} bytes Porthole accepts")]
    ManifestTooLarge {
        /// The manifest's reference.
        reference: String,
        /// The limit in bytes.
        limit: usize,
    },

    /// A request kept failing (429, 5xx, lost connections) until the retry budget ran out.
    // Integer arithmetic: float formatting would add kilobytes to every wasm bundle.
    #[error("{last} (gave up after {attempts} attempts in {}.{} s)", elapsed_ms / 1000, elapsed_ms % 1000 / 100)]
    Retried {
        /// Attempts made, the first included.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed_ms: u64,
        /// The last attempt's error.
        last: Box<Self>,
    },

    /// A body could not be parsed.
    #[error("could not parse {what}: {reason}")]
    Parse {
        /// What was parsed.
        what: String,
        /// The parser's complaint.
        reason: String,
    },
}

fn transport_hint(kind: TransportErrorKind) -> &'static str {
    match kind {
        TransportErrorKind::Blocked => {
            ". The browser does not tell a page why a cross-origin request failed; the usual \
             causes are: the registry does not allow this page's origin (CORS \
             Access-Control-Allow-Origin); it answers the CORS preflight (OPTIONS) with 401 \
             because authentication is on, which distribution does; the page is https and the \
             registry http (mixed content); or the registry is down. The browser console names \
             the cause. Fix: serve the registry through a same-origin proxy (or a proxy that \
             answers OPTIONS itself), or configure its Access-Control-Allow-Origin, \
             -Allow-Methods, -Allow-Headers and -Expose-Headers"
        }
        // Covers both a registry that cannot be reached and a connection that dropped midway
        // (after the retries and resumes the client already made).
        TransportErrorKind::Network => {
            " (the registry could not be reached or the connection dropped: check that the \
             address is right and the registry is up, then try again)"
        }
        _ => "",
    }
}

fn registry_message(
    status: u16,
    operation: &str,
    errors: &[OciError],
    body_excerpt: Option<&str>,
) -> String {
    let mut msg = format!("{operation}: the registry answered {status}");
    if let Some(reason) = status_reason(status) {
        msg.push_str(&format!(" {reason}"));
    }
    for e in errors {
        msg.push_str(&format!(" [{}", e.code.as_str()));
        if !e.message.is_empty() {
            msg.push_str(&format!(": {}", e.message));
        }
        msg.push(']');
    }
    if errors.is_empty() {
        if let Some(body) = body_excerpt.filter(|b| !b.trim().is_empty()) {
            msg.push_str(&format!(" ({})", body.trim()));
        }
    }
    if let Some(hint) = status_hint(status, operation, errors) {
        msg.push_str(" — ");
        msg.push_str(hint);
    }
    msg
}

/// Whether an operation's description (the core's own wording) names a delete.
fn is_delete(operation: &str) -> bool {
    operation.to_ascii_lowercase().contains("delet")
}

fn status_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

fn status_hint(status: u16, operation: &str, errors: &[OciError]) -> Option<&'static str> {
    let has = |code: &OciErrorCode| errors.iter().any(|e| &e.code == code);
    if (has(&OciErrorCode::Unsupported) || status == 405) && is_delete(operation) {
        return Some("the registry does not allow this operation (deletes are often disabled; distribution needs storage.delete.enabled: true)");
    }
    if has(&OciErrorCode::Unsupported) || status == 405 {
        return Some("the registry does not support or allow this operation");
    }
    if has(&OciErrorCode::NameUnknown) {
        return Some("the repository does not exist, or you may not see it");
    }
    if has(&OciErrorCode::ManifestBlobUnknown) {
        return Some("the manifest names a blob the repository does not have; upload its config and layers (or mount them) first, then push the manifest again");
    }
    if has(&OciErrorCode::BlobUploadUnknown) {
        return Some("the registry no longer knows this upload session (it expired, was cancelled, or another registry node took the request); start the upload again");
    }
    if has(&OciErrorCode::ManifestUnknown) || has(&OciErrorCode::BlobUnknown) {
        return Some("nothing with that reference exists in the repository");
    }
    match status {
        401 => Some("the credentials are missing, wrong, or do not grant this access"),
        403 => Some("the credentials were accepted but do not grant this access"),
        429 => Some("the registry is rate limiting; wait and try again"),
        500..=599 => Some("the registry failed; try again later"),
        _ => None,
    }
}

impl Error {
    /// The HTTP status, when the registry answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Registry { status, .. } => Some(*status),
            Self::Auth { status, .. } => *status,
            Self::Retried { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The OCI error codes the registry sent.
    pub fn oci_codes(&self) -> impl Iterator<Item = &OciErrorCode> {
        self.oci_errors().iter().map(|e| &e.code)
    }

    /// The entries of the registry's OCI error envelope (empty for other errors).
    pub fn oci_errors(&self) -> &[OciError] {
        match self {
            Self::Registry { errors, .. } => errors,
            Self::Retried { last, .. } => last.oci_errors(),
            _ => &[],
        }
    }

    /// Whether the registry sent this OCI code.
    pub fn has_code(&self, code: &OciErrorCode) -> bool {
        self.oci_codes().any(|c| c == code)
    }

    /// A stable code: the registry's first OCI code, else a kind such as `DIGEST_MISMATCH`.
    pub fn code(&self) -> &str {
        match self {
            Self::Registry { errors, status, .. } => match errors.first() {
                Some(e) => e.code.as_str(),
                None => match status {
                    401 => "UNAUTHORIZED",
                    403 => "DENIED",
                    404 => "NOT_FOUND",
                    429 => "TOOMANYREQUESTS",
                    _ => "REGISTRY_ERROR",
                },
            },
            Self::InvalidInput { .. } => "INVALID_INPUT",
            Self::Auth { .. } => "AUTH_FAILED",
            Self::Transport { source, .. } => match source.kind {
                TransportErrorKind::Aborted => "ABORTED",
                TransportErrorKind::Blocked => "BLOCKED_BY_BROWSER",
                TransportErrorKind::Timeout | TransportErrorKind::Deadline => "TIMEOUT",
                // The bytes to send (a file changed since it was picked, a stream that failed)
                // or an answer's body (read already): trying the network again will not help.
                TransportErrorKind::Body => "BODY_ERROR",
                _ => "NETWORK_ERROR",
            },
            Self::DigestMismatch { .. } => "DIGEST_MISMATCH",
            Self::Protocol { .. } => "PROTOCOL_ERROR",
            Self::ManifestTooLarge { .. } => "MANIFEST_TOO_LARGE",
            Self::Parse { .. } => "PARSE_ERROR",
            Self::Retried { last, .. } => last.code(),
        }
    }

    /// Whether trying again later may succeed (429, 5xx, network failures).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Registry { status, .. } => *status == 429 || (500..=599).contains(status),
            Self::Transport { source, .. } => matches!(
                source.kind,
                TransportErrorKind::Network | TransportErrorKind::Timeout
            ),
            Self::Retried { last, .. } => last.is_retryable(),
            _ => false,
        }
    }

    /// Whether this is a "not found" answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            what,
            value: value.chars().take(300).collect(),
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Self::Protocol {
            message: message.into(),
        }
    }

    pub(crate) fn transport(operation: impl Into<String>, source: TransportError) -> Self {
        Self::Transport {
            operation: operation.into(),
            source,
        }
    }
}

impl From<crate::url::UrlError> for Error {
    fn from(e: crate::url::UrlError) -> Self {
        Self::InvalidInput {
            what: "URL",
            value: e.input,
            reason: e.reason.to_string(),
        }
    }
}

/// One entry of the OCI error envelope `{"errors": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciError {
    /// The error code, kept even when unknown.
    pub code: OciErrorCode,
    /// The registry's message.
    #[serde(default)]
    pub message: String,
    /// Free-form detail.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

/// OCI error codes; unknown codes are kept as they were sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OciErrorCode {
    /// `BLOB_UNKNOWN`
    BlobUnknown,
    /// `BLOB_UPLOAD_INVALID`
    BlobUploadInvalid,
    /// `BLOB_UPLOAD_UNKNOWN`
    BlobUploadUnknown,
    /// `DIGEST_INVALID`
    DigestInvalid,
    /// `MANIFEST_BLOB_UNKNOWN`
    ManifestBlobUnknown,
    /// `MANIFEST_INVALID`
    ManifestInvalid,
    /// `MANIFEST_UNKNOWN`
    ManifestUnknown,
    /// `NAME_INVALID`
    NameInvalid,
    /// `NAME_UNKNOWN`
    NameUnknown,
    /// `SIZE_INVALID`
    SizeInvalid,
    /// `UNAUTHORIZED`
    Unauthorized,
    /// `DENIED`
    Denied,
    /// `UNSUPPORTED`
    Unsupported,
    /// `TOOMANYREQUESTS`
    TooManyRequests,
    /// `RANGE_INVALID` (distribution)
    RangeInvalid,
    /// `PAGINATION_NUMBER_INVALID` (distribution)
    PaginationNumberInvalid,
    /// Any other code, as sent.
    Other(String),
}

impl OciErrorCode {
    const KNOWN: [(&'static str, Self); 16] = [
        ("BLOB_UNKNOWN", Self::BlobUnknown),
        ("BLOB_UPLOAD_INVALID", Self::BlobUploadInvalid),
        ("BLOB_UPLOAD_UNKNOWN", Self::BlobUploadUnknown),
        ("DIGEST_INVALID", Self::DigestInvalid),
        ("MANIFEST_BLOB_UNKNOWN", Self::ManifestBlobUnknown),
        ("MANIFEST_INVALID", Self::ManifestInvalid),
        ("MANIFEST_UNKNOWN", Self::ManifestUnknown),
        ("NAME_INVALID", Self::NameInvalid),
        ("NAME_UNKNOWN", Self::NameUnknown),
        ("SIZE_INVALID", Self::SizeInvalid),
        ("UNAUTHORIZED", Self::Unauthorized),
        ("DENIED", Self::Denied),
        ("UNSUPPORTED", Self::Unsupported),
        ("TOOMANYREQUESTS", Self::TooManyRequests),
        ("RANGE_INVALID", Self::RangeInvalid),
        ("PAGINATION_NUMBER_INVALID", Self::PaginationNumberInvalid),
    ];

    /// The code exactly as the wire spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(s) => s,
            known => Self::KNOWN
                .iter()
                .find(|(_, c)| c == known)
                .map_or("UNKNOWN", |(s, _)| s),
        }
    }
}

impl From<&str> for OciErrorCode {
    fn from(s: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(name, _)| *name == s)
            .map_or_else(|| Self::Other(s.to_string()), |(_, c)| c.clone())
    }
}

impl fmt::Display for OciErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OciErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OciErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::from(s.as_str()))
    }
}

#[derive(Deserialize)]
struct Envelope {
    errors: Vec<OciError>,
}

/// Parses an error body: the OCI envelope when it is one, else a short excerpt of the text
/// (HTML and plain-text bodies happen, especially from proxies).
pub fn parse_error_body(body: &[u8]) -> (Vec<OciError>, Option<String>) {
    if let Ok(env) = serde_json::from_slice::<Envelope>(body) {
        return (env.errors, None);
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    let text = if text.trim_start().starts_with('<') {
        strip_tags(&text)
    } else {
        text.into_owned()
    };
    let excerpt: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let excerpt: String = excerpt.chars().take(200).collect();
    (Vec::new(), (!excerpt.is_empty()).then_some(excerpt))
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_envelope_and_keeps_unknown_codes() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"QUOTA_EXCEEDED"}]}"#;
        let (errors, excerpt) = parse_error_body(body);
        assert_eq!(excerpt, None);
        assert_eq!(errors[0].code, OciErrorCode::ManifestUnknown);
        assert_eq!(errors[1].code, OciErrorCode::Other("QUOTA_EXCEEDED".into()));
        assert_eq!(errors[1].code.as_str(), "QUOTA_EXCEEDED");
        assert_eq!(errors[1].message, "");
    }

    #[test]
    fn html_and_text_bodies_become_excerpts() {
        let (errors, excerpt) =
            parse_error_body(b"<html><body><h1>502 Bad Gateway</h1></body></html>");
        assert!(errors.is_empty());
        assert_eq!(excerpt.as_deref(), Some("502 Bad Gateway"));
        let (_, excerpt) = parse_error_body(b"404 page not found\n");
        assert_eq!(excerpt.as_deref(), Some("404 page not found"));
        let (_, excerpt) = parse_error_body(b"");
        assert_eq!(excerpt, None);
        let (_, excerpt) = parse_error_body(&[0xff, 0xfe, b'{']);
        assert!(excerpt.is_some());
    }

    #[test]
    fn hostile_error_bodies_are_cut_short() {
        let deep = format!(
            r#"{{"errors":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let (errors, excerpt) = parse_error_body(deep.as_bytes());
        assert!(errors.is_empty());
        assert!(excerpt.unwrap().chars().count() <= 200);
        let big = format!(
            "<html><script>{}</script></html>",
            "x".repeat(4 * 1024 * 1024)
        );
        let (_, excerpt) = parse_error_body(big.as_bytes());
        assert!(excerpt.is_none_or(|e| e.chars().count() <= 200));
        let huge_message = format!(
            r#"{{"errors":[{{"code":"DENIED","message":"{}"}}]}}"#,
            "m".repeat(1024 * 1024)
        );
        let (errors, _) = parse_error_body(huge_message.as_bytes());
        assert_eq!(errors[0].code, OciErrorCode::Denied);
    }

    #[test]
    fn registry_errors_explain_themselves() {
        let e = Error::Registry {
            operation: "delete manifest app@sha256:ab".into(),
            status: 405,
            errors: vec![OciError {
                code: OciErrorCode::Unsupported,
                message: "The operation is unsupported.".into(),
                detail: serde_json::Value::Null,
            }],
            body_excerpt: None,
            retry_after: None,
        };
        let text = e.to_string();
        assert!(text.contains("405"), "{text}");
        assert!(text.contains("UNSUPPORTED"), "{text}");
        assert!(text.contains("storage.delete.enabled"), "{text}");
        assert_eq!(e.code(), "UNSUPPORTED");
        assert!(!e.is_retryable());
        // Not a delete (AWS ECR refusing a page size): no advice about deletes.
        let listing = Error::Registry {
            operation: "listing tags of app".into(),
            status: 400,
            errors: vec![OciError {
                code: OciErrorCode::Unsupported,
                message: "Member must have value less than or equal to 1000".into(),
                detail: serde_json::Value::Null,
            }],
            body_excerpt: None,
            retry_after: None,
        };
        let text = listing.to_string();
        assert!(text.contains("does not support or allow"), "{text}");
        assert!(!text.contains("delete"), "{text}");

        for (code, status, advice) in [
            (
                OciErrorCode::ManifestBlobUnknown,
                400,
                "upload its config and layers",
            ),
            (
                OciErrorCode::BlobUploadUnknown,
                404,
                "start the upload again",
            ),
        ] {
            let e = Error::Registry {
                operation: "x".into(),
                status,
                errors: vec![OciError {
                    code,
                    message: String::new(),
                    detail: serde_json::Value::Null,
                }],
                body_excerpt: None,
                retry_after: None,
            };
            assert!(e.to_string().contains(advice), "{e}");
        }
    }

    #[test]
    fn codes_and_retryability() {
        let e = Error::Registry {
            operation: "x".into(),
            status: 503,
            errors: vec![],
            body_excerpt: None,
            retry_after: Some(3),
        };
        assert!(e.is_retryable());
        assert_eq!(e.code(), "REGISTRY_ERROR");
        let t = Error::transport(
            "ping",
            TransportError::new(TransportErrorKind::Blocked, "Failed to fetch"),
        );
        assert_eq!(t.code(), "BLOCKED_BY_BROWSER");
        assert!(t.to_string().contains("CORS"));
        let unreadable = Error::transport(
            "uploading",
            TransportError::new(TransportErrorKind::Body, "cannot read the file"),
        );
        assert_eq!(unreadable.code(), "BODY_ERROR");
        assert!(!unreadable.is_retryable());
        let lost = Error::transport(
            "uploading",
            TransportError::new(TransportErrorKind::Network, "connection reset"),
        );
        assert_eq!(lost.code(), "NETWORK_ERROR");
        assert!(lost.is_retryable());
        // The caller's own deadline is a timeout to report, but an abort: never retried.
        let deadline = Error::transport(
            "uploading",
            TransportError::new(TransportErrorKind::Deadline, "AbortSignal.timeout"),
        );
        assert_eq!(deadline.code(), "TIMEOUT");
        assert!(!deadline.is_retryable());
    }
}
