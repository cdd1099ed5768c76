//! `base outdated` / `base update`: base-image updates without a bot. Every pinned base
//! (`repo:tag@sha256:…` in the Dockerfile, the customize base, `verify_base.images`) whose tag
//! now resolves to another digest is listed, with that digest's signature checked by the base's
//! trusted signer and, when the pipeline names an OSV database, what the update changes in the
//! scan. [`edits`] works out the rewritten files; the CLI renders and writes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::oci::reference::ImageRef;
use crate::oci::remote::RemoteOptions;
use crate::oci::store::Store;
use crate::progress::Progress;
use crate::spec::LoadedPipeline;

/// One pinned base and what its tag says now.
#[derive(Debug, Serialize)]
pub struct BaseStatus {
    pub reference: String,
    /// Where it is written: `Dockerfile:LINE (FROM)`, `build.customize.base`, …
    pub origin: crate::spec::bases::Origin,
    pub pinned: Option<String>,
    pub current: Option<String>,
    /// `up to date`, `update verified`, `update NOT verified`, or why it was not checked.
    pub state: &'static str,
    pub detail: String,
    /// The reference to write instead (a verified update only).
    pub update_to: Option<String>,
    /// What the update changes in the scan, with the pipeline's OSV database (a verified
    /// update, when the pipeline names a database for the builtin scanner).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_delta: Option<ScanDelta>,
}

/// The findings a verified update brings and removes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum ScanDelta {
    Compared {
        database: String,
        new: Vec<String>,
        fixed: Vec<String>,
        /// Packages of the new image that could not be checked (the delta says nothing of them).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        not_checked: Vec<String>,
    },
    /// The images could not be scanned; the update is still listed, the delta is not.
    Failed { why: String },
}

/// Every base of the pipeline and what its tag says now.
pub async fn outdated(
    spec: &crate::spec::Spec<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    remote: &RemoteOptions,
    progress: &Progress,
) -> Result<Vec<BaseStatus>> {
    let pipeline = spec.pipeline;
    let base_dir = pipeline.base_dir();
    let bases = crate::spec::bases::bases(pipeline, &base_dir, None)?;
    let mut statuses = Vec::new();
    let mut keys: BTreeMap<String, crate::sign::Trust> = BTreeMap::new();
    // The database the delta is scanned with: the base gate's, else the build's (builtin
    // scanner only: trivy and grype bring their own).
    let scan_db = [&pipeline.file.verify_base.scan, &pipeline.file.build.scan]
        .into_iter()
        .flatten()
        .filter(|s| {
            s.scanner
                .is_none_or(|k| k == crate::scan::gate::ScannerKind::Builtin)
        })
        .find_map(|s| s.db.as_deref())
        .map(|db| crate::spec::paths::scan_db(pipeline, &["build", "scan", "db"], db, env))
        .transpose()?;
    for base in bases {
        let mut status = BaseStatus {
            reference: base.reference.clone(),
            origin: base.origin.clone(),
            pinned: None,
            current: None,
            state: "not followed",
            detail: String::new(),
            update_to: None,
            scan_delta: None,
        };
        let image = match ImageRef::parse(&base.reference) {
            Ok(ImageRef::Registry(r)) => r,
            Ok(ImageRef::Layout(_)) => {
                status.detail = "a layout image has no registry tag to follow".into();
                statuses.push(status);
                continue;
            }
            Err(e) => {
                status.detail = e.to_string();
                statuses.push(status);
                continue;
            }
        };
        let (Some(tag), Some(pinned)) = (image.tag.clone(), image.digest.clone()) else {
            status.detail = "pin it as `repo:tag@sha256:…` to follow its tag".into();
            statuses.push(status);
            continue;
        };
        status.pinned = Some(pinned.to_string());
        let store = Store::for_image(&ImageRef::Registry(image.clone()), remote)?;
        let Some(now) = store.manifest_by_tag(&tag).await? else {
            status.state = "tag gone";
            status.detail = format!("`{tag}` no longer exists in {}", image.repository_name());
            statuses.push(status);
            continue;
        };
        status.current = Some(now.digest.to_string());
        if now.digest == pinned {
            status.state = "up to date";
            statuses.push(status);
            continue;
        }
        let Some(key_name) = &base.key else {
            status.state = "update NOT verified";
            status.detail =
                "no signer to verify it with (`verify_base.default_key` or a per-image `key`, naming a key or an identity)".into();
            statuses.push(status);
            continue;
        };
        if !keys.contains_key(key_name) {
            keys.insert(
                key_name.clone(),
                crate::spec::bases::trust_named(pipeline, &base_dir, key_name).await?,
            );
        }
        let report =
            crate::evidence::verify_signatures(&store, &now.digest, &keys[key_name]).await?;
        let signer = if pipeline.file.verify_base.identities.contains_key(key_name) {
            format!("identity `{key_name}`")
        } else {
            format!("key `{key_name}`")
        };
        if report.verified {
            status.state = "update verified";
            status.detail = format!("{} ({signer})", report.summary);
            status.update_to = Some(format!("{}:{tag}@{}", image.repository_name(), now.digest));
            if let Some(db) = &scan_db {
                let old = image.at_digest(&pinned).to_string();
                let new = image.at_digest(&now.digest).to_string();
                status.scan_delta =
                    Some(match scan_delta(&old, &new, db, remote, progress).await {
                        Ok(delta) => delta,
                        Err(e) => ScanDelta::Failed { why: e.to_string() },
                    });
            }
        } else {
            status.state = "update NOT verified";
            status.detail = format!("{} ({signer}): not rewritten", report.summary);
        }
        statuses.push(status);
    }

    Ok(statuses)
}

