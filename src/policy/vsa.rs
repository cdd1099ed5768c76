//! A SLSA Verification Summary Attestation (VSA v1, docs/formats.md §5.2) of a verdict: what was
//! verified (the image digest), by whom (cleanpipe's verifier id), against which policy (the
//! checks asked for, by digest), from which attestations, and the result. Signed as a DSSE
//! envelope with `keyid` empty, which `slsa-verifier verify-vsa --public-key-path` reads.
//!
//! Read back as evidence ([`evaluate`]), a summary counts only when it says PASSED, is about
//! this very image and was signed by a trusted key; a FAILED one never satisfies a requirement.

use super::attestations::{used_list, Trusted};
use super::{check, Outcome, Policy, PolicyCheck, Verdict, VsaPins};
use crate::evidence::Source;
use crate::oci::types::Digest;
use crate::sign::trust::Trust;

pub const PREDICATE_VSA: &str = "https://slsa.dev/verification_summary/v1";
/// Who verified: `slsa-verifier verify-vsa --verifier-id` takes this.
pub const VERIFIER_ID: &str = "https://cleanpipe.dev/verifiers/cli/v1";
/// What the policy digest is computed over: the checks `cleanpipe verify` was asked for.
pub const POLICY_URI: &str = "https://cleanpipe.dev/policies/verify-flags/v1";

/// The policy as the VSA names it: the policy file (its URI and the digest of its bytes; the
/// CLI refuses to add checks or keys to a file when writing a VSA), or without a file,
/// canonical JSON of the checks asked for and the trusted keys. Returns (uri, digest).
pub fn policy_document(policy: &Policy, trust: &Trust) -> (String, Digest) {
    let mut flags = serde_json::json!({
        "keys": trust.keys().iter().map(|k| k.fingerprint()).collect::<Vec<_>>(),
        "requireProvenance": policy.needs_provenance(),
        "sourceRepo": policy.source_repo,
        "commit": policy.commit,
        "builderIds": policy.builder_ids,
        "refs": policy.refs,
        "bases": policy.base_allow.as_ref().map(|b| b.iter().map(|p| p.text.clone()).collect::<Vec<_>>()),
        "requireSbom": policy.require_sbom,
        "requireTypes": policy.require_types,
        "failOn": policy.fail_on.map(|t| t.as_str()),
        "platform": policy.platform.as_ref().map(|p| p.to_string()),
        "maxScanAgeSeconds": policy.max_scan_age,
    });
    // Keyless trust and a required key log are named only when present, so key-only summaries
    // keep their digest.
    if let Some(keyless) = trust.keyless() {
        flags["keyless"] = keyless.document();
    }
    if let Some(log) = trust.key_log() {
        flags["keyLogRoot"] = serde_json::json!(log.source);
    }
    // Relaxations and requirements only a policy file sets today, named when set so that a
    // summary never hides them (and key-only summaries keep their digest).
    if policy.allow_dirty {
        flags["allowDirty"] = serde_json::json!(true);
    }
    if policy.allow_incomplete_coverage {
        flags["allowIncompleteCoverage"] = serde_json::json!(true);
    }
    if let Some(pins) = &policy.require_vsa {
        flags["requireVsa"] = serde_json::json!({
            "policyDigest": pins.policy_digest,
            "policyUri": pins.policy_uri,
            "verifierId": pins.verifier_id,
        });
    }
    match &policy.document {
        Some(doc) => (doc.uri.clone(), doc.digest.clone()),
        None => {
            let bytes = serde_json::to_vec(&flags).expect("policy serializes");
            (POLICY_URI.to_string(), Digest::of(&bytes))
        }
    }
}

/// The summary's `policy` (a resource descriptor). A commit given on the command line beside a
/// policy file is part of what was checked: it is named in the descriptor's annotations, so a
/// summary never hides it (the file's digest stays the file's).
fn policy_descriptor(policy: &Policy, uri: &str, digest: &Digest) -> serde_json::Value {
    let mut d = serde_json::json!({"uri": uri, "digest": {"sha256": digest.hex()}});
    if let (Some(doc), Some(commit)) = (&policy.document, &policy.commit) {
        if !doc.commit_in_file {
            d["annotations"] = serde_json::json!({"commit": commit});
        }
    }
    d
}

