//! Attack cases (issue 19): an image reaches the build that no Dockerfile reader can see. A
//! verified, signed base carries an `ONBUILD COPY --from=<unsigned image>` trigger, so the
//! builder pulls an image verify-base never gated. After the build and before anything is
//! signed, cleanpipe compares what the builder says it used (BuildKit's provenance materials,
//! the classic builder's `FROM` image IDs) with the verified set: exit 1, nothing signed, tagged
//! or published. Listing the extra image in `verify_base.images` (signed) lets the build pass.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::docker_build::signed_base;
use crate::support::*;

#[track_caller]
fn ok(cmd: &mut Command) -> String {
    let out = cmd.stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "{cmd:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The repo digest (`name@sha256:…`) of a pushed local image `tag`.
fn push(tag: &str) -> String {
    ok(Command::new("docker").args(["push", tag]));
    let pinned =
        ok(Command::new("docker").args(["inspect", "--format", "{{index .RepoDigests 0}}", tag]));
    assert!(pinned.contains("@sha256:"), "{pinned}");
    pinned
}

/// The images of these cases, made once: (a base signed by `base.pub` whose ONBUILD trigger
/// copies from `extra`, `extra` by tag (not signed), `extra` pinned, the key directory holding
/// `base.key`/`base.pub`, password `bp`).
struct Images {
    onbuild_base: String,
    /// The same with an `ONBUILD RUN --mount=type=bind,from=<extra>` trigger.
    mount_base: String,
    extra_tag: String,
    extra_pinned: String,
    keys: Repo,
}

fn images(registry: &str) -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let (base, _) = signed_base(registry);
        // The busybox base's file system, re-imported as two new images.
        let container = ok(Command::new("docker").args(["create", base.as_str(), "true"]));
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("fs.tar");
        ok(Command::new("docker")
            .args(["export", "-o"])
            .arg(&tar)
            .arg(&container));
        ok(Command::new("docker").args(["rm", &container]));
        let extra_tag = format!("{registry}/{}:1", unique("it/unsigned-extra"));
        ok(Command::new("docker")
            .args(["import", "--change", "ENV EXTRA=unsigned"])
            .arg(&tar)
            .arg(&extra_tag));
        let extra_pinned = push(&extra_tag);
        let onbuild_tag = format!("{registry}/{}:1", unique("it/onbuild-base"));
        ok(Command::new("docker")
            .args([
                "import",
                "--change",
                &format!("ONBUILD COPY --from={extra_tag} /bin/busybox /smuggled"),
            ])
            .arg(&tar)
            .arg(&onbuild_tag));
        let onbuild_base = push(&onbuild_tag);
        let mount_tag = format!("{registry}/{}:1", unique("it/onbuild-mount-base"));
        ok(Command::new("docker")
            .args([
                "import",
                "--change",
                &format!("ONBUILD RUN --mount=type=bind,from={extra_tag},target=/m test -f /m/bin/busybox"),
            ])
            .arg(&tar)
            .arg(&mount_tag));
        let mount_base = push(&mount_tag);
        let keys = Repo::new();
        keys.keygen("base", "bp");
        for base in [&onbuild_base, &mount_base] {
            keys.cleanpipe_env(
                &["sign", base, "--key", "base.key"],
                &[("COSIGN_PASSWORD", "bp")],
            )
            .expect_code(0);
        }
        Images {
            onbuild_base,
            mount_base,
            extra_tag,
            extra_pinned,
            keys,
        }
    })
}

/// A repository building `FROM <onbuild base>` with `builder`, pushing to `{registry}/{name}`;
/// `images` is more of `verify_base` (indented by two spaces).
fn repo(registry: &str, builder: &str, name: &str, more_bases: &str) -> Repo {
    repo_from(
        registry,
        &images(registry).onbuild_base,
        builder,
        name,
        more_bases,
    )
}

