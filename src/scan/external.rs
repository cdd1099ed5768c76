//! External scanners (`scanner: trivy | grype`): run the team's own binary on the image and read
//! its JSON into cleanpipe's findings, so the same waivers, gate and reports apply.
//!
//! The scanner gets a private single-image OCI layout (blobs hard-linked from the store), so it
//! cannot pick another image of the store by accident (trivy takes `manifests[0]` when unsure).

use std::path::PathBuf;
use std::process::Stdio;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::types::{Descriptor, Digest, Manifest, MEDIA_OCI_MANIFEST};
use crate::sbom::catalog::Kind;
use crate::scan::{Finding, Severity};

/// Which external scanner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Trivy,
    Grype,
}

impl Tool {
    pub fn name(&self) -> &'static str {
        match self {
            Tool::Trivy => "trivy",
            Tool::Grype => "grype",
        }
    }
}

/// What an external scanner reported, in cleanpipe's terms.
#[derive(Debug)]
pub struct ExternalReport {
    /// e.g. `trivy 0.56.2`, or just the tool name when its output does not say.
    pub scanner: String,
    pub packages: usize,
    pub findings: Vec<Finding>,
}

/// The image to hand to the scanner.
pub struct Image<'a> {
    pub layout: &'a Layout,
    pub digest: &'a Digest,
    pub manifest: &'a Manifest,
    /// The image config's `rootfs.diff_ids`, to map a scanner's layer diff id to a layer.
    pub diff_ids: &'a [Digest],
}

/// Run `tool` (the binary `program`, with the user's `extra_args`) on `image`.
pub async fn run(
    tool: Tool,
    program: &str,
    extra_args: &[String],
    image: Image<'_>,
) -> Result<ExternalReport> {
    let scratch = single_image_layout(&image)?;
    let dir = scratch.path().to_string_lossy().into_owned();
    let mut cmd = tokio::process::Command::new(program);
    match tool {
        Tool::Trivy => cmd.args([
            "image",
            "--input",
            &format!("{dir}:scan"),
            "--format",
            "json",
            "--list-all-pkgs",
            "--quiet",
        ]),
        Tool::Grype => cmd.args([&format!("oci-dir:{dir}"), "--output", "json", "--quiet"]),
    };
    cmd.args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = match cmd.output().await {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let where_ = if program.contains('/') {
                "does not exist"
            } else {
                "is not on PATH"
            };
            return Err(Error::environment(format!(
                "scanner `{}` not found: `{program}` {where_}",
                tool.name()
            ))
            .with_hint(format!(
                "install {}, point `scanner_path` at it, or use `scanner: builtin`",
                tool.name()
            )));
        }
        Err(e) => {
            return Err(Error::environment(format!(
                "cannot run scanner `{program}`: {e}"
            )))
        }
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::environment(format!(
            "scanner `{program}` failed ({}){}",
            out.status,
            if tail.is_empty() {
                " without saying why".to_string()
            } else {
                format!(":\n  {}", tail.join("\n  "))
            }
        ))
        .with_hint(match tool {
            Tool::Trivy => "check that trivy has a vulnerability database (offline: `--skip-db-update` with a prepared `--cache-dir` in `scanner_args`)",
            Tool::Grype => "check that grype has a vulnerability database (`grype db status`)",
        }));
    }
    parse_report(tool, &out.stdout, &image.manifest.layers, image.diff_ids)
        .map_err(|e| Error::environment(format!("cannot read the JSON report of `{program}`: {e}")))
}

