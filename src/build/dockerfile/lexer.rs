//! Dockerfile lines into instructions, by BuildKit's rules (v0.34's `frontend/dockerfile/parser`):
//! parser directives and where they stop, line continuation, comments inside continued
//! instructions, heredoc bodies, and the `--flag` words before an instruction's arguments.
//! Where readers of Dockerfiles have been seen to disagree, the text is refused instead
//! ([`Problem::refused`]): cleanpipe must find exactly the images the builder will use.

use super::{Grammar, Problem};

/// Parser directives BuildKit knows; the first other `# key=value` line ends the directives.
const KNOWN_DIRECTIVES: &[&str] = &["syntax", "escape", "check"];

/// Parser directives the classic builder knows (the Docker engine's parser, BuildKit v0.8's:
/// no `check`).
const CLASSIC_DIRECTIVES: &[&str] = &["syntax", "escape"];

/// BuildKit reads lines with a 64 KiB buffer and fails on a longer one.
const MAX_LINE: usize = 64 * 1024 - 1;

/// One logical instruction: continuation lines joined, heredoc bodies consumed.
#[derive(Clone, Debug)]
pub struct Instruction {
    /// 1-based line the instruction starts on.
    pub line: usize,
    /// The keyword as written (`from`, `FROM`).
    pub keyword: String,
    /// The `--flag` words before the arguments, quotes and escapes removed (as BuildKit does).
    pub flags: Vec<String>,
    /// The arguments after the flags, trimmed.
    pub args: String,
}

impl Instruction {
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword)
    }
}

/// The instructions of a Dockerfile and its escape character.
pub struct Parsed {
    pub instructions: Vec<Instruction>,
    pub escape: char,
}

/// The whitespace Go's `unicode.IsSpace` knows, as Rust's `char::is_whitespace` does.
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]`.
pub fn is_word_space(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// A line after `# ` that looks like a directive (`key = value`, Go's `\s` around `=`):
/// the lower-case key and the value.
fn directive_like(rest: &str) -> Option<(String, String)> {
    let go_space = |c: char| matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ');
    let mut chars = rest.char_indices();
    let (_, first) = chars.next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let key_end = rest
        .char_indices()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
        .map_or(rest.len(), |(i, _)| i);
    let key = &rest[..key_end];
    let after = rest[key_end..].trim_start_matches(go_space);
    let value = after.strip_prefix('=')?.trim_matches(go_space);
    if value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_string()))
}

/// What BuildKit's directive parser makes of one line (with `comment` as the comment mark):
/// `None` ends the directives.
fn directive_line(line: &str, comment: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix(comment)?.trim_start_matches(is_space);
    let (key, value) = directive_like(rest)?;
    KNOWN_DIRECTIVES
        .contains(&key.as_str())
        .then_some((key, value))
}

/// The lines of the text as BuildKit scans them: split at `\n` only, line ends (`\r`, `\n`)
/// trimmed.
fn lines(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = text
        .split_inclusive('\n')
        .map(|l| l.trim_end_matches(['\r', '\n']))
        .collect();
    if out.is_empty() {
        out.push("");
    }
    out
}

