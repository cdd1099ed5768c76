//! Signing and verification keys in cosign's formats.

use std::path::{Path, PathBuf};

use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{CosignVerificationKey, SigStoreSigner, Signature, SigningScheme};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const ENCRYPTED_LABELS: &[&str] = &[
    "ENCRYPTED SIGSTORE PRIVATE KEY",
    "ENCRYPTED COSIGN PRIVATE KEY",
];

/// Where a private key comes from: a file, `env://VAR` holding the PEM, or a token or key
/// service that holds it (a URI one of [`crate::sign::backends::BACKENDS`] answers to, e.g.
/// `pkcs11:…`, `awskms://…`; the key never leaves it).
#[derive(Clone, Debug, PartialEq)]
pub enum KeySource {
    File(PathBuf),
    Env(String),
    Held(String),
}

impl KeySource {
    pub fn parse(s: &str) -> Self {
        if crate::sign::backends::find(s).is_some() {
            return KeySource::Held(s.to_string());
        }
        match s.strip_prefix("env://") {
            Some(var) => KeySource::Env(var.to_string()),
            None => KeySource::File(PathBuf::from(s)),
        }
    }

    /// Read the PEM. `env` looks up variables (the CLI passes the process environment).
    pub fn read(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            KeySource::File(path) => std::fs::read(path).map(Zeroizing::new).map_err(|e| {
                Error::usage(format!("cannot read the signing key `{}`: {e}", path.display()))
                    .with_hint("create one with `cleanpipe keygen`, or point `sign.key` at an existing cosign key")
            }),
            KeySource::Env(var) => match crate::redact::secret_env(env, var) {
                Some(v) if !v.expose().trim().is_empty() => {
                    // The PEM's body lines too, should a message quote part of it.
                    for line in v.expose().lines().filter(|l| !l.starts_with("-----")) {
                        crate::redact::Redactor::default().add(line.trim().to_string());
                    }
                    Ok(Zeroizing::new(v.expose().as_bytes().to_vec()))
                }
                _ => Err(Error::usage(format!("the signing key variable `{var}` is not set or empty"))
                    .with_hint(format!("export {var} with the PEM of a cosign private key"))),
            },
            KeySource::Held(_) => Err(Error::usage(format!(
                "`{self}` is a key in a token or KMS: it has no PEM to read"
            ))),
        }
    }
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "{}", p.display()),
            KeySource::Env(v) => write!(f, "env://{v}"),
            // Never a secret the URI carries (a PKCS#11 PIN).
            KeySource::Held(uri) => match crate::sign::backends::find(uri) {
                Some(backend) => f.write_str(&(backend.shown)(uri)),
                None => f.write_str(uri),
            },
        }
    }
}

/// A loaded private key, ready to sign.
pub struct SigningKey {
    signer: Signer,
    public: PublicKey,
}

/// Who computes signatures: cleanpipe with a key it holds, or a token or service that holds
/// the key.
enum Signer {
    Local(SigStoreSigner),
    Held(Box<dyn crate::sign::backends::HeldKey>),
}

impl SigningKey {
    /// Open the key `source` names: read and decrypt a key file or variable (asking `password`
    /// for an encrypted one), or open it in its token or key service. `env` looks up variables.
    pub fn open(
        source: &KeySource,
        env: &dyn Fn(&str) -> Option<String>,
        password: &dyn Fn() -> Result<Zeroizing<String>>,
    ) -> Result<Self> {
        match source {
            KeySource::Held(uri) => {
                let backend = crate::sign::backends::find(uri)
                    .expect("a held key source names a backend (KeySource::parse)");
                let (held, public) = (backend.open)(uri, env)?;
                Ok(SigningKey {
                    signer: Signer::Held(held),
                    public,
                })
            }
            KeySource::File(_) | KeySource::Env(_) => {
                SigningKey::load(&source.read(env)?, source, password)
            }
        }
    }

