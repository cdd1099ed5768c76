//! The SLSA v1 provenance predicate cleanpipe writes for an image it built (docs/formats.md §5.1):
//! the commit and pipeline that defined the build, the pinned bases it resolved, and who ran it.

use serde_json::{json, Value};

use crate::oci::types::Digest;

/// The build type cleanpipe's provenance follows: the parameters below, nothing else.
pub const BUILD_TYPE: &str = "https://cleanpipe.dev/buildtypes/pipeline/v1";
/// The builder id used unless `sign.builder_id` says otherwise.
pub const DEFAULT_BUILDER_ID: &str = "https://cleanpipe.dev/builders/cli/v1";

/// Where the build's source came from.
pub struct SourceRef<'a> {
    /// The repository URL (credentials already stripped), if the work tree has a remote.
    pub repository: Option<&'a str>,
    /// `refs/tags/v1.2.3` or `refs/heads/main`, when known.
    pub git_ref: Option<String>,
    pub commit: &'a str,
    pub dirty: bool,
    pub date_epoch: u64,
}

/// A base image the build resolved, pinned by digest.
pub struct Base<'a> {
    pub reference: &'a str,
    pub digest: &'a Digest,
    /// For an index base: each platform (`linux/amd64`) and the digest of the image used.
    pub platforms: Vec<(&'a str, &'a Digest)>,
}

/// Everything the predicate records.
pub struct Inputs<'a> {
    pub builder_id: &'a str,
    pub source: SourceRef<'a>,
    /// The pipeline file, relative to the repository root, and the digest of its bytes.
    pub pipeline_path: &'a str,
    pub pipeline_digest: &'a Digest,
    /// `dockerfile` or `customize`.
    pub build_kind: &'a str,
    /// For `dockerfile`: the builder that ran it (`classic`, `buildkit`), recorded as
    /// `internalParameters.dockerfileBuilder`.
    pub dockerfile_builder: Option<&'a str>,
    pub bases: Vec<Base<'a>>,
    pub invocation_id: String,
    pub started_on: &'a str,
    pub finished_on: &'a str,
    /// Files the run produced besides the image (SBOMs, build log), with their digests.
    pub byproducts: Vec<(String, Digest)>,
    /// Files sent to the builder that the commit does not track (allowed by the pipeline's
    /// `include_untracked`), relative to the build context, with their digests. Recorded as
    /// `externalParameters.untrackedContext` so a verifier sees the relaxation.
    pub untracked_context: Vec<(String, Digest)>,
    /// `build.platforms` as asked (`externalParameters.platforms`), when set.
    pub platforms: Vec<String>,
    /// BuildKit caches the build imported (`externalParameters.cacheFrom`): cached steps were
    /// not re-run, so a verifier sees where they came from.
    pub cache_from: Vec<String>,
}

/// The predicate, to be wrapped in a Statement of type `https://slsa.dev/provenance/v1`.
pub fn predicate(i: &Inputs<'_>) -> Value {
    let mut source = json!({ "commit": i.source.commit });
    if let Some(repo) = i.source.repository {
        source["repository"] = json!(repo);
    }
    if let Some(r) = &i.source.git_ref {
        source["ref"] = json!(r);
    }
    let mut dependencies = vec![{
        let mut d = json!({"name": "source", "digest": {"gitCommit": i.source.commit}});
        if let Some(repo) = i.source.repository {
            let at = i.source.git_ref.as_deref().unwrap_or(i.source.commit);
            d["uri"] = json!(format!("git+{repo}@{at}"));
        }
        d
    }];
    for b in &i.bases {
        dependencies.push(json!({
            "name": "base",
            "uri": b.reference,
            "digest": {"sha256": b.digest.hex()},
        }));
        for (platform, digest) in &b.platforms {
            // The index names what was verified; the platform image is what was built on.
            let name = b.reference.split('@').next().unwrap_or(b.reference);
            dependencies.push(json!({
                "name": "base-platform-image",
                "uri": format!("{name}@{digest}"),
                "digest": {"sha256": digest.hex()},
                "annotations": {"platform": platform},
            }));
        }
    }
    let mut external = json!({
        "source": source,
        "pipeline": {"path": i.pipeline_path, "digest": {"sha256": i.pipeline_digest.hex()}},
        "build": i.build_kind,
    });
    if !i.untracked_context.is_empty() {
        external["untrackedContext"] = i
            .untracked_context
            .iter()
            .map(|(path, d)| json!({"path": path, "digest": {"sha256": d.hex()}}))
            .collect();
    }
    if !i.platforms.is_empty() {
        external["platforms"] = json!(i.platforms);
    }
    if !i.cache_from.is_empty() {
        external["cacheFrom"] = json!(i.cache_from);
    }
    let mut internal = json!({
        "sourceDateEpoch": i.source.date_epoch,
        "dirtyWorkTree": i.source.dirty,
    });
    if let Some(builder) = i.dockerfile_builder {
        internal["dockerfileBuilder"] = json!(builder);
    }
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external,
            "internalParameters": internal,
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {
                "id": i.builder_id,
                "version": {"cleanpipe": env!("CARGO_PKG_VERSION")},
            },
            "metadata": {
                "invocationId": i.invocation_id,
                "startedOn": i.started_on,
                "finishedOn": i.finished_on,
            },
            "byproducts": i.byproducts.iter().map(|(name, d)| json!({
                "name": name,
                "digest": {"sha256": d.hex()},
            })).collect::<Vec<_>>(),
        },
    })
}

