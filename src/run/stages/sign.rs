//! Stage 4, provenance/sign: SBOMs, the cosign signature of the built digest, and signed
//! attestations about it (SLSA provenance, the SBOMs, the scan result), all stored in the layout
//! before anything is published.

use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, IoContext, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::store::Store;
use crate::oci::types::Descriptor;
use crate::oci::types::Digest;
use crate::run::stages::build::{BuildOutput, PlatformBuilt};
use crate::run::stages::source::SourceInfo;
use crate::run::stages::verify_base::VerifiedBase;
use crate::run::RunContext;
use crate::sign::attest;
use crate::sign::cosign::SignOutcome;
use crate::sign::keys::{self, KeySource, SigningKey};
use crate::sign::Signer;
use crate::spec::model::BuildSecret;

#[derive(Clone, Debug, Serialize)]
pub struct SignOutput {
    /// Who signed, for messages: the key, or the certified keyless identity.
    pub key: String,
    /// Who signed, as a verifier must trust it: a key's fingerprint, or the certificate's
    /// identity, issuer and CI claims (never the token's subject).
    pub signer: SignerReport,
    pub docker_reference: String,
    /// cosign's `.sig` tag, only when a legacy signature was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_tag: Option<String>,
    pub signature_manifest: Option<Digest>,
    /// Where each signature and attestation this run made is stored.
    pub evidence: Vec<EvidenceRecord>,
    pub already_signed: bool,
    /// SBOM files written to the run's outputs, with their sha256.
    pub sboms: Vec<(String, String)>,
    /// Predicate types attested in `sha256-<hex>.att`.
    pub attestations: Vec<String>,
    /// The provenance statement written to the outputs, with its sha256.
    pub provenance: Option<(String, String)>,
    /// The image's own OpenVEX documents written to the outputs (`vex.openvex.json`), with their
    /// sha256: written and attested when its gate suppressed at least one finding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vex: Vec<(String, String)>,
    /// The signing key's public half: the push recognises this key's earlier attestations by it.
    #[serde(skip)]
    pub public_key: Option<crate::sign::keys::PublicKey>,
}

/// Who signed a run's evidence.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SignerReport {
    Key {
        /// `cosign.key`, `env://…`, `awskms://…` (never the key itself).
        source: String,
        /// sha256 of the public key (PKIX DER).
        fingerprint: String,
    },
    Keyless(crate::sign::keyless::Certified),
}

impl SignerReport {
    /// One line: `key cosign.key (sha256:…)` or `identity … (issuer)`.
    pub fn describe(&self) -> String {
        match self {
            SignerReport::Key {
                source,
                fingerprint,
            } => format!("key {source} ({fingerprint})"),
            SignerReport::Keyless(c) => format!("identity {}", c.describe()),
        }
    }
}

/// Where one piece of evidence is stored.
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceRecord {
    /// The image or index it is about.
    pub subject: Digest,
    /// `signature`, or the attestation's predicate type.
    pub what: String,
    /// `tag sha256-<hex>.sig`, `tag sha256-<hex>.att`, or `referrer sha256:…`.
    pub location: String,
}

/// An SBOM file written to the outputs, and its document for the attestation.
struct WrittenSbom {
    path: PathBuf,
    digest: Digest,
    predicate_type: &'static str,
    document: serde_json::Value,
}

