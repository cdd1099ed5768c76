use crate::cli::args::CopyArgs;
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{Error, ExitCode, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::remote::Remote;
use crate::oci::store::Store;
use crate::redact::Redactor;

pub async fn copy(args: &CopyArgs, printer: &Printer, redactor: &Redactor) -> Result<ExitCode> {
    let source = ImageRef::parse(&args.source)?;
    if let (ImageRef::Registry(src), ImageRef::Layout(dst)) =
        (&source, ImageRef::parse(&args.destination)?)
    {
        return export(src, &dst, args, printer, redactor).await;
    }
    let ImageRef::Layout(src) = source else {
        return Err(Error::usage(
            "copying between two registries is not supported: the source must be a layout (`oci:DIR:TAG`) to publish, or the destination a layout to export",
        )
        .with_hint("export to a layout first (`cleanpipe copy REGISTRY/REPO:TAG oci:DIR:TAG`), then copy the layout to the other registry"));
    };
    let ImageRef::Registry(dst) = ImageRef::parse(&args.destination)? else {
        return Err(Error::usage(
            "the copy destination must be a registry reference",
        ));
    };
    let remote_opts = settings::remote_options(&args.registry, redactor)?
        .with_progress(crate::cli::reporters::progress(printer));
    let layout = Layout::open(&src.dir)?;
    let store = Store::Layout(layout.clone());
    let resolved = store.resolve(&ImageRef::Layout(src.clone())).await?;
    // `repo:tag@sha256:X` promises X: refuse before anything is pushed when the source is another image.
    if let Some(want) = &dst.digest {
        if want != &resolved.digest {
            return Err(Error::usage(format!(
                "the destination `{dst}` names {want}, but the source {} is {}",
                args.source, resolved.digest
            ))
            .with_hint(format!(
                "drop `@{want}` from the destination, or name the image whose digest that is; nothing was pushed"
            )));
        }
    }
    let remote = Remote::new(&dst, &remote_opts)?;
    let (uploaded, skipped) =
        crate::oci::copy::copy_image(&layout, &remote, &dst, &resolved.descriptor()).await?;
    // Signatures and attestations travel with the image, before the tag.
    for suffix in ["sig", "att"] {
        crate::evidence::copy::push_signatures(
            &layout,
            &remote,
            &dst,
            &resolved.digest,
            suffix,
            None,
        )
        .await?;
    }
    crate::evidence::copy::copy_referrers_to(&layout, &dst, &remote_opts, &resolved.digest).await?;
    if let Some(tag) = &dst.tag {
        remote
            .push_manifest(&dst.with_tag(tag), &resolved.bytes, &resolved.media_type)
            .await?;
    }
    printer.status(&format!(
        "copied {} to {dst} ({uploaded} blob(s) uploaded, {skipped} present)",
        resolved.digest
    ));
    printer.data(&dst.at_digest(&resolved.digest).to_string());
    Ok(ExitCode::Success)
}

/// The `index.json` annotation cosign's layout reader selects entries by.
const COSIGN_KIND: &str = "kind";

/// Registry → layout: the image (manifest, config and layers, streamed and digest-checked),
/// then every piece of evidence about it (legacy `.sig`/`.att`, referrers), then the tag, so the
/// layout verifies offline with `cleanpipe verify oci:DIR:TAG --key …`.
async fn export(
    src: &crate::oci::reference::RegistryRef,
    dst: &crate::oci::reference::LayoutRef,
    args: &CopyArgs,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    if dst.digest.is_some() {
        return Err(Error::usage(format!(
            "the export destination `{}` names a digest; name a tag (or nothing)",
            args.destination
        ))
        .with_hint("`oci:DIR:TAG`, or `oci:DIR` to keep the source's tag"));
    }
    let remote_opts = settings::remote_options(&args.registry, redactor)?
        .with_progress(crate::cli::reporters::progress(printer));
    let source = ImageRef::Registry(src.clone());
    let store = Store::for_image(&source, &remote_opts)?;
    let resolved = store.resolve(&source).await?;
    let Store::Remote { remote, repo } = &store else {
        unreachable!("a registry reference opens a registry store")
    };
    let layout = Layout::create(&dst.dir)?;
    let mut blobs = 0;
    let mut manifests = vec![resolved.clone()];
    if let Ok(index) = serde_json::from_slice::<crate::oci::types::Index>(&resolved.bytes) {
        if resolved.is_index() {
            // An index: every platform image it lists comes along.
            for child in &index.manifests {
                let found = store
                    .manifest_by_digest(&child.digest)
                    .await?
                    .ok_or_else(|| {
                        Error::environment(format!(
                            "{source} lists {} but the registry does not have it",
                            child.digest
                        ))
                    })?;
                manifests.push(found);
            }
        }
    }
    for found in &manifests {
        if !found.is_index() {
            let manifest =
                crate::oci::types::Manifest::from_slice(&found.bytes, &found.digest.to_string())?;
            for blob in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
                remote.pull_blob_into(repo, &blob.digest, &layout).await?;
                blobs += 1;
            }
        }
        layout.write_blob(&found.bytes)?;
    }
    // The evidence of the image, or of the index and of each image it lists.
    let (mut legacy, mut referrers) = (0, 0);
    for found in &manifests {
        let (l, r) = crate::evidence::export_evidence(&store, &layout, &found.digest).await?;
        legacy += l;
        referrers += r;
    }
    let tag = dst
        .tag
        .clone()
        .or_else(|| src.tag.clone())
        .unwrap_or_else(|| "latest".into());
    layout.set_tag(&tag, &resolved.descriptor())?;
    // What cosign's own layout reader (`cosign verify --local-image`) looks for: the image, its
    // `.sig` and `.att` marked by a `kind` annotation (its bundles it finds by their subject).
    layout.annotate_tag(
        &tag,
        COSIGN_KIND,
        if resolved.is_index() {
            "dev.cosignproject.cosign/imageIndex"
        } else {
            "dev.cosignproject.cosign/image"
        },
    )?;
    for found in &manifests {
        for (suffix, kind) in [
            ("sig", "dev.cosignproject.cosign/sigs"),
            ("att", "dev.cosignproject.cosign/atts"),
        ] {
            let evidence_tag = found.digest.cosign_tag(suffix);
            if layout.resolve_tag(&evidence_tag)?.is_some() {
                layout.annotate_tag(&evidence_tag, COSIGN_KIND, kind)?;
            }
        }
    }
    printer.status(&format!(
        "exported {source} ({}) to oci:{}:{tag}: {blobs} blob(s), {legacy} legacy signature/attestation manifest(s), {referrers} referrer(s)",
        resolved.digest,
        dst.dir.display()
    ));
    printer.data(&format!("oci:{}@{}", dst.dir.display(), resolved.digest));
    Ok(ExitCode::Success)
}
