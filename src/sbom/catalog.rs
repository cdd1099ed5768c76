//! Catalogers: what is installed in an image, from the package managers' own records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::oci::types::Digest;
use crate::sbom::binary::{self, Section};
use crate::sbom::fs::ImageFs;
use crate::sbom::{purl, rpmdb};

/// The distribution, from `/etc/os-release` (or `/usr/lib/os-release`); without one, from a
/// distribution's own release file (`/etc/alpine-release`, `/etc/debian_version`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Distro {
    pub id: String,
    pub version_id: Option<String>,
    pub codename: Option<String>,
    pub pretty_name: Option<String>,
    /// `ID_LIKE`: the distributions this one derives from (named in coverage reasons only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    /// `VERSION` (`22.04.4 LTS (Jammy Jellyfish)`): Ubuntu's LTS mark is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Which package manager recorded a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Deb,
    Apk,
    Rpm,
    Python,
    Npm,
    /// A Go module linked into a binary (from its build info), or the Go standard library.
    Go,
    /// A Rust crate linked into a binary built with cargo-auditable.
    Cargo,
    /// A Java archive's Maven artifact (`pom.properties`, else `MANIFEST.MF`, else the file name).
    Maven,
    /// A Ruby gem (`specifications/*.gemspec`, Bundler's `Gemfile.lock`).
    Gem,
    /// A PHP Composer package (`vendor/composer/installed.json`).
    Composer,
    /// A .NET package (`*.deps.json`).
    Nuget,
    /// A language runtime installed without a package manager (a JDK's `release` file, Node or
    /// Python built into `/usr/local`): catalogued, but no OSV ecosystem carries its advisories.
    Runtime,
    /// A package type only an external scanner reported (never produced by the catalogers).
    Other,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Deb => "deb",
            Kind::Apk => "apk",
            Kind::Rpm => "rpm",
            Kind::Python => "python",
            Kind::Npm => "npm",
            Kind::Go => "go",
            Kind::Cargo => "cargo",
            Kind::Maven => "maven",
            Kind::Gem => "gem",
            Kind::Composer => "composer",
            Kind::Nuget => "nuget",
            Kind::Runtime => "runtime",
            Kind::Other => "other",
        }
    }
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    /// The source package (dpkg `Source:`, apk origin); what distro advisories name.
    pub source_name: Option<String>,
    pub source_version: Option<String>,
    pub arch: Option<String>,
    /// License names as the metadata gives them.
    pub licenses: Vec<String>,
    /// The file the package was found in.
    pub location: String,
    pub layer: Digest,
    pub purl: String,
    /// Set when the identity was not read from package metadata but inferred (`MANIFEST.MF`,
    /// `file name`): such a package is in the SBOM but counted as not checked by the scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified_from: Option<String>,
}

impl Package {
    /// A language package read from its own metadata file `path` (no source package, no
    /// architecture).
    pub fn language(
        kind: Kind,
        name: &str,
        version: &str,
        licenses: Vec<String>,
        path: &str,
        rec: &crate::sbom::fs::FileRecord,
        purl: String,
    ) -> Package {
        Package {
            kind,
            name: name.to_string(),
            version: version.to_string(),
            source_name: None,
            source_version: None,
            arch: None,
            licenses,
            location: format!("/{path}"),
            layer: rec.layer.clone(),
            purl,
            identified_from: None,
        }
    }
}

/// Everything catalogued in one image.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Catalog {
    pub distro: Option<Distro>,
    pub packages: Vec<Package>,
    /// Files that should hold packages but could not be read (an archive that is not a zip or
    /// over a limit, a manifest that is not JSON): never silently absent, the scan counts each
    /// as not checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncatalogued: Vec<Uncatalogued>,
    /// Records that could not be read, counted and explained, never silently dropped.
    pub warnings: Vec<String>,
}

