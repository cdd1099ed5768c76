//! VEX documents: OpenVEX v0.2 and CycloneDX VEX (JSON) read into one model ([`Document`],
//! [`Statement`]) and matched against a scan's findings ([`apply`]). The rules are written
//! down in `docs/vex.md`; in short, a statement applies to a finding when its vulnerability
//! and its product (and subcomponent) match, the latest matching statement wins, and only
//! `not_affected` and `fixed` suppress.
//!
//! Fail closed: a document that cannot be read, that is not OpenVEX v0.2 or CycloneDX, or that
//! carries a statement cleanpipe cannot read whole is an error, never skipped.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use packageurl::PackageUrl;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::oci::reference::RegistryRef;
use crate::oci::types::Digest;
use crate::scan::Finding;

/// The `@context` of an OpenVEX v0.2 document.
pub const OPENVEX_CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

/// The predicate type of an OpenVEX attestation (the document is the predicate).
pub const PREDICATE_OPENVEX: &str = "https://openvex.dev/ns/v0.2.0";

/// The OpenVEX justifications (`not_affected`).
const OPENVEX_JUSTIFICATIONS: &[&str] = &[
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// The CycloneDX `analysis.justification` values.
const CYCLONEDX_JUSTIFICATIONS: &[&str] = &[
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
];

/// A statement's status, in OpenVEX's words (CycloneDX states map onto these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl Status {
    /// `not_affected` and `fixed` take a finding out of the gate; the others do not.
    pub fn suppresses(self) -> bool {
        matches!(self, Status::NotAffected | Status::Fixed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::Affected => "affected",
            Status::Fixed => "fixed",
            Status::UnderInvestigation => "under_investigation",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    OpenVex,
    CycloneDx,
}

/// What a statement names: a package or image by purl, an image by digest, or something
/// cleanpipe cannot match (a CPE, an IRI), which then matches nothing and is reported.
#[derive(Clone, Debug)]
pub enum Subject {
    Purl(PackageUrl<'static>),
    Digest(String),
    Other(String),
}

impl Subject {
    fn parse(text: &str) -> std::result::Result<Subject, String> {
        if text.starts_with("pkg:") {
            return PackageUrl::from_str(text)
                .map(Subject::Purl)
                .map_err(|e| format!("`{text}` is not a valid package URL: {e}"));
        }
        if let Some(hex) = text.strip_prefix("sha256:") {
            if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Subject::Digest(text.to_ascii_lowercase()));
            }
        }
        Ok(Subject::Other(text.to_string()))
    }

    fn is_image(&self) -> bool {
        match self {
            Subject::Purl(p) => p.ty() == "oci",
            Subject::Digest(_) => true,
            Subject::Other(_) => false,
        }
    }
}

/// One product of a statement, with the subcomponents (packages inside it) it narrows to.
#[derive(Clone, Debug)]
pub struct Product {
    pub id: String,
    pub subject: Subject,
    pub subcomponents: Vec<(String, Subject)>,
}

/// One statement, whatever format it came from.
#[derive(Clone, Debug)]
pub struct Statement {
    /// Where it is in its document: a JSON pointer (`/statements/2`, `/vulnerabilities/0`).
    pub location: String,
    pub vulnerability: String,
    pub aliases: Vec<String>,
    pub products: Vec<Product>,
    pub status: Status,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    pub action_statement: Option<String>,
    /// The statement's own time, else its document's (`None`: neither says).
    pub timestamp: Option<OffsetDateTime>,
}

/// A VEX document read whole.
#[derive(Clone, Debug)]
pub struct Document {
    /// The path as the user wrote it (for messages and reports).
    pub path: String,
    /// sha256 of the file's bytes.
    pub digest: Digest,
    pub format: Format,
    /// OpenVEX `@id` or CycloneDX `serialNumber`.
    pub id: Option<String>,
    pub author: Option<String>,
    pub statements: Vec<Statement>,
    /// Things that do not stop the document from being used (an `affected` statement without
    /// `action_statement`).
    pub warnings: Vec<String>,
    /// Who signed it, for a document read from a verified attestation (`None`: a file).
    pub signer: Option<String>,
    /// A document attached to a base image: who signed it, and which base and packages it may
    /// speak for. `None` for a repository document.
    pub base: Option<BaseScope>,
}

/// Where a base image's signed VEX document may apply.
#[derive(Clone, Debug)]
pub struct BaseScope {
    /// The signer its attestation verified with (a key's name, or a certificate's identity).
    pub signer: String,
    /// The base image: its image products (`pkg:oci/…`, `sha256:…`) are matched against it.
    pub image: Image,
    /// In a child image, the purls of the packages it still has unchanged from the base: a
    /// statement covers only these. `None` when the base itself is scanned.
    pub unchanged: Option<std::collections::BTreeSet<String>>,
}

impl Document {
    /// Whether a statement names `image` itself as a product (by digest or `pkg:oci/…`).
    pub fn names_image(&self, image: &Image) -> bool {
        self.statements
            .iter()
            .flat_map(|s| &s.products)
            .any(|p| p.subject.is_image() && image.matches(&p.subject))
    }

    pub fn reference(&self) -> DocumentRef {
        DocumentRef {
            path: self.path.clone(),
            digest: self.digest.to_string(),
            format: self.format,
            id: self.id.clone(),
            author: self.author.clone(),
            signer: self
                .signer
                .clone()
                .or_else(|| self.base.as_ref().map(|b| b.signer.clone())),
        }
    }
}

/// A document as reports name it.
#[derive(Clone, Debug, Serialize)]
pub struct DocumentRef {
    pub path: String,
    pub digest: String,
    pub format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Who signed it; `null` for a document read from the repository (reviewed in Git, not
    /// signed).
    pub signer: Option<String>,
}

/// The statement that decided a finding, as reports show it.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub status: Status,
    pub vulnerability: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_statement: Option<String>,
    /// The statement's JSON pointer in its document.
    pub statement: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    pub document: DocumentRef,
}

impl Applied {
    /// `not_affected (vulnerable_code_not_present) per vex/app.openvex.json#/statements/0
    /// (sha256:…)`, the way the table and SARIF say it.
    pub fn describe(&self) -> String {
        let why = self
            .justification
            .as_deref()
            .or(self.impact_statement.as_deref());
        format!(
            "{}{} per `{}`#{} ({})",
            self.status.as_str(),
            why.map(|w| format!(" ({w})")).unwrap_or_default(),
            self.document.path,
            self.statement,
            self.document.digest
        )
    }

    /// Why a finding this statement decided stays: [`Applied::describe`] and the statement's
    /// action, if it gives one.
    pub fn why_kept(&self) -> String {
        match &self.action_statement {
            Some(action) => format!("{}; action: {action}", self.describe()),
            None => self.describe(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// Read and check the VEX document at `path`; `shown` names it in messages and reports.
pub fn load(path: &Path, shown: &str) -> Result<Document> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::usage(format!("cannot read VEX document `{shown}`"))
            .caused_by(e)
            .with_hint("check the path; a VEX document the gate was told to use is never skipped")
    })?;
    parse(&bytes, shown)
}

/// Check a VEX document's bytes (see [`load`]).
pub fn parse(bytes: &[u8], shown: &str) -> Result<Document> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::usage(format!(
            "VEX document `{shown}` is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
        .caused_by(e)
        .with_hint("the file may be truncated or not JSON; cleanpipe reads OpenVEX and CycloneDX VEX in JSON")
    })?;
    let digest = Digest::of(bytes);
    let r = Reader { shown };
    if value.get("@context").is_some() {
        r.openvex(&value, digest)
    } else if value.get("bomFormat").is_some() {
        r.cyclonedx(&value, digest)
    } else {
        Err(r.error(
            "",
            "is neither OpenVEX (no `@context`) nor CycloneDX (no `bomFormat`)",
            "give an OpenVEX v0.2 document or a CycloneDX BOM with `vulnerabilities`",
        ))
    }
}

struct Reader<'a> {
    shown: &'a str,
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

impl Reader<'_> {
    fn error(&self, pointer: &str, what: &str, hint: &str) -> Error {
        let at = if pointer.is_empty() {
            String::new()
        } else {
            format!(" at `{pointer}`")
        };
        Error::usage(format!("VEX document `{}`{at}: {what}", self.shown)).with_hint(hint)
    }

    fn time(&self, v: &Value, key: &str, pointer: &str) -> Result<Option<OffsetDateTime>> {
        let Some(text) = string(v, key) else {
            return Ok(None);
        };
        OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|e| {
                self.error(
                    &format!("{pointer}/{key}"),
                    &format!("`{text}` is not an RFC 3339 time"),
                    "write times as `2026-12-01T10:00:00Z`",
                )
                .caused_by(e)
            })
    }

    fn array<'v>(&self, v: &'v Value, key: &str, pointer: &str) -> Result<&'v Vec<Value>> {
        v.get(key).and_then(Value::as_array).ok_or_else(|| {
            self.error(
                &format!("{pointer}/{key}"),
                &format!("`{key}` is missing or not a list"),
                "see docs/vex.md for the fields cleanpipe reads",
            )
        })
    }

    fn subject(&self, text: &str, pointer: &str) -> Result<Subject> {
        Subject::parse(text).map_err(|why| {
            self.error(
                pointer,
                &why,
                "write a package URL such as `pkg:deb/debian/openssl@3.0.11-1~deb12u2`",
            )
        })
    }

    // -- OpenVEX ------------------------------------------------------------------------

    fn openvex(&self, doc: &Value, digest: Digest) -> Result<Document> {
        let context = doc.get("@context").and_then(Value::as_str).unwrap_or("");
        // `https://openvex.dev/ns/v0.2.0` (a fragment or trailing slash allowed).
        let rest = context.strip_prefix(OPENVEX_CONTEXT);
        if !matches!(rest, Some("" | "/")) && !rest.is_some_and(|r| r.starts_with('#')) {
            return Err(self.error(
                "/@context",
                &format!("`@context` is `{context}`, not OpenVEX v0.2 (`{OPENVEX_CONTEXT}`)"),
                "cleanpipe reads OpenVEX v0.2 only; convert older documents (vexctl merge writes v0.2)",
            ));
        }
        let doc_time = self.time(doc, "timestamp", "")?;
        if doc_time.is_none() {
            return Err(self.error(
                "/timestamp",
                "the document has no `timestamp`, which OpenVEX requires",
                "add the time the document was issued, e.g. `\"timestamp\": \"2026-12-01T10:00:00Z\"`",
            ));
        }
        let doc_time = self.time(doc, "last_updated", "")?.or(doc_time);
        let mut statements = Vec::new();
        let mut warnings = Vec::new();
        for (i, s) in self.array(doc, "statements", "")?.iter().enumerate() {
            let at = format!("/statements/{i}");
            let st = self.openvex_statement(s, &at, doc_time)?;
            if st.status == Status::Affected && st.action_statement.is_none() {
                warnings.push(format!(
                    "VEX document `{}` at `{at}`: `affected` statement for {} has no `action_statement` (OpenVEX requires one); it is used, and does not suppress anything",
                    self.shown, st.vulnerability
                ));
            }
            statements.push(st);
        }
        Ok(Document {
            base: None,
            path: self.shown.to_string(),
            digest,
            format: Format::OpenVex,
            id: string(doc, "@id"),
            author: string(doc, "author"),
            statements,
            warnings,
            signer: None,
        })
    }

    fn openvex_statement(
        &self,
        s: &Value,
        at: &str,
        doc_time: Option<OffsetDateTime>,
    ) -> Result<Statement> {
        let (vulnerability, aliases) = match s.get("vulnerability") {
            Some(Value::String(name)) if !name.trim().is_empty() => {
                (name.trim().to_string(), vec![])
            }
            Some(v @ Value::Object(_)) => {
                let name = string(v, "name").ok_or_else(|| {
                    self.error(
                        &format!("{at}/vulnerability/name"),
                        "the vulnerability has no `name`",
                        "name the vulnerability, e.g. `\"vulnerability\": {\"name\": \"CVE-2023-4911\"}`",
                    )
                })?;
                let aliases = v
                    .get("aliases")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                (name, aliases)
            }
            _ => return Err(self.error(
                &format!("{at}/vulnerability"),
                "the statement names no vulnerability",
                "name the vulnerability, e.g. `\"vulnerability\": {\"name\": \"CVE-2023-4911\"}`",
            )),
        };
        let status_text = string(s, "status").unwrap_or_default();
        let status = match status_text.as_str() {
            "not_affected" => Status::NotAffected,
            "affected" => Status::Affected,
            "fixed" => Status::Fixed,
            "under_investigation" => Status::UnderInvestigation,
            other => {
                return Err(self.error(
                    &format!("{at}/status"),
                    &format!("unknown status `{other}` for {vulnerability}"),
                    "use one of `not_affected`, `affected`, `fixed`, `under_investigation`",
                ))
            }
        };
        let justification = string(s, "justification");
        if let Some(j) = &justification {
            if !OPENVEX_JUSTIFICATIONS.contains(&j.as_str()) {
                return Err(self.error(
                    &format!("{at}/justification"),
                    &format!("unknown justification `{j}`"),
                    &format!("use one of {}", OPENVEX_JUSTIFICATIONS.join(", ")),
                ));
            }
        }
        let impact_statement = string(s, "impact_statement");
        if status == Status::NotAffected && justification.is_none() && impact_statement.is_none() {
            return Err(self.error(
                at,
                &format!("`not_affected` statement for {vulnerability} has neither `justification` nor `impact_statement`, one of which OpenVEX requires"),
                "say why it does not apply, e.g. `\"justification\": \"vulnerable_code_not_in_execute_path\"`",
            ));
        }
        let mut products = Vec::new();
        for (j, p) in self.array(s, "products", at)?.iter().enumerate() {
            products.push(self.openvex_product(p, &format!("{at}/products/{j}"))?);
        }
        if products.is_empty() {
            return Err(self.error(
                &format!("{at}/products"),
                &format!("the statement for {vulnerability} names no product"),
                "name the image (`pkg:oci/…@sha256:…`) or the package (`pkg:deb/…`) it is about",
            ));
        }
        let timestamp = self.time(s, "last_updated", at)?;
        let timestamp = match timestamp {
            Some(t) => Some(t),
            None => self.time(s, "timestamp", at)?,
        }
        .or(doc_time);
        Ok(Statement {
            location: at.to_string(),
            vulnerability,
            aliases,
            products,
            status,
            justification,
            impact_statement,
            action_statement: string(s, "action_statement"),
            timestamp,
        })
    }

    /// A product or subcomponent: `@id`, else `identifiers.purl`, else `hashes.sha-256`.
    fn openvex_component(&self, p: &Value, at: &str) -> Result<(String, Subject)> {
        if let Value::String(text) = p {
            return Ok((text.clone(), self.subject(text, at)?));
        }
        let purl = p.get("identifiers").and_then(|i| string(i, "purl"));
        let id = string(p, "@id");
        let sha = p.get("hashes").and_then(|h| string(h, "sha-256"));
        let text = match (&purl, &id, &sha) {
            (Some(purl), _, _) => purl.clone(),
            (None, Some(id), _) if id.starts_with("pkg:") || id.starts_with("sha256:") => {
                id.clone()
            }
            (None, _, Some(sha)) => format!("sha256:{}", sha.trim_start_matches("sha256:")),
            (None, Some(id), None) => id.clone(),
            (None, None, None) => {
                return Err(self.error(
                    at,
                    "the product has no `@id`, `identifiers.purl` or `hashes.sha-256`",
                    "identify it by package URL, e.g. `{\"@id\": \"pkg:oci/app@sha256:…\"}`",
                ))
            }
        };
        let subject = self.subject(&text, at)?;
        Ok((text, subject))
    }

    fn openvex_product(&self, p: &Value, at: &str) -> Result<Product> {
        let (id, subject) = self.openvex_component(p, at)?;
        let mut subcomponents = Vec::new();
        if let Some(list) = p.get("subcomponents") {
            let list = list.as_array().ok_or_else(|| {
                self.error(
                    &format!("{at}/subcomponents"),
                    "`subcomponents` is not a list",
                    "list the packages as `[{\"@id\": \"pkg:…\"}]`",
                )
            })?;
            for (k, c) in list.iter().enumerate() {
                subcomponents.push(self.openvex_component(c, &format!("{at}/subcomponents/{k}"))?);
            }
        }
        Ok(Product {
            id,
            subject,
            subcomponents,
        })
    }

    // -- CycloneDX ----------------------------------------------------------------------

    fn cyclonedx(&self, doc: &Value, digest: Digest) -> Result<Document> {
        if doc.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
            return Err(self.error(
                "/bomFormat",
                "`bomFormat` is not `CycloneDX`",
                "give a CycloneDX BOM in JSON",
            ));
        }
        let spec = doc.get("specVersion").and_then(Value::as_str).unwrap_or("");
        if !matches!(spec, "1.4" | "1.5" | "1.6" | "1.7") {
            return Err(self.error(
                "/specVersion",
                &format!("CycloneDX `specVersion` `{spec}` carries no VEX (1.4 and later do)"),
                "write the VEX as CycloneDX 1.4 or later",
            ));
        }
        // bom-ref → purl, over the described component and every nested component.
        let mut refs: HashMap<String, Option<String>> = HashMap::new();
        fn walk(c: &Value, refs: &mut HashMap<String, Option<String>>) {
            if let Some(r) = string(c, "bom-ref") {
                refs.insert(r, string(c, "purl"));
            }
            for sub in c
                .get("components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(sub, refs);
            }
        }
        if let Some(m) = doc.get("metadata").and_then(|m| m.get("component")) {
            walk(m, &mut refs);
        }
        walk(doc, &mut refs);
        let serial = string(doc, "serialNumber");
        let doc_time = self.time(
            doc.get("metadata").unwrap_or(&Value::Null),
            "timestamp",
            "/metadata",
        )?;
        let mut statements = Vec::new();
        for (i, v) in self.array(doc, "vulnerabilities", "")?.iter().enumerate() {
            let at = format!("/vulnerabilities/{i}");
            statements.push(self.cyclonedx_statement(
                v,
                &at,
                &refs,
                serial.as_deref(),
                doc_time,
            )?);
        }
        let meta = doc.get("metadata").unwrap_or(&Value::Null);
        let authors: Vec<String> = meta
            .get("authors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| string(a, "name"))
            .collect();
        let author = if authors.is_empty() {
            ["manufacturer", "supplier", "manufacture"]
                .iter()
                .find_map(|k| meta.get(*k).and_then(|o| string(o, "name")))
        } else {
            Some(authors.join(", "))
        };
        Ok(Document {
            base: None,
            path: self.shown.to_string(),
            digest,
            format: Format::CycloneDx,
            id: serial,
            author,
            statements,
            warnings: vec![],
            signer: None,
        })
    }

    fn cyclonedx_statement(
        &self,
        v: &Value,
        at: &str,
        refs: &HashMap<String, Option<String>>,
        serial: Option<&str>,
        doc_time: Option<OffsetDateTime>,
    ) -> Result<Statement> {
        let id = string(v, "id").ok_or_else(|| {
            self.error(
                &format!("{at}/id"),
                "the vulnerability has no `id`",
                "give its identifier, e.g. `\"id\": \"CVE-2023-4911\"`",
            )
        })?;
        let aliases = v
            .get("references")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| string(r, "id"))
            .collect();
        let analysis = v.get("analysis").filter(|a| a.is_object()).ok_or_else(|| {
            self.error(
                &format!("{at}/analysis"),
                &format!("{id} has no `analysis`: a vulnerability without one is a finding, not a VEX statement"),
                "add `\"analysis\": {\"state\": \"not_affected\", \"justification\": \"code_not_reachable\"}`",
            )
        })?;
        let state = string(analysis, "state").unwrap_or_default();
        let status = match state.as_str() {
            "not_affected" | "false_positive" => Status::NotAffected,
            "resolved" | "resolved_with_pedigree" => Status::Fixed,
            "exploitable" => Status::Affected,
            "in_triage" => Status::UnderInvestigation,
            other => {
                return Err(self.error(
                    &format!("{at}/analysis/state"),
                    &format!("unknown state `{other}` for {id}"),
                    "use one of `resolved`, `resolved_with_pedigree`, `exploitable`, `in_triage`, `false_positive`, `not_affected`",
                ))
            }
        };
        let mut justification = string(analysis, "justification");
        if let Some(j) = &justification {
            if !CYCLONEDX_JUSTIFICATIONS.contains(&j.as_str()) {
                return Err(self.error(
                    &format!("{at}/analysis/justification"),
                    &format!("unknown justification `{j}`"),
                    &format!("use one of {}", CYCLONEDX_JUSTIFICATIONS.join(", ")),
                ));
            }
        }
        if state == "false_positive" && justification.is_none() {
            justification = Some("false_positive".into());
        }
        let detail = string(analysis, "detail");
        if status == Status::NotAffected && justification.is_none() && detail.is_none() {
            return Err(self.error(
                &format!("{at}/analysis"),
                &format!(
                    "`not_affected` analysis of {id} has neither `justification` nor `detail`"
                ),
                "say why it does not apply, e.g. `\"justification\": \"code_not_reachable\"`",
            ));
        }
        let response: Vec<String> = analysis
            .get("response")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        let mut products = Vec::new();
        for (j, a) in self.array(v, "affects", at)?.iter().enumerate() {
            let here = format!("{at}/affects/{j}");
            if a.get("versions").is_some() {
                return Err(self.error(
                    &format!("{here}/versions"),
                    "`versions` ranges are not read, so the statement would apply to every version",
                    "name each version in the component's purl instead (one component per version)",
                ));
            }
            let r = string(a, "ref").ok_or_else(|| {
                self.error(
                    &format!("{here}/ref"),
                    "`ref` is missing",
                    "give the bom-ref of a component of this BOM, or a purl",
                )
            })?;
            let purl = self.resolve_ref(&r, refs, serial, &format!("{here}/ref"))?;
            let subject = self.subject(&purl, &format!("{here}/ref"))?;
            products.push(Product {
                id: purl,
                subject,
                subcomponents: vec![],
            });
        }
        if products.is_empty() {
            return Err(self.error(
                &format!("{at}/affects"),
                &format!("{id} affects nothing"),
                "list the components it is about under `affects`",
            ));
        }
        let timestamp = match self.time(analysis, "lastUpdated", &format!("{at}/analysis"))? {
            Some(t) => Some(t),
            None => match self.time(analysis, "firstIssued", &format!("{at}/analysis"))? {
                Some(t) => Some(t),
                None => self.time(v, "updated", at)?,
            },
        }
        .or(doc_time);
        Ok(Statement {
            location: at.to_string(),
            vulnerability: id,
            aliases,
            products,
            status,
            justification,
            impact_statement: detail,
            action_statement: (!response.is_empty()).then(|| response.join(", ")),
            timestamp,
        })
    }

    /// An `affects[].ref`: a purl, a bom-ref of this BOM, or a BOM-Link into this BOM.
    fn resolve_ref(
        &self,
        r: &str,
        refs: &HashMap<String, Option<String>>,
        serial: Option<&str>,
        at: &str,
    ) -> Result<String> {
        if r.starts_with("pkg:") {
            return Ok(r.to_string());
        }
        let local = match r.strip_prefix("urn:cdx:") {
            Some(link) => {
                let (bom, fragment) = link.split_once('#').unwrap_or((link, ""));
                let this = serial
                    .and_then(|s| s.strip_prefix("urn:uuid:"))
                    .is_some_and(|uuid| bom.split('/').next() == Some(uuid));
                if !this || fragment.is_empty() {
                    return Err(self.error(
                        at,
                        &format!("`{r}` links into another BOM, which is not read"),
                        "put the components in this document, or refer to them by purl",
                    ));
                }
                fragment
            }
            None => r,
        };
        match refs.get(local) {
            Some(Some(purl)) => Ok(purl.clone()),
            Some(None) => Err(self.error(
                at,
                &format!("component `{local}` has no `purl`"),
                "give the component a `purl` so it can be matched",
            )),
            None => Err(self.error(
                at,
                &format!("bom-ref `{local}` names no component of this BOM"),
                "check the `bom-ref` spelling, or refer to the component by purl",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Matching

/// The image a scan looked at: its digest, and its repository when the reference names one
/// (`registry/repo`; `None` for an OCI layout).
#[derive(Clone, Debug)]
pub struct Image {
    pub digest: String,
    pub repository: Option<RegistryRef>,
    pub tag: Option<String>,
    /// Other digests that stand for this image: the index it was reached through (a
    /// statement about an index covers the platform images it lists).
    pub via: Vec<String>,
}

impl Image {
    /// The image behind a reference as written (`ghcr.io/acme/app:1`, `oci:DIR:tag`).
    pub fn of(reference: &str, digest: &Digest) -> Image {
        let parsed = crate::oci::reference::ImageRef::parse(reference).ok();
        let (repository, tag) = match parsed {
            Some(crate::oci::reference::ImageRef::Registry(r)) => {
                let tag = r.tag.clone();
                (Some(r), tag)
            }
            _ => (None, None),
        };
        Image {
            digest: digest.to_string(),
            repository,
            tag,
            via: vec![],
        }
    }

    /// This image, reached through the index `index`.
    pub fn via_index(mut self, index: &Digest) -> Image {
        self.via.push(index.to_string());
        self
    }

    fn is_digest(&self, d: &str) -> bool {
        d.eq_ignore_ascii_case(&self.digest) || self.via.iter().any(|v| d.eq_ignore_ascii_case(v))
    }

    /// Whether an image subject (`pkg:oci/…`, `sha256:…`) names this image.
    fn matches(&self, s: &Subject) -> bool {
        let purl = match s {
            Subject::Digest(d) => return self.is_digest(d),
            Subject::Purl(p) if p.ty() == "oci" => p,
            _ => return false,
        };
        let repo = self.repository.as_ref();
        // The name is the repository's last segment: checked whenever the image has a name.
        let last = repo.map(|r| {
            r.repository
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        });
        match (purl.version(), &last) {
            (Some(v), _) if !self.is_digest(v) => return false,
            (_, Some(last)) if !purl.name().eq_ignore_ascii_case(last) => return false,
            // Without a digest, only the name says which image: it must be known.
            (None, None) => return false,
            _ => {}
        }
        for (k, v) in purl.qualifiers() {
            let ok = match k.as_ref() {
                "repository_url" => repo.is_some_and(|r| {
                    RegistryRef::parse(v)
                        .is_ok_and(|want| want.comparable_name() == r.comparable_name())
                }),
                "tag" => self.tag.as_deref() == Some(v.as_ref()),
                // Any other qualifier (`arch`, `os`) cannot be checked here: no match.
                _ => false,
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// Name comparison per purl type: PyPI by PEP 503, the rest as the purl crate normalised
/// them (lowercased for the types whose names are case-insensitive).
fn same_name(ty: &str, a: &str, b: &str) -> bool {
    match ty {
        "pypi" => crate::sbom::purl::pep503(a) == crate::sbom::purl::pep503(b),
        _ => a == b,
    }
}

/// Whether a statement's package purl names the installed package `installed` (a purl): same
/// type, namespace and name; the same version when the statement gives one; and every
/// qualifier the statement gives present with the same value.
pub fn package_matches(statement: &PackageUrl<'_>, installed: &PackageUrl<'_>) -> bool {
    if statement.ty() != installed.ty()
        || statement.namespace() != installed.namespace()
        || !same_name(statement.ty(), statement.name(), installed.name())
    {
        return false;
    }
    if let Some(v) = statement.version() {
        if installed.version() != Some(v) {
            return false;
        }
    }
    if statement.subpath().is_some() && statement.subpath() != installed.subpath() {
        return false;
    }
    statement
        .qualifiers()
        .iter()
        .all(|(k, v)| installed.qualifiers().get(k) == Some(v))
}

fn subject_is_package(s: &Subject, installed: &PackageUrl<'_>) -> bool {
    matches!(s, Subject::Purl(p) if p.ty() != "oci" && package_matches(p, installed))
}

impl Product {
    /// Whether this product covers the installed package `pkg` of `image`; `in_image` says
    /// whether a package purl is among the image's packages.
    fn covers(
        &self,
        image: &Image,
        pkg: &PackageUrl<'_>,
        in_image: &dyn Fn(&Subject) -> bool,
    ) -> bool {
        let sub = || {
            self.subcomponents
                .iter()
                .any(|(_, s)| subject_is_package(s, pkg))
        };
        if self.subject.is_image() {
            image.matches(&self.subject) && (self.subcomponents.is_empty() || sub())
        } else if self.subcomponents.is_empty() {
            subject_is_package(&self.subject, pkg)
        } else {
            // A package product narrowed to its subcomponents: the product must be installed
            // in this image too.
            in_image(&self.subject) && sub()
        }
    }

    /// Whether this product names anything in the image at all.
    fn names_something(&self, image: &Image, in_image: &dyn Fn(&Subject) -> bool) -> bool {
        let subs = || self.subcomponents.iter().any(|(_, s)| in_image(s));
        if self.subject.is_image() {
            image.matches(&self.subject) && (self.subcomponents.is_empty() || subs())
        } else {
            in_image(&self.subject) && (self.subcomponents.is_empty() || subs())
        }
    }
}

/// What [`package_matches`] requires to be equal: type, namespace, and the name as the type
/// compares names.
type NameKey = (String, Option<String>, String);

fn name_key(p: &PackageUrl<'_>) -> NameKey {
    let name = match p.ty() {
        "pypi" => crate::sbom::purl::pep503(p.name()),
        _ => p.name().to_string(),
    };
    (p.ty().to_string(), p.namespace().map(str::to_string), name)
}

fn vulnerability_matches(s: &Statement, f: &Finding) -> bool {
    let theirs: Vec<&String> = std::iter::once(&s.vulnerability)
        .chain(&s.aliases)
        .collect();
    std::iter::once(&f.id)
        .chain(&f.aliases)
        .chain(&f.upstream)
        .any(|id| theirs.iter().any(|t| t.eq_ignore_ascii_case(id)))
}

/// What the documents decide for a scan.
#[derive(Debug, Default)]
pub struct Decisions {
    /// Per finding (same order as given): the statement that decided it, if any.
    pub per_finding: Vec<Option<Applied>>,
    /// Statements that applied to no finding, each said with why.
    pub unused: Vec<String>,
    /// Base statements that would have matched a finding whose package the child changed.
    pub not_applied: Vec<String>,
}

/// Match every statement of `docs` against `findings` of `image`, whose installed packages
/// are `packages` (purls). For each finding the latest matching statement wins (by timestamp,
/// then by document and statement order).
pub fn apply(
    docs: &[Document],
    image: &Image,
    packages: &[String],
    findings: &[Finding],
) -> Decisions {
    // The installed packages by type, namespace and name (as `package_matches` compares
    // them), and the statements by vulnerability id and alias (as `vulnerability_matches`
    // compares them): a large document costs lookups, not findings × statements.
    let mut installed: HashMap<NameKey, Vec<PackageUrl<'static>>> = HashMap::new();
    for p in packages.iter().filter_map(|p| PackageUrl::from_str(p).ok()) {
        installed.entry(name_key(&p)).or_default().push(p);
    }
    let in_image = |s: &Subject| match s {
        Subject::Purl(p) if p.ty() != "oci" => installed
            .get(&name_key(p))
            .is_some_and(|same| same.iter().any(|i| package_matches(p, i))),
        _ => false,
    };
    let mut by_id: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    let mut used = vec![Vec::new(); docs.len()];
    for (d, doc) in docs.iter().enumerate() {
        used[d] = vec![false; doc.statements.len()];
        for (i, s) in doc.statements.iter().enumerate() {
            for id in std::iter::once(&s.vulnerability).chain(&s.aliases) {
                by_id
                    .entry(id.to_ascii_lowercase())
                    .or_default()
                    .push((d, i));
            }
        }
    }
    let mut per_finding = Vec::with_capacity(findings.len());
    let mut not_applied = Vec::new();
    for f in findings {
        let Ok(pkg) = PackageUrl::from_str(&f.purl) else {
            per_finding.push(None);
            continue;
        };
        let mut candidates: Vec<(usize, usize)> = std::iter::once(&f.id)
            .chain(&f.aliases)
            .chain(&f.upstream)
            .filter_map(|id| by_id.get(&id.to_ascii_lowercase()))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut best: Option<(Option<OffsetDateTime>, usize, usize)> = None;
        for (d, i) in candidates {
            let (doc, s) = (&docs[d], &docs[d].statements[i]);
            // A base's document speaks for the base image, and only for what the child kept.
            let image = doc.base.as_ref().map_or(image, |b| &b.image);
            if !vulnerability_matches(s, f)
                || !s.products.iter().any(|p| p.covers(image, &pkg, &in_image))
            {
                continue;
            }
            used[d][i] = true;
            let kept = doc.base.as_ref().and_then(|b| b.unchanged.as_ref());
            if kept.is_some_and(|k| !k.contains(&f.purl)) {
                not_applied.push(format!(
                    "base VEX not applied: {} in {} {} ({}) changed in this image, so `{}`#{} ({} {}, signed by {}) does not cover it; it is judged on its own",
                    f.id,
                    f.package,
                    f.version,
                    f.purl,
                    doc.path,
                    s.location,
                    s.vulnerability,
                    s.status.as_str(),
                    doc.base.as_ref().map_or("", |b| b.signer.as_str()),
                ));
                continue;
            }
            let key = (s.timestamp, d, i);
            if best.is_none_or(|b| key >= b) {
                best = Some(key);
            }
        }
        per_finding.push(best.map(|(_, d, i)| {
            let (doc, s) = (&docs[d], &docs[d].statements[i]);
            Applied {
                status: s.status,
                vulnerability: s.vulnerability.clone(),
                justification: s.justification.clone(),
                impact_statement: s.impact_statement.clone(),
                action_statement: s.action_statement.clone(),
                statement: s.location.clone(),
                timestamp: s.timestamp.and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                }),
                document: doc.reference(),
            }
        }));
    }
    let mut unused = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        let image = doc.base.as_ref().map_or(image, |b| &b.image);
        for (i, s) in doc.statements.iter().enumerate() {
            if used[d][i] {
                continue;
            }
            let what = format!(
                "VEX statement `{}`#{} ({} {})",
                doc.path,
                s.location,
                s.vulnerability,
                s.status.as_str()
            );
            if s.products
                .iter()
                .any(|p| p.names_something(image, &in_image))
            {
                unused.push(format!(
                    "{what} applies to no finding: no finding of {} in what it names",
                    s.vulnerability
                ));
            } else {
                let names: Vec<&str> = s.products.iter().map(|p| p.id.as_str()).collect();
                unused.push(format!(
                    "{what} matches nothing in this image: {} {} not in it",
                    names.join(", "),
                    if names.len() == 1 { "is" } else { "are" }
                ));
            }
        }
    }
    Decisions {
        per_finding,
        unused,
        not_applied,
    }
}

// ---------------------------------------------------------------------------------------
// Writing: an image's own VEX

/// The OpenVEX v0.2 document for a built image: one statement per finding its gate suppressed
/// (from the repository's documents and from a base's signed ones that still apply), rebound to
/// the image: the product is the image (`digest`, and `pkg:oci/NAME@DIGEST?repository_url=…`
/// when it has a repository), the subcomponent the installed package's purl. Each statement's
/// `status_notes` names the document it came from (path, sha256, signer). `None` when nothing
/// was suppressed.
pub fn image_document(
    suppressed: &[crate::scan::Suppressed],
    digest: &Digest,
    repository: Option<&str>,
    author: &str,
    timestamp: &str,
) -> Option<serde_json::Value> {
    let image_purl = repository.and_then(|r| {
        let parsed = RegistryRef::parse(r).ok()?;
        let name = parsed.repository.rsplit('/').next()?.to_ascii_lowercase();
        let mut purl = PackageUrl::new("oci", name).ok()?;
        purl.with_version(digest.to_string()).ok()?;
        purl.add_qualifier("repository_url", r.to_string()).ok()?;
        Some(purl.to_string())
    });
    let mut seen = std::collections::BTreeSet::new();
    let mut statements = Vec::new();
    for s in suppressed {
        if !seen.insert((s.vex.vulnerability.clone(), s.finding.purl.clone())) {
            continue;
        }
        let mut product = serde_json::json!({
            "@id": digest.to_string(),
            "hashes": {"sha-256": digest.to_string().trim_start_matches("sha256:")},
            "subcomponents": [{"@id": s.finding.purl}],
        });
        if let Some(purl) = &image_purl {
            product["identifiers"] = serde_json::json!({ "purl": purl });
        }
        let mut aliases: Vec<&String> = std::iter::once(&s.finding.id)
            .chain(&s.finding.aliases)
            .filter(|a| !a.eq_ignore_ascii_case(&s.vex.vulnerability))
            .collect();
        aliases.dedup();
        let d = &s.vex.document;
        let mut statement = serde_json::json!({
            "vulnerability": {"name": s.vex.vulnerability, "aliases": aliases},
            "products": [product],
            "status": s.vex.status.as_str(),
            "status_notes": format!(
                "from `{}`#{} ({}{})",
                d.path,
                s.vex.statement,
                d.digest,
                d.signer
                    .as_ref()
                    .map(|s| format!(", signed by {s}"))
                    .unwrap_or_else(|| ", the repository's".into()),
            ),
        });
        if let Some(j) = &s.vex.justification {
            statement["justification"] = j.clone().into();
        }
        if let Some(i) = &s.vex.impact_statement {
            statement["impact_statement"] = i.clone().into();
        }
        if let Some(t) = &s.vex.timestamp {
            statement["timestamp"] = t.clone().into();
        }
        statements.push(statement);
    }
    if statements.is_empty() {
        return None;
    }
    Some(serde_json::json!({
        "@context": OPENVEX_CONTEXT,
        "@id": format!("https://cleanpipe.dev/vex/{digest}"),
        "author": author,
        "timestamp": timestamp,
        "version": 1,
        "tooling": "cleanpipe",
        "statements": statements,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::catalog::Kind;

    const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const OTHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const OPENSSL: &str = "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12";
    const ZLIB: &str = "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12";

    fn finding(id: &str, aliases: &[&str], upstream: &[&str], purl: &str) -> Finding {
        let p = PackageUrl::from_str(purl).unwrap();
        Finding {
            id: id.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            package: p.name().to_string(),
            kind: Kind::Deb,
            version: p.version().unwrap_or("").to_string(),
            fixed_version: None,
            severity: crate::scan::Severity::High,
            score: None,
            purl: purl.into(),
            location: "/var/lib/dpkg/status".into(),
            layer: None,
            summary: String::new(),
            severity_source: String::new(),
            upstream: upstream.iter().map(|s| s.to_string()).collect(),
            waived: None,
            waiver_expires: None,
        }
    }

    fn image() -> Image {
        Image::of("oci:/tmp/x:latest", &Digest::parse(IMAGE).unwrap())
    }

    fn openvex(statements: &str) -> String {
        format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
            "author": "Acme Security", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
            "statements": [{statements}]}}"#
        )
    }

    /// A base's statement covers a finding only on a package the child kept; otherwise it is
    /// said, and the image's own document rebinds what applied to the image and reads back.
    #[test]
    fn a_base_statement_covers_only_kept_packages_and_rebinds() {
        let base_digest = Digest::of(b"base");
        let child_digest = Digest::of(b"child");
        let text = format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://v.example/1",
            "author": "Vendor", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
            "statements": [{{"vulnerability": {{"name": "CVE-2023-0286"}},
              "products": [{{"@id": "{base_digest}", "subcomponents": [{{"@id": "pkg:deb/debian/openssl"}}]}}],
              "status": "not_affected", "justification": "vulnerable_code_not_present"}}]}}"#
        );
        let mut base_doc = doc(&text);
        base_doc.base = Some(BaseScope {
            signer: "vendor".into(),
            image: Image::of("oci:base", &base_digest),
            unchanged: Some([OPENSSL.to_string()].into_iter().collect()),
        });
        let child = Image::of("oci:child", &child_digest);
        let f = finding("CVE-2023-0286", &[], &[], OPENSSL);
        let d = apply(
            std::slice::from_ref(&base_doc),
            &child,
            &[OPENSSL.into()],
            std::slice::from_ref(&f),
        );
        let applied = d.per_finding[0]
            .clone()
            .expect("covered: openssl is the base's");
        assert_eq!(applied.document.signer.as_deref(), Some("vendor"));
        // The child upgraded openssl's files: not applied, and said.
        base_doc.base.as_mut().unwrap().unchanged = Some(Default::default());
        let d = apply(
            std::slice::from_ref(&base_doc),
            &child,
            &[OPENSSL.into()],
            std::slice::from_ref(&f),
        );
        assert!(d.per_finding[0].is_none());
        assert!(
            d.not_applied[0].contains("base VEX not applied") && d.not_applied[0].contains(OPENSSL),
            "{:?}",
            d.not_applied
        );
        // The image's own document names the child, and a later image can read it back.
        let suppressed = [crate::scan::Suppressed {
            finding: f,
            vex: applied,
        }];
        let own = image_document(
            &suppressed,
            &child_digest,
            Some("reg.example/acme/app"),
            "a",
            "2026-01-02T00:00:00Z",
        )
        .unwrap();
        let back = doc(&own.to_string());
        assert_eq!(back.statements.len(), 1);
        assert!(
            matches!(&back.statements[0].products[0].subject, Subject::Purl(p) if p.version() == Some(child_digest.to_string().as_str()))
        );
        assert!(own["statements"][0]["status_notes"]
            .as_str()
            .unwrap()
            .contains("signed by vendor"));
        assert!(image_document(&[], &child_digest, None, "a", "2026-01-02T00:00:00Z").is_none());
    }

    fn doc(text: &str) -> Document {
        parse(text.as_bytes(), "vex/app.openvex.json").unwrap()
    }

    fn err(text: &str) -> String {
        let e = parse(text.as_bytes(), "vex/app.openvex.json").unwrap_err();
        assert_eq!(e.exit_code(), crate::error::ExitCode::Usage, "{e}");
        format!("{e}\nhint: {}", e.hint().unwrap_or(""))
    }

    fn statuses(
        docs: &[Document],
        img: &Image,
        packages: &[&str],
        findings: &[Finding],
    ) -> Vec<Option<Status>> {
        let packages: Vec<String> = packages.iter().map(|s| s.to_string()).collect();
        apply(docs, img, &packages, findings)
            .per_finding
            .into_iter()
            .map(|a| a.map(|a| a.status))
            .collect()
    }

    #[test]
    fn an_image_statement_narrowed_to_a_package_decides_that_package_only() {
        let d = doc(&openvex(&format!(
            r#"{{"vulnerability": {{"name": "CVE-2023-0001"}},
              "products": [{{"@id": "pkg:oci/app@{IMAGE}", "subcomponents": [{{"@id": "pkg:deb/debian/openssl"}}]}}],
              "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}}"#
        )));
        assert_eq!(d.format, Format::OpenVex);
        assert_eq!(d.author.as_deref(), Some("Acme Security"));
        let findings = [
            finding("DSA-1", &["CVE-2023-0001"], &[], OPENSSL),
            finding("DSA-1", &["CVE-2023-0001"], &[], ZLIB),
            finding("DSA-2", &["CVE-2023-0002"], &[], OPENSSL),
        ];
        let got = statuses(
            std::slice::from_ref(&d),
            &image(),
            &[OPENSSL, ZLIB],
            &findings,
        );
        assert_eq!(got, [Some(Status::NotAffected), None, None]);
        // Another image's digest: nothing applies, and the statement is said to match nothing.
        let other = Image::of("oci:/tmp/x:latest", &Digest::parse(OTHER).unwrap());
        let packages = vec![OPENSSL.to_string()];
        let out = apply(std::slice::from_ref(&d), &other, &packages, &findings);
        assert!(out.per_finding.iter().all(Option::is_none));
        assert_eq!(out.unused.len(), 1);
        assert!(
            out.unused[0].contains("matches nothing in this image"),
            "{:?}",
            out.unused
        );
        assert!(out.unused[0].contains("#/statements/0"), "{:?}", out.unused);
    }

    #[test]
    fn the_document_digest_is_of_its_bytes() {
        let text = openvex(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "fixed"}"#,
        );
        assert_eq!(doc(&text).digest, Digest::of(text.as_bytes()));
    }

    #[test]
    fn an_image_product_without_subcomponents_covers_every_package_of_that_image() {
        let d = doc(&openvex(&format!(
            r#"{{"vulnerability": {{"name": "CVE-2023-0001"}}, "products": [{{"@id": "{IMAGE}"}}],
              "status": "fixed"}}"#
        )));
        let findings = [
            finding("CVE-2023-0001", &[], &[], OPENSSL),
            finding("CVE-2023-0001", &[], &[], ZLIB),
        ];
        assert_eq!(
            statuses(&[d], &image(), &[OPENSSL, ZLIB], &findings),
            [Some(Status::Fixed), Some(Status::Fixed)]
        );
    }

    #[test]
    fn a_package_product_covers_that_package_in_any_image_by_version_and_qualifiers() {
        let case = |product: &str, installed: &str| -> Option<Status> {
            let d = doc(&openvex(&format!(
                r#"{{"vulnerability": {{"name": "CVE-9"}}, "products": [{{"@id": "{product}"}}],
                  "status": "not_affected", "impact_statement": "not reachable"}}"#
            )));
            statuses(
                &[d],
                &image(),
                &[installed],
                &[finding("CVE-9", &[], &[], installed)],
            )[0]
        };
        let na = Some(Status::NotAffected);
        assert_eq!(case("pkg:deb/debian/openssl", OPENSSL), na);
        assert_eq!(case("pkg:deb/debian/openssl@3.0.11-1~deb12u2", OPENSSL), na);
        assert_eq!(
            case("pkg:deb/debian/openssl@3.0.11-1~deb12u1", OPENSSL),
            None,
            "other version"
        );
        assert_eq!(case("pkg:deb/debian/openssl?arch=amd64", OPENSSL), na);
        assert_eq!(
            case("pkg:deb/debian/openssl?arch=arm64", OPENSSL),
            None,
            "other arch"
        );
        assert_eq!(
            case("pkg:deb/debian/openssl?distro=debian-11", OPENSSL),
            None,
            "other distro"
        );
        assert_eq!(
            case("pkg:deb/ubuntu/openssl", OPENSSL),
            None,
            "other namespace"
        );
        assert_eq!(case("pkg:apk/debian/openssl", OPENSSL), None, "other type");
        // The installed purl lacks a qualifier the statement demands: no match.
        assert_eq!(
            case("pkg:pypi/pyyaml?arch=amd64", "pkg:pypi/pyyaml@6.0"),
            None
        );
        // PyPI names compare by PEP 503.
        assert_eq!(case("pkg:pypi/PyYAML@6.0", "pkg:pypi/pyyaml@6.0"), na);
        assert_eq!(
            case("pkg:pypi/zope.interface", "pkg:pypi/zope-interface@5"),
            na
        );
        // A CPE cannot be matched: nothing.
        assert_eq!(
            case("cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*", OPENSSL),
            None
        );
    }

    #[test]
    fn the_vulnerability_matches_by_id_alias_or_the_upstream_chain() {
        let d = doc(&openvex(
            r#"{"vulnerability": {"name": "CVE-2023-4911", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
              "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "not_affected",
              "justification": "component_not_present"}"#,
        ));
        let findings = [
            finding("cve-2023-4911", &[], &[], OPENSSL),
            finding("DSA-5514-1", &["CVE-2023-4911"], &[], OPENSSL),
            finding(
                "USN-6553-1",
                &[],
                &["UBUNTU-CVE-2023-4911", "CVE-2023-4911"],
                OPENSSL,
            ),
            finding("OSV-1", &["GHSA-aaaa-bbbb-cccc"], &[], OPENSSL),
            finding("CVE-2023-4912", &["CVE-2023-49111"], &[], OPENSSL),
        ];
        let na = Some(Status::NotAffected);
        assert_eq!(
            statuses(&[d], &image(), &[OPENSSL], &findings),
            [na, na, na, na, None]
        );
    }

    #[test]
    fn the_latest_statement_wins_by_timestamp_then_order() {
        let st = |status: &str, ts: &str| {
            format!(
                r#"{{"vulnerability": {{"name": "CVE-1"}}, "products": [{{"@id": "pkg:deb/debian/openssl"}}],
                  "status": "{status}", "justification": "component_not_present",
                  "action_statement": "upgrade"{ts}}}"#
            )
        };
        let f = [finding("CVE-1", &[], &[], OPENSSL)];
        let run = |body: String| statuses(&[doc(&openvex(&body))], &image(), &[OPENSSL], &f)[0];
        let t = |s: &str| format!(r#", "timestamp": "{s}""#);
        // Later in time wins, whatever the order.
        let body = format!(
            "{},{}",
            st("affected", &t("2026-11-03T00:00:00Z")),
            st("not_affected", &t("2026-11-02T00:00:00Z"))
        );
        assert_eq!(run(body), Some(Status::Affected));
        let body = format!(
            "{},{}",
            st("affected", &t("2026-11-02T00:00:00Z")),
            st("not_affected", &t("2026-11-03T00:00:00Z"))
        );
        assert_eq!(run(body), Some(Status::NotAffected));
        // Same time (the document's): the later statement wins.
        let body = format!(
            "{},{}",
            st("not_affected", ""),
            st("under_investigation", "")
        );
        assert_eq!(run(body), Some(Status::UnderInvestigation));
        let body = format!(
            "{},{}",
            st("under_investigation", ""),
            st("not_affected", "")
        );
        assert_eq!(run(body), Some(Status::NotAffected));
    }

    #[test]
    fn repository_and_tag_qualifiers_of_an_image_purl_must_match() {
        let img = Image::of("ghcr.io/acme/app:1.2", &Digest::parse(IMAGE).unwrap());
        let case = |product: &str, img: &Image| {
            let d = doc(&openvex(&format!(
                r#"{{"vulnerability": {{"name": "CVE-1"}}, "products": [{{"@id": "{product}"}}], "status": "fixed"}}"#
            )));
            statuses(
                &[d],
                img,
                &[OPENSSL],
                &[finding("CVE-1", &[], &[], OPENSSL)],
            )[0]
        };
        let fixed = Some(Status::Fixed);
        assert_eq!(
            case(
                &format!("pkg:oci/app@{IMAGE}?repository_url=ghcr.io/acme/app"),
                &img
            ),
            fixed
        );
        assert_eq!(
            case(
                &format!("pkg:oci/app@{IMAGE}?repository_url=ghcr.io/other/app"),
                &img
            ),
            None
        );
        assert_eq!(
            case(&format!("pkg:oci/other@{IMAGE}"), &img),
            None,
            "name differs"
        );
        assert_eq!(
            case("pkg:oci/app?tag=1.2", &img),
            fixed,
            "by name and tag, no digest"
        );
        assert_eq!(case("pkg:oci/app?tag=1.3", &img), None);
        assert_eq!(
            case(&format!("pkg:oci/app@{IMAGE}?arch=amd64"), &img),
            None,
            "unknown qualifier"
        );
        // A local layout has no repository: a digest decides, a name alone cannot.
        assert_eq!(case(&format!("pkg:oci/whatever@{IMAGE}"), &image()), fixed);
        assert_eq!(case("pkg:oci/app", &image()), None);
    }

    #[test]
    fn a_statement_that_names_a_package_without_a_finding_is_said_too() {
        let d = doc(&openvex(
            r#"{"vulnerability": {"name": "CVE-7"}, "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "fixed"},
               {"vulnerability": {"name": "CVE-7"}, "products": [{"@id": "pkg:npm/left-pad@1.0.0"}], "status": "fixed"}"#,
        ));
        let out = apply(&[d], &image(), &[OPENSSL.to_string()], &[]);
        assert_eq!(out.unused.len(), 2, "{:?}", out.unused);
        assert!(
            out.unused[0].contains("#/statements/0")
                && out.unused[0].contains("no finding of CVE-7"),
            "{:?}",
            out.unused
        );
        assert!(
            out.unused[1].contains("pkg:npm/left-pad@1.0.0 is not in it"),
            "{:?}",
            out.unused
        );
    }

    #[test]
    fn bad_openvex_is_refused_with_where_and_a_hint() {
        let e = err(&openvex(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "fixed"},
               {"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "not_affected"}"#,
        ));
        assert!(
            e.contains("`/statements/1`")
                && e.contains("neither `justification` nor `impact_statement`")
                && e.contains("hint: say why"),
            "{e}"
        );
        let e = err(&openvex(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "notaffected"}"#,
        ));
        assert!(
            e.contains("`/statements/0/status`") && e.contains("unknown status `notaffected`"),
            "{e}"
        );
        let e = err(&openvex(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "not_affected", "justification": "trust_me"}"#,
        ));
        assert!(e.contains("unknown justification `trust_me`"), "{e}");
        let e = err(&openvex(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [], "status": "fixed"}"#,
        ));
        assert!(e.contains("names no product"), "{e}");
        let e = err(&openvex(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:"}], "status": "fixed"}"#,
        ));
        assert!(
            e.contains("`/statements/0/products/0`") && e.contains("not a valid package URL"),
            "{e}"
        );
        let e = err(&openvex(
            r#"{"products": [{"@id": "pkg:deb/debian/openssl"}], "status": "fixed"}"#,
        ));
        assert!(e.contains("names no vulnerability"), "{e}");
        let e = err(&openvex("").replace("v0.2.0", "v0.0.1"));
        assert!(
            e.contains("`/@context`") && e.contains("not OpenVEX v0.2") && e.contains("hint:"),
            "{e}"
        );
        let e = err(&openvex("").replace(r#""timestamp": "2026-11-01T00:00:00Z","#, ""));
        assert!(e.contains("no `timestamp`"), "{e}");
        let e = err(&openvex("").replace("2026-11-01T00:00:00Z", "yesterday"));
        assert!(
            e.contains("`/timestamp`") && e.contains("not an RFC 3339 time"),
            "{e}"
        );
        let full = openvex(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "fixed"}"#,
        );
        let e = err(&full[..full.len() / 2]);
        assert!(
            e.contains("not valid JSON (line") && e.contains("truncated"),
            "{e}"
        );
        let e = err(r#"{"statements": []}"#);
        assert!(e.contains("neither OpenVEX"), "{e}");
    }

    #[test]
    fn affected_without_an_action_statement_is_used_with_a_warning() {
        let d = doc(&openvex(
            r#"{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:deb/debian/openssl"}], "status": "affected"}"#,
        ));
        assert_eq!(d.warnings.len(), 1);
        assert!(
            d.warnings[0].contains("no `action_statement`"),
            "{:?}",
            d.warnings
        );
        let f = [finding("CVE-1", &[], &[], OPENSSL)];
        assert_eq!(
            statuses(&[d], &image(), &[OPENSSL], &f),
            [Some(Status::Affected)]
        );
        assert!(!Status::Affected.suppresses() && !Status::UnderInvestigation.suppresses());
        assert!(Status::NotAffected.suppresses() && Status::Fixed.suppresses());
    }

    #[test]
    fn a_missing_file_is_an_error_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(&dir.path().join("none.json"), "vex/none.json").unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot read VEX document `vex/none.json`"),
            "{e}"
        );
        assert_eq!(e.exit_code(), crate::error::ExitCode::Usage);
    }

    fn cyclonedx(vulns: &str) -> String {
        format!(
            r#"{{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
            "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
            "metadata": {{"timestamp": "2026-11-01T00:00:00Z", "authors": [{{"name": "Acme"}}],
              "component": {{"type": "container", "bom-ref": "image", "name": "app", "purl": "pkg:oci/app@{IMAGE}"}}}},
            "components": [{{"type": "library", "bom-ref": "openssl-ref", "name": "openssl", "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2"}},
              {{"type": "library", "bom-ref": "nopurl", "name": "x"}}],
            "vulnerabilities": [{vulns}]}}"#
        )
    }

    #[test]
    fn cyclonedx_vex_resolves_bom_refs_and_maps_states() {
        let d = doc(&cyclonedx(
            r#"{"id": "CVE-1", "references": [{"id": "GHSA-x", "source": {"name": "GitHub"}}],
                "analysis": {"state": "not_affected", "justification": "code_not_reachable", "detail": "never called"},
                "affects": [{"ref": "openssl-ref"}]},
               {"id": "CVE-2", "analysis": {"state": "exploitable", "response": ["update"]},
                "affects": [{"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#openssl-ref"}]},
               {"id": "CVE-3", "analysis": {"state": "resolved"}, "affects": [{"ref": "image"}]},
               {"id": "CVE-4", "analysis": {"state": "in_triage"}, "affects": [{"ref": "pkg:deb/debian/zlib1g"}]}"#,
        ));
        assert_eq!(d.format, Format::CycloneDx);
        assert_eq!(d.author.as_deref(), Some("Acme"));
        assert_eq!(d.statements[1].action_statement.as_deref(), Some("update"));
        let findings = [
            finding("OSV-1", &["GHSA-x"], &[], OPENSSL),
            finding("CVE-2", &[], &[], OPENSSL),
            finding("CVE-3", &[], &[], ZLIB),
            finding("CVE-4", &[], &[], ZLIB),
            finding("CVE-1", &[], &[], ZLIB),
        ];
        assert_eq!(
            statuses(&[d], &image(), &[OPENSSL, ZLIB], &findings),
            [
                Some(Status::NotAffected),
                Some(Status::Affected),
                Some(Status::Fixed),
                Some(Status::UnderInvestigation),
                None
            ]
        );
    }

    #[test]
    fn bad_cyclonedx_is_refused_with_where_and_a_hint() {
        let e = err(&cyclonedx(
            r#"{"id": "CVE-1", "analysis": {"state": "not_affected", "justification": "code_not_reachable"}, "affects": [{"ref": "opensssl-ref"}]}"#,
        ));
        assert!(
            e.contains("`/vulnerabilities/0/affects/0/ref`")
                && e.contains("bom-ref `opensssl-ref` names no component")
                && e.contains("hint: check the `bom-ref`"),
            "{e}"
        );
        let e = err(&cyclonedx(
            r#"{"id": "CVE-1", "analysis": {"state": "resolved"}, "affects": [{"ref": "nopurl"}]}"#,
        ));
        assert!(e.contains("component `nopurl` has no `purl`"), "{e}");
        let e = err(&cyclonedx(
            r#"{"id": "CVE-1", "analysis": {"state": "resolved"}, "affects": [{"ref": "urn:cdx:00000000-0000-0000-0000-000000000000/1#openssl-ref"}]}"#,
        ));
        assert!(e.contains("links into another BOM"), "{e}");
        let e = err(&cyclonedx(
            r#"{"id": "CVE-1", "analysis": {"state": "not_affected"}, "affects": [{"ref": "openssl-ref"}]}"#,
        ));
        assert!(
            e.contains("`/vulnerabilities/0/analysis`")
                && e.contains("neither `justification` nor `detail`"),
            "{e}"
        );
        let e = err(&cyclonedx(
            r#"{"id": "CVE-1", "analysis": {"state": "fine"}, "affects": [{"ref": "openssl-ref"}]}"#,
        ));
        assert!(e.contains("unknown state `fine`"), "{e}");
        let e = err(&cyclonedx(
            r#"{"id": "CVE-1", "affects": [{"ref": "openssl-ref"}]}"#,
        ));
        assert!(e.contains("has no `analysis`"), "{e}");
        let e = err(&cyclonedx(
            r#"{"id": "CVE-1", "analysis": {"state": "resolved"}, "affects": [{"ref": "openssl-ref", "versions": [{"version": "1", "status": "unaffected"}]}]}"#,
        ));
        assert!(e.contains("`versions` ranges are not read"), "{e}");
        let e = err(&cyclonedx("").replace(r#""specVersion": "1.5""#, r#""specVersion": "1.3""#));
        assert!(e.contains("carries no VEX"), "{e}");
    }
}
