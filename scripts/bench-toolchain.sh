#!/usr/bin/env bash
# Benchmark: the seed's tool chain against `cleanpipe run`, same commit, same Dockerfile and
# ~20 MiB context, one run of this script:
#   (a) tools:     docker build (classic builder) + docker push + syft (SPDX and CycloneDX,
#                  one call) + cosign sign + cosign attest for each attestation (SPDX,
#                  CycloneDX, SLSA provenance v1)
#   (b) cleanpipe: `cleanpipe run` = source + verify-base + build (Docker engine) + scan gate
#                  (builtin, OSV records) + SBOMs + signature + the same attestations plus the
#                  scan result + push
# grype is not in (a): its vulnerability database is built by grype-db from feeds it downloads
# (vunnel), and no such database can be made offline here. cleanpipe's (b) still runs its scan,
# so (b) does more work than (a).
#
# Usage: scripts/bench-toolchain.sh
#
# Environment:
#   RUNS          measured warm runs per side (default 5), alternating which goes first
#   CLEANPIPE     cleanpipe binary (default target/release/cleanpipe, built if missing)
#   COSIGN        cosign v2 binary (default: $CLEANPIPE_TEST_COSIGN_V2, as .ci/run builds it)
#   SYFT          syft binary (default: built once with `go install` into
#                 $CLEANPIPE_TEST_CACHE/peers/syft-v1.57.2, default cache /var/cache/cleanpipe-test)
#   CLEANPIPE_TEST_REGISTRY  HOST:PORT of a plain-HTTP registry (default: a throw-away one)
#   BENCH_KEEP    1: keep the work directory
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS=${RUNS:-5}
SYFT_VERSION=v1.57.2
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
export DOCKER_BUILDKIT=0

source "$ROOT/scripts/bench-lib.sh"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
for tool in docker git jq python3 tar; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see .ci/run for the packages)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (start dockerd)"
COSIGN=${COSIGN:-${CLEANPIPE_TEST_COSIGN_V2:-}}
[[ -x "$COSIGN" ]] || die "cosign v2 not found: set COSIGN or CLEANPIPE_TEST_COSIGN_V2 (.ci/run builds it)"
if [[ -z "${SYFT:-}" ]]; then
    dir="${CLEANPIPE_TEST_CACHE:-/var/cache/cleanpipe-test}/peers/syft-$SYFT_VERSION"
    if [[ ! -x "$dir/syft" ]]; then
        log "building syft $SYFT_VERSION from the Go module proxy into $dir"
        mkdir -p "$dir.partial"
        GOBIN="$dir.partial" GOFLAGS=-mod=mod "$(command -v /usr/local/go/bin/go || command -v go)" \
            install "github.com/anchore/syft/cmd/syft@$SYFT_VERSION" || die "building syft failed"
        rm -rf "$dir" && mv "$dir.partial" "$dir"
    fi
    SYFT="$dir/syft"
fi

