#!/usr/bin/env bash
# Benchmark: the same multi-stage Dockerfile and ~20 MB context built and published to a local
# registry two ways, in one run:
#   (a) docker:    `docker build` (classic builder, DOCKER_BUILDKIT=0) + `docker push`
#   (b) cleanpipe: `cleanpipe run` = source + verify-base + build (Docker engine) + sign + push
#
# Usage: scripts/bench-docker.sh
#
# Environment:
#   RUNS                     measured runs per tool (default 5)
#   CLEANPIPE                cleanpipe binary (default target/release/cleanpipe;
#                            built with `cargo build --release` if that default
#                            is missing)
#   CLEANPIPE_TEST_REGISTRY  HOST:PORT of a plain-HTTP registry to push to; if
#                            unset, a throw-away docker-registry is started on
#                            127.0.0.1 and removed at exit
#   BENCH_SEED               seed for the generated context files (default 1)
#   BENCH_COLD               1 (default): also one cold run of each (docker build
#                            --no-cache, cleanpipe `no_cache: true`); 0: skip
#   BENCH_KEEP               1: keep the work directory (logs, reports, project)
#                            at exit and print its path (default 0)
#
# Measured runs are warm: the engine's build cache is shared by both, and one untimed
# warm-up of each comes first. Every push goes to a fresh repository name. Runs alternate
# which tool goes first. Each command is timed with GNU time (wall seconds, peak RSS of
# the client process: for docker that is the CLI, not the daemon doing the work).
# cleanpipe's stage durations come from its `--report` JSON; the build stage is further
# split, from the timestamps of its progress lines, into the engine's build (until the
# engine reports "Successfully tagged") and the export (docker save + re-pack into the
# layout) after it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUNS=${RUNS:-5}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_COLD=${BENCH_COLD:-1}
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
export DOCKER_BUILDKIT=0

source "$ROOT/scripts/bench-lib.sh"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ "$BENCH_COLD" =~ ^[01]$ ]] || die "BENCH_COLD must be 0 or 1 (got '$BENCH_COLD')"
for tool in docker git jq python3 tar; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see .ci/run for the packages)"
done
[[ -x /bin/busybox ]] || die "/bin/busybox not found (package 'busybox')"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time, package 'time') not found"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (start dockerd)"

# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/cleanpipe-bench-docker.XXXXXX)
IMAGES=() # engine tags made by this script, removed at exit
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if ((${#IMAGES[@]})); then
        docker rmi "${IMAGES[@]}" >/dev/null 2>&1
    fi
    stop_registry
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        echo "kept $WORK" >&2
    else
        rm -rf -- "$WORK"
    fi
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
# Registry
# ---------------------------------------------------------------------------
start_registry

RUN_ID=$(date +%s)-$$

# ---------------------------------------------------------------------------
# Base image and project (scripts/bench-lib.sh)
# ---------------------------------------------------------------------------
bench_signed_base
bench_project "$WORK/project" "$BENCH_SEED"
pipeline_yaml() { # pipeline_yaml NO_CACHE
    cat <<'EOF'
version: 1
name: bench-docker
verify_base:
  keys: { team: base.pub }
  default_key: team
build:
  dockerfile:
    args: { APP_VERSION: "1.0" }
EOF
    [[ "$1" == true ]] && echo "    no_cache: true"
    cat <<'EOF'
sign:
  key: cosign.key
push:
  repository: ${BENCH_REPO}
  tags: [v1]
EOF
}
pipeline_yaml false >"$PROJ/pipeline.yaml"
pipeline_yaml true >"$PROJ/pipeline-nocache.yaml"
(cd "$PROJ" && COSIGN_PASSWORD=pw "$CLEANPIPE" -q keygen >&2)
cp "$KEYS/base.pub" "$PROJ/base.pub"
git -C "$PROJ" init -q -b main
git -C "$PROJ" add -A
git -C "$PROJ" -c user.email=b@b -c user.name=b commit -q -m bench
BENCH_REPO="$REGISTRY/bench-cleanpipe-$RUN_ID-0" "$CLEANPIPE" -q validate -f "$PROJ/pipeline.yaml" >&2 ||
    die "cleanpipe validate refused the pipeline"
CONTEXT_MIB=$(du -sm --exclude=.git "$PROJ" | cut -f1)
IMAGES+=("cleanpipe.local/bench-docker:build")

# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------
RESULTS="$WORK/results" # "RUN TOOL WALL RSS"; RUN is a number, "warmup" or "cold"
STAGES="$WORK/stages"   # "RUN STAGE MS"
: >"$RESULTS"
: >"$STAGES"

# Prefix each line of stdin with seconds since this filter started (monotonic).
STAMP='import sys, time
t0 = time.monotonic()
for line in sys.stdin.buffer:
    sys.stdout.buffer.write(b"%.3f " % (time.monotonic() - t0) + line)
    sys.stdout.buffer.flush()'

fail() { # fail TOOL RUN LOG CMD...
    local tool=$1 run=$2 lfile=$3
    shift 3
    echo "---- $tool run $run failed: $*" >&2
    tail -n 40 "$lfile" >&2
    exit 1
}

run_docker() { # run_docker RUN [--no-cache]
    local run=$1 tag="$REGISTRY/bench-docker-$RUN_ID-$1:v1"
    shift
    local lfile="$WORK/log.docker.$run"
    IMAGES+=("$tag")
    if ! (cd "$PROJ" && /usr/bin/time -f '%e %M' -o "$WORK/time.dbuild.$run" \
        docker build "$@" -t "$tag" --build-arg APP_VERSION=1.0 . 2>&1 | python3 -u -c "$STAMP" >"$lfile"
        exit "${PIPESTATUS[0]}"); then
        fail docker "$run" "$lfile" docker build "$@" -t "$tag" .
    fi
    /usr/bin/time -f '%e %M' -o "$WORK/time.dpush.$run" docker push "$tag" >>"$lfile" 2>&1 ||
        fail docker "$run" "$lfile" docker push "$tag"
    local bw br pw pr
    read -r bw br <"$WORK/time.dbuild.$run"
    read -r pw pr <"$WORK/time.dpush.$run"
    echo "$run docker $(awk -v a="$bw" -v b="$pw" 'BEGIN{print a + b}') $((br > pr ? br : pr))" >>"$RESULTS"
    echo "$run build $(awk -v a="$bw" 'BEGIN{printf "%d", a * 1000}')" >>"$STAGES.docker"
    echo "$run push $(awk -v a="$pw" 'BEGIN{printf "%d", a * 1000}')" >>"$STAGES.docker"
    # From the timestamps: context upload (start to "Step 1/") and the steps (to "Successfully tagged").
    awk -v r="$run" '
        $2 == "Step" && $3 ~ /^1\// && c == "" { c = $1 }
        $2 == "Successfully" && $3 == "tagged" { e = $1 }
        END { if (c != "" && e != "") printf "%s context_log %d\n%s steps_log %d\n", r, c * 1000, r, (e - c) * 1000 }
    ' "$lfile" >>"$STAGES.docker"
    printf '  run %-7s %-10s %8.2f s  (build %.2f s, push %.2f s)\n' "$run" docker "$(awk -v a="$bw" -v b="$pw" 'BEGIN{print a + b}')" "$bw" "$pw" >&2
}

run_cleanpipe() { # run_cleanpipe RUN PIPELINE_FILE
    local run=$1 file=$2
    local lfile="$WORK/log.cleanpipe.$run" report="$WORK/report.$run.json"
    # The timestamping filter reads cleanpipe's output; GNU time measures cleanpipe alone.
    if ! (cd "$PROJ" && export COSIGN_PASSWORD=pw BENCH_REPO="$REGISTRY/bench-cleanpipe-$RUN_ID-$run" &&
        /usr/bin/time -f '%e %M' -o "$WORK/time.cleanpipe.$run" \
            "$CLEANPIPE" run -f "$file" --report "$report" 2>&1 | python3 -u -c "$STAMP" >"$lfile"
        exit "${PIPESTATUS[0]}"); then
        fail cleanpipe "$run" "$lfile" cleanpipe run -f "$file"
    fi
    local wall rss
    read -r wall rss <"$WORK/time.cleanpipe.$run"
    echo "$run cleanpipe $wall $rss" >>"$RESULTS"
    jq -r --arg r "$run" '.stages[] | "\($r) \(.name) \(.duration_ms)"' "$report" >>"$STAGES"
    echo "$run total $(jq -r .duration_ms "$report")" >>"$STAGES"
    # Split the build stage from its progress lines' timestamps: context (stage start to the
    # engine's "Step 1/"), steps (to "Successfully tagged"), export (docker save + re-pack,
    # to "re-packed into"). engine_log = context + steps: the part the engine is busy with.
    awk -v r="$run" '
        $2 == "▶" && $3 == "build" && s == "" { s = $1 }
        $3 == "Step" && $4 ~ /^1\// && c == "" { c = $1 }
        $3 == "Successfully" && $4 == "tagged" { e = $1 }
        / re-packed into / { x = $1 }
        END {
            if (s != "" && c != "" && e != "" && x != "")
                printf "%s context_log %d\n%s steps_log %d\n%s engine_log %d\n%s export_log %d\n",
                    r, (c - s) * 1000, r, (e - c) * 1000, r, (e - s) * 1000, r, (x - e) * 1000
        }
    ' "$lfile" >>"$STAGES"
    local b
    b=$(jq -r '.stages[] | select(.name == "build") | .duration_ms' "$report")
    printf '  run %-7s %-10s %8.2f s  (build stage %.2f s, outside it %.2f s)\n' "$run" cleanpipe "$wall" \
        "$(awk -v b="$b" 'BEGIN{print b / 1000}')" "$(awk -v w="$wall" -v b="$b" 'BEGIN{print w - b / 1000}')" >&2
}

log "project: $CONTEXT_MIB MiB without .git; warm-up (untimed in the medians): one run of each"
run_docker warmup
run_cleanpipe warmup "$PROJ/pipeline.yaml"

log "$RUNS warm runs of each, alternating which goes first, fresh repository per push"
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then
        run_docker "$i"
        run_cleanpipe "$i" "$PROJ/pipeline.yaml"
    else
        run_cleanpipe "$i" "$PROJ/pipeline.yaml"
        run_docker "$i"
    fi
done

if ((BENCH_COLD)); then
    log "cold: one run of each without the build cache"
    run_docker cold --no-cache
    run_cleanpipe cold "$PROJ/pipeline-nocache.yaml"
fi

# Check the last image cleanpipe pushed runs and prints the build arg.
CHECK_REPO="$REGISTRY/bench-cleanpipe-$RUN_ID-$RUNS:v1"
IMAGES+=("$CHECK_REPO")
docker pull -q "$CHECK_REPO" >/dev/null 2>&1 || die "docker pull $CHECK_REPO failed"
CHECK_OUT=$(docker run --rm "$CHECK_REPO" 2>&1) || die "docker run $CHECK_REPO failed: $CHECK_OUT"
[[ "$CHECK_OUT" == 1.0 ]] || die "docker run $CHECK_REPO printed '$CHECK_OUT', expected 1.0"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
med() { # stdin: numbers -> median
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
is_measured='$1 ~ /^[0-9]+$/'
median_wall() { awk -v t="$1" "$is_measured"' && $2 == t { print $3 }' "$RESULTS" | med; }
median_stage() { awk -v s="$2" "$is_measured"' && $2 == s { print $3 }' "$1" | med; }
get() { awk -v r="$2" -v s="$3" '$1 == r && $2 == s { print $3 }' "$1"; }

echo
SENT=$(awk '/Sending build context to Docker daemon/ { v = $NF } END { print v }' "$WORK/log.docker.$RUNS")
echo "build + publish of a 2-stage Dockerfile to $REGISTRY; src/ 20 MiB (10 MiB random + 10 MiB text),"
echo "project without .git ${CONTEXT_MIB} MiB; context as sent (docker's count, run $RUNS): $SENT"
echo "(.dockerignore has *.key and .cleanpipe, so neither tool sends cleanpipe's own layout; .git/ goes to the engine for both)"
echo "(a) docker build (DOCKER_BUILDKIT=0) + docker push    docker $(docker version --format '{{.Server.Version}}')"
echo "(b) cleanpipe run (source, verify-base, build, sign, push)    $CLEANPIPE"
echo "warm: engine build cache shared, one untimed warm-up each; fresh repository per push"
echo
printf '%-7s %-10s %8s %10s %10s %10s\n' run tool wall_s build_s other_s rss_MiB
while read -r run tool wall rss; do
    if [[ "$tool" == docker ]]; then
        b=$(get "$STAGES.docker" "$run" build)
    else
        b=$(get "$STAGES" "$run" build)
    fi
    printf '%-7s %-10s %8.2f %10.2f %10.2f %10.1f\n' "$run" "$tool" "$wall" \
        "$(awk -v b="$b" 'BEGIN{print b / 1000}')" "$(awk -v w="$wall" -v b="$b" 'BEGIN{print w - b / 1000}')" \
        "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
done < <(awk '{ k = ($1 == "warmup") ? 0 : ($1 == "cold") ? 999999 : $1; print k, $0 }' "$RESULTS" | sort -k1,1n -k3,3 | cut -d' ' -f2-)
echo "(docker: build_s = docker build, other_s = docker push; cleanpipe: build_s = build stage, other_s = the rest;"
echo " rss is the client process: for docker the CLI, not dockerd)"

a=$(median_wall docker)
b=$(median_wall cleanpipe)
echo
awk -v a="$a" -v b="$b" -v n="$RUNS" 'BEGIN {
    printf "median wall over %d warm runs: (a) docker build+push %.2f s, (b) cleanpipe run %.2f s\n", n, a, b
    if (a > 0) printf "ratio b/a: %.2f\n", b / a
}'
# cleanpipe outside the engine: per run, wall minus the build stage, then the median.
outside=$(awk "$is_measured"' && $2 == "cleanpipe" { print $1, $3 }' "$RESULTS" | while read -r run wall; do
    awk -v w="$wall" -v b="$(get "$STAGES" "$run" build)" 'BEGIN { print w - b / 1000 }'
done | med)
outside2=$(awk "$is_measured"' && $2 == "cleanpipe" { print $1, $3 }' "$RESULTS" | while read -r run wall; do
    e=$(get "$STAGES" "$run" engine_log)
    if [[ -n "$e" ]]; then awk -v w="$wall" -v e="$e" 'BEGIN { print w - e / 1000 }'; fi
done | med)
awk -v o="$outside" -v o2="$outside2" -v b="$b" 'BEGIN {
    printf "cleanpipe outside the engine build (wall - build stage), median: %.2f s (%.0f%% of its wall)\n", o, 100 * o / b
    if (o2 != "nan")
        printf "  counting the build stage'"'"'s docker save + re-pack as cleanpipe'"'"'s (wall - context - steps): %.2f s (%.0f%%)\n", o2, 100 * o2 / b
}'
echo
echo "cleanpipe per-stage medians (ms, from --report; engine/export split from progress-line timestamps):"
for s in source verify-base build context_log steps_log export_log sign push total; do
    m=$(median_stage "$STAGES" "$s")
    [[ "$m" == nan ]] && continue
    case $s in
    context_log) label="  build: context tar + upload (to 'Step 1')" ;;
    steps_log) label="  build: engine steps (to 'Successfully tagged')" ;;
    export_log) label="  build: docker save + re-pack into layout" ;;
    total) label="report total" ;;
    *) label=$s ;;
    esac
    printf '  %-44s %8.0f\n' "$label" "$m"
