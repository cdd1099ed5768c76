//! What a scan checked: per ecosystem, how many catalogued packages were matched against
//! advisories of their ecosystem, and how many could not be, with the reasons. A package that
//! was not checked is never counted as clean: the gate fails on it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Per-ecosystem coverage of one scan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub ecosystems: Vec<EcosystemCoverage>,
    /// Packages not checked, over every ecosystem.
    pub unchecked: usize,
    /// True when every catalogued package was checked.
    pub complete: bool,
    /// Ecosystems the database has records for that cleanpipe matches no package to (an
    /// ecosystem string it does not know, or one it does not catalogue), with their
    /// `affected[]` counts: counted and shown, never silently dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched_database_ecosystems: Vec<(String, usize)>,
    /// How complete the database itself is for the ecosystems it has records for: `unknown`
    /// for a directory or archive the user supplies (cleanpipe cannot tell whether an
    /// ecosystem's archive was loaded whole); `complete` for a managed database (`cleanpipe db
    /// update`), whose every ecosystem archive was verified and loaded whole.
    pub database_completeness: String,
    /// Which database the scan used: its source, content digest and newest record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseIdentity>,
}

/// The identity of the vulnerability database a scan used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseIdentity {
    /// Where it was read from (the path or archive as given).
    pub source: String,
    /// sha256 over every record file's name and bytes.
    pub digest: String,
    /// The newest `modified` of its records.
    pub newest_modified: String,
    pub records: usize,
    /// For a managed database (`cleanpipe db update`): each ecosystem archive it was loaded
    /// from, whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<ArchiveIdentity>,
    /// For a managed or pulled database: when its oldest archive was fetched from upstream
    /// (RFC 3339); the database's age is counted from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched: Option<String>,
    /// Seconds from `fetched` to the scan (a run records it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<u64>,
}

impl DatabaseIdentity {
    /// The oldest fetch time of its archives.
    pub fn oldest_fetched(archives: &[ArchiveIdentity]) -> Option<String> {
        archives.iter().map(|a| a.fetched.clone()).min()
    }
}

