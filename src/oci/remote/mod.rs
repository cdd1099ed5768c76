//! The registry client: what callers use to read and write images in a registry
//! (manifests, blobs, uploads, cross-repository mounts), in cleanpipe's types.
//!
//! How requests reach the registry (the `/v2/` challenge, tokens, credentials, redirects and
//! transport errors) is [`transport`]; where credentials come from is [`auth`].

pub mod auth;
pub mod transport;

use std::time::Duration;

use oci_client::Reference;

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::types::{
    Descriptor, Digest, IMAGE_MANIFEST_TYPES, MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX,
};

pub use auth::Credentials;
pub use transport::Conn;
use transport::{Call, Op};

/// Manifests larger than this are refused (the size registries and containerd accept).
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
pub use crate::oci::types::MAX_SMALL_BLOB;

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
    /// Where transfer progress and per-request details go (default: nowhere).
    pub progress: crate::progress::Progress,
    /// When and how often a failed request is tried again.
    pub retry: transport::RetryPolicy,
}

impl RemoteOptions {
    /// These options, reporting transfers and requests to `progress`.
    pub fn with_progress(mut self, progress: crate::progress::Progress) -> Self {
        self.progress = progress;
        self
    }
}

/// The `rel="next"` target of a `Link` header, absolute (relative ones are joined to the URL
/// that answered). Where it may point is checked when it is requested.
fn next_link(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|part| {
            part.split(';')
                .skip(1)
                .any(|p| p.trim().trim_matches('"') == "rel=next" || p.trim() == "rel=\"next\"")
        })
        .and_then(|part| {
            let target = part.split(';').next()?.trim();
            let target = target.strip_prefix('<')?.strip_suffix('>')?;
            response.url().join(target).ok().map(|u| u.to_string())
        })
}

/// Where an upload's bytes come from. Both kinds are read from the start again for each
/// attempt, so a failed upload is started over, never replayed from a half-read stream.
enum BlobSource {
    /// A blob file in the layout, opened anew for each attempt.
    File(std::path::PathBuf),
    /// Bytes in memory (configs, signature payloads, attestations).
    Bytes(bytes::Bytes),
}

impl BlobSource {
    /// A body with every byte from the start, counting into `task` only what goes past the
    /// `shown` bytes an earlier attempt already counted.
    async fn open(
        &self,
        task: Option<&crate::progress::Task>,
        shown: &std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<reqwest::Body> {
        use std::sync::atomic::Ordering;
        match self {
            BlobSource::Bytes(b) => Ok(reqwest::Body::from(b.clone())),
            BlobSource::File(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| Error::io("cannot open blob for upload", path, e))?;
                let task = task.cloned();
                let shown = shown.clone();
                let mut sent = 0u64;
                // Counted as the chunks leave, never collected: the upload stays a stream.
                let stream = futures_util::StreamExt::inspect(
                    tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024),
                    move |chunk| {
                        if let (Ok(c), Some(t)) = (chunk, &task) {
                            sent += c.len() as u64;
                            let before = shown.fetch_max(sent, Ordering::Relaxed);
                            if sent > before {
                                t.advance(sent - before);
                            }
                        }
                    },
                );
                Ok(reqwest::Body::wrap_stream(stream))
            }
        }
    }
}

