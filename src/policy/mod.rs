//! What `cleanpipe verify` checks before deploy, and how it explains the verdict.
//!
//! Always: at least one cosign signature of the exact digest verifies with the given key, and,
//! for an image in a layout, the manifest's config and layer blobs are present and match their
//! digests. Every attestation in `sha256-<hex>.att` is checked too (DSSE signature with the
//! same key, an in-toto Statement about this digest, annotation = statement type) and listed
//! with its layer index and digest. On top, a policy can require SLSA provenance from a source
//! repository, commit and builder, an attested SBOM, and an attested scan with nothing at or
//! above a severity; each requirement is a named check that names the attestations it read.
//!
//! Fail closed, with these rules for a predicate type a requirement depends on:
//! - every attestation of that type signed with the key is read, and **all must pass** (two
//!   scans: both must be clean; two provenances: both must name the wanted source). A newer
//!   clean scan cannot hide an older failing one, and replaying an old attestation never helps.
//! - a layer of that type that cannot be read (wrong media type, missing or corrupt blob, not
//!   a DSSE envelope) fails the requirement: nobody can say whose it is.
//! - a layer signed with the key whose statement is wrong (not an in-toto Statement, another
//!   subject, an annotation that differs from the statement's type) fails the requirement of
//!   both types: it is our key vouching for something that is not this image.
//! - a well-formed envelope that this key did not sign (another signer's, or a forgery) is
//!   listed but does not count for or against: the registry legitimately holds other signers'
//!   attestations, and only what this key signed is evidence for this key's policy.
//! - a scan predicate cleanpipe cannot read (unknown report shape, a field of an unexpected
//!   type, an unknown severity label) fails `vulnerabilities`, naming the layer.
//! - a waiver carried inside an attested scan counts only until its expiry date (compared
//!   with the `today` passed in).
//!
//! This module holds the policy, the verdict and [`verify_image`]; reading the `.att` layers is
//! `attestations`, the provenance requirements `provenance`, reading attested scans `scan`.

mod attestations;
mod provenance;
mod scan;
pub mod vsa;

use serde::Serialize;

use crate::error::Result;
use crate::evidence::{check_signatures, discover, VerifyReport};
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::remote::RemoteOptions;
use crate::oci::store::{Resolved, Store};
use crate::oci::types::{Digest, Manifest};
use crate::pipeline::model::Severity as Threshold;
use crate::sign::attest;
use crate::sign::keys::PublicKey;

use attestations::{check_attestations, Evidence};
use provenance::evaluate_provenance;
use scan::evaluate_scan;

/// What must hold besides a valid signature. The default requires nothing more.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub require_provenance: bool,
    /// The provenance's source repository (compared without `.git` and trailing `/`).
    pub source_repo: Option<String>,
    /// The provenance's commit (a full SHA, or a prefix of at least 7 characters).
    pub commit: Option<String>,
    pub builder_id: Option<String>,
    pub require_sbom: bool,
    /// An attested scan result with no unwaived finding at or above this severity.
    pub fail_on: Option<Threshold>,
    /// Today as `YYYY-MM-DD` (UTC), passed in: an attested waiver counts only until it expires.
    /// Empty means no waiver counts.
    pub today: String,
}

impl Policy {
    pub fn needs_provenance(&self) -> bool {
        self.require_provenance
            || self.source_repo.is_some()
            || self.commit.is_some()
            || self.builder_id.is_some()
    }
}

/// One attestation (a `.att` layer or a bundle) and whether it is trustworthy.
#[derive(Clone, Debug, Serialize)]
pub struct AttestationCheck {
    /// Where it was found.
    pub source: crate::evidence::Source,
    pub layer: usize,
    /// The layer's blob digest (the DSSE envelope).
    pub digest: Digest,
    pub predicate_type: String,
    pub verified: bool,
    pub outcome: Outcome,
    pub detail: String,
}

/// How one attestation layer weighs in the verdict (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Signed with the key and about this image: evidence.
    Verified,
    /// Not a readable DSSE envelope: fails a requirement on its annotated type.
    Unreadable,
    /// Another key's (or nobody's): listed, neither helps nor blocks.
    NotThisKey,
    /// Signed with the key but wrong for this image: fails requirements on its types.
    Invalid,
}

/// An attestation a policy check read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UsedAttestation {
    /// The layer of `.att`, or 0 for a bundle.
    pub layer: usize,
    /// The envelope's (or bundle's) blob digest.
    pub digest: Digest,
    /// The referrer manifest holding the bundle; `None` for a `.att` layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<Digest>,
}

impl std::fmt::Display for UsedAttestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.referrer {
            None => write!(f, "attestation layer {}, {}", self.layer, self.digest),
            Some(m) => write!(f, "attestation bundle {} in referrer {m}", self.digest),
        }
    }
}

