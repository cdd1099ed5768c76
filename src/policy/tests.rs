//! The deploy policy judged in-process: attestations built as values (provenance, SBOM, scan
//! results, verification summaries, ones that failed their own check or that another key
//! signed), the policy applied, and every check it reports recorded and compared line by line.
//! No binary, no store, no registry.

use super::attestations::{Evidence, Failed, Trusted};
use super::*;
use crate::scan::gate::Threshold;
use crate::sign::attest::{
    PREDICATE_CYCLONEDX, PREDICATE_SLSA_PROVENANCE_V1, PREDICATE_SPDX, PREDICATE_VULN,
};

const REPO: &str = "https://git.example/acme/app";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const BUILDER: &str = "https://cleanpipe.dev/builder@v1";
/// 2026-12-07T12:00:00Z, the verifier's clock.
const NOW: i64 = 1_796_644_800;
const TODAY: &str = "2026-12-07";

fn image() -> Digest {
    Digest::of(b"the image manifest")
}

/// What the policy told about one image, one line per check in order.
#[derive(Debug, Default)]
struct Recording {
    lines: Vec<String>,
}

impl Recording {
    fn told(&mut self, c: &PolicyCheck) {
        let mark = if c.passed { "ok" } else { "FAIL" };
        self.lines
            .push(format!("[{mark}] {}: {}", c.name, c.detail));
    }
}

/// Judge `evidence` under `policy`; the verdict (every check passed) and the recorded lines.
fn judged(policy: &Policy, evidence: &Evidence) -> (bool, Vec<String>) {
    let judgement = judge(
        policy,
        evidence,
        "registry.example/acme/app:v1",
        &image(),
        None,
    );
    let mut recording = Recording::default();
    for c in &judgement.checks {
        recording.told(c);
    }
    (judgement.checks.iter().all(|c| c.passed), recording.lines)
}

/// The `.att` layer `layer` of the image.
fn used(layer: usize) -> UsedAttestation {
    UsedAttestation {
        layer,
        digest: Digest::of(format!("envelope {layer}").as_bytes()),
        referrer: None,
    }
}

/// An attestation signed with the trusted key, about this image.
fn trusted(layer: usize, predicate_type: &str, predicate: serde_json::Value) -> Trusted {
    Trusted {
        used: used(layer),
        predicate_type: predicate_type.into(),
        statement: serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "registry.example/acme/app", "digest": {"sha256": image().hex()}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }),
        signer: "cosign.pub".into(),
    }
}

fn provenance(layer: usize, commit: &str) -> Trusted {
    trusted(
        layer,
        PREDICATE_SLSA_PROVENANCE_V1,
        serde_json::json!({
            "buildDefinition": {
                "buildType": "https://cleanpipe.dev/build/v1",
                "externalParameters": {"source": {
                    "repository": format!("{REPO}.git"),
                    "ref": "refs/tags/v1",
                    "commit": commit,
                }},
                "internalParameters": {"dirtyWorkTree": false},
            },
            "runDetails": {"builder": {"id": BUILDER}},
        }),
    )
}

/// A cleanpipe scan result (cosign's vuln predicate) that finished `finished` and whose
/// database was fetched `fetched` (`None`: not recorded).
fn scan(
    layer: usize,
    findings: serde_json::Value,
    finished: &str,
    fetched: Option<&str>,
) -> Trusted {
    let mut coverage = serde_json::json!({"complete": true});
    if let Some(at) = fetched {
        coverage["database"] = serde_json::json!({ "fetched": at });
    }
    trusted(
        layer,
        PREDICATE_VULN,
        serde_json::json!({
            "scanner": {"uri": "https://cleanpipe.dev", "result": {
                "findings": findings,
                "coverage": coverage,
            }},
            "metadata": {"scanStartedOn": finished, "scanFinishedOn": finished},
        }),
    )
}

fn low_finding() -> serde_json::Value {
    serde_json::json!([{"id": "CVE-2026-0001", "severity": "low", "package": "zlib", "version": "1.3"}])
}

fn strict_policy() -> Policy {
    Policy {
        source_repo: Some(REPO.into()),
        commit: Some(COMMIT[..12].into()),
        builder_ids: vec![BUILDER.into()],
        require_sbom: true,
        fail_on: Some(Threshold::High),
        max_scan_age: Some(86_400),
        max_db_age: Some(2 * 86_400),
        today: TODAY.into(),
        now: NOW,
        ..Policy::default()
    }
}

