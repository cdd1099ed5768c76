//! Bad input: a clear message with a location or a fix, the documented exit code, nothing published.

use crate::support::*;

fn pipeline_error(text: &str) -> Run {
    let repo = Repo::new();
    repo.write("pipeline.yaml", text);
    repo.commit();
    repo.cleanpipe(&["validate", "-f", "pipeline.yaml"])
}

#[test]
fn malformed_yaml_is_exit_2_with_location() {
    let r = pipeline_error("version: 1\nbuild:\n  customize: [base: scratch\n");
    r.expect_code(2).expect_stderr("pipeline.yaml:");
    assert!(
        r.stderr
            .lines()
            .next()
            .unwrap()
            .contains("pipeline.yaml:4:")
            || r.stderr.contains("pipeline.yaml:3:"),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_key_names_line_column_path_and_suggestion() {
    let r = pipeline_error(
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    enviroment: {A: b}\n",
    );
    r.expect_code(2)
        .expect_stderr("pipeline.yaml:5:5:")
        .expect_stderr("`build.customize`")
        .expect_stderr("unknown field `enviroment`")
        .expect_stderr("hint: did you mean `env`?");
}

#[test]
fn wrong_type_is_located() {
    pipeline_error(
        "version: 1\nsource:\n  allow_dirty: sometimes\nbuild:\n  customize:\n    base: scratch\n",
    )
    .expect_code(2)
    .expect_stderr("pipeline.yaml:3:16:")
    .expect_stderr("source.allow_dirty");
}

#[test]
fn unset_variable_is_an_error_never_empty() {
    pipeline_error("version: 1\nname: app-${CLEANPIPE_TEST_SURELY_UNSET}\nbuild:\n  customize:\n    base: scratch\n")
        .expect_code(2)
        .expect_stderr("pipeline.yaml:2:11:")
        .expect_stderr("`CLEANPIPE_TEST_SURELY_UNSET` is not set");
}

#[test]
fn webhook_and_scanner_settings_that_cannot_work_are_located_errors() {
    let r = pipeline_error("version: 1\nbuild:\n  customize:\n    base: scratch\npush:\n  register:\n    - url: http://x.example/\n");
    r.expect_code(2)
        .expect_stderr("pipeline.yaml:6:3:")
        .expect_stderr("loopback");
    let r = pipeline_error("version: 1\nbuild:\n  customize:\n    base: scratch\n  scan:\n    scanner: grype\n    db: osv\n");
    r.expect_code(2)
        .expect_stderr("pipeline.yaml:5:3:")
        .expect_stderr("`db` is for the builtin scanner");
}

#[test]
fn scan_without_database_or_waiver_reason_is_a_pipeline_error() {
    pipeline_error(
        "version: 1\nbuild:\n  customize:\n    base: scratch\n  scan:\n    fail_on: high\n",
    )
    .expect_code(2)
    .expect_stderr("pipeline.yaml:5:3:")
    .expect_stderr("needs `db`");
    pipeline_error("version: 1\nbuild:\n  customize:\n    base: scratch\n  scan:\n    db: osv\n    waivers:\n      - id: CVE-1\n        expires: 2027-01-01\n")
        .expect_code(2)
        .expect_stderr("missing field `reason`");
}

#[test]
fn not_a_git_repository() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pipeline.yaml"),
        scratch_pipeline("k.key", None, &[]),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["run"])
        .current_dir(dir.path())
        .env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not inside a Git repository"),
        "{stderr}"
    );
    assert!(
        !dir.path().join(".cleanpipe/oci/index.json").exists(),
        "nothing may be built"
    );
}

#[test]
fn dirty_tree_fails_the_source_gate_and_nothing_runs_after_it() {
    let repo = scratch_repo(None, &["v1"]);
    repo.write("uncommitted.txt", "x");
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1)
        .expect_stderr("uncommitted changes")
        .expect_stderr("uncommitted.txt");
    assert!(r.stderr.contains("verify-base  not run"), "{}", r.stderr);
    assert!(!repo.path().join(".cleanpipe/oci/index.json").exists());
}

