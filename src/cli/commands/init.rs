//! `cleanpipe init`: a starter pipeline file and the CI file that runs it, for GitHub Actions,
//! GitLab CI, Jenkins or Cloud Build.
//!
//! The files are templates under `init/`, filled in by plain `@@NAME@@` substitution (a
//! placeholder alone on a line takes a block, indented like the placeholder). Nothing is
//! written until every target has been checked: an existing file is an error naming it unless
//! `--force`, and each file is written atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::plan::{self, MatrixEntry};
use crate::cli::args::{CiKind, InitArgs};
use crate::cli::printer::Printer;
use crate::error::{Error, ExitCode, Result};
use crate::redact::Redactor;

const PIPELINE: &str = include_str!("init/pipeline.yaml");
const BUILD_DOCKERFILE: &str = include_str!("init/build-dockerfile.yaml");
const BUILD_CUSTOMIZE: &str = include_str!("init/build-customize.yaml");
const GITHUB: &str = include_str!("init/github.yml");
const GITHUB_MATRIX: &str = include_str!("init/github-matrix.yml");
const GITHUB_SETUP: &str = include_str!("init/github-setup.yml");
const GITLAB: &str = include_str!("init/gitlab-ci.yml");
const GITLAB_DEPLOY: &str = include_str!("init/gitlab-deploy.yml");
const JENKINS: &str = include_str!("init/Jenkinsfile");
const JENKINS_STAGES: &str = include_str!("init/jenkins-stages.groovy");
const JENKINS_LOGIN: &str = include_str!("init/jenkins-login.sh");
const CLOUDBUILD: &str = include_str!("init/cloudbuild.yaml");
const CLOUDBUILD_STEPS: &str = include_str!("init/cloudbuild-steps.yaml");

/// The version the generated CI files install: the one that wrote them.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the public key the deploy jobs verify with is expected (`cleanpipe keygen` at the root).
const PUBLIC_KEY: &str = "cosign.pub";

pub fn init(
    args: &InitArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let dir = directory(&args.dir)?;
    let top = plan::repository_top(&dir)?;
    let tracked = plan::tracked_pipeline_files(&top)?;
    let (ci, detected) = match args.ci {
        Some(ci) => (ci, None),
        None => detect(&top),
    };
    if let Some(why) = &detected {
        printer.status(&format!("CI: {} ({why}; `--ci` chooses)", ci_name(ci)));
    }
    let mut files = Vec::new();
    let entries = if tracked.is_empty() {
        let starter = starter(&top, &dir)?;
        let entry = starter.entry.clone();
        files.push(starter.file);
        vec![entry]
    } else {
        printer.status(&format!(
            "{} pipeline file(s) already tracked ({}): writing only the CI file",
            tracked.len(),
            tracked.join(", ")
        ));
        plan::matrix_entries(&top, &tracked, env, redactor)?
    };
    files.push(ci_file(ci, &entries));
    check_targets(&top, &files, args.force)?;
    for f in &files {
        crate::fsutil::write_atomic(&top.join(&f.path), f.text.as_bytes())?;
    }
    for f in &files {
        printer.status(&format!("wrote {}", f.path));
        printer.data(&top.join(&f.path).display().to_string());
    }
    printer.status(&next_steps(ci, &entries));
    Ok(ExitCode::Success)
}

/// A file to write, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    path: String,
    text: String,
}

/// `--dir`, which must be an existing directory.
fn directory(dir: &Path) -> Result<PathBuf> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => std::fs::canonicalize(dir)
            .map_err(|e| Error::io("cannot resolve the directory", dir, e)),
        Ok(_) => Err(
            Error::usage(format!("`{}` is not a directory", dir.display())).with_hint(
                "`--dir` names the directory (in a Git repository) to write the pipeline file in",
            ),
        ),
        Err(e) => Err(
            Error::usage(format!("`{}` cannot be used: {e}", dir.display()))
                .with_hint("create the directory first, or pass an existing one with `--dir`"),
        ),
    }
}

