//! The pipeline file, schema version 1 (docs/pipeline-v1.md), as typed serde data.
//! Unknown keys are errors everywhere; the JSON Schema (`cleanpipe schema`) comes from these types.
//!
//! A key written with nothing under it (`scan:` alone, or only comments below it) is never read
//! as a key left out: every block-valued key says what it means empty (see
//! [`crate::yaml::null_is_empty`]), in its doc comment ("Written empty: …") and so in the schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scan::gate::{ScannerKind, Threshold, UncheckedAllowance, UnknownSeverity, Waiver};

/// A whole pipeline file.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Schema version; must be 1.
    pub version: u32,
    /// Run, report and SBOM name; default: the repository directory name.
    #[serde(default)]
    pub name: Option<String>,
    /// The local OCI image layout (default `.cleanpipe/oci`).
    #[serde(default)]
    pub store: Option<String>,
    /// Where reports of each run go (default `.cleanpipe/out`).
    #[serde(default)]
    pub outputs: Option<String>,
    /// Allow `store` and `outputs` outside the repository (never `/`, the repository itself or
    /// a directory above it). Default false: both must be inside the repository.
    #[serde(default)]
    pub store_outside_repository: bool,
    /// Stage 1. Written empty: its defaults (a dirty tree fails the gate).
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub source: SourceSpec,
    /// Stage 2. Written empty: its defaults (every base pinned and verified, with no key yet
    /// trusted).
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub verify_base: VerifyBaseSpec,
    /// Stage 3. Written empty: an error (exactly one of `dockerfile` or `customize` is needed).
    #[serde(deserialize_with = "crate::yaml::null_is_error")]
    pub build: BuildSpec,
    /// Stage 4. Written empty: its defaults (signed with `key`, which must then be set).
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub sign: SignSpec,
    /// Stage 5. Written empty: its defaults (the local layout is the only target).
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub push: PushSpec,
}

/// Stage 1: the Git commit everything is traced to.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// A dirty work tree fails the gate unless true.
    #[serde(default)]
    pub allow_dirty: bool,
    /// Overrides SOURCE_DATE_EPOCH; default: the commit time.
    #[serde(default)]
    pub date_epoch: Option<u64>,
}

/// Stage 2: every base image pinned and signature-verified.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBaseSpec {
    /// Trusted public keys by name: a file path (relative to the pipeline file) or an https:// URL.
    /// Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub keys: BTreeMap<String, String>,
    /// Trusted keyless signers by name (a vendor's release workflow, say); `default_key` and
    /// `images[].key` name a key or an identity. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub identities: BTreeMap<String, TrustedIdentitySpec>,
    /// The key (or identity) for bases found in the build (customize.base, Dockerfile FROM lines).
    #[serde(default)]
    pub default_key: Option<String>,
    /// Extra bases to verify, or a per-image key. Written empty: an error (its bases would not
    /// be verified).
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub images: Vec<BaseImageSpec>,
    /// The bases' vulnerability gate (each verified base is scanned). Written empty: the gate
    /// with its defaults (builtin scanner, fail on high; `db` is then required).
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub scan: Option<ScanSpec>,
    /// Read the OpenVEX attestations attached to each verified base (signed by the base's own
    /// trusted key or identity) into the scan gates; on by default, `false` turns it off.
    #[serde(default)]
    pub vex: Option<bool>,
}

/// A keyless signer a base may be signed by: the certificate identity and its OIDC issuer
/// (each exactly, or as a regular expression), optional GitHub workflow claims, and the
/// trusted root (default: the public-good instance's).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedIdentitySpec {
    /// The certificate's identity (SAN: an email or a workflow URI), exactly.
    #[serde(default)]
    pub identity: Option<String>,
    /// The certificate's identity as a regular expression (whole match).
    #[serde(default)]
    pub identity_regexp: Option<String>,
    /// The OIDC issuer that vouched for the identity, exactly.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The OIDC issuer as a regular expression (whole match).
    #[serde(default)]
    pub issuer_regexp: Option<String>,
    /// GitHub workflow claims the certificate must carry: repository, ref, sha, trigger, name.
    /// Written empty: an error (its claims would not be checked).
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub github: BTreeMap<String, String>,
    /// A `trusted_root.json` (relative to the pipeline file) for a private instance.
    #[serde(default)]
    pub trusted_root: Option<String>,
    /// Accept certificates without an SCT (a private instance without a CT log).
    #[serde(default)]
    pub insecure_ignore_sct: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseImageSpec {
    /// The image, pinned by digest (`registry/repo:tag@sha256:…` or `oci:DIR@sha256:…`).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The key or identity (by name) that must have signed it; default: `default_key`.
    #[serde(default)]
    pub key: Option<String>,
}

