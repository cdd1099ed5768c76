//! `cleanpipe init` in temporary Git repositories. Every CI file it writes is checked by the
//! validator its ecosystem uses, built or installed by `.ci/run` (paths in
//! `CLEANPIPE_TEST_ACTIONLINT`, `_CHECK_JSONSCHEMA`, `_GROOVY_JAR`, `_SHELLCHECK`): actionlint
//! (with shellcheck) for GitHub workflows; check-jsonschema's vendored schemas for GitHub
//! workflows, GitLab CI, Cloud Build and this repository's `action.yml`; Apache Groovy's parser
//! for the Jenkinsfile; shellcheck for the scripts inside the GitLab, Jenkins and Cloud Build
//! files. Each validator is also shown to reject a broken file. The starter pipelines pass
//! `cleanpipe validate`, and a customize starter really runs: signed with the key a CI secret
//! holds and pushed to the test registry.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::sbom_scan::test_data;
use crate::support::*;

pub(crate) const WORKFLOW: &str = ".github/workflows/cleanpipe.yml";

/// The validators, or `None` (skip) off CI.
pub(crate) struct Validators {
    actionlint: PathBuf,
    check_jsonschema: PathBuf,
    groovy_jar: PathBuf,
    shellcheck: PathBuf,
}

/// What a validator said.
pub(crate) struct Verdict {
    ok: bool,
    text: String,
}

