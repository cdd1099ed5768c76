//! The registry transport: a thin layer over `oci-client` that speaks in cleanpipe's types,
//! streams blobs, and turns transport failures into errors that say what to do.

use std::path::Path;

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::types::{
    Descriptor, Digest, IMAGE_MANIFEST_TYPES, MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX,
};

/// A username and password (or token) for one registry. Never printed.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
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
}

/// A connection to one registry.
pub struct Remote {
    client: Client,
    auth: RegistryAuth,
    registry: String,
}

impl Remote {
    /// Connect to the registry `image` lives in.
    pub fn new(image: &RegistryRef, options: &RemoteOptions) -> Result<Self> {
        let protocol = if options.insecure || image.is_loopback() {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            use_monolithic_push: true,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            // Per read, not per request: a stalled registry fails instead of hanging the run.
            read_timeout: Some(std::time::Duration::from_secs(120)),
            ..Default::default()
        };
        let auth = match &options.credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => docker_config_auth(&image.registry),
        };
        Ok(Remote {
            client: Client::new(config),
            auth,
            registry: image.registry.clone(),
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
    /// Returns the exact bytes, their digest and their media type.
    pub async fn manifest(&self, image: &RegistryRef) -> Result<Option<(Vec<u8>, Digest, String)>> {
        let reference = self.reference(image);
        let mut accepted: Vec<&str> = IMAGE_MANIFEST_TYPES.to_vec();
        accepted.extend([MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST]);
        match self
            .client
            .pull_manifest_raw(&reference, &self.auth, &accepted)
            .await
        {
            Ok((bytes, _)) => {
                let digest = Digest::of(&bytes);
                if let Some(expected) = &image.digest {
                    if expected != &digest {
                        return Err(Error::environment(format!(
                            "registry returned a manifest for {image} whose digest is {digest}"
                        )));
                    }
                }
                let media_type = crate::oci::types::declared_media_type(&bytes)
                    .unwrap_or_else(|| crate::oci::types::MEDIA_OCI_MANIFEST.to_string());
                Ok(Some((bytes.to_vec(), digest, media_type)))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => {
                Err(self.transport_error(&format!("cannot fetch the manifest of {image}"), e))
            }
        }
    }

    /// Whether the repository already has this blob.
    pub async fn has_blob(&self, repo: &RegistryRef, digest: &Digest) -> Result<bool> {
        let reference = self.reference(repo);
        self.client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
        self.client
            .blob_exists(&reference, digest.as_str())
            .await
            .map_err(|e| self.transport_error(&format!("cannot check blob {digest} in {repo}"), e))
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
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
            .map(|chunk| chunk.map_err(OciDistributionError::IoError));
        self.push_stream(repo, &desc.digest, desc.size, stream)
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
        let target = self.reference(repo);
        let source = Reference::with_digest(
            self.registry.clone(),
            from_repository.to_string(),
            digest.to_string(),
        );
        self.client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
        self.client
            .mount_blob(&target, &source, digest.as_str())
            .await
            .is_ok()
            && self.has_blob(repo, digest).await.unwrap_or(false)
    }

    /// Upload a small blob held in memory.
    pub async fn push_blob_bytes(&self, repo: &RegistryRef, bytes: Vec<u8>) -> Result<Digest> {
        let digest = Digest::of(&bytes);
        let size = bytes.len() as u64;
        let stream = futures_util::stream::once(async move { Ok(bytes::Bytes::from(bytes)) });
        self.push_stream(repo, &digest, size, stream).await?;
        Ok(digest)
    }

    async fn push_stream<S>(
        &self,
        repo: &RegistryRef,
        digest: &Digest,
        size: u64,
        stream: S,
    ) -> Result<()>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, OciDistributionError>> + Send + 'static,
    {
        let reference = self.reference(repo);
        self.client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
        self.client
            .push_blob_stream(&reference, stream, digest.as_str(), Some(size))
            .await
            .map_err(|e| {
                self.transport_error(&format!("cannot upload blob {digest} to {repo}"), e)
            })?;
        Ok(())
    }

    /// Put manifest bytes under `target` (a tag or a digest reference).
    pub async fn push_manifest(
        &self,
        target: &RegistryRef,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<()> {
        let reference = self.reference(target);
        self.client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
        let content_type = media_type
            .parse()
            .map_err(|_| Error::usage(format!("`{media_type}` is not a valid media type")))?;
        self.client
            .push_manifest_raw(&reference, bytes.to_vec(), content_type)
            .await
            .map_err(|e| self.transport_error(&format!("cannot push the manifest {target}"), e))?;
        Ok(())
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
        let reference = self.reference(repo);
        self.client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
        let mut sized = self
            .client
            .pull_blob_stream(&reference, digest.as_str())
            .await
            .map_err(|e| {
                self.transport_error(&format!("cannot download blob {digest} from {repo}"), e)
            })?;
        let mut writer = layout.blob_writer()?;
        while let Some(chunk) = sized.stream.next().await {
            let chunk = chunk.map_err(|e| {
                Error::environment(format!("download of {digest} from {repo} broke off: {e}"))
            })?;
            writer
                .write_all(&chunk)
                .map_err(|e| Error::io("cannot write blob", layout.root(), e))?;
        }
        writer.commit(Some(digest))?;
        Ok(())
    }

    /// Download a small blob (config, signature payload) into memory, checking its digest.
    pub async fn read_blob(&self, repo: &RegistryRef, digest: &Digest) -> Result<Vec<u8>> {
        let reference = self.reference(repo);
        self.client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
        let mut out = Vec::new();
        self.client
            .pull_blob(&reference, digest.as_str(), &mut out)
            .await
            .map_err(|e| {
                self.transport_error(&format!("cannot download blob {digest} from {repo}"), e)
            })?;
        if &Digest::of(&out) != digest {
            return Err(Error::environment(format!(
                "blob {digest} from {repo} does not match its digest"
            )));
        }
        Ok(out)
    }

    fn transport_error(&self, what: &str, e: OciDistributionError) -> Error {
        let registry = &self.registry;
        match e {
            OciDistributionError::RequestError(re) if re.is_connect() || re.is_timeout() => {
                Error::environment(format!("{what}: registry `{registry}` is unreachable ({})", root_cause(&re)))
                    .with_hint("check that the registry is running and the address is right; registries outside this machine need HTTPS unless `push.insecure: true`")
            }
            OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
                Error::environment(format!("{what}: registry `{registry}` refused the credentials"))
                    .with_hint("log in with `docker login`, or pass `--registry-username` and `--registry-password-stdin`")
            }
            OciDistributionError::ServerError { code, message, .. } => Error::environment(format!(
                "{what}: registry `{registry}` answered HTTP {code}{}",
                if message.trim().is_empty() { String::new() } else { format!(": {}", message.trim()) }
            ))
            .with_hint("the registry failed; nothing after this step was published, so retrying is safe"),
            other => Error::environment(format!("{what}: {other}")),
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|err| {
            matches!(
                err.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound
            )
        }),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        _ => false,
    }
}

/// Credentials from the Docker client's config (including credential helpers), if any.
fn docker_config_auth(registry: &str) -> RegistryAuth {
    let server = if registry == "docker.io" {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    match docker_credential::get_credential(server) {
        Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
            RegistryAuth::Basic(u, p)
        }
        Ok(docker_credential::DockerCredential::IdentityToken(t)) => RegistryAuth::Bearer(t),
        Err(_) => RegistryAuth::Anonymous,
    }
}

/// Read a file's first line as a password (for `--registry-password-file` style inputs).
pub fn read_secret_file(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("cannot read secret file", path, e))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}
