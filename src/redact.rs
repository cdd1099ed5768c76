//! Keeps secrets out of every line cleanpipe writes.
//!
//! What is a secret (docs/secrets.md): `${VAR}` values the loader classifies as secret (see
//! `pipeline::template`), webhook headers and HMAC secrets (literal or interpolated), key
//! passwords, registry passwords and tokens (flags, `~/.docker/config.json`, credential
//! helpers). Ordinary values (a base image, a tag) are never registered, so they are never
//! masked.
//!
//! How text is masked: every output path (printer, run report, files under `outputs`, webhook
//! errors) passes through [`Redactor::apply`] *before* anything is cut short. A value of 8
//! bytes or more is masked wherever it appears; a shorter one (4–7 bytes) only where it stands
//! as a whole token, so a short secret does not mangle the words around it; values under 4
//! bytes are ignored (masking them would garble ordinary text and they protect nothing). Each
//! secret also registers the forms an HTTP library prints it in (percent-encoded as in a URL's
//! userinfo, path or query, and percent-decoded), and a secret that is a URL registers its
//! parts (userinfo password, a lone userinfo user, query values).
//!
//! Credentials from the environment (a key backend's token, secret key, PIN or password, a CI's
//! OIDC request token) are read through [`secret_env`] only, which registers a value before
//! returning it: a credential is a secret from the moment it is read, before any request that
//! could echo it.

use std::sync::{Arc, LazyLock, RwLock};

/// Characters of a server's error answer kept in a message, after masking.
pub const SHOWN_BODY: usize = 300;
/// Values 8 bytes and longer are masked anywhere; shorter ones as whole tokens only.
const SUBSTRING_MIN: usize = 8;
/// Shorter values are not registered at all.
const MIN: usize = 4;
/// Query parameters of a pipeline's literal URLs whose values are secret.
const SECRET_QUERY_NAMES: &[&str] = &[
    "token", "key", "sig", "secret", "auth", "pass", "pwd", "code", "cred", "session",
];

/// The process's one list of secrets. Every [`Redactor`] is a handle to it, so a lower layer
/// can mask text before cutting it short, and a credential found deep down (a credential
/// helper's answer, via [`Secret::new`]) needs no plumbing to stay out of every output.
static GLOBAL: LazyLock<Arc<RwLock<Vec<String>>>> = LazyLock::new(Arc::default);

/// A secret value that registers itself for masking when created, and never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        Redactor::default().add(value.clone());
        Secret(value)
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Read the credential-bearing environment variable `name` through `env` (the one way a key
/// backend reads a credential): a value that is set and not empty is registered with the
/// process's redactor, in every form it is printed in, before it is returned.
pub fn secret_env(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<Secret> {
    env(name).filter(|v| !v.is_empty()).map(Secret::new)
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A handle to the process's list of secrets; cheap to clone.
#[derive(Clone, Debug)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor {
            secrets: GLOBAL.clone(),
        }
    }
}

