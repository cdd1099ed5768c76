//! Stage 5, push/register: copy the signed image from the layout to the registry, signatures
//! before tags, so a tag never points at an unsigned image. Without a repository the layout
//! itself is the target and only its tags move.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::remote::{Remote, RemoteOptions};
use crate::oci::types::{Descriptor, Digest, Manifest, MEDIA_OCI_CONFIG, MEDIA_OCI_MANIFEST};
use crate::pipeline::model::{HookEvent, HookFormat, RegisterSpec};
use crate::pipeline::template::{render, TemplateValues};
use crate::sign::attest::{
    merge_attestation_layers, signed_by, PREDICATE_TYPE_ANNOTATION, SIGNER_ANNOTATION,
};
use crate::sign::cosign::{check_layer_limit, merge_signature_layers, signature_manifest};
use crate::sign::keys::PublicKey;
use crate::stages::build::BuildOutput;
use crate::stages::sign::SignOutput;
use crate::stages::source::SourceInfo;
use crate::stages::RunContext;

#[derive(Clone, Debug, Serialize)]
pub struct Published {
    /// `registry/repo@sha256:…`, or `oci:DIR@sha256:…` when only the layout was the target.
    pub image: String,
    pub digest: Digest,
    pub tags: Vec<String>,
    pub blobs_uploaded: usize,
    pub blobs_skipped: usize,
    /// Webhooks called after the push (`push.register`).
    pub registered: Vec<crate::notify::Delivery>,
}

