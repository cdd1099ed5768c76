//! Which osv.dev ecosystems a pipeline's images need, known before its first run
//! (`cleanpipe db update --ecosystems auto --pipeline FILE`): the packages catalogued in its
//! pinned bases, the manifests and lockfiles its build context sends (what `.dockerignore`
//! leaves in), and the SBOMs earlier runs wrote.
//!
//! A guess from file names is only a guess: what decides is the scan gate, which with
//! `db: managed` fetches any ecosystem the built image turns out to need.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::oci::reference::ImageRef;
use crate::oci::remote::RemoteOptions;
use crate::oci::store::Store;
use crate::oci::types::{Manifest, Platform};
use crate::progress::Progress;
use crate::scan::managed;
use crate::spec::load::LoadedPipeline;

/// Ecosystems, each with the places that called for it (`base debian@sha256:…`,
/// `requirements.txt`, `outputs/sbom.spdx.json`).
#[derive(Debug, Default)]
pub struct Needed {
    pub ecosystems: BTreeMap<String, BTreeSet<String>>,
}

impl Needed {
    fn add(&mut self, ecosystem: &str, from: impl Into<String>) {
        self.ecosystems
            .entry(ecosystem.to_string())
            .or_default()
            .insert(from.into());
    }

    /// One line per ecosystem: `PyPI (requirements.txt, base python@sha256:…)`, at most three
    /// places each.
    pub fn describe(&self) -> Vec<String> {
        self.ecosystems
            .iter()
            .map(|(e, from)| {
                let mut shown: Vec<&str> = from.iter().take(3).map(String::as_str).collect();
                if from.len() > 3 {
                    shown.push("…");
                }
                format!("{e} ({})", shown.join(", "))
            })
            .collect()
    }
}

/// The ecosystem a manifest or lockfile in a build context belongs to, by its file name.
pub fn ecosystem_of_file(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let ext = |e: &str| lower.ends_with(e);
    Some(match lower.as_str() {
        "package.json"
        | "package-lock.json"
        | "npm-shrinkwrap.json"
        | "yarn.lock"
        | "pnpm-lock.yaml"
        | "bun.lock" => "npm",
        "pipfile" | "pipfile.lock" | "poetry.lock" | "pyproject.toml" | "setup.py"
        | "setup.cfg" | "uv.lock" | "pdm.lock" => "PyPI",
        "pom.xml" | "build.gradle" | "build.gradle.kts" | "gradle.lockfile" => "Maven",
        "go.mod" | "go.sum" => "Go",
        "cargo.toml" | "cargo.lock" => "crates.io",
        "gemfile" | "gemfile.lock" => "RubyGems",
        "composer.json" | "composer.lock" => "Packagist",
        "packages.lock.json" | "packages.config" => "NuGet",
        _ if lower.starts_with("requirements") && ext(".txt") => "PyPI",
        _ if ext(".jar") || ext(".war") || ext(".ear") => "Maven",
        _ if ext(".gemspec") => "RubyGems",
        _ if ext(".csproj") || ext(".fsproj") || ext(".deps.json") => "NuGet",
        _ => return None,
    })
}

/// The manifests and lockfiles among the files the build sends: the Dockerfile's context as
/// `.dockerignore` leaves it, or the sources `build.customize.files` copies.
pub fn from_build_context(pipeline: &LoadedPipeline, out: &mut Needed) -> Result<()> {
    let add_file = |rel: &str, out: &mut Needed| {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        // Installed Python packages copied in as they are (what the catalogers read).
        let installed_python =
            rel.ends_with(".dist-info/METADATA") || rel.ends_with(".egg-info/PKG-INFO");
        if let Some(e) = ecosystem_of_file(name).or(installed_python.then_some("PyPI")) {
            out.add(e, rel.to_string());
        }
    };
    if pipeline.file.build.dockerfile.is_some() {
        let (context, _) = crate::spec::paths::dockerfile(pipeline)?;
        let skip = [".git".to_string(), ".cleanpipe".to_string()];
        let files = crate::build::context::collect(&context.abs(), &[], &skip, None)?;
        for (rel, entry) in &files.entries {
            if matches!(entry, crate::build::context::ContextEntry::File(_)) {
                add_file(&join(context.rel(), rel), out);
            }
        }
    }
    if let Some(c) = &pipeline.file.build.customize {
        for i in 0..c.files.len() {
            let src = crate::spec::paths::customize_source(pipeline, i, None)?;
            let abs = src.abs();
            if abs.is_dir() {
                let files = crate::build::context::collect(&abs, &[], &[], None)?;
                for (rel, entry) in &files.entries {
                    if matches!(entry, crate::build::context::ContextEntry::File(_)) {
                        add_file(&join(src.rel(), rel), out);
                    }
                }
            } else {
                add_file(src.rel(), out);
            }
        }
    }
    Ok(())
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() || dir == "." {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// The package URLs of SBOM files (SPDX or CycloneDX JSON): `paths` are files, or directories
/// whose `*.spdx.json`, `*.cdx.json` and `*.cyclonedx.json` are read. Returns the files read.
pub fn from_sboms(paths: &[PathBuf], out: &mut Needed) -> Result<Vec<PathBuf>> {
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
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| Error::io("cannot read", f, e))?;
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::usage(format!("{}: not a JSON SBOM", f.display())).caused_by(e))?;
        let mut found = BTreeSet::new();
        managed::ecosystems_of_sbom(&doc, &mut found);
        for e in found {
            out.add(&e, f.display().to_string());
        }
    }
    Ok(files)
}

