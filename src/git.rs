//! Synchronous Git queries that resolving a pipeline and writing keys need (the source stage
//! runs its own, asynchronous ones): the tree at HEAD, and keeping private files out of Git.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil::RepoTree;

/// The paths tracked at HEAD (`git ls-tree`), or `None` before the first commit. Synchronous:
/// `validate` uses it too.
pub fn tracked_tree(root: &Path) -> Result<Option<RepoTree>> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .map_err(|e| {
                Error::environment("cannot run `git`")
                    .caused_by(e)
                    .with_hint("install Git")
            })
    };
    let head = run(&["rev-parse", "--verify", "-q", "HEAD^{commit}"])?;
    if !head.status.success() {
        return Ok(None);
    }
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let out = run(&["ls-tree", "-r", "-z", "--full-tree", &commit])?;
    if !out.status.success() {
        return Err(Error::environment(format!(
            "`git ls-tree` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(Some(RepoTree::from_ls_tree(&commit, &out.stdout)))
}

/// Files cleanpipe writes that must never be committed (a private key): each one inside a Git
/// work tree and not ignored there is listed in the repository's `info/exclude` (not a tracked
/// file, so the tree stays clean and `git add -A` leaves them out). Returns the exclude file
/// when it was changed.
pub fn keep_out_of_git(files: &[&Path]) -> Result<Option<PathBuf>> {
    let mut changed = None;
    for file in files {
        if let Some(exclude) = exclude_one(file)? {
            changed = Some(exclude);
        }
    }
    Ok(changed)
}

fn exclude_one(key: &Path) -> Result<Option<PathBuf>> {
    let git = |dir: &Path, args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
    };
    let key = std::path::absolute(key).map_err(|e| Error::io("cannot resolve", key, e))?;
    let (Some(dir), Some(name)) = (key.parent(), key.file_name().and_then(|n| n.to_str())) else {
        return Ok(None);
    };
    let inside = git(dir, &["rev-parse", "--is-inside-work-tree"])
        .is_some_and(|o| o.status.success() && o.stdout.starts_with(b"true"));
    if !inside {
        return Ok(None);
    }
    // `check-ignore` exits 0 when the path is ignored already.
    if git(dir, &["check-ignore", "-q", "--", name]).is_some_and(|o| o.status.success()) {
        return Ok(None);
    }
    let (Some(top), Some(exclude)) = (
        git(dir, &["rev-parse", "--show-toplevel"]),
        git(
            dir,
            &[
                "rev-parse",
                "--path-format=absolute",
                "--git-path",
                "info/exclude",
            ],
        ),
    ) else {
        return Ok(None);
    };
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    let exclude = PathBuf::from(String::from_utf8_lossy(&exclude.stdout).trim());
    let top = std::fs::canonicalize(&top).unwrap_or(top);
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let Ok(rel) = dir.join(name).strip_prefix(&top).map(|r| r.to_path_buf()) else {
        return Ok(None);
    };
    // Anchored, with glob characters escaped: exactly this file.
    let pattern: String = rel
        .to_string_lossy()
        .chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | '\\' | '!' | '#' | ' ' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    if let Some(parent) = exclude.parent() {
        crate::fsutil::create_dirs(parent)?;
    }
    let mut text = std::fs::read_to_string(&exclude).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("/{pattern}\n"));
    crate::fsutil::write_atomic(&exclude, text.as_bytes())?;
    Ok(Some(exclude))
}
