//! Sigstore bundles in OCI referrers, both ways, against real registries and the real cosign v3:
//! cleanpipe verifies what cosign v3 signs and attests (bundle and legacy formats, on a registry
//! with the referrers API and on distribution 2.8 through the fallback tag), cosign v3 verifies
//! the bundles cleanpipe writes, an image exported from a registry verifies offline, and hostile
//! referrers are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::sbom_scan::test_data;
use crate::support::*;

/// The registry with the OCI 1.1 referrers API that `.ci/run` starts, or `None` (skip) off CI.
fn referrers_registry() -> Option<String> {
    match std::env::var("CLEANPIPE_TEST_REFERRERS_REGISTRY") {
        Ok(r) if !r.is_empty() => Some(r),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but CLEANPIPE_TEST_REFERRERS_REGISTRY is not set: .ci/run must start the referrers registry");
            }
            eprintln!("skipped: no referrers registry (CLEANPIPE_TEST_REFERRERS_REGISTRY)");
            None
        }
    }
}

pub fn cosign_v3() -> Option<PathBuf> {
    test_data(
        "CLEANPIPE_TEST_COSIGN_V3",
        "a cosign v3 binary built by `.ci/run`",
    )
}

/// Run cosign in `dir` with no way off loopback, the vendor key's password set.
pub fn cosign(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    let tuf = dir.join(".cosign-tuf");
    std::fs::create_dir_all(&tuf).unwrap();
    Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "vendor-pw")
        .env("TUF_ROOT", &tuf)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .env("DOCKER_CONFIG", dir.join(".no-docker-config"))
        .output()
        .unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// cosign v3 flags for signing with a key and no transparency log.
const NO_TLOG: &[&str] = &["--use-signing-config=false", "--tlog-upload=false", "--yes"];

/// A committed repo: `hello.txt`, key pairs `cosign` and `other` (password `pw`) and a scratch
/// pipeline signing in `format` (`sign_extra`: more lines under `sign:`), pushed to
/// `repository` with tag `v1` when given.
pub fn format_repo(format: &str, repository: Option<&str>, sign_extra: &str) -> Repo {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    repo.keygen("other", "pw");
    let push = repository
        .map(|r| format!("push:\n  repository: {r}\n  tags: [\"v1\"]\n"))
        .unwrap_or_default();
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: cosign.key\n  format: {format}\n{sign_extra}{push}"
        ),
    );
    repo.commit();
    repo
}

/// An image pushed to `registry` by cleanpipe (signed with cleanpipe's own key `cosign`), and
/// a cosign key pair `vendor` beside it. Returns (repo, `registry/name@digest`).
fn pushed_image(registry: &str, bin: &Path, prefix: &str) -> (Repo, String) {
    let name = unique(prefix);
    let repo = scratch_repo(None, &["v1"]);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let tagged = format!("{registry}/{name}:v1");
    let image = repo
        .cleanpipe(&["copy", "oci:.cleanpipe/oci:v1", &tagged])
        .expect_code(0)
        .last_line();
    let gen = cosign(
        bin,
        repo.path(),
        &["generate-key-pair", "--output-key-prefix", "vendor"],
    );
    assert!(gen.status.success(), "{}", text(&gen));
    repo.keygen("stranger", "pw");
    (repo, image)
}

