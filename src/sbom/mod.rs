//! SBOMs: an image filesystem view ([`fs`]), catalogers ([`catalog`]), package URLs
//! ([`purl`]), license normalisation ([`license`]), and the SPDX 2.3 and CycloneDX 1.5 writers.

pub mod bdb;
pub mod binary;
pub mod catalog;
pub mod cyclonedx;
pub mod fs;
pub mod java;
pub mod lang;
pub mod license;
pub mod ndb;
pub mod purl;
pub mod rpmdb;
pub mod spdx;
pub mod sqlite;

use crate::error::Result;
use crate::oci::layout::Layout;
use crate::oci::types::Manifest;

pub use catalog::{Catalog, Package};
pub use spdx::Subject;

/// Bumped whenever catalogers change what they find, so cached catalogs are not reused.
const CATALOG_VERSION: u32 = 6;

/// Catalog the image `manifest` in `layout`. An image is immutable, so the catalog is cached in
/// the layout (`cleanpipe-cache/catalog-<key>.json`, keyed by the config and layer digests).
/// Layer reads are reported to `progress`.
pub fn catalog_image(
    layout: &Layout,
    manifest: &Manifest,
    progress: &crate::progress::Progress,
) -> Result<Catalog> {
    let mut key = format!("v{CATALOG_VERSION}\n{}\n", manifest.config.digest);
    for l in &manifest.layers {
        key.push_str(&format!("{} {}\n", l.media_type, l.digest));
    }
    let cache = layout.root().join("cleanpipe-cache").join(format!(
        "catalog-{}.json",
        crate::oci::types::Digest::of(key.as_bytes()).hex()
    ));
    if let Some(c) = std::fs::read(&cache)
        .ok()
        .and_then(|b| serde_json::from_slice::<Catalog>(&b).ok())
    {
        // A cached catalog is only as good as the layers it came from: check they still match.
        for (index, layer) in manifest.layers.iter().enumerate() {
            let task = progress.task(
                crate::progress::Kind::LayerRead,
                layer.digest.to_string(),
                Some(layer.size),
            );
            let mut verified = layout.open_verified_blob(layer)?;
            std::io::copy(&mut task.reader(&mut verified), &mut std::io::sink())
                .and_then(|_| verified.finish())
                .map_err(|e| fs::corrupt_layer(layout, index, layer, &e.to_string()))?;
            task.finish();
        }
        return Ok(c);
    }
    let fs = fs::ImageFs::read(layout, manifest, &catalog::wanted, progress)?;
    let mut c = catalog::catalog(&fs);
    for s in fs.skipped {
        c.warnings
            .push(format!("unsafe path `{s}` in a layer was ignored"));
    }
    if let Ok(bytes) = serde_json::to_vec(&c) {
        let _ = crate::oci::layout::write_atomic(&cache, &bytes);
    }
    Ok(c)
}

/// A timestamp as SPDX and CycloneDX want it: UTC, whole seconds (`YYYY-MM-DDThh:mm:ssZ`).
pub fn normalize_timestamp(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let t =
        time::OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// SBOM formats cleanpipe writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    SpdxJson,
    CyclonedxJson,
}

impl Format {
    pub fn file_name(&self) -> &'static str {
        match self {
            Format::SpdxJson => "sbom.spdx.json",
            Format::CyclonedxJson => "sbom.cyclonedx.json",
        }
    }

    /// The SBOM document (also the predicate of its attestation).
    pub fn document(&self, subject: &Subject, catalog: &Catalog) -> serde_json::Value {
        let subject = Subject {
            created: normalize_timestamp(&subject.created),
            ..subject.clone()
        };
        match self {
            Format::SpdxJson => spdx::document(&subject, catalog),
            Format::CyclonedxJson => cyclonedx::document(&subject, catalog),
        }
    }

    /// Pretty JSON bytes of `doc` with a trailing newline: the file users get.
    pub fn to_file_bytes(doc: &serde_json::Value) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(doc).expect("sbom serializes");
        bytes.push(b'\n');
        bytes
    }

    /// [`Format::document`] as file bytes.
    pub fn render(&self, subject: &Subject, catalog: &Catalog) -> Vec<u8> {
        Self::to_file_bytes(&self.document(subject, catalog))
    }
}
