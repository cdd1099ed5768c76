#!/usr/bin/env bash
# Benchmark (issue 24, "Measure"): rescanning an image from its attested SBOM
# (`cleanpipe scan IMAGE --from-sbom --key K`) against a full scan that reads its layers
# (`cleanpipe scan IMAGE`), on the same image and the same OSV database, in one run.
#
# Usage: scripts/bench-rescan.sh
#
# The image: scripts/gen-catalog-image.py's (a Debian minbase rootfs, DEBIAN_TAR, and a layer
# holding a ~JAR_MIB MiB fat jar of ~140 Maven artifacts, 300 PyPI and ~320 npm packages),
# signed as a base, then customized by `cleanpipe run` (one file added), which attests its
# CycloneDX SBOM with the catalogue in it. The database: RECORDS synthetic OSV records.
#
# Timed, alternating, RUNS times each after one untimed warm-up:
#   (a) full:   cleanpipe scan oci:PROJ/.cleanpipe/oci:TAG --db DB --fail-on none -o json
#               (the layout's catalogue cache and XDG_CACHE_HOME removed first: cold)
#   (b) rescan: the same with --from-sbom --key app.pub (reads the attestation, no layer)
# Both reports must list the same findings and the same unchecked packages, or the script fails.
#
# Environment:
#   CLEANPIPE    cleanpipe binary (default target/release/cleanpipe, built if missing)
#   DEBIAN_TAR   default /var/cache/cleanpipe-test/debian-minbase.tar (.ci/run makes it)
#   JAR_MIB      size of the fat jar (default 110)
#   RECORDS      synthetic OSV records (default 4000)
#   RUNS         timed runs of each (default 5)
# Each run is timed with GNU time: wall seconds, CPU seconds (user + sys) and peak RSS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUNS=${RUNS:-5}
DEBIAN_TAR=${DEBIAN_TAR:-/var/cache/cleanpipe-test/debian-minbase.tar}
JAR_MIB=${JAR_MIB:-110}
RECORDS=${RECORDS:-4000}
TAG=img

source "$ROOT/scripts/bench-lib.sh"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
for tool in umoci jq python3 git; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see .ci/run for the packages)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time, package 'time') not found"
[[ -f "$DEBIAN_TAR" ]] || die "DEBIAN_TAR '$DEBIAN_TAR' not found"

WORK=$(mktemp -d /tmp/cleanpipe-bench-rescan.XXXXXX)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_cleanpipe
RESULTS="$WORK/results"
: >"$RESULTS"

run_timed() { # run_timed TOOL RUN CMD... ; appends "rescan RUN TOOL WALL RSS CPU" to RESULTS
    local tool=$1 run=$2
    shift 2
    local tfile="$WORK/time.$tool.$run" lfile="$WORK/log.$tool.$run" rc=0
    /usr/bin/time -f '%e %M %U %S' -o "$tfile" "$@" >"$lfile" 2>&1 || rc=$?
    if ((rc != 0)); then
        echo "---- $tool run $run failed ($rc): $*" >&2
        tail -n 30 "$lfile" >&2
        exit 1
    fi
    [[ "$run" == warmup ]] && return 0
    local wall rss user sys cpu
    read -r wall rss user sys < <(tail -n 1 "$tfile")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u + s}')
    echo "rescan $run $tool $wall $rss $cpu" >>"$RESULTS"
    printf '  run %-3s %-8s %8.2f s wall %8.2f s cpu %10.1f MiB\n' "$run" "$tool" "$wall" "$cpu" "$(kib2mib "$rss")" >&2
}

# The base: the generated image in a layout, signed.
GEN="$WORK/gen"
log "generating the image content and the OSV database (fat jar ~$JAR_MIB MiB, $RECORDS records)"
python3 "$ROOT/scripts/gen-catalog-image.py" --debian-tar "$DEBIAN_TAR" --out "$GEN" \
    --jar-mib "$JAR_MIB" --records "$RECORDS" 2>&1 | sed 's/^/    /' >&2
