//! Parity with syft (issue 22, "syft as the yardstick"): the same small images, built here from
//! the installed metadata in `tests/fixtures/syft-parity` plus Java archives and runtime binaries
//! made by the test, catalogued by cleanpipe (`cleanpipe sbom oci:DIR:t`) and by syft v1.57.2
//! (built by `.ci/run`, `CLEANPIPE_TEST_SYFT`; `syft scan oci-dir:DIR`, the same OCI layout).
//! Per ecosystem, each test lists what both find and every difference with its reason, so every
//! package syft finds is either found by cleanpipe too or explained. `docs/catalogers.md` holds
//! the same table. Without syft (off CI) only cleanpipe's half runs, against the recorded list.

use std::collections::BTreeSet;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sbom_scan::{image_from_tars, test_data};
use crate::support::*;

/// One package: (name, version). Maven artifacts are named `groupId:artifactId`, read from
/// each tool's purl (syft names them by artifactId only and keeps the group in the purl).
type Key = (String, String);

/// What one ecosystem's image must give.
struct Expect {
    /// syft's package types for this ecosystem.
    syft_types: &'static [&'static str],
    /// cleanpipe's `cleanpipe:package:type` for this ecosystem.
    cleanpipe_type: &'static str,
    /// Found by both: (name, version).
    both: &'static [(&'static str, &'static str)],
    /// Found by syft only: (name, version, why).
    only_syft: &'static [(&'static str, &'static str, &'static str)],
    /// Found by cleanpipe only: (name, version, why).
    only_cleanpipe: &'static [(&'static str, &'static str, &'static str)],
}

/// The peer, or `None` (compare cleanpipe with the recorded list only) off CI.
fn syft() -> Option<PathBuf> {
    test_data(
        "CLEANPIPE_TEST_SYFT",
        "syft v1.57.2 built from the Go module proxy",
    )
}

/// `tests/fixtures/syft-parity/<ecosystem>` copied into `dir/rootfs`, plus `extra` files
/// (path, bytes, mode) and `links` (path, target) made by the test.
fn rootfs(
    dir: &Path,
    ecosystem: &str,
    extra: &[(&str, Vec<u8>, u32)],
    links: &[(&str, &str)],
) -> PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(&root).unwrap();
    let fixture = fixture("syft-parity").join(ecosystem);
    if fixture.exists() {
        let ok = Command::new("cp")
            .arg("-R")
            .arg(format!("{}/.", fixture.display()))
            .arg(&root)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot copy {}", fixture.display());
    }
    for (path, bytes, mode) in extra {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(*mode)).unwrap();
    }
    for (path, target) in links {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &p).unwrap();
    }
    root
}

/// A purl's `(namespace/name, version)`, percent-decoded; `None` when it has no version.
fn purl_name_version(purl: &str) -> Option<(String, String)> {
    let rest = purl.strip_prefix("pkg:")?;
    let rest = rest.split(['?', '#']).next().unwrap();
    let (path, version) = rest.rsplit_once('@')?;
    let (_type, name) = path.split_once('/')?;
    Some((decode(name), decode(version)))
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(v) if b[i] == b'%' => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Maven purl `pkg:maven/GROUP/ARTIFACT@VERSION` as (`GROUP:ARTIFACT`, version); `None`
/// for any other purl, and for one without a group (which the purl spec does not allow for
/// Maven).
fn maven_key(purl: &str) -> Option<Key> {
    if !purl.starts_with("pkg:maven/") {
        return None;
    }
    let (name, version) = purl_name_version(purl)?;
    let (group, artifact) = name.rsplit_once('/')?;
    Some((format!("{group}:{artifact}"), version))
}

/// Every package as `(key, where)`, for messages.
type Found = Vec<(Key, String)>;

/// cleanpipe's CycloneDX components of `kind`, and every component's type (to show what else
/// it found).
fn cleanpipe_packages(image: &str, dir: &Path, kind: &str) -> (Found, Vec<String>) {
    let cdx = dir.join("cleanpipe.cdx.json");
    Repo::new()
        .cleanpipe(&[
            "sbom",
            image,
            "--format",
            "cyclonedx-json",
            "-o",
            cdx.to_str().unwrap(),
        ])
        .expect_code(0);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cdx).unwrap()).unwrap();
    let mut found = vec![];
    let mut all = vec![];
    for c in doc["components"].as_array().unwrap() {
        let prop = |name: &str| {
            c["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name)
                .and_then(|p| p["value"].as_str())
                .unwrap_or("")
                .to_string()
        };
        let ty = prop("cleanpipe:package:type");
        let name = c["name"].as_str().unwrap_or("").to_string();
        let version = c["version"].as_str().unwrap_or("").to_string();
        let purl = c["purl"].as_str().unwrap_or("");
        all.push(format!("{ty} {name} {version} {purl}"));
        if ty != kind {
            continue;
        }
        // cleanpipe's Maven name is already `groupId:artifactId`; the purl, when it has a
        // group, says the same and is what is compared.
        let key = match maven_key(purl).filter(|_| kind == "maven") {
            Some(k) => k,
            None => (name, version),
        };
        found.push((key, prop("cleanpipe:location")));
    }
    (found, all)
}

