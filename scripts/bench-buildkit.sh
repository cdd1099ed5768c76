#!/usr/bin/env bash
# Benchmark: the same multi-stage Dockerfile and ~20 MB context built with BuildKit and pushed to
# a local registry two ways, in one run, against one buildkitd:
#   (a) buildctl:  `buildctl build … --output type=image,push=true` (what `docker buildx build
#                  --push` asks BuildKit for: build, then push from BuildKit itself)
#   (a') the same made reproducible the way cleanpipe builds (`SOURCE_DATE_EPOCH` build arg,
#                  `rewrite-timestamp=true`: BuildKit rewrites every layer's file times on export)
#   (b) cleanpipe: `cleanpipe run` with `build.dockerfile.builder: buildkit` = source +
#                  verify-base + build (BuildKit, OCI export into the layout) + SBOMs, scan-free
#                  sign (signature, provenance, SBOM attestations) + push (image, signatures, tags)
#
# Usage: scripts/bench-buildkit.sh
#
# The base image and the ~20 MiB project are bench-docker.sh's (scripts/bench-lib.sh).
#
# Environment:
#   RUNS          measured warm runs per tool (default 5)
#   CLEANPIPE     cleanpipe binary (default target/release/cleanpipe, built if missing)
#   BUILDKITD     buildkitd binary (default: the one .ci/run builds into its cache)
#   BUILDCTL      buildctl binary (same)
#   BENCH_COLD    1 (default): also one cold run of each (--no-cache / `no_cache: true`); 0: skip
#   BENCH_KEEP    1: keep the work directory (logs, reports, project) at exit
#
# A throw-away docker-registry and buildkitd are started for the run and removed at exit. Warm
# runs share buildkitd's cache, one untimed warm-up of each comes first, every push goes to a
# fresh repository, runs alternate which tool goes first; wall time with GNU time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS=${RUNS:-5}
BENCH_COLD=${BENCH_COLD:-1}
CACHE="${CLEANPIPE_TEST_CACHE:-/var/cache/cleanpipe-test}"
BUILDKITD=${BUILDKITD:-$(ls -d "$CACHE"/peers/buildkit-*/ 2>/dev/null | tail -n 1)buildkitd}
BUILDCTL=${BUILDCTL:-$(dirname "$BUILDKITD")/buildctl}
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
unset CLEANPIPE_TEST_REGISTRY # our own registry: buildkitd must know it as plain http

source "$ROOT/scripts/bench-lib.sh"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
for tool in docker git jq python3 tar; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see .ci/run for the packages)"
done
[[ -x "$BUILDKITD" && -x "$BUILDCTL" ]] || die "buildkitd/buildctl not found ($BUILDKITD, $BUILDCTL): run .ci/run once or set BUILDKITD/BUILDCTL"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (it imports and pushes the base image)"

