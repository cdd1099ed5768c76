//! Copying an image (or an index and the images it lists) from a layout to a registry: blobs
//! the registry lacks, mounted from another repository when one of ours has them, then the
//! manifest by digest. Tags and evidence are the caller's (evidence: `crate::evidence::copy`).

use crate::error::Result;
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::remote::Remote;
use crate::oci::types::{Descriptor, Digest, Manifest};

/// The index `bytes` are, if they are one (an OCI index or a Docker manifest list); an
/// ambiguous document is then refused by the image path.
pub fn index_of(bytes: &[u8]) -> Option<crate::oci::types::Index> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    (crate::oci::types::document_kind(&value, None) == Ok(crate::oci::types::DocumentKind::Index))
        .then(|| serde_json::from_value(value).ok())
        .flatten()
}

/// Copy one image's blobs and manifest (by digest) from the layout to a repository. Blobs the
/// repository has are skipped; blobs pushed earlier to another repository of the same registry
/// are mounted from there instead of uploaded (remembered in the layout's `cleanpipe-cache`).
pub async fn copy_image(
    layout: &Layout,
    remote: &Remote,
    repo: &RegistryRef,
    image: &Descriptor,
) -> Result<(usize, usize)> {
    let manifest_bytes = layout.read_blob(&image.digest)?;
    if let Some(index) = index_of(&manifest_bytes) {
        // An index: every image it lists first (blobs, then manifest), each once, then the
        // index. Nested indexes are refused (as everywhere else).
        let (mut uploaded, mut skipped) = (0, 0);
        let mut copied: Vec<&Digest> = Vec::new();
        for child in &index.manifests {
            if copied.contains(&&child.digest) {
                continue;
            }
            copied.push(&child.digest);
            if index_of(&layout.read_blob(&child.digest)?).is_some() {
                return Err(crate::Error::usage(format!(
                    "{} lists {}, itself an index: nested indexes are not supported",
                    image.digest, child.digest
                )));
            }
            let (u, s) = Box::pin(copy_image(layout, remote, repo, child)).await?;
            uploaded += u;
            skipped += s;
        }
        remote
            .push_manifest(
                &repo.at_digest(&image.digest),
                &manifest_bytes,
                &image.media_type,
            )
            .await?;
        return Ok((uploaded, skipped));
    }
    let manifest = Manifest::from_slice(&manifest_bytes, &image.digest.to_string())?;
    let memo_path = layout
        .root()
        .join("cleanpipe-cache")
        .join("blob-locations.json");
    let mut memo: std::collections::BTreeMap<String, String> = std::fs::read(&memo_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut uploaded = 0;
    let mut skipped = 0;
    for blob in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
        let key = format!("{}/{}", repo.registry, blob.digest);
        if remote.has_blob(repo, &blob.digest).await? {
            skipped += 1;
        } else {
            let mounted = match memo.get(&key) {
                Some(from) if from != &repo.repository => {
                    remote.mount_blob(repo, from, &blob.digest).await
                }
                _ => false,
            };
            if mounted {
                skipped += 1;
            } else {
                remote.push_blob_from_layout(repo, layout, blob).await?;
                uploaded += 1;
            }
        }
        memo.insert(key, repo.repository.clone());
    }
    remote
        .push_manifest(
            &repo.at_digest(&image.digest),
            &manifest_bytes,
            manifest.media_type_or_default(),
        )
        .await?;
    if let Ok(bytes) = serde_json::to_vec(&memo) {
        let _ = crate::oci::layout::write_atomic(&memo_path, &bytes);
    }
    Ok((uploaded, skipped))
}
