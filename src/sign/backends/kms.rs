//! Keys in AWS KMS (`awskms://[ENDPOINT]/KEY`, cosign's form): KMS signs the SHA-256 digest
//! cleanpipe computes (`Sign` with `MessageType: DIGEST`, `ECDSA_SHA_256`) and returns the DER
//! signature cosign writes; the public half comes from `GetPublicKey`. Requests are signed with
//! AWS Signature Version 4 from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and
//! `AWS_SESSION_TOKEN`), region `AWS_REGION`/`AWS_DEFAULT_REGION` or the key ARN's.
//!
//! `KEY` is a key id, `alias/NAME` or an ARN. `ENDPOINT` (`host[:port]`) is for KMS-compatible
//! servers and emulators; plain HTTP only to loopback (the rule of [`crate::net`]).

use crate::error::{Error, Result};
use crate::redact::Secret;
use crate::sign::keys::PublicKey;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

/// A parsed `awskms://` URI.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsKmsUri {
    /// `host[:port]` of a KMS-compatible endpoint; `None`: AWS's regional endpoint.
    pub endpoint: Option<String>,
    pub key: String,
}

impl AwsKmsUri {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::usage(format!("`{text}` is not a usable awskms:// key: {why}"))
                .with_hint("write `awskms:///alias/NAME`, `awskms:///KEY-ID`, `awskms:///arn:aws:kms:…` or `awskms://HOST:PORT/alias/NAME`")
        };
        let rest = text
            .strip_prefix("awskms://")
            .ok_or_else(|| bad("it does not start with `awskms://`"))?;
        let (endpoint, key) = rest
            .split_once('/')
            .ok_or_else(|| bad("it names no key after the endpoint"))?;
        if key.is_empty() {
            return Err(bad("it names no key"));
        }
        Ok(AwsKmsUri {
            endpoint: (!endpoint.is_empty()).then(|| endpoint.to_string()),
            key: key.to_string(),
        })
    }
}

impl std::fmt::Display for AwsKmsUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "awskms://{}/{}",
            self.endpoint.as_deref().unwrap_or(""),
            self.key
        )
    }
}

/// Credentials and where to send requests.
#[derive(Clone)]
struct Account {
    access_key: Secret,
    secret_key: Secret,
    session_token: Option<Secret>,
    region: String,
    url: reqwest::Url,
}

/// A key in AWS KMS, ready to sign.
pub struct KmsKey {
    uri: AwsKmsUri,
    account: Account,
}

impl std::fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KmsKey({})", self.uri)
    }
}

/// Open the key: read the credentials from `env`, fetch and check the public key.
pub fn open(uri: &AwsKmsUri, env: &dyn Fn(&str) -> Option<String>) -> Result<(KmsKey, PublicKey)> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    let missing = |what: &str| {
        Error::usage(format!("{uri}: {what} is not set"))
            .with_hint("export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION (AWS_SESSION_TOKEN for temporary credentials)")
    };
    let from_arn = uri
        .key
        .strip_prefix("arn:aws:kms:")
        .and_then(|r| r.split(':').next())
        .map(String::from);
    let region = get("AWS_REGION")
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .or(from_arn)
        .ok_or_else(|| missing("the region (AWS_REGION)"))?;
    let base = match &uri.endpoint {
        Some(host) => {
            let loopback = crate::net::is_loopback_host(
                host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h),
            );
            format!("{}://{host}/", if loopback { "http" } else { "https" })
        }
        None => format!("https://kms.{region}.amazonaws.com/"),
    };
    let url = crate::net::parse_checked(&base)
        .map_err(|e| Error::usage(format!("{uri}: the endpoint {base} is refused")).caused_by(e))?;
    // Credentials are secrets from the moment they are read (the access key id too: it is
    // half of the pair and names the account).
    let secret = |k: &str| crate::redact::secret_env(env, k);
    let account = Account {
        access_key: secret("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?,
        secret_key: secret("AWS_SECRET_ACCESS_KEY")
            .ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?,
        session_token: secret("AWS_SESSION_TOKEN"),
        region,
        url,
    };
    let key = KmsKey {
        uri: uri.clone(),
        account,
    };
    let answer = key.call("GetPublicKey", serde_json::json!({ "KeyId": uri.key }))?;
    if answer["KeySpec"].as_str() != Some("ECC_NIST_P256")
        || answer["KeyUsage"].as_str() != Some("SIGN_VERIFY")
    {
        return Err(Error::usage(format!(
            "{uri}: the key is {} for {}, not an ECC_NIST_P256 signing key",
            answer["KeySpec"].as_str().unwrap_or("of unknown spec"),
            answer["KeyUsage"].as_str().unwrap_or("an unknown use")
        ))
        .with_hint("create it with `--key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY` (cosign's default algorithm)"));
    }
    let der = answer["PublicKey"]
        .as_str()
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        })
        .ok_or_else(|| Error::environment(format!("{uri}: GetPublicKey returned no public key")))?;
    let public = PublicKey::from_pem(
        crate::sign::keys::public_key_pem(&der).as_bytes(),
        &uri.to_string(),
    )?;
    Ok((key, public))
}

