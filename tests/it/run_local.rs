//! Runs with the layout as the only target: no registry, no Docker.

use crate::support::*;

#[test]
fn example_pipeline_runs_and_verifies() {
    let repo = Repo::new();
    repo.write_example("pipeline.example.yaml");
    repo.commit();
    repo.cleanpipe(&["run"]).expect_code(0);
    // The gate looked at the image's packages: four catalogued, each checked, one medium
    // finding (Jinja2 3.1.3) listed below the threshold.
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap(),
    )
    .unwrap();
    let scan = &report["image"]["scan"];
    assert_eq!(scan["packages"], 4, "{scan}");
    assert_eq!(scan["findings"], 1, "{scan}");
    assert_eq!(scan["failing"], serde_json::json!([]), "{scan}");
    let results =
        std::fs::read_to_string(repo.path().join(".cleanpipe/out/scan-results.json")).unwrap();
    assert!(results.contains("GHSA-h75v-3vvj-5mfj"), "{results}");
    repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:example",
        "--key",
        ".cleanpipe/example-key/cosign.pub",
        "--require-provenance",
        "--require-sbom",
        "--fail-on",
        "high",
    ])
    .expect_code(0)
    .expect_stderr("VERIFIED");
    // The same policy at `medium` refuses it: the scan attestation is what verify reads.
    repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:example",
        "--key",
        ".cleanpipe/example-key/cosign.pub",
        "--fail-on",
        "medium",
    ])
    .expect_code(1);
    // Readable by another tool: umoci (if installed) lists our tags.
    if let Ok(out) = std::process::Command::new("umoci")
        .args(["ls", "--layout", ".cleanpipe/oci"])
        .current_dir(repo.path())
        .output()
    {
        let tags = String::from_utf8_lossy(&out.stdout);
        assert!(tags.contains("example"), "umoci ls: {tags}");
    }
}

#[test]
fn same_commit_gives_same_digest() {
    let origin = scratch_repo(None, &["v1"]);
    // Two fresh clones of the same commit: other directories, other stores, same digest.
    let run_in_clone = || {
        let dir = tempfile::tempdir().unwrap();
        let clone = dir.path().join("clone");
        let status = std::process::Command::new("git")
            .args(["clone", "-q"])
            .arg(origin.path())
            .arg(&clone)
            .status()
            .unwrap();
        assert!(status.success());
        // The signing key is never committed (keygen keeps it out of Git): each clone gets it
        // the way a CI job does, beside the checkout's files.
        std::fs::copy(origin.path().join("cosign.key"), clone.join("cosign.key")).unwrap();
        std::fs::write(clone.join(".git/info/exclude"), "/cosign.key\n").unwrap();
        let out = std::process::Command::new(BIN)
            .args(["run"])
            .current_dir(&clone)
            .env("COSIGN_PASSWORD", "pw")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .rsplit('@')
            .next()
            .unwrap()
            .to_string()
    };
    let first = run_in_clone();
    assert!(first.starts_with("sha256:"));
    assert_eq!(first, run_in_clone());
}

#[test]
fn report_lists_every_stage_with_timing() {
    let repo = scratch_repo(None, &["{{git.short_sha}}", "build-{{run.number}}"]);
    repo.cleanpipe_env(
        &["run", "--report", "report.json"],
        &[("COSIGN_PASSWORD", "pw"), ("CLEANPIPE_RUN_NUMBER", "42")],
    )
    .expect_code(0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "succeeded");
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["source", "verify-base", "build", "sign", "push"]);
    assert!(report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "passed"));
    let tags: Vec<&str> = report["published"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags[1], "build-42");
    assert_eq!(tags[0].len(), 12);
}

#[test]
fn cosign_generated_key_from_env_signs_a_run() {
    let repo = Repo::new();
    repo.write("hello.txt", "hi");
    repo.write(
        "pipeline.yaml",
        &scratch_pipeline("env://COSIGN_KEY", None, &["v1"]),
    );
    repo.commit();
    let pem =
        std::fs::read_to_string(fixture("cosign/cosign-generated-empty-password.key")).unwrap();
    repo.cleanpipe_env(&["run"], &[("COSIGN_KEY", &pem), ("COSIGN_PASSWORD", "")])
        .expect_code(0);
    let pubkey = fixture("cosign/cosign-generated-empty-password.pub");
    repo.cleanpipe(&[
        "verify",
        "oci:.cleanpipe/oci:v1",
        "--key",
        pubkey.to_str().unwrap(),
    ])
    .expect_code(0);
}