/// The CI system a repository already uses, by the files it has; GitHub when none.
/// A CI's own configuration file outranks `.github/`, which often holds only templates.
fn detect(top: &Path) -> (CiKind, Option<String>) {
    let signs = [
        (CiKind::Gitlab, ".gitlab-ci.yml"),
        (CiKind::Jenkins, "Jenkinsfile"),
        (CiKind::Cloudbuild, "cloudbuild.yaml"),
        (CiKind::Github, ".github"),
    ];
    let found: Vec<(CiKind, &str)> = signs
        .into_iter()
        .filter(|(_, f)| std::fs::symlink_metadata(top.join(f)).is_ok())
        .collect();
    match found.as_slice() {
        [] => (CiKind::Github, Some("no CI file found: the default".into())),
        [(ci, f), rest @ ..] => {
            let mut why = format!("found `{f}`");
            if !rest.is_empty() {
                let others: Vec<String> = rest.iter().map(|(_, f)| format!("`{f}`")).collect();
                why.push_str(&format!("; also found {}", others.join(", ")));
            }
            (*ci, Some(why))
        }
    }
}

fn ci_name(ci: CiKind) -> &'static str {
    match ci {
        CiKind::Github => "github",
        CiKind::Gitlab => "gitlab",
        CiKind::Jenkins => "jenkins",
        CiKind::Cloudbuild => "cloudbuild",
    }
}

/// Where each CI reads its configuration, relative to the repository root.
fn ci_path(ci: CiKind) -> &'static str {
    match ci {
        CiKind::Github => ".github/workflows/cleanpipe.yml",
        CiKind::Gitlab => ".gitlab-ci.yml",
        CiKind::Jenkins => "Jenkinsfile",
        CiKind::Cloudbuild => "cloudbuild.yaml",
    }
}

/// The starter pipeline file and the entry it makes.
struct Starter {
    file: Target,
    entry: MatrixEntry,
}

/// `pipeline.yaml` in `dir`: a Dockerfile build when `dir` has a Dockerfile, else customize.
/// Checked the way `cleanpipe validate` checks it before anything is written.
fn starter(top: &Path, dir: &Path) -> Result<Starter> {
    let dockerfile = dir.join("Dockerfile").is_file();
    let name = image_name(dir);
    let (build, bases) = if dockerfile {
        (
            BUILD_DOCKERFILE,
            "# Every base image (each FROM) must be pinned by digest (`FROM repo:tag@sha256:<hex>`)\n# and signed: the verify-base gate checks it with this key and fails the run until then.",
        )
    } else {
        (
            BUILD_CUSTOMIZE,
            "# A base other than scratch must be pinned by digest and signed: the verify-base gate\n# checks it with this key.",
        )
    };
    let repository = format!("registry.example.com/{name}");
    let text = render(
        PIPELINE,
        &[
            ("NAME", &name),
            ("BUILD", build.trim_end()),
            ("BASES", bases),
            ("REPOSITORY", &repository),
        ],
    );
    let path = dir.join("pipeline.yaml");
    let loaded = crate::pipeline::load::parse(&text, &path, &|_| None, &Redactor::default())?;
    crate::pipeline::plan::check_semantics(&loaded)?;
    let rel_dir = relative(top, dir);
    let join = |rel: &str| {
        if rel_dir == "." {
            rel.to_string()
        } else {
            format!("{rel_dir}/{rel}")
        }
    };
    Ok(Starter {
        file: Target {
            path: join("pipeline.yaml"),
            text,
        },
        entry: MatrixEntry {
            name,
            pipeline: join("pipeline.yaml"),
            directory: rel_dir.clone(),
            repository: Some(repository),
            outputs: join(crate::cli::settings::DEFAULT_OUTPUTS),
            dockerfile,
        },
    })
}

/// `dir` relative to the repository root (`.` for the root itself).
fn relative(top: &Path, dir: &Path) -> String {
    let top = std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    match dir.strip_prefix(&top) {
        Ok(r) if !r.as_os_str().is_empty() => r.display().to_string(),
        _ => ".".into(),
    }
}

/// A repository-path component from the directory's name: lowercase letters, digits, `.`,
/// `_` and `-`, starting with a letter or digit.
fn image_name(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "app".into()
    } else {
        trimmed.to_string()
    }
}

/// The CI file for `entries`: one pipeline, or the matrix form for several.
fn ci_file(ci: CiKind, entries: &[MatrixEntry]) -> Target {
    let text = match ci {
        CiKind::Github => github(entries),
        CiKind::Gitlab => gitlab(entries),
        CiKind::Jenkins => jenkins(entries),
        CiKind::Cloudbuild => cloudbuild(entries),
    };
    Target {
        path: ci_path(ci).into(),
        text,
    }
}

