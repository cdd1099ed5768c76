//! Checking cosign signatures of one exact image digest (what `cosign verify --key` checks).

use serde::Serialize;

use crate::error::Result;
use crate::oci::store::{Resolved, Store};
use crate::oci::types::{Digest, Manifest};
use crate::sign::cosign::{
    MAX_SIGNATURE_LAYERS, SIGNATURE_ANNOTATION, SIGNATURE_TYPE, SIMPLE_SIGNING_MEDIA_TYPE,
};
use crate::sign::keys::PublicKey;

/// One check on one signature layer.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// The checks on one signature layer of the `.sig` manifest.
#[derive(Clone, Debug, Serialize)]
pub struct SignatureCheck {
    pub layer: usize,
    pub payload_digest: Digest,
    pub docker_reference: Option<String>,
    pub checks: Vec<Check>,
    pub verified: bool,
}

/// The outcome of verifying one image's signatures with one key.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub digest: Digest,
    pub key: String,
    pub signature_manifest: Option<Digest>,
    pub signatures: Vec<SignatureCheck>,
    /// True when at least one signature passes every check.
    pub verified: bool,
    /// Why nothing verified, when nothing did.
    pub summary: String,
}

/// The `.sig`/`.att` manifest under `tag`: `None` when there is none, `Some(Err(why))` when a
/// layout holds one that cannot be read (a corrupt blob is evidence that does not verify, not an
/// environment failure). A registry's errors stay errors: the registry may just be down.
pub async fn evidence_manifest(
    store: &Store,
    tag: &str,
) -> Result<Option<std::result::Result<Resolved, String>>> {
    match store.manifest_by_tag(tag).await {
        Ok(found) => Ok(found.map(Ok)),
        Err(e) if matches!(store, Store::Layout(_)) => Ok(Some(Err(e.to_string()))),
        Err(e) => Err(e),
    }
}

/// Verify the signatures of `digest` stored in `store` with `key`.
///
/// Each layer is checked on its own: the payload blob hashes to the layer digest, the signature
/// verifies over the payload with `key`, the payload's `critical.type` is cosign's image
/// signature type, and the payload names exactly `digest`. A manifest that cannot be read or
/// holds more layers than cosign reads verifies nothing. The payload's
/// `docker-reference` is reported but not required to match (cosign does the same).
pub async fn verify_signatures(
    store: &Store,
    digest: &Digest,
    key: &PublicKey,
) -> Result<VerifyReport> {
    let tag = digest.cosign_tag("sig");
    let mut report = VerifyReport {
        digest: digest.clone(),
        key: key.name().to_string(),
        signature_manifest: None,
        signatures: vec![],
        verified: false,
        summary: String::new(),
    };
    let sig_manifest = match evidence_manifest(store, &tag).await? {
        None => {
            report.summary = format!(
                "no signatures: `{tag}` does not exist in {}",
                store.describe()
            );
            return Ok(report);
        }
        Some(Err(why)) => {
            report.summary = format!(
                "the signature manifest `{tag}` in {} cannot be read: {why}",
                store.describe()
            );
            return Ok(report);
        }
        Some(Ok(found)) => found,
    };
    report.signature_manifest = Some(sig_manifest.digest.clone());
    // Whatever is wrong with the evidence is "not verified" (exit 1), never a usage error.
    let manifest = match Manifest::from_slice(&sig_manifest.bytes, &tag) {
        Ok(m) => m,
        Err(e) => {
            report.summary = format!(
                "the signature manifest `{tag}` ({}) in {} is malformed: {e}",
                sig_manifest.digest,
                store.describe()
            );
            return Ok(report);
        }
    };
    if manifest.layers.len() > MAX_SIGNATURE_LAYERS {
        report.summary = format!(
            "`{tag}` holds {} signature layers, more than the {MAX_SIGNATURE_LAYERS} cosign reads; refusing to check only some of them",
            manifest.layers.len()
        );
        return Ok(report);
    }
    for (index, layer) in manifest.layers.iter().enumerate() {
        let mut checks = Vec::new();
        let mut docker_reference = None;
        checks.push(Check {
            name: "media type",
            passed: layer.media_type == SIMPLE_SIGNING_MEDIA_TYPE,
            detail: layer.media_type.clone(),
        });
        let payload = match store.read_blob(&layer.digest).await {
            Ok(bytes) => {
                checks.push(Check {
                    name: "payload digest",
                    passed: true,
                    detail: format!("{}", layer.digest),
                });
                Some(bytes)
            }
            Err(e) => {
                checks.push(Check {
                    name: "payload digest",
                    passed: false,
                    detail: e.to_string(),
                });
                None
            }
        };
        if let Some(payload) = payload {
            let signature = layer
                .annotations
                .get(SIGNATURE_ANNOTATION)
                .map(String::as_str)
                .unwrap_or("");
            let sig_ok = !signature.is_empty() && key.verify_base64(signature, &payload);
            checks.push(Check {
                name: "signature",
                passed: sig_ok,
                detail: if signature.is_empty() {
                    "the layer has no signature annotation".into()
                } else if sig_ok {
                    format!("valid for key {}", key.name())
                } else {
                    format!("does not verify with key {}", key.name())
                },
            });
            let claims: Option<serde_json::Value> = serde_json::from_slice(&payload).ok();
            let named = claims
                .as_ref()
                .and_then(|c| c.pointer("/critical/image/docker-manifest-digest"))
                .and_then(|v| v.as_str())
                .map(String::from);
            docker_reference = claims
                .as_ref()
                .and_then(|c| c.pointer("/critical/identity/docker-reference"))
                .and_then(|v| v.as_str())
                .map(String::from);
            let kind = claims
                .as_ref()
                .and_then(|c| c.pointer("/critical/type"))
                .and_then(|v| v.as_str());
            checks.push(Check {
                name: "payload type",
                passed: kind == Some(SIGNATURE_TYPE),
                detail: match kind {
                    Some(k) if k == SIGNATURE_TYPE => k.to_string(),
                    Some(k) => format!("`critical.type` is `{k}`, not `{SIGNATURE_TYPE}`"),
                    None => format!("the payload has no `critical.type` `{SIGNATURE_TYPE}`"),
                },
            });
            checks.push(Check {
                name: "payload names this digest",
                passed: named.as_deref() == Some(digest.as_str()),
                detail: match named {
                    Some(n) if n == digest.as_str() => n,
                    Some(n) => format!("payload is for {n}, not {digest}"),
                    None => "payload is not a cosign simple-signing document".into(),
                },
            });
        }
        let verified = checks.iter().all(|c| c.passed);
        report.signatures.push(SignatureCheck {
            layer: index,
            payload_digest: layer.digest.clone(),
            docker_reference,
            checks,
            verified,
        });
    }
    report.verified = report.signatures.iter().any(|s| s.verified);
    report.summary = if report.verified {
        format!("signed by {}", key.name())
    } else if report.signatures.is_empty() {
        format!("`{tag}` holds no signature layers")
    } else {
        format!(
            "none of {} signature(s) verifies with {} for {digest}",
            report.signatures.len(),
            key.name()
        )
    };
    Ok(report)
}
