//! The attestations of an image, from the `.att` layers and the attestation bundles among its
//! referrers: each one read and checked (DSSE signature with the key, an in-toto Statement
//! about this digest, claimed type = statement type), and sorted into the [`Evidence`] the
//! requirements draw on.

use super::{check, AttestationCheck, Outcome, PolicyCheck, UsedAttestation};
use crate::error::Result;
use crate::evidence::{bundle, BundleRef, Discovered, Legacy, Source};
use crate::oci::store::Store;
use crate::oci::types::{Descriptor, Digest, Manifest};
use crate::sign::attest::{self, Rejection, DSSE_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION};
use crate::sign::cosign::MAX_SIGNATURE_LAYERS;
use crate::sign::trust::Trust;

/// A checked attestation's statement and the trusted key that signed it, or why it is not one
/// (with the statement's type when a trusted key signed it).
type Opened = std::result::Result<(serde_json::Value, String), (Rejection, Option<String>)>;

/// An attestation that verified with the key.
#[derive(Clone)]
pub(super) struct Trusted {
    pub(super) used: UsedAttestation,
    /// The statement's (signed) predicate type.
    pub(super) predicate_type: String,
    pub(super) statement: serde_json::Value,
    /// Who signed it: the trusted key or identity it verified with.
    pub(super) signer: String,
}

