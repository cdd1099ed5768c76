//! GitLab's container scanning report (`outputs/gl-container-scanning-report.json`, for
//! `artifacts:reports:container_scanning`), in the security report schema 15.0.x: `version`,
//! `scan` (analyzer, scanner, `type: container_scanning`, start and end time as
//! `YYYY-MM-DDTHH:MM:SS` UTC, status) and one vulnerability per finding (id, name, description,
//! severity, solution, identifiers, location with package, version, operating system and
//! image). Fields that schema 15 removed (`category`, `message`, `cve`, `confidence`,
//! per-vulnerability `scanner`) are not written; `remediations` are not either, since they
//! need a patch (`diff`) and cleanpipe has none to offer.
//!
//! A listener of the run's events: it keeps the built image's scan when the build stage
//! reports it (also when its gate then fails: that is when the report matters most) and writes
//! the document once the run is over, from the same findings as the SARIF and JSON reports.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::error::Result;
use crate::redact::Redactor;
use crate::run::executor::RunReport;
use crate::run::sinks::{Finished, Notice, Sink, Written};
use crate::run::Event;
use crate::scan::report::ScanReport;
use crate::scan::{Finding, Severity};

/// The file name GitLab's own analyzer writes, so job templates can use it unchanged.
pub const FILE_NAME: &str = "gl-container-scanning-report.json";
/// The schema version the document follows.
pub const SCHEMA_VERSION: &str = "15.0.7";

/// Whether a scan is one this report is about: the built image's, or of a multi-platform
/// build each platform image's (`scan-results-linux-arm64`).
fn is_image_scan(stage: &str, file_stem: &str) -> bool {
    stage == "build" && (file_stem == "scan-results" || file_stem.starts_with("scan-results-"))
}

/// Limits of schema 15 (longer texts are cut, not refused).
const MAX_NAME: usize = 255;
const MAX_DESCRIPTION: usize = 1_048_576;
const MAX_SOLUTION: usize = 7_000;

/// Collects the image scan from the run's events.
#[derive(Default)]
pub struct ContainerScanning {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    started: Option<time::OffsetDateTime>,
    /// Each image scan begun (its file stem), with its end and report once it finished.
    scans: Vec<(String, Option<(time::OffsetDateTime, ScanReport)>)>,
}

/// What the scans' times and outcome were, for [`document`].
pub struct Outcome<'a> {
    pub start: time::OffsetDateTime,
    pub end: time::OffsetDateTime,
    /// Each image's scan (one, or one per platform image), or why there is none.
    pub scans: std::result::Result<Vec<ScannedImage<'a>>, String>,
    /// GitLab's `CS_DEFAULT_BRANCH_IMAGE`: the same image as the default branch names it, so
    /// findings on other branches are matched with the default branch's.
    pub default_branch_image: Option<String>,
}

/// One image's scan in the report.
pub struct ScannedImage<'a> {
    pub report: &'a ScanReport,
    /// The image as it should be named (`repo@sha256:…` once published).
    pub image: String,
    /// For a platform image of an index: its platform, which keeps its findings' ids apart.
    pub platform: Option<String>,
}

