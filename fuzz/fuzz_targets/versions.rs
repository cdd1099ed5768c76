//! The version comparators: no panics, and antisymmetry on arbitrary pairs.
#![no_main]
use cleanpipe::scan::version::{compare, Scheme};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, "1.0"));
    for scheme in [
        Scheme::Dpkg,
        Scheme::Apk,
        Scheme::Rpm,
        Scheme::Pep440,
        Scheme::Semver,
    ] {
        if let (Some(x), Some(y)) = (compare(scheme, a, b), compare(scheme, b, a)) {
            assert_eq!(x, y.reverse(), "{scheme:?} {a:?} {b:?}");
        }
    }
});
