//! Attack cases: evidence. Forged, garbled, misplaced and piled-up signatures and attestations,
//! references that promise another digest, and a store whose blobs were tampered with. Evidence
//! is crafted with the library's own signing functions and written straight into the layout,
//! then the real binary judges it.

use cleanpipe::oci::types::{Descriptor, Digest, Manifest, MEDIA_OCI_MANIFEST};
use cleanpipe::oci::Layout;
use cleanpipe::sign::attest::{
    self, DSSE_MEDIA_TYPE, PREDICATE_SLSA_PROVENANCE_V1, PREDICATE_SPDX, PREDICATE_TYPE_ANNOTATION,
    PREDICATE_VULN, SIGNER_ANNOTATION,
};
use cleanpipe::sign::cosign::{
    signature_manifest, simple_signing_payload, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
};
use cleanpipe::sign::keys::{KeySource, SigningKey};

use crate::support::*;

const LAYOUT: &str = "oci:.cleanpipe/oci:v1";

/// A scratch image built, scanned (nothing found), signed and attested into the layout, tagged
/// `v1`: (repo, digest). Its `.att` holds SPDX, CycloneDX, the scan and provenance, in that order.
pub(super) fn built() -> (Repo, Digest) {
    let repo = scratch_repo(None, &["v1"]);
    osv_dir(&repo);
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: hello.txt\n        dest: /hello.txt\n  scan:\n    db: osv\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let digest = Digest::parse(r.last_line().rsplit('@').next().unwrap()).unwrap();
    (repo, digest)
}

fn layout(repo: &Repo) -> Layout {
    Layout::open(repo.path().join(".cleanpipe/oci")).unwrap()
}

/// The key `NAME.key` of `repo` (password `pw` unless `NAME` is `other`, made here with `x`).
fn key(repo: &Repo, name: &str) -> SigningKey {
    let pw = if name == "cosign" { "pw" } else { "x" };
    if !repo.path().join(format!("{name}.key")).exists() {
        repo.keygen(name, pw);
    }
    let path = repo.path().join(format!("{name}.key"));
    let pem = std::fs::read(&path).unwrap();
    SigningKey::load(&pem, &KeySource::File(path), &|| {
        Ok(zeroize::Zeroizing::new(pw.to_string()))
    })
    .unwrap()
}

pub(super) fn verify(repo: &Repo, extra: &[&str]) -> Run {
    let mut args = vec!["verify", LAYOUT, "--key", "cosign.pub"];
    args.extend_from_slice(extra);
    repo.cleanpipe(&args)
}

fn verify_json(repo: &Repo, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut args = vec!["--output", "json"];
    args.extend_from_slice(extra);
    let r = verify(repo, &args);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: not a JSON verdict:\n{}\n{}", r.stdout, r.stderr));
    (r, v)
}

/// The layers of the layout's `.sig` or `.att` manifest of `digest`.
fn layers(layout: &Layout, digest: &Digest, suffix: &str) -> Vec<Descriptor> {
    let tag = digest.cosign_tag(suffix);
    let desc = layout.resolve_tag(&tag).unwrap().unwrap();
    Manifest::from_slice(&layout.read_blob(&desc.digest).unwrap(), &tag)
        .unwrap()
        .layers
}

/// Replace the layout's `.sig` or `.att` manifest of `digest` with one holding `layers`.
fn set_layers(layout: &Layout, digest: &Digest, suffix: &str, layers: Vec<Descriptor>) {
    let (manifest, config) = signature_manifest(layers);
    layout.write_blob(&config).unwrap();
    layout.write_blob(&manifest).unwrap();
    layout
        .set_tag(
            &digest.cosign_tag(suffix),
            &Descriptor::of(MEDIA_OCI_MANIFEST, &manifest),
        )
        .unwrap();
}

/// Point the `.sig`/`.att` tag of `digest` at arbitrary bytes stored as a blob.
fn set_raw_manifest(layout: &Layout, digest: &Digest, suffix: &str, bytes: &[u8]) {
    layout.write_blob(bytes).unwrap();
    layout
        .set_tag(
            &digest.cosign_tag(suffix),
            &Descriptor::of(MEDIA_OCI_MANIFEST, bytes),
        )
        .unwrap();
}

/// A signature layer over `payload` made with `key`, stored in the layout.
fn sig_layer(layout: &Layout, payload: &[u8], key: &SigningKey) -> Descriptor {
    layout.write_blob(payload).unwrap();
    let mut d = Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, payload);
    d.annotations.insert(
        SIGNATURE_ANNOTATION.into(),
        key.sign_base64(payload).unwrap(),
    );
    d
}

/// An attestation layer: `envelope` stored as a blob, annotated `annotated`.
fn att_layer(layout: &Layout, envelope: &[u8], annotated: &str, key: &SigningKey) -> Descriptor {
    layout.write_blob(envelope).unwrap();
    let mut d = Descriptor::of(DSSE_MEDIA_TYPE, envelope);
    d.annotations
        .insert(PREDICATE_TYPE_ANNOTATION.into(), annotated.into());
    d.annotations
        .insert(SIGNATURE_ANNOTATION.into(), String::new());
    d.annotations.insert(
        SIGNER_ANNOTATION.into(),
        key.public_key().fingerprint().to_string(),
    );
    d
}

