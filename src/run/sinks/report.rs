//! `outputs/report.json` (and `run --report PATH`): the run's report, redacted.

use std::path::PathBuf;

use crate::run::sinks::{Finished, Rule, Sink, Written};

/// The run report. A run whose report cannot be written fails, whatever its stages said.
pub struct ReportJson {
    /// `--report PATH`: a second copy.
    pub also: Option<PathBuf>,
}

impl Sink for ReportJson {
    fn name(&self) -> &'static str {
        "the run report"
    }

    fn rule(&self) -> Rule {
        Rule::Always
    }

    fn write<'a>(&'a self, run: &'a Finished<'a>) -> Written<'a> {
        Box::pin(async move {
            let json = serde_json::to_string_pretty(run.report).expect("the report serializes");
            let json = run.ctx.redactor.apply(&json);
            crate::fsutil::write_atomic(&run.ctx.outputs_dir.join("report.json"), json.as_bytes())?;
            if let Some(path) = &self.also {
                crate::fsutil::write_atomic(path, json.as_bytes())?;
            }
            Ok(vec![])
        })
    }
}