impl Redactor {
    /// Remember a secret and the forms it is printed in (see the module docs).
    pub fn add(&self, secret: impl Into<String>) {
        let secret = secret.into();
        let mut forms = vec![secret.clone()];
        forms.extend(url_parts(&secret));
        let mut all = Vec::new();
        for f in forms {
            all.extend(encoded_forms(&f));
            all.push(f);
        }
        let mut list = self.secrets.write().expect("redactor lock");
        for f in all {
            if f.len() >= MIN && !list.contains(&f) {
                list.push(f);
            }
        }
        // Longest first so a secret containing another is masked whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Remember the secret parts of a webhook URL (`push.register`, `verify --notify`): the
    /// userinfo, query values whose name says they are secret (`token`, `sig`, `key`, …, so
    /// `?format=json` does not mask every `json` in the output), and the path when it is long
    /// enough to carry a token (a Slack-style URL *is* its credential), so the URL as a whole
    /// is masked too. Such URLs are printed as scheme and host only
    /// ([`crate::net::shown_url`]); this keeps an accidental print of the whole URL masked.
    pub fn add_url_parts(&self, url: &str) {
        let Ok(parsed) = reqwest::Url::parse(url.trim()) else {
            // Not a URL: nothing to take apart, and it may still be one to someone else.
            self.add(url.trim().to_string());
            return;
        };
        let path = parsed.path();
        if path.len() >= SUBSTRING_MIN {
            self.add(path.to_string());
            self.add(url.trim().to_string());
            self.add(parsed.as_str().to_string());
        }
        match parsed.password() {
            Some(p) => self.add(percent_decode(p)),
            None if !parsed.username().is_empty() => self.add(percent_decode(parsed.username())),
            None => {}
        }
        for (k, v) in parsed.query_pairs() {
            let k = k.to_ascii_lowercase();
            if SECRET_QUERY_NAMES.iter().any(|n| k.contains(n)) {
                self.add(v.into_owned());
            }
        }
    }

    /// Replace every registered secret in `text` with `***`.
    pub fn apply(&self, text: &str) -> String {
        let list = self.secrets.read().expect("redactor lock");
        let mut out = text.to_string();
        for secret in list.iter() {
            if !out.contains(secret.as_str()) {
                continue;
            }
            out = if secret.len() >= SUBSTRING_MIN {
                out.replace(secret.as_str(), "***")
            } else {
                replace_tokens(&out, secret)
            };
        }
        out
    }

    /// Mask, then cut to [`SHOWN_BODY`] characters: how much of a server's error answer (a
    /// registry's, a webhook receiver's) a message quotes.
    pub fn apply_to_shown_body(&self, text: &str) -> String {
        self.apply_truncated(text, SHOWN_BODY)
    }

    /// Mask, then cut to at most `max` characters: a secret straddling the cut is masked whole
    /// instead of leaking its prefix.
    pub fn apply_truncated(&self, text: &str, max: usize) -> String {
        let masked = self.apply(text);
        if masked.chars().count() <= max {
            return masked;
        }
        let mut cut: String = masked.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

/// Whether `c` continues a token (so a short secret next to it is part of a longer word).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Replace `secret` where it is a whole token: not preceded or followed by a word character.
fn replace_tokens(text: &str, secret: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(secret) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + secret.len()..].chars().next();
        let starts_word = secret.chars().next().is_some_and(is_word);
        let ends_word = secret.chars().next_back().is_some_and(is_word);
        let inside_word =
            starts_word && before.is_some_and(is_word) || ends_word && after.is_some_and(is_word);
        out.push_str(&rest[..i]);
        out.push_str(if inside_word { secret } else { "***" });
        rest = &rest[i + secret.len()..];
    }
    out.push_str(rest);
    out
}

/// The secret parts of a URL-shaped secret: the userinfo password (or a lone user, often a
/// token), and every query value, each as written and decoded.
fn url_parts(secret: &str) -> Vec<String> {
    let Some(url) = secret
        .contains("://")
        .then(|| reqwest::Url::parse(secret.trim()).ok())
        .flatten()
    else {
        return vec![];
    };
    let mut parts = vec![];
    match url.password() {
        Some(p) => parts.push(p.to_string()),
        None if !url.username().is_empty() => parts.push(url.username().to_string()),
        None => {}
    }
    if let Some(q) = url.query() {
        for pair in q.split('&') {
            if let Some((_, v)) = pair.split_once('=') {
                parts.push(v.to_string());
            }
        }
    }
    for (_, v) in url.query_pairs() {
        parts.push(v.into_owned());
    }
    let decoded: Vec<String> = parts.iter().map(|p| percent_decode(p)).collect();
    parts.extend(decoded);
    parts
}

/// The forms `value` takes when put into a URL by the `url` crate (userinfo, path segment,
/// query value) or fully percent-encoded, and its percent-decoded form.
fn encoded_forms(value: &str) -> Vec<String> {
    let mut forms = vec![];
    if let Ok(mut u) = reqwest::Url::parse("http://x.invalid/") {
        if u.set_password(Some(value)).is_ok() {
            if let Some(p) = u.password() {
                forms.push(p.to_string());
            }
        }
        if u.set_username(value).is_ok() {
            forms.push(u.username().to_string());
        }
    }
    if let Ok(mut u) = reqwest::Url::parse("http://x.invalid/") {
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.clear().push(value);
        }
        forms.push(u.path().trim_start_matches('/').to_string());
        u.query_pairs_mut().clear().append_pair("k", value);
        if let Some(q) = u.query() {
            forms.push(q.trim_start_matches("k=").to_string());
        }
    }
    let full: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    forms.push(lower_escapes(&full));
    forms.push(full);
    forms.push(percent_decode(value));
    forms.retain(|f| f != value);
    forms
}

