//! Parity with osv-scanner (issue 21, item 6): the same small images, built here from hand-made
//! files, scanned offline by cleanpipe and by osv-scanner v2.6.0 (built by `.ci/run`,
//! `CLEANPIPE_TEST_OSV_SCANNER`) against the same OSV records (`tests/fixtures/osv-parity`,
//! written in osv.dev's shapes). Per ecosystem, each test lists what both find, and every
//! difference with its reason; what is only naming (the binary package name, PEP 503 case) is
//! normalised before comparing. `docs/scanning.md` ("Parity with osv-scanner") states the same.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::catalogers::tool;
use crate::sbom_scan::{image_from_tars, test_data};
use crate::support::*;

/// One (advisory id, package, version) finding.
type Key = (String, String, String);

/// What one ecosystem's image must give: found by both, found by one only (with why), the
/// gate's exit code at `--fail-on high`, and cleanpipe's coverage (ecosystem, packages,
/// checked).
struct Expect {
    both: &'static [(&'static str, &'static str, &'static str)],
    only_cleanpipe: &'static [(&'static str, &'static str, &'static str, &'static str)],
    only_osv_scanner: &'static [(&'static str, &'static str, &'static str, &'static str)],
    exit: i32,
    coverage: &'static [(&'static str, u64, u64)],
}

/// What osv-scanner is given.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// `scan image --archive` on a docker-archive of the same image.
    Image,
    /// `scan source --lockfile` on this file of the image's root filesystem.
    Lockfile(&'static str),
    /// `scan image`, which is known to fail on this image with this message: nothing to compare.
    Broken(&'static str),
}

/// The OSV records every test uses, as cleanpipe reads them (one directory) and as osv-scanner
/// reads them offline (`DIR/osv-scalibr/<Ecosystem>/all.zip`, one archive per ecosystem holding
/// every record with an `affected[]` entry of that ecosystem, as osv.dev publishes them).
struct Database {
    records: PathBuf,
    zips: PathBuf,
}

fn database() -> &'static Database {
    static DB: std::sync::OnceLock<Database> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let root = tempfile::tempdir().unwrap().keep();
        let records = root.join("records");
        let zips = root.join("osv-scanner-db");
        let mut by_ecosystem: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        let mut files = vec![];
        collect(&fixture("osv-parity"), &mut files);
        assert!(files.len() >= 20, "osv-parity fixtures missing: {files:?}");
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let rec: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let id = rec["id"].as_str().unwrap().to_string();
            let dest = records.join(f.strip_prefix(fixture("osv-parity")).unwrap());
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(&dest, &bytes).unwrap();
            let bases: BTreeSet<String> = rec["affected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    let e = a["package"]["ecosystem"].as_str().unwrap();
                    e.split(':').next().unwrap().to_string()
                })
                .collect();
            for b in bases {
                by_ecosystem
                    .entry(b)
                    .or_default()
                    .push((format!("{id}.json"), bytes.clone()));
            }
        }
        for (ecosystem, records) in by_ecosystem {
            let dir = zips.join("osv-scalibr").join(&ecosystem);
            std::fs::create_dir_all(&dir).unwrap();
            let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join("all.zip")).unwrap());
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, bytes) in records {
                zip.start_file(name, options).unwrap();
                zip.write_all(&bytes).unwrap();
            }
            zip.finish().unwrap();
        }
        Database { records, zips }
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
}

/// A root filesystem directory holding `files` (path, content).
fn rootfs(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.join("rootfs");
    for (path, content) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    root
}

/// The peer, or `None` (skip its half) off CI.
fn osv_scanner() -> Option<PathBuf> {
    test_data(
        "CLEANPIPE_TEST_OSV_SCANNER",
        "osv-scanner v2.6.0 built from the Go module proxy",
    )
}

/// PyPI names compare by PEP 503; everything else as written.
fn normalise(ecosystem: &str, name: &str) -> String {
    if ecosystem == "PyPI" {
        let mut out = String::new();
        for c in name.to_ascii_lowercase().chars() {
            if matches!(c, '-' | '_' | '.') {
                if !out.ends_with('-') {
                    out.push('-');
                }
            } else {
                out.push(c);
            }
        }
        out
    } else {
        name.to_string()
    }
}

