//! Evidence about an image: signatures and attestations of one subject digest, wherever and
//! however they are stored.
//!
//! - **Encodings:** cosign's simple-signing payload with a detached signature (legacy `.sig`),
//!   a DSSE envelope (legacy `.att`), and a Sigstore bundle v0.3 holding a DSSE envelope
//!   ([`bundle`]; cosign v3's default, for signatures and attestations alike).
//! - **Places:** the legacy tags `sha256-<hex>.sig`/`.att`, and OCI referrers (the registry's
//!   referrers API, its fallback tag `sha256-<hex>`, or a layout's untagged manifests; see
//!   [`crate::oci::store::Store::referrers`]).
//!
//! [`discover`] finds every piece for a digest in every place, once; [`signatures`] checks the
//! signatures among them and `policy` the attestations; [`attach_bundle`] stores a bundle as a
//! referrer. Each piece carries its [`Source`], so a verdict says where its evidence came from.
//! Fail closed: a place that holds something unreadable is reported as such and verifies
//! nothing.

pub mod bundle;
pub mod copy;
pub mod keyless;
pub mod signatures;
#[cfg(test)]
mod verify_tests;

use serde::Serialize;

use crate::error::Result;
use crate::oci::store::{ReferrersPlace, Resolved, Store};
use crate::oci::types::{
    Descriptor, Digest, Manifest, ANNOTATION_CREATED, EMPTY_JSON, MEDIA_OCI_EMPTY,
    MEDIA_OCI_MANIFEST,
};
use crate::sign::attest::SIGNER_ANNOTATION;

pub use signatures::{check_signatures, verify_signatures, SignatureCheck, VerifyReport};

/// Where one piece of evidence was found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "layout", rename_all = "kebab-case")]
pub enum Source {
    /// A layer of cosign's legacy `.sig` or `.att` manifest.
    LegacyTag { tag: String, layer: usize },
    /// A Sigstore bundle in a referrer manifest.
    Referrer {
        manifest: Digest,
        #[serde(rename = "listed_in")]
        place: ReferrersPlace,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::LegacyTag { tag, layer } => write!(f, "legacy tag `{tag}`, layer {layer}"),
            Source::Referrer { manifest, place } => {
                write!(f, "bundle referrer {manifest}, listed by {place}")
            }
        }
    }
}

/// A referrer that holds (or claims to hold) a Sigstore bundle about the subject.
#[derive(Clone, Debug)]
pub struct BundleRef {
    pub source: Source,
    /// The predicate type the referrer's annotations claim (unsigned; the statement decides).
    pub claimed_predicate: Option<String>,
    /// The bundle layer, or why this referrer cannot be used.
    pub layer: std::result::Result<Descriptor, String>,
}

impl BundleRef {
    /// The bundle this referrer holds, read (digest-checked) and parsed, or why it cannot be.
    pub async fn read(&self, store: &Store) -> std::result::Result<bundle::Bundle, String> {
        let layer = self.layer.as_ref().map_err(Clone::clone)?;
        let bytes = store
            .read_blob(&layer.digest)
            .await
            .map_err(|e| e.to_string())?;
        bundle::parse(&bytes)
    }
}

/// A legacy `.sig`/`.att` manifest: absent, found, or present but unreadable.
#[derive(Clone, Debug)]
pub enum Legacy {
    Absent,
    Found(Resolved),
    Unreadable(String),
}

/// Everything found about one digest.
#[derive(Clone, Debug)]
pub struct Discovered {
    pub subject: Digest,
    pub signature_tag: Legacy,
    pub attestation_tag: Legacy,
    /// Where referrers were listed, or why the list cannot be used.
    pub referrers: std::result::Result<ReferrersPlace, String>,
    pub bundles: Vec<BundleRef>,
}

