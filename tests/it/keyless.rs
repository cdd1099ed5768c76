//! Keyless signing and verification by identity against a real local Sigstore instance
//! (`.ci/sigstore-stack`: our OIDC issuer, Fulcio, Rekor v2, the timestamp authority; its
//! trusted root and signing config written by cosign v3), cross-checked with real cosign v3.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peers::{cosign, run_peer, text};
use crate::sbom_scan::test_data;
use crate::support::*;

/// The running instance: its directory (trusted_root.json, signing_config.json) and issuer.
pub(crate) struct Stack {
    pub(crate) dir: PathBuf,
    pub(crate) issuer: String,
}

impl Stack {
    fn trusted_root(&self) -> String {
        self.dir.join("trusted_root.json").display().to_string()
    }
    fn signing_config(&self) -> String {
        self.dir.join("signing_config.json").display().to_string()
    }
    /// A token from one of the issuers (`email`, `github`); `query` as the issuer takes it.
    pub(crate) fn token(&self, which: &str, query: &str) -> String {
        let out = Command::new("curl")
            .args(["-fsS", "--noproxy", "*"])
            .arg(format!("{}/{which}/mint?{query}", self.issuer))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    fn email_issuer(&self) -> String {
        format!("{}/email", self.issuer)
    }
    fn github_issuer(&self) -> String {
        format!("{}/github", self.issuer)
    }
}

pub(crate) fn stack() -> Option<Stack> {
    let dir = test_data(
        "CLEANPIPE_TEST_SIGSTORE_DIR",
        "the local Sigstore instance `.ci/sigstore-stack` starts",
    )?;
    Some(Stack {
        dir,
        issuer: std::env::var("CLEANPIPE_TEST_OIDC_ISSUER")
            .expect("the stack's env names its issuer"),
    })
}

/// The workflow identity our GitHub issuer's default token gets from Fulcio.
const WORKFLOW: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

/// A committed repo whose pipeline signs keylessly (token from `$TEST_ID_TOKEN`) and pushes.
fn keyless_repo(stack: &Stack, registry: &str, name: &str) -> Repo {
    let repo = Repo::new();
    repo.write("hello.txt", "signed without a key\n");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  keyless:\n    signing_config: {}\n    identity_token: {{ env: TEST_ID_TOKEN }}\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n",
            stack.signing_config()
        ),
    );
    repo.commit();
    repo
}

