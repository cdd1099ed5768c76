//! The base images a pipeline uses, found once from the file and its Dockerfile: each with
//! the key that must have signed it and where it is written ([`Origin`]), so messages and
//! `base update` point at the place without parsing a string back.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::build::dockerfile::{self, ImagePlatform};
use crate::error::{Error, Result};
use crate::oci::reference::ImageRef;
use crate::oci::types::Platform;
use crate::sign::keys::PublicKey;
use crate::sign::Trust;
use crate::spec::load::LoadedPipeline;
use crate::spec::template::{render, TemplateValues};

/// Where a base reference is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A key of the pipeline file (`build.customize.base`, `verify_base.images[2]`,
    /// `build.dockerfile.args.BUILDKIT_SYNTAX`).
    Key {
        path: Vec<&'static str>,
        index: Option<usize>,
    },
    /// A line of the Dockerfile (`FROM`, `COPY --from`, `RUN --mount=from=`, `# syntax=`).
    Dockerfile {
        file: String,
        line: usize,
        instruction: &'static str,
    },
}

impl Origin {
    /// The pipeline key path to point a located error at (the Dockerfile's path key for a
    /// Dockerfile line).
    pub fn key_path(&self) -> Vec<&'static str> {
        match self {
            Origin::Key { path, .. } => path.clone(),
            Origin::Dockerfile { .. } => vec!["build", "dockerfile", "path"],
        }
    }

    /// The file the reference is written in, relative to the pipeline's directory.
    pub fn file(&self, pipeline: &LoadedPipeline) -> String {
        match self {
            Origin::Dockerfile { file, .. } => file.clone(),
            Origin::Key { .. } => pipeline
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline.yaml".into()),
        }
    }

    /// The Dockerfile line, for a Dockerfile origin.
    pub fn line(&self) -> Option<usize> {
        match self {
            Origin::Dockerfile { line, .. } => Some(*line),
            Origin::Key { .. } => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Key { path, index } => {
                write!(f, "{}", path.join("."))?;
                match index {
                    Some(i) => write!(f, "[{i}]"),
                    None => Ok(()),
                }
            }
            Origin::Dockerfile {
                file,
                line,
                instruction,
            } => write!(f, "{file}:{line} ({instruction})"),
        }
    }
}

impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A base the pipeline uses, and the key name that must have signed it.
#[derive(Clone, Debug)]
pub struct BaseToVerify {
    pub reference: String,
    pub key: Option<String>,
    /// Where it is written.
    pub origin: Origin,
    /// Whether cleanpipe itself picks the platform image of an index base (customize), rather
    /// than an engine (Docker, BuildKit) by its own rules.
    pub cleanpipe_picks_platform: bool,
    /// The platform a Dockerfile uses it at (`FROM --platform=`); customize bases and
    /// `verify_base.images` are used at the platforms being built.
    pub platform: ImagePlatform,
}

impl BaseToVerify {
    /// The platforms this base is used at, given `build.platforms` (`wanted`): empty means
    /// "every platform an index base has" (customize without `build.platforms`).
    pub fn used_at(
        &self,
        wanted: Option<&[Platform]>,
    ) -> std::result::Result<Vec<Platform>, String> {
        match (&self.platform, wanted) {
            (ImagePlatform::Build, _) => Ok(vec![Platform::host()]),
            (ImagePlatform::Named(text), _) => Ok(vec![Platform::parse(text)?]),
            (ImagePlatform::Target, Some(wanted)) => Ok(wanted.to_vec()),
            (ImagePlatform::Target, None) if self.cleanpipe_picks_platform => Ok(vec![]),
            // A Dockerfile (or listed image) builds for the host by default.
            (ImagePlatform::Target, None) => Ok(vec![Platform::host()]),
        }
    }
}

