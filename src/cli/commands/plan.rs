use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::args::{OutputFormat, PlanArgs};
use crate::cli::printer::Printer;
use crate::cli::settings::{self, PipelineSettings};
use crate::error::{ExitCode, Result};
use crate::redact::Redactor;
use crate::spec::Plan;

pub fn plan(
    args: &PlanArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    if args.matrix {
        return matrix(env, printer, redactor);
    }
    let (pipeline, later) = load_for_check(&args.pipeline, env, redactor)?;
    report_given_at_run_time(&later, printer);
    let s = PipelineSettings::resolve(&pipeline)?;
    let spec = crate::spec::Spec::resolve(&pipeline, true)?;
    let plan = Plan::new(
        &spec,
        &s.name,
        &s.store.display().to_string(),
        &s.outputs.display().to_string(),
    )?;
    if args.output == OutputFormat::Json {
        printer.data(&serde_json::to_string_pretty(&plan).expect("plan serializes"));
        return Ok(ExitCode::Success);
    }
    printer.data(&render(&plan, &pipeline.path));
    Ok(ExitCode::Success)
}

/// The plan as `cleanpipe plan` shows it.
fn render(plan: &Plan, path: &Path) -> String {
    let mut out = format!("pipeline {} ({})\n", plan.name, path.display());
    for (i, stage) in plan.stages.iter().enumerate() {
        out.push_str(&format!(
            "  {}. {:<12} gate: {}\n",
            i + 1,
            stage.name,
            stage.gate
        ));
    }
    for b in &plan.bases {
        out.push_str(&format!(
            "  base {} ({}) digest: {} key: {}\n",
            b.reference,
            b.origin,
            b.digest
                .as_deref()
                .unwrap_or("NOT PINNED (the gate will fail)"),
            b.key.as_deref().unwrap_or("(none)")
        ));
    }
    out.push_str(&format!("  store: {}\n", plan.store));
    out.push_str(&format!(
        "  target: {} tags {}",
        plan.repository.as_deref().unwrap_or("the local layout"),
        plan.tags.join(", ")
    ));
    out
}

/// A pipeline file as `validate` and `plan` read it: secrets (values cleanpipe redacts) may be
/// unset, to be given at run time; see [`crate::spec::load::load_for_check`].
pub(crate) fn load_for_check(
    args: &crate::cli::args::PipelineArgs,
    env: &BTreeMap<String, String>,
    redactor: &Redactor,
) -> Result<(
    crate::spec::LoadedPipeline,
    Vec<crate::spec::load::GivenAtRunTime>,
)> {
    let path = settings::pipeline_path(args)?;
    crate::spec::load::load_for_check(&path, &|name| env.get(name).cloned(), redactor)
}

/// One status line naming the secrets a run takes from its environment that this check did
/// not have (their names and places only).
pub(crate) fn report_given_at_run_time(
    later: &[crate::spec::load::GivenAtRunTime],
    printer: &Printer,
) {
    if later.is_empty() {
        return;
    }
    let names: Vec<String> = later
        .iter()
        .map(|g| format!("{} ({})", g.name, g.at))
        .collect();
    printer.status(&format!(
        "given at run time (secrets, not set here; `cleanpipe run` needs them): {}",
        names.join(", ")
    ));
}

/// Whether a tracked path names a pipeline file for `--matrix`.
fn is_pipeline_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(name, "pipeline.yaml" | "pipeline.yml")
        || name.ends_with(".pipeline.yaml")
        || name.ends_with(".pipeline.yml")
}

/// One pipeline file of the repository, as `plan --matrix` lists it (paths relative to the
/// repository root, `/`-separated).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct MatrixEntry {
    pub name: String,
    pub pipeline: String,
    /// The pipeline file's directory (`.` for the root).
    pub directory: String,
    pub repository: Option<String>,
    /// The run's outputs directory (report.json, junit.xml, cleanpipe.env, …).
    pub outputs: String,
    /// Built from a Dockerfile (needs a Docker engine), not customized.
    #[serde(skip)]
    pub dockerfile: bool,
    /// Signed keylessly (`sign.keyless`), not with a key.
    #[serde(skip)]
    pub keyless: bool,
    /// What a run reads from its environment as secrets (see
    /// [`crate::spec::load::run_time_secrets`]), for the CI files `init` writes.
    #[serde(skip)]
    pub secrets: Vec<String>,
}

