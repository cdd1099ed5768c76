//! Keys in a Vault transit engine (`hashivault://KEY`), against a real Vault dev server the
//! test starts on loopback (the binary built by `.ci/run`): the run signs through transit,
//! cleanpipe and real cosign (v2 and v3) verify with the public key read back, and the token
//! never shows.

use std::process::{Child, Command};

use crate::sbom_scan::test_data;
use crate::support::*;

const TOKEN: &str = "vault-root-token-canary-5b1e";

/// A Vault dev server on a free loopback port, stopped when dropped.
struct Vault {
    child: Child,
    addr: String,
}

impl Drop for Vault {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn vault() -> Option<Vault> {
    let bin = test_data("CLEANPIPE_TEST_VAULT", "a Vault binary built by `.ci/run`")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(bin)
        .args([
            "server",
            "-dev",
            &format!("-dev-root-token-id={TOKEN}"),
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .env("HOME", home.path())
        .env("VAULT_DISABLE_MLOCK", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let vault = Vault {
        child,
        addr: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..150 {
        if call(&vault, "GET", "sys/health", None).is_some() {
            std::mem::forget(home);
            return Some(vault);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("the Vault dev server did not answer at {}", vault.addr);
}

fn call(vault: &Vault, method: &str, path: &str, body: Option<&str>) -> Option<String> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-fsS",
        "--noproxy",
        "*",
        "-X",
        method,
        "-H",
        &format!("X-Vault-Token: {TOKEN}"),
    ]);
    if let Some(b) = body {
        cmd.args(["-d", b]);
    }
    let out = cmd
        .arg(format!("{}/v1/{path}", vault.addr))
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn env(vault: &Vault) -> [(&'static str, String); 2] {
    [
        ("VAULT_ADDR", vault.addr.clone()),
        ("VAULT_TOKEN", TOKEN.to_string()),
    ]
}

#[test]
fn a_transit_key_signs_the_run_and_cosign_verifies_it() {
    let Some(registry) = registry() else { return };
    let Some(vault) = vault() else { return };
    call(
        &vault,
        "POST",
        "sys/mounts/transit",
        Some(r#"{"type":"transit"}"#),
    )
    .expect("transit enabled");
    call(
        &vault,
        "POST",
        "transit/keys/release",
        Some(r#"{"type":"ecdsa-p256"}"#),
    )
    .expect("key created");
    call(
        &vault,
        "POST",
        "transit/keys/rsa",
        Some(r#"{"type":"rsa-2048"}"#),
    )
    .expect("key created");
    let env = env(&vault);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let name = unique("it/vault");
    let repo = Repo::new();
    repo.write("hello.txt", "signed by Vault transit\n");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: hashivault://release\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n"
        ),
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &env);
    r.expect_code(0);
    assert!(!r.all().contains(TOKEN), "{}", r.all());
    let image = r.last_line();
    repo.cleanpipe_env(
        &[
            "public-key",
            "--key",
            "hashivault://release",
            "-o",
            "vault.pub",
        ],
        &env,
    )
    .expect_code(0);
    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "vault.pub",
        "--require-provenance",
    ])
    .expect_code(0)
    .expect_stderr("VERIFIED");
    crate::peers::cosigns_verify_with(repo.path(), "vault.pub", &image);
    // Refused, with the token masked: an RSA key, a missing key, a wrong token.
    for (key, token, message) in [
        ("hashivault://rsa", TOKEN, "not ecdsa-p256"),
        ("hashivault://absent", TOKEN, "answered"),
        ("hashivault://release", "wrong-token-0000", "403"),
    ] {
        let r = repo.cleanpipe_env(
            &["public-key", "--key", key],
            &[("VAULT_ADDR", &vault.addr), ("VAULT_TOKEN", token)],
        );
        r.expect_code(2).expect_stderr(message);
        assert!(
            !r.all().contains(TOKEN) && !r.all().contains("wrong-token-0000"),
            "{}",
            r.all()
        );
    }
}
