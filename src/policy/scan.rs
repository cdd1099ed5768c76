//! Attested scan results: reading a vuln predicate (cleanpipe's scan report, or trivy's or
//! grype's JSON in cosign's shape), the `fail_on` rule, and waiver expiry.

use serde::Serialize;

use super::attestations::{used_list, Evidence};
use super::{check, Outcome, Policy, PolicyCheck, UsedAttestation};
use crate::scan::external::{self, Tool};
use crate::scan::vex;
use crate::scan::Severity;
use crate::sign::attest;

/// The checks on attested scans, and what VEX attested to the image decided (`None`: no VEX
/// attestation was there, trusted or not).
pub(super) fn evaluate_scan(
    policy: &Policy,
    evidence: &Evidence,
    image: &vex::Image,
) -> (Vec<PolicyCheck>, Option<VexVerdict>) {
    if !policy.needs_scan() {
        return (vec![], None);
    }
    let (findings, vex) = evaluate_findings(policy, evidence, image);
    let mut out: Vec<PolicyCheck> = findings.into_iter().collect();
    if let Some(max_age) = policy.max_scan_age {
        out.push(evaluate_age(max_age, policy.now, evidence));
    }
    if let Some(max_age) = policy.max_db_age {
        out.push(evaluate_db_age(max_age, evidence));
    }
    (out, vex)
}

/// What VEX attested to the image did to the attested scans' findings (the verdict's `vex`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct VexVerdict {
    /// The VEX attestations signed by a trusted signer, each read whole.
    pub documents: Vec<VexAttestation>,
    /// Attested findings a trusted `not_affected` or `fixed` statement took out of the
    /// judgement, each with the statement (document digest, signer, pointer).
    pub suppressed: Vec<VexSuppressed>,
    /// Findings whose deciding statement (`affected`, `under_investigation`) keeps them.
    pub kept: Vec<String>,
    /// Statements that applied to no attested finding.
    pub unused: Vec<String>,
    /// VEX attestations not signed by a trusted signer: ignored, neither for nor against.
    pub ignored: Vec<String>,
}

/// One trusted VEX attestation.
#[derive(Clone, Debug, Serialize)]
pub struct VexAttestation {
    pub attestation: UsedAttestation,
    /// The document (the predicate): `path` names the attestation, `digest` is the sha256 of
    /// the predicate as JSON, `signer` who signed the attestation.
    pub document: vex::DocumentRef,
}

/// One attested finding a VEX statement suppressed.
#[derive(Clone, Debug, Serialize)]
pub struct VexSuppressed {
    pub id: String,
    pub severity: String,
    pub package: String,
    pub version: String,
    /// The attested scan it is from.
    pub scan: UsedAttestation,
    pub vex: vex::Applied,
}

/// The trusted VEX attestations, read whole, and the verdict so far (documents, ignored); or
/// the failing check when a trusted signer's VEX attestation is unusable (fail closed).
fn read_vex(
    evidence: &Evidence,
) -> std::result::Result<(Vec<vex::Document>, VexVerdict), PolicyCheck> {
    let is_vex = |t: &str| t == vex::PREDICATE_OPENVEX;
    let failed: Vec<String> = evidence
        .failed
        .iter()
        .filter(|f| f.types.iter().any(|t| is_vex(t)))
        .map(|f| format!("VEX {} fails its own check: {}", f.used, f.why))
        .collect();
    if !failed.is_empty() {
        return Err(check(
            "vulnerabilities",
            false,
            failed.join("; "),
            evidence
                .failed
                .iter()
                .filter(|f| f.types.iter().any(|t| is_vex(t)))
                .map(|f| f.used.clone())
                .collect(),
        ));
    }
    let mut verdict = VexVerdict {
        ignored: evidence
            .checks
            .iter()
            .filter(|c| is_vex(&c.predicate_type) && c.outcome == Outcome::NotThisKey)
            .map(|c| format!("{} ({}): {}", c.source, c.digest, c.detail))
            .collect(),
        ..VexVerdict::default()
    };
    let mut docs = Vec::new();
    for t in evidence
        .trusted
        .iter()
        .filter(|t| is_vex(&t.predicate_type))
    {
        let bytes = serde_json::to_vec(&t.statement["predicate"]).expect("JSON value serializes");
        let mut doc = vex::parse(&bytes, &t.used.to_string()).map_err(|e| {
            check(
                "vulnerabilities",
                false,
                format!(
                    "the VEX document in {} (signed by {}) cannot be used: {e}",
                    t.used, t.signer
                ),
                vec![t.used.clone()],
            )
        })?;
        doc.signer = Some(t.signer.clone());
        verdict.documents.push(VexAttestation {
            attestation: t.used.clone(),
            document: doc.reference(),
        });
        docs.push(doc);
    }
    Ok((docs, verdict))
}

