//! Keys that never leave their token: a real PKCS#11 token (SoftHSM2, Debian's package) signs
//! the image and its attestations through a `pkcs11:` URI, as cosign names them; cleanpipe and
//! real cosign (v2 and v3) verify with the public key read back from the token; the PIN never
//! shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "4711-pin-canary";

/// A fresh SoftHSM2 token `ci` holding an EC P-256 key pair `release` (id 01), in its own
/// directory; returns (dir, SOFTHSM2_CONF path), or `None` (skipped) without SoftHSM2.
fn token() -> Option<(tempfile::TempDir, PathBuf)> {
    let have = Path::new(MODULE).exists()
        && Command::new("pkcs11-tool").arg("--help").output().is_ok()
        && Command::new("softhsm2-util").arg("--help").output().is_ok();
    if !have {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but SoftHSM2 ({MODULE}, softhsm2-util) or pkcs11-tool (opensc) is missing: .ci/run must install softhsm2 and opensc");
        }
        eprintln!("skipped: SoftHSM2 or pkcs11-tool is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tokens")).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    let run = |c: &mut Command| {
        let out = c.env("SOFTHSM2_CONF", &conf).output().unwrap();
        assert!(
            out.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("softhsm2-util").args([
        "--init-token",
        "--free",
        "--label",
        "ci",
        "--pin",
        PIN,
        "--so-pin",
        "so-pin-1",
    ]));
    run(Command::new("pkcs11-tool").args([
        "--module",
        MODULE,
        "--token-label",
        "ci",
        "--login",
        "--pin",
        PIN,
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "release",
        "--id",
        "01",
    ]));
    Some((dir, conf))
}

fn uri(with_pin: bool) -> String {
    let mut u = format!("pkcs11:token=ci;object=release;id=%01?module-path={MODULE}");
    if with_pin {
        u.push_str(&format!("&pin-value={PIN}"));
    }
    u
}

#[test]
fn a_token_key_signs_the_run_and_cosign_verifies_it() {
    let Some(registry) = registry() else { return };
    let Some((_token_dir, conf)) = token() else {
        return;
    };
    let conf_s = conf.display().to_string();
    let name = unique("it/pkcs11");
    let repo = Repo::new();
    repo.write("hello.txt", "signed in a token\n");
    // The PIN from the environment (cosign's variable), the URI in the pipeline file.
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: \"{}\"\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n",
            uri(false)
        ),
    );
    repo.commit();
    let env = [
        ("SOFTHSM2_CONF", conf_s.as_str()),
        ("COSIGN_PKCS11_PIN", PIN),
    ];
    let r = repo.cleanpipe_env(&["run"], &env);
    r.expect_code(0);
    let image = r.last_line();
    assert!(!r.all().contains(PIN), "{}", r.all());
    let report = std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap();
    assert!(!report.contains(PIN));
    // The public half, read from the token (the private key cannot be exported).
    repo.cleanpipe_env(
        &["public-key", "--key", &uri(true), "-o", "token.pub"],
        &env,
    )
    .expect_code(0);
    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "token.pub",
        "--require-provenance",
        "--require-sbom",
    ])
    .expect_code(0)
    .expect_stderr("VERIFIED");
    crate::peers::cosigns_verify_with(repo.path(), "token.pub", &image);
    // The token key itself where a public key is asked for, as cosign takes it; PIN hidden.
    let r = repo.cleanpipe_env(&["verify", &image, "--key", &uri(true)], &env);
    r.expect_code(0).expect_stderr("VERIFIED");
    assert!(!r.all().contains(PIN), "{}", r.all());
    // `cleanpipe sign` with the same token key finds its own signature (signing is idempotent
    // per key); the URI's PIN stays hidden.
    let r = repo.cleanpipe_env(
        &["sign", &image, "--key", &uri(true)],
        &[("SOFTHSM2_CONF", conf_s.as_str())],
    );
    r.expect_code(0)
        .expect_stderr("already signed with this key");
    assert!(!r.all().contains(PIN), "{}", r.all());
}

#[test]
fn bad_token_input_is_a_usage_error_that_never_shows_the_pin() {
    let Some((_token_dir, conf)) = token() else {
        return;
    };
    let conf_s = conf.display().to_string();
    let repo = Repo::new();
    let env = [("SOFTHSM2_CONF", conf_s.as_str())];
    let wrong = uri(false) + "&pin-value=wrong-pin-canary";
    let cases = [
        (wrong.clone(), "login failed"),
        (
            format!("pkcs11:token=ci;object=absent?module-path={MODULE}&pin-value={PIN}"),
            "no EC private key",
        ),
        (
            format!("pkcs11:token=other;object=release?module-path={MODULE}&pin-value={PIN}"),
            "no such token",
        ),
        (
            format!("pkcs11:token=ci;object=release?module-path=/nonexistent.so&pin-value={PIN}"),
            "cannot load the PKCS#11 module",
        ),
        (
            format!("pkcs11:token=ci?module-path={MODULE}&pin-value={PIN}"),
            "names no key",
        ),
        (
            format!("pkcs11:token=ci;object=release?module-path={MODULE}"),
            "no PIN given",
        ),
    ];
    for (key, message) in cases {
        let r = repo.cleanpipe_env(&["public-key", "--key", &key], &env);
        r.expect_code(2).expect_stderr(message);
        assert!(
            !r.all().contains(PIN) && !r.all().contains("wrong-pin-canary"),
            "{}",
            r.all()
        );
    }
}

/// A PIN from `COSIGN_PKCS11_PIN` or a `pin-source` file is a secret from the moment it is
/// read: a wrong one fails the login and a right one signs, and neither ever shows.
#[test]
fn pins_from_the_environment_or_a_file_never_show() {
    let Some((_token_dir, conf)) = token() else {
        return;
    };
    let conf_s = conf.display().to_string();
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.write("wrong.pin", "wrong-file-pin-canary\n");
    repo.write("right.pin", &format!("{PIN}\n"));
    let pin_source = |file: &str| {
        format!(
            "{}&pin-source={}",
            uri(false),
            repo.path().join(file).display()
        )
    };
    let cases = [
        (uri(false), Some("wrong-env-pin-canary"), "login failed"),
        (pin_source("wrong.pin"), None, "login failed"),
    ];
    for (key, env_pin, message) in cases {
        let mut env = vec![("SOFTHSM2_CONF", conf_s.as_str())];
        if let Some(p) = env_pin {
            env.push(("COSIGN_PKCS11_PIN", p));
        }
        let r = repo.cleanpipe_env(&["public-key", "--key", &key], &env);
        r.expect_code(2).expect_stderr(message);
        for canary in [PIN, "wrong-env-pin-canary", "wrong-file-pin-canary"] {
            assert!(!r.all().contains(canary), "{canary}: {}", r.all());
        }
    }
    // The right PIN from each place signs a run; it never shows.
    for (key, env_pin) in [(uri(false), Some(PIN)), (pin_source("right.pin"), None)] {
        repo.write("pipeline.yaml", &scratch_pipeline(&key, None, &["v1"]));
        repo.commit();
        let mut env = vec![("SOFTHSM2_CONF", conf_s.as_str())];
        if let Some(p) = env_pin {
            env.push(("COSIGN_PKCS11_PIN", p));
        }
        let r = repo.cleanpipe_env(&["run"], &env);
        r.expect_code(0);
        let report =
            std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap();
        for text in [r.all(), report] {
            assert!(!text.contains(PIN), "{text}");
        }
    }
}
