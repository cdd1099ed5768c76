//! Vulnerability scanning: OSV records ([`osv`]) matched against catalogued packages with each
//! ecosystem's version ordering ([`version`]), severities from CVSS ([`cvss`]), a gate with
//! waivers, and reports as a table, JSON and SARIF 2.1.0 ([`report`]).

pub mod cvss;
pub mod external;
pub mod osv;
pub mod report;
pub mod version;

use std::cmp::Ordering;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::oci::types::Digest;
use crate::pipeline::model::{Severity as Threshold, Waiver};
use crate::sbom::catalog::{Catalog, Kind, Package};
use osv::{Affected, Database, Event};
use version::Scheme;

/// A finding's severity, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn from_score(score: f64) -> Self {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    pub fn from_label(label: &str) -> Self {
        match label.to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" => Severity::High,
            "MODERATE" | "MEDIUM" => Severity::Medium,
            "LOW" => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Whether this severity reaches `threshold`. `unknown` never trips a gate (as in grype).
    pub fn trips(&self, threshold: Threshold) -> bool {
        let min = match threshold {
            Threshold::None => return false,
            Threshold::Low => Severity::Low,
            Threshold::Medium => Severity::Medium,
            Threshold::High => Severity::High,
            Threshold::Critical => Severity::Critical,
        };
        *self != Severity::Unknown && *self >= min
    }
}

/// One advisory affecting one installed package.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    pub package: String,
    pub kind: Kind,
    pub version: String,
    pub fixed_version: Option<String>,
    pub severity: Severity,
    pub score: Option<f64>,
    pub purl: String,
    pub location: String,
    /// The layer the package came from (`None` when an external scanner does not say).
    pub layer: Option<Digest>,
    pub summary: String,
    /// The reason of the waiver that covers this finding, if one applies.
    pub waived: Option<String>,
    /// That waiver's expiry (`YYYY-MM-DD`), so a verifier reading an attested scan later can
    /// stop honouring it once it has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver_expires: Option<String>,
}

fn ecosystem_of(p: &Package, catalog: &Catalog) -> Option<(String, String, String, Scheme)> {
    let distro = catalog.distro.as_ref();
    match p.kind {
        Kind::Deb => {
            let d = distro?;
            let eco = match d.id.as_str() {
                "debian" => format!("Debian:{}", d.version_id.as_deref()?.split('.').next()?),
                "ubuntu" => format!("Ubuntu:{}", d.version_id.as_deref()?),
                _ => return None,
            };
            let name = p.source_name.clone().unwrap_or_else(|| p.name.clone());
            let version = p
                .source_version
                .clone()
                .unwrap_or_else(|| p.version.clone());
            Some((eco, name, version, Scheme::Dpkg))
        }
        Kind::Apk => {
            let v = distro?.version_id.as_deref()?;
            let minor: Vec<&str> = v.split('.').take(2).collect();
            let name = p.source_name.clone().unwrap_or_else(|| p.name.clone());
            Some((
                format!("Alpine:v{}", minor.join(".")),
                name,
                p.version.clone(),
                Scheme::Apk,
            ))
        }
        Kind::Python => Some((
            "PyPI".into(),
            p.name.clone(),
            p.version.clone(),
            Scheme::Pep440,
        )),
        Kind::Npm => Some((
            "npm".into(),
            p.name.clone(),
            p.version.clone(),
            Scheme::Semver,
        )),
        Kind::Rpm => {
            let d = distro?;
            let major = d.version_id.as_deref()?.split('.').next()?;
            let eco = match d.id.as_str() {
                "rocky" => format!("Rocky Linux:{major}"),
                "almalinux" => format!("AlmaLinux:{major}"),
                "mageia" => format!("Mageia:{major}"),
                "opensuse-leap" => format!("openSUSE:Leap {}", d.version_id.as_deref()?),
                _ => return None,
            };
            Some((eco, p.name.clone(), p.version.clone(), Scheme::Rpm))
        }
        Kind::Go => {
            // Go advisories write versions without the `v`, and the toolchain as `stdlib`.
            let mut v = p.version.trim_start_matches('v').to_string();
            if p.name == "stdlib" && v.matches('.').count() == 1 {
                v.push_str(".0");
            }
            Some(("Go".into(), p.name.clone(), v, Scheme::Semver))
        }
        Kind::Cargo => Some((
            "crates.io".into(),
            p.name.clone(),
            p.version.clone(),
            Scheme::Semver,
        )),
        Kind::Other => None,
    }
}

