//! `cleanpipe db update`, `db push`, `db pull` and `db stats` (docs/database.md).

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use crate::cli::args::{DbPullArgs, DbPushArgs, DbUpdateArgs, OutputFormat};
use crate::cli::printer::Printer;
use crate::error::{Error, ExitCode, Result};
use crate::redact::Redactor;
use crate::scan::managed::{self, Outcome};

/// `--dir`, else the default managed database directory.
fn dir_or_default(dir: Option<&Path>) -> Result<PathBuf> {
    match dir {
        Some(d) => Ok(d.to_path_buf()),
        None => managed::default_dir().ok_or_else(|| {
            Error::usage("no cache directory: neither XDG_CACHE_HOME nor HOME is an absolute path")
                .with_hint("give --dir DIR")
        }),
    }
}

pub async fn update(
    args: &DbUpdateArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let dir = dir_or_default(args.dir.as_deref())?;
    let auto = args.ecosystems.iter().any(|e| e.trim() == "auto");
    let installed = args.ecosystems.iter().any(|e| e.trim() == "installed");
    if (auto || installed) && args.ecosystems.len() > 1 {
        return Err(
            Error::usage("--ecosystems auto or installed cannot be combined with names")
                .with_hint("give `auto` or `installed` alone, or only names"),
        );
    }
    if !auto && !args.sbom.is_empty() {
        return Err(Error::usage("--sbom is for --ecosystems auto"));
    }
    // The pipeline: named, else the usual file if there is one (for auto and its mirror).
    let pipeline_file = match &args.pipeline {
        Some(f) => Some(f.clone()),
        None => ["pipeline.yaml", "pipeline.yml", "pipeline.example.yaml"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
    };
    let pipeline = match &pipeline_file {
        Some(f) if auto || args.pipeline.is_some() => Some(crate::spec::load::load(
            f,
            &|n| env.get(n).cloned(),
            redactor,
        )?),
        _ => None,
    };
    let file_mirror = pipeline.as_ref().and_then(|p| {
        [&p.file.build.scan, &p.file.verify_base.scan]
            .into_iter()
            .flatten()
            .find_map(|s| s.db_mirror.clone())
    });
    let base = managed::parse_base(
        args.mirror
            .as_deref()
            .or(file_mirror.as_deref())
            .unwrap_or(managed::DEFAULT_BASE),
    )?;
    // An archive auto adds that may be missing without failing the update (the CVE records:
    // without them unrated distro findings stay of unknown severity, which the gate refuses).
    let mut optional: Option<&str> = None;
    let named = if installed {
        let have: Vec<String> = if managed::is_managed(&dir) {
            managed::read_archives(&dir)?
                .into_iter()
                .map(|a| a.ecosystem)
                .collect()
        } else {
            vec![]
        };
        if have.is_empty() {
            printer.status(&format!(
                "database `{}` has no ecosystem yet: nothing to refresh (a gate with `db: managed` fetches what its image needs)",
                dir.display()
            ));
            return Ok(ExitCode::Success);
        }
        printer.status(&format!("ecosystems in the database: {}", have.join(", ")));
        have
    } else if auto {
        let found = auto_ecosystems(args, pipeline.as_ref(), printer, redactor).await?;
        for line in found.describe() {
            printer.status(&format!("needed: {line}"));
        }
        optional = found
            .ecosystems
            .contains_key(managed::CVE_RECORDS)
            .then_some(managed::CVE_RECORDS);
        found.ecosystems.into_keys().collect()
    } else {
        args.ecosystems.clone()
    };
    let mut ecosystems: Vec<String> = Vec::new();
    for e in &named {
        let e = e.trim().to_string();
        managed::check_ecosystem_name(&e)?;
        if !ecosystems.contains(&e) {
            ecosystems.push(e);
        }
    }
    let client = crate::net::client(crate::net::Redirects::Checked, None)?;
    let _lock = managed::lock(&dir)?;
    let progress = crate::cli::reporters::progress(printer);
    let mut failed: Vec<Error> = Vec::new();
    for ecosystem in &ecosystems {
        match managed::update_one(&client, &base, &dir, ecosystem, &progress).await {
            Ok(Outcome::Updated(m)) => printer.status(&format!(
                "{ecosystem}: updated, {} record(s), newest modified {}, {} ({})",
                m.records,
                m.newest_modified,
                m.digest,
                human(m.size)
            )),
            Ok(Outcome::Unchanged(m)) => printer.status(&format!(
                "{ecosystem}: unchanged (304 Not Modified), {} record(s), fetched {}",
                m.records, m.fetched
            )),
            Err(e) if optional == Some(ecosystem.as_str()) => printer.warn(&format!(
                "{e}: {} findings without a rating of their own stay of unknown severity (the gate fails on them unless `unknown_severity: ignore`)",
                managed::RATED_BY_CVE_RECORDS.join(" and ")
            )),
            Err(e) => {
                if ecosystems.len() > 1 {
                    printer.error(&e);
                }
                failed.push(e);
            }
        }
    }
    if failed.is_empty() {
        printer.status(&format!(
            "database `{}`: {} ecosystem(s) ready",
            dir.display(),
            ecosystems.len()
        ));
        printer.data(&dir.display().to_string());
        return Ok(ExitCode::Success);
    }
    if ecosystems.len() == 1 {
        return Err(failed.remove(0));
    }
    // Bad input (exit 2) over environment trouble (3): the first of the worst.
    let usage = failed
        .iter()
        .any(|e| e.exit_code() == crate::error::ExitCode::Usage);
    let message = if failed.len() == ecosystems.len() {
        format!(
            "none of the {} ecosystem(s) updated in `{}` (each said above)",
            ecosystems.len(),
            dir.display()
        )
    } else {
        format!(
            "{} of {} ecosystem(s) not updated in `{}` (each said above); the others are up to date",
            failed.len(),
            ecosystems.len(),
            dir.display()
        )
    };
    let hint = "the ecosystems that failed keep their previous archives";
    Err(if usage {
        Error::usage(message).with_hint(hint)
    } else {
        Error::environment(message).with_hint(hint)
    })
}

/// `--ecosystems auto`: what the pipeline's bases, build context and earlier SBOMs call for.
async fn auto_ecosystems(
    args: &DbUpdateArgs,
    pipeline: Option<&crate::spec::load::LoadedPipeline>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<crate::db_needs::Needed> {
    use crate::db_needs;
    let mut found = db_needs::Needed::default();
    let mut read = Vec::new();
    let sboms = if !args.sbom.is_empty() {
        args.sbom.clone()
    } else {
        // Where runs write their SBOMs (the pipeline's outputs, else the default and
        // `outputs/`); none yet (a first run) is no error when the pipeline says the rest.
        let candidates = match pipeline {
            Some(p) => vec![crate::cli::settings::PipelineSettings::resolve(p)?.outputs],
            None => vec![
                PathBuf::from(crate::cli::settings::DEFAULT_OUTPUTS),
                PathBuf::from("outputs"),
            ],
        };
        candidates.into_iter().filter(|d| d.is_dir()).collect()
    };
    let files = db_needs::from_sboms(&sboms, &mut found)?;
    if files.is_empty() && pipeline.is_none() {
        return Err(Error::usage(format!(
            "--ecosystems auto: no pipeline file here and no SBOM (`*.spdx.json`, `*.cdx.json`) in {}",
            if sboms.is_empty() {
                format!("`{}` or `outputs`", crate::cli::settings::DEFAULT_OUTPUTS)
            } else {
                sboms
                    .iter()
                    .map(|p| format!("`{}`", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
        .with_hint("give -f pipeline.yaml (its bases and build context are read), --sbom FILE, or name the ecosystems"));
    }
    read.push(format!("{} SBOM(s)", files.len()));
    if let Some(p) = pipeline {
        db_needs::from_build_context(p, &mut found)?;
        read.push("the build context".into());
        let remote = crate::cli::settings::remote_options(&args.registry, redactor)?
            .with_progress(crate::cli::reporters::progress(printer));
        let progress = crate::cli::reporters::progress(printer);
        let n = db_needs::from_bases(p, &remote, &progress, &mut found)
            .await
            .map_err(|e| {
                Error::environment(format!(
                    "--ecosystems auto: cannot catalogue the bases of {}",
                    p.path.display()
                ))
                .caused_by(e)
                .with_hint("check the registry (--registry-username), or name the ecosystems")
            })?;
        read.push(format!("{n} base(s)"));
    }
    db_needs::add_cve_records(&mut found);
    if found.ecosystems.is_empty() {
        return Err(Error::usage(format!(
            "--ecosystems auto: no package of an ecosystem osv.dev publishes in {}",
            read.join(", ")
        ))
        .with_hint("name the ecosystems: --ecosystems Debian,PyPI"));
    }
    printer.status(&format!("--ecosystems auto read {}", read.join(", ")));
    Ok(found)
}

fn human(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{bytes} bytes")
    }
}

pub fn stats(
    path: Option<&Path>,
    dir: Option<&Path>,
    format: OutputFormat,
    printer: &Printer,
) -> Result<ExitCode> {
    let managed_dir = match path {
        Some(p) if !managed::is_managed(p) => return user_database_stats(p, format, printer),
        Some(p) => p.to_path_buf(),
        None => dir_or_default(dir)?,
    };
    if !managed::is_managed(&managed_dir) {
        return Err(Error::usage(format!(
            "`{}` holds no database `cleanpipe db update` wrote",
            managed_dir.display()
        ))
        .with_hint("run `cleanpipe db update --ecosystems Debian,PyPI` (or give --dir)"));
    }
    let archives = managed::read_archives(&managed_dir)?;
    match format {
        OutputFormat::Json => {
            let doc = serde_json::json!({
                "directory": managed_dir.display().to_string(),
                "ecosystems": archives.iter().map(|m| serde_json::json!({
                    "ecosystem": m.ecosystem,
                    "records": m.records,
                    "withdrawn": m.withdrawn,
                    "newest_modified": m.newest_modified,
                    "source": m.source,
                    "digest": m.digest,
                    "size": m.size,
                    "fetched": m.fetched,
                    "archive": m.archive,
                })).collect::<Vec<_>>(),
            });
            printer.data(&serde_json::to_string_pretty(&doc).expect("stats serialize"));
        }
        OutputFormat::Text => {
            let mut out = format!("{}:\n", managed_dir.display());
            for m in &archives {
                out.push_str(&format!(
                    "  {:<12} {:>7} record(s)  newest modified {}  fetched {}\n  {:<12} {}  {}\n",
                    m.ecosystem, m.records, m.newest_modified, m.fetched, "", m.digest, m.source
                ));
            }
            printer.data(out.trim_end());
        }
    }
    Ok(ExitCode::Success)
}

/// Stats of a directory of OSV records or a zip the user supplies (loaded in full).
fn user_database_stats(path: &Path, format: OutputFormat, printer: &Printer) -> Result<ExitCode> {
    let db =
        crate::scan::osv::Database::load_with(path, &crate::cli::reporters::progress(printer))?;
    let (per, total, newest) = db.stats();
    match format {
        OutputFormat::Json => {
            let doc = serde_json::json!({
                "path": path.display().to_string(),
                "records": total,
                "withdrawn": db.withdrawn,
                "malformed": db.warnings.len(),
                "newest_modified": newest,
                "digest": db.content_digest,
                "affected_entries": per,
            });
            printer.data(&serde_json::to_string_pretty(&doc).expect("stats serialize"));
        }
        OutputFormat::Text => {
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
        }
    }
    Ok(ExitCode::Success)
}

pub async fn push(
    args: &DbPushArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let dir = dir_or_default(args.dir.as_deref())?;
    let target = crate::db_artifact::parse_reference(&args.target)?;
    let remote = crate::cli::settings::remote_options(&args.registry, redactor)?
        .with_progress(crate::cli::reporters::progress(printer));
    let (signer, format) = crate::cli::commands::sign::signer(
        args.key.as_deref(),
        args.keyless,
        &args.keyless_options,
        args.format,
        env,
        printer,
        redactor,
    )
    .await?;
    let pushed = crate::db_artifact::push(
        &dir,
        &target,
        &remote,
        &signer,
        (format.legacy(), format.bundle()),
    )
    .await?;
    for m in &pushed.archives {
        printer.status(&format!(
            "{}: {} record(s), newest modified {}, fetched {}",
            m.ecosystem, m.records, m.newest_modified, m.fetched
        ));
    }
    printer.status(&format!(
        "pushed and signed the database of `{}` as {}@{}",
        dir.display(),
        pushed.reference,
        pushed.digest
    ));
    printer.data(&format!("{}@{}", pushed.reference, pushed.digest));
    Ok(ExitCode::Success)
}

pub async fn pull(
    args: &DbPullArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let dir = dir_or_default(args.dir.as_deref())?;
    let source = crate::db_artifact::parse_reference(&args.source)?;
    let remote = crate::cli::settings::remote_options(&args.registry, redactor)?
        .with_progress(crate::cli::reporters::progress(printer));
    let mut trust = crate::cli::settings::trust_from_flags(&args.key, &args.identity)?;
    if let Some(path) = &args.pipeline {
        let pipeline = crate::spec::load::load(path, &|n| env.get(n).cloned(), redactor)?;
        let found = [
            (&pipeline.file.build.scan, ["build", "scan"]),
            (&pipeline.file.verify_base.scan, ["verify_base", "scan"]),
        ]
        .into_iter()
        .find_map(|(scan, at)| {
            scan.as_ref()
                .and_then(|s| s.db_trust.as_ref())
                .map(|t| (t.clone(), at))
        });
        let Some((spec, at)) = found else {
            return Err(Error::usage(format!(
                "{}: no `build.scan.db_trust` (or `verify_base.scan.db_trust`)",
                path.display()
            ))
            .with_hint(
                "add `db_trust: { keys: { team: keys/db.pub } }` under `build.scan`, or give --key",
            ));
        };
        let from_file =
            crate::spec::bases::db_trust(&pipeline, &pipeline.base_dir(), &at, &spec).await?;
        trust = Some(match trust {
            None => from_file,
            Some(mut t) => {
                for k in from_file.keys() {
                    t.add(k.clone());
                }
                match from_file.keyless() {
                    Some(k) => t.and_keyless(k.clone())?,
                    None => t,
                }
            }
        });
    }
    let Some(trust) = trust else {
        return Err(Error::usage("db pull needs a trusted signer").with_hint(
            "give --key FILE, --certificate-identity with --certificate-oidc-issuer, or --pipeline FILE (its `scan.db_trust`)",
        ));
    };
    let pulled = crate::db_artifact::pull(&source, &remote, &trust, &dir).await?;
    printer.status(&format!(
        "{}: {} ({})",
        source, pulled.digest, pulled.signed_by
    ));
    for m in &pulled.archives {
        printer.status(&format!(
            "{}: {} record(s), newest modified {}, fetched {}",
            m.ecosystem, m.records, m.newest_modified, m.fetched
        ));
    }
    printer.status(&format!(
        "database `{}`: {} ecosystem(s) installed",
        dir.display(),
        pulled.archives.len()
    ));
    printer.data(&dir.display().to_string());
    Ok(ExitCode::Success)
}
