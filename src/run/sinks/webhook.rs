//! The `on: [failure]` webhooks of `push.register`: after a run that failed (not one that was
//! interrupted), each is told the stage, the reason, the hint, the commit and the CI run, in
//! its format (cleanpipe's JSON or a Slack message). Best effort ([`Rule::BestEffort`]): a hook
//! that cannot be reached is a warning, and the run's exit code stays. What each hook was told
//! goes in the run report (`failure_notifications`), so these are written before it.
//!
//! The success webhooks (`on: [success]`, the default) are not a sink: they are part of the push
//! stage and a hard gate, so a failed call fails the stage (`run::stages::publish`).

use std::sync::Mutex;

use crate::error::Error;
use crate::run::sinks::{Finished, Notice, Rule, Sink, Written};
use crate::run::RunContext;
use crate::spec::model::{HookEvent, HookFormat, RegisterSpec};

/// One `on: [failure]` hook.
pub struct FailureWebhook {
    spec: RegisterSpec,
    /// What it was told (or why it was not), once written.
    told: Mutex<Option<String>>,
}

/// The pipeline's `on: [failure]` hooks, in the file's order.
pub fn failure_webhooks(ctx: &RunContext) -> Vec<FailureWebhook> {
    ctx.pipeline
        .file
        .push
        .register
        .iter()
        .filter(|h| h.on.contains(&HookEvent::Failure))
        .map(|spec| FailureWebhook {
            spec: spec.clone(),
            told: Mutex::new(None),
        })
        .collect()
}

impl FailureWebhook {
    /// The line for the report: `notified … of the failure (HTTP 200)` or why it was not.
    pub fn told(&self) -> Option<String> {
        self.told.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, line: String) {
        *self.told.lock().unwrap_or_else(|e| e.into_inner()) = Some(line);
    }
}

impl Sink for FailureWebhook {
    fn name(&self) -> &'static str {
        "the failure webhook"
    }

    fn rule(&self) -> Rule {
        Rule::BestEffort
    }

    fn warning(&self, e: &Error) -> String {
        format!("[push] {}", not_told(e))
    }

    fn write<'a>(&'a self, run: &'a Finished<'a>) -> Written<'a> {
        Box::pin(async move {
            let (ctx, report) = (run.ctx, run.report);
            let Some(error) = report.error.as_ref().filter(|_| report.status == "failed") else {
                return Ok(vec![]);
            };
            let (json, slack) = crate::run::stages::publish::failure_bodies(
                ctx,
                &report.name,
                error.stage,
                &error.message,
                &error.reasons,
                error.hint.as_deref(),
                report.source.as_ref().map(|s| s.commit.as_str()),
            );
            let body = match self.spec.format {
                HookFormat::Json => json,
                HookFormat::Slack => slack,
            };
            let hook = crate::run::stages::publish::hook(&self.spec);
            let delivery_id = format!("{}-failed", ctx.run_number);
            match crate::notify::deliver(&hook, "run.failed", &body, &delivery_id, &ctx.redactor)
                .await
            {
                Ok(d) => {
                    let line = format!("notified {} of the failure (HTTP {})", d.url, d.status);
                    self.record(ctx.redactor.apply(&line));
                    Ok(vec![Notice::Status(format!("  [push] {line}"))])
                }
                Err(e) => {
                    self.record(ctx.redactor.apply(&not_told(&e)));
                    Err(e)
                }
            }
        })
    }
}

/// Why a hook was not told, with the causes (it is recorded in the report as one line).
fn not_told(e: &Error) -> String {
    format!(
        "could not notify of the failure: {}",
        crate::error::one_line(e)
    )
}
