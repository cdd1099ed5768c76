//! The vulnerability gate shared by verify-base (each base) and build (the result): catalog
//! the image in the layout, match it against the OSV database, apply waivers and the threshold,
//! and write the table, JSON and SARIF reports to the run's outputs.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::types::{Digest, ImageConfig, Manifest};
use crate::run::RunContext;
use crate::scan::gate::{ScannerKind, Threshold};
use crate::scan::{self, external, report, ScanOptions};
use crate::spec::model::ScanSpec;

/// What the run report keeps of a scan.
#[derive(Clone, Debug, Serialize)]
pub struct ScanSummary {
    pub packages: usize,
    pub findings: usize,
    pub failing: Vec<String>,
    pub waived: usize,
    /// Findings VEX statements took out of the gate (listed in the report's `suppressed`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: usize,
    pub expired_waivers: Vec<String>,
    /// Report files written, with their sha256.
    pub files: Vec<(String, String)>,
    /// The whole report, for the scan attestation (in the run report only as `files`).
    #[serde(skip)]
    pub report: Option<report::ScanReport>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The image to scan, and where its gate is configured.
pub struct Target<'a> {
    pub layout: &'a Layout,
    pub digest: &'a Digest,
    pub image_name: &'a str,
    pub spec: &'a ScanSpec,
    /// Where the spec is in the pipeline file, for messages.
    pub key_path: &'a [&'a str],
    /// Names the output files (`scan-results`, `base-scan-1`, …).
    pub file_stem: &'a str,
    /// `registry/repo[:tag]` VEX products are matched against (`push.repository`, a base's
    /// reference), when there is one.
    pub reference: Option<&'a str>,
    /// The verified bases' own VEX documents (signed by their trusted signers).
    pub base_vex: &'a [BaseVex],
}

/// A verified base's VEX, for a gate.
#[derive(Clone, Debug, Default)]
pub struct BaseVex {
    pub reference: String,
    pub documents: Vec<crate::scan::vex::Document>,
    /// Attestations found and not used, with why.
    pub ignored: Vec<String>,
    /// For a gate on an image built on the base: what the base holds, so statements cover only
    /// the packages the image kept unchanged. `None` when the base itself is scanned.
    pub contents: Option<BaseContents>,
}

/// What a base image holds, for telling which of a child's packages are the base's unchanged.
#[derive(Clone, Debug, Default)]
pub struct BaseContents {
    /// Each package's purl and the file it was read from.
    pub packages: std::collections::BTreeSet<(String, String)>,
    /// The base's layers (a child built on it starts with these).
    pub layers: std::collections::BTreeSet<Digest>,
}

impl BaseContents {
    pub fn of(catalog: &crate::sbom::catalog::Catalog, manifest: &Manifest) -> BaseContents {
        BaseContents {
            packages: catalog
                .packages
                .iter()
                .map(|p| (p.purl.clone(), p.location.clone()))
                .collect(),
            layers: manifest.layers.iter().map(|l| l.digest.clone()).collect(),
        }
    }

    /// The purls of `child`'s packages that are the base's unchanged: the same purl (name,
    /// version, qualifiers such as `arch`) read from the same file in the base, and that file
    /// last written by one of the base's layers. A distribution's package database (dpkg
    /// `status`, apk `installed`, the rpmdb) holds every package in one file, which installing
    /// anything rewrites; there the same purl in the same database is what counts.
    pub fn unchanged(
        &self,
        child: &crate::sbom::catalog::Catalog,
    ) -> std::collections::BTreeSet<String> {
        use crate::sbom::catalog::Kind;
        child
            .packages
            .iter()
            .filter(|p| {
                self.packages
                    .contains(&(p.purl.clone(), p.location.clone()))
                    && (self.layers.contains(&p.layer)
                        || matches!(p.kind, Kind::Deb | Kind::Apk | Kind::Rpm))
            })
            .map(|p| p.purl.clone())
            .collect()
    }
}