impl ContainerScanning {
    /// Keep the built image's scan (times read here: the clock stays out of the stages).
    pub fn on_event(&self, event: &Event<'_>) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::ScanStarted { stage, file_stem } if is_image_scan(stage, file_stem) => {
                seen.started
                    .get_or_insert_with(time::OffsetDateTime::now_utc);
                seen.scans.push((file_stem.to_string(), None));
            }
            Event::Scanned {
                stage,
                file_stem,
                report,
            } if is_image_scan(stage, file_stem) => {
                let done = Some((time::OffsetDateTime::now_utc(), (*report).clone()));
                match seen
                    .scans
                    .iter_mut()
                    .find(|(s, r)| s == file_stem && r.is_none())
                {
                    Some(entry) => entry.1 = done,
                    None => seen.scans.push((file_stem.to_string(), done)),
                }
            }
            _ => {}
        }
    }

    /// Write the report into `outputs_dir` when the pipeline scans its image (`scanned`):
    /// status `success` with the findings when the scan ran (whatever its gate said),
    /// `failure` with the run's error when it did not finish. Without a scan nothing is written
    /// and an earlier run's file is removed, so GitLab never reads stale findings.
    pub fn write(
        &self,
        report: &RunReport,
        scanned: bool,
        outputs_dir: &Path,
        default_branch_image: Option<&str>,
        redactor: &Redactor,
    ) -> Result<Option<PathBuf>> {
        let path = outputs_dir.join(FILE_NAME);
        if !scanned {
            // Removing never follows a link: a link there is removed itself.
            let _ = std::fs::remove_file(&path);
            return Ok(None);
        }
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = time::OffsetDateTime::now_utc();
        // Once published, each image is named in the repository it was pushed to.
        let repository = report
            .published
            .as_ref()
            .map(|p| p.image.split('@').next().unwrap_or(&p.image).to_string());
        let unfinished = seen.scans.iter().find(|(_, r)| r.is_none());
        let scans = match (seen.scans.is_empty(), unfinished) {
            (false, None) => Ok(seen
                .scans
                .iter()
                .filter_map(|(stem, r)| r.as_ref().map(|(_, scan)| (stem, scan)))
                .map(|(stem, scan)| ScannedImage {
                    report: scan,
                    image: match &repository {
                        Some(repo) => format!("{repo}@{}", scan.digest),
                        None => format!("{}@{}", scan.image, scan.digest),
                    },
                    platform: stem.strip_prefix("scan-results-").map(str::to_string),
                })
                .collect()),
            _ => Err(report
                .error
                .as_ref()
                .map(|e| match e.stage {
                    Some(stage) => format!(
                        "the run stopped in {stage} before the image scan finished: {}",
                        e.message
                    ),
                    None => format!(
                        "the run stopped before the image scan finished: {}",
                        e.message
                    ),
                })
                .unwrap_or_else(|| "the image scan did not run".to_string())),
        };
        let end = seen
            .scans
            .iter()
            .filter_map(|(_, r)| r.as_ref().map(|(t, _)| *t))
            .max()
            .filter(|_| scans.is_ok())
            .unwrap_or(now);
        let outcome = Outcome {
            start: seen.started.unwrap_or(end),
            end,
            scans,
            default_branch_image: default_branch_image.map(str::to_string),
        };
        let text = serde_json::to_string_pretty(&document(&outcome, &|s: &str| redactor.apply(s)))
            .expect("the report serializes");
        crate::fsutil::write_atomic(&path, redactor.apply(&text).as_bytes())?;
        Ok(Some(path))
    }
}

/// The GitLab container scanning report as a sink of the run. Required once the run succeeded.
pub struct GitLab {
    pub scanning: Arc<ContainerScanning>,
    /// `CS_DEFAULT_BRANCH_IMAGE`: the image name on the default branch, for GitLab to match
    /// findings across branches.
    pub default_branch_image: Option<String>,
}

impl Sink for GitLab {
    fn name(&self) -> &'static str {
        "the GitLab scanning report"
    }

    fn write<'a>(&'a self, run: &'a Finished<'a>) -> Written<'a> {
        Box::pin(async move {
            let ctx = run.ctx;
            let scanned = ctx.pipeline.file.build.scan.is_some();
            let written = self.scanning.write(
                run.report,
                scanned,
                &ctx.outputs_dir,
                self.default_branch_image.as_deref(),
                &ctx.redactor,
            )?;
            Ok(match written {
                Some(path) if crate::ci::Ci::detect(&ctx.env).on(crate::ci::Platform::GitLab) => {
                    vec![Notice::Status(format!(
                        "gitlab: container scanning report in {} (for `artifacts:reports:container_scanning`)",
                        path.display()
                    ))]
                }
                _ => vec![],
            })
        })
    }
}

