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

/// Replace `${VAR}` in every string of a YAML value; values taken from the environment are
/// registered as secrets.
pub fn interpolate_env(
    value: &mut serde_yaml::Value,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<()> {
    match value {
        serde_yaml::Value::String(s) => *s = interpolate_str(s, env, redactor)?,
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                interpolate_env(item, env, redactor)?;
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (_, v) in map.iter_mut() {
                interpolate_env(v, env, redactor)?;
            }
        }
        serde_yaml::Value::Tagged(t) => interpolate_env(&mut t.value, env, redactor)?,
        _ => {}
    }
    Ok(())
}

fn interpolate_str(
    s: &str,
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
        let value = match (env(name), default) {
            (Some(v), _) => {
                redactor.add(v.clone());
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
    fn unknown_template_in_file_is_located() {
        let err = check_text("a: 1\ntags: [\"{{git.shaa}}\"]\n", "p.yaml", &|_| None).unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:2:9:"), "{err}");
    }
}
