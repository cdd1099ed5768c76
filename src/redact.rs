//! Keeps secrets out of every line cleanpipe writes.
//!
//! Values that came from `${VAR}` interpolation, key passwords and registry passwords are
//! registered here; the printer and the run report pass all text through [`Redactor::apply`].

use std::sync::{Arc, RwLock};

/// A shared list of secret strings; cheap to clone.
#[derive(Clone, Default, Debug)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    /// Remember a secret. Very short values (under 4 bytes) are ignored: masking them would
    /// garble ordinary text and they protect nothing.
    pub fn add(&self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.len() < 4 {
            return;
        }
        let mut list = self.secrets.write().expect("redactor lock");
        if !list.contains(&secret) {
            list.push(secret);
            // Longest first so a secret containing another is masked whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Replace every registered secret in `text` with `***`.
    pub fn apply(&self, text: &str) -> String {
        let list = self.secrets.read().expect("redactor lock");
        let mut out = text.to_string();
        for secret in list.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_secrets_longest_first() {
        let r = Redactor::default();
        r.add("hunter2-canary");
        r.add("hunter2");
        r.add("ab");
        assert_eq!(r.apply("pw=hunter2-canary x=hunter2 ab"), "pw=*** x=*** ab");
    }
}
