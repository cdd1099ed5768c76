//! Java archives (`.jar`, `.war`, `.ear`): the Maven artifacts inside, nested archives included.
//!
//! An archive is read from a seekable file (the layer reader spools each archive to an unlinked
//! temporary file, so a 300 MiB fat jar costs disk, not memory). Only small metadata entries are
//! read into memory; a nested archive stored uncompressed (Spring Boot's `BOOT-INF/lib/`) is read
//! in place through a window on its parent, a compressed one is inflated to another temporary
//! file first. Every bound below turns into a [`Problem`] naming the archive, never an error
//! that stops cataloguing the image.
//!
//! Identity, in this order (written in `docs/catalogers.md`):
//! 1. every `META-INF/maven/<groupId>/<artifactId>/pom.properties` (a shaded jar has several):
//!    `groupId:artifactId` at `version`, checked against Maven advisories;
//! 2. without one, `META-INF/MANIFEST.MF`: the version from `Implementation-Version` (else
//!    `Bundle-Version`), the artifact from the file name when it reads `<artifact>-<version>.jar`,
//!    else `Bundle-SymbolicName`, else the file name without its extension (`ojdbc8.jar` →
//!    `ojdbc8`), else `Implementation-Title`; the groupId only from `Implementation-Vendor-Id`.
//!    Marked `identified_from: MANIFEST.MF`: in the SBOM, but not checked (a guessed groupId
//!    would make "no advisory" meaningless). Without a groupId the purl is `pkg:generic/…`,
//!    since a Maven purl requires one;
//! 3. without either, a file name `<artifact>-<version>.jar`: marked `identified_from: file name`,
//!    not checked;
//! 4. an archive that holds other archives or packages but names none itself is a container
//!    (a fat jar without metadata): its contents speak for it. Anything else is a [`Problem`].

use std::io::{Read, Seek, SeekFrom};

/// Bounds on what one top-level archive may cost.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Archives inside archives deeper than this are not read (the top level is depth 0).
    pub max_depth: usize,
    /// A top-level archive larger than this is not read.
    pub max_archive: u64,
    /// A compressed nested archive that inflates to more than this is not read.
    pub max_nested: u64,
    /// Bytes inflated for one top-level archive, nested archives and metadata together.
    pub max_inflated: u64,
    /// Entries in one archive's central directory.
    pub max_entries: usize,
    /// A metadata entry (`pom.properties`, `MANIFEST.MF`) larger than this is not read.
    pub max_metadata: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_archive: 2 << 30,
            max_nested: 512 << 20,
            max_inflated: 2 << 30,
            max_entries: 200_000,
            max_metadata: 1 << 20,
        }
    }
}

/// One Maven artifact found in an archive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Artifact {
    pub group: Option<String>,
    pub artifact: String,
    pub version: String,
    /// `/app/app.jar:BOOT-INF/lib/log4j-core-2.14.1.jar`: the archive, nested path after `:`.
    pub location: String,
    /// `None` when read from `pom.properties`; else `MANIFEST.MF` or `file name`.
    pub identified_from: Option<String>,
}

/// Something in an archive that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    pub location: String,
    pub reason: String,
}

/// What one top-level archive holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Found {
    pub artifacts: Vec<Artifact>,
    pub problems: Vec<Problem>,
}

/// Whether `path` names a Java archive by its extension.
pub fn is_archive(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".jar", ".war", ".ear"].iter().any(|e| lower.ends_with(e))
}

/// Catalog the archive in `file` (already spooled; `size` bytes), found at `location`.
pub fn catalog(file: &mut dyn ReadSeek, location: &str, limits: &Limits) -> Found {
    let mut found = Found::default();
    let mut budget = limits.max_inflated;
    archive(file, location, 0, limits, &mut budget, &mut found);
    found
}

/// The [`Problem`] for a top-level archive over [`Limits::max_archive`] (not spooled at all).
pub fn too_large(location: &str, size: u64, limits: &Limits) -> Found {
    Found {
        artifacts: vec![],
        problems: vec![Problem {
            location: location.to_string(),
            reason: format!(
                "archive of {size} bytes is over the size limit of {} bytes; not read",
                limits.max_archive
            ),
        }],
    }
}