/// One policy requirement.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyCheck {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
    /// The attestation layers this check read or failed on.
    pub attestations: Vec<UsedAttestation>,
}

/// The verdict on one image.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub image: String,
    pub digest: Digest,
    /// True when the signature and every policy check passed.
    pub verified: bool,
    pub signatures: VerifyReport,
    pub attestations: Vec<AttestationCheck>,
    /// The claims of the provenance the checks read (the last one when several verify).
    pub provenance: Option<crate::sign::provenance::Claims>,
    pub policy: Vec<PolicyCheck>,
}

/// Resolve `image` to a digest (a tag is resolved first; the digest is what gets checked), check
/// its signatures and attestations with `key`, and apply `policy`.
pub async fn verify_image(
    image: &ImageRef,
    key: &PublicKey,
    remote: &RemoteOptions,
    policy: &Policy,
) -> Result<Verdict> {
    let store = Store::for_image(image, remote)?;
    let resolved = store.resolve(image).await?;
    let found = discover(&store, &resolved.digest).await?;
    let signatures = check_signatures(&store, &found, key).await?;
    let evidence = check_attestations(&store, &found, key).await?;
    let mut checks = Vec::new();
    if let Store::Layout(layout) = &store {
        // Hashing every layer is blocking work.
        let (layout, image) = (layout.clone(), resolved.clone());
        checks.push(
            tokio::task::spawn_blocking(move || check_image_blobs(&layout, &image))
                .await
                .map_err(|e| {
                    crate::Error::environment(format!("checking the image blobs failed: {e}"))
                })?,
        );
    }
    if let Some(problem) = &evidence.manifest_problem {
        checks.push(check("attestations", false, problem.clone(), vec![]));
    }
    let (provenance_checks, claims) = evaluate_provenance(policy, &evidence);
    checks.extend(provenance_checks);
    checks.extend(evaluate_sbom(policy, &evidence));
    checks.extend(evaluate_scan(policy, &evidence));
    Ok(Verdict {
        image: image.to_string(),
        digest: resolved.digest,
        verified: signatures.verified && checks.iter().all(|c| c.passed),
        signatures,
        attestations: evidence.checks,
        provenance: claims,
        policy: checks,
    })
}

/// In a layout the image's own blobs are at hand: the config and every layer must be there and
/// match their digests (streamed, so big layers cost time, not memory). A registry serves blobs
/// by digest and cleanpipe checks them whenever it downloads one.
fn check_image_blobs(layout: &Layout, resolved: &Resolved) -> PolicyCheck {
    let fail = |detail: String| check("image blobs", false, detail, vec![]);
    let value: serde_json::Value = match serde_json::from_slice(&resolved.bytes) {
        Ok(v) => v,
        Err(e) => return fail(format!("the image manifest is not JSON: {e}")),
    };
    if value.get("manifests").is_some() {
        // An index: its child manifests are what deploys; their blobs are checked when each
        // platform image is verified.
        return check(
            "image blobs",
            true,
            "an index; verify each platform image for its blobs".into(),
            vec![],
        );
    }
    let manifest = match Manifest::from_slice(&resolved.bytes, &resolved.digest.to_string()) {
        Ok(m) => m,
        Err(e) => return fail(format!("the image manifest is malformed: {e}")),
    };
    if let Err(e) = layout.read_blob(&manifest.config.digest) {
        return fail(format!("config {}: {e}", manifest.config.digest));
    }
    for (index, layer) in manifest.layers.iter().enumerate() {
        let outcome = layout
            .open_verified_blob(layer)
            .map_err(|e| e.to_string())
            .and_then(|mut r| r.finish().map_err(|e| e.to_string()));
        if let Err(e) = outcome {
            return fail(format!("layer {index} ({}): {e}", layer.digest));
        }
    }
    check(
        "image blobs",
        true,
        format!(
            "config and {} layer(s) match their digests",
            manifest.layers.len()
        ),
        vec![],
    )
}

fn check(
    name: &'static str,
    passed: bool,
    detail: String,
    used: Vec<UsedAttestation>,
) -> PolicyCheck {
    PolicyCheck {
        name,
        passed,
        detail,
        attestations: used,
    }
}

fn evaluate_sbom(policy: &Policy, evidence: &Evidence) -> Option<PolicyCheck> {
    if !policy.require_sbom {
        return None;
    }
    Some(
        match evidence.select(
            &[attest::PREDICATE_SPDX, attest::PREDICATE_CYCLONEDX],
            "SBOM",
            "SPDX or CycloneDX",
        ) {
            Err(fail) => fail,
            Ok(trusted) => check(
                "SBOM",
                true,
                format!(
                    "attested: {}",
                    trusted
                        .iter()
                        .map(|t| format!("{} ({})", t.predicate_type, t.used))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                trusted.iter().map(|t| t.used.clone()).collect(),
            ),
        },
    )
}
