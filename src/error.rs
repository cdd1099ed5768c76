//! The crate-wide error type and the one place errors become exit codes.

use std::path::PathBuf;

/// Documented exit codes (docs/exit-codes.md); docs/design.md is the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    /// A gate, policy or verification check said no.
    GateFailed = 1,
    /// Bad command line or pipeline file, or bad user input such as a wrong key password.
    Usage = 2,
    /// Docker, registry, network or filesystem trouble.
    Environment = 3,
    /// Ctrl-C.
    Interrupted = 130,
}

/// Every failure the library reports. Variants say which exit code applies.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file or a command-line value is wrong; the message says where and how to fix it.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
        #[source]
        source: Option<Cause>,
    },
    /// A gate or verification check failed; the reasons are listed.
    #[error("{message}")]
    Gate {
        message: String,
        reasons: Vec<String>,
        hint: Option<String>,
        #[source]
        source: Option<Cause>,
    },
    /// Something in the environment failed: registry, Docker, disk, a helper program.
    #[error("{message}")]
    Environment {
        message: String,
        hint: Option<String>,
        #[source]
        source: Option<Cause>,
    },
    #[error("{context} `{}`", path.display())]
    Io {
        context: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("interrupted")]
    Interrupted,
}

/// The error beneath another, kept whole so `Caused by:` lines can show its own chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
            source: None,
        }
    }
    pub fn environment(message: impl Into<String>) -> Self {
        Error::Environment {
            message: message.into(),
            hint: None,
            source: None,
        }
    }
    pub fn gate(message: impl Into<String>, reasons: Vec<String>) -> Self {
        Error::Gate {
            message: message.into(),
            reasons,
            hint: None,
            source: None,
        }
    }

    /// Keep the error beneath this one: the renderer prints it (and its own causes) as
    /// `Caused by:` lines, so the message need not repeat it.
    pub fn caused_by(mut self, cause: impl Into<Cause>) -> Self {
        let cause = Some(cause.into());
        match &mut self {
            Error::Usage { source, .. }
            | Error::Gate { source, .. }
            | Error::Environment { source, .. } => *source = cause,
            Error::Io { .. } | Error::Interrupted => {}
        }
        self
    }
    pub fn io(
        context: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            context: context.into(),
            path: path.into(),
            source,
        }
    }

    /// Attach a "what to do next" line.
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        let text = Some(text.into());
        match &mut self {
            Error::Usage { hint, .. }
            | Error::Gate { hint, .. }
            | Error::Environment { hint, .. } => *hint = text,
            Error::Io { .. } | Error::Interrupted => {}
        }
        self
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. }
            | Error::Gate { hint, .. }
            | Error::Environment { hint, .. } => hint.as_deref(),
            Error::Io { .. } => Some("check the path exists and is readable and writable"),
            Error::Interrupted => None,
        }
    }

    /// The chain beneath this error, outermost first (the `Caused by:` lines).
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            out.push(s.to_string());
            source = s.source();
        }
        out
    }

    pub fn reasons(&self) -> &[String] {
        match self {
            Error::Gate { reasons, .. } => reasons,
            _ => &[],
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage { .. } => ExitCode::Usage,
            Error::Gate { .. } => ExitCode::GateFailed,
            Error::Environment { .. } | Error::Io { .. } => ExitCode::Environment,
            Error::Interrupted => ExitCode::Interrupted,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes on one line (`what: why: deeper why`), for text the CLI's renderer
/// never sees (a reason recorded in an SBOM or a report).
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Adds file context to `std::io` results.
pub trait IoContext<T> {
    fn io_context(self, context: &str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io_context(self, context: &str, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| Error::io(context, path, e))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn causes_are_listed_outermost_first() {
        let inner = std::io::Error::other("disk full");
        let middle = super::Error::io("cannot write", "/tmp/x", inner);
        let e = super::Error::environment("the report could not be saved").caused_by(middle);
        assert_eq!(e.causes(), ["cannot write `/tmp/x`", "disk full"]);
        assert!(super::Error::usage("plain").causes().is_empty());
        assert_eq!(
            super::one_line(&e),
            "the report could not be saved: cannot write `/tmp/x`: disk full"
        );
    }
}
