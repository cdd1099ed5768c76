//! The Docker build context: `.dockerignore` with Docker's semantics, a scan for secrets that
//! must not be sent, and a deterministic tar written to a temporary file (streamed, never held).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::RepoTree;
use crate::oci::types::Digest;

/// One `.dockerignore` pattern.
#[derive(Clone, Debug)]
struct Pattern {
    glob: String,
    exclusion: bool,
}

/// `.dockerignore` rules: the last pattern that matches a path (or one of its parents) decides.
#[derive(Clone, Debug, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

impl IgnoreRules {
    /// Parse `.dockerignore` text.
    pub fn parse(text: &str) -> Self {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (exclusion, p) = match l.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, l),
                };
                let glob = clean(p);
                (!glob.is_empty()).then_some(Pattern { glob, exclusion })
            })
            .collect();
        IgnoreRules { patterns }
    }

    /// Read `<context>/.dockerignore` if present (never through a link: a committed link there
    /// must not make a host file decide what is sent).
    pub fn load(context: &Path) -> Result<Self> {
        let path = context.join(".dockerignore");
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::usage(format!(
                "`{}` is a symbolic link",
                path.display()
            ))
            .with_hint("commit `.dockerignore` as a file; cleanpipe never follows links in the build context"));
        }
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(IgnoreRules::parse(&t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IgnoreRules::default()),
            Err(e) => Err(Error::io("cannot read", &path, e)),
        }
    }

    /// Whether `rel` (slash-separated, relative to the context) is excluded.
    pub fn is_excluded(&self, rel: &str) -> bool {
        let mut excluded = false;
        for p in &self.patterns {
            if matches_or_parent(&p.glob, rel) {
                excluded = !p.exclusion;
            }
        }
        excluded
    }

    /// Whether any `!` pattern could re-include something below `dir` (then we must walk it).
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }
}

/// filepath.Clean-like normalisation, without a leading `/` or `./`.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn matches_or_parent(glob: &str, rel: &str) -> bool {
    if glob_match(glob.as_bytes(), rel.as_bytes()) {
        return true;
    }
    let mut cur = rel;
    while let Some((parent, _)) = cur.rsplit_once('/') {
        if glob_match(glob.as_bytes(), parent.as_bytes()) {
            return true;
        }
        cur = parent;
    }
    false
}

