#!/usr/bin/env bash
# Benchmark: verifying a signed and attested image, `cleanpipe verify` against cosign.
#
# Usage:
#   scripts/bench-verify.sh --setup [--runs N] [--cleanpipe BIN] [--cosign BIN]
#   scripts/bench-verify.sh --image REF --key PUB [--registry-log FILE] [--runs N]
#                           [--cleanpipe BIN] [--cosign BIN]
#
#   --setup            start a private docker-registry on a free loopback port, build, sign and
#                      attest a tiny image there with `cleanpipe run` (scratch base, one dpkg
#                      package, the OSV fixtures), then bench against it; all removed at exit
#   --image REF        `HOST:PORT/repo@sha256:…` carrying a cleanpipe signature and the four
#                      attestations slsaprovenance1, spdxjson, cyclonedx and vuln
#   --key PUB          the public key they verify with
#   --registry-log F   the registry's access log (distribution writes one line per request):
#                      requests are counted from the lines it gains during each command; without
#                      it the request counts are not reported
#   --runs N           timed runs per side (default 11, or $RUNS); one untimed warm-up run each
#   --cleanpipe BIN    default $CLEANPIPE, else target/release/cleanpipe (built if missing)
#   --cosign BIN       default $COSIGN, else $CLEANPIPE_TEST_COSIGN_V3, else `cosign` on PATH
#
# Environment: CLEANPIPE_FIXTURES (default tests/fixtures) for --setup;
# BENCH_KEEP=1 keeps the work directory (registry log, project, outputs) instead of removing it.
#
# One cleanpipe run is
#   cleanpipe verify IMAGE --key K --require-provenance --require-sbom --fail-on critical
# One cosign run is the sum of five commands, the same checks as cosign knows them:
#   cosign verify --key K --insecure-ignore-tlog=true IMAGE
#   cosign verify-attestation --key K --insecure-ignore-tlog=true --type T IMAGE
#     for T in slsaprovenance1 spdxjson cyclonedx vuln
# Every command must succeed (the bench stops otherwise). cosign runs with a private TUF_ROOT and
# HTTPS_PROXY/HTTP_PROXY pointing at a closed loopback port, so it cannot reach the internet;
# the registry is on loopback and bypasses the proxy. Runs alternate which side goes first.
# The figures: median wall time of each side, the ratio cleanpipe/cosign, and the number of HTTP
# requests each side sends to the registry per run (median over the timed runs), counted from
# the registry's access log: requests it answered (cosign's failed https:// ping before each plain
# HTTP session never reaches the log).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

RUNS=${RUNS:-11}
SETUP=0
IMAGE=""
KEY=""
REGISTRY_LOG=""
while (($#)); do
    case "$1" in
    --setup) SETUP=1 ;;
    --image) IMAGE=${2:?--image needs a value}; shift ;;
    --key) KEY=${2:?--key needs a value}; shift ;;
    --registry-log) REGISTRY_LOG=${2:?--registry-log needs a value}; shift ;;
    --runs) RUNS=${2:?--runs needs a value}; shift ;;
    --cleanpipe) CLEANPIPE=${2:?--cleanpipe needs a value}; shift ;;
    --cosign) COSIGN=${2:?--cosign needs a value}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done

WORK=$(mktemp -d /tmp/cleanpipe-bench-verify.XXXXXX)
source "$ROOT/scripts/bench-lib.sh"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_registry
    if [[ -n "${BENCH_KEEP:-}" ]]; then
        log "kept $WORK (BENCH_KEEP is set)"
    else
        rm -rf -- "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer (got '$RUNS')"
command -v python3 >/dev/null 2>&1 || die "python3 not found"
if ((SETUP)); then
    [[ -z "$IMAGE$KEY$REGISTRY_LOG" ]] || die "--setup makes its own image, key and registry"
