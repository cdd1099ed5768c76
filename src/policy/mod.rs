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
pub use attestations::{attestations_of_type, attestations_of_types, OfType};
pub mod file;
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
use crate::oci::types::{Descriptor, Digest, Manifest, Platform};
use crate::scan::gate::Threshold;
use crate::sign::attest;
use crate::sign::trust::Trust;

use attestations::{check_attestations, Evidence};
use provenance::evaluate_provenance;
use scan::evaluate_scan;
pub use scan::{VexAttestation, VexSuppressed, VexVerdict};

/// What must hold besides a valid signature. The default requires nothing more.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub require_provenance: bool,
    /// The provenance's source repository (compared without `.git` and trailing `/`).
    pub source_repo: Option<String>,
    /// The provenance's commit (a full SHA, or a prefix of at least 7 characters).
    pub commit: Option<String>,
    /// Builder ids; every provenance must name one of them (none given: any builder).
    pub builder_ids: Vec<String>,
    /// Globs the provenance's source ref must match one of (none given: any ref).
    pub refs: Vec<String>,
    /// A provenance from a dirty work tree passes the source rules (repository, commit, ref)
    /// only when true (a policy file's `provenance.allow_dirty`).
    pub allow_dirty: bool,
    /// Images the build may have used (`None`: any); see [`BasePattern`].
    pub base_allow: Option<Vec<BasePattern>>,
    pub require_sbom: bool,
    /// Predicate types of which at least one attestation must verify. A verification summary
    /// among them must also have PASSED, be about this image and match `require_vsa`.
    pub require_types: Vec<String>,
    /// What a required verification summary must name (a policy file's `require.vsa`).
    pub require_vsa: Option<VsaPins>,
    /// An attested scan result with no unwaived finding at or above this severity.
    pub fail_on: Option<Threshold>,
    /// The newest attested scan may be at most this many seconds old (implies a scan).
    pub max_scan_age: Option<u64>,
    /// Every attested scan's database may have been at most this many seconds old when the
    /// scan ran (its recorded fetch time to `scanFinishedOn`; implies a scan).
    pub max_db_age: Option<u64>,
    /// Accept a scan whose coverage is incomplete (packages it could not check) or not
    /// recorded (an external scanner's, or one made before cleanpipe recorded coverage).
    pub allow_incomplete_coverage: bool,
    /// Today as `YYYY-MM-DD` (UTC), passed in: an attested waiver counts only until it expires.
    /// Empty means no waiver counts.
    pub today: String,
    /// Now in Unix seconds, passed in, for `max_scan_age`.
    pub now: i64,
    /// The policy file this came from, for the verification summary.
    pub document: Option<PolicyDocument>,
    /// For an index: check only this platform's image (default: every platform it lists).
    pub platform: Option<Platform>,
}

/// What a required verification summary must name besides PASSED and this image; `None`
/// pins nothing.
#[derive(Clone, Debug, Default)]
pub struct VsaPins {
    pub policy_digest: Option<Digest>,
    pub policy_uri: Option<String>,
    pub verifier_id: Option<String>,
}

/// The file a policy was read from: what a VSA names as its policy.
#[derive(Clone, Debug)]
pub struct PolicyDocument {
    pub uri: String,
    pub digest: Digest,
    /// The file itself names the commit (`provenance.commit`), so its digest covers it.
    pub commit_in_file: bool,
}

impl Policy {
    pub fn needs_provenance(&self) -> bool {
        self.require_provenance
            || self.source_repo.is_some()
            || self.commit.is_some()
            || !self.builder_ids.is_empty()
            || !self.refs.is_empty()
            || self.base_allow.is_some()
    }

    /// Whether an attested scan is required (for a threshold, or for its age).
    pub fn needs_scan(&self) -> bool {
        self.fail_on.is_some() || self.max_scan_age.is_some() || self.max_db_age.is_some()
    }
}