/// An upload attempt that failed in passing: why (for `-v`), and the wait the registry asked
/// for.
struct Transient {
    why: String,
    asked: Option<Duration>,
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

impl Remote {
    /// Connect to the registry `image` lives in.
    pub fn new(image: &RegistryRef, options: &RemoteOptions) -> Result<Self> {
        Ok(Remote {
            conn: Box::new(Conn::new(image, options)?),
        })
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

    /// Upload a blob from the layout, streaming it from disk. An upload that breaks off is
    /// started over (new session, file read from the start), never resumed from a half-read
    /// stream.
    pub async fn push_blob_from_layout(
        &self,
        repo: &RegistryRef,
        layout: &Layout,
        desc: &Descriptor,
    ) -> Result<()> {
        let path = layout.blob_path(&desc.digest);
        let task = self.progress.task(
            crate::progress::Kind::Upload,
            desc.digest.to_string(),
            Some(desc.size),
        );
        self.push_body(
            repo,
            &desc.digest,
            desc.size,
            &BlobSource::File(path),
            Some(&task),
        )
        .await?;
        task.finish();
        Ok(())
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
        self.push_body(
            repo,
            &digest,
            size,
            &BlobSource::Bytes(bytes::Bytes::from(bytes)),
            None,
        )
        .await?;
        Ok(digest)
    }

    /// Upload a blob, starting the whole upload over (new session, bytes from the start)
    /// when an attempt fails in passing: go-containerregistry's `uploadOne` does the same.
    /// Before starting over, a blob the registry already holds (the last attempt was stored,
    /// only its answer lost) counts as uploaded.
    async fn push_body(
        &self,
        repo: &RegistryRef,
        digest: &Digest,
        size: u64,
        source: &BlobSource,
        task: Option<&crate::progress::Task>,
    ) -> Result<()> {
        let what = format!("cannot upload blob {digest} to {repo}");
        // Bytes already shown as sent: a restarted upload moves the bar only past them.
        let shown = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut attempt = 1;
        loop {
            let last = attempt >= self.retry.attempts;
            let body = source.open(task, &shown).await?;
            let Some(failed) = self
                .upload_once(repo, digest, size, body, &what, attempt, last)
                .await?
            else {
                return Ok(());
            };
            let wait = self.retry.delay(attempt, failed.asked);
            self.note_retry(
                || {
                    format!(
                        "upload of {digest} {}; starting it over from the start of the blob",
                        failed.why
                    )
                },
                wait,
                failed.asked,
                attempt,
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
            if self.has_blob(repo, digest).await? {
                if let Some(t) = task {
                    let done = shown.load(std::sync::atomic::Ordering::Relaxed);
                    t.advance(size.saturating_sub(done));
                }
                return Ok(());
            }
        }
    }

    /// One monolithic upload: POST for an upload location, then PUT the body there with its
    /// digest. The location may be other storage (then it gets no credentials) but only
    /// under the URL rule. `Some` when the PUT failed in passing and this was not the `last`
    /// attempt: the session is spent, and the caller starts a new one.
    #[allow(clippy::too_many_arguments)]
    async fn upload_once(
        &self,
        repo: &RegistryRef,
        digest: &Digest,
        size: u64,
        body: reqwest::Body,
        what: &str,
        attempt: u32,
        last: bool,
    ) -> Result<Option<Transient>> {
        // A POST without a body: sent again on its own when it fails in passing (an unused
        // session left behind expires at the registry).
        let started = self
            .send(
                repo,
                Op::Push,
                Call::new(
                    reqwest::Method::POST,
                    &format!("{}/blobs/uploads/", repo.repository),
                    what,
                ),
            )
            .await?;
        if started.status() != reqwest::StatusCode::ACCEPTED {
            return Err(self.status_error(what, started).await);
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
        let sent = std::time::Instant::now();
        let mut response = match self.authorize(req, &location, &token).send().await {
            Ok(r) => r,
            Err(e) if !last && transport::is_transient_error(&e) => {
                return Ok(Some(Transient {
                    why: format!("broke off ({})", crate::net::describe(&e)),
                    asked: None,
                }))
            }
            Err(e) => return Err(self.request_error_after(what, &e, attempt)),
        };
        self.log_request(&reqwest::Method::PUT, &location, response.status(), sent);
        let status = response.status();
        if status == reqwest::StatusCode::CREATED {
            return Ok(None);
        }
        if !last && transport::is_transient_status(status) {
            let asked = (matches!(status.as_u16(), 429 | 503))
                .then(|| response.headers().get(reqwest::header::RETRY_AFTER))
                .flatten()
                .and_then(|v| v.to_str().ok())
                .and_then(transport::parse_retry_after);
            return Ok(Some(Transient {
                why: format!("was answered HTTP {}", status.as_u16()),
                asked,
            }));
        }
        response
            .extensions_mut()
            .insert(transport::Attempts(attempt));
        Err(self.status_error(what, response).await)
    }

    /// Put manifest bytes under `target` (a tag or a digest reference). Returns the digest the
    /// registry's `OCI-Subject` header names: a registry with the referrers API says so when it
    /// indexed a manifest that has a `subject`.
    pub async fn push_manifest(
        &self,
        target: &RegistryRef,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Option<String>> {
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
        Ok(response
            .headers()
            .get("OCI-Subject")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string))
    }

    /// The manifests the registry's referrers API lists for `digest`, following `Link` pages,
    /// or `None` when the registry has no referrers API (it answers 404, 400, 405, 406 or 501, or
    /// something that is not an index); `Some(Err(why))` when it lists an entry that cannot be
    /// read. Stops once more than `limit` entries are read, so a
    /// hostile list costs at most `limit + 1` descriptors of memory; each page is bounded like
    /// a manifest.
    pub async fn referrers(
        &self,
        repo: &RegistryRef,
        digest: &Digest,
        limit: usize,
    ) -> Result<Option<std::result::Result<Vec<Descriptor>, String>>> {
        /// Pages followed at most (a registry that sends empty pages forever is cut off).
        const MAX_PAGES: usize = 64;
        let what = format!("cannot list the referrers of {digest} in {repo}");
        let mut url = format!("{}/referrers/{digest}", repo.repository);
        let mut out = Vec::new();
        for page in 0..MAX_PAGES {
            let response = self
                .send(
                    repo,
                    Op::Pull,
                    Call {
                        accept: Some(MEDIA_OCI_INDEX),
                        ..Call::new(reqwest::Method::GET, &url, &what)
                    },
                )
                .await?;
            let status = response.status();
            if page == 0 && matches!(status.as_u16(), 400 | 404 | 405 | 406 | 501) {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(self.status_error(&what, response).await);
            }
            let next = next_link(&response);
            let bytes = crate::net::read_limited(response, MAX_MANIFEST)
                .await
                .map_err(|e| self.read_error(&what, MAX_MANIFEST, e))?;
            let listed = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("manifests").and_then(|m| m.as_array()).cloned());
            let Some(listed) = listed else {
                // A first answer that is not an index: no referrers API (the spec's rule).
                if page == 0 {
                    return Ok(None);
                }
                return Err(Error::environment(format!(
                    "{what}: page {} of the list is not an index",
                    page + 1
                )));
            };
            // An index whose entries cannot all be read is not "no API": what it lists might be
            // the very evidence that must be checked.
            for entry in listed {
                match serde_json::from_value::<Descriptor>(entry) {
                    Ok(d) => out.push(d),
                    Err(e) => {
                        return Ok(Some(Err(format!(
                            "the referrers API lists an entry cleanpipe cannot read ({e}); refusing to check only the others"
                        ))))
                    }
                }
            }
            if out.len() > limit {
                return Ok(Some(Ok(out)));
            }
            match next {
                // The next page is the registry's own: a link elsewhere is not followed.
                Some(n) if reqwest::Url::parse(&n).is_ok_and(|u| self.same_origin(&u)) => url = n,
                Some(n) => {
                    return Err(Error::environment(format!(
                        "{what}: the registry linked the next page to `{}`, another server",
                        crate::net::origin(&reqwest::Url::parse(&n).map_err(|e| Error::environment(e.to_string()))?)
                    ))
                    .with_hint("a referrers list is paged within its registry; check the registry or the proxy in front of it"))
                }
                None => return Ok(Some(Ok(out))),
            }
        }
        Err(Error::environment(format!(
            "{what}: the registry sent more than {MAX_PAGES} pages"
        ))
        .with_hint("the registry's referrers list does not end; check the registry"))
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
        let task = self.progress.task(
            crate::progress::Kind::Download,
            digest.to_string(),
            response.content_length(),
        );
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
            task.advance(chunk.len() as u64);
        }
        writer.commit(Some(digest))?;
        task.finish();
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
