//! The only place that writes to the terminal. Data goes to stdout, everything else to stderr,
//! and every line passes through the redactor (progress lines and bar labels included).
//!
//! How much is said and how it looks is decided once, in [`Style::detect`]: `-q` hides
//! progress, `-v` adds details; progress bars only on a terminal and never in CI (`CI` set) or
//! when stderr is a pipe or file; colour only on a terminal and never when `NO_COLOR` is set to
//! anything (<https://no-color.org>).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::IsTerminal;

use crate::cli::env_vars;
use crate::error::Error;
use crate::redact::Redactor;

/// How output looks, decided once from flags, the environment and stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// `-q`: no progress, no summary; failures still print.
    pub quiet: bool,
    /// `-v` count: details such as each request and blob digest.
    pub verbose: u8,
    /// Live progress bars (a terminal, not CI, not quiet).
    pub bars: bool,
    /// Colour for verdict words (a terminal, no `NO_COLOR`).
    pub color: bool,
}

impl Style {
    /// The style for this process: `stderr_is_terminal` and the environment decide bars and
    /// colour.
    pub fn detect(
        quiet: bool,
        verbose: u8,
        env: &BTreeMap<String, String>,
        stderr_is_terminal: bool,
    ) -> Self {
        let set = |name: &str| env.get(name).is_some_and(|v| !v.is_empty());
        let in_ci = crate::ci::Ci::detect(env).detected;
        let dumb = env.get(env_vars::TERM).is_some_and(|t| t == "dumb");
        Style {
            quiet,
            verbose: if quiet { 0 } else { verbose },
            bars: stderr_is_terminal && !in_ci && !quiet && !dumb,
            color: stderr_is_terminal && !set(env_vars::NO_COLOR) && !dumb,
        }
    }

    /// [`Style::detect`] for this process's stderr.
    pub fn for_stderr(quiet: bool, verbose: u8, env: &BTreeMap<String, String>) -> Self {
        Self::detect(quiet, verbose, env, std::io::stderr().is_terminal())
    }
}

#[derive(Clone)]
pub struct Printer {
    redactor: Redactor,
    style: Style,
    /// The live bars, when drawn: lines are printed above them, never through them.
    bars: Option<indicatif::MultiProgress>,
}

impl Printer {
    pub fn new(redactor: Redactor, style: Style) -> Self {
        let bars = style.bars.then(|| {
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
        });
        Printer {
            redactor,
            style,
            bars,
        }
    }

    pub fn style(&self) -> Style {
        self.style
    }

    /// The live bars, if this printer draws them (for [`crate::cli::reporters`]).
    pub(crate) fn bars(&self) -> Option<&indicatif::MultiProgress> {
        self.bars.as_ref()
    }

