//! Keys held by a token or a key service: cleanpipe asks them to sign and never sees the
//! private key. Each backend is one file and one row of [`BACKENDS`], chosen by the key's URI
//! scheme; key files and `env://` variables (keys cleanpipe holds itself) are
//! [`crate::sign::keys`].

pub mod cloudkms;
pub mod kms;
pub mod pkcs11;
pub mod vault;

use crate::error::Result;
use crate::sign::keys::PublicKey;

/// A key somewhere else that signs for us.
pub trait HeldKey: Send + Sync {
    /// ECDSA P-256 over SHA-256 of `payload`, ASN.1 DER.
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>>;
}

/// How to open a held key from its URI; `env` looks up variables (credentials, PINs).
type Open = fn(&str, &dyn Fn(&str) -> Option<String>) -> Result<(Box<dyn HeldKey>, PublicKey)>;

/// One backend: the URI prefix it answers to, how to open its keys, and how to show a URI
/// (without any secret it carries, such as a PKCS#11 PIN).
pub struct Backend {
    pub prefix: &'static str,
    pub open: Open,
    pub shown: fn(&str) -> String,
}

/// Every backend, by URI scheme. A new one is a file here and a row in this table.
pub const BACKENDS: &[Backend] = &[
    Backend {
        prefix: "pkcs11:",
        open: |uri, env| {
            let uri = pkcs11::Pkcs11Uri::parse(uri)?;
            let (key, public) = pkcs11::open(&uri, env)?;
            Ok((Box::new(key), public))
        },
        shown: |uri| match pkcs11::Pkcs11Uri::parse(uri) {
            Ok(parsed) => parsed.to_string(),
            Err(_) => "pkcs11:(unreadable URI)".to_string(),
        },
    },
    Backend {
        prefix: "awskms://",
        open: |uri, env| {
            let uri = kms::AwsKmsUri::parse(uri)?;
            let (key, public) = kms::open(&uri, env)?;
            Ok((Box::new(key), public))
        },
        shown: str::to_string,
    },
    Backend {
        prefix: "hashivault://",
        open: |uri, env| {
            let (key, public) = vault::open(uri, env)?;
            Ok((Box::new(key), public))
        },
        shown: str::to_string,
    },
    // Untested against the real services (no emulator here): see `cloudkms`.
    Backend {
        prefix: "gcpkms://",
        open: |uri, env| {
            let (key, public) = cloudkms::open(uri, env)?;
            Ok((Box::new(key), public))
        },
        shown: str::to_string,
    },
    Backend {
        prefix: "azurekms://",
        open: |uri, env| {
            let (key, public) = cloudkms::open(uri, env)?;
            Ok((Box::new(key), public))
        },
        shown: str::to_string,
    },
];

/// The backend a key URI names, if it names one.
pub fn find(uri: &str) -> Option<&'static Backend> {
    BACKENDS.iter().find(|b| uri.starts_with(b.prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_finds_its_row_and_files_find_none() {
        for b in BACKENDS {
            let uri = format!("{}x", b.prefix);
            assert_eq!(find(&uri).map(|f| f.prefix), Some(b.prefix));
        }
        assert!(find("cosign.key").is_none());
        assert!(find("env://KEY").is_none());
        assert!(find("./pkcs11:odd-file-name").is_none());
        // A PIN never shows.
        let shown = (find("pkcs11:token=t;object=k?pin-value=1234")
            .unwrap()
            .shown)("pkcs11:token=t;object=k?pin-value=1234");
        assert!(!shown.contains("1234"), "{shown}");
    }
}
