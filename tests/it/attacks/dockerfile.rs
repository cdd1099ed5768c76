//! Attack cases (issue 19): a Dockerfile written so that cleanpipe's reader and the builder's
//! disagree on the images it uses. Each is refused (exit 2, `Dockerfile:LINE`, a hint) or its
//! hidden image reaches verify-base (exit 1 naming it); nothing is built, signed or tagged.
//! Then BuildKit's own parser (v0.34.2, `tests/peers/dockerfile-parser`) and cleanpipe read a
//! corpus of tricky Dockerfiles: the same images, or a refusal by cleanpipe.

use std::path::Path;
use std::process::Command;

use crate::support::*;

const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// A committed repository building `dockerfile` with `builder` (`buildkit`, `classic`) and the
/// build args `args` (a YAML flow mapping), signing with `cosign.key` and tagging `v1`.
fn dockerfile_repo(builder: &str, dockerfile: &str, args: &str) -> Repo {
    let repo = Repo::new();
    repo.keygen("cosign", "pw");
    repo.write(".gitignore", ".cleanpipe\n");
    repo.write("Dockerfile", dockerfile);
    repo.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nname: dockerfile-attack\nbuild:\n  dockerfile:\n    builder: {builder}\n    args: {args}\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n"
        ),
    );
    repo.commit();
    repo
}

