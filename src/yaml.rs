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
        if inner.to_string().contains(EMPTY_BLOCK) {
            // Located at the key itself (serde_yaml would name the enclosing mapping).
            let segments = path_segments(key_path.as_deref().unwrap_or(""));
            let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
            return error_at(text, shown, &segments, EMPTY_BLOCK).with_hint(EMPTY_BLOCK_HINT);
        }
        let mut err = error(&inner, shown, key_path.as_deref());
        if let Some(hint) = did_you_mean(&inner.to_string()) {
            err = err.with_hint(hint);
        } else if inner.to_string().contains("missing field") {
            err = err.with_hint(hint);
        }
        err
    })
}

/// What a key written with nothing under it (YAML null: `key:` alone, `key: ~`, or only
/// comments below it) means. serde reads such a key like a missing one (`None`, or the field's
/// default), so a block whose entries were all commented out would silently drop its rules.
/// Every block-valued key of a file people write (the pipeline file, the deploy policy) says
/// instead, with `#[serde(default, deserialize_with = …)]`, which of these it takes:
///
/// - [`null_is_empty`]: the empty block of its kind, `{}` for a mapping (each of its keys at
///   its default; for an optional block such as `build.scan:`, the block is *there*, with its
///   defaults) or `[]` for a list;
/// - [`null_is_error`]: a usage error at the key's line, for a block whose empty form would
///   state no rule (`bases:`, `require.attestations:`, `push.register:`) or would be ambiguous.
///
/// Absent keys are untouched: serde never calls these for a key that is not written.
pub fn null_is_empty<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    match Option::<T>::deserialize(deserializer)? {
        Some(value) => Ok(value),
        None => T::deserialize(Empty::<D::Error>(std::marker::PhantomData)),
    }
}

/// See [`null_is_empty`]: a key written with nothing under it is a usage error, located at the
/// key by [`deserialize`].
pub fn null_is_error<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(deserializer)?
        .ok_or_else(|| <D::Error as serde::de::Error>::custom(EMPTY_BLOCK))
}

/// The message of [`null_is_error`]; [`deserialize`] recognises it to locate the key.
pub const EMPTY_BLOCK: &str =
    "is written with nothing under it (are all its entries commented out?), and empty it would state no rule";
const EMPTY_BLOCK_HINT: &str = "a key written empty is not the same as a key left out: write what it should hold, or delete the key (docs/pipeline.md says what each key means when written empty)";

/// A deserializer of the empty value of whatever is asked for: `{}` for a mapping or struct,
/// `[]` for a list, `Some({})` for an optional block.
struct Empty<E>(std::marker::PhantomData<E>);

impl<'de, E: serde::de::Error> serde::Deserializer<'de> for Empty<E> {
    type Error = E;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, E> {
        visitor.visit_map(serde::de::value::MapDeserializer::<_, E>::new(
            std::iter::empty::<(String, String)>(),
        ))
    }

    fn deserialize_seq<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, E> {
        visitor.visit_seq(serde::de::value::SeqDeserializer::<_, E>::new(
            std::iter::empty::<String>(),
        ))
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, E> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// `["push", "register", "0", "on"]` for serde_path_to_error's `push.register[0].on`.
fn path_segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(rest[..i].to_string());
            }
            rest = &rest[i..];
            while let Some(r) = rest.strip_prefix('[') {
                let Some((index, tail)) = r.split_once(']') else {
                    break;
                };
                out.push(index.to_string());
                rest = tail;
            }
        } else if !rest.is_empty() {
            out.push(rest.to_string());
        }
    }
    out
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

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Gate {
        #[serde(default = "high")]
        fail_on: String,
        #[serde(default)]
        waivers: Vec<String>,
    }

    fn high() -> String {
        "high".into()
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default, deserialize_with = "null_is_empty")]
        scan: Option<Gate>,
        #[serde(default, deserialize_with = "null_is_empty")]
        gate: Gate,
        #[serde(default, deserialize_with = "null_is_empty")]
        keys: std::collections::BTreeMap<String, String>,
        #[serde(default, deserialize_with = "null_is_error")]
        allow: Option<Vec<String>>,
        #[serde(default, deserialize_with = "null_is_error")]
        rules: Vec<String>,
        #[serde(default)]
        other: Option<u32>,
    }

    fn read(text: &str) -> Result<File> {
        deserialize(text, "f.yaml", "see the reference")
    }

    #[test]
    fn a_key_written_empty_is_never_a_key_left_out() {
        let absent = read("other: 1\n").unwrap();
        assert_eq!(absent.other, Some(1));
        assert!(absent.scan.is_none() && absent.allow.is_none() && absent.rules.is_empty());
        assert_eq!(absent.gate, Gate::default());
        // Written with nothing under it, however spelled: the block is there, with its defaults.
        for text in [
            "scan:\n",
            "scan: ~\n",
            "scan: null\n",
            "scan:\n  # fail_on: low\n  # waivers: [a]\nother: 1\n",
            "scan: {}\n",
        ] {
            let f = read(text).unwrap();
            let want = Gate {
                fail_on: "high".into(),
                waivers: vec![],
            };
            assert_eq!(f.scan, Some(want), "{text}");
        }
        let f = read("gate:\nkeys:\nscan:\n  fail_on: low\n  waivers:\n").unwrap();
        assert_eq!(f.gate.fail_on, "high");
        assert!(f.keys.is_empty());
        assert_eq!(f.scan.unwrap().fail_on, "low");
        // A rule block written empty is a usage error at the key's own line.
        for (text, at) in [
            ("other: 1\nallow:\n  # - a\n", "f.yaml:2:1:"),
            ("other: 1\nallow: ~\n", "f.yaml:2:1:"),
            ("scan:\n  fail_on: low\nrules:\n", "f.yaml:3:1:"),
        ] {
            let err = read(text).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with(at), "{text}: {msg}");
            assert!(msg.contains(EMPTY_BLOCK), "{msg}");
            assert!(err.hint().is_some_and(|h| h.contains("delete the key")));
            assert_eq!(err.exit_code(), crate::ExitCode::Usage);
        }
        // Written with entries: read as written.
        let f = read("allow: [a]\nrules: [b]\n").unwrap();
        assert_eq!(f.allow, Some(vec!["a".to_string()]));
        assert_eq!(f.rules, ["b"]);
        // Still typed: a scalar where a block belongs is an error, not "empty".
        assert!(read("scan: 7\n").is_err());
    }

    #[test]
    fn error_paths_become_key_segments() {
        assert_eq!(
            path_segments("push.register[0].on"),
            ["push", "register", "0", "on"]
        );
        assert_eq!(path_segments("a[1][2]"), ["a", "1", "2"]);
        assert_eq!(path_segments("bases"), ["bases"]);
    }

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
