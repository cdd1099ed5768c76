//! The audit log (`outputs/audit.jsonl` or `run --audit-log PATH`): one hash-chained record per
//! run ([`crate::run::audit`]). A run that cannot be audited does not count as succeeded.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::run::audit::Appended;
use crate::run::sinks::{Finished, Notice, Sink, Written};

pub struct AuditLog {
    pub path: PathBuf,
    /// The record appended, for `--attest-audit`.
    appended: Mutex<Option<Appended>>,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        AuditLog {
            path,
            appended: Mutex::new(None),
        }
    }

    /// The record this run appended, once written.
    pub fn appended(&self) -> Option<Appended> {
        self.appended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Sink for AuditLog {
    fn name(&self) -> &'static str {
        "the audit record"
    }

    fn write<'a>(&'a self, run: &'a Finished<'a>) -> Written<'a> {
        Box::pin(async move {
            let ctx = run.ctx;
            let appended = crate::run::audit::append(
                &self.path,
                run.report,
                &ctx.pipeline.text,
                &ctx.env,
                &ctx.redactor,
            )?;
            let line = format!(
                "audit: appended to {} (head {})",
                self.path.display(),
                appended.head
            );
            *self.appended.lock().unwrap_or_else(|e| e.into_inner()) = Some(appended);
            Ok(vec![Notice::Status(line)])
        })
    }
}