/// The frontend image a Dockerfile selects for BuildKit (`DetectSyntax`): the first word of a
/// `syntax` directive, and its line. The forms only some readers know (a byte-order mark or a
/// `#!` line before it, `// syntax=`, a JSON document) are refused.
pub fn syntax(text: &str) -> Result<Option<(usize, String)>, Problem> {
    let (text, bom) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let all = lines(text);
    let shebang = all[0].starts_with("#!");
    let offset = usize::from(shebang);
    let scan = |comment: &str| -> Option<(usize, String)> {
        for (i, line) in all.iter().enumerate().skip(offset) {
            let (key, value) = directive_line(line, comment)?;
            if key == "syntax" {
                return Some((i + 1, value));
            }
        }
        None
    };
    let first_word = |v: String| v.split(' ').next().unwrap_or_default().to_string();
    if let Some((line, value)) = scan("#") {
        if bom || shebang {
            let what = if bom {
                "a byte-order mark"
            } else {
                "a `#!` line"
            };
            return Err(Problem::refused(
                line,
                format!("`# syntax={value}` follows {what}, which only some readers skip"),
                "remove the byte-order mark or the `#!` line, so every reader sees the same directives",
            ));
        }
        return Ok(Some((line, first_word(value))));
    }
    if let Some((line, value)) = scan("//") {
        return Err(Problem::refused(
            line,
            format!("`// syntax={value}` selects a frontend image that cleanpipe does not read as a directive"),
            "write `# syntax=IMAGE@sha256:…` on the first line, or remove the line",
        ));
    }
    // BuildKit also reads a JSON document (after a `#!` line) for its `syntax` key; no
    // Dockerfile is a JSON object.
    let body = match text.split_once('\n') {
        Some((first, rest)) if shebang && first.starts_with("#!") => rest,
        _ => text,
    };
    if let Ok(serde_json::Value::Object(_)) = serde_json::from_str(body) {
        return Err(Problem::refused(
            1 + offset,
            "the Dockerfile is a JSON document, which BuildKit reads for a `syntax` key (a frontend image)".into(),
            "build from a Dockerfile, not a JSON document",
        ));
    }
    Ok(None)
}

/// BuildKit's line-continuation rule: the escape character, then only spaces and tabs, at
/// the end of the line (`([^E])E[ \t]*$|^E[ \t]*$`). The line without it, and whether it
/// continues.
fn continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, false);
    };
    match before.chars().last() {
        None => ("", true),
        Some(c) if c != escape => (before, true),
        Some(_) => (line, false),
    }
}

/// The escape character followed by whitespace other than spaces and tabs at the end of a line:
/// BuildKit does not continue the line, other readers do.
fn odd_continuation(line: &str, escape: char, number: usize) -> Result<(), Problem> {
    let body = line.trim_end_matches(is_space);
    if body.len() != line.len()
        && body.ends_with(escape)
        && !continuation(line, escape).1
        && continuation(body, escape).1
    {
        let odd: Vec<String> = line[body.len()..]
            .chars()
            .filter(|c| *c != ' ' && *c != '\t')
            .map(|c| format!("U+{:04X}", c as u32))
            .collect();
        return Err(Problem::refused(
            number,
            format!(
                "the escape character ({}) is followed by whitespace other than spaces and tabs ({})",
                escape_name(escape),
                odd.join(", ")
            ),
            "remove the invisible characters after the escape character, or the escape character",
        ));
    }
    Ok(())
}

fn escape_name(escape: char) -> &'static str {
    if escape == '`' {
        "a backquote"
    } else {
        "a backslash"
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start_matches(is_space).starts_with('#')
}

/// Split an instruction's text into keyword, flags and arguments (BuildKit's `splitCommand`
/// and `extractBuilderFlags`, which read the flags byte by byte).
fn split_command(
    text: &str,
    escape: char,
    line: usize,
) -> Result<(String, Vec<String>, String), Problem> {
    let text = text.trim_matches(is_space);
    let (keyword, rest) = match text.find(is_word_space) {
        Some(i) => (&text[..i], text[i..].trim_start_matches(is_word_space)),
        None => (text, ""),
    };
    let (flags, args) = builder_flags(rest, escape, line)?;
    Ok((
        keyword.to_string(),
        flags,
        args.trim_matches(is_space).to_string(),
    ))
}

