//! Keys in Google Cloud KMS (`gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]`)
//! and Azure Key Vault (`azurekms://VAULT.vault.azure.net/KEY[/VERSION]`), cosign's URI forms,
//! through their documented REST APIs. Both sign the SHA-256 digest cleanpipe computes with an
//! EC P-256 key and return what cosign writes (an ASN.1 DER signature).
//!
//! **Untested against the real services**: neither has a server or emulator that builds on
//! cleanpipe's test machine. Credentials are kept to the simplest documented forms: an OAuth
//! access token in `GOOGLE_OAUTH_ACCESS_TOKEN` (`gcloud auth print-access-token`); for Azure,
//! a service principal's `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`
//! (client-credentials grant). Tokens and secrets are masked everywhere.

use base64::Engine;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::redact::Secret;
use crate::sign::keys::PublicKey;

const GCP_KMS: &str = "https://cloudkms.googleapis.com/v1/";
const AZURE_LOGIN: &str = "https://login.microsoftonline.com";
const AZURE_API: &str = "api-version=7.4";

/// A cloud KMS key, ready to sign.
pub enum CloudKey {
    Gcp {
        uri: String,
        version: String,
        token: Secret,
    },
    Azure {
        uri: String,
        key_url: String,
        token: Secret,
    },
}

impl std::fmt::Debug for CloudKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloudKey::Gcp { uri, .. } | CloudKey::Azure { uri, .. } => write!(f, "CloudKey({uri})"),
        }
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Open `gcpkms://…` or `azurekms://…`: credentials from `env`, the public key fetched.
pub fn open(uri: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(CloudKey, PublicKey)> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    let missing = |what: &str, hint: &str| {
        Error::usage(format!("{uri}: {what} is not set")).with_hint(hint.to_string())
    };
    if let Some(name) = uri.strip_prefix("gcpkms://") {
        let parts: Vec<&str> = name.split('/').collect();
        let shape_ok = matches!(parts.len(), 8 | 10)
            && parts[0] == "projects"
            && parts[2] == "locations"
            && parts[4] == "keyRings"
            && parts[6] == "cryptoKeys"
            && (parts.len() == 8 || parts[8] == "cryptoKeyVersions")
            && parts
                .iter()
                .all(|p| !p.is_empty() && !p.contains(['?', '#', ':']));
        if !shape_ok {
            return Err(Error::usage(format!("`{uri}` is not a usable gcpkms:// key")).with_hint(
                "write `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]`",
            ));
        }
        let token =
            crate::redact::secret_env(env, "GOOGLE_OAUTH_ACCESS_TOKEN").ok_or_else(|| {
                missing(
                    "GOOGLE_OAUTH_ACCESS_TOKEN",
                    "export GOOGLE_OAUTH_ACCESS_TOKEN=$(gcloud auth print-access-token)",
                )
            })?;
        let version = if parts.len() == 10 {
            name.to_string()
        } else {
            // The newest enabled version, as cosign takes it.
            let listed = call(
                uri,
                reqwest::Method::GET,
                &format!("{GCP_KMS}{name}/cryptoKeyVersions?filter=state%3DENABLED"),
                &token,
                None,
            )?;
            listed["cryptoKeyVersions"]
                .as_array()
                .and_then(|v| {
                    v.iter()
                        .filter_map(|k| k["name"].as_str())
                        .max_by_key(|n| n.rsplit('/').next().and_then(|x| x.parse::<u64>().ok()))
                        .map(str::to_string)
                })
                .ok_or_else(|| Error::usage(format!("{uri}: the key has no enabled version")))?
        };
        let answer = call(
            uri,
            reqwest::Method::GET,
            &format!("{GCP_KMS}{version}/publicKey"),
            &token,
            None,
        )?;
        if answer["algorithm"].as_str() != Some("EC_SIGN_P256_SHA256") {
            return Err(Error::usage(format!(
                "{uri}: the key's algorithm is {}, not EC_SIGN_P256_SHA256",
                answer["algorithm"].as_str().unwrap_or("unknown")
            )));
        }
        let pem = answer["pem"].as_str().ok_or_else(|| {
            Error::environment(format!("{uri}: Cloud KMS returned no public key"))
        })?;
        let public = PublicKey::from_pem(pem.as_bytes(), uri)?;
        return Ok((
            CloudKey::Gcp {
                uri: uri.to_string(),
                version,
                token,
            },
            public,
        ));
    }
    let rest = uri
        .strip_prefix("azurekms://")
        .ok_or_else(|| Error::usage(format!("`{uri}` is not a cloud KMS key")))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let host_ok = |h: &str| {
        h.ends_with(".vault.azure.net")
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    let segment_ok =
        |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !(matches!(parts.len(), 2 | 3) && host_ok(parts[0]) && parts[1..].iter().all(segment_ok)) {
        return Err(
            Error::usage(format!("`{uri}` is not a usable azurekms:// key"))
                .with_hint("write `azurekms://VAULT.vault.azure.net/KEY[/VERSION]`"),
        );
    }
    let hint = "export AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service principal allowed to sign with the key)";
    let tenant = get("AZURE_TENANT_ID").ok_or_else(|| missing("AZURE_TENANT_ID", hint))?;
    let client = get("AZURE_CLIENT_ID").ok_or_else(|| missing("AZURE_CLIENT_ID", hint))?;
    let secret = crate::redact::secret_env(env, "AZURE_CLIENT_SECRET")
        .ok_or_else(|| missing("AZURE_CLIENT_SECRET", hint))?;
    if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(Error::usage(format!(
            "{uri}: AZURE_TENANT_ID is not a tenant id or domain"
        )));
    }
    let token = azure_token(uri, &tenant, &client, &secret)?;
    let key_url = format!("https://{}", parts.join("/").replacen('/', "/keys/", 1));
    let answer = call(
        uri,
        reqwest::Method::GET,
        &format!("{key_url}?{AZURE_API}"),
        &token,
        None,
    )?;
    let jwk = &answer["key"];
    if jwk["kty"].as_str() != Some("EC") || jwk["crv"].as_str() != Some("P-256") {
        return Err(Error::usage(format!(
            "{uri}: the key is not an EC P-256 key"
        )));
    }
    let coordinate = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(|v| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(v)
                    .ok()
            })
            .filter(|v| v.len() == 32)
            .ok_or_else(|| {
                Error::environment(format!(
                    "{uri}: the key's `{name}` is not a P-256 coordinate"
                ))
            })
    };
    // SubjectPublicKeyInfo of an uncompressed P-256 point: the fixed prefix, 04, x, y.
    let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").expect("hex");
    der.push(4);
    der.extend(coordinate("x")?);
    der.extend(coordinate("y")?);
    let public = PublicKey::from_pem(crate::sign::keys::public_key_pem(&der).as_bytes(), uri)?;
    // Sign with the version the key answered with, so the signature and the public key agree.
    let key_url = jwk["kid"].as_str().map(str::to_string).unwrap_or(key_url);
    Ok((
        CloudKey::Azure {
            uri: uri.to_string(),
            key_url,
            token,
        },
        public,
    ))
}

