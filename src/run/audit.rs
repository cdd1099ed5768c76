//! The audit log: one JSON line per run, appended, each naming the SHA-256 of the line before it
//! (`prev`; the first names 64 zeros) and its place in the chain (`seq`, from 1). Editing,
//! deleting, inserting or reordering a record breaks the chain at the next record, which
//! [`verify`] names by line. The newest record has no successor to vouch for it: compare the
//! head [`verify`] returns (also printed by every run) with one kept elsewhere to notice a
//! truncated or edited tail.
//!
//! A record: who (the CI actor, else the local user), where (the CI run's URL, else the host),
//! when, the commit, the pipeline file and its digest, each stage's outcome, the image digest and
//! the evidence's digests. Secrets never enter it (everything is masked before writing).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::oci::types::Digest;
use crate::redact::Redactor;
use crate::run::executor::RunReport;

/// The `prev` of the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
/// Records longer than this are refused (writing) and reported (verifying): a record is a few
/// kilobytes, and the tail read to find the last one is bounded by it.
const MAX_RECORD: u64 = 256 * 1024;

#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    prev: String,
    time: &'a str,
    who: String,
    #[serde(rename = "where")]
    place: String,
    pipeline: &'a str,
    pipeline_digest: Option<String>,
    status: &'a str,
    exit_code: i32,
    commit: Option<&'a str>,
    stages: Vec<(&'a str, &'a str)>,
    image: Option<String>,
    evidence: BTreeMap<&'static str, serde_json::Value>,
    error: Option<&'a str>,
}

/// The predicate type of an audit record signed and attached to the image it records.
pub const PREDICATE_AUDIT_RECORD: &str = "https://cleanpipe.dev/attestations/audit-record/v1";

/// A record as appended: the line (masked, without its newline) and the new head.
#[derive(Clone, Debug)]
pub struct Appended {
    pub line: String,
    pub head: Digest,
}

/// Append this run's record to `path` (created if missing); returns the line and the new head
/// (the SHA-256 of the line written).
pub fn append(
    path: &Path,
    report: &RunReport,
    pipeline_text: &str,
    env: &BTreeMap<String, String>,
    redactor: &Redactor,
) -> Result<Appended> {
    let (seq, prev) = match last_line(path)? {
        None => (1, GENESIS.to_string()),
        Some(line) => {
            let value: serde_json::Value = serde_json::from_slice(&line).map_err(|e| {
                Error::environment(format!(
                    "the audit log `{}` ends with a line that is not a record: {e}",
                    path.display()
                ))
                .with_hint("run `cleanpipe audit verify` on it; nothing was appended")
            })?;
            let seq = value["seq"].as_u64().ok_or_else(|| {
                Error::environment(format!(
                    "the last record of the audit log `{}` has no `seq`",
                    path.display()
                ))
                .with_hint("run `cleanpipe audit verify` on it; nothing was appended")
            })?;
            (seq + 1, Digest::of(&line).to_string())
        }
    };
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    let who = get("GITHUB_ACTOR")
        .or_else(|| get("GITLAB_USER_LOGIN"))
        .or_else(|| get("BUILD_USER_ID"))
        .or_else(|| get("USER"))
        .unwrap_or_else(|| "unknown".into());
    let place = crate::ci::run_url(env)
        .or_else(|| get("HOSTNAME"))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mut evidence = BTreeMap::new();
    if let Some(sig) = &report.signature {
        evidence.insert(
            "signature_manifest",
            serde_json::json!(sig.signature_manifest),
        );
        evidence.insert("signer", serde_json::json!(sig.signer));
        evidence.insert("locations", serde_json::json!(sig.evidence));
        evidence.insert("attestations", serde_json::json!(sig.attestations));
        evidence.insert(
            "sboms",
            serde_json::json!(sig.sboms.iter().map(|(_, d)| d).collect::<Vec<_>>()),
        );
        evidence.insert(
            "provenance",
            serde_json::json!(sig.provenance.as_ref().map(|(_, d)| d)),
        );
    }
    let record = Record {
        seq,
        prev,
        time: &report.started_at,
        who,
        place,
        pipeline: &report.pipeline,
        pipeline_digest: Some(Digest::of(pipeline_text.as_bytes()).to_string()),
        status: &report.status,
        exit_code: report.exit_code,
        commit: report.source.as_ref().map(|s| s.commit.as_str()),
        stages: report
            .stages
            .iter()
            .map(|s| (s.name, s.status.as_str()))
            .collect(),
        image: report
            .published
            .as_ref()
            .map(|p| p.image.clone())
            .or_else(|| report.image.as_ref().map(|i| i.digest.to_string())),
        evidence,
        error: report.error.as_ref().map(|e| e.message.as_str()),
    };
    let line = redactor.apply(&serde_json::to_string(&record).expect("record serializes"));
    if line.len() as u64 > MAX_RECORD {
        return Err(Error::environment(
            "the audit record is larger than 256 KiB; nothing was appended",
        ));
    }
    crate::fsutil::append_nofollow(path, format!("{line}\n").as_bytes())?;
    let head = Digest::of(line.as_bytes());
    Ok(Appended { line, head })
}

