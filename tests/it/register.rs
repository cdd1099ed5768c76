//! `push.register`: webhooks after the push, against a real HTTP receiver on loopback.

use hmac::Mac;

use crate::support::*;

fn repo_with_hook(url: &str) -> Repo {
    let repo = scratch_repo(None, &["v1"]);
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    repo.write(
        "pipeline.yaml",
        &format!(
            "{text}  register:\n    - url: {url}\n      headers: {{ Authorization: \"Bearer ${{HOOK_TOKEN}}\" }}\n      secret: ${{HOOK_SECRET}}\n      timeout_seconds: 5\n"
        ),
    );
    repo.commit();
    repo
}

const TOKEN: &str = "tok-canary-7f3a";
const SECRET: &str = "hmac-canary-91bd";

#[test]
fn webhook_gets_the_signed_image_with_an_hmac_and_secrets_stay_hidden() {
    let sink = Sink::start("200");
    let repo = repo_with_hook(&sink.url());
    let r = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("HOOK_TOKEN", TOKEN),
            ("HOOK_SECRET", SECRET),
        ],
    );
    r.expect_code(0).expect_stderr("registered with");
    let digest = r.last_line().rsplit('@').next().unwrap().to_string();
    let requests = sink.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req["path"], "/hooks/images");
    assert_eq!(req["headers"]["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(req["headers"]["x-cleanpipe-event"], "image.published");
    let body = req["body"].as_str().unwrap();
    // The receiver can check the body came from whoever holds the secret.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    assert_eq!(
        req["headers"]["x-cleanpipe-signature-256"],
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["digest"], digest.as_str());
    assert_eq!(body["tags"], serde_json::json!(["v1"]));
    assert!(body["attestations"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("https://slsa.dev/provenance/v1")));
    // Secrets never reach the output or the report.
    let report = std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap();
    for text in [r.all(), report] {
        assert!(!text.contains(TOKEN) && !text.contains(SECRET), "{text}");
    }
}

#[test]
fn transient_failures_are_retried_and_refusals_fail_the_stage() {
    let env = [
        ("COSIGN_PASSWORD", "pw"),
        ("HOOK_TOKEN", TOKEN),
        ("HOOK_SECRET", SECRET),
    ];
    // 503, then 200: delivered on the second attempt.
    let sink = Sink::start("503,200");
    let repo = repo_with_hook(&sink.url());
    repo.cleanpipe_env(&["run"], &env)
        .expect_code(0)
        .expect_stderr("2 attempt(s)");
    assert_eq!(sink.requests().len(), 2);
    // 403 is an answer, not a hiccup: no retry, the stage fails with exit 3, saying what came back.
    let sink = Sink::start("403");
    let repo = repo_with_hook(&sink.url());
    let r = repo.cleanpipe_env(&["run"], &env);
    r.expect_code(3)
        .expect_stderr("HTTP 403")
        .expect_stderr("refused by the test receiver");
    assert_eq!(sink.requests().len(), 1);
    assert!(r.stderr.contains("push         failed"), "{}", r.stderr);
    // Nothing listens: connection refused, retried, then exit 3.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let repo = repo_with_hook(&format!("http://127.0.0.1:{port}/x"));
    repo.cleanpipe_env(&["run"], &env)
        .expect_code(3)
        .expect_stderr("webhook http://127.0.0.1");
}

#[test]
fn plain_http_to_another_host_is_a_pipeline_error() {
    let repo = repo_with_hook("http://deploy.example/api");
    repo.cleanpipe_env(&["plan"], &[("HOOK_TOKEN", "t"), ("HOOK_SECRET", "s")])
        .expect_code(2)
        .expect_stderr("push.register")
        .expect_stderr("loopback");
}

/// A scratch repo whose pipeline has the given `push.register` entries (YAML list items).
fn repo_with_hooks(hooks: &str) -> Repo {
    let repo = scratch_repo(None, &["v1"]);
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    repo.write("pipeline.yaml", &format!("{text}  register:\n{hooks}"));
    repo.commit();
    repo
}

#[test]
fn a_failed_run_notifies_the_failure_hooks_only_in_their_format() {
    let sink = Sink::start("200");
    let url = sink.url();
    let repo = repo_with_hooks(&format!(
        "    - url: {url}?on=success\n    - url: {url}?on=failure\n      on: [failure]\n      format: slack\n      headers: {{ Authorization: \"Bearer ${{HOOK_TOKEN}}\" }}\n    - url: {url}?on=both\n      on: [success, failure]\n"
    ));
    repo.write("hello.txt", "changed, not committed\n");
    let run = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("HOOK_TOKEN", TOKEN),
            ("GITHUB_SERVER_URL", "https://github.example"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_RUN_ID", "4242"),
        ],
    );
    // The run's own verdict stands; the hooks only hear of it.
    run.expect_code(1)
        .expect_stderr("notified http://127.0.0.1");
    let requests = sink.requests();
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["/hooks/images?on=failure", "/hooks/images?on=both"],
        "{requests:?}"
    );
    for r in &requests {
        assert_eq!(r["headers"]["x-cleanpipe-event"], "run.failed");
    }
    let slack: serde_json::Value =
        serde_json::from_str(requests[0]["body"].as_str().unwrap()).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.contains("failed in source: the work tree has uncommitted changes"),
        "{text}"
    );
    assert!(
        text.contains("<https://github.example/acme/app/actions/runs/4242|CI run>"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(requests[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(json["event"], "run.failed");
    assert_eq!(json["stage"], "source");
    assert_eq!(
        json["run"]["url"],
        "https://github.example/acme/app/actions/runs/4242"
    );
    assert!(
        json["reasons"][0].as_str().unwrap().contains("hello.txt"),
        "{json}"
    );
    assert!(!run.all().contains(TOKEN));
    let report = std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap();
    assert!(report.contains("failure_notifications"), "{report}");
}

#[test]
fn a_successful_run_skips_the_failure_only_hooks_and_speaks_slack_when_asked() {
    let sink = Sink::start("200");
    let url = sink.url();
    let repo = repo_with_hooks(&format!(
        "    - url: {url}?h=failure-only\n      on: [failure]\n    - url: {url}?h=slack\n      format: slack\n"
    ));
    let run = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    run.expect_code(0);
    let image = run.last_line();
    let requests = sink.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["path"], "/hooks/images?h=slack");
    assert_eq!(
        requests[0]["headers"]["x-cleanpipe-event"],
        "image.published"
    );
    let slack: serde_json::Value =
        serde_json::from_str(requests[0]["body"].as_str().unwrap()).unwrap();
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains(&format!("published `{image}` (tags v1)")),
        "{slack}"
    );
}
