//! CycloneDX 1.5 JSON, deterministic: sorted components, the source date as timestamp and a
//! serial number derived from the image digest.

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::oci::types::Digest;
use crate::sbom::catalog::{Catalog, Distro, Kind, Package, Uncatalogued};
use crate::sbom::license::{self, License};
use crate::sbom::spdx::Subject;

/// A stable `urn:uuid:` (version-5 shaped) from the image digest.
fn serial(subject: &Subject) -> String {
    let h = hex::encode(Sha256::digest(format!(
        "cleanpipe-cyclonedx:{}",
        subject.digest
    )));
    let variant = ["8", "9", "a", "b"][(h.as_bytes()[16] % 4) as usize];
    format!(
        "urn:uuid:{}-{}-5{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        variant,
        &h[17..20],
        &h[20..32]
    )
}

pub fn document(subject: &Subject, catalog: &Catalog) -> Value {
    let mut components = Vec::new();
    let mut refs = Vec::new();
    if let Some(d) = &catalog.distro {
        let mut os = json!({
            "type": "operating-system",
            "bom-ref": "os",
            "name": d.id,
            "version": d.version_id.clone().unwrap_or_default(),
        });
        let mut props = Vec::new();
        if d.version_id.is_none() {
            props.push(property(DISTRO_NO_VERSION, "true"));
        }
        for (name, value) in [
            (DISTRO_CODENAME, &d.codename),
            (DISTRO_PRETTY_NAME, &d.pretty_name),
            (DISTRO_VERSION, &d.version),
        ] {
            if let Some(v) = value {
                props.push(property(name, v));
            }
        }
        props.extend(d.id_like.iter().map(|l| property(DISTRO_ID_LIKE, l)));
        if !props.is_empty() {
            os["properties"] = Value::Array(props);
        }
        components.push(os);
        refs.push("os".to_string());
    }
    for p in &catalog.packages {
        let mut bom_ref = p.purl.clone();
        let mut n = 2;
        while refs.contains(&bom_ref) {
            bom_ref = format!("{}#{n}", p.purl);
            n += 1;
        }
        let mut c = json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": p.name,
            "version": p.version,
            "purl": p.purl,
            "properties": [
                {"name": "cleanpipe:package:type", "value": p.kind.as_str()},
                {"name": "cleanpipe:location", "value": p.location},
                {"name": "cleanpipe:layer", "value": p.layer.to_string()},
            ],
        });
        if let Some((expr, licenses)) = license::expression(&p.licenses) {
            // CycloneDX takes either a list of licenses or one expression, not both.
            c["licenses"] = if licenses.iter().any(|l| matches!(l, License::Expression(_))) {
                json!([{ "expression": expr }])
            } else {
                Value::Array(
                    licenses
                        .into_iter()
                        .map(|l| match l {
                            License::Id(id) | License::Expression(id) => {
                                json!({"license": {"id": id}})
                            }
                            License::Ref { name, .. } => json!({"license": {"name": name}}),
                        })
                        .collect(),
                )
            };
        }
        let props = c["properties"].as_array_mut().expect("array");
        for (name, value) in [
            (SOURCE_PACKAGE, &p.source_name),
            (SOURCE_VERSION, &p.source_version),
            (ARCH, &p.arch),
            (IDENTIFIED_FROM, &p.identified_from),
        ] {
            if let Some(v) = value {
                props.push(property(name, v));
            }
        }
        refs.push(bom_ref);
        components.push(c);
    }
    // What the catalogue knows of its own completeness, per kind of package; the image as a
    // whole is `unknown`: software copied in without package metadata is not inventoried.
    let mut compositions = vec![json!({
        "bom-ref": "composition:image",
        "aggregate": "unknown",
        "assemblies": ["image"],
    })];
    let mut gaps = Vec::new();
    for c in catalog.completeness() {
        // `refs` holds the operating system first when there is one, then each package.
        let offset = usize::from(catalog.distro.is_some());
        let assemblies: Vec<&String> = c.packages.iter().map(|i| &refs[i + offset]).collect();
        compositions.push(json!({
            "bom-ref": format!("composition:{}", c.kind),
            "aggregate": if c.gaps.is_empty() { "complete" } else { "incomplete" },
            "assemblies": assemblies,
        }));
        gaps.extend(
            c.gaps
                .iter()
                .map(|g| json!({"name": format!("cleanpipe:uncatalogued:{}", c.kind), "value": g})),
        );
    }
    let mut doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial(subject),
        "version": 1,
        "metadata": {
            "timestamp": subject.created,
            "tools": {"components": [{"type": "application", "name": "cleanpipe", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {
                "type": "container",
                "bom-ref": "image",
                "name": subject.name,
                "version": subject.digest.to_string(),
            },
        },
        "components": components,
        "dependencies": [{"ref": "image", "dependsOn": refs}],
        "compositions": compositions,
    });
    // The catalogue itself, so a rescan reads the same packages the scan gate read
    // ([`catalog`]): the format mark, each file not catalogued, each warning.
    let mut props = vec![property(CATALOG, CATALOG_FORMAT)];
    props.extend(gaps);
    for u in &catalog.uncatalogued {
        let value = serde_json::to_string(u).expect("an uncatalogued file serializes");
        props.push(property(UNCATALOGUED_FILE, &value));
    }
    props.extend(catalog.warnings.iter().map(|w| property(WARNING, w)));
    doc["metadata"]["properties"] = Value::Array(props);
    doc
}

