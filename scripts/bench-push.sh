#!/usr/bin/env bash
# Benchmark: push a ~90 MB (compressed) single-layer image from an OCI layout
# to a local registry, `cleanpipe copy` against `skopeo copy`, in one run.
#
# Usage: scripts/bench-push.sh
#
# Environment:
#   RUNS                     pushes per tool (default 5)
#   CLEANPIPE                cleanpipe binary (default target/release/cleanpipe;
#                            built with `cargo build --release` if that default
#                            is missing)
#   CLEANPIPE_TEST_REGISTRY  HOST:PORT of a plain-HTTP registry to push to; if
#                            unset, a throw-away docker-registry is started on
#                            127.0.0.1 and removed at exit
#   BENCH_LAYOUT             directory to keep the generated OCI layout in
#                            between invocations (default: a temp dir that is
#                            removed at exit)
#   BENCH_SEED               seed for the generated layer contents (default 1)
#
# Every push goes to a fresh repository name (a cold repository), so each one
# uploads the full layer. Runs alternate which tool goes first. Each push is
# timed with GNU time: wall seconds and peak RSS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUNS=${RUNS:-5}
TAG=bench
BENCH_SEED=${BENCH_SEED:-1}
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

source "$ROOT/scripts/bench-lib.sh"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
for tool in skopeo umoci jq python3 docker-registry; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see .ci/run for the packages)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time, package 'time') not found"

# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/cleanpipe-bench.XXXXXX)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    stop_registry
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
# Registry
# ---------------------------------------------------------------------------
start_registry

# ---------------------------------------------------------------------------
# Test layout: one layer of ~90 MB compressed, a mix of random (incompressible)
# and text (compressible) files laid out like a root filesystem.
# ---------------------------------------------------------------------------
LAYOUT=${BENCH_LAYOUT:-$WORK/layout}

layer_count() { # prints the number of layers of LAYOUT:TAG
    local mdigest
    mdigest=$(jq -r --arg t "$TAG" \
        '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
        "$LAYOUT/index.json")
    [[ -n "$mdigest" ]] || return 1
    jq '.layers | length' "$LAYOUT/blobs/${mdigest%%:*}/${mdigest#*:}"
}
layer_size() { # prints the compressed size in bytes of the single layer
    local mdigest
    mdigest=$(jq -r --arg t "$TAG" \
        '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
        "$LAYOUT/index.json")
    jq '.layers[0].size' "$LAYOUT/blobs/${mdigest%%:*}/${mdigest#*:}"
}

if [[ -f "$LAYOUT/index.json" ]] && [[ "$(layer_count 2>/dev/null || true)" == 1 ]]; then
    log "reusing the OCI layout in $LAYOUT"
else
    [[ ! -e "$LAYOUT" ]] || [[ -z "$(ls -A "$LAYOUT")" ]] ||
        die "$LAYOUT exists but is not a usable bench layout; remove it"
    rmdir "$LAYOUT" 2>/dev/null || true
    log "generating the layer contents (seed $BENCH_SEED)"
    python3 - "$WORK/rootfs" "$BENCH_SEED" <<'PY'
import os, random, sys

root, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
MiB = 1 << 20

def write(path, data, mode=0o644):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
    os.chmod(full, mode)

# Incompressible part: "shared libraries and binaries", ~58 MiB in all.
RANDOM_MIB = 58
sizes = [rng.randint(256 * 1024, 3 * MiB) for _ in range(60)]
scale = RANDOM_MIB * MiB / sum(sizes)
for i, n in enumerate(sizes):
    n = int(n * scale)
    if i % 3 == 0:
        write(f"/usr/bin/tool{i:03d}", rng.randbytes(n), 0o755)
    else:
        write(f"/usr/lib/x86_64-linux-gnu/libbench{i:03d}.so.{i % 7}", rng.randbytes(n))

# Compressible part: "docs, scripts, configs", ~60 MiB of text built from a
# pool of random lines (umoci's gzip makes ~28 MiB of it), for a layer of
# ~86 MiB (~90 MB) compressed.
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
         for _ in range(5000)]
pool = [" ".join(rng.choices(words, k=rng.randint(3, 14))) + "\n" for _ in range(40000)]
pool = [l.encode() for l in pool]
total, i = 0, 0
while total < 60 * MiB:
    n = rng.randint(2 * 1024, 160 * 1024)
    lines, got = [], 0
    while got < n:
        l = rng.choice(pool)
        lines.append(l)
        got += len(l)
    data = b"".join(lines)
    kind = i % 4
    if kind == 0:
        path = f"/usr/share/doc/pkg{i // 40:03d}/README{i:05d}.txt"
    elif kind == 1:
        path = f"/usr/lib/python3/dist-packages/mod{i // 40:03d}/file{i:05d}.py"
    elif kind == 2:
        path = f"/etc/bench/conf{i // 40:03d}/setting{i:05d}.conf"
    else:
        path = f"/usr/share/locale/l{i // 40:03d}/msg{i:05d}.po"
    write(path, data)
    total += len(data)
    i += 1

for d in ("tmp", "var/tmp", "var/log", "root", "home", "proc", "sys", "dev", "run"):
    os.makedirs(os.path.join(root, d), exist_ok=True)
os.chmod(os.path.join(root, "tmp"), 0o1777)
os.symlink("usr/bin", os.path.join(root, "bin"))
os.symlink("usr/lib", os.path.join(root, "lib"))
print(f"generated {total / MiB:.1f} MiB of text in {i} files and "
      f"{RANDOM_MIB} MiB of random data in {len(sizes)} files",
      file=sys.stderr)
