//! Java archives (nested ones included) and the language catalogers' files (gemspecs, Composer's
//! installed.json, .NET deps.json, npm lockfiles, runtime version files) on arbitrary bytes:
//! never a panic, and nothing catalogued without a name and a version.
#![no_main]
use cleanpipe::oci::types::Digest;
use cleanpipe::sbom::catalog::catalog;
use cleanpipe::sbom::fs::{FileRecord, ImageFs};
use cleanpipe::sbom::java;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = java::Limits {
        max_nested: 1 << 20,
        max_inflated: 4 << 20,
        ..java::Limits::default()
    };
    let found = java::catalog(&mut std::io::Cursor::new(data), "/app/app.jar", &limits);
    for a in &found.artifacts {
        assert!(!a.artifact.is_empty() && !a.version.is_empty());
    }
    let mut fs = ImageFs::default();
    for path in [
        "usr/local/lib/ruby/gems/3.2.0/specifications/x-1.0.gemspec",
        "srv/app/Gemfile.lock",
        "var/www/vendor/composer/installed.json",
        "app/App.deps.json",
        "app/package-lock.json",
        "opt/java/openjdk/release",
        "usr/local/include/node/node_version.h",
        "usr/local/include/python3.12/patchlevel.h",
    ] {
        fs.files.insert(path.into(), FileRecord { content: data.to_vec(), layer: Digest::of(b"layer"), embedded: None });
    }
    let c = catalog(&fs);
    for p in &c.packages {
        assert!(!p.name.is_empty() && !p.version.is_empty(), "{p:?}");
    }
});
