//! The deploy policy file (`cleanpipe verify IMAGE --policy policy.yaml`): who is trusted and
//! what the evidence must show, written once by a release engineer and kept under review,
//! instead of a command line per deploy job. README "Deploy policy" is its reference.
//!
//! Read like the pipeline file: unknown keys and wrong types are usage errors (exit 2) with
//! file:line:col, key path and a hint; values that parse but cannot work (a bad glob, an unknown
//! attestation type, a duration without a unit) are located the same way.
//!
//! A rule written is a rule applied: a section written with nothing under it (`vulnerabilities:`
//! with its keys commented out) is never read as a section left out. `provenance:`,
//! `vulnerabilities:` and `require.vsa:` then take their defaults (a provenance, a readable scan,
//! a passing summary, required); a section that would state nothing empty (`require:`,
//! `require.attestations:`, `bases:`, `provenance.refs:`, …) is a usage error at its line (see
//! [`yaml::null_is_empty`]).

use std::path::Path;

use serde::Deserialize;

use super::{BasePattern, BasePatternError, Policy, PolicyDocument};
use crate::error::{Error, Result};
use crate::oci::types::Digest;
use crate::scan::gate::Threshold;
use crate::sign::attest;
use crate::sign::keys::PublicKey;
use crate::sign::trust::Trust;
use crate::yaml;

