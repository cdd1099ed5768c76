//! Multi-platform output: a vendor's linux/amd64 + linux/arm64 busybox index as the base, a
//! customize build over every platform (or those `build.platforms` names) and a BuildKit build
//! whose arm64 `RUN` steps run under QEMU user emulation. The result is an OCI index, signed
//! with each platform image (cosign's `--recursive`), attested per platform image, pushed
//! children first and tags last, verified by cleanpipe and cosign v2/v3, and run by Docker.

use std::path::{Path, PathBuf};
use std::process::Command;

use cleanpipe::oci::types::Platform;
use cleanpipe::oci::Layout;

use crate::index_bases::write_index;
use crate::peers::cosigns_verify_with;
use crate::sbom_scan::test_data;
use crate::support::*;

fn arm64() -> Platform {
    Platform::parse("linux/arm64").unwrap()
}

fn amd64() -> Platform {
    Platform::parse("linux/amd64").unwrap()
}

/// The arm64 busybox `.ci/run` prepares (it runs here under QEMU), or `None` (skip) off CI.
fn arm64_busybox() -> Option<PathBuf> {
    test_data(
        "CLEANPIPE_TEST_ARM64_BUSYBOX",
        "a static arm64 busybox from Debian's busybox-static:arm64",
    )
}

/// A vendor's base: one busybox image per platform (built by `cleanpipe run` from scratch
/// with `build.platforms: [P]`, `/etc/platform` naming it), and an index over both in the
/// vendor's layout, tagged `multi`, signed by nobody yet. Returns (vendor, layout, index
/// digest, [(platform, image digest)]).
struct Vendor {
    repo: Repo,
    layout: String,
    index: String,
    images: Vec<(Platform, String)>,
}

fn vendor(arm64_busybox: &Path) -> Vendor {
    vendor_with(arm64_busybox, None)
}

/// As [`vendor`]; `arm64_app` (a directory) goes into the arm64 image only, at `/app`.
fn vendor_with(arm64_busybox: &Path, arm64_app: Option<&Path>) -> Vendor {
    let repo = Repo::new();
    repo.keygen("vendor", "vp");
    repo.keygen("build", "pw");
    std::fs::create_dir_all(repo.path().join("rootfs/bin")).unwrap();
    for applet in ["sh", "cat", "uname", "echo", "mkdir"] {
        std::os::unix::fs::symlink("busybox", repo.path().join("rootfs/bin").join(applet)).unwrap();
    }
    let mut images = Vec::new();
    for (platform, busybox) in [
        (amd64(), Path::new("/bin/busybox")),
        (arm64(), arm64_busybox),
    ] {
        let _ = std::fs::remove_file(repo.path().join("rootfs/bin/busybox"));
        repo.copy_in(busybox, "rootfs/bin/busybox");
        repo.write(
            "rootfs/etc/platform",
            &format!("{}\n", platform.architecture),
        );
        let mut app = String::new();
        if let (Some(dir), true) = (arm64_app, platform == arm64()) {
            let ok = Command::new("cp")
                .arg("-r")
                .arg(dir)
                .arg(repo.path().join("app"))
                .status()
                .unwrap();
            assert!(ok.success());
            app = "      - { src: app, dest: /app }\n".into();
        }
        repo.write(
            "pipeline.yaml",
            &format!(
                "version: 1\nbuild:\n  platforms: [{platform}]\n  customize:\n    base: scratch\n    files:\n      - {{ src: rootfs/bin, dest: /bin }}\n      - {{ src: rootfs/etc, dest: /etc }}\n{app}sign:\n  key: build.key\npush:\n  tags: [{}]\n",
                platform.architecture
            ),
        );
        repo.commit();
        let line = repo
            .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(0)
            .last_line();
        images.push((platform, line.rsplit('@').next().unwrap().to_string()));
    }
    let layout = repo.path().join(".cleanpipe/oci").display().to_string();
    let entries: Vec<(Platform, &str)> = images
        .iter()
        .map(|(p, d)| (p.clone(), d.as_str()))
        .collect();
    let index = write_index(&layout, "multi", "vendor", &entries);
    Vendor {
        repo,
        layout,
        index,
        images,
    }
}

impl Vendor {
    fn sign(&self, image: &str, recursive: bool) {
        let mut args = vec!["sign", image, "--key", "vendor.key"];
        if recursive {
            args.push("--recursive");
        }
        self.repo
            .cleanpipe_env(&args, &[("COSIGN_PASSWORD", "vp")])
            .expect_code(0);
    }

