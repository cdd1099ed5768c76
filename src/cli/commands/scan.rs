use std::path::Path;

use crate::cli::args::{FailOn, ScanArgs, ScanOutput};
use crate::cli::printer::Printer;
use crate::error::{Error, ExitCode, Result};
use crate::pipeline::model::Severity as Threshold;
use crate::redact::Redactor;
use crate::scan::osv::Database;
use crate::scan::{self, report, ScanOptions};

pub async fn scan(args: &ScanArgs, printer: &Printer, redactor: &Redactor) -> Result<ExitCode> {
    let local = super::local_image(&args.image, &args.registry, redactor).await?;
    let (image, layout, resolved, manifest) = (
        &local.image,
        local.layout.clone(),
        &local.resolved,
        local.manifest.clone(),
    );
    let db_path = args.db.clone();
    let (catalog, db) = tokio::task::spawn_blocking(move || -> Result<_> {
        Ok((
            crate::sbom::catalog_image(&layout, &manifest)?,
            Database::load_cached(&db_path)?.0,
        ))
    })
    .await
    .map_err(|e| Error::environment(format!("scan failed: {e}")))??;
    if !db.warnings.is_empty() {
        printer.warn(&format!(
            "{} malformed or unsupported record(s) skipped in {}",
            db.warnings.len(),
            args.db.display()
        ));
        for w in db.warnings.iter().take(5) {
            printer.warn(w);
        }
    }
    let threshold = match args.fail_on {
        FailOn::Critical => Threshold::Critical,
        FailOn::High => Threshold::High,
        FailOn::Medium => Threshold::Medium,
        FailOn::Low => Threshold::Low,
        FailOn::None => Threshold::None,
    };
    let options = ScanOptions {
        threshold,
        waivers: vec![],
        today: scan::today(),
    };
    let result = scan::scan_catalog(
        &image.to_string(),
        &resolved.digest,
        &catalog,
        &db,
        &args.db.display().to_string(),
        &options,
    )?;
    let text = match args.output {
        ScanOutput::Table => report::table(&result),
        ScanOutput::Json => serde_json::to_string_pretty(&result).expect("report serializes"),
        ScanOutput::Sarif => {
            serde_json::to_string_pretty(&report::sarif(&result)).expect("sarif serializes")
        }
    };
    match &args.report {
        Some(path) => crate::oci::layout::write_atomic(path, text.as_bytes())?,
        None => printer.data(text.trim_end()),
    }
    if result.gate.passed {
        printer.status(&format!("scan gate passed (fail on {:?})", threshold).to_lowercase());
        Ok(ExitCode::Success)
    } else {
        printer.status(&format!(
            "scan gate FAILED: {} finding(s) at or above {:?}",
            result.gate.failing.len(),
            threshold
        ));
        Ok(ExitCode::GateFailed)
    }
}

pub fn db_stats(path: &Path, printer: &Printer) -> Result<ExitCode> {
    let db = Database::load(path)?;
    let (per, total, newest) = db.stats();
    let mut out = format!(
        "{}: {total} record(s), {} withdrawn (ignored), {} skipped as malformed\n",
        path.display(),
        db.withdrawn,
        db.warnings.len()
    );
    out.push_str(&format!(
        "newest modified: {}\n",
        newest.unwrap_or_else(|| "-".into())
    ));
    for (eco, n) in per {
        out.push_str(&format!("  {eco:<12} {n} affected entries\n"));
    }
    printer.data(out.trim_end());
    Ok(ExitCode::Success)
}