/// The names a package may be filed under: rpm distributions file advisories under binary or
/// source package names, depending on the distribution.
fn names_of(p: &Package, primary: &str) -> Vec<String> {
    let mut names = vec![primary.to_string()];
    if p.kind == Kind::Rpm {
        if let Some(src) = p.source_name.as_ref().filter(|s| *s != primary) {
            names.push(src.clone());
        }
    }
    names
}

/// Whether `version` is affected per one `affected[]` entry; returns the first fix above it.
fn affected(version: &str, a: &Affected, scheme: Scheme) -> Option<Option<String>> {
    if a.versions.iter().any(|v| v == version) {
        return Some(None);
    }
    for range in &a.ranges {
        let scheme = if range.kind == "SEMVER" {
            Scheme::Semver
        } else {
            scheme
        };
        let cmp = |x: &str, y: &str| -> Option<Ordering> {
            if x == "0" {
                return Some(if y == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Less
                });
            }
            if y == "0" {
                return Some(Ordering::Greater);
            }
            version::compare(scheme, x, y)
        };
        let value = |e: &Event| match e {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => {
                v.clone()
            }
        };
        let mut events = range.events.clone();
        events.sort_by(|x, y| cmp(&value(x), &value(y)).unwrap_or(Ordering::Equal));
        let mut vulnerable = false;
        let mut within_limit = !events.iter().any(|e| matches!(e, Event::Limit(_)));
        for e in &events {
            let o = cmp(version, &value(e))?;
            match e {
                Event::Introduced(_) if o != Ordering::Less => vulnerable = true,
                Event::Fixed(_) if o != Ordering::Less => vulnerable = false,
                Event::LastAffected(_) if o == Ordering::Greater => vulnerable = false,
                Event::Limit(_) if o == Ordering::Less => within_limit = true,
                _ => {}
            }
        }
        if vulnerable && within_limit {
            let fixed = events.iter().find_map(|e| match e {
                Event::Fixed(f) if cmp(version, f) == Some(Ordering::Less) => Some(f.clone()),
                _ => None,
            });
            return Some(fixed);
        }
    }
    None
}

/// Catalog an image and load the part of the OSV database at `db_path` its packages need.
/// Blocking: call it from `spawn_blocking`.
pub fn catalog_and_database(
    layout: &crate::oci::layout::Layout,
    manifest: &crate::oci::types::Manifest,
    db_path: &std::path::Path,
    progress: &crate::progress::Progress,
) -> Result<(Catalog, Database)> {
    let catalog = crate::sbom::catalog_image(layout, manifest, progress)?;
    let wanted = wanted_keys(&catalog);
    let (db, _) = Database::load_cached_for(db_path, Some(&wanted), progress)?;
    Ok((catalog, db))
}

/// The index keys under which advisories for `catalog`'s packages are filed, for
/// [`osv::Database::load_cached_for`].
pub fn wanted_keys(catalog: &Catalog) -> std::collections::HashSet<String> {
    let mut keys = std::collections::HashSet::new();
    for p in &catalog.packages {
        if let Some((ecosystem, name, _, _)) = ecosystem_of(p, catalog) {
            for n in names_of(p, &name) {
                keys.insert(osv::key(&ecosystem, &n));
            }
        }
    }
    keys
}

