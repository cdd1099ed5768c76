//! Attack cases: the registry transport, webhooks, trusted keys by URL, credentials and
//! secrets. A misbehaving proxy (tests/support/fault_proxy.py) sits in front of the real
//! registry; a webhook sink (tests/support/webhook_sink.py) plays the receiver. Everything
//! runs on loopback: "another host" is a documentation address (198.51.100.7) that cleanpipe
//! must refuse before connecting, so no traffic ever leaves the machine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A non-loopback address from the documentation range: never contacted.
const ELSEWHERE: &str = "198.51.100.7";

/// Registry retries wait milliseconds instead of seconds (1 s, 3 s by default).
pub(crate) const FAST_RETRY: (&str, &str) = ("CLEANPIPE_REGISTRY_RETRY_BASE_MS", "10");

/// The fault proxy (`tests/support/fault_proxy.py`) in front of `upstream`, faulting what
/// `args` select; logs every request.
pub(crate) struct Proxy {
    child: Child,
    port: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proxy {
    pub(crate) fn start(upstream: &str, args: &[&str]) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let log = dir.path().join("requests.jsonl");
        let child = Command::new("python3")
            .arg(support_script("fault_proxy.py"))
            .args(["--upstream", upstream, "--listen-port-file"])
            .arg(&port_file)
            .arg("--log-file")
            .arg(&log)
            .args(args)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let port = wait_port(&port_file, "fault proxy");
        Proxy {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The requests the proxy faulted (`fault` set in its log).
    pub(crate) fn faulted(&self) -> Vec<serde_json::Value> {
        self.requests()
            .into_iter()
            .filter(|r| !r["fault"].is_null())
            .collect()
    }

    #[track_caller]
    fn assert_no_authorization(&self) {
        for r in self.requests() {
            assert!(r["authorization"].is_null(), "credentials were sent: {r}");
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Push a signed scratch image to the test registry; the repo, `registry/name:v1` and
/// `registry/name@sha256:…`.
fn pushed_image(registry: &str, prefix: &str) -> (Repo, String, String) {
    let name = unique(prefix);
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    (repo, format!("{registry}/{name}:v1"), r.last_line())
}

/// `cleanpipe verify IMAGE --key cosign.pub` as user `bob` with `password` on stdin.
fn verify_with_password(repo: &Repo, image: &str, password: &str) -> Run {
    repo.cleanpipe_stdin(
        &[
            "verify",
            image,
            "--key",
            "cosign.pub",
            "--registry-username",
            "bob",
            "--registry-password-stdin",
        ],
        &[],
        &format!("{password}\n"),
    )
}

/// A signed image pushed to the registry, and a proxy in front of the registry faulting what
/// `args` select: the repo, the proxy and the image's `proxy/name:v1` reference.
fn behind_proxy(registry: &str, prefix: &str, args: &[&str]) -> (Repo, Proxy, String) {
    let (repo, image, _) = pushed_image(registry, prefix);
    let proxy = Proxy::start(registry, args);
    let image = image.replace(registry, &proxy.addr());
    (repo, proxy, image)
}

/// Every file under `dir`, recursively, as text.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

/// No canary (or an encoded form, or a prefix of 6+ characters) in stdout, stderr,
/// `report.json`, any file under `outputs`, or the webhook bodies.
#[track_caller]
pub(super) fn assert_no_canary(run: &Run, repo: &Repo, sink: Option<&Sink>, canaries: &[&str]) {
    let mut texts = vec![
        ("stdout".to_string(), run.stdout.clone()),
        ("stderr".to_string(), run.stderr.clone()),
    ];
    for (p, t) in files_under(&repo.path().join(".cleanpipe/out")) {
        texts.push((p.display().to_string(), t));
    }
    if let Some(s) = sink {
        for r in s.requests() {
            texts.push((
                "webhook body".into(),
                r["body"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    for canary in canaries {
        let mut needles = vec![canary.to_string(), canary[..6].to_string()];
        needles.push(canary.replace(' ', "%20"));
        needles.push(canary.replace(' ', "+"));
        needles.push(canary.replace('@', "%40"));
        for (where_, text) in &texts {
            for n in &needles {
                assert!(
                    !text.contains(n.as_str()),
                    "{n:?} leaked into {where_}:\n{text}"
                );
            }
        }
    }
}

fn hook_pipeline(repo: &Repo, hook_yaml: &str) {
    let text = scratch_pipeline("cosign.key", None, &["v1"]);
    repo.write("pipeline.yaml", &format!("{text}  register:\n{hook_yaml}"));
    repo.commit();
}

// ---- credentials go only where they should ---------------------------------------------

#[test]
fn bearer_realm_on_another_host_over_plain_http_gets_no_credentials() {
    let Some(registry) = registry() else { return };
    let (repo, image, _) = pushed_image(&registry, "atk/realm");
    let challenge = format!("Bearer realm=\"http://{ELSEWHERE}/token\",service=\"evil\"");
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-path-regex",
            "^/v2/",
            "--fault-kind",
            "challenge",
            "--challenge",
            &challenge,
        ],
    );
    let image = image.replace(&registry, &proxy.addr());
    let started = Instant::now();
    let r = verify_with_password(&repo, &image, "zz9realm-canary-83b1");
    r.expect_code(3)
        .expect_stderr("token service over plain http to `http://198.51.100.7`")
        .expect_stderr("nothing was sent")
        .expect_stderr("hint:");
    // Refused before connecting: no connect timeout was waited out.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    proxy.assert_no_authorization();
    assert_no_canary(&r, &repo, None, &["zz9realm-canary-83b1"]);
}

#[test]
fn bearer_challenge_without_a_readable_realm_gets_no_credentials() {
    let Some(registry) = registry() else { return };
    let (repo, proxy, image) = behind_proxy(
        &registry,
        "atk/norealm",
        &[
            "--fail-path-regex",
            "^/v2/",
            "--fault-kind",
            "challenge",
            "--challenge",
            "Bearer service=\"x\"",
        ],
    );
    let r = verify_with_password(&repo, &image, "zz9norealm-canary-4410");
    r.expect_code(3)
        .expect_stderr("names no readable token service")
        .expect_stderr("hint:");
    proxy.assert_no_authorization();
    assert_no_canary(&r, &repo, None, &["zz9norealm-canary-4410"]);
}

#[test]
fn token_service_on_loopback_gets_the_credentials_and_the_registry_only_the_token() {
    // The normal Bearer flow, kept working: the registry names a token service, the
    // credentials go there (both on this machine), and the registry sees only the token.
    let Some(registry) = registry() else { return };
    let tokens = Proxy::start(
        &registry,
        &[
            "--fail-path-regex",
            "^/token",
            "--fault-kind",
            "token",
            "--token",
            "zz9bearer-token-77",
        ],
    );
    let challenge = format!(
        "Bearer realm=\"http://localhost:{}/token\",service=\"test\"",
        tokens.port
    );
    let (repo, front, image) = behind_proxy(
        &registry,
        "atk/bearer",
        &[
            "--fail-path-regex",
            "^/v2/",
            "--fault-kind",
            "challenge",
            "--challenge",
            &challenge,
            "--token",
            "zz9bearer-token-77",
        ],
    );
    let r = verify_with_password(&repo, &image, "zz9bearer-pw-canary-78");
    r.expect_code(0);
    assert!(
        r.stderr.contains("VERIFIED: ") && !r.stderr.contains("NOT VERIFIED"),
        "{}",
        r.all()
    );
    let asked = tokens.requests();
    assert!(!asked.is_empty(), "the token service was asked");
    for q in &asked {
        let path = q["path"].as_str().unwrap_or("");
        assert!(
            path.contains("scope=repository") && path.contains("service=test"),
            "{q}"
        );
        assert!(
            q["authorization"]
                .as_str()
                .is_some_and(|a| a.starts_with("Basic ")),
            "{q}"
        );
    }
    for q in front.requests() {
        if let Some(a) = q["authorization"].as_str() {
            assert_eq!(
                a, "Bearer zz9bearer-token-77",
                "the registry got more than the token: {q}"
            );
        }
    }
    assert!(front
        .requests()
        .iter()
        .any(|q| q["authorization"] == "Bearer zz9bearer-token-77"));
    assert_no_canary(&r, &repo, None, &["zz9bearer-pw-canary-78"]);
}

#[test]
fn token_service_answering_without_a_token_is_an_error_not_anonymous_access() {
    let Some(registry) = registry() else { return };
    // A "token service" that answers 200 with a registry error body and no token.
    let tokens = Proxy::start(
        &registry,
        &["--fail-path-regex", "^/token", "--fail-status", "200"],
    );
    let challenge = format!("Bearer realm=\"http://localhost:{}/token\"", tokens.port);
    let (repo, front, image) = behind_proxy(
        &registry,
        "atk/notoken",
        &[
            "--fail-path-regex",
            "^/v2/",
            "--fault-kind",
            "challenge",
            "--challenge",
            &challenge,
        ],
    );
    let r = verify_with_password(&repo, &image, "zz9notoken-canary-5b2c");
    r.expect_code(3)
        .expect_stderr("from the registry's token service: the answer holds no `token`")
        .expect_stderr("hint:");
    assert!(!tokens.requests().is_empty());
    assert!(
        front
            .requests()
            .iter()
            .all(|q| !q["path"].as_str().unwrap_or("").contains("/manifests/")),
        "no manifest was asked for without a token"
    );
    assert_no_canary(&r, &repo, None, &["zz9notoken-canary-5b2c"]);
}

#[test]
fn basic_challenge_registry_on_loopback_still_gets_the_credentials() {
    // The realm of a Basic challenge is a label, not a token service: checking it as a URL
    // would lock out every htpasswd registry.
    let Some(registry) = registry() else { return };
    let (repo, proxy, image) = behind_proxy(
        &registry,
        "atk/basic",
        &[
            "--fail-path-regex",
            "^/v2/$",
            "--fault-kind",
            "challenge",
            "--challenge",
            "Basic realm=\"Registry Realm\"",
        ],
    );
    let r = verify_with_password(&repo, &image, "zz9basic-canary-19d0");
    r.expect_code(0);
    assert!(
        r.stderr.contains("VERIFIED: ") && !r.stderr.contains("NOT VERIFIED"),
        "{}",
        r.all()
    );
    assert!(
        proxy
            .requests()
            .iter()
            .any(|q| q["path"].as_str().unwrap_or("").contains("/manifests/")
                && q["authorization"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("Basic "))),
        "the registry got Basic credentials"
    );
    assert_no_canary(&r, &repo, None, &["zz9basic-canary-19d0"]);
}

#[test]
fn credentials_for_a_plain_http_registry_elsewhere_are_refused_before_connecting() {
    let repo = scratch_repo(None, &[]);
    let started = Instant::now();
    let r = repo.cleanpipe_stdin(
        &[
            "verify",
            &format!("{ELSEWHERE}:5000/app:v1"),
            "--key",
            "cosign.pub",
            "--insecure",
            "--registry-username",
            "bob",
            "--registry-password-stdin",
        ],
        &[],
        "zz9insecure-canary-71c2\n",
    );
    r.expect_code(2)
        .expect_stderr(
            "refusing to send credentials for registry `198.51.100.7:5000` over plain HTTP",
        )
        .expect_stderr("hint:");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_no_canary(&r, &repo, None, &["zz9insecure-canary-71c2"]);
}

#[test]
fn blob_redirect_to_plain_http_elsewhere_is_not_followed() {
    let Some(registry) = registry() else { return };
    let (repo, image, _) = pushed_image(&registry, "atk/blobredir");
    let to = format!("http://{ELSEWHERE}/");
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-path-regex",
            "/blobs/sha256:",
            "--fault-kind",
            "redirect",
            "--redirect-to",
            &to,
        ],
    );
    let image = image.replace(&registry, &proxy.addr());
    let started = Instant::now();
    let r = repo.cleanpipe(&["sbom", &image]);
    r.expect_code(3)
        .expect_stderr("sent a redirect that is not followed")
        .expect_stderr("redirect to `http://198.51.100.7` refused")
        .expect_stderr("hint:");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(
        r.stdout.trim().is_empty(),
        "no SBOM from a refused download: {}",
        r.stdout
    );
}

#[test]
fn manifest_redirect_to_plain_http_elsewhere_is_not_followed() {
    let Some(registry) = registry() else { return };
    let (repo, image, _) = pushed_image(&registry, "atk/manredir");
    let to = format!("http://{ELSEWHERE}/");
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-path-regex",
            "/manifests/",
            "--fault-kind",
            "redirect",
            "--redirect-to",
            &to,
        ],
    );
    let image = image.replace(&registry, &proxy.addr());
    let r = repo.cleanpipe(&["verify", &image, "--key", "cosign.pub"]);
    r.expect_code(3)
        .expect_stderr("redirect to `http://198.51.100.7` refused")
        .expect_stderr("hint:");
    assert!(!r.all().contains("VERIFIED"), "{}", r.all());
}

#[test]
fn blob_redirect_to_other_storage_works_and_carries_no_authorization() {
    let Some(registry) = registry() else { return };
    let (repo, image, _) = pushed_image(&registry, "atk/storage");
    // "Storage": a second logging proxy on another host name (localhost, not 127.0.0.1).
    let storage = Proxy::start(&registry, &[]);
    let to = format!("http://localhost:{}/", storage.port);
    let front = Proxy::start(
        &registry,
        &[
            "--fail-path-regex",
            "/blobs/sha256:",
            "--fault-kind",
            "redirect",
            "--redirect-to",
            &to,
        ],
    );
    let image = image.replace(&registry, &front.addr());
    let r = verify_with_password(&repo, &image, "zz9storage-canary-0f9e");
    r.expect_code(0);
    assert!(
        r.stderr.contains("VERIFIED: ") && !r.stderr.contains("NOT VERIFIED"),
        "{}",
        r.all()
    );
    assert!(
        storage
            .requests()
            .iter()
            .any(|q| q["path"].as_str().unwrap_or("").contains("/blobs/")),
        "the redirect was followed to the storage"
    );
    storage.assert_no_authorization();
    // The registry itself did get the credentials (proof the test would catch a leak).
    assert!(front
        .requests()
        .iter()
        .any(|q| q["authorization"].is_string()));
    assert_no_canary(&r, &repo, None, &["zz9storage-canary-0f9e"]);
}

/// A self-signed certificate for `localhost` (cert, key) in `dir`, made with the openssl CLI;
/// cleanpipe trusts it through `SSL_CERT_FILE`. `None` (skip) without openssl.
fn tls_cert(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: no openssl to make a test certificate");
        return None;
    }
    Some((cert, key))
}

/// An https "storage" proxy in front of the registry, faulting what `args` select.
fn https_storage(registry: &str, dir: &Path, args: &[&str]) -> Option<(Proxy, PathBuf)> {
    let (cert, key) = tls_cert(dir)?;
    let mut all = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    Some((Proxy::start(registry, &all), cert))
}

#[test]
fn blob_redirect_to_https_storage_keeps_working_without_authorization() {
    let Some(registry) = registry() else { return };
    let certs = tempfile::tempdir().unwrap();
    let Some((storage, cert)) = https_storage(&registry, certs.path(), &[]) else {
        return;
    };
    let to = format!("https://localhost:{}/", storage.port);
    let (repo, front, image) = behind_proxy(
        &registry,
        "atk/https",
        &[
            "--fail-path-regex",
            "/blobs/sha256:",
            "--fault-kind",
            "redirect",
            "--redirect-to",
            &to,
        ],
    );
    let r = repo.cleanpipe_stdin(
        &[
            "verify",
            &image,
            "--key",
            "cosign.pub",
            "--registry-username",
            "bob",
            "--registry-password-stdin",
        ],
        &[("SSL_CERT_FILE", cert.to_str().unwrap())],
        "zz9https-canary-6e02\n",
    );
    r.expect_code(0);
    assert!(
        r.stderr.contains("VERIFIED: ") && !r.stderr.contains("NOT VERIFIED"),
        "{}",
        r.all()
    );
    assert!(
        storage
            .requests()
            .iter()
            .any(|q| q["path"].as_str().unwrap_or("").contains("/blobs/")),
        "the blob came from the https storage"
    );
    storage.assert_no_authorization();
    assert!(front
        .requests()
        .iter()
        .any(|q| q["authorization"].is_string()));
    assert_no_canary(&r, &repo, None, &["zz9https-canary-6e02"]);
}

#[test]
fn redirect_from_https_down_to_plain_http_is_refused() {
    let Some(registry) = registry() else { return };
    let certs = tempfile::tempdir().unwrap();
    // The https storage sends the client back to plain http (even on loopback: never downgrade).
    let back = format!("http://{registry}/");
    let Some((storage, cert)) = https_storage(
        &registry,
        certs.path(),
        &[
            "--fail-path-regex",
            "/blobs/sha256:",
            "--fault-kind",
            "redirect",
            "--redirect-to",
            &back,
        ],
    ) else {
        return;
    };
    let to = format!("https://localhost:{}/", storage.port);
    let (repo, _front, image) = behind_proxy(
        &registry,
        "atk/downgrade",
        &[
            "--fail-path-regex",
            "/blobs/sha256:",
            "--fault-kind",
            "redirect",
            "--redirect-to",
            &to,
        ],
    );
    let r = repo.cleanpipe_env(
        &["sbom", &image],
        &[("SSL_CERT_FILE", cert.to_str().unwrap())],
    );
    r.expect_code(3)
        .expect_stderr(&format!(
            "redirect from https to `http://{registry}` refused: never downgrade to plain http"
        ))
        .expect_stderr("hint:");
    assert!(storage
        .requests()
        .iter()
        .any(|q| q["path"].as_str().unwrap_or("").contains("/blobs/")));
    assert!(r.stdout.trim().is_empty());
}

#[test]
fn failing_credential_helper_is_an_error_not_anonymous_access() {
    let Some(registry) = registry() else { return };
    let (repo, proxy, image) = behind_proxy(&registry, "atk/helper", &[]);
    let bin = repo.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-atkfail");
    std::fs::write(
        &helper,
        "#!/bin/sh\ncat >/dev/null\necho 'keychain locked' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = repo.path().join("dockercfg");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.json"),
        format!("{{\"credHelpers\": {{\"{}\": \"atkfail\"}}}}", proxy.addr()),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let r = repo.cleanpipe_env(
        &["verify", &image, "--key", "cosign.pub"],
        &[("DOCKER_CONFIG", cfg.to_str().unwrap()), ("PATH", &path)],
    );
    r.expect_code(3)
        .expect_stderr("from `docker-credential-atkfail`: it failed (keychain locked)")
        .expect_stderr("hint:");
    assert!(!r.all().contains("VERIFIED"));
    assert!(proxy.requests().is_empty(), "nothing was asked anonymously");
}

#[test]
fn missing_credential_helper_is_an_error_naming_it() {
    let Some(registry) = registry() else { return };
    let (repo, image, _) = pushed_image(&registry, "atk/nohelper");
    let cfg = repo.path().join("dockercfg");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.json"),
        "{\"credsStore\": \"atk-not-installed\"}",
    )
    .unwrap();
    let r = repo.cleanpipe_env(
        &["verify", &image, "--key", "cosign.pub"],
        &[("DOCKER_CONFIG", cfg.to_str().unwrap())],
    );
    r.expect_code(3)
        .expect_stderr("`docker-credential-atk-not-installed`: it is missing (not on PATH) or could not be run")
        .expect_stderr("hint: install `docker-credential-atk-not-installed`");
}

// ---- the registry misbehaves ----------------------------------------------------------

#[test]
fn oversized_manifest_stream_is_refused_with_bounded_memory() {
    let Some(registry) = registry() else { return };
    let (repo, _proxy, image) = behind_proxy(
        &registry,
        "atk/hugeman",
        &[
            "--fail-path-regex",
            "/manifests/v1",
            "--fault-kind",
            "huge",
            "--huge-bytes",
            "209715200",
        ],
    );
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    let out = cmd
        .args(["verify", &image, "--key", "cosign.pub"])
        .current_dir(repo.path())
        .env("DOCKER_CONFIG", repo.path().join(".no-docker-config"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("the manifest of 127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("is larger than 4 MiB"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    if let Some(line) = stderr
        .lines()
        .find(|l| l.contains("Maximum resident set size"))
    {
        let kb: u64 = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
        assert!(
            kb < 100 * 1024,
            "verify used {kb} KiB for a refused 200 MiB manifest"
        );
    }
}

#[test]
fn oversized_manifest_announced_by_content_length_is_refused_at_once() {
    let Some(registry) = registry() else { return };
    let (repo, _proxy, image) = behind_proxy(
        &registry,
        "atk/hugelen",
        &[
            "--fail-path-regex",
            "/manifests/v1",
            "--fault-kind",
            "huge",
            "--huge-bytes",
            "1073741824",
            "--huge-announce",
        ],
    );
    let started = Instant::now();
    let r = repo.cleanpipe(&["verify", &image, "--key", "cosign.pub"]);
    r.expect_code(3)
        .expect_stderr("it is larger than 4 MiB (1073741824 bytes or more)");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn oversized_signature_payload_is_refused_naming_the_digest() {
    let Some(registry) = registry() else { return };
    let (repo, _proxy, image) = behind_proxy(
        &registry,
        "atk/hugesig",
        &[
            "--fail-path-regex",
            "/blobs/sha256:",
            "--fault-kind",
            "huge",
            "--huge-bytes",
            "209715200",
        ],
    );
    let r = repo.cleanpipe(&["verify", &image, "--key", "cosign.pub"]);
    r.expect_code(1);
    let all = r.all();
    assert!(all.contains("is larger than 16 MiB"), "{all}");
    assert!(all.contains("blob sha256:"), "{all}");
    assert!(all.contains("NOT VERIFIED"), "{all}");
    assert!(
        r.stdout.trim().is_empty(),
        "no digest is printed for an unverified image"
    );
}

#[test]
fn corrupted_blob_bodies_are_refused() {
    let Some(registry) = registry() else { return };
    let (repo, _proxy, image) = behind_proxy(
        &registry,
        "atk/wrongblob",
        &[
            "--fail-path-regex",
            "/blobs/sha256:",
            "--fault-kind",
            "wrong",
        ],
    );
    let r = repo.cleanpipe(&["sbom", &image]);
    r.expect_code(3)
        .expect_stderr("sha256:")
        .expect_stderr("hint:");
    assert!(
        r.stderr.contains("refusing to store it") || r.stderr.contains("does not match its digest"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.trim().is_empty());
}

#[test]
fn manifest_body_not_matching_the_requested_digest_is_refused() {
    let Some(registry) = registry() else { return };
    let (repo, _, pinned) = pushed_image(&registry, "atk/wrongman");
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-path-regex",
            "/manifests/sha256:",
            "--fault-kind",
            "wrong",
        ],
    );
    let image = pinned.replace(&registry, &proxy.addr());
    assert!(image.contains("@sha256:"), "{image}");
    let r = repo.cleanpipe(&["verify", &image, "--key", "cosign.pub"]);
    r.expect_code(3)
        .expect_stderr("whose digest is")
        .expect_stderr("hint:");
}

#[test]
fn registry_5xx_every_time_fails_after_3_attempts_with_a_retry_hint() {
    let Some(registry) = registry() else { return };
    let (repo, proxy, image) = behind_proxy(
        &registry,
        "atk/500",
        &["--fail-path-regex", "/manifests/", "--fail-status", "503"],
    );
    // `copy` reports requests with `-v`.
    let r = repo.cleanpipe_env(&["-v", "copy", &image, "oci:out:v1"], &[FAST_RETRY]);
    r.expect_code(3)
        .expect_stderr("answered HTTP 503 after 3 attempts")
        .expect_stderr("injected fault")
        .expect_stderr("retrying is safe");
    assert_eq!(
        r.stderr.matches("retrying after").count(),
        2,
        "two waits between three attempts:\n{}",
        r.stderr
    );
    let faulted = proxy.faulted();
    assert_eq!(
        faulted.len(),
        3,
        "three attempts, then no more: {faulted:?}"
    );
    assert!(faulted.iter().all(|q| q["path"] == faulted[0]["path"]));
}

#[test]
fn registry_503_once_on_a_read_is_retried_and_verify_passes() {
    let Some(registry) = registry() else { return };
    let (repo, proxy, image) = behind_proxy(
        &registry,
        "atk/503once",
        &[
            "--fail-method",
            "GET",
            "--fail-path-regex",
            "/manifests/v1",
            "--fail-status",
            "503",
            "--fail-count",
            "1",
        ],
    );
    let r = repo.cleanpipe_env(&["-v", "copy", &image, "oci:out:v1"], &[FAST_RETRY]);
    r.expect_code(0).expect_stderr("-> 503; retrying after");
    repo.cleanpipe(&["verify", &image, "--key", "cosign.pub"])
        .expect_code(0);
    assert_eq!(proxy.faulted().len(), 1);
    let tries = proxy
        .requests()
        .iter()
        .filter(|q| {
            q["method"] == "GET" && q["path"].as_str().unwrap_or("").ends_with("/manifests/v1")
        })
        .count();
    assert!(tries >= 2, "the failed read was sent once more");
}

#[test]
fn registry_429_with_retry_after_is_waited_for() {
    let Some(registry) = registry() else { return };
    let (repo, _proxy, image) = behind_proxy(
        &registry,
        "atk/429",
        &[
            "--fail-path-regex",
            "/manifests/v1",
            "--fail-status",
            "429",
            "--retry-after",
            "1",
            "--fail-count",
            "1",
        ],
    );
    let started = Instant::now();
    let r = repo.cleanpipe_env(&["-v", "copy", &image, "oci:out:v1"], &[FAST_RETRY]);
    r.expect_code(0).expect_stderr(
        "-> 429; retrying after 1.0 s, the registry asked for 1.0 s (attempt 2 of 3)",
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the registry's Retry-After was not waited for: {:?}",
        started.elapsed()
    );
}

#[test]
fn answers_that_are_not_transient_are_never_retried() {
    let Some(registry) = registry() else { return };
    let (repo, image, _) = pushed_image(&registry, "atk/noretry");
    // 401 gets one fresh token (authentication, not a retry); the others are sent once.
    for (status, at_most) in [("400", 1), ("404", 1), ("401", 2), ("403", 1)] {
        let proxy = Proxy::start(
            &registry,
            &["--fail-path-regex", "/manifests/", "--fail-status", status],
        );
        let image = image.replace(&registry, &proxy.addr());
        let out = format!("oci:out-{status}:v1");
        let r = repo.cleanpipe_env(&["-v", "copy", &image, &out], &[FAST_RETRY]);
        assert_ne!(r.code, 0, "HTTP {status}: {}", r.all());
        assert!(
            !r.stderr.contains("retrying after"),
            "HTTP {status} was retried:\n{}",
            r.stderr
        );
        let mut per_path = std::collections::BTreeMap::<String, usize>::new();
        for q in proxy.faulted() {
            *per_path
                .entry(format!("{} {}", q["method"], q["path"]))
                .or_default() += 1;
        }
        assert!(!per_path.is_empty(), "HTTP {status}: nothing was faulted");
        for (path, n) in per_path {
            assert!(n <= at_most, "HTTP {status}: {path} sent {n} times");
        }
    }
}

#[test]
fn registry_5xx_on_every_upload_start_publishes_and_tags_nothing() {
    let Some(registry) = registry() else { return };
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-method",
            "POST",
            "--fail-path-regex",
            "/blobs/uploads/",
            "--fail-status",
            "502",
        ],
    );
    let name = unique("atk/upload500");
    let repo = scratch_repo(Some(&format!("{}/{name}", proxy.addr())), &["v1"]);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw"), FAST_RETRY]);
    r.expect_code(3)
        .expect_stderr("answered HTTP 502 after 3 attempts")
        .expect_stderr("hint:");
    assert!(proxy.faulted().len() >= 3, "{:?}", proxy.faulted());
    assert!(
        proxy
            .requests()
            .iter()
            .all(|q| !(q["method"] == "PUT"
                && q["path"].as_str().unwrap_or("").contains("/manifests/"))),
        "no manifest was pushed"
    );
    assert_eq!(
        manifest_status(&registry, &name, "v1"),
        404,
        "the tag must not exist"
    );
}

/// A repo whose image has a 4 MiB layer that does not compress (a reset after 64 KiB comes
/// mid-upload), pushed to `repository` as `v1`.
fn noisy_repo(repository: &str) -> Repo {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    let mut noise = Vec::with_capacity(4 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while noise.len() < 4 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(repo.path().join("noise.bin"), &noise).unwrap();
    repo.keygen("cosign", "pw");
    let pipeline = scratch_pipeline("cosign.key", Some(repository), &["v1"]).replace(
        "        dest: /hello.txt\n",
        "        dest: /hello.txt\n      - src: noise.bin\n        dest: /noise.bin\n",
    );
    assert!(pipeline.contains("noise.bin"), "{pipeline}");
    repo.write("pipeline.yaml", &pipeline);
    repo.commit();
    repo
}

#[test]
fn upload_reset_every_time_fails_after_3_attempts_and_tags_nothing() {
    let Some(registry) = registry() else { return };
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-method",
            "PUT",
            "--fail-path-regex",
            "/blobs/uploads/",
            "--fault-kind",
            "reset",
            "--fail-min-length",
            "1000000",
        ],
    );
    let name = unique("atk/resets");
    let repo = noisy_repo(&format!("{}/{name}", proxy.addr()));
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw"), FAST_RETRY]);
    r.expect_code(3)
        .expect_stderr("cannot upload blob sha256:")
        .expect_stderr("dropped the connection after 3 attempts")
        .expect_stderr("hint:");
    assert_eq!(proxy.faulted().len(), 3, "{:?}", proxy.faulted());
    assert_eq!(
        manifest_status(&registry, &name, "v1"),
        404,
        "the tag must not exist"
    );
}

#[test]
fn upload_reset_mid_blob_starts_a_new_session_and_pushes_the_right_digest() {
    let Some(registry) = registry() else { return };
    let proxy = Proxy::start(
        &registry,
        &[
            "--fail-method",
            "PUT",
            "--fail-path-regex",
            "/blobs/uploads/",
            "--fault-kind",
            "reset",
            "--fail-min-length",
            "1000000",
            "--fail-count",
            "1",
        ],
    );
    let name = unique("atk/reset");
    let repo = noisy_repo(&format!("{}/{name}", proxy.addr()));
    let r = repo.cleanpipe_env(&["-v", "run"], &[("COSIGN_PASSWORD", "pw"), FAST_RETRY]);
    r.expect_code(0)
        .expect_stderr("starting it over from the start of the blob")
        .expect_stderr("retrying after");
    // The reset hit one PUT of a large blob; a new session (POST) followed, and the same blob
    // was then PUT whole.
    let log = proxy.requests();
    let reset_at = log
        .iter()
        .position(|q| q["fault"] == "reset")
        .expect("the upload was reset");
    let reset_path = log[reset_at]["path"].as_str().unwrap().to_string();
    let digest_param = reset_path
        .split(['?', '&'])
        .find(|p| p.starts_with("digest="))
        .expect("the PUT names its digest")
        .to_string();
    assert!(
        log[reset_at + 1..].iter().any(|q| q["method"] == "POST"
            && q["path"]
                .as_str()
                .unwrap_or("")
                .ends_with("/blobs/uploads/")),
        "no new upload session after the reset"
    );
    let put_again = log[reset_at + 1..].iter().find(|q| {
        q["method"] == "PUT"
            && q["path"].as_str().unwrap_or("").contains(&digest_param)
            && q["path"].as_str().unwrap_or("") != reset_path
    });
    assert!(
        put_again.is_some(),
        "the blob was not PUT again in a new session"
    );
    // The image in the registry is the one built, byte for byte: its digest is the layout's,
    // the tag points at it, and every blob reads back whole (digests checked).
    let pushed = r.last_line();
    let digest = pushed.rsplit('@').next().unwrap().to_string();
    let index = std::fs::read_to_string(repo.path().join(".cleanpipe/oci/index.json")).unwrap();
    assert!(index.contains(&digest), "{index}");
    assert_eq!(manifest_status(&registry, &name, &digest), 200);
    assert_eq!(manifest_status(&registry, &name, "v1"), 200);
    let direct = format!("{registry}/{name}:v1");
    repo.cleanpipe(&["copy", &direct, "oci:pulled:v1"])
        .expect_code(0);
    repo.cleanpipe(&[
        "verify",
        &format!("{registry}/{name}@{digest}"),
        "--key",
        "cosign.pub",
    ])
    .expect_code(0);
}

#[test]
fn stalled_registry_times_out_with_a_clear_message() {
    let Some(registry) = registry() else { return };
    let (repo, proxy, image) = behind_proxy(
        &registry,
        "atk/stall",
        &[
            "--fail-path-regex",
            "/manifests/",
            "--fault-kind",
            "stall",
            "--stall-seconds",
            "60",
        ],
    );
    let started = Instant::now();
    let r = repo.cleanpipe(&[
        "verify",
        &image,
        "--key",
        "cosign.pub",
        "--registry-timeout",
        "2",
    ]);
    r.expect_code(3)
        .expect_stderr("stopped answering")
        .expect_stderr("--registry-timeout");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // A stall is not a passing failure: it is not sent again (the wait was long already).
    assert_eq!(proxy.faulted().len(), 1, "{:?}", proxy.faulted());
    assert!(!r.stderr.contains("after 3 attempts"), "{}", r.stderr);
}

// ---- URL rules ------------------------------------------------------------------------

#[test]
fn webhook_host_that_merely_starts_with_127_is_not_loopback() {
    let repo = scratch_repo(None, &["v1"]);
    hook_pipeline(&repo, "    - url: http://127.evil.example/hook\n");
    let r = repo.cleanpipe(&["validate"]);
    r.expect_code(2)
        .expect_stderr("push.register")
        .expect_stderr("plain http to `127.evil.example` is not allowed")
        .expect_stderr("hint:");
}

#[test]
fn http_key_url_is_refused_at_validate() {
    let repo = scratch_repo(None, &[]);
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    repo.write(
        "pipeline.yaml",
        &format!("{text}verify_base:\n  keys:\n    vendor: http://{ELSEWHERE}/vendor.pub\n"),
    );
    repo.commit();
    let r = repo.cleanpipe(&["validate"]);
    r.expect_code(2)
        .expect_stderr("verify_base.keys")
        .expect_stderr("the trusted key URL `http://198.51.100.7/vendor.pub` is refused")
        .expect_stderr("hint:");
}

#[test]
fn key_url_on_a_host_that_merely_starts_with_127_is_refused() {
    let repo = scratch_repo(None, &[]);
    let text = std::fs::read_to_string(repo.path().join("pipeline.yaml")).unwrap();
    repo.write(
        "pipeline.yaml",
        &format!("{text}verify_base:\n  keys:\n    vendor: http://127.0.0.1.evil.example/k.pub\n"),
    );
    repo.commit();
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("plain http to `127.0.0.1.evil.example` is not allowed");
}

#[test]
fn key_url_redirect_to_plain_http_elsewhere_is_not_followed() {
    // A loopback key server (allowed) that redirects the trust root to plain http elsewhere.
    let Some(registry) = registry() else { return };
    let (repo, _, base) = pushed_image(&registry, "atk/keyredir");
    let keys = Proxy::start(
        &registry,
        &[
            "--fail-path-regex",
            "k\\.pub",
            "--fault-kind",
            "redirect",
            "--redirect-to",
            &format!("http://{ELSEWHERE}/k.pub"),
        ],
    );
    let pipeline = scratch_pipeline("cosign.key", None, &[])
        .replace("base: scratch", &format!("base: {base}"))
        .replacen(
            "version: 1\n",
            &format!("version: 1\nverify_base:\n  keys:\n    vendor: http://{}/k.pub\n  default_key: vendor\n", keys.addr()),
            1,
        );
    repo.write("pipeline.yaml", &pipeline);
    repo.commit();
    repo.cleanpipe(&["validate"]).expect_code(0);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(3)
        .expect_stderr("cannot fetch the public key")
        .expect_stderr("redirect to `http://198.51.100.7` refused")
        .expect_stderr("hint:");
    assert!(
        keys.requests().iter().any(|q| q["path"] == "/k.pub"),
        "the key server was asked"
    );
    assert!(
        !r.stderr.contains("[build] image"),
        "nothing was built on an unverified base"
    );
}

#[test]
fn webhook_redirect_to_another_host_is_refused_and_carries_nothing_there() {
    let target = Sink::start_with("200", "", None);
    let to = format!("http://localhost:{}/elsewhere", target.port);
    let first = Sink::start_with("307", &to, None);
    let repo = scratch_repo(None, &["v1"]);
    hook_pipeline(
        &repo,
        &format!(
            "    - url: {}\n      headers: {{ X-Api-Key: \"${{HOOK_TOKEN}}\" }}\n      secret: ${{HOOK_SECRET}}\n      timeout_seconds: 5\n",
            first.url()
        ),
    );
    let r = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("HOOK_TOKEN", "zz9redir-token-canary-1"),
            ("HOOK_SECRET", "zz9redir-hmac-canary-2"),
        ],
    );
    r.expect_code(3)
        .expect_stderr("answered HTTP 307")
        .expect_stderr(&format!(
            "redirecting to `http://localhost:{}`",
            target.port
        ))
        .expect_stderr("webhook redirects are not followed")
        .expect_stderr("hint:");
    assert_eq!(first.requests().len(), 1, "a redirect is not retried");
    assert!(
        target.requests().is_empty(),
        "the redirect target got nothing"
    );
    assert_no_canary(
        &r,
        &repo,
        Some(&first),
        &["zz9redir-token-canary-1", "zz9redir-hmac-canary-2"],
    );
}