/// Find the evidence about `digest` in `store`: both legacy tags and every referrer that
/// holds a Sigstore bundle. Referrers of other artifact types (SBOM files, other signature
/// schemes) are not evidence cleanpipe reads and are left out; a referrer whose type is not
/// declared (some writers leave `artifactType` empty in the fallback index) is read to decide.
pub async fn discover(store: &Store, digest: &Digest) -> Result<Discovered> {
    // Three independent lookups: asked at once, so a registry's round trips overlap.
    let (sig_tag, att_tag) = (digest.cosign_tag("sig"), digest.cosign_tag("att"));
    let (signature_tag, attestation_tag, referrers) = tokio::join!(
        legacy(store, &sig_tag),
        legacy(store, &att_tag),
        store.referrers(digest)
    );
    let mut found = Discovered {
        subject: digest.clone(),
        signature_tag: signature_tag?,
        attestation_tag: attestation_tag?,
        referrers: Err(String::new()),
        bundles: vec![],
    };
    let listed = match referrers? {
        Ok(listed) => listed,
        Err(why) => {
            found.referrers = Err(why);
            return Ok(found);
        }
    };
    for entry in &listed.entries {
        let declared = entry.artifact_type.as_deref().unwrap_or("");
        let undeclared = declared.is_empty() || declared == MEDIA_OCI_EMPTY;
        if !undeclared && !declared.starts_with(bundle::BUNDLE_MEDIA_PREFIX) {
            continue;
        }
        let source = Source::Referrer {
            manifest: entry.digest.clone(),
            place: listed.place.clone(),
        };
        // The list's copy of the annotations may be missing (cosign v3's fallback entries carry
        // none) or differ; the manifest's own, content-addressed, decide.
        let mut claimed_predicate = entry
            .annotations
            .get(bundle::ANNOTATION_PREDICATE_TYPE)
            .cloned();
        let layer = match bundle_layer(store, entry, digest).await? {
            Listed::NotABundle => continue,
            Listed::Bundle(layer, claimed) => {
                claimed_predicate = claimed;
                Ok(layer)
            }
            Listed::Unusable(why, claimed) => {
                if claimed.is_some() {
                    claimed_predicate = claimed;
                }
                Err(why)
            }
            Listed::OtherSubject(why) => {
                // The list itself lies about what refers to this digest: nothing it lists
                // can be relied on.
                found.referrers = Err(format!(
                    "{} lists manifest {}, but {why}",
                    listed.place, entry.digest
                ));
                found.bundles.clear();
                return Ok(found);
            }
        };
        found.bundles.push(BundleRef {
            source,
            claimed_predicate,
            layer,
        });
    }
    found.referrers = Ok(listed.place);
    Ok(found)
}

/// What a listed referrer turned out to be.
enum Listed {
    /// Another kind of artifact (read because its type was not declared).
    NotABundle,
    /// The bundle layer and the predicate type the manifest's annotation claims.
    Bundle(Descriptor, Option<String>),
    /// A bundle referrer that cannot be used (missing, malformed, unsupported version), with
    /// the predicate type its manifest claims when the manifest could be read.
    Unusable(String, Option<String>),
    /// A manifest about another digest: the list that named it cannot be trusted.
    OtherSubject(String),
}

