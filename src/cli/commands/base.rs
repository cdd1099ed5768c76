//! `cleanpipe base outdated` / `base update`: base-image updates without a bot. Every pinned
//! base (`repo:tag@sha256:…` in the Dockerfile, the customize base, `verify_base.images`) whose
//! tag now resolves to another digest is listed, with that digest's signature checked by the
//! base's trusted key; `update --write` moves only verified pins, in the file they are written in.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::args::{BaseArgs, OutputFormat};
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{Error, ExitCode, Result};
use crate::oci::reference::ImageRef;
use crate::oci::store::Store;
use crate::redact::Redactor;
use crate::sign::keys::PublicKey;

/// One pinned base and what its tag says now.
#[derive(Debug, Serialize)]
struct BaseStatus {
    reference: String,
    /// Where it is written: `Dockerfile:LINE (FROM)`, `build.customize.base`, …
    origin: String,
    pinned: Option<String>,
    current: Option<String>,
    /// `up to date`, `update verified`, `update NOT verified`, or why it was not checked.
    state: &'static str,
    detail: String,
    /// The reference to write instead (a verified update only).
    update_to: Option<String>,
}

pub async fn base(
    args: &BaseArgs,
    write: bool,
    update: bool,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let pipeline = settings::load_pipeline(&args.pipeline, env, redactor)?;
    let remote = settings::remote_options(&args.registry, redactor)?;
    let base_dir = pipeline.base_dir();
    let bases = crate::stages::verify_base::bases(&pipeline, &base_dir, None)?;
    let mut statuses = Vec::new();
    let mut keys: BTreeMap<String, PublicKey> = BTreeMap::new();
    for base in bases {
        let mut status = BaseStatus {
            reference: base.reference.clone(),
            origin: base.origin.clone(),
            pinned: None,
            current: None,
            state: "not followed",
            detail: String::new(),
            update_to: None,
        };
        let image = match ImageRef::parse(&base.reference) {
            Ok(ImageRef::Registry(r)) => r,
            Ok(ImageRef::Layout(_)) => {
                status.detail = "a layout image has no registry tag to follow".into();
                statuses.push(status);
                continue;
            }
            Err(e) => {
                status.detail = e.to_string();
                statuses.push(status);
                continue;
            }
        };
        let (Some(tag), Some(pinned)) = (image.tag.clone(), image.digest.clone()) else {
            status.detail = "pin it as `repo:tag@sha256:…` to follow its tag".into();
            statuses.push(status);
            continue;
        };
        status.pinned = Some(pinned.to_string());
        let store = Store::for_image(&ImageRef::Registry(image.clone()), &remote)?;
        let Some(now) = store.manifest_by_tag(&tag).await? else {
            status.state = "tag gone";
            status.detail = format!("`{tag}` no longer exists in {}", image.repository_name());
            statuses.push(status);
            continue;
        };
        status.current = Some(now.digest.to_string());
        if now.digest == pinned {
            status.state = "up to date";
            statuses.push(status);
            continue;
        }
        let Some(key_name) = &base.key else {
            status.state = "update NOT verified";
            status.detail =
                "no key to verify it with (`verify_base.default_key` or a per-image `key`)".into();
            statuses.push(status);
            continue;
        };
        if !keys.contains_key(key_name) {
            let location = pipeline
                .file
                .verify_base
                .keys
                .get(key_name)
                .ok_or_else(|| {
                    pipeline.error_at(
                        &["verify_base"],
                        format!(
                            "key `{key_name}` is used but not defined under `verify_base.keys`"
                        ),
                    )
                })?;
            keys.insert(
                key_name.clone(),
                PublicKey::fetch(location, &base_dir).await?,
            );
        }
        let report =
            crate::evidence::verify_signatures(&store, &now.digest, &keys[key_name]).await?;
        if report.verified {
            status.state = "update verified";
            status.detail = format!("{} (key `{key_name}`)", report.summary);
            status.update_to = Some(format!("{}:{tag}@{}", image.repository_name(), now.digest));
        } else {
            status.state = "update NOT verified";
            status.detail = format!("{} (key `{key_name}`): not rewritten", report.summary);
        }
        statuses.push(status);
    }

    let mut changed = Vec::new();
    if update {
        for s in statuses.iter().filter(|s| s.update_to.is_some()) {
            let new = s.update_to.as_deref().expect("filtered");
            let file = file_of(&s.origin, &pipeline);
            let path = base_dir.join(&file);
            let text =
                std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, e))?;
            if !text.contains(&s.reference) {
                return Err(Error::usage(format!(
                    "`{}` is not written literally in {file} (it comes from a build argument or template); update it there by hand",
                    s.reference
                )));
            }
            let updated = text.replace(&s.reference, new);
            printer.data(&format!("--- {file}\n+++ {file}\n-{}\n+{new}", s.reference));
            if write {
                crate::fsutil::write_atomic(&path, updated.as_bytes())?;
            }
            changed.push(file);
        }
    }
    if args.output == OutputFormat::Json {
        printer.data(&serde_json::to_string_pretty(&statuses).expect("statuses serialize"));
    } else {
        for s in &statuses {
            printer.status(&format!(
                "{:<20} {} ({}){}{}",
                s.state,
                s.reference,
                s.origin,
                s.current
                    .as_ref()
                    .filter(|c| Some(*c) != s.pinned.as_ref())
                    .map(|c| format!(" → {c}"))
                    .unwrap_or_default(),
                if s.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.detail)
                }
            ));
        }
        if update {
            printer.status(&if write {
                format!("{} pin(s) rewritten", changed.len())
            } else {
                format!("{} pin(s) would be rewritten (pass --write)", changed.len())
            });
        }
    }
    // For a scheduled job: 0 nothing to do, 1 updates are waiting (verified or not).
    let pending = statuses
        .iter()
        .any(|s| s.state.starts_with("update") && !(update && write && s.update_to.is_some()));
    Ok(if pending {
        ExitCode::GateFailed
    } else {
        ExitCode::Success
    })
}

/// The file a base's origin names: `Dockerfile:4 (FROM)` → the Dockerfile; pipeline keys → the
/// pipeline file (both relative to the pipeline's directory).
fn file_of(origin: &str, pipeline: &crate::pipeline::LoadedPipeline) -> String {
    match &pipeline.file.build.dockerfile {
        Some(spec) if origin.starts_with(&format!("{}:", spec.path)) => spec.path.clone(),
        _ => pipeline
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pipeline.yaml".into()),
    }
}
