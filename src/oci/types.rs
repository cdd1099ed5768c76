//! Pure serde data for OCI manifests, indexes, configs and digests.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MEDIA_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Manifest media types cleanpipe can read as a single image.
pub const IMAGE_MANIFEST_TYPES: &[&str] = &[MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST];

/// The annotation OCI layouts use for tags.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// When an artifact was made (image-spec annotations.md).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// The empty blob `{}` OCI 1.1 artifacts use as their config.
pub const MEDIA_OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_JSON: &[u8] = b"{}";

/// Blobs read into memory whole (manifests, configs, signature payloads, attestations), from a
/// layout or a registry, larger than this are refused: they are small by nature, and a bound
/// keeps a hostile store from making a read allocate without limit.
pub const MAX_SMALL_BLOB: u64 = 16 * 1024 * 1024;

/// A content digest, always `sha256:<64 lowercase hex>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Parse and validate `sha256:<hex>`.
    pub fn parse(s: &str) -> Result<Self> {
        let hex = s.strip_prefix("sha256:").ok_or_else(|| {
            Error::usage(format!("`{s}` is not a sha256 digest"))
                .with_hint("write it as `sha256:<64 hex digits>`")
        })?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Error::usage(format!("`{s}` is not a sha256 digest"))
                .with_hint("write it as `sha256:<64 lowercase hex digits>`"));
        }
        Ok(Digest(s.to_string()))
    }

    /// The digest of some bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    pub fn from_hasher(hasher: Sha256) -> Self {
        Digest(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// cosign's tag for objects about this digest: `sha256-<hex>.<suffix>`.
    pub fn cosign_tag(&self, suffix: &str) -> String {
        format!("sha256-{}.{suffix}", self.hex())
    }

    /// The OCI referrers fallback tag for this digest: `sha256-<hex>` (distribution-spec,
    /// "referrers tag schema"), used where a registry has no referrers API.
    pub fn referrers_tag(&self) -> String {
        format!("sha256-{}", self.hex())
    }
}

impl TryFrom<String> for Digest {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Digest::parse(&s)
    }
}
impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}
impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A content descriptor (image-spec descriptor.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Boxed: most descriptors have none, and they travel in enums and vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Box<DescriptorPlatform>>,
}

/// A descriptor's `platform` (image-spec image-index.md): what an index entry runs on. The
/// spec requires `architecture` and `os`; an entry without them does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescriptorPlatform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            artifact_type: None,
            annotations: BTreeMap::new(),
            platform: None,
        }
    }

    /// The descriptor of these exact bytes.
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Descriptor::new(media_type, Digest::of(bytes), bytes.len() as u64)
    }
}

/// An image manifest (OCI or Docker schema 2; same shape).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// A new OCI image manifest.
    pub fn oci(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Manifest {
            schema_version: 2,
            media_type: Some(MEDIA_OCI_MANIFEST.to_string()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// Parse manifest bytes, refusing indexes and schema 1 with a clear message.
    pub fn from_slice(bytes: &[u8], what: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            Error::environment(format!("manifest of {what} is not valid JSON")).caused_by(e)
        })?;
        let kind = document_kind(&value, None)
            .map_err(|why| Error::usage(format!("the manifest of {what} is refused: {why}")))?;
        if kind == DocumentKind::Index {
            return Err(Error::usage(format!(
                "{what} is a multi-platform index, not a single image"
            ))
            .with_hint(
                "pin the digest of the platform image (e.g. linux/amd64) instead of the index",
            ));
        }
        if value.get("schemaVersion").and_then(|v| v.as_u64()) != Some(2) {
            return Err(Error::usage(format!(
                "{what} uses Docker schema 1, which is not supported"
            )));
        }
        serde_json::from_value(value).map_err(|e| {
            Error::environment(format!("manifest of {what} is malformed")).caused_by(e)
        })
    }

    /// Canonical bytes as cleanpipe writes them (compact JSON, fixed field order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serializes")
    }

    pub fn media_type_or_default(&self) -> &str {
        self.media_type.as_deref().unwrap_or(MEDIA_OCI_MANIFEST)
    }
}