/// The report document. Every text passes `clean` (the redactor) before it is placed.
pub fn document(outcome: &Outcome<'_>, clean: &dyn Fn(&str) -> String) -> Value {
    let (scanner, vulnerabilities, messages) = match &outcome.scans {
        Ok(scans) => {
            let mut messages: Vec<Value> = Vec::new();
            for s in scans {
                // What was not checked is said in the report too, not only in the log.
                let warnings = s
                    .report
                    .gate
                    .expired_waivers
                    .iter()
                    .chain(&s.report.gate.unused_waivers)
                    .chain(&s.report.gate.unchecked)
                    .chain(&s.report.gate.vex_unused)
                    .map(|w| clean(w));
                let skipped = (s.report.database_warnings > 0).then(|| {
                    format!(
                        "{} malformed or unsupported OSV record(s) were skipped",
                        s.report.database_warnings
                    )
                });
                for value in warnings.chain(skipped) {
                    let message = json!({"level": "warn", "value": value});
                    if !messages.contains(&message) {
                        messages.push(message);
                    }
                }
            }
            (
                scanner(
                    scans
                        .first()
                        .map_or("cleanpipe", |s| s.report.scanner.as_str()),
                ),
                scans
                    .iter()
                    .flat_map(|s| {
                        let live = s.report.findings.iter().map(|f| (f, None));
                        // Suppressed by VEX: still listed, flagged and with the statement.
                        let suppressed = s
                            .report
                            .suppressed
                            .iter()
                            .map(|x| (&x.finding, Some(&x.vex)));
                        live.chain(suppressed)
                            .map(move |(f, vex)| vulnerability(f, vex, s, outcome, clean))
                    })
                    .collect::<Vec<_>>(),
                messages,
            )
        }
        Err(why) => (
            scanner("cleanpipe"),
            vec![],
            vec![json!({"level": "fatal", "value": clean(why)})],
        ),
    };
    let mut scan = json!({
        "analyzer": {
            "id": "cleanpipe",
            "name": "cleanpipe",
            "version": env!("CARGO_PKG_VERSION"),
            "vendor": {"name": "cleanpipe"},
        },
        "scanner": scanner,
        "type": "container_scanning",
        "start_time": timestamp(outcome.start),
        "end_time": timestamp(outcome.end),
        "status": if outcome.scans.is_ok() { "success" } else { "failure" },
    });
    if !messages.is_empty() {
        scan["messages"] = Value::Array(messages);
    }
    json!({
        "version": SCHEMA_VERSION,
        "scan": scan,
        "vulnerabilities": vulnerabilities,
    })
}

/// `scan.scanner` from the scan report's scanner (`cleanpipe`, or `trivy 0.56.2`).
fn scanner(name: &str) -> Value {
    let (tool, version) = name.split_once(' ').unwrap_or((name, ""));
    let (id, display, vendor, url) = match tool {
        "trivy" => (
            "trivy",
            "Trivy",
            "Aqua Security",
            "https://github.com/aquasecurity/trivy",
        ),
        "grype" => (
            "grype",
            "Grype",
            "Anchore",
            "https://github.com/anchore/grype",
        ),
        _ => (
            "cleanpipe",
            "cleanpipe (OSV)",
            "cleanpipe",
            "https://osv.dev",
        ),
    };
    let version = match (id, version) {
        ("cleanpipe", _) => env!("CARGO_PKG_VERSION"),
        (_, "") => "unknown",
        (_, v) => v,
    };
    json!({
        "id": id,
        "name": display,
        "url": url,
        "version": version,
        "vendor": {"name": vendor},
    })
}