fn builder_flags(line: &str, escape: char, number: usize) -> Result<(Vec<String>, &str), Problem> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(u8),
    }
    let bytes = line.as_bytes();
    let escape = escape as u8;
    let mut words = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let non_ascii = || {
        Problem::refused(
            number,
            "a `--flag` word has a character that is not ASCII".into(),
            "BuildKit reads flags byte by byte: write flags in ASCII",
        )
    };
    let mut pos = 0;
    loop {
        if phase == Phase::Spaces {
            if pos == bytes.len() {
                return Ok((words, ""));
            }
            let ch = bytes[pos];
            if ch.is_ascii_whitespace() || ch == 0x0b {
                pos += 1;
                continue;
            }
            if !(ch == b'-' && bytes.get(pos + 1) == Some(&b'-')) {
                return Ok((words, &line[pos..]));
            }
            phase = Phase::Word;
        }
        if pos == bytes.len() {
            if let Phase::Quote(q) = phase {
                return Err(Problem::refused(
                    number,
                    format!("a `--flag` word opens a quote (`{}`) that the line never closes, so the flag takes the rest of the instruction", q as char),
                    "close the quote in the flag",
                ));
            }
            if word != b"--" && (blank_ok || !word.is_empty()) {
                words.push(String::from_utf8(word).map_err(|_| non_ascii())?);
            }
            return Ok((words, ""));
        }
        let mut ch = bytes[pos];
        if !ch.is_ascii() {
            return Err(non_ascii());
        }
        match phase {
            Phase::Word => {
                if ch.is_ascii_whitespace() || ch == 0x0b {
                    if word == b"--" {
                        return Ok((words, &line[pos..]));
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(
                            String::from_utf8(std::mem::take(&mut word))
                                .map_err(|_| non_ascii())?,
                        );
                    }
                    word.clear();
                    blank_ok = false;
                    phase = Phase::Spaces;
                    pos += 1;
                    continue;
                }
                if ch == b'\'' || ch == b'"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                    pos += 1;
                    continue;
                }
                if ch == escape {
                    if pos + 1 == bytes.len() {
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                    ch = bytes[pos];
                    if !ch.is_ascii() {
                        return Err(non_ascii());
                    }
                }
                word.push(ch);
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                    pos += 1;
                    continue;
                }
                if ch == escape {
                    if pos + 1 == bytes.len() {
                        phase = Phase::Word;
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                    ch = bytes[pos];
                    if !ch.is_ascii() {
                        return Err(non_ascii());
                    }
                }
                word.push(ch);
            }
            Phase::Spaces => unreachable!("handled above"),
        }
        pos += 1;
    }
}

/// The heredocs a `RUN`, `COPY` or `ADD` line opens, in order: (name, strip leading tabs).
/// BuildKit splits the line into shell words and takes each word of the form
/// `[n]<<[-]WORD`; a `<<` anywhere else is refused, since a shell or another reader may see a
/// heredoc where BuildKit sees none (or the other way around).
fn heredocs(text: &str, line: usize) -> Result<Vec<(String, bool)>, Problem> {
    let mut out = Vec::new();
    for word in shell_words(text) {
        if !word.contains("<<") {
            continue;
        }
        let digits = word.bytes().take_while(u8::is_ascii_digit).count();
        let after = &word[digits..];
        // `<<<` is a here-string, never a heredoc in either reader.
        if after.starts_with("<<<") {
            continue;
        }
        let unclear = || {
            Problem::refused(
                line,
                format!("`{word}`: a `<<` that BuildKit and a shell may read differently"),
                "write heredocs as a word of their own, `<<EOF` or `<<-\"EOF\"` (letters, digits, `_`, `.`, `-`), or avoid `<<`",
            )
        };
        let Some(rest) = after.strip_prefix("<<") else {
            return Err(unclear());
        };
        let (chomp, rest) = match rest.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let name = if let Some(q) = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            q
        } else if let Some(q) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            q
        } else {
            rest
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(unclear());
        }
        out.push((name.to_string(), chomp));
    }
    Ok(out)
}

