//! What `cleanpipe verify` checks before deploy, and how it explains the verdict.
//!
//! Always: at least one cosign signature of the exact digest verifies with the given key. Every
//! attestation in `sha256-<hex>.att` is checked too (DSSE signature with the same key, statement
//! about this digest) and listed. On top, a policy can require SLSA provenance from a source
//! repository, commit and builder, an attested SBOM, and an attested scan with nothing at or
//! above a severity; each requirement is a named check in the verdict.

use serde::Serialize;

use crate::error::Result;
use crate::oci::reference::ImageRef;
use crate::oci::remote::RemoteOptions;
use crate::oci::store::Store;
use crate::oci::types::{Digest, Manifest};
use crate::pipeline::model::Severity as Threshold;
use crate::scan::Severity;
use crate::sign::attest::{self, DSSE_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION};
use crate::sign::keys::PublicKey;
use crate::sign::provenance;
use crate::sign::verify::{verify_signatures, VerifyReport};

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
}

impl Policy {
    fn needs_provenance(&self) -> bool {
        self.require_provenance
            || self.source_repo.is_some()
            || self.commit.is_some()
            || self.builder_id.is_some()
    }
}

/// One attestation layer and whether it is trustworthy.
#[derive(Clone, Debug, Serialize)]
pub struct AttestationCheck {
    pub layer: usize,
    pub predicate_type: String,
    pub verified: bool,
    pub detail: String,
}

/// One policy requirement.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyCheck {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
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
    pub provenance: Option<provenance::Claims>,
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
    let signatures = verify_signatures(&store, &resolved.digest, key).await?;
    let (attestations, statements) = check_attestations(&store, &resolved.digest, key).await?;
    let claims = statements
        .iter()
        .find(|(t, _)| t == attest::PREDICATE_SLSA_PROVENANCE_V1)
        .map(|(_, s)| provenance::claims(&s["predicate"]));
    let checks = evaluate(policy, &statements, claims.as_ref());
    Ok(Verdict {
        image: image.to_string(),
        digest: resolved.digest,
        verified: signatures.verified && checks.iter().all(|c| c.passed),
        signatures,
        attestations,
        provenance: claims,
        policy: checks,
    })
}

/// Check every layer of the `.att` manifest; return the checks and the verified statements
/// (predicate type, statement).
async fn check_attestations(
    store: &Store,
    digest: &Digest,
    key: &PublicKey,
) -> Result<(Vec<AttestationCheck>, Vec<(String, serde_json::Value)>)> {
    let tag = digest.cosign_tag("att");
    let Some(found) = store.manifest_by_tag(&tag).await? else {
        return Ok((vec![], vec![]));
    };
    let manifest = Manifest::from_slice(&found.bytes, &tag)?;
    let mut checks = Vec::new();
    let mut statements = Vec::new();
    for (layer, desc) in manifest.layers.iter().enumerate().take(1000) {
        let annotated = desc
            .annotations
            .get(PREDICATE_TYPE_ANNOTATION)
            .cloned()
            .unwrap_or_default();
        let outcome: std::result::Result<serde_json::Value, String> = async {
            if desc.media_type != DSSE_MEDIA_TYPE {
                return Err(format!(
                    "media type `{}` is not a DSSE envelope",
                    desc.media_type
                ));
            }
            let bytes = store
                .read_blob(&desc.digest)
                .await
                .map_err(|e| e.to_string())?;
            let statement = attest::open(&bytes, key)?;
            if !attest::names_digest(&statement, digest) {
                return Err(format!("the statement is not about {digest}"));
            }
            if statement["predicateType"].as_str() != Some(annotated.as_str()) {
                return Err(
                    "the layer's predicateType annotation differs from the statement's".into(),
                );
            }
            Ok(statement)
        }
        .await;
        checks.push(AttestationCheck {
            layer,
            predicate_type: annotated.clone(),
            verified: outcome.is_ok(),
            detail: match &outcome {
                Ok(_) => format!("signed by {}", key.name()),
                Err(e) => e.clone(),
            },
        });
        if let Ok(statement) = outcome {
            statements.push((annotated, statement));
        }
    }
    Ok((checks, statements))
}

fn normalize_repo(url: &str) -> String {
    url.trim()
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase()
}

fn evaluate(
    policy: &Policy,
    statements: &[(String, serde_json::Value)],
    claims: Option<&provenance::Claims>,
) -> Vec<PolicyCheck> {
    let mut out = Vec::new();
    let check = |name, passed, detail: String| PolicyCheck {
        name,
        passed,
        detail,
    };
    if policy.needs_provenance() {
        match claims {
            None => out.push(check(
                "provenance",
                false,
                "no SLSA v1 provenance attestation verifies with this key".into(),
            )),
            Some(c) => {
                out.push(check(
                    "provenance",
                    true,
                    format!(
                        "SLSA v1 provenance by {}",
                        c.builder_id.as_deref().unwrap_or("an unnamed builder")
                    ),
                ));
                if let Some(want) = &policy.source_repo {
                    let got = c.repository.as_deref().unwrap_or("");
                    out.push(check(
                        "source repository",
                        !got.is_empty() && normalize_repo(got) == normalize_repo(want),
                        format!("provenance says `{got}`, policy wants `{want}`"),
                    ));
                }
                if let Some(want) = &policy.commit {
                    let got = c.commit.as_deref().unwrap_or("");
                    let ok = want.len() >= 7 && !got.is_empty() && got.starts_with(want.as_str());
                    out.push(check(
                        "source commit",
                        ok,
                        format!("provenance says `{got}`, policy wants `{want}`"),
                    ));
                }
                if let Some(want) = &policy.builder_id {
                    let got = c.builder_id.as_deref().unwrap_or("");
                    out.push(check(
                        "builder",
                        got == want,
                        format!("provenance says `{got}`, policy wants `{want}`"),
                    ));
                }
            }
        }
    }
    if policy.require_sbom {
        let sboms: Vec<&str> = statements
            .iter()
            .filter(|(t, _)| t == attest::PREDICATE_SPDX || t == attest::PREDICATE_CYCLONEDX)
            .map(|(t, _)| t.as_str())
            .collect();
        out.push(check(
            "SBOM",
            !sboms.is_empty(),
            if sboms.is_empty() {
                "no SPDX or CycloneDX attestation verifies with this key".into()
            } else {
                format!("attested: {}", sboms.join(", "))
            },
        ));
    }
    if let Some(threshold) = policy.fail_on {
        match statements.iter().find(|(t, _)| t == attest::PREDICATE_VULN) {
            None => out.push(check(
                "vulnerabilities",
                false,
                "no scan result attestation verifies with this key".into(),
            )),
            Some((_, s)) => {
                let findings = s["predicate"]["scanner"]["result"]["findings"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let failing: Vec<String> = findings
                    .iter()
                    .filter(|f| f["waived"].is_null())
                    .filter(|f| {
                        Severity::from_label(f["severity"].as_str().unwrap_or("")).trips(threshold)
                    })
                    .map(|f| {
                        format!(
                            "{} ({}) in {} {}",
                            f["id"].as_str().unwrap_or("?"),
                            f["severity"].as_str().unwrap_or("?"),
                            f["package"].as_str().unwrap_or("?"),
                            f["version"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                out.push(check(
                    "vulnerabilities",
                    failing.is_empty(),
                    if failing.is_empty() {
                        format!(
                            "{} attested finding(s), none unwaived at or above the threshold",
                            findings.len()
                        )
                    } else {
                        format!("at or above the threshold: {}", failing.join("; "))
                    },
                ));
            }
        }
    }
    out
}
