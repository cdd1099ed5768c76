#!/usr/bin/env bash
# Benchmark (issue 24, "Measure"): a scan with VEX, cleanpipe against trivy `--vex`, on the same
# image, the same advisories and the same VEX documents, side by side in one run.
#
# Usage: scripts/bench-vex.sh
#
# The image is bench-catalog's (scripts/gen-catalog-image.py, no network): a Debian minbase
# rootfs (DEBIAN_TAR) and an app layer with a fat jar (~JAR_MIB MiB), 300 PyPI and ~320 npm
# packages. The advisories: the generator's synthetic GHSA-shaped records for the image's PyPI and
# npm packages and for packages it does not have (RECORDS in all, PyPI and npm kept), given to
# cleanpipe as the OSV directory and to trivy as a trivy database (schema 2) written from the
# same records by tests/support/trivydb-writer (Go + Debian's bbolt source). Only PyPI and npm:
# the two ecosystems whose trivy buckets the writer reproduces, so both tools judge the same
# packages against the same records (the Debian and Maven packages are catalogued by cleanpipe,
# and give no finding to either tool).
#
# The VEX documents, written from cleanpipe's findings without VEX, in both formats:
#   - OpenVEX v0.2 (vex.openvex.json): one statement per advisory found, in sorted order, every
#     3rd `not_affected` (with a justification), every 3rd+1 `fixed`, every 3rd+2 `affected`
#     (kept), its products the versioned purls of the packages it was found in; and as many
#     statements again about packages the image does not have, as a real document carries;
#   - a large OpenVEX document (vex.big.json): the same, plus BIG_STATEMENTS statements about
#     absent packages (a vendor's document covers far more than one image has);
#   - CycloneDX VEX (vex.cdx.json): the SBOM with the same statements as `vulnerabilities`
#     (not_affected, resolved, exploitable), `affects` refs as BOM-Links into it (the one form
#     both tools read: trivy resolves refs only as BOM-Links into the SBOM it scans, cleanpipe
#     only into the VEX document), without the statements about absent packages.
# Each document is applied on its own. Beside them, `cleanpipe sbom` of the image (the catalogue
# the scan starts with, and the SBOM trivy is given) shows what cleanpipe's scan costs on top of
# cataloguing. Commands, one untimed warm-up each, then RUNS runs with
# the order rotated per run (so the tools alternate):
#   cleanpipe scan oci:LAYOUT:img --db DIR --fail-on none -o json [--vex DOC]
#       (fresh HOME/XDG cache and the layout's cleanpipe-cache deleted: the image is catalogued
#       each time; trivy is given the SBOM instead, so cleanpipe's figure includes cataloguing)
#   trivy sbom SBOM --skip-db-update --offline-scan --format json --cache-dir FRESH [--vex DOC]
#       (SBOM: cleanpipe's CycloneDX SBOM of the image; FRESH: a copy of the written database)
# Before timing, the script checks that both tools report the same findings without VEX and
# suppress the same findings with each document, and prints any difference.
#
# Environment:
#   RUNS        runs per command (default 5)
#   DEBIAN_TAR  default /var/cache/cleanpipe-test/debian-minbase.tar
#   CLEANPIPE   cleanpipe binary (default target/release/cleanpipe, built if missing)
#   TRIVY       trivy binary with OpenVEX support (default: the v0.74.0 build .ci/run makes,
#               /var/cache/cleanpipe-test/peers/trivy-v0.74.0/trivy)
#   JAR_MIB     size of the fat jar (default 8)
#   RECORDS     synthetic OSV records over the four ecosystems (default 8000; ~half are kept)
#   BIG_STATEMENTS  extra statements in the large OpenVEX document (default 20000)
#
# Each run is timed with GNU time: wall seconds, CPU seconds (user + sys) and peak RSS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUNS=${RUNS:-5}
DEBIAN_TAR=${DEBIAN_TAR:-/var/cache/cleanpipe-test/debian-minbase.tar}
TRIVY=${TRIVY:-/var/cache/cleanpipe-test/peers/trivy-v0.74.0/trivy}
JAR_MIB=${JAR_MIB:-8}
RECORDS=${RECORDS:-8000}
BIG_STATEMENTS=${BIG_STATEMENTS:-20000}
TAG=img

# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ "$JAR_MIB" =~ ^[1-9][0-9]*$ ]] || die "JAR_MIB must be a positive integer (got '$JAR_MIB')"
[[ "$RECORDS" =~ ^[1-9][0-9]*$ ]] || die "RECORDS must be a positive integer (got '$RECORDS')"
[[ "$BIG_STATEMENTS" =~ ^[0-9]+$ ]] || die "BIG_STATEMENTS must be a number (got '$BIG_STATEMENTS')"
for tool in umoci jq python3 go; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see .ci/run for the packages)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time, package 'time') not found"
[[ -f "$DEBIAN_TAR" ]] || die "DEBIAN_TAR '$DEBIAN_TAR' not found"
[[ -x "$TRIVY" ]] || die "TRIVY '$TRIVY' not found or not executable (.ci/run builds v0.74.0)"
[[ -d /usr/share/gocode/src/go.etcd.io/bbolt ]] ||
    die "bbolt's source not found (Debian package golang-github-coreos-bbolt-dev): the trivy DB writer needs it"

WORK=$(mktemp -d /tmp/cleanpipe-bench-vex.XXXXXX)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [[ "${BENCH_KEEP:-}" == 1 ]]; then log "kept $WORK"; else rm -rf -- "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_cleanpipe
load() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------------------------
# The image, its SBOM, the advisories for both tools
# ---------------------------------------------------------------------------
GEN="$WORK/gen"
log "generating the app layer and the OSV records in $GEN (fat jar ~$JAR_MIB MiB, $RECORDS records)"
python3 "$ROOT/scripts/gen-catalog-image.py" --debian-tar "$DEBIAN_TAR" --out "$GEN" \
    --jar-mib "$JAR_MIB" --records "$RECORDS" 2>&1 | sed 's/^/    /' >&2
LAYOUT="$WORK/layout"
log "building the OCI layout $LAYOUT:$TAG"
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:$TAG"
umoci raw add-layer --image "$LAYOUT:$TAG" --history.created_by "bench-vex: $DEBIAN_TAR" "$DEBIAN_TAR"
umoci raw add-layer --image "$LAYOUT:$TAG" --history.created_by "bench-vex: app layer" "$GEN/app-layer.tar"
rm -f -- "$GEN/app-layer.tar" "$GEN/app.jar"

DB="$WORK/osv"
mkdir -p "$DB"
cp -r "$GEN/osv/records/PyPI" "$GEN/osv/records/npm" "$DB/"
SBOM="$WORK/sbom.cdx.json"
"$CLEANPIPE" -q sbom "oci:$LAYOUT:$TAG" --format cyclonedx-json -o "$SBOM"

log "writing the trivy database from the same records"
python3 - "$DB" "$WORK/trivy-db-spec.json" <<'PY'
import json, os, sys

