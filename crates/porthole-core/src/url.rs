//! A small absolute-URL type: enough of RFC 3986 for registry endpoints, `Location`, `Link` and
//! token realms, without the weight of a full URL crate in the wasm bundle.

use std::fmt;

/// An absolute `http` or `https` URL, kept as its normalised text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Url {
    text: String,
    /// Byte offset where the path starts (just after the authority).
    path_start: usize,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URL {input:?}: {reason}")]
pub struct UrlError {
    /// The text that was given (credentials in it are not repeated).
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Url {
    /// Parses an absolute `http://` or `https://` URL. A URL without a path gets `/`.
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let err = |reason| UrlError {
            input: redact_userinfo(input),
            reason,
        };
        let trimmed = input.trim();
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| err("it must start with http:// or https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(err("only http:// and https:// are supported"));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if authority.is_empty() {
            return Err(err("it has no host"));
        }
        if authority.contains('@') {
            return Err(err(
                "credentials in the URL are not allowed; give them as credentials instead",
            ));
        }
        if authority.chars().any(|c| c.is_whitespace() || c == '\\') {
            return Err(err("the host contains spaces or backslashes"));
        }
        let mut tail = rest[authority_end..].to_string();
        if let Some(hash) = tail.find('#') {
            tail.truncate(hash);
        }
        if !tail.starts_with('/') {
            tail.insert(0, '/');
        }
        if tail.chars().any(|c| c.is_whitespace()) {
            return Err(err("it contains spaces"));
        }
        let mut host = authority.to_ascii_lowercase();
        // The scheme's default port is dropped, as browsers do, so that `https://h:443` (a
        // `Location` built from a proxy's `Host: $host:$server_port`) is the origin `https://h`.
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        if let Some(bare) = host.strip_suffix(default_port) {
            host.truncate(bare.len());
        } else if host.ends_with(':') {
            host.pop();
        }
        if host.is_empty() {
            return Err(err("it has no host"));
        }
        let text = format!("{scheme}://{host}{tail}");
        Ok(Self {
            path_start: scheme.len() + 3 + host.len(),
            text,
        })
    }

    /// The whole URL.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.text[..self.text.find(':').unwrap_or(0)]
    }

    /// `host[:port]`.
    pub fn authority(&self) -> &str {
        &self.text[self.scheme().len() + 3..self.path_start]
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        &self.text[..self.path_start]
    }

    /// The path, starting with `/`.
    pub fn path(&self) -> &str {
        let rest = &self.text[self.path_start..];
        &rest[..rest.find('?').unwrap_or(rest.len())]
    }

    /// The query without `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.text[self.path_start..]
            .find('?')
            .map(|q| &self.text[self.path_start + q + 1..])
    }

    /// The path and query, as sent in an HTTP request line.
    pub fn path_and_query(&self) -> &str {
        &self.text[self.path_start..]
    }

    /// The value of the first query parameter of that name, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()?
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| percent_decode(k) == name)
            .map(|(_, v)| percent_decode(v))
    }

    /// Resolves a reference (absolute, `//host/...`, `/path`, `path` or `?query`) against this
    /// URL, as RFC 3986 section 5 says.
    pub fn join(&self, reference: &str) -> Result<Self, UrlError> {
        let reference = reference.trim();
        if reference.contains("://") && !reference.starts_with('/') && !reference.starts_with('?') {
            return Self::parse(reference);
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Self::parse(&format!("{}://{rest}", self.scheme()));
        }
        let joined = if reference.starts_with('/') {
            format!("{}{}", self.origin(), remove_dot_segments(reference))
        } else if reference.starts_with('?') {
            format!("{}{}{reference}", self.origin(), self.path())
        } else if reference.is_empty() {
            return Ok(self.clone());
        } else {
            let base = self.path();
            let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
            format!(
                "{}{}",
                self.origin(),
                remove_dot_segments(&format!("{dir}{reference}"))
            )
        };
        Self::parse(&joined)
    }

    /// Appends one query parameter, percent-encoding the value; keeps any query already there
    /// (the spec says upload locations may carry parameters the registry needs).
    pub fn with_query_param(&self, name: &str, value: &str) -> Self {
        let sep = if self.query().is_some() { '&' } else { '?' };
        let text = format!("{}{sep}{name}={}", self.text, percent_encode(value));
        Self {
            text,
            path_start: self.path_start,
        }
    }

    /// This URL with another path (already encoded) and no query.
    pub fn with_path(&self, path: &str) -> Self {
        Self {
            text: format!("{}{path}", self.origin()),
            path_start: self.path_start,
        }
    }

    /// Whether two URLs share scheme, host and port.
    pub fn same_origin(&self, other: &Self) -> bool {
        self.origin() == other.origin()
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({})", self.text)
    }
}

