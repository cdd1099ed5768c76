//! Shared test harness: a temporary Git repository with a pipeline, and the cleanpipe binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BIN: &str = env!("CARGO_BIN_EXE_cleanpipe");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Tar a directory (uncompressed) next to it.
pub fn tar_dir(dir: &Path) -> PathBuf {
    let tar = dir.with_extension("tar");
    let ok = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success();
    assert!(ok, "tar failed");
    tar
}

/// A unique name for registry repositories, so tests never share state.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The registry `.ci/run` started (`CLEANPIPE_TEST_REGISTRY`), or `None` (skip) off CI.
pub fn registry() -> Option<String> {
    match std::env::var("CLEANPIPE_TEST_REGISTRY") {
        Ok(r) if !r.is_empty() => Some(r),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but CLEANPIPE_TEST_REGISTRY is not set: .ci/run must start the registry");
            }
            eprintln!("skipped: no registry (set CLEANPIPE_TEST_REGISTRY=127.0.0.1:PORT, or run `bash .ci/run`)");
            None
        }
    }
}

/// The buildkitd `.ci/run` started and its client: (`CLEANPIPE_TEST_BUILDKIT_HOST`,
/// `CLEANPIPE_TEST_BUILDCTL`), or `None` (skip) off CI.
pub fn buildkit() -> Option<(String, String)> {
    match (
        std::env::var("CLEANPIPE_TEST_BUILDKIT_HOST"),
        std::env::var("CLEANPIPE_TEST_BUILDCTL"),
    ) {
        (Ok(host), Ok(buildctl)) => Some((host, buildctl)),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but CLEANPIPE_TEST_BUILDKIT_HOST/CLEANPIPE_TEST_BUILDCTL are not set: .ci/run must start buildkitd");
            }
            eprintln!("skipped: no buildkitd (set CLEANPIPE_TEST_BUILDKIT_HOST and CLEANPIPE_TEST_BUILDCTL, or run `bash .ci/run`)");
            None
        }
    }
}

/// Whether a Docker engine answers; panics under CI=true when it does not.
pub fn docker() -> bool {
    let ok = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but no Docker engine answers: .ci/run must start dockerd");
        }
        eprintln!("skipped: no Docker engine (start dockerd, or run `bash .ci/run`)");
    }
    ok
}

/// The result of running cleanpipe.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn expect_stderr(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    /// The last stdout line (cleanpipe prints the published reference or digest there).
    pub fn last_line(&self) -> String {
        self.stdout.lines().last().unwrap_or("").to_string()
    }
}