/// Read a trivy (`--format json`) or grype (`-o json`) report. `layers` and `diff_ids` map the
/// scanner's layer ids back to layer digests; pass empty slices when the image is not at hand
/// (a report inside an attestation). A field of an unexpected type is an error, never zero
/// findings.
pub fn parse_report(
    tool: Tool,
    json: &[u8],
    layers: &[Descriptor],
    diff_ids: &[Digest],
) -> std::result::Result<ExternalReport, String> {
    let value: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let read = match tool {
        Tool::Trivy => TRIVY_KEYS,
        Tool::Grype => GRYPE_KEYS,
    };
    no_case_variant_keys(&value, read)?;
    match tool {
        Tool::Trivy => parse_trivy(json, layers, diff_ids),
        Tool::Grype => parse_grype(json, layers, diff_ids),
    }
}

/// The keys cleanpipe reads from trivy's and grype's JSON.
const TRIVY_KEYS: &[&str] = &[
    "SchemaVersion",
    "Results",
    "Trivy",
    "Version",
    "Target",
    "Type",
    "Packages",
    "Vulnerabilities",
    "VulnerabilityID",
    "PkgName",
    "PkgPath",
    "InstalledVersion",
    "FixedVersion",
    "Severity",
    "Title",
    "VendorIDs",
    "Layer",
    "Digest",
    "DiffID",
    "CVSS",
    "V3Score",
    "PkgIdentifier",
    "PURL",
];
const GRYPE_KEYS: &[&str] = &[
    "matches",
    "descriptor",
    "version",
    "vulnerability",
    "relatedVulnerabilities",
    "artifact",
    "id",
    "severity",
    "description",
    "cvss",
    "metrics",
    "baseScore",
    "fix",
    "versions",
    "name",
    "type",
    "purl",
    "locations",
    "path",
    "layerID",
];

/// Subtrees cleanpipe does not read (image configs, scanner settings, package metadata), whose
/// keys are the image's or the scanner's own and may differ from ours only in case.
const NOT_READ: &[&str] = &["Metadata", "metadata", "source", "distro", "descriptor"];

/// Go's JSON decoder (trivy, grype, cosign and the policy engines that read these reports)
/// matches keys case-insensitively, serde exactly: `"results"` would be findings to them and
/// nothing to us. A key that differs only in case from one cleanpipe reads is refused.
fn no_case_variant_keys(
    value: &serde_json::Value,
    read: &[&str],
) -> std::result::Result<(), String> {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if NOT_READ.contains(&k.as_str()) {
                    continue;
                }
                if let Some(want) = read
                    .iter()
                    .find(|r| **r != k.as_str() && r.eq_ignore_ascii_case(k))
                {
                    return Err(format!(
                        "key `{k}` differs only in case from `{want}`, which other readers take as the same field"
                    ));
                }
                no_case_variant_keys(v, read)?;
            }
            Ok(())
        }
        serde_json::Value::Array(items) => {
            items.iter().try_for_each(|v| no_case_variant_keys(v, read))
        }
        _ => Ok(()),
    }
}

/// A scanner's severity label, or its CVSS score when the label is `unknown`: a label that is
/// not a severity (missing, misspelled) is an error, never a finding that cannot trip the gate.
fn scanner_severity(
    id: &str,
    label: &str,
    score: Option<f64>,
) -> std::result::Result<Severity, String> {
    match label.to_ascii_lowercase().as_str() {
        "negligible" => Ok(Severity::Unknown),
        "unknown" => Ok(score.map_or(Severity::Unknown, Severity::from_score)),
        l => match Severity::from_label(l) {
            Severity::Unknown => Err(format!(
                "finding {id} has severity `{label}`, which is not a severity"
            )),
            known => Ok(known),
        },
    }
}

