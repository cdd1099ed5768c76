//! The managed vulnerability database: osv.dev's per-ecosystem archives (`<base>/<ecosystem>/all.zip`)
//! fetched by `cleanpipe db update` into a directory, each checked before it is used and swapped
//! in atomically, with a small metadata file per ecosystem (docs/database.md).
//!
//! Layout of the directory:
//! - `<Ecosystem>.meta.json`: what `db update` verified ([`ArchiveMeta`]); renaming it into place
//!   is the commit point of an update;
//! - `<Ecosystem>-<sha256 prefix>.zip`: the archive it names (content-addressed, so the previous
//!   archive stays whole until the new metadata names the new one);
//! - `.lock` (one update at a time) and `.download-*` (an update in progress).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::error::{Error, IoContext, Result};
use crate::progress::{Kind, Progress};
use crate::scan::coverage::ArchiveIdentity;

/// osv.dev's public bucket.
pub const DEFAULT_BASE: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// The largest archive accepted (osv.dev's largest are a few hundred MiB).
pub const MAX_ARCHIVE: u64 = 4 * 1024 * 1024 * 1024;
/// One record inside an archive (the loader's bound too).
const MAX_RECORD: u64 = 16 * 1024 * 1024;
const META_SUFFIX: &str = ".meta.json";
const META_FORMAT: &str = "cleanpipe-osv-archive/1";
const DOWNLOAD_PREFIX: &str = ".download-";

/// What `db update` verified about one ecosystem's archive.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArchiveMeta {
    pub format: String,
    /// As osv.dev names it: `Debian`, `PyPI`.
    pub ecosystem: String,
    /// The archive's file name in the directory.
    pub archive: String,
    /// Where it was fetched from (scheme, host and path; never credentials or a query).
    pub source: String,
    /// `sha256:…` of the archive file.
    pub digest: String,
    pub size: u64,
    /// Records in it (withdrawn ones included).
    pub records: usize,
    pub withdrawn: usize,
    /// The newest `modified` of its records.
    pub newest_modified: String,
    /// When it was fetched (RFC 3339).
    pub fetched: String,
    /// The server's validators, sent back by the next update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The signed database artifact it was pulled from (`registry/repo@sha256:…`), when
    /// `db pull` installed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
}

impl ArchiveMeta {
    pub fn identity(&self) -> ArchiveIdentity {
        ArchiveIdentity {
            ecosystem: self.ecosystem.clone(),
            digest: self.digest.clone(),
            newest_modified: self.newest_modified.clone(),
            records: self.records,
            source: self.source.clone(),
            fetched: self.fetched.clone(),
            artifact: self.artifact.clone(),
        }
    }
}

/// The variable that moves the managed database (an absolute path): a CI cache directory, or
/// one inside the checkout that `.gitignore` lists (GitLab caches nothing else).
pub const DIR_VAR: &str = "CLEANPIPE_DB_DIR";

/// The variable naming a mirror of osv.dev's bucket (`<mirror>/<ecosystem>/all.zip`).
pub const MIRROR_VAR: &str = "CLEANPIPE_DB_MIRROR";

/// The user's cache directory: `$XDG_CACHE_HOME` (absolute), else `$HOME/.cache`.
pub fn user_cache_dir() -> Option<PathBuf> {
    user_cache_dir_in(&|name| std::env::var(name).ok())
}

fn user_cache_dir_in(get: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    get("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            get("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".cache"))
        })
}

/// Where `db update` writes without `--dir`, and what a gate's `db: managed` reads:
/// `$CLEANPIPE_DB_DIR` (absolute), else `<user cache>/cleanpipe/osv`.
pub fn default_dir() -> Option<PathBuf> {
    default_dir_in(&|name| std::env::var(name).ok())
}

/// [`default_dir`] with the environment given (a run's snapshot of it).
pub fn default_dir_in(get: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    get(DIR_VAR)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| user_cache_dir_in(get).map(|c| c.join("cleanpipe").join("osv")))
}

/// Whether `dir` is a managed database: a directory with at least one `*.meta.json`.
pub fn is_managed(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(META_SUFFIX) && !n.starts_with('.'))
        })
    })
}

