//! The BuildKit backend: a buildkitd driven by its own client `buildctl` (an external tool, like
//! trivy and grype), with the built-in `dockerfile.v0` frontend. The context is the one the
//! classic builder sends (see [`crate::build::context`]), materialized into a temporary
//! directory; the result comes back as an OCI layout whose blobs are copied, hash-checked, into
//! cleanpipe's store. Build secrets are handed to buildctl by file or environment variable and
//! never pass through cleanpipe's own output. A provenance is requested with each build and read
//! from the export (never imported): its materials are the images BuildKit resolved, which
//! [`crate::build::resolved`] compares with the verified bases before anything is signed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use crate::build::context::{self, ContextFiles};
use crate::build::docker::{DockerBuildOptions, DockerBuilt};
use crate::build::resolved::{self, Material, UsedImages};
use crate::build::PlatformImage;
use crate::error::{Error, IoContext, Result};
use crate::oci::layout::Layout;
use crate::oci::types::{
    document_kind, Descriptor, Digest, DocumentKind, ImageConfig, Index, Manifest, Platform,
};

/// How long `buildctl debug workers` may take to answer before buildkitd counts as unreachable.
const REACH_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a build secret's value comes from.
#[derive(Clone, Debug)]
pub enum SecretSource {
    File(PathBuf),
    /// The variable's name and value (handed to buildctl in its environment only).
    Env(String, crate::redact::Secret),
}

/// What the BuildKit backend needs beyond the Dockerfile build's options.
#[derive(Clone, Debug)]
pub struct BuildkitOptions {
    /// The `buildctl` program: a path or a name on PATH.
    pub buildctl: String,
    /// buildkitd's address (`--addr`); `None` lets buildctl use `BUILDKIT_HOST` or its default.
    pub host: Option<String>,
    pub secrets: BTreeMap<String, SecretSource>,
    /// SSH forwarded by id (`--ssh ID[=PATH]`): `None` is cleanpipe's own agent
    /// (`SSH_AUTH_SOCK`, which buildctl inherits), a path an agent socket or key file.
    pub ssh: BTreeMap<String, Option<PathBuf>>,
    /// The platforms to build (`--opt platform=…`); empty: buildkitd's own.
    pub platforms: Vec<Platform>,
    /// `--import-cache` and `--export-cache` specs, as [`cache_spec`] made them.
    pub cache_from: Vec<String>,
    pub cache_to: Vec<String>,
    /// A directory kept between runs for BuildKit's OCI export: blobs it already holds are not
    /// sent again (a warm build re-sends only what changed). `None`: a temporary directory.
    pub export_dir: Option<PathBuf>,
}

/// A `cache_from`/`cache_to` entry as buildctl takes it: a registry reference becomes
/// `type=registry,ref=REF` (plus `mode=max` to export every step); buildctl's own
/// `type=…,k=v` form is checked for shape and kept.
pub fn cache_spec(given: &str, export: bool) -> std::result::Result<String, String> {
    let given = given.trim();
    if !given.starts_with("type=") {
        let reference =
            crate::oci::reference::RegistryRef::parse(given).map_err(|e| e.to_string())?;
        return Ok(match export {
            true => format!("type=registry,ref={reference},mode=max"),
            false => format!("type=registry,ref={reference}"),
        });
    }
    // buildctl reads the spec as CSV where a later key wins: only plain `key=value` fields,
    // each key once, known keys of the registry and local cache types, no quoting.
    let mut keys: Vec<&str> = Vec::new();
    let mut kind = "";
    for field in given.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            return Err(format!("`{given}` is not `type=…,key=value,…`"));
        };
        if value.is_empty()
            || value.contains(['"', '\'', '='])
            || value.contains(char::is_whitespace)
        {
            return Err(format!(
                "`{field}` in `{given}`: values are plain, unquoted text"
            ));
        }
        if keys.contains(&key) {
            return Err(format!("`{key}` is given twice in `{given}`"));
        }
        keys.push(key);
        if key == "type" {
            kind = value;
        }
    }
    // What exporting a cache adds to either type's keys.
    const EXPORT: [&str; 6] = [
        "mode",
        "compression",
        "compression-level",
        "force-compression",
        "oci-mediatypes",
        "image-manifest",
    ];
    let allowed: Vec<&str> = match (kind, export) {
        ("registry", false) => vec!["type", "ref"],
        ("registry", true) => [&["type", "ref", "ignore-error"][..], &EXPORT].concat(),
        ("local", false) => vec!["type", "src", "digest", "tag"],
        ("local", true) => [&["type", "dest", "tag"][..], &EXPORT].concat(),
        (other, _) => {
            return Err(format!(
                "cache type `{other}` is not supported: `registry` or `local`"
            ))
        }
    };
    if let Some(key) = keys.iter().find(|k| !allowed.contains(k)) {
        return Err(format!(
            "`{key}` is not a key of a `{kind}` cache here ({})",
            allowed.join(", ")
        ));
    }
    if kind == "registry" {
        let reference = given
            .split(',')
            .find_map(|f| f.strip_prefix("ref="))
            .ok_or_else(|| format!("`{given}` names no `ref=`"))?;
        crate::oci::reference::RegistryRef::parse(reference).map_err(|e| e.to_string())?;
    }
    Ok(given.to_string())
}

