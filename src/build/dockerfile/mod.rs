//! Finding every image a Dockerfile makes its builder pull, so verify-base can gate them before
//! the build runs: the frontend (`# syntax=` or the `BUILDKIT_SYNTAX` build arg, BuildKit
//! only), each `FROM` (global `ARG`s and build args substituted, `--platform`, stage names),
//! `COPY --from=<image>` and `RUN --mount=…,from=<image>`.
//!
//! The text is read with the grammar of the builder that runs it (BuildKit's parser rules, see
//! [`lexer`]); a construct where readers have been seen to disagree is refused (exit 2) rather
//! than guessed, so the set found here is the set the builder uses.

mod lexer;
mod words;

use std::collections::BTreeMap;

use serde::Serialize;

use words::{Scope, Value};

/// The builder whose grammar a Dockerfile is read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grammar {
    /// BuildKit's `dockerfile.v0` frontend: heredocs, `--mount`, the `syntax` directive.
    Buildkit,
    /// The Docker engine's classic builder: no heredocs.
    Classic,
}

/// An image the Dockerfile uses that is not one of its own stages.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExternalImage {
    /// The reference after variable substitution.
    pub reference: String,
    /// 1-based line of the instruction (for a `BUILDKIT_SYNTAX` build arg: 0).
    pub line: usize,
    /// `FROM`, `COPY --from`, `RUN --mount`, `# syntax` or `BUILDKIT_SYNTAX`.
    pub instruction: &'static str,
    /// The platform the build pulls the image for.
    pub platform: ImagePlatform,
}

impl ExternalImage {
    /// The Dockerfile frontend image (`# syntax=`, `BUILDKIT_SYNTAX`), which BuildKit pulls and
    /// runs to read the Dockerfile.
    pub fn is_frontend(&self) -> bool {
        matches!(self.instruction, "# syntax" | "BUILDKIT_SYNTAX")
    }
}

/// The platform an image is used at: a `FROM --platform=` flag, else the one being built.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImagePlatform {
    /// The platform being built (no flag, or `$TARGETPLATFORM`).
    Target,
    /// The builder's own platform (`--platform=$BUILDPLATFORM`, the usual cross-build form;
    /// a frontend image).
    Build,
    /// A platform written out (`--platform=linux/arm64`), build args substituted.
    Named(String),
}

/// A Dockerfile problem found before the builder sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// A construct cleanpipe refuses because readers of Dockerfiles disagree on it (exit 2),
    /// rather than an error any builder would report.
    pub refused: bool,
}

impl Problem {
    pub(crate) fn syntax(line: usize, message: String) -> Self {
        Problem {
            line,
            message,
            hint: None,
            refused: false,
        }
    }

    pub(crate) fn refused(line: usize, message: String, hint: &str) -> Self {
        Problem {
            line,
            message,
            hint: Some(hint.to_string()),
            refused: true,
        }
    }
}

/// Instructions BuildKit and the classic builder know; anything else is a syntax error.
const INSTRUCTIONS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// The automatic platform arguments BuildKit sets in the global scope (`TARGETSTAGE` too):
/// their values depend on the platform (or target) being built.
const PLATFORM_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
];

/// The `syntax` directive and its line as BuildKit detects it: the frontend image it would
/// pull before reading the Dockerfile. Forms only some readers see are an error.
pub fn syntax_directive(text: &str) -> Result<Option<(usize, String)>, Problem> {
    lexer::syntax(text)
}

/// A `RUN --mount=type=secret` or `type=ssh` in the Dockerfile.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretMount {
    /// `id=`; for a secret without it (as BuildKit does) the last part of `target=`, for ssh
    /// `default`.
    pub id: String,
    /// 1-based line of the `RUN`.
    pub line: usize,
}

/// Every secret the Dockerfile's `RUN` steps mount (BuildKit's grammar).
pub fn secret_mounts(text: &str) -> Result<Vec<SecretMount>, Problem> {
    mounts_of(text, "secret")
}

/// Every SSH agent or key the Dockerfile's `RUN` steps mount (`--mount=type=ssh`).
pub fn ssh_mounts(text: &str) -> Result<Vec<SecretMount>, Problem> {
    mounts_of(text, "ssh")
}

