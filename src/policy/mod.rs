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

use serde::Serialize;

use crate::error::Result;
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::remote::RemoteOptions;
use crate::oci::store::{Resolved, Store};
use crate::oci::types::{Descriptor, Digest, Manifest};
use crate::pipeline::model::Severity as Threshold;
use crate::scan::external::{self, Tool};
use crate::scan::Severity;
use crate::sign::attest::{self, Rejection, DSSE_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION};
use crate::sign::cosign::MAX_SIGNATURE_LAYERS;
use crate::sign::keys::PublicKey;
use crate::sign::provenance;
use crate::sign::verify::{evidence_manifest, verify_signatures, VerifyReport};

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
    pub layer: usize,
    pub digest: Digest,
}

impl std::fmt::Display for UsedAttestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "attestation layer {}, {}", self.layer, self.digest)
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
    let evidence = check_attestations(&store, &resolved.digest, key).await?;
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

/// An attestation that verified with the key.
struct Trusted {
    used: UsedAttestation,
    /// The statement's (signed) predicate type.
    predicate_type: String,
    statement: serde_json::Value,
}

/// An attestation that failed its own check in a way that counts against its types.
struct Failed {
    used: UsedAttestation,
    /// The annotated type and, when signed with the key, the statement's type.
    types: Vec<String>,
    why: String,
}

/// Everything `.att` holds, sorted by how much it weighs.
#[derive(Default)]
struct Evidence {
    checks: Vec<AttestationCheck>,
    trusted: Vec<Trusted>,
    failed: Vec<Failed>,
    /// Layers of a well-formed envelope this key did not sign, by predicate type annotation.
    not_this_key: Vec<String>,
    /// The `.att` manifest itself cannot be used.
    manifest_problem: Option<String>,
}