/// A correctly signed attestation of `predicate` about `subject`, as a layer.
fn signed_att(
    layout: &Layout,
    subject: &Digest,
    predicate_type: &str,
    predicate: serde_json::Value,
    key: &SigningKey,
) -> Descriptor {
    let st = attest::statement("test/app", subject, predicate_type, &predicate);
    let env = attest::envelope(&st, key).unwrap();
    att_layer(layout, &env, predicate_type, key)
}

/// A DSSE envelope over arbitrary statement bytes, signed over PAE with `key`.
fn envelope_of(statement: &serde_json::Value, key: &SigningKey) -> Vec<u8> {
    attest::envelope(&serde_json::to_vec(statement).unwrap(), key).unwrap()
}

/// Keep only the `.att` layers of these predicate types (drop the rest of the real run's).
fn keep_att_types(layout: &Layout, digest: &Digest, types: &[&str]) -> Vec<Descriptor> {
    layers(layout, digest, "att")
        .into_iter()
        .filter(|l| types.contains(&l.annotations[PREDICATE_TYPE_ANNOTATION].as_str()))
        .collect()
}

/// cosign's vuln predicate carrying an external scanner's report in `scanner.result`.
pub(super) fn cosign_vuln(scanner_uri: &str, result: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": scanner_uri, "version": "1", "db": {"uri": "", "version": ""}, "result": result},
        "metadata": {"scanStartedOn": "2026-01-01T00:00:00Z", "scanFinishedOn": "2026-01-01T00:00:01Z"}
    })
}

/// cleanpipe's own vuln predicate shape with the given findings.
fn cleanpipe_vuln(findings: serde_json::Value) -> serde_json::Value {
    cosign_vuln(
        "https://cleanpipe.dev/scanner",
        serde_json::json!({"scanner": "cleanpipe", "findings": findings,
            "coverage": {"ecosystems": [], "unchecked": 0, "complete": true,
                "database_completeness": "unknown"}}),
    )
}

fn trivy_report(severity: &str) -> serde_json::Value {
    serde_json::json!({"SchemaVersion": 2, "ArtifactName": "x", "Results": [{
        "Target": "x (debian 12.5)", "Class": "os-pkgs", "Type": "debian",
        "Vulnerabilities": [{"VulnerabilityID": "CVE-2023-45853", "PkgName": "zlib1g",
            "InstalledVersion": "1:1.2.13.dfsg-1", "Severity": severity}]}]})
}

/// Replace the scan attestation of the real run with `predicate` (signed with our key).
pub(super) fn with_scan(repo: &Repo, digest: &Digest, predicate: serde_json::Value) -> Descriptor {
    let layout = layout(repo);
    let k = key(repo, "cosign");
    let mut l = keep_att_types(&layout, digest, &[PREDICATE_SLSA_PROVENANCE_V1]);
    let scan = signed_att(&layout, digest, PREDICATE_VULN, predicate, &k);
    l.push(scan.clone());
    set_layers(&layout, digest, "att", l);
    scan
}

pub(super) fn assert_not_verified(r: &Run, needles: &[&str]) {
    r.expect_code(1).expect_stderr("NOT VERIFIED");
    for n in needles {
        r.expect_stderr(n);
    }
}

// ---- signature layers -------------------------------------------------------------------

#[test]
fn garbled_signature_annotation_is_not_verified() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let mut l = layers(&layout, &digest, "sig");
    l[0].annotations
        .insert(SIGNATURE_ANNOTATION.into(), "!!not base64!!".into());
    set_layers(&layout, &digest, "sig", l);
    let r = verify(&repo, &[]);
    assert_not_verified(
        &r,
        &["[FAIL] signature: does not verify with key cosign.pub"],
    );
    assert!(
        r.stdout.trim().is_empty(),
        "no digest on stdout: {}",
        r.stdout
    );
}

#[test]
fn signature_with_another_critical_type_is_refused() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let k = key(&repo, "cosign");
    let payload = String::from_utf8(simple_signing_payload("test/app", &digest))
        .unwrap()
        .replace(
            "cosign container image signature",
            "cosign container image attestation",
        );
    let l = vec![sig_layer(&layout, payload.as_bytes(), &k)];
    set_layers(&layout, &digest, "sig", l);
    let r = verify(&repo, &[]);
    assert_not_verified(
        &r,
        &[
            "[ok] signature: valid for key cosign.pub",
            "[FAIL] payload type: `critical.type` is `cosign container image attestation`",
        ],
    );
}

#[test]
fn signed_payload_for_another_digest_is_not_verified() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let k = key(&repo, "cosign");
    let other = Digest::of(b"another image");
    let l = vec![sig_layer(
        &layout,
        &simple_signing_payload("test/app", &other),
        &k,
    )];
    set_layers(&layout, &digest, "sig", l);
    assert_not_verified(
        &verify(&repo, &[]),
        &[&format!("payload is for {other}, not {digest}")],
    );
}

