//! Parsers for the headers the protocol depends on: `WWW-Authenticate`, `Link`, `Range`,
//! `Location`, `Docker-Content-Digest` and `Retry-After`.

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::transport::Headers;
use crate::url::Url;

/// One authentication challenge from `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`basic`, `bearer`, ...).
    pub scheme: String,
    /// Parameters with lowercased names (`realm`, `service`, `scope`, `error`, ...).
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Whether this is a Bearer challenge.
    pub fn is_bearer(&self) -> bool {
        self.scheme == "bearer"
    }

    /// Whether this is a Basic challenge.
    pub fn is_basic(&self) -> bool {
        self.scheme == "basic"
    }

    /// The scopes of the `scope` parameter (space-separated).
    pub fn scopes(&self) -> Vec<String> {
        self.param("scope")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// Parses every challenge in one or more `WWW-Authenticate` values: several challenges, quoted
/// values holding commas and escaped quotes, parameters in any order, token68 values.
pub fn parse_www_authenticate<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        parse_challenges_into(value, &mut out);
    }
    out
}

fn parse_challenges_into(input: &str, out: &mut Vec<Challenge>) {
    let mut p = Cursor::new(input);
    loop {
        p.skip_separators();
        let Some(scheme) = p.token() else { break };
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: BTreeMap::new(),
        };
        loop {
            p.skip_ws();
            let save = p.pos;
            let Some(name) = p.token() else { break };
            p.skip_ws();
            if !p.eat('=') {
                // Not a parameter: the next challenge's scheme (or a token68 value).
                p.pos = save;
                break;
            }
            p.skip_ws();
            let value = if p.peek() == Some('"') {
                p.quoted()
            } else {
                p.token_or_token68()
            };
            challenge.params.insert(name.to_ascii_lowercase(), value);
            p.skip_ws();
            if !p.eat(',') {
                break;
            }
        }
        out.push(challenge);
        if p.at_end() {
            break;
        }
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }
    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | ',')) {
            self.pos += 1;
        }
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.s[start..self.pos]
    }
    fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_tchar);
        (!t.is_empty()).then_some(t)
    }
    fn token_or_token68(&mut self) -> String {
        self.take_while(|c| is_tchar(c) || c == '/' || c == '=')
            .to_string()
    }
    fn quoted(&mut self) -> String {
        self.pos += 1; // opening quote
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            match c {
                '"' => return out,
                '\\' => {
                    if let Some(next) = self.peek() {
                        self.pos += next.len_utf8();
                        out.push(next);
                    }
                }
                c => out.push(c),
            }
        }
        out // unterminated: keep what was there
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The `rel="next"` target of `Link` values, resolved against the request URL. A link to
/// another origin is refused (a registry must not send the client elsewhere with its token).
pub fn parse_next_link<'a>(
    values: impl IntoIterator<Item = &'a str>,
    request_url: &Url,
) -> Result<Option<Url>> {
    for value in values {
        for link in split_links(value) {
            let Some((target, params)) = parse_link(link) else {
                continue;
            };
            let is_next = params.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("rel")
                    && v.split_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
            });
            if !is_next {
                continue;
            }
            let url = request_url.join(target)?;
            if !url.same_origin(request_url) {
                return Err(Error::protocol(format!(
                    "the registry's Link header points to another origin ({}); refusing to follow it",
                    url.origin()
                )));
            }
            return Ok(Some(url));
        }
    }
    Ok(None)
}

