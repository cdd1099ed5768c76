//! The daemonless builder: base image + files + config changes → a new image in the layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::build::layer::{self, Entries, Entry};
use crate::error::{Error, IoContext, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::remote::{Remote, RemoteOptions};
use crate::oci::types::{
    oci_layer_media_type, Descriptor, Digest, History, ImageConfig, Manifest, RuntimeConfig,
    MEDIA_OCI_CONFIG, MEDIA_OCI_MANIFEST,
};

/// What to start from.
#[derive(Clone, Debug, PartialEq)]
pub enum Base {
    Scratch,
    /// A digest-pinned image in a registry or a layout (verify-base has checked it).
    Image(ImageRef),
}

/// A file or directory to add. Directories are added recursively in sorted order.
#[derive(Clone, Debug)]
pub struct FileSpec {
    pub src: PathBuf,
    pub dest: String,
    /// `None`: 0644 for files, 0755 for directories (and executables keep 0755).
    pub mode: Option<u32>,
    pub uid: u64,
    pub gid: u64,
}

/// Everything the customize backend changes.
#[derive(Clone, Debug, Default)]
pub struct CustomizeOptions {
    pub files: Vec<FileSpec>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// SOURCE_DATE_EPOCH: layer mtimes and the config's `created`.
    pub epoch: u64,
    /// Where relative `src` paths start.
    pub context_dir: PathBuf,
}

/// The result: an untagged image in the layout.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub manifest: Descriptor,
    pub config: Digest,
    pub layers: usize,
}

