//! `cleanpipe init`: a starter pipeline file and the CI file that runs it, for GitHub Actions,
//! GitLab CI, Jenkins or Cloud Build.
//!
//! The files are templates under `init/`, filled in by one pass of `@@NAME@@` substitution (a
//! placeholder alone on a line takes a block, indented like the placeholder; a value is never
//! scanned for placeholders itself). Every value from the repository (paths, names) goes in
//! through the one quoting helper of its file's format ([`quote`]), and identifiers derived from
//! a pipeline's `name:` (job, step and stage ids, artifact and repository names) are reduced to
//! `[a-z0-9-]` ([`identifiers`]): a name cannot add a step, a stage or an expression. Nothing is
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
const GITHUB_DB: &str = include_str!("init/github-db.yml");
const GITHUB_LOGIN: &str = include_str!("init/github-login.yml");
const SIGN_KEY: &str = include_str!("init/sign-key.yaml");
const SIGN_KEYLESS: &str = include_str!("init/sign-keyless.yaml");
const VERIFY_BASE_KEY: &str = include_str!("init/verify-base-key.yaml");
const VERIFY_BASE_KEYLESS: &str = include_str!("init/verify-base-keyless.yaml");
const POLICY: &str = include_str!("init/policy.yaml");
const GITLAB: &str = include_str!("init/gitlab-ci.yml");
const GITLAB_DEPLOY: &str = include_str!("init/gitlab-deploy.yml");
const JENKINS: &str = include_str!("init/Jenkinsfile");
const JENKINS_STAGES: &str = include_str!("init/jenkins-stages.groovy");
const JENKINS_LOGIN: &str = include_str!("init/jenkins-login.sh");
const CLOUDBUILD: &str = include_str!("init/cloudbuild.yaml");
const CLOUDBUILD_STEPS: &str = include_str!("init/cloudbuild-steps.yaml");

/// The Git tag the generated CI files install (`cargo install --git … --tag`): the version
/// that wrote them.
const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// Where the public key the deploy jobs verify with is expected (committed at the root).
const PUBLIC_KEY: &str = "cosign.pub";

/// The deploy policy a keyless setup verifies with, at the repository root.
const POLICY_FILE: &str = "policy.yaml";

/// What `init` adds to the repository's `.gitignore`: cleanpipe's store and outputs (and
/// anything else under `.cleanpipe/`), and private keys.
const IGNORED: &[&str] = &[".cleanpipe/", "*.key", "cosign.key"];

/// How the pipelines sign: with a key from a CI secret, or keylessly with the CI job's OIDC
/// identity (GitHub Actions and GitLab CI, where cleanpipe reads the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    Key,
    Keyless,
}

/// Whether cleanpipe reads `ci`'s OIDC token (keyless signing there needs no setup).
fn keyless_capable(ci: CiKind) -> bool {
    matches!(ci, CiKind::Github | CiKind::Gitlab)
}

/// The signing `init --key` / `init --keyless` asks for, if any.
fn requested(args: &InitArgs) -> Option<Signing> {
    match (args.key, args.keyless) {
        (true, _) => Some(Signing::Key),
        (_, true) => Some(Signing::Keyless),
        _ => None,
    }
}

/// The signing of a new starter: as asked with `--key`/`--keyless`; else asked on a terminal;
/// else keyless where the CI gives cleanpipe an OIDC token (GitHub Actions, GitLab CI), a key
/// elsewhere (Jenkins, Cloud Build).
fn choose_signing(ci: CiKind, requested: Option<Signing>, printer: &Printer) -> Result<Signing> {
    use std::io::IsTerminal as _;
    match requested {
        Some(Signing::Keyless) if !keyless_capable(ci) => {
            return Err(Error::usage(format!(
                "`--keyless`: cleanpipe reads no OIDC token on {}",
                ci_name(ci)
            ))
            .with_hint("sign with a key there (`--key`), or use GitHub Actions or GitLab CI for keyless signing"))
        }
        Some(s) => return Ok(s),
        None => {}
    }
    if !keyless_capable(ci) {
        return Ok(Signing::Key);
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        printer.status("signing: keyless (the CI job's OIDC identity; no terminal to ask)");
        return Ok(Signing::Keyless);
    }
    let mut question = "Sign keylessly with the CI job's OIDC identity (no key to keep), or with a key? [keyless/key] (keyless): ";
    loop {
        {
            use std::io::Write as _;
            let mut err = std::io::stderr().lock();
            // A prompt that cannot be shown still has its answer read (the default on EOF).
            let _ = err.write_all(question.as_bytes());
            let _ = err.flush();
        }
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Error::environment("cannot read the answer").caused_by(e))?;
        match answer.trim().to_ascii_lowercase().as_str() {
            "" | "keyless" | "l" => return Ok(Signing::Keyless),
            "key" | "k" => return Ok(Signing::Key),
            _ => question = "answer `keyless` or `key`: ",
        }
    }
}

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
        let signing = choose_signing(ci, requested(args), printer)?;
        let starter = starter(&top, &dir, signing)?;
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
    let signing = if entries.iter().all(|e| e.keyless) {
        Signing::Keyless
    } else {
        Signing::Key
    };
    if signing == Signing::Keyless && !keyless_capable(ci) {
        printer.status(&format!(
            "warning: the pipeline signs keylessly, and cleanpipe reads no OIDC token on {}: give one in SIGSTORE_ID_TOKEN, or sign with a key",
            ci_name(ci)
        ));
    }
    let signer = signer(ci, &top);
    if signing == Signing::Keyless {
        files.push(policy_file(&signer));
    }
    files.push(ci_file(ci, &entries, signing));
    check_targets(&top, &files, args.force)?;
    let ignore = gitignore(&top)?;
    for f in &files {
        let path = top.join(&f.path);
        crate::fsutil::write_atomic(&path, f.text.as_bytes())?;
        readable(&path, 0o644)?;
    }
    if let Some((text, mode)) = &ignore {
        let path = top.join(".gitignore");
        crate::fsutil::write_atomic(&path, text.as_bytes())?;
        readable(&path, *mode)?;
    }
    for f in &files {
        printer.status(&format!("wrote {}", f.path));
        printer.data(&top.join(&f.path).display().to_string());
    }
    if ignore.is_some() {
        printer.status(&format!(
            "added to .gitignore: cleanpipe's store and outputs, and private keys ({})",
            IGNORED.join(", ")
        ));
    }
    printer.status(&next_steps(ci, &entries, signing, &signer));
    Ok(ExitCode::Success)
}