    /// Load a cosign/sigstore private key. Encrypted keys (decided by the PEM label, never by
    /// whether a password was given) ask `password` for their password; empty is valid.
    pub fn load(
        pem: &[u8],
        source: &KeySource,
        password: &dyn Fn() -> Result<Zeroizing<String>>,
    ) -> Result<Self> {
        let text = std::str::from_utf8(pem).map_err(|_| not_a_key(source, "it is not text"))?;
        let label = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("-----BEGIN ")
                    .and_then(|r| r.strip_suffix("-----"))
            })
            .ok_or_else(|| not_a_key(source, "it holds no PEM block"))?;
        let pair = if ENCRYPTED_LABELS.contains(&label) {
            let password = password()?;
            // Wherever it came from (COSIGN_PASSWORD, a prompt, a caller's own lookup), the
            // password is a secret before it is used.
            crate::redact::Redactor::default().add(password.as_str());
            SigStoreKeyPair::from_encrypted_pem(pem, password.as_bytes()).map_err(|_| {
                Error::usage(format!("cannot decrypt the signing key `{source}`: wrong password"))
                    .with_hint("set COSIGN_PASSWORD to the key's password (an empty password is written `COSIGN_PASSWORD=`)")
            })?
        } else if label == "PRIVATE KEY" || label == "EC PRIVATE KEY" {
            SigStoreKeyPair::from_pem(pem).map_err(|e| not_a_key(source, &e.to_string()))?
        } else {
            return Err(not_a_key(
                source,
                &format!("its PEM block is `{label}`, not a private key"),
            ));
        };
        let signer = pair
            .to_sigstore_signer(&SigningScheme::ECDSA_P256_SHA256_ASN1)
            .map_err(|_| {
                not_a_key(
                    source,
                    "only ECDSA P-256 keys (cosign's default) are supported",
                )
            })?;
        let public_pem = pair
            .public_key_to_pem()
            .map_err(|e| not_a_key(source, &e.to_string()))?;
        let public =
            PublicKey::from_pem(public_pem.as_bytes(), &format!("public half of {source}"))?;
        Ok(SigningKey {
            signer: Signer::Local(signer),
            public,
        })
    }

    /// ECDSA P-256 over SHA-256 of `payload`, ASN.1 DER, standard base64 (cosign's annotation form).
    pub fn sign_base64(&self, payload: &[u8]) -> Result<String> {
        use base64::Engine;
        let sig = match &self.signer {
            Signer::Local(signer) => signer
                .sign(payload)
                .map_err(|e| Error::environment("signing failed").caused_by(e))?,
            Signer::Held(key) => key.sign(payload)?,
        };
        Ok(base64::engine::general_purpose::STANDARD.encode(sig))
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

fn not_a_key(source: &KeySource, why: &str) -> Error {
    Error::usage(format!(
        "`{source}` is not a usable cosign private key: {why}"
    ))
    .with_hint("use a key made by `cleanpipe keygen` or `cosign generate-key-pair`")
}

/// A public key that verifies signatures.
#[derive(Clone)]
pub struct PublicKey {
    key: std::sync::Arc<CosignVerificationKey>,
    pem: String,
    name: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.name)
    }
}

impl PublicKey {
    /// Parse a PKIX `PUBLIC KEY` PEM. `name` says where it came from, for messages.
    pub fn from_pem(pem: &[u8], name: &str) -> Result<Self> {
        let key = CosignVerificationKey::try_from_pem(pem).map_err(|e| {
            Error::usage(format!("`{name}` is not a usable public key"))
                .caused_by(e)
                .with_hint(
                "give the `.pub` file written by `cleanpipe keygen` or `cosign generate-key-pair`",
            )
        })?;
        Ok(PublicKey {
            key: std::sync::Arc::new(key),
            pem: String::from_utf8_lossy(pem).into_owned(),
            name: name.to_string(),
        })
    }