done
printf '  %-44s %8.0f\n' "docker: docker build (median)" "$(median_stage "$STAGES.docker" build)"
printf '  %-44s %8.0f\n' "  context upload (to 'Step 1')" "$(median_stage "$STAGES.docker" context_log)"
printf '  %-44s %8.0f\n' "  engine steps (to 'Successfully tagged')" "$(median_stage "$STAGES.docker" steps_log)"
printf '  %-44s %8.0f\n' "docker: docker push (median)" "$(median_stage "$STAGES.docker" push)"
if ((BENCH_COLD)); then
    echo
    dc=$(get "$RESULTS" cold docker)
    cc=$(get "$RESULTS" cold cleanpipe)
    awk -v a="$dc" -v b="$cc" -v ab="$(get "$STAGES.docker" cold build)" -v ap="$(get "$STAGES.docker" cold push)" \
        -v bb="$(get "$STAGES" cold build)" 'BEGIN {
        printf "cold (one run each, no build cache): (a) docker %.2f s (build %.2f, push %.2f), (b) cleanpipe %.2f s (build stage %.2f, outside %.2f), ratio b/a %.2f\n",
            a, ab / 1000, ap / 1000, b, bb / 1000, b - bb / 1000, b / a
    }'
fi
echo
echo "check: docker run --rm $CHECK_REPO -> $CHECK_OUT"