else
    [[ -n "$IMAGE" && -n "$KEY" ]] || { usage >&2; die "give --setup, or --image and --key"; }
    [[ -f "$KEY" ]] || die "key '$KEY' not found"
    KEY=$(cd "$(dirname "$KEY")" && pwd)/$(basename "$KEY")
    if [[ -n "$REGISTRY_LOG" ]]; then
        [[ -f "$REGISTRY_LOG" ]] || die "registry log '$REGISTRY_LOG' not found"
    fi
fi

find_cleanpipe
COSIGN=${COSIGN:-${CLEANPIPE_TEST_COSIGN_V3:-$(command -v cosign || true)}}
[[ -n "$COSIGN" && -x "$COSIGN" ]] || die "no cosign binary: give --cosign BIN (or set CLEANPIPE_TEST_COSIGN_V3)"
COSIGN=$(cd "$(dirname "$COSIGN")" && pwd)/$(basename "$COSIGN")

if ((SETUP)); then
    FIXTURES=${CLEANPIPE_FIXTURES:-$ROOT/tests/fixtures}
    [[ -d "$FIXTURES/osv" ]] || die "no OSV fixtures at $FIXTURES/osv: set CLEANPIPE_FIXTURES"
    # Our own registry: bench-lib starts it when CLEANPIPE_TEST_REGISTRY is unset. Its access
    # log (one line per request, whatever the log level) goes to $WORK/registry/log.
    unset CLEANPIPE_TEST_REGISTRY
    start_registry
    REGISTRY_LOG="$WORK/registry/log"

    log "building, signing and attesting an image with cleanpipe run"
    P="$WORK/project"
    mkdir -p "$P"
    cp -r "$FIXTURES/osv" "$WORK/osv"
    rm -f "$WORK/osv/.cleanpipe-index.json"
    printf 'hello\n' >"$P/hello.txt"
    printf 'Package: bench-hello\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: Bench <bench@example.com>\nArchitecture: amd64\nVersion: 1.2.3-1\nDescription: a package for the verify bench\n\n' >"$P/status"
    printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$P/os-release"
    printf '.cleanpipe\n' >"$P/.gitignore"
    cat >"$P/pipeline.yaml" <<EOF
version: 1
build:
  customize:
    base: scratch
    files:
      - src: hello.txt
        dest: /hello.txt
      - src: status
        dest: /var/lib/dpkg/status
      - src: os-release
        dest: /etc/os-release
  scan:
    db: $WORK/osv
    fail_on: critical
sign:
  key: cosign.key
push:
  repository: $REGISTRY/bench/verify
  tags: ["v1"]
EOF
    (
        cd "$P"
        export DOCKER_CONFIG="$P/.no-docker-config" COSIGN_PASSWORD=pw
        unset CLEANPIPE_FILE
        git init -q -b main
        "$CLEANPIPE" keygen --output-key-prefix cosign >"$WORK/keygen.out" 2>&1
        git add -A
        git -c user.name=bench -c user.email=bench@example.com commit -q -m bench
        "$CLEANPIPE" run >"$WORK/run.out" 2>"$WORK/run.err" </dev/null
    ) || { cat "$WORK/keygen.out" "$WORK/run.err" >&2 2>/dev/null; die "cleanpipe keygen/run failed"; }
    IMAGE=$(tail -n 1 "$WORK/run.out")
    [[ "$IMAGE" == "$REGISTRY/bench/verify@sha256:"* ]] || die "cleanpipe run printed '$IMAGE', not an image digest reference"
    KEY="$P/cosign.pub"
    log "image $IMAGE"
fi

TYPES=(slsaprovenance1 spdxjson cyclonedx vuln)
RUNDIR="$WORK/run"
mkdir -p "$RUNDIR/tuf" "$RUNDIR/docker"
CLEANPIPE_CMD=("$CLEANPIPE" verify "$IMAGE" --key "$KEY" --require-provenance --require-sbom --fail-on critical)
cosign_args() { # cosign_args INDEX: sets ARGS to the INDEX-th cosign command (0: verify, 1-4: the types)
    if (($1 == 0)); then
        ARGS=(verify --key "$KEY" --insecure-ignore-tlog=true "$IMAGE")
    else
        ARGS=(verify-attestation --key "$KEY" --insecure-ignore-tlog=true --type "${TYPES[$1 - 1]}" "$IMAGE")
    fi
}
peer() { # runs cosign offline: private TUF root, no usable proxy, no docker credentials
    (cd "$RUNDIR" && TUF_ROOT="$RUNDIR/tuf" DOCKER_CONFIG="$RUNDIR/docker" \
        HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
        https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 "$COSIGN" "$@")
}