fn run(repo: &Repo) -> Run {
    // No builder is reachable: a run that got past verify-base would fail differently.
    repo.cleanpipe_env(
        &["run"],
        &[
            ("COSIGN_PASSWORD", "pw"),
            ("BUILDKIT_HOST", "unix:///nonexistent/buildkitd.sock"),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    )
}

/// Nothing was built, signed or tagged: the layout holds no manifest, the outputs no signature.
#[track_caller]
fn assert_nothing_built(repo: &Repo) {
    repo.assert_no_store();
    let out = repo.path().join(".cleanpipe/out");
    for name in ["build.log", "sbom.spdx.json"] {
        assert!(
            !out.join(name).exists(),
            "{name} exists: something was built"
        );
    }
}

/// `dockerfile` (built with `builder`) is refused: exit 2 at `Dockerfile:line`, with `needle` in
/// the message and a hint; nothing built.
#[track_caller]
fn refused(builder: &str, dockerfile: &str, line: usize, needle: &str) {
    let repo = dockerfile_repo(builder, dockerfile, "{}");
    let r = run(&repo);
    r.expect_code(2)
        .expect_stderr(&format!("Dockerfile:{line}: "))
        .expect_stderr(needle)
        .expect_stderr("hint: ");
    assert_nothing_built(&repo);
    // `plan` reads the Dockerfile the same way.
    repo.cleanpipe(&["plan"])
        .expect_code(2)
        .expect_stderr(&format!("Dockerfile:{line}: "));
}

/// `dockerfile` hides `image` from a reader that is not BuildKit's: verify-base sees it and the
/// run fails its gate naming it (unpinned), before anything is built. `image` is on a closed
/// loopback port: verify-base's lookup of what it resolves to fails without leaving the machine.
#[track_caller]
fn image_reaches_verify_base(dockerfile: &str, image: &str, line: usize) {
    let repo = dockerfile_repo("buildkit", dockerfile, "{}");
    run(&repo)
        .expect_code(1)
        .expect_stderr(&format!("{image} (`Dockerfile:{line}"))
        .expect_stderr("is not pinned by digest");
    assert_nothing_built(&repo);
}

#[test]
fn a_comment_before_the_escape_directive_is_refused() {
    // BuildKit stops reading directives at `# key=value`: the backquote is no escape for it.
    refused(
        "buildkit",
        &format!("# check=error=true\n# foo=bar\n# escape=`\nFROM reg.example/a@{D}\nRUN echo `\nFROM unsigned.example/evil:1\n"),
        3,
        "after the directives ended",
    );
    refused(
        "classic",
        &format!("# hello\n# escape=`\nFROM reg.example/a@{D}\n"),
        2,
        "after the directives ended",
    );
    // The Docker engine's parser knows no `check` directive: for it, the escape comes too late.
    refused(
        "classic",
        &format!("# check=skip=all\n# escape=`\nFROM reg.example/a@{D}\n"),
        2,
        "after the directives ended",
    );
    refused(
        "buildkit",
        &format!("#\u{a0}escape=`\nFROM reg.example/a@{D}\n"),
        1,
        "whitespace other than spaces and tabs after `#`",
    );
    refused(
        "buildkit",
        &format!("\n# syntax=unsigned.example/frontend:1\nFROM reg.example/a@{D}\n"),
        2,
        "after the directives ended",
    );
}

#[test]
fn a_continuation_followed_by_odd_whitespace_is_refused() {
    for (ws, name) in [
        ("\u{a0}", "U+00A0"),
        ("\u{c}", "U+000C"),
        ("\u{b}", "U+000B"),
        (" \u{2003}\t", "U+2003"),
    ] {
        for builder in ["buildkit", "classic"] {
            refused(
                builder,
                &format!(
                    "FROM reg.example/a@{D}\nRUN echo hi \\{ws}\nFROM unsigned.example/evil:1\n"
                ),
                2,
                name,
            );
        }
    }
}

#[test]
fn a_heredoc_marker_outside_run_copy_add_is_refused() {
    for ins in [
        "CMD echo <<EOF",
        "LABEL x=<<EOF",
        "ENV A <<EOF",
        "ONBUILD RUN <<EOF",
    ] {
        refused(
            "buildkit",
            &format!("FROM reg.example/a@{D}\n{ins}\nFROM unsigned.example/evil:1\nEOF\n"),
            2,
            "`<<`",
        );
    }
    // `<<` where BuildKit and a shell may disagree (a space, no space, quotes).
    for ins in ["RUN cat << EOF", "RUN cat<<EOF", "RUN echo \"<<EOF\""] {
        refused(
            "buildkit",
            &format!("FROM reg.example/a@{D}\n{ins}\nFROM unsigned.example/evil:1\nEOF\n"),
            2,
            "`<<`",
        );
    }
}

#[test]
fn a_heredoc_under_the_classic_builder_is_refused() {
    refused(
        "classic",
        &format!("FROM reg.example/a@{D}\nRUN <<EOF\nFROM unsigned.example/evil:1\nEOF\n"),
        2,
        "classic builder",
    );
}

#[test]
fn mount_fields_in_any_case_or_quoted_reach_verify_base() {
    image_reaches_verify_base(
        &format!("FROM reg.example/a@{D}\nRUN --mount=TYPE=bind,FROM=127.0.0.1:9/unsigned/evil:1,TARGET=/x true\n"),
        "127.0.0.1:9/unsigned/evil:1",
        2,
    );
    image_reaches_verify_base(
        &format!("FROM reg.example/a@{D}\nRUN --mount='type=bind,\"From=127.0.0.1:9/unsigned/evil:1\",target=/x' true\n"),
        "127.0.0.1:9/unsigned/evil:1",
        2,
    );
    image_reaches_verify_base(
        &format!("FROM reg.example/a@{D}\nRUN --mount=\"type=cache,from=127.0.0.1:9/unsigned/evil:1\",target=/x true\n"),
        "127.0.0.1:9/unsigned/evil:1",
        2,
    );
    // A continued line is joined without a space, as BuildKit does.
    image_reaches_verify_base(
        &format!("FROM reg.example/a@{D}\nCOPY --from=127.0.0.1:9/unsigned/ev\\\nil:1 /x /x\n"),
        "127.0.0.1:9/unsigned/evil:1",
        2,
    );
}

#[test]
fn mount_fields_cleanpipe_cannot_read_are_refused() {
    for mount in [
        "type=bind,from=$IMG,target=/x",
        "type=bind,frm=unsigned.example/evil:1",
        "type=bind,\"from=a\"b",
        "type=bind,from=a,from=b",
    ] {
        refused(
            "buildkit",
            &format!("FROM reg.example/a@{D}\nRUN --mount='{mount}' true\n"),
            2,
            "--mount=",
        );
    }
}

#[test]
fn a_syntax_line_after_a_shebang_bom_or_slashes_is_refused() {
    refused(
        "buildkit",
        &format!("#!/usr/bin/env buildctl\n# syntax=unsigned.example/frontend:1\nFROM reg.example/a@{D}\n"),
        2,
        "`#!` line",
    );
    refused(
        "buildkit",
        &format!("\u{feff}# syntax=unsigned.example/frontend@{D}\nFROM reg.example/a@{D}\n"),
        1,
        "byte-order mark",
    );
    refused(
        "buildkit",
        &format!("// syntax=unsigned.example/frontend:1\nFROM reg.example/a@{D}\n"),
        1,
        "// syntax=",
    );
}

#[test]
fn an_unpinned_frontend_is_refused_and_a_pinned_one_is_verified_as_a_base() {
    refused(
        "buildkit",
        &format!("# syntax=unsigned.example/frontend:1\nFROM reg.example/a@{D}\n"),
        1,
        "not pinned by digest",
    );
    let repo = dockerfile_repo(
        "buildkit",
        &format!("# syntax=reg.example/frontend@{D}\nFROM reg.example/a@{D}\n"),
        "{}",
    );
    let plan = repo.cleanpipe(&["plan", "--output", "json"]);
    plan.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let origins: Vec<(&str, &str)> = v["bases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["reference"].as_str().unwrap(),
                b["origin"].as_str().unwrap(),
            )
        })
        .collect();
    let fe = format!("reg.example/frontend@{D}");
    let base = format!("reg.example/a@{D}");
    assert_eq!(
        origins,
        vec![
            (fe.as_str(), "Dockerfile:1 (# syntax)"),
            (base.as_str(), "Dockerfile:2 (FROM)")
        ]
    );
}

