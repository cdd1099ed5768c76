//! The command line: clap definitions ([`args`]), environment variables ([`env_vars`]), the
//! only printer ([`printer`]) and one function per command ([`commands`]).

pub mod args;
pub mod commands;
pub mod env_vars;
pub mod printer;
pub mod reporters;
pub mod settings;

use clap::Parser;

use crate::error::ExitCode;
use crate::redact::Redactor;
use printer::Printer;

/// Parse the command line, run the command, and return the documented exit code.
pub fn run() -> ExitCode {
    let args = match args::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::Usage
            } else {
                ExitCode::Success
            };
            let _ = e.print();
            return code;
        }
    };
    let redactor = Redactor::default();
    let style = printer::Style::for_stderr(args.quiet, args.verbose, &env_vars::snapshot());
    let printer = Printer::new(redactor.clone(), style);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            printer.error(&crate::Error::environment(format!(
                "cannot start the async runtime: {e}"
            )));
            return ExitCode::Environment;
        }
    };
    let result = runtime.block_on(commands::dispatch(args.command, &printer, &redactor));
    match result {
        Ok(code) => code,
        Err(e) => {
            printer.error(&e);
            e.exit_code()
        }
    }
}
