//! Loading OSV records (a directory of `*.json`, or a `.zip` as osv.dev publishes per
//! ecosystem) into an index by (ecosystem, package). Malformed records are skipped and counted,
//! never silently.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scan::cvss;
use crate::scan::Severity;

/// The parts of an OSV record the matcher uses.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    /// The ids this record was derived from (`USN-…` → `UBUNTU-CVE-…` → `CVE-…`).
    #[serde(default)]
    pub upstream: Vec<String>,
    pub summary: String,
    pub modified: String,
    /// The record-level rating; an `affected[]` entry's own rating comes first (see [`Affected`]).
    pub severity: Severity,
    pub score: Option<f64>,
    /// Where `severity` came from (`CVSS_V3 of the record`, `database_specific.severity`), or
    /// why it is unknown.
    #[serde(default)]
    pub severity_source: String,
}

/// A severity with where it came from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rating {
    pub severity: Severity,
    pub score: Option<f64>,
    pub source: String,
}

/// One `affected[]` entry, normalised.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Affected {
    pub advisory: usize,
    /// The full ecosystem string (`Debian:12`, `PyPI`).
    pub ecosystem: String,
    pub ranges: Vec<Range>,
    pub versions: Vec<String>,
    /// This entry's own severity (`affected[].severity`), which applies before the record's:
    /// one release is not rated by another's entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Range {
    /// `ECOSYSTEM` or `SEMVER`.
    pub kind: String,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

/// The loaded database.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Database {
    pub advisories: Vec<Advisory>,
    /// (base ecosystem, normalised package name) → affected entries.
    pub index: HashMap<String, Vec<Affected>>,
    pub warnings: Vec<String>,
    pub withdrawn: usize,
    /// How many `affected[]` entries each full ecosystem string has (`Debian:12`, `Wolfi`): what
    /// the database covers. Always loaded whole, also by a filtered load.
    #[serde(default)]
    pub ecosystems: BTreeMap<String, usize>,
    /// What the database is: sha256 over every record file's name and bytes (`sha256:…`).
    #[serde(default)]
    pub content_digest: String,
    /// The newest `modified` of any record (also of records a filtered load skips).
    #[serde(default)]
    pub newest_modified: String,
    /// The ratings of `CVE-…` records (osv.dev's CVE records, converted from NVD), by id, for
    /// findings whose own record carries none. Always loaded whole.
    #[serde(default)]
    pub cve_ratings: BTreeMap<String, Rating>,
    /// For a managed database (`cleanpipe db update`): each ecosystem archive, verified and
    /// loaded whole. Empty for a directory or archive the user supplies.
    #[serde(default)]
    pub archives: Vec<crate::scan::coverage::ArchiveIdentity>,
}

#[derive(Deserialize)]
struct RawRecord {
    id: String,
    #[serde(default)]
    modified: String,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    upstream: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    affected: Vec<RawAffected>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Vec<RawRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<BTreeMap<String, String>>,
}

/// What checking one record for `cleanpipe db update` found: its `modified`, whether it is
/// withdrawn, and the ecosystems its `affected[]` entries name.
pub struct RecordCheck {
    pub id: String,
    pub modified: String,
    pub withdrawn: bool,
    pub ecosystems: Vec<String>,
}

/// Parse `bytes` as the loader does ([`Database::add_record`]); the error is serde's.
pub fn check_record(bytes: &[u8]) -> std::result::Result<RecordCheck, serde_json::Error> {
    let r: RawRecord = serde_json::from_slice(bytes)?;
    Ok(RecordCheck {
        ecosystems: r
            .affected
            .iter()
            .filter_map(|a| a.package.as_ref().map(|p| p.ecosystem.clone()))
            .collect(),
        id: r.id,
        modified: r.modified,
        withdrawn: r.withdrawn.is_some(),
    })
}

/// The key advisories are indexed under.
pub fn key(ecosystem: &str, name: &str) -> String {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    let name = match base {
        "PyPI" => crate::sbom::purl::pep503(name),
        // NuGet ids and Composer names are case-insensitive.
        "NuGet" | "Packagist" => name.to_ascii_lowercase(),
        _ => name.to_string(),
    };
    format!("{base}\u{0}{name}")
}

/// Bumped whenever the cached index format changes.
const INDEX_FORMAT: u32 = 7;