/// One pin moved in one file.
#[derive(Debug, Serialize)]
pub struct PinEdit {
    pub file: String,
    pub from: String,
    pub to: String,
}

/// The files the verified updates of `statuses` rewrite (relative to the pipeline's directory,
/// with their new text) and each pin moved. Worked out whole before anything is written: a pin
/// not written literally (from a build argument or template) refuses them all.
pub fn edits(
    statuses: &[BaseStatus],
    pipeline: &LoadedPipeline,
) -> Result<(BTreeMap<String, String>, Vec<PinEdit>)> {
    let base_dir = pipeline.base_dir();
    let mut diffs = Vec::new();
    // Every edit is worked out first; files are written only when all of them apply.
    let mut edits: BTreeMap<String, String> = BTreeMap::new();
    for s in statuses.iter().filter(|s| s.update_to.is_some()) {
        let (Some(old), Some(new)) = (&s.pinned, &s.current) else {
            continue;
        };
        // The pin as written, with only its digest moved: the rest of the reference
        // (registry spelling, tag) stays as the author wrote it.
        let replacement = s.reference.replace(old.as_str(), new.as_str());
        let file = s.origin.file(pipeline);
        let text = match edits.get(&file) {
            Some(t) => t.clone(),
            None => {
                let path = base_dir.join(&file);
                std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, e))?
            }
        };
        // A Dockerfile origin names its line: only that line changes there.
        let line = s.origin.line();
        let mut hits = 0;
        let updated: Vec<String> = text
            .split_inclusive('\n')
            .enumerate()
            .map(|(i, l)| {
                if line.is_none_or(|n| n == i + 1) && contains_reference(l, &s.reference) {
                    hits += 1;
                    replace_reference(l, &s.reference, &replacement)
                } else {
                    l.to_string()
                }
            })
            .collect();
        if hits == 0 {
            return Err(Error::usage(format!(
                    "`{}` is not written literally in {file} (it comes from a build argument or template); nothing was written, update it by hand",
                    s.reference
                )));
        }
        diffs.push(PinEdit {
            file: file.clone(),
            from: s.reference.clone(),
            to: replacement,
        });
        edits.insert(file, updated.concat());
    }
    Ok((edits, diffs))
}

