//! The executor, the stages and the sinks run in-process over a pipeline in a temporary Git
//! repository, with a recording reporter and a fixed clock: no binary, no registry.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::error::{Error, ExitCode};
use crate::redact::Redactor;
use crate::run::executor::{execute, RunReport, StageStatus};
use crate::run::sinks::{self, Finished, Notice, Rule, Sink, Written};
use crate::run::{Event, Reporter, RunContext};

/// What the stages said, in order: (stage, text) for messages and warnings, and the events.
#[derive(Default)]
struct Recording {
    messages: Mutex<Vec<(String, String)>>,
    warnings: Mutex<Vec<(String, String)>>,
    events: Mutex<Vec<String>>,
}

impl Reporter for Recording {
    fn message(&self, stage: &str, text: &str) {
        self.messages
            .lock()
            .unwrap()
            .push((stage.into(), text.into()));
    }
    fn warning(&self, stage: &str, text: &str) {
        self.warnings
            .lock()
            .unwrap()
            .push((stage.into(), text.into()));
    }
    fn event(&self, event: &Event<'_>) {
        let name = match event {
            Event::ScanStarted { stage, .. } => format!("scan started in {stage}"),
            Event::Scanned { stage, .. } => format!("scanned in {stage}"),
        };
        self.events.lock().unwrap().push(name);
    }
}

/// A committed repository holding `files` and `pipeline.yaml`.
fn repository(pipeline: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all = vec![("pipeline.yaml", pipeline)];
    all.extend_from_slice(files);
    crate::testing::repository(&all)
}

const FIXED: i64 = 1_796_660_000; // 2026-12-07T16:13:20Z