/// The in-toto statement of the VSA about `verdict`'s digest, for `resource_uri` (the image as
/// `repo@sha256:…`), verified at `time` (RFC 3339).
pub fn statement(
    verdict: &Verdict,
    policy: &Policy,
    trust: &Trust,
    resource_uri: &str,
    time: &str,
) -> Vec<u8> {
    let (policy_uri, policy_digest) = policy_document(policy, trust);
    let inputs: Vec<serde_json::Value> = verdict
        .attestations
        .iter()
        .filter(|a| a.outcome == Outcome::Verified)
        .map(|a| {
            let uri = match &a.source {
                Source::LegacyTag { tag, layer } => format!("{resource_uri}#{tag}/layer/{layer}"),
                Source::Referrer { manifest, .. } => format!("{resource_uri}#referrer/{manifest}"),
            };
            serde_json::json!({"uri": uri, "digest": {"sha256": a.digest.hex()}})
        })
        .collect();
    let provenance_passed = verdict.verified
        && verdict
            .policy
            .iter()
            .any(|c| c.name == "provenance" && c.passed);
    let level = if provenance_passed {
        "SLSA_BUILD_LEVEL_1"
    } else {
        "SLSA_BUILD_LEVEL_0"
    };
    let predicate = serde_json::json!({
        "verifier": {"id": VERIFIER_ID, "version": {"cleanpipe": env!("CARGO_PKG_VERSION")}},
        "timeVerified": time,
        "resourceUri": resource_uri,
        "policy": policy_descriptor(policy, &policy_uri, &policy_digest),
        "inputAttestations": inputs,
        "verificationResult": if verdict.verified { "PASSED" } else { "FAILED" },
        "verifiedLevels": [level],
        "slsaVersion": "1.0",
    });
    let mut predicate = predicate;
    // The VEX statements that took attested findings out of the judgement (cleanpipe's
    // extension: which statement, which document, who signed it).
    if let Some(vex) = verdict.vex.as_ref().filter(|v| !v.suppressed.is_empty()) {
        predicate["vexStatements"] = serde_json::json!(vex
            .suppressed
            .iter()
            .map(|s| serde_json::json!({
                "finding": s.id,
                "package": s.package,
                "version": s.version,
                "status": s.vex.status,
                "statement": s.vex.statement,
                "document": {"uri": s.vex.document.path, "digest": s.vex.document.digest},
                "signer": s.vex.document.signer,
            }))
            .collect::<Vec<_>>());
    }
    let name = resource_uri.split('@').next().unwrap_or(resource_uri);
    // About what a deploy of this verdict runs: for an index verified for one platform, that
    // platform's image, never the index.
    let (subject, _) = verdict.deployed();
    crate::sign::attest::statement(name, subject, PREDICATE_VSA, &predicate)
}

/// A required verification summary: every trusted one must say PASSED about this image (a
/// FAILED one is a trusted verifier saying no, and never evidence), and at least one must name
/// what `pins` asks for. Summaries about other policies or verifiers do not count.
pub(super) fn evaluate(
    trusted: &[&Trusted],
    digest: &Digest,
    pins: Option<&VsaPins>,
) -> PolicyCheck {
    const NAME: &str = "required attestation";
    let used = trusted.iter().map(|t| t.used.clone()).collect::<Vec<_>>();
    let mut refused = Vec::new();
    let mut matching = Vec::new();
    let mut other = Vec::new();
    for t in trusted {
        let p = &t.statement["predicate"];
        let result = p["verificationResult"].as_str();
        if result != Some("PASSED") {
            refused.push(match result {
                Some(r) => format!("{} says `{r}`", t.used),
                None => format!("{} names no result", t.used),
            });
            continue;
        }
        let resource = p["resourceUri"].as_str().unwrap_or("");
        let about = resource.rsplit_once('@').map(|(_, d)| d);
        if about != Some(digest.to_string().as_str()) {
            refused.push(format!("{} is about `{resource}`, not {digest}", t.used));
            continue;
        }
        let mut differs = Vec::new();
        if let Some(pins) = pins {
            let field = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
            if let Some(want) = &pins.verifier_id {
                let got = field(&p["verifier"]["id"]);
                if &got != want {
                    differs.push(format!("verifier `{got}`"));
                }
            }
            if let Some(want) = &pins.policy_uri {
                let got = field(&p["policy"]["uri"]);
                if &got != want {
                    differs.push(format!("policy `{got}`"));
                }
            }
            if let Some(want) = &pins.policy_digest {
                let got = field(&p["policy"]["digest"]["sha256"]);
                if got != want.hex() {
                    differs.push(format!("policy digest `sha256:{got}`"));
                }
            }
        }
        if differs.is_empty() {
            matching.push(*t);
        } else {
            other.push(format!("{} names {}", t.used, differs.join(", ")));
        }
    }
    if !refused.is_empty() {
        return check(
            NAME,
            false,
            format!(
                "{PREDICATE_VSA}: only a summary that PASSED for this image is evidence: {}",
                refused.join("; ")
            ),
            used,
        );
    }
    if matching.is_empty() {
        let want = pins.map(describe).unwrap_or_default();
        return check(
            NAME,
            false,
            format!(
                "{PREDICATE_VSA}: no summary names {want}: {}",
                other.join("; ")
            ),
            used,
        );
    }
    let first = &matching[0].statement["predicate"];
    check(
        NAME,
        true,
        format!(
            "{PREDICATE_VSA}: PASSED for {digest} by `{}` against policy `{}` (sha256:{}) ({})",
            first["verifier"]["id"].as_str().unwrap_or(""),
            first["policy"]["uri"].as_str().unwrap_or(""),
            first["policy"]["digest"]["sha256"].as_str().unwrap_or(""),
            used_list(&matching)
        ),
        matching.iter().map(|t| t.used.clone()).collect(),
    )
}

