//! Attestations in cosign's layout (docs/formats.md §2): an in-toto v1 Statement about the image
//! digest, wrapped in a DSSE envelope signed over its PAE, stored as one layer of the manifest
//! tagged `sha256-<hex>.att`.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::oci::store::Store;
use crate::oci::types::{Descriptor, Digest, Manifest, MEDIA_OCI_MANIFEST};
use crate::sign::cosign::{check_layer_limit, signature_manifest, SIGNATURE_ANNOTATION};
use crate::sign::keys::{PublicKey, SigningKey};
use crate::sign::trust::Verifier;

pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// What cosign's legacy `attest` writes (docs/formats.md §0.3); accepted like v1.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The layer annotation cosign reads an attestation's predicate type from.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// The layer annotation naming the key that signed a layer cleanpipe wrote (its
/// [`PublicKey::fingerprint`]). Unsigned, so it is only used to decide which registry layers a
/// re-attestation replaces; trust always comes from the DSSE signature.
pub const SIGNER_ANNOTATION: &str = "dev.cleanpipe/signer-key";

pub const PREDICATE_SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
pub const PREDICATE_SPDX: &str = "https://spdx.dev/Document";
pub const PREDICATE_CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// OpenVEX v0.2 (a VEX document as the predicate).
pub const PREDICATE_OPENVEX: &str = "https://openvex.dev/ns/v0.2.0";
pub const PREDICATE_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

/// DSSE's pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// An in-toto v1 Statement about one image digest.
pub fn statement(
    subject_name: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: &serde_json::Value,
) -> Vec<u8> {
    statement_about(&[(subject_name, digest)], predicate_type, predicate)
}

/// An in-toto Statement (v1, or cosign's legacy v0.1 when read): what `predicate` says about
/// which digests. Fields are declared in the order their names sort, so the bytes written are
/// the same as those of the JSON object earlier versions built (verifiers pin them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement<P = serde_json::Value> {
    #[serde(rename = "_type")]
    pub type_: String,
    pub predicate: P,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub subject: Vec<Subject>,
}

/// A statement's subject: a name and its digests by algorithm (`sha256` → hex).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    pub digest: std::collections::BTreeMap<String, String>,
    pub name: String,
}

impl<P: serde::de::DeserializeOwned> Statement<P> {
    /// Read a statement (v1 or v0.1) from its JSON bytes.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let st: Statement<P> =
            serde_json::from_slice(bytes).map_err(|e| format!("not an in-toto statement: {e}"))?;
        if st.type_ != STATEMENT_V1 && st.type_ != STATEMENT_V01 {
            return Err(format!(
                "`_type` is `{}`, not an in-toto statement",
                st.type_
            ));
        }
        Ok(st)
    }

    /// Whether one of its subjects is `digest`.
    pub fn is_about(&self, digest: &Digest) -> bool {
        self.subject
            .iter()
            .any(|s| s.digest.get("sha256").map(String::as_str) == Some(digest.hex()))
    }
}

/// An in-toto v1 Statement about several digests (an index and its platform images).
pub fn statement_about(
    subjects: &[(&str, &Digest)],
    predicate_type: &str,
    predicate: &serde_json::Value,
) -> Vec<u8> {
    let statement = Statement {
        type_: STATEMENT_V1.to_string(),
        predicate,
        predicate_type: predicate_type.to_string(),
        subject: subjects
            .iter()
            .map(|(name, digest)| Subject {
                digest: [("sha256".to_string(), digest.hex().to_string())].into(),
                name: name.to_string(),
            })
            .collect(),
    };
    serde_json::to_vec(&statement).expect("statement serializes")
}

/// A DSSE envelope, fields in the order Go emits them (`keyid` is always present).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub payload_type: String,
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    #[serde(default)]
    pub keyid: String,
    pub sig: String,
}

/// Sign `statement` into envelope bytes.
pub fn envelope(statement: &[u8], key: &SigningKey) -> Result<Vec<u8>> {
    let sig = key.sign_base64(&pae(INTOTO_PAYLOAD_TYPE, statement))?;
    let env = Envelope {
        payload_type: INTOTO_PAYLOAD_TYPE.into(),
        payload: base64::engine::general_purpose::STANDARD.encode(statement),
        signatures: vec![EnvelopeSignature {
            keyid: String::new(),
            sig,
        }],
    };
    Ok(serde_json::to_vec(&env).expect("envelope serializes"))
}