/// Match every package of `catalog` against `db`. Sorted by severity (worst first), id, package.
pub fn match_catalog(catalog: &Catalog, db: &Database) -> Vec<Finding> {
    let mut findings = Vec::new();
    for p in &catalog.packages {
        let Some((ecosystem, name, version, scheme)) = ecosystem_of(p, catalog) else {
            continue;
        };
        let entries = names_of(p, &name)
            .iter()
            .filter_map(|n| db.index.get(&osv::key(&ecosystem, n)))
            .flatten()
            .collect::<Vec<_>>();
        for a in entries {
            let same = if ecosystem.contains(':') {
                a.ecosystem == ecosystem
            } else {
                a.ecosystem.split(':').next() == Some(&ecosystem)
            };
            if !same {
                continue;
            }
            if let Some(fixed) = affected(&version, a, scheme) {
                let adv = &db.advisories[a.advisory];
                if findings.iter().any(|f: &Finding| {
                    f.id == adv.id
                        && f.package == p.name
                        && f.version == p.version
                        && f.location == p.location
                }) {
                    continue;
                }
                findings.push(Finding {
                    id: adv.id.clone(),
                    aliases: adv.aliases.clone(),
                    package: p.name.clone(),
                    kind: p.kind,
                    version: p.version.clone(),
                    fixed_version: fixed,
                    severity: adv.severity,
                    score: adv.score,
                    purl: p.purl.clone(),
                    location: p.location.clone(),
                    layer: Some(p.layer.clone()),
                    summary: adv.summary.clone(),
                    waived: None,
                    waiver_expires: None,
                });
            }
        }
    }
    sort_findings(&mut findings);
    findings
}

/// Worst first, then by id and package: the order every report lists findings in.
fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.id.cmp(&b.id))
            .then(a.package.cmp(&b.package))
    });
}

/// The gate's verdict over a list of findings.
#[derive(Clone, Debug, Serialize)]
pub struct GateResult {
    pub threshold: Threshold,
    pub failing: Vec<String>,
    pub expired_waivers: Vec<String>,
    /// Unexpired waivers that matched no finding (a typo, or a finding that is gone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unused_waivers: Vec<String>,
    pub passed: bool,
}

/// Whether a waiver's `package` names the finding's package, compared the way its ecosystem
/// compares names: PyPI by PEP 503 normalisation, crates.io with `-`/`_` alike and case folded,
/// Go module paths exactly, everything else case-insensitively.
fn same_package(kind: Kind, waiver: &str, finding: &str) -> bool {
    match kind {
        Kind::Python => crate::sbom::purl::pep503(waiver) == crate::sbom::purl::pep503(finding),
        Kind::Cargo => {
            let fold = |s: &str| s.to_ascii_lowercase().replace('_', "-");
            fold(waiver) == fold(finding)
        }
        Kind::Go => waiver == finding,
        _ => waiver.eq_ignore_ascii_case(finding),
    }
}

