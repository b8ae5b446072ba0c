//! `WWW-Authenticate` values (one or several): any bytes a registry or proxy sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porthole_core::headers::parse_www_authenticate;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\n').collect();
    for challenge in parse_www_authenticate(values) {
        let _ = challenge.is_bearer();
        let _ = challenge.is_basic();
        let _ = challenge.param("realm");
        let _ = challenge.scopes();
    }
});
