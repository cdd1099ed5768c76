//! cosign-compatible signing: keys, simple-signing payloads, `.sig` manifests, DSSE attestations
//! in `.att` manifests and SLSA provenance. Finding and checking evidence is [`crate::evidence`].
//!
//! Signatures are stored the way cosign's legacy (and v3 fallback) layout stores them: a manifest
//! tagged `sha256-<hex>.sig` in the image's repository, one layer per signature (formats.md §1).

pub mod attest;
pub mod cosign;
pub mod keys;
pub mod kms;
pub mod pkcs11;
pub mod provenance;
pub mod trust;

pub use cosign::{append_signature, SignOutcome};
pub use keys::{KeySource, PublicKey, SigningKey};
pub use trust::{Trust, Verifier};