/// The file name an ecosystem's files start with: letters, digits, `.` and `-` kept, anything
/// else (`Rocky Linux`, `Red Hat`) as `_`.
fn stem(ecosystem: &str) -> String {
    ecosystem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn meta_path(dir: &Path, ecosystem: &str) -> PathBuf {
    dir.join(format!("{}{META_SUFFIX}", stem(ecosystem)))
}

/// Every archive of the managed database at `dir`, by ecosystem. A metadata file that does not
/// parse, or names a missing archive, is an error: the database is not what `db update` left.
pub fn read_archives(dir: &Path) -> Result<Vec<ArchiveMeta>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).io_context("cannot list", dir)? {
        let entry = entry.io_context("cannot list", dir)?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.ends_with(META_SUFFIX) || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = read_meta(&path)?;
        if meta.archive.contains('/') || meta.archive.starts_with('.') {
            return Err(Error::usage(format!(
                "{}: names `{}`, which is not an archive of this directory",
                path.display(),
                meta.archive
            )));
        }
        if !dir.join(&meta.archive).is_file() {
            return Err(Error::environment(format!(
                "{}: its archive `{}` is missing",
                path.display(),
                meta.archive
            ))
            .with_hint("run `cleanpipe db update` again"));
        }
        out.push(meta);
    }
    out.sort_by(|a, b| a.ecosystem.cmp(&b.ecosystem));
    Ok(out)
}

fn read_meta(path: &Path) -> Result<ArchiveMeta> {
    let mut bytes = Vec::new();
    crate::fsutil::open_read_nofollow(path)?
        .take(1024 * 1024)
        .read_to_end(&mut bytes)
        .io_context("cannot read", path)?;
    let meta: ArchiveMeta = serde_json::from_slice(&bytes).map_err(|e| {
        Error::usage(format!(
            "{}: not the metadata `cleanpipe db update` writes",
            path.display()
        ))
        .caused_by(e)
        .with_hint("remove the file, or run `cleanpipe db update` into an empty directory")
    })?;
    if meta.format != META_FORMAT {
        return Err(Error::usage(format!(
            "{}: format `{}`, expected `{META_FORMAT}`",
            path.display(),
            meta.format
        ))
        .with_hint("run `cleanpipe db update` again with this version of cleanpipe"));
    }
    Ok(meta)
}

/// The files a managed database consists of (metadata and archives), for change detection.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for meta in read_archives(dir)? {
        out.push(meta_path(dir, &meta.ecosystem));
        out.push(dir.join(&meta.archive));
    }
    Ok(out)
}

/// `sha256:…` of a file, streamed.
fn file_digest(path: &Path) -> Result<String> {
    let mut f = crate::fsutil::open_read_nofollow(path)?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).io_context("cannot read", path)?;
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// Refuse an archive whose bytes are no longer those `db update` verified.
pub fn check_digest(file: &Path, meta: &ArchiveMeta) -> Result<()> {
    let got = file_digest(file)?;
    if got != meta.digest {
        return Err(Error::environment(format!(
            "{}: its digest is {got}, but `db update` verified {}",
            file.display(),
            meta.digest
        ))
        .with_hint(
            "the archive was changed after it was fetched; run `cleanpipe db update` again",
        ));
    }
    Ok(())
}

/// What checking an archive found.
#[derive(Debug, Default)]
pub struct Checked {
    pub records: usize,
    pub withdrawn: usize,
    pub newest_modified: String,
}

/// Check an ecosystem archive before it is used: every entry's CRC (read whole), every `*.json`
/// entry an OSV record the loader reads, each naming `ecosystem` (`Debian:12` counts as
/// `Debian`) in one of its `affected[]` packages, and at least one record. The error says what
/// was wrong and where.
pub fn check_archive(path: &Path, ecosystem: &str) -> std::result::Result<Checked, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip: {e}"))?;
    let mut out = Checked::default();
    let mut bytes = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("entry {i} cannot be read: {e}"))?;
        let name = entry.name().to_string();
        bytes.clear();
        // Read to the end: the zip crate checks the entry's CRC there.
        (&mut entry)
            .take(MAX_RECORD + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("entry `{name}` is corrupt: {e}"))?;
        if bytes.len() as u64 > MAX_RECORD {
            return Err(format!(
                "entry `{name}` is larger than {}",
                crate::net::mib(MAX_RECORD)
            ));
        }
        if !name.ends_with(".json") {
            continue;
        }
        let record = crate::scan::osv::check_record(&bytes)
            .map_err(|e| format!("entry `{name}` is not an OSV record: {e}"))?;
        let ours = record
            .ecosystems
            .iter()
            .any(|e| e.split(':').next() == Some(ecosystem));
        // osv.dev's `GIT` archive is the CVE records converted from NVD: commit ranges, no
        // package ecosystem (their CVSS ratings rate distro findings that have none).
        let exempt = (record.withdrawn || ecosystem == CVE_RECORDS) && record.ecosystems.is_empty();
        if !(ours || exempt) {
            let named = if record.ecosystems.is_empty() {
                "no ecosystem".to_string()
            } else {
                let mut e = record.ecosystems.clone();
                e.dedup();
                e.join(", ")
            };
            return Err(format!(
                "record {} (`{name}`) is for {named}, not `{ecosystem}`",
                record.id
            ));
        }
        out.records += 1;
        if record.withdrawn {
            out.withdrawn += 1;
        }
        if record.modified > out.newest_modified {
            out.newest_modified = record.modified;
        }
    }
    if out.records == 0 {
        return Err("it holds no OSV records".into());
    }
    Ok(out)
}