/// Stage 3: exactly one of `dockerfile` or `customize`, then the scan gate.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    /// Build with a Dockerfile. Written empty: its defaults (`Dockerfile` in context `.`).
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub dockerfile: Option<DockerfileSpec>,
    /// Build daemonlessly on a base. Written empty: an error (`base` is required).
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub customize: Option<CustomizeSpec>,
    /// The built image's vulnerability gate, applied to each platform image; left out, the image
    /// is not scanned (and the run says so). Written empty: the gate with its defaults (builtin
    /// scanner, fail on high; `db` is then required).
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub scan: Option<ScanSpec>,
    /// The platforms to build (`linux/amd64`, `linux/arm64/v8`, …): one image each, and an OCI
    /// image index over them when there are several. Default: the base's platforms for
    /// customize, the host's for a Dockerfile. Written empty: an error.
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub platforms: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DockerfileSpec {
    /// The Dockerfile, relative to the pipeline file's directory.
    #[serde(default = "default_dockerfile")]
    pub path: String,
    /// The build context directory, relative to the pipeline file's directory; only files
    /// tracked by Git enter it (see `include_untracked`).
    #[serde(default = "default_context")]
    pub context: String,
    /// The stage to build (`--target`); default: the last.
    #[serde(default)]
    pub target: Option<String>,
    /// Build arguments. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub args: BTreeMap<String, String>,
    /// Labels added to the image. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Build without the engine's cache.
    #[serde(default)]
    pub no_cache: bool,
    /// The network mode for RUN steps (`default`, `none`, `host`, …); default: the engine's.
    #[serde(default)]
    pub network: Option<String>,
    /// Files not tracked at the commit (build outputs, ignored files) to send in the context
    /// anyway: `.dockerignore`-style patterns relative to the context. Default: none, only the
    /// commit's files are sent. Each one sent is named with its digest in the provenance.
    /// Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub include_untracked: Vec<String>,
    /// Which builder runs the Dockerfile (default `classic`, the Docker engine's).
    #[serde(default)]
    pub builder: DockerfileBuilder,
    /// Where buildkitd listens (`unix:///run/buildkit/buildkitd.sock`, `tcp://…`); default:
    /// `BUILDKIT_HOST`, else buildctl's default. Only with `builder: buildkit`.
    #[serde(default)]
    pub buildkit_host: Option<String>,
    /// The `buildctl` binary (default: found on PATH). Only with `builder: buildkit`.
    #[serde(default)]
    pub buildctl: Option<String>,
    /// Build secrets by id, for `RUN --mount=type=secret,id=ID` (BuildKit only): never in a
    /// layer, the config, the log or the report. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub secrets: BTreeMap<String, BuildSecret>,
    /// SSH for `RUN --mount=type=ssh[,id=ID]` (BuildKit only), by id (`default` when the
    /// mount names none): `agent` forwards cleanpipe's own agent (`SSH_AUTH_SOCK`), anything
    /// else is an agent socket or private key file (relative to the pipeline file). Keys never
    /// enter a layer; the build only talks to the agent. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub ssh: BTreeMap<String, String>,
    /// Build caches to import (BuildKit's `--import-cache`): a registry reference
    /// (`REGISTRY/REPO:buildcache`) or buildctl's own form (`type=registry,ref=…`,
    /// `type=local,src=…`). Cached steps enter the image without being re-run: name only caches
    /// this pipeline's CI writes. Recorded in the provenance. Only with `builder: buildkit`.
    /// Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub cache_from: Vec<String>,
    /// Where to export the build cache (`--export-cache`): a registry reference (all steps,
    /// `mode=max`) or buildctl's own form. Only with `builder: buildkit`. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub cache_to: Vec<String>,
}

