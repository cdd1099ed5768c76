//! The `cleanpipe` binary: everything happens in the library; this maps the outcome to an exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cleanpipe::cli::run() as u8)
}