/// Read the referrer `entry` of `subject` to find its bundle layer.
async fn bundle_layer(store: &Store, entry: &Descriptor, subject: &Digest) -> Result<Listed> {
    // In a layout the blob is read directly (resolving through `index.json` for each of many
    // referrers would re-read the index every time).
    let found = match store {
        Store::Layout(layout) => match layout.has_blob(&entry.digest) {
            true => layout.read_blob(&entry.digest).map(|bytes| {
                Some(Resolved {
                    digest: entry.digest.clone(),
                    bytes,
                    media_type: MEDIA_OCI_MANIFEST.into(),
                })
            }),
            false => Ok(None),
        },
        Store::Remote { .. } => store.manifest_by_digest(&entry.digest).await,
    };
    let bytes = match found {
        Ok(Some(found)) => found.bytes,
        Ok(None) => {
            return Ok(Listed::Unusable(
                format!(
                    "the referrer manifest {} is listed but missing",
                    entry.digest
                ),
                None,
            ))
        }
        Err(e) if matches!(store, Store::Layout(_)) => {
            return Ok(Listed::Unusable(e.to_string(), None))
        }
        Err(e) => return Err(e),
    };
    let manifest = match Manifest::from_slice(&bytes, &entry.digest.to_string()) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Listed::Unusable(
                format!(
                    "the referrer manifest is malformed: {}",
                    crate::error::one_line(&e)
                ),
                None,
            ))
        }
    };
    let claimed = manifest
        .annotations
        .get(bundle::ANNOTATION_PREDICATE_TYPE)
        .cloned();
    let declared = manifest.artifact_type.as_deref().unwrap_or("");
    let layer_type = manifest.layers.first().map(|l| l.media_type.as_str());
    let is_bundle = declared.starts_with(bundle::BUNDLE_MEDIA_PREFIX)
        || layer_type.is_some_and(|t| t.starts_with(bundle::BUNDLE_MEDIA_PREFIX));
    if manifest.subject.as_ref().map(|s| &s.digest) != Some(subject) {
        return Ok(Listed::OtherSubject(format!(
            "its subject is {}, not {subject}",
            manifest
                .subject
                .as_ref()
                .map(|s| s.digest.to_string())
                .unwrap_or_else(|| "missing".into())
        )));
    }
    if !is_bundle {
        let listed_as_bundle = entry
            .artifact_type
            .as_deref()
            .is_some_and(|t| t.starts_with(bundle::BUNDLE_MEDIA_PREFIX));
        return Ok(if listed_as_bundle {
            Listed::Unusable(
                format!("listed as a bundle, but the manifest's artifact type is `{declared}`"),
                claimed,
            )
        } else {
            Listed::NotABundle
        });
    }
    let unsupported = |t: &str| {
        Listed::Unusable(
            format!(
                "bundle media type `{t}` is not supported; cleanpipe reads `{}`",
                bundle::BUNDLE_MEDIA_TYPE
            ),
            claimed.clone(),
        )
    };
    if !declared.is_empty() && !bundle::is_supported(declared) {
        return Ok(unsupported(declared));
    }
    Ok(match manifest.layers.as_slice() {
        [layer] if bundle::is_supported(&layer.media_type) => {
            Listed::Bundle(layer.clone(), claimed.clone())
        }
        [layer] => unsupported(&layer.media_type),
        layers => Listed::Unusable(
            format!(
                "a bundle referrer has one layer; this one has {}",
                layers.len()
            ),
            claimed.clone(),
        ),
    })
}

/// Read a legacy `.sig`/`.att` manifest. In a layout a manifest that cannot be read is evidence
/// that does not verify, not an environment failure; a registry's errors stay errors (the
/// registry may just be down).
async fn legacy(store: &Store, tag: &str) -> Result<Legacy> {
    match store.manifest_by_tag(tag).await {
        Ok(Some(found)) => Ok(Legacy::Found(found)),
        Ok(None) => Ok(Legacy::Absent),
        Err(e) if matches!(store, Store::Layout(_)) => Ok(Legacy::Unreadable(e.to_string())),
        Err(e) => Err(e),
    }
}