/// cleanpipe verifies a cosign v3 signature (and provenance attestation) made in `format`
/// (`bundle` or `legacy`) on `registry`, and names the place it found them; another key fails.
fn cleanpipe_reads_cosign_v3(registry: &str, format: &str, expected_place: &str) {
    let Some(bin) = cosign_v3() else { return };
    let (repo, image) = pushed_image(registry, &bin, "it/bundles-cosign");
    let dir = repo.path();
    let format_flag = format!("--new-bundle-format={}", format == "bundle");
    let signed = cosign(
        &bin,
        dir,
        &[
            &["sign", "--key", "vendor.key", &format_flag],
            NO_TLOG,
            &[&image],
        ]
        .concat(),
    );
    assert!(signed.status.success(), "{}", text(&signed));
    let predicate = r#"{"buildDefinition":{"buildType":"https://example.com/vendor/v1","externalParameters":{"source":{"repository":"https://git.example.com/vendor/app","commit":"0123456789abcdef0123456789abcdef01234567"}}},"runDetails":{"builder":{"id":"https://vendor.example/builder"}}}"#;
    std::fs::write(dir.join("predicate.json"), predicate).unwrap();
    let attested = cosign(
        &bin,
        dir,
        &[
            &[
                "attest",
                "--key",
                "vendor.key",
                &format_flag,
                "--type",
                "slsaprovenance1",
                "--predicate",
                "predicate.json",
            ],
            NO_TLOG,
            &[&image],
        ]
        .concat(),
    );
    assert!(attested.status.success(), "{}", text(&attested));

    let ok = repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "vendor.pub",
        "--commit",
        "0123456789abcdef0123456789abcdef01234567",
        "--builder-id",
        "https://vendor.example/builder",
    ]);
    ok.expect_code(0)
        .expect_stderr("VERIFIED")
        .expect_stderr(expected_place);
    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "vendor.pub",
        "--commit",
        "fedcba9",
    ])
    .expect_code(1);
    repo.cleanpipe(&["verify", &image, "--key", "stranger.pub"])
        .expect_code(1)
        .expect_stderr("does not verify with key");

    // The verify-base gate takes the same evidence: the vendor's key passes, another fails.
    let gate = |key: &str| {
        repo.write(
            "pipeline.yaml",
            &format!(
                "version: 1\nverify_base:\n  keys:\n    vendor: {key}\n  default_key: vendor\nbuild:\n  customize:\n    base: {image}\n    files:\n      - src: hello.txt\n        dest: /hello2.txt\nsign:\n  key: cosign.key\n"
            ),
        );
        repo.commit();
        repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
    };
    gate("vendor.pub")
        .expect_code(0)
        .expect_stderr(expected_place);
    gate("stranger.pub").expect_code(1);
}

#[test]
fn cleanpipe_verifies_cosign_v3_bundles_via_the_referrers_api() {
    let Some(registry) = referrers_registry() else {
        return;
    };
    cleanpipe_reads_cosign_v3(&registry, "bundle", "listed by the referrers API");
}

#[test]
fn cleanpipe_verifies_cosign_v3_bundles_via_the_fallback_tag() {
    let Some(registry) = registry() else { return };
    cleanpipe_reads_cosign_v3(&registry, "bundle", "listed by the referrers fallback tag");
}

#[test]
fn cleanpipe_verifies_cosign_v3_legacy_signatures() {
    let Some(registry) = registry() else { return };
    cleanpipe_reads_cosign_v3(&registry, "legacy", "legacy tag `sha256-");
}

/// cosign v3 verifies what cleanpipe writes as bundles (`sign.format: bundle`), signature and
/// attestation, with a policy on a real field; cleanpipe verifies it too, and another key fails.
fn cosign_v3_reads_cleanpipe_bundles(registry: &str, expected_place: &str) {
    let Some(bin) = cosign_v3() else { return };
    let name = unique("it/bundles-ours");
    let repo = format_repo("bundle", Some(&format!("{registry}/{name}")), "");
    let run = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    run.expect_code(0)
        .expect_stderr("bundle referrer(s) pushed");
    let image = run.last_line();
    let dir = repo.path();
    // No legacy tag was written: only the bundles can satisfy the verifiers.
    let digest = &image[image.find('@').unwrap() + 1..];
    let tag = format!("sha256-{}.sig", &digest["sha256:".len()..]);
    assert_eq!(manifest_status(registry, &name, &tag), 404);

    let ok = cosign(
        &bin,
        dir,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog=true",
            &image,
        ],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let no = cosign(
        &bin,
        dir,
        &[
            "verify",
            "--key",
            "other.pub",
            "--insecure-ignore-tlog=true",
            &image,
        ],
    );
    assert!(!no.status.success(), "another key must fail: {}", text(&no));
    let commit = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(dir)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let commit = commit.trim();
    for (value, expect_ok) in [
        (commit, true),
        ("0000000000000000000000000000000000000000", false),
    ] {
        std::fs::write(
            dir.join("policy.cue"),
            format!(
                "predicate: buildDefinition: externalParameters: source: commit: \"{value}\"\n"
            ),
        )
        .unwrap();
        let out = cosign(
            &bin,
            dir,
            &[
                "verify-attestation",
                "--key",
                "cosign.pub",
                "--insecure-ignore-tlog=true",
                "--type",
                "slsaprovenance1",
                "--policy",
                "policy.cue",
                &image,
            ],
        );
        assert_eq!(
            out.status.success(),
            expect_ok,
            "commit {value}: {}",
            text(&out)
        );
    }
    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "cosign.pub",
        "--commit",
        commit,
        "--require-sbom",
    ])
    .expect_code(0)
    .expect_stderr(expected_place);
    repo.cleanpipe(&["verify", &image, "--key", "other.pub"])
        .expect_code(1);
}

#[test]
fn cosign_v3_verifies_cleanpipe_bundles_via_the_referrers_api() {
    let Some(registry) = referrers_registry() else {
        return;
    };
    cosign_v3_reads_cleanpipe_bundles(&registry, "listed by the referrers API");
}

