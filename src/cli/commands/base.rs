//! `cleanpipe base outdated` / `base update`: renders what [`crate::base_update`] finds, and
//! with `update --write` writes the rewritten files.

use std::collections::BTreeMap;

use crate::base_update::ScanDelta;
use crate::cli::args::{BaseArgs, OutputFormat};
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{ExitCode, Result};
use crate::redact::Redactor;

pub async fn base(
    args: &BaseArgs,
    write: bool,
    update: bool,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let pipeline = settings::load_pipeline(&args.pipeline, env, redactor)?;
    // The same checks as `validate` (paths stay in the repository) before any file is touched.
    let spec = crate::spec::Spec::resolve(&pipeline, true)?;
    let progress = crate::cli::reporters::progress(printer);
    let remote =
        settings::remote_options(&args.registry, redactor)?.with_progress(progress.clone());
    let statuses =
        crate::base_update::outdated(&spec, &|n| env.get(n).cloned(), &remote, &progress).await?;
    let mut changed = Vec::new();
    if update {
        let (edits, diffs) = crate::base_update::edits(&statuses, &pipeline)?;
        for d in diffs {
            printer.data(&format!(
                "--- {}\n+++ {}\n-{}\n+{}",
                d.file, d.file, d.from, d.to
            ));
            changed.push(d.file);
        }
        if write {
            crate::base_update::write(&pipeline.base_dir(), &edits)?;
        }
    }
    if args.output == OutputFormat::Json {
        printer.data(&serde_json::to_string_pretty(&statuses).expect("statuses serialize"));
    } else {
        for s in &statuses {
            printer.status(&format!(
                "{:<20} {} ({}){}{}",
                s.state,
                s.reference,
                s.origin,
                s.current
                    .as_ref()
                    .filter(|c| Some(*c) != s.pinned.as_ref())
                    .map(|c| format!(" → {c}"))
                    .unwrap_or_default(),
                if s.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.detail)
                }
            ));
            match &s.scan_delta {
                None => {}
                Some(ScanDelta::Failed { why }) => {
                    printer.status(&format!("{:<20} scan delta not known: {why}", ""))
                }
                Some(ScanDelta::Compared {
                    database,
                    new,
                    fixed,
                    not_checked,
                }) => {
                    printer.status(&format!(
                        "{:<20} scan ({database}): {} new, {} fixed",
                        "",
                        new.len(),
                        fixed.len()
                    ));
                    for f in new {
                        printer.status(&format!("{:<20}   + {f}", ""));
                    }
                    for f in fixed {
                        printer.status(&format!("{:<20}   - {f}", ""));
                    }
                    for line in not_checked {
                        printer.status(&format!("{:<20}   NOT CHECKED: {line}", ""));
                    }
                }
            }
        }
        if update {
            printer.status(&if write {
                format!("{} pin(s) rewritten", changed.len())
            } else {
                format!("{} pin(s) would be rewritten (pass --write)", changed.len())
            });
        }
    }
    // For a scheduled job: 0 nothing to do, 1 updates are waiting (verified or not).
    let pending = statuses
        .iter()
        .any(|s| s.state.starts_with("update") && !(update && write && s.update_to.is_some()));
    Ok(if pending {
        ExitCode::GateFailed
    } else {
        ExitCode::Success
    })
}
