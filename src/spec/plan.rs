//! What a run would do, computed without side effects, and the refusal of features that are
//! asked for but not built yet (a gate that was asked for is never silently skipped).

use serde::Serialize;

use crate::error::Result;
use crate::oci::reference::{ImageRef, RegistryRef};
use crate::oci::types::Platform;
use crate::scan::gate::ScannerKind;
use crate::spec::load::LoadedPipeline;
use crate::spec::model::{DockerfileBuilder, DockerfileSpec};
use crate::spec::Spec;

/// The stages, gates and targets of a pipeline.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub name: String,
    pub store: String,
    pub outputs: String,
    pub stages: Vec<PlannedStage>,
    pub bases: Vec<PlannedBase>,
    /// `registry/repo`, or `null` when the layout is the publish target.
    pub repository: Option<String>,
    /// Tag templates, rendered at run time.
    pub tags: Vec<String>,
    /// `build.platforms`; `null`: the default (the base's platforms for customize, the host's
    /// for a Dockerfile).
    pub platforms: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedStage {
    pub name: &'static str,
    pub gate: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedBase {
    pub reference: String,
    /// Where the pipeline uses it: a key path or `Dockerfile:LINE (FROM)`.
    pub origin: crate::spec::bases::Origin,
    pub digest: Option<String>,
    pub key: Option<String>,
}

/// A secret or SSH id and its file as buildctl takes them (`--secret id=ID,src=PATH`, `--ssh
/// ID=PATH`): the id plain (letters, digits, `.`, `_`, `-`), the path without `,` or `=`, so
/// neither can carry another option.
fn check_id_and_path(p: &LoadedPipeline, key: &[&str], id: &str, path: &str) -> Result<()> {
    let plain_id = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !plain_id {
        return Err(p.error_at(
            key,
            format!("`{id}` is not an id: use letters, digits, `.`, `_` and `-`"),
        ));
    }
    if path.contains([',', '=']) {
        return Err(p.error_at(
            key,
            format!("`{path}`: a path with `,` or `=` cannot be passed to buildctl"),
        ));
    }
    Ok(())
}

/// BuildKit-only keys are refused with the classic builder rather than ignored: a secret the
/// classic builder cannot mount would otherwise end up as a build arg or a missing file.
fn check_builder(p: &LoadedPipeline, d: &DockerfileSpec) -> Result<()> {
    // Ids and paths go into buildctl's `--secret`/`--ssh` values: one that could carry another
    // option is refused whatever the Dockerfile mounts.
    for (id, path) in &d.ssh {
        check_id_and_path(p, &["build", "dockerfile", "ssh", id], id, path)?;
    }
    for (id, source) in &d.secrets {
        let path = source.file.as_deref().unwrap_or("");
        check_id_and_path(p, &["build", "dockerfile", "secrets", id], id, path)?;
    }
    for (id, secret) in &d.secrets {
        if secret.file.is_some() == secret.env.is_some() {
            return Err(p
                .error_at(
                    &["build", "dockerfile", "secrets", id],
                    "needs exactly one of `file` or `env`",
                )
                .with_hint(format!(
                    "write `{id}: {{ file: PATH }}` or `{id}: {{ env: VAR }}`"
                )));
        }
    }
    let pushed = p
        .file
        .push
        .repository
        .as_deref()
        .and_then(crate::build::buildkit::comparable_repository);
    for (key, list) in [("cache_from", &d.cache_from), ("cache_to", &d.cache_to)] {
        for (i, spec) in list.iter().enumerate() {
            let at = ["build", "dockerfile", key];
            let spec = crate::build::buildkit::cache_spec(spec, key == "cache_to").map_err(|why| {
                p.error_at(&at, format!("{key}[{i}]: {why}"))
                    .with_hint("a registry reference (`registry/repo:buildcache`) or buildctl's form (`type=registry,ref=…`)")
            })?;
            // The cache is written while building, before any gate: never where images are
            // published (it could move a release tag onto an unsigned cache manifest).
            // A local cache never goes into cleanpipe's own store or outputs either.
            if let Some(local) = spec
                .split(',')
                .find_map(|f| f.strip_prefix("dest=").or_else(|| f.strip_prefix("src=")))
            {
                use crate::spec::paths::{own_dir, DEFAULT_OUTPUTS, DEFAULT_STORE};
                let path = lexical(&p.base_dir().join(local));
                let own = [
                    own_dir(p, "store", DEFAULT_STORE)?,
                    own_dir(p, "outputs", DEFAULT_OUTPUTS)?,
                ];
                if own
                    .iter()
                    .map(|d| lexical(d))
                    .any(|d| path.starts_with(&d) || d.starts_with(&path))
                {
                    return Err(p
                        .error_at(
                            &at,
                            format!("{key}[{i}] is inside cleanpipe's store or outputs"),
                        )
                        .with_hint("give a local cache a directory of its own"));
                }
            }
            if pushed.is_some() && crate::build::buildkit::cache_repository(&spec) == pushed {
                return Err(p
                    .error_at(
                        &at,
                        format!("{key}[{i}] is in `push.repository`, where the pipeline publishes"),
                    )
                    .with_hint("give the cache a repository of its own, e.g. `…/app-buildcache`"));
            }
        }
    }
    if d.builder == DockerfileBuilder::Buildkit {
        return Ok(());
    }
    let used = [
        ("secrets", !d.secrets.is_empty()),
        ("buildkit_host", d.buildkit_host.is_some()),
        ("buildctl", d.buildctl.is_some()),
        ("ssh", !d.ssh.is_empty()),
        ("cache_from", !d.cache_from.is_empty()),
        ("cache_to", !d.cache_to.is_empty()),
    ];
    match used.iter().find(|(_, set)| *set) {
        Some((key, _)) => Err(p
            .error_at(
                &["build", "dockerfile", key],
                format!("`{key}` needs `builder: buildkit`; the classic Docker builder does not have it"),
            )
            .with_hint("add `builder: buildkit` under `build.dockerfile` (needs a buildkitd and `buildctl`)")),
        None => Ok(()),
    }
}

/// Build args BuildKit reads as its own settings (`BUILDKIT_…`, BuildKit v0.34's
/// `frontend/dockerui` and `dockerfile2llb`) that name no image: any other `BUILDKIT_*` arg could
/// make the builder pull one that verify-base never saw (`BUILDKIT_ATTEST_SBOM` names a scanner
/// image).
const BUILDKIT_ARGS_WITHOUT_IMAGES: &[&str] = &[
    "BUILDKIT_CACHE_MOUNT_NS",
    "BUILDKIT_CONTEXT_KEEP_GIT_DIR",
    "BUILDKIT_DOCKERFILE_CHECK",
    "BUILDKIT_GIT_ADVICE",
    "BUILDKIT_INLINE_CACHE",
    "BUILDKIT_MULTI_PLATFORM",
    "BUILDKIT_SANDBOX_HOSTNAME",
    "BUILDKIT_SBOM_SCAN_CONTEXT",
    "BUILDKIT_SBOM_SCAN_STAGE",
];

/// `build.dockerfile.args` named `BUILDKIT_*` (in any case): only those that name no image,
/// and `BUILDKIT_SYNTAX` (a frontend image) pinned by digest with BuildKit, which verify-base
/// then verifies like a base.
fn check_buildkit_args(p: &LoadedPipeline, d: &DockerfileSpec) -> Result<()> {
    for (name, value) in &d.args {
        if !name.to_ascii_uppercase().starts_with("BUILDKIT_")
            || BUILDKIT_ARGS_WITHOUT_IMAGES.contains(&name.as_str())
        {
            continue;
        }
        let at = ["build", "dockerfile", "args", name.as_str()];
        if name == "BUILDKIT_SYNTAX" && d.builder == DockerfileBuilder::Buildkit {
            let image = value.trim().split(' ').next().unwrap_or_default();
            if ImageRef::parse(image).is_ok_and(|r| r.digest().is_some()) {
                continue;
            }
            return Err(p
                .error_at(
                    &at,
                    format!("`BUILDKIT_SYNTAX={value}` makes BuildKit pull and run a frontend image that is not pinned by digest"),
                )
                .with_hint("pin the frontend by digest (`IMAGE@sha256:…`) and sign it like a base, or remove the arg: buildkitd's built-in frontend reads heredocs, cache and secret mounts"));
        }
        return Err(p
            .error_at(
                &at,
                format!("the build arg `{name}` is a BuildKit setting that can make the builder use an image verify-base does not check"),
            )
            .with_hint(format!(
                "remove it; BuildKit settings allowed as build args: {}{}",
                BUILDKIT_ARGS_WITHOUT_IMAGES.join(", "),
                if d.builder == DockerfileBuilder::Buildkit {
                    ", and BUILDKIT_SYNTAX pinned by digest"
                } else {
                    ""
                }
            )));
    }
    Ok(())
}

/// Check what the schema cannot (combinations, formats, URLs), with the key's location, before
/// any stage runs.
/// `unknown_severity: ignore`, `only_fixed` and `unchecked` relax a gate only in writing: each
/// needs its reason, and an allowance says what it covers and until when.
fn check_relaxations(
    p: &LoadedPipeline,
    spec: &crate::spec::model::ScanSpec,
    path: &[&str; 2],
) -> Result<()> {
    use crate::scan::gate::UnknownSeverity;
    fn key<'a>(path: &[&'a str; 2], k: &'a str) -> [&'a str; 3] {
        [path[0], path[1], k]
    }
    let written = |r: &Option<String>| r.as_deref().is_some_and(|r| !r.trim().is_empty());
    if spec.unknown_severity == Some(UnknownSeverity::Ignore)
        && !written(&spec.unknown_severity_reason)
    {
        return Err(p
            .error_at(&key(path, "unknown_severity"), "`unknown_severity: ignore` needs `unknown_severity_reason`")
            .with_hint("say why findings no source rates may pass; the reason is shown in the report and the attestation"));
    }
    if spec.only_fixed && !written(&spec.only_fixed_reason) {
        return Err(p
            .error_at(&key(path, "only_fixed"), "`only_fixed: true` needs `only_fixed_reason`")
            .with_hint("say why findings without a fix may pass; the reason is shown in the report and the attestation"));
    }
    for (i, a) in spec.unchecked.iter().enumerate() {
        let n = i.to_string();
        let at = [path[0], path[1], "unchecked", n.as_str()];
        if a.ecosystem.is_none() && a.cause.is_none() && a.purl.is_none() {
            return Err(p
                .error_at(&at, "an `unchecked` allowance names neither `ecosystem`, `cause` nor `purl`")
                .with_hint("say which packages may stay unchecked, e.g. `ecosystem: Wolfi`, `cause: no advisory source` or `purl: pkg:rpm/fedora/kernel-*`"));
        }
        if let Some(Err(e)) = a.purl.as_deref().map(glob::Pattern::new) {
            return Err(p.error_at(&at, "`purl` is not a glob pattern").caused_by(e));
        }
        if a.reason.trim().is_empty() {
            return Err(p.error_at(&at, "an `unchecked` allowance has an empty reason"));
        }
        if time::Date::parse(
            &a.expires,
            &time::macros::format_description!("[year]-[month]-[day]"),
        )
        .is_err()
        {
            return Err(p.error_at(
                &at,
                format!("expires `{}` is not a YYYY-MM-DD date", a.expires),
            ));
        }
    }
    Ok(())
}