# trivy's GHSA buckets and version constraints: PEP 440 style for pip (`>= a, < b`), npm range
# style for npm (`>=a <b`); names as trivy looks them up (pip: PEP 503).
db, out = sys.argv[1], sys.argv[2]
entries, ranges = [], {}
for eco, bucket in (("PyPI", "pip::GitHub Security Advisory Pip"), ("npm", "npm::GitHub Security Advisory Npm")):
    npm = eco == "npm"
    for f in sorted(os.listdir(os.path.join(db, eco))):
        rec = json.load(open(os.path.join(db, eco, f)))
        sev = rec.get("database_specific", {}).get("severity", "")
        entries.append({"path": ["vulnerability"], "key": rec["id"],
                        "value": {"Title": rec.get("summary", ""), "Severity": "MEDIUM" if sev == "MODERATE" else sev}})
        for a in rec["affected"]:
            name = a["package"]["name"]
            if not npm:
                name = name.lower().replace("_", "-").replace(".", "-")
            vuln, fixed = ranges.setdefault((bucket, name, rec["id"]), ([], []))
            for r in a.get("ranges", []):
                lower = None
                for e in r["events"]:
                    op = (lambda o, v: f"{o}{v}") if npm else (lambda o, v: f"{o} {v}")
                    join = " " if npm else ", "
                    if "introduced" in e:
                        lower = "" if e["introduced"] == "0" else op(">=", e["introduced"])
                    elif "fixed" in e:
                        vuln.append(join.join(x for x in (lower, op("<", e["fixed"])) if x))
                        fixed.append(e["fixed"])
                        lower = None
                if lower is not None:
                    vuln.append(lower or op(">=", "0"))
for (bucket, name, rid), (vuln, fixed) in sorted(ranges.items()):
    entries.append({"path": [bucket, name], "key": rid,
                    "value": {"VulnerableVersions": vuln, "PatchedVersions": fixed}})
json.dump({"entries": entries}, open(out, "w"))
PY
mkdir -p "$WORK/writer"
cp "$ROOT/tests/support/trivydb-writer/main.go" "$ROOT/tests/support/trivydb-writer/go.mod" "$WORK/writer/"
(cd "$WORK/writer" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" \
    go build -o trivydb-writer .) || die "building the trivy DB writer failed"
"$WORK/writer/trivydb-writer" -cache-dir "$WORK/trivy-db" -spec "$WORK/trivy-db-spec.json" >/dev/null
rm -rf -- "$WORK/gocache" "$WORK/gopath"

# ---------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------
RESULTS="$WORK/results" # "PART RUN TOOL WALL RSS CPU"
: >"$RESULTS"
run_timed() { # run_timed PART TOOL RUN CMD... ; appends "PART RUN TOOL WALL RSS CPU" to RESULTS
    local part=$1 tool=$2 run=$3
    shift 3
    local tfile="$WORK/time.$part.$tool.$run" lfile="$WORK/log.$part.$tool.$run" rc=0
    /usr/bin/time -f '%e %M %U %S' -o "$tfile" "$@" >"$lfile" 2>&1 || rc=$?
    if ((rc != 0)); then
        echo "---- $tool run $run failed ($rc): $*" >&2
        tail -n 30 "$lfile" >&2
        exit 1
    fi
    [[ "$run" =~ ^[0-9]+$ ]] || return 0 # the warm-up and the agreement check are not timed
    local wall rss user sys cpu
    read -r wall rss user sys < <(tail -n 1 "$tfile")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u + s}')
    echo "$part $run $tool $wall $rss $cpu" >>"$RESULTS"
    printf '  run %-6s %-6s %-10s %8.2f s wall %8.2f s cpu %8.1f MiB\n' "$run" "$part" "$tool" "$wall" "$cpu" "$(kib2mib "$rss")" >&2
}
cleanpipe_sbom() { # cleanpipe_sbom RUN
    local h
    h=$(fresh_home cleanpipe)
    rm -rf -- "$LAYOUT/cleanpipe-cache"
    run_timed sbom cleanpipe "$1" env HOME="$h" XDG_CACHE_HOME="$h/.cache" \
        "$CLEANPIPE" sbom "oci:$LAYOUT:$TAG" --format cyclonedx-json -o "$WORK/sbom.$1.cdx.json"
}
fresh_home() { # fresh_home NAME -> prints the directory
    local h="$WORK/home.$1"
    rm -rf -- "$h"
    mkdir -p "$h/.cache"
    printf '%s' "$h"
}
cleanpipe_scan() { # cleanpipe_scan PART RUN [VEX]
    local h out="$WORK/out.$1.cleanpipe.$2.json"
    h=$(fresh_home cleanpipe)
    rm -rf -- "$LAYOUT/cleanpipe-cache"
    run_timed "$1" cleanpipe "$2" env HOME="$h" XDG_CACHE_HOME="$h/.cache" \
        "$CLEANPIPE" scan "oci:$LAYOUT:$TAG" --db "$DB" --fail-on none --output json \
        --report "$out" ${3:+--vex "$3"}
}
trivy_scan() { # trivy_scan PART RUN [VEX]
    local h out="$WORK/out.$1.trivy.$2.json"
    h=$(fresh_home trivy)
    cp -r "$WORK/trivy-db" "$h/trivy"
    run_timed "$1" trivy "$2" env HOME="$h" XDG_CACHE_HOME="$h/.cache" \
        "$TRIVY" sbom "$SBOM" --skip-db-update --offline-scan --format json --quiet \
        --cache-dir "$h/trivy" --output "$out" ${3:+--vex "$3"}
}

