//! The HTTP session with one registry: the `/v2/` challenge and its checked token service,
//! tokens, Bearer/Basic credentials on requests, request plumbing ([`Call`], [`Op`]), and
//! transport failures turned into errors that say what to do, and the [`RetryPolicy`] for
//! transient failures.
//!
//! Every request (the `/v2/` challenge, token fetches, manifests, blobs, uploads) goes through
//! cleanpipe's own HTTP client ([`crate::net`]): bounded bodies, redirects followed only under
//! the one policy (https, or http to loopback; never https → http; `Authorization` dropped when
//! a hop changes host), and credentials attached only to requests for the registry itself. The
//! registry's token service (`Bearer realm`) is read from its `/v2/` challenge once and checked
//! before any credential is sent: credentials never go over plain HTTP to a host that is not
//! loopback, whether the registry itself or its token service. `oci-client` lends only its
//! reference and credential types (its own client follows redirects with reqwest's default
//! policy and re-reads the challenge on its own, so it is not used for requests).

use std::collections::HashMap;

use oci_client::secrets::RegistryAuth;
use oci_client::Reference;

use super::auth::docker_config_auth;
use super::{Remote, RemoteOptions};
use crate::error::{Error, Result};
use crate::oci::reference::RegistryRef;
use crate::redact::{Redactor, Secret};

/// What a [`Remote`] holds.
pub struct Conn {
    auth: RegistryAuth,
    pub(super) registry: String,
    /// Where requests go: the registry's host, `index.docker.io` for `docker.io`.
    host: String,
    /// `http` or `https`.
    pub(super) scheme: &'static str,
    loopback: bool,
    pub(super) http: reqwest::Client,
    session: Session,
    /// Transfer progress and `-v` request lines.
    pub(super) progress: crate::progress::Progress,
    /// When a request that failed in passing is sent again.
    pub(super) retry: RetryPolicy,
}

/// What a connection learns as it goes.
#[derive(Default)]
struct Session {
    /// The token service the `/v2/` challenge named, once checked (see [`Remote::ready`]).
    checked: tokio::sync::OnceCell<Option<TokenService>>,
    /// Tokens per repository and operation, from the registry's token service.
    tokens: tokio::sync::Mutex<HashMap<String, Option<String>>>,
}

impl Conn {
    /// The connection to the registry `image` lives in: plain HTTP only when asked or on
    /// loopback, and never with credentials to a registry elsewhere.
    pub(super) fn new(image: &RegistryRef, options: &RemoteOptions) -> Result<Self> {
        let scheme = if options.insecure || image.is_loopback() {
            "http"
        } else {
            "https"
        };
        // Per read, not per request: a stalled registry fails instead of hanging the run.
        let read_timeout = options.read_timeout.unwrap_or(crate::net::READ_TIMEOUT);
        let auth = match &options.credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.expose().to_string()),
            None => match &options.docker_config {
                Some(path) => docker_config_auth(path, &image.registry)?,
                None => RegistryAuth::Anonymous,
            },
        };
        let loopback = image.is_loopback();
        if scheme == "http" && !loopback && !matches!(auth, RegistryAuth::Anonymous) {
            return Err(Error::usage(format!(
                "refusing to send credentials for registry `{}` over plain HTTP: only loopback registries may be reached with credentials without TLS",
                image.registry
            ))
            .with_hint("serve the registry over https (drop `push.insecure` / `--insecure`), or remove its credentials to use it anonymously"));
        }
        Ok(Conn {
            auth,
            registry: image.registry.clone(),
            host: Reference::with_tag(
                image.registry.clone(),
                image.repository.clone(),
                "latest".into(),
            )
            .resolve_registry()
            .to_string(),
            scheme,
            loopback,
            http: crate::net::client_with(crate::net::Redirects::Checked, None, read_timeout)?,
            session: Session::default(),
            progress: options.progress.clone(),
            retry: options.retry.clone(),
        })
    }
}

impl Remote {
    /// `scheme://host/v2/…` for `tail`.
    fn url(&self, tail: &str) -> String {
        format!("{}://{}/v2/{tail}", self.scheme, self.host)
    }