/// The Dockerfile's path and its external images (with build args rendered by `templates`).
pub fn dockerfile_bases(
    pipeline: &LoadedPipeline,
    base_dir: &Path,
    templates: Option<&TemplateValues>,
) -> Result<Vec<BaseToVerify>> {
    let Some(spec) = &pipeline.file.build.dockerfile else {
        return Ok(vec![]);
    };
    let path = base_dir.join(&spec.path);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        pipeline.error_at(
            &["build", "dockerfile", "path"],
            format!("cannot read `{}`: {e}", path.display()),
        )
    })?;
    let mut args = BTreeMap::new();
    for (k, v) in &spec.args {
        let value = match templates {
            Some(t) => render(v, t, &format!("build.dockerfile.args.{k}"))?,
            None => v.clone(),
        };
        args.insert(k.clone(), value);
    }
    let grammar = match spec.builder {
        crate::spec::model::DockerfileBuilder::Buildkit => dockerfile::Grammar::Buildkit,
        crate::spec::model::DockerfileBuilder::Classic => dockerfile::Grammar::Classic,
    };
    let images = dockerfile::external_images(&text, &args, grammar).map_err(|e| {
        let at = format!("{}:{}: {}", spec.path, e.line, e.message);
        if e.refused {
            // A construct readers disagree on: the image set would be a guess.
            let hint = e.hint.unwrap_or_default();
            return Error::usage(at).with_hint(hint);
        }
        Error::gate(
            at,
            vec!["the Dockerfile could not be read for its base images".into()],
        )
        .with_hint("fix the Dockerfile syntax")
    })?;
    let default_key = pipeline.file.verify_base.default_key.clone();
    let mut out = Vec::new();
    for i in images {
        let origin = match i.line {
            0 => Origin::Key {
                path: vec!["build", "dockerfile", "args", "BUILDKIT_SYNTAX"],
                index: None,
            },
            line => Origin::Dockerfile {
                file: spec.path.clone(),
                line,
                instruction: i.instruction,
            },
        };
        if i.is_frontend() {
            check_frontend_pinned(pipeline, &spec.path, &i)?;
        }
        out.push(BaseToVerify {
            origin,
            reference: i.reference,
            key: default_key.clone(),
            cleanpipe_picks_platform: false,
            platform: i.platform,
        });
    }
    Ok(out)
}

/// A Dockerfile frontend image (`# syntax=`, `BUILDKIT_SYNTAX`) runs inside BuildKit and reads
/// the Dockerfile: it is allowed only pinned by digest, and is then verified like a base.
fn check_frontend_pinned(
    pipeline: &LoadedPipeline,
    path: &str,
    image: &dockerfile::ExternalImage,
) -> Result<()> {
    if ImageRef::parse(&image.reference).is_ok_and(|r| r.digest().is_some()) {
        return Ok(());
    }
    let hint = "pin the frontend by digest (`IMAGE@sha256:…`) and sign it like a base, or remove it: buildkitd's built-in frontend (`dockerfile.v0`) reads heredocs, cache and secret mounts";
    Err(match image.line {
        0 => pipeline
            .error_at(
                &["build", "dockerfile", "args", "BUILDKIT_SYNTAX"],
                format!(
                    "`BUILDKIT_SYNTAX={}` makes BuildKit pull and run a frontend image that is not pinned by digest",
                    image.reference
                ),
            )
            .with_hint(hint),
        line => Error::usage(format!(
            "{path}:{line}: `# syntax={}` makes BuildKit pull and run a frontend image that is not pinned by digest",
            image.reference
        ))
        .with_hint(format!("{hint}; or remove the `# syntax=` line")),
    })
}

/// The bases this pipeline uses: `build.customize.base` (unless `scratch`), every external
/// image of the Dockerfile, and `verify_base.images`.
pub fn bases(
    pipeline: &LoadedPipeline,
    base_dir: &Path,
    templates: Option<&TemplateValues>,
) -> Result<Vec<BaseToVerify>> {
    let spec = &pipeline.file.verify_base;
    let mut out = dockerfile_bases(pipeline, base_dir, templates)?;
    if let Some(c) = &pipeline.file.build.customize {
        if c.base.trim() != "scratch" {
            out.push(BaseToVerify {
                reference: c.base.clone(),
                key: spec.default_key.clone(),
                origin: Origin::Key {
                    path: vec!["build", "customize", "base"],
                    index: None,
                },
                cleanpipe_picks_platform: true,
                platform: ImagePlatform::Target,
            });
        }
    }
    for (i, image) in spec.images.iter().enumerate() {
        // A per-image entry for a base found in the build overrides its key.
        let mut matched = false;
        for existing in out.iter_mut().filter(|b| b.reference == image.reference) {
            matched = true;
            if image.key.is_some() {
                existing.key = image.key.clone();
            }
        }
        if matched {
            continue;
        }
        out.push(BaseToVerify {
            reference: image.reference.clone(),
            key: image.key.clone().or_else(|| spec.default_key.clone()),
            origin: Origin::Key {
                path: vec!["verify_base", "images"],
                index: Some(i),
            },
            cleanpipe_picks_platform: false,
            platform: ImagePlatform::Target,
        });
    }
    Ok(out)
}

