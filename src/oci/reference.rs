//! Image references: `registry/repo[:tag][@sha256:…]` and `oci:DIR[:TAG][@sha256:…]`.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::oci::types::Digest;

/// Any image cleanpipe can read or write.
#[derive(Clone, Debug, PartialEq)]
pub enum ImageRef {
    Registry(RegistryRef),
    Layout(LayoutRef),
}

/// An image in a local OCI layout.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutRef {
    pub dir: PathBuf,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// An image in a registry.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryRef {
    /// Host[:port] as written (`docker.io` for Docker Hub).
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// Parse a command-line or pipeline reference.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("oci:") {
            return LayoutRef::parse(rest).map(ImageRef::Layout);
        }
        RegistryRef::parse(s).map(ImageRef::Registry)
    }

    pub fn digest(&self) -> Option<&Digest> {
        match self {
            ImageRef::Registry(r) => r.digest.as_ref(),
            ImageRef::Layout(l) => l.digest.as_ref(),
        }
    }

    pub fn tag(&self) -> Option<&str> {
        match self {
            ImageRef::Registry(r) => r.tag.as_deref(),
            ImageRef::Layout(l) => l.tag.as_deref(),
        }
    }

    /// The same image, pinned to `digest`.
    pub fn with_digest(&self, digest: Digest) -> Self {
        let mut out = self.clone();
        match &mut out {
            ImageRef::Registry(r) => r.digest = Some(digest),
            ImageRef::Layout(l) => l.digest = Some(digest),
        }
        out
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Registry(r) => r.fmt(f),
            ImageRef::Layout(l) => l.fmt(f),
        }
    }
}

impl LayoutRef {
    fn parse(rest: &str) -> Result<Self> {
        let (path_tag, digest) = match rest.split_once('@') {
            Some((p, d)) => (p, Some(Digest::parse(d)?)),
            None => (rest, None),
        };
        // The tag is after the last ':' that follows the last '/'.
        let last_slash = path_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (dir, tag) = match path_tag[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&path_tag[..i], Some(path_tag[i + 1..].to_string()))
            }
            None => (path_tag, None),
        };
        if dir.is_empty() {
            return Err(Error::usage(format!("`oci:{rest}` names no directory"))
                .with_hint("write `oci:DIR`, `oci:DIR:TAG` or `oci:DIR@sha256:<hex>`"));
        }
        if let Some(t) = &tag {
            validate_tag(t)?;
        }
        Ok(LayoutRef {
            dir: PathBuf::from(dir),
            tag,
            digest,
        })
    }
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci:{}", self.dir.display())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl RegistryRef {
    /// Parse `registry/repo[:tag][@digest]`; a name without a registry host means Docker Hub.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::usage(format!("`{s}` is not a valid image reference: {why}"))
                .with_hint("write `registry.example/repo:tag`, `registry.example/repo@sha256:<hex>` or `oci:DIR:TAG`")
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (
                n,
                Some(Digest::parse(d).map_err(|_| bad("the digest is not `sha256:<64 hex>`"))?),
            ),
            None => (s, None),
        };
        let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&name_tag[..i], Some(name_tag[i + 1..].to_string()))
            }
            None => (name_tag, None),
        };
        if let Some(t) = &tag {
            validate_tag(t).map_err(|_| bad("the tag has characters a tag cannot have"))?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        // A host name, an IPv4 address or a bracketed IPv6 one, and an optional port.
        let valid_registry = !registry.is_empty()
            && registry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        if !valid_registry {
            return Err(bad(
                "the registry must be a host name or address with an optional `:port`",
            ));
        }
        let valid_repo = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid_repo {
            return Err(bad(
                "the repository must be lowercase letters, digits, `.`, `_`, `-` and `/`",
            ));
        }
        Ok(RegistryRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, the name cosign puts in `docker-reference`.
    pub fn repository_name(&self) -> String {
        let host = if self.registry == "docker.io" {
            "index.docker.io"
        } else {
            &self.registry
        };
        format!("{host}/{}", self.repository)
    }

    /// `registry/repository` with the registry in lowercase and Docker Hub's names and the
    /// default HTTPS port folded, so two spellings of one repository compare equal.
    pub fn comparable_name(&self) -> String {
        let host = self.registry.to_ascii_lowercase();
        let host = host.strip_suffix(":443").unwrap_or(&host);
        let hub = matches!(
            host,
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        );
        match hub {
            true if !self.repository.contains('/') => {
                format!("docker.io/library/{}", self.repository)
            }
            true => format!("docker.io/{}", self.repository),
            false => format!("{host}/{}", self.repository),
        }
    }

    /// True for registries on this machine, which cleanpipe reaches over plain HTTP.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => self.registry.split(':').next().unwrap_or(""),
        };
        crate::net::is_loopback_host(host)
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        RegistryRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to a digest, without tag.
    pub fn at_digest(&self, digest: &Digest) -> Self {
        RegistryRef {
            tag: None,
            digest: Some(digest.clone()),
            ..self.clone()
        }
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Tags: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (distribution-spec).
pub fn validate_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("`{tag}` is not a valid tag"))
            .with_hint("tags are up to 128 characters of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn parses_registry_refs() {
        let r = RegistryRef::parse("127.0.0.1:5000/acme/app:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "acme/app", Some("v1"))
        );
        assert!(r.is_loopback());
        assert!(!RegistryRef::parse("127.evil.example:5000/app")
            .unwrap()
            .is_loopback());
        assert!(RegistryRef::parse("[::1]:5000/app").unwrap().is_loopback());
        let r = RegistryRef::parse(&format!("ubuntu:22.04@{D}")).unwrap();
        assert_eq!(r.repository_name(), "index.docker.io/library/ubuntu");
        assert_eq!(r.digest.unwrap().as_str(), D);
        assert!(RegistryRef::parse("Bad/Upper").is_err());
        assert!(RegistryRef::parse("x/y@sha256:12").is_err());
    }

    #[test]
    fn parses_layout_refs() {
        let ImageRef::Layout(l) = ImageRef::parse("oci:.cleanpipe/oci:v1").unwrap() else {
            panic!()
        };
        assert_eq!(
            (l.dir.to_str().unwrap(), l.tag.as_deref()),
            (".cleanpipe/oci", Some("v1"))
        );
        let ImageRef::Layout(l) = ImageRef::parse(&format!("oci:/tmp/x@{D}")).unwrap() else {
            panic!()
        };
        assert_eq!(
            (l.dir.to_str().unwrap(), l.tag, l.digest.unwrap().as_str()),
            ("/tmp/x", None, D)
        );
        assert!(ImageRef::parse("oci:").is_err());
    }
}
