//! Transparency for key-based signatures, as `cosign sign --key K --signing-config F` does: the
//! DSSE signature is recorded in the signing config's Rekor v2 log (a hashedrekord entry of the
//! envelope's PAE digest, authenticated by the public key) and dated by its timestamp
//! authority; the log entry, its inclusion proof and the timestamp go into the bundle.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use sigstore_sign::bundle::{BundleV03, VerificationMaterialV03};
use sigstore_sign::rekor::{HashedRekordV2, RekorV2Client, RekorV2KeyDetails};
use sigstore_sign::types::{
    DerPublicKey, DsseEnvelope, DsseSignature, KeyId, PayloadBytes, SignatureBytes,
    SignatureContent,
};

use crate::error::{Error, Result};
use crate::sign::attest::Envelope;
use crate::sign::keys::PublicKey;

const SERVICE_TIMEOUT: Duration = Duration::from_secs(60);

/// The log and timestamp authority key-signed bundles are recorded with.
pub struct TransparencyLog {
    rekor: RekorV2Client,
    tsa: sigstore_sign::tsa::TimestampClient,
    described: String,
}

impl TransparencyLog {
    /// The Rekor v2 log and timestamp authority a `signing_config.json` names.
    pub fn from_signing_config(path: &Path) -> Result<TransparencyLog> {
        let config = crate::sign::keyless::read_signing_config(path)?;
        let rekor = config
            .rekor_url(Some(2))
            .map(|e| e.url.clone())
            .ok_or_else(|| {
                Error::usage(format!("{} names no Rekor v2 log", path.display()))
                    .with_hint("cleanpipe logs key-based signatures in Rekor v2 (`rekorTlogUrls` with majorApiVersion 2)")
            })?;
        let tsa = config.tsa_url().map(|e| e.url.clone()).ok_or_else(|| {
            Error::usage(format!("{} names no timestamp authority", path.display()))
                .with_hint("Rekor v2 entries carry no time: a timestamp authority (`tsaUrls`) dates the signature")
        })?;
        let http = crate::net::client(crate::net::Redirects::Refuse, Some(SERVICE_TIMEOUT))?;
        let rekor_client = RekorV2Client::builder(&rekor)
            .with_http_client(http.clone())
            .build()
            .map_err(|e| Error::usage(format!("Rekor at {rekor} cannot be used")).caused_by(e))?;
        let tsa_client = sigstore_sign::tsa::TimestampClient::builder(&tsa)
            .with_http_client(http)
            .build()
            .map_err(|e| {
                Error::usage(format!("the timestamp authority at {tsa} cannot be used"))
                    .caused_by(e)
            })?;
        Ok(TransparencyLog {
            rekor: rekor_client,
            tsa: tsa_client,
            described: format!("Rekor v2 at {rekor}"),
        })
    }

    pub fn describe(&self) -> &str {
        &self.described
    }

    /// The bundle for `envelope` (signed by `key`), with its log entry and timestamp.
    pub async fn bundle(&self, envelope: &Envelope, key: &PublicKey) -> Result<Vec<u8>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = b64
            .decode(&envelope.payload)
            .map_err(|e| Error::environment("the envelope's payload").caused_by(e))?;
        let signature = envelope
            .signatures
            .first()
            .and_then(|s| b64.decode(&s.sig).ok())
            .ok_or_else(|| Error::environment("the envelope holds no signature"))?;
        let signature = SignatureBytes::new(signature);
        let digest = sigstore_sign::crypto::sha256(&crate::sign::attest::pae(
            &envelope.payload_type,
            &payload,
        ));
        let public = DerPublicKey::from_pem(key.pem()).map_err(|e| {
            Error::environment("the public key cannot be sent to the transparency log").caused_by(e)
        })?;
        let request = HashedRekordV2::new_with_public_key(
            &digest,
            &signature,
            &public,
            RekorV2KeyDetails::PkixEcdsaP256Sha256,
        );
        let entry = self.rekor.create_entry(request).await.map_err(|e| {
            Error::environment(format!(
                "{} did not log the signature: {e}; nothing was signed",
                self.described
            ))
        })?;
        let timestamp = self
            .tsa
            .timestamp_signature(&signature)
            .await
            .map_err(|e| {
                Error::environment(format!(
                    "the timestamp authority did not date the signature: {e}; nothing was signed"
                ))
            })?;
        let dsse = DsseEnvelope::new(
            envelope.payload_type.clone(),
            PayloadBytes::new(payload),
            DsseSignature::new(signature, KeyId::default()),
        );
        let bundle = BundleV03::new(
            VerificationMaterialV03::PublicKey {
                // The hint cleanpipe writes for a key (standard base64 of its DER's SHA-256).
                hint: b64.encode(hex::decode(key.fingerprint().hex()).expect("a digest is hex")),
            },
            SignatureContent::DsseEnvelope(dsse),
        )
        .with_tlog_entry(entry)
        .with_rfc3161_timestamp(timestamp)
        .into_bundle();
        bundle
            .to_json()
            .map(String::into_bytes)
            .map_err(|e| Error::environment("the bundle does not serialize").caused_by(e))
    }
}