impl CloudKey {
    /// The service's ASN.1 DER ECDSA signature over SHA-256(`payload`).
    pub fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let digest = Sha256::digest(payload);
        match self {
            CloudKey::Gcp {
                uri,
                version,
                token,
            } => {
                let body = serde_json::json!({ "digest": { "sha256": b64().encode(digest) } });
                let answer = call(
                    uri,
                    reqwest::Method::POST,
                    &format!("{GCP_KMS}{version}:asymmetricSign"),
                    token,
                    Some(body),
                )?;
                answer["signature"]
                    .as_str()
                    .and_then(|s| b64().decode(s).ok())
                    .ok_or_else(|| {
                        Error::environment(format!("{uri}: Cloud KMS returned no signature"))
                    })
            }
            CloudKey::Azure {
                uri,
                key_url,
                token,
            } => {
                let url64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let body = serde_json::json!({ "alg": "ES256", "value": url64.encode(digest) });
                let answer = call(
                    uri,
                    reqwest::Method::POST,
                    &format!("{key_url}/sign?{AZURE_API}"),
                    token,
                    Some(body),
                )?;
                // Key Vault answers r || s (64 bytes); cosign's signatures are DER.
                let raw = answer["value"]
                    .as_str()
                    .and_then(|s| url64.decode(s).ok())
                    .ok_or_else(|| {
                        Error::environment(format!("{uri}: Key Vault returned no signature"))
                    })?;
                let signature = p256::ecdsa::Signature::from_slice(&raw).map_err(|e| {
                    Error::environment(format!(
                        "{uri}: Key Vault's signature is not an ECDSA P-256 signature"
                    ))
                    .caused_by(e)
                })?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
        }
    }
}

/// An access token for Key Vault from a service principal (OAuth client-credentials grant).
fn azure_token(uri: &str, tenant: &str, client: &str, secret: &Secret) -> Result<Secret> {
    let url = format!("{AZURE_LOGIN}/{tenant}/oauth2/v2.0/token");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", secret.expose()),
        ("scope", "https://vault.azure.net/.default"),
    ];
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&");
    let answer = request(
        uri,
        reqwest::Method::POST,
        &url,
        None,
        Some(("application/x-www-form-urlencoded", body.into_bytes())),
    )?;
    answer["access_token"]
        .as_str()
        .map(Secret::new)
        .ok_or_else(|| Error::usage(format!("{uri}: Azure sign-in returned no access token")))
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn call(
    uri: &str,
    method: reqwest::Method,
    url: &str,
    token: &Secret,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value> {
    let body = body.map(|b| {
        (
            "application/json",
            serde_json::to_vec(&b).expect("a request serializes"),
        )
    });
    request(uri, method, url, Some(token), body)
}

/// One HTTPS request through [`crate::net::key_service_request`].
fn request(
    uri: &str,
    method: reqwest::Method,
    url: &str,
    token: Option<&Secret>,
    body: Option<(&'static str, Vec<u8>)>,
) -> Result<serde_json::Value> {
    let url = crate::net::parse_checked(url)
        .map_err(|e| Error::usage(format!("{uri}: the service URL is refused")).caused_by(e))?;
    let token = token.cloned();
    crate::net::key_service_request(uri, move |client| {
        let mut request = client.request(method, url);
        if let Some(token) = &token {
            request = request.bearer_auth(token.expose());
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("Content-Type", content_type).body(bytes);
        }
        request
    })
}

impl crate::sign::backends::HeldKey for CloudKey {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        CloudKey::sign(self, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_missing_credentials_are_refused_before_any_request() {
        let none = |_: &str| None;
        for bad in [
            "gcpkms://projects/p/locations/l/keyRings/r",
            "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k/versions/1",
            "azurekms://evil.example/key",
            "azurekms://v.vault.azure.net/",
            "azurekms://v.vault.azure.net/k/1/extra",
        ] {
            let e = open(bad, &none).unwrap_err();
            assert!(e.to_string().contains("not a usable"), "{bad}: {e}");
        }
        let e = open(
            "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
            &none,
        )
        .unwrap_err();
        assert!(e.to_string().contains("GOOGLE_OAUTH_ACCESS_TOKEN"), "{e}");
        let e = open("azurekms://v.vault.azure.net/k", &none).unwrap_err();
        assert!(e.to_string().contains("AZURE_TENANT_ID"), "{e}");
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(percent("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
