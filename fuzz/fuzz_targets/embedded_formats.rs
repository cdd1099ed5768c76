//! Formats read from inside image files: SQLite (rpmdb.sqlite), Berkeley DB (rpm's Packages), NDB (Packages.db),
//! rpm header blobs, Go build
//! info and cargo-auditable sections. Arbitrary bytes must give an error, never a panic.
#![no_main]
use cleanpipe::sbom::{bdb, binary, rpmdb, sqlite};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(db) = sqlite::Database::open(data) {
        let _ = db.table("Packages");
    }
    let _ = rpmdb::packages(data);
    let _ = rpmdb::packages_ndb(data);
    let _ = bdb::values(data);
    let _ = rpmdb::parse_header(data);
    let _ = binary::parse_go_buildinfo(data);
    let _ = binary::parse_cargo_auditable(data);
    let _ = binary::embedded_section(&mut std::io::Cursor::new(data));
});
