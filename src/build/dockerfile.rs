//! Finding every image a Dockerfile pulls in, so verify-base can gate them before Docker runs:
//! `FROM` (with `ARG` defaults and build args substituted, `--platform`, stage aliases),
//! `COPY --from=<image>` and `RUN --mount=…,from=<image>`.

use std::collections::BTreeMap;

use serde::Serialize;

/// An image the Dockerfile uses that is not one of its own stages.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExternalImage {
    /// The reference after variable substitution.
    pub reference: String,
    /// 1-based line of the instruction.
    pub line: usize,
    /// `FROM`, `COPY --from` or `RUN --mount`.
    pub instruction: &'static str,
    /// The platform the build pulls the image for.
    pub platform: ImagePlatform,
}

/// The platform an image is used at: a `FROM --platform=` flag, else the one being built.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImagePlatform {
    /// The platform being built (no flag, or `$TARGETPLATFORM`).
    Target,
    /// The builder's own platform (`--platform=$BUILDPLATFORM`, the usual cross-build form).
    Build,
    /// A platform written out (`--platform=linux/arm64`), build args substituted.
    Named(String),
}

impl ImagePlatform {
    fn of_flag(value: &str, args: &BTreeMap<String, String>) -> Self {
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        // BuildKit's automatic platform args: `$BUILDPLATFORM`, `$BUILDOS/$BUILDARCH`, …
        if value.contains("$BUILD") || value.contains("${BUILD") {
            ImagePlatform::Build
        } else if value.contains("$TARGET") || value.contains("${TARGET") {
            ImagePlatform::Target
        } else {
            ImagePlatform::Named(substitute(value, args))
        }
    }
}

/// A Dockerfile problem found before Docker sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Instructions the classic builder knows; anything else is a syntax error.
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

/// One logical instruction: continuation lines joined, with the line it starts on.
struct Instruction {
    line: usize,
    keyword: String,
    rest: String,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut escape = '\\';
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut directives_done = false;
    // Heredoc bodies (`RUN <<EOF` … `EOF`) still to skip: (delimiter, leading tabs stripped).
    let mut heredocs: std::collections::VecDeque<(String, bool)> = Default::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if let Some((delimiter, strip_tabs)) = heredocs.front() {
            let body = if *strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if body == delimiter {
                heredocs.pop_front();
            }
            continue;
        }
        let trimmed = line.trim();
        if !directives_done {
            if let Some(d) = trimmed.strip_prefix('#') {
                if let Some((k, v)) = d.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("escape") {
                        escape = v.trim().chars().next().unwrap_or('\\');
                    }
                    continue;
                }
            }
            directives_done = true;
        }
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (continues, body) = match trimmed.strip_suffix(escape) {
            Some(b) => (true, b),
            None => (false, trimmed),
        };
        match &mut current {
            Some((_, text)) => {
                text.push(' ');
                text.push_str(body);
            }
            None => current = Some((i + 1, body.to_string())),
        }
        if !continues {
            let (line, text) = current.take().expect("set above");
            heredocs.extend(heredoc_delimiters(&text));
            let (keyword, rest) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
            out.push(Instruction {
                line,
                keyword: keyword.to_ascii_uppercase(),
                rest: rest.trim().to_string(),
            });
        }
    }
    if let Some((line, text)) = current {
        let (keyword, rest) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
        out.push(Instruction {
            line,
            keyword: keyword.to_ascii_uppercase(),
            rest: rest.trim().to_string(),
        });
    }
    out
}

/// The heredocs an instruction opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in order.
fn heredoc_delimiters(text: &str) -> Vec<(String, bool)> {
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix("<<"))
        .filter(|w| !w.starts_with('<'))
        .filter_map(|w| {
            let (strip_tabs, w) = match w.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, w),
            };
            let name = w.trim_matches(|c| c == '"' || c == '\'');
            let name: String = name
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some((name, strip_tabs))
        })
        .collect()
}