/// The cache file. `index` is written before `advisories` on purpose: a reader that only wants
/// some packages learns from the index which advisories it needs, then skips the others
/// without allocating them (see [`Database::load_cached_for`]).
#[derive(Serialize)]
struct CachedIndexOut<'a> {
    format: u32,
    fingerprint: &'a str,
    withdrawn: usize,
    warnings: &'a [String],
    ecosystems: &'a BTreeMap<String, usize>,
    content_digest: &'a str,
    newest_modified: &'a str,
    cve_ratings: &'a BTreeMap<String, Rating>,
    archives: &'a [crate::scan::coverage::ArchiveIdentity],
    index: &'a HashMap<String, Vec<Affected>>,
    advisories: &'a [Advisory],
}

/// What a (possibly filtered) read of the cache file gives.
#[derive(Default)]
struct CachedIndexIn {
    format: u32,
    fingerprint: String,
    database: Database,
}

/// Reads the cache file, keeping only index entries whose key is in `wanted` (all if `None`)
/// and the advisories they reference; other advisories become empty placeholders, so
/// positions stay valid and the record count stays right.
struct CacheSeed<'a> {
    wanted: Option<&'a HashSet<String>>,
}

impl<'de> DeserializeSeed<'de> for CacheSeed<'_> {
    type Value = CachedIndexIn;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CacheSeed<'_> {
    type Value = CachedIndexIn;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a cleanpipe OSV index")
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = CachedIndexIn::default();
        // Until the index has been read, every advisory is kept.
        let mut referenced: Option<HashSet<usize>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => out.format = map.next_value()?,
                "fingerprint" => out.fingerprint = map.next_value()?,
                "withdrawn" => out.database.withdrawn = map.next_value()?,
                "warnings" => out.database.warnings = map.next_value()?,
                "ecosystems" => out.database.ecosystems = map.next_value()?,
                "content_digest" => out.database.content_digest = map.next_value()?,
                "newest_modified" => out.database.newest_modified = map.next_value()?,
                "cve_ratings" => out.database.cve_ratings = map.next_value()?,
                "archives" => out.database.archives = map.next_value()?,
                "index" => {
                    let (index, refs) = map.next_value_seed(IndexSeed {
                        wanted: self.wanted,
                    })?;
                    out.database.index = index;
                    referenced = self.wanted.map(|_| refs);
                }
                "advisories" => {
                    out.database.advisories = map.next_value_seed(AdvisoriesSeed {
                        keep: referenced.as_ref(),
                    })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

struct IndexSeed<'a> {
    wanted: Option<&'a HashSet<String>>,
}

impl<'de> DeserializeSeed<'de> for IndexSeed<'_> {
    type Value = (HashMap<String, Vec<Affected>>, HashSet<usize>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for IndexSeed<'_> {
    type Value = (HashMap<String, Vec<Affected>>, HashSet<usize>);
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of package keys to affected entries")
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut index = HashMap::new();
        let mut refs = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.wanted.is_none_or(|w| w.contains(&key)) {
                let entries: Vec<Affected> = map.next_value()?;
                refs.extend(entries.iter().map(|a| a.advisory));
                index.insert(key, entries);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok((index, refs))
    }
}

struct AdvisoriesSeed<'a> {
    keep: Option<&'a HashSet<usize>>,
}

impl<'de> DeserializeSeed<'de> for AdvisoriesSeed<'_> {
    type Value = Vec<Advisory>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AdvisoriesSeed<'_> {
    type Value = Vec<Advisory>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of advisories")
    }
    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let i = out.len();
            if self.keep.is_none_or(|k| k.contains(&i)) {
                match seq.next_element::<Advisory>()? {
                    Some(a) => out.push(a),
                    None => break,
                }
            } else {
                match seq.next_element::<IgnoredAny>()? {
                    Some(_) => out.push(Advisory::placeholder()),
                    None => break,
                }
            }
        }
        Ok(out)
    }
}

impl Advisory {
    /// Stands in for an advisory a filtered load did not need (allocates nothing).
    fn placeholder() -> Self {
        Advisory {
            id: String::new(),
            aliases: Vec::new(),
            upstream: Vec::new(),
            summary: String::new(),
            modified: String::new(),
            severity: Severity::Unknown,
            score: None,
            severity_source: String::new(),
        }
    }
}

