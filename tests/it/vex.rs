//! VEX in the scan gate, through `run` (`build.scan.vex`) and `cleanpipe scan --vex`: a Wolfi
//! image built from the repository (scratch base, no registry, no Docker) whose openssl has a
//! high advisory; OpenVEX and CycloneDX VEX documents written here decide what the gate sees.

use crate::support::*;

/// `CVE-2023-0286` in Wolfi's openssl 3.0.8-r0 (both binary packages installed): high.
const WOLFI_OPENSSL: &str = r#"{"schema_version":"1.7.0","id":"CGA-2f5v-3j4p-xw7q","modified":"2026-03-01T00:00:00Z","published":"2026-02-28T00:00:00Z","aliases":["CVE-2023-0286"],"affected":[{"package":{"ecosystem":"Wolfi","name":"openssl","purl":"pkg:apk/wolfi/openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.8-r1"}]}]}],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H"}]}"#;

fn openvex(statements: &str) -> String {
    format!(
        r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/app-1",
        "author": "Acme Security", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
        "statements": [{statements}]}}"#
    )
}

/// A statement about CVE-2023-0286 in both openssl packages, in any image.
fn openssl_statement(status: &str, extra: &str) -> String {
    format!(
        r#"{{"vulnerability": {{"name": "CVE-2023-0286"}},
          "products": [{{"@id": "pkg:apk/wolfi/openssl"}}, {{"@id": "pkg:apk/wolfi/libcrypto3@3.0.8-r0?arch=x86_64"}}],
          "status": "{status}"{extra}}}"#
    )
}

/// The image's repository: a Wolfi rootfs, the advisory, the VEX document (if any) at
/// `vex/app.openvex.json`, and a gate at `high` naming `vex_key` under `build.scan`.
fn repo(vex: Option<&str>, vex_key: &str) -> Repo {
    let repo = Repo::new();
    repo.write(
        "rootfs/etc/os-release",
        "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\n",
    );
    repo.write(
        "rootfs/lib/apk/db/installed",
        "C:Q1abc=\nP:libcrypto3\nV:3.0.8-r0\nA:x86_64\nL:Apache-2.0\no:openssl\n\nC:Q1def=\nP:openssl\nV:3.0.8-r0\nA:x86_64\nL:Apache-2.0\no:openssl\n\n",
    );
    repo.write("osv/Wolfi/CGA-2f5v-3j4p-xw7q.json", WOLFI_OPENSSL);
    if let Some(doc) = vex {
        repo.write("vex/app.openvex.json", doc);
    }
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: rootfs\n        dest: /\n  scan:\n    db: osv\n    fail_on: high\n{vex_key}sign:\n  key: cosign.key\npush:\n  tags: [v1]\n"
        ),
    );
    repo.commit();
    repo
}

const VEX_KEY: &str = "    vex: [vex/app.openvex.json]\n";

fn json(repo: &Repo, rel: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo.path().join(rel)).unwrap()).unwrap()
}

#[test]
fn a_not_affected_statement_suppresses_and_the_gate_passes_with_it_listed() {
    // A second statement names a package the image does not have: said, not dropped.
    let doc = openvex(&format!(
        r#"{}, {{"vulnerability": {{"name": "CVE-2023-0286"}}, "products": [{{"@id": "pkg:apk/wolfi/curl"}}],
           "status": "not_affected", "justification": "component_not_present"}}"#,
        openssl_statement(
            "not_affected",
            r#", "justification": "vulnerable_code_not_in_execute_path""#
        )
    ));
    let repo = repo(Some(&doc), VEX_KEY);
    let run = repo.cleanpipe_env(
        &["run", "--report", ".cleanpipe/r.json"],
        &[("COSIGN_PASSWORD", "pw")],
    );
    run.expect_code(0)
        .expect_stderr("2 suppressed by VEX")
        .expect_stderr("matches nothing in this image: pkg:apk/wolfi/curl is not in it");
    assert!(repo.layout_has_tag("v1"));
    let run_report = json(&repo, ".cleanpipe/r.json");
    assert_eq!(run_report["image"]["scan"]["suppressed"], 2, "{run_report}");
    assert_eq!(run_report["image"]["scan"]["findings"], 0);
    let report = json(&repo, ".cleanpipe/out/scan-results.json");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["gate"]["suppressed"], 2);
    assert_eq!(report["gate"]["passed"], true);
    let digest = format!(
        "sha256:{}",
        sha256_hex(&std::fs::read(repo.path().join("vex/app.openvex.json")).unwrap())
    );
    let suppressed = report["suppressed"].as_array().unwrap();
    let packages: Vec<&str> = suppressed
        .iter()
        .map(|s| s["package"].as_str().unwrap())
        .collect();
    assert_eq!(packages, ["libcrypto3", "openssl"]);
    for s in suppressed {
        assert_eq!(s["id"], "CGA-2f5v-3j4p-xw7q");
        assert_eq!(s["vex"]["status"], "not_affected");
        assert_eq!(
            s["vex"]["justification"],
            "vulnerable_code_not_in_execute_path"
        );
        assert_eq!(s["vex"]["document"]["path"], "vex/app.openvex.json");
        assert_eq!(s["vex"]["document"]["digest"], digest.as_str());
        assert_eq!(s["vex"]["document"]["author"], "Acme Security");
    }
    assert!(report["gate"]["vex_unused"][0]
        .as_str()
        .unwrap()
        .contains("#/statements/1"));
    let sarif = json(&repo, ".cleanpipe/out/scan-results.sarif");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(r["suppressions"][0]["kind"], "external");
        assert!(r["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("vulnerable_code_not_in_execute_path"));
    }
    let table =
        std::fs::read_to_string(repo.path().join(".cleanpipe/out/scan-results.txt")).unwrap();
    assert!(table.contains("suppressed by VEX (2):"), "{table}");
    assert!(table.contains(&digest), "{table}");
    // The attested scan carries the decision: a verifier's `--fail-on high` agrees with the gate.
    repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:v1",
        "--key",
        "cosign.pub",
        "--fail-on",
        "high",
    ])
    .expect_code(0);
}