/// Why an attestation layer was not accepted; the kind decides how much it weighs (see
/// `policy`).
#[derive(Clone, Debug, PartialEq)]
pub enum Rejection {
    /// The layer is not a readable DSSE envelope: nobody can say who made it.
    Unreadable(String),
    /// A well-formed envelope that no signature of this key covers (another signer's, or forged).
    NotThisKey(String),
    /// Signed with this key, but the statement is wrong for this image (type, subject, label).
    Invalid(String),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Unreadable(s) | Rejection::NotThisKey(s) | Rejection::Invalid(s) => {
                f.write_str(s)
            }
        }
    }
}

/// A parsed envelope with its decoded payload.
fn parse_envelope(envelope_bytes: &[u8]) -> std::result::Result<(Envelope, Vec<u8>), Rejection> {
    let env: Envelope = serde_json::from_slice(envelope_bytes)
        .map_err(|e| Rejection::Unreadable(format!("not a DSSE envelope: {e}")))?;
    let body = decode_b64(&env.payload)
        .ok_or_else(|| Rejection::Unreadable("payload is not base64".into()))?;
    Ok((env, body))
}

/// The key of `key` (one key or a trust set) whose signature over PAE the envelope carries.
fn signing_key<'k, V: Verifier + ?Sized>(
    env: &Envelope,
    body: &[u8],
    key: &'k V,
) -> Option<&'k PublicKey> {
    let signed = pae(&env.payload_type, body);
    env.signatures.iter().find_map(|s| {
        decode_b64(&s.sig).and_then(|raw| {
            key.key_for(
                &base64::engine::general_purpose::STANDARD.encode(raw),
                &signed,
            )
        })
    })
}

/// Whether some signature of the envelope verifies with `key` (whatever the statement says).
pub fn signed_by<V: Verifier + ?Sized>(envelope_bytes: &[u8], key: &V) -> bool {
    parse_envelope(envelope_bytes).is_ok_and(|(env, body)| signing_key(&env, &body, key).is_some())
}

/// Check an envelope with `key` and return its statement. Standard and URL-safe base64 are
/// both accepted, as DSSE requires of verifiers. The signature is checked first (over PAE,
/// which covers the payload type), then the payload must be an in-toto Statement (v1, or the
/// v0.1 cosign writes).
pub fn open<V: Verifier + ?Sized>(
    envelope_bytes: &[u8],
    key: &V,
) -> std::result::Result<serde_json::Value, Rejection> {
    open_signed(envelope_bytes, key).map(|(statement, _)| statement)
}

/// [`open`], also naming which trusted key signed.
pub fn open_signed<'k, V: Verifier + ?Sized>(
    envelope_bytes: &[u8],
    key: &'k V,
) -> std::result::Result<(serde_json::Value, &'k PublicKey), Rejection> {
    let env: Envelope = serde_json::from_slice(envelope_bytes)
        .map_err(|e| Rejection::Unreadable(format!("not a DSSE envelope: {e}")))?;
    open_envelope(&env, key)
}

/// [`open_signed`] for an envelope already parsed (a Sigstore bundle carries one inside).
pub fn open_envelope<'k, V: Verifier + ?Sized>(
    env: &Envelope,
    key: &'k V,
) -> std::result::Result<(serde_json::Value, &'k PublicKey), Rejection> {
    let body = decode_b64(&env.payload)
        .ok_or_else(|| Rejection::Unreadable("payload is not base64".into()))?;
    let Some(signer) = signing_key(env, &body, key) else {
        return Err(Rejection::NotThisKey(format!(
            "no signature verifies with {}",
            key.describe()
        )));
    };
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(Rejection::Invalid(format!(
            "payload type `{}` is not in-toto",
            env.payload_type
        )));
    }
    let statement: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Rejection::Invalid(format!("payload is not a JSON statement: {e}")))?;
    match statement["_type"].as_str() {
        Some(STATEMENT_V1 | STATEMENT_V01) => Ok((statement, signer)),
        Some(other) => Err(Rejection::Invalid(format!(
            "`_type` is `{other}`, not an in-toto Statement (`{STATEMENT_V1}` or `{STATEMENT_V01}`)"
        ))),
        None => Err(Rejection::Invalid(
            "the payload has no `_type`: it is not an in-toto Statement".into(),
        )),
    }
}

/// The statement an envelope carries, read without checking any signature: only to tell what
/// kind of evidence it claims to be (a signature or an attestation of some type), never to
/// trust it.
pub fn unverified_statement(env: &Envelope) -> Option<serde_json::Value> {
    decode_b64(&env.payload).and_then(|body| serde_json::from_slice(&body).ok())
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    STANDARD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .ok()
}