PY
    log "building the OCI layout in $LAYOUT"
    umoci init --layout "$LAYOUT"
    umoci new --image "$LAYOUT:$TAG"
    umoci insert --image "$LAYOUT:$TAG" "$WORK/rootfs" /
    rm -rf -- "$WORK/rootfs"
    layers=$(layer_count)
    [[ "$layers" == 1 ]] || die "expected exactly one layer in $LAYOUT:$TAG, found $layers"
fi
LAYER_BYTES=$(layer_size)
log "layout $LAYOUT:$TAG: 1 layer, $(awk -v b="$LAYER_BYTES" 'BEGIN{printf "%.1f MiB", b/1048576}') compressed"

# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------
RUN_ID=$(date +%s)-$$
RESULTS="$WORK/results"
: >"$RESULTS"

# skopeo keeps a blob-info cache (as root: /var/lib/containers/cache) that
# remembers which repositories already hold a blob, and then "pushes" it with
# a cross-repository mount instead of an upload: after the first run every
# skopeo push would take milliseconds. Give each skopeo run an empty cache:
# as root, a private mount namespace with an empty directory bind-mounted over
# the cache directory; otherwise a fresh XDG_DATA_HOME (the rootless cache).
SKOPEO_CACHE_MODE=xdg
if [[ "$(id -u)" == 0 ]]; then
    mkdir -p /var/lib/containers/cache
    if unshare -m --propagation private true 2>/dev/null; then
        SKOPEO_CACHE_MODE=ns
    else
        SKOPEO_CACHE_MODE=rm
        log "unshare -m does not work here: deleting skopeo's blob-info cache before each skopeo run"
    fi
fi

WRAP=() # command prefix put before /usr/bin/time (not timed itself)
run_timed() { # run_timed TOOL RUN CMD... ; appends "RUN TOOL WALL RSS" to RESULTS
    local tool=$1 run=$2
    shift 2
    local tfile="$WORK/time.$tool.$run" lfile="$WORK/log.$tool.$run"
    if ! "${WRAP[@]}" /usr/bin/time -f '%e %M' -o "$tfile" "$@" >"$lfile" 2>&1; then
        echo "---- $tool run $run failed: $*" >&2
        tail -n 30 "$lfile" >&2
        exit 1
    fi
    local wall rss
    read -r wall rss <"$tfile"
    echo "$run $tool $wall $rss" >>"$RESULTS"
    printf '  run %-3s %-10s %8.2f s %10.1f MiB\n' "$run" "$tool" "$wall" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" >&2
}

run_skopeo() {
    local cache="$WORK/skopeo-cache.$1"
    mkdir -p "$cache"
    case $SKOPEO_CACHE_MODE in
    ns)
        # shellcheck disable=SC2016
        WRAP=(unshare -m --propagation private sh -c \
            'mount --bind "$1" /var/lib/containers/cache && shift && exec "$@"' sh "$cache")
        ;;
    rm)
        rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
        WRAP=()
        ;;
    xdg) WRAP=(env "XDG_DATA_HOME=$cache") ;;
    esac
    run_timed skopeo "$1" skopeo copy --dest-tls-verify=false \
        "oci:$LAYOUT:$TAG" "docker://$REGISTRY/bench-skopeo-$RUN_ID-$1:latest"
    WRAP=()
}
run_cleanpipe() {
    WRAP=()
    # Cold like skopeo: forget which repositories already hold the blobs (no cross-repo mount).
    rm -f "$LAYOUT/cleanpipe-cache/blob-locations.json"
    run_timed cleanpipe "$1" "$CLEANPIPE" copy \
        "oci:$LAYOUT:$TAG" "$REGISTRY/bench-cleanpipe-$RUN_ID-$1:latest"
}

log "pushing $RUNS times with each tool to $REGISTRY (fresh repository per push)"
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then
        run_skopeo "$i"
        run_cleanpipe "$i"
    else
        run_cleanpipe "$i"
        run_skopeo "$i"
    fi
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
median() { # median TOOL FIELD(3=wall,4=rss)
    awk -v t="$1" -v f="$2" '$2 == t { print $f }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "push of a single-layer image ($(awk -v b="$LAYER_BYTES" 'BEGIN{printf "%.1f MiB", b/1048576}') compressed) from an OCI layout to $REGISTRY"
echo "cleanpipe: $CLEANPIPE"
echo "skopeo:    $(skopeo --version)"
echo
printf '%-5s %-10s %10s %14s\n' run tool wall_s peak_rss_MiB
sort -k1,1n -k2,2 "$RESULTS" | while read -r run tool wall rss; do
    printf '%-5s %-10s %10.2f %14.1f\n' "$run" "$tool" "$wall" "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
done

s_wall=$(median skopeo 3)
c_wall=$(median cleanpipe 3)
s_rss=$(median skopeo 4)
c_rss=$(median cleanpipe 4)
echo
awk -v s="$s_wall" -v c="$c_wall" -v sr="$s_rss" -v cr="$c_rss" -v n="$RUNS" 'BEGIN {
    printf "median wall over %d runs: cleanpipe %.2f s, skopeo %.2f s\n", n, c, s
    if (s > 0) printf "ratio cleanpipe/skopeo: %.2f\n", c / s
    else       printf "ratio cleanpipe/skopeo: n/a (skopeo median is 0)\n"
    printf "median peak RSS: cleanpipe %.1f MiB, skopeo %.1f MiB\n", cr / 1024, sr / 1024
}'