/// Write the SBOMs `sign.sbom` asks for (default: SPDX and CycloneDX) of one built image into
/// the outputs (`sbom.spdx.json`; for a platform image of an index `sbom-linux-arm64.spdx.json`).
async fn write_sboms(
    ctx: &RunContext,
    built: &PlatformBuilt,
    docker_reference: &str,
) -> Result<Vec<WrittenSbom>> {
    use crate::sbom::{Format, Subject};
    use crate::spec::model::SbomFormat;
    let formats = ctx
        .pipeline
        .file
        .sign
        .sbom
        .clone()
        .unwrap_or_else(|| vec![SbomFormat::SpdxJson, SbomFormat::CyclonedxJson]);
    if formats.is_empty() {
        return Ok(vec![]);
    }
    let layout = Layout::open(&ctx.store_dir)?;
    let manifest =
        crate::oci::types::Manifest::from_slice(&layout.read_blob(&built.digest)?, "built image")?;
    let config: crate::oci::types::ImageConfig =
        serde_json::from_slice(&layout.read_blob(&manifest.config.digest)?).map_err(|e| {
            Error::environment("the built image's config is unreadable").caused_by(e)
        })?;
    let (layout2, progress) = (layout.clone(), ctx.progress.clone());
    let catalog = tokio::task::spawn_blocking(move || {
        crate::sbom::catalog_image(&layout2, &manifest, &progress)
    })
    .await
    .map_err(|e| Error::environment("cataloguing failed").caused_by(e))??;
    for w in &catalog.warnings {
        ctx.warn("sign", w);
    }
    let subject = Subject {
        name: docker_reference.to_string(),
        digest: built.digest.clone(),
        created: config
            .created
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
        repository: ctx
            .pipeline
            .file
            .push
            .repository
            .as_ref()
            .map(|_| docker_reference.to_string()),
    };
    let mut out = Vec::new();
    for f in formats {
        let format = match f {
            SbomFormat::SpdxJson => Format::SpdxJson,
            SbomFormat::CyclonedxJson => Format::CyclonedxJson,
        };
        let document = format.document(&subject, &catalog);
        let bytes = Format::to_file_bytes(&document);
        let name = match built.file_suffix()? {
            None => format.file_name().to_string(),
            Some(suffix) => format
                .file_name()
                .replacen("sbom.", &format!("sbom-{suffix}."), 1),
        };
        let path = ctx.outputs_dir.join(name);
        crate::oci::layout::write_atomic(&path, &bytes)?;
        out.push(WrittenSbom {
            path,
            digest: Digest::of(&bytes),
            predicate_type: match format {
                Format::SpdxJson => attest::PREDICATE_SPDX,
                Format::CyclonedxJson => attest::PREDICATE_CYCLONEDX,
            },
            document,
        });
    }
    ctx.say(
        "sign",
        &format!(
            "SBOM{}: {} package(s) written to {}",
            platform_note(built),
            catalog.packages.len(),
            ctx.outputs_dir.display()
        ),
    );
    Ok(out)
}

/// The name signatures carry in `docker-reference`: the push repository, else the local store.
pub fn docker_reference(ctx: &RunContext) -> Result<String> {
    match &ctx.pipeline.file.push.repository {
        Some(repo) => Ok(RegistryRef::parse(repo)
            .map_err(|e| {
                ctx.pipeline
                    .error_at(&["push", "repository"], e.to_string())
            })?
            .repository_name()),
        None => Ok(format!("oci:{}", ctx.store_dir.display())),
    }
}

/// ` (linux/arm64)` for a platform image of an index, else nothing: for messages.
fn platform_note(image: &PlatformBuilt) -> String {
    match image.platform.as_str() {
        "" => String::new(),
        p => format!(" ({p})"),
    }
}

