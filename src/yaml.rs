//! YAML files people write by hand (the pipeline file, the deploy policy): typed reading whose
//! errors lead with file:line:col and the key path and offer a fix, and finding a key's line for
//! errors found after parsing.

use crate::error::{Error, Result};

/// Deserialize `text` (shown as `shown` in messages) into `T`. An error names file:line:col and
/// the key path, offers the nearest allowed name for an unknown key or value, and otherwise
/// `hint` for a missing field.
pub fn deserialize<T: serde::de::DeserializeOwned>(
    text: &str,
    shown: &str,
    hint: &str,
) -> Result<T> {
    serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let key_path = if path == "." || path.is_empty() {
            None
        } else {
            Some(path)
        };
        let mut err = error(&inner, shown, key_path.as_deref());
        if let Some(hint) = did_you_mean(&inner.to_string()) {
            err = err.with_hint(hint);
        } else if inner.to_string().contains("missing field") {
            err = err.with_hint(hint);
        }
        err
    })
}

/// A serde_yaml error as `shown:line:col: `key.path`: message`.
pub fn error(e: &serde_yaml::Error, shown: &str, key_path: Option<&str>) -> Error {
    let location = match e.location() {
        Some(l) => format!("{shown}:{}:{}", l.line(), l.column()),
        None => shown.to_string(),
    };
    // serde_yaml appends " at line X column Y"; we already lead with it.
    let mut message = e.to_string();
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    // serde_yaml also leads with its own `a.b.c: ` path; we print ours.
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.contains(' ') && key_path.is_some() {
            message = rest.to_string();
        }
    }
    // For an unknown key, the path is where it stands, not the key itself.
    let key_path = match key_path {
        Some(p) if message.starts_with("unknown field") => {
            p.rsplit_once('.').map(|(parent, _)| parent.to_string())
        }
        other => other.map(String::from),
    };
    let message = match key_path.as_deref() {
        Some(p) => format!("{location}: `{p}`: {message}"),
        None => format!("{location}: {message}"),
    };
    Error::usage(message)
}

/// "did you mean `fail_on`?" for serde's unknown-field and unknown-variant messages.
fn did_you_mean(message: &str) -> Option<String> {
    let (kind, rest) = if let Some((_, r)) = message.split_once("unknown field `") {
        ("field", r)
    } else if let Some((_, r)) = message.split_once("unknown variant `") {
        ("value", r)
    } else {
        return None;
    };
    let (got, tail) = rest.split_once('`')?;
    let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    let best = expected
        .iter()
        .map(|cand| (strsim::jaro_winkler(got, cand), *cand))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, cand)) => Some(format!("did you mean `{cand}`?")),
        None if expected.is_empty() => Some(format!("this {kind} is not allowed here")),
        None => Some(format!(
            "allowed here: {}",
            expected
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Find the line and column of a block-style mapping key path in YAML text (1-based).
/// A numeric segment (`"2"`) names the item of a block sequence (`- …`) by index.
/// Good enough for error messages; returns the deepest key found.
pub fn locate_key(text: &str, key_path: &[&str]) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut parent_indent: isize = -1;
    let mut found = None;
    // The indent of the sequence items being counted, and how many were seen.
    let mut items: Option<(usize, usize)> = None;
    for (number, line) in text.lines().enumerate() {
        if depth == key_path.len() {
            break;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut indent = line.len() - trimmed.len();
        if (indent as isize) <= parent_indent && depth > 0 {
            // Left the block of the previous key without finding the next one.
            break;
        }
        let mut body = trimmed;
        loop {
            if depth == key_path.len() {
                break;
            }
            let key = key_path[depth];
            if let Ok(index) = key.parse::<usize>() {
                let Some(rest) = body
                    .strip_prefix("- ")
                    .or(body.strip_prefix('-').filter(|r| r.is_empty()))
                else {
                    break;
                };
                let (at, seen) = items.get_or_insert((indent, 0));
                if *at != indent {
                    break;
                }
                *seen += 1;
                if *seen != index + 1 {
                    break;
                }
                found = Some((number + 1, indent + 1));
                parent_indent = indent as isize;
                depth += 1;
                items = None;
                indent += 2;
                body = rest.trim_start();
                continue;
            }
            if let Some(item) = body.strip_prefix("- ") {
                indent += 2;
                body = item.trim_start();
            }
            let is_key = body
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with(':'));
            if is_key {
                found = Some((number + 1, indent + 1));
                parent_indent = indent as isize;
                depth += 1;
            }
            break;
        }
    }
    found
}

/// `build.customize.files[2].src` for `["build", "customize", "files", "2", "src"]`.
pub fn show_key_path(key_path: &[&str]) -> String {
    let mut out = String::new();
    for k in key_path {
        if k.parse::<usize>().is_ok() {
            out.push_str(&format!("[{k}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(k);
        }
    }
    out
}

/// An error about the key at `key_path` of `text` (shown as `shown`), located when it can be.
pub fn error_at(text: &str, shown: &str, key_path: &[&str], message: impl Into<String>) -> Error {
    let location = locate_key(text, key_path)
        .map(|(l, c)| format!("{shown}:{l}:{c}"))
        .unwrap_or_else(|| shown.to_string());
    Error::usage(format!(
        "{location}: `{}`: {}",
        show_key_path(key_path),
        message.into()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_nested_keys() {
        let text = "a:\n  b: 1\nc:\n  d:\n    - e: 1\n      f: 2\n";
        assert_eq!(locate_key(text, &["c", "d"]), Some((4, 3)));
        assert_eq!(locate_key(text, &["c", "d", "f"]), Some((6, 7)));
        let text = "b:\n  files:\n    - src: a\n      dest: /a\n    - src: b\n      dest: /b\n";
        assert_eq!(locate_key(text, &["b", "files", "1", "dest"]), Some((6, 7)));
        assert_eq!(locate_key(text, &["b", "files", "0", "src"]), Some((3, 7)));
        assert_eq!(
            show_key_path(&["b", "files", "1", "dest"]),
            "b.files[1].dest"
        );
    }
}
