//! What a person sees: plain lines (never escape codes) when stderr is a pipe, in CI or with
//! `NO_COLOR`; `-v` says more and `-q` less; on a real terminal (a pseudo-terminal from
//! util-linux `script`) a progress bar with a percentage during a push.

use std::process::{Command, Stdio};

use crate::support::*;

/// A committed repo whose image has one incompressible layer of `mib` MiB (so progress has
/// something to show), pushed to `repository` when given.
fn big_layer_repo(mib: usize, repository: Option<&str>) -> Repo {
    let repo = Repo::new();
    // Incompressible and different per repo: xorshift from a unique seed.
    let mut x = 0x9e37_79b9_7f4a_7c15u64
        ^ unique("seed")
            .bytes()
            .fold(0u64, |h, b| h.rotate_left(5) ^ b as u64);
    let mut data = Vec::with_capacity(mib << 20);
    while data.len() < mib << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(repo.path().join("hello.txt"), &data).unwrap();
    repo.keygen("cosign", "pw");
    repo.write(
        "pipeline.yaml",
        &scratch_pipeline("cosign.key", repository, &["v1"]),
    );
    repo.commit();
    repo
}

fn has_escape(text: &str) -> bool {
    text.contains('\u{1b}')
}

/// Pipes, `NO_COLOR` and CI never get escape codes, and a failure still reads plainly.
#[test]
fn no_escape_codes_without_a_terminal_or_with_no_color() {
    let repo = scratch_repo(None, &["v1"]);
    for env in [
        vec![("COSIGN_PASSWORD", "pw")],
        vec![("COSIGN_PASSWORD", "pw"), ("NO_COLOR", "1")],
        vec![("COSIGN_PASSWORD", "pw"), ("CI", "true")],
    ] {
        let run = repo.cleanpipe_env(&["-v", "run"], &env);
        run.expect_code(0);
        assert!(!has_escape(&run.all()), "{env:?}:\n{}", run.all());
        let verify = repo.cleanpipe_env(
            &["verify", "oci:.cleanpipe/oci:v1", "--key", "cosign.pub"],
            &env,
        );
        verify.expect_code(0).expect_stderr("VERIFIED");
        assert!(!has_escape(&verify.all()), "{env:?}:\n{}", verify.all());
    }
    repo.write("hello.txt", "changed, not committed\n");
    let failed = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw"), ("NO_COLOR", "1")]);
    failed.expect_code(1).expect_stderr("error:");
    assert!(!has_escape(&failed.all()), "{}", failed.all());
}

/// In CI (and whenever stderr is not a terminal) progress is whole lines: a start line, a done
/// line with size and time, no carriage returns or bars.
#[test]
fn in_ci_progress_is_plain_lines() {
    let repo = big_layer_repo(2, None);
    let run = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw"), ("CI", "true")]);
    run.expect_code(0);
    let reads: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("read layer sha256:"))
        .collect();
    assert!(
        reads.iter().any(|l| l.ends_with("MiB)…")),
        "a start line with the size:\n{}",
        run.stderr
    );
    assert!(
        reads.iter().any(|l| l.contains(": done, 2.00 MiB in ")),
        "a done line:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains('\r') && !has_escape(&run.stderr));
}

/// A push of the repo's image to a repository of its own (`${TERM_REPO}`), with nothing to
/// skip: the layout's memo of earlier pushes (for cross-repository mounts) is dropped first.
fn push_fresh(repo: &Repo, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let _ = std::fs::remove_file(
        repo.path()
            .join(".cleanpipe/oci/cleanpipe-cache/blob-locations.json"),
    );
    let name = unique("term");
    let mut env = vec![("COSIGN_PASSWORD", "pw"), ("TERM_REPO", name.as_str())];
    env.extend_from_slice(extra);
    repo.cleanpipe_env(args, &env)
}

/// `-v` adds the registry's requests and every blob, `-q` leaves only data and failures.
#[test]
fn verbose_says_more_and_quiet_less() {
    let Some(registry) = registry() else { return };
    let repo = big_layer_repo(2, Some(&format!("{registry}/${{TERM_REPO}}")));
    let default = push_fresh(&repo, &["run"], &[]);
    default.expect_code(0);
    let verbose = push_fresh(&repo, &["run", "-v"], &[]);
    verbose.expect_code(0);
    let quiet = push_fresh(&repo, &["-q", "run"], &[]);
    quiet.expect_code(0);
    let lines = |s: &str| s.lines().count();
    assert!(
        lines(&verbose.stderr) > lines(&default.stderr),
        "-v:\n{}\ndefault:\n{}",
        verbose.stderr,
        default.stderr
    );
    assert!(
        lines(&quiet.stderr) < lines(&default.stderr),
        "{}",
        quiet.stderr
    );
    // Each request with its answer and time, only with -v.
    assert!(
        verbose
            .stderr
            .lines()
            .any(|l| l.contains("PUT http://") && l.contains(" -> 201 in ")),
        "{}",
        verbose.stderr
    );
    assert!(
        !default.stderr.contains(" -> 201 in "),
        "{}",
        default.stderr
    );
    // Full digests with -v, short ones without.
    assert!(default
        .stderr
        .lines()
        .any(|l| l.trim_start().starts_with("upload sha256:") && l.len() < 60));
    assert!(verbose.stderr.lines().any(|l| {
        l.trim_start().starts_with("upload sha256:") && l.split(':').nth(1).unwrap().len() >= 64
    }));
    assert!(quiet.stderr.trim().is_empty(), "{}", quiet.stderr);
    assert!(
        quiet.last_line().contains("@sha256:"),
        "data still goes to stdout"
    );

    // Downloads are reported the same way (an export of what was pushed).
    let export = repo.cleanpipe(&["copy", &quiet.last_line(), "oci:.cleanpipe/export:v1"]);
    export.expect_code(0);
    assert!(
        export.stderr.lines().any(|l| {
            l.trim_start().starts_with("download sha256:") && l.contains(": done, 2.00 MiB")
        }),
        "{}",
        export.stderr
    );
}