fn complete_evidence() -> Evidence {
    Evidence {
        trusted: vec![
            provenance(0, COMMIT),
            trusted(
                1,
                PREDICATE_SPDX,
                serde_json::json!({"spdxVersion": "SPDX-2.3"}),
            ),
            scan(
                2,
                low_finding(),
                "2026-12-07T10:00:00Z",
                Some("2026-12-06T10:00:00Z"),
            ),
        ],
        ..Evidence::default()
    }
}

#[test]
fn evidence_that_meets_every_rule_passes_and_each_check_says_why() {
    let (l0, l1, l2) = (used(0), used(1), used(2));
    let (verified, lines) = judged(&strict_policy(), &complete_evidence());
    assert!(verified, "{lines:#?}");
    assert_eq!(
        lines,
        [
            format!("[ok] provenance: SLSA v1 provenance by {BUILDER} ({l0})"),
            format!("[ok] source repository: provenance says `{REPO}.git`, policy wants `{REPO}` ({l0})"),
            format!("[ok] source commit: provenance says `{COMMIT}`, policy wants `{}` ({l0})", &COMMIT[..12]),
            format!("[ok] builder: provenance says `{BUILDER}`, policy wants `{BUILDER}` ({l0})"),
            format!("[ok] SBOM: attested: {PREDICATE_SPDX} ({l1})"),
            format!("[ok] vulnerabilities: 1 attested finding(s) in {l2}, none unwaived at or above the threshold"),
            format!("[ok] scan age: the newest scan ({l2}) finished 2h 0m ago; the policy allows 1d 0h"),
            format!("[ok] database age: {l2}: the database was 1d 0h old at the scan; the policy allows 2d 0h"),
        ]
    );
    // The default policy asks for nothing beyond the signature: no check at all.
    let (verified, lines) = judged(&Policy::default(), &Evidence::default());
    assert!(verified && lines.is_empty(), "{lines:?}");
}

#[test]
fn a_rule_the_evidence_breaks_fails_the_verdict_and_names_what_it_read() {
    let mut evidence = complete_evidence();
    evidence.trusted[0] = provenance(0, "fedcba9876543210fedcba9876543210fedcba98");
    evidence.trusted[2] = scan(
        2,
        serde_json::json!([
            {"id": "CVE-2026-0002", "severity": "critical", "package": "openssl", "version": "3.0.1"},
            {"id": "CVE-2026-0003", "severity": "medium", "package": "zlib", "version": "1.3"},
        ]),
        "2026-12-05T12:00:00Z",
        Some("2026-12-05T11:00:00Z"),
    );
    let (verified, lines) = judged(&strict_policy(), &evidence);
    assert!(!verified);
    let (l0, l2) = (used(0), used(2));
    let failed: Vec<&String> = lines.iter().filter(|l| l.starts_with("[FAIL]")).collect();
    assert_eq!(
        failed,
        [
            &format!("[FAIL] source commit: provenance says `fedcba9876543210fedcba9876543210fedcba98`, policy wants `{}` ({l0})", &COMMIT[..12]),
            &format!("[FAIL] vulnerabilities: at or above the threshold: CVE-2026-0002 (critical) in openssl 3.0.1 ({l2})"),
            &format!("[FAIL] scan age: the newest scan ({l2}) finished 2d 0h ago; the policy allows 1d 0h"),
        ]
    );
    // The rules the evidence meets still pass and say so.
    assert!(lines.contains(&format!(
        "[ok] database age: {l2}: the database was 1h 0m old at the scan; the policy allows 2d 0h"
    )));

    // Two scans: the newer clean one does not hide the older failing one.
    let mut two = complete_evidence();
    two.trusted.push(scan(
        3,
        serde_json::json!([{"id": "CVE-2026-0002", "severity": "critical", "package": "openssl", "version": "3.0.1"}]),
        "2026-12-01T12:00:00Z",
        Some("2026-12-01T11:00:00Z"),
    ));
    let (verified, lines) = judged(&strict_policy(), &two);
    assert!(!verified);
    assert!(
        lines.contains(&format!(
            "[FAIL] vulnerabilities: at or above the threshold: CVE-2026-0002 (critical) in openssl 3.0.1 ({})",
            used(3)
        )),
        "{lines:#?}"
    );
}