/// What identifies a database's content cheaply: every record file's path, size and mtime
/// (or the zip's), hashed.
fn fingerprint(path: &Path) -> Result<String> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let stamp = |h: &mut sha2::Sha256, p: &Path| -> Result<()> {
        let m = std::fs::metadata(p).map_err(|e| Error::io("cannot read", p, e))?;
        let mtime = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        h.update(format!("{}\0{}\0{}\n", p.display(), m.len(), mtime));
        Ok(())
    };
    if crate::scan::managed::is_managed(path) {
        for file in crate::scan::managed::files(path)? {
            stamp(&mut h, &file)?;
        }
    } else if path.is_dir() {
        let mut files = Vec::new();
        collect_json(path, &mut files)?;
        files.sort();
        for f in files {
            stamp(&mut h, &f)?;
        }
    } else {
        stamp(&mut h, path)?;
    }
    h.update(format!("format {INDEX_FORMAT}"));
    Ok(hex::encode(h.finalize()))
}

/// Where the index of the database at `path` is cached: the user's cache directory
/// (`$XDG_CACHE_HOME/cleanpipe/osv-index/`, else `~/.cache/cleanpipe/osv-index/`), one file per
/// database location. Never beside the database, which is often a tracked directory of the
/// repository. `None` (no cache) without a home directory.
pub fn cache_path(path: &Path) -> Option<std::path::PathBuf> {
    let base = crate::scan::managed::user_cache_dir()?;
    use sha2::Digest as _;
    let location = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let key = hex::encode(sha2::Sha256::digest(
        location.as_os_str().as_encoded_bytes(),
    ));
    Some(
        base.join("cleanpipe")
            .join("osv-index")
            .join(format!("{key}.json")),
    )
}

impl Database {
    /// Load through the cached index next to the database; rebuild and rewrite it when the
    /// database changed. A read-only location just means no cache. Returns whether the cache was used.
    pub fn load_cached(path: &Path) -> Result<(Self, bool)> {
        Self::load_cached_for(path, None, &Default::default())
    }

