//! Deterministic tar+gzip layers: sorted entries, fixed ownership and mtimes, one gzip backend
//! and level, so the same inputs always give the same layer digest. Files are streamed from disk
//! through the tar writer, the diff_id hasher, gzip and the blob hasher; nothing is held whole.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};

use crate::error::{Error, IoContext, Result};
use crate::oci::layout::Layout;
use crate::oci::types::{Descriptor, Digest, HashingWriter, MEDIA_OCI_LAYER_GZIP};

/// One entry to put in a layer.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Content on the host; `None` for a directory (or a link).
    pub source: Option<PathBuf>,
    /// A symbolic link with this target, stored as a link (never followed).
    pub link: Option<PathBuf>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// Entries keyed by their path inside the image (relative, no leading `/`); sorted by construction.
pub type Entries = BTreeMap<String, Entry>;

/// Normalise an image path: absolute, no `..`, no empty or `.` parts. Returns it without the leading `/`.
pub fn image_path(dest: &str) -> Result<String> {
    if !dest.starts_with('/') {
        return Err(Error::usage(format!(
            "destination `{dest}` is not an absolute path in the image"
        )));
    }
    let mut parts = Vec::new();
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(Error::usage(format!("destination `{dest}` contains `..`"))),
            p => parts.push(p),
        }
    }
    // The image root is "" (a directory laid over `/`).
    Ok(parts.join("/"))
}

/// Add the parent directories of every entry (mode 0755, root-owned) unless listed already.
pub fn add_parents(entries: &mut Entries) {
    let mut parents = Vec::new();
    for path in entries.keys() {
        let mut cur = path.as_str();
        while let Some((parent, _)) = cur.rsplit_once('/') {
            parents.push(parent.to_string());
            cur = parent;
        }
    }
    for p in parents {
        entries.entry(p).or_insert(Entry {
            source: None,
            link: None,
            mode: 0o755,
            uid: 0,
            gid: 0,
        });
    }
}

/// Write `entries` as a gzip layer into the layout. Returns (layer descriptor, diff_id).
pub fn write_layer(layout: &Layout, entries: &Entries, mtime: u64) -> Result<(Descriptor, Digest)> {
    let blob = layout.blob_writer()?;
    // Pinned: flate2's default (miniz_oxide) backend at level 6, no file name, mtime 0.
    let gz = GzBuilder::new().mtime(0).write(blob, Compression::new(6));
    let mut tar = tar::Builder::new(HashingWriter::new(gz));
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, entry) in entries {
        append(&mut tar, path, entry, mtime)?;
    }
    let hashing = tar
        .into_inner()
        .map_err(|e| Error::io("cannot finish layer", layout.root(), e))?;
    let (gz, diff_id) = hashing.finish();
    let blob = gz
        .finish()
        .map_err(|e| Error::io("cannot finish layer", layout.root(), e))?;
    let (digest, size) = blob.commit(None)?;
    Ok((Descriptor::new(MEDIA_OCI_LAYER_GZIP, digest, size), diff_id))
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    entry: &Entry,
    mtime: u64,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(mtime);
    header.set_uid(entry.uid);
    header.set_gid(entry.gid);
    header.set_mode(entry.mode);
    if let Some(target) = &entry.link {
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_mode(0o777);
        header.set_size(0);
        return tar
            .append_link(&mut header, path, target)
            .map_err(|e| Error::io("cannot add link to layer", Path::new(path), e));
    }
    match &entry.source {
        None => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, format!("{path}/"), io::empty())
                .map_err(|e| Error::io("cannot add directory to layer", Path::new(path), e))?;
        }
        Some(src) => {
            // Never through a link: the source was checked to be a tracked regular file.
            let file = crate::fsutil::open_read_nofollow(src)?;
            let len = file
                .metadata()
                .io_context("cannot read file for the image", src)?
                .len();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(len);
            tar.append_data(&mut header, path, file)
                .map_err(|e| Error::io("cannot add file to layer", src, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_are_checked() {
        assert_eq!(image_path("/usr/local//x").unwrap(), "usr/local/x");
        assert!(image_path("rel/x").is_err());
        assert!(image_path("/a/../b").is_err());
        assert_eq!(image_path("/").unwrap(), "");
        assert_eq!(image_path("/./").unwrap(), "");
    }

    #[test]
    fn same_input_same_digest_and_parents_added() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        std::fs::write(&src, b"hello").unwrap();
        let layout = Layout::create(dir.path().join("layout")).unwrap();
        let mut entries = Entries::new();
        entries.insert(
            "etc/ssl/f".into(),
            Entry {
                source: Some(src.clone()),
                link: None,
                mode: 0o644,
                uid: 0,
                gid: 0,
            },
        );
        add_parents(&mut entries);
        assert!(entries.contains_key("etc") && entries.contains_key("etc/ssl"));
        let a = write_layer(&layout, &entries, 1_700_000_000).unwrap();
        let b = write_layer(&layout, &entries, 1_700_000_000).unwrap();
        assert_eq!(a, b);
        let c = write_layer(&layout, &entries, 1_700_000_001).unwrap();
        assert_ne!(a.0.digest, c.0.digest);
        // The layer reads back as a tar with our metadata.
        let gz = flate2::read::GzDecoder::new(layout.open_blob(&a.0.digest).unwrap());
        let mut archive = tar::Archive::new(gz);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, vec!["etc/", "etc/ssl/", "etc/ssl/f"]);
    }
}
