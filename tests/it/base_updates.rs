//! `cleanpipe base outdated` / `base update`: a pinned base whose tag moved is listed with its
//! new digest's signature checked by the trusted key; only verified pins are rewritten.

use crate::support::*;

#[test]
fn moved_base_tags_are_listed_and_only_verified_pins_move() {
    let Some(registry) = registry() else { return };
    let name = unique("it/base-updates");
    // The vendor publishes `:stable`, signed with its key.
    let vendor = scratch_repo(Some(&format!("{registry}/{name}")), &["stable"]);
    vendor.keygen("rogue", "pw");
    vendor.commit();
    let publish = |content: &str, key: &str| {
        vendor.write("hello.txt", content);
        let text = std::fs::read_to_string(vendor.path().join("pipeline.yaml")).unwrap();
        let text = text
            .lines()
            .map(|l| {
                if l.starts_with("  key: ") {
                    format!("  key: {key}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        vendor.write("pipeline.yaml", &format!("{text}\n"));
        vendor.commit();
        let image = vendor
            .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(0)
            .last_line();
        image[image.find('@').unwrap() + 1..].to_string()
    };
    let first = publish("v1\n", "cosign.key");

    // The consumer pins it and trusts the vendor's key.
    let consumer = Repo::new();
    consumer.write("hello.txt", "app\n");
    consumer.keygen("cosign", "pw");
    consumer.copy_in(&vendor.path().join("cosign.pub"), "vendor.pub");
    let pinned = format!("{registry}/{name}:stable@{first}");
    consumer.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nverify_base:\n  keys:\n    vendor: vendor.pub\n  default_key: vendor\nbuild:\n  customize:\n    base: {pinned}\n    files:\n      - src: hello.txt\n        dest: /app.txt\nsign:\n  key: cosign.key\n"
        ),
    );
    consumer.commit();
    consumer
        .cleanpipe(&["base", "outdated"])
        .expect_code(0)
        .expect_stderr("up to date");

    // A signed new release: listed as a verified update; a dry run changes nothing.
    let second = publish("v2\n", "cosign.key");
    let json = consumer.cleanpipe(&["base", "outdated", "--output", "json"]);
    json.expect_code(1);
    let statuses: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(statuses[0]["state"], "update verified", "{statuses}");
    assert_eq!(statuses[0]["current"], second.as_str());
    consumer
        .cleanpipe(&["base", "update"])
        .expect_code(1)
        .expect_stderr("1 pin(s) would be rewritten");
    let text = || std::fs::read_to_string(consumer.path().join("pipeline.yaml")).unwrap();
    assert!(text().contains(&pinned));
    let updated = consumer.cleanpipe(&["base", "update", "--write"]);
    updated.expect_code(0).expect_stderr("1 pin(s) rewritten");
    assert!(
        updated
            .stdout
            .contains(&format!("+{registry}/{name}:stable@{second}")),
        "{}",
        updated.stdout
    );
    assert!(
        text().contains(&format!("{registry}/{name}:stable@{second}")),
        "{}",
        text()
    );

    // A release signed by another key is reported and never written.
    let third = publish("v3\n", "rogue.key");
    let refused = consumer.cleanpipe(&["base", "update", "--write"]);
    refused
        .expect_code(1)
        .expect_stderr("update NOT verified")
        .expect_stderr("0 pin(s) rewritten");
    assert!(!text().contains(&third), "{}", text());
}

#[test]
fn a_verified_update_shows_the_findings_it_brings_and_fixes() {
    let Some(registry) = registry() else { return };
    let name = unique("it/base-scan-delta");
    // The vendor's image carries one npm package; each release moves its version.
    let vendor = Repo::new();
    vendor.keygen("cosign", "pw");
    let publish = |version: &str| {
        vendor.write(
            "package.json",
            &format!(r#"{{"name":"left-pad","version":"{version}"}}"#),
        );
        vendor.write(
            "pipeline.yaml",
            &format!(
                "version: 1\nbuild:\n  customize:\n    base: scratch\n    files:\n      - src: package.json\n        dest: /app/node_modules/left-pad/package.json\nsign:\n  key: cosign.key\npush:\n  repository: {registry}/{name}\n  tags: [stable]\n"
            ),
        );
        vendor.commit();
        let image = vendor
            .cleanpipe_env(&["run"], &[("COSIGN_PASSWORD", "pw")])
            .expect_code(0)
            .last_line();
        image[image.find('@').unwrap() + 1..].to_string()
    };
    let first = publish("1.0.0");
    let consumer = Repo::new();
    consumer.write("hello.txt", "app\n");
    consumer.keygen("cosign", "pw");
    consumer.copy_in(&vendor.path().join("cosign.pub"), "vendor.pub");
    // Hand-written records (not real advisories): one fixed in 1.3.0, one brought by 1.2.0.
    let record = |id: &str, events: &str| {
        consumer.write(
            &format!("osv/{id}.json"),
            &format!(
                r#"{{"id":"{id}","modified":"2026-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"npm","name":"left-pad"}},"ranges":[{{"type":"SEMVER","events":[{events}]}}]}}],"database_specific":{{"severity":"HIGH"}}}}"#
            ),
        )
    };
    record("HAND-NPM-1", r#"{"introduced":"0"},{"fixed":"1.3.0"}"#);
    record("HAND-NPM-2", r#"{"introduced":"1.2.0"}"#);
    consumer.write(
        "pipeline.yaml",
        &format!(
            "version: 1\nverify_base:\n  keys:\n    vendor: vendor.pub\n  default_key: vendor\nbuild:\n  customize:\n    base: {registry}/{name}:stable@{first}\n    files:\n      - src: hello.txt\n        dest: /app.txt\n  scan:\n    db: osv\nsign:\n  key: cosign.key\n"
        ),
    );
    consumer.commit();
    publish("1.3.0");
    let json = consumer.cleanpipe(&["base", "outdated", "--output", "json"]);
    json.expect_code(1);
    let statuses: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let delta = &statuses[0]["scan_delta"];
    assert_eq!(statuses[0]["state"], "update verified", "{statuses}");
    assert_eq!(delta["outcome"], "compared", "{statuses}");
    assert_eq!(
        delta["new"],
        serde_json::json!(["HAND-NPM-2 (high) in left-pad 1.3.0"]),
        "{statuses}"
    );
    assert_eq!(
        delta["fixed"],
        serde_json::json!(["HAND-NPM-1 (high) in left-pad 1.0.0"]),
        "{statuses}"
    );
    consumer
        .cleanpipe(&["base", "outdated"])
        .expect_code(1)
        .expect_stderr("1 new, 1 fixed")
        .expect_stderr("+ HAND-NPM-2");
}
