//! `cleanpipe db push` and `db pull`: the managed database as a signed OCI artifact, pushed to
//! the test registry or a layout, pulled only when its signature verifies with a trusted key,
//! every layer checked, nothing installed when refused.

use std::collections::BTreeMap;
use std::path::Path;

use crate::db::{alpine_image, alpine_v1, finding_ids, Mirror};
use crate::support::{registry, unique, Repo, Run};

const PW: &str = "db-artifact-pw";

/// A repository with the team's key pair and a stranger's, and a managed database of the
/// Alpine fixture records fetched by `db update` into `db/`.
fn setup(mirror: &Mirror) -> Repo {
    let repo = Repo::new();
    repo.keygen("team", PW);
    repo.keygen("stranger", PW);
    run(
        &repo,
        &[
            "db",
            "update",
            "--ecosystems",
            "Alpine",
            "--mirror",
            &mirror.url(),
            "--dir",
            "db",
        ],
    )
    .expect_code(0);
    repo
}

fn run(repo: &Repo, args: &[&str]) -> Run {
    let cache = repo.path().join(".xdg");
    repo.cleanpipe_env(
        args,
        &[
            ("COSIGN_PASSWORD", PW),
            ("XDG_CACHE_HOME", cache.to_str().unwrap()),
        ],
    )
}