BASE="$WORK/base"
umoci init --layout "$BASE"
umoci new --image "$BASE:$TAG"
umoci raw add-layer --image "$BASE:$TAG" "$DEBIAN_TAR"
umoci raw add-layer --image "$BASE:$TAG" "$GEN/app-layer.tar"
BASE_DIGEST=$(jq -r --arg t "$TAG" \
    '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$BASE/index.json")
KEYS="$WORK/keys"
mkdir -p "$KEYS"
COSIGN_PASSWORD=bp "$CLEANPIPE" -q keygen --output-key-prefix "$KEYS/base" >&2
COSIGN_PASSWORD=bp "$CLEANPIPE" -q sign "oci:$BASE:$TAG" --key "$KEYS/base.key" >/dev/null

# The customized image, built and attested by `cleanpipe run`.
PROJ="$WORK/proj"
mkdir -p "$PROJ"
cp "$KEYS/base.pub" "$PROJ/base.pub"
printf 'customized\n' >"$PROJ/motd"
printf '.cleanpipe\n*.key\n' >"$PROJ/.gitignore"
cat >"$PROJ/pipeline.yaml" <<EOF
version: 1
verify_base:
  keys: { vendor: base.pub }
  default_key: vendor
build:
  customize:
    base: oci:$BASE@$BASE_DIGEST
    files:
      - src: motd
        dest: /etc/motd
sign:
  key: app.key
push:
  tags: [$TAG]
EOF
(cd "$PROJ" && COSIGN_PASSWORD=ap "$CLEANPIPE" -q keygen --output-key-prefix app >&2)
git -C "$PROJ" init -q
git -C "$PROJ" add -A
git -C "$PROJ" -c user.email=bench@example.com -c user.name=bench commit -qm bench
log "building and attesting the customized image (cleanpipe run)"
(cd "$PROJ" && COSIGN_PASSWORD=ap "$CLEANPIPE" -q run >/dev/null)
IMAGE="oci:$PROJ/.cleanpipe/oci:$TAG"
DB="$GEN/osv/records"

full() { # full RUN
    local h="$WORK/home.full"
    rm -rf -- "$h" "$PROJ/.cleanpipe/oci/cleanpipe-cache"
    mkdir -p "$h"
    run_timed full "$1" env XDG_CACHE_HOME="$h" \
        "$CLEANPIPE" scan "$IMAGE" --db "$DB" --fail-on none --output json --report "$WORK/full.$1.json"
}
rescan() { # rescan RUN
    local h="$WORK/home.rescan"
    rm -rf -- "$h"
    mkdir -p "$h"
    run_timed rescan "$1" env XDG_CACHE_HOME="$h" \
        "$CLEANPIPE" scan "$IMAGE" --db "$DB" --fail-on none --output json --report "$WORK/rescan.$1.json" \
        --from-sbom --key "$PROJ/app.pub"
}

log "warm-up"
full warmup
rescan warmup
log "$RUNS runs each, alternating"
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then full "$i"; rescan "$i"; else rescan "$i"; full "$i"; fi
done

same() { jq -S '{findings: [.findings[] | {id, package, version, location}], unchecked: .coverage.unchecked, packages}' "$1"; }
diff <(same "$WORK/full.1.json") <(same "$WORK/rescan.1.json") >/dev/null ||
    die "the rescan's findings differ from the full scan's"
FINDINGS=$(jq '.findings | length' "$WORK/full.1.json")
PACKAGES=$(jq '.packages' "$WORK/full.1.json")

cat <<EOF

Rescan from the attested SBOM vs a full scan ($(date -u +%Y-%m-%d), $(nproc) cores, $RUNS runs each,
medians; $PACKAGES packages, $FINDINGS findings, the same in both; $RECORDS records; fat jar ~$JAR_MIB MiB)

| command | wall s | cpu s | peak RSS MiB |
|---|---|---|---|
EOF
for t in full rescan; do
    label=$([[ $t == full ]] && echo 'cleanpipe scan (reads the layers, cold)' || echo 'cleanpipe scan --from-sbom --key')
    printf '| %s | %.2f | %.2f | %.1f |\n' "$label" "$(median rescan "$t" 4)" "$(median rescan "$t" 6)" \
        "$(kib2mib "$(median rescan "$t" 5)")"
done
