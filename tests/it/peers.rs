//! The ecosystem's own verifiers read what cleanpipe writes: the real cosign v2 and v3 binaries
//! (built from the Go module proxy by `.ci/run`, paths in `CLEANPIPE_TEST_COSIGN_V2`/`_V3`)
//! verify signatures and attestations of images `cleanpipe run` pushed, with CUE and Rego
//! policies on real fields, and reject another key and a wrong field.
//!
//! cosign would try to fetch the public Sigstore TUF root; tests may only talk to loopback, so
//! every cosign call goes through a dead loopback proxy and a private `TUF_ROOT`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::sbom_scan::{osv_fixtures, test_data};
use crate::support::*;

/// The cosign binary for `major` ("V2" or "V3"), or `None` (skip) off CI.
pub(crate) fn cosign(major: &str) -> Option<PathBuf> {
    test_data(
        &format!("CLEANPIPE_TEST_COSIGN_{major}"),
        "a cosign binary built by `.ci/run`",
    )
}

/// Run a peer tool (cosign, the policy tester) in `dir` with no way off loopback.
pub(crate) fn run_peer(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    let tuf = dir.join(".cosign-tuf");
    std::fs::create_dir_all(&tuf).unwrap();
    Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("TUF_ROOT", &tuf)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .env("DOCKER_CONFIG", dir.join(".no-docker-config"))
        .env_remove("COSIGN_PASSWORD")
        .output()
        .unwrap()
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A dpkg database with one package, so both SBOMs name something a policy can check.
const DPKG_STATUS: &str = "Package: peer-hello\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: Test <test@example.com>\nArchitecture: amd64\nVersion: 1.2.3-1\nDescription: a package for peer tests\n\n";

/// Push a scanned, signed and attested image; returns (repo, `registry/repo@digest`, commit).
fn push_attested(registry: &str) -> (Repo, String, String) {
    let name = unique("it/peers");
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.write("status", DPKG_STATUS);
    repo.write(
        "os-release",
        "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    );
    repo.keygen("cosign", "pw");
    repo.keygen("other", "pw");
    let osv = osv_fixtures();
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\n      - src: status\n        dest: /var/lib/dpkg/status\n      - src: os-release\n        dest: /etc/os-release\n  scan:\n    db: {}\n    fail_on: critical\nsign:\n  key: cosign.key\npush:\n  repository: {registry}/{name}\n  tags: [\"v1\"]\n",
            osv.display()
        ),
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let commit = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(repo.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    (repo, r.last_line(), commit)
}

fn verify_with(major: &str) {
    let Some(registry) = registry() else { return };
    let Some(bin) = cosign(major) else { return };
    let (repo, image, commit) = push_attested(&registry);
    let dir = repo.path();
    let cosign = |args: &[&str]| run_peer(&bin, dir, args);

    // The signature, with our key; another key is refused.
    let ok = cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog=true",
        &image,
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    let payload = String::from_utf8_lossy(&ok.stdout);
    assert!(
        payload.contains(&image[image.find('@').unwrap() + 1..]),
        "{payload}"
    );
    let other = cosign(&[
        "verify",
        "--key",
        "other.pub",
        "--insecure-ignore-tlog=true",
        &image,
    ]);
    assert!(
        !other.status.success(),
        "another key must fail:\n{}",
        text(&other)
    );

    // A second signer's signature is appended; each key verifies its own, cosign still accepts ours.
    repo.cleanpipe_env(
        &["sign", &image, "--key", "other.key"],
        &[("COSIGN_PASSWORD", "pw")],
    )
    .expect_code(0);
    for key in ["cosign.pub", "other.pub"] {
        let out = cosign(&[
            "verify",
            "--key",
            key,
            "--insecure-ignore-tlog=true",
            &image,
        ]);
        assert!(out.status.success(), "{key}: {}", text(&out));
    }

    // Attestations, each with a policy on a real field; the same policy with a wrong value fails.
    let digest = &image[image.find('@').unwrap() + 1..];
    let cases: [(&str, &str, String, String); 4] = [
        (
            "slsaprovenance1",
            "cue",
            format!("predicate: buildDefinition: externalParameters: source: commit: \"{commit}\"\n"),
            "predicate: buildDefinition: externalParameters: source: commit: \"0000000000000000000000000000000000000000\"\n".to_string(),
        ),
        (
            "spdxjson",
            "rego",
            rego("some i\n  input.predicate.packages[i].name == \"peer-hello\"\n  input.predicate.packages[i].versionInfo == \"1.2.3-1\""),
            rego("some i\n  input.predicate.packages[i].name == \"not-in-the-image\""),
        ),
        (
            "cyclonedx",
            "rego",
            rego("some i\n  input.predicate.components[i].name == \"peer-hello\""),
            rego("some i\n  input.predicate.components[i].name == \"not-in-the-image\""),
        ),
        (
            "vuln",
            "cue",
            format!("predicate: scanner: result: {{\n  digest: \"{digest}\"\n  packages: 1\n  gate: passed: true\n}}\n"),
            "predicate: scanner: result: packages: 7\n".to_string(),
        ),
    ];
    for (kind, ext, good, bad) in &cases {
        let good_file = format!("policy-{kind}-good.{ext}");
        let bad_file = format!("policy-{kind}-bad.{ext}");
        std::fs::write(dir.join(&good_file), good).unwrap();
        std::fs::write(dir.join(&bad_file), bad).unwrap();
        let base = [
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog=true",
            "--type",
            kind,
        ];
        let ok = cosign(&[&base[..], &["--policy", &good_file, &image]].concat());
        assert!(
            ok.status.success(),
            "{kind} with {good_file}: {}",
            text(&ok)
        );
        let no = cosign(&[&base[..], &["--policy", &bad_file, &image]].concat());
        assert!(
            !no.status.success(),
            "{kind} with {bad_file} must fail:\n{}",
            text(&no)
        );
        let wrong_key = cosign(&[
            "verify-attestation",
            "--key",
            "other.pub",
            "--insecure-ignore-tlog=true",
            "--type",
            kind,
            &image,
        ]);
        assert!(
            !wrong_key.status.success(),
            "{kind} with another key must fail:\n{}",
            text(&wrong_key)
        );
    }

    // `cosign tree` lists the signatures and one attestation per predicate type.
    let tree = cosign(&["tree", &image]);
    assert!(tree.status.success(), "{}", text(&tree));
    let listing =
        String::from_utf8_lossy(&tree.stdout).to_string() + &String::from_utf8_lossy(&tree.stderr);
    assert!(listing.contains(".sig"), "{listing}");
    assert!(listing.contains(".att"), "{listing}");
}

/// A Rego policy in the form cosign evaluates (`data.signature.allow`), for OPA v0 and v1 alike.
fn rego(body: &str) -> String {
    format!("package signature\n\nimport rego.v1\n\ndefault allow := false\n\nallow if {{\n  {body}\n}}\n")
}

#[test]
fn cosign_v2_verifies_signatures_and_attestations_with_policies() {
    verify_with("V2");
}

#[test]
fn cosign_v3_verifies_signatures_and_attestations_with_policies() {
    verify_with("V3");
}

/// cleanpipe reads what cosign v2 writes: a `.sig` signature and an `.att` attestation made by
/// the real cosign with its own key (cleanpipe's own signature is made with another key, so
/// only cosign's evidence can satisfy the check).
#[test]
fn cleanpipe_verifies_what_cosign_v2_signed_and_attested() {
    let Some(registry) = registry() else { return };
    let Some(bin) = cosign("V2") else { return };
    let name = unique("it/peers-cosign-signed");
    let repo = scratch_repo(None, &["v1"]);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let image = format!("{registry}/{name}:v1");
    repo.cleanpipe(&["copy", "oci:.cleanpipe/oci:v1", &image])
        .expect_code(0);
    let dir = repo.path();
    let gen = Command::new(&bin)
        .args(["generate-key-pair", "--output-key-prefix", "vendor"])
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "vendor-pw")
        .output()
        .unwrap();
    assert!(gen.status.success(), "{}", text(&gen));
    let with_password = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(args)
            .current_dir(dir)
            .env("COSIGN_PASSWORD", "vendor-pw")
            .env("TUF_ROOT", dir.join(".cosign-tuf"))
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost,::1")
            .env("DOCKER_CONFIG", dir.join(".no-docker-config"));
        cmd.output().unwrap()
    };
    let signed = with_password(&[
        "sign",
        "--key",
        "vendor.key",
        "--tlog-upload=false",
        "--yes",
        &image,
    ]);
    assert!(signed.status.success(), "{}", text(&signed));
    let predicate = r#"{"buildDefinition":{"buildType":"https://example.com/vendor/v1","externalParameters":{"source":{"repository":"https://git.example.com/vendor/app","commit":"0123456789abcdef0123456789abcdef01234567"}}},"runDetails":{"builder":{"id":"https://vendor.example/builder"}}}"#;
    std::fs::write(dir.join("predicate.json"), predicate).unwrap();
    let attested = with_password(&[
        "attest",
        "--key",
        "vendor.key",
        "--tlog-upload=false",
        "--yes",
        "--type",
        "slsaprovenance1",
        "--predicate",
        "predicate.json",
        &image,
    ]);
    assert!(attested.status.success(), "{}", text(&attested));

    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "vendor.pub",
        "--commit",
        "0123456789abcdef0123456789abcdef01234567",
        "--builder-id",
        "https://vendor.example/builder",
    ])
    .expect_code(0)
    .expect_stderr("VERIFIED");
    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "vendor.pub",
        "--commit",
        "fedcba9",
    ])
    .expect_code(1);
    repo.keygen("stranger", "pw");
    repo.cleanpipe(&["verify", &image, "--key", "stranger.pub"])
        .expect_code(1);
}

