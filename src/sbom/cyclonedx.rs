//! CycloneDX 1.5 JSON, deterministic: sorted components, the source date as timestamp and a
//! serial number derived from the image digest.

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::sbom::catalog::Catalog;
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
        components.push(json!({
            "type": "operating-system",
            "bom-ref": "os",
            "name": d.id,
            "version": d.version_id.clone().unwrap_or_default(),
        }));
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
        if let Some(src) = &p.source_name {
            c["properties"]
                .as_array_mut()
                .expect("array")
                .push(json!({"name": "cleanpipe:source-package", "value": src}));
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
    if !gaps.is_empty() {
        doc["metadata"]["properties"] = Value::Array(gaps);
    }
    doc
}