#[test]
fn unsigned_extra_signature_layer_is_flagged_and_alone_verifies_nothing() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let good = layers(&layout, &digest, "sig");
    let payload = simple_signing_payload("evil.example/app", &digest);
    layout.write_blob(&payload).unwrap();
    let unsigned = Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, &payload);
    // Beside a good signature: still verified, the extra layer is a named failure.
    set_layers(
        &layout,
        &digest,
        "sig",
        vec![good[0].clone(), unsigned.clone()],
    );
    let (r, v) = verify_json(&repo, &[]);
    r.expect_code(0);
    assert_eq!(v["signatures"]["signatures"][0]["verified"], true);
    assert_eq!(v["signatures"]["signatures"][1]["verified"], false);
    // Alone: nothing verifies.
    set_layers(&layout, &digest, "sig", vec![unsigned]);
    assert_not_verified(
        &verify(&repo, &[]),
        &[
            "the layer has no signature annotation",
            "none of 1 signature(s)",
        ],
    );
}

#[test]
fn more_than_1000_signature_layers_is_not_verified() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let good = layers(&layout, &digest, "sig").remove(0);
    // The good signature is the 1001st: it must not be silently dropped, nor trusted.
    let mut l = vec![Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, b"junk"); 1000];
    l.push(good);
    set_layers(&layout, &digest, "sig", l);
    assert_not_verified(
        &verify(&repo, &[]),
        &["holds 1001 signature layers, more than the 1000 cosign reads"],
    );
}

#[test]
fn signing_refuses_to_pass_1000_layers() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let mut l = layers(&layout, &digest, "sig");
    l.extend(vec![
        Descriptor::of(SIMPLE_SIGNING_MEDIA_TYPE, b"junk");
        999
    ]);
    set_layers(&layout, &digest, "sig", l);
    let before = layout.resolve_tag(&digest.cosign_tag("sig")).unwrap();
    key(&repo, "other");
    repo.cleanpipe_env(
        &["sign", LAYOUT, "--key", "other.key"],
        &[("COSIGN_PASSWORD", "x")],
    )
    .expect_code(1)
    .expect_stderr("would hold 1001 layers, more than the 1000 cosign accepts")
    .expect_stderr("hint:");
    assert_eq!(
        layout.resolve_tag(&digest.cosign_tag("sig")).unwrap(),
        before
    );
}

#[test]
fn malformed_signature_manifest_is_not_verified_exit_1() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    set_raw_manifest(
        &layout,
        &digest,
        "sig",
        b"{\"schemaVersion\":2,\"layers\":7}",
    );
    let r = verify(&repo, &[]);
    assert_not_verified(&r, &["signature manifest", "is malformed"]);
    // An index where the signature manifest should be: the same verdict, not a usage error.
    set_raw_manifest(
        &layout,
        &digest,
        "sig",
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
    );
    assert_not_verified(&verify(&repo, &[]), &["is malformed"]);
}

#[test]
fn corrupt_signature_and_attestation_manifest_blobs_are_not_verified() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let att = layout
        .resolve_tag(&digest.cosign_tag("att"))
        .unwrap()
        .unwrap();
    std::fs::write(layout.blob_path(&att.digest), b"{}").unwrap();
    assert_not_verified(
        &verify(&repo, &[]),
        &[
            "policy [FAIL] attestations: the attestation manifest",
            "is corrupt",
        ],
    );
    let sig = layout
        .resolve_tag(&digest.cosign_tag("sig"))
        .unwrap()
        .unwrap();
    std::fs::write(layout.blob_path(&sig.digest), b"{}").unwrap();
    assert_not_verified(
        &verify(&repo, &[]),
        &["the signature manifest", "cannot be read", "is corrupt"],
    );
}

// ---- attestations -----------------------------------------------------------------------

#[test]
fn malformed_attestation_manifest_is_not_verified_exit_1() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    set_raw_manifest(&layout, &digest, "att", b"not json at all");
    // No policy asks for an attestation, yet an unreadable `.att` is not a pass.
    assert_not_verified(
        &verify(&repo, &[]),
        &[
            "policy [FAIL] attestations",
            "attestation manifest",
            "is malformed",
        ],
    );
}

#[test]
fn provenance_signed_by_another_key_does_not_count() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let other = key(&repo, "other");
    let mut l = keep_att_types(&layout, &digest, &[PREDICATE_SPDX]);
    l.push(signed_att(
        &layout,
        &digest,
        PREDICATE_SLSA_PROVENANCE_V1,
        serde_json::json!({"runDetails": {"builder": {"id": "https://evil.example"}}}),
        &other,
    ));
    set_layers(&layout, &digest, "att", l);
    let r = verify(&repo, &["--require-provenance"]);
    assert_not_verified(
        &r,
        &[
            "[not used] no signature verifies with cosign.pub",
            "policy [FAIL] provenance: no SLSA v1 provenance attestation verifies with a trusted signer (1 signed by another signer or not at all)",
        ],
    );
}

