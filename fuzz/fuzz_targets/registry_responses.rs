//! What a registry (or a layout on disk) hands us: manifests, indexes, digests, references and
//! `WWW-Authenticate` challenges.
//! Arbitrary bytes must give an error, never a panic.
#![no_main]
use cleanpipe::oci::remote::transport::bearer_challenges;
use cleanpipe::oci::types::{declared_media_type, Digest, Index, Manifest};
use cleanpipe::oci::ImageRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::from_slice(data, "fuzz");
    let _ = serde_json::from_slice::<Index>(data);
    let _ = declared_media_type(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Digest::parse(text);
        let _ = ImageRef::parse(text);
        let _ = bearer_challenges(text);
    }
});
