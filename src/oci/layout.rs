//! The local artifact store: an OCI image layout on disk (image-spec image-layout.md).
//!
//! Blobs are written to a temporary file in the blob directory, hashed while written, and
//! renamed to `blobs/sha256/<hex>` only once complete, so a run that dies half way never leaves
//! a partial blob under a digest name. `index.json` is replaced the same way.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::oci::types::{Descriptor, Digest, Index, ANNOTATION_REF_NAME, MEDIA_OCI_INDEX};

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
use crate::oci::types::MAX_SMALL_BLOB;

/// An OCI image layout directory.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Open the layout at `root`, creating it if it does not exist.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let blobs = root.join("blobs").join("sha256");
        crate::fsutil::create_dirs(&blobs)?;
        let marker = root.join(LAYOUT_FILE);
        if !marker.exists() {
            write_atomic(&marker, LAYOUT_CONTENT.as_bytes())?;
        }
        let index = root.join("index.json");
        if !index.exists() {
            let empty = Index {
                schema_version: 2,
                media_type: Some(MEDIA_OCI_INDEX.into()),
                ..Default::default()
            };
            write_atomic(
                &index,
                &serde_json::to_vec(&empty).expect("index serializes"),
            )?;
        }
        Layout::open(root)
    }

    /// Open an existing layout; an error if `root` is not one.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let marker = root.join(LAYOUT_FILE);
        let text = fs::read_to_string(&marker).map_err(|e| {
            Error::usage(format!(
                "`{}` is not an OCI image layout ({e} reading `oci-layout`)",
                root.display()
            ))
            .with_hint("give the directory that holds `oci-layout`, `index.json` and `blobs/`")
        })?;
        if !text.contains("\"imageLayoutVersion\"") {
            return Err(Error::usage(format!(
                "`{}` has an `oci-layout` file cleanpipe cannot read",
                marker.display()
            )));
        }
        Ok(Layout { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Open a blob for streaming.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| {
            Error::environment(format!(
                "blob {digest} is missing from the layout `{}`: {e}",
                self.root.display()
            ))
            .with_hint("the layout is incomplete; run the pipeline again to rebuild it")
        })
    }

    /// Open a blob for streaming through a reader that fails at the end of the stream when the
    /// content does not match `desc`'s digest and size (layers are too big to check up front).
    pub fn open_verified_blob(
        &self,
        desc: &Descriptor,
    ) -> Result<crate::oci::types::VerifyingReader<io::BufReader<File>>> {
        let file = self.open_blob(&desc.digest)?;
        Ok(crate::oci::types::VerifyingReader::new(
            io::BufReader::with_capacity(256 * 1024, file),
            &desc.digest,
            desc.size,
            format!("blob {} in `{}`", desc.digest, self.root.display()),
        ))
    }

    /// Copy a blob from another layout unless present, streamed and checked against `digest`.
    pub fn copy_blob_from(&self, from: &Layout, digest: &Digest) -> Result<()> {
        if self.has_blob(digest) {
            return Ok(());
        }
        let mut src = from.open_blob(digest)?;
        let mut w = self.blob_writer()?;
        io::copy(&mut src, &mut w).io_context("cannot copy blob", &from.blob_path(digest))?;
        w.commit(Some(digest))?;
        Ok(())
    }

    /// Read a small blob (manifest, config, payload) whole, checking its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let file = self.open_blob(digest)?;
        let mut bytes = Vec::new();
        file.take(MAX_SMALL_BLOB + 1)
            .read_to_end(&mut bytes)
            .io_context("cannot read blob", &self.blob_path(digest))?;
        if bytes.len() as u64 > MAX_SMALL_BLOB {
            return Err(Error::environment(format!(
                "blob {digest} is larger than 16 MiB; expected a manifest or config"
            )));
        }
        if &Digest::of(&bytes) != digest {
            return Err(Error::environment(format!(
                "blob {digest} in `{}` is corrupt: its content has another digest",
                self.root.display()
            ))
            .with_hint("delete the layout directory and run again"));
        }
        Ok(bytes)
    }

    /// Store bytes as a blob; returns their digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let mut w = self.blob_writer()?;
        w.write_all(bytes)
            .io_context("cannot write blob", &self.root)?;
        let (digest, _) = w.commit(None)?;
        Ok(digest)
    }

    /// A writer that becomes a blob on [`BlobWriter::commit`], or vanishes when dropped.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let dir = self.root.join("blobs").join("sha256");
        let file = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&dir)
            .io_context("cannot create a temporary blob", &dir)?;
        Ok(BlobWriter {
            layout: self.clone(),
            file,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<Index> {
        let path = self.root.join("index.json");
        let bytes = fs::read(&path).io_context("cannot read the layout index", &path)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::environment(format!(
                "`{}` is not a valid OCI index: {e}",
                path.display()
            ))
            .with_hint("the layout is damaged (cleanpipe replaces it atomically, so another tool wrote it); restore it, or delete the layout directory and run again")
        })
    }

    fn write_index(&self, index: &Index) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(index).expect("index serializes");
        write_atomic(&self.root.join("index.json"), &bytes)
    }

    /// The descriptor tagged `tag`, if any.
    pub fn resolve_tag(&self, tag: &str) -> Result<Option<Descriptor>> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .find(|d| d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(tag)))
    }

    /// The descriptor of `digest` if the index lists it, else one built from the blob.
    pub fn resolve_digest(
        &self,
        digest: &Digest,
        media_type_hint: &str,
    ) -> Result<Option<Descriptor>> {
        if let Some(d) = self
            .index()?
            .manifests
            .into_iter()
            .find(|d| &d.digest == digest)
        {
            let mut d = d;
            d.annotations.clear();
            return Ok(Some(d));
        }
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(Descriptor::new(
                media_type_hint,
                digest.clone(),
                m.len(),
            ))),
            Err(_) => Ok(None),
        }
    }

    /// Point `tag` at `descriptor`, replacing what it pointed at before.
    pub fn set_tag(&self, tag: &str, descriptor: &Descriptor) -> Result<()> {
        crate::oci::reference::validate_tag(tag)?;
        let mut index = self.index()?;
        index
            .manifests
            .retain(|d| d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) != Some(tag));
        let mut entry = descriptor.clone();
        entry.annotations.clear();
        entry
            .annotations
            .insert(ANNOTATION_REF_NAME.into(), tag.into());
        index.manifests.push(entry);
        self.write_index(&index)
    }

    /// List `descriptor` in `index.json` without a tag (how a layout keeps referrers: their
    /// manifests name their subject). Listing the same digest twice is a no-op.
    pub fn add_untagged(&self, descriptor: &Descriptor) -> Result<()> {
        self.list_untagged(descriptor, &[])
    }

    /// [`Layout::add_untagged`], and stop listing the untagged manifests `replaced`, in one
    /// atomic rewrite of `index.json`.
    pub fn list_untagged(&self, descriptor: &Descriptor, replaced: &[Digest]) -> Result<()> {
        let mut index = self.index()?;
        index.manifests.retain(|d| {
            !replaced.contains(&d.digest) || d.annotations.contains_key(ANNOTATION_REF_NAME)
        });
        let listed = index.manifests.iter().any(|d| {
            d.digest == descriptor.digest && !d.annotations.contains_key(ANNOTATION_REF_NAME)
        });
        if !listed {
            let mut entry = descriptor.clone();
            entry.annotations.remove(ANNOTATION_REF_NAME);
            index.manifests.push(entry);
        }
        self.write_index(&index)
    }

    /// Add an annotation to the `index.json` entry of `tag` (e.g. the `kind` cosign's own layout
    /// reader looks for). A tag that is not there is an error.
    pub fn annotate_tag(&self, tag: &str, key: &str, value: &str) -> Result<()> {
        let mut index = self.index()?;
        let entry = index
            .manifests
            .iter_mut()
            .find(|d| d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(tag))
            .ok_or_else(|| {
                Error::environment(format!(
                    "the layout `{}` has no tag `{tag}` to annotate",
                    self.root.display()
                ))
            })?;
        entry.annotations.insert(key.into(), value.into());
        self.write_index(&index)
    }

    /// Stop listing the untagged manifest `digest` (its blobs stay; tags are untouched).
    pub fn remove_untagged(&self, digest: &Digest) -> Result<()> {
        let mut index = self.index()?;
        index
            .manifests
            .retain(|d| &d.digest != digest || d.annotations.contains_key(ANNOTATION_REF_NAME));
        self.write_index(&index)
    }

    /// The manifests `index.json` lists without a tag.
    pub fn untagged(&self) -> Result<Vec<Descriptor>> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter(|d| !d.annotations.contains_key(ANNOTATION_REF_NAME))
            .collect())
    }

    /// All tags and what they point at.
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| {
                d.annotations
                    .get(ANNOTATION_REF_NAME)
                    .cloned()
                    .map(|t| (t, d))
            })
            .collect())
    }
}