/// An image index, as used by `index.json` in a layout.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OS/architecture (and variant) as image indexes name platforms: `linux/amd64`,
/// `linux/arm64/v8`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this machine runs images of (Go's names, as indexes use them).
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// `os/architecture[/variant]`, as `--platform` takes it.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = text.split('/').collect();
        // Go's names (`linux`, `amd64`, `v8`): lowercase letters and digits. They also name
        // files (`sbom-linux-arm64-v8.spdx.json`), so no two platforms give one name.
        let word = |w: &str| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        };
        if !parts.iter().all(|p| word(p)) {
            return Err(format!(
                "`{text}` is not a platform: write `os/architecture[/variant]` in lowercase letters and digits, e.g. `linux/arm64`"
            ));
        }
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts
                    .get(2)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.to_string()),
            }),
            _ => Err(format!(
                "`{text}` is not a platform: write `os/architecture[/variant]`, e.g. `linux/arm64`"
            )),
        }
    }

    /// The platform an index entry names, if it names one.
    pub fn of(descriptor: &Descriptor) -> Option<Self> {
        let p = descriptor.platform.as_ref()?;
        Some(Platform {
            os: p.os.clone(),
            architecture: p.architecture.clone(),
            variant: p.variant.clone(),
        })
    }

    /// The platform an image config says it is for.
    pub fn of_config(config: &ImageConfig) -> Self {
        Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config
                .other
                .get("variant")
                .and_then(|v| v.as_str())
                .map(String::from),
        }
    }

    /// The `platform` object of an index entry.
    pub fn to_descriptor(&self) -> DescriptorPlatform {
        DescriptorPlatform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: None,
            os_features: vec![],
            variant: self.variant.clone(),
            features: vec![],
        }
    }

    /// Write this platform into an image config (`architecture`, `os`, `variant`).
    pub fn apply_to(&self, config: &mut ImageConfig) {
        config.architecture = self.architecture.clone();
        config.os = self.os.clone();
        match &self.variant {
            Some(v) => config.other.insert("variant".into(), serde_json::json!(v)),
            None => config.other.remove("variant"),
        };
    }

    /// `linux-arm64-v8`: the platform in a file name.
    pub fn file_suffix(&self) -> String {
        self.to_string().replace('/', "-")
    }

    /// Whether an index entry for `entry` serves this platform: same OS and architecture, and
    /// the same variant when this one names one (arm64 without a variant is v8).
    pub fn accepts(&self, entry: &Platform) -> bool {
        let variant = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_string()),
            (_, v) => v.map(String::from),
        };
        self.os == entry.os
            && self.architecture == entry.architecture
            && (self.variant.is_none() || variant(self) == variant(entry))
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Index {
    /// An OCI image index over `images`, in the order given, each entry naming its platform.
    pub fn over(images: &[(Descriptor, Platform)]) -> Self {
        Index {
            schema_version: 2,
            media_type: Some(MEDIA_OCI_INDEX.to_string()),
            manifests: images
                .iter()
                .map(|(d, p)| {
                    let mut entry = Descriptor::new(&d.media_type, d.digest.clone(), d.size);
                    entry.platform = Some(Box::new(p.to_descriptor()));
                    entry
                })
                .collect(),
            annotations: BTreeMap::new(),
        }
    }

    /// The platforms this index lists images for, in its order, each once; entries without a
    /// platform and `unknown/unknown` (BuildKit's attestation manifests) are not platforms.
    pub fn platforms(&self) -> Vec<Platform> {
        let mut out: Vec<Platform> = Vec::new();
        for p in self.manifests.iter().filter_map(Platform::of) {
            // `linux/arm64` and `linux/arm64/v8` are one platform: the first entry serves it.
            if p.os != "unknown" && !out.iter().any(|o| o.accepts(&p) || p.accepts(o)) {
                out.push(p);
            }
        }
        out
    }

    /// The manifest this index holds for `platform`, or the platforms it does hold. Entries
    /// without a platform (attestation manifests that BuildKit adds) are never chosen.
    pub fn for_platform(
        &self,
        platform: &Platform,
    ) -> std::result::Result<&Descriptor, Vec<String>> {
        self.manifests
            .iter()
            .find(|d| Platform::of(d).is_some_and(|p| platform.accepts(&p)))
            .ok_or_else(|| {
                self.manifests
                    .iter()
                    .filter_map(Platform::of)
                    .map(|p| p.to_string())
                    .collect()
            })
    }
}

/// What a manifest document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Image,
    Index,
}

