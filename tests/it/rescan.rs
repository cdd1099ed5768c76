//! `cleanpipe scan IMAGE --from-sbom`: yesterday's image against today's database, from the
//! CycloneDX SBOM a trusted signer attested, without reading a layer. The built-in example (a
//! local OCI layout) has one medium finding, Jinja2's GHSA-h75v-3vvj-5mfj.

use crate::support::*;

const IMAGE: &str = "oci:.cleanpipe/oci:example";
const PUB: &str = ".cleanpipe/example-key/cosign.pub";
const GHSA: &str = "GHSA-h75v-3vvj-5mfj";

/// The built-in example, built, scanned, signed and attested in its local layout.
fn example_built() -> Repo {
    let repo = Repo::new();
    repo.write_example("pipeline.example.yaml");
    repo.commit();
    repo.cleanpipe(&["run"]).expect_code(0);
    repo
}

/// `cleanpipe scan IMAGE --from-sbom --key PUB --db examples/osv EXTRA…`.
fn rescan(repo: &Repo, image: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "scan",
        image,
        "--from-sbom",
        "--key",
        PUB,
        "--db",
        "examples/osv",
    ];
    args.extend_from_slice(extra);
    repo.cleanpipe(&args)
}

fn report(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

/// What a report says was found and checked, for comparing two scans of one image.
fn essence(r: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "digest": r["digest"],
        "packages": r["packages"],
        "operating_system": r["operating_system"],
        "findings": r["findings"],
        "coverage": r["coverage"]["ecosystems"],
        "unchecked": r["coverage"]["unchecked"],
        "gate": r["gate"]["passed"],
    })
}

#[test]
fn a_rescan_from_the_attested_sbom_matches_a_layer_scan_and_reads_no_layer() {
    let repo = example_built();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", IMAGE, "--db", "examples/osv", "--fail-on", "medium"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--output", "json"]);
        repo.cleanpipe(&args)
    };
    let full = scan(&[]);
    full.expect_code(1);
    let rescan = scan(&["--from-sbom", "--key", PUB]);
    rescan
        .expect_code(1)
        .expect_stderr("packages from the CycloneDX SBOM attested to sha256:");
    let (full, re) = (report(&full), report(&rescan));
    assert!(full["findings"].to_string().contains(GHSA), "{full}");
    assert_eq!(essence(&full), essence(&re));

    // No layer is read: with every layer blob gone, the layer scan cannot run, the rescan can.
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo.path().join(".cleanpipe/oci/index.json")).unwrap(),
    )
    .unwrap();
    let digest = full["digest"].as_str().unwrap().to_string();
    assert!(index.to_string().contains(&digest), "{index}");
    let blob = |d: &str| {
        repo.path()
            .join(".cleanpipe/oci/blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&digest)).unwrap()).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        std::fs::remove_file(blob(layer["digest"].as_str().unwrap())).unwrap();
    }
    scan(&[]).expect_code(3);
    assert_eq!(
        essence(&re),
        essence(&report(&scan(&["--from-sbom", "--key", PUB])))
    );

    // Today's database: a record published after the build fails the rescan at high.
    let db = repo.path().join("today");
    std::fs::create_dir(&db).unwrap();
    for e in std::fs::read_dir(repo.path().join("examples/osv")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), db.join(e.file_name())).unwrap();
    }
    std::fs::write(
        db.join("GHSA-test-new0-0000.json"),
        r#"{"schema_version": "1.6.0", "id": "GHSA-test-new0-0000", "modified": "2026-12-07T00:00:00Z",
            "summary": "published after the build",
            "database_specific": {"severity": "CRITICAL"},
            "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                          "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}"#,
    )
    .unwrap();
    repo.cleanpipe(&["scan", IMAGE, "--from-sbom", "--key", PUB, "--db", "today"])
        .expect_code(1)
        .expect_stderr("scan gate FAILED");
    let today = repo.cleanpipe(&[
        "scan",
        IMAGE,
        "--from-sbom",
        "--key",
        PUB,
        "--db",
        "today",
        "-o",
        "json",
    ]);
    assert!(
        today.stdout.contains("GHSA-test-new0-0000"),
        "{}",
        today.all()
    );
}