    /// [`Database::load_cached`], keeping from a valid cache only the index entries under the
    /// keys in `wanted` (see [`key`]) and their advisories: memory then follows the image's
    /// packages, not the database's size. A rebuild still reads the whole database once
    /// (reported to `progress`).
    pub fn load_cached_for(
        path: &Path,
        wanted: Option<&HashSet<String>>,
        progress: &crate::progress::Progress,
    ) -> Result<(Self, bool)> {
        let print = fingerprint(path)?;
        let cache = cache_path(path);
        // Never through a link (a planted `…/osv-index/<key>.json -> /dev/zero` would hang the
        // scan); a link there just means no cache.
        let read = cache.as_deref().map(|cache| {
            crate::fsutil::open_read_nofollow(cache).and_then(|mut f| {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut f, &mut bytes)
                    .map_err(|e| Error::io("cannot read", cache, e))?;
                Ok(bytes)
            })
        });
        if let Some(Ok(bytes)) = read {
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            if let Ok(cached) = (CacheSeed { wanted }).deserialize(&mut de) {
                if cached.format == INDEX_FORMAT && cached.fingerprint == print {
                    return Ok((cached.database, true));
                }
            }
        }
        let database = Database::load_with(path, progress)?;
        let out = CachedIndexOut {
            format: INDEX_FORMAT,
            fingerprint: &print,
            withdrawn: database.withdrawn,
            warnings: &database.warnings,
            ecosystems: &database.ecosystems,
            content_digest: &database.content_digest,
            newest_modified: &database.newest_modified,
            cve_ratings: &database.cve_ratings,
            archives: &database.archives,
            index: &database.index,
            advisories: &database.advisories,
        };
        if let (Some(cache), Ok(bytes)) = (&cache, serde_json::to_vec(&out)) {
            if let Some(dir) = cache.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = crate::oci::layout::write_atomic(cache, &bytes);
        }
        Ok((database, false))
    }

    /// Load a directory (recursively) or a zip of OSV JSON records.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &Default::default())
    }

    /// [`Database::load`], reporting each record file read to `progress`.
    pub fn load_with(path: &Path, progress: &crate::progress::Progress) -> Result<Self> {
        use crate::progress::Kind;
        use sha2::Digest as _;
        let mut db = Database::default();
        let mut content = sha2::Sha256::new();
        let record = |content: &mut sha2::Sha256, name: &str, bytes: &[u8]| {
            content.update(name.as_bytes());
            content.update([0]);
            content.update(sha2::Sha256::digest(bytes));
        };
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::usage(format!("vulnerability database `{}`: {e}", path.display())).with_hint(
                "point `scan.db` (or `--db`) at a directory of OSV records or an osv.dev `all.zip`",
            )
        })?;
        if meta.is_dir() && crate::scan::managed::is_managed(path) {
            for archive in crate::scan::managed::read_archives(path)? {
                let file = path.join(&archive.archive);
                crate::scan::managed::check_digest(&file, &archive)?;
                let before = db.warnings.len();
                db.load_zip(&file, &mut content, &record, progress)?;
                if db.warnings.len() > before {
                    // `db update` refused any archive with a record it could not read.
                    return Err(Error::environment(format!(
                        "{}: {}",
                        file.display(),
                        db.warnings[before]
                    ))
                    .with_hint("run `cleanpipe db update` again to fetch a good copy"));
                }
                db.archives.push(archive.identity());
            }
        } else if meta.is_dir() {
            let mut files = Vec::new();
            collect_json(path, &mut files)?;
            files.sort();
            let task = progress.task(
                Kind::DatabaseLoad,
                path.display().to_string(),
                Some(files.len() as u64),
            );
            for f in files {
                match std::fs::read(&f) {
                    Ok(bytes) => {
                        let name = f.strip_prefix(path).unwrap_or(&f).to_string_lossy();
                        record(&mut content, &name, &bytes);
                        db.add_record(&bytes, &f.display().to_string())
                    }
                    Err(e) => db.warnings.push(format!("{}: {e}", f.display())),
                }
                task.advance(1);
            }
            task.finish();
        } else {
            db.load_zip(path, &mut content, &record, progress)?;
        }
        db.content_digest = format!("sha256:{}", hex::encode(content.finalize()));
        Ok(db)
    }

    /// Add every `*.json` record of the zip at `path`; `record` adds each to the content digest.
    fn load_zip(
        &mut self,
        path: &Path,
        content: &mut sha2::Sha256,
        record: &dyn Fn(&mut sha2::Sha256, &str, &[u8]),
        progress: &crate::progress::Progress,
    ) -> Result<()> {
        use crate::progress::Kind;
        let db = self;
        let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| {
            Error::usage(format!("`{}` is not a readable zip: {e}", path.display()))
        })?;
        let task = progress.task(
            Kind::DatabaseLoad,
            path.display().to_string(),
            Some(zip.len() as u64),
        );
        for i in 0..zip.len() {
            task.advance(1);
            let mut entry = match zip.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    db.warnings
                        .push(format!("{} entry {i}: {e}", path.display()));
                    continue;
                }
            };
            if !entry.name().ends_with(".json") {
                continue;
            }
            let name = entry.name().to_string();
            let mut bytes = Vec::new();
            // Bounded: one OSV record is small; a huge entry is refused, not expanded.
            if let Err(e) = (&mut entry).take(16 * 1024 * 1024).read_to_end(&mut bytes) {
                db.warnings.push(format!("{name}: {e}"));
                continue;
            }
            record(content, &name, &bytes);
            db.add_record(&bytes, &name);
        }
        task.finish();
        Ok(())
    }

    /// Add one record (JSON bytes); malformed records become counted warnings.
    pub fn add_record(&mut self, bytes: &[u8], origin: &str) {
        let record: RawRecord = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.warnings
                    .push(format!("{origin}: not a valid OSV record: {e}"));
                return;
            }
        };
        if record.withdrawn.is_some() {
            self.withdrawn += 1;
            return;
        }
        let record_rating = rate(&record.severity, "the record's").or_else(|| {
            record
                .database_specific
                .as_ref()
                .and_then(|d| d.get("severity"))
                .and_then(|s| s.as_str())
                .map(|label| Rating {
                    severity: Severity::from_label(label),
                    score: None,
                    source: format!("the record's database_specific.severity `{label}`"),
                })
        });
        if record.id.starts_with("CVE-") {
            if let Some(r) = &record_rating {
                self.cve_ratings.insert(record.id.clone(), r.clone());
            }
        }
        let (severity, score, severity_source) = match record_rating {
            Some(r) => (r.severity, r.score, r.source),
            None => (
                Severity::Unknown,
                None,
                unrated_reason(&record.severity, "the record"),
            ),
        };
        if record.modified > self.newest_modified {
            self.newest_modified = record.modified.clone();
        }
        let index = self.advisories.len();
        self.advisories.push(Advisory {
            id: record.id.clone(),
            aliases: record.aliases,
            upstream: record.upstream,
            summary: record
                .summary
                .or(record
                    .details
                    .map(|d| d.lines().next().unwrap_or("").to_string()))
                .unwrap_or_default(),
            modified: record.modified,
            severity,
            score,
            severity_source,
        });
        for (position, a) in record.affected.into_iter().enumerate() {
            let Some(pkg) = a.package else { continue };
            let rating = rate(&a.severity, &format!("affected[{position}]'s"));
            let mut ranges = Vec::new();
            for r in a.ranges {
                if r.kind == "GIT" {
                    continue; // commit ranges do not apply to installed packages
                }
                if r.kind != "ECOSYSTEM" && r.kind != "SEMVER" {
                    self.warnings.push(format!(
                        "{origin}: {}: unknown range type `{}` skipped",
                        record.id, r.kind
                    ));
                    continue;
                }
                let mut events = Vec::new();
                for e in r.events {
                    for (k, v) in e {
                        events.push(match k.as_str() {
                            "introduced" => Event::Introduced(v),
                            "fixed" => Event::Fixed(v),
                            "last_affected" => Event::LastAffected(v),
                            "limit" => Event::Limit(v),
                            other => {
                                self.warnings.push(format!(
                                    "{origin}: {}: unknown event `{other}` skipped",
                                    record.id
                                ));
                                continue;
                            }
                        });
                    }
                }
                ranges.push(Range {
                    kind: r.kind,
                    events,
                });
            }
            *self.ecosystems.entry(pkg.ecosystem.clone()).or_default() += 1;
            self.index
                .entry(key(&pkg.ecosystem, &pkg.name))
                .or_default()
                .push(Affected {
                    advisory: index,
                    ecosystem: pkg.ecosystem,
                    ranges,
                    versions: a.versions,
                    rating,
                });
        }
    }

    /// Ecosystems, record count and newest `modified`, for `cleanpipe db stats`.
    pub fn stats(&self) -> (BTreeMap<String, usize>, usize, Option<String>) {
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for list in self.index.values() {
            for a in list {
                *per.entry(a.ecosystem.split(':').next().unwrap_or("").to_string())
                    .or_default() += 1;
            }
        }
        let newest = self.advisories.iter().map(|a| a.modified.clone()).max();
        (per, self.advisories.len(), newest)
    }
}

