use crate::cli::args::{VerifyArgs, VerifyOutput};
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{ExitCode, Result};
use crate::oci::reference::ImageRef;
use crate::policy::{verify_image, Policy};
use crate::redact::Redactor;
use crate::sign::keys::PublicKey;
use crate::sign::trust::Trust;

pub async fn verify(
    args: &VerifyArgs,
    env: &std::collections::BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let image = ImageRef::parse(&args.image)?;
    for url in &args.notify {
        // Checked before anything is verified; its credentials never printed.
        redactor.add_url_parts(url);
        crate::notify::check_url(url).map_err(|e| {
            crate::Error::usage(format!("--notify {}: {e}", crate::net::shown_url(url)))
                .with_hint("webhooks are https, or plain http on a loopback address")
        })?;
    }
    let (policy, trust) = policy_and_trust(args, env, redactor).await?;
    // The VSA's key and target are checked before anything is verified.
    let vsa_signer = match (&args.vsa, &args.vsa_key, args.vsa_keyless) {
        (Some(path), Some(key_text), _) => {
            crate::fsutil::check_write_target(path)?;
            let source = crate::sign::KeySource::parse(key_text);
            crate::sign::backends::pkcs11::register_pin(&source, redactor);
            let password = settings::password_source(env, redactor);
            Some((
                path,
                crate::policy::vsa::VsaSigner::Key(crate::sign::SigningKey::open(
                    &source,
                    &|n| env.get(n).cloned(),
                    &move || password(),
                )?),
            ))
        }
        (Some(path), None, true) => {
            crate::fsutil::check_write_target(path)?;
            let keyless = crate::cli::args::KeylessArgs {
                signing_config: args.vsa_signing_config.clone(),
                identity_token: args.vsa_identity_token.clone(),
            };
            Some((
                path,
                crate::policy::vsa::VsaSigner::Keyless(Box::new(
                    super::sign::keyless_signer(&keyless, env, printer).await?,
                )),
            ))
        }
        (Some(_), None, false) => {
            return Err(crate::Error::usage("`--vsa` needs a signer").with_hint(
                "add `--vsa-key KEY`, or `--vsa-keyless` to sign it with the job's OIDC identity",
            ));
        }
        _ => None,
    };
    let remote = settings::remote_options(&args.registry, redactor)?;
    let verdict = verify_image(&image, &trust, &remote, &policy).await?;
    // The image as deployed: pinned by digest, never a tag.
    let (deployed, deployed_subject) = verdict.deployed();
    let pinned = match &image {
        ImageRef::Registry(r) => r.at_digest(deployed).to_string(),
        ImageRef::Layout(l) => format!("oci:{}@{deployed}", l.dir.display()),
    };
    let mut vsa_info = serde_json::Value::Null;
    if let Some((path, signer)) = &vsa_signer {
        let resource_uri = &pinned;
        let now = crate::clock::now_rfc3339();
        let envelope = signer
            .sign(&verdict, &policy, &trust, resource_uri, &now)
            .await?;
        crate::fsutil::write_atomic(path, &envelope)?;
        let result = if verdict.verified { "PASSED" } else { "FAILED" };
        vsa_info = serde_json::json!({
            "path": path.display().to_string(),
            "digest": crate::oci::types::Digest::of(&envelope),
            "result": result,
        });
        printer.status(&format!(
            "verification summary ({result}) for {resource_uri} written to {} ({})",
            path.display(),
            crate::oci::types::Digest::of(&envelope)
        ));
        if args.attach_vsa && !verdict.verified && !args.attach_vsa_on_failure {
            printer.status(&format!(
                "verification summary (FAILED) not attached to {resource_uri}: a FAILED summary is attached only with `--attach-vsa-on-failure`"
            ));
        } else if args.attach_vsa {
            let store = crate::oci::store::Store::for_image(&image, &remote)?;
            let (referrer, place) = signer
                .attach(&store, deployed_subject, &envelope, &now)
                .await?;
            printer.status(&format!(
                "verification summary ({result}) attached to {resource_uri} as referrer {referrer} ({place})"
            ));
            vsa_info["referrer"] = serde_json::json!(referrer);
        }
    }
    if args.output == VerifyOutput::Digest {
        if verdict.verified {
            printer.data(&pinned);
        } else {
            let failed = verdict.failed_rules();
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
        print_checks(printer, &verdict, "");
        let summary = summary_of(&verdict);
        let verdict_line = if verdict.verified {
            "VERIFIED"
        } else {
            "NOT VERIFIED"
        };
        printer.status(&format!("{verdict_line}: {summary}"));
        if verdict.verified {
            printer.data(&format!("{deployed}"));
        }
    }
    if !args.notify.is_empty() {
        notify(args, env, &verdict, &pinned, vsa_info, printer, redactor).await?;
    }
    Ok(if verdict.verified {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}

/// `--notify`: the verdict to each webhook, in order, after it was printed.
async fn notify(
    args: &VerifyArgs,
    env: &std::collections::BTreeMap<String, String>,
    verdict: &crate::policy::Verdict,
    pinned: &str,
    vsa: serde_json::Value,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<()> {
    let failed = verdict.failed_rules();
    let event = if verdict.verified {
        "image.verified"
    } else {
        "image.not-verified"
    };
    let ci_run_url = crate::ci::run_url(env);
    let body = match args.notify_format {
        crate::cli::args::NotifyFormat::Json => serde_json::json!({
            "event": event,
            "image": pinned,
            "digest": verdict.digest,
            "verified": verdict.verified,
            "signatures": verdict.signatures.summary,
            "failed_rules": failed,
            "vsa": vsa,
            "ci_run_url": ci_run_url,
        }),
        crate::cli::args::NotifyFormat::Slack => {
            let mut text = if verdict.verified {
                format!(":white_check_mark: `{pinned}` verified for deploy")
            } else if verdict.signatures.verified {
                format!(
                    ":x: `{pinned}` NOT verified: the policy fails: {}",
                    failed.join(", ")
                )
            } else {
                format!(
                    ":x: `{pinned}` NOT verified: {}",
                    verdict.signatures.summary
                )
            };
            if let Some(d) = vsa.get("digest").and_then(|d| d.as_str()) {
                text.push_str(&format!(" (VSA `{d}`)"));
            }
            if let Some(url) = &ci_run_url {
                text.push_str(&format!(" <{url}|CI run>"));
            }
            serde_json::json!({ "text": text })
        }
    };
    let body = redactor
        .apply(&serde_json::to_string(&body).expect("a verdict serializes"))
        .into_bytes();
    let delivery_id = format!("verify-{}-{}", verdict.digest.hex(), std::process::id());
    for url in &args.notify {
        let hook = crate::notify::Hook {
            url: url.clone(),
            headers: vec![],
            secret: None,
            timeout: std::time::Duration::from_secs(30),
        };
        let d = crate::notify::deliver(&hook, event, &body, &delivery_id, redactor).await?;
        printer.status(&format!(
            "notified {} (HTTP {}, {} attempt(s))",
            d.url, d.status, d.attempts
        ));
    }
    Ok(())
}

/// The policy and trusted keys of a `verify`: the policy file's, with the options on top (they
/// only add checks and keys). With `--vsa` a file is taken as is: the summary names one policy
/// by its digest, so checks added on the command line would be checked but not named.
async fn policy_and_trust(
    args: &VerifyArgs,
    env: &std::collections::BTreeMap<String, String>,
    redactor: &Redactor,
) -> Result<(Policy, Trust)> {
    let today = crate::clock::Clock::System.today();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // `--commit` is the one check a deploy job adds to a policy file: the summary names it
    // in its policy annotations.
    let added_checks = args.require_provenance
        || args.source_repo.is_some()
        || args.builder_id.is_some()
        || args.require_sbom
        || args.fail_on.is_some();
    let (mut policy, mut trust) = match &args.policy {
        Some(path) => {
            let added_identity = args.identity.certificate_identity.is_some()
                || args.identity.certificate_identity_regexp.is_some();
            if args.vsa.is_some() && (added_checks || args.key.is_some() || added_identity) {
                return Err(crate::Error::usage(
                    "`--vsa` with `--policy` takes the policy file as it is: the summary names the file by its digest",
                )
                .with_hint("move the extra options and keys into the policy file, or drop `--policy`"));
            }
            let loaded = crate::policy::file::load(path, &today, now).await?;
            (loaded.policy, Some(loaded.trust))
        }
        None => (
            Policy {
                today,
                now,
                ..Policy::default()
            },
            None,
        ),
    };
    // Options narrow the file's rules, never widen them.
    let conflict = |option: &str, file_value: &str| {
        crate::Error::usage(format!(
            "`{option}` asks for something the policy file rules out (it says {file_value})"
        ))
        .with_hint("no provenance could satisfy both; drop the option or change the policy file")
    };
    policy.require_provenance |= args.require_provenance;
    if let Some(want) = &args.source_repo {
        match &policy.source_repo {
            Some(file) if file != want => return Err(conflict("--source-repo", file)),
            _ => policy.source_repo = Some(want.clone()),
        }
    }
    if let Some(commit) = &args.commit {
        match &policy.commit {
            Some(file)
                if !commit.to_ascii_lowercase().starts_with(file.as_str())
                    && !file.starts_with(&commit.to_ascii_lowercase()) =>
            {
                return Err(conflict("--commit", &format!("commit {file}")));
            }
            _ => policy.commit = Some(commit.clone()),
        }
    }
    if let Some(want) = &args.builder_id {
        if !policy.builder_ids.is_empty() && !policy.builder_ids.contains(want) {
            return Err(conflict("--builder-id", &policy.builder_ids.join(", ")));
        }
        policy.builder_ids = vec![want.clone()];
    }
    if let Some(text) = &args.max_db_age {
        let want = crate::policy::file::parse_duration(text).map_err(|why| {
            crate::Error::usage(format!("--max-db-age: {why}"))
                .with_hint("write a number and a unit: `36h`, `2d`")
        })?;
        policy.max_db_age = Some(policy.max_db_age.map_or(want, |file| file.min(want)));
    }
    policy.require_sbom |= args.require_sbom;
    policy.allow_incomplete_coverage |= args.allow_incomplete_coverage;
    policy.platform = args.platform.clone();
    if let Some(t) = args.fail_on {
        policy.fail_on = Some(match policy.fail_on {
            Some(file) if file.is_stricter_than(t) => file,
            _ => t,
        });
    }
    if let Some(path) = &args.key {
        let key = match crate::sign::KeySource::parse(&path.to_string_lossy()) {
            // A token or KMS key: its public half, read from there (as `cosign verify --key
            // URI` does; a PKCS#11 token wants its PIN for that).
            source @ crate::sign::KeySource::Held(_) => {
                crate::sign::backends::pkcs11::register_pin(&source, redactor);
                let no_password = || -> Result<zeroize::Zeroizing<String>> {
                    Err(crate::Error::usage("a token or KMS key has no password"))
                };
                crate::sign::SigningKey::open(&source, &|n| env.get(n).cloned(), &no_password)?
                    .public_key()
                    .clone()
            }
            _ => PublicKey::from_file(path)?,
        };
        match &mut trust {
            Some(t) => t.add(key),
            None => trust = Some(Trust::from(key)),
        }
    }
    let keyless = settings::keyless_trust(&args.identity)?;
    // `--trusted-root` without identities: key signatures must be logged under it.
    let mut trust = match (trust, keyless) {
        (Some(t), None) => t,
        (Some(t), Some(keyless)) => t.and_keyless(keyless)?,
        (None, keyless) => Trust::with_keyless(vec![], keyless)?,
    };
    // `--trusted-root` with keys: the keys' signatures must be logged under it (as cosign
    // requires with a key), whether or not identities are trusted too.
    if let (Some(path), false) = (&args.identity.trusted_root, trust.keys().is_empty()) {
        trust = trust.with_key_log(crate::sign::trust::KeyLog {
            root: crate::sign::identity::read_trusted_root(path)?,
            source: path.display().to_string(),
        });
    }
    Ok((policy, trust))
}

/// The check lines of a verdict, and of each platform image of an index (indented).
fn print_checks(printer: &Printer, verdict: &crate::policy::Verdict, indent: &str) {
    for line in check_lines(verdict, indent) {
        printer.status(&line);
    }
}

/// The check lines of a verdict, and of each platform image of an index (indented).
fn check_lines(verdict: &crate::policy::Verdict, indent: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mark = |ok: bool| if ok { "ok" } else { "FAIL" };
    out.push(format!(
        "{indent}verifying {} ({})",
        verdict.image, verdict.digest
    ));
    for sig in &verdict.signatures.signatures {
        out.push(format!(
            "{indent}  signature in {} (blob {}):",
            sig.source, sig.payload_digest
        ));
        for c in &sig.checks {
            out.push(format!(
                "{indent}    [{}] {}: {}",
                mark(c.passed),
                c.name,
                c.detail
            ));
        }
    }
    for a in &verdict.attestations {
        // Another signer's evidence (a deploy job's summary, a vendor's attestation) neither
        // helps nor blocks: listed as not used, not as a failure.
        let state = match a.outcome {
            crate::policy::Outcome::Verified => "ok",
            crate::policy::Outcome::NotThisKey => "not used",
            crate::policy::Outcome::Unreadable | crate::policy::Outcome::Invalid => "FAIL",
        };
        let kind = if a.predicate_type == crate::policy::vsa::PREDICATE_VSA {
            "verification summary"
        } else {
            "attestation"
        };
        out.push(format!(
            "{indent}  {kind} in {} ({}, {}): [{state}] {}",
            a.source, a.predicate_type, a.digest, a.detail
        ));
    }
    for p in &verdict.platforms {
        out.push(format!("{indent}  platform {}:", p.platform));
        out.extend(check_lines(&p.verdict, &format!("{indent}    ")));
        out.push(format!(
            "{indent}    {}: {}",
            if p.verdict.verified {
                "verified"
            } else {
                "NOT verified"
            },
            summary_of(&p.verdict)
        ));
    }
    for c in &verdict.policy {
        out.push(format!(
            "{indent}  policy [{}] {}: {}",
            mark(c.passed),
            c.name,
            c.detail
        ));
    }
    if let Some(vex) = &verdict.vex {
        for d in &vex.documents {
            out.push(format!(
                "{indent}  VEX {} ({} statement document {}), signed by {}",
                d.attestation,
                d.document.id.as_deref().unwrap_or("no @id"),
                d.document.digest,
                d.document.signer.as_deref().unwrap_or("nobody")
            ));
        }
        for s in &vex.suppressed {
            out.push(format!(
                "{indent}  VEX suppressed {} ({}) in {} {}: {}",
                s.id,
                s.severity,
                s.package,
                s.version,
                s.vex.describe()
            ));
        }
        for line in vex.kept.iter().chain(&vex.unused) {
            out.push(format!("{indent}  VEX note: {line}"));
        }
        for line in &vex.ignored {
            out.push(format!(
                "{indent}  VEX ignored (not signed by a trusted signer): {line}"
            ));
        }
    }
    out
}

/// The verdict line's reason.
fn summary_of(verdict: &crate::policy::Verdict) -> String {
    let failed = verdict.failed_rules();
    let signed = if verdict.signatures.verified || verdict.platforms.is_empty() {
        verdict.signatures.summary.clone()
    } else {
        "the index is not signed by a trusted signer".to_string()
    };
    if !verdict.platforms.is_empty() {
        let detail = verdict
            .policy
            .iter()
            .map(|c| c.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        return format!("{signed}; platform images: {detail}");
    }
    if !verdict.signatures.verified {
        signed
    } else if failed.is_empty() {
        format!(
            "{signed}; {} attestation(s) verified",
            verdict.attestations.iter().filter(|a| a.verified).count()
        )
    } else {
        format!("{signed}, but the policy fails: {}", failed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::signatures::{Check, SignatureCheck, VerifyReport};
    use crate::evidence::Source;
    use crate::oci::types::{Descriptor, Digest};
    use crate::policy::{AttestationCheck, Outcome, PolicyCheck, Verdict};

    fn digest(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn verdict(policy_passes: bool) -> Verdict {
        let check = |name, passed, detail: &str| Check {
            name,
            passed,
            detail: detail.into(),
        };
        let attestation = |layer, predicate: &str, outcome, detail: &str| AttestationCheck {
            source: Source::LegacyTag {
                tag: digest(0).cosign_tag("att"),
                layer,
            },
            layer,
            digest: digest(10 + layer as u8),
            predicate_type: predicate.into(),
            verified: outcome == Outcome::Verified,
            outcome,
            detail: detail.into(),
        };
        let rule = |name, passed, detail: &str| PolicyCheck {
            name,
            passed,
            detail: detail.into(),
            attestations: vec![],
        };
        Verdict {
            image: "127.0.0.1:5000/web:v1".into(),
            digest: digest(0),
            subject: Descriptor::of(crate::oci::types::MEDIA_OCI_MANIFEST, b"{}"),
            verified: policy_passes,
            signatures: VerifyReport {
                digest: digest(0),
                key: "cosign.pub".into(),
                signature_manifest: Some(digest(1)),
                referrers: None,
                signatures: vec![SignatureCheck {
                    source: Source::LegacyTag {
                        tag: digest(0).cosign_tag("sig"),
                        layer: 0,
                    },
                    payload_digest: digest(2),
                    docker_reference: Some("127.0.0.1:5000/web".into()),
                    signer: Some("cosign.pub".into()),
                    checks: vec![
                        check("signature", true, "verified with cosign.pub"),
                        check("subject", true, "the payload names this digest"),
                    ],
                    verified: true,
                }],
                verified: true,
                summary: "signed by cosign.pub".into(),
            },
            attestations: vec![
                attestation(
                    0,
                    "https://slsa.dev/provenance/v1",
                    Outcome::Verified,
                    "signed by cosign.pub",
                ),
                attestation(
                    1,
                    "https://cyclonedx.org/bom",
                    Outcome::NotThisKey,
                    "signed by another key",
                ),
                attestation(
                    2,
                    "https://spdx.dev/Document",
                    Outcome::Unreadable,
                    "not a DSSE envelope",
                ),
            ],
            provenance: None,
            vex: None,
            policy: vec![
                rule(
                    "provenance",
                    true,
                    "built by https://cleanpipe.dev/builder@v1",
                ),
                rule(
                    "vulnerabilities",
                    policy_passes,
                    if policy_passes {
                        "no finding at or above high"
                    } else {
                        "2 findings at or above high: CVE-2021-44228, CVE-2022-0001"
                    },
                ),
            ],
            platforms: vec![],
            only_platform: false,
        }
    }

    /// The check lines and the verdict's reason, as `cleanpipe verify` prints them.
    #[test]
    fn verdicts_render_each_check_and_why() {
        for (name, passes) in [("passing", true), ("failing", false)] {
            let v = verdict(passes);
            let mut text = check_lines(&v, "").join("\n");
            text.push_str(&format!("\n=> {}", summary_of(&v)));
            insta::assert_snapshot!(name, text);
        }
    }
}