/// A temporary Git repository to run pipelines in.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write(".gitignore", ".cleanpipe\n");
        repo
    }

    /// A repository as a user starts one: `git init` and nothing else (no `.gitignore`).
    pub fn bare() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// `git status --porcelain` (untracked files listed one by one).
    pub fn git_status(&self) -> String {
        let out = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=all"])
            .current_dir(self.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, content: &str) {
        let p = self.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn copy_in(&self, from: &Path, name: &str) {
        std::fs::copy(from, self.path().join(name)).unwrap();
    }

    pub fn git(&self, args: &[&str]) {
        let ok = Command::new("git")
            .args([
                "-c",
                "user.email=test@example.com",
                "-c",
                "user.name=test",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(self.path())
            .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
            .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?} failed");
    }

    pub fn commit(&self) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "test", "--allow-empty"]);
    }

    /// `osv/`: one hand-written OSV record (not a real advisory) for a package no test image
    /// has, so an attested scan with it has no findings.
    pub fn write_osv_db_without_matches(&self) {
        self.write(
            "osv/HAND-X.json",
            r#"{"id":"HAND-X","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"absent"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
        );
    }

    /// The built-in example as `name` (`pipeline.example.yaml` or `pipeline.yaml`), with every
    /// file under `examples/` it reads (the image's files, the OSV records of its gate).
    pub fn write_example(&self, name: &str) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        self.write(
            name,
            &std::fs::read_to_string(root.join("pipeline.example.yaml")).unwrap(),
        );
        let mut todo = vec![root.join("examples")];
        while let Some(dir) = todo.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                } else {
                    let rel = path.strip_prefix(root).unwrap().to_str().unwrap();
                    self.write(rel, &std::fs::read_to_string(&path).unwrap());
                }
            }
        }
    }

    /// A key pair `NAME.key`/`NAME.pub` with password `pw`, as `cleanpipe keygen` writes it
    /// (the private key kept out of Git the same way). scrypt makes keygen slow, so each (name, password) pair
    /// is generated once per test run by the real `cleanpipe keygen` and copied: two tests (or
    /// two repositories) asking for the same name and password get the same key, and a test
    /// that needs a stranger's key asks for another name.
    pub fn keygen(&self, name: &str, pw: &str) {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static MADE: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();
        if name.contains('/') {
            // A prefix elsewhere than the repository root: the real command, uncached.
            self.cleanpipe_env(
                &["keygen", "--output-key-prefix", name],
                &[("COSIGN_PASSWORD", pw)],
            )
            .expect_code(0);
            return;
        }
        let made = {
            let mut made = MADE.get_or_init(Default::default).lock().unwrap();
            made.entry((name.to_string(), pw.to_string()))
                .or_insert_with(|| {
                    let dir = tempfile::tempdir().unwrap().keep();
                    let out = Command::new(BIN)
                        .args(["keygen", "--output-key-prefix", "key"])
                        .env("COSIGN_PASSWORD", pw)
                        .current_dir(&dir)
                        .output()
                        .unwrap();
                    Run::from(out).expect_code(0);
                    dir
                })
                .clone()
        };
        let (key, public) = (
            self.path().join(format!("{name}.key")),
            self.path().join(format!("{name}.pub")),
        );
        std::fs::copy(made.join("key.key"), &key).unwrap();
        std::fs::copy(made.join("key.pub"), &public).unwrap();
        // As `cleanpipe keygen` does: the private key out of Git, the public one committable.
        cleanpipe::git::keep_out_of_git(&[&key]).unwrap();
    }

    pub fn cleanpipe(&self, args: &[&str]) -> Run {
        self.cleanpipe_env(args, &[])
    }

    /// The repository's image store (`.cleanpipe/oci`): panics when it is missing or
    /// unreadable, so no assertion about its tags can pass on a store that is not there.
    fn store(&self) -> cleanpipe::oci::Layout {
        let path = self.path().join(".cleanpipe/oci");
        cleanpipe::oci::Layout::open(&path)
            .unwrap_or_else(|e| panic!("the store {} cannot be opened: {e}", path.display()))
    }

    /// Whether the repository's store has `tag` (the store must exist).
    pub fn layout_has_tag(&self, tag: &str) -> bool {
        self.store()
            .resolve_tag(tag)
            .unwrap_or_else(|e| panic!("the store's index is unreadable: {e}"))
            .is_some()
    }

    /// The store exists and holds no image at all, tagged or not.
    #[track_caller]
    pub fn assert_nothing_tagged(&self) {
        let index = self
            .store()
            .index()
            .unwrap_or_else(|e| panic!("the store's index is unreadable: {e}"));
        assert!(
            index.manifests.is_empty(),
            "nothing may be built or tagged: {:?}",
            index.manifests
        );
    }

    /// The run stopped before it wrote anything to the store: no index, no blob (the
    /// directory and its lock file may exist).
    #[track_caller]
    pub fn assert_no_store(&self) {
        let path = self.path().join(".cleanpipe/oci");
        let written: Vec<String> = walk(&path)
            .into_iter()
            .filter(|p| p.ends_with("index.json") || p.contains("blobs/sha256/"))
            .collect();
        assert!(written.is_empty(), "the store holds {written:?}");
    }

    pub fn cleanpipe_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        Run::from(self.command(args, extra).output().unwrap())
    }

    /// Run with `input` on standard input.
    pub fn cleanpipe_stdin(&self, args: &[&str], extra: &[(&str, &str)], input: &str) -> Run {
        Run::from(output_with_stdin(self.command(args, extra), input))
    }

    /// The cleanpipe command, ready to run in this repository.
    pub fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.path()).stdin(Stdio::null());
        cmd.env_remove("COSIGN_PASSWORD")
            .env_remove("CLEANPIPE_FILE");
        // Keep ~/.docker credentials out of the tests.
        cmd.env("DOCKER_CONFIG", self.path().join(".no-docker-config"));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }
}

