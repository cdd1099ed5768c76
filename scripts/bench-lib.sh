# Shared by the bench scripts (sourced, not run): messages, an HTTP probe, the cleanpipe
# binary, and a throw-away docker-registry. The caller sets ROOT and WORK and calls
# `stop_registry` from its cleanup trap.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

http_ok() { # http_ok URL -> 0 on a 2xx answer
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --noproxy '*' --max-time 5 -o /dev/null "$1" 2>/dev/null
    else
        python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1], timeout=5).read()
PY
    fi
}

# Sets CLEANPIPE (absolute): $CLEANPIPE if given, else target/release/cleanpipe, built if missing.
find_cleanpipe() {
    if [[ -z "${CLEANPIPE:-}" ]]; then
        CLEANPIPE="$ROOT/target/release/cleanpipe"
        if [[ ! -x "$CLEANPIPE" ]]; then
            log "building $CLEANPIPE (cargo build --release)"
            export PATH="$HOME/.cargo/bin:$PATH"
            cargo build --release >&2
        fi
    fi
    [[ -x "$CLEANPIPE" ]] || die "cleanpipe binary '$CLEANPIPE' not found or not executable"
    CLEANPIPE=$(cd "$(dirname "$CLEANPIPE")" && pwd)/$(basename "$CLEANPIPE")
}

# Sets REGISTRY (HOST:PORT): $CLEANPIPE_TEST_REGISTRY if given, else a docker-registry started
# under $WORK/registry (REGISTRY_PID; stop it with stop_registry).
REGISTRY_PID=""
start_registry() {
# (the body is not indented: it holds here-documents)
if [[ -n "${CLEANPIPE_TEST_REGISTRY:-}" ]]; then
    REGISTRY=$CLEANPIPE_TEST_REGISTRY
    http_ok "http://$REGISTRY/v2/" || die "registry $REGISTRY does not answer on http://$REGISTRY/v2/"
    log "using registry $REGISTRY"
else
    command -v docker-registry >/dev/null 2>&1 ||
        die "docker-registry not found: install it or set CLEANPIPE_TEST_REGISTRY"
    mkdir -p "$WORK/registry"
    token="bench-$$-$RANDOM$RANDOM"
    for attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  headers:
    X-Cleanpipe-Bench: [$token]
EOF
        docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 </dev/null &
        REGISTRY_PID=$!
        ok=0
        for _ in $(seq 1 150); do
            kill -0 "$REGISTRY_PID" 2>/dev/null || break
            if http_ok "http://127.0.0.1:$port/v2/"; then
                # Make sure the answer came from our registry.
                if python3 - "http://127.0.0.1:$port/v2/" "$token" <<'PY'; then ok=1; fi
import sys, urllib.request
r = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1], timeout=5)
sys.exit(0 if r.headers.get("X-Cleanpipe-Bench") == sys.argv[2] else 1)
PY
                break
            fi
            sleep 0.2
        done
        ((ok)) && break
        kill "$REGISTRY_PID" 2>/dev/null || true
        wait "$REGISTRY_PID" 2>/dev/null || true
        REGISTRY_PID=""
    done
    [[ -n "$REGISTRY_PID" ]] || { tail -n 20 "$WORK/registry/log" >&2; die "could not start docker-registry"; }
    REGISTRY="127.0.0.1:$port"
    log "started docker-registry (pid $REGISTRY_PID) at $REGISTRY"
fi
}

stop_registry() {
    if [[ -n "$REGISTRY_PID" ]] && kill -0 "$REGISTRY_PID" 2>/dev/null; then
        kill -TERM "$REGISTRY_PID" 2>/dev/null
        for _ in $(seq 1 40); do kill -0 "$REGISTRY_PID" 2>/dev/null || break; sleep 0.25; done
        kill -KILL "$REGISTRY_PID" 2>/dev/null
        wait "$REGISTRY_PID" 2>/dev/null
    fi
}