/// `git ARGS` in `dir`; a failure is a usage error (not a Git repository, most likely).
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| crate::Error::environment("cannot run git").caused_by(e))?;
    if !out.status.success() {
        return Err(crate::Error::usage(format!(
            "`git {}` failed in `{}`: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .with_hint("run it inside the Git repository that holds the pipeline files (`git init` starts one)"));
    }
    Ok(out.stdout)
}

/// The root of the Git work tree `dir` belongs to.
pub(crate) fn repository_top(dir: &Path) -> Result<PathBuf> {
    Ok(PathBuf::from(
        String::from_utf8_lossy(&git(dir, &["rev-parse", "--show-toplevel"])?).trim(),
    ))
}

/// Every tracked pipeline file below the repository root `top`, sorted.
pub(crate) fn tracked_pipeline_files(top: &Path) -> Result<Vec<String>> {
    let listed = git(top, &["ls-files", "-z"])?;
    let mut files: Vec<String> = Vec::new();
    for raw in listed.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let Ok(path) = std::str::from_utf8(raw) else {
            // Never skipped silently: it might be a pipeline file that would not be validated.
            return Err(crate::Error::usage(format!(
                "the tracked path `{}` is not UTF-8",
                String::from_utf8_lossy(raw)
            ))
            .with_hint(
                "rename it; `plan --matrix` must be able to tell whether it is a pipeline file",
            ));
        };
        if is_pipeline_file(path) {
            files.push(path.to_string());
        }
    }
    files.sort();
    Ok(files)
}

/// Each of `files` (relative to `top`) loaded and validated, one entry each; two files with
/// the same `name` are refused (their jobs would collide).
pub(crate) fn matrix_entries(
    top: &Path,
    files: &[String],
    env: &BTreeMap<String, String>,
    redactor: &Redactor,
) -> Result<Vec<MatrixEntry>> {
    let mut include = Vec::new();
    for rel in files {
        let args = crate::cli::args::PipelineArgs {
            file: Some(top.join(rel)),
        };
        let (pipeline, _) = load_for_check(&args, env, redactor)?;
        crate::spec::Spec::resolve(&pipeline, true)?;
        let s = PipelineSettings::resolve(&pipeline)?;
        let directory = Path::new(rel)
            .parent()
            .map(|d| d.display().to_string())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| ".".into());
        include.push(MatrixEntry {
            name: s.name,
            outputs: relative_to(top, &s.outputs),
            pipeline: rel.clone(),
            directory,
            repository: pipeline.file.push.repository.clone(),
            dockerfile: pipeline.file.build.dockerfile.is_some(),
            keyless: pipeline.file.sign.keyless().is_some(),
            secrets: crate::spec::load::run_time_secrets(&pipeline.text),
        });
    }
    let mut names: Vec<&str> = include.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(crate::Error::usage(format!(
            "two pipeline files are both named `{}`: matrix entries (and their jobs) would collide",
            pair[0]
        ))
        .with_hint("give each pipeline file its own top-level `name:`"));
    }
    Ok(include)
}

/// `path` relative to `top` when it lies below it (lexically), else as given.
fn relative_to(top: &Path, path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop();
            }
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    let normal: PathBuf = parts.iter().collect();
    normal
        .strip_prefix(top)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

/// `plan --matrix`: every tracked pipeline file, validated, one matrix entry each.
fn matrix(
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let top = repository_top(Path::new("."))?;
    let files = tracked_pipeline_files(&top)?;
    if files.is_empty() {
        return Err(crate::Error::usage(format!(
            "no pipeline file is tracked in `{}`",
            top.display()
        ))
        .with_hint("commit files named `pipeline.yaml` or `NAME.pipeline.yaml`, one per image"));
    }
    let include = matrix_entries(&top, &files, env, redactor)?;
    let json = serde_json::to_string(&serde_json::json!({ "include": include }))
        .expect("matrix serializes");
    if crate::run::sinks::github::on_github(env) {
        if let Some(path) = env.get("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
            crate::fsutil::append_nofollow(
                Path::new(path),
                redactor.apply(&format!("matrix={json}\n")).as_bytes(),
            )?;
        }
    }
    printer.status(&format!("{} pipeline file(s)", include.len()));
    printer.data(&json);
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    /// The plan of a Dockerfile pipeline with a pinned and an unpinned base, a scan gate and a
    /// registry target, as `cleanpipe plan` prints it.
    #[test]
    fn a_plan_shows_its_gates_bases_and_target() {
        let pipeline = "version: 1\nname: web\nverify_base:\n  keys: { team: team.pub }\n  default_key: team\n  images:\n    - ref: 127.0.0.1:5000/tools:2\nbuild:\n  dockerfile:\n    path: Dockerfile\n  scan:\n    db: osv\n    fail_on: medium\nsign:\n  key: cosign.key\npush:\n  repository: 127.0.0.1:5000/web\n  tags: [\"{{git.short_sha}}\", latest]\n".to_string();
        let dockerfile = format!("FROM 127.0.0.1:5000/base:1@{DIGEST}\nCOPY app /app\n");
        let repo = crate::testing::repository(&[
            ("pipeline.yaml", &pipeline),
            ("Dockerfile", &dockerfile),
            ("app", "app\n"),
            ("team.pub", "not read by plan\n"),
            ("osv/.keep", ""),
        ]);
        let path = repo.path().join("pipeline.yaml");
        let loaded = crate::spec::load::parse(
            &pipeline,
            &path,
            &|_| None,
            &crate::redact::Redactor::default(),
        )
        .unwrap();
        let spec = crate::spec::Spec::resolve(&loaded, true).unwrap();
        let plan = Plan::new(&spec, "web", ".cleanpipe/oci", ".cleanpipe/out").unwrap();
        // The host's platform stands for itself: the snapshot holds on any machine.
        let host = crate::oci::types::Platform::host().to_string();
        let text = render(&plan, Path::new("pipeline.yaml")).replace(&host, "HOST");
        insta::assert_snapshot!(text);
    }
}
