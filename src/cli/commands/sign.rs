use std::collections::BTreeMap;

use crate::cli::args::SignArgs;
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{ExitCode, Result};
use crate::oci::reference::ImageRef;
use crate::oci::store::Store;
use crate::redact::Redactor;
use crate::sign::cosign::{append_signature, SignOutcome};
use crate::sign::keys::{KeySource, SigningKey};

pub async fn sign(
    args: &SignArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let image = ImageRef::parse(&args.image)?;
    let remote = settings::remote_options(&args.registry, redactor)?
        .with_progress(crate::cli::reporters::progress(printer));
    let source = KeySource::parse(&args.key);
    crate::sign::pkcs11::register_pin(&source, redactor);
    let password = settings::password_source(env, redactor);
    let key = SigningKey::open(&source, &|n| env.get(n).cloned(), &move || password())?;
    // Appending to a layout's signatures takes the same lock as a run on it.
    let _lock = match &image {
        ImageRef::Layout(l) => Some(
            crate::oci::layout::lock_store(&l.dir, |holder| {
                printer.status(&format!(
                    "waiting for another cleanpipe run using {} (pid {holder})…",
                    l.dir.display()
                ))
            })
            .await?,
        ),
        ImageRef::Registry(_) => None,
    };
    let store = Store::for_image(&image, &remote)?;
    let resolved = store.resolve(&image).await?;
    let reference = match &image {
        ImageRef::Registry(r) => r.repository_name(),
        ImageRef::Layout(_) => store.describe(),
    };
    let format = crate::pipeline::model::SignFormat::from(args.format);
    if format.legacy() {
        match append_signature(&store, &resolved.digest, &reference, &key).await? {
            SignOutcome::Added { total, .. } => printer.status(&format!(
                "signed {} ({total} signature(s) now)",
                resolved.digest
            )),
            SignOutcome::AlreadySigned => printer.status(&format!(
                "{} is already signed with this key",
                resolved.digest
            )),
        }
    }
    if format.bundle() {
        use crate::evidence::bundle;
        let statement = crate::sign::attest::statement(
            &reference,
            &resolved.digest,
            bundle::COSIGN_SIGN_PREDICATE,
            &serde_json::json!({}),
        );
        let (referrer, place) = crate::evidence::sign_bundle(
            &store,
            &resolved.descriptor(),
            bundle::COSIGN_SIGN_PREDICATE,
            &statement,
            &key,
            &crate::pipeline::executor::now_rfc3339(),
        )
        .await?;
        printer.status(&format!(
            "signed {} as a Sigstore bundle: referrer {referrer}, listed by {place}",
            resolved.digest
        ));
    }
    printer.data(resolved.digest.as_str());
    Ok(ExitCode::Success)
}