# Sets PINNED and BASE_TAG: a busybox rootfs imported into the engine, pushed to $REGISTRY,
# pinned by digest and signed with a fresh key ($WORK/keys/base.key and .pub, password `bp`).
# The engine's tag is added to IMAGES for the caller's cleanup.
bench_signed_base() {
    KEYS="$WORK/keys"
    mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/tmp" "$KEYS"
    cp /bin/busybox "$WORK/rootfs/bin/"
    for a in $(/bin/busybox --list); do
        [[ "$a" == busybox ]] || ln -s busybox "$WORK/rootfs/bin/$a"
    done
    chmod 1777 "$WORK/rootfs/tmp"
    tar -C "$WORK/rootfs" -cf "$WORK/base.tar" .
    BASE_TAG="$REGISTRY/bench/base:1"
    log "importing and pushing the base image $BASE_TAG"
    docker import "$WORK/base.tar" "$BASE_TAG" >/dev/null
    IMAGES+=("$BASE_TAG")
    docker push "$BASE_TAG" >"$WORK/base-push.log" 2>&1 || { cat "$WORK/base-push.log" >&2; die "docker push $BASE_TAG failed"; }
    PINNED=$(docker inspect --format '{{index .RepoDigests 0}}' "$BASE_TAG")
    [[ "$PINNED" == *@sha256:* ]] || die "no repository digest for $BASE_TAG (got '$PINNED')"
    log "base pinned as $PINNED"
    COSIGN_PASSWORD=bp "$CLEANPIPE" -q keygen --output-key-prefix "$KEYS/base" >&2
    COSIGN_PASSWORD=bp "$CLEANPIPE" -q sign "$PINNED" --key "$KEYS/base.key" >/dev/null
}

# Writes the bench project into $1 (sets PROJ): ~10 MiB of random data and ~10 MiB of text made
# from seed $2, `.gitignore`/`.dockerignore` leaving out cleanpipe's store and keys, and a
# two-stage Dockerfile on $PINNED (one build arg, APP_VERSION).
# (the body is not indented: it holds here-documents)
bench_project() {
PROJ=$1
mkdir -p "$PROJ"
log "generating the project in $PROJ (seed $2)"
python3 - "$PROJ/src" "$2" <<'PY'
import os, random, sys

root, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
MiB = 1 << 20

def write(path, data):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)

# ~10 MiB incompressible ("assets"), ~10 MiB text ("sources").
sizes = [rng.randint(64 * 1024, 1 * MiB) for _ in range(24)]
scale = 10 * MiB / sum(sizes)
for i, n in enumerate(sizes):
    write(f"assets/blob{i:03d}.bin", rng.randbytes(int(n * scale)))
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 12)))
         for _ in range(4000)]
pool = [(" " * rng.choice((0, 4, 8)) + " ".join(rng.choices(words, k=rng.randint(2, 12))) + "\n").encode()
        for _ in range(20000)]
total, i = 0, 0
while total < 10 * MiB:
    n = rng.randint(1024, 64 * 1024)
    out, got = [], 0
    while got < n:
        l = rng.choice(pool)
        out.append(l)
        got += len(l)
    data = b"".join(out)
    write(f"pkg{i // 50:02d}/mod{i:04d}.{('rs', 'py', 'go', 'txt')[i % 4]}", data)
    total += len(data)
    i += 1
print(f"generated {total / MiB:.1f} MiB of text in {i} files and 10 MiB of random data in {len(sizes)} files",
      file=sys.stderr)
PY

printf '.cleanpipe\n' >"$PROJ/.gitignore"
printf '*.key\n.cleanpipe\n' >"$PROJ/.dockerignore"
cat >"$PROJ/Dockerfile" <<EOF
FROM $PINNED AS builder
ARG APP_VERSION=dev
RUN mkdir -p /out && echo "\$APP_VERSION" > /out/version
COPY src/ /out/src/
RUN find /out -type f | wc -l > /out/count

FROM $PINNED
COPY --from=builder /out /app
CMD ["sh","-c","cat /app/version"]
EOF
}

# Units, and the median of the runs recorded in $RESULTS (lines "PART RUN TOOL FIELD…").
mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }
kib2mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
median() { # median PART TOOL FIELD (4 = wall, 5 = peak RSS, …)
    awk -v p="$1" -v t="$2" -v f="$3" '$1 == p && $3 == t { print $f }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