/// Go `filepath.Match` plus Docker's `**` (any number of path segments).
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = &p[2..];
            // `**/x` also matches `x` at the top.
            if rest.first() == Some(&b'/') && glob_match(&rest[1..], s) {
                return true;
            }
            (0..=s.len()).any(|i| glob_match(rest, &s[i..]))
        }
        Some(b'*') => {
            let rest = &p[1..];
            let mut i = 0;
            loop {
                if glob_match(rest, &s[i..]) {
                    return true;
                }
                if i >= s.len() || s[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        Some(b'?') => !s.is_empty() && s[0] != b'/' && glob_match(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(close) = p.iter().position(|c| *c == b']') else {
                return false;
            };
            let Some(&c) = s.first() else { return false };
            let class = &p[1..close];
            let (negate, class) = match class.first() {
                Some(b'^') | Some(b'!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && c != b'/' && glob_match(&p[close + 1..], &s[1..])
        }
        Some(b'\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob_match(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob_match(&p[1..], &s[1..]),
    }
}

/// A file in the context that looks like a secret.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretFinding {
    pub path: String,
    pub reason: String,
}

const KEY_FILE_NAMES: &[&str] = &["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "cosign.key"];
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "KEY",
    "CREDENTIAL",
    "APIKEY",
];

/// Whether a build arg or variable name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

fn scan_file(path: &Path, rel: &str) -> Result<Option<String>> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if KEY_FILE_NAMES.contains(&name) {
        return Ok(Some(format!("`{name}` is a private key file name")));
    }
    let mut head = Vec::new();
    File::open(path)
        .io_context("cannot read", path)?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .io_context("cannot read", path)?;
    let text = String::from_utf8_lossy(&head);
    if let Some(line) = text
        .lines()
        .find(|l| l.starts_with("-----BEGIN ") && l.contains("PRIVATE KEY-----"))
    {
        return Ok(Some(format!("contains a private key (`{}`)", line.trim())));
    }
    if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        for l in BufReader::new(head.as_slice())
            .lines()
            .map_while(|l| l.ok())
        {
            let l = l.trim().trim_start_matches("export ").to_string();
            if let Some((k, v)) = l.split_once('=') {
                let v = v.trim().trim_matches(['"', '\'']);
                if looks_secret(k.trim()) && !v.is_empty() && !v.starts_with("${") {
                    return Ok(Some(format!("`.env` file sets `{}` to a value", k.trim())));
                }
            }
        }
    }
    Ok(None)
}

/// One thing sent in the context.
#[derive(Clone, Debug, PartialEq)]
pub enum ContextEntry {
    Dir,
    File(PathBuf),
    /// A symbolic link, sent as a link with this target (never followed).
    Link(PathBuf),
}

/// The files to send, and the secrets among them.
#[derive(Debug, Default)]
pub struct ContextFiles {
    /// Relative slash paths, sorted; directories end without `/`.
    pub entries: Vec<(String, ContextEntry)>,
    pub secrets: Vec<SecretFinding>,
    /// Files sent although the commit does not track them (`include_untracked`), with digests.
    pub untracked: Vec<(String, Digest)>,
    /// Paths not sent because the commit does not track them, and one of them.
    pub untracked_skipped: usize,
    pub untracked_example: Option<String>,
}

/// Which files of the context may be sent: those tracked at the commit, plus untracked ones
/// matching `include_untracked` (`.dockerignore`-style patterns relative to the context).
#[derive(Clone, Debug)]
pub struct ContextSource {
    pub tree: RepoTree,
    /// The context directory below the repository root.
    pub context_rel: String,
    pub include_untracked: Vec<String>,
}

struct Walk<'a> {
    rules: IgnoreRules,
    always: &'a [String],
    skip: &'a [String],
    source: Option<(&'a ContextSource, IgnoreRules)>,
    out: ContextFiles,
}

/// Walk `context`, applying `.dockerignore`; `always` (the Dockerfile) is sent even if ignored.
/// `skip` are directories (relative to the context) never sent, such as cleanpipe's own store.
/// With `source`, only what the commit tracks is sent (see [`ContextSource`]).
pub fn collect(
    context: &Path,
    always: &[String],
    skip: &[String],
    source: Option<&ContextSource>,
) -> Result<ContextFiles> {
    let mut walk = Walk {
        rules: IgnoreRules::load(context)?,
        always,
        skip,
        source: source.map(|s| {
            let include = IgnoreRules::parse(&s.include_untracked.join("\n"));
            (s, include)
        }),
        out: ContextFiles::default(),
    };
    walk.dir(context, "")?;
    let mut files = walk.out;
    files.entries.sort_by(|a, b| a.0.cmp(&b.0));
    files.untracked.sort();
    Ok(files)
}

impl Walk<'_> {
    /// Whether `rel` may be sent: tracked at the commit, or allowed untracked (then hashed).
    fn allowed(&mut self, rel: &str, path: &Path, is_file: bool) -> Result<bool> {
        let Some((source, include)) = &self.source else {
            return Ok(true);
        };
        let repo_rel = join(&source.context_rel, rel);
        if source.tree.kind(&repo_rel).is_some() {
            return Ok(true);
        }
        if include.is_excluded(rel) {
            if is_file {
                let digest = hash_file(path)?;
                self.out.untracked.push((rel.to_string(), digest));
            }
            return Ok(true);
        }
        self.out.untracked_skipped += 1;
        self.out
            .untracked_example
            .get_or_insert_with(|| rel.to_string());
        Ok(false)
    }

    /// Whether a directory can hold anything to send (tracked files, or untracked allowed).
    fn may_hold(&self, rel: &str) -> bool {
        match &self.source {
            None => true,
            Some((s, include)) => {
                s.tree.is_dir(&join(&s.context_rel, rel)) || !include.patterns.is_empty()
            }
        }
    }

    fn dir(&mut self, dir: &Path, prefix: &str) -> Result<()> {
        let mut children: Vec<_> = std::fs::read_dir(dir)
            .io_context("cannot list the build context", dir)?
            .collect::<std::io::Result<_>>()
            .io_context("cannot list the build context", dir)?;
        children.sort_by_key(|e| e.file_name());
        for child in children {
            let name = child.file_name().to_string_lossy().into_owned();
            let rel = join(prefix, &name);
            let path = child.path();
            let meta = std::fs::symlink_metadata(&path).io_context("cannot read", &path)?;
            let excluded = self.rules.is_excluded(&rel) && !self.always.contains(&rel);
            if meta.is_dir() {
                if self.skip.contains(&rel) || (excluded && !self.rules.has_exclusions()) {
                    continue;
                }
                if self
                    .source
                    .as_ref()
                    .is_some_and(|(s, _)| join(&s.context_rel, &rel) == ".git")
                {
                    continue; // Git's own data is never part of the commit's files
                }
                if !self.may_hold(&rel) {
                    self.out.untracked_skipped += 1;
                    self.out
                        .untracked_example
                        .get_or_insert_with(|| format!("{rel}/"));
                    continue;
                }
                let before = self.out.entries.len();
                self.dir(&path, &rel)?;
                let tracked = match &self.source {
                    None => true,
                    Some((s, _)) => s.tree.is_dir(&join(&s.context_rel, &rel)),
                };
                if !excluded && (tracked || self.out.entries.len() > before) {
                    self.out.entries.push((rel, ContextEntry::Dir));
                }
            } else if excluded {
                continue;
            } else if meta.file_type().is_symlink() {
                // Sent as a link, as Docker does; its target is never read.
                if self.allowed(&rel, &path, false)? {
                    let target = std::fs::read_link(&path).io_context("cannot read link", &path)?;
                    self.out.entries.push((rel, ContextEntry::Link(target)));
                }
            } else if meta.is_file() {
                if !self.allowed(&rel, &path, true)? {
                    continue;
                }
                if let Some(reason) = scan_file(&path, &rel)? {
                    self.out.secrets.push(SecretFinding {
                        path: rel.clone(),
                        reason,
                    });
                }
                self.out.entries.push((rel, ContextEntry::File(path)));
            }
            // Sockets, devices and fifos are not sent.
        }
        Ok(())
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn hash_file(path: &Path) -> Result<Digest> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut file = crate::fsutil::open_read_nofollow(path)?;
    std::io::copy(&mut file, &mut hasher).io_context("cannot read", path)?;
    Ok(Digest::from_hasher(hasher))
}

/// Write the context as a tar into `out`: sorted, root-owned, mtimes set to `mtime`.
pub fn write_tar<W: Write>(files: &ContextFiles, mtime: u64, out: W) -> Result<W> {
    use std::os::unix::fs::PermissionsExt;
    let mut tar = tar::Builder::new(out);
    for (rel, source) in &files.entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        match source {
            ContextEntry::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{rel}/"), std::io::empty())
                    .map_err(|e| Error::io("cannot write the build context", Path::new(rel), e))?;
            }
            ContextEntry::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, rel, target)
                    .map_err(|e| Error::io("cannot write the build context", Path::new(rel), e))?;
            }
            ContextEntry::File(path) => {
                let file = crate::fsutil::open_read_nofollow(path)?;
                let meta = file.metadata().io_context("cannot read", path)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(meta.permissions().mode() & 0o7777);
                header.set_size(meta.len());
                tar.append_data(&mut header, rel, file)
                    .map_err(|e| Error::io("cannot write the build context", path, e))?;
            }
        }
    }
    tar.into_inner()
        .map_err(|e| Error::io("cannot finish the build context", Path::new("."), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_semantics() {
        let r = IgnoreRules::parse(
            "# comment\n*.log\n/build\n**/secret*\n!build/keep.txt\ndocs/**/*.md\n",
        );
        assert!(r.is_excluded("a.log"));
        assert!(!r.is_excluded("dir/a.log"), "* does not cross /");
        assert!(
            r.is_excluded("build/out.bin"),
            "a directory excludes its contents"
        );
        assert!(!r.is_excluded("build/keep.txt"), "! re-includes");
        assert!(r.is_excluded("secret.txt") && r.is_excluded("x/y/secret.pem"));
        assert!(r.is_excluded("docs/a/b/c.md") && r.is_excluded("docs/c.md"));
        assert!(!r.is_excluded("docs/c.txt"));
        let r = IgnoreRules::parse("*\n!src\n");
        assert!(r.is_excluded("Makefile") && !r.is_excluded("src/main.rs"));
    }

    #[test]
    fn finds_secrets_not_excluded() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(d.join("key.pem"), "-----BEGIN EC PRIVATE KEY-----\nabc\n").unwrap();
        std::fs::write(d.join(".env"), "API_TOKEN=abc123\nNAME=x\n").unwrap();
        std::fs::write(d.join("ok.env"), "NAME=x\nPASSWORD=\n").unwrap();
        std::fs::create_dir(d.join(".ssh")).unwrap();
        std::fs::write(d.join(".ssh/id_rsa"), "x").unwrap();
        std::fs::write(d.join(".dockerignore"), ".ssh\n").unwrap();
        let files = collect(d, &["Dockerfile".into()], &[], None).unwrap();
        let paths: Vec<&str> = files.secrets.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, vec![".env", "key.pem"]);
        assert!(files.entries.iter().all(|(p, _)| !p.starts_with(".ssh")));
        assert!(looks_secret("NPM_TOKEN") && !looks_secret("APP_VERSION"));
    }
}
