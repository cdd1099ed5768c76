//! `cleanpipe verify` and `cleanpipe sign` against layouts: the verdict must fail for every
//! way a signature can be wrong.

use cleanpipe::oci::types::{Descriptor, Manifest};
use cleanpipe::oci::Layout;

use crate::support::*;

fn built(tags: &[&str]) -> (Repo, String) {
    let repo = scratch_repo(None, tags);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let digest = r.last_line().rsplit('@').next().unwrap().to_string();
    (repo, digest)
}

/// Build a second, different image in the same repository and layout; returns its digest.
fn second_image(repo: &Repo) -> String {
    repo.write("hello.txt", "different content\n");
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    r.last_line().rsplit('@').next().unwrap().to_string()
}

/// Point image `to`'s `.sig` or `.att` tag at image `from`'s manifest.
fn move_cosign_tag(repo: &Repo, from: &str, to: &str, suffix: &str) {
    let layout = layout(repo);
    let source = layout
        .resolve_tag(&format!("sha256-{}.{suffix}", &from[7..]))
        .unwrap()
        .unwrap();
    layout
        .set_tag(&format!("sha256-{}.{suffix}", &to[7..]), &source)
        .unwrap();
}

fn layout(repo: &Repo) -> Layout {
    Layout::open(repo.path().join(".cleanpipe/oci")).unwrap()
}

#[test]
fn wrong_key_is_not_verified() {
    let (repo, _) = built(&["v1"]);
    repo.keygen("other", "x");
    let r = repo.cleanpipe(&["verify", "oci:.cleanpipe/oci:v1", "--key", "other.pub"]);
    r.expect_code(1)
        .expect_stderr("NOT VERIFIED")
        .expect_stderr("does not verify with key other.pub");
}

#[test]
fn tampered_payload_is_not_verified() {
    let (repo, digest) = built(&["v1"]);
    let layout = layout(&repo);
    let sig_tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let sig = layout.resolve_tag(&sig_tag).unwrap().unwrap();
    let mut manifest: Manifest =
        serde_json::from_slice(&layout.read_blob(&sig.digest).unwrap()).unwrap();
    // Rewrite the payload (same image digest, another identity) but keep the old signature.
    let old = String::from_utf8(layout.read_blob(&manifest.layers[0].digest).unwrap()).unwrap();
    let forged = old.replace(
        "\"docker-reference\":\"",
        "\"docker-reference\":\"evil.example/",
    );
    assert_ne!(old, forged);
    let forged_digest = layout.write_blob(forged.as_bytes()).unwrap();
    manifest.layers[0].digest = forged_digest;
    manifest.layers[0].size = forged.len() as u64;
    let bytes = manifest.to_bytes();
    layout.write_blob(&bytes).unwrap();
    layout
        .set_tag(&sig_tag, &Descriptor::of(&sig.media_type, &bytes))
        .unwrap();
    let r = repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:v1",
        "--key",
        "cosign.pub",
        "--output",
        "json",
    ]);
    r.expect_code(1);
    let verdict: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(verdict["verified"], false);
    let checks = &verdict["signatures"]["signatures"][0]["checks"];
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "signature" && c["passed"] == false),
        "{checks}"
    );
}

#[test]
fn signature_copied_from_another_image_is_not_verified() {
    let (repo, digest_a) = built(&["v1"]);
    let digest_b = second_image(&repo);
    assert_ne!(digest_a, digest_b);
    // Put A's signature manifest where B's signatures live.
    move_cosign_tag(&repo, &digest_a, &digest_b, "sig");
    let r = repo.cleanpipe(&[
        "verify",
        &format!("oci:.cleanpipe/oci@{digest_b}"),
        "--key",
        "cosign.pub",
    ]);
    r.expect_code(1)
        .expect_stderr(&format!("payload is for {digest_a}"));
}

#[test]
fn unsigned_image_is_not_verified() {
    let (repo, _) = built(&["v1"]);
    let layout = layout(&repo);
    // The config blob is a valid blob but not a signed image: use a fresh scratch image instead.
    let manifest = Manifest::oci(
        Descriptor::of("application/vnd.oci.image.config.v1+json", b"{}"),
        vec![],
    );
    layout.write_blob(b"{}").unwrap();
    let bytes = manifest.to_bytes();
    layout.write_blob(&bytes).unwrap();
    layout
        .set_tag(
            "unsigned",
            &Descriptor::of("application/vnd.oci.image.manifest.v1+json", &bytes),
        )
        .unwrap();
    repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:unsigned",
        "--key",
        "cosign.pub",
    ])
    .expect_code(1)
    .expect_stderr("no signatures");
}