fn vulnerability(
    f: &Finding,
    vex: Option<&crate::scan::vex::Applied>,
    scanned: &ScannedImage<'_>,
    outcome: &Outcome<'_>,
    clean: &dyn Fn(&str) -> String,
) -> Value {
    let (scan, image) = (scanned.report, scanned.image.as_str());
    let mut description = f.summary.clone();
    if let Some(reason) = &f.waived {
        description.push_str(&format!(
            "\n\nWaived in the pipeline{}: {reason}",
            f.waiver_expires
                .as_ref()
                .map(|d| format!(" until {d}"))
                .unwrap_or_default()
        ));
    }
    if let Some(x) = vex {
        description.push_str(&format!("\n\nSuppressed by VEX: {}", x.describe()));
    }
    let mut v = json!({
        "id": finding_id(f, image, scanned.platform.as_deref()),
        "name": cut(&clean(&format!("{} in {}", f.id, f.package)), MAX_NAME),
        "severity": severity(f.severity),
        "identifiers": identifiers(f, clean),
        "location": {
            "dependency": {"package": {"name": clean(&f.package)}, "version": clean(&f.version)},
            "operating_system": scan.operating_system.as_deref().map(clean).unwrap_or_else(|| "Unknown".into()),
            "image": clean(image),
        },
    });
    if let Some(default) = &outcome.default_branch_image {
        v["location"]["default_branch_image"] = Value::String(clean(default));
    }
    if let Some(x) = vex {
        // The report format's only flag: the finding does not apply here, per the statement.
        v["flags"] = json!([{
            "type": "flagged-as-likely-false-positive",
            "origin": "cleanpipe VEX",
            "description": cut(&clean(&x.describe()), MAX_DESCRIPTION),
        }]);
    }
    let description = description.trim();
    if !description.is_empty() {
        v["description"] = Value::String(cut(&clean(description), MAX_DESCRIPTION));
    }
    if let Some(fixed) = &f.fixed_version {
        v["solution"] = Value::String(cut(
            &clean(&format!("Upgrade {} to {fixed} or later", f.package)),
            MAX_SOLUTION,
        ));
    }
    v
}

/// GitLab's severity words.
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Unknown => "Unknown",
    }
}

/// The advisory id first, then its aliases, each typed by its prefix (`cve`, `ghsa`, …) with a
/// page to read it on.
fn identifiers(f: &Finding, clean: &dyn Fn(&str) -> String) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    std::iter::once(&f.id)
        .chain(&f.aliases)
        .filter(|id| !id.trim().is_empty() && seen.insert(id.to_ascii_uppercase()))
        .map(|id| {
            let upper = id.to_ascii_uppercase();
            let (kind, url) = if upper.starts_with("CVE-") {
                (
                    "cve".to_string(),
                    format!("https://nvd.nist.gov/vuln/detail/{id}"),
                )
            } else if upper.starts_with("GHSA-") {
                (
                    "ghsa".to_string(),
                    format!("https://github.com/advisories/{id}"),
                )
            } else {
                let prefix = id.split('-').next().unwrap_or("osv").to_ascii_lowercase();
                (prefix, format!("https://osv.dev/vulnerability/{id}"))
            };
            json!({"type": clean(&kind), "name": clean(id), "value": clean(id), "url": clean(&url)})
        })
        .collect()
}

/// A stable UUID-shaped id per (advisory, package, version, location, image repository and,
/// for a platform image of an index, its platform), so GitLab tracks the same finding across
/// runs and tags, and tells the platforms' findings apart.
fn finding_id(f: &Finding, image: &str, platform: Option<&str>) -> String {
    let repository = image.split('@').next().unwrap_or(image);
    let repository = match repository.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repository,
    };
    let mut key = format!(
        "{}\n{}\n{}\n{}\n{repository}",
        f.id, f.package, f.version, f.location
    );
    if let Some(platform) = platform {
        key.push_str(&format!("\n{platform}"));
    }
    let hex = crate::oci::types::Digest::of(key.as_bytes())
        .hex()
        .to_string();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `YYYY-MM-DDTHH:MM:SS`, UTC, as the schema's pattern wants.
fn timestamp(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
}