log_lines() { # the number of request lines in the registry log so far
    if [[ -n "$REGISTRY_LOG" ]]; then
        grep -cE '"(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /' "$REGISTRY_LOG" || true
    else
        echo 0
    fi
}

# run_side SIDE: runs one side once; prints "SECONDS REQUESTS"; stops the bench on a failure.
run_side() {
    local side=$1 t0 t1 n0 n1 out="$RUNDIR/out" i
    n0=$(log_lines)
    t0=$EPOCHREALTIME
    if [[ "$side" == cleanpipe ]]; then
        (cd "$RUNDIR" && DOCKER_CONFIG="$RUNDIR/docker" "${CLEANPIPE_CMD[@]}") >"$out" 2>&1 </dev/null ||
            { cat "$out" >&2; die "cleanpipe verify failed: ${CLEANPIPE_CMD[*]}"; }
    else
        for ((i = 0; i <= ${#TYPES[@]}; i++)); do
            cosign_args "$i"
            peer "${ARGS[@]}" >"$out" 2>&1 </dev/null ||
                { cat "$out" >&2; die "cosign failed: cosign ${ARGS[*]}"; }
        done
    fi
    t1=$EPOCHREALTIME
    sleep 0.2 # let the registry write its last access-log lines
    n1=$(log_lines)
    python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.4f}", int(sys.argv[4]) - int(sys.argv[3]))' "$t0" "$t1" "$n0" "$n1"
}

log "cleanpipe: $CLEANPIPE"
log "cosign:    $COSIGN ($("$COSIGN" version 2>&1 | sed -n 's/^GitVersion: *//p'))"
log "image:     $IMAGE"
log "warm-up: one untimed run per side"
run_side cleanpipe >/dev/null
run_side cosign >/dev/null
: >"$WORK/cleanpipe.times"
: >"$WORK/cosign.times"
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then order=(cleanpipe cosign); else order=(cosign cleanpipe); fi
    for side in "${order[@]}"; do
        run_side "$side" >>"$WORK/$side.times"
    done
    log "run $i/$RUNS: cleanpipe $(tail -n 1 "$WORK/cleanpipe.times"), cosign $(tail -n 1 "$WORK/cosign.times") (seconds requests)"
done

python3 - "$WORK/cleanpipe.times" "$WORK/cosign.times" "$RUNS" "${REGISTRY_LOG:+yes}" <<'PY'
import statistics, sys

def load(path):
    rows = [line.split() for line in open(path) if line.strip()]
    return [float(r[0]) for r in rows], [int(r[1]) for r in rows]

cp_t, cp_n = load(sys.argv[1])
co_t, co_n = load(sys.argv[2])
runs, counted = int(sys.argv[3]), sys.argv[4] == "yes"

def reqs(n):
    if not counted:
        return "n/a (no registry log)"
    lo, hi, med = min(n), max(n), statistics.median(n)
    return f"{med:g}" + ("" if lo == hi else f" (min {lo}, max {hi})")

print(f"\nverify bench: {runs} timed runs per side (median wall time)")
print(f"  cleanpipe verify (1 command):           {statistics.median(cp_t):.3f} s   requests/run: {reqs(cp_n)}")
print(f"  cosign verify + 4 verify-attestation:   {statistics.median(co_t):.3f} s   requests/run: {reqs(co_n)}")
print(f"  ratio cleanpipe/cosign:                 {statistics.median(cp_t) / statistics.median(co_t):.3f}")
PY
