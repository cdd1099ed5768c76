//! Stage 5, push/register: copy the signed image from the layout to the registry, signatures
//! before tags, so a tag never points at an unsigned image. Without a repository the layout
//! itself is the target and only its tags move.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::evidence::copy::{copy_referrers_to, push_signatures};
use crate::oci::copy::{copy_image, index_of};
use crate::oci::layout::Layout;
use crate::oci::reference::RegistryRef;
use crate::oci::remote::{Remote, RemoteOptions};
use crate::oci::types::{Descriptor, Digest};
use crate::run::stages::build::BuildOutput;
use crate::run::stages::sign::SignOutput;
use crate::run::stages::source::SourceInfo;
use crate::run::RunContext;
use crate::sign::keys::PublicKey;
use crate::spec::model::{HookEvent, HookFormat, RegisterSpec};
use crate::spec::template::{render, TemplateValues};

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

/// A Slack incoming-webhook message (`{"text": …}`, Slack's mrkdwn) for a published image.
fn slack_published(ctx: &RunContext, source: &SourceInfo, published: &Published) -> Vec<u8> {
    let mut text = format!(
        ":white_check_mark: *{}* published `{}` (tags {}) from commit `{}`",
        ctx.pipeline.file.name.as_deref().unwrap_or("cleanpipe"),
        published.image,
        published.tags.join(", "),
        &source.commit[..source.commit.len().min(12)]
    );
    if let Some(url) = crate::ci::run_url(&ctx.env) {
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
    let url = crate::ci::run_url(&ctx.env);
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
fn scan_summary(s: &crate::run::stages::scan_gate::ScanSummary) -> serde_json::Value {
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
