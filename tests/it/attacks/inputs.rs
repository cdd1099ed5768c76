//! Attack cases: pipeline input (paths, symlinks, sizes) and store integrity (kill -9,
//! concurrent runs). Only the commit goes into the image; cleanpipe never writes through a link.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::*;

/// A committed repository with a signing key, `hello.txt` and `pipeline.yaml` = `pipeline`.
fn repo_with(pipeline: &str, setup: impl FnOnce(&Repo)) -> Repo {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    setup(&repo);
    repo.write("pipeline.yaml", pipeline);
    repo.commit();
    repo
}

/// A scratch pipeline adding `files` (YAML list items) and tagging `v1`.
fn files_pipeline(files: &str, extra: &str) -> String {
    format!(
        "version: 1\n{extra}build:\n  customize:\n    base: scratch\n    files:\n{files}sign:\n  key: cosign.key\npush:\n  tags: [v1]\n"
    )
}

fn run(repo: &Repo) -> Run {
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
}

fn validate(repo: &Repo) -> Run {
    repo.cleanpipe(&["validate", "-f", "pipeline.yaml"])
}

/// A directory outside every repository, holding `victim.txt` = "keep".
fn outside() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep").unwrap();
    (dir, victim)
}

/// The entries (path, tar entry type, link target) of the single layer of the image tagged `tag`.
fn layer_entries(repo: &Repo, tag: &str) -> Vec<(String, tar::EntryType, Option<String>)> {
    let store = repo.path().join(".cleanpipe/oci");
    let blob = |d: &str| {
        store
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("index.json")).unwrap()).unwrap();
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .expect("tag exists")
        .clone();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(desc["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(blob(&layer)).unwrap());
    let mut archive = tar::Archive::new(gz);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.header().entry_type(),
                link,
            )
        })
        .collect()
}

/// Every blob in the store hashes to its name and `index.json` parses.
#[track_caller]
fn assert_layout_valid(store: &Path) {
    use sha2::Digest as _;
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("index.json")).unwrap())
            .expect("index.json is whole");
    assert!(index["manifests"].is_array());
    for e in std::fs::read_dir(store.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".partial-") {
            continue; // a temporary file is never presented under a digest name
        }
        let bytes = std::fs::read(e.path()).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            name,
            "blob {name} does not match its digest"
        );
    }
}

// ---- customize sources: only the commit goes into the image ----

#[test]
fn dotdot_src_leaving_the_repository_is_refused() {
    let (_dir, _victim) = outside();
    let repo = repo_with(
        &files_pipeline(
            "      - src: ../../../../../../etc/hostname\n        dest: /h\n",
            "",
        ),
        |_| {},
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:6:9:")
            .expect_stderr("`build.customize.files[0].src`")
            .expect_stderr("leaves the repository")
            .expect_stderr("hint: only files of the repository");
    }
    repo.assert_no_store();
}

#[test]
fn absolute_src_is_refused() {
    let repo = repo_with(
        &files_pipeline("      - src: /etc/passwd\n        dest: /p\n", ""),
        |_| {},
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:6:9:")
            .expect_stderr("`/etc/passwd` is an absolute path")
            .expect_stderr("hint: paths name files of the repository");
    }
    repo.assert_no_store();
}

#[test]
fn committed_symlink_to_a_file_outside_is_refused() {
    let (_dir, victim) = outside();
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /h\n      - src: leak\n        dest: /leak\n",
            "",
        ),
        |r| symlink(&victim, r.path().join("leak")).unwrap(),
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:8:9:")
            .expect_stderr("`build.customize.files[1].src`")
            .expect_stderr("`leak` is a symbolic link to")
            .expect_stderr("outside the repository")
            .expect_stderr("hint: cleanpipe copies links as links");
    }
    repo.assert_no_store();
}