# Findings as "ID name@version" lines (names lowercased): cleanpipe's `findings` and `suppressed`, trivy's results.
findings() { # findings TOOL FILE [suppressed]
    python3 - "$@" <<'PY'
import json, sys
tool, path = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
if tool == "cleanpipe":
    rows = doc.get(sys.argv[3] if len(sys.argv) > 3 else "findings") or []
    out = {f"{f['id']} {f['package'].lower()}@{f['version']}" for f in rows}
else:
    out = {f"{v['VulnerabilityID']} {v['PkgName'].lower()}@{v['InstalledVersion']}"
           for r in doc.get("Results") or [] for v in r.get("Vulnerabilities") or []}
print("\n".join(sorted(out)))
PY
}

log "checking that both tools report the same findings (untimed)"
cleanpipe_scan plain check
trivy_scan plain check
findings cleanpipe "$WORK/out.plain.cleanpipe.check.json" >"$WORK/plain.cleanpipe"
findings trivy "$WORK/out.plain.trivy.check.json" >"$WORK/plain.trivy"
NFIND=$(wc -l <"$WORK/plain.cleanpipe")
((NFIND > 0)) || die "cleanpipe found nothing to suppress"

log "writing the VEX documents from cleanpipe's $NFIND findings"
python3 - "$WORK/out.plain.cleanpipe.check.json" "$SBOM" "$WORK/vex.openvex.json" "$WORK/vex.cdx.json" \
    "$WORK/vex.big.json" "$BIG_STATEMENTS" <<'PY'
import json, sys
report, sbom_path, openvex_path, cdx_path, big_path, big = sys.argv[1:]
# One statement per advisory, naming every package it was found in (trivy keeps one CycloneDX
# statement per vulnerability id).
by_id = {}
for f in json.load(open(report))["findings"]:
    by_id.setdefault(f["id"], set()).add(f["purl"])
bom = json.load(open(sbom_path))
link = lambda purl: f"urn:cdx:{bom['serialNumber'][len('urn:uuid:'):]}/{bom['version']}#{purl}"
refs = {c["purl"]: c["bom-ref"] for c in bom["components"] if "purl" in c}
statements, vulns = [], []
for i, (vid, purls) in enumerate(sorted(by_id.items())):
    ov, cdx = [("not_affected", "not_affected"), ("fixed", "resolved"), ("affected", "exploitable")][i % 3]
    s = {"vulnerability": {"name": vid}, "products": [{"@id": p} for p in sorted(purls)], "status": ov}
    a = {"state": cdx}
    if ov == "not_affected":
        s["justification"] = "vulnerable_code_not_in_execute_path"
        a["justification"] = "code_not_reachable"
    elif ov == "affected":
        s["action_statement"] = "upgrade"
        a["response"] = ["update"]
    statements.append(s)
    vulns.append({"id": vid, "analysis": a, "affects": [{"ref": link(refs[p])} for p in sorted(purls)]})
