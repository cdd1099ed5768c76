//! Image builders. `customize` is daemonless: it adds a deterministic layer and config changes
//! on top of a base image, writing straight into the layout. `docker` drives the Docker engine
//! and re-packs its result into the layout; `buildkit` drives buildkitd through `buildctl` and
//! imports the OCI layout it exports; `dockerfile` and `context` prepare what both send.

pub mod buildkit;
pub mod context;
pub mod customize;
pub mod docker;
pub mod dockerfile;
pub mod layer;
pub mod resolved;

pub use customize::{customize, Base, BuiltImage, CustomizeOptions, FileSpec};

use crate::error::Result;
use crate::oci::layout::Layout;
use crate::oci::types::{Descriptor, Index, Platform, MEDIA_OCI_INDEX};

/// One image of a multi-platform build.
#[derive(Clone, Debug)]
pub struct PlatformImage {
    pub platform: Platform,
    pub manifest: Descriptor,
    pub layers: usize,
}

/// Write the OCI image index over `images` (in their order, so the same build gives the same
/// index) into `layout`, and return its descriptor.
pub fn write_index(layout: &Layout, images: &[PlatformImage]) -> Result<Descriptor> {
    let entries: Vec<(Descriptor, Platform)> = images
        .iter()
        .map(|i| (i.manifest.clone(), i.platform.clone()))
        .collect();
    let bytes = serde_json::to_vec(&Index::over(&entries)).expect("an index serializes");
    let digest = layout.write_blob(&bytes)?;
    Ok(Descriptor::new(MEDIA_OCI_INDEX, digest, bytes.len() as u64))
}
