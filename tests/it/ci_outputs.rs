//! CI-native outputs with a simulated CI environment (the files are real; only the CI is
//! absent): GitHub Actions step outputs, job summary and `::error` annotations, the JUnit XML
//! report of the gates and the dotenv file for GitLab.

use std::process::Command;

use crate::support::*;

/// `cleanpipe run` as a GitHub Actions step would run it: (run, outputs file, summary file).
fn run_in_github(repo: &Repo) -> (Run, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");
    std::fs::write(&outputs, "earlier=kept\n").unwrap();
    let run = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    (run, read(&outputs), read(&summary))
}

/// A JUnit file's `(tests, failures, skipped)` as Python's XML parser reads them (so the file
/// is well-formed XML, not just text that looks like it).
fn junit_counts(path: &std::path::Path) -> (String, String, String) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; s = E.parse(sys.argv[1]).getroot().find('testsuite'); print(s.get('tests'), s.get('failures'), s.get('skipped'), len(s.findall('testcase')))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f[0], f[3], "one testcase per stage");
    (f[0].into(), f[1].into(), f[2].into())
}

#[test]
fn a_successful_run_fills_the_github_outputs_summary_and_reports() {
    let repo = scratch_repo(None, &["v1"]);
    let (run, outputs, summary) = run_in_github(&repo);
    run.expect_code(0);
    let image = run.last_line();
    let digest = &image[image.find('@').unwrap() + 1..];
    assert!(
        outputs.starts_with("earlier=kept\n"),
        "appended, not replaced: {outputs}"
    );
    assert!(outputs.contains("status=succeeded\n"), "{outputs}");
    assert!(outputs.contains(&format!("digest={digest}\n")), "{outputs}");
    assert!(outputs.contains(&format!("image={image}\n")), "{outputs}");
    assert!(outputs.contains("tags=v1\n"), "{outputs}");
    assert!(summary.contains("— succeeded"), "{summary}");
    assert!(summary.contains("| sign | passed |"), "{summary}");
    assert!(summary.contains(&format!("`{image}`")), "{summary}");
    let out = repo.path().join(".cleanpipe/out");
    assert_eq!(
        junit_counts(&out.join("junit.xml")),
        ("5".into(), "0".into(), "0".into())
    );
    let dotenv = std::fs::read_to_string(out.join("cleanpipe.env")).unwrap();
    assert!(
        dotenv.contains(&format!("CLEANPIPE_DIGEST=\"{digest}\"")),
        "{dotenv}"
    );
    assert!(!run.stdout.contains("::error"), "{}", run.stdout);
}

#[test]
fn a_gate_failure_is_annotated_and_reported_as_a_failed_test() {
    let repo = scratch_repo(None, &["v1"]);
    repo.write("hello.txt", "changed, not committed\n");
    let (run, outputs, summary) = run_in_github(&repo);
    run.expect_code(1);
    assert!(outputs.contains("status=failed\n"), "{outputs}");
    assert!(!outputs.contains("digest="), "{outputs}");
    assert!(summary.contains("**Error** in source"), "{summary}");
    assert!(
        run.stdout
            .contains("::error title=cleanpipe source failed::"),
        "{}",
        run.stdout
    );
    let out = repo.path().join(".cleanpipe/out");
    assert_eq!(
        junit_counts(&out.join("junit.xml")),
        ("5".into(), "1".into(), "4".into())
    );
}

#[test]
fn a_pipeline_file_error_is_annotated_on_its_line() {
    let repo = scratch_repo(None, &["v1"]);
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    repo.write("pipeline.yaml", &text.replace("sign:", "sgin:"));
    repo.commit();
    let (run, _, _) = run_in_github(&repo);
    run.expect_code(2);
    let line = text.lines().position(|l| l.starts_with("sign:")).unwrap() + 1;
    assert!(
        run.stdout.contains(&format!(
            "::error title=cleanpipe run failed,file=pipeline.yaml,line={line},col=1::"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn outside_github_actions_nothing_is_written_there() {
    let repo = scratch_repo(None, &["v1"]);
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("github_output");
    repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ],
    )
    .expect_code(0);
    assert!(!outputs.exists());
}

/// `plan --matrix`: one entry per tracked pipeline file (one per image), each validated; on
/// GitHub Actions also written as the `matrix` step output.
#[test]
fn plan_matrix_lists_every_tracked_pipeline_file() {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    let pipeline = |name: &str| {
        format!(
            "version: 1\nname: {name}\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: cosign.key\npush:\n  repository: 127.0.0.1:5000/acme/{name}\n"
        )
    };
    repo.write("pipeline.yaml", &pipeline("root"));
    repo.write("api/pipeline.yaml", &pipeline("api"));
    repo.write("worker.pipeline.yml", &pipeline("worker"));
    repo.write("api/hello.txt", "api\n");
    repo.write("notes/pipeline.txt", "not a pipeline\n");
    repo.write("untracked.pipeline.yaml", &pipeline("untracked"));
    std::fs::write(
        repo.path().join(".gitignore"),
        ".cleanpipe\nuntracked.pipeline.yaml\n",
    )
    .unwrap();
    repo.commit();
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("github_output");
    let out = repo.cleanpipe_env(
        &["plan", "--matrix"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ],
    );
    out.expect_code(0);
    let matrix: serde_json::Value = serde_json::from_str(&out.last_line()).unwrap();
    let entries: Vec<(&str, &str)> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["pipeline"].as_str().unwrap()))
        .collect();
    assert_eq!(
        entries,
        [
            ("api", "api/pipeline.yaml"),
            ("root", "pipeline.yaml"),
            ("worker", "worker.pipeline.yml")
        ]
    );
    assert_eq!(
        matrix["include"][0]["repository"],
        "127.0.0.1:5000/acme/api"
    );
    assert_eq!(matrix["include"][0]["directory"], "api");
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert_eq!(written, format!("matrix={}\n", out.last_line()));

    // One broken file fails the whole matrix with its location.
    repo.write(
        "api/pipeline.yaml",
        &pipeline("api").replace("sign:", "sgin:"),
    );
    repo.commit();
    repo.cleanpipe(&["plan", "--matrix"])
        .expect_code(2)
        .expect_stderr("api/pipeline.yaml:");
}
