//! `scanner: trivy | grype`: the real trivy binary scans the image with a vulnerability database
//! written from the same OSV fixtures the builtin scanner reads, so both must agree; grype is not
//! installable here, so its absence is the tested path (exit 3, a clear message).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sbom_scan::{osv_fixtures, packages_repo, test_data, EXPECTED_PY_NPM};
use crate::support::*;

/// trivy's version constraints for one OSV range: PEP 440 style for pip (`>= a, < b`), npm
/// range style for npm (`>=a <b`).
fn constraint(events: &[serde_json::Value], npm: bool) -> Vec<String> {
    let join = |a: &str, b: &str| match (a.is_empty(), npm) {
        (true, _) => b.to_string(),
        (false, true) => format!("{a} {b}"),
        (false, false) => format!("{a}, {b}"),
    };
    let op = |op: &str, v: &str| {
        if npm {
            format!("{op}{v}")
        } else {
            format!("{op} {v}")
        }
    };
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for e in events {
        if let Some(v) = e["introduced"].as_str() {
            current = Some(if v == "0" { String::new() } else { op(">=", v) });
        } else if let Some(v) = e["fixed"].as_str() {
            let lower = current.take().unwrap_or_default();
            out.push(join(&lower, &op("<", v)));
        } else if let Some(v) = e["last_affected"].as_str() {
            let lower = current.take().unwrap_or_default();
            out.push(join(&lower, &op("<=", v)));
        }
    }
    if let Some(lower) = current {
        out.push(if lower.is_empty() {
            op(">=", "0")
        } else {
            lower
        });
    }
    out
}

/// (trivy bucket, package name, advisory id).
type RangeKey = (String, String, String);

/// A trivy database (schema 2) holding the PyPI and npm advisories of the OSV fixtures.
pub(crate) fn trivy_db_from_osv(work: &Path) -> Option<PathBuf> {
    let gocode = Path::new("/usr/share/gocode/src/go.etcd.io/bbolt");
    let have_go = Command::new("go").arg("version").output().is_ok();
    if !have_go || !gocode.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but go or bbolt's source (Debian golang-github-coreos-bbolt-dev) is missing"
        );
        eprintln!(
            "skipped: go and Debian's golang-github-coreos-bbolt-dev build the trivy DB writer"
        );
        return None;
    }
    let mut entries = Vec::new();
    // (bucket, package, id) → (vulnerable, patched): a record may list a package twice.
    let mut ranges: std::collections::BTreeMap<RangeKey, (Vec<String>, Vec<String>)> =
        Default::default();
    for dir in ["ghsa"] {
        for f in std::fs::read_dir(osv_fixtures().join(dir)).unwrap() {
            let path = f.unwrap().path();
            let rec: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let id = rec["id"].as_str().unwrap();
            let severity = match rec["database_specific"]["severity"].as_str().unwrap_or("") {
                "MODERATE" => "MEDIUM",
                s => s,
            };
            entries.push(serde_json::json!({"path": ["vulnerability"], "key": id,
                "value": {"Title": rec["summary"], "Severity": severity}}));
            for a in rec["affected"].as_array().unwrap() {
                let bucket = match a["package"]["ecosystem"].as_str().unwrap() {
                    "PyPI" => "pip::GitHub Security Advisory Pip",
                    "npm" => "npm::GitHub Security Advisory Npm",
                    _ => continue,
                };
                let mut name = a["package"]["name"].as_str().unwrap().to_string();
                if bucket.starts_with("pip") {
                    name = name.to_lowercase().replace('_', "-");
                }
                let (vulnerable, patched) = ranges
                    .entry((bucket.to_string(), name, id.to_string()))
                    .or_default();
                for r in a["ranges"].as_array().into_iter().flatten() {
                    let events = r["events"].as_array().unwrap();
                    vulnerable.extend(constraint(events, bucket.starts_with("npm")));
                    patched.extend(
                        events
                            .iter()
                            .filter_map(|e| e["fixed"].as_str().map(String::from)),
                    );
                }
            }
        }
    }
    for ((bucket, name, id), (vulnerable, patched)) in ranges {
        entries.push(serde_json::json!({"path": [bucket, name], "key": id,
            "value": {"VulnerableVersions": vulnerable, "PatchedVersions": patched}}));
    }
    let spec = work.join("trivy-db-spec.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&serde_json::json!({ "entries": entries })).unwrap(),
    )
    .unwrap();
    // Build the writer from a copy: `go build` may touch go.mod, and the repository must not change.
    let src = work.join("writer");
    std::fs::create_dir_all(&src).unwrap();
    let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/trivydb-writer");
    for f in ["main.go", "go.mod"] {
        std::fs::copy(support.join(f), src.join(f)).unwrap();
    }
    let ok = Command::new("go")
        .args(["build", "-o", "trivydb-writer", "."])
        .current_dir(&src)
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOCACHE", work.join("gocache"))
        .env("GOPATH", work.join("gopath"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "building the trivy DB writer failed");
    let cache = work.join("trivy-cache");
    let ok = Command::new(src.join("trivydb-writer"))
        .arg("-cache-dir")
        .arg(&cache)
        .arg("-spec")
        .arg(&spec)
        .status()
        .unwrap()
        .success();
    assert!(ok, "writing the trivy DB failed");
    Some(cache)
}