/// Scan `root` as an image with cleanpipe and osv-scanner and check both against `expect`.
/// Returns cleanpipe's report.
fn parity(
    ecosystem: &str,
    dir: &Path,
    root: &Path,
    peers: &[Peer],
    expect: Expect,
) -> serde_json::Value {
    let db = database();
    let tar = tar_dir(root);
    let layout = dir.join("layout");
    let image = image_from_tars(&layout, &[&tar]);

    // cleanpipe, at the default gate (`--fail-on high`).
    let run = Repo::new().cleanpipe(&[
        "scan",
        &image,
        "--db",
        db.records.to_str().unwrap(),
        "--output",
        "json",
    ]);
    run.expect_code(expect.exit);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let ours: BTreeSet<Key> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                normalise(ecosystem, f["package"].as_str().unwrap()),
                f["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ours.len(),
        report["findings"].as_array().unwrap().len(),
        "{ecosystem}: a finding reported twice\n{}",
        run.stdout
    );
    // Every difference says why.
    for (id, _, _, why) in expect.only_cleanpipe.iter().chain(expect.only_osv_scanner) {
        assert!(why.len() > 20, "{ecosystem}: {id} has no reason");
    }
    let key =
        |(id, p, v): (&str, &str, &str)| (id.to_string(), normalise(ecosystem, p), v.to_string());
    let both: BTreeSet<Key> = expect.both.iter().copied().map(key).collect();
    let mut want_ours = both.clone();
    want_ours.extend(
        expect
            .only_cleanpipe
            .iter()
            .map(|&(i, p, v, _)| key((i, p, v))),
    );
    assert_eq!(
        ours, want_ours,
        "{ecosystem}: cleanpipe's findings\n{}",
        run.stdout
    );
    let coverage: Vec<(String, u64, u64)> = report["coverage"]["ecosystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["ecosystem"].as_str().unwrap().to_string(),
                e["packages"].as_u64().unwrap(),
                e["checked"].as_u64().unwrap(),
            )
        })
        .collect();
    let want_coverage: Vec<(String, u64, u64)> = expect
        .coverage
        .iter()
        .map(|&(e, p, c)| (e.to_string(), p, c))
        .collect();
    assert_eq!(coverage, want_coverage, "{ecosystem}: coverage");
    assert_eq!(
        report["coverage"]["complete"],
        serde_json::json!(want_coverage.iter().all(|(_, p, c)| p == c))
    );

    // osv-scanner on the same image (or the named file of it) and records, offline.
    let Some(osv) = osv_scanner() else {
        return report;
    };
    let mut want_theirs = both;
    want_theirs.extend(
        expect
            .only_osv_scanner
            .iter()
            .map(|&(i, p, v, _)| key((i, p, v))),
    );
    for &peer in peers {
        if let Some((theirs, stdout)) = peer_findings(&osv, ecosystem, dir, root, &image, peer) {
            assert_eq!(
                theirs, want_theirs,
                "{ecosystem}: osv-scanner's findings ({peer:?})\n{stdout}"
            );
        }
    }
    report
}

/// Each finding's (id, package) → severity in a cleanpipe report.
fn severities(report: &serde_json::Value) -> BTreeMap<(String, String), String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                (
                    f["id"].as_str().unwrap().to_string(),
                    f["package"].as_str().unwrap().to_string(),
                ),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn severity_of(report: &serde_json::Value, id: &str, package: &str) -> String {
    severities(report)
        .remove(&(id.to_string(), package.to_string()))
        .unwrap_or_else(|| panic!("no finding {id} {package}"))
}

