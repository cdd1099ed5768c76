//! The file system rules every cleanpipe read and write goes through (issue 8):
//!
//! - [`RepoPath`]: a path the pipeline names inside the repository, resolved once. Absolute
//!   paths, `..` that leaves the repository, and symbolic links on the way are refused, so what a
//!   pipeline reads is what the commit holds and what it writes stays in the tree.
//! - [`write_atomic`] and [`create_new`]: writes that never follow a symbolic link at the target
//!   (a temporary file created with `O_EXCL` then renamed, or `O_CREAT|O_EXCL|O_NOFOLLOW`), and
//!   refuse a target or parent directory that is a link.
//! - [`RepoTree`]: what is tracked at the commit (`git ls-tree`), the only files that may go into
//!   an image unless the pipeline says otherwise.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// Why a path the pipeline names was refused, with what to do about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub message: String,
    pub hint: String,
}

impl Refusal {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// A path inside the repository: `root` is the canonical repository root, `rel` the
/// slash-separated path below it (empty for the root itself).
#[derive(Clone, Debug, PartialEq)]
pub struct RepoPath {
    root: PathBuf,
    rel: String,
}

impl RepoPath {
    /// Resolve `written` (as in the pipeline file, relative to `base`, a directory inside
    /// `root`). Refuses absolute paths, paths leaving `root`, and existing symbolic links on the
    /// way. With `last_may_be_link`, the final component may be a link (the caller decides what
    /// to do with it; it is never followed here).
    pub fn resolve(
        root: &Path,
        base: &Path,
        written: &str,
        last_may_be_link: bool,
    ) -> std::result::Result<RepoPath, Refusal> {
        if written.is_empty() {
            return Err(Refusal::new(
                "the path is empty",
                "write a path relative to the pipeline file",
            ));
        }
        if Path::new(written).is_absolute() {
            return Err(Refusal::new(
                format!("`{written}` is an absolute path"),
                "paths name files of the repository, relative to the directory of the pipeline file",
            ));
        }
        let base = fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
        let base_rel = base.strip_prefix(root).map_err(|_| {
            Refusal::new(
                format!(
                    "the pipeline's directory `{}` is outside the repository `{}`",
                    base.display(),
                    root.display()
                ),
                "keep the pipeline file inside the Git repository it builds",
            )
        })?;
        let mut parts: Vec<String> = base_rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        for part in Path::new(written).components() {
            match part {
                Component::CurDir => {}
                Component::ParentDir => {
                    if parts.pop().is_none() {
                        return Err(Refusal::new(
                            format!("`{written}` leaves the repository (`..` above its root `{}`)", root.display()),
                            "only files of the repository can be used; copy the file into the repository and commit it",
                        ));
                    }
                }
                Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                Component::RootDir | Component::Prefix(_) => unreachable!("checked: not absolute"),
            }
        }
        let path = RepoPath {
            root: root.to_path_buf(),
            rel: parts.join("/"),
        };
        path.check_links(written, last_may_be_link)?;
        Ok(path)
    }

    /// A path already relative to the repository root (e.g. from `git ls-tree`).
    pub fn from_rel(root: &Path, rel: &str) -> RepoPath {
        RepoPath {
            root: root.to_path_buf(),
            rel: rel.trim_matches('/').to_string(),
        }
    }

