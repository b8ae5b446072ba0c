//! `/v2/...` through to the registry: ACR's locks first, then the request streamed to the
//! registry and its answer streamed back. Manifest pushes and deletes are learned on the way.
//!
//! The registry was configured with the emulator's realm and service, so its challenges already
//! point here; it sends relative `Location`s (`http.relativeurls`), as ACR does, and absolute
//! ones are rewritten anyway. Its CORS headers are replaced by the emulator's.

use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::time::Duration;

use porthole_core::{Digest, Method, Request, Url};
use serde_json::{json, Value};

use super::api::disallowed;
use super::oauth::{access_token, token_allows, Principal};
use super::store::{Attributes, ManifestMeta, Reference};
use super::{acr_error, common_headers, Shared};
use crate::http1::{self, BodyReader, Framing, Head};
use crate::server::ServerResponse;
use crate::token::Scope;
use crate::transport::NativeTransport;

/// Manifests are read whole to learn them; ACR refuses manifests over 4 MiB anyway.
const MAX_MANIFEST: usize = 8 * 1024 * 1024;

/// Configs larger than this are not read for their platform.
const MAX_CONFIG: u64 = 1024 * 1024;

/// Hop-by-hop and framing headers, which each side of the proxy sets for itself.
const HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "te",
    "upgrade",
    "proxy-connection",
];

/// What a `/v2/` path is about.
enum Route<'a> {
    Catalog,
    Manifest { name: &'a str, reference: &'a str },
    Blob { name: &'a str, digest: &'a str },
    TagsList { name: &'a str },
    Other,
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Self {
        let Some(rest) = path.strip_prefix("/v2/") else {
            return Self::Other;
        };
        if rest == "_catalog" {
            return Self::Catalog;
        }
        if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
            return Self::Manifest { name, reference };
        }
        if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
            if !digest.starts_with("uploads") && !name.ends_with("/blobs") {
                return Self::Blob { name, digest };
            }
        }
        if let Some(name) = rest.strip_suffix("/tags/list") {
            return Self::TagsList { name };
        }
        Self::Other
    }
}

fn is_digest(reference: &str) -> bool {
    reference.contains(':')
}

/// ACR's locks, checked only for a request whose token allows the operation: without one the
/// registry answers first (401), as ACR authenticates before it looks at properties.
fn enforce(shared: &Shared, method: &str, route: &Route<'_>, auth: Option<&str>) -> bool {
    let (name, action) = match (route, method) {
        (Route::Manifest { name, .. } | Route::Blob { name, .. }, "GET" | "HEAD") => {
            (*name, "pull")
        }
        (Route::Manifest { name, .. }, "PUT") => (*name, "push"),
        (Route::Manifest { name, .. }, "DELETE") => (*name, "delete"),
        _ => return false,
    };
    if !token_allows(shared, auth, name, action) {
        return false;
    }
    let repos = shared.store.repos.lock().unwrap_or_else(|e| e.into_inner());
    let Some(repo) = repos.get(name) else {
        return false;
    };
    let Route::Manifest { reference, .. } = route else {
        return !repo.attributes.read_enabled;
    };
    let tag = (!is_digest(reference))
        .then(|| repo.tags.get(*reference))
        .flatten();
    let digest = match tag {
        Some(t) => Some(t.digest.as_str()),
        None => is_digest(reference).then_some(*reference),
    };
    let manifest = digest.and_then(|d| repo.manifests.get(d));
    let attrs = |a: Option<Attributes>| a.unwrap_or_default();
    match action {
        "pull" => {
            !repo.attributes.read_enabled
                || !attrs(tag.map(|t| t.attributes)).read_enabled
                || !attrs(manifest.map(|m| m.attributes)).read_enabled
        }
        "push" => {
            !repo.attributes.write_enabled
                || !attrs(tag.map(|t| t.attributes)).write_enabled
                || (is_digest(reference) && !attrs(manifest.map(|m| m.attributes)).write_enabled)
        }
        _ => {
            let tags_locked = digest.is_some_and(|d| {
                repo.tags
                    .values()
                    .any(|t| t.digest == d && !t.attributes.deletable())
            });
            !repo.attributes.deletable()
                || !attrs(manifest.map(|m| m.attributes)).deletable()
                || tags_locked
        }
    }
}