#[test]
fn webhook_redirect_to_plain_http_elsewhere_is_refused() {
    let first = Sink::start_with("302", &format!("http://{ELSEWHERE}/steal"), None);
    let repo = scratch_repo(None, &["v1"]);
    hook_pipeline(
        &repo,
        &format!("    - url: {}\n      timeout_seconds: 5\n", first.url()),
    );
    let started = Instant::now();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(3)
        .expect_stderr("redirecting to `http://198.51.100.7`")
        .expect_stderr("not followed");
    assert!(started.elapsed() < Duration::from_secs(20));
}

// ---- secrets stay masked --------------------------------------------------------------

#[test]
fn secret_straddling_the_300_character_cut_is_masked_whole() {
    // The receiver echoes the token after 290 filler characters: the token straddles the
    // 300-character cut of the error message.
    let sink = Sink::start_with("400", "", Some(290 - "Bearer ".len()));
    let repo = scratch_repo(None, &["v1"]);
    hook_pipeline(
        &repo,
        &format!("    - url: {}\n      headers: {{ Authorization: \"Bearer ${{HOOK_TOKEN}}\" }}\n      timeout_seconds: 5\n", sink.url()),
    );
    let r = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("HOOK_TOKEN", "zz9straddle-canary-5a7d"),
        ],
    );
    r.expect_code(3)
        .expect_stderr("HTTP 400")
        .expect_stderr("***");
    assert_no_canary(&r, &repo, Some(&sink), &["zz9straddle-canary-5a7d"]);
}