/// A blob being written; see [`Layout::blob_writer`].
pub struct BlobWriter {
    layout: Layout,
    file: tempfile::NamedTempFile,
    hasher: Sha256,
    size: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// Finish the blob: check it against `expected` if given, then move it under its digest.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        self.file
            .flush()
            .io_context("cannot write blob", self.file.path())?;
        let digest = Digest::from_hasher(self.hasher);
        if let Some(expected) = expected {
            if expected != &digest {
                return Err(Error::environment(format!(
                    "content received for {expected} has digest {digest}; refusing to store it"
                ))
                .with_hint("the source sent corrupt or tampered data; try again"));
            }
        }
        let target = self.layout.blob_path(&digest);
        self.file
            .as_file()
            .sync_all()
            .io_context("cannot sync blob", &target)?;
        self.file
            .persist(&target)
            .map_err(|e| Error::io("cannot store blob", &target, e.error))?;
        Ok((digest, self.size))
    }
}

/// Held while a run uses a store; released when dropped (the OS releases it if the process dies).
pub struct StoreLock {
    _file: File,
}

/// Take the store's run lock (`<root>/cleanpipe-cache/run.lock`), so two runs on one layout
/// (CI jobs sharing a workspace) take turns instead of interleaving index updates and outputs.
/// `on_wait` is told the holder's pid before waiting.
pub async fn lock_store(root: &Path, on_wait: impl FnOnce(&str)) -> Result<StoreLock> {
    let dir = root.join("cleanpipe-cache");
    crate::fsutil::create_dirs(&dir)?;
    let path = dir.join("run.lock");
    let mut file = crate::fsutil::open_nofollow(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            on_wait(holder.trim());
            file = tokio::task::spawn_blocking(move || file.lock().map(|_| file))
                .await
                .map_err(|e| Error::environment("waiting for the store lock failed").caused_by(e))?
                .io_context("cannot lock", &path)?;
        }
        Err(fs::TryLockError::Error(e)) => return Err(Error::io("cannot lock", &path, e)),
    }
    file.set_len(0).io_context("cannot write", &path)?;
    let _ = io::Seek::seek(&mut file, io::SeekFrom::Start(0));
    let _ = write!(&file, "{}", std::process::id());
    Ok(StoreLock { _file: file })
}

