//! `cleanpipe db update` and `db stats` against a local stand-in for osv.dev's bucket
//! (tests/support/osv_mirror.py): a cold update a scan then uses, a warm update that is one 304,
//! and every bad archive (truncated, corrupt, another ecosystem's, a record that does not
//! parse, a download cut mid-body, a redirect to plain http) refused with the previous database
//! left usable.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::sbom_scan::{image_from_tars, tar_of};
use crate::support::{fixture, support_script, wait_port, Repo, Run};

/// The stand-in bucket: archives under `root/<ecosystem>/all.zip`, behaviour in `root/.mode`.
pub(crate) struct Mirror {
    child: Child,
    port: String,
    root: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mirror {
    pub(crate) fn start() -> Mirror {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let port_file = dir.path().join("port");
        let log = dir.path().join("requests.jsonl");
        let child = Command::new("python3")
            .arg(support_script("osv_mirror.py"))
            .arg(&port_file)
            .arg(&root)
            .arg(&log)
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the OSV mirror stand-in");
        let port = wait_port(&port_file, "OSV mirror");
        Mirror {
            child,
            port,
            root,
            log,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/osv", self.port)
    }

    /// Serve `bytes` as `<ecosystem>/all.zip`, with a Last-Modified `age` seconds ago.
    pub(crate) fn put(&self, ecosystem: &str, bytes: &[u8], age: u64) {
        let dir = self.root.join("osv").join(ecosystem);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("all.zip");
        std::fs::write(&path, bytes).unwrap();
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn mode(&self, mode: serde_json::Value) {
        std::fs::write(self.root.join(".mode"), mode.to_string()).unwrap();
    }

    fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A zip of (name, bytes) entries; `stored` keeps them uncompressed.
fn zip_of(entries: &[(String, Vec<u8>)], stored: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if stored {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    for (name, bytes) in entries {
        w.start_file(
            name.as_str(),
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Every record of a fixture directory as zip entries.
fn records(dir: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture(dir))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no {prefix}* fixtures in {dir}");
    out
}

/// An Alpine record of our own, so a second version of the archive differs from the first.
fn extra_alpine_record() -> (String, Vec<u8>) {
    (
        "HAND-ALPINE-1.json".into(),
        br#"{"id":"HAND-ALPINE-1","modified":"2026-11-01T00:00:00Z","affected":[{"package":{"ecosystem":"Alpine:v3.19","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.3.1-r0"}]}]}],"database_specific":{"severity":"LOW"}}"#.to_vec(),
    )
}

pub(crate) fn alpine_v1() -> Vec<u8> {
    zip_of(&records("osv/distro", "ALPINE-"), false)
}

fn alpine_v2(stored: bool) -> Vec<u8> {
    let mut entries = records("osv/distro", "ALPINE-");
    entries.push(extra_alpine_record());
    zip_of(&entries, stored)
}

fn debian() -> Vec<u8> {
    let mut entries = records("osv/distro", "DLA-");
    entries.extend(records("osv/distro", "DSA-"));
    zip_of(&entries, false)
}

/// An Alpine 3.19 image with musl 1.2.4-r2 (ALPINE-CVE-2025-26519 applies).
pub(crate) fn alpine_image(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let layer = tar_of(
        dir,
        &[
            ("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
            (
                "lib/apk/db/installed",
                b"P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n",
            ),
        ],
    );
    image_from_tars(&dir.join("layout"), &[&layer])
}

/// A test's own cache (the OSV index cache) and database directory.
struct Env {
    repo: Repo,
    cache: tempfile::TempDir,
    db: PathBuf,
}

impl Env {
    fn new() -> Env {
        let cache = tempfile::tempdir().unwrap();
        let db = cache.path().join("db");
        Env {
            repo: Repo::new(),
            cache,
            db,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let cache = self.cache.path().join("xdg");
        self.repo
            .cleanpipe_env(args, &[("XDG_CACHE_HOME", cache.to_str().unwrap())])
    }

    fn update(&self, mirror: &Mirror, ecosystems: &str) -> Run {
        self.run(&[
            "db",
            "update",
            "--ecosystems",
            ecosystems,
            "--mirror",
            &mirror.url(),
            "--dir",
            self.db.to_str().unwrap(),
        ])
    }

    /// Every file of the database directory but the lock, with its bytes.
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(&self.db)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != ".lock")
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }

    fn meta(&self, ecosystem: &str) -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(self.db.join(format!("{ecosystem}.meta.json"))).unwrap(),
        )
        .unwrap()
    }

    /// Scan the Alpine image with the managed database; the JSON report.
    fn scan(&self, image: &str) -> serde_json::Value {
        let r = self.run(&[
            "scan",
            image,
            "--db",
            self.db.to_str().unwrap(),
            "--output",
            "json",
        ]);
        r.expect_code(1);
        serde_json::from_str(&r.stdout).unwrap()
    }
}

pub(crate) fn finding_ids(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn cold_update_then_scan_then_a_warm_update_is_one_304_per_ecosystem() {
    let mirror = Mirror::start();
    mirror.put("Alpine", &alpine_v1(), 3600);
    mirror.put("Debian", &debian(), 3600);
    let env = Env::new();
    let images = tempfile::tempdir().unwrap();
    let image = alpine_image(images.path());

    env.update(&mirror, "Alpine,Debian")
        .expect_code(0)
        .expect_stderr("Alpine: updated");
    let alpine = env.meta("Alpine");
    let served = alpine_v1();
    assert_eq!(
        alpine["digest"],
        format!(
            "sha256:{}",
            cleanpipe::oci::types::Digest::of(&served).hex()
        )
    );
    assert_eq!(alpine["records"], 1);
    assert_eq!(alpine["source"], format!("{}/Alpine/all.zip", mirror.url()));
    assert!(alpine["etag"].as_str().unwrap().starts_with('"'));

    let report = env.scan(&image);
    assert_eq!(finding_ids(&report), ["ALPINE-CVE-2025-26519"]);
    let coverage = &report["coverage"];
    assert_eq!(
        coverage["database_completeness"], "complete",
        "{coverage:#}"
    );
    let archives = coverage["database"]["archives"].as_array().unwrap();
    let ecosystems: Vec<&str> = archives
        .iter()
        .map(|a| a["ecosystem"].as_str().unwrap())
        .collect();
    assert_eq!(ecosystems, ["Alpine", "Debian"]);
    assert_eq!(archives[0]["digest"], alpine["digest"]);
    assert_eq!(archives[0]["newest_modified"], alpine["newest_modified"]);

    // Warm: one conditional request per ecosystem, answered 304; nothing written.
    let before = env.files();
    let sent = mirror.requests().len();
    env.update(&mirror, "Alpine,Debian")
        .expect_code(0)
        .expect_stderr("Alpine: unchanged (304 Not Modified)");
    let warm = &mirror.requests()[sent..];
    assert_eq!(warm.len(), 2, "{warm:#?}");
    for r in warm {
        assert_eq!(r["status"], 304, "{r:#}");
        assert!(r["headers"]["if-none-match"].is_string(), "{r:#}");
        assert!(r["headers"]["if-modified-since"].is_string(), "{r:#}");
    }
    assert_eq!(env.files(), before, "a 304 changes no file");

    // A new archive upstream: fetched, the old one replaced, the scan sees the new record.
    mirror.put("Alpine", &alpine_v2(false), 10);
    env.update(&mirror, "Alpine")
        .expect_code(0)
        .expect_stderr("Alpine: updated");
    let zips: Vec<String> = env
        .files()
        .into_keys()
        .filter(|n| n.starts_with("Alpine") && n.ends_with(".zip"))
        .collect();
    assert_eq!(zips.len(), 1, "the previous archive is removed: {zips:?}");
    assert_eq!(env.meta("Alpine")["records"], 2);

    // Without --dir and --db: the default directory under the user's cache, used by the scan.
    env.run(&[
        "db",
        "update",
        "--ecosystems",
        "Alpine",
        "--mirror",
        &mirror.url(),
    ])
    .expect_code(0);
    let default = env.cache.path().join("xdg/cleanpipe/osv");
    assert!(default.join("Alpine.meta.json").is_file());
    let r = env.run(&["scan", &image, "--output", "json"]);
    r.expect_code(1).expect_stderr(&format!(
        "using the managed database `{}`",
        default.display()
    ));
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        report["coverage"]["database"]["archives"][0]["ecosystem"],
        "Alpine"
    );

    // Stats, as JSON and text.
    let stats = env.run(&[
        "db",
        "stats",
        "--dir",
        env.db.to_str().unwrap(),
        "--format",
        "json",
    ]);
    stats.expect_code(0);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    let alpine = &stats["ecosystems"][0];
    assert_eq!(alpine["ecosystem"], "Alpine");
    assert_eq!(alpine["records"], 2);
    assert_eq!(alpine["newest_modified"], "2026-11-01T00:00:00Z");
    assert_eq!(alpine["digest"], env.meta("Alpine")["digest"]);
    let text = env.run(&["db", "stats", env.db.to_str().unwrap()]);
    text.expect_code(0);
    assert!(text.stdout.contains("Debian") && text.stdout.contains("/Debian/all.zip"));
}

#[test]
fn bad_archives_are_refused_and_the_previous_database_stays_usable() {
    let mirror = Mirror::start();
    mirror.put("Alpine", &alpine_v1(), 3600);
    mirror.put("Debian", &debian(), 3600);
    let env = Env::new();
    env.update(&mirror, "Alpine").expect_code(0);
    let good = env.files();

    // Every bad case serves a changed archive (so the conditional request is not a 304).
    let v2 = alpine_v2(true);
    mirror.put("Alpine", &v2, 10);
    let details = v2
        .windows(9)
        .position(|w| w == b"\"details\"")
        .expect("a stored record's bytes are in the zip");
    let mut broken = records("osv/distro", "ALPINE-");
    broken.push((
        "BROKEN.json".into(),
        br#"{"id": 3, "affected": []}"#.to_vec(),
    ));
    let cases: Vec<(serde_json::Value, Option<Vec<u8>>, &str)> = vec![
        (
            serde_json::json!({"mode": "truncate"}),
            None,
            "is refused: not a readable zip",
        ),
        (
            serde_json::json!({"mode": "corrupt", "at": details + 3}),
            None,
            "is corrupt: Invalid checksum",
        ),
        (
            serde_json::json!({"mode": "wrong", "from": "osv/Debian"}),
            None,
            "not `Alpine`",
        ),
        (
            serde_json::json!({"mode": "normal"}),
            Some(zip_of(&broken, false)),
            "entry `BROKEN.json` is not an OSV record",
        ),
        (serde_json::json!({"mode": "cut"}), None, "the download of"),
    ];
    for (mode, archive, expected) in cases {
        if let Some(a) = archive {
            mirror.put("Alpine", &a, 5);
        }
        mirror.mode(mode.clone());
        let r = env.update(&mirror, "Alpine");
        r.expect_code(3).expect_stderr(expected);
        assert!(
            r.stderr.contains("hint:"),
            "{mode}: the error ends with a hint:\n{}",
            r.stderr
        );
        assert_eq!(
            env.files(),
            good,
            "{mode}: the database is as before, no temporary file left"
        );
    }
    mirror.mode(serde_json::json!({"mode": "normal"}));

    // The previous database still loads and finds the vulnerability.
    let images = tempfile::tempdir().unwrap();
    let report = env.scan(&alpine_image(images.path()));
    assert_eq!(finding_ids(&report), ["ALPINE-CVE-2025-26519"]);

    // A database whose archive was changed after it was verified is refused by the scan.
    let meta = env.meta("Alpine");
    let archive = env.db.join(meta["archive"].as_str().unwrap());
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    let r = env.run(&[
        "scan",
        &alpine_image(&images.path().join("again")),
        "--db",
        env.db.to_str().unwrap(),
    ]);
    r.expect_code(3).expect_stderr("but `db update` verified");
}

#[test]
fn redirects_and_mirrors_follow_the_http_policy() {
    let mirror = Mirror::start();
    mirror.put("Alpine", &alpine_v1(), 3600);
    let env = Env::new();
    // A redirect to plain http on a host that is not loopback is never followed.
    mirror.mode(serde_json::json!({"mode": "redirect", "location": "http://198.51.100.7/osv/Alpine/all.zip"}));
    env.update(&mirror, "Alpine")
        .expect_code(3)
        .expect_stderr("redirect to `http://198.51.100.7` refused: plain http");
    assert!(!env.db.join("Alpine.meta.json").exists());
    // A redirect to loopback is followed.
    mirror.mode(serde_json::json!({"mode": "normal"}));
    let other = Mirror::start();
    other.put("Alpine", &alpine_v1(), 3600);
    other.mode(serde_json::json!({"mode": "redirect", "location": format!("{}/Alpine/all.zip", mirror.url())}));
    env.update(&other, "Alpine").expect_code(0);
    // The mirror from the environment (CLEANPIPE_DB_MIRROR) when there is no --mirror.
    let xdg = env.cache.path().join("xdg");
    let sent = mirror.requests().len();
    env.repo
        .cleanpipe_env(
            &[
                "db",
                "update",
                "--ecosystems",
                "Alpine",
                "--dir",
                env.db.to_str().unwrap(),
            ],
            &[
                ("XDG_CACHE_HOME", xdg.to_str().unwrap()),
                ("CLEANPIPE_DB_MIRROR", &mirror.url()),
            ],
        )
        .expect_code(0)
        .expect_stderr("Alpine: unchanged (304 Not Modified)");
    assert_eq!(mirror.requests()[sent..].len(), 1);
    // A plain-http mirror that is not loopback: refused before any request (bad input).
    env.run(&[
        "db",
        "update",
        "--ecosystems",
        "Alpine",
        "--mirror",
        "http://198.51.100.7/osv",
        "--dir",
        env.db.to_str().unwrap(),
    ])
    .expect_code(2)
    .expect_stderr("plain http");
    // An ecosystem the mirror does not have: bad input, named; the others are still updated.
    mirror.put("Alpine", &alpine_v2(false), 10);
    env.update(&mirror, "Alpine,Alpne")
        .expect_code(2)
        .expect_stderr("Alpne: there is no archive at")
        .expect_stderr("1 of 2 ecosystem(s) not updated");
    assert_eq!(env.meta("Alpine")["records"], 2);
}

#[test]
fn auto_ecosystems_come_from_the_sboms_package_urls() {
    let mirror = Mirror::start();
    mirror.put("Alpine", &alpine_v1(), 3600);
    mirror.put(
        "PyPI",
        &zip_of(&records("osv/ghsa", "GHSA-34jh-p97f-mpxf"), false),
        3600,
    );
    let env = Env::new();
    let outputs = env.repo.path().join("outputs");
    std::fs::create_dir_all(&outputs).unwrap();
    std::fs::write(
        outputs.join("sbom.cdx.json"),
        serde_json::json!({"bomFormat": "CycloneDX", "components": [
            {"purl": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"},
            {"purl": "pkg:rpm/fedora/bash@5.2"},
        ]})
        .to_string(),
    )
    .unwrap();
    let url = mirror.url();
    let auto = |extra: &[&str]| {
        let mut args = vec![
            "db",
            "update",
            "--ecosystems",
            "auto",
            "--mirror",
            &url,
            "--dir",
            env.db.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    // Default: the SBOMs in ./outputs; Fedora has no osv.dev archive and is not asked for.
    auto(&[])
        .expect_code(0)
        .expect_stderr("needed: Alpine (")
        .expect_stderr("sbom.cdx.json)")
        // The mirror has no CVE records: said, not a failure (unrated findings stay unknown).
        .expect_stderr("GIT: there is no archive");
    let asked: Vec<String> = mirror
        .requests()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(asked, ["/osv/Alpine/all.zip", "/osv/GIT/all.zip"]);
    // An SPDX file named with --sbom adds PyPI.
    let spdx = env.repo.path().join("app.spdx.json");
    std::fs::write(
        &spdx,
        serde_json::json!({"packages": [{"externalRefs": [
            {"referenceType": "purl", "referenceLocator": "pkg:pypi/jinja2@2.4.1"}
        ]}]})
        .to_string(),
    )
    .unwrap();
    auto(&["--sbom", spdx.to_str().unwrap()])
        .expect_code(0)
        .expect_stderr("needed: PyPI (");
    assert_eq!(env.meta("PyPI")["ecosystem"], "PyPI");
    // No SBOM at all: bad input, with a hint.
    auto(&["--sbom", env.cache.path().to_str().unwrap()])
        .expect_code(2)
        .expect_stderr("no SBOM");
}

/// `--ecosystems auto` before any run: the packages catalogued in the pipeline's pinned base
/// (an Alpine base with a Python package) and the manifests in what the build copies (an npm
/// lockfile), and nothing else; the pipeline's `db_mirror` is where they come from.
#[test]
fn auto_ecosystems_on_a_first_run_come_from_the_bases_and_the_build_context() {
    let mirror = Mirror::start();
    mirror.put("Alpine", &alpine_v1(), 3600);
    mirror.put("PyPI", &zip_of(&ghsa_of("PyPI"), false), 3600);
    mirror.put("npm", &zip_of(&ghsa_of("npm"), false), 3600);
    mirror.put("Maven", &zip_of(&ghsa_of("Maven"), false), 3600);
    // osv.dev's CVE records (converted from NVD): commit ranges, no package.
    let cve = serde_json::json!({"id": "CVE-2025-26519", "modified": "2026-01-01T00:00:00Z",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{"ranges": [{"type": "GIT", "repo": "https://git.musl-libc.org/git/musl",
            "events": [{"introduced": "0"}, {"fixed": "c47ad25ea3b484e10326f933e927c0bc8cded3da"}]}]}]});
    mirror.put(
        "GIT",
        &zip_of(
            &[(
                "CVE-2025-26519.json".to_string(),
                cve.to_string().into_bytes(),
            )],
            false,
        ),
        3600,
    );
    // The vendor's base, in a local layout.
    let vendor = Repo::new();
    vendor.keygen("vendor", "pw");
    vendor.write("os-release", "ID=alpine\nVERSION_ID=3.19.1\n");
    vendor.write("installed", "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n");
    vendor.write(
        "METADATA",
        "Metadata-Version: 2.1\nName: jinja2\nVersion: 3.1.3\n\n",
    );
    vendor.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: os-release\n        dest: /etc/os-release\n      - src: installed\n        dest: /lib/apk/db/installed\n      - src: METADATA\n        dest: /usr/lib/python3.12/site-packages/jinja2-3.1.3.dist-info/METADATA\nsign:\n  key: vendor.key\npush:\n  tags: [v1]\n",
    );
    vendor.commit();
    let built = vendor.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    built.expect_code(0);
    let digest = built.last_line().rsplit('@').next().unwrap().to_string();
    let base = format!(
        "oci:{}@{digest}",
        vendor.path().join(".cleanpipe/oci").display()
    );
    let env = Env::new();
    env.repo.write("app/package-lock.json", "{}");
    env.repo.write("app/README.md", "not a manifest");
    env.repo.write(
        "pipeline.yaml",
        &format!("version: 1\nbuild:\n  customize:\n    base: {base}\n    files:\n      - src: app\n        dest: /app\n  scan:\n    db: managed\n    db_mirror: {}\n", mirror.url()),
    );
    env.repo.commit();
    let auto = env.run(&[
        "db",
        "update",
        "--ecosystems",
        "auto",
        "--dir",
        env.db.to_str().unwrap(),
    ]);
    auto.expect_code(0)
        .expect_stderr("needed: Alpine (base oci@sha256:")
        .expect_stderr("needed: PyPI (base oci@sha256:")
        .expect_stderr("needed: npm (app/package-lock.json)")
        .expect_stderr("needed: GIT (CVE records rating Alpine findings)")
        .expect_stderr("read 0 SBOM(s), the build context, 1 base(s)");
    let mut asked: Vec<String> = mirror
        .requests()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        [
            "/osv/Alpine/all.zip",
            "/osv/GIT/all.zip",
            "/osv/PyPI/all.zip",
            "/osv/npm/all.zip"
        ]
    );
    assert_eq!(env.meta("GIT")["records"], 1);
    // A package ecosystem's archive served as the CVE records is refused.
    mirror.put("GIT", &zip_of(&ghsa_of("npm"), false), 0);
    env.update(&mirror, "GIT")
        .expect_code(3)
        .expect_stderr("not `GIT`");
    assert_eq!(env.meta("GIT")["records"], 1);
    // A mirror key on a database that is not managed is refused where it is written.
    env.repo.write(
        "pipeline.yaml",
        &format!("version: 1\nbuild:\n  customize:\n    base: scratch\n  scan:\n    db: osv\n    db_mirror: {}\n", mirror.url()),
    );
    env.run(&["validate"])
        .expect_code(2)
        .expect_stderr("db_mirror");
}

/// The real GHSA fixture records of one ecosystem, as an archive's entries.
fn ghsa_of(ecosystem: &str) -> Vec<(String, Vec<u8>)> {
    records("osv/ghsa", "GHSA-")
        .into_iter()
        .filter(|(_, bytes)| {
            let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            v["affected"][0]["package"]["ecosystem"] == ecosystem
        })
        .collect()
}

/// `db: managed` on a first run: the gate fetches the ecosystems the image's packages belong to
/// (and no other) into `CLEANPIPE_DB_DIR`, gates on them, and a later run asks for nothing;
/// `db update --ecosystems installed` refreshes exactly those; unreachable, the gate fails
/// closed (exit 3) instead of passing unchecked.
#[test]
fn a_managed_gate_fetches_what_its_image_needs_on_the_first_run() {
    let mirror = Mirror::start();
    mirror.put("npm", &zip_of(&ghsa_of("npm"), false), 60);
    mirror.put("PyPI", &zip_of(&ghsa_of("PyPI"), false), 60);
    let repo = Repo::new();
    repo.write_example("pipeline.example.yaml");
    let text = std::fs::read_to_string(repo.path().join("pipeline.example.yaml")).unwrap();
    assert!(text.contains("db: examples/osv"));
    let url = mirror.url();
    // The mirror from the pipeline's `db_mirror` (no CLEANPIPE_DB_MIRROR on the first run).
    repo.write(
        "pipeline.example.yaml",
        &text.replace(
            "db: examples/osv",
            &format!("db: managed\n    db_mirror: {url}"),
        ),
    );
    repo.commit();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("osv");
    let env = [
        ("CLEANPIPE_DB_MIRROR", url.as_str()),
        ("CLEANPIPE_DB_DIR", dir.to_str().unwrap()),
    ];
    repo.cleanpipe_env(&["run"], &[("CLEANPIPE_DB_DIR", dir.to_str().unwrap())])
        .expect_code(0)
        .expect_stderr("the managed database has no npm records yet");
    let mut asked: Vec<String> = mirror
        .requests()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    asked.sort();
    assert_eq!(asked, ["/osv/PyPI/all.zip", "/osv/npm/all.zip"]);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join(".cleanpipe/out/scan-results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        report["coverage"]["database_completeness"], "complete",
        "{}",
        report["coverage"]
    );
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["GHSA-h75v-3vvj-5mfj"]);
    // A second run has what it needs: no request.
    repo.cleanpipe_env(&["run"], &env).expect_code(0);
    assert_eq!(mirror.requests().len(), 2);
    // The CI's refresh: one conditional request per ecosystem the database has.
    repo.cleanpipe_env(&["db", "update", "--ecosystems", "installed"], &env)
        .expect_code(0)
        .expect_stderr("ecosystems in the database: PyPI, npm");
    let requests = mirror.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests[2..].iter().all(|r| r["status"] == 304),
        "{requests:?}"
    );
    // Nothing to refresh in an empty database: no request, exit 0.
    let empty = cache.path().join("empty");
    repo.cleanpipe_env(
        &[
            "db",
            "update",
            "--ecosystems",
            "installed",
            "--dir",
            empty.to_str().unwrap(),
        ],
        &env,
    )
    .expect_code(0)
    .expect_stderr("nothing to refresh");
    assert_eq!(mirror.requests().len(), 4);
    // Unreachable with nothing cached: the gate fails closed.
    drop(mirror);
    let gone = [
        ("CLEANPIPE_DB_MIRROR", url.as_str()),
        ("CLEANPIPE_DB_DIR", empty.to_str().unwrap()),
    ];
    repo.cleanpipe_env(&["run"], &gone)
        .expect_code(3)
        .expect_stderr("could not be fetched");
}
