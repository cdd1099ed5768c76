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

/// Whether this runs as a GitHub Actions step (the runner sets `GITHUB_ACTIONS=true`).
pub fn on_github(env: &BTreeMap<String, String>) -> bool {
    env.get("GITHUB_ACTIONS").map(String::as_str) == Some("true")
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
        safe(junit(report, &clean)).as_bytes(),
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
            "- **Scan{platform}:** {} package(s), {} finding(s), {} waived{}\n",
            scan.packages,
            scan.findings,
            scan.waived,
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

/// The five gates as a JUnit test suite: a failed stage is a failure (with its reasons and
/// hint), a stage that never ran is skipped.
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

fn junit(report: &RunReport, clean: &dyn Fn(&str) -> String) -> String {
    let xml = |s: &str| {
        clean(s)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
    };
    let failures = report
        .stages
        .iter()
        .filter(|s| s.status == "failed" || s.status == "interrupted")
        .count();
    let skipped = report
        .stages
        .iter()
        .filter(|s| s.status == "not run" || s.status == "skipped")
        .count();
    let seconds = |ms: u128| format!("{:.3}", ms as f64 / 1000.0);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cleanpipe\" tests=\"{n}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{t}\">\n  <testsuite name=\"cleanpipe {name}\" tests=\"{n}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{t}\" timestamp=\"{ts}\">\n",
        n = report.stages.len(),
        t = seconds(report.duration_ms),
        name = xml(&report.name),
        ts = xml(&report.started_at),
    );
    for s in &report.stages {
        let head = format!(
            "    <testcase classname=\"cleanpipe.{}\" name=\"{}\" time=\"{}\"",
            xml(&report.name),
            s.name,
            seconds(s.duration_ms)
        );
        match s.status {
            "failed" | "interrupted" => {
                let e = report.error.as_ref();
                let message = e.map(|e| e.message.as_str()).unwrap_or(s.status);
                let mut body: Vec<String> = e.map(|e| e.reasons.clone()).unwrap_or_default();
                if let Some(h) = e.and_then(|e| e.hint.as_ref()) {
                    body.push(format!("hint: {h}"));
                }
                out.push_str(&format!(
                    "{head}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(message),
                    s.status,
                    xml(&body.join("\n"))
                ));
            }
            "not run" => out.push_str(&format!(
                "{head}>\n      <skipped message=\"not run: an earlier gate stopped the run\"/>\n    </testcase>\n"
            )),
            "skipped" => out.push_str(&format!(
                "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                xml(&format!(
                    "unsigned run: {}",
                    report.unsigned.as_deref().unwrap_or("")
                ))
            )),
            _ => match (&report.signature, s.name) {
                // Who signed and where each piece of evidence is, for whoever reads the test report.
                (Some(sig), "sign") => out.push_str(&format!(
                    "{head}>\n      <system-out>{}</system-out>\n    </testcase>\n",
                    xml(&evidence_lines(sig).join("\n"))
                )),
                _ => out.push_str(&format!("{head}/>\n")),
            },
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
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
}