impl Verdict {
    fn of(out: Output) -> Verdict {
        Verdict {
            ok: out.status.success(),
            text: format!(
                "exit {:?}\n{}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    #[track_caller]
    pub(crate) fn passes(&self, what: &str) {
        assert!(self.ok, "{what} was rejected:\n{}", self.text);
    }

    #[track_caller]
    fn rejects(&self, what: &str, needle: &str) {
        assert!(!self.ok, "{what} was accepted:\n{}", self.text);
        assert!(
            self.text.contains(needle),
            "{what}: the rejection does not mention {needle:?}:\n{}",
            self.text
        );
    }
}

pub(crate) fn validators() -> Option<Validators> {
    if !crate::catalogers::tool("java", "to run Groovy's parser") {
        return None;
    }
    Some(Validators {
        actionlint: test_data(
            "CLEANPIPE_TEST_ACTIONLINT",
            "actionlint v1.7.12, built by `.ci/run`",
        )?,
        check_jsonschema: test_data(
            "CLEANPIPE_TEST_CHECK_JSONSCHEMA",
            "check-jsonschema 0.37.0 in a venv, installed by `.ci/run`",
        )?,
        groovy_jar: test_data(
            "CLEANPIPE_TEST_GROOVY_JAR",
            "Apache Groovy 5.0.8's jar, fetched by `.ci/run`",
        )?,
        shellcheck: test_data(
            "CLEANPIPE_TEST_SHELLCHECK",
            "shellcheck, installed by `.ci/run`",
        )?,
    })
}

/// A validator's command with no way off loopback (they should not try; if one does, it fails).
fn offline(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "")
        .stdin(Stdio::null());
    cmd
}

impl Validators {
    /// actionlint on `files` (relative to `repo`, which it reads local actions from).
    pub(crate) fn actionlint(&self, repo: &Path, files: &[&str]) -> Verdict {
        Verdict::of(
            offline(&self.actionlint)
                .arg("-no-color")
                .arg(format!("-shellcheck={}", self.shellcheck.display()))
                .args(files)
                .current_dir(repo)
                .output()
                .unwrap(),
        )
    }

    /// check-jsonschema with one of its vendored schemas.
    pub(crate) fn schema(&self, builtin: &str, file: &Path) -> Verdict {
        Verdict::of(
            offline(&self.check_jsonschema)
                .args(["--builtin-schema", builtin])
                .arg(file)
                .output()
                .unwrap(),
        )
    }

    /// Groovy's parser (to the CONVERSION phase) on each file, in one JVM.
    pub(crate) fn groovy(&self, files: &[PathBuf]) -> Verdict {
        Verdict::of(
            offline(Path::new("java"))
                .arg("-cp")
                .arg(&self.groovy_jar)
                .arg("groovy.ui.GroovyMain")
                .arg(support_script("groovy_syntax.groovy"))
                .args(files)
                .output()
                .unwrap(),
        )
    }

    /// shellcheck on a script for `shell` (bash or sh).
    pub(crate) fn shell(&self, shell: &str, script: &str) -> Verdict {
        let mut cmd = offline(&self.shellcheck);
        cmd.args(["-s", shell, "-"]);
        Verdict::of(output_with_stdin(cmd, script))
    }
}

/// A repository with a committed Dockerfile at its root.
fn dockerfile_repo() -> Repo {
    let repo = Repo::new();
    repo.write("Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n");
    repo.write("hello.txt", "hello\n");
    repo.commit();
    repo
}

/// A repository with no Dockerfile and no pipeline file.
fn customize_repo() -> Repo {
    let repo = Repo::new();
    repo.write("README.md", "an app\n");
    repo.commit();
    repo
}

/// A repository tracking two pipeline files: `api/pipeline.yaml` (customize) and
/// `worker/pipeline.yaml` (a Dockerfile build).
fn multi_repo() -> Repo {
    let repo = Repo::new();
    let pipeline = |name: &str, build: &str| {
        format!("version: 1\nname: {name}\nbuild:\n{build}sign:\n  key: env://COSIGN_PRIVATE_KEY\npush:\n  repository: 127.0.0.1:5000/acme/{name}\n")
    };
    repo.write(
        "api/pipeline.yaml",
        &pipeline("api", "  customize:\n    base: scratch\n"),
    );
    repo.write(
        "worker/pipeline.yaml",
        &pipeline("worker", "  dockerfile:\n    path: Dockerfile\n"),
    );
    repo.write("worker/Dockerfile", "FROM scratch\n");
    repo.commit();
    repo
}

fn read(repo: &Repo, rel: &str) -> String {
    std::fs::read_to_string(repo.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[track_caller]
fn contains_all(text: &str, what: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{what} lacks {n:?}:\n{text}");
    }
}

/// `init --ci CI` in `repo`: exit 0, and every file it names on stdout exists.
fn init(repo: &Repo, ci: &str) -> Run {
    let run = repo.cleanpipe(&["init", "--ci", ci]);
    run.expect_code(0);
    for line in run.stdout.lines() {
        assert!(Path::new(line).is_file(), "{line} was not written");
    }
    run
}

/// The starter pipeline passes `cleanpipe validate` and `plan`, builds the way the repository
/// asks, and signs keylessly where the CI gives cleanpipe an OIDC token (GitHub, GitLab), with
/// the CI's key elsewhere (saying how to sign keylessly instead).
#[track_caller]
fn starter_is_valid(repo: &Repo, dockerfile: bool) {
    starter_signs(repo, dockerfile, false)
}

#[track_caller]
fn starter_signs(repo: &Repo, dockerfile: bool, keyless: bool) {
    repo.cleanpipe(&["validate", "-f", "pipeline.yaml"])
        .expect_code(0);
    repo.cleanpipe(&["plan", "-f", "pipeline.yaml"])
        .expect_code(0);
    let text = read(repo, "pipeline.yaml");
    contains_all(
        &text,
        "the starter",
        &[
            if dockerfile {
                "\n  dockerfile:"
            } else {
                "\n  customize:\n    base: scratch "
            },
            "repository: ${IMAGE_REPOSITORY:-}",
        ],
    );
    if keyless {
        contains_all(
            &text,
            "the keyless starter",
            &["  keyless: true\n", "#   identities:", "#       issuer: "],
        );
        assert!(!text.contains("key: env://"), "{text}");
        let policy = read(repo, "policy.yaml");
        contains_all(
            &policy,
            "policy.yaml",
            &["trust:\n  identities:\n", "issuer: "],
        );
    } else {
        contains_all(
            &text,
            "the key starter",
            &[
                "key: env://COSIGN_PRIVATE_KEY",
                "replace `key:` with `keyless: true`",
            ],
        );
        assert!(!repo.path().join("policy.yaml").exists());
    }
    assert_eq!(text.contains("dockerfile:"), dockerfile, "{text}");
}

/// The scripts of every GitLab job (`before_script` of the template, then `script`), by job.
pub(crate) fn gitlab_scripts(text: &str) -> Vec<(String, String)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    let lines = |v: &serde_yaml::Value| -> String {
        v.as_sequence()
            .map(|s| {
                s.iter()
                    .map(|l| l.as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let before = lines(&doc[".cleanpipe"]["before_script"]);
    doc.as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, job)| job.get("script").is_some())
        .map(|(name, job)| {
            (
                name.as_str().unwrap().to_string(),
                format!("{before}\n{}\n", lines(&job["script"])),
            )
        })
        .collect()
}

/// The `sh '''…'''` scripts of a Jenkinsfile (the generated ones use no Groovy escapes).
pub(crate) fn jenkins_scripts(text: &str) -> Vec<String> {
    text.split("sh '''")
        .skip(1)
        .map(|s| s.split("'''").next().unwrap().to_string())
        .collect()
}

/// The `bash -c` script of every Cloud Build step, with Cloud Build's `$$` escapes undone.
pub(crate) fn cloudbuild_scripts(text: &str) -> Vec<(String, String)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    doc["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|step| {
            assert_eq!(step["entrypoint"], "bash", "{step:?}");
            assert_eq!(step["args"][0], "-c", "{step:?}");
            (
                step["id"].as_str().unwrap().to_string(),
                step["args"][1].as_str().unwrap().replace("$$", "$"),
            )
        })
        .collect()
}

#[test]
fn github_workflows_pass_actionlint_and_the_workflow_schema() {
    let Some(v) = validators() else { return };
    for (repo, dockerfile) in [(dockerfile_repo(), true), (customize_repo(), false)] {
        init(&repo, "github");
        starter_signs(&repo, dockerfile, true);
        let wf = read(&repo, WORKFLOW);
        assert!(
            !wf.contains("secrets.COSIGN"),
            "keyless: no key secrets\n{wf}"
        );
        contains_all(
            &wf,
            "the workflow",
            &[
                "id-token: write",
                "pull_request:",
                "--unsigned \"pull request: build and scan only\"",
                "CLEANPIPE_GIT: ${{ vars.CLEANPIPE_GIT }}",
                "--git \"$CLEANPIPE_GIT\" --tag \"$CLEANPIPE_VERSION\"",
                "uses: docker/login-action@v3",
                "PIPELINE: \"pipeline.yaml\"",
                "cleanpipe run -f \"$PIPELINE\"",
                "uses: actions/upload-artifact@v4",
                "path: \".cleanpipe/out/\"",
                "environment: production",
                "IMAGE: ${{ needs.build.outputs.image }}",
                "--policy policy.yaml --commit \"$GITHUB_SHA\" --output digest",
            ],
        );
        assert!(!wf.contains("cargo install --locked cleanpipe"), "{wf}");
        assert!(!wf.contains("strategy:"), "one pipeline, no matrix:\n{wf}");
        v.actionlint(repo.path(), &[WORKFLOW])
            .passes("the workflow (actionlint)");
        v.schema("vendor.github-workflows", &repo.path().join(WORKFLOW))
            .passes("the workflow (schema)");
    }
}

#[test]
fn several_pipeline_files_make_a_github_matrix_from_plan_matrix() {
    let Some(v) = validators() else { return };
    let repo = multi_repo();
    let run = init(&repo, "github");
    assert!(
        !repo.path().join("pipeline.yaml").exists(),
        "no starter next to tracked pipelines"
    );
    assert!(
        run.stderr.contains("2 pipeline file(s) already tracked"),
        "{}",
        run.stderr
    );
    let wf = read(&repo, WORKFLOW);
    contains_all(
        &wf,
        "the matrix workflow",
        &[
            "run: cleanpipe plan --matrix",
            "matrix: ${{ steps.plan.outputs.matrix }}",
            "matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}",
            "PIPELINE: ${{ matrix.pipeline }}",
            "path: ${{ matrix.outputs }}/",
            "name: cleanpipe-${{ matrix.name }}",
            "id-token: write",
            "environment: production",
            "COSIGN_PRIVATE_KEY: ${{ secrets.COSIGN_PRIVATE_KEY }}",
            "COSIGN_PASSWORD: ${{ secrets.COSIGN_PASSWORD }}",
            "name: check ${{ matrix.name }}",
            "--key cosign.pub --commit \"$GITHUB_SHA\" --output digest",
        ],
    );
    v.actionlint(repo.path(), &[WORKFLOW])
        .passes("the matrix workflow (actionlint)");
    v.schema("vendor.github-workflows", &repo.path().join(WORKFLOW))
        .passes("the matrix workflow (schema)");

    // What the first job runs gives the fields the matrix jobs read.
    let plan = repo.cleanpipe(&["plan", "--matrix"]);
    plan.expect_code(0);
    let matrix: serde_json::Value = serde_json::from_str(&plan.last_line()).unwrap();
    let cells: Vec<(&str, &str, &str)> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap(),
                e["pipeline"].as_str().unwrap(),
                e["outputs"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            ("api", "api/pipeline.yaml", "api/.cleanpipe/out"),
            ("worker", "worker/pipeline.yaml", "worker/.cleanpipe/out")
        ]
    );

    // The validators can fail: a job that needs a job that is not there, an unknown key.
    std::fs::write(
        repo.path().join(WORKFLOW),
        wf.replacen("needs: plan\n", "needs: planning\n", 1),
    )
    .unwrap();
    v.actionlint(repo.path(), &[WORKFLOW])
        .rejects("a workflow needing a missing job", "planning");
    std::fs::write(
        repo.path().join(WORKFLOW),
        wf.replacen(
            "    runs-on: ubuntu-latest\n",
            "    runs-on: ubuntu-latest\n    stepz: []\n",
            1,
        ),
    )
    .unwrap();
    v.schema("vendor.github-workflows", &repo.path().join(WORKFLOW))
        .rejects("a workflow with an unknown job key", "stepz");
}

#[test]
fn gitlab_ci_files_pass_the_gitlab_schema_and_shellcheck() {
    let Some(v) = validators() else { return };
    let checked = |repo: &Repo, what: &str| -> serde_yaml::Value {
        let text = read(repo, ".gitlab-ci.yml");
        contains_all(
            &text,
            what,
            &[
                "id_tokens:\n    SIGSTORE_ID_TOKEN:\n      aud: sigstore",
                "keyless",
                "\"$CI_REGISTRY\"",
                "when: manual",
                "environment: production",
                "junit: $OUTPUTS/junit.xml",
                "dotenv: $OUTPUTS/cleanpipe.env",
                "merge_request_event",
                "--unsigned \"pull request: build and scan only\"",
                "--git \"$CLEANPIPE_GIT\" --tag \"$CLEANPIPE_VERSION\"",
                "paths: [.cleanpipe/bin/, .cleanpipe/osv/]",
                "--commit \"$CI_COMMIT_SHA\" --output digest",
            ],
        );
        v.schema("vendor.gitlab-ci", &repo.path().join(".gitlab-ci.yml"))
            .passes(what);
        for (job, script) in gitlab_scripts(&text) {
            v.shell("bash", &script)
                .passes(&format!("{what}: the script of {job}"));
        }
        serde_yaml::from_str(&text).unwrap()
    };
    for (repo, dockerfile) in [(dockerfile_repo(), true), (customize_repo(), false)] {
        init(&repo, "gitlab");
        starter_signs(&repo, dockerfile, true);
        let doc = checked(&repo, "the GitLab file");
        let text = read(&repo, ".gitlab-ci.yml");
        assert!(text.contains("--policy policy.yaml"), "{text}");
        assert!(!text.contains("COSIGN_PRIVATE_KEY"), "{text}");
        assert_eq!(doc["build"]["variables"]["PIPELINE"], "pipeline.yaml");
        assert_eq!(doc["deploy"]["variables"]["OUTPUTS"], ".cleanpipe/out");
        assert_eq!(doc["variables"]["IMAGE_REPOSITORY"], "$CI_REGISTRY_IMAGE");
        assert_eq!(
            doc["build"].get("services").is_some(),
            dockerfile,
            "a Docker engine only for a Dockerfile build: {doc:?}"
        );
        assert!(doc["build"].get("parallel").is_none());
    }

    let repo = multi_repo();
    init(&repo, "gitlab");
    let doc = checked(&repo, "the GitLab matrix file");
    let cells: Vec<(&str, &str)> = doc["build"]["parallel"]["matrix"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["PIPELINE"].as_str().unwrap(),
                c["OUTPUTS"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            ("api/pipeline.yaml", "api/.cleanpipe/out"),
            ("worker/pipeline.yaml", "worker/.cleanpipe/out")
        ]
    );
    assert!(
        doc["build"].get("services").is_some(),
        "worker is a Dockerfile build"
    );
    for (name, pipeline) in [
        ("api", "api/pipeline.yaml"),
        ("worker", "worker/pipeline.yaml"),
    ] {
        let deploy = &doc[format!("deploy: {name}").as_str()];
        assert_eq!(deploy["rules"][0]["when"], "manual", "{doc:?}");
        assert_eq!(
            deploy["needs"][0]["parallel"]["matrix"][0]["PIPELINE"], pipeline,
            "each deploy needs its own build: {deploy:?}"
        );
    }

    let text = read(&repo, ".gitlab-ci.yml");
    assert!(
        text.contains("COSIGN_PRIVATE_KEY=\"$(cat \"$COSIGN_PRIVATE_KEY_FILE\")\"")
            && text.contains("--key cosign.pub"),
        "key-signed pipelines: the key from its File variable\n{text}"
    );
    // The schema can fail.
    let text = text.replace("when: manual", "when: sometimes");
    std::fs::write(repo.path().join(".gitlab-ci.yml"), text).unwrap();
    v.schema("vendor.gitlab-ci", &repo.path().join(".gitlab-ci.yml"))
        .rejects("`when: sometimes`", "sometimes");
}

#[test]
fn jenkinsfiles_parse_with_groovy_and_their_scripts_pass_shellcheck() {
    let Some(v) = validators() else { return };
    let mut files = Vec::new();
    let mut texts = Vec::new();
    for (repo, dockerfile) in [(dockerfile_repo(), true), (customize_repo(), false)] {
        init(&repo, "jenkins");
        starter_is_valid(&repo, dockerfile);
        texts.push(read(&repo, "Jenkinsfile"));
        files.push((repo, false));
    }
    let multi = multi_repo();
    init(&multi, "jenkins");
    texts.push(read(&multi, "Jenkinsfile"));
    files.push((multi, true));
    for (text, (_, matrix)) in texts.iter().zip(&files) {
        contains_all(
            text,
            "the Jenkinsfile",
            &[
                "file(credentialsId: 'cosign-private-key', variable: 'COSIGN_KEY_FILE')",
                "string(credentialsId: 'cosign-password', variable: 'COSIGN_PASSWORD')",
                "usernamePassword(credentialsId: 'registry-credentials'",
                "set +x",
                "input {",
                "junit allowEmptyResults: true",
                "archiveArtifacts",
                "--key cosign.pub --commit \"$GIT_COMMIT\" --output digest",
            ],
        );
        if *matrix {
            contains_all(
                text,
                "the parallel Jenkinsfile",
                &[
                    "parallel {",
                    "stage('api') {",
                    "stage('worker: deploy') {",
                    "PIPELINE = 'worker/pipeline.yaml'",
                ],
            );
        } else {
            contains_all(text, "the Jenkinsfile", &["PIPELINE = 'pipeline.yaml'"]);
        }
        let scripts = jenkins_scripts(text);
        assert_eq!(scripts.len(), if *matrix { 4 } else { 2 }, "{text}");
        for s in scripts {
            v.shell("sh", &s).passes("a Jenkinsfile `sh` script");
        }
    }
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(r, _)| r.path().join("Jenkinsfile"))
        .collect();
    v.groovy(&paths).passes("the Jenkinsfiles");