#[test]
fn evidence_that_cannot_be_read_or_checked_fails_closed() {
    let policy = Policy {
        fail_on: Some(Threshold::High),
        max_scan_age: Some(86_400),
        today: TODAY.into(),
        now: NOW,
        ..Policy::default()
    };
    let (l2, l5) = (used(2), used(5));

    // A scan layer signed with the key but about another image fails every scan rule.
    let mut evidence = complete_evidence();
    evidence.failed.push(Failed {
        used: l5.clone(),
        types: vec![PREDICATE_VULN.into()],
        why: "the statement is about another image".into(),
    });
    let (verified, lines) = judged(&policy, &evidence);
    assert!(!verified);
    let why = format!("{l5} fails its own check: the statement is about another image");
    assert_eq!(
        lines,
        [
            format!("[FAIL] vulnerabilities: {why}"),
            format!("[FAIL] scan age: {why}"),
        ]
    );

    // The attestation manifest cannot be read: nothing can be said, every requirement fails.
    let unreadable = Evidence {
        manifest_problem: Some(
            "the attestation manifest `sha256-….att` cannot be read: truncated".into(),
        ),
        ..complete_evidence()
    };
    let (verified, lines) = judged(&strict_policy(), &unreadable);
    assert!(!verified);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("[FAIL]") && l.ends_with("cannot be read: truncated")),
        "{lines:#?}"
    );
    assert_eq!(lines[0].split(':').next(), Some("[FAIL] attestations"));

    // Only another signer's scan: not evidence for this key's policy.
    let others = Evidence {
        not_this_key: vec![PREDICATE_VULN.into()],
        ..Evidence::default()
    };
    let (verified, lines) = judged(&policy, &others);
    assert!(!verified);
    assert_eq!(
        lines[0],
        "[FAIL] vulnerabilities: no scan result attestation verifies with a trusted signer (1 signed by another signer or not at all)"
    );

    // A scan result cleanpipe cannot read (an unknown severity) is not a clean one.
    let mut odd = complete_evidence();
    odd.trusted[2] = scan(
        2,
        serde_json::json!([{"id": "CVE-2026-0004", "severity": "catastrophic"}]),
        "2026-12-07T10:00:00Z",
        None,
    );
    let (verified, lines) = judged(&policy, &odd);
    assert!(!verified);
    assert_eq!(
        lines[0],
        format!("[FAIL] vulnerabilities: {l2} holds a scan result cleanpipe cannot read: finding CVE-2026-0004 has severity `catastrophic`, which is not a severity")
    );

    // A scan that did not check every package is no evidence of clean for what it left out,
    // unless the policy accepts it in writing.
    let mut partial = complete_evidence();
    partial.trusted[2].statement["predicate"]["scanner"]["result"]["coverage"] =
        serde_json::json!({"complete": false, "unchecked": 3});
    let (verified, lines) = judged(&policy, &partial);
    assert!(!verified);
    assert_eq!(
        lines[0],
        format!("[FAIL] vulnerabilities: not every package was checked: the scan could not check 3 package(s) ({l2})")
    );
    let allowing = Policy {
        allow_incomplete_coverage: true,
        ..policy.clone()
    };
    let (verified, lines) = judged(&allowing, &partial);
    assert!(verified, "{lines:#?}");
    assert!(lines[0].ends_with(&format!(
        "; the scan could not check 3 package(s), allowed by the policy ({l2})"
    )));

    // A required SBOM that is not there.
    let sbom = Policy {
        require_sbom: true,
        ..Policy::default()
    };
    let (verified, lines) = judged(&sbom, &Evidence::default());
    assert!(!verified);
    assert_eq!(
        lines,
        ["[FAIL] SBOM: no SPDX or CycloneDX attestation verifies with a trusted signer"]
    );
    let cdx = Evidence {
        trusted: vec![trusted(4, PREDICATE_CYCLONEDX, serde_json::json!({}))],
        ..Evidence::default()
    };
    assert!(judged(&sbom, &cdx).0);
}

#[test]
fn an_attested_waiver_counts_until_it_expires() {
    let waived = serde_json::json!([{"id": "CVE-2026-0002", "severity": "critical",
        "package": "openssl", "version": "3.0.1",
        "waived": "not reachable: TLS is terminated by the proxy", "waiver_expires": "2026-12-31"}]);
    let evidence = Evidence {
        trusted: vec![scan(2, waived, "2026-12-07T10:00:00Z", None)],
        ..Evidence::default()
    };
    let policy = |today: &str| Policy {
        fail_on: Some(Threshold::High),
        today: today.into(),
        now: NOW,
        ..Policy::default()
    };
    let l2 = used(2);
    let (verified, lines) = judged(&policy(TODAY), &evidence);
    assert!(verified, "{lines:#?}");
    assert_eq!(
        lines,
        [format!("[ok] vulnerabilities: 1 attested finding(s) in {l2}, none unwaived at or above the threshold")]
    );
    // The day after it expires, the finding counts again and the check says why.
    let (verified, lines) = judged(&policy("2027-01-01"), &evidence);
    assert!(!verified);
    assert_eq!(
        lines,
        [format!("[FAIL] vulnerabilities: at or above the threshold: CVE-2026-0002 (critical) in openssl 3.0.1 ({l2}); the waiver for CVE-2026-0002 expired on 2026-12-31 and no longer applies ({l2})")]
    );
    // No clock passed in: no waiver counts.
    assert!(!judged(&policy(""), &evidence).0);
}