#[test]
fn cosign_v3_verifies_cleanpipe_bundles_via_the_fallback_tag() {
    let Some(registry) = registry() else { return };
    cosign_v3_reads_cleanpipe_bundles(&registry, "listed by the referrers fallback tag");
}

/// A private distribution registry for one test (so it can be stopped), on a free port.
struct PrivateRegistry {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl PrivateRegistry {
    fn start() -> PrivateRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .args(["serve"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package) must be installed");
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..200 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        PrivateRegistry {
            child,
            addr,
            _dir: dir,
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `cleanpipe copy REGISTRY oci:DIR` brings the image with its legacy signature, its bundles and
/// every attestation; with the registry stopped, `verify oci:…` with every policy flag passes,
/// and fails with another key.
#[test]
fn an_exported_image_verifies_offline_with_the_registry_stopped() {
    if registry().is_none() {
        return; // the same machine services as the registry tests
    }
    let mut private = PrivateRegistry::start();
    let name = unique("it/export");
    let repo = format_repo("both", Some(&format!("{}/{name}", private.addr)), "");
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let tagged = format!("{}/{name}:v1", private.addr);
    repo.cleanpipe(&["copy", &tagged, "oci:exported:v1"])
        .expect_code(0)
        .expect_stderr("2 legacy signature/attestation manifest(s)");
    private.stop();
    assert!(std::net::TcpStream::connect(&private.addr).is_err());
    let out = repo.cleanpipe(&[
        "verify",
        "oci:exported:v1",
        "--key",
        "cosign.pub",
        "--require-provenance",
        "--require-sbom",
        "--output",
        "json",
    ]);
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["digest"], image[image.find('@').unwrap() + 1..]);
    let sources: Vec<String> = v["signatures"]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["verified"] == true)
        .map(|s| s["source"]["layout"].as_str().unwrap().to_string())
        .collect();
    assert!(sources.contains(&"legacy-tag".to_string()), "{sources:?}");
    assert!(sources.contains(&"referrer".to_string()), "{sources:?}");
    repo.cleanpipe(&["verify", "oci:exported:v1", "--key", "other.pub"])
        .expect_code(1);
    // cosign's own layout reader takes the exported layout too: v3 through the bundles, v2
    // through the `.sig` (both offline, the registry is still stopped).
    for bin in [
        cosign_v3(),
        test_data("CLEANPIPE_TEST_COSIGN_V2", "cosign v2"),
    ]
    .into_iter()
    .flatten()
    {
        for (key, expect_ok) in [("cosign.pub", true), ("other.pub", false)] {
            let out = cosign(
                &bin,
                repo.path(),
                &[
                    "verify",
                    "--key",
                    key,
                    "--insecure-ignore-tlog=true",
                    "--local-image",
                    "exported",
                ],
            );
            assert_eq!(
                out.status.success(),
                expect_ok,
                "{} {key}: {}",
                bin.display(),
                text(&out)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile or broken referrers: a clear error, exit 1, nothing trusted.
// ---------------------------------------------------------------------------------------------

/// A layout image signed only as a bundle (`sign.format: bundle`), and its digest.
fn bundle_signed_layout() -> (Repo, String) {
    let repo = format_repo("bundle", None, "  sbom: []\n  provenance: false\n");
    let out = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    out.expect_code(0);
    let digest = out.last_line();
    let digest = digest[digest.find('@').unwrap() + 1..].to_string();
    (repo, digest)
}

fn layout_index(repo: &Repo) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(repo.path().join(".cleanpipe/oci/index.json")).unwrap())
        .unwrap()
}

fn write_layout_index(repo: &Repo, index: &serde_json::Value) {
    std::fs::write(
        repo.path().join(".cleanpipe/oci/index.json"),
        serde_json::to_vec(index).unwrap(),
    )
    .unwrap();
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Store `bytes` as a blob of the run's layout; returns its digest.
fn put_blob(repo: &Repo, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    std::fs::write(
        repo.path()
            .join(".cleanpipe/oci/blobs/sha256")
            .join(&digest["sha256:".len()..]),
        bytes,
    )
    .unwrap();
    digest
}

/// The layout's one bundle referrer: (index entry, manifest).
fn the_referrer(repo: &Repo) -> (serde_json::Value, serde_json::Value) {
    let index = layout_index(repo);
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json")
        .expect("a bundle referrer in the layout")
        .clone();
    let hex = entry["digest"].as_str().unwrap()["sha256:".len()..].to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo.path().join(".cleanpipe/oci/blobs/sha256").join(hex)).unwrap(),
    )
    .unwrap();
    (entry, manifest)
}

/// Replace the layout's referrer list with one referrer: `manifest`.
fn list_only(repo: &Repo, manifest: &serde_json::Value) {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let digest = put_blob(repo, &bytes);
    let mut index = layout_index(repo);
    let manifests = index["manifests"].as_array_mut().unwrap();
    manifests.retain(|m| m["annotations"]["org.opencontainers.image.ref.name"].is_string());
    manifests.push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": bytes.len(),
        "artifactType": manifest["artifactType"],
    }));
    write_layout_index(repo, &index);
}

