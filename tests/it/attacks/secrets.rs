//! Attack cases (issue 19, item 5): no credential is ever printed. Every key backend reads its
//! credentials from the environment as secrets, so a service (or anything in between) that
//! echoes the request back in its error cannot put them in a message; a webhook or notify URL
//! (a Slack-style URL is its own credential) is printed as scheme and host only, on success and
//! on failure. The "services" that echo are real HTTP servers on loopback, answering in each
//! backend's error format; every assertion covers stdout, stderr, `report.json` and every file
//! under the outputs directory (`transport::assert_no_canary`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::transport::assert_no_canary;
use crate::support::*;

/// A loopback HTTP server that answers every request with `status` and a body `answer` makes
/// from the request as received (request line, every header, body): a service that echoes
/// what it was sent. Records each request.
struct Echo {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Echo {
    fn start(status: u16, answer: fn(&str) -> String) -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let Ok(clone) = conn.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(clone);
                let mut request = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    request.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                request.push_str(&String::from_utf8_lossy(&body));
                log.lock().unwrap().push(request.clone());
                let reply = answer(&request);
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} Echo\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        Echo { port, seen }
    }

    /// The requests received so far, as text.
    fn seen(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }
}

/// The request as a JSON string value.
fn quoted(request: &str) -> String {
    serde_json::to_string(request).unwrap()
}

/// A repository whose pipeline signs with `key` (nothing is pushed: tags in the layout).
fn repo_signing_with(key: &str) -> Repo {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.write("pipeline.yaml", &scratch_pipeline(key, None, &["v1"]));
    repo.commit();
    repo
}

/// Nothing was signed or tagged in the repository's layout.
#[track_caller]
fn nothing_tagged(repo: &Repo) {
    assert!(!repo.layout_has_tag("v1"), "the failed run tagged v1");
}

const AWS_ID: &str = "zq7aws-akid-canary-01";
const AWS_SECRET: &str = "zq7aws-secret-canary-02";
const AWS_SESSION: &str = "zq7aws-session-canary-03";

#[test]
fn a_kms_answer_echoing_the_signed_request_shows_no_aws_credential() {
    // AWS KMS's error shape, its message the whole request: the session token and the
    // signature's credential scope included.
    let kms = Echo::start(400, |req| {
        format!(
            r#"{{"__type":"IncompleteSignatureException","message":{}}}"#,
            quoted(req)
        )
    });
    let key = format!("awskms://127.0.0.1:{}/alias/release", kms.port);
    let env = [
        ("AWS_ACCESS_KEY_ID", AWS_ID),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
        ("AWS_SESSION_TOKEN", AWS_SESSION),
        ("AWS_REGION", "eu-west-1"),
    ];
    let repo = repo_signing_with(&key);
    let r = repo.cleanpipe_env(&["public-key", "--key", &key], &env);
    r.expect_code(2)
        .expect_stderr("GetPublicKey: HTTP 400")
        .expect_stderr("IncompleteSignatureException");
    // The echo really carried them: the test would catch a leak.
    let seen = kms.seen();
    assert!(
        seen.contains(AWS_SESSION) && seen.contains(AWS_ID),
        "{seen}"
    );
    assert_no_canary(&r, &repo, None, &[AWS_ID, AWS_SECRET, AWS_SESSION]);
    // The same through a run: the sign stage fails, nothing is signed or tagged.
    let r = repo.cleanpipe_env(&["run"], &env);
    r.expect_code(2)
        .expect_stderr("IncompleteSignatureException");
    nothing_tagged(&repo);
    assert_no_canary(&r, &repo, None, &[AWS_ID, AWS_SECRET, AWS_SESSION]);
}

#[test]
fn a_kms_emulator_run_with_a_session_token_never_shows_it() {
    let Some(endpoint) = crate::kms::kms() else {
        return;
    };
    // An alias the emulator does not have: its own error answer, with the request signed by a
    // session token.
    let key = format!("awskms://{endpoint}/alias/absent-{}", std::process::id());
    let repo = repo_signing_with(&key);
    let r = repo.cleanpipe_env(
        &["run"],
        &[
            ("AWS_ACCESS_KEY_ID", AWS_ID),
            ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
            ("AWS_SESSION_TOKEN", AWS_SESSION),
            ("AWS_REGION", "eu-west-1"),
        ],
    );
    r.expect_code(2).expect_stderr("NotFoundException");
    nothing_tagged(&repo);
    assert_no_canary(&r, &repo, None, &[AWS_ID, AWS_SECRET, AWS_SESSION]);
}

