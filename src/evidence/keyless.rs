//! Checking keyless evidence: a bundle whose verification material is a Fulcio certificate.
//!
//! `sigstore-verify` does the cryptography (the certificate chain to a Fulcio CA of the trusted
//! root, the signed certificate timestamp, the log entry's inclusion proof and checkpoint or
//! its signed entry timestamp, RFC 3161 timestamps, the signing time inside the certificate's
//! validity, the DSSE signature, the statement naming the digest); this module turns its one
//! answer into cleanpipe's named check lines and matches the certificate against the trusted
//! identities. Every property it cannot confirm is a failed check.

use sigstore_verify::types::{Artifact, ArtifactDigest, Sha256Hash};
use sigstore_verify::{Error as VerifyError, VerificationPolicy, Verifier};

use super::bundle::Bundle;
use super::signatures::Check;
use crate::oci::types::Digest;
use crate::sign::attest;
use crate::sign::identity::{GithubClaims, KeylessTrust};

/// A certified bundle that passed: its statement, who signed, and the checks that say so.
pub struct Opened {
    pub statement: serde_json::Value,
    /// The certificate's identity and issuer: `dev@example.test (https://issuer)`.
    pub signer: String,
    pub checks: Vec<Check>,
}

/// Why a certified bundle did not pass: the checks made (the last one failed) and whether the
/// failure is only that the signer is not a trusted identity (like a signature by another key).
pub struct Refused {
    pub checks: Vec<Check>,
    /// The failure came after the signer was proven a trusted identity: the evidence is that
    /// signer's and invalid. Before that, anyone could have made it, and it counts for nothing.
    pub authenticated: bool,
}

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        passed: true,
        detail: detail.into(),
    }
}

fn fail(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        passed: false,
        detail: detail.into(),
    }
}