/// The tags this run moves, rendered. Default: the short commit SHA.
pub fn tags(ctx: &RunContext, templates: &TemplateValues) -> Result<Vec<String>> {
    let raw = &ctx.pipeline.file.push.tags;
    let raw: Vec<String> = if raw.is_empty() {
        vec!["{{git.short_sha}}".into()]
    } else {
        raw.clone()
    };
    let mut out = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        let tag = render(t, templates, &format!("push.tags[{i}]"))?;
        crate::oci::reference::validate_tag(&tag).map_err(|e| {
            ctx.pipeline.error_at(
                &["push", "tags"],
                format!("tags[{i}] renders to an invalid tag: {e}"),
            )
        })?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

pub async fn run(
    ctx: &RunContext,
    source: &SourceInfo,
    built: &BuildOutput,
    signed: &SignOutput,
    templates: &TemplateValues,
) -> Result<Published> {
    let layout = Layout::open(&ctx.store_dir)?;
    let tags = tags(ctx, templates)?;
    let image_desc = built.descriptor();
    let local = crate::oci::store::Store::Layout(layout.clone());
    // The image, or the index and each platform image: all signed before anything moves.
    for subject in built.subjects().iter().map(|s| &s.digest) {
        if layout.resolve_tag(&subject.cosign_tag("sig"))?.is_none()
            && !crate::evidence::has_signature_bundle(&local, subject).await?
        {
            return Err(Error::gate(
                format!("{subject} has no signature in the layout; refusing to publish it"),
                vec![],
            ));
        }
    }

    let mut published = Published {
        image: format!("oci:{}@{}", ctx.store_dir.display(), built.digest),
        digest: built.digest.clone(),
        tags: tags.clone(),
        blobs_uploaded: 0,
        blobs_skipped: 0,
        registered: vec![],
    };
    if let Some(repository) = &ctx.pipeline.file.push.repository {
        let repo = RegistryRef::parse(repository).map_err(|e| {
            ctx.pipeline
                .error_at(&["push", "repository"], e.to_string())
        })?;
        let options = RemoteOptions {
            insecure: ctx.pipeline.file.push.insecure || ctx.remote.insecure,
            ..ctx.remote.clone()
        };
        let (uploaded, skipped) = push_signed(
            &layout,
            &repo,
            &options,
            &image_desc,
            &tags,
            signed.public_key.as_ref(),
            ctx,
        )
        .await?;
        published.image = repo.at_digest(&built.digest).to_string();
        published.blobs_uploaded = uploaded;
        published.blobs_skipped = skipped;
    }
    // The layout's tags move last too: a tag there always has its signature beside it.
    for tag in &tags {
        layout.set_tag(tag, &image_desc)?;
    }
    ctx.say(
        "push",
        &format!("tagged {} as {}", published.image, tags.join(", ")),
    );
    // 4. Register: tell the deployment systems, in order; a failure fails the stage.
    let hooks: Vec<_> = ctx
        .pipeline
        .file
        .push
        .register
        .iter()
        .filter(|h| h.on.contains(&HookEvent::Success))
        .collect();
    if !hooks.is_empty() {
        let mask = |body: Vec<u8>| {
            ctx.redactor
                .apply(&String::from_utf8_lossy(&body))
                .into_bytes()
        };
        let json = mask(notification(ctx, source, built, signed, &published));
        let slack = mask(slack_published(ctx, source, &published));
        let delivery_id = format!("{}-{}", ctx.run_number, built.digest.hex());
        for spec in hooks {
            let body = match spec.format {
                HookFormat::Json => &json,
                HookFormat::Slack => &slack,
            };
            let d = crate::notify::deliver(
                &hook(spec),
                "image.published",
                body,
                &delivery_id,
                &ctx.redactor,
            )
            .await?;
            ctx.say(
                "push",
                &format!(
                    "registered with {} (HTTP {}, {} attempt(s))",
                    d.url, d.status, d.attempts
                ),
            );
            published.registered.push(d);
        }
    }
    Ok(published)
}

/// The webhook a `push.register` entry describes.
pub fn hook(spec: &RegisterSpec) -> crate::notify::Hook {
    crate::notify::Hook {
        url: spec.url.clone(),
        headers: spec.headers.clone().into_iter().collect(),
        secret: spec.secret.clone(),
        timeout: std::time::Duration::from_secs(spec.timeout_seconds.unwrap_or(30)),
    }
}

/// The URL of the CI run this is, from the variables GitHub Actions, GitLab CI and Jenkins set.
pub fn ci_run_url(env: &std::collections::BTreeMap<String, String>) -> Option<String> {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    match (
        get("GITHUB_SERVER_URL"),
        get("GITHUB_REPOSITORY"),
        get("GITHUB_RUN_ID"),
    ) {
        (Some(server), Some(repo), Some(id)) => Some(format!("{server}/{repo}/actions/runs/{id}")),
        _ => get("CI_JOB_URL").or_else(|| get("BUILD_URL")),
    }
}

/// A Slack incoming-webhook message (`{"text": …}`, Slack's mrkdwn) for a published image.
fn slack_published(ctx: &RunContext, source: &SourceInfo, published: &Published) -> Vec<u8> {
    let mut text = format!(
        ":white_check_mark: *{}* published `{}` (tags {}) from commit `{}`",
        ctx.pipeline.file.name.as_deref().unwrap_or("cleanpipe"),
        published.image,
        published.tags.join(", "),
        &source.commit[..source.commit.len().min(12)]
    );
    if let Some(url) = ci_run_url(&ctx.env) {
        text.push_str(&format!(" (<{url}|CI run>)"));
    }
    serde_json::to_vec(&serde_json::json!({ "text": text })).expect("message serializes")
}

/// The bodies (JSON, Slack) telling `on: [failure]` hooks that the run failed: the stage, the
/// reason, the hint, the commit when known and the CI run's URL. Already masked.
pub fn failure_bodies(
    ctx: &RunContext,
    name: &str,
    stage: Option<&str>,
    message: &str,
    reasons: &[String],
    hint: Option<&str>,
    commit: Option<&str>,
) -> (Vec<u8>, Vec<u8>) {
    let url = ci_run_url(&ctx.env);
    let json = serde_json::json!({
        "event": "run.failed",
        "pipeline": name,
        "stage": stage,
        "message": message,
        "reasons": reasons,
        "hint": hint,
        "source": {"commit": commit},
        "run": {"number": ctx.run_number, "url": url},
    });
    let mut text = format!(
        ":x: *{name}* failed{}: {message}",
        stage.map(|s| format!(" in {s}")).unwrap_or_default()
    );
    for r in reasons {
        text.push_str(&format!("\n• {r}"));
    }
    if let Some(url) = &url {
        text.push_str(&format!("\n<{url}|CI run>"));
    }
    let slack = serde_json::json!({ "text": text });
    let mask = |v: serde_json::Value| ctx.redactor.apply(&v.to_string()).into_bytes();
    (mask(json), mask(slack))
}

/// The JSON a webhook receives: what was published, from which commit, and what vouches for it.
fn notification(
    ctx: &RunContext,
    source: &SourceInfo,
    built: &BuildOutput,
    signed: &SignOutput,
    published: &Published,
) -> Vec<u8> {
    let body = serde_json::json!({
        "event": "image.published",
        "pipeline": ctx.pipeline.file.name,
        "image": published.image,
        "repository": ctx.pipeline.file.push.repository,
        "digest": built.digest,
        "platforms": built.platforms.iter().map(|p| serde_json::json!({
            "platform": p.platform,
            "digest": p.digest,
            "scan": p.scan.as_ref().map(scan_summary),
        })).collect::<Vec<_>>(),
        "tags": published.tags,
        "source": {
            "repository": source.remote,
            "commit": source.commit,
            "branch": source.branch,
            "tag": source.tag,
        },
        "signature": {"tag": signed.signature_tag, "key": signed.key, "signer": signed.signer},
        "evidence": signed.evidence,
        "attestations": signed.attestations,
        "sboms": signed.sboms.iter().map(|(path, digest)| serde_json::json!({
            "file": std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()),
            "digest": digest,
        })).collect::<Vec<_>>(),
        "scan": built.scan.as_ref().map(scan_summary),
        "run": {"number": ctx.run_number},
    });
    serde_json::to_vec(&body).expect("notification serializes")
}