/// syft's packages of `types` (syft-json), and every package as `type name version` (to show
/// what else it found).
fn syft_packages(syft: &Path, layout: &Path, dir: &Path, types: &[&str]) -> (Found, Vec<String>) {
    let out = dir.join("syft.json");
    let home = dir.join("syft-home");
    std::fs::create_dir_all(&home).unwrap();
    let run = Command::new(syft)
        .arg("scan")
        .arg(format!("oci-dir:{}", layout.display()))
        .arg("-o")
        .arg(format!("syft-json={}", out.display()))
        .arg("-q")
        // Offline and self-contained: no update check, no Maven Central look-ups, no cache
        // shared with anything else.
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .env("SYFT_JAVA_USE_NETWORK", "false")
        .env("SYFT_JAVA_MAVEN_LOCAL_REPOSITORY_USE", "false")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "syft failed ({:?}):\n{}",
        run.status.code(),
        String::from_utf8_lossy(&run.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let mut found = vec![];
    let mut all = vec![];
    for a in doc["artifacts"].as_array().unwrap() {
        let ty = a["type"].as_str().unwrap_or("");
        let name = a["name"].as_str().unwrap_or("").to_string();
        let version = a["version"].as_str().unwrap_or("").to_string();
        let location = a["locations"][0]["path"].as_str().unwrap_or("").to_string();
        let purl = a["purl"].as_str().unwrap_or("");
        all.push(format!("{ty} {name} {version} {purl} ({location})"));
        if !types.contains(&ty) {
            continue;
        }
        let key = if ty == "java-archive" || ty == "jenkins-plugin" {
            maven_key(a["purl"].as_str().unwrap_or(""))
                .unwrap_or_else(|| panic!("syft: a Java package without a Maven purl: {a}"))
        } else {
            (name, version)
        };
        found.push((key, location));
    }
    (found, all)
}

/// Python names compare by PEP 503 (syft writes them normalised, `PyYAML` → `pyyaml`; cleanpipe
/// as the metadata has them); everything else as written.
fn normalise(ecosystem: &str, (name, version): Key) -> Key {
    if ecosystem != "python" {
        return (name, version);
    }
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
    (out, version)
}

fn keys(ecosystem: &str, found: &Found) -> BTreeSet<Key> {
    found
        .iter()
        .map(|(k, _)| normalise(ecosystem, k.clone()))
        .collect()
}

fn show(found: &Found) -> String {
    let mut lines: Vec<String> = found
        .iter()
        .map(|((n, v), loc)| format!("  {n} {v}  ({loc})"))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// Catalogue `root` as an image with cleanpipe and syft and check both against `expect`.
fn parity(ecosystem: &str, dir: &Path, root: &Path, expect: Expect) {
    for (n, v, why) in expect.only_syft.iter().chain(expect.only_cleanpipe) {
        assert!(why.len() > 20, "{ecosystem}: {n} {v} has no reason");
    }
    let key = |n: &str, v: &str| normalise(ecosystem, (n.to_string(), v.to_string()));
    let both: BTreeSet<Key> = expect.both.iter().map(|&(n, v)| key(n, v)).collect();
    let mut want_ours = both.clone();
    want_ours.extend(expect.only_cleanpipe.iter().map(|&(n, v, _)| key(n, v)));
    let mut want_theirs = both;
    want_theirs.extend(expect.only_syft.iter().map(|&(n, v, _)| key(n, v)));

    let tar = tar_dir(root);
    let layout = dir.join("layout");
    let image = image_from_tars(&layout, &[&tar]);

    // syft first: what it finds is the yardstick, and a change in it (another syft version)
    // should be seen before cleanpipe's half is judged.
    let mut problems = vec![];
    if let Some(syft) = syft() {
        let (theirs, all) = syft_packages(&syft, &layout, dir, expect.syft_types);
        let got = keys(ecosystem, &theirs);
        if got != want_theirs {
            problems.push(format!(
                "syft's {ecosystem} packages differ from the recorded list\n  missing: {:?}\n  \
                 unexpected: {:?}\nsyft found:\n{}",
                want_theirs.difference(&got).collect::<Vec<_>>(),
                got.difference(&want_theirs).collect::<Vec<_>>(),
                all.join("\n")
            ));
        }
        // Nothing of another type slips past the comparison.
        let others: Vec<&String> = all
            .iter()
            .filter(|l| {
                !expect
                    .syft_types
                    .contains(&l.split(' ').next().unwrap_or(""))
            })
            .collect();
        if !others.is_empty() {
            problems.push(format!(
                "syft found packages of other types in the {ecosystem} image: {others:?}"
            ));
        }
    }
    let (ours, all) = cleanpipe_packages(&image, dir, expect.cleanpipe_type);
    let got = keys(ecosystem, &ours);
    if got != want_ours {
        problems.push(format!(
            "cleanpipe's {ecosystem} packages differ\n  missing (syft finds these, or the table says \
             cleanpipe does: a cataloger gap, or a difference to explain): {:?}\n  unexpected (a \
             difference to explain, or a cataloger bug): {:?}\ncleanpipe found ({}):\n{}\nall its \
             components:\n  {}",
            want_ours.difference(&got).collect::<Vec<_>>(),
            got.difference(&want_ours).collect::<Vec<_>>(),
            expect.cleanpipe_type,
            show(&ours),
            all.join("\n  ")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------
// Java archives, written with the zip crate in the shapes Maven and Spring Boot write them.

/// A class file's first bytes (magic, Java 17): enough to look like one, never loaded.
const CLASS: &[u8] = &[0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x3d];

/// A manifest as the JDK's `Manifest` writes it: `Key: value` lines ending in CRLF.
fn manifest(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::from("Manifest-Version: 1.0\r\n");
    for (k, v) in fields {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// `pom.properties` as the Maven Archiver writes it.
fn pom_properties(group: &str, artifact: &str, version: &str) -> Vec<u8> {
    format!("#Created by Apache Maven 3.9.5\nartifactId={artifact}\ngroupId={group}\nversion={version}\n")
        .into_bytes()
}

fn pom_xml(group: &str, artifact: &str, version: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  \
         <modelVersion>4.0.0</modelVersion>\n  <groupId>{group}</groupId>\n  <artifactId>{artifact}</artifactId>\n  \
         <version>{version}</version>\n  <packaging>jar</packaging>\n</project>\n"
    )
    .into_bytes()
}

/// A zip of `entries`, with their directories as the jar tool writes them; entries named by
/// `stored` are stored uncompressed (Spring Boot's nested jars), the rest deflated.
fn zip_with(entries: &[(String, Vec<u8>)], stored: &dyn Fn(&str) -> bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::from_date_and_time(2023, 11, 24, 10, 0, 0).unwrap());
    let mut dirs = BTreeSet::new();
    for (name, bytes) in entries {
        let mut prefix = String::new();
        for part in name.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
            prefix.push_str(part);
            prefix.push('/');
            if dirs.insert(prefix.clone()) {
                w.add_directory(prefix.as_str(), options).unwrap();
            }
        }
        let options = if stored(name) {
            options.compression_method(zip::CompressionMethod::Stored)
        } else {
            options
        };
        w.start_file(name.as_str(), options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A zip of `entries`, all deflated.
fn zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    zip_with(entries, &|_| false)
}

/// A library jar as Maven builds it: manifest, `pom.properties`, `pom.xml`, classes.
fn maven_jar(
    group: &str,
    artifact: &str,
    version: &str,
    manifest_fields: &[(&str, &str)],
    classes: &[&str],
) -> Vec<u8> {
    let mut e = vec![(
        "META-INF/MANIFEST.MF".to_string(),
        manifest(manifest_fields),
    )];
    e.push((
        format!("META-INF/maven/{group}/{artifact}/pom.properties"),
        pom_properties(group, artifact, version),
    ));
    e.push((
        format!("META-INF/maven/{group}/{artifact}/pom.xml"),
        pom_xml(group, artifact, version),
    ));
    for c in classes {
        e.push((format!("{c}.class"), CLASS.to_vec()));
    }
    zip(&e)
}

/// The nested libraries of the Spring Boot jar: (file name, jar).
fn boot_libs() -> Vec<(String, Vec<u8>)> {
    let log4j = |artifact: &str, title: &str, symbolic: &str, class: &str| {
        maven_jar(
            "org.apache.logging.log4j",
            artifact,
            "2.14.1",
            &[
                ("Archiver-Version", "Plexus Archiver"),
                ("Created-By", "Apache Maven Bundle Plugin"),
                ("Built-By", "rgoers"),
                ("Build-Jdk", "1.8.0_144"),
                (
                    "Bundle-License",
                    "https://www.apache.org/licenses/LICENSE-2.0.txt",
                ),
                ("Bundle-ManifestVersion", "2"),
                ("Bundle-Name", title),
                ("Bundle-SymbolicName", symbolic),
                ("Bundle-Vendor", "The Apache Software Foundation"),
                ("Bundle-Version", "2.14.1"),
                ("Implementation-Title", title),
                ("Implementation-Vendor", "The Apache Software Foundation"),
                ("Implementation-Vendor-Id", "org.apache.logging.log4j"),
                ("Implementation-Version", "2.14.1"),
                ("Multi-Release", "true"),
                ("Specification-Title", title),
                ("Specification-Vendor", "The Apache Software Foundation"),
                ("Specification-Version", "2.14.1"),
            ],
            &[class],
        )
    };
    let jackson = |artifact: &str, title: &str, symbolic: &str, class: &str| {
        maven_jar(
            "com.fasterxml.jackson.core",
            artifact,
            "2.15.3",
            &[
                ("Created-By", "Apache Maven Bundle Plugin 5.1.8"),
                ("Build-Jdk-Spec", "1.8"),
                (
                    "Bundle-License",
                    "https://www.apache.org/licenses/LICENSE-2.0.txt",
                ),
                ("Bundle-ManifestVersion", "2"),
                ("Bundle-Name", title),
                ("Bundle-SymbolicName", symbolic),
                ("Bundle-Vendor", "FasterXML"),
                ("Bundle-Version", "2.15.3"),
                ("Implementation-Title", title),
                ("Implementation-Vendor", "FasterXML"),
                ("Implementation-Vendor-Id", "com.fasterxml.jackson.core"),
                ("Implementation-Version", "2.15.3"),
                ("Multi-Release", "true"),
                ("Specification-Title", title),
                ("Specification-Vendor", "FasterXML"),
                ("Specification-Version", "2.15.3"),
            ],
            &[class],
        )
    };
    // Spring Boot's own jars are built by Gradle: a manifest, no Maven metadata.
    let spring_boot = zip(&[
        (
            "META-INF/MANIFEST.MF".into(),
            manifest(&[
                ("Automatic-Module-Name", "spring.boot"),
                ("Build-Jdk-Spec", "17"),
                ("Built-By", "Spring"),
                ("Implementation-Title", "Spring Boot"),
                ("Implementation-Version", "3.2.0"),
            ]),
        ),
        (
            "org/springframework/boot/SpringApplication.class".into(),
            CLASS.to_vec(),
        ),
    ]);
    vec![
        (
            "jackson-core-2.15.3.jar".into(),
            jackson(
                "jackson-core",
                "Jackson-core",
                "com.fasterxml.jackson.core.jackson-core",
                "com/fasterxml/jackson/core/JsonParser",
            ),
        ),
        (
            "jackson-databind-2.15.3.jar".into(),
            jackson(
                "jackson-databind",
                "jackson-databind",
                "com.fasterxml.jackson.core.jackson-databind",
                "com/fasterxml/jackson/databind/ObjectMapper",
            ),
        ),
        (
            "log4j-api-2.14.1.jar".into(),
            log4j(
                "log4j-api",
                "Apache Log4j API",
                "org.apache.logging.log4j.api",
                "org/apache/logging/log4j/LogManager",
            ),
        ),
        (
            "log4j-core-2.14.1.jar".into(),
            log4j(
                "log4j-core",
                "Apache Log4j Core",
                "org.apache.logging.log4j.core",
                "org/apache/logging/log4j/core/lookup/JndiLookup",
            ),
        ),
        (
            "snakeyaml-2.2.jar".into(),
            maven_jar(
                "org.yaml",
                "snakeyaml",
                "2.2",
                &[
                    ("Created-By", "Apache Maven Bundle Plugin 5.1.8"),
                    ("Build-Jdk-Spec", "1.8"),
                    ("Bundle-Name", "SnakeYAML"),
                    ("Bundle-SymbolicName", "org.yaml.snakeyaml"),
                    ("Bundle-Version", "2.2.0"),
                    ("Automatic-Module-Name", "org.yaml.snakeyaml"),
                ],
                &["org/yaml/snakeyaml/Yaml"],
            ),
        ),
        ("spring-boot-3.2.0.jar".into(), spring_boot),
    ]
}

/// `/app/app.jar`: a Spring Boot 3.2 executable jar (`spring-boot-maven-plugin` layout), its
/// libraries stored uncompressed under `BOOT-INF/lib/`.
fn spring_boot_app() -> Vec<u8> {
    let libs = boot_libs();
    let mut e = vec![(
        "META-INF/MANIFEST.MF".to_string(),
        manifest(&[
            ("Created-By", "Maven JAR Plugin 3.3.0"),
            ("Build-Jdk-Spec", "21"),
            ("Implementation-Title", "orders-service"),
            ("Implementation-Version", "1.4.2"),
            (
                "Main-Class",
                "org.springframework.boot.loader.launch.JarLauncher",
            ),
            ("Start-Class", "com.example.orders.OrdersApplication"),
            ("Spring-Boot-Version", "3.2.0"),
            ("Spring-Boot-Classes", "BOOT-INF/classes/"),
            ("Spring-Boot-Lib", "BOOT-INF/lib/"),
            ("Spring-Boot-Classpath-Index", "BOOT-INF/classpath.idx"),
            ("Spring-Boot-Layers-Index", "BOOT-INF/layers.idx"),
        ]),
    )];
    e.push((
        "META-INF/maven/com.example/orders-service/pom.properties".into(),
        pom_properties("com.example", "orders-service", "1.4.2"),
    ));
    e.push((
        "META-INF/maven/com.example/orders-service/pom.xml".into(),
        pom_xml("com.example", "orders-service", "1.4.2"),
    ));
    e.push((
        "org/springframework/boot/loader/launch/JarLauncher.class".into(),
        CLASS.to_vec(),
    ));
    e.push((
        "BOOT-INF/classes/com/example/orders/OrdersApplication.class".into(),
        CLASS.to_vec(),
    ));
    e.push((
        "BOOT-INF/classes/application.properties".into(),
        b"spring.application.name=orders-service\n".to_vec(),
    ));
    let mut index = String::new();
    for (name, _) in &libs {
        index.push_str(&format!("- \"BOOT-INF/lib/{name}\"\n"));
    }
    e.push(("BOOT-INF/classpath.idx".into(), index.into_bytes()));
    e.push((
        "BOOT-INF/layers.idx".into(),
        b"- \"dependencies\":\n  - \"BOOT-INF/lib/\"\n- \"spring-boot-loader\":\n  - \"org/\"\n- \"snapshot-dependencies\":\n- \"application\":\n  - \"BOOT-INF/classes/\"\n  - \"BOOT-INF/classpath.idx\"\n  - \"BOOT-INF/layers.idx\"\n  - \"META-INF/\"\n".to_vec(),
    ));
    for (name, bytes) in libs {
        e.push((format!("BOOT-INF/lib/{name}"), bytes));
    }
    // Spring Boot stores nested jars uncompressed so they can be opened in place.
    zip_with(&e, &|name| name.starts_with("BOOT-INF/lib/"))
}

/// A shaded jar (maven-shade-plugin): its own `pom.properties` and the shaded Gson's.
fn shaded_jar() -> Vec<u8> {
    let e = vec![
        (
            "META-INF/MANIFEST.MF".to_string(),
            manifest(&[
                ("Created-By", "Maven JAR Plugin 3.3.0"),
                ("Build-Jdk-Spec", "17"),
                ("Implementation-Title", "reporting-client"),
                ("Implementation-Version", "1.4.0"),
            ]),
        ),
        (
            "META-INF/maven/com.example.reporting/reporting-client/pom.properties".into(),
            pom_properties("com.example.reporting", "reporting-client", "1.4.0"),
        ),
        (
            "META-INF/maven/com.example.reporting/reporting-client/pom.xml".into(),
            pom_xml("com.example.reporting", "reporting-client", "1.4.0"),
        ),
        (
            "META-INF/maven/com.google.code.gson/gson/pom.properties".into(),
            pom_properties("com.google.code.gson", "gson", "2.10.1"),
        ),
        (
            "META-INF/maven/com.google.code.gson/gson/pom.xml".into(),
            pom_xml("com.google.code.gson", "gson", "2.10.1"),
        ),
        (
            "com/example/reporting/ReportClient.class".into(),
            CLASS.to_vec(),
        ),
        (
            "com/example/reporting/shaded/com/google/gson/Gson.class".into(),
            CLASS.to_vec(),
        ),
    ];
    zip(&e)
}

/// `shop.war` as the Maven WAR plugin builds it: its own `pom.properties`, and its libraries
/// under `WEB-INF/lib/`, compressed like every other entry.
fn war() -> Vec<u8> {
    let commons = |artifact: &str, version: &str, title: &str, class: &str| {
        maven_jar(
            "org.apache.commons",
            artifact,
            version,
            &[
                ("Created-By", "Apache Maven Bundle Plugin 5.1.2"),
                ("Build-Jdk-Spec", "1.8"),
                ("Bundle-Name", title),
                (
                    "Bundle-SymbolicName",
                    &format!("org.apache.commons.{}", artifact.replace("commons-", "")),
                ),
                ("Bundle-Version", version),
                ("Implementation-Title", title),
                ("Implementation-Vendor", "The Apache Software Foundation"),
                ("Implementation-Version", version),
                ("Specification-Version", version),
            ],
            &[class],
        )
    };
    zip(&[
        (
            "META-INF/MANIFEST.MF".into(),
            manifest(&[
                ("Created-By", "Maven WAR Plugin 3.4.0"),
                ("Build-Jdk-Spec", "17"),
            ]),
        ),
        (
            "META-INF/maven/com.example/shop/pom.properties".into(),
            pom_properties("com.example", "shop", "2.0.1"),
        ),
        (
            "META-INF/maven/com.example/shop/pom.xml".into(),
            pom_xml("com.example", "shop", "2.0.1"),
        ),
        (
            "WEB-INF/web.xml".into(),
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<web-app xmlns=\"https://jakarta.ee/xml/ns/jakartaee\" version=\"6.0\"/>\n".to_vec(),
        ),
        (
            "WEB-INF/classes/com/example/shop/CartServlet.class".into(),
            CLASS.to_vec(),
        ),
        (
            "WEB-INF/lib/commons-lang3-3.12.0.jar".into(),
            commons(
                "commons-lang3",
                "3.12.0",
                "Apache Commons Lang",
                "org/apache/commons/lang3/StringUtils",
            ),
        ),
        (
            "WEB-INF/lib/commons-text-1.9.jar".into(),
            commons(
                "commons-text",
                "1.9",
                "Apache Commons Text",
                "org/apache/commons/text/StringSubstitutor",
            ),
        ),
    ])
}

/// A vendor jar with only a manifest (no Maven metadata), as Oracle ships its JDBC driver.
fn manifest_only_jar() -> Vec<u8> {
    zip(&[
        (
            "META-INF/MANIFEST.MF".into(),
            manifest(&[
                ("Created-By", "1.8.0_201 (Oracle Corporation)"),
                ("Main-Class", "oracle.jdbc.OracleDriver"),
                ("Specification-Title", "JDBC"),
                ("Specification-Version", "4.2"),
                ("Specification-Vendor", "Sun Microsystems Inc."),
                ("Implementation-Title", "JDBC"),
                ("Implementation-Version", "19.3.0.0.0"),
                ("Implementation-Vendor", "Oracle Corporation"),
                ("Implementation-Time", "Thu Apr 4 03:05:26 PDT 2019"),
                ("Sealed", "true"),
            ]),
        ),
        ("oracle/jdbc/OracleDriver.class".into(), CLASS.to_vec()),
    ])
}

#[test]
fn java_archives() {
    let dir = tempfile::tempdir().unwrap();
    let root = rootfs(
        dir.path(),
        "java",
        &[
            ("app/app.jar", spring_boot_app(), 0o644),
            (
                "opt/reporting/lib/reporting-client-1.4.0.jar",
                shaded_jar(),
                0o644,
            ),
            ("opt/reporting/lib/ojdbc8.jar", manifest_only_jar(), 0o644),
            ("usr/local/tomcat/webapps/shop.war", war(), 0o644),
        ],
        &[],
    );
    parity(
        "java",
        dir.path(),
        &root,
        Expect {
            syft_types: &["java-archive", "jenkins-plugin"],
            cleanpipe_type: "maven",
            both: &[
                // The Spring Boot jar, by its own pom.properties, and its nested libraries.
                ("com.example:orders-service", "1.4.2"),
                ("com.fasterxml.jackson.core:jackson-core", "2.15.3"),
                ("com.fasterxml.jackson.core:jackson-databind", "2.15.3"),
                ("org.apache.logging.log4j:log4j-api", "2.14.1"),
                ("org.apache.logging.log4j:log4j-core", "2.14.1"),
                ("org.yaml:snakeyaml", "2.2"),
                // The web application and its (compressed) libraries.
                ("com.example:shop", "2.0.1"),
                ("org.apache.commons:commons-lang3", "3.12.0"),
                ("org.apache.commons:commons-text", "1.9"),
                // The shaded jar and the library shaded into it.
                ("com.example.reporting:reporting-client", "1.4.0"),
                ("com.google.code.gson:gson", "2.10.1"),
            ],
            only_syft: &[
                (
                    "org.springframework.boot.loader.launch.JarLauncher:app",
                    "1.4.2",
                    "syft names an archive by its file name when its one pom.properties \
                     (orders-service) does not match it, takes the group from Main-Class, and \
                     reports the same jar again as orders-service; cleanpipe reports it once",
                ),
                (
                    "org.springframework.boot:spring-boot",
                    "3.2.0",
                    "a Gradle-built jar, manifest only: syft takes the group from its built-in \
                     artifactId-to-groupId table; cleanpipe takes a groupId only from \
                     Implementation-Vendor-Id (absent), so it lists spring-boot 3.2.0 without one",
                ),
                (
                    "ojdbc8:ojdbc8",
                    "19.3.0.0.0",
                    "no Maven metadata and an artifactId not in syft's table: syft names the jar \
                     by its file name and repeats the name as group, a coordinate that does not \
                     exist (Maven Central has com.oracle.database.jdbc:ojdbc8)",
                ),
            ],
            only_cleanpipe: &[
                (
                    "spring-boot",
                    "3.2.0",
                    "syft's org.springframework.boot:spring-boot: identified from MANIFEST.MF \
                     (file name spring-boot-3.2.0.jar), no groupId guessed, so in the SBOM but \
                     not checked by the scan",
                ),
                (
                    "ojdbc8",
                    "19.3.0.0.0",
                    "syft's ojdbc8:ojdbc8: the same artifact; cleanpipe guesses no groupId \
                     (pkg:generic/ojdbc8), identified from MANIFEST.MF and not checked",
                ),
            ],
        },
    );
}

#[test]
fn ruby_gems() {
    let dir = tempfile::tempdir().unwrap();
    let root = rootfs(dir.path(), "ruby", &[], &[]);
    parity(
        "ruby",
        dir.path(),
        &root,
        Expect {
            syft_types: &["gem"],
            cleanpipe_type: "gem",
            both: &[
                // Ruby's default gems (`specifications/default/`) and bundled gems.
                ("json", "2.6.3"),
                ("psych", "5.0.1"),
                ("minitest", "5.16.3"),
                // Installed with `gem install`; nokogiri's platform gem.
                ("nokogiri", "1.15.4"),
                ("racc", "1.7.3"),
                ("rack", "2.2.8"),
                // Installed by Bundler into `/usr/local/bundle`.
                ("mustermann", "3.0.0"),
                ("rack-protection", "3.1.0"),
                ("ruby2_keywords", "0.0.5"),
                ("sinatra", "3.1.0"),
                ("tilt", "2.3.0"),
            ],
            only_syft: &[],
            only_cleanpipe: &[(
                "rack-attack",
                "6.7.0",
                "a GIT-source gem: Bundler checks it out under bundler/gems/ without writing an \
                 installed specification, so only the app's Gemfile.lock names it; syft reads \
                 Gemfile.lock in directory scans only, never in images",
            )],
        },
    );
}

#[test]
fn php_composer() {
    let dir = tempfile::tempdir().unwrap();
    let root = rootfs(dir.path(), "php", &[], &[]);
    parity(
        "php",
        dir.path(),
        &root,
        Expect {
            syft_types: &["php-composer"],
            cleanpipe_type: "composer",
            both: &[
                ("guzzlehttp/guzzle", "7.8.1"),
                ("monolog/monolog", "3.5.0"),
                // A development package (`dev-package-names`): installed, so both list it.
                ("phpunit/phpunit", "10.5.2"),
                ("psr/log", "3.0.0"),
                // Versions as Composer writes them, Symfony's `v` kept.
                ("symfony/console", "v6.4.1"),
            ],
            only_syft: &[],
            only_cleanpipe: &[],
        },
    );
}

#[test]
fn dotnet_deps() {
    let dir = tempfile::tempdir().unwrap();
    let root = rootfs(dir.path(), "dotnet", &[], &[]);
    parity(
        "dotnet",
        dir.path(),
        &root,
        Expect {
            syft_types: &["dotnet"],
            cleanpipe_type: "nuget",
            both: &[
                ("Microsoft.Data.Sqlite", "8.0.0"),
                ("Microsoft.Data.Sqlite.Core", "8.0.0"),
                ("Newtonsoft.Json", "13.0.3"),
                ("SQLitePCLRaw.bundle_e_sqlite3", "2.1.6"),
                ("SQLitePCLRaw.core", "2.1.6"),
                ("SQLitePCLRaw.provider.e_sqlite3", "2.1.6"),
                ("Serilog", "3.1.1"),
                ("Serilog.AspNetCore", "8.0.0"),
                ("Serilog.Sinks.Console", "5.0.0"),
            ],
            only_syft: &[(
                "MyApp",
                "1.0.0",
                "the application itself (the deps.json's root `project` library, named like the \
                 file): syft lists it as a package, cleanpipe lists only the NuGet packages it \
                 depends on",
            )],
            only_cleanpipe: &[
                (
                    "Microsoft.NETCore.Platforms",
                    "1.1.0",
                    "a package without runtime assets: syft keeps only packages that claim a DLL \
                     (dotnet.dep-packages-must-claim-dll, on by default); cleanpipe keeps every \
                     `package` library, the unit NuGet advisories name",
                ),
                (
                    "NETStandard.Library",
                    "2.0.3",
                    "a meta-package (dependencies only, no assets): dropped by syft as above, kept \
                     by cleanpipe",
                ),
                (
                    "SQLitePCLRaw.lib.e_sqlite3",
                    "2.1.6",
                    "its only assets are native libraries under `runtimeTargets` (libe_sqlite3.so), \
                     which syft does not count as a DLL claim, so it drops the package that ships \
                     the SQLite engine itself; cleanpipe keeps it",
                ),
            ],
        },
    );
}

#[test]
fn npm_packages() {
    let dir = tempfile::tempdir().unwrap();
    let root = rootfs(dir.path(), "npm", &[], &[]);
    parity(
        "npm",
        dir.path(),
        &root,
        Expect {
            syft_types: &["npm"],
            cleanpipe_type: "npm",
            both: &[
                // Development dependencies present in node_modules count for both.
                ("@types/node", "20.10.4"),
                ("undici-types", "5.26.5"),
                ("ansi-styles", "4.3.0"),
                ("chalk", "4.1.2"),
                ("color-convert", "2.0.1"),
                ("color-name", "1.1.4"),
                ("debug", "4.3.4"),
                ("has-flag", "4.0.0"),
                ("lodash", "4.17.21"),
                // Two versions: hoisted, and nested under debug.
                ("ms", "2.1.2"),
                ("ms", "2.1.3"),
                ("supports-color", "7.2.0"),
                // fsevents 2.3.3 (optional, darwin only, in package-lock.json but not
                // installed) is found by neither.
            ],
            only_syft: &[(
                "orders-api",
                "1.2.0",
                "the application's own package.json (`private: true`): syft reads every \
                 package.json, cleanpipe only those of installed packages and the lockfile's \
                 dependencies, not the app the image is",
            )],
            only_cleanpipe: &[],
        },
    );
}

#[test]
fn python_dist_info() {
    let dir = tempfile::tempdir().unwrap();
    let root = rootfs(dir.path(), "python", &[], &[]);
    parity(
        "python",
        dir.path(),
        &root,
        Expect {
            syft_types: &["python"],
            cleanpipe_type: "python",
            both: &[
                ("certifi", "2023.11.17"),
                ("charset-normalizer", "3.3.2"),
                ("idna", "3.6"),
                ("pip", "23.2.1"),
                // An egg-info directory (PKG-INFO).
                ("PyYAML", "6.0.1"),
                ("requests", "2.31.0"),
                ("urllib3", "2.1.0"),
            ],
            only_syft: &[],
            only_cleanpipe: &[],
        },
    );
}

/// A stand-in for an executable: an ELF header, then the version string the runtime's own
/// binary carries where syft's classifier looks for it (`node.js/vX.Y.Z`; for CPython the
/// version between NUL bytes), then padding. Never run.
fn fake_binary(marker: &[u8]) -> Vec<u8> {
    let mut b = b"\x7fELF\x02\x01\x01\x00".to_vec();
    b.extend(std::iter::repeat_n(0u8, 56));
    b.extend_from_slice(marker);
    b.extend(std::iter::repeat_n(0u8, 64));
    b
}

#[test]
fn runtimes() {
    let dir = tempfile::tempdir().unwrap();
    // As the official images lay them out: Temurin in /opt/java/openjdk, Node and CPython
    // built into /usr/local with their headers and the symlinks `make install` adds.
    let root = rootfs(
        dir.path(),
        "runtimes",
        &[
            (
                "usr/local/bin/node",
                fake_binary(
                    b"\x00https://nodejs.org/download/release/v20.11.1/\x00node.js/v20.11.1\x00",
                ),
                0o755,
            ),
            (
                "usr/local/lib/node_modules/npm/bin/npm-cli.js",
                b"#!/usr/bin/env node\nrequire('../lib/cli.js')(process)\n".to_vec(),
                0o755,
            ),
            (
                "usr/local/bin/python3.12",
                fake_binary(b"\x003.12.1\x00%s (%s) [%s]\x00"),
                0o755,
            ),
            (
                "usr/local/lib/python3.12/os.py",
                b"r\"\"\"OS routines for NT or Posix depending on what system we're on.\n\"\"\"\n"
                    .to_vec(),
                0o644,
            ),
        ],
        &[
            (
                "usr/local/bin/npm",
                "../lib/node_modules/npm/bin/npm-cli.js",
            ),
            ("usr/local/bin/python3", "python3.12"),
        ],
    );
    parity(
        "runtimes",
        dir.path(),
        &root,
        Expect {
            syft_types: &["binary"],
            cleanpipe_type: "runtime",
            both: &[("node", "20.11.1"), ("python", "3.12.1")],
            only_syft: &[(
                "openjdk",
                "21.0.5+11-LTS",
                "the same JDK: syft takes the release file's JAVA_RUNTIME_VERSION (build number \
                 and LTS mark included), cleanpipe its JAVA_VERSION",
            )],
            only_cleanpipe: &[(
                "openjdk",
                "21.0.5",
                "the same JDK as syft's openjdk 21.0.5+11-LTS, by JAVA_VERSION, the version \
                 vendors' advisories and NVD name",
            )],
        },
    );
}