    /// Ask the registry's `/v2/` once which token service it uses, and check it before any
    /// credential is sent: a `Bearer realm` over plain HTTP gets credentials only when both it
    /// and the registry are on this machine. The service checked is the one tokens are then
    /// fetched from, so a later challenge cannot redirect the credentials.
    async fn ready(&self) -> Result<Option<TokenService>> {
        self.session
            .checked
            .get_or_try_init(|| async {
                let url = reqwest::Url::parse(&self.url("")).map_err(|e| {
                    Error::environment(format!(
                        "registry `{}` is not a usable address: {e}",
                        self.registry
                    ))
                })?;
                let response = self
                    .send_retrying(
                        "cannot reach the registry's API root `/v2/`",
                        &reqwest::Method::GET,
                        &url,
                        true,
                        || self.http.get(url.clone()),
                    )
                    .await?;
                let challenges: Vec<String> = response
                    .headers()
                    .get_all(reqwest::header::WWW_AUTHENTICATE)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect();
                let with_credentials = !matches!(self.auth, RegistryAuth::Anonymous);
                check_challenges(&self.registry, self.loopback, with_credentials, &challenges)
            })
            .await
            .cloned()
    }

    /// A token for `op` on `repo` from the checked token service (None: the registry has
    /// none, or takes Basic credentials directly). `refresh` drops a cached one.
    pub(super) async fn token(
        &self,
        repo: &RegistryRef,
        op: Op,
        refresh: bool,
    ) -> Result<Option<String>> {
        let Some(service) = self.ready().await? else {
            return Ok(None);
        };
        if let RegistryAuth::Bearer(identity) = &self.auth {
            return Ok(Some(identity.clone()));
        }
        let scope = format!(
            "repository:{}:{}",
            repo.repository,
            match op {
                Op::Pull => "pull",
                Op::Push => "pull,push",
            }
        );
        let mut tokens = self.session.tokens.lock().await;
        if !refresh {
            if let Some(t) = tokens.get(&scope) {
                return Ok(t.clone());
            }
        }
        let what = format!("cannot get a token for {repo} from the registry's token service");
        let mut url = service.realm.clone();
        url.query_pairs_mut().append_pair("scope", &scope);
        if let Some(s) = &service.service {
            url.query_pairs_mut().append_pair("service", s);
        }
        let response = self
            .send_retrying(&what, &reqwest::Method::GET, &url, true, || {
                let req = self.http.get(url.clone());
                match &self.auth {
                    RegistryAuth::Basic(u, p) => req.basic_auth(u, Some(p)),
                    _ => req,
                }
            })
            .await?;
        if !response.status().is_success() {
            return Err(self.status_error(&what, response).await);
        }
        let body = crate::net::read_limited(response, 1024 * 1024)
            .await
            .map_err(|e| self.read_error(&what, 1024 * 1024, e))?;
        let token = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v["token"]
                    .as_str()
                    .or_else(|| v["access_token"].as_str())
                    .map(str::to_string)
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::environment(format!(
                    "{what}: the answer holds no `token` (or `access_token`)"
                ))
                .with_hint("check the registry's token service configuration")
            })?;
        let token = Secret::new(token).expose().to_string();
        tokens.insert(scope, Some(token.clone()));
        Ok(Some(token))
    }

    /// Credentials on `req` when it goes to the registry itself (same scheme, host and port):
    /// an upload location on other storage gets none.
    pub(super) fn authorize(
        &self,
        req: reqwest::RequestBuilder,
        url: &reqwest::Url,
        token: &Option<String>,
    ) -> reqwest::RequestBuilder {
        if !self.same_origin(url) {
            return req;
        }
        match (token, &self.auth) {
            (Some(t), _) => req.bearer_auth(t),
            (None, RegistryAuth::Basic(u, p)) => req.basic_auth(u, Some(p)),
            _ => req,
        }
    }

    /// Send a request to `url` (absolute, or a path under `/v2/`) with this registry's
    /// credentials, retrying once with a fresh token when the registry answers 401.
    pub(super) async fn send(
        &self,
        repo: &RegistryRef,
        op: Op,
        call: Call<'_>,
    ) -> Result<reqwest::Response> {
        let url = if call.url.contains("://") {
            call.url.to_string()
        } else {
            self.url(call.url)
        };
        let url = reqwest::Url::parse(&url).map_err(|e| {
            Error::environment(format!(
                "{}: registry `{}` gave an unusable URL: {e}",
                call.what, self.registry
            ))
        })?;
        // The registry itself may be plain http (`--insecure`, checked in `new`); anything
        // else it points to follows the URL rule.
        if let Err(why) = crate::net::check_url(&url) {
            if self.scheme == "https" || !self.same_origin(&url) {
                return Err(Error::environment(format!(
                    "{}: registry `{}` pointed to `{}`: {why}",
                    call.what,
                    self.registry,
                    crate::net::origin(&url)
                ))
                .with_hint("registries may send uploads and downloads to https storage only"));
            }
        }
        // Sent again as they are: GET, HEAD, a PUT of a byte buffer (a manifest or tag), and a
        // POST without a body (an upload session or mount being started: an unused session
        // left behind expires at the registry). Blob bodies never come through here: a broken
        // upload is started over by its caller (`Remote::push_body`).
        let retry = match call.method {
            reqwest::Method::GET | reqwest::Method::HEAD | reqwest::Method::PUT => true,
            reqwest::Method::POST => call.body.is_none(),
            _ => false,
        };
        let mut refresh = false;
        loop {
            let token = self.token(repo, op, refresh).await?;
            let response = self
                .send_retrying(call.what, &call.method, &url, retry, || {
                    let mut req = self.http.request(call.method.clone(), url.clone());
                    if let Some(a) = call.accept {
                        req = req.header(reqwest::header::ACCEPT, a);
                    }
                    if let Some(t) = call.content_type {
                        req = req.header(reqwest::header::CONTENT_TYPE, t);
                    }
                    if let Some(b) = &call.body {
                        req = req.body(b.clone());
                    } else if call.method == reqwest::Method::POST
                        || call.method == reqwest::Method::PUT
                    {
                        req = req.header(reqwest::header::CONTENT_LENGTH, 0);
                    }
                    self.authorize(req, &url, &token)
                })
                .await?;
            // A fresh token is asked for once; that is authentication, not a retry.
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !refresh {
                refresh = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// Send the request `build` makes until it is answered with a status that is not
    /// transient, or the [`RetryPolicy`] gives up (`retry` false: once). What is retried is
    /// only what failed before an answer or was answered 408, 429 or 5xx: the request is
    /// built afresh each time, so `build` must not hold a half-read stream. The answer carries
    /// the number of attempts for [`Remote::status_error`]; a transport failure names it.
    pub(super) async fn send_retrying(
        &self,
        what: &str,
        method: &reqwest::Method,
        url: &reqwest::Url,
        retry: bool,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut attempt = 1;
        loop {
            let started = std::time::Instant::now();
            let last = !retry || attempt >= self.retry.attempts;
            match build().send().await {
                Err(e) => {
                    if last || !is_transient_error(&e) {
                        return Err(self.request_error_after(what, &e, attempt));
                    }
                    let wait = self.retry.delay(attempt, None);
                    self.note_retry(
                        || {
                            format!(
                                "{method} {}{} failed ({})",
                                crate::net::origin(url),
                                url.path(),
                                crate::net::describe(&e)
                            )
                        },
                        wait,
                        None,
                        attempt,
                    );
                    tokio::time::sleep(wait).await;
                }
                Ok(mut response) => {
                    self.log_request(method, url, response.status(), started);
                    if last || !is_transient_status(response.status()) {
                        response.extensions_mut().insert(Attempts(attempt));
                        return Ok(response);
                    }
                    let asked = retry_after(&response);
                    let wait = self.retry.delay(attempt, asked);
                    let status = response.status().as_u16();
                    drop(response);
                    self.note_retry(
                        || {
                            format!(
                                "{method} {}{} -> {status}",
                                crate::net::origin(url),
                                url.path()
                            )
                        },
                        wait,
                        asked,
                        attempt,
                    );
                    tokio::time::sleep(wait).await;
                }
            }
            attempt += 1;
        }
    }

    /// The `-v` line for a retry: what failed (no query: upload locations carry state there;
    /// never credentials), the wait, and which attempt comes next.
    pub(super) fn note_retry(
        &self,
        failed: impl FnOnce() -> String,
        wait: std::time::Duration,
        asked: Option<std::time::Duration>,
        attempt: u32,
    ) {
        self.progress.detail(|| {
            format!(
                "{}; retrying after {}{} (attempt {} of {})",
                failed(),
                shown_duration(wait),
                match asked {
                    Some(a) => format!(", the registry asked for {}", shown_duration(a)),
                    None => String::new(),
                },
                attempt + 1,
                self.retry.attempts
            )
        });
    }

    /// The `-v` line for one answered request: method, where (no query: upload locations carry
    /// state there), status and time.
    pub(super) fn log_request(
        &self,
        method: &reqwest::Method,
        url: &reqwest::Url,
        status: reqwest::StatusCode,
        started: std::time::Instant,
    ) {
        self.progress.detail(|| {
            format!(
                "{method} {}{} -> {} in {} ms",
                crate::net::origin(url),
                url.path(),
                status.as_u16(),
                started.elapsed().as_millis()
            )
        });
    }

    /// The error for a request that got no answer after `attempts` tries: a refused redirect,
    /// a stall, or an unreachable registry.
    pub(super) fn request_error_after(
        &self,
        what: &str,
        e: &reqwest::Error,
        attempts: u32,
    ) -> Error {
        if crate::net::is_refused_redirect(e) {
            Error::environment(format!(
                "{what}: registry `{}` sent a redirect that is not followed: {}",
                self.registry,
                crate::net::describe(e)
            ))
            .with_hint("registries may redirect to https storage only (plain http only on this machine); check the registry's storage configuration")
        } else {
            self.unreachable(what, e, attempts)
        }
    }

    /// The error for a non-success answer: not authorized, or the status and (masked, then
    /// shortened) body.
    pub(super) async fn status_error(&self, what: &str, response: reqwest::Response) -> Error {
        let status = response.status();
        let tries = after_attempts(response.extensions().get::<Attempts>().map_or(1, |a| a.0));
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Error::environment(format!(
                "{what}: registry `{}` refused the credentials (HTTP {})",
                self.registry,
                status.as_u16()
            ))
            .with_hint("log in with `docker login`, or pass `--registry-username` and `--registry-password-stdin`");
        }
        let body = crate::net::read_limited(response, 64 * 1024)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let body = Redactor::default().apply_to_shown_body(body.trim());
        Error::environment(format!(
            "{what}: registry `{}` answered HTTP {}{tries}{}",
            self.registry,
            status.as_u16(),
            if body.is_empty() {
                String::new()
            } else {
                format!(": {body}")
            }
        ))
        .with_hint(
            "the registry failed; nothing after this step was published, so retrying is safe",
        )
    }

    fn unreachable(&self, what: &str, e: &reqwest::Error, attempts: u32) -> Error {
        let why = crate::net::describe(e);
        let tries = after_attempts(attempts);
        if e.is_timeout() {
            Error::environment(format!(
                "{what}: registry `{}` stopped answering{tries} ({why})",
                self.registry
            ))
            .with_hint("the registry stalled; check it, or raise `--registry-timeout` (seconds of silence allowed, default 120)")
        } else if !e.is_connect() && is_transient_error(e) {
            Error::environment(format!(
                "{what}: registry `{}` dropped the connection{tries} ({why})",
                self.registry
            ))
            .with_hint("the registry, or a proxy in front of it, closed the connection before answering; nothing after this step was published, so retrying is safe")
        } else {
            Error::environment(format!(
                "{what}: registry `{}` is unreachable{tries} ({why})",
                self.registry
            ))
            .with_hint("check that the registry is running and the address is right; registries outside this machine need HTTPS unless `push.insecure: true`")
        }
    }
    pub(super) fn read_error(&self, what: &str, limit: u64, e: crate::net::ReadError) -> Error {
        match e {
            crate::net::ReadError::TooLarge(n) => Error::environment(format!(
                "{what}: it is larger than {} ({n} bytes or more); refused",
                crate::net::mib(limit)
            ))
            .with_hint("manifests are limited to 4 MiB, and configs, signature payloads and attestations to 16 MiB; one this large is not a usable one: check what the registry (or a proxy in front of it) serves under that name"),
            crate::net::ReadError::Transport(e) => self.unreachable(what, &e, 1),
        }
    }
    /// Whether `url` is the registry itself (scheme, host and port).
    pub(super) fn same_origin(&self, url: &reqwest::Url) -> bool {
        reqwest::Url::parse(&self.url("")).is_ok_and(|u| u.origin() == url.origin())
    }
}

/// What a token is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Pull,
    Push,
}

