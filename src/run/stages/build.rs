//! Stage 3, build: the daemonless customize backend, or a Dockerfile through the classic Docker
//! builder or BuildKit, into the layout.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::build::{self, Base, CustomizeOptions, FileSpec};
use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::types::{Descriptor, Digest, Platform};
use crate::run::stages::source::SourceInfo;
use crate::run::stages::verify_base::VerifiedBase;
use crate::run::RunContext;
use crate::spec::template::{render, TemplateValues};

/// The image (or, for several platforms, the image index) the build made, not yet tagged
/// anywhere.
#[derive(Clone, Debug, Serialize)]
pub struct BuildOutput {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    /// The image's layers (for an index: 0, see `platforms`).
    pub layers: usize,
    pub base: String,
    /// The built image's vulnerability gate, when `build.scan` is set (for an index: see
    /// `platforms`).
    pub scan: Option<crate::run::stages::scan_gate::ScanSummary>,
    /// Files sent in the Docker context that the commit does not track (`include_untracked`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub untracked_context: Vec<UntrackedFile>,
    /// For a multi-platform build: each platform's image, in build order; `digest` is then
    /// the OCI image index over them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformBuilt>,
}

/// One platform's image of a multi-platform build.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformBuilt {
    /// `linux/arm64`.
    pub platform: String,
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    pub layers: usize,
    /// Its vulnerability gate, when `build.scan` is set.
    pub scan: Option<crate::run::stages::scan_gate::ScanSummary>,
}

impl PlatformBuilt {
    pub fn descriptor(&self) -> crate::oci::types::Descriptor {
        crate::oci::types::Descriptor::new(&self.media_type, self.digest.clone(), self.size)
    }

    /// `linux-arm64` for a platform image of an index (it names its report and SBOM files);
    /// `None` for the one image of a single-platform build.
    pub fn file_suffix(&self) -> Result<Option<String>> {
        match self.platform.as_str() {
            "" => Ok(None),
            p => Ok(Some(
                Platform::parse(p).map_err(Error::usage)?.file_suffix(),
            )),
        }
    }
}

impl BuildOutput {
    /// Whether the build made an image index (several platforms).
    pub fn is_index(&self) -> bool {
        !self.platforms.is_empty()
    }

    /// The built subject's descriptor (the image, or the index).
    pub fn descriptor(&self) -> crate::oci::types::Descriptor {
        crate::oci::types::Descriptor::new(&self.media_type, self.digest.clone(), self.size)
    }

    /// What is signed and must be before anything is published: the image; or the index and
    /// each platform image (cosign's `--recursive`).
    pub fn subjects(&self) -> Vec<crate::oci::types::Descriptor> {
        let mut subjects = vec![self.descriptor()];
        subjects.extend(self.platforms.iter().map(PlatformBuilt::descriptor));
        subjects
    }

    /// Each image built, as a platform image: those of an index, or the one image (with no
    /// platform name). SBOMs, scans and attestations are made per image.
    pub fn images(&self) -> Vec<PlatformBuilt> {
        if self.is_index() {
            return self.platforms.clone();
        }
        vec![PlatformBuilt {
            platform: String::new(),
            digest: self.digest.clone(),
            size: self.size,
            media_type: self.media_type.clone(),
            layers: self.layers,
            scan: self.scan.clone(),
        }]
    }

    /// The output, from what a builder made: one image, or an index over several.
    fn new(
        subject: &crate::oci::types::Descriptor,
        layers: usize,
        images: &[build::PlatformImage],
        base: String,
        untracked_context: Vec<UntrackedFile>,
    ) -> Self {
        BuildOutput {
            digest: subject.digest.clone(),
            size: subject.size,
            media_type: subject.media_type.clone(),
            layers,
            base,
            scan: None,
            untracked_context,
            platforms: images
                .iter()
                .map(|i| PlatformBuilt {
                    platform: i.platform.to_string(),
                    digest: i.manifest.digest.clone(),
                    size: i.manifest.size,
                    media_type: i.manifest.media_type.clone(),
                    layers: i.layers,
                    scan: None,
                })
                .collect(),
        }
    }
}

