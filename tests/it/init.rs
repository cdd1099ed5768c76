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
        contains_all(&policy, "policy.yaml", &["trust:\n  identities:\n", "issuer: "]);
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
        assert!(!wf.contains("secrets.COSIGN"), "keyless: no key secrets\n{wf}");
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
                "paths: [.cleanpipe/bin/]",
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