#[test]
fn buildkit_build_args_that_name_images_are_refused() {
    let dockerfile = format!("FROM reg.example/a@{D}\n");
    for (args, key) in [
        (
            "{ BUILDKIT_SYNTAX: \"unsigned.example/frontend:1\" }",
            "BUILDKIT_SYNTAX",
        ),
        (
            "{ BUILDKIT_ATTEST_SBOM: \"generator=unsigned.example/scanner:1\" }",
            "BUILDKIT_ATTEST_SBOM",
        ),
        ("{ buildkit_syntax: x }", "buildkit_syntax"),
        (
            "{ BUILDKIT_DISABLE_FILEOP: \"1\" }",
            "BUILDKIT_DISABLE_FILEOP",
        ),
    ] {
        let repo = dockerfile_repo("buildkit", &dockerfile, args);
        for r in [repo.cleanpipe(&["validate"]), run(&repo)] {
            r.expect_code(2)
                .expect_stderr("pipeline.yaml:6:")
                .expect_stderr(&format!("build.dockerfile.args.{key}"))
                .expect_stderr("hint: ");
        }
        assert_nothing_built(&repo);
    }
    // With the classic builder, BUILDKIT_SYNTAX means nothing: refused too.
    let repo = dockerfile_repo(
        "classic",
        &dockerfile,
        &format!("{{ BUILDKIT_SYNTAX: \"reg.example/frontend@{D}\" }}"),
    );
    repo.cleanpipe(&["validate"])
        .expect_code(2)
        .expect_stderr("build.dockerfile.args.BUILDKIT_SYNTAX");
    // The allow-list names no image; a pinned BUILDKIT_SYNTAX is a base to verify.
    let repo = dockerfile_repo(
        "buildkit",
        &dockerfile,
        &format!("{{ BUILDKIT_INLINE_CACHE: \"1\", BUILDKIT_MULTI_PLATFORM: \"1\", BUILDKIT_SBOM_SCAN_STAGE: \"true\", BUILDKIT_SYNTAX: \"reg.example/frontend@{D}\" }}"),
    );
    let plan = repo.cleanpipe(&["plan", "--output", "json"]);
    plan.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(
        v["bases"][0]["origin"], "build.dockerfile.args.BUILDKIT_SYNTAX",
        "{v}"
    );
}

#[test]
fn an_image_name_that_varies_by_platform_is_refused() {
    refused(
        "buildkit",
        "ARG ARCH=$TARGETARCH\nFROM unsigned.example/base-${ARCH}:1\n",
        2,
        "for each platform",
    );
}

