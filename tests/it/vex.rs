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

/// (advisory id, package name lowercased): one finding, as both tools name it.
type Pair = (String, String);

fn pairs(list: &[(&str, &str)]) -> std::collections::BTreeSet<Pair> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The VEX peer: trivy v0.74.0 (`CLEANPIPE_TEST_TRIVY_VEX`, built by .ci/run; it reads OpenVEX
/// v0.2 and CycloneDX VEX) and cleanpipe, on the same image built from the real PyPI and npm
/// packages (13 advisories of the OSV fixtures), with a trivy database written from the same
/// fixtures. trivy scans cleanpipe's CycloneDX SBOM of the image, as cleanpipe wrote it.
struct VexPeer {
    trivy: std::path::PathBuf,
    cache: std::path::PathBuf,
    repo: Repo,
    sbom: std::path::PathBuf,
    bom: serde_json::Value,
    digest: String,
    work: tempfile::TempDir,
}

const IMAGE: &str = "oci:.cleanpipe/oci:v1";

impl VexPeer {
    fn new() -> Option<VexPeer> {
        let pkgs = crate::sbom_scan::test_data(
            "CLEANPIPE_TEST_PACKAGES",
            "installed PyPI and npm packages",
        )?;
        let trivy = crate::sbom_scan::test_data(
            "CLEANPIPE_TEST_TRIVY_VEX",
            "trivy v0.74.0, which reads OpenVEX (built by .ci/run)",
        )?;
        let work = tempfile::tempdir().unwrap();
        let cache = crate::external_scanners::trivy_db_from_osv(work.path())?;
        let repo = crate::sbom_scan::packages_repo(&pkgs, "    fail_on: none\n");
        repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(0);
        let sbom = work.path().join("sbom.cdx.json");
        repo.cleanpipe(&[
            "sbom",
            IMAGE,
            "--format",
            "cyclonedx-json",
            "-o",
            sbom.to_str().unwrap(),
        ])
        .expect_code(0);
        let bom: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&sbom).unwrap()).unwrap();
        let digest = bom["metadata"]["component"]["version"]
            .as_str()
            .unwrap()
            .to_string();
        Some(VexPeer {
            trivy,
            cache,
            repo,
            sbom,
            bom,
            digest,
            work,
        })
    }

    fn write(&self, name: &str, doc: &str) -> std::path::PathBuf {
        let path = self.work.path().join(name);
        std::fs::write(&path, doc).unwrap();
        path
    }

    /// `cleanpipe scan --vex DOC`: (findings left, findings suppressed).
    fn ours(&self, vex: Option<&std::path::Path>) -> (BTreeSet<Pair>, BTreeSet<Pair>) {
        let r = self.scan(vex);
        r.expect_code(0);
        let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let list = |key: &str| -> BTreeSet<Pair> {
            report[key]
                .as_array()
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
        (list("findings"), list("suppressed"))
    }

    fn scan(&self, vex: Option<&std::path::Path>) -> Run {
        let db = crate::sbom_scan::osv_fixtures();
        let mut args = vec![
            "scan",
            IMAGE,
            "--db",
            db.to_str().unwrap(),
            "--fail-on",
            "none",
            "-o",
            "json",
        ];
        if let Some(vex) = vex {
            args.extend(["--vex", vex.to_str().unwrap()]);
        }
        self.repo.cleanpipe(&args)
    }

    /// trivy `sbom [--vex DOC] SBOM`: the findings it leaves. Exit 0 required.
    fn trivy(&self, vex: Option<&std::path::Path>, sbom: &std::path::Path) -> BTreeSet<Pair> {
        let mut cmd = std::process::Command::new(&self.trivy);
        cmd.args([
            "sbom",
            "--skip-db-update",
            "--offline-scan",
            "--quiet",
            "--format",
            "json",
            "--cache-dir",
        ])
        .arg(&self.cache);
        if let Some(vex) = vex {
            cmd.arg("--vex").arg(vex);
        }
        let out = cmd.arg(sbom).output().unwrap();
        assert!(
            out.status.success(),
            "trivy sbom failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
            .collect()
    }

    /// What trivy suppresses with `vex` on `sbom`: its findings without VEX minus those left.
    fn trivy_suppressed(&self, vex: &std::path::Path, sbom: &std::path::Path) -> BTreeSet<Pair> {
        let all = self.trivy(None, sbom);
        all.difference(&self.trivy(Some(vex), sbom))
            .cloned()
            .collect()
    }
}

use std::collections::BTreeSet;

/// Peer: trivy `sbom --vex` on cleanpipe's SBOM of the same image, with a trivy database written
/// from the same OSV fixtures and the same CycloneDX VEX file, suppresses the same findings as
/// `cleanpipe scan --vex`. The VEX is the SBOM itself with `vulnerabilities` added (refs are
/// BOM-Links into it), the form both read. Differences are in docs/vex.md.
#[test]
fn trivy_with_the_same_cyclonedx_vex_suppresses_the_same_findings() {
    let Some(peer) = VexPeer::new() else {
        return;
    };
    let (ours_all, none) = peer.ours(None);
    assert!(none.is_empty());
    let expected_all: BTreeSet<Pair> = pairs(crate::sbom_scan::EXPECTED_PY_NPM)
        .into_iter()
        .map(|(a, b)| (a, b.to_lowercase()))
        .collect();
    assert_eq!(ours_all, expected_all);
    assert_eq!(
        peer.trivy(None, &peer.sbom),
        ours_all,
        "without VEX the two scanners must agree first"
    );
    let mut bom = peer.bom.clone();
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
    let vex = peer.write("vex.cdx.json", &bom.to_string());
    let (ours_left, ours_suppressed) = peer.ours(Some(&vex));
    let expected = pairs(&[
        ("GHSA-g3rq-g295-4j3m", "jinja2"),
        ("GHSA-jf85-cpcp-j695", "lodash"),
        ("GHSA-xvch-5gv4-984h", "minimist"),
    ]);
    assert_eq!(ours_suppressed, expected);
    assert_eq!(
        peer.trivy_suppressed(&vex, &peer.sbom),
        expected,
        "trivy --vex suppressed other findings"
    );
    assert_eq!(ours_left, peer.trivy(Some(&vex), &peer.sbom));
}

/// Peer, OpenVEX: the same image, database and document for both tools. On what OpenVEX and
/// docs/vex.md say alike (a package purl with or without version, not_affected with a
/// justification or only an impact statement, fixed, affected, under_investigation, the latest
/// statement winning) both suppress the same findings.
#[test]
fn trivy_with_the_same_openvex_suppresses_the_same_findings() {
    let Some(peer) = VexPeer::new() else {
        return;
    };
    let statements = [
        // A versioned package purl, not_affected with a justification.
        r#"{"vulnerability": {"name": "GHSA-jf85-cpcp-j695"}, "products": [{"@id": "pkg:npm/lodash@4.17.11"}],
            "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}"#,
        // No version: every version of the package.
        r#"{"vulnerability": {"name": "GHSA-xvch-5gv4-984h"}, "products": [{"@id": "pkg:npm/minimist"}],
            "status": "fixed"}"#,
        // Only an impact statement; the PyPI name as the project spells it (purl names of PyPI
        // are compared normalised).
        r#"{"vulnerability": {"name": "GHSA-g3rq-g295-4j3m"}, "products": [{"@id": "pkg:pypi/Jinja2@2.11.2"}],
            "status": "not_affected", "impact_statement": "templates are not user input"}"#,
        // Statements that keep their finding.
        r#"{"vulnerability": {"name": "GHSA-34jh-p97f-mpxf"}, "products": [{"@id": "pkg:pypi/urllib3@1.26.4"}],
            "status": "affected", "action_statement": "upgrade to 1.26.5"}"#,
        r#"{"vulnerability": {"name": "GHSA-9wx4-h78v-vm56"}, "products": [{"@id": "pkg:pypi/requests@2.25.0"}],
            "status": "under_investigation"}"#,
        // The latest statement wins: not_affected, later affected (kept) ...
        r#"{"vulnerability": {"name": "GHSA-j8r2-6x86-q33q"}, "products": [{"@id": "pkg:pypi/requests@2.25.0"}],
            "status": "not_affected", "justification": "inline_mitigations_already_exist", "timestamp": "2026-10-01T00:00:00Z"}"#,
        r#"{"vulnerability": {"name": "GHSA-j8r2-6x86-q33q"}, "products": [{"@id": "pkg:pypi/requests@2.25.0"}],
            "status": "affected", "action_statement": "upgrade", "timestamp": "2026-10-02T00:00:00Z"}"#,
        // ... and affected, later fixed (suppressed), written in the other order.
        r#"{"vulnerability": {"name": "GHSA-35jh-r3h4-6jhm"}, "products": [{"@id": "pkg:npm/lodash@4.17.11"}],
            "status": "fixed", "timestamp": "2026-10-02T00:00:00Z"}"#,
        r#"{"vulnerability": {"name": "GHSA-35jh-r3h4-6jhm"}, "products": [{"@id": "pkg:npm/lodash@4.17.11"}],
            "status": "affected", "action_statement": "upgrade", "timestamp": "2026-10-01T00:00:00Z"}"#,
        // Another version, a qualifier the installed purl lacks, and another package: nothing.
        r#"{"vulnerability": {"name": "GHSA-p6mc-m468-83gw"}, "products": [{"@id": "pkg:npm/lodash@4.17.21"}],
            "status": "not_affected", "justification": "component_not_present"}"#,
        r#"{"vulnerability": {"name": "GHSA-h5c8-rqwp-cp95"}, "products": [{"@id": "pkg:pypi/jinja2@2.11.2?os=linux"}],
            "status": "not_affected", "justification": "component_not_present"}"#,
        r#"{"vulnerability": {"name": "GHSA-v845-jxx5-vc9f"}, "products": [{"@id": "pkg:pypi/requests@2.25.0"}],
            "status": "not_affected", "justification": "component_not_present"}"#,
    ];
    let vex = peer.write("app.openvex.json", &openvex(&statements.join(", ")));
    let (ours_left, ours_suppressed) = peer.ours(Some(&vex));
    let expected = pairs(&[
        ("GHSA-35jh-r3h4-6jhm", "lodash"),
        ("GHSA-g3rq-g295-4j3m", "jinja2"),
        ("GHSA-jf85-cpcp-j695", "lodash"),
        ("GHSA-xvch-5gv4-984h", "minimist"),
    ]);
    assert_eq!(ours_suppressed, expected);
    assert_eq!(
        peer.trivy_suppressed(&vex, &peer.sbom),
        expected,
        "trivy --vex suppressed other findings"
    );
    assert_eq!(ours_left, peer.trivy(Some(&vex), &peer.sbom));
}

