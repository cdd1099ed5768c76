//! Stage 2, verify-base: every base image pinned by digest and signed by a trusted key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::evidence::verify_signatures;
use crate::oci::reference::ImageRef;
use crate::oci::store::Store;
use crate::oci::types::{Digest, Platform};
use crate::run::RunContext;
use crate::sign::Trust;
use crate::spec::bases::{bases, BaseToVerify};
use crate::spec::template::TemplateValues;

/// A base that passed the gate: the build must use exactly this digest.
#[derive(Clone, Debug, Serialize)]
pub struct VerifiedBase {
    pub reference: String,
    pub digest: Digest,
    /// For a base pinned by an index, when the build uses one platform image of it: that one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformImage>,
    /// For a base pinned by an index: every platform image the build uses, in build order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformImage>,
    pub key: String,
    /// The base's vulnerability gate, when `verify_base.scan` is set.
    pub scan: Option<crate::run::stages::scan_gate::ScanSummary>,
    /// OpenVEX documents attested to the base by its trusted signer, read for the scan gates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vex: Vec<BaseVexDocument>,
    /// OpenVEX attestations found on the base and not used, each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vex_ignored: Vec<String>,
    /// The documents themselves (scoped to this base).
    #[serde(skip)]
    pub vex_documents: Vec<crate::scan::vex::Document>,
}

/// A base's VEX document as the run report names it.
#[derive(Clone, Debug, Serialize)]
pub struct BaseVexDocument {
    /// Where it was found (`attestation layer 0, sha256:…`, or a bundle referrer).
    pub attestation: String,
    /// The image digest it is attached to.
    pub subject: Digest,
    /// sha256 of the OpenVEX document (the attested predicate, as compact JSON).
    pub digest: String,
    pub signer: String,
    pub statements: usize,
}

/// Find the OpenVEX attestations attached to `subjects` (the base's digest, and the platform
/// images the build uses) in the base's own store, keeping those `trust` verifies. Returns the
/// documents (scoped to the base) and what was found and not used, with why.
pub async fn base_vex(
    store: &Store,
    reference: &str,
    subjects: &[Digest],
    trust: &Trust,
) -> Result<(
    Vec<crate::scan::vex::Document>,
    Vec<BaseVexDocument>,
    Vec<String>,
)> {
    use crate::sign::attest::PREDICATE_OPENVEX;
    let (mut docs, mut listed, mut ignored) = (Vec::new(), Vec::new(), Vec::new());
    for subject in subjects {
        for found in
            crate::policy::attestations_of_type(store, subject, trust, PREDICATE_OPENVEX).await?
        {
            let (statement, signer) = match found.outcome {
                Ok(ok) => ok,
                Err(why) => {
                    ignored.push(format!(
                        "{reference}: OpenVEX attestation {} ignored: {why}",
                        found.place
                    ));
                    continue;
                }
            };
            // The predicate is the OpenVEX document, read with the same strict rules as a
            // repository document; one that cannot be read is ignored and said, never applied.
            let bytes = serde_json::to_vec(&statement["predicate"]).expect("JSON serializes");
            let shown = format!("{reference} ({})", found.place);
            match crate::scan::vex::parse(&bytes, &shown) {
                Ok(mut doc) => {
                    doc.base = Some(crate::scan::vex::BaseScope {
                        signer: signer.clone(),
                        image: crate::scan::vex::Image::of(reference, subject),
                        unchanged: None,
                    });
                    listed.push(BaseVexDocument {
                        attestation: found.place.clone(),
                        subject: subject.clone(),
                        digest: doc.digest.to_string(),
                        signer,
                        statements: doc.statements.len(),
                    });
                    docs.push(doc);
                }
                Err(e) => ignored.push(format!(
                    "{reference}: OpenVEX attestation {} ignored: signed by {signer}, but the document cannot be read: {e}",
                    found.place
                )),
            }
        }
    }
    Ok((docs, listed, ignored))
}