/// Scan the target and apply its gate.
pub async fn run(ctx: &RunContext, stage: &str, target: Target<'_>) -> Result<ScanSummary> {
    let Target {
        layout,
        digest,
        image_name,
        spec,
        key_path,
        file_stem,
        reference,
        base_vex,
    } = target;
    ctx.emit(crate::run::Event::ScanStarted { stage, file_stem });
    let mut options = spec.options(ctx.clock.today());
    options.vex = crate::spec::paths::vex_documents(&ctx.pipeline, key_path[0], spec)?;
    options.image_reference = reference.map(String::from);
    for doc in &options.vex {
        for w in &doc.warnings {
            ctx.warn(stage, w);
        }
    }
    for base in base_vex {
        options.vex_ignored.extend(base.ignored.iter().cloned());
        if base.contents.is_none() {
            options.vex.extend(base.documents.iter().cloned());
        }
    }
    let threshold = options.threshold;
    let tool = spec.scanner.and_then(ScannerKind::external);
    if tool.is_some() {
        for base in base_vex.iter().filter(|b| b.contents.is_some()) {
            for doc in &base.documents {
                options.vex_ignored.push(format!(
                    "base VEX not applied: `{}` ({}): an external scanner gives no catalogue to tell which packages are the base's unchanged",
                    doc.path, doc.digest
                ));
            }
        }
    }
    let result = match tool {
        Some(tool) => {
            let manifest = Manifest::from_slice(&layout.read_blob(digest)?, image_name)?;
            let config: ImageConfig =
                serde_json::from_slice(&layout.read_blob(&manifest.config.digest)?).map_err(
                    |e| Error::usage(format!("{image_name}: invalid image config")).caused_by(e),
                )?;
            let program = spec
                .scanner_path
                .as_deref()
                // A bare name is looked up on PATH; a path is relative to the pipeline file.
                .map(|p| match p.contains('/') {
                    true => ctx.base_dir.join(p).to_string_lossy().into_owned(),
                    false => p.to_string(),
                })
                .unwrap_or_else(|| tool.name().to_string());
            ctx.say(stage, &format!("{image_name}: scanning with {program}"));
            let found = external::run(
                tool,
                &program,
                &spec.scanner_args,
                external::Image {
                    layout,
                    digest,
                    manifest: &manifest,
                    diff_ids: &config.rootfs.diff_ids,
                },
            )
            .await?;
            scan::scan_external(image_name, digest, found, &options)?
        }
        None => {
            builtin(
                ctx, stage, layout, digest, image_name, spec, key_path, options, base_vex,
            )
            .await?
        }
    };
    finish(
        ctx, stage, result, threshold, key_path, file_stem, image_name,
    )
}

/// The builtin scanner: catalog the image and match it against the OSV database.
#[allow(clippy::too_many_arguments)]
async fn builtin(
    ctx: &RunContext,
    stage: &str,
    layout: &Layout,
    digest: &Digest,
    image_name: &str,
    spec: &ScanSpec,
    key_path: &[&str],
    mut options: ScanOptions,
    base_vex: &[BaseVex],
) -> Result<report::ScanReport> {
    let db_location = spec.db.as_ref().ok_or_else(|| {
        ctx.pipeline.error_at(
            key_path,
            "the builtin scanner needs `db`: a directory of OSV records or an osv.dev zip",
        )
    })?;
    let db_path = if db_location.starts_with("oci://") {
        pulled_database(ctx, stage, spec, key_path, db_location).await?
    } else {
        crate::spec::paths::scan_db(&ctx.pipeline, key_path, db_location, &ctx.env_lookup())?
    };
    let manifest = Manifest::from_slice(&layout.read_blob(digest)?, image_name)?;
    let (layout2, progress) = (layout.clone(), ctx.progress.clone());
    let catalog = tokio::task::spawn_blocking(move || {
        crate::sbom::catalog_image(&layout2, &manifest, &progress)
    })
    .await
    .map_err(|e| Error::environment("scan failed").caused_by(e))??;
    if db_location == crate::spec::paths::MANAGED_DB {
        fetch_missing(ctx, stage, spec.db_mirror.as_deref(), &db_path, &catalog).await?;
    }
    // After any fetch: a managed database's age counts from its archives' fetch times.
    let age = check_db_age(ctx, stage, spec, key_path, &db_path)?;
    let wanted = scan::wanted_keys(&catalog);
    let (db_path2, progress) = (db_path.clone(), ctx.progress.clone());
    let db = tokio::task::spawn_blocking(move || {
        scan::osv::Database::load_cached_for(&db_path2, Some(&wanted), &progress).map(|(db, _)| db)
    })
    .await
    .map_err(|e| Error::environment("scan failed").caused_by(e))??;
    if !db.warnings.is_empty() {
        ctx.warn(
            stage,
            &format!(
                "{} malformed or unsupported OSV record(s) skipped",
                db.warnings.len()
            ),
        );
    }
    // A base's statements cover only the packages this image kept unchanged from that base.
    for base in base_vex {
        let Some(contents) = &base.contents else {
            continue;
        };
        let unchanged = contents.unchanged(&catalog);
        for doc in &base.documents {
            let mut doc = doc.clone();
            if let Some(scope) = &mut doc.base {
                scope.unchanged = Some(unchanged.clone());
            }
            options.vex.push(doc);
        }
    }
    let mut result = scan::scan_catalog(image_name, digest, &catalog, &db, db_location, &options)?;
    if let Some(identity) = result.coverage.as_mut().and_then(|c| c.database.as_mut()) {
        identity.age_seconds = age.or_else(|| {
            identity
                .fetched
                .as_deref()
                .and_then(|f| crate::scan::coverage::age_seconds(f, ctx.clock.now()))
        });
    }
    Ok(result)
}

