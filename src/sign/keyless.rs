//! Keyless signing (what `cosign sign` does without `--key`): an OIDC identity token proves who
//! signs, Fulcio certifies an ephemeral key for that identity, the transparency log records the
//! signature, and a timestamp authority dates it. The result is a Sigstore bundle v0.3 holding a
//! DSSE envelope, the certificate, the log entry and the timestamp.
//!
//! The signing itself is `sigstore-sign` (sigstore/sigstore-rust): it generates the ephemeral
//! P-256 key in memory for each signature and drops it after signing, so the key never touches
//! disk. This module finds the identity token, chooses the Sigstore instance, and turns the
//! services' failures into cleanpipe's exit codes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sigstore_oidc::IdentityToken;
use sigstore_sign::{SigningContext, SigningServices};

use crate::error::{Error, Result};
use crate::redact::Secret;

/// The audience Fulcio expects in identity tokens (cosign's default client id).
pub const AUDIENCE: &str = "sigstore";
/// How long one request to Fulcio, the log or the timestamp authority may take.
const SERVICE_TIMEOUT: Duration = Duration::from_secs(60);
/// The environment variables searched for a token, in order, for messages.
pub const TOKEN_VARIABLES: &str = "SIGSTORE_ID_TOKEN (GitLab CI, or set by hand); \
ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN with GITHUB_ACTIONS=true (GitHub \
Actions with `permissions: id-token: write`); BUILDKITE_AGENT_ACCESS_TOKEN with BUILDKITE=true \
(Buildkite); CIRCLE_OIDC_TOKEN_V2 with CIRCLECI=true (CircleCI)";

/// Which Sigstore instance signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instance {
    /// The public-good instance (fulcio.sigstore.dev, rekor.sigstore.dev), its services from
    /// the signing config cleanpipe embeds. Cannot be reached from cleanpipe's test machine.
    PublicGood,
    /// A private instance described by a `signing_config.json` (cosign v3's format).
    SigningConfig(PathBuf),
}

impl Instance {
    pub fn describe(&self) -> String {
        match self {
            Instance::PublicGood => "the public-good Sigstore instance".into(),
            Instance::SigningConfig(p) => format!("the Sigstore instance of {}", p.display()),
        }
    }

    fn services(&self) -> Result<SigningServices> {
        match self {
            Instance::PublicGood => {
                SigningServices::from_embedded(sigstore_sign::SigstoreInstance::PublicGood)
                    .map_err(|e| Error::environment("the public-good signing config").caused_by(e))
            }
            Instance::SigningConfig(path) => {
                let config = read_signing_config(path)?;
                SigningServices::from_signing_config(&config).map_err(|e| {
                    Error::usage(format!("{}: {e}", path.display())).with_hint(
                        "a signing config names one Fulcio (caUrls), one Rekor (rekorTlogUrls) and one timestamp authority (tsaUrls); `cosign signing-config create` writes one",
                    )
                })
            }
        }
    }
}

/// Read a `signing_config.json` (cosign v3's format), for keyless signing and for logging key
/// signatures alike.
pub fn read_signing_config(path: &Path) -> Result<sigstore_sign::trust_root::SigningConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!(
            "cannot read the signing config {}: {e}",
            path.display()
        ))
    })?;
    sigstore_sign::trust_root::SigningConfig::from_json(&text).map_err(|e| {
        Error::usage(format!(
            "{} is not a Sigstore signing config: {e}",
            path.display()
        ))
        .with_hint("the file cosign v3's `--signing-config` takes (media type application/vnd.dev.sigstore.signingconfig.v0.2+json)")
    })
}

/// Where the identity token comes from.
#[derive(Clone, Debug)]
pub enum TokenInput {
    /// Given on the command line or read from a named file or variable.
    Given { token: Secret, from: String },
    /// Look in the environment (CI providers' variables), then ask interactively on a terminal.
    Ambient,
}

