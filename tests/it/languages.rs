//! The scan gate on language ecosystems the catalogers read from archives and manifests: Maven
//! (a Spring-Boot-shaped fat jar with Log4Shell nested in it), RubyGems, Packagist and NuGet,
//! each matched with its own version ordering; an unreadable jar is unchecked, naming the file.

use std::io::Write;
use std::path::Path;

use crate::sbom_scan::image_from_tars;
use crate::support::{fixture, tar_dir, Repo};

/// A zip of (name, bytes, stored?) entries.
fn zip_of(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes, stored) in entries {
        let method = if *stored {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A library jar as Maven builds it: a manifest and one `pom.properties`.
fn library_jar(group: &str, artifact: &str, version: &str) -> Vec<u8> {
    let pom = format!(
        "#Created by Apache Maven 3.8.4\ngroupId={group}\nartifactId={artifact}\nversion={version}\n"
    );
    zip_of(&[
        (
            "META-INF/MANIFEST.MF",
            format!("Manifest-Version: 1.0\r\nImplementation-Version: {version}\r\n\r\n")
                .as_bytes(),
            false,
        ),
        (
            &format!("META-INF/maven/{group}/{artifact}/pom.properties"),
            pom.as_bytes(),
            false,
        ),
        ("org/example/A.class", &[0xca, 0xfe, 0xba, 0xbe], false),
    ])
}

/// Write an image whose files are `files` (path, bytes) into `dir`; returns its reference.
fn image(dir: &Path, files: &[(String, Vec<u8>)]) -> String {
    let root = dir.join("rootfs");
    for (path, bytes) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let tar = tar_dir(&root);
    image_from_tars(&dir.join("layout"), &[&tar])
}

/// An application image with one package per ecosystem at `versions`
/// (log4j-core, jackson-databind, rack, guzzle, Newtonsoft.Json).
fn app_image(dir: &Path, v: [&str; 5], broken_jar: bool) -> String {
    let log4j = library_jar("org.apache.logging.log4j", "log4j-core", v[0]);
    let jackson = library_jar("com.fasterxml.jackson.core", "jackson-databind", v[1]);
    let fat = zip_of(&[
        (
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n\r\n",
            false,
        ),
        (
            "META-INF/maven/com.example/demo/pom.properties",
            b"groupId=com.example\nartifactId=demo\nversion=1.0.0\n",
            false,
        ),
        // Spring Boot stores nested jars uncompressed; a compressed one is read too.
        (&format!("BOOT-INF/lib/log4j-core-{}.jar", v[0]), &log4j, true),
        (&format!("BOOT-INF/lib/jackson-databind-{}.jar", v[1]), &jackson, false),
    ]);
    let gemspec = format!(
        "# -*- encoding: utf-8 -*-\n# stub: rack {0} ruby lib\n\nGem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"{0}\"\n  s.require_paths = [\"lib\".freeze]\n  s.licenses = [\"MIT\".freeze]\n  s.summary = \"A modular Ruby webserver interface\".freeze\nend\n",
        v[2]
    );
    let installed = format!(
        r#"{{"packages":[{{"name":"guzzlehttp/guzzle","version":"{0}","version_normalized":"{0}.0","type":"library","license":["MIT"]}},{{"name":"psr/log","version":"1.1.4","version_normalized":"1.1.4.0","type":"library","license":["MIT"]}}],"dev":true,"dev-package-names":[]}}"#,
        v[3]
    );
    let deps = format!(
        r#"{{"runtimeTarget":{{"name":".NETCoreApp,Version=v8.0","signature":""}},"compilationOptions":{{}},"targets":{{".NETCoreApp,Version=v8.0":{{"App/1.0.0":{{"dependencies":{{"Newtonsoft.Json":"{0}"}},"runtime":{{"App.dll":{{}}}}}},"Newtonsoft.Json/{0}":{{"runtime":{{"lib/netstandard2.0/Newtonsoft.Json.dll":{{}}}}}}}}}},"libraries":{{"App/1.0.0":{{"type":"project","serviceable":false,"sha512":""}},"Newtonsoft.Json/{0}":{{"type":"package","serviceable":true,"sha512":"sha512-x","path":"newtonsoft.json/{0}","hashPath":"newtonsoft.json.{0}.nupkg.sha512"}}}}}}"#,
        v[4]
    );
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("app/app.jar".into(), fat),
        (
            format!(
                "usr/local/lib/ruby/gems/3.2.0/specifications/rack-{}.gemspec",
                v[2]
            ),
            gemspec.into_bytes(),
        ),
        (
            "var/www/vendor/composer/installed.json".into(),
            installed.into_bytes(),
        ),
        ("app/dotnet/App.deps.json".into(), deps.into_bytes()),
    ];
    if broken_jar {
        files.push((
            "opt/lib/broken.jar".into(),
            b"this is not a zip archive".to_vec(),
        ));
    }
    image(dir, &files)
}

fn scan(image: &str, extra: &[&str]) -> crate::support::Run {
    let repo = Repo::new();
    let db = fixture("osv-languages");
    let mut args = vec!["scan", image, "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    repo.cleanpipe(&args)
}

#[test]
fn log4shell_in_a_fat_jar_and_each_ecosystems_ordering_fail_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let image = app_image(
        dir.path(),
        ["2.14.1", "2.13.0", "2.2.6", "7.4.0", "12.0.3"],
        true,
    );
    let table = scan(&image, &[]);
    table.expect_code(1);
    for needle in [
        "/app/app.jar:BOOT-INF/lib/log4j-core-2.14.1.jar",
        "/opt/lib/broken.jar",
    ] {
        assert!(table.all().contains(needle), "{needle}:\n{}", table.all());
    }
    let json = scan(&image, &["-o", "json"]);
    json.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let mut got: Vec<(String, String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("id"), s("package"), s("version"), s("location"))
        })
        .collect();
    got.sort();
    let want = [
        (
            "GHSA-jfh8-c2jp-5v3q",
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
            "/app/app.jar:BOOT-INF/lib/log4j-core-2.14.1.jar",
        ),
        (
            "HAND-MAVEN-0001",
            "com.fasterxml.jackson.core:jackson-databind",
            "2.13.0",
            "/app/app.jar:BOOT-INF/lib/jackson-databind-2.13.0.jar",
        ),
        (
            "HAND-NUGET-0001",
            "Newtonsoft.Json",
            "12.0.3",
            "/app/dotnet/App.deps.json",
        ),
        (
            "HAND-PACKAGIST-0001",
            "guzzlehttp/guzzle",
            "7.4.0",
            "/var/www/vendor/composer/installed.json",
        ),
        (
            "HAND-RUBYGEMS-0001",
            "rack",
            "2.2.6",
            "/usr/local/lib/ruby/gems/3.2.0/specifications/rack-2.2.6.gemspec",
        ),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want, "{}", json.stdout);
    // The unreadable jar is unchecked, with its path and reason, in the report.
    let text = json.stdout.clone();
    assert!(text.contains("/opt/lib/broken.jar"), "{text}");
    assert!(text.contains("not a readable zip archive"), "{text}");
    // The SBOMs say the Maven list is incomplete, and why.
    let cdx = crate::sbom_scan::sboms(&image, dir.path());
    assert_eq!(aggregate(&cdx, "maven"), "incomplete");
    assert_eq!(aggregate(&cdx, "gem"), "complete");
    assert_eq!(aggregate(&cdx, "image"), "unknown");
    let spdx = std::fs::read_to_string(dir.path().join("sbom.spdx.json")).unwrap();
    assert!(
        spdx.contains("completeness of maven packages: incomplete (3 catalogued); not catalogued: /opt/lib/broken.jar: not a readable zip archive"),
        "{spdx}"
    );
}