/// Lower-case hex in `%XX` escapes (some printers use it).
fn lower_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for h in chars.by_ref().take(2) {
                out.push(h.to_ascii_lowercase());
            }
        }
    }
    out
}

/// `%XX` escapes decoded (`+` left alone); invalid escapes kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_secrets_longest_first() {
        let r = Redactor::default();
        r.add("hunter2-canary");
        r.add("hunter2-canar");
        r.add("ab");
        assert_eq!(
            r.apply("pw=hunter2-canary x=hunter2-canar ab"),
            "pw=*** x=*** ab"
        );
    }

    #[test]
    fn short_secrets_are_masked_as_whole_tokens_only() {
        let r = Redactor::default();
        r.add("k3y9");
        assert_eq!(
            r.apply("token k3y9, verify-k3y9 and k3y9x stay"),
            "token ***, verify-*** and k3y9x stay"
        );
    }

    #[test]
    fn url_secrets_register_their_parts_and_encodings() {
        let r = Redactor::default();
        r.add("https://bot:p@ss w0rd!@hooks.example/x?token=tok en&x=1");
        let shown = "error sending request for url (https://bot:p%40ss%20w0rd!@hooks.example/x?token=tok+en&x=1) and tok%20en and p@ss w0rd!";
        let out = r.apply(shown);
        for leak in ["p%40ss", "w0rd", "tok+en", "tok%20en", "p@ss"] {
            assert!(!out.contains(leak), "{leak} in {out}");
        }
        assert!(out.contains("hooks.example"), "{out}");
    }

    #[test]
    fn literal_urls_register_only_their_secret_parts() {
        let r = Redactor::default();
        r.add_url_parts("https://ops:lit-pass-c4n4@h.example/x?format=json&token=lit-tok-c4n4");
        assert_eq!(
            r.apply("lit-pass-c4n4 lit-tok-c4n4 report.json h.example"),
            "*** *** report.json h.example"
        );
    }

    #[test]
    fn webhook_urls_whose_path_is_the_credential_are_masked_whole() {
        let r = Redactor::default();
        let url = "https://hooks.example/services/T0/B0/slack-canary-77aa";
        r.add_url_parts(url);
        let out = r.apply(&format!(
            "sent to {url} and /services/T0/B0/slack-canary-77aa"
        ));
        assert!(!out.contains("slack-canary"), "{out}");
        // A short path carries no token: left readable.
        r.add_url_parts("https://deploy.example/api?format=json");
        assert_eq!(r.apply("POST /api"), "POST /api");
    }

    #[test]
    fn environment_credentials_are_registered_when_read() {
        let env = |k: &str| match k {
            "VAULT_TOKEN" => Some("env-canary-vault-41c2".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert!(secret_env(&env, "EMPTY").is_none());
        assert!(secret_env(&env, "UNSET").is_none());
        let token = secret_env(&env, "VAULT_TOKEN").unwrap();
        assert_eq!(token.expose(), "env-canary-vault-41c2");
        assert_eq!(
            Redactor::default().apply("X-Vault-Token: env-canary-vault-41c2"),
            "X-Vault-Token: ***"
        );
    }

    #[test]
    fn truncation_happens_after_masking() {
        let r = Redactor::default();
        let secret = "straddling-canary-0123456789";
        r.add(secret);
        let text = format!("{}{secret}", "x".repeat(290));
        let out = r.apply_truncated(&text, 300);
        assert!(!out.contains("straddl"), "{out}");
        assert!(out.contains("***"));
    }

    #[test]
    fn secret_type_registers_itself() {
        let s = Secret::new("global-canary-5e1f");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(
            Redactor::default().apply("x global-canary-5e1f y"),
            "x *** y"
        );
        assert_eq!(s.expose(), "global-canary-5e1f");
    }
}
