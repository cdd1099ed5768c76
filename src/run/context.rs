//! What every stage may read (the run context), how stages report progress and typed events,
//! and the stage names in run order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::Result;
use crate::oci::remote::RemoteOptions;
use crate::redact::Redactor;
use crate::spec::load::LoadedPipeline;

/// Stage names as they appear in reports and messages.
pub const STAGE_NAMES: [&str; 5] = ["source", "verify-base", "build", "sign", "push"];

/// Typed events of a run (docs/design.md, "Events for reporting"): listeners such as CI outputs
/// learn from these, not from code inside the stages.
#[non_exhaustive]
pub enum Event<'a> {
    /// A vulnerability scan begins; `file_stem` names its report files (`scan-results`,
    /// `base-scan-1`, …).
    ScanStarted { stage: &'a str, file_stem: &'a str },
    /// That scan finished with `report`; its gate is applied after this.
    Scanned {
        stage: &'a str,
        file_stem: &'a str,
        report: &'a crate::scan::report::ScanReport,
    },
}

/// Progress from stages; the CLI prints it, tests record it.
pub trait Reporter: Send + Sync {
    /// A line of progress inside a stage.
    fn message(&self, stage: &str, text: &str);
    /// Something the user should act on, shown even when progress is hidden (`-q`).
    fn warning(&self, stage: &str, text: &str) {
        self.message(stage, &format!("warning: {text}"));
    }
    /// A typed event (default: ignored).
    fn event(&self, _event: &Event<'_>) {}
}

/// A reporter that drops everything.
pub struct Silent;
impl Reporter for Silent {
    fn message(&self, _: &str, _: &str) {}
}

/// Asks for a key password (COSIGN_PASSWORD, or a prompt on a terminal).
pub type PasswordSource = Arc<dyn Fn() -> Result<Zeroizing<String>> + Send + Sync>;

/// Everything a stage may read. Built once by the CLI.
#[derive(Clone)]
pub struct RunContext {
    pub pipeline: LoadedPipeline,
    /// The directory relative paths start from (the pipeline file's).
    pub base_dir: PathBuf,
    pub store_dir: PathBuf,
    pub outputs_dir: PathBuf,
    /// The environment as the CLI read it (for `env://` keys).
    pub env: BTreeMap<String, String>,
    pub redactor: Redactor,
    pub remote: RemoteOptions,
    pub password: PasswordSource,
    pub reporter: Arc<dyn Reporter>,
    /// Progress of long work (layer reads, database loads, the Docker context).
    pub progress: crate::progress::Progress,
    /// `{{run.number}}`: the CI's run number or a local counter.
    pub run_number: u64,
    /// `run --unsigned REASON`: build and gate only; nothing is signed, tagged or pushed.
    pub unsigned: Option<String>,
    /// What "now" is for this run (timestamps in evidence and reports, waiver expiry).
    pub clock: crate::clock::Clock,
}

impl RunContext {
    pub fn env_lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| self.env.get(name).cloned()
    }

    pub fn say(&self, stage: &str, text: &str) {
        self.reporter.message(stage, &self.redactor.apply(text));
    }

    /// A warning from `stage`: printed even under `-q`.
    pub fn warn(&self, stage: &str, text: &str) {
        self.reporter.warning(stage, &self.redactor.apply(text));
    }

    /// Tell the listeners of `event`.
    pub fn emit(&self, event: Event<'_>) {
        self.reporter.event(&event);
    }
}