/// The trust `verify_base.keys.NAME` or `verify_base.identities.NAME` defines (relative paths
/// from `base_dir`). `run` and `base outdated/update` both take their trust from here.
pub async fn trust_named(pipeline: &LoadedPipeline, base_dir: &Path, name: &str) -> Result<Trust> {
    let spec = &pipeline.file.verify_base;
    let at = |what: &str| pipeline.error_at(&["verify_base", "identities", name], what.to_string());
    match (spec.keys.get(name), spec.identities.get(name)) {
        (Some(_), Some(_)) => Err(at(&format!(
            "`{name}` is both a key and an identity; give them different names"
        ))),
        (Some(location), None) => Ok(PublicKey::fetch(location, base_dir).await?.into()),
        (None, Some(id)) => {
            use crate::sign::identity::{identity_from, KeylessTrust};
            let identity = identity_from(
                id.identity.as_deref(),
                id.identity_regexp.as_deref(),
                id.issuer.as_deref(),
                id.issuer_regexp.as_deref(),
                &id.github,
            )
            .map_err(|why| at(&why))?;
            let root = id.trusted_root.as_ref().map(|p| base_dir.join(p));
            let keyless = KeylessTrust::new(
                root.as_deref(),
                vec![identity],
                id.insecure_ignore_sct,
            )?;
            Trust::with_keyless(vec![], Some(keyless))
        }
        (None, None) => Err(pipeline.error_at(
            &["verify_base"],
            format!("signer `{name}` is used but not defined under `verify_base.keys` or `verify_base.identities`"),
        )),
    }
}

/// The trust `<scan>.db_trust` defines (`at`: the scan block's key path, e.g. `build.scan`):
/// every key and identity it names, any one of which may have signed the database artifact.
pub async fn db_trust(
    pipeline: &LoadedPipeline,
    base_dir: &Path,
    at: &[&str],
    spec: &crate::spec::model::DbTrustSpec,
) -> Result<Trust> {
    use crate::sign::identity::{identity_from, KeylessTrust};
    let mut path: Vec<&str> = at.to_vec();
    path.push("db_trust");
    let mut keys = Vec::new();
    for location in spec.keys.values() {
        keys.push(PublicKey::fetch(location, base_dir).await?);
    }
    let mut identities = Vec::new();
    let mut root: Option<&String> = None;
    let mut ignore_sct = false;
    for (name, id) in &spec.identities {
        let identity = identity_from(
            id.identity.as_deref(),
            id.identity_regexp.as_deref(),
            id.issuer.as_deref(),
            id.issuer_regexp.as_deref(),
            &id.github,
        )
        .map_err(|why| pipeline.error_at(&path, format!("identities.{name}: {why}")))?;
        if identities.is_empty() {
            root = id.trusted_root.as_ref();
        } else if root != id.trusted_root.as_ref() {
            return Err(pipeline
                .error_at(&path, "the identities name different `trusted_root`s")
                .with_hint("trust identities of one Sigstore instance"));
        }
        ignore_sct |= id.insecure_ignore_sct;
        identities.push(identity);
    }
    if keys.is_empty() && identities.is_empty() {
        return Err(pipeline
            .error_at(&path, "trusts no key and no identity")
            .with_hint("add `keys: { team: keys/db.pub }` or an identity"));
    }
    let keyless = match identities.is_empty() {
        true => None,
        false => Some(KeylessTrust::new(
            root.map(|p| base_dir.join(p)).as_deref(),
            identities,
            ignore_sct,
        )?),
    };
    Trust::with_keyless(keys, keyless)
}