/// osv-scanner's findings given `peer`, with its JSON report; `None` for a peer known to fail.
fn peer_findings(
    osv: &Path,
    ecosystem: &str,
    dir: &Path,
    root: &Path,
    image: &str,
    peer: Peer,
) -> Option<(BTreeSet<Key>, String)> {
    let db = database();
    let mut cmd = Command::new(osv);
    match peer {
        Peer::Image | Peer::Broken(_) => {
            let archive = dir.join("image.tar");
            if !archive.exists() {
                let ok = Command::new("skopeo")
                    .arg("copy")
                    .arg("--quiet")
                    .arg(image)
                    .arg(format!("docker-archive:{}:parity:t", archive.display()))
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "skopeo copy to a docker-archive failed");
            }
            cmd.args(["scan", "image", "--archive"]).arg(&archive);
        }
        Peer::Lockfile(path) => {
            cmd.args(["scan", "source", "--lockfile"])
                .arg(root.join(path));
        }
    }
    let out = cmd
        .args(["--offline", "--local-db-path"])
        .arg(&db.zips)
        .args(["--format", "json"])
        .env("HOME", dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Peer::Broken(message) = peer {
        assert!(
            !out.status.success() && stderr.contains(message),
            "{ecosystem}: osv-scanner was expected to fail with {message:?} (update the test and \
             docs/scanning.md if it now works):\n{stderr}"
        );
        return None;
    }
    // 0: nothing found, 1: findings; anything else (127: a database missing) is a broken run.
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && !stderr.contains("could not load db"),
        "{ecosystem}: osv-scanner failed ({:?}):\n{stderr}",
        out.status.code()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut theirs: BTreeSet<Key> = BTreeSet::new();
    for result in report["results"].as_array().into_iter().flatten() {
        for p in result["packages"].as_array().into_iter().flatten() {
            let pkg = &p["package"];
            // osv-scanner names a system package by its source name and adds the installed
            // (binary) package's name as `os_package_name`; cleanpipe reports the binary name.
            let name = pkg["os_package_name"]
                .as_str()
                .or(pkg["name"].as_str())
                .unwrap();
            for v in p["vulnerabilities"].as_array().into_iter().flatten() {
                theirs.insert((
                    v["id"].as_str().unwrap().to_string(),
                    normalise(ecosystem, name),
                    pkg["version"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    Some((theirs, String::from_utf8_lossy(&out.stdout).into_owned()))
}

const DPKG_FIELDS: &str = "Status: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 100\nArchitecture: amd64\n";

fn dpkg_status(packages: &[(&str, &str, Option<&str>)]) -> String {
    packages
        .iter()
        .map(|(name, version, source)| {
            let source = source.map(|s| format!("Source: {s}\n")).unwrap_or_default();
            format!(
                "Package: {name}\n{DPKG_FIELDS}Maintainer: Test <test@example.invalid>\n{source}Version: {version}\nDescription: {name}\n\n"
            )
        })
        .collect()
}

fn apk_installed(packages: &[(&str, &str, &str)]) -> String {
    packages
        .iter()
        .map(|(name, version, origin)| {
            format!(
                "C:Q1{name}=\nP:{name}\nV:{version}\nA:x86_64\nS:1000\nI:2000\nT:{name}\nU:https://example.invalid/{origin}\nL:MIT\no:{origin}\nm:Test <test@example.invalid>\nt:1700000000\n\n"
            )
        })
        .collect()
}

#[test]
fn debian_12() {
    let dir = tempfile::tempdir().unwrap();
    let status = dpkg_status(&[
        ("bash", "5.2.15-2+b2", Some("bash (5.2.15-2)")),
        ("libc-bin", "2.36-9+deb12u1", Some("glibc")),
        ("libc6", "2.36-9+deb12u1", Some("glibc")),
        ("libssl3", "3.0.11-1~deb12u2", Some("openssl")),
        ("zlib1g", "1:1.2.13.dfsg-1", Some("zlib")),
    ]);
    let root = rootfs(
        dir.path(),
        &[
            (
                "etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
            ),
            ("var/lib/dpkg/status", &status),
        ],
    );
    let report = parity(
        "Debian",
        dir.path(),
        &root,
        &[Peer::Image],
        Expect {
            both: &[
                ("DSA-5514-1", "libc-bin", "2.36-9+deb12u1"),
                ("DSA-5514-1", "libc6", "2.36-9+deb12u1"),
                ("DEBIAN-CVE-2023-45853", "zlib1g", "1:1.2.13.dfsg-1"),
            ],
            only_cleanpipe: &[],
            only_osv_scanner: &[],
            // DSA and DEBIAN-CVE records carry no severity: unknown fails `--fail-on high`.
            exit: 1,
            coverage: &[("Debian:12", 5, 5)],
        },
    );
    // Debian's records carry no severity: unknown, and said so.
    assert!(
        severities(&report).values().all(|s| s == "unknown"),
        "{report}"
    );
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| !f["severity_source"].as_str().unwrap_or("").is_empty()));
    // Unknown severity lets a `critical` gate through (and only that one).
    let image = format!("oci:{}:t", dir.path().join("layout").display());
    Repo::new()
        .cleanpipe(&[
            "scan",
            &image,
            "--db",
            database().records.to_str().unwrap(),
            "--fail-on",
            "critical",
        ])
        .expect_code(0);
}

#[test]
fn ubuntu_22_04_lts() {
    let dir = tempfile::tempdir().unwrap();
    let status = dpkg_status(&[
        ("libc-bin", "2.35-0ubuntu3.1", Some("glibc")),
        ("libc6", "2.35-0ubuntu3.1", Some("glibc")),
        ("libssl3", "3.0.2-0ubuntu1.10", Some("openssl")),
        ("libyaml-0-2", "0.2.2-1build2", Some("libyaml")),
        ("zlib1g", "1:1.2.11.dfsg-2ubuntu9.2", Some("zlib")),
    ]);
    let root = rootfs(
        dir.path(),
        &[
            (
                "etc/os-release",
                "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n",
            ),
            ("var/lib/dpkg/status", &status),
        ],
    );
    const KEYED: &str = "osv-scanner keys an Ubuntu 22.04 image as `Ubuntu:22.04`, which does not equal the records' `Ubuntu:22.04:LTS`";
    let report = parity(
        "Ubuntu",
        dir.path(),
        &root,
        &[Peer::Image],
        Expect {
            both: &[],
            only_cleanpipe: &[
                ("USN-6409-1", "libc-bin", "2.35-0ubuntu3.1", KEYED),
                ("USN-6409-1", "libc6", "2.35-0ubuntu3.1", KEYED),
                ("UBUNTU-CVE-2023-4911", "libc-bin", "2.35-0ubuntu3.1", KEYED),
                ("UBUNTU-CVE-2023-4911", "libc6", "2.35-0ubuntu3.1", KEYED),
                (
                    "USN-6703-1",
                    "libyaml-0-2",
                    "0.2.2-1build2",
                    "an Ubuntu Pro (esm-apps) fix, `Ubuntu:Pro:22.04:LTS`: osv-scanner matches no Pro ecosystem",
                ),
            ],
            only_osv_scanner: &[],
            exit: 1,
            coverage: &[("Ubuntu:22.04:LTS", 5, 5)],
        },
    );
    // Ubuntu's own priority rates what has no CVSS vector.
    assert_eq!(severity_of(&report, "USN-6409-1", "libc6"), "high");
    assert_eq!(severity_of(&report, "USN-6703-1", "libyaml-0-2"), "medium");
}

#[test]
fn alpine_3_19() {
    let dir = tempfile::tempdir().unwrap();
    let installed = apk_installed(&[
        ("musl", "1.2.4_git20230717-r4", "musl"),
        ("busybox", "1.36.1-r15", "busybox"),
        ("libcrypto3", "3.1.4-r2", "openssl"),
        ("libssl3", "3.1.4-r2", "openssl"),
    ]);
    let root = rootfs(
        dir.path(),
        &[
            (
                "etc/os-release",
                "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\nHOME_URL=\"https://alpinelinux.org/\"\n",
            ),
            ("etc/alpine-release", "3.19.1\n"),
            ("etc/apk/arch", "x86_64\n"),
            (
                "etc/apk/repositories",
                "https://dl-cdn.alpinelinux.org/alpine/v3.19/main\n",
            ),
            ("lib/apk/db/installed", &installed),
        ],
    );
    let report = parity(
        "Alpine",
        dir.path(),
        &root,
        &[Peer::Image],
        Expect {
            both: &[
                ("ALPINE-CVE-2024-0727", "libcrypto3", "3.1.4-r2"),
                ("ALPINE-CVE-2024-0727", "libssl3", "3.1.4-r2"),
                ("ALPINE-CVE-2025-26519", "musl", "1.2.4_git20230717-r4"),
            ],
            only_cleanpipe: &[],
            only_osv_scanner: &[],
            exit: 1,
            coverage: &[("Alpine:v3.19", 4, 4)],
        },
    );
    assert!(severities(&report).values().all(|s| s == "unknown"));
}

/// A Wolfi, Chainguard or CleanStart image: apk packages under a rolling ecosystem.
fn rolling_apk(dir: &Path, os_release: &str, packages: &[(&str, &str, &str)]) -> PathBuf {
    let installed = apk_installed(packages);
    rootfs(
        dir,
        &[
            ("etc/os-release", os_release),
            ("etc/apk/arch", "x86_64\n"),
            ("etc/apk/repositories", "https://packages.wolfi.dev/os\n"),
            ("lib/apk/db/installed", &installed),
        ],
    )
}

#[test]
fn wolfi() {
    let dir = tempfile::tempdir().unwrap();
    let root = rolling_apk(
        dir.path(),
        "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\nHOME_URL=\"https://wolfi.dev\"\n",
        &[
            ("ca-certificates-bundle", "20230506-r0", "ca-certificates"),
            ("openssl", "3.0.8-r0", "openssl"),
            ("libcrypto3", "3.0.8-r0", "openssl"),
            ("libssl3", "3.0.8-r0", "openssl"),
        ],
    );
    parity(
        "Wolfi",
        dir.path(),
        &root,
        &[Peer::Image],
        Expect {
            both: &[
                ("CGA-2g3v-8xqj-ccvx", "libcrypto3", "3.0.8-r0"),
                ("CGA-2g3v-8xqj-ccvx", "libssl3", "3.0.8-r0"),
                ("CGA-2g3v-8xqj-ccvx", "openssl", "3.0.8-r0"),
            ],
            only_cleanpipe: &[],
            only_osv_scanner: &[],
            exit: 1,
            coverage: &[("Wolfi", 4, 4)],
        },
    );
}

#[test]
fn chainguard() {
    let dir = tempfile::tempdir().unwrap();
    let root = rolling_apk(
        dir.path(),
        "ID=chainguard\nNAME=\"Chainguard\"\nPRETTY_NAME=\"Chainguard\"\nVERSION_ID=\"20230214\"\nHOME_URL=\"https://chainguard.dev/\"\n",
        &[
            ("curl", "8.10.1-r0", "curl"),
            ("libcurl-openssl4", "8.10.1-r0", "curl"),
            ("glibc", "2.40-r3", "glibc"),
            ("libcrypto3", "3.0.8-r0", "openssl"),
        ],
    );
    parity(
        "Chainguard",
        dir.path(),
        &root,
        &[Peer::Image],
        Expect {
            both: &[
                ("CGA-3hx8-6p2r-q4fv", "libcrypto3", "3.0.8-r0"),
                ("CGA-7c5v-m3q9-j2xw", "curl", "8.10.1-r0"),
                ("CGA-7c5v-m3q9-j2xw", "libcurl-openssl4", "8.10.1-r0"),
            ],
            only_cleanpipe: &[],
            only_osv_scanner: &[],
            exit: 1,
            coverage: &[("Chainguard", 4, 4)],
        },
    );
}

#[test]
fn cleanstart() {
    let dir = tempfile::tempdir().unwrap();
    let root = rolling_apk(
        dir.path(),
        "ID=cleanstart\nNAME=\"CleanStart\"\nPRETTY_NAME=\"CleanStart\"\nVERSION_ID=\"2025.01\"\n",
        &[
            ("libssl3", "3.3.2-r0", "openssl"),
            ("busybox", "1.37.0-r0", "busybox"),
        ],
    );
    parity(
        "CleanStart",
        dir.path(),
        &root,
        // osv-scanner v2.6.0 recognises the image as CleanStart, then panics comparing versions.
        &[Peer::Broken("panic: unsupported ecosystem CleanStart")],
        Expect {
            both: &[("CLEANSTART-2025-JM41206", "libssl3", "3.3.2-r0")],
            only_cleanpipe: &[],
            only_osv_scanner: &[],
            exit: 1,
            coverage: &[("CleanStart", 2, 2)],
        },
    );
}

/// The rpm fixture root filesystem (a real rpmdb.sqlite: hello-tool 1.2.3-4, libfoo
/// 2:0.9-1.el9, zlib-ng-fake 2.1.6-3; Rocky Linux 9.3 os-release), or `None` off CI without rpm.
fn rpm_rootfs(dir: &Path) -> Option<PathBuf> {
    if !tool(
        "rpmbuild",
        "Debian package rpm: builds the fixture rpm database",
    ) {
        return None;
    }
    let root = dir.join("rootfs");
    let out = Command::new("bash")
        .arg(support_script("make-rpm-rootfs.sh"))
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make-rpm-rootfs.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(root.join(".make-rpm-rootfs")).unwrap();
    Some(root)
}

#[test]
fn red_hat_ubi_9() {
    let dir = tempfile::tempdir().unwrap();
    let Some(root) = rpm_rootfs(dir.path()) else {
        return;
    };
    // UBI 9's own os-release and release file.
    std::fs::write(
        root.join("etc/os-release"),
        "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.4 (Plow)\"\nANSI_COLOR=\"0;31\"\nLOGO=\"fedora-logo-icon\"\nCPE_NAME=\"cpe:/o:redhat:enterprise_linux:9::baseos\"\nHOME_URL=\"https://www.redhat.com/\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/redhat-release"),
        "Red Hat Enterprise Linux release 9.4 (Plow)\n",
    )
    .unwrap();
    let report = parity(
        "Red Hat",
        dir.path(),
        &root,
        &[Peer::Image],
        Expect {
            both: &[
                ("RHSA-2024:1001", "libfoo", "2:0.9-1.el9"),
                ("RHSA-2024:1002", "hello-tool", "1.2.3-4"),
            ],
            only_cleanpipe: &[],
            only_osv_scanner: &[(
                "RHSA-2023:0999",
                "zlib-ng-fake",
                "2.1.6-3",
                "a RHEL 8 record: osv-scanner keys RHEL images as `Red Hat` without release or stream (its rpm reader never sets the CPE_NAME it would read them from), so every release's records apply",
            )],
            exit: 1,
            coverage: &[("Red Hat:enterprise_linux:9", 3, 3)],
        },
    );
    assert_eq!(severity_of(&report, "RHSA-2024:1001", "libfoo"), "high");
    assert_eq!(
        severity_of(&report, "RHSA-2024:1002", "hello-tool"),
        "medium"
    );
}

#[test]
fn rocky_linux_9() {
    let dir = tempfile::tempdir().unwrap();
    let Some(root) = rpm_rootfs(dir.path()) else {
        return;
    };
    parity(
        "Rocky Linux",
        dir.path(),
        &root,
        &[Peer::Image],
        Expect {
            both: &[("RLSA-2024:2001", "libfoo", "2:0.9-1.el9")],
            only_cleanpipe: &[],
            only_osv_scanner: &[(
                "RLSA-2023:3001",
                "hello-tool",
                "1.2.3-4",
                "a Rocky Linux 8 record: osv-scanner keys Rocky images as `Rocky Linux` without the release, so every release's records apply",
            )],
            exit: 1,
            coverage: &[("Rocky Linux:9", 3, 3)],
        },
    );
}

#[test]
fn pypi_site_packages() {
    let dir = tempfile::tempdir().unwrap();
    let sp = "usr/local/lib/python3.12/site-packages";
    let meta = |n: &str, v: &str| {
        format!("Metadata-Version: 2.1\nName: {n}\nVersion: {v}\nSummary: {n}\n\n")
    };
    let files = [
        (
            format!("{sp}/PyYAML-5.3.dist-info/METADATA"),
            meta("PyYAML", "5.3"),
        ),
        (
            format!("{sp}/Jinja2-3.1.2.dist-info/METADATA"),
            meta("Jinja2", "3.1.2"),
        ),
        (
            format!("{sp}/requests-2.31.0.dist-info/METADATA"),
            meta("requests", "2.31.0"),
        ),
        (
            format!("{sp}/urllib3-2.2.2.dist-info/METADATA"),
            meta("urllib3", "2.2.2"),
        ),
    ];
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let root = rootfs(dir.path(), &files);
    let report = parity(
        "PyPI",
        dir.path(),
        &root,
        &[Peer::Image],
        Expect {
            both: &[
                ("GHSA-9wx4-h78v-vm56", "requests", "2.31.0"),
                ("GHSA-h5c8-rqwp-cp95", "Jinja2", "3.1.2"),
            ],
            only_cleanpipe: &[(
                "GHSA-8q59-q68h-6hv4",
                "PyYAML",
                "5.3",
                "the record names `PyYAML`; osv-scanner compares its normalised `pyyaml` byte for byte with the record's name",
            )],
            only_osv_scanner: &[],
            exit: 1,
            coverage: &[("PyPI", 4, 4)],
        },
    );
    assert_eq!(
        severity_of(&report, "GHSA-8q59-q68h-6hv4", "PyYAML"),
        "critical"
    );
    assert_eq!(
        severity_of(&report, "GHSA-h5c8-rqwp-cp95", "Jinja2"),
        "medium"
    );
}

#[test]
fn npm_node_modules() {
    let dir = tempfile::tempdir().unwrap();
    let lock = r#"{
  "name": "app",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "app", "version": "1.0.0", "dependencies": {"@babel/traverse": "7.22.5", "lodash": "4.17.11", "minimist": "1.2.5"}},
    "node_modules/@babel/traverse": {"version": "7.22.5", "resolved": "https://registry.npmjs.org/@babel/traverse/-/traverse-7.22.5.tgz", "license": "MIT"},
    "node_modules/lodash": {"version": "4.17.11", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.11.tgz", "license": "MIT"},
    "node_modules/minimist": {"version": "1.2.5", "resolved": "https://registry.npmjs.org/minimist/-/minimist-1.2.5.tgz", "license": "MIT"}
  }
}
"#;
    // npm's hidden lockfile: the same packages, without the root entry.
    let hidden = lock.replace(
        r#"    "": {"name": "app", "version": "1.0.0", "dependencies": {"@babel/traverse": "7.22.5", "lodash": "4.17.11", "minimist": "1.2.5"}},
"#,
        "",
    );
    assert_ne!(hidden, lock);
    let root = rootfs(
        dir.path(),
        &[
            (
                "app/package.json",
                r#"{"name":"app","version":"1.0.0","dependencies":{"@babel/traverse":"7.22.5","lodash":"4.17.11","minimist":"1.2.5"}}"#,
            ),
            ("app/package-lock.json", lock),
            ("app/node_modules/.package-lock.json", &hidden),
            (
                "app/node_modules/@babel/traverse/package.json",
                r#"{"name":"@babel/traverse","version":"7.22.5","license":"MIT"}"#,
            ),
            (
                "app/node_modules/lodash/package.json",
                r#"{"name":"lodash","version":"4.17.11","license":"MIT"}"#,
            ),
            (
                "app/node_modules/minimist/package.json",
                r#"{"name":"minimist","version":"1.2.5","license":"MIT"}"#,
            ),
        ],
    );
    // As `npm ci` leaves it: the app's lockfile, and npm's hidden lockfile in node_modules, which
    // is what osv-scanner's image mode reads (cleanpipe reads each package's package.json). The
    // app's lockfile given to `scan source` must give osv-scanner the same findings.
    parity(
        "npm",
        dir.path(),
        &root,
        &[Peer::Image, Peer::Lockfile("app/package-lock.json")],
        Expect {
            both: &[
                ("GHSA-35jh-r3h4-6jhm", "lodash", "4.17.11"),
                ("GHSA-67hx-6x53-jw92", "@babel/traverse", "7.22.5"),
                ("GHSA-jf85-cpcp-j695", "lodash", "4.17.11"),
                ("GHSA-xvch-5gv4-984h", "minimist", "1.2.5"),
            ],
            only_cleanpipe: &[],
            only_osv_scanner: &[],
            exit: 1,
            coverage: &[("npm", 3, 3)],
        },
    );
}

/// `docs/scanning.md` lists every row of the distribution table (`src/scan/ecosystem.rs`) with
/// its os-release IDs, package type and ecosystem, and never claims a real image was examined
/// where the table says it was not.
#[test]
fn docs_list_every_distribution() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scanning.md"))
            .unwrap();
    let section = docs
        .split("\n## Distributions\n")
        .nth(1)
        .expect("docs/scanning.md has a `## Distributions` section");
    let section = section.split("\n## ").next().unwrap();
    let rows: Vec<Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let table = cleanpipe::scan::ecosystem::documented();
    assert_eq!(rows.len(), table.len(), "{rows:?}");
    for ((ids, kind, ecosystem, examined), row) in table.iter().zip(&rows) {
        assert_eq!(row[0].replace('`', ""), *ids);
        assert_eq!(row[1], *kind, "{ids}");
        assert_eq!(row[2], format!("`{ecosystem}`"), "{ids}");
        let tried = row.last().unwrap();
        if !examined {
            assert!(
                tried.starts_with("recognised from documentation, untested on a real image"),
                "{ids}: {tried}"
            );
        }
    }
}