/// An allowed base image: a glob over `registry/repository` (or `oci:DIR` for a layout base; `*`
/// within one path segment, `**` across them), optionally pinned to one digest with `@sha256:…`. Tags are not matched: they
/// move, and the provenance's digest is what was used.
#[derive(Clone, Debug)]
pub struct BasePattern {
    pub text: String,
    name: glob::Pattern,
    digest: Option<Digest>,
}

/// Why an allowed-base pattern is refused.
#[derive(Debug, thiserror::Error)]
pub enum BasePatternError {
    #[error("`{digest}` in `{text}` is not `sha256:<64 hex>`")]
    Digest { text: String, digest: String },
    #[error("`{0}` names no image")]
    NoImage(String),
    #[error("`{text}` is not a glob")]
    Glob {
        text: String,
        #[source]
        source: glob::PatternError,
    },
}

impl BasePattern {
    pub fn parse(text: &str) -> std::result::Result<Self, BasePatternError> {
        let (name, digest) = match text.split_once('@') {
            Some((name, d)) => (
                name,
                Some(Digest::parse(d).map_err(|_| BasePatternError::Digest {
                    text: text.to_string(),
                    digest: d.to_string(),
                })?),
            ),
            None => (text, None),
        };
        if name.is_empty() {
            return Err(BasePatternError::NoImage(text.to_string()));
        }
        let name = glob::Pattern::new(name).map_err(|source| BasePatternError::Glob {
            text: text.to_string(),
            source,
        })?;
        Ok(BasePattern {
            text: text.to_string(),
            name,
            digest,
        })
    }

    /// Whether the image `name` (`registry/repository`) at `digest` is allowed.
    pub fn allows(&self, name: &str, digest: Option<&Digest>) -> bool {
        // `*` never crosses `/` nor matches a leading `.` (so `oci:bases/*` is not `oci:bases/..`).
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        self.name.matches_with(name, options)
            && self.digest.as_ref().is_none_or(|d| Some(d) == digest)
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
    /// The verified manifest as a descriptor (what evidence about it is attached to).
    #[serde(skip)]
    pub subject: Descriptor,
    /// True when the signature and every policy check passed.
    pub verified: bool,
    pub signatures: VerifyReport,
    pub attestations: Vec<AttestationCheck>,
    /// The claims of the provenance the checks read (the last one when several verify).
    pub provenance: Option<crate::sign::provenance::Claims>,
    pub policy: Vec<PolicyCheck>,
    /// What VEX attested to the image decided about the attested scans' findings: the
    /// trusted documents, the findings they suppressed (with statement, document digest and
    /// signer), and the VEX attestations ignored as not signed by a trusted signer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex: Option<VexVerdict>,
    /// For an index: the verdict on each platform image checked (the policy applies to them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformVerdict>,
    /// For an index checked for one platform only (`--platform`).
    #[serde(skip)]
    pub only_platform: bool,
}

/// One platform image of an index and its verdict.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformVerdict {
    pub platform: String,
    pub verdict: Verdict,
}

impl Verdict {
    /// The names of the policy checks that failed, each once, in order; for an index, the
    /// failed checks of each platform image too (`linux/arm64: provenance`).
    pub fn failed_rules(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: String| {
            if !names.contains(&name) {
                names.push(name);
            }
        };
        for c in self.policy.iter().filter(|c| !c.passed) {
            add(c.name.to_string());
        }
        for p in &self.platforms {
            if !p.verdict.signatures.verified {
                add(format!("{}: signature", p.platform));
            }
            for rule in p.verdict.failed_rules() {
                add(format!("{}: {rule}", p.platform));
            }
        }
        names
    }

    /// What a deploy of this verdict runs: the verified image; for an index verified for one
    /// platform only, that platform's image (never the index, whose other images were not
    /// checked).
    pub fn deployed(&self) -> (&Digest, &Descriptor) {
        match self.platforms.as_slice() {
            [one] if self.only_platform => (&one.verdict.digest, &one.verdict.subject),
            _ => (&self.digest, &self.subject),
        }
    }
}

