//! The audit log: every run appends a hash-chained record; `cleanpipe audit verify` finds an
//! edited, deleted, inserted or reordered record, and with `--head` a cut-off tail.

use crate::support::*;

/// Three runs of one repository (the last one failing); returns (repo, log path, log lines).
fn audited_runs() -> (Repo, std::path::PathBuf, Vec<String>) {
    let repo = scratch_repo(None, &["v1"]);
    for _ in 0..2 {
        repo.cleanpipe_env(
            &["run"],
            &[("COSIGN_PASSWORD", "pw"), ("USER", "release-bot")],
        )
        .expect_code(0)
        .expect_stderr("audit: appended to");
    }
    repo.write("hello.txt", "changed, not committed\n");
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1);
    let log = repo.path().join(".cleanpipe/out/audit.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    (repo, log, lines)
}

fn sha256(text: &str) -> String {
    use sha2::Digest as _;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    )
}

#[test]
fn every_run_appends_a_chained_record_and_the_chain_verifies() {
    let (repo, log, lines) = audited_runs();
    assert_eq!(lines.len(), 3);
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["prev"], format!("sha256:{}", "0".repeat(64)));
    assert_eq!(first["who"], "release-bot");
    assert_eq!(first["status"], "succeeded");
    assert!(
        first["image"].as_str().unwrap().contains("@sha256:"),
        "{first}"
    );
    assert!(first["commit"].as_str().unwrap().len() == 40, "{first}");
    assert_eq!(first["stages"][3], serde_json::json!(["sign", "passed"]));
    assert!(
        first["evidence"]["attestations"].as_array().unwrap().len() >= 2,
        "{first}"
    );
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(second["prev"], sha256(&lines[0]));
    let third: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    assert_eq!(third["status"], "failed");
    let out = repo.cleanpipe(&["audit", "verify", log.to_str().unwrap()]);
    out.expect_code(0)
        .expect_stderr("3 record(s), chain intact");
    assert_eq!(out.last_line(), sha256(&lines[2]));
}

#[test]
fn an_edited_deleted_inserted_or_reordered_record_breaks_the_chain() {
    let (repo, log, lines) = audited_runs();
    let check = |content: Vec<String>, expected: &str| {
        std::fs::write(&log, content.join("\n") + "\n").unwrap();
        repo.cleanpipe(&["audit", "verify", log.to_str().unwrap()])
            .expect_code(1)
            .expect_stderr(expected);
    };
    let name = log.display().to_string();
    let edited = lines[0].replace("\"succeeded\"", "\"failed\"");
    check(
        vec![edited, lines[1].clone(), lines[2].clone()],
        &format!("{name}:2: the audit chain is broken: `prev`"),
    );
    check(
        vec![lines[1].clone(), lines[2].clone()],
        &format!("{name}:1: the audit chain is broken: `seq` is 2, expected 1"),
    );
    check(
        vec![lines[0].clone(), lines[0].clone(), lines[1].clone()],
        &format!("{name}:2: the audit chain is broken: `seq` is 1, expected 2"),
    );
    check(
        vec![lines[0].clone(), lines[2].clone(), lines[1].clone()],
        &format!("{name}:2: the audit chain is broken: `seq` is 3, expected 2"),
    );
    check(
        vec![lines[0].clone(), "not json".into()],
        &format!("{name}:2: the audit chain is broken: not a JSON record"),
    );
}

#[test]
fn a_cut_off_tail_is_found_with_the_head_kept_elsewhere() {
    let (repo, log, lines) = audited_runs();
    let head = sha256(&lines[2]);
    std::fs::write(&log, lines[..2].join("\n") + "\n").unwrap();
    // Without the head the shorter chain is intact; with it the cut shows.
    repo.cleanpipe(&["audit", "verify", log.to_str().unwrap()])
        .expect_code(0);
    repo.cleanpipe(&["audit", "verify", log.to_str().unwrap(), "--head", &head])
        .expect_code(1)
        .expect_stderr(&format!("its head is {}, not {head}", sha256(&lines[1])));
}

#[test]
fn a_run_refuses_to_append_to_a_log_whose_last_record_is_incomplete() {
    let repo = scratch_repo(None, &["v1"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, "{\"seq\":1,\"prev\":\"x\"").unwrap();
    repo.cleanpipe_env(
        &["run", "--audit-log", log.to_str().unwrap()],
        &[("COSIGN_PASSWORD", "pw")],
    )
    .expect_code(3)
    .expect_stderr("does not end with a newline");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "{\"seq\":1,\"prev\":\"x\"",
        "nothing appended"
    );
}

#[test]
fn an_attested_record_is_signed_and_attached_to_the_image_in_the_registry_and_layout() {
    let Some(registry) = registry() else { return };
    let name = unique("it/audit-attest");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let r = repo.cleanpipe_env(
        &["run", "--attest-audit"],
        &[("COSIGN_PASSWORD", "pw"), ("USER", "release-bot")],
    );
    r.expect_code(0)
        .expect_stderr("audit: record signed and attached to");
    let image = r.last_line();
    let log = std::fs::read_to_string(repo.path().join(".cleanpipe/out/audit.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    repo.write(
        "policy.yaml",
        "version: 1\ntrust:\n  keys: [cosign.pub]\nrequire:\n  attestations: [https://cleanpipe.dev/attestations/audit-record/v1]\n",
    );
    for target in [image.clone(), "oci:.cleanpipe/oci:v1".to_string()] {
        let v = repo.cleanpipe(&[
            "verify",
            &target,
            "--policy",
            "policy.yaml",
            "--output",
            "json",
        ]);
        v.expect_code(0);
        let verdict: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
        let check = verdict["policy"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "required attestation")
            .unwrap();
        assert_eq!(check["passed"], true, "{target}: {verdict}");
    }
    // The attached statement is the record in the log, with the head it made.
    let export = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}:v1", export.path().display());
    repo.cleanpipe(&["copy", &image, &dest]).expect_code(0);
    let layout = cleanpipe::oci::Layout::open(export.path()).unwrap();
    let mut found = false;
    for d in layout.untagged().unwrap() {
        let manifest: serde_json::Value =
            serde_json::from_slice(&layout.read_blob(&d.digest).unwrap()).unwrap();
        if manifest["annotations"]["dev.sigstore.bundle.predicateType"]
            != "https://cleanpipe.dev/attestations/audit-record/v1"
        {
            continue;
        }
        let layer: cleanpipe::oci::types::Digest =
            serde_json::from_value(manifest["layers"][0]["digest"].clone()).unwrap();
        let bundle: serde_json::Value =
            serde_json::from_slice(&layout.read_blob(&layer).unwrap()).unwrap();
        use base64::Engine;
        let statement: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(statement["predicate"]["record"], last);
        assert_eq!(
            statement["predicate"]["head"],
            sha256(log.lines().last().unwrap())
        );
        found = true;
    }
    assert!(found, "no audit-record referrer in the export");
}