/// A temporary OCI layout holding only `image`, tagged `scan`. Blobs are hard links where the
/// filesystem allows, copies otherwise.
fn single_image_layout(image: &Image<'_>) -> Result<tempfile::TempDir> {
    let cache = image.layout.root().join("cleanpipe-cache");
    // trivy splits `--input` at `:` and `@`: keep those out of the path.
    let parent: PathBuf = if cache.to_string_lossy().contains([':', '@']) {
        std::env::temp_dir()
    } else {
        crate::fsutil::create_dirs(&cache)?;
        cache
    };
    let dir = tempfile::Builder::new()
        .prefix("scan-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io("cannot create a scratch layout in", &parent, e))?;
    let target = Layout::create(dir.path())?;
    // The scanner would read a damaged layer as "nothing there": check every layer first.
    for (index, layer) in image.manifest.layers.iter().enumerate() {
        image
            .layout
            .open_verified_blob(layer)?
            .finish()
            .map_err(|e| {
                crate::sbom::fs::corrupt_layer(image.layout, index, layer, &e.to_string())
            })?;
    }
    let mut blobs: Vec<&Digest> = vec![image.digest, &image.manifest.config.digest];
    blobs.extend(image.manifest.layers.iter().map(|l| &l.digest));
    for digest in blobs {
        let from = image.layout.blob_path(digest);
        let to = target.blob_path(digest);
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| Error::io("cannot copy", &from, e))?;
        }
    }
    let size = std::fs::metadata(image.layout.blob_path(image.digest))
        .map_err(|e| Error::io("cannot read", image.layout.blob_path(image.digest), e))?
        .len();
    target.set_tag(
        "scan",
        &Descriptor::new(MEDIA_OCI_MANIFEST, image.digest.clone(), size),
    )?;
    Ok(dir)
}

/// The layer a scanner names, by compressed digest or by diff id (`diff_ids` are the image
/// config's, in layer order).
fn layer_of(
    layers: &[Descriptor],
    diff_ids: &[Digest],
    digest: Option<&str>,
    diff_id: Option<&str>,
) -> Option<Digest> {
    if let Some(d) = digest.and_then(|d| Digest::parse(d).ok()) {
        if layers.iter().any(|l| l.digest == d) {
            return Some(d);
        }
    }
    let diff = diff_id.and_then(|d| Digest::parse(d).ok())?;
    let i = diff_ids.iter().position(|d| *d == diff)?;
    layers.get(i).map(|l| l.digest.clone())
}

fn kind_of(scanner_type: &str) -> Kind {
    match scanner_type {
        "debian" | "ubuntu" | "deb" => Kind::Deb,
        "alpine" | "wolfi" | "chainguard" | "apk" => Kind::Apk,
        "redhat" | "centos" | "rocky" | "alma" | "almalinux" | "fedora" | "oracle" | "amazon"
        | "suse" | "opensuse" | "opensuse.leap" | "photon" | "cbl-mariner" | "azurelinux"
        | "rpm" => Kind::Rpm,
        "python-pkg" | "pip" | "pipenv" | "poetry" | "python" => Kind::Python,
        "node-pkg" | "npm" | "yarn" | "pnpm" => Kind::Npm,
        "gobinary" | "gomod" | "go-module" => Kind::Go,
        "rustbinary" | "cargo" | "rust-crate" => Kind::Cargo,
        // trivy's `jar`/`pom`/`gradle`, grype's `java-archive`.
        "jar" | "pom" | "gradle" | "java-archive" | "maven" => Kind::Maven,
        "gemspec" | "bundler" | "gem" => Kind::Gem,
        "composer" | "composer-vendor" | "php-composer" => Kind::Composer,
        "dotnet-core" | "deps-json" | "nuget" | "dotnet" | "packages-props" => Kind::Nuget,
        _ => Kind::Other,
    }
}

