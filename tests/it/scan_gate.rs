//! The scan gate tells the truth through `run` and `verify`: a Wolfi image's apk packages are
//! matched against `Wolfi` records; with no records of its ecosystem they are NOT CHECKED and
//! the gate fails; a written allowance lets the run pass, and a verifier still refuses the
//! incomplete scan unless it accepts that in writing too.

use crate::support::*;

const WOLFI_OPENSSL: &str = r#"{"schema_version":"1.7.0","id":"CGA-2f5v-3j4p-xw7q","modified":"2026-03-01T00:00:00Z","published":"2026-02-28T00:00:00Z","aliases":["CVE-2023-0286"],"affected":[{"package":{"ecosystem":"Wolfi","name":"openssl","purl":"pkg:apk/wolfi/openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.8-r1"}]}]}],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H"}]}"#;

fn wolfi_repo(db_record: Option<&str>, scan_extra: &str) -> Repo {
    let repo = Repo::new();
    repo.write(
        "rootfs/etc/os-release",
        "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\n",
    );
    repo.write(
        "rootfs/lib/apk/db/installed",
        "C:Q1abc=\nP:libcrypto3\nV:3.0.8-r0\nA:x86_64\nL:Apache-2.0\no:openssl\n\nC:Q1def=\nP:openssl\nV:3.0.8-r0\nA:x86_64\nL:Apache-2.0\no:openssl\n\n",
    );
    match db_record {
        Some(r) => repo.write("osv/Wolfi/CGA-2f5v-3j4p-xw7q.json", r),
        None => repo.write_osv_db_without_matches(),
    }
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: rootfs\n        dest: /\n  scan:\n    db: osv\n    fail_on: high\n{scan_extra}sign:\n  key: cosign.key\npush:\n  tags: [v1]\n"
        ),
    );
    repo.commit();
    repo
}

#[test]
fn a_wolfi_image_is_checked_against_wolfi_records() {
    let repo = wolfi_repo(Some(WOLFI_OPENSSL), "");
    let run = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    run.expect_code(1)
        .expect_stderr("CGA-2f5v-3j4p-xw7q (high) in libcrypto3 3.0.8-r0, fixed in 3.0.8-r1")
        .expect_stderr("CGA-2f5v-3j4p-xw7q (high) in openssl 3.0.8-r0");
    assert!(!repo.layout_has_tag("v1"));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/scan-results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["coverage"]["complete"], true, "{report}");
    assert_eq!(report["coverage"]["ecosystems"][0]["ecosystem"], "Wolfi");
    assert_eq!(report["coverage"]["ecosystems"][0]["checked"], 2);
    // The database the scan used: its source, content digest and newest record.
    let db = &report["coverage"]["database"];
    assert!(
        db["digest"].as_str().unwrap().starts_with("sha256:"),
        "{db}"
    );
    assert_eq!(db["newest_modified"], "2026-03-01T00:00:00Z");
    assert_eq!(db["records"], 1);
}

#[test]
fn what_the_database_cannot_check_fails_the_gate_unless_allowed_in_writing() {
    let repo = wolfi_repo(None, "");
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("2 package(s) that could not be checked against advisories")
        .expect_stderr("2 Wolfi package(s) not checked: the database holds no `Wolfi` records");
    assert!(!repo.layout_has_tag("v1"));

    // A written allowance without a reason is refused before anything runs.
    let repo = wolfi_repo(
        None,
        "    unchecked:\n      - ecosystem: Wolfi\n        reason: ''\n        expires: '2099-01-01'\n",
    );
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("empty reason");
    let repo = wolfi_repo(
        None,
        "    unchecked:\n      - ecosystem: Wolfi\n        reason: vendor feed mirrored next quarter\n        expires: '2099-01-01'\n",
    );
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let report =
        std::fs::read_to_string(repo.path().join(".cleanpipe/out/scan-results.json")).unwrap();
    assert!(
        report.contains("vendor feed mirrored next quarter"),
        "{report}"
    );
    // The attested scan says it is incomplete: a verifier refuses it unless it accepts that.
    let image = "oci:.cleanpipe/oci:v1";
    repo.cleanpipe(&["verify", image, "--key", "cosign.pub", "--fail-on", "high"])
        .expect_code(1)
        .expect_stderr("the scan could not check 2 package(s)");
    repo.cleanpipe(&[
        "verify",
        image,
        "--key",
        "cosign.pub",
        "--fail-on",
        "critical",
        "--allow-incomplete-coverage",
    ])
    .expect_code(0);
}

#[test]
fn relaxations_need_a_written_reason() {
    for (extra, key) in [
        ("    unknown_severity: ignore\n", "unknown_severity_reason"),
        ("    only_fixed: true\n", "only_fixed_reason"),
        (
            "    unchecked:\n      - reason: r\n        expires: '2099-01-01'\n",
            "names neither `ecosystem`, `cause` nor `purl`",
        ),
    ] {
        let repo = wolfi_repo(Some(WOLFI_OPENSSL), extra);
        repo.cleanpipe(&["validate"])
            .expect_code(2)
            .expect_stderr(key)
            .expect_stderr("pipeline.yaml:");
    }
}

/// A Java archive that cannot be read (here a jar named like Log4Shell's that is not a zip) is
/// counted as NOT CHECKED and fails the gate, never passing as an image with nothing in it.
#[test]
fn an_unreadable_java_archive_is_counted_as_not_checked_never_as_clean() {
    let repo = Repo::new();
    repo.write(
        "app/lib/log4j-core-2.14.1.jar",
        "PK\u{3}\u{4} not really a zip\n",
    );
    repo.write_osv_db_without_matches();
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: app\n        dest: /app\n  scan:\n    db: osv\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("1 Maven package(s) not checked: not a readable zip archive")
        .expect_stderr("/app/lib/log4j-core-2.14.1.jar");
    assert!(!repo.layout_has_tag("v1"));
}