/// An untracked file sent to the Docker engine, named in the provenance.
#[derive(Clone, Debug, Serialize)]
pub struct UntrackedFile {
    /// Relative to the build context.
    pub path: String,
    pub digest: Digest,
}

/// The verified bases' VEX for the build's gate, with what each base holds (catalogued from
/// the pinned base: its platform images the build uses, or the image itself), so a base's
/// statements cover only the packages the built image kept unchanged.
async fn base_vex(
    ctx: &RunContext,
    bases: &[VerifiedBase],
) -> Result<Vec<crate::run::stages::scan_gate::BaseVex>> {
    use crate::run::stages::scan_gate::{BaseContents, BaseVex};
    let mut out = Vec::new();
    for base in bases {
        if base.vex_documents.is_empty() {
            if !base.vex_ignored.is_empty() {
                out.push(BaseVex {
                    reference: base.reference.clone(),
                    ignored: base.vex_ignored.clone(),
                    ..Default::default()
                });
            }
            continue;
        }
        let digests: Vec<Digest> = match base.platforms.is_empty() {
            true => vec![base.digest.clone()],
            false => base.platforms.iter().map(|p| p.digest.clone()).collect(),
        };
        let mut contents = BaseContents::default();
        for digest in digests {
            let image =
                crate::oci::reference::ImageRef::parse(&base.reference)?.with_digest(digest);
            let (layout, resolved) =
                crate::oci::store::materialize(&image, &ctx.remote, &ctx.store_dir).await?;
            let manifest =
                match crate::oci::types::Manifest::from_slice(&resolved.bytes, &base.reference) {
                    Ok(m) if !resolved.is_index() => m,
                    // A Dockerfile build on an index base: the engine picks the platform image.
                    _ => {
                        let index =
                            crate::oci::types::Index::from_slice(&resolved.bytes, &base.reference)?;
                        let store = crate::oci::store::Store::Layout(layout.clone());
                        let mut found = None;
                        for p in index.platforms() {
                            if let Some(child) = store
                                .platform_manifest(&resolved, &p, &base.reference)
                                .await?
                            {
                                found = Some(crate::oci::types::Manifest::from_slice(
                                    &child.bytes,
                                    &base.reference,
                                )?);
                                break;
                            }
                        }
                        match found {
                            Some(m) => m,
                            None => continue,
                        }
                    }
                };
            let (layout2, manifest2, progress) =
                (layout.clone(), manifest.clone(), ctx.progress.clone());
            let catalog = tokio::task::spawn_blocking(move || {
                crate::sbom::catalog_image(&layout2, &manifest2, &progress)
            })
            .await
            .map_err(|e| {
                Error::environment(format!("cataloguing {} failed: {e}", base.reference))
            })??;
            let one = BaseContents::of(&catalog, &manifest);
            contents.packages.extend(one.packages);
            contents.layers.extend(one.layers);
        }
        out.push(BaseVex {
            reference: base.reference.clone(),
            documents: base.vex_documents.clone(),
            ignored: base.vex_ignored.clone(),
            contents: Some(contents),
        });
    }
    Ok(out)
}

