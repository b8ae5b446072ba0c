//! Manifest bodies with and without a content type and an expected digest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porthole_core::{Digest, Manifest, MediaType};

fuzz_target!(|data: &[u8]| {
    let expected = Digest::sha256_of(data);
    for content_type in [
        None,
        Some(MediaType::OCI_MANIFEST),
        Some(MediaType::OCI_INDEX),
        Some(MediaType::DOCKER_MANIFEST),
    ] {
        if let Ok(m) = Manifest::from_bytes(data.to_vec(), content_type, Some(&expected), "fuzz") {
            assert_eq!(m.raw, data, "raw bytes are kept");
            assert_eq!(m.digest, expected);
            let _ = m.descriptor();
            let _ = m.subject();
        }
    }
});
