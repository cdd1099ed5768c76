//! The daemonless builder: base image + files + config changes → a new image in the layout.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::build::layer::{self, Entries, Entry};
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, RepoPath, RepoTree, TrackedKind};
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::remote::RemoteOptions;
use crate::oci::store::Store;
use crate::oci::types::{
    oci_layer_media_type, Descriptor, Digest, History, ImageConfig, Manifest, Platform,
    RuntimeConfig, MEDIA_OCI_CONFIG, MEDIA_OCI_MANIFEST,
};

/// What to start from.
#[derive(Clone, Debug, PartialEq)]
pub enum Base {
    Scratch,
    /// A digest-pinned image in a registry or a layout (verify-base has checked it).
    Image(ImageRef),
}

/// A file or directory of the repository to add. Directories are added recursively, in
/// sorted order, with only the files tracked at the commit.
#[derive(Clone, Debug)]
pub struct FileSpec {
    /// The path below the repository root (already checked by `RepoPath`).
    pub src: String,
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
    /// The repository root `src` paths are relative to.
    pub root: PathBuf,
    /// What the commit tracks: nothing else goes into the image.
    pub tree: RepoTree,
}

/// The result: an untagged image in the layout.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub manifest: Descriptor,
    pub config: Digest,
    pub layers: usize,
}