/// An attestation that failed its own check in a way that counts against its types.
#[derive(Clone)]
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
                    "no {what} attestation verifies with a trusted signer{}",
                    if others > 0 {
                        format!(" ({others} signed by another signer or not at all)")
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

/// One attestation of a predicate type about a digest: its statement and signer when a trusted
/// signer's and well-formed, else why it cannot be used. `place` says where it was found.
pub struct OfType {
    pub place: String,
    /// The predicate type it claims; empty for a place that could not be read at all (it may
    /// have held any type).
    pub predicate_type: String,
    pub outcome: std::result::Result<(serde_json::Value, String), String>,
}

/// Every attestation of `predicate_type` about `digest` in `store` (`.att` layers and bundle
/// referrers), each checked against `trust` the way `verify` checks attestations. A place that
/// cannot be read is one entry with why.
pub async fn attestations_of_type(
    store: &Store,
    digest: &Digest,
    trust: &Trust,
    predicate_type: &str,
) -> Result<Vec<OfType>> {
    attestations_of_types(store, digest, trust, &[predicate_type]).await
}

/// [`attestations_of_type`] for several types, the evidence read and checked once.
pub async fn attestations_of_types(
    store: &Store,
    digest: &Digest,
    trust: &Trust,
    types: &[&str],
) -> Result<Vec<OfType>> {
    let found = crate::evidence::discover(store, digest).await?;
    let evidence = check_attestations(store, &found, trust).await?;
    let mut out = Vec::new();
    if let Some(problem) = evidence.manifest_problem {
        out.push(OfType {
            place: format!("the evidence of {digest}"),
            predicate_type: String::new(),
            outcome: Err(problem),
        });
        return Ok(out);
    }
    let wanted = |t: &str| types.contains(&t);
    for t in evidence
        .trusted
        .into_iter()
        .filter(|t| wanted(&t.predicate_type))
    {
        out.push(OfType {
            place: t.used.to_string(),
            predicate_type: t.predicate_type,
            outcome: Ok((t.statement, t.signer)),
        });
    }
    for c in evidence
        .checks
        .iter()
        .filter(|c| !c.verified && wanted(&c.predicate_type))
    {
        out.push(OfType {
            place: format!("{} ({})", c.digest, c.source),
            predicate_type: c.predicate_type.clone(),
            outcome: Err(c.detail.clone()),
        });
    }
    Ok(out)
}

pub(super) fn used_list(trusted: &[&Trusted]) -> String {
    trusted
        .iter()
        .map(|t| t.used.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check every attestation `found` holds: the `.att` layers, then the attestation bundles.
pub(super) async fn check_attestations(
    store: &Store,
    found: &Discovered,
    trust: &Trust,
) -> Result<Evidence> {
    let digest = &found.subject;
    let mut evidence = Evidence::default();
    if let Err(why) = &found.referrers {
        evidence.manifest_problem =
            Some(format!("the referrers of {digest} cannot be used: {why}"));
        return Ok(evidence);
    }
    let tag = digest.cosign_tag("att");
    match &found.attestation_tag {
        Legacy::Absent => {}
        Legacy::Unreadable(why) => {
            evidence.manifest_problem = Some(format!(
                "the attestation manifest `{tag}` cannot be read: {why}"
            ));
            return Ok(evidence);
        }
        Legacy::Found(att) => {
            let manifest = match Manifest::from_slice(&att.bytes, &tag) {
                Ok(m) => m,
                Err(e) => {
                    evidence.manifest_problem = Some(format!(
                        "the attestation manifest `{tag}` ({}) is malformed: {}",
                        att.digest,
                        crate::error::one_line(&e)
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
                let outcome = check_layer(store, desc, digest, trust, &annotated).await;
                let used = UsedAttestation {
                    layer,
                    digest: desc.digest.clone(),
                    referrer: None,
                };
                let source = Source::LegacyTag {
                    tag: tag.clone(),
                    layer,
                };
                evidence.record(source, used, annotated, outcome);
            }
        }
    }
    for bundle_ref in &found.bundles {
        if let Some((used, claimed, outcome)) = check_bundle(store, bundle_ref, digest, trust).await
        {
            evidence.record(bundle_ref.source.clone(), used, claimed, outcome);
        }
    }
    Ok(evidence)
}

impl Evidence {
    /// File one attestation's outcome under the weight it carries.
    fn record(&mut self, source: Source, used: UsedAttestation, claimed: String, outcome: Opened) {
        self.checks.push(AttestationCheck {
            source,
            layer: used.layer,
            digest: used.digest.clone(),
            predicate_type: claimed.clone(),
            verified: outcome.is_ok(),
            outcome: match &outcome {
                Ok(_) => Outcome::Verified,
                Err((Rejection::Unreadable(_), _)) => Outcome::Unreadable,
                Err((Rejection::NotThisKey(_), _)) => Outcome::NotThisKey,
                Err((Rejection::Invalid(_), _)) => Outcome::Invalid,
            },
            detail: match &outcome {
                Ok((_, signer)) => format!("signed by {signer}"),
                Err((e, _)) => e.to_string(),
            },
        });
        match outcome {
            Ok((statement, signer)) => self.trusted.push(Trusted {
                used,
                predicate_type: claimed,
                statement,
                signer,
            }),
            Err((Rejection::NotThisKey(_), _)) => self.not_this_key.push(claimed),
            Err((why, signed_type)) => {
                let mut types = vec![claimed];
                types.extend(signed_type.filter(|t| !types.contains(t)));
                self.failed.push(Failed {
                    used,
                    types,
                    why: why.to_string(),
                });
            }
        }
    }
}

/// One bundle referrer as an attestation: (what it is, the type it claims, its statement or
/// why not), or `None` when it is a signature. The claimed type is the referrer's annotation,
/// else the statement's (unsigned; only the checked statement is trusted).
async fn check_bundle(
    store: &Store,
    bundle_ref: &BundleRef,
    digest: &Digest,
    trust: &Trust,
) -> Option<(UsedAttestation, String, Opened)> {
    let referrer = match &bundle_ref.source {
        Source::Referrer { manifest, .. } => manifest.clone(),
        Source::LegacyTag { .. } => digest.clone(),
    };
    let is_signature = |t: &str| t == bundle::COSIGN_SIGN_PREDICATE;
    // A referrer labelled a signature is still read: if what our key signed in it is an
    // attestation, the label lies and it counts against that attestation's type (as a `.att`
    // layer whose annotation differs from its statement does).
    let labelled_signature = bundle_ref
        .claimed_predicate
        .as_deref()
        .is_some_and(is_signature);
    let used = |digest: &Digest| UsedAttestation {
        layer: 0,
        digest: digest.clone(),
        referrer: Some(referrer.clone()),
    };
    let claimed_by_annotation = bundle_ref.claimed_predicate.clone();
    let layer = match &bundle_ref.layer {
        Ok(layer) => layer,
        Err(why) => {
            // Without a claim (or claimed a signature) it is the signature check's to report;
            // it fails no attestation requirement here.
            let claimed = claimed_by_annotation.filter(|_| !labelled_signature)?;
            return Some((
                used(&referrer),
                claimed,
                Err((Rejection::Unreadable(why.clone()), None)),
            ));
        }
    };
    let parsed = match bundle_ref.read(store).await {
        Ok(b) => b,
        Err(why) => {
            let claimed = claimed_by_annotation.filter(|_| !labelled_signature)?;
            return Some((
                used(&layer.digest),
                claimed,
                Err((Rejection::Unreadable(why), None)),
            ));
        }
    };
    let unsigned_type = attest::unverified_statement(&parsed.envelope)
        .and_then(|s| s["predicateType"].as_str().map(str::to_string))
        .unwrap_or_default();
    if is_signature(&unsigned_type) && (labelled_signature || claimed_by_annotation.is_none()) {
        return None;
    }
    let claimed = claimed_by_annotation.unwrap_or(unsigned_type);
    let opened = if parsed.has_certificate {
        crate::evidence::open_certified(&parsed, digest, trust)
    } else {
        attest::open_envelope(&parsed.envelope, trust).and_then(|(statement, signer)| {
            match trust.key_log() {
                Some(log) => {
                    let check =
                        crate::evidence::keyless::check_key_log(&parsed, digest, signer, log);
                    if check.passed {
                        Ok((statement, signer.name().to_string()))
                    } else {
                        Err(Rejection::Invalid(format!(
                            "{}: {}",
                            check.name, check.detail
                        )))
                    }
                }
                None => Ok((statement, signer.name().to_string())),
            }
        })
    };
    let outcome = match opened {
        Err(e) => Err((e, None)),
        Ok((statement, signer)) => {
            let signed_type = statement["predicateType"].as_str().map(String::from);
            let invalid = |why: String| Err((Rejection::Invalid(why), signed_type.clone()));
            if !attest::names_digest(&statement, digest) {
                invalid(format!(
                    "the statement is about {}, not {digest}",
                    crate::evidence::signatures::statement_subjects(&statement)
                ))
            } else if signed_type.as_deref() != Some(claimed.as_str()) {
                invalid(format!(
                    "the referrer's predicate type annotation `{claimed}` differs from the statement's `{}`",
                    signed_type.as_deref().unwrap_or("")
                ))
            } else {
                Ok((statement, signer))
            }
        }
    };
    Some((used(&layer.digest), claimed, outcome))
}

/// One layer: its statement, or why not (with the statement's type when the key signed it).
async fn check_layer(
    store: &Store,
    desc: &Descriptor,
    digest: &Digest,
    trust: &Trust,
    annotated: &str,
) -> Opened {
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
    let (statement, signer) = attest::open_signed(&bytes, trust).map_err(|e| (e, None))?;
    if let Some(log) = trust.key_log() {
        return Err((
            Rejection::Invalid(format!(
                "a legacy `.att` layer carries no log entry cleanpipe verifies, and attestations must be logged under {}",
                log.source
            )),
            None,
        ));
    }
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
    Ok((statement, signer.name().to_string()))
}