/// Store `bundle_bytes` (a bundle about `subject` whose statement has `predicate_type`) as a
/// referrer of `subject`, the way cosign v3 does: an OCI 1.1 manifest with artifact type and
/// single layer the bundle, the empty config, `subject`, and annotations naming the content and
/// predicate type. With `signer`, the referrer also names the signing key (unsigned, like the
/// `.att` layers' annotation), and this key's earlier referrer of the same predicate type is
/// unlisted (in a layout and a fallback index), so a re-run re-attests instead of piling up
/// copies. Returns the referrer's digest and where it was listed.
pub async fn attach_bundle(
    store: &Store,
    subject: &Descriptor,
    predicate_type: &str,
    bundle_bytes: Vec<u8>,
    created: &str,
    signer: Option<&crate::sign::keys::PublicKey>,
) -> Result<(Digest, ReferrersPlace)> {
    let signer = signer.map(|k| k.fingerprint().to_string());
    let layer = Descriptor::of(bundle::BUNDLE_MEDIA_TYPE, &bundle_bytes);
    let config = Descriptor::of(MEDIA_OCI_EMPTY, EMPTY_JSON);
    store.write_blob(EMPTY_JSON.to_vec()).await?;
    store.write_blob(bundle_bytes).await?;
    let mut subject = subject.clone();
    subject.annotations.clear();
    subject.artifact_type = None;
    subject.platform = None;
    let mut manifest = Manifest::oci(config, vec![layer]);
    manifest.artifact_type = Some(bundle::BUNDLE_MEDIA_TYPE.into());
    manifest.subject = Some(subject.clone());
    manifest
        .annotations
        .insert(bundle::ANNOTATION_CONTENT.into(), "dsse-envelope".into());
    manifest.annotations.insert(
        bundle::ANNOTATION_PREDICATE_TYPE.into(),
        predicate_type.into(),
    );
    manifest
        .annotations
        .insert(ANNOTATION_CREATED.into(), created.into());
    if let Some(signer) = &signer {
        manifest
            .annotations
            .insert(SIGNER_ANNOTATION.into(), signer.clone());
    }
    let bytes = manifest.to_bytes();
    let place = store
        .attach_referrer(&bytes, &subject.digest, &supersedes(&manifest.annotations))
        .await?;
    Ok((Descriptor::of(MEDIA_OCI_MANIFEST, &bytes).digest, place))
}

/// Which listed referrers a new one with `annotations` replaces: cleanpipe's earlier bundle of
/// the same predicate type by the same key (both annotations are unsigned and only decide what
/// is unlisted; trust always comes from the signatures). A referrer without a signer
/// annotation (cosign's, anyone else's) replaces nothing and is never replaced.
fn supersedes(
    annotations: &std::collections::BTreeMap<String, String>,
) -> impl Fn(&Descriptor) -> bool + Sync + '_ {
    move |earlier: &Descriptor| {
        let same = |key: &str| {
            annotations
                .get(key)
                .is_some_and(|v| earlier.annotations.get(key) == Some(v))
        };
        same(SIGNER_ANNOTATION) && same(bundle::ANNOTATION_PREDICATE_TYPE)
    }
}

/// Copy every referrer of `subject` (manifests with their config and layer blobs) from one
/// store to another, listing each the way the destination lists referrers. Returns how many
/// were copied. Referrer blobs are small (bundles, signatures), so they are read whole.
pub async fn copy_referrers(from: &Store, to: &Store, subject: &Digest) -> Result<usize> {
    let listed = from.referrers(subject).await?.map_err(|why| {
        crate::error::Error::gate(
            format!(
                "the referrers of {subject} in {} cannot be copied: {why}",
                from.describe()
            ),
            vec![],
        )
    })?;
    let listed_here: Vec<&Digest> = listed.entries.iter().map(|e| &e.digest).collect();
    let mut copied = 0;
    for entry in &listed.entries {
        let Some(found) = from.manifest_by_digest(&entry.digest).await? else {
            return Err(crate::error::Error::gate(
                format!(
                    "the referrer {} of {subject} is listed but missing from {}",
                    entry.digest,
                    from.describe()
                ),
                vec![],
            ));
        };
        let manifest = Manifest::from_slice(&found.bytes, &entry.digest.to_string())?;
        for blob in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
            let bytes = from.read_blob(&blob.digest).await?;
            to.write_blob(bytes).await?;
        }
        // Only earlier versions the source no longer lists are unlisted at the destination: a
        // copy must carry every attestation the source holds, failing ones included.
        let replaces = supersedes(&manifest.annotations);
        let replaces = |d: &Descriptor| replaces(d) && !listed_here.contains(&&d.digest);
        to.attach_referrer(&found.bytes, subject, &replaces).await?;
        copied += 1;
    }
    Ok(copied)
}