impl KmsKey {
    /// ECDSA P-256 over SHA-256 of `payload`, DER, computed by KMS.
    pub fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let digest = Sha256::digest(payload);
        let answer = self.call(
            "Sign",
            serde_json::json!({
                "KeyId": self.uri.key,
                "Message": b64.encode(digest),
                "MessageType": "DIGEST",
                "SigningAlgorithm": "ECDSA_SHA_256",
            }),
        )?;
        answer["Signature"]
            .as_str()
            .and_then(|s| b64.decode(s).ok())
            .ok_or_else(|| Error::environment(format!("{}: Sign returned no signature", self.uri)))
    }

    /// One KMS JSON request (`TrentService.ACTION`), SigV4-signed, on its own thread and
    /// runtime: signing is called from synchronous code inside and outside async tasks.
    fn call(&self, action: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        let body = serde_json::to_vec(&body).expect("a request serializes");
        let (account, uri) = (self.account.clone(), self.uri.to_string());
        let action = action.to_string();
        crate::net::block_on(async move { request(&account, &uri, &action, body).await })
    }
}

async fn request(
    account: &Account,
    uri: &str,
    action: &str,
    body: Vec<u8>,
) -> Result<serde_json::Value> {
    let now = time::OffsetDateTime::now_utc();
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let host = match account.url.port() {
        Some(p) => format!("{}:{p}", account.url.host_str().unwrap_or("")),
        None => account.url.host_str().unwrap_or("").to_string(),
    };
    let target = format!("TrentService.{action}");
    let mut headers = vec![
        ("content-type", "application/x-amz-json-1.1".to_string()),
        ("host", host),
        ("x-amz-date", amz_date.clone()),
        ("x-amz-target", target),
    ];
    if let Some(token) = &account.session_token {
        headers.push(("x-amz-security-token", token.expose().to_string()));
    }
    let authorization = sigv4_authorization(
        &SigV4 {
            access_key: account.access_key.expose(),
            secret_key: account.secret_key.expose(),
            region: &account.region,
            service: "kms",
            amz_date: &amz_date,
        },
        "POST",
        "/",
        "",
        &headers,
        &body,
    );
    let client = crate::net::client(
        crate::net::Redirects::Refuse,
        Some(std::time::Duration::from_secs(30)),
    )?;
    let mut req = client.post(account.url.clone()).body(body);
    for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
        req = req.header(*k, v);
    }
    let response = req
        .header("authorization", authorization)
        .send()
        .await
        .map_err(|e| {
            Error::environment(format!("{uri}: {action}: {}", crate::net::describe(&e)))
        })?;
    let status = response.status();
    let bytes = crate::net::read_limited(response, 1024 * 1024)
        .await
        .map_err(|_| {
            Error::environment(format!("{uri}: {action}: the answer could not be read"))
        })?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if !status.is_success() {
        let kind = value["__type"].as_str().unwrap_or("error");
        let message = value["message"]
            .as_str()
            .or(value["Message"].as_str())
            .unwrap_or("");
        // The answer is quoted masked and cut short: a server (or anything in between) may echo
        // the request, signed headers and session token included.
        let redactor = crate::redact::Redactor::default();
        let err = format!(
            "{uri}: {action}: HTTP {status}: {}",
            redactor.apply_to_shown_body(&format!("{kind} {message}"))
        );
        return Err(if status.is_client_error() {
            Error::usage(err).with_hint("check the key id or alias, the region and the credentials' permissions (kms:Sign, kms:GetPublicKey)")
        } else {
            Error::environment(err)
        });
    }
    Ok(value)
}

/// What a SigV4 signature is computed with.
struct SigV4<'a> {
    access_key: &'a str,
    secret_key: &'a str,
    region: &'a str,
    service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    amz_date: &'a str,
}

/// The `Authorization` header of AWS Signature Version 4 for a request with `headers` (lowercase
/// names), `query` (already canonical: sorted, encoded) and `body`.
fn sigv4_authorization(
    s: &SigV4<'_>,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> String {
    let mut sorted: Vec<&(&str, String)> = headers.iter().collect();
    sorted.sort_by_key(|(k, _)| *k);
    let canonical_headers: String = sorted
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed_headers = sorted.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(";");
    let canonical = format!(
        "{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let date = &s.amz_date[..8];
    let scope = format!("{date}/{}/{}/aws4_request", s.region, s.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        s.amz_date,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(s.secret_key, date, s.region, s.service);
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={}",
        s.access_key,
        hex::encode(hmac(&key, to_sign.as_bytes()))
    )
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

impl crate::sign::backends::HeldKey for KmsKey {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        KmsKey::sign(self, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse() {
        let u = AwsKmsUri::parse("awskms:///alias/release").unwrap();
        assert_eq!((u.endpoint, u.key.as_str()), (None, "alias/release"));
        let u = AwsKmsUri::parse("awskms://127.0.0.1:4599/alias/release").unwrap();
        assert_eq!(u.endpoint.as_deref(), Some("127.0.0.1:4599"));
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            AwsKmsUri::parse(&format!("awskms:///{arn}")).unwrap().key,
            arn
        );
        for bad in ["awskms://", "awskms://host", "awskms:///", "gcpkms://x"] {
            assert!(AwsKmsUri::parse(bad).is_err(), "{bad}");
        }
    }

    /// The IAM `ListUsers` example of AWS's SigV4 documentation, end to end.
    #[test]
    fn sigv4_matches_the_documented_example_request() {
        let auth = sigv4_authorization(
            &SigV4 {
                access_key: "AKIDEXAMPLE",
                secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                region: "us-east-1",
                service: "iam",
                amz_date: "20150830T123600Z",
            },
            "GET",
            "/",
            "Action=ListUsers&Version=2010-05-08",
            &[
                (
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                ),
                ("host", "iam.amazonaws.com".into()),
                ("x-amz-date", "20150830T123600Z".into()),
            ],
            b"",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    /// The signing-key derivation example of AWS's SigV4 documentation.
    #[test]
    fn sigv4_signing_key_matches_the_documented_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