/// Every file of a directory (the lock left out), with its bytes; empty when it is missing.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name() != ".lock")
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn push_then_pull_with_the_trusted_key_and_scan_refused_with_an_untrusted_one() {
    let Some(registry) = registry() else { return };
    let mirror = Mirror::start();
    mirror.put("Alpine", &alpine_v1(), 3600);
    let repo = setup(&mirror);
    let target = format!("{registry}/{}:v1", unique("osv-db"));
    let pushed = run(
        &repo,
        &["db", "push", &target, "--dir", "db", "--key", "team.key"],
    );
    pushed.expect_code(0).expect_stderr("pushed and signed");
    let pinned = pushed.last_line();
    assert!(pinned.contains("@sha256:"), "{pinned}");

    // The manifest is an artifact of our type, one layer per ecosystem, annotated.
    let name = target
        .split_once('/')
        .unwrap()
        .1
        .rsplit_once(':')
        .unwrap()
        .0;
    let manifest = std::process::Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!("http://{registry}/v2/{name}/manifests/v1"))
        .output()
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.cleanpipe.osv-db.v1"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest:#}");
    assert_eq!(
        layers[0]["annotations"]["dev.cleanpipe.osv.ecosystem"],
        "Alpine"
    );
    assert_eq!(layers[0]["annotations"]["dev.cleanpipe.osv.records"], "1");

    // An untrusted key: refused (exit 1), nothing installed.
    run(
        &repo,
        &[
            "db",
            "pull",
            &target,
            "--dir",
            "pulled",
            "--key",
            "stranger.pub",
        ],
    )
    .expect_code(1)
    .expect_stderr("is not signed by a trusted key");
    assert!(files(&repo.path().join("pulled")).is_empty());

    // The trusted key, by tag and then by digest (`oci://` as `scan.db` writes it).
    run(
        &repo,
        &[
            "db", "pull", &target, "--dir", "pulled", "--key", "team.pub",
        ],
    )
    .expect_code(0)
    .expect_stderr("1 ecosystem(s) installed");
    run(
        &repo,
        &[
            "db",
            "pull",
            &format!("oci://{pinned}"),
            "--dir",
            "pulled",
            "--key",
            "team.pub",
        ],
    )
    .expect_code(0);
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo.path().join("pulled/Alpine.meta.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["artifact"], pinned);
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.path().join("db/Alpine.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["digest"], original["digest"]);
    assert_eq!(meta["fetched"], original["fetched"]);

    // `cleanpipe copy` carries it with its signature (an air-gapped mirror): pulled from there.
    run(&repo, &["copy", &target, "oci:mirror:v1"]).expect_code(0);
    run(
        &repo,
        &[
            "db",
            "pull",
            "oci:mirror:v1",
            "--dir",
            "mirrored",
            "--key",
            "team.pub",
        ],
    )
    .expect_code(0);
    assert_eq!(
        files(&repo.path().join("mirrored")),
        files(&repo.path().join("db"))
            .into_iter()
            .filter(|(n, _)| n.ends_with(".zip"))
            .chain(
                files(&repo.path().join("mirrored"))
                    .into_iter()
                    .filter(|(n, _)| n.ends_with(".json"))
            )
            .collect::<BTreeMap<_, _>>(),
        "the same archive"
    );

    // A scan with the pulled database finds the known vulnerability.
    let images = tempfile::tempdir().unwrap();
    let image = alpine_image(images.path());
    let r = run(
        &repo,
        &["scan", &image, "--db", "pulled", "--output", "json"],
    );
    r.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(finding_ids(&report), ["ALPINE-CVE-2025-26519"]);
    assert_eq!(report["coverage"]["database_completeness"], "complete");
}

#[test]
fn a_tampered_layer_or_an_unsigned_artifact_is_refused_and_nothing_is_installed() {
    let mirror = Mirror::start();
    mirror.put("Alpine", &alpine_v1(), 3600);
    let repo = setup(&mirror);
    run(
        &repo,
        &[
            "db",
            "push",
            "oci:store:v1",
            "--dir",
            "db",
            "--key",
            "team.key",
        ],
    )
    .expect_code(0);

    // Trust from a pipeline file's `scan.db_trust`.
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n  scan:\n    db: oci://registry.example/osv-db:v1\n    db_trust:\n      keys:\n        team: team.pub\nsign:\n  key: team.key\n",
    );
    run(
        &repo,
        &[
            "db",
            "pull",
            "oci:store:v1",
            "--dir",
            "good",
            "--pipeline",
            "pipeline.yaml",
        ],
    )
    .expect_code(0);
    let good = files(&repo.path().join("good"));
    assert!(good.contains_key("Alpine.meta.json"), "{:?}", good.keys());

    // A layer changed in the store after it was signed: refused, the database as it was.
    let manifest_digest = {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(repo.path().join("store/index.json")).unwrap())
                .unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v1")
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let blob = |d: &str| repo.path().join("store/blobs/sha256").join(&d[7..]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&manifest_digest)).unwrap()).unwrap();
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap());
    let mut bytes = std::fs::read(&layer).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&layer, &bytes).unwrap();
    let r = run(
        &repo,
        &[
            "db",
            "pull",
            "oci:store:v1",
            "--dir",
            "good",
            "--key",
            "team.pub",
        ],
    );
    r.expect_code(3);
    assert!(r.stderr.contains("digest"), "{}", r.stderr);
    assert_eq!(files(&repo.path().join("good")), good, "nothing installed");

    // An artifact nobody signed (pushed, then its signature removed): refused with exit 1.
    let sig_tag = format!("{}.sig", manifest_digest.replace(':', "-"));
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.path().join("store/index.json")).unwrap())
            .unwrap();
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["annotations"]["org.opencontainers.image.ref.name"] != sig_tag);
    std::fs::write(
        repo.path().join("store/index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    run(
        &repo,
        &[
            "db",
            "pull",
            "oci:store:v1",
            "--dir",
            "other",
            "--key",
            "team.pub",
        ],
    )
    .expect_code(1)
    .expect_stderr("no signatures");
    assert!(files(&repo.path().join("other")).is_empty());
}

/// The pipeline of a customized Alpine image gated with the database artifact `db`.
fn pipeline(db: &str, extra: &str) -> String {
    format!(
        "version: 1\nsource:\n  allow_dirty: true\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: rootfs\n        dest: /\n  scan:\n    db: {db}\n    db_trust:\n      keys:\n        team: team.pub\n    fail_on: critical\n{extra}sign:\n  key: team.key\npush:\n  tags: [v1]\n"
    )
}

