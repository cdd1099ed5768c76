//! Keys in HashiCorp Vault's (or OpenBao's) transit engine (`hashivault://KEY`, cosign's form):
//! the engine signs the SHA-256 digest cleanpipe computes (`POST /v1/MOUNT/sign/KEY/sha2-256`,
//! `prehashed`, ASN.1 signatures as cosign writes them); the public half comes from
//! `GET /v1/MOUNT/keys/KEY` (an `ecdsa-p256` key, its latest version).
//!
//! The server is `VAULT_ADDR` (https, or plain http on loopback), the token `VAULT_TOKEN`
//! (masked everywhere), the engine's mount `TRANSIT_SECRET_ENGINE_PATH` (default `transit`),
//! the variables cosign reads.

use base64::Engine;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::redact::Secret;
use crate::sign::keys::PublicKey;

/// A key in a transit engine, ready to sign.
pub struct VaultKey {
    uri: String,
    key: String,
    base: reqwest::Url,
    mount: String,
    token: Secret,
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultKey({})", self.uri)
    }
}

/// Open `hashivault://KEY`: read the server and token from `env`, fetch and check the key.
pub fn open(uri: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(VaultKey, PublicKey)> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    let key = uri
        .strip_prefix("hashivault://")
        .filter(|k| !k.is_empty() && !k.contains('/'))
        .ok_or_else(|| {
            Error::usage(format!("`{uri}` is not a usable hashivault:// key"))
                .with_hint("write `hashivault://KEY`, the transit key's name")
        })?;
    let missing = |what: &str| {
        Error::usage(format!("{uri}: {what} is not set"))
            .with_hint("export VAULT_ADDR (https://…, or http:// on loopback) and VAULT_TOKEN")
    };
    let addr = get("VAULT_ADDR").ok_or_else(|| missing("VAULT_ADDR"))?;
    // Credentials written into the address (userinfo, a token in the query) are secrets too.
    crate::redact::Redactor::default().add_url_parts(&addr);
    let token =
        crate::redact::secret_env(env, "VAULT_TOKEN").ok_or_else(|| missing("VAULT_TOKEN"))?;
    let base = crate::net::parse_checked(&addr)
        .map_err(|e| Error::usage(format!("{uri}: VAULT_ADDR {addr} is refused")).caused_by(e))?;
    let vault = VaultKey {
        uri: uri.to_string(),
        key: key.to_string(),
        base,
        mount: get("TRANSIT_SECRET_ENGINE_PATH").unwrap_or_else(|| "transit".into()),
        token,
    };
    let answer = vault.call(reqwest::Method::GET, &format!("keys/{key}"), None)?;
    let data = &answer["data"];
    if data["type"].as_str() != Some("ecdsa-p256") {
        return Err(Error::usage(format!(
            "{uri}: the transit key is of type {}, not ecdsa-p256",
            data["type"].as_str().unwrap_or("unknown")
        ))
        .with_hint("create it with `vault write transit/keys/NAME type=ecdsa-p256` (cosign's default algorithm)"));
    }
    let latest = data["latest_version"].as_u64().unwrap_or(1).to_string();
    let pem = data["keys"][&latest]["public_key"]
        .as_str()
        .ok_or_else(|| Error::environment(format!("{uri}: the engine returned no public key")))?;
    let public = PublicKey::from_pem(pem.as_bytes(), uri)?;
    Ok((vault, public))
}

impl VaultKey {
    /// The engine's ASN.1 ECDSA signature over SHA-256(`payload`).
    pub fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = serde_json::json!({
            "input": b64.encode(Sha256::digest(payload)),
            "prehashed": true,
            "marshaling_algorithm": "asn1",
        });
        let answer = self.call(
            reqwest::Method::POST,
            &format!("sign/{}/sha2-256", self.key),
            Some(body),
        )?;
        answer["data"]["signature"]
            .as_str()
            .and_then(|s| s.strip_prefix("vault:v"))
            .and_then(|s| s.split_once(':'))
            .and_then(|(_, sig)| b64.decode(sig).ok())
            .ok_or_else(|| {
                Error::environment(format!("{}: the engine returned no signature", self.uri))
            })
    }

    /// One request to the engine, on a thread of its own (callers are synchronous).
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let url = self
            .base
            .join(&format!("v1/{}/{path}", self.mount.trim_matches('/')))
            .map_err(|e| Error::usage(format!("{}: {e}", self.uri)))?;
        let token = self.token.clone();
        crate::net::key_service_request(&self.uri, move |client| {
            let request = client
                .request(method, url)
                .header("X-Vault-Token", token.expose());
            match body {
                Some(body) => request.json(&body),
                None => request,
            }
        })
    }
}

impl crate::sign::backends::HeldKey for VaultKey {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        VaultKey::sign(self, payload)
    }
}