#[test]
fn dsse_signature_not_over_pae_is_rejected() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let k = key(&repo, "cosign");
    let st = attest::statement(
        "test/app",
        &digest,
        PREDICATE_SLSA_PROVENANCE_V1,
        &serde_json::json!({}),
    );
    // Signed over the bare statement instead of PAE(payloadType, statement).
    let env = serde_json::to_vec(&attest::Envelope {
        payload_type: attest::INTOTO_PAYLOAD_TYPE.into(),
        payload: base64_encode(&st),
        signatures: vec![attest::EnvelopeSignature {
            keyid: String::new(),
            sig: k.sign_base64(&st).unwrap(),
        }],
    })
    .unwrap();
    let l = vec![att_layer(&layout, &env, PREDICATE_SLSA_PROVENANCE_V1, &k)];
    set_layers(&layout, &digest, "att", l);
    let (r, v) = verify_json(&repo, &["--require-provenance"]);
    r.expect_code(1);
    assert_eq!(v["verified"], false);
    assert_eq!(v["attestations"][0]["outcome"], "not-this-key");
    assert_eq!(v["policy"][1]["name"], "provenance");
    assert_eq!(v["policy"][1]["passed"], false);
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn our_attestation_about_another_subject_fails_even_beside_a_good_one() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let k = key(&repo, "cosign");
    let mut l = layers(&layout, &digest, "att");
    let stray = signed_att(
        &layout,
        &Digest::of(b"another image"),
        PREDICATE_SLSA_PROVENANCE_V1,
        serde_json::json!({}),
        &k,
    );
    l.push(stray.clone());
    set_layers(&layout, &digest, "att", l);
    let r = verify(&repo, &["--require-provenance"]);
    assert_not_verified(
        &r,
        &[
            &format!("the statement is not about {digest}"),
            &format!(
                "policy [FAIL] provenance: attestation layer 4, {}",
                stray.digest
            ),
            "fails its own check",
        ],
    );
    // Without a policy on provenance the verdict does not depend on it.
    verify(&repo, &["--require-sbom"])
        .expect_code(0)
        .expect_stderr("policy [ok] SBOM");
}

#[test]
fn predicate_type_annotation_mismatch_fails_both_types() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let k = key(&repo, "cosign");
    let mut l = layers(&layout, &digest, "att");
    // Our signed SPDX statement, labelled as provenance.
    let st = attest::statement("test/app", &digest, PREDICATE_SPDX, &serde_json::json!({}));
    l.push(att_layer(
        &layout,
        &attest::envelope(&st, &k).unwrap(),
        PREDICATE_SLSA_PROVENANCE_V1,
        &k,
    ));
    set_layers(&layout, &digest, "att", l);
    let expect = "annotation `https://slsa.dev/provenance/v1` differs from the statement's `https://spdx.dev/Document`";
    assert_not_verified(
        &verify(&repo, &["--require-provenance"]),
        &[expect, "policy [FAIL] provenance"],
    );
    assert_not_verified(
        &verify(&repo, &["--require-sbom"]),
        &[expect, "policy [FAIL] SBOM"],
    );
}

#[test]
fn statement_whose_type_is_not_in_toto_statement_is_refused() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let k = key(&repo, "cosign");
    let mut l = keep_att_types(&layout, &digest, &[PREDICATE_SPDX]);
    let st = serde_json::json!({
        "_type": "https://in-toto.io/Bundle/v1",
        "subject": [{"name": "test/app", "digest": {"sha256": digest.hex()}}],
        "predicateType": PREDICATE_SLSA_PROVENANCE_V1,
        "predicate": {}
    });
    l.push(att_layer(
        &layout,
        &envelope_of(&st, &k),
        PREDICATE_SLSA_PROVENANCE_V1,
        &k,
    ));
    set_layers(&layout, &digest, "att", l);
    assert_not_verified(
        &verify(&repo, &["--require-provenance"]),
        &["`_type` is `https://in-toto.io/Bundle/v1`, not an in-toto Statement"],
    );
    // cosign's legacy v0.1 statements are read.
    let mut l = keep_att_types(&layout, &digest, &[PREDICATE_SPDX]);
    let mut v01 = st.clone();
    v01["_type"] = "https://in-toto.io/Statement/v0.1".into();
    l.push(att_layer(
        &layout,
        &envelope_of(&v01, &k),
        PREDICATE_SLSA_PROVENANCE_V1,
        &k,
    ));
    set_layers(&layout, &digest, "att", l);
    verify(&repo, &["--require-provenance"]).expect_code(0);
}

#[test]
fn cosign_vuln_predicate_with_trivy_critical_fails_fail_on_high() {
    let (repo, digest) = built();
    let scan = with_scan(
        &repo,
        &digest,
        cosign_vuln(
            "pkg:github/aquasecurity/trivy@v0.56.2",
            trivy_report("CRITICAL"),
        ),
    );
    assert_not_verified(
        &verify(&repo, &["--fail-on", "high", "--allow-incomplete-coverage"]),
        &[
            "policy [FAIL] vulnerabilities: at or above the threshold: CVE-2023-45853 (critical) in zlib1g",
            &scan.digest.to_string(),
        ],
    );
    // The same report with a low finding is read and passes.
    with_scan(
        &repo,
        &digest,
        cosign_vuln("pkg:github/aquasecurity/trivy@v0.56.2", trivy_report("LOW")),
    );
    verify(&repo, &["--fail-on", "high", "--allow-incomplete-coverage"])
        .expect_code(0)
        .expect_stderr("1 attested finding(s)");
}

#[test]
fn cosign_vuln_predicate_with_grype_high_fails_fail_on_high() {
    let (repo, digest) = built();
    with_scan(
        &repo,
        &digest,
        cosign_vuln(
            "pkg:github/anchore/grype@v0.80.0",
            serde_json::json!({"matches": [{
                "vulnerability": {"id": "GHSA-35jh-r3h4-6jhm", "severity": "High"},
                "artifact": {"name": "lodash", "version": "4.17.11", "type": "npm"}}],
                "descriptor": {"name": "grype", "version": "0.80.0"}}),
        ),
    );
    assert_not_verified(
        &verify(&repo, &["--fail-on", "high"]),
        &["GHSA-35jh-r3h4-6jhm (high) in lodash 4.17.11"],
    );
}

