//! One HTTP policy for every request cleanpipe makes itself (registry reads, trusted keys by
//! URL, webhooks): what counts as this machine, where plain HTTP may go, which redirects are
//! followed, timeouts, and bodies read with a size bound instead of whole.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Connecting longer than this is a dead host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Per read, not per request: a stalled server fails instead of hanging the run, while a large
/// download that keeps moving is never cut off.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Redirect hops followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// Whether `host` (a name or an IP literal, IPv6 with or without brackets) is this machine:
/// an IP literal in 127.0.0.0/8, `::1`, or the name `localhost`. Nothing else, so a name such
/// as `127.evil.example` is not loopback. The one definition every check uses.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback(),
        Err(_) => false,
    }
}

/// Whether `url` may be contacted: https anywhere, plain http only to a loopback host.
/// The error says why, for messages that name the URL themselves.
pub fn check_url(url: &reqwest::Url) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host_str() {
            Some(h) if is_loopback_host(h) => Ok(()),
            _ => Err(format!(
                "plain http to `{}` is not allowed: only loopback hosts (127.0.0.0/8, ::1, localhost) may be reached without TLS; use https",
                url.host_str().unwrap_or("")
            )),
        },
        s => Err(format!("scheme `{s}` is not http(s)")),
    }
}

/// Parse `url` and apply [`check_url`].
pub fn parse_checked(url: &str) -> std::result::Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    check_url(&parsed)?;
    Ok(parsed)
}

/// `scheme://host[:port]` of a URL: enough to say where a request went without printing a
/// path or query that may carry a signed token.
pub fn origin(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
}

/// How a webhook or notification URL is printed: `scheme://host[:port]`, never its userinfo,
/// path or query (a Slack-style URL is its own credential). Something that does not parse as
/// a URL is not printed at all.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            (None, _) => format!("{}:", u.scheme()),
        },
        Err(_) => "(not a URL)".into(),
    }
}

/// How a client treats redirects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirects {
    /// Never follow: the caller sees the 3xx and says so (webhooks, which carry secrets in
    /// custom headers that reqwest would forward to any host).
    Refuse,
    /// Follow up to 5 hops, each checked with [`check_url`] and never from https to http.
    /// reqwest drops `Authorization` when a hop changes host, port or scheme.
    Checked,
}

/// Why a redirect was not followed (the source of reqwest's redirect error).
#[derive(Debug)]
struct RedirectRefused(String);

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedirectRefused {}

fn redirect_policy(redirects: Redirects) -> reqwest::redirect::Policy {
    match redirects {
        Redirects::Refuse => reqwest::redirect::Policy::none(),
        Redirects::Checked => reqwest::redirect::Policy::custom(|attempt| {
            let next = attempt.url().clone();
            let downgrade = attempt
                .previous()
                .last()
                .is_some_and(|p| p.scheme() == "https" && next.scheme() != "https");
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(RedirectRefused(format!(
                    "more than {MAX_REDIRECTS} redirects"
                )))
            } else if downgrade {
                attempt.error(RedirectRefused(format!(
                    "redirect from https to `{}` refused: never downgrade to plain http",
                    origin(&next)
                )))
            } else if let Err(why) = check_url(&next) {
                attempt.error(RedirectRefused(format!(
                    "redirect to `{}` refused: {why}",
                    origin(&next)
                )))
            } else {
                attempt.follow()
            }
        }),
    }
}

/// A client with cleanpipe's policy. `timeout` bounds a whole request (webhooks); without it,
/// only connecting and each read are bounded.
pub fn client(redirects: Redirects, timeout: Option<Duration>) -> Result<reqwest::Client> {
    client_with(redirects, timeout, READ_TIMEOUT)
}