/// Whether `store` holds a signature bundle referrer for `subject` (by its annotation: a
/// precondition for publishing, not a verification).
pub async fn has_signature_bundle(store: &Store, subject: &Digest) -> Result<bool> {
    Ok(match store.referrers(subject).await? {
        Ok(listed) => listed.entries.iter().any(|e| {
            e.annotations
                .get(bundle::ANNOTATION_PREDICATE_TYPE)
                .map(String::as_str)
                == Some(bundle::COSIGN_SIGN_PREDICATE)
        }),
        Err(_) => false,
    })
}

/// Copy all evidence about `subject` into a layout: the legacy `.sig`/`.att` manifests (with
/// their blobs, under the same tags) and every referrer, merged with what the layout already
/// holds the way publishing merges with a registry: a signature is added unless it is there,
/// an attestation replaces the layout's of the same predicate type and signer key, and every
/// other layer (a signature or attestation made locally, by another key) is kept. With nothing
/// to keep, the source's manifest is written as it is. Returns (legacy manifests written,
/// referrers copied).
pub async fn export_evidence(
    from: &Store,
    to: &crate::oci::layout::Layout,
    subject: &Digest,
) -> Result<(usize, usize)> {
    let to_store = Store::Layout(to.clone());
    let mut legacy = 0;
    for suffix in ["sig", "att"] {
        let tag = subject.cosign_tag(suffix);
        let Some(found) = from.manifest_by_tag(&tag).await? else {
            continue;
        };
        let manifest = Manifest::from_slice(&found.bytes, &tag)?;
        for blob in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
            to.write_blob(&from.read_blob(&blob.digest).await?)?;
        }
        let here = match to_store.manifest_by_tag(&tag).await? {
            Some(existing) => Manifest::from_slice(&existing.bytes, &tag)?.layers,
            None => vec![],
        };
        let merged = if suffix == "att" {
            crate::sign::attest::merge_attestation_layers(&here, &manifest.layers)
        } else {
            crate::sign::cosign::merge_signature_layers(&here, &manifest.layers)
        };
        let kept_only_theirs = merged.len() == manifest.layers.len()
            && merged.iter().all(|l| manifest.layers.contains(l));
        if kept_only_theirs {
            to_store
                .put_tagged_manifest(&tag, &found.bytes, &found.media_type)
                .await?;
        } else {
            crate::sign::cosign::check_layer_limit(
                &format!("oci:{}:{tag}", to.root().display()),
                merged.len(),
            )?;
            let (bytes, config) = crate::sign::cosign::signature_manifest(merged);
            to.write_blob(&config)?;
            to_store
                .put_tagged_manifest(&tag, &bytes, MEDIA_OCI_MANIFEST)
                .await?;
        }
        legacy += 1;
    }
    let referrers = copy_referrers(from, &to_store, subject).await?;
    Ok((legacy, referrers))
}

/// Sign `statement` (an in-toto statement about `subject`) with `key` into a Sigstore bundle and
/// attach it to `subject` in `store` (see [`attach_bundle`]).
/// What signing one subject stored.
pub struct SubjectSigned {
    /// cosign's legacy `.sig` outcome, when it was asked for and the signer has a key.
    pub legacy: Option<crate::sign::cosign::SignOutcome>,
    /// The signature bundle's referrer and where it is listed, when a bundle was asked for.
    pub bundle: Option<(Digest, ReferrersPlace)>,
}