#[test]
fn scan_findings_of_unexpected_type_fail_instead_of_reading_as_zero() {
    let (repo, digest) = built();
    for (findings, why) in [
        (
            serde_json::json!({"CVE-1": "critical"}),
            "`findings` is not a list of findings",
        ),
        (
            serde_json::json!([{"id": 7, "severity": "critical"}]),
            "`findings` is not a list of findings",
        ),
        (
            serde_json::json!([{"id": "CVE-1", "severity": "SEVERE"}]),
            "has severity `SEVERE`, which is not a severity",
        ),
    ] {
        let scan = with_scan(&repo, &digest, cleanpipe_vuln(findings));
        assert_not_verified(
            &verify(&repo, &["--fail-on", "critical"]),
            &[
                &format!(
                    "policy [FAIL] vulnerabilities: attestation layer 1, {} holds a scan result cleanpipe cannot read",
                    scan.digest
                ),
                why,
            ],
        );
    }
    // A trivy report whose vulnerabilities are not a list.
    with_scan(
        &repo,
        &digest,
        cosign_vuln(
            "trivy",
            serde_json::json!({"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": {"a": 1}}]}),
        ),
    );
    assert_not_verified(
        &verify(&repo, &["--fail-on", "critical"]),
        &["cannot read: as trivy JSON"],
    );
}

#[test]
fn scan_predicate_of_unknown_shape_fails() {
    let (repo, digest) = built();
    with_scan(
        &repo,
        &digest,
        cosign_vuln("acme-scanner", serde_json::json!({"vulns": []})),
    );
    assert_not_verified(
        &verify(&repo, &["--fail-on", "critical"]),
        &["is neither cleanpipe's scan report"],
    );
    with_scan(&repo, &digest, serde_json::json!({"scanner": {}}));
    assert_not_verified(
        &verify(&repo, &["--fail-on", "critical"]),
        &["`predicate.scanner.result` is missing"],
    );
}

#[test]
fn two_trusted_scans_all_must_pass() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let k = key(&repo, "cosign");
    // The run's own (clean) scan plus a second one of ours with a critical finding.
    let mut l = layers(&layout, &digest, "att");
    assert!(l
        .iter()
        .any(|d| d.annotations[PREDICATE_TYPE_ANNOTATION] == PREDICATE_VULN));
    let bad = signed_att(
        &layout,
        &digest,
        PREDICATE_VULN,
        cleanpipe_vuln(
            serde_json::json!([{"id": "CVE-9", "severity": "critical", "package": "p", "version": "1"}]),
        ),
        &k,
    );
    l.push(bad.clone());
    set_layers(&layout, &digest, "att", l);
    let (r, v) = verify_json(&repo, &["--fail-on", "critical"]);
    r.expect_code(1);
    let vulns = v["policy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "vulnerabilities")
        .unwrap();
    assert_eq!(vulns["passed"], false);
    assert_eq!(vulns["attestations"].as_array().unwrap().len(), 2);
    assert!(vulns["detail"].as_str().unwrap().contains(&format!(
        "CVE-9 (critical) in p 1 (attestation layer 4, {})",
        bad.digest
    )));
}

#[test]
fn expired_waiver_inside_an_attested_scan_is_not_honoured() {
    let (repo, digest) = built();
    let finding = |expires: Option<&str>| {
        let mut f = serde_json::json!({"id": "CVE-7", "severity": "critical", "package": "p",
            "version": "1", "waived": "not reachable"});
        if let Some(e) = expires {
            f["waiver_expires"] = e.into();
        }
        cleanpipe_vuln(serde_json::json!([f]))
    };
    with_scan(&repo, &digest, finding(Some("2020-01-31")));
    assert_not_verified(
        &verify(&repo, &["--fail-on", "high"]),
        &[
            "CVE-7 (critical) in p 1",
            "the waiver for CVE-7 expired on 2020-01-31 and no longer applies",
        ],
    );
    with_scan(&repo, &digest, finding(None));
    assert_not_verified(
        &verify(&repo, &["--fail-on", "high"]),
        &["the waiver for CVE-7 carries no valid expiry date"],
    );
    with_scan(&repo, &digest, finding(Some("2999-12-31")));
    verify(&repo, &["--fail-on", "high"])
        .expect_code(0)
        .expect_stderr("none unwaived at or above the threshold");
}

#[test]
fn another_keys_attestation_beside_ours_does_not_block() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let other = key(&repo, "other");
    let mut l = layers(&layout, &digest, "att");
    l.push(signed_att(
        &layout,
        &digest,
        PREDICATE_SLSA_PROVENANCE_V1,
        serde_json::json!({}),
        &other,
    ));
    set_layers(&layout, &digest, "att", l);
    let (r, v) = verify_json(&repo, &["--require-provenance", "--fail-on", "critical"]);
    r.expect_code(0);
    assert_eq!(v["verified"], true);
    assert_eq!(v["attestations"][4]["outcome"], "not-this-key");
}

