//! Attack cases: rules that could vanish or be satisfied by the wrong evidence. A policy or
//! pipeline block whose entries are all commented out, a FAILED verification summary offered as
//! evidence, and an image built from a dirty work tree offered as "this commit". Each case runs
//! the real binary on a real build and asserts the exit code, the message with its location, and
//! that verify does not say VERIFIED.

use crate::support::*;

const LAYOUT: &str = "oci:.cleanpipe/oci:v1";
const TRUST: &str = "version: 1\ntrust:\n  keys: [cosign.pub]\n";

fn verify(repo: &Repo, policy: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", LAYOUT, "--policy", policy];
    args.extend_from_slice(extra);
    repo.cleanpipe_env(&args, &[("COSIGN_PASSWORD", "pw")])
}

/// Not VERIFIED, exit 1, naming the failed rule.
fn refused(r: &Run, rule: &str) {
    r.expect_code(1)
        .expect_stderr(&format!("policy [FAIL] {rule}"))
        .expect_stderr("NOT VERIFIED");
    assert!(
        !r.stderr.lines().any(|l| l.starts_with("VERIFIED")),
        "{}",
        r.stderr
    );
}

/// The manifests the repository's layout lists (none when there is no layout).
fn listed(repo: &Repo) -> Vec<serde_json::Value> {
    std::fs::read_to_string(repo.path().join(".cleanpipe/oci/index.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["manifests"].as_array().cloned())
        .unwrap_or_default()
}

fn head(repo: &Repo) -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_policy_section_written_empty_is_never_no_rule() {
    // Built without a scan and without a provenance: `vulnerabilities:` and `provenance:` with
    // their keys commented out must still require them.
    let repo = scratch_repo(None, &["v1"]);
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: cosign.key\n  provenance: false\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    repo.write("base.yaml", TRUST);
    verify(&repo, "base.yaml", &[]).expect_code(0);
    for (section, rule) in [
        (
            "vulnerabilities:\n  # fail_on: high\n  # max_age: 7d\n",
            "vulnerabilities",
        ),
        ("vulnerabilities: ~\n", "vulnerabilities"),
        (
            "provenance:\n  # source_repository: https://git.example/acme/app\n",
            "provenance",
        ),
        ("provenance: null\n", "provenance"),
        (
            "require:\n  vsa:\n    # verifier_id: x\n",
            "required attestation",
        ),
    ] {
        repo.write("p.yaml", &format!("{TRUST}{section}"));
        refused(&verify(&repo, "p.yaml", &[]), rule);
    }
    // Sections that would state nothing are usage errors at their line, before anything is read.
    for (section, at, path) in [
        (
            "bases:\n  # allow: ['registry.example/**']\n",
            "p.yaml:4:1:",
            "`bases`",
        ),
        ("bases:\n  allow:\n", "p.yaml:5:3:", "`bases.allow`"),
        (
            "require:\n  sbom: true\n  attestations:\n    # - vuln\n",
            "p.yaml:6:3:",
            "`require.attestations`",
        ),
        (
            "require:\n  attestations: []\n",
            "p.yaml:5:3:",
            "`require.attestations`",
        ),
        ("require:\n  # sbom: true\n", "p.yaml:4:1:", "`require`"),
        (
            "provenance:\n  refs:\n    # - refs/heads/main\n",
            "p.yaml:5:3:",
            "`provenance.refs`",
        ),
        (
            "provenance:\n  builder_ids: []\n",
            "p.yaml:5:3:",
            "`provenance.builder_ids`",
        ),
        (
            "provenance:\n  source_repository:\n",
            "p.yaml:5:3:",
            "`provenance.source_repository`",
        ),
        (
            "vulnerabilities:\n  max_age:\n",
            "p.yaml:5:3:",
            "`vulnerabilities.max_age`",
        ),
    ] {
        repo.write("p.yaml", &format!("{TRUST}{section}"));
        let r = verify(&repo, "p.yaml", &[]);
        r.expect_code(2)
            .expect_stderr(&format!("error: {at}"))
            .expect_stderr(path)
            .expect_stderr("hint:");
        assert!(!r.stderr.contains("VERIFIED"), "{}", r.stderr);
    }
    repo.write("p.yaml", "version: 1\ntrust:\n  # keys: [cosign.pub]\n");
    verify(&repo, "p.yaml", &[])
        .expect_code(2)
        .expect_stderr("error: p.yaml:2:1: `trust`");
}

#[test]
fn a_pipeline_block_written_empty_is_never_no_gate() {
    let repo = scratch_repo(None, &["v1"]);
    let head = "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\n";
    let sign = "sign:\n  key: cosign.key\npush:\n  tags: [v1]\n";
    for (text, at, message) in [
        // The scan gate is there, with its defaults: the builtin scanner then needs `db`.
        (
            format!("{head}  scan:\n    # db: osv\n    # fail_on: high\n{sign}"),
            "pipeline.yaml:8:3:",
            "`build.scan`: the builtin scanner needs `db`",
        ),
        (
            format!("{head}{sign}verify_base:\n  scan:\n"),
            "pipeline.yaml:13:3:",
            "`verify_base.scan`: the builtin scanner needs `db`",
        ),
        (
            format!("{head}{sign}  register:\n    # - url: https://deploy.example/hook\n"),
            "pipeline.yaml:12:3:",
            "`push.register`: is written with nothing under it",
        ),
        (
            format!("{head}{sign}verify_base:\n  images:\n"),
            "pipeline.yaml:13:3:",
            "`verify_base.images`: is written with nothing under it",
        ),
        (
            format!("{head}  platforms:\n{sign}"),
            "pipeline.yaml:8:3:",
            "`build.platforms`: is written with nothing under it",
        ),
        (
            format!("{head}sign:\n  key: cosign.key\n  sbom:\npush:\n  tags: [v1]\n"),
            "pipeline.yaml:10:3:",
            "`sign.sbom`: is written with nothing under it",
        ),
    ] {
        repo.write("pipeline.yaml", &text);
        repo.commit();
        for command in ["validate", "run"] {
            let r = repo.cleanpipe_env(&[command], &[("COSIGN_PASSWORD", "pw")]);
            r.expect_code(2).expect_stderr(&format!("{at} {message}"));
        }
        assert!(listed(&repo).is_empty(), "nothing built: {text}");
    }
    // `sign:` with its keys commented out: signing with its defaults, which need a key.
    repo.write(
        "pipeline.yaml",
        &format!("{head}sign:\n  # key: cosign.key\npush:\n  tags: [v1]\n"),
    );
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(2)
        .expect_stderr("the pipeline cannot sign");
    repo.assert_no_store();
    let signed = listed(&repo).iter().any(|m| {
        m["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .is_some_and(|t| t.ends_with(".sig"))
    });
    assert!(!signed, "nothing signed");
}

#[test]
fn a_failed_summary_is_never_evidence() {
    let (repo, _) = super::evidence::built();
    // Fails: nothing attests an OpenVEX document.
    repo.write(
        "failing.yaml",
        &format!("{TRUST}require:\n  attestations: [openvex]\n"),
    );
    repo.write(
        "needs-vsa.yaml",
        &format!("{TRUST}require:\n  attestations: [vsa]\n"),
    );
    let attach = |policy: &str, extra: &[&str]| {
        let mut args = vec![
            "--vsa",
            "vsa.json",
            "--vsa-key",
            "cosign.key",
            "--attach-vsa",
        ];
        args.extend_from_slice(extra);
        verify(&repo, policy, &args)
    };
    // `--attach-vsa` writes the FAILED summary but does not attach it.
    let r = attach("failing.yaml", &[]);
    refused(&r, "required attestation");
    r.expect_stderr("not attached")
        .expect_stderr("--attach-vsa-on-failure");
    let statement = dsse_statement(&std::fs::read(repo.path().join("vsa.json")).unwrap());
    assert_eq!(statement["predicate"]["verificationResult"], "FAILED");
    refused(
        &verify(&repo, "needs-vsa.yaml", &[]),
        "required attestation",
    );
    // Attached on purpose, it is a record that the image failed: never a satisfied requirement,
    // however the requirement is written.
    attach("failing.yaml", &["--attach-vsa-on-failure"])
        .expect_code(1)
        .expect_stderr("(FAILED) attached to");
    for policy in [
        "require:\n  attestations: [vsa]\n".to_string(),
        "require:\n  vsa:\n".to_string(),
        "require:\n  attestations: [https://slsa.dev/verification_summary/v1]\n".to_string(),
    ] {
        repo.write("p.yaml", &format!("{TRUST}{policy}"));
        let r = verify(&repo, "p.yaml", &[]);
        refused(&r, "required attestation");
        r.expect_stderr("says `FAILED`");
    }
    // A PASSED summary by another trusted key beside it does not outweigh it.
    repo.keygen("other", "pw");
    repo.write("passing.yaml", TRUST);
    verify(
        &repo,
        "passing.yaml",
        &["--vsa", "ok.json", "--vsa-key", "other.key", "--attach-vsa"],
    )
    .expect_code(0)
    .expect_stderr("(PASSED) attached to");
    repo.write(
        "both.yaml",
        "version: 1\ntrust:\n  keys: [cosign.pub, other.pub]\nrequire:\n  vsa:\n",
    );
    let r = verify(&repo, "both.yaml", &[]);
    refused(&r, "required attestation");
    r.expect_stderr("says `FAILED`");
    // A new summary by the same key replaces the key's earlier one in a layout (as every
    // re-attestation does): once it PASSED, the requirement is met.
    attach("passing.yaml", &[]).expect_code(0);
    verify(&repo, "both.yaml", &[])
        .expect_code(0)
        .expect_stderr("VERIFIED");
}

#[test]
fn a_required_summary_passed_for_this_image_from_a_trusted_signer() {
    let (repo, digest) = super::evidence::built();
    repo.keygen("other", "pw");
    repo.write("passing.yaml", &format!("{TRUST}require:\n  sbom: true\n"));
    let policy_digest = cleanpipe::oci::types::Digest::of(
        &std::fs::read(repo.path().join("passing.yaml")).unwrap(),
    );
    // Signed by a key the later policy does not trust: not evidence.
    verify(
        &repo,
        "passing.yaml",
        &["--vsa", "o.json", "--vsa-key", "other.key", "--attach-vsa"],
    )
    .expect_code(0)
    .expect_stderr("(PASSED) attached to");
    repo.write(
        "needs-vsa.yaml",
        &format!("{TRUST}require:\n  attestations: [vsa]\n"),
    );
    let r = verify(&repo, "needs-vsa.yaml", &[]);
    refused(&r, "required attestation");
    r.expect_stderr("verifies with a trusted signer");
    // Signed by a trusted key: evidence, pinned or not.
    verify(
        &repo,
        "passing.yaml",
        &["--vsa", "v.json", "--vsa-key", "cosign.key", "--attach-vsa"],
    )
    .expect_code(0);
    let r = verify(&repo, "needs-vsa.yaml", &[]);
    r.expect_code(0)
        .expect_stderr(&format!(
            "policy [ok] required attestation: https://slsa.dev/verification_summary/v1: PASSED for {digest}"
        ))
        .expect_stderr("VERIFIED");
    for (pins, ok) in [
        (format!("policy_digest: {policy_digest}"), true),
        (
            "verifier_id: https://cleanpipe.dev/verifiers/cli/v1".to_string(),
            true,
        ),
        (
            format!(
                "policy_uri: file://{}",
                repo.path().join("passing.yaml").display()
            ),
            true,
        ),
        (
            format!(
                "policy_digest: {}",
                cleanpipe::oci::types::Digest::of(b"another policy")
            ),
            false,
        ),
        (
            "verifier_id: https://verifier.example/other".to_string(),
            false,
        ),
        ("policy_uri: file:///srv/other.yaml".to_string(), false),
    ] {
        repo.write(
            "pinned.yaml",
            &format!("{TRUST}require:\n  vsa:\n    {pins}\n"),
        );
        let r = verify(&repo, "pinned.yaml", &[]);
        if ok {
            r.expect_code(0).expect_stderr("VERIFIED");
        } else {
            refused(&r, "required attestation");
            r.expect_stderr("no summary names");
        }
    }
    repo.write(
        "pinned.yaml",
        &format!("{TRUST}require:\n  vsa:\n    policy_digest: sha256:1234\n"),
    );
    verify(&repo, "pinned.yaml", &[])
        .expect_code(2)
        .expect_stderr("error: pinned.yaml:6:5: `require.vsa.policy_digest`");
}

#[test]
fn an_image_from_a_dirty_tree_never_passes_as_this_commit() {
    let repo = scratch_repo(None, &["v1"]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://git.example/acme/app.git",
    ]);
    repo.write(
        "pipeline.yaml",
        "version: 1\nsource:\n  allow_dirty: true\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    let sha = head(&repo);
    // A tracked file edited, not committed: the image carries the change.
    repo.write("hello.txt", "not what the commit holds\n");
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let provenance: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo.path().join(".cleanpipe/out/provenance.intoto.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        provenance["predicate"]["buildDefinition"]["internalParameters"]["dirtyWorkTree"],
        true
    );
    // Every commit and source rule fails, by name, and says why.
    let short = &sha[..12];
    repo.write(
        "p.yaml",
        &format!("{TRUST}provenance:\n  # allow_dirty: true\n"),
    );
    for (extra, policy, rule) in [
        (vec!["--commit", sha.as_str()], "p.yaml", "source commit"),
        (vec!["--commit", short], "p.yaml", "source commit"),
        (
            vec!["--source-repo", "https://git.example/acme/app"],
            "p.yaml",
            "source repository",
        ),
    ] {
        let r = verify(&repo, policy, &extra);
        refused(&r, rule);
        r.expect_stderr("dirty work tree")
            .expect_stderr("provenance.allow_dirty");
    }
    repo.write(
        "repo.yaml",
        &format!("{TRUST}provenance:\n  source_repository: https://git.example/acme/app\n"),
    );
    refused(&verify(&repo, "repo.yaml", &[]), "source repository");
    repo.write(
        "refs.yaml",
        &format!("{TRUST}provenance:\n  refs: [refs/heads/main]\n"),
    );
    refused(&verify(&repo, "refs.yaml", &[]), "source ref");
    // Without a policy file: the same.
    let r = repo.cleanpipe(&["verify", LAYOUT, "--key", "cosign.pub", "--commit", &sha]);
    refused(&r, "source commit");
    // The VSA of the refusal says FAILED.
    repo.cleanpipe_env(
        &[
            "verify",
            LAYOUT,
            "--key",
            "cosign.pub",
            "--commit",
            &sha,
            "--vsa",
            "no.json",
            "--vsa-key",
            "cosign.key",
        ],
        &[("COSIGN_PASSWORD", "pw")],
    )
    .expect_code(1);
    let statement = dsse_statement(&std::fs::read(repo.path().join("no.json")).unwrap());
    assert_eq!(statement["predicate"]["verificationResult"], "FAILED");
    // A policy that allows dirty builds by name: verified, and the summary names that policy.
    let allowing = format!(
        "{TRUST}provenance:\n  source_repository: https://git.example/acme/app\n  refs: [refs/heads/main]\n  allow_dirty: true\n"
    );
    repo.write("dirty-ok.yaml", &allowing);
    verify(&repo, "dirty-ok.yaml", &["--commit", &sha])
        .expect_code(0)
        .expect_stderr("allowed by `provenance.allow_dirty`")
        .expect_stderr("VERIFIED");
    verify(
        &repo,
        "dirty-ok.yaml",
        &["--vsa", "yes.json", "--vsa-key", "cosign.key"],
    )
    .expect_code(0);
    let statement = dsse_statement(&std::fs::read(repo.path().join("yes.json")).unwrap());
    assert_eq!(statement["predicate"]["verificationResult"], "PASSED");
    assert_eq!(
        statement["predicate"]["policy"]["digest"]["sha256"],
        cleanpipe::oci::types::Digest::of(allowing.as_bytes()).hex()
    );
    // The same tree committed: a clean build passes the same commit rule without the allowance.
    repo.commit();
    let clean = head(&repo);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    verify(&repo, "p.yaml", &["--commit", &clean])
        .expect_code(0)
        .expect_stderr("policy [ok] source commit");
}

/// The same on a registry: a FAILED summary is not attached without the flag, and attached on
/// purpose it never satisfies a requirement.
#[test]
fn a_failed_summary_on_a_registry_is_never_evidence() {
    let Some(registry) = registry() else { return };
    let name = unique("it/failed-vsa");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let image = format!("{registry}/{name}:v1");
    repo.write(
        "failing.yaml",
        &format!("{TRUST}require:\n  attestations: [openvex]\n"),
    );
    repo.write("needs-vsa.yaml", &format!("{TRUST}require:\n  vsa:\n"));
    let run = |args: &[&str]| {
        let mut all = vec!["verify", image.as_str()];
        all.extend_from_slice(args);
        repo.cleanpipe_env(&all, &[("COSIGN_PASSWORD", "pw")])
    };
    let vsa = [
        "--vsa",
        "vsa.json",
        "--vsa-key",
        "cosign.key",
        "--attach-vsa",
    ];
    let r = run(&[&["--policy", "failing.yaml"][..], &vsa].concat());
    refused(&r, "required attestation");
    r.expect_stderr("not attached");
    let r = run(&["--policy", "needs-vsa.yaml"]);
    refused(&r, "required attestation");
    r.expect_stderr("verifies with a trusted signer");
    run(&[
        &["--policy", "failing.yaml", "--attach-vsa-on-failure"][..],
        &vsa,
    ]
    .concat())
    .expect_code(1)
    .expect_stderr("(FAILED) attached to");
    let r = run(&["--policy", "needs-vsa.yaml"]);
    refused(&r, "required attestation");
    r.expect_stderr("says `FAILED`");
    // `--attach-vsa-on-failure` alone is a usage error: it only qualifies `--attach-vsa`.
    run(&["--policy", "failing.yaml", "--attach-vsa-on-failure"]).expect_code(2);
}