WORK=$(mktemp -d /tmp/cleanpipe-bench-toolchain.XXXXXX)
IMAGES=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    ((${#IMAGES[@]})) && docker rmi "${IMAGES[@]}" >/dev/null 2>&1
    stop_registry
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf -- "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_cleanpipe
start_registry
RUN_ID=$(date +%s)-$$
bench_signed_base
bench_project "$WORK/project" 1
cp -r "$ROOT/tests/fixtures/osv" "$PROJ/osv" || die "the OSV fixtures (tests/fixtures/osv) are missing"
cat >"$PROJ/pipeline.yaml" <<'EOF'
version: 1
name: bench-toolchain
verify_base:
  keys: { team: base.pub }
  default_key: team
build:
  dockerfile:
    args: { APP_VERSION: "1.0" }
  scan:
    db: osv
sign:
  key: cosign.key
push:
  repository: ${BENCH_REPO}
  tags: [v1]
EOF
printf '*.key\n.cleanpipe\nosv/\n' >"$PROJ/.dockerignore"
(cd "$PROJ" && COSIGN_PASSWORD=pw "$CLEANPIPE" -q keygen >&2)
cp "$KEYS/base.pub" "$PROJ/base.pub"
git -C "$PROJ" init -q -b main
git -C "$PROJ" add -A
git -C "$PROJ" -c user.email=b@b -c user.name=b commit -q -m bench
IMAGES+=("cleanpipe.local/bench-toolchain:build")
# The SLSA predicate cosign attests: the same shape cleanpipe writes (from a first run below).
PREDICATE="$WORK/provenance.predicate.json"

RESULTS="$WORK/results" # "RUN TOOL WALL"
STEPS="$WORK/steps"     # "RUN STEP SECONDS"
: >"$RESULTS"
: >"$STEPS"
timed() { # timed RUN STEP CMD...: run CMD (output to the run's log), record its wall time
    local run=$1 step=$2
    shift 2
    /usr/bin/time -f '%e' -o "$WORK/t" "$@" >>"$WORK/log.$run" 2>&1 || {
        tail -n 30 "$WORK/log.$run" >&2
        die "run $run: $step failed: $*"
    }
    echo "$run $step $(cat "$WORK/t")" >>"$STEPS"
}

run_tools() { # run_tools RUN
    local run=$1 ref="$REGISTRY/bench-tools-$RUN_ID-$1" start end digest
    start=$(date +%s.%N)
    IMAGES+=("$ref:v1")
    (
        cd "$PROJ"
        timed "$run" docker-build docker build -t "$ref:v1" --build-arg APP_VERSION=1.0 .
        timed "$run" docker-push docker push "$ref:v1"
        digest=$(docker inspect --format '{{index .RepoDigests 0}}' "$ref:v1")
        digest=${digest#*@}
        export SYFT_REGISTRY_INSECURE_USE_HTTP=true SYFT_CHECK_FOR_APP_UPDATE=false
        timed "$run" syft "$SYFT" scan "registry:$ref@$digest" -q \
            -o "spdx-json=$WORK/sbom.$run.spdx.json" -o "cyclonedx-json=$WORK/sbom.$run.cdx.json"
        export COSIGN_PASSWORD=pw COSIGN_YES=true
        timed "$run" cosign-sign "$COSIGN" sign --key cosign.key --tlog-upload=false "$ref@$digest"
        timed "$run" cosign-attest-spdx "$COSIGN" attest --key cosign.key --tlog-upload=false \
            --type spdxjson --predicate "$WORK/sbom.$run.spdx.json" "$ref@$digest"
        timed "$run" cosign-attest-cdx "$COSIGN" attest --key cosign.key --tlog-upload=false \
            --type cyclonedx --predicate "$WORK/sbom.$run.cdx.json" "$ref@$digest"
        timed "$run" cosign-attest-slsa "$COSIGN" attest --key cosign.key --tlog-upload=false \
            --type slsaprovenance1 --predicate "$PREDICATE" "$ref@$digest"
    )
    end=$(date +%s.%N)
    echo "$run tools $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b - a}')" >>"$RESULTS"
}

run_cleanpipe() { # run_cleanpipe RUN
    local run=$1 start end
    start=$(date +%s.%N)
    (cd "$PROJ" && COSIGN_PASSWORD=pw BENCH_REPO="$REGISTRY/bench-cleanpipe-$RUN_ID-$run" \
        "$CLEANPIPE" run --report "$WORK/report.$run.json" >>"$WORK/log.$run" 2>&1) || {
        tail -n 30 "$WORK/log.$run" >&2
        die "cleanpipe run $run failed"
    }
    end=$(date +%s.%N)
    echo "$run cleanpipe $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b - a}')" >>"$RESULTS"
    jq -r --arg r "$run" '.stages[] | "\($r) cleanpipe-\(.name) \(.duration_ms / 1000)"' \
        "$WORK/report.$run.json" >>"$STEPS"
}

log "warm-up (untimed): one run of each"
run_cleanpipe warmup
jq '.predicate' "$PROJ/.cleanpipe/out/provenance.intoto.json" >"$PREDICATE"
run_tools warmup
log "$RUNS warm runs of each, alternating which goes first"
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then run_tools "$i"; run_cleanpipe "$i"; else run_cleanpipe "$i"; run_tools "$i"; fi
done

med() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
measured='$1 ~ /^[0-9]+$/'
a=$(awk "$measured"' && $2 == "tools" { print $3 }' "$RESULTS" | med)
b=$(awk "$measured"' && $2 == "cleanpipe" { print $3 }' "$RESULTS" | med)
echo
echo "one commit, a 2-stage Dockerfile on a signed busybox base, ~20 MiB context, registry $REGISTRY"
echo "(a) docker build (DOCKER_BUILDKIT=0) + docker push + syft $SYFT_VERSION (SPDX + CycloneDX) + cosign $("$COSIGN" version 2>&1 | sed -n 's/^GitVersion: *//p') sign + 3 x cosign attest"
echo "(b) cleanpipe run: the same plus verify-base and a builtin scan gate (grype left out of (a): no offline database)"
echo
printf '%-8s %-10s %8s\n' run side wall_s
awk '$1 != "warmup"' "$RESULTS" | sort -k1,1n | while read -r run side wall; do printf '%-8s %-10s %8.2f\n' "$run" "$side" "$wall"; done
echo
echo "per-step medians over the warm runs (s):"
for s in docker-build docker-push syft cosign-sign cosign-attest-spdx cosign-attest-cdx cosign-attest-slsa \
    cleanpipe-source cleanpipe-verify-base cleanpipe-build cleanpipe-sign cleanpipe-push; do
    printf '  %-24s %6.2f\n' "$s" "$(awk -v s="$s" "$measured"' && $2 == s { print $3 }' "$STEPS" | med)"
done
echo
awk -v a="$a" -v b="$b" -v n="$RUNS" 'BEGIN { printf "median wall over %d warm runs: (a) tool chain %.2f s, (b) cleanpipe run %.2f s, ratio b/a %.2f\n", n, a, b, b / a }'
