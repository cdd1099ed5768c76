//! cosign's simple-signing payload and `.sig` manifest (docs/formats.md §1), written by us because
//! the sigstore crate's `push_signature` replaces other signers' signatures instead of appending.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::oci::store::Store;
use crate::oci::types::{Descriptor, Digest, Manifest, MEDIA_OCI_CONFIG, MEDIA_OCI_MANIFEST};
use crate::sign::keys::SigningKey;

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
/// cosign readers refuse `.sig` manifests with more layers than this.
pub const MAX_SIGNATURE_LAYERS: usize = 1000;

/// The exact bytes cosign signs for an image: Go's `json.Marshal` of the simple-signing payload.
pub fn simple_signing_payload(docker_reference: &str, digest: &Digest) -> Vec<u8> {
    let reference = serde_json::to_string(docker_reference).expect("string serializes");
    format!(
        "{{\"critical\":{{\"identity\":{{\"docker-reference\":{reference}}},\"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"{SIGNATURE_TYPE}\"}},\"optional\":null}}"
    )
    .into_bytes()
}

/// The config blob go-containerregistry writes for an empty image with `layers` appended.
fn signature_config(layers: &[Descriptor]) -> Vec<u8> {
    #[derive(Serialize)]
    struct History {
        created: &'static str,
    }
    #[derive(Serialize)]
    struct RootFs<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        diff_ids: Vec<&'a Digest>,
    }
    #[derive(Serialize)]
    struct Config<'a> {
        architecture: &'static str,
        created: &'static str,
        history: Vec<History>,
        os: &'static str,
        rootfs: RootFs<'a>,
        config: serde_json::Map<String, serde_json::Value>,
    }
    let zero = "0001-01-01T00:00:00Z";
    let config = Config {
        architecture: "",
        created: zero,
        history: layers.iter().map(|_| History { created: zero }).collect(),
        os: "",
        // Signature layers are not compressed, so each diff_id is the layer digest.
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| &l.digest).collect(),
        },
        config: serde_json::Map::new(),
    };
    serde_json::to_vec(&config).expect("config serializes")
}

/// What [`append_signature`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum SignOutcome {
    /// A new signature layer was added; the `.sig` manifest now has `total` layers.
    Added {
        signature_manifest: Digest,
        total: usize,
    },
    /// This key had already signed this payload; nothing changed.
    AlreadySigned,
}

/// Sign `image_digest` and add the signature to its `.sig` manifest in `store`, keeping every
/// signature already there (cosign appends; so do we).
pub async fn append_signature(
    store: &Store,
    image_digest: &Digest,
    docker_reference: &str,
    key: &SigningKey,
) -> Result<SignOutcome> {
    let payload = simple_signing_payload(docker_reference, image_digest);
    let payload_digest = Digest::of(&payload);
    let tag = image_digest.cosign_tag("sig");

    let mut layers = match store.manifest_by_tag(&tag).await? {
        Some(existing) => Manifest::from_slice(&existing.bytes, &tag)?.layers,
        None => Vec::new(),
    };
    // Like cosign's DupeDetector: the same key over the same payload is already there.
    let duplicate = layers.iter().any(|l| {
        l.digest == payload_digest
            && l.annotations
                .get(SIGNATURE_ANNOTATION)
                .is_some_and(|sig| key.public_key().verify_base64(sig, &payload))
    });
    if duplicate {
        return Ok(SignOutcome::AlreadySigned);
    }
    check_layer_limit(&tag, layers.len() + 1)?;

    let signature = key.sign_base64(&payload)?;
    store.write_blob(payload.clone()).await?;
    let mut layer = Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, &payload);
    layer
        .annotations
        .insert(SIGNATURE_ANNOTATION.into(), signature);
    layers.push(layer);

    let config = signature_config(&layers);
    let config_desc = Descriptor::of(MEDIA_OCI_CONFIG, &config);
    store.write_blob(config).await?;
    let manifest = Manifest::oci(config_desc, layers).to_bytes();
    let total = serde_json::from_slice::<Manifest>(&manifest)
        .map(|m| m.layers.len())
        .unwrap_or(0);
    let desc = store
        .put_tagged_manifest(&tag, &manifest, MEDIA_OCI_MANIFEST)
        .await?;
    Ok(SignOutcome::Added {
        signature_manifest: desc.digest,
        total,
    })
}

/// Refuse a `.sig`/`.att` manifest that would hold more layers than cosign reads.
pub fn check_layer_limit(tag: &str, layers: usize) -> Result<()> {
    if layers > MAX_SIGNATURE_LAYERS {
        return Err(Error::gate(
            format!(
                "`{tag}` would hold {layers} layers, more than the {MAX_SIGNATURE_LAYERS} cosign accepts; nothing was written"
            ),
            vec![],
        )
        .with_hint(
            "remove stale signatures or attestations from that manifest (other signers' piled-up layers) before signing again",
        ));
    }
    Ok(())
}

/// Merge signature layers from `other` into `ours`, keeping order and dropping duplicates.
/// Used when publishing: the registry may hold signatures by other signers.
pub fn merge_signature_layers(remote: &[Descriptor], ours: &[Descriptor]) -> Vec<Descriptor> {
    let mut merged: Vec<Descriptor> = remote.to_vec();
    for layer in ours {
        let same = |l: &Descriptor| {
            l.digest == layer.digest
                && l.annotations.get(SIGNATURE_ANNOTATION)
                    == layer.annotations.get(SIGNATURE_ANNOTATION)
        };
        if !merged.iter().any(same) {
            merged.push(layer.clone());
        }
    }
    merged
}

/// Build a `.sig` manifest (and its config) for `layers`: (manifest bytes, config bytes).
pub fn signature_manifest(layers: Vec<Descriptor>) -> (Vec<u8>, Vec<u8>) {
    let config = signature_config(&layers);
    let manifest = Manifest::oci(Descriptor::of(MEDIA_OCI_CONFIG, &config), layers).to_bytes();
    (manifest, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_matches_cosign_bytes() {
        let d = Digest::of(b"x");
        let p = simple_signing_payload("127.0.0.1:5000/app", &d);
        let expected = format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"127.0.0.1:5000/app\"}},\"image\":{{\"docker-manifest-digest\":\"{d}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}"
        );
        assert_eq!(String::from_utf8(p).unwrap(), expected);
    }

    #[test]
    fn config_lists_each_layer() {
        let l = Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, b"p");
        let c: serde_json::Value =
            serde_json::from_slice(&signature_config(&[l.clone(), l.clone()])).unwrap();
        assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(c["history"].as_array().unwrap().len(), 2);
        assert_eq!(c["created"], "0001-01-01T00:00:00Z");
    }
}
