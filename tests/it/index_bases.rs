//! Bases published as multi-platform image indexes: a customize base pinned by the index
//! digest is verified by the index's signature (or, where the vendor signs each platform image,
//! by that one), built on the image the index holds for this platform, and recorded with both
//! digests; an index without this platform is refused.

use cleanpipe::oci::types::{Descriptor, Platform, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST};
use cleanpipe::oci::Layout;

use crate::support::*;

/// A vendor with two single-platform images signed only by `rogue` (a key nobody trusts);
/// returns (vendor, layout dir, host image digest, other image digest).
fn vendor() -> (Repo, String, String, String) {
    let vendor = Repo::new();
    vendor.keygen("cosign", "pw");
    vendor.keygen("rogue", "pw");
    let mut digests = Vec::new();
    for (content, tag) in [("host\n", "host"), ("other\n", "other")] {
        vendor.write("hello.txt", content);
        vendor.write(
            "pipeline.yaml",
            &scratch_pipeline("rogue.key", None, &[tag]),
        );
        vendor.commit();
        let line = vendor
            .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(0)
            .last_line();
        digests.push(line.rsplit('@').next().unwrap().to_string());
    }
    let dir = vendor.path().join(".cleanpipe/oci").display().to_string();
    let other = digests.pop().unwrap();
    let host = digests.pop().unwrap();
    (vendor, dir, host, other)
}

/// Write an index over `entries` (platform, manifest digest) into the layout at `dir`, tagged
/// `tag`; `marker` makes otherwise equal indexes differ. Returns its digest.
pub(crate) fn write_index(
    dir: &str,
    tag: &str,
    marker: &str,
    entries: &[(Platform, &str)],
) -> String {
    let layout = Layout::open(dir).unwrap();
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(p, digest)| {
            let d: cleanpipe::oci::types::Digest =
                serde_json::from_value(serde_json::json!(digest)).unwrap();
            let size = layout.read_blob(&d).unwrap().len();
            serde_json::json!({
                "mediaType": MEDIA_OCI_MANIFEST,
                "digest": digest,
                "size": size,
                "platform": {"os": p.os, "architecture": p.architecture},
            })
        })
        .collect();
    let bytes = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_INDEX,
        "manifests": manifests,
        "annotations": {"test.marker": marker},
    }))
    .unwrap();
    let digest = layout.write_blob(&bytes).unwrap();
    layout
        .set_tag(
            tag,
            &Descriptor::new(MEDIA_OCI_INDEX, digest.clone(), bytes.len() as u64),
        )
        .unwrap();
    digest.to_string()
}

fn other_platform() -> Platform {
    let host = Platform::host();
    Platform {
        os: "linux".into(),
        architecture: if host.architecture == "s390x" {
            "riscv64".into()
        } else {
            "s390x".into()
        },
        variant: None,
    }
}

/// A consumer trusting the vendor's `cosign.pub`, customizing `base` for this machine's
/// platform (`build.platforms`; without it every platform of the index is built, see
/// multi_platform.rs).
fn consumer(vendor: &Repo, base: &str) -> Repo {
    let repo = Repo::new();
    repo.copy_in(&vendor.path().join("cosign.pub"), "vendor.pub");
    repo.write("app.txt", "app\n");
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nverify_base:\n  keys: {{ vendor: vendor.pub }}\n  default_key: vendor\nbuild:\n  platforms: [{}]\n  customize:\n    base: {base}\n    files:\n      - src: app.txt\n        dest: /app.txt\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n",
            Platform::host()
        ),
    );
    repo.commit();
    repo
}

fn sign(vendor: &Repo, image: &str) {
    vendor
        .cleanpipe_env(
            &["sign", image, "--key", "cosign.key"],
            &[("COSIGN_PASSWORD", "pw")],
        )
        .expect_code(0);
}