pub async fn run(
    ctx: &RunContext,
    git: &SourceInfo,
    bases: &[VerifiedBase],
    built: &BuildOutput,
    started_on: &str,
) -> Result<SignOutput> {
    let (signer, key_source) = signer(ctx).await?;
    let docker_reference = docker_reference(ctx)?;
    let images = built.images();
    let mut sboms = Vec::new();
    for image in &images {
        sboms.push(write_sboms(ctx, image, &docker_reference).await?);
    }
    let store = Store::Layout(Layout::create(&ctx.store_dir)?);
    let created = crate::build::customize::rfc3339(git.date_epoch)?;
    // The signature: on the index and on each platform image (cosign's `--recursive`), so a
    // verifier that resolves the index to one platform's image finds it signed too.
    let subjects = built.subjects();
    let mut outcome = None;
    let mut evidence = Vec::new();
    for subject in &subjects {
        let signed = sign_subject(
            ctx,
            &store,
            subject,
            &signer,
            &key_source,
            &docker_reference,
            &created,
        )
        .await?;
        evidence.extend(signed.2);
        outcome.get_or_insert((signed.0, signed.1));
    }
    let (manifest, already) = outcome.expect("one subject at least");
    let inputs = Inputs {
        source: git,
        bases,
        built,
        docker_reference: &docker_reference,
        started_on,
        created: &created,
    };
    let mut predicate_types: Vec<String> = Vec::new();
    let mut vex_files = Vec::new();
    for (image, sboms) in images.iter().zip(&sboms) {
        let vex = write_image_vex(ctx, image, &docker_reference)?;
        if let Some((path, digest, _)) = &vex {
            vex_files.push((path.display().to_string(), digest.to_string()));
        }
        let vex = vex.map(|(_, _, doc)| doc);
        for t in attest_image(
            ctx,
            &store,
            &signer,
            &inputs,
            image,
            sboms,
            vex,
            &mut evidence,
        )
        .await?
        {
            if !predicate_types.contains(&t) {
                predicate_types.push(t);
            }
        }
    }
    let all_sboms: Vec<&WrittenSbom> = sboms.iter().flatten().collect();
    let provenance = match ctx.pipeline.file.sign.provenance {
        Some(false) => None,
        _ => {
            let file = attest_provenance(
                ctx,
                &store,
                &signer,
                &inputs,
                &subjects,
                &all_sboms,
                &mut evidence,
            )
            .await?;
            predicate_types.push(attest::PREDICATE_SLSA_PROVENANCE_V1.to_string());
            Some(file)
        }
    };
    let signer_report = match (&signer, signer.key()) {
        (Signer::Keyless(k), _) => SignerReport::Keyless(k.certified().ok_or_else(|| {
            Error::environment("the keyless signature's certificate names no identity")
                .with_hint("the Fulcio instance issued a certificate without a SAN or issuer")
        })?),
        (_, Some(k)) => SignerReport::Key {
            source: key_source.to_string(),
            fingerprint: k.public_key().fingerprint().to_string(),
        },
        (_, None) => unreachable!("a signer without a key is keyless"),
    };
    ctx.say("sign", &format!("signed by {}", signer_report.describe()));
    for e in &evidence {
        ctx.say(
            "sign",
            &format!("{} of {}: {}", e.what, e.subject, e.location),
        );
    }
    let legacy = ctx.pipeline.file.sign.format().legacy() && signer.key().is_some();
    Ok(SignOutput {
        key: signer_report.describe(),
        signer: signer_report,
        docker_reference,
        signature_tag: legacy.then(|| built.digest.cosign_tag("sig")),
        signature_manifest: manifest,
        evidence,
        already_signed: already,
        sboms: all_sboms
            .iter()
            .map(|s| (s.path.display().to_string(), s.digest.to_string()))
            .collect(),
        attestations: predicate_types,
        provenance,
        vex: vex_files,
        public_key: signer.key().map(|k| k.public_key().clone()),
    })
}

/// Sign one subject (the image, the index, or a platform image of it) in the formats
/// `sign.format` asks for. Returns the legacy signature manifest when one was added, and
/// whether this key had signed it already.
async fn sign_subject(
    ctx: &RunContext,
    store: &Store,
    subject: &Descriptor,
    signer: &Signer,
    key_source: &str,
    docker_reference: &str,
    created: &str,
) -> Result<(Option<Digest>, bool, Vec<EvidenceRecord>)> {
    let format = ctx.pipeline.file.sign.format();
    let mut evidence = Vec::new();
    let signed = crate::evidence::sign_subject(
        store,
        subject,
        docker_reference,
        signer,
        (format.legacy(), format.bundle()),
        created,
    )
    .await?;
    if let Some((referrer, _)) = &signed.bundle {
        evidence.push(EvidenceRecord {
            subject: subject.digest.clone(),
            what: "signature".into(),
            location: format!("referrer {referrer}"),
        });
        ctx.say(
            "sign",
            &format!(
                "signed {} with {key_source} as a Sigstore bundle (referrer {referrer})",
                subject.digest
            ),
        );
    }
    let (manifest, already) = match signed.legacy {
        None if !format.legacy() => (None, false),
        Some(SignOutcome::Added {
            signature_manifest,
            total,
        }) => {
            evidence.push(EvidenceRecord {
                subject: subject.digest.clone(),
                what: "signature".into(),
                location: format!("tag {}", subject.digest.cosign_tag("sig")),
            });
            ctx.say(
                "sign",
                &format!(
                    "signed {} with {key_source} ({total} signature(s) in total)",
                    subject.digest
                ),
            );
            (Some(signature_manifest), false)
        }
        // Already signed with this key (or, keyless, no legacy signature is made).
        _ => {
            ctx.say(
                "sign",
                &format!("{} was already signed with {key_source}", subject.digest),
            );
            (None, true)
        }
    };
    Ok((manifest, already, evidence))
}