fn github(entries: &[MatrixEntry]) -> String {
    let setup = GITHUB_SETUP.trim_end();
    match entries {
        [one] => render(
            GITHUB,
            &[
                ("VERSION", VERSION),
                ("SETUP", setup),
                ("PIPELINE", &yaml(&one.pipeline)),
                ("OUTPUTS", &yaml(&format!("{}/", one.outputs))),
            ],
        ),
        _ => render(GITHUB_MATRIX, &[("VERSION", VERSION), ("SETUP", setup)]),
    }
}

fn gitlab(entries: &[MatrixEntry]) -> String {
    let mut build = String::new();
    let mut variables = String::new();
    if entries.iter().any(|e| e.dockerfile) {
        build.push_str("# Dockerfile builds: a Docker engine as a service (the runner must allow privileged\n# containers for docker:dind).\nservices:\n  - docker:27-dind\n");
        variables.push_str("  DOCKER_HOST: tcp://docker:2375\n  DOCKER_TLS_CERTDIR: \"\"\n");
    }
    let pair = |e: &MatrixEntry, indent: &str| {
        format!(
            "{indent}PIPELINE: {}\n{indent}OUTPUTS: {}\n",
            yaml(&e.pipeline),
            yaml(&e.outputs)
        )
    };
    let deploy = |job: &str, needs: &str, e: &MatrixEntry| {
        render(
            GITLAB_DEPLOY,
            &[
                ("JOB", job),
                ("NEEDS", needs.trim_end()),
                ("OUTPUTS", &yaml(&e.outputs)),
            ],
        )
    };
    let (global, deploys) = match entries {
        [one] => {
            variables.push_str(&pair(one, "  "));
            (
                "IMAGE_REPOSITORY: $CI_REGISTRY_IMAGE".to_string(),
                deploy("deploy", "- job: build\n  artifacts: true", one),
            )
        }
        _ => {
            build.push_str("parallel:\n  matrix:\n");
            let mut deploys = String::new();
            for e in entries {
                let cell = pair(e, "      ");
                build.push_str(&format!("    - {}", &cell[6..]));
                let needs = format!(
                    "- job: build\n  artifacts: true\n  parallel:\n    matrix:\n      - {}",
                    pair(e, "        ")[8..].trim_end()
                );
                deploys.push_str(&deploy(&yaml(&format!("deploy: {}", e.name)), &needs, e));
            }
            (String::new(), deploys)
        }
    };
    if !variables.is_empty() {
        build = format!("variables:\n{variables}{build}");
    }
    render(
        GITLAB,
        &[
            ("VERSION", VERSION),
            ("VARIABLES", &global),
            ("BUILD", build.trim_end()),
            ("DEPLOY", deploys.trim_end()),
        ],
    )
}

fn jenkins(entries: &[MatrixEntry]) -> String {
    let login = JENKINS_LOGIN.trim_end();
    let stages = |e: &MatrixEntry, prefix: &str| {
        render(
            JENKINS_STAGES,
            &[
                ("BUILD_STAGE", &groovy(&format!("{prefix}build"))),
                ("DEPLOY_STAGE", &groovy(&format!("{prefix}deploy"))),
                ("PIPELINE", &groovy(&e.pipeline)),
                ("OUTPUTS", &groovy(&e.outputs)),
                ("STASH", &groovy(&format!("cleanpipe-{}", e.name))),
                ("LOGIN", login),
            ],
        )
    };
    let (environment, body) = match entries {
        [one] => (
            format!(
                "IMAGE_REPOSITORY = \"${{REGISTRY}}/{}\"",
                one.name
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('$', "\\$")
            ),
            stages(one, ""),
        ),
        _ => {
            let mut branches = String::new();
            for e in entries {
                branches.push_str(&format!(
                    "stage({}) {{\n    stages {{\n{}\n    }}\n}}\n",
                    groovy(&e.name),
                    indent(stages(e, &format!("{}: ", e.name)).trim_end(), "        ")
                ));
            }
            (
                String::new(),
                format!(
                    "stage('cleanpipe') {{\n    parallel {{\n{}\n    }}\n}}",
                    indent(branches.trim_end(), "        ")
                ),
            )
        }
    };
    render(
        JENKINS,
        &[
            ("VERSION", VERSION),
            ("ENVIRONMENT", &environment),
            ("STAGES", body.trim_end()),
        ],
    )
}