#[test]
fn a_bundle_signed_layout_verifies_and_names_its_source() {
    let (repo, digest) = bundle_signed_layout();
    let image = format!("oci:.cleanpipe/oci@{digest}");
    repo.cleanpipe(&["verify", &image, "--key", "cosign.pub"])
        .expect_code(0)
        .expect_stderr("bundle referrer sha256:")
        .expect_stderr("listed by the layout's index");
    repo.cleanpipe(&["verify", &image, "--key", "other.pub"])
        .expect_code(1)
        .expect_stderr("does not verify with key");
}

#[test]
fn a_bundle_whose_statement_names_another_digest_is_refused() {
    let (repo, digest) = bundle_signed_layout();
    let (_, mut manifest) = the_referrer(&repo);
    // Our key signs another image (a made-up manifest in the same layout) as a bundle ...
    let other = sha256(b"another image");
    let other_image = put_blob(
        &repo,
        format!("{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{other}\",\"size\":1}},\"layers\":[]}}").as_bytes(),
    );
    let signed_other = repo.cleanpipe_env(
        &[
            "sign",
            &format!("oci:.cleanpipe/oci@{other_image}"),
            "--key",
            "cosign.key",
            "--format",
            "bundle",
        ],
        &[("COSIGN_PASSWORD", "pw")],
    );
    signed_other.expect_code(0);
    // Take the bundle just made for the other image and list it as a referrer of ours.
    let index = layout_index(&repo);
    let other_ref = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json")
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .find(|d| {
            let m: serde_json::Value = serde_json::from_slice(
                &std::fs::read(
                    repo.path()
                        .join(".cleanpipe/oci/blobs/sha256")
                        .join(&d["sha256:".len()..]),
                )
                .unwrap(),
            )
            .unwrap();
            m["subject"]["digest"] == other_image
        })
        .unwrap();
    let other_manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            repo.path()
                .join(".cleanpipe/oci/blobs/sha256")
                .join(&other_ref["sha256:".len()..]),
        )
        .unwrap(),
    )
    .unwrap();
    // ... and a referrer of this image carries that bundle: signed by the key, about another digest.
    manifest["layers"] = other_manifest["layers"].clone();
    list_only(&repo, &manifest);
    repo.cleanpipe(&[
        "verify",
        &format!("oci:.cleanpipe/oci@{digest}"),
        "--key",
        "cosign.pub",
    ])
    .expect_code(1)
    .expect_stderr(&format!(
        "the signed statement is about {other_image}, not {digest}"
    ));
}

#[test]
fn an_unsupported_bundle_version_is_named() {
    let (repo, digest) = bundle_signed_layout();
    let (_, mut manifest) = the_referrer(&repo);
    let v01 = "application/vnd.dev.sigstore.bundle+json;version=0.1";
    manifest["artifactType"] = v01.into();
    manifest["layers"][0]["mediaType"] = v01.into();
    list_only(&repo, &manifest);
    repo.cleanpipe(&[
        "verify",
        &format!("oci:.cleanpipe/oci@{digest}"),
        "--key",
        "cosign.pub",
    ])
    .expect_code(1)
    .expect_stderr(&format!("bundle media type `{v01}` is not supported"));
}

#[test]
fn a_referrer_whose_bundle_blob_is_missing_verifies_nothing() {
    let (repo, digest) = bundle_signed_layout();
    let (_, manifest) = the_referrer(&repo);
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(
        repo.path()
            .join(".cleanpipe/oci/blobs/sha256")
            .join(&layer["sha256:".len()..]),
    )
    .unwrap();
    repo.cleanpipe(&[
        "verify",
        &format!("oci:.cleanpipe/oci@{digest}"),
        "--key",
        "cosign.pub",
    ])
    .expect_code(1)
    .expect_stderr(&format!("blob {layer} is missing"));
}