    /// Refuse a symbolic link on any existing component below the root.
    pub fn check_links(
        &self,
        written: &str,
        last_may_be_link: bool,
    ) -> std::result::Result<(), Refusal> {
        let parts: Vec<&str> = self.rel.split('/').filter(|p| !p.is_empty()).collect();
        let mut cur = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            cur.push(part);
            match fs::symlink_metadata(&cur) {
                Err(_) => return Ok(()),
                Ok(m) if m.file_type().is_symlink() => {
                    if last_may_be_link && i + 1 == parts.len() {
                        return Ok(());
                    }
                    let target = fs::read_link(&cur)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default();
                    return Err(Refusal::new(
                        format!("`{written}` goes through the symbolic link `{}` (-> `{target}`)", parts[..=i].join("/")),
                        "cleanpipe never follows links in the repository; name the real path, or replace the link with a directory",
                    ));
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// The path below the repository root, slash-separated; empty for the root.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// The path on disk.
    pub fn abs(&self) -> PathBuf {
        if self.rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(&self.rel)
        }
    }

    /// Whether `self` is `other` or below it.
    pub fn starts_with(&self, other: &RepoPath) -> bool {
        other.rel.is_empty()
            || self.rel == other.rel
            || self.rel.starts_with(&format!("{}/", other.rel))
    }

    /// `self` relative to `dir` (which it must be inside).
    pub fn relative_to(&self, dir: &RepoPath) -> Option<String> {
        if !self.starts_with(dir) {
            return None;
        }
        Some(if dir.rel.is_empty() {
            self.rel.clone()
        } else {
            self.rel[dir.rel.len()..]
                .trim_start_matches('/')
                .to_string()
        })
    }
}

/// `a/./b/../c` → `a/c`, lexically (no file system access).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The repository a directory belongs to: the nearest ancestor holding `.git`, canonical; the
/// directory itself when there is none (the source stage refuses that case).
pub fn repo_root(dir: &Path) -> PathBuf {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(&dir)
        .to_path_buf()
}

/// Where a link at `link_rel` (inside the repository) points, relative to the root, if its
/// target stays inside the repository. Lexical: nothing is followed.
pub fn link_target_inside(link_rel: &str, target: &Path) -> Option<String> {
    if target.is_absolute() {
        return None;
    }
    let mut parts: Vec<String> = link_rel.split('/').map(String::from).collect();
    parts.pop();
    for c in target.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// What a tracked path is at the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackedKind {
    File {
        executable: bool,
    },
    Symlink,
    /// A submodule: its files are not part of this commit.
    Submodule,
}

/// The paths tracked at a commit, relative to the repository root.
#[derive(Clone, Debug, Default)]
pub struct RepoTree {
    pub commit: String,
    entries: BTreeMap<String, TrackedKind>,
}

impl RepoTree {
    /// Parse `git ls-tree -r -z --full-tree <commit>` output.
    pub fn from_ls_tree(commit: &str, out: &[u8]) -> RepoTree {
        let mut entries = BTreeMap::new();
        for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let text = String::from_utf8_lossy(record);
            let Some((meta, path)) = text.split_once('\t') else {
                continue;
            };
            let kind = match meta.split(' ').next() {
                Some("120000") => TrackedKind::Symlink,
                Some("160000") => TrackedKind::Submodule,
                Some("100755") => TrackedKind::File { executable: true },
                _ => TrackedKind::File { executable: false },
            };
            entries.insert(path.to_string(), kind);
        }
        RepoTree {
            commit: commit.to_string(),
            entries,
        }
    }

    pub fn kind(&self, rel: &str) -> Option<TrackedKind> {
        self.entries.get(rel).copied()
    }

    /// Whether some tracked path lies below `rel` (so `rel` is a tracked directory).
    pub fn is_dir(&self, rel: &str) -> bool {
        rel.is_empty() || self.under(rel).next().is_some()
    }

    /// Tracked paths strictly below the directory `rel`, sorted.
    pub fn under<'a>(&'a self, rel: &str) -> impl Iterator<Item = (&'a str, TrackedKind)> + 'a {
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.as_str(), *v))
    }
}

/// Refuse to write at `path` if it or the directories leading to it are symbolic links. For a
/// relative path every component is checked; for an absolute one the target and its parent
/// (the prefix the user typed is theirs; the repository's own directories are checked when the
/// pipeline is resolved, see [`RepoPath`]).
pub fn check_write_target(path: &Path) -> Result<()> {
    let mut prefixes: Vec<PathBuf> = Vec::new();
    if path.is_relative() {
        let mut cur = PathBuf::new();
        for c in path.components() {
            cur.push(c);
            if matches!(c, Component::Normal(_)) {
                prefixes.push(cur.clone());
            }
        }
    } else {
        if let Some(parent) = path.parent().filter(|p| p.parent().is_some()) {
            prefixes.push(parent.to_path_buf());
        }
        prefixes.push(path.to_path_buf());
    }
    for p in prefixes {
        if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            let target = fs::read_link(&p)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            return Err(Error::usage(format!(
                "refusing to write `{}`: `{}` is a symbolic link (-> `{target}`)",
                path.display(),
                p.display()
            ))
            .with_hint("cleanpipe never writes through symbolic links; remove the link (it may have been committed to the repository) or choose another path"));
        }
    }
    Ok(())
}