/// The policy-controller `tester` (the admission controller's own evaluation, without a
/// cluster), or `None` (skip) off CI.
pub(crate) fn policy_tester() -> Option<PathBuf> {
    test_data(
        "CLEANPIPE_TEST_POLICY_TESTER",
        "the policy-controller tester built by `.ci/run`",
    )
}

/// A ClusterImagePolicy: one key authority and a CUE policy on the provenance's builder id.
pub(crate) fn cluster_image_policy(public_pem: &str, builder_id: &str) -> String {
    let key: String = public_pem
        .trim()
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: cleanpipe-release\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - name: release-key\n    key:\n      data: |\n{key}    attestations:\n    - name: provenance\n      predicateType: https://slsa.dev/provenance/v1\n      policy:\n        type: cue\n        data: |\n          predicateType: \"https://slsa.dev/provenance/v1\"\n          predicate: runDetails: builder: id: \"{builder_id}\"\n"
    )
}

#[test]
fn policy_controller_admits_our_image_and_rejects_another_key_or_builder() {
    let Some(registry) = registry() else { return };
    let Some(tester) = policy_tester() else {
        return;
    };
    let (repo, image, _) = push_attested(&registry);
    let dir = repo.path();
    let ours = std::fs::read_to_string(dir.join("cosign.pub")).unwrap();
    let other = std::fs::read_to_string(dir.join("other.pub")).unwrap();
    let cases = [
        (
            "admit.yaml",
            cluster_image_policy(&ours, "https://cleanpipe.dev/builders/cli/v1"),
            true,
        ),
        (
            "other-key.yaml",
            cluster_image_policy(&other, "https://cleanpipe.dev/builders/cli/v1"),
            false,
        ),
        (
            "other-builder.yaml",
            cluster_image_policy(&ours, "https://ci.example/builders/elsewhere"),
            false,
        ),
    ];
    for (file, policy, admitted) in cases {
        std::fs::write(dir.join(file), policy).unwrap();
        let out = run_peer(&tester, dir, &["-policy", file, "-image", &image]);
        let all = text(&out);
        if admitted {
            assert!(out.status.success(), "{file}: {all}");
            assert!(all.contains("Verification was successful"), "{file}: {all}");
        } else {
            assert!(
                !out.status.success() && !all.contains("Verification was successful"),
                "{file} must be rejected: {all}"
            );
        }
    }
}

