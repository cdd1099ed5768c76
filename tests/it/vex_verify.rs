//! VEX at deploy: `verify --fail-on` applies OpenVEX attested to the image by a trusted signer,
//! after the build; `cleanpipe vex create`, `check` and `attest`. The built-in example (a local
//! OCI layout, no registry) has one medium finding, Jinja2's GHSA-h75v-3vvj-5mfj.

use crate::support::*;

const IMAGE: &str = "oci:.cleanpipe/oci:example";
const KEY: &str = ".cleanpipe/example-key/cosign.key";
const PUB: &str = ".cleanpipe/example-key/cosign.pub";
const GHSA: &str = "GHSA-h75v-3vvj-5mfj";

/// The example built, scanned, signed and attested.
fn built() -> Repo {
    let repo = Repo::new();
    repo.write_example("pipeline.example.yaml");
    repo.commit();
    repo.cleanpipe(&["run"]).expect_code(0);
    repo
}

/// `cleanpipe vex create`: Jinja2's GHSA is `not_affected` in the example image, written to `out`.
pub(crate) fn jinja2_not_affected(repo: &Repo, out: &str) {
    repo.cleanpipe(&[
        "vex",
        "create",
        "--product",
        IMAGE,
        "--vuln",
        GHSA,
        "--status",
        "not_affected",
        "--justification",
        "vulnerable_code_not_in_execute_path",
        "--subcomponent",
        "pkg:pypi/jinja2",
        "--author",
        "Acme Security",
        "-o",
        out,
    ])
    .expect_code(0);
}

/// `cleanpipe vex attest` of `file` to the example image with `key` (password `password`).
pub(crate) fn attest_vex(repo: &Repo, file: &str, key: &str, password: &str) {
    repo.cleanpipe_env(
        &["vex", "attest", IMAGE, file, "--key", key],
        &[("COSIGN_PASSWORD", password)],
    )
    .expect_code(0);
}

fn verify_medium(repo: &Repo, output: &str) -> Run {
    repo.cleanpipe(&[
        "verify",
        IMAGE,
        "--key",
        PUB,
        "--fail-on",
        "medium",
        "--output",
        output,
    ])
}

