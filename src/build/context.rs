//! The Docker build context: `.dockerignore` with Docker's semantics, a scan for secrets that
//! must not be sent, and a deterministic tar written to a temporary file (streamed, never held).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::RepoTree;
use crate::oci::types::Digest;

/// One `.dockerignore` pattern, compiled the way Docker's pattern matcher
/// (`moby/patternmatcher`) compiles it.
#[derive(Clone, Debug)]
struct Pattern {
    /// The cleaned pattern text, without its `!`.
    text: String,
    exclusion: bool,
    matcher: Matcher,
}

/// How a pattern matches a path: Docker's four match types. Only the regex case runs a regex
/// (the `regex` crate, which matches in time linear in the path: no backtracking).
#[derive(Clone, Debug)]
enum Matcher {
    /// No wildcard: the path equals the pattern.
    Exact,
    /// `dir/**` and the like: the path starts with the text before the trailing `**`.
    Prefix,
    /// `**/name`, `**name`: the path ends with the text after the leading `**`.
    Suffix,
    Regex(regex::Regex),
}

/// Why a pattern is rejected (Docker rejects it too).
#[derive(Clone, Debug, PartialEq)]
struct BadPattern {
    /// 1-based line (or entry) number.
    line: usize,
    pattern: String,
    reason: String,
}

/// `.dockerignore` rules: the last pattern that matches a path (or one of its parents) decides.
#[derive(Clone, Debug, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

impl IgnoreRules {
    /// Parse `.dockerignore` text as Docker reads it (`ignorefile.ReadAll`): a leading UTF-8 BOM
    /// is dropped, a line starting with `#` is a comment, blanks around a pattern and after `!`
    /// are trimmed, the pattern is cleaned like a path and a leading `/` removed.
    fn parse(text: &str) -> std::result::Result<Self, BadPattern> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.starts_with('#'));
        Self::from_patterns(lines.map(|(i, l)| (i + 1, l)))
    }

    /// Compile patterns (with their line or entry numbers) as Docker's `patternmatcher.New` does.
    fn from_patterns<'a>(
        lines: impl Iterator<Item = (usize, &'a str)>,
    ) -> std::result::Result<Self, BadPattern> {
        let mut patterns = Vec::new();
        for (line, raw) in lines {
            let bad = |reason: &str| BadPattern {
                line,
                pattern: raw.trim().to_string(),
                reason: reason.to_string(),
            };
            let p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let (exclusion, p) = match p.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, p),
            };
            if p.is_empty() {
                return Err(bad("a `!` must be followed by a pattern"));
            }
            let cleaned = go_clean(p);
            let text = match cleaned.strip_prefix('/') {
                Some(rest) if !rest.is_empty() => rest.to_string(),
                _ => cleaned,
            };
            check_syntax(&text).map_err(bad)?;
            let matcher = compile(&text).map_err(|r| bad(&r))?;
            patterns.push(Pattern {
                text,
                exclusion,
                matcher,
            });
        }
        Ok(IgnoreRules { patterns })
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
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IgnoreRules::default()),
            Err(e) => return Err(Error::io("cannot read", &path, e)),
        };
        IgnoreRules::parse(&text).map_err(|b| {
            Error::usage(format!(
                "{}:{}: invalid pattern `{}`: {}",
                path.display(),
                b.line,
                b.pattern,
                b.reason
            ))
            .with_hint("Docker rejects this pattern too; write a literal `[`, `]`, `*`, `?` or `\\` as `\\[`, `\\]`, `\\*`, `\\?`, `\\\\`")
        })
    }

    /// The `include_untracked` patterns (`.dockerignore` syntax, one per entry).
    fn include_untracked(patterns: &[String]) -> Result<Self> {
        let entries = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| (i + 1, p.as_str()));
        IgnoreRules::from_patterns(entries).map_err(|b| {
            Error::usage(format!(
                "`build.dockerfile.include_untracked` entry {}: invalid pattern `{}`: {}",
                b.line, b.pattern, b.reason
            ))
            .with_hint("the entries use `.dockerignore` syntax; write a literal `[`, `]`, `*`, `?` or `\\` as `\\[`, `\\]`, `\\*`, `\\?`, `\\\\`")
        })
    }

    /// Whether `rel` (slash-separated, relative to the context) is excluded: Docker's
    /// `MatchesOrParentMatches`, where a pattern that matches a parent directory matches what
    /// is below it.
    pub fn is_excluded(&self, rel: &str) -> bool {
        // Go's `filepath.Dir`: the path up to its last `/`, cleaned ("." for none).
        let parent = go_clean(rel.rfind('/').map_or("", |i| &rel[..=i]));
        let parents: Vec<&str> = if parent == "." {
            Vec::new()
        } else {
            // "a/b/c" → "a", "a/b", "a/b/c"
            parent
                .match_indices('/')
                .map(|(i, _)| &parent[..i])
                .chain(std::iter::once(parent.as_str()))
                .collect()
        };
        let mut excluded = false;
        for p in &self.patterns {
            // Only a pattern that can change the answer needs matching.
            if p.exclusion != excluded {
                continue;
            }
            if p.matches(rel) || parents.iter().any(|dir| p.matches(dir)) {
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

impl Pattern {
    /// Whether the pattern matches `path` itself (Docker's `Pattern.match`).
    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact => path == self.text,
            Matcher::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            Matcher::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/') == Some(path)
            }
            Matcher::Regex(re) => re.is_match(path),
        }
    }
}

