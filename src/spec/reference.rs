//! The pipeline file's key reference (`docs/pipeline-keys.md`), generated from the JSON schema
//! `cleanpipe schema` prints, so the reference says what the parser accepts. A unit test keeps
//! the committed file current; `cleanpipe schema --markdown` writes it.

use serde_json::Value;

/// The reference as Markdown: one row per key path, with its type, default and description.
pub fn markdown() -> String {
    let schema = serde_json::to_value(schemars::schema_for!(crate::spec::model::PipelineFile))
        .expect("the schema serializes");
    let mut rows = Vec::new();
    walk(&schema, &schema, "", &mut rows);
    let mut out = String::from(
        "# Pipeline keys\n\n\
         Generated from the JSON schema (`cleanpipe schema`) by `cleanpipe schema --markdown`; a\n\
         test fails when this file is not current. How the keys work together, with examples:\n\
         [pipeline.md](pipeline.md).\n\n\
         | key | type | default | description |\n|---|---|---|---|\n",
    );
    for (key, ty, default, description) in rows {
        out.push_str(&format!(
            "| `{key}` | {ty} | {default} | {} |\n",
            cell(&description)
        ));
    }
    out
}

type Row = (String, String, String, String);

fn cell(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The schema `node` points at, through `$ref` and `anyOf: [X, null]`.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return resolve(root, &root["$defs"][name]);
    }
    if let Some(any) = node.get("anyOf").and_then(Value::as_array) {
        let not_null: Vec<&Value> = any
            .iter()
            .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if let [only] = not_null.as_slice() {
            return resolve(root, only);
        }
    }
    node
}

/// A short type: `string`, `boolean`, `integer`, `list of …`, `map of …`, `object`, or the
/// values of an enum.
fn type_of(root: &Value, node: &Value) -> String {
    let node = resolve(root, node);
    if let Some(values) = enum_values(node) {
        return values.join(", ");
    }
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ if node.get("oneOf").is_some() || node.get("anyOf").is_some() => {
            vec!["one of several forms"]
        }
        _ => vec![],
    };
    match types.as_slice() {
        ["array"] => format!("list of {}", type_of(root, &node["items"])),
        ["object"] if node.get("properties").is_none() => match node.get("additionalProperties") {
            Some(v) if v.is_object() => format!("map of {}", type_of(root, v)),
            _ => "object".into(),
        },
        [] => "any".into(),
        ts => ts.join(" or "),
    }
}

fn enum_values(node: &Value) -> Option<Vec<String>> {
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        return Some(
            values
                .iter()
                .map(|v| format!("`{}`", v.as_str().unwrap_or("?")))
                .collect(),
        );
    }
    let variants = node.get("oneOf").and_then(Value::as_array)?;
    let mut out = Vec::new();
    for v in variants {
        match v
            .get("const")
            .or_else(|| v.get("enum").and_then(|e| e.get(0)))
        {
            Some(Value::String(s)) => out.push(format!("`{s}`")),
            _ => return None,
        }
    }
    Some(out)
}

fn default_of(node: &Value) -> String {
    match node.get("default") {
        None | Some(Value::Null) => String::new(),
        Some(Value::Array(a)) if a.is_empty() => String::new(),
        Some(Value::Object(o)) if o.is_empty() => String::new(),
        Some(Value::Object(_)) => String::new(),
        Some(v) => format!("`{v}`"),
    }
}

fn walk(root: &Value, node: &Value, prefix: &str, rows: &mut Vec<Row>) {
    let node = resolve(root, node);
    let Some(properties) = node.get("properties").and_then(Value::as_object) else {
        return;
    };
    let mut keys: Vec<&String> = properties.keys().collect();
    keys.sort();
    for key in keys {
        let child = &properties[key];
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let description = child
            .get("description")
            .or_else(|| resolve(root, child).get("description"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        rows.push((
            path.clone(),
            type_of(root, child),
            default_of(child),
            description,
        ));
        let target = resolve(root, child);
        if target.get("properties").is_some() {
            walk(root, target, &path, rows);
        } else if target.get("type").and_then(Value::as_str) == Some("array") {
            walk(root, &target["items"], &format!("{path}[]"), rows);
        } else if let Some(v) = target.get("additionalProperties").filter(|v| v.is_object()) {
            walk(root, v, &format!("{path}.NAME"), rows);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_reference_is_current() {
        let committed = include_str!("../../docs/pipeline-keys.md");
        assert!(
            committed == super::markdown(),
            "docs/pipeline-keys.md is not what the schema says: run \
             `cargo run -- schema --markdown > docs/pipeline-keys.md`"
        );
    }

    #[test]
    fn every_key_is_described() {
        let text = super::markdown();
        let undescribed: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| `") && l.ends_with("|  |"))
            .collect();
        assert!(
            undescribed.is_empty(),
            "keys without a description: {undescribed:#?}"
        );
        // Every key is built: a part that is not is refused by the parser, not described.
        for stale in ["not built yet", "not yet built", "planned", "TODO"] {
            assert!(!text.contains(stale), "a description says `{stale}`");
        }
    }
}