fn mounts_of(text: &str, kind: &str) -> Result<Vec<SecretMount>, Problem> {
    let parsed = lexer::parse(text, Grammar::Buildkit)?;
    let mut out = Vec::new();
    for ins in parsed.instructions.iter().filter(|i| i.is("RUN")) {
        for mount in run_mounts(ins)? {
            if !mount
                .get("type")
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            {
                continue;
            }
            let id = mount.get("id").cloned().or_else(|| match kind {
                "ssh" => Some("default".to_string()),
                _ => mount
                    .get("target")
                    .or(mount.get("dst"))
                    .or(mount.get("destination"))
                    .and_then(|t| t.rsplit('/').next())
                    .map(str::to_string),
            });
            if let Some(id) = id.filter(|i| !i.is_empty()) {
                out.push(SecretMount { id, line: ins.line });
            }
        }
    }
    Ok(out)
}

/// The keys a `--mount` field may have (BuildKit's `parseMount`), lower-case.
const MOUNT_KEYS: &[&str] = &[
    "type",
    "from",
    "source",
    "src",
    "target",
    "dst",
    "destination",
    "readonly",
    "ro",
    "readwrite",
    "rw",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "env",
];

/// The `--mount` flags of a `RUN`, each as its fields (keys lower-case, as BuildKit reads
/// them). A field cleanpipe cannot read the way BuildKit does is refused.
fn run_mounts(ins: &lexer::Instruction) -> Result<Vec<BTreeMap<String, String>>, Problem> {
    let mut out = Vec::new();
    for flag in &ins.flags {
        let Some(value) = flag.strip_prefix("--mount=") else {
            continue;
        };
        let cannot = |why: String| {
            Problem::refused(
                ins.line,
                format!("`--mount={value}`: {why}"),
                "write the mount as plain `key=value` fields, e.g. `--mount=type=bind,from=IMAGE@sha256:…,target=/x`",
            )
        };
        let mut fields = BTreeMap::new();
        for field in csv_fields(value).map_err(|why| cannot(why.into()))? {
            let (key, val) = match field.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), v.to_string()),
                None => (field.to_ascii_lowercase(), String::new()),
            };
            if !MOUNT_KEYS.contains(&key.as_str()) {
                return Err(cannot(format!(
                    "the field `{field}` is not one BuildKit reads"
                )));
            }
            if key == "from"
                && val.chars().any(|c| {
                    matches!(c, '$' | '\'' | '"' | '\\' | '`') || !c.is_ascii() || c.is_whitespace()
                })
            {
                return Err(cannot(format!(
                    "`from={val}` has a variable, a quote or an escape, which BuildKit expands and cleanpipe does not"
                )));
            }
            if fields.insert(key.clone(), val).is_some() && key == "from" {
                return Err(cannot("`from` is given twice".into()));
            }
        }
        out.push(fields);
    }
    Ok(out)
}

/// Comma-separated fields as Go's CSV reader splits them: a field may be quoted (`"a,b"`, `""`
/// for a quote); a quote anywhere else is an error.
fn csv_fields(value: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted field is never closed"),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    out.push(field);
                    return Ok(out);
                }
                Some(',') => {}
                Some(_) => return Err("text after a quoted field"),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        out.push(field);
                        return Ok(out);
                    }
                    Some(',') => break,
                    Some('"') => return Err("a quote inside a field"),
                    Some(c) => field.push(c),
                }
            }
        }
        out.push(field);
    }
}

/// The global scope: BuildKit's automatic platform args (values unknown here: per platform),
/// then each `ARG` before the first `FROM`, a build arg replacing its default.
fn declare_args(
    scope: &mut Scope,
    ins: &lexer::Instruction,
    escape: char,
    build_args: &BTreeMap<String, String>,
) {
    // `ARG` reads quoted words (BuildKit's `parseWords`): split where no quote is open.
    for decl in arg_words(&ins.args, escape) {
        let (name, default) = match decl.split_once('=') {
            Some((n, d)) => (n.to_string(), Some(d.to_string())),
            None => (decl.clone(), None),
        };
        let value = match (build_args.get(&name), default) {
            (Some(v), _) => Ok(Value {
                text: v.clone(),
                per_platform: false,
            }),
            (None, Some(d)) => words::expand(&d, escape, scope),
            // No value: the name stays as it was (an automatic arg keeps its own).
            (None, None) => continue,
        };
        scope.insert(name, value);
    }
}

