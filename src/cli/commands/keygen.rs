use std::collections::BTreeMap;

use crate::cli::args::{KeygenArgs, PublicKeyArgs};
use crate::cli::env_vars;
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{Error, ExitCode, Result};
use crate::redact::Redactor;
use crate::run::stages::sign::write_key_pair;
use crate::sign::keys;

pub fn keygen(
    args: &KeygenArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let key_path = args.output_key_prefix.with_extension("key");
    for p in [key_path.clone(), key_path.with_extension("pub")] {
        crate::fsutil::check_write_target(&p)?;
    }
    if !args.force && (key_path.exists() || key_path.with_extension("pub").exists()) {
        return Err(Error::usage(format!(
            "`{}` or its `.pub` already exists",
            key_path.display()
        ))
        .with_hint("pass `--force` to overwrite, or `--output-key-prefix NAME`"));
    }
    let password = if env.contains_key(env_vars::COSIGN_PASSWORD) {
        settings::password_source(env, redactor)()?
    } else {
        let first = settings::password_source(env, redactor)()?;
        let again = rpassword::prompt_password("Enter password for private key again: ")
            .map_err(|e| Error::usage("cannot read the password").caused_by(e))?;
        if *first != again {
            return Err(Error::usage("the passwords do not match"));
        }
        first
    };
    let (private, public) = keys::generate(password.as_bytes())?;
    let public_path = write_key_pair(&key_path, &private, &public, args.force)?;
    printer.status(&format!(
        "Private key written to {} (mode 0600)",
        key_path.display()
    ));
    printer.status(&format!("Public key written to {}", public_path.display()));
    if let Some(exclude) = crate::git::keep_out_of_git(&[&key_path])? {
        printer.status(&format!(
            "{} is inside a Git work tree: added to {} so `git add -A` never commits it",
            key_path.display(),
            exclude.display()
        ));
    }
    Ok(ExitCode::Success)
}

/// `cleanpipe public-key`: the public half of any signing key, e.g. to hand a verifier the key of
/// a token whose private key cannot be exported.
pub fn public_key(
    args: &PublicKeyArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    if let Some(path) = &args.output {
        crate::fsutil::check_write_target(path)?;
    }
    let source = keys::KeySource::parse(&args.key);
    crate::sign::backends::pkcs11::register_pin(&source, redactor);
    let password = settings::password_source(env, redactor);
    let key = keys::SigningKey::open(&source, &|n| env.get(n).cloned(), &move || password())?;
    let pem = key.public_key().pem();
    match &args.output {
        Some(path) => {
            crate::fsutil::write_atomic(path, pem.as_bytes())?;
            printer.status(&format!(
                "public key of {source} written to {}",
                path.display()
            ));
        }
        None => printer.data(pem.trim_end()),
    }
    Ok(ExitCode::Success)
}