/// `Read + Seek` as one object-safe trait, so nested windows can recurse without generics.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// A nested archive waiting to be read once its parent's directory has been walked.
enum Nested {
    /// Stored uncompressed: bytes `start..start+len` of the parent.
    InPlace { name: String, start: u64, len: u64 },
    /// Inflated to a temporary file.
    Spooled { name: String, file: std::fs::File },
}

/// Why an archive, or an entry in it, was not read (recorded as a problem, never fatal).
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    #[error("not a readable zip archive")]
    NotZip(#[source] zip::result::ZipError),
    #[error("{0} entries, over the limit of {1}; not read")]
    TooManyEntries(usize, usize),
    #[error("entry {0} is unreadable")]
    Entry(usize, #[source] zip::result::ZipError),
    #[error("nested more than {0} archives deep; not read")]
    TooDeep(usize),
    #[error("temporary file")]
    TempFile(#[source] std::io::Error),
    #[error("unreadable")]
    Read(#[source] std::io::Error),
    #[error("does not inflate")]
    Inflate(#[source] std::io::Error),
    #[error("the archive inflates beyond its total limit (a zip bomb?); not read")]
    OverBudget,
    #[error("larger than {} KiB; not read", .0 >> 10)]
    TooLarge(u64),
    #[error(
        "inflates to more than {} MiB (the nested-archive limit; a zip bomb?); not read",
        .0 >> 20
    )]
    NestedTooLarge(u64),
    #[error("pom.properties has no version; the artifact is not identified")]
    PomNoVersion,
    #[error("pom.properties lacks groupId or artifactId; the artifact is not identified")]
    PomNoCoordinates,
    #[error(
        "no pom.properties, no version in MANIFEST.MF and none in the file name: the archive cannot be identified"
    )]
    Unidentified,
}