/// The Kyverno CLI, or `None` (skip) off CI.
pub(crate) fn kyverno() -> Option<PathBuf> {
    test_data(
        "CLEANPIPE_TEST_KYVERNO",
        "the Kyverno CLI built by `.ci/run`",
    )
}

/// A Kyverno `verifyImages` rule: the signature and an SLSA provenance attestation by
/// `public_pem` (no transparency log), with a condition on the provenance's builder id.
pub(crate) fn kyverno_policy(public_pem: &str, builder_id: &str) -> String {
    let indent = |n: usize| -> String {
        public_pem
            .trim()
            .lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect()
    };
    let entry = |n: usize| {
        let pad = " ".repeat(n);
        format!(
            "{pad}- keys:\n{pad}    publicKeys: |-\n{}{pad}    rekor:\n{pad}      ignoreTlog: true\n{pad}    ctlog:\n{pad}      ignoreSCT: true\n",
            indent(n + 6)
        )
    };
    format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: cleanpipe-release\nspec:\n  validationFailureAction: Enforce\n  background: false\n  rules:\n  - name: signed-and-attested\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    verifyImages:\n    - imageReferences: [\"127.0.0.1:*\"]\n      mutateDigest: false\n      attestors:\n      - entries:\n{}      attestations:\n      - type: https://slsa.dev/provenance/v1\n        attestors:\n        - entries:\n{}        conditions:\n        - all:\n          - key: \"{{{{ runDetails.builder.id }}}}\"\n            operator: Equals\n            value: {builder_id}\n",
        entry(8),
        entry(10),
    )
}