/// Sign `subject` in `store` the ways asked: cosign's legacy `.sig` (signers with a key) and a
/// Sigstore bundle referrer whose statement names `docker_reference` and the subject's digest.
/// One place for `cleanpipe sign` and the pipeline's sign stage.
pub async fn sign_subject(
    store: &Store,
    subject: &Descriptor,
    docker_reference: &str,
    signer: &crate::sign::Signer,
    (legacy, bundle): (bool, bool),
    created: &str,
) -> Result<SubjectSigned> {
    let legacy = match (legacy, signer.key()) {
        (true, Some(key)) => Some(
            crate::sign::cosign::append_signature(store, &subject.digest, docker_reference, key)
                .await?,
        ),
        _ => None,
    };
    let bundle = match bundle {
        true => {
            let statement = crate::sign::attest::statement(
                docker_reference,
                &subject.digest,
                bundle::COSIGN_SIGN_PREDICATE,
                &serde_json::json!({}),
            );
            Some(
                sign_bundle(
                    store,
                    subject,
                    bundle::COSIGN_SIGN_PREDICATE,
                    &statement,
                    signer,
                    created,
                )
                .await?,
            )
        }
        false => None,
    };
    Ok(SubjectSigned { legacy, bundle })
}

pub async fn sign_bundle(
    store: &Store,
    subject: &Descriptor,
    predicate_type: &str,
    statement: &[u8],
    signer: &crate::sign::Signer,
    created: &str,
) -> Result<(Digest, ReferrersPlace)> {
    use crate::sign::Signer;
    let envelope_of = |key: &crate::sign::SigningKey| -> Result<crate::sign::attest::Envelope> {
        Ok(
            serde_json::from_slice(&crate::sign::attest::envelope(statement, key)?)
                .expect("an envelope cleanpipe wrote parses"),
        )
    };
    let (bundle, key) = match signer {
        Signer::Key(key) => (
            bundle::build(&envelope_of(key)?, key.public_key()),
            Some(key.public_key()),
        ),
        Signer::LoggedKey(key, log) => (
            log.bundle(&envelope_of(key)?, key.public_key()).await?,
            Some(key.public_key()),
        ),
        Signer::Keyless(keyless) => (keyless.sign_statement(statement).await?, None),
    };
    attach_bundle(store, subject, predicate_type, bundle, created, key).await
}

/// A keyless bundle's statement and signer under `trust`'s identities, for the attestation
/// checks: evidence whose signer is not proven a trusted identity (a bad chain, log entry or
/// signature as much as another identity) is like another key's signature (`NotThisKey`), so
/// whoever can attach a referrer cannot fail a requirement with junk; a trusted signer's
/// malformed statement makes the evidence invalid.
pub fn open_certified(
    parsed: &bundle::Bundle,
    subject: &Digest,
    trust: &crate::sign::Trust,
) -> std::result::Result<(serde_json::Value, String), crate::sign::attest::Rejection> {
    use crate::sign::attest::Rejection;
    let Some(keyless) = trust.keyless() else {
        return Err(Rejection::NotThisKey(NO_IDENTITY_TRUSTED.into()));
    };
    match keyless::open(parsed, subject, keyless) {
        Ok(opened) => Ok((opened.statement, opened.signer)),
        Err(refused) => {
            let why = refused
                .checks
                .iter()
                .find(|c| !c.passed)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .unwrap_or_else(|| "not verified".into());
            Err(if refused.authenticated {
                Rejection::Invalid(why)
            } else {
                Rejection::NotThisKey(why)
            })
        }
    }
}

