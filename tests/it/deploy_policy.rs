//! `cleanpipe verify IMAGE --policy policy.yaml`: the deploy gate read from a reviewed file.
//! Every rule passes on a real run's evidence, each fails on its own by name, an unsatisfiable
//! policy lists each failed rule, and bad files are usage errors with line:col.

use crate::support::*;

/// A base image in its own layout, and an app built on it (customize, pinned by digest) with a
/// builder id and an offline scan; returns (base repo, app repo, base layout dir).
fn app_on_a_base() -> (Repo, Repo, String) {
    let base = scratch_repo(None, &["v1"]);
    let r = base.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let base_digest = r.last_line().rsplit('@').next().unwrap().to_string();
    let base_dir = base.path().join(".cleanpipe/oci").display().to_string();
    let app = Repo::new();
    app.copy_in(&base.path().join("cosign.pub"), "vendor.pub");
    app.write("app.txt", "app\n");
    app.keygen("cosign", "pw");
    app.keygen("other", "pw");
    app.write_osv_db_without_matches();
    app.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nverify_base:\n  keys: {{ vendor: vendor.pub }}\n  default_key: vendor\nbuild:\n  customize:\n    base: oci:{base_dir}@{base_digest}\n    files:\n      - src: app.txt\n        dest: /app.txt\n  scan:\n    db: osv\nsign:\n  key: cosign.key\n  builder_id: https://ci.example/builders/release\npush:\n  tags: [v1]\n"
        ),
    );
    app.git(&[
        "remote",
        "add",
        "origin",
        "https://git.example/acme/app.git",
    ]);
    app.commit();
    app.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    (base, app, base_dir)
}

/// A policy that the app's evidence satisfies, with `changes` applied as (line prefix, new line).
fn policy(base_dir: &str, changes: &[(&str, &str)]) -> String {
    let mut text = format!(
        "version: 1\ntrust:\n  keys: [cosign.pub]\nrequire:\n  attestations: [slsaprovenance1, spdxjson, cyclonedx, vuln]\n  sbom: true\nprovenance:\n  source_repository: https://git.example/acme/app\n  refs: ['refs/heads/*']\n  builder_ids: [https://ci.example/builders/release]\nbases:\n  allow: ['oci:{base_dir}']\nvulnerabilities:\n  fail_on: low\n  max_age: 1d\n"
    );
    for (prefix, line) in changes {
        let old = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starts with {prefix}"))
            .to_string();
        text = text.replace(&format!("{old}\n"), &format!("{line}\n"));
    }
    text
}

fn verify(app: &Repo, file: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "oci:.cleanpipe/oci:v1", "--policy", file];
    args.extend_from_slice(extra);
    app.cleanpipe_env(&args, &[("COSIGN_PASSWORD", "pw")])
}