    /// Read a public key from a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        refuse_signing_key_uri(&path.to_string_lossy())?;
        let pem = std::fs::read(path).map_err(|e| {
            Error::usage(format!(
                "cannot read the public key `{}`: {e}",
                path.display()
            ))
            .with_hint("check the path; `cleanpipe keygen` writes `cosign.pub`")
        })?;
        PublicKey::from_pem(&pem, &path.display().to_string())
    }

    /// Read a key from a path or an `https://` URL (plain `http://` only on loopback: anyone on
    /// the path could otherwise substitute the trust root). Redirects follow the same rule.
    pub async fn fetch(location: &str, base_dir: &Path) -> Result<Self> {
        refuse_signing_key_uri(location)?;
        if is_url(location) {
            let url = check_key_url(location)?;
            let failed = |why: String| {
                Error::environment(format!("cannot fetch the public key {location}: {why}"))
                    .with_hint("check the URL and the network, or store the key in the repository and give its path")
            };
            let client = crate::net::client(crate::net::Redirects::Checked, None)?;
            let response = client
                .get(url)
                .send()
                .await
                .map_err(|e| failed(crate::net::describe(&e)))?;
            if !response.status().is_success() {
                return Err(failed(format!("HTTP {}", response.status())));
            }
            let body = crate::net::read_limited(response, MAX_KEY_BYTES)
                .await
                .map_err(|e| match e {
                    crate::net::ReadError::TooLarge(_) => failed(format!(
                        "larger than {MAX_KEY_BYTES} bytes; not a public key"
                    )),
                    crate::net::ReadError::Transport(e) => failed(crate::net::describe(&e)),
                })?;
            return PublicKey::from_pem(&body, location);
        }
        PublicKey::from_file(&base_dir.join(location))
    }

    /// Whether `signature_b64` is this key's signature over `payload`.
    pub fn verify_base64(&self, signature_b64: &str, payload: &[u8]) -> bool {
        self.key
            .verify_signature(Signature::Base64Encoded(signature_b64.as_bytes()), payload)
            .is_ok()
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The sha256 of the key's DER SubjectPublicKeyInfo: names the key independently of how
    /// its PEM is wrapped (it marks which attestation layers a key wrote; see `sign::attest`).
    pub fn fingerprint(&self) -> crate::oci::types::Digest {
        use base64::Engine;
        let body: String = self
            .pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .unwrap_or_else(|_| self.pem.trim().as_bytes().to_vec());
        crate::oci::types::Digest::of(&der)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A token or KMS key given where a public key (PEM file or URL) is read: refused, naming it
/// without its PIN, with the way to get its public half.
fn refuse_signing_key_uri(location: &str) -> Result<()> {
    let source = KeySource::parse(location);
    if matches!(source, KeySource::Held(_)) {
        return Err(Error::usage(format!(
            "`{source}` is a signing key in a token or KMS; verification reads its public key as a PEM file or https:// URL"
        ))
        .with_hint("export it once with `cleanpipe public-key --key URI -o key.pub` and give that file"));
    }
    Ok(())
}

/// A DER SubjectPublicKeyInfo as a `PUBLIC KEY` PEM (what cosign writes and reads), for keys
/// whose public half comes from a token or KMS as DER.
pub fn public_key_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

/// A PEM public key is a few hundred bytes; anything past this is not one.
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// Whether a key location is a URL rather than a path.
pub fn is_url(location: &str) -> bool {
    location.contains("://")
}

/// The URL of a trusted key, if it may be fetched: https, or http on loopback only. Used by
/// `validate` and again before fetching.
pub fn check_key_url(location: &str) -> Result<reqwest::Url> {
    crate::net::parse_checked(location).map_err(|why| {
        Error::usage(format!(
            "the trusted key URL `{location}` is refused: {why}"
        ))
        .with_hint("serve the key over https, or commit the `.pub` file and give its path")
    })
}

/// A new cosign-format key pair: (encrypted private PEM, public PEM).
pub fn generate(password: &[u8]) -> Result<(Zeroizing<String>, String)> {
    let pair = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .and_then(|s| s.to_sigstore_keypair())
        .map_err(|e| Error::environment("cannot generate a key pair").caused_by(e))?;
    let private = pair
        .private_key_to_encrypted_pem(password)
        .map_err(|e| Error::environment("cannot encrypt the private key").caused_by(e))?;
    let public = pair
        .public_key_to_pem()
        .map_err(|e| Error::environment("cannot encode the public key").caused_by(e))?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cosign")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {} missing: {e}", path.display()))
    }

    fn pw(p: &'static str) -> impl Fn() -> Result<Zeroizing<String>> {
        move || Ok(Zeroizing::new(p.to_string()))
    }

    #[test]
    fn an_unusable_public_key_says_which_and_keeps_why() {
        let e = PublicKey::from_pem(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "k.pub",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "`k.pub` is not a usable public key");
        assert!(
            !e.causes().is_empty(),
            "the parse error is kept as the cause"
        );
        assert!(e.hint().is_some());
    }

    #[test]
    fn fingerprint_ignores_pem_wrapping() {
        let (_, public) = generate(b"").unwrap();
        let a = PublicKey::from_pem(public.as_bytes(), "a").unwrap();
        let rewrapped = public.replace('\n', "\r\n");
        let b = PublicKey::from_pem(rewrapped.as_bytes(), "b").unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let (_, other) = generate(b"").unwrap();
        let c = PublicKey::from_pem(other.as_bytes(), "c").unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn cosign_generated_key_signs_and_its_pub_verifies() {
        let src = KeySource::File("cosign.key".into());
        let key = SigningKey::load(
            &fixture("cosign-generated-empty-password.key"),
            &src,
            &pw(""),
        )
        .unwrap();
        let public =
            PublicKey::from_pem(&fixture("cosign-generated-empty-password.pub"), "fixture")
                .unwrap();
        let sig = key.sign_base64(b"payload").unwrap();
        assert!(public.verify_base64(&sig, b"payload"));
        assert!(!public.verify_base64(&sig, b"other payload"));
    }

    #[test]
    fn cosign_generated_key_refuses_wrong_password() {
        let src = KeySource::File("cosign.key".into());
        let err = SigningKey::load(
            &fixture("cosign-generated-empty-password.key"),
            &src,
            &pw("nope"),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("wrong password"), "{err}");
        assert_eq!(err.exit_code(), crate::ExitCode::Usage);
    }

    #[tokio::test]
    async fn key_urls_are_https_only_except_loopback_before_any_request() {
        let dir = Path::new(".");
        for url in [
            "http://198.51.100.7/k.pub",
            "http://127.evil.example/k.pub",
            "ftp://keys.example/k.pub",
        ] {
            let err = PublicKey::fetch(url, dir).await.unwrap_err();
            assert!(err.to_string().contains("is refused"), "{err}");
            assert_eq!(err.exit_code(), crate::ExitCode::Usage);
        }
        assert!(check_key_url("https://keys.example/k.pub").is_ok());
        assert!(check_key_url("http://127.0.0.1:8080/k.pub").is_ok());
    }

    #[test]
    fn generated_keys_round_trip() {
        let (private, public) = generate(b"s3cret").unwrap();
        assert!(private.contains("ENCRYPTED SIGSTORE PRIVATE KEY"));
        let src = KeySource::File("k".into());
        let key = SigningKey::load(private.as_bytes(), &src, &pw("s3cret")).unwrap();
        let public = PublicKey::from_pem(public.as_bytes(), "pub").unwrap();
        assert!(public.verify_base64(&key.sign_base64(b"x").unwrap(), b"x"));
    }
}
