use super::*;

const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn images(text: &str) -> Vec<(String, usize, &'static str)> {
    external_images(text, &BTreeMap::new(), Grammar::Buildkit)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_iter()
        .map(|e| (e.reference, e.line, e.instruction))
        .collect()
}

fn refs(text: &str) -> Vec<String> {
    images(text).into_iter().map(|i| i.0).collect()
}

fn refused(text: &str, grammar: Grammar) -> Problem {
    let e = external_images(text, &BTreeMap::new(), grammar).expect_err(text);
    assert!(e.refused, "{e:?}");
    assert!(e.hint.is_some(), "{e:?}");
    e
}

#[test]
fn finds_every_external_image() {
    let text = format!(
        "ARG BASE=reg.example/base@{D}\nARG TOOLS\nFROM --platform=linux/amd64 ${{BASE}} AS builder\nRUN echo hi \\\n  && echo there\nFROM builder AS test\nCOPY --from=reg.example/tools:1 /x /x\nRUN --mount=type=cache,target=/c --mount=type=bind,from=reg.example/src@{D},target=/s true\nFROM scratch\nCOPY --from=builder /a /a\nCOPY --from=0 /b /b\n"
    );
    assert_eq!(
        images(&text),
        vec![
            (format!("reg.example/base@{D}"), 3, "FROM"),
            ("reg.example/tools:1".into(), 7, "COPY --from"),
            (format!("reg.example/src@{D}"), 8, "RUN --mount"),
        ]
    );
}

#[test]
fn reads_the_platform_each_base_is_used_at() {
    let text = "ARG P=linux/arm64\nFROM --platform=$BUILDPLATFORM a/b:1 AS build\nFROM --platform=\"${P}\" c/d:1\nFROM --platform=$TARGETOS/$TARGETARCH e/f:1\nFROM g/h:1\nCOPY --from=i/j:1 /x /x\n";
    let found = external_images(text, &BTreeMap::new(), Grammar::Buildkit).unwrap();
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
    let found = external_images("ARG BASE=x/y:1\nFROM $BASE\n", &args, Grammar::Buildkit).unwrap();
    assert_eq!(found[0].reference, "other/img:2");
    // Quoted defaults, defaults built from earlier ARGs, `${VAR:-default}`.
    assert_eq!(
        refs("ARG R=\"reg.example\"\nARG I=${R}/app\nFROM ${I}:${TAG:-1}\n"),
        vec!["reg.example/app:1"]
    );
}

#[test]
fn syntax_errors_have_lines() {
    let err = external_images(
        "FROM a@sha256:00\nRUNN echo\n",
        &BTreeMap::new(),
        Grammar::Buildkit,
    )
    .unwrap_err();
    assert_eq!((err.line, err.refused), (2, false));
    assert!(external_images("RUN x\n", &BTreeMap::new(), Grammar::Buildkit).is_err());
    assert!(external_images("# only a comment\n", &BTreeMap::new(), Grammar::Buildkit).is_err());
}

#[test]
fn heredoc_bodies_are_not_instructions() {
    let text = "FROM a/b:1\nRUN <<EOF\nset -e\necho hi > /x\nEOF\nCOPY <<-END /etc/y\n\tFROM not/an-image:1\n\tEND\nFROM c/d:2\n";
    let found: Vec<(String, usize)> = images(text).into_iter().map(|i| (i.0, i.1)).collect();
    assert_eq!(found, vec![("a/b:1".into(), 1), ("c/d:2".into(), 9)]);
    // The body ends at the exact name; `EOF ` or ` EOF` do not end it.
    assert_eq!(
        refs("FROM a:1\nRUN cat <<'EOF'\nEOF \n EOF\nFROM hidden:1\nEOF\nFROM c:1\n"),
        vec!["a:1", "c:1"]
    );
    let e = external_images(
        "FROM a:1\nRUN <<EOF\nFROM b:1\n",
        &BTreeMap::new(),
        Grammar::Buildkit,
    )
    .unwrap_err();
    assert!(e.message.contains("never closed"), "{e:?}");
}

#[test]
fn heredocs_only_on_run_copy_add_and_never_for_the_classic_builder() {
    // `CMD echo <<EOF` opens no heredoc in BuildKit: refused, not swallowed.
    let e = refused(
        "FROM a:1\nCMD echo <<EOF\nFROM evil:1\nEOF\n",
        Grammar::Buildkit,
    );
    assert_eq!(e.line, 2);
    refused("FROM a:1\nONBUILD RUN <<EOF\nx\nEOF\n", Grammar::Buildkit);
    refused(
        "FROM a:1\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\n",
        Grammar::Buildkit,
    );
    refused(
        "FROM a:1\nRUN cat << EOF\nFROM evil:1\nEOF\n",
        Grammar::Buildkit,
    );
    let e = refused("FROM a:1\nRUN <<EOF\necho\nEOF\n", Grammar::Classic);
    assert_eq!(e.line, 2);
    // A here-string is no heredoc.
    assert_eq!(
        refs("FROM a:1\nRUN cat <<<hi\nFROM b:1\n"),
        vec!["a:1", "b:1"]
    );
}