/// [`client`] with another per-read timeout (`--registry-timeout`).
pub fn client_with(
    redirects: Redirects,
    timeout: Option<Duration>,
    read_timeout: Duration,
) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(redirect_policy(redirects))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(read_timeout)
        .user_agent(concat!("cleanpipe/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder
        .build()
        .map_err(|e| Error::environment("cannot make an HTTP client").caused_by(e))
}

/// Run `future` to completion on a runtime of its own, on a thread of its own: for the few
/// synchronous callers (key signing through KMS and Vault) that may themselves run inside
/// cleanpipe's runtime, where blocking on it is not allowed.
pub fn block_on<T: Send>(future: impl std::future::Future<Output = Result<T>> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::environment("cannot start a runtime").caused_by(e))?;
                runtime.block_on(future)
            })
            .join()
            .unwrap_or_else(|_| Err(Error::environment("the request thread failed")))
    })
}

/// One JSON request to a key service (a KMS, Vault) from synchronous code, built by `build`
/// from a client that never follows redirects (tokens travel in headers and bodies) and bounds
/// the whole request to 60 s. A 4xx answer is a usage error, anything else that fails an
/// environment error; the answer's body is masked and cut short. `who` names the key.
pub fn key_service_request(
    who: &str,
    build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder + Send,
) -> Result<serde_json::Value> {
    let who = who.to_string();
    block_on(async move {
        let client = client(Redirects::Refuse, Some(Duration::from_secs(60)))?;
        let response = build(&client).send().await.map_err(|e| {
            Error::environment(format!(
                "{who}: the service cannot be reached: {}",
                describe(&e)
            ))
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let shown = crate::redact::Redactor::default()
                .apply_truncated(&text, crate::redact::SHOWN_BODY);
            let error = format!("{who}: the service answered {status}: {shown}");
            return Err(if status.is_client_error() {
                Error::usage(error)
            } else {
                Error::environment(error)
            });
        }
        serde_json::from_str(&text)
            .map_err(|e| Error::environment(format!("{who}: the answer is not JSON")).caused_by(e))
    })
}

/// A short description of a request failure: the refused redirect, a timeout, or the root
/// cause, without reqwest's rendering of the full URL (which may hold secrets in a rewritten,
/// percent-encoded form).
pub fn describe(e: &reqwest::Error) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    let mut root = e.to_string();
    while let Some(next) = cur.source() {
        if let Some(r) = next.downcast_ref::<RedirectRefused>() {
            return r.to_string();
        }
        root = next.to_string();
        cur = next;
    }
    if e.is_timeout() {
        format!("timed out ({root})")
    } else if e.is_connect() {
        format!("cannot connect ({root})")
    } else {
        root
    }
}

/// Whether the error is a redirect this policy refused.
pub fn is_refused_redirect(e: &reqwest::Error) -> bool {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        if next.is::<RedirectRefused>() {
            return true;
        }
        cur = next;
    }
    false
}

/// Why a bounded read failed.
#[derive(Debug)]
pub enum ReadError {
    /// The body is larger than the limit (the size read so far or announced).
    TooLarge(u64),
    Transport(reqwest::Error),
}

/// Read a response body of at most `limit` bytes, chunk by chunk, stopping as soon as it is
/// over the limit (or refusing at once when `Content-Length` says so) instead of holding
/// the whole body.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: u64,
) -> std::result::Result<Vec<u8>, ReadError> {
    if let Some(len) = response.content_length() {
        if len > limit {
            return Err(ReadError::TooLarge(len));
        }
    }
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(ReadError::TooLarge((out.len() + chunk.len()) as u64));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `n` bytes as MiB for messages.
pub fn mib(n: u64) -> String {
    format!("{} MiB", n / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_ip_literals_and_localhost_only() {
        for h in [
            "127.0.0.1",
            "127.255.3.4",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "127.evil.example",
            "127.0.0.1.nip.io",
            "localhost.evil.example",
            "128.0.0.1",
            "198.51.100.7",
            "::2",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(parse_checked("https://deploy.example/x").is_ok());
        assert!(parse_checked("http://127.0.0.1:8080/x").is_ok());
        assert!(parse_checked("http://[::1]:8080/x").is_ok());
        assert!(parse_checked("http://127.evil.example/x").is_err());
        assert!(parse_checked("http://198.51.100.7/x").is_err());
        assert!(parse_checked("ftp://x/").is_err());
        assert!(parse_checked("not a url").is_err());
    }
}