/// Whether `statement` is about `digest` (any subject with that sha256).
pub fn names_digest(statement: &serde_json::Value, digest: &Digest) -> bool {
    statement["subject"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x["digest"]["sha256"] == digest.hex()))
}

/// Add a signed attestation of `predicate_type` to the `.att` manifest of `image_digest`.
/// Attestations by other keys are kept; an earlier one of the same predicate type made with
/// this key is replaced (a re-run re-attests instead of piling up copies).
pub async fn append_attestation(
    store: &Store,
    image_digest: &Digest,
    predicate_type: &str,
    envelope_bytes: Vec<u8>,
    key: &SigningKey,
) -> Result<Digest> {
    let tag = image_digest.cosign_tag("att");
    let mut layers = match store.manifest_by_tag(&tag).await? {
        Some(existing) => Manifest::from_slice(&existing.bytes, &tag)?.layers,
        None => Vec::new(),
    };
    let mut keep = Vec::with_capacity(layers.len());
    for layer in layers.drain(..) {
        let ours = layer
            .annotations
            .get(PREDICATE_TYPE_ANNOTATION)
            .map(String::as_str)
            == Some(predicate_type)
            && match store.read_blob(&layer.digest).await {
                Ok(bytes) => signed_by(&bytes, key.public_key()),
                Err(_) => false,
            };
        if !ours {
            keep.push(layer);
        }
    }
    let mut layers = keep;
    let mut layer = Descriptor::of(DSSE_MEDIA_TYPE, &envelope_bytes);
    layer
        .annotations
        .insert(PREDICATE_TYPE_ANNOTATION.into(), predicate_type.into());
    layer
        .annotations
        .insert(SIGNATURE_ANNOTATION.into(), String::new());
    layer.annotations.insert(
        SIGNER_ANNOTATION.into(),
        key.public_key().fingerprint().to_string(),
    );
    layers.push(layer);
    check_layer_limit(&tag, layers.len())?;
    store.write_blob(envelope_bytes).await?;
    let (manifest, config) = signature_manifest(layers);
    store.write_blob(config).await?;
    let desc = store
        .put_tagged_manifest(&tag, &manifest, MEDIA_OCI_MANIFEST)
        .await?;
    Ok(desc.digest)
}

/// The `.att` layers to publish: the registry's layers, minus those our layers replace, plus
/// ours. A registry layer is replaced when it is one of ours already, or when it carries the
/// same predicate type and signer key as one of ours (an earlier run's attestation); other
/// keys' layers and layers without a signer annotation (cosign's) are kept.
pub fn merge_attestation_layers(remote: &[Descriptor], ours: &[Descriptor]) -> Vec<Descriptor> {
    let key_of = |l: &Descriptor| {
        (
            l.annotations.get(PREDICATE_TYPE_ANNOTATION).cloned(),
            l.annotations.get(SIGNER_ANNOTATION).cloned(),
        )
    };
    let replaced = |r: &Descriptor| {
        ours.iter().any(|o| {
            o.digest == r.digest
                || (r.annotations.contains_key(SIGNER_ANNOTATION) && key_of(o) == key_of(r))
        })
    };
    let mut merged: Vec<Descriptor> = remote.iter().filter(|r| !replaced(r)).cloned().collect();
    merged.extend(ours.iter().cloned());
    merged
}

#[cfg(test)]
mod tests {
    /// The typed statement writes exactly the bytes of the JSON object built before it (keys
    /// sorted), and reads back.
    #[test]
    fn a_typed_statement_is_byte_for_byte_the_json_object() {
        let (a, b) = (Digest::of(b"index"), Digest::of(b"image"));
        let predicate = serde_json::json!({"z": 1, "a": [true, null]});
        let typed = statement_about(&[("r/app", &a), ("r/app", &b)], "https://x/v1", &predicate);
        let by_hand = serde_json::to_vec(&serde_json::json!({
            "_type": STATEMENT_V1,
            "subject": [
                {"name": "r/app", "digest": {"sha256": a.hex()}},
                {"name": "r/app", "digest": {"sha256": b.hex()}},
            ],
            "predicateType": "https://x/v1",
            "predicate": predicate,
        }))
        .unwrap();
        assert_eq!(
            String::from_utf8(typed.clone()).unwrap(),
            String::from_utf8(by_hand).unwrap()
        );
        let back: Statement = Statement::parse(&typed).unwrap();
        assert!(back.is_about(&b) && !back.is_about(&Digest::of(b"other")));
        assert_eq!(back.predicate, predicate);
        assert!(Statement::<serde_json::Value>::parse(
            br#"{"_type":"x","predicate":{},"predicateType":"p","subject":[]}"#
        )
        .is_err());
        assert!(Statement::<serde_json::Value>::parse(b"{").is_err());
    }