# As many again about packages the image does not have.
for i in range(len(by_id)):
    eco = "pypi" if i % 2 else "npm"
    purl = f"pkg:{eco}/absent-{i:05d}@1.{i % 7}.0"
    vid = f"GHSA-abs{i % 10}-{i:04d}-xxxx"
    statements.append({"vulnerability": {"name": vid}, "products": [{"@id": purl}],
                       "status": "not_affected", "justification": "component_not_present"})
doc = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/bench",
       "author": "bench", "timestamp": "2026-12-01T00:00:00Z", "version": 1, "statements": statements}
json.dump(doc, open(openvex_path, "w"), indent=1)
for i in range(int(big)):
    eco = ("pypi", "npm", "maven/org.example", "deb/debian")[i % 4]
    statements.append({"vulnerability": {"name": f"CVE-2025-{10000 + i}"},
                       "products": [{"@id": f"pkg:{eco}/vendor-{i % 3000:04d}@{i % 11}.{i % 7}.0"}],
                       "status": ("not_affected", "fixed", "affected")[i % 3],
                       **({"justification": "component_not_present"} if i % 3 == 0 else {}),
                       **({"action_statement": "upgrade"} if i % 3 == 2 else {})})
doc["@id"] = "https://example.com/vex/bench-big"
json.dump(doc, open(big_path, "w"), indent=1)
# CycloneDX: trivy reads refs only as BOM-Links into the SBOM it scans, and cleanpipe resolves
# BOM-Links only into the VEX document itself: the VEX is the SBOM with `vulnerabilities` added.
bom["vulnerabilities"] = vulns
json.dump(bom, open(cdx_path, "w"), indent=1)
PY

AGREE="$WORK/agreement"
: >"$AGREE"
compare() { # compare LABEL FILE_A FILE_B
    if cmp -s "$2" "$3"; then
        echo "$1: the same $(wc -l <"$2")" >>"$AGREE"
    else
        echo "$1: DIFFERENT (cleanpipe $(wc -l <"$2"), trivy $(wc -l <"$3")); only cleanpipe: $(comm -23 "$2" "$3" | head -3 | paste -sd, -); only trivy: $(comm -13 "$2" "$3" | head -3 | paste -sd, -)" >>"$AGREE"
    fi
}
compare "findings without VEX" "$WORK/plain.cleanpipe" "$WORK/plain.trivy"
for fmt in openvex cdx big; do
    cleanpipe_scan "$fmt" check "$WORK/vex.$fmt.json"
    trivy_scan "$fmt" check "$WORK/vex.$fmt.json"
    findings cleanpipe "$WORK/out.$fmt.cleanpipe.check.json" suppressed >"$WORK/$fmt.sup.cleanpipe"
    findings trivy "$WORK/out.$fmt.trivy.check.json" >"$WORK/$fmt.left.trivy"
    comm -23 "$WORK/plain.trivy" "$WORK/$fmt.left.trivy" >"$WORK/$fmt.sup.trivy"
    compare "suppressed with $fmt" "$WORK/$fmt.sup.cleanpipe" "$WORK/$fmt.sup.trivy"
done
sed 's/^/    /' "$AGREE" >&2

CASES=("sbom cleanpipe" "plain cleanpipe" "plain trivy" "openvex cleanpipe" "openvex trivy"
    "cdx cleanpipe" "cdx trivy" "big cleanpipe" "big trivy")
one() { # one PART TOOL RUN
    local vex=""
    if [[ "$1" == sbom ]]; then
        cleanpipe_sbom "$3"
        return
    fi
    [[ "$1" == plain ]] || vex="$WORK/vex.$1.json"
    "${2}_scan" "$1" "$3" ${vex:+"$vex"}
}
LOAD_START=$(load)
log "warm-up (untimed); load average $LOAD_START"
for c in "${CASES[@]}"; do
    # shellcheck disable=SC2086
    one $c warmup