    fn base(&self) -> String {
        format!("oci:{}@{}", self.layout, self.index)
    }

    fn image(&self, platform: &Platform) -> &str {
        &self
            .images
            .iter()
            .find(|(p, _)| p == platform)
            .expect("the vendor built it")
            .1
    }
}

/// A consumer trusting `vendor.pub`, customizing `base`; `extra` goes under `build:`.
fn consumer(vendor: &Vendor, base: &str, extra: &str, push: &str) -> Repo {
    let repo = Repo::new();
    repo.copy_in(&vendor.repo.path().join("vendor.pub"), "vendor.pub");
    repo.write("app.txt", "app\n");
    repo.write_osv_db_without_matches();
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nname: multi\nverify_base:\n  keys: {{ vendor: vendor.pub }}\n  default_key: vendor\nbuild:\n{extra}  customize:\n    base: {base}\n    files:\n      - src: app.txt\n        dest: /app.txt\n    cmd: [\"cat\", \"/etc/platform\"]\n  scan:\n    db: osv\nsign:\n  key: cosign.key\n{push}"
        ),
    );
    repo.commit();
    repo
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn digest(text: &str) -> cleanpipe::oci::types::Digest {
    serde_json::from_value(serde_json::json!(text)).unwrap()
}

#[test]
fn customize_builds_every_platform_of_an_index_base_into_a_signed_index() {
    let (Some(registry), Some(busybox)) = (registry(), arm64_busybox()) else {
        return;
    };
    if !docker() {
        return;
    }
    let vendor = vendor(&busybox);
    vendor.sign(&vendor.base(), false);
    let name = unique("it/multi");
    let app = consumer(
        &vendor,
        &vendor.base(),
        "",
        &format!("push:\n  repository: {registry}/{name}\n  tags: [v1]\n"),
    );
    let r = app.cleanpipe_env(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0)
        .expect_stderr("image index")
        .expect_stderr(&format!("linux/arm64 image {}", vendor.image(&arm64())));
    let report = read_json(&app.path().join("r.json"));
    let index = report["image"]["digest"].as_str().unwrap().to_string();
    let platforms = report["image"]["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2, "{report:#}");
    assert_eq!(platforms[0]["platform"], "linux/amd64");
    assert_eq!(platforms[1]["platform"], "linux/arm64");
    // The gate reports the index and every platform image it used.
    let base = &report["bases"][0];
    assert_eq!(base["digest"], vendor.index.as_str());
    assert_eq!(base["platforms"][1]["digest"], vendor.image(&arm64()));

    // The index in the layout: an OCI index naming each platform; each image's config agrees.
    let layout = Layout::open(app.path().join(".cleanpipe/oci")).unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&digest(&index)).unwrap()).unwrap();
    assert_eq!(doc["mediaType"], "application/vnd.oci.image.index.v1+json");
    for (i, entry) in doc["manifests"].as_array().unwrap().iter().enumerate() {
        assert_eq!(entry["digest"], platforms[i]["digest"]);
        let manifest: serde_json::Value = serde_json::from_slice(
            &layout
                .read_blob(&digest(entry["digest"].as_str().unwrap()))
                .unwrap(),
        )
        .unwrap();
        let config: serde_json::Value = serde_json::from_slice(
            &layout
                .read_blob(&digest(manifest["config"]["digest"].as_str().unwrap()))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(config["architecture"], entry["platform"]["architecture"]);
        // Scanned per platform; an SBOM per platform.
        assert!(platforms[i]["scan"]["packages"].is_number(), "{report:#}");
    }
    let out = app.path().join(".cleanpipe/out");
    for file in [
        "sbom-linux-amd64.spdx.json",
        "sbom-linux-arm64.cyclonedx.json",
        "scan-results-linux-arm64.json",
        "scan-results-linux-amd64.sarif",
    ] {
        assert!(out.join(file).is_file(), "{file} is written");
    }
    // One provenance naming every subject.
    let provenance = read_json(&out.join("provenance.intoto.json"));
    let subjects: Vec<String> = provenance["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("sha256:{}", s["digest"]["sha256"].as_str().unwrap()))
        .collect();
    assert_eq!(
        subjects,
        vec![
            index.clone(),
            platforms[0]["digest"].as_str().unwrap().to_string(),
            platforms[1]["digest"].as_str().unwrap().to_string(),
        ]
    );

    // cleanpipe verifies the pushed index and each platform image with the policy applied to
    // each; one platform's image is what `--platform` deploys.
    let image = format!("{registry}/{name}:v1");
    app.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "cosign.pub",
        "--require-provenance",
        "--require-sbom",
    ])
    .expect_code(0)
    .expect_stderr("linux/amd64, linux/arm64 verified");
    let arm = app
        .cleanpipe(&[
            "verify",
            &image,
            "--key",
            "cosign.pub",
            "--platform",
            "linux/arm64",
            "--require-sbom",
            "--output",
            "digest",
        ])
        .expect_code(0)
        .last_line();
    assert_eq!(
        arm,
        format!(
            "{registry}/{name}@{}",
            platforms[1]["digest"].as_str().unwrap()
        )
    );
    // cosign v2 and v3: the index and each platform image are signed and attested.
    let at = |d: &serde_json::Value| format!("{registry}/{name}@{}", d.as_str().unwrap());
    for subject in [
        format!("{registry}/{name}@{index}"),
        at(&platforms[0]["digest"]),
        at(&platforms[1]["digest"]),
    ] {
        cosigns_verify_with(app.path(), "cosign.pub", &subject);
    }
    // The admission controllers' own verifiers admit the index by its digest (signature and
    // provenance on the index), and refuse another key.
    let pinned = format!("{registry}/{name}@{index}");
    admission_peers_admit(app.path(), &pinned);
    // A Docker engine pulling the index runs the host platform's image, and (under QEMU)
    // the arm64 one when asked.
    let out = docker_pull_and_run(&image);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "amd64\n", "{out:?}");
    let out = Command::new("docker")
        .args(["run", "--rm", "--platform", "linux/arm64", &image])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "arm64\n", "{out:?}");
    // Exported with all of it, it verifies offline.
    let export = app.path().join("export");
    let exported = format!("oci:{}:v1", export.display());
    app.cleanpipe(&["copy", &image, &exported]).expect_code(0);
    app.cleanpipe(&[
        "verify",
        &exported,
        "--key",
        "cosign.pub",
        "--require-provenance",
        "--require-sbom",
    ])
    .expect_code(0);
}