/// A rating from an OSV `severity` list: the highest CVSS base score (v4, v3.x or v2 vectors),
/// else Ubuntu's own priority (`type: Ubuntu`). `None` when neither is there or readable.
fn rate(list: &[RawSeverity], whose: &str) -> Option<Rating> {
    let cvss = list
        .iter()
        .filter(|s| s.kind.starts_with("CVSS_"))
        .filter_map(|s| {
            cvss::base_score(&s.score)
                .ok()
                .map(|score| (score, &s.kind))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((score, kind)) = cvss {
        return Some(Rating {
            severity: Severity::from_score(score),
            score: Some(score),
            source: format!("{whose} {kind} vector"),
        });
    }
    list.iter()
        .find(|s| s.kind == "Ubuntu")
        .map(|s| Rating {
            severity: Severity::from_label(&s.score),
            score: None,
            source: format!("{whose} Ubuntu priority `{}`", s.score),
        })
        .filter(|r| r.severity != Severity::Unknown)
}

/// Why a record has no rating: no severity at all, or vectors that cannot be read.
fn unrated_reason(list: &[RawSeverity], what: &str) -> String {
    let broken: Vec<String> = list
        .iter()
        .filter(|s| s.kind.starts_with("CVSS_"))
        .filter_map(|s| {
            cvss::base_score(&s.score)
                .err()
                .map(|e| format!("{} `{}` cannot be read ({e})", s.kind, s.score))
        })
        .collect();
    if broken.is_empty() {
        format!("{what} carries no severity")
    } else {
        format!("{what}'s {}", broken.join("; "))
    }
}

fn collect_json(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir, e))? {
        let path = entry.map_err(|e| Error::io("cannot list", dir, e))?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            out.push(path);
        }
    }
    Ok(())
}