/// Writes never follow links; one implementation for the crate.
pub use crate::fsutil::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::types::MEDIA_OCI_MANIFEST;

    #[test]
    fn blobs_are_content_addressed_and_tags_replace() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path().join("l")).unwrap();
        let d = layout.write_blob(b"hello").unwrap();
        assert_eq!(layout.read_blob(&d).unwrap(), b"hello");
        let desc = Descriptor::new(MEDIA_OCI_MANIFEST, d.clone(), 5);
        layout.set_tag("v1", &desc).unwrap();
        layout.set_tag("v1", &desc).unwrap();
        assert_eq!(layout.tags().unwrap().len(), 1);
        assert_eq!(layout.resolve_tag("v1").unwrap().unwrap().digest, d);
    }

    #[test]
    fn dropped_writer_leaves_no_blob_and_mismatch_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let mut w = layout.blob_writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        let names: Vec<_> = fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .collect();
        assert!(names.is_empty());
        let mut w = layout.blob_writer().unwrap();
        w.write_all(b"data").unwrap();
        assert!(w.commit(Some(&Digest::of(b"other"))).is_err());
        assert!(!layout.has_blob(&Digest::of(b"data")));
    }

    #[test]
    fn corrupt_blob_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let d = layout.write_blob(b"good").unwrap();
        fs::write(layout.blob_path(&d), b"evil").unwrap();
        assert!(layout
            .read_blob(&d)
            .unwrap_err()
            .to_string()
            .contains("corrupt"));
    }
}