/// The registry repository a cache spec names, if it is a registry cache, in the form
/// [`comparable_repository`] gives.
pub fn cache_repository(spec: &str) -> Option<String> {
    let reference = spec.split(',').find_map(|f| f.strip_prefix("ref="))?;
    comparable_repository(reference)
}

/// `registry/repository` of `reference` as [`RegistryRef::comparable_name`] gives it.
pub fn comparable_repository(reference: &str) -> Option<String> {
    crate::oci::reference::RegistryRef::parse(reference)
        .ok()
        .map(|r| r.comparable_name())
}

impl BuildkitOptions {
    fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.buildctl);
        if let Some(host) = &self.host {
            cmd.args(["--addr", host]);
        }
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    fn shown_host(&self) -> &str {
        self.host
            .as_deref()
            .unwrap_or("unix:///run/buildkit/buildkitd.sock")
    }
}

/// Check that buildctl runs and buildkitd answers (`buildctl debug workers`).
pub async fn connect(options: &BuildkitOptions) -> Result<()> {
    let mut cmd = options.command();
    cmd.args(["debug", "workers"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let why = match tokio::time::timeout(REACH_TIMEOUT, cmd.output()).await {
        Err(_) => format!("no answer within {}s", REACH_TIMEOUT.as_secs()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::environment(
            format!(
                "`{}` not found: BuildKit builds need its client `buildctl`",
                options.buildctl
            ),
        )
        .with_hint(
            "install buildctl (it comes with BuildKit) on PATH, or set `build.dockerfile.buildctl`",
        )),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(out)) if out.status.success() => return Ok(()),
        Ok(Ok(out)) => last_lines(&String::from_utf8_lossy(&out.stderr), 3).join(" / "),
    };
    Err(Error::environment(format!(
        "BuildKit at `{}` is not reachable: {why}",
        options.shown_host()
    ))
    .with_hint("start it (`sudo buildkitd --addr unix:///run/buildkit/buildkitd.sock &`), and set `BUILDKIT_HOST` or `build.dockerfile.buildkit_host` to its address"))
}

/// Build with buildctl and import the OCI layout it exports into `layout`. `on_line` gets every
/// progress line as it arrives.
pub async fn build(
    files: ContextFiles,
    options: &DockerBuildOptions,
    kit: &BuildkitOptions,
    layout: &Layout,
    on_line: &(dyn Fn(&str) + Sync),
) -> Result<DockerBuilt> {
    let work = tempfile::Builder::new()
        .prefix("cleanpipe-buildkit-")
        .tempdir()
        .io_context("cannot create a temporary directory", &std::env::temp_dir())?;
    let context_dir = work.path().join("context");
    let out_dir = match &kit.export_dir {
        Some(dir) => {
            prepare_export_dir(dir)?;
            dir.clone()
        }
        None => work.path().join("oci"),
    };
    let epoch = options.epoch;
    let dest = context_dir.clone();
    tokio::task::spawn_blocking(move || materialize(&files, epoch, &dest))
        .await
        .map_err(|e| Error::environment("context writer failed").caused_by(e))??;

    let dockerfile = Path::new(&options.dockerfile);
    let dockerfile_dir = context_dir.join(dockerfile.parent().unwrap_or(Path::new("")));
    let filename = dockerfile
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into());
    let mut cmd = kit.command();
    cmd.args(["build", "--progress=plain", "--frontend", "dockerfile.v0"])
        .arg("--local")
        .arg(format!("context={}", context_dir.display()))
        .arg("--local")
        .arg(format!("dockerfile={}", dockerfile_dir.display()))
        .args(["--opt", &format!("filename={filename}")]);
    if let Some(target) = &options.target {
        cmd.args(["--opt", &format!("target={target}")]);
    }
    if !kit.platforms.is_empty() {
        let list: Vec<String> = kit.platforms.iter().map(|p| p.to_string()).collect();
        cmd.args(["--opt", &format!("platform={}", list.join(","))]);
    }
    let mut args = options.build_args.clone();
    args.entry("SOURCE_DATE_EPOCH".into())
        .or_insert_with(|| epoch.to_string());
    for (k, v) in &args {
        cmd.args(["--opt", &format!("build-arg:{k}={v}")]);
    }
    for (k, v) in &options.labels {
        cmd.args(["--opt", &format!("label:{k}={v}")]);
    }
    if let Some(network) = &options.network {
        cmd.args(["--opt", &format!("force-network-mode={network}")]);
    }
    if options.no_cache {
        cmd.arg("--no-cache");
    }
    for (id, source) in &kit.secrets {
        let spec = match source {
            SecretSource::File(path) => format!("id={id},src={}", path.display()),
            SecretSource::Env(var, value) => {
                cmd.env(var, value.expose());
                format!("id={id},env={var}")
            }
        };
        cmd.args(["--secret", &spec]);
    }
    for (id, path) in &kit.ssh {
        match path {
            None => cmd.args(["--ssh", id]),
            Some(p) => cmd.arg("--ssh").arg(format!("{id}={}", p.display())),
        };
    }
    for spec in &kit.cache_from {
        cmd.args(["--import-cache", spec]);
    }
    for spec in &kit.cache_to {
        cmd.args(["--export-cache", spec]);
    }
    // The provenance names every image BuildKit resolved (its materials): compared with the
    // verified bases after the build, and never imported with the image.
    cmd.args(["--opt", "attest:provenance=mode=min"]);
    cmd.arg("--output").arg(format!(
        "type=oci,dest={},tar=false,rewrite-timestamp=true",
        out_dir.display()
    ));
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());

    let mut child = cmd.spawn().map_err(|e| {
        Error::environment(format!("cannot run `{}`: {e}", kit.buildctl))
            .with_hint("install buildctl on PATH, or set `build.dockerfile.buildctl`")
    })?;
    let stderr = child.stderr.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut log = Vec::new();
    let mut steps = StepTracker::default();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| Error::environment("cannot read buildctl's output").caused_by(e))?
    {
        steps.see(&line);
        on_line(&line);
        log.push(line);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| Error::environment("buildctl did not finish").caused_by(e))?;
    if !status.success() {
        return Err(build_failed(&steps, &log, &options.dockerfile, status));
    }

    let source = Layout::open(&out_dir)?;
    let layout = layout.clone();
    let wanted = kit.platforms.clone();
    let kept = kit.export_dir.clone();
    let imported = tokio::task::spawn_blocking(move || {
        let imported = import(&source, &layout, &wanted);
        match (&kept, &imported) {
            // Its blobs are only a cache: prune what this build does not use (best effort).
            (Some(_), Ok(_)) => prune_export(&source),
            // A blob that failed its digest check would be kept by BuildKit (it skips blobs
            // that exist): start the next build from an empty directory.
            (Some(dir), Err(_)) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            (None, _) => {}
        }
        imported.map_err(|e| match &kept {
            Some(dir) => e.with_hint(format!(
                "`{}` (BuildKit's kept export) was removed; run again",
                dir.display()
            )),
            None => e,
        })
    })
    .await
    .map_err(|e| Error::environment("image import failed").caused_by(e))??;
    Ok(DockerBuilt {
        manifest: imported.0,
        layers: imported.1,
        log,
        platforms: imported.2,
        used: UsedImages::Provenance(imported.3),
    })
}

