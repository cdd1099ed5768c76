//! CI-native outputs with a simulated CI environment (the files are real; only the CI is
//! absent): GitHub Actions step outputs, job summary and `::error` annotations, the JUnit XML
//! report of the gates and the dotenv file for GitLab.

use std::process::Command;

use crate::support::*;

/// `cleanpipe run` as a GitHub Actions step would run it: (run, outputs file, summary file).
fn run_in_github(repo: &Repo) -> (Run, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");
    std::fs::write(&outputs, "earlier=kept\n").unwrap();
    let run = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    (run, read(&outputs), read(&summary))
}

/// A JUnit file's `(tests, failures, skipped)` as Python's XML parser reads them (so the file
/// is well-formed XML, not just text that looks like it).
fn junit_counts(path: &std::path::Path) -> (String, String, String) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; s = E.parse(sys.argv[1]).getroot().find('testsuite'); print(s.get('tests'), s.get('failures'), s.get('skipped'), len(s.findall('testcase')))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f[0], f[3], "one testcase per stage");
    (f[0].into(), f[1].into(), f[2].into())
}

#[test]
fn a_successful_run_fills_the_github_outputs_summary_and_reports() {
    let repo = scratch_repo(None, &["v1"]);
    let (run, outputs, summary) = run_in_github(&repo);
    run.expect_code(0);
    let image = run.last_line();
    let digest = &image[image.find('@').unwrap() + 1..];
    assert!(
        outputs.starts_with("earlier=kept\n"),
        "appended, not replaced: {outputs}"
    );
    assert!(outputs.contains("status=succeeded\n"), "{outputs}");
    assert!(outputs.contains(&format!("digest={digest}\n")), "{outputs}");
    assert!(outputs.contains(&format!("image={image}\n")), "{outputs}");
    assert!(outputs.contains("tags=v1\n"), "{outputs}");
    assert!(summary.contains("— succeeded"), "{summary}");
    assert!(summary.contains("| sign | passed |"), "{summary}");
    assert!(summary.contains(&format!("`{image}`")), "{summary}");
    let out = repo.path().join(".cleanpipe/out");
    assert_eq!(
        junit_counts(&out.join("junit.xml")),
        ("5".into(), "0".into(), "0".into())
    );
    let dotenv = std::fs::read_to_string(out.join("cleanpipe.env")).unwrap();
    assert!(
        dotenv.contains(&format!("CLEANPIPE_DIGEST=\"{digest}\"")),
        "{dotenv}"
    );
    assert!(!run.stdout.contains("::error"), "{}", run.stdout);
}

#[test]
fn a_gate_failure_is_annotated_and_reported_as_a_failed_test() {
    let repo = scratch_repo(None, &["v1"]);
    repo.write("hello.txt", "changed, not committed\n");
    let (run, outputs, summary) = run_in_github(&repo);
    run.expect_code(1);
    assert!(outputs.contains("status=failed\n"), "{outputs}");
    assert!(!outputs.contains("digest="), "{outputs}");
    assert!(summary.contains("**Error** in source"), "{summary}");
    assert!(
        run.stdout
            .contains("::error title=cleanpipe source failed::"),
        "{}",
        run.stdout
    );
    let out = repo.path().join(".cleanpipe/out");
    assert_eq!(
        junit_counts(&out.join("junit.xml")),
        ("5".into(), "1".into(), "4".into())
    );
}

