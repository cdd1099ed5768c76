//! Attack cases found after issue 8's fixes: variants of its classes the first suite missed.

use super::evidence::{assert_not_verified, built, cosign_vuln, verify, with_scan};
use crate::support::*;

fn trivy_with(vuln: serde_json::Value) -> serde_json::Value {
    let mut v = serde_json::json!({"VulnerabilityID": "CVE-2023-45853", "PkgName": "zlib1g",
        "InstalledVersion": "1:1.2.13.dfsg-1"});
    v.as_object_mut()
        .unwrap()
        .extend(vuln.as_object().unwrap().clone());
    cosign_vuln(
        "trivy",
        serde_json::json!({"SchemaVersion": 2, "Results": [{"Target": "x (debian 12.5)",
            "Type": "debian", "Vulnerabilities": [v]}]}),
    )
}

/// A trivy or grype report inside a trusted attestation whose severity label is not a
/// severity (misspelled, missing) was read as `unknown`, which never trips `--fail-on`: the same
/// label in cleanpipe's own shape was refused. Now refused in every shape.
#[test]
fn external_scan_severity_that_is_not_a_severity_fails_verify() {
    let (repo, digest) = built();
    for (predicate, label) in [
        (
            trivy_with(serde_json::json!({"Severity": "SEVERE"})),
            "SEVERE",
        ),
        (trivy_with(serde_json::json!({})), ""),
        (
            cosign_vuln(
                "grype",
                serde_json::json!({"matches": [{
                    "vulnerability": {"id": "GHSA-35jh-r3h4-6jhm", "severity": "Critcal"},
                    "artifact": {"name": "lodash", "version": "4.17.11", "type": "npm"}}]}),
            ),
            "Critcal",
        ),
    ] {
        let scan = with_scan(&repo, &digest, predicate);
        assert_not_verified(
            &verify(&repo, &["--fail-on", "critical"]),
            &[
                &format!(
                    "policy [FAIL] vulnerabilities: attestation layer 1, {} holds a scan result cleanpipe cannot read",
                    scan.digest
                ),
                &format!("has severity `{label}`, which is not a severity"),
            ],
        );
    }
}

/// trivy labels a finding `UNKNOWN` when its vendor gave no label, yet may carry a CVSS score
/// of 9.8: the score decides, as for cleanpipe's own OSV scanner, instead of never tripping.
#[test]
fn external_scan_unknown_label_with_critical_cvss_trips_fail_on() {
    let (repo, digest) = built();
    with_scan(
        &repo,
        &digest,
        trivy_with(serde_json::json!({"Severity": "UNKNOWN",
            "CVSS": {"nvd": {"V3Score": 9.8}}})),
    );
    assert_not_verified(
        &verify(&repo, &["--fail-on", "high"]),
        &["CVE-2023-45853 (critical) in zlib1g"],
    );
    // Without a score, unknown stays unknown, which is not a pass: it trips any gate at
    // `high` or below, and only `critical` lets it through. (An external scanner's report
    // does not say what it checked: accepted here only in writing.)
    with_scan(
        &repo,
        &digest,
        trivy_with(serde_json::json!({"Severity": "UNKNOWN"})),
    );
    assert_not_verified(
        &verify(&repo, &["--fail-on", "low", "--allow-incomplete-coverage"]),
        &["CVE-2023-45853 (unknown) in zlib1g"],
    );
    verify(
        &repo,
        &["--fail-on", "critical", "--allow-incomplete-coverage"],
    )
    .expect_code(0)
    .expect_stderr("policy [ok] vulnerabilities");
    verify(&repo, &["--fail-on", "critical"])
        .expect_code(1)
        .expect_stderr("trivy does not say which packages it could not check");
}

/// Go's JSON decoder (trivy's and grype's consumers, cosign, policy engines) matches keys
/// case-insensitively: `"results"` holds findings for them and nothing for serde. A key that
/// differs only in case from one cleanpipe reads is refused, never read as zero findings.
#[test]
fn external_scan_keys_in_another_case_are_refused() {
    let (repo, digest) = built();
    for (result, key) in [
        (
            serde_json::json!({"SchemaVersion": 2, "results": [{"Target": "x", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-1", "PkgName": "p", "Severity": "CRITICAL"}]}]}),
            "results",
        ),
        (
            serde_json::json!({"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-1", "PkgName": "p", "Severity": "LOW", "severity": "CRITICAL"}]}]}),
            "severity",
        ),
        (
            serde_json::json!({"matches": [{
                "vulnerability": {"id": "CVE-1", "severity": "Low", "Severity": "Critical"},
                "artifact": {"name": "p", "version": "1", "type": "npm"}}]}),
            "Severity",
        ),
    ] {
        let tool = if result.get("matches").is_some() {
            "grype"
        } else {
            "trivy"
        };
        let scan = with_scan(&repo, &digest, cosign_vuln(tool, result));
        assert_not_verified(
            &verify(&repo, &["--fail-on", "critical"]),
            &[
                &format!(
                    "attestation layer 1, {} holds a scan result cleanpipe cannot read",
                    scan.digest
                ),
                &format!("key `{key}` differs only in case from"),
            ],
        );
    }
}

