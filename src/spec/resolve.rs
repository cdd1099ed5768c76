//! Resolving a loaded pipeline file once: every check `validate`, `plan`, `base outdated` and
//! `run` share, and what they read after it (the requested platforms). Nothing after a
//! successful [`Spec::resolve`] checks the file again.

use crate::error::Result;
use crate::oci::types::Platform;
use crate::spec::load::LoadedPipeline;

/// A pipeline file that passed every check, with what those checks worked out.
#[derive(Clone, Debug)]
pub struct Spec<'p> {
    pub pipeline: &'p LoadedPipeline,
    /// `build.platforms`, parsed; `None`: the default (the base's platforms for customize, the
    /// host's for a Dockerfile).
    pub platforms: Option<Vec<Platform>>,
}

impl<'p> Spec<'p> {
    /// Check `pipeline` the same way for every command. `needs_signer: false` for
    /// `run --unsigned`, which signs nothing.
    pub fn resolve(pipeline: &'p LoadedPipeline, needs_signer: bool) -> Result<Self> {
        let platforms = crate::spec::plan::requested_platforms(pipeline)?;
        crate::spec::plan::check_semantics(pipeline, platforms.as_deref(), needs_signer)?;
        Ok(Spec {
            pipeline,
            platforms,
        })
    }
}
