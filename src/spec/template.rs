//! `${VAR}` environment interpolation (at load time) and `{{git.sha}}`-style templates
//! (resolved once the source stage knows the commit).

use crate::error::{Error, Result};
use crate::redact::Redactor;

/// Template names a pipeline may use.
pub const TEMPLATE_NAMES: &[&str] = &[
    "git.sha",
    "git.short_sha",
    "git.branch",
    "git.tag",
    "run.number",
    "date",
];

/// Values for `{{…}}` templates.
#[derive(Clone, Debug, Default)]
pub struct TemplateValues {
    pub sha: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub run_number: u64,
    /// UTC YYYYMMDD of the source date.
    pub date: String,
}

/// Replace `{{…}}` templates in `input`. `what` names the field for errors.
pub fn render(input: &str, values: &TemplateValues, what: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = input;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            Error::usage(format!(
                "`{what}`: `{{{{` without a closing `}}}}` in `{input}`"
            ))
        })?;
        let name = after[..end].trim();
        let value = match name {
            "git.sha" => values.sha.clone(),
            "git.short_sha" => values.sha.chars().take(12).collect(),
            "git.branch" => values.branch.clone().ok_or_else(|| {
                Error::usage(format!("`{what}` uses {{{{git.branch}}}} but the commit is not on a branch (detached HEAD)"))
                    .with_hint("check out a branch, or use {{git.sha}}")
            })?,
            "git.tag" => values.tag.clone().ok_or_else(|| {
                Error::usage(format!("`{what}` uses {{{{git.tag}}}} but no tag points at the commit"))
                    .with_hint("tag the commit (`git tag v1.2.3`), or use {{git.sha}}")
            })?,
            "run.number" => values.run_number.to_string(),
            "date" => values.date.clone(),
            other => return Err(unknown_template(other, what)),
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn unknown_template(name: &str, at: &str) -> Error {
    Error::usage(format!("{at}: unknown template `{{{{{name}}}}}`")).with_hint(format!(
        "known templates: {}",
        TEMPLATE_NAMES
            .iter()
            .map(|n| format!("{{{{{n}}}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Check every `${VAR}` and `{{name}}` in the raw file; errors point at file:line:col.
pub fn check_text(text: &str, shown: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut offset = 0;
        while let Some(i) = line[offset..].find("${") {
            let start = offset + i;
            let at = format!("{shown}:{}:{}", n + 1, start + 1);
            let end = line[start..].find('}').map(|e| start + e).ok_or_else(|| {
                Error::usage(format!("{at}: `${{` without a closing `}}`"))
                    .with_hint("write `${VAR}` or `${VAR:-default}`")
            })?;
            let inner = &line[start + 2..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if !valid_var_name(name) {
                return Err(Error::usage(format!(
                    "{at}: `${{{inner}}}` is not a valid variable reference"
                ))
                .with_hint(
                    "variable names are letters, digits and `_`, not starting with a digit",
                ));
            }
            if default.is_none() && env(name).is_none() {
                return Err(Error::usage(format!(
                    "{at}: environment variable `{name}` is not set"
                ))
                .with_hint(format!(
                    "export {name}, or write `${{{name}:-default}}` to give a default"
                )));
            }
            offset = end + 1;
        }
        let mut offset = 0;
        while let Some(i) = line[offset..].find("{{") {
            let start = offset + i;
            let at = format!("{shown}:{}:{}", n + 1, start + 1);
            let end = line[start..]
                .find("}}")
                .map(|e| start + e)
                .ok_or_else(|| Error::usage(format!("{at}: `{{{{` without a closing `}}}}`")))?;
            let name = line[start + 2..end].trim();
            if !TEMPLATE_NAMES.contains(&name) {
                return Err(unknown_template(name, &at));
            }
            offset = end + 2;
        }
    }
    Ok(())
}

fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replace `${VAR}` in every string of a YAML value. Only values that are secret are
/// registered with `redactor` (see `is_secret_use`); ordinary ones such as a base image or a
/// tag stay readable in the output.
pub fn interpolate_env(
    value: &mut serde_yaml::Value,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<()> {
    interpolate_at(value, &mut Vec::new(), env, redactor)
}

fn interpolate_at(
    value: &mut serde_yaml::Value,
    path: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<()> {
    match value {
        serde_yaml::Value::String(s) => *s = interpolate_str(s, path, env, redactor)?,
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                interpolate_at(item, path, env, redactor)?;
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                path.push(k.as_str().unwrap_or("").to_ascii_lowercase());
                let r = interpolate_at(v, path, env, redactor);
                path.pop();
                r?;
            }
        }
        serde_yaml::Value::Tagged(t) => interpolate_at(&mut t.value, path, env, redactor)?,
        _ => {}
    }
    Ok(())
}

/// Keys under which every value is secret: webhooks (`push.register`: URL, headers, HMAC
/// secret) and anything named like a credential.
const SECRET_KEYS: &[&str] = &[
    "register",
    "headers",
    "secret",
    "secrets",
    "password",
    "token",
    "auth",
    "authorization",
    "credentials",
];

/// Whether a variable's name says it holds a secret (`GITHUB_TOKEN`, `DB_PASS`, `API_KEY`).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "APIKEY",
        "PRIVATE",
    ]
    .iter()
    .any(|w| upper.contains(w))
        || upper.split('_').any(|part| {
            [
                "KEY", "PASS", "PWD", "AUTH", "CRED", "CREDS", "PAT", "COOKIE", "SESSION",
            ]
            .contains(&part)
        })
}

/// Whether the `${VAR}` value that follows `before` (the raw text before it in the same
/// string) and precedes `after` is secret: by the key it stands under (or, in `args`/`env`/`labels`,
/// its own key's name), by the variable's name,
/// or by standing in a URL's userinfo or query. Everything else is ordinary.
fn is_secret_use(path: &[String], name: &str, before: &str, after: &str) -> bool {
    if path.iter().any(|k| SECRET_KEYS.contains(&k.as_str())) || is_secret_name(name) {
        return true;
    }
    // A value whose own key, in a map of names the user chooses, says it is a credential
    // (`build.dockerfile.args.NPM_TOKEN: ${CI_VALUE}`): Docker prints what a `RUN` echoes.
    if let [.., map, key] = path {
        if ["args", "env", "labels"].contains(&map.as_str()) && is_secret_name(key) {
            return true;
        }
    }
    let Some(scheme_end) = before.find("://") else {
        return false;
    };
    let since_scheme = &before[scheme_end + 3..];
    let in_query = since_scheme.contains('?');
    let in_userinfo = !since_scheme.contains(['/', '?', '#'])
        && after
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|authority_rest| authority_rest.contains('@'));
    in_query || in_userinfo
}

/// Every `${VAR}` use in the strings of `value`, by variable: whether each use is secret (the
/// same rule interpolation applies: see `is_secret_use`). Uses with a default are left out
/// (they never need the variable). Returns the names whose every use is secret, and the
/// names used at least once in an ordinary place.
pub fn secret_uses(
    value: &serde_yaml::Value,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<String>,
) {
    fn walk(
        value: &serde_yaml::Value,
        path: &mut Vec<String>,
        secret: &mut std::collections::BTreeSet<String>,
        ordinary: &mut std::collections::BTreeSet<String>,
    ) {
        match value {
            serde_yaml::Value::String(s) => {
                let mut offset = 0;
                while let Some(i) = s[offset..].find("${") {
                    let start = offset + i;
                    let Some(end) = s[start..].find('}').map(|e| start + e) else {
                        return;
                    };
                    let inner = &s[start + 2..end];
                    if !inner.contains(":-") && valid_var_name(inner) {
                        if is_secret_use(path, inner, &s[..start], &s[end + 1..]) {
                            secret.insert(inner.to_string());
                        } else {
                            ordinary.insert(inner.to_string());
                        }
                    }
                    offset = end + 1;
                }
            }
            serde_yaml::Value::Sequence(items) => {
                for item in items {
                    walk(item, path, secret, ordinary);
                }
            }
            serde_yaml::Value::Mapping(map) => {
                for (k, v) in map {
                    path.push(k.as_str().unwrap_or("").to_ascii_lowercase());
                    walk(v, path, secret, ordinary);
                    path.pop();
                }
            }
            serde_yaml::Value::Tagged(t) => walk(&t.value, path, secret, ordinary),
            _ => {}
        }
    }
    let mut secret = std::collections::BTreeSet::new();
    let mut ordinary = std::collections::BTreeSet::new();
    walk(value, &mut Vec::new(), &mut secret, &mut ordinary);
    let only_secret = secret.difference(&ordinary).cloned().collect();
    (only_secret, ordinary)
}

fn interpolate_str(
    s: &str,
    path: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| Error::usage(format!("`${{` without `}}` in `{s}`")))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let before_raw = &s[..s.len() - rest.len() + start];
        let value = match (env(name), default) {
            (Some(v), _) => {
                if is_secret_use(path, name, before_raw, &after[end + 1..]) {
                    redactor.add(v.clone());
                }
                v
            }
            (None, Some(d)) => d.to_string(),
            (None, None) => {
                return Err(
                    Error::usage(format!("environment variable `{name}` is not set"))
                        .with_hint(format!("export {name}, or write `${{{name}:-default}}`")),
                )
            }
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_git_templates() {
        let v = TemplateValues {
            sha: "0123456789abcdef0123".into(),
            branch: Some("main".into()),
            tag: None,
            run_number: 7,
            date: "20261125".into(),
        };
        assert_eq!(
            render("{{git.short_sha}}-{{ run.number }}", &v, "t").unwrap(),
            "0123456789ab-7"
        );
        assert!(render("{{git.tag}}", &v, "t")
            .unwrap_err()
            .to_string()
            .contains("no tag"));
        assert!(render("{{git.nope}}", &v, "t").is_err());
    }

    #[test]
    fn secret_uses_are_told_from_ordinary_ones() {
        let v: serde_yaml::Value = serde_yaml::from_str(
            "push:\n  repository: ${REPO}\n  register:\n    - url: https://x.test/hook\n      secret: ${WEBHOOK_SECRET}\n      headers: { Authorization: \"Bearer ${SHARED}\" }\nbuild:\n  customize:\n    base: ${SHARED}\n    user: ${U:-1}\n",
        )
        .unwrap();
        let (secret, ordinary) = secret_uses(&v);
        assert_eq!(secret.into_iter().collect::<Vec<_>>(), ["WEBHOOK_SECRET"]);
        assert_eq!(ordinary.into_iter().collect::<Vec<_>>(), ["REPO", "SHARED"]);
    }

    #[test]
    fn only_secret_values_are_registered() {
        let env = |n: &str| {
            Some(
                match n {
                    "BASE" => "alpine",
                    "TAG" => "v1.2",
                    "HOOK_TOKEN" => "tok-canary-1",
                    "PW" => "userinfo-canary",
                    "Q" => "query-canary",
                    "PLAIN" => "plain-value",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let mut v: serde_yaml::Value = serde_yaml::from_str(
            "build: {customize: {base: \"${BASE}\"}}\ntags: [\"${TAG}\"]\nx: \"${HOOK_TOKEN}\"\nu: \"https://bot:${PW}@h.example/p\"\nq: \"https://h.example/p?k=${Q}\"\np: \"https://h.example/${PLAIN}\"\npush: {register: [{url: \"https://h.example/${PLAIN}\"}]}\n",
        )
        .unwrap();
        let r = Redactor::default();
        interpolate_env(&mut v, &env, &r).unwrap();
        let shown = r.apply("alpine v1.2 tok-canary-1 userinfo-canary query-canary plain-value");
        assert_eq!(shown, "alpine v1.2 *** *** *** ***");
        // Registered only because it was used under `push.register`.
        assert!(is_secret_name("GITHUB_TOKEN") && is_secret_name("API_KEY"));
        assert!(!is_secret_name("BASE_IMAGE") && !is_secret_name("KEYRING_DIR"));
    }

    #[test]
    fn values_whose_own_key_names_a_credential_are_registered() {
        let env = |n: &str| match n {
            "CI_VALUE" => Some("arg-canary".to_string()),
            "CI_OTHER" => Some("env-canary".to_string()),
            "VERSION" => Some("1.2.3".to_string()),
            _ => None,
        };
        let mut v: serde_yaml::Value = serde_yaml::from_str(
            "build: {dockerfile: {args: {NPM_TOKEN: \"${CI_VALUE}\", APP_VERSION: \"${VERSION}\"}}, customize: {env: {DB_PASSWORD: \"${CI_OTHER}\"}}}\n",
        )
        .unwrap();
        let r = Redactor::default();
        interpolate_env(&mut v, &env, &r).unwrap();
        assert_eq!(r.apply("arg-canary env-canary 1.2.3"), "*** *** 1.2.3");
    }

    #[test]
    fn unknown_template_in_file_is_located() {
        let err = check_text("a: 1\ntags: [\"{{git.shaa}}\"]\n", "p.yaml", &|_| None).unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:2:9:"), "{err}");
    }
}