/// Shell words as BuildKit's heredoc detection splits them (quotes and `\` kept in the word).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == q {
                    quote = None;
                } else if c == '\\' && q == '"' {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
            }
            None if c == ' ' || c == '\t' || is_space(c) => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            None => {
                word.push(c);
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == '\\' {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Read the Dockerfile the way BuildKit's parser does.
pub fn parse(text: &str, grammar: Grammar) -> Result<Parsed, Problem> {
    let all = lines(text);
    let known = match grammar {
        Grammar::Buildkit => KNOWN_DIRECTIVES,
        Grammar::Classic => CLASSIC_DIRECTIVES,
    };
    let mut escape = '\\';
    let mut directives_done = false;
    let mut seen_directives: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let number = i + 1;
        let raw = if i == 0 {
            all[0].strip_prefix('\u{feff}').unwrap_or(all[0])
        } else {
            all[i]
        };
        if raw.len() > MAX_LINE {
            return Err(Problem::syntax(
                number,
                "the line is longer than BuildKit reads (64 KiB)".into(),
            ));
        }
        i += 1;
        let stripped = raw.trim_start_matches(is_space);
        if !directives_done {
            let after_hash = stripped.strip_prefix('#').map(|r| {
                let rest = r.trim_start_matches(is_space);
                (&r[..r.len() - rest.len()], rest)
            });
            let directive = after_hash
                .and_then(|(_, rest)| directive_like(rest))
                .filter(|(key, _)| known.contains(&key.as_str()));
            match directive {
                Some((key, value)) => {
                    let gap = after_hash.map_or("", |(gap, _)| gap);
                    if gap
                        .chars()
                        .any(|c| !matches!(c, ' ' | '\t' | '\u{c}' | '\r'))
                    {
                        return Err(Problem::refused(
                            number,
                            format!("the `{key}` directive has whitespace other than spaces and tabs after `#`"),
                            "write the directive as `# key=value` with plain spaces",
                        ));
                    }
                    if stripped.len() != raw.len() {
                        return Err(Problem::refused(
                            number,
                            format!("the `{key}` directive is indented"),
                            "start parser directives at the beginning of the line",
                        ));
                    }
                    if seen_directives.contains(&key) {
                        return Err(Problem::syntax(
                            number,
                            format!("only one `{key}` parser directive can be used"),
                        ));
                    }
                    seen_directives.push(key.clone());
                    if key == "escape" {
                        escape = match value.as_str() {
                            "\\" => '\\',
                            "`" => '`',
                            _ => {
                                return Err(Problem::syntax(
                                    number,
                                    format!("invalid escape token `{value}`: only `\\` or `` ` ``"),
                                ))
                            }
                        };
                    }
                    continue;
                }
                None => directives_done = true,
            }
        }
        if is_comment(stripped) {
            // A directive-looking comment after the directives ended (a `# key=value` line, a
            // blank line or `#!` before it): BuildKit ignores it, others may apply it.
            let rest = stripped[1..].trim_start_matches(is_space);
            if let Some((key, _)) = directive_like(rest) {
                if known.contains(&key.as_str()) && out.is_empty() {
                    return Err(Problem::refused(
                        number,
                        format!("a `{key}` parser directive (`{}`) after the directives ended: BuildKit ignores it, other readers may apply it", stripped.trim_end()),
                        "put parser directives first, before any other comment, blank line or `# key=value` line",
                    ));
                }
            }
            continue;
        }
        odd_continuation(stripped, escape, number)?;
        let (first, mut continues) = continuation(stripped, escape);
        if !continues && first.is_empty() {
            continue;
        }
        let mut text = first.to_string();
        while continues && i < all.len() {
            let next = all[i];
            let last = i + 1;
            i += 1;
            if next.len() > MAX_LINE {
                return Err(Problem::syntax(
                    last,
                    "the line is longer than BuildKit reads (64 KiB)".into(),
                ));
            }
            if is_comment(next) || next.chars().all(is_space) {
                continue;
            }
            odd_continuation(next, escape, last)?;
            let (body, more) = continuation(next, escape);
            text.push_str(body);
            continues = more;
        }
        // The classic builder's parser reads flags with `\` whatever the escape directive says.
        let flag_escape = match grammar {
            Grammar::Buildkit => escape,
            Grammar::Classic => '\\',
        };
        let (keyword, flags, args) = split_command(&text, flag_escape, number)?;
        let upper = keyword.to_ascii_uppercase();
        if text.contains("<<") {
            let heredoc_capable = matches!(upper.as_str(), "RUN" | "COPY" | "ADD");
            let json_form = args.starts_with('[');
            if !heredoc_capable || json_form {
                return Err(Problem::refused(
                    number,
                    format!("`<<` in a {upper} instruction: BuildKit reads heredocs only in the shell form of RUN, COPY and ADD"),
                    "remove the `<<`, or move the heredoc into a RUN, COPY or ADD",
                ));
            }
            let docs = heredocs(&text, number)?;
            if !docs.is_empty() && grammar == Grammar::Classic {
                return Err(Problem::refused(
                    number,
                    "a heredoc (`<<`), which the classic builder does not read".into(),
                    "use `builder: buildkit`, or write the content into a file of the context",
                ));
            }
            for (name, chomp) in docs {
                let mut closed = false;
                while i < all.len() {
                    let body = all[i];
                    i += 1;
                    let body = if chomp {
                        body.trim_start_matches('\t')
                    } else {
                        body
                    };
                    if body == name {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(Problem::syntax(
                        number,
                        format!("the heredoc `{name}` is never closed"),
                    ));
                }
            }
        }
        out.push(Instruction {
            line: number,
            keyword,
            flags,
            args,
        });
    }
    Ok(Parsed {
        instructions: out,
        escape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_is_escape_then_spaces_or_tabs_only() {
        assert_eq!(continuation("RUN a \\", '\\'), ("RUN a ", true));
        assert_eq!(continuation("RUN a \\ \t ", '\\'), ("RUN a ", true));
        assert_eq!(continuation("\\", '\\'), ("", true));
        assert_eq!(continuation("RUN a \\\\", '\\'), ("RUN a \\\\", false));
        assert_eq!(
            continuation("RUN a \\\u{a0}", '\\'),
            ("RUN a \\\u{a0}", false)
        );
        assert_eq!(continuation("RUN a `", '`'), ("RUN a ", true));
        assert!(odd_continuation("RUN a \\\u{a0}", '\\', 3).is_err());
        assert!(odd_continuation("RUN a \\\u{c}", '\\', 3).is_err());
        assert!(odd_continuation("RUN a \\ ", '\\', 3).is_ok());
    }

    #[test]
    fn flags_are_read_byte_by_byte_with_quotes() {
        let (flags, rest) =
            builder_flags("--mount=\"type=bind,from=x\" --from='a b' echo", '\\', 1).unwrap();
        assert_eq!(flags, vec!["--mount=type=bind,from=x", "--from=a b"]);
        assert_eq!(rest, "echo");
        let (flags, rest) = builder_flags("--a=1 -- --b=2", '\\', 1).unwrap();
        assert_eq!((flags, rest), (vec!["--a=1".to_string()], " --b=2"));
        assert!(builder_flags("--mount=from=x\u{a0}y true", '\\', 1).is_err());
    }

    #[test]
    fn heredoc_words() {
        assert_eq!(
            heredocs("RUN cat <<EOF 2<<-'END' <<<here", 1).unwrap(),
            vec![("EOF".to_string(), false), ("END".to_string(), true)]
        );
        assert!(heredocs("RUN cat << EOF", 1).is_err());
        assert!(heredocs("RUN cat<<EOF", 1).is_err());
        assert!(heredocs("RUN echo \"<<EOF\"", 1).is_err());
        assert!(heredocs("RUN cat <<$X", 1).is_err());
    }
}
