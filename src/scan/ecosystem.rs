//! Which OSV ecosystem an installed package's advisories are filed under, with OSV's exact
//! ecosystem strings (the osv-schema's ecosystem list): one table of distributions
//! ([`DISTRIBUTIONS`]) and the language ecosystems. A package that no row covers is not checked,
//! and says why ([`Unchecked`]): never silently clean.

use crate::sbom::catalog::{Distro, Kind, Package};
use crate::scan::version::Scheme;

/// How one package is looked up in an OSV database.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    /// The ecosystem as reports name it (`Ubuntu:22.04:LTS`, `Red Hat:enterprise_linux:9`,
    /// `PyPI`).
    pub ecosystem: String,
    /// The names its advisories may be filed under, the preferred first.
    pub names: Vec<String>,
    pub version: String,
    pub scheme: Scheme,
    /// The record ecosystem strings that apply: exact strings, or prefixes ending in `*`.
    accepts: Vec<String>,
}

impl Lookup {
    /// The part before the first `:` (what the database index is keyed by).
    pub fn base(&self) -> &str {
        self.ecosystem.split(':').next().unwrap_or(&self.ecosystem)
    }

    /// Whether an `affected[]` entry with this ecosystem string applies to the package.
    pub fn accepts(&self, ecosystem: &str) -> bool {
        self.accepts.iter().any(|a| match a.strip_suffix('*') {
            Some(prefix) => ecosystem.starts_with(prefix),
            None => a == ecosystem,
        })
    }
}

/// A package that cannot be matched to advisories, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Unchecked {
    /// The ecosystem it would belong to (`Fedora:40`, `deb (unknown distribution)`).
    pub ecosystem: String,
    pub reason: String,
}

/// Which names a distribution files advisories under.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Names {
    /// The source package (dpkg's `Source`, apk's origin, the source rpm).
    Source,
    /// The binary package, then the source package.
    BinaryThenSource,
}

/// How a distribution's releases map to OSV ecosystem strings.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Release {
    /// `Debian:12`: the major version.
    Major,
    /// `Alpine:v3.19`: `v` and major.minor.
    AlpineBranch,
    /// `Ubuntu:22.04:LTS` (`:LTS` for LTS releases), `Ubuntu:Pro:22.04:LTS`.
    Ubuntu,
    /// `Red Hat:enterprise_linux:9::appstream`: every stream of the major release.
    RedHatStreams,
    /// `Rocky Linux:9`, or the ecosystem without a release.
    MajorOrNone,
    /// `Mageia:9`, `Photon OS:5.0`: VERSION_ID as written.
    VersionId,
    /// `Azure Linux:3.0` (also `Azure Linux:3`).
    VersionIdOrMajor,
    /// `openSUSE:Leap 15.5`, `SUSE:Linux Enterprise Server 15 SP5`: PRETTY_NAME without the
    /// vendor word.
    PrettyName(&'static str),
    /// `Wolfi`, `Chainguard`, `CleanStart`, `MinimOS`: one rolling ecosystem.
    Rolling,
}

/// A distribution cleanpipe matches: os-release `ID`, package kind, OSV ecosystem, version
/// ordering, names, and whether it was tried on a real image here.
struct Distribution {
    ids: &'static [&'static str],
    kind: Kind,
    ecosystem: &'static str,
    release: Release,
    scheme: Scheme,
    names: Names,
    /// `false`: recognised from the distribution's and OSV's documentation only (docs say so).
    examined_here: bool,
}