/// `git update-index --skip-worktree` (or `--assume-unchanged`) hides a changed tracked file
/// from `git status`: the run built the host's content into a signed image whose provenance said
/// the tree was clean. Such a file counts as changed; nothing is written to the store.
#[test]
fn file_hidden_from_git_status_is_not_built_as_the_commit() {
    for flag in ["--skip-worktree", "--assume-unchanged"] {
        let repo = scratch_repo(None, &["v1"]);
        repo.git(&["update-index", flag, "hello.txt"]);
        repo.write("hello.txt", "CANARY-not-in-the-commit\n");
        let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
        r.expect_code(1)
            .expect_stderr("the work tree has uncommitted changes")
            .expect_stderr("marked assume-unchanged or skip-worktree, so Git does not compare it with the commit: hello.txt")
            .expect_stderr("git update-index --no-assume-unchanged --no-skip-worktree");
        assert!(
            !repo.path().join(".cleanpipe/oci/index.json").exists(),
            "{flag}: nothing may be stored"
        );
    }
}

/// A build arg whose own name says it is a credential, filled from a variable whose name does
/// not (`NPM_TOKEN: ${CI_VALUE}`), was not masked: a `RUN` that echoes it printed it to stderr
/// and to the build log under `outputs`.
#[test]
fn build_arg_named_like_a_credential_is_masked_in_the_build_output() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, base_pub) = crate::docker_build::signed_base(&registry);
    let repo = Repo::new();
    repo.copy_in(base_pub, "base.pub");
    repo.keygen("cosign", "pw");
    repo.write(".dockerignore", "cosign.key\n");
    repo.write(
        "Dockerfile",
        &format!("FROM {base}\nARG NPM_TOKEN\nRUN echo \"npm token is $NPM_TOKEN\"\n"),
    );
    repo.write(
        "pipeline.yaml",
        "version: 1\nverify_base:\n  keys: { team: base.pub }\n  default_key: team\nbuild:\n  dockerfile:\n    no_cache: true\n    args: { NPM_TOKEN: \"${CI_VALUE}\" }\nsign:\n  key: cosign.key\n",
    );
    repo.commit();
    let canary = "npmcanary7f3e9a1b";
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw"), ("CI_VALUE", canary)]);
    r.expect_code(0)
        .expect_stderr("npm token is ***")
        .expect_stderr("build arg `NPM_TOKEN` looks like a secret");
    super::transport::assert_no_canary(&r, &repo, None, &[canary]);
    // Written literally in the pipeline file: masked as well.
    let literal = "npmliteral5c2d8e0f";
    repo.write(
        "pipeline.yaml",
        &format!("version: 1\nverify_base:\n  keys: {{ team: base.pub }}\n  default_key: team\nbuild:\n  dockerfile:\n    no_cache: true\n    args: {{ NPM_TOKEN: {literal} }}\nsign:\n  key: cosign.key\n"),
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0).expect_stderr("npm token is ***");
    super::transport::assert_no_canary(&r, &repo, None, &[literal]);
    // Quiet hides progress, never a warning.
    let r = repo.cleanpipe_env(&["run", "-q"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0)
        .expect_stderr("warning: [build] build arg `NPM_TOKEN` looks like a secret");
    assert!(
        !r.stderr.contains("npm token is"),
        "-q shows progress: {}",
        r.stderr
    );
    super::transport::assert_no_canary(&r, &repo, None, &[literal]);
}

/// A truncated `index.json` (another tool wrote it half) is an environment error naming the
/// file, with a hint, for `verify` and for `run` (which then stores and tags nothing).
#[test]
fn truncated_layout_index_is_named_with_a_hint() {
    let (repo, _) = built();
    let index = repo.path().join(".cleanpipe/oci/index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(&index, &text[..text.len() / 2]).unwrap();
    let r = verify(&repo, &[]);
    r.expect_code(3)
        .expect_stderr("index.json` is not a valid OCI index")
        .expect_stderr("hint: the layout is damaged");
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(3)
        .expect_stderr("hint: the layout is damaged");
    assert_eq!(
        std::fs::read_to_string(&index).unwrap(),
        text[..text.len() / 2],
        "the damaged index is left as it was"
    );
}

/// `origin` with a password holding an unencoded `/` (`https://bob:ghp/TOKEN@host/…`): the
/// credential stripping ended the authority at that `/` and wrote the token into the signed
/// provenance and the report.
#[test]
fn remote_password_with_a_slash_stays_out_of_provenance_and_report() {
    let repo = scratch_repo(None, &["v1"]);
    let canary = "qz7rk4b8e2d9wx";
    repo.git(&[
        "remote",
        "add",
        "origin",
        &format!("https://bob:ghp/{canary}@git.example/acme/app.git"),
    ]);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0)
        .expect_stderr("(https://git.example/acme/app.git)");
    super::transport::assert_no_canary(&r, &repo, None, &[canary]);
    let provenance =
        std::fs::read_to_string(repo.path().join(".cleanpipe/out/provenance.intoto.json")).unwrap();
    assert!(
        provenance.contains("https://git.example/acme/app.git"),
        "{provenance}"
    );
}
