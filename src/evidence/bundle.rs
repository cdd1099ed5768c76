//! Sigstore bundles v0.3 (protobuf-specs `Bundle`, JSON form), the encoding cosign v3 stores as
//! OCI referrers (docs/formats.md §1.6): a DSSE envelope plus the material to verify it (here a
//! public-key hint; a certificate chain and transparency-log entries for keyless signing).
//!
//! A signature is a bundle whose statement has the predicate type [`COSIGN_SIGN_PREDICATE`]; an
//! attestation is a bundle with any other predicate. Both are checked like `.att` envelopes.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::sign::attest::Envelope;
use crate::sign::keys::PublicKey;

/// The one bundle version cleanpipe reads and writes.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// v0.3 spelled the way v0.1 and v0.2 were; sigstore's readers take it as v0.3.
const BUNDLE_MEDIA_TYPE_V03_PARAM: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
/// What every bundle media type starts with (to recognise versions we do not read).
pub const BUNDLE_MEDIA_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The predicate type of cosign v3's image signature statement.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Referrer manifest annotations cosign v3 writes next to a bundle.
pub const ANNOTATION_CONTENT: &str = "dev.sigstore.bundle.content";
pub const ANNOTATION_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";

/// Whether `media_type` names a Sigstore bundle of a version cleanpipe reads.
pub fn is_supported(media_type: &str) -> bool {
    media_type == BUNDLE_MEDIA_TYPE || media_type == BUNDLE_MEDIA_TYPE_V03_PARAM
}

/// A bundle read from its JSON: the envelope it carries and what its verification material says.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub envelope: Envelope,
    /// `verificationMaterial.publicKey.hint`, when the signer named its key.
    pub key_hint: Option<String>,
    /// The signer's certificate, when the bundle carries one (keyless or BYO PKI).
    pub has_certificate: bool,
    pub tlog_entries: usize,
    /// The bundle's JSON as stored, for the keyless verifier (which reads it whole).
    pub raw: Vec<u8>,
}

// Read as strictly as Go's protojson reads bundles (what cosign and sigstore-go use): the JSON
// names and the proto field names both, an unknown field or a field given twice (under either
// name) refused, one of envelope/message signature only. A bundle cosign would refuse is not
// evidence here either.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireBundle {
    #[serde(alias = "media_type")]
    media_type: Option<String>,
    #[serde(default, alias = "verification_material")]
    verification_material: Option<WireMaterial>,
    #[serde(alias = "dsse_envelope")]
    dsse_envelope: Option<Envelope>,
    #[serde(alias = "message_signature")]
    message_signature: Option<serde_json::Value>,
}

#[derive(Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "public_key")]
    public_key: Option<WireKeyHint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<serde_json::Value>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "x509_certificate_chain"
    )]
    x509_certificate_chain: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "tlog_entries")]
    tlog_entries: Vec<serde_json::Value>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "timestamp_verification_data"
    )]
    timestamp_verification_data: Option<serde_json::Value>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WireKeyHint {
    #[serde(default)]
    hint: String,
}

/// Read a bundle's JSON. Refuses, naming what it found, other bundle versions, bundles without
/// a DSSE envelope (a message signature signs a blob, not an image) and anything else.
pub fn parse(bytes: &[u8]) -> Result<Bundle, String> {
    let wire: WireBundle =
        serde_json::from_slice(bytes).map_err(|e| format!("not a Sigstore bundle: {e}"))?;
    let media_type = wire.media_type.unwrap_or_default();
    if !is_supported(&media_type) {
        return Err(format!(
            "bundle media type `{media_type}` is not supported; cleanpipe reads `{BUNDLE_MEDIA_TYPE}`"
        ));
    }
    if wire.dsse_envelope.is_some() && wire.message_signature.is_some() {
        return Err("the bundle holds both a DSSE envelope and a message signature (one of them only, in a valid bundle)".into());
    }
    let Some(envelope) = wire.dsse_envelope else {
        return Err(if wire.message_signature.is_some() {
            "the bundle holds a message signature (a signed blob), not a DSSE envelope about an image".into()
        } else {
            "the bundle holds no DSSE envelope".into()
        });
    };
    let material = wire.verification_material.unwrap_or_default();
    Ok(Bundle {
        envelope,
        key_hint: material
            .public_key
            .map(|k| k.hint)
            .filter(|h| !h.is_empty()),
        has_certificate: material.certificate.is_some()
            || material.x509_certificate_chain.is_some(),
        tlog_entries: material.tlog_entries.len(),
        raw: bytes.to_vec(),
    })
}