/// Sign `appended` with `key` as an in-toto statement about `image` (`repo@sha256:…` or
/// `oci:DIR@sha256:…`) and attach it there as a Sigstore bundle referrer, so the record travels
/// with the image and `verify` can require it. The predicate holds the record itself and the log
/// head it made; the chain stays checkable with `cleanpipe audit verify` on the log.
pub async fn attest(
    appended: &Appended,
    image: &str,
    signer: &crate::sign::Signer,
    remote: &crate::oci::remote::RemoteOptions,
    created: &str,
) -> Result<Digest> {
    let image = crate::oci::reference::ImageRef::parse(image)?;
    let store = crate::oci::store::Store::for_image(&image, remote)?;
    let resolved = store.resolve(&image).await?;
    let record: serde_json::Value =
        serde_json::from_str(&appended.line).expect("a record cleanpipe wrote is JSON");
    let name = match &image {
        crate::oci::reference::ImageRef::Registry(r) => r.repository_name(),
        crate::oci::reference::ImageRef::Layout(l) => format!("oci:{}", l.dir.display()),
    };
    let statement = crate::sign::attest::statement(
        &name,
        &resolved.digest,
        PREDICATE_AUDIT_RECORD,
        &serde_json::json!({"record": record, "head": appended.head}),
    );
    let (referrer, _) = crate::evidence::sign_bundle(
        &store,
        &resolved.descriptor(),
        PREDICATE_AUDIT_RECORD,
        &statement,
        signer,
        created,
    )
    .await?;
    Ok(referrer)
}

/// The last line of `path` without its newline, reading only the file's tail.
fn last_line(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut file = match crate::fsutil::open_read_nofollow(path) {
        Ok(f) => f,
        Err(_) if !path.exists() && path.symlink_metadata().is_err() => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata().io_context("cannot read", path)?.len();
    if len == 0 {
        return Ok(None);
    }
    let start = len.saturating_sub(MAX_RECORD + 1);
    file.seek(SeekFrom::Start(start))
        .io_context("cannot read", path)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)
        .io_context("cannot read", path)?;
    if tail.last() != Some(&b'\n') {
        return Err(Error::environment(format!(
            "the audit log `{}` does not end with a newline: its last record is incomplete",
            path.display()
        ))
        .with_hint("run `cleanpipe audit verify` on it; nothing was appended"));
    }
    tail.pop();
    match tail.iter().rposition(|b| *b == b'\n') {
        Some(i) => Ok(Some(tail[i + 1..].to_vec())),
        None if start == 0 => Ok(Some(tail)),
        None => Err(Error::environment(format!(
            "the last record of the audit log `{}` is larger than 256 KiB",
            path.display()
        ))),
    }
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Serialize)]
pub struct Chain {
    pub records: u64,
    /// The SHA-256 of the last line (`GENESIS` for an empty log).
    pub head: String,
}

/// Check the whole chain of `path`, streaming it line by line. `Err` is a gate failure naming
/// the first line that breaks it.
pub fn verify(path: &Path) -> Result<Chain> {
    use std::io::BufRead;
    let file = crate::fsutil::open_read_nofollow(path)?;
    let mut reader = std::io::BufReader::new(file);
    let mut prev = GENESIS.to_string();
    let mut number = 0u64;
    let mut line = Vec::new();
    let broken = |n: u64, why: String| {
        Error::gate(
            format!("{}:{n}: the audit chain is broken: {why}", path.display()),
            vec![],
        )
        .with_hint("records were edited, deleted, inserted or reordered at or before this line; compare with a copy kept elsewhere")
    };
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_RECORD + 2)
            .read_until(b'\n', &mut line)
            .io_context("cannot read", path)?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            return Err(broken(
                number,
                if line.len() as u64 > MAX_RECORD {
                    "the line is longer than 256 KiB".into()
                } else {
                    "the last line has no newline (an incomplete record)".into()
                },
            ));
        }
        line.pop();
        let value: serde_json::Value = serde_json::from_slice(&line)
            .map_err(|e| broken(number, format!("not a JSON record: {e}")))?;
        if value["seq"].as_u64() != Some(number) {
            return Err(broken(
                number,
                format!("`seq` is {}, expected {number}", value["seq"]),
            ));
        }
        if value["prev"].as_str() != Some(prev.as_str()) {
            return Err(broken(
                number,
                format!(
                    "`prev` is {}, but the previous line hashes to {prev}",
                    value["prev"]
                ),
            ));
        }
        prev = Digest::of(&line).to_string();
    }
    Ok(Chain {
        records: number,
        head: prev,
    })
}
