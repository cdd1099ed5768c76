//! Every environment variable cleanpipe reads, declared once. No other code reads the environment.

use std::collections::BTreeMap;

/// The private key password, as cosign names it. Empty is a valid password.
pub const COSIGN_PASSWORD: &str = "COSIGN_PASSWORD";
/// CI run numbers, in order of preference, for `{{run.number}}`.
pub const RUN_NUMBER_VARS: &[&str] = &[
    "CLEANPIPE_RUN_NUMBER",
    "GITHUB_RUN_NUMBER",
    "CI_PIPELINE_IID",
    "BUILD_NUMBER",
];

/// A snapshot of the process environment, passed down explicitly.
pub fn snapshot() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