/// What an update did for one ecosystem.
#[derive(Debug)]
pub enum Outcome {
    /// A new archive, verified and in place.
    Updated(ArchiveMeta),
    /// The server answered 304 Not Modified: nothing written.
    Unchanged(ArchiveMeta),
}

/// The archive of CVE records (osv.dev's conversion of NVD's, keyed by Git commit ranges).
pub const CVE_RECORDS: &str = "GIT";

/// Distributions whose advisories carry no severity of their own: their findings are rated
/// from the upstream CVE record, which [`CVE_RECORDS`] holds.
pub const RATED_BY_CVE_RECORDS: &[&str] = &["Debian", "Alpine"];

/// The archive URL of `ecosystem` under `base`.
pub fn archive_url(base: &reqwest::Url, ecosystem: &str) -> Result<reqwest::Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| Error::usage(format!("mirror `{base}` cannot hold a path")))?
        .pop_if_empty()
        .push(ecosystem)
        .push("all.zip");
    Ok(url)
}

/// Check a mirror base URL: https (plain http only to loopback), no credentials, no query.
pub fn parse_base(base: &str) -> Result<reqwest::Url> {
    let url = crate::net::parse_checked(base.trim()).map_err(|why| {
        Error::usage(format!("mirror `{}`: {why}", crate::net::shown_url(base)))
            .with_hint("e.g. --mirror https://osv-mirror.example/osv (archives at <mirror>/<ecosystem>/all.zip)")
    })?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(Error::usage(format!(
            "mirror `{}`: credentials or a query in the URL are not supported",
            crate::net::shown_url(base)
        ))
        .with_hint("give the mirror's base URL only"));
    }
    Ok(url)
}

/// An ecosystem name as osv.dev spells them: letters, digits, spaces, `.`, `-`, `_`, not
/// starting with `.`.
pub fn check_ecosystem_name(ecosystem: &str) -> Result<()> {
    let ok = !ecosystem.is_empty()
        && !ecosystem.starts_with('.')
        && ecosystem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(
            Error::usage(format!("`{ecosystem}` is not an ecosystem name"))
                .with_hint("e.g. --ecosystems Debian,Alpine,PyPI (as osv.dev spells them)"),
        )
    }
}

/// The osv.dev ecosystem of a package URL (`pkg:deb/debian/…` → `Debian`), for the
/// ecosystems osv.dev publishes archives of; `None` for others.
pub fn ecosystem_of_purl(purl: &str) -> Option<&'static str> {
    let rest = purl.strip_prefix("pkg:")?;
    let mut parts = rest.split(['/', '@', '?']);
    let kind = parts.next()?.to_ascii_lowercase();
    let namespace = parts.next().unwrap_or("").to_ascii_lowercase();
    Some(match (kind.as_str(), namespace.as_str()) {
        ("deb", "debian") => "Debian",
        ("deb", "ubuntu") => "Ubuntu",
        ("apk", "alpine") => "Alpine",
        ("apk", "wolfi") => "Wolfi",
        ("apk", "chainguard") => "Chainguard",
        ("rpm", "redhat") => "Red Hat",
        ("rpm", "rocky") => "Rocky Linux",
        ("rpm", "almalinux") => "AlmaLinux",
        ("rpm", "opensuse") => "openSUSE",
        ("rpm", "suse") | ("rpm", "sles") => "SUSE",
        ("pypi", _) => "PyPI",
        ("npm", _) => "npm",
        ("maven", _) => "Maven",
        ("gem", _) => "RubyGems",
        ("golang", _) => "Go",
        ("cargo", _) => "crates.io",
        ("nuget", _) => "NuGet",
        ("composer", _) => "Packagist",
        _ => return None,
    })
}

