use crate::cli::args::CopyArgs;
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{Error, ExitCode, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::remote::Remote;
use crate::oci::store::Store;
use crate::oci::types::{Manifest, MEDIA_OCI_MANIFEST};
use crate::redact::Redactor;
use crate::sign::cosign::{merge_signature_layers, signature_manifest};

pub async fn copy(args: &CopyArgs, printer: &Printer, redactor: &Redactor) -> Result<ExitCode> {
    let ImageRef::Layout(src) = ImageRef::parse(&args.source)? else {
        return Err(Error::usage(
            "the copy source must be a layout (`oci:DIR:TAG`)",
        ));
    };
    let ImageRef::Registry(dst) = ImageRef::parse(&args.destination)? else {
        return Err(Error::usage(
            "the copy destination must be a registry reference",
        ));
    };
    let remote_opts = settings::remote_options(&args.registry, redactor)?;
    let layout = Layout::open(&src.dir)?;
    let store = Store::Layout(layout.clone());
    let resolved = store.resolve(&ImageRef::Layout(src.clone())).await?;
    let remote = Remote::new(&dst, &remote_opts)?;
    let (uploaded, skipped) =
        crate::stages::publish::copy_image(&layout, &remote, &dst, &resolved.descriptor()).await?;
    // Signatures travel with the image, before the tag.
    let sig_tag = resolved.digest.cosign_tag("sig");
    if let Some(sig) = layout.resolve_tag(&sig_tag)? {
        let ours = Manifest::from_slice(&layout.read_blob(&sig.digest)?, &sig_tag)?;
        let theirs = match remote.manifest(&dst.with_tag(&sig_tag)).await? {
            Some((b, _, _)) => Manifest::from_slice(&b, &sig_tag)?.layers,
            None => vec![],
        };
        let merged = merge_signature_layers(&theirs, &ours.layers);
        if merged.len() != theirs.len() {
            for l in &ours.layers {
                if !remote.has_blob(&dst, &l.digest).await? {
                    remote.push_blob_from_layout(&dst, &layout, l).await?;
                }
            }
            let (manifest, config) = signature_manifest(merged);
            remote.push_blob_bytes(&dst, config).await?;
            remote
                .push_manifest(&dst.with_tag(&sig_tag), &manifest, MEDIA_OCI_MANIFEST)
                .await?;
        }
    }
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
