//! The registry transport: speaks in cleanpipe's types, streams blobs, and turns transport
//! failures into errors that say what to do.
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
use std::path::Path;
use std::time::Duration;

use oci_client::secrets::RegistryAuth;
use oci_client::Reference;

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::types::{
    Descriptor, Digest, IMAGE_MANIFEST_TYPES, MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX,
};
use crate::redact::{Redactor, Secret};

/// Manifests larger than this are refused (the size registries and containerd accept).
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// Blobs read into memory (configs, signature payloads, attestations) larger than this are
/// refused: the same bound as the layout's small blobs.
pub const MAX_SMALL_BLOB: u64 = 16 * 1024 * 1024;
/// Characters of a registry's error body kept in a message (after masking).
const SHOWN_BODY: usize = 300;

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

/// How to reach a registry.
#[derive(Clone, Debug, Default)]
pub struct RemoteOptions {
    /// Use plain HTTP. Loopback registries always use plain HTTP.
    pub insecure: bool,
    /// Explicit credentials; otherwise `~/.docker/config.json` and its credential helpers.
    pub credentials: Option<Credentials>,
    /// How long a registry may stay silent before it counts as stalled (default 120 s).
    pub read_timeout: Option<Duration>,
    /// The Docker client's `config.json` to take credentials from when none are given
    /// (`None` or a missing file: anonymous).
    pub docker_config: Option<std::path::PathBuf>,
}

/// A connection to one registry.
pub struct Remote {
    /// Boxed: a `Remote` travels inside enums next to much smaller variants.
    conn: Box<Conn>,
}

impl std::ops::Deref for Remote {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

/// What a [`Remote`] holds.
pub struct Conn {
    auth: RegistryAuth,
    registry: String,
    /// Where requests go: the registry's host, `index.docker.io` for `docker.io`.
    host: String,
    /// `http` or `https`.
    scheme: &'static str,
    loopback: bool,
    http: reqwest::Client,
    session: Session,
}

/// What a connection learns as it goes.
#[derive(Default)]
struct Session {
    /// The token service the `/v2/` challenge named, once checked (see [`Remote::ready`]).
    checked: tokio::sync::OnceCell<Option<TokenService>>,
    /// Tokens per repository and operation, from the registry's token service.
    tokens: tokio::sync::Mutex<HashMap<String, Option<String>>>,
}

impl Remote {
    /// Connect to the registry `image` lives in.
    pub fn new(image: &RegistryRef, options: &RemoteOptions) -> Result<Self> {
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
        Ok(Remote {
            conn: Box::new(Conn {
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
            }),
        })
    }

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
    async fn token(&self, repo: &RegistryRef, op: Op, refresh: bool) -> Result<Option<String>> {
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
    fn authorize(
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
    async fn send(&self, repo: &RegistryRef, op: Op, call: Call<'_>) -> Result<reqwest::Response> {
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
            let response = req
                .send()
                .await
                .map_err(|e| self.request_error(call.what, &e))?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !refresh {
                refresh = true;
                continue;
            }
            return Ok(response);
        }
    }

    fn request_error(&self, what: &str, e: &reqwest::Error) -> Error {
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
    async fn status_error(&self, what: &str, response: reqwest::Response) -> Error {
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
        let body = Redactor::default().apply_truncated(body.trim(), SHOWN_BODY);
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

    fn reference(&self, image: &RegistryRef) -> Reference {
        match (&image.tag, &image.digest) {
            (_, Some(d)) => Reference::with_digest(
                image.registry.clone(),
                image.repository.clone(),
                d.to_string(),
            ),
            (Some(t), None) => {
                Reference::with_tag(image.registry.clone(), image.repository.clone(), t.clone())
            }
            (None, None) => Reference::with_tag(
                image.registry.clone(),
                image.repository.clone(),
                "latest".into(),
            ),
        }
    }

    /// Fetch a manifest by tag or digest; `None` if the registry does not have it.
    /// Returns the exact bytes, their digest and their media type. Manifests over
    /// [`MAX_MANIFEST`] are refused without being held whole.
    pub async fn manifest(&self, image: &RegistryRef) -> Result<Option<(Vec<u8>, Digest, String)>> {
        let reference = self.reference(image);
        let mut accepted: Vec<&str> = IMAGE_MANIFEST_TYPES.to_vec();
        accepted.extend([MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST]);
        let what = format!("cannot fetch the manifest of {image}");
        let at = reference
            .digest()
            .map(str::to_string)
            .or_else(|| reference.tag().map(str::to_string))
            .unwrap_or_else(|| "latest".into());
        let accept = accepted.join(", ");
        let response = self
            .send(
                image,
                Op::Pull,
                Call {
                    accept: Some(&accept),
                    ..Call::new(
                        reqwest::Method::GET,
                        &format!("{}/manifests/{at}", reference.repository()),
                        &what,
                    )
                },
            )
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(self.status_error(&what, response).await);
        }
        let bytes = crate::net::read_limited(response, MAX_MANIFEST)
            .await
            .map_err(|e| self.read_error(&what, MAX_MANIFEST, e))?;
        let digest = Digest::of(&bytes);
        if let Some(expected) = &image.digest {
            if expected != &digest {
                return Err(Error::environment(format!(
                    "registry returned a manifest for {image} whose digest is {digest}"
                ))
                .with_hint("the registry sent corrupt or tampered data; check the registry and any proxy in front of it"));
            }
        }
        let media_type = crate::oci::types::declared_media_type(&bytes)
            .unwrap_or_else(|| crate::oci::types::MEDIA_OCI_MANIFEST.to_string());
        Ok(Some((bytes, digest, media_type)))
    }

    fn read_error(&self, what: &str, limit: u64, e: crate::net::ReadError) -> Error {
        match e {
            crate::net::ReadError::TooLarge(n) => Error::environment(format!(
                "{what}: it is larger than {} ({n} bytes or more); refused",
                crate::net::mib(limit)
            ))
            .with_hint("manifests are limited to 4 MiB, and configs, signature payloads and attestations to 16 MiB; one this large is not a usable one: check what the registry (or a proxy in front of it) serves under that name"),
            crate::net::ReadError::Transport(e) => self.unreachable(what, &e),
        }
    }

    /// Whether the repository already has this blob.
    pub async fn has_blob(&self, repo: &RegistryRef, digest: &Digest) -> Result<bool> {
        let what = format!("cannot check blob {digest} in {repo}");
        let response = self
            .send(
                repo,
                Op::Pull,
                Call::new(
                    reqwest::Method::HEAD,
                    &format!("{}/blobs/{digest}", repo.repository),
                    &what,
                ),
            )
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(&what, response).await),
        }
    }

