//! Content digests: `algorithm:encoded`, validated by the OCI image-spec grammar, and hashing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};

/// A digest algorithm. Open: grammatical algorithms we cannot compute are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// `sha256`, which every registry must support.
    Sha256,
    /// `sha512`.
    Sha512,
    /// Any other algorithm, as written (it cannot be verified here).
    Other(String),
}

impl DigestAlgorithm {
    /// The algorithm's name on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Other(s) => s,
        }
    }
}

/// A validated digest such as `sha256:2c26b4…`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// The digest whose hash is `bytes`, as another hasher (WebCrypto) gave them; `None` when
    /// the algorithm is not one Porthole computes or `bytes` is not that algorithm's length.
    pub fn from_hash(algorithm: &DigestAlgorithm, bytes: &[u8]) -> Option<Self> {
        let len = match algorithm {
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha512 => 64,
            DigestAlgorithm::Other(_) => return None,
        };
        (bytes.len() == len).then(|| Self(format!("{}:{}", algorithm.as_str(), hex(bytes))))
    }

    /// Parses and validates a digest: the image-spec grammar, and for sha256 and sha512 the exact
    /// lowercase hex length.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid("digest", input, reason);
        let (algorithm, encoded) = input
            .split_once(':')
            .ok_or_else(|| bad("a digest looks like sha256:<64 hex characters>"))?;
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if !algorithm.split(['+', '.', '_', '-']).all(component_ok) {
            return Err(bad(
                "the algorithm must be lowercase letters and digits, like sha256",
            ));
        }
        if encoded.is_empty()
            || !encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(bad(
                "the encoded part may only hold letters, digits, '=', '_' and '-'",
            ));
        }
        let hex_len = match algorithm {
            "sha256" => Some(64),
            "sha512" => Some(128),
            _ => None,
        };
        if let Some(len) = hex_len {
            let hex_ok = encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if encoded.len() != len || !hex_ok {
                return Err(bad(&format!(
                    "{algorithm} needs exactly {len} lowercase hex characters, got {}",
                    encoded.len()
                )));
            }
        }
        Ok(Self(input.to_string()))
    }

    /// The SHA-256 digest of these bytes.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self(format!("sha256:{}", hex(&Sha256::digest(bytes))))
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        match self.algorithm_str() {
            "sha256" => DigestAlgorithm::Sha256,
            "sha512" => DigestAlgorithm::Sha512,
            other => DigestAlgorithm::Other(other.to_string()),
        }
    }

    fn algorithm_str(&self) -> &str {
        self.0.split_once(':').map_or("", |(a, _)| a)
    }

    /// The part after the colon.
    pub fn encoded(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, e)| e)
    }

    /// The whole digest text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A hasher for this digest's algorithm, or `None` when it cannot be computed here.
    pub fn hasher(&self) -> Option<Hasher> {
        Hasher::for_algorithm(&self.algorithm())
    }

    /// Checks that `bytes` hash to this digest. Unverifiable algorithms are refused rather than
    /// trusted.
    pub fn verify(&self, what: &str, bytes: &[u8]) -> Result<()> {
        let mut hasher = self.hasher().ok_or_else(|| Error::Protocol {
            message: format!(
                "cannot verify {what}: digest algorithm {} is not supported (sha256 and sha512 are)",
                self.algorithm_str()
            ),
        })?;
        hasher.update(bytes);
        hasher.finish_and_check(what, self)
    }

    /// Fails with `DIGEST_MISMATCH` (naming `what`) unless this digest, computed over content, is
    /// `expected`.
    pub fn check_is(&self, what: &str, expected: &Self) -> Result<()> {
        if self == expected {
            return Ok(());
        }
        Err(Error::DigestMismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            actual: self.to_string(),
        })
    }

    /// The tag under which the referrers fallback index of this digest is kept:
    /// `<alg truncated to 32>-<encoded truncated to 64>`.
    pub fn referrers_fallback_tag(&self) -> String {
        let clean = |s: &str, max: usize| -> String {
            s.chars()
                .take(max)
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        format!(
            "{}-{}",
            clean(self.algorithm_str(), 32),
            clean(self.encoded(), 64)
        )
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher for the algorithms Porthole can verify. `Clone` keeps a snapshot, which
/// lets an upload rewind to the offset a registry reports after a failed chunk.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256.
    Sha256(Sha256),
    /// SHA-512.
    Sha512(Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha256(_) => "Hasher(sha256)",
            Self::Sha512(_) => "Hasher(sha512)",
        })
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::sha256()
    }
}

impl Hasher {
    /// A SHA-256 hasher.
    pub fn sha256() -> Self {
        Self::Sha256(Sha256::new())
    }