/// What `value` is: by the media type it declares (as registries and runtimes decide), else by
/// `header` (the media type it was served or listed with), else by its shape. A document that is
/// both (a `manifests` list beside `config` or `layers`), or whose shape contradicts its declared
/// type, is refused: readers would disagree on what it is (CVE-2021-41190).
pub fn document_kind(
    value: &serde_json::Value,
    header: Option<&str>,
) -> std::result::Result<DocumentKind, String> {
    let is_index_type = |t: &str| t == MEDIA_OCI_INDEX || t == MEDIA_DOCKER_LIST;
    let has_manifests = value.get("manifests").is_some();
    let has_image = value.get("config").is_some() || value.get("layers").is_some();
    if has_manifests && has_image {
        return Err("it holds both `manifests` (an index) and `config`/`layers` (an image)".into());
    }
    let declared = value.get("mediaType").and_then(|m| m.as_str()).or(header);
    match declared {
        Some(t) if is_index_type(t) => {
            if has_image {
                Err(format!("it declares `{t}` but holds `config`/`layers`"))
            } else {
                Ok(DocumentKind::Index)
            }
        }
        Some(t) if has_manifests && value.get("mediaType").is_some() => {
            Err(format!("it declares `{t}` but holds `manifests`"))
        }
        _ if has_manifests => Ok(DocumentKind::Index),
        _ => Ok(DocumentKind::Image),
    }
}

impl Index {
    /// Parse an index document; anything else (an image, an ambiguous document) is refused.
    pub fn from_slice(bytes: &[u8], what: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            Error::environment(format!("the index of {what} is not JSON")).caused_by(e)
        })?;
        match document_kind(&value, None) {
            Ok(DocumentKind::Index) => serde_json::from_value(value).map_err(|e| {
                Error::environment(format!("the index of {what} is malformed")).caused_by(e)
            }),
            Ok(DocumentKind::Image) => Err(Error::usage(format!("{what} is not an index"))),
            Err(why) => Err(Error::usage(format!(
                "the index of {what} is refused: {why}"
            ))),
        }
    }
}

/// The parts of an image config cleanpipe reads and writes. Unknown fields are kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RuntimeConfig>,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The `config` object of an image config: how a container starts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RuntimeConfig {
    #[serde(rename = "User", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(rename = "Env", default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub working_dir: Option<String>,
    #[serde(rename = "Labels", default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

impl ImageConfig {
    /// The config of an empty (`scratch`) linux/amd64 image.
    pub fn scratch() -> Self {
        let host = Platform::host();
        ImageConfig {
            architecture: host.architecture,
            os: host.os,
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![],
            },
            ..Default::default()
        }
    }
}

/// A writer that hashes what passes through it (layer diff_ids are computed this way while
/// the same bytes stream on into gzip).
pub struct HashingWriter<W> {
    pub inner: W,
    pub hasher: Sha256,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The inner writer and the digest of everything written.
    pub fn finish(self) -> (W, Digest) {
        (self.inner, Digest::from_hasher(self.hasher))
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts what it reads and, at the end of the stream, refuses content
/// whose digest or size differs from the descriptor's: every byte of a layer that reaches a
/// decompressor or cataloguer is checked against the digest the manifest names.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    expected: Digest,
    size: u64,
    /// What the stream is, for the error (e.g. `layer sha256:… in `DIR``).
    what: String,
    checked: bool,
}

impl<R: std::io::Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: &Digest, size: u64, what: impl Into<String>) -> Self {
        VerifyingReader {
            inner,
            hasher: Sha256::new(),
            read: 0,
            expected: expected.clone(),
            size,
            what: what.into(),
            checked: false,
        }
    }

    /// Read what is left and check digest and size; an error says what differs.
    pub fn finish(&mut self) -> std::io::Result<()> {
        std::io::copy(self, &mut std::io::sink())?;
        self.check()
    }

    fn check(&mut self) -> std::io::Result<()> {
        if self.checked {
            return Ok(());
        }
        self.checked = true;
        let got = Digest::from_hasher(std::mem::take(&mut self.hasher));
        if got != self.expected {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} does not match its digest: the content hashes to {got} ({} bytes, the manifest says {})",
                    self.what, self.read, self.size
                ),
            ));
        }
        if self.read != self.size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is {} bytes, the manifest says {}",
                    self.what, self.read, self.size
                ),
            ));
        }
        Ok(())
    }
}

impl<R: std::io::Read> std::io::Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        if n == 0 && !buf.is_empty() {
            self.check()?;
        }
        Ok(n)
    }
}

/// The `mediaType` a manifest declares about itself, if any.
pub fn declared_media_type(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| {
            v.get("mediaType")
                .and_then(|m| m.as_str())
                .map(String::from)
        })
}

