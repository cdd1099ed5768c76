//! The evidence readers on arbitrary bytes: a DSSE envelope with its in-toto statement, a
//! Sigstore bundle, a `.sig`/`.att` manifest, and trivy's and grype's JSON (read from attested
//! scan results).
//! None may panic; a forged envelope must never open with a key that did not sign it.
#![no_main]
use cleanpipe::evidence::bundle;
use cleanpipe::oci::types::Manifest;
use cleanpipe::scan::external::{parse_report, Tool};
use cleanpipe::sign::attest::{envelope, open, open_envelope, signed_by};
use cleanpipe::sign::keys::{generate, KeySource, PublicKey, SigningKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A key made once per process (scrypt is slow), so arbitrary statements can be signed and the
/// statement reader behind the signature check is reached too.
fn signer() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let (private, _) = generate(b"").expect("key generation");
        SigningKey::load(private.as_bytes(), &KeySource::parse("fuzz.key"), &|| {
            Ok(Default::default())
        })
        .expect("the generated key loads")
    })
}

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
    let signed = envelope(data, signer()).expect("signing never fails");
    assert!(signed_by(&signed, signer().public_key()));
    if let Ok(statement) = open(&signed, signer().public_key()) {
        assert!(statement.is_object(), "an opened statement is a JSON object");
    }
    if let Ok(read) = bundle::parse(data) {
        assert!(open_envelope(&read.envelope, &key).is_err());
    }
    let _ = Manifest::from_slice(data, "fuzz");
    let _ = parse_report(Tool::Trivy, data, &[], &[]);
    let _ = parse_report(Tool::Grype, data, &[], &[]);
});