fn verify_args<'a>(
    stack: &'a Stack,
    image: &'a str,
    identity: &'a str,
    issuer: &'a str,
) -> Vec<String> {
    [
        "verify",
        image,
        "--trusted-root",
        &stack.trusted_root(),
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        "--insecure-ignore-sct",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn cleanpipe_verify(repo: &Repo, args: &[String]) -> Run {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    repo.cleanpipe(&refs)
}

fn cosign_verify(
    dir: &Path,
    stack: &Stack,
    command: &str,
    image: &str,
    identity: &str,
    issuer: &str,
    extra: &[&str],
) -> std::process::Output {
    let bin = cosign("V3").unwrap();
    let root = stack.trusted_root();
    let mut args = vec![
        command,
        "--trusted-root",
        &root,
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        "--insecure-ignore-sct",
        "--allow-insecure-registry",
    ];
    args.extend_from_slice(extra);
    args.push(image);
    run_peer(&bin, dir, &args)
}

#[test]
fn a_keyless_run_is_verified_by_identity_by_cleanpipe_and_cosign_v3() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    let name = unique("it/keyless");
    let repo = keyless_repo(&stack, &registry, &name);
    let token = stack.token("email", "");
    let r = repo.cleanpipe_env(&["run"], &[("TEST_ID_TOKEN", &token)]);
    r.expect_code(0)
        .expect_stderr("signed by identity dev@example.test");
    // The token is a secret: never in the output or the report.
    assert!(!r.all().contains(&token), "{}", r.all());
    let report = std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap();
    assert!(!report.contains(&token));
    let image = r.last_line();
    let issuer = stack.email_issuer();

    let mut args = verify_args(&stack, &image, "dev@example.test", &issuer);
    args.push("--require-provenance".into());
    args.push("--require-sbom".into());
    let v = cleanpipe_verify(&repo, &args);
    v.expect_code(0).expect_stderr("VERIFIED");
    for line in [
        "[ok] certificate chain",
        "[ok] transparency log",
        "[ok] signing time",
        "[ok] identity: dev@example.test",
        "[ok] issuer",
    ] {
        v.expect_stderr(line);
    }
    // cosign v3 verifies the signature and the provenance attestation cleanpipe made keylessly.
    let out = cosign_verify(
        repo.path(),
        &stack,
        "verify",
        &image,
        "dev@example.test",
        &issuer,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cosign_verify(
        repo.path(),
        &stack,
        "verify-attestation",
        &image,
        "dev@example.test",
        &issuer,
        &["--type", "slsaprovenance1"],
    );
    assert!(out.status.success(), "{}", text(&out));

    // Another identity, another issuer, a substring of the identity: both tools refuse.
    for (identity, iss) in [
        ("other@example.test", issuer.as_str()),
        ("dev@example.test", stack.github_issuer().as_str()),
        ("dev@example.tes", issuer.as_str()),
    ] {
        cleanpipe_verify(&repo, &verify_args(&stack, &image, identity, iss))
            .expect_code(1)
            .expect_stderr("[FAIL] identity");
        let out = cosign_verify(repo.path(), &stack, "verify", &image, identity, iss, &[]);
        assert!(
            !out.status.success(),
            "cosign accepted {identity} from {iss}: {}",
            text(&out)
        );
    }
    // A regular expression matches as cosign's does.
    let root = stack.trusted_root();
    repo.cleanpipe(&[
        "verify",
        &image,
        "--trusted-root",
        &root,
        "--certificate-identity-regexp",
        "^dev@example\\.test$",
        "--certificate-oidc-issuer",
        &issuer,
        "--insecure-ignore-sct",
    ])
    .expect_code(0);
    // Fail closed: without --insecure-ignore-sct the missing SCT is a failed check; a key is
    // not an identity; an identity needs its issuer.
    repo.cleanpipe(&[
        "verify",
        &image,
        "--trusted-root",
        &root,
        "--certificate-identity",
        "dev@example.test",
        "--certificate-oidc-issuer",
        &issuer,
    ])
    .expect_code(1)
    .expect_stderr("[FAIL] certificate transparency");
    repo.keygen("other", "pw");
    repo.cleanpipe(&["verify", &image, "--key", "other.pub"])
        .expect_code(1)
        .expect_stderr("signed keylessly");
    repo.cleanpipe(&[
        "verify",
        &image,
        "--certificate-identity",
        "dev@example.test",
    ])
    .expect_code(2)
    .expect_stderr("needs `--certificate-oidc-issuer");
    // The deploy gate from a policy file trusting the identity.
    let policy = |identity: &str| {
        format!(
            "version: 1\ntrust:\n  trusted_root: {root}\n  insecure_ignore_sct: true\n  identities:\n    - identity: {identity}\n      issuer: {issuer}\nrequire:\n  attestations: [slsaprovenance1]\n  sbom: true\n"
        )
    };
    repo.write("policy.yaml", &policy("dev@example.test"));
    repo.cleanpipe(&["verify", &image, "--policy", "policy.yaml"])
        .expect_code(0)
        .expect_stderr("VERIFIED");
    repo.write("policy.yaml", &policy("ops@example.test"));
    repo.cleanpipe(&["verify", &image, "--policy", "policy.yaml"])
        .expect_code(1);
}

#[test]
fn cleanpipe_verifies_cosign_keyless_signatures_and_github_workflow_claims() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    let name = unique("it/keyless-gh");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let image = r.last_line();
    // cosign v3 signs it keylessly with a GitHub Actions workflow token.
    std::fs::write(repo.path().join("gh.token"), stack.token("github", "")).unwrap();
    let bin = cosign("V3").unwrap();
    let out = run_peer(
        &bin,
        repo.path(),
        &[
            "sign",
            "-y",
            "--signing-config",
            &stack.signing_config(),
            "--trusted-root",
            &stack.trusted_root(),
            "--identity-token",
            "gh.token",
            "--allow-insecure-registry",
            &image,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let issuer = stack.github_issuer();
    let mut args = verify_args(&stack, &image, WORKFLOW, &issuer);
    for (flag, value) in [
        ("--certificate-github-workflow-repository", "acme/app"),
        ("--certificate-github-workflow-ref", "refs/heads/main"),
        ("--certificate-github-workflow-trigger", "push"),
        (
            "--certificate-github-workflow-sha",
            "0123456789abcdef0123456789abcdef01234567",
        ),
    ] {
        args.push(flag.into());
        args.push(value.into());
    }
    cleanpipe_verify(&repo, &args)
        .expect_code(0)
        .expect_stderr("[ok] workflow claims: repository acme/app");
    // Another repository's workflow claim: not the trusted identity.
    let mut other = verify_args(&stack, &image, WORKFLOW, &issuer);
    other.extend([
        "--certificate-github-workflow-repository".into(),
        "acme/other".into(),
    ]);
    cleanpipe_verify(&repo, &other)
        .expect_code(1)
        .expect_stderr("workflow repository is acme/app, not acme/other");
    // The image's own key signature is still there and still verifies with the key.
    repo.cleanpipe(&["verify", &image, "--key", "cosign.pub"])
        .expect_code(0);
}

#[test]
fn the_github_actions_ambient_token_signs_and_its_workflow_verifies() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    let name = unique("it/keyless-ambient");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let request_url = format!("{}/actions", stack.github_issuer());
    let request_token = std::env::var("CLEANPIPE_TEST_OIDC_REQUEST_TOKEN").unwrap();
    let config = stack.signing_config();
    let r = repo.cleanpipe_env(
        &["sign", &image, "--keyless", "--signing-config", &config],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &request_token),
        ],
    );
    r.expect_code(0)
        .expect_stderr("the CI provider's OIDC credentials");
    assert!(!r.all().contains(&request_token));
    cleanpipe_verify(
        &repo,
        &verify_args(&stack, &image, WORKFLOW, &stack.github_issuer()),
    )
    .expect_code(0);
    let out = cosign_verify(
        repo.path(),
        &stack,
        "verify",
        &image,
        WORKFLOW,
        &stack.github_issuer(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn bad_keyless_input_signs_nothing_and_says_why() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    let name = unique("it/keyless-bad");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let config = stack.signing_config();
    let sign = |token: Option<&str>| {
        let mut args = vec!["sign", &image, "--keyless", "--signing-config", &config];
        if let Some(t) = token {
            args.extend(["--identity-token", t]);
        }
        repo.cleanpipe(&args)
    };
    // No token anywhere: the message names where it looked.
    sign(None)
        .expect_code(2)
        .expect_stderr("SIGSTORE_ID_TOKEN")
        .expect_stderr("ACTIONS_ID_TOKEN_REQUEST_URL");
    let expired = stack.token("email", "ttl=-120");
    sign(Some(&expired)).expect_code(2).expect_stderr("expired");
    let other_audience = stack.token("email", "aud=api://other");
    sign(Some(&other_audience))
        .expect_code(2)
        .expect_stderr("not `sigstore`");
    // A token the issuer never signed (its key is not in the issuer's JWKS): Fulcio refuses.
    let forged = stack.token("email", "forged=1");
    let r = sign(Some(&forged));
    r.expect_code(2).expect_stderr("Fulcio refused");
    assert!(!r.all().contains(&forged));
    // Nothing was signed keylessly by any of these.
    let root = stack.trusted_root();
    let issuer = stack.email_issuer();
    cleanpipe_verify(
        &repo,
        &verify_args(&stack, &image, "dev@example.test", &issuer),
    )
    .expect_code(1);

    // Fulcio unreachable: exit 3, and a run pushes nothing.
    let text = std::fs::read_to_string(&config).unwrap();
    let fulcio = std::env::var("CLEANPIPE_TEST_FULCIO").unwrap();
    let dead = repo.path().join("dead-fulcio.json");
    std::fs::write(&dead, text.replace(&fulcio, "http://127.0.0.1:9")).unwrap();
    let token = stack.token("email", "");
    repo.cleanpipe(&[
        "sign",
        &image,
        "--keyless",
        "--signing-config",
        &dead.display().to_string(),
        "--identity-token",
        &token,
    ])
    .expect_code(3)
    .expect_stderr("Fulcio");
    let unpushed = unique("it/keyless-dead");
    let run_repo = keyless_repo(&stack, &registry, &unpushed);
    run_repo.write(
        "pipeline.yaml",
        &std::fs::read_to_string(run_repo.path().join("pipeline.yaml"))
            .unwrap()
            .replace(&config, &dead.display().to_string()),
    );
    run_repo.commit();
    run_repo
        .cleanpipe_env(&["run"], &[("TEST_ID_TOKEN", &token)])
        .expect_code(3);
    assert_eq!(manifest_status(&registry, &unpushed, "v1"), 404);

    // A certificate from a CA the trusted root does not list: the chain check fails.
    let good = repo.cleanpipe(&[
        "sign",
        &image,
        "--keyless",
        "--signing-config",
        &config,
        "--identity-token",
        &token,
    ]);
    good.expect_code(0);
    let mut other_root: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&root).unwrap()).unwrap();
    let tsa_chain = other_root["timestampAuthorities"][0]["certChain"].clone();
    other_root["certificateAuthorities"][0]["certChain"] = tsa_chain;
    let other_root_path = repo.path().join("other-root.json");
    std::fs::write(&other_root_path, other_root.to_string()).unwrap();
    repo.cleanpipe(&[
        "verify",
        &image,
        "--trusted-root",
        &other_root_path.display().to_string(),
        "--certificate-identity",
        "dev@example.test",
        "--certificate-oidc-issuer",
        &issuer,
        "--insecure-ignore-sct",
    ])
    .expect_code(1)
    .expect_stderr("[FAIL] certificate chain");
    // A trusted root that is not one is a usage error.
    std::fs::write(repo.path().join("junk.json"), "not json").unwrap();
    repo.cleanpipe(&[
        "verify",
        &image,
        "--trusted-root",
        "junk.json",
        "--certificate-identity",
        "dev@example.test",
        "--certificate-oidc-issuer",
        &issuer,
    ])
    .expect_code(2)
    .expect_stderr("not a Sigstore trusted root");
}

