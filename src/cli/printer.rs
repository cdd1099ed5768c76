//! The only place that writes to the terminal. Data goes to stdout, everything else to stderr,
//! and every line passes through the redactor.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::error::Error;
use crate::redact::Redactor;

#[derive(Clone)]
pub struct Printer {
    redactor: Redactor,
    quiet: bool,
}

impl Printer {
    pub fn new(redactor: Redactor, quiet: bool) -> Self {
        Printer { redactor, quiet }
    }

    /// Data for machines or pipes (digests, JSON).
    pub fn data(&self, text: &str) {
        println!("{}", self.redactor.apply(text));
    }

    /// Progress and status, unless quiet.
    pub fn status(&self, text: &str) {
        if !self.quiet {
            eprintln!("{}", self.redactor.apply(text));
        }
    }

    /// A line about a failure, even when quiet: `-q` hides progress, never why a run failed.
    pub fn failure(&self, text: &str) {
        eprintln!("{}", self.redactor.apply(text));
    }

    /// A warning, even when quiet.
    pub fn warn(&self, text: &str) {
        eprintln!("warning: {}", self.redactor.apply(text));
    }

    /// `error: …`, reasons, then a blank line and `hint: …`.
    pub fn error(&self, e: &Error) {
        eprintln!("error: {}", self.redactor.apply(&e.to_string()));
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            eprintln!("  Caused by: {}", self.redactor.apply(&s.to_string()));
            source = s.source();
        }
        for r in e.reasons() {
            eprintln!("  - {}", self.redactor.apply(r));
        }
        if let Some(h) = e.hint() {
            eprintln!();
            eprintln!("hint: {}", self.redactor.apply(h));
        }
    }
}
