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

pub async fn update(args: &DbUpdateArgs, printer: &Printer) -> Result<ExitCode> {
    let dir = dir_or_default(args.dir.as_deref())?;
    let base = managed::parse_base(args.mirror.as_deref().unwrap_or(managed::DEFAULT_BASE))?;
    let mut ecosystems: Vec<String> = Vec::new();
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
        let found = ecosystems_of_sboms(&args.sbom)?;
        printer.status(&format!("ecosystems from the SBOMs: {}", found.join(", ")));
        found
    } else {
        args.ecosystems.clone()
    };
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

/// `--ecosystems auto`: the ecosystems of every package URL in the SBOMs `paths` name (files,
/// or directories whose `*.spdx.json` / `*.cdx.json` are read), default `outputs`.
fn ecosystems_of_sboms(paths: &[PathBuf]) -> Result<Vec<String>> {
    let default = [PathBuf::from("outputs")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::io("cannot list", p, e))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| {
                    f.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.ends_with(".spdx.json")
                            || n.ends_with(".cdx.json")
                            || n.ends_with(".cyclonedx.json")
                    })
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err(Error::usage(format!(
            "--ecosystems auto: no SBOM (`*.spdx.json`, `*.cdx.json`) in {}",
            paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("run the pipeline once (it writes outputs/sbom.spdx.json), give --sbom FILE, or name the ecosystems"));
    }
    let mut out = std::collections::BTreeSet::new();
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| Error::io("cannot read", f, e))?;
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::usage(format!("{}: not a JSON SBOM", f.display())).caused_by(e))?;
        managed::ecosystems_of_sbom(&doc, &mut out);
    }
    if out.is_empty() {
        return Err(Error::usage(format!(
            "--ecosystems auto: no package of an ecosystem osv.dev publishes in {}",
            files
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("name the ecosystems: --ecosystems Debian,PyPI"));
    }
    Ok(out.into_iter().collect())
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
    let mut keys = Vec::new();
    for k in &args.key {
        keys.push(crate::sign::keys::PublicKey::from_file(k)?);
    }
    let keyless = crate::cli::settings::keyless_trust(&args.identity)?;
    let mut trust = if keys.is_empty() && keyless.is_none() {
        None
    } else {
        Some(crate::sign::Trust::with_keyless(keys, keyless)?)
    };
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
