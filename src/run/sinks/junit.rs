//! `outputs/junit.xml`: the five gates as a JUnit report (Jenkins, GitLab and most CI systems
//! show it), through `quick-junit`, so the document is well formed whatever an error holds.

use crate::error::Result;
use crate::run::executor::{RunReport, StageStatus};
use crate::run::sinks::{evidence_lines, Finished, Sink, Written};

/// The JUnit report, written on every run. Required once the run succeeded.
pub struct JUnit;

impl Sink for JUnit {
    fn name(&self) -> &'static str {
        "the JUnit report"
    }

    fn write<'a>(&'a self, run: &'a Finished<'a>) -> Written<'a> {
        Box::pin(async move {
            let redactor = &run.ctx.redactor;
            let xml = junit(run.report, &|text: &str| redactor.apply(text))?;
            crate::fsutil::write_atomic(
                &run.ctx.outputs_dir.join("junit.xml"),
                redactor.apply(&xml).as_bytes(),
            )?;
            Ok(vec![])
        })
    }
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
            StageStatus::Failed | StageStatus::Interrupted => {
                let e = report.error.as_ref();
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(text(
                        e.map(|e| e.message.as_str()).unwrap_or(s.status.as_str()),
                    ))
                    .set_type(s.status.as_str());
                let mut body: Vec<String> = e
                    .map(|e| {
                        let causes = e.causes.iter().map(|c| format!("caused by: {c}"));
                        causes.chain(e.reasons.iter().cloned()).collect()
                    })
                    .unwrap_or_default();
                if let Some(h) = e.and_then(|e| e.hint.as_ref()) {
                    body.push(format!("hint: {h}"));
                }
                if !body.is_empty() {
                    status.set_description(text(&body.join("\n")));
                }
                status
            }
            StageStatus::NotRun => {
                let mut status = TestCaseStatus::skipped();
                status.set_message("not run: an earlier gate stopped the run");
                status
            }
            StageStatus::Skipped => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(text(&format!(
                    "unsigned run: {}",
                    report.unsigned.as_deref().unwrap_or("")
                )));
                status
            }
            StageStatus::Passed | StageStatus::Running => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(s.name, status);
        case.set_classname(classname.as_str())
            .set_time(duration(s.duration_ms));
        if let (Some(sig), "sign", StageStatus::Passed) = (&report.signature, s.name, s.status) {
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
        .map_err(|e| crate::Error::environment("cannot write the JUnit report").caused_by(e))
}

/// `text` without U+FFFE and U+FFFF, which XML 1.0 forbids and `quick-junit` keeps (it removes
/// ANSI escapes and the other control characters itself).
fn xml_text(text: &str) -> String {
    text.replace(['\u{fffe}', '\u{ffff}'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_run(message: &str, reasons: Vec<String>, hint: Option<&str>) -> RunReport {
        let stage = |name, status, duration_ms| crate::run::executor::StageReport {
            name,
            status,
            duration_ms,
        };
        RunReport {
            name: "web\u{7}".into(),
            started_at: "2026-12-07T12:00:00Z".into(),
            duration_ms: 1500,
            stages: vec![
                stage("source", StageStatus::Passed, 20),
                stage("verify-base", StageStatus::Passed, 300),
                stage("build", StageStatus::Failed, 1180),
                stage("sign", StageStatus::NotRun, 0),
                stage("push", StageStatus::NotRun, 0),
            ],
            error: Some(crate::run::executor::ErrorReport {
                stage: Some("build"),
                causes: vec![],
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