fn cloudbuild(entries: &[MatrixEntry]) -> String {
    let single = entries.len() == 1;
    let mut steps = String::new();
    let mut artifacts = String::new();
    for e in entries {
        let suffix = if single {
            String::new()
        } else {
            format!("-{}", e.name)
        };
        steps.push_str(&render(
            CLOUDBUILD_STEPS,
            &[
                ("RUN_ID", &format!("cleanpipe-run{suffix}")),
                ("VERIFY_ID", &format!("verify-and-deploy{suffix}")),
                ("PIPELINE_ENV", &yaml(&format!("PIPELINE={}", e.pipeline))),
                ("OUTPUTS_ENV", &yaml(&format!("OUTPUTS={}", e.outputs))),
                (
                    "ENV",
                    if single {
                        "- IMAGE_REPOSITORY=${_IMAGE_REPOSITORY}"
                    } else {
                        ""
                    },
                ),
            ],
        ));
        artifacts.push_str(&format!("- {}\n", yaml(&format!("{}/*", e.outputs))));
    }
    // Cloud Build refuses a substitution that no step uses: only one pipeline takes it.
    let image_repository = if single {
        format!(
            "_IMAGE_REPOSITORY: {}",
            yaml(&format!(
                "${{LOCATION}}-docker.pkg.dev/${{PROJECT_ID}}/containers/{}",
                entries[0].name
            ))
        )
    } else {
        String::new()
    };
    render(
        CLOUDBUILD,
        &[
            ("VERSION", VERSION),
            ("STEPS", steps.trim_end()),
            ("IMAGE_REPOSITORY", &image_repository),
            ("ARTIFACTS", artifacts.trim_end()),
        ],
    )
}

/// Fill `@@KEY@@` placeholders. A placeholder alone on a line is replaced by its value's lines,
/// each indented like the placeholder (an empty value drops the line).
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for line in template.lines() {
        let trimmed = line.trim_start();
        let block = vars
            .iter()
            .find(|(k, _)| trimmed.len() == k.len() + 4 && trimmed == format!("@@{k}@@"));
        if let Some((_, value)) = block {
            let pad = &line[..line.len() - trimmed.len()];
            if !value.is_empty() {
                out.push_str(&indent(value, pad));
                out.push('\n');
            }
            continue;
        }
        let mut line = line.to_string();
        for (k, v) in vars {
            line = line.replace(&format!("@@{k}@@"), v);
        }
        out.push_str(&line);
        out.push('\n');
    }
    debug_assert!(!out.contains("@@"), "an unfilled placeholder:\n{out}");
    out
}

/// Every non-empty line of `text` prefixed with `pad`.
fn indent(text: &str, pad: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset of it).
fn yaml(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A Groovy single-quoted string (no interpolation).
fn groovy(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Refuse, before writing anything, when a target exists (unless `force`) or is reached
/// through a symbolic link; every such file is named.
fn check_targets(top: &Path, files: &[Target], force: bool) -> Result<()> {
    let mut existing = Vec::new();
    for f in files {
        let path = top.join(&f.path);
        crate::fsutil::check_write_target(&path)?;
        if std::fs::symlink_metadata(&path).is_ok() {
            existing.push(format!("`{}`", f.path));
        }
    }
    if existing.is_empty() || force {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{} already exist{}; nothing was written",
        existing.join(", "),
        if existing.len() == 1 { "s" } else { "" }
    ))
    .with_hint("pass `--force` to overwrite them, or move them away first"))
}