/// Proxies one request whose head has been read from `client`.
pub(crate) fn forward(
    shared: &Shared,
    method: &str,
    target: &str,
    head: &Head,
    client: &mut BufReader<TcpStream>,
    out: &mut BufWriter<TcpStream>,
) -> io::Result<()> {
    let path = target.split('?').next().unwrap_or("");
    let route = Route::parse(path);
    let request_framing = Framing::of(head, false)?;
    if enforce(shared, method, &route, head.get("authorization")) {
        // Read what the client sent first: closing on unread data would reset the connection
        // and lose the answer.
        let _ = BodyReader::new(&mut *client, request_framing).read_all();
        return write_complete(out, method, disallowed(), true);
    }
    let manifest_put = matches!((&route, method), (Route::Manifest { .. }, "PUT"));
    let upstream_addr = shared.upstream.trim_start_matches("http://");
    let upstream = TcpStream::connect(upstream_addr)?;
    upstream.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut up_out = BufWriter::with_capacity(64 * 1024, upstream.try_clone()?);
    let mut request_head = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in &head.headers {
        if !HOP.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            request_head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request_head.push_str("Connection: close\r\n");
    let mut body_reader = BodyReader::new(&mut *client, request_framing);
    let mut manifest_bytes = Vec::new();
    let sent = if manifest_put {
        while let Some(piece) = body_reader.next_piece(64 * 1024)? {
            manifest_bytes.extend_from_slice(&piece);
            if manifest_bytes.len() > MAX_MANIFEST {
                return Err(http1::invalid("manifest too large"));
            }
        }
        request_head.push_str(&format!("Content-Length: {}\r\n\r\n", manifest_bytes.len()));
        up_out
            .write_all(request_head.as_bytes())
            .and_then(|()| up_out.write_all(&manifest_bytes))
            .and_then(|()| up_out.flush())
    } else {
        match request_framing {
            Framing::Length(n) => request_head.push_str(&format!("Content-Length: {n}\r\n")),
            Framing::Chunked => request_head.push_str("Transfer-Encoding: chunked\r\n"),
            _ if matches!(method, "POST" | "PUT" | "PATCH") => {
                request_head.push_str("Content-Length: 0\r\n");
            }
            _ => {}
        }
        request_head.push_str("\r\n");
        up_out.write_all(request_head.as_bytes()).and_then(|()| {
            pump(
                &mut body_reader,
                &mut up_out,
                request_framing == Framing::Chunked,
            )
        })
    };
    // The registry may answer (401) without reading the body; its answer is what counts.
    let mut up_reader = BufReader::with_capacity(64 * 1024, upstream);
    let up_head = match http1::read_head(&mut up_reader) {
        Ok(Some(h)) => h,
        Ok(None) => return Err(sent.err().unwrap_or_else(|| http1::invalid("no answer"))),
        Err(e) => return Err(sent.err().unwrap_or(e)),
    };
    let status: u16 = up_head
        .start_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| http1::invalid("bad status line from the registry"))?;
    let no_body = method == "HEAD" || matches!(status, 204 | 304);
    let framing = if no_body {
        Framing::None
    } else {
        Framing::of(&up_head, true)?
    };
    let mut headers = common_headers();
    for (name, value) in &up_head.headers {
        let lower = name.to_ascii_lowercase();
        let keep_length = no_body && lower == "content-length";
        if (HOP.contains(&lower.as_str()) && !keep_length) || lower.starts_with("access-control-") {
            continue;
        }
        let value = if lower == "location" {
            value
                .strip_prefix(&shared.upstream)
                .unwrap_or(value)
                .to_string()
        } else {
            value.clone()
        };
        headers.push((name.clone(), value));
    }
    if let (Route::Blob { digest, .. }, "GET" | "HEAD", 200 | 206) = (&route, method, status) {
        if let Some(location) = shared.storage.blob_url(digest) {
            return write_complete(
                out,
                method,
                storage_redirect(method, &location, digest),
                true,
            );
        }
    }
    let mut up_body = BodyReader::new(up_reader, framing);

    // Answers the emulator rewrites whole: small JSON bodies.
    let rewrite = matches!(
        (&route, status),
        (_, 401) | (Route::Catalog | Route::TagsList { .. }, 200)
    );
    if rewrite {
        let body = up_body.read_all()?;
        let body = match (&route, status) {
            (_, 401) => acr_unauthorized_body(&up_head),
            (Route::Catalog, _) => filter_listing(shared, &body, "repositories", None),
            (Route::TagsList { name }, _) => filter_listing(shared, &body, "tags", Some(name)),
            _ => body,
        };
        let mut response = ServerResponse::new(status).body(body);
        response.headers = headers;
        return write_complete(out, method, response, false);
    }
    match (&route, method, status) {
        (Route::Manifest { name, reference }, "PUT", 201) => {
            let digest = up_head.get("docker-content-digest").map_or_else(
                || Digest::sha256_of(&manifest_bytes).to_string(),
                String::from,
            );
            let content_type = head.get("content-type");
            learn(
                shared,
                name,
                reference,
                &manifest_bytes,
                content_type,
                digest,
            );
        }
        (Route::Manifest { name, reference }, "DELETE", 202) => {
            shared.store.remove_manifest(name, reference);
        }
        _ => {}
    }
    let chunked = framing == Framing::Chunked;
    match framing {
        Framing::Length(n) => headers.push(("Content-Length".into(), n.to_string())),
        Framing::Chunked => headers.push(("Transfer-Encoding".into(), "chunked".into())),
        _ => {}
    }
    let mut head_text = format!("HTTP/1.1 {status} {}\r\n", http1::reason(status));
    for (name, value) in &headers {
        head_text.push_str(&format!("{name}: {value}\r\n"));
    }
    head_text.push_str("Connection: close\r\n\r\n");
    out.write_all(head_text.as_bytes())?;
    pump(&mut up_body, out, chunked)
}