/// A file whose packages are not catalogued, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Uncatalogued {
    /// The OSV ecosystem its packages would belong to (`Maven`).
    pub ecosystem: String,
    /// `/app/app.jar`.
    pub path: String,
    pub layer: Digest,
    pub reason: String,
}

/// How completely one kind of package was catalogued: what the SBOMs say about themselves
/// (CycloneDX `compositions`, an SPDX annotation).
#[derive(Clone, Debug, PartialEq)]
pub struct Completeness {
    /// [`Kind::as_str`] (`maven`, `deb`).
    pub kind: String,
    /// Indexes into [`Catalog::packages`].
    pub packages: Vec<usize>,
    /// What keeps the list from being complete: files that could not be read, and packages
    /// whose identity was inferred rather than read.
    pub gaps: Vec<String>,
}

impl Catalog {
    /// Per kind of package found (or missed), sorted by kind: complete when nothing was missed.
    pub fn completeness(&self) -> Vec<Completeness> {
        let mut by_kind: BTreeMap<String, Completeness> = BTreeMap::new();
        fn entry<'m>(
            by_kind: &'m mut BTreeMap<String, Completeness>,
            kind: &str,
        ) -> &'m mut Completeness {
            by_kind
                .entry(kind.to_string())
                .or_insert_with(|| Completeness {
                    kind: kind.to_string(),
                    packages: vec![],
                    gaps: vec![],
                })
        }
        for (i, p) in self.packages.iter().enumerate() {
            let c = entry(&mut by_kind, p.kind.as_str());
            c.packages.push(i);
            if let Some(from) = &p.identified_from {
                c.gaps.push(format!(
                    "{} {} at {}: identified only from its {from}",
                    p.name, p.version, p.location
                ));
            }
        }
        for u in &self.uncatalogued {
            let kind = match u.ecosystem.as_str() {
                "Maven" => "maven",
                "RubyGems" => "gem",
                "Packagist" => "composer",
                "NuGet" => "nuget",
                "PyPI" => "python",
                other => other,
            };
            entry(&mut by_kind, &kind.to_ascii_lowercase())
                .gaps
                .push(format!("{}: {}", u.path, u.reason));
        }
        by_kind.into_values().collect()
    }
}

/// Which files the catalogers need (passed to [`ImageFs::read`]).
pub fn wanted(path: &str) -> bool {
    matches!(
        path,
        "etc/os-release"
            | "usr/lib/os-release"
            | "etc/alpine-release"
            | "etc/debian_version"
            | "var/lib/dpkg/status"
            | "lib/apk/db/installed"
    ) || rpmdb::SQLITE_PATHS.contains(&path)
        || path == rpmdb::BDB_PATH
        || rpmdb::NDB_PATHS.contains(&path)
        || path.starts_with("var/lib/dpkg/status.d/")
        || (path.starts_with("usr/share/doc/")
            && path.ends_with("/copyright")
            && path.matches('/').count() == 4)
        || path.ends_with(".dist-info/METADATA")
        || path.ends_with(".egg-info/PKG-INFO")
        || is_npm_manifest(path)
        || crate::sbom::lang::wanted(path)
}

fn is_npm_manifest(path: &str) -> bool {
    let Some(rest) = path.strip_suffix("/package.json") else {
        return false;
    };
    let Some((_, after)) = rest.rsplit_once("node_modules/") else {
        return false;
    };
    // node_modules/<name>/package.json or node_modules/@scope/<name>/package.json
    let parts: Vec<&str> = after.split('/').collect();
    matches!(parts.as_slice(), [n] if !n.starts_with('@') && !n.starts_with('.'))
        || matches!(parts.as_slice(), [s, _] if s.starts_with('@'))
}

