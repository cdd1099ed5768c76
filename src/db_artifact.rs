//! The managed vulnerability database as a signed OCI artifact (docs/database.md): `db push`
//! packs a managed directory ([`crate::scan::managed`]) into an OCI image manifest with
//! `artifactType` [`ARTIFACT_TYPE`] (config: every archive's metadata; one layer per ecosystem
//! archive), signs it like an image and tags it last; `db pull` resolves it, verifies its
//! signature against a trust set before reading anything else, checks every archive as
//! `db update` does, and installs it into a managed directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::remote::{Remote, RemoteOptions};
use crate::oci::store::Store;
use crate::oci::types::{Descriptor, Digest, Manifest};
use crate::scan::managed::{self, ArchiveMeta};
use crate::sign::{Signer, Trust};

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.cleanpipe.osv-db.v1";
/// The config blob: [`DbConfig`].
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cleanpipe.osv-db.config.v1+json";
/// One ecosystem archive (osv.dev's `all.zip`).
pub const ARCHIVE_MEDIA_TYPE: &str = "application/vnd.cleanpipe.osv-db.archive.v1+zip";
pub const ANNOTATION_ECOSYSTEM: &str = "dev.cleanpipe.osv.ecosystem";
pub const ANNOTATION_RECORDS: &str = "dev.cleanpipe.osv.records";
pub const ANNOTATION_NEWEST: &str = "dev.cleanpipe.osv.newest-modified";
pub const ANNOTATION_FETCHED: &str = "dev.cleanpipe.osv.fetched";
const CONFIG_FORMAT: &str = "cleanpipe-osv-db/1";
/// More ecosystems than osv.dev publishes is not a database cleanpipe wrote.
const MAX_ARCHIVES: usize = 200;

/// The artifact's config: what `db update` verified about each archive.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DbConfig {
    pub format: String,
    /// When it was pushed (RFC 3339).
    pub created: String,
    pub archives: Vec<ArchiveMeta>,
}

/// What a push published.
#[derive(Debug)]
pub struct Pushed {
    pub digest: Digest,
    pub reference: String,
    pub archives: Vec<ArchiveMeta>,
}

/// The manifest and config of the database in `dir`, with the archives written as blobs into
/// `layout` (streamed). Every archive's digest is checked against its metadata first.
fn pack(dir: &Path, layout: &Layout, created: &str) -> Result<(Vec<u8>, Vec<ArchiveMeta>)> {
    if !managed::is_managed(dir) {
        return Err(Error::usage(format!(
            "`{}` holds no database `cleanpipe db update` wrote",
            dir.display()
        ))
        .with_hint("run `cleanpipe db update --ecosystems …` first, or give --dir"));
    }
    let archives = managed::read_archives(dir)?;
    let mut layers = Vec::new();
    for meta in &archives {
        let file = dir.join(&meta.archive);
        managed::check_digest(&file, meta)?;
        let mut src = crate::fsutil::open_read_nofollow(&file)?;
        let mut w = layout.blob_writer()?;
        std::io::copy(&mut src, &mut w).map_err(|e| Error::io("cannot copy", &file, e))?;
        let digest = Digest::parse(&meta.digest)?;
        let (digest, size) = w.commit(Some(&digest))?;
        let mut desc = Descriptor::new(ARCHIVE_MEDIA_TYPE, digest, size);
        desc.annotations = BTreeMap::from([
            (ANNOTATION_ECOSYSTEM.into(), meta.ecosystem.clone()),
            (ANNOTATION_RECORDS.into(), meta.records.to_string()),
            (ANNOTATION_NEWEST.into(), meta.newest_modified.clone()),
            (ANNOTATION_FETCHED.into(), meta.fetched.clone()),
            (
                "org.opencontainers.image.title".into(),
                meta.archive.clone(),
            ),
        ]);
        layers.push(desc);
    }
    let config = DbConfig {
        format: CONFIG_FORMAT.into(),
        created: created.into(),
        archives: archives.clone(),
    };
    let config_bytes = serde_json::to_vec_pretty(&config).expect("config serializes");
    let config_digest = layout.write_blob(&config_bytes)?;
    let mut manifest = Manifest::oci(
        Descriptor::new(CONFIG_MEDIA_TYPE, config_digest, config_bytes.len() as u64),
        layers,
    );
    manifest.artifact_type = Some(ARTIFACT_TYPE.into());
    manifest.annotations = BTreeMap::from([(
        "org.opencontainers.image.created".to_string(),
        created.to_string(),
    )]);
    let bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
    layout.write_blob(&bytes)?;
    Ok((bytes, archives))
}