/// A registry's token service (`WWW-Authenticate: Bearer realm=…,service=…`), checked.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TokenService {
    realm: reqwest::Url,
    service: Option<String>,
}

/// One request to the registry: what [`Remote::send`] needs besides the repository.
pub(super) struct Call<'a> {
    pub(super) method: reqwest::Method,
    /// A path under `/v2/`, or an absolute URL the registry gave.
    pub(super) url: &'a str,
    pub(super) accept: Option<&'a str>,
    pub(super) content_type: Option<&'a str>,
    pub(super) body: Option<Vec<u8>>,
    /// For messages: "cannot … ".
    pub(super) what: &'a str,
}

impl<'a> Call<'a> {
    pub(super) fn new(method: reqwest::Method, url: &'a str, what: &'a str) -> Self {
        Call {
            method,
            url,
            accept: None,
            content_type: None,
            body: None,
            what,
        }
    }
}

/// How often and how patiently a request that failed in passing is sent again: go-containerregistry's
/// defaults (`remote.WithRetryBackoff`, `WithRetryStatusCodes`): three attempts in all, waiting
/// about 1 s and then 3 s (a tenth more at most, at random, so clients do not retry in step).
/// A `Retry-After` in seconds on 429 or 503 is waited for instead when longer, up to
/// [`RetryPolicy::retry_after_cap`]. Stalls (`--registry-timeout`) are not retried: the wait
/// is already long, and a registry that stops answering mid-request is not a passing failure.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry).
    pub attempts: u32,
    /// The wait after the first failure; each later wait is `factor` times the one before.
    pub base: std::time::Duration,
    pub factor: u32,
    /// Up to this fraction of a wait is added to it at random.
    pub jitter: f64,
    /// The longest `Retry-After` waited for.
    pub retry_after_cap: std::time::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base: std::time::Duration::from_secs(1),
            factor: 3,
            jitter: 0.1,
            retry_after_cap: std::time::Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `base × factor^(attempt-1)` plus
    /// jitter, or the registry's `Retry-After` (capped) when that is longer.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<std::time::Duration>,
    ) -> std::time::Duration {
        let backoff = self
            .base
            .saturating_mul(self.factor.saturating_pow(attempt.saturating_sub(1)));
        let backoff = backoff.mul_f64(1.0 + self.jitter.clamp(0.0, 1.0) * unit_random());
        match retry_after {
            Some(asked) => backoff.max(asked.min(self.retry_after_cap)),
            None => backoff,
        }
    }
}