#[test]
fn a_pipeline_file_error_is_annotated_on_its_line() {
    let repo = scratch_repo(None, &["v1"]);
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    repo.write("pipeline.yaml", &text.replace("sign:", "sgin:"));
    repo.commit();
    let (run, _, _) = run_in_github(&repo);
    run.expect_code(2);
    let line = text.lines().position(|l| l.starts_with("sign:")).unwrap() + 1;
    assert!(
        run.stdout.contains(&format!(
            "::error title=cleanpipe run failed,file=pipeline.yaml,line={line},col=1::"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn outside_github_actions_nothing_is_written_there() {
    let repo = scratch_repo(None, &["v1"]);
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("github_output");
    repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ],
    )
    .expect_code(0);
    assert!(!outputs.exists());
}

/// `plan --matrix`: one entry per tracked pipeline file (one per image), each validated; on
/// GitHub Actions also written as the `matrix` step output.
#[test]
fn plan_matrix_lists_every_tracked_pipeline_file() {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    let pipeline = |name: &str| {
        format!(
            "version: 1\nname: {name}\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: cosign.key\npush:\n  repository: 127.0.0.1:5000/acme/{name}\n"
        )
    };
    repo.write("pipeline.yaml", &pipeline("root"));
    repo.write("api/pipeline.yaml", &pipeline("api"));
    repo.write("worker.pipeline.yml", &pipeline("worker"));
    repo.write("api/hello.txt", "api\n");
    repo.write("notes/pipeline.txt", "not a pipeline\n");
    repo.write("untracked.pipeline.yaml", &pipeline("untracked"));
    std::fs::write(
        repo.path().join(".gitignore"),
        ".cleanpipe\nuntracked.pipeline.yaml\n",
    )
    .unwrap();
    repo.commit();
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("github_output");
    let out = repo.cleanpipe_env(
        &["plan", "--matrix"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ],
    );
    out.expect_code(0);
    let matrix: serde_json::Value = serde_json::from_str(&out.last_line()).unwrap();
    let entries: Vec<(&str, &str)> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["pipeline"].as_str().unwrap()))
        .collect();
    assert_eq!(
        entries,
        [
            ("api", "api/pipeline.yaml"),
            ("root", "pipeline.yaml"),
            ("worker", "worker.pipeline.yml")
        ]
    );
    assert_eq!(
        matrix["include"][0]["repository"],
        "127.0.0.1:5000/acme/api"
    );
    assert_eq!(matrix["include"][0]["directory"], "api");
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert_eq!(written, format!("matrix={}\n", out.last_line()));

    // One broken file fails the whole matrix with its location.
    repo.write(
        "api/pipeline.yaml",
        &pipeline("api").replace("sign:", "sgin:"),
    );
    repo.commit();
    repo.cleanpipe(&["plan", "--matrix"])
        .expect_code(2)
        .expect_stderr("api/pipeline.yaml:");
}

/// What schema 15 of GitLab's security reports requires of a container scanning report, as
/// its documentation states it (no copy of the schema file is available to validate with).
fn check_gitlab_report(doc: &serde_json::Value) {
    let version = doc["version"].as_str().unwrap();
    assert!(
        version.starts_with("15.")
            && version.split('.').count() == 3
            && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "{version}"
    );
    let scan = &doc["scan"];
    assert_eq!(scan["type"], "container_scanning");
    assert!(["success", "failure"].contains(&scan["status"].as_str().unwrap()));
    for t in ["start_time", "end_time"] {
        let t = scan[t].as_str().unwrap();
        let b = t.as_bytes();
        assert!(
            t.len() == 19
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && b[16] == b':',
            "`YYYY-MM-DDTHH:MM:SS`: {t}"
        );
    }
    for part in ["analyzer", "scanner"] {
        for field in ["id", "name", "version"] {
            assert!(
                !scan[part][field].as_str().unwrap().is_empty(),
                "{part}.{field}"
            );
        }
        assert!(!scan[part]["vendor"]["name"].as_str().unwrap().is_empty());
    }
    for v in doc["vulnerabilities"].as_array().unwrap() {
        assert!(!v["id"].as_str().unwrap().is_empty());
        assert!(
            ["Critical", "High", "Medium", "Low", "Info", "Unknown"]
                .contains(&v["severity"].as_str().unwrap()),
            "{v}"
        );
        let ids = v["identifiers"].as_array().unwrap();
        assert!(!ids.is_empty());
        for i in ids {
            for field in ["type", "name", "value"] {
                assert!(!i[field].as_str().unwrap().is_empty(), "{i}");
            }
        }
        let location = &v["location"];
        assert!(!location["dependency"]["package"]["name"]
            .as_str()
            .unwrap()
            .is_empty());
        assert!(location["dependency"]["version"].is_string());
        assert!(!location["operating_system"].as_str().unwrap().is_empty());
        assert!(!location["image"].as_str().unwrap().is_empty());
        for removed in ["category", "message", "cve", "confidence", "scanner"] {
            assert!(
                v.get(removed).is_none(),
                "schema 15 removed `{removed}`: {v}"
            );
        }
    }
}