/// An identity token checked for the things cleanpipe can see before Fulcio does: its shape,
/// its expiry and its audience.
pub struct Token {
    token: IdentityToken,
    /// Where it came from, for messages (never the token).
    pub from: String,
}

impl Token {
    /// Read `jwt` (registered as a secret first), refusing an expired token or one for another
    /// audience with a message that says so.
    pub fn parse(jwt: &str, from: &str) -> Result<Token> {
        let jwt = jwt.trim();
        let _ = Secret::new(jwt);
        // Its signature part alone too, should a server echo the token in pieces.
        if let Some((_, signature)) = jwt.rsplit_once('.') {
            let _ = Secret::new(signature);
        }
        let token = IdentityToken::from_jwt(jwt).map_err(|e| {
            Error::usage(format!("the identity token from {from} is not a JWT"))
                .caused_by(e)
                .with_hint("give the raw OIDC ID token (three base64url parts joined by dots)")
        })?;
        if token.is_expired() {
            return Err(Error::usage(format!(
                "the identity token from {from} (issuer {}) expired at {}",
                token.issuer(),
                token.expiration()
            ))
            .with_hint("request a fresh token: CI tokens live for minutes, so sign right after fetching one"));
        }
        if !token.claims().aud.contains(AUDIENCE) {
            return Err(Error::usage(format!(
                "the identity token from {from} is for audience {}, not `{AUDIENCE}`",
                describe_audience(&token.claims().aud)
            ))
            .with_hint("request the token with audience `sigstore` (GitHub Actions: cleanpipe asks for it; GitLab: `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`)"));
        }
        Ok(Token {
            token,
            from: from.to_string(),
        })
    }

    /// The identity Fulcio will certify (email, else subject) and the issuer, for messages.
    pub fn describe(&self) -> String {
        format!("{} from {}", self.token.identity(), self.token.issuer())
    }
}

fn describe_audience(aud: &sigstore_oidc::token::Audience) -> String {
    use sigstore_oidc::token::Audience;
    match aud {
        Audience::None => "(none)".into(),
        Audience::Single(a) => format!("`{a}`"),
        Audience::Multiple(v) => v
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "(unknown)".into(),
    }
}

/// Find the identity token: the given one, else `SIGSTORE_ID_TOKEN`, else a CI provider's
/// ambient credentials, else (on a terminal, with an OIDC URL in the signing config) the
/// browser flow cosign uses. `env` is the process environment.
pub async fn find_token(
    input: &TokenInput,
    instance: &Instance,
    env: &dyn Fn(&str) -> Option<String>,
    interactive: bool,
) -> Result<Token> {
    if let TokenInput::Given { token, from } = input {
        return Token::parse(token.expose(), from);
    }
    if let Some(value) = crate::redact::secret_env(env, "SIGSTORE_ID_TOKEN")
        .filter(|v| !v.expose().trim().is_empty())
    {
        return Token::parse(value.expose(), "SIGSTORE_ID_TOKEN");
    }
    // The request token GitHub Actions gives a job to fetch its ID token: a credential too,
    // whatever the fetch prints.
    let _ = crate::redact::secret_env(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    match IdentityToken::detect_ambient().await {
        Ok(Some(token)) => {
            let _ = Secret::new(token.expose_secret());
            return Token::parse(token.expose_secret(), "the CI provider's OIDC credentials");
        }
        Ok(None) => {}
        Err(e) => {
            return Err(Error::environment(format!(
                "the CI provider's OIDC token could not be fetched: {}",
                crate::redact::Redactor::default().apply(&e.to_string())
            ))
            .with_hint("GitHub Actions needs `permissions: id-token: write` on the job"))
        }
    }
    if interactive {
        if let Some(oidc_url) = instance.services()?.oidc_url().map(str::to_string) {
            let token = sigstore_oidc::authenticate(&oidc_url).await.map_err(|e| {
                Error::usage(format!("interactive sign-in at {oidc_url} failed")).caused_by(e)
            })?;
            let _ = Secret::new(token.expose_secret());
            return Token::parse(token.expose_secret(), &format!("sign-in at {oidc_url}"));
        }
    }
    Err(Error::usage(format!(
        "keyless signing needs an OIDC identity token, and none was found; looked for {TOKEN_VARIABLES}"
    ))
    .with_hint("pass `--identity-token TOKEN|FILE`, or set `sign.keyless.identity_token` to `{ env: VAR }` or `{ file: PATH }`"))
}

/// A keyless signer bound to one identity token and one Sigstore instance.
pub struct KeylessSigner {
    signer: sigstore_sign::Signer,
    instance: Instance,
    identity: String,
    /// What Fulcio certified, from the first certificate it issued this run.
    certified: std::sync::Mutex<Option<Certified>>,
}

/// The identity a keyless signature's certificate names: what a verifier must trust (not the
/// token's subject), with the CI workload claims Fulcio copied into it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Certified {
    /// The certificate's SAN: an email, or a workflow URI such as
    /// `https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main`.
    pub identity: String,
    /// The OIDC issuer Fulcio recorded.
    pub issuer: String,
    /// The CI claims present (Fulcio's `1.3.6.1.4.1.57264.1.*` extensions), by name.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub claims: std::collections::BTreeMap<&'static str, String>,
}