#[test]
fn an_index_base_is_verified_by_its_signature_and_built_on_the_host_platform_image() {
    let (vendor, dir, host, other) = vendor();
    let index = write_index(
        &dir,
        "multi",
        "1",
        &[(other_platform(), &other), (Platform::host(), &host)],
    );
    let base = format!("oci:{dir}@{index}");
    // Nothing the consumer trusts signed the index or its images.
    consumer(&vendor, &base)
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("failed verification");
    // The vendor signs the index: the gate passes and names both digests.
    sign(&vendor, &format!("oci:{dir}@{index}"));
    let app = consumer(&vendor, &base);
    let r = app.cleanpipe_env(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0)
        .expect_stderr("(the index;")
        .expect_stderr(&format!("index {index}, {} image {host}", Platform::host()));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["bases"][0]["digest"], index.as_str());
    assert_eq!(report["bases"][0]["platform"]["digest"], host.as_str());
    // Built on the host platform's image: its layer, then ours.
    assert_eq!(report["image"]["layers"], 2);
    let host_manifest: serde_json::Value = serde_json::from_slice(
        &Layout::open(&dir)
            .unwrap()
            .read_blob(&serde_json::from_value(serde_json::json!(host)).unwrap())
            .unwrap(),
    )
    .unwrap();
    let built: serde_json::Value = serde_json::from_slice(
        &Layout::open(app.path().join(".cleanpipe/oci"))
            .unwrap()
            .read_blob(&serde_json::from_value(report["image"]["digest"].clone()).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        built["layers"][0]["digest"],
        host_manifest["layers"][0]["digest"]
    );
    // The provenance records the index and the platform image built on.
    let statement: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(app.path().join(".cleanpipe/out/provenance.intoto.json")).unwrap(),
    )
    .unwrap();
    let deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .clone();
    assert!(deps.iter().any(
        |d| d["name"] == "base" && d["digest"]["sha256"] == index.trim_start_matches("sha256:")
    ));
    assert!(deps.iter().any(|d| d["name"] == "base-platform-image"
        && d["digest"]["sha256"] == host.trim_start_matches("sha256:")
        && d["annotations"]["platform"] == Platform::host().to_string()));
}

#[test]
fn a_vendor_that_signs_each_platform_image_instead_is_accepted_for_that_image_only() {
    let (vendor, dir, host, other) = vendor();
    let index = write_index(
        &dir,
        "multi",
        "2",
        &[(Platform::host(), &host), (other_platform(), &other)],
    );
    let base = format!("oci:{dir}@{index}");
    // Only the other platform's image is signed by the vendor: not what this build uses.
    sign(&vendor, &format!("oci:{dir}@{other}"));
    consumer(&vendor, &base)
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("failed verification");
    sign(&vendor, &format!("oci:{dir}@{host}"));
    consumer(&vendor, &base)
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .expect_stderr("(the platform image;");
}

#[test]
fn an_index_without_this_platform_is_refused_naming_what_it_has() {
    let (vendor, dir, _host, other) = vendor();
    let index = write_index(&dir, "foreign", "3", &[(other_platform(), &other)]);
    sign(&vendor, &format!("oci:{dir}@{index}"));
    let app = consumer(&vendor, &format!("oci:{dir}@{index}"));
    let r = app.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1)
        .expect_stderr(&format!("without a {} image", Platform::host()))
        .expect_stderr(&format!("it has: {}", other_platform()));
    app.assert_no_store();
}

/// A registry index over the signed busybox base, for this platform and another: PUT with curl
/// (the registry's own API); the index is not signed, the busybox image is. Returns
/// `name@sha256:index`.
fn registry_index(registry: &str) -> String {
    let (pinned, _) = crate::docker_build::signed_base(registry);
    let (name, platform_digest) = pinned.split_once('@').unwrap();
    let curl = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-fsS", "--noproxy", "*"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let manifest_url = |reference: &str| {
        let (host, repo) = name.split_once('/').unwrap();
        format!("http://{host}/v2/{repo}/manifests/{reference}")
    };
    let child = curl(&[
        "-H",
        "Accept: application/vnd.docker.distribution.manifest.v2+json",
        &manifest_url(platform_digest),
    ]);
    let child_type: serde_json::Value = serde_json::from_slice(&child).unwrap();
    let entry = |p: &Platform| {
        serde_json::json!({
            "mediaType": child_type["mediaType"],
            "digest": platform_digest,
            "size": child.len(),
            "platform": {"os": p.os, "architecture": p.architecture},
        })
    };
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_INDEX,
        "manifests": [entry(&other_platform()), entry(&Platform::host())],
    }))
    .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &index).unwrap();
    let tag = unique("multi").replace('/', "-");
    curl(&[
        "-X",
        "PUT",
        "-H",
        &format!("Content-Type: {MEDIA_OCI_INDEX}"),
        "--data-binary",
        &format!("@{}", file.path().display()),
        &manifest_url(&tag),
    ]);
    let digest = cleanpipe::oci::types::Digest::of(&index);
    format!("{name}@{digest}")
}

