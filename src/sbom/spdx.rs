//! SPDX 2.3 JSON, deterministic for the same image: sorted packages, the creation time from
//! the source date, and a namespace derived from the image digest.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::oci::types::Digest;
use crate::sbom::catalog::Catalog;
use crate::sbom::license::{self, License};
use crate::sbom::purl;

/// What the SBOM describes.
#[derive(Clone, Debug)]
pub struct Subject {
    /// `registry/repo` or a local name.
    pub name: String,
    pub digest: Digest,
    /// RFC 3339 creation time (the source date).
    pub created: String,
    pub repository: Option<String>,
}

fn spdx_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

pub fn document(subject: &Subject, catalog: &Catalog) -> Value {
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image",
        "name": subject.name,
        "versionInfo": subject.digest.to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl::oci(subject.repository.as_deref(), subject.digest.as_str()),
        }],
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    if let Some(d) = &catalog.distro {
        packages.push(json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": d.id,
            "versionInfo": d.version_id.clone().unwrap_or_else(|| "NOASSERTION".into()),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "OPERATING-SYSTEM",
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }
    let mut extracted: BTreeMap<String, String> = BTreeMap::new();
    for (i, p) in catalog.packages.iter().enumerate() {
        let id = spdx_id(&format!(
            "SPDXRef-Package-{}-{}-{}",
            p.kind.as_str(),
            p.name,
            i + 1
        ));
        let declared = match license::expression(&p.licenses) {
            Some((expr, licenses)) => {
                for l in licenses {
                    if let License::Ref { id, name } = l {
                        extracted.entry(id).or_insert(name);
                    }
                }
                expr
            }
            None => "NOASSERTION".into(),
        };
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared,
            "copyrightText": "NOASSERTION",
            "sourceInfo": format!("found in {} (layer {})", p.location, p.layer),
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
        });
        if let (Some(src), Some(ver)) = (&p.source_name, &p.source_version) {
            if src != &p.name || ver != &p.version {
                pkg["comment"] = json!(format!("source package {src} {ver}"));
            }
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    // What the catalogue knows of its own completeness, per kind of package, as annotations
    // on the image package.
    packages[0]["annotations"] = Value::Array(
        catalog
            .completeness()
            .iter()
            .map(|c| {
                let mut comment = format!(
                    "cleanpipe completeness of {} packages: {} ({} catalogued)",
                    c.kind,
                    if c.gaps.is_empty() {
                        "complete"
                    } else {
                        "incomplete"
                    },
                    c.packages.len()
                );
                for g in &c.gaps {
                    comment.push_str(&format!("; not catalogued: {g}"));
                }
                json!({
                    "annotationDate": subject.created,
                    "annotationType": "OTHER",
                    "annotator": format!("Tool: cleanpipe-{}", env!("CARGO_PKG_VERSION")),
                    "comment": comment,
                })
            })
            .collect(),
    );
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}@{}", subject.name, subject.digest),
        "documentNamespace": format!("https://spdx.org/spdxdocs/cleanpipe/{}/{}", spdx_id(&subject.name), subject.digest.hex()),
        "creationInfo": {
            "created": subject.created,
            "creators": [format!("Tool: cleanpipe-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !extracted.is_empty() {
        doc["hasExtractedLicensingInfos"] = Value::Array(
            extracted
                .into_iter()
                .map(|(id, name)| json!({
                    "licenseId": id,
                    "name": name,
                    "extractedText": format!("The package metadata names this license \"{name}\"; its text was not captured."),
                }))
                .collect(),
        );
    }
    doc
}
