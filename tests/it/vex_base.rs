//! A base image's signed OpenVEX carried into the gate of an image built on it: accepted only
//! when the base's trusted key signed it, applied only to packages the image kept unchanged,
//! and the built image's own VEX written, attested and verifiable by cosign.

use crate::peers::{cosign, run_peer, text};
use crate::support::*;

const SITE: &str = "/usr/local/lib/python3.12/site-packages/vexdemo-1.0.dist-info/METADATA";
const METADATA: &str = "Metadata-Version: 2.1\nName: vexdemo\nVersion: 1.0\nSummary: vexdemo\n\n";
/// A hand-written record (not a real advisory): every vexdemo before 2.0, high severity.
const RECORD: &str = r#"{"id":"HAND-VEX-1","modified":"2026-01-01T00:00:00Z","aliases":["CVE-2099-0001"],"affected":[{"package":{"ecosystem":"PyPI","name":"vexdemo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]}],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}]}"#;
/// The vendor's (repository) statement: vexdemo, any version, is not affected.
const VENDOR_VEX: &str = r#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://vendor.example/vex/1","author":"Vendor","timestamp":"2026-01-02T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"CVE-2099-0001"},"products":[{"@id":"pkg:pypi/vexdemo"}],"status":"not_affected","justification":"vulnerable_code_not_present"}]}"#;

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The vendor's base: vexdemo 1.0, its gate passing by its repository VEX, signed and attested
/// (its own VEX included) with `vendor.key`. Returns the repo and the base's digest.
fn vendor_base() -> (Repo, String) {
    let repo = Repo::new();
    repo.keygen("vendor", "pw");
    repo.write("METADATA", METADATA);
    repo.write("osv/HAND-VEX-1.json", RECORD);
    repo.write("vex/base.openvex.json", VENDOR_VEX);
    repo.write(
        "pipeline.yaml",
        &format!("version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: METADATA\n        dest: {SITE}\n  scan:\n    db: osv\n    fail_on: high\n    vex: [vex/base.openvex.json]\nsign:\n  key: vendor.key\npush:\n  tags: [v1]\n"),
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let digest = r.last_line().rsplit('@').next().unwrap().to_string();
    (repo, digest)
}

/// An image built on `base` whose verify-base trusts `trusted` (a public key file), with
/// `files` (src, dest) laid over it and the same gate.
fn child(
    base: &str,
    trusted: &std::path::Path,
    files: &[(&str, &str, &str)],
    push: Option<&str>,
    verify_base_extra: &str,
) -> Repo {
    let repo = Repo::new();
    repo.copy_in(trusted, "trusted.pub");
    repo.keygen("cosign", "pw");
    repo.write("osv/HAND-VEX-1.json", RECORD);
    let mut list = String::new();
    for (src, dest, content) in files {
        repo.write(src, content);
        list.push_str(&format!("      - src: {src}\n        dest: {dest}\n"));
    }
    let push = match push {
        Some(r) => format!("push:\n  repository: {r}\n  tags: [v1]\n"),
        None => String::new(),
    };
    repo.write(
        "pipeline.yaml",
        &format!("version: 1\nverify_base:\n  keys: {{ team: trusted.pub }}\n  default_key: team\n{verify_base_extra}build:\n  customize:\n    base: {base}\n    files:\n{list}  scan:\n    db: osv\n    fail_on: high\nsign:\n  key: cosign.key\n{push}"),
    );
    repo.commit();
    repo
}

#[test]
fn a_base_vendors_signed_vex_covers_only_what_the_image_kept() {
    let (vendor, digest) = vendor_base();
    // The vendor's own run wrote, attested and listed the base's VEX: the finding it
    // suppressed, rebound to the base's digest.
    let base_vex = json(&vendor.path().join(".cleanpipe/out/vex.openvex.json"));
    assert_eq!(base_vex["@context"], "https://openvex.dev/ns/v0.2.0");
    let st = &base_vex["statements"][0];
    assert_eq!(st["vulnerability"]["name"], "CVE-2099-0001");
    assert_eq!(st["status"], "not_affected");
    assert_eq!(st["products"][0]["@id"], digest.as_str());
    assert_eq!(
        st["products"][0]["subcomponents"][0]["@id"],
        "pkg:pypi/vexdemo@1.0"
    );
    let report = json(&vendor.path().join("r.json"));
    assert!(
        report["signature"]["attestations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "https://openvex.dev/ns/v0.2.0"),
        "{report}"
    );
    assert_eq!(report["signature"]["vex"].as_array().unwrap().len(), 1);
    let base_ref = format!(
        "oci:{}@{digest}",
        vendor.path().join(".cleanpipe/oci").display()
    );

    // 1. Trusted: the base's statement suppresses the base's finding in the child, listed with
    // the document's digest and its signer; the child's own VEX carries it, rebound.
    let registry = registry();
    let pushed = registry
        .as_ref()
        .map(|r| format!("{r}/{}", unique("it/vexbase")));
    let ok = child(
        &base_ref,
        &vendor.path().join("vendor.pub"),
        &[("extra.txt", "/extra.txt", "more\n")],
        pushed.as_deref(),
        "  scan:\n    db: osv\n    fail_on: high\n",
    );
    let r = ok.cleanpipe_env(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    assert!(r.all().contains("OpenVEX document"), "{}", r.all());
    let scan = json(&ok.path().join(".cleanpipe/out/scan-results.json"));
    assert_eq!(scan["findings"].as_array().unwrap().len(), 0, "{scan}");
    let suppressed = &scan["suppressed"][0];
    assert_eq!(suppressed["id"], "HAND-VEX-1");
    let doc = &suppressed["vex"]["document"];
    assert!(doc["signer"].is_string(), "{suppressed}");
    assert!(doc["digest"].as_str().unwrap().starts_with("sha256:"));
    // The base's own gate (verify_base.scan) applies the base's document as the base's.
    let base_scan = json(&ok.path().join(".cleanpipe/out/base-scan-1.json"));
    assert_eq!(
        base_scan["findings"].as_array().unwrap().len(),
        0,
        "{base_scan}"
    );
    assert!(base_scan["suppressed"][0]["vex"]["document"]["signer"].is_string());
    let child_report = json(&ok.path().join("r.json"));
    assert_eq!(child_report["bases"][0]["vex"][0]["statements"], 1);
    let own = json(&ok.path().join(".cleanpipe/out/vex.openvex.json"));
    let image_digest = child_report["image"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        own["statements"][0]["products"][0]["@id"],
        image_digest.as_str()
    );
    assert!(
        own["statements"][0]["status_notes"]
            .as_str()
            .unwrap()
            .contains("signed by"),
        "{own}"
    );
    // cosign verifies the image's own VEX attestation with the child's key.
    if let (Some(cosign), Some(repo)) = (cosign("V2"), &pushed) {
        let out = run_peer(
            &cosign,
            ok.path(),
            &[
                "verify-attestation",
                "--key",
                "cosign.pub",
                "--insecure-ignore-tlog=true",
                "--type",
                "https://openvex.dev/ns/v0.2.0",
                &format!("{repo}@{image_digest}"),
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let stranger = Repo::new();
        stranger.keygen("stranger", "pw");
        std::fs::copy(
            stranger.path().join("stranger.pub"),
            ok.path().join("stranger.pub"),
        )
        .unwrap();
        let out = run_peer(
            &cosign,
            ok.path(),
            &[
                "verify-attestation",
                "--key",
                "stranger.pub",
                "--insecure-ignore-tlog=true",
                "--type",
                "https://openvex.dev/ns/v0.2.0",
                &format!("{repo}@{image_digest}"),
            ],
        );
        assert!(!out.status.success(), "{}", text(&out));
    }

    // 2. A package the customization changed (the same version's metadata laid over in a later
    // layer): the base's statement is not applied, and the run says why.
    let changed = child(
        &base_ref,
        &vendor.path().join("vendor.pub"),
        &[(
            "METADATA",
            SITE,
            "Metadata-Version: 2.1\nName: vexdemo\nVersion: 1.0\nSummary: patched\n\n",
        )],
        None,
        "",
    );
    let r = changed.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1).expect_stderr("HAND-VEX-1");
    assert!(
        r.all().contains("base VEX not applied") && r.all().contains("changed in this image"),
        "{}",
        r.all()
    );
    let scan = json(&changed.path().join(".cleanpipe/out/scan-results.json"));
    assert_eq!(
        scan["suppressed"].as_array().map_or(0, Vec::len),
        0,
        "{scan}"
    );
    assert_eq!(scan["gate"]["vex_not_applied"].as_array().unwrap().len(), 1);
    assert!(!changed
        .path()
        .join(".cleanpipe/out/vex.openvex.json")
        .exists());

    // 3. Untrusted: the base also signed by another key, which the child trusts; the VEX is
    // the vendor's, not that key's: ignored, said, and the finding fails the gate.
    let other = Repo::new();
    other.keygen("stranger", "pw");
    other
        .cleanpipe_env(
            &["sign", &base_ref, "--key", "stranger.key"],
            &[("COSIGN_PASSWORD", "pw")],
        )
        .expect_code(0);
    let untrusted = child(
        &base_ref,
        &other.path().join("stranger.pub"),
        &[("extra.txt", "/extra.txt", "more\n")],
        None,
        "",
    );
    let r = untrusted.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1).expect_stderr("HAND-VEX-1");
    assert!(
        r.all().contains("OpenVEX attestation") && r.all().contains("ignored"),
        "{}",
        r.all()
    );
    let scan = json(&untrusted.path().join(".cleanpipe/out/scan-results.json"));
    assert_eq!(
        scan["suppressed"].as_array().map_or(0, Vec::len),
        0,
        "{scan}"
    );
    assert!(
        !scan["gate"]["vex_ignored"].as_array().unwrap().is_empty(),
        "{scan}"
    );

    // 4. Turned off (`verify_base.vex: false`): the base's document is not read at all.
    let off = child(
        &base_ref,
        &vendor.path().join("vendor.pub"),
        &[("extra.txt", "/extra.txt", "more\n")],
        None,
        "  vex: false\n",
    );
    let r = off.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1).expect_stderr("HAND-VEX-1");
    assert!(!r.all().contains("OpenVEX document"), "{}", r.all());
}