/// Apply waivers (unexpired ones only; `today` is `YYYY-MM-DD`) and the threshold.
pub fn gate(
    findings: &mut [Finding],
    threshold: Threshold,
    waivers: &[Waiver],
    today: &str,
) -> Result<GateResult> {
    let mut expired = Vec::new();
    let mut unused = Vec::new();
    for w in waivers {
        if time::Date::parse(
            &w.expires,
            &time::macros::format_description!("[year]-[month]-[day]"),
        )
        .is_err()
        {
            return Err(Error::usage(format!(
                "waiver `{}`: expires `{}` is not a YYYY-MM-DD date",
                w.id, w.expires
            )));
        }
        if w.reason.trim().is_empty() {
            return Err(Error::usage(format!("waiver `{}` has no reason", w.id))
                .with_hint("say why the finding is acceptable"));
        }
        if w.expires.as_str() < today {
            expired.push(format!(
                "waiver for {} expired on {} and no longer applies",
                w.id, w.expires
            ));
            continue;
        }
        let mut used = false;
        for f in findings.iter_mut() {
            let id_matches = f.id.eq_ignore_ascii_case(&w.id)
                || f.aliases.iter().any(|a| a.eq_ignore_ascii_case(&w.id));
            let pkg_matches = w
                .package
                .as_ref()
                .is_none_or(|p| same_package(f.kind, p, &f.package));
            if id_matches && pkg_matches {
                f.waived = Some(w.reason.clone());
                f.waiver_expires = Some(w.expires.clone());
                used = true;
            }
        }
        if !used {
            unused.push(format!(
                "waiver for {}{} matches no finding",
                w.id,
                w.package
                    .as_ref()
                    .map(|p| format!(" (package `{p}`)"))
                    .unwrap_or_default()
            ));
        }
    }
    let failing: Vec<String> = findings
        .iter()
        .filter(|f| f.waived.is_none() && f.severity.trips(threshold))
        .map(|f| {
            format!(
                "{} ({}) in {} {}{}",
                f.id,
                f.severity.as_str(),
                f.package,
                f.version,
                f.fixed_version
                    .as_ref()
                    .map(|v| format!(", fixed in {v}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    Ok(GateResult {
        threshold,
        passed: failing.is_empty(),
        failing,
        expired_waivers: expired,
        unused_waivers: unused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::catalog::Distro;

    fn db_from(records: &[&str]) -> Database {
        let dir = tempfile::tempdir().unwrap();
        for (i, r) in records.iter().enumerate() {
            std::fs::write(dir.path().join(format!("{i}.json")), r).unwrap();
        }
        Database::load(dir.path()).unwrap()
    }

    fn pkg(kind: Kind, name: &str, version: &str, source: Option<&str>) -> Package {
        Package {
            kind,
            name: name.into(),
            version: version.into(),
            source_name: source.map(String::from),
            source_version: source.map(|_| version.to_string()),
            arch: None,
            licenses: vec![],
            location: "/x".into(),
            layer: Digest::of(b"l"),
            purl: String::new(),
        }
    }

    // Hand-written edge-case records (not real advisories): withdrawn, last_affected, limit, epochs.
    const HAND_LAST_AFFECTED: &str = r#"{"id":"HAND-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"demo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"last_affected":"1.5"}]}]}],"database_specific":{"severity":"HIGH"}}"#;
    const HAND_WITHDRAWN: &str = r#"{"id":"HAND-2","modified":"2026-01-01T00:00:00Z","withdrawn":"2026-01-02T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"demo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#;
    const HAND_EPOCH: &str = r#"{"id":"HAND-3","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"src"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:1.0-1~deb12u1"}]}]}]}"#;
    const HAND_BAD_RANGE: &str = r#"{"id":"HAND-4","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"WEIRD","events":[{"introduced":"0"}]}]}]}"#;

    #[test]
    fn ranges_and_edge_cases() {
        let db = db_from(&[
            HAND_LAST_AFFECTED,
            HAND_WITHDRAWN,
            HAND_EPOCH,
            HAND_BAD_RANGE,
            "{not json",
        ]);
        assert_eq!(db.withdrawn, 1);
        assert_eq!(db.warnings.len(), 2, "{:?}", db.warnings);
        let catalog = Catalog {
            distro: Some(Distro {
                id: "debian".into(),
                version_id: Some("12".into()),
                ..Default::default()
            }),
            packages: vec![
                pkg(Kind::Python, "Demo", "1.5", None),
                pkg(Kind::Python, "demo", "1.5.1", None),
                pkg(Kind::Deb, "libsrc1", "9.9-1", Some("src")),
                pkg(Kind::Deb, "libsrc2", "1:0.9-1", Some("src")),
            ],
            warnings: vec![],
        };
        let f = match_catalog(&catalog, &db);
        let got: Vec<(&str, &str, &str)> = f
            .iter()
            .map(|f| (f.id.as_str(), f.package.as_str(), f.version.as_str()))
            .collect();
        // 9.9-1 has epoch 0, which sorts before epoch 1: affected. 1:0.9-1 < 1:1.0-1~deb12u1: affected.
        assert_eq!(
            got,
            vec![
                ("HAND-1", "Demo", "1.5"),
                ("HAND-3", "libsrc1", "9.9-1"),
                ("HAND-3", "libsrc2", "1:0.9-1")
            ]
        );
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn loads_an_osv_zip() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("HAND-1.json", options).unwrap();
        zip.write_all(HAND_LAST_AFFECTED.as_bytes()).unwrap();
        zip.start_file("README.txt", options).unwrap();
        zip.write_all(b"not a record").unwrap();
        zip.start_file("broken.json", options).unwrap();
        zip.write_all(b"{").unwrap();
        zip.finish().unwrap();
        let db = Database::load(&path).unwrap();
        assert_eq!(db.advisories.len(), 1);
        assert_eq!(db.warnings.len(), 1);
        assert!(Database::load(&dir.path().join("missing.zip")).is_err());
    }

    #[test]
    fn index_cache_is_never_read_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("osv");
        std::fs::create_dir(&db).unwrap();
        std::fs::write(db.join("a.json"), HAND_LAST_AFFECTED).unwrap();
        Database::load_cached(&db).unwrap();
        let cache = osv::cache_path(&db).unwrap();
        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::rename(&cache, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &cache).unwrap();
        let (db, cached) = Database::load_cached(&db).unwrap();
        assert!(!cached && db.advisories.len() == 1);
    }

    #[test]
    fn index_is_cached_and_rebuilt_when_the_database_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), HAND_LAST_AFFECTED).unwrap();
        let (db, cached) = Database::load_cached(dir.path()).unwrap();
        assert!(!cached && db.advisories.len() == 1);
        let (db, cached) = Database::load_cached(dir.path()).unwrap();
        assert!(
            cached && db.advisories.len() == 1,
            "the cache file must not be read as a record"
        );
        std::fs::write(dir.path().join("b.json"), HAND_EPOCH).unwrap();
        let (db, cached) = Database::load_cached(dir.path()).unwrap();
        assert!(!cached && db.advisories.len() == 2);
    }

    #[test]
    fn a_filtered_cached_load_finds_the_same_and_keeps_only_what_it_needs() {
        let dir = tempfile::tempdir().unwrap();
        for (name, rec) in [
            ("a.json", HAND_LAST_AFFECTED),
            ("b.json", HAND_EPOCH),
            ("c.json", HAND_BAD_RANGE),
        ] {
            std::fs::write(dir.path().join(name), rec).unwrap();
        }
        let catalog = Catalog {
            distro: None,
            packages: vec![pkg(Kind::Python, "Demo", "1.5", None)],
            warnings: vec![],
        };
        let (full, _) = Database::load_cached(dir.path()).unwrap();
        let wanted = wanted_keys(&catalog);
        let (part, cached) =
            Database::load_cached_for(dir.path(), Some(&wanted), &Default::default()).unwrap();
        assert!(cached);
        let ids = |db: &Database| -> Vec<String> {
            match_catalog(&catalog, db)
                .into_iter()
                .map(|f| f.id)
                .collect()
        };
        assert_eq!(ids(&full), vec!["HAND-1"]);
        assert_eq!(ids(&part), ids(&full));
        assert_eq!(
            part.advisories.len(),
            full.advisories.len(),
            "record count kept"
        );
        assert_eq!(part.index.len(), 1, "only the image's packages are indexed");
        assert_eq!(
            part.advisories.iter().filter(|a| !a.id.is_empty()).count(),
            1,
            "unneeded advisories are placeholders"
        );
    }

    #[test]
    fn waivers_apply_until_they_expire() {
        let db = db_from(&[HAND_LAST_AFFECTED]);
        let catalog = Catalog {
            distro: None,
            packages: vec![pkg(Kind::Python, "demo", "1.2", None)],
            warnings: vec![],
        };
        let waiver = |expires: &str| Waiver {
            id: "HAND-1".into(),
            package: None,
            reason: "not reachable".into(),
            expires: expires.into(),
        };
        let mut f = match_catalog(&catalog, &db);
        let g = gate(
            &mut f,
            Threshold::High,
            &[waiver("2027-01-31")],
            "2026-11-25",
        )
        .unwrap();
        assert!(g.passed && f[0].waived.is_some());
        let mut f = match_catalog(&catalog, &db);
        let g = gate(
            &mut f,
            Threshold::High,
            &[waiver("2026-01-31")],
            "2026-11-25",
        )
        .unwrap();
        assert!(!g.passed);
        assert_eq!(g.expired_waivers.len(), 1);
        let mut f = match_catalog(&catalog, &db);
        assert!(
            gate(&mut f, Threshold::Critical, &[], "2026-11-25")
                .unwrap()
                .passed
        );
    }

    #[test]
    fn waiver_packages_compare_as_their_ecosystem_does_and_unused_ones_are_reported() {
        let finding = |kind, name: &str| Finding {
            id: "GHSA-x".into(),
            aliases: vec!["CVE-2024-1".into()],
            package: name.into(),
            kind,
            version: "1".into(),
            fixed_version: None,
            severity: Severity::High,
            score: None,
            purl: String::new(),
            location: String::new(),
            layer: None,
            summary: String::new(),
            waived: None,
            waiver_expires: None,
        };
        let waiver = |id: &str, package: &str| Waiver {
            id: id.into(),
            package: Some(package.into()),
            reason: "r".into(),
            expires: "2027-01-01".into(),
        };
        for (kind, finding_name, waiver_name, matches) in [
            (Kind::Python, "PyYAML", "pyyaml", true),
            (Kind::Python, "zope.interface", "Zope_Interface", true),
            (Kind::Python, "jinja2", "jinja", false),
            (Kind::Cargo, "serde_json", "serde-json", true),
            (Kind::Deb, "libssl3", "LIBSSL3", true),
            (Kind::Go, "github.com/BurntSushi/toml", "github.com/burntsushi/toml", false),
        ] {
            let mut f = vec![finding(kind, finding_name)];
            let g = gate(
                &mut f,
                Threshold::High,
                &[waiver("cve-2024-1", waiver_name)],
                "2026-11-25",
            )
            .unwrap();
            assert_eq!(g.passed, matches, "{finding_name} vs {waiver_name}");
            assert_eq!(g.unused_waivers.len(), usize::from(!matches));
        }
    }
}

/// What to scan against and how strictly.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    pub threshold: Threshold,
    pub waivers: Vec<Waiver>,
    /// Today as `YYYY-MM-DD` (passed in: waiver expiry depends on it).
    pub today: String,
}

