//! Variable expansion in the words that name images (`FROM`, `ARG` defaults before it), as
//! BuildKit's shell lexer does it for the forms cleanpipe reads: `$VAR`, `${VAR}`,
//! `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, quotes and the escape
//! character. Any other form is an error the caller turns into a refusal.

use std::collections::BTreeMap;

/// A variable's value and whether it depends on the platform being built (BuildKit's automatic
/// `BUILDPLATFORM`, `TARGETARCH`, … and what is derived from them).
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub text: String,
    pub per_platform: bool,
}

/// Variables in scope: a name with `Err` is one whose value cleanpipe could not read.
pub type Scope = BTreeMap<String, Result<Value, String>>;

/// The expanded word, and whether it depends on the platform being built.
pub fn expand(word: &str, escape: char, scope: &Scope) -> Result<Value, String> {
    if !word.is_ascii() {
        return Err("a character that is not ASCII".into());
    }
    let chars: Vec<char> = word.chars().collect();
    let mut out = Value {
        text: String::new(),
        per_platform: false,
    };
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => {
                quote = None;
                i += 1;
            }
            (Some('\''), _) => {
                out.text.push(c);
                i += 1;
            }
            (None, '\'') | (None, '"') => {
                quote = Some(c);
                i += 1;
            }
            (_, '$') => {
                i = variable(&chars, i, escape, scope, &mut out)?;
            }
            (_, c) if c == escape => {
                if quote.is_some() {
                    return Err(format!("the escape character `{escape}` inside quotes"));
                }
                match chars.get(i + 1) {
                    Some(n) => out.text.push(*n),
                    None => return Err(format!("the escape character `{escape}` ends the word")),
                }
                i += 2;
            }
            (_, '`') => return Err("a backquote".into()),
            _ => {
                out.text.push(c);
                i += 1;
            }
        }
    }
    if quote.is_some() {
        return Err("an unclosed quote".into());
    }
    Ok(out)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn lookup(name: &str, scope: &Scope, out: &mut Value) -> Result<Option<String>, String> {
    match scope.get(name) {
        None => Ok(None),
        Some(Err(why)) => Err(format!("`{name}`: {why}")),
        Some(Ok(v)) => {
            out.per_platform |= v.per_platform;
            Ok(Some(v.text.clone()))
        }
    }
}

/// One `$…` at `chars[start]`; the index after it.
fn variable(
    chars: &[char],
    start: usize,
    escape: char,
    scope: &Scope,
    out: &mut Value,
) -> Result<usize, String> {
    let mut i = start + 1;
    match chars.get(i) {
        // A lone `$` at the end stays.
        None => {
            out.text.push('$');
            Ok(i)
        }
        Some('{') => {
            i += 1;
            let name_start = i;
            while i < chars.len() && is_name_char(chars[i]) {
                i += 1;
            }
            let name: String = chars[name_start..i].iter().collect();
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err("a `${…}` without a variable name".into());
            }
            let close = chars[i..]
                .iter()
                .position(|c| *c == '}')
                .map(|p| p + i)
                .ok_or("an unclosed `${`")?;
            let op: String = chars[i..close].iter().collect();
            let value = lookup(&name, scope, out)?;
            let (kind, word) = if op.is_empty() {
                ("", "")
            } else if let Some(w) = op.strip_prefix(":-") {
                (":-", w)
            } else if let Some(w) = op.strip_prefix(":+") {
                (":+", w)
            } else if let Some(w) = op.strip_prefix('-') {
                ("-", w)
            } else if let Some(w) = op.strip_prefix('+') {
                ("+", w)
            } else {
                return Err(format!("`${{{name}{op}}}`: cleanpipe reads only `${{VAR}}`, `${{VAR:-word}}`, `${{VAR-word}}`, `${{VAR:+word}}` and `${{VAR+word}}`"));
            };
            if word
                .chars()
                .any(|c| matches!(c, '$' | '\'' | '"' | '`' | '{') || c == escape)
            {
                return Err(format!(
                    "`${{{name}{op}}}`: a word with variables, quotes or escapes inside `${{…}}`"
                ));
            }
            let set = value.as_ref().is_some_and(|v| !v.is_empty());
            let defined = value.is_some();
            let text = match kind {
                "" => value.unwrap_or_default(),
                ":-" if set => value.unwrap_or_default(),
                ":-" => word.to_string(),
                "-" if defined => value.unwrap_or_default(),
                "-" => word.to_string(),
                ":+" if set => word.to_string(),
                "+" if defined => word.to_string(),
                _ => String::new(),
            };
            out.text.push_str(&text);
            Ok(close + 1)
        }
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
            let name_start = i;
            while i < chars.len() && is_name_char(chars[i]) {
                i += 1;
            }
            let name: String = chars[name_start..i].iter().collect();
            let value = lookup(&name, scope, out)?;
            out.text.push_str(&value.unwrap_or_default());
            Ok(i)
        }
        Some(c) => Err(format!(
            "`${c}`: cleanpipe reads only `$VAR` and `${{VAR…}}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut s = Scope::new();
        let v = |t: &str, p: bool| {
            Ok(Value {
                text: t.into(),
                per_platform: p,
            })
        };
        s.insert("A".into(), v("reg/a", false));
        s.insert("E".into(), v("", false));
        s.insert("TARGETARCH".into(), v("amd64", true));
        s.insert("BAD".into(), Err("unreadable".into()));
        s
    }

    fn ex(w: &str) -> Result<String, String> {
        expand(w, '\\', &scope()).map(|v| v.text)
    }

    #[test]
    fn expands_the_forms_buildkit_knows() {
        assert_eq!(ex("$A:1").unwrap(), "reg/a:1");
        assert_eq!(ex("${A}@x").unwrap(), "reg/a@x");
        assert_eq!(ex("${E:-d}|${E-d}|${U-d}|${U:-d}").unwrap(), "d||d|d");
        assert_eq!(ex("${A:+y}|${E:+y}|${E+y}|${U+y}").unwrap(), "y||y|");
        assert_eq!(ex("\"$A\"'$A'").unwrap(), "reg/a$A");
        assert_eq!(ex("a\\$A").unwrap(), "a$A");
        assert_eq!(ex("x$").unwrap(), "x$");
        assert!(
            expand("i:$TARGETARCH", '\\', &scope())
                .unwrap()
                .per_platform
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for w in [
            "${A#x}", "${A:-$E}", "$(id)", "$1", "'a", "${A", "$BAD", "`x`",
        ] {
            assert!(ex(w).is_err(), "{w}");
        }
    }
}