#[test]
fn a_policy_file_gates_on_every_rule() {
    let (_base, app, base_dir) = app_on_a_base();
    app.write("policy.yaml", &policy(&base_dir, &[]));
    let r = verify(&app, "policy.yaml", &[]);
    r.expect_code(0)
        .expect_stderr("policy [ok] source ref")
        .expect_stderr("policy [ok] builder")
        .expect_stderr("policy [ok] base images")
        .expect_stderr("policy [ok] scan age")
        .expect_stderr("policy [ok] required attestation: https://cyclonedx.org/bom")
        .expect_stderr("VERIFIED");
    // Each rule fails on its own, by name, and the verdict is exit 1.
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("  refs:", "  refs: ['refs/tags/v*']")],
            "policy [FAIL] source ref",
        ),
        (
            &[("  builder_ids:", "  builder_ids: [https://other.example/b]")],
            "policy [FAIL] builder",
        ),
        (
            &[("  allow:", "  allow: ['registry.example/hardened/**']")],
            "policy [FAIL] base images",
        ),
        (
            &[("  allow:", "  allow: ['oci:/elsewhere/*']")],
            "policy [FAIL] base images",
        ),
        (
            &[(
                "  source_repository:",
                "  source_repository: https://git.example/acme/other",
            )],
            "policy [FAIL] source repository",
        ),
        (
            &[(
                "  attestations:",
                "  attestations: [https://openvex.dev/ns]",
            )],
            "policy [FAIL] required attestation",
        ),
        (
            &[("  keys:", "  keys: [other.pub]")],
            "NOT VERIFIED: none of",
        ),
    ];
    for (changes, failure) in cases {
        app.write("p.yaml", &policy(&base_dir, changes));
        verify(&app, "p.yaml", &[])
            .expect_code(1)
            .expect_stderr(failure)
            .expect_stderr("NOT VERIFIED");
    }
    // A base pinned to another digest is refused; to its own digest, allowed.
    let other = format!("sha256:{}", "0".repeat(64));
    app.write(
        "p.yaml",
        &policy(
            &base_dir,
            &[("  allow:", &format!("  allow: ['oci:{base_dir}@{other}']"))],
        ),
    );
    verify(&app, "p.yaml", &[])
        .expect_code(1)
        .expect_stderr("policy [FAIL] base images");
    // The scan must be fresh: one second is too old after two have passed.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    app.write(
        "p.yaml",
        &policy(&base_dir, &[("  max_age:", "  max_age: 1s")]),
    );
    verify(&app, "p.yaml", &[])
        .expect_code(1)
        .expect_stderr("policy [FAIL] scan age");
    // Options narrow the file, never widen it.
    verify(&app, "policy.yaml", &["--fail-on", "none"]).expect_code(0);
    verify(
        &app,
        "policy.yaml",
        &["--source-repo", "https://git.example/acme/other"],
    )
    .expect_code(2)
    .expect_stderr("rules out");
    verify(
        &app,
        "policy.yaml",
        &["--builder-id", "https://other.example/b"],
    )
    .expect_code(2)
    .expect_stderr("rules out");
    // Another trusted key beside the policy's: still verified (a signature by any key counts).
    verify(&app, "policy.yaml", &["--key", "other.pub"]).expect_code(0);
}

#[test]
fn an_unsatisfiable_policy_names_each_failed_rule() {
    let (_base, app, base_dir) = app_on_a_base();
    app.write(
        "policy.yaml",
        &policy(
            &base_dir,
            &[
                ("  refs:", "  refs: ['refs/tags/*']"),
                ("  attestations:", "  attestations: [openvex]"),
                ("  allow:", "  allow: ['registry.example/**']"),
            ],
        ),
    );
    let r = verify(&app, "policy.yaml", &[]);
    r.expect_code(1)
        .expect_stderr("policy [FAIL] source ref")
        .expect_stderr("policy [FAIL] required attestation")
        .expect_stderr("policy [FAIL] base images");
    let last = r.stderr.lines().last().unwrap_or("").to_string();
    for rule in ["source ref", "required attestation", "base images"] {
        assert!(
            last.contains(rule),
            "the verdict line names `{rule}`: {last}"
        );
    }
}

#[test]
fn a_verification_summary_names_the_policy_file_and_can_be_attached() {
    let (_base, app, base_dir) = app_on_a_base();
    let text = policy(&base_dir, &[]);
    app.write("policy.yaml", &text);
    let r = verify(
        &app,
        "policy.yaml",
        &[
            "--vsa",
            "vsa.json",
            "--vsa-key",
            "cosign.key",
            "--attach-vsa",
        ],
    );
    r.expect_code(0).expect_stderr("attached to");
    let statement = dsse_statement(&std::fs::read(app.path().join("vsa.json")).unwrap());
    let policy_field = &statement["predicate"]["policy"];
    let want = cleanpipe::oci::types::Digest::of(text.as_bytes());
    assert_eq!(policy_field["digest"]["sha256"], want.hex());
    assert!(
        policy_field["uri"]
            .as_str()
            .unwrap()
            .ends_with("/policy.yaml"),
        "{policy_field}"
    );
    assert_eq!(statement["predicate"]["verificationResult"], "PASSED");
    // The attached summary is evidence a later policy can require.
    app.write(
        "vsa-policy.yaml",
        "version: 1\ntrust:\n  keys: [cosign.pub]\nrequire:\n  attestations: [vsa]\n",
    );
    verify(&app, "vsa-policy.yaml", &[])
        .expect_code(0)
        .expect_stderr(
            "policy [ok] required attestation: https://slsa.dev/verification_summary/v1",
        );
    // Pinned to the policy it must have checked, and to the verifier: met by this one only.
    for (pin, code) in [
        (format!("policy_digest: {want}"), 0),
        (
            format!("policy_digest: {}", cleanpipe::oci::types::Digest::of(b"x")),
            1,
        ),
    ] {
        app.write(
            "vsa-policy.yaml",
            &format!("version: 1\ntrust:\n  keys: [cosign.pub]\nrequire:\n  vsa:\n    {pin}\n    verifier_id: https://cleanpipe.dev/verifiers/cli/v1\n"),
        );
        verify(&app, "vsa-policy.yaml", &[]).expect_code(code);
    }
    // A VSA names one policy: options on top of the file are refused, before anything is written.
    verify(
        &app,
        "policy.yaml",
        &[
            "--vsa",
            "vsa2.json",
            "--vsa-key",
            "cosign.key",
            "--require-sbom",
        ],
    )
    .expect_code(2)
    .expect_stderr("takes the policy file as it is");
    assert!(!app.path().join("vsa2.json").exists());
}

