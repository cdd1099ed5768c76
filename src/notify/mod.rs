//! Deployment notifications (`push.register`): after a successful push, POST a JSON description
//! of the published image to each webhook, optionally HMAC-signed the way GitHub signs its
//! webhooks (`X-Cleanpipe-Signature-256: sha256=<hex>`), retrying transient failures.
//!
//! Redirects are refused, not followed: a webhook request carries custom headers (often a
//! bearer token) and the HMAC signature, which an HTTP client forwards to whatever host a
//! redirect names. A 3xx answer is an error that says where it pointed, so the user can put
//! the final URL in the pipeline, where `validate` checks it.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::redact::Redactor;

/// One webhook to call.
#[derive(Clone, Debug)]
pub struct Hook {
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// HMAC-SHA256 key for the signature header.
    pub secret: Option<String>,
    pub timeout: Duration,
}

/// What happened at one webhook.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Where it went: scheme and host only ([`crate::net::shown_url`]).
    pub url: String,
    pub status: u16,
    pub attempts: u32,
}

/// Attempts per webhook; only connection errors, timeouts, 429 and 5xx are retried.
const ATTEMPTS: u32 = 3;

/// Whether `url` may be called: https anywhere, plain http only on loopback (the rule of
/// [`crate::net::check_url`]).
pub fn check_url(url: &str) -> std::result::Result<(), String> {
    crate::net::parse_checked(url).map(|_| ())
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POST `body` to `hook`. A 2xx answer is success; anything else, after retries, is an error
/// saying where and what came back (secrets masked by `redactor`).
pub async fn deliver(
    hook: &Hook,
    event: &str,
    body: &[u8],
    delivery_id: &str,
    redactor: &Redactor,
) -> Result<Delivery> {
    // Scheme and host only: the path or query may be the credential (Slack's URLs are).
    redactor.add_url_parts(&hook.url);
    let shown = crate::net::shown_url(&hook.url);
    check_url(&hook.url)
        .map_err(|e| Error::usage(format!("webhook {shown} is refused")).caused_by(e))?;
    let client = crate::net::client(crate::net::Redirects::Refuse, Some(hook.timeout))?;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt - 1))).await;
        }
        let mut req = client
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header("X-Cleanpipe-Event", event)
            .header("X-Cleanpipe-Delivery", delivery_id);
        for (k, v) in &hook.headers {
            req = req.header(k, v);
        }
        if let Some(secret) = &hook.secret {
            req = req.header("X-Cleanpipe-Signature-256", signature(secret, body));
        }
        match req.body(body.to_vec()).send().await {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    return Ok(Delivery {
                        url: shown,
                        status: status.as_u16(),
                        attempts: attempt,
                    });
                }
                if status.is_redirection() {
                    let target = resp
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .and_then(|l| resp.url().join(l).ok())
                        .map(|u| crate::net::origin(&u))
                        .unwrap_or_else(|| "nowhere".into());
                    return Err(Error::environment(format!(
                        "webhook {shown} answered HTTP {status} redirecting to `{}`; webhook redirects are not followed (they would carry the headers and the HMAC signature elsewhere)",
                        redactor.apply(&target)
                    ))
                    .with_hint("put the final URL in `push.register[].url`; the image is published and tagged, re-running is safe"));
                }
                let text = crate::net::read_limited(resp, 64 * 1024)
                    .await
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                last = format!(
                    "HTTP {status}: {}",
                    redactor.apply_to_shown_body(text.trim())
                );
                if !(status.is_server_error() || status.as_u16() == 429) {
                    break;
                }
            }
            Err(e) => last = redactor.apply(&crate::net::describe(&e)),
        }
    }
    Err(Error::environment(format!("webhook {shown} failed: {last}")).with_hint(
        "the image is published and tagged; fix the receiver and re-run (the push is idempotent), or remove the hook from `push.register`",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_signatures() {
        assert!(check_url("https://deploy.example/api").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://deploy.example/api").is_err());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("not a url").is_err());
        assert_eq!(
            crate::net::shown_url("https://u:p@hooks.example:8443/services/T/B/X?token=y#f"),
            "https://hooks.example:8443"
        );
        assert_eq!(crate::net::shown_url("http://[::1]/x"), "http://[::1]");
        assert_eq!(crate::net::shown_url("hooks.example/x"), "(not a URL)");
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