#[test]
fn verify_base_trusts_a_vendor_identity_and_refuses_another() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    // The "vendor" publishes a base and signs it keylessly.
    let (vendor, base) = published_scratch_image(
        &format!("{registry}/{}", unique("it/keyless-base")),
        &["v1"],
    );
    let token = stack.token("email", "");
    let config = stack.signing_config();
    vendor
        .cleanpipe(&[
            "sign",
            &base,
            "--keyless",
            "--signing-config",
            &config,
            "--identity-token",
            &token,
        ])
        .expect_code(0);
    let pipeline = |identity: &str| {
        format!(
            "version: 1\nverify_base:\n  identities:\n    vendor:\n      identity: {identity}\n      issuer: {}\n      trusted_root: {}\n      insecure_ignore_sct: true\n  default_key: vendor\nbuild:\n  customize:\n    base: {base}\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: cosign.key\n",
            stack.email_issuer(),
            stack.trusted_root()
        )
    };
    let repo = Repo::new();
    repo.write("hello.txt", "on a keyless base\n");
    repo.keygen("cosign", "pw");
    repo.write("pipeline.yaml", &pipeline("dev@example.test"));
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .expect_stderr("signed by identity `vendor`");
    repo.write("pipeline.yaml", &pipeline("release@vendor.test"));
    repo.commit();
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(1)
        .expect_stderr("verifies with identity release@vendor.test")
        // Which part did not match, not only that nothing did.
        .expect_stderr("identity: the certificate is for dev@example.test");
    // A pipeline cannot sign with a key and keylessly at once, nor keep keyless evidence in
    // the legacy layout.
    for (sign, key) in [
        (
            "sign:\n  key: cosign.key\n  keyless: true\n",
            "sign.keyless",
        ),
        ("sign:\n  keyless: true\n  format: legacy\n", "sign.format"),
    ] {
        repo.write(
            "pipeline.yaml",
            &format!("version: 1\nbuild:\n  customize:\n    base: scratch\n{sign}"),
        );
        repo.commit();
        repo.cleanpipe(&["validate"])
            .expect_code(2)
            .expect_stderr(key);
    }
}

