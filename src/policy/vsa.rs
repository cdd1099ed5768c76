//! A SLSA Verification Summary Attestation (VSA v1, formats.md §5.2) of a verdict: what was
//! verified (the image digest), by whom (cleanpipe's verifier id), against which policy (the
//! checks asked for, by digest), from which attestations, and the result. Signed as a DSSE
//! envelope with `keyid` empty, which `slsa-verifier verify-vsa --public-key-path` reads.

use super::{Outcome, Policy, Verdict};
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
    match &policy.document {
        Some(doc) => (doc.uri.clone(), doc.digest.clone()),
        None => {
            let bytes = serde_json::to_vec(&flags).expect("policy serializes");
            (POLICY_URI.to_string(), Digest::of(&bytes))
        }
    }
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
        "policy": {"uri": policy_uri, "digest": {"sha256": policy_digest.hex()}},
        "inputAttestations": inputs,
        "verificationResult": if verdict.verified { "PASSED" } else { "FAILED" },
        "verifiedLevels": [level],
        "slsaVersion": "1.0",
    });
    let name = resource_uri.split('@').next().unwrap_or(resource_uri);
    // About what a deploy of this verdict runs: for an index verified for one platform, that
    // platform's image, never the index.
    let (subject, _) = verdict.deployed();
    crate::sign::attest::statement(name, subject, PREDICATE_VSA, &predicate)
}
