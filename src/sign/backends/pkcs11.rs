//! Keys that never leave their token: PKCS#11 (RFC 7512 `pkcs11:` URIs, as cosign writes them),
//! e.g. a YubiHSM, a cloud HSM's PKCS#11 library, or SoftHSM2. The private key stays in the
//! token; cleanpipe hashes the payload (SHA-256) and the token signs the digest (`CKM_ECDSA`),
//! so the signature is the same ECDSA P-256 one a cosign key file makes.
//!
//! URI: `pkcs11:token=LABEL;object=LABEL;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234`
//! (`slot-id=N` instead of `token=`; `pin-source=FILE` instead of `pin-value`). Like cosign, the
//! module path and PIN may also come from `COSIGN_PKCS11_MODULE_PATH` and `COSIGN_PKCS11_PIN`.

use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sign::keys::PublicKey;

/// A parsed `pkcs11:` URI. The PIN is kept out of `Debug` and `Display`.
#[derive(Clone, PartialEq)]
pub struct Pkcs11Uri {
    pub token: Option<String>,
    pub slot_id: Option<u64>,
    pub object: Option<String>,
    pub id: Option<Vec<u8>>,
    pub module_path: Option<String>,
    pin_value: Option<Zeroizing<String>>,
    pub pin_source: Option<String>,
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Uri({self})")
    }
}

/// The URI without its PIN, for messages.
impl std::fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(t) = &self.token {
            parts.push(format!("token={t}"));
        }
        if let Some(s) = self.slot_id {
            parts.push(format!("slot-id={s}"));
        }
        if let Some(o) = &self.object {
            parts.push(format!("object={o}"));
        }
        if let Some(id) = &self.id {
            parts.push(format!(
                "id={}",
                id.iter().map(|b| format!("%{b:02x}")).collect::<String>()
            ));
        }
        write!(f, "pkcs11:{}", parts.join(";"))
    }
}

impl Pkcs11Uri {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::usage(format!("`{}` is not a usable pkcs11: URI: {why}", shown(text)))
                .with_hint("write `pkcs11:token=LABEL;object=KEY?module-path=/path/to/module.so&pin-value=PIN` (RFC 7512)")
        };
        let rest = text
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad("it does not start with `pkcs11:`".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Pkcs11Uri {
            token: None,
            slot_id: None,
            object: None,
            id: None,
            module_path: None,
            pin_value: None,
            pin_source: None,
        };
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| bad(format!("`{attr}` is not `name=value`")))?;
            let v = percent_decode(v).ok_or_else(|| bad(format!("`{k}` is badly %-encoded")))?;
            let text =
                || String::from_utf8(v.clone()).map_err(|_| bad(format!("`{k}` is not UTF-8")));
            match k {
                "token" => uri.token = Some(text()?),
                "object" => uri.object = Some(text()?),
                "id" => uri.id = Some(v),
                "slot-id" => {
                    uri.slot_id = Some(
                        text()?
                            .parse()
                            .map_err(|_| bad("`slot-id` is not a number".into()))?,
                    )
                }
                // Narrowing attributes cleanpipe does not need; RFC 7512 allows ignoring none,
                // so they are refused rather than silently widened.
                other => return Err(bad(format!("the attribute `{other}` is not supported"))),
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| bad(format!("`{}` is not `name=value`", k_only(attr))))?;
            let v = percent_decode(v).ok_or_else(|| bad(format!("`{k}` is badly %-encoded")))?;
            let v = String::from_utf8(v).map_err(|_| bad(format!("`{k}` is not UTF-8")))?;
            match k {
                "module-path" => uri.module_path = Some(v),
                "pin-value" => uri.pin_value = Some(Zeroizing::new(v)),
                "pin-source" => uri.pin_source = Some(v),
                other => {
                    return Err(bad(format!(
                        "the query attribute `{other}` is not supported"
                    )))
                }
            }
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(bad("it names no key (`object=` or `id=`)".into()));
        }
        Ok(uri)
    }

    /// The PIN value the URI carries, if any (to register with the redactor).
    pub fn pin_value(&self) -> Option<&str> {
        self.pin_value.as_deref().map(String::as_str)
    }
}

/// Register the PIN a `pkcs11:` key source carries with `redactor`, so no message shows it.
pub fn register_pin(source: &crate::sign::KeySource, redactor: &crate::redact::Redactor) {
    if let crate::sign::KeySource::Held(text) = source {
        if !text.starts_with("pkcs11:") {
            return;
        }
        if let Ok(uri) = Pkcs11Uri::parse(text) {
            if let Some(pin) = uri.pin_value() {
                redactor.add(pin);
            }
        }
        // The raw text too: it holds the PIN where a message might quote it whole.
        redactor.add(text.clone());
    }
}

fn k_only(attr: &str) -> &str {
    attr.split('=').next().unwrap_or(attr)
}