/// `GET` a path of the registry with curl; the body.
fn registry_get(registry: &str, path: &str, accept: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-fsS", "--noproxy", "*", "-H", &format!("Accept: {accept}")])
        .arg(format!("http://{registry}{path}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The keyless bundles among the referrers of `repo@digest`, as JSON values.
fn bundles_of(registry: &str, repo: &str, digest: &str) -> Vec<serde_json::Value> {
    let index: serde_json::Value = serde_json::from_slice(&registry_get(
        registry,
        &format!("/v2/{repo}/referrers/{digest}"),
        "application/vnd.oci.image.index.v1+json",
    ))
    .unwrap();
    let mut out = Vec::new();
    for m in index["manifests"].as_array().unwrap() {
        let manifest: serde_json::Value = serde_json::from_slice(&registry_get(
            registry,
            &format!("/v2/{repo}/manifests/{}", m["digest"].as_str().unwrap()),
            "application/vnd.oci.image.manifest.v1+json",
        ))
        .unwrap();
        let layer = manifest["layers"][0]["digest"].as_str().unwrap();
        let blob = registry_get(registry, &format!("/v2/{repo}/blobs/{layer}"), "*/*");
        let bundle: serde_json::Value = serde_json::from_slice(&blob).unwrap();
        if bundle["verificationMaterial"].get("certificate").is_some() {
            out.push(bundle);
        }
    }
    out
}

#[test]
fn tampered_keyless_bundles_fail_the_check_they_break() {
    let Some(_) = registry() else { return };
    let Some(stack) = stack() else { return };
    // The referrers API lists each bundle (the plain registry would need the fallback tag).
    let registry = std::env::var("CLEANPIPE_TEST_REFERRERS_REGISTRY")
        .expect(".ci/run starts the referrers registry with the others");
    let name = unique("it/keyless-tamper");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let config = stack.signing_config();
    for _ in 0..2 {
        let token = stack.token("email", "");
        repo.cleanpipe(&[
            "sign",
            &image,
            "--keyless",
            "--signing-config",
            &config,
            "--identity-token",
            &token,
        ])
        .expect_code(0);
    }
    let digest_text = image.rsplit('@').next().unwrap();
    let bundles = bundles_of(&registry, &name, digest_text);
    assert_eq!(bundles.len(), 2, "two keyless signatures");
    let digest = cleanpipe::oci::types::Digest::parse(digest_text).unwrap();
    let trust = cleanpipe::sign::identity::KeylessTrust::new(
        Some(Path::new(&stack.trusted_root())),
        vec![cleanpipe::sign::identity::Identity {
            subject: cleanpipe::sign::identity::Matcher::Exact("dev@example.test".into()),
            issuer: cleanpipe::sign::identity::Matcher::Exact(stack.email_issuer()),
            github: Default::default(),
        }],
        true,
    )
    .unwrap();
    let check = |bundle: &serde_json::Value| {
        let parsed = cleanpipe::evidence::bundle::parse(bundle.to_string().as_bytes()).unwrap();
        match cleanpipe::evidence::keyless::open(&parsed, &digest, &trust) {
            Ok(_) => None,
            Err(refused) => refused.checks.iter().find(|c| !c.passed).map(|c| c.name),
        }
    };
    assert_eq!(check(&bundles[0]), None, "an untouched bundle verifies");
    // The log entry of another signature.
    let mut swapped = bundles[0].clone();
    swapped["verificationMaterial"]["tlogEntries"] =
        bundles[1]["verificationMaterial"]["tlogEntries"].clone();
    assert_eq!(check(&swapped), Some("transparency log"));
    // No trusted time at all (Rekor v2 has no integrated time; the timestamp removed).
    let mut untimed = bundles[0].clone();
    untimed["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("timestampVerificationData");
    assert!(
        check(&untimed).is_some(),
        "a bundle with no trusted time must fail"
    );
    // Another signature's certificate: the signature does not verify with its key.
    let mut recertified = bundles[0].clone();
    recertified["verificationMaterial"]["certificate"] =
        bundles[1]["verificationMaterial"]["certificate"].clone();
    assert!(
        check(&recertified).is_some(),
        "another certificate must fail"
    );
    // The bundle about another image.
    let other: cleanpipe::oci::types::Digest = cleanpipe::oci::types::Digest::of(b"another image");
    let parsed = cleanpipe::evidence::bundle::parse(bundles[0].to_string().as_bytes()).unwrap();
    let refused = cleanpipe::evidence::keyless::open(&parsed, &other, &trust)
        .err()
        .unwrap();
    assert_eq!(
        refused.checks.last().unwrap().name,
        "statement names this digest"
    );
}

#[test]
fn key_signed_bundles_logged_in_rekor_v2_verify_with_cleanpipe_and_cosign_v3() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    let name = unique("it/logged-key");
    let repo = Repo::new();
    repo.write("hello.txt", "signed with a key, logged\n");
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: cosign.key\n  format: bundle\n  signing_config: {}\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n",
            stack.signing_config()
        ),
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0).expect_stderr("logged in Rekor v2");
    let image = r.last_line();
    let root = stack.trusted_root();
    repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "cosign.pub",
        "--trusted-root",
        &root,
        "--require-provenance",
        "--require-sbom",
    ])
    .expect_code(0)
    .expect_stderr("[ok] transparency log");
    // cosign v3 with its default: the log entry is required and checked.
    let bin = cosign("V3").unwrap();
    for (command, extra) in [
        ("verify", None),
        ("verify-attestation", Some("slsaprovenance1")),
    ] {
        let mut args = vec![
            command,
            "--key",
            "cosign.pub",
            "--trusted-root",
            &root,
            "--allow-insecure-registry",
        ];
        if let Some(t) = extra {
            args.extend(["--type", t]);
        }
        args.push(&image);
        let out = run_peer(&bin, repo.path(), &args);
        assert!(out.status.success(), "{}", text(&out));
    }
    // An image signed with the same key but not logged fails once a log is required, with
    // cleanpipe as with cosign.
    let plain = scratch_repo(
        Some(&format!("{registry}/{}", unique("it/unlogged"))),
        &["v1"],
    );
    std::fs::copy(
        repo.path().join("cosign.key"),
        plain.path().join("cosign.key"),
    )
    .unwrap();
    plain.write(
        "pipeline.yaml",
        &std::fs::read_to_string(plain.path().join("pipeline.yaml"))
            .unwrap()
            .replace(
                "sign:\n  key: cosign.key\n",
                "sign:\n  key: cosign.key\n  format: bundle\n",
            ),
    );
    plain.commit();
    let unlogged = plain
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    repo.cleanpipe(&[
        "verify",
        &unlogged,
        "--key",
        "cosign.pub",
        "--trusted-root",
        &root,
    ])
    .expect_code(1)
    .expect_stderr("[FAIL] transparency log");
    let out = run_peer(
        &bin,
        repo.path(),
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--trusted-root",
            &root,
            "--allow-insecure-registry",
            &unlogged,
        ],
    );
    assert!(
        !out.status.success(),
        "cosign accepted an unlogged signature: {}",
        text(&out)
    );
    // Without a trusted root it is the key-only check it always was.
    repo.cleanpipe(&["verify", &unlogged, "--key", "cosign.pub"])
        .expect_code(0);
    // A signing config for a run that writes no bundle is refused at load.
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\nsign:\n  key: cosign.key\n  signing_config: sc.json\n",
    );
    repo.commit();
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("sign.signing_config");
}

