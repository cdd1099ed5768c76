//! Stage 1, source: the commit, ref, remote and clean-tree check everything else is traced to.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::run::RunContext;

/// What the run is traced to.
#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    pub repo_dir: PathBuf,
    pub commit: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    /// `origin`'s URL with any credentials removed; `None` without a remote.
    pub remote: Option<String>,
    pub dirty: bool,
    pub dirty_files: Vec<String>,
    pub commit_time: u64,
    /// SOURCE_DATE_EPOCH for the build: the pipeline's `date_epoch`, else the commit time.
    pub date_epoch: u64,
}

pub async fn run(ctx: &RunContext) -> Result<SourceInfo> {
    let dir = &ctx.base_dir;
    let top = git(dir, &["rev-parse", "--show-toplevel"]).await.map_err(|_| {
        Error::usage(format!("`{}` is not inside a Git repository", absolute(dir).display()))
            .with_hint("run cleanpipe in a Git checkout (`git init && git add -A && git commit -m initial` to start one)")
    })?;
    let commit = git(dir, &["rev-parse", "--verify", "HEAD^{commit}"])
        .await
        .map_err(|_| {
            Error::usage("the Git repository has no commit yet")
                .with_hint("commit your work first: `git commit`")
        })?;
    let branch = git(dir, &["symbolic-ref", "-q", "--short", "HEAD"])
        .await
        .ok();
    let tag = git(dir, &["describe", "--tags", "--exact-match", "HEAD"])
        .await
        .ok();
    let remote = git(dir, &["remote", "get-url", "origin"])
        .await
        .ok()
        .map(|u| strip_credentials(&u));
    // An fsmonitor hook could answer "nothing changed": status looks at the files itself.
    // Tracked files count wherever they are; untracked ones except inside cleanpipe's own store
    // and outputs, which it writes during the run (only tracked files of the commit, and
    // untracked files `include_untracked` names and hashes, ever reach an image).
    let status_args = ["-c", "core.fsmonitor=false", "status", "--porcelain", "-z"];
    let tracked = git_raw(
        dir,
        &[&status_args[..], &["--untracked-files=no", "--", ":(top)"]].concat(),
    )
    .await?;
    let own = own_dirs(Path::new(&top), &[&ctx.store_dir, &ctx.outputs_dir]);
    let mut untracked_args: Vec<String> = status_args.iter().map(|a| a.to_string()).collect();
    untracked_args.extend(["--untracked-files=normal", "--", ":(top)"].map(String::from));
    untracked_args.extend(own.iter().map(|d| format!(":(exclude,top,literal){d}")));
    let untracked_args: Vec<&str> = untracked_args.iter().map(String::as_str).collect();
    let untracked = git_raw(dir, &untracked_args).await?;
    let mut dirty_files = changed_paths(&tracked);
    for path in changed_paths(&untracked) {
        if !dirty_files.contains(&path) {
            dirty_files.push(path);
        }
    }
    let listed = git_raw(Path::new(&top), &["ls-files", "-v", "-z"]).await?;
    let hidden: Vec<String> = hidden_from_status(&listed)
        .into_iter()
        .filter(|p| Path::new(&top).join(p).symlink_metadata().is_ok())
        .filter(|p| !dirty_files.contains(p))
        .collect();
    dirty_files.extend(hidden.iter().cloned());
    let commit_time: u64 = git(dir, &["show", "-s", "--format=%ct", "HEAD"])
        .await?
        .parse()
        .map_err(|_| Error::environment("git printed an unreadable commit time"))?;
    let info = SourceInfo {
        repo_dir: PathBuf::from(top),
        date_epoch: ctx.pipeline.file.source.date_epoch.unwrap_or(commit_time),
        commit,
        branch,
        tag,
        remote,
        dirty: !dirty_files.is_empty(),
        dirty_files,
        commit_time,
    };
    ctx.say(
        "source",
        &format!(
            "commit {} on {}{}",
            info.commit,
            info.branch.as_deref().unwrap_or("detached HEAD"),
            info.remote
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
    );
    if info.dirty && !ctx.pipeline.file.source.allow_dirty {
        let mut reasons: Vec<String> = info
            .dirty_files
            .iter()
            .take(20)
            .map(|f| {
                if hidden.contains(f) {
                    format!("marked assume-unchanged or skip-worktree, so Git does not compare it with the commit: {f}")
                } else {
                    format!("modified or untracked: {f}")
                }
            })
            .collect();
        if info.dirty_files.len() > 20 {
            reasons.push(format!("… and {} more", info.dirty_files.len() - 20));
        }
        return Err(Error::gate("the work tree has uncommitted changes, so the image could not be traced to a commit", reasons)
            .with_hint("commit or stash the changes (clear marks with `git update-index --no-assume-unchanged --no-skip-worktree PATH`), or set `source.allow_dirty: true` (the report will say the tree was dirty)"));
    }
    if info.dirty {
        ctx.say(
            "source",
            "work tree is dirty; allowed by `source.allow_dirty`",
        );
    }
    Ok(info)
}

/// Tracked paths `git status` does not compare with the commit (`git ls-files -v -z`: a
/// lowercase tag is assume-unchanged, `S` skip-worktree): their content on disk, which is what
/// gets built, may be anything.
fn hidden_from_status(listed: &str) -> Vec<String> {
    listed
        .split('\0')
        .filter_map(|e| e.split_once(' '))
        .filter(|(tag, _)| {
            tag.len() == 1 && (tag == &"S" || tag.chars().all(|c| c.is_ascii_lowercase()))
        })
        .map(|(_, path)| path.to_string())
        .collect()
}

/// The store and outputs directories that lie inside the repository `top`, as paths relative
/// to it (`.cleanpipe/oci`), for `git status` to leave out.
fn own_dirs(top: &Path, dirs: &[&PathBuf]) -> Vec<String> {
    let top = std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    dirs.iter()
        .filter_map(|d| {
            let abs = std::fs::canonicalize(d)
                .or_else(|_| std::path::absolute(d).map(|a| crate::fsutil::normalize(&a)))
                .ok()?;
            let rel = abs.strip_prefix(&top).ok()?;
            let rel = rel.to_str()?;
            (!rel.is_empty()).then(|| rel.to_string())
        })
        .collect()
}

/// The paths `git status --porcelain -z` names. The output is read untrimmed: the first
/// entry's status may start with a space (` D path`).
fn changed_paths(status: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut entries = status.split('\0').filter(|e| !e.is_empty());
    while let Some(entry) = entries.next() {
        let (code, path) = (
            entry.get(..2).unwrap_or(entry),
            entry.get(3..).unwrap_or(""),
        );
        if code.contains('R') || code.contains('C') {
            // A rename or copy is followed by its source path, which is no status entry.
            entries.next();
        }
        paths.push(path.to_string());
    }
    paths
}

async fn git(dir: &Path, args: &[&str]) -> Result<String> {
    Ok(git_raw(dir, args).await?.trim().to_string())
}

async fn git_raw(dir: &Path, args: &[&str]) -> Result<String> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .map_err(|e| {
            Error::environment("cannot run `git`")
                .caused_by(e)
                .with_hint("install Git")
        })?;
    if !out.status.success() {
        return Err(Error::environment(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `https://user:token@host/x` → `https://host/x`; scp-style `git@host:x` is kept (no secret).
pub fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest
            .split_once('/')
            .map(|(a, p)| (a, format!("/{p}")))
            .unwrap_or((rest, String::new()));
        // `user:pa/ss@host`: a password with an unencoded `/` makes the first `/` end a bogus
        // authority whose "port" is not a number; the userinfo then runs to the next `@`.
        let bogus_port = !authority.contains('@')
            && !authority.ends_with(']')
            && authority
                .rsplit_once(':')
                .is_some_and(|(_, port)| !port.bytes().all(|b| b.is_ascii_digit()));
        if bogus_port {
            if let Some(at) = rest.find('@') {
                return strip_credentials(&format!("{scheme}://{}", &rest[at + 1..]));
            }
        }
        let host = authority
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(authority);
        return format!("{scheme}://{host}{path}");
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::{changed_paths, strip_credentials};

    #[test]
    fn porcelain_paths_keep_their_first_letter_and_skip_rename_sources() {
        let status = " D hello.txt\0R  new name.txt\0old.txt\0?? x\0";
        assert_eq!(changed_paths(status), ["hello.txt", "new name.txt", "x"]);
    }

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            strip_credentials("https://bob:t0/ken@github.com/acme/app.git"),
            "https://github.com/acme/app.git"
        );
        assert_eq!(
            strip_credentials("https://git.example:8443/acme/app.git"),
            "https://git.example:8443/acme/app.git"
        );
        assert_eq!(
            strip_credentials("https://[::1]:8443/acme/app@2.git"),
            "https://[::1]:8443/acme/app@2.git"
        );
        assert_eq!(
            strip_credentials("https://bob:t0ken@github.com/acme/app.git"),
            "https://github.com/acme/app.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:acme/app.git"),
            "git@github.com:acme/app.git"
        );
        assert_eq!(
            strip_credentials("https://github.com/a/b"),
            "https://github.com/a/b"
        );
    }
}