/// `db: managed`: fetch the archive of every ecosystem the image's packages belong to that the
/// managed database lacks (from `$CLEANPIPE_DB_MIRROR`, else osv.dev), so a first run gates
/// without a separate `db update`. Ecosystems already there are used as they are (`db update`
/// refreshes them).
async fn fetch_missing(
    ctx: &RunContext,
    stage: &str,
    mirror: Option<&str>,
    dir: &std::path::Path,
    catalog: &crate::sbom::Catalog,
) -> Result<()> {
    use crate::scan::managed;
    // The cache directory is cleanpipe's own: made on first use.
    crate::fsutil::create_dirs(dir)?;
    let needed: std::collections::BTreeSet<&str> = catalog
        .packages
        .iter()
        .filter_map(|p| managed::ecosystem_of_purl(&p.purl))
        .collect();
    let present: Vec<String> = if managed::is_managed(dir) {
        managed::read_archives(dir)?
            .into_iter()
            .map(|a| a.ecosystem)
            .collect()
    } else {
        vec![]
    };
    let missing: Vec<&str> = needed
        .into_iter()
        .filter(|e| !present.iter().any(|p| p == e))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // The environment over the pipeline file: a CI job behind its own mirror.
    let base = ctx
        .env
        .get(managed::MIRROR_VAR)
        .filter(|m| !m.is_empty())
        .map(String::as_str)
        .or(mirror)
        .unwrap_or(managed::DEFAULT_BASE);
    let base = managed::parse_base(base)?;
    let client = crate::net::client(crate::net::Redirects::Checked, None)?;
    let _lock = managed::lock(dir)?;
    for ecosystem in missing {
        ctx.say(
            stage,
            &format!(
                "the managed database has no {ecosystem} records yet: fetching them into {}",
                dir.display()
            ),
        );
        let fetched = managed::update_one(&client, &base, dir, ecosystem, &ctx.progress)
            .await
            .map_err(|e| {
                Error::environment(format!(
                    "the gate needs {ecosystem} advisories and they could not be fetched"
                ))
                .caused_by(e)
                .with_hint("run `cleanpipe db update --ecosystems ECOSYSTEM` where the network allows (a mirror: `db_mirror` or CLEANPIPE_DB_MIRROR), or give `db` a directory of OSV records")
            })?;
        let m = match fetched {
            managed::Outcome::Updated(m) | managed::Outcome::Unchanged(m) => m,
        };
        ctx.say(
            stage,
            &format!(
                "{ecosystem}: {} record(s), newest modified {}",
                m.records, m.newest_modified
            ),
        );
    }
    Ok(())
}