#[test]
fn unreadable_attestation_layer_fails_the_policy_on_its_type() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let mut l = layers(&layout, &digest, "att");
    let prov = l
        .iter()
        .position(|d| d.annotations[PREDICATE_TYPE_ANNOTATION] == PREDICATE_SLSA_PROVENANCE_V1)
        .unwrap();
    // The provenance envelope's blob is replaced by garbage under its digest name.
    std::fs::write(layout.blob_path(&l[prov].digest), b"garbage").unwrap();
    assert_not_verified(
        &verify(&repo, &["--require-provenance"]),
        &["is corrupt", "policy [FAIL] provenance"],
    );
    // A layer whose media type is not DSSE, labelled as a scan.
    l.remove(prov);
    let mut odd = Descriptor::of("application/json", b"{}");
    odd.annotations
        .insert(PREDICATE_TYPE_ANNOTATION.into(), PREDICATE_VULN.into());
    layout.write_blob(b"{}").unwrap();
    l.push(odd);
    set_layers(&layout, &digest, "att", l);
    assert_not_verified(
        &verify(&repo, &["--fail-on", "critical"]),
        &[
            "media type `application/json` is not a DSSE envelope",
            "policy [FAIL] vulnerabilities",
        ],
    );
}

#[test]
fn more_than_1000_attestation_layers_is_not_verified() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let mut l = layers(&layout, &digest, "att");
    let filler = l[0].clone();
    l.extend(std::iter::repeat_n(filler, 998));
    set_layers(&layout, &digest, "att", l);
    assert_not_verified(
        &verify(&repo, &[]),
        &["holds 1002 attestation layers, more than the 1000 cosign reads"],
    );
}

#[test]
fn attesting_refuses_to_pass_1000_layers_and_writes_nothing() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let mut l = layers(&layout, &digest, "att");
    // Another signer's piled-up layers of a type this run does not replace.
    let mut filler = Descriptor::of(DSSE_MEDIA_TYPE, b"{}");
    filler.annotations.insert(
        PREDICATE_TYPE_ANNOTATION.into(),
        "https://example.com/x".into(),
    );
    layout.write_blob(b"{}").unwrap();
    l.extend(std::iter::repeat_n(filler, 997));
    set_layers(&layout, &digest, "att", l);
    let before = layout.resolve_tag(&digest.cosign_tag("att")).unwrap();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(1)
        .expect_stderr(
            "would hold 1001 layers, more than the 1000 cosign accepts; nothing was written",
        )
        .expect_stderr("hint: remove stale signatures or attestations");
    assert_eq!(
        layout.resolve_tag(&digest.cosign_tag("att")).unwrap(),
        before
    );
}

#[test]
fn verify_names_the_attestation_it_used() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let l = layers(&layout, &digest, "att");
    let (index, prov) = l
        .iter()
        .enumerate()
        .find(|(_, d)| d.annotations[PREDICATE_TYPE_ANNOTATION] == PREDICATE_SLSA_PROVENANCE_V1)
        .unwrap();
    let r = verify(&repo, &["--require-provenance"]);
    r.expect_code(0).expect_stderr(&format!(
        "policy [ok] provenance: SLSA v1 provenance by https://cleanpipe.dev/builders/cli/v1 (attestation layer {index}, {})",
        prov.digest
    ));
    let (_, v) = verify_json(&repo, &["--require-provenance"]);
    let check = v["policy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "provenance")
        .unwrap();
    assert_eq!(check["attestations"][0]["layer"], index);
    assert_eq!(check["attestations"][0]["digest"], prov.digest.as_str());
    assert_eq!(v["attestations"][index]["digest"], prov.digest.as_str());
}

// ---- references and digests -------------------------------------------------------------

#[test]
fn copy_to_a_tag_pinned_to_another_digest_pushes_nothing() {
    let Some(registry) = registry() else { return };
    let (repo, digest) = built();
    let name = unique("attacks/copy-pin");
    let wrong = Digest::of(b"not this image");
    let r = repo.cleanpipe(&["copy", LAYOUT, &format!("{registry}/{name}:v1@{wrong}")]);
    r.expect_code(2)
        .expect_stderr(&format!(
            "names {wrong}, but the source {LAYOUT} is {digest}"
        ))
        .expect_stderr("nothing was pushed");
    assert_eq!(manifest_status(&registry, &name, "v1"), 404);
    assert_eq!(manifest_status(&registry, &name, digest.as_str()), 404);
    assert_eq!(
        manifest_status(&registry, &name, &digest.cosign_tag("sig")),
        404
    );
    // The right digest is accepted.
    repo.cleanpipe(&["copy", LAYOUT, &format!("{registry}/{name}:v1@{digest}")])
        .expect_code(0);
    assert_eq!(manifest_status(&registry, &name, "v1"), 200);
}

/// The `.att` manifest of `digest` in the registry, parsed.
fn registry_att(registry: &str, name: &str, digest: &Digest) -> Manifest {
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!(
            "http://{registry}/v2/{name}/manifests/{}",
            digest.cosign_tag("att")
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "no .att manifest in the registry");
    Manifest::from_slice(&out.stdout, "registry .att").unwrap()
}

fn types_of(layers: &[Descriptor]) -> Vec<String> {
    let mut t: Vec<String> = layers
        .iter()
        .map(|l| l.annotations[PREDICATE_TYPE_ANNOTATION].clone())
        .collect();
    t.sort();
    t
}