/// policy-controller's tester and the Kyverno CLI admit `image` with the key `cosign.pub` (in
/// `dir`) and an SLSA provenance by cleanpipe's builder, and reject it with a key made here.
fn admission_peers_admit(dir: &Path, image: &str) {
    use crate::peers::{
        cluster_image_policy, kyverno, kyverno_policy, policy_tester, run_peer, text,
    };
    let builder = "https://cleanpipe.dev/builders/cli/v1";
    let ours = std::fs::read_to_string(dir.join("cosign.pub")).unwrap();
    let keys = Repo::new();
    keys.keygen("other", "pw");
    let other = std::fs::read_to_string(keys.path().join("other.pub")).unwrap();
    if let Some(tester) = policy_tester() {
        for (policy, admitted) in [(&ours, true), (&other, false)] {
            std::fs::write(dir.join("cip.yaml"), cluster_image_policy(policy, builder)).unwrap();
            let out = run_peer(&tester, dir, &["-policy", "cip.yaml", "-image", image]);
            let all = text(&out);
            assert_eq!(
                out.status.success() && all.contains("Verification was successful"),
                admitted,
                "policy-controller, admitted {admitted}: {all}"
            );
        }
    }
    if let Some(kyverno) = kyverno() {
        std::fs::write(
            dir.join("pod.yaml"),
            format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  namespace: default\nspec:\n  containers:\n  - name: app\n    image: {image}\n"),
        )
        .unwrap();
        for (policy, admitted) in [(&ours, true), (&other, false)] {
            std::fs::write(dir.join("kyverno.yaml"), kyverno_policy(policy, builder)).unwrap();
            let out = run_peer(
                &kyverno,
                dir,
                &[
                    "apply",
                    "kyverno.yaml",
                    "--resource",
                    "pod.yaml",
                    "--registry",
                ],
            );
            let all = text(&out);
            assert!(all.contains("pass: "), "kyverno did not evaluate: {all}");
            assert_eq!(
                all.contains("pass: 2, fail: 0, warn: 0, error: 0"),
                admitted,
                "kyverno, admitted {admitted}: {all}"
            );
        }
    }
}