#[test]
fn a_dockerfile_from_a_signed_registry_index_builds_and_runs() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let index_ref = registry_index(&registry);
    let (_, base_pub) = crate::docker_build::signed_base(&registry);
    let repo = Repo::new();
    repo.copy_in(base_pub, "base.pub");
    repo.keygen("cosign", "pw");
    repo.keygen("vendor", "vp");
    repo.write("app.txt", "from an index\n");
    repo.write(".dockerignore", "cosign.key\nvendor.key\n");
    repo.write(
        "Dockerfile",
        &format!("FROM {index_ref}\nCOPY app.txt /app.txt\nCMD [\"cat\", \"/app.txt\"]\n"),
    );
    let name = unique("it/index-app");
    let pipeline = |key: &str| {
        format!(
            "version: 1\nverify_base:\n  keys: {{ team: {key} }}\n  default_key: team\nbuild:\n  dockerfile: {{}}\nsign:\n  key: cosign.key\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n"
        )
    };
    repo.write("pipeline.yaml", &pipeline("base.pub"));
    repo.commit();
    // Only the busybox image the index lists is signed, not the index: the engine picks the
    // platform image of a Dockerfile build, so that is refused.
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("the index itself must be signed");
    // The vendor signs the index: accepted, built, pushed and run.
    repo.cleanpipe_env(
        &["sign", &index_ref, "--key", "vendor.key"],
        &[("COSIGN_PASSWORD", "vp")],
    )
    .expect_code(0);
    repo.write("pipeline.yaml", &pipeline("vendor.pub"));
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let out = docker_pull_and_run(&format!("{registry}/{name}:v1"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from an index\n");
}

/// `verify` of an index: the index's signature covers the images it lists, the policy applies
/// to each platform image's own attestations, and an unsigned index verifies one platform image
/// (`--platform`) that is signed itself, whose digest is then what to deploy.
#[test]
fn verify_of_an_index_checks_each_platform_image() {
    let (vendor, dir, host, other) = vendor();
    let index = write_index(
        &dir,
        "multi",
        "4",
        &[(Platform::host(), &host), (other_platform(), &other)],
    );
    let image = format!("oci:{dir}@{index}");
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", image.as_str()];
        args.extend_from_slice(extra);
        vendor.cleanpipe(&args)
    };
    // Unsigned by rogue, the index verifies only per platform, with that image's own evidence.
    verify(&["--key", "rogue.pub", "--require-provenance"])
        .expect_code(1)
        .expect_stderr("the index itself is not signed");
    let host_platform = Platform::host().to_string();
    let r = verify(&[
        "--key",
        "rogue.pub",
        "--require-provenance",
        "--platform",
        &host_platform,
        "--output",
        "digest",
    ]);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), format!("oci:{dir}@{host}"));
    // Signed by the vendor, the index covers both images' signatures; their provenance is
    // rogue's, so a vendor policy on provenance fails for each platform.
    sign(&vendor, &image);
    let r = verify(&["--key", "cosign.pub"]);
    r.expect_code(0)
        .expect_stderr(&format!("{host_platform}, {} verified", other_platform()))
        .expect_stderr("covered by the index");
    verify(&["--key", "cosign.pub", "--require-provenance"])
        .expect_code(1)
        .expect_stderr("policy [FAIL] platform images: not verified")
        .expect_stderr("policy [FAIL] provenance");
    verify(&["--key", "cosign.pub", "--platform", "windows/amd64"])
        .expect_code(2)
        .expect_stderr("without a windows/amd64 image");
    verify(&["--key", "cosign.pub", "--platform", "linux"])
        .expect_code(2)
        .expect_stderr("is not a platform");
}