/// Set a written file's permission bits (a file for people: 0644; a `.gitignore` keeps its own).
fn readable(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("cannot set the permissions of", path, e))
}

/// The repository's `.gitignore` with [`IGNORED`]'s lines added where missing (the user's
/// lines kept as they are, none twice), and its mode; `None` when every line is there.
fn gitignore(top: &Path) -> Result<Option<(String, u32)>> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = top.join(".gitignore");
    crate::fsutil::check_write_target(&path)?;
    let (mut text, mode) = match std::fs::read(&path) {
        Ok(bytes) => {
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(0o644);
            let text = String::from_utf8(bytes).map_err(|_| {
                Error::usage(format!("`{}` is not UTF-8 text", path.display()))
                    .with_hint("fix or remove it; init adds lines to it")
            })?;
            (text, mode)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), 0o644),
        Err(e) => return Err(Error::io("cannot read", &path, e)),
    };
    let present: Vec<&str> = text.lines().map(str::trim).collect();
    let missing: Vec<&str> = IGNORED
        .iter()
        .copied()
        .filter(|l| !present.contains(l))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(
        "# cleanpipe: its store and outputs, and private keys (added by `cleanpipe init`)\n",
    );
    for l in missing {
        text.push_str(l);
        text.push('\n');
    }
    Ok(Some((text, mode)))
}

/// The keyless signer the deploy policy trusts: the CI workflow's certificate identity and
/// OIDC issuer, for the repository `origin` names (a placeholder when it names none).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signer {
    identity: String,
    issuer: String,
    /// False when the repository could not be told from `origin`: the identity holds
    /// `OWNER/REPO`, to be edited.
    known: bool,
}

fn signer(ci: CiKind, top: &Path) -> Signer {
    let origin = std::process::Command::new("git")
        .args(["remote", "get-url", "origin"])
        .current_dir(top)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let parsed = origin.as_deref().and_then(host_and_path);
    match ci {
        CiKind::Gitlab => {
            let (host, path, known) = match parsed {
                Some((h, p)) if h != "github.com" => (h, p, true),
                _ => ("gitlab.com".to_string(), "GROUP/PROJECT".to_string(), false),
            };
            Signer {
                identity: format!("https://{host}/{path}//.gitlab-ci.yml@refs/heads/main"),
                issuer: format!("https://{host}"),
                known,
            }
        }
        _ => {
            let (path, known) = match parsed {
                Some((h, p)) if h == "github.com" => (p, true),
                _ => ("OWNER/REPO".to_string(), false),
            };
            Signer {
                identity: format!(
                    "https://github.com/{path}/{}@refs/heads/main",
                    ci_path(CiKind::Github)
                ),
                issuer: "https://token.actions.githubusercontent.com".into(),
                known,
            }
        }
    }
}

/// `host` and `owner/repo` of a Git remote URL (https, ssh or scp-like), without `.git`;
/// `None` for anything else (a local path, a URL with odd characters).
fn host_and_path(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.strip_prefix("ssh://"))
        .map(|r| {
            r.split_once('/')
                .map(|(h, p)| (h.to_string(), p.to_string()))
        })
        .unwrap_or_else(|| {
            // scp-like: git@host:owner/repo.git
            url.split_once(':')
                .filter(|(h, _)| !h.contains('/'))
                .map(|(h, p)| (h.to_string(), p.to_string()))
        })?;
    let (host, path) = rest;
    let host = host
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let fine = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    let parts: Vec<&str> = path.split('/').collect();
    if !fine(&host) || parts.len() < 2 || !parts.iter().all(|p| fine(p) && *p != "..") {
        return None;
    }
    Some((host, path.to_string()))
}

