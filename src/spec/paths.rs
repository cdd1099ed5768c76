//! Every path the pipeline file names, resolved once against the repository with
//! [`RepoPath`] and checked the same way by `validate`, `plan` and `run`: customize sources
//! (inside the repository, tracked at the commit, links never followed out), the Dockerfile and
//! its context, and cleanpipe's own `store` and `outputs` directories.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fsutil::{self, RepoPath, RepoTree, TrackedKind};
use crate::spec::load::LoadedPipeline;

/// Default `store` (the local OCI layout) and `outputs` (reports), relative to the pipeline file.
pub const DEFAULT_STORE: &str = ".cleanpipe/oci";
pub const DEFAULT_OUTPUTS: &str = ".cleanpipe/out";

/// The repository the pipeline belongs to (canonical).
pub fn root(p: &LoadedPipeline) -> PathBuf {
    fsutil::repo_root(&p.base_dir())
}

/// Resolve a repository path the pipeline names at `key` (a located error if refused).
pub fn repo_path(
    p: &LoadedPipeline,
    key: &[&str],
    written: &str,
    last_may_be_link: bool,
) -> Result<RepoPath> {
    RepoPath::resolve(&root(p), &p.base_dir(), written, last_may_be_link)
        .map_err(|r| p.error_at(key, r.message).with_hint(r.hint))
}

/// `store` or `outputs`: inside the repository (no links on the way, not the root, not in
/// `.git`), or outside only with `store_outside_repository: true`, and never `/`, the
/// repository itself or a directory above it. Returns the path to use (as written, joined to
/// the pipeline's directory).
pub fn own_dir(p: &LoadedPipeline, key: &str, default: &str) -> Result<PathBuf> {
    let written = match key {
        "store" => p.file.store.as_deref(),
        _ => p.file.outputs.as_deref(),
    }
    .unwrap_or(default);
    let base = p.base_dir();
    let root = root(p);
    let at = |message: String, hint: &str| p.error_at(&[key], message).with_hint(hint);
    if written.trim().is_empty() {
        return Err(at(
            format!("`{key}` is empty"),
            "omit it to use the default",
        ));
    }
    let canonical_base = std::fs::canonicalize(&base).unwrap_or_else(|_| base.clone());
    let lexical = fsutil::normalize(&canonical_base.join(written));
    let inside = lexical.starts_with(&root);
    if inside {
        // An absolute path inside the repository is checked as the repository path it names.
        let (from, rel) = if Path::new(written).is_absolute() {
            let rel = lexical.strip_prefix(&root).unwrap_or(&lexical);
            (root.clone(), rel.to_string_lossy().into_owned())
        } else {
            (base.clone(), written.to_string())
        };
        if rel.is_empty() {
            return Err(at(
                format!("`{written}` is the repository root; cleanpipe would write its files among yours"),
                "use a directory of its own, e.g. the default `.cleanpipe/oci` (and list it in `.gitignore`)",
            ));
        }
        let path =
            RepoPath::resolve(&root, &from, &rel, false).map_err(|r| at(r.message, &r.hint))?;
        if path.rel().is_empty() {
            return Err(at(
                format!("`{written}` is the repository root; cleanpipe would write its files among yours"),
                "use a directory of its own, e.g. the default `.cleanpipe/oci` (and list it in `.gitignore`)",
            ));
        }
        if path.rel() == ".git" || path.rel().starts_with(".git/") {
            return Err(at(
                format!("`{written}` is inside `.git`"),
                "use a directory of its own, e.g. the default `.cleanpipe/oci`",
            ));
        }
    } else {
        if root.starts_with(&lexical) {
            let what = if lexical.parent().is_none() {
                "the file system root".to_string()
            } else {
                format!("a directory above the repository `{}`", root.display())
            };
            return Err(at(
                format!("`{written}` is {what}; cleanpipe would write its files there"),
                "use a directory of its own, e.g. the default `.cleanpipe/oci`",
            ));
        }
        if !p.file.store_outside_repository {
            return Err(at(
                format!("`{written}` is outside the repository `{}`", root.display()),
                "keep it inside the repository, or set `store_outside_repository: true` to write there on purpose",
            ));
        }
    }
    let dir = base.join(written);
    // The files cleanpipe writes there (report.json, run-number, index.json, caches) must not be
    // links either: refused here, before a run publishes anything, not when it writes them.
    for sub in [dir.clone(), dir.join("cleanpipe-cache")] {
        let Ok(children) = std::fs::read_dir(&sub) else {
            continue;
        };
        for child in children.flatten() {
            if child.file_type().is_ok_and(|t| t.is_symlink()) {
                let target = std::fs::read_link(child.path()).unwrap_or_default();
                return Err(at(
                    format!(
                        "`{}` is a symbolic link (-> `{}`) where cleanpipe writes its files",
                        child.path().display(),
                        target.display()
                    ),
                    "cleanpipe never writes through symbolic links; remove it (was it committed?)",
                ));
            }
        }
    }
    Ok(dir)
}