#[test]
fn a_bundle_by_another_key_next_to_a_valid_legacy_signature_is_reported_not_fatal() {
    let repo = scratch_repo(None, &["v1"]);
    repo.keygen("other", "pw");
    repo.commit();
    let digest = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let digest = digest[digest.find('@').unwrap() + 1..].to_string();
    repo.cleanpipe_env(
        &[
            "sign",
            "oci:.cleanpipe/oci:v1",
            "--key",
            "other.key",
            "--format",
            "bundle",
        ],
        &[("COSIGN_PASSWORD", "pw")],
    )
    .expect_code(0);
    let out = repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:v1",
        "--key",
        "cosign.pub",
        "--output",
        "json",
    ]);
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["digest"], digest);
    let sigs = v["signatures"]["signatures"].as_array().unwrap();
    assert!(sigs
        .iter()
        .any(|s| s["verified"] == true && s["source"]["layout"] == "legacy-tag"));
    assert!(sigs
        .iter()
        .any(|s| s["verified"] == false && s["source"]["layout"] == "referrer"));
    repo.cleanpipe(&["verify", "oci:.cleanpipe/oci:v1", "--key", "other.pub"])
        .expect_code(0)
        .expect_stderr("bundle referrer");
}

/// The referrers fallback index of the image `…@sha256:HEX` in `registry/name`, read as is.
fn fallback_index(registry: &str, name: &str, hex: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.oci.image.index.v1+json",
        ])
        .arg(format!(
            "http://{registry}/v2/{name}/manifests/sha256-{hex}"
        ))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A registry whose fallback tag or referrers list lies or is not an index.
#[test]
fn a_fallback_tag_that_is_not_an_index_fails_verification() {
    let Some(registry) = registry() else { return };
    let name = unique("it/bundles-badtag");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let digest = &image[image.find('@').unwrap() + 1..];
    // The image's own manifest pushed under its referrers fallback tag.
    let fallback = format!("{registry}/{name}:sha256-{}", &digest["sha256:".len()..]);
    repo.cleanpipe(&["copy", "oci:.cleanpipe/oci:v1", &fallback])
        .expect_code(0);
    repo.cleanpipe(&["verify", &image, "--key", "cosign.pub"])
        .expect_code(1)
        .expect_stderr("not an OCI image index");
}

#[test]
fn a_fallback_index_listing_another_subject_is_not_trusted() {
    let Some(registry) = registry() else { return };
    let name = unique("it/bundles-lies");
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    let pipeline = |content: &str| {
        format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: {content}\n        dest: /f\nsign:\n  key: cosign.key\n  format: bundle\n  sbom: []\n  provenance: false\npush:\n  repository: {registry}/{name}\n  tags: [\"{content}\"]\n"
        )
    };
    repo.write("a.txt", "a\n");
    repo.write("b.txt", "b\n");
    repo.write("pipeline.yaml", &pipeline("a.txt"));
    repo.commit();
    let a = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    repo.write("pipeline.yaml", &pipeline("b.txt"));
    repo.commit();
    let b = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let hex = |i: &str| i[i.find("@sha256:").unwrap() + 8..].to_string();
    // A's fallback index now also lists B's signature referrer.
    let mut a_index = fallback_index(&registry, &name, &hex(&a));
    let b_index = fallback_index(&registry, &name, &hex(&b));
    a_index["manifests"]
        .as_array_mut()
        .unwrap()
        .push(b_index["manifests"][0].clone());
    let body = serde_json::to_vec(&a_index).unwrap();
    let put = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.index.v1+json",
            "--data-binary",
            "@-",
        ])
        .arg(format!(
            "http://{registry}/v2/{name}/manifests/sha256-{}",
            hex(&a)
        ))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&body)?;
            c.wait()
        })
        .unwrap();
    assert!(put.success());
    repo.cleanpipe(&["verify", &a, "--key", "cosign.pub"])
        .expect_code(1)
        .expect_stderr(&format!(
            "its subject is sha256:{}, not sha256:{}",
            hex(&b),
            hex(&a)
        ));
}

/// A hostile referrers API for `hostile:v1` listing `count` made-up referrers, `page` per
/// page; returns (server, port, pages log).
fn hostile_registry(
    dir: &Path,
    count: &str,
    page: &str,
    extra: &[&str],
) -> (std::process::Child, String, PathBuf) {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let manifest_file = dir.join("manifest.json");
    std::fs::write(&manifest_file, manifest).unwrap();
    let port_file = dir.join("port");
    let log = dir.join("pages.log");
    let server = Command::new("python3")
        .arg(support_script("hostile_referrers.py"))
        .arg(&port_file)
        .arg(&manifest_file)
        .args([count, page])
        .arg(&log)
        .args(extra)
        .spawn()
        .unwrap();
    let port = wait_port(&port_file, "the hostile registry");
    (server, port, log)
}