/// Write the files [`edits`] worked out, each atomically.
pub fn write(base_dir: &Path, edits: &BTreeMap<String, String>) -> Result<()> {
    for (file, text) in edits {
        crate::fsutil::write_atomic(&base_dir.join(file), text.as_bytes())?;
    }
    Ok(())
}

/// Scan the pinned base and its update with the OSV database at `db` and compare.
async fn scan_delta(
    old: &str,
    new: &str,
    db: &std::path::Path,
    remote: &RemoteOptions,
    progress: &Progress,
) -> Result<ScanDelta> {
    let mut findings = Vec::new();
    let mut not_checked = Vec::new();
    for reference in [old, new] {
        let image = ImageRef::parse(reference)?;
        let scratch = tempfile::tempdir().map_err(|e| {
            Error::io(
                "cannot create a temporary directory",
                std::env::temp_dir(),
                e,
            )
        })?;
        let (layout, resolved) =
            crate::oci::store::materialize(&image, remote, scratch.path()).await?;
        let manifest = crate::oci::types::Manifest::from_slice(&resolved.bytes, reference)?;
        let db = db.to_path_buf();
        let progress = progress.clone();
        let found = tokio::task::spawn_blocking(move || {
            let (catalog, database) =
                crate::scan::catalog_and_database(&layout, &manifest, &db, &progress)?;
            Ok::<_, Error>(crate::scan::match_and_cover(&catalog, &database))
        })
        .await
        .map_err(|e| Error::environment(format!("scanning {reference} failed")).caused_by(e))??;
        let (found, coverage) = found;
        not_checked = coverage.unchecked_lines();
        findings.push(found);
    }
    let (added, removed) = crate::scan::finding_delta(&findings[0], &findings[1]);
    let show = |f: &&crate::scan::Finding| {
        format!(
            "{} ({}) in {} {}",
            f.id,
            f.severity.as_str(),
            f.package,
            f.version
        )
    };
    Ok(ScanDelta::Compared {
        database: db.display().to_string(),
        new: added.iter().map(show).collect(),
        fixed: removed.iter().map(show).collect(),
        not_checked,
    })
}

/// Whether `line` holds `reference` as a whole word (not inside a longer reference such as
/// `mirror.example/alpine:3@sha256:…` when `alpine:3@sha256:…` is meant).
fn contains_reference(line: &str, reference: &str) -> bool {
    line.match_indices(reference)
        .any(|(at, _)| whole_word(line, at, reference.len()))
}

fn whole_word(line: &str, at: usize, len: usize) -> bool {
    let boundary = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || "\"'=,[]".contains(c));
    boundary(line[..at].chars().next_back()) && boundary(line[at + len..].chars().next())
}

fn replace_reference(line: &str, reference: &str, replacement: &str) -> String {
    let mut out = String::new();
    let mut rest = 0;
    for (at, _) in line.match_indices(reference) {
        if whole_word(line, at, reference.len()) {
            out.push_str(&line[rest..at]);
            out.push_str(replacement);
            rest = at + reference.len();
        }
    }
    out.push_str(&line[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_reference_itself_is_replaced_not_a_longer_one_containing_it() {
        let line =
            "FROM mirror.example/alpine:3@sha256:aa AS m\nCOPY --from=alpine:3@sha256:aa /x /x\n";
        assert!(contains_reference(line, "alpine:3@sha256:aa"));
        assert_eq!(
            replace_reference(line, "alpine:3@sha256:aa", "alpine:3@sha256:bb"),
            "FROM mirror.example/alpine:3@sha256:aa AS m\nCOPY --from=alpine:3@sha256:bb /x /x\n"
        );
        assert!(!contains_reference(
            "FROM x/alpine:3@sha256:aa",
            "alpine:3@sha256:aa"
        ));
        assert!(contains_reference(
            "    base: \"alpine:3@sha256:aa\"",
            "alpine:3@sha256:aa"
        ));
    }
}