/// The platform images of `resolved` the build uses at `used_at`: for an index, each one it
/// holds (an error names a platform it lacks, and what it has); for a single image, none, once
/// its config is checked to be for those platforms. `used_at` is empty for "every platform the
/// index has" (a customize base without `build.platforms`).
async fn platform_images(
    store: &Store,
    resolved: &crate::oci::store::Resolved,
    base: &BaseToVerify,
    used_at: &[Platform],
    explicit: bool,
) -> Result<Vec<(Platform, crate::oci::store::Resolved)>> {
    if !resolved.is_index() {
        if used_at.is_empty() {
            return Ok(vec![]);
        }
        if used_at.len() > 1 {
            let list: Vec<String> = used_at.iter().map(|p| p.to_string()).collect();
            return Err(Error::usage(format!(
                "{} is a single image, not an index: it cannot be the base of {}",
                base.reference,
                list.join(" and ")
            ))
            .with_hint("use a base published as an index with those platforms, or change `build.platforms`"));
        }
        let own = store.image_platform(resolved, &base.reference).await?;
        if own.architecture.is_empty() {
            // The config claims no platform: nothing to contradict by default, but a platform
            // the pipeline names must be stated.
            return match explicit {
                false => Ok(vec![]),
                true => Err(Error::usage(format!(
                    "{}: its config names no platform, and `build.platforms` asks for {}",
                    base.reference, used_at[0]
                ))),
            };
        }
        return match used_at.iter().find(|p| !p.accepts(&own)) {
            Some(p) => Err(Error::usage(format!(
                "{} is a single image for {own}, not for {p}",
                base.reference
            ))
            .with_hint(
                "use a base published for that platform (an index), or change `build.platforms`",
            )),
            None => Ok(vec![]),
        };
    }
    let index = crate::oci::types::Index::from_slice(&resolved.bytes, &base.reference)?;
    let platforms = match used_at {
        [] => index.platforms(),
        given => given.to_vec(),
    };
    // Each becomes a build platform and names files: it must be one cleanpipe can write.
    for p in &platforms {
        Platform::parse(&p.to_string()).map_err(|why| {
            Error::usage(format!(
                "{} lists an image for a platform cleanpipe cannot build: {why}",
                base.reference
            ))
            .with_hint("name the platforms to build in `build.platforms`")
        })?;
    }
    if platforms.is_empty() {
        return Err(Error::usage(format!(
            "{} is an index that names no platform",
            base.reference
        )));
    }
    let mut out = Vec::new();
    for platform in platforms {
        let child = store
            .platform_manifest(resolved, &platform, &base.reference)
            .await?
            .expect("an index has platform images");
        out.push((platform, child));
    }
    Ok(out)
}

/// The image an index base holds for the platform a build uses.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformImage {
    /// `linux/amd64`.
    pub platform: String,
    pub digest: Digest,
    /// Its vulnerability gate, when `verify_base.scan` is set and the build uses several
    /// platform images of the base (with one, the base's own `scan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<crate::run::stages::scan_gate::ScanSummary>,
}