const VAULT_TOKEN: &str = "zq7vault-token-canary-04";

#[test]
fn a_vault_answer_echoing_the_request_shows_no_token() {
    let vault = Echo::start(403, |req| {
        format!(r#"{{"errors":[{}]}}"#, quoted(&format!("denied: {req}")))
    });
    let env = [
        ("VAULT_ADDR", format!("http://127.0.0.1:{}", vault.port)),
        ("VAULT_TOKEN", VAULT_TOKEN.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let repo = repo_signing_with("hashivault://release");
    let r = repo.cleanpipe_env(&["public-key", "--key", "hashivault://release"], &env);
    r.expect_code(2).expect_stderr("403");
    assert!(vault.seen().contains(VAULT_TOKEN), "{}", vault.seen());
    assert_no_canary(&r, &repo, None, &[VAULT_TOKEN]);
    let r = repo.cleanpipe_env(&["run"], &env);
    r.expect_code(2).expect_stderr("denied");
    nothing_tagged(&repo);
    assert_no_canary(&r, &repo, None, &[VAULT_TOKEN]);
}

const GOOGLE_TOKEN: &str = "zq7google-token-canary-05";
const AZURE_SECRET: &str = "zq7azure-secret-canary-06";

/// Cloud KMS and Azure Key Vault are reached over https at their public names only: here the
/// environment's proxy is a loopback server that refuses the tunnel (so nothing leaves the
/// machine, and the test sees the request was not sent elsewhere). The credentials were read,
/// the request failed, and the failure shows neither.
#[test]
fn cloud_kms_credentials_never_show_when_the_service_fails() {
    let proxy = Echo::start(403, quoted);
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let cases = [
        (
            "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            vec![("GOOGLE_OAUTH_ACCESS_TOKEN", GOOGLE_TOKEN)],
        ),
        (
            "azurekms://release.vault.azure.net/k",
            vec![
                ("AZURE_TENANT_ID", "tenant.example"),
                ("AZURE_CLIENT_ID", "client"),
                ("AZURE_CLIENT_SECRET", AZURE_SECRET),
            ],
        ),
    ];
    for (key, creds) in cases {
        let mut env = creds.clone();
        for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
            env.push((var, proxy_url.as_str()));
        }
        env.push(("NO_PROXY", ""));
        env.push(("no_proxy", ""));
        let repo = repo_signing_with(key);
        let r = repo.cleanpipe_env(&["public-key", "--key", key], &env);
        r.expect_code(3)
            .expect_stderr("the service cannot be reached");
        assert!(
            proxy.seen().contains("CONNECT "),
            "{key}: the request did not go through the loopback proxy:\n{}",
            proxy.seen()
        );
        assert_no_canary(&r, &repo, None, &[GOOGLE_TOKEN, AZURE_SECRET]);
    }
}

const PEM_PASSWORD: &str = "zq7pem-password-canary-07";

#[test]
fn a_key_in_an_environment_variable_never_shows() {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", PEM_PASSWORD);
    let pem = std::fs::read_to_string(repo.path().join("cosign.key")).unwrap();
    std::fs::remove_file(repo.path().join("cosign.key")).unwrap();
    repo.write(
        "pipeline.yaml",
        &scratch_pipeline("env://SIGNING_PEM", None, &["v1"]),
    );
    repo.commit();
    // The wrong password: the key cannot be opened; the PEM and the password stay hidden.
    let r = repo.cleanpipe_env(
        &["run"],
        &[
            ("SIGNING_PEM", pem.as_str()),
            ("COSIGN_PASSWORD", "zq7wrong-password-08"),
        ],
    );
    assert_ne!(r.code, 0, "{}", r.all());
    nothing_tagged(&repo);
    let lines: Vec<&str> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .collect();
    assert!(!lines.is_empty());
    let mut canaries = vec![PEM_PASSWORD, "zq7wrong-password-08"];
    canaries.extend(lines);
    assert_no_canary(&r, &repo, None, &canaries);
}

const OIDC_REQUEST_TOKEN: &str = "zq7oidc-request-canary-09";
const ID_TOKEN: &str = "zq7sigstore-id-canary-10";

/// Keyless signing's credentials: `SIGSTORE_ID_TOKEN` that is not a token, and GitHub Actions'
/// token-request credentials against a token endpoint that echoes them in its refusal.
#[test]
fn oidc_tokens_never_show() {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  keyless: true\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("SIGSTORE_ID_TOKEN", ID_TOKEN)]);
    r.expect_code(2).expect_stderr("SIGSTORE_ID_TOKEN");
    nothing_tagged(&repo);
    assert_no_canary(&r, &repo, None, &[ID_TOKEN]);

    let issuer = Echo::start(401, |req| {
        format!(
            r#"{{"message":{}}}"#,
            quoted(&format!("bad credentials: {req}"))
        )
    });
    let url = format!("http://127.0.0.1:{}/token?api-version=2.0", issuer.port);
    let r = repo.cleanpipe_env(
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", OIDC_REQUEST_TOKEN),
        ],
    );
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        issuer.seen().contains(OIDC_REQUEST_TOKEN),
        "the token request was not made:\n{}\n{}",
        issuer.seen(),
        r.all()
    );
    nothing_tagged(&repo);
    assert_no_canary(&r, &repo, None, &[OIDC_REQUEST_TOKEN]);
}