/// `max_db_age`: the database's age, counted from when its oldest archive was fetched from
/// upstream (the metadata of a managed or pulled database); older fails the gate, unless the
/// database is pinned by digest and `pinned_db_exempt_from_age` says why. Returns the age.
fn check_db_age(
    ctx: &RunContext,
    stage: &str,
    spec: &ScanSpec,
    key_path: &[&str],
    db_path: &std::path::Path,
) -> Result<Option<u64>> {
    let managed = crate::scan::managed::is_managed(db_path);
    let archives = if managed {
        crate::scan::managed::read_archives(db_path)?
    } else {
        vec![]
    };
    let oldest = archives.iter().min_by(|a, b| a.fetched.cmp(&b.fetched));
    let age = oldest.and_then(|m| crate::scan::coverage::age_seconds(&m.fetched, ctx.clock.now()));
    let Some(max_text) = &spec.max_db_age else {
        return Ok(age);
    };
    let mut age_key: Vec<&str> = key_path.to_vec();
    age_key.push("max_db_age");
    let max = crate::policy::file::parse_duration(max_text)
        .map_err(|why| ctx.pipeline.error_at(&age_key, why))?;
    let (Some(oldest), Some(age)) = (oldest, age) else {
        return Err(ctx
            .pipeline
            .error_at(
                &age_key,
                format!(
                    "the database `{}` has no fetch time to count its age from",
                    db_path.display()
                ),
            )
            .with_hint("use a managed database (`cleanpipe db update`, `db: oci://…`), or remove `max_db_age`"));
    };
    if age <= max {
        ctx.say(
            stage,
            &format!(
                "database age {} (fetched {}), within max_db_age {max_text}",
                crate::scan::coverage::human_age(age),
                oldest.fetched
            ),
        );
        return Ok(Some(age));
    }
    let pinned = spec
        .db
        .as_deref()
        .filter(|d| d.starts_with("oci://"))
        .and_then(|d| crate::db_artifact::parse_reference(d).ok())
        .is_some_and(|r| r.digest().is_some());
    if let (true, Some(reason)) = (pinned, &spec.pinned_db_exempt_from_age) {
        ctx.warn(
            stage,
            &format!(
                "database age {} is over max_db_age {max_text}, but it is pinned by digest and exempt: {reason}",
                crate::scan::coverage::human_age(age)
            ),
        );
        return Ok(Some(age));
    }
    let why = format!(
        "the vulnerability database is {} old ({} was fetched {}), older than max_db_age {max_text}",
        crate::scan::coverage::human_age(age),
        oldest.ecosystem,
        oldest.fetched
    );
    let mut key: Vec<&str> = key_path.to_vec();
    key.push("max_db_age");
    let located = ctx.pipeline.error_at(&key, why.clone()).to_string();
    Err(Error::gate(located, vec![why]).with_hint(if pinned {
        "update the database (`cleanpipe db update`, `db push`) and pin the new digest, or say why this one may be old in `pinned_db_exempt_from_age`"
    } else {
        "update the database: `cleanpipe db update` (or push a fresh one with `db push`)"
    }))
}