/// The packages the image is known to hold (purls): its attested findings' packages and
/// the components of a trusted CycloneDX SBOM, for statements naming a package product with
/// subcomponents.
fn known_packages(evidence: &Evidence, findings: &[crate::scan::Finding]) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        for c in v.as_array().into_iter().flatten() {
            if let Some(p) = c["purl"].as_str() {
                out.push(p.to_string());
            }
            walk(&c["components"], out);
        }
    }
    let mut out: Vec<String> = findings.iter().map(|f| f.purl.clone()).collect();
    for t in evidence
        .trusted
        .iter()
        .filter(|t| t.predicate_type == attest::PREDICATE_CYCLONEDX)
    {
        walk(&t.statement["predicate"]["components"], &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// Every trusted scan's database was at most `max_age` seconds old when the scan ran: from
/// its recorded `coverage.database.fetched` (or its archives' oldest `fetched`) to
/// `metadata.scanFinishedOn`. A scan that records no fetch time cannot show its database was
/// fresh (an external scanner's, a directory of records, one made before cleanpipe recorded it).
fn evaluate_db_age(max_age: u64, evidence: &Evidence) -> PolicyCheck {
    let trusted = match evidence.select(&[attest::PREDICATE_VULN], "database age", "scan result") {
        Ok(t) => t,
        Err(fail) => return fail,
    };
    let used: Vec<UsedAttestation> = trusted.iter().map(|t| t.used.clone()).collect();
    let limit = i64::try_from(max_age).unwrap_or(i64::MAX);
    let parse = |v: &serde_json::Value| {
        v.as_str().and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
    };
    let mut details = Vec::new();
    let mut passed = true;
    for t in &trusted {
        let predicate = &t.statement["predicate"];
        let database = &predicate["scanner"]["result"]["coverage"]["database"];
        let fetched = parse(&database["fetched"]).or_else(|| {
            database["archives"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| parse(&a["fetched"]))
                .min()
        });
        let finished = parse(&predicate["metadata"]["scanFinishedOn"]);
        match (fetched, finished) {
            (Some(fetched), Some(finished)) => {
                let age = (finished - fetched).whole_seconds().max(0);
                if age > limit {
                    passed = false;
                }
                details.push(format!(
                    "{}: the database was {} old at the scan",
                    t.used,
                    human_duration(age)
                ));
            }
            (None, _) => {
                passed = false;
                details.push(format!(
                    "{}: records no database fetch time (a managed or pulled database records one)",
                    t.used
                ));
            }
            (Some(_), None) => {
                passed = false;
                details.push(format!(
                    "{}: has no readable `metadata.scanFinishedOn`",
                    t.used
                ));
            }
        }
    }
    check(
        "database age",
        passed,
        format!(
            "{}; the policy allows {}",
            details.join("; "),
            human_duration(limit)
        ),
        used,
    )
}

/// The newest attested scan finished at most `max_age` seconds before `now`. A scan without a
/// readable `metadata.scanFinishedOn` cannot show that it is fresh.
fn evaluate_age(max_age: u64, now: i64, evidence: &Evidence) -> PolicyCheck {
    let trusted = match evidence.select(&[attest::PREDICATE_VULN], "scan age", "scan result") {
        Ok(t) => t,
        Err(fail) => return fail,
    };
    let used: Vec<UsedAttestation> = trusted.iter().map(|t| t.used.clone()).collect();
    let finished: Vec<(i64, &UsedAttestation)> = trusted
        .iter()
        .filter_map(|t| {
            let at = t.statement["predicate"]["metadata"]["scanFinishedOn"].as_str()?;
            let at =
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .ok()?;
            Some((at.unix_timestamp(), &t.used))
        })
        .collect();
    // A scan dated ahead of this clock (beyond a little skew) proves nothing about freshness:
    // it cannot be the newest, and alone it fails.
    let ahead: Vec<&(i64, &UsedAttestation)> = finished
        .iter()
        .filter(|(at, _)| *at > now + CLOCK_SKEW)
        .collect();
    let Some((newest, which)) = finished
        .iter()
        .filter(|(at, _)| *at <= now + CLOCK_SKEW)
        .max_by_key(|(at, _)| *at)
    else {
        return check(
            "scan age",
            false,
            if let Some((at, which)) = ahead.first() {
                format!(
                    "the only dated scan ({which}) is dated {} ahead of this clock",
                    human_duration(at - now)
                )
            } else {
                format!(
                    "no attested scan has a readable `metadata.scanFinishedOn` ({})",
                    used_list(&trusted)
                )
            },
            used,
        );
    };
    let age = now.saturating_sub(*newest).max(0);
    let limit = i64::try_from(max_age).unwrap_or(i64::MAX);
    check(
        "scan age",
        age <= limit,
        format!(
            "the newest scan ({which}) finished {} ago; the policy allows {}",
            human_duration(age),
            human_duration(limit)
        ),
        used,
    )
}

/// How far ahead of the verifier's clock a scan's date may be (clocks drift).
const CLOCK_SKEW: i64 = 300;

/// `3d 4h`, `5m`, `40s`.
fn human_duration(seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The findings rule: every trusted scan clean at the threshold (`none`: only readable), after
/// the trusted VEX attestations of the image took out what they mark `not_affected` or `fixed`.
fn evaluate_findings(
    policy: &Policy,
    evidence: &Evidence,
    image: &vex::Image,
) -> (Option<PolicyCheck>, Option<VexVerdict>) {
    let threshold = policy.fail_on.unwrap_or(crate::scan::gate::Threshold::None);
    let trusted = match evidence.select(&[attest::PREDICATE_VULN], "vulnerabilities", "scan result")
    {
        Ok(t) => t,
        Err(fail) => return (Some(fail), None),
    };
    let (docs, mut vex_verdict) = match read_vex(evidence) {
        Ok(v) => v,
        Err(fail) => return (Some(fail), None),
    };
    let mut used: Vec<UsedAttestation> = trusted.iter().map(|t| t.used.clone()).collect();
    used.extend(vex_verdict.documents.iter().map(|d| d.attestation.clone()));
    let mut failing = Vec::new();
    let mut incomplete: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    let mut total = 0;
    for t in &trusted {
        match read_scan(&t.statement["predicate"], &policy.today) {
            Err(why) => {
                return (
                    Some(check(
                        "vulnerabilities",
                        false,
                        format!(
                            "{} holds a scan result cleanpipe cannot read: {why}",
                            t.used
                        ),
                        vec![t.used.clone()],
                    )),
                    None,
                )
            }
            Ok(mut scan) => {
                if !docs.is_empty() {
                    apply_attested_vex(&docs, image, evidence, t, &mut scan, &mut vex_verdict);
                }
                total += scan.findings.len();
                notes.extend(scan.notes.iter().map(|n| format!("{n} ({})", t.used)));
                // A scan that did not check everything is no evidence of "clean" for what it
                // left out: refused unless the policy accepts it in writing.
                match (&scan.incomplete, policy.allow_incomplete_coverage) {
                    (Some(why), false) => incomplete.push(format!("{why} ({})", t.used)),
                    (Some(why), true) => {
                        notes.push(format!("{why}, allowed by the policy ({})", t.used))
                    }
                    (None, _) => {}
                }
                failing.extend(
                    scan.findings
                        .iter()
                        .filter(|f| !f.waived && !f.suppressed && f.severity.trips(threshold))
                        .map(|f| {
                            format!(
                                "{} ({}) in {} {} ({})",
                                f.id,
                                f.severity.as_str(),
                                f.package,
                                f.version,
                                t.used
                            )
                        }),
                );
            }
        }
    }
    if !vex_verdict.suppressed.is_empty() {
        notes.push(format!(
            "suppressed by VEX attested to the image: {}",
            vex_verdict
                .suppressed
                .iter()
                .map(|s| format!(
                    "{} ({}) in {} {}: {} signed by {}",
                    s.id,
                    s.severity,
                    s.package,
                    s.version,
                    s.vex.describe(),
                    s.vex.document.signer.as_deref().unwrap_or("nobody")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    notes.extend(vex_verdict.kept.iter().cloned());
    if !vex_verdict.ignored.is_empty() {
        notes.push(format!(
            "{} VEX attestation(s) not signed by a trusted signer ignored: {}",
            vex_verdict.ignored.len(),
            vex_verdict.ignored.join("; ")
        ));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("; {}", notes.join("; "))
    };
    let coverage = if incomplete.is_empty() {
        String::new()
    } else {
        format!("not every package was checked: {}", incomplete.join("; "))
    };
    let vex_verdict = (!vex_verdict.documents.is_empty() || !vex_verdict.ignored.is_empty())
        .then_some(vex_verdict);
    let check = check(
        "vulnerabilities",
        failing.is_empty() && incomplete.is_empty(),
        match (failing.is_empty(), incomplete.is_empty()) {
            (true, true) => format!(
                "{total} attested finding(s) in {}, none unwaived at or above the threshold{notes}",
                used_list(&trusted)
            ),
            (true, false) => format!("{coverage}{notes}"),
            (false, true) => format!("at or above the threshold: {}{notes}", failing.join("; ")),
            (false, false) => format!(
                "at or above the threshold: {}; {coverage}{notes}",
                failing.join("; ")
            ),
        },
        used,
    );
    (Some(check), vex_verdict)
}

/// Mark the findings of one attested scan that the trusted VEX documents suppress, and record
/// what they decided.
fn apply_attested_vex(
    docs: &[vex::Document],
    image: &vex::Image,
    evidence: &Evidence,
    scan_attestation: &super::attestations::Trusted,
    scan: &mut ScanRead,
    out: &mut VexVerdict,
) {
    let findings: Vec<crate::scan::Finding> =
        scan.findings.iter().map(|f| f.to_finding()).collect();
    let packages = known_packages(evidence, &findings);
    let decisions = vex::apply(docs, image, &packages, &findings);
    for (f, applied) in scan.findings.iter_mut().zip(decisions.per_finding) {
        match applied {
            Some(a) if a.status.suppresses() => {
                f.suppressed = true;
                out.suppressed.push(VexSuppressed {
                    id: f.id.clone(),
                    severity: f.severity.as_str().to_string(),
                    package: f.package.clone(),
                    version: f.version.clone(),
                    scan: scan_attestation.used.clone(),
                    vex: a,
                });
            }
            Some(a) => out.kept.push(format!(
                "{} in {} {} stays: {}",
                f.id,
                f.package,
                f.version,
                a.why_kept()
            )),
            None => {}
        }
    }
    for u in decisions.unused {
        if !out.unused.contains(&u) {
            out.unused.push(u);
        }
    }
}

/// One finding as the policy sees it.
struct ScanFinding {
    id: String,
    severity: Severity,
    package: String,
    version: String,
    /// Covered by a waiver that has not expired.
    waived: bool,
    /// What VEX statements match on: the advisory's other ids and the package's purl.
    aliases: Vec<String>,
    upstream: Vec<String>,
    purl: String,
    kind: Option<crate::sbom::catalog::Kind>,
    /// A trusted VEX statement attested to the image marks it `not_affected` or `fixed`.
    suppressed: bool,
}

impl ScanFinding {
    /// The finding as VEX matching reads it (only the ids and the purl matter there).
    fn to_finding(&self) -> crate::scan::Finding {
        crate::scan::Finding {
            id: self.id.clone(),
            aliases: self.aliases.clone(),
            package: self.package.clone(),
            kind: self.kind.unwrap_or(crate::sbom::catalog::Kind::Other),
            version: self.version.clone(),
            fixed_version: None,
            severity: self.severity,
            score: None,
            purl: self.purl.clone(),
            location: String::new(),
            layer: None,
            summary: String::new(),
            severity_source: String::new(),
            upstream: self.upstream.clone(),
            waived: None,
            waiver_expires: None,
        }
    }
}

/// The findings of one attested scan, and what the reader noticed (expired waivers).
struct ScanRead {
    findings: Vec<ScanFinding>,
    notes: Vec<String>,
    /// Why the scan's coverage is not complete (packages not checked, or not recorded).
    incomplete: Option<String>,
}

/// Whether a cleanpipe scan report says it checked every package.
fn incomplete_coverage(result: &serde_json::Value) -> Option<String> {
    match result.get("coverage") {
        None | Some(serde_json::Value::Null) => Some(
            "the scan does not record what it checked (made before cleanpipe recorded coverage): rebuild, or allow it in the policy (`vulnerabilities.allow_incomplete_coverage`)".into(),
        ),
        Some(c) if c["complete"] == serde_json::Value::Bool(true) => None,
        Some(c) => Some(format!(
            "the scan could not check {} package(s){}",
            c["unchecked"].as_u64().map_or("some".to_string(), |n| n.to_string()),
            result["gate"]["unchecked"]
                .as_array()
                .and_then(|l| l.first())
                .and_then(|l| l.as_str())
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        )),
    }
}

/// Read a vuln predicate: cosign's shape (`scanner.result`) holding cleanpipe's scan report,
/// trivy's JSON or grype's JSON. Anything else, or a field of an unexpected type, is an error.
fn read_scan(predicate: &serde_json::Value, today: &str) -> std::result::Result<ScanRead, String> {
    let result = predicate
        .pointer("/scanner/result")
        .ok_or("`predicate.scanner.result` is missing")?;
    let obj = result
        .as_object()
        .ok_or("`predicate.scanner.result` is not a JSON object")?;
    if obj.contains_key("findings") {
        return read_cleanpipe_scan(result, today);
    }
    let tool = if obj.contains_key("Results") || obj.contains_key("SchemaVersion") {
        Tool::Trivy
    } else if obj.contains_key("matches") {
        Tool::Grype
    } else {
        return Err("`predicate.scanner.result` is neither cleanpipe's scan report (`findings`), trivy's JSON (`Results`) nor grype's JSON (`matches`)".into());
    };
    let bytes = serde_json::to_vec(result).expect("JSON value serializes");
    let report = external::parse_report(tool, &bytes, &[], &[])
        .map_err(|e| format!("as {} JSON: {e}", tool.name()))?;
    Ok(ScanRead {
        findings: report
            .findings
            .into_iter()
            .map(|f| ScanFinding {
                id: f.id,
                severity: f.severity,
                package: f.package,
                version: f.version,
                waived: false,
                aliases: f.aliases,
                upstream: f.upstream,
                purl: f.purl,
                kind: Some(f.kind),
                suppressed: false,
            })
            .collect(),
        notes: vec![],
        incomplete: Some(format!(
            "{} does not say which packages it could not check",
            tool.name()
        )),
    })
}

fn read_cleanpipe_scan(
    result: &serde_json::Value,
    today: &str,
) -> std::result::Result<ScanRead, String> {
    #[derive(serde::Deserialize)]
    struct Attested {
        id: String,
        severity: String,
        #[serde(default)]
        package: String,
        #[serde(default)]
        version: String,
        #[serde(default)]
        waived: Option<String>,
        #[serde(default)]
        waiver_expires: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
        #[serde(default)]
        upstream: Vec<String>,
        #[serde(default)]
        purl: String,
        #[serde(default)]
        kind: Option<crate::sbom::catalog::Kind>,
    }
    let findings: Vec<Attested> = serde_json::from_value(result["findings"].clone())
        .map_err(|e| format!("`findings` is not a list of findings: {e}"))?;
    let mut read = ScanRead {
        findings: Vec::new(),
        notes: Vec::new(),
        incomplete: incomplete_coverage(result),
    };
    for f in findings {
        let severity = match f.severity.to_ascii_lowercase().as_str() {
            "unknown" | "negligible" => Severity::Unknown,
            label => match Severity::from_label(label) {
                Severity::Unknown => {
                    return Err(format!(
                        "finding {} has severity `{}`, which is not a severity",
                        f.id, f.severity
                    ))
                }
                known => known,
            },
        };
        let waived = match (&f.waived, &f.waiver_expires) {
            (None, _) => false,
            (Some(_), Some(expires)) if valid_date(expires) && !today.is_empty() => {
                if expires.as_str() >= today {
                    true
                } else {
                    read.notes.push(format!(
                        "the waiver for {} expired on {expires} and no longer applies",
                        f.id
                    ));
                    false
                }
            }
            (Some(_), _) => {
                read.notes.push(format!(
                    "the waiver for {} carries no valid expiry date and is not honoured",
                    f.id
                ));
                false
            }
        };
        read.findings.push(ScanFinding {
            id: f.id,
            severity,
            package: f.package,
            version: f.version,
            waived,
            aliases: f.aliases,
            upstream: f.upstream,
            purl: f.purl,
            kind: f.kind,
            suppressed: false,
        });
    }
    Ok(read)
}

fn valid_date(s: &str) -> bool {
    time::Date::parse(
        s,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_dated_ahead_of_the_clock_is_not_fresh() {
        let scan = |finished: &str, layer: usize| super::super::attestations::Trusted {
            used: UsedAttestation {
                layer,
                digest: crate::oci::types::Digest::of(finished.as_bytes()),
                referrer: None,
            },
            predicate_type: attest::PREDICATE_VULN.into(),
            signer: "k".into(),
            statement: serde_json::json!({"predicate": {"metadata": {"scanFinishedOn": finished}}}),
        };
        let now = 1_800_000_000; // 2027-01-15T08:00:00Z
        let evidence = |scans| Evidence {
            trusted: scans,
            ..Evidence::default()
        };
        let day_old = "2027-01-14T08:00:00Z";
        let ahead = "2027-02-01T00:00:00Z";
        // A week allowed: the day-old scan passes; a future-dated one beside it is not taken.
        assert!(evaluate_age(7 * 86_400, now, &evidence(vec![scan(day_old, 0)])).passed);
        let both = evaluate_age(
            3_600,
            now,
            &evidence(vec![scan(day_old, 0), scan(ahead, 1)]),
        );
        assert!(!both.passed, "{}", both.detail);
        let alone = evaluate_age(7 * 86_400, now, &evidence(vec![scan(ahead, 0)]));
        assert!(
            !alone.passed && alone.detail.contains("ahead"),
            "{}",
            alone.detail
        );
    }

    fn trusted(
        layer: usize,
        ty: &str,
        predicate: serde_json::Value,
    ) -> super::super::attestations::Trusted {
        super::super::attestations::Trusted {
            used: UsedAttestation {
                layer,
                digest: crate::oci::types::Digest::of(format!("{layer}").as_bytes()),
                referrer: None,
            },
            predicate_type: ty.into(),
            statement: serde_json::json!({ "predicate": predicate }),
            signer: "cosign.pub".into(),
        }
    }

    #[test]
    fn a_trusted_vex_attestation_takes_a_finding_out_and_is_named() {
        let digest = crate::oci::types::Digest::of(b"image");
        let image = vex::Image::of("oci:/tmp/x:app", &digest);
        let purl = "pkg:pypi/jinja2@3.1.2";
        let scan = vuln(serde_json::json!({"coverage": {"complete": true},
            "findings": [{"id": "GHSA-h75v-3vvj-5mfj", "aliases": ["CVE-2024-34064"],
            "severity": "medium", "package": "Jinja2", "version": "3.1.2", "purl": purl}]}));
        let doc = serde_json::json!({"@context": vex::OPENVEX_CONTEXT, "@id": "https://example.com/vex/1",
            "author": "Security", "timestamp": "2026-12-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "CVE-2024-34064"},
                "products": [{"@id": format!("pkg:oci/app@{digest}"), "subcomponents": [{"@id": "pkg:pypi/jinja2"}]}],
                "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]});
        let policy = Policy {
            fail_on: Some(crate::scan::gate::Threshold::Medium),
            ..Policy::default()
        };
        let without = Evidence {
            trusted: vec![trusted(0, attest::PREDICATE_VULN, scan.clone())],
            ..Evidence::default()
        };
        let (c, v) = evaluate_findings(&policy, &without, &image);
        assert!(!c.unwrap().passed);
        assert!(v.is_none());
        let with = Evidence {
            trusted: vec![
                trusted(0, attest::PREDICATE_VULN, scan.clone()),
                trusted(1, vex::PREDICATE_OPENVEX, doc.clone()),
            ],
            ..Evidence::default()
        };
        let (c, v) = evaluate_findings(&policy, &with, &image);
        let c = c.unwrap();
        assert!(c.passed, "{}", c.detail);
        assert!(
            c.detail.contains("#/statements/0") && c.detail.contains("signed by cosign.pub"),
            "{}",
            c.detail
        );
        let v = v.unwrap();
        assert_eq!(v.suppressed.len(), 1);
        assert_eq!(
            v.suppressed[0].vex.document.signer.as_deref(),
            Some("cosign.pub")
        );
        // Another image's digest: the statement names nothing here and the finding fails.
        let other = vex::Image::of("oci:/tmp/x:app", &crate::oci::types::Digest::of(b"other"));
        let (c, v) = evaluate_findings(&policy, &with, &other);
        assert!(!c.unwrap().passed);
        assert!(v.unwrap().unused[0].contains("matches nothing"));
        // A trusted signer's VEX that is not valid OpenVEX fails closed.
        let mut bad = doc.clone();
        bad["statements"][0]["justification"] = serde_json::Value::Null;
        let broken = Evidence {
            trusted: vec![
                trusted(0, attest::PREDICATE_VULN, scan),
                trusted(1, vex::PREDICATE_OPENVEX, bad),
            ],
            ..Evidence::default()
        };
        let c = evaluate_findings(&policy, &broken, &image).0.unwrap();
        assert!(
            !c.passed && c.detail.contains("cannot be used"),
            "{}",
            c.detail
        );
    }

    fn vuln(result: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"scanner": {"uri": "x", "result": result}})
    }

    #[test]
    fn reads_cleanpipe_trivy_and_grype_scan_results() {
        let r = read_scan(
            &vuln(serde_json::json!({"findings": [{"id": "A", "severity": "high"}]})),
            "2026-01-01",
        )
        .unwrap();
        assert_eq!(r.findings[0].severity, Severity::High);
        let r = read_scan(
            &vuln(serde_json::json!({"Results": [{"Vulnerabilities": [
                {"VulnerabilityID": "B", "PkgName": "p", "Severity": "CRITICAL"}]}]})),
            "2026-01-01",
        )
        .unwrap();
        assert_eq!(r.findings[0].severity, Severity::Critical);
        let r = read_scan(
            &vuln(
                serde_json::json!({"matches": [{"vulnerability": {"id": "C", "severity": "Medium"},
                "artifact": {"name": "p"}}]}),
            ),
            "2026-01-01",
        )
        .unwrap();
        assert_eq!(r.findings[0].severity, Severity::Medium);
    }

    #[test]
    fn unreadable_scan_results_are_errors() {
        for bad in [
            serde_json::json!({"scanner": {}}),
            vuln(serde_json::json!([])),
            vuln(serde_json::json!({"other": 1})),
            vuln(serde_json::json!({"findings": "none"})),
            vuln(serde_json::json!({"findings": [{"id": "A"}]})),
            vuln(serde_json::json!({"findings": [{"id": "A", "severity": "bad"}]})),
            vuln(serde_json::json!({"matches": {"a": 1}})),
            vuln(serde_json::json!({"Results": [{"Vulnerabilities": 3}]})),
        ] {
            assert!(read_scan(&bad, "2026-01-01").is_err(), "{bad}");
        }
    }

    #[test]
    fn attested_waivers_count_until_they_expire() {
        let p = vuln(
            serde_json::json!({"findings": [{"id": "A", "severity": "critical",
            "waived": "ok", "waiver_expires": "2026-06-30"}]}),
        );
        assert!(read_scan(&p, "2026-06-30").unwrap().findings[0].waived);
        let late = read_scan(&p, "2026-07-01").unwrap();
        assert!(!late.findings[0].waived);
        assert!(late.notes[0].contains("expired on 2026-06-30"));
        // No clock given: no waiver counts.
        assert!(!read_scan(&p, "").unwrap().findings[0].waived);
    }
}