#[test]
fn secret_in_webhook_url_userinfo_is_masked_in_the_http_error() {
    let repo = scratch_repo(None, &["v1"]);
    // Port 9 (discard) is closed: the request fails and the error names the URL.
    hook_pipeline(
        &repo,
        "    - url: \"http://deploy:${HOOK_PW}@127.0.0.1:9/hook\"\n      timeout_seconds: 3\n",
    );
    let canary = "zz9pw canary@9c1e";
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw"), ("HOOK_PW", canary)]);
    r.expect_code(3)
        .expect_stderr("webhook")
        .expect_stderr("hint:");
    assert_no_canary(&r, &repo, None, &[canary]);
}

#[test]
fn secret_in_webhook_url_query_is_masked_in_the_http_error() {
    let repo = scratch_repo(None, &["v1"]);
    hook_pipeline(
        &repo,
        "    - url: \"http://127.0.0.1:9/hook?key=${HOOK_Q}&x=1\"\n      timeout_seconds: 3\n",
    );
    let canary = "zz9query canary/77ab";
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw"), ("HOOK_Q", canary)]);
    r.expect_code(3)
        .expect_stderr("webhook")
        .expect_stderr("127.0.0.1:9");
    assert_no_canary(&r, &repo, None, &[canary, "zz9query+canary%2F77ab"]);
}