/// Every distribution osv.dev publishes advisories for that cleanpipe recognises. An image of
/// any other distribution has its system packages counted as unchecked.
const DISTRIBUTIONS: &[Distribution] = &[
    row(
        &["debian"],
        Kind::Deb,
        "Debian",
        Release::Major,
        Scheme::Dpkg,
        Names::Source,
        true,
    ),
    row(
        &["ubuntu"],
        Kind::Deb,
        "Ubuntu",
        Release::Ubuntu,
        Scheme::Dpkg,
        Names::Source,
        false,
    ),
    row(
        &["alpine"],
        Kind::Apk,
        "Alpine",
        Release::AlpineBranch,
        Scheme::Apk,
        Names::Source,
        false,
    ),
    row(
        &["wolfi"],
        Kind::Apk,
        "Wolfi",
        Release::Rolling,
        Scheme::Apk,
        Names::BinaryThenSource,
        false,
    ),
    row(
        &["chainguard"],
        Kind::Apk,
        "Chainguard",
        Release::Rolling,
        Scheme::Apk,
        Names::BinaryThenSource,
        false,
    ),
    row(
        &["cleanstart", "clnstrt"],
        Kind::Apk,
        "CleanStart",
        Release::Rolling,
        Scheme::Apk,
        Names::BinaryThenSource,
        false,
    ),
    row(
        &["minimos"],
        Kind::Apk,
        "MinimOS",
        Release::Rolling,
        Scheme::Apk,
        Names::BinaryThenSource,
        false,
    ),
    row(
        &["rhel"],
        Kind::Rpm,
        "Red Hat",
        Release::RedHatStreams,
        Scheme::Rpm,
        Names::BinaryThenSource,
        false,
    ),
    row(
        &["rocky"],
        Kind::Rpm,
        "Rocky Linux",
        Release::MajorOrNone,
        Scheme::Rpm,
        Names::Source,
        false,
    ),
    row(
        &["almalinux"],
        Kind::Rpm,
        "AlmaLinux",
        Release::MajorOrNone,
        Scheme::Rpm,
        Names::Source,
        false,
    ),
    row(
        &["opensuse-leap", "opensuse-tumbleweed", "opensuse"],
        Kind::Rpm,
        "openSUSE",
        Release::PrettyName("openSUSE"),
        Scheme::Rpm,
        Names::Source,
        false,
    ),
    row(
        &["sles", "sle-micro", "sles_sap"],
        Kind::Rpm,
        "SUSE",
        Release::PrettyName("SUSE"),
        Scheme::Rpm,
        Names::Source,
        false,
    ),
    row(
        &["mageia"],
        Kind::Rpm,
        "Mageia",
        Release::VersionId,
        Scheme::Rpm,
        Names::Source,
        false,
    ),
    row(
        &["photon"],
        Kind::Rpm,
        "Photon OS",
        Release::VersionId,
        Scheme::Rpm,
        Names::BinaryThenSource,
        false,
    ),
    row(
        &["azurelinux", "mariner"],
        Kind::Rpm,
        "Azure Linux",
        Release::VersionIdOrMajor,
        Scheme::Rpm,
        Names::BinaryThenSource,
        false,
    ),
];

#[allow(clippy::too_many_arguments)]
const fn row(
    ids: &'static [&'static str],
    kind: Kind,
    ecosystem: &'static str,
    release: Release,
    scheme: Scheme,
    names: Names,
    examined_here: bool,
) -> Distribution {
    Distribution {
        ids,
        kind,
        ecosystem,
        release,
        scheme,
        names,
        examined_here,
    }
}

/// Distributions (by os-release `ID`) whose packages osv.dev has no advisories for: said by name.
const NO_ADVISORY_SOURCE: &[(&str, &str)] = &[
    ("fedora", "Fedora"),
    ("centos", "CentOS"),
    ("amzn", "Amazon Linux"),
    ("ol", "Oracle Linux"),
];

/// The table as documentation rows: (os-release IDs, package kind, OSV ecosystem, examined on a
/// real image here). `docs/scanning.md` is checked against it by a test.
pub fn documented() -> Vec<(String, &'static str, &'static str, bool)> {
    DISTRIBUTIONS
        .iter()
        .map(|d| {
            (
                d.ids.join(", "),
                d.kind.as_str(),
                d.ecosystem,
                d.examined_here,
            )
        })
        .collect()
}

/// Whether cleanpipe can match packages to records filed under `ecosystem` (a full string).
pub fn matchable(ecosystem: &str) -> bool {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    matches!(
        base,
        "PyPI" | "npm" | "crates.io" | "Go" | "Maven" | "RubyGems" | "Packagist" | "NuGet"
    ) || DISTRIBUTIONS.iter().any(|d| d.ecosystem == base)
}