/// A Slack-style incoming-webhook URL: the path is the credential.
fn slack_url(sink: &Sink, canary: &str) -> String {
    format!(
        "http://127.0.0.1:{}/services/T0CANARY/B0CANARY/{canary}",
        sink.port
    )
}

const NOTIFY_PATH: &str = "zq7notify-path-canary-11";

#[test]
fn verify_notify_urls_are_shown_as_scheme_and_host_only() {
    let repo = scratch_repo(None, &["v1"]);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    repo.keygen("other", "pw");
    let image = "oci:.cleanpipe/oci:v1";
    for (status, key, code) in [
        // Verified and delivered; not verified and delivered; verified, the receiver refuses.
        ("200", "cosign.pub", 0),
        ("200", "other.pub", 1),
        ("500", "cosign.pub", 3),
    ] {
        for format in ["slack", "json"] {
            let sink = Sink::start(status);
            let url = slack_url(&sink, NOTIFY_PATH);
            let r = repo.cleanpipe(&[
                "verify",
                image,
                "--key",
                key,
                "--notify",
                &url,
                "--notify-format",
                format,
            ]);
            r.expect_code(code);
            assert!(!sink.requests().is_empty(), "{}", r.all());
            let origin = format!("http://127.0.0.1:{}", sink.port);
            if code == 3 {
                r.expect_stderr(&format!("webhook {origin} failed"));
            } else {
                r.expect_stderr(&format!("notified {origin} (HTTP 200"));
            }
            assert!(!r.all().contains("/services/"), "{}", r.all());
            assert_no_canary(&r, &repo, None, &[NOTIFY_PATH]);
        }
    }
}

const REGISTER_PATH: &str = "zq7register-path-canary-12";

#[test]
fn register_urls_are_shown_as_scheme_and_host_only() {
    for (status, dirty, code) in [
        // A published run: the success hooks; a failed run: the failure hooks; the receiver
        // refusing either.
        ("200", false, 0),
        ("500", false, 3),
        ("200", true, 1),
        ("500", true, 1),
    ] {
        let sink = Sink::start(status);
        let url = slack_url(&sink, REGISTER_PATH);
        let repo = scratch_repo(None, &["v1"]);
        let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
        repo.write(
            "pipeline.yaml",
            &format!(
                "{text}  register:\n    - url: {url}\n      format: slack\n      on: [success, failure]\n      timeout_seconds: 5\n    - url: {url}?format=json\n      on: [success, failure]\n      timeout_seconds: 5\n"
            ),
        );
        repo.commit();
        if dirty {
            repo.write("hello.txt", "changed, not committed\n");
        }
        let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
        r.expect_code(code);
        assert!(!sink.requests().is_empty(), "{}", r.all());
        let origin = format!("http://127.0.0.1:{}", sink.port);
        assert!(r.stderr.contains(&origin), "{}", r.all());
        assert!(!r.all().contains("/services/"), "{}", r.all());
        let report =
            std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap();
        assert!(!report.contains("/services/"), "{report}");
        assert_no_canary(&r, &repo, None, &[REGISTER_PATH]);
    }
}