/// Push the managed database in `dir` to `target` (a registry reference or `oci:DIR`, with a
/// tag): blobs and manifest by digest, then its signature(s), then the tag, so the tag never
/// names an unsigned database.
pub async fn push(
    dir: &Path,
    target: &ImageRef,
    options: &RemoteOptions,
    signer: &Signer,
    (legacy, bundle): (bool, bool),
) -> Result<Pushed> {
    if target.digest().is_some() {
        return Err(Error::usage(format!(
            "`{target}`: push to a tag, not a digest (the digest is the database's own)"
        ))
        .with_hint("e.g. registry.example/osv-db:latest"));
    }
    let tag = target.tag().unwrap_or("latest").to_string();
    let created = crate::clock::now_rfc3339();
    let scratch;
    let (layout, store) = match target {
        ImageRef::Layout(l) => {
            let layout = Layout::create(&l.dir)?;
            (layout.clone(), Store::Layout(layout))
        }
        ImageRef::Registry(r) => {
            scratch = tempfile::tempdir()
                .map_err(|e| Error::io("cannot create a temporary directory", dir, e))?;
            let layout = Layout::create(scratch.path().join("layout"))?;
            (
                layout,
                Store::Remote {
                    remote: Remote::new(r, options)?,
                    repo: r.clone(),
                },
            )
        }
    };
    let (manifest, archives) = pack(dir, &layout, &created)?;
    let desc = Descriptor::of(crate::oci::types::MEDIA_OCI_MANIFEST, &manifest);
    let reference = match (&store, target) {
        (Store::Remote { remote, repo }, _) => {
            crate::oci::copy::copy_image(&layout, remote, repo, &desc).await?;
            repo.repository_name()
        }
        (Store::Layout(l), _) => {
            l.add_untagged(&desc)?;
            store.describe()
        }
    };
    crate::evidence::sign_subject(
        &store,
        &desc,
        &reference,
        signer,
        (legacy, bundle),
        &created,
    )
    .await?;
    store
        .put_tagged_manifest(&tag, &manifest, crate::oci::types::MEDIA_OCI_MANIFEST)
        .await?;
    if let Store::Layout(l) = &store {
        let _ = l.remove_untagged(&desc.digest);
    }
    Ok(Pushed {
        digest: desc.digest,
        reference,
        archives,
    })
}

/// What a pull installed.
#[derive(Debug)]
pub struct Pulled {
    pub digest: Digest,
    /// Who signed it (the verification's summary).
    pub signed_by: String,
    pub archives: Vec<ArchiveMeta>,
}

/// A database artifact the signature check refused (exit 1: the trust said no).
fn refused(source: &ImageRef, why: impl std::fmt::Display) -> Error {
    Error::gate(
        format!("the database artifact {source} is refused: {why}"),
        vec![format!("{why}")],
    )
    .with_hint("nothing was installed; check `scan.db_trust` (or --key / --certificate-identity) names the key or identity that pushed it")
}

/// Fetch the database artifact `source`, verify its signature with `trust`, check every archive
/// (the checks of `db update`) and install it into the managed directory `dir`. Anything refused
/// leaves `dir` as it was.
pub async fn pull(
    source: &ImageRef,
    options: &RemoteOptions,
    trust: &Trust,
    dir: &Path,
) -> Result<Pulled> {
    let store = Store::for_image(source, options)?;
    let resolved = store.resolve(source).await?;
    if resolved.is_index() {
        return Err(Error::usage(format!(
            "{source} is an index, not a database artifact"
        )));
    }
    let manifest = Manifest::from_slice(&resolved.bytes, &source.to_string())?;
    if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE)
        || manifest.config.media_type != CONFIG_MEDIA_TYPE
    {
        return Err(Error::usage(format!(
            "{source} ({}) is not a vulnerability database artifact: artifactType `{}`, expected `{ARTIFACT_TYPE}`",
            resolved.digest,
            manifest.artifact_type.as_deref().unwrap_or("none")
        ))
        .with_hint("push one with `cleanpipe db push`"));
    }
    // The signature first: nothing the artifact says is read before it verifies.
    let report =
        crate::evidence::signatures::verify_signatures(&store, &resolved.digest, trust).await?;
    if !report.verified {
        return Err(refused(
            source,
            format!(
                "{} is not signed by a trusted key or identity ({}): {}",
                resolved.digest, report.key, report.summary
            ),
        ));
    }
    let config_bytes = store.read_blob(&manifest.config.digest).await?;
    let config: DbConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
        Error::usage(format!("{source}: its config is not a database's")).caused_by(e)
    })?;
    if config.format != CONFIG_FORMAT {
        return Err(Error::usage(format!(
            "{source}: config format `{}`, expected `{CONFIG_FORMAT}`",
            config.format
        ))
        .with_hint("pull it with the cleanpipe version that pushed it, or push it again"));
    }
    check_listing(source, &manifest, &config)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let _lock = managed::lock(dir)?;
    // Download into a temporary layout inside `dir` (same file system, so the archives are
    // renamed into place); it is removed with its blobs whatever happens.
    let staging = tempfile::Builder::new()
        .prefix(".download-pull-")
        .tempdir_in(dir)
        .map_err(|e| Error::io("cannot create a temporary directory in", dir, e))?;
    let layout = Layout::create(staging.path().join("layout"))?;
    for layer in &manifest.layers {
        match &store {
            Store::Layout(from) => layout.copy_blob_from(from, &layer.digest)?,
            Store::Remote { remote, repo } => {
                remote.pull_blob_into(repo, &layer.digest, &layout).await?
            }
        }
        // copy_blob_from trusts a blob already present; check the bytes here too.
        let path = layout.blob_path(&layer.digest);
        let got = crate::oci::types::Digest::parse(&file_sha256(&path)?)?;
        if got != layer.digest {
            return Err(Error::environment(format!(
                "{source}: layer {} has digest {got}",
                layer.digest
            ))
            .with_hint(
                "the artifact's content was changed after it was signed; nothing was installed",
            ));
        }
    }
    let mut checked: Vec<(PathBuf, ArchiveMeta)> = Vec::new();
    for (layer, meta) in manifest.layers.iter().zip(&config.archives) {
        let path = layout.blob_path(&layer.digest);
        let eco = meta.ecosystem.clone();
        let p = path.clone();
        let found = tokio::task::spawn_blocking(move || managed::check_archive(&p, &eco))
            .await
            .map_err(|e| Error::environment("the check failed").caused_by(e))?
            .map_err(|why| {
                Error::environment(format!(
                    "{source}: the {} archive is refused: {why}",
                    meta.ecosystem
                ))
                .with_hint("nothing was installed; push the database again from a good `db update`")
            })?;
        if found.records != meta.records || found.newest_modified != meta.newest_modified {
            return Err(Error::environment(format!(
                "{source}: the {} archive holds {} record(s), newest modified {}, but its metadata says {} and {}",
                meta.ecosystem, found.records, found.newest_modified, meta.records, meta.newest_modified
            ))
            .with_hint("nothing was installed; push the database again from a good `db update`"));
        }
        let mut meta = meta.clone();
        meta.artifact = Some(format!("{}@{}", artifact_name(source), resolved.digest));
        checked.push((path, meta));
    }
    let installed = managed::install(dir, checked)?;
    Ok(Pulled {
        digest: resolved.digest,
        signed_by: report.summary,
        archives: installed,
    })
}