/// Resolve `image` to a digest (a tag is resolved first; the digest is what gets checked), check
/// its signatures and attestations against `trust`, and apply `policy`.
pub async fn verify_image(
    image: &ImageRef,
    trust: &Trust,
    remote: &RemoteOptions,
    policy: &Policy,
) -> Result<Verdict> {
    let store = Store::for_image(image, remote)?;
    let resolved = store.resolve(image).await?;
    if resolved.is_index() {
        return verify_index(&store, image, resolved, trust, policy).await;
    }
    let name = image.to_string();
    verify_resolved(&store, name.clone(), &name, resolved, trust, policy, None).await
}

/// What an index's own evidence passes to each platform image it lists: its digest and the
/// VEX attested to it (trusted, or failing its own check), which speak for those images too.
struct FromIndex<'a> {
    digest: &'a Digest,
    evidence: &'a Evidence,
}

/// Every signature and attestation about `digest`, found once and checked against `trust`.
async fn read_evidence(
    store: &Store,
    digest: &Digest,
    trust: &Trust,
) -> Result<(VerifyReport, Evidence)> {
    let found = discover(store, digest).await?;
    let signatures = check_signatures(store, &found, trust).await?;
    let evidence = check_attestations(store, &found, trust).await?;
    Ok((signatures, evidence))
}

/// One image manifest: its signatures, attestations and the policy on them.
async fn verify_resolved(
    store: &Store,
    name: String,
    reference: &str,
    resolved: Resolved,
    trust: &Trust,
    policy: &Policy,
    index: Option<FromIndex<'_>>,
) -> Result<Verdict> {
    let (signatures, mut evidence) = read_evidence(store, &resolved.digest, trust).await?;
    if let Some(index) = &index {
        let is_vex = |t: &str| t == crate::scan::vex::PREDICATE_OPENVEX;
        evidence.trusted.extend(
            index
                .evidence
                .trusted
                .iter()
                .filter(|t| is_vex(&t.predicate_type))
                .cloned(),
        );
        evidence.failed.extend(
            index
                .evidence
                .failed
                .iter()
                .filter(|f| f.types.iter().any(|t| is_vex(t)))
                .cloned(),
        );
    }
    let mut checks = Vec::new();
    if let Store::Layout(layout) = store {
        // Hashing every layer is blocking work.
        let (layout, image) = (layout.clone(), resolved.clone());
        checks.push(
            tokio::task::spawn_blocking(move || check_image_blobs(&layout, &image))
                .await
                .map_err(|e| {
                    crate::Error::environment("checking the image blobs failed").caused_by(e)
                })?,
        );
    }
    let judged = judge(
        policy,
        &evidence,
        reference,
        &resolved.digest,
        index.as_ref().map(|i| i.digest),
    );
    checks.extend(judged.checks);
    Ok(Verdict {
        image: name,
        subject: resolved.descriptor(),
        digest: resolved.digest,
        verified: signatures.verified && checks.iter().all(|c| c.passed),
        signatures,
        attestations: evidence.checks,
        provenance: judged.provenance,
        policy: checks,
        vex: judged.vex,
        platforms: vec![],
        only_platform: false,
    })
}

/// What the policy says about one image's attestations: the requirement checks in order, the
/// claims of the provenance read, and what attested VEX decided.
struct Judgement {
    checks: Vec<PolicyCheck>,
    provenance: Option<crate::sign::provenance::Claims>,
    vex: Option<VexVerdict>,
}