/// The builder behind `build.dockerfile`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DockerfileBuilder {
    /// The Docker engine's classic builder (bollard), re-packed from `docker save`.
    #[default]
    Classic,
    /// A buildkitd driven by `buildctl`, exported as an OCI layout.
    Buildkit,
}

impl DockerfileBuilder {
    /// The name as written in the pipeline file.
    pub fn as_str(self) -> &'static str {
        match self {
            DockerfileBuilder::Classic => "classic",
            DockerfileBuilder::Buildkit => "buildkit",
        }
    }
}

/// Where a secret's value comes from (a build secret, `sign.keyless.identity_token`): exactly
/// one of a file (relative to the pipeline file's directory) or an environment variable.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildSecret {
    /// A file holding the value (relative to the pipeline file's directory).
    #[serde(default)]
    pub file: Option<String>,
    /// An environment variable holding the value.
    #[serde(default)]
    pub env: Option<String>,
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}
fn default_context() -> String {
    ".".into()
}

/// The daemonless builder: static changes on top of a base.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomizeSpec {
    /// `scratch`, `registry/repo@sha256:…`, or `oci:DIR@sha256:…`.
    pub base: String,
    /// Files added to the image. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub files: Vec<FileEntry>,
    /// Environment variables set in the image. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub env: BTreeMap<String, String>,
    /// Labels added to the image. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The image's user (`USER`); left out: the base's.
    #[serde(default)]
    pub user: Option<String>,
    /// The image's working directory (`WORKDIR`); left out: the base's.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Left out: the base's. Written empty: an error (`[]` clears it).
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub entrypoint: Option<Vec<String>>,
    /// Left out: the base's. Written empty: an error (`[]` clears it).
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub cmd: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the pipeline file's directory; a file or a directory.
    pub src: String,
    /// Absolute path in the image.
    pub dest: String,
    /// Octal, e.g. "0644"; default 0644 for files (0755 if executable), 0755 for directories.
    #[serde(default)]
    pub mode: Option<String>,
    /// Owner user id in the image.
    #[serde(default)]
    pub uid: u64,
    /// Owner group id in the image.
    #[serde(default)]
    pub gid: u64,
}

/// A vulnerability gate.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanSpec {
    #[serde(default)]
    pub fail_on: Option<Threshold>,
    #[serde(default)]
    pub scanner: Option<ScannerKind>,
    /// The OSV database of the builtin scanner: `managed` (the database `cleanpipe db update`
    /// keeps, in `$CLEANPIPE_DB_DIR` or the user's cache), or a directory of OSV JSON records
    /// or a `.zip` as osv.dev publishes per ecosystem (relative to the pipeline file, or absolute).
    /// Required with the builtin scanner; refused with trivy or grype.
    #[serde(default)]
    pub db: Option<String>,
    /// The trivy or grype binary (default: found on PATH).
    #[serde(default)]
    pub scanner_path: Option<String>,
    /// Extra arguments for trivy or grype (e.g. `--skip-db-update`, `--cache-dir DIR`).
    /// Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub scanner_args: Vec<String>,
    /// Accepted findings, each with a reason and an expiry. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub waivers: Vec<Waiver>,
    /// A finding whose severity no source gives fails any gate at `high` or below. `ignore`
    /// lets it through, only with `unknown_severity_reason` (shown in the report and the
    /// attestation).
    #[serde(default)]
    pub unknown_severity: Option<UnknownSeverity>,
    /// Why unknown severities are ignored (required with `unknown_severity: ignore`).
    #[serde(default)]
    pub unknown_severity_reason: Option<String>,
    /// Fail only on findings that have a fixed version (grype's `--only-fixed`); unfixed
    /// findings stay listed. Only with `only_fixed_reason`.
    #[serde(default)]
    pub only_fixed: bool,
    /// Why unfixed findings may pass (required with `only_fixed: true`).
    #[serde(default)]
    pub only_fixed_reason: Option<String>,
    /// Packages that may stay unchecked (no advisory source, no records in the database), each
    /// with a reason and an expiry; anything else unchecked fails the gate. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub unchecked: Vec<UncheckedAllowance>,
    /// VEX documents (OpenVEX v0.2 or CycloneDX VEX, JSON) whose `not_affected` and `fixed`
    /// statements take findings out of the gate (listed as suppressed); paths in the
    /// repository, reviewed in Git. Rules in docs/vex.md. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub vex: Vec<String>,
    /// Who may have signed a database artifact (`db: oci://…`, `cleanpipe db pull`): keys and
    /// keyless identities, shaped like `verify_base`'s; a signature by any one of them counts.
    /// Required with `db: oci://…`. Written empty: an error (it would trust nobody).
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub db_trust: Option<DbTrustSpec>,
    /// The gate fails when the database is older than this (`48h`, `2d`; units s, m, h, d,
    /// w): its age is counted from when its oldest archive was fetched from osv.dev (`db
    /// update`, kept through `db push`/`db pull`). Needs a managed database or `oci://`
    /// artifact (a directory you supply has no fetch time). No default.
    #[serde(default)]
    pub max_db_age: Option<String>,
    /// Why a database pinned by digest (`db: oci://…@sha256:…`) may be older than
    /// `max_db_age`: with it, the pinned database is exempt (the reason is shown in the run).
    #[serde(default)]
    pub pinned_db_exempt_from_age: Option<String>,
    /// With `db: managed`: where missing ecosystems are fetched from, a mirror laid out like
    /// osv.dev's bucket (`<mirror>/<ecosystem>/all.zip`; https, plain http only to loopback).
    /// `CLEANPIPE_DB_MIRROR` overrides it (a CI job behind its own proxy). Default: osv.dev.
    #[serde(default)]
    pub db_mirror: Option<String>,
}

