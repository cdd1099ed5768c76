//! What a finished run tells the CI system around it, besides `report.json`: on GitHub Actions
//! the step outputs (`$GITHUB_OUTPUT`: `status`, `digest`, `image`, `tags`), a Markdown job
//! summary (`$GITHUB_STEP_SUMMARY`) and an `::error` annotation on the file and line a failure
//! points at; everywhere a JUnit XML report of the five gates (`outputs/junit.xml`, for Jenkins
//! and others) and a dotenv file (`outputs/cleanpipe.env`, GitLab's `artifacts:reports:dotenv`).
//!
//! A listener of the run's report: the stages know nothing of it. Everything written passes
//! through the redactor, like every other output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::printer::Printer;
use crate::error::Result;
use crate::pipeline::executor::RunReport;
use crate::redact::Redactor;

/// Whether this runs as a GitHub Actions step (see [`crate::ci`]).
pub fn on_github(env: &BTreeMap<String, String>) -> bool {
    crate::ci::Ci::detect(env).on(crate::ci::Platform::GitHub)
}

/// Write every CI output that applies to this environment.
pub fn write(
    report: &RunReport,
    env: &BTreeMap<String, String>,
    outputs_dir: &Path,
    redactor: &Redactor,
    printer: &Printer,
) -> Result<()> {
    // Each value is masked before it is escaped for its format (an escaped secret would no
    // longer match), and the whole text once more after.
    let clean = |text: &str| redactor.apply(text);
    let safe = |text: String| redactor.apply(&text);
    crate::fsutil::write_atomic(
        &outputs_dir.join("junit.xml"),
        safe(junit(report, &clean)?).as_bytes(),
    )?;
    crate::fsutil::write_atomic(
        &outputs_dir.join("cleanpipe.env"),
        safe(dotenv(report, &clean)).as_bytes(),
    )?;
    if !on_github(env) {
        return Ok(());
    }
    if let Some(path) = env.get("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        crate::fsutil::append_nofollow(
            &PathBuf::from(path),
            safe(step_outputs(report, &clean)).as_bytes(),
        )?;
    }
    if let Some(path) = env.get("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        crate::fsutil::append_nofollow(
            &PathBuf::from(path),
            safe(markdown(report, &clean)).as_bytes(),
        )?;
    }
    if let Some(annotation) = annotation(report, &clean) {
        // Workflow commands are read from the step's standard output.
        printer.data(&safe(annotation));
    }
    Ok(())
}

/// `key=value` lines; values are single-line by construction (no newline can enter them).
fn step_outputs(report: &RunReport, clean: &dyn Fn(&str) -> String) -> String {
    let one_line = |s: &str| clean(s).replace(['\r', '\n'], " ");
    let mut out = format!("status={}\n", one_line(&report.status));
    if let Some(p) = &report.published {
        out.push_str(&format!("digest={}\n", p.digest));
        out.push_str(&format!("image={}\n", one_line(&p.image)));
        out.push_str(&format!("tags={}\n", one_line(&p.tags.join(","))));
    } else if let Some(image) = &report.image {
        out.push_str(&format!("digest={}\n", image.digest));
    }
    out
}

fn dotenv(report: &RunReport, clean: &dyn Fn(&str) -> String) -> String {
    let quoted = |s: &str| format!("\"{}\"", clean(s).replace(['\r', '\n', '"', '\\'], " "));
    let mut out = format!("CLEANPIPE_STATUS={}\n", quoted(&report.status));
    if let Some(p) = &report.published {
        out.push_str(&format!("CLEANPIPE_DIGEST={}\n", quoted(p.digest.as_str())));
        out.push_str(&format!("CLEANPIPE_IMAGE={}\n", quoted(&p.image)));
        out.push_str(&format!("CLEANPIPE_TAGS={}\n", quoted(&p.tags.join(","))));
    }
    out
}

