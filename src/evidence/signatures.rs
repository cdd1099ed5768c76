//! Checking the signatures of one exact image digest with a key (what `cosign verify --key`
//! checks): the legacy `.sig` layers and the signature bundles among the referrers.

use serde::Serialize;

use super::{bundle, discover, BundleRef, Discovered, Legacy, Source};
use crate::error::Result;
use crate::oci::store::Store;
use crate::oci::types::{Digest, Manifest};
use crate::sign::attest;
use crate::sign::cosign::{
    MAX_SIGNATURE_LAYERS, SIGNATURE_ANNOTATION, SIGNATURE_TYPE, SIMPLE_SIGNING_MEDIA_TYPE,
};
use crate::sign::trust::{Trust, Verifier};

/// One check on one signature layer.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// The checks on one signature: a layer of the `.sig` manifest or a signature bundle.
#[derive(Clone, Debug, Serialize)]
pub struct SignatureCheck {
    /// Where it was found.
    pub source: Source,
    /// The signed blob: the simple-signing payload, or the bundle.
    pub payload_digest: Digest,
    pub docker_reference: Option<String>,
    /// The trusted key whose signature verified (even if another check failed).
    pub signer: Option<String>,
    pub checks: Vec<Check>,
    pub verified: bool,
}

/// The outcome of verifying one image's signatures with one key.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub digest: Digest,
    pub key: String,
    pub signature_manifest: Option<Digest>,
    /// Where referrers were listed (`None`: the list could not be used; see `summary`).
    pub referrers: Option<crate::oci::store::ReferrersPlace>,
    pub signatures: Vec<SignatureCheck>,
    /// True when at least one signature passes every check.
    pub verified: bool,
    /// Why nothing verified, when nothing did.
    pub summary: String,
}

/// Verify the signatures of `digest` stored in `store` with `key`: [`discover`] then
/// [`check_signatures`].
pub async fn verify_signatures(
    store: &Store,
    digest: &Digest,
    trust: &Trust,
) -> Result<VerifyReport> {
    let found = discover(store, digest).await?;
    check_signatures(store, &found, trust).await
}