    // The parser can fail: a missing brace, and an escape Groovy does not know.
    let dir = tempfile::tempdir().unwrap();
    let unclosed = dir.path().join("Unclosed");
    std::fs::write(&unclosed, texts[0].trim_end().trim_end_matches('}')).unwrap();
    v.groovy(std::slice::from_ref(&unclosed))
        .rejects("a Jenkinsfile without its last brace", "Unclosed");
    let escape = dir.path().join("Escape");
    std::fs::write(&escape, texts[0].replace("set +x", "set +x \\(")).unwrap();
    v.groovy(std::slice::from_ref(&escape))
        .rejects("a Jenkinsfile with `\\(` in a ''' string", "Escape");
}

#[test]
fn cloud_build_files_pass_the_cloudbuild_schema_and_shellcheck() {
    let Some(v) = validators() else { return };
    let checked = |repo: &Repo, what: &str| -> Vec<String> {
        let text = read(repo, "cloudbuild.yaml");
        contains_all(
            &text,
            what,
            &[
                "availableSecrets:",
                "secretManager:",
                "env: COSIGN_PRIVATE_KEY",
                "secretEnv: [COSIGN_PASSWORD, COSIGN_PRIVATE_KEY]",
                "--git \"$$git_url\" --tag \"${_CLEANPIPE_VERSION}\"",
                "\"$$HOME/.cleanpipe/bin/cleanpipe\" run",
                "Cloud KMS key",
                "--require-approval",
                "gcloud auth print-access-token",
                "artifacts:",
                "--output digest",
            ],
        );
        v.schema("vendor.cloudbuild", &repo.path().join("cloudbuild.yaml"))
            .passes(what);
        let mut ids = Vec::new();
        for (id, script) in cloudbuild_scripts(&text) {
            v.shell("bash", &script)
                .passes(&format!("{what}: the script of step {id}"));
            ids.push(id);
        }
        ids
    };
    for (repo, dockerfile) in [(dockerfile_repo(), true), (customize_repo(), false)] {
        init(&repo, "cloudbuild");
        starter_is_valid(&repo, dockerfile);
        let ids = checked(&repo, "the Cloud Build file");
        assert_eq!(
            ids,
            [
                "registry-login",
                "install",
                "cleanpipe-run",
                "verify-and-deploy"
            ]
        );
        let text = read(&repo, "cloudbuild.yaml");
        assert!(
            text.contains(
                "_IMAGE_REPOSITORY: \"${LOCATION}-docker.pkg.dev/${PROJECT_ID}/containers/"
            ),
            "{text}"
        );
    }
    let repo = multi_repo();
    init(&repo, "cloudbuild");
    let ids = checked(&repo, "the Cloud Build file for two pipelines");
    assert_eq!(
        ids,
        [
            "registry-login",
            "install",
            "cleanpipe-run-api",
            "verify-and-deploy-api",
            "cleanpipe-run-worker",
            "verify-and-deploy-worker"
        ]
    );
    let text = read(&repo, "cloudbuild.yaml");
    assert!(
        !text.contains("_IMAGE_REPOSITORY"),
        "an unused substitution fails a build:\n{text}"
    );

    // The schema can fail.
    std::fs::write(
        repo.path().join("cloudbuild.yaml"),
        text.replacen("  - id: install\n", "  - id: install\n    waitFor: -1\n", 1),
    )
    .unwrap();
    v.schema("vendor.cloudbuild", &repo.path().join("cloudbuild.yaml"))
        .rejects("`waitFor: -1`", "-1");
}

/// The repository's own composite action: its metadata passes the actions schema, and
/// actionlint checks a workflow's use of it against its inputs and outputs.
#[test]
fn the_github_action_passes_its_schema_and_actionlint_checks_its_use() {
    let Some(v) = validators() else { return };
    let action = Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    v.schema("vendor.github-actions", &action)
        .passes("action.yml");
    let repo = Repo::new();
    repo.copy_in(&action, "action.yml");
    let workflow = |with: &str| {
        format!(
            "name: release\non: [push]\npermissions:\n  contents: read\n  packages: write\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - id: cleanpipe\n        uses: ./\n        with:\n          pipeline: pipeline.yaml\n          registry: ghcr.io\n          registry-password: ${{{{ secrets.GITHUB_TOKEN }}}}\n          key: ${{{{ secrets.COSIGN_PRIVATE_KEY }}}}\n          key-password: ${{{{ secrets.COSIGN_PASSWORD }}}}\n{with}      - env:\n          IMAGE: ${{{{ steps.cleanpipe.outputs.image }}}}\n          DIGEST: ${{{{ steps.cleanpipe.outputs.digest }}}}\n          TAGS: ${{{{ steps.cleanpipe.outputs.tags }}}}\n        run: echo \"$IMAGE $DIGEST $TAGS\"\n"
        )
    };
    repo.write(
        ".github/workflows/release.yml",
        &workflow("          args: --quiet\n"),
    );
    v.actionlint(repo.path(), &[".github/workflows/release.yml"])
        .passes("a workflow using the action");
    v.schema(
        "vendor.github-workflows",
        &repo.path().join(".github/workflows/release.yml"),
    )
    .passes("a workflow using the action (schema)");
    repo.write(
        ".github/workflows/release.yml",
        &workflow("          pipeline-file: other.yaml\n"),
    );
    v.actionlint(repo.path(), &[".github/workflows/release.yml"])
        .rejects("an input the action does not have", "pipeline-file");
}

