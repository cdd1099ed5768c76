//! Defence in depth behind verify-base: after a Dockerfile build, and before anything is
//! signed, the images the builder itself says it used are compared with the set verify-base
//! verified. Anything else fails the run (exit 1).
//!
//! - BuildKit: the materials of the SLSA provenance requested with the build
//!   (`attest:provenance=mode=min`), read from its OCI export and never kept in the image. Each
//!   image material (`pkg:docker/NAME@VERSION?platform=…`) carries the digest BuildKit resolved
//!   the reference to: a verified base's digest (index or image), or an image under a verified
//!   index.
//! - The classic builder: the image ID it prints after each `FROM` step (` ---> 0123456789ab`),
//!   which is the image's config digest, looked up in full in the engine; it must be the config
//!   digest of a verified base (of an image under a verified index), or an earlier stage's result.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::oci::reference::ImageRef;
use crate::oci::remote::RemoteOptions;
use crate::oci::store::Store;
use crate::oci::types::{document_kind, Digest, DocumentKind, Index, Manifest};

/// The annotation BuildKit puts on an index entry that is an attestation manifest, and the one
/// naming the image it is about.
pub const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
pub const ATTESTATION_MANIFEST: &str = "attestation-manifest";
pub const REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// The annotation on an attestation layer naming its in-toto predicate type.
pub const PREDICATE_TYPE: &str = "in-toto.io/predicate-type";

/// What a builder says it used for the images it built.
#[derive(Clone, Debug)]
pub enum UsedImages {
    /// BuildKit: each built image's provenance materials.
    Provenance(Vec<Material>),
    /// The classic builder: its `FROM` steps, from the build log.
    FromSteps(FromSteps),
}

/// One entry of a provenance's materials (v0.2) or resolved dependencies (v1).
#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    /// The built image it is about: its platform (`linux/arm64`), or empty for the one image.
    pub image: String,
    pub uri: String,
    /// Its digests by algorithm (`sha256` → hex).
    pub digest: BTreeMap<String, String>,
}

/// The materials of an in-toto statement holding a SLSA provenance (v0.2 `materials` or v1
/// `buildDefinition.resolvedDependencies`), for the built image `image`.
pub fn provenance_materials(
    statement: &[u8],
    image: &str,
) -> std::result::Result<Vec<Material>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(statement).map_err(|e| format!("it is not JSON: {e}"))?;
    let predicate_type = value["predicateType"].as_str().unwrap_or_default();
    let predicate = &value["predicate"];
    let list = match predicate_type {
        "https://slsa.dev/provenance/v0.2" => &predicate["materials"],
        t if t.starts_with("https://slsa.dev/provenance/v1") => {
            &predicate["buildDefinition"]["resolvedDependencies"]
        }
        other => {
            return Err(format!(
                "its predicate type `{other}` is not a SLSA provenance"
            ))
        }
    };
    let entries = match list {
        // BuildKit leaves the list out when a build used nothing (`FROM scratch`).
        serde_json::Value::Null => return Ok(vec![]),
        serde_json::Value::Array(a) => a,
        _ => return Err("its materials are not a list".into()),
    };
    entries
        .iter()
        .map(|m| {
            let uri = m["uri"]
                .as_str()
                .ok_or("a material without a `uri`")?
                .to_string();
            let digest = match &m["digest"] {
                serde_json::Value::Null => BTreeMap::new(),
                serde_json::Value::Object(o) => o
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            v.as_str().ok_or("a digest that is not text")?.to_string(),
                        ))
                    })
                    .collect::<std::result::Result<_, &str>>()?,
                _ => return Err(format!("`{uri}`: its digest is not an object")),
            };
            Ok(Material {
                image: image.to_string(),
                uri,
                digest,
            })
        })
        .collect()
}

