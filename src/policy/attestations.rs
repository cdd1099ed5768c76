//! The `.att` layers of an image: each one read and checked (DSSE signature with the key, an
//! in-toto Statement about this digest, annotation = statement type), and sorted into the
//! [`Evidence`] the requirements draw on.

use super::{check, AttestationCheck, Outcome, PolicyCheck, UsedAttestation};
use crate::error::Result;
use crate::oci::store::Store;
use crate::oci::types::{Descriptor, Digest, Manifest};
use crate::sign::attest::{self, Rejection, DSSE_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION};
use crate::sign::cosign::MAX_SIGNATURE_LAYERS;
use crate::sign::keys::PublicKey;
use crate::sign::verify::evidence_manifest;

/// An attestation that verified with the key.
pub(super) struct Trusted {
    pub(super) used: UsedAttestation,
    /// The statement's (signed) predicate type.
    pub(super) predicate_type: String,
    pub(super) statement: serde_json::Value,
}

/// An attestation that failed its own check in a way that counts against its types.
pub(super) struct Failed {
    pub(super) used: UsedAttestation,
    /// The annotated type and, when signed with the key, the statement's type.
    pub(super) types: Vec<String>,
    pub(super) why: String,
}

/// Everything `.att` holds, sorted by how much it weighs.
#[derive(Default)]
pub(super) struct Evidence {
    pub(super) checks: Vec<AttestationCheck>,
    pub(super) trusted: Vec<Trusted>,
    pub(super) failed: Vec<Failed>,
    /// Layers of a well-formed envelope this key did not sign, by predicate type annotation.
    pub(super) not_this_key: Vec<String>,
    /// The `.att` manifest itself cannot be used.
    pub(super) manifest_problem: Option<String>,
}

impl Evidence {
    /// The trusted attestations of `types`, or why a requirement on them fails.
    pub(super) fn select(
        &self,
        types: &[&str],
        name: &'static str,
        what: &str,
    ) -> std::result::Result<Vec<&Trusted>, PolicyCheck> {
        let fail = |name, detail, used| check(name, false, detail, used);
        if let Some(problem) = &self.manifest_problem {
            return Err(fail(name, problem.clone(), vec![]));
        }
        let failed: Vec<&Failed> = self
            .failed
            .iter()
            .filter(|f| f.types.iter().any(|t| types.contains(&t.as_str())))
            .collect();
        if !failed.is_empty() {
            return Err(fail(
                name,
                failed
                    .iter()
                    .map(|f| format!("{} fails its own check: {}", f.used, f.why))
                    .collect::<Vec<_>>()
                    .join("; "),
                failed.iter().map(|f| f.used.clone()).collect(),
            ));
        }
        let trusted: Vec<&Trusted> = self
            .trusted
            .iter()
            .filter(|t| types.contains(&t.predicate_type.as_str()))
            .collect();
        if trusted.is_empty() {
            let others = self
                .not_this_key
                .iter()
                .filter(|t| types.contains(&t.as_str()))
                .count();
            return Err(fail(
                name,
                format!(
                    "no {what} attestation verifies with this key{}",
                    if others > 0 {
                        format!(" ({others} signed by another key or not at all)")
                    } else {
                        String::new()
                    }
                ),
                vec![],
            ));
        }
        Ok(trusted)
    }
}

pub(super) fn used_list(trusted: &[&Trusted]) -> String {
    trusted
        .iter()
        .map(|t| t.used.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check every layer of the `.att` manifest.
pub(super) async fn check_attestations(
    store: &Store,
    digest: &Digest,
    key: &PublicKey,
) -> Result<Evidence> {
    let tag = digest.cosign_tag("att");
    let mut evidence = Evidence::default();
    let found = match evidence_manifest(store, &tag).await? {
        None => return Ok(evidence),
        Some(Err(why)) => {
            evidence.manifest_problem = Some(format!(
                "the attestation manifest `{tag}` cannot be read: {why}"
            ));
            return Ok(evidence);
        }
        Some(Ok(found)) => found,
    };
    let manifest = match Manifest::from_slice(&found.bytes, &tag) {
        Ok(m) => m,
        Err(e) => {
            evidence.manifest_problem = Some(format!(
                "the attestation manifest `{tag}` ({}) is malformed: {e}",
                found.digest
            ));
            return Ok(evidence);
        }
    };
    if manifest.layers.len() > MAX_SIGNATURE_LAYERS {
        evidence.manifest_problem = Some(format!(
            "`{tag}` holds {} attestation layers, more than the {MAX_SIGNATURE_LAYERS} cosign reads; refusing to check only some of them",
            manifest.layers.len()
        ));
        return Ok(evidence);
    }
    for (layer, desc) in manifest.layers.iter().enumerate() {
        let annotated = desc
            .annotations
            .get(PREDICATE_TYPE_ANNOTATION)
            .cloned()
            .unwrap_or_default();
        let outcome = check_layer(store, desc, digest, key, &annotated).await;
        let used = UsedAttestation {
            layer,
            digest: desc.digest.clone(),
        };
        evidence.checks.push(AttestationCheck {
            layer,
            digest: desc.digest.clone(),
            predicate_type: annotated.clone(),
            verified: outcome.is_ok(),
            outcome: match &outcome {
                Ok(_) => Outcome::Verified,
                Err((Rejection::Unreadable(_), _)) => Outcome::Unreadable,
                Err((Rejection::NotThisKey(_), _)) => Outcome::NotThisKey,
                Err((Rejection::Invalid(_), _)) => Outcome::Invalid,
            },
            detail: match &outcome {
                Ok(_) => format!("signed by {}", key.name()),
                Err((e, _)) => e.to_string(),
            },
        });
        match outcome {
            Ok(statement) => evidence.trusted.push(Trusted {
                used,
                predicate_type: annotated,
                statement,
            }),
            Err((Rejection::NotThisKey(_), _)) => evidence.not_this_key.push(annotated),
            Err((why, signed_type)) => {
                let mut types = vec![annotated];
                types.extend(signed_type.filter(|t| !types.contains(t)));
                evidence.failed.push(Failed {
                    used,
                    types,
                    why: why.to_string(),
                });
            }
        }
    }
    Ok(evidence)
}

/// One layer: its statement, or why not (with the statement's type when the key signed it).
async fn check_layer(
    store: &Store,
    desc: &Descriptor,
    digest: &Digest,
    key: &PublicKey,
    annotated: &str,
) -> std::result::Result<serde_json::Value, (Rejection, Option<String>)> {
    if desc.media_type != DSSE_MEDIA_TYPE {
        return Err((
            Rejection::Unreadable(format!(
                "media type `{}` is not a DSSE envelope",
                desc.media_type
            )),
            None,
        ));
    }
    let bytes = store
        .read_blob(&desc.digest)
        .await
        .map_err(|e| (Rejection::Unreadable(e.to_string()), None))?;
    let statement = attest::open(&bytes, key).map_err(|e| (e, None))?;
    let signed_type = statement["predicateType"].as_str().map(String::from);
    let invalid = |why: String| (Rejection::Invalid(why), signed_type.clone());
    if !attest::names_digest(&statement, digest) {
        return Err(invalid(format!("the statement is not about {digest}")));
    }
    if signed_type.as_deref() != Some(annotated) {
        return Err(invalid(format!(
            "the layer's predicateType annotation `{annotated}` differs from the statement's `{}`",
            signed_type.as_deref().unwrap_or("")
        )));
    }
    Ok(statement)
}
