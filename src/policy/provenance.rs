//! The provenance requirements: a trusted SLSA v1 provenance, and every one of them naming the
//! source repository, commit and builder the policy wants.

use super::attestations::{used_list, Evidence, Trusted};
use super::{check, BasePattern, Policy, PolicyCheck, UsedAttestation};
use crate::oci::reference::RegistryRef;
use crate::oci::types::Digest;
use crate::sign::attest;
use crate::sign::provenance;

/// Ref globs: `*` stays inside one segment of `refs/tags/v1.2`.
const REF_MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

fn normalize_repo(url: &str) -> String {
    url.trim()
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase()
}

/// The provenance checks, and the claims of the last trusted provenance.
pub(super) fn evaluate_provenance(
    policy: &Policy,
    evidence: &Evidence,
) -> (Vec<PolicyCheck>, Option<provenance::Claims>) {
    let all: Vec<(&Trusted, provenance::Claims)> = evidence
        .trusted
        .iter()
        .filter(|t| t.predicate_type == attest::PREDICATE_SLSA_PROVENANCE_V1)
        .map(|t| (t, provenance::claims(&t.statement["predicate"])))
        .collect();
    let last = all.last().map(|(_, c)| c.clone());
    if !policy.needs_provenance() {
        return (vec![], last);
    }
    let trusted = match evidence.select(
        &[attest::PREDICATE_SLSA_PROVENANCE_V1],
        "provenance",
        "SLSA v1 provenance",
    ) {
        Ok(t) => t,
        Err(fail) => return (vec![fail], last),
    };
    let used: Vec<UsedAttestation> = trusted.iter().map(|t| t.used.clone()).collect();
    let mut out = vec![check(
        "provenance",
        true,
        format!(
            "SLSA v1 provenance by {} ({})",
            all.iter()
                .map(|(_, c)| c.builder_id.as_deref().unwrap_or("an unnamed builder"))
                .collect::<Vec<_>>()
                .join(", "),
            used_list(&trusted)
        ),
        used.clone(),
    )];
    // Every trusted provenance must say what the policy wants.
    let mut field = |name: &'static str,
                     want: &str,
                     get: &dyn Fn(&provenance::Claims) -> Option<String>,
                     ok: &dyn Fn(&str) -> bool| {
        let said: Vec<(String, bool, &UsedAttestation)> = all
            .iter()
            .map(|(t, c)| {
                let got = get(c).unwrap_or_default();
                let passed = !got.is_empty() && ok(&got);
                (got, passed, &t.used)
            })
            .collect();
        let passed = said.iter().all(|(_, p, _)| *p);
        let detail = if said.len() == 1 {
            format!(
                "provenance says `{}`, policy wants `{want}` ({})",
                said[0].0, said[0].2
            )
        } else {
            format!(
                "policy wants `{want}`; {}",
                said.iter()
                    .map(|(g, _, u)| format!("{u} says `{g}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push(check(name, passed, detail, used.clone()));
    };
    if let Some(want) = &policy.source_repo {
        field(
            "source repository",
            want,
            &|c| c.repository.clone(),
            &|got| normalize_repo(got) == normalize_repo(want),
        );
    }
    if let Some(want) = &policy.commit {
        field("source commit", want, &|c| c.commit.clone(), &|got| {
            want.len() >= 7 && got.starts_with(want.as_str())
        });
    }
    if !policy.builder_ids.is_empty() {
        let want = policy.builder_ids.join("` or `");
        field("builder", &want, &|c| c.builder_id.clone(), &|got| {
            policy.builder_ids.iter().any(|b| b == got)
        });
    }
    if !policy.refs.is_empty() {
        let want = policy.refs.join("` or `");
        let patterns: Vec<glob::Pattern> = policy
            .refs
            .iter()
            .filter_map(|r| glob::Pattern::new(r).ok())
            .collect();
        field("source ref", &want, &|c| c.git_ref.clone(), &|got| {
            patterns.iter().any(|p| p.matches_with(got, REF_MATCH))
        });
    }
    if let Some(allow) = &policy.base_allow {
        out.push(check_bases(allow, &all, &used));
    }
    (out, last)
}

/// Every image every trusted provenance says the build used must match an allowed pattern. A
/// dependency whose name cannot be read as an image reference matches nothing (fail closed).
fn check_bases(
    allow: &[BasePattern],
    all: &[(&Trusted, provenance::Claims)],
    used: &[UsedAttestation],
) -> PolicyCheck {
    let mut refused = Vec::new();
    let mut allowed = Vec::new();
    for (t, claims) in all {
        for dep in &claims.images {
            let uri = dep.uri.as_deref().unwrap_or("");
            let digest = dep
                .sha256
                .as_deref()
                .and_then(|h| Digest::parse(&format!("sha256:{h}")).ok());
            let name = image_name(uri);
            let ok = name
                .as_deref()
                .is_some_and(|n| allow.iter().any(|p| p.allows(n, digest.as_ref())));
            let shown = if uri.is_empty() {
                "(a dependency without a uri)"
            } else {
                uri
            };
            if ok {
                allowed.push(shown.to_string());
            } else {
                refused.push(format!("`{shown}` ({})", t.used));
            }
        }
    }
    let patterns = allow
        .iter()
        .map(|p| format!("`{}`", p.text))
        .collect::<Vec<_>>()
        .join(", ");
    if refused.is_empty() {
        check(
            "base images",
            true,
            if allowed.is_empty() {
                "the provenance names no base image".into()
            } else {
                format!("{} allowed by {patterns}", allowed.join(", "))
            },
            used.to_vec(),
        )
    } else {
        check(
            "base images",
            false,
            format!("not allowed by {patterns}: {}", refused.join(", ")),
            used.to_vec(),
        )
    }
}

/// `registry/repository` of a dependency uri: an image reference, `docker://`/`oci://` one, or a
/// `pkg:docker/` package URL (its qualifiers dropped); `oci:DIR` for a layout base.
fn image_name(uri: &str) -> Option<String> {
    if uri.starts_with("oci:") && !uri.starts_with("oci://") {
        return match crate::oci::reference::ImageRef::parse(uri).ok()? {
            crate::oci::reference::ImageRef::Layout(l) => Some(format!("oci:{}", l.dir.display())),
            crate::oci::reference::ImageRef::Registry(_) => None,
        };
    }
    let bare = uri.split(['?', '#']).next().unwrap_or(uri);
    if let Some(purl) = bare.strip_prefix("pkg:docker/") {
        // A package URL's `@version` is a tag or an encoded digest; the name is before it, and
        // the registry is its `repository_url` qualifier (Docker Hub without one).
        let name = purl.split('@').next().unwrap_or(purl);
        let qualifiers = uri.split_once('?').map_or("", |(_, q)| q);
        let registry = qualifiers
            .split('&')
            .find_map(|q| q.strip_prefix("repository_url="))
            .map(|r| r.replace("%2F", "/").replace("%3A", ":"));
        let reference = match registry {
            // `repository_url` may name a path on the registry too: it stands before the name.
            Some(r) => format!("{}/{name}", r.trim_end_matches('/')),
            None => name.to_string(),
        };
        let parsed = RegistryRef::parse(&reference).ok()?;
        return Some(format!("{}/{}", parsed.registry, parsed.repository));
    }
    let bare = ["docker://", "oci://"]
        .iter()
        .find_map(|p| bare.strip_prefix(p))
        .unwrap_or(bare);
    let parsed = RegistryRef::parse(bare).ok()?;
    Some(format!("{}/{}", parsed.registry, parsed.repository))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_uris_name_the_image_and_its_registry() {
        const D: &str = "sha256:abababababababababababababababababababababababababababababababab";
        for (uri, name) in [
            (
                format!("127.0.0.1:5000/base:1@{D}"),
                Some("127.0.0.1:5000/base"),
            ),
            (
                "pkg:docker/debian@bookworm?platform=linux%2Famd64".to_string(),
                Some("docker.io/library/debian"),
            ),
            (
                "pkg:docker/hardened/base@1.0?repository_url=evil.example".to_string(),
                Some("evil.example/hardened/base"),
            ),
            (
                "docker://registry.example/a/b:1".to_string(),
                Some("registry.example/a/b"),
            ),
            (format!("oci:/srv/bases@{D}"), Some("oci:/srv/bases")),
            ("git+https://github.com/acme/app@main".to_string(), None),
        ] {
            assert_eq!(image_name(&uri).as_deref(), name, "{uri}");
        }
    }
}
