//! The Docker engine backend (bollard, classic builder): send the context, stream the log,
//! export the result with `docker save` and re-pack it into the layout.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use bollard::Docker;
use futures_util::StreamExt;

pub use crate::build::context::ContextSource;
use crate::build::context::{self, ContextEntry, ContextFiles};
use crate::build::resolved::{FromSteps, UsedImages};
use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::types::{Descriptor, ImageConfig};

/// What to build.
#[derive(Clone, Debug)]
pub struct DockerBuildOptions {
    pub context_dir: PathBuf,
    /// The Dockerfile, relative to the context.
    pub dockerfile: String,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub no_cache: bool,
    pub network: Option<String>,
    /// The tag the engine keeps for its build cache (`cleanpipe.local/<name>:build`).
    pub cache_tag: String,
    /// SOURCE_DATE_EPOCH: context mtimes and the config's timestamps.
    pub epoch: u64,
    /// `DOCKER_HOST`, if set.
    pub docker_host: Option<String>,
    /// cleanpipe's own directories (store, outputs): never sent, even if inside the context.
    pub exclude_dirs: Vec<PathBuf>,
    /// What the commit tracks; `None` sends every file of the context (library use only).
    pub source: Option<ContextSource>,
}

/// The built image, in the layout, and the build log.
#[derive(Clone, Debug)]
pub struct DockerBuilt {
    /// The image, or the index over `platforms`.
    pub manifest: Descriptor,
    pub layers: usize,
    pub log: Vec<String>,
    /// For a multi-platform build: each platform's image (`manifest` is their index).
    pub platforms: Vec<crate::build::PlatformImage>,
    /// What the builder says it used (compared with the verified bases before signing).
    pub used: UsedImages,
}

/// Connect to the engine and check it answers.
pub async fn connect(docker_host: Option<&str>) -> Result<Docker> {
    let docker = match docker_host {
        Some(host) => Docker::connect_with_host(host),
        None => Docker::connect_with_local_defaults(),
    }
    .map_err(|e| unreachable_engine(docker_host, &e.to_string()))?;
    docker
        .ping()
        .await
        .map_err(|e| unreachable_engine(docker_host, &e.to_string()))?;
    Ok(docker)
}

fn unreachable_engine(host: Option<&str>, why: &str) -> Error {
    Error::environment(format!(
        "the Docker engine at `{}` is not reachable: {why}",
        host.unwrap_or("unix:///var/run/docker.sock")
    ))
    .with_hint("start it (`sudo dockerd &` or `systemctl start docker`), set DOCKER_HOST, or use the daemonless `build.customize`")
}

/// Collect the context, refusing secrets that are not excluded by `.dockerignore`.
pub fn prepare_context(options: &DockerBuildOptions) -> Result<ContextFiles> {
    // cleanpipe's own directories (store, outputs) are never part of the context.
    let context =
        std::fs::canonicalize(&options.context_dir).unwrap_or_else(|_| options.context_dir.clone());
    let skip: Vec<String> = options
        .exclude_dirs
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .filter_map(|d| {
            d.strip_prefix(&context)
                .ok()
                .map(|r| r.to_string_lossy().into_owned())
        })
        .filter(|r| !r.is_empty())
        .collect();
    let files = context::collect(
        &options.context_dir,
        &[options.dockerfile.clone(), ".dockerignore".into()],
        &skip,
        options.source.as_ref(),
    )?;
    if !files
        .entries
        .iter()
        .any(|(p, e)| p == &options.dockerfile && matches!(e, ContextEntry::File(_)))
    {
        return Err(Error::usage(format!(
            "the Dockerfile `{}` is not in the build context `{}` (or not tracked at the commit)",
            options.dockerfile,
            options.context_dir.display()
        ))
        .with_hint(
            "set `build.dockerfile.path` relative to the context directory, and commit it",
        ));
    }
    if !files.secrets.is_empty() {
        return Err(Error::gate(
            "the build context contains secrets that would be sent to the Docker engine",
            files
                .secrets
                .iter()
                .map(|s| format!("{}: {}", s.path, s.reason))
                .collect(),
        )
        .with_hint("remove them from the context or exclude them in `.dockerignore`"));
    }
    Ok(files)
}