impl Certified {
    /// Read from a bundle's certificate (v0.3 `verificationMaterial.certificate.rawBytes`).
    pub fn from_bundle_json(bundle: &[u8]) -> Option<Certified> {
        use base64::Engine;
        let v: serde_json::Value = serde_json::from_slice(bundle).ok()?;
        let raw = v
            .pointer("/verificationMaterial/certificate/rawBytes")
            .or_else(|| {
                v.pointer("/verificationMaterial/x509CertificateChain/certificates/0/rawBytes")
            })?
            .as_str()?;
        let der = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
        let info = sigstore_verify::crypto::x509::parse_certificate_info(
            &sigstore_verify::types::DerCertificate::new(der),
        )
        .ok()?;
        let c = &info.ci_claims;
        let claims = [
            ("build_signer_uri", &c.build_signer_uri),
            ("build_signer_digest", &c.build_signer_digest),
            ("runner_environment", &c.runner_environment),
            ("source_repository_uri", &c.source_repository_uri),
            ("source_repository_digest", &c.source_repository_digest),
            ("source_repository_ref", &c.source_repository_ref),
            ("build_trigger", &c.build_trigger),
            ("run_invocation_uri", &c.run_invocation_uri),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect();
        Some(Certified {
            identity: info.identity?.as_str().to_string(),
            issuer: info.issuer?,
            claims,
        })
    }

    /// `identity (issuer)` for messages.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.identity, self.issuer)
    }
}

impl KeylessSigner {
    pub fn new(instance: &Instance, token: Token) -> Result<KeylessSigner> {
        let services = instance.services()?;
        services.validate().map_err(|e| {
            Error::usage(format!("{}: {e}", instance.describe()))
                .with_hint("keyless signing needs a Fulcio, a Rekor log and (for Rekor v2) a timestamp authority")
        })?;
        let http = crate::net::client(crate::net::Redirects::Refuse, Some(SERVICE_TIMEOUT))?;
        let context = SigningContext::new(services).with_http_client(http);
        let identity = token.describe();
        Ok(KeylessSigner {
            signer: context.signer(token.token),
            instance: instance.clone(),
            identity,
            certified: std::sync::Mutex::new(None),
        })
    }