/// Verify `bundle` (it carries a certificate) as evidence about `subject` under `trust`.
pub fn open(bundle: &Bundle, subject: &Digest, trust: &KeylessTrust) -> Result<Opened, Refused> {
    let refuse = |mut checks: Vec<Check>, check: Check| {
        checks.push(check);
        Refused {
            checks,
            authenticated: false,
        }
    };
    let checks = Vec::new();
    let (parsed, verifier, digest) = match prepare(bundle, subject, &trust.root) {
        Ok(prepared) => prepared,
        Err((name, why)) => {
            let why = match name {
                "trusted root" => format!("{}: {why}", trust.describe_root()),
                _ => why,
            };
            return Err(refuse(checks, fail(name, why)));
        }
    };
    let mut policy = VerificationPolicy::any_identity();
    if trust.ignore_sct {
        policy = policy.skip_sct();
    }
    let result = match verifier.verify(Artifact::from_digest(digest), &parsed, &policy) {
        Ok(r) => r,
        Err(e) => return Err(refuse(checks, failed_check(&e, trust))),
    };
    let mut checks = checks;
    // What the library confirmed, each stated; anything it did not confirm fails closed.
    if !result.certificate_verified() {
        return Err(refuse(
            checks,
            fail("certificate chain", "the certificate was not verified"),
        ));
    }
    checks.push(pass(
        "certificate chain",
        format!("to a Fulcio CA of {}", trust.describe_root()),
    ));
    checks.push(if result.sct_verified() {
        pass(
            "certificate transparency",
            "a signed certificate timestamp from a CT log of the trusted root",
        )
    } else if trust.ignore_sct {
        pass(
            "certificate transparency",
            "not checked (--insecure-ignore-sct)",
        )
    } else {
        return Err(refuse(
            checks,
            fail("certificate transparency", "the SCT was not verified"),
        ));
    });
    if !result.tlog_verified() {
        return Err(refuse(
            checks,
            fail("transparency log", "no log entry was verified"),
        ));
    }
    checks.push(pass(
        "transparency log",
        format!(
            "{} entr{} for this signature, proved against the log's signed checkpoint or entry timestamp",
            bundle.tlog_entries,
            if bundle.tlog_entries == 1 { "y" } else { "ies" }
        ),
    ));
    let times = result.verified_timestamps();
    let Some(signed_at) = times.first() else {
        return Err(refuse(
            checks,
            fail(
                "signing time",
                "no trusted time (log integrated time or RFC 3161 timestamp) dates the signature",
            ),
        ));
    };
    let validity = result
        .certificate()
        .map(|c| {
            format!(
                " inside the certificate's validity ({} to {})",
                c.not_before, c.not_after
            )
        })
        .unwrap_or_default();
    checks.push(pass(
        "signing time",
        format!(
            "{signed_at} ({}){validity}",
            if result.integrated_time().is_some() {
                "the log's integrated time"
            } else {
                "a trusted timestamp"
            }
        ),
    ));
    checks.push(pass("signature", "valid for the certificate's key"));
    // Who signed, against the trusted identities.
    let san = result.identity().map(|s| s.as_str().to_string());
    let issuer = result.issuer().map(str::to_string);
    let (Some(san), Some(issuer)) = (san, issuer) else {
        return Err(refuse(
            checks,
            fail(
                "identity",
                "the certificate names no identity or no OIDC issuer",
            ),
        ));
    };
    let github = result
        .certificate()
        .map(|c| c.ci_claims.deprecated_github.clone())
        .unwrap_or_default();
    let mut why_not = Vec::new();
    let matched = trust.identities.iter().find(|id| {
        if !id.subject.matches(&san) {
            why_not.push(format!("not {}", id.subject.describe()));
            return false;
        }
        if !id.issuer.matches(&issuer) {
            why_not.push(format!("issuer not {}", id.issuer.describe()));
            return false;
        }
        match github_mismatch(&id.github, &github) {
            Some(why) => {
                why_not.push(why);
                false
            }
            None => true,
        }
    });
    let Some(matched) = matched else {
        checks.push(fail(
            "identity",
            format!(
                "the certificate is for {san} from {issuer}, not a trusted identity ({})",
                why_not.join("; ")
            ),
        ));
        return Err(Refused {
            checks,
            authenticated: false,
        });
    };
    checks.push(pass(
        "identity",
        format!("{san} matches {}", matched.subject.describe()),
    ));
    checks.push(pass(
        "issuer",
        format!("{issuer} matches {}", matched.issuer.describe()),
    ));
    if !matched.github.is_empty() {
        checks.push(pass("workflow claims", describe_github(&matched.github)));
    }
    let statement = attest::unverified_statement(&bundle.envelope);
    let statement = match statement {
        Some(s)
            if bundle.envelope.payload_type == attest::INTOTO_PAYLOAD_TYPE
                && matches!(
                    s["_type"].as_str(),
                    Some(attest::STATEMENT_V1 | attest::STATEMENT_V01)
                ) =>
        {
            s
        }
        _ => {
            checks.push(fail(
                "statement",
                "the signed payload is not an in-toto statement",
            ));
            return Err(Refused {
                checks,
                authenticated: true,
            });
        }
    };
    Ok(Opened {
        statement,
        signer: format!("{san} ({issuer})"),
        checks,
    })
}

/// The transparency-log check of a key-signed bundle (`key` verified its DSSE signature):
/// its log entry and timestamp verified against the trusted root of `log`.
pub fn check_key_log(
    bundle: &Bundle,
    subject: &Digest,
    key: &crate::sign::keys::PublicKey,
    log: &crate::sign::trust::KeyLog,
) -> Check {
    const NAME: &str = "transparency log";
    if bundle.tlog_entries == 0 {
        return fail(
            NAME,
            format!(
                "the bundle carries no log entry, and signatures must be logged under {}",
                log.source
            ),
        );
    }
    let public = match sigstore_verify::types::DerPublicKey::from_pem(key.pem()) {
        Ok(k) => k,
        Err(e) => return fail(NAME, format!("the key: {e}")),
    };
    let (parsed, verifier, digest) = match prepare(bundle, subject, &log.root) {
        Ok(prepared) => prepared,
        Err(("trusted root", why)) => return fail(NAME, format!("{}: {why}", log.source)),
        Err((_, why)) => return fail(NAME, why),
    };
    let policy = sigstore_verify::PublicKeyVerificationPolicy::new(public);
    match verifier.verify(Artifact::from_digest(digest), &parsed, &policy) {
        Ok(result) if result.tlog_verified() => match result.verified_timestamps().first() {
            Some(at) => pass(
                NAME,
                format!(
                    "an entry proved against the log's checkpoint under {}, signed at {at}",
                    log.source
                ),
            ),
            None => fail(NAME, "no trusted time dates the signature"),
        },
        Ok(_) => fail(NAME, "the log entry was not verified"),
        Err(e) => fail(NAME, e.to_string()),
    }
}