#[test]
fn committed_symlink_to_a_directory_outside_is_refused() {
    let (dir, _victim) = outside();
    let repo = repo_with(
        &files_pipeline("      - src: etcdir\n        dest: /etc/x\n", ""),
        |r| symlink(dir.path(), r.path().join("etcdir")).unwrap(),
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("`etcdir` is a symbolic link to")
            .expect_stderr("outside the repository");
    }
    repo.assert_no_store();
}

#[test]
fn path_through_a_committed_directory_symlink_is_refused() {
    let (dir, _victim) = outside();
    let repo = repo_with(
        &files_pipeline("      - src: etcdir/victim.txt\n        dest: /v\n", ""),
        |r| symlink(dir.path(), r.path().join("etcdir")).unwrap(),
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:6:9:")
            .expect_stderr("goes through the symbolic link `etcdir`")
            .expect_stderr("hint: cleanpipe never follows links");
    }
    repo.assert_no_store();
}

#[test]
fn outside_symlink_inside_a_copied_directory_is_refused() {
    let (_dir, victim) = outside();
    let repo = repo_with(
        &files_pipeline("      - src: conf\n        dest: /etc/app\n", ""),
        |r| {
            r.write("conf/app.yaml", "a: 1\n");
            symlink(&victim, r.path().join("conf/leak")).unwrap();
        },
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("`conf/leak` is a symbolic link to")
            .expect_stderr("outside the repository");
    }
    repo.assert_no_store();
}

#[test]
fn symlink_inside_the_tree_is_copied_as_a_link() {
    let repo = repo_with(
        &files_pipeline("      - src: conf\n        dest: /etc/app\n", ""),
        |r| {
            r.write("conf/real.yaml", "a: 1\n");
            symlink("real.yaml", r.path().join("conf/current.yaml")).unwrap();
        },
    );
    run(&repo).expect_code(0);
    let entries = layer_entries(&repo, "v1");
    let link = entries
        .iter()
        .find(|e| e.0 == "etc/app/current.yaml")
        .expect("the link is in the layer");
    assert_eq!(link.1, tar::EntryType::Symlink, "{entries:?}");
    assert_eq!(link.2.as_deref(), Some("real.yaml"));
    assert!(entries
        .iter()
        .any(|e| e.0 == "etc/app/real.yaml" && e.1 == tar::EntryType::Regular));
}

#[test]
fn ignored_file_is_refused_even_though_the_tree_is_clean() {
    let repo = repo_with(
        &files_pipeline("      - src: build/secret.env\n        dest: /s\n", ""),
        |r| {
            r.write(".gitignore", ".cleanpipe\nbuild/\n");
            r.write("build/secret.env", "TOKEN=canary-ignored-3141\n");
        },
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:6:9:")
            .expect_stderr(
                "`build/secret.env` is not tracked (untracked or ignored by Git) at commit",
            )
            .expect_stderr("only the commit goes into the image")
            .expect_stderr("hint: `git add` and commit it");
        assert!(!r.all().contains("canary-ignored-3141"));
    }
    repo.assert_no_store();
}

#[test]
fn untracked_file_is_refused_with_allow_dirty() {
    let repo = repo_with(
        &files_pipeline(
            "      - src: new.txt\n        dest: /n\n",
            "source:\n  allow_dirty: true\n",
        ),
        |_| {},
    );
    repo.write("new.txt", "not committed\n");
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:8:9:")
            .expect_stderr("`new.txt` is not tracked");
    }
    repo.assert_no_store();
}

#[test]
fn ignored_files_inside_a_copied_directory_are_left_out() {
    let repo = repo_with(
        &files_pipeline("      - src: site\n        dest: /srv\n", ""),
        |r| {
            r.write(".gitignore", ".cleanpipe\nsite/cache/\n*.log\n");
            r.write("site/index.html", "<p>hi</p>\n");
            r.write("site/cache/token", "canary-cache-2718\n");
            r.write("site/debug.log", "x\n");
        },
    );
    run(&repo).expect_code(0);
    let names: Vec<String> = layer_entries(&repo, "v1")
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert!(names.contains(&"srv/index.html".to_string()), "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| !n.contains("cache") && !n.ends_with(".log")),
        "only tracked files go into the image: {names:?}"
    );
}

