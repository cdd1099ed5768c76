//! Turning license names from package metadata into valid SPDX license expressions: known SPDX
//! identifiers pass, Debian's short names are mapped, anything else becomes a `LicenseRef-…`
//! with its text recorded (what SPDX validators require).

const SPDX_IDS: &[&str] = &[
    "0BSD",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.1",
    "Apache-2.0",
    "Artistic-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "BlueOak-1.0.0",
    "CC0-1.0",
    "CC-BY-4.0",
    "EPL-1.0",
    "EPL-2.0",
    "GPL-1.0-or-later",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MIT",
    "MIT-0",
    "MPL-1.1",
    "MPL-2.0",
    "OpenSSL",
    "PSF-2.0",
    "PostgreSQL",
    "Python-2.0",
    "Ruby",
    "Unlicense",
    "WTFPL",
    "X11",
    "Zlib",
    "bzip2-1.0.6",
    "curl",
];

/// Debian `copyright` short names → SPDX identifiers.
const DEBIAN_NAMES: &[(&str, &str)] = &[
    ("GPL-1+", "GPL-1.0-or-later"),
    ("GPL-2", "GPL-2.0-only"),
    ("GPL-2+", "GPL-2.0-or-later"),
    ("GPL-3", "GPL-3.0-only"),
    ("GPL-3+", "GPL-3.0-or-later"),
    ("LGPL-2", "LGPL-2.0-only"),
    ("LGPL-2+", "LGPL-2.0-or-later"),
    ("LGPL-2.1", "LGPL-2.1-only"),
    ("LGPL-2.1+", "LGPL-2.1-or-later"),
    ("LGPL-3", "LGPL-3.0-only"),
    ("LGPL-3+", "LGPL-3.0-or-later"),
    ("BSD-2-clause", "BSD-2-Clause"),
    ("BSD-3-clause", "BSD-3-Clause"),
    ("Expat", "MIT"),
    ("Apache-2", "Apache-2.0"),
    ("MPL-2", "MPL-2.0"),
    ("zlib", "Zlib"),
    ("CC0", "CC0-1.0"),
];

/// A license as SPDX can carry it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum License {
    /// A listed SPDX identifier.
    Id(String),
    /// Not on the SPDX list: `LicenseRef-<id>` plus the original name.
    Ref { id: String, name: String },
    /// A compound expression of listed identifiers, as rpm and npm metadata often give
    /// (`GPL-2.0-or-later AND BSD-3-Clause`), kept with its AND/OR meaning.
    Expression(String),
}

impl License {
    pub fn spdx(&self) -> &str {
        match self {
            License::Id(id) => id,
            License::Ref { id, .. } => id,
            License::Expression(e) => e,
        }
    }
}

/// A listed identifier, under its own or a Debian name.
fn listed(name: &str) -> Option<&'static str> {
    SPDX_IDS
        .iter()
        .find(|id| id.eq_ignore_ascii_case(name))
        .copied()
        .or_else(|| {
            DEBIAN_NAMES
                .iter()
                .find(|(d, _)| d.eq_ignore_ascii_case(name))
                .map(|(_, id)| *id)
        })
}

/// `A AND B OR C` where every operand is a listed identifier, normalised; `None` otherwise
/// (parentheses and `WITH` are not interpreted, such names become `LicenseRef-…`).
fn compound(name: &str) -> Option<String> {
    let tokens: Vec<&str> = name.split_whitespace().collect();
    if tokens.len() < 3 || tokens.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if i % 2 == 1 {
            match t.to_ascii_uppercase().as_str() {
                op @ ("AND" | "OR") => out.push(op.to_string()),
                _ => return None,
            }
        } else {
            out.push(listed(t)?.to_string());
        }
    }
    Some(out.join(" "))
}

/// Classify one license name from package metadata.
pub fn classify(name: &str) -> License {
    let name = name.trim();
    if let Some(expr) = compound(name) {
        return License::Expression(expr);
    }
    if let Some(id) = SPDX_IDS.iter().find(|id| id.eq_ignore_ascii_case(name)) {
        return License::Id(id.to_string());
    }
    if let Some((_, id)) = DEBIAN_NAMES
        .iter()
        .find(|(d, _)| d.eq_ignore_ascii_case(name))
    {
        return License::Id(id.to_string());
    }
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    License::Ref {
        id: format!("LicenseRef-{}", slug.trim_matches('-')),
        name: name.to_string(),
    }
}

/// The SPDX expression for a package's licenses (AND of all), or `None` when there are none.
pub fn expression(names: &[String]) -> Option<(String, Vec<License>)> {
    let mut licenses: Vec<License> = names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| classify(n))
        .collect();
    licenses.sort();
    licenses.dedup();
    if licenses.is_empty() {
        return None;
    }
    let many = licenses.len() > 1;
    let expr = licenses
        .iter()
        .map(|l| match l {
            License::Expression(e) if many => format!("({e})"),
            l => l.spdx().to_string(),
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    Some((expr, licenses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify("mit"), License::Id("MIT".into()));
        assert_eq!(classify("GPL-2+"), License::Id("GPL-2.0-or-later".into()));
        assert_eq!(
            classify("public domain"),
            License::Ref {
                id: "LicenseRef-public-domain".into(),
                name: "public domain".into()
            }
        );
        let (expr, _) = expression(&["MIT".into(), "GPL-2".into(), "MIT".into()]).unwrap();
        assert_eq!(expr, "GPL-2.0-only AND MIT");
        assert_eq!(
            classify("GPL-2.0-or-later and bsd-3-clause"),
            License::Expression("GPL-2.0-or-later AND BSD-3-Clause".into())
        );
        assert!(matches!(
            classify("MIT or Public Domain"),
            License::Ref { .. }
        ));
        let (expr, _) = expression(&["MIT OR Apache-2.0".into(), "Zlib".into()]).unwrap();
        assert_eq!(expr, "Zlib AND (MIT OR Apache-2.0)");
    }
}