    /// Who signs, for messages: `dev@example.com from https://issuer`.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// Sign an in-toto statement: a fresh ephemeral key, its Fulcio certificate, the DSSE
    /// envelope, its log entry and timestamp. Returns the bundle's JSON.
    pub async fn sign_statement(&self, statement: &[u8]) -> Result<Vec<u8>> {
        let bundle = self
            .signer
            .sign_raw_statement(statement)
            .await
            .map_err(|e| service_error(e, &self.instance))?;
        let json = bundle
            .to_json()
            .map(String::into_bytes)
            .map_err(|e| Error::environment("the signed bundle does not serialize").caused_by(e))?;
        let mut certified = self.certified.lock().unwrap_or_else(|e| e.into_inner());
        if certified.is_none() {
            *certified = Certified::from_bundle_json(&json);
        }
        Ok(json)
    }

    /// What Fulcio certified (after the first signature): the identity a verifier trusts.
    pub fn certified(&self) -> Option<Certified> {
        self.certified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A signing failure as cleanpipe reports it: a service that cannot be reached or fails is
/// exit 3; a service that refuses what it was given (the token, above all) is exit 2.
fn service_error(e: sigstore_sign::Error, instance: &Instance) -> Error {
    use sigstore_sign::Error as E;
    // Fulcio's error carries its answer's body: masked and cut short like any server's.
    let text = crate::redact::Redactor::default().apply_to_shown_body(&e.to_string());
    let refused = match &e {
        E::Fulcio(sigstore_sign::fulcio::Error::Status { status, .. }) => {
            (400..500).contains(status)
        }
        E::Config(_) | E::InvalidStatement(_) | E::UnsupportedArtifact(_) => true,
        _ => false,
    };
    let service = match &e {
        E::Fulcio(_) => "Fulcio",
        E::Rekor(_) => "the transparency log (Rekor)",
        E::Tsa(_) => "the timestamp authority",
        E::Oidc(_) => "the OIDC issuer",
        _ => "signing",
    };
    if refused {
        Error::usage(format!("{service} refused to sign: {text}")).with_hint(
            "Fulcio certifies only tokens from the issuers it trusts, for audience `sigstore`, before they expire",
        )
    } else {
        Error::environment(format!(
            "{service} of {} failed: {text}; nothing was signed",
            instance.describe()
        ))
        .with_hint("check that the services in the signing config are reachable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt(claims: serde_json::Value) -> String {
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.c2ln",
            b64(&serde_json::json!({"alg": "ES256"})),
            b64(&claims)
        )
    }

    fn claims(aud: serde_json::Value, exp_from_now: i64) -> serde_json::Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        serde_json::json!({"iss": "https://issuer.test", "sub": "s", "email": "a@b.test", "aud": aud,
            "iat": now - 10, "exp": now + exp_from_now})
    }

    #[test]
    fn a_fresh_token_for_sigstore_is_taken() {
        let t = Token::parse(&jwt(claims("sigstore".into(), 300)), "test").unwrap();
        assert_eq!(t.describe(), "a@b.test from https://issuer.test");
        let many = serde_json::json!(["other", "sigstore"]);
        Token::parse(&jwt(claims(many, 300)), "test").unwrap();
    }

    #[test]
    fn expired_tokens_and_other_audiences_are_refused_by_name() {
        let e = Token::parse(&jwt(claims("sigstore".into(), -60)), "F")
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("from F") && e.to_string().contains("expired"),
            "{e}"
        );
        assert_eq!(e.exit_code(), crate::error::ExitCode::Usage);
        let e = Token::parse(&jwt(claims("api://other".into(), 300)), "F")
            .err()
            .unwrap();
        assert!(e.to_string().contains("`api://other`"), "{e}");
        let e = Token::parse("not-a-jwt", "F").err().unwrap();
        assert!(e.to_string().contains("not a JWT"), "{e}");
    }

    #[test]
    fn the_token_is_a_secret_once_read() {
        let token = jwt(claims("sigstore".into(), 300));
        let _ = Token::parse(&token, "test");
        let masked = crate::redact::Redactor::default().apply(&format!("got {token}"));
        assert!(!masked.contains(&token), "{masked}");
    }
}