/// The same, `FROM base`.
fn repo_from(registry: &str, base: &str, builder: &str, name: &str, more_bases: &str) -> Repo {
    let set = images(registry);
    let repo = Repo::new();
    repo.copy_in(&set.keys.path().join("base.pub"), "base.pub");
    repo.keygen("cosign", "pw");
    repo.write(".dockerignore", "cosign.key\n");
    repo.write(".gitignore", ".cleanpipe\n");
    repo.write("Dockerfile", &format!("FROM {base}\nRUN true\n"));
    let builder = match builder {
        "buildkit" => {
            let buildctl = buildkit()
                .map(|(_, b)| b)
                .unwrap_or_else(|| "buildctl".into());
            format!("buildkit\n    buildctl: {buildctl}")
        }
        other => other.to_string(),
    };
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nname: resolved-it\nverify_base:\n  keys: {{ team: base.pub }}\n  default_key: team\n{more_bases}build:\n  dockerfile:\n    builder: {builder}\nsign:\n  key: cosign.key\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n"
        ),
    );
    repo.commit();
    repo
}

fn run(repo: &Repo) -> Run {
    let host = buildkit().map(|(h, _)| h).unwrap_or_default();
    repo.cleanpipe_env(
        &["run"],
        &[("COSIGN_PASSWORD", "pw"), ("BUILDKIT_HOST", host.as_str())],
    )
}

/// Nothing signed or tagged in the layout (signatures are tags there too), nothing pushed.
#[track_caller]
fn assert_nothing_signed_or_published(repo: &Repo, registry: &str, name: &str) {
    let index = repo.path().join(".cleanpipe/oci/index.json");
    if let Ok(text) = std::fs::read_to_string(&index) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            v["manifests"].as_array().is_none_or(|m| m.is_empty()),
            "nothing may be signed or tagged: {text}"
        );
    }
    assert_eq!(manifest_status(registry, name, "v1"), 404, "nothing pushed");
    let out = repo.path().join(".cleanpipe/out");
    for file in ["sbom.spdx.json", "sbom.cyclonedx.json"] {
        assert!(!out.join(file).exists(), "{file} written");
    }
}

#[test]
fn buildkit_resolving_an_image_no_reader_saw_is_exit_1_and_nothing_signed() {
    let Some(registry) = registry() else { return };
    if !docker() || buildkit().is_none() {
        return;
    }
    let set = images(&registry);
    // The trigger copies from the image, or mounts it in a RUN step.
    for base in [&set.onbuild_base, &set.mount_base] {
        let name = unique("it/resolved-kit");
        let repo = repo_from(&registry, base, "buildkit", &name, "");
        let r = run(&repo);
        r.expect_code(1)
            .expect_stderr("signed by key `team`")
            .expect_stderr(
                "the build used images verify-base did not verify (BuildKit's provenance)",
            )
            .expect_stderr("is not a verified base nor an image under one")
            .expect_stderr("verify_base.images");
        // The material names the unsigned image and the digest BuildKit resolved its tag to.
        let extra_name = set.extra_tag.rsplit_once(':').unwrap().0;
        let extra_digest = set.extra_pinned.split('@').nth(1).unwrap();
        assert!(r.stderr.contains(extra_name), "{}", r.stderr);
        assert!(r.stderr.contains(extra_digest), "{}", r.stderr);
        assert!(!r.stderr.contains("[sign]"), "{}", r.stderr);
        assert_nothing_signed_or_published(&repo, &registry, &name);
    }
}