/// Run every cataloger over the image. Output is sorted, so the same image gives the same list.
pub fn catalog(fs: &ImageFs) -> Catalog {
    let mut out = Catalog {
        distro: os_release(fs),
        ..Default::default()
    };
    dpkg(fs, &mut out);
    apk(fs, &mut out);
    rpm(fs, &mut out);
    python(fs, &mut out);
    npm(fs, &mut out);
    crate::sbom::lang::catalog(fs, &mut out);
    binaries(fs, &mut out);
    java(fs, &mut out);
    out.packages.sort_by(|a, b| {
        (a.kind, &a.name, &a.version, &a.location).cmp(&(b.kind, &b.name, &b.version, &b.location))
    });
    out.packages.dedup_by(|a, b| {
        a.kind == b.kind && a.name == b.name && a.version == b.version && a.location == b.location
    });
    out
}

fn os_release(fs: &ImageFs) -> Option<Distro> {
    let Some(rec) = fs
        .get("etc/os-release")
        .or_else(|| fs.get("usr/lib/os-release"))
    else {
        return release_file(fs);
    };
    let text = String::from_utf8_lossy(&rec.content);
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            fields.insert(
                k.trim().to_string(),
                v.trim().trim_matches(['"', '\'']).to_string(),
            );
        }
    }
    Some(Distro {
        id: fields.get("ID")?.to_ascii_lowercase(),
        version_id: fields.get("VERSION_ID").cloned(),
        codename: fields.get("VERSION_CODENAME").cloned(),
        pretty_name: fields.get("PRETTY_NAME").cloned(),
        id_like: fields
            .get("ID_LIKE")
            .map(|l| l.split_whitespace().map(str::to_ascii_lowercase).collect())
            .unwrap_or_default(),
        version: fields.get("VERSION").cloned(),
    })
}

/// An image without os-release: Alpine's and Debian's own release files name the release.
fn release_file(fs: &ImageFs) -> Option<Distro> {
    let read = |path: &str| {
        fs.get(path)
            .map(|r| String::from_utf8_lossy(&r.content).trim().to_string())
            .filter(|t| !t.is_empty() && t.len() < 64)
    };
    if let Some(v) = read("etc/alpine-release") {
        return Some(Distro {
            id: "alpine".into(),
            version_id: Some(v),
            ..Default::default()
        });
    }
    // `12.5`, or a codename such as `trixie/sid` for testing (no number: unchecked later).
    let v = read("etc/debian_version")?;
    Some(Distro {
        id: "debian".into(),
        version_id: v
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
            .then_some(v),
        ..Default::default()
    })
}

/// RFC 822-style paragraphs (dpkg status, apk uses its own single-letter form).
fn paragraphs(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut current: BTreeMap<String, String> = BTreeMap::new();
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            last_key = None;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(k) = &last_key {
                if let Some(v) = current.get_mut(k) {
                    v.push('\n');
                    v.push_str(line.trim());
                }
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            current.insert(k.trim().to_string(), v.trim().to_string());
            last_key = Some(k.trim().to_string());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn dpkg(fs: &ImageFs, out: &mut Catalog) {
    let mut sources: Vec<(&String, &crate::sbom::fs::FileRecord)> = fs
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("var/lib/dpkg/status.d/"))
        .collect();
    if let Some(rec) = fs.files.get_key_value("var/lib/dpkg/status") {
        sources.insert(0, rec);
    }
    let distro = out.distro.clone();
    for (path, rec) in sources {
        let text = String::from_utf8_lossy(&rec.content);
        for (i, p) in paragraphs(&text).into_iter().enumerate() {
            let (Some(name), Some(version)) = (
                p.get("Package").filter(|v| !v.is_empty()),
                p.get("Version").filter(|v| !v.is_empty()),
            ) else {
                out.warnings.push(format!(
                    "/{path}: paragraph {} has no Package or Version; skipped",
                    i + 1
                ));
                continue;
            };
            if let Some(status) = p.get("Status") {
                if !status.ends_with(" installed") {
                    continue;
                }
            }
            // `Source: name (version)` when the source version differs.
            let (source_name, source_version) = match p.get("Source") {
                Some(s) => match s.split_once(' ') {
                    Some((n, v)) => (n.to_string(), v.trim_matches(['(', ')', ' ']).to_string()),
                    None => (s.clone(), version.clone()),
                },
                None => (name.clone(), version.clone()),
            };
            let arch = p.get("Architecture").cloned();
            let licenses = fs
                .get(&format!("usr/share/doc/{name}/copyright"))
                .map(|r| dep5_licenses(&r.content))
                .unwrap_or_default();
            let purl = purl::deb(distro.as_ref(), name, version, arch.as_deref());
            out.packages.push(Package {
                kind: Kind::Deb,
                name: name.clone(),
                version: version.clone(),
                source_name: Some(source_name),
                source_version: Some(source_version),
                arch,
                licenses,
                location: format!("/{path}"),
                layer: rec.layer.clone(),
                purl,
                identified_from: None,
            });
        }
    }
}

/// License names of a machine-readable (DEP-5) copyright file.
fn dep5_licenses(content: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(content);
    if !text.starts_with("Format:") {
        return vec![];
    }
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            for name in v
                .split([',', '|'])
                .flat_map(|s| s.split(" or "))
                .flat_map(|s| s.split(" and "))
            {
                let name = name.trim();
                if !name.is_empty() && !out.iter().any(|o| o == name) {
                    out.push(name.to_string());
                }
            }
        }
    }
    out.sort();
    out
}

