//! One face for a layout and a registry repository, so signing and verification are written once.

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::{ImageRef, RegistryRef};
use crate::oci::remote::{Remote, RemoteOptions};
use crate::oci::types::{Descriptor, Digest, Manifest, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST};

/// Referrers read for one digest at most: more is refused (a hostile list must not cost
/// unbounded time or memory, and checking only some of them is not verification).
pub const MAX_REFERRERS: usize = 1000;

/// Where a store keeps the referrers of a digest (distribution-spec, "listing referrers").
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferrersPlace {
    /// The registry's referrers API.
    Api,
    /// The fallback tag `sha256-<hex>` holding an index, on registries without the API.
    FallbackTag(String),
    /// Untagged manifests in a layout's `index.json`.
    Layout,
}

impl std::fmt::Display for ReferrersPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReferrersPlace::Api => f.write_str("the referrers API"),
            ReferrersPlace::FallbackTag(t) => write!(f, "the referrers fallback tag `{t}`"),
            ReferrersPlace::Layout => f.write_str("the layout's index"),
        }
    }
}

/// The referrers of one digest and where they were listed.
#[derive(Clone, Debug)]
pub struct Referrers {
    pub place: ReferrersPlace,
    /// Manifest descriptors, each with its `artifactType` and annotations.
    pub entries: Vec<Descriptor>,
}

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
    /// Whether this is an image index (OCI) or manifest list (Docker), by media type or shape.
    /// An ambiguous document is neither: reading it as an image refuses it too.
    pub fn is_index(&self) -> bool {
        serde_json::from_slice::<serde_json::Value>(&self.bytes).is_ok_and(|v| {
            crate::oci::types::document_kind(&v, Some(&self.media_type))
                == Ok(crate::oci::types::DocumentKind::Index)
        })
    }

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

    /// For an index, the manifest it holds for `platform` (read by digest from this store);
    /// for a single image, `None`. `what` names the image in errors: an index without that
    /// platform is a usage error naming the platforms it has.
    pub async fn platform_manifest(
        &self,
        resolved: &Resolved,
        platform: &crate::oci::types::Platform,
        what: &str,
    ) -> Result<Option<Resolved>> {
        if !resolved.is_index() {
            return Ok(None);
        }
        let index = crate::oci::types::Index::from_slice(&resolved.bytes, what)?;
        let entry = index.for_platform(platform).map_err(|have| {
            Error::usage(format!(
                "{what} is an index without a {platform} image (it has: {})",
                if have.is_empty() {
                    "no platform images".to_string()
                } else {
                    have.join(", ")
                }
            ))
            .with_hint("use a base that is published for this platform")
        })?;
        let child = self
            .manifest_by_digest(&entry.digest)
            .await?
            .ok_or_else(|| {
                Error::environment(format!(
                    "{what} lists {} for {platform}, which is not there",
                    entry.digest
                ))
            })?;
        if child.is_index() {
            return Err(Error::usage(format!(
                "{what}: the {platform} entry {} is itself an index; nested indexes are not supported",
                entry.digest
            )));
        }
        Ok(Some(child))
    }

    /// The platform a single image's config says it is for.
    pub async fn image_platform(
        &self,
        resolved: &Resolved,
        what: &str,
    ) -> Result<crate::oci::types::Platform> {
        let manifest = Manifest::from_slice(&resolved.bytes, what)?;
        let config: crate::oci::types::ImageConfig = serde_json::from_slice(
            &self.read_blob(&manifest.config.digest).await?,
        )
        .map_err(|e| Error::usage(format!("the config of {what} is malformed")).caused_by(e))?;
        Ok(crate::oci::types::Platform::of_config(&config))
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
                    .await?;
            }
        }
        Ok(desc)
    }

    /// The manifests whose `subject` is `digest`: from the referrers API, else the fallback tag
    /// (registry), or the untagged manifests of `index.json` (layout). `Ok(Err(why))` when the
    /// store holds a list that cannot be used (a fallback tag that is not an index, more than
    /// [`MAX_REFERRERS`] entries, a damaged layout manifest): evidence that does not verify.
    /// A registry that cannot be reached stays an error.
    pub async fn referrers(
        &self,
        digest: &Digest,
    ) -> Result<std::result::Result<Referrers, String>> {
        let listed = match self {
            Store::Layout(layout) => {
                let untagged = layout.untagged()?;
                // Every untagged manifest is read to learn its subject: bounded, so a layout
                // from elsewhere cannot make a verification read without end.
                if untagged.len() > 10 * MAX_REFERRERS {
                    return Ok(Err(format!(
                        "the layout lists {} untagged manifests, more than the {} cleanpipe reads to find referrers",
                        untagged.len(),
                        10 * MAX_REFERRERS
                    )));
                }
                let mut entries = Vec::new();
                for entry in untagged {
                    if entry.media_type == MEDIA_OCI_INDEX {
                        continue;
                    }
                    let manifest = match layout
                        .read_blob(&entry.digest)
                        .and_then(|b| Manifest::from_slice(&b, &entry.digest.to_string()))
                    {
                        Ok(m) => m,
                        Err(e) => {
                            return Ok(Err(format!(
                                "the layout lists manifest {} that cannot be read: {}",
                                entry.digest,
                                crate::error::one_line(&e)
                            )))
                        }
                    };
                    if manifest.subject.as_ref().map(|s| &s.digest) != Some(digest) {
                        continue;
                    }
                    let mut desc = entry.clone();
                    desc.artifact_type = manifest
                        .artifact_type
                        .clone()
                        .or_else(|| Some(manifest.config.media_type.clone()));
                    desc.annotations = manifest.annotations.clone();
                    entries.push(desc);
                }
                Referrers {
                    place: ReferrersPlace::Layout,
                    entries,
                }
            }
            Store::Remote { remote, repo } => {
                match remote.referrers(repo, digest, MAX_REFERRERS).await? {
                    Some(Err(why)) => return Ok(Err(why)),
                    Some(Ok(entries)) => Referrers {
                        place: ReferrersPlace::Api,
                        entries,
                    },
                    None => {
                        let tag = digest.referrers_tag();
                        let entries = match self.manifest_by_tag(&tag).await? {
                            None => vec![],
                            Some(found) => match fallback_index(&found) {
                                Ok(index) => index.manifests,
                                Err(why) => {
                                    return Ok(Err(format!(
                                        "{} {why}",
                                        ReferrersPlace::FallbackTag(tag)
                                    )))
                                }
                            },
                        };
                        Referrers {
                            place: ReferrersPlace::FallbackTag(tag),
                            entries,
                        }
                    }
                }
            }
        };
        if listed.entries.len() > MAX_REFERRERS {
            return Ok(Err(format!(
                "{} lists more than {MAX_REFERRERS} referrers of {digest}; refusing to check only some of them",
                listed.place
            )));
        }
        Ok(Ok(listed))
    }

    /// Store a manifest that has a `subject` so that [`Store::referrers`] finds it: by digest
    /// (registry; when the registry does not acknowledge the subject with `OCI-Subject`, the
    /// fallback tag's index is read, extended and written back), or listed untagged in
    /// `index.json` (layout). Listed entries for which `supersedes` is true (an earlier version
    /// of the same evidence, by the caller's rule) stop being listed, in a layout and in the
    /// fallback index; every other entry is kept as it is. (The referrers API lists what the
    /// registry holds: nothing is unlisted there.) Returns where it was listed.
    pub async fn attach_referrer(
        &self,
        manifest: &[u8],
        subject: &Digest,
        supersedes: &(dyn Fn(&Descriptor) -> bool + Sync),
    ) -> Result<ReferrersPlace> {
        let parsed = Manifest::from_slice(manifest, "a referrer")?;
        let mut entry = Descriptor::of(MEDIA_OCI_MANIFEST, manifest);
        entry.artifact_type = parsed
            .artifact_type
            .clone()
            .or_else(|| Some(parsed.config.media_type.clone()));
        entry.annotations = parsed.annotations.clone();
        match self {
            Store::Layout(layout) => {
                layout.write_blob(manifest)?;
                let mut replaced = Vec::new();
                if let Ok(listed) = self.referrers(subject).await? {
                    for earlier in listed.entries {
                        if earlier.digest != entry.digest && supersedes(&earlier) {
                            replaced.push(earlier.digest);
                        }
                    }
                }
                // One rewrite of `index.json`: the new referrer and the unlisting together.
                layout.list_untagged(&entry, &replaced)?;
                Ok(ReferrersPlace::Layout)
            }
            Store::Remote { remote, repo } => {
                let acknowledged = remote
                    .push_manifest(&repo.at_digest(&entry.digest), manifest, MEDIA_OCI_MANIFEST)
                    .await?;
                if acknowledged.as_deref() == Some(subject.as_str()) {
                    return Ok(ReferrersPlace::Api);
                }
                let tag = subject.referrers_tag();
                let mut index = match self.manifest_by_tag(&tag).await? {
                    None => serde_json::json!({
                        "schemaVersion": 2,
                        "mediaType": MEDIA_OCI_INDEX,
                        "manifests": [],
                    }),
                    Some(found) => {
                        fallback_index(&found).map_err(|why| {
                            Error::gate(
                                format!("{repo}:{tag} {why}; refusing to replace it, nothing was listed there"),
                                vec![],
                            )
                            .with_hint("that tag belongs to the referrers fallback scheme; move whatever was pushed there elsewhere, or use a registry with the referrers API")
                        })?;
                        serde_json::from_slice(&found.bytes).expect("checked as JSON above")
                    }
                };
                let manifests = index["manifests"]
                    .as_array_mut()
                    .expect("checked as an index above");
                let listed = manifests
                    .iter()
                    .any(|m| m["digest"].as_str() == Some(entry.digest.as_str()));
                let before = manifests.len();
                manifests.retain(|m| match serde_json::from_value::<Descriptor>(m.clone()) {
                    Ok(d) => d.digest == entry.digest || !supersedes(&d),
                    // Not ours to judge: another producer's entry stays as it is.
                    Err(_) => true,
                });
                let unlisted = before - manifests.len();
                if !listed {
                    check_referrer_count(repo, &tag, manifests.len() + 1)?;
                    manifests.push(serde_json::to_value(&entry).expect("descriptor serializes"));
                }
                if !listed || unlisted > 0 {
                    let bytes = serde_json::to_vec(&index).expect("index serializes");
                    remote
                        .push_manifest(&repo.with_tag(&tag), &bytes, MEDIA_OCI_INDEX)
                        .await?;
                }
                Ok(ReferrersPlace::FallbackTag(tag))
            }
        }
    }

    /// The repository name signatures should name (`docker-reference`).
    pub fn describe(&self) -> String {
        match self {
            Store::Layout(l) => format!("oci:{}", l.root().display()),
            Store::Remote { repo, .. } => repo.repository_name(),
        }
    }
}

/// The index a referrers fallback tag holds, or why it is not one.
fn fallback_index(found: &Resolved) -> std::result::Result<crate::oci::types::Index, String> {
    let value: serde_json::Value = serde_json::from_slice(&found.bytes)
        .map_err(|e| format!("({}) is not JSON: {e}", found.digest))?;
    if !value["manifests"].is_array() || found.media_type != MEDIA_OCI_INDEX {
        return Err(format!(
            "holds a `{}` ({}), not an OCI image index",
            found.media_type, found.digest
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| format!("({}) is a malformed index: {e}", found.digest))
}

fn check_referrer_count(repo: &RegistryRef, tag: &str, count: usize) -> Result<()> {
    if count > MAX_REFERRERS {
        return Err(Error::gate(
            format!("{repo}:{tag} would list {count} referrers, more than the {MAX_REFERRERS} cleanpipe reads; nothing was listed"),
            vec![],
        )
        .with_hint("remove stale referrers from that index before attaching more"));
    }
    Ok(())
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
