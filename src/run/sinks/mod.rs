//! What a finished run leaves for the people and systems around it: `report.json`, the audit
//! log, the JUnit report, the dotenv file, GitHub's step outputs, GitLab's container scanning
//! report and the `on: [failure]` webhooks. Each is a [`Sink`] with its one rule for a failure
//! ([`Rule`]); the stages know nothing of them. The success webhooks are not a sink: they are
//! part of the push stage, whose gate they are ([`webhook`]).

pub mod audit;
pub mod dotenv;
pub mod github;
pub mod gitlab;
pub mod junit;
pub mod report;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;

use crate::error::{Error, Result};
use crate::run::executor::RunReport;
use crate::run::RunContext;

/// The run as the sinks see it.
pub struct Finished<'a> {
    pub report: &'a RunReport,
    pub ctx: &'a RunContext,
}

impl Finished<'_> {
    pub fn succeeded(&self) -> bool {
        self.report.error.is_none()
    }
}

/// Something a sink has to say, for the CLI to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A status line (stderr).
    Status(String),
    /// A line for standard output (GitHub reads workflow commands there).
    Stdout(String),
}

/// What a sink's failure does to the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The run fails, whatever its stages said (`report.json`: without it nothing is known).
    Always,
    /// A run that succeeded fails (it cannot be traced or its CI would go on without the
    /// digest); a run that already failed keeps its own error and this one is a warning.
    IfRunSucceeded,
    /// Never: a failure is a warning and the run's verdict stays (a failure webhook only tells
    /// others of a run that already failed).
    BestEffort,
}

/// A sink's write, which [`finish`] awaits: files are written at once, a webhook waits on the
/// network.
pub type Written<'a> = Pin<Box<dyn Future<Output = Result<Vec<Notice>>> + Send + 'a>>;

/// One output of a finished run.
pub trait Sink {
    /// What it writes, for messages (`the audit record`).
    fn name(&self) -> &'static str;
    fn rule(&self) -> Rule {
        Rule::IfRunSucceeded
    }
    fn write<'a>(&'a self, run: &'a Finished<'a>) -> Written<'a>;
    /// The warning for a failure that does not fail the run (with its causes: a warning has no
    /// `Caused by:` lines).
    fn warning(&self, e: &Error) -> String {
        format!(
            "{} could not be written: {}",
            self.name(),
            crate::error::one_line(e)
        )
    }
}

/// What the sinks said: their notices, and the failures that are only warnings.
#[derive(Debug, Default)]
pub struct Outcome {
    pub notices: Vec<Notice>,
    pub warnings: Vec<String>,
}

/// Write every sink in order, each failure judged by its sink's [`Rule`]: the first that fails
/// the run is returned as the error (later sinks are not written).
pub async fn finish(sinks: &[&dyn Sink], run: &Finished<'_>) -> Result<Outcome> {
    let mut out = Outcome::default();
    for sink in sinks {
        match sink.write(run).await {
            Ok(notices) => out.notices.extend(notices),
            Err(e) => match sink.rule() {
                Rule::Always => return Err(e),
                Rule::IfRunSucceeded if run.succeeded() => return Err(e),
                Rule::IfRunSucceeded | Rule::BestEffort => out.warnings.push(sink.warning(&e)),
            },
        }
    }
    Ok(out)
}

/// The signer and one line per signature or attestation with where it is stored.
pub fn evidence_lines(sig: &crate::run::stages::sign::SignOutput) -> Vec<String> {
    let mut lines = vec![format!("signed by {}", sig.signer.describe())];
    if let crate::run::stages::sign::SignerReport::Keyless(c) = &sig.signer {
        lines.extend(c.claims.iter().map(|(k, v)| format!("  {k}: {v}")));
    }
    lines.extend(
        sig.evidence
            .iter()
            .map(|e| format!("{} of {}: {}", e.what, e.subject, e.location)),
    );
    lines
}
