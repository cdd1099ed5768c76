//! Publishing to the real registry started by `.ci/run`, and verify-base against it.

use std::process::{Command, Stdio};

use crate::attacks::transport::{Proxy, FAST_RETRY};
use crate::support::*;

/// Build, sign and push a scratch image; returns (repo, pushed `registry/repo@digest`).
fn push_scratch(registry: &str, name: &str, tags: &[&str]) -> (Repo, String) {
    let repository = format!("{registry}/{name}");
    let repo = scratch_repo(Some(&repository), tags);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    (repo, r.last_line())
}

#[test]
fn push_signs_before_tagging_and_docker_runs_the_image() {
    let Some(registry) = registry() else { return };
    let name = unique("it/busybox");
    let repo = Repo::new();
    repo.copy_in(std::path::Path::new("/bin/busybox"), "busybox");
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: busybox\n        dest: /bin/busybox\n        mode: \"0755\"\n    entrypoint: [\"/bin/busybox\", \"echo\", \"hello from cleanpipe\"]\nsign:\n  key: cosign.key\npush:\n  repository: {registry}/{name}\n  tags: [\"v1\"]\n"
        ),
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let pushed = r.last_line();
    let digest = pushed.rsplit('@').next().unwrap();
    assert_eq!(manifest_status(&registry, &name, "v1"), 200);
    assert_eq!(
        manifest_status(&registry, &name, &format!("sha256-{}.sig", &digest[7..])),
        200
    );
    repo.cleanpipe(&[
        "verify",
        &format!("{registry}/{name}:v1"),
        "--key",
        "cosign.pub",
    ])
    .expect_code(0);
    if !docker() {
        return;
    }
    let image = format!("{registry}/{name}:v1");
    let out = docker_pull_and_run(&image);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from cleanpipe",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = Command::new("docker")
        .args(["rmi", "-f", &image])
        .stdout(Stdio::null())
        .status();
}

#[test]
fn registry_unreachable_is_exit_3_and_no_local_tag_moves() {
    // Port 9 on loopback: nothing listens there. Refused connections are tried 3 times.
    let repo = scratch_repo(Some("127.0.0.1:9/it/app"), &["v1"]);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw"), FAST_RETRY]);
    r.expect_code(3)
        .expect_stderr("unreachable after 3 attempts");
    let index = std::fs::read_to_string(repo.path().join(".cleanpipe/oci/index.json")).unwrap();
    assert!(!index.contains("\"v1\""), "{index}");
}

#[test]
fn registry_500_on_every_manifest_put_fails_after_3_attempts_and_moves_no_tag() {
    let Some(registry) = registry() else { return };
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-method",
            "PUT",
            "--fail-path-regex",
            "/manifests/",
            "--fail-status",
            "500",
        ],
    );
    let name = unique("it/fault");
    let repo = scratch_repo(Some(&format!("{}/{name}", proxy.addr())), &["v1"]);
    let r = repo.cleanpipe_env(&["-v", "run"], &[("COSIGN_PASSWORD", "pw"), FAST_RETRY]);
    r.expect_code(3)
        .expect_stderr("answered HTTP 500 after 3 attempts")
        .expect_stderr("retrying after");
    assert_eq!(
        proxy.faulted().len(),
        3,
        "three attempts, then the run stopped"
    );
    assert_eq!(
        manifest_status(&registry, &name, "v1"),
        404,
        "the tag must not exist"
    );
    let index = std::fs::read_to_string(repo.path().join(".cleanpipe/oci/index.json")).unwrap();
    assert!(!index.contains("\"v1\""), "no local tag moved: {index}");
}