fn property(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// The metadata property marking an SBOM whose properties carry the whole catalogue.
const CATALOG: &str = "cleanpipe:catalog";
/// Its value: bumped when the properties a rescan needs change.
const CATALOG_FORMAT: &str = "1";
const UNCATALOGUED_FILE: &str = "cleanpipe:uncatalogued-file";
const WARNING: &str = "cleanpipe:catalog-warning";
const SOURCE_PACKAGE: &str = "cleanpipe:source-package";
const SOURCE_VERSION: &str = "cleanpipe:source-version";
const ARCH: &str = "cleanpipe:arch";
const IDENTIFIED_FROM: &str = "cleanpipe:identified-from";
const DISTRO_CODENAME: &str = "cleanpipe:distro:codename";
const DISTRO_PRETTY_NAME: &str = "cleanpipe:distro:pretty-name";
const DISTRO_VERSION: &str = "cleanpipe:distro:version";
const DISTRO_ID_LIKE: &str = "cleanpipe:distro:id-like";
const DISTRO_NO_VERSION: &str = "cleanpipe:distro:no-version-id";

/// Why an SBOM cannot be read back as a catalogue.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not one cleanpipe wrote with the catalogue in it (another tool's, or an older
    /// cleanpipe's): what it leaves out (source packages, files not catalogued) would be
    /// read as clean.
    #[error("{0}")]
    NotACatalog(String),
    /// cleanpipe's, but a field is missing or malformed.
    #[error("{pointer}: {problem}")]
    Malformed { pointer: String, problem: String },
}

/// Read the catalogue back out of a CycloneDX document [`document`] wrote: the packages,
/// distribution, files not catalogued and warnings, exactly as the scan gate saw them
/// (licence names are not carried back: the scan does not use them). Anything else is refused
/// rather than read as a partial list.
pub fn catalog(doc: &Value) -> Result<Catalog, ReadError> {
    let malformed = |pointer: &str, problem: &str| ReadError::Malformed {
        pointer: pointer.to_string(),
        problem: problem.to_string(),
    };
    if doc["bomFormat"] != "CycloneDX" {
        return Err(ReadError::NotACatalog("not a CycloneDX document".into()));
    }
    let meta = props(&doc["metadata"]["properties"]);
    let writer = doc["metadata"]["tools"]["components"]
        .as_array()
        .and_then(|t| t.first())
        .and_then(|t| t["name"].as_str())
        .unwrap_or("an unnamed tool");
    match meta.iter().find(|(n, _)| *n == CATALOG) {
        Some((_, v)) if *v == CATALOG_FORMAT => {}
        Some((_, v)) => {
            return Err(ReadError::NotACatalog(format!(
                "its catalogue is in format {v}; this cleanpipe reads format {CATALOG_FORMAT}"
            )))
        }
        None => {
            return Err(ReadError::NotACatalog(format!(
                "written by {writer} without the catalogue cleanpipe {} records (`{CATALOG}`): source packages and the files not catalogued cannot be read from it",
                env!("CARGO_PKG_VERSION")
            )))
        }
    }
    let mut out = Catalog::default();
    for (name, value) in &meta {
        match *name {
            UNCATALOGUED_FILE => out.uncatalogued.push(
                serde_json::from_str::<Uncatalogued>(value)
                    .map_err(|e| malformed("/metadata/properties", &format!("{name}: {e}")))?,
            ),
            WARNING => out.warnings.push(value.to_string()),
            _ => {}
        }
    }
    let components = doc["components"]
        .as_array()
        .ok_or_else(|| malformed("/components", "missing"))?;
    for (i, c) in components.iter().enumerate() {
        let at = format!("/components/{i}");
        let text = |field: &str| -> Result<String, ReadError> {
            c[field]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| malformed(&format!("{at}/{field}"), "missing or not a string"))
        };
        let p = props(&c["properties"]);
        let get = |n: &str| p.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string());
        match c["type"].as_str() {
            Some("operating-system") => {
                let version = text("version")?;
                out.distro = Some(Distro {
                    id: text("name")?,
                    version_id: (get(DISTRO_NO_VERSION).is_none()).then_some(version),
                    codename: get(DISTRO_CODENAME),
                    pretty_name: get(DISTRO_PRETTY_NAME),
                    id_like: p
                        .iter()
                        .filter(|(k, _)| *k == DISTRO_ID_LIKE)
                        .map(|(_, v)| v.to_string())
                        .collect(),
                    version: get(DISTRO_VERSION),
                });
            }
            Some("library") => {
                let kind = get("cleanpipe:package:type").ok_or_else(|| {
                    malformed(&format!("{at}/properties"), "no cleanpipe:package:type")
                })?;
                let kind: Kind =
                    serde_json::from_value(Value::String(kind.clone())).map_err(|_| {
                        malformed(
                            &format!("{at}/properties"),
                            &format!("unknown package type `{kind}`"),
                        )
                    })?;
                let layer = get("cleanpipe:layer")
                    .ok_or_else(|| malformed(&format!("{at}/properties"), "no cleanpipe:layer"))?;
                out.packages.push(Package {
                    kind,
                    name: text("name")?,
                    version: text("version")?,
                    source_name: get(SOURCE_PACKAGE),
                    source_version: get(SOURCE_VERSION),
                    arch: get(ARCH),
                    licenses: vec![],
                    location: get("cleanpipe:location").ok_or_else(|| {
                        malformed(&format!("{at}/properties"), "no cleanpipe:location")
                    })?,
                    layer: Digest::parse(&layer).map_err(|e| {
                        malformed(
                            &format!("{at}/properties"),
                            &format!("cleanpipe:layer: {e}"),
                        )
                    })?,
                    purl: text("purl")?,
                    identified_from: get(IDENTIFIED_FROM),
                });
            }
            other => {
                return Err(malformed(
                    &format!("{at}/type"),
                    &format!("a component of type {other:?}, which cleanpipe does not write"),
                ))
            }
        }
    }
    Ok(out)
}