/// How `p` is looked up, or why it cannot be.
pub fn lookup(p: &Package, distro: Option<&Distro>) -> Result<Lookup, Unchecked> {
    let language = |ecosystem: &str, scheme: Scheme, version: String| {
        Ok(Lookup {
            ecosystem: ecosystem.to_string(),
            names: vec![p.name.clone()],
            version,
            scheme,
            accepts: vec![ecosystem.to_string()],
        })
    };
    match p.kind {
        Kind::Python => language("PyPI", Scheme::Pep440, p.version.clone()),
        Kind::Npm => language("npm", Scheme::Semver, p.version.clone()),
        Kind::Cargo => language("crates.io", Scheme::Semver, p.version.clone()),
        Kind::Go => {
            // Go advisories write versions without the `v`, and the toolchain as `stdlib`.
            let mut v = p.version.trim_start_matches('v').to_string();
            if p.name == "stdlib" && v.matches('.').count() == 1 {
                v.push_str(".0");
            }
            language("Go", Scheme::Semver, v)
        }
        Kind::Maven => match &p.identified_from {
            // OSV names Maven packages `groupId:artifactId`; only pom.properties gives both.
            Some(from) => Err(Unchecked {
                ecosystem: "Maven".into(),
                reason: format!(
                    "identified only from its {from}: no Maven groupId:artifactId to match \
                     advisories against"
                ),
            }),
            None => language("Maven", Scheme::Maven, p.version.clone()),
        },
        Kind::Gem => language("RubyGems", Scheme::RubyGems, p.version.clone()),
        Kind::Composer => language("Packagist", Scheme::Packagist, p.version.clone()),
        Kind::Nuget => language("NuGet", Scheme::NuGet, p.version.clone()),
        Kind::Runtime => Err(Unchecked {
            ecosystem: "runtime".into(),
            reason: "a language runtime installed without a package manager: no OSV ecosystem \
                     carries its advisories"
                .into(),
        }),
        Kind::Deb | Kind::Apk | Kind::Rpm => system_package(p, distro),
        Kind::Other => Err(Unchecked {
            ecosystem: "other".into(),
            reason: "a package type cleanpipe has no advisory matching for".into(),
        }),
    }
}