/// Write the reports and apply the verdict.
fn finish(
    ctx: &RunContext,
    stage: &str,
    result: report::ScanReport,
    threshold: Threshold,
    key_path: &[&str],
    file_stem: &str,
    image_name: &str,
) -> Result<ScanSummary> {
    ctx.emit(crate::run::Event::Scanned {
        stage,
        file_stem,
        report: &result,
    });
    for w in result
        .gate
        .expired_waivers
        .iter()
        .chain(&result.gate.unused_waivers)
        .chain(&result.gate.vex_unused)
        .chain(&result.gate.vex_ignored)
    {
        ctx.warn(stage, w);
    }
    for line in &result.gate.vex_kept {
        ctx.say(stage, line);
    }
    for line in &result.gate.vex_not_applied {
        ctx.say(stage, line);
    }
    let mut files = Vec::new();
    crate::fsutil::create_dirs(&ctx.outputs_dir)?;
    for (name, bytes) in [
        (
            format!("{file_stem}.json"),
            serde_json::to_vec_pretty(&result).expect("serializes"),
        ),
        (
            format!("{file_stem}.sarif"),
            serde_json::to_vec_pretty(&report::sarif(&result)).expect("serializes"),
        ),
        (
            format!("{file_stem}.txt"),
            report::table(&result).into_bytes(),
        ),
    ] {
        let path = ctx.outputs_dir.join(&name);
        crate::oci::layout::write_atomic(&path, &bytes)?;
        files.push((path.display().to_string(), Digest::of(&bytes).to_string()));
    }
    ctx.say(
        stage,
        &format!(
            "{image_name}: {} package(s), {} finding(s), {} at or above {}{}{}",
            result.packages,
            result.findings.len(),
            result.gate.failing.len(),
            threshold.as_str(),
            match result.suppressed.len() {
                0 => String::new(),
                n => format!(", {n} suppressed by VEX"),
            },
            match &result.coverage {
                Some(c) if c.unchecked > 0 => format!(", {} NOT CHECKED", c.unchecked),
                Some(_) => String::new(),
                None => ", coverage not reported by the scanner".into(),
            }
        ),
    );
    let summary = ScanSummary {
        packages: result.packages,
        findings: result.findings.len(),
        waived: result
            .findings
            .iter()
            .filter(|f| f.waived.is_some())
            .count(),
        suppressed: result.suppressed.len(),
        failing: result.gate.failing.clone(),
        expired_waivers: result.gate.expired_waivers.clone(),
        files,
        report: Some(result.clone()),
    };
    if !result.gate.passed {
        let mut reasons = result.gate.failing.clone();
        reasons.extend(result.gate.unchecked.iter().cloned());
        reasons.extend(result.gate.expired_waivers.iter().cloned());
        let mut what = Vec::new();
        if !result.gate.failing.is_empty() || result.gate.unchecked.is_empty() {
            what.push(format!(
                "{} vulnerabilit(ies) at or above `fail_on: {}`",
                result.gate.failing.len(),
                threshold.as_str()
            ));
        }
        let unchecked = result.coverage.as_ref().map_or(0, |c| c.unchecked);
        if unchecked > 0 {
            what.push(format!(
                "{unchecked} package(s) that could not be checked against advisories"
            ));
        }
        let mut hint = String::new();
        if !result.gate.failing.is_empty() {
            hint.push_str(&format!(
                "update the packages, or add a waiver with a reason and an expiry date under `{}.waivers`; ",
                key_path.join(".")
            ));
        }
        if unchecked > 0 {
            hint.push_str("give the database records for the ecosystems named (osv.dev publishes one archive per ecosystem, `<Ecosystem>/all.zip`); ");
        }
        return Err(
            Error::gate(format!("{image_name} has {}", what.join(" and ")), reasons).with_hint(
                format!(
                    "{hint}the full report is in {}",
                    ctx.outputs_dir.join(format!("{file_stem}.txt")).display()
                ),
            ),
        );
    }
    Ok(summary)
}