    /// A hasher for that algorithm, if supported.
    pub fn for_algorithm(algorithm: &DigestAlgorithm) -> Option<Self> {
        match algorithm {
            DigestAlgorithm::Sha256 => Some(Self::sha256()),
            DigestAlgorithm::Sha512 => Some(Self::Sha512(Sha512::new())),
            DigestAlgorithm::Other(_) => None,
        }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> DigestAlgorithm {
        match self {
            Self::Sha256(_) => DigestAlgorithm::Sha256,
            Self::Sha512(_) => DigestAlgorithm::Sha512,
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        match self {
            Self::Sha256(h) => Digest(format!("sha256:{}", hex(&h.finalize()))),
            Self::Sha512(h) => Digest(format!("sha512:{}", hex(&h.finalize()))),
        }
    }

    /// Finishes and compares with the expected digest.
    pub fn finish_and_check(self, what: &str, expected: &Digest) -> Result<()> {
        self.finish().check_is(what, expected)
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn hashes_and_verifies() {
        assert_eq!(Digest::sha256_of(b"hello").as_str(), HELLO);
        let d = Digest::parse(HELLO).unwrap();
        d.verify("blob", b"hello").unwrap();
        let err = d.verify("blob", b"hellO").unwrap_err();
        assert_eq!(err.code(), "DIGEST_MISMATCH");
        assert!(err.to_string().contains(HELLO));
    }

    #[test]
    fn sha512_is_verified() {
        let mut h = Hasher::for_algorithm(&DigestAlgorithm::Sha512).unwrap();
        h.update(b"abc");
        let d = h.finish();
        assert_eq!(d.encoded().len(), 128);
        Digest::parse(d.as_str())
            .unwrap()
            .verify("x", b"abc")
            .unwrap();
        assert!(d.verify("x", b"abd").is_err());
    }

    #[test]
    fn digests_from_another_hashers_bytes() {
        use sha2::Digest as _;
        let raw = Sha256::digest(b"hello");
        let d = Digest::from_hash(&DigestAlgorithm::Sha256, &raw).unwrap();
        assert_eq!(d.as_str(), HELLO);
        let raw512 = Sha512::digest(b"abc");
        let mut h = Hasher::for_algorithm(&DigestAlgorithm::Sha512).unwrap();
        h.update(b"abc");
        assert_eq!(h.algorithm(), DigestAlgorithm::Sha512);
        assert_eq!(
            Digest::from_hash(&DigestAlgorithm::Sha512, &raw512),
            Some(h.finish())
        );
        // A hash of the wrong length, or an algorithm Porthole does not compute, gives none.
        assert_eq!(Digest::from_hash(&DigestAlgorithm::Sha256, &raw512), None);
        assert_eq!(Digest::from_hash(&DigestAlgorithm::Sha512, &raw), None);
        let other = DigestAlgorithm::Other("blake3".into());
        assert_eq!(Digest::from_hash(&other, &raw), None);
    }

    #[test]
    fn refuses_bad_digests_with_reasons() {
        for bad in [
            "",
            "sha256",
            "sha256:",
            "SHA256:abc",
            "sha256:ABCDEF",
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982",
            "sha512:abcd",
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g",
            "sha 256:abc",
            ":abc",
            "sha256:ab/cd",
        ] {
            let e = Digest::parse(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT", "{bad}");
        }
    }

    #[test]
    fn keeps_grammatical_unknown_algorithms() {
        let d = Digest::parse("blake3+x.y_z-w:abc=_-DEF").unwrap();
        assert_eq!(
            d.algorithm(),
            DigestAlgorithm::Other("blake3+x.y_z-w".into())
        );
        let e = d.verify("blob", b"").unwrap_err();
        assert!(e.to_string().contains("not supported"));
    }

    #[test]
    fn hasher_snapshot_rewinds() {
        let mut h = Hasher::sha256();
        h.update(b"hel");
        let snapshot = h.clone();
        h.update(b"lo world");
        let mut rewound = snapshot;
        rewound.update(b"lo");
        assert_eq!(rewound.finish().as_str(), HELLO);
    }

    #[test]
    fn fallback_tag_truncates() {
        let d = Digest::parse(HELLO).unwrap();
        assert_eq!(
            d.referrers_fallback_tag(),
            format!("sha256-{}", d.encoded())
        );
        let long = Digest::parse(&format!("sha512:{}", "a".repeat(128))).unwrap();
        assert_eq!(
            long.referrers_fallback_tag(),
            format!("sha512-{}", "a".repeat(64))
        );
        let odd = Digest::parse("multi+alg:a=b").unwrap();
        assert_eq!(odd.referrers_fallback_tag(), "multi-alg-a-b");
    }
}