/// `cleanpipe verify` of `hostile:v1` against a [`hostile_registry`] (stopped after); returns
/// the run and the pages log (with the directory holding it).
fn verify_against_hostile(
    count: &str,
    page: &str,
    extra: &[&str],
) -> (Run, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port, log) = hostile_registry(dir.path(), count, page, extra);
    let repo = Repo::new();
    repo.keygen("cosign", "pw");
    let out = repo.cleanpipe(&[
        "verify",
        &format!("127.0.0.1:{port}/hostile:v1"),
        "--key",
        "cosign.pub",
    ]);
    let _ = server.kill();
    let _ = server.wait();
    (out, log, dir)
}

#[test]
fn a_referrers_page_linked_to_another_server_is_not_followed() {
    let (out, log, _dir) = verify_against_hostile("20", "10", &["http://127.0.0.2:9"]);
    out.expect_code(3)
        .expect_stderr("linked the next page to `http://127.0.0.2:9`, another server");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
}

#[test]
fn ten_thousand_referrers_are_refused_after_reading_a_bounded_part() {
    let (out, log, _dir) = verify_against_hostile("10000", "250", &[]);
    out.expect_code(1)
        .expect_stderr("lists more than 1000 referrers");
    let pages = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(pages <= 5, "read {pages} pages of 250 for a limit of 1000");
}

/// cosign's optional layer annotations (a Rekor bundle, a certificate and its chain) next to the
/// signature do not stop a key-based verification.
#[test]
fn a_signature_layer_with_cosigns_optional_annotations_still_verifies() {
    let repo = scratch_repo(None, &["v1"]);
    let digest = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let digest = digest[digest.find('@').unwrap() + 1..].to_string();
    let tag = format!("sha256-{}.sig", &digest["sha256:".len()..]);
    let mut index = layout_index(&repo);
    let entry = index["manifests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag.as_str())
        .unwrap();
    let hex = entry["digest"].as_str().unwrap()["sha256:".len()..].to_string();
    let mut manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo.path().join(".cleanpipe/oci/blobs/sha256").join(hex)).unwrap(),
    )
    .unwrap();
    let annotations = manifest["layers"][0]["annotations"]
        .as_object_mut()
        .unwrap();
    annotations.insert(
        "dev.sigstore.cosign/bundle".into(),
        r#"{"SignedEntryTimestamp":"AAAA","Payload":{"body":"e30=","integratedTime":1700000000,"logIndex":1,"logID":"00"}}"#.into(),
    );
    annotations.insert(
        "dev.sigstore.cosign/certificate".into(),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
    );
    annotations.insert(
        "dev.sigstore.cosign/chain".into(),
        "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n".into(),
    );
    let bytes = serde_json::to_vec(&manifest).unwrap();
    entry["digest"] = put_blob(&repo, &bytes).into();
    entry["size"] = bytes.len().into();
    write_layout_index(&repo, &index);
    repo.cleanpipe(&["verify", "oci:.cleanpipe/oci:v1", "--key", "cosign.pub"])
        .expect_code(0)
        .expect_stderr("VERIFIED");
    repo.keygen("other", "pw");
    repo.cleanpipe(&["verify", "oci:.cleanpipe/oci:v1", "--key", "other.pub"])
        .expect_code(1);
}

/// On a registry without the referrers API, cleanpipe adds its bundle to the fallback index
/// cosign v3 made, keeping cosign's entry: both signers verify, with both tools.
#[test]
fn the_fallback_index_keeps_another_producers_entries() {
    let Some(registry) = registry() else { return };
    let Some(bin) = cosign_v3() else { return };
    let (repo, image) = pushed_image(&registry, &bin, "it/bundles-shared-index");
    let dir = repo.path();
    std::fs::write(
        dir.join("signing-config.json"),
        r#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","rekorTlogConfig":{},"tsaConfig":{}}"#,
    )
    .unwrap();
    let signed = cosign(
        &bin,
        dir,
        &[
            "sign",
            "--key",
            "vendor.key",
            "--signing-config",
            "signing-config.json",
            "-y",
            &image,
        ],
    );
    assert!(signed.status.success(), "{}", text(&signed));
    repo.cleanpipe_env(
        &["sign", &image, "--key", "cosign.key", "--format", "bundle"],
        &[("COSIGN_PASSWORD", "pw")],
    )
    .expect_code(0)
    .expect_stderr("listed by the referrers fallback tag");
    let hex = &image[image.find("@sha256:").unwrap() + 8..];
    let (name, _) = image[registry.len() + 1..].split_once('@').unwrap();
    let index = fallback_index(&registry, name, hex);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index}");
    for key in ["vendor.pub", "cosign.pub"] {
        let ok = cosign(
            &bin,
            dir,
            &[
                "verify",
                "--key",
                key,
                "--insecure-ignore-tlog=true",
                &image,
            ],
        );
        assert!(ok.status.success(), "{key}: {}", text(&ok));
        repo.cleanpipe(&["verify", &image, "--key", key])
            .expect_code(0)
            .expect_stderr("listed by the referrers fallback tag");
    }
}