/// What to do before the first CI run: the secrets each CI needs, and the approval setup.
fn next_steps(ci: CiKind, entries: &[MatrixEntry]) -> String {
    let mut steps = vec![
        format!("run `cleanpipe keygen` at the repository root and commit `{PUBLIC_KEY}` (the deploy jobs verify with it); never commit `cosign.key`"),
    ];
    steps.extend(
        match ci {
            CiKind::Github => vec![
                "create the repository secrets COSIGN_PRIVATE_KEY (the contents of `cosign.key`: `gh secret set COSIGN_PRIVATE_KEY < cosign.key`) and COSIGN_PASSWORD".to_string(),
                "give the `production` environment required reviewers (Settings > Environments): the deploy job waits for their approval".into(),
                "images go to ghcr.io with GITHUB_TOKEN; for another registry, change the login step and `push.repository`".into(),
            ],
            CiKind::Gitlab => vec![
                "create the CI/CD variables COSIGN_PRIVATE_KEY_FILE (type File, protected: `cosign.key`) and COSIGN_PASSWORD (masked, protected)".into(),
                "images go to the project's container registry ($CI_REGISTRY_IMAGE); protect the `production` environment to say who may start the manual deploy".into(),
            ],
            CiKind::Jenkins => vec![
                "create the credentials `cosign-private-key` (Secret file: `cosign.key`), `cosign-password` (Secret text) and `registry-credentials` (Username with password)".into(),
                "set REGISTRY in the Jenkinsfile to your registry; the agents need cargo (and Docker for Dockerfile builds)".into(),
            ],
            CiKind::Cloudbuild => vec![
                "create the secrets: `gcloud secrets create cosign-private-key --data-file=cosign.key` and `cosign-password`, readable by the build's service account".into(),
                "create an Artifact Registry repository `containers` (or change _IMAGE_REPOSITORY), and the trigger with `--require-approval` for a manual approval".into(),
            ],
        },
    );
    match entries {
        [one] => steps.push(format!(
            "check the pipeline with `cleanpipe validate -f {0}` and `cleanpipe plan -f {0}`, then commit and push",
            one.pipeline
        )),
        _ => steps.push(
            "check the pipelines with `cleanpipe plan --matrix`, then commit and push".into(),
        ),
    }
    steps.push("replace the `echo deploying …` line of the deploy job with your deploy".into());
    let mut out = String::from("\nnext steps:");
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!("\n  {}. {s}", i + 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, dockerfile: bool) -> MatrixEntry {
        MatrixEntry {
            name: name.into(),
            pipeline: format!("{name}/pipeline.yaml"),
            directory: name.into(),
            repository: None,
            outputs: format!("{name}/.cleanpipe/out"),
            dockerfile,
        }
    }

    #[test]
    fn render_fills_inline_and_block_placeholders() {
        let out = render(
            "a: @@X@@\n  @@BLOCK@@\n  @@EMPTY@@\nend\n",
            &[("X", "1"), ("BLOCK", "b: 2\n\nc: 3"), ("EMPTY", "")],
        );
        assert_eq!(out, "a: 1\n  b: 2\n\n  c: 3\nend\n");
    }

    #[test]
    fn every_template_is_filled_completely() {
        for entries in [
            vec![entry("api", true)],
            vec![entry("api", false), entry("worker", true)],
        ] {
            for ci in [
                CiKind::Github,
                CiKind::Gitlab,
                CiKind::Jenkins,
                CiKind::Cloudbuild,
            ] {
                let f = ci_file(ci, &entries);
                assert!(!f.text.contains("@@"), "{ci:?}:\n{}", f.text);
            }
        }
    }

    #[test]
    fn quoting_keeps_values_literal() {
        assert_eq!(groovy("it's a\\b"), "'it\\'s a\\\\b'");
        assert_eq!(yaml("a: \"b\""), "\"a: \\\"b\\\"\"");
    }

    #[test]
    fn image_names_are_repository_components() {
        assert_eq!(image_name(Path::new("/x/My App")), "my-app");
        assert_eq!(image_name(Path::new("/x/.tmpAb_1")), "tmpab_1");
        assert_eq!(image_name(Path::new("/x/---")), "app");
    }

    #[test]
    fn detection_prefers_a_ci_file_over_dot_github() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect(dir.path()).0, CiKind::Github);
        std::fs::create_dir(dir.path().join(".github")).unwrap();
        assert_eq!(detect(dir.path()).0, CiKind::Github);
        std::fs::write(dir.path().join("Jenkinsfile"), "").unwrap();
        let (ci, why) = detect(dir.path());
        assert_eq!(ci, CiKind::Jenkins);
        assert!(why.unwrap().contains("also found `.github`"));
    }
}