/// What a material is, by its URI.
#[derive(Debug, PartialEq)]
enum MaterialKind {
    /// `pkg:docker/…` or `pkg:oci/…`: an image.
    Image,
    /// A Git repository or a URL (`ADD https://…`, `ADD git@…`): not an image.
    NotAnImage,
    /// Anything else (a local image names itself by a plain reference): unknown, so refused.
    Unknown,
}

fn material_kind(uri: &str) -> MaterialKind {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("pkg:docker/") || lower.starts_with("pkg:oci/") {
        MaterialKind::Image
    } else if ["https://", "http://", "git://", "ssh://", "git@"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        MaterialKind::NotAnImage
    } else {
        MaterialKind::Unknown
    }
}

/// The classic builder's `FROM` steps, read from its build log.
#[derive(Clone, Debug, Default)]
pub struct FromSteps {
    pub steps: Vec<FromStep>,
    /// The engine's full image ID for each short ID printed (looked up after the build); a short
    /// ID missing here could not be looked up.
    pub full_ids: BTreeMap<String, Digest>,
}

/// One `Step N/M : FROM …` of the classic builder's log.
#[derive(Clone, Debug, PartialEq)]
pub struct FromStep {
    pub step: usize,
    pub total: usize,
    /// The instruction as the engine printed it (`FROM ${BASE} AS build`).
    pub text: String,
    /// The image ID printed on the line right after it: `Some("")` for `FROM scratch` (the
    /// engine prints ` ---> ` with no ID), `None` when the next line is not an ID (a base's
    /// ONBUILD triggers run before the ID is printed).
    pub id: Option<String>,
    /// The short IDs that ended the stages before this one (what `FROM <stage>` resolves to).
    pub earlier_stages: Vec<String>,
}