/// `policy.yaml`: trust the CI workflow's keyless identity.
fn policy_file(signer: &Signer) -> Target {
    let identity = format!(
        "- identity: {}\n  issuer: {}",
        quote::yaml(&signer.identity),
        quote::yaml(&signer.issuer)
    );
    let identity = if signer.known {
        identity
    } else {
        format!("# Replace the placeholder with your repository's path.\n{identity}")
    };
    Target {
        path: POLICY_FILE.into(),
        text: render(POLICY, &[("SELF", POLICY_FILE), ("IDENTITY", &identity)]),
    }
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
fn starter(top: &Path, dir: &Path, signing: Signing) -> Result<Starter> {
    let dockerfile = dir.join("Dockerfile").is_file();
    let name = image_name(dir);
    let (build, bases) = if dockerfile {
        (
            BUILD_DOCKERFILE,
            "# Every base image (each FROM) must be pinned by digest (`FROM repo:tag@sha256:<hex>`)\n# and signed: the verify-base gate checks it with a key or identity below and fails the\n# run until then.",
        )
    } else {
        (
            BUILD_CUSTOMIZE,
            "# A base other than scratch must be pinned by digest and signed: the verify-base gate\n# checks it with a key or identity below.",
        )
    };
    let (sign, verify_base) = match signing {
        Signing::Key => (SIGN_KEY, VERIFY_BASE_KEY),
        Signing::Keyless => (SIGN_KEYLESS, VERIFY_BASE_KEYLESS),
    };
    let text = render(
        PIPELINE,
        &[
            ("NAME", &quote::yaml_readable(&name)),
            ("BUILD", build.trim_end()),
            ("BASES", bases),
            ("VERIFY_BASE", verify_base.trim_end()),
            ("SIGN", sign.trim_end()),
        ],
    );
    let path = dir.join("pipeline.yaml");
    let loaded = crate::spec::load::parse(&text, &path, &|_| None, &Redactor::default())?;
    crate::spec::Spec::resolve(&loaded, true)?;
    let rel_dir = relative(top, dir);
    let join = |rel: &str| {
        if rel_dir == "." {
            rel.to_string()
        } else {
            format!("{rel_dir}/{rel}")
        }
    };
    let secrets = crate::spec::load::run_time_secrets(&text);
    Ok(Starter {
        file: Target {
            path: join("pipeline.yaml"),
            text,
        },
        entry: MatrixEntry {
            name,
            pipeline: join("pipeline.yaml"),
            directory: rel_dir.clone(),
            repository: None,
            outputs: join(crate::cli::settings::DEFAULT_OUTPUTS),
            dockerfile,
            keyless: signing == Signing::Keyless,
            secrets,
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
fn ci_file(ci: CiKind, entries: &[MatrixEntry], signing: Signing) -> Target {
    let ids = identifiers(entries);
    let jobs: Vec<Job> = entries
        .iter()
        .zip(ids)
        .map(|(entry, id)| Job { entry, id })
        .collect();
    let ctx = Ctx {
        verify: verify_args(signing),
        secrets: secrets(entries),
    };
    let text = match ci {
        CiKind::Github => github(&jobs, &ctx),
        CiKind::Gitlab => gitlab(&jobs, &ctx),
        CiKind::Jenkins => jenkins(&jobs, &ctx),
        CiKind::Cloudbuild => cloudbuild(&jobs, &ctx),
    };
    Target {
        path: ci_path(ci).into(),
        text,
    }
}

/// What every job of a CI file shares.
struct Ctx {
    /// How the deploy job's `cleanpipe verify` trusts the signer (shell words, quoted).
    verify: String,
    /// The variables the runs read as secrets (every pipeline's), sorted.
    secrets: Vec<String>,
}

/// The `verify` arguments that trust the signer: the committed public key, or the policy
/// file's identities.
fn verify_args(signing: Signing) -> String {
    match signing {
        Signing::Key => format!("--key {}", quote::shell(PUBLIC_KEY)),
        Signing::Keyless => format!("--policy {}", quote::shell(POLICY_FILE)),
    }
}

/// The union of the entries' run-time secrets, sorted.
fn secrets(entries: &[MatrixEntry]) -> Vec<String> {
    let mut all: Vec<String> = entries.iter().flat_map(|e| e.secrets.clone()).collect();
    all.sort();
    all.dedup();
    all
}

/// The key's variable when the runs sign with a key held in COSIGN_PRIVATE_KEY (CI systems
/// that keep it as a file pass it through one).
const KEY_VARIABLE: &str = "COSIGN_PRIVATE_KEY";

/// A secret's name in a CI's store (`WEBHOOK_SECRET` → `webhook-secret`).
fn secret_id(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// One pipeline of the CI file and the identifier its jobs, steps and stages are named by.
struct Job<'a> {
    entry: &'a MatrixEntry,
    id: String,
}

/// An identifier for each entry, from its `name:`: `[a-z0-9-]`, at most 63 characters, never
/// empty. A name that already is one keeps it; two names that would give the same one (`API`
/// and `api`) are told apart by a digest of the name, on each that had to change.
fn identifiers(entries: &[MatrixEntry]) -> Vec<String> {
    const MAX: usize = 63;
    let base = |name: &str| -> String {
        let mut id = String::new();
        for c in name.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                id.push(c);
            } else if !id.ends_with('-') {
                id.push('-');
            }
        }
        let mut id = id.trim_matches('-').to_string();
        id.truncate(MAX);
        let id = id.trim_end_matches('-');
        if id.is_empty() {
            "pipeline".into()
        } else {
            id.to_string()
        }
    };
    let bases: Vec<String> = entries.iter().map(|e| base(&e.name)).collect();
    let mut ids: Vec<String> = Vec::new();
    for (e, id) in entries.iter().zip(&bases) {
        let shared = bases.iter().filter(|b| *b == id).count() > 1;
        let mut id = if shared && e.name != *id {
            use sha2::Digest as _;
            let digest = hex::encode(sha2::Sha256::digest(e.name.as_bytes()));
            let mut stem = id.clone();
            stem.truncate(MAX - 9);
            format!("{}-{}", stem.trim_end_matches('-'), &digest[..8])
        } else {
            id.clone()
        };
        // Never two alike, however unlikely the names that would make them.
        let stem = id.clone();
        let mut n = 2;
        while ids.contains(&id) {
            id = format!("{stem}-{n}");
            n += 1;
        }
        ids.push(id);
    }
    ids
}

fn github(jobs: &[Job], ctx: &Ctx) -> String {
    let setup = GITHUB_SETUP.trim_end();
    let login = GITHUB_LOGIN.trim_end();
    // Secret names are variable names (letters, digits, `_`): safe in an expression.
    let secrets: Vec<String> = ctx
        .secrets
        .iter()
        .map(|n| format!("{n}: ${{{{ secrets.{n} }}}}"))
        .collect();
    let secrets = secrets.join("\n");
    match jobs {
        [one] => render(
            GITHUB,
            &[
                ("VERSION", VERSION),
                ("SETUP", setup),
                ("DB", GITHUB_DB.trim_end()),
                ("LOGIN", login),
                ("SECRETS", &secrets),
                ("VERIFY", &ctx.verify),
                ("PIPELINE", &quote::github(&one.entry.pipeline)),
                (
                    "OUTPUTS",
                    &quote::github(&format!("{}/", one.entry.outputs)),
                ),
            ],
        ),
        _ => render(
            GITHUB_MATRIX,
            &[
                ("VERSION", VERSION),
                ("SETUP", setup),
                ("DB", GITHUB_DB.trim_end()),
                ("LOGIN", login),
                ("SECRETS", &secrets),
                ("VERIFY", &ctx.verify),
            ],
        ),
    }
}

fn gitlab(jobs: &[Job], ctx: &Ctx) -> String {
    let mut build = String::new();
    let mut variables = String::new();
    if jobs.iter().any(|j| j.entry.dockerfile) {
        build.push_str("# Dockerfile builds: a Docker engine as a service (the runner must allow privileged\n# containers for docker:dind).\nservices:\n  - docker:27-dind\n");
        variables.push_str("  DOCKER_HOST: tcp://docker:2375\n  DOCKER_TLS_CERTDIR: \"\"\n");
    }
    let pair = |e: &MatrixEntry, indent: &str| {
        format!(
            "{indent}PIPELINE: {}\n{indent}OUTPUTS: {}\n",
            quote::gitlab(&e.pipeline),
            quote::gitlab(&e.outputs)
        )
    };
    let deploy = |job: &str, needs: &str, e: &MatrixEntry| {
        render(
            GITLAB_DEPLOY,
            &[
                ("JOB", job),
                ("NEEDS", needs.trim_end()),
                ("OUTPUTS", &quote::gitlab(&e.outputs)),
                ("VERIFY", &ctx.verify),
            ],
        )
    };
    let (global, deploys) = match jobs {
        [one] => {
            variables.push_str(&pair(one.entry, "  "));
            (
                "IMAGE_REPOSITORY: $CI_REGISTRY_IMAGE".to_string(),
                deploy("deploy", "- job: build\n  artifacts: true", one.entry),
            )
        }
        _ => {
            build.push_str("parallel:\n  matrix:\n");
            let mut deploys = String::new();
            for j in jobs {
                let cell = pair(j.entry, "      ");
                build.push_str(&format!("    - {}", &cell[6..]));
                let needs = format!(
                    "- job: build\n  artifacts: true\n  parallel:\n    matrix:\n      - {}",
                    pair(j.entry, "        ")[8..].trim_end()
                );
                deploys.push_str(&deploy(
                    &quote::gitlab(&format!("deploy: {}", j.id)),
                    &needs,
                    j.entry,
                ));
            }
            (String::new(), deploys)
        }
    };
    if !variables.is_empty() {
        build = format!("variables:\n{variables}{build}");
    }
    // The merge-request job builds like `build` (same services, variables, matrix).
    let check = build.clone();
    let with_key = ctx.secrets.iter().any(|n| n == KEY_VARIABLE);
    let mut list = String::new();
    let mut script = String::new();
    if with_key {
        list.push_str("#   COSIGN_PRIVATE_KEY_FILE  type File, protected: the cosign.key of `cleanpipe keygen`\n");
        script.push_str("- COSIGN_PRIVATE_KEY=\"$(cat \"$COSIGN_PRIVATE_KEY_FILE\")\"\n- export COSIGN_PRIVATE_KEY\n");
    }
    for n in ctx.secrets.iter().filter(|n| *n != KEY_VARIABLE) {
        list.push_str(&format!(
            "#   {n:<24} masked, protected: a secret the pipeline uses\n"
        ));
    }
    script
        .push_str("- cleanpipe db update --ecosystems installed\n- cleanpipe run -f \"$PIPELINE\"");
    render(
        GITLAB,
        &[
            ("VERSION", VERSION),
            ("SECRET_LIST", list.trim_end()),
            ("VARIABLES", &global),
            ("CHECK", check.trim_end()),
            ("BUILD", build.trim_end()),
            ("SCRIPT", &script),
            ("DEPLOY", deploys.trim_end()),
        ],
    )
}

fn jenkins(jobs: &[Job], ctx: &Ctx) -> String {
    let login = JENKINS_LOGIN.trim_end();
    let with_key = ctx.secrets.iter().any(|n| n == KEY_VARIABLE);
    let mut credentials = String::new();
    let mut list = String::new();
    let mut key_setup = "";
    if with_key {
        credentials
            .push_str("file(credentialsId: 'cosign-private-key', variable: 'COSIGN_KEY_FILE'),\n");
        list.push_str("//   cosign-private-key    Secret file: the cosign.key of `cleanpipe keygen` (the signing identity)\n");
        key_setup = "COSIGN_PRIVATE_KEY=\"$(cat \"$COSIGN_KEY_FILE\")\"\nexport COSIGN_PRIVATE_KEY";
    }
    for n in ctx.secrets.iter().filter(|n| *n != KEY_VARIABLE) {
        let id = secret_id(n);
        credentials.push_str(&format!(
            "string(credentialsId: {}, variable: {}),\n",
            quote::groovy(&id),
            quote::groovy(n)
        ));
        list.push_str(&format!("//   {id:<21} Secret text: {n}\n"));
    }
    let stages = |j: &Job, prefix: &str| {
        render(
            JENKINS_STAGES,
            &[
                ("BUILD_STAGE", &quote::groovy(&format!("{prefix}build"))),
                ("DEPLOY_STAGE", &quote::groovy(&format!("{prefix}deploy"))),
                ("PIPELINE", &quote::groovy(&j.entry.pipeline)),
                ("OUTPUTS", &quote::groovy(&j.entry.outputs)),
                ("STASH", &quote::groovy(&format!("cleanpipe-{}", j.id))),
                ("LOGIN", login),
                ("CREDENTIALS", credentials.trim_end()),
                ("KEY_SETUP", key_setup),
                ("VERIFY", &ctx.verify),
            ],
        )
    };
    let (environment, body) = match jobs {
        [one] => (
            // Declarative `environment` takes quoted strings only: the name in a single-quoted
            // one, the registry joined to it by Jenkins.
            format!(
                "IMAGE_NAME = {}\nIMAGE_REPOSITORY = \"${{REGISTRY}}/${{IMAGE_NAME}}\"",
                quote::groovy(&one.id)
            ),
            stages(one, ""),
        ),
        _ => {
            let mut branches = String::new();
            for j in jobs {
                branches.push_str(&format!(
                    "stage({}) {{\n    stages {{\n{}\n    }}\n}}\n",
                    quote::groovy(&j.id),
                    indent(stages(j, &format!("{}: ", j.id)).trim_end(), "        ")
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
            ("CREDENTIAL_LIST", list.trim_end()),
            ("ENVIRONMENT", &environment),
            ("STAGES", body.trim_end()),
        ],
    )
}

fn cloudbuild(jobs: &[Job], ctx: &Ctx) -> String {
    let single = jobs.len() == 1;
    let mut steps = String::new();
    let mut artifacts = String::new();
    let secret_env = if ctx.secrets.is_empty() {
        String::new()
    } else {
        format!("secretEnv: [{}]", ctx.secrets.join(", "))
    };
    for j in jobs {
        let suffix = if single {
            String::new()
        } else {
            format!("-{}", j.id)
        };
        steps.push_str(&render(
            CLOUDBUILD_STEPS,
            &[
                (
                    "RUN_ID",
                    &quote::cloudbuild(&format!("cleanpipe-run{suffix}")),
                ),
                (
                    "VERIFY_ID",
                    &quote::cloudbuild(&format!("verify-and-deploy{suffix}")),
                ),
                ("SECRET_ENV", &secret_env),
                (
                    "PIPELINE_ENV",
                    &quote::cloudbuild(&format!("PIPELINE={}", j.entry.pipeline)),
                ),
                (
                    "OUTPUTS_ENV",
                    &quote::cloudbuild(&format!("OUTPUTS={}", j.entry.outputs)),
                ),
                (
                    "ENV",
                    if single {
                        "- IMAGE_REPOSITORY=${_IMAGE_REPOSITORY}"
                    } else {
                        ""
                    },
                ),
                ("VERIFY", &quote::cloudbuild_text(&ctx.verify)),
            ],
        ));
        artifacts.push_str(&format!(
            "- {}\n",
            quote::cloudbuild(&format!("{}/*", j.entry.outputs))
        ));
    }
    let mut secrets = String::new();
    if !ctx.secrets.is_empty() {
        secrets.push_str("# The secrets the pipeline uses (the signing key and its password among them), from\n# Secret Manager. A Cloud KMS key can replace the key (`sign.key: gcpkms://projects/…/cryptoKeys/K`\n# with GOOGLE_OAUTH_ACCESS_TOKEN): then no private key leaves KMS, and the service account\n# needs roles/cloudkms.signerVerifier instead.\navailableSecrets:\n  secretManager:\n");
        for n in &ctx.secrets {
            // Names are variable names: nothing for Cloud Build or YAML to read in them.
            secrets.push_str(&format!(
                "    - versionName: projects/${{PROJECT_ID}}/secrets/{}/versions/latest\n      env: {n}\n",
                secret_id(n)
            ));
        }
    }
    // Cloud Build refuses a substitution that no step uses: only one pipeline takes it. Its
    // value uses two of Cloud Build's own substitutions, then the (escaped) identifier.
    let image_repository = if single {
        format!(
            "_IMAGE_REPOSITORY: {}",
            quote::yaml(&format!(
                "${{LOCATION}}-docker.pkg.dev/${{PROJECT_ID}}/containers/{}",
                quote::cloudbuild_text(&jobs[0].id)
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
            ("SECRETS", secrets.trim_end()),
            ("IMAGE_REPOSITORY", &image_repository),
            ("ARTIFACTS", artifacts.trim_end()),
        ],
    )
}

/// Fill `@@KEY@@` placeholders in one pass: a value is inserted as it is, never searched for
/// placeholders itself (a path holding `@@LOGIN@@` stays that text). A placeholder alone on a
/// line is replaced by its value's lines, each indented like the placeholder (an empty value
/// drops the line).
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let value = |key: &str| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let mut out = String::new();
    for line in template.lines() {
        let trimmed = line.trim_start();
        let block = trimmed
            .strip_prefix("@@")
            .and_then(|t| t.strip_suffix("@@"))
            .filter(|k| !k.contains("@@"))
            .and_then(value);
        if let Some(value) = block {
            let pad = &line[..line.len() - trimmed.len()];
            if !value.is_empty() {
                out.push_str(&indent(value, pad));
                out.push('\n');
            }
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("@@") {
            let after = &rest[start + 2..];
            let filled = after
                .find("@@")
                .and_then(|end| value(&after[..end]).map(|v| (end, v)));
            match filled {
                Some((end, v)) => {
                    out.push_str(&rest[..start]);
                    out.push_str(v);
                    rest = &after[end + 2..];
                }
                None => {
                    debug_assert!(false, "an unfilled placeholder in:\n{line}");
                    out.push_str(&rest[..start + 2]);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out.push('\n');
    }
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

/// The one quoting helper of each format `init` writes. Each returns a complete literal whose
/// value, once the file is read (and, for a CI's YAML, once the CI has expanded its own
/// expressions or variables), is exactly the text given.
mod quote {
    /// A YAML double-quoted scalar. Only printable ASCII is written as itself (`"` and `\`
    /// escaped); everything else is an escape, so no character can end the scalar, fold a line
    /// (YAML 1.1 also breaks lines at U+0085, U+2028 and U+2029) or be refused as unprintable.
    pub fn yaml(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                ' '..='~' => out.push(c),
                c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push_str(&format!("\\U{:08X}", c as u32)),
            }
        }
        out.push('"');
        out
    }

    /// [`yaml`], or the text itself where it reads back unquoted as the same string (a
    /// readable `name: app` in the starter; `null`, `123` or `yes` stay quoted).
    pub fn yaml_readable(s: &str) -> String {
        // YAML 1.1's booleans too: other readers of the file may be 1.1 readers.
        const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
        let plain = !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !WORDS.contains(&s.to_ascii_lowercase().as_str())
            && matches!(
                serde_yaml::from_str::<serde_yaml::Value>(s),
                Ok(serde_yaml::Value::String(back)) if back == s
            );
        if plain {
            s.to_string()
        } else {
            yaml(s)
        }
    }

    /// A value in a GitHub Actions workflow: YAML, with each `${{` (which would start an
    /// expression even inside a quoted scalar) written as an expression that yields it.
    pub fn github(s: &str) -> String {
        yaml(&s.replace("${{", "${{ '${{' }}"))
    }

    /// A value in a GitLab CI file: YAML, with `$` doubled (GitLab expands variables in
    /// variable values and job names; `$$` is its literal dollar).
    pub fn gitlab(s: &str) -> String {
        yaml(&s.replace('$', "$$"))
    }

    /// A value in a Cloud Build file: YAML of [`cloudbuild_text`].
    pub fn cloudbuild(s: &str) -> String {
        yaml(&cloudbuild_text(s))
    }

    /// Text for a Cloud Build value: `$` doubled (Cloud Build substitutes `$NAME` and
    /// `${…}` in every value; `$$` is its literal dollar).
    pub fn cloudbuild_text(s: &str) -> String {
        s.replace('$', "$$")
    }

    /// A Groovy single-quoted string (no interpolation); line breaks and other control
    /// characters, which a single-quoted string cannot hold, are escapes.
    pub fn groovy(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('\'');
        for c in s.chars() {
            match c {
                '\'' => out.push_str("\\'"),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}') => {
                    out.push_str(&format!("\\u{:04X}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    }

    /// A POSIX shell word: single-quoted unless it is plainly safe.
    pub fn shell(s: &str) -> String {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | ':'))
        {
            return s.to_string();
        }
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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

/// What to do before the first CI run: where cleanpipe comes from, who signs (a key kept
/// outside the repository, or the policy's identity), the secrets, a first local run.
fn next_steps(ci: CiKind, entries: &[MatrixEntry], signing: Signing, signer: &Signer) -> String {
    let mut steps = Vec::new();
    // Outside the repository: `git add -A` can never take it. (The identifier is
    // `[a-z0-9-]`: safe inside double quotes.)
    let key_prefix = format!(
        "$HOME/.cleanpipe/keys/{}",
        identifiers(entries)
            .first()
            .map_or("cosign", |s| s.as_str())
    );
    match signing {
        Signing::Key => steps.push(format!(
            "make the signing key outside the repository: `cleanpipe keygen --output-key-prefix \"{key_prefix}\"`, then `cp \"{key_prefix}.pub\" {PUBLIC_KEY}` and commit {PUBLIC_KEY} (the deploy job verifies with it); the private key never goes into the repository"
        )),
        Signing::Keyless => {
            steps.push(format!(
                "{POLICY_FILE} trusts images signed by `{}` (issuer `{}`): the deploy job verifies with it{}",
                signer.identity,
                signer.issuer,
                if signer.known {
                    ""
                } else {
                    "; no `origin` remote named the repository: replace the placeholder in it"
                }
            ));
        }
    }
    let others: Vec<String> = secrets(entries)
        .into_iter()
        .filter(|n| !matches!(n.as_str(), "COSIGN_PRIVATE_KEY" | "COSIGN_PASSWORD"))
        .collect();
    let with_key = signing == Signing::Key;
    // What to create: the key's own entries (key mode), then the pipeline's other secrets.
    let create = |key: &str, each: &str| -> Vec<String> {
        let mut parts = Vec::new();
        if with_key {
            parts.push(key.to_string());
        }
        if !others.is_empty() {
            parts.push(format!("{} (the pipeline's; {each})", others.join(", ")));
        }
        parts
    };
    steps.extend(match ci {
        CiKind::Github => {
            let mut v = vec!["set the repository variable CLEANPIPE_GIT to cleanpipe's Git URL (Settings > Secrets and variables > Actions > Variables; README: \"How cleanpipe is distributed\"): the workflow installs that repository at the tag CLEANPIPE_VERSION".to_string()];
            if with_key || !others.is_empty() {
                v.push(format!(
                    "create the repository secrets {}",
                    create("COSIGN_PRIVATE_KEY (the key file's contents: `gh secret set COSIGN_PRIVATE_KEY < KEY`) and COSIGN_PASSWORD", "each a secret of that name").join(", and ")
                ));
            }
            v.push("give the `production` environment required reviewers (Settings > Environments): the deploy job waits for their approval".into());
            v.push("images go to ghcr.io with GITHUB_TOKEN; pull requests are built and scanned only (`run --unsigned`)".into());
            v
        }
        CiKind::Gitlab => {
            let mut v = vec!["create the CI/CD variable CLEANPIPE_GIT: cleanpipe's Git URL (README: \"How cleanpipe is distributed\"), installed at the tag CLEANPIPE_VERSION".to_string()];
            if with_key || !others.is_empty() {
                v.push(format!(
                    "create the CI/CD variables {}",
                    create("COSIGN_PRIVATE_KEY_FILE (type File, protected: the key file) and COSIGN_PASSWORD (masked, protected)", "masked, protected").join(", and ")
                ));
            }
            v.push("images go to the project's container registry ($CI_REGISTRY_IMAGE); merge requests are built and scanned only; protect the `production` environment to say who may start the manual deploy".into());
            v
        }
        CiKind::Jenkins => vec![
            "set the global property CLEANPIPE_GIT to cleanpipe's Git URL (Manage Jenkins > System; README: \"How cleanpipe is distributed\")".to_string(),
            format!(
                "create the credentials {}",
                create("`cosign-private-key` (Secret file: the key file), `cosign-password` (Secret text)", "Secret text, its id lowercase with `-` for `_`")
                    .into_iter()
                    .chain(["`registry-credentials` (Username with password)".to_string()])
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "set REGISTRY in the Jenkinsfile to your registry; the agents need cargo (and Docker for Dockerfile builds)".into(),
        ],
        CiKind::Cloudbuild => {
            let mut v = vec!["set the substitution _CLEANPIPE_GIT on the trigger to cleanpipe's Git URL (README: \"How cleanpipe is distributed\")".to_string()];
            let secrets = create(
                "`gcloud secrets create cosign-private-key --data-file=KEY` and `cosign-password`",
                "each named lowercase with `-` for `_`",
            );
            if !secrets.is_empty() {
                v.push(format!(
                    "create the secrets, readable by the build's service account: {}",
                    secrets.join(", and ")
                ));
            }
            v.push("create an Artifact Registry repository `containers` (or change _IMAGE_REPOSITORY), and the trigger with `--require-approval` for a manual approval".into());
            v
        }
    });
    match entries {
        [one] => steps.push(format!(
            "check the pipeline with `cleanpipe validate -f {0}` and `cleanpipe plan -f {0}`, then commit (`git add -A`: .gitignore keeps .cleanpipe/ and keys out) and push",
            quote::shell(&one.pipeline)
        )),
        _ => steps.push(
            "check the pipelines with `cleanpipe plan --matrix`, then commit and push".into(),
        ),
    }
    let file = match entries {
        [one] => format!(" -f {}", quote::shell(&one.pipeline)),
        _ => String::new(),
    };
    steps.push(match signing {
        Signing::Key => format!(
            "run it here once committed: `COSIGN_PRIVATE_KEY=\"$(cat \"{key_prefix}.key\")\" cleanpipe run{file}` (to the local store .cleanpipe/ while IMAGE_REPOSITORY is unset), or `cleanpipe run{file} --unsigned \"local try\"` to build and scan only"
        ),
        Signing::Keyless => format!(
            "run it here once committed: `cleanpipe run{file} --unsigned \"local try\"` builds and scans into .cleanpipe/ (signing needs the CI's OIDC token; a token in SIGSTORE_ID_TOKEN signs here too)"
        ),
    });
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
            keyless: false,
            secrets: vec!["COSIGN_PASSWORD".into(), "COSIGN_PRIVATE_KEY".into()],
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
                for signing in [Signing::Key, Signing::Keyless] {
                    let f = ci_file(ci, &entries, signing);
                    assert!(!f.text.contains("@@"), "{ci:?}:\n{}", f.text);
                }
            }
        }
    }

    #[test]
    fn quoting_keeps_values_literal() {
        assert_eq!(quote::groovy("it's a\\b"), r"'it\'s a\\b'");
        assert_eq!(
            quote::groovy("a\n'''\"\"\"${x}\u{7}"),
            r#"'a\n\'\'\'"""${x}\u0007'"#
        );
        assert_eq!(quote::yaml("a: \"b\""), r#""a: \"b\"""#);
        assert_eq!(
            quote::yaml("a\nb\u{85}c\u{2028}\u{7f}é\u{1F600}"),
            r#""a\u000Ab\u0085c\u2028\u007F\u00E9\U0001F600""#
        );
        assert_eq!(
            quote::github("x${{ secrets.K }}"),
            r#""x${{ '${{' }} secrets.K }}""#
        );
        assert_eq!(quote::gitlab("$CI_JOB_TOKEN"), r#""$$CI_JOB_TOKEN""#);
        assert_eq!(quote::cloudbuild("${_X}$Y"), r#""$${_X}$$Y""#);
        assert_eq!(quote::shell("a/pipeline.yaml"), "a/pipeline.yaml");
        assert_eq!(quote::yaml_readable("my-app_1.2"), "my-app_1.2");
        for special in ["null", "true", "yes", "123", "1.5", "~", "a b", ""] {
            assert_eq!(quote::yaml_readable(special), quote::yaml(special));
        }
        assert_eq!(quote::shell("it's $(x)"), r"'it'\''s $(x)'");
        // Every YAML value reads back as given.
        for v in [
            "a\nb: c",
            "&x *y",
            "- z",
            "#c",
            "\u{85}\u{2028}\u{feff}\t",
            "\\\"",
        ] {
            let back: String = serde_yaml::from_str(&quote::yaml(v)).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn a_value_is_never_rendered_twice() {
        let out = render(
            "a: @@X@@ @@Y@@\n  @@B@@\n",
            &[("X", "@@Y@@"), ("Y", "y"), ("B", "@@X@@\n@@Y@@")],
        );
        assert_eq!(out, "a: @@Y@@ y\n  @@X@@\n  @@Y@@\n");
    }

    #[test]
    fn identifiers_are_lowercase_letters_digits_and_dashes() {
        let ids = |names: &[&str]| {
            identifiers(&names.iter().map(|n| entry(n, false)).collect::<Vec<_>>())
        };
        assert_eq!(ids(&["api", "worker-2"]), ["api", "worker-2"]);
        let hostile = ids(&[
            "x\n- id: evil\n  secretEnv: [COSIGN_PRIVATE_KEY]",
            "${{ a }}",
            "",
            "'''",
        ]);
        assert_eq!(
            &hostile[..2],
            ["x-id-evil-secretenv-cosign-private-key", "a"]
        );
        // Nothing usable in either: both fall back to `pipeline`, told apart.
        assert!(hostile[2].starts_with("pipeline-"), "{hostile:?}");
        assert!(hostile[3].starts_with("pipeline-"), "{hostile:?}");
        assert_ne!(hostile[2], hostile[3]);
        assert_eq!(ids(&["--"]), ["pipeline"]);
        // `API` would take `api`'s identifier: `api` keeps it, `API` gets a distinct one.
        let both = ids(&["API", "api"]);
        assert_eq!(both[1], "api");
        assert!(
            both[0].starts_with("api-") && both[0].len() == 12,
            "{both:?}"
        );
        for id in ids(&[&"a".repeat(100), "Ünïcode name", "--x--"]) {
            assert!(!id.is_empty() && id.len() <= 63, "{id}");
            assert!(id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            assert!(!id.starts_with('-') && !id.ends_with('-'), "{id}");
        }
    }

    #[test]
    fn remotes_name_the_signing_repository() {
        for (url, want) in [
            (
                "https://github.com/acme/app.git",
                Some(("github.com", "acme/app")),
            ),
            (
                "git@github.com:acme/app.git",
                Some(("github.com", "acme/app")),
            ),
            (
                "ssh://git@gitlab.example.com:2222/g/sub/p",
                Some(("gitlab.example.com", "g/sub/p")),
            ),
            (
                "https://user:tok@github.com/acme/app/",
                Some(("github.com", "acme/app")),
            ),
            ("/srv/git/app.git", None),
            ("https://github.com/acme/a b", None),
            ("https://github.com/../x", None),
            ("https://github.com/app", None),
        ] {
            let got = host_and_path(url);
            assert_eq!(
                got.as_ref().map(|(h, p)| (h.as_str(), p.as_str())),
                want,
                "{url}"
            );
        }
    }

    #[test]
    fn gitignore_lines_are_added_once_and_the_user_s_kept() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        let (text, mode) = gitignore(top).unwrap().unwrap();
        assert_eq!(mode, 0o644);
        for l in IGNORED {
            assert_eq!(text.lines().filter(|x| x == l).count(), 1, "{text}");
        }
        std::fs::write(top.join(".gitignore"), "target/\n*.key").unwrap();
        let (text, _) = gitignore(top).unwrap().unwrap();
        assert!(text.starts_with("target/\n*.key\n"), "{text}");
        assert_eq!(text.matches("*.key").count(), 1, "{text}");
        std::fs::write(top.join(".gitignore"), &text).unwrap();
        assert!(gitignore(top).unwrap().is_none(), "nothing twice");
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