/// Every check of the file (see [`crate::spec::Spec::resolve`], the one entry point);
/// `platforms` as [`requested_platforms`] read them.
pub(super) fn check_semantics(
    p: &LoadedPipeline,
    platforms: Option<&[Platform]>,
    needs_signer: bool,
) -> Result<()> {
    check_pipeline(p, platforms)?;
    let f = &p.file;
    // Last, so that a more specific error about what the file says comes first.
    if needs_signer && f.sign.key.is_none() && f.sign.keyless().is_none() {
        return Err(p
            .error_at(&["sign"], "the pipeline cannot sign: it sets neither `sign.key` nor `sign.keyless`")
            .with_hint("add `sign: { keyless: true }` (CI with an OIDC token) or `sign: { key: env://COSIGN_PRIVATE_KEY }`; to build and scan without signing or publishing, run `cleanpipe run --unsigned \"REASON\"`"));
    }
    Ok(())
}

fn check_pipeline(p: &LoadedPipeline, platforms: Option<&[Platform]>) -> Result<()> {
    let f = &p.file;
    match (&f.build.dockerfile, &f.build.customize) {
        (None, None) => {
            return Err(p
                .error_at(
                    &["build"],
                    "needs exactly one of `dockerfile` or `customize`",
                )
                .with_hint("add `customize: { base: scratch, files: [...] }`"))
        }
        (Some(_), Some(_)) => {
            return Err(p.error_at(
                &["build"],
                "has both `dockerfile` and `customize`; choose one",
            ))
        }
        _ => {}
    }
    if let Some(d) = &f.build.dockerfile {
        check_builder(p, d)?;
        check_buildkit_args(p, d)?;
    }
    if let (Some(d), Some(platforms)) = (&f.build.dockerfile, platforms) {
        let host = Platform::host();
        if d.builder == DockerfileBuilder::Classic && platforms.iter().any(|p| !host.accepts(p)) {
            return Err(p
                .error_at(
                    &["build", "platforms"],
                    format!("the classic Docker builder builds for this machine's platform ({host}) only"),
                )
                .with_hint("add `builder: buildkit` under `build.dockerfile` to build other platforms"));
        }
    }
    for (spec, path) in [
        (&f.verify_base.scan, ["verify_base", "scan"]),
        (&f.build.scan, ["build", "scan"]),
    ] {
        if let Some(spec) = spec {
            let external = spec.scanner.and_then(ScannerKind::external).is_some();
            if external && spec.db.is_some() {
                return Err(p
                    .error_at(
                        &path,
                        "`db` is for the builtin scanner; trivy and grype use their own databases",
                    )
                    .with_hint(
                        "remove `db`, or pass the scanner's own database options in `scanner_args`",
                    ));
            }
            if !external && (spec.scanner_path.is_some() || !spec.scanner_args.is_empty()) {
                return Err(p
                    .error_at(&path, "`scanner_path` and `scanner_args` are for `scanner: trivy` or `scanner: grype`")
                    .with_hint("set `scanner: trivy` or `scanner: grype`, or remove them"));
            }
            if !external && spec.db.is_none() {
                return Err(p.error_at(&path, "the builtin scanner needs `db`: a directory of OSV records or an osv.dev zip")
                    .with_hint("`db: managed` (the database `cleanpipe db update` keeps), or a directory or osv.dev zip in the repository, e.g. `db: osv/`"));
            }
            check_relaxations(p, spec, &path)?;
            check_db_artifact(p, spec, &path)?;
            // Every VEX document is read and checked now: a bad one stops `validate`.
            crate::spec::paths::vex_documents(p, path[0], spec)?;
            for w in &spec.waivers {
                if w.reason.trim().is_empty() {
                    return Err(p
                        .error_at(&path, format!("waiver `{}` has an empty reason", w.id))
                        .with_hint("every waiver says why the finding is acceptable"));
                }
                if time::Date::parse(
                    &w.expires,
                    &time::macros::format_description!("[year]-[month]-[day]"),
                )
                .is_err()
                {
                    return Err(p.error_at(
                        &path,
                        format!(
                            "waiver `{}`: expires `{}` is not a YYYY-MM-DD date",
                            w.id, w.expires
                        ),
                    ));
                }
            }
        }
    }
    for (i, hook) in f.push.register.iter().enumerate() {
        if let Err(e) = crate::notify::check_url(&hook.url) {
            return Err(p
                .error_at(&["push", "register"], format!("[{i}].url: {e}"))
                .with_hint("webhooks take https URLs (plain http only on 127.0.0.1/localhost)"));
        }
    }
    if let Some(repo) = &f.push.repository {
        let r = RegistryRef::parse(repo)
            .map_err(|e| p.error_at(&["push", "repository"], e.to_string()))?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(p
                .error_at(
                    &["push", "repository"],
                    format!("`{repo}` has a tag or digest; give the repository only"),
                )
                .with_hint("put tags under `push.tags`"));
        }
    }
    if let Some(c) = &f.build.customize {
        if c.base.trim() != "scratch" {
            ImageRef::parse(&c.base)
                .map_err(|e| p.error_at(&["build", "customize", "base"], e.to_string()))?;
        }
    }
    for (name, location) in &f.verify_base.keys {
        if crate::sign::keys::is_url(location) {
            crate::sign::keys::check_key_url(location).map_err(|e| {
                p.error_at(&["verify_base", "keys"], format!("`{name}`: {e}"))
                    .with_hint(
                        "serve the key over https, or commit the `.pub` file and give its path",
                    )
            })?;
        }
    }
    for (i, image) in f.verify_base.images.iter().enumerate() {
        ImageRef::parse(&image.reference)
            .map_err(|e| p.error_at(&["verify_base", "images"], format!("images[{i}]: {e}")))?;
    }
    crate::spec::paths::check(p)
}

