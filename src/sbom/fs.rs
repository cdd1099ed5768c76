//! A read-only view of an image's filesystem for catalogers: the layers are streamed in order,
//! OCI whiteouts applied, and only the files catalogers ask for are kept in memory, each with
//! the layer it came from. Nothing is ever written to disk, so hostile paths cannot escape.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::types::{Digest, Manifest};
use crate::sbom::binary::{self, Section};
use crate::sbom::java;

/// A kept file's content and the layer that last wrote it.
#[derive(Clone, Debug)]
pub struct FileRecord {
    /// The whole file, or for an executable only its embedded package-list section.
    pub content: Vec<u8>,
    pub layer: Digest,
    /// Set when `content` is an executable's embedded package list rather than the file.
    pub embedded: Option<Section>,
}

/// The kept part of an image's final filesystem.
#[derive(Debug, Default)]
pub struct ImageFs {
    /// Kept files by normalised path (no leading `/`).
    pub files: BTreeMap<String, FileRecord>,
    /// Every symlink in the image: path → target.
    pub symlinks: BTreeMap<String, String>,
    /// Java archives (`.jar`, `.war`, `.ear`), catalogued while their layer streams past
    /// (see [`java`]): path → the layer that last wrote it and what it holds.
    pub java_archives: BTreeMap<String, JavaRecord>,
    /// Entries skipped as unsafe (e.g. `..` in the path), for the report.
    pub skipped: Vec<String>,
    /// Bounds on reading Java archives.
    pub java_limits: java::Limits,
    /// Reused scratch file for executables (unlinked; gone when dropped).
    scratch: Option<std::fs::File>,
}

/// A Java archive in the image and what [`java::catalog`] found in it.
#[derive(Clone, Debug)]
pub struct JavaRecord {
    pub layer: Digest,
    pub found: java::Found,
}

/// Files larger than this are not kept even if wanted (a dpkg status is a few MiB).
const MAX_KEPT_FILE: u64 = 64 * 1024 * 1024;

/// Executables outside these sizes are not examined for embedded package lists.
const MIN_BINARY: u64 = 1024;
const MAX_BINARY: u64 = 2 * 1024 * 1024 * 1024;

impl ImageFs {
    /// Read the image `manifest` from `layout`, keeping files for which `wanted(path)` is true.
    /// Each layer read is reported to `progress` (compressed bytes).
    pub fn read(
        layout: &Layout,
        manifest: &Manifest,
        wanted: &dyn Fn(&str) -> bool,
        progress: &crate::progress::Progress,
    ) -> Result<Self> {
        let mut fs = ImageFs::default();
        for (index, layer) in manifest.layers.iter().enumerate() {
            if !readable_layer_type(&layer.media_type) {
                return Err(Error::usage(format!(
                    "layer {} has media type `{}`, which cleanpipe cannot read",
                    layer.digest, layer.media_type
                )));
            }
            let mut verified = layout.open_verified_blob(layer)?;
            let task = progress.task(
                crate::progress::Kind::LayerRead,
                layer.digest.to_string(),
                Some(layer.size),
            );
            let outcome = fs.read_layer(&mut task.reader(&mut verified), layer, wanted);
            // Whatever the decompressor or tar said, a digest mismatch is the real story.
            let integrity = verified.finish();
            let failure = match (integrity, outcome) {
                (Err(e), _) => Some(format!("{e}")),
                (Ok(()), Err(e)) => Some(format!("it does not decompress or is not a tar: {e}")),
                (Ok(()), Ok(())) => None,
            };
            if let Some(why) = failure {
                return Err(corrupt_layer(layout, index, layer, &why));
            }
            task.finish();
        }
        Ok(fs)
    }

