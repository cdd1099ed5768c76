//! Package URLs (purl-spec) for the package kinds cleanpipe catalogs.

use crate::sbom::catalog::Distro;

/// Percent-encode everything but unreserved characters (and `:` in versions, as the spec allows).
pub fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn qualifiers(pairs: &[(&str, Option<String>)]) -> String {
    let mut q: Vec<(String, String)> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), encode(v, b"")))
        })
        .collect();
    q.sort();
    if q.is_empty() {
        return String::new();
    }
    format!(
        "?{}",
        q.into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    )
}

fn distro_qualifier(d: Option<&Distro>) -> Option<String> {
    let d = d?;
    Some(match &d.version_id {
        Some(v) => format!("{}-{v}", d.id),
        None => d.id.clone(),
    })
}

pub fn deb(d: Option<&Distro>, name: &str, version: &str, arch: Option<&str>) -> String {
    let vendor = d.map(|d| d.id.as_str()).unwrap_or("debian");
    format!(
        "pkg:deb/{}/{}@{}{}",
        encode(&vendor.to_ascii_lowercase(), b""),
        encode(&name.to_ascii_lowercase(), b""),
        encode(version, b":"),
        qualifiers(&[
            ("arch", arch.map(String::from)),
            ("distro", distro_qualifier(d))
        ])
    )
}

pub fn apk(d: Option<&Distro>, name: &str, version: &str, arch: Option<&str>) -> String {
    let vendor = d.map(|d| d.id.as_str()).unwrap_or("alpine");
    format!(
        "pkg:apk/{}/{}@{}{}",
        encode(&vendor.to_ascii_lowercase(), b""),
        encode(&name.to_ascii_lowercase(), b""),
        encode(version, b""),
        qualifiers(&[
            ("arch", arch.map(String::from)),
            ("distro", distro_qualifier(d))
        ])
    )
}

/// `pkg:rpm/<vendor>/<name>@<version>-<release>?arch=…&distro=…&epoch=…` (name keeps its case).
pub fn rpm(d: Option<&Distro>, h: &crate::sbom::rpmdb::Header) -> String {
    let vendor = d.map(|d| d.id.as_str()).unwrap_or("redhat");
    format!(
        "pkg:rpm/{}/{}@{}{}",
        encode(&vendor.to_ascii_lowercase(), b""),
        encode(&h.name, b""),
        encode(&format!("{}-{}", h.version, h.release), b""),
        qualifiers(&[
            ("arch", h.arch.clone()),
            ("distro", distro_qualifier(d)),
            ("epoch", h.epoch.filter(|e| *e > 0).map(|e| e.to_string())),
        ])
    )
}

/// `pkg:golang/<module path>@<version>`: the path's segments are namespace and name, which the
/// type definition says are lowercased.
pub fn golang(module: &str, version: &str) -> String {
    let path: Vec<String> = module
        .split('/')
        .map(|s| encode(&s.to_ascii_lowercase(), b""))
        .collect();
    format!("pkg:golang/{}@{}", path.join("/"), encode(version, b""))
}

pub fn cargo(name: &str, version: &str) -> String {
    format!("pkg:cargo/{}@{}", encode(name, b""), encode(version, b""))
}

/// PEP 503 normalisation: lowercase, runs of `-_.` become `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}

pub fn pypi(name: &str, version: &str) -> String {
    format!(
        "pkg:pypi/{}@{}",
        encode(&pep503(name), b""),
        encode(version, b"")
    )
}

pub fn npm(name: &str, version: &str) -> String {
    let path = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => {
            format!("{}/{}", encode(scope, b""), encode(n, b""))
        }
        _ => encode(name, b""),
    };
    format!("pkg:npm/{path}@{}", encode(version, b""))
}

/// `pkg:maven/<groupId>/<artifactId>@<version>` (the type requires the groupId).
pub fn maven(group: &str, artifact: &str, version: &str) -> String {
    format!(
        "pkg:maven/{}/{}@{}",
        encode(group, b""),
        encode(artifact, b""),
        encode(version, b"")
    )
}

pub fn gem(name: &str, version: &str) -> String {
    format!("pkg:gem/{}@{}", encode(name, b""), encode(version, b""))
}

/// `pkg:composer/<vendor>/<name>@<version>`: Composer names are case-insensitive, so lowercased.
pub fn composer(name: &str, version: &str) -> String {
    let path: Vec<String> = name
        .split('/')
        .map(|s| encode(&s.to_ascii_lowercase(), b""))
        .collect();
    format!("pkg:composer/{}@{}", path.join("/"), encode(version, b""))
}

pub fn nuget(name: &str, version: &str) -> String {
    format!("pkg:nuget/{}@{}", encode(name, b""), encode(version, b""))
}

/// `pkg:generic/<name>@<version>`: software no package ecosystem describes (a runtime).
pub fn generic(name: &str, version: &str) -> String {
    format!("pkg:generic/{}@{}", encode(name, b""), encode(version, b""))
}

/// `pkg:oci/<name>@<digest>?repository_url=…` for the image itself.
pub fn oci(repository: Option<&str>, digest: &str) -> String {
    let name = repository
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or("image");
    format!(
        "pkg:oci/{}@{}{}",
        encode(&name.to_ascii_lowercase(), b""),
        encode(digest, b""),
        qualifiers(&[("repository_url", repository.map(String::from))])
    )
}
