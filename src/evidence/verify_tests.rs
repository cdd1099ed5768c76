//! The signature checks on a local layout, in-process (no binary, no registry): one named check
//! per property, and evidence that cannot be read or is about another image fails, never passes.

use crate::evidence::verify_signatures;
use crate::oci::layout::Layout;
use crate::oci::store::Store;
use crate::oci::types::{Descriptor, Digest, Manifest, MEDIA_OCI_MANIFEST};
use crate::sign::append_signature;
use crate::sign::keys::SigningKey;
use crate::sign::Trust;

fn key() -> SigningKey {
    let (private, _) = crate::sign::keys::generate(b"").unwrap();
    SigningKey::load(
        private.as_bytes(),
        &crate::sign::KeySource::parse("env://K"),
        &|| Ok(zeroize::Zeroizing::new(String::new())),
    )
    .unwrap()
}

fn trust(k: &SigningKey) -> Trust {
    Trust::from(k.public_key().clone())
}

fn layout() -> (tempfile::TempDir, Layout) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    (dir, layout)
}

#[tokio::test]
async fn the_trusted_key_s_signature_verifies_and_another_key_s_does_not() {
    let (_d, layout) = layout();
    let store = Store::Layout(layout);
    let subject = Digest::of(b"an image manifest");
    let (signer, stranger) = (key(), key());
    append_signature(&store, &subject, "r/app", &signer)
        .await
        .unwrap();

    let ok = verify_signatures(&store, &subject, &trust(&signer))
        .await
        .unwrap();
    assert!(ok.verified, "{ok:?}");
    assert_eq!(ok.signatures.len(), 1);
    assert!(ok.signatures[0].checks.iter().all(|c| c.passed), "{ok:?}");

    let no = verify_signatures(&store, &subject, &trust(&stranger))
        .await
        .unwrap();
    assert!(!no.verified, "{no:?}");
    assert!(
        no.signatures[0].checks.iter().any(|c| !c.passed),
        "a failed check is named: {no:?}"
    );
    assert!(!no.summary.is_empty());
}

#[tokio::test]
async fn nothing_signed_is_not_verified() {
    let (_d, layout) = layout();
    let store = Store::Layout(layout);
    let report = verify_signatures(&store, &Digest::of(b"unsigned"), &trust(&key()))
        .await
        .unwrap();
    assert!(!report.verified);
    assert!(report.signatures.is_empty());
    assert!(!report.summary.is_empty(), "says why");
}

/// A valid signature of image A, placed where image B's signatures live: it verifies as a
/// signature, but it is about A, so B is not signed.
#[tokio::test]
async fn a_signature_copied_from_another_image_does_not_sign_this_one() {
    let (_d, layout) = layout();
    let store = Store::Layout(layout.clone());
    let (a, b) = (Digest::of(b"image a"), Digest::of(b"image b"));
    let signer = key();
    append_signature(&store, &a, "r/app", &signer)
        .await
        .unwrap();
    let sig = layout.resolve_tag(&a.cosign_tag("sig")).unwrap().unwrap();
    layout.set_tag(&b.cosign_tag("sig"), &sig).unwrap();

    let report = verify_signatures(&store, &b, &trust(&signer))
        .await
        .unwrap();
    assert!(!report.verified, "{report:?}");
    assert!(
        report.signatures[0].checks.iter().any(|c| !c.passed),
        "{report:?}"
    );
}

/// A signature layer whose blob is not a payload at all is a failed check, not a skipped one.
#[tokio::test]
async fn an_unreadable_signature_fails_its_check() {
    let (_d, layout) = layout();
    let store = Store::Layout(layout.clone());
    let subject = Digest::of(b"an image manifest");
    let signer = key();
    append_signature(&store, &subject, "r/app", &signer)
        .await
        .unwrap();
    // The same manifest with its one layer's blob swapped for garbage (annotations kept).
    let tag = subject.cosign_tag("sig");
    let found = layout.resolve_tag(&tag).unwrap().unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&found.digest).unwrap()).unwrap();
    let garbage = layout.write_blob(b"\x00\x01 not a payload").unwrap();
    manifest["layers"][0]["digest"] = serde_json::json!(garbage.to_string());
    manifest["layers"][0]["size"] = serde_json::json!(16);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    Manifest::from_slice(&bytes, "edited").unwrap();
    layout.write_blob(&bytes).unwrap();
    layout
        .set_tag(&tag, &Descriptor::of(MEDIA_OCI_MANIFEST, &bytes))
        .unwrap();

    let report = verify_signatures(&store, &subject, &trust(&signer))
        .await
        .unwrap();
    assert!(!report.verified, "{report:?}");
    assert!(
        report
            .signatures
            .iter()
            .all(|s| s.checks.iter().any(|c| !c.passed)),
        "{report:?}"
    );
}
