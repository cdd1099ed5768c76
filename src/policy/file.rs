//! The deploy policy file (`cleanpipe verify IMAGE --policy policy.yaml`): who is trusted and
//! what the evidence must show, written once by a release engineer and kept under review,
//! instead of a command line per deploy job. README "Deploy policy" is its reference.
//!
//! Read like the pipeline file: unknown keys and wrong types are usage errors (exit 2) with
//! file:line:col, key path and a hint; values that parse but cannot work (a bad glob, an unknown
//! attestation type, a duration without a unit) are located the same way.

use std::path::Path;

use serde::Deserialize;

use super::{BasePattern, Policy, PolicyDocument};
use crate::error::{Error, Result};
use crate::oci::types::Digest;
use crate::pipeline::model::Severity as Threshold;
use crate::sign::attest;
use crate::sign::keys::PublicKey;
use crate::sign::trust::Trust;
use crate::yaml;

/// Policy files larger than this are refused unread: a policy is a page of YAML.
const MAX_POLICY_BYTES: u64 = 256 * 1024;
/// Where a structural error sends the reader.
const HINT: &str = "see \"Deploy policy\" in README.md for the keys a policy file takes";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    trust: TrustSection,
    #[serde(default)]
    require: RequireSection,
    provenance: Option<ProvenanceSection>,
    bases: Option<BasesSection>,
    vulnerabilities: Option<VulnerabilitiesSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustSection {
    /// Public keys (paths relative to the policy file, or https:// URLs); any one may sign.
    #[serde(default)]
    keys: Vec<String>,
    /// Keyless signers (certificate identity and OIDC issuer); any one may sign.
    #[serde(default)]
    identities: Vec<IdentitySection>,
    /// The trusted root of the identities' Sigstore instance (relative to the policy file);
    /// default: the public-good root.
    trusted_root: Option<String>,
    /// Accept certificates without an SCT (a private instance without a CT log).
    #[serde(default)]
    insecure_ignore_sct: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentitySection {
    identity: Option<String>,
    identity_regexp: Option<String>,
    issuer: Option<String>,
    issuer_regexp: Option<String>,
    #[serde(default)]
    github: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequireSection {
    /// Attestation types that must be present and verify: cosign's `--type` names or URIs.
    #[serde(default)]
    attestations: Vec<String>,
    /// An attested SBOM, SPDX or CycloneDX.
    #[serde(default)]
    sbom: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvenanceSection {
    source_repository: Option<String>,
    /// Globs the provenance's source ref must match one of (`refs/heads/main`, `refs/tags/v*`).
    #[serde(default)]
    refs: Vec<String>,
    /// Builder ids, one of which every provenance must name.
    #[serde(default)]
    builder_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasesSection {
    /// Patterns every image the build used must match one of (see [`BasePattern`]).
    allow: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VulnerabilitiesSection {
    /// The lowest severity that fails; `none` only requires an attested, readable scan.
    #[serde(default = "no_threshold")]
    fail_on: Threshold,
    /// How old the newest attested scan may be: `36h`, `7d`, `2w`.
    max_age: Option<String>,
}

fn no_threshold() -> Threshold {
    Threshold::None
}

/// A policy file, read and checked: the policy and the keys it trusts.
pub struct LoadedPolicy {
    pub policy: Policy,
    pub trust: Trust,
}

/// Read the policy at `path` and fetch its keys. `today` and `now` (Unix seconds) are the
/// verifier's clock, for waiver expiry and scan age.
pub async fn load(path: &Path, today: &str, now: i64) -> Result<LoadedPolicy> {
    use std::io::Read;
    let shown = path.display().to_string();
    let cannot_read = |why: String| {
        Error::usage(format!("cannot read the policy file `{shown}`: {why}"))
            .with_hint("pass the deploy policy with `--policy FILE`")
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_POLICY_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot_read(e.to_string()))?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(cannot_read(format!(
            "it is larger than {} KiB",
            MAX_POLICY_BYTES / 1024
        )));
    }
    let digest = Digest::of(&bytes);
    let text = String::from_utf8(bytes).map_err(|_| cannot_read("it is not UTF-8 text".into()))?;
    let file: PolicyFile = yaml::deserialize(&text, &shown, HINT)?;
    let at = |key_path: &[&str], message: String| yaml::error_at(&text, &shown, key_path, message);
    let mut policy = policy_of(&file, &at)?;
    policy.today = today.to_string();
    policy.now = now;
    policy.document = Some(PolicyDocument {
        uri: policy_uri(path),
        digest,
    });
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut keys = Vec::new();
    for (i, location) in file.trust.keys.iter().enumerate() {
        let key = PublicKey::fetch(location, &base_dir).await.map_err(|e| {
            let hint = e.hint().map(str::to_string);
            let err = at(&["trust", "keys", &i.to_string()], e.to_string());
            match hint {
                Some(h) => err.with_hint(h),
                None => err,
            }
        })?;
        keys.push(key);
    }
    let identities = identities_of(&file, &at)?;
    let keyless = if identities.is_empty() {
        None
    } else {
        let root = file.trust.trusted_root.as_ref().map(|p| base_dir.join(p));
        Some(crate::sign::identity::KeylessTrust::new(
            root.as_deref(),
            identities,
            file.trust.insecure_ignore_sct,
        )?)
    };
    let mut trust = Trust::with_keyless(keys, keyless)?;
    // A trusted root and keys: the keys' signatures must be logged under it.
    if let (false, Some(root)) = (file.trust.keys.is_empty(), &file.trust.trusted_root) {
        let path = base_dir.join(root);
        trust = trust.with_key_log(crate::sign::trust::KeyLog {
            root: crate::sign::identity::read_trusted_root(&path)?,
            source: path.display().to_string(),
        });
    }
    Ok(LoadedPolicy { policy, trust })
}

/// The file's `trust.identities`, each checked and located.
fn identities_of(
    file: &PolicyFile,
    at: &dyn Fn(&[&str], String) -> Error,
) -> Result<Vec<crate::sign::identity::Identity>> {
    file.trust
        .identities
        .iter()
        .enumerate()
        .map(|(i, id)| {
            crate::sign::identity::identity_from(
                id.identity.as_deref(),
                id.identity_regexp.as_deref(),
                id.issuer.as_deref(),
                id.issuer_regexp.as_deref(),
                &id.github,
            )
            .map_err(|why| at(&["trust", "identities", &i.to_string()], why))
        })
        .collect()
}

/// The policy a parsed file says, each value checked and located.
fn policy_of(file: &PolicyFile, at: &dyn Fn(&[&str], String) -> Error) -> Result<Policy> {
    if file.version != 1 {
        return Err(at(
            &["version"],
            format!("policy version {} is not supported", file.version),
        )
        .with_hint("this cleanpipe reads `version: 1`"));
    }
    identities_of(file, at)?;
    if file.trust.keys.is_empty() && file.trust.identities.is_empty() {
        return Err(at(&["trust", "keys"], "no trusted key or identity is listed".into())
            .with_hint("list at least one public key (a path relative to the policy file, or an https:// URL), or `trust.identities`"));
    }
    let mut policy = Policy {
        require_sbom: file.require.sbom,
        ..Policy::default()
    };
    for (i, name) in file.require.attestations.iter().enumerate() {
        let Some(uri) = predicate_type(name) else {
            return Err(at(
                &["require", "attestations", &i.to_string()],
                format!("`{name}` is not an attestation type cleanpipe knows"),
            )
            .with_hint(format!(
                "use one of cosign's names ({}) or a predicate type URI",
                TYPE_NAMES
                    .iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if !policy.require_types.iter().any(|t| t == uri) {
            policy.require_types.push(uri.to_string());
        }
    }
    if let Some(p) = &file.provenance {
        policy.require_provenance = true;
        policy.source_repo = p.source_repository.clone();
        for (i, pattern) in p.refs.iter().enumerate() {
            glob::Pattern::new(pattern).map_err(|e| {
                at(
                    &["provenance", "refs", &i.to_string()],
                    format!("`{pattern}` is not a glob: {e}"),
                )
                .with_hint("`*` matches within one path segment, `**` across them: `refs/tags/v*`")
            })?;
        }
        policy.refs = p.refs.clone();
        policy.builder_ids = p.builder_ids.clone();
    }
    if let Some(b) = &file.bases {
        let mut allow = Vec::new();
        for (i, pattern) in b.allow.iter().enumerate() {
            allow.push(BasePattern::parse(pattern).map_err(|why| {
                at(&["bases", "allow", &i.to_string()], why).with_hint(
                    "write `registry.example/team/*`, `registry.example/**` or `registry.example/base@sha256:<hex>`",
                )
            })?);
        }
        policy.base_allow = Some(allow);
    }
    if let Some(v) = &file.vulnerabilities {
        policy.fail_on = Some(v.fail_on);
        if let Some(age) = &v.max_age {
            policy.max_scan_age = Some(parse_duration(age).map_err(|why| {
                at(&["vulnerabilities", "max_age"], why)
                    .with_hint("write a number and a unit: `90m`, `36h`, `7d`, `2w`")
            })?);
        }
    }
    Ok(policy)
}

/// cosign's `--type` names and the predicate types they stand for.
const TYPE_NAMES: &[(&str, &str)] = &[
    ("slsaprovenance1", attest::PREDICATE_SLSA_PROVENANCE_V1),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("spdx", attest::PREDICATE_SPDX),
    ("spdxjson", attest::PREDICATE_SPDX),
    ("cyclonedx", attest::PREDICATE_CYCLONEDX),
    ("vuln", attest::PREDICATE_VULN),
    ("openvex", "https://openvex.dev/ns"),
    ("vsa", super::vsa::PREDICATE_VSA),
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
];

/// The predicate type a policy names: a known name, or a URI as is.
fn predicate_type(name: &str) -> Option<&str> {
    TYPE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, uri)| *uri)
        .or_else(|| (name.starts_with("https://") || name.starts_with("http://")).then_some(name))
}

/// `7d` → seconds. Units: s, m, h, d, w.
fn parse_duration(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("`{unit}` in `{text}` is not a unit")),
    };
    number
        .checked_mul(seconds)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// How a VSA names the policy: a `file://` URI of the path as given.
fn policy_uri(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", absolute.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy> {
        let file: PolicyFile = yaml::deserialize(text, "p.yaml", HINT)?;
        policy_of(&file, &|k, m| yaml::error_at(text, "p.yaml", k, m))
    }

    #[test]
    fn a_full_policy_reads() {
        let p = parse(
            "version: 1\ntrust:\n  keys: [a.pub]\nrequire:\n  attestations: [slsaprovenance1, vuln, https://example.com/x]\n  sbom: true\nprovenance:\n  source_repository: https://github.com/acme/app\n  refs: [refs/heads/main, 'refs/tags/v*']\n  builder_ids: [https://b/1]\nbases:\n  allow: ['registry.example/hardened/*']\nvulnerabilities:\n  fail_on: high\n  max_age: 7d\n",
        )
        .unwrap();
        assert_eq!(
            p.require_types,
            [
                attest::PREDICATE_SLSA_PROVENANCE_V1,
                attest::PREDICATE_VULN,
                "https://example.com/x"
            ]
        );
        assert!(p.require_sbom && p.needs_provenance());
        assert_eq!(p.refs.len(), 2);
        assert_eq!(p.fail_on, Some(Threshold::High));
        assert_eq!(p.max_scan_age, Some(7 * 86_400));
        assert_eq!(p.base_allow.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn errors_are_located() {
        let cases = [
            (
                "version: 1\ntrust:\n  keys: [a.pub]\n  kes: []\n",
                "p.yaml:4:",
            ),
            ("version: 1\ntrust:\n  keys: a.pub\n", "p.yaml:3:"),
            (
                "version: 1\ntrust:\n  keys: [a.pub]\nrequire:\n  attestations:\n    - slsa\n",
                "p.yaml:6:",
            ),
            (
                "version: 1\ntrust:\n  keys: [a.pub]\nvulnerabilities:\n  max_age: 7\n",
                "p.yaml:5:",
            ),
            (
                "version: 1\ntrust:\n  keys: [a.pub]\nprovenance:\n  refs:\n    - 'refs/[x'\n",
                "p.yaml:6:",
            ),
            ("version: 2\ntrust:\n  keys: [a.pub]\n", "p.yaml:1:"),
            ("version: 1\ntrust:\n  keys: []\n", "p.yaml:3:"),
            (
                "version: 1\ntrust:\n  keys: [a.pub]\n  identities: [{issuer: x}]\n",
                "p.yaml:4:",
            ),
            (
                "version: 1\ntrust:\n  identities:\n    - {identity: a, issuer: b, github: {branch: main}}\n",
                "p.yaml:4:",
            ),
            (
                "version: 1\ntrust:\n  keys: [a.pub]\nbases:\n  allow: ['Registry/X@sha256:12']\n",
                "p.yaml:5:",
            ),
        ];
        for (text, location) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().starts_with(location), "{text}: {err}");
            assert_eq!(err.exit_code(), crate::ExitCode::Usage, "{text}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("7y").is_err());
        assert!(parse_duration("99999999999999999999w").is_err());
    }
}