/// The Kyverno CLI with a `verifyImages` rule of `type: SigstoreBundle` and a key attestor
/// admits a Pod running an image signed with `sign.format: bundle` only, and rejects it for
/// another key.
fn kyverno_reads_cleanpipe_bundles(registry: &str) {
    let Some(kyverno) = test_data(
        "CLEANPIPE_TEST_KYVERNO",
        "the Kyverno CLI built by `.ci/run`",
    ) else {
        return;
    };
    let name = unique("it/bundles-kyverno");
    let repo = format_repo("bundle", Some(&format!("{registry}/{name}")), "");
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let dir = repo.path();
    std::fs::write(
        dir.join("pod.yaml"),
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  namespace: default\nspec:\n  containers:\n  - name: app\n    image: {image}\n"),
    )
    .unwrap();
    for (key, admitted) in [("cosign.pub", true), ("other.pub", false)] {
        let pem: String = std::fs::read_to_string(dir.join(key))
            .unwrap()
            .trim()
            .lines()
            .map(|l| format!("              {l}\n"))
            .collect();
        let policy = format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: bundles\nspec:\n  validationFailureAction: Enforce\n  background: false\n  rules:\n  - name: signed\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    verifyImages:\n    - imageReferences: [\"127.0.0.1:*\"]\n      type: SigstoreBundle\n      mutateDigest: false\n      attestors:\n      - entries:\n        - keys:\n            publicKeys: |-\n{pem}            rekor:\n              ignoreTlog: true\n            ctlog:\n              ignoreSCT: true\n"
        );
        std::fs::write(dir.join("policy.yaml"), policy).unwrap();
        let out = cosign(
            &kyverno,
            dir,
            &[
                "apply",
                "policy.yaml",
                "--resource",
                "pod.yaml",
                "--registry",
            ],
        );
        let all = text(&out);
        if admitted {
            assert!(all.contains("pass: 2, fail: 0"), "{key}: {all}");
        } else {
            assert!(all.contains("pass: 0, fail: 2"), "{key}: {all}");
        }
    }
}

#[test]
fn kyverno_verifies_cleanpipe_bundles_via_the_referrers_api() {
    let Some(registry) = referrers_registry() else {
        return;
    };
    kyverno_reads_cleanpipe_bundles(&registry);
}

#[test]
fn kyverno_verifies_cleanpipe_bundles_via_the_fallback_tag() {
    let Some(registry) = registry() else { return };
    kyverno_reads_cleanpipe_bundles(&registry);
}

/// Why `sign.format` defaults to `legacy`: the policy-controller (v0.13.1) refuses a key
/// authority for bundles ("the authority must be keyless"), so an image signed only as a
/// bundle cannot be admitted by key there; the same image signed `both` is admitted.
#[test]
fn the_policy_controller_takes_keys_only_on_the_legacy_layout() {
    let Some(registry) = registry() else { return };
    let Some(tester) = test_data(
        "CLEANPIPE_TEST_POLICY_TESTER",
        "the policy-controller tester built by `.ci/run`",
    ) else {
        return;
    };
    let name = unique("it/bundles-policy-controller");
    let repo = scratch_repo(None, &["v1"]);
    let dir = repo.path();
    let mut pipeline = std::fs::read_to_string(dir.join("pipeline.yaml")).unwrap();
    pipeline = pipeline.replace(
        "sign:\n  key: cosign.key\n",
        "sign:\n  key: cosign.key\n  format: both\n",
    );
    pipeline.push_str(&format!("  repository: {registry}/{name}\n"));
    repo.write("pipeline.yaml", &pipeline);
    repo.commit();
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let key: String = std::fs::read_to_string(dir.join("cosign.pub"))
        .unwrap()
        .trim()
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    for (format_line, admitted) in [("", true), ("    signatureFormat: bundle\n", false)] {
        std::fs::write(
            dir.join("cip.yaml"),
            format!("apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: key\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - name: release-key\n{format_line}    key:\n      data: |\n{key}"),
        )
        .unwrap();
        let out = cosign(&tester, dir, &["-policy", "cip.yaml", "-image", &image]);
        let all = text(&out);
        if admitted {
            assert!(out.status.success(), "{all}");
            assert!(all.contains("Verification was successful"), "{all}");
        } else {
            assert!(!all.contains("Verification was successful"), "{all}");
            assert!(all.contains("the authority must be keyless"), "{all}");
        }
    }
}