pub async fn run(
    ctx: &RunContext,
    spec: &crate::spec::Spec<'_>,
    templates: &TemplateValues,
) -> Result<Vec<VerifiedBase>> {
    let bases = bases(&ctx.pipeline, &ctx.base_dir, Some(templates))?;
    if bases.is_empty() {
        ctx.say("verify-base", "no base images (scratch)");
        return Ok(vec![]);
    }
    let wanted = spec.platforms.clone();
    let mut keys: BTreeMap<String, Trust> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut verified = Vec::new();
    for base in &bases {
        let image = match ImageRef::parse(&base.reference) {
            Ok(i) => i,
            // A bad reference in the Dockerfile is a gate failure listed with the others.
            Err(e) if base.origin.line().is_some() => {
                failures.push(format!("{}: `{}`: {e}", base.origin, base.reference));
                continue;
            }
            Err(e) => {
                return Err(ctx
                    .pipeline
                    .error_at(&base.origin.key_path(), e.to_string()))
            }
        };
        // The same image used twice (two stages) is checked once.
        if verified
            .iter()
            .any(|v: &VerifiedBase| v.reference == base.reference)
        {
            continue;
        }
        let store = Store::for_image(&image, &ctx.remote)?;
        let Some(digest) = image.digest().cloned() else {
            let now = match store.resolve(&image).await {
                Ok(resolved) => format!(
                    "; it resolves to {} now: write `{}`",
                    resolved.digest,
                    image.with_digest(resolved.digest.clone())
                ),
                Err(e) => format!("; resolving it failed too: {e}"),
            };
            failures.push(format!(
                "{} (`{}`) is not pinned by digest{now}",
                base.reference, base.origin
            ));
            continue;
        };
        let Some(key_name) = &base.key else {
            failures.push(format!(
                "{}: no key to verify it with (set `verify_base.default_key` or a per-image `key`)",
                base.reference
            ));
            continue;
        };
        if !keys.contains_key(key_name) {
            keys.insert(
                key_name.clone(),
                crate::spec::bases::trust_named(&ctx.pipeline, &ctx.base_dir, key_name).await?,
            );
        }
        let trust = &keys[key_name];
        let kind = if trust.keyless().is_some() {
            "identity"
        } else {
            "key"
        };
        // The base must exist at that digest before its signature means anything.
        let resolved = store.resolve(&image).await?;
        // Every platform the base is used at, over all its uses (`FROM --platform=…` twice).
        let mut used_at: Vec<Platform> = Vec::new();
        let mut unusable = None;
        for other in bases.iter().filter(|b| b.reference == base.reference) {
            match other.used_at(wanted.as_deref()) {
                Ok(list) => {
                    for p in list {
                        if !used_at.contains(&p) {
                            used_at.push(p);
                        }
                    }
                }
                Err(why) => unusable = Some(format!("{}: {why}", other.origin)),
            }
        }
        if let Some(why) = unusable {
            failures.push(why);
            continue;
        }
        // An index: the platform images this build uses are chosen here and by the builder
        // from the same (pinned) index bytes. A single image must be for those platforms.
        let children =
            match platform_images(&store, &resolved, base, &used_at, wanted.is_some()).await {
                Ok(children) => children,
                Err(e) => {
                    failures.push(format!("{}: {e}", base.origin));
                    continue;
                }
            };
        let mut report = verify_signatures(&store, &digest, trust).await?;
        let mut signed = "the index";
        // Some vendors sign each platform image instead of the index. That vouches for the
        // build only where cleanpipe itself picks the images from the index (customize); a
        // Docker or BuildKit build lets the engine pick (its platform, `FROM --platform`, its
        // matching rules), so there the index's own signature is required.
        let builder_picks = base.cleanpipe_picks_platform;
        if !report.verified && !children.is_empty() && builder_picks {
            let mut all = None;
            for (platform, child) in &children {
                let per_platform = verify_signatures(&store, &child.digest, trust).await?;
                if !per_platform.verified {
                    report.summary.push_str(&format!(
                        "; the {platform} image {} is not signed either: {}",
                        child.digest, per_platform.summary
                    ));
                    all = None;
                    break;
                }
                all.get_or_insert(per_platform);
            }
            if let Some(per_platform) = all {
                report = per_platform;
                signed = if children.len() == 1 {
                    "the platform image"
                } else {
                    "each platform image"
                };
            }
        }
        if !report.verified && !children.is_empty() && !builder_picks {
            report.summary.push_str(
                "; for an index used by a Dockerfile build the index itself must be signed (the engine picks its platform image)",
            );
        }
        // The platform images are recorded only where cleanpipe is the one that uses them.
        let children: Vec<PlatformImage> = children
            .into_iter()
            .filter(|_| builder_picks)
            .map(|(platform, child)| PlatformImage {
                platform: platform.to_string(),
                digest: child.digest,
                scan: None,
            })
            .collect();
        if report.verified {
            let source = report
                .signatures
                .iter()
                .find(|s| s.verified)
                .map(|s| s.source.to_string())
                .unwrap_or_default();
            let images: Vec<String> = children
                .iter()
                .map(|c| format!("{} image {}", c.platform, c.digest))
                .collect();
            ctx.say(
                "verify-base",
                &match images.is_empty() {
                    true => format!(
                        "{} signed by {kind} `{key_name}` ({source})",
                        base.reference
                    ),
                    false => format!(
                        "{} signed by {kind} `{key_name}` ({signed}; {source}): index {digest}, {}",
                        base.reference,
                        images.join(", ")
                    ),
                },
            );
            // The base's own VEX, when a gate will scan and the pipeline did not turn it off.
            let file = &ctx.pipeline.file;
            let wants_vex = file.verify_base.vex != Some(false)
                && (file.verify_base.scan.is_some() || file.build.scan.is_some());
            let (vex_documents, vex, vex_ignored) = match wants_vex {
                true => {
                    let mut subjects = vec![digest.clone()];
                    subjects.extend(children.iter().map(|c| c.digest.clone()));
                    base_vex(&store, &base.reference, &subjects, trust).await?
                }
                false => Default::default(),
            };
            for v in &vex {
                ctx.say(
                    "verify-base",
                    &format!(
                        "{}: OpenVEX document {} ({} statement(s)) attested to {} by {}",
                        base.reference, v.digest, v.statements, v.subject, v.signer
                    ),
                );
            }
            verified.push(VerifiedBase {
                reference: base.reference.clone(),
                digest,
                platform: match children.as_slice() {
                    [one] => Some(one.clone()),
                    _ => None,
                },
                platforms: children,
                key: key_name.clone(),
                scan: None,
                vex,
                vex_ignored,
                vex_documents,
            });
        } else {
            let kind = if ctx
                .pipeline
                .file
                .verify_base
                .identities
                .contains_key(key_name)
            {
                "identity"
            } else {
                "key"
            };
            failures.push(format!(
                "{}: {} ({kind} `{key_name}`)",
                base.reference, report.summary
            ));
        }
    }
    if failures.is_empty() {
        if let Some(spec) = &ctx.pipeline.file.verify_base.scan {
            scan_bases(ctx, spec, &mut verified).await?;
        }
    }
    if !failures.is_empty() {
        return Err(Error::gate(
            format!(
                "{} of {} base image(s) failed verification",
                failures.len(),
                bases.len()
            ),
            failures,
        )
        .with_hint(
            "pin every base by digest and use bases signed by a key in `verify_base.keys` or an identity in `verify_base.identities`",
        ));
    }
    Ok(verified)
}