/// Go's `path.Clean`: `.` and empty elements dropped, `..` resolved (kept at the start of a
/// relative path, dropped at the root), `.` for nothing.
fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    match (rooted, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_string(),
        (false, false) => parts.join("/"),
    }
}

/// The syntax check Docker runs on each pattern (Go's `filepath.Match` grammar): a `\` must
/// escape something, and a `[` class must close, hold at least one character or range, and
/// not start a range with `-` or `]` unescaped.
fn check_syntax(p: &str) -> std::result::Result<(), &'static str> {
    const ESCAPE: &str = "a `\\` at the end escapes nothing";
    const CLASS: &str = "a `[` class is empty, unclosed, or has a bare `-` or `]`";
    let c: Vec<char> = p.chars().collect();
    // One class character: not `-` or `]` (unless escaped), and more must follow.
    let class_char = |i: usize| -> std::result::Result<usize, &'static str> {
        let mut i = i;
        match c.get(i) {
            None | Some('-') | Some(']') => return Err(CLASS),
            Some('\\') => i += 1,
            Some(_) => {}
        }
        if i + 1 >= c.len() {
            return Err(CLASS);
        }
        Ok(i + 1)
    };
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => {
                if i + 1 >= c.len() {
                    return Err(ESCAPE);
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if c.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut ranges = 0;
                loop {
                    if c.get(i) == Some(&']') && ranges > 0 {
                        i += 1;
                        break;
                    }
                    i = class_char(i)?;
                    if c[i] == '-' {
                        i = class_char(i + 1)?;
                    }
                    ranges += 1;
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Docker's `Pattern.compile`: the match type, and for the regex type Go regular-expression
/// text (`*` → `[^/]*`, `**` → `(.*/)?` or `.*` at the end, `?` → `[^/]`, `.+()|{}$` escaped,
/// `\x` kept, `[`…`]` passed through as a regex class).
fn docker_regex(p: &str) -> (Kind, String) {
    let c: Vec<char> = p.chars().collect();
    let mut re = String::from("^");
    let mut kind = Kind::Exact;
    let mut i = 0;
    let mut first = true;
    while i < c.len() {
        let ch = c[i];
        i += 1;
        match ch {
            '*' if c.get(i) == Some(&'*') => {
                i += 1;
                // `**/` is `**`
                if c.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == c.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    // Any number of directories, even none.
                    re.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = Kind::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => match c.get(i) {
                Some(&next) => {
                    re.push('\\');
                    re.push(next);
                    i += 1;
                    kind = Kind::Regex;
                }
                None => re.push('\\'),
            },
            '[' | ']' => {
                re.push(ch);
                kind = Kind::Regex;
            }
            _ => re.push(ch),
        }
        first = false;
    }
    if kind == Kind::Regex {
        re.push('$');
    }
    (kind, re)
}

/// Docker's match types (see [`Matcher`]).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
    Regex,
}

/// The [`Matcher`] for a cleaned pattern; an error for a class Go's regexp rejects (such as
/// the reversed range in `[Local-Only]`, which Docker reports when it first matches).
fn compile(p: &str) -> std::result::Result<Matcher, String> {
    let (kind, go) = docker_regex(p);
    Ok(match kind {
        Kind::Exact => Matcher::Exact,
        Kind::Prefix => Matcher::Prefix,
        Kind::Suffix => Matcher::Suffix,
        Kind::Regex => {
            let rust = go_regex_to_rust(&go)?;
            Matcher::Regex(regex::Regex::new(&rust).map_err(|e| match e {
                regex::Error::Syntax(s) => s.lines().last().unwrap_or_default().to_string(),
                other => other.to_string(),
            })?)
        }
    })
}

/// Go (RE2) regex text as Docker builds it → the same expression in the `regex` crate's
/// syntax. Both are RE2 dialects and agree on what Docker emits, except that inside a class
/// Go reads `[`, `&`, `~` and `-` literally where the `regex` crate nests classes or applies
/// set operators, and that Go reads an escaped non-alphanumeric character as itself where the
/// `regex` crate gives some (`\<`, `\>`) a meaning: those are escaped so they stay literal.
fn go_regex_to_rust(go: &str) -> std::result::Result<String, String> {
    let c: Vec<char> = go.chars().collect();
    let mut out = String::with_capacity(go.len() + 8);
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => i = go_escape(&c, i, &mut out)?,
            '[' => {
                out.push('[');
                i += 1;
                if c.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                let mut first = true;
                loop {
                    match c.get(i) {
                        None => return Err("missing closing `]`".into()),
                        Some(']') if !first => {
                            out.push(']');
                            i += 1;
                            break;
                        }
                        // A POSIX class such as `[:alpha:]`, the same in both (without its
                        // `:]`, Go reads the `[` as itself).
                        Some('[') if posix_class_end(&c, i).is_some() => {
                            let end = posix_class_end(&c, i).unwrap_or(i);
                            out.extend(&c[i..end]);
                            i = end;
                        }
                        Some(_) => {
                            i = go_class_char(&c, i, &mut out)?;
                            // `a-z` is a range; a `-` before the closing `]` is literal.
                            if c.get(i) == Some(&'-') && c.get(i + 1).is_some_and(|&n| n != ']') {
                                out.push('-');
                                i = go_class_char(&c, i + 1, &mut out)?;
                            }
                        }
                    }
                    first = false;
                }
            }
            // Go reads an unmatched `]` as itself.
            ']' => {
                out.push_str("\\]");
                i += 1;
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Where the POSIX class starting at `c[i]` (`[:name:]`) ends, if one starts there.
fn posix_class_end(c: &[char], i: usize) -> Option<usize> {
    if c.get(i + 1) != Some(&':') {
        return None;
    }
    (i + 2..c.len().saturating_sub(1))
        .find(|&j| c[j] == ':' && c[j + 1] == ']')
        .map(|j| j + 2)
}

/// One character of a Go class at `c[i]`, written as a literal (or an escape kept as is).
fn go_class_char(c: &[char], i: usize, out: &mut String) -> std::result::Result<usize, String> {
    match c[i] {
        '\\' => go_escape(c, i, out),
        ch => {
            out.push_str(&regex::escape(&ch.to_string()));
            Ok(i + 1)
        }
    }
}

/// The escape at `c[i]` (a `\`): a non-alphanumeric character is itself; a letter escape
/// (`\d`, `\pL`, `\p{Greek}`, `\x{41}`) is kept for the `regex` crate to read.
fn go_escape(c: &[char], i: usize, out: &mut String) -> std::result::Result<usize, String> {
    let Some(&next) = c.get(i + 1) else {
        return Err("trailing `\\`".into());
    };
    if !next.is_ascii_alphanumeric() {
        out.push_str(&regex::escape(&next.to_string()));
        return Ok(i + 2);
    }
    out.push('\\');
    out.push(next);
    let mut j = i + 2;
    if matches!(next, 'p' | 'P' | 'x') && c.get(j) == Some(&'{') {
        let end = (j..c.len())
            .find(|&k| c[k] == '}')
            .ok_or("missing closing `}`")?;
        out.extend(&c[j..=end]);
        j = end + 1;
    }
    Ok(j)
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
        source: source
            .map(|s| Ok((s, IgnoreRules::include_untracked(&s.include_untracked)?)))
            .transpose()?,
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
        )
        .unwrap();
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
        let r = IgnoreRules::parse("*\n!src\n").unwrap();
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
    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/dockerignore")
            .join(name);
        std::fs::read_to_string(&path).unwrap()
    }

    fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split('\t').collect())
    }

    /// moby/patternmatcher's own test vectors (tests/fixtures/dockerignore/README.md).
    #[test]
    fn every_docker_pattern_vector_holds() {
        let text = fixture("vectors.tsv");
        let mut failures = Vec::new();
        let mut count = 0;
        for row in rows(&text) {
            count += 1;
            let [suite, path, expected, patterns @ ..] = row.as_slice() else {
                panic!("short row {row:?}")
            };
            let rules = IgnoreRules::from_patterns(patterns.iter().map(|p| (1, *p)));
            let got = match &rules {
                Err(_) => "error",
                Ok(r) => {
                    let excluded = r.is_excluded(path);
                    match *expected {
                        "exact" | "inexact" | "fail" => {
                            let exact = r.patterns[0].matches(path);
                            match (exact, excluded) {
                                (true, true) => "exact",
                                (false, true) => "inexact",
                                (false, false) => "fail",
                                (true, false) => "exact but not excluded",
                            }
                        }
                        _ if excluded => "match",
                        _ => "nomatch",
                    }
                }
            };
            if got != *expected {
                failures.push(format!(
                    "{suite}: {patterns:?} on `{path}`: want {expected}, got {got} ({:?})",
                    rules.as_ref().err()
                ));
            }
        }
        assert!(count > 130, "only {count} vectors read");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn docker_compiles_patterns_the_same_way() {
        let text = fixture("compile.tsv");
        for row in rows(&text) {
            let (kind, re) = docker_regex(&go_clean(row[0]));
            let kind = match kind {
                Kind::Exact => "exact",
                Kind::Prefix => "prefix",
                Kind::Suffix => "suffix",
                Kind::Regex => "regexp",
            };
            assert_eq!(kind, row[1], "match type of `{}`", row[0]);
            if kind == "regexp" {
                assert_eq!(re, row[2], "regex of `{}`", row[0]);
            }
            compile(&go_clean(row[0])).unwrap();
        }
    }

    /// moby/patternmatcher `ignorefile` `TestReadAll`: how lines become patterns.
    #[test]
    fn dockerignore_lines_are_read_as_docker_reads_them() {
        let text = "\u{feff}test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n  # not a comment\r\n./x/../y/\n";
        let r = IgnoreRules::parse(text).unwrap();
        let got: Vec<(bool, &str)> = r
            .patterns
            .iter()
            .map(|p| (p.exclusion, p.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (false, "test1"),
                (false, "test2"),
                (false, "a/file/here"),
                (false, "lastfile"),
                (true, "inverted/abs/path"),
                (false, "# not a comment"),
                (false, "y"),
            ]
        );
        let bad = IgnoreRules::parse("ok\n# c\n!\n").unwrap_err();
        assert_eq!((bad.line, bad.pattern.as_str()), (3, "!"));
        let bad = IgnoreRules::parse("a\n[x-]\n").unwrap_err();
        assert_eq!((bad.line, bad.pattern.as_str()), (2, "[x-]"));
    }

    #[test]
    fn classes_mean_what_they_mean_to_go() {
        // Inside a class Go's regexp reads `[`, `&`, `~` literally; the `regex` crate would nest
        // or intersect. And an escaped `<` is a `<`, not a word boundary.
        let r = IgnoreRules::parse("a[[x]b\nc[&&]d\ne[~~]f\ng\\<h\ni[[:digit:]]j\n").unwrap();
        for path in ["a[b", "axb", "c&d", "e~f", "g<h", "i7j"] {
            assert!(r.is_excluded(path), "{path}");
        }
        for path in ["a]b", "cxd", "gh", "ixj"] {
            assert!(!r.is_excluded(path), "{path}");
        }
        // Docker's regex has `*` inside a class end the class: `[*]` is `[[^/]` `*` `]`.
        let r = IgnoreRules::parse("x[*]\ny[[:z]\n").unwrap();
        assert!(r.is_excluded("y:") && r.is_excluded("y[") && !r.is_excluded("y]"));
        assert!(r.is_excluded("x]") && r.is_excluded("x[^]") && !r.is_excluded("x*"));
    }

    #[test]
    fn a_pathological_pattern_matches_in_linear_time() {
        let r = IgnoreRules::parse("a*a*a*a*a*a*a*a*a*b\n**/a*a*a*a*a*a*a*a*a*b\n").unwrap();
        for n in [10_000, 100_000] {
            assert!(!r.is_excluded(&"a".repeat(n)));
        }
        // Deep paths: every parent directory is tried against every pattern.
        let deep = "a/".repeat(2_000) + "a";
        assert!(!r.is_excluded(&deep));
        let r = IgnoreRules::parse("**/**/**/**/**/**/**/**/**/b\n").unwrap();
        assert!(!r.is_excluded(&deep));
        assert!(r.is_excluded(&(deep + "/b")));
    }

    #[test]
    fn a_malformed_pattern_is_a_usage_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "target\n# [\nsrc/[a-\n").unwrap();
        let e = IgnoreRules::load(dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::ExitCode::Usage);
        assert!(
            e.to_string()
                .contains(".dockerignore:3: invalid pattern `src/[a-`"),
            "{e}"
        );
        let e = IgnoreRules::include_untracked(&["ok".into(), "[Local-Only]".into()]).unwrap_err();
        assert!(
            e.to_string()
                .contains("entry 2: invalid pattern `[Local-Only]`"),
            "{e}"
        );
    }
}
