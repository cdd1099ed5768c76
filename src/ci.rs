//! Which CI system runs this process, read once from the environment: the one place that knows
//! each system's marker variables. The CLI asks it whether to draw progress bars, which CI
//! outputs to write, and which report formats a platform picks up.

use std::collections::BTreeMap;

/// A CI system whose outputs cleanpipe writes in that system's own format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// GitHub Actions (`GITHUB_ACTIONS=true`): step outputs, job summary, annotations.
    GitHub,
    /// GitLab CI (`GITLAB_CI=true`): dotenv reports, the container scanning report.
    GitLab,
}

/// What the environment says about CI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ci {
    /// `CI` set to anything but empty, `false` or `0` (every major CI sets `CI=true`).
    pub detected: bool,
    /// The platform, when it is one cleanpipe writes outputs for.
    pub platform: Option<Platform>,
}

impl Ci {
    /// Read from a snapshot of the environment.
    pub fn detect(env: &BTreeMap<String, String>) -> Self {
        let is_true = |name: &str| env.get(name).map(String::as_str) == Some("true");
        let platform = if is_true("GITHUB_ACTIONS") {
            Some(Platform::GitHub)
        } else if is_true("GITLAB_CI") {
            Some(Platform::GitLab)
        } else {
            None
        };
        Ci {
            detected: env
                .get("CI")
                .is_some_and(|v| !v.is_empty() && v != "false" && v != "0"),
            platform,
        }
    }

    pub fn on(&self, platform: Platform) -> bool {
        self.platform == Some(platform)
    }
}

/// The URL of the CI run this is, from the variables GitHub Actions, GitLab CI and Jenkins set.
pub fn run_url(env: &BTreeMap<String, String>) -> Option<String> {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    match (
        get("GITHUB_SERVER_URL"),
        get("GITHUB_REPOSITORY"),
        get("GITHUB_RUN_ID"),
    ) {
        (Some(server), Some(repo), Some(id)) => Some(format!("{server}/{repo}/actions/runs/{id}")),
        _ => get("CI_JOB_URL").or_else(|| get("BUILD_URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn markers_decide() {
        assert_eq!(Ci::detect(&env(&[])), Ci::default());
        for off in ["", "false", "0"] {
            assert!(!Ci::detect(&env(&[("CI", off)])).detected);
        }
        let gh = Ci::detect(&env(&[("CI", "true"), ("GITHUB_ACTIONS", "true")]));
        assert!(gh.detected && gh.on(Platform::GitHub) && !gh.on(Platform::GitLab));
        let gl = Ci::detect(&env(&[("CI", "1"), ("GITLAB_CI", "true")]));
        assert!(gl.detected && gl.on(Platform::GitLab));
        assert_eq!(
            Ci::detect(&env(&[("GITHUB_ACTIONS", "false")])).platform,
            None
        );
    }
}
