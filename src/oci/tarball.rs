//! Reading a `docker save` tarball (legacy or OCI-layout flavour) into the layout, re-packing
//! each layer with cleanpipe's pinned gzip so the same layers always give the same digests.
//! Layers are streamed from the tar through the hashers and gzip to disk, one at a time.

use std::collections::BTreeMap;
use std::io::{self, Read};

use flate2::{Compression, GzBuilder};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::types::{
    Descriptor, Digest, HashingWriter, ImageConfig, Manifest, MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER_GZIP, MEDIA_OCI_MANIFEST,
};

/// Entries up to this size are kept in memory (configs, manifests, tiny layers).
const SMALL_ENTRY: u64 = 1024 * 1024;

#[derive(Deserialize)]
struct SaveManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

struct Repacked {
    descriptor: Descriptor,
    diff_id: Digest,
}

/// Import the single image of a `docker save` stream into `layout`. `rewrite_config` may
/// change the config (e.g. normalise timestamps) before it is stored. Returns the manifest.
pub fn import_docker_save(
    reader: impl Read,
    layout: &Layout,
    rewrite_config: impl FnOnce(&mut ImageConfig),
) -> Result<Descriptor> {
    let mut archive = tar::Archive::new(reader);
    let mut small: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut big: BTreeMap<String, Repacked> = BTreeMap::new();
    let bad =
        |e: io::Error| Error::environment("cannot read the image exported by Docker").caused_by(e);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        if entry.size() <= SMALL_ENTRY {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(bad)?;
            small.insert(path, bytes);
        } else {
            let repacked = repack_layer(&mut entry, layout)?;
            big.insert(path, repacked);
        }
    }
    let manifest_json = small
        .get("manifest.json")
        .ok_or_else(|| Error::environment("the image exported by Docker has no manifest.json"))?;
    let entries: Vec<SaveManifestEntry> = serde_json::from_slice(manifest_json)
        .map_err(|e| Error::environment("the exported manifest.json is malformed").caused_by(e))?;
    let [entry] = entries.as_slice() else {
        return Err(Error::environment(format!(
            "expected one image in the Docker export, found {}",
            entries.len()
        )));
    };
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for path in &entry.layers {
        let repacked = match big.remove(path) {
            Some(r) => r,
            None => {
                let bytes = small.get(path).ok_or_else(|| {
                    Error::environment(format!("the Docker export lacks layer `{path}`"))
                })?;
                repack_layer(&mut bytes.as_slice(), layout)?
            }
        };
        diff_ids.push(repacked.diff_id.clone());
        layers.push(repacked.descriptor);
    }
    let config_bytes = small.get(&entry.config).ok_or_else(|| {
        Error::environment(format!(
            "the Docker export lacks its config `{}`",
            entry.config
        ))
    })?;
    let mut config: ImageConfig = serde_json::from_slice(config_bytes)
        .map_err(|e| Error::environment("the exported image config is malformed").caused_by(e))?;
    if config.rootfs.diff_ids != diff_ids {
        return Err(Error::environment(
            "the exported layers do not match the image config's diff_ids",
        ));
    }
    rewrite_config(&mut config);
    let config_bytes = serde_json::to_vec(&config).expect("config serializes");
    let config_digest = layout.write_blob(&config_bytes)?;
    let manifest = Manifest::oci(
        Descriptor::new(MEDIA_OCI_CONFIG, config_digest, config_bytes.len() as u64),
        layers,
    )
    .to_bytes();
    let digest = layout.write_blob(&manifest)?;
    Ok(Descriptor::new(
        MEDIA_OCI_MANIFEST,
        digest,
        manifest.len() as u64,
    ))
}

fn repack_layer(reader: &mut impl Read, layout: &Layout) -> Result<Repacked> {
    let blob = layout.blob_writer()?;
    let gz = GzBuilder::new().mtime(0).write(blob, Compression::new(6));
    let mut hashing = HashingWriter::new(gz);
    io::copy(reader, &mut hashing)
        .map_err(|e| Error::environment("cannot re-pack a layer").caused_by(e))?;
    let (gz, diff_id) = hashing.finish();
    let blob = gz
        .finish()
        .map_err(|e| Error::io("cannot write layer", layout.root(), e))?;
    let (digest, size) = blob.commit(None)?;
    Ok(Repacked {
        descriptor: Descriptor::new(MEDIA_OCI_LAYER_GZIP, digest, size),
        diff_id,
    })
}
