//! The dpkg status cataloger (and the other catalogers fed the same bytes) on arbitrary input.
#![no_main]
use cleanpipe::oci::types::Digest;
use cleanpipe::sbom::catalog::catalog;
use cleanpipe::sbom::fs::{FileRecord, ImageFs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fs = ImageFs::default();
    for path in ["var/lib/dpkg/status", "etc/os-release", "lib/apk/db/installed", "usr/share/doc/a/copyright"] {
        fs.files.insert(path.into(), FileRecord { content: data.to_vec(), layer: Digest::of(b"layer"), embedded: None });
    }
    let c = catalog(&fs);
    for p in &c.packages {
        assert!(!p.name.is_empty() && !p.version.is_empty());
    }
});
