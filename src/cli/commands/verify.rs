use crate::cli::args::{OutputFormat, VerifyArgs};
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{ExitCode, Result};
use crate::oci::reference::ImageRef;
use crate::policy::verify_image;
use crate::redact::Redactor;
use crate::sign::keys::PublicKey;

pub async fn verify(args: &VerifyArgs, printer: &Printer, redactor: &Redactor) -> Result<ExitCode> {
    let image = ImageRef::parse(&args.image)?;
    let key = PublicKey::from_file(&args.key)?;
    let remote = settings::remote_options(&args.registry, redactor)?;
    let verdict = verify_image(&image, &key, &remote).await?;
    if args.output == OutputFormat::Json {
        printer.data(&serde_json::to_string_pretty(&verdict).expect("verdict serializes"));
    } else {
        printer.status(&format!("verifying {} ({})", verdict.image, verdict.digest));
        for sig in &verdict.signatures.signatures {
            printer.status(&format!(
                "  signature {} (payload {}):",
                sig.layer, sig.payload_digest
            ));
            for c in &sig.checks {
                printer.status(&format!(
                    "    [{}] {}: {}",
                    if c.passed { "ok" } else { "FAIL" },
                    c.name,
                    c.detail
                ));
            }
        }
        let verdict_line = if verdict.verified {
            "VERIFIED"
        } else {
            "NOT VERIFIED"
        };
        printer.status(&format!("{verdict_line}: {}", verdict.signatures.summary));
        if verdict.verified {
            printer.data(&format!("{}", verdict.digest));
        }
    }
    Ok(if verdict.verified {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}