fn scan_spec(trivy: &Path, cache: &Path, extra: &str) -> String {
    format!(
        "    scanner: trivy\n    scanner_path: {}\n    scanner_args: [--skip-db-update, --offline-scan, --cache-dir, {}]\n{extra}",
        trivy.display(),
        cache.display()
    )
}

#[test]
fn trivy_gate_agrees_with_the_builtin_scanner_on_the_same_advisories() {
    let Some(pkgs) = test_data("CLEANPIPE_TEST_PACKAGES", "installed PyPI and npm packages") else {
        return;
    };
    let Some(trivy) = test_data("CLEANPIPE_TEST_TRIVY", "the trivy binary") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let Some(cache) = trivy_db_from_osv(work.path()) else {
        return;
    };
    // The built image is scanned by trivy; the gate at `critical` fails on lodash/minimist.
    let repo =
        packages_repo_with_scan(&pkgs, &scan_spec(&trivy, &cache, "    fail_on: critical\n"));
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1)
        .expect_stderr("GHSA-xvch-5gv4-984h (critical) in minimist 1.2.0")
        .expect_stderr("scanning with");
    assert!(r.stderr.contains("sign         not run"), "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/scan-results.json")).unwrap(),
    )
    .unwrap();
    assert!(
        report["scanner"].as_str().unwrap().starts_with("trivy"),
        "{}",
        report["scanner"]
    );
    let mut got: Vec<(String, String)> = crate::sbom_scan::findings(&report)
        .into_iter()
        .map(|(id, package, _)| (id, package.to_lowercase()))
        .collect();
    got.sort();
    let findings = report["findings"].as_array().unwrap();
    let mut expected: Vec<(String, String)> = EXPECTED_PY_NPM
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_lowercase()))
        .collect();
    expected.sort();
    assert_eq!(got, expected, "trivy and the builtin scanner disagree");
    // trivy names the layer by diff id; cleanpipe maps it back to the layer digest.
    assert!(
        findings.iter().all(|f| f["layer"].is_string()),
        "every finding has its layer: {findings:?}"
    );
    // Waivers apply to trivy's findings as to the builtin scanner's.
    let waivers = "    fail_on: critical\n    waivers:\n      - id: GHSA-xvch-5gv4-984h\n        reason: argv is trusted\n        expires: 2999-01-31\n      - id: GHSA-jf85-cpcp-j695\n        reason: templates unused\n        expires: 2999-01-31\n      - id: GHSA-p6mc-m468-83gw\n        reason: no user input\n        expires: 2999-01-31\n      - id: GHSA-35jh-r3h4-6jhm\n        reason: no user input\n        expires: 2999-01-31\n";
    let repo = packages_repo_with_scan(&pkgs, &scan_spec(&trivy, &cache, waivers));
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
}

/// `packages_repo`, but `extra` is the whole body of `build.scan` (no builtin `db`).
fn packages_repo_with_scan(pkgs: &Path, scan: &str) -> Repo {
    let repo = packages_repo(pkgs, "");
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    let start = text.find("  scan:\n").unwrap();
    let end = text.find("sign:\n").unwrap();
    let text = format!("{}  scan:\n{scan}{}", &text[..start], &text[end..]);
    repo.write("pipeline.yaml", &text);
    repo.commit();
    repo
}

#[test]
fn missing_or_failing_external_scanner_is_an_environment_error() {
    let repo = scratch_repo(None, &["v1"]);
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    let with_scan = |scan: &str| text.replacen("build:\n", &format!("build:\n  scan:\n{scan}"), 1);
    // grype is not installed here (nor on CI): a clear error, exit 3, nothing published.
    repo.write(
        "pipeline.yaml",
        &with_scan("    scanner: grype\n    scanner_path: /nonexistent/grype\n"),
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(3)
        .expect_stderr("scanner `grype` not found")
        .expect_stderr("scanner_path");
    assert!(r.stderr.contains("sign         not run"), "{}", r.stderr);
    // A scanner that runs but fails (trivy without any database) is exit 3 as well.
    if let Some(trivy) = test_data("CLEANPIPE_TEST_TRIVY", "the trivy binary") {
        let empty = tempfile::tempdir().unwrap();
        repo.write(
            "pipeline.yaml",
            &with_scan(&format!(
                "    scanner: trivy\n    scanner_path: {}\n    scanner_args: [--skip-db-update, --cache-dir, {}]\n",
                trivy.display(),
                empty.path().display()
            )),
        );
        repo.commit();
        repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(3)
            .expect_stderr("failed");
    }
    // `db` with an external scanner is a located pipeline error (exit 2).
    repo.write(
        "pipeline.yaml",
        &with_scan("    scanner: trivy\n    db: osv/\n"),
    );
    repo.commit();
    repo.cleanpipe(&["plan"])
        .expect_code(2)
        .expect_stderr("`db` is for the builtin scanner");
    // The CLI: `cleanpipe scan --scanner grype` on a layout image, grype absent.
    repo.write("pipeline.yaml", &text);
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let image = format!("oci:{}:v1", repo.path().join(".cleanpipe/oci").display());
    repo.cleanpipe(&[
        "scan",
        &image,
        "--scanner",
        "grype",
        "--scanner-path",
        "/nonexistent/grype",
    ])
    .expect_code(3)
    .expect_stderr("not found");
}