/// Map Docker layer media types onto their OCI equivalents (same bytes).
pub fn oci_layer_media_type(media_type: &str) -> &str {
    match media_type {
        MEDIA_DOCKER_LAYER_GZIP => MEDIA_OCI_LAYER_GZIP,
        "application/vnd.docker.image.rootfs.diff.tar" => MEDIA_OCI_LAYER_TAR,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn platforms_parse_go_names_only() {
        let p = super::Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert_eq!(p.file_suffix(), "linux-arm64-v8");
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/",
            "linux/../x",
            "linux/AMD64",
            "linux/amd64/v8/x",
            "linux/amd 64",
            "linux/arm64-v8",
            "linux/arm.64",
        ] {
            assert!(super::Platform::parse(bad).is_err(), "{bad}");
        }
        let index = super::Index::over(&[(
            super::Descriptor::new(MEDIA_OCI_MANIFEST, super::Digest::of(b"x"), 1),
            p.clone(),
        )]);
        assert_eq!(index.platforms(), vec![p.clone()]);
        // `linux/arm64` and `linux/arm64/v8` are one platform: the first entry serves it.
        let plain = super::Platform::parse("linux/arm64").unwrap();
        let both = super::Index::over(&[
            (index.manifests[0].clone(), p.clone()),
            (index.manifests[0].clone(), plain),
        ]);
        assert_eq!(both.platforms(), vec![p]);
        assert_eq!(
            serde_json::to_value(&index.manifests[0].platform).unwrap(),
            serde_json::json!({"architecture": "arm64", "os": "linux", "variant": "v8"})
        );
    }

    #[test]
    fn descriptor_platforms_are_typed_and_keep_every_field() {
        let text = r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2,"platform":{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1040","os.features":["win32k"],"features":["sse4"]}}"#;
        let d: super::Descriptor = serde_json::from_str(text).unwrap();
        let p = d.platform.as_ref().unwrap();
        assert_eq!(p.os_version.as_deref(), Some("10.0.17763.1040"));
        assert_eq!(p.os_features, ["win32k"]);
        assert_eq!(serde_json::to_string(&d).unwrap(), text, "round trip");
        // The spec requires os and architecture.
        let missing = text.replace(r#""os":"windows","#, "");
        assert!(serde_json::from_str::<super::Descriptor>(&missing).is_err());
    }

    #[test]
    fn documents_that_are_both_an_image_and_an_index_are_refused() {
        let kind = |v: serde_json::Value| document_kind(&v, None);
        let layers = serde_json::json!([]);
        assert_eq!(
            kind(serde_json::json!({"manifests": []})),
            Ok(DocumentKind::Index)
        );
        assert_eq!(
            kind(serde_json::json!({"layers": layers})),
            Ok(DocumentKind::Image)
        );
        assert!(kind(serde_json::json!({"manifests": [], "layers": []})).is_err());
        assert!(
            kind(serde_json::json!({"mediaType": MEDIA_OCI_MANIFEST, "manifests": []})).is_err()
        );
        assert!(kind(serde_json::json!({"mediaType": MEDIA_OCI_INDEX, "config": {}})).is_err());
        assert_eq!(
            document_kind(
                &serde_json::json!({"schemaVersion": 2}),
                Some(MEDIA_OCI_INDEX)
            ),
            Ok(DocumentKind::Index)
        );
        assert!(Manifest::from_slice(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[],"config":{"mediaType":"x","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#,
            "x"
        )
        .is_err());
    }

    use super::*;

    #[test]
    fn digest_parse_rejects_bad_input() {
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse("md5:00").is_err());
        let d = Digest::of(b"{}");
        assert_eq!(
            d.as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert_eq!(d.cosign_tag("sig"), format!("sha256-{}.sig", d.hex()));
    }

    #[test]
    fn verifying_reader_refuses_other_content_and_size() {
        use std::io::Read;
        let good = b"layer bytes";
        let d = Digest::of(good);
        let mut r = VerifyingReader::new(&good[..], &d, good.len() as u64, "layer x");
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, good);
        r.finish().unwrap();
        let mut bad = VerifyingReader::new(&b"layer bytez"[..], &d, 11, "layer x");
        let err = bad.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err
            .to_string()
            .contains("layer x does not match its digest"));
        // Stopping early and finishing still reads and checks the rest.
        let mut partial = VerifyingReader::new(&b"layer bytez"[..], &d, 11, "layer x");
        partial.read_exact(&mut [0u8; 3]).unwrap();
        assert!(partial.finish().is_err());
        let mut short = VerifyingReader::new(&good[..], &d, 99, "layer x");
        assert!(short
            .finish()
            .unwrap_err()
            .to_string()
            .contains("the manifest says 99"));
    }

    #[test]
    fn manifest_refuses_index() {
        let idx = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        let err = Manifest::from_slice(idx, "x").unwrap_err();
        assert!(err.to_string().contains("multi-platform index"));
    }
}