/// `base outdated`/`base update` verify a moved tag with a vendor identity, as `run` does.
#[test]
fn base_updates_follow_a_tag_signed_by_a_vendor_identity() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    let name = unique("it/keyless-base-update");
    let vendor = scratch_repo(Some(&format!("{registry}/{name}")), &["stable"]);
    let publish = |content: &str| {
        vendor.write("hello.txt", content);
        vendor.commit();
        let image = vendor
            .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(0)
            .last_line();
        let token = stack.token("email", "");
        vendor
            .cleanpipe(&[
                "sign",
                &image,
                "--keyless",
                "--signing-config",
                &stack.signing_config(),
                "--identity-token",
                &token,
            ])
            .expect_code(0);
        image[image.find('@').unwrap() + 1..].to_string()
    };
    let first = publish("v1\n");
    let consumer = Repo::new();
    consumer.write("hello.txt", "app\n");
    consumer.keygen("cosign", "pw");
    let pipeline = |identity: &str| {
        format!(
            "version: 1\nverify_base:\n  identities:\n    vendor:\n      identity: {identity}\n      issuer: {}\n      trusted_root: {}\n      insecure_ignore_sct: true\n  default_key: vendor\nbuild:\n  customize:\n    base: {registry}/{name}:stable@{first}\n    files:\n      - src: hello.txt\n        dest: /app.txt\nsign:\n  key: cosign.key\n",
            stack.email_issuer(),
            stack.trusted_root()
        )
    };
    consumer.write("pipeline.yaml", &pipeline("dev@example.test"));
    consumer.commit();
    consumer
        .cleanpipe(&["base", "outdated"])
        .expect_code(0)
        .expect_stderr("up to date");
    let second = publish("v2\n");
    let json = consumer.cleanpipe(&["base", "outdated", "--output", "json"]);
    json.expect_code(1);
    let statuses: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(statuses[0]["state"], "update verified", "{statuses}");
    assert_eq!(statuses[0]["current"], second.as_str());
    assert!(
        statuses[0]["detail"]
            .as_str()
            .unwrap()
            .contains("identity `vendor`"),
        "{statuses}"
    );
    consumer
        .cleanpipe(&["base", "update", "--write"])
        .expect_code(0)
        .expect_stderr("1 pin(s) rewritten");
    // Another identity: the moved tag is listed, not verified, never written.
    let third = publish("v3\n");
    consumer.write(
        "pipeline.yaml",
        &pipeline("release@vendor.test").replace(&first, &second),
    );
    consumer.commit();
    consumer
        .cleanpipe(&["base", "update", "--write"])
        .expect_code(1)
        .expect_stderr("update NOT verified")
        .expect_stderr("0 pin(s) rewritten");
    let text = std::fs::read_to_string(consumer.path().join("pipeline.yaml")).unwrap();
    assert!(!text.contains(&third), "{text}");
}