/// Build, export and re-pack into `layout`. `on_line` gets every log line as it arrives; the
/// context upload is reported to `progress` as it streams.
pub async fn build(
    docker: &Docker,
    files: ContextFiles,
    options: &DockerBuildOptions,
    layout: &Layout,
    on_line: &(dyn Fn(&str) + Sync),
    progress: &crate::progress::Progress,
) -> Result<DockerBuilt> {
    // The context is written by a blocking task into a pipe that feeds the request body.
    let epoch = options.epoch;
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let bridge = tokio_util::io::SyncIoBridge::new(writer);
    let tar_task =
        tokio::task::spawn_blocking(move || context::write_tar(&files, epoch, bridge).map(drop));
    let task = progress.task(
        crate::progress::Kind::BuildContext,
        options.context_dir.display().to_string(),
        None,
    );
    let (sent, done) = (task.clone(), task);
    // Counted as it streams; the task ends with the stream, not with the build.
    let body = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024)
        .inspect(move |c| {
            if let Ok(c) = c {
                sent.advance(c.len() as u64)
            }
        })
        .map(Some)
        .chain(futures_util::stream::once(async move {
            done.finish();
            None
        }))
        .filter_map(futures_util::future::ready);

    let build_args: HashMap<String, String> = options.build_args.clone().into_iter().collect();
    let labels: HashMap<String, String> = options.labels.clone().into_iter().collect();
    let mut builder = BuildImageOptionsBuilder::default()
        .dockerfile(&options.dockerfile)
        .t(&options.cache_tag)
        .rm(true)
        .forcerm(true)
        .nocache(options.no_cache)
        .buildargs(&build_args)
        .labels(&labels)
        .version(BuilderVersion::BuilderV1);
    if let Some(t) = &options.target {
        builder = builder.target(t);
    }
    if let Some(n) = &options.network {
        builder = builder.networkmode(n);
    }
    let mut stream =
        docker.build_image(builder.build(), None, Some(bollard::body_try_stream(body)));
    let mut log = Vec::new();
    let mut step = String::new();
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(step_failed(&step, &error, &log))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            }) => {
                return Err(step_failed(
                    &step,
                    &format!("HTTP {status_code}: {message}"),
                    &log,
                ))
            }
            Err(e) => {
                return Err(Error::environment(format!(
                    "the Docker build stream broke off: {e}"
                )))
            }
        };
        if let Some(text) = info.stream.as_deref() {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if line.starts_with("Step ") {
                    step = line.to_string();
                }
                on_line(line);
                log.push(line.to_string());
            }
        }
        if let Some(detail) = info.error_detail {
            return Err(step_failed(
                &step,
                detail.message.as_deref().unwrap_or("unknown error"),
                &log,
            ));
        }
    }

    tar_task
        .await
        .map_err(|e| Error::environment("context writer failed").caused_by(e))??;
    let used = UsedImages::FromSteps(from_steps(docker, &log).await?);

    // A cached build yields the same engine image: reuse its earlier re-pack instead of exporting again.
    let image_id = docker
        .inspect_image(&options.cache_tag)
        .await
        .map_err(|e| Error::environment("cannot inspect the built image").caused_by(e))?
        .id
        .unwrap_or_default();
    // The memo lives beside the layout's blobs, not in index.json: a tag there would point at an
    // image that is not signed yet.
    let memo = layout.root().join("cleanpipe-cache").join(format!(
        "docker-{}-{}.json",
        image_id
            .trim_start_matches("sha256:")
            .get(..40)
            .unwrap_or("unknown"),
        options.epoch
    ));
    let remembered: Option<Descriptor> = std::fs::read(&memo)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let Some(desc) = remembered {
        let manifest = crate::oci::types::Manifest::from_slice(
            &layout.read_blob(&desc.digest)?,
            "built image",
        )?;
        if manifest.layers.iter().all(|l| layout.has_blob(&l.digest))
            && layout.has_blob(&manifest.config.digest)
        {
            on_line(&format!(
                "engine image {image_id} unchanged; reusing its re-pack {}",
                desc.digest
            ));
            return Ok(DockerBuilt {
                platforms: vec![],
                manifest: desc,
                layers: manifest.layers.len(),
                log,
                used,
            });
        }
    }

    // Export (`docker save`) and re-pack, streaming through a blocking reader.
    let export = docker
        .export_image(&options.cache_tag)
        .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(export));
    let layout = layout.clone();
    let created = crate::build::customize::rfc3339(options.epoch)?;
    let manifest = tokio::task::spawn_blocking(move || {
        crate::oci::tarball::import_docker_save(reader, &layout, |config: &mut ImageConfig| {
            // Timestamps come from the source date, not from the build machine's clock.
            config.created = Some(created.clone());
            for h in &mut config.history {
                h.created = Some(created.clone());
            }
        })
        .map(|m| (m, layout))
    })
    .await
    .map_err(|e| Error::environment("image import failed").caused_by(e))??;
    let (manifest, layout) = manifest;
    crate::oci::layout::write_atomic(
        &memo,
        &serde_json::to_vec(&manifest).expect("descriptor serializes"),
    )?;
    let layers = crate::oci::types::Manifest::from_slice(
        &layout.read_blob(&manifest.digest)?,
        "built image",
    )?
    .layers
    .len();
    Ok(DockerBuilt {
        platforms: vec![],
        manifest,
        layers,
        log,
        used,
    })
}

/// The `FROM` steps of the build log, with the engine's full ID of each image ID they print
/// (an ID the engine cannot name unambiguously is left out, and fails the comparison).
async fn from_steps(docker: &Docker, log: &[String]) -> Result<FromSteps> {
    let steps = crate::build::resolved::from_steps(log).map_err(|why| {
        Error::gate(
            "the Docker build log cannot tell which images the build used",
            vec![why],
        )
        .with_hint("a build step printed lines that look like the engine's `Step N/M` lines; change what it prints")
    })?;
    let mut out = FromSteps {
        steps,
        ..FromSteps::default()
    };
    for short in out.short_ids() {
        if let Ok(image) = docker.inspect_image(&short).await {
            let full = image.id.as_deref().map(crate::oci::types::Digest::parse);
            if let Some(Ok(full)) = full {
                if full.hex().starts_with(&short) {
                    out.full_ids.insert(short, full);
                }
            }
        }
    }
    Ok(out)
}

fn step_failed(step: &str, error: &str, log: &[String]) -> Error {
    let mut reasons = vec![format!("Docker: {}", error.trim())];
    if !step.is_empty() {
        reasons.insert(0, format!("failed at {step}"));
    }
    let tail: Vec<String> = log
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|l| format!("log: {l}"))
        .collect();
    reasons.extend(tail);
    Error::gate("the Docker build failed", reasons)
        .with_hint("fix the Dockerfile step above; the full log is in the run's `build.log`")
}
