//! Registries that require authentication, as `.ci/run` starts them: distribution 2.8 with
//! htpasswd Basic auth, and distribution 2.8 with bearer tokens from a token server of ours
//! (`tests/peers/token-server`). cleanpipe pushes, verifies and exports with credentials from
//! the Docker client's `config.json`, refuses without them (exit 3), never prints the password,
//! and cosign v3 verifies the result with the same credentials.

use base64::Engine;

use crate::bundles::{cosign, cosign_v3, text};
use crate::support::*;

/// (registry, user, password) of the registry in `var`, or `None` (skip) off CI.
fn authenticated(var: &str) -> Option<(String, String, String)> {
    let get = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
    match (
        get(var),
        get("CLEANPIPE_TEST_AUTH_USER"),
        get("CLEANPIPE_TEST_AUTH_PASSWORD"),
    ) {
        (Some(r), Some(u), Some(p)) => Some((r, u, p)),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but {var} (and CLEANPIPE_TEST_AUTH_USER/_PASSWORD) are not set: .ci/run must start it");
            }
            eprintln!("skipped: no {var}");
            None
        }
    }
}

/// Push, verify, export and cross-check with cosign against one authenticated registry.
fn round_trip(var: &str) {
    let Some((registry, user, password)) = authenticated(var) else {
        return;
    };
    let name = unique("it/auth");
    let repo = Repo::new();
    repo.write(".gitignore", ".cleanpipe\n.no-docker-config\n.cosign-tuf\n");
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    repo.keygen("other", "pw");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: cosign.key\n  format: both\npush:\n  repository: {registry}/{name}\n  tags: [\"v1\"]\n"
        ),
    );
    repo.commit();

    // No credentials yet: the push is refused, nothing is tagged.
    let refused = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    refused.expect_code(3);
    let status_with_credentials = || {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u"])
            .arg(format!("{user}:{password}"))
            .arg(format!("http://{registry}/v2/{name}/manifests/v1"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    if var == "CLEANPIPE_TEST_AUTH_REGISTRY" {
        // (A token registry takes no Basic credentials directly.)
        assert_eq!(status_with_credentials(), "404");
    }

    // The Docker client's config (the directory the tests point DOCKER_CONFIG at).
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    repo.write(
        ".no-docker-config/config.json",
        &format!("{{\"auths\":{{\"{registry}\":{{\"auth\":\"{auth}\"}}}}}}"),
    );
    // `-v`: every request is listed too, and still no secret shows.
    let run = repo.cleanpipe_env(&["-v", "run"], &[("COSIGN_PASSWORD", "pw")]);
    run.expect_code(0);
    let image = run.last_line();
    let verified = repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "cosign.pub",
        "--require-provenance",
        "--require-sbom",
    ]);
    verified.expect_code(0);
    repo.cleanpipe(&["verify", &image, "--key", "other.pub"])
        .expect_code(1);
    let exported = repo.cleanpipe(&["-v", "copy", &image, "oci:exported:v1"]);
    exported.expect_code(0);
    repo.cleanpipe(&[
        "verify",
        "oci:exported:v1",
        "--key",
        "cosign.pub",
        "--require-provenance",
    ])
    .expect_code(0);
    for out in [&refused, &run, &verified, &exported] {
        assert!(
            !out.all().contains(&password),
            "the password leaked:\n{}",
            out.all()
        );
    }

    // Wrong credentials on the command line: exit 3, saying the registry refused them.
    let wrong = repo.cleanpipe_stdin(
        &[
            "verify",
            &image,
            "--key",
            "cosign.pub",
            "--registry-username",
            &user,
            "--registry-password-stdin",
        ],
        &[],
        "not-the-password\n",
    );
    wrong
        .expect_code(3)
        .expect_stderr("refused the credentials");

    // cosign v3 with the same config reads what was pushed, bundles first.
    if let Some(bin) = cosign_v3() {
        let ok = cosign(
            &bin,
            repo.path(),
            &[
                "verify",
                "--key",
                "cosign.pub",
                "--insecure-ignore-tlog=true",
                &image,
            ],
        );
        assert!(ok.status.success(), "{}", text(&ok));
        std::fs::remove_file(repo.path().join(".no-docker-config/config.json")).unwrap();
        let anonymous = cosign(
            &bin,
            repo.path(),
            &[
                "verify",
                "--key",
                "cosign.pub",
                "--insecure-ignore-tlog=true",
                &image,
            ],
        );
        assert!(!anonymous.status.success(), "{}", text(&anonymous));
    }
}

#[test]
fn a_basic_auth_registry_round_trip() {
    round_trip("CLEANPIPE_TEST_AUTH_REGISTRY");
}

#[test]
fn a_token_auth_registry_round_trip() {
    round_trip("CLEANPIPE_TEST_TOKEN_REGISTRY");
}
