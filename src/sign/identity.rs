//! Trusted keyless identities: who may have signed (the certificate's subject, its OIDC
//! issuer, and for CI workloads the GitHub workflow claims Fulcio copies into it), and the
//! trusted root their certificates, log entries and timestamps chain to.
//!
//! Matching follows cosign's flags: `--certificate-identity` and `--certificate-oidc-issuer`
//! compare exactly; the `-regexp` forms are Go-style regular expressions searched anywhere in
//! the value (anchor them with `^…$`), as cosign does.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// How one certificate value is matched.
#[derive(Clone, Debug)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    /// A regular expression matcher; `what` names the option for the error.
    pub fn regex(pattern: &str, what: &str) -> Result<Matcher> {
        regex::Regex::new(pattern).map(Matcher::Regex).map_err(|e| {
            Error::usage(format!(
                "{what} `{pattern}` is not a regular expression: {e}"
            ))
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(want) => value == want,
            Matcher::Regex(re) => re.is_match(value),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Matcher::Exact(want) => want.clone(),
            Matcher::Regex(re) => format!("/{}/", re.as_str()),
        }
    }
}

/// The GitHub Actions claims Fulcio certifies (its original GitHub extensions, which cosign's
/// `--certificate-github-workflow-*` flags check); each one given must equal the certificate's.
#[derive(Clone, Debug, Default)]
pub struct GithubClaims {
    /// `owner/repository` (OID 1.3.6.1.4.1.57264.1.5).
    pub repository: Option<String>,
    /// `refs/heads/main` (…1.6).
    pub git_ref: Option<String>,
    /// The commit (…1.3).
    pub sha: Option<String>,
    /// The triggering event, `push` (…1.2).
    pub trigger: Option<String>,
    /// The workflow's name (…1.4).
    pub name: Option<String>,
}

impl GithubClaims {
    pub fn is_empty(&self) -> bool {
        self.repository.is_none()
            && self.git_ref.is_none()
            && self.sha.is_none()
            && self.trigger.is_none()
            && self.name.is_none()
    }
}

/// One trusted signer identity.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The certificate's subject alternative name (an email or a URI).
    pub subject: Matcher,
    /// The OIDC issuer Fulcio authenticated the token with.
    pub issuer: Matcher,
    pub github: GithubClaims,
}

impl Identity {
    pub fn describe(&self) -> String {
        format!(
            "identity {} from {}",
            self.subject.describe(),
            self.issuer.describe()
        )
    }
}

/// An identity as a file writes it (`verify_base.identities.NAME`, a policy's
/// `trust.identities[]`): exactly one of `identity`/`identity_regexp`, exactly one of
/// `issuer`/`issuer_regexp`, and GitHub claims by name. `Err` says what is wrong, for the
/// caller to locate.
pub fn identity_from(
    identity: Option<&str>,
    identity_regexp: Option<&str>,
    issuer: Option<&str>,
    issuer_regexp: Option<&str>,
    github: &std::collections::BTreeMap<String, String>,
) -> std::result::Result<Identity, String> {
    let subject = match (identity, identity_regexp) {
        (Some(exact), None) => Matcher::Exact(exact.to_string()),
        (None, Some(re)) => Matcher::regex(re, "identity_regexp").map_err(|e| e.to_string())?,
        _ => return Err("needs exactly one of `identity` or `identity_regexp`".into()),
    };
    let issuer = match (issuer, issuer_regexp) {
        (Some(exact), None) => Matcher::Exact(exact.to_string()),
        (None, Some(re)) => Matcher::regex(re, "issuer_regexp").map_err(|e| e.to_string())?,
        _ => return Err("needs exactly one of `issuer` or `issuer_regexp`".into()),
    };
    let mut claims = GithubClaims::default();
    for (claim, value) in github {
        let slot = match claim.as_str() {
            "repository" => &mut claims.repository,
            "ref" => &mut claims.git_ref,
            "sha" => &mut claims.sha,
            "trigger" => &mut claims.trigger,
            "name" => &mut claims.name,
            other => {
                return Err(format!(
                    "unknown GitHub claim `{other}` (repository, ref, sha, trigger, name)"
                ))
            }
        };
        *slot = Some(value.clone());
    }
    Ok(Identity {
        subject,
        issuer,
        github: claims,
    })
}

/// Where the trusted root comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootSource {
    /// A `trusted_root.json` file (cosign v3's `--trusted-root`): a private instance.
    File(PathBuf),
    /// The public-good instance's root as embedded in cleanpipe (not refreshed through TUF).
    PublicGood,
}

/// Keyless trust: the identities that may sign and the root their evidence must chain to.
#[derive(Clone)]
pub struct KeylessTrust {
    pub root: sigstore_verify::trust_root::TrustedRoot,
    pub root_source: RootSource,
    pub identities: Vec<Identity>,
    /// Accept certificates without a signed certificate timestamp (cosign's
    /// `--insecure-ignore-sct`), for private instances without a CT log.
    pub ignore_sct: bool,
    /// The SHA-256 of the trusted root file's bytes (a VSA names exactly what was trusted).
    pub root_digest: Option<crate::oci::types::Digest>,
}

