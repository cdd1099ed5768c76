//! Stage 4, provenance/sign: the cosign signature of the built digest, stored in the layout.
//! (SBOM and provenance attestations belong here too; they are refused by the plan until built.)

use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, IoContext, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::store::Store;
use crate::oci::types::Digest;
use crate::sign::cosign::{append_signature, SignOutcome};
use crate::sign::keys::{self, KeySource, SigningKey};
use crate::stages::build::BuildOutput;
use crate::stages::RunContext;

#[derive(Clone, Debug, Serialize)]
pub struct SignOutput {
    pub key: String,
    pub docker_reference: String,
    pub signature_tag: String,
    pub signature_manifest: Option<Digest>,
    pub already_signed: bool,
    /// SBOM files written to the run's outputs, with their sha256.
    pub sboms: Vec<(String, String)>,
}

/// Write the SBOMs `sign.sbom` asks for (default: SPDX and CycloneDX) into the outputs.
async fn write_sboms(
    ctx: &RunContext,
    built: &BuildOutput,
    docker_reference: &str,
) -> Result<Vec<(String, String)>> {
    use crate::pipeline::model::SbomFormat;
    use crate::sbom::{Format, Subject};
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
            Error::environment(format!("the built image's config is unreadable: {e}"))
        })?;
    let layout2 = layout.clone();
    let catalog =
        tokio::task::spawn_blocking(move || crate::sbom::catalog_image(&layout2, &manifest))
            .await
            .map_err(|e| Error::environment(format!("cataloguing failed: {e}")))??;
    for w in &catalog.warnings {
        ctx.say("sign", &format!("warning: {w}"));
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
        let bytes = format.render(&subject, &catalog);
        let path = ctx.outputs_dir.join(format.file_name());
        crate::oci::layout::write_atomic(&path, &bytes)?;
        out.push((path.display().to_string(), Digest::of(&bytes).to_string()));
    }
    ctx.say(
        "sign",
        &format!(
            "SBOM: {} package(s) written to {}",
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

pub async fn run(ctx: &RunContext, built: &BuildOutput) -> Result<SignOutput> {
    let spec = &ctx.pipeline.file.sign;
    let key_text = spec.key.as_deref().ok_or_else(|| {
        ctx.pipeline
            .error_at(&["sign"], "no signing key: `sign.key` is not set")
            .with_hint("create one with `cleanpipe keygen` and set `sign.key: cosign.key` (or `env://COSIGN_KEY`)")
    })?;
    let source = match KeySource::parse(key_text) {
        KeySource::File(p) if p.is_relative() => KeySource::File(ctx.base_dir.join(p)),
        other => other,
    };
    let example_password = || -> Result<Zeroizing<String>> {
        Ok(Zeroizing::new(
            ctx.env.get("COSIGN_PASSWORD").cloned().unwrap_or_default(),
        ))
    };
    let key = if spec.generate_if_missing {
        if let KeySource::File(path) = &source {
            if !path.exists() {
                generate_example_key(ctx, path)?;
            }
        }
        SigningKey::load(&source.read(&ctx.env_lookup())?, &source, &example_password)?
    } else {
        let password = ctx.password.clone();
        SigningKey::load(&source.read(&ctx.env_lookup())?, &source, &move || {
            password()
        })?
    };
    let docker_reference = docker_reference(ctx)?;
    let sboms = write_sboms(ctx, built, &docker_reference).await?;
    let store = Store::Layout(Layout::create(&ctx.store_dir)?);
    let outcome = append_signature(&store, &built.digest, &docker_reference, &key).await?;
    let (manifest, already) = match outcome {
        SignOutcome::Added {
            signature_manifest,
            total,
        } => {
            ctx.say(
                "sign",
                &format!(
                    "signed {} with {source} ({total} signature(s) in total)",
                    built.digest
                ),
            );
            (Some(signature_manifest), false)
        }
        SignOutcome::AlreadySigned => {
            ctx.say(
                "sign",
                &format!("{} was already signed with {source}", built.digest),
            );
            (None, true)
        }
    };
    Ok(SignOutput {
        key: source.to_string(),
        docker_reference,
        signature_tag: built.digest.cosign_tag("sig"),
        signature_manifest: manifest,
        already_signed: already,
        sboms,
    })
}

fn generate_example_key(ctx: &RunContext, path: &Path) -> Result<()> {
    let password = ctx.env.get("COSIGN_PASSWORD").cloned().unwrap_or_default();
    let (private, public) = keys::generate(password.as_bytes())?;
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
    use std::os::unix::fs::OpenOptionsExt;
    let public_path = path.with_extension("pub");
    for p in [path, public_path.as_path()] {
        if p.exists() && !force {
            return Err(Error::usage(format!("`{}` already exists", p.display()))
                .with_hint("pass `--force` to overwrite it, or choose another name with `--output-key-prefix`"));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).io_context("cannot create directory", dir)?;
    }
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .io_context("cannot write the private key", path)?;
    f.write_all(private.as_bytes())
        .io_context("cannot write the private key", path)?;
    std::fs::write(&public_path, public).io_context("cannot write the public key", &public_path)?;
    Ok(public_path)
}
