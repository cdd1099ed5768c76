//! A SLSA Verification Summary Attestation (VSA v1, formats.md §5.2) of a verdict: what was
//! verified (the image digest), by whom (cleanpipe's verifier id), against which policy (the
//! checks asked for, by digest), from which attestations, and the result. Signed as a DSSE
//! envelope with `keyid` empty, which `slsa-verifier verify-vsa --public-key-path` reads.

use super::{Outcome, Policy, Verdict};
use crate::evidence::Source;
use crate::oci::types::Digest;

pub const PREDICATE_VSA: &str = "https://slsa.dev/verification_summary/v1";
/// Who verified: `slsa-verifier verify-vsa --verifier-id` takes this.
pub const VERIFIER_ID: &str = "https://cleanpipe.dev/verifiers/cli/v1";
/// What the policy digest is computed over: the checks `cleanpipe verify` was asked for.
pub const POLICY_URI: &str = "https://cleanpipe.dev/policies/verify-flags/v1";

/// The policy as the VSA names it: canonical JSON of the checks and the key, and its digest.
pub fn policy_document(policy: &Policy, key_fingerprint: &Digest) -> (Vec<u8>, Digest) {
    let doc = serde_json::json!({
        "key": key_fingerprint,
        "requireProvenance": policy.needs_provenance(),
        "sourceRepo": policy.source_repo,
        "commit": policy.commit,
        "builderId": policy.builder_id,
        "requireSbom": policy.require_sbom,
        "failOn": policy.fail_on.map(|t| format!("{t:?}").to_lowercase()),
    });
    let bytes = serde_json::to_vec(&doc).expect("policy serializes");
    let digest = Digest::of(&bytes);
    (bytes, digest)
}

/// The in-toto statement of the VSA about `verdict`'s digest, for `resource_uri` (the image as
/// `repo@sha256:…`), verified at `time` (RFC 3339).
pub fn statement(
    verdict: &Verdict,
    policy: &Policy,
    key_fingerprint: &Digest,
    resource_uri: &str,
    time: &str,
) -> Vec<u8> {
    let (_, policy_digest) = policy_document(policy, key_fingerprint);
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
        "policy": {"uri": POLICY_URI, "digest": {"sha256": policy_digest.hex()}},
        "inputAttestations": inputs,
        "verificationResult": if verdict.verified { "PASSED" } else { "FAILED" },
        "verifiedLevels": [level],
        "slsaVersion": "1.0",
    });
    let name = resource_uri.split('@').next().unwrap_or(resource_uri);
    crate::sign::attest::statement(name, &verdict.digest, PREDICATE_VSA, &predicate)
}
