//! cosign-compatible signing: keys, keyless (Fulcio) signing, simple-signing payloads, `.sig`
//! manifests, DSSE attestations in `.att` manifests and SLSA provenance. Finding and checking
//! evidence is [`crate::evidence`].
//!
//! Signatures are stored the way cosign's legacy (and v3 fallback) layout stores them: a manifest
//! tagged `sha256-<hex>.sig` in the image's repository, one layer per signature (docs/formats.md §1).

pub mod attest;
pub mod backends;
pub mod cosign;
pub mod identity;
pub mod keyless;
pub mod keys;
pub mod provenance;
pub mod transparency;
pub mod trust;

pub use cosign::{append_signature, SignOutcome};
pub use keyless::KeylessSigner;
pub use keys::{KeySource, PublicKey, SigningKey};
pub use trust::{Trust, Verifier};

/// What signs: a key (file, token or KMS), or keyless (an ephemeral key Fulcio certifies).
pub enum Signer {
    Key(SigningKey),
    /// A key whose bundles are recorded in a transparency log (with a timestamp).
    LoggedKey(SigningKey, transparency::TransparencyLog),
    Keyless(KeylessSigner),
}

impl Signer {
    /// The key, when signing with one (legacy `.sig`/`.att` layouts need it).
    pub fn key(&self) -> Option<&SigningKey> {
        match self {
            Signer::Key(k) | Signer::LoggedKey(k, _) => Some(k),
            Signer::Keyless(_) => None,
        }
    }
}
