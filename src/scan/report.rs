//! Scan reports: a human table, JSON, and SARIF 2.1.0 (GitHub code scanning reads
//! `security-severity`).

use serde::Serialize;
use serde_json::{json, Value};

use crate::scan::{Finding, GateResult, Severity, Suppressed};

/// Everything a scan found and decided.
#[derive(Clone, Debug, Serialize)]
pub struct ScanReport {
    pub image: String,
    pub digest: String,
    /// `cleanpipe`, or the external scanner (`trivy 0.56.2`) whose findings these are.
    pub scanner: String,
    pub database: String,
    pub records: usize,
    pub database_warnings: usize,
    pub packages: usize,
    /// The image's distribution (`debian 12`), when the catalog found one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    pub findings: Vec<Finding>,
    /// Findings VEX statements took out of the gate, each with its statement and document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
    /// The VEX documents the scan applied (path, sha256, author, signer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vex: Vec<crate::scan::vex::DocumentRef>,
    pub gate: GateResult,
    /// What the scan checked, per ecosystem (cleanpipe's own scanner; an external scanner does
    /// not say, and a verifier treats its absence as incomplete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<crate::scan::coverage::Coverage>,
}

pub fn table(report: &ScanReport) -> String {
    let source = if report.scanner == "cleanpipe" {
        format!("{} records from {}", report.records, report.database)
    } else {
        format!("scanned by {}", report.scanner)
    };
    let suppressed = match report.suppressed.len() {
        0 => String::new(),
        n => format!(", {n} suppressed by VEX"),
    };
    let mut out = format!(
        "{} package(s), {} finding(s){suppressed} in {} ({source})\n",
        report.packages,
        report.findings.len(),
        report.image,
    );
    if !report.findings.is_empty() {
        out.push_str(&format!(
            "{:<22} {:<9} {:<24} {:<22} {:<22} {}\n",
            "ID", "SEVERITY", "PACKAGE", "INSTALLED", "FIXED", "LAYER"
        ));
    }
    for f in &report.findings {
        out.push_str(&format!(
            "{:<22} {:<9} {:<24} {:<22} {:<22} {}{}\n",
            f.id,
            f.severity.as_str(),
            f.package,
            f.version,
            f.fixed_version.as_deref().unwrap_or("-"),
            f.layer.as_ref().map(|l| &l.hex()[..12]).unwrap_or("-"),
            f.waived
                .as_ref()
                .map(|r| format!("  (waived: {r})"))
                .unwrap_or_default()
        ));
        // A package inside an archive (`/app/app.jar:BOOT-INF/lib/x.jar`): say which file.
        if f.location.contains(':') {
            out.push_str(&format!("{:<22} in {}\n", "", f.location));
        }
    }
    if !report.suppressed.is_empty() {
        out.push_str(&format!(
            "suppressed by VEX ({}):\n{:<22} {:<9} {:<24} {:<22} STATEMENT\n",
            report.suppressed.len(),
            "ID",
            "SEVERITY",
            "PACKAGE",
            "INSTALLED"
        ));
        for s in &report.suppressed {
            let f = &s.finding;
            out.push_str(&format!(
                "{:<22} {:<9} {:<24} {:<22} {}\n",
                f.id,
                f.severity.as_str(),
                f.package,
                f.version,
                s.vex.describe()
            ));
        }
    }
    for line in report.gate.vex_kept.iter().chain(&report.gate.vex_unused) {
        out.push_str(&format!("note: {line}\n"));
    }
    for line in &report.gate.unchecked {
        out.push_str(&format!("NOT CHECKED: {line}\n"));
    }
    for w in report
        .gate
        .expired_waivers
        .iter()
        .chain(&report.gate.unused_waivers)
    {
        out.push_str(&format!("note: {w}\n"));
    }
    out
}

fn security_severity(f: &Finding) -> String {
    let score = f.score.unwrap_or(match f.severity {
        Severity::Critical => 9.0,
        Severity::High => 7.0,
        Severity::Medium => 4.0,
        Severity::Low => 1.0,
        Severity::Unknown => 0.0,
    });
    format!("{score:.1}")
}

pub fn sarif(report: &ScanReport) -> Value {
    let mut rules = Vec::new();
    let mut results = Vec::new();
    let all = report
        .findings
        .iter()
        .map(|f| (f, None))
        .chain(report.suppressed.iter().map(|s| (&s.finding, Some(&s.vex))));
    for (f, vex) in all {
        let rule_id = format!("{}-{}", f.id, f.package);
        if !rules.iter().any(|r: &Value| r["id"] == rule_id) {
            rules.push(json!({
                "id": rule_id,
                "name": "OsvPackageMatch",
                "shortDescription": {"text": format!("{} {} vulnerability for {} package", f.id, f.severity.as_str(), f.package)},
                "help": {"text": f.summary, "markdown": f.summary},
                "properties": {"security-severity": security_severity(f), "purls": [f.purl]},
            }));
        }
        let level = match f.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            _ => "note",
        };
        let mut result = json!({
            "ruleId": rule_id,
            "level": level,
            "message": {"text": format!(
                "A {} vulnerability in {} package: {}, version {} was found at {}{}",
                f.severity.as_str(), f.kind.as_str(), f.package, f.version, f.location,
                f.fixed_version.as_ref().map(|v| format!("; fixed in {v}")).unwrap_or_default()
            )},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": format!("image{}", f.location)},
                "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
            }}],
        });
        // A VEX statement took it out of the gate: an external suppression, with why.
        if let Some(v) = vex {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": v.describe(),
                "properties": {"vex": v},
            }]);
        }
        results.push(result);
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "cleanpipe", "version": env!("CARGO_PKG_VERSION"), "informationUri": "https://github.com/", "rules": rules}},
            "results": results,
            // What was checked, per ecosystem, and what was not (SARIF's property bag).
            "properties": {"coverage": report.coverage, "unchecked": report.gate.unchecked},
        }],
    })
}