#[test]
fn plan_shows_stages_without_side_effects() {
    let repo = scratch_repo(Some("127.0.0.1:1/acme/app"), &["v1"]);
    let r = repo.cleanpipe(&["plan", "--output", "json"]);
    r.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(plan["stages"].as_array().unwrap().len(), 5);
    assert_eq!(plan["repository"], "127.0.0.1:1/acme/app");
    assert!(!repo.path().join(".cleanpipe").exists());
}

#[test]
fn schema_is_json_schema_of_the_file() {
    let r = Repo::new().cleanpipe(&["schema"]);
    r.expect_code(0);
    let schema: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(schema["properties"]["build"].is_object());
    assert!(schema["properties"]["version"].is_object());
}

#[test]
fn layout_base_is_verified_and_extended() {
    let base = scratch_repo(None, &["v1"]);
    let r = base.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let digest = r.last_line().rsplit('@').next().unwrap().to_string();
    let base_layout = base.path().join(".cleanpipe/oci");
    let derived = |base_ref: &str| {
        let repo = Repo::new();
        repo.copy_in(&base.path().join("cosign.pub"), "trusted.pub");
        repo.write("extra.txt", "more\n");
        repo.keygen("cosign", "pw");
        repo.write(
            "pipeline.yaml",
            &format!(
                "version: 1\nverify_base:\n  keys: {{ team: trusted.pub }}\n  default_key: team\nbuild:\n  customize:\n    base: {base_ref}\n    files:\n      - src: extra.txt\n        dest: /extra.txt\nsign:\n  key: cosign.key\npush:\n  tags: [v2]\n"
            ),
        );
        repo.commit();
        repo
    };
    let ok = derived(&format!("oci:{}@{digest}", base_layout.display()));
    ok.cleanpipe_env(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ok.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["image"]["layers"], 2);
    assert_eq!(report["bases"][0]["digest"], digest.as_str());
    // The same base by tag only is refused, and the message offers the digest.
    derived(&format!("oci:{}:v1", base_layout.display()))
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("not pinned by digest")
        .expect_stderr(&digest);
}

#[test]
fn a_second_run_on_the_same_store_waits_for_the_first() {
    let repo = scratch_repo(None, &["v1"]);
    // Hold the store's run lock from here, as a concurrent run would.
    let lock_dir = repo.path().join(".cleanpipe/oci/cleanpipe-cache");
    std::fs::create_dir_all(&lock_dir).unwrap();
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_dir.join("run.lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(lock_dir.join("run.lock"), "4242").unwrap();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = repo
        .command(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut waited = false;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if std::fs::read_to_string(stderr.path())
            .unwrap()
            .contains("waiting for another cleanpipe run")
        {
            waited = true;
            break;
        }
    }
    assert!(waited, "the second run did not say it waits");
    assert!(
        child.try_wait().unwrap().is_none(),
        "it must not run meanwhile"
    );
    let text = std::fs::read_to_string(stderr.path()).unwrap();
    assert!(text.contains("pid 4242"), "{text}");
    assert!(
        !text.contains("▶ source"),
        "no stage may start while the store is locked: {text}"
    );
    drop(lock);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(stderr.path()).unwrap()
    );
}

/// A new repository with no `.gitignore`: cleanpipe's own writes (the store, the outputs, the
/// example key, a `keygen` key, the OSV index cache) never make the next run's tree dirty.
#[test]
fn first_runs_in_a_repository_without_gitignore_stay_clean() {
    let repo = Repo::bare();
    repo.write_example("pipeline.yaml");
    repo.commit();
    repo.cleanpipe(&["run"]).expect_code(0);
    assert_eq!(repo.git_status(), "", "the first run left changes");
    // A key made at the root as `init` advises: the private half is never committable.
    repo.keygen("cosign", "pw");
    assert_eq!(repo.git_status(), "?? cosign.pub\n");
    repo.git(&["add", "-A"]);
    let staged = repo.git_status();
    assert!(
        !staged.contains("cosign.key"),
        "git add -A took the private key: {staged}"
    );
    repo.commit();
    // The scan's index cache lives in the user's cache directory, not beside the database.
    repo.cleanpipe(&["scan", "oci:.cleanpipe/oci:example", "--db", "examples/osv"])
        .expect_code(0);
    assert_eq!(repo.git_status(), "");
    repo.cleanpipe(&["run"]).expect_code(0);
    assert_eq!(repo.git_status(), "");
    // Anything else untracked still fails the gate, also inside `.cleanpipe/`.
    repo.write(".cleanpipe/notes.txt", "x");
    repo.cleanpipe(&["run"])
        .expect_code(1)
        .expect_stderr(".cleanpipe/");
}

