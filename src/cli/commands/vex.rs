//! `cleanpipe vex`: write an OpenVEX statement, check VEX documents, attach one to an image as
//! a signed attestation (docs/vex.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cli::args::{VexAttestArgs, VexCreateArgs, VexStatusArg};
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{Error, ExitCode, Result};
use crate::oci::reference::ImageRef;
use crate::oci::store::Store;
use crate::redact::Redactor;
use crate::scan::vex;
use crate::sign::keys::{KeySource, SigningKey};
use crate::sign::Signer;

fn status_str(s: VexStatusArg) -> &'static str {
    match s {
        VexStatusArg::NotAffected => "not_affected",
        VexStatusArg::Affected => "affected",
        VexStatusArg::Fixed => "fixed",
        VexStatusArg::UnderInvestigation => "under_investigation",
    }
}

/// The product as OpenVEX names it: a purl or digest as written, else the image resolved to
/// `pkg:oci/NAME@sha256:…` (with `repository_url` for a registry image).
async fn product_id(
    product: &str,
    args: &VexCreateArgs,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<String> {
    if product.starts_with("pkg:") || product.starts_with("sha256:") {
        return Ok(product.to_string());
    }
    let image = ImageRef::parse(product).map_err(|e| {
        Error::usage(format!("--product `{product}` is neither a purl, a digest nor an image"))
            .caused_by(e)
            .with_hint("give `pkg:oci/NAME@sha256:…`, `pkg:TYPE/NAME[@VERSION]`, `sha256:…`, or an image reference")
    })?;
    let remote = settings::remote_options(&args.registry, redactor)?;
    let store = Store::for_image(&image, &remote)?;
    let resolved = store.resolve(&image).await?;
    let (name, repository_url) = match &image {
        ImageRef::Registry(r) => (
            r.repository
                .rsplit('/')
                .next()
                .unwrap_or("image")
                .to_string(),
            Some(format!("{}/{}", r.registry, r.repository)),
        ),
        ImageRef::Layout(l) => (
            l.tag
                .clone()
                .or_else(|| l.dir.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "image".into()),
            None,
        ),
    };
    let mut purl = packageurl::PackageUrl::new("oci", name.to_ascii_lowercase()).map_err(|e| {
        Error::usage(format!("--product `{product}` makes no valid purl")).caused_by(e)
    })?;
    purl.with_version(resolved.digest.to_string())
        .map_err(|e| {
            Error::usage(format!("--product `{product}` makes no valid purl")).caused_by(e)
        })?;
    if let Some(url) = &repository_url {
        purl.add_qualifier("repository_url", url.clone())
            .map_err(|e| {
                Error::usage(format!("--product `{product}` makes no valid purl")).caused_by(e)
            })?;
    }
    printer.status(&format!(
        "product: {product} is {} ({purl})",
        resolved.digest
    ));
    Ok(purl.to_string())
}

/// `cleanpipe vex create`.
pub async fn create(
    args: &VexCreateArgs,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let product = product_id(&args.product, args, printer, redactor).await?;
    let now = crate::clock::now_rfc3339();
    let mut statement = serde_json::json!({
        "vulnerability": {"name": args.vulnerability},
        "products": [{"@id": product}],
        "status": status_str(args.status),
        "timestamp": now,
    });
    if !args.aliases.is_empty() {
        statement["vulnerability"]["aliases"] = serde_json::json!(args.aliases);
    }
    if !args.subcomponents.is_empty() {
        statement["products"][0]["subcomponents"] = serde_json::json!(args
            .subcomponents
            .iter()
            .map(|s| serde_json::json!({"@id": s}))
            .collect::<Vec<_>>());
    }
    for (key, value) in [
        ("justification", &args.justification),
        ("impact_statement", &args.impact_statement),
        ("action_statement", &args.action_statement),
    ] {
        if let Some(v) = value {
            statement[key] = serde_json::json!(v);
        }
    }
    // The document's id names its content, as vexctl's does.
    let id = format!(
        "https://openvex.dev/docs/public/vex-{}",
        crate::oci::types::Digest::of(statement.to_string().as_bytes()).hex()
    );
    let doc = serde_json::json!({
        "@context": vex::OPENVEX_CONTEXT,
        "@id": id,
        "author": args.author,
        "timestamp": now,
        "version": 1,
        "tooling": format!("cleanpipe {}", env!("CARGO_PKG_VERSION")),
        "statements": [statement],
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("JSON serializes");
    bytes.push(b'\n');
    // What cleanpipe writes, cleanpipe must read: a statement its own reader refuses (a
    // `not_affected` without a justification, a bad purl) is an error here, not at deploy.
    let shown = args
        .output
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(the new document)".into());
    let checked = vex::parse(&bytes, &shown)?;
    for w in &checked.warnings {
        printer.warn(w);
    }
    match &args.output {
        Some(path) => {
            crate::fsutil::write_atomic(path, &bytes)?;
            printer.status(&format!(
                "{}: OpenVEX v0.2, {} {} for {product} ({})",
                path.display(),
                args.vulnerability,
                status_str(args.status),
                checked.digest
            ));
        }
        None => printer.data(String::from_utf8_lossy(&bytes).trim_end()),
    }
    Ok(ExitCode::Success)
}

/// `cleanpipe vex check`: every document read; each refused one said with its location.
pub fn check(files: &[PathBuf], printer: &Printer) -> Result<ExitCode> {
    let mut refused = Vec::new();
    for path in files {
        let shown = path.display().to_string();
        match vex::load(path, &shown) {
            Ok(doc) => {
                for w in &doc.warnings {
                    printer.warn(w);
                }
                printer.status(&format!(
                    "{shown}: ok, {} statement(s), {} ({})",
                    doc.statements.len(),
                    match doc.format {
                        vex::Format::OpenVex => "OpenVEX v0.2",
                        vex::Format::CycloneDx => "CycloneDX VEX",
                    },
                    doc.digest
                ));
            }
            Err(e) => {
                printer.error(&e);
                refused.push(shown);
            }
        }
    }
    if refused.is_empty() {
        return Ok(ExitCode::Success);
    }
    Err(Error::usage(format!(
        "{} of {} VEX document(s) refused: {}",
        refused.len(),
        files.len(),
        refused.join(", ")
    ))
    .with_hint(
        "fix each problem at the JSON pointer named above; a refused document is never used",
    ))
}

/// The signer `--key` or `--keyless` names (a key's signature goes into a Sigstore bundle).
async fn signer(
    args: &VexAttestArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<Signer> {
    if args.keyless {
        return Ok(Signer::Keyless(
            super::sign::keyless_signer(&args.keyless_options, env, printer).await?,
        ));
    }
    let key_text = args
        .key
        .as_deref()
        .expect("clap requires --key or --keyless");
    let source = KeySource::parse(key_text);
    crate::sign::backends::pkcs11::register_pin(&source, redactor);
    let password = settings::password_source(env, redactor);
    let key = SigningKey::open(&source, &|n| env.get(n).cloned(), &move || password())?;
    Ok(match &args.keyless_options.signing_config {
        Some(config) => Signer::LoggedKey(
            key,
            crate::sign::transparency::TransparencyLog::from_signing_config(config)?,
        ),
        None => Signer::Key(key),
    })
}

/// `cleanpipe vex attest IMAGE FILE`.
pub async fn attest(
    args: &VexAttestArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let shown = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).map_err(|e| {
        Error::usage(format!("cannot read VEX document `{shown}`"))
            .caused_by(e)
            .with_hint("check the path")
    })?;
    let doc = vex::parse(&bytes, &shown)?;
    if doc.format != vex::Format::OpenVex {
        return Err(Error::usage(format!(
            "`{shown}` is a CycloneDX VEX document; the attestation's predicate is OpenVEX v0.2"
        ))
        .with_hint("write the statements as OpenVEX (`cleanpipe vex create`)"));
    }
    for w in &doc.warnings {
        printer.warn(w);
    }
    let predicate: serde_json::Value =
        serde_json::from_slice(&bytes).expect("a document that parsed is JSON");
    let image = ImageRef::parse(&args.image)?;
    let remote = settings::remote_options(&args.registry, redactor)?;
    let signer = signer(args, env, printer, redactor).await?;
    let _lock = super::lock_layout(&image, printer).await?;
    let store = Store::for_image(&image, &remote)?;
    let resolved = store.resolve(&image).await?;
    let target = vex::Image::of(&args.image, &resolved.digest);
    if !doc.names_image(&target) {
        printer.warn(&format!(
            "`{shown}` names no product that is {} itself; its package statements still apply to the packages they name",
            resolved.digest
        ));
    }
    let reference = match &image {
        ImageRef::Registry(r) => r.repository_name(),
        ImageRef::Layout(_) => store.describe(),
    };
    let statement = crate::sign::attest::statement(
        &reference,
        &resolved.digest,
        vex::PREDICATE_OPENVEX,
        &predicate,
    );
    let now = crate::clock::now_rfc3339();
    // Attached without the signer annotation: a later VEX never unlists an earlier one (the
    // build's, or another statement), and `verify` reads them all.
    let (bundle, by) = match &signer {
        Signer::Key(key) => (
            crate::evidence::bundle::build(&envelope_of(&statement, key)?, key.public_key()),
            String::new(),
        ),
        Signer::LoggedKey(key, log) => (
            log.bundle(&envelope_of(&statement, key)?, key.public_key())
                .await?,
            format!(" (logged in {})", log.describe()),
        ),
        Signer::Keyless(k) => (
            k.sign_statement(&statement).await?,
            format!(" (keyless, as {})", k.identity()),
        ),
    };
    let (referrer, place) = crate::evidence::attach_bundle(
        &store,
        &resolved.descriptor(),
        vex::PREDICATE_OPENVEX,
        bundle,
        &now,
        None,
    )
    .await?;
    printer.status(&format!(
        "VEX `{shown}` ({}, {} statement(s)) attested to {}{by}: referrer {referrer}, listed by {place}",
        doc.digest,
        doc.statements.len(),
        resolved.digest
    ));
    printer.data(referrer.as_str());
    Ok(ExitCode::Success)
}

fn envelope_of(statement: &[u8], key: &SigningKey) -> Result<crate::sign::attest::Envelope> {
    Ok(
        serde_json::from_slice(&crate::sign::attest::envelope(statement, key)?)
            .expect("an envelope cleanpipe wrote parses"),
    )
}