impl std::str::FromStr for Url {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn redact_userinfo(input: &str) -> String {
    match (input.find("://"), input.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}[redacted]{}", &input[..s + 3], &input[at..]),
        _ => input.to_string(),
    }
}

fn remove_dot_segments(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.find('?') {
        Some(q) => path_and_query.split_at(q),
        None => (path_and_query, ""),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}{query}", out.join("/"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space, the form encoding); invalid escapes stay as they are.
pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
            {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Encodes pairs as `application/x-www-form-urlencoded`.
pub fn form_encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5000/v2/app/blobs/uploads/").unwrap()
    }

    #[test]
    fn the_default_port_is_the_same_origin() {
        let plain = Url::parse("https://reg.example/v2/").unwrap();
        let explicit = Url::parse("https://reg.example:443/v2/").unwrap();
        assert_eq!(explicit.as_str(), "https://reg.example/v2/");
        assert!(plain.same_origin(&explicit));
        // A Location built from a proxy's `Host: $host:$server_port`.
        let location = plain
            .join("https://reg.example:443/v2/app/blobs/uploads/u?_state=x")
            .unwrap();
        assert!(location.same_origin(&plain), "{location}");
        assert_eq!(location.path(), "/v2/app/blobs/uploads/u");
        assert!(Url::parse("http://h:80/")
            .unwrap()
            .same_origin(&Url::parse("http://h").unwrap()));
        assert!(Url::parse("http://h:/")
            .unwrap()
            .same_origin(&Url::parse("http://h").unwrap()));
        // Another scheme's default port is a port like any.
        assert_eq!(Url::parse("https://h:80/").unwrap().authority(), "h:80");
        assert_eq!(Url::parse("http://h:443/").unwrap().authority(), "h:443");
        assert_eq!(
            Url::parse("https://[::1]:443/").unwrap().authority(),
            "[::1]"
        );
        assert!(Url::parse("https://:443/").is_err());
    }

    #[test]
    fn parses_and_normalises() {
        let url = Url::parse("HTTP://Registry.Example:5000").unwrap();
        assert_eq!(url.as_str(), "http://registry.example:5000/");
        assert_eq!(url.authority(), "registry.example:5000");
        assert_eq!(url.path(), "/");
        assert_eq!(url.query(), None);
    }

    #[test]
    fn refuses_bad_urls_with_reasons() {
        assert!(Url::parse("registry.example").is_err());
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("http:///v2/").is_err());
        let e = Url::parse("https://alice:hunter2@host/").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("credentials"));
    }

    #[test]
    fn joins_every_reference_form() {
        let b = base();
        assert_eq!(
            b.join("/v2/app/blobs/uploads/u1?_state=x")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:5000/v2/app/blobs/uploads/u1?_state=x"
        );
        assert_eq!(
            b.join("u2").unwrap().as_str(),
            "http://127.0.0.1:5000/v2/app/blobs/uploads/u2"
        );
        assert_eq!(
            b.join("../x").unwrap().as_str(),
            "http://127.0.0.1:5000/v2/app/blobs/x"
        );
        assert_eq!(
            b.join("https://other:1/p?q=1").unwrap().as_str(),
            "https://other:1/p?q=1"
        );
        assert_eq!(b.join("//cdn/x").unwrap().as_str(), "http://cdn/x");
        assert_eq!(
            b.join("?n=1").unwrap().as_str(),
            "http://127.0.0.1:5000/v2/app/blobs/uploads/?n=1"
        );
    }

    #[test]
    fn appends_query_params_to_existing_query() {
        let u = Url::parse("http://h/up/1?_state=abc").unwrap();
        let d = u.with_query_param("digest", "sha256:00");
        assert_eq!(d.as_str(), "http://h/up/1?_state=abc&digest=sha256%3A00");
        assert_eq!(d.query_param("digest").as_deref(), Some("sha256:00"));
        assert_eq!(d.query_param("_state").as_deref(), Some("abc"));
        let plain = Url::parse("http://h/x").unwrap().with_query_param("n", "5");
        assert_eq!(plain.as_str(), "http://h/x?n=5");
    }

    #[test]
    fn decoding_tolerates_bad_escapes() {
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("a%zz"), "a%zz");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a+b"), "a b");
    }
}