#[test]
fn build_platforms_chooses_from_the_base_and_a_missing_one_publishes_nothing() {
    let Some(busybox) = arm64_busybox() else {
        return;
    };
    let vendor = vendor(&busybox);
    vendor.sign(&vendor.base(), false);
    // One platform named: one image (not an index of one), for that platform.
    let app = consumer(
        &vendor,
        &vendor.base(),
        "  platforms: [linux/arm64]\n",
        "push:\n  tags: [v1]\n",
    );
    app.cleanpipe_env(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let report = read_json(&app.path().join("r.json"));
    assert!(report["image"]["platforms"].is_null(), "{report:#}");
    assert_eq!(report["bases"][0]["platform"]["platform"], "linux/arm64");
    let layout = Layout::open(app.path().join(".cleanpipe/oci")).unwrap();
    let built: serde_json::Value = serde_json::from_slice(
        &layout
            .read_blob(&digest(report["image"]["digest"].as_str().unwrap()))
            .unwrap(),
    )
    .unwrap();
    let base_manifest: serde_json::Value = serde_json::from_slice(
        &Layout::open(&vendor.layout)
            .unwrap()
            .read_blob(&digest(vendor.image(&arm64())))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(built["layers"][0], base_manifest["layers"][0]);

    // A platform the base does not provide: the gate names it and what the base has.
    let missing = consumer(
        &vendor,
        &vendor.base(),
        "  platforms: [linux/amd64, linux/s390x]\n",
        "push:\n  tags: [v1]\n",
    );
    missing
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("build.customize.base")
        .expect_stderr("without a linux/s390x image (it has: linux/amd64, linux/arm64)");
    missing.assert_no_store();
    // A malformed or repeated platform is refused with its place in the file.
    for (platforms, needle) in [
        ("[linux]", "is not a platform"),
        ("[linux/arm64, linux/arm64]", "listed twice"),
        ("[linux/arm64, linux/arm64/v8]", "listed twice"),
        ("[]", "lists no platform"),
    ] {
        let bad = consumer(
            &vendor,
            &vendor.base(),
            &format!("  platforms: {platforms}\n"),
            "",
        );
        bad.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(2)
            .expect_stderr("pipeline.yaml:")
            .expect_stderr(needle);
    }
}

#[test]
fn the_scan_gate_applies_to_each_platform_image() {
    let (Some(busybox), Some(pkgs)) = (
        arm64_busybox(),
        test_data("CLEANPIPE_TEST_PACKAGES", "minimist 1.2.0 from npm"),
    ) else {
        return;
    };
    // Only the arm64 image holds minimist 1.2.0 (critical advisories).
    let app_dir = tempfile::tempdir().unwrap();
    let modules = app_dir.path().join("node_modules");
    std::fs::create_dir_all(&modules).unwrap();
    let ok = Command::new("cp")
        .arg("-r")
        .arg(pkgs.join("node_modules/minimist"))
        .arg(&modules)
        .status()
        .unwrap();
    assert!(ok.success());
    let vendor = vendor_with(&busybox, Some(app_dir.path()));
    vendor.sign(&vendor.base(), false);
    let app = consumer(&vendor, &vendor.base(), "", "push:\n  tags: [v1]\n");
    let pipeline = std::fs::read_to_string(app.path().join("pipeline.yaml")).unwrap();
    let osv = crate::sbom_scan::osv_fixtures().display().to_string();
    app.write(
        "pipeline.yaml",
        &pipeline
            .replace(
                "    db: osv\n",
                &format!("    db: {osv}\n    fail_on: critical\n"),
            )
            // The bases are scanned too, per platform image, reporting only.
            .replace(
                "  default_key: vendor\n",
                &format!("  default_key: vendor\n  scan:\n    db: {osv}\n    fail_on: none\n"),
            ),
    );
    app.commit();
    app.cleanpipe_env(
        &["run"],
        &[("COSIGN_PASSWORD", "pw"), ("GITLAB_CI", "true")],
    )
    .expect_code(1)
    .expect_stderr("multi (linux/arm64) has")
    .expect_stderr("minimist 1.2.0");
    let out = app.path().join(".cleanpipe/out");
    let amd = read_json(&out.join("scan-results-linux-amd64.json"));
    assert_eq!(amd["gate"]["passed"], true, "{amd:#}");
    let arm = read_json(&out.join("scan-results-linux-arm64.json"));
    assert_eq!(arm["gate"]["passed"], false, "{arm:#}");
    let base_arm = read_json(&out.join("base-scan-1-linux-arm64.json"));
    assert!(
        !base_arm["findings"].as_array().unwrap().is_empty(),
        "{base_arm:#}"
    );
    let base_amd = read_json(&out.join("base-scan-1-linux-amd64.json"));
    assert!(
        base_amd["findings"].as_array().unwrap().is_empty(),
        "{base_amd:#}"
    );
    let report = read_json(&out.join("report.json"));
    assert!(
        report["bases"][0]["platforms"][1]["scan"]["findings"].as_u64() > Some(0),
        "{report:#}"
    );
    // GitLab's container-scanning report holds both platform images' scans: the arm64
    // image's findings, each naming that image, with ids of their own.
    let gitlab = read_json(&out.join("gl-container-scanning-report.json"));
    assert_eq!(gitlab["scan"]["status"], "success", "{gitlab:#}");
    let arm_digest = arm["digest"].as_str().unwrap();
    let vulns = gitlab["vulnerabilities"].as_array().unwrap();
    assert!(!vulns.is_empty(), "{gitlab:#}");
    assert!(
        vulns.iter().all(|v| v["location"]["image"]
            .as_str()
            .unwrap()
            .ends_with(arm_digest)),
        "{gitlab:#}"
    );
    assert!(!app.layout_has_tag("v1"), "nothing is tagged");
}

#[test]
fn per_platform_signatures_must_cover_every_platform_built() {
    let Some(busybox) = arm64_busybox() else {
        return;
    };
    let vendor = vendor(&busybox);
    let layout = &vendor.layout;
    // The vendor signs only the amd64 image: a build of both platforms is refused, naming the
    // unsigned one; a build of amd64 alone is accepted.
    vendor.sign(&format!("oci:{layout}@{}", vendor.image(&amd64())), false);
    consumer(&vendor, &vendor.base(), "", "")
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr(&format!(
            "the linux/arm64 image {} is not signed either",
            vendor.image(&arm64())
        ));
    consumer(&vendor, &vendor.base(), "  platforms: [linux/amd64]\n", "")
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .expect_stderr("(the platform image;");
    // `sign --recursive` signs the index and each image: every way of using it passes.
    vendor.sign(&vendor.base(), true);
    consumer(&vendor, &vendor.base(), "", "")
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .expect_stderr("(the index;");
    // An image in the same layout that the signed index does not list is not covered by the
    // index's signature: pinned directly, it needs a trusted signature of its own.
    vendor.repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - { src: rootfs/etc, dest: /etc }\nsign:\n  key: build.key\npush:\n  tags: [stray]\n",
    );
    vendor.repo.commit();
    let stray = vendor
        .repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let stray = format!("oci:{layout}@{}", stray.rsplit('@').next().unwrap());
    consumer(&vendor, &stray, "", "")
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("failed verification");
}

#[test]
fn buildkit_builds_both_platforms_with_emulated_run_steps_and_cross_built_stages() {
    let (Some(registry), Some(busybox), Some((host, buildctl))) =
        (registry(), arm64_busybox(), buildkit())
    else {
        return;
    };
    if !docker() {
        return;
    }
    let vendor = vendor(&busybox);
    vendor.sign(&vendor.base(), true);
    // The vendor publishes its index (children, index, signatures, then the tag).
    let base_name = unique("it/multi-base");
    vendor
        .repo
        .cleanpipe(&[
            "copy",
            &format!("oci:{}:multi", vendor.layout),
            &format!("{registry}/{base_name}:1"),
        ])
        .expect_code(0);
    let base = format!("{registry}/{base_name}@{}", vendor.index);
    let repo = Repo::new();
    repo.copy_in(&vendor.repo.path().join("vendor.pub"), "vendor.pub");
    repo.keygen("cosign", "pw");
    repo.write(".dockerignore", "cosign.key\n");
    repo.write("app.txt", "app\n");
    // Stage 1 runs on the build platform (cross-building); stage 2's RUN runs on each target
    // platform, arm64 under QEMU.
    repo.write(
        "Dockerfile",
        &format!(
            "FROM --platform=$BUILDPLATFORM {base} AS build\nARG TARGETARCH\nRUN mkdir -p /out && echo \"built on $(uname -m) for $TARGETARCH\" > /out/how.txt\nFROM {base}\nRUN uname -m > /ran-on.txt\nCOPY --from=build /out/how.txt /how.txt\nCOPY app.txt /app.txt\nCMD [\"cat\", \"/ran-on.txt\", \"/how.txt\"]\n"
        ),
    );
    let name = unique("it/multi-kit");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nverify_base:\n  keys: {{ vendor: vendor.pub }}\n  default_key: vendor\nbuild:\n  platforms: [linux/amd64, linux/arm64]\n  dockerfile:\n    builder: buildkit\n    buildctl: {buildctl}\nsign:\n  key: cosign.key\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n"
        ),
    );
    repo.commit();
    let r = repo.cleanpipe_env(
        &["run", "--report", "r.json"],
        &[("COSIGN_PASSWORD", "pw"), ("BUILDKIT_HOST", host.as_str())],
    );
    r.expect_code(0).expect_stderr("image index");
    let report = read_json(&repo.path().join("r.json"));
    assert_eq!(report["image"]["platforms"][1]["platform"], "linux/arm64");
    let image = format!("{registry}/{name}:v1");
    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "cosign.pub",
        "--require-provenance",
        "--require-sbom",
    ])
    .expect_code(0);
    let out = docker_pull_and_run(&image);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "x86_64\nbuilt on x86_64 for amd64\n",
        "{out:?}"
    );
    let out = Command::new("docker")
        .args(["run", "--rm", "--platform", "linux/arm64", &image])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "aarch64\nbuilt on x86_64 for arm64\n",
        "{out:?}"
    );

    // A platform the base index does not have: the Dockerfile line, nothing built or pushed.
    repo.write(
        "pipeline.yaml",
        &std::fs::read_to_string(repo.path().join("pipeline.yaml"))
            .unwrap()
            .replace("[linux/amd64, linux/arm64]", "[linux/amd64, linux/riscv64]")
            .replace("tags: [v1]", "tags: [v2]"),
    );
    repo.commit();
    repo.cleanpipe_env(
        &["run"],
        &[("COSIGN_PASSWORD", "pw"), ("BUILDKIT_HOST", host.as_str())],
    )
    .expect_code(1)
    .expect_stderr("Dockerfile:4 (FROM)")
    .expect_stderr("without a linux/riscv64 image");
    assert_eq!(
        manifest_status(&registry, &name, "v2"),
        404,
        "nothing is tagged"
    );
}