/// A second `init` names every file that is there, writes nothing, and leaves them as they
/// were; with one of the two missing, still nothing is written; `--force` overwrites.
#[test]
fn init_never_overwrites_without_force() {
    let repo = customize_repo();
    let first = repo.cleanpipe(&["init"]);
    first.expect_code(0);
    assert!(
        first.stderr.contains("CI: github (no CI file found"),
        "{}",
        first.stderr
    );
    assert!(first.stderr.contains("next steps:"), "{}", first.stderr);
    assert!(first.stderr.contains("CLEANPIPE_GIT"), "{}", first.stderr);
    let pipeline = read(&repo, "pipeline.yaml");
    let workflow = read(&repo, WORKFLOW);
    // The user's line kept, cleanpipe's added once.
    let gitignore = read(&repo, ".gitignore");
    assert!(gitignore.starts_with(".cleanpipe\n"), "{gitignore}");
    for l in [".cleanpipe/", "*.key", "cosign.key"] {
        assert_eq!(
            gitignore.lines().filter(|x| *x == l).count(),
            1,
            "{gitignore}"
        );
    }

    let again = repo.cleanpipe(&["init"]);
    again
        .expect_code(2)
        .expect_stderr(
            "`pipeline.yaml`, `policy.yaml`, `.github/workflows/cleanpipe.yml` already exist",
        )
        .expect_stderr("nothing was written")
        .expect_stderr("--force");
    assert_eq!(read(&repo, "pipeline.yaml"), pipeline);
    assert_eq!(read(&repo, WORKFLOW), workflow);

    std::fs::remove_file(repo.path().join(WORKFLOW)).unwrap();
    repo.write("pipeline.yaml", "# mine\n");
    repo.cleanpipe(&["init"])
        .expect_code(2)
        .expect_stderr("`pipeline.yaml`, `policy.yaml` already exist");
    assert!(!repo.path().join(WORKFLOW).exists(), "nothing written");
    assert_eq!(read(&repo, "pipeline.yaml"), "# mine\n");

    repo.cleanpipe(&["init", "--force"]).expect_code(0);
    assert_eq!(read(&repo, "pipeline.yaml"), pipeline);
    assert_eq!(read(&repo, WORKFLOW), workflow);
    assert_eq!(read(&repo, ".gitignore"), gitignore, "nothing added twice");
    use std::os::unix::fs::PermissionsExt;
    for f in ["pipeline.yaml", "policy.yaml", WORKFLOW] {
        let mode = std::fs::metadata(repo.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{f}");
    }

    // A link in the way is refused, never written through.
    let outside = tempfile::tempdir().unwrap();
    std::fs::remove_file(repo.path().join("pipeline.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("x"), repo.path().join("pipeline.yaml"))
        .unwrap();
    repo.cleanpipe(&["init", "--force"])
        .expect_code(2)
        .expect_stderr("symbolic link");
    assert!(!outside.path().join("x").exists());
}

/// Without `--ci`, the CI whose file the repository has; that file exists, so it is refused
/// until `--force`.
#[test]
fn without_ci_the_repository_s_own_ci_is_chosen() {
    for (file, ci, marker) in [
        ("Jenkinsfile", "jenkins", "pipeline {"),
        (".gitlab-ci.yml", "gitlab", "id_tokens:"),
        ("cloudbuild.yaml", "cloudbuild", "availableSecrets:"),
    ] {
        let repo = customize_repo();
        repo.write(file, "# the old one\n");
        repo.cleanpipe(&["init"])
            .expect_code(2)
            .expect_stderr(&format!("CI: {ci} (found `{file}`"))
            .expect_stderr(&format!("`{file}`"));
        assert!(!repo.path().join("pipeline.yaml").exists());
        repo.cleanpipe(&["init", "--force"]).expect_code(0);
        assert!(read(&repo, file).contains(marker), "{file}");
    }
    let repo = customize_repo();
    repo.write(".github/CODEOWNERS", "* @team\n");
    repo.cleanpipe(&["init"])
        .expect_code(0)
        .expect_stderr("CI: github (found `.github`");
    assert!(repo.path().join(WORKFLOW).is_file());
}

/// `--dir` writes the pipeline there and the CI file at the root, naming the pipeline's path.
#[test]
fn init_in_a_subdirectory_points_the_ci_file_at_it() {
    let repo = customize_repo();
    repo.write("svc/Dockerfile", "FROM scratch\n");
    repo.commit();
    let run = repo.cleanpipe(&["init", "--ci", "gitlab", "--dir", "svc"]);
    run.expect_code(0);
    let pipeline = read(&repo, "svc/pipeline.yaml");
    assert!(pipeline.contains("name: svc\n"), "{pipeline}");
    assert!(pipeline.contains("dockerfile:"), "{pipeline}");
    repo.cleanpipe(&["validate", "-f", "svc/pipeline.yaml"])
        .expect_code(0);
    let ci = read(&repo, ".gitlab-ci.yml");
    assert!(ci.contains("PIPELINE: \"svc/pipeline.yaml\""), "{ci}");
    assert!(ci.contains("OUTPUTS: \"svc/.cleanpipe/out\""), "{ci}");
    assert!(!repo.path().join("svc/.gitlab-ci.yml").exists());
}

/// One tracked pipeline file elsewhere: no starter, and the single form runs that file.
#[test]
fn one_tracked_pipeline_file_gets_the_single_form() {
    let Some(v) = validators() else { return };
    let repo = multi_repo();
    std::fs::remove_dir_all(repo.path().join("worker")).unwrap();
    repo.commit();
    let run = init(&repo, "github");
    assert!(
        run.stderr
            .contains("1 pipeline file(s) already tracked (api/pipeline.yaml)"),
        "{}",
        run.stderr
    );
    assert!(!repo.path().join("pipeline.yaml").exists());
    let wf = read(&repo, WORKFLOW);
    contains_all(
        &wf,
        "the workflow",
        &[
            "PIPELINE: \"api/pipeline.yaml\"",
            "path: \"api/.cleanpipe/out/\"",
        ],
    );
    assert!(!wf.contains("strategy:"), "{wf}");
    v.actionlint(repo.path(), &[WORKFLOW])
        .passes("the workflow for api/pipeline.yaml");
}

#[test]
fn bad_init_input_is_exit_2() {
    let repo = customize_repo();
    repo.cleanpipe(&["init", "--ci", "travis"])
        .expect_code(2)
        .expect_stderr("invalid value 'travis'")
        .expect_stderr("github");
    repo.cleanpipe(&["init", "--dir", "README.md"])
        .expect_code(2)
        .expect_stderr("`README.md` is not a directory");
    repo.cleanpipe(&["init", "--dir", "nowhere"])
        .expect_code(2)
        .expect_stderr("`nowhere` cannot be used");
    let plain = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["init", "--ci", "github"])
        .current_dir(plain.path())
        .env("GIT_CEILING_DIRECTORIES", plain.path().parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("git init"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_dir(plain.path()).unwrap().count(),
        0,
        "nothing written"
    );
    // A tracked pipeline file that does not validate stops init before anything is written.
    let broken = multi_repo();
    broken.write(
        "api/pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\nsgin: {}\n",
    );
    broken.commit();
    broken
        .cleanpipe(&["init", "--ci", "github"])
        .expect_code(2)
        .expect_stderr("api/pipeline.yaml:5:1:");
    assert!(!broken.path().join(WORKFLOW).exists());
}

/// The customize starter is a pipeline that runs: with the key from `COSIGN_PRIVATE_KEY` (as the
/// CI files pass it) and `IMAGE_REPOSITORY`, it signs and pushes, and `verify --output digest`
/// (what the deploy jobs run) gives the pushed digest.
#[test]
fn the_customize_starter_runs_signs_with_the_ci_key_and_pushes() {
    let Some(registry) = registry() else { return };
    let repo = customize_repo();
    init(&repo, "jenkins");
    repo.commit();
    let keys = tempfile::tempdir().unwrap();
    let prefix = keys.path().join("cosign");
    repo.keygen(prefix.to_str().unwrap(), "pw");
    let pem = std::fs::read_to_string(prefix.with_extension("key")).unwrap();
    let target = format!("{registry}/{}", unique("it/init"));
    let run = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PRIVATE_KEY", &pem),
            ("COSIGN_PASSWORD", "pw"),
            ("IMAGE_REPOSITORY", &target),
        ],
    );
    run.expect_code(0);
    let image = run.last_line();
    assert!(
        image.starts_with(&format!("{target}@sha256:")),
        "{}",
        run.all()
    );
    let env = read(&repo, ".cleanpipe/out/cleanpipe.env");
    assert!(
        env.contains(&format!("CLEANPIPE_IMAGE=\"{image}\"")),
        "{env}"
    );
    let pubkey = prefix.with_extension("pub");
    let verified = repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        pubkey.to_str().unwrap(),
        "--output",
        "digest",
    ]);
    verified.expect_code(0);
    assert_eq!(verified.last_line(), image);
}

// ---------------------------------------------------------------------------------------------
// First runs: from an empty directory, `init`, commit, then the generated CI file's own steps.

/// A stand-in for a CI machine: a home directory outside the checkout, and a `cargo` that
/// checks it is asked to install cleanpipe from a Git URL at a tag into a `--root`, then puts
/// this build's cleanpipe there (so the CI file's own install path, and only it, holds it).
/// Nothing else is on PATH but the system's tools.
struct FakeCi {
    home: tempfile::TempDir,
    tools: tempfile::TempDir,
    /// A directory with only `cleanpipe`: the user's own shell, for what `init` prints.
    user_bin: tempfile::TempDir,
}

/// The Git URL the tests set once, as a user would.
const CLEANPIPE_GIT: &str = "https://git.example.test/cleanpipe.git";

impl FakeCi {
    fn new() -> FakeCi {
        let tools = tempfile::tempdir().unwrap();
        let cargo = tools.path().join("cargo");
        std::fs::write(
            &cargo,
            r#"#!/bin/bash
set -eu
printf '%s\n' "$*" >> "$FAKE_CI_CARGO_LOG"
[ "${1:-}" = install ] || { echo "cargo stub: only install" >&2; exit 2; }
shift
root= git= tag= crate= path=
while [ $# -gt 0 ]; do
  case "$1" in
    --locked|--force) ;;
    --root) root=$2; shift ;;
    --git) git=$2; shift ;;
    --tag) tag=$2; shift ;;
    --path) path=$2; shift ;;
    -*) echo "cargo stub: unexpected option $1" >&2; exit 2 ;;
    *) crate=$1 ;;
  esac
  shift
done
if [ -n "$path" ] && [ -f "$path/Cargo.toml" ] && [ -n "$root" ] && [ -z "$git$crate" ]; then
  :