#[test]
fn registry_503_once_on_a_manifest_put_is_retried_and_the_push_succeeds() {
    let Some(registry) = registry() else { return };
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-method",
            "PUT",
            "--fail-path-regex",
            "/manifests/",
            "--fail-status",
            "503",
            "--fail-count",
            "1",
        ],
    );
    let name = unique("it/fault-once");
    let repo = scratch_repo(Some(&format!("{}/{name}", proxy.addr())), &["v1"]);
    let r = repo.cleanpipe_env(&["-v", "run"], &[("COSIGN_PASSWORD", "pw"), FAST_RETRY]);
    r.expect_code(0)
        .expect_stderr("-> 503; retrying after")
        .expect_stderr("(attempt 2 of 3)");
    assert_eq!(proxy.faulted().len(), 1);
    let pushed = r.last_line();
    let digest = pushed.rsplit('@').next().unwrap();
    assert_eq!(manifest_status(&registry, &name, "v1"), 200);
    assert_eq!(manifest_status(&registry, &name, digest), 200);
    repo.cleanpipe(&[
        "verify",
        &format!("{registry}/{name}:v1"),
        "--key",
        "cosign.pub",
    ])
    .expect_code(0);
}

#[test]
fn second_signer_in_registry_keeps_the_first() {
    let Some(registry) = registry() else { return };
    let name = unique("it/twosigners");
    let (repo, pushed) = push_scratch(&registry, &name, &["v1"]);
    repo.keygen("second", "two");
    repo.commit();
    repo.cleanpipe_env(
        &["sign", &pushed, "--key", "second.key"],
        &[("COSIGN_PASSWORD", "two")],
    )
    .expect_code(0);
    repo.cleanpipe(&["verify", &pushed, "--key", "cosign.pub"])
        .expect_code(0);
    repo.cleanpipe(&["verify", &pushed, "--key", "second.pub"])
        .expect_code(0);
    // An independent reader (Python `cryptography`, cosign's verification rules) agrees.
    let (repo_path, digest) = pushed.split_once('@').unwrap();
    let repository = repo_path.split_once('/').unwrap().1;
    for key in ["cosign.pub", "second.pub"] {
        let out = Command::new("python3")
            .arg(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/support/cosign_verify.py"),
            )
            .args([&registry, repository, digest, key])
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "independent verifier rejected {key}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The attestations are in cosign's `.att` layout, readable by the same kind of outsider.
    let out = Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/dsse_verify.py"))
        .args([&registry, repository, digest, "cosign.pub"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "independent DSSE verifier: {text}");
    for t in [
        "https://slsa.dev/provenance/v1",
        "https://spdx.dev/Document",
        "https://cyclonedx.org/bom",
    ] {
        assert!(
            text.contains(&format!("verified {t}")),
            "{t} not verified: {text}"
        );
    }
    // cleanpipe's own verify reads the same attestations from the registry.
    repo.cleanpipe(&[
        "verify",
        &pushed,
        "--key",
        "cosign.pub",
        "--require-provenance",
        "--require-sbom",
    ])
    .expect_code(0)
    .expect_stderr("policy [ok] SBOM");
    // The other key signed the image but no attestation: a policy needing provenance fails.
    repo.cleanpipe(&[
        "verify",
        &pushed,
        "--key",
        "second.pub",
        "--require-provenance",
    ])
    .expect_code(1)
    .expect_stderr("no SLSA v1 provenance");
    // Re-running the pipeline merges, it does not drop the second signer.
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    repo.cleanpipe(&["verify", &pushed, "--key", "second.pub"])
        .expect_code(0);
}

/// A pipeline that customizes `base` (verified with `trusted.pub`).
fn derived_repo(base: &str, trusted_pub: &std::path::Path) -> Repo {
    let repo = Repo::new();
    repo.copy_in(trusted_pub, "trusted.pub");
    repo.write("extra.txt", "layer two\n");
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nverify_base:\n  keys:\n    team: trusted.pub\n  default_key: team\nbuild:\n  customize:\n    base: {base}\n    files:\n      - src: extra.txt\n        dest: /extra.txt\nsign:\n  key: cosign.key\n"
        ),
    );
    repo.commit();
    repo
}