/// `db: oci://…`: the database artifact, pulled into the user's cache and verified against
/// `db_trust` (docs/database.md). A database pinned by digest already in the cache, installed
/// from that exact artifact, is not fetched again (its archives are still checked against
/// their digests when loaded).
async fn pulled_database(
    ctx: &RunContext,
    stage: &str,
    spec: &ScanSpec,
    key_path: &[&str],
    db_location: &str,
) -> Result<std::path::PathBuf> {
    let mut db_key: Vec<&str> = key_path.to_vec();
    db_key.push("db");
    let reference = crate::db_artifact::parse_reference(db_location).map_err(|e| {
        ctx.pipeline
            .error_at(&db_key, format!("`{db_location}`: {e}"))
    })?;
    let trust_spec = spec.db_trust.as_ref().ok_or_else(|| {
        ctx.pipeline
            .error_at(&db_key, "a database artifact needs `db_trust`")
            .with_hint("add `db_trust: { keys: { team: keys/db.pub } }` beside `db`")
    })?;
    let cache = crate::scan::managed::user_cache_dir().ok_or_else(|| {
        Error::usage("no cache directory for the database artifact: neither XDG_CACHE_HOME nor HOME is an absolute path")
            .with_hint("set XDG_CACHE_HOME")
    })?;
    let name = match &reference {
        crate::oci::reference::ImageRef::Registry(r) => r.repository_name(),
        crate::oci::reference::ImageRef::Layout(l) => l.dir.display().to_string(),
    };
    let dir = cache
        .join("cleanpipe")
        .join("osv-artifacts")
        .join(&Digest::of(name.as_bytes()).hex()[..16]);
    if let Some(pinned) = reference.digest() {
        let want = format!("{name}@{pinned}");
        let cached = crate::scan::managed::read_archives(&dir).is_ok_and(|all| {
            !all.is_empty() && all.iter().all(|m| m.artifact.as_deref() == Some(&want))
        });
        if cached {
            ctx.say(
                stage,
                &format!("database {want}: already pulled and verified"),
            );
            return Ok(dir);
        }
    }
    let trust =
        crate::spec::bases::db_trust(&ctx.pipeline, &ctx.base_dir, key_path, trust_spec).await?;
    let pulled = crate::db_artifact::pull(&reference, &ctx.remote, &trust, &dir).await?;
    ctx.say(
        stage,
        &format!(
            "database {name}@{}: {}, {} ecosystem(s)",
            pulled.digest,
            pulled.signed_by,
            pulled.archives.len()
        ),
    );
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::catalog::{Catalog, Kind, Package};

    fn pkg(kind: Kind, purl: &str, location: &str, layer: &[u8]) -> Package {
        Package {
            kind,
            name: String::new(),
            version: String::new(),
            source_name: None,
            source_version: None,
            arch: None,
            licenses: vec![],
            location: location.into(),
            layer: Digest::of(layer),
            purl: purl.into(),
            identified_from: None,
        }
    }

    /// A package is the base's unchanged only with the same purl from the same file, that file
    /// written by a base layer; a distribution database rewritten later keeps its packages.
    #[test]
    fn unchanged_means_same_purl_same_file_from_a_base_layer() {
        const META: &str = "/site-packages/a-1.0.dist-info/METADATA";
        const STATUS: &str = "/var/lib/dpkg/status";
        let base = Catalog {
            packages: vec![
                pkg(Kind::Python, "pkg:pypi/a@1.0", META, b"base"),
                pkg(Kind::Python, "pkg:pypi/b@1.0", "/b/METADATA", b"base"),
                pkg(
                    Kind::Deb,
                    "pkg:deb/debian/libc6@2.36-9?arch=amd64",
                    STATUS,
                    b"base",
                ),
                pkg(
                    Kind::Deb,
                    "pkg:deb/debian/openssl@3.0.10-1?arch=amd64",
                    STATUS,
                    b"base",
                ),
            ],
            ..Default::default()
        };
        let manifest = Manifest {
            schema_version: 2,
            media_type: None,
            artifact_type: None,
            config: crate::oci::types::Descriptor::new("c", Digest::of(b"config"), 1),
            layers: vec![crate::oci::types::Descriptor::new(
                "l",
                Digest::of(b"base"),
                1,
            )],
            subject: None,
            annotations: Default::default(),
        };
        let contents = BaseContents::of(&base, &manifest);
        let child = Catalog {
            packages: vec![
                // Kept as the base had it.
                pkg(Kind::Python, "pkg:pypi/a@1.0", META, b"base"),
                // The same version's metadata laid over by the child's layer.
                pkg(Kind::Python, "pkg:pypi/b@1.0", "/b/METADATA", b"child"),
                // The dpkg database rewritten by an install: libc6 kept, openssl upgraded.
                pkg(
                    Kind::Deb,
                    "pkg:deb/debian/libc6@2.36-9?arch=amd64",
                    STATUS,
                    b"child",
                ),
                pkg(
                    Kind::Deb,
                    "pkg:deb/debian/openssl@3.0.11-1?arch=amd64",
                    STATUS,
                    b"child",
                ),
                // Added by the child.
                pkg(Kind::Python, "pkg:pypi/c@1.0", "/c/METADATA", b"child"),
                // The same purl read from another file.
                pkg(Kind::Python, "pkg:pypi/a@1.0", "/other/METADATA", b"base"),
            ],
            ..Default::default()
        };
        let unchanged: Vec<String> = contents.unchanged(&child).into_iter().collect();
        assert_eq!(
            unchanged,
            ["pkg:deb/debian/libc6@2.36-9?arch=amd64", "pkg:pypi/a@1.0"]
        );
    }
}