/// Run `cmd` with `input` on its standard input; its output.
pub fn output_with_stdin(mut cmd: Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// HTTP status of `GET /v2/<repo>/manifests/<reference>` on the test registry.
pub fn manifest_status(registry: &str, repo: &str, reference: &str) -> u16 {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg("Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
        .arg(format!("http://{registry}/v2/{repo}/manifests/{reference}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// A "registry" on loopback that accepts connections and never answers, so a run pushing to
/// it stays in its push stage (for Ctrl-C and kill -9 tests). Returns the port.
pub fn hanging_registry() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = vec![];
        for c in listener.incoming().take(4) {
            conns.push(c);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    (port, held)
}

/// A minimal pipeline: scratch + one file, signed with `key`, optionally pushed.
pub fn scratch_pipeline(key: &str, repository: Option<&str>, tags: &[&str]) -> String {
    let mut p = format!(
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\nsign:\n  key: {key}\n"
    );
    if repository.is_some() || !tags.is_empty() {
        p.push_str("push:\n");
        if let Some(r) = repository {
            p.push_str(&format!("  repository: {r}\n"));
        }
        if !tags.is_empty() {
            let list: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
            p.push_str(&format!("  tags: [{}]\n", list.join(", ")));
        }
    }
    p
}

/// A committed repo with a scratch pipeline and a key pair `cosign` (password `pw`).
pub fn scratch_repo(repository: Option<&str>, tags: &[&str]) -> Repo {
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &scratch_pipeline("cosign.key", repository, tags),
    );
    repo.commit();
    repo
}

/// A scratch image published by `cleanpipe run` to `repository` with `tags` (a vendor's base
/// in most tests): its repository and the published `repo@sha256:…`.
pub fn published_scratch_image(repository: &str, tags: &[&str]) -> (Repo, String) {
    let repo = scratch_repo(Some(repository), tags);
    let image = repo
        .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0)
        .last_line();
    (repo, image)
}

/// `docker pull` then `docker run --rm` of `image` (from the test registry); the run's output.
pub fn docker_pull_and_run(image: &str) -> Output {
    assert!(Command::new("docker")
        .args(["pull", "-q", image])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success());
    Command::new("docker")
        .args(["run", "--rm", image])
        .output()
        .unwrap()
}

/// A script under `tests/support`.
pub fn support_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// The port a helper wrote to `port_file` once it listens.
pub fn wait_port(port_file: &Path, what: &str) -> String {
    for _ in 0..200 {
        if let Ok(p) = std::fs::read_to_string(port_file) {
            if !p.trim().is_empty() {
                return p.trim().to_string();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("{what} did not start");
}

/// A webhook receiver (tests/support/webhook_sink.py) on loopback answering `statuses`; 3xx answers point at `location`; error answers
/// echo the request's header values after `echo_pad` filler characters.
pub struct Sink {
    child: Child,
    pub port: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    /// A receiver answering `statuses` (the last repeats).
    pub fn start(statuses: &str) -> Sink {
        Sink::start_with(statuses, "", None)
    }

    pub fn start_with(statuses: &str, location: &str, echo_pad: Option<usize>) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let log = dir.path().join("requests.jsonl");
        let mut cmd = Command::new("python3");
        cmd.arg(support_script("webhook_sink.py"))
            .arg(&port_file)
            .arg(&log)
            .arg(statuses)
            .arg(location);
        if let Some(p) = echo_pad {
            cmd.arg(p.to_string());
        }
        let child = cmd.stderr(Stdio::null()).spawn().unwrap();
        let port = wait_port(&port_file, "webhook sink");
        Sink {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/images", self.port)
    }

    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The in-toto statement a DSSE envelope (JSON bytes) carries, unverified: for tests that look
/// at what cleanpipe signed.
pub fn dsse_statement(envelope: &[u8]) -> serde_json::Value {
    use base64::Engine;
    let envelope: serde_json::Value = serde_json::from_slice(envelope).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// Every file under `dir` (relative paths), or nothing when it does not exist.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out
}
