//! Dockerfile builds through the real Docker engine, with bases from the real registry.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::support::*;

/// A busybox base image in the test registry, signed with a base key: (`ref@digest`, key dir).
pub(crate) fn signed_base(registry: &str) -> &'static (String, PathBuf) {
    static BASE: OnceLock<(String, PathBuf)> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::create_dir_all(rootfs.join("tmp")).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|a| *a != "busybox")
        {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        let tar = dir.join("rootfs.tar");
        assert!(Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap()
            .success());
        let name = format!("{registry}/{}", unique("it/busybox-base"));
        let tag = format!("{name}:1");
        let ok =
            |c: &mut Command| assert!(c.stdout(Stdio::null()).status().unwrap().success(), "{c:?}");
        ok(Command::new("docker").arg("import").arg(&tar).arg(&tag));
        ok(Command::new("docker").args(["push", &tag]));
        let out = Command::new("docker")
            .args(["inspect", "--format", "{{index .RepoDigests 0}}", &tag])
            .output()
            .unwrap();
        let pinned = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(pinned.contains("@sha256:"), "{pinned}");
        let keys = Repo::new();
        keys.keygen("base", "bp");
        keys.cleanpipe_env(
            &["sign", &pinned, "--key", "base.key"],
            &[("COSIGN_PASSWORD", "bp")],
        )
        .expect_code(0);
        let pubkey = dir.join("base.pub");
        std::fs::copy(keys.path().join("base.pub"), &pubkey).unwrap();
        (pinned, pubkey)
    })
}

/// A repo with `Dockerfile`, a pipeline trusting the base key, and a signing key.
fn docker_repo(registry: &str, dockerfile: &str, push_repo: Option<&str>) -> Repo {
    let (_, base_pub) = signed_base(registry);
    let repo = Repo::new();
    repo.copy_in(base_pub, "base.pub");
    repo.keygen("cosign", "pw");
    repo.write(".dockerignore", "cosign.key\n.env\n");
    repo.write(".env", "API_TOKEN=not-sent-because-ignored\n");
    repo.write("src/app.sh", "echo \"app $(cat /app/version)\"\n");
    repo.write("Dockerfile", dockerfile);
    let push = push_repo
        .map(|r| format!("push:\n  repository: {r}\n  tags: [v1]\n"))
        .unwrap_or_default();
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nname: docker-it\nverify_base:\n  keys: {{ team: base.pub }}\n  default_key: team\nbuild:\n  dockerfile:\n    args: {{ APP_VERSION: \"{{{{git.short_sha}}}}\" }}\nsign:\n  key: cosign.key\n{push}"
        ),
    );
    repo.commit();
    repo
}

fn multi_stage(base: &str) -> String {
    format!(
        "ARG BASE={base}\nFROM ${{BASE}} AS builder\nARG APP_VERSION=dev\nRUN mkdir -p /out && echo \"$APP_VERSION\" > /out/version\nCOPY src/app.sh /out/app.sh\n\nFROM {base}\nCOPY --from=builder /out /app\nCMD [\"sh\", \"/app/app.sh\"]\n"
    )
}

#[test]
fn multi_stage_build_is_signed_pushed_and_runs() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, _) = signed_base(&registry);
    let name = unique("it/docker-app");
    let repo = docker_repo(
        &registry,
        &multi_stage(base),
        Some(&format!("{registry}/{name}")),
    );
    let first = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    first
        .expect_code(0)
        .expect_stderr("Step 1/")
        .expect_stderr("signed by key `team`")
        // The context upload is progress of unknown size: a plain line when it is done.
        .expect_stderr("send build context ");
    assert!(
        first
            .stderr
            .lines()
            .any(|l| l.contains("send build context ") && l.contains(": done, ")),
        "{}",
        first.stderr
    );
    // A warm-cache rebuild of the same commit gives the same digest.
    let second = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    second.expect_code(0).expect_stderr("reusing its re-pack");
    // cleanpipe's own store (written by the first run) is not sent as build context.
    let context_line = |r: &Run| {
        r.stderr
            .lines()
            .find(|l| l.contains("[build] context:"))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(context_line(&first), context_line(&second));
    assert_eq!(first.last_line(), second.last_line());
    repo.cleanpipe(&[
        "verify",
        &format!("{registry}/{name}:v1"),
        "--key",
        "cosign.pub",
    ])
    .expect_code(0);
    let image = format!("{registry}/{name}:v1");
    let out = docker_pull_and_run(&image);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("app ") && stdout.trim().len() == "app ".len() + 12,
        "{stdout}"
    );
    assert!(repo.path().join(".cleanpipe/out/build.log").exists());
}

#[test]
fn unpinned_from_fails_with_line_and_digest() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, _) = signed_base(&registry);
    let (name, digest) = base.split_once('@').unwrap();
    let tagged = format!("{name}:1");
    let repo = docker_repo(&registry, &format!("FROM {tagged}\nRUN true\n"), None);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("Dockerfile:1 (FROM)")
        .expect_stderr("not pinned by digest")
        .expect_stderr(digest);
}

#[test]
fn unpinned_copy_from_fails() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, _) = signed_base(&registry);
    let (name, _) = base.split_once('@').unwrap();
    let repo = docker_repo(
        &registry,
        &format!("FROM {base}\nCOPY --from={name}:1 /bin/busybox /x\n"),
        None,
    );
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("Dockerfile:2 (COPY --from)")
        .expect_stderr("not pinned by digest");
}

#[test]
fn base_signed_by_another_key_fails() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, _) = signed_base(&registry);
    let repo = docker_repo(&registry, &format!("FROM {base}\n"), None);
    repo.keygen("intruder", "x");
    std::fs::copy(
        repo.path().join("intruder.pub"),
        repo.path().join("base.pub"),
    )
    .unwrap();
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("failed verification")
        .expect_stderr(base);
}

#[test]
fn key_file_in_context_fails_naming_it() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, _) = signed_base(&registry);
    let repo = docker_repo(&registry, &format!("FROM {base}\n"), None);
    repo.write("deploy/id_rsa", "not really\n");
    repo.write(
        "config/tls.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
    );
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("deploy/id_rsa")
        .expect_stderr("config/tls.pem: contains a private key")
        .expect_stderr(".dockerignore");
}

#[test]
fn dockerfile_syntax_error_fails_with_line() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, _) = signed_base(&registry);
    let repo = docker_repo(&registry, &format!("FROM {base}\nRUNN echo typo\n"), None);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("Dockerfile:2: unknown instruction `RUNN`");
}

#[test]
fn failing_run_step_fails_the_gate_quoting_the_step() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    let (base, _) = signed_base(&registry);
    let repo = docker_repo(
        &registry,
        &format!("FROM {base}\nRUN echo about to fail && exit 7\n"),
        None,
    );
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1)
        .expect_stderr("failed at Step 2/")
        .expect_stderr("non-zero code: 7");
    let index =
        std::fs::read_to_string(repo.path().join(".cleanpipe/oci/index.json")).unwrap_or_default();
    assert!(
        !index.contains(".sig"),
        "nothing may be signed after a failed build"
    );
}

#[test]
fn docker_unreachable_is_exit_3_with_a_way_out() {
    let repo = Repo::new();
    repo.keygen("cosign", "pw");
    repo.write("Dockerfile", "FROM scratch\nCOPY x /x\n");
    repo.write("x", "x");
    repo.write(".dockerignore", "*.key\n");
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  dockerfile: {}\nsign:\n  key: cosign.key\n",
    );
    repo.commit();
    repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    )
    .expect_code(3)
    .expect_stderr("not reachable")
    .expect_stderr("build.customize");
}