/// Policy files larger than this are refused unread: a policy is a page of YAML.
const MAX_POLICY_BYTES: u64 = 256 * 1024;
/// Where a structural error sends the reader.
const HINT: &str = "see docs/guides/deploy-policy.md for the keys a policy file takes";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(deserialize_with = "yaml::null_is_error")]
    trust: TrustSection,
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    require: Option<RequireSection>,
    #[serde(default, deserialize_with = "yaml::null_is_empty")]
    provenance: Option<ProvenanceSection>,
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    bases: Option<BasesSection>,
    #[serde(default, deserialize_with = "yaml::null_is_empty")]
    vulnerabilities: Option<VulnerabilitiesSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustSection {
    /// Public keys (paths relative to the policy file, or https:// URLs); any one may sign.
    #[serde(default, deserialize_with = "yaml::null_is_empty")]
    keys: Vec<String>,
    /// Keyless signers (certificate identity and OIDC issuer); any one may sign.
    #[serde(default, deserialize_with = "yaml::null_is_empty")]
    identities: Vec<IdentitySection>,
    /// The trusted root of the identities' Sigstore instance (relative to the policy file);
    /// default: the public-good root. Written empty: an error (never the public-good root).
    #[serde(default, deserialize_with = "yaml::null_is_error")]
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
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    github: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequireSection {
    /// Attestation types that must be present and verify: cosign's `--type` names or URIs.
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    attestations: Option<Vec<String>>,
    /// An attested SBOM, SPDX or CycloneDX.
    #[serde(default)]
    sbom: Option<bool>,
    /// A verification summary that must be attached: PASSED, about this image, signed by a
    /// trusted key, and (when pinned) from this verifier about this policy.
    #[serde(default, deserialize_with = "yaml::null_is_empty")]
    vsa: Option<VsaSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VsaSection {
    /// The digest of the policy the summary must name (`sha256:<hex>`).
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    policy_digest: Option<String>,
    /// The URI of the policy the summary must name, exactly.
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    policy_uri: Option<String>,
    /// The verifier id the summary must name, exactly.
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    verifier_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvenanceSection {
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    source_repository: Option<String>,
    /// Globs the provenance's source ref must match one of (`refs/heads/main`, `refs/tags/v*`).
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    refs: Option<Vec<String>>,
    /// Builder ids, one of which every provenance must name.
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    builder_ids: Option<Vec<String>>,
    /// A provenance that says its build ran on a dirty work tree passes the source rules (and
    /// `--commit`) only when true.
    #[serde(default)]
    allow_dirty: bool,
    /// The commit every provenance must name (a full SHA, or a prefix of 7+ characters); in
    /// a deploy job usually `--commit` instead (recorded in the summary's policy annotations).
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    commit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasesSection {
    /// Patterns every image the build used must match one of (see [`BasePattern`]); `[]`
    /// allows none.
    #[serde(deserialize_with = "yaml::null_is_error")]
    allow: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VulnerabilitiesSection {
    /// The lowest severity that fails; `none` only requires an attested, readable scan.
    #[serde(default = "no_threshold", deserialize_with = "yaml::null_is_error")]
    fail_on: Threshold,
    /// How old the newest attested scan may be: `36h`, `7d`, `2w`.
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    max_age: Option<String>,
    /// How old the vulnerability database of every attested scan may have been when the scan
    /// ran (its recorded fetch time to the scan's end): `48h`, `2d`.
    #[serde(default, deserialize_with = "yaml::null_is_error")]
    max_db_age: Option<String>,
    /// Accept scans that could not check every package, or that do not say what they checked.
    #[serde(default)]
    allow_incomplete_coverage: bool,
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
        commit_in_file: policy.commit.is_some(),
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
    let empty_list = |key_path: &[&str], what: &str| {
        at(
            key_path,
            format!("an empty list {what}: a rule written is a rule applied"),
        )
        .with_hint("list what it must hold, or delete the key")
    };
    let mut policy = Policy::default();
    let require = file.require.as_ref();
    if let Some(r) = require {
        if r.attestations.is_none() && r.sbom.is_none() && r.vsa.is_none() {
            return Err(at(&["require"], "`require` states no requirement".into())
                .with_hint("write `attestations`, `sbom` or `vsa` under it, or delete `require`"));
        }
        policy.require_sbom = r.sbom.unwrap_or(false);
    }
    let attestations = require.and_then(|r| r.attestations.as_deref());
    if attestations.is_some_and(<[String]>::is_empty) {
        return Err(empty_list(
            &["require", "attestations"],
            "requires no attestation",
        ));
    }
    for (i, name) in attestations.unwrap_or_default().iter().enumerate() {
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
    if let Some(vsa) = require.and_then(|r| r.vsa.as_ref()) {
        policy.require_vsa = Some(vsa_pins(vsa, at)?);
        if !policy
            .require_types
            .iter()
            .any(|t| t == super::vsa::PREDICATE_VSA)
        {
            policy
                .require_types
                .push(super::vsa::PREDICATE_VSA.to_string());
        }
    }
    if let Some(p) = &file.provenance {
        policy.require_provenance = true;
        policy.allow_dirty = p.allow_dirty;
        policy.source_repo = p.source_repository.clone();
        if let Some(c) = &p.commit {
            if c.len() < 7 || !c.chars().all(|ch| ch.is_ascii_hexdigit()) {
                return Err(at(
                    &["provenance", "commit"],
                    format!("`{c}` is not a commit SHA (7 to 40 hexadecimal characters)"),
                ));
            }
            policy.commit = Some(c.to_ascii_lowercase());
        }
        if p.refs.as_ref().is_some_and(Vec::is_empty) {
            return Err(empty_list(&["provenance", "refs"], "would allow any ref"));
        }
        if p.builder_ids.as_ref().is_some_and(Vec::is_empty) {
            return Err(empty_list(
                &["provenance", "builder_ids"],
                "would allow any builder",
            ));
        }
        let refs = p.refs.clone().unwrap_or_default();
        for (i, pattern) in refs.iter().enumerate() {
            glob::Pattern::new(pattern).map_err(|e| {
                at(
                    &["provenance", "refs", &i.to_string()],
                    format!("`{pattern}` is not a glob"),
                )
                .caused_by(e)
                .with_hint("`*` matches within one path segment, `**` across them: `refs/tags/v*`")
            })?;
        }
        policy.refs = refs;
        policy.builder_ids = p.builder_ids.clone().unwrap_or_default();
    }
    if let Some(b) = &file.bases {
        let mut allow = Vec::new();
        for (i, pattern) in b.allow.iter().enumerate() {
            allow.push(BasePattern::parse(pattern).map_err(|why| {
                let e = at(&["bases", "allow", &i.to_string()], why.to_string());
                match why {
                    BasePatternError::Glob { source, .. } => e.caused_by(source),
                    _ => e,
                }
                .with_hint(
                    "write `registry.example/team/*`, `registry.example/**` or `registry.example/base@sha256:<hex>`",
                )
            })?);
        }
        policy.base_allow = Some(allow);
    }
    if let Some(v) = &file.vulnerabilities {
        policy.fail_on = Some(v.fail_on);
        policy.allow_incomplete_coverage = v.allow_incomplete_coverage;
        if let Some(age) = &v.max_age {
            policy.max_scan_age = Some(parse_duration(age).map_err(|why| {
                at(&["vulnerabilities", "max_age"], why)
                    .with_hint("write a number and a unit: `90m`, `36h`, `7d`, `2w`")
            })?);
        }
        if let Some(age) = &v.max_db_age {
            policy.max_db_age = Some(parse_duration(age).map_err(|why| {
                at(&["vulnerabilities", "max_db_age"], why)
                    .with_hint("write a number and a unit: `36h`, `2d`")
            })?);
        }
    }
    Ok(policy)
}

/// `require.vsa`: what a required summary must name besides PASSED and this image.
fn vsa_pins(vsa: &VsaSection, at: &dyn Fn(&[&str], String) -> Error) -> Result<super::VsaPins> {
    if vsa.policy_digest.is_some() && vsa.policy_uri.is_some() {
        // Either pins the policy; both would be two ways of saying it that may disagree.
        return Err(at(
            &["require", "vsa"],
            "`policy_digest` and `policy_uri` exclude each other".into(),
        )
        .with_hint(
            "pin the policy by its digest (`sha256:<hex>` of the file's bytes), or by its URI",
        ));
    }
    let policy_digest = match &vsa.policy_digest {
        None => None,
        Some(text) => Some(Digest::parse(text.trim()).map_err(|_| {
            at(
                &["require", "vsa", "policy_digest"],
                format!("`{text}` is not `sha256:<64 hex>`"),
            )
            .with_hint("the SHA-256 of the policy file's bytes, as `sha256:<hex>` (`sha256sum policy.yaml`)")
        })?),
    };
    for (key, value) in [
        ("policy_uri", &vsa.policy_uri),
        ("verifier_id", &vsa.verifier_id),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(at(&["require", "vsa", key], format!("`{key}` is empty"))
                .with_hint("write the exact value the summary must name, or delete the key"));
        }
    }
    Ok(super::VsaPins {
        policy_digest,
        policy_uri: vsa.policy_uri.clone(),
        verifier_id: vsa.verifier_id.clone(),
    })
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
pub fn parse_duration(text: &str) -> std::result::Result<u64, String> {
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
        // A pattern that is not a glob: the message says which, the glob error is its cause.
        for text in [
            "version: 1\ntrust:\n  keys: [a.pub]\nprovenance:\n  refs:\n    - 'refs/[x'\n",
            "version: 1\ntrust:\n  keys: [a.pub]\nbases:\n  allow: ['registry.example/[x']\n",
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains("is not a glob"), "{err}");
            assert_eq!(err.causes().len(), 1, "{text}: {:?}", err.causes());
        }
    }

    const TRUST: &str = "version: 1\ntrust:\n  keys: [a.pub]\n";

    #[test]
    fn a_section_written_empty_is_a_rule_applied() {
        // Keys commented out: the section's defaults, never "no rule".
        let p = parse(&format!(
            "{TRUST}vulnerabilities:\n  # fail_on: high\n  # max_age: 7d\n"
        ))
        .unwrap();
        assert!(p.needs_scan());
        assert_eq!(p.fail_on, Some(Threshold::None));
        for text in [
            format!("{TRUST}provenance:\n  # refs: [refs/heads/main]\n"),
            format!("{TRUST}provenance: ~\n"),
            format!("{TRUST}provenance: {{}}\n"),
        ] {
            let p = parse(&text).unwrap();
            assert!(p.needs_provenance() && !p.allow_dirty, "{text}");
        }
        let p = parse(&format!("{TRUST}require:\n  vsa:\n")).unwrap();
        assert_eq!(p.require_types, [super::super::vsa::PREDICATE_VSA]);
        assert!(p.require_vsa.is_some());
        // Sections that would state nothing: exit 2 at their line.
        for (text, at) in [
            (format!("{TRUST}bases:\n  # allow: [a/*]\n"), "p.yaml:4:1:"),
            (format!("{TRUST}bases:\n  allow:\n"), "p.yaml:5:3:"),
            (
                format!("{TRUST}require:\n  sbom: true\n  attestations:\n    # - vuln\n"),
                "p.yaml:6:3:",
            ),
            (
                format!("{TRUST}require:\n  attestations: []\n"),
                "p.yaml:5:3:",
            ),
            (format!("{TRUST}require:\n  # sbom: true\n"), "p.yaml:4:1:"),
            (format!("{TRUST}require: {{}}\n"), "p.yaml:4:1:"),
            (format!("{TRUST}provenance:\n  refs:\n"), "p.yaml:5:3:"),
            (format!("{TRUST}provenance:\n  refs: []\n"), "p.yaml:5:3:"),
            (
                format!("{TRUST}provenance:\n  builder_ids: ~\n"),
                "p.yaml:5:3:",
            ),
            (
                format!("{TRUST}provenance:\n  source_repository:\n"),
                "p.yaml:5:3:",
            ),
            (
                format!("{TRUST}vulnerabilities:\n  max_age:\n"),
                "p.yaml:5:3:",
            ),
            (
                format!("{TRUST}vulnerabilities:\n  fail_on:\n"),
                "p.yaml:5:3:",
            ),
            (format!("{TRUST}  trusted_root:\n"), "p.yaml:4:3:"),
            (
                "version: 1\ntrust:\n  # keys: [a.pub]\n".to_string(),
                "p.yaml:2:1:",
            ),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(err.to_string().starts_with(at), "{text}: {err}");
            assert_eq!(err.exit_code(), crate::ExitCode::Usage, "{text}");
            assert!(err.hint().is_some(), "{text}");
        }
        // `allow: []` is a rule: nothing is allowed.
        let p = parse(&format!("{TRUST}bases:\n  allow: []\n")).unwrap();
        assert_eq!(p.base_allow.map(|a| a.len()), Some(0));
    }

    #[test]
    fn a_required_summary_can_be_pinned() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let p = parse(&format!(
            "{TRUST}require:\n  attestations: [vsa]\n  vsa:\n    policy_digest: {digest}\n    verifier_id: https://v.example/1\nprovenance:\n  allow_dirty: true\n"
        ))
        .unwrap();
        assert_eq!(p.require_types.len(), 1, "one requirement, pinned");
        let pins = p.require_vsa.unwrap();
        assert_eq!(pins.policy_digest.unwrap().to_string(), digest);
        assert_eq!(pins.verifier_id.as_deref(), Some("https://v.example/1"));
        assert!(pins.policy_uri.is_none());
        assert!(p.allow_dirty);
        for (text, at) in [
            (
                format!("{TRUST}require:\n  vsa:\n    policy_digest: sha256:12\n"),
                "p.yaml:6:5:",
            ),
            (
                format!("{TRUST}require:\n  vsa:\n    policy_uri: file:///p.yaml\n    policy_digest: {digest}\n"),
                "p.yaml:5:3:",
            ),
            (format!("{TRUST}require:\n  vsa:\n    verifier_id:\n"), "p.yaml:6:5:"),
            (format!("{TRUST}require:\n  vsa:\n    verifier_id: ''\n"), "p.yaml:6:5:"),
            (format!("{TRUST}require:\n  vsa:\n    result: FAILED\n"), "p.yaml:6:5:"),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(err.to_string().starts_with(at), "{text}: {err}");
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