WORK=$(mktemp -d /tmp/cleanpipe-bench-buildkit.XXXXXX)
IMAGES=() # engine tags made by this script, removed at exit
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    ((${#IMAGES[@]})) && docker rmi "${IMAGES[@]}" >/dev/null 2>&1
    [[ -f "$WORK/buildkit/pid" ]] && kill "$(cat "$WORK/buildkit/pid")" 2>/dev/null && sleep 1
    stop_registry
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf -- "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_cleanpipe
start_registry
mkdir -p "$WORK/buildkit"
ADDR=$("$ROOT/.ci/buildkitd" "$WORK/buildkit" "$BUILDKITD" "$BUILDCTL" "$REGISTRY")
log "buildkitd at $ADDR"
RUN_ID=$(date +%s)-$$

# Base and project: the same as scripts/bench-docker.sh's (scripts/bench-lib.sh).
bench_signed_base
bench_project "$WORK/project" 1
pipeline_yaml() { # pipeline_yaml NO_CACHE
    printf 'version: 1\nname: bench-buildkit\nverify_base:\n  keys: { team: base.pub }\n  default_key: team\n'
    printf 'build:\n  dockerfile:\n    builder: buildkit\n    buildkit_host: %s\n    buildctl: %s\n' "$ADDR" "$BUILDCTL"
    printf '    args: { APP_VERSION: "1.0" }\n'
    [[ "$1" == true ]] && printf '    no_cache: true\n'
    printf 'sign:\n  key: cosign.key\npush:\n  repository: ${BENCH_REPO}\n  tags: [v1]\n'
}
pipeline_yaml false >"$PROJ/pipeline.yaml"
pipeline_yaml true >"$PROJ/pipeline-nocache.yaml"
(cd "$PROJ" && COSIGN_PASSWORD=pw "$CLEANPIPE" -q keygen >&2)
cp "$KEYS/base.pub" "$PROJ/base.pub"
git -C "$PROJ" init -q -b main
git -C "$PROJ" add -A
git -C "$PROJ" -c user.email=b@b -c user.name=b commit -q -m bench

RESULTS="$WORK/results" # "RUN TOOL WALL"
: >"$RESULTS"
EPOCH=$(git -C "$PROJ" log -1 --format=%ct)
run_buildctl() { # run_buildctl RUN TOOL [--no-cache]; TOOL buildctl, or buildctl-repro for
    # the same build made reproducible as cleanpipe makes it (SOURCE_DATE_EPOCH, rewrite-timestamp)
    local run=$1 tool=$2
    shift 2
    local name="$REGISTRY/bench-$tool-$RUN_ID-$run:v1" extra=() output=""
    if [[ "$tool" == buildctl-repro ]]; then
        extra=(--opt "build-arg:SOURCE_DATE_EPOCH=$EPOCH")
        output=",rewrite-timestamp=true"
    fi
    /usr/bin/time -f '%e' -o "$WORK/time.$tool.$run" "$BUILDCTL" --addr "$ADDR" build "$@" \
        --frontend dockerfile.v0 --local context="$PROJ" --local dockerfile="$PROJ" \
        --opt build-arg:APP_VERSION=1.0 "${extra[@]}" \
        --output "type=image,name=$name,push=true,registry.insecure=true$output" >"$WORK/log.$tool.$run" 2>&1 ||
        { tail -n 30 "$WORK/log.$tool.$run" >&2; die "$tool run $run failed"; }
    echo "$run $tool $(cat "$WORK/time.$tool.$run")" >>"$RESULTS"
    printf '  run %-7s %-15s %8.2f s\n' "$run" "$tool" "$(cat "$WORK/time.$tool.$run")" >&2
}
run_cleanpipe() { # run_cleanpipe RUN PIPELINE_FILE
    local run=$1 file=$2
    (cd "$PROJ" && COSIGN_PASSWORD=pw BENCH_REPO="$REGISTRY/bench-cleanpipe-$RUN_ID-$run" \
        /usr/bin/time -f '%e' -o "$WORK/time.cleanpipe.$run" \
        "$CLEANPIPE" run -f "$file" --report "$WORK/report.$run.json" >"$WORK/log.cleanpipe.$run" 2>&1) ||
        { tail -n 30 "$WORK/log.cleanpipe.$run" >&2; die "cleanpipe run $run failed"; }
    echo "$run cleanpipe $(cat "$WORK/time.cleanpipe.$run")" >>"$RESULTS"
    printf '  run %-7s %-10s %8.2f s  (%s)\n' "$run" cleanpipe "$(cat "$WORK/time.cleanpipe.$run")" \
        "$(jq -r '[.stages[] | "\(.name) \(.duration_ms) ms"] | join(", ")' "$WORK/report.$run.json")" >&2
}

log "warm-up (untimed): one run of each"
run_buildctl warmup buildctl
run_buildctl warmup buildctl-repro
run_cleanpipe warmup "$PROJ/pipeline.yaml"
log "$RUNS warm runs of each, rotating which goes first"
for ((i = 1; i <= RUNS; i++)); do
    case $((i % 3)) in
    1) run_buildctl "$i" buildctl; run_buildctl "$i" buildctl-repro; run_cleanpipe "$i" "$PROJ/pipeline.yaml" ;;
    2) run_cleanpipe "$i" "$PROJ/pipeline.yaml"; run_buildctl "$i" buildctl; run_buildctl "$i" buildctl-repro ;;
    0) run_buildctl "$i" buildctl-repro; run_cleanpipe "$i" "$PROJ/pipeline.yaml"; run_buildctl "$i" buildctl ;;
    esac
done
if ((BENCH_COLD)); then
    log "cold: one run of each without the build cache"
    run_buildctl cold buildctl --no-cache
    run_buildctl cold buildctl-repro --no-cache
    run_cleanpipe cold "$PROJ/pipeline-nocache.yaml"
fi
CHECK="$REGISTRY/bench-cleanpipe-$RUN_ID-$RUNS:v1"
docker pull -q "$CHECK" >/dev/null 2>&1 || die "docker pull $CHECK failed"
OUT=$(docker run --rm "$CHECK" 2>&1) || die "docker run $CHECK failed: $OUT"
[[ "$OUT" == 1.0 ]] || die "docker run $CHECK printed '$OUT', expected 1.0"
IMAGES+=("$CHECK")

med() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median_of() { awk -v t="$1" '$1 ~ /^[0-9]+$/ && $2 == t { print $3 }' "$RESULTS" | med; }
a=$(median_of buildctl)
r=$(median_of buildctl-repro)
b=$(median_of cleanpipe)
echo
echo "BuildKit $("$BUILDCTL" --version 2>/dev/null | awk '{print $3}'), same buildkitd, 2-stage Dockerfile, ~20 MiB context, registry $REGISTRY"
echo "(a) buildctl build --output type=image,push=true (what docker buildx build --push asks for)"
echo "(a') the same, reproducible as cleanpipe builds: SOURCE_DATE_EPOCH=$EPOCH, rewrite-timestamp=true"
echo "(b) cleanpipe run (builder: buildkit; + verify-base, SBOMs, provenance, signature, push)"
awk -v a="$a" -v r="$r" -v b="$b" -v n="$RUNS" 'BEGIN { printf "median wall over %d warm runs: (a) %.2f s, (a'"'"') %.2f s, (b) %.2f s; ratio b/a %.2f, b/a'"'"' %.2f\n", n, a, r, b, b / a, b / r }'
if ((BENCH_COLD)); then
    ca=$(awk '$1 == "cold" && $2 == "buildctl" { print $3 }' "$RESULTS")
    cr=$(awk '$1 == "cold" && $2 == "buildctl-repro" { print $3 }' "$RESULTS")
    cb=$(awk '$1 == "cold" && $2 == "cleanpipe" { print $3 }' "$RESULTS")
    awk -v a="$ca" -v r="$cr" -v b="$cb" 'BEGIN { printf "cold (no cache, one run each): (a) %.2f s, (a'"'"') %.2f s, (b) %.2f s; ratio b/a %.2f, b/a'"'"' %.2f\n", a, r, b, b / a, b / r }'
fi
echo "check: docker run --rm $CHECK -> $OUT"
