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
        crate::stages::publish::copy_image(&layout, &remote, &dst, &resolved.descriptor()).await?;
    // Signatures and attestations travel with the image, before the tag.
    for suffix in ["sig", "att"] {
        crate::stages::publish::push_signatures(
            &layout,
            &remote,
            &dst,
            &resolved.digest,
            suffix,
            None,
        )
        .await?;
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