#[test]
fn a_trusted_not_affected_attested_after_the_build_lets_verify_pass() {
    let repo = built();
    verify_medium(&repo, "text")
        .expect_code(1)
        .expect_stderr(GHSA);

    // The statement, written by cleanpipe about this image's digest and checked.
    jinja2_not_affected(&repo, "jinja2.vex.json");
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join("jinja2.vex.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["@context"], "https://openvex.dev/ns/v0.2.0", "{doc}");
    let product = doc["statements"][0]["products"][0]["@id"].as_str().unwrap();
    assert!(product.starts_with("pkg:oci/example@sha256"), "{product}");
    repo.cleanpipe(&["vex", "check", "jinja2.vex.json"])
        .expect_code(0)
        .expect_stderr("ok, 1 statement(s)");

    // Attested by a stranger's key: ignored, and said.
    repo.keygen("stranger", "pw");
    attest_vex(&repo, "jinja2.vex.json", "stranger.key", "pw");
    verify_medium(&repo, "text")
        .expect_code(1)
        .expect_stderr(GHSA)
        .expect_stderr("not signed by a trusted signer ignored");
    // A deploy policy's vulnerabilities rule is judged the same way.
    repo.write(
        "policy.yaml",
        &format!("version: 1\ntrust:\n  keys: [{PUB}]\nvulnerabilities:\n  fail_on: medium\n"),
    );
    let by_policy = || {
        repo.cleanpipe_env(
            &[
                "verify",
                IMAGE,
                "--policy",
                "policy.yaml",
                "--vsa",
                "vsa.json",
                "--vsa-key",
                KEY,
            ],
            &[("COSIGN_PASSWORD", "")],
        )
    };
    by_policy().expect_code(1).expect_stderr(GHSA);

    // Attested by the image's own signer: the finding no longer fails, and the verdict names
    // the statement, the document and the signer.
    attest_vex(&repo, "jinja2.vex.json", KEY, "");
    verify_medium(&repo, "text")
        .expect_code(0)
        .expect_stderr("VERIFIED")
        .expect_stderr(&format!("VEX suppressed {GHSA}"))
        .expect_stderr("#/statements/0");
    let json = verify_medium(&repo, "json");
    json.expect_code(0);
    let verdict: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let vex = &verdict["vex"];
    assert_eq!(vex["suppressed"].as_array().unwrap().len(), 1, "{vex}");
    assert_eq!(vex["suppressed"][0]["id"], GHSA, "{vex}");
    assert_eq!(
        vex["suppressed"][0]["vex"]["statement"], "/statements/0",
        "{vex}"
    );
    assert_eq!(
        vex["suppressed"][0]["vex"]["status"], "not_affected",
        "{vex}"
    );
    assert!(
        vex["suppressed"][0]["vex"]["document"]["signer"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{vex}"
    );
    assert!(
        vex["suppressed"][0]["vex"]["document"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{vex}"
    );
    assert_eq!(vex["documents"].as_array().unwrap().len(), 1, "{vex}");
    assert_eq!(vex["ignored"].as_array().unwrap().len(), 1, "{vex}");

    // The policy passes too, and the verification summary names the statement it used.
    by_policy().expect_code(0);
    let vsa = dsse_statement(&std::fs::read(repo.path().join("vsa.json")).unwrap());
    let used = &vsa["predicate"]["vexStatements"];
    assert_eq!(vsa["predicate"]["verificationResult"], "PASSED", "{vsa}");
    assert_eq!(used[0]["finding"], GHSA, "{used}");
    assert_eq!(used[0]["statement"], "/statements/0", "{used}");
    assert!(used[0]["signer"].as_str().is_some(), "{used}");

    // A stricter threshold than the finding's is not helped by anything else: at `high` it
    // passed before too; at `low` the suppressed finding still does not count.
    repo.cleanpipe(&["verify", IMAGE, "--key", PUB, "--fail-on", "low"])
        .expect_code(0);
}

#[test]
fn an_affected_statement_later_than_not_affected_keeps_the_finding() {
    let repo = built();
    let create = |status: &str, extra: &[&str], out: &str| {
        let mut args = vec![
            "vex",
            "create",
            "--product",
            IMAGE,
            "--vuln",
            GHSA,
            "--status",
            status,
            "-o",
            out,
        ];
        args.extend_from_slice(extra);
        repo.cleanpipe(&args).expect_code(0);
    };
    create(
        "not_affected",
        &["--impact", "the templates are not user input"],
        "a.json",
    );
    // Written a second later: the latest statement wins.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    create("affected", &["--action", "upgrade Jinja2"], "b.json");
    for f in ["a.json", "b.json"] {
        attest_vex(&repo, f, KEY, "");
    }
    verify_medium(&repo, "text")
        .expect_code(1)
        .expect_stderr("stays: affected")
        .expect_stderr("upgrade Jinja2");
}

#[test]
fn vex_check_and_create_refuse_bad_documents_with_their_location() {
    let repo = Repo::new();
    repo.write(
        "bad.json",
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "author": "x", "timestamp": "2026-01-01T00:00:00Z",
        "statements": [{"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": "pkg:pypi/jinja2"}],
        "status": "not_affected"}]}"#,
    );
    repo.write(
        "good.json",
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "author": "x", "timestamp": "2026-01-01T00:00:00Z",
        "statements": [{"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": "pkg:pypi/jinja2"}],
        "status": "fixed"}]}"#,
    );
    repo.cleanpipe(&["vex", "check", "good.json", "bad.json"])
        .expect_code(2)
        .expect_stderr("good.json: ok")
        .expect_stderr("bad.json")
        .expect_stderr("/statements/0")
        .expect_stderr("1 of 2 VEX document(s) refused");
    repo.cleanpipe(&["vex", "check", "missing.json"])
        .expect_code(2);
    // `not_affected` without a justification or impact: refused before anything is written.
    repo.cleanpipe(&[
        "vex",
        "create",
        "--product",
        "pkg:pypi/jinja2",
        "--vuln",
        GHSA,
        "--status",
        "not_affected",
        "-o",
        "out.json",
    ])
    .expect_code(2)
    .expect_stderr("justification");
    assert!(!repo.path().join("out.json").exists());
    // A CycloneDX document is not attested under the OpenVEX predicate.
    repo.write(
        "cdx.json",
        r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": []}"#,
    );
    repo.cleanpipe(&[
        "vex",
        "attest",
        "oci:nowhere:x",
        "cdx.json",
        "--key",
        "none.key",
    ])
    .expect_code(2)
    .expect_stderr("CycloneDX");
}

/// VEX attested to an index speaks for the platform images it lists: `verify` of the index
/// applies it to each platform's attested scan (a statement naming the index's digest covers
/// them), and names the attestation it used.
#[test]
fn vex_attested_to_an_index_applies_to_each_platform_image() {
    let repo = Repo::new();
    repo.write_example("pipeline.example.yaml");
    let text = std::fs::read_to_string(repo.path().join("pipeline.example.yaml")).unwrap();
    repo.write(
        "pipeline.example.yaml",
        &text.replace(
            "build:\n  customize:",
            "build:\n  platforms: [linux/amd64, linux/arm64]\n  customize:",
        ),
    );
    repo.commit();
    repo.cleanpipe(&["run"]).expect_code(0);
    let verify = || verify_medium(&repo, "text");
    verify()
        .expect_code(1)
        .expect_stderr("platform linux/arm64");
    jinja2_not_affected(&repo, "index.vex.json");
    attest_vex(&repo, "index.vex.json", KEY, "");
    let passed = verify();
    passed.expect_code(0);
    assert!(
        passed.all().matches("suppressed").count() >= 2,
        "both platforms' findings suppressed:\n{}",
        passed.all()
    );
}
