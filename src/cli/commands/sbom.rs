use crate::cli::args::{SbomArgs, SbomFormatArg};
use crate::cli::printer::Printer;
use crate::error::{Error, ExitCode, Result};
use crate::oci::reference::ImageRef;
use crate::redact::Redactor;
use crate::sbom::{self, Format, Subject};

pub async fn sbom(args: &SbomArgs, printer: &Printer, redactor: &Redactor) -> Result<ExitCode> {
    let local = super::local_image(&args.image, &args.registry, printer, redactor).await?;
    let (image, layout, resolved, manifest) = (
        &local.image,
        local.layout.clone(),
        &local.resolved,
        local.manifest.clone(),
    );
    let config: crate::oci::types::ImageConfig =
        serde_json::from_slice(&layout.read_blob(&manifest.config.digest)?).map_err(|e| {
            Error::usage(format!("the config of {image} is malformed")).caused_by(e)
        })?;
    let (layout2, progress) = (layout.clone(), crate::cli::reporters::progress(printer));
    let catalog =
        tokio::task::spawn_blocking(move || sbom::catalog_image(&layout2, &manifest, &progress))
            .await
            .map_err(|e| Error::environment("cataloguing failed").caused_by(e))??;
    for w in &catalog.warnings {
        printer.warn(w);
    }
    let (name, repository) = match &image {
        ImageRef::Registry(r) => (r.repository_name(), Some(r.repository_name())),
        ImageRef::Layout(l) => (l.dir.display().to_string(), None),
    };
    let subject = Subject {
        name,
        digest: resolved.digest.clone(),
        created: config
            .created
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
        repository,
    };
    let format = match args.format {
        SbomFormatArg::SpdxJson => Format::SpdxJson,
        SbomFormatArg::CyclonedxJson => Format::CyclonedxJson,
    };
    let bytes = format.render(&subject, &catalog);
    printer.status(&format!(
        "{} package(s) in {} ({})",
        catalog.packages.len(),
        image,
        resolved.digest
    ));
    match &args.output {
        Some(path) => crate::oci::layout::write_atomic(path, &bytes)?,
        None => printer.data(String::from_utf8_lossy(&bytes).trim_end()),
    }
    Ok(ExitCode::Success)
}