elif [ -z "$git" ] || [ -z "$tag" ] || [ -z "$root" ] || [ "$crate" != cleanpipe ]; then
  echo "cargo stub: wants --git URL --tag TAG --root DIR cleanpipe (or --path DIR --root DIR)" >&2; exit 2
fi
mkdir -p "$root/bin"
cp "$FAKE_CI_CLEANPIPE" "$root/bin/cleanpipe"
"#,
        )
        .unwrap();
        let user_bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(BIN, user_bin.path().join("cleanpipe")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeCi {
            home: tempfile::tempdir().unwrap(),
            tools,
            user_bin,
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn cargo_log(&self) -> String {
        std::fs::read_to_string(self.tools.path().join("cargo.log")).unwrap_or_default()
    }

    /// `shell -c script` in `dir` with only `env` (plus PATH, HOME, and the network settings
    /// of the test's own environment).
    fn run(&self, shell: &[&str], script: &str, dir: &Path, env: &[(String, String)]) -> Output {
        let mut cmd = Command::new(shell[0]);
        cmd.args(&shell[1..])
            .arg(script)
            .current_dir(dir)
            .env_clear();
        for k in [
            "NO_PROXY",
            "no_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
            "SSL_CERT_FILE",
            "TMPDIR",
            "LANG",
        ] {
            if let Ok(v) = std::env::var(k) {
                cmd.env(k, v);
            }
        }
        cmd.env(
            "PATH",
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                self.tools.path().display()
            ),
        )
        .env("HOME", self.home())
        .env("FAKE_CI_CARGO_LOG", self.tools.path().join("cargo.log"))
        .env("FAKE_CI_CLEANPIPE", BIN)
        .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// The user's shell running a command `init` printed (cleanpipe on PATH).
    fn user(&self, command: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push((
            "PATH".into(),
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                self.user_bin.path().display()
            ),
        ));
        self.run(&["bash", "-eu", "-c"], command, dir, &env)
    }
}

#[track_caller]
fn succeeded(out: &Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// The commands (between backticks) of `init`'s next step starting with `lead`.
fn printed_commands(stderr: &str, lead: &str) -> Vec<String> {
    let line = stderr
        .lines()
        .find(|l| {
            l.trim_start()
                .split_once(". ")
                .is_some_and(|(_, rest)| rest.starts_with(lead))
        })
        .unwrap_or_else(|| panic!("no next step starting {lead:?}:\n{stderr}"));
    line.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The tree is clean: nothing cleanpipe, the install or the run wrote shows up.
#[track_caller]
fn clean(repo: &Repo, after: &str) {
    let status = repo.git_status();
    assert!(status.is_empty(), "after {after}, `git status`:\n{status}");
}

/// `${{ … }}` in a GitHub value, each expression looked up in `known` (an unknown one fails
/// the test: the replay must know every expression a replayed step uses).
fn github_expressions(value: &str, known: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap() + start;
        let expr = rest[start + 3..end].trim();
        let v = known
            .iter()
            .find(|(k, _)| *k == expr)
            .unwrap_or_else(|| panic!("the replay does not know `{expr}`"));
        out.push_str(&v.1);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// GitHub Actions' `name=value` and `name<<DELIM` lines (GITHUB_ENV, GITHUB_OUTPUT).
fn github_file(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some((k, delim)) = l.split_once("<<") {
            let mut v = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                v.push(l);
            }
            out.push((k.to_string(), v.join("\n")));
        } else if let Some((k, v)) = l.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

/// Variables in order; a later one overrides an earlier of the same name.
type Env = Vec<(String, String)>;

/// Replay one job of a workflow: every `run:` step with the workflow's and the step's `env`,
/// at the repository root, as GitHub runs it (`bash -e -o pipefail`), with GITHUB_ENV,
/// GITHUB_PATH and GITHUB_OUTPUT; `uses:` steps (checkout, cache, login, artifacts) are
/// GitHub's own and skipped. `adjust` sees the environment after each step (by name).
/// Returns the output of the steps with an `id`, and everything they printed.
fn replay_github_job(
    ci: &FakeCi,
    repo: &Repo,
    workflow: &serde_yaml::Value,
    job: &str,
    base: &[(String, String)],
    known: &[(&str, String)],
    adjust: &mut dyn FnMut(&str, &mut Env),
) -> (Vec<(String, String)>, String) {
    let files = tempfile::tempdir().unwrap();
    // As on every GitHub runner.
    let mut env: Vec<(String, String)> = vec![("GITHUB_ACTIONS".into(), "true".into())];
    env.extend_from_slice(base);
    for (k, v) in workflow["env"].as_mapping().unwrap() {
        env.push((
            k.as_str().unwrap().into(),
            github_expressions(v.as_str().unwrap(), known),
        ));
    }
    let mut path_extra: Vec<String> = Vec::new();
    let mut outputs = Vec::new();
    let mut printed = String::new();
    let steps = workflow["jobs"][job]["steps"].as_sequence().unwrap();
    for (n, step) in steps.iter().enumerate() {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        let name = step["name"].as_str().unwrap_or("").to_string();
        let (ge, gp, go) = (
            files.path().join(format!("env{n}")),
            files.path().join(format!("path{n}")),
            files.path().join(format!("output{n}")),
        );
        let mut step_env = env.clone();
        if let Some(map) = step["env"].as_mapping() {
            for (k, v) in map {
                step_env.push((
                    k.as_str().unwrap().into(),
                    github_expressions(v.as_str().unwrap(), known),
                ));
            }
        }
        let path: String = path_extra
            .iter()
            .rev()
            .cloned()
            .chain([format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                ci.tools.path().display()
            )])
            .collect::<Vec<_>>()
            .join(":");
        step_env.push(("PATH".into(), path));
        for (k, p) in [
            ("GITHUB_ENV", &ge),
            ("GITHUB_PATH", &gp),
            ("GITHUB_OUTPUT", &go),
        ] {
            std::fs::write(p, "").unwrap();
            step_env.push((k.into(), p.display().to_string()));
        }
        let out = ci.run(
            &[
                "bash",
                "--noprofile",
                "--norc",
                "-e",
                "-o",
                "pipefail",
                "-c",
            ],
            script,
            repo.path(),
            &step_env,
        );
        printed.push_str(&succeeded(&out, &format!("{job}: step `{name}`")));
        env.extend(github_file(&ge));
        path_extra.extend(
            std::fs::read_to_string(&gp)
                .unwrap()
                .lines()
                .map(str::to_string),
        );
        if step["id"].is_string() {
            outputs.extend(github_file(&go));
        }
        adjust(&name, &mut env);
    }
    (outputs, printed)
}

// The local Sigstore instance of the keyless tests (`.ci/sigstore-stack`).
use crate::keyless::{stack as sigstore, Stack as Sigstore};

/// Point a starter at the local instance instead of the public-good one: the pipeline's
/// signing config, and the policy's issuer, trusted root and (no CT log here) SCTs. The only
/// edits the tests make to what `init` wrote.
fn adopt(stack: &Sigstore, repo: &Repo, issuer: &str, identity: Option<&str>) {
    let pipeline = read(repo, "pipeline.yaml");
    assert!(pipeline.contains("  keyless: true\n"), "{pipeline}");
    repo.write(
        "pipeline.yaml",
        &pipeline.replace(
            "  keyless: true\n",
            &format!(
                "  keyless:\n    signing_config: {}\n",
                stack.dir.join("signing_config.json").display()
            ),
        ),
    );
    let policy = read(repo, "policy.yaml");
    let mut lines: Vec<String> = Vec::new();
    for l in policy.lines() {
        if let Some(pad) = l
            .strip_suffix(l.trim_start())
            .filter(|_| l.trim_start().starts_with("issuer: "))
        {
            lines.push(format!("{pad}issuer: {issuer}"));
        } else if let (Some(id), Some(pad)) = (
            identity,
            l.strip_suffix(l.trim_start())
                .filter(|_| l.trim_start().starts_with("- identity: ")),
        ) {
            lines.push(format!("{pad}- identity: {id}"));
        } else {
            lines.push(l.to_string());
        }
    }
    lines.push(format!(
        "  trusted_root: {}\n  insecure_ignore_sct: true",
        stack.dir.join("trusted_root.json").display()
    ));
    repo.write("policy.yaml", &(lines.join("\n") + "\n"));
}

/// `git rev-parse HEAD`.
fn head(repo: &Repo) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// GitHub, keyless, end to end: an empty directory with a GitHub `origin`; `init`; commit;
/// the local run `init` prints; then the workflow's own jobs replayed: the pull-request job
/// with no secret and no OIDC token, the build job signing keylessly through the GitHub
/// Actions token request (the local Sigstore instance), the deploy job verifying with the
/// `policy.yaml` init wrote. The tree stays clean throughout; a policy trusting another
/// workflow refuses the image.
#[test]
fn github_first_run_replays_the_workflow_keyless_end_to_end() {
    let Some(registry) = registry() else { return };
    let Some(stack) = sigstore() else { return };
    let ci = FakeCi::new();
    let repo = Repo::bare();
    repo.git(&["remote", "add", "origin", "git@github.com:acme/app.git"]);
    let init_run = repo.cleanpipe(&["init", "--ci", "github"]);
    init_run.expect_code(0);
    let identity = "https://github.com/acme/app/.github/workflows/cleanpipe.yml@refs/heads/main";
    assert!(read(&repo, "policy.yaml").contains(&format!("- identity: \"{identity}\"")));
    let gitignore = read(&repo, ".gitignore");
    for l in [".cleanpipe/", "*.key", "cosign.key"] {
        assert_eq!(
            gitignore.lines().filter(|x| *x == l).count(),
            1,
            "{gitignore}"
        );
    }
    adopt(&stack, &repo, &format!("{}/github", stack.issuer), None);
    repo.cleanpipe(&["validate"]).expect_code(0);
    repo.commit();
    clean(&repo, "init and commit");

    // The first local run, as printed.
    let local = printed_commands(&init_run.stderr, "run it here once committed");
    succeeded(&ci.user(&local[0], repo.path(), &[]), &local[0]);
    clean(&repo, "the first local run");

    let workflow: serde_yaml::Value = serde_yaml::from_str(&read(&repo, WORKFLOW)).unwrap();
    let sha = head(&repo);
    let base = vec![
        ("GITHUB_SHA".to_string(), sha.clone()),
        ("GITHUB_REPOSITORY".into(), "acme/app".into()),
        ("GITHUB_REF".into(), "refs/heads/main".into()),
        ("GITHUB_WORKSPACE".into(), repo.path().display().to_string()),
    ];
    let known = vec![("vars.CLEANPIPE_GIT", CLEANPIPE_GIT.to_string())];

    // A pull request: no secrets, no token.
    let (_, printed) = replay_github_job(
        &ci,
        &repo,
        &workflow,
        "pull-request",
        &base,
        &known,
        &mut |_, _| {},
    );
    assert!(
        printed.contains("sign") && printed.contains("skipped"),
        "{printed}"
    );
    assert!(
        ci.cargo_log()
            .contains(&format!("--git {CLEANPIPE_GIT} --tag v")),
        "{}",
        ci.cargo_log()
    );
    assert!(ci.home().join(".cleanpipe/bin/cleanpipe").is_file());
    clean(&repo, "the pull-request job");

    // A push to main: the GitHub Actions token, for this repository's workflow.
    let target = format!("{registry}/{}", unique("it/init-github"));
    let claims = format!(
        r#"{{"job_workflow_ref":"acme/app/.github/workflows/cleanpipe.yml@refs/heads/main","workflow_ref":"acme/app/.github/workflows/cleanpipe.yml@refs/heads/main","sha":"{sha}"}}"#
    );
    let request_url = format!(
        "{}/github/actions?claims={}",
        stack.issuer,
        claims
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            })
            .collect::<String>()
    );
    let mut build_env = base.clone();
    build_env.extend([
        ("GITHUB_ACTIONS".to_string(), "true".to_string()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL".into(), request_url),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
            std::env::var("CLEANPIPE_TEST_OIDC_REQUEST_TOKEN").unwrap(),
        ),
    ]);
    let (outputs, _) = replay_github_job(
        &ci,
        &repo,
        &workflow,
        "build",
        &build_env,
        &known,
        &mut |step, env| {
            if step.starts_with("Push to ghcr.io") {
                // The step names ghcr.io for this repository; the test pushes to its own
                // registry instead.
                let set = env
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "IMAGE_REPOSITORY")
                    .cloned();
                assert_eq!(
                    set,
                    Some(("IMAGE_REPOSITORY".into(), "ghcr.io/acme/app".into()))
                );
                env.push(("IMAGE_REPOSITORY".into(), target.clone()));
            }
        },
    );
    clean(&repo, "the build job");
    let image = outputs
        .iter()
        .find(|(k, _)| k == "image")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no `image` output: {outputs:?}"));
    assert!(image.starts_with(&format!("{target}@sha256:")), "{image}");

    // The deploy job, verifying with policy.yaml.
    let mut known_deploy = known.clone();
    known_deploy.push(("needs.build.outputs.image", image.clone()));
    let (_, printed) = replay_github_job(
        &ci,
        &repo,
        &workflow,
        "deploy",
        &base,
        &known_deploy,
        &mut |_, _| {},
    );
    assert!(printed.contains(&format!("deploying {image}")), "{printed}");
    clean(&repo, "the deploy job");

    // Another workflow of the same repository is not the signer the policy trusts.
    let policy = read(&repo, "policy.yaml");
    repo.write(
        "policy.yaml",
        &policy.replace(
            identity,
            "https://github.com/acme/app/.github/workflows/other.yml@refs/heads/main",
        ),
    );
    let refused = repo.cleanpipe(&["verify", &image, "--policy", "policy.yaml"]);
    assert_ne!(refused.code, 0, "{}", refused.all());
}

