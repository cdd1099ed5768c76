//! Keys in AWS KMS (`awskms://`), against a real KMS emulator (local-kms, built and started by
//! `.ci/run`): the run signs through KMS, cleanpipe and real cosign (v2 and v3) verify with the
//! public key read back from KMS, and the secret access key never shows.

use std::process::Command;

use crate::support::*;

const SECRET: &str = "aws-secret-canary-93f1";
/// Temporary credentials' session token: a secret too (signed into every request).
const SESSION: &str = "aws-session-canary-5d27";

/// The emulator's `host:port`, or `None` (skipped) off CI.
pub(crate) fn kms() -> Option<String> {
    match std::env::var("CLEANPIPE_TEST_AWS_KMS") {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "CI=true but CLEANPIPE_TEST_AWS_KMS is not set: .ci/run must start local-kms"
                );
            }
            eprintln!("skipped: no KMS emulator (CLEANPIPE_TEST_AWS_KMS)");
            None
        }
    }
}

/// One KMS API call with curl (the emulator does not check request signatures).
fn kms_call(endpoint: &str, action: &str, body: serde_json::Value) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-fsS", "--noproxy", "*", "-X", "POST"])
        .arg(format!("http://{endpoint}/"))
        .args(["-H", "Content-Type: application/x-amz-json-1.1"])
        .args(["-H", &format!("X-Amz-Target: TrentService.{action}")])
        .args(["-d", &body.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// A new key of `spec` with a unique alias; returns the alias.
fn new_key(endpoint: &str, spec: &str, usage: &str) -> String {
    let created = kms_call(
        endpoint,
        "CreateKey",
        serde_json::json!({"KeySpec": spec, "KeyUsage": usage}),
    );
    let alias = format!("alias/{}", unique("cleanpipe").replace('/', "-"));
    kms_call(
        endpoint,
        "CreateAlias",
        serde_json::json!({"AliasName": alias, "TargetKeyId": created["KeyMetadata"]["KeyId"]}),
    );
    alias
}

fn aws_env() -> [(&'static str, &'static str); 4] {
    [
        ("AWS_ACCESS_KEY_ID", "AKIDCLEANPIPETEST"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_SESSION_TOKEN", SESSION),
    ]
}

#[test]
fn a_kms_key_signs_the_run_and_cosign_verifies_it() {
    let Some(registry) = registry() else { return };
    let Some(endpoint) = kms() else { return };
    let alias = new_key(&endpoint, "ECC_NIST_P256", "SIGN_VERIFY");
    let key = format!("awskms://{endpoint}/{alias}");
    let name = unique("it/awskms");
    let repo = Repo::new();
    repo.write("hello.txt", "signed by KMS\n");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: {key}\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n"
        ),
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &aws_env());
    r.expect_code(0);
    assert!(
        !r.all().contains(SECRET) && !r.all().contains(SESSION),
        "{}",
        r.all()
    );
    let image = r.last_line();
    repo.cleanpipe_env(&["public-key", "--key", &key, "-o", "kms.pub"], &aws_env())
        .expect_code(0);
    repo.cleanpipe(&["verify", &image, "--key", "kms.pub", "--require-provenance"])
        .expect_code(0)
        .expect_stderr("VERIFIED");
    crate::peers::cosigns_verify_with(repo.path(), "kms.pub", &image);
    // The KMS key itself where a public key is asked for, as cosign takes it.
    repo.cleanpipe_env(&["verify", &image, "--key", &key], &aws_env())
        .expect_code(0)
        .expect_stderr("VERIFIED");
    // Another KMS key is another signer: verification with its public key fails.
    let other = format!(
        "awskms://{endpoint}/{}",
        new_key(&endpoint, "ECC_NIST_P256", "SIGN_VERIFY")
    );
    repo.cleanpipe_env(
        &["public-key", "--key", &other, "-o", "other.pub"],
        &aws_env(),
    )
    .expect_code(0);
    repo.cleanpipe(&["verify", &image, "--key", "other.pub"])
        .expect_code(1);
}

#[test]
fn bad_kms_input_is_a_clear_usage_error() {
    let Some(endpoint) = kms() else { return };
    let repo = Repo::new();
    let rsa = new_key(&endpoint, "RSA_2048", "SIGN_VERIFY");
    let cases = [
        (
            format!("awskms://{endpoint}/alias/absent-key"),
            &aws_env()[..],
            "NotFoundException",
        ),
        (
            format!("awskms://{endpoint}/{rsa}"),
            &aws_env()[..],
            "not an ECC_NIST_P256 signing key",
        ),
        (
            format!("awskms://{endpoint}/alias/x"),
            &aws_env()[..2],
            "AWS_REGION",
        ),
        (
            "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k".to_string(),
            &aws_env()[..],
            "GOOGLE_OAUTH_ACCESS_TOKEN is not set",
        ),
        (
            "azurekms://vault.vault.azure.net/release".to_string(),
            &aws_env()[..],
            "AZURE_TENANT_ID is not set",
        ),
        (
            "hashivault://release".to_string(),
            &aws_env()[..],
            "VAULT_ADDR is not set",
        ),
    ];
    for (key, env, message) in cases {
        let r = repo.cleanpipe_env(&["public-key", "--key", &key], env);
        r.expect_code(2).expect_stderr(message);
        assert!(!r.all().contains(SECRET), "{}", r.all());
    }
}
