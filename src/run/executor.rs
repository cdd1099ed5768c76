//! Runs the five stages in order. Each is a hard gate: the first failure stops the run and
//! nothing after it happens. Ctrl-C (the `interrupt` future) stops the run the same way:
//! in-flight temporary files are dropped with the stage, and nothing further is published.

use std::future::Future;
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, ExitCode, Result};
use crate::run::stages::build::BuildOutput;
use crate::run::stages::publish::Published;
use crate::run::stages::sign::SignOutput;
use crate::run::stages::source::SourceInfo;
use crate::run::stages::verify_base::VerifiedBase;
use crate::run::{stages, RunContext, STAGE_NAMES};
use crate::spec::template::TemplateValues;

/// Everything a run did, for `--report` and the summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    pub pipeline: String,
    pub name: String,
    /// `succeeded`, `failed` or `interrupted`.
    pub status: String,
    pub exit_code: i32,
    pub started_at: String,
    pub duration_ms: u128,
    pub stages: Vec<StageReport>,
    pub source: Option<SourceInfo>,
    pub bases: Vec<VerifiedBase>,
    pub image: Option<BuildOutput>,
    pub signature: Option<SignOutput>,
    pub published: Option<Published>,
    pub error: Option<ErrorReport>,
    /// What the `on: [failure]` hooks were told, one line each ([`crate::run::sinks::webhook`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failure_notifications: Vec<String>,
    /// `run --unsigned`: why this run built and gated without signing or publishing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsigned: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StageReport {
    pub name: &'static str,
    pub status: StageStatus,
    pub duration_ms: u128,
}

/// Where a stage is, as reports and the audit log spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StageStatus {
    #[serde(rename = "not run")]
    NotRun,
    #[serde(rename = "running")]
    Running,
    #[serde(rename = "passed")]
    Passed,
    #[serde(rename = "failed")]
    Failed,
    #[serde(rename = "interrupted")]
    Interrupted,
    /// Sign and push of an unsigned run.
    #[serde(rename = "skipped")]
    Skipped,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::NotRun => "not run",
            StageStatus::Running => "running",
            StageStatus::Passed => "passed",
            StageStatus::Failed => "failed",
            StageStatus::Interrupted => "interrupted",
            StageStatus::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ErrorReport {
    pub stage: Option<&'static str>,
    pub message: String,
    /// The errors beneath it, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    pub reasons: Vec<String>,
    pub hint: Option<String>,
}

/// Run the pipeline. `on_stage` is told when each stage starts (for progress display).
pub async fn execute(
    ctx: &RunContext,
    name: &str,
    interrupt: impl Future<Output = ()>,
    on_stage: &(dyn Fn(&'static str) + Sync),
) -> RunReport {
    let started = Instant::now();
    let mut report = RunReport {
        pipeline: ctx.pipeline.path.display().to_string(),
        name: name.to_string(),
        started_at: ctx.clock.rfc3339(),
        stages: STAGE_NAMES
            .iter()
            .map(|n| StageReport {
                name: n,
                status: StageStatus::NotRun,
                duration_ms: 0,
            })
            .collect(),
        ..Default::default()
    };
    let result = {
        let run = run_stages(ctx, &mut report, on_stage);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => r,
            _ = interrupt => Err(Error::Interrupted),
        }
    };
    report.duration_ms = started.elapsed().as_millis();
    match result {
        Ok(()) => {
            report.status = "succeeded".into();
            report.exit_code = 0;
        }
        Err(e) => {
            let current = report
                .stages
                .iter_mut()
                .find(|s| s.status == StageStatus::Running);
            let stage = current.as_ref().map(|s| s.name);
            if let Some(s) = current {
                s.status = if matches!(e, Error::Interrupted) {
                    StageStatus::Interrupted
                } else {
                    StageStatus::Failed
                };
            }
            report.status = if matches!(e, Error::Interrupted) {
                "interrupted"
            } else {
                "failed"
            }
            .into();
            report.exit_code = e.exit_code() as i32;
            report.error = Some(ErrorReport {
                stage,
                message: ctx.redactor.apply(&e.to_string()),
                causes: e.causes().iter().map(|c| ctx.redactor.apply(c)).collect(),
                reasons: e.reasons().iter().map(|r| ctx.redactor.apply(r)).collect(),
                hint: e.hint().map(|h| ctx.redactor.apply(h)),
            });
        }
    }
    report
}

async fn run_stages(
    ctx: &RunContext,
    report: &mut RunReport,
    on_stage: &(dyn Fn(&'static str) + Sync),
) -> Result<()> {
    // The file is checked here once; the stages read what this resolved.
    let spec = crate::spec::Spec::resolve(&ctx.pipeline, ctx.unsigned.is_none())?;

    let source = timed(report, 0, on_stage, stages::source::run(ctx)).await?;
    report.source = Some(source.clone());
    let templates = template_values(&source, ctx.run_number)?;

    let bases = timed(
        report,
        1,
        on_stage,
        stages::verify_base::run(ctx, &spec, &templates),
    )
    .await?;
    report.bases = bases.clone();

    let built = timed(
        report,
        2,
        on_stage,
        stages::build::run(ctx, &spec, &source, &bases, &templates),
    )
    .await?;
    report.image = Some(built.clone());

    if let Some(reason) = &ctx.unsigned {
        // Built and gated; nothing signed, so nothing may be tagged or pushed either.
        report.unsigned = Some(reason.clone());
        for stage in &mut report.stages[3..] {
            stage.status = StageStatus::Skipped;
        }
        ctx.say(
            "sign",
            &format!("unsigned run ({reason}): nothing is signed, tagged or pushed"),
        );
        return Ok(());
    }

    let started_at = report.started_at.clone();
    let signed = timed(
        report,
        3,
        on_stage,
        stages::sign::run(ctx, &source, &bases, &built, &started_at),
    )
    .await?;
    report.signature = Some(signed.clone());

    let published = timed(
        report,
        4,
        on_stage,
        stages::publish::run(ctx, &source, &built, &signed, &templates),
    )
    .await?;
    report.published = Some(published);
    Ok(())
}

async fn timed<T>(
    report: &mut RunReport,
    index: usize,
    on_stage: &(dyn Fn(&'static str) + Sync),
    stage: impl Future<Output = Result<T>>,
) -> Result<T> {
    let name = report.stages[index].name;
    on_stage(name);
    report.stages[index].status = StageStatus::Running;
    let start = Instant::now();
    let result = stage.await;
    report.stages[index].duration_ms = start.elapsed().as_millis();
    if result.is_ok() {
        report.stages[index].status = StageStatus::Passed;
    }
    result
}

/// Template values once the commit is known.
pub fn template_values(source: &SourceInfo, run_number: u64) -> Result<TemplateValues> {
    let date = time::OffsetDateTime::from_unix_timestamp(source.date_epoch as i64)
        .map_err(|_| Error::usage("source date out of range"))?;
    Ok(TemplateValues {
        sha: source.commit.clone(),
        branch: source.branch.clone(),
        tag: source.tag.clone(),
        run_number,
        date: format!(
            "{:04}{:02}{:02}",
            date.year(),
            date.month() as u8,
            date.day()
        ),
    })
}

impl RunReport {
    pub fn exit(&self) -> ExitCode {
        match self.exit_code {
            0 => ExitCode::Success,
            1 => ExitCode::GateFailed,
            2 => ExitCode::Usage,
            130 => ExitCode::Interrupted,
            _ => ExitCode::Environment,
        }
    }
}