fn context(dir: &Path, unsigned: Option<&str>) -> (RunContext, Arc<Recording>) {
    let path = dir.join("pipeline.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let redactor = Redactor::default();
    let pipeline = crate::spec::load::parse(&text, &path, &|_| None, &redactor).unwrap();
    let recording = Arc::new(Recording::default());
    let ctx = RunContext {
        base_dir: pipeline.base_dir(),
        store_dir: dir.join(".cleanpipe/oci"),
        outputs_dir: dir.join(".cleanpipe/outputs"),
        env: Default::default(),
        redactor,
        remote: Default::default(),
        password: Arc::new(|| Err(Error::usage("no password in these tests"))),
        reporter: recording.clone(),
        progress: Default::default(),
        run_number: 7,
        pipeline,
        unsigned: unsigned.map(str::to_string),
        clock: Clock::Fixed(time::OffsetDateTime::from_unix_timestamp(FIXED).unwrap()),
    };
    for d in [&ctx.store_dir, &ctx.outputs_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    (ctx, recording)
}

async fn run(ctx: &RunContext) -> (RunReport, Vec<&'static str>) {
    let started = Mutex::new(Vec::new());
    let on_stage = |name: &'static str| started.lock().unwrap().push(name);
    let report = execute(ctx, "t", std::future::pending(), &on_stage).await;
    (report, started.into_inner().unwrap())
}

fn statuses(report: &RunReport) -> Vec<StageStatus> {
    report.stages.iter().map(|s| s.status).collect()
}

const SCRATCH: &str = "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\n";

#[tokio::test]
async fn an_unsigned_run_builds_and_gates_then_skips_sign_and_push() {
    let repo = repository(SCRATCH, &[("hello.txt", "hello\n")]);
    let (ctx, recording) = context(repo.path(), Some("a test"));
    let (report, started) = run(&ctx).await;
    assert_eq!(report.status, "succeeded", "{:?}", report.error);
    assert_eq!(report.exit_code, 0);
    assert_eq!(started, ["source", "verify-base", "build"]);
    use StageStatus::*;
    assert_eq!(
        statuses(&report),
        [Passed, Passed, Passed, Skipped, Skipped]
    );
    // The clock the context holds, not the system's.
    assert_eq!(report.started_at, "2026-12-07T16:13:20Z");
    let image = report
        .image
        .as_ref()
        .expect("the build's output is reported");
    // The image is in the run's layout, found by its digest.
    let layout = crate::oci::Layout::open(&ctx.store_dir).unwrap();
    assert!(layout.has_blob(&image.digest));
    assert!(report.signature.is_none() && report.published.is_none());
    let messages = recording.messages.lock().unwrap();
    assert!(
        messages
            .iter()
            .any(|(s, t)| s == "verify-base" && t == "no base images (scratch)"),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|(s, t)| s == "sign" && t.contains("unsigned run (a test)")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_dirty_tree_stops_the_run_at_source_and_nothing_after_runs() {
    let repo = repository(SCRATCH, &[("hello.txt", "hello\n")]);
    std::fs::write(repo.path().join("hello.txt"), "changed\n").unwrap();
    let (ctx, _) = context(repo.path(), Some("a test"));
    let (report, started) = run(&ctx).await;
    assert_eq!(report.status, "failed");
    assert_eq!(report.exit_code, ExitCode::GateFailed as i32);
    assert_eq!(started, ["source"]);
    use StageStatus::*;
    assert_eq!(statuses(&report), [Failed, NotRun, NotRun, NotRun, NotRun]);
    let error = report.error.as_ref().unwrap();
    assert_eq!(error.stage, Some("source"));
    assert!(error.message.contains("uncommitted changes"), "{error:?}");
    assert!(
        error.reasons.iter().any(|r| r.contains("hello.txt")),
        "{error:?}"
    );
    assert!(report.image.is_none());
    // Nothing was built into the layout.
    assert!(!ctx.store_dir.join("index.json").exists());
}

#[tokio::test]
async fn an_interrupt_stops_the_run_in_the_stage_it_is_in() {
    let repo = repository(SCRATCH, &[("hello.txt", "hello\n")]);
    let (ctx, _) = context(repo.path(), Some("a test"));
    let report = execute(&ctx, "t", std::future::ready(()), &|_| {}).await;
    assert_eq!(report.status, "interrupted");
    assert_eq!(report.exit_code, ExitCode::Interrupted as i32);
    assert!(report
        .stages
        .iter()
        .all(|s| s.status != StageStatus::Passed || s.name == "source"));
    assert!(report.published.is_none());
}

/// A sink that fails, or records that it was written.
struct Probe {
    fails: bool,
    rule: Rule,
    written: Mutex<bool>,
}

impl Sink for Probe {
    fn name(&self) -> &'static str {
        "the probe"
    }
    fn rule(&self) -> Rule {
        self.rule
    }
    fn write<'a>(&'a self, _: &'a Finished<'a>) -> Written<'a> {
        *self.written.lock().unwrap() = true;
        let result = if self.fails {
            Err(Error::environment("disk full"))
        } else {
            Ok(vec![Notice::Status("probe written".into())])
        };
        Box::pin(std::future::ready(result))
    }
}

fn probe(fails: bool, rule: Rule) -> Probe {
    Probe {
        fails,
        rule,
        written: Mutex::new(false),
    }
}

#[tokio::test]
async fn each_sink_failure_is_judged_by_its_rule() {
    let repo = repository(SCRATCH, &[("hello.txt", "hello\n")]);
    let (ctx, _) = context(repo.path(), None);
    let succeeded = RunReport::default();
    let failed = RunReport {
        error: Some(crate::run::executor::ErrorReport {
            stage: Some("build"),
            causes: vec![],
            message: "boom".into(),
            reasons: vec![],
            hint: None,
        }),
        ..Default::default()
    };
    let on = |report| Finished { report, ctx: &ctx };

    // A run that succeeded fails on any sink's failure, and the sinks after it are not written.
    let (bad, after) = (
        probe(true, Rule::IfRunSucceeded),
        probe(false, Rule::Always),
    );
    let e = sinks::finish(&[&bad, &after], &on(&succeeded))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("disk full"));
    assert!(!*after.written.lock().unwrap());

    // A failed run keeps its own error: the sink's failure is a warning, the rest are written.
    let (bad, after) = (
        probe(true, Rule::IfRunSucceeded),
        probe(false, Rule::Always),
    );
    let out = sinks::finish(&[&bad, &after], &on(&failed)).await.unwrap();
    assert_eq!(out.warnings, ["the probe could not be written: disk full"]);
    assert_eq!(out.notices, [Notice::Status("probe written".into())]);
    assert!(*after.written.lock().unwrap());

    // `Always` fails even a failed run.
    let always = probe(true, Rule::Always);
    assert!(sinks::finish(&[&always], &on(&failed)).await.is_err());

    // `BestEffort` fails no run, not even one that succeeded.
    for report in [&succeeded, &failed] {
        let out = sinks::finish(&[&probe(true, Rule::BestEffort)], &on(report))
            .await
            .unwrap();
        assert_eq!(out.warnings, ["the probe could not be written: disk full"]);
    }
}

