//! Attested scan results: reading a vuln predicate (cleanpipe's scan report, or trivy's or
//! grype's JSON in cosign's shape), the `fail_on` rule, and waiver expiry.

use super::attestations::{used_list, Evidence};
use super::{check, Policy, PolicyCheck, UsedAttestation};
use crate::scan::external::{self, Tool};
use crate::scan::Severity;
use crate::sign::attest;

pub(super) fn evaluate_scan(policy: &Policy, evidence: &Evidence) -> Vec<PolicyCheck> {
    if !policy.needs_scan() {
        return vec![];
    }
    let mut out: Vec<PolicyCheck> = evaluate_findings(policy, evidence).into_iter().collect();
    if let Some(max_age) = policy.max_scan_age {
        out.push(evaluate_age(max_age, policy.now, evidence));
    }
    if let Some(max_age) = policy.max_db_age {
        out.push(evaluate_db_age(max_age, evidence));
    }
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

/// The findings rule: every trusted scan clean at the threshold (`none`: only readable).
fn evaluate_findings(policy: &Policy, evidence: &Evidence) -> Option<PolicyCheck> {
    let threshold = policy.fail_on.unwrap_or(crate::scan::gate::Threshold::None);
    let trusted = match evidence.select(&[attest::PREDICATE_VULN], "vulnerabilities", "scan result")
    {
        Ok(t) => t,
        Err(fail) => return Some(fail),
    };
    let used: Vec<UsedAttestation> = trusted.iter().map(|t| t.used.clone()).collect();
    let mut failing = Vec::new();
    let mut incomplete: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    let mut total = 0;
    for t in &trusted {
        match read_scan(&t.statement["predicate"], &policy.today) {
            Err(why) => {
                return Some(check(
                    "vulnerabilities",
                    false,
                    format!(
                        "{} holds a scan result cleanpipe cannot read: {why}",
                        t.used
                    ),
                    vec![t.used.clone()],
                ))
            }
            Ok(scan) => {
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
                        .filter(|f| !f.waived && f.severity.trips(threshold))
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
    Some(check(
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
    ))
}

/// One finding as the policy sees it.
struct ScanFinding {
    id: String,
    severity: Severity,
    package: String,
    version: String,
    /// Covered by a waiver that has not expired.
    waived: bool,
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