/// The ecosystems of every package URL in an SBOM (SPDX `externalRefs[].referenceLocator` or
/// CycloneDX `purl`, found anywhere in the document).
pub fn ecosystems_of_sbom(doc: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match doc {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("purl" | "referenceLocator", serde_json::Value::String(s)) => {
                        if let Some(e) = ecosystem_of_purl(s) {
                            out.insert(e.to_string());
                        }
                    }
                    _ => ecosystems_of_sbom(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                ecosystems_of_sbom(v, out);
            }
        }
        _ => {}
    }
}

/// How a source URL is recorded: scheme, host, port and path.
fn shown_source(url: &reqwest::Url) -> String {
    format!("{}{}", crate::net::origin(url), url.path())
}

/// Whether a file name is one an update leaves behind: its lock, a temporary file, or an
/// archive (`<stem>-<16 hex digits>.zip`).
fn left_by_update(name: &str) -> bool {
    let archive = name
        .strip_suffix(".zip")
        .and_then(|n| n.rsplit_once('-'))
        .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    name == ".lock" || name.starts_with(DOWNLOAD_PREFIX) || name.starts_with(".partial-") || archive
}

/// Holds the directory's update lock until dropped.
pub struct Lock(#[allow(dead_code)] std::fs::File);

/// Take the update lock of `dir` (created if missing), then remove what a killed update left:
/// `.download-*` files and archives no metadata names.
pub fn lock(dir: &Path) -> Result<Lock> {
    use std::os::unix::io::AsRawFd;
    // Never into a directory of someone else's files (its archives would be taken for
    // orphans): a directory that is not a managed database must hold only what an update
    // leaves (the lock, temporary files, an archive renamed before a kill).
    if !is_managed(dir) {
        let foreign = std::fs::read_dir(dir).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .find(|n| !left_by_update(n))
        });
        if let Some(name) = foreign {
            return Err(Error::usage(format!(
                "`{}` is not a database `cleanpipe db update` wrote (it holds `{name}`)",
                dir.display()
            ))
            .with_hint("give --dir an empty or new directory"));
        }
    }
    crate::fsutil::create_dirs(dir)?;
    let path = dir.join(".lock");
    let file = crate::fsutil::open_nofollow(&path)?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Error::environment(format!(
            "another `cleanpipe db update` is writing `{}`",
            dir.display()
        ))
        .with_hint("wait for it to finish, or give another --dir"));
    }
    // Archives are only removed as orphans when every metadata file reads: a damaged one must
    // not cost the archives it may name.
    let named: Option<Vec<String>> = read_archives(dir)
        .ok()
        .map(|all| all.into_iter().map(|m| m.archive).collect());
    for entry in std::fs::read_dir(dir)
        .io_context("cannot list", dir)?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        let orphan =
            name.ends_with(".zip") && named.as_ref().is_some_and(|named| !named.contains(&name));
        if name.starts_with(DOWNLOAD_PREFIX) || orphan {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(Lock(file))
}