/// The base vulnerability gate: each verified base is made available in a layout (pulled into
/// the store if it lives in a registry), catalogued and scanned.
async fn scan_bases(
    ctx: &RunContext,
    spec: &crate::spec::model::ScanSpec,
    verified: &mut [VerifiedBase],
) -> Result<()> {
    let store = crate::oci::layout::Layout::create(&ctx.store_dir)?;
    for (i, base) in verified.iter_mut().enumerate() {
        // An index base is scanned as the platform images the build uses: each a gate of its
        // own, reported on that platform image (`base-scan-1-linux-arm64.*`) when there are
        // several, else as the base's.
        let reference = base.reference.clone();
        let several = base.platforms.len() > 1;
        let single = match base.platforms.as_slice() {
            [one] => one.digest.clone(),
            _ => base.digest.clone(),
        };
        if !several {
            let stem = format!("base-scan-{}", i + 1);
            let vex = base_vex_for_scan(base);
            base.scan = Some(
                scan_base(
                    ctx,
                    spec,
                    store.root(),
                    (&reference, &reference),
                    &single,
                    &stem,
                    &vex,
                )
                .await?,
            );
            continue;
        }
        let vex = base_vex_for_scan(base);
        for image in &mut base.platforms {
            let suffix = Platform::parse(&image.platform)
                .map_err(Error::usage)?
                .file_suffix();
            let stem = format!("base-scan-{}-{suffix}", i + 1);
            let name = format!("{reference} ({})", image.platform);
            image.scan = Some(
                scan_base(
                    ctx,
                    spec,
                    store.root(),
                    (&reference, &name),
                    &image.digest,
                    &stem,
                    &vex,
                )
                .await?,
            );
        }
    }
    Ok(())
}

/// Scan one base image (`reference` pinned to `digest`), made available in a layout under
/// `store` first, as `name` in messages and `stem` in report files.
async fn scan_base(
    ctx: &RunContext,
    spec: &crate::spec::model::ScanSpec,
    store: &Path,
    (reference, name): (&str, &str),
    digest: &Digest,
    stem: &str,
    vex: &crate::run::stages::scan_gate::BaseVex,
) -> Result<crate::run::stages::scan_gate::ScanSummary> {
    let image = ImageRef::parse(reference)?.with_digest(digest.clone());
    let (layout, resolved) = crate::oci::store::materialize(&image, &ctx.remote, store).await?;
    let target = crate::run::stages::scan_gate::Target {
        layout: &layout,
        digest: &resolved.digest,
        image_name: name,
        spec,
        key_path: &["verify_base", "scan"],
        file_stem: stem,
        reference: Some(reference),
        base_vex: std::slice::from_ref(vex),
    };
    crate::run::stages::scan_gate::run(ctx, "verify-base", target).await
}

/// A base's own VEX for its own gate: every statement may apply (the base is what is scanned).
fn base_vex_for_scan(base: &VerifiedBase) -> crate::run::stages::scan_gate::BaseVex {
    crate::run::stages::scan_gate::BaseVex {
        reference: base.reference.clone(),
        documents: base.vex_documents.clone(),
        ignored: base.vex_ignored.clone(),
        contents: None,
    }
}