fn archive(
    reader: &mut dyn ReadSeek,
    location: &str,
    depth: usize,
    limits: &Limits,
    budget: &mut u64,
    found: &mut Found,
) {
    let problem = |found: &mut Found, location: &str, why: Unreadable| {
        found.problems.push(Problem {
            location: location.to_string(),
            reason: crate::error::one_line(&why),
        })
    };
    let mut zip = match zip::ZipArchive::new(&mut *reader) {
        Ok(z) => z,
        Err(e) => return problem(found, location, Unreadable::NotZip(e)),
    };
    if zip.len() > limits.max_entries {
        return problem(
            found,
            location,
            Unreadable::TooManyEntries(zip.len(), limits.max_entries),
        );
    }
    let mut poms: Vec<(String, Vec<u8>)> = Vec::new();
    let mut manifest: Option<Vec<u8>> = None;
    let mut nested: Vec<Nested> = Vec::new();
    let mut holds_archives = false;
    let before = found.artifacts.len();
    for index in 0..zip.len() {
        let mut entry = match zip.by_index(index) {
            Ok(e) => e,
            Err(e) => {
                problem(found, location, Unreadable::Entry(index, e));
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        let inner = format!("{location}:{name}");
        let is_pom = name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
        let is_manifest = name.eq_ignore_ascii_case("META-INF/MANIFEST.MF");
        if is_pom || is_manifest {
            match read_bounded(&mut entry, limits.max_metadata, budget) {
                Ok(bytes) if is_pom => poms.push((name, bytes)),
                Ok(bytes) => manifest = Some(bytes),
                Err(why) => problem(found, &inner, why),
            }
        } else if is_archive(&name) {
            holds_archives = true;
            if depth + 1 > limits.max_depth {
                problem(found, &inner, Unreadable::TooDeep(limits.max_depth));
            } else if entry.compression() == zip::CompressionMethod::Stored {
                nested.push(Nested::InPlace {
                    start: entry.data_start(),
                    len: entry.size(),
                    name,
                });
            } else {
                match spool(&mut entry, limits.max_nested, budget) {
                    Ok(file) => nested.push(Nested::Spooled { name, file }),
                    Err(why) => problem(found, &inner, why),
                }
            }
        }
    }
    drop(zip);
    for (name, bytes) in &poms {
        let inner = format!("{location}:{name}");
        match pom_properties(bytes) {
            Ok((group, artifact, version)) => found.artifacts.push(Artifact {
                group: Some(group),
                artifact,
                version,
                location: location.to_string(),
                identified_from: None,
            }),
            Err(why) => problem(found, &inner, why),
        }
    }
    let identified = found.artifacts.len() > before;
    for n in nested {
        match n {
            Nested::InPlace { name, start, len } => {
                let mut window = Window {
                    inner: &mut *reader,
                    start,
                    len,
                    pos: 0,
                };
                let inner = format!("{location}:{name}");
                archive(&mut window, &inner, depth + 1, limits, budget, found);
            }
            Nested::Spooled { name, mut file } => {
                let inner = format!("{location}:{name}");
                if let Err(e) = file.seek(SeekFrom::Start(0)) {
                    problem(found, &inner, Unreadable::TempFile(e));
                    continue;
                }
                archive(&mut file, &inner, depth + 1, limits, budget, found);
            }
        }
    }
    if identified {
        return;
    }
    // No pom.properties: the manifest, then the file name, then a container of other things.
    let file_name = location.rsplit([':', '/']).next().unwrap_or(location);
    let from_name = name_and_version(file_name);
    let manifest = manifest.map(|m| manifest_fields(&m));
    let get = |k: &str| manifest.as_ref().and_then(|m| m.get(k).cloned());
    if let Some(version) = get("Implementation-Version").or_else(|| get("Bundle-Version")) {
        let artifact = from_name
            .as_ref()
            .filter(|(_, v)| *v == version)
            .map(|(a, _)| a.clone())
            .or_else(|| {
                get("Bundle-SymbolicName").map(|s| s.split(';').next().unwrap_or("").trim().into())
            })
            .filter(|a| !a.is_empty())
            .or_else(|| from_name.as_ref().map(|(a, _)| a.clone()))
            .or_else(|| Some(stem(file_name).to_string()).filter(|s| !s.is_empty()))
            .or_else(|| get("Implementation-Title"))
            .unwrap_or_else(|| file_name.to_string());
        found.artifacts.push(Artifact {
            group: get("Implementation-Vendor-Id").filter(|g| !g.is_empty()),
            artifact,
            version,
            location: location.to_string(),
            identified_from: Some("MANIFEST.MF".into()),
        });
    } else if let Some((artifact, version)) = from_name {
        found.artifacts.push(Artifact {
            group: None,
            artifact,
            version,
            location: location.to_string(),
            identified_from: Some("file name".into()),
        });
    } else if !holds_archives && found.artifacts.len() == before {
        problem(found, location, Unreadable::Unidentified);
    }
}

/// Read a whole entry of at most `limit` bytes, charged to `budget`.
fn read_bounded(entry: &mut dyn Read, limit: u64, budget: &mut u64) -> Result<Vec<u8>, Unreadable> {
    let cap = limit.min(*budget);
    let mut bytes = Vec::new();
    entry
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(Unreadable::Read)?;
    *budget -= (bytes.len() as u64).min(*budget);
    if bytes.len() as u64 > cap {
        return Err(if cap < limit {
            Unreadable::OverBudget
        } else {
            Unreadable::TooLarge(limit)
        });
    }
    Ok(bytes)
}

/// Inflate an entry into an unlinked temporary file, at most `limit` bytes, charged to `budget`.
fn spool(entry: &mut dyn Read, limit: u64, budget: &mut u64) -> Result<std::fs::File, Unreadable> {
    let cap = limit.min(*budget);
    let mut file = tempfile::tempfile().map_err(Unreadable::TempFile)?;
    let n = std::io::copy(&mut entry.take(cap + 1), &mut file).map_err(Unreadable::Inflate)?;
    *budget -= n.min(*budget);
    if n > cap {
        return Err(if cap < limit {
            Unreadable::OverBudget
        } else {
            Unreadable::NestedTooLarge(limit)
        });
    }
    Ok(file)
}

/// `groupId`, `artifactId`, `version` of a `pom.properties` (Java properties: `key=value` or
/// `key: value`, `#`/`!` comments).
fn pom_properties(bytes: &[u8]) -> Result<(String, String, String), Unreadable> {
    let text = String::from_utf8_lossy(bytes);
    let get = |key: &str| {
        text.lines()
            .map(str::trim_start)
            .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
            .filter_map(|l| {
                let at = l.find(['=', ':'])?;
                Some((l[..at].trim(), l[at + 1..].trim()))
            })
            .filter(|(k, v)| *k == key && !v.is_empty())
            .map(|(_, v)| v.to_string())
            .next_back() // the last definition wins, as in java.util.Properties
    };
    match (get("groupId"), get("artifactId"), get("version")) {
        (Some(g), Some(a), Some(v)) => Ok((g, a, v)),
        (_, _, None) => Err(Unreadable::PomNoVersion),
        _ => Err(Unreadable::PomNoCoordinates),
    }
}

/// A manifest's main section: `Key: value` lines wrapped at 72 bytes, a continuation line
/// starting with one space; the section ends at the first blank line.
fn manifest_fields(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut logical: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        match (line.strip_prefix(' '), logical.last_mut()) {
            (Some(more), Some(last)) => last.push_str(more),
            _ => logical.push(line.to_string()),
        }
    }
    logical
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// `ojdbc8.jar` → `ojdbc8`: the file name without its archive extension.
fn stem(file_name: &str) -> &str {
    let lower = file_name.to_ascii_lowercase();
    [".jar", ".war", ".ear"]
        .iter()
        .find_map(|e| {
            lower
                .ends_with(e)
                .then(|| &file_name[..file_name.len() - e.len()])
        })
        .unwrap_or(file_name)
}

/// `log4j-core-2.14.1.jar` → (`log4j-core`, `2.14.1`): the version starts at the first `-`
/// followed by a digit.
fn name_and_version(file_name: &str) -> Option<(String, String)> {
    let stem = stem(file_name);
    let at = stem
        .char_indices()
        .find(|(i, c)| *c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i)?;
    let (name, version) = (&stem[..at], &stem[at + 1..]);
    (!name.is_empty()).then(|| (name.to_string(), version.to_string()))
}

/// Bytes `start..start + len` of `inner`, as a seekable stream of its own.
struct Window<'a> {
    inner: &'a mut dyn ReadSeek,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(left) as usize;
        self.inner.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = self.inner.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod::{Deflated, Stored};

    /// A zip of `entries` (name, bytes, stored?).
    fn zip_of(entries: &[(&str, Vec<u8>, bool)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes, stored) in entries {
            let method = if *stored { Stored } else { Deflated };
            w.start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn pom(g: &str, a: &str, v: &str) -> (String, Vec<u8>, bool) {
        (
            format!("META-INF/maven/{g}/{a}/pom.properties"),
            format!("#Generated by Maven\ngroupId={g}\nartifactId={a}\nversion={v}\n").into_bytes(),
            false,
        )
    }

    fn run(bytes: Vec<u8>, limits: &Limits) -> Found {
        catalog(&mut Cursor::new(bytes), "/app/app.jar", limits)
    }

    fn borrowed(v: &[(String, Vec<u8>, bool)]) -> Vec<(&str, Vec<u8>, bool)> {
        v.iter()
            .map(|(n, b, s)| (n.as_str(), b.clone(), *s))
            .collect()
    }

    #[test]
    fn a_fat_jar_names_its_nested_log4j() {
        let log4j = zip_of(&borrowed(&[pom(
            "org.apache.logging.log4j",
            "log4j-core",
            "2.14.1",
        )]));
        let shaded = zip_of(&borrowed(&[
            pom("com.example", "shaded", "1.0"),
            pom("com.google.guava", "guava", "31.1-jre"),
        ]));
        let fat = zip_of(&[
            (
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\r\nStart-Class: x\r\n".to_vec(),
                false,
            ),
            ("BOOT-INF/lib/log4j-core-2.14.1.jar", log4j, true),
            ("BOOT-INF/lib/shaded-1.0.jar", shaded, false),
        ]);
        let found = run(fat, &Limits::default());
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        let got: Vec<(String, &str, &str, Option<&str>)> = found
            .artifacts
            .iter()
            .map(|a| {
                (
                    format!("{}:{}", a.group.as_deref().unwrap_or("-"), a.artifact),
                    a.version.as_str(),
                    a.location.as_str(),
                    a.identified_from.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "org.apache.logging.log4j:log4j-core".into(),
                    "2.14.1",
                    "/app/app.jar:BOOT-INF/lib/log4j-core-2.14.1.jar",
                    None
                ),
                (
                    "com.example:shaded".into(),
                    "1.0",
                    "/app/app.jar:BOOT-INF/lib/shaded-1.0.jar",
                    None
                ),
                (
                    "com.google.guava:guava".into(),
                    "31.1-jre",
                    "/app/app.jar:BOOT-INF/lib/shaded-1.0.jar",
                    None
                ),
            ]
        );
    }

    #[test]
    fn manifest_then_file_name_are_marked_as_guesses() {
        let manifest = zip_of(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nBundle-SymbolicName: org.example.lib;singleton:=true\nBundle-Ve\n rsion: 2.0.1\nImplementation-Vendor-Id: org.exa\n mple\n".to_vec(),
            false,
        )]);
        let found = catalog(&mut Cursor::new(manifest), "/x/lib.jar", &Limits::default());
        assert_eq!(
            found.artifacts,
            [Artifact {
                group: Some("org.example".into()),
                artifact: "org.example.lib".into(),
                version: "2.0.1".into(),
                location: "/x/lib.jar".into(),
                identified_from: Some("MANIFEST.MF".into()),
            }]
        );
        let named = zip_of(&[("a.class", vec![0xca, 0xfe], false)]);
        let found = catalog(
            &mut Cursor::new(named),
            "/x/commons-io-2.11.0.jar",
            &Limits::default(),
        );
        assert_eq!(found.artifacts[0].artifact, "commons-io");
        assert_eq!(found.artifacts[0].version, "2.11.0");
        assert_eq!(
            found.artifacts[0].identified_from.as_deref(),
            Some("file name")
        );
        let anonymous = zip_of(&[("a.class", vec![0xca, 0xfe], false)]);
        let found = catalog(
            &mut Cursor::new(anonymous),
            "/x/app.jar",
            &Limits::default(),
        );
        assert!(found.artifacts.is_empty());
        assert!(found.problems[0].reason.contains("cannot be identified"));
    }

    #[test]
    fn hostile_archives_become_problems_naming_the_file() {
        // Not a zip.
        let found = run(b"not a zip at all".to_vec(), &Limits::default());
        assert_eq!(found.problems[0].location, "/app/app.jar");
        assert!(found.problems[0].reason.contains("not a readable zip"));
        // A zip bomb inside a jar: a nested archive inflating past the limit.
        let bomb = zip_of(&[("bomb.jar", vec![0u8; 4 << 20], false)]);
        let limits = Limits {
            max_nested: 1 << 20,
            ..Limits::default()
        };
        let found = run(bomb, &limits);
        assert_eq!(found.problems[0].location, "/app/app.jar:bomb.jar");
        assert!(
            found.problems[0].reason.contains("more than 1 MiB"),
            "{:?}",
            found
        );
        // The total budget bounds many smaller ones.
        let many: Vec<(String, Vec<u8>, bool)> = (0..8)
            .map(|i| (format!("lib/b{i}.jar"), vec![0u8; 1 << 20], false))
            .collect();
        let limits = Limits {
            max_inflated: 3 << 20,
            ..Limits::default()
        };
        let found = run(zip_of(&borrowed(&many)), &limits);
        assert!(found
            .problems
            .iter()
            .any(|p| p.reason.contains("total limit")));
        // Nested 50 deep: read to the depth limit, the rest named.
        let mut jar = zip_of(&borrowed(&[pom("g", "deepest", "1")]));
        for i in 0..50 {
            jar = zip_of(&[(&format!("l{i}.jar"), jar, i % 2 == 0)]);
        }
        let found = run(jar, &Limits::default());
        assert!(found.artifacts.is_empty());
        assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
        assert!(found.problems[0].reason.contains("nested more than 8"));
        assert_eq!(found.problems[0].location.matches(':').count(), 9);
        // pom.properties without a version.
        let found = run(
            zip_of(&[(
                "META-INF/maven/g/a/pom.properties",
                b"groupId=g\nartifactId=a\n".to_vec(),
                false,
            )]),
            &Limits::default(),
        );
        assert!(found.problems[0].reason.contains("no version"));
        assert!(found.problems[0]
            .location
            .ends_with(":META-INF/maven/g/a/pom.properties"));
    }

    #[test]
    fn file_names() {
        assert_eq!(
            name_and_version("log4j-core-2.14.1.jar"),
            Some(("log4j-core".into(), "2.14.1".into()))
        );
        assert_eq!(name_and_version("app.jar"), None);
        assert_eq!(name_and_version("-1.jar"), None);
        assert_eq!(
            name_and_version("jackson-databind-2.13.0-rc1.WAR"),
            Some(("jackson-databind".into(), "2.13.0-rc1".into()))
        );
    }
}