#[test]
fn tracked_file_replaced_by_a_link_in_a_dirty_tree_is_refused() {
    let (_dir, victim) = outside();
    std::fs::write(&victim, "canary-victim-5772").unwrap();
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /h\n",
            "source:\n  allow_dirty: true\n",
        ),
        |_| {},
    );
    std::fs::remove_file(repo.path().join("hello.txt")).unwrap();
    symlink(&victim, repo.path().join("hello.txt")).unwrap();
    let r = run(&repo);
    r.expect_code(2)
        .expect_stderr("`hello.txt` is not what commit")
        .expect_stderr("hint: restore it with `git checkout -- PATH`");
    assert!(
        !r.all().contains("canary-victim-5772"),
        "the link's target is never read"
    );
    repo.assert_nothing_tagged();
}

#[test]
fn dest_with_dotdot_is_refused_by_validate() {
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /app/../../etc/cron.d/x\n",
            "",
        ),
        |_| {},
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:7:9:")
            .expect_stderr("`build.customize.files[0].dest`")
            .expect_stderr("contains `..`")
            .expect_stderr("hint: `dest` is an absolute path in the image");
    }
    repo.assert_no_store();
}

#[test]
fn dockerfile_outside_the_context_is_refused_by_validate() {
    let repo = repo_with(
        "version: 1\nbuild:\n  dockerfile:\n    context: app\n    path: Dockerfile\nsign:\n  key: cosign.key\n",
        |r| {
            r.write("Dockerfile", "FROM scratch\n");
            r.write("app/x.txt", "x\n");
        },
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:5:5:")
            .expect_stderr("`build.dockerfile.path`")
            .expect_stderr("`Dockerfile` is outside the build context `app`")
            .expect_stderr("hint: Docker only reads the Dockerfile from inside the context");
    }
    repo.assert_no_store();
}

#[test]
fn docker_context_leaving_the_repository_is_refused_by_validate() {
    let repo = repo_with(
        "version: 1\nbuild:\n  dockerfile:\n    context: ..\n    path: ../Dockerfile\nsign:\n  key: cosign.key\n",
        |r| r.write("Dockerfile", "FROM scratch\n"),
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:4:5:")
            .expect_stderr("`build.dockerfile.context`")
            .expect_stderr("`..` leaves the repository")
            .expect_stderr("hint: only files of the repository");
    }
    repo.assert_no_store();
}

#[test]
fn bad_file_mode_is_caught_by_validate_not_only_by_run() {
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /h\n        mode: \"0999\"\n",
            "",
        ),
        |_| {},
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:8:9:")
            .expect_stderr("`build.customize.files[0].mode`: `0999` is not an octal mode")
            .expect_stderr("hint: write it quoted");
    }
    repo.assert_no_store();
}

#[test]
fn relative_key_and_database_paths_are_confined_to_the_repository() {
    let (dir, _victim) = outside();
    let repo = repo_with(
        "version: 1\nverify_base:\n  keys:\n    team: ../../../../../../../etc/ssl/certs/x.pub\nbuild:\n  customize:\n    base: scratch\nsign:\n  key: cosign.key\n",
        |_| {},
    );
    validate(&repo)
        .expect_code(2)
        .expect_stderr("pipeline.yaml:4:5:")
        .expect_stderr("`verify_base.keys.team`")
        .expect_stderr("leaves the repository")
        .expect_stderr("hint:");
    let repo = repo_with(
        "version: 1\nbuild:\n  customize:\n    base: scratch\n  scan:\n    db: osv/data\nsign:\n  key: cosign.key\n",
        |r| symlink(dir.path(), r.path().join("osv")).unwrap(),
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:6:5:")
            .expect_stderr("`build.scan.db`: `osv/data` goes through the symbolic link `osv`")
            .expect_stderr("hint: cleanpipe never follows links");
    }
    repo.assert_no_store();
}

// ---- cleanpipe's own directories ----