/// `properties` as (name, value) pairs; entries that are not both strings are left out.
fn props(v: &Value) -> Vec<(&str, &str)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p["name"].as_str()?, p["value"].as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn sample() -> Catalog {
        let pkg = |kind, name: &str, version: &str, purl: &str| Package {
            kind,
            name: name.into(),
            version: version.into(),
            source_name: None,
            source_version: None,
            arch: None,
            licenses: vec![],
            location: "/var/lib/dpkg/status".into(),
            layer: layer(1),
            purl: purl.into(),
            identified_from: None,
        };
        let mut deb = pkg(
            Kind::Deb,
            "libssl3",
            "3.0.11-1~deb12u2",
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
        );
        deb.source_name = Some("openssl".into());
        deb.source_version = Some("3.0.11-1~deb12u2".into());
        deb.arch = Some("amd64".into());
        let mut jar = pkg(
            Kind::Maven,
            "log4j-core",
            "2.14.1",
            "pkg:maven/unknown/log4j-core@2.14.1",
        );
        jar.location = "/app/lib/log4j-core-2.14.1.jar".into();
        jar.layer = layer(2);
        jar.identified_from = Some("file name".into());
        Catalog {
            distro: Some(Distro {
                id: "ubuntu".into(),
                version_id: Some("22.04".into()),
                codename: Some("jammy".into()),
                pretty_name: Some("Ubuntu 22.04.4 LTS".into()),
                id_like: vec!["debian".into()],
                version: Some("22.04.4 LTS (Jammy Jellyfish)".into()),
            }),
            packages: vec![deb.clone(), deb, jar],
            uncatalogued: vec![Uncatalogued {
                ecosystem: "Maven".into(),
                path: "/app/broken.jar".into(),
                layer: layer(2),
                reason: "not a zip archive".into(),
            }],
            warnings: vec!["unsafe path `../x` in a layer was ignored".into()],
        }
    }

    fn subject() -> Subject {
        Subject {
            name: "app".into(),
            digest: layer(9),
            created: "2026-12-07T00:00:00Z".into(),
            repository: None,
        }
    }

    #[test]
    fn the_catalogue_reads_back_as_the_scan_gate_saw_it() {
        let catalog = sample();
        let doc = document(&subject(), &catalog);
        let back = catalog_of(&doc);
        assert_eq!(back.distro, catalog.distro);
        assert_eq!(back.packages, catalog.packages);
        assert_eq!(back.uncatalogued, catalog.uncatalogued);
        assert_eq!(back.warnings, catalog.warnings);
        // A distribution without VERSION_ID stays without one.
        let mut bare = sample();
        bare.distro = Some(Distro {
            id: "wolfi".into(),
            ..Distro::default()
        });
        assert_eq!(catalog_of(&document(&subject(), &bare)).distro, bare.distro);
    }

    fn catalog_of(doc: &Value) -> Catalog {
        catalog(doc).expect("cleanpipe's own SBOM reads back")
    }

    #[test]
    fn sboms_without_the_catalogue_are_refused_not_read_as_partial() {
        let mut doc = document(&subject(), &sample());
        doc["metadata"]["properties"] = json!([]);
        doc["metadata"]["tools"]["components"][0]["name"] = json!("syft");
        let e = catalog(&doc).unwrap_err().to_string();
        assert!(e.contains("written by syft without the catalogue"), "{e}");
        let mut doc = document(&subject(), &sample());
        doc["components"][1]["properties"] = json!([]);
        let e = catalog(&doc).unwrap_err().to_string();
        assert!(
            e.starts_with("/components/1/properties: no cleanpipe:package:type"),
            "{e}"
        );
        let mut doc = document(&subject(), &sample());
        doc["metadata"]["properties"][0]["value"] = json!("0");
        assert!(catalog(&doc).unwrap_err().to_string().contains("format 0"));
        assert!(catalog(&json!({"spdxVersion": "SPDX-2.3"})).is_err());
    }
}