/// Write the context files into `dir` as the classic builder's tar would carry them (same
/// entries, modes and mtimes), so both builders see the same context.
fn materialize(files: &ContextFiles, epoch: u64, dir: &Path) -> Result<()> {
    let (reader, writer) = std::io::pipe().io_context("cannot create a pipe", dir)?;
    std::fs::create_dir_all(dir).io_context("cannot create", dir)?;
    std::thread::scope(|s| {
        let writing = s.spawn(|| context::write_tar(files, epoch, writer).map(drop));
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        let unpacked = archive
            .unpack(dir)
            .map_err(|e| Error::io("cannot write the build context", dir, e));
        // Close the reading end first: a writer blocked on a full pipe then fails instead of
        // waiting forever when unpacking stopped early.
        drop(archive);
        let written = writing.join().expect("context writer panicked");
        written.and(unpacked)
    })
}

/// Copy what BuildKit's OCI layout holds into `layout`: one image, or for several `wanted`
/// platforms an index over one image each. The index cleanpipe records is its own, over the
/// images in `wanted` order (deterministic, and nothing BuildKit added beside them), each
/// image's config checked to be for the platform it is listed as. Returns the image or index
/// descriptor, the image's layer count (0 for an index), the platform images, and the
/// materials of each imported image's provenance (BuildKit's attestation manifests, which are
/// read here and not imported).
fn import(
    source: &Layout,
    layout: &Layout,
    wanted: &[Platform],
) -> Result<(Descriptor, usize, Vec<PlatformImage>, Vec<Material>)> {
    let index: Index = source.index()?;
    let [desc] = index.manifests.as_slice() else {
        return Err(Error::environment(format!(
            "BuildKit exported {} manifests, expected one image or index",
            index.manifests.len()
        )));
    };
    let bytes = source.read_blob(&desc.digest)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::environment("BuildKit's export is not JSON").caused_by(e))?;
    if document_kind(&value, Some(&desc.media_type)) != Ok(DocumentKind::Index) {
        // With a provenance BuildKit always exports an index (the image and its attestation).
        return Err(no_provenance(""));
    }
    let exported = Index::from_slice(&bytes, "the index BuildKit built")?;
    // The images only: BuildKit lists each image's attestation manifest beside it.
    let images_only = Index {
        manifests: exported
            .manifests
            .iter()
            .filter(|d| !d.annotations.contains_key(resolved::REFERENCE_TYPE))
            .cloned()
            .collect(),
        ..exported.clone()
    };
    if let ([], [entry]) = (wanted, images_only.manifests.as_slice()) {
        // No platform asked for, and BuildKit made one image (for its own platform).
        let (image, layers) = import_image(source, layout, entry, None)?;
        let materials = provenance_materials(source, &exported, &entry.digest, "")?;
        return Ok((image, layers, vec![], materials));
    }
    // No platform asked for is this machine's.
    let platforms = match wanted {
        [] => vec![Platform::host()],
        given => given.to_vec(),
    };
    let mut images = Vec::new();
    let mut materials = Vec::new();
    let several = platforms.len() > 1;
    for platform in platforms {
        let entry = images_only.for_platform(&platform).map_err(|have| {
            Error::environment(format!(
                "BuildKit built no {platform} image (it made: {})",
                have.join(", ")
            ))
        })?;
        let (manifest, layers) = import_image(source, layout, entry, Some(&platform))?;
        let name = match several {
            true => platform.to_string(),
            false => String::new(),
        };
        materials.extend(provenance_materials(
            source,
            &exported,
            &entry.digest,
            &name,
        )?);
        images.push(PlatformImage {
            platform,
            manifest,
            layers,
        });
    }
    if let [one] = images.as_slice() {
        // One platform asked for: its image, not an index of one.
        return Ok((one.manifest.clone(), one.layers, vec![], materials));
    }
    let index = crate::build::write_index(layout, &images)?;
    Ok((index, 0, images, materials))
}