#[test]
fn second_signer_appends_and_both_verify() {
    let (repo, _) = built(&["v1"]);
    repo.keygen("second", "two");
    repo.cleanpipe_env(
        &["sign", "oci:.cleanpipe/oci:v1", "--key", "second.key"],
        &[("COSIGN_PASSWORD", "two")],
    )
    .expect_code(0)
    .expect_stderr("2 signature(s)");
    repo.cleanpipe(&["verify", "oci:.cleanpipe/oci:v1", "--key", "cosign.pub"])
        .expect_code(0);
    repo.cleanpipe(&["verify", "oci:.cleanpipe/oci:v1", "--key", "second.pub"])
        .expect_code(0);
    // Signing again with the same key does not add a duplicate.
    repo.cleanpipe_env(
        &["sign", "oci:.cleanpipe/oci:v1", "--key", "second.key"],
        &[("COSIGN_PASSWORD", "two")],
    )
    .expect_code(0)
    .expect_stderr("already signed");
}

#[test]
fn provenance_policy_source_commit_builder_sbom_and_scan() {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    repo.write_osv_db_without_matches();
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\n  scan:\n    db: osv\nsign:\n  key: cosign.key\n  builder_id: https://ci.example/builders/release\npush:\n  tags: [v1]\n",
    );
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://user:secret@git.example/acme/app.git",
    ]);
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let commit = {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(repo.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "oci:.cleanpipe/oci:v1", "--key", "cosign.pub"];
        args.extend_from_slice(extra);
        repo.cleanpipe(&args)
    };
    let r = verify(&[
        "--source-repo",
        "https://git.example/acme/app",
        "--commit",
        &commit[..12],
        "--builder-id",
        "https://ci.example/builders/release",
        "--require-sbom",
        "--fail-on",
        "low",
    ]);
    r.expect_code(0).expect_stderr("VERIFIED");
    assert!(
        !r.all().contains("secret"),
        "credentials in the remote URL must not reach the provenance: {}",
        r.all()
    );
    // Each requirement fails on its own, by name.
    verify(&["--source-repo", "https://git.example/acme/other"])
        .expect_code(1)
        .expect_stderr("policy [FAIL] source repository");
    verify(&["--commit", "0000000"])
        .expect_code(1)
        .expect_stderr("policy [FAIL] source commit");
    verify(&["--builder-id", "https://cleanpipe.dev/builders/cli/v1"])
        .expect_code(1)
        .expect_stderr("policy [FAIL] builder");
    // The provenance file in the outputs is the statement that was signed.
    let statement: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/provenance.intoto.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"],
        commit.as_str()
    );
    // A re-run replaces this key's attestations instead of piling them up.
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let r = verify(&["--output", "json"]);
    let verdict: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let mut types: Vec<&str> = verdict["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["predicate_type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "https://cosign.sigstore.dev/attestation/vuln/v1",
            "https://cyclonedx.org/bom",
            "https://slsa.dev/provenance/v1",
            "https://spdx.dev/Document",
        ]
    );
    // Without SBOMs, provenance and scan, a policy that needs them fails.
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\n    env: { X: \"2\" }\nsign:\n  key: cosign.key\n  sbom: []\n  provenance: false\npush:\n  tags: [v2]\n",
    );
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:v2",
        "--key",
        "cosign.pub",
        "--require-provenance",
        "--require-sbom",
        "--fail-on",
        "critical",
    ])
    .expect_code(1)
    .expect_stderr("policy [FAIL] provenance")
    .expect_stderr("policy [FAIL] SBOM")
    .expect_stderr("policy [FAIL] vulnerabilities");
}

#[test]
fn attestations_copied_from_another_image_are_not_accepted() {
    let (repo, digest_a) = built(&["v1"]);
    let digest_b = second_image(&repo);
    move_cosign_tag(&repo, &digest_a, &digest_b, "att");
    let r = repo.cleanpipe(&[
        "verify",
        &format!("oci:.cleanpipe/oci@{digest_b}"),
        "--key",
        "cosign.pub",
        "--require-provenance",
    ]);
    r.expect_code(1)
        .expect_stderr(&format!("the statement is not about {digest_b}"))
        .expect_stderr("policy [FAIL] provenance");
}