#[test]
fn bad_policy_files_are_located_usage_errors() {
    let app = Repo::new();
    app.keygen("cosign", "pw");
    let cases = [
        (
            "version: 1\ntrust:\n  keys: [cosign.pub]\nrequire:\n  sbom: true\n  attestation: [vuln]\n",
            "policy.yaml:6:3:",
            "did you mean `attestations`?",
        ),
        (
            "version: 1\ntrust:\n  keys: [cosign.pub]\nvulnerabilities:\n  fail_on: severe\n",
            "policy.yaml:5:",
            "fail_on",
        ),
        (
            "version: 1\ntrust:\n  keys: [cosign.pub]\nrequire:\n  sbom: yes please\n",
            "policy.yaml:5:",
            "require.sbom",
        ),
        (
            "version: 1\ntrust:\n  keys: [cosign.pub]\n  identities:\n    - issuer: https://token.actions.githubusercontent.com\n",
            "policy.yaml:5:",
            "needs exactly one of `identity` or `identity_regexp`",
        ),
        (
            "version: 1\ntrust:\n  keys: [missing.pub]\n",
            "policy.yaml:3:",
            "missing.pub",
        ),
    ];
    for (text, location, message) in cases {
        app.write("policy.yaml", text);
        let r = app.cleanpipe(&["verify", "oci:nowhere:v1", "--policy", "policy.yaml"]);
        r.expect_code(2)
            .expect_stderr(&format!("error: {location}"))
            .expect_stderr(message);
    }
    // No policy and no key: clap says what is missing.
    app.cleanpipe(&["verify", "oci:nowhere:v1"])
        .expect_code(2)
        .expect_stderr("--key");
}