/// The tricky Dockerfiles both readers must agree on (or cleanpipe refuse).
const CORPUS: &[&str] = &[
    "# foo=bar\n# escape=`\nFROM a.example/a:1\nRUN echo `\nFROM b.example/evil:1\n",
    "# escape=`\nFROM a.example/a:1\nRUN echo `\nFROM b.example/not-a-stage:1\n",
    "#escape=`\n#syntax=fe.example/fe@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\nFROM a.example/a:1\n",
    "  # escape=`\nFROM a.example/a:1\nRUN x `\nFROM b.example/b:1\n",
    "FROM a.example/a:1\nRUN echo \\\u{a0}\nFROM b.example/evil:1\n",
    "FROM a.example/a:1\nRUN echo \\\u{c}\nFROM b.example/evil:1\n",
    "FROM a.example/a:1\nRUN echo \\ \t\nFROM b.example/swallowed:1\nFROM c.example/c:1\n",
    "FROM a.example/a:1\nRUN echo \\\\\nFROM b.example/b:1\n",
    "FROM a.example/a:1\nRUN echo \\\n# FROM x.example/comment:1\n\n  \u{a0}\nFROM b.example/b:1\n",
    "FROM a.example/a:1\nCMD echo <<EOF\nFROM b.example/evil:1\nEOF\n",
    "FROM a.example/a:1\nRUN <<EOF\nFROM b.example/inside:1\nEOF\nFROM c.example/c:1\n",
    "FROM a.example/a:1\nRUN <<-EOF cat >/x\n\tFROM b.example/inside:1\n\tEOF\nFROM c.example/c:1\n",
    "FROM a.example/a:1\nRUN cat <<'A' 3<<\"B\"\nA\nFROM b.example/inside:1\nB\nFROM c.example/c:1\n",
    "FROM a.example/a:1\nCOPY <<EOF /x\nFROM b.example/inside:1\nEOF\n",
    "FROM a.example/a:1\nRUN cat << EOF\nFROM b.example/b:1\nEOF\n",
    "FROM a.example/a:1\nRUN cat<<EOF\nFROM b.example/b:1\nEOF\n",
    "FROM a.example/a:1\nRUN cat <<<here\nFROM b.example/b:1\n",
    "FROM a.example/a:1\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nFROM b.example/b:1\n",
    "FROM a.example/a:1\nRUN --mount=TYPE=bind,FROM=b.example/evil:1,TARGET=/x true\n",
    "FROM a.example/a:1\nRUN --mount='type=bind,\"From=b.example/evil:1\",target=/x' true\n",
    "FROM a.example/a:1\nRUN --mount=\"type=cache,from=b.example/evil:1\",target=/x true\n",
    "FROM a.example/a:1\nRUN --mount=type=bind,fr\"om=b.example/evil:1,target=/x true\n",
    "FROM a.example/a:1 AS s\nRUN --mount=type=bind,from=S,target=/x true\nRUN --mount=from=0,target=/y true\n",
    "FROM a.example/a:1\nRUN --mount=type=bind,from=$X,target=/x true\n",
    "#!/usr/bin/env buildctl\n# syntax=fe.example/evil:1\nFROM a.example/a:1\n",
    "\u{feff}# syntax=fe.example/fe@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\nFROM a.example/a:1\n",
    "\u{feff}FROM a.example/a:1\n",
    "// syntax=fe.example/evil:1\nFROM a.example/a:1\n",
    "# syntax=fe.example/fe@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a extra args\nFROM a.example/a:1\n",
    "# syntax = fe.example/fe@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n# syntax=fe.example/second:1\nFROM a.example/a:1\n",
    "ARG R=\"a.example\"\nARG I=${R}/app\nFROM ${I}:${TAG:-1}\nFROM $I:${R:+2}\n",
    "ARG A=a.example/a:1\nFROM $A AS one\nFROM one\nFROM two\nFROM b.example/b:1 AS two\n",
    "FROM a.example/a:1 AS one\nFROM ONE\n",
    "FROM scratch AS Base\nCOPY --from=BASE / /\nCOPY --from=0 / /\nCOPY --from=c.example/c:1 / /\n",
    "FROM a.example/a:1\nCOPY --from=\"b.example/b:1\" / /\n",
    "FROM a.example/a:1\nCOPY --from=b.example/ev\\\nil:1 / /\n",
    "FROM a.example/a:$TARGETARCH\n",
    "FROM --platform=$BUILDPLATFORM a.example/a:1 AS b\nFROM --platform=linux/arm64 c.example/c:1\n",
    "from a.example/a:1\ncopy --from=b.example/b:1 / /\nrun --mount=from=c.example/c:1 true\n",
    "FROM a.example/a:1\nRUN echo hi \\\n  --mount=from=b.example/b:1 true\n",
    "FROM a.example/a:1\nRUN \\\n  --mount=from=b.example/b:1 true\n",
    "FROM a.example/a:1\nRUN echo\r\nFROM b.example/b:1\r\n",
    "FROM a.example/a:1\rFROM b.example/b:1\n",
    "FROM a.example/a:1\u{a0}AS x\n",
    "FROM\u{a0}a.example/a:1\n",
    "ARG B=\"a.example/a:1\"\nFROM ${B}\nARG C=b.example/b:1\nFROM $C\n",
    "FROM a.example/a:1\nONBUILD COPY --from=b.example/b:1 / /\n",
    "FROM a.example/a:1\nCOPY --from=b.example/b:1 --from=c.example/c:1 / /\n",
    // Variants: directives.
    "#  ESCAPE  =  `\nFROM a.example/a:1\nRUN x `\n  y\nFROM b.example/b:1\n",
    "#\tescape=`\nFROM a.example/a:1\nRUN x `\nFROM b.example/b:1\n",
    "# escape=`\r\nFROM a.example/a:1\r\nRUN x `\r\nFROM b.example/b:1\r\n",
    "#!/bin/sh\n# escape=`\nFROM a.example/a:1\nRUN x `\nFROM b.example/b:1\n",
    "# check=skip=all\n# escape=`\nFROM a.example/a:1\nRUN x `\nFROM b.example/b:1\n",
    "# check=error=true\n# a comment\nFROM a.example/a:1 AS Build\n# check=skip=all\nFROM b.example/b:1\n",
    "# escape=x\nFROM a.example/a:1\n",
    "# escape=`\nFROM a.example/a:1\nRUN x `\u{a0}\nFROM b.example/b:1\n",
    "# escape=`\nFROM a.example/a:1\nRUN x \\\nFROM b.example/b:1\n",
    "#syntax=fe.example/fe@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n#escape=`\nFROM a.example/a:1\n",
    "# syntax=fe.example/fe@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n\n# escape=`\nFROM a.example/a:1\n",
    "FROM a.example/a:1\n# syntax=fe.example/late:1\nFROM b.example/b:1\n",
    "{\"syntax\": \"fe.example/evil:1\"}\n",
    "#!/x\n{\"syntax\": \"fe.example/evil:1\"}\n",
    // Variants: continuation and whitespace.
    "FROM a.example/a:1\nRUN echo \\\u{2028}\nFROM b.example/evil:1\n",
    "FROM a.example/a:1\nRUN echo \\\u{3000}\nFROM b.example/evil:1\n",
    "FROM a.example/a:1\nRUN echo \\\\ \\\nFROM b.example/b:1\n",
    "FROM a.example/a:1\nRUN echo \\",
    "FROM a.example/a:1\nRUN echo \\\n\u{a0}\u{a0}\n\t# FROM x.example/x:1\nFROM b.example/b:1\n",
    "\u{a0}FROM a.example/a:1\n\tFROM\tb.example/b:1\n",
    "FROM a.example/a:1\u{2028}FROM b.example/b:1\n",
    "FROM a.example/a:1\nCOPY \\\n  --from=b.example/b:1 \\\n  / /\n",
    // Variants: heredocs.
    "FROM a.example/a:1\nCOPY --chmod=755 <<EOF /x\nFROM b.example/inside:1\nEOF\nFROM c.example/c:1\n",
    "FROM a.example/a:1\nADD <<EOF /x\nFROM b.example/inside:1\nEOF\n",
    "FROM a.example/a:1\nRUN --mount=from=b.example/b:1 <<EOF\nFROM c.example/inside:1\nEOF\n",
    "FROM a.example/a:1\nRUN <<EOF \\\n  && true\nFROM b.example/inside:1\nEOF\n",
    "FROM a.example/a:1\nRUN <<EOF\nFROM b.example/inside:1\nEOF\r\nFROM c.example/c:1\n",
    "FROM a.example/a:1\nRUN <<-EOF\n\t  EOF\nFROM b.example/inside:1\n\t\tEOF\nFROM c.example/c:1\n",
    "FROM a.example/a:1\nRUN <<EOF <<END\nFROM b.example/inside:1\nEOF\nFROM c.example/inside:1\nEND\nFROM d.example/d:1\n",
    "FROM a.example/a:1\nrun <<eof\nFROM b.example/inside:1\neof\n",
    "FROM a.example/a:1\nHEALTHCHECK CMD cat <<EOF\nFROM b.example/b:1\nEOF\n",
    "FROM a.example/a:1\nRUN echo $((1<<2))\nFROM b.example/b:1\n",
    "FROM a.example/a:1\nRUN cat <<E\\OF\nFROM b.example/b:1\nEOF\n",
    // Variants: flags and mounts.
    "FROM a.example/a:1\nRUN --mount=from=b.example/b:1 [\"true\"]\n",
    "FROM a.example/a:1\nCOPY --from=b.example/b\\:1 / /\n",
    "FROM a.example/a:1\nRUN --mount=type=secret,id=x,from=b.example/b:1 true\n",
    "FROM a.example/a:1\nRUN --mount=type=bind,source=/,from=b.example/b:1 --mount=type=cache,target=/c,FROM=c.example/c:1 true\n",
    "FROM a.example/a:1\nRUN --mount=type=bind,\" from=b.example/b:1\" true\n",
    "FROM a.example/a:1\nRUN --mount=type=tmpfs,from=b.example/b:1,target=/t true\n",
    "FROM a.example/a:1\nRUN -- --mount=from=b.example/b:1 true\n",
    "FROM a.example/a:1\nONBUILD RUN --mount=from=b.example/b:1 true\n",
    "FROM --platform=linux/amd64 --platform=linux/arm64 a.example/a:1\n",
    "FROM a.example/a:1\nCOPY --from=  / /\n",
    // Variants: ARG and stage names.
    "ARG A=a.example/a:1 B=b.example/b:1\nFROM $A\nFROM $B\n",
    "ARG A='a.example/a:1'\nFROM $A\n",
    "ARG B=b.example/b:1\nARG A=${X:-${B}}\nFROM $A\n",
    "FROM ${A-b.example/b:1}\n",
    "ARG A\nFROM ${A-b.example/b:1}\n",
    "ARG A=\nFROM ${A-b.example/b:1}\n",
    "FROM \"a.example/a:1\"\n",
    "FROM a.example/a:1 as build\nFROM build AS x\nCOPY --from=build / /\nCOPY --from=X / /\n",
    "ARG S=build\nFROM a.example/a:1 AS build\nFROM $S\n",
    "ARG TARGETARCH=arm64\nFROM a.example/a:$TARGETARCH\n",
    "ARG TARGETARCH\nFROM a.example/a:$TARGETARCH\n",
    "FROM a.example/a:1 AS Mixed\nFROM mixed\n",
    "ARG I=a.example/a:1\nFROM ${I#a.}\n",
    "FROM SCRATCH\n",
    "FROM scratch\nRUN --mount=from=scratch true\n",
];

