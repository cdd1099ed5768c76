//! What a verifier trusts: public keys, any one of which may have signed, and keyless
//! identities (certificate identity and issuer under a trusted root), so that `verify`, the
//! verify-base gate and the policy file all hand the evidence checks one type.

use crate::error::{Error, Result};
use crate::sign::identity::KeylessTrust;
use crate::sign::keys::PublicKey;

/// Something signatures are checked against: one key, or a trust set of them.
pub trait Verifier {
    /// The trusted key whose signature over `payload` `signature_b64` is, if any.
    fn key_for(&self, signature_b64: &str, payload: &[u8]) -> Option<&PublicKey>;
    /// For messages: `cosign.pub`, or `a.pub or b.pub`.
    fn describe(&self) -> String;
}

impl Verifier for PublicKey {
    fn key_for(&self, signature_b64: &str, payload: &[u8]) -> Option<&PublicKey> {
        self.verify_base64(signature_b64, payload).then_some(self)
    }

    fn describe(&self) -> String {
        self.name().to_string()
    }
}

/// The keys and identities a verification trusts; a signature by any one of them counts.
#[derive(Clone, Debug)]
pub struct Trust {
    keys: Vec<PublicKey>,
    keyless: Option<KeylessTrust>,
    key_log: Option<KeyLog>,
}

/// The trusted root key-signed evidence must be logged under (cosign's default with a key):
/// set, a key signature counts only as a bundle whose log entry verifies against it.
#[derive(Clone)]
pub struct KeyLog {
    pub root: sigstore_verify::trust_root::TrustedRoot,
    pub source: String,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyLog({})", self.source)
    }
}

impl Trust {
    /// A trust set of `keys`; at least one (trusting nobody would make every check fail for a
    /// reason no message could explain).
    pub fn new(keys: Vec<PublicKey>) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::usage("no trusted key was given")
                .with_hint("give `--key FILE`, or `trust.keys` in the policy file"));
        }
        Ok(Trust {
            keys,
            keyless: None,
            key_log: None,
        })
    }

    /// A trust set of `keys` and keyless identities; at least one of either.
    pub fn with_keyless(keys: Vec<PublicKey>, keyless: Option<KeylessTrust>) -> Result<Self> {
        if keys.is_empty() && keyless.is_none() {
            return Err(Error::usage("no trusted key or identity was given").with_hint(
                "give `--key FILE`, or `--certificate-identity` with `--certificate-oidc-issuer`, or `trust.keys`/`trust.identities` in the policy file",
            ));
        }
        Ok(Trust {
            keys,
            keyless,
            key_log: None,
        })
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// This trust plus `keyless`'s identities. Identities come from one place (a policy file
    /// or the command line): mixing them would let one side's root or SCT setting loosen the
    /// other's.
    pub fn and_keyless(mut self, keyless: KeylessTrust) -> Result<Self> {
        if self.keyless.is_some() {
            return Err(Error::usage(
                "identities are given both in the policy file and on the command line",
            )
            .with_hint("list every trusted identity in the policy file's `trust.identities`"));
        }
        self.keyless = Some(keyless);
        Ok(self)
    }

    /// Require key signatures to be logged under `log`'s root.
    pub fn with_key_log(mut self, log: KeyLog) -> Self {
        self.key_log = Some(log);
        self
    }

    /// The root key signatures must be logged under, when one is required.
    pub fn key_log(&self) -> Option<&KeyLog> {
        self.key_log.as_ref()
    }

    /// The keyless identities and their root, when any are trusted.
    pub fn keyless(&self) -> Option<&KeylessTrust> {
        self.keyless.as_ref()
    }

    /// Add `key` unless a key with the same fingerprint is already trusted.
    pub fn add(&mut self, key: PublicKey) {
        if !self
            .keys
            .iter()
            .any(|k| k.fingerprint() == key.fingerprint())
        {
            self.keys.push(key);
        }
    }
}

impl From<PublicKey> for Trust {
    fn from(key: PublicKey) -> Self {
        Trust {
            keys: vec![key],
            keyless: None,
            key_log: None,
        }
    }
}

impl Verifier for Trust {
    fn key_for(&self, signature_b64: &str, payload: &[u8]) -> Option<&PublicKey> {
        self.keys
            .iter()
            .find(|k| k.verify_base64(signature_b64, payload))
    }

    fn describe(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.name().to_string())
            .chain(self.keyless.iter().map(KeylessTrust::describe))
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::keys::{generate, SigningKey};
    use crate::sign::KeySource;

    fn key(name: &str) -> SigningKey {
        let (private, _) = generate(b"pw").unwrap();
        SigningKey::load(private.as_bytes(), &KeySource::parse(name), &|| {
            Ok(zeroize::Zeroizing::new("pw".to_string()))
        })
        .unwrap()
    }

    #[test]
    fn any_trusted_key_verifies_and_is_named() {
        let (a, b, c) = (key("a.key"), key("b.key"), key("c.key"));
        let mut trust = Trust::from(a.public_key().clone());
        trust.add(b.public_key().clone());
        trust.add(b.public_key().clone());
        assert_eq!(trust.keys().len(), 2);
        let payload = b"payload";
        let by_b = b.sign_base64(payload).unwrap();
        let found = trust.key_for(&by_b, payload).unwrap();
        assert_eq!(found.fingerprint(), b.public_key().fingerprint());
        let by_c = c.sign_base64(payload).unwrap();
        assert!(trust.key_for(&by_c, payload).is_none());
        assert!(trust.key_for(&by_b, b"another payload").is_none());
        assert!(Trust::new(vec![]).is_err());
    }
}