/// `create_dir_all`, refusing symbolic links on the way (see [`check_write_target`]).
pub fn create_dirs(dir: &Path) -> Result<()> {
    check_write_target(dir)?;
    fs::create_dir_all(dir).io_context("cannot create directory", dir)?;
    check_write_target(dir)
}

/// [`create_dirs`] for a directory of cleanpipe's own state (the store, the outputs, the
/// example key): when this call creates it, it gets a `.gitignore` of `*`, so Git (and so
/// `git add -A`) leaves it and everything in it out, with no change to the user's files. A
/// directory that already existed is left as it is.
pub fn create_state_dir(dir: &Path) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok() {
        return create_dirs(dir);
    }
    create_dirs(dir)?;
    let marker = dir.join(".gitignore");
    let mut f = create_new(&marker, 0o644)?;
    f.write_all(b"# Written by cleanpipe: this directory is its working state, never source.\n*\n")
        .io_context("cannot write", &marker)
}

/// Write a file so that readers see the old or the new content, never half, and never through
/// a symbolic link: a new temporary file (`O_EXCL`) in the same directory, synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_dirs(dir)?;
    check_write_target(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .io_context("cannot create a temporary file", dir)?;
    tmp.write_all(bytes).io_context("cannot write", path)?;
    tmp.as_file().sync_all().io_context("cannot sync", path)?;
    tmp.persist(path)
        .map_err(|e| Error::io("cannot replace", path, e.error))?;
    Ok(())
}

/// Create a new file with `mode`; fails if anything (a file or a link) is already there.
pub fn create_new(path: &Path, mode: u32) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(dir)?;
    }
    check_write_target(path)?;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .io_context("cannot create", path)
}

/// Open a file for reading, refusing a symbolic link at `path` (`O_NOFOLLOW`).
pub fn open_read_nofollow(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .io_context("cannot read", path)
}

/// Open (creating if missing) a file for reading and writing without following a link at it.
pub fn open_nofollow(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    check_write_target(path)?;
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .io_context("cannot open", path)
}

/// Append `bytes` to `path` (created if missing) without following a link at it: for files a
/// CI runner hands over to be appended to (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`).
pub fn append_nofollow(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    check_write_target(path)?;
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .io_context("cannot append to", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        fs::create_dir_all(root.join("sub/d")).unwrap();
        let ok = RepoPath::resolve(&root, &root.join("sub"), "../sub/d/./x", false).unwrap();
        assert_eq!(ok.rel(), "sub/d/x");
        assert!(RepoPath::resolve(&root, &root, "../x", false).is_err());
        assert!(RepoPath::resolve(&root, &root, "/etc/passwd", false).is_err());
        std::os::unix::fs::symlink("/etc", root.join("out")).unwrap();
        let e = RepoPath::resolve(&root, &root, "out/x", false).unwrap_err();
        assert!(e.message.contains("symbolic link `out`"), "{e:?}");
        assert!(RepoPath::resolve(&root, &root, "out", true).is_ok());
    }

    #[test]
    fn links_resolve_lexically() {
        assert_eq!(
            link_target_inside("a/b/l", Path::new("../c")),
            Some("a/c".into())
        );
        assert_eq!(link_target_inside("l", Path::new("../x")), None);
        assert_eq!(link_target_inside("a/l", Path::new("/etc/shadow")), None);
    }

    #[test]
    fn ls_tree_parses() {
        let t = RepoTree::from_ls_tree(
            "c",
            b"100644 blob a\tdir/a\x00100755 blob b\tdir/b\x00120000 blob c\tlink\x00160000 commit d\tsub\x00",
        );
        assert_eq!(
            t.kind("dir/b"),
            Some(TrackedKind::File { executable: true })
        );
        assert_eq!(t.kind("link"), Some(TrackedKind::Symlink));
        assert!(t.is_dir("dir") && !t.is_dir("di"));
        assert_eq!(t.under("dir").count(), 2);
    }

    #[test]
    fn writes_never_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(write_atomic(&link, b"x").is_err());
        assert!(create_new(&link, 0o600).is_err());
        assert!(open_nofollow(&link).is_err());
        let ldir = dir.path().join("ldir");
        std::os::unix::fs::symlink(dir.path().join("real"), &ldir).unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        assert!(write_atomic(&ldir.join("f"), b"x").is_err());
        assert!(!dir.path().join("real/f").exists());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        write_atomic(&dir.path().join("new/f"), b"ok").unwrap();
    }
}
