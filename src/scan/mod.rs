//! Vulnerability scanning: OSV records ([`osv`]) matched against catalogued packages with each
//! ecosystem's version ordering ([`version`]), severities from CVSS ([`cvss`]), a gate with
//! waivers, and reports as a table, JSON and SARIF 2.1.0 ([`report`]).

pub mod coverage;
pub mod cvss;
pub mod ecosystem;
pub mod external;
pub mod gate;
pub mod managed;
pub mod osv;
pub mod report;
pub mod version;
pub mod vex;

use std::cmp::Ordering;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::oci::types::Digest;
use crate::sbom::catalog::{Catalog, Kind};
use crate::scan::gate::{Threshold, UncheckedAllowance, Waiver};
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

    /// Whether this severity reaches `threshold`. An `unknown` severity is not a pass: it trips
    /// any gate at `high` or below (it could be high), and only `critical` lets it through.
    pub fn trips(&self, threshold: Threshold) -> bool {
        let min = match threshold {
            Threshold::None => return false,
            Threshold::Low => Severity::Low,
            Threshold::Medium => Severity::Medium,
            Threshold::High => Severity::High,
            Threshold::Critical => Severity::Critical,
        };
        match self {
            Severity::Unknown => min <= Severity::High,
            s => *s >= min,
        }
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
    /// Where `severity` came from, or why it is unknown (cleanpipe's own matches).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity_source: String,
    /// The ids the advisory derives from, followed through the database (`USN-…` →
    /// `UBUNTU-CVE-…` → `CVE-…`): waivers match these too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// The reason of the waiver that covers this finding, if one applies.
    pub waived: Option<String>,
    /// That waiver's expiry (`YYYY-MM-DD`), so a verifier reading an attested scan later can
    /// stop honouring it once it has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver_expires: Option<String>,
}

/// What one `affected[]` entry says of a version.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Affected; the first fix above the version, if any.
    Affected(Option<String>),
    NotAffected,
    /// The version cannot be ordered against the entry's range in its ecosystem's scheme: the
    /// package is not checked, never silently passed.
    Incomparable,
}

/// Whether `version` is affected per one `affected[]` entry.
fn affected(version: &str, a: &Affected, scheme: Scheme) -> Verdict {
    if a.versions.iter().any(|v| v == version) {
        return Verdict::Affected(None);
    }
    let mut incomparable = false;
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
        let mut compared = true;
        for e in &events {
            let Some(o) = cmp(version, &value(e)) else {
                compared = false;
                break;
            };
            match e {
                Event::Introduced(_) if o != Ordering::Less => vulnerable = true,
                Event::Fixed(_) if o != Ordering::Less => vulnerable = false,
                Event::LastAffected(_) if o == Ordering::Greater => vulnerable = false,
                Event::Limit(_) if o == Ordering::Less => within_limit = true,
                _ => {}
            }
        }
        if !compared {
            incomparable = true;
        } else if vulnerable && within_limit {
            let fixed = events.iter().find_map(|e| match e {
                Event::Fixed(f) if cmp(version, f) == Some(Ordering::Less) => Some(f.clone()),
                _ => None,
            });
            return Verdict::Affected(fixed);
        }
    }
    if incomparable {
        Verdict::Incomparable
    } else {
        Verdict::NotAffected
    }
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
        if let Ok(l) = ecosystem::lookup(p, catalog.distro.as_ref()) {
            for n in &l.names {
                keys.insert(osv::key(l.base(), n));
            }
        }
    }
    keys
}

/// Match every package of `catalog` against `db`. Sorted by severity (worst first), id, package.
pub fn match_catalog(catalog: &Catalog, db: &Database) -> Vec<Finding> {
    match_and_cover(catalog, db).0
}