impl FromSteps {
    /// Every short ID to look up in the engine.
    pub fn short_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for s in &self.steps {
            for id in s.id.iter().chain(&s.earlier_stages) {
                if !id.is_empty() && !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        ids
    }
}

/// `Step N/M : TEXT` → (N, M, TEXT).
fn step_line(line: &str) -> Option<(usize, usize, &str)> {
    let rest = line.strip_prefix("Step ")?;
    let (numbers, text) = rest.split_once(" : ")?;
    let (n, m) = numbers.split_once('/')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(n) || !digits(m) {
        return None;
    }
    Some((n.parse().ok()?, m.parse().ok()?, text))
}

/// ` ---> 0123456789ab` → `0123456789ab`; ` ---> ` → ``; anything else (` ---> Running in …`,
/// ` ---> Using cache`) → `None`.
fn id_line(line: &str) -> Option<&str> {
    let id = line.strip_prefix(" ---> ")?.trim_end();
    let hex = id
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    match (id.len(), hex) {
        (0, _) => Some(""),
        (12..=64, true) => Some(id),
        _ => None,
    }
}

/// The `FROM` steps of a classic build log. A step's own output (a `RUN`) shares the log with
/// the engine's lines and could print lines that look like the engine's: the steps must then
/// be exactly 1..M, each once, in order, or the log is refused (a printed step would either
/// repeat a number or come out of order).
pub fn from_steps(log: &[String]) -> std::result::Result<Vec<FromStep>, String> {
    let mut out = Vec::new();
    let mut expected = 1;
    let mut total = None;
    let mut stage_ends: Vec<String> = Vec::new();
    for (i, line) in log.iter().enumerate() {
        let Some((n, m, text)) = step_line(line) else {
            continue;
        };
        if n != expected || total.is_some_and(|t| t != m) || n > m {
            return Err(format!(
                "the build log has `{}` where step {expected} was expected: a step printed a line that looks like the engine's own, so the log cannot tell which images were used",
                line.trim()
            ));
        }
        expected += 1;
        total = Some(m);
        let keyword = text.split_whitespace().next().unwrap_or_default();
        if !keyword.eq_ignore_ascii_case("FROM") {
            continue;
        }
        // The line just before a new stage is the engine's ID of the stage that ended.
        if let Some(previous) = i.checked_sub(1).and_then(|p| id_line(&log[p])) {
            if !previous.is_empty() && !out.is_empty() {
                stage_ends.push(previous.to_string());
            }
        }
        out.push(FromStep {
            step: n,
            total: m,
            text: text.trim().to_string(),
            id: log.get(i + 1).and_then(|l| id_line(l)).map(String::from),
            earlier_stages: stage_ends.clone(),
        });
    }
    if let Some(t) = total {
        if expected != t + 1 {
            return Err(format!(
                "the build log ends at step {} of {t}",
                expected - 1
            ));
        }
    }
    Ok(out)
}

/// A base verify-base verified, with what a builder may record for it.
#[derive(Clone, Debug)]
pub struct VerifiedImage {
    pub reference: String,
    pub digest: Digest,
    /// The digest itself, and for an index each image manifest under it.
    pub manifests: Vec<Digest>,
    /// The config digest (an engine's image ID) of each of those images.
    pub configs: Vec<Digest>,
}

/// Read each verified base (`reference`, `digest`) from where it lives, by digest: its index
/// (the image digests it lists) or its image, and with `configs` (what the classic builder's
/// image IDs are compared with) the config digest of each image. An image an index lists but
/// this registry lacks is still listed (the index's signature covers it), without a config.
pub async fn verified_set(
    bases: &[(String, Digest)],
    remote: &RemoteOptions,
    configs: bool,
) -> Result<Vec<VerifiedImage>> {
    let mut out = Vec::new();
    for (reference, digest) in bases {
        let image = ImageRef::parse(reference)?.with_digest(digest.clone());
        let store = Store::for_image(&image, remote)?;
        let fetch = |d: Digest| {
            let store = &store;
            let what = reference.clone();
            async move {
                let found = store.manifest_by_digest(&d).await?;
                if let Some(found) = &found {
                    if Digest::of(&found.bytes) != d {
                        return Err(Error::environment(format!(
                            "{what}: the document served for {d} has another digest"
                        )));
                    }
                }
                Ok::<_, Error>(found)
            }
        };
        let top = fetch(digest.clone()).await?.ok_or_else(|| {
            Error::environment(format!(
                "{reference}: {digest} is no longer there to compare the build with"
            ))
        })?;
        let mut manifests = vec![digest.clone()];
        let mut images = Vec::new();
        if top.is_index() {
            for entry in Index::from_slice(&top.bytes, reference)?.manifests {
                manifests.push(entry.digest.clone());
                if configs {
                    images.extend(fetch(entry.digest).await?);
                }
            }
        } else if configs {
            images.push(top);
        }
        let mut config_digests = Vec::new();
        for image in images {
            let value: serde_json::Value = serde_json::from_slice(&image.bytes).map_err(|e| {
                Error::environment(format!("{reference}: a manifest is not JSON")).caused_by(e)
            })?;
            // An index inside the index: no config to compare with.
            if document_kind(&value, Some(&image.media_type)) == Ok(DocumentKind::Image) {
                if let Ok(m) = Manifest::from_slice(&image.bytes, reference) {
                    config_digests.push(m.config.digest);
                }
            }
        }
        out.push(VerifiedImage {
            reference: reference.clone(),
            digest: digest.clone(),
            manifests,
            configs: config_digests,
        });
    }
    Ok(out)
}

/// Compare what the builder used with the verified set: every image it names must be a
/// verified one. `dockerfile` names the Dockerfile in messages, `text` is its content (to
/// name the line of a `FROM` step).
pub fn check(
    used: &UsedImages,
    verified: &[VerifiedImage],
    dockerfile: &str,
    text: &str,
) -> Result<()> {
    let failures = match used {
        UsedImages::Provenance(materials) => check_materials(materials, verified),
        UsedImages::FromSteps(steps) => check_from_steps(steps, verified, dockerfile, text),
    };
    if failures.is_empty() {
        return Ok(());
    }
    let what = match used {
        UsedImages::Provenance(_) => "BuildKit's provenance",
        UsedImages::FromSteps(_) => "the engine's build log",
    };
    let hint = match used {
        UsedImages::Provenance(_) => format!(
            "every image the build uses must be pinned by digest and verified: one the Dockerfile does not name (pulled by an ONBUILD trigger of a base, a frontend) goes in `verify_base.images`; verified: {}",
            shown_set(verified)
        ),
        UsedImages::FromSteps(_) => format!(
            "each FROM must use a verified base as it is; the classic builder prints a base's image ID only when the base has no ONBUILD triggers (with `builder: buildkit` the provenance names what triggers pull); verified: {}",
            shown_set(verified)
        ),
    };
    Err(Error::gate(
        format!("the build used images verify-base did not verify ({what}); nothing is signed or published"),
        failures,
    )
    .with_hint(hint))
}

fn shown_set(verified: &[VerifiedImage]) -> String {
    match verified {
        [] => "none".into(),
        list => list
            .iter()
            .map(|v| {
                format!(
                    "{}@{}",
                    v.reference.split('@').next().unwrap_or_default(),
                    v.digest
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn check_materials(materials: &[Material], verified: &[VerifiedImage]) -> Vec<String> {
    let mut failures = Vec::new();
    for m in materials {
        let of = match m.image.as_str() {
            "" => "the image's provenance".to_string(),
            p => format!("the {p} image's provenance"),
        };
        match material_kind(&m.uri) {
            MaterialKind::NotAnImage => continue,
            MaterialKind::Unknown => {
                failures.push(format!(
                    "`{}` in {of}: not an image cleanpipe can compare (only registry images, `pkg:docker/…`, are)",
                    m.uri
                ));
                continue;
            }
            MaterialKind::Image => {}
        }
        let digest = m
            .digest
            .get("sha256")
            .and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok());
        let Some(digest) = digest else {
            failures.push(format!(
                "`{}` in {of} has no sha256 digest to compare",
                m.uri
            ));
            continue;
        };
        if !verified.iter().any(|v| v.manifests.contains(&digest)) {
            failures.push(format!(
                "`{}` ({digest}) in {of} is not a verified base nor an image under one",
                m.uri
            ));
        }
    }
    failures
}

/// The 1-based line of the `occurrence`-th (0-based) line of `text` reading `instruction`.
fn line_of(text: &str, instruction: &str, occurrence: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == instruction)
        .nth(occurrence)
        .map(|(i, _)| i + 1)
}

/// The 1-based line of the `n`-th (0-based) line of `text` that starts a `FROM` instruction
/// (a step the engine printed differently from the Dockerfile's text, e.g. continued lines).
fn nth_from_line(text: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let mut words = l.split_whitespace();
            words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) && words.next().is_some()
        })
        .nth(n)
        .map(|(i, _)| i + 1)
}

fn check_from_steps(
    steps: &FromSteps,
    verified: &[VerifiedImage],
    dockerfile: &str,
    text: &str,
) -> Vec<String> {
    let mut failures = Vec::new();
    let expected: Vec<String> = verified
        .iter()
        .flat_map(|v| v.configs.iter().map(|c| c.to_string()))
        .collect();
    let expected = match expected.as_slice() {
        [] => "no verified base".to_string(),
        list => format!("verified base config(s) {}", list.join(", ")),
    };
    if steps.steps.is_empty() {
        // Every Dockerfile has a FROM: a log without one could not be read.
        failures.push(format!(
            "{dockerfile}: the engine's log shows no `Step N/M : FROM …` line to compare with the {expected}"
        ));
    }
    for (k, step) in steps.steps.iter().enumerate() {
        let occurrence = steps.steps[..k]
            .iter()
            .filter(|s| s.text == step.text)
            .count();
        let line = line_of(text, &step.text, occurrence).or_else(|| nth_from_line(text, k));
        let place = match line {
            Some(line) => format!("{dockerfile}:{line}"),
            None => dockerfile.to_string(),
        };
        let at = format!(
            "{place}: `{}` (step {}/{})",
            step.text, step.step, step.total
        );
        let Some(id) = &step.id else {
            failures.push(format!(
                "{at}: the engine printed no image ID right after it (a base's ONBUILD triggers run first), so the image it used cannot be compared with the {expected}"
            ));
            continue;
        };
        if id.is_empty() {
            // ` ---> ` with no ID: `FROM scratch`, no image.
            continue;
        }
        let Some(full) = steps.full_ids.get(id) else {
            failures.push(format!(
                "{at}: the engine's image {id} could not be looked up to compare with the {expected}"
            ));
            continue;
        };
        let is_verified = verified.iter().any(|v| v.configs.contains(full));
        let is_stage = step
            .earlier_stages
            .iter()
            .any(|s| steps.full_ids.get(s) == Some(full));
        if !is_verified && !is_stage {
            failures.push(format!(
                "{at}: the engine used image {full}, not the {expected}"
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn reads_from_steps_their_ids_and_earlier_stages() {
        let log = lines(
            "Step 1/5 : FROM reg/base@sha256:aa AS build\n ---> 0123456789ab\nStep 2/5 : RUN echo hi\n ---> Running in 111111111111\nhi\nRemoving intermediate container 111111111111\n ---> 222222222222\nStep 3/5 : FROM scratch\n ---> \nStep 4/5 : FROM build\n ---> 222222222222\nStep 5/5 : COPY --from=build /x /x\n ---> 333333333333\nSuccessfully built 333333333333",
        );
        let steps = from_steps(&log).unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].id.as_deref(), Some("0123456789ab"));
        assert!(steps[0].earlier_stages.is_empty());
        assert_eq!(steps[1].id.as_deref(), Some(""));
        assert_eq!(steps[1].earlier_stages, vec!["222222222222".to_string()]);
        assert_eq!(steps[2].text, "FROM build");
        assert_eq!(steps[2].id.as_deref(), Some("222222222222"));
    }

    #[test]
    fn a_step_printing_engine_lines_makes_the_log_unreadable() {
        // A RUN prints a fake FROM step with a verified ID before the real one.
        let log = lines(
            "Step 1/3 : FROM reg/base@sha256:aa\n ---> 0123456789ab\nStep 2/3 : RUN printf 'Step 3/3 : FROM x\\n ---> 0123456789ab\\n'\n ---> Running in 111111111111\nStep 3/3 : FROM x\n ---> 0123456789ab\n ---> 222222222222\nStep 3/3 : FROM evil\n ---> 999999999999",
        );
        let err = from_steps(&log).unwrap_err();
        assert!(err.contains("step 4 was expected"), "{err}");
        // A log cut short.
        assert!(from_steps(&lines("Step 1/2 : FROM a\n ---> 0123456789ab")).is_err());
        // A log with no FROM step at all is not read as "nothing used".
        let none = UsedImages::FromSteps(FromSteps::default());
        assert!(check(&none, &[], "Dockerfile", "").is_err());
    }

    #[test]
    fn onbuild_triggers_leave_no_id_to_compare() {
        let log = lines(
            "Step 1/1 : FROM reg/base@sha256:aa\n# Executing 1 build trigger\n ---> Running in 111111111111\n ---> 0123456789ab",
        );
        let steps = from_steps(&log).unwrap();
        assert_eq!(steps[0].id, None);
        let verified = vec![VerifiedImage {
            reference: "reg/base@sha256:aa".into(),
            digest: d('a'),
            manifests: vec![d('a')],
            configs: vec![d('c')],
        }];
        let used = UsedImages::FromSteps(FromSteps {
            steps,
            full_ids: BTreeMap::new(),
        });
        let err = check(&used, &verified, "Dockerfile", "FROM reg/base@sha256:aa\n").unwrap_err();
        assert_eq!(err.exit_code() as i32, 1);
        assert!(
            err.reasons()[0].starts_with("Dockerfile:1: `FROM reg/base@sha256:aa` (step 1/1)"),
            "{:?}",
            err.reasons()
        );
    }

    #[test]
    fn classic_ids_are_compared_in_full_with_the_verified_configs_and_earlier_stages() {
        let verified = vec![VerifiedImage {
            reference: "reg/base@sha256:aa".into(),
            digest: d('a'),
            manifests: vec![d('a'), d('b')],
            configs: vec![d('c')],
        }];
        let text = "FROM reg/base AS build\nRUN x\nFROM build\nFROM reg/other\n";
        let step = |n, text: &str, id: &str, earlier: &[&str]| FromStep {
            step: n,
            total: 4,
            text: text.into(),
            id: Some(id.into()),
            earlier_stages: earlier.iter().map(|s| s.to_string()).collect(),
        };
        let mut full_ids = BTreeMap::new();
        full_ids.insert("cccccccccccc".to_string(), d('c'));
        full_ids.insert("eeeeeeeeeeee".to_string(), d('e'));
        full_ids.insert("ffffffffffff".to_string(), d('f'));
        let good = UsedImages::FromSteps(FromSteps {
            steps: vec![
                step(1, "FROM reg/base AS build", "cccccccccccc", &[]),
                step(3, "FROM build", "eeeeeeeeeeee", &["eeeeeeeeeeee"]),
            ],
            full_ids: full_ids.clone(),
        });
        check(&good, &verified, "Dockerfile", text).unwrap();
        let bad = UsedImages::FromSteps(FromSteps {
            steps: vec![
                step(1, "FROM reg/base AS build", "cccccccccccc", &[]),
                step(4, "FROM reg/other", "ffffffffffff", &["eeeeeeeeeeee"]),
            ],
            full_ids: full_ids.clone(),
        });
        let err = check(&bad, &verified, "Dockerfile", text).unwrap_err();
        assert_eq!(err.reasons().len(), 1);
        // A FROM written over two lines is printed joined: named by its first line.
        let continued = "FROM reg/base AS build\nRUN x\nFROM build\nFROM \\\n  reg/other\n";
        let all = UsedImages::FromSteps(FromSteps {
            steps: vec![
                step(1, "FROM reg/base AS build", "cccccccccccc", &[]),
                step(3, "FROM build", "eeeeeeeeeeee", &["eeeeeeeeeeee"]),
                step(4, "FROM reg/other", "ffffffffffff", &["eeeeeeeeeeee"]),
            ],
            full_ids,
        });
        let err = check(&all, &verified, "Dockerfile", continued).unwrap_err();
        assert!(
            err.reasons()[0].starts_with("Dockerfile:4: "),
            "{:?}",
            err.reasons()
        );
        let reason = &err.reasons()[0];
        assert!(
            reason.starts_with("Dockerfile:4: `FROM reg/other` (step 4/4)"),
            "{reason}"
        );
        assert!(
            reason.contains(&d('f').to_string()) && reason.contains(&d('c').to_string()),
            "{reason}"
        );
    }

    /// A real statement from BuildKit v0.34.2: `FROM` a verified base whose ONBUILD trigger
    /// copies from a second image.
    const ONBUILD: &[u8] =
        include_bytes!("../../tests/fixtures/buildkit/provenance-v1-onbuild.json");

    #[test]
    fn a_real_provenance_names_the_image_an_onbuild_trigger_pulled() {
        let hex = |h: &str| Digest::parse(&format!("sha256:{h}")).unwrap();
        let base = hex("0ce09259c0223f2bb6557ddc2c03b491064d5156491f1379d6f5e978b8aae44b");
        let extra = hex("b9b0336964059801fd8ed648eadfdb4ce2e45eedba1865db50272ce0954644bf");
        let verified = |digests: &[&Digest]| {
            digests
                .iter()
                .map(|d| VerifiedImage {
                    reference: format!("127.0.0.1:5000/it/x@{d}"),
                    digest: (*d).clone(),
                    manifests: vec![(*d).clone()],
                    configs: vec![],
                })
                .collect::<Vec<_>>()
        };
        let used = UsedImages::Provenance(provenance_materials(ONBUILD, "").unwrap());
        let err = check(&used, &verified(&[&base]), "Dockerfile", "").unwrap_err();
        assert_eq!(err.exit_code() as i32, 1);
        assert_eq!(err.reasons().len(), 1, "{:?}", err.reasons());
        assert!(
            err.reasons()[0].starts_with("`pkg:docker/127.0.0.1:5000/it/unsigned-extra-9102-1@1?platform=linux%2Famd64` (sha256:b9b03369"),
            "{:?}",
            err.reasons()
        );
        check(&used, &verified(&[&base, &extra]), "Dockerfile", "").unwrap();
        // Nothing verified: both are refused.
        let err = check(&used, &[], "Dockerfile", "").unwrap_err();
        assert_eq!(err.reasons().len(), 2);
    }

    #[test]
    fn materials_are_compared_by_digest_with_the_verified_set() {
        let statement = |materials: serde_json::Value| {
            serde_json::to_vec(&serde_json::json!({
                "_type": "https://in-toto.io/Statement/v0.1",
                "predicateType": "https://slsa.dev/provenance/v0.2",
                "subject": [],
                "predicate": {"builder": {"id": ""}, "materials": materials}
            }))
            .unwrap()
        };
        let verified = vec![VerifiedImage {
            reference: "reg/base@sha256:aa".into(),
            digest: d('a'),
            manifests: vec![d('a'), d('b')],
            configs: vec![d('c')],
        }];
        let ok = provenance_materials(
            &statement(serde_json::json!([
                {"uri": "pkg:docker/reg/base@sha256:aa?platform=linux%2Famd64", "digest": {"sha256": "a".repeat(64)}},
                {"uri": "pkg:docker/reg/base?platform=linux%2Farm64", "digest": {"sha256": "b".repeat(64)}},
                {"uri": "https://example.com/file.tar", "digest": {"sha256": "9".repeat(64)}}
            ])),
            "",
        )
        .unwrap();
        assert_eq!(ok.len(), 3);
        check(&UsedImages::Provenance(ok), &verified, "Dockerfile", "").unwrap();
        for (bad, why) in [
            (
                serde_json::json!([{"uri": "pkg:docker/reg/evil@1", "digest": {"sha256": "e".repeat(64)}}]),
                "is not a verified base",
            ),
            (
                serde_json::json!([{"uri": "pkg:docker/reg/base@1", "digest": {"sha512": "a".repeat(128)}}]),
                "no sha256 digest",
            ),
            (
                serde_json::json!([{"uri": "reg/local:1", "digest": {"sha256": "a".repeat(64)}}]),
                "not an image cleanpipe can compare",
            ),
        ] {
            let used = provenance_materials(&statement(bad), "linux/arm64").unwrap();
            let err =
                check(&UsedImages::Provenance(used), &verified, "Dockerfile", "").unwrap_err();
            assert_eq!(err.exit_code() as i32, 1);
            assert!(err.reasons()[0].contains(why), "{:?}", err.reasons());
            assert!(
                err.reasons()[0].contains("linux/arm64 image's provenance"),
                "{:?}",
                err.reasons()
            );
        }
        // SLSA v1's resolved dependencies.
        let v1 = serde_json::to_vec(&serde_json::json!({
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {"resolvedDependencies": [
                {"uri": "pkg:docker/reg/evil@1", "digest": {"sha256": "e".repeat(64)}}
            ]}}
        }))
        .unwrap();
        let used = provenance_materials(&v1, "").unwrap();
        assert!(check(&UsedImages::Provenance(used), &verified, "Dockerfile", "").is_err());
        assert!(
            provenance_materials(b"{\"predicateType\":\"https://spdx.dev/Document\"}", "").is_err()
        );
    }
}