/// The `# syntax=` parser directive and its line: it names a frontend image that BuildKit would
/// pull before reading the Dockerfile.
pub fn syntax_directive(text: &str) -> Option<(usize, String)> {
    for (i, raw) in text.lines().enumerate() {
        let d = raw.trim().strip_prefix('#')?;
        let (k, v) = d.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("syntax") {
            return Some((i + 1, v.trim().to_string()));
        }
    }
    None
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

/// Every secret the Dockerfile's `RUN` steps mount.
pub fn secret_mounts(text: &str) -> Vec<SecretMount> {
    mounts(text, "secret")
}

/// Every SSH agent or key the Dockerfile's `RUN` steps mount (`--mount=type=ssh`).
pub fn ssh_mounts(text: &str) -> Vec<SecretMount> {
    mounts(text, "ssh")
}

fn mounts(text: &str, kind: &str) -> Vec<SecretMount> {
    let mut out = Vec::new();
    for ins in instructions(text)
        .into_iter()
        .filter(|i| i.keyword == "RUN")
    {
        for flag in ins
            .rest
            .split_whitespace()
            .take_while(|w| w.starts_with("--"))
        {
            let Some(mount) = flag.strip_prefix("--mount=") else {
                continue;
            };
            // BuildKit reads the keys (and the type) case-insensitively; a quoted flag too.
            let mount = mount.trim_matches('"');
            let opts: BTreeMap<String, &str> = mount
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            if !opts
                .get("type")
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            {
                continue;
            }
            let id = opts.get("id").copied().or_else(|| match kind {
                "ssh" => Some("default"),
                _ => opts
                    .get("target")
                    .or(opts.get("dst"))
                    .or(opts.get("destination"))
                    .and_then(|t| t.rsplit('/').next()),
            });
            if let Some(id) = id.filter(|i| !i.is_empty()) {
                out.push(SecretMount {
                    id: id.to_string(),
                    line: ins.line,
                });
            }
        }
    }
    out
}

/// Substitute `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` from `vars`.
pub fn substitute(input: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' && i + 1 < chars.len() {
            if chars[i + 1] == '{' {
                if let Some(end) = chars[i + 2..].iter().position(|c| *c == '}') {
                    let inner: String = chars[i + 2..i + 2 + end].iter().collect();
                    let value = if let Some((name, default)) = inner.split_once(":-") {
                        vars.get(name)
                            .filter(|v| !v.is_empty())
                            .cloned()
                            .unwrap_or_else(|| default.to_string())
                    } else if let Some((name, alt)) = inner.split_once(":+") {
                        if vars.get(name).is_some_and(|v| !v.is_empty()) {
                            alt.to_string()
                        } else {
                            String::new()
                        }
                    } else {
                        vars.get(&inner).cloned().unwrap_or_default()
                    };
                    out.push_str(&value);
                    i += end + 3;
                    continue;
                }
            } else if chars[i + 1].is_ascii_alphabetic() || chars[i + 1] == '_' {
                let len = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .count();
                let name: String = chars[i + 1..i + 1 + len].iter().collect();
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
                i += len + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The external images of a Dockerfile. `build_args` override `ARG` defaults.
pub fn external_images(
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Vec<ExternalImage>, SyntaxError> {
    let mut global_args: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut seen_from = false;
    for ins in instructions(text) {
        if !INSTRUCTIONS.contains(&ins.keyword.as_str()) {
            return Err(SyntaxError {
                line: ins.line,
                message: format!("unknown instruction `{}`", ins.keyword),
            });
        }
        match ins.keyword.as_str() {
            "ARG" if !seen_from => {
                for decl in ins.rest.split_whitespace() {
                    let (name, default) = decl
                        .split_once('=')
                        .map(|(n, d)| (n, Some(d)))
                        .unwrap_or((decl, None));
                    let value = build_args
                        .get(name)
                        .cloned()
                        .or_else(|| default.map(|d| substitute(d.trim_matches('"'), &global_args)))
                        .unwrap_or_default();
                    global_args.insert(name.to_string(), value);
                }
            }
            "FROM" => {
                seen_from = true;
                let words: Vec<&str> = ins
                    .rest
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let Some(image) = words.first() else {
                    return Err(SyntaxError {
                        line: ins.line,
                        message: "FROM names no image".into(),
                    });
                };
                let image = substitute(image, &global_args);
                if image.is_empty() {
                    return Err(SyntaxError {
                        line: ins.line,
                        message: "FROM names an empty image (an ARG without value?)".into(),
                    });
                }
                let alias = match words.get(1) {
                    Some(w) if w.eq_ignore_ascii_case("as") => {
                        words.get(2).map(|a| a.to_ascii_lowercase())
                    }
                    Some(_) => {
                        return Err(SyntaxError {
                            line: ins.line,
                            message: "FROM takes `image [AS name]`".into(),
                        })
                    }
                    None => None,
                };
                let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(&image));
                let platform = ins
                    .rest
                    .split_whitespace()
                    .take_while(|w| w.starts_with("--"))
                    .find_map(|w| w.strip_prefix("--platform="))
                    .map_or(ImagePlatform::Target, |v| {
                        ImagePlatform::of_flag(v, &global_args)
                    });
                if !is_stage && !image.eq_ignore_ascii_case("scratch") {
                    out.push(ExternalImage {
                        reference: image,
                        line: ins.line,
                        instruction: "FROM",
                        platform,
                    });
                }
                stages.push(alias.unwrap_or_else(|| format!("#{}", stages.len())));
            }
            "COPY" | "ADD" => {
                for flag in ins
                    .rest
                    .split_whitespace()
                    .take_while(|w| w.starts_with("--"))
                {
                    if let Some(from) = flag.strip_prefix("--from=") {
                        push_if_external(
                            &mut out,
                            &stages,
                            from,
                            &global_args,
                            ins.line,
                            "COPY --from",
                        );
                    }
                }
            }
            "RUN" => {
                for flag in ins
                    .rest
                    .split_whitespace()
                    .take_while(|w| w.starts_with("--"))
                {
                    if let Some(mount) = flag.strip_prefix("--mount=") {
                        for kv in mount.split(',') {
                            if let Some(from) = kv.strip_prefix("from=") {
                                push_if_external(
                                    &mut out,
                                    &stages,
                                    from,
                                    &global_args,
                                    ins.line,
                                    "RUN --mount",
                                );
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if !seen_from && ins.keyword != "ARG" {
            return Err(SyntaxError {
                line: ins.line,
                message: format!("`{}` before the first FROM", ins.keyword),
            });
        }
    }
    if !seen_from {
        return Err(SyntaxError {
            line: 1,
            message: "the Dockerfile has no FROM instruction".into(),
        });
    }
    Ok(out)
}

fn push_if_external(
    out: &mut Vec<ExternalImage>,
    stages: &[String],
    from: &str,
    args: &BTreeMap<String, String>,
    line: usize,
    instruction: &'static str,
) {
    let from = substitute(from, args);
    let is_index = from.parse::<usize>().is_ok_and(|i| i < stages.len());
    let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(&from));
    if !is_index && !is_stage && !from.eq_ignore_ascii_case("scratch") {
        out.push(ExternalImage {
            reference: from,
            line,
            instruction,
            platform: ImagePlatform::Target,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn finds_every_external_image() {
        let text = format!(
            "# syntax=docker/dockerfile:1\nARG BASE=reg.example/base@{D}\nARG TOOLS\nFROM --platform=linux/amd64 ${{BASE}} AS builder\nRUN echo hi \\\n  && echo there\nFROM builder AS test\nCOPY --from=reg.example/tools:1 /x /x\nRUN --mount=type=cache,target=/c --mount=type=bind,from=reg.example/src@{D},target=/s true\nFROM scratch\nCOPY --from=builder /a /a\nCOPY --from=0 /b /b\n"
        );
        let found = external_images(&text, &BTreeMap::new()).unwrap();
        let refs: Vec<(&str, usize, &str)> = found
            .iter()
            .map(|e| (e.reference.as_str(), e.line, e.instruction))
            .collect();
        assert_eq!(
            refs,
            vec![
                (format!("reg.example/base@{D}").as_str(), 4, "FROM"),
                ("reg.example/tools:1", 8, "COPY --from"),
                (format!("reg.example/src@{D}").as_str(), 9, "RUN --mount"),
            ]
        );
    }

    #[test]
    fn reads_the_platform_each_base_is_used_at() {
        let text = "ARG P=linux/arm64\nFROM --platform=$BUILDPLATFORM a/b:1 AS build\nFROM --platform=\"${P}\" c/d:1\nFROM --platform=$TARGETOS/$TARGETARCH e/f:1\nFROM g/h:1\nCOPY --from=i/j:1 /x /x\n";
        let found = external_images(text, &BTreeMap::new()).unwrap();
        let platforms: Vec<&ImagePlatform> = found.iter().map(|e| &e.platform).collect();
        assert_eq!(
            platforms,
            vec![
                &ImagePlatform::Build,
                &ImagePlatform::Named("linux/arm64".into()),
                &ImagePlatform::Target,
                &ImagePlatform::Target,
                &ImagePlatform::Target,
            ]
        );
    }

    #[test]
    fn build_args_override_arg_defaults() {
        let mut args = BTreeMap::new();
        args.insert("BASE".to_string(), "other/img:2".to_string());
        let found = external_images("ARG BASE=x/y:1\nFROM $BASE\n", &args).unwrap();
        assert_eq!(found[0].reference, "other/img:2");
    }

    #[test]
    fn syntax_errors_have_lines() {
        let err = external_images("FROM a@sha256:00\nRUNN echo\n", &BTreeMap::new()).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(external_images("RUN x\n", &BTreeMap::new()).is_err());
        assert!(external_images("# only a comment\n", &BTreeMap::new()).is_err());
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let text = "FROM a/b:1\nRUN <<EOF\nset -e\necho hi > /x\nEOF\nCOPY <<-END /etc/y\n\tFROM not/an-image:1\n\tEND\nFROM c/d:2\n";
        let found = external_images(text, &BTreeMap::new()).unwrap();
        let refs: Vec<(&str, usize)> = found
            .iter()
            .map(|e| (e.reference.as_str(), e.line))
            .collect();
        assert_eq!(refs, vec![("a/b:1", 1), ("c/d:2", 9)]);
    }

    #[test]
    fn finds_secret_mounts_and_syntax() {
        let text = "# syntax=docker/dockerfile:1.7\nFROM a/b:1\nRUN --mount=type=cache,target=/c \\\n  --mount=type=secret,id=npm,required=true cat /run/secrets/npm\nRUN --mount=type=secret,target=/run/secrets/gh true\nRUN --mount=type=bind,target=/s true\n";
        let ids: Vec<(String, usize)> = secret_mounts(text)
            .into_iter()
            .map(|m| (m.id, m.line))
            .collect();
        assert_eq!(ids, vec![("npm".into(), 3), ("gh".into(), 5)]);
        assert_eq!(
            syntax_directive(text),
            Some((1, "docker/dockerfile:1.7".into()))
        );
        assert_eq!(syntax_directive("FROM a\n# syntax=x\n"), None);
        assert_eq!(
            syntax_directive("# escape=`\n# syntax=x/y\nFROM a\n"),
            Some((2, "x/y".into()))
        );
    }

    #[test]
    fn finds_ssh_mounts_in_any_case() {
        let text = "FROM a/b:1\nRUN --mount=type=ssh git clone x\nRUN --mount=Type=SSH,id=deploy true\nRUN --mount=\"type=ssh,id=q\" true\nRUN --mount=type=secret,id=s true\n";
        let ids: Vec<(String, usize)> = ssh_mounts(text)
            .into_iter()
            .map(|m| (m.id, m.line))
            .collect();
        assert_eq!(
            ids,
            vec![("default".into(), 2), ("deploy".into(), 3), ("q".into(), 4)]
        );
    }

    #[test]
    fn escape_directive_changes_continuation() {
        let found = external_images("# escape=`\nFROM `\n  a/b:1\n", &BTreeMap::new()).unwrap();
        assert_eq!((found[0].reference.as_str(), found[0].line), ("a/b:1", 2));
    }
}