fn apk(fs: &ImageFs, out: &mut Catalog) {
    let Some((path, rec)) = fs.files.get_key_value("lib/apk/db/installed") else {
        return;
    };
    let text = String::from_utf8_lossy(&rec.content);
    let distro = out.distro.clone();
    for (i, block) in text.split("\n\n").enumerate() {
        let mut f: BTreeMap<&str, &str> = BTreeMap::new();
        for line in block.lines() {
            if let Some((k, v)) = line.split_once(':') {
                f.entry(k).or_insert(v);
            }
        }
        if f.is_empty() {
            continue;
        }
        let (Some(name), Some(version)) = (
            f.get("P").filter(|v| !v.is_empty()),
            f.get("V").filter(|v| !v.is_empty()),
        ) else {
            out.warnings.push(format!(
                "/{path}: record {} has no P: or V:; skipped",
                i + 1
            ));
            continue;
        };
        let arch = f.get("A").map(|a| a.to_string());
        out.packages.push(Package {
            kind: Kind::Apk,
            name: name.to_string(),
            version: version.to_string(),
            source_name: Some(f.get("o").unwrap_or(name).to_string()),
            source_version: Some(version.to_string()),
            licenses: f
                .get("L")
                .map(|l| l.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            purl: purl::apk(distro.as_ref(), name, version, arch.as_deref()),
            arch,
            location: format!("/{path}"),
            layer: rec.layer.clone(),
            identified_from: None,
        });
    }
}

fn rpm(fs: &ImageFs, out: &mut Catalog) {
    type Reader = fn(&[u8]) -> Result<Vec<Result<rpmdb::Header, rpmdb::Error>>, rpmdb::Error>;
    // The first database found: sqlite, then Berkeley DB, then NDB.
    let found = rpmdb::SQLITE_PATHS
        .iter()
        .map(|p| (*p, rpmdb::packages as Reader))
        .chain([(rpmdb::BDB_PATH, rpmdb::packages_bdb as Reader)])
        .chain(rpmdb::NDB_PATHS.map(|p| (p, rpmdb::packages_ndb as Reader)))
        .find_map(|(p, read)| fs.files.get_key_value(p).map(|(p, rec)| (p, rec, read)));
    let Some((path, rec, read)) = found else {
        return;
    };
    let parsed = read(&rec.content);
    let rows = match parsed {
        Ok(rows) => rows,
        // Every package of the image may be in there: never a silently empty list.
        Err(e) => {
            out.uncatalogued.push(Uncatalogued {
                ecosystem: "rpm".into(),
                path: format!("/{path}"),
                layer: rec.layer.clone(),
                reason: format!("unreadable rpm database: {}", crate::error::one_line(&e)),
            });
            return;
        }
    };
    let distro = out.distro.clone();
    for row in rows {
        let h = match row {
            Ok(h) => h,
            Err(e) => {
                out.uncatalogued.push(Uncatalogued {
                    ecosystem: "rpm".into(),
                    path: format!("/{path}"),
                    layer: rec.layer.clone(),
                    reason: format!(
                        "a package record is unreadable: {}",
                        crate::error::one_line(&e)
                    ),
                });
                continue;
            }
        };
        // Imported signing keys are stored as pseudo-packages; they are not software.
        if h.name == "gpg-pubkey" {
            continue;
        }
        let epoch_prefix = h
            .epoch
            .filter(|e| *e > 0)
            .map(|e| format!("{e}:"))
            .unwrap_or_default();
        let (source_name, source_version) = match h.source() {
            Some((n, v)) => (n, format!("{epoch_prefix}{v}")),
            None => (h.name.clone(), h.evr()),
        };
        out.packages.push(Package {
            kind: Kind::Rpm,
            purl: purl::rpm(distro.as_ref(), &h),
            name: h.name.clone(),
            version: h.evr(),
            source_name: Some(source_name),
            source_version: Some(source_version),
            arch: h.arch.clone(),
            licenses: h.license.clone().into_iter().collect(),
            location: format!("/{path}"),
            layer: rec.layer.clone(),
            identified_from: None,
        });
    }
}

/// Maven artifacts in Java archives (read while the layers streamed, see [`crate::sbom::java`]);
/// what could not be read is counted as uncatalogued, naming the nested path.
fn java(fs: &ImageFs, out: &mut Catalog) {
    for record in fs.java_archives.values() {
        for a in &record.found.artifacts {
            let name = match &a.group {
                Some(g) => format!("{g}:{}", a.artifact),
                None => a.artifact.clone(),
            };
            // A Maven purl needs the groupId; without one the archive is named generically.
            let purl = match &a.group {
                Some(g) => purl::maven(g, &a.artifact, &a.version),
                None => purl::generic(&a.artifact, &a.version),
            };
            out.packages.push(Package {
                kind: Kind::Maven,
                purl,
                name,
                version: a.version.clone(),
                source_name: None,
                source_version: None,
                arch: None,
                licenses: vec![],
                location: a.location.clone(),
                layer: record.layer.clone(),
                identified_from: a.identified_from.clone(),
            });
        }
        for p in &record.found.problems {
            out.uncatalogued.push(Uncatalogued {
                ecosystem: "Maven".into(),
                path: p.location.clone(),
                layer: record.layer.clone(),
                reason: p.reason.clone(),
            });
        }
    }
}

/// Go modules and Rust crates recorded inside executables.
fn binaries(fs: &ImageFs, out: &mut Catalog) {
    for (path, rec) in &fs.files {
        let Some(section) = rec.embedded else {
            continue;
        };
        let location = format!("/{path}");
        let mut push = |kind: Kind, name: &str, version: &str, purl: String| {
            out.packages.push(Package {
                kind,
                name: name.to_string(),
                version: version.to_string(),
                source_name: None,
                source_version: None,
                arch: None,
                licenses: vec![],
                location: location.clone(),
                layer: rec.layer.clone(),
                purl,
                identified_from: None,
            })
        };
        match section {
            Section::GoBuildInfo => match binary::parse_go_buildinfo(&rec.content) {
                Ok(info) => {
                    let go = go_stdlib_version(&info.go_version);
                    push(Kind::Go, "stdlib", &go, purl::golang("stdlib", &go));
                    for m in info.modules {
                        // The main module built from a work tree has no version to report.
                        if (m.main && m.version == "(devel)") || m.version.is_empty() {
                            continue;
                        }
                        push(
                            Kind::Go,
                            &m.path,
                            &m.version,
                            purl::golang(&m.path, &m.version),
                        );
                    }
                }
                Err(e) => out.warnings.push(format!(
                    "{location}: {}; skipped",
                    crate::error::one_line(&e)
                )),
            },
            Section::CargoAuditable => match binary::parse_cargo_auditable(&rec.content) {
                Ok(crates) => {
                    for c in crates {
                        // Build-time dependencies (build scripts, proc macros) are not linked in.
                        if c.kind.as_deref() == Some("build") {
                            continue;
                        }
                        push(
                            Kind::Cargo,
                            &c.name,
                            &c.version,
                            purl::cargo(&c.name, &c.version),
                        );
                    }
                }
                Err(e) => out.warnings.push(format!(
                    "{location}: {}; skipped",
                    crate::error::one_line(&e)
                )),
            },
        }
    }
}

/// `go1.21.3` → `v1.21.3` (module-style, as Go advisories and purls write it).
fn go_stdlib_version(go: &str) -> String {
    let v = go.strip_prefix("go").unwrap_or(go);
    // `go1.21.3 X:boringcrypto` carries experiment flags after a space.
    let v = v.split_whitespace().next().unwrap_or(v);
    format!("v{v}")
}

fn python(fs: &ImageFs, out: &mut Catalog) {
    for (path, rec) in fs
        .files
        .iter()
        .filter(|(p, _)| p.ends_with(".dist-info/METADATA") || p.ends_with(".egg-info/PKG-INFO"))
    {
        let text = String::from_utf8_lossy(&rec.content);
        // Headers end at the first blank line; the body is the description.
        let header = text.split("\n\n").next().unwrap_or("");
        let fields = paragraphs(header).into_iter().next().unwrap_or_default();
        let (Some(name), Some(version)) = (
            fields.get("Name").filter(|v| !v.is_empty()),
            fields.get("Version").filter(|v| !v.is_empty()),
        ) else {
            out.warnings
                .push(format!("/{path}: no Name or Version; skipped"));
            continue;
        };
        let mut licenses = Vec::new();
        if let Some(expr) = fields.get("License-Expression") {
            licenses.push(expr.clone());
        } else if let Some(l) = fields
            .get("License")
            .filter(|l| !l.is_empty() && l.len() < 80 && !l.contains('\n'))
        {
            licenses.push(l.clone());
        }
        out.packages.push(Package::language(
            Kind::Python,
            name,
            version,
            licenses,
            path,
            rec,
            purl::pypi(name, version),
        ));
    }
}

fn npm(fs: &ImageFs, out: &mut Catalog) {
    for (path, rec) in fs.files.iter().filter(|(p, _)| is_npm_manifest(p)) {
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&rec.content) else {
            out.warnings
                .push(format!("/{path}: not valid JSON; skipped"));
            continue;
        };
        let (Some(name), Some(version)) = (
            json["name"].as_str().filter(|v| !v.is_empty()),
            json["version"].as_str().filter(|v| !v.is_empty()),
        ) else {
            out.warnings
                .push(format!("/{path}: no name or version; skipped"));
            continue;
        };
        let licenses = match &json["license"] {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Object(o) => o
                .get("type")
                .and_then(|t| t.as_str())
                .map(|t| vec![t.to_string()])
                .unwrap_or_default(),
            _ => vec![],
        };
        out.packages.push(Package::language(
            Kind::Npm,
            name,
            version,
            licenses,
            path,
            rec,
            purl::npm(name, version),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::fs::FileRecord;

    fn fs_with(files: &[(&str, &str)]) -> ImageFs {
        let mut fs = ImageFs::default();
        for (p, c) in files {
            fs.files.insert(
                p.to_string(),
                FileRecord {
                    content: c.as_bytes().to_vec(),
                    layer: Digest::of(b"l"),
                    embedded: None,
                },
            );
        }
        fs
    }

    #[test]
    fn dpkg_with_source_and_license() {
        let fs = fs_with(&[
            ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"),
            (
                "var/lib/dpkg/status",
                "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl (3.0.11-1~deb12u2)\nVersion: 3.0.11-1~deb12u2\nDescription: x\n continued\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n\nbroken: yes\n",
            ),
            ("usr/share/doc/libssl3/copyright", "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Apache-2.0\n"),
        ]);
        let c = catalog(&fs);
        assert_eq!(c.distro.as_ref().unwrap().version_id.as_deref(), Some("12"));
        assert_eq!(c.packages.len(), 2);
        let ssl = &c.packages[0];
        assert_eq!(
            (ssl.name.as_str(), ssl.source_name.as_deref()),
            ("libssl3", Some("openssl"))
        );
        assert_eq!(
            ssl.purl,
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
        );
        assert_eq!(ssl.licenses, vec!["Apache-2.0"]);
        assert_eq!(
            c.packages[1].purl,
            "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12"
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    }

    #[test]
    fn apk_python_npm() {
        let fs = fs_with(&[
            ("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"),
            ("lib/apk/db/installed", "C:Q1x\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:busybox-binsh\nV:1.36.1-r15\nA:x86_64\no:busybox\n"),
            ("usr/lib/python3/site-packages/PyYAML-5.3.dist-info/METADATA", "Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.3\nLicense: MIT\n\nLong text\nName: not-this\n"),
            ("app/node_modules/lodash/package.json", "{\"name\":\"lodash\",\"version\":\"4.17.11\",\"license\":\"MIT\"}"),
            ("app/node_modules/@babel/core/package.json", "{\"name\":\"@babel/core\",\"version\":\"7.0.0\"}"),
            ("app/node_modules/lodash/fp/package.json", "{\"name\":\"not-a-package\"}"),
        ]);
        let c = catalog(&fs);
        let purls: Vec<&str> = c.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            vec![
                "pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1",
                "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1",
                "pkg:pypi/pyyaml@5.3",
                "pkg:npm/%40babel/core@7.0.0",
                "pkg:npm/lodash@4.17.11",
            ]
        );
        assert_eq!(c.packages[0].source_name.as_deref(), Some("busybox"));
    }
}

/// Randomised robustness: catalogers never panic on arbitrary record contents.
#[cfg(test)]
mod robustness {
    use super::*;
    use crate::sbom::fs::FileRecord;

    #[test]
    fn arbitrary_records_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces: &[&[u8]] = &[
            b"Package: ",
            b"Version: ",
            b"Source: ",
            b"Status: install ok installed",
            b"\n",
            b"\n\n",
            b" ",
            b":",
            b"(",
            b")",
            b"P:",
            b"V:",
            b"o:",
            b"Name: ",
            b"{\"name\":",
            b"\"version\":\"1\"}",
            b"ID=",
            b"VERSION_ID=\"",
            b"\xff\xfe",
            b"1:2.3-4~5",
        ];
        for _ in 0..3_000 {
            let mut content = Vec::new();
            for _ in 0..(next() % 40) {
                content.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let mut fs = ImageFs::default();
            for path in [
                "etc/os-release",
                "var/lib/dpkg/status",
                "lib/apk/db/installed",
                "x/a.dist-info/METADATA",
                "node_modules/a/package.json",
            ] {
                fs.files.insert(
                    path.into(),
                    FileRecord {
                        content: content.clone(),
                        layer: Digest::of(b"l"),
                        embedded: None,
                    },
                );
            }
            let c = catalog(&fs);
            assert!(c
                .packages
                .iter()
                .all(|p| !p.name.is_empty() && !p.version.is_empty()));
        }
    }
}