/// Check every signature in `found` with `key`; the image is signed when one passes every check.
///
/// A `.sig` layer: the payload blob hashes to the layer digest, the signature verifies over the
/// payload with `key`, the payload's `critical.type` is cosign's image signature type, and the
/// payload names exactly the digest. A signature bundle: it is a v0.3 bundle in a referrer whose
/// subject is the digest, its DSSE signature verifies with `key`, and its in-toto statement has
/// cosign's signature predicate type and names the digest. A `.sig` manifest that cannot be read
/// or holds more layers than cosign reads, or a referrers list that cannot be used, verifies
/// nothing. The payload's `docker-reference` is reported but not required to match (cosign
/// does the same).
pub async fn check_signatures(
    store: &Store,
    found: &Discovered,
    trust: &Trust,
) -> Result<VerifyReport> {
    let digest = &found.subject;
    let tag = digest.cosign_tag("sig");
    let mut report = VerifyReport {
        digest: digest.clone(),
        key: trust.describe(),
        signature_manifest: None,
        referrers: found.referrers.as_ref().ok().cloned(),
        signatures: vec![],
        verified: false,
        summary: String::new(),
    };
    if let Err(why) = &found.referrers {
        report.summary = format!(
            "the referrers of {digest} in {} cannot be used: {why}",
            store.describe()
        );
        return Ok(report);
    }
    for bundle_ref in &found.bundles {
        if let Some(check) = check_bundle(store, bundle_ref, digest, trust).await {
            report.signatures.push(check);
        }
    }
    let sig_manifest = match &found.signature_tag {
        Legacy::Absent => None,
        Legacy::Unreadable(why) => {
            report.summary = format!(
                "the signature manifest `{tag}` in {} cannot be read: {why}",
                store.describe()
            );
            return Ok(report);
        }
        Legacy::Found(found) => Some(found),
    };
    if let Some(sig_manifest) = sig_manifest {
        if let Some(problem) =
            check_legacy(store, sig_manifest, &tag, digest, trust, &mut report).await
        {
            report.summary = problem;
            return Ok(report);
        }
    }
    report.verified = report.signatures.iter().any(|s| s.verified);
    report.summary = if report.verified {
        let mut signers: Vec<&str> = report
            .signatures
            .iter()
            .filter(|s| s.verified)
            .filter_map(|s| s.signer.as_deref())
            .collect();
        signers.sort_unstable();
        signers.dedup();
        format!("signed by {}", signers.join(" and "))
    } else if report.signatures.is_empty() {
        if sig_manifest.is_some() {
            format!("`{tag}` holds no signature layers")
        } else {
            format!(
                "no signatures: neither `{tag}` nor a signature bundle among the referrers exists in {}",
                store.describe()
            )
        }
    } else {
        // Which check each signature failed: the identity, the issuer, a workflow claim, the
        // trusted root, the log or the timestamp say what to fix; the first failure is the cause.
        let mut reasons: Vec<String> = report
            .signatures
            .iter()
            .filter_map(|s| s.checks.iter().find(|c| !c.passed))
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        reasons.dedup();
        let shown = reasons.len().min(3);
        let more = reasons.len() - shown;
        format!(
            "none of {} signature(s) verifies with {} for {digest}{}{}",
            report.signatures.len(),
            trust.describe(),
            if shown > 0 {
                format!(" ({})", reasons[..shown].join("; "))
            } else {
                String::new()
            },
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    };
    Ok(report)
}

/// Check the layers of the `.sig` manifest into `report`; `Some(why)` when the manifest as a
/// whole cannot be used.
async fn check_legacy(
    store: &Store,
    sig_manifest: &crate::oci::store::Resolved,
    tag: &str,
    digest: &Digest,
    trust: &Trust,
    report: &mut VerifyReport,
) -> Option<String> {
    report.signature_manifest = Some(sig_manifest.digest.clone());
    // Whatever is wrong with the evidence is "not verified" (exit 1), never a usage error.
    let manifest = match Manifest::from_slice(&sig_manifest.bytes, tag) {
        Ok(m) => m,
        Err(e) => {
            return Some(format!(
                "the signature manifest `{tag}` ({}) in {} is malformed: {}",
                sig_manifest.digest,
                store.describe(),
                crate::error::one_line(&e)
            ));
        }
    };
    if manifest.layers.len() > MAX_SIGNATURE_LAYERS {
        return Some(format!(
            "`{tag}` holds {} signature layers, more than the {MAX_SIGNATURE_LAYERS} cosign reads; refusing to check only some of them",
            manifest.layers.len()
        ));
    }
    for (index, layer) in manifest.layers.iter().enumerate() {
        let mut checks = Vec::new();
        let mut docker_reference = None;
        let mut signer_name = None;
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
            let signer = (!signature.is_empty())
                .then(|| trust.key_for(signature, &payload))
                .flatten();
            checks.push(Check {
                name: "signature",
                passed: signer.is_some(),
                detail: match signer {
                    _ if signature.is_empty() => "the layer has no signature annotation".into(),
                    Some(k) => format!("valid for key {}", k.name()),
                    None => format!("does not verify with key {}", trust.describe()),
                },
            });
            signer_name = signer.map(|k| k.name().to_string());
            if let (Some(log), Some(_)) = (trust.key_log(), signer) {
                checks.push(Check {
                    name: "transparency log",
                    passed: false,
                    detail: format!(
                        "a legacy `.sig` layer carries no log entry cleanpipe verifies, and signatures must be logged under {}",
                        log.source
                    ),
                });
            }
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
            source: Source::LegacyTag {
                tag: tag.to_string(),
                layer: index,
            },
            payload_digest: layer.digest.clone(),
            docker_reference,
            signer: signer_name,
            checks,
            verified,
        });
    }
    None
}