/// Build the customized image into `layout`. Registry bases are pulled into the layout first.
pub async fn customize(
    layout: &Layout,
    base: &Base,
    options: &CustomizeOptions,
    remote: &RemoteOptions,
) -> Result<BuiltImage> {
    let (mut config, mut layers) = load_base(layout, base, remote).await?;
    let created = rfc3339(options.epoch)?;

    if !options.files.is_empty() {
        let entries = collect_entries(options)?;
        let layout2 = layout.clone();
        let epoch = options.epoch;
        let (desc, diff_id) =
            tokio::task::spawn_blocking(move || layer::write_layer(&layout2, &entries, epoch))
                .await
                .map_err(|e| Error::environment(format!("layer writer failed: {e}")))??;
        layers.push(desc);
        config.rootfs.diff_ids.push(diff_id);
        let list: Vec<&str> = options.files.iter().map(|f| f.dest.as_str()).collect();
        config.history.push(History {
            created: Some(created.clone()),
            created_by: Some(format!("cleanpipe customize: add {}", list.join(" "))),
            ..Default::default()
        });
    }

    let runtime = config.config.get_or_insert_with(RuntimeConfig::default);
    if !options.env.is_empty() {
        let mut env = runtime.env.take().unwrap_or_default();
        for (k, v) in &options.env {
            env.retain(|e| e.split('=').next() != Some(k.as_str()));
            env.push(format!("{k}={v}"));
        }
        runtime.env = Some(env);
    }
    if !options.labels.is_empty() {
        let labels = runtime.labels.get_or_insert_with(BTreeMap::new);
        labels.extend(options.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(u) = &options.user {
        runtime.user = Some(u.clone());
    }
    if let Some(w) = &options.workdir {
        runtime.working_dir = Some(w.clone());
    }
    if let Some(e) = &options.entrypoint {
        runtime.entrypoint = Some(e.clone());
    }
    if let Some(c) = &options.cmd {
        runtime.cmd = Some(c.clone());
    }
    config.created = Some(created.clone());
    config.history.push(History {
        created: Some(created),
        created_by: Some("cleanpipe customize: config".into()),
        empty_layer: Some(true),
        ..Default::default()
    });

    let config_bytes = serde_json::to_vec(&config).expect("config serializes");
    let config_digest = layout.write_blob(&config_bytes)?;
    let config_desc = Descriptor::new(
        MEDIA_OCI_CONFIG,
        config_digest.clone(),
        config_bytes.len() as u64,
    );
    let layer_count = layers.len();
    let manifest = Manifest::oci(config_desc, layers).to_bytes();
    let manifest_digest = layout.write_blob(&manifest)?;
    Ok(BuiltImage {
        manifest: Descriptor::new(MEDIA_OCI_MANIFEST, manifest_digest, manifest.len() as u64),
        config: config_digest,
        layers: layer_count,
    })
}

/// The base's config and layer descriptors, with every blob present in `layout`.
async fn load_base(
    layout: &Layout,
    base: &Base,
    remote: &RemoteOptions,
) -> Result<(ImageConfig, Vec<Descriptor>)> {
    let image = match base {
        Base::Scratch => return Ok((ImageConfig::scratch(), vec![])),
        Base::Image(image) => image,
    };
    let digest = image.digest().ok_or_else(|| {
        Error::usage(format!("base {image} is not pinned by digest"))
            .with_hint("append `@sha256:<digest>` to the base")
    })?;
    let (manifest_bytes, fetch): (Vec<u8>, Fetch) = match image {
        ImageRef::Layout(l) => {
            let source = Layout::open(&l.dir)?;
            (source.read_blob(digest)?, Fetch::Layout(source))
        }
        ImageRef::Registry(r) => {
            let remote = Remote::new(r, remote)?;
            let (bytes, _, _) = remote
                .manifest(&r.at_digest(digest))
                .await?
                .ok_or_else(|| {
                    Error::usage(format!("base image {image} was not found in its registry"))
                })?;
            (bytes, Fetch::Remote(remote, r.clone()))
        }
    };
    let manifest = Manifest::from_slice(&manifest_bytes, &image.to_string())?;
    let mut blobs = vec![manifest.config.digest.clone()];
    blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
    for blob in &blobs {
        match &fetch {
            Fetch::Layout(source) => copy_blob(source, layout, blob)?,
            Fetch::Remote(remote, r) => remote.pull_blob_into(r, blob, layout).await?,
        }
    }
    let config: ImageConfig =
        serde_json::from_slice(&layout.read_blob(&manifest.config.digest)?)
            .map_err(|e| Error::usage(format!("the config of base {image} is malformed: {e}")))?;
    let layers = manifest
        .layers
        .into_iter()
        .map(|mut l| {
            l.media_type = oci_layer_media_type(&l.media_type).to_string();
            l
        })
        .collect();
    Ok((config, layers))
}

enum Fetch {
    Layout(Layout),
    Remote(Remote, crate::oci::RegistryRef),
}

fn copy_blob(from: &Layout, to: &Layout, digest: &Digest) -> Result<()> {
    if to.has_blob(digest) {
        return Ok(());
    }
    let mut src = from.open_blob(digest)?;
    let mut w = to.blob_writer()?;
    std::io::copy(&mut src, &mut w).io_context("cannot copy blob", &from.blob_path(digest))?;
    w.commit(Some(digest))?;
    Ok(())
}

fn collect_entries(options: &CustomizeOptions) -> Result<Entries> {
    let mut entries = Entries::new();
    for spec in &options.files {
        let src = options.context_dir.join(&spec.src);
        let dest = layer::image_path(&spec.dest)?;
        let meta = std::fs::metadata(&src).map_err(|e| {
            Error::usage(format!(
                "`build.customize.files`: cannot read `{}`: {e}",
                spec.src.display()
            ))
            .with_hint("paths are relative to the directory of the pipeline file")
        })?;
        if meta.is_dir() {
            entries.insert(
                dest.clone(),
                Entry {
                    source: None,
                    mode: spec.mode.unwrap_or(0o755),
                    uid: spec.uid,
                    gid: spec.gid,
                },
            );
            walk(&src, &dest, spec, &mut entries)?;
        } else {
            entries.insert(dest, file_entry(&src, &meta, spec));
        }
    }
    layer::add_parents(&mut entries);
    Ok(entries)
}

fn file_entry(src: &Path, meta: &std::fs::Metadata, spec: &FileSpec) -> Entry {
    use std::os::unix::fs::PermissionsExt;
    let default = if meta.permissions().mode() & 0o111 != 0 {
        0o755
    } else {
        0o644
    };
    Entry {
        source: Some(src.to_path_buf()),
        mode: spec.mode.unwrap_or(default),
        uid: spec.uid,
        gid: spec.gid,
    }
}

fn walk(dir: &Path, dest: &str, spec: &FileSpec, entries: &mut Entries) -> Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .io_context("cannot list directory", dir)?
        .collect::<std::io::Result<_>>()
        .io_context("cannot list directory", dir)?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let name = child.file_name().to_string_lossy().into_owned();
        let path = child.path();
        let target = format!("{dest}/{name}");
        let meta = std::fs::metadata(&path).io_context("cannot read", &path)?;
        if meta.is_dir() {
            entries.insert(
                target.clone(),
                Entry {
                    source: None,
                    mode: 0o755,
                    uid: spec.uid,
                    gid: spec.gid,
                },
            );
            walk(&path, &target, spec, entries)?;
        } else {
            // A directory's `mode` applies to the directory itself; its files keep 0644/0755.
            let plain = FileSpec {
                mode: None,
                ..spec.clone()
            };
            entries.insert(target, file_entry(&path, &meta, &plain));
        }
    }
    Ok(())
}

/// SOURCE_DATE_EPOCH as RFC 3339 UTC.
pub fn rfc3339(epoch: u64) -> Result<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch as i64)
        .map_err(|_| Error::usage(format!("source date {epoch} is out of range")))?;
    Ok(t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats"))
}