/// The materials of the provenance BuildKit attached to `image` in `index` (its attestation
/// manifest, `vnd.docker.reference.digest` naming the image). `name` is the image's platform in
/// messages (empty for the one image).
fn provenance_materials(
    source: &Layout,
    index: &Index,
    image: &Digest,
    name: &str,
) -> Result<Vec<Material>> {
    let attestation = index.manifests.iter().find(|d| {
        d.annotations
            .get(resolved::REFERENCE_TYPE)
            .map(String::as_str)
            == Some(resolved::ATTESTATION_MANIFEST)
            && d.annotations
                .get(resolved::REFERENCE_DIGEST)
                .map(String::as_str)
                == Some(image.as_str())
    });
    let Some(attestation) = attestation else {
        return Err(no_provenance(name));
    };
    let manifest = Manifest::from_slice(
        &source.read_blob(&attestation.digest)?,
        "BuildKit's attestation manifest",
    )?;
    let layer = manifest.layers.iter().find(|l| {
        l.annotations
            .get(resolved::PREDICATE_TYPE)
            .is_some_and(|t| t.starts_with("https://slsa.dev/provenance/"))
    });
    let Some(layer) = layer else {
        return Err(no_provenance(name));
    };
    resolved::provenance_materials(&source.read_blob(&layer.digest)?, name).map_err(|why| {
        Error::gate(
            "BuildKit's provenance cannot be read, so the images it used cannot be compared with the verified bases",
            vec![format!("{}: {why}", layer.digest)],
        )
    })
}

