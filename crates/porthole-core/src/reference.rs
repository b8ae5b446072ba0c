//! Validated names: repositories, tags, and full references typed by a user.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The longest repository path distribution accepts.
pub const MAX_REPOSITORY_NAME_LEN: usize = 255;
/// The longest tag the spec allows.
pub const MAX_TAG_LEN: usize = 128;

/// A repository name such as `library/alpine`, checked against the distribution-spec grammar.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

impl RepositoryName {
    /// Parses and validates a repository name.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: String| Error::invalid("repository name", input, reason);
        if input.is_empty() {
            return Err(bad("it is empty".into()));
        }
        if input.len() > MAX_REPOSITORY_NAME_LEN {
            return Err(bad(format!(
                "it is {} characters long; at most {MAX_REPOSITORY_NAME_LEN} are allowed",
                input.len()
            )));
        }
        if input.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad(format!(
                "repository names are lowercase; did you mean {:?}?",
                input.to_ascii_lowercase()
            )));
        }
        for component in input.split('/') {
            check_path_component(component).map_err(|r| bad(r.to_string()))?;
        }
        Ok(Self(input.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_path_component(c: &str) -> std::result::Result<(), &'static str> {
    if c.is_empty() {
        return Err("it has an empty path component (a leading, trailing or double '/')");
    }
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err("each path component must start and end with a lowercase letter or digit");
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // Separators: '.', '_', '__', or one or more '-'.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(
                "only lowercase letters, digits and the separators '.', '_', '__' and '-' are allowed",
            );
        }
    }
    Ok(())
}

/// A tag such as `v1.2`: up to 128 characters of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Parses and validates a tag.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: String| Error::invalid("tag", input, reason);
        if input.is_empty() {
            return Err(bad("it is empty".into()));
        }
        if input.len() > MAX_TAG_LEN {
            return Err(bad(format!(
                "it is {} characters long; at most {MAX_TAG_LEN} are allowed",
                input.len()
            )));
        }
        let first = input.as_bytes()[0];
        if !(first.is_ascii_alphanumeric() || first == b'_') {
            return Err(bad("a tag must start with a letter, a digit or '_'".into()));
        }
        if let Some(c) = input
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(bad(format!(
                "{c:?} is not allowed; tags use letters, digits, '_', '.' and '-'"
            )));
        }
        Ok(Self(input.to_string()))
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a manifest is addressed by: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TagOrDigest {
    /// A tag.
    Tag(Tag),
    /// A digest.
    Digest(Digest),
}

impl TagOrDigest {
    /// Parses a digest when the text has a colon, else a tag.
    pub fn parse(input: &str) -> Result<Self> {
        if input.contains(':') {
            Digest::parse(input).map(Self::Digest)
        } else {
            Tag::parse(input).map(Self::Tag)
        }
    }

    /// The text used in URLs.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Tag(t) => t.as_str(),
            Self::Digest(d) => d.as_str(),
        }
    }

    /// The digest, when this is one.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Self::Digest(d) => Some(d),
            Self::Tag(_) => None,
        }
    }
}

impl From<Tag> for TagOrDigest {
    fn from(t: Tag) -> Self {
        Self::Tag(t)
    }
}

impl From<Digest> for TagOrDigest {
    fn from(d: Digest) -> Self {
        Self::Digest(d)
    }
}

impl fmt::Display for TagOrDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A full reference as a user types it: `[host[:port]/]name[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]` when the first path component looks like one (has `.` or `:`, or is
    /// `localhost`).
    pub registry: Option<String>,
    /// The repository.
    pub repository: RepositoryName,
    /// The tag, if given.
    pub tag: Option<Tag>,
    /// The digest, if given.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference such as `host:5000/ns/app:tag@sha256:…`.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid("reference", input, reason);
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, digest) = match trimmed.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d)?)),
            None => (trimmed, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if looks_like_host(first) => {
                check_host(first).map_err(|r| Error::invalid("registry host", first, r))?;
                (Some(first.to_string()), path)
            }
            _ => (None, rest),
        };
        // A tag follows the last ':' after the last '/'.
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match path[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&path[..i], Some(Tag::parse(&path[i + 1..])?))
            }
            None => (path, None),
        };
        Ok(Self {
            registry,
            repository: RepositoryName::parse(name)?,
            tag,
            digest,
        })
    }

    /// The digest if given, else the tag, else `latest`.
    pub fn tag_or_digest(&self) -> TagOrDigest {
        match (&self.digest, &self.tag) {
            (Some(d), _) => TagOrDigest::Digest(d.clone()),
            (None, Some(t)) => TagOrDigest::Tag(t.clone()),
            (None, None) => TagOrDigest::Tag(Tag("latest".into())),
        }
    }
}

fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[')
}

fn check_host(host: &str) -> std::result::Result<(), &'static str> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or("an IPv6 address needs a closing ']'")?;
        (&rest[..end], rest[end + 1..].strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    if name.is_empty() {
        return Err("the host is empty");
    }
    if !host.starts_with('[')
        && !name
            .split('.')
            .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err("the host may only hold letters, digits, '-' and '.'");
    }
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the port must be a number");
        }
    }
    Ok(())
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.registry {
            write!(f, "{r}/")?;
        }
        f.write_str(self.repository.as_str())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

macro_rules! text_newtype {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($t), self.0)
            }
        }
        impl FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
text_newtype!(RepositoryName);
text_newtype!(Tag);

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn valid_repository_names() {
        for ok in ["a", "library/alpine", "a.b_c__d---e/f0", "x/y/z/w", "0"] {
            RepositoryName::parse(ok).unwrap();
        }
    }

    #[test]
    fn invalid_repository_names_say_why() {
        let cases = [
            ("", "empty"),
            ("App", "lowercase"),
            ("a//b", "empty path component"),
            ("/a", "empty path component"),
            ("a/", "empty path component"),
            ("a..b", "separators"),
            ("a___b", "separators"),
            ("-a", "start and end"),
            ("a-", "start and end"),
            ("a b", "separators"),
            ("a:b", "separators"),
        ];
        for (input, why) in cases {
            let e = RepositoryName::parse(input).unwrap_err().to_string();
            assert!(e.contains(why), "{input:?}: {e}");
        }
        let long = "a".repeat(256);
        assert!(RepositoryName::parse(&long)
            .unwrap_err()
            .to_string()
            .contains("256"));
    }

    #[test]
    fn tags() {
        for ok in ["latest", "v1.2.3", "_x", "A-b_c.d", &"a".repeat(128)] {
            Tag::parse(ok).unwrap();
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "ä", &"a".repeat(129)] {
            assert_eq!(
                Tag::parse(bad).unwrap_err().code(),
                "INVALID_INPUT",
                "{bad}"
            );
        }
    }

    #[test]
    fn full_references() {
        let r = Reference::parse(&format!("host:5000/ns/app:tag@{D}")).unwrap();
        assert_eq!(r.registry.as_deref(), Some("host:5000"));
        assert_eq!(r.repository.as_str(), "ns/app");
        assert_eq!(r.tag.as_ref().unwrap().as_str(), "tag");
        assert_eq!(r.digest.as_ref().unwrap().as_str(), D);
        assert_eq!(r.to_string(), format!("host:5000/ns/app:tag@{D}"));
        assert_eq!(r.tag_or_digest().as_str(), D);

        let r = Reference::parse("alpine").unwrap();
        assert_eq!(r.registry, None);
        assert_eq!(r.tag_or_digest().as_str(), "latest");

        let r = Reference::parse("localhost/app:1").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost"));

        let r = Reference::parse("ns/app:v2").unwrap();
        assert_eq!(r.registry, None);
        assert_eq!(r.repository.as_str(), "ns/app");

        let r = Reference::parse("[::1]:5000/app").unwrap();
        assert_eq!(r.registry.as_deref(), Some("[::1]:5000"));
    }

    #[test]
    fn bad_references() {
        for bad in [
            "",
            "host:5000/",
            "Host:x/app",
            "app:",
            "app@sha256:xyz",
            "app:bad/tag",
            "UPPER",
            "host:port/app",
        ] {
            let e = Reference::parse(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT", "{bad}");
        }
    }

    #[test]
    fn tag_or_digest() {
        assert!(matches!(
            TagOrDigest::parse(D).unwrap(),
            TagOrDigest::Digest(_)
        ));
        assert!(matches!(
            TagOrDigest::parse("v1").unwrap(),
            TagOrDigest::Tag(_)
        ));
        assert!(TagOrDigest::parse("sha256:nope").is_err());
    }
}
