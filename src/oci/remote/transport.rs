//! The HTTP session with one registry: the `/v2/` challenge and its checked token service,
//! tokens, Bearer/Basic credentials on requests, request plumbing ([`Call`], [`Op`]), and
//! transport failures turned into errors that say what to do.
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
                let response = self.http.get(self.url("")).send().await.map_err(|e| {
                    self.request_error("cannot reach the registry's API root `/v2/`", &e)
                })?;
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
        let mut req = self.http.get(url);
        if let RegistryAuth::Basic(u, p) = &self.auth {
            req = req.basic_auth(u, Some(p));
        }
        let response = req
            .send()
            .await
            .map_err(|e| self.request_error(&what, &e))?;
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
        let mut refresh = false;
        loop {
            let token = self.token(repo, op, refresh).await?;
            let mut req = self.http.request(call.method.clone(), url.clone());
            if let Some(a) = call.accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            if let Some(t) = call.content_type {
                req = req.header(reqwest::header::CONTENT_TYPE, t);
            }
            if let Some(b) = &call.body {
                req = req.body(b.clone());
            } else if call.method == reqwest::Method::POST || call.method == reqwest::Method::PUT {
                req = req.header(reqwest::header::CONTENT_LENGTH, 0);
            }
            req = self.authorize(req, &url, &token);
            let started = std::time::Instant::now();
            let response = req
                .send()
                .await
                .map_err(|e| self.request_error(call.what, &e))?;
            self.log_request(&call.method, &url, response.status(), started);
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !refresh {
                refresh = true;
                continue;
            }
            return Ok(response);
        }
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

    pub(super) fn request_error(&self, what: &str, e: &reqwest::Error) -> Error {
        if crate::net::is_refused_redirect(e) {
            Error::environment(format!(
                "{what}: registry `{}` sent a redirect that is not followed: {}",
                self.registry,
                crate::net::describe(e)
            ))
            .with_hint("registries may redirect to https storage only (plain http only on this machine); check the registry's storage configuration")
        } else {
            self.unreachable(what, e)
        }
    }

    /// The error for a non-success answer: not authorized, or the status and (masked, then
    /// shortened) body.
    pub(super) async fn status_error(&self, what: &str, response: reqwest::Response) -> Error {
        let status = response.status();
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
            "{what}: registry `{}` answered HTTP {}{}",
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

    fn unreachable(&self, what: &str, e: &reqwest::Error) -> Error {
        let why = crate::net::describe(e);
        if e.is_timeout() {
            Error::environment(format!(
                "{what}: registry `{}` stopped answering ({why})",
                self.registry
            ))
            .with_hint("the registry stalled; check it, or raise `--registry-timeout` (seconds of silence allowed, default 120)")
        } else {
            Error::environment(format!(
                "{what}: registry `{}` is unreachable ({why})",
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
            crate::net::ReadError::Transport(e) => self.unreachable(what, &e),
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
        };
        let far = RegistryRef::parse("reg.example/app:v1").unwrap();
        let err = Remote::new(&far, &options).err().unwrap();
        assert!(err.to_string().contains("over plain HTTP"), "{err}");
        let near = RegistryRef::parse("127.0.0.1:5000/app:v1").unwrap();
        assert!(Remote::new(&near, &options).is_ok());
    }
}