#[test]
fn max_db_age_needs_a_database_fresh_enough_when_each_scan_ran() {
    let policy = Policy {
        max_db_age: Some(86_400),
        today: TODAY.into(),
        now: NOW,
        ..Policy::default()
    };
    let (l2, l3) = (used(2), used(3));
    let fresh = || {
        scan(
            2,
            low_finding(),
            "2026-12-07T10:00:00Z",
            Some("2026-12-07T04:30:00Z"),
        )
    };
    let stale = scan(
        3,
        low_finding(),
        "2026-12-06T10:00:00Z",
        Some("2026-12-03T10:00:00Z"),
    );
    let undated = scan(3, low_finding(), "2026-12-06T10:00:00Z", None);
    let with = |scans: Vec<Trusted>| Evidence {
        trusted: scans,
        ..Evidence::default()
    };

    let (verified, lines) = judged(&policy, &with(vec![fresh()]));
    assert!(verified, "{lines:#?}");
    // `max_db_age` implies a scan: the findings rule (at `none`) comes first.
    assert_eq!(
        lines,
        [
            format!("[ok] vulnerabilities: 1 attested finding(s) in {l2}, none unwaived at or above the threshold"),
            format!("[ok] database age: {l2}: the database was 5h 30m old at the scan; the policy allows 1d 0h"),
        ]
    );
    // Every scan counts: a stale database beside a fresh one fails.
    let (verified, lines) = judged(&policy, &with(vec![fresh(), stale]));
    assert!(!verified);
    assert_eq!(
        lines[1],
        format!("[FAIL] database age: {l2}: the database was 5h 30m old at the scan; {l3}: the database was 3d 0h old at the scan; the policy allows 1d 0h")
    );
    // A scan that records no fetch time cannot show its database was fresh.
    let (verified, lines) = judged(&policy, &with(vec![fresh(), undated]));
    assert!(!verified);
    assert!(
        lines[1].contains(&format!(
            "{l3}: records no database fetch time (a managed or pulled database records one)"
        )),
        "{lines:#?}"
    );
    // No attested scan at all.
    let (verified, lines) = judged(&policy, &Evidence::default());
    assert!(!verified);
    assert_eq!(
        lines[1],
        "[FAIL] database age: no scan result attestation verifies with a trusted signer"
    );
}

#[test]
fn a_required_verification_summary_must_have_passed_for_this_image() {
    let summary = |layer, result: &str, about: &Digest| {
        trusted(
            layer,
            vsa::PREDICATE_VSA,
            serde_json::json!({
                "verifier": {"id": "https://deploy.example/verifier"},
                "timeVerified": "2026-12-07T11:00:00Z",
                "resourceUri": format!("registry.example/acme/app@{about}"),
                "policy": {"uri": "https://deploy.example/policy.yaml"},
                "verificationResult": result,
                "verifiedLevels": ["SLSA_BUILD_LEVEL_1"],
            }),
        )
    };
    let policy = Policy {
        require_types: vec![vsa::PREDICATE_VSA.into()],
        ..Policy::default()
    };
    let with = |t: Trusted| Evidence {
        trusted: vec![t],
        ..Evidence::default()
    };
    let (verified, lines) = judged(&policy, &with(summary(6, "PASSED", &image())));
    assert!(verified, "{lines:#?}");
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("[ok] required attestation: "),
        "{lines:?}"
    );

    let other = Digest::of(b"another image");
    for (t, why) in [
        (
            summary(6, "FAILED", &image()),
            format!("{} says `FAILED`", used(6)),
        ),
        (
            summary(6, "PASSED", &other),
            format!(
                "{} is about `registry.example/acme/app@{other}`, not {}",
                used(6),
                image()
            ),
        ),
    ] {
        let (verified, lines) = judged(&policy, &with(t));
        assert!(!verified);
        assert_eq!(
            lines,
            [format!(
                "[FAIL] required attestation: {}: only a summary that PASSED for this image is evidence: {why}",
                vsa::PREDICATE_VSA
            )]
        );
    }
}
