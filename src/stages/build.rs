//! Stage 3, build: the daemonless customize backend into the layout.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::build::{self, Base, CustomizeOptions, FileSpec};
use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::types::Digest;
use crate::pipeline::template::{render, TemplateValues};
use crate::stages::source::SourceInfo;
use crate::stages::verify_base::VerifiedBase;
use crate::stages::RunContext;

/// The image the build made, not yet tagged anywhere.
#[derive(Clone, Debug, Serialize)]
pub struct BuildOutput {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    pub layers: usize,
    pub base: String,
}

pub async fn run(
    ctx: &RunContext,
    source: &SourceInfo,
    bases: &[VerifiedBase],
    templates: &TemplateValues,
) -> Result<BuildOutput> {
    let spec = ctx.pipeline.file.build.customize.as_ref().ok_or_else(|| {
        ctx.pipeline
            .error_at(
                &["build", "dockerfile"],
                "Dockerfile builds are not built yet in this version",
            )
            .with_hint("use `build.customize` (daemonless) for now")
    })?;
    let base = if spec.base.trim() == "scratch" {
        Base::Scratch
    } else {
        // Use exactly the digest verify-base checked.
        let verified = bases
            .iter()
            .find(|b| b.reference == spec.base)
            .ok_or_else(|| Error::gate(format!("base {} was not verified", spec.base), vec![]))?;
        Base::Image(ImageRef::parse(&spec.base)?.with_digest(verified.digest.clone()))
    };
    let mut files = Vec::new();
    for (i, f) in spec.files.iter().enumerate() {
        let mode = match &f.mode {
            Some(m) => Some(
                u32::from_str_radix(m.trim_start_matches("0o"), 8)
                    .ok()
                    .filter(|v| *v <= 0o7777)
                    .ok_or_else(|| {
                        ctx.pipeline
                            .error_at(
                                &["build", "customize", "files", "mode"],
                                format!("files[{i}].mode `{m}` is not an octal mode"),
                            )
                            .with_hint("write it quoted, e.g. \"0644\"")
                    })?,
            ),
            None => None,
        };
        files.push(FileSpec {
            src: f.src.clone().into(),
            dest: f.dest.clone(),
            mode,
            uid: f.uid,
            gid: f.gid,
        });
    }
    let render_map =
        |map: &BTreeMap<String, String>, what: &str| -> Result<BTreeMap<String, String>> {
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render(v, templates, &format!("{what}.{k}"))?)))
                .collect()
        };
    let mut labels = render_map(&spec.labels, "build.customize.labels")?;
    // Trace the image back to its source, as OCI labels.
    labels
        .entry("org.opencontainers.image.revision".into())
        .or_insert_with(|| source.commit.clone());
    if let Some(remote) = &source.remote {
        labels
            .entry("org.opencontainers.image.source".into())
            .or_insert_with(|| remote.clone());
    }
    labels
        .entry("org.opencontainers.image.created".into())
        .or_insert(build::customize::rfc3339(source.date_epoch)?);
    let options = CustomizeOptions {
        files,
        env: render_map(&spec.env, "build.customize.env")?,
        labels,
        user: spec.user.clone(),
        workdir: spec.workdir.clone(),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.cmd.clone(),
        epoch: source.date_epoch,
        context_dir: ctx.base_dir.clone(),
    };
    let layout = Layout::create(&ctx.store_dir)?;
    let built = build::customize(&layout, &base, &options, &ctx.remote).await?;
    ctx.say(
        "build",
        &format!(
            "image {} ({} layer(s)) in {}",
            built.manifest.digest,
            built.layers,
            ctx.store_dir.display()
        ),
    );
    Ok(BuildOutput {
        digest: built.manifest.digest.clone(),
        size: built.manifest.size,
        media_type: built.manifest.media_type.clone(),
        layers: built.layers,
        base: spec.base.clone(),
    })
}