/// Run the build's scan gate, if configured, on the image just built: on each platform image
/// of an index, every one a gate of its own (reports `scan-results-linux-arm64.*`).
async fn scan_result(
    ctx: &RunContext,
    mut out: BuildOutput,
    bases: &[VerifiedBase],
) -> Result<BuildOutput> {
    let Some(spec) = &ctx.pipeline.file.build.scan else {
        ctx.say(
            "build",
            "no `build.scan` configured: the built image is not scanned",
        );
        return Ok(out);
    };
    let layout = Layout::open(&ctx.store_dir)?;
    let name = ctx
        .pipeline
        .file
        .name
        .clone()
        .unwrap_or_else(|| "built image".into());
    let base_vex = base_vex(ctx, bases).await?;
    // Every platform image is scanned and reported before the first failure fails the gate,
    // so the reports (and GitLab's) cover every platform, never only those before it.
    let mut scans = Vec::new();
    let mut first_failure = None;
    for image in out.images() {
        let (image_name, stem) = match image.file_suffix()? {
            None => (name.clone(), "scan-results".to_string()),
            Some(suffix) => (
                format!("{name} ({})", image.platform),
                format!("scan-results-{suffix}"),
            ),
        };
        let target = crate::run::stages::scan_gate::Target {
            layout: &layout,
            digest: &image.digest,
            image_name: &image_name,
            spec,
            key_path: &["build", "scan"],
            file_stem: &stem,
            reference: ctx.pipeline.file.push.repository.as_deref(),
            base_vex: &base_vex,
        };
        match crate::run::stages::scan_gate::run(ctx, "build", target).await {
            Ok(summary) => scans.push(Some(summary)),
            Err(e) => {
                scans.push(None);
                first_failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_failure {
        return Err(e);
    }
    match out.is_index() {
        true => out
            .platforms
            .iter_mut()
            .zip(scans)
            .for_each(|(p, s)| p.scan = s),
        false => out.scan = scans.pop().flatten(),
    }
    Ok(out)
}

pub async fn run(
    ctx: &RunContext,
    resolved: &crate::spec::Spec<'_>,
    source: &SourceInfo,
    bases: &[VerifiedBase],
    templates: &TemplateValues,
) -> Result<BuildOutput> {
    if ctx.pipeline.file.build.dockerfile.is_some() {
        let out = docker_build(ctx, resolved, source, bases, templates).await?;
        return scan_result(ctx, out, bases).await;
    }
    let spec = ctx.pipeline.file.build.customize.as_ref().ok_or_else(|| {
        ctx.pipeline.error_at(
            &["build"],
            "needs exactly one of `dockerfile` or `customize`",
        )
    })?;
    // Each platform and the base image it starts from: exactly the digests verify-base checked
    // (of an index, the platform images it chose).
    let wanted = resolved.platforms.clone();
    let per_platform: Vec<(Option<Platform>, Base)> = if spec.base.trim() == "scratch" {
        match wanted {
            Some(list) => list.into_iter().map(|p| (Some(p), Base::Scratch)).collect(),
            None => vec![(None, Base::Scratch)],
        }
    } else {
        let verified = bases
            .iter()
            .find(|b| b.reference == spec.base)
            .ok_or_else(|| Error::gate(format!("base {} was not verified", spec.base), vec![]))?;
        let image = ImageRef::parse(&spec.base)?;
        match verified.platforms.as_slice() {
            [] => vec![(
                wanted.and_then(|w| w.into_iter().next()),
                Base::Image(image.with_digest(verified.digest.clone())),
            )],
            children => children
                .iter()
                .map(|c| {
                    let platform = Platform::parse(&c.platform).map_err(Error::usage)?;
                    Ok((
                        Some(platform),
                        Base::Image(image.with_digest(c.digest.clone())),
                    ))
                })
                .collect::<Result<_>>()?,
        }
    };
    let tree = tracked_tree(ctx)?;
    let mut files = Vec::new();
    for (i, f) in spec.files.iter().enumerate() {
        let src = crate::spec::paths::customize_source(&ctx.pipeline, i, Some(&tree))?;
        files.push(FileSpec {
            src: src.rel().to_string(),
            dest: f.dest.clone(),
            mode: crate::spec::paths::customize_mode(&ctx.pipeline, i)?,
            uid: f.uid,
            gid: f.gid,
        });
    }
    let labels = traced_labels(
        render_map(&spec.labels, templates, "build.customize.labels")?,
        source,
    )?;
    let options = CustomizeOptions {
        files,
        env: render_map(&spec.env, templates, "build.customize.env")?,
        labels,
        user: spec.user.clone(),
        workdir: spec.workdir.clone(),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.cmd.clone(),
        epoch: source.date_epoch,
        root: crate::spec::paths::root(&ctx.pipeline),
        tree,
    };
    let layout = Layout::create(&ctx.store_dir)?;
    let mut images = Vec::new();
    for (platform, base) in &per_platform {
        let built =
            build::customize(&layout, base, &options, &ctx.remote, platform.as_ref()).await?;
        images.push((platform.clone(), built));
    }
    let out = match images.as_slice() {
        [(_, built)] => {
            ctx.say(
                "build",
                &format!(
                    "image {} ({} layer(s)) in {}",
                    built.manifest.digest,
                    built.layers,
                    ctx.store_dir.display()
                ),
            );
            BuildOutput::new(
                &built.manifest,
                built.layers,
                &[],
                spec.base.clone(),
                vec![],
            )
        }
        _ => {
            let images: Vec<build::PlatformImage> = images
                .into_iter()
                .map(|(platform, built)| build::PlatformImage {
                    platform: platform.expect("several images each have a platform"),
                    manifest: built.manifest,
                    layers: built.layers,
                })
                .collect();
            let index = build::write_index(&layout, &images)?;
            say_index(ctx, &index, &images);
            BuildOutput::new(&index, 0, &images, spec.base.clone(), vec![])
        }
    };
    scan_result(ctx, out, bases).await
}

/// Report a multi-platform result: the index and each platform's image.
fn say_index(ctx: &RunContext, index: &Descriptor, images: &[build::PlatformImage]) {
    for i in images {
        ctx.say(
            "build",
            &format!(
                "{} image {} ({} layer(s))",
                i.platform, i.manifest.digest, i.layers
            ),
        );
    }
    ctx.say(
        "build",
        &format!(
            "image index {} over {} platform(s) in {}",
            index.digest,
            images.len(),
            ctx.store_dir.display()
        ),
    );
}

/// What the commit tracks; a run needs a commit (the source stage has checked there is one).
fn tracked_tree(ctx: &RunContext) -> Result<crate::fsutil::RepoTree> {
    crate::spec::paths::tracked_tree(&ctx.pipeline)?.ok_or_else(|| {
        Error::usage("the Git repository has no commit yet")
            .with_hint("commit your work first: `git commit`")
    })
}

/// Render `{{…}}` templates in every value of `map`.
fn render_map(
    map: &BTreeMap<String, String>,
    templates: &TemplateValues,
    what: &str,
) -> Result<BTreeMap<String, String>> {
    map.iter()
        .map(|(k, v)| Ok((k.clone(), render(v, templates, &format!("{what}.{k}"))?)))
        .collect()
}

/// Add the OCI labels that trace the image back to its source (unless the pipeline set them).
fn traced_labels(
    mut labels: BTreeMap<String, String>,
    source: &SourceInfo,
) -> Result<BTreeMap<String, String>> {
    labels
        .entry("org.opencontainers.image.revision".into())
        .or_insert_with(|| source.commit.clone());
    if let Some(remote) = &source.remote {
        labels
            .entry("org.opencontainers.image.source".into())
            .or_insert_with(|| remote.clone());
    }
    labels
        .entry("org.opencontainers.image.created".into())
        .or_insert(build::customize::rfc3339(source.date_epoch)?);
    Ok(labels)
}

async fn docker_build(
    ctx: &RunContext,
    resolved: &crate::spec::Spec<'_>,
    source: &SourceInfo,
    bases: &[VerifiedBase],
    templates: &TemplateValues,
) -> Result<BuildOutput> {
    let spec = ctx
        .pipeline
        .file
        .build
        .dockerfile
        .as_ref()
        .expect("checked by caller");
    let (context, dockerfile) = crate::spec::paths::dockerfile(&ctx.pipeline)?;
    let context_dir = context.abs();
    let build_args = render_map(&spec.args, templates, "build.dockerfile.args")?;
    for name in build_args
        .keys()
        .filter(|n| build::context::looks_secret(n))
    {
        ctx.warn(
            "build",
            &format!("build arg `{name}` looks like a secret; build args are recorded in the image history. Give build-time secrets in `build.dockerfile.secrets` (with `builder: buildkit`), or mount them at run time"),
        );
    }
    let labels = traced_labels(
        render_map(&spec.labels, templates, "build.dockerfile.labels")?,
        source,
    )?;
    let name = ctx
        .pipeline
        .file
        .name
        .clone()
        .unwrap_or_else(|| "image".into());
    let sanitized: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let options = build::docker::DockerBuildOptions {
        context_dir,
        dockerfile,
        target: spec.target.clone(),
        build_args,
        labels,
        no_cache: spec.no_cache,
        network: spec.network.clone(),
        cache_tag: format!("cleanpipe.local/{sanitized}:build"),
        epoch: source.date_epoch,
        docker_host: ctx.env.get("DOCKER_HOST").cloned(),
        exclude_dirs: vec![
            ctx.store_dir.clone(),
            ctx.outputs_dir.clone(),
            ctx.base_dir.join(".cleanpipe"),
        ],
        source: Some(build::docker::ContextSource {
            tree: tracked_tree(ctx)?,
            context_rel: context.rel().to_string(),
            include_untracked: spec.include_untracked.clone(),
        }),
    };
    // Secrets, .dockerignore and the Dockerfile's needs are checked before a builder is contacted.
    let builder = builder(ctx, resolved, spec, &options)?;
    let files = build::docker::prepare_context(&options)?;
    ctx.say(
        "build",
        &format!(
            "context: {} file(s) and directories after .dockerignore",
            files.entries.len()
        ),
    );
    if files.untracked_skipped > 0 {
        ctx.say(
            "build",
            &format!(
                "context: {} path(s) not tracked at the commit were not sent (e.g. `{}`); list them in `build.dockerfile.include_untracked` to send them",
                files.untracked_skipped,
                files.untracked_example.as_deref().unwrap_or("")
            ),
        );
    }
    for (path, digest) in &files.untracked {
        ctx.say(
            "build",
            &format!("context: sending untracked `{path}` ({digest}), allowed by `include_untracked`; named in the provenance"),
        );
    }
    let untracked_context: Vec<UntrackedFile> = files
        .untracked
        .iter()
        .map(|(path, digest)| UntrackedFile {
            path: path.clone(),
            digest: digest.clone(),
        })
        .collect();
    let layout = Layout::create(&ctx.store_dir)?;
    let on_line = |line: &str| ctx.say("build", line);
    let result = match &builder {
        Builder::Classic => {
            let docker = build::docker::connect(options.docker_host.as_deref()).await?;
            build::docker::build(&docker, files, &options, &layout, &on_line, &ctx.progress).await
        }
        Builder::Buildkit(kit) => {
            build::buildkit::connect(kit).await?;
            build::buildkit::build(files, &options, kit, &layout, &on_line).await
        }
    };
    let log = match &result {
        Ok(b) => b.log.join("\n"),
        Err(e) => e.reasons().join("\n"),
    };
    crate::fsutil::write_atomic(
        &ctx.outputs_dir.join("build.log"),
        ctx.redactor.apply(&log).as_bytes(),
    )?;
    let built = result?;
    used_images_are_verified(ctx, &built, bases, &spec.path, &options).await?;
    if built.platforms.is_empty() {
        ctx.say(
            "build",
            &format!(
                "image {} ({} layer(s)) from the {} builder, in {}",
                built.manifest.digest,
                built.layers,
                spec.builder.as_str(),
                ctx.store_dir.display()
            ),
        );
    } else {
        say_index(ctx, &built.manifest, &built.platforms);
    }
    let base = bases
        .iter()
        .map(|b| format!("{}@{}", b.reference, b.digest))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(BuildOutput::new(
        &built.manifest,
        built.layers,
        &built.platforms,
        base,
        untracked_context,
    ))
}

/// Defence in depth behind verify-base: the images the builder says it used (BuildKit's
/// provenance materials, the classic builder's `FROM` image IDs) must be verified bases, before
/// anything is scanned, signed or published (exit 1 otherwise).
async fn used_images_are_verified(
    ctx: &RunContext,
    built: &build::docker::DockerBuilt,
    bases: &[VerifiedBase],
    dockerfile: &str,
    options: &build::docker::DockerBuildOptions,
) -> Result<()> {
    let pinned: Vec<(String, Digest)> = bases
        .iter()
        .map(|b| (b.reference.clone(), b.digest.clone()))
        .collect();
    let configs = matches!(built.used, build::resolved::UsedImages::FromSteps(_));
    let verified = build::resolved::verified_set(&pinned, &ctx.remote, configs).await?;
    // The text only names a `FROM` step's line in messages.
    let text =
        std::fs::read_to_string(options.context_dir.join(&options.dockerfile)).unwrap_or_default();
    build::resolved::check(&built.used, &verified, dockerfile, &text)?;
    let what = match &built.used {
        build::resolved::UsedImages::Provenance(m) => {
            format!("BuildKit's provenance names {} material(s)", m.len())
        }
        build::resolved::UsedImages::FromSteps(s) => {
            format!("the engine's log has {} FROM step(s)", s.steps.len())
        }
    };
    ctx.say(
        "build",
        &format!("{what}: every image the build used is a verified base"),
    );
    Ok(())
}

/// The builder that runs `build.dockerfile`, with what it needs resolved from the pipeline.
enum Builder {
    Classic,
    Buildkit(build::buildkit::BuildkitOptions),
}

/// Choose the Dockerfile's builder and check, before anything runs, what the Dockerfile asks
/// of it: secrets it mounts must be given (a `# syntax=` frontend image is verified as a base).
fn builder(
    ctx: &RunContext,
    resolved: &crate::spec::Spec<'_>,
    spec: &crate::spec::model::DockerfileSpec,
    options: &build::docker::DockerBuildOptions,
) -> Result<Builder> {
    use crate::spec::model::DockerfileBuilder;
    if spec.builder == DockerfileBuilder::Classic {
        return Ok(Builder::Classic);
    }
    let path = options.context_dir.join(&options.dockerfile);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ctx.pipeline.error_at(
            &["build", "dockerfile", "path"],
            format!("cannot read `{}`: {e}", path.display()),
        )
    })?;
    // A `# syntax=` frontend image was verified like a base (verify-base); the mounts below are
    // read with the same grammar.
    let located = |e: build::dockerfile::Problem| {
        let err = Error::usage(format!("{}:{}: {}", spec.path, e.line, e.message));
        match e.hint {
            Some(h) => err.with_hint(h),
            None => err.with_hint("fix the Dockerfile syntax"),
        }
    };
    // Ids and paths were checked by `Spec::resolve` (spec/plan.rs).
    for mount in build::dockerfile::secret_mounts(&text).map_err(located)? {
        if !spec.secrets.contains_key(&mount.id) {
            return Err(Error::usage(format!(
                "{}:{}: `RUN --mount=type=secret,id={}` uses a secret that `build.dockerfile.secrets` does not give",
                spec.path, mount.line, mount.id
            ))
            .with_hint(format!(
                "add `build.dockerfile.secrets: {{ {}: {{ file: PATH }} }}` (or `{{ env: VAR }}`)",
                mount.id
            )));
        }
    }
    for mount in build::dockerfile::ssh_mounts(&text).map_err(located)? {
        if !spec.ssh.contains_key(&mount.id) {
            return Err(Error::usage(format!(
                "{}:{}: `RUN --mount=type=ssh` uses the SSH id `{}`, which `build.dockerfile.ssh` does not give",
                spec.path, mount.line, mount.id
            ))
            .with_hint(format!(
                "add `build.dockerfile.ssh: {{ {}: agent }}` (your SSH_AUTH_SOCK) or a key file path",
                mount.id
            )));
        }
    }
    let mut ssh = BTreeMap::new();
    for (id, source) in &spec.ssh {
        let key = ["build", "dockerfile", "ssh", id.as_str()];
        let path = match source.as_str() {
            "agent" => {
                if !ctx.env.contains_key("SSH_AUTH_SOCK") {
                    return Err(ctx
                        .pipeline
                        .error_at(&key, "`agent` forwards SSH_AUTH_SOCK, which is not set")
                        .with_hint(
                            "start an agent (`eval $(ssh-agent)`, `ssh-add`), or give a key file",
                        ));
                }
                None
            }
            path => {
                let path = ctx.base_dir.join(path);
                if !path.exists() {
                    return Err(ctx.pipeline.error_at(
                        &key,
                        format!(
                            "`{}` does not exist (an agent socket or a key file)",
                            path.display()
                        ),
                    ));
                }
                Some(path)
            }
        };
        ssh.insert(id.clone(), path);
    }
    let mut secrets = BTreeMap::new();
    for (id, source) in &spec.secrets {
        let key = ["build", "dockerfile", "secrets", id.as_str()];
        let source = match (&source.file, &source.env) {
            (Some(file), _) => {
                let path = ctx.base_dir.join(file);
                let value = std::fs::read(&path).map_err(|e| {
                    ctx.pipeline
                        .error_at(&key, format!("cannot read the secret file `{file}`"))
                        .caused_by(e)
                })?;
                // Masked however it is printed: whole, or as its text without the line end.
                let value = String::from_utf8_lossy(&value);
                ctx.redactor.add(value.to_string());
                ctx.redactor.add(value.trim().to_string());
                for line in value.lines().filter(|l| !l.trim().is_empty()) {
                    ctx.redactor.add(line.trim().to_string());
                }
                build::buildkit::SecretSource::File(path)
            }
            (None, Some(var)) => {
                let value = ctx.env.get(var).ok_or_else(|| {
                    ctx.pipeline
                        .error_at(&key, format!("the environment variable `{var}` is not set"))
                        .with_hint(format!(
                            "export {var}, or give the secret as `{{ file: PATH }}`"
                        ))
                })?;
                ctx.redactor.add(value.trim().to_string());
                build::buildkit::SecretSource::Env(
                    var.clone(),
                    crate::redact::Secret::new(value.clone()),
                )
            }
            (None, None) => {
                return Err(ctx
                    .pipeline
                    .error_at(&key, "needs exactly one of `file` or `env`"))
            }
        };
        secrets.insert(id.clone(), source);
    }
    Ok(Builder::Buildkit(build::buildkit::BuildkitOptions {
        ssh,
        platforms: resolved.platforms.clone().unwrap_or_default(),
        cache_from: cache_specs(&spec.cache_from, false)?,
        cache_to: cache_specs(&spec.cache_to, true)?,
        export_dir: Some(
            ctx.store_dir
                .join("cleanpipe-cache")
                .join("buildkit-export"),
        ),
        buildctl: spec.buildctl.clone().unwrap_or_else(|| "buildctl".into()),
        host: spec
            .buildkit_host
            .clone()
            .or_else(|| ctx.env.get("BUILDKIT_HOST").cloned()),
        secrets,
    }))
}

/// `cache_from`/`cache_to` as buildctl takes them (checked at load already).
fn cache_specs(list: &[String], export: bool) -> Result<Vec<String>> {
    list.iter()
        .map(|c| build::buildkit::cache_spec(c, export).map_err(Error::usage))
        .collect()
}