/// [`match_catalog`], and what was checked: a package is checked when its ecosystem is known
/// and the database holds records of that ecosystem; anything else is counted as unchecked
/// with the reason.
pub fn match_and_cover(catalog: &Catalog, db: &Database) -> (Vec<Finding>, coverage::Coverage) {
    let mut findings = Vec::new();
    let mut tally = coverage::Tally::default();
    let by_id: std::collections::HashMap<&str, &osv::Advisory> = db
        .advisories
        .iter()
        .filter(|a| !a.id.is_empty())
        .map(|a| (a.id.as_str(), a))
        .collect();
    for p in &catalog.packages {
        let example = format!("{} {}", p.name, p.version);
        let l = match ecosystem::lookup(p, catalog.distro.as_ref()) {
            Ok(l) => l,
            Err(u) => {
                tally.unchecked(&u.ecosystem, &u.reason, example, &p.purl);
                continue;
            }
        };
        if !db.ecosystems.keys().any(|e| l.accepts(e)) {
            let reason = format!("the database holds no `{}` records", l.ecosystem);
            tally.unchecked(&l.ecosystem, &reason, example, &p.purl);
            continue;
        }
        if l.version.is_empty() {
            tally.unchecked(&l.ecosystem, "no version", example, &p.purl);
            continue;
        }
        let entries = l
            .names
            .iter()
            .filter_map(|n| db.index.get(&osv::key(l.base(), n)))
            .flatten()
            .filter(|a| l.accepts(&a.ecosystem))
            .collect::<Vec<_>>();
        let verdicts: Vec<(&&osv::Affected, Verdict)> = entries
            .iter()
            .map(|a| (a, affected(&l.version, a, l.scheme)))
            .collect();
        if let Some((a, _)) = verdicts.iter().find(|(_, v)| *v == Verdict::Incomparable) {
            let reason = format!(
                "its version cannot be ordered against an advisory's range in `{}` order",
                l.ecosystem
            );
            let example = format!("{example} against {}", db.advisories[a.advisory].id);
            tally.unchecked(&l.ecosystem, &reason, example, &p.purl);
            continue;
        }
        tally.checked(&l.ecosystem);
        for (a, verdict) in verdicts {
            let Verdict::Affected(fixed) = verdict else {
                continue;
            };
            let adv = &db.advisories[a.advisory];
            if findings.iter().any(|f: &Finding| {
                f.id == adv.id
                    && f.package == p.name
                    && f.version == p.version
                    && f.location == p.location
            }) {
                continue;
            }
            let upstream = upstream_chain(adv, &by_id);
            let (severity, score, severity_source) = match &a.rating {
                Some(r) => (r.severity, r.score, r.source.clone()),
                None if adv.severity != Severity::Unknown => {
                    (adv.severity, adv.score, adv.severity_source.clone())
                }
                // Last: the upstream CVE record's rating, when the database holds it.
                None => adv
                    .aliases
                    .iter()
                    .chain(&upstream)
                    .find_map(|id| db.cve_ratings.get(id).map(|r| (id, r)))
                    .map(|(id, r)| {
                        (
                            r.severity,
                            r.score,
                            format!("{} (the upstream {id} record)", r.source),
                        )
                    })
                    .unwrap_or((adv.severity, adv.score, adv.severity_source.clone())),
            };
            findings.push(Finding {
                id: adv.id.clone(),
                aliases: adv.aliases.clone(),
                package: p.name.clone(),
                kind: p.kind,
                version: p.version.clone(),
                fixed_version: fixed,
                severity,
                score,
                purl: p.purl.clone(),
                location: p.location.clone(),
                layer: Some(p.layer.clone()),
                summary: adv.summary.clone(),
                severity_source,
                upstream,
                waived: None,
                waiver_expires: None,
            });
        }
    }
    for u in &catalog.uncatalogued {
        tally.unchecked(&u.ecosystem, &u.reason, u.path.clone(), &u.path);
    }
    sort_findings(&mut findings);
    let mut coverage = tally.finish();
    coverage.unmatched_database_ecosystems = db
        .ecosystems
        .iter()
        .filter(|(e, _)| !ecosystem::matchable(e))
        .map(|(e, n)| (e.clone(), *n))
        .collect();
    (findings, coverage)
}

