//! The provenance requirements: a trusted SLSA v1 provenance, and every one of them naming the
//! source repository, commit and builder the policy wants.

use super::attestations::{used_list, Evidence, Trusted};
use super::{check, Policy, PolicyCheck, UsedAttestation};
use crate::sign::attest;
use crate::sign::provenance;

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
    if let Some(want) = &policy.builder_id {
        field("builder", want, &|c| c.builder_id.clone(), &|got| {
            got == want
        });
    }
    (out, last)
}
