//! VEX documents (OpenVEX v0.2, CycloneDX VEX) on arbitrary bytes: never a panic; a document
//! that reads is matched against an image and a package without one either.
#![no_main]
use cleanpipe::oci::types::Digest;
use cleanpipe::scan::vex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = vex::parse(data, "fuzz.json") else {
        return;
    };
    let image = vex::Image::of("127.0.0.1:5000/app:1", &Digest::of(b"image"));
    let packages = vec![
        "pkg:npm/lodash@4.17.21".to_string(),
        "pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12".to_string(),
    ];
    let _ = vex::apply(&[doc], &image, &packages, &[]);
});