/// Peer, OpenVEX, where the two differ by design (docs/vex.md, "Compared with trivy `--vex`"):
/// each difference is asserted, so a change on either side is noticed.
#[test]
fn trivy_and_cleanpipe_differ_on_openvex_where_the_docs_say() {
    let Some(peer) = VexPeer::new() else {
        return;
    };
    let lodash = pairs(&[("GHSA-jf85-cpcp-j695", "lodash")]);
    let statement = |vuln: &str, product: &str, extra: &str| {
        openvex(&format!(
            r#"{{"vulnerability": {{"name": "{vuln}"}}, "products": [{product}], "status": "not_affected"{extra}}}"#
        ))
    };
    let justified = r#", "justification": "vulnerable_code_not_in_execute_path""#;

    // `not_affected` without a justification or impact statement: cleanpipe refuses the document
    // (OpenVEX requires one), trivy suppresses the finding.
    let bare = peer.write(
        "bare.openvex.json",
        &statement(
            "GHSA-jf85-cpcp-j695",
            r#"{"@id": "pkg:npm/lodash@4.17.11"}"#,
            "",
        ),
    );
    peer.scan(Some(&bare))
        .expect_code(2)
        .expect_stderr("neither `justification` nor `impact_statement`");
    assert_eq!(peer.trivy_suppressed(&bare, &peer.sbom), lodash);

    // A statement about the CVE the advisory is an alias of: cleanpipe follows the OSV record's
    // aliases, trivy compares the statement with its own vulnerability id only.
    let cve = peer.write(
        "cve.openvex.json",
        &statement(
            "CVE-2021-23337",
            r#"{"@id": "pkg:npm/lodash@4.17.11"}"#,
            justified,
        ),
    );
    assert_eq!(
        peer.ours(Some(&cve)).1,
        pairs(&[("GHSA-35jh-r3h4-6jhm", "lodash")])
    );
    assert!(peer.trivy_suppressed(&cve, &peer.sbom).is_empty());

    // The image as the product (its digest; `pkg:oci` with the digest, with and without a
    // package as subcomponent): cleanpipe matches the scanned image's digest; trivy `sbom` puts
    // a root of its own (a filesystem, no purl) above the SBOM's packages, so an image product
    // matches nothing there, even when the SBOM's own root has the `pkg:oci` purl.
    let mut rooted = peer.bom.clone();
    rooted["metadata"]["component"]["purl"] =
        serde_json::Value::String(format!("pkg:oci/app@{}", peer.digest));
    let rooted_sbom = peer.write("rooted.cdx.json", &rooted.to_string());
    for (name, product) in [
        ("digest", format!(r#"{{"@id": "{}"}}"#, peer.digest)),
        (
            "oci",
            format!(r#"{{"@id": "pkg:oci/app@{}"}}"#, peer.digest),
        ),
        (
            "oci-sub",
            format!(
                r#"{{"@id": "pkg:oci/app@{}", "subcomponents": [{{"@id": "pkg:npm/lodash@4.17.11"}}]}}"#,
                peer.digest
            ),
        ),
    ] {
        let doc = peer.write(
            &format!("{name}.openvex.json"),
            &statement("GHSA-jf85-cpcp-j695", &product, justified),
        );
        assert_eq!(peer.ours(Some(&doc)).1, lodash, "{name}");
        assert!(peer.trivy_suppressed(&doc, &peer.sbom).is_empty(), "{name}");
        assert!(
            peer.trivy_suppressed(&doc, &rooted_sbom).is_empty(),
            "{name}, the SBOM's root with a purl"
        );
    }
}

/// Peer, CycloneDX VEX, where the two differ: trivy reads `affects[].ref` only as a BOM-Link into
/// the SBOM it scans and keeps one statement per vulnerability id; cleanpipe also reads a purl as
/// the ref, and reads every statement.
#[test]
fn trivy_and_cleanpipe_differ_on_cyclonedx_vex_where_the_docs_say() {
    let Some(peer) = VexPeer::new() else {
        return;
    };
    let lodash = pairs(&[("GHSA-jf85-cpcp-j695", "lodash")]);
    let mut bom = peer.bom.clone();
    let serial = bom["serialNumber"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:uuid:")
        .to_string();
    let not_affected =
        serde_json::json!({"state": "not_affected", "justification": "code_not_reachable"});
    // A purl as the ref.
    bom["vulnerabilities"] = serde_json::json!([{"id": "GHSA-jf85-cpcp-j695",
        "analysis": not_affected, "affects": [{"ref": "pkg:npm/lodash@4.17.11"}]}]);
    let purl_ref = peer.write("purl-ref.cdx.json", &bom.to_string());
    assert_eq!(peer.ours(Some(&purl_ref)).1, lodash);
    assert!(peer.trivy_suppressed(&purl_ref, &peer.sbom).is_empty());
    // Two statements about one id: trivy keeps the last (about a package without that
    // advisory), cleanpipe applies each where it matches.
    bom["vulnerabilities"] = serde_json::json!([
        {"id": "GHSA-jf85-cpcp-j695", "analysis": not_affected,
         "affects": [{"ref": format!("urn:cdx:{serial}/1#pkg:npm/lodash@4.17.11")}]},
        {"id": "GHSA-jf85-cpcp-j695", "analysis": not_affected,
         "affects": [{"ref": format!("urn:cdx:{serial}/1#pkg:npm/minimist@1.2.0")}]},
    ]);
    let twice = peer.write("twice.cdx.json", &bom.to_string());
    assert_eq!(peer.ours(Some(&twice)).1, lodash);
    assert!(peer.trivy_suppressed(&twice, &peer.sbom).is_empty());
}