#[test]
fn short_ordinary_interpolated_value_is_not_mangled() {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &scratch_pipeline("cosign.key", None, &["${CHANNEL}-v1"])
            .replace("base: scratch", "base: ${BASE}"),
    );
    repo.commit();
    let r = repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("CHANNEL", "beta"),
            ("BASE", "scratch"),
        ],
    );
    r.expect_code(0);
    assert!(r.stderr.contains("beta-v1"), "{}", r.stderr);
    assert!(
        !r.all().contains("***"),
        "an ordinary value was masked:\n{}",
        r.all()
    );
    let report = std::fs::read_to_string(repo.path().join(".cleanpipe/out/report.json")).unwrap();
    assert!(
        report.contains("beta-v1") && !report.contains("***"),
        "{report}"
    );
}

#[test]
fn docker_config_credentials_are_masked_when_the_registry_echoes_them() {
    let Some(registry) = registry() else { return };
    let (repo, proxy, image) = behind_proxy(
        &registry,
        "atk/dockercfg",
        &[
            "--fail-path-regex",
            "/manifests/",
            "--fail-status",
            "500",
            "--echo-auth",
            "--pad",
            "229",
        ],
    );
    let cfg = repo.path().join("dockercfg");
    std::fs::create_dir_all(&cfg).unwrap();
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:zz9dockercfg-canary-e2d4");
    std::fs::write(
        cfg.join("config.json"),
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
            proxy.addr()
        ),
    )
    .unwrap();
    let r = repo.cleanpipe_env(
        &["verify", &image, "--key", "cosign.pub"],
        &[("DOCKER_CONFIG", cfg.to_str().unwrap()), FAST_RETRY],
    );
    r.expect_code(3)
        .expect_stderr("answered HTTP 500 after 3 attempts")
        .expect_stderr("***");
    assert!(
        proxy
            .requests()
            .iter()
            .any(|q| q["authorization"].is_string()),
        "the config's credentials were used"
    );
    assert_no_canary(&r, &repo, None, &["zz9dockercfg-canary-e2d4"]);
}

