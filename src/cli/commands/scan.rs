use crate::cli::args::{ScanArgs, ScanOutput};
use crate::cli::printer::Printer;
use crate::error::{Error, ExitCode, Result};
use crate::oci::types::ImageConfig;
use crate::redact::Redactor;
use crate::scan::{self, external, report, ScanOptions};

pub async fn scan(args: &ScanArgs, printer: &Printer, redactor: &Redactor) -> Result<ExitCode> {
    let threshold = args.fail_on;
    let mut vex = Vec::new();
    for path in &args.vex {
        let doc = scan::vex::load(path, &path.display().to_string())?;
        for w in &doc.warnings {
            printer.warn(w);
        }
        vex.push(doc);
    }
    let mut options = ScanOptions {
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
    let tool = args.scanner.external();
    if tool.is_some() && args.db.is_some() {
        return Err(Error::usage(
            "--db is for the builtin scanner; trivy and grype use their own databases",
        )
        .with_hint("pass the scanner's own database options with --scanner-arg"));
    }
    if tool.is_none() && (args.scanner_path.is_some() || !args.scanner_args.is_empty()) {
        return Err(Error::usage(
            "--scanner-path and --scanner-arg are for --scanner trivy or --scanner grype",
        ));
    }
    let trust_given = !args.key.is_empty()
        || args.identity.certificate_identity.is_some()
        || args.identity.certificate_identity_regexp.is_some();
    if !args.from_sbom && trust_given {
        return Err(Error::usage(
            "--key and --certificate-identity are for --from-sbom (who must have signed the SBOM)",
        ));
    }
    let result = if args.from_sbom {
        if tool.is_some() {
            return Err(Error::usage(
                "--from-sbom is for the builtin scanner: trivy and grype read the image itself",
            )
            .with_hint("drop --scanner, or drop --from-sbom to let the scanner read the layers"));
        }
        let (image_name, digest, catalog, attested_vex) =
            attested_catalog(args, printer, redactor).await?;
        options.vex.extend(attested_vex);
        let db_path = database(args, printer)?;
        let db = load_database(&db_path, &catalog, printer).await?;
        scan::scan_catalog(
            &image_name,
            &digest,
            &catalog,
            &db,
            &db_path.display().to_string(),
            &options,
        )?
    } else if let Some(tool) = tool {
        let local = super::local_image(&args.image, &args.registry, printer, redactor).await?;
        let image_name = local.image.to_string();
        let config: ImageConfig =
            serde_json::from_slice(&local.layout.read_blob(&local.manifest.config.digest)?)
                .map_err(|e| {
                    Error::usage(format!("{image_name}: invalid image config")).caused_by(e)
                })?;
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
        let db_path = database(args, printer)?;
        let local = super::local_image(&args.image, &args.registry, printer, redactor).await?;
        let (layout, manifest, progress) = (
            local.layout.clone(),
            local.manifest.clone(),
            crate::cli::reporters::progress(printer),
        );
        let catalog = tokio::task::spawn_blocking(move || {
            crate::sbom::catalog_image(&layout, &manifest, &progress)
        })
        .await
        .map_err(|e| Error::environment("scan failed").caused_by(e))??;
        let db = load_database(&db_path, &catalog, printer).await?;
        scan::scan_catalog(
            &local.image.to_string(),
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

/// `--db`, else the managed database `db update` wrote.
fn database(args: &ScanArgs, printer: &Printer) -> Result<std::path::PathBuf> {
    if let Some(p) = &args.db {
        return Ok(p.clone());
    }
    match crate::scan::managed::default_dir().filter(|d| crate::scan::managed::is_managed(d)) {
        Some(d) => {
            printer.status(&format!("using the managed database `{}`", d.display()));
            Ok(d)
        }
        None => Err(Error::usage(
            "the builtin scanner needs --db: a directory of OSV records or an osv.dev zip",
        )
        .with_hint("or run `cleanpipe db update --ecosystems …` once to fetch a managed database")),
    }
}

/// The advisories `catalog`'s packages could match, with the records that could not be read
/// said as warnings.
async fn load_database(
    path: &std::path::Path,
    catalog: &crate::sbom::Catalog,
    printer: &Printer,
) -> Result<scan::osv::Database> {
    let wanted = scan::wanted_keys(catalog);
    let (path2, progress) = (path.to_path_buf(), crate::cli::reporters::progress(printer));
    let (db, _) = tokio::task::spawn_blocking(move || {
        scan::osv::Database::load_cached_for(&path2, Some(&wanted), &progress)
    })
    .await
    .map_err(|e| Error::environment("loading the database failed").caused_by(e))??;
    if !db.warnings.is_empty() {
        printer.warn(&format!(
            "{} malformed or unsupported record(s) skipped in {}",
            db.warnings.len(),
            path.display()
        ));
        for w in db.warnings.iter().take(5) {
            printer.warn(w);
        }
    }
    Ok(db)
}

/// `--from-sbom`: the catalogue in the CycloneDX SBOM attested to the image by a trusted signer
/// (docs/commands.md), read without pulling a layer. Nothing trusted and readable is a failed
/// check (exit 1), never an empty catalogue.
async fn attested_catalog(
    args: &ScanArgs,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<(
    String,
    crate::oci::types::Digest,
    crate::sbom::Catalog,
    Vec<scan::vex::Document>,
)> {
    use crate::oci::reference::ImageRef;
    use crate::oci::store::Store;
    let image = ImageRef::parse(&args.image)?;
    let remote = crate::cli::settings::remote_options(&args.registry, redactor)?;
    let Some(trust) = crate::cli::settings::trust_from_flags(&args.key, &args.identity)? else {
        return Err(Error::usage("--from-sbom needs a trusted signer for the SBOM").with_hint(
            "give --key FILE (repeatable), or --certificate-identity with --certificate-oidc-issuer",
        ));
    };
    let store = Store::for_image(&image, &remote)?;
    let resolved = store.resolve(&image).await?;
    if resolved.is_index() {
        return Err(Error::usage(format!(
            "{image} is an index ({}): its SBOMs are attested to each platform's image",
            resolved.digest
        ))
        .with_hint(
            "name one platform's image by digest (`repo@sha256:…`; `cleanpipe verify` lists them)",
        ));
    }
    use crate::sign::attest::{PREDICATE_CYCLONEDX, PREDICATE_OPENVEX};
    // The SBOMs and the VEX, read and checked once; a place that could not be read at all
    // (no type) counts against the SBOM.
    let (vex_found, sbom_found): (Vec<_>, Vec<_>) = crate::policy::attestations_of_types(
        &store,
        &resolved.digest,
        &trust,
        &[PREDICATE_CYCLONEDX, PREDICATE_OPENVEX],
    )
    .await?
    .into_iter()
    .partition(|a| a.predicate_type == PREDICATE_OPENVEX);
    let (mut refused, mut unreadable) = (Vec::new(), Vec::new());
    let mut catalogs = Vec::new();
    for a in sbom_found {
        match a.outcome {
            Ok((statement, signer)) => {
                match crate::sbom::cyclonedx::catalog(&statement["predicate"]) {
                    Ok(c) => {
                        printer.status(&format!(
                        "packages from the CycloneDX SBOM attested to {} ({}), signed by {signer}: {} package(s)",
                        resolved.digest,
                        a.place,
                        c.packages.len()
                    ));
                        catalogs.push(c);
                    }
                    Err(e) => unreadable.push(format!(
                        "{}: signed by {signer}, but not readable as cleanpipe's catalogue: {e}",
                        a.place
                    )),
                }
            }
            Err(why) => refused.push(format!("{}: {why}", a.place)),
        }
    }
    for r in &refused {
        printer.warn(&format!("CycloneDX SBOM attestation ignored: {r}"));
    }
    // A trusted SBOM that cannot be read may list packages the others do not: fail closed.
    if !unreadable.is_empty() {
        return Err(Error::gate(
            format!(
                "{image} ({}): {} CycloneDX SBOM(s) a trusted signer attested cannot be read as cleanpipe's catalogue: nothing was scanned",
                resolved.digest,
                unreadable.len()
            ),
            unreadable,
        )
        .with_hint("scan without --from-sbom to read the image's layers"));
    }
    let Some(mut catalog) = catalogs.pop() else {
        return Err(Error::gate(
            format!(
                "{image} ({}) has no CycloneDX SBOM that a trusted signer attested and cleanpipe can read: nothing was scanned",
                resolved.digest
            ),
            refused,
        )
        .with_hint("scan without --from-sbom to read the image's layers, or check --key / the identity"));
    };
    // Several trusted SBOMs (a re-signed image): scan everything any of them lists.
    for other in catalogs {
        if other.distro != catalog.distro {
            return Err(Error::gate(
                format!("{image}: its trusted CycloneDX SBOMs name different operating systems"),
                vec![],
            )
            .with_hint("scan without --from-sbom to read the image's layers"));
        }
        for p in other.packages {
            if !catalog.packages.contains(&p) {
                catalog.packages.push(p);
            }
        }
        for u in other.uncatalogued {
            if !catalog.uncatalogued.contains(&u) {
                catalog.uncatalogued.push(u);
            }
        }
    }
    // VEX the same signers attested to the image (after the build too), applied as `verify`
    // applies it; one a trusted signer made that cannot be read fails closed.
    let mut vex = Vec::new();
    for a in vex_found {
        match a.outcome {
            Ok((statement, signer)) => {
                let bytes =
                    serde_json::to_vec(&statement["predicate"]).expect("JSON value serializes");
                let mut doc = scan::vex::parse(&bytes, &a.place).map_err(|e| {
                    Error::gate(
                        format!(
                            "the VEX attested to {image} in {} (signed by {signer}) cannot be used",
                            a.place
                        ),
                        vec![],
                    )
                    .caused_by(e)
                    .with_hint("attest a corrected document (`cleanpipe vex check` reads it first)")
                })?;
                printer.status(&format!(
                    "VEX attested to {} ({}), signed by {signer}: {} statement(s) applied",
                    resolved.digest,
                    a.place,
                    doc.statements.len()
                ));
                doc.signer = Some(signer);
                vex.push(doc);
            }
            Err(why) => printer.warn(&format!("VEX attestation ignored: {}: {why}", a.place)),
        }
    }
    Ok((image.to_string(), resolved.digest, catalog, vex))
}