/// The image's findings (the same as the SARIF report's) go into GitLab's container scanning
/// report, also when the gate fails on them.
#[test]
fn a_gitlab_container_scanning_report_lists_the_image_findings() {
    let Some(pkgs) =
        crate::sbom_scan::test_data("CLEANPIPE_TEST_PACKAGES", "installed PyPI and npm packages")
    else {
        return;
    };
    let repo = crate::sbom_scan::packages_repo(&pkgs, "    fail_on: critical\n");
    let run = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("GITLAB_CI", "true"),
            ("CS_DEFAULT_BRANCH_IMAGE", "registry.example/acme/pkgs:main"),
        ],
    );
    run.expect_code(1)
        .expect_stderr("gitlab: container scanning report in");
    let out = repo.path().join(".cleanpipe/out");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap()
    };
    let doc = read("gl-container-scanning-report.json");
    check_gitlab_report(&doc);
    assert_eq!(
        doc["scan"]["status"], "success",
        "the scan ran; its gate failed"
    );
    let sarif = read("scan-results.sarif");
    let vulnerabilities = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(
        vulnerabilities.len(),
        sarif["runs"][0]["results"].as_array().unwrap().len()
    );
    let minimist = vulnerabilities
        .iter()
        .find(|v| v["identifiers"][0]["value"] == "GHSA-xvch-5gv4-984h")
        .expect("the minimist advisory");
    assert_eq!(minimist["severity"], "Critical");
    assert_eq!(
        minimist["location"]["dependency"]["package"]["name"],
        "minimist"
    );
    assert_eq!(minimist["location"]["dependency"]["version"], "1.2.0");
    assert_eq!(minimist["solution"], "Upgrade minimist to 1.2.6 or later");
    assert_eq!(
        minimist["location"]["default_branch_image"],
        "registry.example/acme/pkgs:main"
    );
    assert!(minimist["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["type"] == "cve"));
    let ids: std::collections::BTreeSet<&str> = vulnerabilities
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), vulnerabilities.len(), "ids are unique");

    // Without GitLab the same file is written, just not announced.
    let again = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    again.expect_code(1);
    assert!(!again.stderr.contains("gitlab:"), "{}", again.stderr);
    let second = read("gl-container-scanning-report.json");
    assert_eq!(
        second["vulnerabilities"].as_array().unwrap().len(),
        vulnerabilities.len()
    );
    assert_eq!(
        second["vulnerabilities"][0]["id"], doc["vulnerabilities"][0]["id"],
        "a finding keeps its id from run to run"
    );
}

/// A scan that never finished is a failed scan in the report (GitLab must not read "no
/// vulnerabilities"); a pipeline without a scan gets no report, and an old one is removed.
#[test]
fn a_gitlab_report_says_when_the_scan_did_not_run() {
    let repo = scratch_repo(None, &["v1"]);
    let out = repo.path().join(".cleanpipe/out");
    let read_report = || -> serde_json::Value {
        let text = std::fs::read_to_string(out.join("gl-container-scanning-report.json")).unwrap();
        let doc = serde_json::from_str(&text).unwrap();
        check_gitlab_report(&doc);
        doc
    };
    let pipeline = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    repo.write(
        "pipeline.yaml",
        &pipeline.replace(
            "sign:\n",
            &format!(
                "  scan:\n    db: {}\nsign:\n",
                crate::sbom_scan::osv_fixtures().display()
            ),
        ),
    );
    repo.commit();
    // The work tree is dirty: the run stops in `source`, before the scan.
    repo.write("hello.txt", "changed, not committed\n");
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1);
    let doc = read_report();
    assert_eq!(doc["scan"]["status"], "failure");
    assert_eq!(doc["scan"]["messages"][0]["level"], "fatal");
    assert!(
        doc["scan"]["messages"][0]["value"]
            .as_str()
            .unwrap()
            .contains("stopped in source"),
        "{doc}"
    );
    assert_eq!(doc["vulnerabilities"], serde_json::json!([]));

    // Scanned and clean: success, no vulnerabilities.
    repo.write("hello.txt", "hello\n");
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let doc = read_report();
    assert_eq!(doc["scan"]["status"], "success");

    // No scan in the pipeline: no report, and the earlier one is gone.
    repo.write("pipeline.yaml", &pipeline);
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    assert!(!out.join("gl-container-scanning-report.json").exists());
}