#[test]
fn the_classic_builder_refuses_other_platforms_before_anything_runs() {
    let repo = Repo::new();
    repo.write("Dockerfile", "FROM scratch\nCOPY x /x\n");
    repo.write("x", "x\n");
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  platforms: [linux/arm64]\n  dockerfile: {}\nsign:\n  key: cosign.key\n",
    );
    repo.commit();
    repo.cleanpipe(&["plan"])
        .expect_code(2)
        .expect_stderr("pipeline.yaml:3")
        .expect_stderr("builds for this machine's platform")
        .expect_stderr("builder: buildkit");
}

#[test]
fn every_use_of_a_base_counts_and_a_single_image_cannot_serve_two_platforms() {
    let Some(registry) = registry() else {
        return;
    };
    if !docker() {
        return;
    }
    // busybox for this machine only, signed; used natively by stage 1 and for each target
    // platform by stage 2: the second use needs an arm64 image it does not have.
    let (single, base_pub) = crate::docker_build::signed_base(&registry);
    let repo = Repo::new();
    repo.copy_in(base_pub, "base.pub");
    repo.keygen("cosign", "pw");
    repo.write(".dockerignore", "cosign.key\n");
    repo.write(
        "Dockerfile",
        &format!("FROM --platform=$BUILDPLATFORM {single} AS build\nRUN true\nFROM {single}\nCOPY --from=build /bin/sh /sh\n"),
    );
    repo.write(
        "pipeline.yaml",
        "version: 1\nverify_base:\n  keys: { team: base.pub }\n  default_key: team\nbuild:\n  platforms: [linux/amd64, linux/arm64]\n  dockerfile:\n    builder: buildkit\n    buildkit_host: unix:///nonexistent/buildkitd.sock\nsign:\n  key: cosign.key\n",
    );
    repo.commit();
    // The gate fails before any builder is asked (this one would be unreachable: exit 3).
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr(
            "is a single image, not an index: it cannot be the base of linux/amd64 and linux/arm64",
        );
}