/// Why a keyless bundle is not evidence when only keys are trusted.
pub const NO_IDENTITY_TRUSTED: &str = "signed keylessly (the bundle carries a certificate), and no identity is trusted: give --certificate-identity and --certificate-oidc-issuer (and --trusted-root for a private instance)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::layout::Layout;
    use crate::sign::attest::{append_attestation, envelope, statement, PREDICATE_TYPE_ANNOTATION};
    use crate::sign::cosign::append_signature;
    use crate::sign::keys::SigningKey;

    fn key() -> SigningKey {
        let (private, _) = crate::sign::keys::generate(b"").unwrap();
        SigningKey::load(
            private.as_bytes(),
            &crate::sign::KeySource::parse("env://K"),
            &|| Ok(zeroize::Zeroizing::new(String::new())),
        )
        .unwrap()
    }

    async fn attest(store: &Store, subject: &Digest, predicate: &str, key: &SigningKey, n: u8) {
        let st = statement("x", subject, predicate, &serde_json::json!({ "n": n }));
        let env = envelope(&st, key).unwrap();
        append_attestation(store, subject, predicate, env, key)
            .await
            .unwrap();
    }

    async fn layers(store: &Store, tag: &str) -> Vec<Descriptor> {
        let found = store.manifest_by_tag(tag).await.unwrap().unwrap();
        Manifest::from_slice(&found.bytes, tag).unwrap().layers
    }

    /// An export into a layout that signed the image itself keeps the layout's signature and
    /// its attestations of other types, and takes the source's (replacing the layout's
    /// attestation of the same type by the same key), as a push merges with a registry.
    #[tokio::test]
    async fn an_export_merges_with_what_the_layout_has() {
        let dir = tempfile::tempdir().unwrap();
        let from = Store::Layout(Layout::create(dir.path().join("from")).unwrap());
        let to_layout = Layout::create(dir.path().join("to")).unwrap();
        let to = Store::Layout(to_layout.clone());
        let subject = Digest::of(b"an image manifest");
        let (a, b) = (key(), key());
        // The source: signed and attested (provenance) by B.
        append_signature(&from, &subject, "r/app", &b)
            .await
            .unwrap();
        attest(&from, &subject, "https://slsa.dev/provenance/v1", &b, 1).await;
        // The layout: signed by A, attested by A (an SBOM) and by B (an older provenance).
        append_signature(&to, &subject, "r/app", &a).await.unwrap();
        attest(&to, &subject, "https://spdx.dev/Document", &a, 2).await;
        attest(&to, &subject, "https://slsa.dev/provenance/v1", &b, 0).await;
        let source_att = layers(&from, &subject.cosign_tag("att")).await;

        assert_eq!(
            export_evidence(&from, &to_layout, &subject)
                .await
                .unwrap()
                .0,
            2
        );
        let sigs = layers(&to, &subject.cosign_tag("sig")).await;
        assert_eq!(sigs.len(), 2, "A's and B's signatures: {sigs:?}");
        let atts = layers(&to, &subject.cosign_tag("att")).await;
        let types: Vec<&str> = atts
            .iter()
            .map(|l| l.annotations[PREDICATE_TYPE_ANNOTATION].as_str())
            .collect();
        assert_eq!(
            types,
            [
                "https://spdx.dev/Document",
                "https://slsa.dev/provenance/v1"
            ]
        );
        assert_eq!(atts[1], source_att[0], "B's provenance is the source's");
        // Every layer's blob is in the layout, and a second export changes nothing.
        for l in sigs.iter().chain(&atts) {
            to_layout.read_blob(&l.digest).unwrap();
        }
        export_evidence(&from, &to_layout, &subject).await.unwrap();
        assert_eq!(layers(&to, &subject.cosign_tag("sig")).await, sigs);
        assert_eq!(layers(&to, &subject.cosign_tag("att")).await, atts);

        // Into an empty layout the source's manifests are copied as they are.
        let empty = Layout::create(dir.path().join("empty")).unwrap();
        export_evidence(&from, &empty, &subject).await.unwrap();
        for suffix in ["sig", "att"] {
            let tag = subject.cosign_tag(suffix);
            assert_eq!(
                Store::Layout(empty.clone())
                    .manifest_by_tag(&tag)
                    .await
                    .unwrap()
                    .unwrap()
                    .digest,
                from.manifest_by_tag(&tag).await.unwrap().unwrap().digest
            );
        }
    }
}