/// Splits a `Link` value on the commas between links (not those inside `<...>` or quotes).
fn split_links(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_angle, mut in_quote, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            '"' if !in_angle => in_quote = !in_quote,
            ',' if !in_angle && !in_quote => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

fn parse_link(link: &str) -> Option<(&str, Vec<(String, String)>)> {
    let link = link.trim();
    let rest = link.strip_prefix('<')?;
    let end = rest.find('>')?;
    let target = &rest[..end];
    let params = rest[end + 1..]
        .split(';')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect();
    Some((target, params))
}

/// Parses an upload `Range` header (`0-<end>`, with or without a `bytes=` prefix) into the
/// number of bytes the registry holds: `end + 1`.
///
/// distribution answers `0-0` for an empty upload too, so `0-0` is ambiguous; callers that know
/// they sent nothing treat it as 0.
pub fn parse_upload_range(value: &str) -> Result<u64> {
    let bad = || {
        Error::protocol(format!(
            "the registry sent an unreadable Range header {value:?} (expected 0-<last byte>)"
        ))
    };
    let v = value.trim();
    let v = v.strip_prefix("bytes=").unwrap_or(v);
    let (start, end) = v.rsplit_once('-').ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end: u64 = end.trim().parse().map_err(|_| bad())?;
    if start != 0 || end < start {
        return Err(bad());
    }
    end.checked_add(1).ok_or_else(bad)
}

/// Whether an upload status `Range` is `0-0` (with or without the `bytes=` unit), which
/// registries also send for a session that holds nothing.
pub fn is_empty_session_range(value: &str) -> bool {
    let v = value.trim();
    v.strip_prefix("bytes=").unwrap_or(v).trim() == "0-0"
}

/// The `Content-Length` a response announced, if present and a number.
pub fn content_length(headers: &Headers) -> Option<u64> {
    headers.get("content-length")?.trim().parse().ok()
}

/// Reads `Docker-Content-Digest`, if present and valid.
pub fn content_digest(headers: &Headers) -> Result<Option<Digest>> {
    match headers.get("docker-content-digest") {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => Digest::parse(v.trim()).map(Some).map_err(|_| {
            Error::protocol(format!(
                "the registry sent an invalid Docker-Content-Digest header {v:?}"
            ))
        }),
    }
}

/// Resolves `Location` against the request URL (it may be relative or absolute).
pub fn location(headers: &Headers, request_url: &Url) -> Result<Option<Url>> {
    match headers.get("location") {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => request_url.join(v).map(Some).map_err(|e| {
            Error::protocol(format!(
                "the registry sent an unusable Location header: {e}"
            ))
        }),
    }
}

/// Seconds to wait from `Retry-After` (delta-seconds only; HTTP dates are ignored).
pub fn retry_after_seconds(headers: &Headers) -> Option<u64> {
    headers.get("retry-after")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_any_order_with_commas() {
        let c = parse_www_authenticate([
            r#"Bearer scope="repository:a/b:pull,push repository:c:pull",realm="https://auth.example/token",service="reg.example",error="insufficient_scope""#,
        ]);
        assert_eq!(c.len(), 1);
        assert!(c[0].is_bearer());
        assert_eq!(c[0].param("realm"), Some("https://auth.example/token"));
        assert_eq!(c[0].param("service"), Some("reg.example"));
        assert_eq!(
            c[0].scopes(),
            vec!["repository:a/b:pull,push", "repository:c:pull"]
        );
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn several_challenges_in_one_and_many_values() {
        let c = parse_www_authenticate([
            r#"Basic realm="x, y", Bearer realm="https://a/t",service=s"#,
            r#"Negotiate abc=="#,
        ]);
        let schemes: Vec<_> = c.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["basic", "bearer", "negotiate"]);
        assert_eq!(c[0].param("realm"), Some("x, y"));
        assert_eq!(c[1].param("service"), Some("s"));
    }

    #[test]
    fn escaped_quotes_and_garbage_do_not_panic() {
        let c = parse_www_authenticate([r#"Bearer realm="a\"b""#]);
        assert_eq!(c[0].param("realm"), Some("a\"b"));
        for junk in [
            "",
            ",,,",
            "=",
            "Bearer realm=\"unterminated",
            "\"",
            "ü=ü",
            "Bearer ,,",
        ] {
            let _ = parse_www_authenticate([junk]);
        }
        assert!(parse_www_authenticate([""]).is_empty());
    }

    #[test]
    fn links_relative_absolute_and_foreign() {
        let req = Url::parse("http://127.0.0.1:5000/v2/_catalog?n=2").unwrap();
        let next = parse_next_link([r#"</v2/_catalog?last=b&n=2>; rel="next""#], &req).unwrap();
        assert_eq!(
            next.unwrap().as_str(),
            "http://127.0.0.1:5000/v2/_catalog?last=b&n=2"
        );
        let abs = parse_next_link(
            [r#"<http://127.0.0.1:5000/v2/x/tags/list?last=v1&n=2&orderby=>; rel=next"#],
            &req,
        )
        .unwrap()
        .unwrap();
        assert_eq!(abs.query_param("orderby").as_deref(), Some(""));
        let many =
            parse_next_link([r#"</prev?a,b>; rel="prev", </v2/next>; rel="next""#], &req).unwrap();
        assert_eq!(many.unwrap().path(), "/v2/next");
        assert!(parse_next_link(["<http://evil.example/v2/x>; rel=next"], &req).is_err());
        assert!(parse_next_link(["garbage", "<x>; rel=prev"], &req)
            .unwrap()
            .is_none());
    }

    #[test]
    fn upload_ranges() {
        assert_eq!(parse_upload_range("0-99").unwrap(), 100);
        assert_eq!(parse_upload_range("bytes=0-4095").unwrap(), 4096);
        assert_eq!(parse_upload_range("0-0").unwrap(), 1);
        for bad in [
            "",
            "100",
            "5-10",
            "0-",
            "a-b",
            "0--1",
            "10-5",
            "0-18446744073709551615",
        ] {
            assert_eq!(
                parse_upload_range(bad).unwrap_err().code(),
                "PROTOCOL_ERROR",
                "{bad}"
            );
        }
    }

    #[test]
    fn digest_location_retry_after() {
        let url = Url::parse("http://h:1/v2/a/blobs/uploads/").unwrap();
        let mut h = Headers::new();
        assert_eq!(content_digest(&h).unwrap(), None);
        assert_eq!(location(&h, &url).unwrap(), None);
        h.append("Docker-Content-Digest", "sha256:zz");
        assert!(content_digest(&h).is_err());
        h.set(
            "docker-content-digest",
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        );
        assert!(content_digest(&h).unwrap().is_some());
        h.append("Location", "/v2/a/blobs/uploads/u?_state=s");
        assert_eq!(
            location(&h, &url).unwrap().unwrap().as_str(),
            "http://h:1/v2/a/blobs/uploads/u?_state=s"
        );
        h.append("Retry-After", " 7 ");
        assert_eq!(retry_after_seconds(&h), Some(7));
    }
}