/// Write `manifests` (raw index entries) as an index into the layout at `dir`, tagged `tag`.
fn write_raw_index(dir: &str, tag: &str, manifests: serde_json::Value) -> String {
    let layout = Layout::open(dir).unwrap();
    let bytes = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_INDEX,
        "manifests": manifests,
    }))
    .unwrap();
    let digest = layout.write_blob(&bytes).unwrap();
    layout
        .set_tag(
            tag,
            &Descriptor::new(MEDIA_OCI_INDEX, digest.clone(), bytes.len() as u64),
        )
        .unwrap();
    digest.to_string()
}

/// What `verify` of an index must not let through: an entry without a platform goes unchecked
/// (runtimes pick it for platforms the index does not name); `--platform` matching two images;
/// a summary about the index when only one platform image was checked.
#[test]
fn an_index_cannot_hide_an_unchecked_image() {
    let (vendor, dir, host, other) = vendor();
    let layout = Layout::open(&dir).unwrap();
    let size = |d: &str| {
        layout
            .read_blob(&serde_json::from_value(serde_json::json!(d)).unwrap())
            .unwrap()
            .len()
    };
    let entry = |digest: &str, size: usize, platform: Option<&Platform>| {
        let mut e =
            serde_json::json!({"mediaType": MEDIA_OCI_MANIFEST, "digest": digest, "size": size});
        if let Some(p) = platform {
            e["platform"] = serde_json::json!({"os": p.os, "architecture": p.architecture});
        }
        e
    };
    let missing = format!("sha256:{}", "1".repeat(64));
    // A signed index whose second entry has no platform and is not there: not verified.
    let index = write_raw_index(
        &dir,
        "hidden",
        serde_json::json!([
            entry(&host, size(&host), Some(&Platform::host())),
            entry(&missing, 10, None)
        ]),
    );
    sign(&vendor, &format!("oci:{dir}@{index}"));
    vendor
        .cleanpipe(&[
            "verify",
            &format!("oci:{dir}@{index}"),
            "--key",
            "cosign.pub",
        ])
        .expect_code(1)
        .expect_stderr("(no platform)");
    // BuildKit's attestation manifests are listed, not taken for images.
    let mut attestation = entry(&other, size(&other), None);
    attestation["annotations"] =
        serde_json::json!({"vnd.docker.reference.type": "attestation-manifest"});
    let index = write_raw_index(
        &dir,
        "with-attestation",
        serde_json::json!([
            entry(&host, size(&host), Some(&Platform::host())),
            attestation
        ]),
    );
    sign(&vendor, &format!("oci:{dir}@{index}"));
    vendor
        .cleanpipe(&[
            "verify",
            &format!("oci:{dir}@{index}"),
            "--key",
            "cosign.pub",
        ])
        .expect_code(0)
        .expect_stderr("not checked:")
        .expect_stderr("an attestation manifest");
    // Two different images for the one platform asked for: refused, nothing to deploy.
    let host_platform = Platform::host().to_string();
    let twice = write_raw_index(
        &dir,
        "twice",
        serde_json::json!([
            entry(&host, size(&host), Some(&Platform::host())),
            entry(&other, size(&other), Some(&Platform::host())),
        ]),
    );
    let r = vendor.cleanpipe(&[
        "verify",
        &format!("oci:{dir}@{twice}"),
        "--key",
        "rogue.pub",
        "--platform",
        &host_platform,
        "--output",
        "digest",
    ]);
    r.expect_code(2).expect_stderr("different images match");
    assert!(r.stdout.trim().is_empty(), "{}", r.stdout);
    // Verified for one platform, an unsigned index's summary is about that image, not the index.
    let unsigned = write_index(
        &dir,
        "unsigned",
        "5",
        &[(Platform::host(), &host), (other_platform(), &other)],
    );
    vendor
        .cleanpipe_env(
            &[
                "verify",
                &format!("oci:{dir}@{unsigned}"),
                "--key",
                "rogue.pub",
                "--platform",
                &host_platform,
                "--vsa",
                "vsa.json",
                "--vsa-key",
                "rogue.key",
            ],
            &[("COSIGN_PASSWORD", "pw")],
        )
        .expect_code(0);
    let statement = dsse_statement(&std::fs::read(vendor.path().join("vsa.json")).unwrap());
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        host.trim_start_matches("sha256:")
    );
}