/// What the pins ask for, for a failure message.
fn describe(pins: &VsaPins) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &pins.verifier_id {
        parts.push(format!("verifier `{v}`"));
    }
    if let Some(u) = &pins.policy_uri {
        parts.push(format!("policy `{u}`"));
    }
    if let Some(d) = &pins.policy_digest {
        parts.push(format!("policy digest `{d}`"));
    }
    parts.join(" and ")
}

/// Who signs a verification summary.
pub enum VsaSigner {
    Key(crate::sign::SigningKey),
    Keyless(Box<crate::sign::KeylessSigner>),
}

impl VsaSigner {
    /// The summary of `verdict` about `resource_uri` at `time`, signed: a DSSE envelope with a
    /// key (slsa-verifier's input), a Sigstore bundle keyless.
    pub async fn sign(
        &self,
        verdict: &Verdict,
        policy: &Policy,
        trust: &Trust,
        resource_uri: &str,
        time: &str,
    ) -> crate::error::Result<Vec<u8>> {
        let statement = statement(verdict, policy, trust, resource_uri, time);
        match self {
            VsaSigner::Key(key) => crate::sign::attest::envelope(&statement, key),
            VsaSigner::Keyless(k) => k.sign_statement(&statement).await,
        }
    }

    /// Attach the signed summary (`signed`, from [`VsaSigner::sign`]) to `subject` in `store`
    /// as a Sigstore bundle referrer; returns the referrer and where it is listed.
    pub async fn attach(
        &self,
        store: &crate::oci::store::Store,
        subject: &crate::oci::types::Descriptor,
        signed: &[u8],
        time: &str,
    ) -> crate::error::Result<(Digest, crate::oci::store::ReferrersPlace)> {
        let (bundle, key) = match self {
            VsaSigner::Key(key) => {
                let parsed: crate::sign::attest::Envelope =
                    serde_json::from_slice(signed).expect("an envelope cleanpipe wrote parses");
                (
                    crate::evidence::bundle::build(&parsed, key.public_key()),
                    Some(key.public_key()),
                )
            }
            VsaSigner::Keyless(_) => (signed.to_vec(), None),
        };
        crate::evidence::attach_bundle(store, subject, PREDICATE_VSA, bundle, time, key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(result: &str, about: &Digest, policy_sha: &str, layer: usize) -> Trusted {
        Trusted {
            used: crate::policy::UsedAttestation {
                layer,
                digest: Digest::of(format!("envelope {layer}").as_bytes()),
                referrer: None,
            },
            predicate_type: PREDICATE_VSA.into(),
            signer: "k".into(),
            statement: serde_json::json!({
                "predicateType": PREDICATE_VSA,
                "predicate": {
                    "verifier": {"id": VERIFIER_ID},
                    "resourceUri": format!("registry.example/app@{about}"),
                    "policy": {"uri": "file:///srv/policy.yaml", "digest": {"sha256": policy_sha}},
                    "verificationResult": result,
                }
            }),
        }
    }

    #[test]
    fn only_a_passed_summary_about_this_image_is_evidence() {
        let image = Digest::of(b"image");
        let other = Digest::of(b"other image");
        let sha = Digest::of(b"policy").hex().to_string();
        let passed = summary("PASSED", &image, &sha, 0);
        assert!(evaluate(&[&passed], &image, None).passed);
        // FAILED (however spelled, or missing) never counts, and fails the requirement even
        // beside a PASSED one.
        for result in ["FAILED", "passed", ""] {
            let s = summary(result, &image, &sha, 1);
            let c = evaluate(&[&s], &image, None);
            assert!(!c.passed, "{result}");
            let c = evaluate(&[&passed, &s], &image, None);
            assert!(
                !c.passed && c.detail.contains("only a summary that PASSED"),
                "{}",
                c.detail
            );
        }
        // About another image.
        let s = summary("PASSED", &other, &sha, 1);
        assert!(!evaluate(&[&s], &image, None).passed);
        // Pins: verifier and policy, by digest or URI.
        let pin = |digest: Option<&str>, uri: Option<&str>, verifier: Option<&str>| VsaPins {
            policy_digest: digest.map(|d| Digest::parse(d).unwrap()),
            policy_uri: uri.map(String::from),
            verifier_id: verifier.map(String::from),
        };
        let good = format!("sha256:{sha}");
        let bad = Digest::of(b"another policy").to_string();
        for (pins, ok) in [
            (pin(Some(&good), None, Some(VERIFIER_ID)), true),
            (pin(None, Some("file:///srv/policy.yaml"), None), true),
            (pin(Some(&bad), None, None), false),
            (pin(None, Some("file:///srv/other.yaml"), None), false),
            (
                pin(None, None, Some("https://other.example/verifier")),
                false,
            ),
        ] {
            let c = evaluate(&[&passed], &image, Some(&pins));
            assert_eq!(c.passed, ok, "{pins:?}: {}", c.detail);
        }
    }
}