/// Words of an `ARG` line, quotes kept (they are removed when the value is expanded).
fn arg_words(text: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            _ => {
                word.push(c);
                if c == escape && quote != Some('\'') {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                } else if quote == Some(c) {
                    quote = None;
                } else if quote.is_none() && (c == '\'' || c == '"') {
                    quote = Some(c);
                }
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The platform of `FROM --platform=VALUE`.
fn platform_of(
    value: &str,
    escape: char,
    scope: &Scope,
    line: usize,
) -> Result<ImagePlatform, Problem> {
    let direct = |prefix: &str| {
        value.starts_with(&format!("${prefix}")) || value.starts_with(&format!("${{{prefix}"))
    };
    if direct("BUILD") {
        return Ok(ImagePlatform::Build);
    }
    if direct("TARGET") {
        return Ok(ImagePlatform::Target);
    }
    let expanded = words::expand(value, escape, scope).map_err(|why| {
        Problem::refused(
            line,
            format!("`--platform={value}`: {why}"),
            "write the platform out (`linux/amd64`), or use `$BUILDPLATFORM` / `$TARGETPLATFORM`",
        )
    })?;
    if expanded.per_platform {
        return Err(Problem::refused(
            line,
            format!("`--platform={value}` is derived from the platform being built"),
            "use `$BUILDPLATFORM` or `$TARGETPLATFORM` directly, or write the platform out",
        ));
    }
    Ok(ImagePlatform::Named(expanded.text))
}

/// The frontend image BuildKit will run: the `BUILDKIT_SYNTAX` build arg, else the `syntax`
/// directive (its first word).
fn frontend(
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Option<ExternalImage>, Problem> {
    // Read even when a build arg overrides it: a form only some readers see is refused anyway.
    let directive = lexer::syntax(text)?;
    if let Some(value) = build_args.get("BUILDKIT_SYNTAX") {
        let image = value
            .trim()
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        return Ok(Some(ExternalImage {
            reference: image,
            line: 0,
            instruction: "BUILDKIT_SYNTAX",
            platform: ImagePlatform::Build,
        }));
    }
    Ok(directive.map(|(line, image)| ExternalImage {
        reference: image,
        line,
        instruction: "# syntax",
        platform: ImagePlatform::Build,
    }))
}

/// The external images of a Dockerfile read with `grammar`. `build_args` override `ARG`
/// defaults. With BuildKit, the frontend image (if any) comes first.
pub fn external_images(
    text: &str,
    build_args: &BTreeMap<String, String>,
    grammar: Grammar,
) -> Result<Vec<ExternalImage>, Problem> {
    let mut out = Vec::new();
    match grammar {
        Grammar::Buildkit => out.extend(frontend(text, build_args)?),
        // The classic builder has no frontends; the forms are still refused.
        Grammar::Classic => {
            lexer::syntax(text)?;
        }
    }
    let parsed = lexer::parse(text, grammar)?;
    let escape = parsed.escape;
    let mut scope: Scope = PLATFORM_ARGS
        .iter()
        .map(|name| {
            let value = match build_args.get(*name) {
                Some(v) => Value {
                    text: v.clone(),
                    per_platform: false,
                },
                None => Value {
                    text: String::new(),
                    per_platform: true,
                },
            };
            (name.to_string(), Ok(value))
        })
        .collect();
    // Stage names, lower-case, in order (a `FROM` may only name an earlier one).
    let mut stages: Vec<Option<String>> = Vec::new();
    let all_names: Vec<String> = parsed
        .instructions
        .iter()
        .filter(|i| i.is("FROM"))
        .filter_map(|i| {
            let w = from_words(&i.args);
            (w.len() == 3).then(|| w[2].to_ascii_lowercase())
        })
        .collect();
    let is_stage_name = |name: &str| all_names.iter().any(|n| n == &name.to_ascii_lowercase());
    for ins in &parsed.instructions {
        let keyword = ins.keyword.to_ascii_uppercase();
        if !INSTRUCTIONS.contains(&keyword.as_str()) {
            return Err(Problem::syntax(
                ins.line,
                format!("unknown instruction `{}`", ins.keyword),
            ));
        }
        if stages.is_empty() && keyword != "ARG" && keyword != "FROM" {
            return Err(Problem::syntax(
                ins.line,
                format!("`{keyword}` before the first FROM"),
            ));
        }
        match keyword.as_str() {
            "ARG" if stages.is_empty() => declare_args(&mut scope, ins, escape, build_args),
            "FROM" => {
                let words = from_words(&ins.args);
                let name = match words.len() {
                    1 => None,
                    3 if words[1].eq_ignore_ascii_case("as") => {
                        let name = words[2].to_ascii_lowercase();
                        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
                            && name.chars().all(|c| {
                                c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c)
                            });
                        if !valid {
                            return Err(Problem::syntax(
                                ins.line,
                                format!("invalid name for build stage: `{}`", words[2]),
                            ));
                        }
                        Some(name)
                    }
                    _ => {
                        return Err(Problem::syntax(
                            ins.line,
                            "FROM takes `image [AS name]`".into(),
                        ))
                    }
                };
                let mut platform = ImagePlatform::Target;
                for flag in &ins.flags {
                    match flag.split_once('=') {
                        Some(("--platform", v)) => {
                            platform = platform_of(v, escape, &scope, ins.line)?
                        }
                        _ => {
                            return Err(Problem::syntax(
                                ins.line,
                                format!("FROM does not take the flag `{flag}`"),
                            ))
                        }
                    }
                }
                let base = words::expand(&words[0], escape, &scope).map_err(|why| {
                    Problem::refused(
                        ins.line,
                        format!("FROM `{}`: {why}", words[0]),
                        "name the base with plain `$VAR`/`${VAR}` of global ARGs, or write it out",
                    )
                })?;
                if base.text.is_empty() {
                    return Err(Problem::syntax(
                        ins.line,
                        "FROM names an empty image (an ARG without value?)".into(),
                    ));
                }
                if base.per_platform {
                    return Err(Problem::refused(
                        ins.line,
                        format!(
                            "FROM `{}` names a different image for each platform being built",
                            words[0]
                        ),
                        "name one image (an index pinned by digest covers every platform)",
                    ));
                }
                if !base.text.is_ascii() || base.text.contains(char::is_whitespace) {
                    return Err(Problem::refused(
                        ins.line,
                        format!(
                            "FROM `{}` expands to `{}`, with characters no image name has",
                            words[0], base.text
                        ),
                        "name the base in ASCII, without spaces",
                    ));
                }
                let earlier = stages.iter().flatten().any(|s| s == &base.text);
                if !earlier
                    && stages
                        .iter()
                        .flatten()
                        .any(|s| s.eq_ignore_ascii_case(&base.text))
                {
                    return Err(Problem::refused(
                        ins.line,
                        format!(
                            "FROM `{}` differs from a stage name only in case",
                            base.text
                        ),
                        "write the stage name in lower case",
                    ));
                }
                if !earlier && base.text != "scratch" {
                    out.push(ExternalImage {
                        reference: base.text,
                        line: ins.line,
                        instruction: "FROM",
                        platform,
                    });
                }
                stages.push(name);
            }
            "COPY" => {
                for flag in &ins.flags {
                    // An empty `--from=` is no source at all (BuildKit's `c.From == ""`).
                    let Some(from) = flag.strip_prefix("--from=").filter(|f| !f.is_empty()) else {
                        continue;
                    };
                    if from
                        .chars()
                        .any(|c| matches!(c, '$' | '\'' | '"' | '\\' | '`'))
                        || from.contains(char::is_whitespace)
                        || !from.is_ascii()
                    {
                        return Err(Problem::refused(
                            ins.line,
                            format!("`COPY --from={from}`: variables, quotes and escapes are not expanded in `--from`"),
                            "name an image or a stage as written, or add a stage `FROM ${VAR} AS name`",
                        ));
                    }
                    if from.starts_with(['+', '-']) {
                        return Err(Problem::syntax(
                            ins.line,
                            format!("invalid stage index `{from}`"),
                        ));
                    }
                    if let Ok(index) = from.parse::<usize>() {
                        if index >= count_from(&parsed) {
                            return Err(Problem::syntax(
                                ins.line,
                                format!("invalid stage index {index}"),
                            ));
                        }
                        continue;
                    }
                    if !is_stage_name(from) && from != "scratch" {
                        out.push(ExternalImage {
                            reference: from.to_string(),
                            line: ins.line,
                            instruction: "COPY --from",
                            platform: ImagePlatform::Target,
                        });
                    }
                }
            }
            "RUN" => {
                for mount in run_mounts(ins)? {
                    let Some(from) = mount.get("from").filter(|f| !f.is_empty()) else {
                        continue;
                    };
                    if !is_stage_name(from) && from != "scratch" {
                        out.push(ExternalImage {
                            reference: from.clone(),
                            line: ins.line,
                            instruction: "RUN --mount",
                            platform: ImagePlatform::Target,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if stages.is_empty() {
        return Err(Problem::syntax(
            1,
            "the Dockerfile has no FROM instruction".into(),
        ));
    }
    Ok(out)
}

/// `FROM`'s arguments, split at ASCII whitespace as BuildKit does.
fn from_words(args: &str) -> Vec<String> {
    args.split(lexer::is_word_space)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn count_from(parsed: &lexer::Parsed) -> usize {
    parsed.instructions.iter().filter(|i| i.is("FROM")).count()
}

#[cfg(test)]
mod tests;