#[test]
fn finds_secret_mounts_and_syntax() {
    let text = "# syntax=docker/dockerfile:1.7\nFROM a/b:1\nRUN --mount=type=cache,target=/c \\\n  --mount=type=secret,id=npm,required=true cat /run/secrets/npm\nRUN --mount=type=secret,target=/run/secrets/gh true\nRUN --mount=type=bind,target=/s true\n";
    let ids: Vec<(String, usize)> = secret_mounts(text)
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.line))
        .collect();
    assert_eq!(ids, vec![("npm".into(), 3), ("gh".into(), 5)]);
    assert_eq!(
        syntax_directive(text).unwrap(),
        Some((1, "docker/dockerfile:1.7".into()))
    );
    assert_eq!(syntax_directive("FROM a\n# syntax=x\n").unwrap(), None);
    assert_eq!(
        syntax_directive("# escape=`\n# syntax=x/y extra\nFROM a\n").unwrap(),
        Some((2, "x/y".into()))
    );
}

#[test]
fn finds_ssh_mounts_in_any_case() {
    let text = "FROM a/b:1\nRUN --mount=type=ssh git clone x\nRUN --mount=Type=SSH,id=deploy true\nRUN --mount=\"type=ssh,id=q\" true\nRUN --mount=type=secret,id=s true\n";
    let ids: Vec<(String, usize)> = ssh_mounts(text)
        .unwrap()
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
    let found = images("# escape=`\nFROM `\n  a/b:1\n");
    assert_eq!((found[0].0.as_str(), found[0].1), ("a/b:1", 2));
    // A continued line is joined without a space, as BuildKit does.
    assert_eq!(refs("FROM reg.example/a\\\n:1\n"), vec!["reg.example/a:1"]);
    // Comments and empty lines inside a continued instruction are skipped.
    assert_eq!(
        refs("FROM a:1 \\\n# FROM x:1\n\n  AS b\nFROM c:1\n"),
        vec!["a:1", "c:1"]
    );
}

#[test]
fn directives_stop_at_the_first_unknown_one() {
    // BuildKit stops at `# foo=bar`: a later `# escape=` is refused, not applied.
    let e = refused(
        "# foo=bar\n# escape=`\nFROM a:1\nRUN x `\nFROM evil:1\n",
        Grammar::Buildkit,
    );
    assert_eq!(e.line, 2);
    refused("\n# syntax=x/y\nFROM a:1\n", Grammar::Buildkit);
    refused("# hello\n# escape=`\nFROM a:1\n", Grammar::Buildkit);
    refused("  # escape=`\nFROM a:1\n", Grammar::Classic);
    // Known directives are read in any case and spacing.
    assert_eq!(
        refs("#ESCAPE = `\n# check=skip=all\nFROM `\na:1\n"),
        vec!["a:1"]
    );
    let e = external_images(
        "# escape=`\n# escape=\\\nFROM a:1\n",
        &BTreeMap::new(),
        Grammar::Buildkit,
    )
    .unwrap_err();
    assert!(e.message.contains("only one"), "{e:?}");
}

#[test]
fn escape_then_other_whitespace_is_refused() {
    for ws in ["\u{a0}", "\u{c}", "\u{b}", " \u{2003}", "\u{3000}\t"] {
        let text = format!("FROM a:1\nRUN echo \\{ws}\nFROM evil:1\n");
        let e = refused(&text, Grammar::Buildkit);
        assert_eq!(e.line, 2, "{ws:?}");
        refused(&text, Grammar::Classic);
    }
    // Spaces and tabs are fine.
    assert_eq!(refs("FROM a:1\nRUN echo \\ \t\nFROM b:1\n"), vec!["a:1"]);
}

#[test]
fn syntax_forms_only_some_readers_see_are_refused() {
    let e = refused(
        "#!/usr/bin/env buildctl\n# syntax=evil/frontend\nFROM a:1\n",
        Grammar::Buildkit,
    );
    assert_eq!(e.line, 2);
    refused("\u{feff}# syntax=x/y\nFROM a:1\n", Grammar::Buildkit);
    refused("// syntax=evil/frontend\nFROM a:1\n", Grammar::Buildkit);
    refused("{\"syntax\": \"evil/frontend\"}\n", Grammar::Buildkit);
    refused("#!/x\n{\"syntax\": \"evil/frontend\"}\n", Grammar::Buildkit);
    // A byte-order mark alone is skipped, as BuildKit does.
    assert_eq!(refs("\u{feff}FROM a:1\n"), vec!["a:1"]);
}

