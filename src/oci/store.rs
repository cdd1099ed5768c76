//! One face for a layout and a registry repository, so signing and verification are written once.

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::{ImageRef, RegistryRef};
use crate::oci::remote::{Remote, RemoteOptions};
use crate::oci::types::{Descriptor, Digest, MEDIA_OCI_MANIFEST};

/// Where an image and its signatures live.
pub enum Store {
    Layout(Layout),
    Remote { remote: Remote, repo: RegistryRef },
}

/// A manifest found by tag or digest.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub digest: Digest,
    pub bytes: Vec<u8>,
    pub media_type: String,
}

impl Resolved {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            &self.media_type,
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

impl Store {
    /// The store `image` lives in. Layouts must already exist.
    pub fn for_image(image: &ImageRef, options: &RemoteOptions) -> Result<Store> {
        Ok(match image {
            ImageRef::Layout(l) => Store::Layout(Layout::open(&l.dir)?),
            ImageRef::Registry(r) => Store::Remote {
                remote: Remote::new(r, options)?,
                repo: r.clone(),
            },
        })
    }

    /// Resolve `image` (digest wins over tag) to its manifest. A missing image is a usage error.
    pub async fn resolve(&self, image: &ImageRef) -> Result<Resolved> {
        let found = if let Some(d) = image.digest() {
            self.manifest_by_digest(d).await?
        } else {
            let tag = image.tag().unwrap_or("latest");
            self.manifest_by_tag(tag).await?
        };
        found.ok_or_else(|| {
            Error::usage(format!("image {image} was not found"))
                .with_hint("check the name, tag and digest; `oci:DIR:TAG` for a layout")
        })
    }

    pub async fn manifest_by_tag(&self, tag: &str) -> Result<Option<Resolved>> {
        match self {
            Store::Layout(layout) => match layout.resolve_tag(tag)? {
                Some(desc) => {
                    let bytes = layout.read_blob(&desc.digest)?;
                    Ok(Some(Resolved {
                        digest: desc.digest,
                        bytes,
                        media_type: desc.media_type,
                    }))
                }
                None => Ok(None),
            },
            Store::Remote { remote, repo } => Ok(remote.manifest(&repo.with_tag(tag)).await?.map(
                |(bytes, digest, media_type)| Resolved {
                    digest,
                    bytes,
                    media_type,
                },
            )),
        }
    }

    pub async fn manifest_by_digest(&self, digest: &Digest) -> Result<Option<Resolved>> {
        match self {
            Store::Layout(layout) => match layout.resolve_digest(digest, MEDIA_OCI_MANIFEST)? {
                Some(desc) => {
                    let bytes = layout.read_blob(digest)?;
                    let media_type =
                        crate::oci::types::declared_media_type(&bytes).unwrap_or(desc.media_type);
                    Ok(Some(Resolved {
                        digest: digest.clone(),
                        bytes,
                        media_type,
                    }))
                }
                None => Ok(None),
            },
            Store::Remote { remote, repo } => Ok(remote
                .manifest(&repo.at_digest(digest))
                .await?
                .map(|(bytes, digest, media_type)| Resolved {
                    digest,
                    bytes,
                    media_type,
                })),
        }
    }

    pub async fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        match self {
            Store::Layout(layout) => layout.read_blob(digest),
            Store::Remote { remote, repo } => remote.read_blob(repo, digest).await,
        }
    }

    pub async fn write_blob(&self, bytes: Vec<u8>) -> Result<Digest> {
        match self {
            Store::Layout(layout) => layout.write_blob(&bytes),
            Store::Remote { remote, repo } => {
                let digest = Digest::of(&bytes);
                if remote.has_blob(repo, &digest).await? {
                    return Ok(digest);
                }
                remote.push_blob_bytes(repo, bytes).await
            }
        }
    }

    /// Store manifest bytes and point `tag` at them.
    pub async fn put_tagged_manifest(
        &self,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Descriptor> {
        let desc = Descriptor::of(media_type, bytes);
        match self {
            Store::Layout(layout) => {
                layout.write_blob(bytes)?;
                layout.set_tag(tag, &desc)?;
            }
            Store::Remote { remote, repo } => {
                remote
                    .push_manifest(&repo.with_tag(tag), bytes, media_type)
                    .await?
            }
        }
        Ok(desc)
    }

    /// The repository name signatures should name (`docker-reference`).
    pub fn describe(&self) -> String {
        match self {
            Store::Layout(l) => format!("oci:{}", l.root().display()),
            Store::Remote { repo, .. } => repo.repository_name(),
        }
    }
}

/// Make `image` available in a layout: a layout image as it is, a registry image pulled
/// (manifest, config and layers, streamed and digest-checked) into `scratch`.
pub async fn materialize(
    image: &ImageRef,
    options: &RemoteOptions,
    scratch: &std::path::Path,
) -> Result<(Layout, Resolved)> {
    let store = Store::for_image(image, options)?;
    let resolved = store.resolve(image).await?;
    match store {
        Store::Layout(layout) => Ok((layout, resolved)),
        Store::Remote { remote, repo } => {
            let layout = Layout::create(scratch)?;
            let manifest =
                crate::oci::types::Manifest::from_slice(&resolved.bytes, &image.to_string())?;
            for blob in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
                remote.pull_blob_into(&repo, &blob.digest, &layout).await?;
            }
            layout.write_blob(&resolved.bytes)?;
            Ok((layout, resolved))
        }
    }
}