#[test]
fn literal_webhook_secret_and_header_are_masked() {
    let sink = Sink::start_with("400", "", Some(10));
    let repo = scratch_repo(None, &["v1"]);
    hook_pipeline(
        &repo,
        &format!(
            "    - url: {}\n      headers: {{ X-Api-Key: zz9literal-header-canary-31, Authorization: \"token zz9literal-token-canary-32\" }}\n      secret: zz9literal-hmac-canary-33\n      timeout_seconds: 5\n",
            sink.url()
        ),
    );
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(3)
        .expect_stderr("HTTP 400")
        .expect_stderr("***");
    // The receiver did get them (the echo would have leaked them).
    let req = &sink.requests()[0];
    assert_eq!(req["headers"]["x-api-key"], "zz9literal-header-canary-31");
    assert_no_canary(
        &r,
        &repo,
        None,
        &[
            "zz9literal-header-canary-31",
            "zz9literal-token-canary-32",
            "zz9literal-hmac-canary-33",
        ],
    );
    let plan = repo.cleanpipe(&["plan", "-o", "json"]);
    assert_no_canary(
        &plan,
        &repo,
        None,
        &[
            "zz9literal-header-canary-31",
            "zz9literal-token-canary-32",
            "zz9literal-hmac-canary-33",
        ],
    );
}

