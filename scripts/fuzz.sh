#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers with cargo-fuzz (libFuzzer), SECONDS per target.
# Seeds come from data on this machine (never committed): a dpkg status, the OSV fixtures, and
# version pairs. Needs `cargo install cargo-fuzz`; runs on the stable toolchain through
# RUSTC_BOOTSTRAP=1 without a sanitizer (`-s none`), since no nightly toolchain is available here.
# `.ci/run` calls it with 20 s per target and fails on a crash; FUZZ_TARGET_DIR keeps the
# instrumented build between runs (default: fuzz/target).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET=${1:-60}
STATUS=${DPKG_STATUS:-/var/lib/dpkg/status}
OSV=${OSV:-$ROOT/tests/fixtures/osv}
cd "$ROOT/fuzz"
TARGETS=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^cleanpipe-fuzz$')
for target in $TARGETS; do mkdir -p "corpus/$target"; done
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$ROOT/fuzz/target}
printf '%s' '{"payloadType":"application/vnd.in-toto+json","payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","signatures":[{"keyid":"","sig":"MEUCIQD="}]}' > corpus/evidence/dsse
printf '%s' '{"SchemaVersion":2,"Results":[{"Target":"x","Type":"debian","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p","Severity":"HIGH"}]}]}' > corpus/evidence/trivy
printf '%s' '{"matches":[{"vulnerability":{"id":"CVE-1","severity":"High"},"artifact":{"name":"p"}}]}' > corpus/evidence/grype
cp "$STATUS" corpus/dpkg_status/seed-status 2>/dev/null || true
find "$OSV" -name '*.json' ! -name '.*' -exec cp {} corpus/osv_record/ \;
printf '1.0~rc1\n1.0' > corpus/versions/a
printf '1:2.36-9+deb12u4\n2.36-9' > corpus/versions/b
printf '1.2.3_rc1-r0\n1.2.3-r1' > corpus/versions/c
printf '1.0.dev1+local\n1.0a1.post2' > corpus/versions/d
printf '1.0^git1~pre\n2:1.0-1.el9' > corpus/versions/e
# Seeds for embedded formats: an rpm database made by the real rpm tool, if one is given.
if [[ -n "${RPMDB:-}" && -f "$RPMDB" ]]; then
    cp "$RPMDB" corpus/embedded_formats/seed-rpmdb.sqlite
fi
# Language metadata: a jar holding a stored nested jar with a pom.properties, and a deps.json.
python3 - "corpus/language_metadata" <<'PY'
import io, sys, zipfile
def jar(entries, stored=False):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return b.getvalue()
inner = jar([("META-INF/maven/g/a/pom.properties", "groupId=g\nartifactId=a\nversion=1.0\n")])
outer = jar([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nImplementation-Version: 2\r\n"), ("BOOT-INF/lib/a-1.0.jar", inner)], stored=True)
open(sys.argv[1] + "/fat.jar", "wb").write(outer)
open(sys.argv[1] + "/deps.json", "w").write('{"libraries":{"Newtonsoft.Json/13.0.1":{"type":"package"}}}')
PY
# VEX: an OpenVEX document and a CycloneDX VEX, small and valid.
printf '%s' '{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"a","timestamp":"2026-12-07T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"CVE-2021-23337"},"products":[{"@id":"pkg:npm/lodash@4.17.21"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}' > corpus/vex_document/openvex
printf '%s' '{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"bom-ref":"l","purl":"pkg:npm/lodash@4.17.21"}],"vulnerabilities":[{"id":"CVE-2021-23337","analysis":{"state":"not_affected","justification":"code_not_reachable"},"affects":[{"ref":"l"}]}]}' > corpus/vex_document/cyclonedx
# Pipelines: the example and every file under examples/; registry answers: a manifest, an index.
cp "$ROOT/pipeline.example.yaml" corpus/pipeline_loader/example.yaml
find "$ROOT/examples" -name '*.yaml' -exec sh -c 'cp "$1" "corpus/pipeline_loader/$(echo "$1" | tr / _)"' _ {} \;
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%064d","size":2},"layers":[{"mediaType":"application/vnd.dsse.envelope.v1+json","digest":"sha256:%064d","size":9,"annotations":{"predicateType":"https://slsa.dev/provenance/v1"}}]}' 0 1 > corpus/registry_responses/manifest
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%064d","size":2,"platform":{"architecture":"amd64","os":"linux"}}]}' 0 > corpus/registry_responses/index
status=0
for target in $TARGETS; do
    echo "== $target ($SECONDS_PER_TARGET s)"
    log=$(mktemp)
    if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"$log" 2>&1; then
        echo "FAILED: $target (a crash, or the target does not build):"
        grep -aE 'error(\[|:)|panicked|SUMMARY|ERROR' "$log" | head -20
        status=1
    fi
    grep -aE 'stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs' "$log" || true
    rm -f "$log"
done
exit $status