#[test]
fn verify_base_gates() {
    let Some(registry) = registry() else { return };
    let name = unique("it/base");
    let (base_repo, pushed) = push_scratch(&registry, &name, &["v1"]);
    let trusted = base_repo.path().join("cosign.pub");

    // Signed by the trusted key and pinned: passes, and the new image has both layers.
    let ok = derived_repo(&pushed, &trusted);
    let r = ok.cleanpipe_env(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ok.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["image"]["layers"], 2);

    // Tag only: the gate fails and offers the digest the tag resolves to now.
    let digest = pushed.rsplit('@').next().unwrap();
    let tag_only = derived_repo(&format!("{registry}/{name}:v1"), &trusted);
    tag_only
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("is not pinned by digest")
        .expect_stderr(digest);

    // Signed by another key.
    let other = Repo::new();
    other.keygen("other", "x");
    let wrong_key = derived_repo(&pushed, &other.path().join("other.pub"));
    wrong_key
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("none of 1 signature(s) verifies")
        .expect_stderr(&pushed);

    // Unsigned: copy the image without its signature to another repository.
    let unsigned_name = unique("it/unsigned");
    let copy = base_repo.cleanpipe(&[
        "copy",
        "oci:.cleanpipe/oci:v1",
        &format!("{registry}/{unsigned_name}:v1"),
    ]);
    copy.expect_code(0);
    // `copy` carries signatures along; delete the signature tag's manifest to make it unsigned.
    let sig_ref = format!("sha256-{}.sig", &digest[7..]);
    let sig_digest = Command::new("curl")
        .args([
            "-sI",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!(
            "http://{registry}/v2/{unsigned_name}/manifests/{sig_ref}"
        ))
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&sig_digest.stdout);
    let sig_manifest = headers
        .lines()
        .find_map(|l| {
            l.strip_prefix("Docker-Content-Digest: ")
                .or_else(|| l.strip_prefix("docker-content-digest: "))
        })
        .unwrap()
        .trim()
        .to_string();
    let del = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
        ])
        .arg(format!(
            "http://{registry}/v2/{unsigned_name}/manifests/{sig_manifest}"
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&del.stdout), "202");
    let unsigned = derived_repo(&format!("{registry}/{unsigned_name}@{digest}"), &trusted);
    unsigned
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("no signatures");
}

#[test]
fn blobs_pushed_before_are_mounted_not_uploaded_again() {
    let Some(registry) = registry() else { return };
    let (repo, _) = push_scratch(&registry, &unique("it/mount-a"), &["v1"]);
    let other = format!("{registry}/{}:v1", unique("it/mount-b"));
    repo.cleanpipe(&["copy", "oci:.cleanpipe/oci:v1", &other])
        .expect_code(0)
        .expect_stderr("(0 blob(s) uploaded, 2 present)");
    repo.cleanpipe(&["verify", &other, "--key", "cosign.pub"])
        .expect_code(0);
}

/// The sigstore crate's own cosign client (a Rust port of cosign's verification, independent of
/// cleanpipe's reader) fetches the `.sig` layers from the registry and checks them with the key.
#[tokio::test(flavor = "multi_thread")]
async fn sigstore_crate_cosign_client_verifies_the_pushed_signature() {
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
    use sigstore::cosign::{verify_constraints, ClientBuilder, CosignCapabilities};
    let Some(registry) = registry() else { return };
    let name = unique("it/sigstore-rs");
    let (repo, pushed) = tokio::task::spawn_blocking({
        let registry = registry.clone();
        move || push_scratch(&registry, &name, &["v1"])
    })
    .await
    .unwrap();
    let mut client = ClientBuilder::default()
        .with_oci_client_config(sigstore::registry::ClientConfig {
            protocol: sigstore::registry::ClientProtocol::Http,
            ..Default::default()
        })
        .build()
        .unwrap();
    let image: sigstore::registry::OciReference = pushed.parse().unwrap();
    let layers = client
        .trusted_signature_layers(&sigstore::registry::Auth::Anonymous, &image)
        .await
        .unwrap();
    assert_eq!(layers.len(), 1, "one signature layer");
    let key = |name: &str| {
        let pem = std::fs::read(repo.path().join(name)).unwrap();
        let v: VerificationConstraintVec =
            vec![Box::new(PublicKeyVerifier::try_from(&pem).unwrap())];
        v
    };
    verify_constraints(&layers, key("cosign.pub").iter()).expect("sigstore-rs accepts it");
    repo.keygen("other", "x");
    assert!(
        verify_constraints(&layers, key("other.pub").iter()).is_err(),
        "another key must not verify"
    );
}