/// Build the customized image into `layout`. Registry bases are pulled into the layout first.
/// With `platform`, the image is for that platform: a scratch image says so in its config, and
/// a base image's config must already say so (an index entry whose image is for another
/// platform is refused).
pub async fn customize(
    layout: &Layout,
    base: &Base,
    options: &CustomizeOptions,
    remote: &RemoteOptions,
    platform: Option<&Platform>,
) -> Result<BuiltImage> {
    let (mut config, mut layers) = load_base(layout, base, remote).await?;
    match (base, platform) {
        (Base::Scratch, Some(p)) => p.apply_to(&mut config),
        (Base::Image(image), Some(p)) => {
            let own = Platform::of_config(&config);
            if own.architecture.is_empty() || !p.accepts(&own) {
                let says = match own.architecture.is_empty() {
                    true => "names no platform".to_string(),
                    false => format!("says it is for {own}"),
                };
                return Err(Error::usage(format!(
                    "base {image} is used for {p}, but its config {says}"
                ))
                .with_hint(
                    "the base's index is wrong; ask its publisher, or choose another base",
                ));
            }
        }
        (_, None) => {}
    }
    let created = rfc3339(options.epoch)?;

    if !options.files.is_empty() {
        let entries = collect_entries(options)?;
        let layout2 = layout.clone();
        let epoch = options.epoch;
        let (desc, diff_id) =
            tokio::task::spawn_blocking(move || layer::write_layer(&layout2, &entries, epoch))
                .await
                .map_err(|e| Error::environment("layer writer failed").caused_by(e))??;
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
    let store = Store::for_image(&image.with_digest(digest.clone()), remote)?;
    // One image: of an index base, the caller passes the platform image verify-base chose.
    let resolved = store.resolve(&image.with_digest(digest.clone())).await?;
    let manifest = Manifest::from_slice(&resolved.bytes, &image.to_string())?;
    let mut blobs = vec![manifest.config.digest.clone()];
    blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
    for blob in &blobs {
        match &store {
            Store::Layout(source) => layout.copy_blob_from(source, blob)?,
            Store::Remote { remote, repo } => remote.pull_blob_into(repo, blob, layout).await?,
        }
    }
    let config: ImageConfig = serde_json::from_slice(&layout.read_blob(&manifest.config.digest)?)
        .map_err(|e| {
        Error::usage(format!("the config of base {image} is malformed")).caused_by(e)
    })?;
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

/// The layer's entries: tracked files only, read without following links, committed links
/// kept as links (only when they point inside the repository).
fn collect_entries(options: &CustomizeOptions) -> Result<Entries> {
    let mut entries = Entries::new();
    for spec in &options.files {
        let dest = layer::image_path(&spec.dest)?;
        let tree = &options.tree;
        match tree.kind(&spec.src) {
            Some(TrackedKind::Submodule) | None if !tree.is_dir(&spec.src) => {
                return Err(not_tracked(&spec.src, tree));
            }
            Some(TrackedKind::Submodule) | None => {
                if dest.is_empty() {
                    // `dest: /`: the directory's contents over the image root, which keeps its
                    // own mode and owner.
                    if spec.mode.is_some() {
                        return Err(Error::usage(format!(
                            "`build.customize.files`: `{}` goes to `/`, whose mode is the base's; `mode` cannot change it",
                            spec.src
                        ))
                        .with_hint("drop `mode`, or lay the directory somewhere below `/`"));
                    }
                } else {
                    entries.insert(dest.clone(), dir_entry(spec.mode.unwrap_or(0o755), spec));
                }
                // A directory's `mode` applies to the directory itself; its files keep 0644/0755.
                let plain = FileSpec {
                    mode: None,
                    ..spec.clone()
                };
                for (rel, kind) in tree.under(&spec.src) {
                    let suffix = &rel[spec.src.len()..].trim_start_matches('/');
                    let target = if dest.is_empty() {
                        suffix.to_string()
                    } else {
                        format!("{dest}/{suffix}")
                    };
                    let mut cur = target.as_str();
                    while let Some((parent, _)) = cur.rsplit_once('/') {
                        if parent.len() <= dest.len() {
                            break;
                        }
                        entries
                            .entry(parent.to_string())
                            .or_insert_with(|| dir_entry(0o755, spec));
                        cur = parent;
                    }
                    if kind != TrackedKind::Submodule {
                        entries.insert(target, tracked_entry(options, rel, kind, &plain)?);
                    }
                }
            }
            Some(_) if dest.is_empty() => {
                return Err(Error::usage(format!(
                    "`build.customize.files`: `{}` is a file and cannot replace the image root `/`",
                    spec.src
                ))
                .with_hint("`dest: /` takes a directory (its contents are laid over the root); give a file a path such as `/etc/app.conf`"));
            }
            Some(kind) => {
                entries.insert(dest, tracked_entry(options, &spec.src, kind, spec)?);
            }
        }
    }
    layer::add_parents(&mut entries);
    Ok(entries)
}

fn not_tracked(rel: &str, tree: &RepoTree) -> Error {
    Error::usage(format!(
        "`build.customize.files`: `{rel}` is not tracked at commit {}; only the commit goes into the image",
        tree.commit
    ))
    .with_hint("`git add` and commit it (check `.gitignore`)")
}

fn dir_entry(mode: u32, spec: &FileSpec) -> Entry {
    Entry {
        source: None,
        link: None,
        mode,
        uid: spec.uid,
        gid: spec.gid,
    }
}

/// One tracked file or link. The work tree must still agree with the commit on what it is
/// (a tracked file replaced by a link is refused), and no directory on the way may be a link.
fn tracked_entry(
    options: &CustomizeOptions,
    rel: &str,
    kind: TrackedKind,
    spec: &FileSpec,
) -> Result<Entry> {
    use std::os::unix::fs::PermissionsExt;
    let path = RepoPath::from_rel(&options.root, rel);
    path.check_links(rel, true).map_err(|r| {
        Error::usage(format!("`build.customize.files`: {}", r.message)).with_hint(r.hint)
    })?;
    let abs = path.abs();
    let meta = std::fs::symlink_metadata(&abs).map_err(|e| {
        Error::usage(format!("`build.customize.files`: cannot read `{rel}`"))
            .caused_by(e)
            .with_hint(
            "the file is tracked at the commit but missing from the work tree; `git checkout` it",
        )
    })?;
    match kind {
        TrackedKind::Symlink if meta.file_type().is_symlink() => {
            let target = std::fs::read_link(&abs).io_context("cannot read link", &abs)?;
            if fsutil::link_target_inside(rel, &target).is_none() {
                return Err(Error::usage(format!(
                    "`build.customize.files`: `{rel}` is a symbolic link to `{}`, outside the repository",
                    target.display()
                ))
                .with_hint("cleanpipe copies links as links and only when they point inside the repository"));
            }
            Ok(Entry {
                source: None,
                link: Some(target),
                mode: 0o777,
                uid: spec.uid,
                gid: spec.gid,
            })
        }
        TrackedKind::File { .. } if meta.file_type().is_file() => {
            let default = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            Ok(Entry {
                source: Some(abs),
                link: None,
                mode: spec.mode.unwrap_or(default),
                uid: spec.uid,
                gid: spec.gid,
            })
        }
        _ => Err(Error::usage(format!(
            "`build.customize.files`: `{rel}` is not what commit {} has there (a file replaced by a link or a directory?)",
            options.tree.commit
        ))
        .with_hint("restore it with `git checkout -- PATH`; only the commit goes into the image")),
    }
}

/// SOURCE_DATE_EPOCH as RFC 3339 UTC.
pub fn rfc3339(epoch: u64) -> Result<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch as i64)
        .map_err(|_| Error::usage(format!("source date {epoch} is out of range")))?;
    Ok(t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats"))
}
