//! Turns arguments, the environment and the pipeline file into the settings commands use.
//! Precedence: flags > environment > pipeline file > defaults, combined here only.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::cli::args::{PipelineArgs, RegistryArgs};
use crate::cli::env_vars;
use crate::error::{Error, Result};
use crate::oci::remote::{Credentials, RemoteOptions};
use crate::redact::Redactor;
use crate::run::PasswordSource;
use crate::spec::load::{self, LoadedPipeline};

pub use crate::spec::paths::{DEFAULT_OUTPUTS, DEFAULT_STORE};

/// The pipeline file to read: `-f`, else `pipeline.yaml`, else `pipeline.example.yaml`.
pub fn pipeline_path(args: &PipelineArgs) -> Result<PathBuf> {
    if let Some(f) = &args.file {
        return Ok(f.clone());
    }
    for candidate in ["pipeline.yaml", "pipeline.yml", "pipeline.example.yaml"] {
        if Path::new(candidate).is_file() {
            return Ok(PathBuf::from(candidate));
        }
    }
    Err(Error::usage(
        "no pipeline file: neither `pipeline.yaml` nor `pipeline.example.yaml` is here",
    )
    .with_hint("pass one with `-f FILE`; see docs/pipeline.md for the format"))
}

/// Load the pipeline named by the arguments.
pub fn load_pipeline(
    args: &PipelineArgs,
    env: &BTreeMap<String, String>,
    redactor: &Redactor,
) -> Result<LoadedPipeline> {
    let path = pipeline_path(args)?;
    load::load(&path, &|name| env.get(name).cloned(), redactor)
}

/// Resolved names and directories of a pipeline.
pub struct PipelineSettings {
    pub name: String,
    pub store: PathBuf,
    pub outputs: PathBuf,
}

impl PipelineSettings {
    /// `store` and `outputs` are checked here (see `pipeline::paths::own_dir`).
    pub fn resolve(p: &LoadedPipeline) -> Result<Self> {
        let base = p.base_dir();
        let name = p.file.name.clone().unwrap_or_else(|| {
            std::fs::canonicalize(&base)
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "image".into())
        });
        let store = crate::spec::paths::own_dir(p, "store", DEFAULT_STORE)?;
        let outputs = crate::spec::paths::own_dir(p, "outputs", DEFAULT_OUTPUTS)?;
        Ok(PipelineSettings {
            name,
            store,
            outputs,
        })
    }
}

/// Registry options from flags; the password comes from stdin, never from a flag value.
pub fn remote_options(args: &RegistryArgs, redactor: &Redactor) -> Result<RemoteOptions> {
    let credentials = match (&args.registry_username, args.registry_password_stdin) {
        (Some(user), true) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::usage("cannot read the registry password from stdin").caused_by(e))?;
            let password = text.trim_end_matches(['\n', '\r']).to_string();
            redactor.add(password.clone());
            Some(Credentials { username: user.clone(), password: crate::redact::Secret::new(password) })
        }
        (None, true) => {
            return Err(Error::usage("`--registry-password-stdin` needs `--registry-username`"))
        }
        (Some(_), false) => {
            return Err(Error::usage("`--registry-username` needs `--registry-password-stdin`")
                .with_hint("pipe the password in: `echo \"$TOKEN\" | cleanpipe … --registry-username USER --registry-password-stdin`"))
        }
        (None, false) => None,
    };
    Ok(RemoteOptions {
        insecure: args.insecure,
        credentials,
        read_timeout: args.registry_timeout.map(std::time::Duration::from_secs),
        docker_config: env_vars::docker_config_file(),
        progress: Default::default(),
        retry: env_vars::registry_retry(),
    })
}

/// COSIGN_PASSWORD if set (empty allowed), else a prompt on a terminal, else an error.
pub fn password_source(env: &BTreeMap<String, String>, redactor: &Redactor) -> PasswordSource {
    let from_env = env.get(env_vars::COSIGN_PASSWORD).cloned();
    // A secret from the moment it is read, not only once it decrypts a key.
    if let Some(p) = &from_env {
        redactor.add(p.clone());
    }
    let redactor = redactor.clone();
    Arc::new(move || {
        if let Some(p) = &from_env {
            redactor.add(p.clone());
            return Ok(Zeroizing::new(p.clone()));
        }
        if std::io::stdin().is_terminal() {
            let p = rpassword::prompt_password("Enter password for private key: ")
                .map_err(|e| Error::usage("cannot read the password").caused_by(e))?;
            redactor.add(p.clone());
            return Ok(Zeroizing::new(p));
        }
        Err(
            Error::usage("the signing key is encrypted and COSIGN_PASSWORD is not set").with_hint(
                "export COSIGN_PASSWORD (an empty password is written `COSIGN_PASSWORD=`)",
            ),
        )
    })
}