/// Check one bundle referrer as a signature; `None` when it is an attestation (by its claimed
/// predicate type or, unclaimed, by its statement's), which `policy` checks.
async fn check_bundle(
    store: &Store,
    bundle_ref: &BundleRef,
    digest: &Digest,
    trust: &Trust,
) -> Option<SignatureCheck> {
    if bundle_ref
        .claimed_predicate
        .as_deref()
        .is_some_and(|p| p != bundle::COSIGN_SIGN_PREDICATE)
    {
        return None;
    }
    let mut checks = Vec::new();
    let fail = |name, detail: String| Check {
        name,
        passed: false,
        detail,
    };
    let unusable = |checks: Vec<Check>, payload_digest: Digest| SignatureCheck {
        source: bundle_ref.source.clone(),
        payload_digest,
        docker_reference: None,
        signer: None,
        checks,
        verified: false,
    };
    let layer = match &bundle_ref.layer {
        Ok(layer) => layer,
        Err(why) => {
            checks.push(fail("referrer", why.clone()));
            let manifest = match &bundle_ref.source {
                Source::Referrer { manifest, .. } => manifest.clone(),
                Source::LegacyTag { .. } => digest.clone(),
            };
            return Some(unusable(checks, manifest));
        }
    };
    checks.push(Check {
        name: "referrer",
        passed: true,
        detail: format!("a bundle about {digest}"),
    });
    let parsed = match bundle_ref.read(store).await {
        Ok(b) => b,
        Err(why) => {
            checks.push(fail("bundle", why));
            return Some(unusable(checks, layer.digest.clone()));
        }
    };
    let unverified = attest::unverified_statement(&parsed.envelope);
    let claimed = unverified
        .as_ref()
        .and_then(|s| s["predicateType"].as_str())
        .map(str::to_string);
    if bundle_ref.claimed_predicate.is_none()
        && claimed.as_deref() != Some(bundle::COSIGN_SIGN_PREDICATE)
    {
        // An attestation bundle without the annotation: not a signature.
        return None;
    }
    checks.push(Check {
        name: "bundle",
        passed: true,
        detail: format!(
            "{} with a DSSE envelope{}",
            bundle::BUNDLE_MEDIA_TYPE,
            if parsed.has_certificate {
                ", a certificate"
            } else {
                ", a public-key hint"
            }
        ),
    });
    let mut signer_name = None;
    let statement = if parsed.has_certificate {
        match trust.keyless() {
            None => {
                checks.push(fail("signature", super::NO_IDENTITY_TRUSTED.to_string()));
                None
            }
            Some(keyless) => match super::keyless::open(&parsed, digest, keyless) {
                Ok(opened) => {
                    checks.extend(opened.checks);
                    signer_name = Some(opened.signer);
                    Some(opened.statement)
                }
                Err(refused) => {
                    checks.extend(refused.checks);
                    None
                }
            },
        }
    } else {
        match attest::open_envelope(&parsed.envelope, trust) {
            Ok((statement, signer)) => {
                checks.push(Check {
                    name: "signature",
                    passed: true,
                    detail: format!("valid for key {}", signer.name()),
                });
                signer_name = Some(signer.name().to_string());
                if let Some(log) = trust.key_log() {
                    checks.push(super::keyless::check_key_log(&parsed, digest, signer, log));
                }
                Some(statement)
            }
            Err(attest::Rejection::NotThisKey(_)) => {
                checks.push(fail(
                    "signature",
                    format!("does not verify with key {}", trust.describe()),
                ));
                None
            }
            Err(e) => {
                checks.push(fail("signature", e.to_string()));
                None
            }
        }
    };
    let mut docker_reference = None;
    if let Some(statement) = statement {
        let kind = statement["predicateType"].as_str().unwrap_or("");
        checks.push(Check {
            name: "statement type",
            passed: kind == bundle::COSIGN_SIGN_PREDICATE,
            detail: if kind == bundle::COSIGN_SIGN_PREDICATE {
                kind.to_string()
            } else {
                format!(
                    "the signed statement's predicate type is `{kind}`, not `{}`",
                    bundle::COSIGN_SIGN_PREDICATE
                )
            },
        });
        let names = attest::names_digest(&statement, digest);
        checks.push(Check {
            name: "statement names this digest",
            passed: names,
            detail: if names {
                digest.to_string()
            } else {
                format!(
                    "the signed statement is about {}, not {digest}",
                    statement_subjects(&statement)
                )
            },
        });
        docker_reference = statement["subject"][0]["name"].as_str().map(String::from);
    }
    let verified = checks.iter().all(|c| c.passed);
    Some(SignatureCheck {
        source: bundle_ref.source.clone(),
        payload_digest: layer.digest.clone(),
        docker_reference,
        signer: signer_name,
        checks,
        verified,
    })
}

/// The sha256 digests a statement names, for messages.
pub fn statement_subjects(statement: &serde_json::Value) -> String {
    let names: Vec<String> = statement["subject"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(|x| x["digest"]["sha256"].as_str())
                .map(|h| format!("sha256:{h}"))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        "no sha256 digest".into()
    } else {
        names.join(", ")
    }
}