/// ACR's answer to a blob read it may serve: `307` to its storage account (reference section
/// 7), with the digest, and Go's redirect body on a `GET`.
fn storage_redirect(method: &str, location: &str, digest: &str) -> ServerResponse {
    let body = if method == "GET" {
        format!(
            "<a href=\"{}\">Temporary Redirect</a>.\n\n",
            location.replace('&', "&amp;")
        )
    } else {
        String::new()
    };
    ServerResponse::new(307)
        .header("Location", location)
        .header("Docker-Content-Digest", digest)
        .header("Content-Type", "text/html; charset=utf-8")
        .body(body.into_bytes())
}

/// Copies a body piece by piece, re-chunking it when `chunked`; flushes at the end.
fn pump<R: BufRead>(
    body: &mut BodyReader<R>,
    out: &mut impl Write,
    chunked: bool,
) -> io::Result<()> {
    while let Some(piece) = body.next_piece(64 * 1024)? {
        if chunked {
            write!(out, "{:x}\r\n", piece.len())?;
            out.write_all(&piece)?;
            out.write_all(b"\r\n")?;
        } else {
            out.write_all(&piece)?;
        }
    }
    if chunked {
        out.write_all(b"0\r\n\r\n")?;
    }
    out.flush()
}

/// Writes a whole answer; `own` answers get the common headers first.
/// Writes `response` whole, or only its head to a `HEAD` (whose answer has no body, as ACR's
/// has none).
fn write_complete(
    out: &mut BufWriter<TcpStream>,
    method: &str,
    response: ServerResponse,
    own: bool,
) -> io::Result<()> {
    let mut headers = if own { common_headers() } else { Vec::new() };
    headers.extend(
        response
            .headers
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length")),
    );
    if own {
        headers.push((
            "Docker-Distribution-Api-Version".into(),
            "registry/2.0".into(),
        ));
    }
    if method == "HEAD" {
        http1::write_response_head(out, response.status, &headers, response.body.len())
    } else {
        http1::write_response(out, response.status, &headers, &response.body)
    }
}

/// ACR's 401 body (reference section 3) for the scope in the registry's challenge.
fn acr_unauthorized_body(up_head: &Head) -> Vec<u8> {
    let challenge = up_head.get("www-authenticate").unwrap_or("");
    let scope = challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(Scope::parse);
    let detail: Vec<Value> = scope
        .iter()
        .flat_map(|s| {
            s.actions
                .iter()
                .map(|a| json!({"Type": s.resource_type, "Name": s.name, "Action": a}))
        })
        .collect();
    acr_error(
        401,
        "UNAUTHORIZED",
        "authentication required, visit https://aka.ms/acr/authorization for more information.",
        Value::Array(detail),
    )
    .body
}