/// The tracked files at HEAD, if the pipeline is in a Git repository with a commit (the source
/// stage reports the other cases).
pub fn tracked_tree(p: &LoadedPipeline) -> Result<Option<RepoTree>> {
    let root = root(p);
    if !root.join(".git").exists() {
        return Ok(None);
    }
    crate::git::tracked_tree(&root)
}

/// Check every path of the pipeline: what `run` would refuse, `validate` refuses first.
pub fn check(p: &LoadedPipeline) -> Result<()> {
    own_dir(p, "store", DEFAULT_STORE)?;
    own_dir(p, "outputs", DEFAULT_OUTPUTS)?;
    if let Some(c) = p
        .file
        .build
        .customize
        .as_ref()
        .filter(|c| !c.files.is_empty())
    {
        let tree = tracked_tree(p)?;
        for i in 0..c.files.len() {
            customize_source(p, i, tree.as_ref())?;
            customize_mode(p, i)?;
        }
    }
    if p.file.build.dockerfile.is_some() {
        dockerfile(p)?;
    }
    host_inputs(p)
}

/// Keys, scan databases and scanner binaries: a relative path names a file of the repository
/// and is confined like any other (no `..` out of it, no link on the way); an absolute path is
/// the operator's choice of a host file (a CI secret, a shared database) and is read as given.
fn host_inputs(p: &LoadedPipeline) -> Result<()> {
    let f = &p.file;
    let relative =
        |s: &str| !s.contains("://") && !s.starts_with("pkcs11:") && !Path::new(s).is_absolute();
    // (`awskms://` and the other KMS schemes contain `://`: never a repository path.)
    for (name, location) in &f.verify_base.keys {
        if relative(location) {
            repo_path(p, &["verify_base", "keys", name.as_str()], location, false)?;
        }
    }
    if let Some(key) = f.sign.key.as_deref().filter(|k| relative(k)) {
        repo_path(p, &["sign", "key"], key, false)?;
    }
    for (spec, stage) in [
        (&f.verify_base.scan, "verify_base"),
        (&f.build.scan, "build"),
    ] {
        let Some(spec) = spec else { continue };
        if let Some(db) = spec
            .db
            .as_deref()
            .filter(|d| relative(d) && *d != MANAGED_DB && !d.starts_with("oci://"))
        {
            repo_path(p, &[stage, "scan", "db"], db, false)?;
        }
        for (i, doc) in spec.vex.iter().enumerate() {
            vex_path(p, stage, i, doc)?;
        }
        if let Some(bin) = spec
            .scanner_path
            .as_deref()
            .filter(|b| relative(b) && b.contains('/'))
        {
            repo_path(p, &[stage, "scan", "scanner_path"], bin, false)?;
        }
    }
    Ok(())
}

/// What a gate's `db` says for the managed database (`cleanpipe db update`), instead of a path.
pub const MANAGED_DB: &str = "managed";