impl Evidence {
    /// The trusted attestations of `types`, or why a requirement on them fails.
    fn select(
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

fn used_list(trusted: &[&Trusted]) -> String {
    trusted
        .iter()
        .map(|t| t.used.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check every layer of the `.att` manifest.
async fn check_attestations(store: &Store, digest: &Digest, key: &PublicKey) -> Result<Evidence> {
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

fn normalize_repo(url: &str) -> String {
    url.trim()
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase()
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

/// The provenance checks, and the claims of the last trusted provenance.
fn evaluate_provenance(
    policy: &Policy,
    evidence: &Evidence,
) -> (Vec<PolicyCheck>, Option<provenance::Claims>) {
    let all: Vec<(&Trusted, provenance::Claims)> = evidence
        .trusted
        .iter()
        .filter(|t| t.predicate_type == attest::PREDICATE_SLSA_PROVENANCE_V1)
        .map(|t| (t, provenance::claims(&t.statement["predicate"])))
        .collect();
    let last = all.last().map(|(_, c)| c.clone());
    if !policy.needs_provenance() {
        return (vec![], last);
    }
    let trusted = match evidence.select(
        &[attest::PREDICATE_SLSA_PROVENANCE_V1],
        "provenance",
        "SLSA v1 provenance",
    ) {
        Ok(t) => t,
        Err(fail) => return (vec![fail], last),
    };
    let used: Vec<UsedAttestation> = trusted.iter().map(|t| t.used.clone()).collect();
    let mut out = vec![check(
        "provenance",
        true,
        format!(
            "SLSA v1 provenance by {} ({})",
            all.iter()
                .map(|(_, c)| c.builder_id.as_deref().unwrap_or("an unnamed builder"))
                .collect::<Vec<_>>()
                .join(", "),
            used_list(&trusted)
        ),
        used.clone(),
    )];
    // Every trusted provenance must say what the policy wants.
    let mut field = |name: &'static str,
                     want: &str,
                     get: &dyn Fn(&provenance::Claims) -> Option<String>,
                     ok: &dyn Fn(&str) -> bool| {
        let said: Vec<(String, bool, &UsedAttestation)> = all
            .iter()
            .map(|(t, c)| {
                let got = get(c).unwrap_or_default();
                let passed = !got.is_empty() && ok(&got);
                (got, passed, &t.used)
            })
            .collect();
        let passed = said.iter().all(|(_, p, _)| *p);
        let detail = if said.len() == 1 {
            format!(
                "provenance says `{}`, policy wants `{want}` ({})",
                said[0].0, said[0].2
            )
        } else {
            format!(
                "policy wants `{want}`; {}",
                said.iter()
                    .map(|(g, _, u)| format!("{u} says `{g}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push(check(name, passed, detail, used.clone()));
    };
    if let Some(want) = &policy.source_repo {
        field(
            "source repository",
            want,
            &|c| c.repository.clone(),
            &|got| normalize_repo(got) == normalize_repo(want),
        );
    }
    if let Some(want) = &policy.commit {
        field("source commit", want, &|c| c.commit.clone(), &|got| {
            want.len() >= 7 && got.starts_with(want.as_str())
        });
    }
    if let Some(want) = &policy.builder_id {
        field("builder", want, &|c| c.builder_id.clone(), &|got| {
            got == want
        });
    }
    (out, last)
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

fn evaluate_scan(policy: &Policy, evidence: &Evidence) -> Option<PolicyCheck> {
    let threshold = policy.fail_on?;
    let trusted = match evidence.select(&[attest::PREDICATE_VULN], "vulnerabilities", "scan result")
    {
        Ok(t) => t,
        Err(fail) => return Some(fail),
    };
    let used: Vec<UsedAttestation> = trusted.iter().map(|t| t.used.clone()).collect();
    let mut failing = Vec::new();
    let mut notes = Vec::new();
    let mut total = 0;
    for t in &trusted {
        match read_scan(&t.statement["predicate"], &policy.today) {
            Err(why) => {
                return Some(check(
                    "vulnerabilities",
                    false,
                    format!(
                        "{} holds a scan result cleanpipe cannot read: {why}",
                        t.used
                    ),
                    vec![t.used.clone()],
                ))
            }
            Ok(scan) => {
                total += scan.findings.len();
                notes.extend(scan.notes.iter().map(|n| format!("{n} ({})", t.used)));
                failing.extend(
                    scan.findings
                        .iter()
                        .filter(|f| !f.waived && f.severity.trips(threshold))
                        .map(|f| {
                            format!(
                                "{} ({}) in {} {} ({})",
                                f.id,
                                f.severity.as_str(),
                                f.package,
                                f.version,
                                t.used
                            )
                        }),
                );
            }
        }
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("; {}", notes.join("; "))
    };
    Some(check(
        "vulnerabilities",
        failing.is_empty(),
        if failing.is_empty() {
            format!(
                "{total} attested finding(s) in {}, none unwaived at or above the threshold{notes}",
                used_list(&trusted)
            )
        } else {
            format!("at or above the threshold: {}{notes}", failing.join("; "))
        },
        used,
    ))
}

/// One finding as the policy sees it.
struct ScanFinding {
    id: String,
    severity: Severity,
    package: String,
    version: String,
    /// Covered by a waiver that has not expired.
    waived: bool,
}

/// The findings of one attested scan, and what the reader noticed (expired waivers).
struct ScanRead {
    findings: Vec<ScanFinding>,
    notes: Vec<String>,
}

/// Read a vuln predicate: cosign's shape (`scanner.result`) holding cleanpipe's scan report,
/// trivy's JSON or grype's JSON. Anything else, or a field of an unexpected type, is an error.
fn read_scan(predicate: &serde_json::Value, today: &str) -> std::result::Result<ScanRead, String> {
    let result = predicate
        .pointer("/scanner/result")
        .ok_or("`predicate.scanner.result` is missing")?;
    let obj = result
        .as_object()
        .ok_or("`predicate.scanner.result` is not a JSON object")?;
    if obj.contains_key("findings") {
        return read_cleanpipe_scan(result, today);
    }
    let tool = if obj.contains_key("Results") || obj.contains_key("SchemaVersion") {
        Tool::Trivy
    } else if obj.contains_key("matches") {
        Tool::Grype
    } else {
        return Err("`predicate.scanner.result` is neither cleanpipe's scan report (`findings`), trivy's JSON (`Results`) nor grype's JSON (`matches`)".into());
    };
    let bytes = serde_json::to_vec(result).expect("JSON value serializes");
    let report = external::parse_report(tool, &bytes, &[], &[])
        .map_err(|e| format!("as {} JSON: {e}", tool.name()))?;
    Ok(ScanRead {
        findings: report
            .findings
            .into_iter()
            .map(|f| ScanFinding {
                id: f.id,
                severity: f.severity,
                package: f.package,
                version: f.version,
                waived: false,
            })
            .collect(),
        notes: vec![],
    })
}

fn read_cleanpipe_scan(
    result: &serde_json::Value,
    today: &str,
) -> std::result::Result<ScanRead, String> {
    #[derive(serde::Deserialize)]
    struct Attested {
        id: String,
        severity: String,
        #[serde(default)]
        package: String,
        #[serde(default)]
        version: String,
        #[serde(default)]
        waived: Option<String>,
        #[serde(default)]
        waiver_expires: Option<String>,
    }
    let findings: Vec<Attested> = serde_json::from_value(result["findings"].clone())
        .map_err(|e| format!("`findings` is not a list of findings: {e}"))?;
    let mut read = ScanRead {
        findings: Vec::new(),
        notes: Vec::new(),
    };
    for f in findings {
        let severity = match f.severity.to_ascii_lowercase().as_str() {
            "unknown" | "negligible" => Severity::Unknown,
            label => match Severity::from_label(label) {
                Severity::Unknown => {
                    return Err(format!(
                        "finding {} has severity `{}`, which is not a severity",
                        f.id, f.severity
                    ))
                }
                known => known,
            },
        };
        let waived = match (&f.waived, &f.waiver_expires) {
            (None, _) => false,
            (Some(_), Some(expires)) if valid_date(expires) && !today.is_empty() => {
                if expires.as_str() >= today {
                    true
                } else {
                    read.notes.push(format!(
                        "the waiver for {} expired on {expires} and no longer applies",
                        f.id
                    ));
                    false
                }
            }
            (Some(_), _) => {
                read.notes.push(format!(
                    "the waiver for {} carries no valid expiry date and is not honoured",
                    f.id
                ));
                false
            }
        };
        read.findings.push(ScanFinding {
            id: f.id,
            severity,
            package: f.package,
            version: f.version,
            waived,
        });
    }
    Ok(read)
}

fn valid_date(s: &str) -> bool {
    time::Date::parse(
        s,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vuln(result: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"scanner": {"uri": "x", "result": result}})
    }

    #[test]
    fn reads_cleanpipe_trivy_and_grype_scan_results() {
        let r = read_scan(
            &vuln(serde_json::json!({"findings": [{"id": "A", "severity": "high"}]})),
            "2026-01-01",
        )
        .unwrap();
        assert_eq!(r.findings[0].severity, Severity::High);
        let r = read_scan(
            &vuln(serde_json::json!({"Results": [{"Vulnerabilities": [
                {"VulnerabilityID": "B", "PkgName": "p", "Severity": "CRITICAL"}]}]})),
            "2026-01-01",
        )
        .unwrap();
        assert_eq!(r.findings[0].severity, Severity::Critical);
        let r = read_scan(
            &vuln(
                serde_json::json!({"matches": [{"vulnerability": {"id": "C", "severity": "Medium"},
                "artifact": {"name": "p"}}]}),
            ),
            "2026-01-01",
        )
        .unwrap();
        assert_eq!(r.findings[0].severity, Severity::Medium);
    }

    #[test]
    fn unreadable_scan_results_are_errors() {
        for bad in [
            serde_json::json!({"scanner": {}}),
            vuln(serde_json::json!([])),
            vuln(serde_json::json!({"other": 1})),
            vuln(serde_json::json!({"findings": "none"})),
            vuln(serde_json::json!({"findings": [{"id": "A"}]})),
            vuln(serde_json::json!({"findings": [{"id": "A", "severity": "bad"}]})),
            vuln(serde_json::json!({"matches": {"a": 1}})),
            vuln(serde_json::json!({"Results": [{"Vulnerabilities": 3}]})),
        ] {
            assert!(read_scan(&bad, "2026-01-01").is_err(), "{bad}");
        }
    }

    #[test]
    fn attested_waivers_count_until_they_expire() {
        let p = vuln(
            serde_json::json!({"findings": [{"id": "A", "severity": "critical",
            "waived": "ok", "waiver_expires": "2026-06-30"}]}),
        );
        assert!(read_scan(&p, "2026-06-30").unwrap().findings[0].waived);
        let late = read_scan(&p, "2026-07-01").unwrap();
        assert!(!late.findings[0].waived);
        assert!(late.notes[0].contains("expired on 2026-06-30"));
        // No clock given: no waiver counts.
        assert!(!read_scan(&p, "").unwrap().findings[0].waived);
    }
}