#[test]
fn the_frontend_is_an_image_too() {
    let text = format!("# syntax=reg.example/fe@{D}\nFROM a:1\n");
    let found = external_images(&text, &BTreeMap::new(), Grammar::Buildkit).unwrap();
    assert_eq!(found[0].reference, format!("reg.example/fe@{D}"));
    assert!(found[0].is_frontend());
    assert_eq!(found[0].platform, ImagePlatform::Build);
    // The build arg wins over the directive.
    let mut args = BTreeMap::new();
    args.insert(
        "BUILDKIT_SYNTAX".to_string(),
        "other/fe:1 --opt".to_string(),
    );
    let found = external_images(&text, &args, Grammar::Buildkit).unwrap();
    assert_eq!(
        (found[0].reference.as_str(), found[0].instruction),
        ("other/fe:1", "BUILDKIT_SYNTAX")
    );
    // The classic builder has no frontend.
    let found = external_images(&text, &BTreeMap::new(), Grammar::Classic).unwrap();
    assert_eq!(found.len(), 1);
}

#[test]
fn mount_fields_are_csv_with_case_insensitive_keys() {
    assert_eq!(
        refs("FROM a:1\nRUN --mount=Type=bind,FROM=x/y:1,target=/x true\n"),
        vec!["a:1", "x/y:1"]
    );
    assert_eq!(
        refs("FROM a:1\nRUN --mount='\"from=x/y:1\",target=/x' true\n"),
        vec!["a:1", "x/y:1"]
    );
    assert_eq!(
        refs("FROM a:1 AS s\nRUN --mount=type=cache,from=S,target=/x true\n"),
        vec!["a:1"]
    );
    for bad in [
        "RUN --mount=type=bind,from=$IMG,target=/x true",
        "RUN --mount=type=bind,fr\"om=x,target=/x true",
        "RUN --mount=type=bind,'\"from=x\"y' true",
        "RUN --mount=type=bind,frm=x/y:1 true",
        "RUN --mount='\"from=a\"b' true",
        "RUN --mount=from=a,from=b true",
    ] {
        let e = refused(&format!("FROM a:1\n{bad}\n"), Grammar::Buildkit);
        assert_eq!(e.line, 2, "{bad}");
    }
}

#[test]
fn images_that_vary_or_cannot_be_read_are_refused() {
    refused("FROM img:$TARGETARCH\n", Grammar::Buildkit);
    refused("ARG A=$BUILDARCH\nFROM img:${A}\n", Grammar::Buildkit);
    refused("ARG A=x\nFROM ${A#x}\n", Grammar::Buildkit);
    refused("FROM a:1\nCOPY --from=$X / /\n", Grammar::Buildkit);
    // Quotes in a flag are the flag's own (BuildKit removes them); one never closed is refused.
    assert_eq!(refs("FROM a:1\nCOPY --from=\"x\" / /\n"), vec!["a:1", "x"]);
    refused("FROM a:1\nCOPY --from=\"x / /\n", Grammar::Buildkit);
    // An ARG that cannot be read matters only where it is used.
    assert_eq!(refs("ARG A=${X%y}\nFROM b:1\n"), vec!["b:1"]);
    // A non-ASCII byte in a flag: BuildKit reads flags byte by byte.
    refused("FROM a:1\nCOPY --from=x\u{a0}y / /\n", Grammar::Buildkit);
}

#[test]
fn stages_are_matched_as_buildkit_does() {
    // A FROM names only an earlier stage, exactly; a later stage name is an image.
    assert_eq!(
        refs("FROM a:1 AS one\nFROM one\nFROM two\nFROM b:1 AS two\n"),
        vec!["a:1", "two", "b:1"]
    );
    refused("FROM a:1 AS one\nFROM ONE\n", Grammar::Buildkit);
    assert!(external_images("FROM a:1 AS 1x\n", &BTreeMap::new(), Grammar::Buildkit).is_err());
    // `scratch` is no image; `--from=` names any stage case-insensitively.
    assert_eq!(
        refs("FROM scratch AS Base\nCOPY --from=BASE / /\nCOPY --from=0 / /\n"),
        Vec::<String>::new()
    );
}

#[test]
fn the_classic_builder_reads_directives_and_flags_as_its_older_parser_does() {
    // The Docker engine's parser knows no `check` directive: it ends the directives there.
    let text = "# check=skip=all\n# escape=`\nFROM a:1\nRUN x `\nFROM b:1\n";
    assert_eq!(refs(text), vec!["a:1"]);
    let e = refused(text, Grammar::Classic);
    assert_eq!(e.line, 2);
    // Whitespace after `#` that only one of the parsers skips.
    for g in [Grammar::Buildkit, Grammar::Classic] {
        refused("#\u{a0}escape=`\nFROM a:1\n", g);
        refused("#\u{b}escape=`\nFROM a:1\n", g);
    }
    assert_eq!(refs("#\u{c}escape=`\nFROM `\na:1\n"), vec!["a:1"]);
    // Its flags are read with `\` whatever the escape directive says.
    let found = external_images(
        "# escape=`\nFROM a:1\nCOPY --from=x\\y / /\n",
        &BTreeMap::new(),
        Grammar::Classic,
    )
    .unwrap();
    assert_eq!(found[1].reference, "xy");
    refused(
        "# escape=`\nFROM a:1\nCOPY --from=x\\y / /\n",
        Grammar::Buildkit,
    );
}