#[test]
fn quiet_run_still_prints_the_error_and_its_hint() {
    let repo = scratch_repo(None, &["v1"]);
    repo.write("uncommitted.txt", "x");
    let r = repo.cleanpipe_env(&["-q", "run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1)
        .expect_stderr("error: [source]")
        .expect_stderr("uncommitted.txt")
        .expect_stderr("hint:");
    assert!(
        !r.stderr.contains("▶ source"),
        "-q hides progress:\n{}",
        r.stderr
    );
}

#[test]
fn missing_key_file_is_exit_2_and_nothing_tagged() {
    let repo = Repo::new();
    repo.write("hello.txt", "hi");
    repo.write(
        "pipeline.yaml",
        &scratch_pipeline("nope.key", None, &["v1"]),
    );
    repo.commit();
    repo.cleanpipe(&["run"])
        .expect_code(2)
        .expect_stderr("cannot read the signing key")
        .expect_stderr("cleanpipe keygen");
    let index = std::fs::read_to_string(repo.path().join(".cleanpipe/oci/index.json")).unwrap();
    assert!(
        !index.contains("\"v1\""),
        "no tag may point at an unsigned image: {index}"
    );
}

#[test]
fn wrong_password_is_exit_2_and_never_printed() {
    let repo = scratch_repo(None, &["v1"]);
    let canary = "canary-Wr0ng-pa55word";
    let r = repo.cleanpipe_env(
        &["run", "--report", "report.json"],
        &[("COSIGN_PASSWORD", canary)],
    );
    r.expect_code(2).expect_stderr("wrong password");
    assert!(!r.all().contains(canary));
    let report = std::fs::read_to_string(repo.path().join("report.json")).unwrap();
    assert!(!report.contains(canary));
}

#[test]
fn secrets_from_variables_never_reach_output_or_report() {
    let repo = Repo::new();
    repo.write("hello.txt", "hi");
    repo.keygen("cosign", "pw");
    // The secret ends up in a label value of the image and in an error message path.
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: ${SECRET_NAME}\n        dest: /x\nsign:\n  key: cosign.key\n",
    );
    repo.commit();
    let canary = "canary-t0ken-8675309";
    let r = repo.cleanpipe_env(
        &["run", "--report", "r.json"],
        &[("COSIGN_PASSWORD", "pw"), ("SECRET_NAME", canary)],
    );
    r.expect_code(2).expect_stderr("***");
    assert!(!r.all().contains(canary), "{}", r.all());
    assert!(!std::fs::read_to_string(repo.path().join("r.json"))
        .unwrap()
        .contains(canary));
}

#[test]
fn keygen_refuses_to_overwrite() {
    let repo = Repo::new();
    repo.keygen("cosign", "");
    let meta = std::fs::metadata(repo.path().join("cosign.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    repo.cleanpipe_env(&["keygen"], &[("COSIGN_PASSWORD", "")])
        .expect_code(2)
        .expect_stderr("--force");
    repo.cleanpipe_env(&["keygen", "--force"], &[("COSIGN_PASSWORD", "")])
        .expect_code(0);
}

#[test]
fn registry_password_never_printed() {
    let repo = scratch_repo(Some("127.0.0.1:9/it/app"), &["v1"]);
    let canary = "canary-registry-Pa55";
    let r = repo.cleanpipe_stdin(
        &[
            "run",
            "--registry-username",
            "bob",
            "--registry-password-stdin",
            "--report",
            "r.json",
        ],
        &[("COSIGN_PASSWORD", "pw")],
        &format!("{canary}\n"),
    );
    r.expect_code(3);
    assert!(!r.all().contains(canary));
    assert!(!std::fs::read_to_string(repo.path().join("r.json"))
        .unwrap()
        .contains(canary));
}

#[test]
fn ctrl_c_stops_the_run_publishes_nothing_and_exits_130() {
    // A "registry" that accepts connections and never answers: the push stage hangs there.
    let (port, held) = hanging_registry();
    let repo = scratch_repo(Some(&format!("127.0.0.1:{port}/it/app")), &["v1"]);
    let child = repo
        .command(&["run", "--report", "r.json"], &[("COSIGN_PASSWORD", "pw")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run is in its push stage (the signature exists in the layout), then interrupt.
    let index = repo.path().join(".cleanpipe/oci/index.json");
    for _ in 0..200 {
        if std::fs::read_to_string(&index).is_ok_and(|i| i.contains(".sig")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("r.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "interrupted");
    assert_eq!(report["stages"][4]["status"], "interrupted");
    assert!(
        !std::fs::read_to_string(&index).unwrap().contains("\"v1\""),
        "no tag may move"
    );
    drop(held);
}

/// Shell completions and the man page come from the clap definitions: bash parses the script
/// and it completes the subcommands; groff renders the page with the commands in it.
#[test]
fn completions_and_the_man_page_are_generated_from_the_command_line() {
    let repo = Repo::new();
    let bash = repo.cleanpipe(&["completions", "bash"]);
    bash.expect_code(0);
    assert!(bash.stdout.contains("_cleanpipe()"), "{}", bash.stdout);
    let script = repo.path().join("cleanpipe.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let words = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(cleanpipe ve); COMP_CWORD=1; _cleanpipe cleanpipe ve cleanpipe; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&words.stdout);
    assert!(words.lines().any(|w| w == "verify"), "{words}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        repo.cleanpipe(&["completions", shell]).expect_code(0);
    }
    repo.cleanpipe(&["completions", "tcsh"]).expect_code(2);
    let man = repo.cleanpipe(&["man"]);
    man.expect_code(0);
    let page = repo.path().join("cleanpipe.1");
    std::fs::write(&page, &man.stdout).unwrap();
    let rendered = std::process::Command::new("groff")
        .args(["-man", "-Tutf8"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(rendered.status.success());
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(text.contains("cleanpipe-verify(1)"), "{text}");
}

#[test]
fn a_database_artifact_without_trust_or_a_bad_max_db_age_is_a_located_error() {
    let scan = |extra: &str| {
        format!("version: 1\nbuild:\n  customize:\n    base: scratch\n  scan:\n{extra}sign:\n  key: cosign.key\n")
    };
    let r = pipeline_error(&scan("    db: oci://registry.example/osv-db:v1\n"));
    r.expect_code(2)
        .expect_stderr("pipeline.yaml:6:")
        .expect_stderr("`db_trust` must name who may have signed it");
    pipeline_error(&scan(
        "    db: oci://registry.example/osv-db:v1\n    db_trust:\n      keys: {}\n",
    ))
    .expect_code(2)
    .expect_stderr("trusts no key and no identity");
    pipeline_error(&scan("    db: osv\n    max_db_age: 2y\n"))
        .expect_code(2)
        .expect_stderr("`y` in `2y` is not a unit");
    pipeline_error(&scan(
        "    db: osv\n    max_db_age: 48h\n    pinned_db_exempt_from_age: \"release\"\n",
    ))
    .expect_code(2)
    .expect_stderr("it needs `db: oci://…@sha256:…` and `max_db_age`");
}