/// Fetch `ecosystem`'s archive from `base` into `dir` (locked by the caller): conditional on
/// the validators of the archive in place, streamed to a temporary file in `dir` (at most
/// [`MAX_ARCHIVE`]), checked, then renamed into place and committed by its metadata. On any
/// failure the previous archive and metadata stay as they were and the temporary file is gone.
pub async fn update_one(
    client: &reqwest::Client,
    base: &reqwest::Url,
    dir: &Path,
    ecosystem: &str,
    progress: &Progress,
) -> Result<Outcome> {
    check_ecosystem_name(ecosystem)?;
    let url = archive_url(base, ecosystem)?;
    let shown = shown_source(&url);
    let meta_file = meta_path(dir, ecosystem);
    let previous = if meta_file.exists() {
        let m = read_meta(&meta_file)?;
        Some(m).filter(|m| m.ecosystem == ecosystem && dir.join(&m.archive).is_file())
    } else {
        None
    };
    let mut request = client.get(url.clone());
    if let Some(p) = &previous {
        if let Some(etag) = &p.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &p.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
    }
    progress.detail(|| format!("GET {shown}"));
    let fail = |what: String| {
        Error::environment(format!("{ecosystem}: {what}")).with_hint(
            "the previous database (if any) is unchanged; try again, or use another --mirror",
        )
    };
    let response = request.send().await.map_err(|e| {
        fail(format!(
            "cannot fetch `{shown}`: {}",
            crate::net::describe(&e)
        ))
    })?;
    let status = response.status();
    progress.detail(|| format!("{shown}: {status}"));
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return match previous {
            Some(p) => Ok(Outcome::Unchanged(p)),
            None => Err(fail(format!(
                "`{shown}` answered 304 Not Modified to an unconditional request"
            ))),
        };
    }
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(Error::usage(format!(
            "{ecosystem}: there is no archive at `{shown}` (404)"
        ))
        .with_hint("ecosystems are spelt as osv.dev spells them: Debian, Alpine, Ubuntu, PyPI, npm, Maven, Go, crates.io, RubyGems, NuGet, Packagist…"));
    }
    if !status.is_success() {
        return Err(fail(format!("`{shown}` answered {status}")));
    }
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (etag, last_modified) = (
        header(reqwest::header::ETAG),
        header(reqwest::header::LAST_MODIFIED),
    );
    let announced = response.content_length();
    if let Some(len) = announced.filter(|l| *l > MAX_ARCHIVE) {
        return Err(fail(format!(
            "`{shown}` is {}, more than the {} allowed",
            crate::net::mib(len),
            crate::net::mib(MAX_ARCHIVE)
        )));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{DOWNLOAD_PREFIX}{}-", stem(ecosystem)))
        .tempfile_in(dir)
        .io_context("cannot create a temporary file", dir)?;
    let task = progress.task(Kind::Download, format!("{ecosystem} all.zip"), announced);
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let mut response = response;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                return Err(fail(format!(
                    "the download of `{shown}` failed after {size} bytes: {}",
                    crate::net::describe(&e)
                )))
            }
        };
        size += chunk.len() as u64;
        if size > MAX_ARCHIVE {
            return Err(fail(format!(
                "`{shown}` is more than the {} allowed",
                crate::net::mib(MAX_ARCHIVE)
            )));
        }
        hasher.update(&chunk);
        tmp.write_all(&chunk)
            .io_context("cannot write", tmp.path())?;
        task.advance(chunk.len() as u64);
    }
    if let Some(len) = announced.filter(|l| *l != size) {
        return Err(fail(format!(
            "the download of `{shown}` stopped after {size} of {len} bytes"
        )));
    }
    tmp.as_file()
        .sync_all()
        .io_context("cannot sync", tmp.path())?;
    task.finish();
    let hex = hex::encode(hasher.finalize());
    let eco = ecosystem.to_string();
    let (tmp, checked) = tokio::task::spawn_blocking(move || {
        let checked = check_archive(tmp.path(), &eco);
        (tmp, checked)
    })
    .await
    .map_err(|e| Error::environment(format!("{ecosystem}: the check failed")).caused_by(e))?;
    let checked = checked.map_err(|why| {
        Error::environment(format!(
            "{ecosystem}: the archive from `{shown}` is refused: {why}"
        ))
        .with_hint(
            "the previous database (if any) is unchanged; try again, or check the mirror serves osv.dev's archives",
        )
    })?;
    let archive = format!("{}-{}.zip", stem(ecosystem), &hex[..16]);
    let target = dir.join(&archive);
    tmp.persist(&target)
        .map_err(|e| Error::io("cannot rename into", &target, e.error))?;
    let meta = ArchiveMeta {
        format: META_FORMAT.into(),
        ecosystem: ecosystem.to_string(),
        archive: archive.clone(),
        source: shown,
        digest: format!("sha256:{hex}"),
        size,
        records: checked.records,
        withdrawn: checked.withdrawn,
        newest_modified: checked.newest_modified,
        fetched: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        etag,
        last_modified,
        artifact: None,
    };
    let bytes = serde_json::to_vec_pretty(&meta).expect("metadata serializes");
    crate::fsutil::write_atomic(&meta_file, &bytes)?;
    if let Some(p) = previous.filter(|p| p.archive != archive) {
        let _ = std::fs::remove_file(dir.join(p.archive));
    }
    Ok(Outcome::Updated(meta))
}