/// A keyless `run` from a (simulated) GitHub Actions job reports the signer a verifier must
/// trust: the certificate's workflow identity and issuer, not the token's subject; and where
/// each piece of evidence is (bundle referrers), never a `.sig` tag that was not written.
#[test]
fn a_keyless_run_reports_the_certified_workflow_identity_and_evidence_locations() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    let name = unique("it/keyless-report");
    let repo = Repo::new();
    repo.write("hello.txt", "signed in CI\n");
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  keyless:\n    signing_config: {}\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n",
            stack.signing_config()
        ),
    );
    repo.commit();
    let request_url = format!("{}/actions", stack.github_issuer());
    let request_token = std::env::var("CLEANPIPE_TEST_OIDC_REQUEST_TOKEN").unwrap();
    let run = repo.cleanpipe_env(
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &request_token),
        ],
    );
    run.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap(),
    )
    .unwrap();
    let signer = &report["signature"]["signer"];
    assert_eq!(signer["kind"], "keyless", "{report}");
    assert_eq!(signer["identity"], WORKFLOW, "{signer}");
    assert_eq!(signer["issuer"], stack.github_issuer().as_str());
    assert!(
        !report["signature"]["key"]
            .as_str()
            .unwrap()
            .contains("repo:"),
        "the token's subject is not the signer: {}",
        report["signature"]["key"]
    );
    assert!(report["signature"]["signature_tag"].is_null(), "{report}");
    let evidence = report["signature"]["evidence"].as_array().unwrap();
    assert!(evidence.len() >= 2, "{report}");
    for e in evidence {
        assert!(
            e["location"]
                .as_str()
                .unwrap()
                .starts_with("referrer sha256:"),
            "{e}"
        );
    }
    assert!(evidence.iter().any(|e| e["what"] == "signature"));
    // The audit record names the same signer.
    let audit = std::fs::read_to_string(repo.path().join(".cleanpipe/out/audit.jsonl")).unwrap();
    assert!(audit.contains(WORKFLOW), "{audit}");
    // And a verifier trusting that identity accepts the image.
    let image = run.last_line();
    cleanpipe_verify(
        &repo,
        &verify_args(&stack, &image, WORKFLOW, &stack.github_issuer()),
    )
    .expect_code(0);
}

/// `claims=` for the OIDC issuer's GitHub tokens: the workflow of another repository.
fn github_claims(repository: &str, workflow: &str) -> String {
    let claims = serde_json::json!({
        "repository": repository,
        "job_workflow_ref": format!("{repository}/.github/workflows/{workflow}@refs/heads/main"),
        "workflow_ref": format!("{repository}/.github/workflows/{workflow}@refs/heads/main"),
        "sub": format!("repo:{repository}:ref:refs/heads/main"),
    })
    .to_string();
    let encoded: String = claims
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("claims={encoded}")
}