/// The signers a vulnerability database artifact is trusted from.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DbTrustSpec {
    /// Trusted public keys by name: a file path (relative to the pipeline file) or an https:// URL.
    /// Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub keys: BTreeMap<String, String>,
    /// Trusted keyless signers by name (the workflow that runs `db push --keyless`).
    /// Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub identities: BTreeMap<String, TrustedIdentitySpec>,
}

impl ScanSpec {
    /// The options of a pipeline's `scan` block (`build.scan` or `verify_base.scan`).
    pub fn options(&self, today: String) -> crate::scan::ScanOptions {
        let spec = self;
        crate::scan::ScanOptions {
            threshold: spec.fail_on.unwrap_or(Threshold::High),
            waivers: spec.waivers.clone(),
            today,
            ignore_unknown_severity: (spec.unknown_severity == Some(UnknownSeverity::Ignore))
                .then(|| spec.unknown_severity_reason.clone().unwrap_or_default()),
            only_fixed: spec
                .only_fixed
                .then(|| spec.only_fixed_reason.clone().unwrap_or_default()),
            unchecked_allowed: spec.unchecked.clone(),
            vex: vec![],
            image_reference: None,
            vex_ignored: vec![],
        }
    }
}

/// Stage 4: provenance and signing.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignSpec {
    /// A file path or `env://VAR` holding the PEM; password from COSIGN_PASSWORD.
    #[serde(default)]
    pub key: Option<String>,
    /// Create a clearly named example key pair if `key` does not exist (examples only).
    #[serde(default)]
    pub generate_if_missing: bool,
    /// SBOM formats to write and attest (default: both; `[]`: none). Written empty: an error.
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub sbom: Option<Vec<SbomFormat>>,
    /// SLSA v1 provenance attestation (default true).
    #[serde(default)]
    pub provenance: Option<bool>,
    /// The provenance's `runDetails.builder.id` (default: cleanpipe's CLI builder id).
    #[serde(default)]
    pub builder_id: Option<String>,
    /// How the signature and attestations are stored (default `legacy` with a key, `bundle`
    /// when keyless; keyless evidence is stored as bundles only).
    #[serde(default)]
    pub format: Option<SignFormat>,
    /// With `key`: a `signing_config.json` (relative to the pipeline file) whose Rekor v2 log
    /// and timestamp authority record every bundle (cosign v3's `--key K --signing-config F`).
    #[serde(default)]
    pub signing_config: Option<String>,
    /// Sign keylessly instead of with `key`: `true`, or where the identity and the Sigstore
    /// instance come from. Written empty: an error (write `true`, or its settings).
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub keyless: Option<KeylessSetting>,
}

impl SignSpec {
    /// The storage format, with its default.
    pub fn format(&self) -> SignFormat {
        self.format.unwrap_or(if self.keyless().is_some() {
            SignFormat::Bundle
        } else {
            SignFormat::Legacy
        })
    }