/// The summary a policy verdict writes and attaches is what the ecosystem reads: cosign v3
/// `verify-attestation --type` of the VSA on the registry image, and `slsa-verifier verify-vsa`.
#[test]
fn cosign_v3_and_slsa_verifier_accept_the_policy_summary() {
    let Some(registry) = registry() else { return };
    let Some(cosign) = crate::bundles::cosign_v3() else {
        return;
    };
    let Some(verifier) = crate::sbom_scan::test_data(
        "CLEANPIPE_TEST_SLSA_VERIFIER",
        "slsa-verifier built by `.ci/run`",
    ) else {
        return;
    };
    let name = unique("it/policy-vsa");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    repo.keygen("other", "pw");
    repo.commit();
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    let digest = image[image.find('@').unwrap() + 1..].to_string();
    repo.write(
        "policy.yaml",
        "version: 1\ntrust:\n  keys: [cosign.pub]\nrequire:\n  attestations: [slsaprovenance1]\n  sbom: true\nprovenance:\n  refs: [refs/heads/main]\n",
    );
    repo.cleanpipe_env(
        &[
            "verify",
            &format!("{registry}/{name}:v1"),
            "--policy",
            "policy.yaml",
            "--vsa",
            "vsa.json",
            "--vsa-key",
            "cosign.key",
            "--attach-vsa",
        ],
        &[("COSIGN_PASSWORD", "pw")],
    )
    .expect_code(0)
    .expect_stderr("attached to");
    let cosign_verify = |key: &str| {
        let mut out = std::process::Command::new(&cosign);
        out.args([
            "verify-attestation",
            "--key",
            key,
            "--insecure-ignore-tlog=true",
            "--type",
            "https://slsa.dev/verification_summary/v1",
            &image,
        ])
        .current_dir(repo.path())
        .env("TUF_ROOT", repo.path().join(".cosign-tuf"))
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .env("DOCKER_CONFIG", repo.path().join(".no-docker-config"));
        out.output().unwrap()
    };
    let ok = cosign_verify("cosign.pub");
    assert!(ok.status.success(), "{}", crate::bundles::text(&ok));
    // cosign prints each verified envelope on a line of its own.
    let first = String::from_utf8_lossy(&ok.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let statement = dsse_statement(first.as_bytes());
    let policy_bytes = std::fs::read(repo.path().join("policy.yaml")).unwrap();
    assert_eq!(
        statement["predicate"]["policy"]["digest"]["sha256"],
        cleanpipe::oci::types::Digest::of(&policy_bytes).hex()
    );
    let refused = cosign_verify("other.pub");
    assert!(
        !refused.status.success(),
        "{}",
        crate::bundles::text(&refused)
    );
    let resource = format!("{registry}/{name}@{digest}");
    let check = |key: &str| {
        std::process::Command::new(&verifier)
            .args([
                "verify-vsa",
                "--subject-digest",
                &digest,
                "--attestation-path",
                "vsa.json",
                "--verifier-id",
                "https://cleanpipe.dev/verifiers/cli/v1",
                "--resource-uri",
                &resource,
                "--verified-level",
                "SLSA_BUILD_LEVEL_1",
                "--public-key-path",
                key,
            ])
            .current_dir(repo.path())
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .output()
            .unwrap()
    };
    let ok = check("cosign.pub");
    assert!(ok.status.success(), "{}", crate::bundles::text(&ok));
    assert!(!check("other.pub").status.success());
}

/// `verify --notify`: the deploy system hears the verdict with the VSA's digest; a failing
/// verdict is sent too; the URL's credentials stay masked; a bad URL is refused before verifying.
#[test]
fn the_verdict_and_its_summary_digest_are_sent_to_webhooks() {
    let (_base, app, base_dir) = app_on_a_base();
    app.write("policy.yaml", &policy(&base_dir, &[]));
    let sink = Sink::start("200");
    let url = sink
        .url()
        .replace("http://", "http://deploy:hook-canary-5e1d@");
    let r = verify(
        &app,
        "policy.yaml",
        &[
            "--vsa",
            "vsa.json",
            "--vsa-key",
            "cosign.key",
            "--notify",
            &url,
        ],
    );
    r.expect_code(0).expect_stderr("notified");
    assert!(!r.all().contains("hook-canary-5e1d"), "{}", r.all());
    let vsa_digest =
        cleanpipe::oci::types::Digest::of(&std::fs::read(app.path().join("vsa.json")).unwrap());
    let requests = sink.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["headers"]["x-cleanpipe-event"],
        "image.verified"
    );
    let body: serde_json::Value =
        serde_json::from_str(requests[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["verified"], true);
    assert_eq!(body["vsa"]["digest"], vsa_digest.to_string());
    assert_eq!(body["vsa"]["result"], "PASSED");
    assert!(
        body["image"].as_str().unwrap().contains("@sha256:"),
        "{body}"
    );
    // A failing verdict is sent as such, in Slack's shape, naming the failed rule.
    app.write(
        "p.yaml",
        &policy(&base_dir, &[("  refs:", "  refs: ['refs/tags/v*']")]),
    );
    verify(
        &app,
        "p.yaml",
        &["--notify", &sink.url(), "--notify-format", "slack"],
    )
    .expect_code(1);
    let requests = sink.requests();
    assert_eq!(
        requests[1]["headers"]["x-cleanpipe-event"],
        "image.not-verified"
    );
    let body: serde_json::Value =
        serde_json::from_str(requests[1]["body"].as_str().unwrap()).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("NOT verified") && text.contains("source ref"),
        "{text}"
    );
    // Plain http off loopback is refused before anything is verified or sent.
    verify(
        &app,
        "policy.yaml",
        &["--notify", "http://deploy.example/hook"],
    )
    .expect_code(2)
    .expect_stderr("--notify");
    assert_eq!(sink.requests().len(), 2);
}