/// On a terminal, a push draws a bar with a percentage (through a pseudo-terminal that
/// util-linux `script` provides); with `NO_COLOR` the bar stays, colour goes.
#[test]
fn a_terminal_shows_a_progress_bar_while_pushing() {
    let Some(registry) = registry() else { return };
    let script_ok = Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !script_ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but util-linux `script` is missing: .ci/run must install it");
        }
        eprintln!("skipped: no util-linux `script` for a pseudo-terminal");
        return;
    }
    let repo = big_layer_repo(24, Some(&format!("{registry}/${{TERM_REPO}}")));
    // `script` runs the command with stdin, stdout and stderr on a new pseudo-terminal and
    // copies what it shows to its own stdout. Not CI: bars are for people.
    let on_terminal = |extra: &[(&str, &str)]| {
        let _ = std::fs::remove_file(
            repo.path()
                .join(".cleanpipe/oci/cleanpipe-cache/blob-locations.json"),
        );
        let mut script = Command::new("script");
        script
            .args(["-q", "-e", "-c"])
            .arg(format!("'{BIN}' run"))
            .arg("/dev/null")
            .current_dir(repo.path())
            .stdin(Stdio::null())
            .env_remove("CI")
            .env_remove("CLEANPIPE_FILE")
            .env("DOCKER_CONFIG", repo.path().join(".no-docker-config"))
            .env("TERM", "xterm-256color")
            .env("COSIGN_PASSWORD", "pw")
            .env("TERM_REPO", unique("term-bar"));
        for (k, v) in extra {
            script.env(k, v);
        }
        let out = script.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, shown) = on_terminal(&[]);
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("upload sha256:") && shown.contains("] ") && shows_percent(&shown),
        "no bar with a percentage:\n{shown:?}"
    );
    assert!(shown.contains("\u{1b}["), "a terminal gets control codes");
    assert!(
        shown.contains("\u{1b}[32m"),
        "and colour for the verdicts: {shown:?}"
    );

    let (code, shown) = on_terminal(&[("NO_COLOR", "1")]);
    assert_eq!(code, Some(0), "{shown}");
    assert!(shows_percent(&shown), "the bar stays: {shown:?}");
    // Colour is SGR (`ESC [ … m`) with a colour or weight; cursor movement is not colour.
    for code in ["\u{1b}[31m", "\u{1b}[32m", "\u{1b}[36m", "\u{1b}[1m"] {
        assert!(
            !shown.contains(code),
            "colour {code:?} with NO_COLOR: {shown:?}"
        );
    }
}

/// Whether `text` shows a percentage such as ` 42%`.
fn shows_percent(text: &str) -> bool {
    text.match_indices('%').any(|(i, _)| {
        text[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .count()
            > 0
    })
}

/// With `-v` even small work is reported: the database load of `db stats` (records) and the
/// layer read of `sbom` (bytes); without it neither is, being small.
#[test]
fn database_loads_and_layer_reads_are_reported() {
    let db = crate::sbom_scan::osv_fixtures();
    let repo = scratch_repo(None, &["v1"]);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let stats = repo.cleanpipe(&["-v", "db", "stats", db.to_str().unwrap()]);
    stats.expect_code(0);
    assert!(
        stats
            .stderr
            .lines()
            .any(|l| l.contains("load database ") && l.contains(" records in ")),
        "{}",
        stats.stderr
    );
    let plain = repo.cleanpipe(&["db", "stats", db.to_str().unwrap()]);
    assert!(!plain.stderr.contains("load database"), "{}", plain.stderr);
    let sbom = repo.cleanpipe(&["-v", "sbom", "oci:.cleanpipe/oci:v1", "-o", "sbom.json"]);
    sbom.expect_code(0);
    assert!(
        sbom.stderr.contains("read layer sha256:"),
        "a cached catalog still checks its layer against the digest: {}",
        sbom.stderr
    );
}
