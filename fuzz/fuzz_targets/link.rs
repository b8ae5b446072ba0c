//! `Link` values and the URLs they resolve to: never a panic, and never a next page on
//! another origin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porthole_core::headers::parse_next_link;
use porthole_core::Url;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let base = Url::parse("https://registry.example:5000/v2/_catalog?n=100").unwrap();
    let values: Vec<&str> = text.split('\n').collect();
    if let Ok(Some(next)) = parse_next_link(values, &base) {
        assert!(next.same_origin(&base), "{next} left the registry");
    }
    let _ = Url::parse(&text);
    let _ = base.join(&text);
});
