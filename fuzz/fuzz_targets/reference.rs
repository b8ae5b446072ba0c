//! References, names, tags and digests: parse anything, never panic; what parses prints back
//! to something that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porthole_core::{Digest, Reference, RepositoryName, Tag, TagOrDigest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = Reference::parse(text) {
        let again = Reference::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again.to_string(), r.to_string());
    }
    if let Ok(d) = Digest::parse(text) {
        assert_eq!(Digest::parse(d.as_str()).expect("round trip"), d);
        let _ = d.hasher();
        let _ = d.referrers_fallback_tag();
    }
    if let Ok(n) = RepositoryName::parse(text) {
        assert_eq!(n.as_str(), text);
    }
    let _ = Tag::parse(text);
    let _ = TagOrDigest::parse(text);
});