/// What both library calls start from: the bundle as the library reads it (the same version
/// cleanpipe's reader accepted), a verifier for `root`, and the subject as an artifact digest.
/// `Err` names the check that fails and why.
fn prepare(
    bundle: &Bundle,
    subject: &Digest,
    root: &sigstore_verify::trust_root::TrustedRoot,
) -> Result<(sigstore_verify::types::Bundle, Verifier, ArtifactDigest), (&'static str, String)> {
    let text = String::from_utf8_lossy(&bundle.raw);
    let parsed = sigstore_verify::types::Bundle::from_json(&text)
        .map_err(|e| ("bundle", format!("unreadable: {e}")))?;
    same_version(&parsed).map_err(|why| ("bundle", why))?;
    let verifier = Verifier::new(root).map_err(|e| ("trusted root", e.to_string()))?;
    let digest = Sha256Hash::from_hex(subject.hex())
        .map(ArtifactDigest::from)
        .map_err(|e| ("bundle", format!("subject digest: {e}")))?;
    Ok((parsed, verifier, digest))
}

/// Whether the library read the bundle as the v0.3 bundle cleanpipe's reader accepted: its
/// rules per version differ (v0.1 needs no inclusion proof), and a spelling only one side
/// knows must not choose the weaker ones.
fn same_version(parsed: &sigstore_verify::types::Bundle) -> Result<(), String> {
    if parsed.media_type() == sigstore_verify::types::bundle::MediaType::Bundle0_3 {
        Ok(())
    } else {
        Err(format!(
            "the verifier reads this bundle as {}, not the v0.3 bundle it claims to be (write `mediaType`)",
            parsed.media_type().as_str()
        ))
    }
}

/// The named check a verification error fails.
fn failed_check(e: &VerifyError, trust: &KeylessTrust) -> Check {
    use sigstore_verify::CertificateError as C;
    let text = e.to_string();
    match e {
        VerifyError::Certificate(C::Sct(_)) => fail(
            "certificate transparency",
            if trust.root.ctlogs.is_empty() {
                format!("{text}; the trusted root lists no CT log (for a private instance without one, pass --insecure-ignore-sct)")
            } else {
                text
            },
        ),
        VerifyError::Certificate(C::Expired { .. } | C::NotYetValid { .. }) => {
            fail("signing time", text)
        }
        VerifyError::Certificate(_) | VerifyError::TrustedCertificate(_) => fail(
            "certificate chain",
            format!("{text} (trusted root {})", trust.describe_root()),
        ),
        VerifyError::TransparencyLog(_) => fail("transparency log", text),
        VerifyError::Timestamp(_) => fail("signing time", text),
        VerifyError::SignatureInvalid(_) => fail("signature", text),
        VerifyError::ArtifactMismatch(_) => fail("statement names this digest", text),
        _ => fail("bundle", text),
    }
}

/// Which given GitHub claim the certificate's differs from, if any.
fn github_mismatch(
    want: &GithubClaims,
    got: &sigstore_verify::crypto::x509::DeprecatedGitHubClaims,
) -> Option<String> {
    let pairs = [
        (
            "workflow repository",
            &want.repository,
            &got.workflow_repository,
        ),
        ("workflow ref", &want.git_ref, &got.workflow_ref),
        ("workflow sha", &want.sha, &got.workflow_sha),
        ("workflow trigger", &want.trigger, &got.workflow_trigger),
        ("workflow name", &want.name, &got.workflow_name),
    ];
    pairs.iter().find_map(|(name, want, got)| {
        let want = want.as_ref()?;
        (got.as_ref() != Some(want)).then(|| {
            format!(
                "{name} is {}, not {want}",
                got.as_deref().unwrap_or("absent")
            )
        })
    })
}

fn describe_github(c: &GithubClaims) -> String {
    [
        ("repository", &c.repository),
        ("ref", &c.git_ref),
        ("sha", &c.sha),
        ("trigger", &c.trigger),
        ("name", &c.name),
    ]
    .iter()
    .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n} {v}")))
    .collect::<Vec<_>>()
    .join(", ")
}
