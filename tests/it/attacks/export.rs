//! Attack cases (issue 19, item 6): an export keeps what the layout had. Exporting an image
//! into a layout where it was signed locally merges the registry's `.sig`/`.att` and
//! referrers with the layout's, as publishing merges with a registry: the local signature
//! survives, and both signers verify offline.

use crate::support::*;

#[test]
fn re_exporting_into_a_layout_keeps_its_local_signatures() {
    let Some(registry) = registry() else { return };
    let name = unique("atk/export");
    let repo = Repo::new();
    repo.write("hello.txt", "hello\n");
    repo.keygen("a", "pw");
    repo.keygen("b", "pw");
    // The published image, signed and attested with key B.
    repo.write(
        "pipeline.yaml",
        &scratch_pipeline("b.key", Some(&format!("{registry}/{name}")), &["v1"]),
    );
    repo.commit();
    let env = [("COSIGN_PASSWORD", "pw")];
    repo.cleanpipe_env(&["run"], &env).expect_code(0);
    let remote = format!("{registry}/{name}:v1");
    let layout = "oci:exported:v1";
    repo.cleanpipe(&["copy", &remote, layout]).expect_code(0);
    // Signed locally with key A, in the layout only: a legacy signature, then a bundle.
    repo.cleanpipe_env(&["sign", layout, "--key", "a.key"], &env)
        .expect_code(0);
    repo.cleanpipe(&["verify", layout, "--key", "a.pub"])
        .expect_code(0);
    let sig_before = legacy_layers(&repo, "sig");
    assert_eq!(sig_before, 2, "B's signature and A's");
    let att_before = legacy_layers(&repo, "att");
    // The same image exported again into the same layout.
    let r = repo.cleanpipe(&["copy", &remote, layout]);
    r.expect_code(0);
    assert_eq!(legacy_layers(&repo, "sig"), 2, "{}", r.all());
    assert_eq!(legacy_layers(&repo, "att"), att_before, "{}", r.all());
    // Both signers verify, offline (the layout only: the registry is not asked).
    for (key, extra) in [("a.pub", &[][..]), ("b.pub", &["--require-provenance"][..])] {
        let mut args = vec!["verify", layout, "--key", key];
        args.extend(extra);
        repo.cleanpipe_env(
            &args,
            &[
                ("HTTPS_PROXY", "http://127.0.0.1:9"),
                ("HTTP_PROXY", "http://127.0.0.1:9"),
            ],
        )
        .expect_code(0)
        .expect_stderr("VERIFIED");
    }

    // A bundle signed locally with A survives too, and a third export changes nothing.
    repo.cleanpipe_env(
        &["sign", layout, "--key", "a.key", "--format", "bundle"],
        &env,
    )
    .expect_code(0);
    let referrers_before = referrer_count(&repo);
    repo.cleanpipe(&["copy", &remote, layout]).expect_code(0);
    assert_eq!(referrer_count(&repo), referrers_before);
    assert_eq!(legacy_layers(&repo, "sig"), 2);
    repo.cleanpipe(&["verify", layout, "--key", "a.pub"])
        .expect_code(0);
}

/// How many layers the layout's `.sig` or `.att` manifest of the exported image holds.
fn legacy_layers(repo: &Repo, suffix: &str) -> usize {
    let layout = cleanpipe::oci::Layout::open(repo.path().join("exported")).unwrap();
    let image = layout.resolve_tag("v1").unwrap().unwrap();
    let tag = image.digest.cosign_tag(suffix);
    let Some(found) = layout.resolve_tag(&tag).unwrap() else {
        return 0;
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&found.digest).unwrap()).unwrap();
    manifest["layers"].as_array().unwrap().len()
}

/// How many manifests in the layout's `index.json` name the image as their subject.
fn referrer_count(repo: &Repo) -> usize {
    let layout = cleanpipe::oci::Layout::open(repo.path().join("exported")).unwrap();
    let image = layout.resolve_tag("v1").unwrap().unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.path().join("exported/index.json")).unwrap())
            .unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            let bytes = layout
                .read_blob(&cleanpipe::oci::Digest::parse(m["digest"].as_str().unwrap()).unwrap())
                .unwrap_or_default();
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["subject"]["digest"].as_str().map(String::from))
                == Some(image.digest.to_string())
        })
        .count()
}