#[test]
fn three_reruns_leave_one_attestation_per_type_in_registry_and_layout() {
    let Some(registry) = registry() else { return };
    let name = unique("attacks/rerun");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let mut digest = None;
    for _ in 0..3 {
        let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
        r.expect_code(0);
        digest = Some(Digest::parse(r.last_line().rsplit('@').next().unwrap()).unwrap());
    }
    let digest = digest.unwrap();
    let expected = vec![
        "https://cyclonedx.org/bom".to_string(),
        "https://slsa.dev/provenance/v1".to_string(),
        "https://spdx.dev/Document".to_string(),
    ];
    assert_eq!(
        types_of(&registry_att(&registry, &name, &digest).layers),
        expected
    );
    assert_eq!(types_of(&layers(&layout(&repo), &digest, "att")), expected);
    // What verify reads from the registry is the same single provenance.
    let att = registry_att(&registry, &name, &digest);
    let prov = att
        .layers
        .iter()
        .position(|l| l.annotations[PREDICATE_TYPE_ANNOTATION] == PREDICATE_SLSA_PROVENANCE_V1)
        .unwrap();
    repo.cleanpipe(&[
        "verify",
        &format!("{registry}/{name}:v1"),
        "--key",
        "cosign.pub",
        "--require-provenance",
    ])
    .expect_code(0)
    .expect_stderr(&format!(
        "(attestation layer {prov}, {})",
        att.layers[prov].digest
    ));
}

#[test]
fn rerun_keeps_another_keys_attestation_in_the_registry() {
    let Some(registry) = registry() else { return };
    let name = unique("attacks/rerun-other");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let digest = Digest::parse(r.last_line().rsplit('@').next().unwrap()).unwrap();
    let layout = layout(&repo);
    let other = key(&repo, "other");
    repo.commit();
    // A second signer's provenance reaches the registry (through a copy of the layout) ...
    let ours = layers(&layout, &digest, "att");
    let mut with_other = ours.clone();
    let theirs = signed_att(
        &layout,
        &digest,
        PREDICATE_SLSA_PROVENANCE_V1,
        serde_json::json!({}),
        &other,
    );
    with_other.push(theirs.clone());
    set_layers(&layout, &digest, "att", with_other);
    repo.cleanpipe(&["copy", LAYOUT, &format!("{registry}/{name}:v1")])
        .expect_code(0);
    // ... and is only in the registry when the pipeline runs again.
    set_layers(&layout, &digest, "att", ours);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let att = registry_att(&registry, &name, &digest);
    assert_eq!(att.layers.len(), 4, "{:?}", types_of(&att.layers));
    assert_eq!(
        att.layers
            .iter()
            .filter(|l| l.digest == theirs.digest)
            .count(),
        1
    );
    assert_eq!(
        att.layers
            .iter()
            .filter(|l| l.annotations[PREDICATE_TYPE_ANNOTATION] == PREDICATE_SLSA_PROVENANCE_V1)
            .count(),
        2
    );
}

// ---- store integrity --------------------------------------------------------------------

/// The single layer descriptor of the built image.
fn image_layer(layout: &Layout, digest: &Digest) -> Descriptor {
    Manifest::from_slice(&layout.read_blob(digest).unwrap(), "image")
        .unwrap()
        .layers
        .remove(0)
}

fn osv_dir(repo: &Repo) {
    repo.write(
        "osv/HAND-X.json",
        r#"{"id":"HAND-X","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"absent"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
    );
}

#[test]
fn corrupt_layer_blob_is_noticed_by_verify_sbom_and_scan() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let layer = image_layer(&layout, &digest);
    let path = layout.blob_path(&layer.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert_not_verified(
        &verify(&repo, &[]),
        &[&format!(
            "policy [FAIL] image blobs: layer 0 ({}): blob {} in",
            layer.digest, layer.digest
        )],
    );
    let needle = format!("layer 0 ({}) of the image is corrupt", layer.digest);
    let r = repo.cleanpipe(&["sbom", LAYOUT]);
    r.expect_code(3)
        .expect_stderr(&needle)
        .expect_stderr("does not match its digest")
        .expect_stderr("hint:");
    assert!(r.stdout.trim().is_empty(), "no SBOM printed: {}", r.stdout);
    repo.cleanpipe(&["scan", LAYOUT, "--db", "osv"])
        .expect_code(3)
        .expect_stderr(&needle);
    // An external scanner is never handed the damaged layer (checked before it would run).
    let r = repo.cleanpipe(&[
        "scan",
        LAYOUT,
        "--scanner",
        "trivy",
        "--scanner-path",
        "/nonexistent/trivy",
    ]);
    r.expect_code(3).expect_stderr(&needle);
    assert!(!r.stderr.contains("not found"), "{}", r.stderr);
}

#[test]
fn truncated_gzip_layer_is_an_error_not_an_empty_sbom() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let mut manifest = Manifest::from_slice(&layout.read_blob(&digest).unwrap(), "image").unwrap();
    let full = std::fs::read(layout.blob_path(&manifest.layers[0].digest)).unwrap();
    // A consistent descriptor (digest and size of the truncated bytes): only gzip can tell.
    let cut = &full[..full.len() - 12];
    let d = layout.write_blob(cut).unwrap();
    manifest.layers[0].digest = d.clone();
    manifest.layers[0].size = cut.len() as u64;
    let bytes = manifest.to_bytes();
    layout.write_blob(&bytes).unwrap();
    layout
        .set_tag("cut", &Descriptor::of(MEDIA_OCI_MANIFEST, &bytes))
        .unwrap();
    let r = repo.cleanpipe(&["sbom", "oci:.cleanpipe/oci:cut"]);
    r.expect_code(3)
        .expect_stderr(&format!("layer 0 ({d}) of the image is corrupt"))
        .expect_stderr("does not decompress");
    assert!(!r.stdout.contains("spdxVersion"), "{}", r.stdout);
}

