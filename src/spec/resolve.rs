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

#[cfg(test)]
mod tests {
    /// Checks that need no run-time value are `Spec::resolve`'s, so `validate` finds them: a
    /// BuildKit secret or SSH id that would carry another buildctl option.
    #[test]
    fn resolve_refuses_buildctl_option_smuggling_in_secret_and_ssh_ids() {
        let digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        let dockerfile = format!("FROM 127.0.0.1:5000/base:1@{digest}\nRUN true\n");
        for (extra, want) in [
            (
                "    ssh: { \"default=/etc/ssh/key\": agent }\n",
                "is not an id",
            ),
            (
                "    secrets: { token: { file: \"a,src=/etc/shadow\" } }\n",
                "cannot be passed to buildctl",
            ),
        ] {
            let pipeline = format!("version: 1\nverify_base:\n  keys: {{ team: team.pub }}\n  default_key: team\nbuild:\n  dockerfile:\n    path: Dockerfile\n    builder: buildkit\n{extra}sign:\n  key: cosign.key\n");
            let repo = crate::testing::repository(&[
                ("pipeline.yaml", &pipeline),
                ("Dockerfile", &dockerfile),
                ("team.pub", "not read\n"),
            ]);
            let loaded = crate::spec::load::parse(
                &pipeline,
                &repo.path().join("pipeline.yaml"),
                &|_| None,
                &crate::redact::Redactor::default(),
            )
            .unwrap();
            let e = super::Spec::resolve(&loaded, true).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(e.contains("pipeline.yaml:"), "located: {e}");
        }
    }
}