/// The ids `adv` derives from, followed through the records the database holds (each one's
/// `upstream` and aliases), without repeats: `USN-6553-1` → `UBUNTU-CVE-2023-4911` →
/// `CVE-2023-4911`.
fn upstream_chain(
    adv: &osv::Advisory,
    by_id: &std::collections::HashMap<&str, &osv::Advisory>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut queue: Vec<&str> = adv.upstream.iter().map(String::as_str).collect();
    while let Some(id) = queue.pop() {
        if id == adv.id || out.iter().any(|o| o == id) || out.len() >= 64 {
            continue;
        }
        out.push(id.to_string());
        if let Some(next) = by_id.get(id) {
            queue.extend(next.upstream.iter().map(String::as_str));
            queue.extend(next.aliases.iter().map(String::as_str));
        }
    }
    out.sort();
    out
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
    /// Packages that could not be checked (see [`coverage::Coverage`]): each line fails the gate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
    /// Unchecked packages the pipeline accepted in writing, with its reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_unchecked: Vec<String>,
    /// The written relaxations in force (`unknown_severity: ignore`, `only_fixed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relaxations: Vec<String>,
    /// Findings a VEX statement (`not_affected`, `fixed`) took out of the gate; they are listed
    /// in the report's `suppressed`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: usize,
    /// VEX statements that applied to no finding, each with why (said, never dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vex_unused: Vec<String>,
    /// Findings whose deciding VEX statement keeps them in the gate (`affected`,
    /// `under_investigation`), each with the statement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vex_kept: Vec<String>,
    /// Findings a base image's signed statement would have covered, had the child not changed
    /// the package (`base VEX not applied: …`): judged on their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vex_not_applied: Vec<String>,
    /// Base VEX attestations found and not used (not signed by the base's trusted signer, or
    /// unreadable), each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vex_ignored: Vec<String>,
    pub passed: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A finding a VEX statement took out of the gate, with that statement.
#[derive(Clone, Debug, Serialize)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    pub vex: vex::Applied,
}

/// Apply the VEX documents of `options` to `findings` of `image` (whose installed packages are
/// `packages`, as purls): findings whose deciding statement suppresses move to the second list.
/// Returns the findings left, those suppressed, and notes: statements that applied to nothing,
/// and findings a statement keeps in the gate.
pub fn apply_vex(
    findings: Vec<Finding>,
    image: &str,
    digest: &Digest,
    packages: &[String],
    options: &ScanOptions,
) -> (Vec<Finding>, Vec<Suppressed>, VexNotes) {
    if options.vex.is_empty() {
        return (findings, vec![], VexNotes::default());
    }
    let reference = options.image_reference.as_deref().unwrap_or(image);
    let decisions = vex::apply(
        &options.vex,
        &vex::Image::of(reference, digest),
        packages,
        &findings,
    );
    let mut kept = Vec::new();
    let mut suppressed = Vec::new();
    let mut notes = VexNotes {
        unused: decisions.unused,
        kept: vec![],
        not_applied: decisions.not_applied,
    };
    for (f, applied) in findings.into_iter().zip(decisions.per_finding) {
        match applied {
            Some(a) if a.status.suppresses() => suppressed.push(Suppressed { finding: f, vex: a }),
            Some(a) => {
                notes.kept.push(format!(
                    "{} in {} {} stays in the gate: {}",
                    f.id,
                    f.package,
                    f.version,
                    a.why_kept()
                ));
                kept.push(f)
            }
            None => kept.push(f),
        }
    }
    (kept, suppressed, notes)
}

/// What [`apply_vex`] says besides the suppressions.
#[derive(Debug, Default)]
pub struct VexNotes {
    /// Statements that applied to no finding.
    pub unused: Vec<String>,
    /// Findings whose deciding statement is `affected` or `under_investigation`.
    pub kept: Vec<String>,
    /// Base statements not applied because the child changed the package.
    pub not_applied: Vec<String>,
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
    gate_with(
        findings,
        &ScanOptions {
            threshold,
            waivers: waivers.to_vec(),
            today: today.to_string(),
            ignore_unknown_severity: None,
            only_fixed: None,
            unchecked_allowed: vec![],
            vex: vec![],
            image_reference: None,
            vex_ignored: vec![],
        },
    )
}

