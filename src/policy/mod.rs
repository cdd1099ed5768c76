//! What `cleanpipe verify` checks before deploy, and how it explains the verdict.
//!
//! Today the policy is: at least one cosign signature of the exact digest verifies with the
//! given key. Attestation checks (provenance source/commit/builder, SBOM present, scan result)
//! join here when attestations are built.

use serde::Serialize;

use crate::error::Result;
use crate::oci::reference::ImageRef;
use crate::oci::remote::RemoteOptions;
use crate::oci::store::Store;
use crate::oci::types::Digest;
use crate::sign::keys::PublicKey;
use crate::sign::verify::{verify_signatures, VerifyReport};

/// The verdict on one image.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub image: String,
    pub digest: Digest,
    /// True when every required check passed.
    pub verified: bool,
    pub signatures: VerifyReport,
}

/// Resolve `image` to a digest (a tag is resolved first; the digest is what gets checked)
/// and check its signatures with `key`.
pub async fn verify_image(
    image: &ImageRef,
    key: &PublicKey,
    remote: &RemoteOptions,
) -> Result<Verdict> {
    let store = Store::for_image(image, remote)?;
    let resolved = store.resolve(image).await?;
    let signatures = verify_signatures(&store, &resolved.digest, key).await?;
    Ok(Verdict {
        image: image.to_string(),
        digest: resolved.digest,
        verified: signatures.verified,
        signatures,
    })
}