#[test]
fn store_at_the_file_system_root_is_refused_even_when_outside_is_allowed() {
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /h\n",
            "store: /\nstore_outside_repository: true\n",
        ),
        |_| {},
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:2:1:")
            .expect_stderr("`store`: `/` is the file system root")
            .expect_stderr("hint: use a directory of its own");
    }
    assert!(!Path::new("/cleanpipe-cache").exists());
}

#[test]
fn store_at_a_parent_of_the_repository_is_refused() {
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /h\n",
            "store: ..\nstore_outside_repository: true\n",
        ),
        |_| {},
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("`store`: `..` is a directory above the repository")
            .expect_stderr("hint:");
    }
    assert!(!repo.path().parent().unwrap().join("index.json").exists());
}

#[test]
fn outputs_at_the_repository_root_is_refused() {
    let repo = repo_with(
        &files_pipeline("      - src: hello.txt\n        dest: /h\n", "outputs: .\n"),
        |_| {},
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:2:1:")
            .expect_stderr("`outputs`: `.` is the repository root")
            .expect_stderr("hint: use a directory of its own");
    }
    assert!(!repo.path().join("report.json").exists());
}

#[test]
fn store_outside_the_repository_needs_the_explicit_key() {
    let elsewhere = tempfile::tempdir().unwrap();
    let store = elsewhere.path().join("store");
    let pipeline = |extra: &str| {
        files_pipeline(
            "      - src: hello.txt\n        dest: /h\n",
            &format!("store: {}\n{extra}", store.display()),
        )
    };
    let repo = repo_with(&pipeline(""), |_| {});
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("is outside the repository")
            .expect_stderr(
                "hint: keep it inside the repository, or set `store_outside_repository: true`",
            );
    }
    assert!(!store.exists());
    repo.write(
        "pipeline.yaml",
        &pipeline("store_outside_repository: true\n"),
    );
    repo.commit();
    validate(&repo).expect_code(0);
    run(&repo).expect_code(0);
    assert_layout_valid(&store);
}

#[test]
fn outputs_committed_as_a_symlink_is_never_written_through() {
    let (dir, victim) = outside();
    let report = dir.path().join("report.json");
    std::fs::write(&report, "keep").unwrap();
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /h\n",
            "outputs: out\n",
        ),
        |r| symlink(dir.path(), r.path().join("out")).unwrap(),
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:2:1:")
            .expect_stderr("`outputs`: `out` goes through the symbolic link `out`")
            .expect_stderr("hint: cleanpipe never follows links");
    }
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "keep");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(!dir.path().join("run-number").exists());
    repo.assert_no_store();
}

#[test]
fn default_cleanpipe_directory_committed_as_a_symlink_is_refused() {
    let (dir, _victim) = outside();
    let repo = repo_with(
        &files_pipeline("      - src: hello.txt\n        dest: /h\n", ""),
        |r| {
            r.write(".gitignore", "");
            symlink(dir.path(), r.path().join(".cleanpipe")).unwrap();
        },
    );
    run(&repo)
        .expect_code(2)
        .expect_stderr("`store`: `.cleanpipe/oci` goes through the symbolic link `.cleanpipe`")
        .expect_stderr("hint:");
    assert!(
        !dir.path().join("oci").exists(),
        "nothing written through the link"
    );
}

#[test]
fn run_number_symlink_does_not_overwrite_its_target() {
    let (_dir, victim) = outside();
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /h\n",
            "outputs: out\n",
        ),
        |r| {
            std::fs::create_dir(r.path().join("out")).unwrap();
            symlink(&victim, r.path().join("out/run-number")).unwrap();
        },
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml:2:1:")
            .expect_stderr("out/run-number` is a symbolic link")
            .expect_stderr("hint: cleanpipe never writes through symbolic links");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    repo.assert_no_store();
}

