//! cosign-compatible signing: keys, simple-signing payloads, `.sig` manifests, DSSE attestations
//! in `.att` manifests, SLSA provenance, and their checks.
//!
//! Signatures are stored the way cosign's legacy (and v3 fallback) layout stores them: a manifest
//! tagged `sha256-<hex>.sig` in the image's repository, one layer per signature (formats.md §1).

pub mod attest;
pub mod cosign;
pub mod keys;
pub mod provenance;
pub mod verify;

pub use cosign::{append_signature, SignOutcome};
pub use keys::{KeySource, PublicKey, SigningKey};
pub use verify::{verify_signatures, SignatureCheck, VerifyReport};