/// The artifact's name without tag or digest (`registry/repo`, `oci:DIR`).
fn artifact_name(source: &ImageRef) -> String {
    match source {
        ImageRef::Registry(r) => r.repository_name(),
        ImageRef::Layout(l) => format!("oci:{}", l.dir.display()),
    }
}

/// The layers and the config's archives must match one to one: same digest, size, ecosystem,
/// a file name `db update` would write, each ecosystem once.
fn check_listing(source: &ImageRef, manifest: &Manifest, config: &DbConfig) -> Result<()> {
    let bad = |why: String| {
        Error::usage(format!(
            "{source}: not a database `cleanpipe db push` wrote: {why}"
        ))
        .with_hint("push it again with `cleanpipe db push`")
    };
    if manifest.layers.is_empty() || manifest.layers.len() > MAX_ARCHIVES {
        return Err(bad(format!("{} layer(s)", manifest.layers.len())));
    }
    if manifest.layers.len() != config.archives.len() {
        return Err(bad(format!(
            "{} layer(s) but {} archive(s) in its config",
            manifest.layers.len(),
            config.archives.len()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (layer, meta) in manifest.layers.iter().zip(&config.archives) {
        managed::check_ecosystem_name(&meta.ecosystem)?;
        if !seen.insert(meta.ecosystem.clone()) {
            return Err(bad(format!("{} is listed twice", meta.ecosystem)));
        }
        if layer.media_type != ARCHIVE_MEDIA_TYPE
            || layer.digest.to_string() != meta.digest
            || layer.size != meta.size
            || layer.annotations.get(ANNOTATION_ECOSYSTEM) != Some(&meta.ecosystem)
        {
            return Err(bad(format!(
                "layer {} does not match the {} archive of its config",
                layer.digest, meta.ecosystem
            )));
        }
        if meta.archive.contains('/')
            || meta.archive.starts_with('.')
            || !meta.archive.ends_with(".zip")
        {
            return Err(bad(format!("archive name `{}`", meta.archive)));
        }
    }
    Ok(())
}

fn file_sha256(path: &Path) -> Result<String> {
    use sha2::Digest as _;
    let mut f = crate::fsutil::open_read_nofollow(path)?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io("cannot read", path, e))?;
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// A database artifact reference as `db pull` and `scan.db` take it: `oci://registry/repo…`
/// (the `scan.db` form), `registry/repo…`, or `oci:DIR…` (a layout).
pub fn parse_reference(text: &str) -> Result<ImageRef> {
    match text.trim().strip_prefix("oci://") {
        Some(rest) => crate::oci::reference::RegistryRef::parse(rest).map(ImageRef::Registry),
        None => ImageRef::parse(text),
    }
}