/// A scan as a webhook reports it (for an index, each platform image's is under `platforms`).
fn scan_summary(s: &crate::stages::scan_gate::ScanSummary) -> serde_json::Value {
    serde_json::json!({
        "packages": s.packages,
        "findings": s.findings,
        "waived": s.waived,
        "suppressed_by_vex": s.suppressed,
        "failing": s.failing,
    })
}

/// Copy image + signatures, then move tags. Returns (blobs uploaded, blobs already there).
pub async fn push_signed(
    layout: &Layout,
    repo: &RegistryRef,
    options: &RemoteOptions,
    image: &Descriptor,
    tags: &[String],
    key: Option<&PublicKey>,
    ctx: &RunContext,
) -> Result<(usize, usize)> {
    let remote = Remote::new(repo, options)?;
    // 1. The image: blobs (skipping those the registry has), then the manifest by digest.
    let (uploaded, skipped) = copy_image(layout, &remote, repo, image).await?;
    ctx.say(
        "push",
        &format!("{uploaded} blob(s) uploaded, {skipped} already present in {repo}"),
    );
    // 2. Signatures and attestations: merged with any the registry already holds for this
    //    digest (other signers); for an index, those of each image it lists too.
    let mut subjects = vec![image.digest.clone()];
    if let Some(index) = index_of(&layout.read_blob(&image.digest)?) {
        subjects.extend(index.manifests.into_iter().map(|d| d.digest));
    }
    for subject in &subjects {
        for (suffix, what) in [("sig", "signatures"), ("att", "attestations")] {
            let tag = subject.cosign_tag(suffix);
            match push_signatures(layout, &remote, repo, subject, suffix, key).await? {
                Some(kept) => ctx.say(
                    "push",
                    &format!("{what} pushed to {tag} (kept {kept} existing)"),
                ),
                None if layout.resolve_tag(&tag)?.is_some() => {
                    ctx.say("push", &format!("{what} already in {tag}"))
                }
                None => {}
            }
        }
        //    Bundles (referrers) likewise: listed by the registry's referrers API or its
        //    fallback tag, before any tag moves.
        let copied = copy_referrers_to(layout, repo, options, subject).await?;
        if copied > 0 {
            ctx.say("push", &format!("{copied} bundle referrer(s) pushed"));
        }
    }
    // 3. Only now the tags.
    let manifest_bytes = layout.read_blob(&image.digest)?;
    for tag in tags {
        remote
            .push_manifest(&repo.with_tag(tag), &manifest_bytes, &image.media_type)
            .await?;
    }
    Ok((uploaded, skipped))
}

/// Copy the layout's referrers of `image` (signature and attestation bundles) to `repo`.
pub async fn copy_referrers_to(
    layout: &Layout,
    repo: &RegistryRef,
    options: &RemoteOptions,
    image: &Digest,
) -> Result<usize> {
    let local = crate::oci::store::Store::Layout(layout.clone());
    let remote = crate::oci::store::Store::for_image(
        &crate::oci::reference::ImageRef::Registry(repo.clone()),
        options,
    )?;
    crate::evidence::copy_referrers(&local, &remote, image).await
}