/// Signatures before tags holds for referrers too: when the bundle cannot be listed (the
/// fallback tag holds something that is not an index), the push stops before any tag moves.
#[test]
fn no_tag_moves_when_a_bundle_cannot_be_listed() {
    let Some(registry) = registry() else { return };
    let name = unique("it/bundles-no-tag");
    // One committed pipeline, the repository from the environment: both runs build the same
    // digest (the commit is the same), so its fallback tag can be occupied in between.
    let repo = format_repo(
        "bundle",
        Some("${PUSH_REPO}"),
        "  sbom: []\n  provenance: false\n",
    );
    let first = repo
        .cleanpipe_env(
            &["run"],
            &[
                ("COSIGN_PASSWORD", "pw"),
                ("PUSH_REPO", &format!("{registry}/{name}-first")),
            ],
        )
        .expect_code(0)
        .last_line();
    let hex = first[first.find("@sha256:").unwrap() + 8..].to_string();
    // Something else already sits at the image's referrers fallback tag in the second repository.
    repo.cleanpipe(&[
        "copy",
        &format!("oci:.cleanpipe/oci@sha256:{hex}"),
        &format!("{registry}/{name}:sha256-{hex}"),
    ])
    .expect_code(0);
    repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("PUSH_REPO", &format!("{registry}/{name}")),
        ],
    )
    .expect_code(1)
    .expect_stderr("refusing to replace it");
    assert_eq!(manifest_status(&registry, &name, "v1"), 404);
}

/// A re-run of the same commit re-attests: in the fallback index this key's earlier bundle of
/// each predicate type is replaced, not piled up (the signature, the same bytes, stays one).
#[test]
fn a_rerun_replaces_its_own_earlier_bundles_in_the_fallback_index() {
    let Some(registry) = registry() else { return };
    let name = unique("it/bundles-rerun");
    let repo = format_repo("bundle", Some(&format!("{registry}/{name}")), "");
    let mut image = String::new();
    for _ in 0..2 {
        image = repo
            .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(0)
            .last_line();
    }
    let hex = &image[image.find("@sha256:").unwrap() + 8..];
    let index = fallback_index(&registry, &name, hex);
    let types: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["dev.sigstore.bundle.predicateType"]
                .as_str()
                .unwrap()
        })
        .collect();
    let mut sorted = types.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        types.len(),
        sorted.len(),
        "one referrer per predicate type: {types:?}"
    );
    assert_eq!(
        types.len(),
        4,
        "signature, provenance and two SBOMs: {types:?}"
    );
    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "cosign.pub",
        "--require-provenance",
        "--require-sbom",
    ])
    .expect_code(0);
}

/// A referrers API whose list holds an entry cleanpipe cannot read (a sha512 digest) is not
/// taken for "no referrers API": nothing it lists is skipped silently.
#[test]
fn a_referrers_list_with_an_unreadable_entry_fails_closed() {
    let (out, _, _dir) = verify_against_hostile("3", "10", &["", "sha512"]);
    out.expect_code(1)
        .expect_stderr("the referrers API lists an entry cleanpipe cannot read");
}

/// An export carries every referrer the registry lists, two attestations of one type by one
/// key included (a registry with the referrers API keeps both when the same commit is run
/// twice): the copy must verify, or fail, exactly as the registry would.
#[test]
fn an_export_keeps_every_attestation_the_registry_lists() {
    let Some(registry) = referrers_registry() else {
        return;
    };
    let name = unique("it/bundles-export-all");
    let repo = format_repo("bundle", Some(&format!("{registry}/{name}")), "");
    let mut image = String::new();
    for _ in 0..2 {
        image = repo
            .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(0)
            .last_line();
    }
    let provenances = |json: &serde_json::Value| {
        json["attestations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["predicate_type"] == "https://slsa.dev/provenance/v1")
            .count()
    };
    let verdict = |reference: &str| -> serde_json::Value {
        let out = repo.cleanpipe(&[
            "verify",
            reference,
            "--key",
            "cosign.pub",
            "--output",
            "json",
        ]);
        out.expect_code(0);
        serde_json::from_str(&out.stdout).unwrap()
    };
    let in_registry = provenances(&verdict(&image));
    assert_eq!(
        in_registry, 2,
        "the referrers API lists both runs' provenance"
    );
    repo.cleanpipe(&["copy", &image, "oci:exported:v1"])
        .expect_code(0);
    assert_eq!(provenances(&verdict("oci:exported:v1")), in_registry);
}