/// Match a catalogued image and apply the gate.
pub fn scan_catalog(
    image: &str,
    digest: &Digest,
    catalog: &Catalog,
    db: &Database,
    db_name: &str,
    options: &ScanOptions,
) -> Result<report::ScanReport> {
    let mut findings = match_catalog(catalog, db);
    let gate = gate(
        &mut findings,
        options.threshold,
        &options.waivers,
        &options.today,
    )?;
    Ok(report::ScanReport {
        image: image.to_string(),
        digest: digest.to_string(),
        scanner: "cleanpipe".into(),
        database: db_name.to_string(),
        records: db.advisories.len(),
        database_warnings: db.warnings.len(),
        packages: catalog.packages.len(),
        operating_system: catalog.distro.as_ref().map(|d| match &d.version_id {
            Some(v) => format!("{} {v}", d.id),
            None => d.id.clone(),
        }),
        findings,
        gate,
    })
}

/// Apply the gate to what an external scanner found.
pub fn scan_external(
    image: &str,
    digest: &Digest,
    external: external::ExternalReport,
    options: &ScanOptions,
) -> Result<report::ScanReport> {
    let mut findings = external.findings;
    sort_findings(&mut findings);
    let gate = gate(
        &mut findings,
        options.threshold,
        &options.waivers,
        &options.today,
    )?;
    Ok(report::ScanReport {
        image: image.to_string(),
        digest: digest.to_string(),
        database: format!("{}'s own database", external.scanner),
        scanner: external.scanner,
        records: 0,
        database_warnings: 0,
        packages: external.packages,
        operating_system: None,
        findings,
        gate,
    })
}

/// What changed between two scans of the same kind of image (a base and its update): the
/// findings only `after` has, and those only `before` had. A finding is the same when its
/// advisory id and package are (a version bump that keeps the advisory is neither new nor fixed).
pub fn finding_delta<'a>(
    before: &'a [Finding],
    after: &'a [Finding],
) -> (Vec<&'a Finding>, Vec<&'a Finding>) {
    let key = |f: &Finding| (f.id.clone(), f.package.clone());
    let before_keys: std::collections::HashSet<_> = before.iter().map(key).collect();
    let after_keys: std::collections::HashSet<_> = after.iter().map(key).collect();
    let new = after
        .iter()
        .filter(|f| !before_keys.contains(&key(f)))
        .collect();
    let fixed = before
        .iter()
        .filter(|f| !after_keys.contains(&key(f)))
        .collect();
    (new, fixed)
}

/// Today's UTC date as `YYYY-MM-DD`.
pub fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}