fn parse_trivy(
    json: &[u8],
    layers: &[Descriptor],
    diff_ids: &[Digest],
) -> std::result::Result<ExternalReport, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Report {
        #[serde(default)]
        results: Vec<Target>,
        #[serde(default)]
        trivy: Option<Version>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Version {
        #[serde(default)]
        version: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Target {
        #[serde(default)]
        target: String,
        #[serde(default, rename = "Type")]
        kind: String,
        #[serde(default)]
        packages: Vec<serde_json::Value>,
        #[serde(default)]
        vulnerabilities: Vec<Vuln>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Vuln {
        #[serde(rename = "VulnerabilityID")]
        id: String,
        pkg_name: String,
        #[serde(default)]
        pkg_path: Option<String>,
        #[serde(default)]
        installed_version: String,
        #[serde(default)]
        fixed_version: Option<String>,
        #[serde(default)]
        severity: String,
        #[serde(default)]
        title: Option<String>,
        #[serde(default, rename = "VendorIDs")]
        vendor_ids: Vec<String>,
        #[serde(default)]
        layer: Option<Layer>,
        #[serde(default, rename = "CVSS")]
        cvss: Option<std::collections::BTreeMap<String, serde_json::Value>>,
        #[serde(default)]
        pkg_identifier: Option<Identifier>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Layer {
        #[serde(default)]
        digest: Option<String>,
        #[serde(default, rename = "DiffID")]
        diff_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Identifier {
        #[serde(default, rename = "PURL")]
        purl: Option<String>,
    }
    let report: Report = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let mut findings = Vec::new();
    for t in &report.results {
        for v in &t.vulnerabilities {
            // The highest CVSS v3 score any source gives, if any does.
            let score = v.cvss.as_ref().and_then(|m| {
                m.values()
                    .filter_map(|c| c["V3Score"].as_f64())
                    .max_by(|a, b| a.total_cmp(b))
            });
            let severity = scanner_severity(&v.id, &v.severity, score)?;
            findings.push(Finding {
                id: v.id.clone(),
                aliases: v.vendor_ids.clone(),
                package: v.pkg_name.clone(),
                kind: kind_of(&t.kind),
                version: v.installed_version.clone(),
                fixed_version: v.fixed_version.clone().filter(|f| !f.is_empty()),
                severity,
                score,
                purl: v
                    .pkg_identifier
                    .as_ref()
                    .and_then(|i| i.purl.clone())
                    .unwrap_or_default(),
                // OS packages have no path in trivy's report; its target then is a label
                // like `image (debian 12.5)`, not a file.
                location: v
                    .pkg_path
                    .as_deref()
                    .or(Some(t.target.as_str()).filter(|t| !t.contains(' ')))
                    .map(|p| format!("/{}", p.trim_start_matches('/')))
                    .unwrap_or_default(),
                layer: v.layer.as_ref().and_then(|l| {
                    layer_of(layers, diff_ids, l.digest.as_deref(), l.diff_id.as_deref())
                }),
                summary: v.title.clone().unwrap_or_default(),
                severity_source: "trivy's severity".into(),
                upstream: vec![],
                waived: None,
                waiver_expires: None,
            });
        }
    }
    let scanner = match report.trivy {
        Some(v) if !v.version.is_empty() => format!("trivy {}", v.version),
        _ => "trivy".to_string(),
    };
    Ok(ExternalReport {
        scanner,
        packages: report.results.iter().map(|t| t.packages.len()).sum(),
        findings,
    })
}

fn parse_grype(
    json: &[u8],
    layers: &[Descriptor],
    diff_ids: &[Digest],
) -> std::result::Result<ExternalReport, String> {
    #[derive(Deserialize)]
    struct Report {
        matches: Vec<Match>,
        #[serde(default)]
        descriptor: Option<ToolDescriptor>,
    }
    #[derive(Deserialize)]
    struct ToolDescriptor {
        #[serde(default)]
        version: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Match {
        vulnerability: Vuln,
        #[serde(default)]
        related_vulnerabilities: Vec<Related>,
        artifact: Artifact,
    }
    #[derive(Deserialize)]
    struct Vuln {
        id: String,
        #[serde(default)]
        severity: String,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        cvss: Vec<serde_json::Value>,
        #[serde(default)]
        fix: Option<Fix>,
    }
    #[derive(Deserialize)]
    struct Fix {
        #[serde(default)]
        versions: Vec<String>,
    }
    #[derive(Deserialize)]
    struct Related {
        id: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Artifact {
        name: String,
        #[serde(default)]
        version: String,
        #[serde(default, rename = "type")]
        kind: String,
        #[serde(default)]
        purl: String,
        #[serde(default)]
        locations: Vec<Location>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Location {
        #[serde(default)]
        path: String,
        #[serde(default, rename = "layerID")]
        layer_id: Option<String>,
    }
    let report: Report = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let mut packages: Vec<(&str, &str, &str)> = Vec::new();
    let mut findings = Vec::new();
    for m in &report.matches {
        let a = &m.artifact;
        packages.push((&a.name, &a.version, &a.kind));
        let mut aliases: Vec<String> = m
            .related_vulnerabilities
            .iter()
            .map(|r| r.id.clone())
            .filter(|id| *id != m.vulnerability.id)
            .collect();
        aliases.sort();
        aliases.dedup();
        let location = a.locations.first();
        let score = m
            .vulnerability
            .cvss
            .iter()
            .filter_map(|c| c["metrics"]["baseScore"].as_f64())
            .max_by(|a, b| a.total_cmp(b));
        let severity = scanner_severity(&m.vulnerability.id, &m.vulnerability.severity, score)?;
        findings.push(Finding {
            id: m.vulnerability.id.clone(),
            aliases,
            package: a.name.clone(),
            kind: kind_of(&a.kind),
            version: a.version.clone(),
            fixed_version: m
                .vulnerability
                .fix
                .as_ref()
                .and_then(|f| f.versions.first().cloned()),
            // grype's "Negligible" is below low: it never trips a gate.
            severity,
            score,
            purl: a.purl.clone(),
            location: location.map(|l| l.path.clone()).unwrap_or_default(),
            layer: location.and_then(|l| layer_of(layers, diff_ids, None, l.layer_id.as_deref())),
            summary: m.vulnerability.description.clone().unwrap_or_default(),
            severity_source: "grype's severity".into(),
            upstream: vec![],
            waived: None,
            waiver_expires: None,
        });
    }
    packages.sort();
    packages.dedup();
    let scanner = match report.descriptor {
        Some(d) if !d.version.is_empty() => format!("grype {}", d.version),
        _ => "grype".to_string(),
    };
    Ok(ExternalReport {
        scanner,
        // grype's JSON lists matched packages only; that is what can be counted here.
        packages: packages.len(),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::types::{Descriptor, MEDIA_OCI_CONFIG, MEDIA_OCI_LAYER_GZIP};

    fn image_parts() -> (Manifest, Vec<Digest>) {
        let manifest = Manifest::oci(
            Descriptor::of(MEDIA_OCI_CONFIG, b"{}"),
            vec![
                Descriptor::new(MEDIA_OCI_LAYER_GZIP, Digest::of(b"layer0"), 1),
                Descriptor::new(MEDIA_OCI_LAYER_GZIP, Digest::of(b"layer1"), 1),
            ],
        );
        (manifest, vec![Digest::of(b"diff0"), Digest::of(b"diff1")])
    }

    #[test]
    fn reads_trivy_json() {
        let (manifest, diff_ids) = image_parts();
        // The shape trivy 0.44 writes (no PkgIdentifier), plus a newer report's CVSS block.
        let json = format!(
            r#"{{"SchemaVersion":2,"ArtifactName":"x:scan","Results":[
              {{"Target":"Python","Class":"lang-pkgs","Type":"python-pkg","Packages":[{{"Name":"urllib3"}},{{"Name":"idna"}}],
                "Vulnerabilities":[{{"VulnerabilityID":"GHSA-q2q7-5pp4-w6pg","PkgName":"urllib3",
                  "PkgPath":"usr/lib/python3/site-packages/urllib3-1.26.4.dist-info/METADATA",
                  "InstalledVersion":"1.26.4","FixedVersion":"1.26.5","Severity":"HIGH","Title":"ReDoS",
                  "Layer":{{"DiffID":"{}"}},"CVSS":{{"ghsa":{{"V3Score":5.3}},"nvd":{{"V3Score":7.5}}}}}}]}},
              {{"Target":"x (debian 12.5)","Class":"os-pkgs","Type":"debian","Packages":[{{"Name":"zlib1g"}}],
                "Vulnerabilities":[{{"VulnerabilityID":"CVE-2023-45853","PkgName":"zlib1g","InstalledVersion":"1:1.2.13.dfsg-1",
                  "Severity":"CRITICAL","VendorIDs":["DSA-1"],"Layer":{{"Digest":"{}"}},"PkgIdentifier":{{"PURL":"pkg:deb/debian/zlib1g"}}}}]}}]}}"#,
            diff_ids[1], manifest.layers[0].digest
        );
        let r = parse_trivy(json.as_bytes(), &manifest.layers, &diff_ids).unwrap();
        assert_eq!(r.packages, 3);
        assert_eq!(r.scanner, "trivy");
        let f = &r.findings[0];
        assert_eq!(f.kind, Kind::Python);
        assert_eq!(f.layer.as_ref(), Some(&manifest.layers[1].digest));
        assert_eq!(f.score, Some(7.5));
        assert_eq!(
            f.location,
            "/usr/lib/python3/site-packages/urllib3-1.26.4.dist-info/METADATA"
        );
        let z = &r.findings[1];
        assert_eq!(
            (z.kind, z.severity, z.fixed_version.clone()),
            (Kind::Deb, Severity::Critical, None)
        );
        assert_eq!(z.aliases, vec!["DSA-1"]);
        assert_eq!(z.layer.as_ref(), Some(&manifest.layers[0].digest));
        assert!(parse_trivy(b"{not json", &manifest.layers, &diff_ids).is_err());
    }

    #[test]
    fn reads_grype_json() {
        let (manifest, diff_ids) = image_parts();
        // The shape of grype's `-o json` (grype/presenter/models), written by hand.
        let json = format!(
            r#"{{"matches":[{{"vulnerability":{{"id":"GHSA-35jh-r3h4-6jhm","severity":"High","description":"lodash","cvss":[{{"metrics":{{"baseScore":7.2}}}}],"fix":{{"versions":["4.17.21"],"state":"fixed"}}}},
               "relatedVulnerabilities":[{{"id":"CVE-2021-23337"}}],
               "artifact":{{"name":"lodash","version":"4.17.11","type":"npm","purl":"pkg:npm/lodash@4.17.11","locations":[{{"path":"/app/node_modules/lodash/package.json","layerID":"{}"}}]}}}},
              {{"vulnerability":{{"id":"CVE-2005-2541","severity":"Negligible"}},"artifact":{{"name":"tar","version":"1.34","type":"deb","locations":[]}}}}],
              "descriptor":{{"name":"grype","version":"0.80.0"}}}}"#,
            diff_ids[0]
        );
        let r = parse_grype(json.as_bytes(), &manifest.layers, &diff_ids).unwrap();
        assert_eq!(r.scanner, "grype 0.80.0");
        assert_eq!(r.packages, 2);
        let f = &r.findings[0];
        assert_eq!(f.aliases, vec!["CVE-2021-23337"]);
        assert_eq!(f.fixed_version.as_deref(), Some("4.17.21"));
        assert_eq!(f.layer.as_ref(), Some(&manifest.layers[0].digest));
        assert_eq!(r.findings[1].severity, Severity::Unknown);
        // Unknown is not a pass: it trips any gate but `critical`.
        use crate::scan::gate::Threshold as Gate;
        assert!(r.findings[1].severity.trips(Gate::High));
        assert!(!r.findings[1].severity.trips(Gate::Critical));
    }
}