#[test]
fn kyverno_admits_our_image_and_rejects_another_key_or_builder() {
    let Some(registry) = registry() else { return };
    let Some(kyverno) = kyverno() else { return };
    let (repo, image, _) = push_attested(&registry);
    let dir = repo.path();
    std::fs::write(
        dir.join("pod.yaml"),
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  namespace: default\nspec:\n  containers:\n  - name: app\n    image: {image}\n"),
    )
    .unwrap();
    let ours = std::fs::read_to_string(dir.join("cosign.pub")).unwrap();
    let other = std::fs::read_to_string(dir.join("other.pub")).unwrap();
    let builder = "https://cleanpipe.dev/builders/cli/v1";
    let cases = [
        ("admit.yaml", kyverno_policy(&ours, builder), true),
        ("other-key.yaml", kyverno_policy(&other, builder), false),
        (
            "other-builder.yaml",
            kyverno_policy(&ours, "https://ci.example/builders/elsewhere"),
            false,
        ),
    ];
    for (file, policy, admitted) in cases {
        std::fs::write(dir.join(file), policy).unwrap();
        let out = run_peer(
            &kyverno,
            dir,
            &["apply", file, "--resource", "pod.yaml", "--registry"],
        );
        let all = text(&out);
        assert!(
            all.contains("pass: "),
            "{file}: kyverno did not evaluate: {all}"
        );
        if admitted {
            assert!(
                all.contains("pass: 2, fail: 0, warn: 0, error: 0"),
                "{file}: {all}"
            );
        } else {
            assert!(
                !all.contains(", fail: 0,"),
                "{file} must be rejected: {all}"
            );
        }
    }
}

/// Every cosign built by `.ci/run` (v2, v3) must `verify` the signature of `image` and
/// `verify-attestation --type slsaprovenance1` with the public key `key` (a file in `dir`).
pub(crate) fn cosigns_verify_with(dir: &Path, key: &str, image: &str) {
    for bin in [cosign("V2"), cosign("V3")].into_iter().flatten() {
        for args in [
            vec!["verify", "--key", key, "--insecure-ignore-tlog=true", image],
            vec![
                "verify-attestation",
                "--key",
                key,
                "--insecure-ignore-tlog=true",
                "--type",
                "slsaprovenance1",
                image,
            ],
        ] {
            let out = crate::bundles::cosign(&bin, dir, &args);
            assert!(
                out.status.success(),
                "{} {args:?}: {}",
                bin.display(),
                crate::bundles::text(&out)
            );
        }
    }
}