/// Where a gate's `db` (at `key`) is: `managed` names the managed database in the directory
/// `env` gives ([`crate::scan::managed::default_dir_in`]; the gate fetches the ecosystems it
/// lacks); anything else is a path, relative to the pipeline file's directory.
pub fn scan_db(
    p: &LoadedPipeline,
    key: &[&str],
    written: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf> {
    if written != MANAGED_DB {
        return Ok(p.base_dir().join(written));
    }
    let dir = crate::scan::managed::default_dir_in(env).ok_or_else(|| {
        p.error_at(
            key,
            "`db: managed` reads the database `cleanpipe db update` keeps, but neither CLEANPIPE_DB_DIR, XDG_CACHE_HOME nor HOME says where it is",
        )
        .with_hint("set CLEANPIPE_DB_DIR to an absolute directory")
    })?;
    Ok(dir)
}

/// `<stage>.scan.vex[i]`: a relative path names a file of the repository and is confined like
/// any other repository path; an absolute path is the operator's host file, read as given.
pub fn vex_path(p: &LoadedPipeline, stage: &str, i: usize, written: &str) -> Result<PathBuf> {
    if Path::new(written).is_absolute() {
        return Ok(PathBuf::from(written));
    }
    let n = i.to_string();
    Ok(repo_path(p, &[stage, "scan", "vex", n.as_str()], written, false)?.abs())
}

/// Read and check every VEX document a scan block names (`<stage>.scan.vex`), located errors
/// for each problem: a document that cannot be read or checked stops the run, never skipped.
pub fn vex_documents(
    p: &LoadedPipeline,
    stage: &str,
    spec: &crate::spec::model::ScanSpec,
) -> Result<Vec<crate::scan::vex::Document>> {
    let mut docs = Vec::new();
    for (i, written) in spec.vex.iter().enumerate() {
        let path = vex_path(p, stage, i, written)?;
        docs.push(crate::scan::vex::load(&path, written)?);
    }
    Ok(docs)
}

/// `build.customize.files[i]`: its `src` inside the repository and tracked at the commit (when
/// `tree` is known), links inside the tree kept as links, and an absolute `dest` without `..`.
pub fn customize_source(p: &LoadedPipeline, i: usize, tree: Option<&RepoTree>) -> Result<RepoPath> {
    let f = &p.file.build.customize.as_ref().expect("customize").files[i];
    let n = i.to_string();
    let key = ["build", "customize", "files", n.as_str(), "src"];
    let dest_key = ["build", "customize", "files", n.as_str(), "dest"];
    crate::build::layer::image_path(&f.dest).map_err(|e| {
        p.error_at(&dest_key, e.to_string())
            .with_hint("`dest` is an absolute path in the image, e.g. `/etc/app/config.yaml`")
    })?;
    let src = repo_path(p, &key, &f.src, true)?;
    let Some(tree) = tree else { return Ok(src) };
    let not_tracked = |what: &str| {
        p.error_at(
            &key,
            format!(
                "`{}` is {what} at commit {}; only the commit goes into the image",
                f.src,
                short(&tree.commit)
            ),
        )
        .with_hint("`git add` and commit it (check `.gitignore`), or remove it from `files`")
    };
    match tree.kind(src.rel()) {
        Some(TrackedKind::File { .. }) => {}
        Some(TrackedKind::Symlink) => check_link(p, &key, &src)?,
        Some(TrackedKind::Submodule) => {
            return Err(not_tracked(
                "a submodule (its files are not part of this commit)",
            ))
        }
        None if tree.is_dir(src.rel()) => {
            for (rel, kind) in tree.under(src.rel()) {
                if kind == TrackedKind::Symlink {
                    check_link(p, &key, &RepoPath::from_rel(&root(p), rel))?;
                }
            }
        }
        None => return Err(not_tracked("not tracked (untracked or ignored by Git)")),
    }
    Ok(src)
}

/// `build.customize.files[i].mode` as a number (checked by `validate` too).
pub fn customize_mode(p: &LoadedPipeline, i: usize) -> Result<Option<u32>> {
    let f = &p.file.build.customize.as_ref().expect("customize").files[i];
    let Some(m) = &f.mode else { return Ok(None) };
    let n = i.to_string();
    u32::from_str_radix(m.trim_start_matches("0o"), 8)
        .ok()
        .filter(|v| *v <= 0o7777)
        .map(Some)
        .ok_or_else(|| {
            p.error_at(
                &["build", "customize", "files", n.as_str(), "mode"],
                format!("`{m}` is not an octal mode"),
            )
            .with_hint("write it quoted, e.g. \"0644\"")
        })
}

/// A committed link is copied as a link only if its target stays inside the repository.
fn check_link(p: &LoadedPipeline, key: &[&str], link: &RepoPath) -> Result<()> {
    let target = std::fs::read_link(link.abs())
        .map_err(|e| p.error_at(key, format!("cannot read the link `{}`: {e}", link.rel())))?;
    if fsutil::link_target_inside(link.rel(), &target).is_none() {
        return Err(p
            .error_at(
                key,
                format!(
                    "`{}` is a symbolic link to `{}`, outside the repository",
                    link.rel(),
                    target.display()
                ),
            )
            .with_hint("cleanpipe copies links as links and only when they point inside the repository; commit the file itself instead"));
    }
    Ok(())
}

/// The Dockerfile and its context: both inside the repository, the Dockerfile inside the
/// context. Returns (context, Dockerfile path relative to the context).
pub fn dockerfile(p: &LoadedPipeline) -> Result<(RepoPath, String)> {
    let spec = p.file.build.dockerfile.as_ref().expect("dockerfile");
    let context = repo_path(p, &["build", "dockerfile", "context"], &spec.context, false)?;
    let file = repo_path(p, &["build", "dockerfile", "path"], &spec.path, false)?;
    let rel = file
        .relative_to(&context)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            p.error_at(
                &["build", "dockerfile", "path"],
                format!(
                    "`{}` is outside the build context `{}`",
                    spec.path, spec.context
                ),
            )
            .with_hint("Docker only reads the Dockerfile from inside the context; move it there or widen `context`")
        })?;
    Ok((context, rel))
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(dir: &Path, extra: &str) -> LoadedPipeline {
        let text = format!("version: 1\n{extra}build:\n  customize:\n    base: scratch\n");
        crate::spec::load::parse(
            &text,
            &dir.join("pipeline.yaml"),
            &|_| None,
            &crate::redact::Redactor::default(),
        )
        .unwrap()
    }

    #[test]
    fn own_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join(".git")).unwrap();
        let ok = |extra: &str| own_dir(&pipeline(&root, extra), "store", DEFAULT_STORE);
        assert!(ok("").is_ok());
        let inside = format!("store: {}\n", root.join("abs/store").display());
        assert!(ok(&inside).is_ok(), "absolute but inside the repository");
        for bad in [
            "store: /\n",
            "store: .\n",
            "store: .git/x\n",
            "store: ../x\n",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        assert!(ok("store: ../x\nstore_outside_repository: true\n").is_ok());
        assert!(ok("store: ..\nstore_outside_repository: true\n").is_err());
        let e = ok("store: /\nstore_outside_repository: true\n").unwrap_err();
        assert!(e.to_string().contains("file system root"), "{e}");
    }
}
