//! The evidence readers on arbitrary bytes: a DSSE envelope with its in-toto statement, a
//! `.sig`/`.att` manifest, and trivy's and grype's JSON (read from attested scan results).
//! None may panic; a forged envelope must never open with a key that did not sign it.
#![no_main]
use cleanpipe::oci::types::Manifest;
use cleanpipe::scan::external::{parse_report, Tool};
use cleanpipe::sign::attest::{open, signed_by};
use cleanpipe::sign::keys::PublicKey;
use libfuzzer_sys::fuzz_target;

/// A fixed public key whose private half is not kept anywhere: nothing may verify with it.
const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqL3jDQIxVR0Q4RMiJWOmujvlR9zr
IJGmNxrGyVCEPtKbxOImTfX7QhoayiORvBYhlewbUkNOo4mShI/n/YJOmA==
-----END PUBLIC KEY-----
";

fuzz_target!(|data: &[u8]| {
    let key = PublicKey::from_pem(KEY.as_bytes(), "fuzz").expect("the fixed key parses");
    assert!(!signed_by(data, &key));
    assert!(open(data, &key).is_err());
    let _ = Manifest::from_slice(data, "fuzz");
    let _ = parse_report(Tool::Trivy, data, &[], &[]);
    let _ = parse_report(Tool::Grype, data, &[], &[]);
});