#[test]
fn a_run_gates_with_a_pinned_artifact_and_refuses_a_stale_database_and_so_does_verify() {
    let Some(registry) = registry() else { return };
    let mirror = Mirror::start();
    mirror.put("Alpine", &alpine_v1(), 3600);
    let repo = setup(&mirror);
    repo.write("rootfs/etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n");
    repo.write(
        "rootfs/lib/apk/db/installed",
        "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n",
    );
    // The same archive, but fetched ten days ago (as a database nobody updated would be).
    std::fs::create_dir(repo.path().join("old")).unwrap();
    for f in std::fs::read_dir(repo.path().join("db")).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let mut bytes = std::fs::read(f.path()).unwrap();
        if name.ends_with(".meta.json") {
            let mut meta: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let old = time::OffsetDateTime::now_utc() - time::Duration::days(10);
            meta["fetched"] = old
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
                .into();
            bytes = serde_json::to_vec(&meta).unwrap();
        }
        std::fs::write(repo.path().join("old").join(name), bytes).unwrap();
    }
    let name = format!("{registry}/{}", unique("osv-db"));
    let push = |dir: &str, tag: &str| {
        let r = run(
            &repo,
            &[
                "db",
                "push",
                &format!("{name}:{tag}"),
                "--dir",
                dir,
                "--key",
                "team.key",
            ],
        );
        r.expect_code(0);
        r.last_line()
    };
    let fresh = push("db", "fresh");
    let old = push("old", "old");

    // A fresh pinned database: pulled, verified, used; the report names the artifact and age.
    repo.write(
        "pipeline.yaml",
        &pipeline(&format!("oci://{fresh}"), "    max_db_age: 48h\n"),
    );
    repo.commit();
    run(&repo, &["run"])
        .expect_code(0)
        .expect_stderr("signed by ./team.pub")
        .expect_stderr("within max_db_age 48h");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/scan-results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(finding_ids(&report), ["ALPINE-CVE-2025-26519"]);
    let database = &report["coverage"]["database"];
    assert_eq!(database["archives"][0]["artifact"], fresh, "{database:#}");
    assert_eq!(database["source"], format!("oci://{fresh}"));
    assert!(
        database["age_seconds"].as_u64().unwrap() < 48 * 3600,
        "{database:#}"
    );
    run(
        &repo,
        &[
            "verify",
            "oci:.cleanpipe/oci:v1",
            "--key",
            "team.pub",
            "--max-db-age",
            "48h",
        ],
    )
    .expect_code(0);
    // A second run with the same pin uses the verified cache.
    run(&repo, &["run"])
        .expect_code(0)
        .expect_stderr("already pulled and verified");

    // A stale database: the gate fails, saying how old it is and where the limit is written.
    repo.write(
        "pipeline.yaml",
        &pipeline(&format!("oci://{old}"), "    max_db_age: 48h\n"),
    );
    let r = run(&repo, &["run"]);
    r.expect_code(1)
        .expect_stderr("the vulnerability database is 10d 0h old")
        .expect_stderr("older than max_db_age 48h");
    assert!(r.stderr.contains("pipeline.yaml:"), "{}", r.stderr);

    // Pinned by digest and exempt in writing: the run passes, saying so.
    repo.write(
        "pipeline.yaml",
        &pipeline(
            &format!("oci://{old}"),
            "    max_db_age: 48h\n    pinned_db_exempt_from_age: \"reproducing the release scan\"\n",
        ),
    );
    run(&repo, &["run"])
        .expect_code(0)
        .expect_stderr("exempt: reproducing the release scan");
    // … but a verifier asking for a fresh database refuses the scan made with it.
    let v = run(
        &repo,
        &[
            "verify",
            "oci:.cleanpipe/oci:v1",
            "--key",
            "team.pub",
            "--max-db-age",
            "48h",
        ],
    );
    v.expect_code(1);
    assert!(v.all().contains("10d 0h old at the scan"), "{}", v.all());
    // The policy file says the same.
    repo.write(
        "policy.yaml",
        "version: 1\ntrust:\n  keys: [team.pub]\nvulnerabilities:\n  max_db_age: 2d\n",
    );
    run(
        &repo,
        &["verify", "oci:.cleanpipe/oci:v1", "--policy", "policy.yaml"],
    )
    .expect_code(1);

    // The exemption is for a database pinned by digest only.
    repo.write(
        "pipeline.yaml",
        &pipeline(
            &format!("oci://{name}:old"),
            "    max_db_age: 48h\n    pinned_db_exempt_from_age: \"old\"\n",
        ),
    );
    run(&repo, &["validate"])
        .expect_code(2)
        .expect_stderr("pinned_db_exempt_from_age");
}