/// Drops list-disabled repositories (catalog) or tags (`tags/list` of `repo`) from a listing.
fn filter_listing(shared: &Shared, body: &[u8], key: &str, repo: Option<&str>) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    let repos = shared.store.repos.lock().unwrap_or_else(|e| e.into_inner());
    let hidden = |item: &str| match repo {
        None => repos.get(item).is_some_and(|r| !r.attributes.list_enabled),
        Some(name) => repos
            .get(name)
            .and_then(|r| r.tags.get(item))
            .is_some_and(|t| !t.attributes.list_enabled),
    };
    if let Some(items) = value[key].as_array_mut() {
        items.retain(|i| !i.as_str().is_some_and(hidden));
    }
    value.to_string().into_bytes()
}

/// Records a manifest the registry accepted: digest, tag, media types, size, and the platform
/// from its config blob (an image) or its children (an index).
fn learn(
    shared: &Shared,
    name: &str,
    reference: &str,
    body: &[u8],
    content_type: Option<&str>,
    digest: String,
) {
    let manifest: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let media_type = content_type
        .filter(|c| !c.is_empty())
        .or_else(|| manifest["mediaType"].as_str())
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .to_string();
    let size_of = |d: &Value| d["size"].as_u64().unwrap_or(0);
    let mut meta = ManifestMeta {
        digest,
        media_type,
        config_media_type: None,
        platform: None,
        references: Vec::new(),
        image_size: body.len() as u64,
        created: 0,
        updated: 0,
        attributes: Attributes::default(),
    };
    if let Some(children) = manifest["manifests"].as_array() {
        // An index: its size is the sum over its children (inferred in the reference, 4.5),
        // not counting its own bytes.
        meta.image_size = 0;
        let repos = shared.store.repos.lock().unwrap_or_else(|e| e.into_inner());
        for child in children {
            let child_digest = child["digest"].as_str().unwrap_or("").to_string();
            let known = repos
                .get(name)
                .and_then(|r| r.manifests.get(&child_digest))
                .map(|m| m.image_size);
            meta.image_size += known.unwrap_or_else(|| size_of(child));
            let field = |k: &str| {
                child["platform"][k]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("unknown")
                    .to_string()
            };
            meta.references.push(Reference {
                digest: child_digest,
                architecture: field("architecture"),
                os: field("os"),
            });
        }
    } else {
        let config = &manifest["config"];
        meta.config_media_type = config["mediaType"].as_str().map(String::from);
        meta.image_size += size_of(config);
        if let Some(layers) = manifest["layers"].as_array() {
            meta.image_size += layers.iter().map(size_of).sum::<u64>();
        }
        meta.platform = Some(platform(shared, name, config));
    }
    let tag = (!is_digest(reference)).then_some(reference);
    shared.store.record_push(name, meta, tag);
}

/// `architecture` and `os` of an image's config blob, `unknown` when it has none (as ACR
/// reports OCI artifacts).
fn platform(shared: &Shared, name: &str, config: &Value) -> (String, String) {
    let unknown = || ("unknown".to_string(), "unknown".to_string());
    let Some(digest) = config["digest"].as_str() else {
        return unknown();
    };
    if config["size"].as_u64().unwrap_or(u64::MAX) > MAX_CONFIG {
        return unknown();
    }
    let scope = Scope {
        resource_type: "repository".into(),
        name: name.into(),
        actions: vec!["pull".into()],
    };
    let Ok(token) = access_token(shared, Principal::Admin, &[scope]) else {
        return unknown();
    };
    let Ok(url) = Url::parse(&format!("{}/v2/{name}/blobs/{digest}", shared.upstream)) else {
        return unknown();
    };
    let request = Request::new(Method::Get, url).header("Authorization", format!("Bearer {token}"));
    let fetched = NativeTransport::new()
        .send_blocking(request)
        .ok()
        .filter(|r| r.status == 200)
        .and_then(|mut r| r.body.read_to_end().ok());
    let Some(bytes) = fetched else {
        return unknown();
    };
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let field = |k: &str| {
        parsed[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_string()
    };
    (field("architecture"), field("os"))
}
