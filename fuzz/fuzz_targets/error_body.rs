//! Error bodies (OCI envelopes, HTML, text, binary) and the messages built from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porthole_core::error::parse_error_body;
use porthole_core::Error;

fuzz_target!(|data: &[u8]| {
    let (errors, excerpt) = parse_error_body(data);
    if let Some(e) = &excerpt {
        assert!(e.chars().count() <= 200);
    }
    let error = Error::Registry {
        operation: "fuzzing".into(),
        status: 400,
        errors,
        body_excerpt: excerpt,
        retry_after: None,
    };
    let _ = error.to_string();
    let _ = error.code();
});
