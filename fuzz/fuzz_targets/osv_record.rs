//! The OSV loader on arbitrary bytes: every input is a record or a counted warning.
#![no_main]
use cleanpipe::scan::osv::Database;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut db = Database::default();
    db.add_record(data, "fuzz");
    assert!(db.advisories.len() + db.warnings.len() + db.withdrawn >= 1);
});