/// Apply `policy` to the evidence already read about `digest` (`reference` names the image for
/// VEX statements). No store and no network: [`verify_resolved`] reads, this judges.
/// `index`: the index the image was reached through, whose digest VEX statements may name.
fn judge(
    policy: &Policy,
    evidence: &Evidence,
    reference: &str,
    digest: &Digest,
    index: Option<&Digest>,
) -> Judgement {
    let mut checks = Vec::new();
    if let Some(problem) = &evidence.manifest_problem {
        checks.push(check("attestations", false, problem.clone(), vec![]));
    }
    let (provenance_checks, claims) = evaluate_provenance(policy, evidence);
    checks.extend(provenance_checks);
    checks.extend(evaluate_sbom(policy, evidence));
    checks.extend(evaluate_required_types(policy, evidence, digest));
    let mut image = crate::scan::vex::Image::of(reference, digest);
    if let Some(index) = index {
        image = image.via_index(index);
    }
    let (scan_checks, vex) = evaluate_scan(policy, evidence, &image);
    checks.extend(scan_checks);
    Judgement {
        checks,
        provenance: claims,
        vex,
    }
}

/// An image index: its own signatures, then each image it lists (or, with `policy.platform`,
/// the one image for that platform) with the policy applied to that image's own attestations.
/// A trusted signature on the index covers the images it lists by digest; an unsigned index
/// verifies only one platform image (`--platform`) that is signed itself, and then that image,
/// not the index, is what the verdict is about. Entries without a platform are checked too
/// (runtimes pick them for platforms the index does not name), except BuildKit's attestation
/// manifests, which are listed. Attestations a trusted key signed about the index itself that
/// fail their own check fail the verdict.
async fn verify_index(
    store: &Store,
    image: &ImageRef,
    resolved: Resolved,
    trust: &Trust,
    policy: &Policy,
) -> Result<Verdict> {
    let (signatures, index_evidence) = read_evidence(store, &resolved.digest, trust).await?;
    let index = crate::oci::types::Index::from_slice(&resolved.bytes, &image.to_string())?;
    let is_attestation_manifest = |d: &Descriptor| {
        d.annotations
            .get("vnd.docker.reference.type")
            .map(String::as_str)
            == Some("attestation-manifest")
    };
    let mut skipped = Vec::new();
    let mut entries: Vec<(String, &Descriptor)> = Vec::new();
    for d in &index.manifests {
        match (Platform::of(d), &policy.platform) {
            (Some(p), Some(want)) if want.accepts(&p) => entries.push((p.to_string(), d)),
            (Some(_), Some(_)) => {}
            (Some(p), None) => entries.push((p.to_string(), d)),
            (None, _) if is_attestation_manifest(d) => {
                skipped.push(format!("{} (an attestation manifest)", d.digest))
            }
            (None, Some(_)) => {}
            (None, None) => entries.push(("(no platform)".to_string(), d)),
        }
    }
    if let Some(want) = &policy.platform {
        let mut digests: Vec<&Digest> = entries.iter().map(|(_, d)| &d.digest).collect();
        digests.sort();
        digests.dedup();
        if digests.is_empty() {
            let have: Vec<String> = index
                .manifests
                .iter()
                .filter_map(Platform::of)
                .map(|p| p.to_string())
                .collect();
            return Err(crate::Error::usage(format!(
                "{image} is an index without a {want} image (it has: {})",
                have.join(", ")
            )));
        }
        if digests.len() > 1 {
            return Err(crate::Error::usage(format!(
                "{image}: {} different images match {want} ({}); name the variant",
                digests.len(),
                entries
                    .iter()
                    .map(|(p, d)| format!("{p} {}", d.digest))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_hint("e.g. `--platform linux/arm/v7`"));
        }
        entries.truncate(1);
    }
    let mut platforms = Vec::new();
    let mut notes = Vec::new();
    for (platform, entry) in entries {
        let name = format!("{image} {platform}");
        let Some(child) = store.manifest_by_digest(&entry.digest).await? else {
            notes.push(format!("{platform}: {} is not there", entry.digest));
            continue;
        };
        if child.is_index() {
            notes.push(format!(
                "{platform}: {} is itself an index (nested indexes are not supported)",
                entry.digest
            ));
            continue;
        }
        let mut verdict = Box::pin(verify_resolved(
            store,
            name,
            &image.to_string(),
            child,
            trust,
            policy,
            Some(FromIndex {
                digest: &resolved.digest,
                evidence: &index_evidence,
            }),
        ))
        .await?;
        if !verdict.signatures.verified && signatures.verified {
            verdict.signatures.verified = true;
            verdict.signatures.summary = format!(
                "covered by the index {}, {}",
                resolved.digest, signatures.summary
            );
            verdict.verified = verdict.policy.iter().all(|c| c.passed);
        }
        platforms.push(PlatformVerdict { platform, verdict });
    }
    let failed: Vec<String> = platforms
        .iter()
        .filter(|p| !p.verdict.verified)
        .map(|p| p.platform.clone())
        .chain(notes.iter().cloned())
        .collect();
    let covered = signatures.verified || policy.platform.is_some();
    let passed = covered && !platforms.is_empty() && failed.is_empty();
    let mut detail = if !covered {
        "the index itself is not signed by a trusted signer; verify one platform image that is signed itself with `--platform`".to_string()
    } else if platforms.is_empty() && notes.is_empty() {
        "the index lists no images".to_string()
    } else if failed.is_empty() {
        format!(
            "{} verified",
            platforms
                .iter()
                .map(|p| p.platform.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("not verified: {}", failed.join("; "))
    };
    if !skipped.is_empty() {
        detail.push_str(&format!("; not checked: {}", skipped.join(", ")));
    }
    let mut checks = vec![check("platform images", passed, detail, vec![])];
    // What a trusted key signed about the index itself and is wrong counts against it.
    if let Some(problem) = &index_evidence.manifest_problem {
        checks.push(check("index attestations", false, problem.clone(), vec![]));
    } else if !index_evidence.failed.is_empty() {
        checks.push(check(
            "index attestations",
            false,
            index_evidence
                .failed
                .iter()
                .map(|f| format!("{} fails its own check: {}", f.used, f.why))
                .collect::<Vec<_>>()
                .join("; "),
            index_evidence
                .failed
                .iter()
                .map(|f| f.used.clone())
                .collect(),
        ));
    }
    let verified = checks.iter().all(|c| c.passed);
    Ok(Verdict {
        image: image.to_string(),
        subject: resolved.descriptor(),
        digest: resolved.digest,
        verified,
        signatures,
        attestations: index_evidence.checks,
        provenance: None,
        policy: checks,
        vex: None,
        platforms,
        only_platform: policy.platform.is_some(),
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
    let kind = crate::oci::types::document_kind(&value, Some(&resolved.media_type));
    if let Err(why) = &kind {
        return fail(format!("the manifest is refused: {why}"));
    }
    if kind == Ok(crate::oci::types::DocumentKind::Index) {
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
        Err(e) => {
            return fail(format!(
                "the image manifest is malformed: {}",
                crate::error::one_line(&e)
            ))
        }
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

/// `require.attestations` of a policy file: at least one verified attestation of each type, and
/// (as for every requirement) no failed one of it. A verification summary is evidence only as
/// [`vsa::evaluate`] says.
fn evaluate_required_types(
    policy: &Policy,
    evidence: &Evidence,
    digest: &Digest,
) -> Vec<PolicyCheck> {
    policy
        .require_types
        .iter()
        .map(
            |t| match evidence.select(&[t.as_str()], "required attestation", t) {
                Err(fail) => fail,
                Ok(trusted) if t == vsa::PREDICATE_VSA => {
                    vsa::evaluate(&trusted, digest, policy.require_vsa.as_ref())
                }
                Ok(trusted) => check(
                    "required attestation",
                    true,
                    format!("{t}: {}", attestations::used_list(&trusted)),
                    trusted.iter().map(|t| t.used.clone()).collect(),
                ),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests;