/// `text` for messages about a URI that failed to parse: the path attributes that name a key
/// with their values, every other attribute by name only, and no query (where PINs live).
fn shown(text: &str) -> String {
    let rest = text.strip_prefix("pkcs11:").unwrap_or(text);
    let path = rest.split('?').next().unwrap_or(rest);
    let attrs: Vec<String> = path
        .split(';')
        .filter(|a| !a.is_empty())
        .map(|a| match a.split_once('=') {
            Some((k @ ("token" | "object" | "id" | "slot-id"), v)) => format!("{k}={v}"),
            Some((k, _)) => format!("{k}=***"),
            None => "***".to_string(),
        })
        .collect();
    let query = if rest.contains('?') { "?…" } else { "" };
    format!("pkcs11:{}{query}", attrs.join(";"))
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// An ECDSA P-256 private key in a PKCS#11 token, with a logged-in session.
pub struct TokenKey {
    // The session borrows nothing, but the library must stay loaded while it is open.
    session: Mutex<Session>,
    key: ObjectHandle,
    _context: Pkcs11,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey")
    }
}

/// The P-256 curve's OID as PKCS#11 `CKA_EC_PARAMS` holds it (DER).
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Open the key `uri` names: load the module, find the token, log in, find the private key and
/// its public half. `env` looks up `COSIGN_PKCS11_MODULE_PATH` / `COSIGN_PKCS11_PIN`.
pub fn open(
    uri: &Pkcs11Uri,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(TokenKey, PublicKey)> {
    let fail = |what: &str, e: crate::error::Cause| {
        Error::usage(format!("{uri}: {what}"))
            .caused_by(e)
            .with_hint("check the token label, key label or id, the module path and the PIN")
    };
    let module = uri
        .module_path
        .clone()
        .or_else(|| env("COSIGN_PKCS11_MODULE_PATH"))
        .ok_or_else(|| {
            Error::usage(format!("{uri}: no PKCS#11 module given")).with_hint(
                "add `?module-path=/path/to/module.so` to the URI or set COSIGN_PKCS11_MODULE_PATH",
            )
        })?;
    let pin: Zeroizing<String> = match (&uri.pin_value, &uri.pin_source) {
        (Some(p), _) => p.clone(),
        (None, Some(file)) => {
            let pin = Zeroizing::new(
                std::fs::read_to_string(file)
                    .map_err(|e| fail(&format!("cannot read the pin-source `{file}`"), e.into()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            );
            crate::redact::Redactor::default().add(pin.as_str());
            pin
        }
        (None, None) => {
            let pin = crate::redact::secret_env(env, "COSIGN_PKCS11_PIN").ok_or_else(|| {
                Error::usage(format!("{uri}: no PIN given")).with_hint(
                    "add `pin-value=` or `pin-source=FILE` to the URI, or set COSIGN_PKCS11_PIN",
                )
            })?;
            Zeroizing::new(pin.expose().to_string())
        }
    };
    let context = Pkcs11::new(&module).map_err(|e| {
        Error::usage(format!("cannot load the PKCS#11 module `{module}`"))
            .caused_by(e)
            .with_hint("install the token's PKCS#11 library and give its path")
    })?;
    context
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| fail("initializing the module failed", e.into()))?;
    let slots = context
        .get_slots_with_initialized_token()
        .map_err(|e| fail("listing the tokens failed", e.into()))?;
    let mut chosen = None;
    for slot in slots {
        let info = context
            .get_token_info(slot)
            .map_err(|e| fail("reading a token failed", e.into()))?;
        let by_label = uri
            .token
            .as_deref()
            .is_none_or(|t| info.label().trim() == t);
        let by_slot = uri.slot_id.is_none_or(|s| slot.id() == s);
        if by_label && by_slot {
            chosen = Some(slot);
            break;
        }
    }
    let slot = chosen.ok_or_else(|| {
        Error::usage(format!("{uri}: no such token in `{module}`"))
            .with_hint("list the tokens with `pkcs11-tool --module MODULE --list-tokens`")
    })?;
    let session = context
        .open_ro_session(slot)
        .map_err(|e| fail("opening a session failed", e.into()))?;
    session
        .login(UserType::User, Some(&AuthPin::new(pin.as_str().into())))
        .map_err(|e| fail("login failed (is the PIN right?)", e.into()))?;
    let find = |class: ObjectClass| -> Result<Option<ObjectHandle>> {
        let mut template = vec![Attribute::Class(class), Attribute::KeyType(KeyType::EC)];
        if let Some(label) = &uri.object {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &uri.id {
            template.push(Attribute::Id(id.clone()));
        }
        let found = session
            .find_objects(&template)
            .map_err(|e| fail("searching the token failed", e.into()))?;
        if found.len() > 1 {
            return Err(Error::usage(format!(
                "{uri}: {} keys match; name one by `object=` and `id=`",
                found.len()
            )));
        }
        Ok(found.first().copied())
    };
    let key = find(ObjectClass::PRIVATE_KEY)?
        .ok_or_else(|| Error::usage(format!("{uri}: no EC private key with that label or id")))?;
    let public_handle = find(ObjectClass::PUBLIC_KEY)?.ok_or_else(|| {
        Error::usage(format!(
            "{uri}: the token holds no public key beside the private one"
        ))
        .with_hint("cleanpipe reads the public half from the token (CKO_PUBLIC_KEY with the same label/id)")
    })?;
    let attributes = session
        .get_attributes(
            public_handle,
            &[AttributeType::EcParams, AttributeType::EcPoint],
        )
        .map_err(|e| fail("reading the public key failed", e.into()))?;
    let (mut params, mut point) = (None, None);
    for a in attributes {
        match a {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    if params.as_deref() != Some(P256_PARAMS) {
        return Err(Error::usage(format!(
            "{uri}: only ECDSA P-256 keys (cosign's default) are supported"
        )));
    }
    let point = point
        .and_then(|p| unwrap_octet_string(&p))
        .filter(|p| p.len() == 65 && p[0] == 4)
        .ok_or_else(|| Error::usage(format!("{uri}: the public key's EC point is not readable")))?;
    let public = PublicKey::from_pem(spki_pem(&point).as_bytes(), &uri.to_string())?;
    let token = TokenKey {
        session: Mutex::new(session),
        key,
        _context: context,
    };
    // The public object is found by label/id like the private one; prove they are a pair before
    // anyone is told to trust this public key.
    let probe = b"cleanpipe: is this public key the private key's pair?";
    let signature = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(token.sign(probe)?)
    };
    if !public.verify_base64(&signature, probe) {
        return Err(Error::usage(format!(
            "{uri}: the token's public key with that label/id is not the private key's pair"
        ))
        .with_hint("give the key pair one label and id, and remove stray public objects"));
    }
    Ok((token, public))
}

impl TokenKey {
    /// ECDSA P-256 over SHA-256 of `payload`, ASN.1 DER (what cosign writes).
    pub fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let digest = sha2::Sha256::digest(payload);
        let raw = self
            .session
            .lock()
            .map_err(|_| Error::environment("the PKCS#11 session is unusable"))?
            .sign(&Mechanism::Ecdsa, self.key, &digest)
            .map_err(|e| Error::environment("the token refused to sign").caused_by(e))?;
        let signature = p256::ecdsa::Signature::from_slice(&raw).map_err(|e| {
            Error::environment("the token's signature is not P-256 r||s").caused_by(e)
        })?;
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// CKA_EC_POINT is the point wrapped in a DER OCTET STRING (some modules give it bare).
fn unwrap_octet_string(bytes: &[u8]) -> Option<Vec<u8>> {
    match bytes {
        [0x04, 65, rest @ ..] if rest.len() == 65 => Some(rest.to_vec()),
        [0x04, ..] if bytes.len() == 65 => Some(bytes.to_vec()),
        _ => None,
    }
}

/// The PEM SubjectPublicKeyInfo of an uncompressed P-256 point.
fn spki_pem(point: &[u8]) -> String {
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) point }
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    ];
    der.extend_from_slice(P256_PARAMS);
    der.extend_from_slice(&[0x03, 0x42, 0x00]);
    der.extend_from_slice(point);
    crate::sign::keys::public_key_pem(&der)
}

impl crate::sign::backends::HeldKey for TokenKey {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        TokenKey::sign(self, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_and_never_show_the_pin() {
        let uri = Pkcs11Uri::parse(
            "pkcs11:token=ci;object=release%20key;id=%01%a0?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=s3cret",
        )
        .unwrap();
        assert_eq!(uri.token.as_deref(), Some("ci"));
        assert_eq!(uri.object.as_deref(), Some("release key"));
        assert_eq!(uri.id.as_deref(), Some(&[1u8, 0xa0][..]));
        assert_eq!(uri.pin_value(), Some("s3cret"));
        assert!(!format!("{uri} {uri:?}").contains("s3cret"));
        for bad in [
            "pkcs11:token=ci",
            "pkcs11:object=k;serial=7",
            "pkcs11:object=k%zz",
            "pkcs11:object=k?pin-value=s3cret&color=red",
            "pkcs11:object=k?pin-value=1111&pin-value=s3cret&bogus=1",
            "pkcs11:object=k;pin-value=s3cret",
            "pkcs11:object=k?PIN-VALUE=s3cret",
        ] {
            let err = Pkcs11Uri::parse(bad).unwrap_err();
            assert!(!err.to_string().contains("s3cret"), "{err}");
            assert_eq!(err.exit_code(), crate::ExitCode::Usage, "{bad}");
        }
    }
}