/// The packages catalogued in each pinned base the pipeline names (pulled into a temporary
/// layout; an index at the host platform, or the platform a Dockerfile names).
pub async fn from_bases(
    pipeline: &LoadedPipeline,
    remote: &RemoteOptions,
    progress: &Progress,
    out: &mut Needed,
) -> Result<usize> {
    let bases = crate::spec::bases::bases(pipeline, &pipeline.base_dir(), None)?;
    let mut seen = BTreeSet::new();
    for base in &bases {
        if !seen.insert(base.reference.clone()) {
            continue;
        }
        let image = ImageRef::parse(&base.reference).map_err(|e| {
            Error::usage(format!("base `{}` ({})", base.reference, base.origin)).caused_by(e)
        })?;
        let platform = base
            .used_at(None)
            .ok()
            .and_then(|p| p.into_iter().next())
            .unwrap_or_else(Platform::host);
        let scratch = tempfile::tempdir().map_err(|e| {
            Error::io(
                "cannot create a temporary directory",
                std::env::temp_dir(),
                e,
            )
        })?;
        let store = Store::for_image(&image, remote)?;
        let top = store.resolve(&image).await?;
        let what = base.reference.as_str();
        let resolved = match store.platform_manifest(&top, &platform, what).await? {
            Some(child) => child,
            None => top,
        };
        let manifest = Manifest::from_slice(&resolved.bytes, what)?;
        let layout = match &store {
            Store::Layout(l) => l.clone(),
            Store::Remote { remote, repo } => {
                let l = crate::oci::layout::Layout::create(scratch.path())?;
                for blob in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
                    remote.pull_blob_into(repo, &blob.digest, &l).await?;
                }
                l
            }
        };
        let progress = progress.clone();
        let catalog = tokio::task::spawn_blocking(move || {
            crate::sbom::catalog_image(&layout, &manifest, &progress)
        })
        .await
        .map_err(|e| Error::environment("cataloguing a base failed").caused_by(e))??;
        let short = short_reference(&base.reference);
        for p in &catalog.packages {
            if let Some(e) = managed::ecosystem_of_purl(&p.purl) {
                out.add(e, format!("base {short}"));
            }
        }
    }
    Ok(seen.len())
}

/// The archive of CVE records when a needed distribution's advisories carry no severity
/// (Debian's, Alpine's): without it their findings are of unknown severity.
pub fn add_cve_records(out: &mut Needed) {
    let rated: Vec<String> = managed::RATED_BY_CVE_RECORDS
        .iter()
        .filter(|d| out.ecosystems.contains_key(**d))
        .map(|d| d.to_string())
        .collect();
    if !rated.is_empty() {
        out.add(
            managed::CVE_RECORDS,
            format!("CVE records rating {} findings", rated.join(" and ")),
        );
    }
}

/// `repo@sha256:0123456789ab…` for messages.
fn short_reference(reference: &str) -> String {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    match name.split_once("@sha256:") {
        Some((repo, hex)) => format!("{repo}@sha256:{}…", hex.get(..12).unwrap_or(hex)),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_and_lockfiles_map_to_osv_ecosystems() {
        for (name, want) in [
            ("package-lock.json", Some("npm")),
            ("yarn.lock", Some("npm")),
            ("requirements-dev.txt", Some("PyPI")),
            ("poetry.lock", Some("PyPI")),
            ("pom.xml", Some("Maven")),
            ("app.jar", Some("Maven")),
            ("go.sum", Some("Go")),
            ("Cargo.lock", Some("crates.io")),
            ("Gemfile.lock", Some("RubyGems")),
            ("composer.lock", Some("Packagist")),
            ("App.csproj", Some("NuGet")),
            ("README.md", None),
            ("requirements.md", None),
            ("Dockerfile", None),
        ] {
            assert_eq!(ecosystem_of_file(name), want, "{name}");
        }
    }

    #[test]
    fn places_are_listed_three_at_most() {
        let mut n = Needed::default();
        for f in [
            "a/package.json",
            "b/package.json",
            "c/package.json",
            "d/package.json",
        ] {
            n.add("npm", f);
        }
        n.add("PyPI", "requirements.txt");
        add_cve_records(&mut n);
        assert!(!n.ecosystems.contains_key("GIT"));
        assert_eq!(
            n.describe(),
            [
                "PyPI (requirements.txt)",
                "npm (a/package.json, b/package.json, c/package.json, …)"
            ]
        );
        n.add("Debian", "base debian@sha256:…");
        add_cve_records(&mut n);
        assert_eq!(n.describe()[1], "GIT (CVE records rating Debian findings)");
        assert_eq!(
            short_reference("127.0.0.1:5000/base/debian@sha256:0123456789abcdef0123"),
            "debian@sha256:0123456789ab…"
        );
    }
}