#[test]
fn committed_link_at_report_json_is_refused_before_anything_is_published() {
    let (_dir, victim) = outside();
    let repo = repo_with(
        &files_pipeline(
            "      - src: hello.txt\n        dest: /h\n",
            "outputs: out\n",
        ),
        |r| {
            std::fs::create_dir(r.path().join("out")).unwrap();
            symlink(&victim, r.path().join("out/report.json")).unwrap();
        },
    );
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("out/report.json` is a symbolic link")
            .expect_stderr("where cleanpipe writes its files")
            .expect_stderr("hint: cleanpipe never writes through symbolic links");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    repo.assert_no_store();
}

#[test]
fn keygen_onto_a_symlink_is_refused_even_with_force() {
    let (_dir, victim) = outside();
    let repo = Repo::new();
    symlink(&victim, repo.path().join("cosign.key")).unwrap();
    for args in [&["keygen"][..], &["keygen", "--force"][..]] {
        repo.cleanpipe_env(args, &[("COSIGN_PASSWORD", "pw")])
            .expect_code(2)
            .expect_stderr("`cosign.key` is a symbolic link")
            .expect_stderr("hint: cleanpipe never writes through symbolic links");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    // The public half too.
    std::fs::remove_file(repo.path().join("cosign.key")).unwrap();
    symlink(&victim, repo.path().join("cosign.pub")).unwrap();
    repo.cleanpipe_env(&["keygen", "--force"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(2)
        .expect_stderr("`cosign.pub` is a symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(!repo.path().join("cosign.key").exists());
}

#[test]
fn report_onto_a_symlink_is_refused_before_the_run() {
    let (_dir, victim) = outside();
    let repo = repo_with(
        &files_pipeline("      - src: hello.txt\n        dest: /h\n", ""),
        |r| symlink(&victim, r.path().join("r.json")).unwrap(),
    );
    repo.cleanpipe_env(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(2)
        .expect_stderr("refusing to write `r.json`")
        .expect_stderr("is a symbolic link")
        .expect_stderr("hint:");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    repo.assert_no_store();
}

// ---- pipeline file size and nesting ----

#[test]
fn oversized_pipeline_is_refused_before_parsing() {
    let mut text = files_pipeline("      - src: hello.txt\n        dest: /h\n", "");
    text.push_str(&format!("# {}\n", "x".repeat(2 * 1024 * 1024)));
    let repo = repo_with(&text, |_| {});
    let started = Instant::now();
    for r in [validate(&repo), run(&repo)] {
        r.expect_code(2)
            .expect_stderr("pipeline.yaml: the pipeline file is larger than 1024 KiB")
            .expect_stderr("hint: a pipeline file describes one build");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    repo.assert_no_store();
}

#[test]
fn deeply_nested_flow_pipeline_is_refused_fast() {
    let text = format!("version: 1\nname: {}\n", "[".repeat(100_000));
    let repo = repo_with(&text, |_| {});
    let started = Instant::now();
    validate(&repo)
        .expect_code(2)
        .expect_stderr("pipeline.yaml:2: the pipeline file nests deeper than 64 levels")
        .expect_stderr("hint:");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "sanity bound: took {:?}",
        started.elapsed()
    );
}

#[test]
fn deeply_nested_block_sequences_are_refused() {
    let text = format!("version: 1\nname:\n  {}x\n", "- ".repeat(5_000));
    let repo = repo_with(&text, |_| {});
    let started = Instant::now();
    validate(&repo)
        .expect_code(2)
        .expect_stderr("pipeline.yaml:3: the pipeline file nests deeper than 64 levels");
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---- store integrity ----

#[test]
fn kill_9_mid_run_leaves_a_valid_layout_and_the_next_run_succeeds() {
    let (port, _held) = hanging_registry();
    let repo = repo_with(
        &scratch_pipeline(
            "cosign.key",
            Some(&format!("127.0.0.1:{port}/it/app")),
            &["v1"],
        ),
        |r| r.write("local.yaml", &scratch_pipeline("cosign.key", None, &["v2"])),
    );
    let mut child = repo
        .command(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = repo.path().join(".cleanpipe/oci");
    for _ in 0..200 {
        if std::fs::read_to_string(store.join("index.json")).is_ok_and(|i| i.contains(".sig")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup runs
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");
    assert_layout_valid(&store);
    let index = std::fs::read_to_string(store.join("index.json")).unwrap();
    assert!(
        !index.contains("\"v1\""),
        "the killed run tagged nothing: {index}"
    );
    // The lock died with the process; the next run takes it and succeeds.
    repo.cleanpipe_env(&["run", "-f", "local.yaml"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    assert_layout_valid(&store);
    repo.cleanpipe(&["verify", "oci:.cleanpipe/oci:v2", "--key", "cosign.pub"])
        .expect_code(0)
        .expect_stderr("VERIFIED");
}

#[test]
fn two_concurrent_runs_on_one_store_both_succeed() {
    let repo = scratch_repo(None, &["v1"]);
    let spawn = || {
        repo.command(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let digest = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(digest(&a), digest(&b), "same commit, same image");
    let store = repo.path().join(".cleanpipe/oci");
    assert_layout_valid(&store);
    repo.cleanpipe(&["verify", "oci:.cleanpipe/oci:v1", "--key", "cosign.pub"])
        .expect_code(0)
        .expect_stderr("VERIFIED");
}

// ---- Docker build context ----

fn docker_context_repo(extra: &str) -> Repo {
    repo_with(
        &format!("version: 1\nbuild:\n  dockerfile:\n    path: Dockerfile\n{extra}sign:\n  key: cosign.key\npush:\n  tags: [v1]\n"),
        |r| {
            r.write(".gitignore", ".cleanpipe\ndist/\n");
            r.write(".dockerignore", "cosign.key\n");
            r.write("Dockerfile", "FROM scratch\nCOPY dist/app.txt /app.txt\nCOPY hello.txt /hello.txt\n");
            r.write("dist/app.txt", "built output\n");
        },
    )
}

#[test]
fn docker_context_sends_only_tracked_files_by_default() {
    if !docker() {
        return;
    }
    let repo = docker_context_repo("");
    let r = run(&repo);
    r.expect_code(1)
        .expect_stderr("not tracked at the commit were not sent")
        .expect_stderr("`dist/`")
        .expect_stderr("include_untracked")
        .expect_stderr("the Docker build failed");
    repo.assert_nothing_tagged();
}

#[test]
fn docker_context_untracked_files_allowed_explicitly_are_named_in_the_provenance() {
    if !docker() {
        return;
    }
    let repo = docker_context_repo("    include_untracked: [\"dist/*.txt\"]\n");
    run(&repo)
        .expect_code(0)
        .expect_stderr("sending untracked `dist/app.txt`");
    let statement: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/provenance.intoto.json"))
            .unwrap(),
    )
    .unwrap();
    use sha2::Digest as _;
    let expected = hex::encode(sha2::Sha256::digest(b"built output\n"));
    assert_eq!(
        statement["predicate"]["buildDefinition"]["externalParameters"]["untrackedContext"],
        serde_json::json!([{"path": "dist/app.txt", "digest": {"sha256": expected}}])
    );
}

#[test]
fn docker_context_symlink_to_outside_is_sent_as_a_link_never_followed() {
    if !docker() {
        return;
    }
    let (_dir, victim) = outside();
    std::fs::write(&victim, "canary-host-file-1618\n").unwrap();
    let repo = repo_with(
        "version: 1\nbuild:\n  dockerfile:\n    path: Dockerfile\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n",
        |r| {
            r.write(".dockerignore", "cosign.key\n");
            r.write("Dockerfile", "FROM scratch\nCOPY leak /leak\n");
            symlink(&victim, r.path().join("leak")).unwrap();
        },
    );
    let r = run(&repo);
    // Docker cannot resolve the link inside the context: the build fails; the host file was
    // never read into the context.
    r.expect_code(1).expect_stderr("the Docker build failed");
    assert!(!r.all().contains("canary-host-file-1618"));
    repo.assert_nothing_tagged();
}