done
log "$RUNS runs of each command, order rotated per run"
for ((i = 1; i <= RUNS; i++)); do
    for ((k = 0; k < ${#CASES[@]}; k++)); do
        # shellcheck disable=SC2086
        one ${CASES[$(((i - 1 + k) % ${#CASES[@]}))]} "$i"
    done
done
LOAD_END=$(load)

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
row() { # row PART TOOL LABEL
    printf '| %s | %.2f | %.2f | %.1f |\n' "$3" "$(median "$1" "$2" 4)" "$(median "$1" "$2" 6)" \
        "$(kib2mib "$(median "$1" "$2" 5)")"
}
echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:   nproc $(nproc), $(uname -srm), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo);" \
    "load average $LOAD_START at the start, $LOAD_END at the end"
echo "cleanpipe: $CLEANPIPE ($("$CLEANPIPE" --version 2>/dev/null || echo '?'))"
echo "trivy:     $TRIVY ($("$TRIVY" --version 2>/dev/null | head -n 1))"
echo "image:     Debian minbase + app layer (fat jar $JAR_MIB MiB, PyPI and npm packages);" \
    "SBOM $(jq '.components | length' "$SBOM") components"
echo "database:  $(find "$DB" -name '*.json' | wc -l) OSV records (PyPI, npm), the same in the trivy DB"
echo "VEX:       OpenVEX $(jq '.statements | length' "$WORK/vex.openvex.json") statements" \
    "(large: $(jq '.statements | length' "$WORK/vex.big.json"), $(mib "$(stat -c %s "$WORK/vex.big.json")") MiB)," \
    "CycloneDX $(jq '.vulnerabilities | length' "$WORK/vex.cdx.json") (one per advisory found in the $NFIND findings:" \
    "a third not_affected, a third fixed, a third affected; OpenVEX's others about absent packages)"
echo "agreement:"
sed 's/^/  /' "$AGREE"
echo
echo "== runs ($RUNS, order rotated, 1 untimed warm-up each): part run tool wall_s peak_rss_KiB cpu_s"
sort -k2,2n -s "$RESULTS"
echo
echo "== medians (markdown)"
echo
echo "| command | wall s | cpu s | peak RSS MiB |"
echo "|---|---|---|---|"
row sbom cleanpipe "cleanpipe sbom (image: the catalogue alone)"
row plain cleanpipe "cleanpipe scan (image, no VEX)"
row openvex cleanpipe "cleanpipe scan --vex OpenVEX"
row cdx cleanpipe "cleanpipe scan --vex CycloneDX"
row big cleanpipe "cleanpipe scan --vex large OpenVEX"
row plain trivy "trivy sbom (SBOM, no VEX)"
row openvex trivy "trivy sbom --vex OpenVEX"
row cdx trivy "trivy sbom --vex CycloneDX"
row big trivy "trivy sbom --vex large OpenVEX"
echo
awk -v cp="$(median plain cleanpipe 6)" -v co="$(median openvex cleanpipe 6)" -v cc="$(median cdx cleanpipe 6)" \
    -v cb="$(median big cleanpipe 6)" -v cs="$(median sbom cleanpipe 6)" \
    -v tp="$(median plain trivy 6)" -v to="$(median openvex trivy 6)" -v tc="$(median cdx trivy 6)" \
    -v tb="$(median big trivy 6)" 'BEGIN {
    printf "VEX cost (median cpu with VEX - without): cleanpipe OpenVEX %+.2f s, CycloneDX %+.2f s, large OpenVEX %+.2f s;" \
        " trivy OpenVEX %+.2f s, CycloneDX %+.2f s, large OpenVEX %+.2f s\n", co - cp, cc - cp, cb - cp, to - tp, tc - tp, tb - tp
    printf "cleanpipe scan beyond its catalogue (median cpu, scan - sbom): no VEX %.2f s, OpenVEX %.2f s, large OpenVEX %.2f s\n",
        cp - cs, co - cs, cb - cs
    printf "cleanpipe/trivy cpu: no VEX %.2f, OpenVEX %.2f, CycloneDX %.2f, large OpenVEX %.2f\n", cp / tp, co / to, cc / tc, cb / tb
}'