/// `$NAME`, `${NAME}` (and `$$`) in a GitLab variable's value, from `env` (unset: empty, as
/// GitLab does).
fn gitlab_expand(value: &str, env: &[(String, String)]) -> String {
    let lookup = |n: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = r.find('}').unwrap();
            out.push_str(&lookup(&r[..end]));
            rest = &r[end + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push_str(&lookup(&after[..end]));
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Replay a GitLab job: the template's `before_script` and the job's `script` in one shell
/// (`bash -e -o pipefail`, in `$CI_PROJECT_DIR`), with the file's global and job variables
/// expanded as GitLab expands them.
fn replay_gitlab_job(
    ci: &FakeCi,
    repo: &Repo,
    text: &str,
    job: &str,
    predefined: &[(String, String)],
) -> String {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    let script = gitlab_scripts(text)
        .into_iter()
        .find(|(name, _)| name == job)
        .unwrap_or_else(|| panic!("no job {job}"))
        .1;
    let mut env = predefined.to_vec();
    for vars in [&doc["variables"], &doc[job]["variables"]] {
        if let Some(map) = vars.as_mapping() {
            for (k, v) in map {
                let value = gitlab_expand(v.as_str().unwrap(), &env);
                env.push((k.as_str().unwrap().to_string(), value));
            }
        }
    }
    succeeded(
        &ci.run(
            &[
                "bash",
                "--noprofile",
                "--norc",
                "-e",
                "-o",
                "pipefail",
                "-c",
            ],
            &script,
            repo.path(),
            &env,
        ),
        &format!("GitLab job {job}"),
    )
}

/// GitLab, keyless (the local Sigstore instance's email identity standing in for GitLab's):
/// from an empty directory, `init`, commit, the merge-request job without secrets or token,
/// the build job (its install cached inside the checkout, under the ignored `.cleanpipe/`),
/// and the deploy job verifying with `policy.yaml`; the tree stays clean.
#[test]
fn gitlab_first_run_replays_its_jobs() {
    let Some(registry) = registry() else { return };
    let Some(stack) = sigstore() else { return };
    let ci = FakeCi::new();
    let repo = Repo::bare();
    repo.git(&["remote", "add", "origin", "https://gitlab.com/acme/app.git"]);
    let init_run = repo.cleanpipe(&["init", "--ci", "gitlab"]);
    init_run.expect_code(0);
    let policy = read(&repo, "policy.yaml");
    assert!(
        policy.contains(
            "- identity: \"https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main\""
        ) && policy.contains("issuer: \"https://gitlab.com\""),
        "{policy}"
    );
    adopt(
        &stack,
        &repo,
        &format!("{}/email", stack.issuer),
        Some("dev@example.test"),
    );
    repo.commit();
    let local = printed_commands(&init_run.stderr, "run it here once committed");
    succeeded(&ci.user(&local[0], repo.path(), &[]), &local[0]);
    clean(&repo, "the first local run");

    let text = read(&repo, ".gitlab-ci.yml");
    let target = format!("{registry}/{}", unique("it/init-gitlab"));
    let predefined: Vec<(String, String)> = [
        ("CI_PROJECT_DIR", repo.path().display().to_string()),
        ("CI_COMMIT_SHA", head(&repo)),
        ("CI_REGISTRY", "registry.gitlab.example.test".into()),
        ("CI_REGISTRY_USER", "gitlab-ci-token".into()),
        ("CI_REGISTRY_PASSWORD", "job-token".into()),
        ("CI_REGISTRY_IMAGE", target.clone()),
        ("CLEANPIPE_GIT", CLEANPIPE_GIT.into()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .to_vec();
    let printed = replay_gitlab_job(&ci, &repo, &text, "merge-request", &predefined);
    assert!(printed.contains("skipped"), "{printed}");
    assert!(repo.path().join(".cleanpipe/bin/cleanpipe").is_file());
    clean(
        &repo,
        "the merge-request job (and its install in .cleanpipe/bin)",
    );

    let mut with_token = predefined.clone();
    with_token.push(("SIGSTORE_ID_TOKEN".into(), stack.token("email", "")));
    replay_gitlab_job(&ci, &repo, &text, "build", &with_token);
    clean(&repo, "the build job");
    let env = read(&repo, ".cleanpipe/out/cleanpipe.env");
    assert!(
        env.contains(&format!("CLEANPIPE_IMAGE=\"{target}@sha256:")),
        "{env}"
    );

    let printed = replay_gitlab_job(&ci, &repo, &text, "deploy", &predefined);
    assert!(
        printed.contains(&format!("deploying {target}@sha256:")),
        "{printed}"
    );
    clean(&repo, "the deploy job");
}

/// What `init` printed for a key: make it outside the repository and copy the public key in,
/// as printed; commit. Returns the private key's path.
fn keygen_as_printed(ci: &FakeCi, repo: &Repo, init_stderr: &str) -> PathBuf {
    let commands = printed_commands(init_stderr, "make the signing key outside the repository");
    for c in &commands[..2] {
        succeeded(&ci.user(c, repo.path(), &[("COSIGN_PASSWORD", "pw")]), c);
    }
    let keys: Vec<PathBuf> = std::fs::read_dir(ci.home().join(".cleanpipe/keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    repo.commit();
    let tracked = Command::new("git")
        .args(["ls-files"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let tracked = String::from_utf8(tracked.stdout).unwrap();
    assert!(tracked.lines().any(|l| l == "cosign.pub"), "{tracked}");
    assert!(
        !tracked.contains(".key"),
        "no private key committed: {tracked}"
    );
    keys[0].clone()
}

/// The value of `NAME = '…'` in a Jenkinsfile (the plain values the tests use).
fn jenkins_value(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name} = '")))
        .and_then(|v| v.split('\'').next())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .to_string()
}

/// Jenkins, with a key: from an empty directory, `init`, the key made as printed (outside the
/// repository), commit, the local run as printed (to the local store), then the Jenkinsfile's
/// build and deploy `sh` scripts with the credentials bound as Jenkins binds them.
#[test]
fn jenkins_first_run_replays_its_stages_with_a_key() {
    let Some(registry) = registry() else { return };
    let ci = FakeCi::new();
    let repo = Repo::bare();
    let init_run = repo.cleanpipe(&["init", "--ci", "jenkins"]);
    init_run.expect_code(0);
    let key = keygen_as_printed(&ci, &repo, &init_run.stderr);
    let local = printed_commands(&init_run.stderr, "run it here once committed");
    let out = succeeded(
        &ci.user(&local[0], repo.path(), &[("COSIGN_PASSWORD", "pw")]),
        &local[0],
    );
    assert!(
        out.contains("sign") && !out.contains("sign         skipped"),
        "{out}"
    );
    clean(&repo, "the first local run");

    let text = read(&repo, "Jenkinsfile");
    let scripts = jenkins_scripts(&text);
    let registry_path = format!("{registry}/{}", unique("it/init-jenkins"));
    let image_name = jenkins_value(&text, "IMAGE_NAME");
    let env: Vec<(String, String)> = [
        (
            "CLEANPIPE_VERSION",
            jenkins_value(&text, "CLEANPIPE_VERSION"),
        ),
        ("CLEANPIPE_GIT", CLEANPIPE_GIT.into()),
        ("REGISTRY", registry_path.clone()),
        // Jenkins joins it: "${REGISTRY}/${IMAGE_NAME}".
        ("IMAGE_REPOSITORY", format!("{registry_path}/{image_name}")),
        ("PIPELINE", jenkins_value(&text, "PIPELINE")),
        ("OUTPUTS", jenkins_value(&text, "OUTPUTS")),
        ("COSIGN_KEY_FILE", key.display().to_string()),
        ("COSIGN_PASSWORD", "pw".into()),
        ("REGISTRY_USER", "jenkins".into()),
        ("REGISTRY_PASSWORD", "registry-password".into()),
        ("GIT_COMMIT", head(&repo)),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .to_vec();
    succeeded(
        &ci.run(&["sh", "-e", "-c"], &scripts[0], repo.path(), &env),
        "the build stage",
    );
    assert!(ci.home().join(".cleanpipe/bin/cleanpipe").is_file());
    clean(&repo, "the build stage");
    let deploy: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| !k.starts_with("COSIGN"))
        .collect();
    let printed = succeeded(
        &ci.run(&["sh", "-e", "-c"], &scripts[1], repo.path(), &deploy),
        "the deploy stage",
    );
    assert!(
        printed.contains(&format!("deploying {registry_path}/{image_name}@sha256:")),
        "{printed}"
    );
    clean(&repo, "the deploy stage");
}

/// Cloud Build's substitutions in a value: `$$` is `$`, `$NAME` and `${NAME}` come from
/// `subs` (an unknown one fails the test, as Cloud Build fails the build).
fn cloudbuild_substitute(value: &str, subs: &[(String, String)]) -> String {
    let lookup = |n: &str| {
        subs.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no substitution {n}"))
    };
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = r.find('}').unwrap();
            out.push_str(&lookup(&r[..end]));
            rest = &r[end + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push_str(&lookup(&after[..end]));
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Cloud Build, with a key: from an empty directory, `init`, the key as printed, commit, the
/// local run, then every step of cloudbuild.yaml but the gcloud login, as Cloud Build runs it
/// (substitutions, the step's env and secretEnv, /workspace = the checkout, a shared $HOME).
#[test]
fn cloud_build_first_run_replays_its_steps_with_a_key() {
    let Some(registry) = registry() else { return };
    let ci = FakeCi::new();
    let repo = Repo::bare();
    let init_run = repo.cleanpipe(&["init", "--ci", "cloudbuild"]);
    init_run.expect_code(0);
    let key = keygen_as_printed(&ci, &repo, &init_run.stderr);
    let local = printed_commands(&init_run.stderr, "run it here once committed");
    succeeded(
        &ci.user(&local[0], repo.path(), &[("COSIGN_PASSWORD", "pw")]),
        &local[0],
    );
    clean(&repo, "the first local run");

    let doc: serde_yaml::Value = serde_yaml::from_str(&read(&repo, "cloudbuild.yaml")).unwrap();
    let target = format!("{registry}/{}", unique("it/init-cloudbuild"));
    let mut subs: Vec<(String, String)> = doc["substitutions"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect();
    // What the trigger sets, and Cloud Build's own.
    for (k, v) in [
        ("_CLEANPIPE_GIT", CLEANPIPE_GIT.to_string()),
        ("_IMAGE_REPOSITORY", target.clone()),
        ("COMMIT_SHA", head(&repo)),
        ("PROJECT_ID", "acme-project".into()),
        ("LOCATION", "europe-west1".into()),
        ("BUILD_ID", "b-1".into()),
    ] {
        subs.retain(|(n, _)| n != k);
        subs.push((k.to_string(), v));
    }
    let secrets: Vec<(String, String)> = vec![
        (
            "COSIGN_PRIVATE_KEY".into(),
            std::fs::read_to_string(&key).unwrap(),
        ),
        ("COSIGN_PASSWORD".into(), "pw".into()),
    ];
    let mut printed = String::new();
    for step in doc["steps"].as_sequence().unwrap() {
        let id = step["id"].as_str().unwrap();
        if id == "registry-login" {
            continue; // gcloud's token: the test registry needs none
        }
        let mut env: Vec<(String, String)> = Vec::new();
        for e in step["env"].as_sequence().into_iter().flatten() {
            let (k, v) = e.as_str().unwrap().split_once('=').unwrap();
            env.push((k.to_string(), cloudbuild_substitute(v, &subs)));
        }
        for name in step["secretEnv"].as_sequence().into_iter().flatten() {
            let name = name.as_str().unwrap();
            let v = secrets.iter().find(|(k, _)| k == name).unwrap();
            env.push(v.clone());
        }
        let script = cloudbuild_substitute(step["args"][1].as_str().unwrap(), &subs);
        printed.push_str(&succeeded(
            &ci.run(&["bash", "-c"], &script, repo.path(), &env),
            &format!("step {id}"),
        ));
        clean(&repo, &format!("step {id}"));
    }
    assert!(ci.home().join(".cleanpipe/bin/cleanpipe").is_file());
    assert!(
        printed.contains(&format!("deploying {target}@sha256:")),
        "{printed}"
    );
}

/// The repository's own action installs cleanpipe from a source that exists (its own source
/// at the ref in `uses:`, or a tag of a Git repository), outside the checkout, and puts it
/// on PATH: its install step, replayed.
#[test]
fn the_github_action_installs_outside_the_checkout() {
    let action: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap(),
    )
    .unwrap();
    let install = action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Install cleanpipe")
        .unwrap();
    let script = install["run"].as_str().unwrap();
    assert!(
        !script.contains("cargo install --locked cleanpipe --version"),
        "{script}"
    );
    for version in ["v0.1.0", ""] {
        let ci = FakeCi::new();
        let checkout = Repo::bare();
        let temp = tempfile::tempdir().unwrap();
        let github_path = temp.path().join("path");
        std::fs::write(&github_path, "").unwrap();
        let env: Vec<(String, String)> = [
            ("VERSION", version.to_string()),
            ("GIT", CLEANPIPE_GIT.to_string()),
            ("RUNNER_TEMP", temp.path().display().to_string()),
            ("GITHUB_PATH", github_path.display().to_string()),
            ("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR").to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .to_vec();
        succeeded(
            &ci.run(&["bash", "-e", "-c"], script, checkout.path(), &env),
            "the action's install step",
        );
        let bin = temp.path().join("cleanpipe/bin");
        assert!(bin.join("cleanpipe").is_file(), "{version:?}");
        assert_eq!(
            std::fs::read_to_string(&github_path).unwrap().trim(),
            bin.display().to_string()
        );
        let log = ci.cargo_log();
        if version.is_empty() {
            assert!(log.contains("--path "), "{log}");
        } else {
            assert!(
                log.contains(&format!("--git {CLEANPIPE_GIT} --tag v0.1.0")),
                "{log}"
            );
        }
        clean(&checkout, "the action's install");
    }
}

/// A pipeline whose webhook secret is unset: `validate` and `plan` check it and name the
/// secret as given at run time (never its value: there is none); an ordinary unset variable
/// is still an error at its place; `run` still needs the secret. `init` passes the secret to
/// the run step, and `plan --matrix` (the CI's first job, without secrets) lists the file.
#[test]
fn validate_and_plan_take_secrets_as_given_at_run_time() {
    let repo = Repo::new();
    repo.write(
        "app/pipeline.yaml",
        "version: 1\nname: app\nbuild:\n  customize:\n    base: scratch\nsign:\n  key: env://COSIGN_PRIVATE_KEY\npush:\n  repository: ${IMAGE_REPOSITORY:-}\n  register:\n    - url: https://hooks.example.test/deployed\n      secret: ${WEBHOOK_SECRET}\n",
    );
    repo.commit();
    for cmd in ["validate", "plan"] {
        repo.cleanpipe(&[cmd, "-f", "app/pipeline.yaml"])
            .expect_code(0)
            .expect_stderr("given at run time")
            .expect_stderr("WEBHOOK_SECRET (app/pipeline.yaml:12:15)");
    }
    let set = repo.cleanpipe_env(
        &["validate", "-f", "app/pipeline.yaml"],
        &[("WEBHOOK_SECRET", "s3cr3t-value")],
    );
    set.expect_code(0);
    assert!(!set.stderr.contains("given at run time"), "{}", set.stderr);
    assert!(!set.all().contains("s3cr3t-value"));
    repo.cleanpipe(&["run", "-f", "app/pipeline.yaml"])
        .expect_code(2)
        .expect_stderr("`WEBHOOK_SECRET` is not set");
    repo.write(
        "other.pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: ${BASE_IMAGE}\nsign:\n  keyless: true\n",
    );
    repo.cleanpipe(&["validate", "-f", "other.pipeline.yaml"])
        .expect_code(2)
        .expect_stderr("other.pipeline.yaml:4:11: environment variable `BASE_IMAGE` is not set");
    std::fs::remove_file(repo.path().join("other.pipeline.yaml")).unwrap();

    repo.cleanpipe(&["plan", "--matrix"]).expect_code(0);
    let run = init(&repo, "github");
    let wf = read(&repo, WORKFLOW);
    contains_all(
        &wf,
        "the workflow",
        &[
            "WEBHOOK_SECRET: ${{ secrets.WEBHOOK_SECRET }}",
            "COSIGN_PRIVATE_KEY: ${{ secrets.COSIGN_PRIVATE_KEY }}",
            "COSIGN_PASSWORD: ${{ secrets.COSIGN_PASSWORD }}",
        ],
    );
    assert!(run.stderr.contains("WEBHOOK_SECRET"), "{}", run.stderr);
    init_force(&repo, "jenkins");
    let jf = read(&repo, "Jenkinsfile");
    assert!(
        jf.contains("string(credentialsId: 'webhook-secret', variable: 'WEBHOOK_SECRET')"),
        "{jf}"
    );
    init_force(&repo, "cloudbuild");
    let cb = read(&repo, "cloudbuild.yaml");
    contains_all(
        &cb,
        "cloudbuild.yaml",
        &[
            "secretEnv: [COSIGN_PASSWORD, COSIGN_PRIVATE_KEY, WEBHOOK_SECRET]",
            "secrets/webhook-secret/versions/latest\n      env: WEBHOOK_SECRET",
        ],
    );
}

fn init_force(repo: &Repo, ci: &str) {
    repo.cleanpipe(&["init", "--ci", ci, "--force"])
        .expect_code(0);
}

/// On a terminal (a pseudo-terminal from util-linux `script`), `init` asks how to sign:
/// answered `key`, GitHub gets the key form (key secrets in the run step, the deploy job
/// verifying with cosign.pub, no policy.yaml); nothing asked on Jenkins (a key is the only
/// way there).
#[test]
fn on_a_terminal_init_asks_how_to_sign() {
    let script_ok = Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !script_ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but util-linux `script` is missing"
        );
        eprintln!("skipped: no util-linux `script` for a pseudo-terminal");
        return;
    }
    let on_terminal = |repo: &Repo, ci: &str, answer: &str| -> String {
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c"])
            .arg(format!("'{BIN}' init --ci {ci}"))
            .arg("/dev/null")
            .current_dir(repo.path())
            .env("TERM", "dumb");
        let out = output_with_stdin(cmd, answer);
        let shown = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{shown}");
        shown
    };
    let repo = customize_repo();
    let shown = on_terminal(&repo, "github", "key\n");
    assert!(shown.contains("[keyless/key]"), "{shown}");
    let pipeline = read(&repo, "pipeline.yaml");
    assert!(
        pipeline.contains("key: env://COSIGN_PRIVATE_KEY"),
        "{pipeline}"
    );
    assert!(!repo.path().join("policy.yaml").exists());
    contains_all(
        &read(&repo, WORKFLOW),
        "the workflow",
        &[
            "COSIGN_PRIVATE_KEY: ${{ secrets.COSIGN_PRIVATE_KEY }}",
            "COSIGN_PASSWORD: ${{ secrets.COSIGN_PASSWORD }}",
            "--key cosign.pub --commit \"$GITHUB_SHA\"",
        ],
    );
    assert!(
        shown.contains("cleanpipe keygen --output-key-prefix"),
        "{shown}"
    );

    let repo = customize_repo();
    let shown = on_terminal(&repo, "github", "\n");
    assert!(
        read(&repo, "pipeline.yaml").contains("  keyless: true\n"),
        "{shown}"
    );
    assert!(repo.path().join("policy.yaml").is_file());

    let repo = customize_repo();
    let shown = on_terminal(&repo, "jenkins", "");
    assert!(!shown.contains("[keyless/key]"), "{shown}");
    assert!(read(&repo, "pipeline.yaml").contains("key: env://COSIGN_PRIVATE_KEY"));
}

/// The matrix workflow, replayed: its plan job (no secrets) gives the matrix through
/// GITHUB_OUTPUT, and each cell's pull-request job builds and scans that pipeline with no
/// secret, signing and pushing nothing; the tree stays clean.
#[test]
fn the_github_matrix_workflow_replays_its_plan_and_pull_request_jobs() {
    let ci = FakeCi::new();
    let repo = multi_repo();
    // The worker's Dockerfile build needs a Docker engine; the api pipeline is enough here.
    std::fs::remove_dir_all(repo.path().join("worker")).unwrap();
    repo.write(
        "web/pipeline.yaml",
        "version: 1\nname: web\nbuild:\n  customize:\n    base: scratch\nsign:\n  keyless: true\npush:\n  repository: 127.0.0.1:5000/acme/web\n",
    );
    repo.commit();
    init(&repo, "github");
    repo.commit();
    let text = read(&repo, WORKFLOW);
    // One pipeline signs with a key: its secrets in the build step, none in the pull-request
    // job.
    assert!(
        text.contains("COSIGN_PRIVATE_KEY: ${{ secrets.COSIGN_PRIVATE_KEY }}"),
        "{text}"
    );
    let pr = text.split("\n  build:\n").next().unwrap();
    assert!(!pr.contains("secrets."), "{pr}");
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let known = vec![("vars.CLEANPIPE_GIT", CLEANPIPE_GIT.to_string())];
    let (outputs, _) =
        replay_github_job(&ci, &repo, &workflow, "plan", &[], &known, &mut |_, _| {});
    let matrix = outputs
        .iter()
        .find(|(k, _)| k == "matrix")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no matrix output: {outputs:?}"));
    let matrix: serde_json::Value = serde_json::from_str(&matrix).unwrap();
    let cells = matrix["include"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "{matrix}");
    for cell in cells {
        let mut known = known.clone();
        for k in ["name", "pipeline", "outputs"] {
            known.push((
                match k {
                    "name" => "matrix.name",
                    "pipeline" => "matrix.pipeline",
                    _ => "matrix.outputs",
                },
                cell[k].as_str().unwrap().to_string(),
            ));
        }
        let (_, printed) = replay_github_job(
            &ci,
            &repo,
            &workflow,
            "pull-request",
            &[],
            &known,
            &mut |_, _| {},
        );
        assert!(printed.contains("push         skipped"), "{printed}");
        assert!(printed.contains("sign         skipped"), "{printed}");
        clean(&repo, &format!("the pull-request job of {cell}"));
    }
}
