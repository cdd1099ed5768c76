//! `build.dockerfile.builder: buildkit`: the real buildkitd and buildctl `.ci/run` starts, bases
//! from the real registry, the result pushed and run by Docker; build secrets; bad input.

use std::io::Read;
use std::path::Path;

use crate::docker_build::signed_base;
use crate::support::*;

/// A repo with `Dockerfile`, a pipeline using BuildKit (`buildctl` by key, the daemon by
/// `BUILDKIT_HOST`), trusting the base key, and a signing key. `extra` is more
/// `build.dockerfile` keys, indented by four spaces.
fn kit_repo(base_pub: Option<&Path>, dockerfile: &str, extra: &str, push: Option<&str>) -> Repo {
    let repo = Repo::new();
    let mut verify = String::new();
    if let Some(p) = base_pub {
        repo.copy_in(p, "base.pub");
        verify = "verify_base:\n  keys: { team: base.pub }\n  default_key: team\n".into();
    }
    repo.keygen("cosign", "pw");
    repo.write(".dockerignore", "cosign.key\n*.secret\n");
    repo.write(".gitignore", ".cleanpipe\n*.secret\n");
    repo.write("src/app.sh", "echo \"app $(cat /app/version)\"\n");
    repo.write("Dockerfile", dockerfile);
    let buildctl = buildkit()
        .map(|(_, b)| b)
        .unwrap_or_else(|| "buildctl".into());
    let push = push
        .map(|r| format!("push:\n  repository: {r}\n  tags: [v1]\n"))
        .unwrap_or_default();
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nname: buildkit-it\n{verify}build:\n  dockerfile:\n    builder: buildkit\n    buildctl: {buildctl}\n    args: {{ APP_VERSION: \"{{{{git.short_sha}}}}\" }}\n{extra}sign:\n  key: cosign.key\n{push}"
        ),
    );
    repo.commit();
    repo
}

/// The signed base in the test registry, when the registry and buildkitd are there.
fn kit_base() -> Option<(&'static str, &'static Path)> {
    let registry = registry()?;
    buildkit()?;
    let (base, base_pub) = signed_base(&registry);
    Some((base.as_str(), base_pub.as_path()))
}

fn run_kit(repo: &Repo, extra_env: &[(&str, &str)]) -> Run {
    let host = buildkit().map(|(h, _)| h).unwrap_or_default();
    let mut env = vec![("COSIGN_PASSWORD", "pw"), ("BUILDKIT_HOST", host.as_str())];
    env.extend_from_slice(extra_env);
    repo.cleanpipe_env(&["run"], &env)
}