/// The job summary: the stages, what was published, the scan and the evidence, or the error.
fn markdown(report: &RunReport, clean: &dyn Fn(&str) -> String) -> String {
    let code = |s: &str| {
        format!(
            "`{}`",
            clean(s).replace('`', "'").replace(['\r', '\n'], " ")
        )
    };
    let cell = |s: &str| clean(s).replace('|', "\\|").replace(['\r', '\n'], " ");
    let mut out = format!(
        "### cleanpipe: {} — {}\n\n| stage | status | time |\n|---|---|---|\n",
        cell(&report.name),
        report.status
    );
    for s in &report.stages {
        out.push_str(&format!(
            "| {} | {} | {} ms |\n",
            s.name, s.status, s.duration_ms
        ));
    }
    out.push('\n');
    if let Some(source) = &report.source {
        out.push_str(&format!("- **Commit:** {}\n", code(&source.commit)));
    }
    if let Some(p) = &report.published {
        out.push_str(&format!(
            "- **Image:** {} (tags {})\n",
            code(&p.image),
            p.tags
                .iter()
                .map(|t| code(t))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let images = report
        .image
        .as_ref()
        .map(|i| i.images())
        .unwrap_or_default();
    for (platform, scan) in images
        .iter()
        .filter_map(|i| Some((&i.platform, i.scan.as_ref()?)))
    {
        let platform = match platform.as_str() {
            "" => String::new(),
            p => format!(" ({p})"),
        };
        out.push_str(&format!(
            "- **Scan{platform}:** {} package(s), {} finding(s), {} waived{}{}\n",
            scan.packages,
            scan.findings,
            scan.waived,
            match scan.suppressed {
                0 => String::new(),
                n => format!(", {n} suppressed by VEX"),
            },
            if scan.failing.is_empty() {
                String::new()
            } else {
                format!(
                    "; failing: {}",
                    scan.failing
                        .iter()
                        .map(|f| code(f))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    if let Some(sig) = &report.signature {
        out.push_str(&format!(
            "- **Signer:** {}\n",
            evidence_lines(sig)
                .iter()
                .map(|l| code(l))
                .collect::<Vec<_>>()
                .join("<br>")
        ));
        out.push_str(&format!(
            "- **Evidence:** signed with {}; attested: {}\n",
            code(&sig.key),
            if sig.attestations.is_empty() {
                "nothing".to_string()
            } else {
                sig.attestations
                    .iter()
                    .map(|a| code(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    if let Some(e) = &report.error {
        out.push_str(&format!(
            "\n**Error**{}: {}\n",
            e.stage.map(|s| format!(" in {s}")).unwrap_or_default(),
            code(&e.message)
        ));
        for r in &e.reasons {
            out.push_str(&format!("- {}\n", code(r)));
        }
        if let Some(h) = &e.hint {
            out.push_str(&format!("\nHint: {}\n", code(h)));
        }
    }
    out.push('\n');
    out
}

/// The `::error` workflow command for a failed run (see [`annotate`]).
fn annotation(report: &RunReport, clean: &dyn Fn(&str) -> String) -> Option<String> {
    let e = report.error.as_ref()?;
    Some(annotate(
        e.stage,
        &e.message,
        &e.reasons,
        e.hint.as_deref(),
        clean,
    ))
}

/// On GitHub Actions, annotate a failure that happened before the run had a report (a pipeline
/// file that does not load: `pipeline.yaml:12:3: …`).
pub fn annotate_error(
    error: &crate::Error,
    env: &BTreeMap<String, String>,
    redactor: &Redactor,
    printer: &Printer,
) {
    if on_github(env) {
        let clean = |text: &str| redactor.apply(text);
        let message = error.to_string();
        let annotation = annotate(None, &message, error.reasons(), error.hint(), &clean);
        printer.data(&redactor.apply(&annotation));
    }
}

/// An `::error` workflow command, on the file and line the message (else the first reason that
/// has one) starts with (`pipeline.yaml:12:3: …`, `Dockerfile:4: …`), else without a location.
fn annotate(
    stage: Option<&str>,
    message: &str,
    reasons: &[String],
    hint: Option<&str>,
    clean: &dyn Fn(&str) -> String,
) -> String {
    // Workflow-command escaping (actions/toolkit): data escapes %, CR, LF; properties also : and ,.
    let data = |s: &str| {
        clean(s)
            .replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let mut properties = vec![format!(
        "title={}",
        property(&format!("cleanpipe {} failed", stage.unwrap_or("run")))
    )];
    let located = std::iter::once(message)
        .chain(reasons.iter().map(String::as_str))
        .find_map(location);
    if let Some((file, line, col, _)) = located {
        properties.push(format!("file={}", property(file)));
        properties.push(format!("line={line}"));
        if let Some(col) = col {
            properties.push(format!("col={col}"));
        }
    }
    let mut text = message.to_string();
    for r in reasons {
        text.push_str(&format!("\n- {r}"));
    }
    if let Some(h) = hint {
        text.push_str(&format!("\nhint: {h}"));
    }
    format!("::error {}::{}", properties.join(","), data(&text))
}

/// `(file, line, column, rest)` when `message` starts with `FILE:LINE[:COL]: ` (a file name
/// has no blanks, so `cannot reach 127.0.0.1:5000: …` is not a location).
fn location(message: &str) -> Option<(&str, u64, Option<u64>, &str)> {
    let (head, rest) = message.split_once(": ")?;
    if head.contains(char::is_whitespace) || head.contains("://") {
        return None;
    }
    // Only what names a file cleanpipe reports locations in (`localhost:5000: …` is an address).
    let names_a_file = |file: &str| {
        let name = file.rsplit('/').next().unwrap_or(file);
        [".yaml", ".yml", ".json"].iter().any(|x| name.ends_with(x))
            || name.to_ascii_lowercase().contains("dockerfile")
            || name.to_ascii_lowercase().contains("containerfile")
    };
    let number = |s: &str| s.parse::<u64>().ok();
    let (before, last) = head.rsplit_once(':')?;
    let last = number(last)?;
    match before.rsplit_once(':') {
        Some((file, line)) if number(line).is_some() && names_a_file(file) => {
            Some((file, number(line)?, Some(last), rest))
        }
        _ if names_a_file(before) => Some((before, last, None, rest)),
        _ => None,
    }
}

/// The signer and one line per signature or attestation with where it is stored.
pub fn evidence_lines(sig: &crate::stages::sign::SignOutput) -> Vec<String> {
    let mut lines = vec![format!("signed by {}", sig.signer.describe())];
    if let crate::stages::sign::SignerReport::Keyless(c) = &sig.signer {
        lines.extend(c.claims.iter().map(|(k, v)| format!("  {k}: {v}")));
    }
    lines.extend(
        sig.evidence
            .iter()
            .map(|e| format!("{} of {}: {}", e.what, e.subject, e.location)),
    );
    lines
}

/// The five gates as a JUnit test suite (written by `quick-junit`): a failed stage is a failure
/// (with its reasons and hint), a stage that never ran is skipped. Text from build logs and error
/// messages may hold characters XML 1.0 forbids: `quick-junit` drops ANSI escapes and C0
/// controls, and [`xml_text`] the two non-characters it keeps.
fn junit(report: &RunReport, clean: &dyn Fn(&str) -> String) -> Result<String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let text = |s: &str| xml_text(&clean(s));
    let duration = |ms: u128| std::time::Duration::from_millis(ms.try_into().unwrap_or(u64::MAX));
    let mut suite = TestSuite::new(text(&format!("cleanpipe {}", report.name)));
    // The run's own RFC 3339 text, the same as in `report.json` (quick-junit's typed setter
    // takes a chrono date, and cleanpipe's dates are `time`'s).
    if !report.started_at.is_empty() {
        suite
            .extra
            .insert("timestamp".into(), text(&report.started_at).into());
    }
    suite.set_time(duration(report.duration_ms));
    let classname = text(&format!("cleanpipe.{}", report.name));
    for s in &report.stages {
        let status = match s.status {
            "failed" | "interrupted" => {
                let e = report.error.as_ref();
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(text(e.map(|e| e.message.as_str()).unwrap_or(s.status)))
                    .set_type(s.status);
                let mut body: Vec<String> = e.map(|e| e.reasons.clone()).unwrap_or_default();
                if let Some(h) = e.and_then(|e| e.hint.as_ref()) {
                    body.push(format!("hint: {h}"));
                }
                if !body.is_empty() {
                    status.set_description(text(&body.join("\n")));
                }
                status
            }
            "not run" => {
                let mut status = TestCaseStatus::skipped();
                status.set_message("not run: an earlier gate stopped the run");
                status
            }
            "skipped" => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(text(&format!(
                    "unsigned run: {}",
                    report.unsigned.as_deref().unwrap_or("")
                )));
                status
            }
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(s.name, status);
        case.set_classname(classname.as_str())
            .set_time(duration(s.duration_ms));
        if let (Some(sig), "sign", "passed") = (&report.signature, s.name, s.status) {
            // Who signed and where each piece of evidence is, for whoever reads the test report.
            case.set_system_out(text(&evidence_lines(sig).join("\n")));
        }
        suite.add_test_case(case);
    }
    let mut junit = Report::new("cleanpipe");
    junit.set_time(duration(report.duration_ms));
    junit.add_test_suite(suite);
    junit
        .to_string()
        .map_err(|e| crate::Error::environment(format!("cannot write the JUnit report: {e}")))
}

/// `text` without U+FFFE and U+FFFF, which XML 1.0 forbids and `quick-junit` keeps (it removes
/// ANSI escapes and the other control characters itself).
fn xml_text(text: &str) -> String {
    text.replace(['\u{fffe}', '\u{ffff}'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_read_from_the_start_of_a_message() {
        assert_eq!(
            location("pipeline.yaml:12:3: unknown key `sgin`"),
            Some(("pipeline.yaml", 12, Some(3), "unknown key `sgin`"))
        );
        assert_eq!(
            location("docker/Dockerfile:4: FROM is not pinned"),
            Some(("docker/Dockerfile", 4, None, "FROM is not pinned"))
        );
        assert_eq!(location("the work tree has uncommitted changes"), None);
        assert_eq!(
            location("registry `127.0.0.1:5000` answered: HTTP 500"),
            None
        );
        assert_eq!(location("cannot reach 127.0.0.1:5000: refused"), None);
        assert_eq!(location("localhost:5000: refused"), None);
        assert_eq!(location("https://h:8443: refused"), None);
    }

    #[test]
    fn an_annotation_escapes_what_would_end_it() {
        let report = RunReport {
            error: Some(crate::pipeline::executor::ErrorReport {
                stage: Some("build"),
                message: "Dockerfile:2: 100% wrong\nsecond line".into(),
                reasons: vec![],
                hint: None,
            }),
            ..Default::default()
        };
        let a = annotation(&report, &|s: &str| s.to_string()).unwrap();
        assert_eq!(
            a,
            "::error title=cleanpipe build failed,file=Dockerfile,line=2::Dockerfile:2: 100%25 wrong%0Asecond line"
        );
    }
    fn failed_run(message: &str, reasons: Vec<String>, hint: Option<&str>) -> RunReport {
        let stage = |name, status, duration_ms| crate::pipeline::executor::StageReport {
            name,
            status,
            duration_ms,
        };
        RunReport {
            name: "web\u{7}".into(),
            started_at: "2026-12-07T12:00:00Z".into(),
            duration_ms: 1500,
            stages: vec![
                stage("source", "passed", 20),
                stage("verify-base", "passed", 300),
                stage("build", "failed", 1180),
                stage("sign", "not run", 0),
                stage("push", "not run", 0),
            ],
            error: Some(crate::pipeline::executor::ErrorReport {
                stage: Some("build"),
                message: message.into(),
                reasons,
                hint: hint.map(Into::into),
            }),
            ..Default::default()
        }
    }

    /// Whether `c` may appear in an XML 1.0 document (the `Char` production).
    fn xml_char(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
            || c >= '\u{10000}'
    }

    #[test]
    fn junit_keeps_the_stages_failures_and_times() {
        let report = failed_run(
            "Dockerfile:2: <oops> & \"quoted\"",
            vec!["first reason".into(), "second reason".into()],
            Some("fix it"),
        );
        let xml = junit(&report, &|s: &str| s.to_string()).unwrap();
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(back.name.as_ref().unwrap().as_str(), "cleanpipe");
        assert_eq!((back.tests, back.failures, back.skipped), (5, 1, 2));
        let suite = &back.test_suites[0];
        assert_eq!(suite.name.as_str(), "cleanpipe web");
        assert_eq!(suite.time, Some(std::time::Duration::from_millis(1500)));
        // Read back as the typed timestamp: a well-formed one.
        assert_eq!(
            suite.timestamp.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-12-07T12:00:00+00:00")
        );
        let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["source", "verify-base", "build", "sign", "push"]);
        let build = &suite.test_cases[2];
        assert_eq!(build.classname.as_ref().unwrap().as_str(), "cleanpipe.web");
        assert_eq!(build.time, Some(std::time::Duration::from_millis(1180)));
        let quick_junit::TestCaseStatus::NonSuccess {
            message,
            ty,
            description,
            ..
        } = &build.status
        else {
            panic!("build is a failure: {:?}", build.status)
        };
        assert_eq!(
            message.as_ref().unwrap().as_str(),
            "Dockerfile:2: <oops> & \"quoted\""
        );
        assert_eq!(ty.as_ref().unwrap().as_str(), "failed");
        assert_eq!(
            description.as_ref().unwrap().as_str(),
            "first reason\nsecond reason\nhint: fix it"
        );
        assert!(matches!(
            &suite.test_cases[3].status,
            quick_junit::TestCaseStatus::Skipped { message: Some(m), .. }
                if m.as_str() == "not run: an earlier gate stopped the run"
        ));
    }

    #[test]
    fn junit_is_well_formed_whatever_the_error_text_holds() {
        let nasty = "\u{1b}[31merror\u{1b}[0m: nul \u{0} bell \u{7} bs \u{8} vt \u{b} ff \u{c} \
                     esc-alone \u{1b} us \u{1f} nonchars \u{fffe}\u{ffff} ]]> end";
        let report = failed_run(
            nasty,
            vec![format!("log line: {nasty}")],
            Some("\u{0}hint\u{1b}[1m"),
        );
        let xml = junit(&report, &|s: &str| s.to_string()).unwrap();
        let bad: Vec<char> = xml.chars().filter(|c| !xml_char(*c)).collect();
        assert!(
            bad.is_empty(),
            "characters XML 1.0 forbids: {bad:?} in {xml}"
        );
        assert!(!xml.contains("[31m") && !xml.contains("[0m"), "{xml}");
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert_eq!((back.tests, back.failures, back.skipped), (5, 1, 2));
        let quick_junit::TestCaseStatus::NonSuccess { message, .. } =
            &back.test_suites[0].test_cases[2].status
        else {
            panic!("build is a failure")
        };
        let message = message.as_ref().unwrap().as_str();
        assert!(message.starts_with("error: nul  bell  bs"), "{message}");
        assert!(message.ends_with("nonchars  ]]> end"), "{message}");
    }
}