fn system_package(p: &Package, distro: Option<&Distro>) -> Result<Lookup, Unchecked> {
    let kind = p.kind.as_str();
    let Some(d) = distro else {
        return Err(Unchecked {
            ecosystem: format!("{kind} (unknown distribution)"),
            reason: "the image has no /etc/os-release (or release file) naming its distribution"
                .into(),
        });
    };
    let version_id = d.version_id.as_deref().unwrap_or("");
    let label = || format!("{} {version_id}", d.id).trim().to_string();
    let Some(row) = DISTRIBUTIONS
        .iter()
        .find(|r| r.kind == p.kind && r.ids.contains(&d.id.as_str()))
    else {
        let reason = if let Some((_, name)) = NO_ADVISORY_SOURCE.iter().find(|(id, _)| *id == d.id)
        {
            format!("{name} has no advisory source on osv.dev")
        } else if DISTRIBUTIONS.iter().any(|r| r.ids.contains(&d.id.as_str())) {
            format!("{kind} packages are not how `{}` ships its packages", d.id)
        } else if d.id_like.is_empty() {
            format!(
                "distribution `{}` has no advisory source cleanpipe knows",
                d.id
            )
        } else {
            format!(
                "distribution `{}` (like {}) has no advisory source cleanpipe knows; a derivative's packages are not its parent's",
                d.id,
                d.id_like.join(", ")
            )
        };
        return Err(Unchecked {
            ecosystem: label(),
            reason,
        });
    };
    let major = version_id.split('.').next().unwrap_or("");
    let need_version = |what: &str| Unchecked {
        ecosystem: label(),
        reason: format!("os-release has no {what}, so the release's advisories cannot be chosen"),
    };
    let e = row.ecosystem;
    let (ecosystem, accepts): (String, Vec<String>) = match row.release {
        Release::Major => {
            if major.is_empty() || !major.chars().all(|c| c.is_ascii_digit()) {
                return Err(need_version("numeric VERSION_ID"));
            }
            let s = format!("{e}:{major}");
            (s.clone(), vec![s])
        }
        Release::AlpineBranch => {
            let branch: Vec<&str> = version_id.split('.').take(2).collect();
            if branch.len() < 2 {
                return Err(need_version("VERSION_ID (major.minor)"));
            }
            let s = format!("{e}:v{}", branch.join("."));
            (s.clone(), vec![s])
        }
        Release::Ubuntu => {
            if version_id.is_empty() {
                return Err(need_version("VERSION_ID"));
            }
            let lts = [d.version.as_deref(), d.pretty_name.as_deref()]
                .into_iter()
                .flatten()
                .any(|v| v.contains("LTS"));
            let s = if lts {
                format!("{e}:{version_id}:LTS")
            } else {
                format!("{e}:{version_id}")
            };
            let mut accepts = vec![s.clone(), format!("{e}:{version_id}")];
            if lts {
                // Ubuntu Pro (ESM) fixes for the same release.
                accepts.push(format!("{e}:Pro:{version_id}:LTS"));
            }
            (s, accepts)
        }
        Release::RedHatStreams => {
            if major.is_empty() {
                return Err(need_version("VERSION_ID"));
            }
            (
                format!("{e}:enterprise_linux:{major}"),
                vec![format!("{e}:enterprise_linux:{major}::*")],
            )
        }
        Release::MajorOrNone => {
            if major.is_empty() {
                return Err(need_version("VERSION_ID"));
            }
            let s = format!("{e}:{major}");
            (s.clone(), vec![s, e.to_string()])
        }
        Release::VersionId => {
            if version_id.is_empty() {
                return Err(need_version("VERSION_ID"));
            }
            let s = format!("{e}:{version_id}");
            (s.clone(), vec![s])
        }
        Release::VersionIdOrMajor => {
            if version_id.is_empty() {
                return Err(need_version("VERSION_ID"));
            }
            let s = format!("{e}:{version_id}");
            (s.clone(), vec![s, format!("{e}:{major}")])
        }
        Release::PrettyName(vendor) => {
            let Some(pretty) = d.pretty_name.as_deref().filter(|p| !p.is_empty()) else {
                return Err(need_version("PRETTY_NAME"));
            };
            let release = pretty
                .strip_prefix(vendor)
                .map(str::trim_start)
                .unwrap_or(pretty);
            let s = format!("{e}:{release}");
            (s.clone(), vec![s, format!("{e}:{pretty}")])
        }
        Release::Rolling => (e.to_string(), vec![e.to_string()]),
    };
    let source = p.source_name.clone().filter(|s| !s.is_empty());
    let names = match (row.names, source) {
        (Names::Source, Some(src)) => vec![src],
        (Names::BinaryThenSource, Some(src)) if src != p.name => vec![p.name.clone(), src],
        _ => vec![p.name.clone()],
    };
    // dpkg files advisories under the source package's version, which can differ from the
    // binary's (binNMUs, `Source: x (1.2-1)`).
    let version = match p.kind {
        Kind::Deb => p
            .source_version
            .clone()
            .unwrap_or_else(|| p.version.clone()),
        _ => p.version.clone(),
    };
    Ok(Lookup {
        ecosystem,
        names,
        version,
        scheme: row.scheme,
        accepts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distro(os_release: &[(&str, &str)]) -> Distro {
        let get = |k: &str| {
            os_release
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        };
        Distro {
            id: get("ID").unwrap(),
            version_id: get("VERSION_ID"),
            codename: None,
            pretty_name: get("PRETTY_NAME"),
            id_like: get("ID_LIKE")
                .map(|l| l.split(' ').map(String::from).collect())
                .unwrap_or_default(),
            version: get("VERSION"),
        }
    }

    fn package(kind: Kind, name: &str, source: Option<&str>) -> Package {
        Package {
            kind,
            name: name.into(),
            version: "1.0-r0".into(),
            source_name: source.map(String::from),
            source_version: None,
            arch: None,
            licenses: vec![],
            location: String::new(),
            layer: crate::oci::types::Digest::of(b""),
            purl: String::new(),
            identified_from: None,
        }
    }

    #[test]
    fn distributions_map_to_osv_ecosystem_strings() {
        let ubuntu = distro(&[
            ("ID", "ubuntu"),
            ("VERSION_ID", "22.04"),
            ("VERSION", "22.04.4 LTS (Jammy Jellyfish)"),
        ]);
        let l = lookup(
            &package(Kind::Deb, "libssl3", Some("openssl")),
            Some(&ubuntu),
        )
        .unwrap();
        assert_eq!(l.ecosystem, "Ubuntu:22.04:LTS");
        assert_eq!(l.names, ["openssl"]);
        assert!(l.accepts("Ubuntu:22.04:LTS") && l.accepts("Ubuntu:Pro:22.04:LTS"));
        assert!(!l.accepts("Ubuntu:20.04:LTS") && !l.accepts("Ubuntu:Pro:20.04:LTS"));
        let interim = distro(&[
            ("ID", "ubuntu"),
            ("VERSION_ID", "24.10"),
            ("VERSION", "24.10 (Oracular Oriole)"),
        ]);
        let l = lookup(&package(Kind::Deb, "bash", None), Some(&interim)).unwrap();
        assert_eq!(l.ecosystem, "Ubuntu:24.10");

        let wolfi = distro(&[("ID", "wolfi"), ("VERSION_ID", "20230201")]);
        let l = lookup(
            &package(Kind::Apk, "libcrypto3", Some("openssl")),
            Some(&wolfi),
        )
        .unwrap();
        assert_eq!(
            (l.ecosystem.as_str(), l.names.clone()),
            ("Wolfi", vec!["libcrypto3".to_string(), "openssl".into()])
        );
        assert!(l.accepts("Wolfi") && !l.accepts("Alpine:v3.19") && !l.accepts("Chainguard"));

        let rhel = distro(&[("ID", "rhel"), ("VERSION_ID", "9.4"), ("ID_LIKE", "fedora")]);
        let l = lookup(
            &package(Kind::Rpm, "openssl-libs", Some("openssl")),
            Some(&rhel),
        )
        .unwrap();
        assert_eq!(l.ecosystem, "Red Hat:enterprise_linux:9");
        assert!(
            l.accepts("Red Hat:enterprise_linux:9::appstream")
                && l.accepts("Red Hat:enterprise_linux:9::baseos")
        );
        assert!(
            !l.accepts("Red Hat:enterprise_linux:8::baseos")
                && !l.accepts("Red Hat:enterprise_linux:90::x")
        );

        let leap = distro(&[
            ("ID", "opensuse-leap"),
            ("VERSION_ID", "15.5"),
            ("PRETTY_NAME", "openSUSE Leap 15.5"),
        ]);
        let l = lookup(
            &package(Kind::Rpm, "libopenssl3", Some("openssl-3")),
            Some(&leap),
        )
        .unwrap();
        assert_eq!(
            (l.ecosystem.as_str(), l.names.clone()),
            ("openSUSE:Leap 15.5", vec!["openssl-3".to_string()])
        );

        let alpine = distro(&[("ID", "alpine"), ("VERSION_ID", "3.19.1")]);
        assert_eq!(
            lookup(&package(Kind::Apk, "musl", None), Some(&alpine))
                .unwrap()
                .ecosystem,
            "Alpine:v3.19"
        );
        let debian = distro(&[("ID", "debian"), ("VERSION_ID", "12")]);
        assert_eq!(
            lookup(&package(Kind::Deb, "bash", None), Some(&debian))
                .unwrap()
                .ecosystem,
            "Debian:12"
        );
    }

    #[test]
    fn what_cannot_be_matched_says_why() {
        let reason =
            |d: Option<&Distro>, kind| lookup(&package(kind, "x", None), d).unwrap_err().reason;
        assert!(reason(None, Kind::Deb).contains("no /etc/os-release"));
        let fedora = distro(&[("ID", "fedora"), ("VERSION_ID", "40")]);
        assert!(reason(Some(&fedora), Kind::Rpm).contains("Fedora has no advisory source"));
        let pop = distro(&[
            ("ID", "pop"),
            ("VERSION_ID", "22.04"),
            ("ID_LIKE", "ubuntu debian"),
        ]);
        assert!(reason(Some(&pop), Kind::Deb).contains("(like ubuntu, debian)"));
        let sid = Distro {
            id: "debian".into(),
            ..Default::default()
        };
        assert!(reason(Some(&sid), Kind::Deb).contains("numeric VERSION_ID"));
        let debian = distro(&[("ID", "debian"), ("VERSION_ID", "12")]);
        assert!(reason(Some(&debian), Kind::Rpm).contains("not how `debian` ships"));
    }
}