/// Push the layout's signatures (`suffix` `sig`) or attestations (`att`) of `image` to `repo`,
/// merged with the layers the registry already has there. Returns how many existing layers were
/// kept, or `None` when the registry already had all of ours (or the layout has none). With the
/// signing `key`, registry attestations of our predicate types that this key signed but that
/// carry no signer annotation (written by cleanpipe before it had one) are replaced too.
pub async fn push_signatures(
    layout: &Layout,
    remote: &Remote,
    repo: &RegistryRef,
    image: &Digest,
    suffix: &str,
    key: Option<&PublicKey>,
) -> Result<Option<usize>> {
    let sig_tag = image.cosign_tag(suffix);
    let Some(signature) = layout.resolve_tag(&sig_tag)? else {
        return Ok(None);
    };
    let ours = Manifest::from_slice(&layout.read_blob(&signature.digest)?, &sig_tag)?;
    let theirs = match remote.manifest(&repo.with_tag(&sig_tag)).await? {
        Some((bytes, _, _)) => Manifest::from_slice(&bytes, &sig_tag)?.layers,
        None => vec![],
    };
    // Signatures are appended (cosign does); attestations replace this key's earlier one of the
    // same predicate type, so re-runs do not pile up copies in the registry.
    let merged = if suffix == "att" {
        let mut base = theirs.clone();
        if let Some(key) = key {
            let mut legacy = Vec::new();
            for r in &theirs {
                let our_type = ours.layers.iter().any(|o| {
                    o.annotations.get(PREDICATE_TYPE_ANNOTATION)
                        == r.annotations.get(PREDICATE_TYPE_ANNOTATION)
                });
                if our_type
                    && !r.annotations.contains_key(SIGNER_ANNOTATION)
                    && !ours.layers.iter().any(|o| o.digest == r.digest)
                    && remote
                        .read_blob(repo, &r.digest)
                        .await
                        .is_ok_and(|bytes| signed_by(&bytes, key))
                {
                    legacy.push(r.digest.clone());
                }
            }
            base.retain(|r| !legacy.contains(&r.digest));
        }
        merge_attestation_layers(&base, &ours.layers)
    } else {
        merge_signature_layers(&theirs, &ours.layers)
    };
    if merged == theirs {
        return Ok(None);
    }
    check_layer_limit(&format!("{repo}:{sig_tag}"), merged.len())?;
    let kept = theirs.iter().filter(|t| merged.contains(t)).count();
    for layer in &ours.layers {
        if !remote.has_blob(repo, &layer.digest).await? {
            remote.push_blob_from_layout(repo, layout, layer).await?;
        }
    }
    let (manifest, config) = signature_manifest(merged);
    let config_desc = Descriptor::of(MEDIA_OCI_CONFIG, &config);
    if !remote.has_blob(repo, &config_desc.digest).await? {
        remote.push_blob_bytes(repo, config).await?;
    }
    remote
        .push_manifest(&repo.with_tag(&sig_tag), &manifest, MEDIA_OCI_MANIFEST)
        .await?;
    Ok(Some(kept))
}

/// The index `bytes` are, if they are one (an OCI index or a Docker manifest list); an
/// ambiguous document is then refused by the image path.
fn index_of(bytes: &[u8]) -> Option<crate::oci::types::Index> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    (crate::oci::types::document_kind(&value, None) == Ok(crate::oci::types::DocumentKind::Index))
        .then(|| serde_json::from_value(value).ok())
        .flatten()
}

/// Copy one image's blobs and manifest (by digest) from the layout to a repository. Blobs the
/// repository has are skipped; blobs pushed earlier to another repository of the same registry
/// are mounted from there instead of uploaded (remembered in the layout's `cleanpipe-cache`).
pub async fn copy_image(
    layout: &Layout,
    remote: &Remote,
    repo: &RegistryRef,
    image: &Descriptor,
) -> Result<(usize, usize)> {
    let manifest_bytes = layout.read_blob(&image.digest)?;
    if let Some(index) = index_of(&manifest_bytes) {
        // An index: every image it lists first (blobs, then manifest), each once, then the
        // index. Nested indexes are refused (as everywhere else).
        let (mut uploaded, mut skipped) = (0, 0);
        let mut copied: Vec<&Digest> = Vec::new();
        for child in &index.manifests {
            if copied.contains(&&child.digest) {
                continue;
            }
            copied.push(&child.digest);
            if index_of(&layout.read_blob(&child.digest)?).is_some() {
                return Err(crate::Error::usage(format!(
                    "{} lists {}, itself an index: nested indexes are not supported",
                    image.digest, child.digest
                )));
            }
            let (u, s) = Box::pin(copy_image(layout, remote, repo, child)).await?;
            uploaded += u;
            skipped += s;
        }
        remote
            .push_manifest(
                &repo.at_digest(&image.digest),
                &manifest_bytes,
                &image.media_type,
            )
            .await?;
        return Ok((uploaded, skipped));
    }
    let manifest = Manifest::from_slice(&manifest_bytes, &image.digest.to_string())?;
    let memo_path = layout
        .root()
        .join("cleanpipe-cache")
        .join("blob-locations.json");
    let mut memo: std::collections::BTreeMap<String, String> = std::fs::read(&memo_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut uploaded = 0;
    let mut skipped = 0;
    for blob in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
        let key = format!("{}/{}", repo.registry, blob.digest);
        if remote.has_blob(repo, &blob.digest).await? {
            skipped += 1;
        } else {
            let mounted = match memo.get(&key) {
                Some(from) if from != &repo.repository => {
                    remote.mount_blob(repo, from, &blob.digest).await
                }
                _ => false,
            };
            if mounted {
                skipped += 1;
            } else {
                remote.push_blob_from_layout(repo, layout, blob).await?;
                uploaded += 1;
            }
        }
        memo.insert(key, repo.repository.clone());
    }
    remote
        .push_manifest(
            &repo.at_digest(&image.digest),
            &manifest_bytes,
            manifest.media_type_or_default(),
        )
        .await?;
    if let Ok(bytes) = serde_json::to_vec(&memo) {
        let _ = crate::oci::layout::write_atomic(&memo_path, &bytes);
    }
    Ok((uploaded, skipped))
}
