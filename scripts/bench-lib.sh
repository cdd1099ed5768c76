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