/// The digest a successful run says it built (`[build] image sha256:…`).
fn built_image(r: &Run) -> String {
    r.expect_code(0);
    r.stderr
        .lines()
        .find_map(|l| l.split("[build] image ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .expect("the build names its image")
        .to_string()
}

/// Multi-stage, a heredoc, a cache mount and a bind mount of the context in the first stage.
fn multi_stage(base: &str) -> String {
    format!(
        "FROM {base} AS builder\nARG APP_VERSION=dev\nRUN --mount=type=cache,target=/cache <<EOF\nset -e\necho \"$APP_VERSION\" > /cache/version\nmkdir -p /out\ncp /cache/version /out/version\nEOF\nRUN --mount=type=bind,source=src,target=/mnt/src test -f /mnt/src/app.sh\nCOPY src/app.sh /out/app.sh\n\nFROM {base}\nCOPY --from=builder /out /app\nCMD [\"sh\", \"/app/app.sh\"]\n"
    )
}

#[test]
fn multi_stage_heredoc_cache_mount_is_pushed_verified_and_runs() {
    let Some(registry) = registry() else { return };
    if !docker() || buildkit().is_none() {
        return;
    }
    let (base, base_pub) = signed_base(&registry);
    let name = unique("it/buildkit-app");
    let repo = kit_repo(
        Some(base_pub),
        &multi_stage(base),
        "",
        Some(&format!("{registry}/{name}")),
    );
    let plan = repo.cleanpipe(&["plan"]);
    plan.expect_code(0);
    assert!(
        plan.all().contains("with the buildkit builder"),
        "{}",
        plan.all()
    );
    let r = run_kit(&repo, &[]);
    r.expect_code(0)
        .expect_stderr("signed by key `team`")
        // buildctl's progress, streamed to the reporter.
        .expect_stderr("[builder 2/4] RUN --mount=type=cache,target=/cache <<EOF")
        .expect_stderr("[builder 3/4] RUN --mount=type=bind,source=src,target=/mnt/src")
        .expect_stderr("from the buildkit builder");
    // No `docker save` re-pack: the classic path's memo is not written.
    assert!(!r.stderr.contains("re-pack"), "{}", r.stderr);
    repo.cleanpipe(&[
        "verify",
        &format!("{registry}/{name}:v1"),
        "--key",
        "cosign.pub",
    ])
    .expect_code(0);
    let out = docker_pull_and_run(&format!("{registry}/{name}:v1"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("app ") && stdout.trim().len() == "app ".len() + 12,
        "{stdout}"
    );
    let log = std::fs::read_to_string(repo.path().join(".cleanpipe/out/build.log")).unwrap();
    assert!(log.contains("exporting to oci image format"), "{log}");
}

#[test]
fn two_clean_builds_of_one_commit_give_one_digest() {
    let Some((base, base_pub)) = kit_base() else {
        return;
    };
    let repo = kit_repo(
        Some(base_pub),
        &multi_stage(base),
        "    no_cache: true\n",
        None,
    );
    let first = built_image(&run_kit(&repo, &[]));
    std::fs::remove_dir_all(repo.path().join(".cleanpipe")).unwrap();
    let second = built_image(&run_kit(&repo, &[]));
    assert!(first.starts_with("sha256:"), "{first}");
    assert_eq!(first, second, "SOURCE_DATE_EPOCH + rewrite-timestamp");
}

/// Every file under `dir`, gzip layers decompressed and DSSE payloads decoded, as text.
fn everything_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let mut texts = vec![bytes.clone()];
            if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(bytes.as_slice())
                    .read_to_end(&mut plain)
                    .unwrap();
                texts.push(plain);
            }
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                if let Some(payload) = v.get("payload").and_then(|p| p.as_str()) {
                    use base64::Engine as _;
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(payload)
                        .unwrap();
                    texts.push(decoded);
                }
            }
            for t in texts {
                out.push((p.display().to_string(), t));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn secret_canaries_reach_the_step_and_nothing_else() {
    let Some((base, base_pub)) = kit_base() else {
        return;
    };
    let file_canary = format!("canary-file-{}", unique("s"));
    // A file secret of two lines: each line is masked where a step prints them apart.
    let line_canary = format!("canary-line-{}", unique("s"));
    let file_content = format!("{file_canary}\n{line_canary}\n");
    let env_canary = format!("canary-env-{}", unique("s"));
    // Each step proves it saw the secret (its length lands in the image) and echoes it into the
    // build log, which cleanpipe must mask.
    let dockerfile = format!(
        "FROM {base}\nRUN --mount=type=secret,id=npm,required=true wc -c < /run/secrets/npm > /npm.len && echo \"npm is $(cat /run/secrets/npm)\"\nRUN --mount=type=secret,id=gh,required=true wc -c < /run/secrets/gh > /gh.len && echo \"gh is $(cat /run/secrets/gh)\"\nCOPY . /ctx/\n"
    );
    let repo = kit_repo(
        Some(base_pub),
        &dockerfile,
        "    secrets:\n      npm: { file: npm.secret }\n      gh: { env: GH_CANARY }\n",
        None,
    );
    // Ignored by Git and by Docker: the file is read from the work tree, never sent as context.
    repo.write("npm.secret", &file_content);
    let r = run_kit(&repo, &[("GH_CANARY", &env_canary)]);
    r.expect_code(0).expect_stderr("npm is ***");
    for canary in [&file_canary, &line_canary, &env_canary] {
        assert!(!r.all().contains(canary.as_str()), "{}", r.all());
    }
    let store = repo.path().join(".cleanpipe");
    let all = everything_under(&store);
    assert!(
        all.iter().any(|(p, _)| p.ends_with("report.json")),
        "the report is among the files checked"
    );
    assert!(all.iter().any(|(p, _)| p.ends_with("build.log")));
    assert!(
        all.iter()
            .any(|(_, t)| contains(t, "\"dockerfileBuilder\":\"buildkit\"")),
        "the provenance (among the files checked) names the builder"
    );
    for (path, text) in &all {
        for canary in [&file_canary, &line_canary, &env_canary] {
            assert!(!contains(text, canary), "{canary} found in {path}");
        }
    }
    // The context is the classic builder's: tracked files, `.dockerignore` and the store left out.
    let mut context_paths = Vec::new();
    for (_, t) in &all {
        let mut archive = tar::Archive::new(t.as_slice());
        if let Ok(entries) = archive.entries() {
            for e in entries.filter_map(Result::ok) {
                if let Ok(p) = e.path() {
                    let p = p.to_string_lossy().trim_start_matches("./").to_string();
                    if let Some(rel) = p.strip_prefix("ctx/") {
                        context_paths.push(rel.trim_end_matches('/').to_string());
                    }
                }
            }
        }
    }
    assert!(
        context_paths.iter().any(|p| p == "src/app.sh"),
        "{context_paths:?}"
    );
    for gone in ["npm.secret", "cosign.key", ".cleanpipe", ".git"] {
        assert!(
            !context_paths
                .iter()
                .any(|p| p == gone || p.starts_with(&format!("{gone}/"))),
            "{gone} was sent: {context_paths:?}"
        );
    }
    // The steps did see the secrets: their lengths are files in the layers.
    for (file, canary) in [("npm.len", &file_content), ("gh.len", &env_canary)] {
        let found = all.iter().any(|(_, t)| {
            let mut archive = tar::Archive::new(t.as_slice());
            let Ok(entries) = archive.entries() else {
                return false;
            };
            entries.filter_map(Result::ok).any(|mut e| {
                let named = e.path().is_ok_and(|p| p.ends_with(file));
                let mut body = String::new();
                named
                    && e.read_to_string(&mut body).is_ok()
                    && body.trim() == canary.len().to_string()
            })
        });
        assert!(found, "no layer holds {file} with {}", canary.len());
    }
}

#[test]
fn a_failing_step_that_prints_a_secret_keeps_it_out_of_the_error() {
    let Some((base, base_pub)) = kit_base() else {
        return;
    };
    let canary = format!("canary-fail-{}", unique("s"));
    let repo = kit_repo(
        Some(base_pub),
        &format!("FROM {base}\nRUN --mount=type=secret,id=tok echo \"tok is $(cat /run/secrets/tok)\" && exit 4\n"),
        "    secrets:\n      tok: { env: TOK }\n",
        None,
    );
    let r = run_kit(&repo, &[("TOK", &canary)]);
    r.expect_code(1)
        .expect_stderr("exit code: 4")
        .expect_stderr("tok is ***");
    assert!(!r.all().contains(&canary), "{}", r.all());
    for (path, text) in everything_under(&repo.path().join(".cleanpipe")) {
        assert!(!contains(&text, &canary), "{canary} found in {path}");
    }
}

#[test]
fn a_secret_the_pipeline_does_not_give_is_exit_2_with_the_line() {
    let repo = kit_repo(
        None,
        "FROM scratch\nCOPY src/app.sh /app.sh\nRUN --mount=type=secret,id=npm true\n",
        "    secrets:\n      other: { env: OTHER }\n",
        None,
    );
    let r = run_kit(&repo, &[("OTHER", "x")]);
    r.expect_code(2)
        .expect_stderr("Dockerfile:3")
        .expect_stderr("id=npm")
        .expect_stderr("build.dockerfile.secrets");
    let index =
        std::fs::read_to_string(repo.path().join(".cleanpipe/oci/index.json")).unwrap_or_default();
    assert!(!index.contains("sha256:"), "nothing built: {index}");
}

#[test]
fn secrets_with_the_classic_builder_are_refused() {
    let repo = Repo::new();
    repo.write("Dockerfile", "FROM scratch\n");
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  dockerfile:\n    secrets: { npm: { env: NPM } }\n",
    );
    repo.commit();
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("`secrets` needs `builder: buildkit`")
        .expect_stderr("hint: add `builder: buildkit`");
}

#[test]
fn a_secret_needs_exactly_one_source() {
    let repo = kit_repo(
        None,
        "FROM scratch\n",
        "    secrets:\n      npm: { file: a, env: B }\n",
        None,
    );
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("build.dockerfile.secrets.npm")
        .expect_stderr("needs exactly one of `file` or `env`");
}

#[test]
fn syntax_line_needing_a_frontend_image_is_refused_offline() {
    let repo = kit_repo(
        None,
        "# syntax=docker/dockerfile:1.7\nFROM scratch\nCOPY src/app.sh /app.sh\n",
        "",
        None,
    );
    run_kit(&repo, &[])
        .expect_code(2)
        .expect_stderr("Dockerfile:1: `# syntax=docker/dockerfile:1.7`")
        .expect_stderr("remove the `# syntax=` line");
}

#[test]
fn buildkit_unreachable_is_exit_3_with_how_to_start_it() {
    let Some((_, buildctl)) = buildkit() else {
        return;
    };
    let repo = kit_repo(
        None,
        "FROM scratch\nCOPY src/app.sh /app.sh\n",
        "    buildkit_host: unix:///nonexistent/buildkitd.sock\n",
        None,
    );
    assert!(std::fs::read_to_string(repo.path().join("pipeline.yaml"))
        .unwrap()
        .contains(&buildctl));
    // The key wins over the environment.
    run_kit(&repo, &[])
        .expect_code(3)
        .expect_stderr("BuildKit at `unix:///nonexistent/buildkitd.sock` is not reachable")
        .expect_stderr("buildkitd --addr");
    // Without the key, `BUILDKIT_HOST` says where buildkitd is.
    let env_only = kit_repo(None, "FROM scratch\nCOPY src/app.sh /app.sh\n", "", None);
    env_only
        .cleanpipe_env(
            &["run"],
            &[
                ("COSIGN_PASSWORD", "pw"),
                ("BUILDKIT_HOST", "unix:///nonexistent/from-env.sock"),
            ],
        )
        .expect_code(3)
        .expect_stderr("BuildKit at `unix:///nonexistent/from-env.sock` is not reachable");
}

#[test]
fn failing_run_step_fails_the_gate_quoting_the_step() {
    let Some((base, base_pub)) = kit_base() else {
        return;
    };
    let repo = kit_repo(
        Some(base_pub),
        &format!("FROM {base}\nRUN echo about to fail && exit 7\n"),
        "",
        None,
    );
    run_kit(&repo, &[])
        .expect_code(1)
        .expect_stderr("failed at [2/2] RUN echo about to fail && exit 7 (Dockerfile:2)")
        .expect_stderr("exit code: 7");
}

/// A throw-away buildkitd with an empty cache, started by `.ci/buildkitd` (trusting the test
/// registry over http); stopped when dropped.
struct CleanBuildkitd {
    dir: tempfile::TempDir,
    addr: String,
}

impl CleanBuildkitd {
    fn start(buildctl: &str, registry: &str) -> CleanBuildkitd {
        let dir = tempfile::tempdir().unwrap();
        let buildkitd = Path::new(buildctl).with_file_name("buildkitd");
        let out = std::process::Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/buildkitd"))
            .arg(dir.path())
            .arg(&buildkitd)
            .arg(buildctl)
            .arg(registry)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let addr = String::from_utf8_lossy(&out.stdout).trim().to_string();
        CleanBuildkitd { dir, addr }
    }
}

impl Drop for CleanBuildkitd {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

#[test]
fn a_registry_build_cache_exported_by_one_builder_is_used_by_a_clean_one() {
    let (Some((base, base_pub)), Some(registry)) = (kit_base(), registry()) else {
        return;
    };
    let (_, buildctl) = buildkit().expect("kit_base checked it");
    let cache_repo = unique("it/kit-cache");
    let cache = format!("{registry}/{cache_repo}:buildcache");
    let repo = kit_repo(
        Some(base_pub),
        &format!("FROM {base}\nRUN echo \"expensive $(date +%s%N)\" > /step.txt\nCOPY src/app.sh /app.sh\n"),
        &format!("    cache_to: [{cache}]\n    cache_from: [{cache}]\n"),
        None,
    );
    let first = built_image(&run_kit(&repo, &[]));
    assert_eq!(
        manifest_status(&registry, &cache_repo, "buildcache"),
        200,
        "the cache is exported"
    );
    // A builder that never saw this build takes the RUN step from the registry cache: the
    // same image, the step not run again (its output has a timestamp).
    let clean = CleanBuildkitd::start(&buildctl, &registry);
    std::fs::remove_dir_all(repo.path().join(".cleanpipe")).unwrap();
    let second = built_image(&run_kit(&repo, &[("BUILDKIT_HOST", clean.addr.as_str())]));
    let log = std::fs::read_to_string(repo.path().join(".cleanpipe/out/build.log")).unwrap();
    assert!(log.contains("importing cache manifest from"), "{log}");
    assert!(log.contains("CACHED"), "{log}");
    assert_eq!(first, second, "{log}");
    // The provenance says where cached steps came from.
    let statement: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/provenance.intoto.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        statement["predicate"]["buildDefinition"]["externalParameters"]["cacheFrom"][0],
        cache.as_str()
    );
    // A malformed cache is refused before anything runs, with its place in the file.
    for (extra, needle) in [
        (
            "    cache_from: [\"type=registry,ref\"]\n",
            "is not `type=…,key=value,…`",
        ),
        ("    cache_to: [\"not a ref\"]\n", "cache_to[0]"),
        (
            "    cache_to: [\"type=local,dest=.cleanpipe/oci\"]\n",
            "inside cleanpipe's store or outputs",
        ),
    ] {
        let bad = kit_repo(None, "FROM scratch\nCOPY src/app.sh /app.sh\n", extra, None);
        run_kit(&bad, &[]).expect_code(2).expect_stderr(needle);
    }
    // The cache is written before any gate: never into the repository images are pushed to.
    let pushed = format!("{registry}/{}", unique("it/kit-app"));
    let bad = kit_repo(
        None,
        "FROM scratch\nCOPY src/app.sh /app.sh\n",
        &format!("    cache_to: [\"type=registry,ref={pushed}:v1\"]\n"),
        Some(&pushed),
    );
    run_kit(&bad, &[])
        .expect_code(2)
        .expect_stderr("where the pipeline publishes");
}

#[test]
fn ssh_forwarding_reaches_the_step_and_an_ungiven_id_is_exit_2_with_the_line() {
    let Some((base, base_pub)) = kit_base() else {
        return;
    };
    // A real ssh-agent holding a fresh key; the step sees the agent socket, not the key.
    let agent_dir = tempfile::tempdir().unwrap();
    let sock = agent_dir.path().join("agent.sock");
    let key = agent_dir.path().join("id_ed25519");
    let ok = |c: &mut std::process::Command| {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key));
    ok(std::process::Command::new("ssh-agent").arg("-a").arg(&sock));
    ok(std::process::Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock));
    struct Agent(std::path::PathBuf);
    impl Drop for Agent {
        fn drop(&mut self) {
            let _ = std::process::Command::new("pkill")
                .args(["-f", &format!("ssh-agent -a {}", self.0.display())])
                .status();
        }
    }
    let _agent = Agent(sock.clone());
    let dockerfile = format!(
        "FROM {base}\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo agent-ok > /ssh.txt\nCMD [\"cat\", \"/ssh.txt\"]\n"
    );
    let sock_env = sock.display().to_string();
    let repo = kit_repo(
        Some(base_pub),
        &dockerfile,
        "    ssh: { default: agent }\n",
        None,
    );
    let r = run_kit(&repo, &[("SSH_AUTH_SOCK", sock_env.as_str())]);
    r.expect_code(0);
    let log = std::fs::read_to_string(repo.path().join(".cleanpipe/out/build.log")).unwrap();
    assert!(log.contains("RUN --mount=type=ssh"), "{log}");
    // Without the agent in the environment: exit 2 naming the key.
    let no_agent = kit_repo(
        Some(base_pub),
        &dockerfile,
        "    ssh: { default: agent }\n",
        None,
    );
    let host = buildkit().map(|(h, _)| h).unwrap_or_default();
    let mut cmd = no_agent.command(
        &["run"],
        &[("COSIGN_PASSWORD", "pw"), ("BUILDKIT_HOST", host.as_str())],
    );
    cmd.env_remove("SSH_AUTH_SOCK");
    let out = Run::from(cmd.output().unwrap());
    out.expect_code(2)
        .expect_stderr("SSH_AUTH_SOCK, which is not set");
    // An id or path that would carry another buildctl option is refused.
    let smuggled = kit_repo(
        Some(base_pub),
        &dockerfile,
        "    ssh: { \"default=/etc/ssh/key\": agent }\n",
        None,
    );
    run_kit(&smuggled, &[("SSH_AUTH_SOCK", sock_env.as_str())])
        .expect_code(2)
        .expect_stderr("is not an id");
    // A mount whose id the pipeline does not give: exit 2 with the Dockerfile line.
    let missing = kit_repo(Some(base_pub), &dockerfile, "", None);
    run_kit(&missing, &[("SSH_AUTH_SOCK", sock_env.as_str())])
        .expect_code(2)
        .expect_stderr("Dockerfile:2: `RUN --mount=type=ssh` uses the SSH id `default`");
}