/// How many attempts an answer took (set on every answer [`Remote::send_retrying`] returns).
#[derive(Clone, Copy, Debug)]
pub(super) struct Attempts(pub(super) u32);

/// ` after N attempts` for messages, or nothing for one.
pub(super) fn after_attempts(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// A wait for `-v` lines: milliseconds under a second, else seconds.
fn shown_duration(d: std::time::Duration) -> String {
    if d < std::time::Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A number in [0, 1) that differs between calls (jitter needs no better randomness).
fn unit_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Statuses that say "not now" rather than "no": request timeout, too many requests, and the
/// server errors a retry can cure (500, 502, 503, 504). 4xx otherwise (400, 401, 403, 404) is
/// an answer and never retried.
pub fn is_transient_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Whether a request failed in passing before any answer came: the connection was refused,
/// reset, aborted or closed early, or connecting timed out. Not a stall once connected
/// (`--registry-timeout`), a TLS or certificate failure, a name that does not resolve, or a
/// redirect the policy refused.
pub fn is_transient_error(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind;
    if crate::net::is_refused_redirect(e) {
        return false;
    }
    if e.is_connect() && e.is_timeout() {
        return true;
    }
    if e.is_timeout() {
        return false;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            ) {
                return true;
            }
        }
        // hyper's words for a connection closed before the answer was complete (its error
        // type is not a dependency of this crate).
        let text = err.to_string();
        if text.contains("connection closed before message completed") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The wait a 429 or 503 answer asks for in `Retry-After` (seconds only; an HTTP date is
/// ignored, so the backoff applies).
fn retry_after(response: &reqwest::Response) -> Option<std::time::Duration> {
    if !matches!(response.status().as_u16(), 429 | 503) {
        return None;
    }
    parse_retry_after(
        response
            .headers()
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?,
    )
}

/// `Retry-After: <seconds>` as a duration.
pub(super) fn parse_retry_after(value: &str) -> Option<std::time::Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(std::time::Duration::from_secs)
}

/// The token service the `/v2/` challenges name (the first Bearer challenge), if the rule
/// lets credentials go there: over https, or over plain http only when it and the registry
/// are both loopback. Without credentials nothing secret is sent, so any http(s) service is
/// accepted. A Bearer challenge whose realm cannot be read is refused (fail closed).
fn check_challenges(
    registry: &str,
    registry_loopback: bool,
    with_credentials: bool,
    challenges: &[String],
) -> Result<Option<TokenService>> {
    let mut found = None;
    for challenge in challenges {
        let services = bearer_challenges(challenge);
        if services.is_empty() && challenge.to_ascii_lowercase().contains("bearer") {
            return Err(Error::environment(format!(
                "registry `{registry}` asks for a token but names no readable token service (`{}`)",
                Redactor::default().apply_truncated(challenge, 200)
            ))
            .with_hint("check the registry's auth configuration; cleanpipe sends credentials only to a token service it can check"));
        }
        for (realm, service) in services {
            let refused = match reqwest::Url::parse(&realm) {
                Ok(u) if u.scheme() == "https" => None,
                Ok(u) if u.scheme() == "http" => {
                    let local = u.host_str().is_some_and(crate::net::is_loopback_host);
                    (with_credentials && !(local && registry_loopback))
                        .then(|| format!("plain http to `{}`", crate::net::origin(&u)))
                }
                Ok(u) => Some(format!("scheme `{}`", u.scheme())),
                Err(_) => Some(format!("unreadable URL `{realm}`")),
            };
            if let Some(why) = refused {
                return Err(Error::environment(format!(
                    "registry `{registry}` asks for the credentials to be sent to its token service over {why}; refused, nothing was sent"
                ))
                .with_hint("credentials go to a token service only over https (plain http only when the registry and the service are both on this machine); fix the registry's token `realm`, or use the registry anonymously"));
            }
            if found.is_none() {
                found = reqwest::Url::parse(&realm)
                    .ok()
                    .map(|realm| TokenService { realm, service });
            }
        }
    }
    Ok(found)
}

/// `(realm, service)` of every Bearer challenge in a `WWW-Authenticate` header (RFC 7235:
/// schemes followed by `name=value` or `name="quoted"` parameters, challenges separated by
/// commas). A Basic challenge's realm is only a label and is not returned.
/// Public so the fuzz target `registry_responses` can feed it arbitrary headers.
pub fn bearer_challenges(header: &str) -> Vec<(String, Option<String>)> {
    let chars: Vec<char> = header.chars().collect();
    let mut out: Vec<(Option<String>, Option<String>)> = vec![];
    let mut bearer = false;
    let mut i = 0;
    let is_sep = |c: char| c == ',' || c.is_whitespace();
    while i < chars.len() {
        if is_sep(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !is_sep(chars[i]) && chars[i] != '=' {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' {
            // A parameter: read its value.
            j += 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let mut value = String::new();
            if j < chars.len() && chars[j] == '"' {
                j += 1;
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' && j + 1 < chars.len() {
                        j += 1;
                    }
                    value.push(chars[j]);
                    j += 1;
                }
                j += 1;
            } else {
                while j < chars.len() && !is_sep(chars[j]) {
                    value.push(chars[j]);
                    j += 1;
                }
            }
            if let (true, Some(current)) = (bearer, out.last_mut()) {
                if token.eq_ignore_ascii_case("realm") {
                    current.0 = Some(value);
                } else if token.eq_ignore_ascii_case("service") {
                    current.1 = Some(value);
                }
            }
            i = j;
        } else {
            bearer = token.eq_ignore_ascii_case("bearer");
            if bearer {
                out.push((None, None));
            }
        }
    }
    out.into_iter()
        .filter_map(|(realm, service)| Some((realm?, service)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::remote::Credentials;

    #[test]
    fn realms_are_found_quoted_or_not_in_any_case() {
        let realms =
            |h: &str| -> Vec<String> { bearer_challenges(h).into_iter().map(|(r, _)| r).collect() };
        assert_eq!(
            realms(r#"Bearer realm="https://auth.example/token",service="reg""#),
            ["https://auth.example/token"]
        );
        assert_eq!(
            realms("Bearer service=x, REALM=http://a.example/t"),
            ["http://a.example/t"]
        );
        assert!(realms(r#"Basic realm="Registry Realm""#).is_empty());
        assert_eq!(
            realms(r#"Basic realm="a, b", Bearer realm="https://t.example/\"q""#),
            [r#"https://t.example/"q"#]
        );
    }

    #[test]
    fn credentials_go_to_a_token_service_over_https_or_between_loopback_hosts_only() {
        let ok = |reg: bool, h: &str| check_challenges("r", reg, true, &[h.to_string()]).is_ok();
        assert!(ok(false, r#"Bearer realm="https://auth.example/token""#));
        assert!(ok(true, r#"Bearer realm="http://127.0.0.1:9/token""#));
        // A Basic challenge's realm is a label (htpasswd registries say `Registry Realm`).
        assert!(ok(false, r#"Basic realm="Registry Realm""#));
        assert!(!ok(
            true,
            r#"Basic realm="x", Bearer realm="http://198.51.100.7/t",service="s""#
        ));
        assert!(!ok(false, r#"Bearer realm="http://127.0.0.1:9/token""#));
        assert!(!ok(true, r#"Bearer realm="http://198.51.100.7/token""#));
        assert!(!ok(true, r#"Bearer realm="http://127.evil.example/token""#));
        assert!(!ok(true, r#"Bearer realm="ftp://x/""#));
        assert!(!ok(true, r#"Bearer service="x""#));
        let err = check_challenges(
            "reg.example",
            false,
            true,
            &[r#"Bearer realm="http://auth.example/t""#.into()],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("plain http to `http://auth.example`"),
            "{err}"
        );
        assert!(err.hint().is_some());
        // Anonymous: nothing secret goes to the service, which is used as named.
        let anon = check_challenges(
            "r",
            false,
            false,
            &[r#"Bearer realm="http://auth.example/t",service="reg""#.into()],
        )
        .unwrap()
        .unwrap();
        assert_eq!(anon.realm.as_str(), "http://auth.example/t");
        assert_eq!(anon.service.as_deref(), Some("reg"));
    }

    #[test]
    fn credentials_never_go_to_a_plain_http_registry_elsewhere() {
        let options = RemoteOptions {
            insecure: true,
            credentials: Some(Credentials {
                username: "u".into(),
                password: Secret::new("unit-canary-pw-7781"),
            }),
            read_timeout: None,
            docker_config: None,
            progress: Default::default(),
            retry: RetryPolicy::default(),
        };
        let far = RegistryRef::parse("reg.example/app:v1").unwrap();
        let err = Remote::new(&far, &options).err().unwrap();
        assert!(err.to_string().contains("over plain HTTP"), "{err}");
        let near = RegistryRef::parse("127.0.0.1:5000/app:v1").unwrap();
        assert!(Remote::new(&near, &options).is_ok());
    }

    #[test]
    fn transient_statuses_are_retried_and_answers_are_not() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(
                is_transient_status(reqwest::StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 501, 505] {
            assert!(
                !is_transient_status(reqwest::StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn backoff_grows_by_the_factor_within_the_jitter() {
        use std::time::Duration;
        let policy = RetryPolicy::default();
        assert_eq!(policy.attempts, 3);
        for (attempt, base_ms) in [(1, 1000u64), (2, 3000), (3, 9000)] {
            for _ in 0..50 {
                let d = policy.delay(attempt, None);
                assert!(
                    d >= Duration::from_millis(base_ms)
                        && d <= Duration::from_millis(base_ms * 11 / 10),
                    "attempt {attempt}: {d:?}"
                );
            }
        }
        let none = RetryPolicy {
            jitter: 0.0,
            base: Duration::from_millis(10),
            ..RetryPolicy::default()
        };
        assert_eq!(none.delay(2, None), Duration::from_millis(30));
        // A huge attempt number saturates instead of overflowing.
        assert!(none.delay(u32::MAX, None) >= Duration::from_secs(60));
    }

    #[test]
    fn retry_after_is_honoured_when_longer_and_capped() {
        use std::time::Duration;
        let policy = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        // Longer than the backoff: waited for.
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        // Shorter: the backoff still applies.
        assert_eq!(
            policy.delay(2, Some(Duration::from_secs(1))),
            Duration::from_secs(3)
        );
        // Past the cap: the cap.
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(86_400))),
            policy.retry_after_cap
        );
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("1.5"), None);
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn messages_name_the_attempts_only_when_there_were_several() {
        assert_eq!(after_attempts(1), "");
        assert_eq!(after_attempts(3), " after 3 attempts");
        assert_eq!(
            shown_duration(std::time::Duration::from_millis(40)),
            "40 ms"
        );
        assert_eq!(
            shown_duration(std::time::Duration::from_millis(3040)),
            "3.0 s"
        );
    }

    /// A loopback server that accepts each connection and ends it without an answer: with
    /// `reset`, by closing with the request still unread (the kernel then sends a reset),
    /// else in order after reading it.
    fn closing_server(reset: bool) -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                use std::io::Read;
                let mut s = stream;
                let mut first = [0u8; 1];
                let _ = s.read(&mut first);
                if !reset {
                    let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(200)));
                    let _ = s.read(&mut [0u8; 4096]);
                } else {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                drop(s);
            }
        });
        addr
    }

    #[tokio::test]
    async fn refused_and_reset_connections_are_transient_and_stalls_are_not() {
        let client = crate::net::client_with(
            crate::net::Redirects::Checked,
            None,
            std::time::Duration::from_millis(300),
        )
        .unwrap();
        // Nothing listens on a port just released.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let refused = client
            .get(format!("http://{closed}/v2/"))
            .send()
            .await
            .unwrap_err();
        assert!(is_transient_error(&refused), "{refused:?}");

        for reset in [true, false] {
            let e = client
                .get(format!("http://{}/v2/", closing_server(reset)))
                .send()
                .await
                .unwrap_err();
            assert!(is_transient_error(&e), "reset {reset}: {e:?}");
        }

        // Connected, then silent past the read timeout: a stall, left to `--registry-timeout`.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let hold = std::thread::spawn(move || {
            let (s, _) = silent.accept().unwrap();
            std::thread::sleep(std::time::Duration::from_secs(2));
            drop(s);
        });
        let stalled = client
            .get(format!("http://{addr}/v2/"))
            .send()
            .await
            .unwrap_err();
        assert!(stalled.is_timeout(), "{stalled:?}");
        assert!(!is_transient_error(&stalled), "{stalled:?}");
        hold.join().unwrap();
    }
}