/// The images BuildKit's parser finds (`Ok`), or its error (`Err`).
fn buildkit_images(peer: &Path, dir: &Path, args: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let mut cmd = Command::new(peer);
    for (k, v) in args {
        cmd.args(["--build-arg", &format!("{k}={v}")]);
    }
    let out = cmd.arg(dir.join("Dockerfile")).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("peer output: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    match v["images"].as_array() {
        Some(list) => Ok(list
            .iter()
            .map(|i| {
                let i = i.as_str().unwrap();
                i.strip_prefix("frontend:").unwrap_or(i).to_string()
            })
            .collect()),
        None => Err(v["error"].as_str().unwrap_or_default().to_string()),
    }
}

#[test]
fn buildkit_and_cleanpipe_find_the_same_images_or_cleanpipe_refuses() {
    let Some(peer) = crate::sbom_scan::test_data(
        "CLEANPIPE_TEST_DOCKERFILE_PARSER",
        "BuildKit's Dockerfile parser, tests/peers/dockerfile-parser built by `.ci/run`",
    ) else {
        return;
    };
    let mut cases: Vec<(String, &str)> = CORPUS.iter().map(|c| (c.to_string(), "{}")).collect();
    cases.push((
        "ARG BASE=a.example/a:1\nFROM $BASE\n".into(),
        "{ BASE: b.example/override:1 }",
    ));
    cases.push((
        format!("# syntax=fe.example/fe@{D}\nFROM a.example/a:1\n"),
        "{ BUILDKIT_SYNTAX: \"fe.example/other@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\" }",
    ));
    let mut failures = Vec::new();
    let (mut both_read, mut refused_by_us) = (0, 0);
    for (text, args) in &cases {
        let repo = dockerfile_repo("buildkit", text, args);
        let parsed_args: Vec<(String, String)> =
            serde_yaml::from_str::<std::collections::BTreeMap<String, String>>(args)
                .unwrap()
                .into_iter()
                .collect();
        let arg_refs: Vec<(&str, &str)> = parsed_args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let theirs = buildkit_images(&peer, repo.path(), &arg_refs);
        let plan = repo.cleanpipe(&["plan", "--output", "json"]);
        let ours: Result<Vec<String>, String> = match plan.code {
            0 => {
                let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
                Ok(v["bases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["reference"].as_str().unwrap().to_string())
                    .collect())
            }
            _ => Err(plan.stderr.clone()),
        };
        let sorted = |r: &Result<Vec<String>, String>| {
            r.as_ref().ok().map(|l| {
                let mut l = l.clone();
                l.sort();
                l.dedup();
                l
            })
        };
        let (t, o) = (sorted(&theirs), sorted(&ours));
        let agree = match (&t, &o) {
            (Some(t), Some(o)) => t == o,
            // cleanpipe refused or failed: nothing is built.
            (_, None) => true,
            // BuildKit refuses what cleanpipe accepted: the build fails in BuildKit, and the
            // images cleanpipe lists are verified anyway.
            (None, Some(_)) => true,
        };
        match (&t, &o) {
            (Some(_), Some(_)) => both_read += 1,
            (_, None) => refused_by_us += 1,
            _ => {}
        }
        eprintln!(
            "{text:?}\n  BuildKit: {theirs:?}\n  cleanpipe: {:?}",
            o.as_ref().ok_or(plan.stderr.lines().next())
        );
        if !agree {
            failures.push(format!(
                "{text:?} (args {args}):\n  BuildKit: {theirs:?}\n  cleanpipe: {ours:?}"
            ));
        }
        // The refusals, when they happen, say where and what to do.
        if let Err(e) = &ours {
            assert!(
                e.contains("Dockerfile:") || e.contains("pipeline.yaml:"),
                "{text:?}: {e}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "the readers disagree:\n{}",
        failures.join("\n")
    );
    // Both kinds of case are there: a corpus cleanpipe refuses wholesale proves nothing.
    assert!(
        both_read >= 20 && refused_by_us >= 10,
        "{both_read} read by both, {refused_by_us} refused"
    );
}

#[test]
fn a_pinned_frontend_is_verified_like_a_base_before_anything_runs() {
    let Some(registry) = registry() else { return };
    if !docker() {
        return;
    }
    // A real image pinned by digest, signed by a key this pipeline does not trust.
    let (image, _) = crate::docker_build::signed_base(&registry);
    for (dockerfile, args) in [
        (
            format!("# syntax={image}\nFROM scratch\n"),
            "{}".to_string(),
        ),
        (
            "FROM scratch\n".to_string(),
            format!("{{ BUILDKIT_SYNTAX: \"{image}\" }}"),
        ),
    ] {
        let repo = Repo::new();
        repo.keygen("cosign", "pw");
        repo.keygen("other", "x");
        repo.write(".gitignore", ".cleanpipe\n");
        repo.write("Dockerfile", &dockerfile);
        repo.write(
            "pipeline.yaml",
            &format!("version: 1\nverify_base:\n  keys: {{ team: other.pub }}\n  default_key: team\nbuild:\n  dockerfile:\n    builder: buildkit\n    args: {args}\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n"),
        );
        repo.commit();
        run(&repo)
            .expect_code(1)
            .expect_stderr("failed verification")
            .expect_stderr(&format!("- {image}: none of"));
        assert_nothing_built(&repo);
    }
}