    /// Upload a blob from the layout, streaming it from disk.
    pub async fn push_blob_from_layout(
        &self,
        repo: &RegistryRef,
        layout: &Layout,
        desc: &Descriptor,
    ) -> Result<()> {
        let path = layout.blob_path(&desc.digest);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Error::io("cannot open blob for upload", &path, e))?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
        self.push_body(
            repo,
            &desc.digest,
            desc.size,
            reqwest::Body::wrap_stream(stream),
        )
        .await
    }

    /// Ask the registry to link `digest` from another repository of the same registry instead of
    /// uploading it again. `false` when the registry declines (then upload as usual).
    pub async fn mount_blob(
        &self,
        repo: &RegistryRef,
        from_repository: &str,
        digest: &Digest,
    ) -> bool {
        let what = format!("cannot mount blob {digest} into {repo}");
        let url = format!(
            "{}/blobs/uploads/?mount={digest}&from={from_repository}",
            repo.repository
        );
        match self
            .send(
                repo,
                Op::Push,
                Call::new(reqwest::Method::POST, &url, &what),
            )
            .await
        {
            Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                self.has_blob(repo, digest).await.unwrap_or(false)
            }
            _ => false,
        }
    }

    /// Upload a small blob held in memory.
    pub async fn push_blob_bytes(&self, repo: &RegistryRef, bytes: Vec<u8>) -> Result<Digest> {
        let digest = Digest::of(&bytes);
        let size = bytes.len() as u64;
        self.push_body(repo, &digest, size, reqwest::Body::from(bytes))
            .await?;
        Ok(digest)
    }

    /// A monolithic upload: POST for an upload location, then PUT the body there with its
    /// digest. The location may be other storage (then it gets no credentials) but only
    /// under the URL rule.
    async fn push_body(
        &self,
        repo: &RegistryRef,
        digest: &Digest,
        size: u64,
        body: reqwest::Body,
    ) -> Result<()> {
        let what = format!("cannot upload blob {digest} to {repo}");
        let started = self
            .send(
                repo,
                Op::Push,
                Call::new(
                    reqwest::Method::POST,
                    &format!("{}/blobs/uploads/", repo.repository),
                    &what,
                ),
            )
            .await?;
        if started.status() != reqwest::StatusCode::ACCEPTED {
            return Err(self.status_error(&what, started).await);
        }
        let location = started
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| started.url().join(l).ok())
            .ok_or_else(|| {
                Error::environment(format!(
                    "{what}: registry `{}` started an upload without a usable `Location`",
                    self.registry
                ))
            })?;
        let mut location = location;
        location
            .query_pairs_mut()
            .append_pair("digest", digest.as_str());
        if let Err(why) = crate::net::check_url(&location) {
            if self.scheme == "https" || !self.same_origin(&location) {
                return Err(Error::environment(format!(
                    "{what}: registry `{}` pointed the upload to `{}`: {why}",
                    self.registry,
                    crate::net::origin(&location)
                ))
                .with_hint("registries may send uploads to https storage only"));
            }
        }
        let token = self.token(repo, Op::Push, false).await?;
        let req = self
            .http
            .put(location.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(body);
        let response = self
            .authorize(req, &location, &token)
            .send()
            .await
            .map_err(|e| self.request_error(&what, &e))?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(self.status_error(&what, response).await);
        }
        Ok(())
    }

    /// Whether `url` is the registry itself (scheme, host and port).
    fn same_origin(&self, url: &reqwest::Url) -> bool {
        reqwest::Url::parse(&self.url("")).is_ok_and(|u| u.origin() == url.origin())
    }

    /// Put manifest bytes under `target` (a tag or a digest reference).
    pub async fn push_manifest(
        &self,
        target: &RegistryRef,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<()> {
        let reference = self.reference(target);
        let at = reference
            .digest()
            .or_else(|| reference.tag())
            .unwrap_or("latest")
            .to_string();
        let what = format!("cannot push the manifest {target}");
        let response = self
            .send(
                target,
                Op::Push,
                Call {
                    content_type: Some(media_type),
                    body: Some(bytes.to_vec()),
                    ..Call::new(
                        reqwest::Method::PUT,
                        &format!("{}/manifests/{at}", reference.repository()),
                        &what,
                    )
                },
            )
            .await?;
        if !response.status().is_success() {
            return Err(self.status_error(&what, response).await);
        }
        Ok(())
    }

    /// GET a blob: the successful response, or an error naming it.
    async fn blob_response(
        &self,
        repo: &RegistryRef,
        digest: &Digest,
        what: &str,
    ) -> Result<reqwest::Response> {
        let response = self
            .send(
                repo,
                Op::Pull,
                Call::new(
                    reqwest::Method::GET,
                    &format!("{}/blobs/{digest}", repo.repository),
                    what,
                ),
            )
            .await?;
        if !response.status().is_success() {
            return Err(self.status_error(what, response).await);
        }
        Ok(response)
    }

    /// Download a blob into the layout, checking its digest while streaming.
    pub async fn pull_blob_into(
        &self,
        repo: &RegistryRef,
        digest: &Digest,
        layout: &Layout,
    ) -> Result<()> {
        use std::io::Write;
        if layout.has_blob(digest) {
            return Ok(());
        }
        let what = format!("cannot download blob {digest} from {repo}");
        let mut response = self.blob_response(repo, digest, &what).await?;
        let mut writer = layout.blob_writer()?;
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            Error::environment(format!(
                "download of {digest} from {repo} broke off: {}",
                crate::net::describe(&e)
            ))
            .with_hint(
                "the registry stopped sending; retry, or raise `--registry-timeout` if it is slow",
            )
        })? {
            writer
                .write_all(&chunk)
                .map_err(|e| Error::io("cannot write blob", layout.root(), e))?;
        }
        writer.commit(Some(digest))?;
        Ok(())
    }

    /// Download a small blob (config, signature payload, attestation) into memory, checking
    /// its digest. Blobs over [`MAX_SMALL_BLOB`] are refused without being held whole.
    pub async fn read_blob(&self, repo: &RegistryRef, digest: &Digest) -> Result<Vec<u8>> {
        let what = format!("cannot download blob {digest} from {repo}");
        let response = self.blob_response(repo, digest, &what).await?;
        let out = crate::net::read_limited(response, MAX_SMALL_BLOB)
            .await
            .map_err(|e| self.read_error(&what, MAX_SMALL_BLOB, e))?;
        if &Digest::of(&out) != digest {
            return Err(Error::environment(format!(
                "blob {digest} from {repo} does not match its digest"
            ))
            .with_hint("the registry sent corrupt or tampered data; check the registry and any proxy in front of it"));
        }
        Ok(out)
    }
}

/// What a token is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
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
struct Call<'a> {
    method: reqwest::Method,
    /// A path under `/v2/`, or an absolute URL the registry gave.
    url: &'a str,
    accept: Option<&'a str>,
    content_type: Option<&'a str>,
    body: Option<Vec<u8>>,
    /// For messages: "cannot … ".
    what: &'a str,
}

impl<'a> Call<'a> {
    fn new(method: reqwest::Method, url: &'a str, what: &'a str) -> Self {
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
fn bearer_challenges(header: &str) -> Vec<(String, Option<String>)> {
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
fn docker_config_auth(path: &Path, registry: &str) -> Result<RegistryAuth> {
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

/// Read a file's first line as a password (for `--registry-password-file` style inputs).
pub fn read_secret_file(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("cannot read secret file", path, e))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        };
        let far = RegistryRef::parse("reg.example/app:v1").unwrap();
        let err = Remote::new(&far, &options).err().unwrap();
        assert!(err.to_string().contains("over plain HTTP"), "{err}");
        let near = RegistryRef::parse("127.0.0.1:5000/app:v1").unwrap();
        assert!(Remote::new(&near, &options).is_ok());
    }
}