/// Seconds from `fetched` (RFC 3339) to `now`; `None` when it does not parse.
pub fn age_seconds(fetched: &str, now: time::OffsetDateTime) -> Option<u64> {
    let at = time::OffsetDateTime::parse(fetched, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((now - at).whole_seconds().max(0) as u64)
}

/// `183600` → `2d 3h`.
pub fn human_age(seconds: u64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, h) => format!("{h}h {m}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// One osv.dev ecosystem archive of a managed database, as `db update` verified it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArchiveIdentity {
    /// As osv.dev names it: `Debian`, `PyPI`.
    pub ecosystem: String,
    /// `sha256:…` of the archive file.
    pub digest: String,
    /// The newest `modified` of its records.
    pub newest_modified: String,
    pub records: usize,
    /// Where it was fetched from (scheme, host and path).
    pub source: String,
    /// When it was fetched (RFC 3339).
    pub fetched: String,
    /// The signed database artifact it was pulled from (`registry/repo@sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EcosystemCoverage {
    /// `Debian:12`, `PyPI`, or for what could not be placed `fedora 40`.
    pub ecosystem: String,
    pub packages: usize,
    pub checked: usize,
    pub unchecked: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<UncheckedReason>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UncheckedReason {
    pub reason: String,
    pub packages: usize,
    /// One package it applies to (`name version`).
    pub example: String,
    /// Every package's purl, for allowances by purl pattern (not written to reports).
    #[serde(skip)]
    pub purls: Vec<String>,
}

/// Collects coverage while packages are matched.
#[derive(Default)]
pub struct Tally {
    by: BTreeMap<String, EcosystemCoverage>,
}

impl Tally {
    pub fn checked(&mut self, ecosystem: &str) {
        let e = self.entry(ecosystem);
        e.packages += 1;
        e.checked += 1;
    }

    pub fn unchecked(&mut self, ecosystem: &str, reason: &str, example: String, purl: &str) {
        let e = self.entry(ecosystem);
        e.packages += 1;
        e.unchecked += 1;
        match e.reasons.iter_mut().find(|r| r.reason == reason) {
            Some(r) => {
                r.packages += 1;
                r.purls.push(purl.to_string());
            }
            None => e.reasons.push(UncheckedReason {
                reason: reason.to_string(),
                packages: 1,
                example,
                purls: vec![purl.to_string()],
            }),
        }
    }

    fn entry(&mut self, ecosystem: &str) -> &mut EcosystemCoverage {
        self.by
            .entry(ecosystem.to_string())
            .or_insert_with(|| EcosystemCoverage {
                ecosystem: ecosystem.to_string(),
                ..Default::default()
            })
    }

    pub fn finish(self) -> Coverage {
        let ecosystems: Vec<EcosystemCoverage> = self.by.into_values().collect();
        let unchecked = ecosystems.iter().map(|e| e.unchecked).sum();
        Coverage {
            ecosystems,
            unchecked,
            complete: unchecked == 0,
            unmatched_database_ecosystems: vec![],
            database_completeness: "unknown".into(),
            database: None,
        }
    }
}

impl Coverage {
    /// The unchecked lines the pipeline's written allowances cover (each with its reason) and
    /// those they do not. An allowance past its `expires` date covers nothing.
    pub fn split_allowed(
        &self,
        allowances: &[crate::scan::gate::UncheckedAllowance],
        today: &str,
    ) -> (Vec<String>, Vec<String>) {
        let (mut allowed, mut not) = (Vec::new(), Vec::new());
        for e in &self.ecosystems {
            for r in &e.reasons {
                let line = format!(
                    "{} {} package(s) not checked: {} (e.g. {})",
                    r.packages, e.ecosystem, r.reason, r.example
                );
                let base = e.ecosystem.split(':').next().unwrap_or(&e.ecosystem);
                let applies = |a: &&crate::scan::gate::UncheckedAllowance| {
                    a.expires.as_str() >= today
                        && (a.ecosystem.is_some() || a.cause.is_some() || a.purl.is_some())
                        && a.ecosystem
                            .as_ref()
                            .is_none_or(|x| x == &e.ecosystem || x == base)
                        && a.cause
                            .as_ref()
                            .is_none_or(|c| r.reason.contains(c.as_str()))
                };
                // A purl pattern covers the packages it matches; the rest stay unchecked.
                let mut left = r.purls.clone();
                for a in allowances.iter().filter(applies) {
                    let before = left.len();
                    match a.purl.as_deref().map(glob::Pattern::new) {
                        None => left.clear(),
                        Some(Ok(p)) => left.retain(|purl| !p.matches(purl)),
                        Some(Err(_)) => continue,
                    }
                    if left.len() < before {
                        allowed.push(format!(
                            "{} {} package(s) not checked: {}; allowed until {}: {}",
                            before - left.len(),
                            e.ecosystem,
                            r.reason,
                            a.expires,
                            a.reason
                        ));
                    }
                }
                if left.len() == r.purls.len() {
                    not.push(line);
                } else if !left.is_empty() {
                    not.push(format!(
                        "{} {} package(s) not checked: {} (e.g. {})",
                        left.len(),
                        e.ecosystem,
                        r.reason,
                        left[0]
                    ));
                }
            }
        }
        (allowed, not)
    }

    /// One line per reason: `12 Wolfi package(s) not checked: the database holds no `Wolfi`
    /// records (e.g. openssl 3.0.8-r0)`.
    pub fn unchecked_lines(&self) -> Vec<String> {
        self.ecosystems
            .iter()
            .flat_map(|e| {
                e.reasons.iter().map(move |r| {
                    format!(
                        "{} {} package(s) not checked: {} (e.g. {})",
                        r.packages, e.ecosystem, r.reason, r.example
                    )
                })
            })
            .collect()
    }
}
