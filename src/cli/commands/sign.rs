use std::collections::BTreeMap;

use crate::cli::args::{KeylessArgs, SignArgs, SignFormatArg};
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{Error, ExitCode, Result};
use crate::oci::reference::ImageRef;
use crate::oci::store::Store;
use crate::redact::Redactor;
use crate::sign::cosign::SignOutcome;
use crate::sign::keyless::{find_token, Instance, KeylessSigner, TokenInput};
use crate::sign::keys::{KeySource, SigningKey};
use crate::sign::Signer;

/// The keyless signer `--signing-config` and `--identity-token` (or the environment) give.
pub async fn keyless_signer(
    args: &KeylessArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
) -> Result<KeylessSigner> {
    let instance = match &args.signing_config {
        Some(path) => Instance::SigningConfig(path.clone()),
        None => Instance::PublicGood,
    };
    let input = match &args.identity_token {
        Some(given) => token_input(given, "--identity-token")?,
        None => TokenInput::Ambient,
    };
    use std::io::IsTerminal;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let token = find_token(&input, &instance, &|n| env.get(n).cloned(), interactive).await?;
    printer.status(&format!(
        "keyless: identity token from {} for {}",
        token.from,
        token.describe()
    ));
    KeylessSigner::new(&instance, token)
}

/// `--identity-token`: the token itself, or a file holding it (as cosign takes it).
pub fn token_input(given: &str, option: &str) -> Result<TokenInput> {
    let path = std::path::Path::new(given);
    if !given.contains('.') || path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!("{option}: cannot read the token file {given}"))
                .caused_by(e)
                .with_hint("give the token itself (a JWT) or a file holding it")
        })?;
        return Ok(TokenInput::Given {
            token: crate::redact::Secret::new(text.trim()),
            from: format!("the file {given}"),
        });
    }
    Ok(TokenInput::Given {
        token: crate::redact::Secret::new(given),
        from: option.to_string(),
    })
}

pub async fn sign(
    args: &SignArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let image = ImageRef::parse(&args.image)?;
    let remote = settings::remote_options(&args.registry, redactor)?
        .with_progress(crate::cli::reporters::progress(printer));
    let (signer, format) = signer(
        args.key.as_deref(),
        args.keyless,
        &args.keyless_options,
        args.format,
        env,
        printer,
        redactor,
    )
    .await?;
    // Appending to a layout's signatures takes the same lock as a run on it.
    let _lock = super::lock_layout(&image, printer).await?;
    let store = Store::for_image(&image, &remote)?;
    let resolved = store.resolve(&image).await?;
    let reference = match &image {
        ImageRef::Registry(r) => r.repository_name(),
        ImageRef::Layout(_) => store.describe(),
    };
    // `--recursive`: the index, then each image it lists (as cosign's `--recursive`).
    let mut subjects = vec![resolved.clone()];
    if args.recursive && resolved.is_index() {
        let index = crate::oci::types::Index::from_slice(&resolved.bytes, &args.image)?;
        for entry in &index.manifests {
            if subjects.iter().any(|s| s.digest == entry.digest) {
                continue;
            }
            let child = store
                .manifest_by_digest(&entry.digest)
                .await?
                .ok_or_else(|| {
                    Error::usage(format!(
                        "{} lists {}, which is not there",
                        args.image, entry.digest
                    ))
                })?;
            if child.is_index() {
                return Err(Error::usage(format!(
                    "{} lists {}, itself an index: nested indexes are not supported",
                    args.image, entry.digest
                )));
            }
            subjects.push(child);
        }
    }
    for subject in &subjects {
        sign_one(subject, &store, &reference, &signer, format, printer).await?;
    }
    printer.data(resolved.digest.as_str());
    Ok(ExitCode::Success)
}

/// Sign one manifest in `store` in `format`.
async fn sign_one(
    resolved: &crate::oci::store::Resolved,
    store: &Store,
    reference: &str,
    signer: &Signer,
    format: crate::spec::model::SignFormat,
    printer: &Printer,
) -> Result<()> {
    let now = crate::clock::now_rfc3339();
    let signed = crate::evidence::sign_subject(
        store,
        &resolved.descriptor(),
        reference,
        signer,
        (format.legacy(), format.bundle()),
        &now,
    )
    .await?;
    match signed.legacy {
        Some(SignOutcome::Added { total, .. }) => printer.status(&format!(
            "signed {} ({total} signature(s) now)",
            resolved.digest
        )),
        Some(SignOutcome::AlreadySigned) => printer.status(&format!(
            "{} is already signed with this key",
            resolved.digest
        )),
        None => {}
    }
    if let Some((referrer, place)) = signed.bundle {
        let by = match signer {
            Signer::Key(_) => String::new(),
            Signer::LoggedKey(_, log) => format!(" (logged in {})", log.describe()),
            Signer::Keyless(k) => format!(" (keyless, as {})", k.identity()),
        };
        printer.status(&format!(
            "signed {}{by} as a Sigstore bundle: referrer {referrer}, listed by {place}",
            resolved.digest
        ));
    }
    Ok(())
}

/// The signer and storage format `--key` or `--keyless` (with `--signing-config`, `--format`)
/// ask for: one place for `cleanpipe sign` and `cleanpipe db push`.
pub async fn signer(
    key: Option<&str>,
    keyless: bool,
    keyless_options: &KeylessArgs,
    format: Option<SignFormatArg>,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<(Signer, crate::spec::model::SignFormat)> {
    let format = crate::spec::model::SignFormat::from(format.unwrap_or(if keyless {
        SignFormatArg::Bundle
    } else {
        SignFormatArg::Legacy
    }));
    let signer = if keyless {
        if format != crate::spec::model::SignFormat::Bundle {
            return Err(Error::usage(
                "keyless signatures are stored as Sigstore bundles only (`--format bundle`)",
            )
            .with_hint("cosign v3 and cleanpipe read keyless bundles; drop `--format`"));
        }
        Signer::Keyless(keyless_signer(keyless_options, env, printer).await?)
    } else {
        let key_text = key.ok_or_else(|| Error::usage("give --key or --keyless"))?;
        let source = KeySource::parse(key_text);
        crate::sign::backends::pkcs11::register_pin(&source, redactor);
        let password = settings::password_source(env, redactor);
        let key = SigningKey::open(&source, &|n| env.get(n).cloned(), &move || password())?;
        match &keyless_options.signing_config {
            // A key and a signing config: the bundle is logged, as cosign v3 does.
            Some(config) => {
                if !format.bundle() {
                    return Err(Error::usage(
                        "log entries are stored in Sigstore bundles: `--signing-config` with a key needs `--format bundle` or `both`",
                    ));
                }
                Signer::LoggedKey(
                    key,
                    crate::sign::transparency::TransparencyLog::from_signing_config(config)?,
                )
            }
            None => Signer::Key(key),
        }
    };
    Ok((signer, format))
}