    use super::*;

    #[test]
    fn pae_matches_the_dsse_test_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    fn test_key() -> SigningKey {
        let (private, _) = crate::sign::keys::generate(b"").unwrap();
        SigningKey::load(
            private.as_bytes(),
            &crate::sign::KeySource::parse("env://K"),
            &|| Ok(zeroize::Zeroizing::new(String::new())),
        )
        .unwrap()
    }

    #[test]
    fn open_sorts_rejections_by_weight() {
        let key = test_key();
        let other = test_key();
        let digest = Digest::of(b"image");
        let st = statement("r", &digest, PREDICATE_SPDX, &serde_json::json!({}));
        let env = envelope(&st, &key).unwrap();
        assert!(open(&env, key.public_key()).is_ok());
        assert!(matches!(
            open(&env, other.public_key()),
            Err(Rejection::NotThisKey(_))
        ));
        assert!(matches!(
            open(b"{", key.public_key()),
            Err(Rejection::Unreadable(_))
        ));
        let mut v: serde_json::Value = serde_json::from_slice(&st).unwrap();
        v["_type"] = "https://in-toto.io/Bundle/v1".into();
        let env = envelope(&serde_json::to_vec(&v).unwrap(), &key).unwrap();
        assert!(
            matches!(open(&env, key.public_key()), Err(Rejection::Invalid(m)) if m.contains("not an in-toto Statement"))
        );
        v["_type"] = STATEMENT_V01.into();
        let env = envelope(&serde_json::to_vec(&v).unwrap(), &key).unwrap();
        assert!(open(&env, key.public_key()).is_ok());
    }

    #[test]
    fn merge_replaces_same_key_and_type_and_keeps_the_rest() {
        let layer = |content: &[u8], ty: &str, signer: Option<&str>| {
            let mut d = Descriptor::of(DSSE_MEDIA_TYPE, content);
            d.annotations
                .insert(PREDICATE_TYPE_ANNOTATION.into(), ty.into());
            if let Some(s) = signer {
                d.annotations.insert(SIGNER_ANNOTATION.into(), s.into());
            }
            d
        };
        let old_ours = layer(b"old", PREDICATE_SPDX, Some("sha256:k1"));
        let theirs = layer(b"theirs", PREDICATE_SPDX, Some("sha256:k2"));
        let cosigns = layer(b"cosign", PREDICATE_SPDX, None);
        let other_type = layer(b"prov", PREDICATE_SLSA_PROVENANCE_V1, Some("sha256:k1"));
        let new_ours = layer(b"new", PREDICATE_SPDX, Some("sha256:k1"));
        let merged = merge_attestation_layers(
            &[
                old_ours,
                theirs.clone(),
                cosigns.clone(),
                other_type.clone(),
            ],
            &[other_type.clone(), new_ours.clone()],
        );
        assert_eq!(merged, vec![theirs, cosigns, other_type, new_ours]);
    }

    #[test]
    fn envelope_round_trip_and_tamper() {
        let (private, public) = crate::sign::keys::generate(b"").unwrap();
        let source = crate::sign::KeySource::parse("env://K");
        let key = SigningKey::load(private.as_bytes(), &source, &|| {
            Ok(zeroize::Zeroizing::new(String::new()))
        })
        .unwrap();
        let public = PublicKey::from_pem(public.as_bytes(), "k").unwrap();
        let digest = Digest::of(b"image");
        let st = statement(
            "r/app",
            &digest,
            PREDICATE_SPDX,
            &serde_json::json!({"a": 1}),
        );
        let env = envelope(&st, &key).unwrap();
        let text = String::from_utf8(env.clone()).unwrap();
        assert!(text.starts_with("{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":"));
        assert!(text.contains("\"keyid\":\"\""));
        let opened = open(&env, &public).unwrap();
        assert!(names_digest(&opened, &digest));
        assert!(!names_digest(&opened, &Digest::of(b"other")));
        // Another statement under the same signature fails.
        let mut e: Envelope = serde_json::from_slice(&env).unwrap();
        e.payload = base64::engine::general_purpose::STANDARD.encode(statement(
            "r/app",
            &Digest::of(b"other"),
            PREDICATE_SPDX,
            &serde_json::json!({}),
        ));
        assert!(open(&serde_json::to_vec(&e).unwrap(), &public).is_err());
    }
}