/// The key hint cleanpipe writes: the standard base64 of the SHA-256 of the key's DER form
/// (what sigstore-go computes for a public key's hint). Informational only: verification
/// always uses the key the verifier was given.
pub fn key_hint(key: &PublicKey) -> String {
    let fingerprint = key.fingerprint();
    let raw = hex::decode(fingerprint.hex()).expect("a digest is hex");
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// The bundle JSON for `envelope` signed with `key`, with no transparency-log entry: the shape
/// cosign v3 writes for a key and a signing config without a log (no `tlogEntries` at all).
pub fn build(envelope: &Envelope, key: &PublicKey) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out<'a> {
        media_type: &'static str,
        verification_material: WireMaterial,
        dsse_envelope: OutEnvelope<'a>,
    }
    // protojson's field names and order for the envelope.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct OutEnvelope<'a> {
        payload: &'a str,
        payload_type: &'a str,
        signatures: &'a [crate::sign::attest::EnvelopeSignature],
    }
    let out = Out {
        media_type: BUNDLE_MEDIA_TYPE,
        verification_material: WireMaterial {
            public_key: Some(WireKeyHint {
                hint: key_hint(key),
            }),
            ..WireMaterial::default()
        },
        dsse_envelope: OutEnvelope {
            payload: &envelope.payload,
            payload_type: &envelope.payload_type,
            signatures: &envelope.signatures,
        },
    };
    serde_json::to_vec(&out).expect("bundle serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> crate::sign::keys::SigningKey {
        let (private, _) = crate::sign::keys::generate(b"").unwrap();
        crate::sign::keys::SigningKey::load(
            private.as_bytes(),
            &crate::sign::KeySource::parse("env://K"),
            &|| Ok(zeroize::Zeroizing::new(String::new())),
        )
        .unwrap()
    }

    #[test]
    fn a_built_bundle_reads_back_and_opens_with_its_key_only() {
        let key = key();
        let digest = crate::oci::types::Digest::of(b"image");
        let st = crate::sign::attest::statement(
            "r/app",
            &digest,
            COSIGN_SIGN_PREDICATE,
            &serde_json::json!({}),
        );
        let env: Envelope =
            serde_json::from_slice(&crate::sign::attest::envelope(&st, &key).unwrap()).unwrap();
        let bytes = build(&env, key.public_key());
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{\"publicKey\":{\"hint\":"));
        let bundle = parse(&bytes).unwrap();
        assert_eq!(
            bundle.key_hint.as_deref(),
            Some(key_hint(key.public_key()).as_str())
        );
        assert_eq!(bundle.tlog_entries, 0);
        let (statement, _) =
            crate::sign::attest::open_envelope(&bundle.envelope, key.public_key()).unwrap();
        assert!(crate::sign::attest::names_digest(&statement, &digest));
        assert!(
            crate::sign::attest::open_envelope(&bundle.envelope, self::key().public_key()).is_err()
        );
    }

    #[test]
    fn other_versions_and_message_signatures_are_named() {
        let v1 = br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1","dsseEnvelope":{"payload":"","payloadType":"x","signatures":[]}}"#;
        let e = parse(v1).unwrap_err();
        assert!(
            e.contains("`application/vnd.dev.sigstore.bundle+json;version=0.1` is not supported"),
            "{e}"
        );
        let blob = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{"signature":"AA=="}}"#;
        assert!(parse(blob).unwrap_err().contains("message signature"));
        assert!(parse(b"[]").unwrap_err().contains("not a Sigstore bundle"));
        let env = r#"{"payload":"","payloadType":"x","signatures":[]}"#;
        let both = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{env},"messageSignature":{{}}}}"#
        );
        assert!(parse(both.as_bytes()).unwrap_err().contains("both"));
        let twice = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{env},"dsse_envelope":{env}}}"#
        );
        assert!(parse(twice.as_bytes())
            .unwrap_err()
            .contains("duplicate field"));
        let unknown = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{env},"extra":1}}"#
        );
        assert!(parse(unknown.as_bytes())
            .unwrap_err()
            .contains("unknown field"));
        let proto_names = format!(
            r#"{{"media_type":"application/vnd.dev.sigstore.bundle.v0.3+json","verification_material":{{"public_key":{{"hint":"h"}}}},"dsse_envelope":{env}}}"#
        );
        assert_eq!(
            parse(proto_names.as_bytes()).unwrap().key_hint.as_deref(),
            Some("h")
        );
    }
}