/// At most `max` characters, cut on a character boundary.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::catalog::Kind;
    use crate::scan::gate::Threshold;
    use crate::scan::GateResult;

    fn finding(id: &str, aliases: &[&str], severity: Severity, fixed: Option<&str>) -> Finding {
        Finding {
            id: id.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            package: "openssl".into(),
            kind: Kind::Deb,
            version: "3.0.11-1".into(),
            fixed_version: fixed.map(str::to_string),
            severity,
            score: None,
            purl: "pkg:deb/debian/openssl@3.0.11-1".into(),
            location: "/var/lib/dpkg/status".into(),
            layer: None,
            summary: "a flaw".into(),
            severity_source: String::new(),
            upstream: vec![],
            waived: None,
            waiver_expires: None,
        }
    }

    fn scan(findings: Vec<Finding>) -> ScanReport {
        ScanReport {
            image: "payments".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            scanner: "cleanpipe".into(),
            database: "osv".into(),
            records: 3,
            database_warnings: 0,
            packages: 10,
            operating_system: Some("debian 12".into()),
            findings,
            suppressed: vec![],
            vex: vec![],
            gate: GateResult {
                threshold: Threshold::High,
                failing: vec![],
                expired_waivers: vec![],
                unused_waivers: vec![],
                unchecked: vec![],
                allowed_unchecked: vec![],
                relaxations: vec![],
                suppressed: 0,
                vex_unused: vec![],
                vex_kept: vec![],
                vex_not_applied: vec![],
                vex_ignored: vec![],
                passed: true,
            },
            coverage: None,
        }
    }

    fn at(s: &str) -> time::OffsetDateTime {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn a_finding_suppressed_by_vex_is_listed_flagged_with_its_statement() {
        let mut report = scan(vec![finding("DSA-1", &["CVE-1"], Severity::High, None)]);
        let vex = crate::scan::vex::parse(
            br#"{"@context": "https://openvex.dev/ns/v0.2.0", "timestamp": "2026-11-01T00:00:00Z",
            "statements": [{"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:deb/debian/openssl"}],
            "status": "not_affected", "justification": "component_not_present"}]}"#,
            "vex/a.json",
        )
        .unwrap();
        let statement = crate::scan::vex::Applied {
            status: crate::scan::vex::Status::NotAffected,
            vulnerability: "CVE-2".into(),
            justification: Some("component_not_present".into()),
            impact_statement: None,
            action_statement: None,
            statement: "/statements/0".into(),
            timestamp: None,
            document: vex.reference(),
        };
        report.suppressed.push(crate::scan::Suppressed {
            finding: finding("DSA-2", &["CVE-2"], Severity::Critical, None),
            vex: statement,
        });
        let doc = document(
            &Outcome {
                start: at("2026-12-02T00:00:00Z"),
                end: at("2026-12-02T00:00:01Z"),
                scans: Ok(vec![ScannedImage {
                    report: &report,
                    image: "r/acme@sha256:abc".into(),
                    platform: None,
                }]),
                default_branch_image: None,
            },
            &|s: &str| s.to_string(),
        );
        let v = doc["vulnerabilities"].as_array().unwrap();
        assert_eq!(v.len(), 2);
        assert!(v[0].get("flags").is_none());
        assert_eq!(v[1]["name"], "DSA-2 in openssl");
        assert_eq!(v[1]["flags"][0]["type"], "flagged-as-likely-false-positive");
        let why = v[1]["description"].as_str().unwrap();
        assert!(
            why.contains(
                "Suppressed by VEX: not_affected (component_not_present) per `vex/a.json`"
            ) && why.contains(vex.digest.as_str()),
            "{why}"
        );
    }

    #[test]
    fn a_finding_becomes_a_schema_15_vulnerability() {
        let report = scan(vec![finding(
            "DSA-5532-1",
            &["CVE-2023-5678", "cve-2023-5678"],
            Severity::High,
            Some("3.0.11-1~deb12u2"),
        )]);
        let doc = document(
            &Outcome {
                start: at("2026-12-02T01:02:03.5+01:00"),
                end: at("2026-12-02T00:02:04Z"),
                scans: Ok(vec![ScannedImage {
                    report: &report,
                    image: "127.0.0.1:5000/acme/payments@sha256:abc".into(),
                    platform: None,
                }]),
                default_branch_image: Some("127.0.0.1:5000/acme/payments:main".into()),
            },
            &|s: &str| s.to_string(),
        );
        assert_eq!(doc["version"], SCHEMA_VERSION);
        assert_eq!(doc["scan"]["type"], "container_scanning");
        assert_eq!(
            doc["scan"]["start_time"], "2026-12-02T00:02:03",
            "UTC, whole seconds"
        );
        assert_eq!(doc["scan"]["status"], "success");
        assert_eq!(doc["scan"]["scanner"]["id"], "cleanpipe");
        let v = &doc["vulnerabilities"][0];
        assert_eq!(v["severity"], "High");
        assert_eq!(v["name"], "DSA-5532-1 in openssl");
        assert_eq!(
            v["solution"],
            "Upgrade openssl to 3.0.11-1~deb12u2 or later"
        );
        assert_eq!(v["location"]["dependency"]["package"]["name"], "openssl");
        assert_eq!(v["location"]["dependency"]["version"], "3.0.11-1");
        assert_eq!(v["location"]["operating_system"], "debian 12");
        assert_eq!(
            v["location"]["default_branch_image"],
            "127.0.0.1:5000/acme/payments:main"
        );
        let ids: Vec<&str> = v["identifiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            ["dsa", "cve"],
            "aliases deduplicated, case-insensitively"
        );
        assert_eq!(
            v["identifiers"][1]["url"],
            "https://nvd.nist.gov/vuln/detail/CVE-2023-5678"
        );
        for removed in ["category", "message", "cve", "confidence", "scanner"] {
            assert!(v.get(removed).is_none(), "schema 15 has no `{removed}`");
        }
        let id = v["id"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        // The same finding in another tag of the repository keeps its id.
        let again = finding_id(&report.findings[0], "127.0.0.1:5000/acme/payments:v2", None);
        assert_eq!(id, again);
        // The same finding in another platform's image of an index is another finding.
        let arm = finding_id(
            &report.findings[0],
            "127.0.0.1:5000/acme/payments:v2",
            Some("linux-arm64"),
        );
        assert_ne!(id, arm);
    }

    #[test]
    fn a_scan_that_did_not_finish_is_a_failure_with_the_reason() {
        let doc = document(
            &Outcome {
                start: at("2026-12-02T00:00:00Z"),
                end: at("2026-12-02T00:00:01Z"),
                scans: Err("the run stopped in build: secret-token".into()),
                default_branch_image: None,
            },
            &|s: &str| s.replace("secret-token", "***"),
        );
        assert_eq!(doc["scan"]["status"], "failure");
        assert_eq!(doc["scan"]["messages"][0]["level"], "fatal");
        assert_eq!(
            doc["scan"]["messages"][0]["value"],
            "the run stopped in build: ***"
        );
        assert_eq!(doc["vulnerabilities"], json!([]));
    }

    #[test]
    fn external_scanners_are_named_and_unknown_severity_kept() {
        let mut report = scan(vec![finding("CVE-2024-1", &[], Severity::Unknown, None)]);
        report.scanner = "trivy 0.44.1".into();
        report.operating_system = None;
        let doc = document(
            &Outcome {
                start: at("2026-12-02T00:00:00Z"),
                end: at("2026-12-02T00:00:00Z"),
                scans: Ok(vec![ScannedImage {
                    report: &report,
                    image: "x".into(),
                    platform: None,
                }]),
                default_branch_image: None,
            },
            &|s: &str| s.to_string(),
        );
        assert_eq!(doc["scan"]["scanner"]["id"], "trivy");
        assert_eq!(doc["scan"]["scanner"]["version"], "0.44.1");
        let v = &doc["vulnerabilities"][0];
        assert_eq!(v["severity"], "Unknown");
        assert_eq!(v["location"]["operating_system"], "Unknown");
        assert!(v["location"].get("default_branch_image").is_none());
        assert!(v.get("solution").is_none(), "no fix, no solution");
    }

    #[test]
    fn texts_are_cut_on_character_boundaries() {
        assert_eq!(cut("ééé", 2), "éé");
        assert_eq!(cut("ab", 5), "ab");
    }
}