/// `{{run.number}}`: the CI's run number, else a counter kept in the outputs directory.
/// The counter is never read or written through a symbolic link (a committed link at
/// `run-number` must not read or overwrite a file elsewhere).
pub fn run_number(env: &BTreeMap<String, String>, outputs: &Path) -> Result<u64> {
    for var in env_vars::RUN_NUMBER_VARS {
        if let Some(n) = env.get(*var).and_then(|v| v.parse().ok()) {
            return Ok(n);
        }
    }
    let counter = outputs.join("run-number");
    crate::fsutil::check_write_target(&counter)?;
    let next = std::fs::read_to_string(&counter)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    crate::fsutil::write_atomic(&counter, next.to_string().as_bytes())?;
    Ok(next)
}

/// The signers `--key FILE` (repeatable) and the identity flags name, or `None` when neither
/// is given (the caller says what that means for it).
pub fn trust_from_flags(
    keys: &[PathBuf],
    identity: &crate::cli::args::IdentityArgs,
) -> Result<Option<crate::sign::Trust>> {
    let keys = keys
        .iter()
        .map(|k| crate::sign::keys::PublicKey::from_file(k))
        .collect::<Result<Vec<_>>>()?;
    let keyless = keyless_trust(identity)?;
    if keys.is_empty() && keyless.is_none() {
        return Ok(None);
    }
    crate::sign::Trust::with_keyless(keys, keyless).map(Some)
}

/// The keyless trust `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`
/// ask for (`None` when neither is given). Both halves are required, as cosign requires them:
/// trusting any issuer's certificate for a name trusts whoever runs an issuer.
pub fn keyless_trust(
    args: &crate::cli::args::IdentityArgs,
) -> Result<Option<crate::sign::identity::KeylessTrust>> {
    use crate::sign::identity::{GithubClaims, Identity, KeylessTrust, Matcher};
    let subject = match (
        &args.certificate_identity,
        &args.certificate_identity_regexp,
    ) {
        (Some(exact), _) => Some(Matcher::Exact(exact.clone())),
        (None, Some(re)) => Some(Matcher::regex(re, "--certificate-identity-regexp")?),
        (None, None) => None,
    };
    let issuer = match (
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
    ) {
        (Some(exact), _) => Some(Matcher::Exact(exact.clone())),
        (None, Some(re)) => Some(Matcher::regex(re, "--certificate-oidc-issuer-regexp")?),
        (None, None) => None,
    };
    let github = GithubClaims {
        repository: args.certificate_github_workflow_repository.clone(),
        git_ref: args.certificate_github_workflow_ref.clone(),
        sha: args.certificate_github_workflow_sha.clone(),
        trigger: args.certificate_github_workflow_trigger.clone(),
        name: args.certificate_github_workflow_name.clone(),
    };
    let (subject, issuer) = match (subject, issuer) {
        (Some(s), Some(i)) => (s, i),
        (None, None) => {
            if !github.is_empty() || args.insecure_ignore_sct {
                return Err(Error::usage(
                    "the certificate options need `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`",
                ));
            }
            return Ok(None);
        }
        (Some(_), None) => return Err(Error::usage(
            "`--certificate-identity[-regexp]` needs `--certificate-oidc-issuer[-regexp]`",
        )
        .with_hint(
            "an identity is only as good as the issuer that vouches for it: name the issuer too",
        )),
        (None, Some(_)) => {
            return Err(Error::usage(
                "`--certificate-oidc-issuer[-regexp]` needs `--certificate-identity[-regexp]`",
            )
            .with_hint(
                "use `--certificate-identity-regexp '.*'` to accept any identity of that issuer",
            ))
        }
    };
    KeylessTrust::new(
        args.trusted_root.as_deref(),
        vec![Identity {
            subject,
            issuer,
            github,
        }],
        args.insecure_ignore_sct,
    )
    .map(Some)
}