    /// `text` masked: what may be shown anywhere.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.apply(text)
    }

    /// Data for machines or pipes (digests, JSON). A reader that closed the pipe (`| head`)
    /// is not an error: the rest of the data is dropped and the command finishes as it would
    /// (as ripgrep does), never a panic.
    pub fn data(&self, text: &str) {
        use std::io::Write;
        let text = self.redactor.apply(text);
        self.above_bars(|| {
            let mut out = std::io::stdout().lock();
            if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("error: cannot write to standard output: {e}");
                }
            }
        });
    }

    /// Progress and status, unless quiet.
    pub fn status(&self, text: &str) {
        if !self.style.quiet {
            self.line(text);
        }
    }

    /// More detail, only with `-v`.
    pub fn detail(&self, text: &str) {
        if self.style.verbose > 0 {
            self.line(text);
        }
    }

    /// A line about a failure, even when quiet: `-q` hides progress, never why a run failed.
    pub fn failure(&self, text: &str) {
        self.line(text);
    }

    /// A warning, even when quiet.
    pub fn warn(&self, text: &str) {
        self.line(&format!("warning: {text}"));
    }

    /// `error: …`, its `Caused by:` lines, reasons, then a blank line and `hint: …`.
    pub fn error(&self, e: &Error) {
        self.error_parts("", &e.to_string(), &e.causes(), e.reasons(), e.hint());
    }

    /// The one shape every error is shown in (`error` above, and a run's report): `prefix` is
    /// put before the message (`[build] `).
    pub fn error_parts(
        &self,
        prefix: &str,
        message: &str,
        causes: &[String],
        reasons: &[String],
        hint: Option<&str>,
    ) {
        self.line(&format!("error: {prefix}{message}"));
        for c in causes {
            self.line(&format!("  Caused by: {c}"));
        }
        for r in reasons {
            self.line(&format!("  - {r}"));
        }
        if let Some(h) = hint {
            self.line("");
            self.line(&format!("hint: {h}"));
        }
    }

    /// One stderr line: masked, then coloured (after masking, so colour never splits a secret).
    fn line(&self, text: &str) {
        let text = self.paint(&self.redactor.apply(text));
        self.above_bars(|| eprintln!("{text}"));
    }

    /// Run `print` with the bars lifted, so a line never lands inside a bar.
    fn above_bars(&self, print: impl FnOnce()) {
        match &self.bars {
            Some(bars) => bars.suspend(print),
            None => print(),
        }
    }

    /// Verdict words in colour (on a terminal without `NO_COLOR`): `[ok]`/`[FAIL]` check
    /// marks, a leading `VERIFIED`/`NOT VERIFIED`, and `error:`/`warning:`.
    fn paint(&self, text: &str) -> String {
        if !self.style.color {
            return text.to_string();
        }
        let green = console::Style::new().green().bold().force_styling(true);
        let red = console::Style::new().red().bold().force_styling(true);
        let yellow = console::Style::new().yellow().bold().force_styling(true);
        let mut out = text
            .replace("[ok]", &format!("[{}]", green.apply_to("ok")))
            .replace("[FAIL]", &format!("[{}]", red.apply_to("FAIL")));
        for (word, style) in [
            ("NOT VERIFIED", &red),
            ("VERIFIED", &green),
            ("error:", &red),
            ("warning:", &yellow),
        ] {
            if let Some(rest) = out.strip_prefix(word) {
                out = format!("{}{rest}", style.apply_to(word));
                break;
            }
        }
        out
    }

    /// A stage verdict word (`passed`, `failed`, …) padded to `width`, in colour when allowed.
    pub fn verdict(&self, word: &str, width: usize) -> String {
        let padded = format!("{word:<width$}");
        if !self.style.color {
            return padded;
        }
        let style = match word {
            "passed" | "succeeded" => console::Style::new().green(),
            "failed" | "interrupted" => console::Style::new().red().bold(),
            _ => return padded,
        };
        style.force_styling(true).apply_to(padded).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bars_and_colour_only_on_a_terminal_outside_ci() {
        let tty = Style::detect(false, 0, &env(&[]), true);
        assert!(tty.bars && tty.color);
        let piped = Style::detect(false, 0, &env(&[]), false);
        assert!(!piped.bars && !piped.color);
        let ci = Style::detect(false, 0, &env(&[("CI", "true")]), true);
        assert!(!ci.bars, "CI gets plain lines");
        assert!(
            Style::detect(false, 0, &env(&[("CI", "false")]), true).bars,
            "CI=false is not CI"
        );
        assert!(
            !Style::detect(true, 0, &env(&[]), true).bars,
            "-q draws no bars"
        );
        assert!(!Style::detect(false, 0, &env(&[("TERM", "dumb")]), true).bars);
    }

    #[test]
    fn no_color_with_any_value_disables_colour() {
        assert!(!Style::detect(false, 0, &env(&[("NO_COLOR", "1")]), true).color);
        assert!(!Style::detect(false, 0, &env(&[("NO_COLOR", "false")]), true).color);
        assert!(
            Style::detect(false, 0, &env(&[("NO_COLOR", "")]), true).color,
            "an empty NO_COLOR is unset (no-color.org)"
        );
    }

    #[test]
    fn verdict_words_are_painted_only_with_colour() {
        let plain = Printer::new(Redactor::default(), Style::default());
        assert_eq!(plain.paint("  policy [FAIL] sbom"), "  policy [FAIL] sbom");
        assert_eq!(plain.verdict("passed", 8), "passed  ");
        let colour = Printer::new(
            Redactor::default(),
            Style {
                color: true,
                ..Style::default()
            },
        );
        let painted = colour.paint("VERIFIED: 1 signature [ok]");
        assert!(painted.starts_with("\x1b["), "{painted:?}");
        assert!(painted.contains("ok\x1b[0m]"), "{painted:?}");
        let not = colour.paint("NOT VERIFIED: no signature");
        assert!(not.starts_with("\x1b[31"), "red, not green: {not:?}");
    }

    #[test]
    fn quiet_drops_verbosity() {
        assert_eq!(Style::detect(true, 2, &env(&[]), false).verbose, 0);
    }
}
