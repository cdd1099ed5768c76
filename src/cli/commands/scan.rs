use crate::cli::args::{ScanArgs, ScanOutput};
use crate::cli::printer::Printer;
use crate::error::{Error, ExitCode, Result};
use crate::oci::types::ImageConfig;
use crate::redact::Redactor;
use crate::scan::{self, external, report, ScanOptions};

pub async fn scan(args: &ScanArgs, printer: &Printer, redactor: &Redactor) -> Result<ExitCode> {
    let local = super::local_image(&args.image, &args.registry, printer, redactor).await?;
    let threshold = args.fail_on;
    let mut vex = Vec::new();
    for path in &args.vex {
        let doc = scan::vex::load(path, &path.display().to_string())?;
        for w in &doc.warnings {
            printer.warn(w);
        }
        vex.push(doc);
    }
    let options = ScanOptions {
        threshold,
        waivers: vec![],
        today: crate::clock::Clock::System.today(),
        ignore_unknown_severity: None,
        only_fixed: None,
        unchecked_allowed: vec![],
        vex,
        image_reference: None,
        vex_ignored: vec![],
    };
    let image_name = local.image.to_string();
    let tool = args.scanner.external();
    let result = if let Some(tool) = tool {
        if args.db.is_some() {
            return Err(Error::usage(
                "--db is for the builtin scanner; trivy and grype use their own databases",
            )
            .with_hint("pass the scanner's own database options with --scanner-arg"));
        }
        let config: ImageConfig =
            serde_json::from_slice(&local.layout.read_blob(&local.manifest.config.digest)?)
                .map_err(|e| Error::usage(format!("{image_name}: invalid image config: {e}")))?;
        let program = args.scanner_path.as_deref().unwrap_or(tool.name());
        let found = external::run(
            tool,
            program,
            &args.scanner_args,
            external::Image {
                layout: &local.layout,
                digest: &local.resolved.digest,
                manifest: &local.manifest,
                diff_ids: &config.rootfs.diff_ids,
            },
        )
        .await?;
        scan::scan_external(&image_name, &local.resolved.digest, found, &options)?
    } else {
        if args.scanner_path.is_some() || !args.scanner_args.is_empty() {
            return Err(Error::usage(
                "--scanner-path and --scanner-arg are for --scanner trivy or --scanner grype",
            ));
        }
        let db_path = match args.db.clone() {
            Some(p) => p,
            // Without --db: the managed database `db update` wrote, if there is one.
            None => match crate::scan::managed::default_dir()
                .filter(|d| crate::scan::managed::is_managed(d))
            {
                Some(d) => {
                    printer.status(&format!("using the managed database `{}`", d.display()));
                    d
                }
                None => return Err(Error::usage(
                    "the builtin scanner needs --db: a directory of OSV records or an osv.dev zip",
                )
                .with_hint(
                    "or run `cleanpipe db update --ecosystems …` once to fetch a managed database",
                )),
            },
        };
        let (layout, manifest, db_path2, progress) = (
            local.layout.clone(),
            local.manifest.clone(),
            db_path.clone(),
            crate::cli::reporters::progress(printer),
        );
        let (catalog, db) = tokio::task::spawn_blocking(move || {
            scan::catalog_and_database(&layout, &manifest, &db_path2, &progress)
        })
        .await
        .map_err(|e| Error::environment(format!("scan failed: {e}")))??;
        if !db.warnings.is_empty() {
            printer.warn(&format!(
                "{} malformed or unsupported record(s) skipped in {}",
                db.warnings.len(),
                db_path.display()
            ));
            for w in db.warnings.iter().take(5) {
                printer.warn(w);
            }
        }
        scan::scan_catalog(
            &image_name,
            &local.resolved.digest,
            &catalog,
            &db,
            &db_path.display().to_string(),
            &options,
        )?
    };
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
    if args.output != ScanOutput::Table || args.report.is_some() {
        // The table says these itself; in JSON or SARIF they would go unseen on a terminal.
        for line in result.gate.vex_kept.iter().chain(&result.gate.vex_unused) {
            printer.warn(line);
        }
    }
    let suppressed = match result.suppressed.len() {
        0 => String::new(),
        n => format!("; {n} finding(s) suppressed by VEX"),
    };
    if result.gate.passed {
        printer.status(&format!(
            "scan gate passed (fail on {}{suppressed})",
            threshold.as_str()
        ));
        Ok(ExitCode::Success)
    } else {
        printer.status(&format!(
            "scan gate FAILED: {} finding(s) at or above {}{suppressed}",
            result.gate.failing.len(),
            threshold.as_str()
        ));
        Ok(ExitCode::GateFailed)
    }
}