    /// The keyless settings when keyless signing is on.
    pub fn keyless(&self) -> Option<KeylessSpec> {
        match &self.keyless {
            Some(KeylessSetting::Enabled(true)) => Some(KeylessSpec::default()),
            Some(KeylessSetting::With(spec)) => Some(spec.clone()),
            Some(KeylessSetting::Enabled(false)) | None => None,
        }
    }
}

/// `sign.keyless`: `true` (the public-good instance, the CI provider's token), or a map.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum KeylessSetting {
    Enabled(bool),
    With(KeylessSpec),
}

/// Read by hand rather than as an untagged enum, so that an error inside the map (an unknown
/// key, a key written empty) is reported as itself, at its own key.
impl<'de> Deserialize<'de> for KeylessSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Setting;
        impl<'de> serde::de::Visitor<'de> for Setting {
            type Value = KeylessSetting;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`true`, `false` or a map of keyless settings")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(KeylessSetting::Enabled(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                KeylessSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(KeylessSetting::With)
            }
        }
        deserializer.deserialize_any(Setting)
    }
}

/// Where keyless signing gets its identity and services.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeylessSpec {
    /// A `signing_config.json` (cosign v3's format, relative to the pipeline file) naming a
    /// private instance's Fulcio, Rekor and timestamp authority; default: public-good.
    #[serde(default)]
    pub signing_config: Option<String>,
    /// The OIDC identity token: `{ env: VAR }` or `{ file: PATH }`; default: SIGSTORE_ID_TOKEN,
    /// then the CI provider's ambient token. Written empty: an error.
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub identity_token: Option<BuildSecret>,
}

/// How evidence is stored: cosign's legacy `.sig`/`.att` tags, Sigstore bundles as OCI
/// referrers (cosign v3's default), or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignFormat {
    /// Read by cosign v2 and v3, policy-controller and Kyverno with keys.
    #[default]
    Legacy,
    /// Read by cosign v3 (and cleanpipe); not by cosign v2 or key-based policy-controller.
    Bundle,
    Both,
}

impl SignFormat {
    pub fn legacy(self) -> bool {
        matches!(self, SignFormat::Legacy | SignFormat::Both)
    }
    pub fn bundle(self) -> bool {
        matches!(self, SignFormat::Bundle | SignFormat::Both)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum SbomFormat {
    #[serde(rename = "spdx-json")]
    SpdxJson,
    #[serde(rename = "cyclonedx-json")]
    CyclonedxJson,
}

/// Stage 5: publish and notify.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSpec {
    /// `registry/repo`; omit to publish to the local store only.
    #[serde(default)]
    pub repository: Option<String>,
    /// Tags, moved last (after signatures); templates allowed. Left out or written empty: the
    /// short commit SHA.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub tags: Vec<String>,
    /// Plain HTTP; loopback registries are always allowed.
    #[serde(default)]
    pub insecure: bool,
    /// Webhooks called after a successful push (a failed one fails the stage). Written empty:
    /// an error (its webhooks would not be called).
    #[serde(default, deserialize_with = "crate::yaml::null_is_error")]
    pub register: Vec<RegisterSpec>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterSpec {
    /// https, or http on loopback only.
    pub url: String,
    /// Request headers. Written empty: none.
    #[serde(default, deserialize_with = "crate::yaml::null_is_empty")]
    pub headers: BTreeMap<String, String>,
    /// HMAC-SHA256 key: the body's signature goes in `X-Cleanpipe-Signature-256`.
    #[serde(default)]
    pub secret: Option<String>,
    /// Per attempt (default 30).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// When to call it (default `[success]`): after a successful push (a failed call fails the
    /// push stage), and/or after a run that failed (best effort: the run's exit code stays).
    /// Written empty: an error.
    #[serde(
        default = "default_hook_events",
        deserialize_with = "crate::yaml::null_is_error"
    )]
    pub on: Vec<HookEvent>,
    /// The body: cleanpipe's JSON (default) or a Slack incoming-webhook message.
    #[serde(default)]
    pub format: HookFormat,
}

fn default_hook_events() -> Vec<HookEvent> {
    vec![HookEvent::Success]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HookEvent {
    Success,
    Failure,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HookFormat {
    #[default]
    Json,
    Slack,
}