/// Install checked archives (each a file in `dir`, e.g. from `db pull`) into `dir` (locked by
/// the caller): each renamed to its archive name, then committed by its metadata, as an update
/// does; then the ecosystems the set does not hold are removed (metadata first), so the
/// directory holds exactly this database.
pub fn install(dir: &Path, archives: Vec<(PathBuf, ArchiveMeta)>) -> Result<Vec<ArchiveMeta>> {
    let previous = read_archives(dir).unwrap_or_default();
    let mut out = Vec::new();
    for (file, mut meta) in archives {
        check_ecosystem_name(&meta.ecosystem)?;
        meta.format = META_FORMAT.into();
        let target = dir.join(&meta.archive);
        std::fs::rename(&file, &target).map_err(|e| Error::io("cannot rename into", &target, e))?;
        let bytes = serde_json::to_vec_pretty(&meta).expect("metadata serializes");
        crate::fsutil::write_atomic(&meta_path(dir, &meta.ecosystem), &bytes)?;
        out.push(meta);
    }
    for old in previous {
        let kept = out.iter().find(|m| m.ecosystem == old.ecosystem);
        if kept.is_none() {
            let _ = std::fs::remove_file(meta_path(dir, &old.ecosystem));
        }
        if kept.is_none_or(|m| m.archive != old.archive) {
            let _ = std::fs::remove_file(dir.join(&old.archive));
        }
    }
    out.sort_by(|a, b| a.ecosystem.cmp(&b.ecosystem));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &str)]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut w = zip::ZipWriter::new(f.reopen().unwrap());
        for (name, text) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        f
    }

    const DEB: &str = r#"{"id":"DSA-1","modified":"2026-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"a"}}]}"#;
    const PYPI: &str = r#"{"id":"PYSEC-1","modified":"2026-03-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"}}]}"#;

    #[test]
    fn archives_are_checked_record_by_record() {
        let good = zip_of(&[("DSA-1.json", DEB), ("README", "x")]);
        let c = check_archive(good.path(), "Debian").unwrap();
        assert_eq!(
            (c.records, c.newest_modified.as_str()),
            (1, "2026-02-01T00:00:00Z")
        );
        let wrong = check_archive(good.path(), "Alpine").unwrap_err();
        assert!(wrong.contains("is for Debian:12, not `Alpine`"), "{wrong}");
        let mixed = zip_of(&[("DSA-1.json", DEB), ("PYSEC-1.json", PYPI)]);
        assert!(check_archive(mixed.path(), "Debian")
            .unwrap_err()
            .contains("PYSEC-1"));
        let bad = zip_of(&[("X.json", r#"{"id": 3}"#)]);
        assert!(check_archive(bad.path(), "Debian")
            .unwrap_err()
            .contains("not an OSV record"));
        let empty = zip_of(&[("README", "x")]);
        assert!(check_archive(empty.path(), "Debian")
            .unwrap_err()
            .contains("no OSV records"));
    }

    #[test]
    fn sbom_purls_name_ecosystems() {
        let spdx = serde_json::json!({"packages": [
            {"externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12"}]},
            {"externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:pypi/requests@2.0"}]},
            {"externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:rpm/fedora/bash@5"}]},
        ]});
        let cdx = serde_json::json!({"components": [{"purl": "pkg:apk/alpine/musl@1.2.4-r2"}, {"purl": "pkg:maven/org.x/y@1"}]});
        let mut out = std::collections::BTreeSet::new();
        ecosystems_of_sbom(&spdx, &mut out);
        ecosystems_of_sbom(&cdx, &mut out);
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            ["Alpine", "Debian", "Maven", "PyPI"]
        );
    }

    #[test]
    fn updates_never_write_into_a_directory_of_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("all.zip"), b"mine").unwrap();
        let e = lock(dir.path()).err().unwrap();
        assert!(e.to_string().contains("is not a database"), "{e}");
        assert!(dir.path().join("all.zip").exists());
        let records = tempfile::tempdir().unwrap();
        std::fs::write(records.path().join("DSA-1.json"), DEB).unwrap();
        assert!(lock(records.path()).is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(lock(&empty.path().join("new")).is_ok());
        let killed = tempfile::tempdir().unwrap();
        let left = killed.path().join("Alpine-0123456789abcdef.zip");
        std::fs::write(&left, b"renamed, no metadata yet").unwrap();
        assert!(lock(killed.path()).is_ok());
        assert!(!left.exists(), "an archive no metadata names is removed");
    }

    #[test]
    fn mirror_urls_follow_the_http_policy() {
        let base = parse_base("https://m.example/osv/").unwrap();
        assert_eq!(
            archive_url(&base, "Rocky Linux").unwrap().as_str(),
            "https://m.example/osv/Rocky%20Linux/all.zip"
        );
        assert!(parse_base("http://127.0.0.1:9/x").is_ok());
        assert!(parse_base("http://mirror.example/x").is_err());
        assert!(parse_base("https://u:p@mirror.example/x").is_err());
        assert_eq!(stem("Rocky Linux"), "Rocky_Linux");
        assert_eq!(stem("crates.io"), "crates.io");
    }
}
