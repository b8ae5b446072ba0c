//! Token servers' answers and the numbers in registry headers: token JSON (with its
//! `expires_in` and `issued_at`), RFC 3339 timestamps, JWT expiries and upload `Range`s. Absurd
//! numbers and odd text must give an error or a bounded value, never a panic or an overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porthole_core::acr::jwt_expiry_ms;
use porthole_core::auth::{parse_rfc3339_ms, parse_token_response};
use porthole_core::headers::parse_upload_range;

fuzz_target!(|data: &[u8]| {
    for now_ms in [0, 1_700_000_000_000, u64::MAX] {
        if let Ok(token) = parse_token_response(data, now_ms) {
            let _ = token.expires_at_ms;
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = parse_rfc3339_ms(&text);
    let _ = jwt_expiry_ms(&text);
    if let Ok(held) = parse_upload_range(&text) {
        assert!(held > 0, "a Range of 0-n holds at least one byte");
    }
});