fn no_provenance(name: &str) -> Error {
    let image = match name {
        "" => "the image".to_string(),
        p => format!("the {p} image"),
    };
    Error::gate(
        format!("BuildKit exported {image} without the provenance it was asked for, so the images it used cannot be compared with the verified bases"),
        vec![],
    )
    .with_hint("use a buildkitd that makes provenance attestations (BuildKit v0.11 or later)")
}

/// Make the kept export directory ready for buildctl: an OCI layout of real directories and
/// files only (anything linked or of the wrong type, which could point its writes or the prune
/// elsewhere, makes it start over empty), without an `index.json` (buildctl adds its image to
/// the one there; the blobs stay).
fn prepare_export_dir(dir: &Path) -> Result<()> {
    crate::fsutil::create_dirs(dir)?;
    let kind = |p: &Path| std::fs::symlink_metadata(p).ok().map(|m| m.file_type());
    let sound = [
        ("blobs", true),
        ("blobs/sha256", true),
        ("index.json", false),
        ("oci-layout", false),
    ]
    .iter()
    .all(|(name, is_dir)| match kind(&dir.join(name)) {
        None => true,
        Some(t) if *is_dir => t.is_dir(),
        Some(t) => t.is_file(),
    });
    if !sound {
        // remove_dir_all removes links themselves, never what they point at.
        std::fs::remove_dir_all(dir).io_context("cannot reset", dir)?;
        crate::fsutil::create_dirs(dir)?;
    }
    match std::fs::remove_file(dir.join("index.json")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io("cannot reset", dir.join("index.json"), e))
        }
        _ => Ok(()),
    }
}

/// Remove from the kept export directory every blob its current `index.json` does not reach
/// (earlier builds' layers), so it holds one build's blobs at most. Best effort: what cannot be
/// read or removed stays (it is only a cache), and only regular files are removed.
fn prune_export(export: &Layout) {
    let _ = try_prune_export(export);
}