fn sha256_hex(bytes: &[u8]) -> String {
    cleanpipe::oci::types::Digest::of(bytes).hex().to_string()
}

#[test]
fn affected_and_under_investigation_do_not_suppress() {
    for (status, extra) in [
        ("affected", r#", "action_statement": "upgrade to 3.0.8-r1""#),
        ("under_investigation", ""),
    ] {
        let repo = repo(Some(&openvex(&openssl_statement(status, extra))), VEX_KEY);
        repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(1)
            .expect_stderr("CGA-2f5v-3j4p-xw7q (high) in openssl 3.0.8-r0, fixed in 3.0.8-r1")
            .expect_stderr("CGA-2f5v-3j4p-xw7q (high) in libcrypto3 3.0.8-r0")
            .expect_stderr(&format!(
                "CGA-2f5v-3j4p-xw7q in openssl 3.0.8-r0 stays in the gate: {status}"
            ));
        assert!(!repo.layout_has_tag("v1"), "{status}");
        let report = json(&repo, ".cleanpipe/out/scan-results.json");
        assert!(report.get("suppressed").is_none(), "{status}: {report}");
    }
}

#[test]
fn a_bad_vex_document_stops_validate_and_run_with_where_and_a_hint() {
    // not_affected without justification or impact statement.
    let repo = repo(
        Some(&openvex(&openssl_statement("not_affected", ""))),
        VEX_KEY,
    );
    for args in [&["validate"][..], &["run"]] {
        let r = repo.cleanpipe_env(args, &[("COSIGN_PASSWORD", "pw")]);
        r.expect_code(2)
            .expect_stderr("VEX document `vex/app.openvex.json` at `/statements/0`")
            .expect_stderr("neither `justification` nor `impact_statement`")
            .expect_stderr("hint: say why it does not apply");
    }
    // Checked before anything is built.
    repo.assert_no_store();
    // A truncated document, a missing one, and a path out of the repository.
    let full = openvex(&openssl_statement("fixed", ""));
    let repo = self::repo(Some(&full[..full.len() - 20]), VEX_KEY);
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("is not valid JSON");
    let repo = self::repo(None, VEX_KEY);
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("cannot read VEX document `vex/app.openvex.json`");
    let repo = self::repo(None, "    vex: [../outside.openvex.json]\n");
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("build.scan.vex");
    // `verify_base.scan` shares the key and its checks.
    let repo = self::repo(Some(&openvex(&openssl_statement("not_affected", ""))), "");
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    repo.write(
        "pipeline.yaml",
        &text.replacen(
            "build:\n",
            "verify_base:\n  scan:\n    db: osv\n    vex: [vex/app.openvex.json]\nbuild:\n",
            1,
        ),
    );
    repo.commit();
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("neither `justification` nor `impact_statement`");
}

#[test]
fn cyclonedx_vex_on_the_command_line_suppresses_the_same() {
    // Build the image with the gate relaxed by OpenVEX, then scan it by hand.
    let doc = openvex(&openssl_statement(
        "fixed",
        r#", "action_statement": "none""#,
    ));
    let repo = repo(Some(&doc), VEX_KEY);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let image = "oci:.cleanpipe/oci:v1";
    let plain = repo.cleanpipe(&["scan", image, "--db", "osv", "-o", "json"]);
    plain.expect_code(1);
    let digest = serde_json::from_str::<serde_json::Value>(&plain.stdout).unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let cdx = |affects: &str| {
        format!(
            r#"{{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
            "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
            "metadata": {{"timestamp": "2026-11-01T00:00:00Z", "authors": [{{"name": "Acme Security"}}],
              "component": {{"type": "container", "bom-ref": "image", "name": "app", "purl": "pkg:oci/app@{digest}"}}}},
            "components": [{{"type": "library", "bom-ref": "openssl", "name": "openssl", "purl": "pkg:apk/wolfi/openssl@3.0.8-r0"}}],
            "vulnerabilities": [{{"id": "CVE-2023-0286",
              "analysis": {{"state": "not_affected", "justification": "code_not_reachable"}},
              "affects": [{affects}]}}]}}"#
        )
    };
    // The whole image (bom-ref of the described component): both packages.
    repo.write("image.cdx.json", &cdx(r#"{"ref": "image"}"#));
    let r = repo.cleanpipe(&[
        "scan",
        image,
        "--db",
        "osv",
        "--vex",
        "image.cdx.json",
        "-o",
        "json",
    ]);
    r.expect_code(0)
        .expect_stderr("2 finding(s) suppressed by VEX");
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["suppressed"].as_array().unwrap().len(), 2);
    assert_eq!(
        report["suppressed"][0]["vex"]["document"]["format"],
        "cyclonedx"
    );
    assert_eq!(
        report["suppressed"][0]["vex"]["justification"],
        "code_not_reachable"
    );
    // One package by bom-ref: the other still fails the gate, in the table too.
    repo.write("openssl.cdx.json", &cdx(r#"{"ref": "openssl"}"#));
    let r = repo.cleanpipe(&["scan", image, "--db", "osv", "--vex", "openssl.cdx.json"]);
    r.expect_code(1);
    assert!(
        r.stdout.contains("1 finding(s), 1 suppressed by VEX"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "not_affected (code_not_reachable) per `openssl.cdx.json`#/vulnerabilities/0"
        ),
        "{}",
        r.stdout
    );
    // Another image's digest matches nothing, and says so.
    let other = "sha256:".to_string() + &"0".repeat(64);
    repo.write(
        "other.cdx.json",
        &cdx(r#"{"ref": "image"}"#).replace(&digest, &other),
    );
    repo.cleanpipe(&[
        "scan",
        image,
        "--db",
        "osv",
        "--vex",
        "other.cdx.json",
        "-o",
        "json",
    ])
    .expect_code(1)
    .expect_stderr("matches nothing in this image");
    // An unresolvable bom-ref is an error, not a skipped statement.
    repo.write("bad.cdx.json", &cdx(r#"{"ref": "opensssl"}"#));
    repo.cleanpipe(&["scan", image, "--db", "osv", "--vex", "bad.cdx.json"])
        .expect_code(2)
        .expect_stderr(
            "at `/vulnerabilities/0/affects/0/ref`: bom-ref `opensssl` names no component",
        );
}

/// Peer: trivy `sbom --vex` on cleanpipe's SBOM of the same image, with a trivy database written
/// from the same OSV fixtures and the same VEX file, suppresses the same findings as
/// `cleanpipe scan --vex`. The VEX is CycloneDX, the SBOM itself with `vulnerabilities` added
/// (refs are BOM-Links into it), the form both read; the trivy build in the test setup fails on
/// any OpenVEX v0.2 document (exit 1, no message), which is asserted so an upgrade is noticed.
/// Differences are in docs/vex.md.
#[test]
fn trivy_with_the_same_vex_suppresses_the_same_findings() {
    use std::collections::BTreeSet;
    let Some(pkgs) =
        crate::sbom_scan::test_data("CLEANPIPE_TEST_PACKAGES", "installed PyPI and npm packages")
    else {
        return;
    };
    let Some(trivy) = crate::sbom_scan::test_data("CLEANPIPE_TEST_TRIVY", "the trivy binary")
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let Some(cache) = crate::external_scanners::trivy_db_from_osv(work) else {
        return;
    };
    let repo = crate::sbom_scan::packages_repo(&pkgs, "    fail_on: none\n");
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let image = "oci:.cleanpipe/oci:v1";
    let cdx = work.join("cleanpipe.cdx.json");
    repo.cleanpipe(&[
        "sbom",
        image,
        "--format",
        "cyclonedx-json",
        "-o",
        cdx.to_str().unwrap(),
    ])
    .expect_code(0);
    let mut bom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cdx).unwrap()).unwrap();
    // This trivy build reads CycloneDX 1.4's `tools` list only: with 1.5's `tools.components`
    // it exits 1 without a message. The SBOM is otherwise given as cleanpipe wrote it.
    bom["metadata"].as_object_mut().unwrap().remove("tools");
    let sbom = work.join("sbom.cdx.json");
    std::fs::write(&sbom, serde_json::to_vec(&bom).unwrap()).unwrap();
    let serial = bom["serialNumber"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:uuid:")
        .to_string();
    let link = |purl: &str| format!("urn:cdx:{serial}/1#{purl}");
    let statement = |id: &str, purl: &str, analysis: serde_json::Value| serde_json::json!({"id": id, "analysis": analysis, "affects": [{"ref": link(purl)}]});
    bom["vulnerabilities"] = serde_json::json!([
        statement(
            "GHSA-jf85-cpcp-j695",
            "pkg:npm/lodash@4.17.11",
            serde_json::json!({"state": "not_affected", "justification": "code_not_reachable"})
        ),
        statement(
            "GHSA-xvch-5gv4-984h",
            "pkg:npm/minimist@1.2.0",
            serde_json::json!({"state": "resolved"})
        ),
        statement(
            "GHSA-g3rq-g295-4j3m",
            "pkg:pypi/jinja2@2.11.2",
            serde_json::json!({"state": "not_affected", "detail": "templates are not user input"})
        ),
        statement(
            "GHSA-34jh-p97f-mpxf",
            "pkg:pypi/urllib3@1.26.4",
            serde_json::json!({"state": "exploitable", "response": ["update"]})
        ),
        statement(
            "GHSA-9wx4-h78v-vm56",
            "pkg:pypi/requests@2.25.0",
            serde_json::json!({"state": "in_triage"})
        ),
    ]);
    let vex = work.join("vex.cdx.json");
    std::fs::write(&vex, serde_json::to_vec(&bom).unwrap()).unwrap();

    let r = repo.cleanpipe(&[
        "scan",
        image,
        "--db",
        crate::sbom_scan::osv_fixtures().to_str().unwrap(),
        "--fail-on",
        "none",
        "--vex",
        vex.to_str().unwrap(),
        "-o",
        "json",
    ]);
    r.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let pairs = |list: &serde_json::Value| -> BTreeSet<(String, String)> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_string(),
                    f["package"].as_str().unwrap().to_lowercase(),
                )
            })
            .collect()
    };
    let ours_left = pairs(&report["findings"]);
    let ours_suppressed = pairs(&report["suppressed"]);
    let run_trivy = |vex: Option<&std::path::Path>| -> Option<BTreeSet<(String, String)>> {
        let mut cmd = std::process::Command::new(&trivy);
        cmd.args([
            "sbom",
            "--skip-db-update",
            "--offline-scan",
            "--format",
            "json",
            "--cache-dir",
        ])
        .arg(&cache);
        if let Some(vex) = vex {
            cmd.arg("--vex").arg(vex);
        }
        let out = cmd.arg(&sbom).output().unwrap();
        if !out.status.success() {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(
            doc["Results"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
                .map(|v| {
                    (
                        v["VulnerabilityID"].as_str().unwrap().to_string(),
                        v["PkgName"].as_str().unwrap().to_lowercase(),
                    )
                })
                .collect(),
        )
    };
    let trivy_all = run_trivy(None).expect("trivy sbom failed");
    let trivy_left = run_trivy(Some(&vex)).expect("trivy sbom --vex failed");
    let trivy_suppressed: BTreeSet<_> = trivy_all.difference(&trivy_left).cloned().collect();
    let all: BTreeSet<_> = ours_left.union(&ours_suppressed).cloned().collect();
    assert_eq!(
        all, trivy_all,
        "without VEX the two scanners must agree first"
    );
    let expected: BTreeSet<(String, String)> = [
        ("GHSA-g3rq-g295-4j3m", "jinja2"),
        ("GHSA-jf85-cpcp-j695", "lodash"),
        ("GHSA-xvch-5gv4-984h", "minimist"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(ours_suppressed, expected);
    assert_eq!(
        trivy_suppressed, expected,
        "trivy --vex suppressed other findings"
    );
    assert_eq!(ours_left, trivy_left);
    // The OpenVEX equivalent: cleanpipe reads it, this trivy build does not.
    let openvex_doc = work.join("app.openvex.json");
    std::fs::write(
        &openvex_doc,
        openvex(
            r#"{"vulnerability": {"name": "GHSA-jf85-cpcp-j695"}, "products": [{"@id": "pkg:npm/lodash@4.17.11"}],
                "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}"#,
        ),
    )
    .unwrap();
    assert!(
        run_trivy(Some(&openvex_doc)).is_none(),
        "this trivy now reads OpenVEX v0.2: compare OpenVEX here too, and update docs/vex.md"
    );
}