/// The `aggregate` of the CycloneDX composition for `kind`.
fn aggregate(cdx: &serde_json::Value, kind: &str) -> String {
    cdx["compositions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == format!("composition:{kind}").as_str())
        .unwrap_or_else(|| panic!("no composition for {kind}: {}", cdx["compositions"]))
        ["aggregate"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn fixed_versions_pass_with_complete_coverage() {
    let dir = tempfile::tempdir().unwrap();
    // Each at the first version the ecosystem's ordering puts outside the range.
    let image = app_image(
        dir.path(),
        ["2.17.1", "2.13.4.1", "2.2.6.2", "7.4.5", "13.0.1"],
        false,
    );
    let run = scan(&image, &["-o", "json"]);
    run.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        0,
        "{}",
        run.stdout
    );
    let sbom = crate::sbom_scan::sboms(&image, dir.path());
    let purls: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    for want in [
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1",
        "pkg:maven/com.example/demo@1.0.0",
        "pkg:gem/rack@2.2.6.2",
        "pkg:composer/guzzlehttp/guzzle@7.4.5",
        "pkg:nuget/Newtonsoft.Json@13.0.1",
    ] {
        assert!(purls.contains(&want), "{want} missing from {purls:?}");
    }
    for kind in ["maven", "gem", "composer", "nuget"] {
        assert_eq!(aggregate(&sbom, kind), "complete", "{kind}");
    }
}
