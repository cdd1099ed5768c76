//! Where a registry's credentials come from: explicit [`Credentials`], the Docker client's
//! `config.json` and its credential helpers, and secret files.

use std::path::Path;

use oci_client::secrets::RegistryAuth;

use crate::error::{Error, Result};
use crate::redact::{Redactor, Secret};

/// A username and password (or token) for one registry. Never printed.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ username: {:?}, password: *** }}",
            self.username
        )
    }
}

/// The credential helper `config` names for `server`, if any.
fn helper_for(config: &str, server: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(config).ok()?;
    json["credHelpers"][server]
        .as_str()
        .or_else(|| json["credsStore"].as_str())
        .map(|h| format!("docker-credential-{h}"))
}

/// Credentials from the Docker client's config (including credential helpers), if any. A
/// helper that is missing or fails is an error, never a silent fall back to anonymous access
/// (a helper answering "credentials not found" means there are none). What is found is
/// registered as a secret.
pub(super) fn docker_config_auth(path: &Path, registry: &str) -> Result<RegistryAuth> {
    use docker_credential::CredentialRetrievalError as E;
    let server = if registry == "docker.io" {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    let config = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => return Err(Error::io("cannot read the Docker config", path, e)),
    };
    let helper_error = |why: String| {
        let helper = helper_for(&config, server).unwrap_or_else(|| "the credential helper".into());
        Error::environment(format!(
            "cannot get the credentials for registry `{registry}` from `{helper}`: {why}"
        ))
        .with_hint(format!("install `{helper}` and check it works (`echo {server} | {helper} get`), fix `credHelpers`/`credsStore` in the Docker config, or pass `--registry-username` and `--registry-password-stdin`"))
    };
    match docker_credential::get_credential_from_reader(config.as_bytes(), server) {
        Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
            let p = Secret::new(p);
            Ok(RegistryAuth::Basic(u, p.expose().to_string()))
        }
        Ok(docker_credential::DockerCredential::IdentityToken(t)) => {
            let t = Secret::new(t);
            Ok(RegistryAuth::Bearer(t.expose().to_string()))
        }
        Err(E::NoCredentialConfigured | E::ConfigNotFound) => Ok(RegistryAuth::Anonymous),
        Err(E::HelperFailure { stdout, stderr, .. })
            if format!("{stdout}{stderr}").contains("credentials not found") =>
        {
            Ok(RegistryAuth::Anonymous)
        }
        Err(E::HelperFailure { stderr, .. }) => Err(helper_error(format!(
            "it failed ({})",
            Redactor::default().apply_truncated(stderr.trim(), 200)
        ))),
        Err(E::HelperCommunicationError) => Err(helper_error(
            "it is missing (not on PATH) or could not be run".into(),
        )),
        Err(E::MalformedHelperResponse) => {
            Err(helper_error("its answer is not the JSON a helper prints".into()))
        }
        Err(e @ (E::ConfigReadError | E::CredentialDecodingError | E::CredentialMismatchError)) => {
            Err(Error::environment(format!(
                "cannot read the credentials for registry `{registry}` from the Docker config `{}`: {e}",
                path.display()
            ))
            .with_hint("fix the Docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), or run `docker login` again"))
        }
    }
}