#[test]
fn buildkit_passes_once_the_extra_image_is_verified_too() {
    let Some(registry) = registry() else { return };
    if !docker() || buildkit().is_none() {
        return;
    }
    let set = images(&registry);
    set.keys
        .cleanpipe_env(
            &["sign", &set.extra_pinned, "--key", "base.key"],
            &[("COSIGN_PASSWORD", "bp")],
        )
        .expect_code(0);
    let name = unique("it/resolved-kit-ok");
    let more = format!("  images:\n    - ref: {}\n", set.extra_pinned);
    let repo = repo(&registry, "buildkit", &name, &more);
    run(&repo).expect_code(0).expect_stderr(
        "BuildKit's provenance names 2 material(s): every image the build used is a verified base",
    );
    assert_eq!(manifest_status(&registry, &name, "v1"), 200);
    // BuildKit's attestation was read, not kept: no blob of the store is its manifest or
    // statement.
    let blobs = repo.path().join(".cleanpipe/oci/blobs/sha256");
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("attestation-manifest"), "{text}");
        assert!(
            !text.contains("moby/buildkit/blob/master/docs/attestations"),
            "{text}"
        );
    }
}

#[test]
fn classic_builder_whose_from_step_is_not_the_verified_image_is_exit_1() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let set = images(&registry);
    let name = unique("it/resolved-classic");
    let repo = repo(&registry, "classic", &name, "");
    let r = run(&repo);
    r.expect_code(1)
        .expect_stderr("signed by key `team`")
        .expect_stderr("the build used images verify-base did not verify (the engine's build log)")
        .expect_stderr(&format!(
            "Dockerfile:1: `FROM {}` (step 1/",
            set.onbuild_base
        ))
        .expect_stderr("the engine printed no image ID right after it")
        .expect_stderr("verified base config(s) sha256:")
        .expect_stderr("builder: buildkit");
    assert!(!r.stderr.contains("[sign]"), "{}", r.stderr);
    assert_nothing_signed_or_published(&repo, &registry, &name);
}

/// The comparison passes a real classic build whose `FROM`s are a verified base, an earlier
/// stage and `scratch` (the engine prints no ID for it).
#[test]
fn classic_builder_from_a_verified_base_a_stage_and_scratch_passes() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, base_pub) = signed_base(&registry);
    let repo = Repo::new();
    repo.copy_in(base_pub, "base.pub");
    repo.keygen("cosign", "pw");
    repo.write(".dockerignore", "cosign.key\n");
    repo.write(".gitignore", ".cleanpipe\n");
    repo.write(
        "Dockerfile",
        &format!("FROM {base} AS one\nRUN echo one > /one\n\nFROM one\nRUN cat /one\n\nFROM scratch\nCOPY --from=one /one /one\n"),
    );
    repo.write(
        "pipeline.yaml",
        "version: 1\nname: resolved-stages\nverify_base:\n  keys: { team: base.pub }\n  default_key: team\nbuild:\n  dockerfile: {}\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    run(&repo).expect_code(0).expect_stderr(
        "the engine's log has 3 FROM step(s): every image the build used is a verified base",
    );
    assert!(repo.layout_has_tag("v1"));
}

/// A step whose output imitates the engine's `Step N/M` lines makes the log unreadable: exit 1,
/// nothing signed, rather than a log an attacker wrote.
#[test]
fn classic_build_log_with_an_imitated_step_line_is_exit_1() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, base_pub) = signed_base(&registry);
    let repo = Repo::new();
    repo.copy_in(base_pub, "base.pub");
    repo.keygen("cosign", "pw");
    repo.write(".dockerignore", "cosign.key\n");
    repo.write(".gitignore", ".cleanpipe\n");
    repo.write(
        "Dockerfile",
        &format!("FROM {base}\nRUN echo 'Step 1/1 : FROM {registry}/it/anything'; echo ' ---> 0123456789ab'\n"),
    );
    repo.write(
        "pipeline.yaml",
        "version: 1\nname: resolved-forged\nverify_base:\n  keys: { team: base.pub }\n  default_key: team\nbuild:\n  dockerfile: {}\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    let r = run(&repo);
    r.expect_code(1)
        .expect_stderr("the Docker build log cannot tell which images the build used")
        .expect_stderr("a step printed a line that looks like the engine's own");
    assert!(!r.stderr.contains("[sign]"), "{}", r.stderr);
    assert!(!repo.layout_has_tag("v1"));
}