#[test]
fn a_rescan_refuses_sboms_it_cannot_trust_or_read() {
    let repo = example_built();
    // Signed, but not by the key given: nothing scanned, a failed check, and why.
    repo.keygen("stranger", "pw");
    repo.cleanpipe(&[
        "scan",
        IMAGE,
        "--from-sbom",
        "--key",
        "stranger.pub",
        "--db",
        "examples/osv",
    ])
    .expect_code(1)
    .expect_stderr("has no CycloneDX SBOM that a trusted signer attested")
    .expect_stderr("nothing was scanned")
    .expect_stderr("CycloneDX SBOM attestation ignored");
    // No signer named: a usage error before anything is read.
    repo.cleanpipe(&["scan", IMAGE, "--from-sbom", "--db", "examples/osv"])
        .expect_code(2)
        .expect_stderr("needs a trusted signer");
    // Trust flags without --from-sbom, and --from-sbom with an external scanner.
    repo.cleanpipe(&["scan", IMAGE, "--key", PUB, "--db", "examples/osv"])
        .expect_code(2)
        .expect_stderr("are for --from-sbom");
    repo.cleanpipe(&[
        "scan",
        IMAGE,
        "--from-sbom",
        "--key",
        PUB,
        "--scanner",
        "trivy",
    ])
    .expect_code(2)
    .expect_stderr("--from-sbom is for the builtin scanner");
}

/// Through a registry: the image copied with its evidence, rescanned by digest.
#[test]
fn a_rescan_reads_the_sbom_attested_in_a_registry() {
    let Some(registry) = registry() else { return };
    let repo = example_built();
    let target = format!("{registry}/{}:v1", unique("rescan"));
    let copied = repo.cleanpipe(&["copy", IMAGE, &target]);
    copied.expect_code(0);
    let by_digest = copied.last_line();
    assert!(by_digest.contains("@sha256:"), "{}", copied.all());
    let found = rescan(&repo, &by_digest, &["--fail-on", "medium"]);
    found.expect_code(1);
    assert!(found.stdout.contains(GHSA), "{}", found.all());

    // A second SBOM the same key attested, by another tool (no catalogue in it): it could list
    // packages the first does not, so the rescan fails closed instead of skipping it.
    let Some(cosign) = crate::peers::cosign("V2") else {
        return;
    };
    repo.write(
        "syft.cdx.json",
        r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {"tools": {"components": [{"name": "syft"}]}}, "components": [{"type": "library", "name": "left-pad", "version": "1.0.0", "purl": "pkg:npm/left-pad@1.0.0"}]}"#,
    );
    let attested = std::process::Command::new(&cosign)
        .args([
            "attest",
            "--key",
            ".cleanpipe/example-key/cosign.key",
            "--tlog-upload=false",
            "--yes",
            "--type",
            "cyclonedx",
            "--predicate",
            "syft.cdx.json",
            &by_digest,
        ])
        .current_dir(repo.path())
        .env("COSIGN_PASSWORD", "")
        .env("TUF_ROOT", repo.path().join(".cosign-tuf"))
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .env("DOCKER_CONFIG", repo.path().join(".no-docker-config"))
        .output()
        .unwrap();
    assert!(
        attested.status.success(),
        "{}",
        crate::peers::text(&attested)
    );
    rescan(&repo, &by_digest, &[])
        .expect_code(1)
        .expect_stderr("cannot be read as cleanpipe's catalogue")
        .expect_stderr("written by syft without the catalogue")
        .expect_stderr("nothing was scanned");
}

/// VEX attested to the image after the build, by the same trusted signer, applies to a rescan
/// as it does to `verify`; a stranger's is ignored, and said.
#[test]
fn a_rescan_applies_vex_the_trusted_signer_attested_after_the_build() {
    let repo = example_built();
    crate::vex_verify::jinja2_not_affected(&repo, "jinja2.vex.json");
    let at_medium = || rescan(&repo, IMAGE, &["--fail-on", "medium"]);
    repo.keygen("stranger", "pw");
    crate::vex_verify::attest_vex(&repo, "jinja2.vex.json", "stranger.key", "pw");
    at_medium()
        .expect_code(1)
        .expect_stderr("VEX attestation ignored");
    crate::vex_verify::attest_vex(
        &repo,
        "jinja2.vex.json",
        ".cleanpipe/example-key/cosign.key",
        "",
    );
    let passed = at_medium();
    passed
        .expect_code(0)
        .expect_stderr("statement(s) applied")
        .expect_stderr("1 finding(s) suppressed by VEX");
}
