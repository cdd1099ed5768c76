//! The provenance requirements: a trusted SLSA v1 provenance, and every one of them naming the
//! source repository, commit and builder the policy wants.
//!
//! A build from a dirty work tree carries changes no commit holds: its provenance passes no
//! source rule (repository, commit, ref) unless the policy allows dirty builds by name.

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
    // Every trusted provenance must say what the policy wants; for a source rule, from a clean
    // work tree (or the policy allows dirty ones).
    let dirty: Vec<Option<String>> = all
        .iter()
        .map(|(t, _)| dirty_build(&t.statement["predicate"]))
        .collect();
    let dirty_count = dirty.iter().flatten().count();
    let mut out = vec![check(
        "provenance",
        true,
        format!(
            "SLSA v1 provenance by {} ({}){}",
            all.iter()
                .map(|(_, c)| c.builder_id.as_deref().unwrap_or("an unnamed builder"))
                .collect::<Vec<_>>()
                .join(", "),
            used_list(&trusted),
            if dirty_count > 0 {
                format!("; {dirty_count} not from a clean work tree")
            } else {
                String::new()
            }
        ),
        used.clone(),
    )];
    let mut field = |name: &'static str,
                     want: &str,
                     source_rule: bool,
                     get: &dyn Fn(&provenance::Claims) -> Option<String>,
                     ok: &dyn Fn(&str) -> bool| {
        let said: Vec<(String, bool, &UsedAttestation, Option<&String>)> = all
            .iter()
            .zip(&dirty)
            .map(|((t, c), dirty)| {
                let got = get(c).unwrap_or_default();
                let dirty = dirty.as_ref().filter(|_| source_rule);
                let passed = !got.is_empty() && ok(&got) && (dirty.is_none() || policy.allow_dirty);
                (got, passed, &t.used, dirty)
            })
            .collect();
        let passed = said.iter().all(|(_, p, _, _)| *p);
        let dirt = |d: Option<&String>| {
            match d {
            None => String::new(),
            Some(why) if policy.allow_dirty => {
                format!(", {why}: allowed by `provenance.allow_dirty`")
            }
            Some(why) => format!(
                ", but {why}: not this commit (a policy file allows it with `provenance.allow_dirty: true`)"
            ),
        }
        };
        let detail = if said.len() == 1 {
            format!(
                "provenance says `{}`, policy wants `{want}`{} ({})",
                said[0].0,
                dirt(said[0].3),
                said[0].2
            )
        } else {
            format!(
                "policy wants `{want}`; {}",
                said.iter()
                    .map(|(g, _, u, d)| format!("{u} says `{g}`{}", dirt(*d)))
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
            true,
            &|c| c.repository.clone(),
            &|got| normalize_repo(got) == normalize_repo(want),
        );
    }
    if let Some(want) = &policy.commit {
        field("source commit", want, true, &|c| c.commit.clone(), &|got| {
            want.len() >= 7 && got.starts_with(want.as_str())
        });
    }
    if !policy.builder_ids.is_empty() {
        let want = policy.builder_ids.join("` or `");
        field("builder", &want, false, &|c| c.builder_id.clone(), &|got| {
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
        field("source ref", &want, true, &|c| c.git_ref.clone(), &|got| {
            patterns.iter().any(|p| p.matches_with(got, REF_MATCH))
        });
    }
    if let Some(allow) = &policy.base_allow {
        out.push(check_bases(allow, &all, &used));
    }
    (out, last)
}

/// Why a provenance does not show a clean work tree, if it does not: `dirtyWorkTree` true, or
/// not a boolean. cleanpipe's own build type always records it, so there its absence is not
/// clean either; another builder's provenance that says nothing about it is taken as clean.
fn dirty_build(predicate: &serde_json::Value) -> Option<String> {
    let definition = &predicate["buildDefinition"];
    let flag = &definition["internalParameters"]["dirtyWorkTree"];
    match flag {
        serde_json::Value::Bool(false) => None,
        serde_json::Value::Bool(true) => {
            Some("it was built from a dirty work tree (`dirtyWorkTree: true`)".into())
        }
        serde_json::Value::Null
            if definition["buildType"].as_str() != Some(provenance::BUILD_TYPE) =>
        {
            None
        }
        serde_json::Value::Null => {
            Some("it does not say whether the work tree was clean (no `dirtyWorkTree`)".into())
        }
        other => Some(format!("its `dirtyWorkTree` is `{other}`, not `false`")),
    }
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
    use crate::policy::attestations::{Evidence, Trusted};

    fn provenance(dirty: serde_json::Value, build_type: &str) -> Trusted {
        let mut internal = serde_json::json!({"sourceDateEpoch": 1});
        if !dirty.is_null() {
            internal["dirtyWorkTree"] = dirty;
        }
        Trusted {
            used: UsedAttestation {
                layer: 0,
                digest: Digest::of(b"envelope"),
                referrer: None,
            },
            predicate_type: attest::PREDICATE_SLSA_PROVENANCE_V1.into(),
            signer: "test".into(),
            statement: serde_json::json!({"predicate": {
                "buildDefinition": {
                    "buildType": build_type,
                    "externalParameters": {"source": {
                        "repository": "https://git.example/acme/app.git",
                        "ref": "refs/heads/main",
                        "commit": "0123456789abcdef0123456789abcdef01234567",
                    }},
                    "internalParameters": internal,
                },
                "runDetails": {"builder": {"id": provenance::DEFAULT_BUILDER_ID}},
            }}),
        }
    }

    fn failed(policy: &Policy, t: Trusted) -> Vec<&'static str> {
        let evidence = Evidence {
            trusted: vec![t],
            ..Evidence::default()
        };
        let (checks, _) = evaluate_provenance(policy, &evidence);
        checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn a_dirty_build_passes_no_source_rule_unless_allowed() {
        let mut policy = Policy {
            source_repo: Some("https://git.example/acme/app".into()),
            commit: Some("0123456789abcdef".into()),
            refs: vec!["refs/heads/*".into()],
            builder_ids: vec![provenance::DEFAULT_BUILDER_ID.into()],
            ..Policy::default()
        };
        let ours = provenance::BUILD_TYPE;
        assert!(failed(&policy, provenance(false.into(), ours)).is_empty());
        // Dirty, not saying, or saying something else: every source rule fails, the builder
        // rule (not about the source) does not.
        for dirty in [
            serde_json::json!(true),
            serde_json::Value::Null,
            serde_json::json!("false"),
            serde_json::json!(0),
        ] {
            assert_eq!(
                failed(&policy, provenance(dirty.clone(), ours)),
                ["source repository", "source commit", "source ref"],
                "{dirty}"
            );
        }
        // Another builder's provenance that says nothing about it is taken as it is.
        assert!(failed(
            &policy,
            provenance(serde_json::Value::Null, "https://b.example/t")
        )
        .is_empty());
        assert_eq!(
            failed(&policy, provenance(true.into(), "https://b.example/t")).len(),
            3
        );
        // Allowed by name: passes, and says so.
        policy.allow_dirty = true;
        let evidence = Evidence {
            trusted: vec![provenance(true.into(), ours)],
            ..Evidence::default()
        };
        let (checks, _) = evaluate_provenance(&policy, &evidence);
        assert!(checks.iter().all(|c| c.passed));
        let commit = checks.iter().find(|c| c.name == "source commit").unwrap();
        assert!(commit.detail.contains("allow_dirty"), "{}", commit.detail);
    }

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
