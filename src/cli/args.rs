//! clap definitions only: no logic. Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// From a Git commit to a signed image in a registry, with the proof before deploy.
///
/// Exit codes: 0 success; 1 a gate or verification said no; 2 usage or pipeline-file error;
/// 3 environment error (registry, Docker, I/O); 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "cleanpipe", version, propagate_version = true)]
pub struct Cli {
    /// Print only errors and data, no progress.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More detail: each registry request and blob digest, with timings (repeatable).
    #[arg(long, short, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline: source, verify-base, build, sign, push; each stage a hard gate.
    Run(RunArgs),
    /// Check a pipeline file and exit 0, or 2 with file:line:col and a hint.
    Validate(PipelineArgs),
    /// Show what a run would do: stages, gates, bases, targets. No side effects.
    Plan(PlanArgs),
    /// Verify an image (registry or `oci:DIR…`): signatures by a key or a keyless identity, attestations, a deploy policy.
    Verify(Box<VerifyArgs>),
    /// Sign an existing image, appending to its signatures.
    Sign(SignArgs),
    /// Copy an image and all its evidence: a layout to a registry (tags last), or a registry
    /// to a layout (export, for offline verification).
    Copy(CopyArgs),
    /// Write an SBOM (SPDX 2.3 or CycloneDX 1.5 JSON) of an image.
    Sbom(SbomArgs),
    /// Scan an image for known vulnerabilities with an offline OSV database; exit 1 if the gate fails.
    Scan(ScanArgs),
    /// Fetch (`update`) and inspect (`stats`) the vulnerability database (docs/database.md).
    #[command(subcommand)]
    Db(DbCommand),
    /// Write (`create`), check (`check`) and attach as a signed attestation (`attest`) OpenVEX
    /// statements about an image (docs/vex.md).
    #[command(subcommand)]
    Vex(VexCommand),
    /// Write a cosign-format key pair (cosign.key mode 0600, cosign.pub).
    Keygen(KeygenArgs),
    /// Print the public key (PEM) of a signing key: a file, `env://VAR` or a `pkcs11:` token key.
    PublicKey(PublicKeyArgs),
    /// Write a starter `pipeline.yaml` and the CI file that runs it (build, sign, push, then a
    /// verified deploy after a manual approval); never overwrites a file without `--force`.
    ///
    /// The pipeline is a Dockerfile build when the directory has a `Dockerfile`, else a
    /// customize pipeline. When the repository already tracks pipeline files, only the CI file
    /// is written, in the matrix form for several of them.
    Init(InitArgs),
    /// Check the runs' audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Base images whose tag moved: list them (verified or not), or move the verified pins.
    #[command(subcommand)]
    Base(BaseCommand),
    /// Print the JSON Schema of the pipeline file (for editors).
    Schema {
        /// Print the key reference (`docs/pipeline-keys.md`) made from it instead.
        #[arg(long)]
        markdown: bool,
    },
    /// Print a shell completion script (e.g. `cleanpipe completions bash > /etc/bash_completion.d/cleanpipe`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `cleanpipe man > cleanpipe.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// The pipeline file [default: pipeline.yaml, else pipeline.example.yaml]
    #[arg(long, short = 'f', env = "CLEANPIPE_FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Registry username (with --registry-password-stdin); default: ~/.docker/config.json.
    #[arg(long, env = "CLEANPIPE_REGISTRY_USERNAME")]
    pub registry_username: Option<String>,
    /// Read the registry password or token from standard input.
    #[arg(long)]
    pub registry_password_stdin: bool,
    /// Use plain HTTP for the registry (loopback registries always do).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds a registry may stay silent before it counts as stalled (default 120).
    #[arg(long, env = "CLEANPIPE_REGISTRY_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..))]
    pub registry_timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Also write the JSON run report here (it is always written to the outputs directory).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The hash-chained audit log to append this run's record to [default: OUTPUTS/audit.jsonl].
    #[arg(long, env = "CLEANPIPE_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Also sign this run's audit record with the pipeline's key and attach it to the published
    /// image (predicate `https://cleanpipe.dev/attestations/audit-record/v1`).
    #[arg(long, env = "CLEANPIPE_ATTEST_AUDIT")]
    pub attest_audit: bool,
    /// Build and run every gate, but sign, tag and push nothing (a pull-request job: no key, no
    /// OIDC token). The reason is required and recorded in the report and the audit log.
    #[arg(long, value_name = "REASON", conflicts_with = "attest_audit")]
    pub unsigned: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Every pipeline file tracked in this Git repository (`pipeline.yaml`, `pipeline.yml`,
    /// `*.pipeline.yaml`, `*.pipeline.yml`, at any depth), each validated, as the one-line JSON a
    /// GitHub Actions `strategy.matrix` takes (`{"include":[…]}`; on GitHub also `matrix=` in
    /// `$GITHUB_OUTPUT`).
    #[arg(long, conflicts_with = "file")]
    pub matrix: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// `registry/repo:tag`, `registry/repo@sha256:…`, `oci:DIR[:TAG|@sha256:…]`.
    pub image: String,
    /// The public key that must have signed the image and its attestations: a PEM file, or a
    /// `pkcs11:`/`awskms://` key whose public half is read from there (with `--policy`, trusted
    /// besides the policy's keys).
    #[arg(long, required_unless_present_any = ["policy", "certificate_identity", "certificate_identity_regexp"])]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// A deploy policy file (docs/guides/deploy-policy.md): trusted keys, required attestations,
    /// provenance, base images and scan rules. The options below add to it.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// For an index: verify only this platform's image (`linux/arm64`); default: every platform
    /// image it lists. An unsigned index needs this, and that image's own signature.
    #[arg(long, value_parser = crate::oci::types::Platform::parse)]
    pub platform: Option<crate::oci::types::Platform>,
    /// Require a SLSA v1 provenance attestation (implied by the three options below).
    #[arg(long)]
    pub require_provenance: bool,
    /// The source repository the provenance must name (e.g. https://github.com/acme/app).
    #[arg(long)]
    pub source_repo: Option<String>,
    /// The commit the provenance must name (full SHA, or a prefix of 7+ characters).
    #[arg(long)]
    pub commit: Option<String>,
    /// The builder id the provenance must name.
    #[arg(long)]
    pub builder_id: Option<String>,
    /// Require an attested SBOM (SPDX or CycloneDX).
    #[arg(long)]
    pub require_sbom: bool,
    /// Require an attested scan result with no unwaived finding at or above this severity
    /// (unknown severities count as high), that checked every package it catalogued.
    #[arg(long, value_enum)]
    pub fail_on: Option<crate::scan::gate::Threshold>,
    /// Require attested scans whose vulnerability database was at most this old when the
    /// scan ran (`48h`, `2d`): counted from the database's recorded fetch time.
    #[arg(long, value_name = "DURATION")]
    pub max_db_age: Option<String>,
    /// Accept attested scans that could not check every package, or do not say (an external
    /// scanner's, or one made before cleanpipe recorded coverage).
    #[arg(long)]
    pub allow_incomplete_coverage: bool,
    /// Write a signed SLSA Verification Summary Attestation of the verdict here, PASSED or
    /// FAILED: a DSSE envelope with `--vsa-key` (for `slsa-verifier verify-vsa`), a Sigstore
    /// bundle with `--vsa-keyless`.
    #[arg(long)]
    pub vsa: Option<PathBuf>,
    /// The private key signing the VSA: a file or `env://VAR`; password from COSIGN_PASSWORD
    /// or a prompt.
    #[arg(long, requires = "vsa", conflicts_with = "vsa_keyless")]
    pub vsa_key: Option<String>,
    /// Sign the VSA keylessly (the deploy job's OIDC identity, a Fulcio certificate), like
    /// `cleanpipe sign --keyless`.
    #[arg(long, requires = "vsa")]
    pub vsa_keyless: bool,
    /// With `--vsa-keyless`: the private Sigstore instance (`signing_config.json`).
    #[arg(long, requires = "vsa_keyless", value_name = "FILE")]
    pub vsa_signing_config: Option<PathBuf>,
    /// With `--vsa-keyless`: the OIDC identity token or a file holding it (default: as
    /// `sign --keyless` finds one).
    #[arg(long, requires = "vsa_keyless", value_name = "TOKEN|FILE")]
    pub vsa_identity_token: Option<String>,
    /// Also attach the VSA to the image, as a Sigstore bundle referrer (what cosign v3's
    /// `verify-attestation --type https://slsa.dev/verification_summary/v1` reads); only a
    /// PASSED one unless `--attach-vsa-on-failure`.
    #[arg(long, requires = "vsa")]
    pub attach_vsa: bool,
    /// With `--attach-vsa`: attach a FAILED summary too (a record that the image failed; it
    /// never satisfies a policy that requires a summary, and fails one that reads it).
    #[arg(long, requires = "attach_vsa")]
    pub attach_vsa_on_failure: bool,
    /// `digest` prints only `repo@sha256:…` (what to deploy, never a tag) and only when verified.
    #[arg(long, short, value_enum, default_value_t = VerifyOutput::Text)]
    pub output: VerifyOutput,
    /// POST the verdict (image digest, result, failed rules, the VSA's digest) to this webhook
    /// (repeatable; https, or http on loopback). A failed delivery is exit 3 after the verdict.
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Vec<String>,
    /// The body `--notify` sends: cleanpipe's JSON, or a Slack incoming-webhook message.
    #[arg(long, value_enum, default_value_t = NotifyFormat::Json, requires = "notify")]
    pub notify_format: NotifyFormat,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Who may have signed keylessly (cosign's flags of the same names).
#[derive(Debug, Args, Default)]
pub struct IdentityArgs {
    /// The certificate identity that must have signed (exactly): an email, or a workflow URI
    /// such as https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main.
    #[arg(long, conflicts_with = "certificate_identity_regexp")]
    pub certificate_identity: Option<String>,
    /// A regular expression the certificate identity must match (searched, like cosign:
    /// anchor it with `^…$`).
    #[arg(long)]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer that must have authenticated the signer (exactly), e.g.
    /// https://token.actions.githubusercontent.com.
    #[arg(long, conflicts_with = "certificate_oidc_issuer_regexp")]
    pub certificate_oidc_issuer: Option<String>,
    /// A regular expression the OIDC issuer must match.
    #[arg(long)]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// The GitHub repository (`owner/repo`) the signing workflow ran in.
    #[arg(long)]
    pub certificate_github_workflow_repository: Option<String>,
    /// The git ref the signing workflow ran on (`refs/heads/main`, `refs/tags/v1`).
    #[arg(long)]
    pub certificate_github_workflow_ref: Option<String>,
    /// The commit the signing workflow ran on.
    #[arg(long)]
    pub certificate_github_workflow_sha: Option<String>,
    /// The event that triggered the signing workflow (`push`, `release`, …).
    #[arg(long)]
    pub certificate_github_workflow_trigger: Option<String>,
    /// The name of the signing workflow.
    #[arg(long)]
    pub certificate_github_workflow_name: Option<String>,
    /// The trusted root (cosign v3's `trusted_root.json`) of a private Sigstore instance;
    /// default: the public-good instance's root built into cleanpipe.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// Accept certificates without a signed certificate timestamp (a private instance
    /// without a CT log), as cosign's flag of that name does.
    #[arg(long)]
    pub insecure_ignore_sct: bool,
}

/// `verify --notify-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotifyFormat {
    Json,
    Slack,
}

/// `verify --output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyOutput {
    Text,
    Json,
    Digest,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The image to sign: a registry reference or `oci:DIR…`. Tags are resolved to a digest first.
    pub image: String,
    /// The private key: a file, `env://VAR`, a `pkcs11:` URI or an `awskms://` key. Password
    /// from COSIGN_PASSWORD or a prompt.
    #[arg(long, required_unless_present = "keyless", conflicts_with = "keyless")]
    pub key: Option<String>,
    /// Sign keylessly: an OIDC identity token, a Fulcio certificate for an ephemeral key, a
    /// transparency-log entry and a timestamp, stored as a Sigstore bundle.
    #[arg(long)]
    pub keyless: bool,
    #[command(flatten)]
    pub keyless_options: KeylessArgs,
    /// How to store the signature: cosign's legacy `.sig` tag, a Sigstore bundle referrer
    /// (cosign v3's default), or both. Default: legacy with a key, bundle when keyless.
    #[arg(long, value_enum)]
    pub format: Option<SignFormatArg>,
    /// For an image index: sign the index and each image it lists (as cosign's `--recursive`).
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Where keyless signing gets its identity and services.
#[derive(Debug, Args, Default)]
pub struct KeylessArgs {
    /// The private Sigstore instance to sign with: a `signing_config.json` (cosign v3's
    /// format) naming Fulcio, Rekor and the timestamp authority; default: the public-good
    /// instance. With `--key`: the Rekor v2 log and timestamp authority that record the
    /// key's bundle (as `cosign sign --key K --signing-config F` does).
    #[arg(long)]
    pub signing_config: Option<PathBuf>,
    /// The OIDC identity token, or a file holding it; default: SIGSTORE_ID_TOKEN, then the CI
    /// provider's ambient token (GitHub Actions, GitLab, Buildkite, CircleCI), then (on a
    /// terminal) a browser sign-in.
    #[arg(long, requires = "keyless", value_name = "TOKEN|FILE")]
    pub identity_token: Option<String>,
}

/// `--format` of `cleanpipe sign` (the pipeline's `sign.format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SignFormatArg {
    Legacy,
    Bundle,
    Both,
}

impl From<SignFormatArg> for crate::spec::model::SignFormat {
    fn from(f: SignFormatArg) -> Self {
        match f {
            SignFormatArg::Legacy => Self::Legacy,
            SignFormatArg::Bundle => Self::Bundle,
            SignFormatArg::Both => Self::Both,
        }
    }
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source: a layout image (`oci:DIR:TAG`, `oci:DIR@sha256:…`) to publish, or a registry
    /// image (`registry/repo:tag`, `…@sha256:…`) to export.
    pub source: String,
    /// Destination: `registry/repo:tag` (publish), or `oci:DIR[:TAG]` (export, with every
    /// signature, attestation and referrer, for offline `verify`).
    pub destination: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// `registry/repo:tag`, `registry/repo@sha256:…`, `oci:DIR[:TAG|@sha256:…]`.
    pub image: String,
    #[arg(long, value_enum, default_value_t = SbomFormatArg::SpdxJson)]
    pub format: SbomFormatArg,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormatArg {
    SpdxJson,
    CyclonedxJson,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// `registry/repo:tag`, `registry/repo@sha256:…`, `oci:DIR[:TAG|@sha256:…]`.
    pub image: String,
    /// OSV records: a directory of JSON files, an osv.dev `all.zip`, or a directory `cleanpipe
    /// db update` wrote (builtin scanner) [default: the managed database in the user's cache,
    /// when `db update` wrote one].
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Who matches packages to advisories: cleanpipe itself, or an installed trivy or grype
    /// with its own database.
    #[arg(long, value_enum, default_value_t = crate::scan::gate::ScannerKind::Builtin)]
    pub scanner: crate::scan::gate::ScannerKind,
    /// The trivy or grype binary (default: found on PATH).
    #[arg(long, requires = "scanner")]
    pub scanner_path: Option<String>,
    /// An extra argument for trivy or grype (repeatable), e.g. `--scanner-arg=--skip-db-update`.
    #[arg(long = "scanner-arg", allow_hyphen_values = true)]
    pub scanner_args: Vec<String>,
    /// The lowest severity that fails the gate.
    #[arg(long, value_enum, default_value_t = crate::scan::gate::Threshold::High)]
    pub fail_on: crate::scan::gate::Threshold,
    /// A VEX document (OpenVEX v0.2 or CycloneDX VEX, JSON; repeatable): its `not_affected`
    /// and `fixed` statements take findings out of the gate, listed as suppressed (docs/vex.md).
    #[arg(long = "vex", value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    #[arg(long, short, value_enum, default_value_t = ScanOutput::Table)]
    pub output: ScanOutput,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Scan the packages listed in the CycloneDX SBOM attested to the image by a trusted signer
    /// (`--key` or an identity) instead of reading its layers: an image built earlier checked
    /// against today's database without pulling it. Builtin scanner; cleanpipe's own SBOMs.
    #[arg(long)]
    pub from_sbom: bool,
    /// With `--from-sbom`: a public key that may have signed the SBOM (PEM file; repeatable).
    #[arg(long)]
    pub key: Vec<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanOutput {
    Table,
    Json,
    Sarif,
}

#[derive(Debug, Subcommand)]
pub enum BaseCommand {
    /// Every pinned base (`repo:tag@sha256:…`) whose tag now names another digest, with that
    /// digest's signature checked by the base's key. Exit 0: nothing to do; 1: updates wait.
    Outdated(BaseArgs),
    /// Rewrite the pins of verified updates (keeping `repo:tag@sha256:…`) and print the diff;
    /// unsigned or other-key updates are reported, never written. A dry run without `--write`.
    Update {
        #[command(flatten)]
        args: BaseArgs,
        /// Write the files (otherwise only print what would change).
        #[arg(long)]
        write: bool,
    },
}

#[derive(Debug, Args)]
pub struct BaseArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check an audit log's hash chain: exit 0 intact, 1 broken (the first bad line named).
    Verify {
        /// The audit log (JSON lines, as `cleanpipe run` appends them).
        path: PathBuf,
        /// The head (SHA-256 of the last record) kept elsewhere: a truncated or edited tail
        /// then fails too.
        #[arg(long)]
        head: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VexCommand {
    /// Write an OpenVEX v0.2 document with one statement (checked by cleanpipe's own reader
    /// before it is written).
    Create(VexCreateArgs),
    /// Read and check VEX documents (OpenVEX v0.2, CycloneDX VEX): exit 0 when every one is
    /// usable, 2 with each problem's file and JSON pointer.
    Check {
        /// The documents.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Attach an OpenVEX document to an image as an attestation (predicate
    /// `https://openvex.dev/ns/v0.2.0`, a Sigstore bundle referrer) signed with a key or
    /// keylessly; `verify --fail-on` applies it when the signer is trusted. Earlier VEX
    /// attestations stay.
    Attest(VexAttestArgs),
}

/// `--status` of `cleanpipe vex create`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum VexStatusArg {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

#[derive(Debug, Args)]
pub struct VexCreateArgs {
    /// What the statement is about: an image (`registry/repo:tag`, `oci:DIR:TAG`, resolved to
    /// its digest: `pkg:oci/NAME@sha256:…`), an image or package purl (`pkg:…`), or an image
    /// digest (`sha256:…`), used as written.
    #[arg(long)]
    pub product: String,
    /// The vulnerability id (`CVE-…`, `GHSA-…`).
    #[arg(long = "vuln", value_name = "ID")]
    pub vulnerability: String,
    /// Other ids of the same vulnerability (repeatable).
    #[arg(long = "alias", value_name = "ID")]
    pub aliases: Vec<String>,
    #[arg(long, value_enum)]
    pub status: VexStatusArg,
    /// Why it is `not_affected`: component_not_present, vulnerable_code_not_present,
    /// vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary,
    /// inline_mitigations_already_exist.
    #[arg(long)]
    pub justification: Option<String>,
    /// Why it is `not_affected`, in words (instead of or beside `--justification`).
    #[arg(long = "impact", value_name = "TEXT")]
    pub impact_statement: Option<String>,
    /// What to do about it (`affected` requires one).
    #[arg(long = "action", value_name = "TEXT")]
    pub action_statement: Option<String>,
    /// A package in the product the statement narrows to (a purl; repeatable).
    #[arg(long = "subcomponent", value_name = "PURL")]
    pub subcomponents: Vec<String>,
    /// The document's author (OpenVEX requires one).
    #[arg(long, default_value = "Unknown Author")]
    pub author: String,
    /// Write the document here (default: standard output); an existing file is replaced.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct VexAttestArgs {
    /// The image: a registry reference or `oci:DIR…` (a tag is resolved to its digest).
    pub image: String,
    /// The OpenVEX v0.2 document.
    pub file: PathBuf,
    /// The private key: a file, `env://VAR`, a `pkcs11:` URI or a KMS key. Password from
    /// COSIGN_PASSWORD or a prompt.
    #[arg(long, required_unless_present = "keyless", conflicts_with = "keyless")]
    pub key: Option<String>,
    /// Sign keylessly (an OIDC identity token, a Fulcio certificate, a log entry).
    #[arg(long)]
    pub keyless: bool,
    #[command(flatten)]
    pub keyless_options: KeylessArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Fetch osv.dev's archives of the named ecosystems (`<mirror>/<ecosystem>/all.zip`), each
    /// checked, then swapped in atomically; a warm update is one conditional request each.
    Update(DbUpdateArgs),
    /// Push the managed database as a signed OCI artifact (one layer per ecosystem archive,
    /// the metadata in its config): blobs, manifest, signature, then the tag.
    Push(Box<DbPushArgs>),
    /// Fetch a database artifact, verify its signature (`--key`, `--certificate-identity`, or
    /// the pipeline's `scan.db_trust`), check every archive, install it into the managed
    /// directory. Refused: nothing installed.
    Pull(Box<DbPullArgs>),
    /// Per ecosystem: records, newest `modified`, source, digest and when it was fetched; or,
    /// for a directory of OSV records or a zip you supply, its ecosystems and record count.
    Stats {
        /// A directory of OSV JSON records or a zip [default: the managed database, `--dir`].
        path: Option<PathBuf>,
        /// The managed database directory [default: $XDG_CACHE_HOME/cleanpipe/osv, else
        /// ~/.cache/cleanpipe/osv].
        #[arg(long, conflicts_with = "path")]
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
}

#[derive(Debug, Args)]
pub struct DbUpdateArgs {
    /// Ecosystems as osv.dev spells them, comma-separated: `Debian,Alpine,PyPI,npm,Maven`; or
    /// `auto`: those the pipeline's images need (its pinned bases' packages, the manifests and
    /// lockfiles in its build context, the SBOMs of earlier runs and `--sbom`); or
    /// `installed`: those the database already has (none: nothing to do), for a CI job that
    /// refreshes its cached database before `run` (docs/database.md).
    #[arg(long, value_delimiter = ',', required = true)]
    pub ecosystems: Vec<String>,
    /// With `--ecosystems auto`: an SBOM (SPDX or CycloneDX JSON), or a directory whose
    /// `*.spdx.json` and `*.cdx.json` files are read (repeatable) [default: the pipeline's
    /// outputs directory].
    #[arg(long)]
    pub sbom: Vec<PathBuf>,
    /// With `--ecosystems auto`: the pipeline whose bases and build context are read
    /// [default: pipeline.yaml, else pipeline.example.yaml, if there; else SBOMs only]. Its
    /// `scan.db_mirror` is the mirror when neither `--mirror` nor CLEANPIPE_DB_MIRROR is set.
    #[arg(long = "file", short = 'f', env = "CLEANPIPE_FILE")]
    pub pipeline: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Where the archives are: `<MIRROR>/<ecosystem>/all.zip` (https; plain http only to
    /// loopback) [default: https://osv-vulnerabilities.storage.googleapis.com].
    #[arg(long, env = crate::cli::env_vars::DB_MIRROR)]
    pub mirror: Option<String>,
    /// The database directory [default: $CLEANPIPE_DB_DIR, else $XDG_CACHE_HOME/cleanpipe/osv,
    /// else ~/.cache/cleanpipe/osv].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DbPushArgs {
    /// Where to: `registry/repo:tag`, or `oci:DIR:TAG` (a local layout).
    pub target: String,
    /// The managed database directory [default: $XDG_CACHE_HOME/cleanpipe/osv, else
    /// ~/.cache/cleanpipe/osv].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The private key: a file, `env://VAR`, a `pkcs11:` URI or an `awskms://` key. Password
    /// from COSIGN_PASSWORD or a prompt.
    #[arg(long, required_unless_present = "keyless", conflicts_with = "keyless")]
    pub key: Option<String>,
    /// Sign keylessly (as `cleanpipe sign --keyless`).
    #[arg(long)]
    pub keyless: bool,
    #[command(flatten)]
    pub keyless_options: KeylessArgs,
    /// How to store the signature (as `cleanpipe sign --format`).
    #[arg(long, value_enum)]
    pub format: Option<SignFormatArg>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct DbPullArgs {
    /// The artifact: `registry/repo:tag`, `registry/repo@sha256:…`, `oci:DIR[:TAG|@sha256:…]`
    /// (`oci://registry/repo…` as `scan.db` writes it is accepted too).
    pub source: String,
    /// The managed database directory to install into [default: $XDG_CACHE_HOME/cleanpipe/osv,
    /// else ~/.cache/cleanpipe/osv].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A public key that may have signed it (PEM file; repeatable).
    #[arg(long)]
    pub key: Vec<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Trust what this pipeline file's `scan.db_trust` names (default: none; give `--key` or
    /// an identity otherwise).
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PublicKeyArgs {
    /// The private key: a file, `env://VAR`, or `pkcs11:token=…;object=…?module-path=…`.
    #[arg(long)]
    pub key: String,
    /// Write the PEM here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign")]
    pub output_key_prefix: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The CI system to write for [default: the one whose file the repository has
    /// (`.gitlab-ci.yml`, `Jenkinsfile`, `cloudbuild.yaml`, `.github/`), else github].
    #[arg(long, value_enum)]
    pub ci: Option<CiKind>,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    /// The directory (in a Git repository) for the pipeline file; the CI file goes to the
    /// repository's root.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Sign keylessly with the CI job's OIDC identity (GitHub Actions, GitLab CI): writes
    /// `sign.keyless` and a `policy.yaml` the deploy job verifies with. Neither flag: asked on
    /// a terminal; else keyless on GitHub and GitLab, a key on Jenkins and Cloud Build.
    #[arg(long, conflicts_with = "key")]
    pub keyless: bool,
    /// Sign with a key from a CI secret (COSIGN_PRIVATE_KEY); the deploy job verifies with the
    /// committed cosign.pub.
    #[arg(long)]
    pub key: bool,
}

/// `init --ci`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiKind {
    /// GitHub Actions: `.github/workflows/cleanpipe.yml`.
    Github,
    /// GitLab CI: `.gitlab-ci.yml`.
    Gitlab,
    /// Jenkins (declarative pipeline): `Jenkinsfile`.
    Jenkins,
    /// Google Cloud Build: `cloudbuild.yaml`.
    Cloudbuild,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from(["cleanpipe", "run", "-f", "p.yaml", "--report", "r.json"])
            .unwrap();
        let Command::Run(run) = cli.command else {
            panic!()
        };
        assert_eq!(run.pipeline.file.unwrap(), PathBuf::from("p.yaml"));
        assert_eq!(run.report.unwrap(), PathBuf::from("r.json"));
    }

    #[test]
    fn init_flags_parse() {
        let cli = Cli::try_parse_from([
            "cleanpipe",
            "init",
            "--ci",
            "gitlab",
            "--force",
            "--dir",
            "svc",
        ])
        .unwrap();
        let Command::Init(init) = cli.command else {
            panic!()
        };
        assert_eq!(init.ci, Some(CiKind::Gitlab));
        assert!(init.force);
        assert_eq!(init.dir, PathBuf::from("svc"));
        let cli = Cli::try_parse_from(["cleanpipe", "init"]).unwrap();
        let Command::Init(init) = cli.command else {
            panic!()
        };
        assert_eq!(
            (init.ci, init.force, init.dir),
            (None, false, PathBuf::from("."))
        );
        assert!(Cli::try_parse_from(["cleanpipe", "init", "--ci", "travis"]).is_err());
    }

    #[test]
    fn verbose_counts_and_conflicts_with_quiet() {
        let cli = Cli::try_parse_from(["cleanpipe", "-vv", "validate"]).unwrap();
        assert_eq!(cli.verbose, 2);
        let cli = Cli::try_parse_from(["cleanpipe", "validate", "--verbose"]).unwrap();
        assert_eq!(cli.verbose, 1, "global: after the command too");
        assert!(Cli::try_parse_from(["cleanpipe", "-q", "-v", "validate"]).is_err());
    }
}