    /// Apply one layer read from `raw` (its compressed bytes), then read the layer to its end
    /// so gzip's own checksum and the digest check see every byte.
    fn read_layer(
        &mut self,
        raw: &mut dyn Read,
        layer: &crate::oci::types::Descriptor,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<(), std::io::Error> {
        let reader: Box<dyn Read + '_> = if layer.media_type.ends_with("gzip") {
            Box::new(flate2::read::GzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        // A gzip bomb stops here: expansion is bounded relative to the compressed size.
        let limit = layer.size.saturating_mul(200).saturating_add(1 << 30);
        let mut bounded = Bounded {
            inner: reader,
            left: limit,
            digest: layer.digest.clone(),
        };
        self.apply_layer(&mut bounded, &layer.digest, wanted)?;
        std::io::copy(&mut bounded, &mut std::io::sink())?;
        Ok(())
    }

    fn apply_layer(
        &mut self,
        reader: impl Read,
        layer: &Digest,
        wanted: &dyn Fn(&str) -> bool,
    ) -> std::io::Result<()> {
        let mut archive = tar::Archive::new(reader);
        let mut added: BTreeMap<String, FileRecord> = BTreeMap::new();
        let mut links: BTreeMap<String, String> = BTreeMap::new();
        let mut archives: BTreeMap<String, JavaRecord> = BTreeMap::new();
        let mut whiteouts: Vec<String> = Vec::new();
        let mut opaque: Vec<String> = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if raw.split('/').any(|part| part == "..") {
                // Path traversal: never followed, reported.
                self.skipped.push(raw);
                continue;
            }
            let Some(path) = normalise(&raw) else {
                continue;
            };
            let (dir, name) = path
                .rsplit_once('/')
                .map(|(d, n)| (d.to_string(), n))
                .unwrap_or((String::new(), path.as_str()));
            if name == ".wh..wh..opq" {
                opaque.push(dir);
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                if !hidden.is_empty() {
                    whiteouts.push(if dir.is_empty() {
                        hidden.to_string()
                    } else {
                        format!("{dir}/{hidden}")
                    });
                }
                continue;
            }
            let kind = entry.header().entry_type();
            if kind.is_file() && java::is_archive(&path) {
                let size = entry.size();
                let found = self.java_archive(&mut entry, size, &format!("/{path}"))?;
                let record = JavaRecord {
                    layer: layer.clone(),
                    found,
                };
                archives.insert(path, record);
                continue;
            }
            if kind.is_symlink() {
                if let Ok(Some(target)) = entry.link_name() {
                    links.insert(path, target.to_string_lossy().into_owned());
                }
            } else if kind.is_file() && wanted(&path) && entry.size() <= MAX_KEPT_FILE {
                let mut content = Vec::with_capacity(entry.size() as usize);
                entry.read_to_end(&mut content)?;
                added.insert(
                    path,
                    FileRecord {
                        content,
                        layer: layer.clone(),
                        embedded: None,
                    },
                );
            } else if kind.is_file()
                && entry.header().mode().is_ok_and(|m| m & 0o111 != 0)
                && (MIN_BINARY..=MAX_BINARY).contains(&entry.size())
            {
                if let Some((section, content)) = self.spooled_binary(&mut entry)? {
                    added.insert(
                        path,
                        FileRecord {
                            content,
                            layer: layer.clone(),
                            embedded: Some(section),
                        },
                    );
                }
            } else if kind.is_hard_link() {
                if let Ok(Some(target)) = entry.link_name() {
                    if let Some(target) = normalise(&target.to_string_lossy()) {
                        if let Some(rec) = archives
                            .get(&target)
                            .or_else(|| self.java_archives.get(&target))
                            .cloned()
                        {
                            archives.insert(path.clone(), rec);
                        }
                        if let Some(rec) = added
                            .get(&target)
                            .or_else(|| self.files.get(&target))
                            .cloned()
                        {
                            added.insert(path, rec);
                        }
                    }
                }
            }
        }
        // Opaque directories and whiteouts hide what lower layers had, then this layer's entries land.
        for dir in opaque {
            let prefix = format!("{dir}/");
            self.files.retain(|p, _| !p.starts_with(&prefix));
            self.symlinks.retain(|p, _| !p.starts_with(&prefix));
            self.java_archives.retain(|p, _| !p.starts_with(&prefix));
        }
        for gone in whiteouts {
            let prefix = format!("{gone}/");
            self.files
                .retain(|p, _| p != &gone && !p.starts_with(&prefix));
            self.symlinks
                .retain(|p, _| p != &gone && !p.starts_with(&prefix));
            self.java_archives
                .retain(|p, _| p != &gone && !p.starts_with(&prefix));
        }
        for p in added.keys() {
            self.symlinks.remove(p);
        }
        for p in links.keys().chain(added.keys()) {
            if !archives.contains_key(p) {
                self.java_archives.remove(p);
            }
        }
        for p in links.keys() {
            self.files.remove(p);
        }
        self.java_archives.extend(archives);
        self.files.extend(added);
        self.symlinks.extend(links);
        Ok(())
    }

    /// Spool a Java archive to the scratch file and catalog it; over the size limit it is not
    /// read, only named.
    fn java_archive(
        &mut self,
        entry: &mut impl Read,
        size: u64,
        location: &str,
    ) -> std::io::Result<java::Found> {
        let limits = self.java_limits;
        if size > limits.max_archive {
            return Ok(java::too_large(location, size, &limits));
        }
        let scratch = match &mut self.scratch {
            Some(f) => f,
            None => self.scratch.insert(tempfile::tempfile()?),
        };
        scratch.set_len(0)?;
        scratch.seek(SeekFrom::Start(0))?;
        std::io::copy(&mut entry.take(size), scratch)?;
        // Truncated above, so the file holds exactly this archive.
        scratch.seek(SeekFrom::Start(0))?;
        Ok(java::catalog(scratch, location, &limits))
    }

    /// If the entry is an ELF executable, copy it to a scratch file (section tables are at the
    /// end, so it cannot be read as a stream) and return its embedded package-list section.
    fn spooled_binary(
        &mut self,
        entry: &mut impl Read,
    ) -> std::io::Result<Option<(Section, Vec<u8>)>> {
        let mut head = [0u8; 4];
        if entry.read_exact(&mut head).is_err() || !binary::is_elf(&head) {
            return Ok(None);
        }
        let scratch = match &mut self.scratch {
            Some(f) => f,
            None => self.scratch.insert(tempfile::tempfile()?),
        };
        scratch.set_len(0)?;
        scratch.seek(SeekFrom::Start(0))?;
        scratch.write_all(&head)?;
        std::io::copy(entry, scratch)?;
        Ok(binary::embedded_section(scratch))
    }

    /// A kept file, following symlinks inside the image (never outside it).
    pub fn get(&self, path: &str) -> Option<&FileRecord> {
        let mut current = normalise(path)?;
        for _ in 0..40 {
            if let Some(rec) = self.files.get(&current) {
                return Some(rec);
            }
            // Resolve the first symlinked component.
            let parts: Vec<&str> = current.split('/').collect();
            let mut resolved = None;
            for i in 1..=parts.len() {
                let prefix = parts[..i].join("/");
                if let Some(target) = self.symlinks.get(&prefix) {
                    let base = if target.starts_with('/') {
                        String::new()
                    } else {
                        parts[..i - 1].join("/")
                    };
                    let joined = if base.is_empty() {
                        target.clone()
                    } else {
                        format!("{base}/{target}")
                    };
                    let rest = parts[i..].join("/");
                    let next = if rest.is_empty() {
                        joined
                    } else {
                        format!("{joined}/{rest}")
                    };
                    resolved = resolve_dots(&next);
                    break;
                }
            }
            current = resolved?;
        }
        None
    }
}

/// The error for a layer whose blob does not match its digest or does not unpack: an I/O
/// integrity failure (exit 3), never an empty file system.
pub(crate) fn corrupt_layer(
    layout: &Layout,
    index: usize,
    layer: &crate::oci::types::Descriptor,
    why: &str,
) -> Error {
    Error::environment(format!(
        "layer {index} ({}) of the image is corrupt or unreadable: {why}",
        layer.digest
    ))
    .with_hint(format!(
        "the blob `{}` is damaged or truncated; delete it and pull or build the image again",
        layout.blob_path(&layer.digest).display()
    ))
}

/// Layer media types [`ImageFs::read`] can unpack: tar, or tar+gzip.
fn readable_layer_type(media_type: &str) -> bool {
    media_type.ends_with("gzip") || media_type.ends_with(".tar") || media_type.ends_with("diff.tar")
}

/// Strip `./` and `/`; refuse `..` escapes.
fn normalise(raw: &str) -> Option<String> {
    resolve_dots(raw.trim_start_matches("./"))
}

/// Clean `.` and `..`; `..` above the root stays at the root (as in a chroot).
fn resolve_dots(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

struct Bounded<R> {
    inner: R,
    left: u64,
    digest: Digest,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "layer {} expands beyond the safety limit (possible gzip bomb)",
                self.digest
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, c) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(c.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, p, *c).unwrap();
        }
        for (p, t) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, p, t).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_and_symlinks() {
        let mut fs = ImageFs::default();
        let all = |_: &str| true;
        let d1 = Digest::of(b"1");
        let d2 = Digest::of(b"2");
        fs.apply_layer(
            layer(
                &[
                    ("etc/a", b"a"),
                    ("etc/b", b"b"),
                    ("opt/x/1", b"1"),
                    ("usr/lib/os-release", b"ID=x"),
                ],
                &[("etc/os-release", "../usr/lib/os-release")],
            )
            .as_slice(),
            &d1,
            &all,
        )
        .unwrap();
        fs.apply_layer(
            layer(
                &[
                    ("etc/.wh.a", b""),
                    ("opt/x/.wh..wh..opq", b""),
                    ("opt/x/2", b"2"),
                ],
                &[],
            )
            .as_slice(),
            &d2,
            &all,
        )
        .unwrap();
        assert!(fs.get("etc/a").is_none());
        assert_eq!(fs.get("/etc/b").unwrap().content, b"b");
        assert!(fs.get("opt/x/1").is_none());
        assert_eq!(fs.get("opt/x/2").unwrap().layer, d2);
        assert_eq!(fs.get("etc/os-release").unwrap().content, b"ID=x");
    }

    /// A jar holding one `pom.properties`.
    fn jar(artifact: &str) -> Vec<u8> {
        use std::io::Write as _;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(
            format!("META-INF/maven/g/{artifact}/pom.properties"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        write!(w, "groupId=g\nartifactId={artifact}\nversion=1.0\n").unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn java_archives_are_catalogued_as_they_stream_and_whiteouts_remove_them() {
        let mut fs = ImageFs::default();
        let none = |_: &str| false;
        let (d1, d2) = (Digest::of(b"1"), Digest::of(b"2"));
        let (a, b, c) = (jar("a"), jar("b"), jar("c"));
        fs.apply_layer(
            layer(
                &[
                    ("app/a.jar", a.as_slice()),
                    ("app/b.WAR", b.as_slice()),
                    ("app/c.ear", b"PK not really"),
                ],
                &[],
            )
            .as_slice(),
            &d1,
            &none,
        )
        .unwrap();
        fs.apply_layer(
            layer(&[("app/.wh.a.jar", b""), ("app/c.ear", c.as_slice())], &[]).as_slice(),
            &d2,
            &none,
        )
        .unwrap();
        let listed: Vec<(&str, &Digest, &str)> = fs
            .java_archives
            .iter()
            .map(|(p, r)| (p.as_str(), &r.layer, r.found.artifacts[0].artifact.as_str()))
            .collect();
        assert_eq!(listed, [("app/b.WAR", &d1, "b"), ("app/c.ear", &d2, "c")]);
        assert!(fs
            .java_archives
            .values()
            .all(|r| r.found.problems.is_empty()));
        assert!(fs.files.is_empty(), "archives are never kept in memory");
    }

    #[test]
    fn an_archive_over_the_size_limit_is_named_and_the_layer_reads_on() {
        let mut fs = ImageFs {
            java_limits: java::Limits {
                max_archive: 1000,
                ..java::Limits::default()
            },
            ..ImageFs::default()
        };
        let big = vec![7u8; 5000];
        fs.apply_layer(
            layer(
                &[("app/big.jar", big.as_slice()), ("etc/after", b"read")],
                &[],
            )
            .as_slice(),
            &Digest::of(b"1"),
            &|p: &str| p == "etc/after",
        )
        .unwrap();
        let problems = &fs.java_archives["app/big.jar"].found.problems;
        assert_eq!(problems[0].location, "/app/big.jar");
        assert!(problems[0].reason.contains("over the"), "{problems:?}");
        assert_eq!(fs.get("etc/after").unwrap().content, b"read");
    }

    #[test]
    fn traversal_stays_inside() {
        assert_eq!(normalise("../../etc/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(normalise("./a/./b/../c").as_deref(), Some("a/c"));
        let mut fs = ImageFs::default();
        fs.symlinks
            .insert("evil".into(), "/../../../etc/shadow".into());
        assert!(fs.get("evil").is_none());
    }

    #[test]
    fn bounded_reader_stops_bombs() {
        let data = vec![0u8; 1000];
        let mut r = Bounded {
            inner: data.as_slice(),
            left: 100,
            digest: Digest::of(b"x"),
        };
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
    }
}