#[test]
fn missing_config_blob_is_not_verified() {
    let (repo, digest) = built();
    let layout = layout(&repo);
    let manifest = Manifest::from_slice(&layout.read_blob(&digest).unwrap(), "image").unwrap();
    std::fs::remove_file(layout.blob_path(&manifest.config.digest)).unwrap();
    assert_not_verified(
        &verify(&repo, &[]),
        &[&format!(
            "policy [FAIL] image blobs: config {}",
            manifest.config.digest
        )],
    );
}

#[test]
fn pipeline_waiver_is_attested_with_its_expiry_and_honoured_until_then() {
    let repo = scratch_repo(None, &["v1"]);
    repo.write(
        "METADATA",
        "Metadata-Version: 2.1\nName: leftpad\nVersion: 1.0\n",
    );
    repo.write(
        "osv/HAND-W.json",
        r#"{"id":"HAND-W","modified":"2026-01-01T00:00:00Z","database_specific":{"severity":"CRITICAL"},"affected":[{"package":{"ecosystem":"PyPI","name":"leftpad"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
    );
    repo.write(
        "pipeline.yaml",
        "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: METADATA\n        dest: /usr/lib/python3/site-packages/leftpad-1.0.dist-info/METADATA\n  scan:\n    db: osv\n    fail_on: critical\n    waivers:\n      - id: HAND-W\n        reason: not reachable from the entrypoint\n        expires: \"2999-12-31\"\nsign:\n  key: cosign.key\npush:\n  tags: [v1]\n",
    );
    repo.commit();
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let digest = Digest::parse(r.last_line().rsplit('@').next().unwrap()).unwrap();
    // The attested finding carries the waiver and its expiry ...
    let layout = layout(&repo);
    let scan = layers(&layout, &digest, "att")
        .into_iter()
        .find(|l| l.annotations[PREDICATE_TYPE_ANNOTATION] == PREDICATE_VULN)
        .unwrap();
    let statement = attest::open(
        &layout.read_blob(&scan.digest).unwrap(),
        key(&repo, "cosign").public_key(),
    )
    .unwrap();
    let finding = &statement["predicate"]["scanner"]["result"]["findings"][0];
    assert_eq!(finding["id"], "HAND-W");
    assert_eq!(finding["waiver_expires"], "2999-12-31");
    // ... so verify honours it today, and names the attestation it read.
    verify(&repo, &["--fail-on", "low"])
        .expect_code(0)
        .expect_stderr(&format!(
            "1 attested finding(s) in attestation layer 2, {}, none unwaived",
            scan.digest
        ));
}

#[test]
fn rerun_cleans_up_attestations_piled_up_before_the_signer_annotation() {
    let Some(registry) = registry() else { return };
    let name = unique("attacks/legacy-pile");
    let repo = scratch_repo(Some(&format!("{registry}/{name}")), &["v1"]);
    let r = repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")]);
    r.expect_code(0);
    let digest = Digest::parse(r.last_line().rsplit('@').next().unwrap()).unwrap();
    let layout = layout(&repo);
    let k = key(&repo, "cosign");
    let strip = |l: Vec<Descriptor>| -> Vec<Descriptor> {
        l.into_iter()
            .map(|mut d| {
                d.annotations.remove(SIGNER_ANNOTATION);
                d
            })
            .collect()
    };
    let ours = layers(&layout, &digest, "att");
    // What an older cleanpipe left behind: two copies of each attestation, unannotated.
    set_layers(&layout, &digest, "att", strip(ours.clone()));
    repo.cleanpipe(&["copy", LAYOUT, &format!("{registry}/{name}:v1")])
        .expect_code(0);
    let again: Vec<Descriptor> = ours
        .iter()
        .map(|d| {
            let ty = d.annotations[PREDICATE_TYPE_ANNOTATION].clone();
            let st = attest::open(&layout.read_blob(&d.digest).unwrap(), k.public_key()).unwrap();
            signed_att(&layout, &digest, &ty, st["predicate"].clone(), &k)
        })
        .collect();
    set_layers(&layout, &digest, "att", strip(again));
    repo.cleanpipe(&["copy", LAYOUT, &format!("{registry}/{name}:v1")])
        .expect_code(0);
    assert_eq!(registry_att(&registry, &name, &digest).layers.len(), 6);
    // The pipeline knows its key: a re-run replaces every copy this key signed.
    set_layers(&layout, &digest, "att", ours);
    repo.cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
        .expect_code(0);
    let att = registry_att(&registry, &name, &digest);
    assert_eq!(
        types_of(&att.layers),
        vec![
            "https://cyclonedx.org/bom".to_string(),
            "https://slsa.dev/provenance/v1".to_string(),
            "https://spdx.dev/Document".to_string(),
        ]
    );
    assert!(att
        .layers
        .iter()
        .all(|l| l.annotations.contains_key(SIGNER_ANNOTATION)));
}
