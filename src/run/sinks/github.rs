//! What a finished run tells GitHub Actions: the step outputs (`$GITHUB_OUTPUT`: `status`,
//! `digest`, `image`, `tags`), a Markdown job summary (`$GITHUB_STEP_SUMMARY`) and an `::error`
//! annotation on the file and line a failure points at. Everything written passes through the
//! redactor, like every other output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::redact::Redactor;
use crate::run::executor::RunReport;
use crate::run::sinks::{evidence_lines, Finished, Notice, Sink, Written};

/// Whether this runs as a GitHub Actions step (see [`crate::ci`]).
pub fn on_github(env: &BTreeMap<String, String>) -> bool {
    crate::ci::Ci::detect(env).on(crate::ci::Platform::GitHub)
}

/// GitHub Actions: the step outputs, the job summary and, for a failed run, an `::error`
/// annotation. Required once the run succeeded (the job would go on without the digest).
pub struct GitHub;

impl Sink for GitHub {
    fn name(&self) -> &'static str {
        "the GitHub step outputs"
    }

    fn write<'a>(&'a self, run: &'a Finished<'a>) -> Written<'a> {
        Box::pin(async move {
            let env = &run.ctx.env;
            if !on_github(env) {
                return Ok(vec![]);
            }
            let redactor = &run.ctx.redactor;
            // Each value is masked before it is escaped for its format (an escaped secret would
            // no longer match), and the whole text once more after.
            let clean = |text: &str| redactor.apply(text);
            let safe = |text: String| redactor.apply(&text);
            if let Some(path) = env.get("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
                crate::fsutil::append_nofollow(
                    &PathBuf::from(path),
                    safe(step_outputs(run.report, &clean)).as_bytes(),
                )?;
            }
            if let Some(path) = env.get("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
                crate::fsutil::append_nofollow(
                    &PathBuf::from(path),
                    safe(markdown(run.report, &clean)).as_bytes(),
                )?;
            }
            // Workflow commands are read from the step's standard output.
            Ok(annotation(run.report, &clean)
                .map(|a| Notice::Stdout(safe(a)))
                .into_iter()
                .collect())
        })
    }
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
            s.name,
            s.status.as_str(),
            s.duration_ms
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

/// On GitHub Actions, the annotation of a failure that happened before the run had a report
/// (a pipeline file that does not load: `pipeline.yaml:12:3: …`), for standard output.
pub fn annotate_error(
    error: &crate::Error,
    env: &BTreeMap<String, String>,
    redactor: &Redactor,
) -> Option<String> {
    on_github(env).then(|| {
        let clean = |text: &str| redactor.apply(text);
        let message = error.to_string();
        let annotation = annotate(None, &message, error.reasons(), error.hint(), &clean);
        redactor.apply(&annotation)
    })
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
            error: Some(crate::run::executor::ErrorReport {
                stage: Some("build"),
                causes: vec![],
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