/// What `cleanpipe verify` reads back out of a provenance predicate.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Claims {
    pub builder_id: Option<String>,
    pub build_type: Option<String>,
    pub repository: Option<String>,
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    /// Every resolved dependency besides the source commit: the images the build used.
    pub images: Vec<Dependency>,
}

/// One resolved dependency that is not the source commit.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Dependency {
    pub uri: Option<String>,
    pub sha256: Option<String>,
}

/// Read the claims a release engineer checks from any SLSA v1 provenance predicate (ours, or
/// another builder's that names the source commit in `resolvedDependencies`).
pub fn claims(predicate: &Value) -> Claims {
    let def = &predicate["buildDefinition"];
    let s = |v: &Value| v.as_str().map(String::from);
    let source = &def["externalParameters"]["source"];
    let dep = def["resolvedDependencies"]
        .as_array()
        .and_then(|deps| deps.iter().find(|d| d["digest"]["gitCommit"].is_string()));
    let dep_repo = dep
        .and_then(|d| d["uri"].as_str())
        .map(|u| u.trim_start_matches("git+"))
        .map(|u| u.split_once('@').map(|(r, _)| r).unwrap_or(u).to_string());
    Claims {
        builder_id: s(&predicate["runDetails"]["builder"]["id"]),
        build_type: s(&def["buildType"]),
        repository: s(&source["repository"]).or(dep_repo),
        git_ref: s(&source["ref"]),
        commit: s(&source["commit"]).or_else(|| dep.and_then(|d| s(&d["digest"]["gitCommit"]))),
        // Every dependency but the one taken as the source: another dependency that carries a
        // commit is still something the build used, and the allow-list must see it.
        images: def["resolvedDependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| dep.is_none_or(|source| !std::ptr::eq(*d, source)))
            .map(|d| Dependency {
                uri: s(&d["uri"]),
                sha256: s(&d["digest"]["sha256"]),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_has_the_l1_fields_and_reads_back() {
        let pipeline = Digest::of(b"version: 1");
        let base = Digest::of(b"base");
        let p = predicate(&Inputs {
            builder_id: DEFAULT_BUILDER_ID,
            source: SourceRef {
                repository: Some("https://git.example/acme/app.git"),
                git_ref: Some("refs/heads/main".into()),
                commit: "0123456789abcdef0123456789abcdef01234567",
                dirty: false,
                date_epoch: 1_700_000_000,
            },
            pipeline_path: "pipeline.yaml",
            pipeline_digest: &pipeline,
            build_kind: "customize",
            dockerfile_builder: None,
            bases: vec![Base {
                reference: "127.0.0.1:5000/base@sha256:00",
                digest: &base,
                platforms: vec![],
            }],
            invocation_id: "7".into(),
            started_on: "2026-11-25T00:00:00Z",
            finished_on: "2026-11-25T00:00:01Z",
            byproducts: vec![("sbom.spdx.json".into(), Digest::of(b"s"))],
            untracked_context: vec![],
            platforms: vec![],
            cache_from: vec![],
        });
        assert_eq!(p["buildDefinition"]["buildType"], BUILD_TYPE);
        assert!(p["buildDefinition"]["externalParameters"].is_object());
        assert_eq!(p["runDetails"]["builder"]["id"], DEFAULT_BUILDER_ID);
        assert_eq!(
            p["buildDefinition"]["resolvedDependencies"][0]["uri"],
            "git+https://git.example/acme/app.git@refs/heads/main"
        );
        let c = claims(&p);
        assert_eq!(
            c.repository.as_deref(),
            Some("https://git.example/acme/app.git")
        );
        assert_eq!(
            c.commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        // Another builder's predicate: the commit and repository come from the dependency.
        let other = json!({"buildDefinition": {"buildType": "x", "externalParameters": {},
            "resolvedDependencies": [{"uri": "git+https://github.com/a/b@refs/tags/v1", "digest": {"gitCommit": "abc"}}]},
            "runDetails": {"builder": {"id": "https://github.com/actions"}}});
        let c = claims(&other);
        assert_eq!(c.repository.as_deref(), Some("https://github.com/a/b"));
        assert_eq!(c.commit.as_deref(), Some("abc"));
    }
}
