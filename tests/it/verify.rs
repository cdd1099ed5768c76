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
    // A second, different image in the same layout, not signed.
    repo.write("hello.txt", "different content\n");
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let digest_b = r.last_line().rsplit('@').next().unwrap().to_string();
    assert_ne!(digest_a, digest_b);
    let layout = layout(&repo);
    let sig_a = layout
        .resolve_tag(&format!("sha256-{}.sig", &digest_a[7..]))
        .unwrap()
        .unwrap();
    // Put A's signature manifest where B's signatures live.
    layout
        .set_tag(&format!("sha256-{}.sig", &digest_b[7..]), &sig_a)
        .unwrap();
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
