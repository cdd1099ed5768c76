//! Copying an image's evidence from a layout to a registry: cosign's `.sig`/`.att` tags merged
//! with what the registry already holds (other signers), and bundle referrers.

use crate::error::Result;
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::remote::{Remote, RemoteOptions};
use crate::oci::types::{Descriptor, Digest, Manifest, MEDIA_OCI_CONFIG, MEDIA_OCI_MANIFEST};
use crate::sign::attest::{
    merge_attestation_layers, signed_by, PREDICATE_TYPE_ANNOTATION, SIGNER_ANNOTATION,
};
use crate::sign::cosign::{check_layer_limit, merge_signature_layers, signature_manifest};
use crate::sign::keys::PublicKey;

/// Copy the layout's referrers of `image` (signature and attestation bundles) to `repo`.
pub async fn copy_referrers_to(
    layout: &Layout,
    repo: &RegistryRef,
    options: &RemoteOptions,
    image: &Digest,
) -> Result<usize> {
    let local = crate::oci::store::Store::Layout(layout.clone());
    let remote = crate::oci::store::Store::for_image(
        &crate::oci::reference::ImageRef::Registry(repo.clone()),
        options,
    )?;
    crate::evidence::copy_referrers(&local, &remote, image).await
}

/// Push the layout's signatures (`suffix` `sig`) or attestations (`att`) of `image` to `repo`,
/// merged with the layers the registry already has there. Returns how many existing layers were
/// kept, or `None` when the registry already had all of ours (or the layout has none). With the
/// signing `key`, registry attestations of our predicate types that this key signed but that
/// carry no signer annotation (written by cleanpipe before it had one) are replaced too.
pub async fn push_signatures(
    layout: &Layout,
    remote: &Remote,
    repo: &RegistryRef,
    image: &Digest,
    suffix: &str,
    key: Option<&PublicKey>,
) -> Result<Option<usize>> {
    let sig_tag = image.cosign_tag(suffix);
    let Some(signature) = layout.resolve_tag(&sig_tag)? else {
        return Ok(None);
    };
    let ours = Manifest::from_slice(&layout.read_blob(&signature.digest)?, &sig_tag)?;
    let theirs = match remote.manifest(&repo.with_tag(&sig_tag)).await? {
        Some((bytes, _, _)) => Manifest::from_slice(&bytes, &sig_tag)?.layers,
        None => vec![],
    };
    // Signatures are appended (cosign does); attestations replace this key's earlier one of the
    // same predicate type, so re-runs do not pile up copies in the registry.
    let merged = if suffix == "att" {
        let mut base = theirs.clone();
        if let Some(key) = key {
            let mut legacy = Vec::new();
            for r in &theirs {
                let our_type = ours.layers.iter().any(|o| {
                    o.annotations.get(PREDICATE_TYPE_ANNOTATION)
                        == r.annotations.get(PREDICATE_TYPE_ANNOTATION)
                });
                if our_type
                    && !r.annotations.contains_key(SIGNER_ANNOTATION)
                    && !ours.layers.iter().any(|o| o.digest == r.digest)
                    && remote
                        .read_blob(repo, &r.digest)
                        .await
                        .is_ok_and(|bytes| signed_by(&bytes, key))
                {
                    legacy.push(r.digest.clone());
                }
            }
            base.retain(|r| !legacy.contains(&r.digest));
        }
        merge_attestation_layers(&base, &ours.layers)
    } else {
        merge_signature_layers(&theirs, &ours.layers)
    };
    if merged == theirs {
        return Ok(None);
    }
    check_layer_limit(&format!("{repo}:{sig_tag}"), merged.len())?;
    let kept = theirs.iter().filter(|t| merged.contains(t)).count();
    for layer in &ours.layers {
        if !remote.has_blob(repo, &layer.digest).await? {
            remote.push_blob_from_layout(repo, layout, layer).await?;
        }
    }
    let (manifest, config) = signature_manifest(merged);
    let config_desc = Descriptor::of(MEDIA_OCI_CONFIG, &config);
    if !remote.has_blob(repo, &config_desc.digest).await? {
        remote.push_blob_bytes(repo, config).await?;
    }
    remote
        .push_manifest(&repo.with_tag(&sig_tag), &manifest, MEDIA_OCI_MANIFEST)
        .await?;
    Ok(Some(kept))
}