/// `path` with `.` and `..` folded away as written (no file system access).
fn lexical(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `build.platforms`, parsed: `None` when not set (each builder's default applies). An empty
/// list, a malformed entry or one given twice is refused with its place in the file.
pub(super) fn requested_platforms(p: &LoadedPipeline) -> Result<Option<Vec<Platform>>> {
    let Some(list) = &p.file.build.platforms else {
        return Ok(None);
    };
    let at = ["build", "platforms"];
    if list.is_empty() {
        return Err(p
            .error_at(&at, "lists no platform")
            .with_hint("remove `platforms` to build for the default, or list e.g. `[linux/amd64, linux/arm64]`"));
    }
    let mut out: Vec<Platform> = Vec::new();
    for (i, text) in list.iter().enumerate() {
        let platform = Platform::parse(text.trim())
            .map_err(|why| p.error_at(&at, format!("platforms[{i}]: {why}")))?;
        if out
            .iter()
            .any(|o| o.accepts(&platform) || platform.accepts(o))
        {
            return Err(p.error_at(&at, format!("platforms[{i}]: `{text}` is listed twice")));
        }
        out.push(platform);
    }
    Ok(Some(out))
}

impl Plan {
    pub fn new(spec: &Spec<'_>, name: &str, store: &str, outputs: &str) -> Result<Plan> {
        let p = spec.pipeline;
        let f = &p.file;
        let bases = crate::spec::bases::bases(p, &p.base_dir(), None)?
            .into_iter()
            .map(|b| PlannedBase {
                digest: ImageRef::parse(&b.reference)
                    .ok()
                    .and_then(|r| r.digest().map(|d| d.to_string())),
                reference: b.reference,
                key: b.key,
                origin: b.origin,
            })
            .collect::<Vec<_>>();
        let tags = if f.push.tags.is_empty() {
            vec!["{{git.short_sha}}".to_string()]
        } else {
            f.push.tags.clone()
        };
        let stages = vec![
            PlannedStage {
                name: "source",
                gate: if f.source.allow_dirty {
                    "commit recorded; dirty tree allowed".into()
                } else {
                    "clean work tree at a commit".into()
                },
            },
            PlannedStage {
                name: "verify-base",
                gate: if bases.is_empty() {
                    "no base images (scratch)".into()
                } else {
                    format!(
                        "{} base(s) pinned by digest and signature-verified",
                        bases.len()
                    )
                },
            },
            PlannedStage {
                name: "build",
                gate: match &f.build.dockerfile {
                    Some(d) if d.builder == DockerfileBuilder::Buildkit => format!(
                        "`{}` with the buildkit builder (buildctl), its OCI export imported into the layout",
                        d.path
                    ),
                    Some(d) => format!(
                        "`{}` with the classic builder of the Docker engine, re-packed into the layout",
                        d.path
                    ),
                    None => "daemonless customize into the layout".into(),
                } + &match &spec.platforms {
                    Some(list) if list.len() > 1 => format!(
                        "; an image index over {}",
                        list.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                    Some(list) => format!("; for {}", list[0]),
                    None if f.build.customize.is_some() => "; for the base's platforms".into(),
                    None => format!("; for {}", Platform::host()),
                } + &match &f.build.scan {
                    Some(s) => format!(
                        "; scan ({}) fails on {}",
                        s.scanner.map_or("builtin", ScannerKind::name),
                        s.fail_on
                            .unwrap_or(crate::scan::gate::Threshold::High)
                            .as_str()
                    ),
                    None => "; not scanned".into(),
                },
            },
            PlannedStage {
                name: "sign",
                gate: format!(
                    "cosign signature with {}; attested: {}",
                    f.sign
                        .key
                        .as_deref()
                        .map(|k| crate::sign::KeySource::parse(k).to_string())
                        .unwrap_or_else(|| "(no key set)".into()),
                    {
                        let mut a: Vec<&str> = Vec::new();
                        if f.sign.provenance != Some(false) {
                            a.push("SLSA provenance");
                        }
                        let sboms = f.sign.sbom.as_ref().map(|v| v.len()).unwrap_or(2);
                        if sboms > 0 {
                            a.push("SBOMs");
                        }
                        if f.build.scan.is_some() {
                            a.push("scan result");
                        }
                        if a.is_empty() {
                            "nothing".to_string()
                        } else {
                            a.join(", ")
                        }
                    }
                ),
            },
            PlannedStage {
                name: "push",
                gate: match &f.push.repository {
                    Some(r) => format!("push to {r}, signatures and attestations before tags"),
                    None => "tag in the local layout only".into(),
                } + &match f.push.register.len() {
                    0 => String::new(),
                    n => format!("; then {n} webhook(s)"),
                },
            },
        ];
        Ok(Plan {
            name: name.to_string(),
            store: store.to_string(),
            outputs: outputs.to_string(),
            stages,
            bases,
            repository: f.push.repository.clone(),
            tags,
            platforms: spec
                .platforms
                .as_ref()
                .map(|list| list.iter().map(|p| p.to_string()).collect()),
        })
    }
}

/// `db: oci://registry/repo@sha256:…` (or `:tag`): a reference that parses, and `db_trust`
/// naming who may have signed it (a database artifact is never used unverified).
fn check_db_artifact(
    p: &LoadedPipeline,
    spec: &crate::spec::model::ScanSpec,
    path: &[&str],
) -> Result<()> {
    let mut db_path: Vec<&str> = path.to_vec();
    db_path.push("db");
    let mut trust_path: Vec<&str> = path.to_vec();
    trust_path.push("db_trust");
    if let Some(t) = &spec.db_trust {
        if t.keys.is_empty() && t.identities.is_empty() {
            return Err(p
                .error_at(&trust_path, "trusts no key and no identity")
                .with_hint("add `keys: { team: keys/db.pub }` or an identity"));
        }
        for (name, location) in &t.keys {
            if crate::sign::keys::is_url(location) {
                crate::sign::keys::check_key_url(location).map_err(|e| {
                    p.error_at(&trust_path, format!("keys.{name}: {e}"))
                        .with_hint("serve the key over https, or commit the `.pub` file")
                })?;
            }
        }
    }
    let mut age_path: Vec<&str> = path.to_vec();
    age_path.push("max_db_age");
    let mut exempt_path: Vec<&str> = path.to_vec();
    exempt_path.push("pinned_db_exempt_from_age");
    if let Some(age) = &spec.max_db_age {
        crate::policy::file::parse_duration(age).map_err(|why| {
            p.error_at(&age_path, why)
                .with_hint("e.g. `max_db_age: 48h` (units s, m, h, d, w)")
        })?;
    }
    if let Some(mirror) = &spec.db_mirror {
        let mut mirror_path: Vec<&str> = path.to_vec();
        mirror_path.push("db_mirror");
        if spec.db.as_deref() != Some(crate::spec::paths::MANAGED_DB) {
            return Err(p
                .error_at(
                    &mirror_path,
                    "is where `db: managed` fetches missing ecosystems from, and `db` is not `managed`",
                )
                .with_hint("set `db: managed`, or remove `db_mirror`"));
        }
        crate::scan::managed::parse_base(mirror).map_err(|e| {
            p.error_at(&mirror_path, e.to_string()).with_hint(
                "e.g. `db_mirror: https://osv-mirror.example.com` (https; plain http only to loopback)",
            )
        })?;
    }
    let pinned = spec
        .db
        .as_deref()
        .filter(|d| d.starts_with("oci://"))
        .and_then(|d| crate::db_artifact::parse_reference(d).ok())
        .is_some_and(|r| r.digest().is_some());
    if let Some(reason) = &spec.pinned_db_exempt_from_age {
        if reason.trim().is_empty() {
            return Err(p
                .error_at(
                    &exempt_path,
                    "is empty: say why the pinned database may be old",
                )
                .with_hint(
                    "e.g. `pinned_db_exempt_from_age: \"release branch, reproducible scans\"`",
                ));
        }
        if !pinned || spec.max_db_age.is_none() {
            return Err(p
                .error_at(
                    &exempt_path,
                    "exempts a database pinned by digest from `max_db_age`: it needs `db: oci://…@sha256:…` and `max_db_age`",
                )
                .with_hint("pin `db` by digest, or remove the key"));
        }
    }
    let Some(db) = spec.db.as_deref().filter(|d| d.starts_with("oci://")) else {
        return Ok(());
    };
    let reference = crate::db_artifact::parse_reference(db).map_err(|e| {
        p.error_at(&db_path, format!("`{db}`: {e}"))
            .with_hint("e.g. `db: oci://registry.example/osv-db@sha256:…` (or `:tag`)")
    })?;
    if reference.tag().is_none() && reference.digest().is_none() {
        return Err(p
            .error_at(&db_path, format!("`{db}` names no tag and no digest"))
            .with_hint("pin it: `oci://registry/repo@sha256:…`, or give a tag"));
    }
    if spec.db_trust.is_none() {
        return Err(p
            .error_at(
                &db_path,
                "a database artifact is verified before use: `db_trust` must name who may have signed it",
            )
            .with_hint("add `db_trust: { keys: { team: keys/db.pub } }` beside `db`"));
    }
    Ok(())
}