/// [`gate`] with every option of a pipeline's scan block.
pub fn gate_with(findings: &mut [Finding], options: &ScanOptions) -> Result<GateResult> {
    let (threshold, waivers, today) = (options.threshold, &options.waivers, options.today.as_str());
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
                || f.aliases
                    .iter()
                    .chain(&f.upstream)
                    .any(|a| a.eq_ignore_ascii_case(&w.id));
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
        .filter(|f| options.fails(f))
        .map(|f| {
            let severity = if f.severity == Severity::Unknown {
                // Unknown is not a pass: say why it is unknown.
                format!(
                    "unknown severity: {}",
                    if f.severity_source.is_empty() {
                        "the scanner gave none"
                    } else {
                        &f.severity_source
                    }
                )
            } else {
                f.severity.as_str().to_string()
            };
            format!(
                "{} ({severity}) in {} {}{}",
                f.id,
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
        unchecked: vec![],
        relaxations: options.relaxations(),
        allowed_unchecked: vec![],
        suppressed: 0,
        vex_unused: vec![],
        vex_kept: vec![],
        vex_not_applied: vec![],
        vex_ignored: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::catalog::{Distro, Package};

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
            purl: format!("pkg:{}/{name}@{version}", kind.as_str()),
            identified_from: None,
        }
    }

    #[test]
    fn a_version_that_cannot_be_ordered_is_unchecked_not_passed() {
        let db = db_from(&[
            r#"{"id": "HAND-PACKAGIST-9", "modified": "2026-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Packagist", "name": "acme/lib"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0.0"}, {"fixed": "1.2.0"}]}]}]}"#,
        ]);
        let catalog = Catalog {
            packages: vec![
                pkg(Kind::Composer, "acme/lib", "dev-main", None),
                pkg(Kind::Composer, "acme/other", "dev-main", None),
            ],
            ..Default::default()
        };
        let (findings, coverage) = match_and_cover(&catalog, &db);
        assert!(findings.is_empty());
        let lines = coverage.unchecked_lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("cannot be ordered")
                && lines[0].contains("acme/lib dev-main against HAND-PACKAGIST-9"),
            "{lines:?}"
        );
    }

    // Hand-written edge-case records (not real advisories): withdrawn, last_affected, limit, epochs.
    const HAND_LAST_AFFECTED: &str = r#"{"id":"HAND-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"demo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"last_affected":"1.5"}]}]}],"database_specific":{"severity":"HIGH"}}"#;
    const HAND_WITHDRAWN: &str = r#"{"id":"HAND-2","modified":"2026-01-01T00:00:00Z","withdrawn":"2026-01-02T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"demo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#;
    const HAND_EPOCH: &str = r#"{"id":"HAND-3","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"src"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:1.0-1~deb12u1"}]}]}]}"#;
    const HAND_BAD_RANGE: &str = r#"{"id":"HAND-4","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"WEIRD","events":[{"introduced":"0"}]}]}]}"#;

    fn distro(id: &str, version_id: &str, version: Option<&str>) -> Option<Distro> {
        Some(Distro {
            id: id.into(),
            version_id: Some(version_id.into()),
            version: version.map(String::from),
            ..Default::default()
        })
    }

    fn options(threshold: Threshold, waivers: Vec<Waiver>) -> ScanOptions {
        ScanOptions {
            threshold,
            waivers,
            today: "2026-12-01".into(),
            ignore_unknown_severity: None,
            only_fixed: None,
            unchecked_allowed: vec![],
            vex: vec![],
            image_reference: None,
            vex_ignored: vec![],
        }
    }

    fn scan(catalog: &Catalog, db: &Database, o: &ScanOptions) -> report::ScanReport {
        scan_catalog("img", &Digest::of(b"i"), catalog, db, "db", o).unwrap()
    }

    /// Records in osv.dev's shapes for the distributions the old matcher missed: the gate
    /// finds them, and what it cannot check fails it instead of passing.
    #[test]
    fn the_gate_checks_every_distribution_and_fails_on_what_it_cannot() {
        let wolfi = r#"{"id":"CGA-x","modified":"2026-01-01T00:00:00Z","aliases":["CVE-2023-0286"],"affected":[{"package":{"ecosystem":"Wolfi","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.8-r1"}]}]}],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H"}]}"#;
        let ubuntu = r#"{"id":"USN-6553-1","modified":"2026-01-01T00:00:00Z","upstream":["UBUNTU-CVE-2023-4911"],"affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.35-0ubuntu3.4"}]}]}],"severity":[{"type":"Ubuntu","score":"high"}]}"#;
        let ubuntu_cve = r#"{"id":"UBUNTU-CVE-2023-4911","modified":"2026-01-01T00:00:00Z","upstream":["CVE-2023-4911"],"affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.35-0ubuntu3.4"}]}]}]}"#;
        let unknown_eco = r#"{"id":"ODD-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Plan9:4","name":"x"},"versions":["1"]}]}"#;
        let db = db_from(&[wolfi, ubuntu, ubuntu_cve, unknown_eco]);
        // With the upstream CVE record in the database, the unrated record takes its rating.
        let cve = r#"{"id":"CVE-2023-4911","modified":"2026-01-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}],"affected":[]}"#;
        let with_cve = db_from(&[ubuntu_cve, cve]);
        let image = Catalog {
            distro: distro("ubuntu", "22.04", Some("22.04.3 LTS (Jammy Jellyfish)")),
            packages: vec![pkg(Kind::Deb, "libc6", "2.35-0ubuntu3.3", Some("glibc"))],
            warnings: vec![],
            uncatalogued: vec![],
        };
        let f = match_catalog(&image, &with_cve);
        assert_eq!(f[0].severity, Severity::High, "{:?}", f[0]);
        assert!(f[0]
            .severity_source
            .contains("the upstream CVE-2023-4911 record"));
        let wolfi_image = Catalog {
            distro: distro("wolfi", "20230201", None),
            packages: vec![pkg(Kind::Apk, "libcrypto3", "3.0.8-r0", Some("openssl"))],
            warnings: vec![],
            uncatalogued: vec![],
        };
        let r = scan(&wolfi_image, &db, &options(Threshold::High, vec![]));
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert_eq!(r.findings[0].id, "CGA-x");
        assert!(!r.gate.passed && r.gate.unchecked.is_empty());
        let coverage = r.coverage.unwrap();
        assert_eq!(
            (coverage.complete, coverage.ecosystems[0].ecosystem.as_str()),
            (true, "Wolfi")
        );
        assert_eq!(
            coverage.unmatched_database_ecosystems,
            [("Plan9:4".to_string(), 1)]
        );

        let ubuntu_image = Catalog {
            distro: distro("ubuntu", "22.04", Some("22.04.3 LTS (Jammy Jellyfish)")),
            packages: vec![pkg(Kind::Deb, "libc6", "2.35-0ubuntu3.3", Some("glibc"))],
            warnings: vec![],
            uncatalogued: vec![],
        };
        let r = scan(&ubuntu_image, &db, &options(Threshold::High, vec![]));
        let ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["USN-6553-1", "UBUNTU-CVE-2023-4911"]);
        assert_eq!(r.findings[0].severity, Severity::High);
        assert!(r.findings[0].severity_source.contains("Ubuntu priority"));
        assert_eq!(
            r.findings[0].upstream,
            ["CVE-2023-4911", "UBUNTU-CVE-2023-4911"]
        );
        // The unrated record is unknown, which is not a pass; the reason is in the gate's line.
        assert_eq!(r.findings[1].severity, Severity::Unknown);
        assert!(
            r.gate
                .failing
                .iter()
                .any(|l| l.contains("unknown severity: the record carries no severity")),
            "{:?}",
            r.gate.failing
        );
        assert!(
            scan(&ubuntu_image, &db, &options(Threshold::Critical, vec![]))
                .gate
                .passed
        );
        // A waiver naming only the upstream CVE covers every record derived from it.
        let waiver = Waiver {
            id: "CVE-2023-4911".into(),
            package: None,
            reason: "not reachable".into(),
            expires: "2027-01-01".into(),
        };
        let r = scan(&ubuntu_image, &db, &options(Threshold::Low, vec![waiver]));
        assert!(r.gate.passed, "{:?}", r.gate);

        // Known distribution, no records for it; unknown distribution; rpm on Fedora.
        for (d, kind, want) in [
            (
                distro("alpine", "3.19.1", None),
                Kind::Apk,
                "the database holds no `Alpine:v3.19` records",
            ),
            (
                distro("plan9", "4", None),
                Kind::Deb,
                "distribution `plan9` has no advisory source",
            ),
            (
                distro("fedora", "40", None),
                Kind::Rpm,
                "Fedora has no advisory source on osv.dev",
            ),
        ] {
            let image = Catalog {
                distro: d,
                packages: vec![pkg(kind, "zlib", "1.3-r0", None)],
                warnings: vec![],
                uncatalogued: vec![],
            };
            let r = scan(&image, &db, &options(Threshold::Critical, vec![]));
            assert!(!r.gate.passed, "{want}");
            assert!(
                r.gate.unchecked.iter().any(|l| l.contains(want)),
                "{:?}",
                r.gate.unchecked
            );
            assert_eq!(r.coverage.unwrap().unchecked, 1);
            // With the gate off, it is still reported.
            let off = scan(&image, &db, &options(Threshold::None, vec![]));
            assert!(off.gate.passed && !off.coverage.unwrap().complete);
        }
    }

    #[test]
    fn written_relaxations_apply_and_are_stated() {
        let unrated = r#"{"id":"DSA-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.36-9+deb12u3"}]}]}]}"#;
        let unfixed = r#"{"id":"GHSA-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}],"database_specific":{"severity":"HIGH"}}"#;
        let db = db_from(&[unrated, unfixed]);
        let image = Catalog {
            distro: distro("debian", "12", None),
            packages: vec![
                pkg(Kind::Deb, "libc6", "2.36-9+deb12u1", Some("glibc")),
                pkg(Kind::Python, "a", "1.0", None),
                pkg(Kind::Npm, "left-pad", "1.0.0", None),
            ],
            warnings: vec![],
            uncatalogued: vec![],
        };
        let mut o = options(Threshold::High, vec![]);
        let r = scan(&image, &db, &o);
        assert_eq!(r.gate.failing.len(), 2, "{:?}", r.gate);
        assert_eq!(r.gate.unchecked.len(), 1, "{:?}", r.gate);
        o.ignore_unknown_severity = Some("vendor rates".into());
        o.only_fixed = Some("no fix to take".into());
        o.unchecked_allowed = vec![UncheckedAllowance {
            ecosystem: Some("npm".into()),
            cause: None,
            purl: None,
            reason: "front-end assets only".into(),
            expires: "2027-01-01".into(),
        }];
        let r = scan(&image, &db, &o);
        assert!(r.gate.passed, "{:?}", r.gate);
        assert_eq!(r.findings.len(), 2, "relaxed findings stay listed");
        assert_eq!(r.gate.relaxations.len(), 2);
        assert!(r.gate.allowed_unchecked[0].contains("front-end assets only"));
        // An expired allowance covers nothing.
        o.unchecked_allowed[0].expires = "2026-01-01".into();
        assert!(!scan(&image, &db, &o).gate.passed);
        // A purl pattern covers the packages it matches, and only those.
        o.unchecked_allowed[0] = UncheckedAllowance {
            ecosystem: None,
            cause: None,
            purl: Some("pkg:npm/left-*".into()),
            reason: "vendored assets".into(),
            expires: "2027-01-01".into(),
        };
        assert!(scan(&image, &db, &o).gate.passed);
        o.unchecked_allowed[0].purl = Some("pkg:npm/right-*".into());
        assert!(!scan(&image, &db, &o).gate.passed);
    }

    #[test]
    fn each_affected_entry_is_rated_on_its_own_and_bad_vectors_say_so() {
        let two = r#"{"id":"X-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"versions":["1"],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]},{"package":{"ecosystem":"PyPI","name":"b"},"versions":["1"],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}]}]}"#;
        let bad = r#"{"id":"X-2","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"c"},"versions":["1"]}],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L"}]}"#;
        let v4 = r#"{"id":"X-3","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"d"},"versions":["1"]}],"severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}"#;
        let db = db_from(&[two, bad, v4]);
        let catalog = Catalog {
            distro: None,
            packages: ["a", "b", "c", "d"]
                .iter()
                .map(|n| pkg(Kind::Python, n, "1", None))
                .collect(),
            warnings: vec![],
            uncatalogued: vec![],
        };
        let f = match_catalog(&catalog, &db);
        let by = |name: &str| f.iter().find(|f| f.package == name).unwrap();
        assert_eq!(by("a").severity, Severity::Critical);
        assert_eq!(by("b").severity, Severity::Low);
        assert!(by("b").severity_source.contains("affected[1]"));
        assert_eq!(by("c").severity, Severity::Unknown);
        assert!(
            by("c").severity_source.contains("cannot be read"),
            "{}",
            by("c").severity_source
        );
        assert_eq!(by("d").severity, Severity::Critical);
    }

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
            uncatalogued: vec![],
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
            uncatalogued: vec![],
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
    fn vex_suppresses_out_of_the_gate_and_every_report_still_shows_it() {
        let db = db_from(&[HAND_LAST_AFFECTED]);
        let catalog = Catalog {
            distro: None,
            packages: vec![
                pkg(Kind::Python, "demo", "1.2", None),
                pkg(Kind::Python, "other", "1.0", None),
            ],
            warnings: vec![],
            uncatalogued: vec![],
        };
        let vex_doc = |status: &str| {
            vex::parse(
                format!(
                    r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "author": "Acme", "timestamp": "2026-11-01T00:00:00Z",
                    "statements": [{{"vulnerability": {{"name": "HAND-1"}}, "products": [{{"@id": "pkg:python/demo@1.2"}}],
                    "status": "{status}", "justification": "vulnerable_code_not_present", "action_statement": "upgrade"}},
                    {{"vulnerability": {{"name": "HAND-1"}}, "products": [{{"@id": "pkg:python/absent"}}], "status": "fixed"}}]}}"#
                )
                .as_bytes(),
                "vex/app.openvex.json",
            )
            .unwrap()
        };
        let mut o = options(Threshold::High, vec![]);
        let r = scan(&catalog, &db, &o);
        assert!(!r.gate.passed, "without VEX the finding fails the gate");
        o.vex = vec![vex_doc("not_affected")];
        let r = scan(&catalog, &db, &o);
        assert!(r.gate.passed, "{:?}", r.gate);
        assert!(r.findings.is_empty());
        assert_eq!((r.suppressed.len(), r.gate.suppressed), (1, 1));
        assert_eq!(r.suppressed[0].finding.id, "HAND-1");
        assert_eq!(r.gate.vex_unused.len(), 1, "{:?}", r.gate.vex_unused);
        assert!(r.gate.vex_unused[0].contains("pkg:python/absent is not in it"));
        let digest = o.vex[0].digest.to_string();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["suppressed"][0]["id"], "HAND-1");
        assert_eq!(json["suppressed"][0]["vex"]["status"], "not_affected");
        assert_eq!(
            json["suppressed"][0]["vex"]["justification"],
            "vulnerable_code_not_present"
        );
        assert_eq!(
            json["suppressed"][0]["vex"]["document"]["digest"],
            digest.as_str()
        );
        assert_eq!(json["suppressed"][0]["vex"]["document"]["author"], "Acme");
        assert!(json["suppressed"][0]["vex"]["document"]["signer"].is_null());
        assert_eq!(json["vex"][0]["path"], "vex/app.openvex.json");
        assert_eq!(json["gate"]["suppressed"], 1);
        let table = report::table(&r);
        assert!(
            table.contains("0 finding(s), 1 suppressed by VEX"),
            "{table}"
        );
        assert!(table.contains("suppressed by VEX (1):"), "{table}");
        assert!(
            table.contains("not_affected (vulnerable_code_not_present) per `vex/app.openvex.json`#/statements/0")
                && table.contains(&digest),
            "{table}"
        );
        assert!(table.contains("note: VEX statement"), "{table}");
        let sarif = report::sarif(&r);
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0]["suppressions"][0]["kind"], "external");
        assert!(results[0]["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("vulnerable_code_not_present"));
        // `affected` keeps the finding in the gate.
        o.vex = vec![vex_doc("affected")];
        let r = scan(&catalog, &db, &o);
        assert!(!r.gate.passed && r.suppressed.is_empty() && r.findings.len() == 1);
        assert_eq!(r.gate.vex_kept.len(), 1, "{:?}", r.gate);
        assert!(
            r.gate.vex_kept[0].contains("HAND-1 in demo 1.2 stays in the gate: affected")
                && r.gate.vex_kept[0].contains("action: upgrade"),
            "{:?}",
            r.gate.vex_kept
        );
        assert!(report::table(&r).contains("note: HAND-1 in demo 1.2 stays in the gate"));
        // And so do documents naming another vulnerability: nothing is suppressed by accident.
        let mut other = vex_doc("not_affected");
        other.statements[0].vulnerability = "HAND-2".into();
        o.vex = vec![other];
        assert!(!scan(&catalog, &db, &o).gate.passed);
    }

    #[test]
    fn waivers_apply_until_they_expire() {
        let db = db_from(&[HAND_LAST_AFFECTED]);
        let catalog = Catalog {
            distro: None,
            packages: vec![pkg(Kind::Python, "demo", "1.2", None)],
            warnings: vec![],
            uncatalogued: vec![],
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
            severity_source: String::new(),
            upstream: vec![],
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
            (
                Kind::Go,
                "github.com/BurntSushi/toml",
                "github.com/burntsushi/toml",
                false,
            ),
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
    /// The pipeline's written reason to let unknown severities through, if it gave one.
    pub ignore_unknown_severity: Option<String>,
    /// The pipeline's written reason to fail only on fixable findings, if it gave one.
    pub only_fixed: Option<String>,
    /// Unchecked packages the pipeline accepts in writing.
    pub unchecked_allowed: Vec<UncheckedAllowance>,
    /// VEX documents, read and checked ([`vex::load`]): their `not_affected` and `fixed`
    /// statements take findings out of the gate (listed as suppressed, never dropped).
    pub vex: Vec<vex::Document>,
    /// The reference VEX products are matched against (`registry/repo[:tag]`), when the name
    /// a report shows is not one (a pipeline's name, a base with its platform).
    pub image_reference: Option<String>,
    /// Base VEX attestations found and not used, each with why (listed in the report).
    pub vex_ignored: Vec<String>,
}

impl ScanOptions {
    /// Whether `f` fails the gate at this threshold, the written relaxations applied.
    fn fails(&self, f: &Finding) -> bool {
        if f.waived.is_some() || !f.severity.trips(self.threshold) {
            return false;
        }
        if f.severity == Severity::Unknown && self.ignore_unknown_severity.is_some() {
            return false;
        }
        !(self.only_fixed.is_some() && f.fixed_version.is_none())
    }

    /// The relaxations in force, as the report and the attestation state them.
    fn relaxations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(why) = &self.ignore_unknown_severity {
            out.push(format!(
                "findings of unknown severity do not fail the gate: {why}"
            ));
        }
        if let Some(why) = &self.only_fixed {
            out.push(format!(
                "only findings with a fixed version fail the gate: {why}"
            ));
        }
        out
    }
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
    let (findings, mut coverage) = match_and_cover(catalog, db);
    let packages: Vec<String> = catalog.packages.iter().map(|p| p.purl.clone()).collect();
    let (mut findings, suppressed, vex_notes) =
        apply_vex(findings, image, digest, &packages, options);
    coverage.database = Some(coverage::DatabaseIdentity {
        source: db_name.to_string(),
        digest: db.content_digest.clone(),
        newest_modified: db.newest_modified.clone(),
        records: db.advisories.len(),
        archives: db.archives.clone(),
        fetched: coverage::DatabaseIdentity::oldest_fetched(&db.archives),
        age_seconds: None,
    });
    if !db.archives.is_empty() {
        coverage.database_completeness = "complete".into();
    }
    let mut gate = gate_with(&mut findings, options)?;
    gate.suppressed = suppressed.len();
    gate.vex_unused = vex_notes.unused;
    gate.vex_kept = vex_notes.kept;
    gate.vex_not_applied = vex_notes.not_applied;
    gate.vex_ignored = options.vex_ignored.clone();
    // What was not checked fails the gate (unless the gate is off or the pipeline accepted it
    // in writing): never clean by omission.
    if options.threshold != Threshold::None {
        let (allowed, not) = coverage.split_allowed(&options.unchecked_allowed, &options.today);
        gate.allowed_unchecked = allowed;
        if !not.is_empty() {
            gate.unchecked = not;
            gate.passed = false;
        }
    }
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
        suppressed,
        vex: options.vex.iter().map(vex::Document::reference).collect(),
        gate,
        coverage: Some(coverage),
    })
}

/// Apply the gate to what an external scanner found.
pub fn scan_external(
    image: &str,
    digest: &Digest,
    external: external::ExternalReport,
    options: &ScanOptions,
) -> Result<report::ScanReport> {
    let packages: Vec<String> = external.findings.iter().map(|f| f.purl.clone()).collect();
    let (mut findings, suppressed, vex_notes) =
        apply_vex(external.findings, image, digest, &packages, options);
    sort_findings(&mut findings);
    let mut gate = gate_with(&mut findings, options)?;
    gate.suppressed = suppressed.len();
    gate.vex_unused = vex_notes.unused;
    gate.vex_kept = vex_notes.kept;
    gate.vex_not_applied = vex_notes.not_applied;
    gate.vex_ignored = options.vex_ignored.clone();
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
        suppressed,
        vex: options.vex.iter().map(vex::Document::reference).collect(),
        gate,
        coverage: None,
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