#[test]
fn canaries_are_absent_from_every_output_of_a_published_run() {
    let Some(registry) = registry() else { return };
    let sink = Sink::start_with("200", "", None);
    let name = unique("atk/canary");
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "zz9cosign-pw-canary-11");
    let text = scratch_pipeline("cosign.key", Some(&format!("{registry}/{name}")), &["v1"]);
    repo.write(
        "pipeline.yaml",
        &format!(
            "{text}  register:\n    - url: \"{}?sig=${{HOOK_Q}}\"\n      headers: {{ Authorization: \"Bearer ${{HOOK_TOKEN}}\" }}\n      secret: ${{HOOK_SECRET}}\n      timeout_seconds: 5\n",
            sink.url()
        ),
    );
    repo.commit();
    let r = repo.cleanpipe_stdin(
        &[
            "run",
            "--registry-username",
            "bob",
            "--registry-password-stdin",
        ],
        &[
            ("COSIGN_PASSWORD", "zz9cosign-pw-canary-11"),
            ("HOOK_TOKEN", "zz9all-token-canary-12"),
            ("HOOK_SECRET", "zz9all-hmac-canary-13"),
            ("HOOK_Q", "zz9all-query-canary-14"),
        ],
        "zz9all-registry-canary-15\n",
    );
    r.expect_code(0).expect_stderr("registered with");
    assert_eq!(sink.requests().len(), 1);
    assert_no_canary(
        &r,
        &repo,
        Some(&sink),
        &[
            "zz9cosign-pw-canary-11",
            "zz9all-token-canary-12",
            "zz9all-hmac-canary-13",
            "zz9all-query-canary-14",
            "zz9all-registry-canary-15",
        ],
    );
}