fn try_prune_export(export: &Layout) -> Result<()> {
    let mut keep: Vec<Digest> = Vec::new();
    let mut manifests: Vec<Digest> = export
        .index()?
        .manifests
        .into_iter()
        .map(|d| d.digest)
        .collect();
    while let Some(digest) = manifests.pop() {
        let bytes = export.read_blob(&digest)?;
        keep.push(digest);
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::environment("BuildKit's export is not JSON").caused_by(e))?;
        match document_kind(&value, None) {
            Ok(DocumentKind::Index) => manifests.extend(
                Index::from_slice(&bytes, "BuildKit's export")?
                    .manifests
                    .into_iter()
                    .map(|d| d.digest),
            ),
            _ => {
                let manifest = Manifest::from_slice(&bytes, "BuildKit's export")?;
                keep.push(manifest.config.digest);
                keep.extend(manifest.layers.into_iter().map(|l| l.digest));
            }
        }
    }
    let dir = export.root().join("blobs").join("sha256");
    let entries = std::fs::read_dir(&dir).io_context("cannot list", &dir)?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if regular && !keep.iter().any(|d| d.hex() == name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Copy one image (config, layers, manifest) of BuildKit's layout into `layout`, checking its
/// config is for `platform` when one is asked for.
fn import_image(
    source: &Layout,
    layout: &Layout,
    desc: &Descriptor,
    platform: Option<&Platform>,
) -> Result<(Descriptor, usize)> {
    let bytes = source.read_blob(&desc.digest)?;
    let manifest = Manifest::from_slice(&bytes, "the image BuildKit built")?;
    if let Some(platform) = platform {
        let config: ImageConfig =
            serde_json::from_slice(&source.read_blob(&manifest.config.digest)?).map_err(|e| {
                Error::environment("BuildKit's image config is malformed").caused_by(e)
            })?;
        let own = Platform::of_config(&config);
        if !platform.accepts(&own) {
            return Err(Error::environment(format!(
                "BuildKit built an image for {own} where {platform} was asked for"
            )));
        }
    }
    layout.copy_blob_from(source, &manifest.config.digest)?;
    for layer in &manifest.layers {
        layout.copy_blob_from(source, &layer.digest)?;
    }
    layout.copy_blob_from(source, &desc.digest)?;
    let media_type = manifest.media_type_or_default().to_string();
    Ok((
        Descriptor::new(&media_type, desc.digest.clone(), bytes.len() as u64),
        manifest.layers.len(),
    ))
}

/// Remembers what each vertex (`#N [stage 2/3] RUN …`) is, to name the one that fails.
#[derive(Default)]
struct StepTracker {
    names: BTreeMap<String, String>,
    failed: Option<String>,
}

impl StepTracker {
    fn see(&mut self, line: &str) {
        let Some((id, rest)) = line.split_once(' ') else {
            return;
        };
        if !id.starts_with('#') {
            return;
        }
        if rest.starts_with('[') {
            self.names.insert(id.to_string(), rest.to_string());
        } else if rest.starts_with("ERROR:") && self.failed.is_none() {
            self.failed = Some(self.names.get(id).cloned().unwrap_or_else(|| rest.into()));
        }
    }
}

fn build_failed(
    steps: &StepTracker,
    log: &[String],
    dockerfile: &str,
    status: std::process::ExitStatus,
) -> Error {
    let mut reasons = Vec::new();
    // BuildKit names the instruction's place as a line `Dockerfile:LINE` above its excerpt.
    let name = Path::new(dockerfile)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let place = log.iter().rev().map(|l| l.trim()).find(|l| {
        l.strip_prefix(name.as_str())
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '-'))
    });
    match (&steps.failed, place) {
        (Some(step), Some(place)) => reasons.push(format!("failed at {step} ({place})")),
        (Some(step), None) => reasons.push(format!("failed at {step}")),
        (None, Some(place)) => reasons.push(format!("failed at {place}")),
        (None, None) => {}
    }
    match log.iter().rev().find(|l| l.starts_with("error:")) {
        Some(e) => reasons.push(format!(
            "BuildKit: {}",
            e.trim_start_matches("error:").trim()
        )),
        None => reasons.push(format!("buildctl exited with {status}")),
    }
    reasons.extend(
        last_lines(&log.join("\n"), 5)
            .into_iter()
            .map(|l| format!("log: {l}")),
    );
    Error::gate("the BuildKit build failed", reasons)
        .with_hint("fix the Dockerfile step above; the full log is in the run's `build.log`")
}

fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_specs_take_registry_refs_and_plain_buildctl_forms_only() {
        assert_eq!(
            cache_spec("reg.example:5000/app/cache:main", true).unwrap(),
            "type=registry,ref=reg.example:5000/app/cache:main,mode=max"
        );
        assert_eq!(
            cache_spec("type=registry,ref=reg.example/app:c", false).unwrap(),
            "type=registry,ref=reg.example/app:c"
        );
        assert!(cache_spec("type=local,src=/var/cache/kit", false).is_ok());
        for bad in [
            // A "reference" smuggling more CSV fields.
            "h.io,type=local,src=/tmp/x/repo:c",
            "type=registry,ref=reg.example/app:c,type=local",
            "type=registry,ref=\"reg.example/app:c\"",
            "type=registry,ref=reg.example/app:c,src=/etc",
            "type=gha,scope=x",
            "type=registry",
            "type=registry,ref",
        ] {
            assert!(cache_spec(bad, false).is_err(), "{bad}");
        }
        assert_eq!(
            cache_repository("type=registry,ref=REG.example:443/app:c").as_deref(),
            Some("reg.example/app")
        );
        assert_eq!(
            comparable_repository("index.docker.io/app"),
            comparable_repository("app")
        );
    }

    #[test]
    fn a_kept_export_directory_with_links_starts_over_without_touching_their_targets() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        std::fs::create_dir_all(victim.join("sha256")).unwrap();
        std::fs::write(victim.join("sha256/precious"), "keep me").unwrap();
        let export = root.path().join("export");
        std::fs::create_dir_all(&export).unwrap();
        std::os::unix::fs::symlink(&victim, export.join("blobs")).unwrap();
        std::fs::write(export.join("index.json"), "{}").unwrap();
        prepare_export_dir(&export).unwrap();
        assert!(
            victim.join("sha256/precious").is_file(),
            "the link's target stays"
        );
        assert!(!export.join("blobs").exists(), "the linked `blobs` is gone");
        assert!(!export.join("index.json").exists());
        // A sound directory keeps its blobs.
        std::fs::create_dir_all(export.join("blobs/sha256")).unwrap();
        std::fs::write(export.join("blobs/sha256/abc"), "x").unwrap();
        prepare_export_dir(&export).unwrap();
        assert!(export.join("blobs/sha256/abc").is_file());
    }

    #[test]
    fn names_the_failing_step() {
        let mut t = StepTracker::default();
        for l in [
            "#5 [build 1/2] RUN echo ok",
            "#5 DONE 0.1s",
            "#6 [build 2/2] RUN exit 3",
            "#6 0.120 boom",
            "#6 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3",
        ] {
            t.see(l);
        }
        assert_eq!(t.failed.as_deref(), Some("[build 2/2] RUN exit 3"));
    }

    #[test]
    fn materializes_the_context_with_its_modes() {
        use std::os::unix::fs::PermissionsExt;
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir(src.path().join("bin")).unwrap();
        std::fs::write(src.path().join("bin/run"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            src.path().join("bin/run"),
            std::fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        std::fs::write(src.path().join("ignored.txt"), "x").unwrap();
        std::fs::write(src.path().join(".dockerignore"), "ignored.txt\n").unwrap();
        let files = context::collect(src.path(), &["Dockerfile".into()], &[], None).unwrap();
        let out = tempfile::tempdir().unwrap();
        materialize(&files, 1_700_000_000, &out.path().join("c")).unwrap();
        let c = out.path().join("c");
        let meta = std::fs::metadata(c.join("bin/run")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o750);
        assert_eq!(
            meta.modified()
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_700_000_000
        );
        assert!(c.join("Dockerfile").is_file());
        assert!(!c.join("ignored.txt").exists());
    }
}