/// The whole story as a GitHub-hosted team runs it (issue: "the whole story works"): a vendor
/// publishes a base signed keylessly by its release workflow with cosign v3; the team
/// customizes it (a CA certificate, the app, Python packages), scans with a waiver written in
/// another case than the finding, signs keylessly through the GitHub Actions token path,
/// pushes and notifies a webhook; a release engineer verifies with a policy trusting the
/// team's workflow, gets the digest to deploy, attaches a keylessly signed VSA, and a later
/// policy requiring that VSA admits the image. Refused: another identity, the vendor base
/// itself, and an image built from a dirty tree.
#[test]
fn the_whole_story_as_a_github_hosted_team_runs_it() {
    let Some(registry) = registry() else { return };
    let Some(stack) = stack() else { return };
    let Some(pkgs) = test_data(
        "CLEANPIPE_TEST_PACKAGES",
        "PyPI packages downloaded by .ci/run",
    ) else {
        return;
    };
    let issuer = stack.github_issuer();
    // 1. The vendor's base, signed by its release workflow (cosign v3, bundles).
    let (vendor, base) = published_scratch_image(
        &format!("{registry}/{}", unique("it/story-vendor")),
        &["v1"],
    );
    std::fs::write(
        vendor.path().join("vendor.token"),
        stack.token("github", &github_claims("vendor/base", "publish.yml")),
    )
    .unwrap();
    let out = run_peer(
        &cosign("V3").unwrap(),
        vendor.path(),
        &[
            "sign",
            "-y",
            "--signing-config",
            &stack.signing_config(),
            "--trusted-root",
            &stack.trusted_root(),
            "--identity-token",
            "vendor.token",
            "--allow-insecure-registry",
            &base,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let vendor_workflow =
        "https://github.com/vendor/base/.github/workflows/publish.yml@refs/heads/main";

    // 2. The team's repository: customize the base, scan with a waiver, sign keylessly.
    let repo = Repo::new();
    repo.write(
        "ca/corporate-ca.pem",
        "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
    );
    repo.write("app/main.py", "print('hello')\n");
    assert!(Command::new("cp")
        .arg("-r")
        .arg(pkgs.join("site-packages"))
        .arg(repo.path())
        .status()
        .unwrap()
        .success());
    let osv = crate::sbom_scan::osv_fixtures();
    let sink = Sink::start("200");
    let name = unique("it/story-team");
    let pipeline = format!(
        "version: 1\nverify_base:\n  identities:\n    vendor:\n      identity: {vendor_workflow}\n      issuer: {issuer}\n      trusted_root: {root}\n      insecure_ignore_sct: true\n  default_key: vendor\nbuild:\n  customize:\n    base: {base_pinned}\n    files:\n      - src: ca/corporate-ca.pem\n        dest: /usr/local/share/ca-certificates/corporate-ca.pem\n      - src: app\n        dest: /app\n      - src: site-packages\n        dest: /usr/lib/python3/site-packages\n  scan:\n    db: {osv}\n    fail_on: high\n    waivers:\n      - id: GHSA-g3rq-g295-4j3m\n        package: jinja2\n        reason: templates are ours\n        expires: '2099-01-01'\n      - id: GHSA-h5c8-rqwp-cp95\n        package: JINJA2\n        reason: templates are ours\n        expires: '2099-01-01'\n      - id: GHSA-h75v-3vvj-5mfj\n        reason: templates are ours\n        expires: '2099-01-01'\n      - id: GHSA-q2q7-5pp4-w6pg\n        reason: no proxy use\n        expires: '2099-01-01'\n      - id: GHSA-v845-jxx5-vc9f\n        reason: no proxy use\n        expires: '2099-01-01'\n      - id: GHSA-g4mx-q9vg-27p4\n        reason: no proxy use\n        expires: '2099-01-01'\n      - id: GHSA-34jh-p97f-mpxf\n        reason: no proxy use\n        expires: '2099-01-01'\n      - id: GHSA-j8r2-6x86-q33q\n        reason: no proxy use\n        expires: '2099-01-01'\n      - id: GHSA-9wx4-h78v-vm56\n        reason: no proxy use\n        expires: '2099-01-01'\nsign:\n  keyless:\n    signing_config: {config}\npush:\n  repository: {registry}/{name}\n  tags: [v1]\n  register:\n    - url: {hook}\n      secret: ${{WEBHOOK_SECRET}}\n",
        root = stack.trusted_root(),
        base_pinned = base.replacen('@', ":v1@", 1),
        osv = osv.display(),
        config = stack.signing_config(),
        hook = sink.url(),
    );
    repo.write("pipeline.yaml", &pipeline);
    repo.commit();
    let request_url = format!("{}/actions", issuer);
    let request_token = std::env::var("CLEANPIPE_TEST_OIDC_REQUEST_TOKEN").unwrap();
    let gh_env = [
        ("GITHUB_ACTIONS", "true"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token.as_str()),
        ("WEBHOOK_SECRET", "story-webhook-secret"),
    ];
    let run = repo.cleanpipe_env(&["run"], &gh_env);
    run.expect_code(0)
        .expect_stderr("signed by identity `vendor`");
    assert!(!run.all().contains("story-webhook-secret"));
    let image = run.last_line();
    let digest = image.rsplit('@').next().unwrap().to_string();
    // The webhook names the real signer: the team's workflow, not the token's subject.
    let hooks = sink.requests();
    assert_eq!(hooks.len(), 1);
    let body: serde_json::Value = serde_json::from_str(hooks[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["signature"]["signer"]["identity"], WORKFLOW, "{body}");
    // The waivers written `jinja2`/`JINJA2` cover the findings in `Jinja2`; none is unused.
    let scan =
        std::fs::read_to_string(repo.path().join(".cleanpipe/out/scan-results.json")).unwrap();
    assert!(!scan.contains("matches no finding"), "{scan}");

    // 3. The release engineer: a policy trusting the team's workflow.
    let commit = {
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(repo.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let policy = |identity: &str, extra: &str| {
        format!(
            "version: 1\ntrust:\n  identities:\n    - identity: {identity}\n      issuer: {issuer}\n    - identity: dev@example.test\n      issuer: {email}\n  trusted_root: {root}\n  insecure_ignore_sct: true\nprovenance:\n  allow_dirty: false\nvulnerabilities:\n  fail_on: high\n{extra}",
            email = stack.email_issuer(),
            root = stack.trusted_root(),
        )
    };
    std::fs::write(repo.path().join("../policy.yaml"), policy(WORKFLOW, "")).unwrap();
    let policy_path = repo.path().join("../policy.yaml").display().to_string();
    let verified = repo.cleanpipe(&[
        "verify",
        &image,
        "--policy",
        &policy_path,
        "--commit",
        &commit,
        "--output",
        "digest",
    ]);
    verified.expect_code(0);
    assert!(
        verified.stdout.trim().ends_with(&digest),
        "{}",
        verified.stdout
    );
    // A summary signed keylessly by the release engineer, attached to the image; the commit
    // checked is named in its policy.
    std::fs::write(
        repo.path().join("../engineer.token"),
        stack.token("email", ""),
    )
    .unwrap();
    let vsa = repo.path().join("../vsa.json").display().to_string();
    let engineer_token = repo.path().join("../engineer.token").display().to_string();
    repo.cleanpipe(&[
        "verify",
        &image,
        "--policy",
        &policy_path,
        "--commit",
        &commit,
        "--vsa",
        &vsa,
        "--vsa-keyless",
        "--vsa-signing-config",
        &stack.signing_config(),
        "--vsa-identity-token",
        &engineer_token,
        "--attach-vsa",
    ])
    .expect_code(0)
    .expect_stderr("attached to");
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&vsa).unwrap()).unwrap();
    let statement = dsse_statement(bundle["dsseEnvelope"].to_string().as_bytes());
    assert_eq!(statement["predicate"]["verificationResult"], "PASSED");
    assert_eq!(
        statement["predicate"]["policy"]["annotations"]["commit"],
        commit.as_str()
    );
    // Later: a policy that requires that summary admits the image.
    std::fs::write(
        repo.path().join("../policy-vsa.yaml"),
        policy(WORKFLOW, "require:\n  vsa: {}\n"),
    )
    .unwrap();
    let policy_vsa = repo.path().join("../policy-vsa.yaml").display().to_string();
    repo.cleanpipe(&["verify", &image, "--policy", &policy_vsa])
        .expect_code(0)
        .expect_stderr("VERIFIED");

    // Refused: another team's workflow, the vendor base itself, a dirty build.
    std::fs::write(
        repo.path().join("../policy-other.yaml"),
        policy(
            "https://github.com/acme/other/.github/workflows/release.yml@refs/heads/main",
            "",
        ),
    )
    .unwrap();
    let other = repo
        .path()
        .join("../policy-other.yaml")
        .display()
        .to_string();
    repo.cleanpipe(&["verify", &image, "--policy", &other])
        .expect_code(1)
        .expect_stderr("NOT VERIFIED");
    repo.cleanpipe(&["verify", &base, "--policy", &policy_path])
        .expect_code(1)
        .expect_stderr("NOT VERIFIED");
    repo.write(
        "pipeline.yaml",
        &pipeline.replace("sign:\n", "source:\n  allow_dirty: true\nsign:\n"),
    );
    repo.commit();
    let clean_commit = {
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(repo.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    repo.write("app/main.py", "print('not committed')\n");
    let dirty = repo.cleanpipe_env(&["run"], &gh_env);
    dirty.expect_code(0);
    let dirty_image = dirty.last_line();
    repo.cleanpipe(&[
        "verify",
        &dirty_image,
        "--policy",
        &policy_path,
        "--commit",
        &clean_commit,
    ])
    .expect_code(1)
    .expect_stderr("NOT VERIFIED");
}
