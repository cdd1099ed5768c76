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

/// The Docker client's config file: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json` (where `docker login` writes credentials).
pub fn docker_config_file() -> Option<std::path::PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))
        .map(|d| d.join("config.json"))
}

/// Where `db update` fetches osv.dev's archives (`<mirror>/<ecosystem>/all.zip`), read by clap
/// for `db update --mirror` (the flag wins; docs/database.md).
pub const DB_MIRROR: &str = crate::scan::managed::MIRROR_VAR;

/// Where the managed database lives (`db update` without `--dir`, `db: managed`); read through
/// the run's environment snapshot by `crate::scan::managed::default_dir_in`.
pub const DB_DIR: &str = crate::scan::managed::DIR_VAR;

/// Milliseconds for the registry retry policy's base wait, for tests only (so fault-injection
/// tests do not wait seconds); at most 60000.
pub const REGISTRY_RETRY_BASE_MS: &str = "CLEANPIPE_REGISTRY_RETRY_BASE_MS";

/// The registry retry policy: the default, with [`REGISTRY_RETRY_BASE_MS`] as its base wait.
pub fn registry_retry() -> crate::oci::remote::transport::RetryPolicy {
    let default = crate::oci::remote::transport::RetryPolicy::default();
    let base = std::env::var(REGISTRY_RETRY_BASE_MS)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ms| std::time::Duration::from_millis(ms.min(60_000)));
    crate::oci::remote::transport::RetryPolicy {
        base: base.unwrap_or(default.base),
        ..default
    }
}

/// A snapshot of the process environment, passed down explicitly.
pub fn snapshot() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Set by CI systems (any value but empty, `false` or `0`): progress is plain lines, no bars.
pub const CI: &str = "CI";
/// Any non-empty value disables colour (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// `dumb` terminals get neither bars nor colour.
pub const TERM: &str = "TERM";
/// Set to `true` by GitLab CI/CD jobs.
pub const GITLAB_CI: &str = "GITLAB_CI";
/// GitLab container scanning's name of the image on the default branch
/// (`location.default_branch_image` in the scanning report).
pub const CS_DEFAULT_BRANCH_IMAGE: &str = "CS_DEFAULT_BRANCH_IMAGE";