/// `dest: /` lays a committed directory (a vendor rootfs) over the image root: its files land at
/// their paths, the root itself gets no entry, and a file cannot replace `/`.
#[test]
fn customize_lays_a_directory_over_the_image_root() {
    let repo = Repo::new();
    repo.write("rootfs/etc/motd", "hello\n");
    repo.write("rootfs/usr/share/app/data.txt", "data\n");
    repo.write("single.txt", "x\n");
    let pipeline = |src: &str, extra: &str| {
        format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: {src}\n        dest: /\n{extra}sign:\n  key: .cleanpipe/k/cosign.key\n  generate_if_missing: true\npush:\n  tags: [v1]\n"
        )
    };
    repo.write("pipeline.yaml", &pipeline("rootfs", ""));
    repo.commit();
    repo.cleanpipe(&["run"]).expect_code(0);
    let layout = repo.path().join(".cleanpipe/oci");
    let blob = |digest: &str| {
        std::fs::read(
            layout
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v1")
        .expect("tag v1");
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(manifest["digest"].as_str().unwrap())).unwrap();
    let mut paths = Vec::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let bytes = blob(layer["digest"].as_str().unwrap());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            paths.push(entry.path().unwrap().to_string_lossy().into_owned());
        }
    }
    for want in ["etc/motd", "usr/share/app/data.txt"] {
        assert!(
            paths.iter().any(|p| p.trim_end_matches('/') == want),
            "{want} not in {paths:?}"
        );
    }
    assert!(
        !paths.iter().any(|p| matches!(p.as_str(), "" | "/" | "./")),
        "the root got an entry: {paths:?}"
    );
    repo.write("pipeline.yaml", &pipeline("single.txt", ""));
    repo.commit();
    repo.cleanpipe(&["run"])
        .expect_code(2)
        .expect_stderr("cannot replace the image root");
    repo.write(
        "pipeline.yaml",
        &pipeline("rootfs", "").replace("dest: /\n", "dest: /\n        mode: \"0700\"\n"),
    );
    repo.commit();
    repo.cleanpipe(&["run"])
        .expect_code(2)
        .expect_stderr("`mode` cannot change it");
}

/// A pipeline that cannot sign is refused before anything runs, with a hint; `run --unsigned
/// REASON` builds and gates it, signs, tags and pushes nothing, and says so in the report.
#[test]
fn a_pipeline_that_cannot_sign_is_refused_and_unsigned_runs_publish_nothing() {
    let repo = Repo::new();
    repo.write("hello.txt", "hi\n");
    repo.write_osv_db_without_matches();
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\n  scan:\n    db: osv\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    for args in [&["validate"][..], &["plan"], &["run"]] {
        repo.cleanpipe(args)
            .expect_code(2)
            .expect_stderr("the pipeline cannot sign")
            .expect_stderr("sign.keyless");
    }
    repo.cleanpipe(&["run", "--unsigned", " "])
        .expect_code(2)
        .expect_stderr("needs a reason");
    let run = repo.cleanpipe(&["run", "--unsigned", "pull request: build and scan only"]);
    run.expect_code(0)
        .expect_stderr("nothing is signed, tagged or pushed");
    assert!(!repo.layout_has_tag("v1"));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["unsigned"], "pull request: build and scan only");
    assert_eq!(report["stages"][2]["status"], "passed");
    assert_eq!(report["stages"][3]["status"], "skipped");
    assert_eq!(report["stages"][4]["status"], "skipped");
    assert!(report["signature"].is_null() && report["published"].is_null());
    // A pull-request job has no secrets: those only a push or a webhook uses are not needed.
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\n  scan:\n    db: osv\nsign:\n  keyless: true\npush:\n  tags: [v1]\n  register:\n    - url: https://hooks.example/x\n      secret: ${WEBHOOK_SECRET}\n",
    );
    repo.commit();
    repo.cleanpipe(&["run"])
        .expect_code(2)
        .expect_stderr("WEBHOOK_SECRET");
    repo.cleanpipe(&["run", "--unsigned", "pull request"])
        .expect_code(0)
        .expect_stderr("not needed by an unsigned run");
    assert!(!repo.layout_has_tag("v1"));
}

/// `cleanpipe schema | head -1`: a reader that closes the pipe ends the command quietly with
/// exit 0 (as ripgrep does), never a panic (exit 101).
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let mut child = std::process::Command::new(BIN)
        .arg("schema")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
