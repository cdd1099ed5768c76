use crate::cli::args::{VerifyArgs, VerifyOutput};
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{ExitCode, Result};
use crate::oci::reference::ImageRef;
use crate::pipeline::model::Severity as Threshold;
use crate::policy::{verify_image, Policy};
use crate::redact::Redactor;
use crate::sign::keys::PublicKey;

pub async fn verify(
    args: &VerifyArgs,
    env: &std::collections::BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let image = ImageRef::parse(&args.image)?;
    let key = PublicKey::from_file(&args.key)?;
    // The VSA's key and target are checked before anything is verified.
    let vsa_signer = match (&args.vsa, &args.vsa_key) {
        (Some(path), Some(key_text)) => {
            crate::fsutil::check_write_target(path)?;
            let source = crate::sign::KeySource::parse(key_text);
            let password = settings::password_source(env, redactor);
            Some((
                path,
                crate::sign::SigningKey::load(
                    &source.read(&|n| env.get(n).cloned())?,
                    &source,
                    &move || password(),
                )?,
            ))
        }
        _ => None,
    };
    let remote = settings::remote_options(&args.registry, redactor)?;
    let policy = Policy {
        require_provenance: args.require_provenance,
        source_repo: args.source_repo.clone(),
        commit: args.commit.clone(),
        builder_id: args.builder_id.clone(),
        require_sbom: args.require_sbom,
        fail_on: args.fail_on.map(Threshold::from),
        today: crate::scan::today(),
    };
    let verdict = verify_image(&image, &key, &remote, &policy).await?;
    // The image as deployed: pinned by digest, never a tag.
    let pinned = match &image {
        ImageRef::Registry(r) => r.at_digest(&verdict.digest).to_string(),
        ImageRef::Layout(l) => format!("oci:{}@{}", l.dir.display(), verdict.digest),
    };
    if let Some((path, signer)) = &vsa_signer {
        let resource_uri = &pinned;
        let statement = crate::policy::vsa::statement(
            &verdict,
            &policy,
            &key.fingerprint(),
            resource_uri,
            &crate::pipeline::executor::now_rfc3339(),
        );
        let envelope = crate::sign::attest::envelope(&statement, signer)?;
        crate::fsutil::write_atomic(path, &envelope)?;
        printer.status(&format!(
            "verification summary ({}) for {resource_uri} written to {}",
            if verdict.verified { "PASSED" } else { "FAILED" },
            path.display()
        ));
    }
    if args.output == VerifyOutput::Digest {
        if verdict.verified {
            printer.data(&pinned);
        } else {
            let failed: Vec<&str> = verdict
                .policy
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.name)
                .collect();
            let why = if verdict.signatures.verified {
                format!("the policy fails: {}", failed.join(", "))
            } else {
                verdict.signatures.summary.clone()
            };
            printer.failure(&format!("NOT VERIFIED: {why}; nothing to deploy"));
        }
    } else if args.output == VerifyOutput::Json {
        printer.data(&serde_json::to_string_pretty(&verdict).expect("verdict serializes"));
    } else {
        let mark = |ok: bool| if ok { "ok" } else { "FAIL" };
        printer.status(&format!("verifying {} ({})", verdict.image, verdict.digest));
        for sig in &verdict.signatures.signatures {
            printer.status(&format!(
                "  signature in {} (blob {}):",
                sig.source, sig.payload_digest
            ));
            for c in &sig.checks {
                printer.status(&format!(
                    "    [{}] {}: {}",
                    mark(c.passed),
                    c.name,
                    c.detail
                ));
            }
        }
        for a in &verdict.attestations {
            printer.status(&format!(
                "  attestation in {} ({}, {}): [{}] {}",
                a.source,
                a.predicate_type,
                a.digest,
                mark(a.verified),
                a.detail
            ));
        }
        for c in &verdict.policy {
            printer.status(&format!(
                "  policy [{}] {}: {}",
                mark(c.passed),
                c.name,
                c.detail
            ));
        }
        let failed: Vec<&str> = verdict
            .policy
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        let summary = if !verdict.signatures.verified {
            verdict.signatures.summary.clone()
        } else if failed.is_empty() {
            format!(
                "{}; {} attestation(s) verified",
                verdict.signatures.summary,
                verdict.attestations.iter().filter(|a| a.verified).count()
            )
        } else {
            format!(
                "{}, but the policy fails: {}",
                verdict.signatures.summary,
                failed.join(", ")
            )
        };
        let verdict_line = if verdict.verified {
            "VERIFIED"
        } else {
            "NOT VERIFIED"
        };
        printer.status(&format!("{verdict_line}: {summary}"));
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