#[tokio::test]
async fn the_report_and_ci_sinks_write_their_files() {
    let repo = repository(SCRATCH, &[("hello.txt", "hello\n")]);
    let (ctx, _) = context(repo.path(), None);
    let report = RunReport {
        name: "t".into(),
        status: "succeeded".into(),
        ..Default::default()
    };
    let finished = Finished {
        report: &report,
        ctx: &ctx,
    };
    let also = repo.path().join("copy.json");
    let report_json = sinks::report::ReportJson {
        also: Some(also.clone()),
    };
    let out = sinks::finish(
        &[
            &report_json,
            &sinks::junit::JUnit,
            &sinks::dotenv::Dotenv,
            &sinks::github::GitHub,
        ],
        &finished,
    )
    .await
    .unwrap();
    // Not on GitHub: no annotation, no step outputs.
    assert!(out.notices.is_empty() && out.warnings.is_empty());
    let written = std::fs::read_to_string(ctx.outputs_dir.join("report.json")).unwrap();
    assert_eq!(written, std::fs::read_to_string(&also).unwrap());
    assert!(written.contains("\"status\": \"succeeded\""));
    let env = std::fs::read_to_string(ctx.outputs_dir.join("cleanpipe.env")).unwrap();
    assert_eq!(env, "CLEANPIPE_STATUS=\"succeeded\"\n");
    assert!(ctx.outputs_dir.join("junit.xml").exists());
}

/// A webhook receiver on loopback answering every request with 200; each request's first line
/// and body come out of the channel.
fn hook_receiver() -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .unwrap();
            let _ = tx.send((first.trim().to_string(), String::from_utf8(body).unwrap()));
        }
    });
    (url, rx)
}

#[tokio::test]
async fn failure_webhooks_hear_of_a_failed_run_and_their_failures_are_warnings() {
    let (url, requests) = hook_receiver();
    // A port nothing listens on: refused at once.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let pipeline = format!(
        "{SCRATCH}push:\n  register:\n    - url: {url}/on-success\n    - url: {url}/on-failure\n      on: [failure]\n    - url: {dead}/gone\n      on: [success, failure]\n      timeout_seconds: 2\n"
    );
    let repo = repository(&pipeline, &[("hello.txt", "hello\n")]);
    let (ctx, _) = context(repo.path(), None);
    let hooks = sinks::webhook::failure_webhooks(&ctx);
    assert_eq!(hooks.len(), 2, "the success-only hook is the push stage's");
    let hook_sinks: Vec<&dyn Sink> = hooks.iter().map(|h| h as &dyn Sink).collect();

    // A run that succeeded: nobody is called.
    let succeeded = RunReport {
        status: "succeeded".into(),
        ..Default::default()
    };
    let on = |report| Finished { report, ctx: &ctx };
    let out = sinks::finish(&hook_sinks, &on(&succeeded)).await.unwrap();
    assert!(out.notices.is_empty() && out.warnings.is_empty());
    assert!(hooks.iter().all(|h| h.told().is_none()));

    // A failed run: the reachable hook is told, the unreachable one is a warning, not an error.
    let failed = RunReport {
        name: "t".into(),
        status: "failed".into(),
        exit_code: 1,
        error: Some(crate::run::executor::ErrorReport {
            stage: Some("build"),
            causes: vec![],
            message: "boom".into(),
            reasons: vec!["a reason".into()],
            hint: None,
        }),
        ..Default::default()
    };
    let out = sinks::finish(&hook_sinks, &on(&failed)).await.unwrap();
    let shown = url.trim_end_matches('/');
    let told = format!("notified {shown} of the failure (HTTP 200)");
    assert_eq!(out.notices, [Notice::Status(format!("  [push] {told}"))]);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0]
            .starts_with("[push] could not notify of the failure: webhook http://127.0.0.1:"),
        "{:?}",
        out.warnings
    );
    let lines: Vec<String> = hooks.iter().filter_map(|h| h.told()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], told);
    assert!(
        lines[1].starts_with("could not notify of the failure: "),
        "{lines:?}"
    );
    let (first, body) = requests.try_recv().unwrap();
    assert_eq!(first, "POST /on-failure HTTP/1.1");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["event"], "run.failed");
    assert_eq!(body["stage"], "build");
    assert_eq!(body["reasons"][0], "a reason");
    assert!(requests.try_recv().is_err(), "one request only");

    // An interrupted run is not a failure to tell anyone about.
    let interrupted = RunReport {
        status: "interrupted".into(),
        ..failed.clone()
    };
    let hooks = sinks::webhook::failure_webhooks(&ctx);
    let hook_sinks: Vec<&dyn Sink> = hooks.iter().map(|h| h as &dyn Sink).collect();
    let out = sinks::finish(&hook_sinks, &on(&interrupted)).await.unwrap();
    assert!(out.notices.is_empty() && out.warnings.is_empty());
}
