//! The words of a vulnerability gate, shared by the pipeline file, the `scan` and `verify`
//! commands and the deploy policy: the threshold, the scanner kind, and the written
//! relaxations (waivers, unknown severities, unchecked packages). The scan owns them, so the
//! deploy gate does not depend on the build file's format.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What to do with a finding whose severity is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnknownSeverity {
    /// Fail any gate at `high` or below (the default).
    Fail,
    /// Let it through (needs `unknown_severity_reason`).
    Ignore,
}

/// Unchecked packages a pipeline accepts in writing: those of `ecosystem` (`Wolfi`,
/// `Debian:12`, or the unknown distribution as the report names it), those whose reason
/// contains `cause`, and/or those whose purl matches the glob `purl`
/// (`pkg:rpm/fedora/kernel-*`); at least one of the three.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UncheckedAllowance {
    /// The ecosystem of the packages allowed (`Wolfi`, `Debian:12`).
    #[serde(default)]
    pub ecosystem: Option<String>,
    /// Text the unchecked reason must contain.
    #[serde(default)]
    pub cause: Option<String>,
    /// A glob the package's purl must match (`pkg:rpm/fedora/kernel-*`).
    #[serde(default)]
    pub purl: Option<String>,
    /// Why these packages may stay unchecked (shown in the report and the attestation).
    pub reason: String,
    /// `YYYY-MM-DD`; after it the allowance no longer applies.
    pub expires: String,
}

/// The severity at and above which a finding fails a gate (`fail_on`); `none` fails on nothing.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Severity")]
pub enum Threshold {
    Critical,
    High,
    Medium,
    Low,
    None,
}

impl Threshold {
    /// Whether this threshold fails on more findings than `other` (`low` is stricter than
    /// `high`; `none` fails on nothing).
    pub fn is_stricter_than(self, other: Threshold) -> bool {
        let rank = |s: Threshold| match s {
            Threshold::Low => 0,
            Threshold::Medium => 1,
            Threshold::High => 2,
            Threshold::Critical => 3,
            Threshold::None => 4,
        };
        rank(self) < rank(other)
    }

    /// The name as written in the pipeline file.
    pub fn as_str(&self) -> &'static str {
        match self {
            Threshold::Critical => "critical",
            Threshold::High => "high",
            Threshold::Medium => "medium",
            Threshold::Low => "low",
            Threshold::None => "none",
        }
    }
}

/// Which scanner a gate runs: the builtin OSV matcher, or grype or trivy as external tools.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Scanner")]
pub enum ScannerKind {
    Builtin,
    Grype,
    Trivy,
}

impl ScannerKind {
    /// The external tool this kind runs (`None`: the builtin matcher).
    pub fn external(self) -> Option<crate::scan::external::Tool> {
        match self {
            ScannerKind::Builtin => None,
            ScannerKind::Grype => Some(crate::scan::external::Tool::Grype),
            ScannerKind::Trivy => Some(crate::scan::external::Tool::Trivy),
        }
    }

    /// The name as written in the pipeline file and on the command line.
    pub fn name(self) -> &'static str {
        self.external().map_or("builtin", |t| t.name())
    }
}

/// An accepted finding: its id (and optionally package), why, and until when.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// The advisory id or one of its aliases (`CVE-2024-1234`, `GHSA-…`).
    pub id: String,
    /// Only this package (its name as the report shows it); left out: every package.
    #[serde(default)]
    pub package: Option<String>,
    /// Why the finding is accepted (shown in the report and the attestation).
    pub reason: String,
    /// `YYYY-MM-DD`; after it the waiver no longer applies and the finding fails the gate.
    pub expires: String,
}