impl std::fmt::Debug for KeylessTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessTrust")
            .field("root_source", &self.root_source)
            .field("identities", &self.identities)
            .field("ignore_sct", &self.ignore_sct)
            .finish()
    }
}

impl KeylessTrust {
    /// Trust `identities` under the root from `root` (a file), or the public-good root.
    pub fn new(
        root: Option<&Path>,
        identities: Vec<Identity>,
        ignore_sct: bool,
    ) -> Result<KeylessTrust> {
        if identities.is_empty() {
            return Err(Error::usage("no trusted identity was given").with_hint(
                "give `--certificate-identity` (or `-regexp`) with `--certificate-oidc-issuer` (or `-regexp`)",
            ));
        }
        let root_digest = match root {
            Some(path) => std::fs::read(path)
                .ok()
                .map(|b| crate::oci::types::Digest::of(&b)),
            None => None,
        };
        let (root, root_source) = match root {
            Some(path) => (
                read_trusted_root(path)?,
                RootSource::File(path.to_path_buf()),
            ),
            None => (
                sigstore_verify::trust_root::SigstoreInstance::PublicGood
                    .embedded_trusted_root()
                    .map_err(|e| {
                        Error::environment("the embedded public-good trusted root").caused_by(e)
                    })?,
                RootSource::PublicGood,
            ),
        };
        Ok(KeylessTrust {
            root,
            root_source,
            identities,
            ignore_sct,
            root_digest,
        })
    }

    pub fn describe_root(&self) -> String {
        match &self.root_source {
            RootSource::File(p) => p.display().to_string(),
            RootSource::PublicGood => "the public-good Sigstore root".into(),
        }
    }

    /// Everything this trust checks, as JSON (for a VSA's policy digest): each matcher with
    /// its kind, the GitHub claims, the SCT setting and the root by its bytes' digest.
    pub fn document(&self) -> serde_json::Value {
        let matcher = |m: &Matcher| match m {
            Matcher::Exact(v) => serde_json::json!({ "exact": v }),
            Matcher::Regex(re) => serde_json::json!({ "regexp": re.as_str() }),
        };
        serde_json::json!({
            "identities": self.identities.iter().map(|id| serde_json::json!({
                "subject": matcher(&id.subject),
                "issuer": matcher(&id.issuer),
                "github": {
                    "repository": id.github.repository,
                    "ref": id.github.git_ref,
                    "sha": id.github.sha,
                    "trigger": id.github.trigger,
                    "name": id.github.name,
                },
            })).collect::<Vec<_>>(),
            "insecureIgnoreSct": self.ignore_sct,
            "trustedRoot": self.describe_root(),
            "trustedRootSha256": self.root_digest.as_ref().map(|d| d.to_string()),
        })
    }

    pub fn describe(&self) -> String {
        self.identities
            .iter()
            .map(Identity::describe)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// Read a `trusted_root.json` (protobuf-specs `TrustedRoot`, JSON form).
pub fn read_trusted_root(path: &Path) -> Result<sigstore_verify::trust_root::TrustedRoot> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!(
            "cannot read the trusted root {}: {e}",
            path.display()
        ))
    })?;
    sigstore_verify::trust_root::TrustedRoot::from_json(&text).map_err(|e| {
        Error::usage(format!("{} is not a Sigstore trusted root: {e}", path.display())).with_hint(
            "the file cosign v3's `--trusted-root` takes (media type application/vnd.dev.sigstore.trustedroot+json;version=0.1)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_never_matches_a_substring_and_regexps_search_like_cosign() {
        let exact = Matcher::Exact("dev@example.test".into());
        assert!(exact.matches("dev@example.test"));
        assert!(!exact.matches("evil-dev@example.test"));
        assert!(!exact.matches("dev@example.test.evil"));
        let re = Matcher::regex(
            r"^https://github\.com/acme/",
            "--certificate-identity-regexp",
        )
        .unwrap();
        assert!(re.matches("https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main"));
        assert!(!re.matches("https://github.com/acme-evil/app"));
        let unanchored = Matcher::regex("acme", "x").unwrap();
        assert!(unanchored.matches("https://github.com/notacme"));
        assert!(Matcher::regex("(", "--certificate-identity-regexp").is_err());
    }

    #[test]
    fn keyless_trust_needs_an_identity_and_a_readable_root() {
        let id = Identity {
            subject: Matcher::Exact("a".into()),
            issuer: Matcher::Exact("b".into()),
            github: GithubClaims::default(),
        };
        assert!(KeylessTrust::new(None, vec![], false).is_err());
        let public = KeylessTrust::new(None, vec![id.clone()], false).unwrap();
        assert_eq!(public.root_source, RootSource::PublicGood);
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("root.json");
        std::fs::write(&bad, "{}").unwrap();
        let e = KeylessTrust::new(Some(&bad), vec![id], false).unwrap_err();
        assert!(e.to_string().contains("not a Sigstore trusted root"), "{e}");
    }
}