/// What the attestations are about.
struct Inputs<'a> {
    source: &'a SourceInfo,
    bases: &'a [VerifiedBase],
    built: &'a BuildOutput,
    docker_reference: &'a str,
    started_on: &'a str,
    /// When the bundles' referrers say they were made (the commit time, for reproducibility).
    created: &'a str,
}

/// Sign and store the attestations about one built image: each SBOM, and the scan result when
/// it was scanned. Returns their predicate types.
#[allow(clippy::too_many_arguments)]
async fn attest_image(
    ctx: &RunContext,
    store: &Store,
    signer: &Signer,
    s: &Inputs<'_>,
    image: &PlatformBuilt,
    sboms: &[WrittenSbom],
    vex: Option<serde_json::Value>,
    evidence: &mut Vec<EvidenceRecord>,
) -> Result<Vec<String>> {
    let mut statements: Vec<(&'static str, serde_json::Value)> = Vec::new();
    for sbom in sboms {
        statements.push((sbom.predicate_type, sbom.document.clone()));
    }
    if let Some(report) = image.scan.as_ref().and_then(|scan| scan.report.as_ref()) {
        let result = serde_json::to_value(report).expect("scan report serializes");
        let now = ctx.clock.rfc3339();
        statements.push((
            attest::PREDICATE_VULN,
            serde_json::json!({
                "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
                "scanner": {
                    "uri": "https://cleanpipe.dev/scanner",
                    "version": result["scanner"],
                    "db": {"uri": result["database"], "version": ""},
                    "result": result,
                },
                "metadata": {"scanStartedOn": s.started_on, "scanFinishedOn": now},
            }),
        ));
    }
    if let Some(doc) = vex {
        statements.push((attest::PREDICATE_OPENVEX, doc));
    }
    let subject = image.descriptor();
    let mut types = Vec::new();
    for (predicate_type, predicate) in statements {
        let statement = attest::statement(
            s.docker_reference,
            &image.digest,
            predicate_type,
            &predicate,
        );
        evidence.extend(
            store_attestation(
                ctx,
                store,
                signer,
                &subject,
                predicate_type,
                &statement,
                s.created,
            )
            .await?,
        );
        types.push(predicate_type.to_string());
    }
    if !types.is_empty() {
        ctx.say(
            "sign",
            &format!(
                "attested {}{} in {}: {}",
                image.digest,
                platform_note(image),
                attestation_places(ctx, &image.digest),
                types.join(", ")
            ),
        );
    }
    Ok(types)
}

/// The image's own OpenVEX document (see [`crate::scan::vex::image_document`]), written to the
/// outputs as `vex.openvex.json` (`vex-linux-arm64.openvex.json` for a platform image of an
/// index): its path, sha256 and content, or `None` when its gate suppressed nothing.
fn write_image_vex(
    ctx: &RunContext,
    image: &PlatformBuilt,
    docker_reference: &str,
) -> Result<Option<(PathBuf, Digest, serde_json::Value)>> {
    let Some(report) = image.scan.as_ref().and_then(|scan| scan.report.as_ref()) else {
        return Ok(None);
    };
    let Some(doc) = crate::scan::vex::image_document(
        &report.suppressed,
        &image.digest,
        ctx.pipeline.file.push.repository.as_deref(),
        &format!("cleanpipe ({docker_reference})"),
        &ctx.clock.rfc3339(),
    ) else {
        return Ok(None);
    };
    let name = match image.file_suffix()? {
        None => "vex.openvex.json".to_string(),
        Some(suffix) => format!("vex-{suffix}.openvex.json"),
    };
    let bytes = serde_json::to_vec_pretty(&doc).expect("JSON serializes");
    crate::fsutil::create_dirs(&ctx.outputs_dir)?;
    let path = ctx.outputs_dir.join(name);
    crate::oci::layout::write_atomic(&path, &bytes)?;
    ctx.say(
        "sign",
        &format!(
            "{}: {} VEX statement(s) for the image written to {}",
            image.digest,
            doc["statements"].as_array().map_or(0, Vec::len),
            path.display()
        ),
    );
    Ok(Some((path, Digest::of(&bytes), doc)))
}

/// The SLSA provenance: one statement naming every subject (the image; or the index and each
/// platform image), attached to each of them, and written to the outputs.
async fn attest_provenance(
    ctx: &RunContext,
    store: &Store,
    signer: &Signer,
    s: &Inputs<'_>,
    subjects: &[Descriptor],
    sboms: &[&WrittenSbom],
    evidence: &mut Vec<EvidenceRecord>,
) -> Result<(String, String)> {
    let predicate = provenance_predicate(ctx, s, sboms)?;
    let named: Vec<(&str, &Digest)> = subjects
        .iter()
        .map(|d| (s.docker_reference, &d.digest))
        .collect();
    let statement =
        attest::statement_about(&named, attest::PREDICATE_SLSA_PROVENANCE_V1, &predicate);
    let path = ctx.outputs_dir.join("provenance.intoto.json");
    crate::oci::layout::write_atomic(&path, &statement)?;
    for subject in subjects {
        evidence.extend(
            store_attestation(
                ctx,
                store,
                signer,
                subject,
                attest::PREDICATE_SLSA_PROVENANCE_V1,
                &statement,
                s.created,
            )
            .await?,
        );
        ctx.say(
            "sign",
            &format!(
                "attested {} in {}: {}",
                subject.digest,
                attestation_places(ctx, &subject.digest),
                attest::PREDICATE_SLSA_PROVENANCE_V1
            ),
        );
    }
    Ok((
        path.display().to_string(),
        Digest::of(&statement).to_string(),
    ))
}

/// Sign `statement` about `subject` and store it in the formats `sign.format` asks for.
async fn store_attestation(
    ctx: &RunContext,
    store: &Store,
    signer: &Signer,
    subject: &Descriptor,
    predicate_type: &str,
    statement: &[u8],
    created: &str,
) -> Result<Vec<EvidenceRecord>> {
    let format = ctx.pipeline.file.sign.format();
    let mut evidence = Vec::new();
    if let (true, Some(key)) = (format.legacy(), signer.key()) {
        let envelope = attest::envelope(statement, key)?;
        attest::append_attestation(store, &subject.digest, predicate_type, envelope, key).await?;
        evidence.push(EvidenceRecord {
            subject: subject.digest.clone(),
            what: predicate_type.to_string(),
            location: format!("tag {}", subject.digest.cosign_tag("att")),
        });
    }
    if format.bundle() {
        let (referrer, _) = crate::evidence::sign_bundle(
            store,
            subject,
            predicate_type,
            statement,
            signer,
            created,
        )
        .await?;
        evidence.push(EvidenceRecord {
            subject: subject.digest.clone(),
            what: predicate_type.to_string(),
            location: format!("referrer {referrer}"),
        });
    }
    Ok(evidence)
}

/// Where attestations about `digest` go, for messages.
fn attestation_places(ctx: &RunContext, digest: &Digest) -> String {
    let format = ctx.pipeline.file.sign.format();
    let mut places = Vec::new();
    if format.legacy() {
        places.push(digest.cosign_tag("att"));
    }
    if format.bundle() {
        places.push("Sigstore bundles (referrers)".to_string());
    }
    places.join(" and ")
}

fn provenance_predicate(
    ctx: &RunContext,
    s: &Inputs<'_>,
    sboms: &[&WrittenSbom],
) -> Result<serde_json::Value> {
    use crate::sign::provenance::{self, Base, Inputs, SourceRef};
    let pipeline_bytes = ctx.pipeline.text.as_bytes();
    let pipeline_path = std::fs::canonicalize(&ctx.pipeline.path)
        .ok()
        .and_then(|p| {
            p.strip_prefix(&s.source.repo_dir)
                .ok()
                .map(|r| r.display().to_string())
        })
        .unwrap_or_else(|| ctx.pipeline.path.display().to_string());
    let git_ref = match (&s.source.tag, &s.source.branch) {
        (Some(t), _) => Some(format!("refs/tags/{t}")),
        (None, Some(b)) => Some(format!("refs/heads/{b}")),
        _ => None,
    };
    let pipeline_digest = Digest::of(pipeline_bytes);
    let mut byproducts: Vec<(String, Digest)> = sboms
        .iter()
        .filter_map(|w| {
            let name = w.path.file_name()?.to_string_lossy().into_owned();
            Some((name, w.digest.clone()))
        })
        .collect();
    let log = ctx.outputs_dir.join("build.log");
    if ctx.pipeline.file.build.dockerfile.is_some() {
        if let Ok(bytes) = std::fs::read(&log) {
            byproducts.push(("build.log".into(), Digest::of(&bytes)));
        }
    }
    let finished = ctx.clock.rfc3339();
    Ok(provenance::predicate(&Inputs {
        builder_id: ctx
            .pipeline
            .file
            .sign
            .builder_id
            .as_deref()
            .unwrap_or(provenance::DEFAULT_BUILDER_ID),
        source: SourceRef {
            repository: s.source.remote.as_deref(),
            git_ref,
            commit: &s.source.commit,
            dirty: s.source.dirty,
            date_epoch: s.source.date_epoch,
        },
        pipeline_path: &pipeline_path,
        pipeline_digest: &pipeline_digest,
        build_kind: if ctx.pipeline.file.build.dockerfile.is_some() {
            "dockerfile"
        } else {
            "customize"
        },
        dockerfile_builder: ctx
            .pipeline
            .file
            .build
            .dockerfile
            .as_ref()
            .map(|d| d.builder.as_str()),
        bases: s
            .bases
            .iter()
            .map(|b| Base {
                reference: &b.reference,
                digest: &b.digest,
                platforms: b
                    .platforms
                    .iter()
                    .map(|p| (p.platform.as_str(), &p.digest))
                    .collect(),
            })
            .collect(),
        invocation_id: format!("{}-{}", ctx.run_number, s.started_on),
        started_on: s.started_on,
        finished_on: &finished,
        byproducts,
        untracked_context: s
            .built
            .untracked_context
            .iter()
            .map(|u| (u.path.clone(), u.digest.clone()))
            .collect(),
        platforms: ctx
            .pipeline
            .file
            .build
            .platforms
            .clone()
            .unwrap_or_default(),
        cache_from: ctx
            .pipeline
            .file
            .build
            .dockerfile
            .as_ref()
            .map(|d| d.cache_from.clone())
            .unwrap_or_default(),
    }))
}

/// What signs the run's evidence (`sign.key` or `sign.keyless`), and a description of it for
/// messages (the key's source, or the keyless identity).
pub async fn signer(ctx: &RunContext) -> Result<(Signer, String)> {
    let Some(spec) = ctx.pipeline.file.sign.keyless() else {
        let (key, source) = signing_key(ctx)?;
        return Ok(match &ctx.pipeline.file.sign.signing_config {
            Some(config) => {
                let log = crate::sign::transparency::TransparencyLog::from_signing_config(
                    &ctx.base_dir.join(config),
                )?;
                let description = format!("{source}, logged in {}", log.describe());
                (Signer::LoggedKey(key, log), description)
            }
            None => (Signer::Key(key), source.to_string()),
        });
    };
    use crate::sign::keyless::{find_token, Instance, TokenInput};
    let instance = match &spec.signing_config {
        Some(path) => Instance::SigningConfig(ctx.base_dir.join(path)),
        None => Instance::PublicGood,
    };
    let at = ["sign", "keyless", "identity_token"];
    let input = match &spec.identity_token {
        None => TokenInput::Ambient,
        Some(BuildSecret {
            file: Some(file),
            env: None,
        }) => {
            let text = std::fs::read_to_string(ctx.base_dir.join(file)).map_err(|e| {
                ctx.pipeline
                    .error_at(&at, format!("cannot read the token file `{file}`"))
                    .caused_by(e)
            })?;
            TokenInput::Given {
                token: crate::redact::Secret::new(text.trim()),
                from: format!("the file {file}"),
            }
        }
        Some(BuildSecret {
            file: None,
            env: Some(var),
        }) => {
            let value = ctx.env.get(var).ok_or_else(|| {
                ctx.pipeline
                    .error_at(&at, format!("the environment variable `{var}` is not set"))
                    .with_hint(format!("export {var} with the OIDC identity token"))
            })?;
            TokenInput::Given {
                token: crate::redact::Secret::new(value.trim()),
                from: var.clone(),
            }
        }
        Some(_) => {
            return Err(ctx
                .pipeline
                .error_at(&at, "needs exactly one of `file` or `env`"))
        }
    };
    let token = find_token(&input, &instance, &|n| ctx.env.get(n).cloned(), false).await?;
    let signer = crate::sign::KeylessSigner::new(&instance, token)?;
    let description = format!("a keyless certificate for {}", signer.identity());
    Ok((Signer::Keyless(signer), description))
}

/// The pipeline's signing key (`sign.key`) and where it came from, loaded with the run's
/// password source; with `generate_if_missing`, an example key is written first.
pub fn signing_key(ctx: &RunContext) -> Result<(SigningKey, KeySource)> {
    let spec = &ctx.pipeline.file.sign;
    let key_text = spec.key.as_deref().ok_or_else(|| {
        ctx.pipeline
            .error_at(&["sign"], "no signing key: `sign.key` is not set")
            .with_hint("create one with `cleanpipe keygen` and set `sign.key: cosign.key` (or `env://COSIGN_KEY`)")
    })?;
    let key_source = match KeySource::parse(key_text) {
        KeySource::File(p) if p.is_relative() => KeySource::File(ctx.base_dir.join(p)),
        other => other,
    };
    let example_password = || -> Result<Zeroizing<String>> {
        Ok(Zeroizing::new(
            ctx.env.get("COSIGN_PASSWORD").cloned().unwrap_or_default(),
        ))
    };
    if spec.generate_if_missing {
        if let KeySource::File(path) = &key_source {
            if !path.exists() {
                generate_example_key(ctx, path)?;
            }
        }
        let key = SigningKey::load(
            &key_source.read(&ctx.env_lookup())?,
            &key_source,
            &example_password,
        )?;
        Ok((key, key_source))
    } else {
        let password = ctx.password.clone();
        let key = SigningKey::open(&key_source, &ctx.env_lookup(), &move || password())?;
        Ok((key, key_source))
    }
}

fn generate_example_key(ctx: &RunContext, path: &Path) -> Result<()> {
    let password = ctx.env.get("COSIGN_PASSWORD").cloned().unwrap_or_default();
    let (private, public) = keys::generate(password.as_bytes())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The example key is the run's own state, like the store: never part of the source.
        crate::fsutil::create_state_dir(dir)?;
    }
    write_key_pair(path, &private, &public, false)?;
    ctx.say(
        "sign",
        &format!(
            "generated an EXAMPLE key pair at {} (because `sign.generate_if_missing: true`); do not use it for real images",
            path.display()
        ),
    );
    Ok(())
}

/// Write `path` (mode 0600) and the public key beside it (`.pub`). Refuses to overwrite unless `force`.
pub fn write_key_pair(path: &Path, private: &str, public: &str, force: bool) -> Result<PathBuf> {
    use std::io::Write;
    let public_path = path.with_extension("pub");
    for p in [path, public_path.as_path()] {
        // A link is refused even with `force`: never write through it, never remove it silently.
        crate::fsutil::check_write_target(p)?;
        if p.exists() && !force {
            return Err(Error::usage(format!("`{}` already exists", p.display()))
                .with_hint("pass `--force` to overwrite it, or choose another name with `--output-key-prefix`"));
        }
    }
    let _ = std::fs::remove_file(path);
    let mut f = crate::fsutil::create_new(path, 0o600)?;
    f.write_all(private.as_bytes())
        .io_context("cannot write the private key", path)?;
    crate::fsutil::write_atomic(&public_path, public.as_bytes())?;
    Ok(public_path)
}