/// `verify --vsa` writes a signed SLSA Verification Summary Attestation of the verdict, and the
/// real `slsa-verifier verify-vsa` (built by `.ci/run`) accepts it with the right key, verifier
/// id, resource and level, and refuses another key, a higher level, or a FAILED summary.
#[test]
fn a_verification_summary_is_accepted_by_slsa_verifier() {
    let repo = scratch_repo(None, &["v1"]);
    repo.keygen("other", "pw");
    repo.commit();
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let digest = image[image.find('@').unwrap() + 1..].to_string();
    let resource = format!("oci:.cleanpipe/oci@{digest}");
    let out = repo.cleanpipe_env(
        &[
            "verify",
            "oci:.cleanpipe/oci:v1",
            "--key",
            "cosign.pub",
            "--require-provenance",
            "--vsa",
            "vsa.json",
            "--vsa-key",
            "cosign.key",
        ],
        &[("COSIGN_PASSWORD", "pw")],
    );
    out.expect_code(0)
        .expect_stderr("verification summary (PASSED)");
    let statement = dsse_statement(&std::fs::read(repo.path().join("vsa.json")).unwrap());
    assert_eq!(
        statement["predicateType"],
        "https://slsa.dev/verification_summary/v1"
    );
    assert_eq!(statement["predicate"]["verificationResult"], "PASSED");
    assert_eq!(statement["predicate"]["resourceUri"], resource.as_str());
    assert!(!statement["predicate"]["inputAttestations"]
        .as_array()
        .unwrap()
        .is_empty());
    // A verdict that fails is summarised as FAILED (and the exit code says so).
    repo.cleanpipe_env(
        &[
            "verify",
            "oci:.cleanpipe/oci:v1",
            "--key",
            "cosign.pub",
            "--commit",
            "0000000",
            "--vsa",
            "failed-vsa.json",
            "--vsa-key",
            "cosign.key",
        ],
        &[("COSIGN_PASSWORD", "pw")],
    )
    .expect_code(1)
    .expect_stderr("verification summary (FAILED)");

    let Some(verifier) = crate::sbom_scan::test_data(
        "CLEANPIPE_TEST_SLSA_VERIFIER",
        "slsa-verifier built by `.ci/run`",
    ) else {
        return;
    };
    let check = |file: &str, key: &str, level: &str| {
        std::process::Command::new(&verifier)
            .args([
                "verify-vsa",
                "--subject-digest",
                &digest,
                "--attestation-path",
                file,
                "--verifier-id",
                "https://cleanpipe.dev/verifiers/cli/v1",
                "--resource-uri",
                &resource,
                "--verified-level",
                level,
                "--public-key-path",
                key,
            ])
            .current_dir(repo.path())
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .output()
            .unwrap()
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let ok = check("vsa.json", "cosign.pub", "SLSA_BUILD_LEVEL_1");
    assert!(ok.status.success(), "{}", text(&ok));
    for (file, key, level) in [
        ("vsa.json", "other.pub", "SLSA_BUILD_LEVEL_1"),
        ("vsa.json", "cosign.pub", "SLSA_BUILD_LEVEL_2"),
        ("failed-vsa.json", "cosign.pub", "SLSA_BUILD_LEVEL_0"),
    ] {
        let no = check(file, key, level);
        assert!(!no.status.success(), "{file} {key} {level}: {}", text(&no));
    }
}

/// `verify --output digest` prints only what to deploy, pinned by digest, and only when the
/// image passes; otherwise nothing on stdout and exit 1.
#[test]
fn output_digest_prints_the_pinned_image_only_when_verified() {
    let repo = scratch_repo(None, &["v1"]);
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let digest = &image[image.find('@').unwrap() + 1..];
    let ok = repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:v1",
        "--key",
        "cosign.pub",
        "--output",
        "digest",
    ]);
    ok.expect_code(0);
    assert_eq!(ok.stdout, format!("oci:.cleanpipe/oci@{digest}\n"));
    let no = repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:v1",
        "--key",
        "cosign.pub",
        "--commit",
        "0000000",
        "--output",
        "digest",
    ]);
    no.expect_code(1)
        .expect_stderr("NOT VERIFIED: the policy fails: source commit; nothing to deploy");
    assert_eq!(no.stdout, "");
}
